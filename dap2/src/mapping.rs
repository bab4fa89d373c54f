//! The CDM → DAP2 mapping: which variables DAP2 can carry, as which types, under which names,
//! which of them are Grids, and the attributes each one gets.
//!
//! The policy is the table in the crate documentation ([`crate`]); this module is the one place
//! that applies it. Everything downstream (DDS, DAS, constraints, XDR, ASCII) reads only the
//! [`Dap2Dataset`] built here, plus the source's canonical bytes.

use std::collections::HashSet;

use cdm::{AttrValue, Attribute, DataType, Dataset, Group, Variable};

use crate::das::{self, DasAttr};

/// The DAP2 atomic types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AtomicType {
    /// Unsigned 8-bit; carries netCDF `ubyte` (`byte` goes as `Int16`, see the crate docs).
    Byte,
    /// Signed 16-bit.
    Int16,
    /// Unsigned 16-bit.
    UInt16,
    /// Signed 32-bit.
    Int32,
    /// Unsigned 32-bit.
    UInt32,
    /// IEEE single.
    Float32,
    /// IEEE double.
    Float64,
    /// A string.
    String,
    /// A URL (a string); only used for attributes read from elsewhere.
    Url,
}

impl AtomicType {
    /// The type's name as the DDS and DAS print it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Byte => "Byte",
            Self::Int16 => "Int16",
            Self::UInt16 => "UInt16",
            Self::Int32 => "Int32",
            Self::UInt32 => "UInt32",
            Self::Float32 => "Float32",
            Self::Float64 => "Float64",
            Self::String => "String",
            Self::Url => "Url",
        }
    }

    /// Whether values are strings (variable length on the wire).
    #[must_use]
    pub fn is_string(self) -> bool {
        matches!(self, Self::String | Self::Url)
    }
}

/// A numeric type as the source encodes it (canonical, little-endian).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NumKind {
    /// `i8`.
    I8,
    /// `u8`.
    U8,
    /// `i16`.
    I16,
    /// `u16`.
    U16,
    /// `i32`.
    I32,
    /// `u32`.
    U32,
    /// `f32`.
    F32,
    /// `f64`.
    F64,
}

impl NumKind {
    /// Bytes per value in the canonical encoding.
    #[must_use]
    pub fn size(self) -> usize {
        match self {
            Self::I8 | Self::U8 => 1,
            Self::I16 | Self::U16 => 2,
            Self::I32 | Self::U32 | Self::F32 => 4,
            Self::F64 => 8,
        }
    }

    /// The DAP2 type that carries this kind.
    #[must_use]
    pub fn dap2(self) -> AtomicType {
        match self {
            Self::U8 => AtomicType::Byte,
            // DAP2's Byte is unsigned: signed bytes go as Int16 (see the crate docs).
            Self::I8 | Self::I16 => AtomicType::Int16,
            Self::U16 => AtomicType::UInt16,
            Self::I32 => AtomicType::Int32,
            Self::U32 => AtomicType::UInt32,
            Self::F32 => AtomicType::Float32,
            Self::F64 => AtomicType::Float64,
        }
    }

    fn of(dtype: &DataType) -> Option<Self> {
        Some(match dtype {
            DataType::Int8 => Self::I8,
            DataType::UInt8 => Self::U8,
            DataType::Int16 => Self::I16,
            DataType::UInt16 => Self::U16,
            DataType::Int32 => Self::I32,
            DataType::UInt32 => Self::U32,
            DataType::Float32 => Self::F32,
            DataType::Float64 => Self::F64,
            DataType::Enum(e) => return Self::of(&e.base),
            _ => return None,
        })
    }
}

/// How one DAP2 value is made from the source's canonical bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Element {
    /// A number, copied bit for bit into its DAP2 type.
    Number(NumKind),
    /// A canonical string (`u64` length + bytes).
    String,
    /// `len` netCDF chars (the last dimension of a char array) making one string; trailing NULs
    /// are dropped.
    Chars {
        /// The string length (the char dimension's length).
        len: usize,
    },
}

impl Element {
    /// The DAP2 type of values made this way.
    #[must_use]
    pub fn dap2(self) -> AtomicType {
        match self {
            Self::Number(k) => k.dap2(),
            Self::String | Self::Chars { .. } => AtomicType::String,
        }
    }

