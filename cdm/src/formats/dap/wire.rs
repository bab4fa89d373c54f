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
    // Fixed-size values are copied at once (a big-endian Structure's fields turn one by one).
    if let Some(size) = dtype.fixed_size()
        && (little || !matches!(dtype, DataType::Structure(_)))
    {
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
    let mut out = Vec::new();
    let mut pos = 0usize;
    for _ in 0..n {
        pos = dap4_element(data, pos, dtype, little, &mut out)?;
    }
    Ok((out, pos))
}

/// Reads one element of `dtype` at `pos` of DAP4 data into `out`, canonically encoded;
/// returns where the next element starts. Strings and opaques are an 8-byte length and the
/// bytes; a Structure its fields in order; a Sequence (a CDM vlen) an 8-byte count and that many
/// elements of its base type.
fn dap4_element(
    data: &[u8],
    mut pos: usize,
    dtype: &DataType,
    little: bool,
    out: &mut Vec<u8>,
) -> Result<usize> {
    let short = || corrupt("the data is cut short");
    let count = |pos: usize| -> Result<usize> {
        let c: [u8; 8] = data
            .get(pos..pos + 8)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(short)?;
        let n = if little {
            u64::from_le_bytes(c)
        } else {
            u64::from_be_bytes(c)
        };
        usize::try_from(n).map_err(|_| corrupt("a length is too large"))
    };
    match dtype {
        DataType::String | DataType::Opaque(_) => {
            let len = count(pos)?;
            pos += 8;
            let s = data.get(pos..pos.saturating_add(len)).ok_or_else(short)?;
            crate::encoding::push_string(out, s);
            Ok(pos + len)
        }
        DataType::Structure(st) => {
            for f in &st.fields {
                for _ in 0..f.shape.iter().product::<usize>() {
                    pos = dap4_element(data, pos, &f.dtype, little, out)?;
                }
            }
            Ok(pos)
        }
        DataType::VLen(v) => {
            let n = count(pos)?;
            pos += 8;
            // Each element takes at least one byte: a count beyond the data is a lie.
            if n > data.len().saturating_sub(pos) && v.base.fixed_size() != Some(0) {
                return Err(short());
            }
            out.extend_from_slice(&(n as u64).to_le_bytes());
            for _ in 0..n {
                pos = dap4_element(data, pos, &v.base, little, out)?;
            }
            Ok(pos)
        }
        DataType::Enum(e) => dap4_element(data, pos, &e.base, little, out),
        fixed => {
            let size = fixed
                .fixed_size()
                .ok_or_else(|| corrupt("an unsized type"))?;
            let raw = data.get(pos..pos + size).ok_or_else(short)?;
            let start = out.len();
            out.extend_from_slice(raw);
            if !little {
                out[start..].reverse();
            }
            Ok(pos + size)
        }
    }
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
    members: Option<(&[Decl], bool)>,
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
    let want = Want {
        name,
        base,
        members: members.map(|(m, _)| m),
        sequence: members.is_some_and(|(_, s)| s),
        counts,
    };
    for d in &dds.decls {
        walk(d, &mut xdr, Some(&want), &mut found)?;
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

/// The variable a `.dods` response was asked for.
struct Want<'a> {
    name: &'a str,
    base: BaseType,
    members: Option<&'a [Decl]>,
    sequence: bool,
    counts: &'a [usize],
}

/// Reads the values of `d` (all of them, to stay in step with the XDR), keeping them in
/// `found` when `d` is the variable wanted.
fn walk(
    d: &Decl,
    xdr: &mut Xdr<'_>,
    want: Option<&Want<'_>>,
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
            if let Some(w) = want
                && found.is_none()
                && w.members.is_none()
                && n == w.name
                && *dtype == w.base
                && shape == w.counts
            {
                *found = Some(values);
            }
            Ok(())
        }
        Decl::Structure {
            name: n,
            members,
            dims,
        } => {
            let shape: Vec<usize> = dims.iter().map(|(_, l)| *l).collect();
            let values = xdr_structures(xdr, members, &shape)?;
            if let Some(w) = want
                && found.is_none()
                && !w.sequence
                && w.members == Some(members.as_slice())
                && n == w.name
                && shape == w.counts
            {
                *found = Some(values);
            }
            Ok(())
        }
        Decl::Grid { array, maps, .. } => {
            walk(array, xdr, want, found)?;
            for m in maps {
                walk(m, xdr, None, &mut None)?;
            }
            Ok(())
        }
        Decl::Sequence { name: n, members } => {
            let values = xdr_sequence(xdr, members)?;
            if let Some(w) = want
                && found.is_none()
                && w.sequence
                && w.members == Some(members.as_slice())
                && n == w.name
                && w.counts.is_empty()
            {
                *found = Some(values);
            }
            Ok(())
        }
    }
}

