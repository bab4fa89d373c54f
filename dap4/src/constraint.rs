//! Binding a parsed [`Expression`] to a [`Dataset`]: which variables (and Structure fields) a
//! response holds, and which indices of each dimension.
//!
//! Rules, following the DAP4 spec and what Hyrax and TDS return:
//! - Names are fully qualified (`/g/v`); a name without a leading `/` is taken from the root.
//! - `[]` or a missing trailing subscript selects the whole dimension, or, when the dimension is
//!   shared and the expression constrains it (`/lat=[0:2:10]`), that part of it.
//! - A dimension keeps its shared name in the answer unless the variable's own subscript slices
//!   it (`[…]` with indices, even all of them): then it becomes an anonymous `<Dim size>`, as
//!   in Hyrax's and TDS's answers. A shared-dimension constraint resizes the shared dimension.
//! - Variables are returned in declaration order ([`declaration_order`]: depth first, a group's
//!   variables before its subgroups, and within a group its coordinate variables first),
//!   whatever the order of the expression: that is the order the DMR declares them in and the
//!   order DAP4 clients expect the data in (netcdf-c `NCD4_getToplevelVars`, pydap `walk`).
//! - An expression with no variable clause projects every variable.

use std::collections::{BTreeSet, HashMap};

use cdm::{DataType, Dataset, Group, Hyperslab, HyperslabError, Range, StructureType, Variable};

use crate::ce::{Clause, Expression, Selector, Subscript};
use crate::error::{Error, Result};

/// The most hyperslabs one projection may need (index lists multiply them).
const MAX_READS: usize = 1 << 16;

/// The indices selected along one dimension: one or more ranges, read one after the other (more
/// than one only for an index list like `[0:1,3]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DimSelection {
    pieces: Vec<Range>,
}

impl DimSelection {
    /// The whole of a dimension of length `len`.
    #[must_use]
    pub fn full(len: usize) -> Self {
        Self {
            pieces: vec![Range::full(len)],
        }
    }

    /// The selection a subscript makes of a dimension of length `len` (`name` is for messages).
    ///
    /// # Errors
    /// [`Error::Slice`] when a slice does not fit.
    pub fn from_subscript(subscript: &Subscript, len: usize, name: &str) -> Result<Self> {
        // An empty dimension has no index to get wrong: whatever is asked selects nothing
        // (pydap asks for `[0:1:2**63-2]` when it cannot say "none").
        if subscript.is_empty() || len == 0 {
            return Ok(Self::full(len));
        }
        let slice_error = |source| Error::Slice {
            name: name.to_owned(),
            source,
        };
        let signed = |n: u64| {
            i64::try_from(n).map_err(|_| slice_error(HyperslabError::OutOfRange { index: n, len }))
        };
        let mut pieces = Vec::with_capacity(subscript.len());
        for s in subscript {
            let stop = match s.stop {
                Some(stop) => signed(stop)?,
                // `[n:]`: to the end.
                None => signed(len as u64 - 1)?,
            };
            let range = Range::from_dap(signed(s.start)?, signed(s.stride)?, stop, len)
                .map_err(slice_error)?;
            pieces.push(range);
        }
        Ok(Self { pieces })
    }

    /// The ranges, in the order their indices are returned.
    #[must_use]
    pub fn pieces(&self) -> &[Range] {
        &self.pieces
    }

    /// Number of indices selected.
    #[must_use]
    pub fn count(&self) -> usize {
        self.pieces.iter().map(|r| r.count).sum()
    }
}

/// Which fields of a Structure a response keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldSelection {
    /// Every field, with everything inside it.
    All,
    /// Only these fields (indices into [`StructureType::fields`], ascending), each with its own
    /// selection.
    Some(Vec<(usize, FieldSelection)>),
}

