//! Decoding HDF5 filter pipelines without the HDF5 library: deflate (libdeflate), shuffle,
//! fletcher32, and the registered filters real files carry — LZF (32000, h5py), Blosc (32001,
//! PyTables; through c-blosc, so every inner codec and Blosc's own shuffles), Zstandard
//! (32015), bzip2 (307), LZ4 (32004, HDF5's block framing) and bitshuffle (32008, alone or
//! with LZ4 or Zstandard). A dataset with any other filter gets no engine layout and is read
//! through the library (with the filter plugins it finds) instead.

use std::cell::RefCell;

use crate::error::{Error, Result};

/// One filter of a chunk's pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// LZF (filter 32000, h5py's `compression="lzf"`).
    Lzf,
    /// A Blosc frame (filter 32001), whatever its inner codec and shuffle.
    Blosc,
    /// A Zstandard frame (filter 32015, netCDF-C's `nc_def_var_zstandard`, hdf5plugin).
    Zstd,
    /// A bzip2 stream (filter 307).
    Bzip2,
    /// LZ4 blocks in the HDF5 LZ4 filter's framing (filter 32004).
    Lz4,
    /// Bitshuffle (filter 32008), optionally followed by LZ4 or Zstandard inside the filter.
    Bitshuffle {
        /// Bytes per element.
        elem_size: usize,
        /// Elements per block when the chunk carries no header (0: bitshuffle's default).
        block_size: usize,
        /// The codec inside the filter.
        codec: BitshuffleCodec,
    },
}

/// What bitshuffle's filter compresses its blocks with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BitshuffleCodec {
    /// Bit transposition only.
    None,
    /// LZ4 blocks.
    Lz4,
    /// Zstandard blocks.
    Zstd,
}

impl Filter {
    /// The engine's decoder for HDF5 filter `id` with client data `cd` on elements of
    /// `elem_size` bytes, when it has one.
    #[must_use]
    pub fn from_hdf5(id: i32, cd: &[u32], elem_size: usize) -> Option<Self> {
        Some(match id {
            1 => Self::Deflate,
            2 => Self::Shuffle { elem_size },
            3 => Self::Fletcher32,
            307 => Self::Bzip2,
            32000 => Self::Lzf,
            32001 => Self::Blosc,
            32004 => Self::Lz4,
            32015 => Self::Zstd,
            32008 => Self::Bitshuffle {
                elem_size: cd
                    .get(2)
                    .map_or(elem_size, |&n| usize::try_from(n).unwrap_or(elem_size)),
                block_size: cd.get(3).map_or(0, |&n| usize::try_from(n).unwrap_or(0)),
                codec: match cd.get(4).copied().unwrap_or(0) {
                    0 => BitshuffleCodec::None,
                    2 => BitshuffleCodec::Lz4,
                    3 => BitshuffleCodec::Zstd,
                    _ => return None,
                },
            },
            _ => return None,
        })
    }
}

/// The name of HDF5 filter `id` (from HDF5's registry of filter numbers), for messages.
#[must_use]
pub fn filter_name(id: i32) -> &'static str {
    match id {
        1 => "deflate",
        2 => "shuffle",
        3 => "fletcher32",
        4 => "szip",
        5 => "nbit",
        6 => "scale-offset",
        307 => "bzip2",
        32000 => "LZF",
        32001 => "Blosc",
        32002 => "MAFISC",
        32003 => "Snappy",
        32004 => "LZ4",
        32005 => "APAX",
        32006 => "CBF",
        32007 => "JPEG-XR",
        32008 => "bitshuffle",
        32009 => "SPDP",
        32010 => "LPC-Rice",
        32011 => "CCSDS-123",
        32012 => "JPEG-LS",
        32013 => "ZFP",
        32014 => "fpzip",
        32015 => "Zstandard",
        32016 => "B3D",
        32017 => "SZ",
        32018 => "FCIDECOMP",
        32019 => "JPEG",
        32020 => "VBZ",
        32022 => "FAPEC",
        32023 => "BitGroom",
        32024 => "SZ3",
        32025 => "Delta-Rice",
        32026 => "Blosc2",
        32027 => "FLAC",
        32028 => "H5Z-SPERR",
        32029 => "TERSE/PROMISE",
        _ => "an unregistered filter",
    }
}

