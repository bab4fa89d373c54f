//! The netCDF source: netCDF-3 (classic, 64-bit offset, CDF-5) and netCDF-4 files read through
//! the netCDF-C library.
//!
//! Metadata is read once, at open, into the [`Dataset`] model. Values are read with
//! `nc_get_vars` piece by piece on the blocking pool and converted from the library's native
//! memory layout (C structs, `char*` strings, `nc_vlen_t`) to the canonical encoding.
//!
//! Every call into the library holds the process-wide library lock (`netcdf_sys::libnetcdf_lock`,
//! the same lock the HDF5 bindings use): neither library is thread-safe.

use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use netcdf_sys as nc;

use crate::catalog::FileKind;
use crate::encoding::push_string;
use crate::engine::cache::ChunkCache;
use crate::engine::layout::ChunkLayout;
use crate::engine::storage::{FileStorage, Storage as _};
use crate::engine::{self, EngineReader};
use crate::error::{Error, Result};
use crate::hyperslab::{Hyperslab, Range};
use crate::model::{
    AttrValue, Attribute, DataType, Dataset, Dimension, EnumMember, EnumType, Field, Format, Group,
    OpaqueType, Storage, StructureType, VLenType, VarDim, Variable,
};
use crate::source::{ByteStream, Source, blocking_pieces, error_stream};

unsafe extern "C" {
    /// Frees the memory that strings and vlens inside `count` values of `xtype` point to (not the
    /// top-level buffer). Part of netCDF-C since 4.9.0; the Rust bindings do not declare it.
    fn nc_reclaim_data(ncid: c_int, xtype: nc::nc_type, memory: *mut c_void, count: usize)
    -> c_int;
}

/// Turns a netCDF status into a `Result`.
pub(crate) fn check(status: c_int) -> Result<()> {
    if status == nc::NC_NOERR {
        return Ok(());
    }
    // SAFETY: nc_strerror returns a pointer to a static, NUL-terminated message.
    let message = unsafe { CStr::from_ptr(nc::nc_strerror(status)) }
        .to_string_lossy()
        .into_owned();
    Err(Error::NetCdf {
        code: status,
        message,
    })
}

/// Runs `f` holding the library lock.
pub(crate) fn locked<T>(f: impl FnOnce() -> T) -> T {
    let _guard = nc::libnetcdf_lock.lock();
    f()
}

fn name_buf() -> Vec<u8> {
    vec![0u8; nc::NC_MAX_NAME as usize + 1]
}

