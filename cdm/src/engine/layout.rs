//! Where a variable's bytes are: a grid of chunks, each at a known address, encoded by a known
//! pipeline. HDF5 chunked datasets have a real chunk index; contiguous data and netCDF-3
//! variables are cut into virtual chunks whose addresses are arithmetic.

use std::collections::HashMap;

use super::filters::Pipeline;
use crate::error::{Error, Result};

/// Target size of a virtual chunk: large enough to amortise a read, small enough to cache well.
pub const VIRTUAL_CHUNK_BYTES: usize = 1 << 20;

/// Where one stored chunk is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChunkLoc {
    /// Byte address in the file.
    pub addr: u64,
    /// Stored (encoded) size in bytes.
    pub size: u64,
    /// HDF5 filter mask: bit *i* set means filter *i* was skipped.
    pub mask: u32,
}

/// How chunk addresses are found.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Locator {
    /// An HDF5 chunk index: linear chunk number → location. Chunks never written are absent
    /// and read as the fill value.
    Indexed(HashMap<u64, ChunkLoc>),
    /// Regularly spaced virtual chunks: the chunk at grid position `g` starts at
    /// `base + Σ g[d] · strides[d]`, and its stored size is its clipped element count times the
    /// element size. `None` as base means nothing was ever written (all fill).
    Arithmetic {
        /// Address of chunk (0, …, 0).
        base: Option<u64>,
        /// Bytes between neighbouring chunks along each grid dimension.
        strides: Vec<u64>,
    },
}

/// Everything the engine needs to read a variable without the library.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChunkLayout {
    /// The variable's shape.
    pub shape: Vec<usize>,
    /// The chunk shape (empty for a scalar).
    pub chunk: Vec<usize>,
    /// Whether edge chunks are stored clipped to the variable's bounds (virtual chunks) rather
    /// than at full chunk size (HDF5).
    pub clipped: bool,
    /// Bytes per element.
    pub elem_size: usize,
    /// Whether stored values are big-endian (netCDF-3 always; HDF5 per dataset).
    pub big_endian: bool,
    /// Filters to undo.
    pub pipeline: Pipeline,
    /// Chunk addresses.
    pub locator: Locator,
    /// One element of the fill value, canonical (little-endian).
    pub fill: Vec<u8>,
}

/// The largest decoded chunk the engine will allocate. Real files use chunks of kilobytes to a
/// few megabytes; an index claiming more is damaged or hostile, and a variable with such a
/// layout is left to the library (in a reader process, when isolated).
pub const MAX_CHUNK_BYTES: usize = 256 << 20;
/// The largest element the engine reads (the widest compound types are a few kilobytes).
pub const MAX_ELEMENT_BYTES: usize = 1 << 20;

impl ChunkLayout {
    /// Checks that the layout's sizes are ones the engine can hold, before anything is
    /// allocated from them: ranks agree, every chunk is at most [`MAX_CHUNK_BYTES`] decoded
    /// and stored, and no size or address overflows.
    ///
    /// # Errors
    /// [`Error::Corrupt`] naming the first claim that does not hold.
    pub fn check(&self) -> Result<()> {
        let bad = |what: String| Err(Error::Corrupt(what));
        if self.chunk.len() != self.shape.len() {
            return bad(format!(
                "chunk rank {} for a variable of rank {}",
                self.chunk.len(),
                self.shape.len()
            ));
        }
        if self.elem_size == 0 || self.elem_size > MAX_ELEMENT_BYTES {
            return bad(format!("an element of {} bytes", self.elem_size));
        }
        if self.fill.len() != self.elem_size {
            return bad("a fill value of the wrong size".into());
        }
        if self.chunk.contains(&0) {
            return bad("a chunk dimension of 0".into());
        }
        let chunk_bytes = self
            .chunk
            .iter()
            .try_fold(self.elem_size, |acc, &c| acc.checked_mul(c))
            .filter(|&n| n <= MAX_CHUNK_BYTES);
        let Some(chunk_bytes) = chunk_bytes else {
            return bad(format!(
                "a chunk {:?} of more than {MAX_CHUNK_BYTES} bytes",
                self.chunk
            ));
        };
        let total = self
            .shape
            .iter()
            .try_fold(self.elem_size as u64, |acc, &n| acc.checked_mul(n as u64));
        if total.is_none() {
            return bad(format!("a variable of shape {:?} overflows", self.shape));
        }
        let chunks = self
            .grid()
            .iter()
            .try_fold(1u64, |acc, &n| acc.checked_mul(n as u64));
        match &self.locator {
            Locator::Indexed(map) => {
                if chunks.is_none_or(|n| map.len() as u64 > n) {
                    return bad("more indexed chunks than the chunk grid holds".into());
                }
                // Filters may add a little (a checksum, an incompressible deflate block).
                let stored_max = (chunk_bytes + chunk_bytes / 8 + 1024) as u64;
                for loc in map.values() {
                    if loc.size > stored_max || loc.addr.checked_add(loc.size).is_none() {
                        return bad(format!("a stored chunk of {} bytes", loc.size));
                    }
                }
            }
            Locator::Arithmetic { base, strides } => {
                if strides.len() != self.shape.len() {
                    return bad("chunk strides of the wrong rank".into());
                }
                if let Some(base) = base {
                    let last = self
                        .grid()
                        .iter()
                        .zip(strides)
                        .try_fold(*base, |acc, (&n, &s)| {
                            acc.checked_add((n.saturating_sub(1) as u64).checked_mul(s)?)
                        })
                        .and_then(|a| a.checked_add(chunk_bytes as u64));
                    if last.is_none() {
                        return bad("chunk addresses overflow".into());
                    }
                }
            }
        }
        Ok(())
    }