impl FieldSelection {
    /// The union of two selections of the same Structure.
    fn merge(self, other: Self) -> Self {
        match (self, other) {
            (Self::All, _) | (_, Self::All) => Self::All,
            (Self::Some(mut a), Self::Some(b)) => {
                for (index, sel) in b {
                    match a.iter().position(|(i, _)| *i == index) {
                        Some(pos) => {
                            let (_, old) = a.remove(pos);
                            a.push((index, old.merge(sel)));
                        }
                        None => a.push((index, sel)),
                    }
                }
                a.sort_by_key(|(i, _)| *i);
                Self::Some(a)
            }
        }
    }
}

/// One variable of the response.
#[derive(Clone, Debug, PartialEq)]
pub struct Projection {
    /// The variable as the dataset describes it.
    pub variable: Variable,
    /// One selection per dimension of the variable.
    pub dims: Vec<DimSelection>,
    /// Per dimension, whether the variable's own subscript sliced it (it is then anonymous in
    /// the DMR).
    pub sliced: Vec<bool>,
    /// For a Structure variable, the fields kept.
    pub fields: FieldSelection,
    /// For a `char` array sent as strings ([`as_sent`]), the length of the char dimension
    /// that `variable` no longer has: each string is read as that many chars.
    pub string_length: Option<usize>,
}

/// A variable as DAP4 declares it: a `char` array becomes a `String` array without its last
/// dimension (the string length), as Hyrax sends `NC_CHAR` arrays, and the length of that
/// dimension is returned. pydap and xarray then read text, as from the local file and over
/// DAP2; netcdf-c reads `string` values with the same text. Everything else is unchanged.
#[must_use]
pub fn as_sent(variable: &Variable) -> (Variable, Option<usize>) {
    let mut v = variable.clone();
    if v.dtype != DataType::Char {
        return (v, None);
    }
    let Some(last) = v.dims.pop() else {
        return (v, None);
    };
    v.dtype = DataType::String;
    (v, Some(last.len))
}

impl Projection {
    /// The whole of `variable`.
    #[must_use]
    pub fn whole(variable: &Variable) -> Self {
        let (variable, string_length) = as_sent(variable);
        Self {
            dims: variable
                .dims
                .iter()
                .map(|d| DimSelection::full(d.len))
                .collect(),
            sliced: vec![false; variable.dims.len()],
            variable,
            fields: FieldSelection::All,
            string_length,
        }
    }

    /// The fully qualified name of dimension `i` when the DMR refers to it by name.
    #[must_use]
    pub fn shared_dimension(&self, i: usize) -> Option<&str> {
        if self.sliced.get(i).copied().unwrap_or(true) {
            return None;
        }
        self.variable.dims.get(i)?.path.as_deref()
    }

    /// The shape of the selection.
    #[must_use]
    pub fn counts(&self) -> Vec<usize> {
        self.dims.iter().map(DimSelection::count).collect()
    }

    /// The hyperslabs to read, in the order their values are returned (C order of the selected
    /// indices). One, unless some dimension has an index list: then the dimensions before the
    /// last such dimension are taken one index at a time.
    ///
    /// # Errors
    /// When a range does not fit the variable (cannot happen for a bound projection).
    pub fn hyperslabs(&self) -> Result<Vec<Hyperslab>> {
        let shape = self.variable.shape();
        let last_list = self.dims.iter().rposition(|d| d.pieces.len() > 1);
        let Some(k) = last_list else {
            let ranges = self.dims.iter().map(|d| d.pieces[0]).collect();
            return Ok(vec![self.slab(ranges, &shape)?]);
        };
        // Every index of dimensions 0..k, each piece of dimension k, the rest whole.
        let reads = self.dims[..k]
            .iter()
            .map(DimSelection::count)
            .try_fold(self.dims[k].pieces.len(), usize::checked_mul);
        if reads.is_none_or(|n| n > MAX_READS) {
            return Err(Error::NotSupported(format!(
                "{}: index lists that need more than {MAX_READS} separate reads",
                self.variable.path
            )));
        }
        let outer: Vec<Vec<usize>> = self.dims[..k]
            .iter()
            .map(|d| d.pieces.iter().flat_map(Range::indices).collect())
            .collect();
        let mut slabs = Vec::new();
        let mut odometer = vec![0usize; k];
        if outer.iter().any(Vec::is_empty) {
            return Ok(slabs);
        }
        loop {
            for piece in &self.dims[k].pieces {
                let mut ranges: Vec<Range> = odometer
                    .iter()
                    .zip(&outer)
                    .map(|(&i, indices)| Range {
                        start: indices[i],
                        count: 1,
                        stride: 1,
                    })
                    .collect();
                ranges.push(*piece);
                ranges.extend(self.dims[k + 1..].iter().map(|d| d.pieces[0]));
                slabs.push(self.slab(ranges, &shape)?);
            }
            let mut d = k;
            loop {
                if d == 0 {
                    return Ok(slabs);
                }
                d -= 1;
                odometer[d] += 1;
                if odometer[d] < outer[d].len() {
                    break;
                }
                odometer[d] = 0;
            }
        }
    }