fn name_from(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// How a type is laid out in the library's memory, for converting to the canonical encoding.
#[derive(Debug, Clone)]
enum Native {
    /// Fixed-size numbers or chars: `size` bytes each, copied (byte-swapped on big-endian hosts).
    Plain { size: usize },
    /// `char*`, NUL-terminated.
    String,
    /// `size` raw bytes.
    Opaque { size: usize },
    /// A C struct of `size` bytes with fields at offsets.
    Compound {
        size: usize,
        fields: Vec<NativeField>,
    },
    /// `nc_vlen_t { len, p }` pointing at elements of the base type.
    VLen { base: Box<Native> },
}

#[derive(Debug, Clone)]
struct NativeField {
    offset: usize,
    count: usize,
    native: Native,
}

impl Native {
    fn size(&self) -> usize {
        match self {
            Self::Plain { size } | Self::Opaque { size } | Self::Compound { size, .. } => *size,
            Self::String => std::mem::size_of::<*const c_char>(),
            Self::VLen { .. } => std::mem::size_of::<nc::nc_vlen_t>(),
        }
    }

    /// Whether values hold pointers the library allocated (and must reclaim).
    fn has_pointers(&self) -> bool {
        match self {
            Self::Plain { .. } | Self::Opaque { .. } => false,
            Self::String | Self::VLen { .. } => true,
            Self::Compound { fields, .. } => fields.iter().any(|f| f.native.has_pointers()),
        }
    }

    /// Appends one element at `src` to `out` in the canonical encoding.
    ///
    /// # Safety
    /// `src` must point at one valid element of this type as the library wrote it.
    unsafe fn encode(&self, src: *const u8, out: &mut Vec<u8>) {
        match self {
            Self::Plain { size } => {
                // SAFETY: the caller guarantees `size` readable bytes.
                let bytes = unsafe { std::slice::from_raw_parts(src, *size) };
                if cfg!(target_endian = "big") {
                    out.extend(bytes.iter().rev());
                } else {
                    out.extend_from_slice(bytes);
                }
            }
            Self::Opaque { size } => {
                // SAFETY: as above.
                let bytes = unsafe { std::slice::from_raw_parts(src, *size) };
                push_string(out, bytes);
            }
            Self::String => {
                // SAFETY: the element is a `char*` written by the library, possibly unaligned.
                let p = unsafe { src.cast::<*const c_char>().read_unaligned() };
                if p.is_null() {
                    push_string(out, b"");
                } else {
                    // SAFETY: a non-null library string is NUL-terminated.
                    push_string(out, unsafe { CStr::from_ptr(p) }.to_bytes());
                }
            }
            Self::Compound { fields, .. } => {
                for f in fields {
                    for i in 0..f.count {
                        // SAFETY: field offsets and counts come from the library's type info.
                        unsafe {
                            f.native
                                .encode(src.add(f.offset + i * f.native.size()), out)
                        };
                    }
                }
            }
            Self::VLen { base } => {
                // SAFETY: the element is an `nc_vlen_t` written by the library.
                let v = unsafe { src.cast::<nc::nc_vlen_t>().read_unaligned() };
                out.extend_from_slice(&(v.len as u64).to_le_bytes());
                let p = v.p.cast::<u8>().cast_const();
                for i in 0..v.len {
                    // SAFETY: `p` holds `len` elements of the base type.
                    unsafe { base.encode(p.add(i * base.size()), out) };
                }
            }
        }
    }
}

/// What the source needs to read one variable.
#[derive(Debug)]
struct VarHandle {
    grpid: c_int,
    varid: c_int,
    xtype: nc::nc_type,
    native: Native,
    dtype: DataType,
    shape: Vec<usize>,
}

/// An open netCDF file: the library handle, the model, and where the engine finds each
/// variable's bytes. One per file in the process (see [`super::shared`]).
#[derive(Debug)]
pub(crate) struct OpenFile {
    ncid: c_int,
    vars: HashMap<String, VarHandle>,
    dataset: Arc<Dataset>,
    /// Engine layouts of the variables the engine can read, learned at open.
    layouts: Vec<(String, ChunkLayout)>,
}

impl Drop for OpenFile {
    fn drop(&mut self) {
        // SAFETY: the ncid came from nc_open and is closed once, here.
        let _ = locked(|| unsafe { nc::nc_close(self.ncid) });
    }
}

/// A netCDF file opened as a [`Source`].
#[derive(Debug, Clone)]
pub struct NetcdfSource {
    dataset: Arc<Dataset>,
    file: Arc<OpenFile>,
    /// The read engine's view of the file, when it reads some variables.
    engine: Option<Arc<EngineReader>>,
}

impl NetcdfSource {
    /// Opens `path` and reads its metadata. Blocking: call from a blocking context.
    ///
    /// With a `cache`, the read engine learns where each variable's bytes are and reads them
    /// later without the library (through that shared cache); variables it cannot decode, and
    /// every variable without a cache, are read through the library.
    ///
    /// # Errors
    /// When the library cannot open the file or its metadata cannot be represented.
    pub fn open(path: &Path, cache: Option<&ChunkCache>) -> Result<Self> {
        let file = super::shared::open_shared(path, OpenFile::open)?;
        Self::from_open(file, path, cache)
    }

    /// The source over a file already open (and registered as open) at `path`.
    pub(crate) fn from_open(
        file: Arc<OpenFile>,
        path: &Path,
        cache: Option<&ChunkCache>,
    ) -> Result<Self> {
        let engine = match cache {
            Some(cache) => {
                EngineReader::new(path, cache, file.layouts.iter().cloned())?.map(Arc::new)
            }
            None => None,
        };
        Ok(Self {
            dataset: Arc::clone(&file.dataset),
            file,
            engine,
        })
    }
}

impl OpenFile {
    /// Opens `path` with the library and learns its model and engine layouts. Callers go
    /// through the one-open registry ([`super::shared`]).
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let cpath = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| Error::Open("path contains a NUL byte".into()))?;
        // HDF5 layouts are learned before netCDF opens the file (see `engine::hdf5::scan_file`).
        let hdf5_scan = if catalog_kind(path) == Some(FileKind::Hdf5) {
            locked(|| engine::hdf5::scan_file(path))
                .map_err(|e| tracing::debug!(error = %e, "no HDF5 layouts"))
                .ok()
        } else {
            None
        };
        let mut ncid = 0;
        // SAFETY: valid C string and out-pointer.
        locked(|| check(unsafe { nc::nc_open(cpath.as_ptr(), nc::NC_NOWRITE, &mut ncid) }))
            .map_err(|e| match e {
                Error::NetCdf { message, .. } => Error::Open(message),
                other => other,
            })?;
        // From here on the handle is closed on every path (Drop).
        let mut file = OpenFile {
            ncid,
            vars: HashMap::new(),
            dataset: Arc::new(Dataset {
                name: String::new(),
                format: Format::NetCdf3Classic,
                root: Group::default(),
            }),
            layouts: Vec::new(),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dataset = locked(|| Reader::new(ncid).read_dataset(name, &mut file.vars))?;
        file.layouts = engine_layouts(path, &dataset, hdf5_scan).unwrap_or_else(|e| {
            tracing::debug!(error = %e, "the read engine leaves this file to the library");
            Vec::new()
        });
        file.dataset = Arc::new(dataset);
        Ok(file)
    }
}

/// Walks a file's metadata (with the lock held) into the model.
struct Reader {
    ncid: c_int,
    /// Every dimension by id: ids are unique in a file.
    dims: HashMap<c_int, Dimension>,
    /// User-defined types by id, with their native layout.
    types: HashMap<nc::nc_type, (DataType, Native)>,
    /// The group each user-defined type is defined in, by id.
    type_groups: HashMap<nc::nc_type, (c_int, String)>,
    /// How deep inside nested user-defined types the reader is now.
    type_depth: usize,
}

