//! The CDL header of a dataset, as `ncdump -h` prints it: what `fathom info` shows.

use std::fmt::Write;

use crate::model::{AttrValue, Attribute, DataType, Dataset, Group, Variable};

/// The dataset's structure in CDL (dimensions, types, variables, attributes, groups).
#[must_use]
pub fn header(ds: &Dataset) -> String {
    let stem = ds
        .name
        .rsplit_once('.')
        .map_or(ds.name.as_str(), |(s, _)| s);
    let mut out = format!("netcdf {} {{\n", cdl_name(stem));
    out.push_str(&format!("// format: {}\n", ds.format.name()));
    group_body(&ds.root, 0, &mut out);
    out.push_str("}\n");
    out
}

/// Names that CDL would not read back are escaped with backslashes, as ncdump does.
fn cdl_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, c) in name.chars().enumerate() {
        let plain =
            c.is_alphanumeric() || c == '_' || (i > 0 && matches!(c, '-' | '+' | '.' | '@'));
        if !plain {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn indent(level: usize) -> String {
    "\t".repeat(level)
}

fn group_body(g: &Group, level: usize, out: &mut String) {
    let ind = indent(level);
    if !g.types.is_empty() {
        let _ = writeln!(out, "{ind}types:");
        for t in &g.types {
            let _ = writeln!(out, "{ind}\t{} ;", type_decl(t));
        }
    }
    if !g.dimensions.is_empty() {
        let _ = writeln!(out, "{ind}dimensions:");
        for d in &g.dimensions {
            if d.unlimited {
                let _ = writeln!(
                    out,
                    "{ind}\t{} = UNLIMITED ; // ({} currently)",
                    cdl_name(&d.name),
                    d.len
                );
            } else {
                let _ = writeln!(out, "{ind}\t{} = {} ;", cdl_name(&d.name), d.len);
            }
        }
    }
    if !g.variables.is_empty() {
        let _ = writeln!(out, "{ind}variables:");
        for v in &g.variables {
            let _ = writeln!(out, "{ind}\t{} ;", var_decl(v));
            for a in &v.attributes {
                let _ = writeln!(out, "{ind}\t\t{}:{} ;", cdl_name(&v.name), attr_decl(a));
            }
        }
    }
    if !g.attributes.is_empty() {
        let scope = if level == 0 { "global" } else { "group" };
        let _ = writeln!(out, "\n{ind}// {scope} attributes:");
        for a in &g.attributes {
            let _ = writeln!(out, "{ind}\t\t:{} ;", attr_decl(a));
        }
    }
    for child in &g.groups {
        let _ = writeln!(out, "\n{ind}group: {} {{", cdl_name(&child.name));
        group_body(child, level + 1, out);
        let _ = writeln!(out, "{ind}  }} // group {}", cdl_name(&child.name));
    }
}

fn type_decl(t: &DataType) -> String {
    match t {
        DataType::Enum(e) => {
            let members: Vec<String> = e
                .members
                .iter()
                .map(|m| format!("{} = {}", cdl_name(&m.name), m.value))
                .collect();
            format!(
                "{} enum {} {{{}}}",
                e.base.cdl_name(),
                cdl_name(&e.name),
                members.join(", ")
            )
        }
        DataType::Opaque(o) => format!("opaque({}) {}", o.size, cdl_name(&o.name)),
        DataType::VLen(v) => format!("{}(*) {}", v.base.cdl_name(), cdl_name(&v.name)),
        DataType::Structure(s) => {
            let mut body = format!("compound {} {{\n", cdl_name(&s.name));
            for f in &s.fields {
                let shape = if f.shape.is_empty() {
                    String::new()
                } else {
                    let dims: Vec<String> = f.shape.iter().map(ToString::to_string).collect();
                    format!("({})", dims.join(", "))
                };
                let _ = writeln!(
                    body,
                    "\t  {} {}{} ;",
                    f.dtype.cdl_name(),
                    cdl_name(&f.name),
                    shape
                );
            }
            body.push_str("\t}");
            body
        }
        other => other.cdl_name().to_owned(),
    }
}

fn var_decl(v: &Variable) -> String {
    let mut s = format!("{} {}", v.dtype.cdl_name(), cdl_name(&v.name));
    if !v.dims.is_empty() {
        let dims: Vec<String> = v
            .dims
            .iter()
            .map(|d| {
                d.name
                    .as_deref()
                    .map_or_else(|| d.len.to_string(), cdl_name)
            })
            .collect();
        let _ = write!(s, "({})", dims.join(", "));
    }
    s
}

fn attr_decl(a: &Attribute) -> String {
    // Number suffixes already carry the type; strings and user types need the prefix.
    let prefix = match &a.value {
        AttrValue::String(_) | AttrValue::Typed { .. } => {
            format!("{} ", a.value.dtype().cdl_name())
        }
        _ => String::new(),
    };
    format!("{prefix}{} = {}", cdl_name(&a.name), attr_values(&a.value))
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn join<T>(v: &[T], f: impl Fn(&T) -> String) -> String {
    v.iter().map(f).collect::<Vec<_>>().join(", ")
}

fn float_text(x: f64, suffix: &str) -> String {
    if x.is_nan() {
        format!("NaN{suffix}")
    } else if x.is_infinite() {
        format!("{}Infinity{suffix}", if x < 0.0 { "-" } else { "" })
    } else {
        format!("{x}{suffix}")
    }
}

fn attr_values(v: &AttrValue) -> String {
    match v {
        AttrValue::Int8(x) => join(x, |v| format!("{v}b")),
        AttrValue::UInt8(x) => join(x, |v| format!("{v}UB")),
        AttrValue::Int16(x) => join(x, |v| format!("{v}s")),
        AttrValue::UInt16(x) => join(x, |v| format!("{v}US")),
        AttrValue::Int32(x) => join(x, ToString::to_string),
        AttrValue::UInt32(x) => join(x, |v| format!("{v}U")),
        AttrValue::Int64(x) => join(x, |v| format!("{v}L")),
        AttrValue::UInt64(x) => join(x, |v| format!("{v}UL")),
        AttrValue::Float32(x) => join(x, |v| float_text(f64::from(*v), "f")),
        AttrValue::Float64(x) => join(x, |v| float_text(*v, "")),
        AttrValue::Char(b) => quote(&String::from_utf8_lossy(b)),
        AttrValue::String(x) => join(x, |s| quote(s)),
        AttrValue::Typed { dtype, count, data } => {
            format!("<{count} value(s) of {dtype}, {} bytes>", data.len())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Dimension, Format, Storage, VarDim};

    #[test]
    fn header_lists_dimensions_variables_and_attributes() {
        let time = Dimension {
            name: "time".into(),
            path: "/time".into(),
            len: 2,
            unlimited: true,
        };
        let ds = Dataset {
            name: "x.nc".into(),
            format: Format::NetCdf3Classic,
            root: Group {
                path: "/".into(),
                dimensions: vec![time.clone()],
                variables: vec![Variable {
                    name: "t".into(),
                    path: "/t".into(),
                    dtype: DataType::Float32,
                    dims: vec![VarDim::shared(&time)],
                    attributes: vec![Attribute::new(
                        "_FillValue",
                        AttrValue::Float32(vec![-999.0]),
                    )],
                    storage: Storage::default(),
                }],
                attributes: vec![Attribute::new(
                    "title",
                    AttrValue::Char(b"say \"hi\"".to_vec()),
                )],
                ..Group::default()
            },
        };
        let h = header(&ds);
        assert!(h.starts_with("netcdf x {\n"), "{h}");
        assert!(h.contains("\ttime = UNLIMITED ; // (2 currently)\n"), "{h}");
        assert!(
            h.contains("\tfloat t(time) ;\n\t\tt:_FillValue = -999f ;\n"),
            "{h}"
        );
        assert!(h.contains("\t\t:title = \"say \\\"hi\\\"\" ;\n"), "{h}");
    }
}
