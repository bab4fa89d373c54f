//! `hdf5_types.h5`: HDF5's user-defined and string types as h5py and C writers use them — a
//! committed compound type (nested compound, array member, enum member, fixed and
//! variable-length string members) used by a dataset and an attribute, an anonymous compound,
//! enums (one h5py-style boolean), variable-length sequences, an HDF5 array type, 2-D
//! variable-length strings, fixed strings of every padding, integers at their extremes, and a
//! compact-layout dataset.

use std::path::Path;

use hdf5::H5Type;
use hdf5::types::{FixedAscii, VarLenArray, VarLenUnicode};

use super::hdf5_scales::fixed_text;
use crate::error::{Error, Result};

/// Rows of the compound and enum datasets.
const ROWS: usize = 4;

/// Sky cover, an enum over `int8`.
#[derive(H5Type, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i8)]
enum Cloud {
    Clear = 0,
    Scattered = 1,
    Broken = 2,
    Overcast = 8,
    Missing = -1,
}

/// A nested record: instrument position.
#[derive(H5Type, Clone, Copy, Debug)]
#[repr(C)]
struct Position {
    level: u8,
    height_m: f32,
}

/// One observation; C layout with padding, which the reader must not copy.
#[derive(H5Type, Clone, Debug)]
#[repr(C)]
struct Observation {
    station_id: i32,
    temperature: f64,
    sky: Cloud,
    wind: [f32; 2],
    code: FixedAscii<6>,
    comment: VarLenUnicode,
    position: Position,
}

/// A small record for the anonymous compound dataset.
#[derive(H5Type, Clone, Copy, Debug)]
#[repr(C)]
struct Pair {
    first: i16,
    second: u64,
}

/// h5py's boolean: an enum over `int8` with FALSE and TRUE.
#[derive(H5Type, Clone, Copy, Debug)]
#[repr(i8)]
#[allow(clippy::upper_case_acronyms)]
enum Bool {
    FALSE = 0,
    TRUE = 1,
}

fn unicode(s: &str) -> Result<VarLenUnicode> {
    s.parse::<VarLenUnicode>()
        .map_err(|e| Error::Hdf5(hdf5::Error::from(format!("{s:?}: {e}"))))
}

fn shape_error(e: impl std::fmt::Display) -> Error {
    Error::Hdf5(hdf5::Error::from(e.to_string()))
}

fn observations() -> Result<Vec<Observation>> {
    let skies = [Cloud::Clear, Cloud::Overcast, Cloud::Missing, Cloud::Broken];
    let codes = ["ENGM", "ENBR12", "", "K"];
    let comments = ["", "fog at dawn", "sensor øverst", "ok"];
    (0..ROWS)
        .map(|i| {
            let x = f64::from(u8::try_from(i).unwrap_or(0));
            Ok(Observation {
                station_id: 1000 + i32::from(u8::try_from(i).unwrap_or(0)) * 7,
                temperature: 270.25 + x * 1.5,
                sky: skies[i],
                wind: [1.5 * (x as f32), -0.25 * (x as f32)],
                code: fixed_text::<6>(codes[i])?,
                comment: unicode(comments[i])?,
                position: Position {
                    level: u8::try_from(i).unwrap_or(0) + 1,
                    height_m: 10.0 + 2.5 * (x as f32),
                },
            })
        })
        .collect()
}