/// User-defined types nested deeper than this are refused: real files nest a few levels, and
/// every reader and encoder walks a type recursively.
const MAX_TYPE_DEPTH: usize = 32;

impl Reader {
    fn new(ncid: c_int) -> Self {
        Self {
            ncid,
            dims: HashMap::new(),
            types: HashMap::new(),
            type_groups: HashMap::new(),
            type_depth: 0,
        }
    }

    fn read_dataset(
        mut self,
        name: String,
        vars: &mut HashMap<String, VarHandle>,
    ) -> Result<Dataset> {
        let (mut fmt, mut mode) = (0, 0);
        // SAFETY: out-pointers.
        check(unsafe { nc::nc_inq_format_extended(self.ncid, &mut fmt, &mut mode) })?;
        let mut format_num = 0;
        // SAFETY: out-pointer.
        check(unsafe { nc::nc_inq_format(self.ncid, &mut format_num) })?;
        let format = match format_num {
            nc::NC_FORMAT_CLASSIC => Format::NetCdf3Classic,
            nc::NC_FORMAT_64BIT_OFFSET => Format::NetCdf364BitOffset,
            nc::NC_FORMAT_64BIT_DATA => Format::NetCdf5,
            nc::NC_FORMAT_NETCDF4_CLASSIC => Format::NetCdf4Classic,
            nc::NC_FORMAT_NETCDF4 => Format::NetCdf4,
            other => return Err(Error::Unsupported(format!("netCDF format {other}"))),
        };
        let netcdf4 = matches!(format, Format::NetCdf4 | Format::NetCdf4Classic);
        if netcdf4 {
            self.find_type_groups(self.ncid, "/")?;
        }
        let root = self.read_group(self.ncid, String::new(), "/".into(), netcdf4, vars)?;
        Ok(Dataset { name, format, root })
    }

    /// Records in which group each user-defined type lives, so types can be named by path.
    fn find_type_groups(&mut self, grpid: c_int, path: &str) -> Result<()> {
        for t in ids(|n, p| unsafe { nc::nc_inq_typeids(grpid, n, p) })? {
            self.type_groups.insert(t, (grpid, path.to_owned()));
        }
        for child in ids(|n, p| unsafe { nc::nc_inq_grps(grpid, n, p) })? {
            let mut buf = name_buf();
            // SAFETY: buffer of NC_MAX_NAME + 1 bytes.
            check(unsafe { nc::nc_inq_grpname(child, buf.as_mut_ptr().cast()) })?;
            let child_path = Group::child_path(path, &name_from(&buf));
            self.find_type_groups(child, &child_path)?;
        }
        Ok(())
    }

    fn read_group(
        &mut self,
        grpid: c_int,
        name: String,
        path: String,
        netcdf4: bool,
        vars: &mut HashMap<String, VarHandle>,
    ) -> Result<Group> {
        // Dimensions defined here (not the parents').
        let unlimited: Vec<c_int> = if netcdf4 {
            ids(|n, p| unsafe { nc::nc_inq_unlimdims(grpid, n, p) })?
        } else {
            let mut id = -1;
            // SAFETY: out-pointer.
            check(unsafe { nc::nc_inq_unlimdim(grpid, &mut id) })?;
            if id >= 0 { vec![id] } else { vec![] }
        };
        let dim_ids = ids(|n, p| unsafe { nc::nc_inq_dimids(grpid, n, p, 0) })?;
        let mut dimensions = Vec::with_capacity(dim_ids.len());
        for id in dim_ids {
            let mut buf = name_buf();
            let mut len = 0usize;
            // SAFETY: name buffer and out-pointer.
            check(unsafe { nc::nc_inq_dim(grpid, id, buf.as_mut_ptr().cast(), &mut len) })?;
            let dname = name_from(&buf);
            let dim = Dimension {
                path: Group::child_path(&path, &dname),
                name: dname,
                len,
                unlimited: unlimited.contains(&id),
            };
            self.dims.insert(id, dim.clone());
            dimensions.push(dim);
        }

        let mut types = Vec::new();
        if netcdf4 {
            for t in ids(|n, p| unsafe { nc::nc_inq_typeids(grpid, n, p) })? {
                types.push(self.dtype(t)?.0);
            }
        }

        let attributes = self.read_attributes(grpid, nc::NC_GLOBAL)?;

        let mut variables = Vec::new();
        for varid in ids(|n, p| unsafe { nc::nc_inq_varids(grpid, n, p) })? {
            let (var, handle) = self.read_variable(grpid, varid, &path, netcdf4)?;
            vars.insert(var.path.clone(), handle);
            variables.push(var);
        }

        let mut groups = Vec::new();
        if netcdf4 {
            for child in ids(|n, p| unsafe { nc::nc_inq_grps(grpid, n, p) })? {
                let mut buf = name_buf();
                // SAFETY: name buffer.
                check(unsafe { nc::nc_inq_grpname(child, buf.as_mut_ptr().cast()) })?;
                let cname = name_from(&buf);
                let cpath = Group::child_path(&path, &cname);
                groups.push(self.read_group(child, cname, cpath, netcdf4, vars)?);
            }
        }

        Ok(Group {
            name,
            path,
            dimensions,
            types,
            variables,
            attributes,
            groups,
        })
    }

