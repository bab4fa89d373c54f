//! The sample set as a reader meets it: each file reopened with the `netcdf` crate (and raw
//! netCDF-C where the crate has no query), checking format, dimensions, types, values, fill
//! values and storage settings; then determinism across two runs.

mod support;

use std::path::{Path, PathBuf};

use netcdf::AttributeValue;
use netcdf::types::{FloatType, IntType, NcVariableType};
use netcdf_sys as sys;
use support::{RawReader, ScratchDir, ncdump};
use testdata::{sample_file_names, write_samples};

/// Writes the sample set into a fresh scratch folder.
fn fresh_samples(label: &str) -> (ScratchDir, Vec<PathBuf>) {
    let scratch = ScratchDir::new(label);
    let paths = write_samples(scratch.path()).expect("the sample set is written");
    (scratch, paths)
}

fn open(dir: &Path, name: &str) -> netcdf::File {
    netcdf::open(dir.join(name)).expect("sample opens")
}

/// (name, length) of each dimension of a variable.
fn shape(variable: &netcdf::Variable<'_>) -> Vec<(String, usize)> {
    variable
        .dimensions()
        .iter()
        .map(|dimension| (dimension.name(), dimension.len()))
        .collect()
}

fn dims(pairs: &[(&str, usize)]) -> Vec<(String, usize)> {
    pairs
        .iter()
        .map(|&(name, len)| (name.to_owned(), len))
        .collect()
}

fn attribute(variable: &netcdf::Variable<'_>, name: &str) -> AttributeValue {
    variable
        .attribute_value(name)
        .unwrap_or_else(|| panic!("attribute {name} exists"))
        .expect("attribute reads")
}

fn global(file: &netcdf::File, name: &str) -> AttributeValue {
    file.attribute(name)
        .unwrap_or_else(|| panic!("global attribute {name} exists"))
        .value()
        .expect("attribute reads")
}

/// Fails unless, along each dimension, some pair of neighbouring non-fill cells differs, so a
/// reader that swaps or drops a dimension cannot pass a value check.
fn assert_varies_along_every_dimension(values: &[f64], shape: &[usize], fill: f64) {
    assert_eq!(values.len(), shape.iter().product::<usize>());
    for axis in 0..shape.len() {
        let stride: usize = shape[axis + 1..].iter().product();
        let varies = (0..values.len())
            .filter(|&index| (index / stride) % shape[axis] + 1 < shape[axis])
            .any(|index| {
                let (here, next) = (values[index], values[index + stride]);
                here != fill && next != fill && here != next
            });
        assert!(varies, "values do not change along axis {axis}");
    }
}

#[test]
fn the_sample_set_is_small_and_complete() {
    let (scratch, paths) = fresh_samples("complete");
    let names: Vec<&str> = sample_file_names().collect();
    assert_eq!(names.len(), paths.len());
    let mut total = 0;
    for (name, path) in names.iter().zip(&paths) {
        assert_eq!(path, &scratch.path().join(name));
        let size = std::fs::metadata(path).expect("written").len();
        assert!(size < 200_000, "{name} is {size} bytes");
        total += size;
    }
    assert!(total < 500_000, "the set is {total} bytes");
}

