//! A small safe wrapper over netCDF-C (`netcdf-sys`) for what the `netcdf` crate cannot write:
//! fletcher32 checksums, user-defined types (enum, opaque, compound, vlen), their data, and
//! attributes of those types.
//!
//! Every call holds `netcdf_sys::libnetcdf_lock`, the reentrant lock the `netcdf` crate also
//! takes, because netCDF-C is not thread-safe. Ids are plain integers: using one after its file
//! was closed makes the library answer `NC_EBADID`, never undefined behaviour. Every buffer is
//! checked against the size the library will read from it before it is handed over.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::path::Path;

use netcdf_sys as sys;

use crate::error::{Error, Result};

/// Runs one raw netCDF-C call under the library lock and turns its status into a `Result`.
fn call(name: &'static str, raw_call: impl FnOnce() -> c_int) -> Result<()> {
    let status = {
        let _guard = sys::libnetcdf_lock.lock();
        raw_call()
    };
    if status == sys::NC_NOERR {
        Ok(())
    } else {
        Err(status_error(name, status))
    }
}

/// Builds [`Error::NetcdfStatus`] with the library's own text for `status`.
pub(crate) fn status_error(call: &'static str, status: c_int) -> Error {
    let message = {
        let _guard = sys::libnetcdf_lock.lock();
        // SAFETY: nc_strerror returns a pointer to a static, NUL-terminated string for any code.
        unsafe { CStr::from_ptr(sys::nc_strerror(status)) }
            .to_string_lossy()
            .into_owned()
    };
    Error::NetcdfStatus {
        call,
        status,
        message,
    }
}

/// A name or text as a C string; netCDF names and strings cannot hold NUL bytes.
fn c_string(text: &str) -> Result<CString> {
    CString::new(text).map_err(|_| Error::NulInString(text.to_owned()))
}

/// Number of elements in a hyperslab of extent `count`.
fn element_count(count: &[usize]) -> usize {
    count.iter().product()
}

/// A Rust number type that has a netCDF atomic type of exactly the same size and layout.
pub(crate) trait AtomicValue: Copy {
    /// The netCDF type id (`NC_BYTE` … `NC_DOUBLE`).
    const NC_TYPE: c_int;
}

macro_rules! atomic_value {
    ($($rust:ty => $nc:ident),* $(,)?) => {
        $(impl AtomicValue for $rust {
            const NC_TYPE: c_int = sys::$nc;
        })*
    };
}

atomic_value!(
    i8 => NC_BYTE, u8 => NC_UBYTE, i16 => NC_SHORT, u16 => NC_USHORT, i32 => NC_INT,
    u32 => NC_UINT, i64 => NC_INT64, u64 => NC_UINT64, f32 => NC_FLOAT, f64 => NC_DOUBLE,
);

/// A netCDF type id: atomic, or user-defined in the file being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TypeId(c_int);

impl TypeId {
    /// `NC_CHAR`, for fixed-length text.
    pub(crate) const CHAR: Self = Self(sys::NC_CHAR);
    /// `NC_STRING`, variable-length UTF-8 strings.
    pub(crate) const STRING: Self = Self(sys::NC_STRING);

    /// The atomic type matching the Rust type `T`.
    pub(crate) fn of<T: AtomicValue>() -> Self {
        Self(T::NC_TYPE)
    }
}

/// A dimension id, as returned by [`Location::add_dimension`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct DimensionId(c_int);

/// One field of a compound type being defined.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CompoundField<'a> {
    /// The field's name.
    pub(crate) name: &'a str,
    /// Byte offset of the field inside one compound value.
    pub(crate) offset: usize,
    /// The field's type: atomic, or a compound defined earlier (never vlen or string, so that
    /// compound values are plain bytes without pointers; see [`RawVariable::put_bytes`]).
    pub(crate) field_type: TypeId,
    /// Shape of a fixed-size array field, empty for a scalar field.
    pub(crate) array_shape: &'a [c_int],
}

