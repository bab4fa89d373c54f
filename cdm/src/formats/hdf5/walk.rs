//! Walks an open HDF5 file into the model: groups, dimension scales, phony dimensions,
//! variables, attributes, user-defined types, and a note of what was left out.
//!
//! Every function here calls the HDF5 library: call with the library lock held.

use std::collections::{HashMap, HashSet};

use hdf5::types::VarLenArray;
use hdf5::{IndexType, IterationOrder, LinkType, LocationToken, LocationType, ObjectReference1};
use hdf5_sys::h5a::{H5Aget_space, H5Aget_type, H5Aread};
use hdf5_sys::h5d::H5Dvlen_reclaim;
use hdf5_sys::h5p::H5P_DEFAULT;
use hdf5_sys::h5s::{
    H5S_class_t, H5Sclose, H5Sget_simple_extent_npoints, H5Sget_simple_extent_type,
};

use super::types::{Mapped, Native, TypeId, TypeMapper};
use super::{HIDDEN_ATTRIBUTES, NETCDF_DIM_ONLY, OMITTED_ATTRIBUTE, VarHandle};
use crate::model::{
    AttrValue, Attribute, DataType, Dataset, Dimension, Format, Group, Storage, VarDim, Variable,
};

/// Nesting deeper than this is not followed (it would only come from pathological files).
const MAX_DEPTH: usize = 64;

/// A 1-D dataset marked as a dimension scale, and the shared dimension it defines.
#[derive(Debug)]
struct Scale {
    token: LocationToken,
    dim: Dimension,
    /// A netCDF dimension without a variable: the dimension is served, the dataset is not.
    dim_only: bool,
}

/// What the walk produces.
#[derive(Debug)]
pub(super) struct Walked {
    pub(super) dataset: Dataset,
    pub(super) vars: HashMap<String, VarHandle>,
    /// In a netCDF-4 file, the datasets with a scale attached whose length differs from
    /// theirs (netCDF-C shows them at the scale's length).
    pub(super) netcdf_gaps: Vec<String>,
}

/// Builds the model of `file`, named `name`; `netcdf4` when the file is netCDF-4 by content,
/// to show it as netCDF-C does.
pub(super) fn walk(file: &hdf5::File, name: String, netcdf4: bool) -> Walked {
    let mut w = Walker {
        netcdf4,
        ..Walker::default()
    };
    let root: &hdf5::Group = file;
    w.find_scales(root, "/", 0, &mut Vec::new());
    w.phony.next = w.scales.len();
    w.plan_dims(root, "/", 0, &mut Vec::new());
    let mut visited = Vec::new();
    let mut root_group = w.group(root, String::new(), "/".into(), 0, &mut visited);
    fill_types(&mut root_group, &w.types);
    // netCDF-C writes `_nc3_strict` on the root group of a classic-model file.
    let format = if !netcdf4 {
        Format::Hdf5
    } else if root
        .attr_names()
        .is_ok_and(|n| n.iter().any(|n| n == "_nc3_strict"))
    {
        Format::NetCdf4Classic
    } else {
        Format::NetCdf4
    };
    Walked {
        dataset: Dataset {
            name,
            format,
            root: root_group,
        },
        vars: w.vars,
        netcdf_gaps: w.netcdf_gaps,
    }
}

/// Puts each group's user-defined types in place once every use has been met.
fn fill_types(group: &mut Group, types: &TypeMapper) {
    group.types = types.group_types(&group.path);
    for g in &mut group.groups {
        fill_types(g, types);
    }
}

#[derive(Default)]
struct Walker {
    types: TypeMapper,
    scales: Vec<Scale>,
    /// Every served dataset's dimensions and every group's phony dimensions, decided before
    /// the model is built because netCDF-C numbers them in an order of its own.
    phony: PhonyDims,
    vars: HashMap<String, VarHandle>,
    /// Show the file as netCDF-C shows a netCDF-4 file.
    netcdf4: bool,
    /// See [`Walked::netcdf_gaps`].
    netcdf_gaps: Vec<String>,
}