/// Filters in the order they were applied when writing (HDF5's pipeline order).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
                Filter::Lzf => lzf_decompress(input, size_before[i])?,
                Filter::Blosc => blosc_decompress(input, size_before[i])?,
                Filter::Zstd => zstd_decompress(input, size_before[i])?,
                Filter::Bzip2 => bzip2_decompress(input, size_before[i])?,
                Filter::Lz4 => hdf5_lz4_decompress(input)?,
                Filter::Bitshuffle {
                    elem_size,
                    block_size,
                    codec,
                } => bitshuffle_decode(input, *elem_size, *block_size, *codec, size_before[i])?,
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

fn corrupt(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Corrupt(format!("{what}: {e}"))
}

/// Undoes LZF (Marc Lehmann's format, as h5py's filter writes it) into at most `expected`
/// bytes. Each control byte starts a literal run (below 32: that many plus one bytes follow)
/// or a back reference (length in the top three bits, extended by a byte when they are all
/// set; offset in the low five bits and the next byte).
fn lzf_decompress(input: &[u8], expected: usize) -> Result<Vec<u8>> {
    let bad = || Error::Corrupt("LZF data is damaged".into());
    let mut out: Vec<u8> = Vec::with_capacity(expected);
    let mut i = 0;
    while i < input.len() {
        let ctrl = usize::from(input[i]);
        i += 1;
        if ctrl < 32 {
            let run = input.get(i..i + ctrl + 1).ok_or_else(bad)?;
            out.extend_from_slice(run);
            i += ctrl + 1;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += usize::from(*input.get(i).ok_or_else(bad)?);
                i += 1;
            }
            let low = usize::from(*input.get(i).ok_or_else(bad)?);
            i += 1;
            let back = ((ctrl & 0x1f) << 8) + low + 1;
            let start = out.len().checked_sub(back).ok_or_else(bad)?;
            // The copy may overlap what it writes, so it goes byte by byte.
            for k in 0..len + 2 {
                let b = out[start + k];
                out.push(b);
            }
        }
        if out.len() > expected {
            return Err(bad());
        }
    }
    Ok(out)
}

/// Undoes one Blosc frame (c-blosc reads its own header: codec, shuffle, block sizes).
fn blosc_decompress(input: &[u8], expected: usize) -> Result<Vec<u8>> {
    // The header is checked against the buffer before c-blosc trusts it.
    let n = blosc::validate(input).map_err(|e| corrupt("Blosc", format!("{e:?}")))?;
    if n != expected {
        return Err(Error::Corrupt(format!(
            "Blosc frame holds {n} bytes, expected {expected}"
        )));
    }
    // SAFETY: `validate` checked that the header's sizes fit the buffer; `u8` has no pointers.
    unsafe { blosc::decompress_bytes::<u8>(input) }.map_err(|e| corrupt("Blosc", format!("{e:?}")))
}

/// Undoes one Zstandard frame of at most `expected` bytes.
fn zstd_decompress(input: &[u8], expected: usize) -> Result<Vec<u8>> {
    zstd::bulk::decompress(input, expected).map_err(|e| corrupt("Zstandard", e))
}

/// Undoes a bzip2 stream (one or more, as the filter may concatenate).
fn bzip2_decompress(input: &[u8], expected: usize) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::with_capacity(expected);
    bzip2::read::MultiBzDecoder::new(input)
        .take(expected as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| corrupt("bzip2", e))?;
    Ok(out)
}

