//! CF conventions on the model: which variables are the longitude, latitude, vertical and time
//! coordinates of a data variable, CF time units and calendars to and from dates, and the index
//! arithmetic that turns coordinate values into hyperslabs (nearest cell, a box on ascending or
//! descending axes, longitudes in 0–360 or −180–180).
//!
//! Everything here is pure: coordinate values are handed in as `f64` slices (decode them with
//! [`numbers`]); nothing reads a file.

use std::fmt;

use crate::encoding;
use crate::model::{AttrValue, DataType, Dataset, Variable};

/// What a CF helper could not make sense of.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CfError {
    /// Time units that are not `<unit> since <date>` with a unit of fixed length.
    #[error("time units {0:?} are not '<seconds|minutes|hours|days> since <date>'")]
    TimeUnits(String),
    /// A calendar CF does not define.
    #[error("unknown calendar {0:?}")]
    Calendar(String),
    /// A date or date-time that is not ISO 8601.
    #[error("{0:?} is not an ISO 8601 date-time (YYYY-MM-DDThh:mm:ssZ)")]
    DateTime(String),
    /// A date that does not exist in the calendar (30 February, 29 February of `noleap`).
    #[error("{0} does not exist in the {1} calendar")]
    NoSuchDate(String, Calendar),
    /// Bytes that are not whole numeric elements.
    #[error("cannot read {0} values as numbers")]
    NotNumeric(String),
}

/// One of the four CF coordinate axes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Axis {
    /// Longitude (or projected x).
    X,
    /// Latitude (or projected y).
    Y,
    /// Height, depth, pressure, model level.
    Z,
    /// Time.
    T,
}

impl Axis {
    /// The axis letter CF's `axis` attribute uses.
    #[must_use]
    pub fn letter(self) -> &'static str {
        match self {
            Self::X => "X",
            Self::Y => "Y",
            Self::Z => "Z",
            Self::T => "T",
        }
    }
}

fn text_attr(var: &Variable, name: &str) -> Option<String> {
    var.attribute(name)
        .and_then(|a| a.value.as_text())
        .map(|t| t.trim().to_owned())
}

/// The `units` attribute of a variable, if it has one as text.
#[must_use]
pub fn units(var: &Variable) -> Option<String> {
    text_attr(var, "units")
}

const LAT_UNITS: &[&str] = &[
    "degrees_north",
    "degree_north",
    "degree_n",
    "degrees_n",
    "degreen",
    "degreesn",
];
const LON_UNITS: &[&str] = &[
    "degrees_east",
    "degree_east",
    "degree_e",
    "degrees_e",
    "degreee",
    "degreese",
];
const Z_STANDARD_NAMES: &[&str] = &[
    "depth",
    "height",
    "altitude",
    "air_pressure",
    "height_above_mean_sea_level",
    "model_level_number",
    "atmosphere_sigma_coordinate",
    "ocean_sigma_coordinate",
    "ocean_s_coordinate",
];

/// Which CF axis a coordinate variable stands for, by (in this order) its `axis` attribute, its
/// `standard_name`, its `units` (`degrees_north`, `degrees_east`, `<unit> since <date>`), and a
/// `positive` attribute (vertical). `None` for a variable that is none of them.
#[must_use]
pub fn axis_of(var: &Variable) -> Option<Axis> {
    if let Some(a) = text_attr(var, "axis") {
        match a.to_ascii_uppercase().as_str() {
            "X" => return Some(Axis::X),
            "Y" => return Some(Axis::Y),
            "Z" => return Some(Axis::Z),
            "T" => return Some(Axis::T),
            _ => {}
        }
    }
    if let Some(sn) = text_attr(var, "standard_name") {
        match sn.as_str() {
            "longitude" | "grid_longitude" | "projection_x_coordinate" => return Some(Axis::X),
            "latitude" | "grid_latitude" | "projection_y_coordinate" => return Some(Axis::Y),
            "time" => return Some(Axis::T),
            s if Z_STANDARD_NAMES.contains(&s) => return Some(Axis::Z),
            _ => {}
        }
    }
    if let Some(u) = units(var) {
        let lower = u.to_ascii_lowercase();
        if LAT_UNITS.contains(&lower.as_str()) {
            return Some(Axis::Y);
        }
        if LON_UNITS.contains(&lower.as_str()) {
            return Some(Axis::X);
        }
        if lower.contains(" since ") {
            return Some(Axis::T);
        }
    }
    if var.attribute("positive").is_some() {
        return Some(Axis::Z);
    }
    None
}

