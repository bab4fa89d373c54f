//! The `.dods` encoder: the source's canonical little-endian buffers in, XDR buffers out, with
//! the exact response length known before the first byte is sent.
//!
//! Wire rules (libdap `XDRStreamMarshaller`, netCDF-C `oc2`, pydap `handlers/dap.py`):
//! big-endian; an array of numbers starts with its element count written twice (once when it
//! is empty, as libdap does); `Byte` arrays are packed and
//! padded to a multiple of 4; `Int16`/`UInt16` take 4 bytes each; strings are XDR strings (length,
//! bytes, padding) and an array of them starts with one count; an array of Structures starts with
//! one count, then each element's members in order; a Grid is its array then its maps. A scalar
//! `Byte` takes 4 bytes, and all four carry the value, because libdap and netCDF-C read the last
//! byte of the word while pydap reads the first.
//!
//! Fixed-size data streams straight from the source; anything holding strings is read ahead (it
//! is small in practice) because its length is only known from the values.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use cdm::encoding::read_len;
use cdm::{ByteStream, Hyperslab, Range, Source};
use futures::{Stream, StreamExt};

use crate::Error;
use crate::constraint::{MemberSel, Projected, VarSel};
use crate::mapping::{Dap2Dataset, Element, Node, NumKind};

/// The most canonical bytes read ahead for string-bearing variables in one response: what one
/// response may hold in memory beyond the streaming window, so 64 concurrent ones stay within
/// a few GB. Larger string data gets a 413 saying to subset it (DAP4 streams it instead).
pub const READ_AHEAD_LIMIT: usize = 64 << 20;

/// The bytes one number takes on the wire.
#[must_use]
pub fn number_width(kind: NumKind, in_array: bool) -> usize {
    match kind {
        NumKind::U8 if in_array => 1,
        NumKind::F64 => 8,
        _ => 4,
    }
}

/// Appends one canonical number (`src` holds exactly its bytes) in XDR.
pub fn put_number(kind: NumKind, src: &[u8], in_array: bool, out: &mut Vec<u8>) {
    match kind {
        NumKind::I8 => {
            let v = src.first().map_or(0, |&b| i8::from_le_bytes([b]));
            out.extend_from_slice(&i32::from(v).to_be_bytes());
        }
        NumKind::U8 => {
            let b = src.first().copied().unwrap_or(0);
            if in_array {
                out.push(b);
            } else {
                out.extend_from_slice(&[b; 4]);
            }
        }
        NumKind::I16 => {
            let v = i16::from_le_bytes([src[0], src[1]]);
            out.extend_from_slice(&i32::from(v).to_be_bytes());
        }
        NumKind::U16 => {
            let v = u16::from_le_bytes([src[0], src[1]]);
            out.extend_from_slice(&u32::from(v).to_be_bytes());
        }
        NumKind::I32 | NumKind::U32 | NumKind::F32 | NumKind::F64 => {
            out.extend(src.iter().rev());
        }
    }
}

