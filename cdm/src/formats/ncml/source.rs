//! The virtual dataset an NcML file describes: its metadata, and for each variable where its
//! values come from (memory, one member, or pieces of many members along a join dimension).
//! Members that are plain files are opened through the catalog only when a read needs them.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use futures::StreamExt;

use super::values::Values;
use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::hyperslab::{Hyperslab, Range};
use crate::model::{DataType, Dataset};
use crate::source::{ByteStream, Source, error_stream};

/// A dataset that an aggregation draws from.
#[derive(Clone)]
pub(crate) enum Member {
    /// A file, opened through the catalog when first read (shared cache, one open per version).
    File {
        /// Canonical path.
        path: PathBuf,
        /// How to name it in messages (relative to the data root).
        label: String,
        catalog: Catalog,
    },
    /// A dataset already built (a virtual or edited `<netcdf>`, a nested aggregation).
    Built {
        source: Arc<dyn Source>,
        label: String,
    },
}

impl fmt::Debug for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl Member {
    /// The member's name for messages.
    pub(crate) fn label(&self) -> &str {
        match self {
            Self::File { label, .. } | Self::Built { label, .. } => label,
        }
    }

    /// The member's source, opening it if needed.
    pub(crate) async fn source(&self) -> Result<Arc<dyn Source>> {
        match self {
            Self::Built { source, .. } => Ok(Arc::clone(source)),
            Self::File {
                path,
                label,
                catalog,
            } => match catalog.open(path).await {
                Ok(entry) => Ok(Arc::clone(entry.source())),
                Err(e) => Err(Error::Ncml {
                    file: label.clone(),
                    message: format!("cannot open the member: {e}"),
                }),
            },
        }
    }
}

/// Where a variable's values come from.
// One per variable of a virtual dataset: the size of the larger variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub(crate) enum Origin {
    /// Held in memory.
    Memory(Arc<Values>),
    /// A variable of one member (a union, or a variable not joined).
    Member { member: Member, path: String },
    /// Pieces of members along the first dimension.
    Joined(Arc<Joined>),
}

/// A variable made of members' variables laid end to end along its first dimension.
#[derive(Debug)]
pub(crate) struct Joined {
    /// The pieces, in order along the first dimension.
    pub pieces: Vec<Piece>,
    /// joinNew: each member gives one index of a new first dimension (the member's variable
    /// lacks it); joinExisting: each member gives `len` indices of its own first dimension.
    pub new_dim: bool,
    /// The element type every member must have.
    pub dtype: DataType,
    /// The shape of each member's variable after the join dimension (joinExisting) or the whole
    /// shape (joinNew) — every member must have it.
    pub inner_shape: Vec<usize>,
}

/// One member's part of a joined variable.
#[derive(Debug)]
pub(crate) struct Piece {
    pub member: Member,
    /// The variable's path in the member.
    pub path: String,
    /// First index along the join dimension.
    pub offset: usize,
    /// Number of indices along the join dimension.
    pub len: usize,
}

/// The source an NcML file opens into.
pub(crate) struct VirtualSource {
    pub dataset: Arc<Dataset>,
    pub origins: HashMap<String, Origin>,
}

impl fmt::Debug for VirtualSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VirtualSource")
            .field("dataset", &self.dataset.name)
            .field("variables", &self.origins.len())
            .finish()
    }
}

impl Source for VirtualSource {
    fn dataset(&self) -> &Arc<Dataset> {
        &self.dataset
    }

    fn read(&self, path: &str, slab: &Hyperslab) -> ByteStream {
        let (Some(var), Some(origin)) = (self.dataset.variable(path), self.origins.get(path))
        else {
            return error_stream(Error::NoSuchVariable(path.to_owned()));
        };
        let shape = var.shape();
        if let Err(e) = Hyperslab::new(slab.ranges().to_vec(), &shape) {
            return error_stream(e.into());
        }
        match origin {
            Origin::Memory(values) => {
                let bytes = values.select(&shape, slab);
                Box::pin(futures::stream::once(async move { Ok(bytes) }))
            }
            Origin::Member { member, path } => {
                let (member, path, slab) = (member.clone(), path.clone(), slab.clone());
                let expected = (var.dtype.clone(), shape);
                Box::pin(
                    futures::stream::once(async move {
                        match member.source().await {
                            Ok(source) => match check_member(&*source, &member, &path, &expected) {
                                Ok(()) => source.read(&path, &slab),
                                Err(e) => error_stream(e),
                            },
                            Err(e) => error_stream(e),
                        }
                    })
                    .flatten(),
                )
            }
            Origin::Joined(joined) => read_joined(Arc::clone(joined), slab),
        }
    }
}

/// Refuses a member whose variable no longer has the type and shape the aggregation was built
/// with, rather than send bytes of the wrong size.
fn check_member(
    source: &dyn Source,
    member: &Member,
    path: &str,
    (dtype, shape): &(DataType, Vec<usize>),
) -> Result<()> {
    let Some(v) = source.dataset().variable(path) else {
        return Err(Error::Ncml {
            file: member.label().to_owned(),
            message: format!(
                "the member has no variable {}",
                path.trim_start_matches('/')
            ),
        });
    };
    if v.dtype != *dtype || v.shape() != *shape {
        return Err(Error::Ncml {
            file: member.label().to_owned(),
            message: format!(
                "variable {} is {} {:?} in this member, the aggregation expects {} {:?}",
                path.trim_start_matches('/'),
                v.dtype,
                v.shape(),
                dtype,
                shape
            ),
        });
    }
    Ok(())
}

