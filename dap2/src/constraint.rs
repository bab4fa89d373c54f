//! Binding a parsed constraint to a [`Dap2Dataset`]: which variables, which parts of them and
//! which hyperslabs, checked against their shapes, before any byte of a response is written.
//!
//! Semantics follow libdap: variables come out in dataset order whatever the order of the
//! clauses; a Grid subset by `g[..][..]` subsets its maps too; `g.g` or `g.lat` projects one part
//! (and the Grid is then printed as a Structure unless every part is projected with matching
//! ranges); a Structure member `s.f` projects only that member; missing trailing brackets select
//! whole dimensions; a clause naming a variable again adds to (or, for a hyperslab, replaces)
//! what the earlier one selected.

use cdm::Range;

use crate::Error;
use crate::ce::{self, Component, Constraint, Operand, Projection, Selector, Stop};
use crate::mapping::{Dap2Dataset, Dap2Var, Dim, Node};

/// What is selected of a structure's member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberSel {
    /// Not projected.
    Skip,
    /// An atomic member, with one range per member dimension.
    Atomic(Vec<Range>),
    /// A structure member.
    Structure(StructSel),
}

/// What is selected of a structure (or array of structures).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StructSel {
    /// One range per dimension of the array of structures.
    pub ranges: Vec<Range>,
    /// One entry per member.
    pub members: Vec<MemberSel>,
}

/// What is selected of a Grid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GridSel {
    /// The array part's ranges, when projected.
    pub array: Option<Vec<Range>>,
    /// Each map's range, when projected.
    pub maps: Vec<Option<Range>>,
}

impl GridSel {
    /// Whether the projection is still a Grid: the array and every map projected, each map with
    /// the range of its array dimension (libdap `Grid::projection_yields_grid`).
    #[must_use]
    pub fn is_grid(&self) -> bool {
        match &self.array {
            Some(ranges) => {
                ranges.len() == self.maps.len()
                    && ranges
                        .iter()
                        .zip(&self.maps)
                        .all(|(r, m)| m.as_ref() == Some(r))
            }
            None => false,
        }
    }
}

/// What is selected of one top-level variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VarSel {
    /// An atomic array or scalar.
    Atomic(Vec<Range>),
    /// A structure.
    Structure(StructSel),
    /// A Grid.
    Grid(GridSel),
}

/// A projected top-level variable: its index in [`Dap2Dataset::vars`] and what of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Projected {
    /// Index into the dataset's variables.
    pub index: usize,
    /// The selection.
    pub sel: VarSel,
}

/// The full selection of a node (every member, every element).
#[must_use]
pub fn whole_node(node: &Node) -> MemberSel {
    match node {
        Node::Atomic(a) => MemberSel::Atomic(full_ranges(&a.dims)),
        Node::Structure { dims, members, .. } => MemberSel::Structure(StructSel {
            ranges: full_ranges(dims),
            members: members.iter().map(whole_node).collect(),
        }),
    }
}

fn full_ranges(dims: &[Dim]) -> Vec<Range> {
    dims.iter().map(|d| Range::full(d.len)).collect()
}

/// Everything of variable `var`.
#[must_use]
pub fn whole_var(var: &Dap2Var) -> VarSel {
    if var.is_grid() {
        let ranges = full_ranges(var.node.dims());
        return VarSel::Grid(GridSel {
            maps: ranges.iter().copied().map(Some).collect(),
            array: Some(ranges),
        });
    }
    match whole_node(&var.node) {
        MemberSel::Structure(s) => VarSel::Structure(s),
        MemberSel::Atomic(r) => VarSel::Atomic(r),
        MemberSel::Skip => VarSel::Atomic(Vec::new()),
    }
}

/// The whole dataset.
#[must_use]
pub fn whole_dataset(ds: &Dap2Dataset) -> Vec<Projected> {
    ds.vars
        .iter()
        .enumerate()
        .map(|(index, v)| Projected {
            index,
            sel: whole_var(v),
        })
        .collect()
}

