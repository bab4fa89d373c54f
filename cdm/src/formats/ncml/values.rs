//! NcML's written values → the model: type names, attribute values, and the in-memory arrays
//! of `<values>`, coordinate values and dates, canonically encoded.

use bytes::Bytes;

use crate::hyperslab::Hyperslab;
use crate::model::{AttrValue, DataType};

/// The type an NcML `type=` names.
pub(crate) fn data_type(name: &str) -> Result<DataType, String> {
    Ok(match name {
        "byte" => DataType::Int8,
        "ubyte" => DataType::UInt8,
        "char" => DataType::Char,
        "short" => DataType::Int16,
        "ushort" => DataType::UInt16,
        "int" => DataType::Int32,
        "uint" => DataType::UInt32,
        "long" | "int64" => DataType::Int64,
        "ulong" | "uint64" => DataType::UInt64,
        "float" => DataType::Float32,
        "double" => DataType::Float64,
        "String" | "string" => DataType::String,
        other => return Err(format!("unknown type \"{other}\"")),
    })
}

/// Splits a list of values: on `separator` when given, otherwise on white space.
pub(crate) fn tokens<'a>(text: &'a str, separator: Option<&'a str>) -> Vec<&'a str> {
    match separator {
        Some(sep) if !sep.is_empty() => text.split(sep).collect(),
        _ => text.split_whitespace().collect(),
    }
}

fn parse_each<T: std::str::FromStr>(toks: &[&str], what: &str) -> Result<Vec<T>, String> {
    toks.iter()
        .map(|t| {
            t.trim()
                .parse::<T>()
                .map_err(|_| format!("\"{}\" is not a valid {what}", t.trim()))
        })
        .collect()
}

/// An attribute value of `dtype` from its text.
pub(crate) fn attr_value(
    dtype: &DataType,
    text: &str,
    separator: Option<&str>,
) -> Result<AttrValue, String> {
    let toks = || tokens(text, separator);
    Ok(match dtype {
        DataType::Char => AttrValue::Char(text.as_bytes().to_vec()),
        DataType::String => match separator {
            Some(_) => AttrValue::String(toks().into_iter().map(str::to_owned).collect()),
            None => AttrValue::String(vec![text.to_owned()]),
        },
        DataType::Int8 => AttrValue::Int8(parse_each(&toks(), "byte")?),
        DataType::UInt8 => AttrValue::UInt8(parse_each(&toks(), "ubyte")?),
        DataType::Int16 => AttrValue::Int16(parse_each(&toks(), "short")?),
        DataType::UInt16 => AttrValue::UInt16(parse_each(&toks(), "ushort")?),
        DataType::Int32 => AttrValue::Int32(parse_each(&toks(), "int")?),
        DataType::UInt32 => AttrValue::UInt32(parse_each(&toks(), "uint")?),
        DataType::Int64 => AttrValue::Int64(parse_each(&toks(), "int64")?),
        DataType::UInt64 => AttrValue::UInt64(parse_each(&toks(), "uint64")?),
        DataType::Float32 => AttrValue::Float32(parse_each(&toks(), "float")?),
        DataType::Float64 => AttrValue::Float64(parse_each(&toks(), "double")?),
        other => {
            return Err(format!(
                "attributes of type {other} cannot be written in NcML"
            ));
        }
    })
}

/// An array held in memory: `<values>`, aggregated coordinates, dates.
#[derive(Clone, Debug)]
pub(crate) enum Values {
    /// Fixed-size elements, canonically encoded.
    Fixed { elem: usize, data: Bytes },
    /// Strings.
    Strings(Vec<String>),
}

impl Values {
    /// Number of elements.
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Fixed { elem, data } => data.len() / (*elem).max(1),
            Self::Strings(s) => s.len(),
        }
    }

    /// The elements `slab` selects from an array of `shape`, canonically encoded.
    pub(crate) fn select(&self, shape: &[usize], slab: &Hyperslab) -> Bytes {
        if slab.is_full(shape)
            && let Self::Fixed { data, .. } = self
        {
            return data.clone();
        }
        let mut out = Vec::new();
        for i in flat_indices(shape, slab) {
            match self {
                Self::Fixed { elem, data } => {
                    if let Some(e) = data.get(i * elem..(i + 1) * elem) {
                        out.extend_from_slice(e);
                    }
                }
                Self::Strings(s) => {
                    let v = s.get(i).map_or("", String::as_str);
                    out.extend_from_slice(&(v.len() as u64).to_le_bytes());
                    out.extend_from_slice(v.as_bytes());
                }
            }
        }
        Bytes::from(out)
    }

    /// Concatenation of arrays of the same kind.
    pub(crate) fn concat(parts: &[Values]) -> Option<Values> {
        match parts.first()? {
            Self::Fixed { elem, .. } => {
                let mut data = Vec::new();
                for p in parts {
                    match p {
                        Self::Fixed { elem: e, data: d } if e == elem => data.extend_from_slice(d),
                        _ => return None,
                    }
                }
                Some(Self::Fixed {
                    elem: *elem,
                    data: data.into(),
                })
            }
            Self::Strings(_) => {
                let mut all = Vec::new();
                for p in parts {
                    match p {
                        Self::Strings(s) => all.extend(s.iter().cloned()),
                        Self::Fixed { .. } => return None,
                    }
                }
                Some(Self::Strings(all))
            }
        }
    }

    /// Values decoded from a source's canonical bytes of `dtype`.
    pub(crate) fn from_canonical(dtype: &DataType, bytes: &[u8]) -> Option<Values> {
        if let Some(elem) = dtype.fixed_size() {
            return Some(Self::Fixed {
                elem,
                data: Bytes::copy_from_slice(bytes),
            });
        }
        if *dtype != DataType::String {
            return None;
        }
        let mut out = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let (len, tail) = rest.split_at_checked(8)?;
            let n = usize::try_from(u64::from_le_bytes(len.try_into().ok()?)).ok()?;
            let (s, tail) = tail.split_at_checked(n)?;
            out.push(String::from_utf8_lossy(s).into_owned());
            rest = tail;
        }
        Some(Self::Strings(out))
    }
}