#[test]
fn classic_nc_is_a_cdf1_grid_with_stations_and_every_classic_type() {
    let (scratch, _) = fresh_samples("classic");
    let path = scratch.path().join("classic.nc");
    assert_eq!(RawReader::open(&path).format(), sys::NC_FORMAT_CLASSIC);
    let file = open(scratch.path(), "classic.nc");

    let time = file.dimension("time").expect("time");
    assert!(time.is_unlimited());
    assert_eq!(time.len(), 4);
    for (name, len) in [("lat", 6), ("lon", 8), ("station", 3), ("name_strlen", 12)] {
        assert_eq!(file.dimension_len(name), Some(len), "{name}");
    }

    let hours = file.variable("time").expect("time variable");
    assert_eq!(
        attribute(&hours, "units"),
        AttributeValue::Str("hours since 2000-01-01 00:00:00".into())
    );
    assert_eq!(
        hours.get_values::<f64, _>(..).expect("reads"),
        [0.0, 6.0, 12.0, 18.0]
    );

    let temperature = file.variable("temperature").expect("temperature");
    assert_eq!(temperature.vartype(), NcVariableType::Float(FloatType::F32));
    assert_eq!(
        shape(&temperature),
        dims(&[("time", 4), ("lat", 6), ("lon", 8)])
    );
    assert_eq!(
        temperature.fill_value::<f32>().expect("reads"),
        Some(-999.0)
    );
    let kelvin: Vec<f32> = temperature.get_values(..).expect("reads");
    assert_eq!(kelvin[0], 247.04);
    assert_eq!(kelvin[48 + 3], -999.0, "(1, 0, 3) is missing");
    assert!(
        kelvin
            .iter()
            .filter(|&&value| value != -999.0)
            .all(|&value| (200.0..320.0).contains(&value))
    );
    let kelvin: Vec<f64> = kelvin.into_iter().map(f64::from).collect();
    assert_varies_along_every_dimension(&kelvin, &[4, 6, 8], -999.0);

    let pressure = file.variable("pressure").expect("pressure");
    assert_eq!(pressure.vartype(), NcVariableType::Int(IntType::I16));
    assert_eq!(
        attribute(&pressure, "scale_factor"),
        AttributeValue::Float(0.01)
    );
    assert_eq!(
        attribute(&pressure, "add_offset"),
        AttributeValue::Float(1000.0)
    );
    assert_eq!(
        attribute(&pressure, "_FillValue"),
        AttributeValue::Short(-32767)
    );
    let packed: Vec<i16> = pressure.get_values(..).expect("reads");
    assert!(packed.contains(&-32767));
    assert!(
        packed.iter().any(|&value| value < 0),
        "packed values straddle the offset"
    );

    let names = file.variable("station_name").expect("station_name");
    assert_eq!(names.vartype(), NcVariableType::Char);
    let chars = names.get_raw_values(..).expect("reads");
    let rows: Vec<String> = chars
        .chunks(12)
        .map(|row| {
            String::from_utf8_lossy(row)
                .trim_end_matches('\0')
                .to_owned()
        })
        .collect();
    assert_eq!(rows, ["Ny-Alesund", "Oslo", "Mauna Loa"]);
    assert_eq!(chars[12 + 4], 0, "short names are NUL padded");

    let elevation = file
        .variable("station_elevation")
        .expect("station_elevation");
    assert_eq!(
        elevation.get_values::<i32, _>(..).expect("reads"),
        [8, 94, 3397]
    );
    let flags = file.variable("quality_flag").expect("quality_flag");
    assert_eq!(flags.vartype(), NcVariableType::Int(IntType::I8));
    assert_eq!(shape(&flags), dims(&[("time", 4), ("station", 3)]));
    assert!(flags.get_values::<i8, _>(..).expect("reads").contains(&-2));

    let height = file.variable("reference_height").expect("reference_height");
    assert!(height.dimensions().is_empty());
    assert_eq!(height.get_value::<f64, _>(()).expect("reads"), 2.0);

    assert_eq!(
        global(&file, "Conventions"),
        AttributeValue::Str("CF-1.8".into())
    );
    assert_eq!(
        global(&file, "processing_flags"),
        AttributeValue::Schars(vec![-128, -1, 0, 1, 127])
    );
    assert_eq!(global(&file, "station_count"), AttributeValue::Short(3));
    assert_eq!(
        global(&file, "reference_date"),
        AttributeValue::Ints(vec![2000, 1, 1])
    );
    assert_eq!(
        global(&file, "geospatial_lat_resolution"),
        AttributeValue::Float(30.0)
    );
    assert_eq!(
        global(&file, "geospatial_bounds_west_south_east_north"),
        AttributeValue::Doubles(vec![0.0, -75.0, 315.0, 75.0])
    );
}

#[test]
fn offset64_nc_is_a_cdf2_record_grid_with_land_missing() {
    let (scratch, _) = fresh_samples("offset64");
    assert_eq!(
        RawReader::open(&scratch.path().join("offset64.nc")).format(),
        sys::NC_FORMAT_64BIT_OFFSET
    );
    let file = open(scratch.path(), "offset64.nc");
    assert!(file.dimension("time").expect("time").is_unlimited());
    let sst = file.variable("sst").expect("sst");
    assert_eq!(sst.vartype(), NcVariableType::Float(FloatType::F64));
    assert_eq!(shape(&sst), dims(&[("time", 3), ("lat", 5), ("lon", 10)]));
    assert_eq!(sst.fill_value::<f64>().expect("reads"), Some(-1.0e30));
    let values: Vec<f64> = sst.get_values(..).expect("reads");
    let land = values.iter().filter(|&&value| value == -1.0e30).count();
    assert!(land > 0 && land < values.len() / 2, "{land} land cells");
    assert_varies_along_every_dimension(&values, &[3, 5, 10], -1.0e30);
}

