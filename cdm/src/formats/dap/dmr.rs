//! The DAP4 DMR as a client reads it (quick-xml): groups, shared dimensions, enumerations,
//! atomic variables of every DAP4 type and their attributes (containers flattened to `a.b`),
//! mapped into the CDM model.
//!
//! Constructed types map as the local formats model the same netCDF-4 types:
//! - `<Structure>` → a [`DataType::Structure`] whose fields are the members (nested ones
//!   nest; a member's `<Dim>`s become the field's shape);
//! - `<Sequence>` → a [`DataType::VLen`]: of the single member's type when the Sequence carries
//!   `_edu.ucar.isvlen` (a netCDF vlen, as netcdf-c, TDS and fathom write it), otherwise of a
//!   Structure of the members (a table of rows, as Hyrax and pydap send one);
//! - `<Opaque>` → a [`DataType::Opaque`] of `_edu.ucar.opaque.size` bytes (0 when the server
//!   does not say: every element carries its own length on the wire anyway).
//!
//! What still cannot be mapped (a Structure without members) is left out and listed in the
//! `_fathom_omitted` global attribute. A DMR++ (which [`parse_with_extensions`] reads) keeps
//! leaving every constructed type out: its reader has no decoder for them.

use std::collections::HashMap;
use std::sync::Arc;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::error::{Error, Result};
use crate::model::{
    AttrValue, Attribute, DataType, Dataset, Dimension, EnumMember, EnumType, Field, Format, Group,
    OpaqueType, Storage, StructureType, VLenType, VarDim, Variable,
};

fn bad(what: impl std::fmt::Display) -> Error {
    Error::Upstream(format!("the remote DMR is malformed: {what}"))
}

/// The CDM type of an atomic DAP4 type name.
fn atomic(tag: &str) -> Option<DataType> {
    Some(match tag {
        "Int8" => DataType::Int8,
        "UInt8" | "Byte" => DataType::UInt8,
        "Char" => DataType::Char,
        "Int16" => DataType::Int16,
        "UInt16" => DataType::UInt16,
        "Int32" => DataType::Int32,
        "UInt32" => DataType::UInt32,
        "Int64" => DataType::Int64,
        "UInt64" => DataType::UInt64,
        "Float32" => DataType::Float32,
        "Float64" => DataType::Float64,
        "String" | "URL" => DataType::String,
        _ => return None,
    })
}

enum Frame {
    Group(Group),
    Var(Variable),
    /// A variable of a kind this client does not read; its children are skipped.
    Omitted,
    /// A Structure or Sequence being read: the variable (its type filled in when it closes),
    /// whether it is a Sequence, whether it is marked as a netCDF vlen, and its members so far.
    Compound {
        var: Variable,
        sequence: bool,
        vlen: bool,
        fields: Vec<Field>,
    },
    Attr {
        name: String,
        dtype: String,
        values: Vec<String>,
        children: Vec<Attribute>,
    },
    Value(String),
    Enum(EnumType),
    /// A namespaced element the DMR grammar does not define (a DMR++ `dmrpp:chunks`…), kept
    /// for a caller that asked for them.
    Extension(Extension),
    Skip,
}

/// A namespaced element inside a DMR that the DMR itself does not define (DMR++'s
/// `dmrpp:chunks`, `dmrpp:chunk`, `dmrpp:compact`…), handed to the caller as found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Extension {
    /// The element's local name (`chunks`).
    pub name: String,
    /// Its attributes, qualified names as written (`dmrpp:href`), values unescaped.
    pub attributes: Vec<(String, String)>,
    /// Its text content.
    pub text: String,
    /// The path of the variable it sits in, if any.
    pub variable: Option<String>,
}

/// What [`parse_with_extensions`] finds besides the dataset.
#[derive(Debug, Default)]
pub(crate) struct Extensions {
    /// The namespaced elements, in the order they end.
    pub elements: Vec<Extension>,
    /// The namespaced attributes of the `Dataset` element (`dmrpp:href`, `dmrpp:version`).
    pub root: Vec<(String, String)>,
    /// Variables left out of the model (Structures, Sequences, Opaques), `path (kind)`.
    pub omitted: Vec<String>,
}

