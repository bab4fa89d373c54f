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

    /// The chunks of the variable at `path` as the file stores them, when the read engine knows
    /// where they are (`None`: only [`Source::read`] reads it).
    fn stored_chunks(&self, _path: &str) -> Option<crate::engine::StoredChunks> {
        None
    }
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

/// Bytes of output per piece when a reader goes through a library: large enough to amortise a
/// library call, small enough to stream.
const LIBRARY_PIECE_BYTES: usize = 1 << 20;
/// Library pieces read ahead of the consumer.
const LIBRARY_READ_AHEAD: usize = 2;

/// Streams `slab` of a variable whose elements take `elem_size` bytes (an estimate for
/// variable-length types) by calling `read_piece` on the blocking pool for consecutive pieces
/// of it. The reading stops as soon as the consumer drops the stream, and a reader that stops
/// early ends the stream with [`Error::Interrupted`], never with a short read.
pub(crate) fn blocking_pieces<F>(
    slab: &Hyperslab,
    elem_size: usize,
    mut read_piece: F,
) -> ByteStream
where
    F: FnMut(&Hyperslab) -> Result<Bytes> + Send + 'static,
{
    let pieces = slab.split((LIBRARY_PIECE_BYTES / elem_size.max(1)).max(1));
    let expected = pieces.len();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes>>(LIBRARY_READ_AHEAD);
    tokio::task::spawn_blocking(move || {
        for piece in pieces {
            let result = read_piece(&piece);
            let failed = result.is_err();
            // A closed channel means the consumer went away: stop reading.
            if tx.blocking_send(result).is_err() || failed {
                return;
            }
        }
    });
    Box::pin(pieces_stream(rx, expected))
}

/// Adapts a reader's channel to a stream that ends with [`Error::Interrupted`] if the reader
/// stopped before sending all `expected` pieces.
fn pieces_stream(
    mut rx: tokio::sync::mpsc::Receiver<Result<Bytes>>,
    expected: usize,
) -> impl Stream<Item = Result<Bytes>> + Send + 'static {
    use std::task::Poll;
    let mut received = 0usize;
    let mut done = false;
    futures::stream::poll_fn(move |cx| {
        if done {
            return Poll::Ready(None);
        }
        match rx.poll_recv(cx) {
            Poll::Ready(Some(item)) => {
                received += 1;
                if item.is_err() {
                    done = true;
                }
                Poll::Ready(Some(item))
            }
            Poll::Ready(None) => {
                done = true;
                if received < expected {
                    Poll::Ready(Some(Err(Error::Interrupted)))
                } else {
                    Poll::Ready(None)
                }
            }
            Poll::Pending => Poll::Pending,
        }
    })
}
