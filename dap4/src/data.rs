//! The `.dap` response: the DMR chunk, then every projected variable's values in chunks, each
//! top-level variable followed by its CRC32 when checksums are on.
//!
//! The values come from [`Source::read`] already in DAP4's little-endian wire form (the CDM's
//! canonical encoding: strings and opaques with 8-byte counts, structures packed, vlens as a
//! count and their elements, which is how a DAP4 `Sequence` is sent). So the encoder passes the
//! source's buffers through — sliced, not copied — while it frames them and updates the CRC.
//! Only a Structure whose fields were narrowed by the constraint is re-packed. Memory stays at
//! one chunk plus the source's read-ahead, whatever the size of the response.
//!
//! Once the DMR is out, a failure can no longer change the HTTP status: it becomes an ERROR
//! chunk with a DAP4 `<Error>` document, the last chunk of the response.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use cdm::encoding::element_len;
use cdm::{ByteStream, DataType, Hyperslab, Source};
use futures::{Stream, StreamExt};

use crate::chunk::{Chunker, flags};
use crate::constraint::{Constraint, FieldSelection, Projection};
use crate::error::{Result, error_document};

/// Bytes of data per chunk. Clients reassemble the whole response before decoding, so the
/// size only bounds what the server holds at once; 256 KiB keeps headers negligible
/// (0.0015 %) and measured as fast as 1 MiB (see `CONFORMANCE.md`).
pub const CHUNK_BYTES: usize = 256 * 1024;

/// One variable still to send.
#[derive(Debug)]
struct Pending {
    path: String,
    dtype: DataType,
    fields: FieldSelection,
    slabs: VecDeque<Hyperslab>,
    /// Canonical bytes the source owes for a fixed-size type, to catch a short read.
    expected: Option<usize>,
    /// For a char array sent as strings, the chars per string.
    string_length: Option<usize>,
}

/// The variable being sent.
struct Current {
    var: Pending,
    stream: ByteStream,
    crc: crc32fast::Hasher,
    received: usize,
    /// Turns chars into strings when the variable is a char array.
    strings: Option<StringPacker>,
}

/// Packs `len` chars at a time into DAP4 strings (8-byte little-endian count, then the text
/// without its trailing NULs), keeping a string cut between two source buffers for the next.
#[derive(Debug)]
struct StringPacker {
    len: usize,
    carry: Vec<u8>,
}

impl StringPacker {
    fn new(len: usize) -> Self {
        Self {
            len,
            carry: Vec::new(),
        }
    }

    /// The strings completed by `bytes`.
    fn pack(&mut self, bytes: &[u8]) -> Bytes {
        self.carry.extend_from_slice(bytes);
        let whole = self
            .carry
            .len()
            .checked_div(self.len)
            .map_or(0, |n| n * self.len);
        let mut out = Vec::with_capacity(whole + 8 * (whole / self.len.max(1)));
        for chars in self.carry[..whole].chunks(self.len) {
            let text = chars
                .iter()
                .rposition(|&c| c != 0)
                .map_or(&chars[..0], |last| &chars[..=last]);
            out.extend_from_slice(&(text.len() as u64).to_le_bytes());
            out.extend_from_slice(text);
        }
        self.carry.drain(..whole);
        Bytes::from(out)
    }

    /// Whether a string was left incomplete.
    fn has_leftover(&self) -> bool {
        !self.carry.is_empty()
    }
}

/// The `.dap` body for `constraint` over `source`, with `dmr` (the constraint's DMR) as its
/// first chunk.
///
/// # Errors
/// Before any byte is produced: when the DMR does not fit in one chunk or a projection does
/// not fit its variable.
pub fn response(
    source: Arc<dyn Source>,
    dmr: &str,
    constraint: &Constraint,
    checksums: bool,
) -> Result<impl Stream<Item = std::result::Result<Bytes, Infallible>> + Send + 'static> {
    let mut chunker = Chunker::new(CHUNK_BYTES);
    let mut text = String::with_capacity(dmr.len() + 2);
    text.push_str(dmr.trim_end());
    // netcdf-c overwrites the DMR chunk's last byte with a NUL, libdap drops two.
    text.push_str("\r\n");
    let first_flags = if checksums {
        flags::LITTLE_ENDIAN
    } else {
        flags::LITTLE_ENDIAN | flags::NO_CHECKSUM
    };
    chunker.whole_chunk(first_flags, Bytes::from(text))?;
    let pending = constraint
        .projections
        .iter()
        .map(plan)
        .collect::<Result<VecDeque<_>>>()?;
    let encoder = Encoder {
        source,
        pending,
        current: None,
        chunker,
        checksums,
        finished: false,
    };
    Ok(futures::stream::unfold(encoder, |mut e| async move {
        e.next().await.map(|b| (Ok(b), e))
    }))
}