    /// Number of chunks along each dimension.
    #[must_use]
    pub fn grid(&self) -> Vec<usize> {
        chunk_grid(&self.shape, &self.chunk)
    }

    /// The linear (row-major) number of the chunk at grid position `g`.
    #[must_use]
    pub fn linear(&self, g: &[usize]) -> u64 {
        let grid = self.grid();
        g.iter()
            .zip(&grid)
            .fold(0u64, |acc, (&i, &n)| acc * n as u64 + i as u64)
    }

    /// The extent of the decoded chunk at grid position `g` along each dimension.
    #[must_use]
    pub fn decoded_extent(&self, g: &[usize]) -> Vec<usize> {
        if !self.clipped {
            return self.chunk.clone();
        }
        g.iter()
            .zip(&self.chunk)
            .zip(&self.shape)
            .map(|((&i, &c), &n)| c.min(n - i * c))
            .collect()
    }

    /// Decoded size in bytes of the chunk at `g`.
    #[must_use]
    pub fn decoded_len(&self, g: &[usize]) -> usize {
        self.decoded_extent(g).iter().product::<usize>() * self.elem_size
    }

    /// Where the chunk at `g` is stored, or `None` if it was never written.
    #[must_use]
    pub fn locate(&self, g: &[usize]) -> Option<ChunkLoc> {
        match &self.locator {
            Locator::Indexed(map) => map.get(&self.linear(g)).copied(),
            Locator::Arithmetic { base, strides } => {
                let addr = g
                    .iter()
                    .zip(strides)
                    .try_fold(base.as_ref().copied()?, |acc, (&i, &s)| {
                        acc.checked_add((i as u64).checked_mul(s)?)
                    })?;
                Some(ChunkLoc {
                    addr,
                    size: self.decoded_len(g) as u64,
                    mask: 0,
                })
            }
        }
    }

    /// A layout for `shape` stored contiguously, row-major, from `base` (`None`: never written),
    /// with rows of `record_stride` bytes between consecutive indices of the first dimension
    /// when given (netCDF-3 record variables), cut into virtual chunks of about
    /// [`VIRTUAL_CHUNK_BYTES`].
    #[must_use]
    pub fn contiguous(
        shape: &[usize],
        elem_size: usize,
        big_endian: bool,
        base: Option<u64>,
        record_stride: Option<u64>,
        fill: Vec<u8>,
    ) -> Self {
        let rank = shape.len();
        // Chunk = [1, …, 1, k, full, …, full]: contiguous in the file, about the target size.
        let mut chunk = shape.to_vec();
        let mut inner_bytes = elem_size;
        let mut split = rank;
        while split > 0 {
            let next = inner_bytes.saturating_mul(shape[split - 1].max(1));
            if next > VIRTUAL_CHUNK_BYTES {
                break;
            }
            inner_bytes = next;
            split -= 1;
        }
        // Record variables always have one record per chunk: records are not adjacent.
        if record_stride.is_some() && split == 0 && rank > 0 {
            split = 1;
            inner_bytes = shape[1..].iter().product::<usize>() * elem_size;
        }
        if split > 0 {
            let d = split - 1;
            let k = (VIRTUAL_CHUNK_BYTES / inner_bytes.max(1)).clamp(1, shape[d].max(1));
            let k = if record_stride.is_some() && d == 0 {
                1
            } else {
                k
            };
            for c in chunk.iter_mut().take(d) {
                *c = 1;
            }
            chunk[d] = k;
        }
        for c in &mut chunk {
            *c = (*c).max(1);
        }
        // Byte distance between neighbouring chunks along each dimension.
        let mut strides = vec![0u64; rank];
        let mut row = elem_size as u64;
        for d in (0..rank).rev() {
            strides[d] = row * chunk[d] as u64;
            row *= shape[d] as u64;
        }
        if let (Some(rs), true) = (record_stride, rank > 0) {
            strides[0] = rs;
        }
        Self {
            shape: shape.to_vec(),
            chunk,
            clipped: true,
            elem_size,
            big_endian,
            pipeline: Pipeline::default(),
            locator: Locator::Arithmetic { base, strides },
            fill,
        }
    }
}