/// What the library says about a type: its size in memory and its class.
#[derive(Debug, Clone, Copy)]
struct TypeInfo {
    /// Bytes one value occupies in memory.
    size: usize,
    /// `NC_VLEN`, `NC_OPAQUE`, `NC_ENUM`, `NC_COMPOUND`, or the atomic type id itself.
    class: c_int,
    /// Base type of a vlen or enum, else 0.
    base: c_int,
}

/// Asks the library for the size and class of `xtype` in the file or group `ncid`.
fn type_info(ncid: c_int, xtype: c_int) -> Result<TypeInfo> {
    if xtype <= sys::NC_MAX_ATOMIC_TYPE {
        let mut size = 0;
        // SAFETY: a null name pointer asks for the size only; `size` outlives the call.
        call("nc_inq_type", || unsafe {
            sys::nc_inq_type(ncid, xtype, std::ptr::null_mut(), &mut size)
        })?;
        return Ok(TypeInfo {
            size,
            class: xtype,
            base: 0,
        });
    }
    let (mut size, mut base, mut fields, mut class) = (0, 0, 0, 0);
    // SAFETY: a null name pointer is allowed; every other out-pointer outlives the call.
    call("nc_inq_user_type", || unsafe {
        sys::nc_inq_user_type(
            ncid,
            xtype,
            std::ptr::null_mut(),
            &mut size,
            &mut base,
            &mut fields,
            &mut class,
        )
    })?;
    Ok(TypeInfo { size, class, base })
}

/// A netCDF file open for writing through the raw API. Closed on drop if not closed explicitly.
#[derive(Debug)]
pub(crate) struct RawFile {
    /// The library's id of the open file (also the id of its root group).
    ncid: c_int,
    /// Whether `close` already ran, so `Drop` does not close a second time.
    closed: bool,
}

impl RawFile {
    /// Creates (overwriting) the file at `path` with the creation mode `cmode`
    /// (e.g. `NC_NETCDF4`).
    pub(crate) fn create(path: &Path, cmode: c_int) -> Result<Self> {
        let c_path = path_to_c_string(path)?;
        let mut ncid = -1;
        // SAFETY: `c_path` is NUL-terminated and `ncid` outlives the call.
        call("nc_create", || unsafe {
            sys::nc_create(c_path.as_ptr(), cmode | sys::NC_CLOBBER, &mut ncid)
        })?;
        Ok(Self {
            ncid,
            closed: false,
        })
    }

    /// The root group, where dimensions, variables, types and groups are defined.
    pub(crate) fn root(&self) -> Location {
        Location { ncid: self.ncid }
    }

    /// Flushes and closes the file, reporting any error the final write hits.
    pub(crate) fn close(mut self) -> Result<()> {
        self.closed = true;
        let ncid = self.ncid;
        // SAFETY: plain integer argument; `closed` stops Drop from closing again.
        call("nc_close", || unsafe { sys::nc_close(ncid) })
    }
}

impl Drop for RawFile {
    fn drop(&mut self) {
        if !self.closed {
            let ncid = self.ncid;
            // The file is abandoned on an error path; that error is the one worth reporting.
            // SAFETY: plain integer argument.
            let _ignored = call("nc_close", || unsafe { sys::nc_close(ncid) });
        }
    }
}

/// Converts a path to the C string netCDF-C opens.
fn path_to_c_string(path: &Path) -> Result<CString> {
    #[cfg(unix)]
    let bytes = {
        use std::os::unix::ffi::OsStrExt;
        path.as_os_str().as_bytes().to_vec()
    };
    #[cfg(not(unix))]
    let bytes = path.to_string_lossy().into_owned().into_bytes();
    CString::new(bytes).map_err(|_| Error::NulInString(path.display().to_string()))
}

/// Writers of attributes, shared by groups (global attributes) and variables.
pub(crate) trait AttributeOwner {
    /// The group id and variable id (`NC_GLOBAL` for a group) the attributes belong to.
    fn attribute_target(&self) -> (c_int, c_int);