/// XDR's mark before each row of a Sequence, and after its last.
const START_OF_INSTANCE: u32 = 0x5A00_0000;
const END_OF_SEQUENCE: u32 = 0xA500_0000;

/// Reads a Sequence (each row after a start-of-instance mark, then the end-of-sequence mark)
/// into the canonical encoding of a vlen of rows: the row count, then each row's fields.
fn xdr_sequence(xdr: &mut Xdr<'_>, members: &[Decl]) -> Result<Vec<u8>> {
    let mut rows = Vec::new();
    let mut count = 0u64;
    loop {
        match xdr.u32()? {
            START_OF_INSTANCE => {
                rows.extend(xdr_structures(xdr, members, &[])?);
                count += 1;
            }
            END_OF_SEQUENCE => break,
            other => {
                return Err(corrupt(format!(
                    "a Sequence row mark of {other:08x} (neither start nor end)"
                )));
            }
        }
    }
    let mut out = count.to_le_bytes().to_vec();
    out.extend(rows);
    Ok(out)
}

/// Reads a Structure (or an array of them: one count, then each element's members in order)
/// into the canonical encoding: each element's fields in order.
fn xdr_structures(xdr: &mut Xdr<'_>, members: &[Decl], shape: &[usize]) -> Result<Vec<u8>> {
    let n: usize = shape.iter().product();
    if !shape.is_empty() {
        xdr.count(n)?;
    }
    let mut out = Vec::new();
    for _ in 0..n {
        for m in members {
            match m {
                Decl::Base { dtype, dims, .. } => {
                    let shape: Vec<usize> = dims.iter().map(|(_, l)| *l).collect();
                    out.extend(xdr_values(xdr, *dtype, &shape)?);
                }
                Decl::Structure { members, dims, .. } => {
                    let shape: Vec<usize> = dims.iter().map(|(_, l)| *l).collect();
                    out.extend(xdr_structures(xdr, members, &shape)?);
                }
                Decl::Grid { .. } | Decl::Sequence { .. } => {
                    return Err(Error::Unsupported(
                        "a Grid or Sequence inside a remote DAP2 Structure".into(),
                    ));
                }
            }
        }
    }
    Ok(out)
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
    fn structures_sequences_and_opaques_decode_in_either_byte_order() {
        let dmr = b"<Dataset name=\"x\"><Sequence name=\"t\"><Int16 name=\"a\"/><Opaque name=\"o\"/><Dim size=\"1\"/></Sequence></Dataset>";
        let ds = crate::formats::dap::dmr::parse(std::str::from_utf8(dmr).expect("utf-8"), false)
            .expect("dmr");
        let dtype = ds.variable("/t").expect("t").dtype.clone();
        // Two rows: (a=1, o=[9]) and (a=-2, o=[]), big-endian on the wire.
        let mut be = 2u64.to_be_bytes().to_vec();
        be.extend_from_slice(&1i16.to_be_bytes());
        be.extend_from_slice(&1u64.to_be_bytes());
        be.push(9);
        be.extend_from_slice(&(-2i16).to_be_bytes());
        be.extend_from_slice(&0u64.to_be_bytes());
        let mut canonical = 2u64.to_le_bytes().to_vec();
        canonical.extend_from_slice(&1i16.to_le_bytes());
        canonical.extend_from_slice(&1u64.to_le_bytes());
        canonical.push(9);
        canonical.extend_from_slice(&(-2i16).to_le_bytes());
        canonical.extend_from_slice(&0u64.to_le_bytes());
        let mut body = chunk(0, dmr);
        body.extend(chunk(1, &be));
        assert_eq!(
            decode_dap(&body, "/t", &dtype, &[1]).expect("big"),
            canonical
        );
        let mut body = chunk(4, dmr);
        body.extend(chunk(5, &canonical));
        assert_eq!(
            decode_dap(&body, "/t", &dtype, &[1]).expect("little"),
            canonical
        );
        // A row count beyond the data is cut short, not a huge allocation.
        let mut lie = u64::MAX.to_le_bytes().to_vec();
        lie.extend_from_slice(&canonical[8..]);
        let mut body = chunk(4, dmr);
        body.extend(chunk(5, &lie));
        assert!(decode_dap(&body, "/t", &dtype, &[1]).is_err());
        let mut body = chunk(4, dmr);
        body.extend(chunk(5, &canonical[..canonical.len() - 3]));
        assert!(decode_dap(&body, "/t", &dtype, &[1]).is_err());
    }

    #[test]
    fn dods_sequences_become_counted_rows() {
        let dds = "Dataset {\n    Sequence {\n        Float64 index;\n        String site;\n    } sequence;\n} obs%2Ecsv;\n";
        let members = crate::formats::dap::dap2::parse_dds(dds)
            .expect("dds")
            .decls;
        let crate::formats::dap::dap2::Decl::Sequence { members, .. } = &members[0] else {
            panic!("not a Sequence")
        };
        let mut body = format!("{dds}Data:\n").into_bytes();
        for (x, s) in [(10.0f64, "Diamond_St"), (11.5, "Kodiak")] {
            body.extend_from_slice(&START_OF_INSTANCE.to_be_bytes());
            body.extend_from_slice(&x.to_be_bytes());
            body.extend_from_slice(&(s.len() as u32).to_be_bytes());
            body.extend_from_slice(s.as_bytes());
            body.extend(std::iter::repeat_n(0u8, (4 - s.len() % 4) % 4));
        }
        body.extend_from_slice(&END_OF_SEQUENCE.to_be_bytes());
        let v = decode_dods(
            &body,
            "sequence",
            BaseType::Byte,
            Some((members.as_slice(), true)),
            &[],
        )
        .expect("decodes");
        let mut want = 2u64.to_le_bytes().to_vec();
        want.extend_from_slice(&10.0f64.to_le_bytes());
        crate::encoding::push_string(&mut want, b"Diamond_St");
        want.extend_from_slice(&11.5f64.to_le_bytes());
        crate::encoding::push_string(&mut want, b"Kodiak");
        assert_eq!(v, want);
        // Without its end mark, or with a stray mark, it is unusable.
        let cut = &body[..body.len() - 4];
        assert!(
            decode_dods(
                cut,
                "sequence",
                BaseType::Byte,
                Some((members.as_slice(), true)),
                &[]
            )
            .is_err()
        );
        let mut stray = body.clone();
        let at = dds.len() + "Data:\n".len();
        stray[at] = 0x11;
        assert!(
            decode_dods(
                &stray,
                "sequence",
                BaseType::Byte,
                Some((members.as_slice(), true)),
                &[]
            )
            .is_err()
        );
        // Asked for as a Structure, it is not there.
        assert!(
            decode_dods(
                &body,
                "sequence",
                BaseType::Byte,
                Some((members.as_slice(), false)),
                &[]
            )
            .is_err()
        );
    }

    #[test]
    fn dods_values_come_out_of_grids() {
        let mut body = b"Dataset {\n    Grid {\n      Array:\n        Int16 v[x = 2];\n      Maps:\n        Float64 x[x = 2];\n    } v;\n} d;\nData:\n".to_vec();
        for w in [2u32, 2, 0xFFFF_FFFF, 7, 2, 2] {
            body.extend_from_slice(&w.to_be_bytes());
        }
        body.extend_from_slice(&1.0f64.to_be_bytes());
        body.extend_from_slice(&2.0f64.to_be_bytes());
        let v = decode_dods(&body, "v", BaseType::Int16, None, &[2]).expect("decodes");
        assert_eq!(v, [0xFF, 0xFF, 7, 0]);
        assert!(decode_dods(&body[..body.len() - 1], "v", BaseType::Int16, None, &[2]).is_err());
        let mut long = body.clone();
        long.push(0);
        assert!(decode_dods(&long, "v", BaseType::Int16, None, &[2]).is_err());
        assert!(decode_dods(&body, "v", BaseType::Int32, None, &[2]).is_err());
        let err = b"Error {\n    code = 500;\n    message = \"boom\";\n};\n";
        let e = decode_dods(err, "v", BaseType::Int16, None, &[2]).expect_err("error body");
        assert!(e.to_string().contains("boom"), "{e}");
    }
}
