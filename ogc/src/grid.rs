//! A [`Grid`]: one EDR collection made from a dataset — its CF axes with their coordinate
//! values, and the data variables ([`Parameter`]s) that lie on exactly those axes. A
//! rectilinear grid has 1-D longitude and latitude axes; a curvilinear one ([`Curvilinear`])
//! has index axes `y`, `x` and 2-D longitude / latitude variables named by the CF
//! `coordinates` attribute.

use std::collections::BTreeMap;

use cdm::cf::{self, Axis, TimeUnits};
use cdm::{DataType, Dataset, Variable};

use crate::OgcError;

/// Smallest and largest of `values`.
fn min_max(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// The text attribute `name` of `var`, trimmed.
fn text_attribute(var: &Variable, name: &str) -> Option<String> {
    var.attribute(name)
        .and_then(|a| a.value.as_text())
        .map(|t| t.trim().to_owned())
}

/// One axis of a grid: the coordinate variable and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct GridAxis {
    /// Which CF axis.
    pub axis: Axis,
    /// The coordinate variable's own name.
    pub name: String,
    /// Its fully qualified name, to read it by.
    pub path: String,
    /// Its element type (a `float` axis prints as `float`).
    pub dtype: DataType,
    /// Its values.
    pub values: Vec<f64>,
    /// Its `units`.
    pub units: Option<String>,
    /// Its `positive` attribute (vertical axes: `up` or `down`).
    pub positive: Option<String>,
    /// Time units and calendar, for the time axis.
    pub time: Option<TimeUnits>,
}

impl GridAxis {
    /// Smallest and largest finite value.
    #[must_use]
    pub fn min_max(&self) -> Option<(f64, f64)> {
        min_max(self.values.iter().copied().filter(|v| v.is_finite()))
    }

    /// The axis made of the coordinate variable at `path`, with its values from `coords`.
    /// `None` when it is no CF axis or its values are missing.
    fn of_variable(ds: &Dataset, path: &str, coords: &BTreeMap<String, Vec<f64>>) -> Option<Self> {
        let var = ds.variable(path)?;
        let axis = cf::axis_of(var)?;
        Some(Self {
            axis,
            name: var.name.clone(),
            path: path.to_owned(),
            dtype: var.dtype.clone(),
            values: coords.get(path)?.clone(),
            units: cf::units(var),
            positive: text_attribute(var, "positive"),
            time: (axis == Axis::T).then(|| TimeUnits::of(var)).flatten(),
        })
    }

    /// The value at `i` as an ISO 8601 date-time (time axes).
    #[must_use]
    pub fn datetime(&self, i: usize) -> Option<String> {
        let t = self.time.as_ref()?;
        t.to_datetime(*self.values.get(i)?).map(|d| d.to_string())
    }
}

/// A data variable of the grid: what EDR calls a parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    /// The variable's own name: the parameter's id.
    pub name: String,
    /// Its fully qualified name, to read it by.
    pub path: String,
    /// Its element type.
    pub dtype: DataType,
    /// The axis of each of its dimensions, in the variable's order.
    pub dim_axes: Vec<Axis>,
    /// Its shape.
    pub shape: Vec<usize>,
    /// `units`.
    pub units: Option<String>,
    /// `long_name`, for people.
    pub long_name: Option<String>,
    /// `standard_name`: the observed property.
    pub standard_name: Option<String>,
    /// Values meaning "no data" (`_FillValue`, `missing_value`).
    pub missing: Vec<f64>,
    /// `scale_factor`, applied to the stored values.
    pub scale: Option<f64>,
    /// `add_offset`, added after scaling.
    pub offset: Option<f64>,
    /// Whether the packing attributes are `float`: CF unpacks to their type, so the values are
    /// computed (and shown) in single precision, as netCDF-4-python and xarray do.
    pub packed_f32: bool,
}

impl Parameter {
    fn from_variable(var: &Variable, dim_axes: Vec<Axis>) -> Self {
        let text = |n: &str| text_attribute(var, n);
        Self {
            name: var.name.clone(),
            path: var.path.clone(),
            dtype: var.dtype.clone(),
            dim_axes,
            shape: var.shape(),
            units: text("units"),
            long_name: text("long_name"),
            standard_name: text("standard_name"),
            missing: cf::missing_values(var),
            scale: cf::number_attr(var, "scale_factor"),
            offset: cf::number_attr(var, "add_offset"),
            packed_f32: ["scale_factor", "add_offset"]
                .iter()
                .filter_map(|n| var.attribute(n))
                .all(|a| a.value.dtype() == DataType::Float32),
        }
    }

