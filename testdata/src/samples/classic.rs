//! `classic.nc`: a netCDF-3 classic (CDF-1) file with a record dimension, packed and filled
//! variables, a char array, a scalar, and global attributes of every classic type.

use std::path::Path;

use netcdf::{FileMut, Options};

use super::{NcChar, fixed_width_chars, put, put_1d, put_coordinate_attributes, to_f32};
use crate::error::Result;
use crate::fields::{air_temperature_k, linspace, position_noise, sea_level_pressure_hpa};

/// Records along the unlimited `time` dimension.
const TIME_RECORDS: usize = 4;
/// Grid latitudes, degrees north.
const LATITUDES: [f32; 6] = [-75.0, -45.0, -15.0, 15.0, 45.0, 75.0];
/// Grid longitudes, degrees east.
const LONGITUDES: [f32; 8] = [0.0, 45.0, 90.0, 135.0, 180.0, 225.0, 270.0, 315.0];
/// Station names, each shorter than `name_strlen` so readers must strip the NUL padding.
const STATION_NAMES: [&str; 3] = ["Ny-Alesund", "Oslo", "Mauna Loa"];
/// Width of the `station_name` char rows.
const NAME_STRLEN: usize = 12;
/// Missing-data marker of `temperature`.
const TEMPERATURE_FILL: f32 = -999.0;
/// Missing-data marker of the packed `pressure`.
const PRESSURE_FILL: i16 = -32767;
/// Packing of `pressure`: hPa = packed * scale + offset.
const PRESSURE_SCALE: f32 = 0.01;
/// See [`PRESSURE_SCALE`].
const PRESSURE_OFFSET: f32 = 1000.0;
/// (time, lat, lon) cells left missing in `temperature` and `pressure`, so fill handling shows.
const MISSING_CELLS: [(usize, usize, usize); 3] = [(1, 0, 3), (2, 5, 7), (3, 2, 0)];

/// Writes `classic.nc` at `path`.
pub(crate) fn write(path: &Path) -> Result<()> {
    let mut file = netcdf::create_with(path, Options::empty())?;
    define(&mut file)?;
    file.enddef()?;
    fill(&mut file)?;
    file.close()?;
    Ok(())
}

/// Defines dimensions, variables and attributes (netCDF-3 wants them all before any data).
fn define(file: &mut FileMut) -> Result<()> {
    file.add_unlimited_dimension("time")?;
    file.add_dimension("lat", LATITUDES.len())?;
    file.add_dimension("lon", LONGITUDES.len())?;
    file.add_dimension("station", STATION_NAMES.len())?;
    file.add_dimension("name_strlen", NAME_STRLEN)?;

    let mut time = file.add_variable::<f64>("time", &["time"])?;
    put_coordinate_attributes(
        &mut time,
        "time",
        "time",
        "hours since 2000-01-01 00:00:00",
        "T",
    )?;
    time.put_attribute("calendar", "standard")?;
    let mut lat = file.add_variable::<f32>("lat", &["lat"])?;
    put_coordinate_attributes(&mut lat, "latitude", "latitude", "degrees_north", "Y")?;
    let mut lon = file.add_variable::<f32>("lon", &["lon"])?;
    put_coordinate_attributes(&mut lon, "longitude", "longitude", "degrees_east", "X")?;

    let mut temperature = file.add_variable::<f32>("temperature", &["time", "lat", "lon"])?;
    temperature.put_attribute("standard_name", "air_temperature")?;
    temperature.put_attribute("long_name", "Air temperature at 2 m")?;
    temperature.put_attribute("units", "K")?;
    temperature.put_attribute("_FillValue", TEMPERATURE_FILL)?;
    temperature.put_attribute("valid_min", 150.0_f32)?;
    temperature.put_attribute("valid_max", 350.0_f32)?;
    temperature.put_attribute("coordinates", "reference_height")?;
    temperature.put_attribute("cell_methods", "time: point")?;

    let mut pressure = file.add_variable::<i16>("pressure", &["time", "lat", "lon"])?;
    pressure.put_attribute("standard_name", "air_pressure_at_mean_sea_level")?;
    pressure.put_attribute("long_name", "Mean sea-level pressure")?;
    pressure.put_attribute("units", "hPa")?;
    pressure.put_attribute("scale_factor", PRESSURE_SCALE)?;
    pressure.put_attribute("add_offset", PRESSURE_OFFSET)?;
    pressure.put_attribute("_FillValue", PRESSURE_FILL)?;

    let mut station_name = file.add_variable_with_type(
        "station_name",
        &["station", "name_strlen"],
        &netcdf::types::NcVariableType::Char,
    )?;
    station_name.put_attribute("long_name", "station name")?;
    station_name.put_attribute("cf_role", "timeseries_id")?;

    let mut elevation = file.add_variable::<i32>("station_elevation", &["station"])?;
    elevation.put_attribute("standard_name", "surface_altitude")?;
    elevation.put_attribute("long_name", "station elevation above mean sea level")?;
    elevation.put_attribute("units", "m")?;

    let mut flag = file.add_variable::<i8>("quality_flag", &["time", "station"])?;
    flag.put_attribute("long_name", "station data quality flag")?;
    flag.put_attribute("standard_name", "status_flag")?;
    flag.put_attribute("flag_values", vec![-2_i8, -1, 0, 1, 2])?;
    flag.put_attribute(
        "flag_meanings",
        "instrument_failure not_checked good suspect bad",
    )?;
    flag.put_attribute("coordinates", "station_name")?;

    let mut height = file.add_variable::<f64>("reference_height", &[])?;
    height.put_attribute("standard_name", "height")?;
    height.put_attribute("long_name", "height of the temperature sensor above ground")?;
    height.put_attribute("units", "m")?;
    height.put_attribute("positive", "up")?;

    // Global attributes, one of each classic type (char, byte, short, int, float, double).
    file.add_attribute("title", "fathom sample: classic netCDF-3 grid and stations")?;
    file.add_attribute("institution", "fathom test data generator")?;
    file.add_attribute(
        "source",
        "synthetic fields computed from sines of lat, lon and time",
    )?;
    file.add_attribute(
        "history",
        "created by the fathom testdata crate (deterministic; no timestamp)",
    )?;
    file.add_attribute("Conventions", "CF-1.8")?;
    file.add_attribute("featureType", "timeSeries")?;
    file.add_attribute("processing_flags", vec![-128_i8, -1, 0, 1, 127])?;
    file.add_attribute("station_count", 3_i16)?;
    file.add_attribute("reference_date", vec![2000_i32, 1, 1])?;
    file.add_attribute("geospatial_lat_resolution", 30.0_f32)?;
    file.add_attribute(
        "geospatial_bounds_west_south_east_north",
        vec![0.0_f64, -75.0, 315.0, 75.0],
    )?;
    Ok(())
}

