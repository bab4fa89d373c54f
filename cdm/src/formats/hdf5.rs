//! The HDF5 source: plain HDF5 files (h5py output, HDF-EOS5, satellite products) read through
//! the HDF5 library (the `hdf5-metno` crate and its `-sys` bindings) into the [`Dataset`] model.
//!
//! # netCDF-4 or plain HDF5: decided by content
//!
//! [`crate::catalog::open`] sends every HDF5 file (whatever its name: `.nc`, `.h5`, `.he5`, …)
//! through [`is_netcdf4`] first. A file is netCDF-4 when
//!
//! 1. its root group has the `_NCProperties` (netCDF-C ≥ 4.4.1) or `_nc3_strict` attribute; or
//! 2. one of its datasets carries netCDF-C's bookkeeping attributes (`_Netcdf4Dimid`,
//!    `_Netcdf4Coordinates`) or is one of netCDF-C's dimension-only scales (a `NAME` starting
//!    "This is a netCDF dimension but not a netCDF variable"); or
//! 3. (older netCDF-C files carry none of these) every group tracks and indexes link and
//!    attribute creation order and every dataset tracks attribute creation order, as netCDF-C
//!    creates them and h5py, hdf5-metno and the HDF5 C API by default do not. An h5py file
//!    written with `track_order=True` on the file *and on every dataset* looks the same and is
//!    read by netCDF-C.
//!
//! At most 10 000 objects are examined. Such files go through the netCDF source, which reads
//! them with netCDF-4's own semantics (and which the DAP conformance of netCDF-4 files depends
//! on); should netCDF-C fail to open one, this source reads it instead. Every other HDF5 file is
//! read here.
//!
//! # What the model shows
//!
//! - Groups, nested, with their attributes; hard links only (a second hard link to a group
//!   already served, soft links and external links are left out, see below).
//! - Datasets of every numeric type (other sizes and float formats are converted by HDF5 to the
//!   nearest model type: `float16` → `Float32`, 3-byte integers → `Int32`…), bitfields (as
//!   unsigned integers), fixed- and variable-length strings (`String`; one-byte fixed strings
//!   are netCDF `Char`), compounds (→ `Structure`, nested, with array members as field shapes),
//!   enums, opaques, variable-length sequences, and arrays of these (an HDF5 array type adds
//!   its dimensions after the dataset's). Scalars are scalar variables.
//! - Named (committed) datatypes keep their names and are listed in their group; anonymous
//!   user-defined types are named as [`types`] describes.
//! - Attributes of files, groups and datasets, of all the types above. A fixed-length string
//!   attribute holding one string is text (`Char`), as netCDF-C reads it; variable-length and
//!   arrays of strings are `String`. A dataset whose fill value the writer set gets a
//!   `_FillValue` attribute (numeric types), as netCDF-C shows it.
//! - HDF5's dimension-scale bookkeeping is hidden, as netCDF-C hides it: `CLASS` (on scales),
//!   `NAME`, `REFERENCE_LIST`, `DIMENSION_LIST`, and netCDF's `_Netcdf4Dimid`,
//!   `_Netcdf4Coordinates`, `_NCProperties`, `_nc3_strict`.
//!
//! # Dimensions
//!
//! A 1-D dataset with `CLASS = "DIMENSION_SCALE"` defines a shared dimension named like the
//! dataset, in the dataset's group, of the dataset's length (unlimited when its maximum size
//! is); the dataset is that dimension's coordinate variable. A dataset's dimension with a scale
//! attached (`DIMENSION_LIST`, first scale of the list) uses that scale's dimension when the
//! lengths agree. Every other dimension (and the dimensions an HDF5 array type adds) gets a
//! *phony* dimension, named and numbered exactly as netCDF-C (and so ncdump, netCDF4-python and
//! h5netcdf) shows the file (see `walk::PhonyDims`): `phony_dim_<k>` with *k* counted across
//! the whole file after the scales, child groups before their parent, a group's dimensions of
//! the same length (and unlimitedness) shared between datasets, and a square dataset getting
//! two. Datasets whose attached scales leave a dimension uncovered (which netCDF-C cannot
//! open) get their phony dimensions last, so they never shift the names netCDF-C shows.
//!
//! # What is left out
//!
//! Datasets of object or region references (and of compounds or arrays containing them), of
//! HDF5 time types, with a null dataspace; attributes of those types; soft and external links;
//! repeated hard links to a group. The file still opens, and each group that lost something has
//! a `String` attribute `_fathom_omitted` with one line per object left out, `name: why`.
//!
//! # Reading values
//!
//! Datasets of fixed-size numeric or enum types stored contiguously or chunked are read by the
//! engine, without the library, when it decodes every filter of their pipeline: deflate,
//! shuffle, fletcher32, LZF, Blosc, Zstandard, bzip2, LZ4 and bitshuffle (see
//! [`crate::engine::filters`]). Their layout comes from [`crate::engine::hdf5::layout_of`] and
//! their fill value (what unwritten chunks read as) from the dataset's fill-value property,
//! converted to the canonical encoding. Everything else (strings, compounds, sequences,
//! opaques, compact storage, other filters such as szip) is read with `H5Dread` into the memory
//! type the mapper built, piece by piece on the blocking pool with the library lock held, and
//! converted to the canonical encoding; an early stop is an error, never a short read. A
//! dataset left to the library whose filter the library cannot decode either (no plugin) is
//! left out, and `_fathom_omitted` names the filter by number and name.
//!
//! # Files being written
//!
//! Files are opened read-only without HDF5's file lock ([`open_unlocked`]; the binary sets
//! `HDF5_USE_FILE_LOCKING=FALSE` for netCDF-C's opens), so the program producing a file can
//! append to it while it is served. A file whose mtime or size changed is opened afresh by the
//! next request (the catalog and the one-open registry).
//!
//! Every HDF5 call holds the process-wide library lock (`hdf5_sys::LOCK`, the same lock as
//! netCDF-C's), and the file is opened once per process through [`super::shared`].

