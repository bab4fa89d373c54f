//! HDF5 datatypes → the model's [`DataType`], and the memory type values are read into.
//!
//! For every file type the mapper builds a memory type of its own (little-endian native numbers,
//! packed compounds with offsets it chose, `char*` for variable-length strings, `hvl_t` for
//! sequences), so the conversion to the canonical encoding never guesses at padding or byte
//! order: HDF5 converts from the file's layout into ours, and [`Native::encode`] walks ours.
//!
//! User-defined types (compound, enum, opaque, variable-length) need names in the model. A
//! committed (named) HDF5 type keeps its own name and path. An anonymous one is named after
//! where it is first used — `<dataset>_t`, `<attribute>_t`, `<parent>_<field>_t` for nested
//! members — in the group that uses it, made unique there; anonymous types that HDF5 finds
//! equal (`H5Tequal`) within one group share one name.
//!
//! Every function here calls the HDF5 library: call with the library lock held.

use std::collections::{HashMap, HashSet};
use std::ffi::{CStr, c_char, c_void};
use std::sync::Arc;

use hdf5_sys::h5::hsize_t;
use hdf5_sys::h5i::hid_t;
use hdf5_sys::h5t::{
    H5T_class_t, H5T_cset_t, H5T_direction_t, H5T_order_t, H5T_sign_t, H5T_str_t, H5Tarray_create2,
    H5Tclose, H5Tcommitted, H5Tcopy, H5Tcreate, H5Tequal, H5Tget_array_dims2, H5Tget_array_ndims,
    H5Tget_class, H5Tget_cset, H5Tget_member_name, H5Tget_member_type, H5Tget_member_value,
    H5Tget_native_type, H5Tget_nmembers, H5Tget_offset, H5Tget_order, H5Tget_precision,
    H5Tget_sign, H5Tget_size, H5Tget_strpad, H5Tget_super, H5Tinsert, H5Tis_variable_str,
    H5Tset_cset, H5Tset_order, H5Tset_size, H5Tvlen_create,
};

use crate::encoding::push_string;
use crate::model::{
    DataType, EnumMember, EnumType, Field, Group, OpaqueType, StructureType, VLenType, split_path,
};

/// `H5T_VARIABLE`: the size of a variable-length string type.
const H5T_VARIABLE: usize = usize::MAX;

/// An owned HDF5 datatype id, closed when dropped.
#[derive(Debug)]
pub(crate) struct TypeId(pub(crate) hid_t);

impl TypeId {
    /// Takes ownership of `id`, or reports what failed when the library returned an error.
    pub(crate) fn new(id: hid_t, what: &str) -> Result<Self, String> {
        if id < 0 {
            Err(format!("HDF5 could not {what}"))
        } else {
            Ok(Self(id))
        }
    }
}

impl Drop for TypeId {
    fn drop(&mut self) {
        let _lock = hdf5_sys::LOCK.lock();
        // SAFETY: the id is owned by this value and closed once.
        unsafe { H5Tclose(self.0) };
    }
}

/// How one element of a memory type is laid out, for converting it to the canonical encoding.
#[derive(Debug, Clone)]
pub(crate) enum Native {
    /// Numbers, enums, bitfields and one-byte chars: `size` little-endian bytes, copied as is.
    Plain { size: usize },
    /// A fixed-length string of `size` bytes, padded as `pad` says.
    FixedString { size: usize, pad: Padding },
    /// A `char*` to a NUL-terminated string.
    VarString,
    /// `size` raw bytes.
    Opaque { size: usize },
    /// A packed record: fields at the offsets the mapper chose.
    Compound {
        size: usize,
        fields: Vec<(usize, Native)>,
    },
    /// `count` elements of `base`, back to back (an HDF5 array type, flattened).
    Array { count: usize, base: Box<Native> },
    /// `hvl_t { len, p }` pointing at `len` elements of `base`.
    VLen { base: Box<Native> },
}

/// How a fixed-length string fills its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Padding {
    /// Ends at the first NUL.
    NullTerm,
    /// Trailing NULs are padding.
    NullPad,
    /// Trailing spaces are padding (Fortran).
    SpacePad,
}

