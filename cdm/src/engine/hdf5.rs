//! Learning where an HDF5 dataset's bytes are, with the HDF5 library, once per file: its chunk
//! index (address, size, filter mask of every written chunk) or contiguous offset, its byte
//! order and its filter pipeline. Used for netCDF-4 files and plain HDF5 files alike.

use std::collections::HashMap;

use hdf5::datatype::ByteOrder;
use hdf5::filters::Filter as H5Filter;
use hdf5::types::TypeDescriptor;

use super::filters::{self, Filter, Pipeline};
use super::layout::{ChunkLayout, ChunkLoc, Locator};

/// Above this many written chunks the index is not built at open: HDF5 1.10 looks chunks up by
/// number in linear time, so building it would take too long; such variables use the library.
const MAX_INDEXED_CHUNKS: usize = 20_000;

/// Why the engine leaves a dataset to the library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsupported {
    /// A layout other than contiguous or chunked (compact, virtual, external).
    Layout,
    /// A filter the engine does not decode.
    Filter(String),
    /// An element type the engine does not copy as raw bytes.
    Type,
    /// Too many chunks to index at open.
    TooManyChunks,
}

/// The engine layout of `ds`, with an empty fill value for the caller to set. Call with the
/// library lock held.
///
/// # Errors
/// [`Unsupported`] when the dataset should be read through the library.
pub fn layout_of(ds: &hdf5::Dataset) -> Result<ChunkLayout, Unsupported> {
    let shape = ds.shape();
    let shape = shape.as_slice();
    let fill = Vec::new();
    let dtype = ds.dtype().map_err(|_| Unsupported::Type)?;
    let elem_size = dtype.size();
    match dtype.to_descriptor() {
        Ok(
            TypeDescriptor::Integer(_)
            | TypeDescriptor::Unsigned(_)
            | TypeDescriptor::Float(_)
            | TypeDescriptor::Enum(_)
            | TypeDescriptor::Boolean,
        ) => {}
        // netCDF `char` is a one-byte fixed string.
        Ok(TypeDescriptor::FixedAscii(1) | TypeDescriptor::FixedUnicode(1)) => {}
        _ => return Err(Unsupported::Type),
    }
    let big_endian = elem_size > 1 && dtype.byte_order() == ByteOrder::BigEndian;

    let mut filters = Vec::new();
    for f in ds.filters() {
        filters.push(match f {
            H5Filter::Deflate(_) => Filter::Deflate,
            H5Filter::Shuffle => Filter::Shuffle { elem_size },
            H5Filter::Fletcher32 => Filter::Fletcher32,
            H5Filter::User(id, cd) => Filter::from_hdf5(id, &cd, elem_size)
                .ok_or_else(|| Unsupported::Filter(filters::filter_name(id).to_owned()))?,
            other => {
                let id = other.id();
                Filter::from_hdf5(id, &[], elem_size)
                    .ok_or_else(|| Unsupported::Filter(filters::filter_name(id).to_owned()))?
            }
        });
    }

    match ds.layout() {
        hdf5::dataset::Layout::Contiguous => {
            if !filters.is_empty() {
                return Err(Unsupported::Layout);
            }
            // No offset means the dataset was never written: every element is the fill value.
            let mut l =
                ChunkLayout::contiguous(shape, elem_size, big_endian, ds.offset(), None, fill);
            l.big_endian = big_endian;
            Ok(l)
        }
        hdf5::dataset::Layout::Chunked => {
            let chunk = ds.chunk().ok_or(Unsupported::Layout)?;
            if chunk.len() != shape.len() || chunk.contains(&0) {
                return Err(Unsupported::Layout);
            }
            let n = ds.num_chunks().unwrap_or(0);
            if n > MAX_INDEXED_CHUNKS {
                return Err(Unsupported::TooManyChunks);
            }
            let mut layout = ChunkLayout {
                shape: shape.to_vec(),
                chunk,
                clipped: false,
                elem_size,
                big_endian,
                pipeline: Pipeline::new(filters),
                locator: Locator::Indexed(HashMap::new()),
                fill,
            };
            let mut index = HashMap::with_capacity(n);
            for i in 0..n {
                let info = ds.chunk_info(i).ok_or(Unsupported::Layout)?;
                let g: Vec<usize> = info
                    .offset
                    .iter()
                    .zip(&layout.chunk)
                    .map(|(&o, &c)| usize::try_from(o).unwrap_or(usize::MAX) / c)
                    .collect();
                if g.iter().zip(layout.grid()).any(|(&a, b)| a >= b) {
                    return Err(Unsupported::Layout);
                }
                index.insert(
                    layout.linear(&g),
                    ChunkLoc {
                        addr: info.addr,
                        size: info.size,
                        mask: info.filter_mask,
                    },
                );
            }
            layout.locator = Locator::Indexed(index);
            Ok(layout)
        }
        _ => Err(Unsupported::Layout),
    }
}

/// The layouts of every dataset in the file at `path` that the engine can read, by HDF5 path
/// (`/g/name`). Opens and closes the file itself; call with the library lock held and before
/// anything else opens the same file: HDF5 shares state between two opens of one file, and
/// closing one of them can leave the other's variable-length types pointing at freed memory.
///
/// # Errors
/// When HDF5 cannot open the file.
pub fn scan_file(path: &std::path::Path) -> hdf5::Result<HashMap<String, ChunkLayout>> {
    let file = crate::formats::hdf5::open_unlocked(path)?;
    let mut out = HashMap::new();
    scan_group(&file, "/", &mut out, 0);
    file.close()?;
    Ok(out)
}

fn scan_group(
    group: &hdf5::Group,
    path: &str,
    out: &mut HashMap<String, ChunkLayout>,
    depth: usize,
) {
    // Deeply nested (or cyclic, through hard links) groups are left to the library.
    if depth > 64 {
        return;
    }
    let Ok(names) = group.member_names() else {
        return;
    };
    for name in names {
        let child = crate::model::Group::child_path(path, &name);
        if let Ok(ds) = group.dataset(&name) {
            if let Ok(layout) = layout_of(&ds) {
                out.insert(child, layout);
            }
        } else if let Ok(g) = group.group(&name) {
            scan_group(&g, &child, out, depth + 1);
        }
    }
}
