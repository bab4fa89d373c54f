//! The read engine: reads variables without the netCDF / HDF5 library lock.
//!
//! The libraries are used once per file, at open, to learn where each variable's bytes are
//! ([`layout::ChunkLayout`]: the HDF5 chunk index, contiguous offsets, the netCDF-3 header's
//! offsets and record stride, the filter pipeline). A read then:
//!
//! 1. cuts the hyperslab into *pieces* of about [`PIECE_BYTES`] of output, aligned to chunk
//!    boundaries, in C order;
//! 2. for each piece, finds the chunks it touches, fetches the missing ones with positional reads
//!    (nearby ranges coalesced), decodes them on the blocking pool in parallel (bounded by the
//!    number of cores), and keeps them in the shared [`cache::ChunkCache`];
//! 3. copies the selected elements out of the chunks — or, when a piece is exactly one whole
//!    chunk, hands out the cached buffer itself without copying;
//! 4. yields the pieces in order, at most [`READ_AHEAD`] in flight, so memory stays bounded and a
//!    slow or departed client stops the reads.

pub mod cache;
pub mod filters;
pub mod hdf5;
pub mod layout;
pub mod nc3;
pub mod storage;

use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};

use crate::error::{Error, Result};
use crate::hyperslab::{Hyperslab, Range};
use crate::source::ByteStream;
use cache::{ChunkCache, ChunkKey};
use layout::{ChunkLayout, ChunkLoc};
use storage::Storage;

/// Output bytes per piece.
pub const PIECE_BYTES: usize = 1 << 20;
/// Pieces assembled ahead of the consumer: with [`PIECE_BYTES`], what one response holds at
/// most besides the shared cache (4 MiB), so memory does not grow with the response.
pub const READ_AHEAD: usize = 4;

/// Decodes running at once: one per core and one more, so a decode waiting on its read does not
/// leave a core idle (measured: 2 slots 0.23 s, 3 slots 0.21 s for the 187 MB `x_wind` on two
/// cores, cold).
static DECODE_SLOTS: LazyLock<tokio::sync::Semaphore> = LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()) + 1)
});

/// One file as the engine sees it: its bytes, its identity in the cache.
#[derive(Debug)]
pub struct EngineFile {
    /// The file's bytes.
    pub storage: Arc<dyn Storage>,
    /// The shared chunk cache.
    pub cache: ChunkCache,
    /// Unique per opened file version.
    pub file_id: u64,
}

/// Hands out file ids, so a reopened (possibly rewritten) file never meets stale chunks.
pub fn next_file_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// One variable the engine can read.
#[derive(Debug)]
pub struct EngineVar {
    /// Where its bytes are.
    pub layout: ChunkLayout,
    /// Its number within the file (part of the cache key).
    pub var: u32,
}

/// The engine's view of one open file: its bytes and the layouts of the variables it reads.
/// Each format source keeps one next to its library handle.
#[derive(Debug)]
pub struct EngineReader {
    file: Arc<EngineFile>,
    vars: std::collections::HashMap<String, Arc<EngineVar>>,
}

impl EngineReader {
    /// The engine for the file at `path`, reading the variables in `layouts` (by variable path;
    /// their order numbers them in the cache keys) through `cache`. `None` when there is no
    /// variable to read.
    ///
    /// # Errors
    /// When the file cannot be opened for positional reads.
    pub fn new(
        path: &std::path::Path,
        cache: &ChunkCache,
        layouts: impl IntoIterator<Item = (String, ChunkLayout)>,
    ) -> Result<Option<Self>> {
        // A local copy of an object's metadata reads its data from the object itself.
        let storage: Arc<dyn Storage> = match storage::overridden(path) {
            Some(s) => s,
            None => Arc::new(storage::FileStorage::open(path)?),
        };
        Ok(Self::from_storage(storage, cache, layouts))
    }

