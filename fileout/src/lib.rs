//! `fileout` — subsets of a dataset as netCDF files, as Hyrax's file-out and THREDDS's NCSS
//! answer them.
//!
//! Everything starts from a dataset and a list of (variable, hyperslab) — a
//! [`cdm::subset::Selection`] each — planned once by [`plan`] into a [`SubsetPlan`] (names,
//! dimensions, groups, attributes, coordinate variables brought along). Then:
//!
//! - [`nc3::Netcdf3`]: the netCDF-3 encoding (64-bit offset, or CDF-5 when a type or a size
//!   needs it), pure: its header and exact length are known before any value is read, and
//!   [`nc3::Netcdf3::into_stream`] streams the values from the source in file order with
//!   bounded memory.
//! - [`ncss`]: the NetCDF Subset Service's grid queries (coordinates → selections, a box
//!   across the longitude seam as a joined dimension — [`cdm::subset::Join`]), its point
//!   answers as CSV / XML, its `dataset.xml` and `datasetBoundaries`.
//! - [`netcdf4`]: the netCDF-4 file, written through netCDF-C to a path the caller owns (a
//!   temporary file), with groups, unlimited dimensions and strings.
//!
//! # CDM → netCDF-3 mapping
//!
//! | CDM | netCDF-3 |
//! |---|---|
//! | `byte`, `char`, `short`, `int`, `float`, `double` | the same (64-bit offset format) |
//! | `ubyte`, `ushort`, `uint`, `int64`, `uint64` (variables or attributes) | the same, and the file is CDF-5 |
//! | a dimension longer than 2³¹−1 or a variable larger than 4 GiB | CDF-5 |
//! | enum | its base type |
//! | `string`, opaque, compound, vlen variables | left out; the root attribute `_fathom_omitted` names each (use `.nc4` for strings) |
//! | variable `/g/h/v` in a group | `g_h_v` (dimensions likewise); group attributes become root attributes `g_h_NAME` |
//! | `string` attribute | `char` attribute (several values joined with `, `) |
//! | unlimited dimension | a fixed one of the selected length (a file of one block per variable); an empty dimension is written as the record dimension |
//! | a joined dimension (NCSS box across the seam) | one dimension as long as its runs; each variable on it is read run after run, row by row ([`cdm::subset::PlanVariable::reads`]), and a joined longitude coordinate is written with the values the plan gives (rising past the seam) |

pub mod nc3;
pub mod ncss;

use std::path::Path;
use std::sync::Arc;

pub use cdm::subset::{Selection, SubsetPlan};
pub use nc3::Netcdf3;

/// What file-out can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The selection cannot be written in the asked format.
    #[error("{0}")]
    Unsupported(String),
    /// A query (NCSS) that names something wrong; the message says what is valid.
    #[error("{0}")]
    Query(String),
    /// Reading the data failed, or the selection does not fit the dataset.
    #[error(transparent)]
    Source(#[from] cdm::Error),
}

/// Plans the file holding `selections` of `ds` (see [`cdm::subset`]).
///
/// # Errors
/// An unknown variable or a hyperslab that does not fit.
pub fn plan(ds: &cdm::Dataset, selections: &[Selection]) -> Result<SubsetPlan, Error> {
    Ok(cdm::subset::plan(ds, selections)?)
}

/// Writes `plan` of `source` as a netCDF-4 file at `path` (which the caller creates and
/// removes) and returns its size; stops once the file grows past `max_bytes` (0: no limit).
///
/// # Errors
/// A failed read or write, or the size limit ([`Error::Source`] with
/// [`cdm::Error::Unsupported`]).
pub async fn netcdf4(
    source: Arc<dyn cdm::Source>,
    plan: &SubsetPlan,
    path: &Path,
    max_bytes: u64,
) -> Result<u64, Error> {
    Ok(cdm::formats::netcdf_write::write_netcdf4(source, plan, path, max_bytes).await?)
}
