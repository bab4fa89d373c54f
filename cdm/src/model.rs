//! The Common Data Model: one immutable description of a dataset that every format fills and
//! every protocol reads.
//!
//! A [`Dataset`] is a tree of [`Group`]s; each group holds shared [`Dimension`]s, user-defined
//! types, [`Variable`]s and [`Attribute`]s. Names of groups, dimensions, types and variables are
//! also kept as fully qualified paths (`/g/h/v`), the form DAP4 uses to refer to them.
//!
//! Values that a [`crate::Source`] reads are laid out in the *canonical encoding* described on
//! [`DataType`]: little-endian and packed, which is also how DAP4 puts them on the wire.

use std::fmt;
use std::sync::Arc;

/// Every element type a variable or attribute can have.
///
/// # Canonical encoding
///
/// Values travel between a source and a protocol as bytes in this layout, element after element
/// in C (row-major) order:
///
/// | type | bytes per element |
/// |---|---|
/// | integers, floats | the value, little-endian |
/// | `Char` | one byte |
/// | `Enum` | the value as its base integer type |
/// | `String` | `u64` little-endian byte length, then the UTF-8 bytes |
/// | `Opaque` | `u64` little-endian byte length, then the bytes |
/// | `Structure` | each field in order, each field's elements in this encoding, no padding |
/// | `VLen` | `u64` little-endian element count, then the elements in this encoding |
///
/// A buffer yielded by a source always holds whole elements.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum DataType {
    /// Signed 8-bit integer (netCDF `byte`).
    Int8,
    /// Unsigned 8-bit integer (netCDF `ubyte`).
    UInt8,
    /// Signed 16-bit integer.
    Int16,
    /// Unsigned 16-bit integer.
    UInt16,
    /// Signed 32-bit integer.
    Int32,
    /// Unsigned 32-bit integer.
    UInt32,
    /// Signed 64-bit integer.
    Int64,
    /// Unsigned 64-bit integer.
    UInt64,
    /// IEEE 754 single precision.
    Float32,
    /// IEEE 754 double precision.
    Float64,
    /// One byte of text (netCDF `char`); arrays of it usually hold fixed-length strings.
    Char,
    /// A variable-length UTF-8 string.
    String,
    /// An integer type whose values have names.
    Enum(Arc<EnumType>),
    /// A fixed-size blob of bytes.
    Opaque(Arc<OpaqueType>),
    /// A record of named fields (netCDF compound, HDF5 compound).
    Structure(Arc<StructureType>),
    /// A variable-length sequence of a base type.
    VLen(Arc<VLenType>),
}

impl DataType {
    /// The size of one element in the canonical encoding, or `None` when it varies from element to
    /// element (strings, opaques, vlens, and structures containing them).
    #[must_use]
    pub fn fixed_size(&self) -> Option<usize> {
        match self {
            Self::Int8 | Self::UInt8 | Self::Char => Some(1),
            Self::Int16 | Self::UInt16 => Some(2),
            Self::Int32 | Self::UInt32 | Self::Float32 => Some(4),
            Self::Int64 | Self::UInt64 | Self::Float64 => Some(8),
            Self::Enum(e) => e.base.fixed_size(),
            Self::String | Self::Opaque(_) | Self::VLen(_) => None,
            Self::Structure(s) => s.fields.iter().try_fold(0usize, |acc, f| {
                Some(acc + f.dtype.fixed_size()? * f.shape.iter().product::<usize>())
            }),
        }
    }