    /// The engine over `storage` (a file, an object, bytes in memory), reading the variables
    /// in `layouts` as [`EngineReader::new`] does. `None` when there is no variable to read.
    #[must_use]
    pub fn from_storage(
        storage: Arc<dyn Storage>,
        cache: &ChunkCache,
        layouts: impl IntoIterator<Item = (String, ChunkLayout)>,
    ) -> Option<Self> {
        let vars: std::collections::HashMap<String, Arc<EngineVar>> = layouts
            .into_iter()
            .enumerate()
            // A layout claiming sizes the engine cannot hold leaves its variable to the library.
            .filter(|(_, (path, layout))| {
                layout
                    .check()
                    .map_err(
                        |e| tracing::warn!(variable = %path, error = %e, "not read by the engine"),
                    )
                    .is_ok()
            })
            .map(|(i, (path, layout))| {
                let var = EngineVar {
                    layout,
                    var: u32::try_from(i).unwrap_or(u32::MAX),
                };
                (path, Arc::new(var))
            })
            .collect();
        if vars.is_empty() {
            return None;
        }
        Some(Self {
            file: Arc::new(EngineFile {
                storage,
                cache: cache.clone(),
                file_id: next_file_id(),
            }),
            vars,
        })
    }

    /// Whether the engine reads the variable at `path`.
    #[must_use]
    pub fn reads(&self, path: &str) -> bool {
        self.vars.contains_key(path)
    }

    /// The stored chunks of the variable at `path`, when the engine reads it.
    #[must_use]
    pub fn stored_chunks(&self, path: &str) -> Option<StoredChunks> {
        let var = self.vars.get(path)?;
        Some(StoredChunks {
            file: Arc::clone(&self.file),
            var: Arc::clone(var),
        })
    }

    /// `slab` of the variable at `path`, checked against its shape; `None` when the engine does
    /// not read that variable (the library does).
    #[must_use]
    pub fn read(&self, path: &str, slab: &Hyperslab) -> Option<ByteStream> {
        let var = self.vars.get(path)?;
        if let Err(e) = Hyperslab::new(slab.ranges().to_vec(), &var.layout.shape) {
            return Some(crate::source::error_stream(e.into()));
        }
        Some(read(Arc::clone(&self.file), Arc::clone(var), slab))
    }
}

/// One variable's chunks as they are stored in the file, for protocols that hand chunks out
/// without decoding them (Zarr): its [`ChunkLayout`] says the chunk shape, the filters and the
/// byte order, [`StoredChunks::stored`] gives one chunk's bytes.
#[derive(Debug, Clone)]
pub struct StoredChunks {
    file: Arc<EngineFile>,
    var: Arc<EngineVar>,
}

impl StoredChunks {
    /// Where the variable's bytes are and how they are encoded.
    #[must_use]
    pub fn layout(&self) -> &ChunkLayout {
        &self.var.layout
    }

    /// The stored (still encoded) bytes of the chunk at grid position `g`, with the HDF5 filter
    /// mask they were written with; `None` when that chunk was never written or `g` lies
    /// outside the chunk grid.
    ///
    /// # Errors
    /// When the file cannot be read.
    pub async fn stored(&self, g: &[usize]) -> Result<Option<(Bytes, u32)>> {
        let layout = &self.var.layout;
        if g.len() != layout.shape.len() || g.iter().zip(layout.grid()).any(|(&i, n)| i >= n) {
            return Ok(None);
        }
        let Some(loc) = layout.locate(g) else {
            return Ok(None);
        };
        let size =
            usize::try_from(loc.size).map_err(|_| Error::Corrupt("chunk size too large".into()))?;
        let storage = Arc::clone(&self.file.storage);
        let bytes = tokio::task::spawn_blocking(move || storage.read_at(loc.addr, size))
            .await
            .map_err(|_| Error::Interrupted)??;
        Ok(Some((bytes, loc.mask)))
    }
}