    /// Whether values are unpacked (scaled or offset) before they are shown.
    #[must_use]
    pub fn is_packed(&self) -> bool {
        self.scale.is_some() || self.offset.is_some()
    }
}

/// One EDR collection: a dataset's grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// The collection id (the dataset's path under the root, `/` written as `:`).
    pub id: String,
    /// The dataset's URL path (`/folder/file.nc`).
    pub url_path: String,
    /// A title: the global `title` attribute, or the file name.
    pub title: String,
    /// The global `summary` or `comment`, if any.
    pub description: Option<String>,
    /// The axes, in the order T, Z, Y, X (those present).
    pub axes: Vec<GridAxis>,
    /// The data variables on exactly these axes.
    pub parameters: Vec<Parameter>,
    /// For a curvilinear grid: the cells' positions. Its `X` and `Y` axes are then the index
    /// dimensions (values `0, 1, …`), not longitudes and latitudes.
    pub curvilinear: Option<Curvilinear>,
}

/// The 2-D positions of a curvilinear grid's cells.
#[derive(Debug, Clone, PartialEq)]
pub struct Curvilinear {
    /// The longitude variable's fully qualified name.
    pub lon_path: String,
    /// The latitude variable's fully qualified name.
    pub lat_path: String,
    /// Longitudes, row-major over (`y`, `x`).
    pub lon: Vec<f64>,
    /// Latitudes, row-major over (`y`, `x`).
    pub lat: Vec<f64>,
    /// Number of columns (`x`).
    pub nx: usize,
}

impl Curvilinear {
    /// The (longitude, latitude) of cell (`j`, `i`).
    #[must_use]
    pub fn position(&self, j: usize, i: usize) -> Option<(f64, f64)> {
        let k = j.checked_mul(self.nx)?.checked_add(i)?;
        Some((*self.lon.get(k)?, *self.lat.get(k)?))
    }
}

/// The collection id of a dataset at URL path `/a/b.nc`: `a:b.nc` (one path segment).
#[must_use]
pub fn collection_id(url_path: &str) -> String {
    url_path.trim_start_matches('/').replace('/', ":")
}

/// The URL path of the dataset a collection id names (the inverse of [`collection_id`]).
#[must_use]
pub fn dataset_path(id: &str) -> String {
    format!("/{}", id.replace(':', "/"))
}

/// The coordinate variables (fully qualified names) a dataset's grid is made of: the axis set of
/// its data variables that have both a longitude and a latitude axis and no other dimension,
/// preferring more axes, then more variables. `None` when the dataset has no such grid.
#[must_use]
pub fn grid_coordinates(ds: &Dataset) -> Option<Vec<String>> {
    rectilinear_coordinates(ds).or_else(|| {
        curvilinear_set(ds).map(|set| {
            let mut paths = set.others;
            paths.push(set.lon);
            paths.push(set.lat);
            paths.sort();
            paths
        })
    })
}

fn rectilinear_coordinates(ds: &Dataset) -> Option<Vec<String>> {
    let mut sets: BTreeMap<Vec<String>, usize> = BTreeMap::new();
    for var in ds.all_variables() {
        if let Some(axes) = gridded_axes(ds, var) {
            let mut paths: Vec<String> = axes.into_iter().map(|a| a.path).collect();
            paths.sort();
            *sets.entry(paths).or_default() += 1;
        }
    }
    sets.into_iter()
        .max_by_key(|(paths, n)| (paths.len(), *n))
        .map(|(paths, _)| paths)
}

/// The CF axes of a data variable that lies on a grid: numeric, not itself a coordinate, with a
/// longitude and a latitude axis, every dimension being an axis.
fn gridded_axes(ds: &Dataset, var: &Variable) -> Option<Vec<cf::AxisCoordinate>> {
    if !var.dtype.is_numeric() || var.is_coordinate() || var.dims.len() < 2 {
        return None;
    }
    let axes = cf::axes_of(ds, var);
    let has = |x: Axis| axes.iter().any(|a| a.axis == x);
    (has(Axis::X) && has(Axis::Y) && axes.len() == var.dims.len()).then_some(axes)
}

/// A curvilinear grid's coordinates: the 2-D longitude and latitude and the 1-D T / Z axes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct CurvilinearSet {
    lon: String,
    lat: String,
    /// The index dimensions (`y`, `x`), fully qualified.
    dims: [String; 2],
    /// The other axes' coordinate variables, sorted.
    others: Vec<String>,
}

