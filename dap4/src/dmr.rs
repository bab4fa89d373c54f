//! The DMR (Dataset Metadata Response): the CDM of a dataset, or of a constrained part of it,
//! as DAP4 XML.
//!
//! How each netCDF-4 construct is written, and why:
//! - Atomic types by their DAP4 names (`Int8`/`UInt8`, never `Byte`: netcdf-c reads `Byte` as
//!   signed and pydap as unsigned). netCDF `char` is `Char`; `string` is `String`.
//! - Shared dimensions as `<Dimension>`, referenced by fully qualified name (`<Dim
//!   name="/g/d"/>`); the unlimited one carries `_edu.ucar.isunlimited="1"`, which netcdf-c
//!   turns back into `UNLIMITED`. A dimension the constraint sliced is an anonymous
//!   `<Dim size=…/>`.
//! - Enums as `<Enumeration>` in the group that defines the type, used through
//!   `<Enum enum="/fqn">`.
//! - Opaque variables as `<Opaque>` with `_edu.ucar.opaque.size` (netcdf-c reads it when asked
//!   to translate with `#translate=nc4`).
//! - Compounds as `<Structure>` with their fields declared inside, array fields with anonymous
//!   dimensions.
//! - Vlens as a `<Sequence>` (the DAP4 form netcdf-c and TDS use): a vlen of atomic values has
//!   one field named like the variable and `_edu.ucar.isvlen="1"`; a vlen of compounds lists
//!   the compound's fields.
//! - Coordinate variables as `<Map>`s of the variables that use their dimension, declared
//!   first in their group so that every map target precedes its first use (libdap rejects a
//!   `<Map>` to a variable it has not seen yet); a map to a coordinate variable in a subgroup,
//!   which would come later, is left out.
//! - Attributes typed as in the file, global ones at the root, a group's before its variables,
//!   each value as `<Value>text</Value>` — except a single value holding `& < > " ' \`, which
//!   goes in a `value` XML attribute, the one form netcdf-c reads without mangling.
//!   Text (`char`) attributes become `String`: pydap cannot read a text `Char` attribute, and
//!   every DAP4 server does the same. Enum attributes (a `_FillValue`) are written as the
//!   constants' names, which netcdf-c converts back. Attributes of opaque, compound and vlen
//!   types have no DAP4 form that netcdf-c accepts (it rejects the whole DMR) and are left out.
//! - Attributes netCDF-4 reserves ([`NETCDF_RESERVED_ATTRIBUTES`], e.g. PyTables' `CLASS`) are
//!   left out: netcdf-c refuses a DMR that has one, and hides them in local files.
//! - Float attributes are printed so that they read back as the same value (a `Float32` as its
//!   exact `f64` expansion: xarray compares `_FillValue` with the data exactly).

use std::collections::BTreeSet;

use cdm::{AttrValue, Attribute, DataType, Dataset, Group, Variable};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use crate::constraint::{Constraint, FieldSelection, Projection};
use crate::error::{Error, Result};
use crate::xml::clean;

/// The DAP4 namespace.
pub const NAMESPACE: &str = "http://xml.opendap.org/ns/DAP/4.0#";

/// Attribute names netCDF-4 reserves for itself: netcdf-c's DAP4 client refuses the whole
/// dataset when a DMR carries one ("NetCDF: String match to name in use", tested with Debian's
/// netcdf-c 4.9.0), and netCDF-C and h5netcdf hide them in local files too. `CLASS` is on every
/// node of a PyTables file (and on HDF5 dimension scales); the others are netCDF-4's own.
pub const NETCDF_RESERVED_ATTRIBUTES: [&str; 5] = [
    "CLASS",
    "_IsNetcdf4",
    "_SuperblockVersion",
    "_Format",
    "_Codecs",
];

/// The attribute that announces a variable's CRC32 (decimal) in the DMR of a `.dap` response.
pub const CHECKSUM_ATTRIBUTE: &str = "_DAP4_Checksum_CRC32";

/// The DMR of `ds` as constrained by `c`, without a trailing newline.
///
/// # Errors
/// Only if the XML writer fails, which writing to memory does not.
pub fn render(ds: &Dataset, c: &Constraint) -> Result<String> {
    render_with_checksums(ds, c, None)
}

