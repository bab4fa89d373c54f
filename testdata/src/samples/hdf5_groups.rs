//! `hdf5_groups.h5`: a plain HDF5 file (no netCDF conventions) as h5py-style writers make them —
//! nested groups with attributes, dimension scales shared across groups (one unlimited and
//! chunked, one big-endian), data attached to them, datasets without scales (phony dimensions),
//! fixed- and variable-length strings, big-endian data, a scalar, a user-set fill value, and an
//! empty group.

use std::path::Path;

use hdf5::types::{FixedAscii, VarLenUnicode};

use super::hdf5_scales::{Scales, big_endian, fixed_text};
use super::to_f32;
use crate::error::{Error, Result};
use crate::fields::{air_temperature_k, index_f64, linspace, position_noise};

/// Records along the unlimited `time` scale.
const TIMES: usize = 6;
/// Latitudes (from 60°N, 2.5° apart).
const LATS: usize = 5;
/// Longitudes (from 0°E, 2.5° apart).
const LONS: usize = 8;
/// Forecast lead times in `/forecast`.
const LEADS: usize = 4;
/// Station names: non-ASCII, empty, long.
const STATIONS: [&str; 3] = ["Tromsø", "", "Longyearbyen airport"];
/// Fixed-width station codes (NUL-padded to 8).
const CODES: [&str; 3] = ["ENTC", "", "ENSB-2"];
/// Marker of missing surface temperatures.
const TEMPERATURE_FILL: f32 = -999.0;

fn unicode(s: &str) -> Result<VarLenUnicode> {
    s.parse::<VarLenUnicode>()
        .map_err(|e| Error::Hdf5(hdf5::Error::from(format!("{s:?}: {e}"))))
}

/// Writes `hdf5_groups.h5` at `path`.
pub(crate) fn write(path: &Path) -> Result<()> {
    let file = hdf5::File::create(path)?;
    let mut scales = Scales::default();

    file.new_attr::<VarLenUnicode>()
        .create("title")?
        .write_scalar(&unicode(
            "fathom sample: plain HDF5 with groups and scales",
        )?)?;
    file.new_attr::<FixedAscii<24>>()
        .create("institution")?
        .write_scalar(&fixed_text::<24>("fathom test data")?)?;
    file.new_attr_builder()
        .with_data(&[1_i32, 2, 3])
        .create("version")?;
    file.new_attr::<f64>()
        .create("pi")?
        .write_scalar(&std::f64::consts::PI)?;

    // Coordinates: an unlimited chunked time, latitudes, big-endian longitudes.
    let time = linspace(0.0, 6.0, TIMES);
    let time_ds = file
        .new_dataset::<f64>()
        .chunk(4)
        .shape((TIMES..,))
        .create("time")?;
    time_ds.write(&time)?;
    time_ds
        .new_attr::<VarLenUnicode>()
        .create("units")?
        .write_scalar(&unicode("hours since 2000-01-01")?)?;
    let lat: Vec<f32> = linspace(60.0, 2.5, LATS)
        .iter()
        .map(|&v| to_f32(v, 2))
        .collect();
    file.new_dataset_builder().with_data(&lat).create("lat")?;
    let lon: Vec<f32> = linspace(0.0, 2.5, LONS)
        .iter()
        .map(|&v| to_f32(v, 2))
        .collect();
    file.new_dataset_builder()
        .empty_as(&big_endian(&hdf5::globals::H5T_IEEE_F32BE)?)
        .shape(LONS)
        .create("lon")?
        .write(&lon)?;
    for s in ["/time", "/lat", "/lon"] {
        scales.make_scale(&file, s)?;
    }

    // A field over all three, with a fill value and a few missing values.
    let mut temperature = Vec::with_capacity(TIMES * LATS * LONS);
    for t in 0..TIMES {
        for (i, &la) in lat.iter().enumerate() {
            for (j, &lo) in lon.iter().enumerate() {
                let v = air_temperature_k(f64::from(la), f64::from(lo), t)
                    + position_noise(11, &[t, i, j]);
                temperature.push(if (t + i + j) % 17 == 3 {
                    TEMPERATURE_FILL
                } else {
                    to_f32(v, 2)
                });
            }
        }
    }
    let arr = ndarray::Array3::from_shape_vec((TIMES, LATS, LONS), temperature)
        .map_err(|e| Error::Hdf5(hdf5::Error::from(e.to_string())))?;
    let st = file
        .new_dataset_builder()
        .with_data(&arr)
        .fill_value(TEMPERATURE_FILL)
        .create("surface_temperature")?;
    st.new_attr::<VarLenUnicode>()
        .create("units")?
        .write_scalar(&unicode("K")?)?;
    st.new_attr::<FixedAscii<32>>()
        .create("long_name")?
        .write_scalar(&fixed_text::<32>("surface air temperature")?)?;
    scales.attach(
        &file,
        "/surface_temperature",
        &[Some("/time"), Some("/lat"), Some("/lon")],
    )?;

    // Strings without scales: both of length 3, so they share one phony dimension.
    let names: Vec<VarLenUnicode> = STATIONS.iter().map(|s| unicode(s)).collect::<Result<_>>()?;
    file.new_dataset_builder()
        .with_data(&names)
        .create("station_names")?;
    let codes: Vec<FixedAscii<8>> = CODES
        .iter()
        .map(|s| fixed_text::<8>(s))
        .collect::<Result<_>>()?;
    file.new_dataset_builder()
        .with_data(&codes)
        .create("station_codes")?;

    write_forecast(&file, &mut scales, &lat, &lon)?;

    let empty = file.create_group("empty")?;
    empty
        .new_attr::<VarLenUnicode>()
        .create("comment")?
        .write_scalar(&unicode("a group with nothing in it")?)?;

    scales.finish(&file)?;
    file.close()?;
    Ok(())
}