/// `hvl_t` as HDF5 lays it out in memory.
#[repr(C)]
#[derive(Clone, Copy)]
struct HvlT {
    len: usize,
    p: *const c_void,
}

impl Native {
    /// Bytes per element in memory.
    pub(crate) fn size(&self) -> usize {
        match self {
            Self::Plain { size }
            | Self::FixedString { size, .. }
            | Self::Opaque { size }
            | Self::Compound { size, .. } => *size,
            Self::VarString => std::mem::size_of::<*const c_char>(),
            Self::Array { count, base } => count * base.size(),
            Self::VLen { .. } => std::mem::size_of::<HvlT>(),
        }
    }

    /// Whether elements hold pointers that HDF5 allocated (and must reclaim).
    pub(crate) fn has_pointers(&self) -> bool {
        match self {
            Self::Plain { .. } | Self::FixedString { .. } | Self::Opaque { .. } => false,
            Self::VarString | Self::VLen { .. } => true,
            Self::Compound { fields, .. } => fields.iter().any(|(_, f)| f.has_pointers()),
            Self::Array { base, .. } => base.has_pointers(),
        }
    }

    /// Appends the element at `src` to `out` in the canonical encoding.
    ///
    /// # Safety
    /// `src` must point at one element of this layout as HDF5 wrote it.
    pub(crate) unsafe fn encode(&self, src: *const u8, out: &mut Vec<u8>) {
        match self {
            Self::Plain { size } => {
                // SAFETY: the caller guarantees `size` readable bytes; memory types are
                // little-endian on the supported (little-endian) hosts.
                out.extend_from_slice(unsafe { std::slice::from_raw_parts(src, *size) });
            }
            Self::FixedString { size, pad } => {
                // SAFETY: as above.
                let bytes = unsafe { std::slice::from_raw_parts(src, *size) };
                push_string(out, trim_fixed(bytes, *pad));
            }
            Self::Opaque { size } => {
                // SAFETY: as above.
                push_string(out, unsafe { std::slice::from_raw_parts(src, *size) });
            }
            Self::VarString => {
                // SAFETY: the element is a `char*` written by HDF5, possibly unaligned.
                let p = unsafe { src.cast::<*const c_char>().read_unaligned() };
                if p.is_null() {
                    push_string(out, b"");
                } else {
                    // SAFETY: a non-null HDF5 string is NUL-terminated.
                    push_string(out, unsafe { CStr::from_ptr(p) }.to_bytes());
                }
            }
            Self::Compound { fields, .. } => {
                for (offset, field) in fields {
                    // SAFETY: the offsets are the ones this layout was built with.
                    unsafe { field.encode(src.add(*offset), out) };
                }
            }
            Self::Array { count, base } => {
                let step = base.size();
                for i in 0..*count {
                    // SAFETY: an array holds `count` elements of `base` back to back.
                    unsafe { base.encode(src.add(i * step), out) };
                }
            }
            Self::VLen { base } => {
                // SAFETY: the element is an `hvl_t` written by HDF5, possibly unaligned.
                let v = unsafe { src.cast::<HvlT>().read_unaligned() };
                out.extend_from_slice(&(v.len as u64).to_le_bytes());
                let p = v.p.cast::<u8>();
                let step = base.size();
                for i in 0..v.len {
                    // SAFETY: `p` holds `len` elements of the base type.
                    unsafe { base.encode(p.add(i * step), out) };
                }
            }
        }
    }
}

/// The text of a fixed-length string without its padding.
pub(crate) fn trim_fixed(bytes: &[u8], pad: Padding) -> &[u8] {
    match pad {
        Padding::NullTerm => {
            let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
            &bytes[..end]
        }
        Padding::NullPad => {
            let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            &bytes[..end]
        }
        Padding::SpacePad => {
            let end = bytes
                .iter()
                .rposition(|&b| b != b' ' && b != 0)
                .map_or(0, |i| i + 1);
            &bytes[..end]
        }
    }
}

