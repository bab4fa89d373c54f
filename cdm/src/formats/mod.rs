//! Format readers: each turns a file into the [`crate::Dataset`] model and implements
//! [`crate::Source`].

pub mod netcdf;
