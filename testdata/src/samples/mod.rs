//! The sample set: small files that together use every netCDF format and type, written one
//! module per file, plus the helpers they share.

mod cdf5;
mod cf_grid;
mod chunked;
mod classic;
mod curvilinear;
mod groups;
mod hdf5_chunked;
mod hdf5_groups;
mod hdf5_references;
mod hdf5_scales;
mod hdf5_types;
mod offset64;
mod types;

use std::ops::Range;
use std::path::Path;

use netcdf::{FileMut, VariableMut};

use crate::error::Result;

/// One sample file: its name in the samples folder and the function that writes it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SampleFile {
    /// File name inside the samples folder.
    pub(crate) name: &'static str,
    /// Writes the file at the given path, overwriting it.
    pub(crate) write: fn(&Path) -> Result<()>,
}

/// The sample set, in the order it is written and returned.
pub(crate) const SAMPLE_FILES: [SampleFile; 12] = [
    SampleFile {
        name: "classic.nc",
        write: classic::write,
    },
    SampleFile {
        name: "offset64.nc",
        write: offset64::write,
    },
    SampleFile {
        name: "cdf5.nc",
        write: cdf5::write,
    },
    SampleFile {
        name: "groups.nc",
        write: groups::write,
    },
    SampleFile {
        name: "types.nc",
        write: types::write,
    },
    SampleFile {
        name: "chunked.nc",
        write: chunked::write,
    },
    SampleFile {
        name: "hdf5_groups.h5",
        write: hdf5_groups::write,
    },
    SampleFile {
        name: "hdf5_types.h5",
        write: hdf5_types::write,
    },
    SampleFile {
        name: "hdf5_chunked.h5",
        write: hdf5_chunked::write,
    },
    SampleFile {
        name: "hdf5_references.h5",
        write: hdf5_references::write,
    },
    SampleFile {
        name: "cf_grid.nc",
        write: cf_grid::write,
    },
    SampleFile {
        name: "curvilinear.nc",
        write: curvilinear::write,
    },
];

/// One `char` (a byte of text), so `char` variables can be written through the `netcdf` crate,
/// which has no built-in Rust type for `NC_CHAR`.
#[repr(transparent)]
#[derive(Debug, Clone, Copy)]
pub(crate) struct NcChar(u8);

// SAFETY: `NcChar` is one byte, exactly the memory of one `NC_CHAR`, and has no padding or Drop.
unsafe impl netcdf::NcTypeDescriptor for NcChar {
    fn type_descriptor() -> netcdf::types::NcVariableType {
        netcdf::types::NcVariableType::Char
    }
}

/// Lays out `names` as rows of a `(count, width)` char array, NUL-padded as netCDF tools do.
/// Names longer than `width` are cut, so the layout can never overflow a row.
pub(crate) fn fixed_width_chars(names: &[&str], width: usize) -> Vec<NcChar> {
    let mut chars = vec![NcChar(0); names.len() * width];
    for (row, name) in chars.chunks_mut(width).zip(names) {
        for (slot, byte) in row.iter_mut().zip(name.bytes()) {
            *slot = NcChar(byte);
        }
    }
    chars
}

/// Puts the attributes every CF coordinate variable carries.
pub(crate) fn put_coordinate_attributes(
    variable: &mut VariableMut<'_>,
    standard_name: &str,
    long_name: &str,
    units: &str,
    axis: &str,
) -> Result<()> {
    variable.put_attribute("standard_name", standard_name)?;
    variable.put_attribute("long_name", long_name)?;
    variable.put_attribute("units", units)?;
    variable.put_attribute("axis", axis)?;
    Ok(())
}

/// Writes `values` into the hyperslab `extents` of the variable at `path` (e.g. `lat` or
/// `forecast/air_temperature`).
pub(crate) fn put<T: netcdf::NcTypeDescriptor>(
    file: &mut FileMut,
    path: &str,
    values: &[T],
    extents: &[Range<usize>],
) -> Result<()> {
    let mut variable = file
        .variable_mut(path)
        .ok_or_else(|| netcdf::Error::NotFound(format!("variable {path}")))?;
    let extents: Vec<netcdf::Extent> = extents.iter().map(|range| range.clone().into()).collect();
    variable.put_values(values, extents)?;
    Ok(())
}

/// Writes `values` into a whole 1-D variable (or the first records of an unlimited one).
pub(crate) fn put_1d<T: netcdf::NcTypeDescriptor>(
    file: &mut FileMut,
    path: &str,
    values: &[T],
) -> Result<()> {
    put(file, path, values, std::slice::from_ref(&(0..values.len())))
}

/// Rounds to float precision after rounding to `decimals` decimal places, as a real float
/// variable holding instrument-resolution values would.
pub(crate) fn to_f32(value: f64, decimals: i32) -> f32 {
    let scale = 10_f64.powi(decimals);
    // The sample values are geophysical magnitudes, well inside the f32 range.
    #[allow(clippy::cast_possible_truncation)]
    let rounded = ((value * scale).round() / scale) as f32;
    rounded
}