/// A name safe to repeat in an error message; user text with markup is never echoed.
fn shown(name: &str) -> String {
    if !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "_-.+ #".contains(c))
    {
        format!("'{name}'")
    } else {
        "an identifier".to_owned()
    }
}

fn unknown(name: &str) -> Error {
    Error::UnknownVariable(format!(
        "the constraint expression referenced {} that is not in the dataset",
        shown(name)
    ))
}

/// Resolves `selectors` against `dims`: missing trailing selectors select whole dimensions.
fn ranges(selectors: &[Selector], dims: &[Dim], what: &str) -> Result<Vec<Range>, Error> {
    if selectors.len() > dims.len() {
        return Err(Error::BadIndex(format!(
            "{} has {} dimension(s) but the constraint gives {} index range(s)",
            shown(what),
            dims.len(),
            selectors.len()
        )));
    }
    dims.iter()
        .enumerate()
        .map(|(i, d)| match selectors.get(i) {
            None => Ok(Range::full(d.len)),
            // pydap asks for `[0:1:2**63-2]` (or `[1:2:2**63-2]` for a strided slice) on an
            // empty dimension; the only sensible answer is nothing, as DAP4 answers, rather
            // than an error that stops xarray opening the dataset.
            Some(s) if d.len == 0 && s.start >= 0 && s.stride >= 1 => Ok(Range::full(0)),
            Some(s) => {
                let stop = match s.stop {
                    Stop::Index(i) => i,
                    Stop::End => i64::try_from(d.len).unwrap_or(i64::MAX) - 1,
                };
                Range::from_dap(s.start, s.stride, stop, d.len)
                    .map_err(|e| Error::BadIndex(format!("{}: {e}", shown(what))))
            }
        })
        .collect()
}

/// Binds a parsed constraint to the dataset.
///
/// # Errors
/// An unknown variable or member, a hyperslab that does not fit, a selection clause (this
/// dataset has no Sequence for it to apply to), or a function call.
pub fn bind(ds: &Dap2Dataset, constraint: &Constraint) -> Result<Vec<Projected>, Error> {
    for p in &constraint.projections {
        if let Projection::Call(f) = p {
            return Err(unknown_function(&f.name));
        }
    }
    for s in &constraint.selections {
        for operand in [&s.left, &s.right] {
            check_selection_operand(ds, operand)?;
        }
    }
    if constraint.projections.is_empty() {
        return Ok(whole_dataset(ds));
    }
    let mut sels: Vec<Option<VarSel>> = vec![None; ds.vars.len()];
    for p in &constraint.projections {
        let Projection::Path(path) = p else { continue };
        let Some((first, rest)) = path.split_first() else {
            continue;
        };
        let index = ds
            .vars
            .iter()
            .position(|v| v.name() == first.name)
            .ok_or_else(|| unknown(&first.name))?;
        let var = &ds.vars[index];
        let slot = &mut sels[index];
        if var.is_grid() {
            bind_grid(var, first, rest, slot)?;
        } else {
            match &var.node {
                Node::Atomic(a) => {
                    if let Some(next) = rest.first() {
                        return Err(not_a_structure(&a.name, &next.name));
                    }
                    let keep = match slot.take() {
                        Some(VarSel::Atomic(r)) if first.selectors.is_empty() => Some(r),
                        _ => None,
                    };
                    let r = match keep {
                        Some(r) => r,
                        None => ranges(&first.selectors, &a.dims, &a.name)?,
                    };
                    *slot = Some(VarSel::Atomic(r));
                }
                node @ Node::Structure { .. } => {
                    let previous = match slot.take() {
                        Some(VarSel::Structure(s)) => Some(s),
                        _ => None,
                    };
                    let s = bind_structure(node, first, rest, previous)?;
                    *slot = Some(VarSel::Structure(s));
                }
            }
        }
    }
    Ok(sels
        .into_iter()
        .enumerate()
        .filter_map(|(index, sel)| sel.map(|sel| Projected { index, sel }))
        .collect())
}

