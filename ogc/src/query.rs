//! EDR query parameters and their [`Plan`]: which indices of each grid axis a `position`,
//! `area` or `cube` query selects, and which hyperslab of each variable holds them.

use cdm::cf::{self, Axis, DateTime};
use cdm::{Hyperslab, Range};

use crate::OgcError;
use crate::grid::{Curvilinear, Grid, GridAxis};

/// The EDR query types served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryKind {
    /// `position`: the cell nearest a point.
    Position,
    /// `area`: the cells whose centres fall inside a polygon.
    Area,
    /// `cube`: the cells inside a bounding box.
    Cube,
}

impl QueryKind {
    /// The query type named by the last path segment.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "position" => Some(Self::Position),
            "area" => Some(Self::Area),
            "cube" => Some(Self::Cube),
            _ => None,
        }
    }

    /// Its name in URLs.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Position => "position",
            Self::Area => "area",
            Self::Cube => "cube",
        }
    }

    /// Every query type, in the order documents list them.
    pub const ALL: [Self; 3] = [Self::Position, Self::Area, Self::Cube];
}

/// The query string's parameters, decoded (`+` is a space), in order.
#[must_use]
pub fn parse_query_string(query: Option<&str>) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// The output formats a query can ask for with `f`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// CoverageJSON (the default).
    CoverageJson,
    /// A netCDF file of the selected cells (`f=netCDF`, `nc`, …), for regular grids.
    NetCdf,
}

/// The spellings of `f` (lowercased) that ask for a netCDF file: pygeoapi's and owslib's
/// `netCDF`/`NetCDF`, xpublish-edr's `nc` and `netcdf`, and the media type.
const NETCDF_SPELLINGS: &[&str] = &[
    "netcdf",
    "nc",
    "netcdf3",
    "nc3",
    "cf-netcdf",
    "application/x-netcdf",
];

/// What the query's values select, ready to read and encode.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The query type.
    pub kind: QueryKind,
    /// Indices into the grid's parameters, in the order asked.
    pub parameters: Vec<usize>,
    /// For each grid axis (the grid's order), the indices selected, in output order.
    pub picks: Vec<Vec<usize>>,
    /// The west edge of the box asked for: longitudes are shown in `[west, west + 360)`.
    pub west: Option<f64>,
    /// For `area`: whether each selected (y, x) cell's centre is inside the polygon, row-major
    /// over the y and x picks; cells outside read as `null`.
    pub inside: Option<Vec<bool>>,
}

impl Plan {
    /// Number of values per parameter.
    #[must_use]
    pub fn values_per_parameter(&self) -> usize {
        self.picks.iter().map(Vec::len).product()
    }

    /// The smallest hyperslab of parameter `p` holding every selected value.
    ///
    /// # Errors
    /// When the plan does not fit the parameter (it was made for another grid).
    pub fn read_slab(&self, grid: &Grid, p: usize) -> Result<Hyperslab, OgcError> {
        self.slab(grid, p, |picks| Ok(window(picks)))
    }

    /// The hyperslab of parameter `p` that holds exactly the selected cells, for a netCDF
    /// answer: every axis's picks must be evenly spaced and ascending (a start, count and
    /// stride), and for `area` every cell of the window must be inside the polygon.
    ///
    /// # Errors
    /// [`OgcError::BadRequest`] for a curvilinear grid, a selection that is no regular slab
    /// (a box across the longitude seam, an uneven list of levels) or a polygon that does not
    /// fill its window: the message says to ask for CoverageJSON instead.
    pub fn file_slab(&self, grid: &Grid, p: usize) -> Result<Hyperslab, OgcError> {
        if grid.curvilinear.is_some() {
            return Err(bad(
                "f=netCDF answers regular (latitude/longitude) grids only; this collection is \
curvilinear: ask for f=CoverageJSON"
                    .to_owned(),
            ));
        }
        if self.inside.as_ref().is_some_and(|m| m.iter().any(|&i| !i)) {
            return Err(bad(
                "f=netCDF needs a polygon that holds every cell of its bounding window (e.g. a \
rectangle); use cube with a bbox, or f=CoverageJSON for this polygon"
                    .to_owned(),
            ));
        }
        self.slab(grid, p, |picks| {
            regular_range(picks).ok_or_else(|| {
                bad(
                    "f=netCDF needs evenly spaced, ascending indices on every axis; this \
selection (e.g. a box across the longitude seam, or an uneven list of z levels) is not: \
ask for f=CoverageJSON, or split the query"
                        .to_owned(),
                )
            })
        })
    }