#[test]
fn cdf5_nc_holds_unsigned_and_64_bit_extremes() {
    let (scratch, _) = fresh_samples("cdf5");
    assert_eq!(
        RawReader::open(&scratch.path().join("cdf5.nc")).format(),
        sys::NC_FORMAT_CDF5
    );
    let file = open(scratch.path(), "cdf5.nc");
    let variable = |name: &str| file.variable(name).unwrap_or_else(|| panic!("{name}"));

    let quality = variable("quality_level");
    assert_eq!(quality.vartype(), NcVariableType::Int(IntType::U8));
    assert_eq!(
        quality.get_values::<u8, _>(..).expect("reads"),
        [0, 1, 2, 127, 128, 255]
    );
    let counts = variable("detector_counts");
    assert_eq!(counts.vartype(), NcVariableType::Int(IntType::U16));
    assert_eq!(shape(&counts), dims(&[("scan", 6), ("channel", 3)]));
    let counts: Vec<u16> = counts.get_values(..).expect("reads");
    assert_eq!(
        (counts[0], counts[1], counts[3], counts[17]),
        (0, 47, 1040, u16::MAX)
    );
    let frames: Vec<u32> = variable("frame_counter").get_values(..).expect("reads");
    assert_eq!(frames[5], u32::MAX);
    let offsets = variable("exposure_offset");
    assert_eq!(offsets.vartype(), NcVariableType::Int(IntType::I64));
    let offsets: Vec<i64> = offsets.get_values(..).expect("reads");
    assert_eq!(
        (offsets[0], offsets[2], offsets[5]),
        (i64::MIN, -1, i64::MAX)
    );
    let delays = variable("channel_delay");
    assert_eq!(shape(&delays), dims(&[("scan", 6), ("channel", 3)]));
    let photons = variable("photon_total");
    assert_eq!(photons.vartype(), NcVariableType::Int(IntType::U64));
    let photons: Vec<u64> = photons.get_values(..).expect("reads");
    assert_eq!((photons[0], photons[5]), (0, u64::MAX));
    let per_channel: Vec<u64> = variable("channel_photons").get_values(..).expect("reads");
    assert_eq!(per_channel[2], (1 << 54) + 1, "exact beyond 2^53");

    assert_eq!(
        attribute(&variable("quality_level"), "valid_range"),
        AttributeValue::Uchars(vec![0, 255])
    );
    assert_eq!(global(&file, "orbit_number"), AttributeValue::Uint(48_213));
    assert_eq!(
        global(&file, "granule_id"),
        AttributeValue::Ulonglong(18_000_000_000_000_000_001)
    );
    assert_eq!(
        global(&file, "calibration_epochs"),
        AttributeValue::Longlongs(vec![i64::MIN, -1, 0, i64::MAX])
    );
    assert_eq!(
        global(&file, "channel_centres_nm"),
        AttributeValue::Ushorts(vec![470, 555, 659])
    );
}