/// A coordinate variable of a data variable's dimension and the axis it stands for.
#[derive(Debug, Clone, PartialEq)]
pub struct AxisCoordinate {
    /// Which axis.
    pub axis: Axis,
    /// The position of the dimension among the data variable's dimensions.
    pub dim_index: usize,
    /// The coordinate variable's fully qualified name.
    pub path: String,
}

/// The coordinate variables of `var`'s dimensions that stand for a CF axis, at most one per
/// axis (the first wins): the one-dimensional variable named like the dimension, looked up in
/// the variable's group and then its ancestors, as netCDF scopes dimensions.
#[must_use]
pub fn axes_of(ds: &Dataset, var: &Variable) -> Vec<AxisCoordinate> {
    let mut out: Vec<AxisCoordinate> = Vec::new();
    for (i, d) in var.dims.iter().enumerate() {
        let Some(dim_path) = &d.path else { continue };
        let Some(coord) = ds.variable(dim_path).filter(|c| c.is_coordinate()) else {
            continue;
        };
        if coord.path == var.path || !coord.dtype.is_numeric() {
            continue;
        }
        if let Some(axis) = axis_of(coord)
            && !out.iter().any(|a| a.axis == axis)
        {
            out.push(AxisCoordinate {
                axis,
                dim_index: i,
                path: coord.path.clone(),
            });
        }
    }
    out
}

/// The 2-D longitude and latitude variables of a data variable on a curvilinear grid: the
/// variables its CF `coordinates` attribute names (looked up in its group, then the root)
/// that are longitude and latitude ([`axis_of`]) over the same two dimensions, which are among
/// the data variable's own. `(longitude path, latitude path, the two dimensions' positions in
/// the data variable)`.
#[must_use]
pub fn curvilinear_coordinates(
    ds: &Dataset,
    var: &Variable,
) -> Option<(String, String, [usize; 2])> {
    let names = text_attr(var, "coordinates")?;
    let group = var.path.rsplit_once('/').map_or("", |(g, _)| g);
    let find = |name: &str| {
        ds.variable(&format!("{group}/{name}"))
            .or_else(|| ds.variable(&format!("/{name}")))
    };
    let mut lon = None;
    let mut lat = None;
    for name in names.split_whitespace() {
        let Some(c) = find(name).filter(|c| c.dims.len() == 2 && c.dtype.is_numeric()) else {
            continue;
        };
        match axis_of(c) {
            Some(Axis::X) if lon.is_none() => lon = Some(c),
            Some(Axis::Y) if lat.is_none() => lat = Some(c),
            _ => {}
        }
    }
    let (lon, lat) = (lon?, lat?);
    let dims =
        |c: &Variable| -> Option<Vec<String>> { c.dims.iter().map(|d| d.path.clone()).collect() };
    let lon_dims = dims(lon)?;
    if lon_dims != dims(lat)? {
        return None;
    }
    let position = |p: &str| var.dims.iter().position(|d| d.path.as_deref() == Some(p));
    let (a, b) = (position(&lon_dims[0])?, position(&lon_dims[1])?);
    (a < b).then(|| (lon.path.clone(), lat.path.clone(), [a, b]))
}

/// The great-circle distance between two points (degrees), in degrees of arc (haversine).
#[must_use]
pub fn arc_degrees(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    (2.0 * h.sqrt().min(1.0).asin()).to_degrees()
}

/// Decodes canonically encoded numeric values (see [`DataType`]) to `f64` (64-bit integers
/// above 2^53 lose precision).
///
/// # Errors
/// When `dtype` is not numeric or `bytes` is not a whole number of elements.
#[allow(clippy::cast_precision_loss)]
pub fn numbers(dtype: &DataType, bytes: &[u8]) -> Result<Vec<f64>, CfError> {
    let size = dtype
        .fixed_size()
        .filter(|_| dtype.is_numeric())
        .ok_or_else(|| CfError::NotNumeric(dtype.cdl_name().to_owned()))?;
    if !bytes.len().is_multiple_of(size) {
        return Err(CfError::NotNumeric(dtype.cdl_name().to_owned()));
    }
    let mut out = Vec::with_capacity(bytes.len() / size);
    for el in bytes.chunks_exact(size) {
        let mut b = [0u8; 8];
        b[..size].copy_from_slice(el);
        out.push(match dtype {
            DataType::Float32 => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            DataType::Float64 => f64::from_le_bytes(b),
            DataType::UInt64 => u64::from_le_bytes(b) as f64,
            other => encoding::integer_value(other, &b, true) as f64,
        });
    }
    Ok(out)
}