/// The parts of `slab` each piece serves, in order, as (piece, slab in the member's variable).
fn plan(joined: &Joined, slab: &Hyperslab) -> Vec<(usize, Hyperslab)> {
    let ranges = slab.ranges();
    let Some(outer) = ranges.first().copied() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, piece) in joined.pieces.iter().enumerate() {
        let end = piece.offset + piece.len;
        if outer.count == 0 || outer.last() < piece.offset || outer.start >= end {
            continue;
        }
        // The first selected index at or after the piece's start.
        let first = if outer.start >= piece.offset {
            outer.start
        } else {
            let k = (piece.offset - outer.start).div_ceil(outer.stride);
            outer.start + k * outer.stride
        };
        if first >= end || first > outer.last() {
            continue;
        }
        let last = outer.last().min(end - 1);
        let count = (last - first) / outer.stride + 1;
        let mut member_ranges = Vec::with_capacity(ranges.len());
        if !joined.new_dim {
            member_ranges.push(Range {
                start: first - piece.offset,
                count,
                stride: if count == 1 { 1 } else { outer.stride },
            });
        }
        member_ranges.extend_from_slice(&ranges[1..]);
        let mut shape = Vec::with_capacity(ranges.len());
        if !joined.new_dim {
            shape.push(piece.len);
        }
        shape.extend_from_slice(&joined.inner_shape);
        if let Ok(s) = Hyperslab::new(member_ranges, &shape) {
            out.push((i, s));
        }
    }
    out
}

fn read_joined(joined: Arc<Joined>, slab: &Hyperslab) -> ByteStream {
    let parts = plan(&joined, slab);
    Box::pin(
        futures::stream::iter(parts)
            .then(move |(i, member_slab)| {
                let joined = Arc::clone(&joined);
                async move {
                    let Some(piece) = joined.pieces.get(i) else {
                        return error_stream(Error::Interrupted);
                    };
                    let mut shape = Vec::new();
                    if !joined.new_dim {
                        shape.push(piece.len);
                    }
                    shape.extend_from_slice(&joined.inner_shape);
                    let expected = (joined.dtype.clone(), shape);
                    match piece.member.source().await {
                        Ok(source) => {
                            match check_member(&*source, &piece.member, &piece.path, &expected) {
                                Ok(()) => source.read(&piece.path, &member_slab),
                                Err(e) => error_stream(e),
                            }
                        }
                        Err(e) => error_stream(e),
                    }
                }
            })
            .flatten(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(lens: &[usize], new_dim: bool) -> Joined {
        let mut offset = 0;
        let pieces = lens
            .iter()
            .map(|&len| {
                let p = Piece {
                    member: Member::Built {
                        source: Arc::new(VirtualSource {
                            dataset: Arc::new(Dataset {
                                name: String::new(),
                                format: crate::Format::Ncml,
                                root: crate::Group::default(),
                            }),
                            origins: HashMap::new(),
                        }),
                        label: String::new(),
                    },
                    path: "/v".into(),
                    offset,
                    len,
                };
                offset += len;
                p
            })
            .collect();
        Joined {
            pieces,
            new_dim,
            dtype: DataType::Int32,
            inner_shape: vec![2],
        }
    }

    fn r(start: usize, count: usize, stride: usize) -> Range {
        Range {
            start,
            count,
            stride,
        }
    }

    #[test]
    fn strided_selections_are_cut_at_member_boundaries() {
        // Members of 3, 4, 2, 1 (as Hyrax's joinExisting_virtual); indices 1, 3, 5, 7, 9.
        let j = joined(&[3, 4, 2, 1], false);
        let slab = Hyperslab::new(vec![r(1, 5, 2), r(0, 2, 1)], &[10, 2]).expect("fits");
        let got: Vec<(usize, Range)> = plan(&j, &slab)
            .into_iter()
            .map(|(i, s)| (i, s.ranges()[0]))
            .collect();
        assert_eq!(
            got,
            [
                (0, r(1, 1, 1)),
                (1, r(0, 2, 2)),
                (2, r(0, 1, 1)),
                (3, r(0, 1, 1))
            ]
        );
        // One index in the last member only.
        let slab = Hyperslab::new(vec![r(9, 1, 1), r(0, 2, 1)], &[10, 2]).expect("fits");
        assert_eq!(plan(&j, &slab).len(), 1);
        assert_eq!(plan(&j, &slab)[0].0, 3);
    }

    #[test]
    fn join_new_selects_whole_members() {
        let j = joined(&[1, 1, 1, 1], true);
        let slab = Hyperslab::new(vec![r(0, 2, 3), r(1, 1, 1)], &[4, 2]).expect("fits");
        let got: Vec<(usize, Vec<Range>)> = plan(&j, &slab)
            .into_iter()
            .map(|(i, s)| (i, s.ranges().to_vec()))
            .collect();
        assert_eq!(got, [(0, vec![r(1, 1, 1)]), (3, vec![r(1, 1, 1)])]);
    }
}
