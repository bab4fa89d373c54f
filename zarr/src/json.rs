//! A JSON value that keeps its keys in the order they were added (attributes stay in file
//! order), and the conversion of CDM attribute values to JSON.

use cdm::{AttrValue, DataType};

/// A JSON value whose objects keep insertion order.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A finite number.
    Num(serde_json::Number),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<Json>),
    /// An object, keys in order.
    Obj(Vec<(String, Json)>),
    /// `NaN`, `Infinity` or `-Infinity` written bare, as Python's `json` (and so zarr-python
    /// and xarray) writes and reads non-finite attribute values.
    NonFinite(&'static str),
}

impl Json {
    /// An object from `(key, value)` pairs.
    #[must_use]
    pub fn obj<const N: usize>(pairs: [(&str, Json); N]) -> Self {
        Self::Obj(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    /// A string.
    #[must_use]
    pub fn str(s: impl Into<String>) -> Self {
        Self::Str(s.into())
    }

    /// An unsigned integer.
    #[must_use]
    pub fn uint(n: usize) -> Self {
        Self::Num((n as u64).into())
    }

    /// A list of unsigned integers.
    #[must_use]
    pub fn uints(ns: &[usize]) -> Self {
        Self::Arr(ns.iter().map(|&n| Self::uint(n)).collect())
    }

    /// A float: a number when finite, else the strings Zarr uses (`"NaN"`, `"Infinity"`,
    /// `"-Infinity"`).
    #[must_use]
    pub fn float(x: f64) -> Self {
        match serde_json::Number::from_f64(x) {
            Some(n) => Self::Num(n),
            None if x.is_nan() => Self::str("NaN"),
            None if x > 0.0 => Self::str("Infinity"),
            None => Self::str("-Infinity"),
        }
    }

    /// A float attribute value: a number, or a bare non-finite token.
    #[must_use]
    pub fn attr_float(x: f64) -> Self {
        match serde_json::Number::from_f64(x) {
            Some(n) => Self::Num(n),
            None if x.is_nan() => Self::NonFinite("NaN"),
            None if x > 0.0 => Self::NonFinite("Infinity"),
            None => Self::NonFinite("-Infinity"),
        }
    }

    /// Adds `key: value` to an object (does nothing to other values).
    pub fn push(&mut self, key: &str, value: Json) {
        if let Self::Obj(pairs) = self {
            pairs.push((key.to_owned(), value));
        }
    }

    /// The value of `key` in an object.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Self::Obj(pairs) => pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The JSON text.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::new();
        self.write(&mut out);
        out.into_bytes()
    }

    fn write(&self, out: &mut String) {
        match self {
            Self::Null => out.push_str("null"),
            Self::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Self::Num(n) => out.push_str(&n.to_string()),
            Self::Str(t) => write_str(out, t),
            Self::NonFinite(t) => out.push_str(t),
            Self::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Self::Obj(pairs) => {
                out.push('{');
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_str(out, k);
                    out.push_str(": ");
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// A JSON string literal, escaped by `serde_json`.
fn write_str(out: &mut String, s: &str) {
    // Serialising a `str` cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned()));
}

fn list<T>(v: &[T], f: impl Fn(&T) -> Json) -> Json {
    // One value is a scalar, as netCDF clients show a one-element attribute.
    match v {
        [one] => f(one),
        _ => Json::Arr(v.iter().map(f).collect()),
    }
}

/// An attribute value as JSON: numbers (a scalar for one value, a list otherwise), text as a
/// string, strings as a string or a list. `None` for values of user-defined types, which JSON
/// attributes cannot carry faithfully.
#[must_use]
pub fn attr_value(v: &AttrValue) -> Option<Json> {
    let int = |x: i64| Json::Num(x.into());
    let uint = |x: u64| Json::Num(x.into());
    Some(match v {
        AttrValue::Int8(v) => list(v, |x| int((*x).into())),
        AttrValue::UInt8(v) => list(v, |x| uint((*x).into())),
        AttrValue::Int16(v) => list(v, |x| int((*x).into())),
        AttrValue::UInt16(v) => list(v, |x| uint((*x).into())),
        AttrValue::Int32(v) => list(v, |x| int((*x).into())),
        AttrValue::UInt32(v) => list(v, |x| uint((*x).into())),
        AttrValue::Int64(v) => list(v, |x| int(*x)),
        AttrValue::UInt64(v) => list(v, |x| uint(*x)),
        AttrValue::Float32(v) => list(v, |x| Json::attr_float(f64::from(*x))),
        AttrValue::Float64(v) => list(v, |x| Json::attr_float(*x)),
        AttrValue::Char(_) => Json::str(v.as_text().unwrap_or_default().into_owned()),
        AttrValue::String(v) => list(v, |x| Json::str(x.clone())),
        // Enum values as their integers, as netCDF clients show them.
        AttrValue::Typed {
            dtype: DataType::Enum(e),
            count,
            data,
        } => {
            let size = e.base.fixed_size()?;
            let values = (0..*count)
                .map(|i| element(&e.base, data.get(i * size..(i + 1) * size)?))
                .collect::<Option<Vec<_>>>()?;
            match values.as_slice() {
                [one] => one.clone(),
                _ => Json::Arr(values),
            }
        }
        AttrValue::Typed { .. } => return None,
    })
}

/// One canonically encoded element of a numeric `dtype` as a JSON number (Zarr's `fill_value`).
#[must_use]
pub fn element(dtype: &DataType, bytes: &[u8]) -> Option<Json> {
    fn arr<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
        b.get(..N)?.try_into().ok()
    }
    let int = |x: i64| Json::Num(x.into());
    let uint = |x: u64| Json::Num(x.into());
    Some(match dtype {
        DataType::Int8 => int(i8::from_le_bytes(arr(bytes)?).into()),
        DataType::UInt8 => uint(u8::from_le_bytes(arr(bytes)?).into()),
        DataType::Int16 => int(i16::from_le_bytes(arr(bytes)?).into()),
        DataType::UInt16 => uint(u16::from_le_bytes(arr(bytes)?).into()),
        DataType::Int32 => int(i32::from_le_bytes(arr(bytes)?).into()),
        DataType::UInt32 => uint(u32::from_le_bytes(arr(bytes)?).into()),
        DataType::Int64 => int(i64::from_le_bytes(arr(bytes)?)),
        DataType::UInt64 => uint(u64::from_le_bytes(arr(bytes)?)),
        DataType::Float32 => Json::float(f64::from(f32::from_le_bytes(arr(bytes)?))),
        DataType::Float64 => Json::float(f64::from_le_bytes(arr(bytes)?)),
        DataType::Enum(e) => element(&e.base, bytes)?,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_keep_their_order_and_floats_their_zarr_spelling() {
        let mut o = Json::obj([("b", Json::uint(1)), ("a", Json::float(f64::NAN))]);
        o.push("c", Json::float(f64::NEG_INFINITY));
        o.push("d", Json::attr_float(f64::INFINITY));
        o.push("e\"", Json::str("x\ny"));
        let text = String::from_utf8(o.to_bytes()).expect("utf-8");
        assert_eq!(
            text,
            r#"{"b": 1, "a": "NaN", "c": "-Infinity", "d": Infinity, "e\"": "x\ny"}"#
        );
    }

    #[test]
    fn attributes_become_scalars_lists_and_strings() {
        assert_eq!(
            attr_value(&AttrValue::Int16(vec![3])),
            Some(Json::Num(3.into()))
        );
        assert_eq!(
            attr_value(&AttrValue::Float32(vec![0.5, 1.5])),
            Some(Json::Arr(vec![Json::float(0.5), Json::float(1.5)]))
        );
        assert_eq!(
            attr_value(&AttrValue::Char(b"K".to_vec())),
            Some(Json::str("K"))
        );
        assert_eq!(
            element(&DataType::Int16, &(-5i16).to_le_bytes()),
            Some(Json::Num((-5).into()))
        );
    }
}
