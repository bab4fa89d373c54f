//! Format readers: each turns a file into the [`crate::Dataset`] model and implements
//! [`crate::Source`].
//!
//! - [`netcdf`]: netCDF-3 and netCDF-4 through netCDF-C.
//! - [`dap`]: a dataset on a remote OPeNDAP server, over DAP4 or DAP2.
//! - [`hdf5`]: plain HDF5 through the HDF5 library (hdf5-metno).
//! - `shared`: the one-open registry both go through, so no file is open twice in the process.

pub mod dap;
pub mod hdf5;
pub mod netcdf;
pub(crate) mod shared;