    fn slab(&self, mut ranges: Vec<Range>, shape: &[usize]) -> Result<Hyperslab> {
        let mut shape = shape.to_vec();
        if let Some(len) = self.string_length {
            // Every char of each string.
            ranges.push(Range {
                start: 0,
                count: len,
                stride: 1,
            });
            shape.push(len);
        }
        Hyperslab::new(ranges, &shape).map_err(|source| Error::Slice {
            name: self.variable.path.clone(),
            source,
        })
    }
}

/// A constraint bound to a dataset: what a DMR describes and a `.dap` response holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Constraint {
    /// The variables, in dataset order.
    pub projections: Vec<Projection>,
    /// Shared dimensions the expression constrained, by fully qualified name.
    pub dimensions: HashMap<String, DimSelection>,
    /// Whether this is the whole dataset (no expression): the DMR then lists every group,
    /// dimension and type, used or not.
    pub everything: bool,
}

impl Constraint {
    /// The whole dataset.
    #[must_use]
    pub fn all(ds: &Dataset) -> Self {
        Self {
            projections: declaration_order(ds)
                .into_iter()
                .map(Projection::whole)
                .collect(),
            dimensions: HashMap::new(),
            everything: true,
        }
    }

    /// Binds `expr` to `ds`.
    ///
    /// # Errors
    /// [`Error::UnknownName`] for a name the dataset lacks, [`Error::Slice`] for a slice that
    /// does not fit, [`Error::Constraint`] for a variable projected twice with different slices,
    /// [`Error::NotSupported`] for slices on Structure fields.
    pub fn bind(ds: &Dataset, expr: &Expression) -> Result<Self> {
        let mut dimensions = HashMap::new();
        for clause in &expr.clauses {
            if let Clause::Dimension { name, subscript } = clause {
                let path = absolute(name);
                let dim = ds
                    .dimension(&path)
                    .ok_or_else(|| Error::UnknownName(format!("dimension {path}")))?;
                let sel = DimSelection::from_subscript(subscript, dim.len, &path)?;
                dimensions.insert(path, sel);
            }
        }
        let mut chosen: HashMap<String, Projection> = HashMap::new();
        let mut any_variable = false;
        for clause in &expr.clauses {
            let Clause::Variable(selector) = clause else {
                continue;
            };
            any_variable = true;
            let projection = bind_selector(ds, selector, &dimensions)?;
            let key = projection.variable.path.clone();
            match chosen.remove(&key) {
                None => {
                    chosen.insert(key, projection);
                }
                Some(mut earlier) => {
                    if earlier.dims != projection.dims || earlier.sliced != projection.sliced {
                        return Err(Error::Constraint(format!(
                            "{key} is projected twice with different slices"
                        )));
                    }
                    earlier.fields = earlier.fields.merge(projection.fields);
                    chosen.insert(key, earlier);
                }
            }
        }
        let projections = declaration_order(ds)
            .into_iter()
            .filter_map(|v| {
                if any_variable {
                    chosen.remove(&v.path)
                } else {
                    let (variable, string_length) = as_sent(v);
                    Some(Projection {
                        dims: default_selections(&variable, &dimensions),
                        sliced: vec![false; variable.dims.len()],
                        variable,
                        fields: FieldSelection::All,
                        string_length,
                    })
                }
            })
            .collect();
        Ok(Self {
            projections,
            dimensions,
            everything: false,
        })
    }