struct Parser {
    stack: Vec<Frame>,
    dims: HashMap<String, Dimension>,
    enums: HashMap<String, Arc<EnumType>>,
    omitted: Vec<String>,
    root: Option<Group>,
    name: String,
    /// Whether namespaced elements are collected (for DMR++) rather than skipped.
    extensions: Option<Extensions>,
}

/// The innermost variable being declared (an atomic one or a Structure / Sequence).
fn current_var(stack: &mut [Frame]) -> Option<&mut Variable> {
    match stack.last_mut() {
        Some(Frame::Var(v) | Frame::Compound { var: v, .. }) => Some(v),
        _ => None,
    }
}

/// Every attribute of `e` with a namespace prefix, unescaped.
fn prefixed_attributes(e: &BytesStart<'_>) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(bad)?;
        let key = a.key.as_ref().to_owned();
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(bad)?
            .into_owned();
        out.push((key, value));
    }
    Ok(out)
}

fn attr(e: &BytesStart<'_>, key: &str) -> Result<Option<String>> {
    match e.try_get_attribute(key).map_err(bad)? {
        Some(a) => Ok(Some(
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(bad)?
                .into_owned(),
        )),
        None => Ok(None),
    }
}

impl Parser {
    fn group_path(&self) -> String {
        self.stack
            .iter()
            .rev()
            .find_map(|f| match f {
                Frame::Group(g) => Some(g.path.clone()),
                _ => None,
            })
            .unwrap_or_else(|| "/".into())
    }

