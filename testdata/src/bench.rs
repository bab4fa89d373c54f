//! The benchmark files: `coads_like.nc`, a COADS-climatology-shaped grid read whole, and
//! `x_wind.nc`, a large shuffled+deflated 4-D field read in hyperslabs.

use std::f64::consts::TAU;
use std::fs;
use std::path::{Path, PathBuf};

use netcdf::{FileMut, Options};

use crate::error::{Error, Result};
use crate::fields::{
    Xorshift64, air_temperature_k, index_f64, is_land, linspace, position_noise, quantize,
    sea_surface_temperature_c,
};
use crate::samples::{put, put_1d, to_f32};

/// Months in the COADS-like climatology.
const COADS_TIMES: usize = 12;
/// COADS-like latitudes (2° apart, 89°S to 89°N).
const COADS_Y: usize = 90;
/// COADS-like longitudes (2° apart, 21°E to 379°E, as in COADS).
const COADS_X: usize = 180;
/// COADS' missing value.
const COADS_FILL: f32 = -1.0e34;

/// `x_wind` time steps.
const WIND_TIMES: usize = 36;
/// `x_wind` model levels.
const WIND_LEVELS: usize = 65;
/// `x_wind` grid points along x (one row, y has length 1).
const WIND_X: usize = 20_000;
/// Chunk shape of `x_wind` (time, level, y, x); a chunk is 1 MiB of floats.
const WIND_CHUNKS: [usize; 4] = [1, 13, 1, WIND_X];
/// Amplitude (m/s) of the pseudo-random part of `x_wind`, tuned so shuffle+deflate compresses
/// the variable about 3.5 times, like real model output (measured: 187.2 MB of floats in a
/// 53.3 MB file, 3.51×; 0.35 gave 3.34×, 0.26 gave 3.46×).
const WIND_NOISE_AMPLITUDE: f64 = 0.23;
/// Resolution (m/s) `x_wind` is stored at; a power of two, so the low mantissa bits are zero as
/// in packed-then-unpacked model output.
const WIND_QUANTUM: f64 = 1.0 / 64.0;

/// A function that writes one benchmark file at the given path.
type FileWriter = fn(&Path) -> Result<()>;

/// Creates `dir` and writes `coads_like.nc` and `x_wind.nc` into it. Returns the paths.
///
/// `x_wind.nc` is about 190 MB of floats before compression; it is written one chunk row at a
/// time, so memory stays around a megabyte.
///
/// # Errors
///
/// The folder cannot be created, or the netCDF library fails to write; the error names the file.
pub fn write_bench_files(dir: &Path) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(dir).map_err(|source| Error::io("creating directory", dir, source))?;
    let writers: [(&str, FileWriter); 2] = [
        ("coads_like.nc", write_coads_like),
        ("x_wind.nc", write_x_wind),
    ];
    writers
        .iter()
        .map(|(name, write)| {
            let path = dir.join(name);
            write(&path).map_err(|error| error.in_file(&path))?;
            Ok(path)
        })
        .collect()
}