    /// What a projected variable sees of the shared dimension `path` when it does not slice it.
    #[must_use]
    pub fn shared_selection(&self, path: &str, len: usize) -> DimSelection {
        self.dimensions
            .get(path)
            .cloned()
            .unwrap_or_else(|| DimSelection::full(len))
    }

    /// Whether the variable at `path` is in the response.
    #[must_use]
    pub fn projects(&self, path: &str) -> bool {
        self.projections.iter().any(|p| p.variable.path == path)
    }

    /// Fully qualified names of the shared dimensions the response refers to by name.
    #[must_use]
    pub fn shared_dimensions_used(&self) -> BTreeSet<String> {
        let mut used = BTreeSet::new();
        for p in &self.projections {
            for i in 0..p.dims.len() {
                if let Some(path) = p.shared_dimension(i) {
                    used.insert(path.to_owned());
                }
            }
        }
        used
    }
}

/// The variables of `g` in the order the DMR declares them: its coordinate variables first
/// (each the target of `<Map>`s), then the others, each part in file order.
///
/// libdap resolves a `<Map>` while it parses the variable holding it, so a map target must be
/// declared before its first use; HDF5 files often list their dimension scales after the
/// datasets that use them (libdap `D4ParserSax2.cc`: "The Map … was not found").
#[must_use]
pub fn group_declaration_order(g: &Group) -> Vec<&Variable> {
    let (coords, others): (Vec<&Variable>, Vec<&Variable>) =
        g.variables.iter().partition(|v| v.is_coordinate());
    coords.into_iter().chain(others).collect()
}

/// Every variable of `ds` in declaration order: depth first, each group's variables (as
/// [`group_declaration_order`] orders them) before its subgroups.
#[must_use]
pub fn declaration_order(ds: &Dataset) -> Vec<&Variable> {
    ds.all_groups().flat_map(group_declaration_order).collect()
}

/// `name` as a fully qualified name.
fn absolute(name: &str) -> String {
    if name.starts_with('/') {
        name.to_owned()
    } else {
        format!("/{name}")
    }
}

fn default_selections(
    v: &Variable,
    dimensions: &HashMap<String, DimSelection>,
) -> Vec<DimSelection> {
    v.dims
        .iter()
        .map(|d| {
            d.path
                .as_ref()
                .and_then(|p| dimensions.get(p).cloned())
                .unwrap_or_else(|| DimSelection::full(d.len))
        })
        .collect()
}

/// One step into a Structure: a field name and the subscripts written after it.
struct FieldStep<'a> {
    name: String,
    subscripts: &'a [Subscript],
}

/// The variable a selector names, the subscripts of the variable, and the field steps after
/// it.
fn resolve<'d, 's>(
    ds: &'d Dataset,
    selector: &'s Selector,
) -> Result<(&'d Variable, &'s [Subscript], Vec<FieldStep<'s>>)> {
    let segments = &selector.path;
    let names: Vec<&str> = segments.iter().map(|s| s.name.as_str()).collect();
    // Names may contain dots: the longest leading run of segments that names a variable wins.
    for k in (1..=segments.len()).rev() {
        let Some(variable) = ds.variable(&absolute(&names[..k].join("."))) else {
            continue;
        };
        if let Some(early) = segments[..k - 1].iter().find(|s| !s.subscripts.is_empty()) {
            return Err(Error::Constraint(format!(
                "subscripts after '{}' inside the name {}",
                early.name,
                absolute(&selector.name())
            )));
        }
        let steps = segments[k..]
            .iter()
            .map(|s| FieldStep {
                name: s.name.clone(),
                subscripts: &s.subscripts,
            })
            .collect();
        return Ok((variable, &segments[k - 1].subscripts, steps));
    }
    // pydap names a field of a nested Structure like a group member (`/s/inner.f`): accept a
    // Structure variable followed by `/`-separated fields.
    let first = &segments[0];
    let full = absolute(&first.name);
    for (i, _) in full.match_indices('/').skip(1) {
        let Some(variable) = ds.variable(&full[..i]) else {
            continue;
        };
        if !matches!(variable.dtype, DataType::Structure(_)) {
            continue;
        }
        let mut steps: Vec<FieldStep<'_>> = full[i + 1..]
            .split('/')
            .map(|name| FieldStep {
                name: name.to_owned(),
                subscripts: &[],
            })
            .collect();
        if let Some(last) = steps.last_mut() {
            last.subscripts = &first.subscripts;
        }
        steps.extend(segments[1..].iter().map(|s| FieldStep {
            name: s.name.clone(),
            subscripts: &s.subscripts,
        }));
        return Ok((variable, &[], steps));
    }
    Err(Error::UnknownName(absolute(&selector.name())))
}