    /// A dimension or enum name resolved against the current group, then its ancestors.
    fn resolve<'m, T>(&self, map: &'m HashMap<String, T>, name: &str) -> Option<&'m T> {
        if name.starts_with('/') {
            return map.get(name);
        }
        let mut g = self.group_path();
        loop {
            if let Some(x) = map.get(&Group::child_path(&g, name)) {
                return Some(x);
            }
            if g == "/" {
                return None;
            }
            g = crate::model::split_path(&g).map_or("/".into(), |(p, _)| p.to_owned());
        }
    }

    fn open(&mut self, e: &BytesStart<'_>) -> Result<()> {
        let tag = e.local_name().as_ref().to_owned();
        let name = attr(e, "name")?;
        let inside_skip = matches!(self.stack.last(), Some(Frame::Skip | Frame::Omitted));
        if inside_skip {
            self.stack.push(Frame::Skip);
            return Ok(());
        }
        if self.extensions.is_some() && e.name().prefix().is_some() {
            let variable = self.stack.iter().rev().find_map(|f| match f {
                Frame::Var(v) => Some(v.path.clone()),
                _ => None,
            });
            self.stack.push(Frame::Extension(Extension {
                name: tag.clone(),
                attributes: prefixed_attributes(e)?,
                text: String::new(),
                variable,
            }));
            return Ok(());
        }
        let frame = match tag.as_str() {
            "Dataset" => {
                self.name = name.unwrap_or_default();
                if let Some(ext) = self.extensions.as_mut() {
                    ext.root = prefixed_attributes(e)?
                        .into_iter()
                        .filter(|(k, _)| k.contains(':') && !k.starts_with("xmlns"))
                        .collect();
                }
                Frame::Group(Group {
                    name: String::new(),
                    path: "/".into(),
                    ..Group::default()
                })
            }
            "Group" => {
                let name = name.ok_or_else(|| bad("a Group without a name"))?;
                Frame::Group(Group {
                    path: Group::child_path(&self.group_path(), &name),
                    name,
                    ..Group::default()
                })
            }
            "Dimension" => {
                let name = name.ok_or_else(|| bad("a Dimension without a name"))?;
                let len = attr(e, "size")?
                    .and_then(|s| s.trim().parse().ok())
                    .ok_or_else(|| bad(format!("dimension {name} has no size")))?;
                let unlimited = attr(e, "_edu.ucar.isunlimited")?.is_some();
                let dim = Dimension {
                    path: Group::child_path(&self.group_path(), &name),
                    name,
                    len,
                    unlimited,
                };
                self.dims.insert(dim.path.clone(), dim.clone());
                if let Some(Frame::Group(g)) = self.stack.last_mut() {
                    g.dimensions.push(dim);
                }
                Frame::Skip
            }
            "Enumeration" => {
                let name = name.ok_or_else(|| bad("an Enumeration without a name"))?;
                let base = attr(e, "basetype")?
                    .and_then(|b| atomic(&b))
                    .filter(DataType::is_integer)
                    .ok_or_else(|| bad(format!("enumeration {name} has no integer basetype")))?;
                Frame::Enum(EnumType {
                    path: Group::child_path(&self.group_path(), &name),
                    name,
                    base,
                    members: Vec::new(),
                })
            }
            "EnumConst" => {
                if let Some(Frame::Enum(t)) = self.stack.last_mut() {
                    let value = attr(e, "value")?
                        .and_then(|v| v.trim().parse().ok())
                        .ok_or_else(|| bad("an EnumConst without a value"))?;
                    t.members.push(EnumMember {
                        name: name.unwrap_or_default(),
                        value,
                    });
                }
                Frame::Skip
            }
            "Dim" => {
                let vd = match (name, attr(e, "size")?) {
                    (Some(n), _) => {
                        let d = self
                            .resolve(&self.dims, &n)
                            .ok_or_else(|| bad(format!("unknown dimension {n}")))?;
                        VarDim::shared(d)
                    }
                    (None, Some(s)) => VarDim::anonymous(
                        s.trim()
                            .parse()
                            .map_err(|_| bad(format!("bad Dim size {s:?}")))?,
                    ),
                    (None, None) => return Err(bad("a Dim without name or size")),
                };
                if let Some(v) = current_var(&mut self.stack) {
                    v.dims.push(vd);
                }
                Frame::Skip
            }
            "Attribute" => Frame::Attr {
                name: name.unwrap_or_default(),
                dtype: attr(e, "type")?.unwrap_or_default(),
                // The short form puts a single value in the element itself.
                values: attr(e, "value")?.into_iter().collect(),
                children: Vec::new(),
            },
            "Value" => {
                if let Some(v) = attr(e, "value")? {
                    if let Some(Frame::Attr { values, .. }) = self.stack.last_mut() {
                        values.push(v);
                    }
                    Frame::Skip
                } else {
                    Frame::Value(String::new())
                }
            }
            "Structure" | "Sequence" if self.extensions.is_none() => {
                let name = name.ok_or_else(|| bad(format!("a {tag} without a name")))?;
                Frame::Compound {
                    var: self.variable(name, DataType::Int8),
                    sequence: tag == "Sequence",
                    vlen: attr(e, "_edu.ucar.isvlen")?.is_some(),
                    fields: Vec::new(),
                }
            }
            "Opaque" if self.extensions.is_none() => {
                let name = name.ok_or_else(|| bad("an Opaque without a name"))?;
                let size = attr(e, "_edu.ucar.opaque.size")?
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(0);
                let path = Group::child_path(&self.group_path(), &name);
                let t = OpaqueType {
                    name: format!("{name}_t"),
                    path: format!("{path}_t"),
                    size,
                };
                Frame::Var(self.variable(name, DataType::Opaque(Arc::new(t))))
            }
            "Structure" | "Sequence" | "Opaque" => {
                self.omitted.push(format!(
                    "{} ({tag})",
                    Group::child_path(&self.group_path(), &name.unwrap_or_default())
                ));
                Frame::Omitted
            }
            "Enum" => {
                let name = name.ok_or_else(|| bad("an Enum variable without a name"))?;
                let en = attr(e, "enum")?.ok_or_else(|| bad("an Enum without enum="))?;
                let t = self
                    .resolve(&self.enums, &en)
                    .ok_or_else(|| bad(format!("unknown enumeration {en}")))?;
                Frame::Var(self.variable(name, DataType::Enum(Arc::clone(t))))
            }
            t => match atomic(t) {
                Some(dtype) => {
                    let name = name.ok_or_else(|| bad(format!("a {t} without a name")))?;
                    Frame::Var(self.variable(name, dtype))
                }
                None => Frame::Skip,
            },
        };
        self.stack.push(frame);
        Ok(())
    }

    fn variable(&self, name: String, dtype: DataType) -> Variable {
        Variable {
            path: Group::child_path(&self.group_path(), &name),
            name,
            dtype,
            dims: Vec::new(),
            attributes: Vec::new(),
            storage: Storage::default(),
        }
    }

    fn text(&mut self, s: &str) {
        match self.stack.last_mut() {
            Some(Frame::Value(v)) => v.push_str(s),
            Some(Frame::Extension(x)) => x.text.push_str(s),
            _ => {}
        }
    }

    fn close(&mut self) -> Result<()> {
        let frame = self.stack.pop().ok_or_else(|| bad("unbalanced tags"))?;
        match frame {
            Frame::Group(g) => match self.stack.last_mut() {
                Some(Frame::Group(parent)) => parent.groups.push(g),
                _ => self.root = Some(g),
            },
            Frame::Var(mut v) => {
                enum_fill(&mut v);
                self.place(v);
            }
            Frame::Compound {
                mut var,
                sequence,
                vlen,
                fields,
            } => {
                if fields.is_empty() {
                    self.omitted.push(format!("{} (empty Structure)", var.path));
                    return Ok(());
                }
                let name = format!("{}_t", var.name);
                let path = format!("{}_t", var.path);
                var.dtype = match (sequence, vlen, fields.as_slice()) {
                    (true, true, [only]) if only.shape.is_empty() => {
                        DataType::VLen(Arc::new(VLenType {
                            name,
                            path,
                            base: only.dtype.clone(),
                        }))
                    }
                    (true, _, _) => DataType::VLen(Arc::new(VLenType {
                        name: name.clone(),
                        path: path.clone(),
                        base: DataType::Structure(Arc::new(StructureType {
                            name: format!("{name}_row"),
                            path: format!("{path}_row"),
                            fields,
                        })),
                    })),
                    (false, _, _) => {
                        DataType::Structure(Arc::new(StructureType { name, path, fields }))
                    }
                };
                self.place(var);
            }
            Frame::Enum(t) => {
                let t = Arc::new(t);
                self.enums.insert(t.path.clone(), Arc::clone(&t));
                if let Some(Frame::Group(g)) = self.stack.last_mut() {
                    g.types.push(DataType::Enum(t));
                }
            }
            Frame::Value(s) => {
                if let Some(Frame::Attr { values, .. }) = self.stack.last_mut() {
                    values.push(s);
                }
            }
            Frame::Attr {
                name,
                dtype,
                values,
                children,
            } => {
                let made: Vec<Attribute> = if dtype == "Container" {
                    children
                        .into_iter()
                        .map(|a| Attribute::new(format!("{name}.{}", a.name), a.value))
                        .collect()
                } else if name.starts_with("_DAP4_") || name == "_dap4.ce" {
                    Vec::new()
                } else {
                    attr_value(&dtype, &values)
                        .map(|v| Attribute::new(name, v))
                        .into_iter()
                        .collect()
                };
                match self.stack.last_mut() {
                    Some(Frame::Attr { children, .. }) => children.extend(made),
                    Some(Frame::Var(v) | Frame::Compound { var: v, .. }) => {
                        v.attributes.extend(made);
                    }
                    Some(Frame::Group(g)) => g.attributes.extend(made),
                    _ => {}
                }
            }
            Frame::Extension(x) => {
                if let Some(ext) = self.extensions.as_mut() {
                    ext.elements.push(x);
                }
            }
            Frame::Omitted | Frame::Skip => {}
        }
        Ok(())
    }
}