    /// Whether this is one of the ten numeric types.
    #[must_use]
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            Self::Int8
                | Self::UInt8
                | Self::Int16
                | Self::UInt16
                | Self::Int32
                | Self::UInt32
                | Self::Int64
                | Self::UInt64
                | Self::Float32
                | Self::Float64
        )
    }

    /// Whether this is one of the eight integer types.
    #[must_use]
    pub fn is_integer(&self) -> bool {
        self.is_numeric() && !matches!(self, Self::Float32 | Self::Float64)
    }

    /// netCDF's default fill value for this type, canonically encoded (one element), for the
    /// fixed-size atomic types (and enums, through their base type).
    #[must_use]
    pub fn netcdf_default_fill(&self) -> Option<Vec<u8>> {
        Some(match self {
            Self::Int8 => (-127i8).to_le_bytes().to_vec(),
            Self::UInt8 => 255u8.to_le_bytes().to_vec(),
            Self::Int16 => (-32767i16).to_le_bytes().to_vec(),
            Self::UInt16 => 65535u16.to_le_bytes().to_vec(),
            Self::Int32 => (-2_147_483_647i32).to_le_bytes().to_vec(),
            Self::UInt32 => 4_294_967_295u32.to_le_bytes().to_vec(),
            Self::Int64 => (-9_223_372_036_854_775_806i64).to_le_bytes().to_vec(),
            Self::UInt64 => 18_446_744_073_709_551_614u64.to_le_bytes().to_vec(),
            Self::Float32 => 9.969_21e36_f32.to_le_bytes().to_vec(),
            Self::Float64 => 9.969_209_968_386_869e36_f64.to_le_bytes().to_vec(),
            Self::Char => vec![0],
            Self::Enum(e) => e.base.netcdf_default_fill()?,
            _ => return None,
        })
    }

    /// The name netCDF's CDL uses for this type (`float`, `ubyte`, …; the type's own name for
    /// user-defined types).
    #[must_use]
    pub fn cdl_name(&self) -> &str {
        match self {
            Self::Int8 => "byte",
            Self::UInt8 => "ubyte",
            Self::Int16 => "short",
            Self::UInt16 => "ushort",
            Self::Int32 => "int",
            Self::UInt32 => "uint",
            Self::Int64 => "int64",
            Self::UInt64 => "uint64",
            Self::Float32 => "float",
            Self::Float64 => "double",
            Self::Char => "char",
            Self::String => "string",
            Self::Enum(t) => &t.name,
            Self::Opaque(t) => &t.name,
            Self::Structure(t) => &t.name,
            Self::VLen(t) => &t.name,
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.cdl_name())
    }
}

/// An enumeration: an integer base type and the names of its values.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct EnumType {
    /// The type's own name.
    pub name: String,
    /// Fully qualified name (`/g/name`), how DAP4 refers to it.
    pub path: String,
    /// The integer type that stores the values.
    pub base: DataType,
    /// The named constants, in the order the file lists them.
    pub members: Vec<EnumMember>,
}

impl EnumType {
    /// The name of `value`, if the enumeration has one.
    #[must_use]
    pub fn name_of(&self, value: i128) -> Option<&str> {
        self.members
            .iter()
            .find(|m| m.value == value)
            .map(|m| m.name.as_str())
    }
}

/// One named constant of an [`EnumType`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct EnumMember {
    /// The constant's name.
    pub name: String,
    /// Its value; `i128` holds every value of every integer base type.
    pub value: i128,
}

/// A fixed-size blob type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct OpaqueType {
    /// The type's own name.
    pub name: String,
    /// Fully qualified name.
    pub path: String,
    /// Bytes per element.
    pub size: usize,
}

/// A record type with named fields.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct StructureType {
    /// The type's own name.
    pub name: String,
    /// Fully qualified name.
    pub path: String,
    /// The fields, in storage order.
    pub fields: Vec<Field>,
}

/// One field of a [`StructureType`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Field {
    /// The field's name.
    pub name: String,
    /// Its element type.
    pub dtype: DataType,
    /// Its array shape inside one record; empty for a scalar field.
    pub shape: Vec<usize>,
}

/// A variable-length sequence type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct VLenType {
    /// The type's own name.
    pub name: String,
    /// Fully qualified name.
    pub path: String,
    /// The type of each element of a sequence.
    pub base: DataType,
}