/// Reads `slab` of `var` as a stream of canonical buffers. `slab` must already be validated
/// against the variable's shape.
#[must_use]
pub fn read(file: Arc<EngineFile>, var: Arc<EngineVar>, slab: &Hyperslab) -> ByteStream {
    let planner = Arc::clone(&var);
    // Pieces are planned a batch at a time, so a selection of billions of pieces (a damaged
    // header's record count, or just a huge variable) never holds its whole plan in memory.
    let stream = futures::stream::iter(batches(var.layout.elem_size, slab))
        .flat_map(move |batch| {
            futures::stream::iter(plan_pieces(&planner.layout, &batch, PIECE_BYTES))
        })
        .map(move |piece| {
            let file = Arc::clone(&file);
            let var = Arc::clone(&var);
            async move { assemble(file, var, piece.into()).await }
        })
        .buffered(READ_AHEAD)
        .try_filter(|b| futures::future::ready(!b.is_empty()));
    Box::pin(stream)
}

/// Output bytes of one planning batch.
const BATCH_BYTES: usize = 64 << 20;
/// Indices of the first dimension in one planning batch, at most.
const BATCH_INDICES: usize = 4096;

/// Cuts `slab` along its first dimension into consecutive batches of at most
/// [`BATCH_INDICES`] indices and about [`BATCH_BYTES`] of output, lazily, in C order.
fn batches(elem_size: usize, slab: &Hyperslab) -> impl Iterator<Item = Hyperslab> + Send + use<> {
    let ranges = slab.ranges().to_vec();
    let per_index = ranges
        .iter()
        .skip(1)
        .fold(elem_size, |acc, r| acc.saturating_mul(r.count));
    let step = (BATCH_BYTES / per_index.max(1)).clamp(1, BATCH_INDICES);
    let count = ranges.first().map_or(1, |r| r.count.max(1));
    let whole = slab.clone();
    (0..count).step_by(step).map(move |j| {
        let Some(first) = ranges.first() else {
            return whole.clone();
        };
        if step >= first.count {
            return whole.clone();
        }
        let mut part = ranges.clone();
        part[0] = Range {
            start: first.start + j * first.stride,
            count: step.min(first.count - j),
            stride: first.stride,
        };
        Hyperslab::from_ranges_unchecked(part)
    })
}

/// Cuts `slab` into pieces of at most about `target` output bytes, in C order, each lying in
/// one chunk along the dimension it is split on.
fn plan_pieces(layout: &ChunkLayout, slab: &Hyperslab, target: usize) -> Vec<Hyperslab> {
    let ranges = slab.ranges();
    let rank = ranges.len();
    let total = slab.len() * layout.elem_size;
    if rank == 0 || total == 0 {
        return if total == 0 && rank > 0 {
            vec![]
        } else {
            vec![slab.clone()]
        };
    }
    // Split dimension: the outermost whose single step (all dims inside it) fits the target.
    let mut inner = layout.elem_size;
    let mut d = rank - 1;
    loop {
        let next = inner.saturating_mul(ranges[d].count);
        if d == 0 || next > target {
            break;
        }
        // The whole of dim d fits: try one level further out.
        inner = next;
        d -= 1;
    }
    // `inner` is the byte size of one index of dim `d` (everything inside it).
    let along = &ranges[d];
    let max_per_piece = (target / inner.max(1)).max(1);
    let chunk_d = layout.chunk.get(d).copied().unwrap_or(1).max(1);

    // Runs of selected indices of dim `d` that share a chunk, at most `max_per_piece` long.
    let mut runs: Vec<(usize, usize)> = Vec::new(); // (first j, count)
    let mut j = 0;
    while j < along.count {
        let chunk_of = (along.start + j * along.stride) / chunk_d;
        let mut n = 1;
        while j + n < along.count
            && n < max_per_piece
            && (along.start + (j + n) * along.stride) / chunk_d == chunk_of
        {
            n += 1;
        }
        runs.push((j, n));
        j += n;
    }
    slab.pieces_along(d, &runs)
}

/// The chunk-grid positions along one dimension that hold at least one selected index.
fn chunks_along(r: &Range, chunk: usize) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    if r.stride >= chunk {
        for i in r.indices() {
            let c = i / chunk;
            if out.last() != Some(&c) {
                out.push(c);
            }
        }
    } else if r.count > 0 {
        out.extend(r.start / chunk..=r.last() / chunk);
    }
    out
}

