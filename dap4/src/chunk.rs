//! DAP4 chunked framing: a 4-byte header (flags, then a 24-bit big-endian length) before each
//! chunk of a `.dap` response.
//!
//! [`Chunker`] frames a stream of byte buffers without copying the large ones: a chunk goes out
//! as its header followed by slices of the buffers it was given (small pieces — the header,
//! CRCs, short buffers — are gathered into one buffer so the body is not a swarm of tiny
//! writes). [`split`] reads a framed response back, for tests and tools.

use std::collections::VecDeque;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{Error, Result};

/// Chunk flags (netcdf-c `NCD4_*_CHUNK`, netCDF-Java `ChunkInputStream`).
pub mod flags {
    /// The last chunk of the response.
    pub const END: u8 = 0x01;
    /// The chunk holds a DAP4 `<Error>` document.
    pub const ERROR: u8 = 0x02;
    /// The data is little-endian. fathom always sends little-endian and sets it on every chunk.
    pub const LITTLE_ENDIAN: u8 = 0x04;
    /// Non-standard, on the first chunk only: the data has no checksums. netcdf-c up to 4.9.2
    /// and netCDF-Java read it; netcdf-c 4.9.3 and later ignore it.
    pub const NO_CHECKSUM: u8 = 0x08;
}

/// The largest chunk the 24-bit length can describe.
pub const MAX_CHUNK: usize = 0xFF_FFFF;

/// Pieces shorter than this are copied into a shared buffer rather than sent by reference.
const GATHER_BELOW: usize = 16 * 1024;

/// A chunk header.
#[must_use]
pub fn header(flags: u8, len: usize) -> [u8; 4] {
    debug_assert!(len <= MAX_CHUNK);
    let len = (len.min(MAX_CHUNK) as u32).to_be_bytes();
    [flags, len[1], len[2], len[3]]
}

/// Frames buffers into chunks of at most `limit` bytes, queueing the framed bytes in
/// [`Chunker::ready`]. A chunk is closed only when more data arrives that does not fit, so the
/// last data chunk can carry the END flag itself.
#[derive(Debug)]
pub struct Chunker {
    limit: usize,
    pending: Vec<Bytes>,
    pending_len: usize,
    /// Framed bytes waiting to be sent.
    pub ready: VecDeque<Bytes>,
}

impl Chunker {
    /// A chunker making data chunks of at most `limit` bytes (clamped to 1..=[`MAX_CHUNK`]).
    #[must_use]
    pub fn new(limit: usize) -> Self {
        Self {
            limit: limit.clamp(1, MAX_CHUNK),
            pending: Vec::new(),
            pending_len: 0,
            ready: VecDeque::new(),
        }
    }

    /// Queues one whole chunk with `flags` (the DMR chunk, an error chunk).
    ///
    /// # Errors
    /// When `data` is longer than a chunk can be.
    pub fn whole_chunk(&mut self, flags: u8, data: Bytes) -> Result<()> {
        if data.len() > MAX_CHUNK {
            return Err(Error::Encode(format!(
                "a chunk of {} bytes is longer than DAP4 allows",
                data.len()
            )));
        }
        self.emit(flags, vec![data]);
        Ok(())
    }

    /// Adds data to the current chunk, closing chunks as they fill.
    pub fn push(&mut self, mut data: Bytes) {
        while !data.is_empty() {
            if self.pending_len == self.limit {
                self.close(flags::LITTLE_ENDIAN);
            }
            let take = (self.limit - self.pending_len).min(data.len());
            self.pending.push(data.split_to(take));
            self.pending_len += take;
        }
    }

    /// Closes the response: the current chunk (possibly empty) goes out with the END flag.
    pub fn finish(&mut self) {
        self.close(flags::LITTLE_ENDIAN | flags::END);
    }

    /// Closes the response with an error: data so far goes out, then an ERROR chunk holding
    /// `document`, which is also the last.
    pub fn fail(&mut self, document: &str) {
        if self.pending_len > 0 {
            self.close(flags::LITTLE_ENDIAN);
        }
        let mut doc = document.as_bytes();
        if doc.len() > MAX_CHUNK {
            doc = &doc[..MAX_CHUNK];
        }
        self.emit(
            flags::LITTLE_ENDIAN | flags::ERROR | flags::END,
            vec![Bytes::copy_from_slice(doc)],
        );
    }