    /// The hyperslab of parameter `p` whose range on each dimension `range` makes from the
    /// picks of that dimension's axis.
    fn slab(
        &self,
        grid: &Grid,
        p: usize,
        range: impl Fn(&[usize]) -> Result<Range, OgcError>,
    ) -> Result<Hyperslab, OgcError> {
        let (param, axes) = grid.parameter_axes(p)?;
        let ranges = axes
            .iter()
            .map(|&a| {
                let picks = self
                    .picks
                    .get(a)
                    .ok_or_else(|| OgcError::BadRequest("axis not in plan".into()))?;
                range(picks)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Hyperslab::new(ranges, &param.shape).map_err(|e| OgcError::BadRequest(e.to_string()))
    }
}

/// The smallest run of indices holding every one of `picks` (empty for no picks).
pub(crate) fn window(picks: &[usize]) -> Range {
    let lo = picks.iter().copied().min().unwrap_or(0);
    let hi = picks.iter().copied().max().unwrap_or(0);
    Range {
        start: lo,
        count: if picks.is_empty() { 0 } else { hi - lo + 1 },
        stride: 1,
    }
}

/// `picks` as a start, count and stride, when they are evenly spaced and ascending.
fn regular_range(picks: &[usize]) -> Option<Range> {
    let (&start, rest) = picks.split_first()?;
    let stride = match rest.first() {
        Some(&next) => next.checked_sub(start).filter(|&s| s > 0)?,
        None => 1,
    };
    let regular = picks
        .windows(2)
        .all(|w| w[1].checked_sub(w[0]) == Some(stride));
    regular.then_some(Range {
        start,
        count: picks.len(),
        stride,
    })
}

/// Plans query `kind` on `grid` with the query string's parameters, refusing plans of more than
/// `max_values` values in all (0: no limit).
///
/// # Errors
/// [`OgcError::BadRequest`] for a malformed or unknown parameter; [`OgcError::NoData`] for a
/// box, point, polygon, time or level outside the collection; [`OgcError::TooLarge`] over the
/// limit.
pub fn plan(
    grid: &Grid,
    kind: QueryKind,
    params: &[(String, String)],
    max_values: usize,
) -> Result<Plan, OgcError> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    };
    output_format(get("f"))?;
    if let Some(crs) = get("crs").filter(|c| !c.is_empty())
        && !is_crs84(crs)
    {
        return Err(bad(format!(
            "crs {crs:?} is not supported: coordinates are in CRS84 (longitude, latitude)"
        )));
    }
    let parameters = parameter_selection(
        grid,
        get("parameter-name").or_else(|| get("parameter_names")),
    )?;
    let mut picks: Vec<Vec<usize>> = grid
        .axes
        .iter()
        .map(|a| (0..a.values.len()).collect())
        .collect();
    let xi = axis_index(grid, Axis::X)?;
    let yi = axis_index(grid, Axis::Y)?;
    let mut west = None;
    let mut inside = None;
    if let Some(c) = &grid.curvilinear {
        let sel = curvilinear_selection(grid, c, kind, params)?;
        picks[yi] = sel.rows;
        picks[xi] = sel.columns;
        inside = sel.inside;
        west = sel.west;
    } else {
        match kind {
            QueryKind::Cube => {
                let bbox = get("bbox")
                    .ok_or_else(|| bad("a cube query needs bbox=west,south,east,north"))?;
                let [w, s, e, n] = parse_bbox(bbox)?;
                let xs = &grid.axes[xi];
                picks[xi] = runs_to_indices(&cf::longitude_runs(&xs.values, w, e));
                picks[yi] = range_indices(&grid.axes[yi].values, s, n);
                if picks[xi].is_empty() || picks[yi].is_empty() {
                    return Err(no_data(format!(
                        "bbox {bbox} holds no grid cell of this collection (its extent is {})",
                        extent_text(grid)
                    )));
                }
                west = Some(w);
            }
            QueryKind::Position => {
                let coords =
                    get("coords").ok_or_else(|| bad("a position query needs coords=POINT(x y)"))?;
                let (x, y) = parse_point(coords)?;
                let ys = &grid.axes[yi];
                if !within(ys, y, 0.0) {
                    return Err(no_data(format!(
                        "the point {coords} is outside this collection (its extent is {})",
                        extent_text(grid)
                    )));
                }
                let xs = &grid.axes[xi];
                let shifted: Vec<f64> = xs
                    .values
                    .iter()
                    .map(|v| cf::longitude_from(*v, x - 180.0))
                    .collect();
                let ix = cf::nearest_index(&shifted, x)
                    .ok_or_else(|| bad("the grid has no longitudes"))?;
                let iy = cf::nearest_index(&ys.values, y)
                    .ok_or_else(|| bad("the grid has no latitudes"))?;
                if !covers_longitude(xs, x) {
                    return Err(no_data(format!(
                        "the point {coords} is outside this collection (its extent is {})",
                        extent_text(grid)
                    )));
                }
                picks[xi] = vec![ix];
                picks[yi] = vec![iy];
            }
            QueryKind::Area => {
                let coords = get("coords")
                    .ok_or_else(|| bad("an area query needs coords=POLYGON((x y,...))"))?;
                let ring = parse_polygon(coords)?;
                let w = ring.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
                let e = ring.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
                let s = ring.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
                let n = ring.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
                let xs = &grid.axes[xi];
                let ys = &grid.axes[yi];
                let px = runs_to_indices(&cf::longitude_runs(&xs.values, w, e));
                let py = range_indices(&ys.values, s, n);
                let mut mask = Vec::with_capacity(px.len() * py.len());
                for &iy in &py {
                    for &ix in &px {
                        let lon = cf::longitude_from(xs.values[ix], w);
                        mask.push(point_in_ring(lon, ys.values[iy], &ring));
                    }
                }
                if !mask.iter().any(|m| *m) {
                    return Err(no_data(format!(
                        "the polygon holds no grid cell centre of this collection (its extent is {})",
                        extent_text(grid)
                    )));
                }
                picks[xi] = px;
                picks[yi] = py;
                west = Some(w);
                inside = Some(mask);
            }
        }
    }
    if let Some(ti) = grid.axes.iter().position(|a| a.axis == Axis::T) {
        if let Some(dt) = get("datetime").filter(|d| !d.is_empty()) {
            picks[ti] = time_selection(&grid.axes[ti], dt)?;
        } else if kind != QueryKind::Cube {
            // position and area default to the whole series; so does cube.
        }
    } else if get("datetime").is_some_and(|d| !d.is_empty()) {
        return Err(bad("this collection has no time axis: leave out datetime"));
    }
    if let Some(zi) = grid.axes.iter().position(|a| a.axis == Axis::Z) {
        if let Some(z) = get("z").filter(|z| !z.is_empty()) {
            picks[zi] = z_selection(&grid.axes[zi], z)?;
        }
    } else if get("z").is_some_and(|z| !z.is_empty()) {
        return Err(bad("this collection has no vertical axis: leave out z"));
    }
    let plan = Plan {
        kind,
        parameters,
        picks,
        west,
        inside,
    };
    let total = plan
        .values_per_parameter()
        .saturating_mul(plan.parameters.len());
    if max_values > 0 && total > max_values {
        return Err(OgcError::TooLarge(format!(
            "this query selects {total} values, more than this server's limit of {max_values}. \
Ask for less: a smaller bbox, a shorter datetime interval (start/end), fewer z levels, \
or fewer parameters with parameter-name=name1,name2"
        )));
    }
    Ok(plan)
}

