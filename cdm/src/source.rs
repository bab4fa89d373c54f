//! The [`Source`] trait: what a format gives the rest of fathom.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt};

use crate::error::{Error, Result};
use crate::hyperslab::Hyperslab;
use crate::model::Dataset;

/// A stream of canonically encoded values (see [`crate::DataType`]), whole elements per buffer,
/// in C order.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send + 'static>>;

/// A readable dataset: its metadata and the values of its variables.
///
/// Implementations keep whatever handle they need (an open file, a chunk index) and do their
/// blocking work off the async runtime.
pub trait Source: Send + Sync + fmt::Debug {
    /// The dataset's metadata.
    fn dataset(&self) -> &Arc<Dataset>;

    /// The values of the variable with fully qualified name `path` selected by `slab`, in the
    /// canonical encoding, as a stream of buffers. The stream does its work lazily and stops
    /// reading when dropped.
    ///
    /// Errors (an unknown variable, a slab that does not fit, a failed read) arrive as the
    /// stream's items; call it inside a tokio runtime.
    fn read(&self, path: &str, slab: &Hyperslab) -> ByteStream;
}

/// Reads a whole selection into memory: for tests, tools and small variables.
///
/// # Errors
/// The first error the stream yields.
pub async fn read_all(source: &dyn Source, path: &str, slab: &Hyperslab) -> Result<Vec<u8>> {
    let mut stream = source.read(path, slab);
    let mut out = Vec::new();
    while let Some(buf) = stream.next().await {
        out.extend_from_slice(&buf?);
    }
    Ok(out)
}

/// A stream that yields one error: for sources that find a problem before reading.
#[must_use]
pub fn error_stream(e: Error) -> ByteStream {
    Box::pin(futures::stream::once(async move { Err(e) }))
}