    /// Writes a numeric attribute (one value or an array).
    fn put_attribute<T: AtomicValue>(&self, name: &str, values: &[T]) -> Result<()> {
        let (ncid, varid) = self.attribute_target();
        let c_name = c_string(name)?;
        // SAFETY: the library reads `values.len()` values of `T::NC_TYPE`, which has the size
        // and layout of `T`, from a live slice.
        call("nc_put_att", || unsafe {
            sys::nc_put_att(
                ncid,
                varid,
                c_name.as_ptr(),
                T::NC_TYPE,
                values.len(),
                values.as_ptr().cast(),
            )
        })
    }

    /// Writes a `char` attribute: UTF-8 bytes, no terminator, as CF's text attributes are.
    fn put_text_attribute(&self, name: &str, text: &str) -> Result<()> {
        let (ncid, varid) = self.attribute_target();
        let c_name = c_string(name)?;
        // SAFETY: the library reads `text.len()` bytes from a live string.
        call("nc_put_att_text", || unsafe {
            sys::nc_put_att_text(
                ncid,
                varid,
                c_name.as_ptr(),
                text.len(),
                text.as_ptr().cast(),
            )
        })
    }

    /// Writes a `string` attribute (netCDF-4 only), one or many strings.
    fn put_string_attribute(&self, name: &str, strings: &[&str]) -> Result<()> {
        let (ncid, varid) = self.attribute_target();
        let c_name = c_string(name)?;
        let owned = strings
            .iter()
            .map(|text| c_string(text))
            .collect::<Result<Vec<_>>>()?;
        let mut pointers: Vec<*const c_char> = owned.iter().map(|text| text.as_ptr()).collect();
        // SAFETY: `pointers` holds `strings.len()` NUL-terminated strings kept alive by `owned`;
        // the library only reads them (the C prototype lacks the const).
        call("nc_put_att_string", || unsafe {
            sys::nc_put_att_string(
                ncid,
                varid,
                c_name.as_ptr(),
                pointers.len(),
                pointers.as_mut_ptr(),
            )
        })
    }

    /// Writes an attribute of a user-defined enum, opaque or compound type from the bytes of
    /// `count` values laid out as in memory.
    fn put_user_attribute(
        &self,
        name: &str,
        attribute_type: TypeId,
        count: usize,
        bytes: &[u8],
    ) -> Result<()> {
        let (ncid, varid) = self.attribute_target();
        check_plain_bytes(ncid, attribute_type, count, bytes, name)?;
        let c_name = c_string(name)?;
        // SAFETY: `check_plain_bytes` proved the type holds no pointers and `bytes` holds
        // exactly `count` values of it.
        call("nc_put_att", || unsafe {
            sys::nc_put_att(
                ncid,
                varid,
                c_name.as_ptr(),
                attribute_type.0,
                count,
                bytes.as_ptr().cast(),
            )
        })
    }
}

/// Checks that `xtype` is a user-defined type whose values are plain bytes (enum, opaque, or a
/// compound defined through [`Location::add_compound_type`]) and that `bytes` holds exactly
/// `count` of them.
fn check_plain_bytes(
    ncid: c_int,
    xtype: TypeId,
    count: usize,
    bytes: &[u8],
    what: &str,
) -> Result<()> {
    let info = type_info(ncid, xtype.0)?;
    if ![sys::NC_ENUM, sys::NC_OPAQUE, sys::NC_COMPOUND].contains(&info.class) {
        return Err(Error::TypeMismatch {
            what: format!("{what} (raw bytes need an enum, opaque or compound type)"),
            expected: sys::NC_COMPOUND,
            given: info.class,
        });
    }
    let expected = info.size * count;
    if bytes.len() != expected {
        return Err(Error::BufferMismatch {
            what: format!("{what} bytes"),
            expected,
            actual: bytes.len(),
        });
    }
    Ok(())
}

