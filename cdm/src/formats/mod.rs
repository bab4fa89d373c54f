//! Format readers: each turns a file into the [`crate::Dataset`] model and implements
//! [`crate::Source`].
//!
//! - [`netcdf`]: netCDF-3 and netCDF-4 through netCDF-C.
//! - [`netcdf_write`]: a subset written as a netCDF-4 file through netCDF-C.
//! - [`dap`]: a dataset on a remote OPeNDAP server, over DAP4 or DAP2.
//! - [`hdf5`]: plain HDF5 through the HDF5 library (hdf5-metno).
//! - [`dmrpp`]: HDF5 / netCDF-4 through a DMR++ index (Hyrax's sidecar), without the library;
//!   and DMR++ written from any source.
//! - [`ncml`]: NcML virtual datasets, made of other datasets (aggregations and edits).
//! - `shared`: the one-open registry both go through, so no file is open twice in the process.

pub mod dap;
pub mod dmrpp;
pub mod hdf5;
pub mod ncml;
pub mod netcdf;
pub mod netcdf_write;
pub(crate) mod shared;

/// Sets what the HDF5 library reads from the environment, unless the user set it:
/// `HDF5_USE_FILE_LOCKING=FALSE`, so that netCDF-C's opens (which use a file-access list of
/// their own, out of reach) take no lock either and a program appending to a served file is
/// never refused (see [`hdf5`]'s opens, which ask for no lock themselves).
///
/// # Safety
/// It changes the process environment: call it at start-up, before any other thread runs and
/// before either library is first used.
pub unsafe fn prepare_environment() {
    if std::env::var_os("HDF5_USE_FILE_LOCKING").is_none() {
        // SAFETY: the caller guarantees no other thread reads or writes the environment.
        unsafe { std::env::set_var("HDF5_USE_FILE_LOCKING", "FALSE") };
    }
}