#[test]
fn groups_nc_nests_groups_that_share_and_shadow_dimensions() {
    let (scratch, _) = fresh_samples("groups");
    assert_eq!(
        RawReader::open(&scratch.path().join("groups.nc")).format(),
        sys::NC_FORMAT_NETCDF4
    );
    let file = open(scratch.path(), "groups.nc");
    assert_eq!(file.dimension_len("time"), Some(4));
    assert_eq!(
        global(&file, "Conventions"),
        AttributeValue::Str("CF-1.8".into())
    );

    let forecast = file.group("forecast").expect("groups").expect("forecast");
    assert_eq!(
        forecast
            .attribute_value("model")
            .expect("model")
            .expect("reads"),
        AttributeValue::Str("fathom toy model".into())
    );
    let temperature = forecast
        .variable("air_temperature")
        .expect("air_temperature");
    assert_eq!(
        shape(&temperature),
        dims(&[("lead_time", 3), ("lat", 5), ("lon", 6)])
    );
    assert_eq!(
        temperature.fill_value::<f32>().expect("reads"),
        Some(-9999.0)
    );
    let values: Vec<f64> = temperature
        .get_values::<f32, _>(..)
        .expect("reads")
        .into_iter()
        .map(f64::from)
        .collect();
    assert_eq!(values[7], -9999.0);
    assert_varies_along_every_dimension(&values, &[3, 5, 6], -9999.0);

    let surface = file
        .group("forecast/surface")
        .expect("groups")
        .expect("surface");
    assert_eq!(
        surface
            .attribute_value("height_above_ground")
            .expect("attribute")
            .expect("reads"),
        AttributeValue::Float(10.0)
    );
    let names: Vec<String> = surface
        .variables()
        .map(|variable| variable.name())
        .collect();
    assert_eq!(names, ["precipitation_rate", "wind_speed"]);
    assert_eq!(
        shape(&surface.variable("wind_speed").expect("wind_speed")),
        dims(&[("lead_time", 3), ("lat", 5), ("lon", 6)])
    );

    let observations = file
        .group("observations")
        .expect("groups")
        .expect("observations");
    let own_time = observations.dimension("time").expect("its own time");
    assert!(own_time.is_unlimited());
    assert_eq!(own_time.len(), 5, "shadows the root time of length 4");
    let station = observations.variable("station_id").expect("station_id");
    assert_eq!(station.vartype(), NcVariableType::String);
    assert_eq!(shape(&station), dims(&[("time", 5)]));
    assert_eq!(
        RawReader::open(&scratch.path().join("groups.nc")).strings("observations/station_id", 5),
        ["ENGM", "ENBR", "Tromsø", "ENZV", "ENGM"]
    );
}