/// The hard links of `group` to objects of each kind, in creation order where the group tracks
/// it and by name otherwise, with the links left out (soft, external) described.
fn links(group: &hdf5::Group) -> (Vec<(String, LocationType)>, Vec<String>) {
    let listed = group
        .links(IndexType::CreationOrder, IterationOrder::Increasing)
        .or_else(|_| group.links(IndexType::Name, IterationOrder::Increasing))
        .unwrap_or_default();
    let mut hard = Vec::new();
    let mut left_out = Vec::new();
    for (name, info) in listed {
        match info.link_type {
            LinkType::Hard => match group.loc_type_by_name(&name) {
                Ok(t) => hard.push((name, t)),
                Err(_) => left_out.push(format!("{name}: an object HDF5 cannot describe")),
            },
            LinkType::Soft => left_out.push(format!("{name}: a soft link")),
            LinkType::External => left_out.push(format!("{name}: an external link")),
        }
    }
    (hard, left_out)
}

/// The names of an object's attributes in creation order (storage order where untracked).
fn attribute_names(loc: &hdf5::Location) -> Vec<String> {
    loc.attr_names_by(IndexType::CreationOrder, IterationOrder::Increasing)
        .or_else(|_| loc.attr_names())
        .unwrap_or_default()
}

/// The text of a string attribute, if `loc` has one called `name`.
fn text_attribute(loc: &hdf5::Location, name: &str) -> Option<String> {
    let attr = loc.attr(name).ok()?;
    let mut mapper = TypeMapper::default();
    // SAFETY: the attribute's type id, owned by the returned value.
    let t = TypeId::new(unsafe { H5Aget_type(attr.id()) }, "get a type").ok()?;
    let mapped = mapper.map(t.0, "/", name).ok()?;
    match read_attribute_value(&attr, &mapped).ok()? {
        AttrValue::Char(b) => Some(String::from_utf8_lossy(&b).into_owned()),
        AttrValue::String(v) => v.into_iter().next(),
        _ => None,
    }
}

impl Walker {
    /// First pass: every dimension scale in the file, so datasets anywhere can refer to them.
    fn find_scales(
        &mut self,
        group: &hdf5::Group,
        path: &str,
        depth: usize,
        visited: &mut Vec<LocationToken>,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        if let Ok(info) = group.loc_info() {
            if visited.contains(&info.token) {
                return;
            }
            visited.push(info.token);
        }
        for (name, kind) in links(group).0 {
            let child = Group::child_path(path, &name);
            match kind {
                LocationType::Group => {
                    if let Ok(g) = group.group(&name) {
                        self.find_scales(&g, &child, depth + 1, visited);
                    }
                }
                LocationType::Dataset => {
                    let Ok(ds) = group.dataset(&name) else {
                        continue;
                    };
                    if text_attribute(&ds, "CLASS").as_deref() != Some("DIMENSION_SCALE") {
                        continue;
                    }
                    let Ok(space) = ds.space() else { continue };
                    if space.ndim() != 1 {
                        continue;
                    }
                    let Ok(info) = ds.loc_info() else { continue };
                    if self.scales.iter().any(|s| s.token == info.token) {
                        continue;
                    }
                    let dim_only =
                        text_attribute(&ds, "NAME").is_some_and(|n| n.starts_with(NETCDF_DIM_ONLY));
                    self.scales.push(Scale {
                        token: info.token,
                        dim: Dimension {
                            name: name.clone(),
                            path: child,
                            len: space.shape()[0],
                            unlimited: space.maxdims()[0].is_none(),
                        },
                        dim_only,
                    });
                }
                _ => {}
            }
        }
    }