mod types;
pub mod vfd;
mod walk;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use hdf5_sys::h5d::{H5Dget_space, H5Dread, H5Dvlen_reclaim};
use hdf5_sys::h5p::H5P_DEFAULT;
use hdf5_sys::h5s::{
    H5S_seloper_t, H5Sclose, H5Screate_simple, H5Sselect_all, H5Sselect_hyperslab,
};

use crate::engine::cache::ChunkCache;
use crate::engine::layout::ChunkLayout;
use crate::engine::{self, EngineReader};
use crate::error::{Error, Result};
use crate::hyperslab::{Hyperslab, Range};
use crate::model::Dataset;
use crate::source::{ByteStream, Source, blocking_pieces, error_stream};
use types::{Mapped, Native};

/// The group attribute listing what was left out of the model, one `name: why` line each.
pub const OMITTED_ATTRIBUTE: &str = "_fathom_omitted";

/// Attributes that are HDF5 or netCDF-C bookkeeping, never shown.
const HIDDEN_ATTRIBUTES: [&str; 7] = [
    "DIMENSION_LIST",
    "REFERENCE_LIST",
    "NAME",
    "_Netcdf4Dimid",
    "_Netcdf4Coordinates",
    "_NCProperties",
    "_nc3_strict",
];

/// Opens `path` read-only with HDF5, without taking HDF5's file lock: a program that writes the
/// file (a model appending its output, PyTables updating a table) must never be refused because
/// the server has it open. Consistency comes from the one-open registry instead, which reopens
/// a file whose mtime or size changed.
///
/// # Errors
/// When HDF5 cannot open the file.
pub(crate) fn open_unlocked(path: &Path) -> hdf5::Result<hdf5::File> {
    hdf5::File::with_options()
        .with_fapl(|fapl| fapl.file_locking(false))
        .open(path)
}

/// How netCDF-C marks a dimension scale that is a dimension without a variable.
const NETCDF_DIM_ONLY: &str = "This is a netCDF dimension but not a netCDF variable";

/// Whether the HDF5 file at `path` is netCDF-4 by content (see the module docs). Opens and
/// closes the file: call it only where nothing else in the process has it open (inside the
/// one-open registry's open).
///
/// # Errors
/// When HDF5 cannot open the file.
pub fn is_netcdf4(path: &Path) -> Result<bool> {
    let _lock = hdf5_sys::LOCK.lock();
    let file = open_unlocked(path).map_err(|_| Error::Open("HDF5 cannot open it".into()))?;
    Ok(netcdf4_by_content(&file))
}