/// Builds one piece's bytes.
async fn assemble(file: Arc<EngineFile>, var: Arc<EngineVar>, piece: Vec<Range>) -> Result<Bytes> {
    let layout = &var.layout;
    let elem = layout.elem_size;
    let out_len = piece.iter().map(|r| r.count).product::<usize>() * elem;
    if out_len == 0 {
        return Ok(Bytes::new());
    }
    // Every chunk the piece touches: the product of each dimension's chunk list.
    let per_dim: Vec<Vec<usize>> = piece
        .iter()
        .zip(&layout.chunk)
        .map(|(r, &c)| chunks_along(r, c.max(1)))
        .collect();
    let mut grids: Vec<Vec<usize>> = vec![vec![]];
    for list in &per_dim {
        grids = grids
            .into_iter()
            .flat_map(|g| {
                list.iter().map(move |&c| {
                    let mut h = g.clone();
                    h.push(c);
                    h
                })
            })
            .collect();
    }

    // Read the stored bytes of chunks not in the cache, nearby ones together.
    let keys: Vec<ChunkKey> = grids
        .iter()
        .map(|g| ChunkKey {
            file: file.file_id,
            var: var.var,
            chunk: layout.linear(g),
        })
        .collect();
    let locs: Vec<Option<ChunkLoc>> = grids.iter().map(|g| layout.locate(g)).collect();
    let prefetched = prefetch(&file, &keys, &locs).await?;

    // Decode (or take from the cache) every chunk, in parallel.
    let chunks = futures::future::try_join_all(grids.iter().enumerate().map(|(i, g)| {
        let stored = prefetched.get(i).cloned().flatten();
        chunk_bytes(&file, layout, keys[i], locs[i], g, stored)
    }))
    .await?;

    // A piece that is exactly one whole decoded chunk needs no copy.
    if let [Some(bytes)] = chunks.as_slice()
        && is_whole_chunk(layout, &grids[0], &piece)
    {
        return Ok(bytes.clone());
    }

    let copy = move |layout: &ChunkLayout| {
        // The common small read lies in one chunk: its rows are appended in order, with no
        // zero-filled buffer to overwrite.
        if let [Some(chunk)] = chunks.as_slice()
            && let Some(out) = rows_of_one_chunk(layout, &grids[0], chunk, &piece, out_len)
        {
            return Bytes::from(out);
        }
        let mut out = vec![0u8; out_len];
        for (g, chunk) in grids.iter().zip(&chunks) {
            copy_from_chunk(layout, g, chunk.as_deref(), &piece, &mut out);
        }
        Bytes::from(out)
    };
    if out_len <= 256 * 1024 {
        Ok(copy(layout))
    } else {
        // Large copies run on the blocking pool, off the async workers.
        let var = Arc::clone(&var);
        tokio::task::spawn_blocking(move || copy(&var.layout))
            .await
            .map_err(|_| Error::Interrupted)
    }
}

/// Whether `piece` selects exactly the decoded chunk at `g`, in order.
fn is_whole_chunk(layout: &ChunkLayout, g: &[usize], piece: &[Range]) -> bool {
    let ext = layout.decoded_extent(g);
    piece
        .iter()
        .zip(g.iter().zip(&layout.chunk))
        .zip(&ext)
        .all(|((r, (&gi, &c)), &e)| {
            r.start == gi * c && r.count == e && (r.stride == 1 || r.count == 1)
        })
}