    /// Second pass: the group at `path` and everything below it.
    fn group(
        &mut self,
        group: &hdf5::Group,
        name: String,
        path: String,
        depth: usize,
        visited: &mut Vec<LocationToken>,
    ) -> Group {
        let mut omitted = Vec::new();
        let (members, left_out) = links(group);
        omitted.extend(left_out);

        // Dimensions defined here: the scales in this group, in member order.
        let mut dimensions: Vec<Dimension> = Vec::new();
        for (member, kind) in &members {
            if *kind != LocationType::Dataset {
                continue;
            }
            let p = Group::child_path(&path, member);
            if let Some(s) = self.scales.iter().find(|s| s.dim.path == p) {
                dimensions.push(s.dim.clone());
            }
        }

        let mut attributes = self.attributes(group, &path, "", &mut omitted);
        let mut variables = Vec::new();
        let mut groups = Vec::new();
        for (member, kind) in members {
            let child = Group::child_path(&path, &member);
            match kind {
                LocationType::Group => {
                    let Ok(g) = group.group(&member) else {
                        omitted.push(format!("{member}: a group HDF5 cannot open"));
                        continue;
                    };
                    let seen = g.loc_info().ok().map(|i| i.token);
                    if depth >= MAX_DEPTH {
                        omitted.push(format!("{member}: a group nested too deeply"));
                    } else if seen.is_some_and(|t| visited.contains(&t)) {
                        omitted.push(format!("{member}: a second link to a group already served"));
                    } else {
                        visited.extend(seen);
                        groups.push(self.group(&g, member, child, depth + 1, visited));
                    }
                }
                LocationType::Dataset => {
                    let Ok(ds) = group.dataset(&member) else {
                        omitted.push(format!("{member}: a dataset HDF5 cannot open"));
                        continue;
                    };
                    match self.variable(&ds, &member, &path, &mut omitted) {
                        Ok(Some((var, handle))) => {
                            self.vars.insert(var.path.clone(), handle);
                            variables.push(var);
                        }
                        Ok(None) => {}
                        Err(why) => omitted.push(format!("{member}: a dataset of {why}")),
                    }
                }
                LocationType::NamedDatatype => {
                    if let Ok(t) = group.committed_datatype(&member)
                        && let Err(why) = self.types.map(t.id(), &path, &member)
                    {
                        omitted.push(format!("{member}: a named datatype of {why}"));
                    }
                }
                #[allow(unreachable_patterns)]
                _ => omitted.push(format!("{member}: an object of an unknown kind")),
            }
        }
        dimensions.extend(self.phony.group_dims.remove(&path).unwrap_or_default());
        if !omitted.is_empty() {
            attributes.push(Attribute::new(
                OMITTED_ATTRIBUTE,
                AttrValue::String(omitted),
            ));
        }
        Group {
            name,
            path,
            dimensions,
            types: Vec::new(),
            variables,
            attributes,
            groups,
        }
    }

    /// The variable for dataset `ds` (called `name`, in the group at `group_path`), or `None`
    /// when it is bookkeeping (a netCDF dimension without a variable).
    ///
    /// # Errors
    /// What about its type or dataspace cannot be represented.
    fn variable(
        &mut self,
        ds: &hdf5::Dataset,
        name: &str,
        group_path: &str,
        omitted: &mut Vec<String>,
    ) -> Result<Option<(Variable, VarHandle)>, String> {
        let path = Group::child_path(group_path, name);
        let token = ds.loc_info().ok().map(|i| i.token);
        let scale = token.and_then(|t| self.scales.iter().find(|s| s.token == t));
        if scale.is_some_and(|s| s.dim_only) {
            return Ok(None);
        }
        let space = ds
            .space()
            .map_err(|_| "a dataspace HDF5 cannot describe".to_owned())?;
        if space.is_null() {
            return Err("no elements (a null dataspace)".into());
        }
        let ds_shape = space.shape();
        let dtype = ds.dtype().map_err(|_| "a type HDF5 cannot describe")?;
        let mapped = self.types.map(dtype.id(), group_path, name)?;
        let dims: Vec<VarDim> = self
            .phony
            .dataset_dims
            .remove(&path)
            .ok_or_else(|| "a dataset reached by a second link".to_owned())?
            .iter()
            .map(VarDim::shared)
            .collect();

        let mut attributes = self.attributes(ds, group_path, name, omitted);
        let storage = storage_of(ds);
        let fill = fill_value(ds, &mapped);
        // netCDF-C sets a fill value on every dataset and writes `_FillValue` itself when
        // the user gives one.
        if !self.netcdf4
            && let Some(value) = fill.as_ref().and_then(|f| f.user_value.clone())
            && !attributes.iter().any(|a| a.name == "_FillValue")
        {
            attributes.push(Attribute::new("_FillValue", value));
        }
        let shape: Vec<usize> = dims.iter().map(|d| d.len).collect();
        let var = Variable {
            name: name.to_owned(),
            path: path.clone(),
            dtype: mapped.dtype.clone(),
            dims,
            attributes,
            storage,
        };
        let engine_layout = super::engine_layout(ds, &dtype, &mapped, fill.map(|f| f.canonical));
        // The engine decodes its filters itself; anything else needs the library to.
        if engine_layout.is_none()
            && let Some(why) = undecodable_filter(ds)
        {
            return Err(why);
        }
        Ok(Some((
            var,
            VarHandle {
                dataset: ds.clone(),
                ds_rank: ds_shape.len(),
                shape,
                mapped,
                engine_layout,
            },
        )))
    }

