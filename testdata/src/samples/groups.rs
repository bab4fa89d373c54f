//! `groups.nc`: a netCDF-4 file with nested groups — dimensions inherited from ancestors, group
//! attributes, a string variable, an unlimited dimension inside a group, and the dimension name
//! `time` defined twice with different lengths (`/time` and `/observations/time`).

use std::path::Path;

use netcdf::{FileMut, Options};

use super::{put, put_1d, put_coordinate_attributes, to_f32};
use crate::error::Result;
use crate::fields::{
    air_temperature_k, linspace, position_noise, precipitation_mm_per_day, wind_speed_m_s,
};

/// Analysis times in the root group.
const ROOT_TIMES: usize = 4;
/// Root latitudes (from 50°N, 2.5° apart).
const LAT_COUNT: usize = 5;
/// Root longitudes (from 0°E, 2.5° apart).
const LON_COUNT: usize = 6;
/// Forecast lead times in `/forecast`.
const LEAD_TIMES: usize = 3;
/// Observation records along `/observations/time` (unlimited).
const OBSERVATIONS: usize = 5;
/// Station identifiers, one per observation; includes non-ASCII text.
const STATION_IDS: [&str; OBSERVATIONS] = ["ENGM", "ENBR", "Tromsø", "ENZV", "ENGM"];
/// Missing-data marker of the forecast and observation temperatures.
const TEMPERATURE_FILL: f32 = -9999.0;

/// Writes `groups.nc` at `path`.
pub(crate) fn write(path: &Path) -> Result<()> {
    let mut file = netcdf::create_with(path, Options::NETCDF4)?;
    define_root(&mut file)?;
    define_forecast(&mut file)?;
    define_observations(&mut file)?;
    fill(&mut file)?;
    file.close()?;
    Ok(())
}

/// Root dimensions, coordinates, a 2-D field and global attributes.
fn define_root(file: &mut FileMut) -> Result<()> {
    file.add_dimension("time", ROOT_TIMES)?;
    file.add_dimension("lat", LAT_COUNT)?;
    file.add_dimension("lon", LON_COUNT)?;
    let mut time = file.add_variable::<f64>("time", &["time"])?;
    put_coordinate_attributes(
        &mut time,
        "time",
        "analysis time",
        "hours since 2000-01-01",
        "T",
    )?;
    let mut lat = file.add_variable::<f32>("lat", &["lat"])?;
    put_coordinate_attributes(&mut lat, "latitude", "latitude", "degrees_north", "Y")?;
    let mut lon = file.add_variable::<f32>("lon", &["lon"])?;
    put_coordinate_attributes(&mut lon, "longitude", "longitude", "degrees_east", "X")?;
    let mut orography = file.add_variable::<f32>("orography", &["lat", "lon"])?;
    orography.put_attribute("standard_name", "surface_altitude")?;
    orography.put_attribute("long_name", "model orography")?;
    orography.put_attribute("units", "m")?;

    file.add_attribute("title", "fathom sample: nested groups")?;
    file.add_attribute("Conventions", "CF-1.8")?;
    file.add_attribute("institution", "fathom test data generator")?;
    file.add_attribute(
        "summary",
        "A toy forecast and station observations in separate groups",
    )?;
    Ok(())
}

/// `/forecast` (own `lead_time` dimension, uses root `lat`/`lon`) and `/forecast/surface`.
fn define_forecast(file: &mut FileMut) -> Result<()> {
    let mut forecast = file.add_group("forecast")?;
    forecast.add_attribute("model", "fathom toy model")?;
    forecast.add_attribute("forecast_reference_time", "2000-01-01T00:00:00Z")?;
    forecast.add_attribute("ensemble_members", 1_i32)?;
    forecast.add_dimension("lead_time", LEAD_TIMES)?;
    let mut lead = forecast.add_variable::<f64>("lead_time", &["lead_time"])?;
    lead.put_attribute("standard_name", "forecast_period")?;
    lead.put_attribute("long_name", "forecast lead time")?;
    lead.put_attribute("units", "hours")?;
    let mut temperature =
        forecast.add_variable::<f32>("air_temperature", &["lead_time", "lat", "lon"])?;
    temperature.put_attribute("standard_name", "air_temperature")?;
    temperature.put_attribute("long_name", "Forecast air temperature at 850 hPa")?;
    temperature.put_attribute("units", "K")?;
    temperature.set_fill_value(TEMPERATURE_FILL)?;

    let mut surface = file.add_group("forecast/surface")?;
    surface.add_attribute("level_type", "surface")?;
    surface.add_attribute("height_above_ground", 10.0_f32)?;
    let mut precipitation =
        surface.add_variable::<f32>("precipitation_rate", &["lead_time", "lat", "lon"])?;
    precipitation.put_attribute("standard_name", "lwe_precipitation_rate")?;
    precipitation.put_attribute("long_name", "Forecast precipitation rate")?;
    precipitation.put_attribute("units", "mm day-1")?;
    let mut wind = surface.add_variable::<f32>("wind_speed", &["lead_time", "lat", "lon"])?;
    wind.put_attribute("standard_name", "wind_speed")?;
    wind.put_attribute("long_name", "Forecast 10 m wind speed")?;
    wind.put_attribute("units", "m s-1")?;
    Ok(())
}