/// A group (or the root group) of a file being written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Location {
    /// The library's id of the group.
    ncid: c_int,
}

impl AttributeOwner for Location {
    fn attribute_target(&self) -> (c_int, c_int) {
        (self.ncid, sys::NC_GLOBAL)
    }
}

impl Location {
    /// Defines a dimension; `None` makes it unlimited.
    pub(crate) fn add_dimension(&self, name: &str, len: Option<usize>) -> Result<DimensionId> {
        let c_name = c_string(name)?;
        let mut dimid = -1;
        let len = len.unwrap_or(sys::NC_UNLIMITED);
        let ncid = self.ncid;
        // SAFETY: NUL-terminated name; `dimid` outlives the call.
        call("nc_def_dim", || unsafe {
            sys::nc_def_dim(ncid, c_name.as_ptr(), len, &mut dimid)
        })?;
        Ok(DimensionId(dimid))
    }

    /// Defines a variable of `var_type` over `dimensions` (outermost first; empty for a scalar).
    pub(crate) fn add_variable(
        &self,
        name: &str,
        var_type: TypeId,
        dimensions: &[DimensionId],
    ) -> Result<RawVariable> {
        let c_name = c_string(name)?;
        let dimids: Vec<c_int> = dimensions.iter().map(|dim| dim.0).collect();
        let ndims = c_int::try_from(dimids.len()).map_err(|_| Error::BufferMismatch {
            what: format!("{name} dimensions"),
            expected: sys::NC_MAX_VAR_DIMS as usize,
            actual: dimids.len(),
        })?;
        let mut varid = -1;
        let ncid = self.ncid;
        // SAFETY: `dimids` holds `ndims` ids; `varid` outlives the call.
        call("nc_def_var", || unsafe {
            sys::nc_def_var(
                ncid,
                c_name.as_ptr(),
                var_type.0,
                ndims,
                dimids.as_ptr(),
                &mut varid,
            )
        })?;
        Ok(RawVariable {
            ncid,
            varid,
            ndims: dimids.len(),
        })
    }

    /// Defines an enum type whose base type is `T`, with its members in the order given.
    pub(crate) fn add_enum_type<T: AtomicValue>(
        &self,
        name: &str,
        members: &[(&str, T)],
    ) -> Result<TypeId> {
        let c_name = c_string(name)?;
        let mut typeid = -1;
        let ncid = self.ncid;
        // SAFETY: NUL-terminated name; `typeid` outlives the call.
        call("nc_def_enum", || unsafe {
            sys::nc_def_enum(ncid, T::NC_TYPE, c_name.as_ptr(), &mut typeid)
        })?;
        for (member, value) in members {
            let c_member = c_string(member)?;
            // SAFETY: the library reads one value of the enum's base type `T` from `value`.
            call("nc_insert_enum", || unsafe {
                sys::nc_insert_enum(
                    ncid,
                    typeid,
                    c_member.as_ptr(),
                    std::ptr::from_ref(value).cast::<c_void>(),
                )
            })?;
        }
        Ok(TypeId(typeid))
    }

    /// Defines an opaque type of `size` bytes.
    pub(crate) fn add_opaque_type(&self, name: &str, size: usize) -> Result<TypeId> {
        let c_name = c_string(name)?;
        let mut typeid = -1;
        let ncid = self.ncid;
        // SAFETY: NUL-terminated name; `typeid` outlives the call.
        call("nc_def_opaque", || unsafe {
            sys::nc_def_opaque(ncid, size, c_name.as_ptr(), &mut typeid)
        })?;
        Ok(TypeId(typeid))
    }