/// The value of query parameter `name` (names are case-insensitive), trimmed.
fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// What a query selects on a curvilinear grid: a window of rows and columns and, for `cube`
/// and `area`, which of its cells are selected.
struct CurvilinearSelection {
    rows: Vec<usize>,
    columns: Vec<usize>,
    inside: Option<Vec<bool>>,
    west: Option<f64>,
}

/// `position`: the cell nearest the point by great-circle distance (none when the nearest
/// centre is farther than that cell's own spacing to its neighbours: the point is off the
/// grid). `cube` / `area`: the cells whose centres lie inside the box or polygon.
fn curvilinear_selection(
    grid: &Grid,
    c: &Curvilinear,
    kind: QueryKind,
    params: &[(String, String)],
) -> Result<CurvilinearSelection, OgcError> {
    let get = |name: &str| param(params, name);
    let ny = grid.axis(Axis::Y).map_or(0, |a| a.values.len());
    let nx = c.nx;
    let cells = (0..ny).flat_map(|j| (0..nx).map(move |i| (j, i)));
    let located = cells.filter_map(|(j, i)| {
        c.position(j, i)
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|(x, y)| (j, i, x, y))
    });
    let (selected, west): (Vec<(usize, usize)>, Option<f64>) = match kind {
        QueryKind::Position => {
            let coords =
                get("coords").ok_or_else(|| bad("a position query needs coords=POINT(x y)"))?;
            let (px, py) = parse_point(coords)?;
            let (j, i, d) = located
                .map(|(j, i, x, y)| (j, i, cf::arc_degrees(px, py, x, y)))
                .min_by(|a, b| a.2.total_cmp(&b.2))
                .ok_or_else(|| no_data("the grid has no positions"))?;
            let spacing = neighbour_spacing(c, ny, j, i);
            if d > spacing {
                return Err(no_data(format!(
                    "the point {coords} is outside this collection (its extent is {})",
                    extent_text(grid)
                )));
            }
            return Ok(CurvilinearSelection {
                rows: vec![j],
                columns: vec![i],
                inside: None,
                west: None,
            });
        }
        QueryKind::Cube => {
            let bbox =
                get("bbox").ok_or_else(|| bad("a cube query needs bbox=west,south,east,north"))?;
            let [w, s, e, n] = parse_bbox(bbox)?;
            let width = if e - w >= 360.0 {
                360.0
            } else {
                (e - w).rem_euclid(360.0)
            };
            let inside = located
                .filter(|&(_, _, x, y)| (s..=n).contains(&y) && (x - w).rem_euclid(360.0) <= width)
                .map(|(j, i, _, _)| (j, i))
                .collect();
            (inside, Some(w))
        }
        QueryKind::Area => {
            let coords = get("coords")
                .ok_or_else(|| bad("an area query needs coords=POLYGON((x y,...))"))?;
            let ring = parse_polygon(coords)?;
            let w = ring.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
            let inside = located
                .filter(|&(_, _, x, y)| point_in_ring(cf::longitude_from(x, w), y, &ring))
                .map(|(j, i, _, _)| (j, i))
                .collect();
            (inside, Some(w))
        }
    };
    if selected.is_empty() {
        return Err(no_data(format!(
            "the {} holds no grid cell centre of this collection (its extent is {})",
            if kind == QueryKind::Cube {
                "bbox"
            } else {
                "polygon"
            },
            extent_text(grid)
        )));
    }
    let (j0, j1) = (
        selected.iter().map(|c| c.0).min().unwrap_or(0),
        selected.iter().map(|c| c.0).max().unwrap_or(0),
    );
    let (i0, i1) = (
        selected.iter().map(|c| c.1).min().unwrap_or(0),
        selected.iter().map(|c| c.1).max().unwrap_or(0),
    );
    let width = i1 - i0 + 1;
    let mut mask = vec![false; (j1 - j0 + 1) * width];
    for (j, i) in selected {
        mask[(j - j0) * width + (i - i0)] = true;
    }
    Ok(CurvilinearSelection {
        rows: (j0..=j1).collect(),
        columns: (i0..=i1).collect(),
        inside: Some(mask),
        west,
    })
}