/// How a data variable lies on a curvilinear grid: the set, and the axis of each dimension.
fn curvilinear_axes(ds: &Dataset, var: &Variable) -> Option<(CurvilinearSet, Vec<Axis>)> {
    if !var.dtype.is_numeric() || var.is_coordinate() || var.dims.len() < 2 {
        return None;
    }
    let (lon, lat, [a, b]) = cf::curvilinear_coordinates(ds, var)?;
    let mut dim_axes = vec![None; var.dims.len()];
    dim_axes[a] = Some(Axis::Y);
    dim_axes[b] = Some(Axis::X);
    let mut others = Vec::new();
    for c in cf::axes_of(ds, var) {
        if matches!(c.axis, Axis::T | Axis::Z) && dim_axes[c.dim_index].is_none() {
            dim_axes[c.dim_index] = Some(c.axis);
            others.push(c.path);
        }
    }
    let dim_axes: Vec<Axis> = dim_axes.into_iter().collect::<Option<_>>()?;
    others.sort();
    let dims = [var.dims[a].path.clone()?, var.dims[b].path.clone()?];
    Some((
        CurvilinearSet {
            lon,
            lat,
            dims,
            others,
        },
        dim_axes,
    ))
}

/// The curvilinear grid with the most data variables (ties: the first).
fn curvilinear_set(ds: &Dataset) -> Option<CurvilinearSet> {
    let mut sets: BTreeMap<CurvilinearSet, usize> = BTreeMap::new();
    for var in ds.all_variables() {
        if let Some((set, _)) = curvilinear_axes(ds, var) {
            *sets.entry(set).or_default() += 1;
        }
    }
    sets.into_iter()
        .max_by_key(|(set, n)| (set.others.len(), *n))
        .map(|(set, _)| set)
}

impl Grid {
    /// The grid of `ds` at URL path `url_path`, given the values of the coordinate variables
    /// [`grid_coordinates`] named (`coords`: path → values). `None` when there is no grid or a
    /// coordinate's values are missing.
    #[must_use]
    pub fn new(ds: &Dataset, url_path: &str, coords: &BTreeMap<String, Vec<f64>>) -> Option<Self> {
        let Some(wanted) = rectilinear_coordinates(ds) else {
            return Self::new_curvilinear(ds, url_path, coords);
        };
        let mut axes = Vec::new();
        for path in &wanted {
            axes.push(GridAxis::of_variable(ds, path, coords)?);
        }
        axes.sort_by_key(|a| std::cmp::Reverse(a.axis));
        // A time axis whose units are not CF time units cannot be queried by date.
        axes.retain(|a| a.axis != Axis::T || a.time.is_some());
        let mut parameters = Vec::new();
        for var in ds.all_variables() {
            let Some(var_axes) = gridded_axes(ds, var) else {
                continue;
            };
            let mut paths: Vec<&str> = var_axes.iter().map(|a| a.path.as_str()).collect();
            paths.sort_unstable();
            if paths != wanted.iter().map(String::as_str).collect::<Vec<_>>()
                || var_axes.len() != axes.len()
            {
                continue;
            }
            let mut dim_axes = vec![Axis::X; var.dims.len()];
            for a in &var_axes {
                dim_axes[a.dim_index] = a.axis;
            }
            parameters.push(Parameter::from_variable(var, dim_axes));
        }
        if parameters.is_empty() {
            return None;
        }
        Some(Self::with_metadata(ds, url_path, axes, parameters, None))
    }

    fn with_metadata(
        ds: &Dataset,
        url_path: &str,
        axes: Vec<GridAxis>,
        parameters: Vec<Parameter>,
        curvilinear: Option<Curvilinear>,
    ) -> Self {
        let global = |n: &str| {
            ds.root
                .attribute(n)
                .and_then(|a| a.value.as_text())
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
        };
        Self {
            id: collection_id(url_path),
            url_path: url_path.to_owned(),
            title: global("title").unwrap_or_else(|| ds.name.clone()),
            description: global("summary").or_else(|| global("comment")),
            axes,
            parameters,
            curvilinear,
        }
    }