/// `/observations`: its own unlimited `time` (shadowing the root `time`), strings and floats.
fn define_observations(file: &mut FileMut) -> Result<()> {
    let mut observations = file.add_group("observations")?;
    observations.add_attribute("platform", "surface weather stations")?;
    observations.add_attribute(
        "comment",
        "time here is this group's own unlimited dimension, not the root /time",
    )?;
    observations.add_unlimited_dimension("time")?;
    let mut time = observations.add_variable::<f64>("time", &["time"])?;
    put_coordinate_attributes(
        &mut time,
        "time",
        "observation time",
        "minutes since 2000-01-01",
        "T",
    )?;
    let mut station = observations.add_string_variable("station_id", &["time"])?;
    station.put_attribute("long_name", "reporting station identifier")?;
    station.put_attribute("cf_role", "timeseries_id")?;
    let mut temperature = observations.add_variable::<f32>("air_temperature", &["time"])?;
    temperature.put_attribute("standard_name", "air_temperature")?;
    temperature.put_attribute("long_name", "Observed 2 m air temperature")?;
    temperature.put_attribute("units", "degC")?;
    temperature.put_attribute("coordinates", "station_id")?;
    temperature.set_fill_value(TEMPERATURE_FILL)?;
    Ok(())
}

/// Writes all data.
fn fill(file: &mut FileMut) -> Result<()> {
    let latitudes = linspace(50.0, 2.5, LAT_COUNT);
    let longitudes = linspace(0.0, 2.5, LON_COUNT);
    let lat_f32: Vec<f32> = latitudes.iter().map(|&lat| to_f32(lat, 2)).collect();
    let lon_f32: Vec<f32> = longitudes.iter().map(|&lon| to_f32(lon, 2)).collect();
    put_1d(file, "time", &linspace(0.0, 6.0, ROOT_TIMES))?;
    put_1d(file, "lat", &lat_f32)?;
    put_1d(file, "lon", &lon_f32)?;
    let orography: Vec<f32> = grid(&latitudes, &longitudes)
        .map(|(lat, lon)| {
            to_f32(
                400.0 + 300.0 * (0.8 * lat).sin() * (0.5 * lon).cos() + 12.0 * lon,
                1,
            )
        })
        .collect();
    put(file, "orography", &orography, &[0..LAT_COUNT, 0..LON_COUNT])?;

    put_1d(file, "forecast/lead_time", &[0.0_f64, 24.0, 48.0])?;
    let shape = [0..LEAD_TIMES, 0..LAT_COUNT, 0..LON_COUNT];
    let mut temperature = Vec::new();
    let mut precipitation = Vec::new();
    let mut wind = Vec::new();
    for lead in 0..LEAD_TIMES {
        for (cell, (lat, lon)) in grid(&latitudes, &longitudes).enumerate() {
            let noise = position_noise(3, &[lead, cell]);
            // The 850 hPa level is colder than the surface by roughly a standard lapse rate.
            temperature.push(to_f32(
                air_temperature_k(lat, lon * 10.0, lead) - 10.0 + noise,
                2,
            ));
            precipitation.push(to_f32(precipitation_mm_per_day(lat, lon * 10.0, lead), 2));
            wind.push(to_f32(
                wind_speed_m_s(lat, lon * 10.0, lead) + 0.5 * noise,
                2,
            ));
        }
    }
    // One forecast cell is missing, to show the group variable's fill value.
    temperature[7] = TEMPERATURE_FILL;
    put(file, "forecast/air_temperature", &temperature, &shape)?;
    put(
        file,
        "forecast/surface/precipitation_rate",
        &precipitation,
        &shape,
    )?;
    put(file, "forecast/surface/wind_speed", &wind, &shape)?;

    put_1d(
        file,
        "observations/time",
        &[0.0_f64, 10.0, 20.0, 30.0, 40.0],
    )?;
    let mut station = file
        .variable_mut("observations/station_id")
        .ok_or_else(|| netcdf::Error::NotFound("variable observations/station_id".to_owned()))?;
    for (index, id) in STATION_IDS.iter().enumerate() {
        station.put_string(id, [index])?;
    }
    put_1d(
        file,
        "observations/air_temperature",
        &[-3.5_f32, 1.25, -11.0, TEMPERATURE_FILL, -2.75],
    )?;
    Ok(())
}

/// The (lat, lon) pairs of a grid in row-major order (longitude varying fastest).
fn grid<'a>(latitudes: &'a [f64], longitudes: &'a [f64]) -> impl Iterator<Item = (f64, f64)> + 'a {
    latitudes
        .iter()
        .flat_map(move |&lat| longitudes.iter().map(move |&lon| (lat, lon)))
}