/// A shared, named dimension.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Dimension {
    /// The dimension's own name.
    pub name: String,
    /// Fully qualified name (`/g/time`).
    pub path: String,
    /// Current length (for an unlimited dimension, the current number of records).
    pub len: usize,
    /// Whether the dimension can grow (netCDF `UNLIMITED`).
    pub unlimited: bool,
}

/// How a variable refers to one of its dimensions.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VarDim {
    /// Fully qualified name of the shared dimension, or `None` for an anonymous one.
    pub path: Option<String>,
    /// The dimension's own name (the last path component), or `None` when anonymous.
    pub name: Option<String>,
    /// Length of this dimension.
    pub len: usize,
    /// Whether the shared dimension is unlimited.
    pub unlimited: bool,
}

impl VarDim {
    /// A reference to a shared dimension.
    #[must_use]
    pub fn shared(dim: &Dimension) -> Self {
        Self {
            path: Some(dim.path.clone()),
            name: Some(dim.name.clone()),
            len: dim.len,
            unlimited: dim.unlimited,
        }
    }

    /// An anonymous dimension of length `len`.
    #[must_use]
    pub fn anonymous(len: usize) -> Self {
        Self {
            path: None,
            name: None,
            len,
            unlimited: false,
        }
    }
}

/// How a variable's bytes are stored, for information (`fathom info`) and for the read engine.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Storage {
    /// Chunk shape, if the variable is chunked.
    pub chunks: Option<Vec<usize>>,
    /// Deflate level, if compressed with deflate.
    pub deflate: Option<u32>,
    /// Whether the shuffle filter is applied.
    pub shuffle: bool,
    /// Whether the fletcher32 checksum filter is applied.
    pub fletcher32: bool,
}

/// A variable: a typed array over zero or more dimensions.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Variable {
    /// The variable's own name.
    pub name: String,
    /// Fully qualified name (`/g/v`); unique in the dataset and the key sources read by.
    pub path: String,
    /// Element type.
    pub dtype: DataType,
    /// Dimensions, slowest-varying first; empty for a scalar.
    pub dims: Vec<VarDim>,
    /// Attributes, in file order (including `_FillValue` when the file has one).
    pub attributes: Vec<Attribute>,
    /// Storage layout, for information.
    pub storage: Storage,
}

impl Variable {
    /// The current shape.
    #[must_use]
    pub fn shape(&self) -> Vec<usize> {
        self.dims.iter().map(|d| d.len).collect()
    }

    /// Number of elements (1 for a scalar).
    #[must_use]
    pub fn len(&self) -> usize {
        self.dims.iter().map(|d| d.len).product()
    }

    /// Whether the variable holds no elements.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The attribute called `name`.
    #[must_use]
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// The `_FillValue` attribute, if any.
    #[must_use]
    pub fn fill_value(&self) -> Option<&AttrValue> {
        self.attribute("_FillValue").map(|a| &a.value)
    }

    /// One element of the variable's fill value, canonically encoded: its `_FillValue` when that
    /// has the variable's type, otherwise netCDF's default fill for the type.
    #[must_use]
    pub fn fill_bytes(&self) -> Option<Vec<u8>> {
        let own = self.fill_value().and_then(|v| match (v, &self.dtype) {
            (AttrValue::Typed { dtype, data, .. }, t) if dtype == t => t
                .fixed_size()
                .and_then(|n| data.get(..n))
                .map(<[u8]>::to_vec),
            (AttrValue::Char(b), DataType::Char) => Some(vec![b.first().copied().unwrap_or(0)]),
            (v, t) if &v.dtype() == t => v.first_le_bytes(),
            _ => None,
        });
        own.or_else(|| self.dtype.netcdf_default_fill())
    }

    /// Whether this is a coordinate variable: one-dimensional, named like its dimension, and of a
    /// numeric or string type.
    #[must_use]
    pub fn is_coordinate(&self) -> bool {
        self.dims.len() == 1
            && self.dims[0].name.as_deref() == Some(self.name.as_str())
            && (self.dtype.is_numeric() || self.dtype == DataType::String)
    }
}

/// A named attribute value.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Attribute {
    /// The attribute's name.
    pub name: String,
    /// Its typed value(s).
    pub value: AttrValue,
}