/// Whether the open `file` is netCDF-4 by content (see the module docs). Call with the library
/// lock held.
fn netcdf4_by_content(file: &hdf5::File) -> bool {
    let root: &hdf5::Group = file;
    let names = root.attr_names().unwrap_or_default();
    if names
        .iter()
        .any(|n| n == "_NCProperties" || n == "_nc3_strict")
    {
        return true;
    }
    /// Objects looked at before deciding.
    const BUDGET: usize = 10_000;
    let mut budget = BUDGET;
    // netCDF-C creates every group tracking and indexing link and attribute creation order,
    // and every variable tracking attribute creation order; h5py and most HDF5 writers track
    // neither unless asked.
    // (The file's own id is not a group's: its creation list is the file's.)
    let mut netcdf_orders = root.group("/").is_ok_and(|g| group_tracks_orders(&g));
    let mut stack = vec![root.clone()];
    while let Some(group) = stack.pop() {
        let Ok(members) = group.member_names() else {
            continue;
        };
        for name in members {
            if budget == 0 {
                return netcdf_orders;
            }
            budget -= 1;
            if let Ok(ds) = group.dataset(&name) {
                let attrs = ds.attr_names().unwrap_or_default();
                if attrs
                    .iter()
                    .any(|a| a == "_Netcdf4Dimid" || a == "_Netcdf4Coordinates")
                {
                    return true;
                }
                if attrs.iter().any(|a| a == "NAME")
                    && let Ok(attr) = ds.attr("NAME")
                    && let Ok(text) = attr.read_scalar::<hdf5::types::FixedAscii<128>>()
                    && text.as_str().starts_with(NETCDF_DIM_ONLY)
                {
                    return true;
                }
                netcdf_orders = netcdf_orders && dataset_tracks_attribute_order(&ds);
            } else if let Ok(g) = group.group(&name)
                && stack.len() < 1024
            {
                netcdf_orders = netcdf_orders && group_tracks_orders(&g);
                stack.push(g);
            }
        }
    }
    netcdf_orders
}

/// Whether `group` tracks and indexes both link and attribute creation order, as netCDF-C
/// creates every group.
fn group_tracks_orders(group: &hdf5::Group) -> bool {
    use hdf5_sys::h5p::{
        H5P_CRT_ORDER_INDEXED, H5P_CRT_ORDER_TRACKED, H5Pclose, H5Pget_attr_creation_order,
        H5Pget_link_creation_order,
    };
    let want = H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED;
    // SAFETY: the group's creation property list, closed below; out-pointers.
    unsafe {
        let gcpl = hdf5_sys::h5g::H5Gget_create_plist(group.id());
        if gcpl < 0 {
            return false;
        }
        let (mut links, mut attrs) = (0, 0);
        let ok = H5Pget_link_creation_order(gcpl, &mut links) >= 0
            && H5Pget_attr_creation_order(gcpl, &mut attrs) >= 0;
        H5Pclose(gcpl);
        ok && links & want == want && attrs & want == want
    }
}

/// Whether `ds` tracks attribute creation order, as netCDF-C creates every variable.
fn dataset_tracks_attribute_order(ds: &hdf5::Dataset) -> bool {
    use hdf5_sys::h5p::{H5P_CRT_ORDER_TRACKED, H5Pclose, H5Pget_attr_creation_order};
    // SAFETY: the dataset's creation property list, closed below; out-pointer.
    unsafe {
        let dcpl = hdf5_sys::h5d::H5Dget_create_plist(ds.id());
        if dcpl < 0 {
            return false;
        }
        let mut attrs = 0;
        let ok = H5Pget_attr_creation_order(dcpl, &mut attrs) >= 0;
        H5Pclose(dcpl);
        ok && attrs & H5P_CRT_ORDER_TRACKED != 0
    }
}

/// What the source needs to read one variable.
#[derive(Debug)]
struct VarHandle {
    dataset: hdf5::Dataset,
    /// The dataset's own rank; the model's dimensions after it come from an HDF5 array type.
    ds_rank: usize,
    /// The model's shape.
    shape: Vec<usize>,
    mapped: Mapped,
    /// Where the engine finds the values, when it can read them.
    engine_layout: Option<ChunkLayout>,
}