/// Reads the stored bytes of the chunks that are neither cached nor absent.
async fn prefetch(
    file: &EngineFile,
    keys: &[ChunkKey],
    locs: &[Option<ChunkLoc>],
) -> Result<Vec<Option<Bytes>>> {
    let mut wanted: Vec<(usize, (u64, usize))> = Vec::new();
    for (i, (key, loc)) in keys.iter().zip(locs).enumerate() {
        if let Some(loc) = loc
            && !file.cache.contains(key)
        {
            let size = usize::try_from(loc.size)
                .map_err(|_| Error::Corrupt("chunk size too large".into()))?;
            wanted.push((i, (loc.addr, size)));
        }
    }
    let mut out = vec![None; keys.len()];
    if wanted.len() < 2 {
        // One chunk is read inside its own decode task; nothing to coalesce.
        return Ok(out);
    }
    let storage = Arc::clone(&file.storage);
    let ranges: Vec<(u64, usize)> = wanted.iter().map(|(_, r)| *r).collect();
    let parts = tokio::task::spawn_blocking(move || storage.read_ranges(&ranges))
        .await
        .map_err(|_| Error::Interrupted)??;
    for ((i, _), bytes) in wanted.into_iter().zip(parts) {
        out[i] = Some(bytes);
    }
    Ok(out)
}

/// The decoded bytes of one chunk (`None` if it was never written), from the cache or decoded
/// now from `stored` (or read now if not prefetched).
async fn chunk_bytes(
    file: &EngineFile,
    layout: &ChunkLayout,
    key: ChunkKey,
    loc: Option<ChunkLoc>,
    g: &[usize],
    stored: Option<Bytes>,
) -> Result<Option<Bytes>> {
    let Some(loc) = loc else {
        return Ok(None);
    };
    let decoded_len = layout.decoded_len(g);
    let storage = Arc::clone(&file.storage);
    let pipeline = layout.pipeline.clone();
    let (elem, big_endian) = (layout.elem_size, layout.big_endian);
    let load = async move {
        let _slot = DECODE_SLOTS
            .acquire()
            .await
            .map_err(|_| Error::Interrupted)?;
        tokio::task::spawn_blocking(move || -> Result<Bytes> {
            let stored = match stored {
                Some(b) => b,
                None => storage.read_at(
                    loc.addr,
                    usize::try_from(loc.size)
                        .map_err(|_| Error::Corrupt("chunk size too large".into()))?,
                )?,
            };
            let mut decoded = if pipeline.is_empty() {
                if stored.len() != decoded_len {
                    return Err(Error::Corrupt(format!(
                        "chunk holds {} bytes, expected {decoded_len}",
                        stored.len()
                    )));
                }
                if !big_endian || elem == 1 {
                    return Ok(stored);
                }
                stored.to_vec()
            } else {
                pipeline.decode(&stored, loc.mask, decoded_len)?
            };
            if big_endian && elem > 1 {
                for e in decoded.chunks_exact_mut(elem) {
                    e.reverse();
                }
            }
            Ok(Bytes::from(decoded))
        })
        .await
        .map_err(|_| Error::Interrupted)?
    };
    file.cache
        .get_or_load(key, load)
        .await
        .map(Some)
        .map_err(|e| Error::unshare(&e))
}

/// The bytes of `piece` (C order, `out_len` bytes) when every element of it lies in the decoded
/// chunk at `g`, built by appending its rows in order; `None` when some element lies outside
/// the chunk (or the piece is a scalar), for the general copy.
fn rows_of_one_chunk(
    layout: &ChunkLayout,
    g: &[usize],
    chunk: &[u8],
    piece: &[Range],
    out_len: usize,
) -> Option<Vec<u8>> {
    let rows = ChunkRows::of(layout, g, piece)?;
    // Rows are visited in C order; they tile the output only when the chunk holds all of it.
    if rows.j0.iter().any(|&j| j != 0) || rows.n.iter().zip(piece).any(|(&n, r)| n != r.count) {
        return None;
    }
    let elem = layout.elem_size;
    let step = piece[piece.len() - 1].stride;
    let mut out = Vec::with_capacity(out_len);
    rows.for_each(layout, g, piece, |_, c_off, count| {
        if rows.contiguous_inner {
            out.extend_from_slice(&chunk[c_off * elem..(c_off + count) * elem]);
        } else {
            for k in 0..count {
                let src = (c_off + k * step) * elem;
                out.extend_from_slice(&chunk[src..src + elem]);
            }
        }
    });
    (out.len() == out_len).then_some(out)
}

