//! HDF5 dimension scales written by hand with `hdf5-metno` (which has no dimension-scale API),
//! laid out as the HDF5 Dimension Scale specification says and as `H5DS` writes them: `CLASS`
//! and `NAME` on the scale, a `DIMENSION_LIST` (one list of object references per dimension)
//! on each dataset, and a `REFERENCE_LIST` (dataset reference, dimension index) on each scale.

use std::collections::BTreeMap;

use hdf5::types::{FixedAscii, VarLenArray};
use hdf5::{H5Type, ObjectReference1};

use crate::error::{Error, Result};

/// One back-reference of a scale: which dataset uses it, along which dimension.
#[derive(H5Type, Clone, Copy, Debug)]
#[repr(C)]
struct ReferenceEntry {
    dataset: ObjectReference1,
    dimension: i32,
}

/// The scales of one file and the datasets attached to them, written out by [`Scales::finish`].
#[derive(Debug, Default)]
pub(crate) struct Scales {
    /// Scale path → (dataset path, dimension) of every attachment.
    attached: BTreeMap<String, Vec<(String, i32)>>,
}

/// Text as a fixed-length, NUL-terminated HDF5 string attribute value.
pub(crate) fn fixed_text<const N: usize>(text: &str) -> Result<FixedAscii<N>> {
    FixedAscii::<N>::from_ascii(text.as_bytes())
        .map_err(|e| Error::Hdf5(hdf5::Error::from(format!("{text:?}: {e}"))))
}

/// A copy of the predefined big-endian type `global` (e.g. `H5T_STD_I32BE`), to create datasets
/// stored big-endian.
pub(crate) fn big_endian(global: &hdf5::globals::H5GlobalConstant) -> Result<hdf5::Datatype> {
    let _lock = hdf5_sys::LOCK.lock();
    // SAFETY: copies a valid predefined type; the copy is owned by the returned Datatype.
    let id = unsafe { hdf5_sys::h5t::H5Tcopy(**global) };
    // SAFETY: the id is fresh and owned by nothing else.
    Ok(unsafe { hdf5::from_id::<hdf5::Datatype>(id) }?)
}

impl Scales {
    /// Marks the 1-D dataset at `path` as a dimension scale named like the dataset.
    pub(crate) fn make_scale(&mut self, file: &hdf5::File, path: &str) -> Result<()> {
        let ds = file.dataset(path)?;
        let name = path.rsplit('/').next().unwrap_or(path);
        ds.new_attr::<FixedAscii<16>>()
            .create("CLASS")?
            .write_scalar(&fixed_text::<16>("DIMENSION_SCALE")?)?;
        ds.new_attr::<FixedAscii<64>>()
            .create("NAME")?
            .write_scalar(&fixed_text::<64>(name)?)?;
        self.attached.entry(path.to_owned()).or_default();
        Ok(())
    }

    /// Attaches `scales[i]` (a scale path, or `None`) to dimension `i` of the dataset at `path`.
    pub(crate) fn attach(
        &mut self,
        file: &hdf5::File,
        path: &str,
        scales: &[Option<&str>],
    ) -> Result<()> {
        let ds = file.dataset(path)?;
        let mut lists = Vec::with_capacity(scales.len());
        for (i, scale) in scales.iter().enumerate() {
            let refs: Vec<ObjectReference1> = match scale {
                Some(s) => {
                    let dim = i32::try_from(i).unwrap_or(i32::MAX);
                    self.attached
                        .entry((*s).to_owned())
                        .or_default()
                        .push((path.to_owned(), dim));
                    vec![file.reference::<ObjectReference1>(s)?]
                }
                None => Vec::new(),
            };
            lists.push(VarLenArray::from_slice(&refs));
        }
        ds.new_attr_builder()
            .with_data(&lists)
            .create("DIMENSION_LIST")?;
        Ok(())
    }

    /// Writes every scale's `REFERENCE_LIST`.
    pub(crate) fn finish(self, file: &hdf5::File) -> Result<()> {
        for (scale, users) in self.attached {
            if users.is_empty() {
                continue;
            }
            let entries = users
                .iter()
                .map(|(ds, dim)| {
                    Ok(ReferenceEntry {
                        dataset: file.reference::<ObjectReference1>(ds)?,
                        dimension: *dim,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            file.dataset(&scale)?
                .new_attr_builder()
                .with_data(&entries)
                .create("REFERENCE_LIST")?;
        }
        Ok(())
    }
}
