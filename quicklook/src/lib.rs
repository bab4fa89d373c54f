//! `quicklook` — a quick look at a field: one 2-D slice of a CDM variable as an indexed PNG.
//!
//! Pure: the caller reads the values (and the latitudes of the slice, when it has some) and
//! hands them in; this crate decides what the slice is, unpacks and masks the values, maps them
//! onto a palette and encodes the picture. Nothing here reads a file or speaks HTTP.
//!
//! A request goes through these steps:
//!
//! 1. [`Options::split_query`] takes the picture's own parameters (`palette=`, `range=`) out of
//!    the query and leaves the DAP2 constraint, which selects the slice.
//! 2. [`Slice::new`] checks the selected ranges: at most two dimensions with more than one
//!    index (otherwise [`Error::NotASlice`], naming the dimensions to fix), a numeric variable,
//!    and at most the configured number of pixels ([`Error::TooLarge`], with a strided example).
//! 3. [`unpack`] turns the canonically encoded values into numbers as xarray shows them.
//! 4. [`render`] maps them onto the palette and writes the PNG.
//!
//! # The picture
//!
//! | what | how |
//! |---|---|
//! | columns (x) | the last dimension with more than one index; one pixel per value |
//! | rows (y) | the other one; a slice with one such dimension is a picture one pixel high |
//! | north up | when the row dimension is the CF latitude (`cdm::cf::axes_of`, axis Y) and its selected values ascend, the rows are flipped so that the northernmost row is on top; descending latitudes are already north-up |
//! | values | `_FillValue` and `missing_value` (in the variable's own type, as [`cdm::fill`] keeps them), NaN, and stored values outside `valid_range` (or below `valid_min` / above `valid_max`) are missing — transparent, as netCDF4-python masks them; then `scale_factor` and `add_offset` are applied: the packed-decoded values xarray shows |
//! | range | `range=LO,HI`, or the slice's finite minimum and maximum; values outside are clamped to the ends |
//! | colours | an 8-bit indexed PNG: index 0 is transparent (`tRNS`) for missing values, indices 1…255 are the palette sampled at 255 evenly spaced points from LO to HI: value `v` gets index `1 + round(254 · (v − LO) / (HI − LO))` |
//! | palettes | [`PALETTES`]: `viridis` (default), `magma`, `inferno`, `plasma`, `cividis`, `turbo`, `rdbu` (diverging), `greys` — from the `colorous` crate (d3-scale-chromatic's tables: matplotlib's colours for the first five) |
//! | colour bar | `colorbar=true`: [`BAR_HEIGHT`] more rows under the picture — a 2-row gap, a 6-row strip of the palette from LO (left) to HI (right) across the width, a 1-row gap and LO / HI written under its ends in a built-in 3 × 5 digit font (four significant digits, [`bar_label`]) in the palette's darker end colour; a picture narrower than the two numbers is widened with transparent columns |
//! | range in the file | `tEXt` chunks `Title` (the variable), `Description` (range, units, palette), and machine-readable `range` (`LO,HI`) and `palette` |

use cdm::{AttrValue, Range, Variable};

/// What a picture request can fail with; each is the client's error except [`Error::Encode`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A `palette` or `range` that is not valid.
    #[error("{0}")]
    BadParameter(String),
    /// More than two dimensions have more than one index, or the request is not one array.
    #[error("{0}")]
    NotASlice(String),
    /// A variable whose values are not numbers.
    #[error("{0}")]
    NotNumeric(String),
    /// More pixels than the server allows.
    #[error("{0}")]
    TooLarge(String),
    /// The PNG encoder failed (a bug).
    #[error("cannot encode the picture: {0}")]
    Encode(String),
}

/// A palette: its name in `palette=` and the gradient it samples.
#[derive(Clone, Copy)]
pub struct Palette {
    /// The name a request uses.
    pub name: &'static str,
    /// A few words for the help page.
    pub description: &'static str,
    gradient: colorous::Gradient,
}

