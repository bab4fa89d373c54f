//! DAP4 responses: `.dmr` (and `.dmr.xml`, which netcdf-c asks for), `.dap`, `.dsr`.
//!
//! The query and constraint are parsed and bound before anything is sent, so every client
//! error is a clean HTTP 400 with a DAP4 `<Error>` document. The `.dap` body is then streamed;
//! a failure after its first chunk becomes an ERROR chunk (see [`dap4::data`]).

use bytes::Bytes;
use http::{Response, header};

use crate::DatasetRequest;
use crate::body::{Body, full, streaming};
use crate::error::HandlerError;
use crate::route::ResponseKind;

/// The server name and version DAP4 clients are told.
const XOPENDAP_SERVER: &str = concat!("fathom/", env!("CARGO_PKG_VERSION"));

/// Answers a DAP4 request for a dataset.
pub(crate) async fn respond(req: &DatasetRequest) -> Result<Response<Body>, HandlerError> {
    let query = dap4::Query::parse(req.query.as_deref()).map_err(to_handler_error)?;
    let ds = req.entry.dataset();
    match req.kind {
        ResponseKind::Dmr => {
            let dmr = dmr_text(req, &query)?;
            let mut bytes = Vec::with_capacity(dmr.len() + 1);
            bytes.extend_from_slice(&dmr);
            bytes.push(b'\n');
            whole(dap4::media::DMR, Bytes::from(bytes))
        }
        ResponseKind::Dap => {
            let constraint = dap4::bind(ds, &query).map_err(to_handler_error)?;
            let source = req.entry.source();
            let checksums = query.checksums();
            // The limit is checked before anything is read, even the checksum pre-read: the
            // data's size follows from the constraint (a lower bound for strings and vlens).
            if req.max_response_bytes > 0 {
                let size =
                    dap4::data::size_at_least(&constraint, checksums).map_err(to_handler_error)?;
                if size > req.max_response_bytes {
                    return Err(crate::too_large(req, size, req.max_response_bytes));
                }
            }
            let dmr = if dap4::data::needs_announced_checksums(&constraint, checksums) {
                let crcs = dap4::data::checksums(source, &constraint)
                    .await
                    .map_err(to_handler_error)?;
                dap4::dmr::render_with_checksums(ds, &constraint, Some(&crcs))
                    .map(Bytes::from)
                    .map_err(to_handler_error)?
            } else {
                dmr_text(req, &query)?
            };
            let dmr =
                std::str::from_utf8(&dmr).map_err(|e| HandlerError::Internal(e.to_string()))?;
            let body =
                dap4::data::response(std::sync::Arc::clone(source), dmr, &constraint, checksums)
                    .map_err(to_handler_error)?;
            let exact = if req.keep_max > 0 {
                dap4::data::size_exact(&constraint, checksums).map_err(to_handler_error)?
            } else {
                None
            };
            if exact.is_none_or(|n| n.saturating_add(dmr.len() as u64 + 8) > req.keep_max) {
                return with_headers(Response::builder(), dap4::media::DAP)
                    .body(streaming(body))
                    .map_err(|e| HandlerError::Internal(e.to_string()));
            }
            // Small, and its size known from the constraint: made whole so that it can be kept
            // (and sent with a length). A failure while reading still ends it with an ERROR
            // chunk, as a streamed one would; such a body is never kept.
            let whole = http_body_util::BodyExt::collect(streaming(body))
                .await
                .map_err(|e| HandlerError::Internal(e.to_string()))?
                .to_bytes();
            let clean = dap4::data::ends_cleanly(&whole);
            let mut response = with_headers(Response::builder(), dap4::media::DAP)
                .header(header::CONTENT_LENGTH, whole.len())
                .body(full(whole))
                .map_err(|e| HandlerError::Internal(e.to_string()))?;
            if !clean {
                response.extensions_mut().insert(crate::kept::NotKept);
            }
            Ok(response)
        }
        ResponseKind::Dsr => {
            let href: Vec<String> = req
                .url_path
                .split('/')
                .map(crate::listing::encode_component)
                .collect();
            whole(
                dap4::media::DSR,
                Bytes::from(dap4::dmr::services(&href.join("/"), XOPENDAP_SERVER)),
            )
        }
        other => Err(HandlerError::NotFound(format!(
            "{other:?} is not a DAP4 response"
        ))),
    }
}

/// The DMR (without its final newline) for the request's constraint; the unconstrained one is
/// rendered once per file version and cached with the dataset.
fn dmr_text(req: &DatasetRequest, query: &dap4::Query) -> Result<Bytes, HandlerError> {
    let ds = req.entry.dataset();
    if query.ce.is_none() {
        return req.entry.rendered("dap4.dmr", || {
            dap4::dmr::render(ds, &dap4::Constraint::all(ds))
                .map(Bytes::from)
                .map_err(to_handler_error)
        });
    }
    let constraint = dap4::bind(ds, query).map_err(to_handler_error)?;
    dap4::dmr::render(ds, &constraint)
        .map(Bytes::from)
        .map_err(to_handler_error)
}

fn with_headers(builder: http::response::Builder, media: &str) -> http::response::Builder {
    builder
        .header(header::CONTENT_TYPE, media)
        .header("XDAP", "4.0")
        .header("XOPeNDAP-Server", XOPENDAP_SERVER)
}

fn whole(media: &str, bytes: Bytes) -> Result<Response<Body>, HandlerError> {
    with_headers(Response::builder(), media)
        .header(header::CONTENT_LENGTH, bytes.len())
        .body(full(bytes))
        .map_err(|e| HandlerError::Internal(e.to_string()))
}

/// Which HTTP status a DAP4 error deserves.
pub(crate) fn to_handler_error(e: dap4::Error) -> HandlerError {
    if e.is_bad_request() {
        HandlerError::BadRequest(e.to_string())
    } else if matches!(e, dap4::Error::NotSupported(_)) {
        HandlerError::NotImplemented(e.to_string())
    } else if let dap4::Error::Source(source) = e {
        HandlerError::from(source)
    } else {
        HandlerError::Internal(e.to_string())
    }
}