    /// Decides every dataset's dimensions, in netCDF-C's order: below `group` (at `path`) the
    /// child groups first, depth first, then the group's own datasets in link order. A
    /// dimension with a scale (the dataset's own, or one attached of the same length) uses the
    /// scale's dimension; the others get phony ones (see [`PhonyDims`]). Datasets that will be
    /// left out take none.
    fn plan_dims(
        &mut self,
        group: &hdf5::Group,
        path: &str,
        depth: usize,
        visited: &mut Vec<LocationToken>,
    ) {
        let (members, _) = links(group);
        for (member, kind) in &members {
            if *kind != LocationType::Group {
                continue;
            }
            let Ok(g) = group.group(member) else { continue };
            let seen = g.loc_info().ok().map(|i| i.token);
            if depth >= MAX_DEPTH || seen.is_some_and(|t| visited.contains(&t)) {
                continue;
            }
            visited.extend(seen);
            self.plan_dims(&g, &Group::child_path(path, member), depth + 1, visited);
        }
        let taken: HashSet<String> = members.iter().map(|(n, _)| n.clone()).collect();
        // The group's own dimensions so far: its scales, in member order, then its phony ones.
        let mut group_dims: Vec<Dimension> = self
            .scales
            .iter()
            .filter(|s| parent_of(&s.dim.path) == path)
            .map(|s| s.dim.clone())
            .collect();
        for (member, kind) in &members {
            if *kind != LocationType::Dataset {
                continue;
            }
            let child = Group::child_path(path, member);
            if self.phony.dataset_dims.contains_key(&child) {
                continue;
            }
            let Ok(ds) = group.dataset(member) else {
                continue;
            };
            let token = ds.loc_info().ok().map(|i| i.token);
            let scale = token.and_then(|t| self.scales.iter().find(|s| s.token == t));
            if scale.is_some_and(|s| s.dim_only) {
                continue;
            }
            let scale_dim = scale.map(|s| s.dim.clone());
            let Ok(space) = ds.space() else { continue };
            // A dataset left out for its filter still takes its dimensions, as in netCDF-C,
            // which shows such a variable and fails only when it is read.
            if space.is_null() {
                continue;
            }
            let Ok(dtype) = ds.dtype() else { continue };
            // A scratch mapper: only the array dimensions matter here, and the real mapping
            // (which names user-defined types) happens once, when the variable is built.
            let Ok(mapped) = TypeMapper::default().map(dtype.id(), path, member) else {
                continue;
            };
            let has_list = scale_dim.is_none() && ds.attr("DIMENSION_LIST").is_ok();
            let attached = if has_list {
                self.attached_scales(&ds, space.ndim())
            } else {
                Vec::new()
            };
            let lens: Vec<(usize, bool)> = space
                .shape()
                .into_iter()
                .zip(space.maxdims().into_iter().map(|m| m.is_none()))
                .chain(mapped.array_dims.iter().map(|&n| (n, false)))
                .collect();
            let shared: Vec<Option<Dimension>> = lens
                .iter()
                .enumerate()
                .map(|(i, &(len, _))| match &scale_dim {
                    Some(d) if i == 0 && d.len == len => Some(d.clone()),
                    _ => attached
                        .get(i)
                        .and_then(Option::as_ref)
                        .filter(|d| d.len == len)
                        .cloned(),
                })
                .collect();
            if self.netcdf4 {
                let declared = lens.iter().enumerate().any(|(i, &(len, _))| {
                    let scale = match &scale_dim {
                        Some(d) if i == 0 => Some(d),
                        _ => attached.get(i).and_then(Option::as_ref),
                    };
                    scale.is_some_and(|d| d.len != len)
                });
                if declared {
                    self.netcdf_gaps.push(child.clone());
                }
            }
            let planned = PlannedDataset {
                group_path: path.to_owned(),
                path: child,
                lens,
                shared,
            };
            // netCDF-C makes no phony dimension for a dataset with attached scales (it cannot
            // open one whose scales do not cover every dimension): such datasets get theirs
            // after all the others, so the names netCDF-C shows stay the same.
            if has_list && planned.shared.iter().any(Option::is_none) {
                self.phony.deferred.push(planned);
            } else {
                self.phony.place(planned, &taken, &mut group_dims);
            }
        }
        if depth == 0 {
            for planned in std::mem::take(&mut self.phony.deferred) {
                let mut group_dims: Vec<Dimension> = self
                    .scales
                    .iter()
                    .filter(|s| parent_of(&s.dim.path) == planned.group_path)
                    .map(|s| s.dim.clone())
                    .chain(
                        self.phony
                            .group_dims
                            .get(&planned.group_path)
                            .into_iter()
                            .flatten()
                            .cloned(),
                    )
                    .collect();
                self.phony.place(planned, &HashSet::new(), &mut group_dims);
            }
        }
    }