/// An open HDF5 file: the library handle, the model, and how to read each variable. One per
/// file in the process (see [`super::shared`]).
#[derive(Debug)]
pub struct Hdf5File {
    // Fields drop in order: the datasets and types before the file that holds them.
    vars: HashMap<String, VarHandle>,
    dataset: Arc<Dataset>,
    /// Kept open for as long as anyone reads the file.
    _file: hdf5::File,
}

impl Drop for Hdf5File {
    fn drop(&mut self) {
        let _lock = hdf5_sys::LOCK.lock();
        self.vars.clear();
    }
}

impl Hdf5File {
    /// Opens `path` with HDF5 and builds its model. Callers go through the one-open registry.
    ///
    /// # Errors
    /// When HDF5 cannot open the file.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let _lock = hdf5_sys::LOCK.lock();
        let file = open_unlocked(path).map_err(|_| Error::Open("HDF5 cannot open it".into()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let walked = walk::walk(&file, name, false);
        Ok(Self {
            vars: walked.vars,
            dataset: Arc::new(walked.dataset),
            _file: file,
        })
    }

    /// Builds the model of a file opened some other way (through the ranged driver), named
    /// `name`. Call with the library lock held.
    ///
    /// A netCDF-4 file (by content) is walked with netCDF-C's view of it: `_FillValue` only
    /// where the file has that attribute. A netCDF-4 variable shorter than a dimension it
    /// uses (records not yet written along an unlimited dimension, which netCDF-C shows as
    /// fill values) cannot be shown as netCDF-C does: `None` then, naming it.
    fn from_file(file: hdf5::File, name: String) -> std::result::Result<Self, String> {
        let netcdf4 = netcdf4_by_content(&file);
        let walked = walk::walk(&file, name, netcdf4);
        if let Some(gap) = walked.netcdf_gaps.first() {
            return Err(format!(
                "netCDF-4 variable {gap} is shorter than its dimension, which only netCDF-C shows"
            ));
        }
        Ok(Self {
            vars: walked.vars,
            dataset: Arc::new(walked.dataset),
            _file: file,
        })
    }

    /// Reads one piece with the library and converts it to the canonical encoding.
    fn read_piece(&self, var: &VarHandle, slab: &Hyperslab) -> Result<Bytes> {
        if slab.is_empty() {
            return Ok(Bytes::new());
        }
        let (outer, inner) = slab.ranges().split_at(var.ds_rank);
        let n: usize = outer.iter().map(|r| r.count).product();
        let native = &var.mapped.native;
        let elem = native.size();
        let mut raw = vec![0u8; n * elem];
        let _lock = hdf5_sys::LOCK.lock();
        let id = var.dataset.id();
        // SAFETY: the dataset's dataspace and a 1-D memory space of `n` elements, closed below.
        let (file_space, mem_space) = unsafe {
            let dims = [n as u64];
            (
                H5Dget_space(id),
                H5Screate_simple(1, dims.as_ptr(), std::ptr::null()),
            )
        };
        let result = (|| -> Result<Bytes> {
            if file_space < 0 || mem_space < 0 {
                return Err(Error::Hdf5("cannot make dataspaces".into()));
            }
            let hs = |f: fn(&Range) -> usize| -> Vec<u64> {
                outer.iter().map(|r| f(r) as u64).collect()
            };
            let (start, stride, count) = (hs(|r| r.start), hs(|r| r.stride), hs(|r| r.count));
            // SAFETY: start/stride/count have one entry per dataset dimension (validated slab).
            let selected = unsafe {
                if outer.is_empty() {
                    H5Sselect_all(file_space)
                } else {
                    H5Sselect_hyperslab(
                        file_space,
                        H5S_seloper_t::H5S_SELECT_SET,
                        start.as_ptr(),
                        stride.as_ptr(),
                        count.as_ptr(),
                        std::ptr::null(),
                    )
                }
            };
            if selected < 0 {
                return Err(Error::Hdf5("cannot select the hyperslab".into()));
            }
            // SAFETY: `raw` holds `n` elements of the memory type.
            let status = unsafe {
                H5Dread(
                    id,
                    var.mapped.mem.0,
                    mem_space,
                    file_space,
                    H5P_DEFAULT,
                    raw.as_mut_ptr().cast(),
                )
            };
            if status < 0 {
                return Err(Error::Hdf5("H5Dread failed".into()));
            }
            let out = encode_elements(native, &raw, n, inner, &var.mapped.array_dims);
            if native.has_pointers() {
                // SAFETY: HDF5 filled `raw` for this memory space and type; reclaimed once.
                unsafe {
                    H5Dvlen_reclaim(
                        var.mapped.mem.0,
                        mem_space,
                        H5P_DEFAULT,
                        raw.as_mut_ptr().cast(),
                    )
                };
            }
            Ok(out)
        })();
        // SAFETY: closes the dataspaces made above (a failed one is negative and skipped).
        unsafe {
            if file_space >= 0 {
                H5Sclose(file_space);
            }
            if mem_space >= 0 {
                H5Sclose(mem_space);
            }
        }
        result
    }
}

/// Converts `n` elements in `raw` to the canonical encoding; for an HDF5 array type, only the
/// elements of each array that `inner` selects (over `array_dims`).
fn encode_elements(
    native: &Native,
    raw: &[u8],
    n: usize,
    inner: &[Range],
    array_dims: &[usize],
) -> Bytes {
    let elem = native.size();
    if matches!(native, Native::Plain { .. }) {
        return Bytes::copy_from_slice(&raw[..n * elem]);
    }
    let mut out = Vec::with_capacity(raw.len());
    match native {
        Native::Array { base, .. } if !array_dims.is_empty() => {
            // Element strides of the array, C order.
            let mut strides = vec![1usize; array_dims.len()];
            for d in (0..array_dims.len().saturating_sub(1)).rev() {
                strides[d] = strides[d + 1] * array_dims[d + 1];
            }
            let picks = Hyperslab::full(&inner.iter().map(|r| r.count).collect::<Vec<_>>());
            let total = picks.len();
            let step = base.size();
            for i in 0..n {
                let element = i * elem;
                let mut idx = vec![0usize; inner.len()];
                for _ in 0..total {
                    let linear: usize = idx
                        .iter()
                        .zip(inner)
                        .zip(&strides)
                        .map(|((&j, r), &s)| (r.start + j * r.stride) * s)
                        .sum();
                    // SAFETY: `linear` indexes an element inside the array at `element`.
                    unsafe { base.encode(raw.as_ptr().add(element + linear * step), &mut out) };
                    for d in (0..idx.len()).rev() {
                        idx[d] += 1;
                        if idx[d] < inner[d].count {
                            break;
                        }
                        idx[d] = 0;
                    }
                }
            }
        }
        _ => {
            for i in 0..n {
                // SAFETY: element `i` lies inside `raw`, written by HDF5.
                unsafe { native.encode(raw.as_ptr().add(i * elem), &mut out) };
            }
        }
    }
    Bytes::from(out)
}

/// The engine layout of a dataset whose elements are fixed-size numbers or enums the engine can
/// copy, with `fill` (canonical) as what unwritten storage reads as.
fn engine_layout(
    ds: &hdf5::Dataset,
    file_type: &hdf5::Datatype,
    mapped: &Mapped,
    fill: Option<Vec<u8>>,
) -> Option<ChunkLayout> {
    let Native::Plain { size } = mapped.native else {
        return None;
    };
    let numeric = mapped.dtype.is_numeric() || matches!(mapped.dtype, crate::DataType::Enum(_));
    if !numeric || !mapped.array_dims.is_empty() || !types::engine_copyable(file_type.id(), size) {
        return None;
    }
    let mut layout = engine::hdf5::layout_of(ds).ok()?;
    if layout.elem_size != size || layout.shape != ds.shape() {
        return None;
    }
    layout.fill = fill
        .filter(|f| f.len() == size)
        .unwrap_or_else(|| vec![0; size]);
    Some(layout)
}

/// A plain HDF5 file opened as a [`Source`].
#[derive(Debug, Clone)]
pub struct Hdf5Source {
    dataset: Arc<Dataset>,
    file: Arc<Hdf5File>,
    /// The read engine's view of the file, when it reads some variables.
    engine: Option<Arc<EngineReader>>,
}

impl Hdf5Source {
    /// Opens `path` as plain HDF5 (whatever it holds: this does not check for netCDF-4) and
    /// reads its metadata. Blocking: call from a blocking context.
    ///
    /// With a `cache`, the engine reads the variables it can through that shared chunk cache;
    /// the rest, and every variable without a cache, are read through the library.
    ///
    /// # Errors
    /// When HDF5 cannot open the file.
    pub fn open(path: &Path, cache: Option<&ChunkCache>) -> Result<Self> {
        let file = super::shared::open_shared(path, Hdf5File::open)?;
        Self::from_open(file, path, cache)
    }