fn not_a_structure(name: &str, member: &str) -> Error {
    Error::UnknownVariable(format!(
        "{} has no member {}: it is not a Structure or Grid",
        shown(name),
        shown(member)
    ))
}

/// A function call in a constraint.
#[must_use]
pub fn unknown_function(name: &str) -> Error {
    Error::UnknownFunction(format!(
        "unknown function {}: this server has no DAP2 server-side functions; ask for \
         variables, index ranges and selections (var>value)",
        shown(name)
    ))
}

fn check_selection_operand(ds: &Dap2Dataset, operand: &Operand) -> Result<(), Error> {
    match operand {
        Operand::Call(f) => Err(unknown_function(&f.name)),
        Operand::List(items) => items
            .iter()
            .try_for_each(|o| check_selection_operand(ds, o)),
        Operand::Path(path) => {
            let first = path.first().map(|c| c.name.as_str()).unwrap_or_default();
            if ds.var(first).is_none() {
                return Err(unknown(first));
            }
            // netCDF has no Sequences, so no variable here can be the target of a selection.
            Err(Error::Selection(format!(
                "selection clauses (after '&') apply only to Sequences, and {} is not in a Sequence",
                shown(first)
            )))
        }
        Operand::Number(_) | Operand::Str(_) => Ok(()),
    }
}

fn bind_grid(
    var: &Dap2Var,
    first: &Component,
    rest: &[Component],
    slot: &mut Option<VarSel>,
) -> Result<(), Error> {
    let dims = var.node.dims();
    let mut grid = match slot.take() {
        Some(VarSel::Grid(g)) => g,
        _ => GridSel {
            array: None,
            maps: vec![None; var.maps.len()],
        },
    };
    match rest {
        [] if first.selectors.is_empty() => {
            // A bare name marks every part; parts already subset keep their ranges (libdap).
            if grid.array.is_none() {
                grid.array = Some(full_ranges(dims));
            }
            for (m, map) in grid.maps.iter_mut().zip(&var.maps) {
                if m.is_none() {
                    *m = Some(Range::full(map.array.dims.first().map_or(0, |d| d.len)));
                }
            }
        }
        [] => {
            let r = ranges(&first.selectors, dims, var.name())?;
            grid.maps = r.iter().copied().map(Some).collect();
            grid.array = Some(r);
        }
        [part] => {
            if !first.selectors.is_empty() {
                return Err(Error::Syntax(format!(
                    "index ranges go on the part of Grid {}, not on the Grid itself",
                    shown(var.name())
                )));
            }
            let fresh = part.selectors.is_empty();
            if part.name == var.name() {
                if !(fresh && grid.array.is_some()) {
                    grid.array = Some(ranges(&part.selectors, dims, &part.name)?);
                }
            } else if let Some(j) = var.maps.iter().position(|m| m.array.name == part.name) {
                if !(fresh && grid.maps[j].is_some()) {
                    let r = ranges(&part.selectors, &var.maps[j].array.dims, &part.name)?;
                    grid.maps[j] = r.first().copied();
                }
            } else {
                return Err(unknown(&format!("{}.{}", var.name(), part.name)));
            }
        }
        [part, next, ..] => {
            let _ = part;
            return Err(not_a_structure(var.name(), &next.name));
        }
    }
    *slot = Some(VarSel::Grid(grid));
    Ok(())
}