    /// Canonical bytes per value, or `None` when it varies (strings).
    #[must_use]
    pub fn canonical_size(self) -> Option<usize> {
        match self {
            Self::Number(k) => Some(k.size()),
            Self::String => None,
            Self::Chars { len } => Some(len),
        }
    }
}

/// A DAP2 array dimension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dim {
    /// The DAP2 name (a shared dimension's flattened name), `None` when anonymous.
    pub name: Option<String>,
    /// Its length.
    pub len: usize,
}

/// An array (or scalar) of an atomic type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Atomic {
    /// The DAP2 name.
    pub name: String,
    /// How each value is made.
    pub element: Element,
    /// DAP2 dimensions; empty for a scalar.
    pub dims: Vec<Dim>,
}

impl Atomic {
    /// The DAP2 type.
    #[must_use]
    pub fn ty(&self) -> AtomicType {
        self.element.dap2()
    }

    /// The shape.
    #[must_use]
    pub fn shape(&self) -> Vec<usize> {
        self.dims.iter().map(|d| d.len).collect()
    }
}

/// A DAP2 declaration made from the source's values: an atomic array or a Structure (netCDF
/// compound), possibly nested.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// Atomic values.
    Atomic(Atomic),
    /// A Structure (an array of them when `dims` is not empty).
    Structure {
        /// The DAP2 name.
        name: String,
        /// Dimensions of the array of structures; empty for one.
        dims: Vec<Dim>,
        /// The fields, in the compound's order.
        members: Vec<Node>,
    },
}

impl Node {
    /// The DAP2 name.
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Self::Atomic(a) => &a.name,
            Self::Structure { name, .. } => name,
        }
    }

    /// The DAP2 dimensions.
    #[must_use]
    pub fn dims(&self) -> &[Dim] {
        match self {
            Self::Atomic(a) => &a.dims,
            Self::Structure { dims, .. } => dims,
        }
    }

    /// The shape.
    #[must_use]
    pub fn shape(&self) -> Vec<usize> {
        self.dims().iter().map(|d| d.len).collect()
    }

    /// Whether every value has the same canonical size (no strings inside).
    #[must_use]
    pub fn is_fixed_size(&self) -> bool {
        match self {
            Self::Atomic(a) => !matches!(a.element, Element::String),
            Self::Structure { members, .. } => members.iter().all(Self::is_fixed_size),
        }
    }
}

/// One Grid map: a coordinate variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GridMap {
    /// The coordinate variable's fully qualified CDM path, read for the map's values.
    pub path: String,
    /// The map as a one-dimensional atomic array.
    pub array: Atomic,
}

/// A top-level DAP2 variable and the CDM variable it comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct Dap2Var {
    /// The CDM variable's fully qualified path (what the source reads).
    pub path: String,
    /// Its declaration; for a Grid, the Grid's array.
    pub node: Node,
    /// The Grid maps, one per dimension, when the variable is a Grid; empty otherwise.
    pub maps: Vec<GridMap>,
    /// The CDM dimensions the DAP2 ones stand for, plus the char length dimension when the
    /// variable is a char array read as strings. Used to build the source hyperslab.
    pub source_shape: Vec<usize>,
    /// Its DAS container.
    pub attributes: Vec<DasAttr>,
}

impl Dap2Var {
    /// The DAP2 name.
    #[must_use]
    pub fn name(&self) -> &str {
        self.node.name()
    }

    /// Whether this variable is a Grid.
    #[must_use]
    pub fn is_grid(&self) -> bool {
        !self.maps.is_empty()
    }
}

/// A CDM variable DAP2 cannot carry, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Omitted {
    /// The variable's fully qualified CDM path.
    pub path: String,
    /// Why it is not in the DDS.
    pub reason: String,
}

/// A group's attributes, kept in a DAS container of their own (DAP2 has no groups).
#[derive(Clone, Debug, PartialEq)]
pub struct GroupAttributes {
    /// The container's name (the flattened group path).
    pub name: String,
    /// The container's attributes (the group's, plus its full path).
    pub attributes: Vec<DasAttr>,
}