impl std::fmt::Debug for Palette {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for Palette {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

/// Every palette, the default first.
pub const PALETTES: &[Palette] = &[
    Palette {
        name: "viridis",
        description: "perceptually uniform, dark blue to yellow (matplotlib's default)",
        gradient: colorous::VIRIDIS,
    },
    Palette {
        name: "magma",
        description: "perceptually uniform, black to pale yellow through purple",
        gradient: colorous::MAGMA,
    },
    Palette {
        name: "inferno",
        description: "perceptually uniform, black to pale yellow through red",
        gradient: colorous::INFERNO,
    },
    Palette {
        name: "plasma",
        description: "perceptually uniform, blue to yellow through magenta",
        gradient: colorous::PLASMA,
    },
    Palette {
        name: "cividis",
        description: "perceptually uniform and readable with colour-vision deficiency, blue to yellow",
        gradient: colorous::CIVIDIS,
    },
    Palette {
        name: "turbo",
        description: "an improved rainbow, blue to red",
        gradient: colorous::TURBO,
    },
    Palette {
        name: "rdbu",
        description: "diverging, red (low) to white to blue (high): anomalies around the middle of the range",
        gradient: colorous::RED_BLUE,
    },
    Palette {
        name: "greys",
        description: "white (low) to black (high)",
        gradient: colorous::GREYS,
    },
];

/// Colours in the palette table (index 0 is the transparent one).
const COLOURS: usize = 255;

impl Palette {
    /// The palette named `name` (case-insensitive).
    ///
    /// # Errors
    /// [`Error::BadParameter`] listing the palettes, when there is none of that name.
    pub fn named(name: &str) -> Result<Self, Error> {
        PALETTES
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name.trim()))
            .copied()
            .ok_or_else(|| {
                Error::BadParameter(format!(
                    "unknown palette {name:?}; the palettes are {}",
                    names()
                ))
            })
    }

    /// The PNG `PLTE` table: the transparent entry (black), then 255 colours from low to high.
    #[must_use]
    pub fn table(&self) -> Vec<u8> {
        let mut plte = Vec::with_capacity(3 * (COLOURS + 1));
        plte.extend_from_slice(&[0, 0, 0]);
        for i in 0..COLOURS {
            let c = self.gradient.eval_rational(i, COLOURS);
            plte.extend_from_slice(&[c.r, c.g, c.b]);
        }
        plte
    }
}

impl Default for Palette {
    fn default() -> Self {
        PALETTES[0]
    }
}

/// The palette names, comma-separated, for messages.
#[must_use]
pub fn names() -> String {
    PALETTES
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The picture's own parameters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    /// The palette (viridis unless asked).
    pub palette: Palette,
    /// The values at the two ends of the palette; `None`: the slice's finite min and max.
    pub range: Option<(f64, f64)>,
    /// `colorbar=true`: a colour bar drawn under the picture ([`BAR_HEIGHT`] rows).
    pub colorbar: bool,
}