/// A file type mapped into the model.
#[derive(Debug)]
pub(crate) struct Mapped {
    /// The element type (for an HDF5 array type: the type of its elements).
    pub(crate) dtype: DataType,
    /// The dimensions of an HDF5 array type, empty otherwise.
    pub(crate) array_dims: Vec<usize>,
    /// The layout of one element of `mem`.
    pub(crate) native: Native,
    /// The memory type to read with.
    pub(crate) mem: TypeId,
}

/// The user-defined types of one group.
#[derive(Debug, Default)]
struct GroupTypes {
    /// In the order they were met (nested types before the types using them).
    types: Vec<DataType>,
    /// Anonymous types already named here, with a copy of their HDF5 type to compare against.
    anonymous: Vec<(TypeId, DataType)>,
    /// Names in use.
    names: HashSet<String>,
}

/// Maps the types of one file, naming user-defined types consistently.
#[derive(Debug, Default)]
pub(crate) struct TypeMapper {
    /// Committed types by path.
    committed: HashMap<String, DataType>,
    /// User-defined types by the path of the group that lists them.
    groups: HashMap<String, GroupTypes>,
    /// How deep inside nested types [`TypeMapper::map`] is now.
    depth: usize,
}

/// Types nested deeper than this (compounds of compounds of …) are not served: real files nest
/// a few levels, and every reader and encoder walks a type recursively.
pub(crate) const MAX_TYPE_DEPTH: usize = 32;

/// A library call's return value checked for failure.
fn ok<T: PartialOrd + Default>(v: T, what: &str) -> Result<T, String> {
    if v < T::default() {
        Err(format!("HDF5 could not {what}"))
    } else {
        Ok(v)
    }
}

/// Copies a predefined type (HDF5's globals are initialised when the library is).
fn copy_of(global: &hdf5::globals::H5GlobalConstant) -> Result<TypeId, String> {
    // SAFETY: the global is a valid predefined type id.
    TypeId::new(unsafe { H5Tcopy(**global) }, "copy a predefined type")
}

/// The name HDF5 gives an object id (a committed type's path), if any.
pub(crate) fn object_name(id: hid_t) -> Option<String> {
    let mut buf = vec![0u8; 1024];
    // SAFETY: `buf` holds `buf.len()` bytes.
    let n = unsafe { hdf5_sys::h5i::H5Iget_name(id, buf.as_mut_ptr().cast(), buf.len()) };
    let n = usize::try_from(n).ok().filter(|&n| n > 0)?;
    if n >= buf.len() {
        buf = vec![0u8; n + 1];
        // SAFETY: as above, with room for the whole name.
        unsafe { hdf5_sys::h5i::H5Iget_name(id, buf.as_mut_ptr().cast(), buf.len()) };
    }
    buf.truncate(n);
    String::from_utf8(buf).ok()
}

/// A string HDF5 allocated (a member name), copied and freed.
fn take_hdf5_string(p: *mut c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: HDF5 returns NUL-terminated names.
    let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    // SAFETY: the name was allocated by the library for this call and is freed once.
    unsafe { hdf5_sys::h5::H5free_memory(p.cast()) };
    Some(s)
}

/// The model integer type and native memory type for an HDF5 integer of `size` bytes.
fn integer_type(size: usize, signed: bool) -> Result<(DataType, TypeId), String> {
    use hdf5::globals as g;
    let (dtype, global) = match (size, signed) {
        (0..=1, true) => (DataType::Int8, &g::H5T_NATIVE_INT8),
        (0..=1, false) => (DataType::UInt8, &g::H5T_NATIVE_UINT8),
        (2, true) => (DataType::Int16, &g::H5T_NATIVE_INT16),
        (2, false) => (DataType::UInt16, &g::H5T_NATIVE_UINT16),
        (3..=4, true) => (DataType::Int32, &g::H5T_NATIVE_INT32),
        (3..=4, false) => (DataType::UInt32, &g::H5T_NATIVE_UINT32),
        (5..=8, true) => (DataType::Int64, &g::H5T_NATIVE_INT64),
        (5..=8, false) => (DataType::UInt64, &g::H5T_NATIVE_UINT64),
        _ => return Err(format!("{}-byte integers", size)),
    };
    Ok((dtype, copy_of(global)?))
}