    /// The source over a file already open (and registered as open) at `path`.
    pub(crate) fn from_open(
        file: Arc<Hdf5File>,
        path: &Path,
        cache: Option<&ChunkCache>,
    ) -> Result<Self> {
        let engine = match cache {
            Some(cache) => EngineReader::new(path, cache, engine_layouts(&file))?.map(Arc::new),
            None => None,
        };
        Ok(Self {
            dataset: Arc::clone(&file.dataset),
            file,
            engine,
        })
    }

    /// Opens the `size` bytes of `storage` (an object in a store) as HDF5 through the ranged
    /// driver ([`vfd`]): the library reads the metadata and chunk index by ranges through a
    /// page cache, the engine reads the data from `storage` through `cache`. Whatever the
    /// object holds is read as HDF5, netCDF-4 included. The file is not in the one-open
    /// registry (it has no path) and is never opened in a reader process. Blocking.
    ///
    /// # Errors
    /// [`vfd::RangedError`]: the store's error, an object HDF5 cannot open, or no driver.
    pub fn open_ranged(
        storage: Arc<dyn engine::storage::Storage>,
        size: u64,
        name: &str,
        cache: &ChunkCache,
    ) -> std::result::Result<(Self, Arc<vfd::PageCache>), vfd::RangedError> {
        let file = {
            let _lock = hdf5_sys::LOCK.lock();
            let (file, pages) = vfd::open(Arc::clone(&storage), size, name)?;
            let file = Hdf5File::from_file(file, name.to_owned())
                .map_err(vfd::RangedError::NotFaithful)?;
            (file, pages)
        };
        let (file, pages) = (Arc::new(file.0), file.1);
        let engine =
            EngineReader::from_storage(storage, cache, engine_layouts(&file)).map(Arc::new);
        Ok((
            Self {
                dataset: Arc::clone(&file.dataset),
                file,
                engine,
            },
            pages,
        ))
    }

