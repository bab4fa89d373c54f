//! The netCDF-3 header (classic CDF-1, 64-bit offset CDF-2, CDF-5), parsed with nom for what the
//! engine needs: each variable's type, dimensions, `begin` offset, and the record stride.
//!
//! The grammar is the one in the netCDF "File Format Specification"; only the layout facts are
//! kept (attribute values are skipped: the library already gave them to the model).

use nom::IResult;
use nom::bytes::streaming::take;
use nom::number::streaming::{be_u32, be_u64};

use crate::error::{Error, Result};

const NC_DIMENSION: u32 = 0x0A;
const NC_VARIABLE: u32 = 0x0B;
const NC_ATTRIBUTE: u32 = 0x0C;

/// One variable's layout facts from the header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nc3Var {
    /// The variable's name.
    pub name: String,
    /// Dimension ids.
    pub dimids: Vec<usize>,
    /// The netCDF external type code (1 byte … 11 uint64).
    pub nc_type: u32,
    /// Offset of the variable's first byte (of its first record, for record variables).
    pub begin: u64,
}

/// What the engine needs from a netCDF-3 header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nc3Header {
    /// 1, 2 or 5.
    pub version: u8,
    /// Number of records written (`None` when the file says it is being streamed).
    pub numrecs: Option<u64>,
    /// Dimension lengths by id; the record dimension has length 0.
    pub dims: Vec<u64>,
    /// Variables in header order.
    pub vars: Vec<Nc3Var>,
}

impl Nc3Header {
    /// The id of the record (unlimited) dimension, if any.
    #[must_use]
    pub fn record_dim(&self) -> Option<usize> {
        self.dims.iter().position(|&n| n == 0)
    }

    /// Whether `v` is a record variable (its first dimension is the record dimension).
    #[must_use]
    pub fn is_record(&self, v: &Nc3Var) -> bool {
        matches!((v.dimids.first(), self.record_dim()), (Some(a), Some(b)) if *a == b)
    }

    /// Bytes between consecutive records: the sum of every record variable's padded record
    /// size, except that a lone record variable is not padded.
    #[must_use]
    pub fn record_stride(&self) -> u64 {
        let record_vars: Vec<&Nc3Var> = self.vars.iter().filter(|v| self.is_record(v)).collect();
        let slice = |v: &Nc3Var| -> u64 {
            // Saturating: a damaged header's sizes then fail the layout's check, never wrap.
            let n: u64 = v.dimids[1..]
                .iter()
                .map(|&d| self.dims.get(d).copied().unwrap_or(0))
                .fold(1u64, u64::saturating_mul);
            n.saturating_mul(type_size(v.nc_type).unwrap_or(0) as u64)
        };
        if record_vars.len() == 1 {
            return slice(record_vars[0]);
        }
        record_vars
            .iter()
            .map(|v| slice(v).checked_next_multiple_of(4).unwrap_or(u64::MAX))
            .fold(0u64, u64::saturating_add)
    }
}

/// Bytes per element of a netCDF external type.
#[must_use]
pub fn type_size(nc_type: u32) -> Option<usize> {
    match nc_type {
        1 | 2 | 7 => Some(1),
        3 | 8 => Some(2),
        4 | 5 | 9 => Some(4),
        6 | 10 | 11 => Some(8),
        _ => None,
    }
}

type Res<'a, T> = IResult<&'a [u8], T>;

/// Parses the header at the start of `buf`.
///
/// # Errors
/// `Ok(None)` when `buf` ends before the header does (read more and retry);
/// [`Error::Corrupt`] when the bytes are not a netCDF-3 header.
pub fn parse(buf: &[u8]) -> Result<Option<Nc3Header>> {
    match header(buf) {
        Ok((_, h)) => Ok(Some(h)),
        Err(nom::Err::Incomplete(_)) => Ok(None),
        Err(_) => Err(Error::Corrupt("malformed netCDF-3 header".into())),
    }
}

fn fail(input: &[u8]) -> nom::Err<nom::error::Error<&[u8]>> {
    nom::Err::Failure(nom::error::Error::new(input, nom::error::ErrorKind::Verify))
}

fn header(input: &[u8]) -> Res<'_, Nc3Header> {
    let (input, magic) = take(4usize)(input)?;
    if &magic[..3] != b"CDF" || !matches!(magic[3], 1 | 2 | 5) {
        return Err(fail(input));
    }
    let version = magic[3];
    let wide = version == 5;
    let size = |i| {
        if wide {
            be_u64(i)
        } else {
            be_u32(i).map(|(r, v)| (r, u64::from(v)))
        }
    };

    let (input, numrecs) = size(input)?;
    let streaming = if wide {
        numrecs == u64::MAX
    } else {
        numrecs == u64::from(u32::MAX)
    };
    let numrecs = (!streaming).then_some(numrecs);

    // Dimensions.
    let (mut input, (tag, n)) = list_head(input, wide)?;
    if tag != 0 && tag != NC_DIMENSION {
        return Err(fail(input));
    }
    let mut dims = Vec::new();
    for _ in 0..n {
        let (i, _) = name(input, wide)?;
        let (i, len) = size(i)?;
        dims.push(len);
        input = i;
    }
    // Global attributes.
    let (mut input, ()) = att_list(input, wide)?;
    // Variables.
    let (i, (tag, n)) = list_head(input, wide)?;
    if tag != 0 && tag != NC_VARIABLE {
        return Err(fail(i));
    }
    input = i;
    let mut vars = Vec::new();
    for _ in 0..n {
        let (i, vname) = name(input, wide)?;
        let (mut i, ndims) = size(i)?;
        let mut dimids = Vec::new();
        for _ in 0..ndims {
            let (j, id) = size(i)?;
            dimids.push(usize::try_from(id).map_err(|_| fail(j))?);
            i = j;
        }
        let (i, ()) = att_list(i, wide)?;
        let (i, nc_type) = be_u32(i)?;
        let (i, _vsize) = size(i)?;
        let (i, begin) = if version == 1 {
            be_u32(i).map(|(r, v)| (r, u64::from(v)))?
        } else {
            be_u64(i)?
        };
        if type_size(nc_type).is_none() || dimids.iter().any(|&d| d >= dims.len()) {
            return Err(fail(i));
        }
        vars.push(Nc3Var {
            name: vname,
            dimids,
            nc_type,
            begin,
        });
        input = i;
    }
    Ok((
        input,
        Nc3Header {
            version,
            numrecs,
            dims,
            vars,
        },
    ))
}