impl TypeMapper {
    /// Maps the file type `t`, met in the group at `group` on an object called `hint`.
    ///
    /// # Errors
    /// A short description of what cannot be represented (references, time types, …).
    pub(crate) fn map(&mut self, t: hid_t, group: &str, hint: &str) -> Result<Mapped, String> {
        if self.depth >= MAX_TYPE_DEPTH {
            return Err(format!(
                "types nested more than {MAX_TYPE_DEPTH} levels deep"
            ));
        }
        self.depth += 1;
        let mapped = self.map_type(t, group, hint);
        self.depth -= 1;
        mapped
    }

    fn map_type(&mut self, t: hid_t, group: &str, hint: &str) -> Result<Mapped, String> {
        // SAFETY: `t` is a valid datatype id (the caller's); every call below is checked.
        let class = unsafe { H5Tget_class(t) };
        // SAFETY: as above.
        let size = unsafe { H5Tget_size(t) };
        let plain = |dtype: DataType, mem: TypeId| {
            let size = dtype.fixed_size().unwrap_or(1);
            Ok(Mapped {
                dtype,
                array_dims: Vec::new(),
                native: Native::Plain { size },
                mem,
            })
        };
        match class {
            H5T_class_t::H5T_INTEGER => {
                // SAFETY: `t` is an integer type.
                let signed = unsafe { H5Tget_sign(t) } == H5T_sign_t::H5T_SGN_2;
                let (dtype, mem) = integer_type(size, signed)?;
                plain(dtype, mem)
            }
            H5T_class_t::H5T_FLOAT => {
                if size <= 4 {
                    plain(
                        DataType::Float32,
                        copy_of(&hdf5::globals::H5T_NATIVE_FLOAT)?,
                    )
                } else {
                    plain(
                        DataType::Float64,
                        copy_of(&hdf5::globals::H5T_NATIVE_DOUBLE)?,
                    )
                }
            }
            H5T_class_t::H5T_BITFIELD => {
                let (dtype, _) = integer_type(size, false)?;
                if dtype.fixed_size() != Some(size) {
                    return Err(format!("{size}-byte bitfields"));
                }
                // SAFETY: copies a valid type and sets the order of the copy.
                let mem = TypeId::new(unsafe { H5Tcopy(t) }, "copy a bitfield type")?;
                // SAFETY: as above.
                ok(
                    unsafe { H5Tset_order(mem.0, H5T_order_t::H5T_ORDER_LE) },
                    "set a bitfield's byte order",
                )?;
                plain(dtype, mem)
            }
            H5T_class_t::H5T_STRING => self.string(t, size),
            H5T_class_t::H5T_OPAQUE => {
                // SAFETY: copies a valid type.
                let mem = TypeId::new(unsafe { H5Tcopy(t) }, "copy an opaque type")?;
                let dtype = self.intern(t, group, hint, |name, path| {
                    DataType::Opaque(Arc::new(OpaqueType { name, path, size }))
                });
                Ok(Mapped {
                    dtype,
                    array_dims: Vec::new(),
                    native: Native::Opaque { size },
                    mem,
                })
            }
            H5T_class_t::H5T_ENUM => self.enumeration(t, group, hint),
            H5T_class_t::H5T_COMPOUND => self.compound(t, size, group, hint),
            H5T_class_t::H5T_ARRAY => self.array(t, group, hint),
            H5T_class_t::H5T_VLEN => {
                // SAFETY: the base type of a vlen type, owned by the returned id.
                let base = TypeId::new(unsafe { H5Tget_super(t) }, "get a sequence's base type")?;
                let sub = self.map(base.0, group, &format!("{hint}_base"))?;
                if !sub.array_dims.is_empty() {
                    return Err("variable-length sequences of arrays".into());
                }
                // SAFETY: creates a vlen memory type over the base's memory type.
                let mem = TypeId::new(unsafe { H5Tvlen_create(sub.mem.0) }, "make a vlen type")?;
                let base_dtype = sub.dtype.clone();
                let dtype = self.intern(t, group, hint, |name, path| {
                    DataType::VLen(Arc::new(VLenType {
                        name,
                        path,
                        base: base_dtype.clone(),
                    }))
                });
                Ok(Mapped {
                    dtype,
                    array_dims: Vec::new(),
                    native: Native::VLen {
                        base: Box::new(sub.native),
                    },
                    mem,
                })
            }
            H5T_class_t::H5T_REFERENCE => {
                // SAFETY: compares two valid type ids.
                let region = unsafe { H5Tequal(t, *hdf5::globals::H5T_STD_REF_DSETREG) } > 0;
                Err(if region {
                    "dataset region references".into()
                } else {
                    "object references".into()
                })
            }
            H5T_class_t::H5T_TIME => Err("HDF5 time values".into()),
            _ => Err("an unknown HDF5 type class".into()),
        }
    }

