//! Walking values in the canonical encoding (see [`DataType`]): how long an element is, where a
//! structure's field lies. Protocol encoders use this to re-encode strings, structures and vlens.

use crate::error::{Error, Result};
use crate::model::DataType;

/// Reads the little-endian `u64` length prefix at the start of `buf`.
///
/// # Errors
/// When `buf` is shorter than eight bytes.
pub fn read_len(buf: &[u8]) -> Result<u64> {
    buf.get(..8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes)
        .ok_or_else(|| Error::Corrupt("truncated length prefix".into()))
}

fn checked(len: usize, buf: &[u8]) -> Result<usize> {
    if len <= buf.len() {
        Ok(len)
    } else {
        Err(Error::Corrupt(format!(
            "element of {len} bytes in a buffer of {}",
            buf.len()
        )))
    }
}

fn prefixed_len(buf: &[u8]) -> Result<usize> {
    let n = usize::try_from(read_len(buf)?)
        .map_err(|_| Error::Corrupt("length prefix too large".into()))?;
    checked(
        n.checked_add(8)
            .ok_or_else(|| Error::Corrupt("length overflow".into()))?,
        buf,
    )
}

/// The number of bytes the first element of type `dtype` in `buf` occupies.
///
/// # Errors
/// When `buf` ends before the element does.
pub fn element_len(dtype: &DataType, buf: &[u8]) -> Result<usize> {
    if let Some(n) = dtype.fixed_size() {
        return checked(n, buf);
    }
    match dtype {
        DataType::String | DataType::Opaque(_) => prefixed_len(buf),
        DataType::VLen(v) => {
            let count = read_len(buf)?;
            let mut pos = 8usize;
            for _ in 0..count {
                pos += element_len(&v.base, &buf[pos..])?;
            }
            Ok(pos)
        }
        DataType::Structure(s) => {
            let mut pos = 0usize;
            for f in &s.fields {
                for _ in 0..f.shape.iter().product::<usize>() {
                    pos += element_len(&f.dtype, &buf[pos..])?;
                }
            }
            Ok(pos)
        }
        // Every other type has a fixed size and returned above.
        _ => Err(Error::Corrupt(format!("no element length for {dtype}"))),
    }
}

/// The byte length of `count` consecutive elements of `dtype` at the start of `buf`.
///
/// # Errors
/// When `buf` ends early.
pub fn elements_len(dtype: &DataType, count: usize, buf: &[u8]) -> Result<usize> {
    if let Some(n) = dtype.fixed_size() {
        return checked(n * count, buf);
    }
    let mut pos = 0usize;
    for _ in 0..count {
        pos += element_len(dtype, &buf[pos..])?;
    }
    Ok(pos)
}

/// Splits `buf`, which holds whole elements of `dtype`, into one slice per element.
///
/// # Errors
/// When the last element is cut short.
pub fn split_elements<'a>(dtype: &DataType, mut buf: &'a [u8]) -> Result<Vec<&'a [u8]>> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let n = element_len(dtype, buf)?;
        let (head, tail) = buf.split_at(n);
        out.push(head);
        buf = tail;
    }
    Ok(out)
}

/// The integer held in the first bytes of `bytes` as a value of the integer type `dtype` (an
/// enumeration's base type), read little-endian or in the host's order.
#[must_use]
pub fn integer_value(dtype: &DataType, bytes: &[u8; 8], little_endian: bool) -> i128 {
    let size = dtype.fixed_size().unwrap_or(8).min(8);
    let mut b = *bytes;
    if !little_endian && cfg!(target_endian = "big") {
        b[..size].reverse();
    }
    match dtype {
        DataType::Int8 => i128::from(i8::from_le_bytes([b[0]])),
        DataType::UInt8 => i128::from(b[0]),
        DataType::Int16 => i128::from(i16::from_le_bytes([b[0], b[1]])),
        DataType::UInt16 => i128::from(u16::from_le_bytes([b[0], b[1]])),
        DataType::Int32 => i128::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        DataType::UInt32 => i128::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        DataType::Int64 => i128::from(i64::from_le_bytes(b)),
        _ => i128::from(u64::from_le_bytes(b)),
    }
}

/// Appends `s` in the canonical string encoding.
pub fn push_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Field, StructureType, VLenType};
    use std::sync::Arc;

    #[test]
    fn lengths_of_strings_vlens_and_structures() {
        let mut buf = Vec::new();
        push_string(&mut buf, b"abc");
        push_string(&mut buf, b"");
        assert_eq!(element_len(&DataType::String, &buf).ok(), Some(11));
        let parts = split_elements(&DataType::String, &buf).expect("whole elements");
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1], &0u64.to_le_bytes());

        let vlen = DataType::VLen(Arc::new(VLenType {
            name: "v".into(),
            path: "/v".into(),
            base: DataType::Int16,
        }));
        let mut v = 2u64.to_le_bytes().to_vec();
        v.extend_from_slice(&[1, 0, 2, 0]);
        assert_eq!(element_len(&vlen, &v).ok(), Some(12));
        assert!(element_len(&vlen, &v[..11]).is_err());

        let s = DataType::Structure(Arc::new(StructureType {
            name: "s".into(),
            path: "/s".into(),
            fields: vec![
                Field {
                    name: "n".into(),
                    dtype: DataType::String,
                    shape: vec![2],
                },
                Field {
                    name: "x".into(),
                    dtype: DataType::Float32,
                    shape: vec![],
                },
            ],
        }));
        let mut rec = buf.clone();
        rec.extend_from_slice(&1.5f32.to_le_bytes());
        assert_eq!(element_len(&s, &rec).ok(), Some(23));
        assert_eq!(elements_len(&DataType::Int32, 3, &[0; 12]).ok(), Some(12));
        assert!(elements_len(&DataType::Int32, 4, &[0; 12]).is_err());
        assert!(read_len(&[1, 2]).is_err());
    }
}