/// Whether the DMR of a `.dap` response must carry `_DAP4_Checksum_CRC32` attributes, so that
/// the CRCs have to be computed before it is sent: checksums are on and a `dap4.ce` projects
/// more than one variable. netcdf-c 4.9.3 and later skip a CRC only when the attribute announces
/// it; they ask for one variable at a time (where an unannounced CRC at the end does no harm)
/// unless the user's URL holds a `dap4.ce`, and never for the whole dataset.
#[must_use]
pub fn needs_announced_checksums(constraint: &Constraint, checksums: bool) -> bool {
    checksums && !constraint.everything && constraint.projections.len() > 1
}

/// The CRC32 of each projected variable as [`response`] will send it, computed by reading the
/// values once without keeping them.
///
/// # Errors
/// When the source fails.
pub async fn checksums(source: &Arc<dyn Source>, constraint: &Constraint) -> Result<Vec<u32>> {
    let mut out = Vec::with_capacity(constraint.projections.len());
    for p in &constraint.projections {
        let var = plan(p)?;
        let mut crc = crc32fast::Hasher::new();
        let mut strings = var.string_length.map(StringPacker::new);
        for slab in &var.slabs {
            let mut stream = source.read(&var.path, slab);
            while let Some(bytes) = stream.next().await {
                let bytes = bytes?;
                match &mut strings {
                    Some(packer) => crc.update(&packer.pack(&bytes)),
                    None => crc.update(&narrow(&var.dtype, &var.fields, bytes)?),
                }
            }
        }
        out.push(crc.finalize());
    }
    Ok(out)
}

/// The exact `.dap` data size for `constraint` (as [`size_at_least`] counts it) when every
/// projected variable is of a fixed-size type; `None` when strings, opaques or vlens make it
/// depend on the values.
///
/// # Errors
/// When a projection does not fit its variable.
pub fn size_exact(constraint: &Constraint, checksums: bool) -> Result<Option<u64>> {
    for p in &constraint.projections {
        let var = plan(p)?;
        if var.string_length.is_some() || var.expected.is_none() {
            return Ok(None);
        }
    }
    size_at_least(constraint, checksums).map(Some)
}

/// Whether a whole `.dap` body is well framed and ends with a clean last chunk: no ERROR chunk
/// (a failure after the DMR was sent), nothing after the END chunk, nothing cut short.
#[must_use]
pub fn ends_cleanly(body: &[u8]) -> bool {
    let mut pos = 0usize;
    while let Some(head) = body.get(pos..pos + 4) {
        let len = usize::from(head[1]) << 16 | usize::from(head[2]) << 8 | usize::from(head[3]);
        pos += 4 + len;
        if head[0] & crate::chunk::flags::ERROR != 0 || pos > body.len() {
            return false;
        }
        if head[0] & crate::chunk::flags::END != 0 {
            return pos == body.len();
        }
    }
    false
}

/// A lower bound of the `.dap` data size for `constraint`, DMR chunk excepted: exact for
/// fixed-size types; strings, opaques and vlens count their 8-byte length prefixes only. Chunk
/// headers and CRCs included. Computed from the constraint alone, before anything is read, so a
/// response over a size limit is refused up front.
///
/// # Errors
/// When a projection does not fit its variable.
pub fn size_at_least(constraint: &Constraint, checksums: bool) -> Result<u64> {
    let mut total = 0u64;
    for p in &constraint.projections {
        let var = plan(p)?;
        let count: u64 = var.slabs.iter().map(|s| s.len() as u64).sum();
        let data = match (var.string_length, var.expected) {
            (Some(len), _) => (count / len.max(1) as u64).saturating_mul(8),
            (None, Some(n)) => n as u64,
            (None, None) => count.saturating_mul(8),
        };
        total = total.saturating_add(data);
        if checksums {
            total = total.saturating_add(4);
        }
    }
    // One 4-byte header per chunk of at most CHUNK_BYTES.
    Ok(total.saturating_add(4 * (total / CHUNK_BYTES as u64 + 1)))
}