/// The values of a variable that mean "no data": its `_FillValue` and `missing_value`
/// attributes, as numbers.
#[must_use]
pub fn missing_values(var: &Variable) -> Vec<f64> {
    ["_FillValue", "missing_value"]
        .iter()
        .filter_map(|n| var.attribute(n))
        .filter_map(|a| a.value.as_f64s())
        .flatten()
        .collect()
}

/// A numeric attribute's first value.
#[must_use]
pub fn number_attr(var: &Variable, name: &str) -> Option<f64> {
    var.attribute(name)
        .and_then(|a| match &a.value {
            AttrValue::Char(_) | AttrValue::String(_) => None,
            v => v.as_f64s(),
        })
        .and_then(|v| v.first().copied())
}

// ---------------------------------------------------------------------------------------------
// Calendars and dates

/// The calendars CF defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Calendar {
    /// `standard` / `gregorian`: Julian before 1582-10-15, Gregorian from then on.
    Standard,
    /// `proleptic_gregorian`: Gregorian rules for every year.
    ProlepticGregorian,
    /// `julian`: a leap year every four years.
    Julian,
    /// `noleap` / `365_day`.
    NoLeap,
    /// `all_leap` / `366_day`.
    AllLeap,
    /// `360_day`: twelve months of 30 days.
    Day360,
}

impl fmt::Display for Calendar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Standard => "standard",
            Self::ProlepticGregorian => "proleptic_gregorian",
            Self::Julian => "julian",
            Self::NoLeap => "noleap",
            Self::AllLeap => "all_leap",
            Self::Day360 => "360_day",
        })
    }
}

impl Calendar {
    /// The calendar named by a CF `calendar` attribute (`None`: the default, `standard`).
    ///
    /// # Errors
    /// For a name CF does not define.
    pub fn parse(name: Option<&str>) -> Result<Self, CfError> {
        let Some(name) = name else {
            return Ok(Self::Standard);
        };
        Ok(match name.trim().to_ascii_lowercase().as_str() {
            "" | "standard" | "gregorian" => Self::Standard,
            "proleptic_gregorian" => Self::ProlepticGregorian,
            "julian" => Self::Julian,
            "noleap" | "365_day" => Self::NoLeap,
            "all_leap" | "366_day" => Self::AllLeap,
            "360_day" => Self::Day360,
            _ => return Err(CfError::Calendar(name.to_owned())),
        })
    }