impl Options {
    /// Splits a raw query string into the DAP2 constraint (everything that is not the
    /// picture's) and the picture's options. `palette=` and `range=` are recognised among the
    /// `&`-separated parts, their values percent-decoded.
    ///
    /// # Errors
    /// [`Error::BadParameter`] for an unknown palette, a range that is not two finite numbers
    /// `LO,HI` with `LO < HI`, or a parameter given twice.
    pub fn split_query(raw: &str) -> Result<(String, Self), Error> {
        let mut ce: Vec<&str> = Vec::new();
        let mut options = Self::default();
        let (mut palette_seen, mut range_seen, mut bar_seen) = (false, false, false);
        for part in raw.split('&') {
            let decoded = percent_encoding::percent_decode_str(part).decode_utf8_lossy();
            let (key, value) = decoded.split_once('=').unwrap_or((&decoded, ""));
            match key.trim() {
                "palette" => {
                    if std::mem::replace(&mut palette_seen, true) {
                        return Err(Error::BadParameter("palette is given twice".into()));
                    }
                    options.palette = Palette::named(value)?;
                }
                "range" => {
                    if std::mem::replace(&mut range_seen, true) {
                        return Err(Error::BadParameter("range is given twice".into()));
                    }
                    options.range = Some(parse_range(value)?);
                }
                "colorbar" => {
                    if std::mem::replace(&mut bar_seen, true) {
                        return Err(Error::BadParameter("colorbar is given twice".into()));
                    }
                    options.colorbar = match value.trim() {
                        "" | "true" | "1" | "yes" => true,
                        "false" | "0" | "no" => false,
                        other => {
                            return Err(Error::BadParameter(format!(
                                "colorbar={other:?}: true or false is valid"
                            )));
                        }
                    };
                }
                _ => ce.push(part),
            }
        }
        Ok((ce.join("&"), options))
    }
}

fn parse_range(value: &str) -> Result<(f64, f64), Error> {
    let bad = || {
        Error::BadParameter(format!(
            "range={value:?} is not LO,HI: two finite numbers with LO < HI, e.g. range=270,305"
        ))
    };
    let (lo, hi) = value.split_once(',').ok_or_else(bad)?;
    let lo: f64 = lo.trim().parse().map_err(|_| bad())?;
    let hi: f64 = hi.trim().parse().map_err(|_| bad())?;
    if !(lo.is_finite() && hi.is_finite() && lo < hi) {
        return Err(bad());
    }
    Ok((lo, hi))
}

/// The geometry of a picture: which selected dimensions become its rows and columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    /// Picture height.
    pub rows: usize,
    /// Picture width.
    pub cols: usize,
    /// The variable's dimension the rows run along, when there are two.
    pub row_dim: Option<usize>,
}

impl Slice {
    /// Checks the ranges selected of `var` (one per dimension) and lays them out as a picture.
    /// `max_pixels` of 0 means no limit.
    ///
    /// # Errors
    /// [`Error::NotNumeric`], [`Error::NotASlice`] (more than two dimensions with more than
    /// one index), [`Error::TooLarge`] (more pixels than `max_pixels`).
    pub fn new(
        name: &str,
        var: &Variable,
        ranges: &[Range],
        max_pixels: usize,
    ) -> Result<Self, Error> {
        if !var.dtype.is_numeric() {
            return Err(Error::NotNumeric(format!(
                "{name} is of type {}, not numbers: only numeric variables can be drawn",
                var.dtype.cdl_name()
            )));
        }
        let dim_name = |i: usize| {
            var.dims
                .get(i)
                .and_then(|d| d.name.clone())
                .unwrap_or_else(|| format!("dimension {i}"))
        };
        if let Some(i) = ranges.iter().position(|r| r.count == 0) {
            return Err(Error::NotASlice(format!(
                "{name} has no values to draw: its dimension {} is empty",
                dim_name(i)
            )));
        }
        let wide: Vec<usize> = (0..ranges.len())
            .filter(|&i| ranges.get(i).is_some_and(|r| r.count > 1))
            .collect();
        if wide.len() > 2 {
            let names: Vec<String> = wide.iter().map(|&i| dim_name(i)).collect();
            let fix: Vec<String> = wide[..wide.len() - 2]
                .iter()
                .map(|&i| dim_name(i))
                .collect();
            let example: String = ranges
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    if wide[..wide.len() - 2].contains(&i) {
                        format!("[{}]", r.start)
                    } else {
                        format!("[{}:{}:{}]", r.start, r.stride, r.last())
                    }
                })
                .collect();
            return Err(Error::NotASlice(format!(
                "a picture is a 2-D slice, but {name} has {} dimensions with more than one index \
({}): fix {} to a single index, e.g. {name}{example}",
                wide.len(),
                names.join(", "),
                fix.join(" and ")
            )));
        }
        let count = |i: usize| ranges.get(i).map_or(1, |r| r.count);
        let (rows, cols, row_dim) = match wide.as_slice() {
            [r, c] => (count(*r), count(*c), Some(*r)),
            [c] => (1, count(*c), None),
            _ => (1, 1, None),
        };
        let pixels = rows.saturating_mul(cols);
        if max_pixels > 0 && pixels > max_pixels {
            // The smallest stride, the same along both dimensions, that fits: bounded, since
            // a stride of the longer side leaves one pixel.
            let fits = |s: usize| rows.div_ceil(s).saturating_mul(cols.div_ceil(s)) <= max_pixels;
            let stride = (2..=rows.max(cols).max(2))
                .find(|&s| fits(s))
                .unwrap_or(rows.max(cols).max(2));
            let example: String = ranges
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    if wide.contains(&i) {
                        format!("[{}:{}:{}]", r.start, r.stride * stride, r.last())
                    } else {
                        format!("[{}]", r.start)
                    }
                })
                .collect();
            return Err(Error::TooLarge(format!(
                "this picture would be {rows} × {cols} = {pixels} pixels, more than this server's \
limit of {max_pixels}: keep one index in {stride} along each with a stride, e.g. \
{name}{example}"
            )));
        }
        Ok(Self {
            rows,
            cols,
            row_dim,
        })
    }

    /// Whether the rows must be flipped to put north up, given the latitudes of the selected
    /// rows (in selection order): yes when they ascend.
    #[must_use]
    pub fn flip_for(latitudes: &[f64]) -> bool {
        let finite: Vec<f64> = latitudes
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        matches!((finite.first(), finite.last()), (Some(a), Some(b)) if a < b)
    }
}