/// Reads a big-endian integer of `N` bytes at `at`.
fn be<const N: usize>(input: &[u8], at: usize) -> Option<u64> {
    let bytes: [u8; N] = input.get(at..at + N)?.try_into().ok()?;
    Some(bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

/// Undoes the HDF5 LZ4 filter: an 8-byte total size and a 4-byte block size (big-endian),
/// then per block a 4-byte compressed size and the block, stored raw when it did not shrink.
fn hdf5_lz4_decompress(input: &[u8]) -> Result<Vec<u8>> {
    let bad = || Error::Corrupt("LZ4 framing is damaged".into());
    let total = usize::try_from(be::<8>(input, 0).ok_or_else(bad)?).map_err(|_| bad())?;
    let block = usize::try_from(be::<4>(input, 8).ok_or_else(bad)?).map_err(|_| bad())?;
    if block == 0 || total > input.len().saturating_mul(255).saturating_add(block) {
        return Err(bad());
    }
    let mut out = vec![0u8; total];
    let mut at = 12;
    let mut done = 0;
    while done < total {
        let this = block.min(total - done);
        let size = usize::try_from(be::<4>(input, at).ok_or_else(bad)?).map_err(|_| bad())?;
        at += 4;
        let data = input.get(at..at + size).ok_or_else(bad)?;
        at += size;
        let dest = &mut out[done..done + this];
        if size == this {
            dest.copy_from_slice(data);
        } else {
            let n = lz4_flex::block::decompress_into(data, dest).map_err(|e| corrupt("LZ4", e))?;
            if n != this {
                return Err(bad());
            }
        }
        done += this;
    }
    Ok(out)
}

/// Bitshuffle's default block: about 8 KiB of elements, a multiple of eight, at least 128.
fn bitshuffle_default_block(elem_size: usize) -> usize {
    ((8192 / elem_size.max(1)) / 8 * 8).max(128)
}

/// Undoes the bitshuffle filter into `expected` bytes. With a codec, the chunk starts with
/// the decoded size (8 bytes) and the block size in bytes (4 bytes), big-endian, and each
/// block is stored as a 4-byte compressed size and the compressed block.
fn bitshuffle_decode(
    input: &[u8],
    elem_size: usize,
    block_size: usize,
    codec: BitshuffleCodec,
    expected: usize,
) -> Result<Vec<u8>> {
    let bad = || Error::Corrupt("bitshuffle framing is damaged".into());
    if elem_size == 0 {
        return Err(bad());
    }
    if codec == BitshuffleCodec::None {
        let block = if block_size == 0 {
            bitshuffle_default_block(elem_size)
        } else {
            block_size
        };
        let mut out = vec![0u8; input.len()];
        let n = input.len() / elem_size;
        let mut e = 0;
        while e < n {
            let this = block.min(n - e) / 8 * 8;
            if this == 0 {
                break;
            }
            let range = e * elem_size..(e + this) * elem_size;
            bitunshuffle_block(&input[range.clone()], elem_size, &mut out[range]);
            e += this;
        }
        // What is left (fewer than eight elements, or a partial element) is stored as it is.
        out[e * elem_size..].copy_from_slice(&input[e * elem_size..]);
        return Ok(out);
    }
    let total = usize::try_from(be::<8>(input, 0).ok_or_else(bad)?).map_err(|_| bad())?;
    let block_bytes = usize::try_from(be::<4>(input, 8).ok_or_else(bad)?).map_err(|_| bad())?;
    if total != expected || block_bytes == 0 || block_bytes % elem_size != 0 {
        return Err(bad());
    }
    let block = block_bytes / elem_size;
    let n = total / elem_size;
    let mut out = vec![0u8; total];
    let mut scratch = vec![0u8; block_bytes];
    let mut at = 12;
    let mut e = 0;
    // Whole blocks, then one block of the remaining elements rounded down to eight.
    while e < n {
        let this = block.min(n - e) / 8 * 8;
        if this == 0 {
            break;
        }
        let bytes = this * elem_size;
        let size = usize::try_from(be::<4>(input, at).ok_or_else(bad)?).map_err(|_| bad())?;
        at += 4;
        let data = input.get(at..at + size).ok_or_else(bad)?;
        at += size;
        let shuffled = &mut scratch[..bytes];
        let got = match codec {
            BitshuffleCodec::Lz4 => {
                lz4_flex::block::decompress_into(data, shuffled).map_err(|e| corrupt("LZ4", e))?
            }
            BitshuffleCodec::Zstd | BitshuffleCodec::None => {
                zstd::bulk::decompress_to_buffer(data, shuffled)
                    .map_err(|e| corrupt("Zstandard", e))?
            }
        };
        if got != bytes {
            return Err(bad());
        }
        let range = e * elem_size..(e + this) * elem_size;
        bitunshuffle_block(&scratch[..bytes], elem_size, &mut out[range]);
        e += this;
    }
    // The last elements (fewer than eight) follow the blocks, stored as they are.
    let rest = total - e * elem_size;
    let tail = input.get(at..at + rest).ok_or_else(bad)?;
    out[e * elem_size..].copy_from_slice(tail);
    Ok(out)
}

/// Reverses bitshuffle's transposition of one block of `n` elements (`n` a multiple of 8):
/// the block holds, for bit `k` of byte `j` of the element, one row of `n` bits (row
/// `8 j + k`, least significant bit first), so bit *i* of that row is that bit of element *i*.
fn bitunshuffle_block(input: &[u8], elem_size: usize, out: &mut [u8]) {
    let n = input.len() / elem_size;
    let row = n / 8;
    out.fill(0);
    for j in 0..elem_size {
        for k in 0..8 {
            let plane = &input[(j * 8 + k) * row..(j * 8 + k + 1) * row];
            for (g, &byte) in plane.iter().enumerate() {
                if byte == 0 {
                    continue;
                }
                for bit in 0..8 {
                    if byte & (1 << bit) != 0 {
                        out[(g * 8 + bit) * elem_size + j] |= 1 << k;
                    }
                }
            }
        }
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
            // 4-byte numbers (f32, i32) are the common case: SSE2 (always present on x86_64)
            // interleaves 16 of them at a time, seven times fewer instructions than bytewise.
            #[cfg(target_arch = "x86_64")]
            let done = unshuffle4_sse2([a, b, c, d], &mut out[..whole]);
            #[cfg(not(target_arch = "x86_64"))]
            let done = 0;
            for ((((o, &w), &x), &y), &z) in out[done * 4..whole]
                .chunks_exact_mut(4)
                .zip(&a[done..])
                .zip(&b[done..])
                .zip(&c[done..])
                .zip(&d[done..])
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

/// Interleaves the four byte planes of 4-byte numbers into `out` (four times a plane's length),
/// 16 numbers at a time; returns how many numbers it wrote (a multiple of 16).
#[cfg(target_arch = "x86_64")]
fn unshuffle4_sse2(planes: [&[u8]; 4], out: &mut [u8]) -> usize {
    use std::arch::x86_64::{
        __m128i, _mm_loadu_si128, _mm_storeu_si128, _mm_unpackhi_epi8, _mm_unpackhi_epi16,
        _mm_unpacklo_epi8, _mm_unpacklo_epi16,
    };
    let [a, b, c, d] = planes;
    let mut done = 0;
    for ((((o, w), x), y), z) in out
        .chunks_exact_mut(64)
        .zip(a.chunks_exact(16))
        .zip(b.chunks_exact(16))
        .zip(c.chunks_exact(16))
        .zip(d.chunks_exact(16))
    {
        // SAFETY: SSE2 is part of the x86_64 baseline. Each load reads the 16 bytes of a
        // 16-byte chunk, and the four stores write the 64 bytes of a 64-byte chunk; the
        // unaligned load/store forms need no alignment.
        unsafe {
            let w = _mm_loadu_si128(w.as_ptr().cast::<__m128i>());
            let x = _mm_loadu_si128(x.as_ptr().cast::<__m128i>());
            let y = _mm_loadu_si128(y.as_ptr().cast::<__m128i>());
            let z = _mm_loadu_si128(z.as_ptr().cast::<__m128i>());
            let (wx_lo, wx_hi) = (_mm_unpacklo_epi8(w, x), _mm_unpackhi_epi8(w, x));
            let (yz_lo, yz_hi) = (_mm_unpacklo_epi8(y, z), _mm_unpackhi_epi8(y, z));
            let p = o.as_mut_ptr().cast::<__m128i>();
            _mm_storeu_si128(p, _mm_unpacklo_epi16(wx_lo, yz_lo));
            _mm_storeu_si128(p.add(1), _mm_unpackhi_epi16(wx_lo, yz_lo));
            _mm_storeu_si128(p.add(2), _mm_unpacklo_epi16(wx_hi, yz_hi));
            _mm_storeu_si128(p.add(3), _mm_unpackhi_epi16(wx_hi, yz_hi));
        }
        done += 16;
    }
    done
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
    fn unshuffle_of_4_byte_numbers_is_exact_past_the_vector_blocks() {
        // Lengths around the 16-number blocks, with and without a partial number at the end.
        for len in [0, 3, 4, 60, 64, 68, 127, 128, 129, 4 * 1000 + 3, 4 * 1037] {
            let data: Vec<u8> = (0..len as u32).map(|i| (i * 131 + 7) as u8).collect();
            assert_eq!(unshuffle(&shuffle(&data, 4), 4), data, "length {len}");
        }
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

    #[test]
    fn lzf_literals_and_overlapping_references_decode() {
        // "abc" as a literal run, a reference one byte back of length 5 ("ccccc"), then "d".
        let stored = [2, b'a', b'b', b'c', 0b011_00000, 0, 0, b'd'];
        assert_eq!(lzf_decompress(&stored, 9).expect("decodes"), b"abccccccd");
        // A reference before the start, a cut literal, and output past the size are errors.
        assert!(lzf_decompress(&[0b001_00000, 5], 9).is_err());
        assert!(lzf_decompress(&[5, b'a'], 9).is_err());
        assert!(lzf_decompress(&stored, 4).is_err());
    }

    #[test]
    fn hdf5_lz4_framing_with_a_raw_block() {
        let data: Vec<u8> = (0..3000u32).map(|i| (i / 7) as u8).collect();
        let noise: Vec<u8> = (0..1000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut stored = Vec::new();
        stored.extend_from_slice(&4000u64.to_be_bytes());
        stored.extend_from_slice(&3000u32.to_be_bytes());
        let c = lz4_flex::block::compress(&data);
        stored.extend_from_slice(&u32::try_from(c.len()).expect("small").to_be_bytes());
        stored.extend_from_slice(&c);
        // The last block (1000 bytes) stored raw, as the filter does when it does not shrink.
        stored.extend_from_slice(&1000u32.to_be_bytes());
        stored.extend_from_slice(&noise);
        let mut want = data.clone();
        want.extend_from_slice(&noise);
        let p = Pipeline::new(vec![Filter::Lz4]);
        assert_eq!(p.decode(&stored, 0, 4000).expect("decodes"), want);
        assert!(p.decode(&stored[..stored.len() - 1], 0, 4000).is_err());
    }

    #[test]
    fn damaged_chunks_are_errors_for_every_filter() {
        let filters = [
            Filter::Lzf,
            Filter::Blosc,
            Filter::Zstd,
            Filter::Bzip2,
            Filter::Lz4,
            Filter::Bitshuffle {
                elem_size: 4,
                block_size: 0,
                codec: BitshuffleCodec::Lz4,
            },
            Filter::Bitshuffle {
                elem_size: 4,
                block_size: 0,
                codec: BitshuffleCodec::Zstd,
            },
        ];
        let garbage: Vec<Vec<u8>> = vec![
            vec![],
            vec![0xff; 3],
            (0..200u32).map(|i| (i * 37) as u8).collect(),
            [0u8, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0x10, 0, 0, 0, 0, 9].to_vec(),
        ];
        for f in filters {
            for g in &garbage {
                let p = Pipeline::new(vec![f]);
                assert!(p.decode(g, 0, 4096).is_err(), "{f:?} on {g:?}");
            }
        }
    }

    #[test]
    fn zstd_and_bitshuffle_zstd_round_trip() {
        let data: Vec<u8> = (0..1000u32)
            .flat_map(|i| (i as f32 * 0.5).to_le_bytes())
            .collect();
        let stored = zstd::bulk::compress(&data, 3).expect("compress");
        let p = Pipeline::new(vec![Filter::Zstd]);
        assert_eq!(p.decode(&stored, 0, data.len()).expect("decodes"), data);
        // Plain bitshuffle of 1000 4-byte elements: bit rows of each block, then the tail.
        let shuffled = bitshuffle_reference(&data, 4, bitshuffle_default_block(4));
        let p = Pipeline::new(vec![Filter::Bitshuffle {
            elem_size: 4,
            block_size: 0,
            codec: BitshuffleCodec::None,
        }]);
        assert_eq!(p.decode(&shuffled, 0, data.len()).expect("decodes"), data);
    }

    /// Bitshuffle's transposition written from its definition, block by block.
    fn bitshuffle_reference(data: &[u8], s: usize, block: usize) -> Vec<u8> {
        let n = data.len() / s;
        let mut out = data.to_vec();
        let mut e = 0;
        while e < n {
            let this = block.min(n - e) / 8 * 8;
            if this == 0 {
                break;
            }
            let row = this / 8;
            let base = e * s;
            for slot in &mut out[base..base + this * s] {
                *slot = 0;
            }
            for i in 0..this {
                for j in 0..s {
                    for k in 0..8 {
                        if data[base + i * s + j] & (1 << k) != 0 {
                            out[base + (j * 8 + k) * row + i / 8] |= 1 << (i % 8);
                        }
                    }
                }
            }
            e += this;
        }
        out
    }
}
