//! The DAS: CDM attributes as DAP2 attributes, and the DAS printer.
//!
//! Layout and escaping follow libdap (`AttrTable::print`, `escaping.cc` `escattr`): one container
//! per variable, `NC_GLOBAL` for the root group's attributes, `DODS_EXTRA` for the unlimited
//! dimension. Two deliberate departures, both so that clients read the right values:
//! valid UTF-8 text is written as is (libdap octal-escapes every non-ASCII byte, which neither
//! netCDF-C nor pydap undoes), and floating-point values are printed the way libdap prints them
//! only when that text reads back as the same number; otherwise the shortest text that does.

use std::fmt::Write as _;

use cdm::{AttrValue, Attribute, DataType, Variable};

use crate::mapping::{AtomicType, Dap2Dataset, type_attributes};

/// One DAS attribute or container.
#[derive(Clone, Debug, PartialEq)]
pub struct DasAttr {
    /// Its name.
    pub name: String,
    /// Its values or members.
    pub value: DasValue,
}

/// What a [`DasAttr`] holds.
#[derive(Clone, Debug, PartialEq)]
pub enum DasValue {
    /// Numbers of a DAP2 numeric type, already formatted.
    Numbers {
        /// The DAP2 type.
        ty: AtomicType,
        /// The values as printed.
        values: Vec<String>,
    },
    /// Strings (raw bytes: netCDF text attributes are not always UTF-8), escaped when printed.
    Strings(Vec<Vec<u8>>),
    /// A nested container.
    Container(Vec<DasAttr>),
}

impl DasAttr {
    /// A one-string attribute.
    #[must_use]
    pub fn string(name: &str, value: &str) -> Self {
        Self::strings(name, vec![value.to_owned()])
    }

    /// A string attribute with several values.
    #[must_use]
    pub fn strings(name: &str, values: Vec<String>) -> Self {
        Self {
            name: name.to_owned(),
            value: DasValue::Strings(values.into_iter().map(String::into_bytes).collect()),
        }
    }

    /// A numeric attribute with already formatted values.
    #[must_use]
    pub fn values(name: &str, ty: AtomicType, values: Vec<String>) -> Self {
        Self {
            name: name.to_owned(),
            value: DasValue::Numbers { ty, values },
        }
    }

    /// A container.
    #[must_use]
    pub fn container(name: &str, members: Vec<DasAttr>) -> Self {
        Self {
            name: name.to_owned(),
            value: DasValue::Container(members),
        }
    }
}

/// A variable's DAS container: its file attributes (a `_FillValue` or `missing_value` of
/// another type converted or dropped, [`cdm::fill`]), then those the type mapping adds.
#[must_use]
pub fn variable_attributes(var: &Variable) -> Vec<DasAttr> {
    let mut out = attributes(&cdm::fill::conformed_attributes(var));
    out.extend(type_attributes(var));
    out
}

/// A list of CDM attributes as DAS attributes (those DAP2 cannot express are left out).
#[must_use]
pub fn attributes(attrs: &[Attribute]) -> Vec<DasAttr> {
    attrs.iter().filter_map(attribute).collect()
}

/// One CDM attribute as a DAS attribute.
///
/// `byte` values become `Int16`, the type `byte` variables are sent as; 64-bit integers become `Int32` or
/// `UInt32` when every value fits and `Float64` otherwise; `char` text becomes a `String`.
#[must_use]
pub fn attribute(a: &Attribute) -> Option<DasAttr> {
    let name = a.name.as_str();
    let ints = |ty, v: Vec<String>| Some(DasAttr::values(name, ty, v));
    fn fmt_all<T: ToString>(v: &[T]) -> Vec<String> {
        v.iter().map(ToString::to_string).collect()
    }
    match &a.value {
        AttrValue::Int8(v) => ints(AtomicType::Int16, fmt_all(v)),
        AttrValue::UInt8(v) => ints(AtomicType::Byte, fmt_all(v)),
        AttrValue::Int16(v) => ints(AtomicType::Int16, fmt_all(v)),
        AttrValue::UInt16(v) => ints(AtomicType::UInt16, fmt_all(v)),
        AttrValue::Int32(v) => ints(AtomicType::Int32, fmt_all(v)),
        AttrValue::UInt32(v) => ints(AtomicType::UInt32, fmt_all(v)),
        AttrValue::Int64(v) => {
            if v.iter().all(|x| i32::try_from(*x).is_ok()) {
                ints(AtomicType::Int32, fmt_all(v))
            } else if v.iter().all(|x| u32::try_from(*x).is_ok()) {
                ints(AtomicType::UInt32, fmt_all(v))
            } else {
                #[allow(clippy::cast_precision_loss)]
                let f: Vec<String> = v.iter().map(|x| format_f64(*x as f64)).collect();
                ints(AtomicType::Float64, f)
            }
        }
        AttrValue::UInt64(v) => {
            if v.iter().all(|x| u32::try_from(*x).is_ok()) {
                ints(AtomicType::UInt32, fmt_all(v))
            } else {
                #[allow(clippy::cast_precision_loss)]
                let f: Vec<String> = v.iter().map(|x| format_f64(*x as f64)).collect();
                ints(AtomicType::Float64, f)
            }
        }
        AttrValue::Float32(v) => ints(
            AtomicType::Float32,
            v.iter().map(|x| format_f32(*x)).collect(),
        ),
        AttrValue::Float64(v) => ints(
            AtomicType::Float64,
            v.iter().map(|x| format_f64(*x)).collect(),
        ),
        AttrValue::Char(bytes) => Some(DasAttr {
            name: name.to_owned(),
            value: DasValue::Strings(vec![bytes.clone()]),
        }),
        AttrValue::String(v) => Some(DasAttr::strings(name, v.clone())),
        AttrValue::Typed { dtype, count, data } => typed_attribute(name, dtype, *count, data),
    }
}