    fn month_lengths(self, year: i64) -> [i64; 12] {
        let leap = match self {
            Self::NoLeap | Self::Day360 => false,
            Self::AllLeap => true,
            Self::Julian => year.rem_euclid(4) == 0,
            Self::ProlepticGregorian => gregorian_leap(year),
            Self::Standard => {
                if year < 1582 {
                    year.rem_euclid(4) == 0
                } else {
                    gregorian_leap(year)
                }
            }
        };
        if self == Self::Day360 {
            return [30; 12];
        }
        [
            31,
            if leap { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ]
    }

    /// Days from a fixed origin of this calendar to `date` (0:00), comparable within the
    /// calendar only.
    fn day_number(self, y: i64, m: u8, d: u8) -> i64 {
        let (m, d) = (i64::from(m), i64::from(d));
        match self {
            Self::ProlepticGregorian => jdn_gregorian(y, m, d),
            Self::Julian => jdn_julian(y, m, d),
            Self::Standard => {
                if (y, m, d) >= (1582, 10, 15) {
                    jdn_gregorian(y, m, d)
                } else {
                    jdn_julian(y, m, d)
                }
            }
            Self::NoLeap | Self::AllLeap | Self::Day360 => {
                let year_len: i64 = self.month_lengths(y).iter().sum();
                let before: i64 = self.month_lengths(y).iter().take((m - 1) as usize).sum();
                y * year_len + before + d - 1
            }
        }
    }

    /// The date of a day number made by [`Calendar::day_number`].
    fn date_of(self, n: i64) -> (i64, u8, u8) {
        let (y, m, d) = match self {
            Self::ProlepticGregorian => civil_from_jdn_gregorian(n),
            Self::Julian => civil_from_jdn_julian(n),
            Self::Standard => {
                if n >= 2_299_161 {
                    civil_from_jdn_gregorian(n)
                } else {
                    civil_from_jdn_julian(n)
                }
            }
            Self::NoLeap | Self::AllLeap | Self::Day360 => {
                let year_len: i64 = self.month_lengths(0).iter().sum();
                let y = n.div_euclid(year_len);
                let mut rest = n.rem_euclid(year_len);
                let mut m = 1;
                for len in self.month_lengths(y) {
                    if rest < len {
                        break;
                    }
                    rest -= len;
                    m += 1;
                }
                (y, m, rest + 1)
            }
        };
        (y, clamp_u8(m), clamp_u8(d))
    }
}

fn clamp_u8(v: i64) -> u8 {
    u8::try_from(v.clamp(0, 255)).unwrap_or(0)
}

fn gregorian_leap(y: i64) -> bool {
    (y.rem_euclid(4) == 0 && y.rem_euclid(100) != 0) || y.rem_euclid(400) == 0
}

/// Julian Day Number of a Gregorian date (Fliegel & Van Flandern, valid for all years with
/// floor division).
fn jdn_gregorian(y: i64, m: i64, d: i64) -> i64 {
    let a = (14 - m).div_euclid(12);
    let yy = y + 4800 - a;
    let mm = m + 12 * a - 3;
    d + (153 * mm + 2).div_euclid(5) + 365 * yy + yy.div_euclid(4) - yy.div_euclid(100)
        + yy.div_euclid(400)
        - 32045
}

/// Julian Day Number of a Julian-calendar date.
fn jdn_julian(y: i64, m: i64, d: i64) -> i64 {
    let a = (14 - m).div_euclid(12);
    let yy = y + 4800 - a;
    let mm = m + 12 * a - 3;
    d + (153 * mm + 2).div_euclid(5) + 365 * yy + yy.div_euclid(4) - 32083
}

fn civil_from_jdn_gregorian(j: i64) -> (i64, i64, i64) {
    let a = j + 32044;
    let b = (4 * a + 3).div_euclid(146_097);
    let c = a - (146_097 * b).div_euclid(4);
    civil_tail(b * 100, c)
}

fn civil_from_jdn_julian(j: i64) -> (i64, i64, i64) {
    civil_tail(0, j + 32082)
}

fn civil_tail(century_years: i64, c: i64) -> (i64, i64, i64) {
    let d = (4 * c + 3).div_euclid(1461);
    let e = c - (1461 * d).div_euclid(4);
    let m = (5 * e + 2).div_euclid(153);
    let day = e - (153 * m + 2).div_euclid(5) + 1;
    let month = m + 3 - 12 * m.div_euclid(10);
    let year = century_years + d - 4800 + m.div_euclid(10);
    (year, month, day)
}

/// A date and time of day (UTC) in some calendar, to the millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateTime {
    /// Year (astronomical: 0 is 1 BC).
    pub year: i64,
    /// Month, 1–12.
    pub month: u8,
    /// Day of the month, from 1.
    pub day: u8,
    /// Milliseconds since midnight.
    pub millis: u32,
}

impl fmt::Display for DateTime {
    /// ISO 8601 / RFC 3339 in UTC: `2020-01-31T06:00:00Z`, with `.sss` when there are
    /// milliseconds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.millis / 1000;
        let ms = self.millis % 1000;
        if (0..=9999).contains(&self.year) {
            write!(f, "{:04}", self.year)?;
        } else {
            write!(f, "{:+05}", self.year)?;
        }
        write!(
            f,
            "-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.month,
            self.day,
            s / 3600,
            (s / 60) % 60,
            s % 60
        )?;
        if ms != 0 {
            write!(f, ".{ms:03}")?;
        }
        f.write_str("Z")
    }
}

