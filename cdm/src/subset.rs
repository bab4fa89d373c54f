//! A subset of a dataset as a file to write: which variables, which hyperslab of each, and the
//! dimensions, groups and attributes the written file declares ([`SubsetPlan`]).
//!
//! Both file writers (netCDF-3 encoding in the `fileout` crate, netCDF-4 through netCDF-C in
//! [`crate::formats::netcdf_write`]) start from a plan, so they agree on names and shapes:
//!
//! - every selected dimension keeps its length as selected (a single index keeps a dimension
//!   of size 1, as in DAP);
//! - a shared dimension keeps its name and group; when two variables select different parts
//!   of it, the second part becomes a new dimension named `NAME_2` (then `_3`, …);
//! - an anonymous dimension is named `VAR_dimI` in its variable's group;
//! - a 1-D coordinate variable of a selected dimension is added (when not selected itself) with
//!   that dimension's part, so a subset keeps its coordinates;
//! - attributes are kept, `_FillValue` / `missing_value` in the variable's type ([`crate::fill`]);
//! - variables come out in the dataset's declaration order;
//! - a dimension can be read in several runs written one after another ([`Join`]): a
//!   longitude box across the axis' seam reads its east end, then its west start, and the file
//!   holds one longitude axis running west to east.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::hyperslab::{Hyperslab, Range};
use crate::model::{Attribute, DataType, Dataset};

/// One variable to write and the part of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    /// The variable's fully qualified path.
    pub path: String,
    /// The part of it (one range per dimension, `char` dimensions included).
    pub slab: Hyperslab,
}

/// A dimension of the written file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanDimension {
    /// The group it is declared in (`/` for the root).
    pub group: String,
    /// Its name in that group.
    pub name: String,
    /// Its length in the written file.
    pub len: usize,
    /// Whether the source dimension is unlimited.
    pub unlimited: bool,
}

/// A variable of the written file.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanVariable {
    /// The source variable's fully qualified path (what to read).
    pub path: String,
    /// The group it is declared in.
    pub group: String,
    /// Its name in that group.
    pub name: String,
    /// Its type.
    pub dtype: DataType,
    /// Its dimensions, as indices into [`SubsetPlan::dimensions`].
    pub dims: Vec<usize>,
    /// Its attributes.
    pub attributes: Vec<Attribute>,
    /// What to read of the source variable (with [`PlanVariable::joined`], the range of the
    /// joined dimension here is its first run).
    pub slab: Hyperslab,
    /// A dimension read in several runs, written one after another.
    pub joined: Option<JoinedDim>,
    /// Values written instead of reading the source (canonical encoding, the file's shape):
    /// a coordinate variable whose values the subset changes (longitudes across the seam).
    pub values: Option<Vec<u8>>,
}

/// A dimension of a [`PlanVariable`] read in several runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinedDim {
    /// Which of the variable's dimensions.
    pub dim: usize,
    /// The runs of source indices, in the order they are written.
    pub runs: Vec<Range>,
}

/// A dimension to read in several runs (see [`plan_joined`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Join {
    /// The dimension's fully qualified path.
    pub dimension: String,
    /// The runs of its indices, in the order they are written (each within the dimension).
    pub runs: Vec<Range>,
}

/// One read of a [`PlanVariable`]: the part of the source and where it goes in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedRead {
    /// The part of the source variable.
    pub slab: Hyperslab,
    /// Its first index in the written variable, per dimension.
    pub start: Vec<usize>,
}

impl PlanVariable {
    /// The written variable's shape.
    #[must_use]
    pub fn counts(&self) -> Vec<usize> {
        let mut counts = self.slab.counts();
        if let Some(j) = &self.joined
            && let Some(c) = counts.get_mut(j.dim)
        {
            *c = j.runs.iter().map(|r| r.count).sum();
        }
        counts
    }

    /// Number of values written.
    #[must_use]
    pub fn len(&self) -> usize {
        self.counts().iter().product()
    }