/// Appends a run of canonical numbers of an array as XDR: the bulk path of `.dods`, written so
/// the compiler vectorises the byte swaps.
///
/// # Errors
/// When `data` does not hold whole numbers.
pub fn numbers_to_xdr(kind: NumKind, data: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
    let size = kind.size();
    if !data.len().is_multiple_of(size) {
        return Err(short());
    }
    let n = data.len() / size;
    let width = number_width(kind, true);
    if kind == NumKind::U8 {
        out.extend_from_slice(data);
        return Ok(());
    }
    // Written straight into the spare capacity: zero-filling the output first would cost a
    // pass over as many bytes as the swap itself.
    let len = n * width;
    out.reserve(len);
    let start = out.len();
    let Some(dst) = out.spare_capacity_mut().get_mut(..len) else {
        return Err(Error::Internal("the XDR buffer did not grow".into()));
    };
    match kind {
        NumKind::U8 => {}
        NumKind::I8 => {
            for (o, &b) in dst.chunks_exact_mut(4).zip(data) {
                put(o, i32::from(i8::from_le_bytes([b])).to_be_bytes());
            }
        }
        NumKind::I16 => {
            for (o, c) in dst.chunks_exact_mut(4).zip(data.chunks_exact(2)) {
                put(o, i32::from(i16::from_le_bytes([c[0], c[1]])).to_be_bytes());
            }
        }
        NumKind::U16 => {
            for (o, c) in dst.chunks_exact_mut(4).zip(data.chunks_exact(2)) {
                put(o, u32::from(u16::from_le_bytes([c[0], c[1]])).to_be_bytes());
            }
        }
        NumKind::I32 | NumKind::U32 | NumKind::F32 => {
            #[cfg(target_arch = "x86_64")]
            let done = swap_sse2::<4>(data, dst);
            #[cfg(not(target_arch = "x86_64"))]
            let done = 0;
            for (o, c) in dst[done..]
                .chunks_exact_mut(4)
                .zip(data[done..].chunks_exact(4))
            {
                put(o, [c[3], c[2], c[1], c[0]]);
            }
        }
        NumKind::F64 => {
            #[cfg(target_arch = "x86_64")]
            let done = swap_sse2::<8>(data, dst);
            #[cfg(not(target_arch = "x86_64"))]
            let done = 0;
            for (o, c) in dst[done..]
                .chunks_exact_mut(8)
                .zip(data[done..].chunks_exact(8))
            {
                put(o, [c[7], c[6], c[5], c[4], c[3], c[2], c[1], c[0]]);
            }
        }
    }
    // SAFETY: `dst` is the first `len` bytes of the spare capacity, and the code above wrote
    // all of them: for 4- and 8-byte numbers (where `len == data.len()`) the SIMD swap wrote
    // the first `done` bytes, a multiple of the width, and the loop the rest; every loop zips
    // its output groups of `width` bytes with exactly as many input numbers
    // (`data.len() / size == n`), and `put` writes every byte of a group.
    unsafe { out.set_len(start + len) };
    Ok(())
}

/// Byte-reverses every `W`-byte number (`W` 4 or 8) of `data` into `dst`, 16 bytes at a time;
/// returns how many bytes it wrote (a multiple of 16, at most `data.len()`). SSE2 has no byte
/// shuffle: the bytes of each 16-bit word are swapped with two shifts, then the words of each
/// number are reversed with the word shuffles: 7 instructions per 16 bytes (the compiler does
/// not vectorise the number-at-a-time loop for SSE2).
#[cfg(target_arch = "x86_64")]
fn swap_sse2<const W: usize>(data: &[u8], dst: &mut [std::mem::MaybeUninit<u8>]) -> usize {
    use std::arch::x86_64::{
        __m128i, _mm_loadu_si128, _mm_or_si128, _mm_shufflehi_epi16, _mm_shufflelo_epi16,
        _mm_slli_epi16, _mm_srli_epi16, _mm_storeu_si128,
    };
    let mut done = 0;
    for (o, c) in dst.chunks_exact_mut(16).zip(data.chunks_exact(16)) {
        // SAFETY: SSE2 is part of the x86_64 baseline. The load reads the 16 bytes of a
        // 16-byte input chunk and the store writes the 16 bytes of a 16-byte output chunk
        // (MaybeUninit<u8> has the size and alignment of u8); the unaligned forms need no
        // alignment.
        unsafe {
            let x = _mm_loadu_si128(c.as_ptr().cast::<__m128i>());
            let x = _mm_or_si128(_mm_slli_epi16::<8>(x), _mm_srli_epi16::<8>(x));
            // Word order within each number: 0xB1 swaps the two words of a 4-byte number,
            // 0x1B reverses the four of an 8-byte one.
            let x = if W == 8 {
                _mm_shufflehi_epi16::<0x1B>(_mm_shufflelo_epi16::<0x1B>(x))
            } else {
                _mm_shufflehi_epi16::<0xB1>(_mm_shufflelo_epi16::<0xB1>(x))
            };
            _mm_storeu_si128(o.as_mut_ptr().cast::<__m128i>(), x);
        }
        done += 16;
    }
    done
}