impl DateTime {
    /// Parses ISO 8601: `YYYY-MM-DD`, optionally followed by `T` or a space and
    /// `hh[:mm[:ss[.fff]]]`, optionally followed by `Z`, `UTC` or a `±hh[:mm]` offset (applied).
    /// Also accepts CF's relaxed forms (`1-1-1 0:0:0`).
    ///
    /// # Errors
    /// When the text is not such a date-time.
    pub fn parse(text: &str) -> Result<Self, CfError> {
        let bad = || CfError::DateTime(text.to_owned());
        let t = text.trim();
        let (date, rest) = match t.find(['T', 't', ' ']) {
            Some(i) => (&t[..i], t[i + 1..].trim()),
            None => (t, ""),
        };
        let (neg, date) = match date.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, date.strip_prefix('+').unwrap_or(date)),
        };
        let mut parts = date.split('-');
        let mut year: i64 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        if neg {
            year = -year;
        }
        let month: u8 = parts.next().map_or(Ok(1), str::parse).map_err(|_| bad())?;
        let day: u8 = parts.next().map_or(Ok(1), str::parse).map_err(|_| bad())?;
        if parts.next().is_some() || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return Err(bad());
        }
        // Split off a zone: Z, UTC, or an offset after the time.
        let mut time = rest.trim_end_matches(['Z', 'z']).trim();
        time = time.strip_suffix("UTC").unwrap_or(time).trim();
        let mut offset_min: i64 = 0;
        if let Some(i) = time.rfind(['+', '-'])
            && i > 0
        {
            let (hm, zone) = time.split_at(i);
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let zone = &zone[1..];
            let (zh, zm) = match zone.split_once(':') {
                Some((h, m)) => (h, m),
                None if zone.len() == 4 => zone.split_at(2),
                None => (zone, "0"),
            };
            let zh: i64 = zh.parse().map_err(|_| bad())?;
            let zm: i64 = zm.parse().map_err(|_| bad())?;
            offset_min = sign * (zh * 60 + zm);
            time = hm.trim();
        }
        let mut millis: i64 = 0;
        if !time.is_empty() {
            let mut f = time.split(':');
            let h: i64 = f.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
            let m: i64 = f.next().map_or(Ok(0), str::parse).map_err(|_| bad())?;
            let s: f64 = f.next().map_or(Ok(0.0), str::parse).map_err(|_| bad())?;
            if f.next().is_some()
                || !(0..24).contains(&h)
                || !(0..60).contains(&m)
                || !(0.0..61.0).contains(&s)
            {
                return Err(bad());
            }
            #[allow(clippy::cast_possible_truncation)]
            let sm = (s * 1000.0).round() as i64;
            millis = (h * 3600 + m * 60) * 1000 + sm;
        }
        millis -= offset_min * 60_000;
        if (0..86_400_000).contains(&millis) {
            // Kept as written: in a model calendar 2000-02-30 is a real day.
            return Ok(Self {
                year,
                month,
                day,
                millis: u32::try_from(millis).unwrap_or(0),
            });
        }
        let dt = Self {
            year,
            month,
            day,
            millis: 0,
        };
        // Offsets and leap seconds may move the time across midnight: normalise in the
        // proleptic Gregorian calendar, which is what a zoned ISO 8601 text means.
        let cal = Calendar::ProlepticGregorian;
        let days = cal.day_number(dt.year, dt.month, dt.day) + millis.div_euclid(86_400_000);
        let (year, month, day) = cal.date_of(days);
        Ok(Self {
            year,
            month,
            day,
            millis: u32::try_from(millis.rem_euclid(86_400_000)).unwrap_or(0),
        })
    }

    /// The date-time `secs` seconds after 1970-01-01T00:00:00Z (a file's modification time).
    #[must_use]
    pub fn from_unix_seconds(secs: i64) -> Self {
        let cal = Calendar::ProlepticGregorian;
        let epoch = cal.day_number(1970, 1, 1);
        let (year, month, day) = cal.date_of(epoch + secs.div_euclid(86_400));
        Self {
            year,
            month,
            day,
            millis: u32::try_from(secs.rem_euclid(86_400) * 1000).unwrap_or(0),
        }
    }
}

/// CF time units with their calendar: `hours since 2000-01-01 00:00:00` in `noleap`, say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeUnits {
    /// Seconds per unit.
    seconds_per_unit: f64,
    /// The reference date.
    epoch: DateTime,
    /// The calendar dates are counted in.
    calendar: Calendar,
}

