//! `offset64.nc`: a netCDF-3 64-bit-offset (CDF-2) file with a small sea-surface-temperature
//! grid along a record dimension.

use std::path::Path;

use netcdf::Options;

use super::{put, put_1d, put_coordinate_attributes};
use crate::error::Result;
use crate::fields::{is_land, linspace, position_noise, quantize, sea_surface_temperature_c};

/// Records along the unlimited `time` dimension.
const TIME_RECORDS: usize = 3;
/// Number of latitudes (10° apart, from 40°S).
const LAT_COUNT: usize = 5;
/// Number of longitudes (36° apart, from 0°E).
const LON_COUNT: usize = 10;
/// Missing-data marker (land cells).
const SST_FILL: f64 = -1.0e30;

/// Writes `offset64.nc` at `path`.
pub(crate) fn write(path: &Path) -> Result<()> {
    let mut file = netcdf::create_with(path, Options::_64BIT_OFFSET)?;
    file.add_unlimited_dimension("time")?;
    file.add_dimension("lat", LAT_COUNT)?;
    file.add_dimension("lon", LON_COUNT)?;

    let mut time = file.add_variable::<f64>("time", &["time"])?;
    put_coordinate_attributes(&mut time, "time", "time", "days since 1981-09-01", "T")?;
    time.put_attribute("calendar", "gregorian")?;
    let mut lat = file.add_variable::<f64>("lat", &["lat"])?;
    put_coordinate_attributes(&mut lat, "latitude", "latitude", "degrees_north", "Y")?;
    let mut lon = file.add_variable::<f64>("lon", &["lon"])?;
    put_coordinate_attributes(&mut lon, "longitude", "longitude", "degrees_east", "X")?;
    let mut sst = file.add_variable::<f64>("sst", &["time", "lat", "lon"])?;
    sst.put_attribute("standard_name", "sea_surface_temperature")?;
    sst.put_attribute("long_name", "Monthly mean sea surface temperature")?;
    sst.put_attribute("units", "degree_Celsius")?;
    sst.put_attribute("_FillValue", SST_FILL)?;
    sst.put_attribute("valid_range", vec![-2.0_f64, 40.0])?;
    sst.put_attribute("cell_methods", "time: mean")?;

    file.add_attribute("title", "fathom sample: 64-bit offset netCDF-3 SST grid")?;
    file.add_attribute("Conventions", "CF-1.8")?;
    file.add_attribute("institution", "fathom test data generator")?;
    file.add_attribute("source", "synthetic; land cells are missing")?;
    file.enddef()?;

    let latitudes = linspace(-40.0, 20.0, LAT_COUNT);
    let longitudes = linspace(0.0, 36.0, LON_COUNT);
    put_1d(&mut file, "time", &[0.0_f64, 30.0, 61.0])?;
    put_1d(&mut file, "lat", &latitudes)?;
    put_1d(&mut file, "lon", &longitudes)?;
    for step in 0..TIME_RECORDS {
        let mut record = Vec::with_capacity(LAT_COUNT * LON_COUNT);
        for (lat_index, &lat) in latitudes.iter().enumerate() {
            for (lon_index, &lon) in longitudes.iter().enumerate() {
                record.push(if is_land(lat, lon) {
                    SST_FILL
                } else {
                    let noise = position_noise(2, &[step, lat_index, lon_index]);
                    quantize(
                        sea_surface_temperature_c(lat, lon, step) + 0.2 * noise,
                        0.001,
                    )
                });
            }
        }
        put(
            &mut file,
            "sst",
            &record,
            &[step..step + 1, 0..LAT_COUNT, 0..LON_COUNT],
        )?;
    }
    file.close()?;
    Ok(())
}