    fn close(&mut self, flags: u8) {
        let pieces = std::mem::take(&mut self.pending);
        self.pending_len = 0;
        self.emit(flags, pieces);
    }

    fn emit(&mut self, flags: u8, pieces: Vec<Bytes>) {
        let len: usize = pieces.iter().map(Bytes::len).sum();
        let mut gathered = BytesMut::with_capacity(GATHER_BELOW);
        gathered.put_slice(&header(flags, len));
        for piece in pieces {
            if piece.len() < GATHER_BELOW {
                gathered.put_slice(&piece);
            } else {
                if !gathered.is_empty() {
                    self.ready.push_back(gathered.split().freeze());
                }
                self.ready.push_back(piece);
            }
        }
        if !gathered.is_empty() {
            self.ready.push_back(gathered.freeze());
        }
    }
}

/// One chunk of a framed response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk<'a> {
    /// Its flags.
    pub flags: u8,
    /// Its bytes.
    pub data: &'a [u8],
}

/// Splits a whole framed response into its chunks, stopping after the END chunk.
///
/// # Errors
/// When a header or a chunk is cut short, or no chunk has the END flag.
pub fn split(mut buf: &[u8]) -> Result<Vec<Chunk<'_>>> {
    let mut chunks = Vec::new();
    loop {
        let Some((head, rest)) = buf.split_first_chunk::<4>() else {
            return Err(Error::Encode("response ends inside a chunk header".into()));
        };
        let len = u32::from_be_bytes([0, head[1], head[2], head[3]]) as usize;
        let data = rest
            .get(..len)
            .ok_or_else(|| Error::Encode("response ends inside a chunk".into()))?;
        chunks.push(Chunk {
            flags: head[0],
            data,
        });
        buf = &rest[len..];
        if head[0] & flags::END != 0 {
            return Ok(chunks);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(c: &mut Chunker) -> Vec<u8> {
        c.ready.drain(..).flat_map(|b| b.to_vec()).collect()
    }

    #[test]
    fn headers_hold_flags_and_a_24_bit_length() {
        assert_eq!(header(0x05, 0x01_0203), [0x05, 0x01, 0x02, 0x03]);
        assert_eq!(header(0x04, MAX_CHUNK), [0x04, 0xff, 0xff, 0xff]);
    }

    #[test]
    fn data_is_cut_at_the_limit_and_the_last_chunk_ends() {
        let mut c = Chunker::new(10);
        c.whole_chunk(flags::LITTLE_ENDIAN, Bytes::from_static(b"<Dataset/>\r\n"))
            .expect("fits");
        c.push(Bytes::from(vec![1u8; 25]));
        c.push(Bytes::from_static(&[2, 2, 2, 2, 2]));
        c.finish();
        let wire = joined(&mut c);
        let chunks = split(&wire).expect("framed");
        let lens: Vec<_> = chunks.iter().map(|c| c.data.len()).collect();
        let flags: Vec<_> = chunks.iter().map(|c| c.flags).collect();
        assert_eq!(lens, [12, 10, 10, 10]);
        assert_eq!(flags, [4, 4, 4, 5]);
        assert_eq!(chunks[3].data, &[1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
    }

    #[test]
    fn large_buffers_go_by_reference() {
        let big = Bytes::from(vec![7u8; 100_000]);
        let mut c = Chunker::new(MAX_CHUNK);
        c.push(big.clone());
        c.finish();
        // The header alone, then the caller's buffer itself.
        assert_eq!(c.ready.len(), 2);
        assert_eq!(c.ready[0].as_ref(), &header(5, 100_000));
        assert_eq!(c.ready[1].as_ptr(), big.as_ptr());
    }

    #[test]
    fn an_error_ends_the_response() {
        let mut c = Chunker::new(100);
        c.push(Bytes::from_static(b"abc"));
        c.fail("<Error/>");
        let wire = joined(&mut c);
        let chunks = split(&wire).expect("framed");
        assert_eq!(chunks.len(), 2);
        assert_eq!(
            chunks[0],
            Chunk {
                flags: 4,
                data: b"abc"
            }
        );
        assert_eq!(
            chunks[1],
            Chunk {
                flags: 7,
                data: b"<Error/>"
            }
        );
        assert!(split(&wire[..wire.len() - 1]).is_err());
        assert!(
            c.whole_chunk(4, Bytes::from(vec![0; MAX_CHUNK + 1]))
                .is_err()
        );
    }
}