#[test]
fn types_nc_has_every_atomic_and_user_defined_type() {
    let (scratch, _) = fresh_samples("types");
    let path = scratch.path().join("types.nc");
    let raw = RawReader::open(&path);
    assert_eq!(raw.format(), sys::NC_FORMAT_NETCDF4);
    let file = open(scratch.path(), "types.nc");

    let numeric = [
        ("byte", NcVariableType::Int(IntType::I8)),
        ("ubyte", NcVariableType::Int(IntType::U8)),
        ("short", NcVariableType::Int(IntType::I16)),
        ("ushort", NcVariableType::Int(IntType::U16)),
        ("int", NcVariableType::Int(IntType::I32)),
        ("uint", NcVariableType::Int(IntType::U32)),
        ("int64", NcVariableType::Int(IntType::I64)),
        ("uint64", NcVariableType::Int(IntType::U64)),
        ("float", NcVariableType::Float(FloatType::F32)),
        ("double", NcVariableType::Float(FloatType::F64)),
    ];
    for (name, vartype) in numeric {
        for (suffix, expected_shape) in [
            ("scalar", dims(&[])),
            ("1d", dims(&[("sample", 8)])),
            ("2d", dims(&[("row", 2), ("col", 3)])),
        ] {
            let variable = file
                .variable(&format!("{name}_{suffix}"))
                .unwrap_or_else(|| panic!("{name}_{suffix}"));
            assert_eq!(variable.vartype(), vartype, "{name}_{suffix}");
            assert_eq!(shape(&variable), expected_shape, "{name}_{suffix}");
        }
    }
    let bytes: Vec<i8> = file
        .variable("byte_1d")
        .expect("byte_1d")
        .get_values(..)
        .expect("reads");
    assert_eq!((bytes[0], bytes[7]), (i8::MIN, i8::MAX));
    let longs: Vec<u64> = file
        .variable("uint64_1d")
        .expect("uint64_1d")
        .get_values(..)
        .expect("reads");
    assert_eq!((longs[3], longs[7]), (9_007_199_254_740_993, u64::MAX));
    let floats: Vec<f32> = file
        .variable("float_1d")
        .expect("float_1d")
        .get_values(..)
        .expect("reads");
    assert_eq!(floats[0], f32::MIN);
    assert!(floats[5].is_nan());
    assert_eq!((floats[6], floats[7]), (f32::INFINITY, f32::NEG_INFINITY));
    let table: Vec<f64> = file
        .variable("double_2d")
        .expect("double_2d")
        .get_values(..)
        .expect("reads");
    assert_eq!(table, [-0.25, -1.25, -2.25, 10.5, 11.5, 12.5]);
    assert_eq!(
        file.variable("int64_scalar")
            .expect("int64_scalar")
            .get_value::<i64, _>(())
            .expect("reads"),
        -1_234_567_890_123_456_789
    );

    let codes = file.variable("icao_code").expect("icao_code");
    assert_eq!(codes.vartype(), NcVariableType::Char);
    assert_eq!(&codes.get_raw_values(..).expect("reads")[..8], b"ENGMENBR");
    assert_eq!(
        raw.strings("place_name", 6),
        [
            "Zürich",
            "東京",
            "",
            "say \"hello\" \\ goodbye",
            "tab\tand newline\n",
            "Tromsø & <Ålesund>"
        ]
    );
    assert_eq!(raw.strings("dataset_label", 1), ["every type, once"]);

    let clouds = file.variable("cloud_type").expect("cloud_type");
    let NcVariableType::Enum(cloud_t) = clouds.vartype() else {
        panic!("cloud_type is an enum");
    };
    assert_eq!(cloud_t.name, "cloud_t");
    assert_eq!(
        cloud_t.fieldnames,
        ["Clear", "Cumulonimbus", "Stratus", "Missing"]
    );
    assert_eq!(clouds.get_raw_values(..).expect("reads"), [0, 1, 255, 2]);
    let (fill_type, fill) = raw.attribute_bytes(Some("cloud_type"), "_FillValue");
    assert!(
        fill_type > sys::NC_MAX_ATOMIC_TYPE,
        "the fill value has the enum type"
    );
    assert_eq!(fill, [255]);
    let (mode_type, mode) = raw.attribute_bytes(Some("cloud_type"), "climatological_mode");
    assert_eq!((mode_type, mode), (fill_type, vec![2]));

    let packets = file.variable("raw_packet").expect("raw_packet");
    assert!(matches!(packets.vartype(), NcVariableType::Opaque(ref opaque) if opaque.size == 5));
    assert_eq!(
        &packets.get_raw_values(..).expect("reads")[..5],
        [0xDE, 0xAD, 0xBE, 0xEF, 0x00]
    );

    let observations = file.variable("surface_obs").expect("surface_obs");
    let NcVariableType::Compound(station_obs_t) = observations.vartype() else {
        panic!("surface_obs is a compound");
    };
    let fields: Vec<(&str, usize, Option<Vec<usize>>)> = station_obs_t
        .fields
        .iter()
        .map(|field| (field.name.as_str(), field.offset, field.arraydims.clone()))
        .collect();
    assert_eq!(
        fields,
        [
            ("station_id", 0, None),
            ("temperature", 8, None),
            ("location", 16, None),
            ("wind_uvw", 24, Some(vec![3]))
        ]
    );
    assert!(
        matches!(station_obs_t.fields[2].basetype, NcVariableType::Compound(ref location) if location.name == "location_t")
    );
    let records = observations.get_raw_values(..).expect("reads");
    assert_eq!(records.len(), 4 * 40);
    let second = &records[40..80];
    let read_f32 =
        |offset: usize| f32::from_ne_bytes(second[offset..offset + 4].try_into().expect("4 bytes"));
    assert_eq!(
        i32::from_ne_bytes(second[0..4].try_into().expect("4 bytes")),
        1317
    );
    assert_eq!(
        f64::from_ne_bytes(second[8..16].try_into().expect("8 bytes")),
        281.65
    );
    assert_eq!((read_f32(16), read_f32(20)), (60.39, 5.32));
    assert_eq!(
        (read_f32(24), read_f32(28), read_f32(32)),
        (-7.0, 2.5, 0.125)
    );
    assert_eq!(&second[4..8], [0; 4], "padding is zeroed");

    assert_eq!(
        raw.vlen_i32_rows("lightning_strikes", 4),
        [vec![3, 1, 4], vec![], vec![42], vec![-1, 0, 5, 9, 2, 6]]
    );

    assert_eq!(
        global(&file, "title"),
        AttributeValue::Str("fathom sample: every netCDF-4 type — Zürich, 東京, Tromsø".into())
    );
    assert_eq!(
        global(&file, "keywords"),
        AttributeValue::Strs(vec![
            "types".into(),
            "Zürich".into(),
            "東京".into(),
            String::new()
        ])
    );
    assert_eq!(global(&file, "ubyte_attribute"), AttributeValue::Uchar(255));
    assert_eq!(
        global(&file, "int64_attribute"),
        AttributeValue::Longlongs(vec![i64::MIN, i64::MAX])
    );
    assert_eq!(
        global(&file, "uint64_attribute"),
        AttributeValue::Ulonglong(u64::MAX)
    );
    let AttributeValue::Floats(specials) = global(&file, "float_attribute") else {
        panic!("float_attribute is a float array");
    };
    assert!(specials[0].is_nan() && specials[1] == f32::INFINITY);
}