    fn read_variable(
        &mut self,
        grpid: c_int,
        varid: c_int,
        group_path: &str,
        netcdf4: bool,
    ) -> Result<(Variable, VarHandle)> {
        let mut buf = name_buf();
        let (mut xtype, mut ndims, mut natts) = (0, 0, 0);
        // SAFETY: name buffer and out-pointers; dimids fetched separately below.
        check(unsafe {
            nc::nc_inq_var(
                grpid,
                varid,
                buf.as_mut_ptr().cast(),
                &mut xtype,
                &mut ndims,
                std::ptr::null_mut(),
                &mut natts,
            )
        })?;
        let name = name_from(&buf);
        let mut dimids = vec![0 as c_int; usize::try_from(ndims).unwrap_or(0)];
        // SAFETY: dimids holds ndims entries.
        check(unsafe { nc::nc_inq_vardimid(grpid, varid, dimids.as_mut_ptr()) })?;
        let mut dims = Vec::with_capacity(dimids.len());
        for id in &dimids {
            let dim = match self.dims.get(id) {
                Some(d) => d.clone(),
                // A dimension not met yet (defined in a group walked later): ask directly.
                None => self.lookup_dim(grpid, *id)?,
            };
            dims.push(VarDim::shared(&dim));
        }
        let (dtype, native) = self.dtype(xtype)?;
        let attributes = self.read_attributes(grpid, varid)?;
        let storage = if netcdf4 {
            read_storage(grpid, varid, dims.len())?
        } else {
            Storage::default()
        };
        let path = Group::child_path(group_path, &name);
        let shape = dims.iter().map(|d| d.len).collect();
        Ok((
            Variable {
                name,
                path,
                dtype: dtype.clone(),
                dims,
                attributes,
                storage,
            },
            VarHandle {
                grpid,
                varid,
                xtype,
                native,
                dtype,
                shape,
            },
        ))
    }

    fn lookup_dim(&mut self, grpid: c_int, id: c_int) -> Result<Dimension> {
        let mut buf = name_buf();
        let mut len = 0usize;
        // SAFETY: name buffer and out-pointer.
        check(unsafe { nc::nc_inq_dim(grpid, id, buf.as_mut_ptr().cast(), &mut len) })?;
        let name = name_from(&buf);
        Ok(Dimension {
            path: format!("/{name}"),
            name,
            len,
            unlimited: false,
        })
    }

    /// The model type and native layout of type id `xtype`.
    fn dtype(&mut self, xtype: nc::nc_type) -> Result<(DataType, Native)> {
        let plain = |size| Native::Plain { size };
        let atomic = match xtype {
            nc::NC_BYTE => Some((DataType::Int8, plain(1))),
            nc::NC_UBYTE => Some((DataType::UInt8, plain(1))),
            nc::NC_CHAR => Some((DataType::Char, plain(1))),
            nc::NC_SHORT => Some((DataType::Int16, plain(2))),
            nc::NC_USHORT => Some((DataType::UInt16, plain(2))),
            nc::NC_INT => Some((DataType::Int32, plain(4))),
            nc::NC_UINT => Some((DataType::UInt32, plain(4))),
            nc::NC_INT64 => Some((DataType::Int64, plain(8))),
            nc::NC_UINT64 => Some((DataType::UInt64, plain(8))),
            nc::NC_FLOAT => Some((DataType::Float32, plain(4))),
            nc::NC_DOUBLE => Some((DataType::Float64, plain(8))),
            nc::NC_STRING => Some((DataType::String, Native::String)),
            _ => None,
        };
        if let Some(t) = atomic {
            return Ok(t);
        }
        if let Some(t) = self.types.get(&xtype) {
            return Ok(t.clone());
        }
        if self.type_depth >= MAX_TYPE_DEPTH {
            return Err(Error::Unsupported(format!(
                "types nested more than {MAX_TYPE_DEPTH} levels deep"
            )));
        }
        self.type_depth += 1;
        let t = self.user_type(xtype);
        self.type_depth -= 1;
        let t = t?;
        self.types.insert(xtype, t.clone());
        Ok(t)
    }