impl Attribute {
    /// An attribute called `name` with `value`.
    pub fn new(name: impl Into<String>, value: AttrValue) -> Self {
        Self {
            name: name.into(),
            value,
        }
    }
}

/// An attribute value: always an array (a scalar is an array of one).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum AttrValue {
    /// `byte`.
    Int8(Vec<i8>),
    /// `ubyte`.
    UInt8(Vec<u8>),
    /// `short`.
    Int16(Vec<i16>),
    /// `ushort`.
    UInt16(Vec<u16>),
    /// `int`.
    Int32(Vec<i32>),
    /// `uint`.
    UInt32(Vec<u32>),
    /// `int64`.
    Int64(Vec<i64>),
    /// `uint64`.
    UInt64(Vec<u64>),
    /// `float`.
    Float32(Vec<f32>),
    /// `double`.
    Float64(Vec<f64>),
    /// A netCDF `char` attribute: one text value. Kept as raw bytes because files are not always
    /// valid UTF-8; use [`AttrValue::as_text`] to read it.
    Char(Vec<u8>),
    /// `string` values.
    String(Vec<String>),
    /// Values of a user-defined type (enum, opaque, structure, vlen), `count` elements in the
    /// canonical encoding.
    Typed {
        /// The user-defined type.
        dtype: DataType,
        /// Number of elements.
        count: usize,
        /// The elements, canonically encoded.
        data: Vec<u8>,
    },
}

impl AttrValue {
    /// The element type of the value.
    #[must_use]
    pub fn dtype(&self) -> DataType {
        match self {
            Self::Int8(_) => DataType::Int8,
            Self::UInt8(_) => DataType::UInt8,
            Self::Int16(_) => DataType::Int16,
            Self::UInt16(_) => DataType::UInt16,
            Self::Int32(_) => DataType::Int32,
            Self::UInt32(_) => DataType::UInt32,
            Self::Int64(_) => DataType::Int64,
            Self::UInt64(_) => DataType::UInt64,
            Self::Float32(_) => DataType::Float32,
            Self::Float64(_) => DataType::Float64,
            Self::Char(_) => DataType::Char,
            Self::String(_) => DataType::String,
            Self::Typed { dtype, .. } => dtype.clone(),
        }
    }

    /// Number of values (the byte length for `Char`).
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            Self::Int8(v) => v.len(),
            Self::UInt8(v) => v.len(),
            Self::Int16(v) => v.len(),
            Self::UInt16(v) => v.len(),
            Self::Int32(v) => v.len(),
            Self::UInt32(v) => v.len(),
            Self::Int64(v) => v.len(),
            Self::UInt64(v) => v.len(),
            Self::Float32(v) => v.len(),
            Self::Float64(v) => v.len(),
            Self::Char(v) => v.len(),
            Self::String(v) => v.len(),
            Self::Typed { count, .. } => *count,
        }
    }

    /// Whether there are no values.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The text of a `Char` value (invalid UTF-8 replaced), or the first of a `String` value.
    #[must_use]
    pub fn as_text(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            Self::Char(b) => Some(String::from_utf8_lossy(b)),
            Self::String(v) => v.first().map(|s| std::borrow::Cow::Borrowed(s.as_str())),
            _ => None,
        }
    }

    /// The first value of a numeric attribute, little-endian.
    #[must_use]
    pub fn first_le_bytes(&self) -> Option<Vec<u8>> {
        Some(match self {
            Self::Int8(v) => v.first()?.to_le_bytes().to_vec(),
            Self::UInt8(v) => v.first()?.to_le_bytes().to_vec(),
            Self::Int16(v) => v.first()?.to_le_bytes().to_vec(),
            Self::UInt16(v) => v.first()?.to_le_bytes().to_vec(),
            Self::Int32(v) => v.first()?.to_le_bytes().to_vec(),
            Self::UInt32(v) => v.first()?.to_le_bytes().to_vec(),
            Self::Int64(v) => v.first()?.to_le_bytes().to_vec(),
            Self::UInt64(v) => v.first()?.to_le_bytes().to_vec(),
            Self::Float32(v) => v.first()?.to_le_bytes().to_vec(),
            Self::Float64(v) => v.first()?.to_le_bytes().to_vec(),
            _ => return None,
        })
    }

    /// Numeric values widened to `f64` (integers above 2^53 lose precision), or `None` for
    /// non-numeric values.
    #[must_use]
    pub fn as_f64s(&self) -> Option<Vec<f64>> {
        fn conv<T: Copy + Into<f64>>(v: &[T]) -> Vec<f64> {
            v.iter().map(|x| (*x).into()).collect()
        }
        Some(match self {
            Self::Int8(v) => conv(v),
            Self::UInt8(v) => conv(v),
            Self::Int16(v) => conv(v),
            Self::UInt16(v) => conv(v),
            Self::Int32(v) => conv(v),
            Self::UInt32(v) => conv(v),
            #[allow(clippy::cast_precision_loss)]
            Self::Int64(v) => v.iter().map(|x| *x as f64).collect(),
            #[allow(clippy::cast_precision_loss)]
            Self::UInt64(v) => v.iter().map(|x| *x as f64).collect(),
            Self::Float32(v) => conv(v),
            Self::Float64(v) => v.clone(),
            _ => return None,
        })
    }
}