/// The largest great-circle distance from cell (`j`, `i`) to its row and column neighbours
/// (0 for a grid of one cell).
fn neighbour_spacing(c: &Curvilinear, ny: usize, j: usize, i: usize) -> f64 {
    let Some((x, y)) = c.position(j, i) else {
        return 0.0;
    };
    let neighbours = [
        (j.checked_sub(1), Some(i)),
        (Some(j + 1).filter(|&r| r < ny), Some(i)),
        (Some(j), i.checked_sub(1)),
        (Some(j), Some(i + 1).filter(|&k| k < c.nx)),
    ];
    neighbours
        .iter()
        .filter_map(|&(r, k)| c.position(r?, k?))
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .map(|(a, b)| cf::arc_degrees(x, y, a, b))
        .fold(0.0, f64::max)
}

fn bad(msg: impl Into<String>) -> OgcError {
    OgcError::BadRequest(msg.into())
}

/// A well-formed query whose place, time or level lies outside the collection: EDR 1.1
/// `/req/edr/query_type/no-data` ("SHALL return HTTP 204 for queries in which no data exists";
/// its abstract test asks exactly this, a shared query parameter outside the collection's
/// extent).
fn no_data(msg: impl Into<String>) -> OgcError {
    OgcError::NoData(msg.into())
}

fn axis_index(grid: &Grid, axis: Axis) -> Result<usize, OgcError> {
    grid.axes
        .iter()
        .position(|a| a.axis == axis)
        .ok_or_else(|| bad("the collection has no horizontal grid"))
}

fn is_crs84(crs: &str) -> bool {
    let c = crs.to_ascii_uppercase();
    c == "CRS84" || c.ends_with("/OGC/1.3/CRS84") || c == "EPSG:4326" || c.ends_with("/EPSG/0/4326")
}

fn extent_text(grid: &Grid) -> String {
    grid.bbox().map_or_else(
        || "unknown".to_owned(),
        |[w, s, e, n]| format!("bbox={w},{s},{e},{n}"),
    )
}