fn plan(p: &Projection) -> Result<Pending> {
    let slabs: VecDeque<Hyperslab> = p.hyperslabs()?.into();
    let count: usize = slabs.iter().map(Hyperslab::len).sum();
    // A char array sent as strings: the source owes one byte per char.
    let expected = match p.string_length {
        Some(_) => Some(count),
        None => p.variable.dtype.fixed_size().map(|n| n * count),
    };
    Ok(Pending {
        path: p.variable.path.clone(),
        expected,
        string_length: p.string_length,
        dtype: p.variable.dtype.clone(),
        fields: p.fields.clone(),
        slabs,
    })
}

struct Encoder {
    source: Arc<dyn Source>,
    pending: VecDeque<Pending>,
    current: Option<Current>,
    chunker: Chunker,
    checksums: bool,
    finished: bool,
}

impl Encoder {
    /// The next framed bytes, or `None` after the last chunk.
    async fn next(&mut self) -> Option<Bytes> {
        loop {
            if let Some(b) = self.chunker.ready.pop_front() {
                return Some(b);
            }
            if self.finished {
                return None;
            }
            self.step().await;
        }
    }

    /// Moves the response forward by one source buffer, one variable boundary, or the end.
    async fn step(&mut self) {
        let Some(current) = &mut self.current else {
            match self.pending.pop_front() {
                Some(mut var) => {
                    let stream = match var.slabs.pop_front() {
                        Some(slab) => self.source.read(&var.path, &slab),
                        None => Box::pin(futures::stream::empty()),
                    };
                    self.current = Some(Current {
                        strings: var.string_length.map(StringPacker::new),
                        var,
                        stream,
                        crc: crc32fast::Hasher::new(),
                        received: 0,
                    });
                }
                None => {
                    self.chunker.finish();
                    self.finished = true;
                }
            }
            return;
        };
        match current.stream.next().await {
            Some(Ok(bytes)) => {
                current.received += bytes.len();
                let bytes = match &mut current.strings {
                    Some(packer) => packer.pack(&bytes),
                    None => match narrow(&current.var.dtype, &current.var.fields, bytes) {
                        Ok(b) => b,
                        Err(e) => return self.fail(&e.to_string()),
                    },
                };
                current.crc.update(&bytes);
                self.chunker.push(bytes);
            }
            Some(Err(e)) => {
                let message = format!("reading {}: {e}", current.var.path);
                self.fail(&message);
            }
            None => {
                if let Some(slab) = current.var.slabs.pop_front() {
                    current.stream = self.source.read(&current.var.path, &slab);
                    return;
                }
                let short = current
                    .var
                    .expected
                    .filter(|&expected| {
                        current.received != expected
                            || current
                                .strings
                                .as_ref()
                                .is_some_and(StringPacker::has_leftover)
                    })
                    .map(|expected| {
                        format!(
                            "reading {}: the source gave {} bytes instead of {expected}",
                            current.var.path, current.received
                        )
                    });
                if let Some(message) = short {
                    return self.fail(&message);
                }
                if self.checksums {
                    let crc = std::mem::take(&mut current.crc).finalize();
                    self.chunker
                        .push(Bytes::copy_from_slice(&crc.to_le_bytes()));
                }
                self.current = None;
            }
        }
    }

    fn fail(&mut self, message: &str) {
        self.chunker.fail(&error_document(500, message));
        self.current = None;
        self.pending.clear();
        self.finished = true;
    }
}

