//! `cdm` — fathom's Common Data Model.
//!
//! Every format fills the same model and every protocol reads it:
//!
//! - [`model`]: [`Dataset`] → [`Group`] → [`Dimension`], [`Variable`], [`Attribute`], with
//!   [`DataType`] covering every netCDF-4 type. Immutable, shared as `Arc<Dataset>`.
//! - [`hyperslab`]: [`Range`] and [`Hyperslab`], the one selection type from the constraint
//!   parsers down to the readers.
//! - [`source`]: the [`Source`] trait — a dataset's metadata and a streaming read of one
//!   variable's hyperslab in the canonical encoding ([`encoding`] walks it).
//! - [`formats`]: the readers (netCDF through netCDF-C, HDF5, remote OPeNDAP servers through
//!   [`formats::dap::open_remote`]) and NcML virtual datasets, a source made of other sources.
//! - [`engine`]: the read engine — chunk index, lock-free positional reads, parallel decode,
//!   the shared chunk cache, bounded-memory streaming.
//! - [`fill`]: `_FillValue` / `missing_value` in the variable's own type, the policy both DAP
//!   mappings apply to attributes of another type.
//! - [`catalog`]: the metadata cache from file path to open source, with content sniffing;
//!   `.ncml` files open as virtual datasets whose members go through the same cache.
//! - [`isolation`]: reader processes that run the C libraries on untrusted files, so a file
//!   that crashes a library costs one request, not the server.
//! - [`object`]: S3 bucket prefixes and HTTP folders of plain files as roots, read by ranges.
//! - [`subset`]: a subset of a dataset planned as a file (dimensions, groups, attributes).
//! - [`cf`]: CF conventions — coordinate axes, time units and calendars, coordinate → index.

pub mod catalog;
pub mod cdl;
pub mod cf;
pub mod encoding;
pub mod engine;
pub mod error;
pub mod fill;
pub mod formats;
#[doc(hidden)]
pub mod fuzzing;
pub mod hyperslab;
pub mod isolation;
pub mod model;
pub mod object;
pub mod source;
pub mod subset;

pub use catalog::{Catalog, CatalogEntry};
pub use error::{Error, Result};
pub use hyperslab::{Hyperslab, HyperslabError, Range};
pub use model::{
    AttrValue, Attribute, DataType, Dataset, Dimension, EnumMember, EnumType, Field, Format, Group,
    OpaqueType, Storage, StructureType, VLenType, VarDim, Variable,
};
pub use source::{ByteStream, Source, read_all};