    /// For each dimension of `ds`, the shared dimension of the first scale attached to it.
    fn attached_scales(&self, ds: &hdf5::Dataset, rank: usize) -> Vec<Option<Dimension>> {
        let Ok(attr) = ds.attr("DIMENSION_LIST") else {
            return Vec::new();
        };
        let Ok(lists) = attr.read_raw::<VarLenArray<ObjectReference1>>() else {
            return Vec::new();
        };
        lists
            .iter()
            .take(rank)
            .map(|refs| {
                let first = refs.as_slice().first()?;
                let hdf5::ReferencedObject::Dataset(target) = ds.dereference(first).ok()? else {
                    return None;
                };
                let token = target.loc_info().ok()?.token;
                self.scales
                    .iter()
                    .find(|s| s.token == token)
                    .map(|s| s.dim.clone())
            })
            .collect()
    }

    /// The attributes of `loc` that the model shows; those it cannot represent are described in
    /// `omitted` (as `owner.attribute`, or just the attribute name for a group).
    fn attributes(
        &mut self,
        loc: &hdf5::Location,
        group_path: &str,
        owner: &str,
        omitted: &mut Vec<String>,
    ) -> Vec<Attribute> {
        let mut out = Vec::new();
        let describe = |name: &str| {
            if owner.is_empty() {
                format!("attribute {name}")
            } else {
                format!("attribute {owner}.{name}")
            }
        };
        for name in attribute_names(loc) {
            if HIDDEN_ATTRIBUTES.contains(&name.as_str()) {
                continue;
            }
            // `CLASS` is bookkeeping only on dimension scales; other writers (PyTables) use it.
            if name == "CLASS" && text_attribute(loc, "CLASS").as_deref() == Some("DIMENSION_SCALE")
            {
                continue;
            }
            let Ok(attr) = loc.attr(&name) else {
                omitted.push(format!("{}: HDF5 cannot open it", describe(&name)));
                continue;
            };
            // SAFETY: the attribute's type id, owned by the returned value.
            let Ok(t) = TypeId::new(unsafe { H5Aget_type(attr.id()) }, "get a type") else {
                omitted.push(format!(
                    "{}: HDF5 cannot describe its type",
                    describe(&name)
                ));
                continue;
            };
            let hint = if owner.is_empty() {
                name.clone()
            } else {
                format!("{owner}_{name}")
            };
            let mapped = match self.types.map(t.0, group_path, &hint) {
                Ok(m) => m,
                Err(why) => {
                    omitted.push(format!("{}: {why}", describe(&name)));
                    continue;
                }
            };
            match read_attribute_value(&attr, &mapped) {
                Ok(value) => out.push(Attribute::new(name, value)),
                Err(why) => omitted.push(format!("{}: {why}", describe(&name))),
            }
        }
        out
    }
}

