//! `hdf5_references.h5`: what the model cannot represent next to what it can — a dataset of
//! object references, a compound with a reference member, a reference attribute, a soft link
//! and an external link. Readers must still open the file, serve the rest and say what they
//! left out.

use std::path::Path;

use hdf5::{H5Type, ObjectReference1};

use crate::error::Result;

/// A record pointing at another object.
#[derive(H5Type, Clone, Copy, Debug)]
#[repr(C)]
struct Pointer {
    target: ObjectReference1,
    weight: f32,
}

/// Writes `hdf5_references.h5` at `path`.
pub(crate) fn write(path: &Path) -> Result<()> {
    let file = hdf5::File::create(path)?;
    file.new_dataset_builder()
        .with_data(&[1.0_f64, 2.0, 3.0])
        .create("values")?;
    let group = file.create_group("inner")?;
    group
        .new_dataset_builder()
        .with_data(&[10_i32, 20])
        .create("counts")?;

    let refs = [
        file.reference::<ObjectReference1>("values")?,
        file.reference::<ObjectReference1>("inner/counts")?,
    ];
    file.new_dataset_builder()
        .with_data(&refs)
        .create("object_refs")?;
    group
        .new_dataset_builder()
        .with_data(&[Pointer {
            target: refs[0],
            weight: 0.5,
        }])
        .create("pointers")?;
    file.new_attr_builder()
        .with_data(&refs[..1])
        .create("points_at")?;
    file.new_attr::<i32>().create("answer")?.write_scalar(&42)?;
    group.link_soft("/values", "values_link")?;
    group.link_external("elsewhere.h5", "/data", "external_link")?;
    file.close()?;
    Ok(())
}