/// A dataset as DAP2 sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Dap2Dataset {
    /// The dataset name printed after the DDS's closing brace.
    pub name: String,
    /// The top-level variables, in file order (root group first, then each group depth first).
    pub vars: Vec<Dap2Var>,
    /// The root group's attributes (`NC_GLOBAL`), with the list of omitted variables.
    pub global: Vec<DasAttr>,
    /// Attributes of the other groups.
    pub groups: Vec<GroupAttributes>,
    /// The DAP2 name of the root group's unlimited dimension (`DODS_EXTRA`).
    pub unlimited: Option<String>,
    /// Variables left out, with reasons.
    pub omitted: Vec<Omitted>,
}

impl Dap2Dataset {
    /// The top-level variable called `name`.
    #[must_use]
    pub fn var(&self, name: &str) -> Option<&Dap2Var> {
        self.vars.iter().find(|v| v.name() == name)
    }
}

/// Why a CDM type has no DAP2 form.
fn unsupported_reason(dtype: &DataType) -> Option<String> {
    match dtype {
        DataType::Int64 | DataType::UInt64 => Some(format!(
            "DAP2 has no 64-bit integer type ({})",
            dtype.cdl_name()
        )),
        DataType::VLen(_) => Some("DAP2 has no variable-length (vlen) type".into()),
        DataType::Opaque(_) => Some("DAP2 has no opaque type".into()),
        DataType::Enum(e) => unsupported_reason(&e.base),
        DataType::Structure(s) => s.fields.iter().find_map(|f| {
            unsupported_reason(&f.dtype)
                .map(|r| format!("its member {} cannot be carried: {r}", f.name))
        }),
        _ => None,
    }
}

/// Why a variable on a zero-length dimension cannot be carried, when it cannot.
///
/// netCDF-C's DAP2 client defines every DDS dimension with its size, and size 0 means
/// `UNLIMITED` to it; a zero-length dimension other than the one `DODS_EXTRA` names as
/// unlimited then makes the whole dataset fail to open ("NC_UNLIMITED size already in use").
/// netCDF-C hides zero-size variables anyway, so such a variable is left out of DAP2 (DAP4
/// carries it). The unlimited dimension itself may be empty: the DAS names it, and netCDF-C
/// reads it as the unlimited dimension with no records yet. A char array's last dimension is
/// the string length, not a DAP2 dimension.
fn zero_length_reason(var: &Variable, unlimited_path: Option<&str>) -> Option<String> {
    let dims = match var.dtype {
        DataType::Char => &var.dims[..var.dims.len().saturating_sub(1)],
        _ => &var.dims[..],
    };
    let empty = dims
        .iter()
        .find(|d| d.len == 0 && (d.path.is_none() || d.path.as_deref() != unlimited_path))?;
    Some(format!(
        "its dimension {} has length 0, which the netCDF-C DAP2 client would read as a second \
         unlimited dimension",
        empty.name.as_deref().unwrap_or("(anonymous)")
    ))
}

/// Assigns unique top-level names.
struct Names {
    used: HashSet<String>,
}