    /// Defines a compound type of `size` bytes with the given fields.
    ///
    /// Fields must be atomic (not string) or compound types defined the same way, so values stay
    /// plain bytes; this is checked.
    pub(crate) fn add_compound_type(
        &self,
        name: &str,
        size: usize,
        fields: &[CompoundField<'_>],
    ) -> Result<TypeId> {
        for field in fields {
            let info = type_info(self.ncid, field.field_type.0)?;
            let plain = info.class == sys::NC_COMPOUND
                || (info.class <= sys::NC_MAX_ATOMIC_TYPE && info.class != sys::NC_STRING);
            if !plain {
                return Err(Error::TypeMismatch {
                    what: format!("{name}.{} (compound fields must be plain data)", field.name),
                    expected: sys::NC_COMPOUND,
                    given: info.class,
                });
            }
        }
        let c_name = c_string(name)?;
        let mut typeid = -1;
        let ncid = self.ncid;
        // SAFETY: NUL-terminated name; `typeid` outlives the call.
        call("nc_def_compound", || unsafe {
            sys::nc_def_compound(ncid, size, c_name.as_ptr(), &mut typeid)
        })?;
        for field in fields {
            let c_field = c_string(field.name)?;
            if field.array_shape.is_empty() {
                // SAFETY: NUL-terminated field name, integer arguments.
                call("nc_insert_compound", || unsafe {
                    sys::nc_insert_compound(
                        ncid,
                        typeid,
                        c_field.as_ptr(),
                        field.offset,
                        field.field_type.0,
                    )
                })?;
            } else {
                let rank = c_int::try_from(field.array_shape.len()).map_err(|_| {
                    Error::BufferMismatch {
                        what: format!("{name}.{} shape", field.name),
                        expected: sys::NC_MAX_VAR_DIMS as usize,
                        actual: field.array_shape.len(),
                    }
                })?;
                // SAFETY: `array_shape` holds `rank` sizes and outlives the call.
                call("nc_insert_array_compound", || unsafe {
                    sys::nc_insert_array_compound(
                        ncid,
                        typeid,
                        c_field.as_ptr(),
                        field.offset,
                        field.field_type.0,
                        rank,
                        field.array_shape.as_ptr(),
                    )
                })?;
            }
        }
        Ok(TypeId(typeid))
    }

    /// Defines a variable-length (ragged) type of elements of `base`.
    pub(crate) fn add_vlen_type(&self, name: &str, base: TypeId) -> Result<TypeId> {
        let c_name = c_string(name)?;
        let mut typeid = -1;
        let ncid = self.ncid;
        // SAFETY: NUL-terminated name; `typeid` outlives the call.
        call("nc_def_vlen", || unsafe {
            sys::nc_def_vlen(ncid, c_name.as_ptr(), base.0, &mut typeid)
        })?;
        Ok(TypeId(typeid))
    }
}

/// A variable of a file being written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawVariable {
    /// The group the variable lives in.
    ncid: c_int,
    /// The variable's id in that group.
    varid: c_int,
    /// Its rank, to check the `start`/`count` arrays the library will read.
    ndims: usize,
}

impl AttributeOwner for RawVariable {
    fn attribute_target(&self) -> (c_int, c_int) {
        (self.ncid, self.varid)
    }
}

impl RawVariable {
    /// The variable's type as the library stores it.
    fn var_type(&self) -> Result<c_int> {
        let (ncid, varid) = (self.ncid, self.varid);
        let mut xtype = 0;
        // SAFETY: `xtype` outlives the call.
        call("nc_inq_vartype", || unsafe {
            sys::nc_inq_vartype(ncid, varid, &mut xtype)
        })?;
        Ok(xtype)
    }

    /// Fails unless the variable has type `value_type`, the type of the values about to be
    /// handed to the library for it.
    fn require_type(&self, value_type: c_int, what: &str) -> Result<()> {
        let var_type = self.var_type()?;
        if var_type == value_type {
            Ok(())
        } else {
            Err(Error::TypeMismatch {
                what: what.to_owned(),
                expected: var_type,
                given: value_type,
            })
        }
    }

