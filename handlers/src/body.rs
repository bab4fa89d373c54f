//! The response body type: a whole buffer or a stream of buffers.

use bytes::Bytes;
use futures::{Stream, StreamExt};
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody, combinators::UnsyncBoxBody};

/// What a body stream can fail with; a failure mid-body aborts the connection, so the client
/// never takes a short body for a whole one.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Every response's body.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

/// A body of `bytes`.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A body streamed from `stream`.
pub fn streaming<S, E>(stream: S) -> Body
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<BoxError>,
{
    // Fused: compression polls its inner body once more after the end, which a bare
    // `unfold` stream answers with a panic.
    StreamBody::new(
        stream
            .fuse()
            .map(|r| r.map(Frame::data).map_err(Into::into)),
    )
    .boxed_unsync()
}