/// Writes the data, record by record along the unlimited dimension.
fn fill(file: &mut FileMut) -> Result<()> {
    let hours = linspace(0.0, 6.0, TIME_RECORDS);
    put_1d(file, "time", &hours)?;
    put_1d(file, "lat", &LATITUDES)?;
    put_1d(file, "lon", &LONGITUDES)?;

    let cells = LATITUDES.len() * LONGITUDES.len();
    for step in 0..TIME_RECORDS {
        let mut temperature = Vec::with_capacity(cells);
        let mut pressure = Vec::with_capacity(cells);
        for (lat_index, &lat) in LATITUDES.iter().enumerate() {
            for (lon_index, &lon) in LONGITUDES.iter().enumerate() {
                if MISSING_CELLS.contains(&(step, lat_index, lon_index)) {
                    temperature.push(TEMPERATURE_FILL);
                    pressure.push(PRESSURE_FILL);
                    continue;
                }
                let noise = position_noise(1, &[step, lat_index, lon_index]);
                let kelvin = air_temperature_k(f64::from(lat), f64::from(lon), step) + 0.3 * noise;
                temperature.push(to_f32(kelvin, 2));
                let hpa = sea_level_pressure_hpa(f64::from(lat), f64::from(lon), step) + noise;
                pressure.push(pack_pressure(hpa));
            }
        }
        let record = [step..step + 1, 0..LATITUDES.len(), 0..LONGITUDES.len()];
        put(file, "temperature", &temperature, record.as_slice())?;
        put(file, "pressure", &pressure, record.as_slice())?;
        // Quality flags include the negative codes so signed bytes must stay signed.
        let flags: Vec<i8> = (0..STATION_NAMES.len())
            .map(|station| match (step * 3 + station) % 7 {
                0 => -2,
                1 | 4 => -1,
                2 | 5 => 0,
                3 => 1,
                _ => 2,
            })
            .collect();
        put(
            file,
            "quality_flag",
            &flags,
            [step..step + 1, 0..3].as_slice(),
        )?;
    }

    let names = fixed_width_chars(&STATION_NAMES, NAME_STRLEN);
    put::<NcChar>(
        file,
        "station_name",
        &names,
        [0..STATION_NAMES.len(), 0..NAME_STRLEN].as_slice(),
    )?;
    put_1d(file, "station_elevation", &[8_i32, 94, 3397])?;
    put(file, "reference_height", &[2.0_f64], [].as_slice())?;
    Ok(())
}

/// Packs a pressure in hPa into the `short` stored in the file.
fn pack_pressure(hpa: f64) -> i16 {
    let packed = ((hpa - f64::from(PRESSURE_OFFSET)) / f64::from(PRESSURE_SCALE)).round();
    // The fields stay within ±100 hPa of the offset, far inside the short range; clamp anyway.
    #[allow(clippy::cast_possible_truncation)]
    let packed = packed.clamp(-32766.0, 32767.0) as i16;
    packed
}