/// The output format asked for by `f` (CoverageJSON when absent).
///
/// # Errors
/// For any other format.
pub fn output_format(f: Option<&str>) -> Result<OutputFormat, OgcError> {
    match f.map(str::to_ascii_lowercase).as_deref() {
        None | Some("" | "coveragejson" | "covjson" | "json" | "application/prs.coverage+json") => {
            Ok(OutputFormat::CoverageJson)
        }
        Some(f) if NETCDF_SPELLINGS.contains(&f) => Ok(OutputFormat::NetCdf),
        Some(other) => Err(bad(format!(
            "output format {other:?} is not served; use f=CoverageJSON (the default) or f=netCDF"
        ))),
    }
}

fn parameter_selection(grid: &Grid, names: Option<&str>) -> Result<Vec<usize>, OgcError> {
    let Some(names) = names.filter(|n| !n.is_empty()) else {
        return Ok((0..grid.parameters.len()).collect());
    };
    let mut out = Vec::new();
    for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let i = grid
            .parameters
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| {
                bad(format!(
                    "no parameter named {name:?}; this collection has {}",
                    grid.parameters
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        if !out.contains(&i) {
            out.push(i);
        }
    }
    if out.is_empty() {
        return Err(bad("parameter-name names no parameter"));
    }
    Ok(out)
}

fn number(s: &str) -> Result<f64, OgcError> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| bad(format!("{s:?} is not a number")))
}

/// `bbox=west,south,east,north` (a 6-number 3-D box drops its heights).
fn parse_bbox(s: &str) -> Result<[f64; 4], OgcError> {
    let v: Vec<f64> = s.split(',').map(number).collect::<Result<_, _>>()?;
    let [w, s_, e, n] = match v.as_slice() {
        [w, s, e, n] => [*w, *s, *e, *n],
        [w, s, _, e, n, _] => [*w, *s, *e, *n],
        _ => return Err(bad("bbox needs four numbers: west,south,east,north")),
    };
    if s_ > n {
        return Err(bad("bbox: south is greater than north"));
    }
    if !(-90.0..=90.0).contains(&s_) || !(-90.0..=90.0).contains(&n) {
        return Err(bad("bbox: latitudes must lie in -90..90"));
    }
    Ok([w, s_, e, n])
}

/// `POINT(x y)` (also `POINT Z(x y z)`, whose height is ignored).
fn parse_point(s: &str) -> Result<(f64, f64), OgcError> {
    let u = s.trim().to_ascii_uppercase();
    let inner = u
        .strip_prefix("POINT")
        .map(|r| r.trim_start().trim_start_matches('Z').trim())
        .and_then(|r| r.strip_prefix('('))
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| bad(format!("coords {s:?} is not POINT(x y)")))?;
    let nums: Vec<f64> = inner
        .split_whitespace()
        .map(number)
        .collect::<Result<_, _>>()?;
    match nums.as_slice() {
        [x, y] | [x, y, _] if (-90.0..=90.0).contains(y) => Ok((*x, *y)),
        [_, _] | [_, _, _] => Err(bad("POINT: the latitude must lie in -90..90")),
        _ => Err(bad(format!("coords {s:?} is not POINT(x y)"))),
    }
}

/// `POLYGON((x y, x y, ...))`: the outer ring (holes are not supported).
fn parse_polygon(s: &str) -> Result<Vec<(f64, f64)>, OgcError> {
    let u = s.trim().to_ascii_uppercase();
    let inner = u
        .strip_prefix("POLYGON")
        .map(str::trim)
        .and_then(|r| r.strip_prefix("(("))
        .and_then(|r| r.strip_suffix("))"))
        .ok_or_else(|| bad(format!("coords {s:?} is not POLYGON((x y, ...))")))?;
    if inner.contains('(') || inner.contains(')') {
        return Err(bad("POLYGON with holes or several rings is not supported"));
    }
    let mut ring = Vec::new();
    for pair in inner.split(',') {
        let nums: Vec<f64> = pair
            .split_whitespace()
            .map(number)
            .collect::<Result<_, _>>()?;
        match nums.as_slice() {
            [x, y] | [x, y, _] => ring.push((*x, *y)),
            _ => return Err(bad(format!("POLYGON: {pair:?} is not 'x y'"))),
        }
    }
    if ring.len() < 4 || ring.first() != ring.last() {
        return Err(bad(
            "POLYGON needs a closed ring of at least four points (the last repeats the first)",
        ));
    }
    Ok(ring)
}

