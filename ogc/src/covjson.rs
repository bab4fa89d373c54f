//! CoverageJSON (OGC 21-069r2) for a planned EDR query: a `Coverage` whose domain is a `Grid`
//! (or `Point`, `PointSeries`, `VerticalProfile` for a single position), its parameters, and
//! its ranges as `NdArray`s with `null` for fill values and NaN.
//!
//! A curvilinear grid's cells have no 1-D `x` and `y` axes, which a `Grid` domain needs, so a
//! `cube` or `area` on one is a `MultiPoint` (one time) or `MultiPointSeries` domain: a
//! `composite` axis of the selected cells' (x, y) — or (x, y, z), one per cell and level —
//! tuples, the only CoverageJSON 1.0 domain types that list positions one by one.
//!
//! Numbers are printed exactly: a `float` as the shortest text that reads back to the same
//! 32-bit float (serde_json's `f32` path), a `double` likewise for 64 bits, integers as
//! integers.

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{Value, json};

use cdm::DataType;
use cdm::cf::{Axis, Calendar};

use crate::OgcError;
use crate::grid::{Grid, GridAxis, Parameter};
use crate::query::{Plan, QueryKind, window};

/// The media type of CoverageJSON.
pub const MEDIA_TYPE: &str = "application/prs.coverage+json";

/// CRS84: longitude, latitude in degrees on WGS 84.
pub const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";

/// A flat array of numbers (or strings), each printed exactly; `None` is `null`.
#[derive(Debug, Clone, PartialEq)]
enum Values {
    F32(Vec<Option<f32>>),
    F64(Vec<Option<f64>>),
    I64(Vec<Option<i64>>),
    U64(Vec<Option<u64>>),
    Text(Vec<String>),
    Tuples(Vec<Vec<f64>>),
}

impl Values {
    fn data_type(&self) -> &'static str {
        match self {
            Self::F32(_) | Self::F64(_) => "float",
            Self::I64(_) | Self::U64(_) => "integer",
            Self::Text(_) => "string",
            Self::Tuples(_) => "tuple",
        }
    }

    /// The values at the positions where `keep` is true (`keep[k % keep.len()]` for the
    /// `k`-th value: the same mask for every block).
    fn keep_cycled(self, keep: &[bool]) -> Self {
        fn filter<T>(v: Vec<T>, keep: &[bool]) -> Vec<T> {
            if keep.is_empty() {
                return v;
            }
            v.into_iter()
                .enumerate()
                .filter(|(k, _)| keep[k % keep.len()])
                .map(|(_, x)| x)
                .collect()
        }
        match self {
            Self::F32(v) => Self::F32(filter(v, keep)),
            Self::F64(v) => Self::F64(filter(v, keep)),
            Self::I64(v) => Self::I64(filter(v, keep)),
            Self::U64(v) => Self::U64(filter(v, keep)),
            Self::Text(v) => Self::Text(filter(v, keep)),
            Self::Tuples(v) => Self::Tuples(filter(v, keep)),
        }
    }
}

impl Serialize for Values {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        fn seq<S: Serializer, T: Serialize>(s: S, v: &[T]) -> Result<S::Ok, S::Error> {
            let mut q = s.serialize_seq(Some(v.len()))?;
            for x in v {
                q.serialize_element(x)?;
            }
            q.end()
        }
        match self {
            Self::F32(v) => seq(s, v),
            Self::F64(v) => seq(s, v),
            Self::I64(v) => seq(s, v),
            Self::U64(v) => seq(s, v),
            Self::Text(v) => seq(s, v),
            Self::Tuples(v) => seq(s, v),
        }
    }
}

/// A map serialised in the order of its entries.
#[derive(Debug)]
struct Ordered<T>(Vec<(String, T)>);

impl<T: Serialize> Serialize for Ordered<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AxisValues {
    /// `tuple` for a composite axis.
    #[serde(skip_serializing_if = "Option::is_none")]
    data_type: Option<&'static str>,
    /// A composite axis' coordinate names.
    #[serde(skip_serializing_if = "Option::is_none")]
    coordinates: Option<Vec<&'static str>>,
    values: Values,
}