    fn user_type(&mut self, xtype: nc::nc_type) -> Result<(DataType, Native)> {
        let mut buf = name_buf();
        let (mut size, mut base, mut nfields, mut class) = (0usize, 0, 0usize, 0);
        // SAFETY: name buffer and out-pointers.
        check(unsafe {
            nc::nc_inq_user_type(
                self.ncid,
                xtype,
                buf.as_mut_ptr().cast(),
                &mut size,
                &mut base,
                &mut nfields,
                &mut class,
            )
        })?;
        let name = name_from(&buf);
        let (grpid, group_path) = self
            .type_groups
            .get(&xtype)
            .cloned()
            .unwrap_or((self.ncid, "/".into()));
        let path = Group::child_path(&group_path, &name);
        match class {
            nc::NC_OPAQUE => Ok((
                DataType::Opaque(Arc::new(OpaqueType { name, path, size })),
                Native::Opaque { size },
            )),
            nc::NC_VLEN => {
                let (base_type, base_native) = self.dtype(base)?;
                Ok((
                    DataType::VLen(Arc::new(VLenType {
                        name,
                        path,
                        base: base_type,
                    })),
                    Native::VLen {
                        base: Box::new(base_native),
                    },
                ))
            }
            nc::NC_ENUM => {
                let (base_type, base_native) = self.dtype(base)?;
                let mut members = Vec::with_capacity(nfields);
                for i in 0..nfields {
                    let mut mbuf = name_buf();
                    let mut value = [0u8; 8];
                    // SAFETY: name buffer and an 8-byte value buffer (the largest base type).
                    check(unsafe {
                        nc::nc_inq_enum_member(
                            grpid,
                            xtype,
                            c_int::try_from(i).unwrap_or(c_int::MAX),
                            mbuf.as_mut_ptr().cast(),
                            value.as_mut_ptr().cast(),
                        )
                    })?;
                    members.push(EnumMember {
                        name: name_from(&mbuf),
                        value: crate::encoding::integer_value(&base_type, &value, false),
                    });
                }
                Ok((
                    DataType::Enum(Arc::new(EnumType {
                        name,
                        path,
                        base: base_type,
                        members,
                    })),
                    base_native,
                ))
            }
            nc::NC_COMPOUND => {
                let mut fields = Vec::with_capacity(nfields);
                let mut native_fields = Vec::with_capacity(nfields);
                for i in 0..nfields {
                    let mut fbuf = name_buf();
                    let (mut offset, mut ftype, mut fndims) = (0usize, 0, 0);
                    let fieldid = c_int::try_from(i).unwrap_or(c_int::MAX);
                    // SAFETY: name buffer and out-pointers; dim sizes fetched below.
                    check(unsafe {
                        nc::nc_inq_compound_field(
                            self.ncid,
                            xtype,
                            fieldid,
                            fbuf.as_mut_ptr().cast(),
                            &mut offset,
                            &mut ftype,
                            &mut fndims,
                            std::ptr::null_mut(),
                        )
                    })?;
                    let mut shape = vec![0 as c_int; usize::try_from(fndims).unwrap_or(0)];
                    if !shape.is_empty() {
                        // SAFETY: `shape` holds fndims entries.
                        check(unsafe {
                            nc::nc_inq_compound_fielddim_sizes(
                                self.ncid,
                                xtype,
                                fieldid,
                                shape.as_mut_ptr(),
                            )
                        })?;
                    }
                    let shape: Vec<usize> = shape
                        .iter()
                        .map(|&n| usize::try_from(n).unwrap_or(0))
                        .collect();
                    let (fdtype, fnative) = self.dtype(ftype)?;
                    native_fields.push(NativeField {
                        offset,
                        count: shape.iter().product(),
                        native: fnative,
                    });
                    fields.push(Field {
                        name: name_from(&fbuf),
                        dtype: fdtype,
                        shape,
                    });
                }
                Ok((
                    DataType::Structure(Arc::new(StructureType { name, path, fields })),
                    Native::Compound {
                        size,
                        fields: native_fields,
                    },
                ))
            }
            other => Err(Error::Unsupported(format!("netCDF type class {other}"))),
        }
    }

    fn read_attributes(&mut self, grpid: c_int, varid: c_int) -> Result<Vec<Attribute>> {
        let mut natts = 0;
        // SAFETY: out-pointer.
        check(unsafe { nc::nc_inq_varnatts(grpid, varid, &mut natts) })?;
        let mut out = Vec::with_capacity(usize::try_from(natts).unwrap_or(0));
        for i in 0..natts {
            let mut buf = name_buf();
            // SAFETY: name buffer.
            check(unsafe { nc::nc_inq_attname(grpid, varid, i, buf.as_mut_ptr().cast()) })?;
            let name = name_from(&buf);
            let value = self.read_attribute(grpid, varid, &buf)?;
            out.push(Attribute { name, value });
        }
        Ok(out)
    }