impl TimeUnits {
    /// Parses `units` (`<unit> since <date>`) in `calendar` (the `calendar` attribute).
    ///
    /// # Errors
    /// When the units are not time units of fixed length, or the calendar or date is unknown.
    pub fn parse(units: &str, calendar: Option<&str>) -> Result<Self, CfError> {
        let bad = || CfError::TimeUnits(units.to_owned());
        let lower = units.trim().to_ascii_lowercase();
        let (unit, since) = lower.split_once(" since ").ok_or_else(bad)?;
        let seconds_per_unit = match unit.trim() {
            "ms" | "msec" | "msecs" | "millisecond" | "milliseconds" => 0.001,
            "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
            "min" | "mins" | "minute" | "minutes" => 60.0,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3600.0,
            "d" | "day" | "days" => 86_400.0,
            "week" | "weeks" => 604_800.0,
            _ => return Err(bad()),
        };
        let calendar = Calendar::parse(calendar)?;
        let epoch = DateTime::parse(since).map_err(|_| bad())?;
        if calendar.month_lengths(epoch.year)[usize::from(epoch.month - 1)] < i64::from(epoch.day) {
            return Err(CfError::NoSuchDate(epoch.to_string(), calendar));
        }
        Ok(Self {
            seconds_per_unit,
            epoch,
            calendar,
        })
    }

    /// The units of a variable's `units` and `calendar` attributes, if they are time units.
    #[must_use]
    pub fn of(var: &Variable) -> Option<Self> {
        let u = units(var)?;
        Self::parse(&u, text_attr(var, "calendar").as_deref()).ok()
    }

    /// The calendar.
    #[must_use]
    pub fn calendar(&self) -> Calendar {
        self.calendar
    }

    fn epoch_millis(&self) -> i64 {
        self.calendar
            .day_number(self.epoch.year, self.epoch.month, self.epoch.day)
            * 86_400_000
            + i64::from(self.epoch.millis)
    }

    /// The date-time of a coordinate value (to the millisecond), `None` for NaN or a value
    /// beyond any representable date.
    #[must_use]
    pub fn to_datetime(&self, value: f64) -> Option<DateTime> {
        let ms = value * self.seconds_per_unit * 1000.0;
        if !ms.is_finite() || ms.abs() > 1e17 {
            return None;
        }
        #[allow(clippy::cast_possible_truncation)]
        let total = self.epoch_millis() + ms.round() as i64;
        let (year, month, day) = self.calendar.date_of(total.div_euclid(86_400_000));
        Some(DateTime {
            year,
            month,
            day,
            millis: u32::try_from(total.rem_euclid(86_400_000)).ok()?,
        })
    }

    /// The coordinate value of a date-time.
    ///
    /// # Errors
    /// When the date does not exist in this calendar.
    #[allow(clippy::cast_precision_loss)]
    pub fn to_value(&self, dt: &DateTime) -> Result<f64, CfError> {
        let lengths = self.calendar.month_lengths(dt.year);
        if lengths[usize::from(dt.month.clamp(1, 12) - 1)] < i64::from(dt.day) {
            return Err(CfError::NoSuchDate(dt.to_string(), self.calendar));
        }
        let ms = self.calendar.day_number(dt.year, dt.month, dt.day) * 86_400_000
            + i64::from(dt.millis)
            - self.epoch_millis();
        Ok(ms as f64 / 1000.0 / self.seconds_per_unit)
    }
}

// ---------------------------------------------------------------------------------------------
// Index arithmetic

/// The index of the value nearest `target` (ties: the first), ignoring NaNs; `None` when there
/// is none.
#[must_use]
pub fn nearest_index(values: &[f64], target: f64) -> Option<usize> {
    values
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_nan())
        .min_by(|(_, a), (_, b)| (*a - target).abs().total_cmp(&(*b - target).abs()))
        .map(|(i, _)| i)
}

/// The first and last index (inclusive) of the values inside `[lo, hi]` on a monotonic axis,
/// ascending or descending; `None` when no value is inside.
#[must_use]
pub fn index_range(values: &[f64], lo: f64, hi: f64) -> Option<(usize, usize)> {
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    let inside = |v: &f64| *v >= lo && *v <= hi;
    let first = values.iter().position(inside)?;
    let last = values.iter().rposition(inside)?;
    Some((first, last))
}