impl Names {
    fn new() -> Self {
        // The DAS containers DAP2 reserves.
        let used = ["NC_GLOBAL", "DODS_EXTRA"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        Self { used }
    }

    fn claim(&mut self, wanted: String) -> String {
        if self.used.insert(wanted.clone()) {
            return wanted;
        }
        (1..)
            .map(|i| format!("{wanted}_{i}"))
            .find(|candidate| !self.used.contains(candidate))
            .inspect(|name| {
                self.used.insert(name.clone());
            })
            .unwrap_or(wanted)
    }
}

/// The flattened DAP2 name of a CDM path: `/v` → `v`, `/g/h/v` → `g_h_v`.
#[must_use]
pub fn flatten_path(path: &str) -> String {
    path.trim_start_matches('/').replace('/', "_")
}

/// Builds the DAP2 view of `dataset`.
#[must_use]
pub fn map_dataset(dataset: &Dataset) -> Dap2Dataset {
    let mut names = Names::new();
    let mut omitted = Vec::new();
    // Variables DAP2 can carry, with their DAP2 names; names are given root group first so root
    // variables keep theirs.
    let mut carried: Vec<(&Variable, String)> = Vec::new();
    let unlimited_path = dataset.unlimited_dimension().map(|d| d.path.as_str());
    for var in dataset.all_variables() {
        if let Some(reason) =
            unsupported_reason(&var.dtype).or_else(|| zero_length_reason(var, unlimited_path))
        {
            omitted.push(Omitted {
                path: var.path.clone(),
                reason,
            });
            continue;
        }
        let wanted = if var.path == format!("/{}", var.name) {
            var.name.clone()
        } else {
            flatten_path(&var.path)
        };
        carried.push((var, wanted));
    }
    // Root variables claim their names before flattened ones.
    let mut order: Vec<usize> = (0..carried.len()).collect();
    order.sort_by_key(|&i| carried[i].0.path.matches('/').count());
    let mut final_names = vec![String::new(); carried.len()];
    for i in order {
        final_names[i] = names.claim(carried[i].1.clone());
    }
    let name_of = |path: &str| -> Option<&str> {
        carried
            .iter()
            .zip(&final_names)
            .find(|((v, _), _)| v.path == path)
            .map(|(_, n)| n.as_str())
    };

    let mut vars = Vec::new();
    for ((var, _), name) in carried.iter().zip(&final_names) {
        let dims = dap_dims(var);
        let node = match var_node(var, name.clone(), &dims) {
            Some(n) => n,
            None => continue,
        };
        let source_shape = var.shape();
        let maps = match &node {
            Node::Atomic(a) if !var.is_coordinate() && !a.dims.is_empty() => {
                grid_maps(dataset, var, a, &name_of).unwrap_or_default()
            }
            _ => Vec::new(),
        };
        let mut attributes = das::variable_attributes(var);
        if var.path != format!("/{}", var.name) {
            attributes.push(DasAttr::string("fullnamepath", &var.path));
        }
        vars.push(Dap2Var {
            path: var.path.clone(),
            node,
            maps,
            source_shape,
            attributes,
        });
    }

    let mut global = das::attributes(&dataset.root.attributes);
    if !omitted.is_empty() {
        global.push(DasAttr::strings(
            "DAP2_omitted_variables",
            omitted
                .iter()
                .map(|o| format!("{}: {}; read it over DAP4", o.path, o.reason))
                .collect(),
        ));
    }
    let groups = dataset
        .all_groups()
        // Only groups with attributes of their own get a container: netCDF-C shows every
        // container it cannot match to a variable as global attributes.
        .filter(|g| g.path != "/" && !g.attributes.is_empty())
        .map(|g: &Group| {
            let mut attributes = das::attributes(&g.attributes);
            attributes.push(DasAttr::string("fullnamepath", &g.path));
            GroupAttributes {
                name: names.claim(flatten_path(&g.path)),
                attributes,
            }
        })
        .collect();
    let unlimited = dataset.unlimited_dimension().map(|d| d.name.clone());
    Dap2Dataset {
        name: dataset.name.clone(),
        vars,
        global,
        groups,
        unlimited,
        omitted,
    }
}

/// A variable's dimensions with DAP2 names (shared ones flattened outside the root group).
fn dap_dims(var: &Variable) -> Vec<Dim> {
    var.dims
        .iter()
        .map(|d| Dim {
            name: d.path.as_deref().map(|p| {
                if p.matches('/').count() == 1 {
                    d.name.clone().unwrap_or_else(|| flatten_path(p))
                } else {
                    flatten_path(p)
                }
            }),
            len: d.len,
        })
        .collect()
}

/// The declaration of a carried variable.
fn var_node(var: &Variable, name: String, dims: &[Dim]) -> Option<Node> {
    type_node(&var.dtype, name, dims.to_vec())
}

/// The node for values of `dtype` over `dims`; a char array loses its last dimension to the
/// string length.
fn type_node(dtype: &DataType, name: String, mut dims: Vec<Dim>) -> Option<Node> {
    let element = match dtype {
        DataType::Char => {
            let len = dims.pop().map_or(1, |d| d.len);
            Element::Chars { len }
        }
        DataType::String => Element::String,
        DataType::Structure(s) => {
            let members = s
                .fields
                .iter()
                .map(|f| {
                    let field_dims = f.shape.iter().map(|&len| Dim { name: None, len }).collect();
                    type_node(&f.dtype, f.name.clone(), field_dims)
                })
                .collect::<Option<Vec<_>>>()?;
            return Some(Node::Structure {
                name,
                dims,
                members,
            });
        }
        other => Element::Number(NumKind::of(other)?),
    };
    Some(Node::Atomic(Atomic {
        name,
        element,
        dims,
    }))
}

/// The Grid maps of `var` when every dimension has a carried one-dimensional coordinate
/// variable; `None` otherwise.
fn grid_maps<'a>(
    dataset: &Dataset,
    var: &Variable,
    array: &Atomic,
    name_of: &impl Fn(&str) -> Option<&'a str>,
) -> Option<Vec<GridMap>> {
    // A char array's last CDM dimension is the string length, not a DAP2 dimension.
    let cdm_dims = &var.dims[..array.dims.len()];
    cdm_dims
        .iter()
        .zip(&array.dims)
        .map(|(cdm_dim, dap_dim)| {
            let path = cdm_dim.path.as_deref()?;
            let coord = dataset.variable(path)?;
            if !coord.is_coordinate() {
                return None;
            }
            let element = match &coord.dtype {
                DataType::String => Element::String,
                other => Element::Number(NumKind::of(other)?),
            };
            Some(GridMap {
                path: coord.path.clone(),
                array: Atomic {
                    name: name_of(&coord.path)?.to_owned(),
                    element,
                    dims: vec![dap_dim.clone()],
                },
            })
        })
        .collect()
}

