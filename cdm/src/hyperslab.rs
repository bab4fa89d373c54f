//! The one hyperslab type, used from the constraint parsers down to the readers.
//!
//! A [`Range`] is always resolved and in bounds: `start`, `count` elements, `stride` ≥ 1. DAP
//! writes `[start:stride:stop]` with an inclusive `stop`; [`Range::from_dap`] is the one place
//! that converts it.

use thiserror::Error;

/// Why a requested range or hyperslab does not fit a variable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HyperslabError {
    /// The number of ranges differs from the variable's rank.
    #[error("wrong number of dimensions: the variable has {expected}, the request gives {got}")]
    WrongRank {
        /// The variable's rank.
        expected: usize,
        /// Ranges given.
        got: usize,
    },
    /// A stride of zero or less.
    #[error("stride must be at least 1, got {stride}")]
    BadStride {
        /// The stride given.
        stride: i64,
    },
    /// A negative start or stop.
    #[error("index {index} is negative")]
    Negative {
        /// The index given.
        index: i64,
    },
    /// The start lies after the stop.
    #[error("start {start} is greater than stop {stop}")]
    StartAfterStop {
        /// The first index.
        start: i64,
        /// The last index.
        stop: i64,
    },
    /// An index past the end of the dimension.
    #[error("index {index} is out of range for a dimension of length {len}")]
    OutOfRange {
        /// The offending index.
        index: u64,
        /// The dimension's length.
        len: usize,
    },
}

/// A resolved, in-bounds selection along one dimension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Range {
    /// First index.
    pub start: usize,
    /// Number of indices selected (0 only for an empty dimension).
    pub count: usize,
    /// Step between selected indices, ≥ 1.
    pub stride: usize,
}

impl Range {
    /// The whole of a dimension of length `len`.
    #[must_use]
    pub fn full(len: usize) -> Self {
        Self {
            start: 0,
            count: len,
            stride: 1,
        }
    }

    /// A single index, checked against `len`.
    ///
    /// # Errors
    /// When the index is negative or not below `len`.
    pub fn index(i: i64, len: usize) -> Result<Self, HyperslabError> {
        Self::from_dap(i, 1, i, len)
    }

    /// From DAP's `[start:stride:stop]` (stop inclusive), checked against a dimension of `len`.
    ///
    /// # Errors
    /// A stride below 1, a negative index, `start > stop`, or `stop >= len`.
    pub fn from_dap(
        start: i64,
        stride: i64,
        stop: i64,
        len: usize,
    ) -> Result<Self, HyperslabError> {
        if stride < 1 {
            return Err(HyperslabError::BadStride { stride });
        }
        for index in [start, stop] {
            if index < 0 {
                return Err(HyperslabError::Negative { index });
            }
        }
        if start > stop {
            return Err(HyperslabError::StartAfterStop { start, stop });
        }
        let (ustart, ustop) = (start.unsigned_abs(), stop.unsigned_abs());
        if ustop >= len as u64 {
            return Err(HyperslabError::OutOfRange {
                index: if ustart >= len as u64 { ustart } else { ustop },
                len,
            });
        }
        // In range of usize: both are below `len`.
        // Both indices are below `len`, so they fit in usize; a stride longer than the span
        // selects only `start`.
        let (s, e, st) = (ustart as usize, ustop as usize, stride.unsigned_abs());
        let count = ((e - s) as u64 / st + 1) as usize;
        let stride = if count == 1 { 1 } else { st as usize };
        Ok(Self {
            start: s,
            count,
            stride,
        })
    }

    /// From `start`, `count`, `stride` (the netCDF / HDF5 form), checked against `len`.
    ///
    /// # Errors
    /// A stride below 1, or a selection that runs past `len`.
    pub fn new(
        start: usize,
        count: usize,
        stride: usize,
        len: usize,
    ) -> Result<Self, HyperslabError> {
        if stride == 0 {
            return Err(HyperslabError::BadStride { stride: 0 });
        }
        if count == 0 {
            if start > len {
                return Err(HyperslabError::OutOfRange {
                    index: start as u64,
                    len,
                });
            }
            return Ok(Self {
                start,
                count: 0,
                stride,
            });
        }
        let last = (count - 1)
            .checked_mul(stride)
            .and_then(|x| x.checked_add(start));
        match last {
            Some(last) if last < len => Ok(Self {
                start,
                count,
                stride,
            }),
            _ => Err(HyperslabError::OutOfRange {
                index: last.map_or(u64::MAX, |l| l as u64),
                len,
            }),
        }
    }

    /// The last index selected (`start` for an empty range).
    #[must_use]
    pub fn last(&self) -> usize {
        self.start + self.count.saturating_sub(1) * self.stride
    }