/// Shared dimensions invented for dataset dimensions without a scale, numbered as netCDF-C
/// numbers them, so a file shows the same dimension names locally (ncdump, netCDF4-python,
/// h5netcdf) and through the server.
///
/// netCDF-C's scheme (4.7.3 and later): once every dimension scale of the file is known,
/// groups are visited depth first, a group's child groups before its own datasets. A dataset
/// dimension of length *n* without a scale takes the first dimension of its group (a scale's
/// or a phony one) of length *n* and the same unlimitedness that the dataset does not already
/// use; failing that, a new one is made, named `phony_dim_<k>` with *k* the file-wide count of
/// dimensions made so far (every scale counts). So equal shapes in one group share dimensions,
/// and a square dataset gets two.
#[derive(Debug, Default)]
pub(super) struct PhonyDims {
    /// The number in the next phony dimension's name.
    next: usize,
    /// The dimensions of every dataset that will be served, by path.
    dataset_dims: HashMap<String, Vec<Dimension>>,
    /// The phony dimensions made in each group, by group path, in order.
    group_dims: HashMap<String, Vec<Dimension>>,
    /// Datasets with attached scales that leave some dimensions uncovered, placed last.
    deferred: Vec<PlannedDataset>,
}

/// One dataset's dimensions before the phony ones are chosen.
#[derive(Debug)]
struct PlannedDataset {
    group_path: String,
    path: String,
    /// Length and unlimitedness of every dimension (the dataset's, then its array type's).
    lens: Vec<(usize, bool)>,
    /// The scale's dimension, where one covers the dimension.
    shared: Vec<Option<Dimension>>,
}

impl PhonyDims {
    /// Chooses the dimensions of `planned`, making phony ones where no scale covers it.
    fn place(
        &mut self,
        planned: PlannedDataset,
        taken: &HashSet<String>,
        group_dims: &mut Vec<Dimension>,
    ) {
        let mut dims: Vec<Dimension> = Vec::with_capacity(planned.lens.len());
        for (&(len, unlimited), shared) in planned.lens.iter().zip(planned.shared) {
            let dim = shared.unwrap_or_else(|| {
                self.dim(
                    &planned.group_path,
                    taken,
                    group_dims,
                    len,
                    unlimited,
                    &dims,
                )
            });
            dims.push(dim);
        }
        self.dataset_dims.insert(planned.path, dims);
    }

    /// The dimension of the group at `group_path` for a length `len` not among `used`: an
    /// existing one from `group_dims`, or a new phony one appended to it. `taken` are the
    /// group's member names, which a new name avoids.
    fn dim(
        &mut self,
        group_path: &str,
        taken: &HashSet<String>,
        group_dims: &mut Vec<Dimension>,
        len: usize,
        unlimited: bool,
        used: &[Dimension],
    ) -> Dimension {
        if let Some(d) = group_dims.iter().find(|d| {
            d.len == len && d.unlimited == unlimited && !used.iter().any(|u| u.path == d.path)
        }) {
            return d.clone();
        }
        let mut name = format!("phony_dim_{}", self.next);
        while taken.contains(&name) || group_dims.iter().any(|d| d.name == name) {
            self.next += 1;
            name = format!("phony_dim_{}", self.next);
        }
        self.next += 1;
        let dim = Dimension {
            path: Group::child_path(group_path, &name),
            name,
            len,
            unlimited,
        };
        group_dims.push(dim.clone());
        self.group_dims
            .entry(group_path.to_owned())
            .or_default()
            .push(dim.clone());
        dim
    }
}

