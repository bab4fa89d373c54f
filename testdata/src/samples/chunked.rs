//! `chunked.nc`: netCDF-4 storage features — chunks that do not divide the dimensions, three
//! filter combinations (shuffle + deflate 4; deflate 2 + fletcher32; shuffle + deflate 1), fill
//! values, and a variable with chunks never written (the library returns the fill value for
//! them) whose own extent along the unlimited dimension is shorter than the dimension.
//!
//! Written through the raw API ([`crate::raw`]) because the `netcdf` crate cannot set fletcher32.

use std::path::Path;

use netcdf_sys::NC_NETCDF4;

use crate::error::Result;
use crate::fields::{
    index_f64, is_land, linspace, position_noise, precipitation_mm_per_day, wind_speed_m_s,
};
use crate::raw::{AttributeOwner, Location, RawFile, RawVariable, TypeId};
use crate::samples::to_f32;

/// Records along the unlimited `time` dimension.
const TIME_RECORDS: usize = 10;
/// Latitudes, 4° apart from 88°S to 88°N.
const LAT_COUNT: usize = 45;
/// Longitudes, 4° apart from 0°E.
const LON_COUNT: usize = 90;
/// Chunks of `precip` and `wind_speed`; divides none of the dimensions evenly.
const FIELD_CHUNKS: [usize; 3] = [4, 20, 32];
/// Chunks of `snow_depth`; only some are written.
const SNOW_CHUNKS: [usize; 3] = [5, 15, 30];
/// Missing-data marker of all three data variables.
const FILL: f32 = -999.0;

/// Writes `chunked.nc` at `path`.
pub(crate) fn write(path: &Path) -> Result<()> {
    let file = RawFile::create(path, NC_NETCDF4)?;
    let root = file.root();
    root.put_text_attribute(
        "title",
        "fathom sample: chunked, compressed and checksummed storage",
    )?;
    root.put_text_attribute("Conventions", "CF-1.8")?;
    root.put_text_attribute("institution", "fathom test data generator")?;
    root.put_text_attribute(
        "comment",
        "snow_depth has chunks that were never written; they read as _FillValue",
    )?;

    let time_dim = root.add_dimension("time", None)?;
    let lat_dim = root.add_dimension("lat", Some(LAT_COUNT))?;
    let lon_dim = root.add_dimension("lon", Some(LON_COUNT))?;
    let grid = [time_dim, lat_dim, lon_dim];

    let time = coordinate(
        root,
        "time",
        TypeId::of::<f64>(),
        time_dim,
        "days since 2000-01-01",
        "T",
    )?;
    time.put_text_attribute("calendar", "standard")?;
    let lat = coordinate(
        root,
        "lat",
        TypeId::of::<f32>(),
        lat_dim,
        "degrees_north",
        "Y",
    )?;
    let lon = coordinate(
        root,
        "lon",
        TypeId::of::<f32>(),
        lon_dim,
        "degrees_east",
        "X",
    )?;

    let precip = field(
        root,
        "precip",
        &grid,
        "lwe_precipitation_rate",
        "Precipitation rate",
        "mm day-1",
    )?;
    precip.set_chunking(&FIELD_CHUNKS)?;
    precip.set_deflate(true, 4)?;
    precip.set_fill_value(FILL)?;

    let wind = field(
        root,
        "wind_speed",
        &grid,
        "wind_speed",
        "10 m wind speed",
        "m s-1",
    )?;
    wind.set_chunking(&FIELD_CHUNKS)?;
    // No shuffle: values at 0.1 m/s resolution repeat whole byte patterns that deflate finds
    // better unshuffled (measured: 54 KB against 74 KB with shuffle).
    wind.set_deflate(false, 2)?;
    wind.set_fletcher32()?;
    wind.set_fill_value(FILL)?;

    let snow = field(
        root,
        "snow_depth",
        &grid,
        "surface_snow_thickness",
        "Snow depth",
        "m",
    )?;
    snow.set_chunking(&SNOW_CHUNKS)?;
    snow.set_deflate(true, 1)?;
    snow.set_fill_value(FILL)?;

    let latitudes = linspace(-88.0, 4.0, LAT_COUNT);
    let longitudes = linspace(0.0, 4.0, LON_COUNT);
    let lat_f32: Vec<f32> = latitudes.iter().map(|&value| to_f32(value, 1)).collect();
    let lon_f32: Vec<f32> = longitudes.iter().map(|&value| to_f32(value, 1)).collect();
    lat.put(&[0], &[LAT_COUNT], &lat_f32)?;
    lon.put(&[0], &[LON_COUNT], &lon_f32)?;
    time.put(&[0], &[TIME_RECORDS], &linspace(0.5, 1.0, TIME_RECORDS))?;

    for step in 0..TIME_RECORDS {
        let mut precip_record = Vec::with_capacity(LAT_COUNT * LON_COUNT);
        let mut wind_record = Vec::with_capacity(LAT_COUNT * LON_COUNT);
        for (lat_index, &lat) in latitudes.iter().enumerate() {
            for (lon_index, &lon) in longitudes.iter().enumerate() {
                let noise = position_noise(4, &[step, lat_index, lon_index]);
                // A missing box (a "radar outage") plus scattered missing cells.
                let missing =
                    (step == 3 && (20..24).contains(&lat_index) && (40..46).contains(&lon_index))
                        || noise > 0.995;
                precip_record.push(if missing {
                    FILL
                } else {
                    to_f32(
                        precipitation_mm_per_day(lat, lon, step) * (1.0 + 0.05 * noise),
                        1,
                    )
                });
                wind_record.push(to_f32(wind_speed_m_s(lat, lon, step) + 0.15 * noise, 1));
            }
        }
        let start = [step, 0, 0];
        let count = [1, LAT_COUNT, LON_COUNT];
        precip.put(&start, &count, &precip_record)?;
        wind.put(&start, &count, &wind_record)?;
    }
    write_northern_snow(snow, &latitudes, &longitudes)?;
    file.close()
}

