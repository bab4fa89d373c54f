//! `cdf5.nc`: a CDF-5 (64-bit data) file holding the types netCDF-3 gained with CDF-5 — ubyte,
//! ushort, uint, int64, uint64 — at their extremes, in variables and attributes.
//!
//! The unsigned maxima equal netCDF's default fill values for those types, so `ncdump` prints
//! them as `_`; that is a real-world trap worth keeping in the samples.

use std::path::Path;

use netcdf::Options;

use super::{put, put_1d};
use crate::error::Result;

/// Scans along the satellite track.
const SCANS: usize = 6;
/// Detector channels per scan.
const CHANNELS: usize = 3;

/// Writes `cdf5.nc` at `path`.
pub(crate) fn write(path: &Path) -> Result<()> {
    let mut file = netcdf::create_with(path, Options::_64BIT_DATA)?;
    file.add_dimension("scan", SCANS)?;
    file.add_dimension("channel", CHANNELS)?;

    let mut quality = file.add_variable::<u8>("quality_level", &["scan"])?;
    quality.put_attribute("long_name", "retrieval quality level (0 = unusable)")?;
    quality.put_attribute("units", "1")?;
    quality.put_attribute("valid_range", vec![u8::MIN, u8::MAX])?;

    let mut counts = file.add_variable::<u16>("detector_counts", &["scan", "channel"])?;
    counts.put_attribute("long_name", "raw detector counts")?;
    counts.put_attribute("units", "count")?;
    counts.put_attribute("saturation_level", u16::MAX)?;

    let mut frames = file.add_variable::<u32>("frame_counter", &["scan"])?;
    frames.put_attribute("long_name", "on-board frame counter")?;
    frames.put_attribute("valid_min", 0_u32)?;
    frames.put_attribute("rollover_values", vec![u32::MAX - 1, u32::MAX])?;

    let mut offsets = file.add_variable::<i64>("exposure_offset", &["scan"])?;
    offsets.put_attribute(
        "long_name",
        "exposure start relative to the granule reference time",
    )?;
    offsets.put_attribute("units", "ns")?;
    offsets.put_attribute("valid_range", vec![i64::MIN, i64::MAX])?;

    let mut offsets_2d = file.add_variable::<i64>("channel_delay", &["scan", "channel"])?;
    offsets_2d.put_attribute(
        "long_name",
        "channel read-out delay relative to the scan start",
    )?;
    offsets_2d.put_attribute("units", "ns")?;

    let mut photons = file.add_variable::<u64>("photon_total", &["scan"])?;
    photons.put_attribute("long_name", "photons counted since launch")?;
    photons.put_attribute("units", "count")?;
    photons.put_attribute("valid_max", u64::MAX)?;

    let mut energy = file.add_variable::<u64>("channel_photons", &["scan", "channel"])?;
    energy.put_attribute("long_name", "photons counted per channel in the scan")?;
    energy.put_attribute("units", "count")?;

    file.add_attribute(
        "title",
        "fathom sample: CDF-5 unsigned and 64-bit integer types",
    )?;
    file.add_attribute("Conventions", "CF-1.8")?;
    file.add_attribute("institution", "fathom test data generator")?;
    file.add_attribute("orbit_number", 48_213_u32)?;
    file.add_attribute("granule_id", 18_000_000_000_000_000_001_u64)?;
    file.add_attribute("reference_time_offset", -1_234_567_890_123_i64)?;
    file.add_attribute("channel_bit_depths", vec![8_u8, 12, 16])?;
    file.add_attribute("channel_centres_nm", vec![470_u16, 555, 659])?;
    file.add_attribute("detector_serials", vec![1_u64, u64::MAX])?;
    file.add_attribute("calibration_epochs", vec![i64::MIN, -1, 0, i64::MAX])?;
    file.add_attribute("gain_table_ids", vec![0_u32, 7, u32::MAX])?;
    file.enddef()?;

    let grid = [0..SCANS, 0..CHANNELS];
    put_1d(&mut file, "quality_level", &[0_u8, 1, 2, 127, 128, u8::MAX])?;
    let counts: Vec<u16> = (0..SCANS * CHANNELS)
        .map(|cell| match cell {
            0 => 0,
            17 => u16::MAX,
            // Distinct per (scan, channel): scan in the thousands, channel in the units.
            _ => u16::try_from(1000 * (cell / CHANNELS) + 7 * (cell % CHANNELS) + 40).unwrap_or(0),
        })
        .collect();
    put(&mut file, "detector_counts", &counts, &grid)?;
    put_1d(
        &mut file,
        "frame_counter",
        &[0_u32, 1, 65_536, 2_147_483_648, u32::MAX - 1, u32::MAX],
    )?;
    put_1d(
        &mut file,
        "exposure_offset",
        &[
            i64::MIN,
            -1_000_000_000_000,
            -1,
            0,
            1_000_000_000_000,
            i64::MAX,
        ],
    )?;
    let delays: Vec<i64> = (0..SCANS * CHANNELS)
        .map(|cell| {
            let (scan, channel) = (cell / CHANNELS, cell % CHANNELS);
            // Negative for channel 0 (read before the scan start), growing with the scan.
            let scan = i64::try_from(scan).unwrap_or(0);
            let channel = i64::try_from(channel).unwrap_or(0);
            (channel - 1) * 5_000_000_000 + scan * 1_000
        })
        .collect();
    put(&mut file, "channel_delay", &delays, &grid)?;
    put_1d(
        &mut file,
        "photon_total",
        &[
            0_u64,
            1,
            4_294_967_296,
            9_223_372_036_854_775_808,
            u64::MAX - 1,
            u64::MAX,
        ],
    )?;
    let photons: Vec<u64> = (0..SCANS * CHANNELS)
        .map(|cell| {
            let (scan, channel) = (cell / CHANNELS, cell % CHANNELS);
            // Beyond 2^53 for the last channel, so a reader that goes through f64 loses digits.
            (1_u64 << (20 + 17 * channel)) + 1_000_003 * scan as u64 + 1
        })
        .collect();
    put(&mut file, "channel_photons", &photons, &grid)?;
    file.close()?;
    Ok(())
}