/// `/forecast` with its own lead-time scale, and `/forecast/surface` using the root's scales
/// and data without scales.
fn write_forecast(file: &hdf5::File, scales: &mut Scales, lat: &[f32], lon: &[f32]) -> Result<()> {
    let forecast = file.create_group("forecast")?;
    forecast
        .new_attr::<VarLenUnicode>()
        .create("model")?
        .write_scalar(&unicode("fathom toy model")?)?;
    forecast
        .new_attr::<i32>()
        .create("ensemble_members")?
        .write_scalar(&1)?;
    let lead: Vec<i16> = (0..LEADS)
        .map(|k| i16::try_from(k * 12).unwrap_or(i16::MAX))
        .collect();
    forecast
        .new_dataset_builder()
        .with_data(&lead)
        .create("lead_time")?;
    scales.make_scale(file, "/forecast/lead_time")?;

    let mut values = Vec::with_capacity(LEADS * LATS * LONS);
    for k in 0..LEADS {
        for (i, &la) in lat.iter().enumerate() {
            for (j, &lo) in lon.iter().enumerate() {
                let v = air_temperature_k(f64::from(la), f64::from(lo), k + 2)
                    + position_noise(12, &[k, i, j]);
                values.push(v);
            }
        }
    }
    let arr = ndarray::Array3::from_shape_vec((LEADS, LATS, LONS), values)
        .map_err(|e| Error::Hdf5(hdf5::Error::from(e.to_string())))?;
    forecast
        .new_dataset_builder()
        .with_data(&arr)
        .create("temperature")?;
    scales.attach(
        file,
        "/forecast/temperature",
        &[Some("/forecast/lead_time"), Some("/lat"), Some("/lon")],
    )?;

    let surface = forecast.create_group("surface")?;
    // Big-endian integers attached to the root's scales.
    let pressure: Vec<i32> = (0..LATS * LONS)
        .map(|n| 101_000 + i32::try_from(n * 37 % 900).unwrap_or(0) - 450)
        .collect();
    let be_int = big_endian(&hdf5::globals::H5T_STD_I32BE)?;
    let p = surface
        .new_dataset_builder()
        .empty_as(&be_int)
        .shape((LATS, LONS))
        .create("pressure")?;
    p.write_raw(&pressure)?;
    scales.attach(
        file,
        "/forecast/surface/pressure",
        &[Some("/lat"), Some("/lon")],
    )?;
    // The same shape without scales: phony dimensions of this group.
    let mask: Vec<u8> = (0..LATS * LONS).map(|n| u8::from(n % 3 == 0)).collect();
    let mask = ndarray::Array2::from_shape_vec((LATS, LONS), mask)
        .map_err(|e| Error::Hdf5(hdf5::Error::from(e.to_string())))?;
    surface
        .new_dataset_builder()
        .with_data(&mask)
        .create("land_mask")?;
    // Scale on one dimension only: the other is phony.
    let roughness: Vec<f32> = (0..LONS * LATS)
        .map(|n| to_f32(0.01 + index_f64(n) * 0.003, 4))
        .collect();
    let roughness = ndarray::Array2::from_shape_vec((LONS, LATS), roughness)
        .map_err(|e| Error::Hdf5(hdf5::Error::from(e.to_string())))?;
    surface
        .new_dataset_builder()
        .with_data(&roughness)
        .create("roughness")?;
    scales.attach(file, "/forecast/surface/roughness", &[Some("/lon"), None])?;
    surface
        .new_dataset_builder()
        .with_data(&ndarray::arr0(850.0_f64))
        .create("level")?;
    Ok(())
}