/// Writes `coads_like.nc`: SST, AIRT, UWND, VWND over (TIME, COADSY, COADSX), one chunk per
/// month, uncompressed, land cells missing.
fn write_coads_like(path: &Path) -> Result<()> {
    let mut file = netcdf::create_with(path, Options::NETCDF4)?;
    file.add_dimension("TIME", COADS_TIMES)?;
    file.add_dimension("COADSY", COADS_Y)?;
    file.add_dimension("COADSX", COADS_X)?;

    let mut time = file.add_variable::<f64>("TIME", &["TIME"])?;
    time.put_attribute("units", "hour since 0000-01-01 00:00:00")?;
    time.put_attribute("time_origin", "1-JAN-0000 00:00:00")?;
    time.put_attribute("modulo", " ")?;
    let mut lat = file.add_variable::<f64>("COADSY", &["COADSY"])?;
    lat.put_attribute("units", "degrees_north")?;
    lat.put_attribute("point_spacing", "even")?;
    let mut lon = file.add_variable::<f64>("COADSX", &["COADSX"])?;
    lon.put_attribute("units", "degrees_east")?;
    lon.put_attribute("modulo", 360.0_f64)?;
    lon.put_attribute("point_spacing", "even")?;

    let variables = [
        ("SST", "SEA SURFACE TEMPERATURE", "Deg C"),
        ("AIRT", "AIR TEMPERATURE", "DEG C"),
        ("UWND", "ZONAL WIND", "M/S"),
        ("VWND", "MERIDIONAL WIND", "M/S"),
    ];
    for (name, long_name, units) in variables {
        let mut variable = file.add_variable::<f32>(name, &["TIME", "COADSY", "COADSX"])?;
        variable.set_chunking(&[1, COADS_Y, COADS_X])?;
        variable.set_fill_value(COADS_FILL)?;
        variable.put_attribute("missing_value", COADS_FILL)?;
        variable.put_attribute("long_name", long_name)?;
        variable.put_attribute("units", units)?;
    }
    file.add_attribute(
        "history",
        "fathom testdata: COADS-climatology-shaped benchmark grid",
    )?;
    file.add_attribute("title", "COADS-like monthly climatology (synthetic)")?;

    let latitudes = linspace(-89.0, 2.0, COADS_Y);
    let longitudes = linspace(21.0, 2.0, COADS_X);
    put_1d(&mut file, "TIME", &linspace(366.0, 730.485, COADS_TIMES))?;
    put_1d(&mut file, "COADSY", &latitudes)?;
    put_1d(&mut file, "COADSX", &longitudes)?;
    for month in 0..COADS_TIMES {
        write_coads_month(&mut file, month, &latitudes, &longitudes)?;
    }
    file.close()?;
    Ok(())
}

/// Writes one month (one chunk) of each COADS-like variable.
fn write_coads_month(
    file: &mut FileMut,
    month: usize,
    latitudes: &[f64],
    longitudes: &[f64],
) -> Result<()> {
    let cells = COADS_Y * COADS_X;
    let (mut sst, mut airt, mut uwnd, mut vwnd) = (
        Vec::with_capacity(cells),
        Vec::with_capacity(cells),
        Vec::with_capacity(cells),
        Vec::with_capacity(cells),
    );
    // The seasonal cycle: the warm belt and the winds shift north and south over the year.
    let season = (TAU * index_f64(month) / 12.0).sin();
    for (y, &lat) in latitudes.iter().enumerate() {
        for (x, &lon) in longitudes.iter().enumerate() {
            if is_land(lat, lon) {
                for values in [&mut sst, &mut airt, &mut uwnd, &mut vwnd] {
                    values.push(COADS_FILL);
                }
                continue;
            }
            let noise = position_noise(5, &[month, y, x]);
            let shifted = lat - 8.0 * season;
            let radians = shifted.to_radians();
            sst.push(to_f32(
                sea_surface_temperature_c(shifted, lon, 0) + 0.3 * noise,
                3,
            ));
            airt.push(to_f32(
                air_temperature_k(shifted, lon, 0) - 273.15 + 0.5 * noise,
                3,
            ));
            // Trade easterlies, mid-latitude westerlies, polar easterlies.
            let zonal =
                -7.0 * (3.0 * radians).cos() * radians.cos() + 1.5 * (lon.to_radians() * 2.0).sin();
            uwnd.push(to_f32(zonal + 0.8 * noise, 3));
            let meridional = -3.0 * (2.0 * radians).sin() + 1.0 * (lon.to_radians() * 3.0).cos();
            vwnd.push(to_f32(meridional - 0.6 * noise, 3));
        }
    }
    let extents = [month..month + 1, 0..COADS_Y, 0..COADS_X];
    put(file, "SST", &sst, &extents)?;
    put(file, "AIRT", &airt, &extents)?;
    put(file, "UWND", &uwnd, &extents)?;
    put(file, "VWND", &vwnd, &extents)
}