impl AxisValues {
    fn plain(values: Values) -> Self {
        Self {
            data_type: None,
            coordinates: None,
            values,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Domain {
    #[serde(rename = "type")]
    kind: &'static str,
    domain_type: &'static str,
    axes: Ordered<AxisValues>,
    referencing: Vec<Value>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct NdArray {
    #[serde(rename = "type")]
    kind: &'static str,
    data_type: &'static str,
    axis_names: Vec<&'static str>,
    shape: Vec<usize>,
    values: Values,
}

#[derive(Debug, Serialize)]
struct Coverage {
    #[serde(rename = "type")]
    kind: &'static str,
    domain: Domain,
    parameters: Ordered<Value>,
    ranges: Ordered<NdArray>,
}

fn axis_key(a: Axis) -> &'static str {
    match a {
        Axis::X => "x",
        Axis::Y => "y",
        Axis::Z => "z",
        Axis::T => "t",
    }
}

/// The calendar as CoverageJSON names it: `Gregorian`, or a URI for CF's other calendars.
fn calendar_name(c: Calendar) -> String {
    match c {
        Calendar::Standard | Calendar::ProlepticGregorian => "Gregorian".to_owned(),
        other => {
            format!("https://cfconventions.org/cf-conventions/cf-conventions.html#calendar_{other}")
        }
    }
}

/// The CoverageJSON `Parameter` object of a grid parameter (also used in collection metadata).
#[must_use]
pub fn parameter_object(p: &Parameter) -> Value {
    let label = p
        .long_name
        .clone()
        .or_else(|| p.standard_name.clone())
        .unwrap_or_else(|| p.name.clone());
    let mut observed =
        json!({ "label": { "en": p.standard_name.clone().unwrap_or_else(|| label.clone()) } });
    if let Some(sn) = &p.standard_name {
        observed["id"] = json!(format!("https://vocab.nerc.ac.uk/standard_name/{sn}/"));
    }
    let mut o = json!({
        "type": "Parameter",
        "id": p.name,
        "description": { "en": label },
        "observedProperty": observed,
    });
    if let Some(u) = &p.units {
        o["unit"] = json!({ "symbol": u, "label": { "en": u } });
    }
    o
}

/// The values of axis `a` at `picks`, shown from `west` for longitudes, typed like the
/// coordinate variable (a `float` axis prints as `float`).
#[allow(clippy::cast_possible_truncation)]
fn axis_values(a: &GridAxis, picks: &[usize], west: Option<f64>) -> Values {
    if a.axis == Axis::T {
        return Values::Text(
            picks
                .iter()
                .map(|&i| a.datetime(i).unwrap_or_default())
                .collect(),
        );
    }
    let v = picks.iter().map(|&i| {
        let v = a.values[i];
        match (a.axis, west) {
            (Axis::X, Some(w)) => cdm::cf::longitude_from(v, w),
            _ => v,
        }
    });
    match a.dtype {
        DataType::Float32 => Values::F32(v.map(|x| Some(x as f32)).collect()),
        _ => Values::F64(v.map(Some).collect()),
    }
}

fn referencing(grid: &Grid) -> Vec<Value> {
    let mut r = vec![json!({
        "coordinates": ["x", "y"],
        "system": { "type": "GeographicCRS", "id": CRS84 }
    })];
    if let Some(z) = grid.axis(Axis::Z) {
        let direction = if z
            .positive
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case("down"))
        {
            "down"
        } else {
            "up"
        };
        let mut axis = json!({ "name": { "en": z.name }, "direction": direction });
        if let Some(u) = &z.units {
            axis["unit"] = json!({ "symbol": u });
        }
        r.push(json!({
            "coordinates": ["z"],
            "system": { "type": "VerticalCRS", "cs": { "csAxes": [axis] } }
        }));
    }
    if let Some(t) = grid.axis(Axis::T).and_then(|t| t.time.as_ref()) {
        r.push(json!({
            "coordinates": ["t"],
            "system": { "type": "TemporalRS", "calendar": calendar_name(t.calendar()) }
        }));
    }
    r
}

/// Decodes one raw value of `dtype` at element `i` of `bytes`.
fn raw(bytes: &[u8], i: usize, size: usize) -> Option<[u8; 8]> {
    let b = bytes.get(i * size..(i + 1) * size)?;
    let mut out = [0u8; 8];
    out[..size].copy_from_slice(b);
    Some(out)
}

#[allow(clippy::cast_precision_loss)]
fn as_f64(dtype: &DataType, b: &[u8; 8]) -> f64 {
    match dtype {
        DataType::Float32 => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        DataType::Float64 => f64::from_le_bytes(*b),
        DataType::UInt64 => u64::from_le_bytes(*b) as f64,
        other => cdm::encoding::integer_value(other, b, true) as f64,
    }
}

/// The selected values of parameter `p`, read as the canonically encoded `bytes` of
/// [`Plan::read_slab`], in the grid's axis order.
#[allow(clippy::cast_possible_truncation)]
fn gather(grid: &Grid, plan: &Plan, p: &Parameter, bytes: &[u8]) -> Result<Values, OgcError> {
    let size = p
        .dtype
        .fixed_size()
        .filter(|_| p.dtype.is_numeric())
        .ok_or_else(|| OgcError::BadRequest(format!("{} is not numeric", p.name)))?;
    // Per grid axis: the lowest index read and the stride of that axis in the read slab.
    let mut lo = vec![0usize; grid.axes.len()];
    let mut stride = vec![0usize; grid.axes.len()];
    let mut counts = Vec::with_capacity(p.dim_axes.len());
    let mut axis_of_dim = Vec::with_capacity(p.dim_axes.len());
    for axis in &p.dim_axes {
        let a = grid
            .axis_index(*axis)
            .ok_or_else(|| OgcError::BadRequest("axis not in grid".into()))?;
        let w = window(&plan.picks[a]);
        lo[a] = w.start;
        counts.push(w.count.max(1));
        axis_of_dim.push(a);
    }
    let mut s = 1usize;
    for (d, &a) in axis_of_dim.iter().enumerate().rev() {
        stride[a] = s;
        s *= counts[d];
    }
    if bytes.len() != s * size {
        return Err(OgcError::BadRequest(format!(
            "read {} bytes of {}, expected {}",
            bytes.len(),
            p.name,
            s * size
        )));
    }
    let n = plan.values_per_parameter();
    let (xi, yi) = (
        grid.axes.iter().position(|a| a.axis == Axis::X),
        grid.axes.iter().position(|a| a.axis == Axis::Y),
    );
    let nx = xi.map_or(1, |x| plan.picks[x].len());
    let mut offsets = Vec::with_capacity(n);
    let mut masked = Vec::with_capacity(n);
    let mut pos = vec![0usize; grid.axes.len()];
    for _ in 0..n {
        let mut off = 0;
        for (a, &k) in pos.iter().enumerate() {
            off += (plan.picks[a][k] - lo[a]) * stride[a];
        }
        offsets.push(off);
        let out = match (&plan.inside, xi, yi) {
            (Some(mask), Some(x), Some(y)) => {
                !mask.get(pos[y] * nx + pos[x]).copied().unwrap_or(false)
            }
            _ => false,
        };
        masked.push(out);
        // Odometer over the picks, last axis fastest.
        for a in (0..pos.len()).rev() {
            pos[a] += 1;
            if pos[a] < plan.picks[a].len() {
                break;
            }
            pos[a] = 0;
        }
    }
    let missing = |v: f64| v.is_nan() || p.missing.contains(&v);
    let elements = offsets.iter().zip(&masked).map(|(&o, &m)| {
        let b = raw(bytes, o, size).filter(|_| !m)?;
        Some(b).filter(|b| !missing(as_f64(&p.dtype, b)))
    });
    Ok(if p.is_packed() && p.packed_f32 {
        // Unpacked in single precision, one rounding per step, like xarray and netCDF4.
        let (scale, offset) = (p.scale.map(|s| s as f32), p.offset.map(|o| o as f32));
        Values::F32(
            elements
                .map(|e| {
                    e.map(|b| {
                        let mut v = as_f64(&p.dtype, &b) as f32;
                        if let Some(s) = scale {
                            v *= s;
                        }
                        if let Some(o) = offset {
                            v += o;
                        }
                        v
                    })
                })
                .collect(),
        )
    } else if p.is_packed() {
        let (scale, offset) = (p.scale.unwrap_or(1.0), p.offset.unwrap_or(0.0));
        Values::F64(
            elements
                .map(|e| e.map(|b| as_f64(&p.dtype, &b) * scale + offset))
                .collect(),
        )
    } else {
        match &p.dtype {
            DataType::Float32 => Values::F32(
                elements
                    .map(|e| e.map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                    .collect(),
            ),
            DataType::Float64 => Values::F64(elements.map(|e| e.map(f64::from_le_bytes)).collect()),
            DataType::UInt64 => Values::U64(elements.map(|e| e.map(u64::from_le_bytes)).collect()),
            other => Values::I64(
                elements
                    .map(|e| e.map(|b| cdm::encoding::integer_value(other, &b, true) as i64))
                    .collect(),
            ),
        }
    })
}

/// The domain type that fits a plan: a single position is a `Point`, `PointSeries` or
/// `VerticalProfile`; everything else a `Grid`.
fn domain_type(grid: &Grid, plan: &Plan) -> &'static str {
    if plan.kind != QueryKind::Position {
        return "Grid";
    }
    let many = |axis: Axis| {
        grid.axes
            .iter()
            .position(|a| a.axis == axis)
            .is_some_and(|i| plan.picks[i].len() > 1)
    };
    match (many(Axis::Z), many(Axis::T)) {
        (false, false) => "Point",
        (false, true) => "PointSeries",
        (true, false) => "VerticalProfile",
        (true, true) => "Grid",
    }
}

/// The CoverageJSON document of `plan` on `grid`; `values[i]` holds the bytes read for
/// `plan.parameters[i]` with [`Plan::read_slab`].
///
/// # Errors
/// When the values do not match the plan.
pub fn coverage(grid: &Grid, plan: &Plan, values: &[Vec<u8>]) -> Result<Vec<u8>, OgcError> {
    if grid.curvilinear.is_some() && plan.kind != QueryKind::Position {
        return multipoint_coverage(grid, plan, values);
    }
    let domain_type = domain_type(grid, plan);
    // A position on a curvilinear grid: the cell's own longitude and latitude.
    let cell = grid.curvilinear.as_ref().and_then(|c| {
        let pick = |axis: Axis| {
            let a = grid.axes.iter().position(|g| g.axis == axis)?;
            plan.picks[a].first().copied()
        };
        c.position(pick(Axis::Y)?, pick(Axis::X)?)
    });
    let axes = Ordered(
        grid.axes
            .iter()
            .zip(&plan.picks)
            .map(|(a, picks)| {
                let values = match (a.axis, cell) {
                    (Axis::X, Some((x, _))) => Values::F64(vec![Some(x)]),
                    (Axis::Y, Some((_, y))) => Values::F64(vec![Some(y)]),
                    _ => axis_values(a, picks, plan.west),
                };
                (axis_key(a.axis).to_owned(), AxisValues::plain(values))
            })
            .collect(),
    );
    // Point-like domains name only the axes with more than one value in their ranges.
    let named: Vec<(Axis, usize)> = grid
        .axes
        .iter()
        .zip(&plan.picks)
        .map(|(a, p)| (a.axis, p.len()))
        .filter(|(_, n)| domain_type == "Grid" || *n > 1)
        .collect();
    let domain = Domain {
        kind: "Domain",
        domain_type,
        axes,
        referencing: referencing(grid),
    };
    let layout = Layout {
        axis_names: named.iter().map(|(a, _)| axis_key(*a)).collect(),
        shape: named.iter().map(|(_, n)| *n).collect(),
    };
    document(grid, plan, values, domain, &layout, |v| v)
}

/// How every range of a coverage is laid out.
struct Layout {
    /// The axes a range runs along, slowest first.
    axis_names: Vec<&'static str>,
    /// The number of values along each.
    shape: Vec<usize>,
}

/// The coverage of `domain` with one range per planned parameter, made of `values[i]` (the
/// bytes read for `plan.parameters[i]`) gathered and passed through `keep`.
fn document(
    grid: &Grid,
    plan: &Plan,
    values: &[Vec<u8>],
    domain: Domain,
    layout: &Layout,
    keep: impl Fn(Values) -> Values,
) -> Result<Vec<u8>, OgcError> {
    let mut params = Vec::new();
    let mut ranges = Vec::new();
    for (k, &pi) in plan.parameters.iter().enumerate() {
        let p = grid
            .parameters
            .get(pi)
            .ok_or_else(|| OgcError::NotFound("no such parameter".into()))?;
        let bytes = values
            .get(k)
            .ok_or_else(|| OgcError::BadRequest("missing values".into()))?;
        let v = keep(gather(grid, plan, p, bytes)?);
        params.push((p.name.clone(), parameter_object(p)));
        ranges.push((
            p.name.clone(),
            NdArray {
                kind: "NdArray",
                data_type: v.data_type(),
                axis_names: layout.axis_names.clone(),
                shape: layout.shape.clone(),
                values: v,
            },
        ));
    }
    let doc = Coverage {
        kind: "Coverage",
        domain,
        parameters: Ordered(params),
        ranges: Ordered(ranges),
    };
    serde_json::to_vec(&doc).map_err(|e| OgcError::BadRequest(e.to_string()))
}

/// A `cube` or `area` on a curvilinear grid: a `MultiPoint` / `MultiPointSeries` of the
/// selected cells (see the module's notes).
fn multipoint_coverage(grid: &Grid, plan: &Plan, values: &[Vec<u8>]) -> Result<Vec<u8>, OgcError> {
    let c = grid
        .curvilinear
        .as_ref()
        .ok_or_else(|| OgcError::BadRequest("not a curvilinear grid".into()))?;
    let index = |axis: Axis| grid.axes.iter().position(|a| a.axis == axis);
    let (yi, xi) = index(Axis::Y)
        .zip(index(Axis::X))
        .ok_or_else(|| OgcError::BadRequest("the grid has no horizontal axes".into()))?;
    let (rows, columns) = (&plan.picks[yi], &plan.picks[xi]);
    let mask = plan
        .inside
        .clone()
        .unwrap_or_else(|| vec![true; rows.len() * columns.len()]);
    let mut cells = Vec::new();
    for (wy, &j) in rows.iter().enumerate() {
        for (wx, &i) in columns.iter().enumerate() {
            if mask.get(wy * columns.len() + wx).copied().unwrap_or(false) {
                let (x, y) = c.position(j, i).unwrap_or((f64::NAN, f64::NAN));
                let x = plan.west.map_or(x, |w| cdm::cf::longitude_from(x, w));
                cells.push((x, y));
            }
        }
    }
    let levels: Option<Vec<f64>> = index(Axis::Z).map(|zi| {
        plan.picks[zi]
            .iter()
            .map(|&k| grid.axes[zi].values[k])
            .collect()
    });
    let (coordinates, composite): (Vec<&'static str>, Vec<Vec<f64>>) = match &levels {
        Some(zs) => (
            vec!["x", "y", "z"],
            zs.iter()
                .flat_map(|z| cells.iter().map(move |(x, y)| vec![*x, *y, *z]))
                .collect(),
        ),
        None => (
            vec!["x", "y"],
            cells.iter().map(|(x, y)| vec![*x, *y]).collect(),
        ),
    };
    let n_composite = composite.len();
    let mut axes = vec![(
        "composite".to_owned(),
        AxisValues {
            data_type: Some("tuple"),
            coordinates: Some(coordinates),
            values: Values::Tuples(composite),
        },
    )];
    let times = index(Axis::T).map(|ti| (ti, plan.picks[ti].len()));
    if let Some((ti, _)) = times {
        axes.push((
            "t".to_owned(),
            AxisValues::plain(axis_values(&grid.axes[ti], &plan.picks[ti], None)),
        ));
    }
    let series = times.is_some_and(|(_, n)| n > 1);
    let (domain_type, axis_names, shape) = match times {
        Some((_, nt)) if series => (
            "MultiPointSeries",
            vec!["t", "composite"],
            vec![nt, n_composite],
        ),
        _ => ("MultiPoint", vec!["composite"], vec![n_composite]),
    };
    let domain = Domain {
        kind: "Domain",
        domain_type,
        axes: Ordered(axes),
        referencing: referencing(grid),
    };
    let layout = Layout { axis_names, shape };
    document(grid, plan, values, domain, &layout, |v| {
        v.keep_cycled(&mask)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_the_shortest_exact_text() {
        let v = Values::F32(vec![
            Some(0.1),
            Some(1.0e-7),
            None,
            Some(f32::MAX),
            Some(-2.5),
        ]);
        let s = serde_json::to_string(&v).expect("json");
        assert_eq!(s, "[0.1,1e-7,null,3.4028235e+38,-2.5]");
        let back: Vec<Option<f32>> = serde_json::from_str(&s).expect("parse");
        assert_eq!(back[3], Some(f32::MAX));
        let d = Values::F64(vec![Some(0.1), Some(1.0 / 3.0)]);
        assert_eq!(
            serde_json::to_string(&d).expect("json"),
            "[0.1,0.3333333333333333]"
        );
        let i = Values::U64(vec![Some(u64::MAX), None]);
        assert_eq!(
            serde_json::to_string(&i).expect("json"),
            "[18446744073709551615,null]"
        );
    }
}