/// Decodes the canonically encoded values of `var` to numbers as xarray shows them: missing
/// values (`_FillValue`, `missing_value` — as [`cdm::fill`] conforms them to the variable's
/// type — and NaN) become NaN, the rest are scaled by `scale_factor` and offset by
/// `add_offset`.
///
/// # Errors
/// [`Error::NotNumeric`] when the bytes are not whole numeric elements.
pub fn unpack(var: &Variable, bytes: &[u8]) -> Result<Vec<f64>, Error> {
    let mut values =
        cdm::cf::numbers(&var.dtype, bytes).map_err(|e| Error::NotNumeric(e.to_string()))?;
    let attrs = cdm::fill::conformed_attributes(var);
    let missing: Vec<f64> = attrs
        .iter()
        .filter(|a| cdm::fill::MISSING_VALUE_ATTRIBUTES.contains(&a.name.as_str()))
        .filter(|a| !matches!(a.value, AttrValue::Char(_) | AttrValue::String(_)))
        .filter_map(|a| a.value.as_f64s())
        .flatten()
        .collect();
    let scale = cdm::cf::number_attr(var, "scale_factor").unwrap_or(1.0);
    let offset = cdm::cf::number_attr(var, "add_offset").unwrap_or(0.0);
    let (valid_min, valid_max) = valid_limits(var);
    for v in &mut values {
        *v = if v.is_nan()
            || missing.contains(v)
            || valid_min.is_some_and(|lo| *v < lo)
            || valid_max.is_some_and(|hi| *v > hi)
        {
            f64::NAN
        } else {
            *v * scale + offset
        };
    }
    Ok(values)
}

/// The CF valid limits of `var`'s stored (packed) values: `valid_range`, else `valid_min` /
/// `valid_max`; values outside are missing, as netCDF4-python masks them.
fn valid_limits(var: &Variable) -> (Option<f64>, Option<f64>) {
    let numbers = |name: &str| {
        var.attribute(name).and_then(|a| match &a.value {
            AttrValue::Char(_) | AttrValue::String(_) => None,
            v => v.as_f64s(),
        })
    };
    if let Some(r) = numbers("valid_range")
        && let [lo, hi] = r.as_slice()
    {
        return (Some(*lo), Some(*hi));
    }
    let first = |name: &str| numbers(name).and_then(|v| v.first().copied());
    (first("valid_min"), first("valid_max"))
}