/// A group: a namespace holding dimensions, types, variables, attributes and child groups.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Group {
    /// The group's own name (empty for the root group).
    pub name: String,
    /// Fully qualified name: `/` for the root, `/a/b` below it.
    pub path: String,
    /// Dimensions defined in this group.
    pub dimensions: Vec<Dimension>,
    /// User-defined types defined in this group (enum, opaque, structure, vlen).
    pub types: Vec<DataType>,
    /// Variables defined in this group.
    pub variables: Vec<Variable>,
    /// The group's attributes (for the root: the global attributes).
    pub attributes: Vec<Attribute>,
    /// Child groups.
    pub groups: Vec<Group>,
}

impl Group {
    /// The path of a child called `name` of the group at `parent` (`/` + name at the root).
    #[must_use]
    pub fn child_path(parent: &str, name: &str) -> String {
        if parent == "/" {
            format!("/{name}")
        } else {
            format!("{parent}/{name}")
        }
    }

    /// Every variable of this group and its descendants, depth first, this group's first.
    pub fn all_variables(&self) -> Box<dyn Iterator<Item = &Variable> + '_> {
        Box::new(
            self.variables
                .iter()
                .chain(self.groups.iter().flat_map(Group::all_variables)),
        )
    }

    /// Every group in this subtree, depth first, starting with this one.
    pub fn all_groups(&self) -> Box<dyn Iterator<Item = &Group> + '_> {
        Box::new(std::iter::once(self).chain(self.groups.iter().flat_map(Group::all_groups)))
    }

    /// The variable called `name` in this group (not descendants).
    #[must_use]
    pub fn variable(&self, name: &str) -> Option<&Variable> {
        self.variables.iter().find(|v| v.name == name)
    }

    /// The attribute called `name`.
    #[must_use]
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
}

/// The on-disk format a dataset was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Format {
    /// netCDF-3 classic (CDF-1).
    NetCdf3Classic,
    /// netCDF-3 64-bit offset (CDF-2).
    NetCdf364BitOffset,
    /// netCDF-3 64-bit data (CDF-5).
    NetCdf5,
    /// netCDF-4 (HDF5 underneath).
    NetCdf4,
    /// netCDF-4 classic model.
    NetCdf4Classic,
    /// Plain HDF5.
    Hdf5,
    /// An NcML virtual dataset (made of other datasets).
    Ncml,
    /// A dataset on a remote OPeNDAP server, read over DAP2.
    RemoteDap2,
    /// A dataset on a remote OPeNDAP server, read over DAP4.
    RemoteDap4,
    /// HDF5 / netCDF-4 read through a DMR++ index, without the HDF5 library.
    Dmrpp,
}