    /// The indices selected, in order.
    pub fn indices(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.count).map(move |i| self.start + i * self.stride)
    }

    /// Whether this selects the whole of a dimension of length `len`.
    #[must_use]
    pub fn is_full(&self, len: usize) -> bool {
        self.start == 0 && self.count == len && (self.stride == 1 || len <= 1)
    }

    /// This range applied to a range of the same dimension: selects every `self`-th element of
    /// what `outer` selected. Used when a constraint subsets something already subset.
    ///
    /// # Errors
    /// When `self` does not fit `outer.count`.
    pub fn compose(outer: &Self, inner: &Self) -> Result<Self, HyperslabError> {
        if inner.count > 0 && inner.last() >= outer.count {
            return Err(HyperslabError::OutOfRange {
                index: inner.last() as u64,
                len: outer.count,
            });
        }
        Ok(Self {
            start: outer.start + inner.start * outer.stride,
            count: inner.count,
            stride: if inner.count <= 1 {
                1
            } else {
                outer.stride * inner.stride
            },
        })
    }
}

/// One [`Range`] per dimension of a variable, validated against its shape.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Hyperslab {
    ranges: Vec<Range>,
}

impl Hyperslab {
    /// The whole of an array of `shape` (a scalar has an empty shape).
    #[must_use]
    pub fn full(shape: &[usize]) -> Self {
        Self {
            ranges: shape.iter().map(|&n| Range::full(n)).collect(),
        }
    }

    /// Ranges checked against `shape`: the rank must match and every range must be in bounds.
    ///
    /// # Errors
    /// [`HyperslabError::WrongRank`], or the first range that does not fit.
    pub fn new(ranges: Vec<Range>, shape: &[usize]) -> Result<Self, HyperslabError> {
        if ranges.len() != shape.len() {
            return Err(HyperslabError::WrongRank {
                expected: shape.len(),
                got: ranges.len(),
            });
        }
        for (r, &len) in ranges.iter().zip(shape) {
            Range::new(r.start, r.count, r.stride, len)?;
        }
        Ok(Self { ranges })
    }

    /// Ranges already known to fit their variable (a part of a checked selection).
    pub(crate) fn from_ranges_unchecked(ranges: Vec<Range>) -> Self {
        Self { ranges }
    }

    /// The ranges, slowest-varying dimension first.
    #[must_use]
    pub fn ranges(&self) -> &[Range] {
        &self.ranges
    }

    /// The shape of the selection.
    #[must_use]
    pub fn counts(&self) -> Vec<usize> {
        self.ranges.iter().map(|r| r.count).collect()
    }

    /// Number of elements selected (1 for a scalar).
    #[must_use]
    pub fn len(&self) -> usize {
        self.ranges.iter().map(|r| r.count).product()
    }

    /// Whether nothing is selected.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of dimensions.
    #[must_use]
    pub fn rank(&self) -> usize {
        self.ranges.len()
    }

    /// Whether this selects the whole of an array of `shape`.
    #[must_use]
    pub fn is_full(&self, shape: &[usize]) -> bool {
        self.ranges.len() == shape.len()
            && self.ranges.iter().zip(shape).all(|(r, &n)| r.is_full(n))
    }

    /// Splits the selection into consecutive pieces of at most `max_elements` elements each, in C
    /// order, so that a reader can stream a large selection piece by piece. Pieces are as large
    /// as the bound allows: whole blocks of the inner dimensions where they fit.
    #[must_use]
    pub fn split(&self, max_elements: usize) -> Vec<Hyperslab> {
        let total = self.len();
        if total <= max_elements.max(1) || self.ranges.is_empty() {
            return vec![self.clone()];
        }
        // Find the outermost dimension `d` such that one step of it (the product of the counts
        // inside it) fits; split along `d`, iterating every index of the dimensions outside it.
        let mut inner = 1usize;
        let mut d = self.ranges.len();
        while d > 0 {
            let next = inner.saturating_mul(self.ranges[d - 1].count);
            if next > max_elements {
                break;
            }
            inner = next;
            d -= 1;
        }
        if d == 0 {
            return vec![self.clone()];
        }
        let split_dim = d - 1;
        let per_piece = (max_elements / inner.max(1)).max(1);
        let count = self.ranges[split_dim].count;
        let runs: Vec<(usize, usize)> = (0..count)
            .step_by(per_piece)
            .map(|j| (j, per_piece.min(count - j)))
            .collect();
        self.pieces_along(split_dim, &runs)
    }

    /// The selection cut along dimension `d`: for every selected index of the dimensions before
    /// `d` (one at a time, in C order), one piece per run `(first, count)` of `d`'s selected
    /// indices, with the dimensions after `d` whole. Runs must cover `d`'s selection in order;
    /// the pieces then cover the whole selection in C order.
    #[must_use]
    pub fn pieces_along(&self, d: usize, runs: &[(usize, usize)]) -> Vec<Hyperslab> {
        let outer = &self.ranges[..d];
        let along = self.ranges[d];
        let outer_total: usize = outer.iter().map(|r| r.count).product();
        let mut pieces = Vec::with_capacity(outer_total.saturating_mul(runs.len()));
        let mut idx = vec![0usize; d];
        for _ in 0..outer_total {
            for &(first, n) in runs {
                let mut ranges = Vec::with_capacity(self.ranges.len());
                ranges.extend(outer.iter().zip(&idx).map(|(r, &i)| Range {
                    start: r.start + i * r.stride,
                    count: 1,
                    stride: 1,
                }));
                ranges.push(Range {
                    start: along.start + first * along.stride,
                    count: n,
                    stride: if n == 1 { 1 } else { along.stride },
                });
                ranges.extend_from_slice(&self.ranges[d + 1..]);
                pieces.push(Hyperslab { ranges });
            }
            // Next index of the outer dimensions (an odometer).
            for k in (0..d).rev() {
                idx[k] += 1;
                if idx[k] < outer[k].count {
                    break;
                }
                idx[k] = 0;
            }
        }
        pieces
    }
}