    fn read_attribute(&mut self, grpid: c_int, varid: c_int, cname: &[u8]) -> Result<AttrValue> {
        let (mut xtype, mut len) = (0, 0usize);
        let name = cname.as_ptr().cast::<c_char>();
        // SAFETY: NUL-terminated name, out-pointers.
        check(unsafe { nc::nc_inq_att(grpid, varid, name, &mut xtype, &mut len) })?;
        macro_rules! numeric {
            ($variant:ident, $t:ty) => {{
                let mut v: Vec<$t> = vec![<$t>::default(); len];
                // SAFETY: `v` holds `len` values of the attribute's own type.
                check(unsafe { nc::nc_get_att(grpid, varid, name, v.as_mut_ptr().cast()) })?;
                AttrValue::$variant(v)
            }};
        }
        Ok(match xtype {
            nc::NC_BYTE => numeric!(Int8, i8),
            nc::NC_UBYTE => numeric!(UInt8, u8),
            nc::NC_SHORT => numeric!(Int16, i16),
            nc::NC_USHORT => numeric!(UInt16, u16),
            nc::NC_INT => numeric!(Int32, i32),
            nc::NC_UINT => numeric!(UInt32, u32),
            nc::NC_INT64 => numeric!(Int64, i64),
            nc::NC_UINT64 => numeric!(UInt64, u64),
            nc::NC_FLOAT => numeric!(Float32, f32),
            nc::NC_DOUBLE => numeric!(Float64, f64),
            nc::NC_CHAR => {
                let mut v = vec![0u8; len];
                // SAFETY: `v` holds `len` chars.
                check(unsafe { nc::nc_get_att(grpid, varid, name, v.as_mut_ptr().cast()) })?;
                // Text attributes are often written with their C terminator; drop trailing NULs
                // as ncdump does.
                while v.last() == Some(&0) {
                    v.pop();
                }
                AttrValue::Char(v)
            }
            nc::NC_STRING => {
                let mut ptrs: Vec<*mut c_char> = vec![std::ptr::null_mut(); len];
                // SAFETY: `ptrs` holds `len` string pointers, freed below.
                check(unsafe { nc::nc_get_att(grpid, varid, name, ptrs.as_mut_ptr().cast()) })?;
                let strings = ptrs
                    .iter()
                    .map(|&p| {
                        if p.is_null() {
                            String::new()
                        } else {
                            // SAFETY: library strings are NUL-terminated.
                            unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
                        }
                    })
                    .collect();
                // SAFETY: the pointers were allocated by the library for this call.
                check(unsafe { nc::nc_free_string(len, ptrs.as_mut_ptr()) })?;
                AttrValue::String(strings)
            }
            _ => {
                let (dtype, native) = self.dtype(xtype)?;
                let mut raw = vec![0u8; len * native.size()];
                // SAFETY: `raw` holds `len` values of the type's native size.
                check(unsafe { nc::nc_get_att(grpid, varid, name, raw.as_mut_ptr().cast()) })?;
                let mut data = Vec::new();
                for i in 0..len {
                    // SAFETY: element `i` lies inside `raw`.
                    unsafe { native.encode(raw.as_ptr().add(i * native.size()), &mut data) };
                }
                if native.has_pointers() {
                    // SAFETY: the values were filled by the library and are reclaimed once.
                    check(unsafe {
                        nc_reclaim_data(self.ncid, xtype, raw.as_mut_ptr().cast(), len)
                    })?;
                }
                AttrValue::Typed {
                    dtype,
                    count: len,
                    data,
                }
            }
        })
    }
}

/// Reads a netCDF-4 variable's chunking and filters.
fn read_storage(grpid: c_int, varid: c_int, rank: usize) -> Result<Storage> {
    let mut storage = Storage::default();
    let mut kind = 0;
    let mut chunks = vec![0usize; rank.max(1)];
    // SAFETY: `chunks` holds at least `rank` entries.
    check(unsafe { nc::nc_inq_var_chunking(grpid, varid, &mut kind, chunks.as_mut_ptr()) })?;
    if kind == nc::NC_CHUNKED && rank > 0 {
        chunks.truncate(rank);
        storage.chunks = Some(chunks);
    }
    let (mut shuffle, mut deflate, mut level) = (0, 0, 0);
    // SAFETY: out-pointers.
    check(unsafe { nc::nc_inq_var_deflate(grpid, varid, &mut shuffle, &mut deflate, &mut level) })?;
    storage.shuffle = shuffle != 0;
    if deflate != 0 {
        storage.deflate = u32::try_from(level).ok();
    }
    let mut fletcher = 0;
    // SAFETY: out-pointer.
    check(unsafe { nc::nc_inq_var_fletcher32(grpid, varid, &mut fletcher) })?;
    storage.fletcher32 = fletcher != 0;
    Ok(storage)
}

/// Calls a netCDF "list of ids" function twice: once for the count, once for the ids.
fn ids(mut f: impl FnMut(*mut c_int, *mut c_int) -> c_int) -> Result<Vec<c_int>> {
    let mut n = 0;
    check(f(&mut n, std::ptr::null_mut()))?;
    let mut out = vec![0 as c_int; usize::try_from(n).unwrap_or(0)];
    if !out.is_empty() {
        check(f(&mut n, out.as_mut_ptr()))?;
        out.truncate(usize::try_from(n).unwrap_or(0));
    }
    Ok(out)
}

impl OpenFile {
    /// Reads one piece with the library and converts it to the canonical encoding.
    fn read_piece(&self, var: &VarHandle, slab: &Hyperslab) -> Result<Bytes> {
        let netcdf4 = matches!(
            self.dataset.format,
            Format::NetCdf4 | Format::NetCdf4Classic
        );
        if netcdf4 && slab.ranges().iter().any(|r| r.stride > 1 && r.count > 1) {
            return self.read_strided_piece(var, slab);
        }
        self.read_piece_as_given(var, slab)
    }