    /// Fails unless `start` and `count` match the rank and `count` selects `len` elements.
    fn require_hyperslab(&self, start: &[usize], count: &[usize], len: usize) -> Result<()> {
        if start.len() != self.ndims || count.len() != self.ndims {
            return Err(Error::BufferMismatch {
                what: "hyperslab rank".to_owned(),
                expected: self.ndims,
                actual: start.len().max(count.len()),
            });
        }
        if element_count(count) != len {
            return Err(Error::BufferMismatch {
                what: "hyperslab elements".to_owned(),
                expected: element_count(count),
                actual: len,
            });
        }
        Ok(())
    }

    /// Stores the variable in chunks of the given shape (netCDF-4).
    pub(crate) fn set_chunking(&self, chunk_shape: &[usize]) -> Result<()> {
        if chunk_shape.len() != self.ndims {
            return Err(Error::BufferMismatch {
                what: "chunk shape rank".to_owned(),
                expected: self.ndims,
                actual: chunk_shape.len(),
            });
        }
        let (ncid, varid) = (self.ncid, self.varid);
        // SAFETY: `chunk_shape` holds one size per dimension, as just checked.
        call("nc_def_var_chunking", || unsafe {
            sys::nc_def_var_chunking(ncid, varid, sys::NC_CHUNKED, chunk_shape.as_ptr())
        })
    }

    /// Compresses the variable with zlib at `level`, after the byte shuffle if `shuffle`.
    pub(crate) fn set_deflate(&self, shuffle: bool, level: c_int) -> Result<()> {
        let (ncid, varid) = (self.ncid, self.varid);
        // SAFETY: integer arguments only.
        call("nc_def_var_deflate", || unsafe {
            sys::nc_def_var_deflate(ncid, varid, c_int::from(shuffle), 1, level)
        })
    }

    /// Adds a fletcher32 checksum to every chunk.
    pub(crate) fn set_fletcher32(&self) -> Result<()> {
        let (ncid, varid) = (self.ncid, self.varid);
        // SAFETY: integer arguments only.
        call("nc_def_var_fletcher32", || unsafe {
            sys::nc_def_var_fletcher32(ncid, varid, 1)
        })
    }

    /// Sets the fill value (and so the `_FillValue` attribute) of a numeric variable.
    pub(crate) fn set_fill_value<T: AtomicValue>(&self, fill: T) -> Result<()> {
        self.require_type(T::NC_TYPE, "_FillValue")?;
        let (ncid, varid) = (self.ncid, self.varid);
        // SAFETY: the variable's type is `T`, so the library reads one `T`.
        call("nc_def_var_fill", || unsafe {
            sys::nc_def_var_fill(
                ncid,
                varid,
                sys::NC_FILL,
                std::ptr::from_ref(&fill).cast::<c_void>(),
            )
        })
    }

    /// Sets the fill value of an enum, opaque or compound variable from one value's bytes.
    pub(crate) fn set_fill_bytes(&self, fill: &[u8]) -> Result<()> {
        let xtype = self.var_type()?;
        check_plain_bytes(self.ncid, TypeId(xtype), 1, fill, "_FillValue")?;
        let (ncid, varid) = (self.ncid, self.varid);
        // SAFETY: checked above: exactly one plain value of the variable's type.
        call("nc_def_var_fill", || unsafe {
            sys::nc_def_var_fill(ncid, varid, sys::NC_FILL, fill.as_ptr().cast())
        })
    }

    /// Writes numbers into the hyperslab `start`/`count`; the variable must have type `T`.
    pub(crate) fn put<T: AtomicValue>(
        &self,
        start: &[usize],
        count: &[usize],
        values: &[T],
    ) -> Result<()> {
        self.require_type(T::NC_TYPE, "values")?;
        self.require_hyperslab(start, count, values.len())?;
        let (ncid, varid) = (self.ncid, self.varid);
        // SAFETY: rank and element count checked; the library reads `values.len()` values of
        // the variable's type, which is `T`.
        call("nc_put_vara", || unsafe {
            sys::nc_put_vara(
                ncid,
                varid,
                start.as_ptr(),
                count.as_ptr(),
                values.as_ptr().cast(),
            )
        })
    }

