//! Decoding HDF5 filter pipelines without the HDF5 library: deflate (libdeflate), shuffle and
//! fletcher32. A pipeline with any other filter is not [`Pipeline::supports`]-ed, and the
//! variable is read through the library instead.

use std::cell::RefCell;

use crate::error::{Error, Result};

/// One filter of a chunk's pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// zlib-wrapped deflate.
    Deflate,
    /// Byte shuffle with this element size.
    Shuffle {
        /// Bytes per element.
        elem_size: usize,
    },
    /// A trailing fletcher32 checksum, verified and stripped.
    Fletcher32,
}

/// Filters in the order they were applied when writing (HDF5's pipeline order).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pipeline {
    filters: Vec<Filter>,
}

thread_local! {
    /// libdeflate decompressors are cheap to keep and not `Sync`: one per blocking thread.
    static INFLATER: RefCell<libdeflater::Decompressor> =
        RefCell::new(libdeflater::Decompressor::new());
    /// Space for an intermediate stage, kept between chunks so it is not faulted in each time.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl Pipeline {
    /// A pipeline of `filters`, in write order.
    #[must_use]
    pub fn new(filters: Vec<Filter>) -> Self {
        Self { filters }
    }

    /// The filters, in write order.
    #[must_use]
    pub fn filters(&self) -> &[Filter] {
        &self.filters
    }

    /// Whether there is nothing to undo.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }

    /// Undoes the pipeline on one stored chunk. `mask` has bit *i* set when filter *i* was
    /// skipped for this chunk (HDF5's filter mask); `decoded_len` is the chunk's size in memory.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when a checksum does not match, deflate data is bad, or the result has
    /// the wrong size.
    pub fn decode(&self, stored: &[u8], mask: u32, decoded_len: usize) -> Result<Vec<u8>> {
        let skipped = |i: usize| i < 32 && mask & (1 << i) != 0;
        // The data's size before each filter when it was written: fletcher32 adds four bytes,
        // so a deflate applied after it inflates to more than the chunk.
        let mut size_before = Vec::with_capacity(self.filters.len());
        let mut size = decoded_len;
        for (i, filter) in self.filters.iter().enumerate() {
            size_before.push(size);
            if *filter == Filter::Fletcher32 && !skipped(i) {
                size += 4;
            }
        }
        // The common pipeline, shuffle then deflate, inflates into a per-thread scratch buffer
        // and unshuffles straight into the result: one fresh allocation per chunk, not two.
        if let [Filter::Shuffle { elem_size }, Filter::Deflate] = self.filters.as_slice()
            && mask & 0b11 == 0
        {
            return SCRATCH.with(|scratch| {
                let mut scratch = scratch.borrow_mut();
                scratch.resize(decoded_len, 0);
                let n = inflate_into(stored, &mut scratch)?;
                if n != decoded_len {
                    return Err(Error::Corrupt(format!(
                        "chunk decodes to {n} bytes, expected {decoded_len}"
                    )));
                }
                let mut out = vec![0u8; decoded_len];
                unshuffle_into(&scratch, *elem_size, &mut out);
                Ok(out)
            });
        }
        let mut data: Option<Vec<u8>> = None;
        for (i, filter) in self.filters.iter().enumerate().rev() {
            if skipped(i) {
                continue;
            }
            let input: &[u8] = data.as_deref().unwrap_or(stored);
            let output = match filter {
                Filter::Fletcher32 => verify_fletcher32(input)?.to_vec(),
                Filter::Deflate => inflate(input, size_before[i])?,
                Filter::Shuffle { elem_size } => unshuffle(input, *elem_size),
            };
            data = Some(output);
        }
        let out = data.unwrap_or_else(|| stored.to_vec());
        if out.len() != decoded_len {
            return Err(Error::Corrupt(format!(
                "chunk decodes to {} bytes, expected {decoded_len}",
                out.len()
            )));
        }
        Ok(out)
    }
}