/// Rows a colour bar adds under the picture: a gap, the palette strip, a gap, the numbers.
pub const BAR_HEIGHT: usize = GAP + STRIP + 1 + GLYPH_ROWS;
const GAP: usize = 2;
const STRIP: usize = 6;
const GLYPH_ROWS: usize = 5;

/// A 3 × 5 bitmap of each character a number is written with (bit 2 is the left column).
fn glyph(c: char) -> Option<[u8; GLYPH_ROWS]> {
    Some(match c {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 1, 1],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        '.' => [0, 0, 0, 0, 2],
        '-' => [0, 0, 7, 0, 0],
        '+' => [0, 2, 7, 2, 0],
        'e' => [0, 7, 7, 4, 7],
        _ => return None,
    })
}

/// A number in at most four significant digits, as the colour bar writes it.
#[must_use]
pub fn bar_label(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        return format!("{v:.2e}");
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let int_digits = if a < 1.0 {
        1
    } else {
        a.log10().floor() as usize + 1
    };
    let decimals = 4usize.saturating_sub(int_digits);
    let text = format!("{v:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    };
    if text == "-0" { "0".to_owned() } else { text }
}

/// `pixels` (`rows × cols`) with a colour bar under them: the palette from LO (left) to HI
/// (right) across the width, and the two numbers under its ends in the palette's darker end
/// colour. A picture narrower than the two numbers is widened with transparent pixels.
fn with_colorbar(
    pixels: Vec<u8>,
    rows: usize,
    cols: usize,
    (lo, hi): (f64, f64),
    palette: Palette,
) -> (Vec<u8>, usize, usize) {
    let (left, right) = (bar_label(lo), bar_label(hi));
    let text_width = |t: &str| t.chars().count() * 4;
    let width = cols.max(text_width(&left) + text_width(&right) + 4).max(2);
    let height = rows + BAR_HEIGHT;
    let mut out = vec![0u8; width * height];
    for r in 0..rows {
        out[r * width..r * width + cols].copy_from_slice(&pixels[r * cols..(r + 1) * cols]);
    }
    for r in rows + GAP..rows + GAP + STRIP {
        for c in 0..width {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let k = ((c * (COLOURS - 1)) as f64 / (width - 1) as f64).round() as u8;
            out[r * width + c] = k + 1;
        }
    }
    // The ink: whichever end of the palette is darker.
    let table = palette.table();
    let luma = |i: usize| {
        u32::from(table[3 * i]) * 299
            + u32::from(table[3 * i + 1]) * 587
            + u32::from(table[3 * i + 2]) * 114
    };
    #[allow(clippy::cast_possible_truncation)]
    let ink = if luma(1) <= luma(COLOURS) {
        1u8
    } else {
        COLOURS as u8
    };
    let top = rows + GAP + STRIP + 1;
    let mut draw = |text: &str, x0: usize| {
        for (k, ch) in text.chars().enumerate() {
            let Some(g) = glyph(ch) else { continue };
            for (dy, bits) in g.iter().enumerate() {
                for dx in 0..3 {
                    if bits & (4 >> dx) != 0 {
                        let x = x0 + 4 * k + dx;
                        if x < width {
                            out[(top + dy) * width + x] = ink;
                        }
                    }
                }
            }
        }
    };
    draw(&left, 0);
    draw(&right, width.saturating_sub(text_width(&right) - 1));
    (out, height, width)
}

/// A rendered picture.
#[derive(Debug, Clone, PartialEq)]
pub struct Picture {
    /// The PNG file.
    pub png: Vec<u8>,
    /// The values at the ends of the palette.
    pub range: (f64, f64),
}

/// What the picture shows, for its text chunks.
#[derive(Debug, Clone, Default)]
pub struct Caption {
    /// The variable's name.
    pub title: String,
    /// Its units, if any.
    pub units: Option<String>,
}

/// The finite minimum and maximum of `values`, if any is finite.
#[must_use]
pub fn finite_range(values: &[f64]) -> Option<(f64, f64)> {
    values
        .iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, &v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// The palette index of value `v` on `(lo, hi)`: 0 for a missing value, 1…255 otherwise.
#[must_use]
pub fn index_of(v: f64, (lo, hi): (f64, f64)) -> u8 {
    if v.is_nan() {
        return 0;
    }
    let t = if hi > lo {
        ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
    } else {
        // A constant field: the middle of the palette.
        0.5
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let k = (t * (COLOURS - 1) as f64).round() as u8;
    k + 1
}

/// Draws `values` (`rows × cols`, C order; NaN = missing) as an indexed PNG, flipping the rows
/// when `flip` is set.
///
/// # Errors
/// [`Error::Encode`] when the PNG encoder fails, or when `values` is not `rows × cols` long.
pub fn render(
    values: &[f64],
    rows: usize,
    cols: usize,
    flip: bool,
    options: &Options,
    caption: &Caption,
) -> Result<Picture, Error> {
    if values.len() != rows.saturating_mul(cols) || rows == 0 || cols == 0 {
        return Err(Error::Encode(format!(
            "{} values do not make a {rows} × {cols} picture",
            values.len()
        )));
    }
    let range = options
        .range
        .or_else(|| finite_range(values))
        .unwrap_or((0.0, 1.0));
    let mut pixels = Vec::with_capacity(values.len());
    for r in 0..rows {
        let src = if flip { rows - 1 - r } else { r };
        pixels.extend(
            values[src * cols..(src + 1) * cols]
                .iter()
                .map(|&v| index_of(v, range)),
        );
    }
    let (mut rows, mut cols) = (rows, cols);
    if options.colorbar {
        (pixels, rows, cols) = with_colorbar(pixels, rows, cols, range, options.palette);
    }
    let too_big = |_| Error::Encode(format!("{rows} × {cols} is too large for a PNG"));
    let width = u32::try_from(cols).map_err(too_big)?;
    let height = u32::try_from(rows).map_err(too_big)?;
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, width, height);
    encoder.set_color(png::ColorType::Indexed);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_palette(options.palette.table());
    encoder.set_trns(vec![0u8]);
    encoder.set_compression(png::Compression::Fast);
    let latin1 = |s: &str| -> String { s.chars().filter(|c| (*c as u32) < 256).collect() };
    let units = caption
        .units
        .as_deref()
        .map(|u| format!(" {u}"))
        .unwrap_or_default();
    let texts = [
        ("Title", latin1(&caption.title)),
        (
            "Description",
            latin1(&format!(
                "{}: {} to {}{units}, palette {}; transparent: no data",
                caption.title, range.0, range.1, options.palette.name
            )),
        ),
        ("range", format!("{},{}", range.0, range.1)),
        ("palette", options.palette.name.to_owned()),
    ];
    for (key, text) in texts {
        encoder
            .add_text_chunk(key.to_owned(), text)
            .map_err(|e| Error::Encode(e.to_string()))?;
    }
    let mut writer = encoder
        .write_header()
        .map_err(|e| Error::Encode(e.to_string()))?;
    writer
        .write_image_data(&pixels)
        .map_err(|e| Error::Encode(e.to_string()))?;
    writer.finish().map_err(|e| Error::Encode(e.to_string()))?;
    Ok(Picture { png, range })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picture_parameters_come_out_of_the_query() {
        let (ce, o) =
            Options::split_query("sst[0][1:3][2:5]&palette=magma&range=-1.5,2").expect("valid");
        assert_eq!(ce, "sst[0][1:3][2:5]");
        assert_eq!(o.palette.name, "magma");
        assert_eq!(o.range, Some((-1.5, 2.0)));
        let (ce, o) = Options::split_query("sst&range=1%2C2").expect("valid");
        assert_eq!(ce, "sst");
        assert_eq!(o.palette.name, "viridis");
        assert_eq!(o.range, Some((1.0, 2.0)));
    }

    #[test]
    fn bad_picture_parameters_are_refused() {
        for q in [
            "x&palette=jet",
            "x&range=3,1",
            "x&range=1",
            "x&range=nan,2",
            "x&range=a,b",
            "x&palette=magma&palette=viridis",
        ] {
            assert!(
                matches!(Options::split_query(q), Err(Error::BadParameter(_))),
                "{q}"
            );
        }
    }

    #[test]
    fn indices_span_the_palette() {
        assert_eq!(index_of(f64::NAN, (0.0, 1.0)), 0);
        assert_eq!(index_of(0.0, (0.0, 1.0)), 1);
        assert_eq!(index_of(1.0, (0.0, 1.0)), 255);
        assert_eq!(index_of(-5.0, (0.0, 1.0)), 1);
        assert_eq!(index_of(5.0, (0.0, 1.0)), 255);
        assert_eq!(index_of(0.5, (0.0, 1.0)), 128);
        assert_eq!(index_of(f64::INFINITY, (0.0, 1.0)), 255);
    }

    #[test]
    fn viridis_ends_are_matplotlibs() {
        let t = Palette::default().table();
        assert_eq!(t.len(), 256 * 3);
        // matplotlib's viridis: #440154 at 0, #fde725 at 1.
        let near = |a: &[u8], b: [u8; 3]| a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 2);
        assert!(near(&t[3..6], [0x44, 0x01, 0x54]), "{:?}", &t[3..6]);
        assert!(near(&t[765..768], [0xfd, 0xe7, 0x25]), "{:?}", &t[765..768]);
    }

    #[test]
    fn the_suggested_stride_fits_the_limit() {
        let var = cdm::Variable {
            name: "v".into(),
            path: "/v".into(),
            dtype: cdm::DataType::Float32,
            dims: Vec::new(),
            attributes: Vec::new(),
            storage: cdm::Storage::default(),
        };
        for (rows, cols, max) in [(3, 100, 10), (9, 16, 40), (5, 5, 6), (1000, 1000, 1)] {
            let ranges = [Range::full(rows), Range::full(cols)];
            let Err(Error::TooLarge(m)) = Slice::new("v", &var, &ranges, max) else {
                panic!("{rows}x{cols} fits {max}");
            };
            let stride: usize = m
                .split("v[0:")
                .nth(1)
                .and_then(|s| s.split(':').next())
                .and_then(|s| s.parse().ok())
                .expect("a stride in the example");
            assert!(rows.div_ceil(stride) * cols.div_ceil(stride) <= max, "{m}");
        }
    }

    #[test]
    fn an_empty_selection_is_refused() {
        let var = cdm::Variable {
            name: "v".into(),
            path: "/v".into(),
            dtype: cdm::DataType::Float32,
            dims: Vec::new(),
            attributes: Vec::new(),
            storage: cdm::Storage::default(),
        };
        let empty = [Range::full(0), Range::full(3)];
        assert!(matches!(
            Slice::new("v", &var, &empty, 0),
            Err(Error::NotASlice(_))
        ));
        let scalar = Slice::new("v", &var, &[], 0).expect("a scalar is one pixel");
        assert_eq!((scalar.rows, scalar.cols), (1, 1));
    }

    #[test]
    fn flip_only_ascending_latitudes() {
        assert!(Slice::flip_for(&[-10.0, 0.0, 10.0]));
        assert!(!Slice::flip_for(&[10.0, 0.0, -10.0]));
        assert!(!Slice::flip_for(&[5.0]));
        assert!(!Slice::flip_for(&[]));
    }

    #[test]
    fn render_writes_a_png_with_the_range() {
        let values = [0.0, 1.0, f64::NAN, 2.0];
        let p = render(
            &values,
            2,
            2,
            true,
            &Options::default(),
            &Caption::default(),
        )
        .expect("renders");
        assert_eq!(p.range, (0.0, 2.0));
        assert_eq!(&p.png[..8], b"\x89PNG\r\n\x1a\n");
        assert!(
            render(
                &values,
                3,
                2,
                false,
                &Options::default(),
                &Caption::default()
            )
            .is_err()
        );
    }

    proptest::proptest! {
        /// Whatever the query, splitting it answers (an error or the options), never panics.
        #[test]
        fn any_query_splits_or_is_refused(q in ".{0,60}") {
            let _ = Options::split_query(&q);
        }

        /// Any values, NaN and infinities included, and any range draw a picture that decodes
        /// to the same size.
        #[test]
        fn any_values_draw(
            values in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::num::f64::ANY,
                    proptest::strategy::Just(f64::NAN),
                    proptest::strategy::Just(f64::INFINITY),
                ],
                1..64,
            ),
            cols in 1usize..8,
        ) {
            let rows = values.len() / cols;
            proptest::prop_assume!(rows > 0);
            let values = &values[..rows * cols];
            let p = render(values, rows, cols, true, &Options::default(), &Caption::default())
                .expect("renders");
            let decoder = png::Decoder::new(std::io::Cursor::new(p.png));
            let reader = decoder.read_info().expect("decodes");
            proptest::prop_assert_eq!(reader.info().width as usize, cols);
            proptest::prop_assert_eq!(reader.info().height as usize, rows);
        }
    }
}