/// Writes one number's XDR bytes into its (uninitialised) place.
#[inline(always)]
fn put<const W: usize>(dst: &mut [std::mem::MaybeUninit<u8>], bytes: [u8; W]) {
    for (d, b) in dst.iter_mut().zip(bytes) {
        d.write(b);
    }
}

/// Appends an XDR string.
pub fn put_string(bytes: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
    out.extend_from_slice(&count32(bytes.len())?.to_be_bytes());
    out.extend_from_slice(bytes);
    out.resize(out.len() + pad4(bytes.len()), 0);
    Ok(())
}

/// Zero bytes after `n` packed bytes.
#[must_use]
pub fn pad4(n: usize) -> usize {
    (4 - n % 4) % 4
}

fn count32(n: usize) -> Result<u32, Error> {
    u32::try_from(n).map_err(|_| {
        Error::TooLarge(format!(
            "an array of {n} elements is larger than DAP2 can count (2^32 - 1)"
        ))
    })
}

/// The array header: numbers get their count twice, strings and structures once; an empty array
/// of numbers gets it once (libdap `XDRStreamMarshaller::put_vector`, which `getdap` expects;
/// netCDF-C never asks for an empty variable and pydap asks for one alone, so neither is misled).
fn put_header(element_is_number: bool, count: usize, out: &mut Vec<u8>) -> Result<(), Error> {
    let c = count32(count)?.to_be_bytes();
    out.extend_from_slice(&c);
    if element_is_number && count > 0 {
        out.extend_from_slice(&c);
    }
    Ok(())
}

/// The string a run of netCDF chars holds: trailing NULs dropped (as numpy's `S` type does).
#[must_use]
pub fn chars_to_string(chars: &[u8]) -> &[u8] {
    let end = chars.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    &chars[..end]
}

/// Appends one atomic value from the front of `data`; returns the canonical bytes consumed.
fn put_element(
    element: Element,
    data: &[u8],
    in_array: bool,
    out: &mut Vec<u8>,
) -> Result<usize, Error> {
    match element {
        Element::Number(k) => {
            let src = data.get(..k.size()).ok_or_else(short)?;
            put_number(k, src, in_array, out);
            Ok(k.size())
        }
        Element::Chars { len } => {
            let src = data.get(..len).ok_or_else(short)?;
            put_string(chars_to_string(src), out)?;
            Ok(len)
        }
        Element::String => {
            let n = usize::try_from(read_len(data)?).map_err(|_| short())?;
            let src = data.get(8..8 + n).ok_or_else(short)?;
            put_string(src, out)?;
            Ok(8 + n)
        }
    }
}

fn short() -> Error {
    Error::Source(cdm::Error::Corrupt(
        "the source returned a truncated value".into(),
    ))
}

/// The canonical length of `n` consecutive elements of `node` at the front of `data`.
fn canonical_len(node: &Node, n: usize, data: &[u8]) -> Result<usize, Error> {
    match node {
        Node::Atomic(a) => match a.element.canonical_size() {
            Some(size) => {
                let len = size * n;
                if data.len() < len {
                    return Err(short());
                }
                Ok(len)
            }
            None => {
                let mut pos = 0usize;
                for _ in 0..n {
                    let len = usize::try_from(read_len(data.get(pos..).ok_or_else(short)?)?)
                        .map_err(|_| short())?;
                    pos += 8 + len;
                }
                if data.len() < pos {
                    return Err(short());
                }
                Ok(pos)
            }
        },
        Node::Structure { members, .. } => {
            let mut pos = 0usize;
            for _ in 0..n {
                for m in members {
                    let count: usize = m.shape().iter().product();
                    pos += canonical_len(m, count, data.get(pos..).ok_or_else(short)?)?;
                }
            }
            Ok(pos)
        }
    }
}