/// Inflates zlib data whose decoded size is expected to be `expected` bytes.
fn inflate(input: &[u8], expected: usize) -> Result<Vec<u8>> {
    let mut out = vec![0u8; expected];
    let n = inflate_into(input, &mut out)?;
    out.truncate(n);
    Ok(out)
}

/// Inflates zlib data into `out`, returning the decoded length.
fn inflate_into(input: &[u8], out: &mut [u8]) -> Result<usize> {
    INFLATER.with(|d| {
        d.borrow_mut()
            .zlib_decompress(input, out)
            .map_err(|e| Error::Corrupt(format!("deflate: {e}")))
    })
}

/// Reverses HDF5's byte shuffle: the input holds byte 0 of every element, then byte 1, …;
/// bytes beyond the last whole element are stored as they are.
#[must_use]
pub fn unshuffle(input: &[u8], elem_size: usize) -> Vec<u8> {
    let mut out = vec![0u8; input.len()];
    unshuffle_into(input, elem_size, &mut out);
    out
}

/// [`unshuffle`] into `out`, which has the input's length.
fn unshuffle_into(input: &[u8], elem_size: usize, out: &mut [u8]) {
    if elem_size <= 1 || input.len() < elem_size {
        out.copy_from_slice(input);
        return;
    }
    let n = input.len() / elem_size;
    let whole = n * elem_size;
    // Zipped iterators let the compiler drop bounds checks and vectorise the common sizes.
    match elem_size {
        2 => {
            let (a, b) = input[..whole].split_at(n);
            for ((o, &x), &y) in out[..whole].chunks_exact_mut(2).zip(a).zip(b) {
                o.copy_from_slice(&[x, y]);
            }
        }
        4 => {
            let (a, rest) = input[..whole].split_at(n);
            let (b, rest) = rest.split_at(n);
            let (c, d) = rest.split_at(n);
            for ((((o, &w), &x), &y), &z) in
                out[..whole].chunks_exact_mut(4).zip(a).zip(b).zip(c).zip(d)
            {
                o.copy_from_slice(&[w, x, y, z]);
            }
        }
        8 => {
            let planes: Vec<&[u8]> = input[..whole].chunks_exact(n).collect();
            for (i, o) in out[..whole].chunks_exact_mut(8).enumerate() {
                for (k, plane) in planes.iter().enumerate() {
                    o[k] = plane[i];
                }
            }
        }
        s => {
            for (j, plane) in input[..whole].chunks_exact(n).enumerate() {
                for (i, &byte) in plane.iter().enumerate() {
                    out[i * s + j] = byte;
                }
            }
        }
    }
    out[whole..].copy_from_slice(&input[whole..]);
}

/// HDF5's fletcher32 over 16-bit big-endian words, with zero-initialised sums.
#[must_use]
pub fn fletcher32(data: &[u8]) -> u32 {
    let (mut sum1, mut sum2) = (0u32, 0u32);
    let mut words = data.chunks_exact(2);
    // Sums are folded every 360 words, as HDF5 does; additions wrap as C's unsigned ones do.
    loop {
        let mut k = 0;
        for w in words.by_ref() {
            sum1 = sum1.wrapping_add(u32::from(u16::from_be_bytes([w[0], w[1]])));
            sum2 = sum2.wrapping_add(sum1);
            k += 1;
            if k == 360 {
                break;
            }
        }
        sum1 = (sum1 & 0xffff) + (sum1 >> 16);
        sum2 = (sum2 & 0xffff) + (sum2 >> 16);
        if k < 360 {
            break;
        }
    }
    if let [last] = words.remainder() {
        sum1 = sum1.wrapping_add(u32::from(*last) << 8);
        sum2 = sum2.wrapping_add(sum1);
        sum1 = (sum1 & 0xffff) + (sum1 >> 16);
        sum2 = (sum2 & 0xffff) + (sum2 >> 16);
    }
    sum1 = (sum1 & 0xffff) + (sum1 >> 16);
    sum2 = (sum2 & 0xffff) + (sum2 >> 16);
    (sum2 << 16) | sum1
}

