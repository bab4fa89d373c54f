//! Raw file downloads: the file's bytes as they are on disk, whole or one `Range`, streamed from
//! the file in bounded buffers, with strong validators.

use std::io::SeekFrom;
use std::path::Path;

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode, header};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::body::{Body, full, streaming};
use crate::conditional::{RangeRequest, Validators, parse_range};
use crate::error::HandlerError;

/// Bytes read from the file per body frame.
const READ_SIZE: usize = 256 * 1024;

/// The content type a file is sent with.
fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("txt" | "md" | "cdl") => "text/plain; charset=utf-8",
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("xml" | "ncml") => "application/xml",
        Some("png") => "image/png",
        Some("nc" | "nc3" | "nc4" | "cdf") => "application/x-netcdf",
        Some("h5" | "hdf5" | "he5") => "application/x-hdf5",
        _ => "application/octet-stream",
    }
}

/// The file at `path`: 304 when the client has it, the range asked for (206 / 416), or all of it.
///
/// # Errors
/// [`HandlerError::NotFound`] when it cannot be opened.
pub(crate) async fn download(
    path: &Path,
    headers: &HeaderMap,
) -> Result<Response<Body>, HandlerError> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|_| HandlerError::NotFound("no such file".into()))?;
    let meta = file
        .metadata()
        .await
        .map_err(|e| HandlerError::Internal(e.to_string()))?;
    let len = meta.len();
    let validators = meta
        .modified()
        .map(|m| Validators::of_file(m, len))
        .map_err(|e| HandlerError::Internal(e.to_string()))?;
    if validators.not_modified(headers) {
        return Ok(validators.not_modified_response());
    }
    let range = if validators.if_range_holds(headers) {
        parse_range(headers.get(header::RANGE), len)
    } else {
        RangeRequest::Whole
    };
    let mut builder = Response::builder()
        .header(header::CONTENT_TYPE, content_type(path))
        .header(header::ACCEPT_RANGES, "bytes");
    let (start, end) = match range {
        RangeRequest::Whole => (0, len),
        RangeRequest::Part { start, end } => {
            builder = builder.status(StatusCode::PARTIAL_CONTENT).header(
                header::CONTENT_RANGE,
                format!("bytes {start}-{}/{len}", end - 1),
            );
            (start, end)
        }
        RangeRequest::Unsatisfiable => {
            let mut r = builder
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{len}"))
                .header(header::CONTENT_LENGTH, 0)
                .body(full(Bytes::new()))
                .map_err(|e| HandlerError::Internal(e.to_string()))?;
            validators.apply(r.headers_mut());
            return Ok(r);
        }
    };
    if start > 0 {
        file.seek(SeekFrom::Start(start))
            .await
            .map_err(|e| HandlerError::Internal(e.to_string()))?;
    }
    let stream = futures::stream::unfold(Some((file, end - start)), |state| async move {
        let (mut file, left) = state?;
        if left == 0 {
            return None;
        }
        let want = usize::try_from(left).unwrap_or(READ_SIZE).min(READ_SIZE);
        let mut buf = bytes::BytesMut::with_capacity(want);
        match (&mut file).take(want as u64).read_buf(&mut buf).await {
            // The file shrank under us: end with an error so the client sees a cut, not a
            // short file.
            Ok(0) => Some((
                Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the file shrank while it was being sent",
                )),
                None,
            )),
            Ok(n) => Some((
                Ok::<_, std::io::Error>(buf.freeze()),
                Some((file, left - n as u64)),
            )),
            // Yield the error once, then end: the connection is aborted.
            Err(e) => Some((Err(e), None)),
        }
    });
    let mut r = builder
        .header(header::CONTENT_LENGTH, end - start)
        .body(streaming(stream))
        .map_err(|e| HandlerError::Internal(e.to_string()))?;
    validators.apply(r.headers_mut());
    Ok(r)
}