/// The flat (C-order) indices `ranges` select in an array of `shape`.
#[must_use]
pub fn selected_indices(shape: &[usize], ranges: &[Range]) -> Vec<usize> {
    let total: usize = ranges.iter().map(|r| r.count).product();
    let mut out = Vec::with_capacity(total);
    if total == 0 {
        return out;
    }
    let mut idx = vec![0usize; ranges.len()];
    loop {
        let mut flat = 0usize;
        for (d, r) in ranges.iter().enumerate() {
            flat = flat * shape[d] + r.start + idx[d] * r.stride;
        }
        out.push(flat);
        let mut d = ranges.len();
        loop {
            if d == 0 {
                return out;
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < ranges[d].count {
                break;
            }
            idx[d] = 0;
        }
    }
}

/// Appends one member of a structure element; returns the canonical bytes consumed.
fn put_member(
    node: &Node,
    sel: &MemberSel,
    data: &[u8],
    out: &mut Vec<u8>,
) -> Result<usize, Error> {
    let shape = node.shape();
    let n: usize = shape.iter().product();
    let len = canonical_len(node, n, data)?;
    let ranges = match sel {
        MemberSel::Skip => return Ok(len),
        MemberSel::Atomic(r) => r,
        MemberSel::Structure(s) => &s.ranges,
    };
    let data = &data[..len];
    // Offsets of each element, so that strided selections can pick them.
    let mut offsets = Vec::with_capacity(n + 1);
    let mut pos = 0usize;
    let one_len = |d: &[u8]| -> Result<usize, Error> {
        match node {
            Node::Structure { .. } => canonical_len(node, 1, d),
            Node::Atomic(_) => canonical_len(node, 1, d),
        }
    };
    for _ in 0..n {
        offsets.push(pos);
        pos += one_len(&data[pos..])?;
    }
    let picked = selected_indices(&shape, ranges);
    let array = !shape.is_empty();
    match (node, sel) {
        (Node::Atomic(a), _) => {
            if array {
                put_header(matches!(a.element, Element::Number(_)), picked.len(), out)?;
            }
            for &i in &picked {
                put_element(a.element, &data[offsets[i]..], array, out)?;
            }
            if array && matches!(a.element, Element::Number(NumKind::U8)) {
                out.resize(out.len() + pad4(picked.len()), 0);
            }
        }
        (Node::Structure { members, .. }, MemberSel::Structure(s)) => {
            if array {
                put_header(false, picked.len(), out)?;
            }
            for &i in &picked {
                put_structure_element(members, &s.members, &data[offsets[i]..], out)?;
            }
        }
        _ => {}
    }
    Ok(len)
}

/// Appends one structure element's projected members; returns the canonical bytes consumed.
fn put_structure_element(
    members: &[Node],
    sels: &[MemberSel],
    data: &[u8],
    out: &mut Vec<u8>,
) -> Result<usize, Error> {
    let mut pos = 0usize;
    for (m, s) in members.iter().zip(sels) {
        pos += put_member(m, s, data.get(pos..).ok_or_else(short)?, out)?;
    }
    Ok(pos)
}

/// The XDR length of one structure element's projected members, when fixed.
fn structure_element_len(members: &[Node], sels: &[MemberSel]) -> Option<usize> {
    members
        .iter()
        .zip(sels)
        .try_fold(0usize, |acc, (m, s)| Some(acc + member_len(m, s)?))
}

fn member_len(node: &Node, sel: &MemberSel) -> Option<usize> {
    let array = !node.dims().is_empty();
    match (node, sel) {
        (_, MemberSel::Skip) => Some(0),
        (Node::Atomic(a), MemberSel::Atomic(r)) => {
            let Element::Number(k) = a.element else {
                return None;
            };
            let count: usize = r.iter().map(|r| r.count).product();
            let header = match (array, count) {
                (false, _) => 0,
                (true, 0) => 4,
                (true, _) => 8,
            };
            let body = count * number_width(k, array);
            let pad = if array && number_width(k, true) == 1 {
                pad4(count)
            } else {
                0
            };
            Some(header + body + pad)
        }
        (Node::Structure { members, .. }, MemberSel::Structure(s)) => {
            let count: usize = s.ranges.iter().map(|r| r.count).product();
            let header = if array { 4 } else { 0 };
            Some(header + count * structure_element_len(members, &s.members)?)
        }
        _ => None,
    }
}

/// How one read's values are written.
#[derive(Clone, Debug)]
enum Encoding {
    /// Atomic values.
    Atomic(Element),
    /// Structures with these members projected.
    Structure {
        members: Vec<Node>,
        sels: Vec<MemberSel>,
    },
}

/// One source read and how to write it.
#[derive(Clone, Debug)]
struct Part {
    /// The CDM variable.
    path: String,
    /// What of it, in CDM dimensions.
    slab: Hyperslab,
    /// Number of DAP2 values (structures) written.
    count: usize,
    /// Whether it is an array (has a header) rather than a scalar.
    array: bool,
    encoding: Encoding,
}

impl Part {
    /// Canonical bytes per DAP2 value, when fixed.
    fn canonical_element_len(&self) -> Option<usize> {
        match &self.encoding {
            Encoding::Atomic(e) => e.canonical_size(),
            Encoding::Structure { members, .. } => members
                .iter()
                .try_fold(0usize, |acc, m| Some(acc + nested_fixed_len(m)?)),
        }
    }

    /// The exact XDR length, when it follows from the metadata alone.
    fn fixed_xdr_len(&self) -> Option<usize> {
        match &self.encoding {
            Encoding::Atomic(Element::Number(k)) => {
                let header = match (self.array, self.count) {
                    (false, _) => 0,
                    (true, 0) => 4,
                    (true, _) => 8,
                };
                let body = self.count * number_width(*k, self.array);
                let pad = if self.array && number_width(*k, true) == 1 {
                    pad4(self.count)
                } else {
                    0
                };
                Some(header + body + pad)
            }
            Encoding::Atomic(_) => None,
            Encoding::Structure { members, sels } => {
                let header = if self.array { 4 } else { 0 };
                Some(header + self.count * structure_element_len(members, sels)?)
            }
        }
    }

    fn header(&self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        if self.array {
            let numeric = matches!(self.encoding, Encoding::Atomic(Element::Number(_)));
            put_header(numeric, self.count, &mut out)?;
        }
        Ok(out)
    }

    fn trailer(&self) -> Vec<u8> {
        match &self.encoding {
            Encoding::Atomic(Element::Number(NumKind::U8)) if self.array => {
                vec![0; pad4(self.count)]
            }
            _ => Vec::new(),
        }
    }

    /// Converts whole canonical elements to XDR.
    fn convert(&self, data: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        if let (Encoding::Atomic(Element::Number(k)), true) = (&self.encoding, self.array) {
            return numbers_to_xdr(*k, data, out);
        }
        let mut pos = 0usize;
        while pos < data.len() {
            pos += match &self.encoding {
                Encoding::Atomic(e) => put_element(*e, &data[pos..], self.array, out)?,
                Encoding::Structure { members, sels } => {
                    put_structure_element(members, sels, &data[pos..], out)?
                }
            };
        }
        Ok(())
    }
}

fn nested_fixed_len(node: &Node) -> Option<usize> {
    let n: usize = node.shape().iter().product();
    match node {
        Node::Atomic(a) => Some(a.element.canonical_size()? * n),
        Node::Structure { members, .. } => {
            let one = members
                .iter()
                .try_fold(0usize, |acc, m| Some(acc + nested_fixed_len(m)?))?;
            Some(one * n)
        }
    }
}

/// The reads a projection needs, in wire order.
fn plan(ds: &Dap2Dataset, projected: &[Projected]) -> Result<Vec<Part>, Error> {
    let mut parts = Vec::new();
    for p in projected {
        let var = ds
            .vars
            .get(p.index)
            .ok_or_else(|| Error::Internal("projection of a missing variable".into()))?;
        let slab_for = |ranges: &[Range]| -> Result<Hyperslab, Error> {
            let mut r = ranges.to_vec();
            if let Node::Atomic(a) = &var.node
                && let Element::Chars { len } = a.element
                && var.source_shape.len() > r.len()
            {
                r.push(Range::full(len));
            }
            Hyperslab::new(r, &var.source_shape).map_err(|e| Error::BadIndex(e.to_string()))
        };
        let count_of = |r: &[Range]| r.iter().map(|r| r.count).product::<usize>();
        match (&p.sel, &var.node) {
            (VarSel::Atomic(r), Node::Atomic(a)) => parts.push(Part {
                path: var.path.clone(),
                slab: slab_for(r)?,
                count: count_of(r),
                array: !a.dims.is_empty(),
                encoding: Encoding::Atomic(a.element),
            }),
            (VarSel::Structure(s), Node::Structure { members, dims, .. }) => parts.push(Part {
                path: var.path.clone(),
                slab: slab_for(&s.ranges)?,
                count: count_of(&s.ranges),
                array: !dims.is_empty(),
                encoding: Encoding::Structure {
                    members: members.clone(),
                    sels: s.members.clone(),
                },
            }),
            (VarSel::Grid(g), Node::Atomic(a)) => {
                if let Some(r) = &g.array {
                    parts.push(Part {
                        path: var.path.clone(),
                        slab: slab_for(r)?,
                        count: count_of(r),
                        array: true,
                        encoding: Encoding::Atomic(a.element),
                    });
                }
                for (m, r) in var.maps.iter().zip(&g.maps) {
                    if let Some(r) = r {
                        parts.push(Part {
                            path: m.path.clone(),
                            slab: Hyperslab::new(vec![*r], &m.array.shape())
                                .map_err(|e| Error::BadIndex(e.to_string()))?,
                            count: r.count,
                            array: true,
                            encoding: Encoding::Atomic(m.array.element),
                        });
                    }
                }
            }
            _ => {
                return Err(Error::Internal(
                    "selection does not match its variable".into(),
                ));
            }
        }
    }
    Ok(parts)
}

/// A part ready to send: either already encoded, or to stream from the source.
#[derive(Debug)]
enum Ready {
    Encoded(Bytes),
    Stream { part: Part, expected: usize },
}

/// A `.dods` response whose length is known: the DDS header, then the data.
#[derive(Debug)]
pub struct DodsResponse {
    header: Bytes,
    parts: Vec<Ready>,
    length: u64,
    source: Arc<dyn Source>,
}

impl DodsResponse {
    /// Plans the reads, reads ahead whatever holds strings, and computes the exact length.
    ///
    /// `header` is the constrained DDS (the `Data:` line is added here).
    ///
    /// # Errors
    /// A read that fails, data larger than DAP2 can count, or more string data than
    /// [`READ_AHEAD_LIMIT`].
    pub async fn prepare(
        source: Arc<dyn Source>,
        ds: &Dap2Dataset,
        projected: &[Projected],
        dds: String,
    ) -> Result<Self, Error> {
        let mut header = dds.into_bytes();
        header.extend_from_slice(b"Data:\n");
        let mut length = header.len() as u64;
        let mut ready = Vec::new();
        let mut read_ahead = 0usize;
        for part in plan(ds, projected)? {
            match part.fixed_xdr_len() {
                Some(len) => {
                    // Refused now, with a status, rather than when the stream reaches it.
                    count32(part.count)?;
                    length += len as u64;
                    ready.push(Ready::Stream {
                        part,
                        expected: len,
                    });
                }
                None => {
                    if let Some(per) = part.canonical_element_len() {
                        read_ahead = read_ahead.saturating_add(per.saturating_mul(part.count));
                        if read_ahead > READ_AHEAD_LIMIT {
                            return Err(too_much_text());
                        }
                    }
                    let mut out = part.header()?;
                    if part.count > 0 {
                        let data = cdm::read_all(source.as_ref(), &part.path, &part.slab).await?;
                        read_ahead = read_ahead.saturating_add(data.len());
                        if read_ahead > READ_AHEAD_LIMIT.saturating_mul(2) {
                            return Err(too_much_text());
                        }
                        part.convert(&data, &mut out)?;
                    }
                    out.extend_from_slice(&part.trailer());
                    length += out.len() as u64;
                    ready.push(Ready::Encoded(Bytes::from(out)));
                }
            }
        }
        Ok(Self {
            header: Bytes::from(header),
            parts: ready,
            length,
            source,
        })
    }

    /// The exact number of bytes [`Self::into_stream`] yields.
    #[must_use]
    pub fn content_length(&self) -> u64 {
        self.length
    }

    /// The response body. An `Err` item means the data could not be completed: the caller must
    /// abort the response rather than end it.
    pub fn into_stream(self) -> impl Stream<Item = Result<Bytes, Error>> + Send + 'static {
        let state = StreamState {
            pending: std::iter::once(Ready::Encoded(self.header))
                .chain(self.parts)
                .collect(),
            current: None,
            source: self.source,
            done: false,
        };
        futures::stream::unfold(state, |mut st| async move {
            let item = st.next_item().await?;
            if item.is_err() {
                st.done = true;
            }
            Some((item, st))
        })
    }
}