/// Number of chunks of shape `chunk` along each dimension of an array of shape `shape`, edge
/// chunks included (a zero chunk length counts as one).
#[must_use]
pub fn chunk_grid(shape: &[usize], chunk: &[usize]) -> Vec<usize> {
    shape
        .iter()
        .zip(chunk)
        .map(|(&n, &c)| n.div_ceil(c.max(1)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn indexed(chunk: Vec<usize>, size: u64) -> ChunkLayout {
        ChunkLayout {
            shape: vec![1 << 20, 1 << 20],
            chunk,
            clipped: false,
            elem_size: 4,
            big_endian: false,
            pipeline: Pipeline::default(),
            locator: Locator::Indexed(HashMap::from([(
                0,
                ChunkLoc {
                    addr: 4096,
                    size,
                    mask: 0,
                },
            )])),
            fill: vec![0; 4],
        }
    }

    #[test]
    fn huge_claims_are_refused_before_allocation() {
        assert!(indexed(vec![256, 256], 1000).check().is_ok());
        // A 4 GiB chunk, a stored size of 2^40, a dimension of 2^62, a zero chunk dimension.
        assert!(indexed(vec![1 << 15, 1 << 15], 1000).check().is_err());
        assert!(indexed(vec![256, 256], 1 << 40).check().is_err());
        let mut l = indexed(vec![256, 256], 1000);
        l.shape = vec![1 << 62, 1 << 20];
        assert!(l.check().is_err());
        assert!(indexed(vec![0, 256], 1000).check().is_err());
        assert!(indexed(vec![256], 1000).check().is_err(), "rank mismatch");
        let mut wide = indexed(vec![1, 1], 8);
        wide.elem_size = 1 << 30;
        assert!(wide.check().is_err());
        // Contiguous layouts of sane files pass; addresses that overflow do not.
        let c = ChunkLayout::contiguous(&[10, 300, 1000], 4, false, Some(100), None, vec![0; 4]);
        assert!(c.check().is_ok());
        let o =
            ChunkLayout::contiguous(&[10, 300], 4, false, Some(u64::MAX - 10), None, vec![0; 4]);
        assert!(o.check().is_err());
    }

    #[test]
    fn contiguous_layout_cuts_rows_and_addresses_them() {
        // 10 × 300 × 1000 f32: one row of 1000 is 4 kB; 262 rows fit in 1 MiB.
        let l = ChunkLayout::contiguous(&[10, 300, 1000], 4, false, Some(100), None, vec![0; 4]);
        assert_eq!(l.chunk, vec![1, 262, 1000]);
        assert_eq!(l.grid(), vec![10, 2, 1]);
        assert_eq!(l.decoded_extent(&[0, 1, 0]), vec![1, 38, 1000]);
        let loc = l.locate(&[2, 1, 0]).expect("written");
        assert_eq!(loc.addr, 100 + (2 * 300 * 1000 + 262 * 1000) * 4);
        assert_eq!(loc.size, 38 * 1000 * 4);
        // A small variable is one chunk.
        let s = ChunkLayout::contiguous(&[3, 4], 8, true, Some(0), None, vec![0; 8]);
        assert_eq!((s.chunk.clone(), s.grid()), (vec![3, 4], vec![1, 1]));
        // Scalars.
        let z = ChunkLayout::contiguous(&[], 8, true, Some(64), None, vec![0; 8]);
        assert_eq!(z.locate(&[]).map(|l| (l.addr, l.size)), Some((64, 8)));
        // Never written.
        let n = ChunkLayout::contiguous(&[5], 4, false, None, None, vec![0; 4]);
        assert_eq!(n.locate(&[0]), None);
    }

    #[test]
    fn record_variables_take_one_record_per_chunk() {
        let l = ChunkLayout::contiguous(&[4, 6, 8], 4, true, Some(1000), Some(500), vec![0; 4]);
        assert_eq!(l.chunk, vec![1, 6, 8]);
        assert_eq!(l.locate(&[3, 0, 0]).map(|c| c.addr), Some(2500));
        // A 1-D record variable: one element per record.
        let t = ChunkLayout::contiguous(&[4], 8, true, Some(16), Some(40), vec![0; 8]);
        assert_eq!(t.chunk, vec![1]);
        assert_eq!(t.locate(&[2]).map(|c| (c.addr, c.size)), Some((96, 8)));
    }
}