/// The DMR of `ds` as constrained by `c`, each projected variable announcing its CRC32 (one
/// per projection, in order) in a `_DAP4_Checksum_CRC32` attribute when `checksums` is given.
///
/// # Errors
/// Only if the XML writer fails, which writing to memory does not.
pub fn render_with_checksums(
    ds: &Dataset,
    c: &Constraint,
    checksums: Option<&[u32]>,
) -> Result<String> {
    let used_dims = c.shared_dimensions_used();
    let mut used_enums = BTreeSet::new();
    for p in &c.projections {
        enums_in(&p.variable.dtype, &p.fields, &mut used_enums);
    }
    let mut groups = BTreeSet::new();
    for path in c
        .projections
        .iter()
        .map(|p| p.variable.path.as_str())
        .chain(used_dims.iter().map(String::as_str))
        .chain(used_enums.iter().map(String::as_str))
    {
        // Every ancestor group of the item.
        let mut end = path.rfind('/').unwrap_or(0);
        while end > 0 {
            groups.insert(path[..end].to_owned());
            end = path[..end].rfind('/').unwrap_or(0);
        }
    }
    let mut dmr = Dmr {
        w: Writer::new_with_indent(Vec::new(), b' ', 4),
        ds,
        c,
        used_dims,
        used_enums,
        groups,
        checksums,
    };
    dmr.document().map_err(|e| Error::Encode(e.to_string()))?;
    String::from_utf8(dmr.w.into_inner()).map_err(|e| Error::Encode(e.to_string()))
}