/// `bytes` (whole elements of `dtype`) with only the selected Structure fields kept.
fn narrow(dtype: &DataType, fields: &FieldSelection, bytes: Bytes) -> cdm::Result<Bytes> {
    if *fields == FieldSelection::All {
        return Ok(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut pos = 0;
    while pos < bytes.len() {
        pos += copy_selected(dtype, fields, &bytes[pos..], &mut out)?;
    }
    Ok(Bytes::from(out))
}

/// Copies the selected parts of the element of `dtype` at the start of `buf` to `out`;
/// returns the element's whole length.
fn copy_selected(
    dtype: &DataType,
    selection: &FieldSelection,
    buf: &[u8],
    out: &mut Vec<u8>,
) -> cdm::Result<usize> {
    match (dtype, selection) {
        (DataType::Structure(st), FieldSelection::Some(chosen)) => {
            let mut pos = 0;
            for (i, f) in st.fields.iter().enumerate() {
                let sel = chosen.iter().find(|(j, _)| *j == i).map(|(_, s)| s);
                for _ in 0..f.shape.iter().product::<usize>() {
                    let rest = buf.get(pos..).unwrap_or_default();
                    pos += match sel {
                        Some(sel) => copy_selected(&f.dtype, sel, rest, out)?,
                        None => element_len(&f.dtype, rest)?,
                    };
                }
            }
            Ok(pos)
        }
        _ => {
            let n = element_len(dtype, buf)?;
            out.extend_from_slice(&buf[..n]);
            Ok(n)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdm::{Field, StructureType};

    #[test]
    fn a_body_ends_cleanly_only_with_a_whole_end_chunk_and_no_error() {
        use crate::chunk::{flags, header};
        let chunk = |f: u8, data: &[u8]| {
            let mut c = header(f, data.len()).to_vec();
            c.extend_from_slice(data);
            c
        };
        let dmr = chunk(flags::LITTLE_ENDIAN, b"<Dataset/>\r\n");
        let data = chunk(flags::LITTLE_ENDIAN, &[1, 2, 3, 4]);
        let end = chunk(flags::LITTLE_ENDIAN | flags::END, &[5, 6]);
        let error = chunk(flags::ERROR | flags::END, b"<Error/>");
        let whole = [dmr.clone(), data.clone(), end.clone()].concat();
        assert!(ends_cleanly(&whole));
        assert!(ends_cleanly(&[dmr.clone(), end.clone()].concat()));
        assert!(!ends_cleanly(&[dmr.clone(), data.clone(), error].concat()));
        assert!(
            !ends_cleanly(&[dmr.clone(), data.clone()].concat()),
            "no END"
        );
        assert!(!ends_cleanly(&whole[..whole.len() - 1]), "cut short");
        assert!(
            !ends_cleanly(&[whole.clone(), data].concat()),
            "bytes after END"
        );
        assert!(!ends_cleanly(&[]));
    }

    #[test]
    fn chars_become_strings_across_buffers() {
        let mut packer = StringPacker::new(4);
        let mut got = packer.pack(b"ab\0\0xy").to_vec();
        assert!(packer.has_leftover());
        got.extend_from_slice(&packer.pack(b"z\0\0\0\0\0"));
        assert!(!packer.has_leftover());
        let mut want = Vec::new();
        for s in [&b"ab"[..], b"xyz", b""] {
            want.extend_from_slice(&(s.len() as u64).to_le_bytes());
            want.extend_from_slice(s);
        }
        assert_eq!(got, want);
    }

    #[test]
    fn narrowing_keeps_the_chosen_fields_in_order() {
        let inner = DataType::Structure(Arc::new(StructureType {
            name: "in_t".into(),
            path: "/in_t".into(),
            fields: vec![
                Field {
                    name: "s".into(),
                    dtype: DataType::String,
                    shape: vec![],
                },
                Field {
                    name: "k".into(),
                    dtype: DataType::Int16,
                    shape: vec![2],
                },
            ],
        }));
        let outer = DataType::Structure(Arc::new(StructureType {
            name: "out_t".into(),
            path: "/out_t".into(),
            fields: vec![
                Field {
                    name: "a".into(),
                    dtype: DataType::UInt8,
                    shape: vec![],
                },
                Field {
                    name: "in".into(),
                    dtype: inner,
                    shape: vec![],
                },
            ],
        }));
        let element = |a: u8, s: &[u8], k: [i16; 2]| {
            let mut e = vec![a];
            e.extend_from_slice(&(s.len() as u64).to_le_bytes());
            e.extend_from_slice(s);
            for x in k {
                e.extend_from_slice(&x.to_le_bytes());
            }
            e
        };
        let mut buf = element(1, b"xy", [3, -4]);
        buf.extend(element(9, b"", [5, 6]));
        // Only in.k: two Int16 per element.
        let sel = FieldSelection::Some(vec![(
            1,
            FieldSelection::Some(vec![(1, FieldSelection::All)]),
        )]);
        let got = narrow(&outer, &sel, Bytes::from(buf.clone())).expect("whole elements");
        let want: Vec<u8> = [3i16, -4, 5, 6]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        assert_eq!(got.as_ref(), want.as_slice());
        // Everything: the same buffer.
        let all = narrow(&outer, &FieldSelection::All, Bytes::from(buf.clone())).expect("ok");
        assert_eq!(all.as_ref(), buf.as_slice());
        // A cut element is an error, not a short answer.
        assert!(narrow(&outer, &sel, Bytes::from(buf[..buf.len() - 1].to_vec())).is_err());
    }
}
