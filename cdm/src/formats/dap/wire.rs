//! Decoding data responses into the canonical encoding: a DAP4 `.dap` (chunks, the DMR chunk
//! checked against what was asked, error chunks, CRC32 checksums) and a DAP2 `.dods` (the DDS
//! checked against what was asked, then XDR). Every count and length is checked: a short,
//! long or inconsistent response is an error, never values.

use crate::error::{Error, Result};
use crate::model::DataType;

use super::dap2::{BaseType, Decl};

fn corrupt(what: impl std::fmt::Display) -> Error {
    Error::Upstream(format!("the remote data response is unusable: {what}"))
}

const CHUNK_END: u8 = 1;
const CHUNK_ERROR: u8 = 2;
const CHUNK_LITTLE_ENDIAN: u8 = 4;

/// The values of the one variable `path` of type `dtype` and shape `counts` in a `.dap`
/// response, canonically encoded.
///
/// # Errors
/// [`Error::Upstream`] for an error chunk, a truncated or over-long body, a DMR whose variable
/// differs from the one asked for, or a checksum that does not match.
pub(crate) fn decode_dap(
    body: &[u8],
    path: &str,
    dtype: &DataType,
    counts: &[usize],
) -> Result<Vec<u8>> {
    let mut pos = 0usize;
    let mut first: Option<(u8, &[u8])> = None;
    let mut data = Vec::new();
    let mut ended = false;
    while pos < body.len() {
        let header = body
            .get(pos..pos + 4)
            .ok_or_else(|| corrupt("a chunk header is cut short"))?;
        let flags = header[0];
        let len =
            usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
        pos += 4;
        let chunk = body
            .get(pos..pos + len)
            .ok_or_else(|| corrupt("the response ends inside a chunk"))?;
        pos += len;
        if flags & CHUNK_ERROR != 0 {
            return Err(Error::Upstream(format!(
                "the remote server sent an error: {}",
                super::http::remote_message(chunk)
            )));
        }
        if first.is_none() {
            first = Some((flags, chunk));
        } else {
            data.extend_from_slice(chunk);
        }
        if flags & CHUNK_END != 0 {
            ended = true;
            break;
        }
    }
    let (flags, dmr) = first.ok_or_else(|| corrupt("an empty response"))?;
    if !ended {
        return Err(corrupt("the response ends before its last chunk"));
    }
    if pos != body.len() {
        return Err(corrupt("bytes after the last chunk"));
    }
    let little = flags & CHUNK_LITTLE_ENDIAN != 0;
    let text = String::from_utf8_lossy(dmr);
    let text = text.trim_end_matches(['\0', '\r', '\n']);
    let answered = super::dmr::parse(text, false)?;
    let var = answered.variable(path).ok_or_else(|| {
        corrupt(format!(
            "it does not hold {path}: the remote dataset changed since it was opened"
        ))
    })?;
    if &var.dtype != dtype || var.shape() != counts {
        return Err(corrupt(format!(
            "it describes {path} as {} {:?}, not the {dtype} {counts:?} asked for: the remote \
             dataset changed since it was opened",
            var.dtype,
            var.shape()
        )));
    }
    let n: usize = counts.iter().product();
    let (values, used) = dap4_values(&data, dtype, n, little)?;
    match data.len() - used {
        0 => {}
        4 => {
            let sent = if little {
                u32::from_le_bytes([data[used], data[used + 1], data[used + 2], data[used + 3]])
            } else {
                u32::from_be_bytes([data[used], data[used + 1], data[used + 2], data[used + 3]])
            };
            let whole = crc32fast::hash(&data[..used]);
            // Hyrax sums only the contents of strings, not their counts.
            let hyrax = (*dtype == DataType::String).then(|| {
                let mut h = crc32fast::Hasher::new();
                let mut p = 0usize;
                while p + 8 <= values.len() {
                    let l = usize::try_from(u64::from_le_bytes(
                        values[p..p + 8].try_into().unwrap_or([0; 8]),
                    ))
                    .unwrap_or(0);
                    h.update(&values[p + 8..p + 8 + l]);
                    p += 8 + l;
                }
                h.finalize()
            });
            if sent != whole && hyrax != Some(sent) {
                return Err(corrupt(format!(
                    "the checksum of {path} does not match (sent {sent:08x}, computed {whole:08x})"
                )));
            }
        }
        extra => return Err(corrupt(format!("{extra} unexpected bytes after {path}"))),
    }
    Ok(values)
}