/// Paths of the enumeration types a (partly projected) value of `dtype` uses.
fn enums_in(dtype: &DataType, fields: &FieldSelection, out: &mut BTreeSet<String>) {
    match dtype {
        DataType::Enum(e) => {
            out.insert(e.path.clone());
        }
        DataType::VLen(v) => enums_in(&v.base, &FieldSelection::All, out),
        DataType::Structure(st) => {
            for (i, f) in st.fields.iter().enumerate() {
                match fields {
                    FieldSelection::All => enums_in(&f.dtype, &FieldSelection::All, out),
                    FieldSelection::Some(list) => {
                        if let Some((_, sel)) = list.iter().find(|(j, _)| *j == i) {
                            enums_in(&f.dtype, sel, out);
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

/// How a declaration refers to one of its dimensions.
enum DimRef {
    /// `<Dim name="/fqn"/>`.
    Shared(String),
    /// `<Dim size="n"/>`.
    Anonymous(usize),
}

struct Dmr<'a> {
    w: Writer<Vec<u8>>,
    ds: &'a Dataset,
    c: &'a Constraint,
    /// Shared dimensions referred to by name.
    used_dims: BTreeSet<String>,
    /// Enumeration types the projected variables use.
    used_enums: BTreeSet<String>,
    /// Groups (other than the root) holding something of the response.
    groups: BTreeSet<String>,
    /// CRC32s to announce, one per projection.
    checksums: Option<&'a [u32]>,
}

type Io = std::io::Result<()>;

fn start<'b>(tag: &'b str, attrs: &[(&str, &str)]) -> BytesStart<'b> {
    let mut e = BytesStart::new(tag);
    for (k, v) in attrs {
        e.push_attribute((*k, clean(v).as_ref()));
    }
    e
}

impl Dmr<'_> {
    fn open(&mut self, tag: &str, attrs: &[(&str, &str)]) -> Io {
        self.w.write_event(Event::Start(start(tag, attrs)))
    }

    fn close(&mut self, tag: &str) -> Io {
        self.w.write_event(Event::End(BytesEnd::new(tag)))
    }

    fn empty(&mut self, tag: &str, attrs: &[(&str, &str)]) -> Io {
        self.w.write_event(Event::Empty(start(tag, attrs)))
    }

    fn document(&mut self) -> Io {
        self.w
            .write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        let name = self.ds.name.clone();
        self.open(
            "Dataset",
            &[
                ("xmlns", NAMESPACE),
                ("dapVersion", "4.0"),
                ("dmrVersion", "1.0"),
                ("name", &name),
            ],
        )?;
        let root = &self.ds.root;
        self.group_body(root)?;
        self.close("Dataset")
    }

    fn group_body(&mut self, g: &Group) -> Io {
        for d in &g.dimensions {
            if !self.c.everything && !self.used_dims.contains(&d.path) {
                continue;
            }
            let size = self.c.shared_selection(&d.path, d.len).count().to_string();
            let mut attrs = vec![("name", d.name.as_str()), ("size", size.as_str())];
            if d.unlimited {
                attrs.push(("_edu.ucar.isunlimited", "1"));
            }
            self.empty("Dimension", &attrs)?;
        }
        for t in &g.types {
            let DataType::Enum(e) = t else { continue };
            if !self.c.everything && !self.used_enums.contains(&e.path) {
                continue;
            }
            self.open(
                "Enumeration",
                &[("name", &e.name), ("basetype", atomic_name(&e.base))],
            )?;
            for m in &e.members {
                self.empty(
                    "EnumConst",
                    &[("name", &m.name), ("value", &m.value.to_string())],
                )?;
            }
            self.close("Enumeration")?;
        }
        for a in &g.attributes {
            self.attribute(a)?;
        }
        for v in crate::constraint::group_declaration_order(g) {
            if let Some(i) = self
                .c
                .projections
                .iter()
                .position(|p| p.variable.path == v.path)
            {
                let crc = self.checksums.and_then(|all| all.get(i).copied());
                self.variable(&self.c.projections[i], crc)?;
            }
        }
        for child in &g.groups {
            if !self.c.everything && !self.groups.contains(&child.path) {
                continue;
            }
            self.open("Group", &[("name", &child.name)])?;
            self.group_body(child)?;
            self.close("Group")?;
        }
        Ok(())
    }

    fn variable(&mut self, p: &Projection, crc: Option<u32>) -> Io {
        let v = &p.variable;
        let dims: Vec<DimRef> = (0..p.dims.len())
            .map(|i| match p.shared_dimension(i) {
                Some(path) => DimRef::Shared(path.to_owned()),
                None => DimRef::Anonymous(p.dims[i].count()),
            })
            .collect();
        let maps = self.maps(v, &dims);
        // A `_FillValue` of another type would make netcdf-c refuse the whole DMR.
        let mut attributes = cdm::fill::conformed_attributes(v);
        if let Some(crc) = crc {
            attributes.to_mut().push(Attribute::new(
                CHECKSUM_ATTRIBUTE,
                AttrValue::UInt32(vec![crc]),
            ));
        }
        self.declare(&v.name, &v.dtype, &dims, &attributes, &maps, &p.fields)
    }

    /// Coordinate variables (in the response) of the dimensions `v` refers to by name, where
    /// they are declared before `v`: in its group (coordinate variables come first there) or
    /// an ancestor's. libdap rejects a `<Map>` to a variable declared later.
    fn maps(&self, v: &Variable, dims: &[DimRef]) -> Vec<String> {
        let group_of = |path: &str| path.rfind('/').map_or("", |i| &path[..i]).to_owned();
        let own_group = group_of(&v.path);
        dims.iter()
            .filter_map(|d| match d {
                DimRef::Shared(path) => Some(path),
                DimRef::Anonymous(_) => None,
            })
            .filter(|path| **path != v.path)
            .filter(|path| {
                let target_group = group_of(path);
                own_group == target_group || own_group.starts_with(&format!("{target_group}/"))
            })
            .filter(|path| {
                self.ds.variable(path).is_some_and(Variable::is_coordinate) && self.c.projects(path)
            })
            .cloned()
            .collect()
    }

    /// Writes the declaration of a variable or field called `name`.
    fn declare(
        &mut self,
        name: &str,
        dtype: &DataType,
        dims: &[DimRef],
        attributes: &[Attribute],
        maps: &[String],
        fields: &FieldSelection,
    ) -> Io {
        let size;
        let (tag, mut attrs): (&str, Vec<(&str, &str)>) = match dtype {
            DataType::Enum(e) => ("Enum", vec![("enum", e.path.as_str())]),
            DataType::Opaque(o) => {
                size = o.size.to_string();
                ("Opaque", vec![("_edu.ucar.opaque.size", size.as_str())])
            }
            DataType::Structure(_) => ("Structure", vec![]),
            DataType::VLen(v) if matches!(v.base, DataType::Structure(_)) => ("Sequence", vec![]),
            DataType::VLen(_) => ("Sequence", vec![("_edu.ucar.isvlen", "1")]),
            other => (atomic_name(other), vec![]),
        };
        attrs.insert(0, ("name", name));
        let writable: Vec<&Attribute> = attributes
            .iter()
            .filter(|a| {
                attribute_form(&a.value).is_some()
                    && !NETCDF_RESERVED_ATTRIBUTES.contains(&a.name.as_str())
            })
            .collect();
        let has_members = matches!(dtype, DataType::Structure(_) | DataType::VLen(_));
        if !has_members && dims.is_empty() && writable.is_empty() && maps.is_empty() {
            return self.empty(tag, &attrs);
        }
        self.open(tag, &attrs)?;
        match dtype {
            DataType::Structure(st) => {
                for (i, f) in st.fields.iter().enumerate() {
                    let sel = match fields {
                        FieldSelection::All => &FieldSelection::All,
                        FieldSelection::Some(list) => match list.iter().find(|(j, _)| *j == i) {
                            Some((_, sel)) => sel,
                            None => continue,
                        },
                    };
                    let fdims: Vec<DimRef> =
                        f.shape.iter().map(|&n| DimRef::Anonymous(n)).collect();
                    self.declare(&f.name, &f.dtype, &fdims, &[], &[], sel)?;
                }
            }
            DataType::VLen(v) => match &v.base {
                DataType::Structure(st) => {
                    for f in &st.fields {
                        let fdims: Vec<DimRef> =
                            f.shape.iter().map(|&n| DimRef::Anonymous(n)).collect();
                        self.declare(&f.name, &f.dtype, &fdims, &[], &[], &FieldSelection::All)?;
                    }
                }
                // netcdf-c makes the single field the variable, so it carries the same name.
                base => self.declare(name, base, &[], &[], &[], &FieldSelection::All)?,
            },
            _ => {}
        }
        for d in dims {
            match d {
                DimRef::Shared(path) => self.empty("Dim", &[("name", path)])?,
                DimRef::Anonymous(n) => self.empty("Dim", &[("size", &n.to_string())])?,
            }
        }
        for a in writable {
            self.attribute(a)?;
        }
        for m in maps {
            self.empty("Map", &[("name", m)])?;
        }
        self.close(tag)
    }

    fn attribute(&mut self, a: &Attribute) -> Io {
        if NETCDF_RESERVED_ATTRIBUTES.contains(&a.name.as_str()) {
            return Ok(());
        }
        let Some((type_name, values)) = attribute_form(&a.value) else {
            return Ok(());
        };
        let attrs = [("name", a.name.as_str()), ("type", type_name)];
        if values.is_empty() {
            return self.empty("Attribute", &attrs);
        }
        if let [single] = values.as_slice()
            && single.contains(['&', '<', '>', '"', '\'', '\\'])
        {
            // netcdf-c re-escapes the text of a <Value> (`"` comes back as `&quot;`) and drops
            // its backslashes, but takes a `value` XML attribute as it is; pydap and
            // netCDF-Java read that form too. libdap does not: getdap4 omits these.
            let inline = [
                ("name", a.name.as_str()),
                ("type", type_name),
                ("value", single.as_str()),
            ];
            return self.empty("Attribute", &inline);
        }
        self.open("Attribute", &attrs)?;
        for v in &values {
            if v.is_empty() {
                // An empty <Value></Value> reads as None in pydap.
                self.empty("Value", &[("value", "")])?;
                continue;
            }
            // `<Value>text</Value>`: the one form libdap, netcdf-c and pydap all read.
            self.w.write_event(Event::Start(BytesStart::new("Value")))?;
            self.w
                .write_event(Event::Text(BytesText::from_escaped(crate::xml::text(v))))?;
            self.w.write_event(Event::End(BytesEnd::new("Value")))?;
        }
        self.close("Attribute")
    }
}

/// The DAP4 name of an atomic type (and of an enum's base type).
fn atomic_name(dtype: &DataType) -> &'static str {
    match dtype {
        DataType::Int8 => "Int8",
        DataType::UInt8 => "UInt8",
        DataType::Int16 => "Int16",
        DataType::UInt16 => "UInt16",
        DataType::Int32 => "Int32",
        DataType::UInt32 => "UInt32",
        DataType::Int64 => "Int64",
        DataType::UInt64 => "UInt64",
        DataType::Float32 => "Float32",
        DataType::Float64 => "Float64",
        DataType::Char => "Char",
        DataType::String => "String",
        DataType::Enum(_) => "Enum",
        DataType::Opaque(_) => "Opaque",
        DataType::Structure(_) => "Structure",
        DataType::VLen(_) => "Sequence",
    }
}

/// A float as text that parses back (as `f64`, by C's `strtod` and Python's `float`) to
/// exactly `x`.
fn float_text(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else if x == 0.0 || (1e-5..1e16).contains(&x.abs()) {
        // Shortest round-trip digits, without an exponent.
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

/// The DAP4 type and the value texts of an attribute, or `None` when it has no DAP4 form.
fn attribute_form(value: &AttrValue) -> Option<(&'static str, Vec<String>)> {
    fn texts<T: ToString>(v: &[T]) -> Vec<String> {
        v.iter().map(ToString::to_string).collect()
    }
    Some(match value {
        AttrValue::Int8(v) => ("Int8", texts(v)),
        AttrValue::UInt8(v) => ("UInt8", texts(v)),
        AttrValue::Int16(v) => ("Int16", texts(v)),
        AttrValue::UInt16(v) => ("UInt16", texts(v)),
        AttrValue::Int32(v) => ("Int32", texts(v)),
        AttrValue::UInt32(v) => ("UInt32", texts(v)),
        AttrValue::Int64(v) => ("Int64", texts(v)),
        AttrValue::UInt64(v) => ("UInt64", texts(v)),
        AttrValue::Float32(v) => (
            "Float32",
            v.iter().map(|&x| float_text(f64::from(x))).collect(),
        ),
        AttrValue::Float64(v) => ("Float64", v.iter().map(|&x| float_text(x)).collect()),
        AttrValue::Char(_) => ("String", vec![value.as_text()?.into_owned()]),
        AttrValue::String(v) => ("String", v.clone()),
        AttrValue::Typed {
            dtype: DataType::Enum(e),
            count,
            data,
        } => {
            let size = e.base.fixed_size()?;
            let names = (0..*count)
                .map(|i| {
                    let bytes = data.get(i * size..(i + 1) * size)?;
                    let value = enum_value(&e.base, bytes)?;
                    Some(
                        e.name_of(value)
                            .map_or_else(|| value.to_string(), str::to_owned),
                    )
                })
                .collect::<Option<Vec<_>>>()?;
            ("String", names)
        }
        AttrValue::Typed { .. } => return None,
    })
}

/// The integer in `bytes` (little-endian, the size of `base`).
fn enum_value(base: &DataType, bytes: &[u8]) -> Option<i128> {
    let mut buf = [0u8; 8];
    buf.get_mut(..bytes.len())?.copy_from_slice(bytes);
    let signed = matches!(
        base,
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64
    );
    let unsigned = u64::from_le_bytes(buf);
    Some(if signed {
        // Sign-extend from the base type's width.
        let shift = 64 - 8 * bytes.len() as u32;
        i128::from(((unsigned << shift) as i64) >> shift)
    } else {
        i128::from(unsigned)
    })
}

/// The DSR (dataset services response): which responses this dataset has, at `url_path`.
#[must_use]
pub fn services(url_path: &str, server: &str) -> String {
    let base = clean(url_path);
    let base = quick_xml::escape::escape(base.as_ref());
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(
        "<DatasetServices xmlns=\"http://xml.opendap.org/ns/DAP/4.0/dataset-services#\">\n",
    );
    out.push_str("    <DapVersion>4.0</DapVersion>\n");
    out.push_str(&format!(
        "    <ServerSoftwareVersion>{}</ServerSoftwareVersion>\n",
        crate::xml::text(server)
    ));
    for (title, role, suffix, media) in [
        (
            "DAP4 Dataset Services",
            "dataset-services",
            ".dsr",
            crate::media::DSR,
        ),
        (
            "DAP4 Dataset Metadata",
            "dataset-metadata",
            ".dmr",
            crate::media::DMR,
        ),
        ("DAP4 Data", "data", ".dap", crate::media::DAP),
    ] {
        out.push_str(&format!(
            "    <Service title=\"{title}\" role=\"http://services.opendap.org/dap4/{role}\">\n        <link type=\"{media}\" href=\"{base}{suffix}\"/>\n    </Service>\n"
        ));
    }
    out.push_str("</DatasetServices>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_read_back_exactly() {
        for x in [
            0.0,
            -0.0,
            1.0,
            0.1,
            250.0,
            1e20,
            -1.5e-7,
            f64::from(1e20f32),
            f64::MAX,
            f64::MIN_POSITIVE,
            123_456_789.123,
        ] {
            let t = float_text(x);
            assert_eq!(t.parse::<f64>().ok(), Some(x), "{t}");
        }
        assert_eq!(float_text(f64::from(1e20f32)), "1.0000000200408773e20");
        assert_eq!(float_text(250.0), "250");
        assert_eq!(float_text(f64::NAN), "NaN");
        assert_eq!(float_text(f64::NEG_INFINITY), "-Infinity");
    }

    #[test]
    fn enum_values_sign_extend() {
        assert_eq!(enum_value(&DataType::Int8, &[0xff]), Some(-1));
        assert_eq!(enum_value(&DataType::UInt8, &[0xff]), Some(255));
        assert_eq!(enum_value(&DataType::Int16, &[0x00, 0x80]), Some(-32768));
        assert_eq!(
            enum_value(&DataType::UInt64, &[0xff; 8]),
            Some(i128::from(u64::MAX))
        );
    }
}