/// A list's tag and element count (`ABSENT` is a zero tag and count).
fn list_head(input: &[u8], wide: bool) -> Res<'_, (u32, u64)> {
    let (input, tag) = be_u32(input)?;
    let (input, n) = if wide {
        be_u64(input)?
    } else {
        be_u32(input).map(|(r, v)| (r, u64::from(v)))?
    };
    if tag == 0 && n != 0 {
        return Err(fail(input));
    }
    Ok((input, (tag, n)))
}

/// A name: length, bytes, padding to 4.
fn name(input: &[u8], wide: bool) -> Res<'_, String> {
    let (input, len) = if wide {
        be_u64(input)?
    } else {
        be_u32(input).map(|(r, v)| (r, u64::from(v)))?
    };
    let len = usize::try_from(len).map_err(|_| fail(input))?;
    let (input, bytes) = take(len)(input)?;
    let (input, _) = take(len.next_multiple_of(4) - len)(input)?;
    Ok((input, String::from_utf8_lossy(bytes).into_owned()))
}

/// Skips an attribute list.
fn att_list(input: &[u8], wide: bool) -> Res<'_, ()> {
    let (mut input, (tag, n)) = list_head(input, wide)?;
    if tag != 0 && tag != NC_ATTRIBUTE {
        return Err(fail(input));
    }
    for _ in 0..n {
        let (i, _) = name(input, wide)?;
        let (i, nc_type) = be_u32(i)?;
        let (i, nelems) = if wide {
            be_u64(i)?
        } else {
            be_u32(i).map(|(r, v)| (r, u64::from(v)))?
        };
        let size = type_size(nc_type).ok_or_else(|| fail(i))? as u64;
        let bytes = nelems
            .checked_mul(size)
            .and_then(|b| usize::try_from(b).ok())
            .ok_or_else(|| fail(i))?;
        let (i, _) = take(bytes.next_multiple_of(4))(i)?;
        input = i;
    }
    Ok((input, ()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn be32(v: u32) -> [u8; 4] {
        v.to_be_bytes()
    }

    fn name_bytes(s: &str) -> Vec<u8> {
        let mut out = be32(s.len() as u32).to_vec();
        out.extend_from_slice(s.as_bytes());
        out.resize(4 + s.len().next_multiple_of(4), 0);
        out
    }

    /// A CDF-1 header: dims time (record), x = 3; vars t(time) short, a(x) double, r(time, x) byte.
    fn sample() -> Vec<u8> {
        let mut h = b"CDF\x01".to_vec();
        h.extend(be32(2)); // numrecs
        h.extend(be32(NC_DIMENSION));
        h.extend(be32(2));
        h.extend(name_bytes("time"));
        h.extend(be32(0));
        h.extend(name_bytes("x"));
        h.extend(be32(3));
        // One global attribute: title = "hi" (char).
        h.extend(be32(NC_ATTRIBUTE));
        h.extend(be32(1));
        h.extend(name_bytes("title"));
        h.extend(be32(2));
        h.extend(be32(2));
        h.extend(b"hi\0\0");
        h.extend(be32(NC_VARIABLE));
        h.extend(be32(3));
        for (n, dims, ty, vsize, begin) in [
            ("t", vec![0u32], 3u32, 4u32, 200u32),
            ("a", vec![1], 6, 24, 176),
            ("r", vec![0, 1], 1, 4, 204),
        ] {
            h.extend(name_bytes(n));
            h.extend(be32(dims.len() as u32));
            for d in dims {
                h.extend(be32(d));
            }
            h.extend([0u8; 8]); // no attributes
            h.extend(be32(ty));
            h.extend(be32(vsize));
            h.extend(be32(begin));
        }
        h
    }

    #[test]
    fn parses_dims_vars_offsets_and_record_stride() {
        let h = parse(&sample()).expect("valid").expect("complete");
        assert_eq!(h.version, 1);
        assert_eq!(h.numrecs, Some(2));
        assert_eq!(h.dims, vec![0, 3]);
        assert_eq!(h.record_dim(), Some(0));
        let names: Vec<_> = h.vars.iter().map(|v| (v.name.as_str(), v.begin)).collect();
        assert_eq!(names, [("t", 200), ("a", 176), ("r", 204)]);
        assert!(h.is_record(&h.vars[0]) && !h.is_record(&h.vars[1]));
        // t: 2 bytes padded to 4; r: 3 bytes padded to 4.
        assert_eq!(h.record_stride(), 8);
    }

    #[test]
    fn short_input_asks_for_more_and_garbage_is_refused() {
        let full = sample();
        assert_eq!(parse(&full[..full.len() - 3]).expect("not corrupt"), None);
        assert!(parse(b"CDF\x03....").is_err());
        assert!(parse(b"\x89HDF\r\n\x1a\n").is_err());
        let mut bad = full.clone();
        bad[8..12].copy_from_slice(&be32(0x0B)); // variable tag where dims belong
        assert!(parse(&bad).is_err());
    }
}