/// Writes `hdf5_types.h5` at `path`.
pub(crate) fn write(path: &Path) -> Result<()> {
    let file = hdf5::File::create(path)?;
    file.new_attr::<VarLenUnicode>()
        .create("title")?
        .write_scalar(&unicode("fathom sample: HDF5 types")?)?;

    // A committed compound type, used by a dataset and an attribute.
    file.commit_datatype("observation", &hdf5::Datatype::from_type::<Observation>()?)?;
    let committed = file.committed_datatype("observation")?;
    let rows = observations()?;
    let obs = file
        .new_dataset_builder()
        .empty_as(committed.as_datatype().clone())
        .shape(ROWS)
        .create("observations")?;
    obs.write_raw(&rows)?;
    obs.new_attr_builder()
        .with_data(&rows[..1])
        .create("reference_observation")?;

    // An anonymous compound, 2-D.
    let pairs: Vec<Pair> = (0..6)
        .map(|i: u16| Pair {
            first: i16::try_from(i).unwrap_or(0) * -3,
            second: u64::from(i) * 1_000_000_007,
        })
        .collect();
    let pairs = ndarray::Array2::from_shape_vec((2, 3), pairs).map_err(shape_error)?;
    file.new_dataset_builder()
        .with_data(&pairs)
        .create("pairs")?;

    // Enums: a named set over int8, and h5py's boolean.
    let sky = [
        Cloud::Clear,
        Cloud::Scattered,
        Cloud::Overcast,
        Cloud::Missing,
        Cloud::Broken,
    ];
    let ds = file.new_dataset_builder().with_data(&sky).create("sky")?;
    ds.new_attr_builder()
        .with_data(&[Cloud::Overcast])
        .create("worst_sky")?;
    file.new_dataset_builder()
        .with_data(&[Bool::TRUE, Bool::FALSE, Bool::TRUE])
        .create("flags")?;

    // Variable-length sequences, including an empty one.
    let ragged: Vec<VarLenArray<i32>> = [&[][..], &[1][..], &[2, 3, 5][..], &[-8, 13][..]]
        .iter()
        .map(|s| VarLenArray::from_slice(s))
        .collect();
    file.new_dataset_builder()
        .with_data(&ragged)
        .create("ragged")?;

    // An HDF5 array type: each of 4 elements is a 2×3 block of int16.
    let blocks: Vec<[[i16; 3]; 2]> = (0..4_i16)
        .map(|k| [[k * 10, k * 10 + 1, k * 10 + 2], [-k, -k - 1, -k - 2]])
        .collect();
    file.new_dataset_builder()
        .with_data(&blocks)
        .create("blocks")?;

    // Strings: 2-D variable-length UTF-8; fixed-length of each padding.
    let labels: Vec<VarLenUnicode> = ["a", "βγ", "", "long label with spaces", "x", "\"quoted\""]
        .iter()
        .map(|s| unicode(s))
        .collect::<Result<_>>()?;
    let labels = ndarray::Array2::from_shape_vec((2, 3), labels).map_err(shape_error)?;
    file.new_dataset_builder()
        .with_data(&labels)
        .create("labels")?;
    let fixed: Vec<FixedAscii<5>> = ["abc", "", "hello"]
        .iter()
        .map(|s| fixed_text::<5>(s))
        .collect::<Result<_>>()?;
    file.new_dataset_builder()
        .with_data(&fixed)
        .create("fixed_nullterm")?;
    let chars: Vec<FixedAscii<1>> = ["N", "S", "E", "W"]
        .iter()
        .map(|s| fixed_text::<1>(s))
        .collect::<Result<_>>()?;
    file.new_dataset_builder()
        .with_data(&chars)
        .create("compass")?;

    // Integer extremes.
    file.new_dataset_builder()
        .with_data(&[i64::MIN, -1, 0, i64::MAX])
        .create("int64_extremes")?;
    file.new_dataset_builder()
        .with_data(&[0_u64, 1, u64::MAX])
        .create("uint64_extremes")?;
    file.new_dataset_builder()
        .with_data(&[
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            -0.0,
            f32::MIN_POSITIVE,
        ])
        .create("float_specials")?;

    // Compact storage: read through the library, not the engine.
    file.new_dataset_builder()
        .with_data(&[3_i32, 1, 4, 1, 5, 9, 2, 6])
        .layout(hdf5::dataset::Layout::Compact)
        .create("compact")?;

    // Attributes of several types on a group.
    let g = file.create_group("attributes")?;
    g.new_attr_builder()
        .with_data(&[1.5_f32, -2.5])
        .create("floats")?;
    g.new_attr_builder()
        .with_data(&[u16::MAX, 0])
        .create("ushorts")?;
    let words: Vec<VarLenUnicode> = ["one", "two", "three"]
        .iter()
        .map(|s| unicode(s))
        .collect::<Result<_>>()?;
    g.new_attr_builder().with_data(&words).create("words")?;
    g.new_attr::<FixedAscii<12>>()
        .create("fixed_text")?
        .write_scalar(&fixed_text::<12>("fixed text")?)?;
    g.new_attr_builder()
        .with_data(&[VarLenArray::from_slice(&[1_i32, 2])])
        .create("sequence")?;
    file.close()?;
    Ok(())
}