/// Even-odd rule; points on an edge may fall either way.
fn point_in_ring(x: f64, y: f64, ring: &[(f64, f64)]) -> bool {
    let mut inside = false;
    for w in ring.windows(2) {
        let ((x1, y1), (x2, y2)) = (w[0], w[1]);
        if (y1 > y) != (y2 > y) && x < (x2 - x1) * (y - y1) / (y2 - y1) + x1 {
            inside = !inside;
        }
    }
    inside
}

fn runs_to_indices(runs: &[(usize, usize)]) -> Vec<usize> {
    runs.iter().flat_map(|&(a, b)| a..=b).collect()
}

fn range_indices(values: &[f64], lo: f64, hi: f64) -> Vec<usize> {
    cf::index_range(values, lo, hi).map_or_else(Vec::new, |(a, b)| (a..=b).collect())
}

/// Whether `v` lies within the axis' extent, widened by half a cell plus `slack`.
fn within(axis: &GridAxis, v: f64, slack: f64) -> bool {
    let Some((lo, hi)) = axis.min_max() else {
        return false;
    };
    let half = if axis.values.len() > 1 {
        (hi - lo) / (axis.values.len() - 1) as f64 / 2.0
    } else {
        0.0
    };
    v >= lo - half - slack && v <= hi + half + slack
}

/// Whether longitude `x` (any convention) falls within the longitude axis' extent (half a cell
/// around it).
fn covers_longitude(axis: &GridAxis, x: f64) -> bool {
    let Some((lo, hi)) = axis.min_max() else {
        return false;
    };
    let half = if axis.values.len() > 1 {
        (hi - lo) / (axis.values.len() - 1) as f64 / 2.0
    } else {
        0.0
    };
    if hi - lo + 2.0 * half >= 360.0 {
        return true;
    }
    (x - (lo - half)).rem_euclid(360.0) <= hi - lo + 2.0 * half
}

/// `datetime`: an instant (nearest time), or `start/end` with `..` for an open end.
fn time_selection(axis: &GridAxis, dt: &str) -> Result<Vec<usize>, OgcError> {
    let units = axis
        .time
        .as_ref()
        .ok_or_else(|| bad("the time axis has no CF time units"))?;
    let value = |s: &str| -> Result<f64, OgcError> {
        let d = DateTime::parse(s).map_err(|e| bad(e.to_string()))?;
        units.to_value(&d).map_err(|e| bad(e.to_string()))
    };
    let out = match dt.split_once('/') {
        Some((a, b)) => {
            let lo = if a.trim() == ".." || a.trim().is_empty() {
                f64::NEG_INFINITY
            } else {
                value(a)?
            };
            let hi = if b.trim() == ".." || b.trim().is_empty() {
                f64::INFINITY
            } else {
                value(b)?
            };
            if lo > hi {
                return Err(bad("datetime: the interval's start is after its end"));
            }
            range_indices(&axis.values, lo, hi)
        }
        None => {
            let v = value(dt)?;
            if !within(axis, v, 0.0) {
                Vec::new()
            } else {
                cf::nearest_index(&axis.values, v).into_iter().collect()
            }
        }
    };
    if out.is_empty() {
        let (a, b) = (
            axis.datetime(0).unwrap_or_default(),
            axis.datetime(axis.values.len().saturating_sub(1))
                .unwrap_or_default(),
        );
        return Err(no_data(format!(
            "datetime {dt} holds no time of this collection (its times run from {a} to {b})"
        )));
    }
    Ok(out)
}