#[cfg(test)]
mod bar_tests {
    use super::*;

    #[test]
    fn labels_keep_four_significant_digits() {
        assert_eq!(bar_label(271.234_5), "271.2");
        assert_eq!(bar_label(-3.5), "-3.5");
        assert_eq!(bar_label(0.0), "0");
        assert_eq!(bar_label(12_345.0), "12345");
        assert_eq!(bar_label(0.012_34), "0.012");
        assert_eq!(bar_label(1.5e7), "1.50e7");
        assert!(bar_label(-2.5e-5).chars().all(|c| glyph(c).is_some()));
    }

    #[test]
    fn the_bar_spans_the_palette_under_the_picture() {
        let opts = Options {
            colorbar: true,
            ..Options::default()
        };
        let values: Vec<f64> = (0..40).map(f64::from).collect();
        let p = render(&values, 2, 20, false, &opts, &Caption::default()).expect("png");
        let decoder = png::Decoder::new(std::io::Cursor::new(p.png));
        let mut reader = decoder.read_info().expect("info");
        let mut buf = vec![0; reader.output_buffer_size().expect("size")];
        let info = reader.next_frame(&mut buf).expect("frame");
        assert_eq!((info.width, info.height), (20, 2 + BAR_HEIGHT as u32));
        let row = |r: usize| &buf[r * 20..(r + 1) * 20];
        assert!(row(2).iter().all(|&i| i == 0), "a transparent gap");
        assert_eq!((row(4)[0], row(4)[19]), (1, 255), "the strip runs LO to HI");
        // "0" under the left end, "39" under the right, in viridis' dark end (index 1).
        let text: Vec<&[u8]> = (2 + GAP + STRIP + 1..2 + BAR_HEIGHT).map(row).collect();
        assert_eq!(text[0][..3], [1, 1, 1]);
        assert_eq!(text[1][..3], [1, 0, 1]);
        assert!(text.iter().all(|r| r[19] == 1 || r[19] == 0));
        assert!(text.iter().any(|r| r[19] == 1));
    }
}