/// Checks the trailing checksum and returns the data without it. The checksum is stored
/// little-endian; files from old HDF5 versions stored it byte-reversed, which is also accepted.
fn verify_fletcher32(input: &[u8]) -> Result<&[u8]> {
    let Some(split) = input.len().checked_sub(4) else {
        return Err(Error::Corrupt("chunk shorter than its checksum".into()));
    };
    let (data, sum) = input.split_at(split);
    let stored = u32::from_le_bytes([sum[0], sum[1], sum[2], sum[3]]);
    let computed = fletcher32(data);
    if stored == computed || stored == computed.swap_bytes() {
        Ok(data)
    } else {
        Err(Error::Corrupt("fletcher32 checksum mismatch".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shuffle(input: &[u8], s: usize) -> Vec<u8> {
        let n = input.len() / s;
        let mut out = Vec::with_capacity(input.len());
        for j in 0..s {
            for i in 0..n {
                out.push(input[i * s + j]);
            }
        }
        out.extend_from_slice(&input[n * s..]);
        out
    }

    #[test]
    fn unshuffle_inverts_shuffle_for_every_size() {
        let data: Vec<u8> = (0..103u32).map(|i| (i * 7 + 3) as u8).collect();
        for s in [1, 2, 3, 4, 5, 8, 16] {
            assert_eq!(unshuffle(&shuffle(&data, s), s), data, "size {s}");
        }
    }

    #[test]
    fn fletcher32_follows_its_definition() {
        // Worked by hand: one word 0x0102 gives sum1 = sum2 = 258.
        assert_eq!(fletcher32(&[1, 2]), 0x0102_0102);
        // An odd byte counts as the high byte of a last word: sum1 = 258 + 768, sum2 = 258 + 1026.
        assert_eq!(fletcher32(&[1, 2, 3]), 0x0504_0402);
        // Long inputs fold without overflowing and differ when a byte changes.
        let long = vec![0xffu8; 100_001];
        let mut changed = long.clone();
        changed[50_000] = 0;
        assert_ne!(fletcher32(&long), fletcher32(&changed));
    }

    #[test]
    fn pipeline_undoes_deflate_shuffle_and_checksum() {
        use std::io::Write;
        let data: Vec<u8> = (0..4000u32)
            .flat_map(|i| (i as f32).sin().to_le_bytes())
            .collect();
        let shuffled = shuffle(&data, 4);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(4));
        z.write_all(&shuffled).expect("compress");
        let mut stored = z.finish().expect("compress");
        let sum = fletcher32(&stored);
        stored.extend_from_slice(&sum.to_le_bytes());
        let p = Pipeline::new(vec![
            Filter::Shuffle { elem_size: 4 },
            Filter::Deflate,
            Filter::Fletcher32,
        ]);
        assert_eq!(p.decode(&stored, 0, data.len()).expect("decodes"), data);

        let mut bad = stored.clone();
        bad[10] ^= 1;
        assert!(matches!(
            p.decode(&bad, 0, data.len()),
            Err(Error::Corrupt(_))
        ));
        assert!(p.decode(&stored, 0, data.len() + 1).is_err());
        // netCDF-C's order: the checksum is taken before deflate, so it is inside the stream.
        let mut with_sum = data.clone();
        with_sum.extend_from_slice(&fletcher32(&data).to_le_bytes());
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(2));
        z.write_all(&with_sum).expect("compress");
        let stored_nc = z.finish().expect("compress");
        let p_nc = Pipeline::new(vec![Filter::Fletcher32, Filter::Deflate]);
        assert_eq!(
            p_nc.decode(&stored_nc, 0, data.len()).expect("decodes"),
            data
        );

        // Filter 1 (deflate) skipped for this chunk: the stored bytes are shuffled only.
        let mut raw = shuffled.clone();
        raw.extend_from_slice(&fletcher32(&shuffled).to_le_bytes());
        assert_eq!(p.decode(&raw, 0b010, data.len()).expect("decodes"), data);
    }
}
