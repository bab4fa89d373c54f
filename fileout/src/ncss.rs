//! The NetCDF Subset Service for grids, as THREDDS answers it (`/ncss/grid/PATH`): the query
//! parameters real scripts and siphon's `NCSS` class send, turned into [`Selection`]s by the
//! dataset's CF coordinates, and the `dataset.xml` document siphon reads first.
//!
//! Rules (TDS's documented behaviour):
//! - `var` names grid variables (repeated, or comma-separated; `all` for every grid);
//! - `north/south/east/west` select the cells whose coordinate lies inside the box, bounds
//!   included; the output keeps the file's order (descending latitudes stay descending);
//!   longitudes are compared in any convention (a −30…30 box on a 0–360 axis); a box that
//!   crosses the axis' seam (west 350, east 10 on a 0–360 axis) reads the two runs of indices
//!   and writes them as one longitude axis from the west edge eastward, its values rising past
//!   the seam without a jump (350, 0→360, 10→370), as TDS writes them;
//! - `horizStride` / `timeStride` take every n-th index of the selection;
//! - `time` selects the nearest time, `time_start`/`time_end` every time inside (CF units and
//!   calendars through [`cdm::cf`]), `temporal=all` every time, and no time parameter (or
//!   `time=present`) the axis' last time, as TDS's code does (its documentation says "the
//!   time closest to the present", which is the last for any axis of past times);
//! - `latitude`/`longitude` make a point query: the nearest cell (longitudes round the
//!   circle), every time and level asked for; `accept=csv` / `accept=xml` answer it as TDS's
//!   grid-as-point does ([`point_table`]), and are refused (400) without a point;
//! - `vertCoord` selects the nearest vertical level;
//! - `accept` is `netcdf` / `netcdf3` (the default), `netcdf4` / `netcdf4-classic`, or
//!   `csv` / `xml` for a point.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use cdm::cf::{self, Axis, DateTime, TimeUnits};
use cdm::subset::Join;
use cdm::{DataType, Dataset, Hyperslab, Range, Source, Variable};

use crate::{Error, Selection, SubsetPlan};

/// The file format asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accept {
    /// netCDF-3 (`netcdf`, `netcdf3`).
    Netcdf3,
    /// netCDF-4 (`netcdf4`, `netcdf4-classic`, `netcdf4ext`).
    Netcdf4,
    /// CSV of a point query, one row per time (and level), as TDS's grid-as-point.
    Csv,
    /// XML of a point query, one `<point>` per time (and level), as TDS's grid-as-point.
    Xml,
}

/// A parsed NCSS grid query.
#[derive(Clone, Debug, PartialEq)]
pub struct NcssQuery {
    /// Variables asked for (`all` expanded later).
    pub vars: Vec<String>,
    /// The box: north, south, east, west (all four or none).
    pub bbox: Option<[f64; 4]>,
    /// A point: latitude, longitude (the nearest cell).
    pub point: Option<(f64, f64)>,
    /// `temporal=all`: every time.
    pub all_times: bool,
    /// Every n-th index along x and y.
    pub horiz_stride: usize,
    /// One time, nearest.
    pub time: Option<String>,
    /// A time range, inclusive.
    pub time_range: Option<(String, String)>,
    /// Every n-th time.
    pub time_stride: usize,
    /// One vertical level, nearest.
    pub vert_coord: Option<f64>,
    /// The file format.
    pub accept: Accept,
}

fn bad(message: impl Into<String>) -> Error {
    Error::Query(message.into())
}

fn decode(s: &str) -> String {
    let plus = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8_lossy()
        .into_owned()
}