/// `n` values of `dtype` from DAP4 data in the given byte order, canonically encoded, and the
/// number of wire bytes they took.
fn dap4_values(data: &[u8], dtype: &DataType, n: usize, little: bool) -> Result<(Vec<u8>, usize)> {
    if let Some(size) = dtype.fixed_size() {
        let len = n
            .checked_mul(size)
            .ok_or_else(|| corrupt("too many values"))?;
        let raw = data
            .get(..len)
            .ok_or_else(|| corrupt("the data is cut short"))?;
        let mut out = raw.to_vec();
        if !little && size > 1 {
            for v in out.chunks_exact_mut(size) {
                v.reverse();
            }
        }
        return Ok((out, len));
    }
    if *dtype != DataType::String {
        return Err(Error::Unsupported(format!("reading remote {dtype} values")));
    }
    let mut out = Vec::new();
    let mut pos = 0usize;
    for _ in 0..n {
        let c: [u8; 8] = data
            .get(pos..pos + 8)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| corrupt("the data is cut short"))?;
        let len = if little {
            u64::from_le_bytes(c)
        } else {
            u64::from_be_bytes(c)
        };
        let len = usize::try_from(len).map_err(|_| corrupt("a string length is too large"))?;
        pos += 8;
        let s = data
            .get(pos..pos.saturating_add(len))
            .ok_or_else(|| corrupt("the data is cut short"))?;
        crate::encoding::push_string(&mut out, s);
        pos += len;
    }
    Ok((out, pos))
}

/// The values of the top-level array (or Grid) `name` of DAP2 type `base` and shape `counts`
/// in a `.dods` response, canonically encoded.
///
/// # Errors
/// [`Error::Upstream`] for an error body, a DDS that does not describe what was asked, or XDR
/// that is cut short, inconsistent or followed by extra bytes.
pub(crate) fn decode_dods(
    body: &[u8],
    name: &str,
    base: BaseType,
    counts: &[usize],
) -> Result<Vec<u8>> {
    let head = &body[..body.len().min(16)];
    if head.starts_with(b"Error") {
        return Err(Error::Upstream(format!(
            "the remote server sent an error: {}",
            super::http::remote_message(body)
        )));
    }
    let (dds_end, data_start) =
        find_data_mark(body).ok_or_else(|| corrupt("no Data: separator after the DDS"))?;
    let dds = super::dap2::parse_dds(&String::from_utf8_lossy(&body[..dds_end]))?;
    let mut xdr = Xdr {
        buf: &body[data_start..],
        pos: 0,
    };
    let mut found = None;
    for d in &dds.decls {
        walk(d, &mut xdr, name, base, counts, &mut found)?;
    }
    if xdr.pos != xdr.buf.len() {
        return Err(corrupt("bytes after the values the DDS describes"));
    }
    found.ok_or_else(|| {
        corrupt(format!(
            "it does not hold {name} as {base:?} {counts:?}: the remote dataset changed since it \
             was opened"
        ))
    })
}

fn find_data_mark(body: &[u8]) -> Option<(usize, usize)> {
    for mark in [&b"\nData:\n"[..], &b"\nData:\r\n"[..]] {
        if let Some(i) = body.windows(mark.len()).position(|w| w == mark) {
            return Some((i + 1, i + mark.len()));
        }
    }
    None
}

struct Xdr<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Xdr<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or_else(|| corrupt("a length overflows"))?;
        let s = self
            .buf
            .get(self.pos..end)
            .ok_or_else(|| corrupt("the XDR data is cut short"))?;
        self.pos = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn count(&mut self, expected: usize) -> Result<()> {
        let c = self.u32()?;
        if usize::try_from(c).ok() == Some(expected) {
            Ok(())
        } else {
            Err(corrupt(format!(
                "an array count of {c} where the DDS says {expected}"
            )))
        }
    }
}

fn walk(
    d: &Decl,
    xdr: &mut Xdr<'_>,
    name: &str,
    base: BaseType,
    counts: &[usize],
    found: &mut Option<Vec<u8>>,
) -> Result<()> {
    match d {
        Decl::Base {
            dtype,
            name: n,
            dims,
        } => {
            let shape: Vec<usize> = dims.iter().map(|(_, l)| *l).collect();
            let values = xdr_values(xdr, *dtype, &shape)?;
            if found.is_none() && n == name && *dtype == base && shape == counts {
                *found = Some(values);
            }
            Ok(())
        }
        Decl::Structure { members, dims, .. } if dims.is_empty() => {
            for m in members {
                walk(m, xdr, "", base, counts, &mut None)?;
            }
            Ok(())
        }
        Decl::Grid { array, maps, .. } => {
            walk(array, xdr, name, base, counts, found)?;
            for m in maps {
                walk(m, xdr, "", base, counts, &mut None)?;
            }
            Ok(())
        }
        _ => Err(Error::Unsupported(
            "remote DAP2 Sequences and arrays of Structures".into(),
        )),
    }
}