    /// Whether the read engine (rather than the library) reads the variable at `path`.
    #[must_use]
    pub fn uses_engine(&self, path: &str) -> bool {
        self.engine.as_ref().is_some_and(|e| e.reads(path))
    }

    /// Reads through the HDF5 library even where the engine could: the fallback path, and the
    /// truth the engine is tested against.
    #[must_use]
    pub fn read_with_library(&self, path: &str, slab: &Hyperslab) -> ByteStream {
        let Some(var) = self.file.vars.get(path) else {
            return error_stream(Error::NoSuchVariable(path.to_owned()));
        };
        if let Err(e) = Hyperslab::new(slab.ranges().to_vec(), &var.shape) {
            return error_stream(e.into());
        }
        let elem = var.mapped.dtype.fixed_size().unwrap_or(64);
        let file = Arc::clone(&self.file);
        let path = path.to_owned();
        blocking_pieces(slab, elem, move |piece| match file.vars.get(&path) {
            Some(var) => file.read_piece(var, piece),
            None => Err(Error::NoSuchVariable(path.clone())),
        })
    }
}

impl Source for Hdf5Source {
    fn dataset(&self) -> &Arc<Dataset> {
        &self.dataset
    }

    fn read(&self, path: &str, slab: &Hyperslab) -> ByteStream {
        if let Some(stream) = self.engine.as_ref().and_then(|e| e.read(path, slab)) {
            return stream;
        }
        self.read_with_library(path, slab)
    }

    fn engine_layouts(&self) -> Vec<(String, ChunkLayout)> {
        engine_layouts(&self.file)
    }

    fn stored_chunks(&self, path: &str) -> Option<engine::StoredChunks> {
        self.engine.as_ref()?.stored_chunks(path)
    }
}

/// The layouts of the variables the engine reads, numbered in path order so that a variable
/// keeps its number across opens.
fn engine_layouts(file: &Hdf5File) -> Vec<(String, ChunkLayout)> {
    let mut layouts: Vec<(String, ChunkLayout)> = file
        .vars
        .iter()
        .filter_map(|(p, v)| Some((p.clone(), v.engine_layout.clone()?)))
        .collect();
    layouts.sort_by(|a, b| a.0.cmp(&b.0));
    layouts
}