impl NcssQuery {
    /// Parses the query string.
    ///
    /// # Errors
    /// [`Error::Query`] naming the parameter that is wrong and what is valid.
    pub fn parse(query: Option<&str>) -> Result<Self, Error> {
        let mut q = Self {
            vars: Vec::new(),
            bbox: None,
            point: None,
            all_times: false,
            horiz_stride: 1,
            time: None,
            time_range: None,
            time_stride: 1,
            vert_coord: None,
            accept: Accept::Netcdf3,
        };
        let mut edges: [Option<f64>; 4] = [None; 4];
        let (mut start, mut end) = (None, None);
        let (mut latitude, mut longitude) = (None, None);
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let (k, v) = (decode(k), decode(v));
            let number = |name: &str| {
                v.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| bad(format!("{name}={v:?} is not a number")))
            };
            let stride = |name: &str| {
                v.trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|&n| n >= 1)
                    .ok_or_else(|| bad(format!("{name}={v:?}: a whole number ≥ 1 is valid")))
            };
            match k.as_str() {
                "var" => q.vars.extend(
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned),
                ),
                "north" => edges[0] = Some(number("north")?),
                "south" => edges[1] = Some(number("south")?),
                "east" => edges[2] = Some(number("east")?),
                "west" => edges[3] = Some(number("west")?),
                "latitude" => latitude = Some(number("latitude")?),
                "longitude" => longitude = Some(number("longitude")?),
                "horizStride" => q.horiz_stride = stride("horizStride")?,
                "timeStride" => q.time_stride = stride("timeStride")?,
                "time" => q.time = Some(v),
                "time_start" => start = Some(v),
                "time_end" => end = Some(v),
                "temporal" => {
                    if v != "all" {
                        return Err(bad(format!("temporal={v:?}: only 'all' is valid")));
                    }
                    q.all_times = true;
                }
                "vertCoord" => q.vert_coord = Some(number("vertCoord")?),
                "accept" => {
                    q.accept = match v.to_ascii_lowercase().as_str() {
                        "netcdf" | "netcdf3" | "" => Accept::Netcdf3,
                        "netcdf4" | "netcdf4-classic" | "netcdf4ext" => Accept::Netcdf4,
                        "csv" | "text/csv" | "text/plain" => Accept::Csv,
                        "xml" | "text/xml" | "application/xml" => Accept::Xml,
                        other => {
                            return Err(bad(format!(
                                "accept={other:?} is not served for grids; valid: netcdf, \
netcdf3, netcdf4, netcdf4-classic (and csv, xml for a point query)"
                            )));
                        }
                    }
                }
                // Parameters TDS accepts that change nothing here.
                "addLatLon" | "disableLLSubset" | "disableProjSubset" | "spatial" => {}
                other => {
                    return Err(bad(format!(
                        "unknown parameter {other:?}; valid: var, north, south, east, west, \
latitude, longitude, horizStride, time, time_start, time_end, temporal, timeStride, vertCoord, \
addLatLon, accept"
                    )));
                }
            }
        }
        match edges {
            [Some(n), Some(s), Some(e), Some(w)] => {
                if s > n {
                    return Err(bad(format!("south ({s}) is north of north ({n})")));
                }
                q.bbox = Some([n, s, e, w]);
            }
            [None, None, None, None] => {}
            _ => return Err(bad("give all four of north, south, east and west, or none")),
        }
        match (latitude, longitude) {
            (Some(lat), Some(lon)) => {
                if q.bbox.is_some() {
                    return Err(bad(
                        "give a box (north, south, east, west) or a point (latitude, longitude), \
not both",
                    ));
                }
                if !(-90.0..=90.0).contains(&lat) {
                    return Err(bad(format!(
                        "latitude={lat}: a latitude from -90 to 90 is valid"
                    )));
                }
                q.point = Some((lat, lon));
            }
            (None, None) => {}
            _ => {
                return Err(bad(
                    "give both latitude and longitude for a point, or neither",
                ));
            }
        }
        if matches!(q.accept, Accept::Csv | Accept::Xml) && q.point.is_none() {
            return Err(bad(
                "accept=csv and accept=xml are for point queries (latitude=…&longitude=…); \
for a box or the whole grid, valid: netcdf, netcdf4",
            ));
        }
        match (start, end) {
            (Some(a), Some(b)) => q.time_range = Some((a, b)),
            (None, None) => {}
            _ => return Err(bad("give both time_start and time_end")),
        }
        if q.vars.is_empty() {
            return Err(bad("name at least one variable: var=NAME (or var=all)"));
        }
        Ok(q)
    }
}

/// The grid variables of a dataset: numeric variables with an X and a Y axis.
#[must_use]
pub fn grids(ds: &Dataset) -> Vec<&Variable> {
    ds.all_variables()
        .filter(|v| v.dtype.is_numeric() && !v.is_coordinate())
        .filter(|v| {
            let axes = cf::axes_of(ds, v);
            axes.iter().any(|a| a.axis == Axis::X) && axes.iter().any(|a| a.axis == Axis::Y)
        })
        .collect()
}

/// The name a grid goes by in NCSS: its path without the leading `/`.
fn grid_name(v: &Variable) -> &str {
    v.path.trim_start_matches('/')
}

/// The coordinate values NCSS has read of one file version, by variable path: kept with the
/// catalog entry (`CatalogEntry::extension`) so that each query reads only data.
#[derive(Debug, Default)]
pub struct Coordinates(Mutex<HashMap<String, Arc<Vec<f64>>>>);