    fn string(&mut self, t: hid_t, size: usize) -> Result<Mapped, String> {
        // SAFETY: `t` is a string type.
        let variable = unsafe { H5Tis_variable_str(t) } > 0;
        // SAFETY: as above.
        let cset = unsafe { H5Tget_cset(t) };
        let cset = if cset == H5T_cset_t::H5T_CSET_UTF8 {
            H5T_cset_t::H5T_CSET_UTF8
        } else {
            H5T_cset_t::H5T_CSET_ASCII
        };
        if variable {
            let mem = copy_of(&hdf5::globals::H5T_C_S1)?;
            // SAFETY: sets properties of our own copy.
            ok(unsafe { H5Tset_size(mem.0, H5T_VARIABLE) }, "size a string")?;
            // SAFETY: as above.
            ok(
                unsafe { H5Tset_cset(mem.0, cset) },
                "set a string's encoding",
            )?;
            return Ok(Mapped {
                dtype: DataType::String,
                array_dims: Vec::new(),
                native: Native::VarString,
                mem,
            });
        }
        // SAFETY: copies a valid fixed-length string type.
        let mem = TypeId::new(unsafe { H5Tcopy(t) }, "copy a string type")?;
        if size <= 1 {
            // One byte: netCDF's `char`.
            return Ok(Mapped {
                dtype: DataType::Char,
                array_dims: Vec::new(),
                native: Native::Plain { size: 1 },
                mem,
            });
        }
        // SAFETY: `t` is a fixed-length string type.
        let pad = match unsafe { H5Tget_strpad(t) } {
            H5T_str_t::H5T_STR_NULLPAD => Padding::NullPad,
            H5T_str_t::H5T_STR_SPACEPAD => Padding::SpacePad,
            _ => Padding::NullTerm,
        };
        Ok(Mapped {
            dtype: DataType::String,
            array_dims: Vec::new(),
            native: Native::FixedString { size, pad },
            mem,
        })
    }

    fn enumeration(&mut self, t: hid_t, group: &str, hint: &str) -> Result<Mapped, String> {
        // SAFETY: the native form of a valid enum type: same members, native base type.
        let mem = TypeId::new(
            unsafe { H5Tget_native_type(t, H5T_direction_t::H5T_DIR_ASCEND) },
            "find an enum's native type",
        )?;
        // SAFETY: the base type of an enum, owned by the returned id.
        let base = TypeId::new(unsafe { H5Tget_super(mem.0) }, "get an enum's base type")?;
        // SAFETY: valid integer type.
        let (base_size, signed) = unsafe {
            (
                H5Tget_size(base.0),
                H5Tget_sign(base.0) == H5T_sign_t::H5T_SGN_2,
            )
        };
        let (base_dtype, _) = integer_type(base_size, signed)?;
        if base_dtype.fixed_size() != Some(base_size) {
            return Err(format!("enumerations of {base_size}-byte integers"));
        }
        // SAFETY: valid enum type.
        let n = ok(unsafe { H5Tget_nmembers(mem.0) }, "count enum members")?;
        let mut members = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
        for i in 0..u32::try_from(n).unwrap_or(0) {
            // SAFETY: member `i` exists; the name is freed by `take_hdf5_string`.
            let name = take_hdf5_string(unsafe { H5Tget_member_name(mem.0, i) })
                .ok_or("an enum member without a name")?;
            let mut value = [0u8; 8];
            // SAFETY: the value is `base_size` ≤ 8 bytes.
            ok(
                unsafe { H5Tget_member_value(mem.0, i, value.as_mut_ptr().cast()) },
                "read an enum value",
            )?;
            members.push(EnumMember {
                name,
                value: crate::encoding::integer_value(&base_dtype, &value, true),
            });
        }
        let dtype = self.intern(t, group, hint, |name, path| {
            DataType::Enum(Arc::new(EnumType {
                name,
                path,
                base: base_dtype.clone(),
                members: members.clone(),
            }))
        });
        Ok(Mapped {
            dtype,
            array_dims: Vec::new(),
            native: Native::Plain { size: base_size },
            mem,
        })
    }