/// Values of a user-defined type: enums as their base integers. Compound, opaque and vlen values
/// have no DAP2 form (a compound `_FillValue` as a container would reach netCDF-C as stray
/// global attributes, `oc2/ocnode.c` `mergeother`).
fn typed_attribute(name: &str, dtype: &DataType, count: usize, data: &[u8]) -> Option<DasAttr> {
    match dtype {
        DataType::Enum(e) => {
            let value = decode_numbers(&e.base, count, data)?;
            attribute(&Attribute::new(name, value))
        }
        _ => None,
    }
}

/// Decodes `count` canonical little-endian numbers of `dtype`.
fn decode_numbers(dtype: &DataType, count: usize, data: &[u8]) -> Option<AttrValue> {
    macro_rules! dec {
        ($variant:ident, $t:ty) => {{
            const N: usize = std::mem::size_of::<$t>();
            let bytes = data.get(..count.checked_mul(N)?)?;
            AttrValue::$variant(
                bytes
                    .chunks_exact(N)
                    .map(|c| <$t>::from_le_bytes(c.try_into().unwrap_or([0; N])))
                    .collect(),
            )
        }};
    }
    Some(match dtype {
        DataType::Int8 => dec!(Int8, i8),
        DataType::UInt8 => dec!(UInt8, u8),
        DataType::Int16 => dec!(Int16, i16),
        DataType::UInt16 => dec!(UInt16, u16),
        DataType::Int32 => dec!(Int32, i32),
        DataType::UInt32 => dec!(UInt32, u32),
        DataType::Int64 => dec!(Int64, i64),
        DataType::UInt64 => dec!(UInt64, u64),
        DataType::Float32 => dec!(Float32, f32),
        DataType::Float64 => dec!(Float64, f64),
        _ => return None,
    })
}

/// C's `%#.{precision}g` (what libdap's `setprecision(p) << showpoint` prints).
#[must_use]
pub fn c_format_g(value: f64, precision: usize, showpoint: bool) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 {
            "Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let p = precision.max(1);
    let sci = format!("{:.*e}", p - 1, value);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let strip = |s: &str| -> String {
        if showpoint || !s.contains('.') {
            s.to_owned()
        } else {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        }
    };
    let p_i32 = i32::try_from(p).unwrap_or(i32::MAX);
    if exp < -4 || exp >= p_i32 {
        let m = strip(mantissa);
        let m = if showpoint && !m.contains('.') {
            format!("{m}.")
        } else {
            m
        };
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.unsigned_abs())
    } else {
        let decimals = usize::try_from(p_i32 - 1 - exp).unwrap_or(0);
        let fixed = format!("{value:.decimals$}");
        let fixed = strip(&fixed);
        if showpoint && !fixed.contains('.') {
            format!("{fixed}.")
        } else {
            fixed
        }
    }
}

/// The shortest text that reads back as exactly `value` (as a double), in C's notation.
fn shortest(value: f64) -> String {
    let a = value.abs();
    if a == 0.0 || (1e-4..1e16).contains(&a) {
        let s = format!("{value}");
        if s.contains('.') { s } else { format!("{s}.0") }
    } else {
        let s = format!("{value:e}");
        match s.split_once('e') {
            Some((m, e)) if e.starts_with('-') => format!("{m}e-{:0>2}", &e[1..]),
            Some((m, e)) => format!("{m}e+{e:0>2}"),
            None => s,
        }
    }
}

/// A `Float32` attribute value: libdap's `%#.9g` when that reads back (as a double, which is how
/// pydap and xarray read it) as the float's exact value; else the shortest exact text.
#[must_use]
pub fn format_f32(value: f32) -> String {
    let wide = f64::from(value);
    let hyrax = c_format_g(wide, 9, true);
    if !value.is_finite() || hyrax.parse::<f64>().ok() == Some(wide) {
        hyrax
    } else {
        shortest(wide)
    }
}

/// A `Float64` attribute value: libdap's `%#.16g` when it reads back exactly, else the shortest
/// exact text.
#[must_use]
pub fn format_f64(value: f64) -> String {
    let hyrax = c_format_g(value, 16, true);
    if !value.is_finite() || hyrax.parse::<f64>().ok() == Some(value) {
        hyrax
    } else {
        shortest(value)
    }
}