/// The indices of the longitudes inside the box from `west` to `east` (degrees), on an axis in
/// any convention (0–360 or −180–180): a box with `east < west` crosses the antimeridian.
/// The result is runs of consecutive indices (`(first, last)` inclusive), ordered so that their
/// longitudes go eastward from `west` — two runs when the box crosses the axis' seam (a box
/// −30…30 on a 0–360 axis is 330…357.5 then 0…30).
#[must_use]
pub fn longitude_runs(values: &[f64], west: f64, east: f64) -> Vec<(usize, usize)> {
    let width = if east - west >= 360.0 {
        360.0
    } else {
        (east - west).rem_euclid(360.0)
    };
    // Each selected index with its offset eastward from `west`.
    let mut picked: Vec<(usize, f64)> = values
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .map(|(i, v)| (i, (v - west).rem_euclid(360.0)))
        .filter(|(_, off)| *off <= width || width >= 360.0)
        .collect();
    if picked.is_empty() {
        return Vec::new();
    }
    // Runs of consecutive indices, then ordered by where they start east of `west`.
    // A run also ends where the offsets wrap round (the axis' seam inside the box).
    let mut runs: Vec<(usize, usize, f64)> = Vec::new();
    let mut prev_off = f64::NEG_INFINITY;
    for (i, off) in picked.drain(..) {
        match runs.last_mut() {
            Some(r) if r.1 + 1 == i && off >= prev_off => r.1 = i,
            _ => runs.push((i, i, off)),
        }
        prev_off = off;
    }
    runs.sort_by(|a, b| a.2.total_cmp(&b.2));
    runs.into_iter().map(|(a, b, _)| (a, b)).collect()
}

/// `lon` moved by whole turns into `[west, west + 360)`: the longitude a client that asked for
/// a box starting at `west` expects to see.
#[must_use]
pub fn longitude_from(lon: f64, west: f64) -> f64 {
    // A longitude already in range is returned as it is: the arithmetic would round it.
    if lon >= west && lon < west + 360.0 {
        return lon;
    }
    west + (lon - west).rem_euclid(360.0)
}

#[cfg(test)]
mod arc_tests {
    use super::arc_degrees;

    #[test]
    fn arcs_are_great_circle_degrees() {
        assert!((arc_degrees(0.0, 0.0, 90.0, 0.0) - 90.0).abs() < 1e-9);
        assert!((arc_degrees(10.0, 89.0, 190.0, 89.0) - 2.0).abs() < 1e-9);
        assert!((arc_degrees(-179.5, 0.0, 179.5, 0.0) - 1.0).abs() < 1e-9);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i64, m: u8, d: u8, h: u32) -> DateTime {
        DateTime {
            year: y,
            month: m,
            day: d,
            millis: h * 3_600_000,
        }
    }

    #[test]
    fn standard_calendar_counts_like_cftime() {
        // cftime.num2date(12, "hours since 2000-01-01", "standard") == 2000-01-01 12:00
        let u = TimeUnits::parse("hours since 2000-01-01 00:00:00", None).expect("units");
        assert_eq!(u.to_datetime(12.0), Some(ymd(2000, 1, 1, 12)));
        // 2000 is a leap year: day 59 is 29 February.
        let d = TimeUnits::parse("days since 2000-01-01", Some("gregorian")).expect("units");
        assert_eq!(d.to_datetime(59.0), Some(ymd(2000, 2, 29, 0)));
        assert_eq!(d.to_datetime(366.0), Some(ymd(2001, 1, 1, 0)));
        assert_eq!(d.to_value(&ymd(2001, 1, 1, 0)), Ok(366.0));
        // The Julian → Gregorian switch: the day after 1582-10-04 is 1582-10-15.
        let s = TimeUnits::parse("days since 1582-10-04", None).expect("units");
        assert_eq!(s.to_datetime(1.0), Some(ymd(1582, 10, 15, 0)));
        // proleptic_gregorian has no switch.
        let p =
            TimeUnits::parse("days since 1582-10-04", Some("proleptic_gregorian")).expect("units");
        assert_eq!(p.to_datetime(1.0), Some(ymd(1582, 10, 5, 0)));
    }