    fn compound(
        &mut self,
        t: hid_t,
        size: usize,
        group: &str,
        hint: &str,
    ) -> Result<Mapped, String> {
        // SAFETY: valid compound type.
        let n = ok(unsafe { H5Tget_nmembers(t) }, "count compound members")?;
        let n = u32::try_from(n).unwrap_or(0);
        if n == 0 || size == 0 {
            return Err("empty compound types".into());
        }
        let mut members = Vec::with_capacity(n as usize);
        let mut offset = 0usize;
        for i in 0..n {
            // SAFETY: member `i` exists; the name is freed by `take_hdf5_string`.
            let name = take_hdf5_string(unsafe { H5Tget_member_name(t, i) })
                .ok_or("a compound member without a name")?;
            // SAFETY: member `i` exists; the returned type is owned.
            let mt = TypeId::new(unsafe { H5Tget_member_type(t, i) }, "get a member type")?;
            let sub = self.map(mt.0, group, &format!("{hint}_{name}"))?;
            let at = offset;
            offset += sub.native.size();
            members.push((name, at, sub));
        }
        // SAFETY: a compound memory type of the packed size, members inserted below.
        let mem = TypeId::new(
            unsafe { H5Tcreate(H5T_class_t::H5T_COMPOUND, offset) },
            "make a compound type",
        )?;
        let mut fields = Vec::with_capacity(members.len());
        let mut natives = Vec::with_capacity(members.len());
        for (name, at, sub) in members {
            let cname = std::ffi::CString::new(name.clone())
                .map_err(|_| "a member name with a NUL byte".to_owned())?;
            // SAFETY: inserts a valid member type at an offset inside the type.
            ok(
                unsafe { H5Tinsert(mem.0, cname.as_ptr(), at, sub.mem.0) },
                "build a compound type",
            )?;
            fields.push(Field {
                name,
                dtype: sub.dtype,
                shape: sub.array_dims,
            });
            natives.push((at, sub.native));
        }
        let dtype = self.intern(t, group, hint, |name, path| {
            DataType::Structure(Arc::new(StructureType {
                name,
                path,
                fields: fields.clone(),
            }))
        });
        Ok(Mapped {
            dtype,
            array_dims: Vec::new(),
            native: Native::Compound {
                size: offset,
                fields: natives,
            },
            mem,
        })
    }

    fn array(&mut self, t: hid_t, group: &str, hint: &str) -> Result<Mapped, String> {
        // SAFETY: valid array type.
        let rank = ok(unsafe { H5Tget_array_ndims(t) }, "get an array's rank")?;
        let mut dims = vec![0 as hsize_t; usize::try_from(rank).unwrap_or(0)];
        // SAFETY: `dims` holds `rank` entries.
        ok(
            unsafe { H5Tget_array_dims2(t, dims.as_mut_ptr()) },
            "get an array's dimensions",
        )?;
        // SAFETY: the element type of the array, owned by the returned id.
        let base = TypeId::new(unsafe { H5Tget_super(t) }, "get an array's element type")?;
        let sub = self.map(base.0, group, hint)?;
        // SAFETY: an array memory type over the element's memory type.
        let mem = TypeId::new(
            unsafe { H5Tarray_create2(sub.mem.0, u32::try_from(rank).unwrap_or(0), dims.as_ptr()) },
            "make an array type",
        )?;
        let mut array_dims: Vec<usize> = dims
            .iter()
            .map(|&d| usize::try_from(d).unwrap_or(usize::MAX))
            .collect();
        let outer: usize = array_dims.iter().product();
        // An array of arrays is one array over both sets of dimensions.
        let (count, base_native) = match sub.native {
            Native::Array { count, base } => (outer * count, base),
            other => (outer, Box::new(other)),
        };
        array_dims.extend(sub.array_dims);
        Ok(Mapped {
            dtype: sub.dtype,
            array_dims,
            native: Native::Array {
                count,
                base: base_native,
            },
            mem,
        })
    }