/// Where the elements of a piece that lie in one chunk are: per dimension, the piece-relative
/// indices `j0[d]..j0[d] + n[d]` inside the chunk.
struct ChunkRows {
    j0: Vec<usize>,
    n: Vec<usize>,
    /// Whether each row is one run of adjacent elements in the chunk.
    contiguous_inner: bool,
}

impl ChunkRows {
    /// `None` when the piece has no element in the chunk at `g`, or is a scalar.
    fn of(layout: &ChunkLayout, g: &[usize], piece: &[Range]) -> Option<Self> {
        let rank = piece.len();
        if rank == 0 {
            return None;
        }
        let ext = layout.decoded_extent(g);
        let mut j0 = vec![0usize; rank];
        let mut n = vec![0usize; rank];
        for d in 0..rank {
            let r = &piece[d];
            let origin = g[d] * layout.chunk[d];
            let end = origin + ext[d]; // exclusive
            let first = if origin <= r.start {
                0
            } else {
                (origin - r.start).div_ceil(r.stride)
            };
            if first >= r.count || r.start + first * r.stride >= end {
                return None;
            }
            let last_in = ((end - 1 - r.start) / r.stride).min(r.count - 1);
            j0[d] = first;
            n[d] = last_in - first + 1;
        }
        let last = rank - 1;
        let contiguous_inner = piece[last].stride == 1 || n[last] == 1;
        Some(Self {
            j0,
            n,
            contiguous_inner,
        })
    }

    /// Calls `row(o_off, c_off, count)` for each row, in C order: the element offsets of the
    /// row's first element in the piece's buffer and in the chunk, and its length.
    fn for_each(
        &self,
        layout: &ChunkLayout,
        g: &[usize],
        piece: &[Range],
        mut row: impl FnMut(usize, usize, usize),
    ) {
        let rank = piece.len();
        let ext = layout.decoded_extent(g);
        let (j0, n) = (&self.j0, &self.n);
        // Element strides of the chunk buffer and of the output.
        let mut cs = vec![1usize; rank];
        let mut os = vec![1usize; rank];
        for d in (0..rank - 1).rev() {
            cs[d] = cs[d + 1] * ext[d + 1];
            os[d] = os[d + 1] * piece[d + 1].count;
        }
        let last = rank - 1;
        let mut idx = vec![0usize; rank]; // offsets within n[], for dims 0..last
        loop {
            let mut c_off = 0usize;
            let mut o_off = 0usize;
            for d in 0..last {
                let j = j0[d] + idx[d];
                let pos = piece[d].start + j * piece[d].stride - g[d] * layout.chunk[d];
                c_off += pos * cs[d];
                o_off += j * os[d];
            }
            let j = j0[last];
            let pos = piece[last].start + j * piece[last].stride - g[last] * layout.chunk[last];
            row(o_off + j, c_off + pos, n[last]);
            // Next row.
            let mut d = last;
            loop {
                if d == 0 {
                    return;
                }
                d -= 1;
                idx[d] += 1;
                if idx[d] < n[d] {
                    break;
                }
                idx[d] = 0;
            }
        }
    }
}