fn too_much_text() -> Error {
    Error::TooLarge(format!(
        "the request selects more string data than this server reads ahead ({} MiB); ask for less",
        READ_AHEAD_LIMIT >> 20
    ))
}

struct Current {
    part: Part,
    stream: ByteStream,
    expected: usize,
    produced: usize,
}

struct StreamState {
    pending: VecDeque<Ready>,
    current: Option<Current>,
    source: Arc<dyn Source>,
    done: bool,
}

impl StreamState {
    async fn next_item(&mut self) -> Option<Result<Bytes, Error>> {
        if self.done {
            return None;
        }
        loop {
            if let Some(cur) = &mut self.current {
                match cur.stream.next().await {
                    Some(Ok(buf)) => {
                        let mut out = Vec::with_capacity(buf.len() * 2);
                        if let Err(e) = cur.part.convert(&buf, &mut out) {
                            return Some(Err(e));
                        }
                        cur.produced += out.len();
                        if cur.produced > cur.expected {
                            return Some(Err(mismatch(&cur.part.path)));
                        }
                        if out.is_empty() {
                            continue;
                        }
                        return Some(Ok(Bytes::from(out)));
                    }
                    Some(Err(e)) => return Some(Err(e.into())),
                    None => {
                        let trailer = cur.part.trailer();
                        cur.produced += trailer.len();
                        let complete = cur.produced == cur.expected;
                        let path = cur.part.path.clone();
                        self.current = None;
                        if !complete {
                            return Some(Err(mismatch(&path)));
                        }
                        if !trailer.is_empty() {
                            return Some(Ok(Bytes::from(trailer)));
                        }
                    }
                }
                continue;
            }
            match self.pending.pop_front()? {
                Ready::Encoded(b) => return Some(Ok(b)),
                Ready::Stream { part, expected } => {
                    let header = match part.header() {
                        Ok(h) => h,
                        Err(e) => return Some(Err(e)),
                    };
                    let stream: ByteStream = if part.count == 0 {
                        Box::pin(futures::stream::empty())
                    } else {
                        self.source.read(&part.path, &part.slab)
                    };
                    self.current = Some(Current {
                        part,
                        stream,
                        expected,
                        produced: header.len(),
                    });
                    if !header.is_empty() {
                        return Some(Ok(Bytes::from(header)));
                    }
                }
            }
        }
    }
}