    /// A strided piece of a netCDF-4 variable, without asking the library for a stride.
    ///
    /// netCDF-C 4.9.0 returns only fill values for a strided `nc_get_vars` that reaches past the
    /// records a variable has actually written (a variable with fewer records than its
    /// unlimited dimension), where a stride-1 read of the same region is right. So the dims
    /// before the last strided one are read one index at a time, the last strided one as its
    /// stride-1 span, and the selected rows are kept.
    fn read_strided_piece(&self, var: &VarHandle, slab: &Hyperslab) -> Result<Bytes> {
        let ranges = slab.ranges();
        let Some(d) = ranges.iter().rposition(|r| r.stride > 1 && r.count > 1) else {
            return self.read_piece_as_given(var, slab);
        };
        let along = ranges[d];
        let span = Range {
            start: along.start,
            count: along.last() - along.start + 1,
            stride: 1,
        };
        // Elements in one index of dim `d` (everything inside it).
        let row: usize = ranges[d + 1..].iter().map(|r| r.count).product();
        let mut out = Vec::new();
        let outer = &ranges[..d];
        let mut idx = vec![0usize; d];
        let total: usize = outer.iter().map(|r| r.count).product();
        for _ in 0..total {
            let mut sub: Vec<Range> = outer
                .iter()
                .zip(&idx)
                .map(|(r, &i)| Range {
                    start: r.start + i * r.stride,
                    count: 1,
                    stride: 1,
                })
                .collect();
            sub.push(span);
            sub.extend_from_slice(&ranges[d + 1..]);
            let block = self.read_piece_as_given(var, &Hyperslab::new(sub, &var.shape)?)?;
            // Keep rows 0, stride, 2·stride, … of the span.
            let mut pos = 0usize;
            for r in 0..span.count {
                let len = crate::encoding::elements_len(&var.dtype, row, &block[pos..])?;
                if r % along.stride == 0 {
                    out.extend_from_slice(&block[pos..pos + len]);
                }
                pos += len;
            }
            for k in (0..d).rev() {
                idx[k] += 1;
                if idx[k] < outer[k].count {
                    break;
                }
                idx[k] = 0;
            }
        }
        Ok(Bytes::from(out))
    }

    /// Reads one piece with the library exactly as given.
    fn read_piece_as_given(&self, var: &VarHandle, slab: &Hyperslab) -> Result<Bytes> {
        let n = slab.len();
        let elem = var.native.size();
        let mut raw = vec![0u8; n * elem];
        if n == 0 {
            return Ok(Bytes::new());
        }
        let start: Vec<usize> = slab.ranges().iter().map(|r| r.start).collect();
        let count: Vec<usize> = slab.ranges().iter().map(|r| r.count).collect();
        let stride: Vec<isize> = slab
            .ranges()
            .iter()
            .map(|r| isize::try_from(r.stride).unwrap_or(isize::MAX))
            .collect();
        locked(|| -> Result<Bytes> {
            // SAFETY: start/count/stride have one entry per dimension (validated slab), and `raw`
            // holds count-product elements of the variable's native size.
            check(unsafe {
                nc::nc_get_vars(
                    var.grpid,
                    var.varid,
                    start.as_ptr(),
                    count.as_ptr(),
                    stride.as_ptr(),
                    raw.as_mut_ptr().cast(),
                )
            })?;
            if matches!(var.native, Native::Plain { .. }) && cfg!(target_endian = "little") {
                return Ok(Bytes::from(raw));
            }
            let mut out = Vec::with_capacity(raw.len());
            for i in 0..n {
                // SAFETY: element `i` lies inside `raw`, written by the library.
                unsafe { var.native.encode(raw.as_ptr().add(i * elem), &mut out) };
            }
            if var.native.has_pointers() {
                // SAFETY: the library filled `raw`; its nested memory is reclaimed once.
                check(unsafe {
                    nc_reclaim_data(self.ncid, var.xtype, raw.as_mut_ptr().cast(), n)
                })?;
            }
            Ok(Bytes::from(out))
        })
    }
}

impl NetcdfSource {
    /// Whether the read engine (rather than the library) reads the variable at `path`.
    #[must_use]
    pub fn uses_engine(&self, path: &str) -> bool {
        self.engine.as_ref().is_some_and(|e| e.reads(path))
    }
}

impl Source for NetcdfSource {
    fn dataset(&self) -> &Arc<Dataset> {
        &self.dataset
    }

    fn read(&self, path: &str, slab: &Hyperslab) -> ByteStream {
        if let Some(stream) = self.engine.as_ref().and_then(|e| e.read(path, slab)) {
            return stream;
        }
        self.read_with_library(path, slab)
    }

    fn engine_layouts(&self) -> Vec<(String, crate::engine::layout::ChunkLayout)> {
        self.file.layouts.clone()
    }

    fn stored_chunks(&self, path: &str) -> Option<engine::StoredChunks> {
        self.engine.as_ref()?.stored_chunks(path)
    }
}

