//! Missing-value attributes in the variable's own type: the policy both DAP mappings apply to
//! a `_FillValue` or `missing_value` whose type is not the variable's.
//!
//! netCDF-3 files written by other tools carry such attributes (ERA-Interim: a `double NaN`
//! `_FillValue` on a `short`). netCDF-C's DAP4 client refuses the whole dataset for it, and its
//! DAP2 client returns memory it never set as the fill value. So, for a numeric variable:
//!
//! - a value that the variable's type holds exactly (`-32767.0` on a `short`) is sent in the
//!   variable's type;
//! - otherwise (NaN, a fraction, out of range) no value of the variable can equal it, so it
//!   masks nothing locally either: the attribute is left out, and the String attribute
//!   [`DROPPED_ATTRIBUTE`] says which one and why.
//!
//! A text `missing_value`, attributes of other variables, and other attributes are returned
//! unchanged.

use std::borrow::Cow;

use crate::model::{AttrValue, Attribute, DataType, Variable};

/// The attributes the policy applies to.
pub const MISSING_VALUE_ATTRIBUTES: [&str; 2] = ["_FillValue", "missing_value"];

/// Names the attributes left out by [`conformed_attributes`], one sentence each.
pub const DROPPED_ATTRIBUTE: &str = "_fathom_dropped";

/// One number of an attribute, integers kept exact.
#[derive(Clone, Copy, Debug)]
enum Number {
    Int(i128),
    Float(f64),
}

fn numbers(value: &AttrValue) -> Option<Vec<Number>> {
    fn ints<T: Copy + Into<i128>>(v: &[T]) -> Vec<Number> {
        v.iter().map(|&x| Number::Int(x.into())).collect()
    }
    Some(match value {
        AttrValue::Int8(v) => ints(v),
        AttrValue::UInt8(v) => ints(v),
        AttrValue::Int16(v) => ints(v),
        AttrValue::UInt16(v) => ints(v),
        AttrValue::Int32(v) => ints(v),
        AttrValue::UInt32(v) => ints(v),
        AttrValue::Int64(v) => ints(v),
        AttrValue::UInt64(v) => ints(v),
        AttrValue::Float32(v) => v.iter().map(|&x| Number::Float(f64::from(x))).collect(),
        AttrValue::Float64(v) => v.iter().map(|&x| Number::Float(x)).collect(),
        _ => return None,
    })
}

/// The integer `n` is exactly, if any.
fn as_integer(n: Number) -> Option<i128> {
    match n {
        Number::Int(i) => Some(i),
        // Exact integers only; `as` saturates, so the range is checked by the caller's
        // `try_from` after the round trip below.
        #[allow(clippy::cast_possible_truncation)]
        Number::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e38 => Some(f as i128),
        Number::Float(_) => None,
    }
}

/// `values` in the numeric type `dtype`, when every one is exactly representable there.
fn convert(values: &[Number], dtype: &DataType) -> Option<AttrValue> {
    macro_rules! int {
        ($variant:ident, $t:ty) => {
            AttrValue::$variant(
                values
                    .iter()
                    .map(|&n| <$t>::try_from(as_integer(n)?).ok())
                    .collect::<Option<Vec<_>>>()?,
            )
        };
    }
    Some(match dtype {
        DataType::Int8 => int!(Int8, i8),
        DataType::UInt8 => int!(UInt8, u8),
        DataType::Int16 => int!(Int16, i16),
        DataType::UInt16 => int!(UInt16, u16),
        DataType::Int32 => int!(Int32, i32),
        DataType::UInt32 => int!(UInt32, u32),
        DataType::Int64 => int!(Int64, i64),
        DataType::UInt64 => int!(UInt64, u64),
        #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
        DataType::Float32 => AttrValue::Float32(
            values
                .iter()
                .map(|&n| {
                    let wide = match n {
                        Number::Int(i) => {
                            let f = i as f64;
                            (f as i128 == i).then_some(f)?
                        }
                        Number::Float(f) => f,
                    };
                    let narrow = wide as f32;
                    (f64::from(narrow) == wide || wide.is_nan()).then_some(narrow)
                })
                .collect::<Option<Vec<_>>>()?,
        ),
        #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
        DataType::Float64 => AttrValue::Float64(
            values
                .iter()
                .map(|&n| match n {
                    Number::Int(i) => {
                        let f = i as f64;
                        (f as i128 == i).then_some(f)
                    }
                    Number::Float(f) => Some(f),
                })
                .collect::<Option<Vec<_>>>()?,
        ),
        _ => return None,
    })
}