impl Format {
    /// A short human name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::NetCdf3Classic => "netCDF-3 classic",
            Self::NetCdf364BitOffset => "netCDF-3 64-bit offset",
            Self::NetCdf5 => "netCDF-5 (CDF-5)",
            Self::NetCdf4 => "netCDF-4",
            Self::NetCdf4Classic => "netCDF-4 classic model",
            Self::Hdf5 => "HDF5",
            Self::Ncml => "NcML virtual dataset",
            Self::RemoteDap2 => "remote OPeNDAP (DAP2)",
            Self::RemoteDap4 => "remote OPeNDAP (DAP4)",
            Self::Dmrpp => "HDF5 through a DMR++ index",
        }
    }
}

/// A whole dataset, immutable once built and shared as `Arc<Dataset>`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Dataset {
    /// The dataset's name (its file name).
    pub name: String,
    /// The format it was read from.
    pub format: Format,
    /// The root group.
    pub root: Group,
}

impl Dataset {
    /// The variable with fully qualified name `path` (`/v`, `/g/v`).
    #[must_use]
    pub fn variable(&self, path: &str) -> Option<&Variable> {
        let (group_path, name) = split_path(path)?;
        self.group(group_path)?.variable(name)
    }

    /// The group with fully qualified name `path` (`/` for the root).
    #[must_use]
    pub fn group(&self, path: &str) -> Option<&Group> {
        let mut group = &self.root;
        for part in path.split('/').filter(|p| !p.is_empty()) {
            group = group.groups.iter().find(|g| g.name == part)?;
        }
        Some(group)
    }

    /// The shared dimension with fully qualified name `path`.
    #[must_use]
    pub fn dimension(&self, path: &str) -> Option<&Dimension> {
        let (group_path, name) = split_path(path)?;
        self.group(group_path)?
            .dimensions
            .iter()
            .find(|d| d.name == name)
    }

    /// Every variable in the dataset, depth first, root group first.
    pub fn all_variables(&self) -> impl Iterator<Item = &Variable> {
        self.root.all_variables()
    }

    /// Every group in the dataset, depth first, starting with the root.
    pub fn all_groups(&self) -> impl Iterator<Item = &Group> {
        self.root.all_groups()
    }

    /// The dimension that is unlimited in the root group, if any (the netCDF-3 record dimension).
    #[must_use]
    pub fn unlimited_dimension(&self) -> Option<&Dimension> {
        self.root.dimensions.iter().find(|d| d.unlimited)
    }
}