    /// Writes `char` data (bytes) into the hyperslab `start`/`count`.
    pub(crate) fn put_chars(&self, start: &[usize], count: &[usize], chars: &[u8]) -> Result<()> {
        self.require_type(sys::NC_CHAR, "chars")?;
        self.require_hyperslab(start, count, chars.len())?;
        let (ncid, varid) = (self.ncid, self.varid);
        // SAFETY: rank and element count checked; one byte per element.
        call("nc_put_vara_text", || unsafe {
            sys::nc_put_vara_text(
                ncid,
                varid,
                start.as_ptr(),
                count.as_ptr(),
                chars.as_ptr().cast(),
            )
        })
    }

    /// Writes strings into the hyperslab `start`/`count` of a `string` variable.
    pub(crate) fn put_strings(
        &self,
        start: &[usize],
        count: &[usize],
        strings: &[&str],
    ) -> Result<()> {
        self.require_type(sys::NC_STRING, "strings")?;
        self.require_hyperslab(start, count, strings.len())?;
        let owned = strings
            .iter()
            .map(|text| c_string(text))
            .collect::<Result<Vec<_>>>()?;
        let mut pointers: Vec<*const c_char> = owned.iter().map(|text| text.as_ptr()).collect();
        let (ncid, varid) = (self.ncid, self.varid);
        // SAFETY: rank and count checked; `pointers` holds that many NUL-terminated strings kept
        // alive by `owned`, which the library only reads.
        call("nc_put_vara_string", || unsafe {
            sys::nc_put_vara_string(
                ncid,
                varid,
                start.as_ptr(),
                count.as_ptr(),
                pointers.as_mut_ptr(),
            )
        })
    }

    /// Writes enum, opaque or compound values, given as their bytes in memory layout.
    pub(crate) fn put_bytes(&self, start: &[usize], count: &[usize], bytes: &[u8]) -> Result<()> {
        let xtype = self.var_type()?;
        check_plain_bytes(
            self.ncid,
            TypeId(xtype),
            element_count(count),
            bytes,
            "values",
        )?;
        self.require_hyperslab(start, count, element_count(count))?;
        let (ncid, varid) = (self.ncid, self.varid);
        // SAFETY: rank checked; `bytes` holds exactly the selected number of plain values.
        call("nc_put_vara", || unsafe {
            sys::nc_put_vara(
                ncid,
                varid,
                start.as_ptr(),
                count.as_ptr(),
                bytes.as_ptr().cast(),
            )
        })
    }

    /// Writes rows of a vlen-of-`T` variable into the hyperslab `start`/`count`.
    pub(crate) fn put_vlen_rows<T: AtomicValue>(
        &self,
        start: &[usize],
        count: &[usize],
        rows: &[&[T]],
    ) -> Result<()> {
        let xtype = self.var_type()?;
        let info = type_info(self.ncid, xtype)?;
        if info.class != sys::NC_VLEN || info.base != T::NC_TYPE {
            return Err(Error::TypeMismatch {
                what: "vlen rows".to_owned(),
                expected: info.base,
                given: T::NC_TYPE,
            });
        }
        self.require_hyperslab(start, count, rows.len())?;
        let handles: Vec<sys::nc_vlen_t> = rows
            .iter()
            .map(|row| sys::nc_vlen_t {
                len: row.len(),
                // The library only reads through this pointer when writing.
                p: row.as_ptr().cast_mut().cast(),
            })
            .collect();
        let (ncid, varid) = (self.ncid, self.varid);
        // SAFETY: the variable is a vlen of `T`; each handle points at `len` live `T`s.
        call("nc_put_vara", || unsafe {
            sys::nc_put_vara(
                ncid,
                varid,
                start.as_ptr(),
                count.as_ptr(),
                handles.as_ptr().cast(),
            )
        })
    }
}