impl From<Hyperslab> for Vec<Range> {
    fn from(h: Hyperslab) -> Self {
        h.ranges
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn dap_ranges_are_inclusive_and_checked() {
        assert_eq!(
            Range::from_dap(2, 3, 10, 11),
            Ok(Range {
                start: 2,
                count: 3,
                stride: 3
            })
        );
        assert_eq!(Range::from_dap(4, 1, 4, 5).map(|r| r.count), Ok(1));
        assert_eq!(
            Range::from_dap(0, 0, 3, 5),
            Err(HyperslabError::BadStride { stride: 0 })
        );
        assert_eq!(
            Range::from_dap(0, -2, 3, 5),
            Err(HyperslabError::BadStride { stride: -2 })
        );
        assert_eq!(
            Range::from_dap(4, 1, 3, 5),
            Err(HyperslabError::StartAfterStop { start: 4, stop: 3 })
        );
        assert_eq!(
            Range::from_dap(0, 1, 5, 5),
            Err(HyperslabError::OutOfRange { index: 5, len: 5 })
        );
        assert_eq!(
            Range::from_dap(-1, 1, 3, 5),
            Err(HyperslabError::Negative { index: -1 })
        );
        assert!(Range::index(0, 0).is_err());
        assert!(Range::from_dap(0, i64::MAX, i64::MAX, usize::MAX).is_ok());
    }

    #[test]
    fn start_count_stride_ranges_are_checked() {
        assert!(Range::new(0, 3, 2, 5).is_ok());
        assert!(Range::new(0, 3, 2, 4).is_err());
        assert!(Range::new(0, 1, 0, 4).is_err());
        assert!(Range::new(0, 0, 1, 0).is_ok());
        assert!(Range::new(usize::MAX, 2, usize::MAX, 10).is_err());
    }

    #[test]
    fn hyperslab_checks_rank_and_bounds() {
        let shape = [4, 5];
        assert_eq!(
            Hyperslab::new(vec![Range::full(4)], &shape),
            Err(HyperslabError::WrongRank {
                expected: 2,
                got: 1
            })
        );
        let bad = Range {
            start: 3,
            count: 2,
            stride: 1,
        };
        assert!(Hyperslab::new(vec![Range::full(4), bad], &shape).is_ok());
        assert!(Hyperslab::new(vec![bad, bad], &shape).is_err());
        let full = Hyperslab::full(&shape);
        assert_eq!(full.len(), 20);
        assert!(full.is_full(&shape));
        assert_eq!(Hyperslab::full(&[]).len(), 1);
    }

    #[test]
    fn compose_selects_from_a_selection() {
        let outer = Range::from_dap(2, 2, 20, 21).expect("valid");
        let inner = Range::from_dap(1, 3, 7, outer.count).expect("valid");
        let c = Range::compose(&outer, &inner).expect("fits");
        let direct: Vec<_> = inner
            .indices()
            .map(|i| outer.indices().nth(i).expect("in range"))
            .collect();
        assert_eq!(c.indices().collect::<Vec<_>>(), direct);
        assert!(Range::compose(&outer, &Range::full(outer.count + 1)).is_err());
    }

    fn element_indices(h: &Hyperslab) -> Vec<Vec<usize>> {
        let mut out = vec![vec![]];
        for r in h.ranges() {
            out = out
                .into_iter()
                .flat_map(|p| {
                    r.indices().map(move |i| {
                        let mut q = p.clone();
                        q.push(i);
                        q
                    })
                })
                .collect();
        }
        out
    }

    proptest! {
        #[test]
        fn split_pieces_cover_the_selection_in_order(
            dims in proptest::collection::vec((1usize..6, 0usize..3, 1usize..3), 0..4),
            max in 1usize..40,
        ) {
            let shape: Vec<usize> = dims.iter().map(|(n, _, s)| n * s + 2).collect();
            let ranges: Vec<Range> = dims
                .iter()
                .zip(&shape)
                .map(|((n, st, s), &len)| Range::new((*st).min(1), *n, *s, len).expect("fits"))
                .collect();
            let h = Hyperslab::new(ranges, &shape).expect("valid");
            let pieces = h.split(max);
            let innermost = h.ranges().last().map_or(1, |r| r.count);
            for p in &pieces {
                prop_assert!(p.len() <= max.max(innermost));
                prop_assert!(Hyperslab::new(p.ranges().to_vec(), &shape).is_ok());
            }
            let joined: Vec<Vec<usize>> = pieces.iter().flat_map(element_indices).collect();
            prop_assert_eq!(joined, element_indices(&h));
        }
    }
}