/// The path of the group holding the object at `path`.
fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// Why a dataset's filter pipeline cannot be undone through the HDF5 library (with the filter
/// plugins it finds): the first filter it cannot decode, by number and name.
fn undecodable_filter(ds: &hdf5::Dataset) -> Option<String> {
    ds.filters()
        .iter()
        .map(hdf5::filters::Filter::id)
        .find(|&id| !hdf5::filters::Filter::get_info(id).decode_enabled)
        .map(|id| {
            format!(
                "data compressed with HDF5 filter {id} ({}), which this server cannot decode",
                crate::engine::filters::filter_name(id)
            )
        })
}

/// Chunking and filters, for information.
fn storage_of(ds: &hdf5::Dataset) -> Storage {
    let mut storage = Storage {
        chunks: ds.chunk(),
        ..Storage::default()
    };
    for f in ds.filters() {
        match f {
            hdf5::filters::Filter::Deflate(level) => storage.deflate = Some(u32::from(level)),
            hdf5::filters::Filter::Shuffle => storage.shuffle = true,
            hdf5::filters::Filter::Fletcher32 => storage.fletcher32 = true,
            _ => {}
        }
    }
    storage
}

/// A dataset's fill value: one canonical element, and the `_FillValue` attribute to show when
/// the writer chose it.
#[derive(Debug)]
pub(super) struct Fill {
    pub(super) canonical: Vec<u8>,
    pub(super) user_value: Option<AttrValue>,
}

/// The fill value of `ds` converted to the memory type of `mapped`, for fixed-size numeric
/// element types (the ones the engine reads and `_FillValue` describes).
fn fill_value(ds: &hdf5::Dataset, mapped: &Mapped) -> Option<Fill> {
    use hdf5_sys::h5d::H5D_fill_value_t;
    use hdf5_sys::h5p::{H5Pclose, H5Pfill_value_defined, H5Pget_fill_value};
    let Native::Plain { size } = mapped.native else {
        return None;
    };
    if !mapped.array_dims.is_empty() {
        return None;
    }
    // SAFETY: the dataset's creation property list, closed below.
    let dcpl = unsafe { hdf5_sys::h5d::H5Dget_create_plist(ds.id()) };
    if dcpl < 0 {
        return None;
    }
    let mut status = H5D_fill_value_t::H5D_FILL_VALUE_ERROR;
    let mut buf = vec![0u8; size];
    // SAFETY: out-pointer, and a buffer of one element of the memory type.
    let ok = unsafe {
        H5Pfill_value_defined(dcpl, &mut status) >= 0
            && H5Pget_fill_value(dcpl, mapped.mem.0, buf.as_mut_ptr().cast()) >= 0
    };
    // SAFETY: closes the list opened above.
    unsafe { H5Pclose(dcpl) };
    if !ok {
        // An undefined fill value reads as zeros.
        return Some(Fill {
            canonical: vec![0; size],
            user_value: None,
        });
    }
    let user_value = (status == H5D_fill_value_t::H5D_FILL_VALUE_USER_DEFINED
        && mapped.dtype.is_numeric())
    .then(|| numeric_value(&mapped.dtype, &buf, 1))
    .flatten();
    Some(Fill {
        canonical: buf,
        user_value,
    })
}

