//! `cf_grid.nc`: a netCDF-4 CF grid for coordinate queries (OGC API – EDR, NCSS): latitudes
//! running north to south, longitudes in −180–180, a depth axis (`positive = "down"`), and a
//! time axis in the `noleap` calendar, so 2000-02-29 does not exist and the third step is
//! 2000-03-01. `temp` (float) has fill cells and a NaN; `salt` is a double.

use std::path::Path;

use netcdf::FileMut;

use super::{put, put_1d, put_coordinate_attributes};
use crate::error::Result;

/// Latitudes, degrees north, descending.
const LATITUDES: [f32; 7] = [60.0, 40.0, 20.0, 0.0, -20.0, -40.0, -60.0];
/// Longitudes, degrees east, −180 to 150.
const LONGITUDES: [f32; 12] = [
    -180.0, -150.0, -120.0, -90.0, -60.0, -30.0, 0.0, 30.0, 60.0, 90.0, 120.0, 150.0,
];
/// Depths, metres (positive down).
const DEPTHS: [f64; 3] = [0.0, 10.0, 50.0];
/// Days since 2000-02-27 in the `noleap` calendar.
const TIMES: [f64; 4] = [0.0, 1.0, 2.0, 3.5];
/// Missing-data marker of `temp`.
const TEMP_FILL: f32 = -9999.0;
/// (time, depth, lat, lon) cells of `temp` left at the fill value.
const FILL_CELLS: [(usize, usize, usize, usize); 2] = [(0, 0, 0, 0), (1, 2, 3, 6)];
/// A cell of `temp` holding NaN (also "no data" to CF readers).
const NAN_CELL: (usize, usize, usize, usize) = (2, 1, 2, 7);

/// Writes `cf_grid.nc` at `path`.
pub(crate) fn write(path: &Path) -> Result<()> {
    let mut file = netcdf::create_with(path, netcdf::Options::NETCDF4)?;
    define(&mut file)?;
    fill(&mut file)?;
    file.close()?;
    Ok(())
}

fn define(file: &mut FileMut) -> Result<()> {
    file.add_attribute("Conventions", "CF-1.8")?;
    file.add_attribute("title", "CF grid sample: descending latitudes, noleap time")?;
    file.add_dimension("time", TIMES.len())?;
    file.add_dimension("depth", DEPTHS.len())?;
    file.add_dimension("lat", LATITUDES.len())?;
    file.add_dimension("lon", LONGITUDES.len())?;
    let mut time = file.add_variable::<f64>("time", &["time"])?;
    put_coordinate_attributes(
        &mut time,
        "time",
        "time",
        "days since 2000-02-27 00:00:00",
        "T",
    )?;
    time.put_attribute("calendar", "noleap")?;
    let mut depth = file.add_variable::<f64>("depth", &["depth"])?;
    put_coordinate_attributes(&mut depth, "depth", "depth below the surface", "m", "Z")?;
    depth.put_attribute("positive", "down")?;
    let mut lat = file.add_variable::<f32>("lat", &["lat"])?;
    put_coordinate_attributes(&mut lat, "latitude", "latitude", "degrees_north", "Y")?;
    let mut lon = file.add_variable::<f32>("lon", &["lon"])?;
    put_coordinate_attributes(&mut lon, "longitude", "longitude", "degrees_east", "X")?;
    let dims = ["time", "depth", "lat", "lon"];
    let mut temp = file.add_variable::<f32>("temp", &dims)?;
    temp.put_attribute("standard_name", "sea_water_temperature")?;
    temp.put_attribute("long_name", "Sea water temperature")?;
    temp.put_attribute("units", "degree_Celsius")?;
    temp.put_attribute("_FillValue", TEMP_FILL)?;
    let mut salt = file.add_variable::<f64>("salt", &dims)?;
    salt.put_attribute("standard_name", "sea_water_salinity")?;
    salt.put_attribute("long_name", "Sea water salinity")?;
    salt.put_attribute("units", "1e-3")?;
    Ok(())
}

fn fill(file: &mut FileMut) -> Result<()> {
    put_1d(file, "time", &TIMES)?;
    put_1d(file, "depth", &DEPTHS)?;
    put_1d(file, "lat", &LATITUDES)?;
    put_1d(file, "lon", &LONGITUDES)?;
    let shape = [TIMES.len(), DEPTHS.len(), LATITUDES.len(), LONGITUDES.len()];
    let n: usize = shape.iter().product();
    let mut temp = Vec::with_capacity(n);
    let mut salt = Vec::with_capacity(n);
    for (t, _) in TIMES.iter().enumerate() {
        for (z, depth) in DEPTHS.iter().enumerate() {
            for (y, lat) in LATITUDES.iter().enumerate() {
                for (x, lon) in LONGITUDES.iter().enumerate() {
                    let cell = (t, z, y, x);
                    // Values with long decimal expansions, so exact number printing shows.
                    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
                    let v = 28.0_f32 - lat.abs() * 0.3 + lon * 0.01 - (*depth as f32) * 0.1
                        + t as f32 * 0.1;
                    temp.push(if FILL_CELLS.contains(&cell) {
                        TEMP_FILL
                    } else if cell == NAN_CELL {
                        f32::NAN
                    } else {
                        v
                    });
                    #[allow(clippy::cast_precision_loss)]
                    salt.push(35.0 + f64::from(*lat) / 7.0 + depth / 300.0 + t as f64 / 3.0);
                }
            }
        }
    }
    let extents: Vec<std::ops::Range<usize>> = shape.iter().map(|&n| 0..n).collect();
    put(file, "temp", &temp, &extents)?;
    put(file, "salt", &salt, &extents)?;
    Ok(())
}