impl Parser {
    /// A finished variable goes into its group, or becomes a field of the Structure or
    /// Sequence it is declared in (its dimensions the field's shape).
    fn place(&mut self, v: Variable) {
        match self.stack.last_mut() {
            Some(Frame::Group(g)) => g.variables.push(v),
            Some(Frame::Compound { fields, .. }) => fields.push(Field {
                shape: v.shape(),
                name: v.name,
                dtype: v.dtype,
            }),
            _ => {}
        }
    }
}

/// An enum variable's `_FillValue` arrives as the constant's name: store it as the value.
fn enum_fill(v: &mut Variable) {
    let DataType::Enum(t) = &v.dtype else { return };
    let Some(size) = t.base.fixed_size() else {
        return;
    };
    for a in &mut v.attributes {
        if a.name != "_FillValue" {
            continue;
        }
        let value = match &a.value {
            AttrValue::String(s) => s
                .first()
                .and_then(|n| t.members.iter().find(|m| &m.name == n))
                .map(|m| m.value),
            other => other
                .as_f64s()
                .and_then(|f| f.first().copied())
                .map(|f| f as i128),
        };
        if let Some(value) = value {
            a.value = AttrValue::Typed {
                dtype: v.dtype.clone(),
                count: 1,
                data: value.to_le_bytes()[..size].to_vec(),
            };
        }
    }
}