    /// The curvilinear grid of `ds` (see [`Grid::new`]).
    fn new_curvilinear(
        ds: &Dataset,
        url_path: &str,
        coords: &BTreeMap<String, Vec<f64>>,
    ) -> Option<Self> {
        let set = curvilinear_set(ds)?;
        let mut axes = Vec::new();
        for path in &set.others {
            axes.push(GridAxis::of_variable(ds, path, coords)?);
        }
        let lon_var = ds.variable(&set.lon)?;
        let shape = lon_var.shape();
        let (ny, nx) = (*shape.first()?, *shape.get(1)?);
        #[allow(clippy::cast_precision_loss)]
        let index_axis = |axis: Axis, dim: &str, n: usize| GridAxis {
            axis,
            name: dim.rsplit('/').next().unwrap_or(dim).to_owned(),
            path: dim.to_owned(),
            dtype: DataType::Int32,
            values: (0..n).map(|i| i as f64).collect(),
            units: None,
            positive: None,
            time: None,
        };
        axes.push(index_axis(Axis::Y, &set.dims[0], ny));
        axes.push(index_axis(Axis::X, &set.dims[1], nx));
        axes.sort_by_key(|a| std::cmp::Reverse(a.axis));
        if axes.iter().any(|a| a.axis == Axis::T && a.time.is_none()) {
            return None;
        }
        let lon = coords.get(&set.lon)?.clone();
        let lat = coords.get(&set.lat)?.clone();
        if lon.len() != ny * nx || lat.len() != ny * nx {
            return None;
        }
        let mut parameters = Vec::new();
        for var in ds.all_variables() {
            if let Some((s, dim_axes)) = curvilinear_axes(ds, var)
                && s == set
            {
                parameters.push(Parameter::from_variable(var, dim_axes));
            }
        }
        if parameters.is_empty() {
            return None;
        }
        let curvilinear = Curvilinear {
            lon_path: set.lon.clone(),
            lat_path: set.lat.clone(),
            lon,
            lat,
            nx,
        };
        Some(Self::with_metadata(
            ds,
            url_path,
            axes,
            parameters,
            Some(curvilinear),
        ))
    }

    /// Where the axis `axis` stands among the grid's axes, if the grid has it.
    #[must_use]
    pub fn axis_index(&self, axis: Axis) -> Option<usize> {
        self.axes.iter().position(|a| a.axis == axis)
    }

    /// Parameter `p`, and for each of its dimensions where its grid axis stands among the
    /// grid's axes.
    ///
    /// # Errors
    /// [`OgcError::NotFound`] for no parameter `p`; [`OgcError::BadRequest`] for a dimension
    /// on no axis of the grid (a plan made for another grid).
    pub fn parameter_axes(&self, p: usize) -> Result<(&Parameter, Vec<usize>), OgcError> {
        let param = self
            .parameters
            .get(p)
            .ok_or_else(|| OgcError::NotFound("no such parameter".into()))?;
        let axes = param
            .dim_axes
            .iter()
            .map(|&axis| {
                self.axis_index(axis)
                    .ok_or_else(|| OgcError::BadRequest("axis not in grid".into()))
            })
            .collect::<Result<_, _>>()?;
        Ok((param, axes))
    }

    /// The axis `axis`, if the grid has it.
    #[must_use]
    pub fn axis(&self, axis: Axis) -> Option<&GridAxis> {
        self.axes.iter().find(|a| a.axis == axis)
    }

    /// The parameter called `name`.
    #[must_use]
    pub fn parameter(&self, name: &str) -> Option<&Parameter> {
        self.parameters.iter().find(|p| p.name == name)
    }

    /// The horizontal extent in CRS84, `[west, south, east, north]`; a grid in 0–360 is shifted
    /// to −180–180 (a global one spans −180…180; otherwise `west > east` crosses the
    /// antimeridian).
    #[must_use]
    pub fn bbox(&self) -> Option<[f64; 4]> {
        if let Some(c) = &self.curvilinear {
            // Longitudes in −180–180; a curvilinear grid across the antimeridian is shown as
            // the whole band of longitudes.
            let lons = c
                .lon
                .iter()
                .filter(|v| v.is_finite())
                .map(|v| cf::longitude_from(*v, -180.0));
            let (w, e) = min_max(lons)?;
            let (s, n) = min_max(c.lat.iter().copied().filter(|v| v.is_finite()))?;
            return Some([w, s.max(-90.0), e, n.min(90.0)]);
        }
        let (mut w, mut e) = self.axis(Axis::X)?.min_max()?;
        let (s, n) = self.axis(Axis::Y)?.min_max()?;
        if e > 180.0 {
            let xs = &self.axis(Axis::X)?.values;
            let step = if xs.len() > 1 {
                (e - w) / (xs.len() - 1) as f64
            } else {
                0.0
            };
            if e - w + step >= 359.999 {
                w = -180.0;
                e = 180.0;
            } else {
                w = (w + 180.0).rem_euclid(360.0) - 180.0;
                e = (e + 180.0).rem_euclid(360.0) - 180.0;
            }
        }
        Some([w, s.max(-90.0), e, n.min(90.0)])
    }

    /// The first and last time of the time axis, ISO 8601.
    #[must_use]
    pub fn time_interval(&self) -> Option<(String, String)> {
        let t = self.axis(Axis::T)?;
        let units = t.time.as_ref()?;
        let (lo, hi) = t.min_max()?;
        Some((
            units.to_datetime(lo)?.to_string(),
            units.to_datetime(hi)?.to_string(),
        ))
    }
}
