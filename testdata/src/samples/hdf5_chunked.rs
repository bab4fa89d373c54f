//! `hdf5_chunked.h5`: HDF5 storage without any dimension scales — a 3-D field chunked with
//! chunks that divide no dimension, compressed with deflate, shuffle and fletcher32; a sparse
//! chunked dataset most of whose chunks were never written (they read as its fill value); a
//! big-endian chunked and deflated dataset; a contiguous dataset; a contiguous dataset
//! never written (all fill value); and datasets of equal shapes that share phony dimensions.

use std::path::Path;

use super::hdf5_scales::big_endian;
use super::to_f32;
use crate::error::{Error, Result};
use crate::fields::{air_temperature_k, index_f64, position_noise};

/// Shape of the compressed field.
const FIELD: [usize; 3] = [12, 30, 40];
/// Its chunks, dividing none of the dimensions.
const FIELD_CHUNKS: [usize; 3] = [5, 11, 16];
/// Shape of the sparse dataset.
const SPARSE: [usize; 2] = [50, 60];
/// What its unwritten chunks read as.
const SPARSE_FILL: i16 = -32000;

fn shape_error(e: impl std::fmt::Display) -> Error {
    Error::Hdf5(hdf5::Error::from(e.to_string()))
}

/// Writes `hdf5_chunked.h5` at `path`.
pub(crate) fn write(path: &Path) -> Result<()> {
    let file = hdf5::File::create(path)?;

    let mut field = Vec::with_capacity(FIELD.iter().product());
    for t in 0..FIELD[0] {
        for i in 0..FIELD[1] {
            for j in 0..FIELD[2] {
                let lat = -60.0 + index_f64(i) * 4.0;
                let lon = index_f64(j) * 9.0;
                let v = air_temperature_k(lat, lon, t) + position_noise(21, &[t, i, j]);
                field.push(to_f32(v, 2));
            }
        }
    }
    let field = ndarray::Array3::from_shape_vec(FIELD, field).map_err(shape_error)?;
    file.new_dataset_builder()
        .with_data(&field)
        .chunk(FIELD_CHUNKS)
        .shuffle()
        .deflate(4)
        .fletcher32()
        .create("field")?;

    // Only a diagonal band of chunks is written.
    let sparse = file
        .new_dataset::<i16>()
        .shape(SPARSE)
        .chunk((10, 10))
        .deflate(1)
        .fill_value(SPARSE_FILL)
        .create("sparse")?;
    for k in 0..5_usize {
        let block: Vec<i16> = (0..100)
            .map(|n| i16::try_from(k * 1000 + n).unwrap_or(i16::MAX))
            .collect();
        let block = ndarray::Array2::from_shape_vec((10, 10), block).map_err(shape_error)?;
        sparse.write_slice(
            &block,
            ndarray::s![k * 10..k * 10 + 10, k * 10..k * 10 + 10],
        )?;
    }

    // Big-endian, chunked and compressed, with a ragged last chunk.
    let be: Vec<i32> = (0..7 * 9).map(|n| n * n - 500).collect();
    let ds = file
        .new_dataset_builder()
        .empty_as(&big_endian(&hdf5::globals::H5T_STD_I32BE)?)
        .shape((7, 9))
        .chunk((4, 4))
        .deflate(6)
        .create("big_endian")?;
    ds.write_raw(&be)?;

    // Contiguous, several rows per engine piece.
    let rows: Vec<f64> = (0..90 * 110).map(|n| index_f64(n).sqrt() * 0.5).collect();
    let rows = ndarray::Array2::from_shape_vec((90, 110), rows).map_err(shape_error)?;
    file.new_dataset_builder()
        .with_data(&rows)
        .create("contiguous")?;

    // Never written: every element is the fill value.
    file.new_dataset::<f32>()
        .shape(25)
        .fill_value(3.5_f32)
        .create("unwritten")?;

    // Equal shapes share phony dimensions; 30 × 30 uses two distinct ones.
    file.new_dataset_builder()
        .with_data(&ndarray::Array2::from_shape_fn((30, 30), |(i, j)| {
            u16::try_from(i * 30 + j).unwrap_or(0)
        }))
        .create("square")?;
    file.new_dataset_builder()
        .with_data(&ndarray::Array1::from_shape_fn(30, |i| {
            i8::try_from(i).unwrap_or(0) - 15
        }))
        .create("row")?;
    file.close()?;
    Ok(())
}