/// Splits `/a/b/v` into (`/a/b`, `v`) and `/v` into (`/`, `v`).
#[must_use]
pub fn split_path(path: &str) -> Option<(&str, &str)> {
    let idx = path.rfind('/')?;
    let name = &path[idx + 1..];
    if name.is_empty() {
        return None;
    }
    let parent = if idx == 0 { "/" } else { &path[..idx] };
    Some((parent, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dim(path: &str, len: usize, unlimited: bool) -> Dimension {
        let (_, name) = split_path(path).expect("valid path");
        Dimension {
            name: name.into(),
            path: path.into(),
            len,
            unlimited,
        }
    }

    fn var(path: &str, dtype: DataType, dims: &[&Dimension]) -> Variable {
        let (_, name) = split_path(path).expect("valid path");
        Variable {
            name: name.into(),
            path: path.into(),
            dtype,
            dims: dims.iter().map(|d| VarDim::shared(d)).collect(),
            attributes: vec![],
            storage: Storage::default(),
        }
    }

    fn sample() -> Dataset {
        let time = dim("/time", 3, true);
        let lat = dim("/g/lat", 4, false);
        let mut g = Group {
            name: "g".into(),
            path: "/g".into(),
            dimensions: vec![lat.clone()],
            variables: vec![
                var("/g/lat", DataType::Float32, &[&lat]),
                var("/g/t", DataType::Float64, &[&time, &lat]),
            ],
            ..Group::default()
        };
        g.variables[1].attributes.push(Attribute::new(
            "_FillValue",
            AttrValue::Float64(vec![-999.0]),
        ));
        Dataset {
            name: "x.nc".into(),
            format: Format::NetCdf4,
            root: Group {
                name: String::new(),
                path: "/".into(),
                dimensions: vec![time.clone()],
                variables: vec![var("/time", DataType::Int32, &[&time])],
                groups: vec![g],
                ..Group::default()
            },
        }
    }

    #[test]
    fn paths_resolve_to_groups_variables_and_dimensions() {
        let ds = sample();
        assert_eq!(ds.variable("/g/t").map(|v| v.shape()), Some(vec![3, 4]));
        assert_eq!(ds.variable("/time").map(Variable::len), Some(3));
        assert!(ds.variable("/g/missing").is_none());
        assert!(ds.variable("/nogroup/t").is_none());
        assert!(ds.variable("").is_none());
        assert_eq!(ds.group("/g").map(|g| g.name.as_str()), Some("g"));
        assert_eq!(ds.dimension("/g/lat").map(|d| d.len), Some(4));
        assert_eq!(
            ds.unlimited_dimension().map(|d| d.name.as_str()),
            Some("time")
        );
        let names: Vec<_> = ds.all_variables().map(|v| v.path.as_str()).collect();
        assert_eq!(names, ["/time", "/g/lat", "/g/t"]);
    }

    #[test]
    fn coordinate_variables_and_fill_values() {
        let ds = sample();
        assert!(ds.variable("/time").is_some_and(Variable::is_coordinate));
        assert!(ds.variable("/g/lat").is_some_and(Variable::is_coordinate));
        let t = ds.variable("/g/t").expect("t");
        assert!(!t.is_coordinate());
        assert_eq!(t.fill_value(), Some(&AttrValue::Float64(vec![-999.0])));
    }

    #[test]
    fn fixed_sizes_follow_the_canonical_encoding() {
        assert_eq!(DataType::Int16.fixed_size(), Some(2));
        assert_eq!(DataType::String.fixed_size(), None);
        let e = DataType::Enum(Arc::new(EnumType {
            name: "e".into(),
            path: "/e".into(),
            base: DataType::UInt16,
            members: vec![EnumMember {
                name: "a".into(),
                value: 7,
            }],
        }));
        assert_eq!(e.fixed_size(), Some(2));
        let s = StructureType {
            name: "s".into(),
            path: "/s".into(),
            fields: vec![
                Field {
                    name: "a".into(),
                    dtype: DataType::Int32,
                    shape: vec![],
                },
                Field {
                    name: "b".into(),
                    dtype: e,
                    shape: vec![2, 3],
                },
            ],
        };
        assert_eq!(
            DataType::Structure(Arc::new(s.clone())).fixed_size(),
            Some(16)
        );
        let mut with_string = s;
        with_string.fields.push(Field {
            name: "c".into(),
            dtype: DataType::String,
            shape: vec![],
        });
        assert_eq!(
            DataType::Structure(Arc::new(with_string)).fixed_size(),
            None
        );
    }

    #[test]
    fn attribute_values_report_type_length_and_text() {
        let v = AttrValue::Char(b"degrees_north".to_vec());
        assert_eq!(v.dtype(), DataType::Char);
        assert_eq!(v.as_text().as_deref(), Some("degrees_north"));
        assert_eq!(AttrValue::Int16(vec![1, 2]).as_f64s(), Some(vec![1.0, 2.0]));
        assert_eq!(AttrValue::String(vec!["a".into()]).as_f64s(), None);
        assert_eq!(AttrValue::UInt64(vec![]).len(), 0);
    }

    #[test]
    fn split_path_handles_root_and_nested() {
        assert_eq!(split_path("/v"), Some(("/", "v")));
        assert_eq!(split_path("/a/b/v"), Some(("/a/b", "v")));
        assert_eq!(split_path("/a/"), None);
        assert_eq!(split_path("v"), None);
    }
}