/// The attributes a variable of CDM type `dtype` gets from the mapping itself (not the file).
pub(crate) fn type_attributes(var: &Variable) -> Vec<DasAttr> {
    let mut out = Vec::new();
    if let DataType::Enum(e) = &var.dtype {
        let values: Vec<AttrValue> = vec![enum_values(&e.base, e.members.iter().map(|m| m.value))];
        if let Some(v) = values.into_iter().next() {
            out.extend(das::attribute(&Attribute::new("DAP2_EnumValues", v)));
        }
        out.push(DasAttr::strings(
            "DAP2_EnumNames",
            e.members.iter().map(|m| m.name.clone()).collect(),
        ));
        out.push(DasAttr::string("DAP2_OriginalNetCDFBaseType", "NC_ENUM"));
        out.push(DasAttr::string("DAP2_OriginalNetCDFTypeName", &e.name));
    }
    if let (DataType::Char, Some(last)) = (&var.dtype, var.dims.last()) {
        // netCDF-C's DAP2 client restores the char dimension from these (libdap2/dapattr.c) and
        // hides them. They must be flat attributes named `DODS.…`: oc2 moves a nested `DODS`
        // container to the global attributes (oc2/ocnode.c `ocddsdasmerge`).
        out.push(DasAttr::values(
            "DODS.strlen",
            AtomicType::Int32,
            vec![last.len.to_string()],
        ));
        if let Some(name) = &last.name {
            out.push(DasAttr::string("DODS.dimName", name));
        }
    }
    out
}

/// Enumeration values as an attribute value of the enum's base type.
fn enum_values(base: &DataType, values: impl Iterator<Item = i128>) -> AttrValue {
    let v: Vec<i128> = values.collect();
    macro_rules! conv {
        ($variant:ident, $t:ty) => {
            AttrValue::$variant(
                v.iter()
                    .map(|&x| <$t>::try_from(x).unwrap_or_default())
                    .collect(),
            )
        };
    }
    match base {
        DataType::Int8 => conv!(Int8, i8),
        DataType::UInt8 => conv!(UInt8, u8),
        DataType::Int16 => conv!(Int16, i16),
        DataType::UInt16 => conv!(UInt16, u16),
        DataType::Int32 => conv!(Int32, i32),
        DataType::UInt32 => conv!(UInt32, u32),
        DataType::Int64 => conv!(Int64, i64),
        _ => conv!(UInt64, u64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattened_names_join_group_paths() {
        assert_eq!(flatten_path("/v"), "v");
        assert_eq!(flatten_path("/g/h/v"), "g_h_v");
    }

    #[test]
    fn names_are_unique() {
        let mut n = Names::new();
        assert_eq!(n.claim("a".into()), "a");
        assert_eq!(n.claim("a".into()), "a_1");
        assert_eq!(n.claim("NC_GLOBAL".into()), "NC_GLOBAL_1");
    }
}
