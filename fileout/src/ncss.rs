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
//!   calendars through [`cdm::cf`]), `temporal=all` or no time parameter every time;
//! - `vertCoord` selects the nearest vertical level;
//! - `accept` is `netcdf` / `netcdf3` (the default) or `netcdf4` / `netcdf4-classic`.

use std::fmt::Write as _;

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
}

/// A parsed NCSS grid query.
#[derive(Clone, Debug, PartialEq)]
pub struct NcssQuery {
    /// Variables asked for (`all` expanded later).
    pub vars: Vec<String>,
    /// The box: north, south, east, west (all four or none).
    pub bbox: Option<[f64; 4]>,
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
            horiz_stride: 1,
            time: None,
            time_range: None,
            time_stride: 1,
            vert_coord: None,
            accept: Accept::Netcdf3,
        };
        let mut edges: [Option<f64>; 4] = [None; 4];
        let (mut start, mut end) = (None, None);
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
                "horizStride" => q.horiz_stride = stride("horizStride")?,
                "timeStride" => q.time_stride = stride("timeStride")?,
                "time" => q.time = Some(v),
                "time_start" => start = Some(v),
                "time_end" => end = Some(v),
                "temporal" => {
                    if v != "all" {
                        return Err(bad(format!("temporal={v:?}: only 'all' is valid")));
                    }
                }
                "vertCoord" => q.vert_coord = Some(number("vertCoord")?),
                "accept" => {
                    q.accept = match v.to_ascii_lowercase().as_str() {
                        "netcdf" | "netcdf3" | "" => Accept::Netcdf3,
                        "netcdf4" | "netcdf4-classic" | "netcdf4ext" => Accept::Netcdf4,
                        other => {
                            return Err(bad(format!(
                                "accept={other:?} is not served for grids; valid: netcdf, \
netcdf3, netcdf4, netcdf4-classic"
                            )));
                        }
                    }
                }
                // Parameters TDS accepts that change nothing here.
                "addLatLon" | "disableLLSubset" | "disableProjSubset" | "spatial" => {}
                other => {
                    return Err(bad(format!(
                        "unknown parameter {other:?}; valid: var, north, south, east, west, \
horizStride, time, time_start, time_end, temporal, timeStride, vertCoord, addLatLon, accept"
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

async fn values(source: &dyn Source, ds: &Dataset, path: &str) -> Result<Vec<f64>, Error> {
    let var = ds
        .variable(path)
        .ok_or_else(|| Error::Source(cdm::Error::NoSuchVariable(path.to_owned())))?;
    let bytes = cdm::read_all(source, path, &Hyperslab::full(&var.shape())).await?;
    cf::numbers(&var.dtype, &bytes).map_err(|e| bad(e.to_string()))
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
pub async fn subset(source: &dyn Source, ds: &Dataset, q: &NcssQuery) -> Result<Subset, Error> {
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
    let mut cache: std::collections::HashMap<String, Vec<f64>> = std::collections::HashMap::new();
    for var in chosen {
        if out.iter().any(|s: &Selection| s.path == var.path) {
            continue;
        }
        let mut ranges: Vec<Range> = var.dims.iter().map(|d| Range::full(d.len)).collect();
        for axis in cf::axes_of(ds, var) {
            let i = axis.dim_index;
            if !cache.contains_key(&axis.path) {
                let v = values(source, ds, &axis.path).await?;
                cache.insert(axis.path.clone(), v);
            }
            let coords = &cache[&axis.path];
            if coords.is_empty() {
                continue;
            }
            let last = coords.len() - 1;
            match axis.axis {
                Axis::X => {
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
                        _ => (0, last),
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
            let coords = values(source, ds, &a.path).await?;
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
    x.push_str("    </Grid>\n  </AcceptList>\n</gridDataset>\n");
    Ok(x)
}