impl Coordinates {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Vec<f64>>>> {
        // A panic while holding the lock cannot leave the map inconsistent.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The values of variable `path` of `ds`, read from `source` the first time.
    ///
    /// # Errors
    /// An unknown or non-numeric variable, or a failed read.
    pub async fn values(
        &self,
        source: &dyn Source,
        ds: &Dataset,
        path: &str,
    ) -> Result<Arc<Vec<f64>>, Error> {
        if let Some(v) = self.lock().get(path) {
            return Ok(Arc::clone(v));
        }
        let var = ds
            .variable(path)
            .ok_or_else(|| Error::Source(cdm::Error::NoSuchVariable(path.to_owned())))?;
        let bytes = cdm::read_all(source, path, &Hyperslab::full(&var.shape())).await?;
        let values = Arc::new(cf::numbers(&var.dtype, &bytes).map_err(|e| bad(e.to_string()))?);
        // Read outside the lock: two first queries may both read, and the values are the same.
        self.lock().insert(path.to_owned(), Arc::clone(&values));
        Ok(values)
    }
}

/// The index of the longitude nearest `lon` round the circle (any convention).
fn nearest_longitude(values: &[f64], lon: f64) -> Option<usize> {
    values
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .map(|(i, v)| {
            let d = (v - lon).rem_euclid(360.0);
            (i, d.min(360.0 - d))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

fn strided(first: usize, last: usize, stride: usize) -> Range {
    Range {
        start: first,
        count: (last - first) / stride + 1,
        stride,
    }
}

fn span(values: &[f64]) -> (f64, f64) {
    values
        .iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        })
}

fn parse_time(units: &TimeUnits, name: &str, text: &str, times: &[f64]) -> Result<f64, Error> {
    let valid = || {
        let (lo, hi) = span(times);
        match (units.to_datetime(lo), units.to_datetime(hi)) {
            (Some(a), Some(b)) => format!("the dataset's times run from {a} to {b}"),
            _ => String::new(),
        }
    };
    let dt = DateTime::parse(text)
        .map_err(|e| bad(format!("{name}: {e}; ISO 8601 is valid, and {}", valid())))?;
    units
        .to_value(&dt)
        .map_err(|e| bad(format!("{name}: {e}; {}", valid())))
}

/// What an NCSS query selects of a dataset.
#[derive(Clone, Debug, PartialEq)]
pub struct Subset {
    /// One selection per variable asked for (coordinate variables come along when planned).
    pub selections: Vec<Selection>,
    /// Longitude dimensions read in two runs: a box across the axis' seam.
    pub joins: Vec<Join>,
    /// The written values of joined longitude coordinates: from the box's west edge eastward,
    /// past the seam without a jump (350, 360, 370 on a 0–360 axis), as TDS writes them.
    pub longitudes: Vec<(String, Vec<f64>)>,
}

impl Subset {
    /// The file this subset is written as.
    ///
    /// # Errors
    /// A selection that does not fit the dataset.
    pub fn plan(&self, ds: &Dataset) -> Result<SubsetPlan, Error> {
        let mut plan = cdm::subset::plan_joined(ds, &self.selections, &self.joins)?;
        for (path, lons) in &self.longitudes {
            if let Some(v) = plan.variables.iter_mut().find(|v| &v.path == path) {
                v.values = encode(&v.dtype, lons);
            }
        }
        Ok(plan)
    }
}

/// `values` in `dtype`'s canonical (little-endian) encoding; `None` for a type longitudes are
/// not kept in.
fn encode(dtype: &DataType, values: &[f64]) -> Option<Vec<u8>> {
    #[allow(clippy::cast_possible_truncation)]
    let bytes = match dtype {
        DataType::Float32 => values
            .iter()
            .flat_map(|&v| (v as f32).to_le_bytes())
            .collect(),
        DataType::Float64 => values.iter().flat_map(|&v| v.to_le_bytes()).collect(),
        DataType::Int16 => values
            .iter()
            .flat_map(|&v| (v.round() as i16).to_le_bytes())
            .collect(),
        DataType::Int32 => values
            .iter()
            .flat_map(|&v| (v.round() as i32).to_le_bytes())
            .collect(),
        _ => return None,
    };
    Some(bytes)
}

/// What an NCSS query selects of `ds`: one selection per variable asked for (coordinate
/// variables are brought along by [`Subset::plan`]).
///
/// # Errors
/// [`Error::Query`] (400) for an unknown variable, a box outside the grid, a bad time.
pub async fn subset(
    source: &dyn Source,
    ds: &Dataset,
    coordinates: &Coordinates,
    q: &NcssQuery,
) -> Result<Subset, Error> {
    let all = grids(ds);
    let valid_names = || {
        all.iter()
            .map(|v| grid_name(v))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut chosen: Vec<&Variable> = Vec::new();
    for name in &q.vars {
        if name == "all" {
            chosen.extend(all.iter().copied());
            continue;
        }
        let v = all
            .iter()
            .find(|v| grid_name(v) == name.trim_start_matches('/'))
            .ok_or_else(|| {
                bad(format!(
                    "unknown grid variable {name:?}; valid: {}",
                    valid_names()
                ))
            })?;
        chosen.push(v);
    }
    let mut out = Vec::with_capacity(chosen.len());
    let mut joins: Vec<Join> = Vec::new();
    let mut longitudes: Vec<(String, Vec<f64>)> = Vec::new();
    for var in chosen {
        if out.iter().any(|s: &Selection| s.path == var.path) {
            continue;
        }
        let mut ranges: Vec<Range> = var.dims.iter().map(|d| Range::full(d.len)).collect();
        for axis in cf::axes_of(ds, var) {
            let i = axis.dim_index;
            let coords = &*coordinates.values(source, ds, &axis.path).await?;
            if coords.is_empty() {
                continue;
            }
            let last = coords.len() - 1;
            match axis.axis {
                Axis::X => {
                    if let Some((_, lon)) = q.point {
                        let n = nearest_longitude(coords, lon).unwrap_or(0);
                        ranges[i] = strided(n, n, 1);
                        continue;
                    }
                    let (first, end) = match q.bbox {
                        Some([_, _, east, west]) => {
                            let runs = cf::longitude_runs(coords, west, east);
                            match runs.as_slice() {
                                [] => {
                                    let (lo, hi) = span(coords);
                                    return Err(bad(format!(
                                        "the box (west {west}, east {east}) holds no longitude \
of {}; its longitudes run from {lo} to {hi}",
                                        grid_name(var)
                                    )));
                                }
                                [one] => *one,
                                [first, rest @ ..] => {
                                    // Across the seam: the runs one after another, west to
                                    // east, each strided on its own (as TDS does).
                                    let runs: Vec<Range> = std::iter::once(first)
                                        .chain(rest)
                                        .map(|&(a, b)| strided(a, b, q.horiz_stride))
                                        .collect();
                                    if let Some(dim) = var.dims[i].path.clone()
                                        && !joins.iter().any(|j: &Join| j.dimension == dim)
                                    {
                                        let start = coords[first.0];
                                        let lons: Vec<f64> = runs
                                            .iter()
                                            .flat_map(Range::indices)
                                            .map(|k| cf::longitude_from(coords[k], start))
                                            .collect();
                                        if dim == axis.path {
                                            longitudes.push((dim.clone(), lons));
                                        }
                                        joins.push(Join {
                                            dimension: dim,
                                            runs,
                                        });
                                    }
                                    *first
                                }
                            }
                        }
                        None => (0, last),
                    };
                    ranges[i] = strided(first, end, q.horiz_stride);
                }
                Axis::Y => {
                    if let Some((lat, _)) = q.point {
                        let n = cf::nearest_index(coords, lat).unwrap_or(0);
                        ranges[i] = strided(n, n, 1);
                        continue;
                    }
                    let (first, end) = match q.bbox {
                        Some([north, south, _, _]) => cf::index_range(coords, south, north)
                            .ok_or_else(|| {
                                let (lo, hi) = span(coords);
                                bad(format!(
                                    "the box (south {south}, north {north}) holds no latitude \
of {}; its latitudes run from {lo} to {hi}",
                                    grid_name(var)
                                ))
                            })?,
                        None => (0, last),
                    };
                    ranges[i] = strided(first, end, q.horiz_stride);
                }
                Axis::T => {
                    let Some(coord) = ds.variable(&axis.path) else {
                        continue;
                    };
                    let units = TimeUnits::of(coord);
                    let (first, end) = match (&q.time, &q.time_range, units) {
                        _ if q.all_times => (0, last),
                        (Some(t), _, Some(u)) if t != "present" => {
                            let value = parse_time(&u, "time", t, coords)?;
                            let n = cf::nearest_index(coords, value).unwrap_or(0);
                            (n, n)
                        }
                        (_, Some((a, b)), Some(u)) => {
                            let lo = parse_time(&u, "time_start", a, coords)?;
                            let hi = parse_time(&u, "time_end", b, coords)?;
                            if lo > hi {
                                return Err(bad("time_start is after time_end"));
                            }
                            cf::index_range(coords, lo, hi).ok_or_else(|| {
                                let (lo, hi) = span(coords);
                                let show = |v| u.to_datetime(v).map(|d| d.to_string());
                                bad(format!(
                                    "no time of {} lies between time_start {a} and time_end {b}; \
its times run from {} to {}",
                                    grid_name(var),
                                    show(lo).unwrap_or_default(),
                                    show(hi).unwrap_or_default()
                                ))
                            })?
                        }
                        // No time, or `time=present`: the axis' last time, as TDS's
                        // `subsetLatest` (the time closest to now for any axis of past times).
                        _ => (last, last),
                    };
                    ranges[i] = strided(first, end, q.time_stride);
                }
                Axis::Z => {
                    if let Some(z) = q.vert_coord {
                        let n = cf::nearest_index(coords, z).unwrap_or(0);
                        ranges[i] = strided(n, n, 1);
                    }
                }
            }
        }
        let slab = Hyperslab::new(ranges, &var.shape()).map_err(cdm::Error::from)?;
        out.push(Selection {
            path: var.path.clone(),
            slab,
        });
    }
    Ok(Subset {
        selections: out,
        joins,
        longitudes,
    })
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The `dataset.xml` document of a grid dataset, as TDS writes it (the parts siphon reads:
/// the grids, the lat/lon box, the time span, the accepted formats).
///
/// # Errors
/// A failed read of a coordinate variable.
pub async fn dataset_xml(
    source: &dyn Source,
    ds: &Dataset,
    coordinates: &Coordinates,
    location: &str,
) -> Result<String, Error> {
    let mut x = String::new();
    let _ = writeln!(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    let _ = writeln!(x, "<gridDataset location=\"{}\">", xml_escape(location));
    let grids = grids(ds);
    let mut lat = (f64::INFINITY, f64::NEG_INFINITY);
    let mut lon = (f64::INFINITY, f64::NEG_INFINITY);
    let mut time: Option<(String, String)> = None;
    for v in &grids {
        let axes = cf::axes_of(ds, v);
        let shape: Vec<String> = v
            .dims
            .iter()
            .map(|d| d.name.clone().unwrap_or_default())
            .collect();
        let _ = writeln!(x, "  <gridSet name=\"{}\">", xml_escape(&shape.join(" ")));
        let desc = v
            .attribute("long_name")
            .and_then(|a| a.value.as_text())
            .map(|t| t.into_owned())
            .unwrap_or_default();
        let _ = writeln!(
            x,
            "    <grid name=\"{}\" desc=\"{}\" shape=\"{}\" type=\"{}\"/>",
            xml_escape(grid_name(v)),
            xml_escape(&desc),
            xml_escape(&shape.join(" ")),
            v.dtype.cdl_name()
        );
        let _ = writeln!(x, "  </gridSet>");
        for a in axes {
            let coords = coordinates.values(source, ds, &a.path).await?;
            let (lo, hi) = span(&coords);
            match a.axis {
                Axis::Y => lat = (lat.0.min(lo), lat.1.max(hi)),
                Axis::X => lon = (lon.0.min(lo), lon.1.max(hi)),
                Axis::T => {
                    if let Some(u) = ds.variable(&a.path).and_then(TimeUnits::of)
                        && let (Some(b), Some(e)) = (u.to_datetime(lo), u.to_datetime(hi))
                    {
                        time = Some((b.to_string(), e.to_string()));
                    }
                }
                Axis::Z => {}
            }
        }
    }
    if lat.0.is_finite() && lon.0.is_finite() {
        let _ = writeln!(
            x,
            "  <LatLonBox>\n    <west>{}</west>\n    <east>{}</east>\n    <south>{}</south>\n    <north>{}</north>\n  </LatLonBox>",
            lon.0, lon.1, lat.0, lat.1
        );
    }
    if let Some((b, e)) = time {
        let _ = writeln!(
            x,
            "  <TimeSpan>\n    <begin>{b}</begin>\n    <end>{e}</end>\n  </TimeSpan>"
        );
    }
    x.push_str("  <AcceptList>\n    <Grid>\n");
    for f in ["netcdf", "netcdf4", "netcdf4-classic"] {
        let _ = writeln!(x, "      <accept>{f}</accept>");
    }
    x.push_str("    </Grid>\n    <GridAsPoint>\n");
    for f in ["csv", "xml", "netcdf", "netcdf4"] {
        let _ = writeln!(x, "      <accept>{f}</accept>");
    }
    x.push_str("    </GridAsPoint>\n  </AcceptList>\n</gridDataset>\n");
    Ok(x)
}

/// One column of a point table: a grid's values at the point, by (time, level) row.
struct PointColumn {
    name: String,
    units: Option<String>,
    values: Vec<String>,
}

/// The rows of a group of grids sharing their time and vertical axes.
struct PointGroup {
    key: (Option<String>, Option<String>),
    dates: Vec<String>,
    levels: Vec<f64>,
    z_units: Option<String>,
    lat: f64,
    lon: f64,
    columns: Vec<PointColumn>,
}

/// The values of coordinate variable `path` at `range`, with its path.
async fn selected_coordinates(
    source: &dyn Source,
    ds: &Dataset,
    axis: Option<(&str, Range)>,
) -> Result<Option<(String, Vec<f64>)>, Error> {
    let Some((path, range)) = axis else {
        return Ok(None);
    };
    let coord = ds
        .variable(path)
        .ok_or_else(|| Error::Source(cdm::Error::NoSuchVariable(path.to_owned())))?;
    let slab = Hyperslab::new(vec![range], &coord.shape()).map_err(cdm::Error::from)?;
    let bytes = cdm::read_all(source, path, &slab).await?;
    let values = cf::numbers(&coord.dtype, &bytes).map_err(|e| bad(e.to_string()))?;
    Ok(Some((path.to_owned(), values)))
}

/// A value as text: `f32` values as `f32` (no spurious digits), NaN as `NaN`.
fn show_value(v: f64, single: bool) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if single {
        #[allow(clippy::cast_possible_truncation)]
        let f = v as f32;
        f.to_string()
    } else {
        v.to_string()
    }
}

/// `var`'s values decoded as a reader of the file sees them: `_FillValue` / `missing_value`
/// → NaN, then `scale_factor` and `add_offset` applied.
fn unpacked(var: &Variable, bytes: &[u8]) -> Result<(Vec<f64>, bool), Error> {
    let raw = cf::numbers(&var.dtype, bytes).map_err(|e| bad(e.to_string()))?;
    let missing = cf::missing_values(var);
    let scale = cf::number_attr(var, "scale_factor");
    let offset = cf::number_attr(var, "add_offset");
    let packed = scale.is_some() || offset.is_some();
    let out = raw
        .into_iter()
        .map(|v| {
            if missing.contains(&v) {
                f64::NAN
            } else {
                v * scale.unwrap_or(1.0) + offset.unwrap_or(0.0)
            }
        })
        .collect();
    Ok((out, var.dtype == DataType::Float32 && !packed))
}

/// A point query's values as TDS's grid-as-point writes them, one row per time and level:
/// CSV (`date,lat[unit="degrees_north"],lon[unit="degrees_east"],vertCoord[unit="…"],VAR[unit="…"]`,
/// grids of other time or vertical axes in a further table after a blank line) or XML
/// (`<point>` elements of `<data name="…" units="…">`), what siphon's `NCSS` parses.
///
/// # Errors
/// A failed read, or a grid with a further dimension of more than one index.
pub async fn point_table(
    source: &dyn Source,
    ds: &Dataset,
    subset: &Subset,
    accept: Accept,
    location: &str,
) -> Result<String, Error> {
    let mut groups: Vec<PointGroup> = Vec::new();
    for sel in &subset.selections {
        let var = ds
            .variable(&sel.path)
            .ok_or_else(|| Error::Source(cdm::Error::NoSuchVariable(sel.path.clone())))?;
        let axes = cf::axes_of(ds, var);
        let find = |a: Axis| axes.iter().find(|x| x.axis == a);
        let counts = sel.slab.counts();
        for (i, c) in counts.iter().enumerate() {
            let is_tz = [Axis::T, Axis::Z]
                .iter()
                .any(|&a| find(a).is_some_and(|x| x.dim_index == i));
            if *c > 1 && !is_tz {
                return Err(bad(format!(
                    "{}: its dimension {} is neither time nor vertical, and a point table \
holds one value per time and level; ask for netcdf",
                    grid_name(var),
                    var.dims[i].name.as_deref().unwrap_or("?")
                )));
            }
        }
        // The coordinates of the selected cells.
        let at = |a: Axis| find(a).map(|x| (x.path.as_str(), sel.slab.ranges()[x.dim_index]));
        let lat = selected_coordinates(source, ds, at(Axis::Y)).await?;
        let lon = selected_coordinates(source, ds, at(Axis::X)).await?;
        let time = selected_coordinates(source, ds, at(Axis::T)).await?;
        let z = selected_coordinates(source, ds, at(Axis::Z)).await?;
        let key = (
            time.as_ref().map(|t| t.0.clone()),
            z.as_ref().map(|t| t.0.clone()),
        );
        let bytes = cdm::read_all(source, &var.path, &sel.slab).await?;
        let (values, single) = unpacked(var, &bytes)?;
        let column = PointColumn {
            name: grid_name(var).to_owned(),
            units: cf::units(var),
            values: values.iter().map(|&v| show_value(v, single)).collect(),
        };
        // Rows in (time, level) order; the values come in the variable's dimension order.
        let (t_dim, z_dim) = (
            find(Axis::T).map(|x| x.dim_index),
            find(Axis::Z).map(|x| x.dim_index),
        );
        let column = match (t_dim, z_dim) {
            (Some(t), Some(zd)) if zd < t => {
                let (nt, nz) = (counts[t], counts[zd]);
                let mut reordered = Vec::with_capacity(column.values.len());
                for ti in 0..nt {
                    for zi in 0..nz {
                        reordered.push(column.values[zi * nt + ti].clone());
                    }
                }
                PointColumn {
                    values: reordered,
                    ..column
                }
            }
            _ => column,
        };
        if let Some(g) = groups.iter_mut().find(|g| g.key == key) {
            g.columns.push(column);
            continue;
        }
        let dates = match &time {
            Some((path, values)) => {
                let units = ds.variable(path).and_then(TimeUnits::of);
                values
                    .iter()
                    .map(|&v| {
                        units
                            .and_then(|u| u.to_datetime(v))
                            .map_or_else(|| v.to_string(), |d| d.to_string())
                    })
                    .collect()
            }
            None => Vec::new(),
        };
        groups.push(PointGroup {
            key,
            dates,
            levels: z.as_ref().map(|z| z.1.clone()).unwrap_or_default(),
            z_units: z
                .as_ref()
                .and_then(|(p, _)| ds.variable(p))
                .and_then(cf::units),
            lat: lat.and_then(|l| l.1.first().copied()).unwrap_or(f64::NAN),
            lon: lon.and_then(|l| l.1.first().copied()).unwrap_or(f64::NAN),
            columns: vec![column],
        });
    }
    let mut out = String::new();
    if accept == Accept::Xml {
        let _ = writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
        let _ = writeln!(out, "<grid dataset=\"{}\">", xml_escape(location));
    }
    for (gi, g) in groups.iter().enumerate() {
        let nt = g.dates.len().max(1);
        let nz = g.levels.len().max(1);
        if accept == Accept::Csv {
            if gi > 0 {
                out.push('\n');
            }
            let mut head: Vec<String> = Vec::new();
            if !g.dates.is_empty() {
                head.push("date".into());
            }
            head.push("lat[unit=\"degrees_north\"]".into());
            head.push("lon[unit=\"degrees_east\"]".into());
            if !g.levels.is_empty() {
                head.push(format!(
                    "vertCoord[unit=\"{}\"]",
                    g.z_units.clone().unwrap_or_default()
                ));
            }
            for c in &g.columns {
                head.push(match &c.units {
                    Some(u) => format!("{}[unit=\"{u}\"]", c.name),
                    None => c.name.clone(),
                });
            }
            let _ = writeln!(out, "{}", head.join(","));
        }
        for ti in 0..nt {
            for zi in 0..nz {
                let row = ti * nz + zi;
                let mut cells: Vec<(String, Option<String>, String)> = Vec::new();
                if let Some(d) = g.dates.get(ti) {
                    cells.push(("date".into(), None, d.clone()));
                }
                cells.push((
                    "lat".into(),
                    Some("degrees_north".into()),
                    g.lat.to_string(),
                ));
                cells.push(("lon".into(), Some("degrees_east".into()), g.lon.to_string()));
                if let Some(level) = g.levels.get(zi) {
                    cells.push(("vertCoord".into(), g.z_units.clone(), level.to_string()));
                }
                for c in &g.columns {
                    let v = c.values.get(row).cloned().unwrap_or_else(|| "NaN".into());
                    cells.push((c.name.clone(), c.units.clone(), v));
                }
                if accept == Accept::Csv {
                    let line: Vec<&str> = cells.iter().map(|c| c.2.as_str()).collect();
                    let _ = writeln!(out, "{}", line.join(","));
                } else {
                    out.push_str("  <point>\n");
                    for (name, units, value) in &cells {
                        let units = units
                            .as_ref()
                            .map(|u| format!(" units=\"{}\"", xml_escape(u)))
                            .unwrap_or_default();
                        let _ = writeln!(
                            out,
                            "    <data name=\"{}\"{units}>{}</data>",
                            xml_escape(name),
                            xml_escape(value)
                        );
                    }
                    out.push_str("  </point>\n");
                }
            }
        }
    }
    if accept == Accept::Xml {
        out.push_str("</grid>\n");
    }
    Ok(out)
}

/// The form of a `datasetBoundaries` answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BoundaryFormat {
    /// Well-known text: `POLYGON((lon lat, …))`.
    Wkt,
    /// A GeoJSON `Polygon` geometry.
    GeoJson,
    /// An XML document holding the WKT polygon and the lat/lon box.
    Xml,
}

impl BoundaryFormat {
    /// The form asked for by `accept` (`wkt`, `json` / `geojson`, `xml`), else by the path's
    /// suffix (`datasetBoundaries.json`, `.wkt`, `.xml`), else WKT.
    ///
    /// # Errors
    /// An `accept` that is none of those.
    pub fn choose(suffix: Option<&str>, query: Option<&str>) -> Result<Self, Error> {
        let accept = query.unwrap_or("").split('&').find_map(|p| {
            p.split_once('=')
                .filter(|(k, _)| *k == "accept")
                .map(|(_, v)| decode(v).to_ascii_lowercase())
        });
        let pick = |s: &str| match s {
            "wkt" | "text/plain" => Some(Self::Wkt),
            "json" | "geojson" | "application/json" | "application/geo+json" => Some(Self::GeoJson),
            "xml" | "application/xml" | "text/xml" => Some(Self::Xml),
            _ => None,
        };
        match accept {
            Some(a) => pick(&a).ok_or_else(|| {
                bad(format!(
                    "accept={a:?} is not served for datasetBoundaries; valid: wkt, json, xml"
                ))
            }),
            None => Ok(suffix.and_then(pick).unwrap_or(Self::Wkt)),
        }
    }
}

/// The cell edges of a 1-D axis of centres: midpoints between neighbours, half a step beyond
/// each end (one centre: itself).
fn edges(centres: &[f64]) -> Vec<f64> {
    match centres {
        [] => Vec::new(),
        [one] => vec![*one, *one],
        _ => {
            let n = centres.len();
            let mut e = Vec::with_capacity(n + 1);
            e.push(centres[0] - (centres[1] - centres[0]) / 2.0);
            e.extend(centres.windows(2).map(|w| f64::midpoint(w[0], w[1])));
            e.push(centres[n - 1] + (centres[n - 1] - centres[n - 2]) / 2.0);
            e
        }
    }
}

/// The lat/lon boundary of the dataset's first grid as TDS's `datasetBoundaries` draws it: the
/// outline of its cells (cell edges half a step beyond the outer centres), every edge point
/// along the first latitude edge, up the last longitude edge, back along the last latitude
/// edge and down the first longitude edge, closed; as (longitude, latitude) pairs.
///
/// # Errors
/// A dataset without a grid of 1-D latitude and longitude axes, or a failed read.
pub async fn boundary(
    source: &dyn Source,
    ds: &Dataset,
    coordinates: &Coordinates,
) -> Result<Vec<(f64, f64)>, Error> {
    let grid = grids(ds)
        .into_iter()
        .next()
        .ok_or_else(|| bad("this dataset has no grid with latitude and longitude axes"))?;
    let axes = cf::axes_of(ds, grid);
    let path = |a: Axis| {
        axes.iter()
            .find(|x| x.axis == a)
            .map(|x| x.path.clone())
            .ok_or_else(|| bad("this dataset's grid has no 1-D latitude and longitude axes"))
    };
    let xs = edges(&coordinates.values(source, ds, &path(Axis::X)?).await?);
    let ys = edges(&coordinates.values(source, ds, &path(Axis::Y)?).await?);
    let (Some(&x0), Some(&x1), Some(&y0), Some(&y1)) =
        (xs.first(), xs.last(), ys.first(), ys.last())
    else {
        return Err(bad(
            "this dataset's grid has an empty latitude or longitude axis",
        ));
    };
    let mut ring: Vec<(f64, f64)> = Vec::with_capacity(2 * (xs.len() + ys.len()));
    ring.extend(xs.iter().map(|&x| (x, y0)));
    ring.extend(ys.iter().skip(1).map(|&y| (x1, y)));
    ring.extend(xs.iter().rev().skip(1).map(|&x| (x, y1)));
    ring.extend(ys.iter().rev().skip(1).map(|&y| (x0, y)));
    // WKT and GeoJSON rings are closed: the first point again.
    ring.push((x0, y0));
    Ok(ring)
}

/// The boundary in the asked form, with its content type.
#[must_use]
pub fn boundary_document(ring: &[(f64, f64)], format: BoundaryFormat) -> (String, &'static str) {
    let wkt = {
        let points: Vec<String> = ring.iter().map(|(x, y)| format!("{x:.3} {y:.3}")).collect();
        format!("POLYGON(({}))", points.join(", "))
    };
    match format {
        BoundaryFormat::Wkt => (wkt, "text/plain; charset=utf-8"),
        BoundaryFormat::GeoJson => {
            let points: Vec<String> = ring
                .iter()
                .map(|(x, y)| format!("[{x:.3}, {y:.3}]"))
                .collect();
            (
                format!(
                    "{{\"type\": \"Polygon\", \"coordinates\": [[{}]]}}",
                    points.join(", ")
                ),
                "application/geo+json",
            )
        }
        BoundaryFormat::Xml => {
            let (mut w, mut e, mut s, mut n) = (
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
            );
            for &(x, y) in ring {
                (w, e, s, n) = (w.min(x), e.max(x), s.min(y), n.max(y));
            }
            (
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<datasetBoundaries>\n  \
<boundary format=\"wkt\">{wkt}</boundary>\n  <LatLonBox>\n    <west>{w:.3}</west>\n    \
<east>{e:.3}</east>\n    <south>{s:.3}</south>\n    <north>{n:.3}</north>\n  </LatLonBox>\n\
</datasetBoundaries>\n"
                ),
                "application/xml",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use bytes::Bytes;
    use cdm::model::{Dimension, Format, Group, Storage, VarDim};

    use super::*;

    /// A dataset of one float64 `lon(lon)` of three values, counting its reads.
    #[derive(Debug)]
    struct Counting {
        ds: Arc<Dataset>,
        reads: AtomicUsize,
    }

    impl Source for Counting {
        fn dataset(&self) -> &Arc<Dataset> {
            &self.ds
        }
        fn read(&self, _path: &str, slab: &Hyperslab) -> cdm::ByteStream {
            self.reads.fetch_add(1, Ordering::Relaxed);
            let bytes: Vec<u8> = slab
                .ranges()
                .first()
                .map(|r| r.indices().collect::<Vec<_>>())
                .unwrap_or_default()
                .into_iter()
                .flat_map(|i| (350.0 + 10.0 * i as f64).to_le_bytes())
                .collect();
            Box::pin(futures::stream::once(async move { Ok(Bytes::from(bytes)) }))
        }
    }

    fn source() -> Counting {
        let lon = Dimension {
            name: "lon".into(),
            path: "/lon".into(),
            len: 3,
            unlimited: false,
        };
        let var = Variable {
            name: "lon".into(),
            path: "/lon".into(),
            dtype: DataType::Float64,
            dims: vec![VarDim::shared(&lon)],
            attributes: vec![],
            storage: Storage::default(),
        };
        Counting {
            ds: Arc::new(Dataset {
                name: "c.nc".into(),
                format: Format::NetCdf4,
                root: Group {
                    name: String::new(),
                    path: "/".into(),
                    dimensions: vec![lon],
                    variables: vec![var],
                    ..Group::default()
                },
            }),
            reads: AtomicUsize::new(0),
        }
    }

    #[tokio::test]
    async fn coordinates_are_read_once_per_cache() {
        let src = source();
        let ds = Arc::clone(&src.ds);
        let cache = Coordinates::default();
        for _ in 0..3 {
            let v = cache.values(&src, &ds, "/lon").await.expect("values");
            assert_eq!(*v, vec![350.0, 360.0, 370.0]);
        }
        assert_eq!(src.reads.load(Ordering::Relaxed), 1);
        // Another file version has its own cache.
        let other = Coordinates::default();
        other.values(&src, &ds, "/lon").await.expect("values");
        assert_eq!(src.reads.load(Ordering::Relaxed), 2);
        assert!(cache.values(&src, &ds, "/nosuch").await.is_err());
    }

    #[test]
    fn cell_edges_and_boundary_formats() {
        assert_eq!(edges(&[0.0, 10.0, 20.0]), vec![-5.0, 5.0, 15.0, 25.0]);
        assert_eq!(edges(&[60.0, 40.0]), vec![70.0, 50.0, 30.0]);
        let ring = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)];
        let (wkt, _) = boundary_document(&ring, BoundaryFormat::Wkt);
        assert_eq!(
            wkt,
            "POLYGON((0.000 0.000, 1.000 0.000, 1.000 1.000, 0.000 1.000))"
        );
        assert_eq!(
            BoundaryFormat::choose(Some("json"), None).expect("json"),
            BoundaryFormat::GeoJson
        );
        assert_eq!(
            BoundaryFormat::choose(Some("json"), Some("accept=wkt")).expect("wkt"),
            BoundaryFormat::Wkt
        );
        assert!(BoundaryFormat::choose(None, Some("accept=kml")).is_err());
    }
}
