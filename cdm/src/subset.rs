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
//! - variables come out in the dataset's declaration order.

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
    /// What to read of the source variable.
    pub slab: Hyperslab,
}

impl PlanVariable {
    /// Number of values written.
    #[must_use]
    pub fn len(&self) -> usize {
        self.slab.len()
    }

    /// Whether no value is written.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.slab.is_empty()
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
        for (i, (dim, range)) in var.dims.iter().zip(slab.ranges()).enumerate() {
            let (key, dim_group, base) = match (&dim.path, &dim.name) {
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
            slab: slab.clone(),
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