/// Reads one base-typed array (or scalar, for an empty `shape`) and returns its values in the
/// canonical encoding.
fn xdr_values(xdr: &mut Xdr<'_>, t: BaseType, shape: &[usize]) -> Result<Vec<u8>> {
    let n: usize = shape.iter().product();
    let is_array = !shape.is_empty();
    let mut out = Vec::new();
    match t {
        BaseType::String | BaseType::Url => {
            if is_array {
                xdr.count(n)?;
            }
            for _ in 0..n {
                let len = usize::try_from(xdr.u32()?)
                    .map_err(|_| corrupt("a string length is too large"))?;
                let s = xdr.take(len)?.to_vec();
                xdr.take((4 - len % 4) % 4)?;
                crate::encoding::push_string(&mut out, &s);
            }
        }
        BaseType::Byte => {
            if is_array {
                xdr.count(n)?;
                xdr.count(n)?;
                out.extend_from_slice(xdr.take(n)?);
                xdr.take((4 - n % 4) % 4)?;
            } else {
                out.push(xdr.take(4)?[3]);
            }
        }
        _ => {
            if is_array {
                xdr.count(n)?;
                xdr.count(n)?;
            }
            let wire = if t == BaseType::Float64 { 8 } else { 4 };
            let raw = xdr.take(
                n.checked_mul(wire)
                    .ok_or_else(|| corrupt("too many values"))?,
            )?;
            out.reserve(n * wire);
            for v in raw.chunks_exact(wire) {
                match t {
                    BaseType::Int16 | BaseType::UInt16 => {
                        // Sent widened to 4 bytes; the low two carry the value.
                        out.extend_from_slice(&[v[3], v[2]]);
                    }
                    _ => out.extend(v.iter().rev()),
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(flags: u8, body: &[u8]) -> Vec<u8> {
        let len = body.len();
        let mut out = vec![flags, (len >> 16) as u8, (len >> 8) as u8, len as u8];
        out.extend_from_slice(body);
        out
    }

    const DMR: &[u8] =
        b"<Dataset name=\"x\"><Int16 name=\"v\"><Dim size=\"2\"/></Int16></Dataset>\r\n";

    #[test]
    fn dap_values_are_checked_and_checksummed() {
        let data = [1u8, 0, 2, 0];
        let crc = crc32fast::hash(&data).to_le_bytes();
        let mut body = chunk(4, DMR);
        let mut d = data.to_vec();
        d.extend_from_slice(&crc);
        body.extend(chunk(5, &d));
        let v = decode_dap(&body, "/v", &DataType::Int16, &[2]).expect("decodes");
        assert_eq!(v, data);
        // A flipped bit fails the checksum; a cut body, a wrong shape and a wrong type fail too.
        let mut bad = body.clone();
        let last = bad.len() - 6;
        bad[last] ^= 1;
        assert!(decode_dap(&bad, "/v", &DataType::Int16, &[2]).is_err());
        assert!(decode_dap(&body[..body.len() - 3], "/v", &DataType::Int16, &[2]).is_err());
        assert!(decode_dap(&body, "/v", &DataType::Int16, &[3]).is_err());
        assert!(decode_dap(&body, "/v", &DataType::Int32, &[2]).is_err());
        let mut err = chunk(4, DMR);
        err.extend(chunk(3, b"<Error><Message>gone</Message></Error>"));
        let e = decode_dap(&err, "/v", &DataType::Int16, &[2]).expect_err("error chunk");
        assert!(e.to_string().contains("gone"), "{e}");
    }

    #[test]
    fn dods_values_come_out_of_grids() {
        let mut body = b"Dataset {\n    Grid {\n      Array:\n        Int16 v[x = 2];\n      Maps:\n        Float64 x[x = 2];\n    } v;\n} d;\nData:\n".to_vec();
        for w in [2u32, 2, 0xFFFF_FFFF, 7, 2, 2] {
            body.extend_from_slice(&w.to_be_bytes());
        }
        body.extend_from_slice(&1.0f64.to_be_bytes());
        body.extend_from_slice(&2.0f64.to_be_bytes());
        let v = decode_dods(&body, "v", BaseType::Int16, &[2]).expect("decodes");
        assert_eq!(v, [0xFF, 0xFF, 7, 0]);
        assert!(decode_dods(&body[..body.len() - 1], "v", BaseType::Int16, &[2]).is_err());
        let mut long = body.clone();
        long.push(0);
        assert!(decode_dods(&long, "v", BaseType::Int16, &[2]).is_err());
        assert!(decode_dods(&body, "v", BaseType::Int32, &[2]).is_err());
        let err = b"Error {\n    code = 500;\n    message = \"boom\";\n};\n";
        let e = decode_dods(err, "v", BaseType::Int16, &[2]).expect_err("error body");
        assert!(e.to_string().contains("boom"), "{e}");
    }
}