/// Copies the elements of `piece` that lie in the chunk at `g` into `out` (the piece's C-order
/// buffer); fills them with the fill value when the chunk was never written.
fn copy_from_chunk(
    layout: &ChunkLayout,
    g: &[usize],
    chunk: Option<&[u8]>,
    piece: &[Range],
    out: &mut [u8],
) {
    let elem = layout.elem_size;
    let rank = piece.len();
    if rank == 0 {
        match chunk {
            Some(c) => out.copy_from_slice(&c[..elem]),
            None => out.copy_from_slice(&layout.fill),
        }
        return;
    }
    let Some(rows) = ChunkRows::of(layout, g, piece) else {
        return;
    };
    let step = piece[rank - 1].stride;
    rows.for_each(layout, g, piece, |o_off, c_off, count| match chunk {
        Some(c) if rows.contiguous_inner => {
            out[o_off * elem..(o_off + count) * elem]
                .copy_from_slice(&c[c_off * elem..(c_off + count) * elem]);
        }
        Some(c) => {
            for k in 0..count {
                let src = (c_off + k * step) * elem;
                let dst = (o_off + k) * elem;
                out[dst..dst + elem].copy_from_slice(&c[src..src + elem]);
            }
        }
        None => {
            for k in 0..count {
                let dst = (o_off + k) * elem;
                out[dst..dst + elem].copy_from_slice(&layout.fill);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::engine::filters::Pipeline;
    use crate::engine::layout::Locator;

    /// A 4 × 6 f32-sized variable in 2 × 3 chunks.
    fn layout() -> ChunkLayout {
        ChunkLayout {
            shape: vec![4, 6],
            chunk: vec![2, 3],
            clipped: false,
            elem_size: 4,
            big_endian: false,
            pipeline: Pipeline::default(),
            locator: Locator::Indexed(HashMap::new()),
            fill: vec![0xff; 4],
        }
    }

    /// The decoded chunk at `g`: each element holds its index in the variable, `row * 6 + col`.
    fn chunk(g: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        for r in 0..2 {
            for c in 0..3 {
                let v = u32::try_from((g[0] * 2 + r) * 6 + g[1] * 3 + c).expect("small");
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out
    }

    fn r(start: usize, count: usize, stride: usize) -> Range {
        Range {
            start,
            count,
            stride,
        }
    }

    fn values(bytes: &[u8]) -> Vec<u32> {
        bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }

    #[test]
    fn a_piece_inside_one_chunk_is_its_rows_in_order() {
        let l = layout();
        let g = [1, 1]; // rows 2..4, columns 3..6
        let c = chunk(&g);
        let cases: [(Vec<Range>, Vec<u32>); 4] = [
            (vec![r(2, 2, 1), r(3, 3, 1)], vec![15, 16, 17, 21, 22, 23]),
            (vec![r(2, 2, 1), r(3, 2, 2)], vec![15, 17, 21, 23]),
            (vec![r(3, 1, 1), r(4, 2, 1)], vec![22, 23]),
            (vec![r(2, 2, 1), r(5, 1, 1)], vec![17, 23]),
        ];
        for (piece, want) in cases {
            let len = want.len() * 4;
            let rows = rows_of_one_chunk(&l, &g, &c, &piece, len).expect("inside the chunk");
            assert_eq!(values(&rows), want, "{piece:?}");
            // The general copy (into a zero-filled buffer) agrees.
            let mut out = vec![0u8; len];
            copy_from_chunk(&l, &g, Some(&c), &piece, &mut out);
            assert_eq!(values(&out), want, "{piece:?}");
        }
    }

    #[test]
    fn a_piece_over_several_chunks_takes_the_general_copy() {
        let l = layout();
        // Rows 1..3 span chunk rows 0 and 1; columns 2..4 span chunk columns 0 and 1.
        let piece = [r(1, 2, 1), r(2, 2, 1)];
        assert!(rows_of_one_chunk(&l, &[0, 0], &chunk(&[0, 0]), &piece, 16).is_none());
        assert!(rows_of_one_chunk(&l, &[1, 1], &chunk(&[1, 1]), &piece, 16).is_none());
        let mut out = vec![0u8; 16];
        for g in [[0, 0], [0, 1], [1, 0], [1, 1]] {
            copy_from_chunk(&l, &g, Some(&chunk(&g)), &piece, &mut out);
        }
        assert_eq!(values(&out), [8, 9, 14, 15]);
        // A chunk never written gives the fill value for its part only.
        let mut out = vec![0u8; 16];
        for g in [[0, 0], [1, 0], [1, 1]] {
            copy_from_chunk(&l, &g, Some(&chunk(&g)), &piece, &mut out);
        }
        copy_from_chunk(&l, &[0, 1], None, &piece, &mut out);
        assert_eq!(values(&out), [8, u32::MAX, 14, 15]);
    }
}