impl NetcdfSource {
    /// Reads through netCDF-C even where the engine could: the fallback path, and the truth the
    /// engine is tested against.
    #[must_use]
    pub fn read_with_library(&self, path: &str, slab: &Hyperslab) -> ByteStream {
        let Some(var) = self.file.vars.get(path) else {
            return error_stream(Error::NoSuchVariable(path.to_owned()));
        };
        if let Err(e) = Hyperslab::new(slab.ranges().to_vec(), &var.shape) {
            return error_stream(e.into());
        }
        let elem = var.dtype.fixed_size().unwrap_or(64);
        let file = Arc::clone(&self.file);
        let path = path.to_owned();
        blocking_pieces(slab, elem, move |piece| match file.vars.get(&path) {
            Some(var) => file.read_piece(var, piece),
            None => Err(Error::NoSuchVariable(path.clone())),
        })
    }
}

/// Whether the engine can copy values of `dtype` as raw fixed-size elements.
fn engine_type(dtype: &DataType) -> Option<usize> {
    match dtype {
        DataType::Structure(_) | DataType::String | DataType::Opaque(_) | DataType::VLen(_) => None,
        t => t.fixed_size(),
    }
}

/// Engine layouts of the variables the engine can read, by variable path: from the netCDF-3
/// header, or from the HDF5 chunk index of a netCDF-4 file.
fn engine_layouts(
    path: &Path,
    ds: &Dataset,
    hdf5_scan: Option<HashMap<String, ChunkLayout>>,
) -> Result<Vec<(String, ChunkLayout)>> {
    match ds.format {
        Format::NetCdf3Classic | Format::NetCdf364BitOffset | Format::NetCdf5 => {
            nc3_layouts(path, ds)
        }
        Format::NetCdf4 | Format::NetCdf4Classic | Format::Hdf5 => {
            Ok(hdf5_layouts(ds, hdf5_scan.unwrap_or_default()))
        }
        Format::Ncml => Ok(Vec::new()),
        // Not a file format: the netCDF reader never builds such a dataset.
        Format::RemoteDap2 | Format::RemoteDap4 | Format::Dmrpp => Ok(Vec::new()),
    }
}

fn catalog_kind(path: &Path) -> Option<FileKind> {
    crate::catalog::sniff(path).ok().flatten()
}

/// The most of a netCDF-3 file read to find the end of its header.
const MAX_NC3_HEADER_BYTES: u64 = 64 << 20;

fn nc3_layouts(path: &Path, ds: &Dataset) -> Result<Vec<(String, ChunkLayout)>> {
    let storage = FileStorage::open(path)?;
    let file_len = std::fs::metadata(path)?.len();
    let mut want = 64 * 1024u64;
    let header = loop {
        let n = want.min(file_len);
        let buf = storage.read_at(0, usize::try_from(n).unwrap_or(usize::MAX))?;
        match engine::nc3::parse(&buf)? {
            Some(h) => break h,
            // Real headers are kilobytes; one that claims more than this is not read whole.
            None if n < file_len && n < MAX_NC3_HEADER_BYTES => want = want.saturating_mul(4),
            None => return Err(Error::Corrupt("truncated netCDF-3 header".into())),
        }
    };
    let stride = header.record_stride();
    let mut out = Vec::new();
    for v in &ds.root.variables {
        let (Some(hv), Some(elem)) = (
            header.vars.iter().find(|h| h.name == v.name),
            engine_type(&v.dtype),
        ) else {
            continue;
        };
        if engine::nc3::type_size(hv.nc_type) != Some(elem) || hv.dimids.len() != v.dims.len() {
            continue;
        }
        let record = header.is_record(hv);
        // Fixed dimensions must agree with what the library reported.
        let fixed_agree = hv
            .dimids
            .iter()
            .zip(&v.dims)
            .skip(usize::from(record))
            .all(|(&id, d)| header.dims.get(id).copied() == Some(d.len as u64));
        if !fixed_agree {
            continue;
        }
        let fill = v.fill_bytes().unwrap_or_else(|| vec![0; elem]);
        out.push((
            v.path.clone(),
            ChunkLayout::contiguous(
                &v.shape(),
                elem,
                true,
                Some(hv.begin),
                record.then_some(stride),
                fill,
            ),
        ));
    }
    Ok(out)
}

fn hdf5_layouts(
    ds: &Dataset,
    mut scan: HashMap<String, ChunkLayout>,
) -> Vec<(String, ChunkLayout)> {
    let mut out = Vec::new();
    for v in ds.all_variables() {
        let Some(elem) = engine_type(&v.dtype) else {
            continue;
        };
        let (group, name) = crate::model::split_path(&v.path).unwrap_or(("/", &v.name));
        // netCDF-4 stores a variable named like a dimension it does not use under a prefixed
        // name.
        let candidates = [
            v.path.clone(),
            Group::child_path(group, &format!("_nc4_non_coord_{name}")),
        ];
        let Some(mut layout) = candidates.iter().find_map(|p| scan.remove(p)) else {
            continue;
        };
        // A netCDF-4 variable with fewer records than its unlimited dimension has a smaller
        // HDF5 extent; the library fills the rest, so it reads such variables.
        if layout.shape != v.shape() || layout.elem_size != elem {
            tracing::debug!(variable = %v.path, "shape or type differs from HDF5: library read");
            continue;
        }
        layout.fill = v.fill_bytes().unwrap_or_else(|| vec![0; elem]);
        out.push((v.path.clone(), layout));
    }
    out
}