    /// Names the user-defined type `t`: its own name if committed, otherwise a name derived
    /// from `hint`, shared by equal anonymous types in `group`; registers it with its group.
    fn intern(
        &mut self,
        t: hid_t,
        group: &str,
        hint: &str,
        make: impl Fn(String, String) -> DataType,
    ) -> DataType {
        // SAFETY: valid type id.
        if unsafe { H5Tcommitted(t) } > 0
            && let Some(path) = object_name(t)
            && let Some((parent, name)) = split_path(&path)
        {
            if let Some(dt) = self.committed.get(&path) {
                return dt.clone();
            }
            let dt = make(name.to_owned(), path.clone());
            let types = self.groups.entry(parent.to_owned()).or_default();
            types.names.insert(name.to_owned());
            types.types.push(dt.clone());
            // Anonymous types equal to it in its group (a transient copy of it written as an
            // attribute, say) take its name rather than one of their own.
            // SAFETY: copies a valid type, kept to compare later types against.
            if let Ok(copy) = TypeId::new(unsafe { H5Tcopy(t) }, "copy a type") {
                types.anonymous.push((copy, dt.clone()));
            }
            self.committed.insert(path, dt.clone());
            return dt;
        }
        let types = self.groups.entry(group.to_owned()).or_default();
        for (other, dt) in &types.anonymous {
            // SAFETY: two valid type ids.
            if unsafe { H5Tequal(other.0, t) } > 0 {
                return dt.clone();
            }
        }
        let base = format!("{hint}_t");
        let mut name = base.clone();
        let mut k = 1;
        while types.names.contains(&name) {
            k += 1;
            name = format!("{base}{k}");
        }
        let dt = make(name.clone(), Group::child_path(group, &name));
        types.names.insert(name);
        types.types.push(dt.clone());
        // SAFETY: copies a valid type, kept to compare later types against.
        if let Ok(copy) = TypeId::new(unsafe { H5Tcopy(t) }, "copy a type") {
            types.anonymous.push((copy, dt.clone()));
        }
        dt
    }

    /// The user-defined types listed in the group at `path`, in the order they were met.
    pub(crate) fn group_types(&self, path: &str) -> Vec<DataType> {
        self.groups
            .get(path)
            .map(|g| g.types.clone())
            .unwrap_or_default()
    }
}

/// Whether the engine may copy elements of file type `t` as raw bytes of `size`: a standard
/// IEEE float, a full-precision integer, or an enum over one, of exactly that size.
pub(crate) fn engine_copyable(t: hid_t, size: usize) -> bool {
    // SAFETY: valid type id; every query below only reads it.
    unsafe {
        if H5Tget_size(t) != size {
            return false;
        }
        match H5Tget_class(t) {
            H5T_class_t::H5T_INTEGER => {
                H5Tget_precision(t) == size * 8
                    && H5Tget_offset(t) == 0
                    && matches!(
                        H5Tget_order(t),
                        H5T_order_t::H5T_ORDER_LE | H5T_order_t::H5T_ORDER_BE
                    )
            }
            H5T_class_t::H5T_FLOAT => {
                use hdf5::globals as g;
                [
                    &g::H5T_IEEE_F32LE,
                    &g::H5T_IEEE_F32BE,
                    &g::H5T_IEEE_F64LE,
                    &g::H5T_IEEE_F64BE,
                ]
                .iter()
                .any(|std| H5Tequal(t, ***std) > 0)
            }
            H5T_class_t::H5T_ENUM => {
                let base = H5Tget_super(t);
                if base < 0 {
                    return false;
                }
                let fits = engine_copyable(base, size);
                H5Tclose(base);
                fits
            }
            _ => false,
        }
    }
}