/// `count` canonically encoded values of a numeric type as an attribute value.
fn numeric_value(dtype: &DataType, data: &[u8], count: usize) -> Option<AttrValue> {
    macro_rules! conv {
        ($variant:ident, $t:ty) => {{
            const N: usize = std::mem::size_of::<$t>();
            AttrValue::$variant(
                data.chunks_exact(N)
                    .take(count)
                    .map(|c| <$t>::from_le_bytes(c.try_into().unwrap_or([0; N])))
                    .collect(),
            )
        }};
    }
    Some(match dtype {
        DataType::Int8 => conv!(Int8, i8),
        DataType::UInt8 => conv!(UInt8, u8),
        DataType::Int16 => conv!(Int16, i16),
        DataType::UInt16 => conv!(UInt16, u16),
        DataType::Int32 => conv!(Int32, i32),
        DataType::UInt32 => conv!(UInt32, u32),
        DataType::Int64 => conv!(Int64, i64),
        DataType::UInt64 => conv!(UInt64, u64),
        DataType::Float32 => conv!(Float32, f32),
        DataType::Float64 => conv!(Float64, f64),
        _ => return None,
    })
}

/// Reads a whole attribute into its model value.
fn read_attribute_value(attr: &hdf5::Attribute, mapped: &Mapped) -> Result<AttrValue, String> {
    // SAFETY: the attribute's dataspace, closed below.
    let space = unsafe { H5Aget_space(attr.id()) };
    if space < 0 {
        return Err("HDF5 cannot describe its dataspace".into());
    }
    // SAFETY: valid dataspace id.
    let (class, npoints) = unsafe {
        (
            H5Sget_simple_extent_type(space),
            H5Sget_simple_extent_npoints(space),
        )
    };
    let result = (|| {
        if class == H5S_class_t::H5S_NULL {
            return Err("no value (a null dataspace)".to_owned());
        }
        let n = usize::try_from(npoints).map_err(|_| "a bad dataspace".to_owned())?;
        let elem = mapped.native.size();
        let mut raw = vec![0u8; n * elem];
        if n > 0 {
            // SAFETY: `raw` holds `n` elements of the memory type.
            let status = unsafe { H5Aread(attr.id(), mapped.mem.0, raw.as_mut_ptr().cast()) };
            if status < 0 {
                return Err("HDF5 cannot convert its value".to_owned());
            }
        }
        let mut data = Vec::with_capacity(raw.len());
        for i in 0..n {
            // SAFETY: element `i` lies inside `raw`, written by HDF5.
            unsafe { mapped.native.encode(raw.as_ptr().add(i * elem), &mut data) };
        }
        if n > 0 && mapped.native.has_pointers() {
            // SAFETY: HDF5 filled `raw` for this dataspace and memory type; reclaimed once.
            unsafe { H5Dvlen_reclaim(mapped.mem.0, space, H5P_DEFAULT, raw.as_mut_ptr().cast()) };
        }
        let count = n * mapped.array_dims.iter().product::<usize>();
        Ok(attribute_value(mapped, &data, count))
    })();
    // SAFETY: closes the dataspace opened above.
    unsafe { H5Sclose(space) };
    result
}

/// The model value of `count` canonically encoded elements.
fn attribute_value(mapped: &Mapped, data: &[u8], count: usize) -> AttrValue {
    if let Some(v) = numeric_value(&mapped.dtype, data, count) {
        return v;
    }
    match (&mapped.dtype, &mapped.native) {
        (DataType::Char, _) => AttrValue::Char(trim_nuls(data.to_vec())),
        (DataType::String, native) => {
            let strings: Vec<String> = crate::encoding::split_elements(&DataType::String, data)
                .unwrap_or_default()
                .into_iter()
                .map(|s| String::from_utf8_lossy(s.get(8..).unwrap_or_default()).into_owned())
                .collect();
            // One fixed-length string is netCDF text, as netCDF-C reads it.
            if matches!(native, Native::FixedString { .. }) && strings.len() == 1 {
                AttrValue::Char(strings.into_iter().next().unwrap_or_default().into_bytes())
            } else {
                AttrValue::String(strings)
            }
        }
        (dtype, _) => AttrValue::Typed {
            dtype: dtype.clone(),
            count,
            data: data.to_vec(),
        },
    }
}

/// Text attributes are often written with their C terminator; drop trailing NULs as ncdump does.
fn trim_nuls(mut v: Vec<u8>) -> Vec<u8> {
    while v.last() == Some(&0) {
        v.pop();
    }
    v
}