    /// Whether no value is written.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The reads that fill the variable, each of at most `max_elements` values (or one row of
    /// the joined dimension when a row is larger), in the written file's C order: their values
    /// one after another are the variable's values.
    #[must_use]
    pub fn reads(&self, max_elements: usize) -> Vec<PlannedRead> {
        let split = |whole: &Hyperslab, origin: &[usize], out: &mut Vec<PlannedRead>| {
            for piece in whole.split(max_elements) {
                let start = piece
                    .ranges()
                    .iter()
                    .zip(whole.ranges())
                    .zip(origin)
                    .map(|((p, w), o)| o + (p.start - w.start) / w.stride.max(1))
                    .collect();
                out.push(PlannedRead { slab: piece, start });
            }
        };
        let mut out = Vec::new();
        let Some(j) = &self.joined else {
            split(&self.slab, &vec![0; self.slab.rank()], &mut out);
            return out;
        };
        let ranges = self.slab.ranges();
        let outer = &ranges[..j.dim];
        let outer_total: usize = outer.iter().map(|r| r.count).product();
        let mut idx = vec![0usize; j.dim];
        for _ in 0..outer_total {
            let mut offset = 0;
            for run in &j.runs {
                let mut piece: Vec<Range> = outer
                    .iter()
                    .zip(&idx)
                    .map(|(r, &i)| Range {
                        start: r.start + i * r.stride,
                        count: 1,
                        stride: 1,
                    })
                    .collect();
                piece.push(*run);
                piece.extend_from_slice(&ranges[j.dim + 1..]);
                let mut origin = idx.clone();
                origin.push(offset);
                origin.extend(std::iter::repeat_n(0, ranges.len() - j.dim - 1));
                split(&Hyperslab::from_ranges_unchecked(piece), &origin, &mut out);
                offset += run.count;
            }
            for k in (0..j.dim).rev() {
                idx[k] += 1;
                if idx[k] < outer[k].count {
                    break;
                }
                idx[k] = 0;
            }
        }
        out
    }
}

/// A group of the written file, parents before children.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanGroup {
    /// Its fully qualified path (`/` for the root).
    pub path: String,
    /// Its attributes.
    pub attributes: Vec<Attribute>,
}

/// What a written subset holds.
#[derive(Clone, Debug, PartialEq)]
pub struct SubsetPlan {
    /// The groups, root first, every parent before its children.
    pub groups: Vec<PlanGroup>,
    /// The dimensions.
    pub dimensions: Vec<PlanDimension>,
    /// The variables, in the dataset's declaration order.
    pub variables: Vec<PlanVariable>,
}

impl SubsetPlan {
    /// Bytes of values the file holds, counting 8 bytes per string (a lower bound for them).
    #[must_use]
    pub fn value_bytes(&self) -> u64 {
        self.variables
            .iter()
            .map(|v| v.len() as u64 * v.dtype.fixed_size().unwrap_or(8) as u64)
            .sum()
    }
}

/// `base`, or `base_2`, `base_3`, … when `group` already has a dimension of that name.
fn unique_name(group: &str, base: &str, names: &mut HashMap<(String, String), ()>) -> String {
    let mut name = base.to_owned();
    let mut k = 2;
    while names.contains_key(&(group.to_owned(), name.clone())) {
        name = format!("{base}_{k}");
        k += 1;
    }
    names.insert((group.to_owned(), name.clone()), ());
    name
}

/// The parent group path of a fully qualified name.
fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// Plans the file holding `selections` of `ds`.
///
/// # Errors
/// [`Error::NoSuchVariable`] for an unknown path, [`Error::Hyperslab`] for a part that does
/// not fit its variable.
pub fn plan(ds: &Dataset, selections: &[Selection]) -> Result<SubsetPlan> {
    plan_joined(ds, selections, &[])
}