/// Encodes written values as `dtype`.
pub(crate) fn encode(dtype: &DataType, toks: &[&str]) -> Result<Values, String> {
    macro_rules! fixed {
        ($t:ty, $what:literal) => {{
            let v: Vec<$t> = parse_each(toks, $what)?;
            Values::Fixed {
                elem: std::mem::size_of::<$t>(),
                data: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            }
        }};
    }
    Ok(match dtype {
        DataType::Int8 => fixed!(i8, "byte"),
        DataType::UInt8 => fixed!(u8, "ubyte"),
        DataType::Int16 => fixed!(i16, "short"),
        DataType::UInt16 => fixed!(u16, "ushort"),
        DataType::Int32 => fixed!(i32, "int"),
        DataType::UInt32 => fixed!(u32, "uint"),
        DataType::Int64 => fixed!(i64, "int64"),
        DataType::UInt64 => fixed!(u64, "uint64"),
        DataType::Float32 => fixed!(f32, "float"),
        DataType::Float64 => fixed!(f64, "double"),
        DataType::String => Values::Strings(toks.iter().map(|s| (*s).to_owned()).collect()),
        DataType::Char => Values::Fixed {
            elem: 1,
            data: toks.join(" ").into_bytes().into(),
        },
        other => return Err(format!("values of type {other} cannot be written in NcML")),
    })
}

/// `n` values `start`, `start + increment`, … of `dtype`.
pub(crate) fn arithmetic(
    dtype: &DataType,
    start: &str,
    increment: &str,
    n: usize,
) -> Result<Values, String> {
    let s: f64 = start
        .trim()
        .parse()
        .map_err(|_| format!("values start \"{start}\" is not a number"))?;
    let inc: f64 = increment
        .trim()
        .parse()
        .map_err(|_| format!("values increment \"{increment}\" is not a number"))?;
    if !dtype.is_numeric() {
        return Err(format!(
            "start/increment values need a numeric type, not {dtype}"
        ));
    }
    #[allow(clippy::cast_precision_loss)]
    let items: Vec<String> = (0..n)
        .map(|i| {
            let v = s + inc * i as f64;
            if dtype.is_integer() {
                format!("{}", v.round())
            } else {
                format!("{v}")
            }
        })
        .collect();
    let refs: Vec<&str> = items.iter().map(String::as_str).collect();
    encode(dtype, &refs)
}

/// The flat (C order) indices `slab` selects from an array of `shape`.
pub(crate) fn flat_indices(shape: &[usize], slab: &Hyperslab) -> Vec<usize> {
    let ranges = slab.ranges();
    let mut out = Vec::with_capacity(slab.len());
    if ranges.len() != shape.len() {
        return out;
    }
    if ranges.is_empty() {
        out.push(0);
        return out;
    }
    let mut strides = vec![1usize; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    fn walk(
        d: usize,
        base: usize,
        ranges: &[crate::Range],
        strides: &[usize],
        out: &mut Vec<usize>,
    ) {
        let r = ranges[d];
        for i in r.indices() {
            let at = base + i * strides[d];
            if d + 1 == ranges.len() {
                out.push(at);
            } else {
                walk(d + 1, at, ranges, strides, out);
            }
        }
    }
    walk(0, 0, ranges, &strides, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Range;

    #[test]
    fn attribute_values_follow_their_type() {
        assert_eq!(
            attr_value(&DataType::Int16, "1 2 -3", None),
            Ok(AttrValue::Int16(vec![1, 2, -3]))
        );
        assert_eq!(
            attr_value(&DataType::Float64, "1.5,2", Some(",")),
            Ok(AttrValue::Float64(vec![1.5, 2.0]))
        );
        assert_eq!(
            attr_value(&DataType::String, "a b", None),
            Ok(AttrValue::String(vec!["a b".into()]))
        );
        assert!(attr_value(&DataType::Int8, "300", None).is_err());
        assert!(data_type("quaternion").is_err());
    }

    #[test]
    fn arrays_select_hyperslabs_in_c_order() {
        let v = encode(&DataType::Int32, &["0", "1", "2", "3", "4", "5"]).expect("ints");
        let slab = Hyperslab::new(
            vec![
                Range {
                    start: 1,
                    count: 1,
                    stride: 1,
                },
                Range {
                    start: 0,
                    count: 2,
                    stride: 2,
                },
            ],
            &[2, 3],
        )
        .expect("fits");
        let got = v.select(&[2, 3], &slab);
        let ints: Vec<i32> = got
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(ints, [3, 5]);
        let a = arithmetic(&DataType::Float64, "10", "0.5", 3).expect("arith");
        let Values::Fixed { data, .. } = a else {
            panic!("numbers are fixed-size")
        };
        let f: Vec<f64> = data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        assert_eq!(f, [10.0, 10.5, 11.0]);
    }
}