/// A CF coordinate variable.
fn coordinate(
    root: Location,
    name: &str,
    var_type: TypeId,
    dimension: crate::raw::DimensionId,
    units: &str,
    axis: &str,
) -> Result<RawVariable> {
    let variable = root.add_variable(name, var_type, &[dimension])?;
    let standard_name = match axis {
        "T" => "time",
        "Y" => "latitude",
        _ => "longitude",
    };
    variable.put_text_attribute("standard_name", standard_name)?;
    variable.put_text_attribute("long_name", standard_name)?;
    variable.put_text_attribute("units", units)?;
    variable.put_text_attribute("axis", axis)?;
    Ok(variable)
}

/// A float data variable over (time, lat, lon) with its CF attributes.
fn field(
    root: Location,
    name: &str,
    grid: &[crate::raw::DimensionId; 3],
    standard_name: &str,
    long_name: &str,
    units: &str,
) -> Result<RawVariable> {
    let variable = root.add_variable(name, TypeId::of::<f32>(), grid)?;
    variable.put_text_attribute("standard_name", standard_name)?;
    variable.put_text_attribute("long_name", long_name)?;
    variable.put_text_attribute("units", units)?;
    Ok(variable)
}

/// Writes `snow_depth` only in the chunks of the first five records that lie north of 30°N;
/// every other chunk stays unallocated and reads as the fill value.
fn write_northern_snow(snow: RawVariable, latitudes: &[f64], longitudes: &[f64]) -> Result<()> {
    let [time_chunk, lat_chunk, _] = SNOW_CHUNKS;
    let first_lat = LAT_COUNT - lat_chunk;
    let mut values = Vec::with_capacity(time_chunk * lat_chunk * LON_COUNT);
    for step in 0..time_chunk {
        for &lat in &latitudes[first_lat..] {
            for &lon in longitudes {
                // Snow on land, thinner snow on sea ice; deeper towards the pole and later on.
                let surface = if is_land(lat, lon) { 1.0 } else { 0.3 };
                let depth = (lat - 30.0) / 60.0 * 1.2 + 0.05 * index_f64(step) + 0.002 * lon;
                values.push(to_f32(surface * depth.max(0.0), 3));
            }
        }
    }
    snow.put(
        &[0, first_lat, 0],
        &[time_chunk, lat_chunk, LON_COUNT],
        &values,
    )
}