fn attr_value(dtype: &str, values: &[String]) -> Option<AttrValue> {
    fn nums<T: std::str::FromStr>(v: &[String]) -> Option<Vec<T>> {
        v.iter().map(|s| s.trim().parse().ok()).collect()
    }
    Some(match dtype {
        "Int8" => AttrValue::Int8(nums(values)?),
        "UInt8" | "Byte" => AttrValue::UInt8(nums(values)?),
        "Int16" => AttrValue::Int16(nums(values)?),
        "UInt16" => AttrValue::UInt16(nums(values)?),
        "Int32" => AttrValue::Int32(nums(values)?),
        "UInt32" => AttrValue::UInt32(nums(values)?),
        "Int64" => AttrValue::Int64(nums(values)?),
        "UInt64" => AttrValue::UInt64(nums(values)?),
        "Float32" => AttrValue::Float32(nums(values)?),
        "Float64" => AttrValue::Float64(nums(values)?),
        "Char" => AttrValue::Char(values.concat().into_bytes()),
        "String" | "URL" => AttrValue::String(values.to_vec()),
        _ => return None,
    })
}

/// Parses a DMR document into a dataset.
///
/// # Errors
/// [`Error::Upstream`] when it is not well-formed XML or not a DMR.
pub(crate) fn parse(text: &str, remote: bool) -> Result<Dataset> {
    run(text, remote, None).map(|(ds, _)| ds)
}

/// Parses a DMR that carries namespaced elements of another vocabulary (a DMR++), returning
/// them beside the dataset.
///
/// # Errors
/// [`Error::Upstream`] when it is not well-formed XML or not a DMR.
pub(crate) fn parse_with_extensions(text: &str) -> Result<(Dataset, Extensions)> {
    let (ds, ext) = run(text, false, Some(Extensions::default()))?;
    Ok((ds, ext.unwrap_or_default()))
}