/// `z`: one level (nearest), `low/high`, or a list `a,b,c`.
fn z_selection(axis: &GridAxis, z: &str) -> Result<Vec<usize>, OgcError> {
    let out: Vec<usize> = if let Some((a, b)) = z.split_once('/') {
        range_indices(&axis.values, number(a)?, number(b)?)
    } else {
        let mut v = Vec::new();
        for level in z.split(',') {
            let target = number(level)?;
            if within(axis, target, 0.0)
                && let Some(i) = cf::nearest_index(&axis.values, target)
                && !v.contains(&i)
            {
                v.push(i);
            }
        }
        v
    };
    if out.is_empty() {
        let (lo, hi) = axis.min_max().unwrap_or((f64::NAN, f64::NAN));
        return Err(no_data(format!(
            "z {z} holds no level of this collection (its levels run from {lo} to {hi})"
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netcdf_spellings_and_regular_slabs() {
        for f in ["netCDF", "NetCDF", "nc", "application/x-netcdf"] {
            assert_eq!(output_format(Some(f)), Ok(OutputFormat::NetCdf));
        }
        assert_eq!(output_format(None), Ok(OutputFormat::CoverageJson));
        assert!(output_format(Some("GRIB")).is_err());
        let r = |start, count, stride| Range {
            start,
            count,
            stride,
        };
        assert_eq!(regular_range(&[3, 4, 5]), Some(r(3, 3, 1)));
        assert_eq!(regular_range(&[7]), Some(r(7, 1, 1)));
        assert_eq!(regular_range(&[0, 2, 4]), Some(r(0, 3, 2)));
        assert_eq!(regular_range(&[10, 11, 0, 1]), None); // across the seam
        assert_eq!(regular_range(&[0, 1, 3]), None);
        assert_eq!(regular_range(&[2, 1]), None);
        assert_eq!(regular_range(&[]), None);
    }

    #[test]
    fn wkt_and_bbox_parse_or_say_why_not() {
        assert_eq!(parse_point("POINT(10 20)"), Ok((10.0, 20.0)));
        assert_eq!(parse_point("point( -10.5  20 )"), Ok((-10.5, 20.0)));
        assert!(parse_point("POINT(10)").is_err());
        assert!(parse_point("POINT(10 95)").is_err());
        assert!(parse_point("LINESTRING(1 2, 3 4)").is_err());
        assert_eq!(
            parse_polygon("POLYGON((0 0, 10 0, 10 10, 0 0))").map(|r| r.len()),
            Ok(4)
        );
        assert!(parse_polygon("POLYGON((0 0, 10 0, 10 10))").is_err());
        assert!(parse_polygon("POLYGON((0 0,1 0,1 1,0 0),(0 0,1 0,1 1,0 0))").is_err());
        assert_eq!(parse_bbox("-10,-5,10,5"), Ok([-10.0, -5.0, 10.0, 5.0]));
        assert!(parse_bbox("1,2,3").is_err());
        assert!(parse_bbox("0,10,1,5").is_err());
        assert!(parse_bbox("0,a,1,5").is_err());
        assert!(parse_bbox("0,NaN,1,5").is_err());
    }

    #[test]
    fn polygon_holds_the_centres_inside_it() {
        let ring = [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0), (0.0, 0.0)];
        assert!(point_in_ring(2.0, 2.0, &ring));
        assert!(!point_in_ring(8.0, 8.0, &ring));
        assert!(!point_in_ring(-1.0, 1.0, &ring));
    }

    #[test]
    fn query_strings_decode() {
        assert_eq!(
            parse_query_string(Some("coords=POINT(1%202)&parameter-name=a,b&f")),
            vec![
                ("coords".to_owned(), "POINT(1 2)".to_owned()),
                ("parameter-name".to_owned(), "a,b".to_owned()),
                ("f".to_owned(), String::new()),
            ]
        );
        assert_eq!(
            parse_query_string(Some("datetime=2020-01-01T00:00:00%2B00:00"))[0].1,
            "2020-01-01T00:00:00+00:00"
        );
    }
}

#[cfg(test)]
mod plan_tests {
    use std::collections::BTreeMap;

    use cdm::{
        AttrValue, Attribute, DataType, Dataset, Dimension, Format, Group, Storage, VarDim,
        Variable,
    };

    use super::*;

    fn dim(name: &str, len: usize) -> Dimension {
        Dimension {
            name: name.into(),
            path: format!("/{name}"),
            len,
            unlimited: false,
        }
    }

    fn var(name: &str, dims: &[&Dimension], attrs: &[(&str, &str)]) -> Variable {
        Variable {
            name: name.into(),
            path: format!("/{name}"),
            dtype: DataType::Float32,
            dims: dims.iter().map(|d| VarDim::shared(d)).collect(),
            attributes: attrs
                .iter()
                .map(|(k, v)| Attribute::new(*k, AttrValue::Char(v.as_bytes().to_vec())))
                .collect(),
            storage: Storage::default(),
        }
    }

    /// lat 60..-60 (descending), lon 0..330 by 30, time in days, sst(time, lat, lon).
    fn grid() -> Grid {
        let (t, y, x) = (dim("time", 3), dim("lat", 5), dim("lon", 12));
        let ds = Dataset {
            name: "g.nc".into(),
            format: Format::NetCdf4,
            root: Group {
                path: "/".into(),
                dimensions: vec![t.clone(), y.clone(), x.clone()],
                variables: vec![
                    var(
                        "time",
                        &[&t],
                        &[("units", "days since 2000-01-01"), ("calendar", "360_day")],
                    ),
                    var("lat", &[&y], &[("units", "degrees_north")]),
                    var("lon", &[&x], &[("standard_name", "longitude")]),
                    var("sst", &[&t, &y, &x], &[("units", "K")]),
                ],
                ..Group::default()
            },
        };
        let mut coords = BTreeMap::new();
        coords.insert("/time".to_owned(), vec![0.0, 30.0, 60.0]);
        coords.insert("/lat".to_owned(), vec![60.0, 30.0, 0.0, -30.0, -60.0]);
        coords.insert(
            "/lon".to_owned(),
            (0..12).map(|i| f64::from(i) * 30.0).collect(),
        );
        Grid::new(&ds, "/g.nc", &coords).expect("a grid")
    }

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn cube_across_the_seam_on_a_descending_grid() {
        let g = grid();
        assert_eq!(
            g.axes.iter().map(|a| a.axis).collect::<Vec<_>>(),
            [Axis::T, Axis::Y, Axis::X]
        );
        assert_eq!(g.bbox(), Some([-180.0, -60.0, 180.0, 60.0]));
        assert_eq!(
            g.time_interval(),
            Some(("2000-01-01T00:00:00Z".into(), "2000-03-01T00:00:00Z".into()))
        );
        let p = plan(
            &g,
            QueryKind::Cube,
            &q(&[
                ("bbox", "-40,-35,35,35"),
                ("datetime", "2000-02-01T00:00:00Z/.."),
            ]),
            0,
        )
        .expect("plan");
        assert_eq!(p.picks, vec![vec![1, 2], vec![1, 2, 3], vec![11, 0, 1]]);
        let slab = p.read_slab(&g, 0).expect("slab");
        assert_eq!(slab.counts(), vec![2, 3, 12]);
        // The same box over all times is 27 values, over a limit of 10.
        let big = plan(&g, QueryKind::Cube, &q(&[("bbox", "-40,-35,35,35")]), 10);
        assert!(matches!(big, Err(OgcError::TooLarge(m)) if m.contains("27")));
    }

    #[test]
    fn queries_outside_the_collection_are_no_data_and_malformed_ones_bad() {
        let g = grid();
        let run = |kind, pairs: &[(&str, &str)]| plan(&g, kind, &q(pairs), 0);
        let no_data = |r: Result<Plan, OgcError>| matches!(r, Err(OgcError::NoData(_)));
        assert!(no_data(run(QueryKind::Cube, &[("bbox", "10,70,20,80")])));
        assert!(no_data(run(
            QueryKind::Position,
            &[("coords", "POINT(0 80)")]
        )));
        assert!(no_data(run(
            QueryKind::Area,
            &[("coords", "POLYGON((1 1, 2 1, 2 2, 1 1))")]
        )));
        assert!(no_data(run(
            QueryKind::Cube,
            &[("bbox", "0,0,10,10"), ("datetime", "1990-01-01/1991-01-01")]
        )));
        assert!(no_data(run(
            QueryKind::Cube,
            &[("bbox", "0,0,10,10"), ("datetime", "2001-01-01")]
        )));
        // Malformed or impossible values stay 400.
        let bad = |r: Result<Plan, OgcError>| matches!(r, Err(OgcError::BadRequest(_)));
        assert!(bad(run(QueryKind::Cube, &[("bbox", "0,95,10,96")])));
        assert!(bad(run(QueryKind::Position, &[("coords", "POINT(0 91)")])));
        assert!(bad(run(
            QueryKind::Cube,
            &[("bbox", "0,0,10,10"), ("datetime", "2000-01-40")]
        )));
        assert!(bad(run(
            QueryKind::Cube,
            &[("bbox", "0,0,10,10"), ("z", "1")]
        )));
    }

    #[test]
    fn position_takes_the_nearest_cell_in_either_longitude_convention() {
        let g = grid();
        let p = plan(
            &g,
            QueryKind::Position,
            &q(&[("coords", "POINT(-20 40)")]),
            0,
        )
        .expect("plan");
        assert_eq!(p.picks, vec![vec![0, 1, 2], vec![1], vec![11]]);
        let p = plan(
            &g,
            QueryKind::Position,
            &q(&[("coords", "POINT(340 40)"), ("datetime", "2000-01-29")]),
            0,
        )
        .expect("plan");
        assert_eq!(p.picks, vec![vec![1], vec![1], vec![11]]);
        // 2000-02-30 exists in the 360_day calendar.
        assert!(
            plan(
                &g,
                QueryKind::Position,
                &q(&[("coords", "POINT(0 0)"), ("datetime", "2000-02-30")]),
                0
            )
            .is_ok()
        );
        assert!(
            plan(
                &g,
                QueryKind::Position,
                &q(&[("coords", "POINT(0 0)"), ("z", "10")]),
                0
            )
            .is_err()
        );
    }
}