    #[test]
    fn model_calendars_have_their_own_years() {
        let n = TimeUnits::parse("days since 2000-01-01", Some("noleap")).expect("units");
        assert_eq!(n.to_datetime(59.0), Some(ymd(2000, 3, 1, 0)));
        assert_eq!(n.to_datetime(365.0), Some(ymd(2001, 1, 1, 0)));
        assert!(n.to_value(&ymd(2000, 2, 29, 0)).is_err());
        let a = TimeUnits::parse("days since 2001-01-01", Some("all_leap")).expect("units");
        assert_eq!(a.to_datetime(59.0), Some(ymd(2001, 2, 29, 0)));
        let t = TimeUnits::parse("days since 2000-01-01", Some("360_day")).expect("units");
        assert_eq!(t.to_datetime(30.0), Some(ymd(2000, 2, 1, 0)));
        assert_eq!(t.to_datetime(59.5), Some(ymd(2000, 2, 30, 12)));
        assert_eq!(t.to_value(&ymd(2001, 1, 1, 0)), Ok(360.0));
        let j = TimeUnits::parse("days since 1900-02-28", Some("julian")).expect("units");
        assert_eq!(j.to_datetime(1.0), Some(ymd(1900, 2, 29, 0)));
        // coads_climatology: "hour since 0000-01-01 00:00:00" in the default calendar.
        let c = TimeUnits::parse("hour since 0000-01-01 00:00:00", None).expect("units");
        assert_eq!(c.to_datetime(0.0), Some(ymd(0, 1, 1, 0)));
        assert!(TimeUnits::parse("months since 2000-01-01", None).is_err());
        assert!(TimeUnits::parse("days since yesterday", None).is_err());
        assert!(TimeUnits::parse("days since 2000-01-01", Some("lunar")).is_err());
    }

    #[test]
    fn iso_dates_parse_and_print() {
        let d = DateTime::parse("2020-03-01T06:30:00Z").expect("date");
        assert_eq!(d.to_string(), "2020-03-01T06:30:00Z");
        assert_eq!(
            DateTime::parse("2020-03-01T01:00:00+02:00")
                .expect("date")
                .to_string(),
            "2020-02-29T23:00:00Z"
        );
        assert_eq!(
            DateTime::parse("2020-3-1").expect("date").to_string(),
            "2020-03-01T00:00:00Z"
        );
        assert_eq!(
            DateTime::parse("2020-03-01 00:00:00.250").expect("date"),
            DateTime {
                year: 2020,
                month: 3,
                day: 1,
                millis: 250
            }
        );
        for bad in [
            "",
            "2020-13-01",
            "x",
            "2020-01-01T25:00",
            "2020-01-01T1:2:3:4",
        ] {
            assert!(DateTime::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            DateTime::from_unix_seconds(86_400 * 365 + 3600).to_string(),
            "1971-01-01T01:00:00Z"
        );
    }

    #[test]
    fn nearest_and_ranges_on_both_directions() {
        let up = [0.0, 1.0, 2.0, 3.0];
        let down = [3.0, 2.0, 1.0, 0.0];
        assert_eq!(nearest_index(&up, 2.4), Some(2));
        assert_eq!(nearest_index(&down, 2.6), Some(0));
        assert_eq!(nearest_index(&[f64::NAN, 5.0], 0.0), Some(1));
        assert_eq!(nearest_index(&[], 0.0), None);
        assert_eq!(index_range(&up, 0.5, 2.0), Some((1, 2)));
        assert_eq!(index_range(&down, 0.5, 2.0), Some((1, 2)));
        assert_eq!(index_range(&down, 2.0, 0.5), Some((1, 2)));
        assert_eq!(index_range(&up, 3.5, 9.0), None);
    }

    #[test]
    fn longitude_boxes_in_both_conventions() {
        let east: Vec<f64> = (0..12).map(|i| f64::from(i) * 30.0).collect(); // 0..330
        assert_eq!(longitude_runs(&east, -30.0, 30.0), vec![(11, 11), (0, 1)]);
        assert_eq!(longitude_runs(&east, 60.0, 120.0), vec![(2, 4)]);
        assert_eq!(longitude_runs(&east, -180.0, 180.0), vec![(6, 11), (0, 5)]);
        assert_eq!(
            longitude_runs(&east, 10.0, 20.0),
            Vec::<(usize, usize)>::new()
        );
        let centred: Vec<f64> = (0..12).map(|i| f64::from(i) * 30.0 - 180.0).collect();
        assert_eq!(longitude_runs(&centred, 300.0, 360.0), vec![(4, 6)]);
        // A box crossing the antimeridian on a −180–180 axis.
        assert_eq!(
            longitude_runs(&centred, 150.0, -150.0),
            vec![(11, 11), (0, 1)]
        );
        assert!((longitude_from(330.0, -30.0) - -30.0).abs() < 1e-12);
    }
}
