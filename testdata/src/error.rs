//! The one error type of the `testdata` crate.

use std::path::PathBuf;

/// Everything that can go wrong while generating sample or benchmark files.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A call through the high-level `netcdf` crate failed.
    #[error("netCDF: {0}")]
    Netcdf(#[from] netcdf::Error),
    /// A raw netCDF-C call (made where the `netcdf` crate cannot reach) returned an error status.
    #[error("{call} failed: {message} (netCDF status {status})")]
    NetcdfStatus {
        /// The netCDF-C function that failed, to find the step in the generator.
        call: &'static str,
        /// The library's status code (`NC_E*`).
        status: i32,
        /// The library's own text for the status, from `nc_strerror`.
        message: String,
    },
    /// A raw call was about to hand the library a buffer that does not fit the variable, type or
    /// hyperslab; refusing is what keeps the FFI wrapper memory-safe.
    #[error("{what}: expected {expected} bytes or elements, got {actual}")]
    BufferMismatch {
        /// What was being written.
        what: String,
        /// What the variable or type needs.
        expected: usize,
        /// What the caller supplied.
        actual: usize,
    },
    /// A value was given for a variable or attribute of a different netCDF type.
    #[error("{what}: the value has netCDF type {given}, the target has type {expected}")]
    TypeMismatch {
        /// The variable or attribute being written.
        what: String,
        /// The target's `nc_type`.
        expected: i32,
        /// The value's `nc_type`.
        given: i32,
    },
    /// A name or string value contains a NUL byte, which C strings cannot carry.
    #[error("{0:?} contains a NUL byte")]
    NulInString(String),
    /// A file-system operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done, e.g. "creating directory".
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Writing one particular file failed; wraps the cause with the file's path.
    #[error("writing {path}: {source}")]
    InFile {
        /// The file being written.
        path: PathBuf,
        /// What went wrong inside it.
        source: Box<Error>,
    },
    /// The command-line tool was called wrongly.
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// Builds an [`Error::Io`] from an `io::Error` and what was being done.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// Attaches the path of the file being written, so a failure names its file.
    pub(crate) fn in_file(self, path: impl Into<PathBuf>) -> Self {
        Self::InFile {
            path: path.into(),
            source: Box::new(self),
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