fn run(
    text: &str,
    remote: bool,
    extensions: Option<Extensions>,
) -> Result<(Dataset, Option<Extensions>)> {
    let mut reader = Reader::from_str(text);
    let mut p = Parser {
        stack: Vec::new(),
        dims: HashMap::new(),
        enums: HashMap::new(),
        omitted: Vec::new(),
        root: None,
        name: String::new(),
        extensions,
    };
    loop {
        match reader.read_event().map_err(bad)? {
            Event::Start(e) => p.open(&e)?,
            Event::Empty(e) => {
                p.open(&e)?;
                p.close()?;
            }
            Event::End(_) => p.close()?,
            Event::Text(t) => p.text(&t.xml10_content()),
            Event::CData(t) => p.text(t.as_ref()),
            Event::GeneralRef(r) => {
                let s = match r.resolve_char_ref().map_err(bad)? {
                    Some(c) => c.to_string(),
                    None => match r.xml10_content().as_ref() {
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "amp" => "&".into(),
                        "quot" => "\"".into(),
                        "apos" => "'".into(),
                        other => format!("&{other};"),
                    },
                };
                p.text(&s);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let mut root = p.root.ok_or_else(|| bad("no Dataset element"))?;
    if remote && !p.omitted.is_empty() {
        root.attributes.push(Attribute::new(
            "_fathom_omitted",
            AttrValue::String(vec![format!(
                "not read from the remote server: {}",
                p.omitted.join(", ")
            )]),
        ));
    }
    let mut extensions = p.extensions;
    if let Some(ext) = extensions.as_mut() {
        ext.omitted = p.omitted;
    }
    Ok((
        Dataset {
            name: p.name,
            format: Format::RemoteDap4,
            root,
        },
        extensions,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DMR: &str = r#"<?xml version="1.0" encoding="ISO-8859-1"?>
<Dataset xmlns="http://xml.opendap.org/ns/DAP/4.0#" dapVersion="4.0" dmrVersion="1.0" name="g.nc">
  <Dimension name="time" size="3" _edu.ucar.isunlimited="1"/>
  <Enumeration name="cloud" basetype="UInt8"><EnumConst name="clear" value="0"/><EnumConst name="rain" value="2"/></Enumeration>
  <Int64 name="big"><Dim name="/time"/><Attribute name="units" type="String"><Value>m &amp; s</Value></Attribute></Int64>
  <Enum name="sky" enum="/cloud"><Dim name="/time"/><Attribute name="_FillValue" type="String"><Value>rain</Value></Attribute></Enum>
  <Structure name="s"><Int32 name="a"/><Structure name="in"><Float32 name="b"><Dim size="2"/></Float32></Structure><Dim name="/time"/></Structure>
  <Sequence name="ragged" _edu.ucar.isvlen="1"><Int16 name="ragged"/><Dim name="/time"/></Sequence>
  <Sequence name="table"><Int32 name="id"/><String name="label"/></Sequence>
  <Opaque name="blob" _edu.ucar.opaque.size="5"/>
  <Structure name="nothing"></Structure>
  <Attribute name="title" type="String"><Value>T</Value></Attribute>
  <Attribute name="comment" type="String" value="it&apos;s short"/>
  <Attribute name="NC_GLOBAL" type="Container"><Attribute name="n" type="Int16"><Value>1</Value><Value>2</Value></Attribute></Attribute>
  <Group name="g">
    <Dimension name="x" size="2"/>
    <Float64 name="v"><Dim name="/time"/><Dim name="x"/><Dim size="4"/></Float64>
  </Group>
</Dataset>
"#;

    #[test]
    fn groups_types_dimensions_and_attributes_map_into_the_model() {
        let ds = parse(DMR, true).expect("parses");
        assert_eq!(ds.name, "g.nc");
        let big = ds.variable("/big").expect("big");
        assert_eq!(big.dtype, DataType::Int64);
        assert!(big.dims[0].unlimited);
        assert_eq!(
            big.attribute("units")
                .and_then(|a| a.value.as_text())
                .as_deref(),
            Some("m & s")
        );
        let v = ds.variable("/g/v").expect("v");
        assert_eq!(v.shape(), vec![3, 2, 4]);
        assert_eq!(v.dims[1].path.as_deref(), Some("/g/x"));
        let sky = ds.variable("/sky").expect("sky");
        assert!(matches!(sky.dtype, DataType::Enum(_)));
        assert_eq!(sky.fill_bytes(), Some(vec![2]));
        let s = ds.variable("/s").expect("s");
        assert_eq!(s.shape(), vec![3]);
        let DataType::Structure(st) = &s.dtype else {
            panic!("{:?}", s.dtype)
        };
        assert_eq!(st.fields.len(), 2);
        assert_eq!(st.fields[0].dtype, DataType::Int32);
        let DataType::Structure(inner) = &st.fields[1].dtype else {
            panic!("{:?}", st.fields[1])
        };
        assert_eq!(inner.fields[0].shape, vec![2]);
        assert_eq!(s.dtype.fixed_size(), Some(12));
        let DataType::VLen(r) = &ds.variable("/ragged").expect("ragged").dtype else {
            panic!("ragged")
        };
        assert_eq!(r.base, DataType::Int16);
        let DataType::VLen(t) = &ds.variable("/table").expect("table").dtype else {
            panic!("table")
        };
        assert!(matches!(&t.base, DataType::Structure(row) if row.fields.len() == 2));
        let DataType::Opaque(o) = &ds.variable("/blob").expect("blob").dtype else {
            panic!("blob")
        };
        assert_eq!(o.size, 5);
        assert!(ds.variable("/nothing").is_none());
        let omitted = ds
            .root
            .attribute("_fathom_omitted")
            .and_then(|a| a.value.as_text());
        assert!(
            omitted.as_ref().is_some_and(|t| t.contains("/nothing")),
            "{omitted:?}"
        );
        assert_eq!(
            ds.root
                .attribute("comment")
                .and_then(|a| a.value.as_text())
                .as_deref(),
            Some("it's short")
        );
        assert_eq!(
            ds.root.attribute("NC_GLOBAL.n").map(|a| a.value.clone()),
            Some(AttrValue::Int16(vec![1, 2]))
        );
    }

    #[test]
    fn broken_documents_are_upstream_errors() {
        for bad in [
            "",
            "<Dataset name='x'><Int32 name='a'><Dim name='/nope'/></Int32></Dataset>",
            "<Dataset><Group/></Dataset>",
        ] {
            assert!(matches!(parse(bad, true), Err(Error::Upstream(_))), "{bad}");
        }
    }
}