#[test]
fn chunked_nc_has_uneven_chunks_filters_and_unwritten_chunks() {
    let (scratch, _) = fresh_samples("chunked");
    let path = scratch.path().join("chunked.nc");
    let raw = RawReader::open(&path);
    assert_eq!(raw.format(), sys::NC_FORMAT_NETCDF4);
    let file = open(scratch.path(), "chunked.nc");
    let time = file.dimension("time").expect("time");
    assert!(time.is_unlimited());
    assert_eq!(time.len(), 10);

    let precip = file.variable("precip").expect("precip");
    assert_eq!(
        shape(&precip),
        dims(&[("time", 10), ("lat", 45), ("lon", 90)])
    );
    assert_eq!(precip.chunking().expect("reads"), Some(vec![4, 20, 32]));
    assert_eq!(raw.filters("precip"), (true, Some(4), false));
    assert_eq!(precip.fill_value::<f32>().expect("reads"), Some(-999.0));
    let rain: Vec<f32> = precip.get_values(..).expect("reads");
    assert_eq!(
        rain[3 * 4050 + 20 * 90 + 40],
        -999.0,
        "inside the outage box"
    );
    assert!(rain.iter().all(|&value| value == -999.0 || value >= 0.0));
    let rain: Vec<f64> = rain.into_iter().map(f64::from).collect();
    assert_varies_along_every_dimension(&rain, &[10, 45, 90], -999.0);

    let wind = file.variable("wind_speed").expect("wind_speed");
    assert_eq!(wind.chunking().expect("reads"), Some(vec![4, 20, 32]));
    assert_eq!(raw.filters("wind_speed"), (false, Some(2), true));

    let snow = file.variable("snow_depth").expect("snow_depth");
    assert_eq!(snow.chunking().expect("reads"), Some(vec![5, 15, 30]));
    assert_eq!(raw.filters("snow_depth"), (true, Some(1), false));
    let depth: Vec<f32> = snow.get_values(..).expect("reads");
    assert_eq!(depth.len(), 10 * 45 * 90);
    let at = |t: usize, y: usize, x: usize| depth[t * 4050 + y * 90 + x];
    assert_eq!(at(0, 0, 0), -999.0, "southern chunk never written");
    assert_eq!(at(7, 40, 10), -999.0, "later records never written");
    assert!(
        at(0, 40, 10) >= 0.0,
        "northern chunk of the first records written"
    );
}

#[test]
fn two_runs_write_the_same_content() {
    let (first, first_paths) = fresh_samples("run-a");
    let (second, _) = fresh_samples("run-b");
    let mut byte_identical = Vec::new();
    for path in &first_paths {
        let name = path.file_name().expect("file name");
        let other = second.path().join(name);
        let Some(dump) = ncdump(path) else {
            eprintln!("ncdump not installed; skipping the ncdump comparison");
            return;
        };
        assert_eq!(dump, ncdump(&other).expect("ncdump ran once"), "{name:?}");
        let same_bytes = std::fs::read(path).expect("read") == std::fs::read(&other).expect("read");
        byte_identical.push((name.to_string_lossy().into_owned(), same_bytes));
    }
    eprintln!("byte-identical across runs: {byte_identical:?}");
    // netCDF-3 files have no timestamps or allocation history: they must match byte for byte.
    for (name, same_bytes) in &byte_identical {
        if ["classic.nc", "offset64.nc", "cdf5.nc"].contains(&name.as_str()) {
            assert!(same_bytes, "{name} differs in bytes");
        }
    }
    drop(first);
}
