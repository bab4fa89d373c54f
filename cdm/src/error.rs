//! The errors of the `cdm` crate.

use crate::hyperslab::HyperslabError;

/// Everything that can go wrong opening or reading a dataset.
///
/// Messages never contain the server's absolute paths: they may reach a client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file is not in a format fathom reads.
    #[error("not a netCDF or HDF5 file")]
    UnknownFormat,
    /// The file claims a known format but could not be opened or understood.
    #[error("cannot open the file: {0}")]
    Open(String),
    /// A variable path that the dataset does not have.
    #[error("no variable named {0}")]
    NoSuchVariable(String),
    /// A hyperslab that does not fit the variable.
    #[error(transparent)]
    Hyperslab(#[from] HyperslabError),
    /// The netCDF library reported an error while reading.
    #[error("netCDF error {code}: {message}")]
    NetCdf {
        /// The library's status code.
        code: i32,
        /// The library's message for it.
        message: String,
    },
    /// The HDF5 library reported an error while reading.
    #[error("HDF5 error: {0}")]
    Hdf5(String),
    /// Reading the file failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The file's bytes are not what its metadata promises.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// Something the model or a reader does not support.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// An NcML file that cannot be made into a dataset: malformed, a member missing or
    /// unreadable, members that do not agree. `file` is relative to the data root.
    #[error("NcML {file}: {message}")]
    Ncml {
        /// The NcML (or member) file the problem is in.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// The reader process that ran the netCDF / HDF5 library on this file died, hung or
    /// answered nonsense (see [`crate::isolation`]); the server itself is unharmed.
    #[error("the file could not be read safely: {0}")]
    Isolated(String),
    /// A remote DAP server could not be reached, answered with an error, or sent a response
    /// that is not what was asked for (truncated, corrupt, or for a changed dataset).
    #[error("remote server: {0}")]
    Upstream(String),
    /// A remote DAP server did not answer within the configured time.
    #[error("remote server timed out: {0}")]
    UpstreamTimeout(String),
    /// A background read task ended without a result (it panicked or was cancelled).
    #[error("the read was interrupted")]
    Interrupted,
    /// A written file grew past the size limit it was given.
    #[error("{0}")]
    LimitExceeded(String),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An owned copy of an error that a cache shared between waiting callers. The variants that
    /// callers match on keep their kind; the others keep their message.
    #[must_use]
    pub fn unshare(e: &Error) -> Error {
        match e {
            Self::UnknownFormat => Self::UnknownFormat,
            Self::NoSuchVariable(v) => Self::NoSuchVariable(v.clone()),
            Self::Hyperslab(h) => Self::Hyperslab(h.clone()),
            Self::Io(io) => Self::Io(std::io::Error::new(io.kind(), io.to_string())),
            Self::Corrupt(m) => Self::Corrupt(m.clone()),
            Self::Unsupported(m) => Self::Unsupported(m.clone()),
            Self::Interrupted => Self::Interrupted,
            Self::Open(m) => Self::Open(m.clone()),
            Self::Ncml { file, message } => Self::Ncml {
                file: file.clone(),
                message: message.clone(),
            },
            Self::Isolated(m) => Self::Isolated(m.clone()),
            Self::Upstream(m) => Self::Upstream(m.clone()),
            Self::UpstreamTimeout(m) => Self::UpstreamTimeout(m.clone()),
            other => Self::Open(other.to_string()),
        }
    }
}