/// Plans the file holding `selections` of `ds`, with each dimension of `joins` read in its runs
/// one after another (whatever the selections say of that dimension).
///
/// # Errors
/// As [`plan`], and [`Error::Hyperslab`] for a run outside its dimension.
pub fn plan_joined(ds: &Dataset, selections: &[Selection], joins: &[Join]) -> Result<SubsetPlan> {
    let mut chosen: HashMap<&str, Hyperslab> = HashMap::new();
    for s in selections {
        let var = ds
            .variable(&s.path)
            .ok_or_else(|| Error::NoSuchVariable(s.path.clone()))?;
        let slab = Hyperslab::new(s.slab.ranges().to_vec(), &var.shape())?;
        // The first selection of a variable wins.
        chosen.entry(var.path.as_str()).or_insert(slab);
    }
    // Coordinate variables of the selected dimensions come along with their part.
    let mut coordinates: Vec<(&str, Hyperslab)> = Vec::new();
    for (path, slab) in &chosen {
        let Some(var) = ds.variable(path) else {
            continue;
        };
        for (dim, range) in var.dims.iter().zip(slab.ranges()) {
            let Some(dim_path) = dim.path.as_deref() else {
                continue;
            };
            if chosen.contains_key(dim_path) || coordinates.iter().any(|(p, _)| *p == dim_path) {
                continue;
            }
            if let Some(coord) = ds.variable(dim_path)
                && coord.dims.len() == 1
                && coord.dims[0].path.as_deref() == Some(dim_path)
            {
                let slab = Hyperslab::new(vec![*range], &coord.shape())?;
                coordinates.push((coord.path.as_str(), slab));
            }
        }
    }
    chosen.extend(coordinates);

    let mut plan = SubsetPlan {
        groups: Vec::new(),
        dimensions: Vec::new(),
        variables: Vec::new(),
    };
    // (source dimension, selected range) → dimension of the file.
    let mut dim_index: HashMap<(String, Range), usize> = HashMap::new();
    let mut names_in_group: HashMap<(String, String), ()> = HashMap::new();
    let mut group_paths: Vec<String> = vec!["/".to_owned()];
    for var in ds.all_variables() {
        let Some(slab) = chosen.get(var.path.as_str()) else {
            continue;
        };
        let group = parent_of(&var.path).to_owned();
        let mut dims = Vec::with_capacity(var.dims.len());
        let mut joined = None;
        let mut slab = slab.clone();
        for (i, dim) in var.dims.iter().enumerate() {
            let Some(join) = joins
                .iter()
                .find(|j| dim.path.as_deref() == Some(j.dimension.as_str()))
            else {
                continue;
            };
            for run in &join.runs {
                Range::new(run.start, run.count, run.stride, dim.len)?;
            }
            if let Some(first) = join.runs.first() {
                let mut ranges = slab.ranges().to_vec();
                ranges[i] = *first;
                slab = Hyperslab::new(ranges, &var.shape())?;
                joined = Some(JoinedDim {
                    dim: i,
                    runs: join.runs.clone(),
                });
            }
        }
        for (i, (dim, range)) in var.dims.iter().zip(slab.ranges()).enumerate() {
            // A joined dimension is as long as all its runs (one join per dimension path).
            let joined_here = joined.as_ref().filter(|j| j.dim == i);
            let range = &match joined_here {
                Some(j) => Range {
                    start: 0,
                    count: j.runs.iter().map(|r| r.count).sum(),
                    stride: 1,
                },
                None => *range,
            };
            let (key, dim_group, base) = match (&dim.path, &dim.name) {
                (Some(p), Some(n)) if joined_here.is_some() => {
                    (format!("{p}#joined"), parent_of(p).to_owned(), n.clone())
                }
                (Some(p), Some(n)) => (p.clone(), parent_of(p).to_owned(), n.clone()),
                _ => (
                    format!("{}#{i}", var.path),
                    group.clone(),
                    format!("{}_dim{i}", var.name),
                ),
            };
            let normalized = Range {
                start: range.start,
                count: range.count,
                stride: if range.count <= 1 { 1 } else { range.stride },
            };
            let index = if let Some(&k) = dim_index.get(&(key.clone(), normalized)) {
                k
            } else {
                let name = unique_name(&dim_group, &base, &mut names_in_group);
                plan.dimensions.push(PlanDimension {
                    group: dim_group.clone(),
                    name,
                    len: range.count,
                    unlimited: dim.unlimited,
                });
                if !group_paths.contains(&dim_group) {
                    group_paths.push(dim_group);
                }
                dim_index.insert((key, normalized), plan.dimensions.len() - 1);
                plan.dimensions.len() - 1
            };
            dims.push(index);
        }
        if !group_paths.contains(&group) {
            group_paths.push(group.clone());
        }
        plan.variables.push(PlanVariable {
            path: var.path.clone(),
            group,
            name: var.name.clone(),
            dtype: var.dtype.clone(),
            dims,
            attributes: crate::fill::conformed_attributes(var).into_owned(),
            slab,
            joined,
            values: None,
        });
    }
    // Every group on the way to one that is used, parents first.
    let mut all: Vec<String> = Vec::new();
    for g in &group_paths {
        let mut p = g.as_str();
        let mut chain = vec![p.to_owned()];
        while p != "/" {
            p = parent_of(p);
            chain.push(p.to_owned());
        }
        for c in chain.into_iter().rev() {
            if !all.contains(&c) {
                all.push(c);
            }
        }
    }
    all.sort_by_key(|p| if p == "/" { 0 } else { p.matches('/').count() });
    for path in all {
        let attributes = ds
            .group(&path)
            .map(|g| g.attributes.clone())
            .unwrap_or_default();
        plan.groups.push(PlanGroup { path, attributes });
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Dimension, Format, Group, Storage, VarDim, Variable};

    fn grid() -> Dataset {
        let y = Dimension {
            name: "y".into(),
            path: "/y".into(),
            len: 2,
            unlimited: false,
        };
        let x = Dimension {
            name: "x".into(),
            path: "/x".into(),
            len: 6,
            unlimited: false,
        };
        let var = |name: &str, dims: &[&Dimension]| Variable {
            name: name.into(),
            path: format!("/{name}"),
            dtype: DataType::Float32,
            dims: dims.iter().map(|d| VarDim::shared(d)).collect(),
            attributes: vec![],
            storage: Storage::default(),
        };
        Dataset {
            name: "g.nc".into(),
            format: Format::NetCdf4,
            root: Group {
                name: String::new(),
                path: "/".into(),
                dimensions: vec![y.clone(), x.clone()],
                variables: vec![var("x", &[&x]), var("v", &[&y, &x])],
                ..Group::default()
            },
        }
    }

    fn r(start: usize, count: usize) -> Range {
        Range {
            start,
            count,
            stride: 1,
        }
    }

    #[test]
    fn a_joined_dimension_is_read_run_after_run_row_by_row() {
        let ds = grid();
        let sel = Selection {
            path: "/v".into(),
            slab: Hyperslab::full(&[2, 6]),
        };
        let join = Join {
            dimension: "/x".into(),
            runs: vec![r(4, 2), r(0, 1)],
        };
        let plan = plan_joined(&ds, &[sel], &[join]).expect("plan");
        let x_dim = plan.dimensions.iter().find(|d| d.name == "x").expect("x");
        assert_eq!(x_dim.len, 3);
        let v = plan.variables.iter().find(|v| v.path == "/v").expect("v");
        assert_eq!(v.counts(), vec![2, 3]);
        assert_eq!(v.len(), 6);
        let reads: Vec<(Vec<Range>, Vec<usize>)> = v
            .reads(100)
            .into_iter()
            .map(|p| (p.slab.ranges().to_vec(), p.start))
            .collect();
        assert_eq!(
            reads,
            vec![
                (vec![r(0, 1), r(4, 2)], vec![0, 0]),
                (vec![r(0, 1), r(0, 1)], vec![0, 2]),
                (vec![r(1, 1), r(4, 2)], vec![1, 0]),
                (vec![r(1, 1), r(0, 1)], vec![1, 2]),
            ]
        );
        // The coordinate variable comes along, joined the same way.
        let x = plan.variables.iter().find(|v| v.path == "/x").expect("x");
        assert_eq!(x.counts(), vec![3]);
        assert_eq!(x.dims, v.dims[1..]);
    }

    #[test]
    fn a_run_outside_its_dimension_is_refused() {
        let sel = Selection {
            path: "/v".into(),
            slab: Hyperslab::full(&[2, 6]),
        };
        let join = Join {
            dimension: "/x".into(),
            runs: vec![r(5, 2)],
        };
        assert!(plan_joined(&grid(), &[sel], &[join]).is_err());
    }
}