fn mismatch(path: &str) -> Error {
    Error::Source(cdm::Error::Corrupt(format!(
        "the source returned a different amount of data than the metadata of {path} promises"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_numbers_match_one_by_one() {
        let data: Vec<u8> = (0..72u8).map(|b| b.wrapping_mul(37)).collect();
        for kind in [
            NumKind::I8,
            NumKind::U8,
            NumKind::I16,
            NumKind::U16,
            NumKind::I32,
            NumKind::U32,
            NumKind::F32,
            NumKind::F64,
        ] {
            // Every length up to 72 bytes: whole 16-byte blocks (the SIMD path) and the rest.
            for len in (0..=data.len()).step_by(kind.size()) {
                // Appended after what the buffer already holds (the count words), as in a
                // response.
                let mut bulk = vec![9, 8, 7];
                numbers_to_xdr(kind, &data[..len], &mut bulk).expect("whole numbers");
                let mut single = vec![9, 8, 7];
                for c in data[..len].chunks_exact(kind.size()) {
                    put_number(kind, c, true, &mut single);
                }
                assert_eq!(bulk, single, "{kind:?} of {len} bytes");
            }
            let mut empty = vec![1];
            numbers_to_xdr(kind, &[], &mut empty).expect("no numbers");
            assert_eq!(empty, [1], "{kind:?}");
        }
        assert!(numbers_to_xdr(NumKind::F64, &data[..7], &mut Vec::new()).is_err());
    }

    #[test]
    fn numbers_follow_the_dap2_widths() {
        let mut out = Vec::new();
        put_number(NumKind::I16, &(-2i16).to_le_bytes(), true, &mut out);
        assert_eq!(out, [0xff, 0xff, 0xff, 0xfe]);
        out.clear();
        put_number(NumKind::U16, &65535u16.to_le_bytes(), true, &mut out);
        assert_eq!(out, [0, 0, 0xff, 0xff]);
        out.clear();
        put_number(NumKind::I8, &[0xc8], false, &mut out);
        assert_eq!(out, (-56i32).to_be_bytes());
        out.clear();
        // Signed bytes travel as Int16: four bytes each, in arrays too.
        put_number(NumKind::I8, &[0x80], true, &mut out);
        assert_eq!(out, (-128i32).to_be_bytes());
        out.clear();
        put_number(NumKind::U8, &[0xc8], false, &mut out);
        assert_eq!(out, [0xc8; 4]);
        out.clear();
        put_number(NumKind::F64, &1.0f64.to_le_bytes(), true, &mut out);
        assert_eq!(out, 1.0f64.to_be_bytes());
    }

    #[test]
    fn strings_are_padded_and_chars_trimmed() {
        let mut out = Vec::new();
        put_string(b"abcde", &mut out).expect("fits");
        assert_eq!(out, b"\0\0\0\x05abcde\0\0\0");
        assert_eq!(chars_to_string(b"ab\0\0"), b"ab");
        assert_eq!(chars_to_string(b"\0\0"), b"");
    }

    #[test]
    fn strided_selections_pick_c_order_indices() {
        let r = |start, count, stride| Range {
            start,
            count,
            stride,
        };
        assert_eq!(
            selected_indices(&[3, 4], &[r(0, 2, 2), r(1, 2, 2)]),
            vec![1, 3, 9, 11]
        );
        assert!(selected_indices(&[3, 0], &[r(0, 3, 1), r(0, 0, 1)]).is_empty());
    }
}