fn bind_selector(
    ds: &Dataset,
    selector: &Selector,
    dimensions: &HashMap<String, DimSelection>,
) -> Result<Projection> {
    let (variable, subscripts, steps) = resolve(ds, selector)?;
    let (variable, string_length) = as_sent(variable);
    let variable = &variable;
    if subscripts.len() > variable.dims.len() {
        return Err(Error::Slice {
            name: variable.path.clone(),
            source: HyperslabError::WrongRank {
                expected: variable.dims.len(),
                got: subscripts.len(),
            },
        });
    }
    let mut dims = default_selections(variable, dimensions);
    let mut sliced = vec![false; dims.len()];
    for (i, subscript) in subscripts.iter().enumerate() {
        if !subscript.is_empty() {
            dims[i] =
                DimSelection::from_subscript(subscript, variable.dims[i].len, &variable.path)?;
            sliced[i] = true;
        }
    }
    let fields = match &variable.dtype {
        _ if steps.is_empty() && selector.fields.is_none() => FieldSelection::All,
        DataType::Structure(st) => {
            select_path(st, &steps, selector.fields.as_deref(), &variable.path)?
        }
        // A vlen's Sequence has one field, named like the variable: that field is all of it.
        DataType::VLen(v)
            if !matches!(v.base, DataType::Structure(_))
                && selector.fields.is_none()
                && steps.len() == 1
                && steps[0].name == variable.name
                && steps[0].subscripts.iter().all(Vec::is_empty) =>
        {
            FieldSelection::All
        }
        _ => {
            return Err(Error::UnknownName(format!(
                "{}: {} has no fields",
                absolute(&selector.name()),
                variable.path
            )));
        }
    };
    Ok(Projection {
        variable: variable.clone(),
        dims,
        sliced,
        fields,
        string_length,
    })
}

/// Subscripts on a field are accepted only when they select the whole field: Structures are
/// returned element by element, and fathom does not cut inside them.
fn check_field_subscripts(subscripts: &[Subscript], shape: &[usize], name: &str) -> Result<()> {
    if subscripts.len() > shape.len() {
        return Err(Error::Slice {
            name: name.to_owned(),
            source: HyperslabError::WrongRank {
                expected: shape.len(),
                got: subscripts.len(),
            },
        });
    }
    for (sub, &len) in subscripts.iter().zip(shape) {
        if DimSelection::from_subscript(sub, len, name)? != DimSelection::full(len) {
            return Err(Error::NotSupported(format!(
                "taking part of the field {name} (only whole Structure fields are returned)"
            )));
        }
    }
    Ok(())
}