/// The attributes of `var` with its `_FillValue` and `missing_value` in its own type, as the
/// module documentation says. Borrowed when nothing changes (the common case).
#[must_use]
pub fn conformed_attributes(var: &Variable) -> Cow<'_, [Attribute]> {
    if !var.dtype.is_numeric() || matches!(var.dtype, DataType::Enum(_)) {
        return Cow::Borrowed(&var.attributes);
    }
    // A text `missing_value` (fnoc1.nc has `missing_value = "-32767"`) is left as it is: no
    // client reads it as a number, and none refuses it. A `_FillValue` must be a number.
    let mismatched = |a: &Attribute| {
        MISSING_VALUE_ATTRIBUTES.contains(&a.name.as_str())
            && a.value.dtype() != var.dtype
            && (a.name == "_FillValue" || numbers(&a.value).is_some())
    };
    if !var.attributes.iter().any(mismatched) {
        return Cow::Borrowed(&var.attributes);
    }
    let mut out = Vec::with_capacity(var.attributes.len() + 1);
    let mut dropped = Vec::new();
    for a in &var.attributes {
        if !mismatched(a) {
            out.push(a.clone());
            continue;
        }
        match numbers(&a.value).and_then(|n| convert(&n, &var.dtype)) {
            Some(value) => out.push(Attribute::new(a.name.clone(), value)),
            None => dropped.push(format!(
                "{} ({} {}) is not a {} value",
                a.name,
                a.value.dtype().cdl_name(),
                describe(&a.value),
                var.dtype.cdl_name()
            )),
        }
    }
    if !dropped.is_empty() {
        out.push(Attribute::new(
            DROPPED_ATTRIBUTE,
            AttrValue::String(dropped),
        ));
    }
    Cow::Owned(out)
}

/// The values of a numeric attribute as text, for the explanation.
fn describe(value: &AttrValue) -> String {
    match numbers(value) {
        Some(n) => n
            .iter()
            .map(|x| match x {
                Number::Int(i) => i.to_string(),
                Number::Float(f) => f.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        None => "(not a number)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Storage;

    fn var(dtype: DataType, attrs: Vec<Attribute>) -> Variable {
        Variable {
            name: "v".into(),
            path: "/v".into(),
            dtype,
            dims: Vec::new(),
            attributes: attrs,
            storage: Storage::default(),
        }
    }

    #[test]
    fn exact_values_take_the_variable_type_and_others_are_dropped() {
        let v = var(
            DataType::Int16,
            vec![
                Attribute::new("_FillValue", AttrValue::Float64(vec![-32767.0])),
                Attribute::new("missing_value", AttrValue::Float64(vec![f64::NAN])),
                Attribute::new("units", AttrValue::String(vec!["K".into()])),
            ],
        );
        let got = conformed_attributes(&v);
        assert_eq!(got[0].value, AttrValue::Int16(vec![-32767]));
        assert_eq!(got[1].name, "units");
        assert_eq!(got[2].name, DROPPED_ATTRIBUTE);
        assert_eq!(
            got[2].value,
            AttrValue::String(vec![
                "missing_value (double NaN) is not a short value".into()
            ])
        );
    }

    #[test]
    fn out_of_range_fractions_and_matching_types() {
        let fill = |value| var(DataType::UInt8, vec![Attribute::new("_FillValue", value)]);
        assert_eq!(
            conformed_attributes(&fill(AttrValue::Int32(vec![255])))[0].value,
            AttrValue::UInt8(vec![255])
        );
        for bad in [
            AttrValue::Int32(vec![256]),
            AttrValue::Int8(vec![-1]),
            AttrValue::Float32(vec![1.5]),
        ] {
            assert_eq!(conformed_attributes(&fill(bad))[0].name, DROPPED_ATTRIBUTE);
        }
        let text = var(
            DataType::Int16,
            vec![Attribute::new(
                "missing_value",
                AttrValue::Char(b"-32767".to_vec()),
            )],
        );
        assert!(matches!(conformed_attributes(&text), Cow::Borrowed(_)));
        let same = fill(AttrValue::UInt8(vec![7]));
        assert!(matches!(conformed_attributes(&same), Cow::Borrowed(_)));
        // NaN is a float value; 0.1 is no f32.
        let f = var(
            DataType::Float32,
            vec![
                Attribute::new("_FillValue", AttrValue::Float64(vec![f64::NAN])),
                Attribute::new("missing_value", AttrValue::Float64(vec![0.1])),
            ],
        );
        let got = conformed_attributes(&f);
        assert!(matches!(&got[0].value, AttrValue::Float32(x) if x[0].is_nan()));
        assert_eq!(got[1].name, DROPPED_ATTRIBUTE);
    }
}