/// Writes `x_wind.nc`: `x_wind(time, level, y, x)` float, chunks 1×13×1×20000, shuffle +
/// deflate level 4, one chunk row at a time.
fn write_x_wind(path: &Path) -> Result<()> {
    let mut file = netcdf::create_with(path, Options::NETCDF4)?;
    file.add_dimension("time", WIND_TIMES)?;
    file.add_dimension("level", WIND_LEVELS)?;
    file.add_dimension("y", 1)?;
    file.add_dimension("x", WIND_X)?;

    let mut time = file.add_variable::<f64>("time", &["time"])?;
    time.put_attribute("standard_name", "time")?;
    time.put_attribute("units", "hours since 2020-01-01 00:00:00")?;
    let mut level = file.add_variable::<i32>("level", &["level"])?;
    level.put_attribute("long_name", "model level number")?;
    level.put_attribute("positive", "down")?;
    level.put_attribute("units", "1")?;
    let mut y = file.add_variable::<f32>("y", &["y"])?;
    y.put_attribute("standard_name", "projection_y_coordinate")?;
    y.put_attribute("units", "m")?;
    let mut x = file.add_variable::<f32>("x", &["x"])?;
    x.put_attribute("standard_name", "projection_x_coordinate")?;
    x.put_attribute("units", "m")?;

    let mut wind = file.add_variable::<f32>("x_wind", &["time", "level", "y", "x"])?;
    wind.set_chunking(&WIND_CHUNKS)?;
    wind.set_compression(4, true)?;
    wind.put_attribute("standard_name", "x_wind")?;
    wind.put_attribute("long_name", "Wind component along the grid x axis")?;
    wind.put_attribute("units", "m s-1")?;
    file.add_attribute("title", "fathom benchmark: large compressed model field")?;
    file.add_attribute("Conventions", "CF-1.8")?;

    put_1d(&mut file, "time", &linspace(0.0, 1.0, WIND_TIMES))?;
    let levels: Vec<i32> = (1..=WIND_LEVELS)
        .map(|level| i32::try_from(level).unwrap_or(i32::MAX))
        .collect();
    put_1d(&mut file, "level", &levels)?;
    put_1d(&mut file, "y", &[0.0_f32])?;
    let x_metres: Vec<f32> = linspace(0.0, 2500.0, WIND_X)
        .into_iter()
        .map(|metres| to_f32(metres, 0))
        .collect();
    put_1d(&mut file, "x", &x_metres)?;

    let [_, levels_per_chunk, _, _] = WIND_CHUNKS;
    let mut noise = Xorshift64::new(0x5EED_F1E1_D000_0001);
    let mut chunk = Vec::with_capacity(levels_per_chunk * WIND_X);
    for step in 0..WIND_TIMES {
        for first_level in (0..WIND_LEVELS).step_by(levels_per_chunk) {
            chunk.clear();
            for level in first_level..first_level + levels_per_chunk {
                for column in 0..WIND_X {
                    let value = x_wind_m_s(step, level, column)
                        + WIND_NOISE_AMPLITUDE * noise.next_signed();
                    // Exact: a multiple of 1/64 below 2^17 fits a float's 24-bit mantissa.
                    #[allow(clippy::cast_possible_truncation)]
                    chunk.push(quantize(value, WIND_QUANTUM) as f32);
                }
            }
            put(
                &mut file,
                "x_wind",
                &chunk,
                &[
                    step..step + 1,
                    first_level..first_level + levels_per_chunk,
                    0..1,
                    0..WIND_X,
                ],
            )?;
        }
    }
    file.close()?;
    Ok(())
}

/// The smooth part of `x_wind`: a jet that strengthens with height, with waves along x that
/// travel with time.
fn x_wind_m_s(step: usize, level: usize, column: usize) -> f64 {
    // Level 1 is the model top; the jet peaks a quarter of the way down.
    let height = 1.0 - index_f64(level) / index_f64(WIND_LEVELS - 1);
    let jet = 35.0 * (-((height - 0.75) / 0.15).powi(2)).exp() + 5.0 * height;
    let phase = TAU * index_f64(column) / 4000.0 - 0.2 * index_f64(step);
    jet + 8.0 * phase.sin() * (0.5 + height) + 3.0 * (2.7 * phase + index_f64(level) / 10.0).cos()
}