/// The selection made by a dotted field path followed by an optional `{…}` list.
fn select_path(
    st: &StructureType,
    path: &[FieldStep<'_>],
    braces: Option<&[Selector]>,
    context: &str,
) -> Result<FieldSelection> {
    let Some((first, rest)) = path.split_first() else {
        return match braces {
            None => Ok(FieldSelection::All),
            Some(list) => {
                let mut sel = FieldSelection::Some(Vec::new());
                for s in list {
                    let steps: Vec<FieldStep<'_>> = s
                        .path
                        .iter()
                        .map(|seg| FieldStep {
                            name: seg.name.clone(),
                            subscripts: &seg.subscripts,
                        })
                        .collect();
                    sel = sel.merge(select_path(st, &steps, s.fields.as_deref(), context)?);
                }
                Ok(sel)
            }
        };
    };
    let index = st
        .fields
        .iter()
        .position(|f| f.name == first.name)
        .ok_or_else(|| Error::UnknownName(format!("{context}.{}", first.name)))?;
    let field = &st.fields[index];
    let inner_context = format!("{context}.{}", first.name);
    check_field_subscripts(first.subscripts, &field.shape, &inner_context)?;
    let inner = match &field.dtype {
        DataType::Structure(inner) => select_path(inner, rest, braces, &inner_context)?,
        _ if rest.is_empty() && braces.is_none() => FieldSelection::All,
        _ => {
            return Err(Error::UnknownName(format!(
                "{inner_context}: {inner_context} has no fields"
            )));
        }
    };
    Ok(FieldSelection::Some(vec![(index, inner)]))
}

/// The CDM variables and hyperslabs a bound constraint reads, for writing them to a file
/// (`X.dap.nc?dap4.ce=`): a `char` array sent as strings gets its string-length dimension back
/// whole. Index lists (`[0,3]`) and Structures have no file form here.
///
/// # Errors
/// [`Error::NotSupported`] for an index list or a Structure.
pub fn file_selections(
    ds: &Dataset,
    constraint: &Constraint,
) -> Result<Vec<cdm::subset::Selection>> {
    let mut out = Vec::with_capacity(constraint.projections.len());
    for p in &constraint.projections {
        let path = &p.variable.path;
        let var = ds
            .variable(path)
            .ok_or_else(|| Error::NotSupported(format!("{path} is not in the dataset")))?;
        if matches!(var.dtype, DataType::Structure(_)) {
            return Err(Error::NotSupported(format!(
                "{path} is a Structure, which netCDF file-out cannot write; leave it out"
            )));
        }
        let mut ranges = Vec::with_capacity(var.dims.len());
        for d in &p.dims {
            match d.pieces() {
                [one] => ranges.push(*one),
                _ => {
                    return Err(Error::NotSupported(format!(
                        "{path}: an index list cannot be written to a file; use one \
[start:stride:stop] range per dimension"
                    )));
                }
            }
        }
        let shape = var.shape();
        for &len in shape.iter().skip(ranges.len()) {
            ranges.push(Range::full(len));
        }
        let slab = Hyperslab::new(ranges, &shape).map_err(|source| Error::Slice {
            name: path.clone(),
            source,
        })?;
        out.push(cdm::subset::Selection {
            path: path.clone(),
            slab,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ce::parse;
    use cdm::{Attribute, Dimension, Field, Format, Group, Storage, VarDim};
    use std::sync::Arc;

    fn dim(path: &str, len: usize) -> Dimension {
        let name = path.rsplit('/').next().unwrap_or_default().to_owned();
        Dimension {
            name,
            path: path.into(),
            len,
            unlimited: false,
        }
    }

    fn var(path: &str, dtype: DataType, dims: &[&Dimension]) -> Variable {
        Variable {
            name: path.rsplit('/').next().unwrap_or_default().to_owned(),
            path: path.into(),
            dtype,
            dims: dims.iter().map(|d| VarDim::shared(d)).collect(),
            attributes: Vec::<Attribute>::new(),
            storage: Storage::default(),
        }
    }

    fn dataset() -> Dataset {
        let lat = dim("/lat", 11);
        let time = dim("/time", 4);
        let x = dim("/g/x", 3);
        let point = Arc::new(StructureType {
            name: "point_t".into(),
            path: "/point_t".into(),
            fields: vec![
                Field {
                    name: "a".into(),
                    dtype: DataType::Int32,
                    shape: vec![],
                },
                Field {
                    name: "b".into(),
                    dtype: DataType::Float64,
                    shape: vec![2],
                },
            ],
        });
        let outer = Arc::new(StructureType {
            name: "outer_t".into(),
            path: "/outer_t".into(),
            fields: vec![
                Field {
                    name: "p".into(),
                    dtype: DataType::Structure(Arc::clone(&point)),
                    shape: vec![],
                },
                Field {
                    name: "n".into(),
                    dtype: DataType::Int8,
                    shape: vec![],
                },
            ],
        });
        Dataset {
            name: "t.nc".into(),
            format: Format::NetCdf4,
            root: Group {
                name: String::new(),
                path: "/".into(),
                dimensions: vec![lat.clone(), time.clone()],
                variables: vec![
                    var("/lat", DataType::Float32, &[&lat]),
                    var("/sst", DataType::Float32, &[&time, &lat]),
                    var("/a.b", DataType::Int16, &[]),
                    var("/s", DataType::Structure(outer), &[&time]),
                ],
                groups: vec![Group {
                    name: "g".into(),
                    path: "/g".into(),
                    dimensions: vec![x.clone()],
                    variables: vec![var("/g/v", DataType::Int64, &[&x, &lat])],
                    ..Group::default()
                }],
                ..Group::default()
            },
        }
    }

    fn bind(ce: &str) -> Result<Constraint> {
        Constraint::bind(&dataset(), &parse(ce)?)
    }

    fn ranges(d: &DimSelection) -> Vec<(usize, usize, usize)> {
        d.pieces()
            .iter()
            .map(|r| (r.start, r.count, r.stride))
            .collect()
    }

    #[test]
    fn projections_come_in_dataset_order_with_their_slices() {
        let c = bind("/g/v[1][2:3:8];/sst").expect("binds");
        let names: Vec<_> = c
            .projections
            .iter()
            .map(|p| p.variable.path.as_str())
            .collect();
        assert_eq!(names, ["/sst", "/g/v"]);
        let v = &c.projections[1];
        assert_eq!(ranges(&v.dims[0]), [(1, 1, 1)]);
        assert_eq!(ranges(&v.dims[1]), [(2, 3, 3)]);
        assert_eq!(c.projections[0].counts(), vec![4, 11]);
        // Names are taken from the root without a leading slash, and dots may be in names.
        assert!(bind("sst;a.b").is_ok());
    }

    #[test]
    fn shared_dimension_constraints_apply_where_not_sliced() {
        let c = bind("/lat=[0:2:10];/sst;/g/v[0:1][]").expect("binds");
        assert_eq!(c.projections[0].counts(), vec![4, 6]);
        assert_eq!(c.projections[1].counts(), vec![2, 6]);
        let used = c.shared_dimensions_used();
        assert!(used.contains("/lat") && used.contains("/time"));
        assert!(
            !used.contains("/g/x"),
            "a sliced dimension becomes anonymous"
        );
        // Only dimension clauses: every variable, constrained.
        let c = bind("/time=[1:2]").expect("binds");
        assert_eq!(c.projections.len(), 5);
        assert_eq!(c.projections[1].counts(), vec![2, 11]);
    }

    #[test]
    fn fewer_subscripts_than_dimensions_take_the_rest_whole() {
        let c = bind("/sst[2:]").expect("binds");
        assert_eq!(c.projections[0].counts(), vec![2, 11]);
        let e = bind("/sst[0][0][0]").expect_err("too many");
        assert!(e.to_string().contains("wrong number of dimensions"), "{e}");
    }

    #[test]
    fn structure_fields_by_dots_and_braces() {
        let c = bind("/s.p.b").expect("binds");
        assert_eq!(
            c.projections[0].fields,
            FieldSelection::Some(vec![(
                0,
                FieldSelection::Some(vec![(1, FieldSelection::All)])
            )])
        );
        let c = bind("/s[1:2]{n;p{a}}").expect("binds");
        assert_eq!(
            c.projections[0].fields,
            FieldSelection::Some(vec![
                (0, FieldSelection::Some(vec![(0, FieldSelection::All)])),
                (1, FieldSelection::All)
            ])
        );
        // Two clauses for one Structure merge.
        let c = bind("/s.n;/s.p").expect("binds");
        assert_eq!(
            c.projections[0].fields,
            FieldSelection::Some(vec![(0, FieldSelection::All), (1, FieldSelection::All)])
        );
        assert!(matches!(bind("/s.zz"), Err(Error::UnknownName(n)) if n == "/s.zz"));
        assert!(matches!(bind("/sst.x"), Err(Error::UnknownName(_))));
        assert!(matches!(bind("/s{p{b[0]}}"), Err(Error::NotSupported(_))));
        // Whole-field subscripts (pydap sends them) and pydap's `/` between nested fields.
        let c = bind("/s.p.b[0:1:1]").expect("binds");
        assert_eq!(c, bind("/s.p.b").expect("binds"));
        let c = bind("/s/p.b").expect("binds");
        assert_eq!(c, bind("/s.p.b").expect("binds"));
        assert!(matches!(bind("/s.n[0]"), Err(Error::Slice { .. })));
        assert!(matches!(bind("/s.p[0].a"), Err(Error::Slice { .. })));
        assert!(matches!(bind("/a[0].b"), Err(Error::Constraint(_))));
    }

    #[test]
    fn unknown_names_and_bad_slices_are_errors() {
        assert!(matches!(bind("/nope"), Err(Error::UnknownName(_))));
        assert!(matches!(bind("/g/nope=[0]"), Err(Error::UnknownName(_))));
        for bad in ["/lat[11]", "/lat[3:2]", "/lat[0:0:3]", "/lat[20:]"] {
            assert!(matches!(bind(bad), Err(Error::Slice { .. })), "{bad}");
        }
        assert!(matches!(bind("/lat[1];/lat[2]"), Err(Error::Constraint(_))));
        let huge = vec![crate::ce::Slice {
            start: 0,
            stride: 1,
            stop: Some((1 << 63) - 2),
        }];
        assert_eq!(
            DimSelection::from_subscript(&huge, 0, "/empty").expect("nothing to select"),
            DimSelection::full(0)
        );
        assert!(bind("/lat[1];/lat[1]").is_ok());
    }

    #[test]
    fn index_lists_read_in_c_order() {
        let c = bind("/sst[0:1,3][4,0:1]").expect("binds");
        let slabs = c.projections[0].hyperslabs().expect("slabs");
        let got: Vec<Vec<(usize, usize, usize)>> = slabs
            .iter()
            .map(|s| {
                s.ranges()
                    .iter()
                    .map(|r| (r.start, r.count, r.stride))
                    .collect()
            })
            .collect();
        // Rows 0, 1, 3, each as columns 4, then 0..=1.
        assert_eq!(
            got,
            vec![
                vec![(0, 1, 1), (4, 1, 1)],
                vec![(0, 1, 1), (0, 2, 1)],
                vec![(1, 1, 1), (4, 1, 1)],
                vec![(1, 1, 1), (0, 2, 1)],
                vec![(3, 1, 1), (4, 1, 1)],
                vec![(3, 1, 1), (0, 2, 1)],
            ]
        );
        let c = bind("/v16=[0]").map(|_| ()).expect_err("no such dimension");
        assert!(matches!(c, Error::UnknownName(_)));
        let c = bind("/sst[1:2][0:1,3]").expect("binds");
        assert_eq!(c.projections[0].hyperslabs().expect("slabs").len(), 4);
        let c = bind("/sst[0:1,3]").expect("binds");
        assert_eq!(c.projections[0].hyperslabs().expect("slabs").len(), 2);
        // A list that would need too many reads is refused, not planned.
        let many: Vec<String> = (0..11).map(|i| i.to_string()).collect();
        let list = many.join(",");
        let text = format!("/g/v[0,1,2][{list}]");
        let c = bind(&text).expect("binds");
        assert_eq!(
            c.projections[0].hyperslabs().expect("33 reads").len(),
            3 * 11
        );
        let mut big = dataset();
        big.root.groups[0].dimensions[0].len = 1 << 20;
        big.root.groups[0].variables[0].dims[0].len = 1 << 20;
        let e = Constraint::bind(&big, &parse("/g/v[][0,2]").expect("parses")).expect("binds");
        assert!(matches!(
            e.projections[0].hyperslabs(),
            Err(Error::NotSupported(_))
        ));
    }
}