/// Binds `first.rest…` to a structure node, merged into an earlier selection of it.
fn bind_structure(
    node: &Node,
    first: &Component,
    rest: &[Component],
    previous: Option<StructSel>,
) -> Result<StructSel, Error> {
    let Node::Structure {
        name,
        dims,
        members,
    } = node
    else {
        return Err(Error::Internal("not a structure".into()));
    };
    let mut sel = previous.unwrap_or_else(|| StructSel {
        ranges: full_ranges(dims),
        members: vec![MemberSel::Skip; members.len()],
    });
    if !first.selectors.is_empty() {
        sel.ranges = ranges(&first.selectors, dims, name)?;
    }
    match rest.split_first() {
        None => {
            for (m, node) in sel.members.iter_mut().zip(members) {
                if *m == MemberSel::Skip {
                    *m = whole_node(node);
                }
            }
        }
        Some((next, deeper)) => {
            let j = members
                .iter()
                .position(|m| m.name() == next.name)
                .ok_or_else(|| unknown(&format!("{name}.{}", next.name)))?;
            sel.members[j] = match &members[j] {
                Node::Atomic(a) => {
                    if let Some(d) = deeper.first() {
                        return Err(not_a_structure(&a.name, &d.name));
                    }
                    match &sel.members[j] {
                        MemberSel::Atomic(r) if next.selectors.is_empty() => {
                            MemberSel::Atomic(r.clone())
                        }
                        _ => MemberSel::Atomic(ranges(&next.selectors, &a.dims, &a.name)?),
                    }
                }
                inner @ Node::Structure { .. } => {
                    let prev = match std::mem::replace(&mut sel.members[j], MemberSel::Skip) {
                        MemberSel::Structure(s) => Some(s),
                        _ => None,
                    };
                    MemberSel::Structure(bind_structure(inner, next, deeper, prev)?)
                }
            };
        }
    }
    Ok(sel)
}

/// Parses and binds a raw query string in one step.
///
/// # Errors
/// See [`ce::parse`] and [`bind`].
pub fn constrain(ds: &Dap2Dataset, raw_query: Option<&str>) -> Result<Vec<Projected>, Error> {
    match raw_query {
        None => Ok(whole_dataset(ds)),
        Some(q) => bind(ds, &ce::parse(q)?),
    }
}

/// The CDM variables and hyperslabs a bound projection reads, for writing them to a file
/// (`X.nc?ce`): a Grid gives its array and its projected maps, a `char` array sent as strings
/// gets its string-length dimension back whole. Structures have no file form here.
///
/// # Errors
/// [`Error::Selection`] for a Structure.
pub fn file_selections(
    ds: &Dap2Dataset,
    projected: &[Projected],
) -> Result<Vec<cdm::subset::Selection>, Error> {
    let slab = |path: &str, ranges: &[Range], shape: &[usize]| {
        let mut ranges = ranges.to_vec();
        for &len in shape.iter().skip(ranges.len()) {
            ranges.push(Range::full(len));
        }
        cdm::Hyperslab::new(ranges, shape)
            .map(|slab| cdm::subset::Selection {
                path: path.to_owned(),
                slab,
            })
            .map_err(|e| Error::BadIndex(format!("{path}: {e}")))
    };
    let mut out = Vec::new();
    // A Grid's maps, added after the variables named on their own, which win over them.
    let mut maps: Vec<cdm::subset::Selection> = Vec::new();
    for p in projected {
        let var = ds
            .vars
            .get(p.index)
            .ok_or_else(|| Error::Internal("projection of an unknown variable".into()))?;
        match &p.sel {
            VarSel::Atomic(ranges) => out.push(slab(&var.path, ranges, &var.source_shape)?),
            VarSel::Grid(g) => {
                if let Some(ranges) = &g.array {
                    out.push(slab(&var.path, ranges, &var.source_shape)?);
                }
                for (map, range) in var.maps.iter().zip(&g.maps) {
                    if let Some(r) = range {
                        maps.push(slab(&map.path, &[*r], &map.array.shape())?);
                    }
                }
            }
            VarSel::Structure(_) => {
                return Err(Error::Selection(format!(
                    "{} is a Structure, which netCDF file-out cannot write; leave it out",
                    shown(var.name())
                )));
            }
        }
    }
    for m in maps {
        if !out.iter().any(|s| s.path == m.path) {
            out.push(m);
        }
    }
    Ok(out)
}
