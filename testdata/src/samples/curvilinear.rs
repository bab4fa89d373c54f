//! `curvilinear.nc`: a netCDF-4 CF curvilinear grid — data on `(time, y, x)` index dimensions
//! whose positions are 2-D `lat(y, x)` / `lon(y, x)` variables named by the data variable's
//! `coordinates` attribute, as ocean models (ROMS, NEMO) and swath products write them. The
//! grid is a rotated, sheared patch over the North Atlantic, so no row is a line of latitude
//! and no column a meridian. `sst` (float) has a fill cell.

use std::path::Path;

use netcdf::FileMut;

use super::{put, put_1d};
use crate::error::Result;

/// Rows (`y`).
const NY: usize = 5;
/// Columns (`x`).
const NX: usize = 6;
/// Days since 2010-01-01.
const TIMES: [f64; 3] = [0.0, 1.0, 2.0];
/// Missing-data marker of `sst`.
const SST_FILL: f32 = -999.0;
/// The (time, y, x) cell of `sst` left at the fill value.
const FILL_CELL: (usize, usize, usize) = (1, 2, 3);

/// The longitude and latitude of cell (`j`, `i`): 2° steps, rotated by about 20°.
#[allow(clippy::cast_precision_loss)]
fn position(j: usize, i: usize) -> (f64, f64) {
    let (x, y) = (i as f64 * 2.0, j as f64 * 2.0);
    (-40.0 + 0.94 * x - 0.34 * y, 30.0 + 0.34 * x + 0.94 * y)
}

/// Writes `curvilinear.nc` at `path`.
pub(crate) fn write(path: &Path) -> Result<()> {
    let mut file = netcdf::create_with(path, netcdf::Options::NETCDF4)?;
    define(&mut file)?;
    fill(&mut file)?;
    file.close()?;
    Ok(())
}

fn define(file: &mut FileMut) -> Result<()> {
    file.add_attribute("Conventions", "CF-1.8")?;
    file.add_attribute(
        "title",
        "CF curvilinear grid sample: 2-D latitude and longitude",
    )?;
    file.add_dimension("time", TIMES.len())?;
    file.add_dimension("y", NY)?;
    file.add_dimension("x", NX)?;
    let mut time = file.add_variable::<f64>("time", &["time"])?;
    time.put_attribute("standard_name", "time")?;
    time.put_attribute("units", "days since 2010-01-01")?;
    time.put_attribute("calendar", "standard")?;
    time.put_attribute("axis", "T")?;
    let mut lat = file.add_variable::<f64>("lat", &["y", "x"])?;
    lat.put_attribute("standard_name", "latitude")?;
    lat.put_attribute("units", "degrees_north")?;
    let mut lon = file.add_variable::<f64>("lon", &["y", "x"])?;
    lon.put_attribute("standard_name", "longitude")?;
    lon.put_attribute("units", "degrees_east")?;
    let mut sst = file.add_variable::<f32>("sst", &["time", "y", "x"])?;
    sst.put_attribute("standard_name", "sea_surface_temperature")?;
    sst.put_attribute("units", "K")?;
    sst.put_attribute("coordinates", "lon lat")?;
    sst.put_attribute("_FillValue", SST_FILL)?;
    Ok(())
}

fn fill(file: &mut FileMut) -> Result<()> {
    put_1d(file, "time", &TIMES)?;
    let mut lat = Vec::with_capacity(NY * NX);
    let mut lon = Vec::with_capacity(NY * NX);
    for j in 0..NY {
        for i in 0..NX {
            let (x, y) = position(j, i);
            lon.push(x);
            lat.push(y);
        }
    }
    put(file, "lat", &lat, &[0..NY, 0..NX])?;
    put(file, "lon", &lon, &[0..NY, 0..NX])?;
    let mut sst = Vec::with_capacity(TIMES.len() * NY * NX);
    for t in 0..TIMES.len() {
        for j in 0..NY {
            for i in 0..NX {
                #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
                let v = 290.0_f32 - lat[j * NX + i] as f32 * 0.2 + t as f32 * 0.05 + i as f32 / 7.0;
                sst.push(if (t, j, i) == FILL_CELL { SST_FILL } else { v });
            }
        }
    }
    put(file, "sst", &sst, &[0..TIMES.len(), 0..NY, 0..NX])?;
    Ok(())
}