/// A string attribute value between quotes, escaped like libdap's `escattr` except that valid
/// UTF-8 is kept: `\` → `\\`, `"` → `\"`, control characters (other than tab, CR, LF) and
/// bytes that are not valid UTF-8 → `\ooo`.
#[must_use]
pub fn quote_attr(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' | '\t' | '\r' => out.push(c),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                    let _ = write!(out, "\\{:03o}", c as u32);
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\{b:03o}");
        }
    }
    out.push('"');
    out
}

/// Characters libdap leaves unescaped in names (`escaping.h`, `id2www`).
const NAME_ALLOWED: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-+_/.\\*";

/// [`NAME_ALLOWED`] as a table indexed by byte: one load per byte instead of a search of the
/// list (names are printed on every constrained DDS).
const NAME_ALLOWED_TABLE: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < NAME_ALLOWED.len() {
        table[NAME_ALLOWED[i] as usize] = true;
        i += 1;
    }
    table
};

/// A name as DDS and DAS print it: other characters become `%xx` (libdap `id2www`).
#[must_use]
pub fn www_name(name: &str) -> String {
    let bytes = name.as_bytes();
    if bytes.iter().all(|&b| NAME_ALLOWED_TABLE[usize::from(b)]) {
        return name.to_owned();
    }
    let mut out = String::with_capacity(name.len() + 8);
    for &b in bytes {
        if NAME_ALLOWED_TABLE[usize::from(b)] {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02x}");
        }
    }
    out
}

fn print_attrs(out: &mut String, attrs: &[DasAttr], indent: usize) {
    let pad = " ".repeat(indent);
    for a in attrs {
        match &a.value {
            DasValue::Numbers { ty, values } => {
                let _ = writeln!(
                    out,
                    "{pad}{} {} {};",
                    ty.name(),
                    www_name(&a.name),
                    values.join(", ")
                );
            }
            DasValue::Strings(values) => {
                let quoted: Vec<String> = values.iter().map(|v| quote_attr(v)).collect();
                let _ = writeln!(
                    out,
                    "{pad}String {} {};",
                    www_name(&a.name),
                    quoted.join(", ")
                );
            }
            DasValue::Container(members) => {
                let _ = writeln!(out, "{pad}{} {{", www_name(&a.name));
                print_attrs(out, members, indent + 4);
                let _ = writeln!(out, "{pad}}}");
            }
        }
    }
}

/// The whole DAS of a dataset.
#[must_use]
pub fn print_das(ds: &Dap2Dataset) -> String {
    let mut out = String::from("Attributes {\n");
    let mut containers: Vec<(&str, &[DasAttr])> = Vec::new();
    for v in &ds.vars {
        containers.push((v.name(), &v.attributes));
    }
    for g in &ds.groups {
        containers.push((&g.name, &g.attributes));
    }
    for (name, attrs) in containers {
        let _ = writeln!(out, "    {} {{", www_name(name));
        print_attrs(&mut out, attrs, 8);
        out.push_str("    }\n");
    }
    if !ds.global.is_empty() {
        out.push_str("    NC_GLOBAL {\n");
        print_attrs(&mut out, &ds.global, 8);
        out.push_str("    }\n");
    }
    if let Some(unlimited) = &ds.unlimited {
        out.push_str("    DODS_EXTRA {\n");
        let _ = writeln!(
            out,
            "        String Unlimited_Dimension {};",
            quote_attr(unlimited.as_bytes())
        );
        out.push_str("    }\n");
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_libdap_when_exact() {
        assert_eq!(format_f32(-99.0), "-99.0000000");
        assert_eq!(format_f32(531.0), "531.000000");
        assert_eq!(format_f64(1.0), "1.000000000000000");
        assert_eq!(format_f64(660.0), "660.0000000000000");
        assert_eq!(c_format_g(f64::MIN, 16, true), "-1.797693134862316e+308");
        // Hyrax's 16 digits do not read back as f64::MIN: print the exact value.
        assert_eq!(format_f64(f64::MIN), "-1.7976931348623157e+308");
        // 1e20f32 is not 1.00000002e20 as a double: print the exact value instead.
        assert_eq!(format_f32(1e20), "1.0000000200408773e+20");
        assert_eq!(format_f32(0.1), "0.10000000149011612");
        assert_eq!(format_f64(0.1), "0.1000000000000000");
        assert_eq!(format_f64(f64::NAN), "NaN");
        assert_eq!(c_format_g(1e-5, 6, false), "1e-05");
        assert_eq!(c_format_g(47.5, 6, false), "47.5");
    }

    #[test]
    fn strings_escape_like_escattr_but_keep_utf8() {
        assert_eq!(quote_attr(b"a\\b\"c"), r#""a\\b\"c""#);
        assert_eq!(quote_attr(b"\x80\x7fAZ$&"), r#""\200\177AZ$&""#);
        assert_eq!(quote_attr("é\n".as_bytes()), "\"é\n\"");
    }

    #[test]
    fn names_are_percent_escaped() {
        assert_eq!(www_name("x#y"), "x%23y");
        assert_eq!(www_name("data name"), "data%20name");
        assert_eq!(www_name("a-b_c.d"), "a-b_c.d");
    }
}
