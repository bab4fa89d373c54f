//! DAP2 responses: `.dds`, `.das`, `.dods`, `.ascii` / `.asc`, `.ver` / `.version`.
//!
//! The `dap2` crate does the protocol; this module adds HTTP: the headers every DAP2 client
//! looks for, the exact `Content-Length`, the cached metadata renderings, and the mapping of
//! protocol errors to statuses (through [`HandlerError`]).

use std::sync::Arc;

use bytes::Bytes;
use dap2::Dap2Dataset;
use futures::StreamExt;
use http::header::{self, HeaderName, HeaderValue};
use http::response::Builder;

use crate::DatasetRequest;
use crate::body::{Body, full, streaming};
use crate::error::HandlerError;
use crate::route::ResponseKind;

/// The server's version as DAP2 clients expect to see it.
pub(crate) const XDODS_SERVER: &str = "dods/3.2";
/// The OPeNDAP server name and version.
pub(crate) const XOPENDAP_SERVER: &str = concat!("fathom/", env!("CARGO_PKG_VERSION"));
/// The DAP protocol version.
pub(crate) const XDAP: &str = "3.2";

/// Adds the headers every DAP2 response carries (netCDF-Java refuses a response without
/// `XDODS-Server` or `XDAP`).
pub(crate) fn with_dap2_headers(builder: Builder, description: &'static str) -> Builder {
    // Static names and values: these headers go out with every DAP2 response.
    builder
        .header(
            HeaderName::from_static("content-description"),
            HeaderValue::from_static(description),
        )
        .header(
            HeaderName::from_static("xdods-server"),
            HeaderValue::from_static(XDODS_SERVER),
        )
        .header(
            HeaderName::from_static("xopendap-server"),
            HeaderValue::from_static(XOPENDAP_SERVER),
        )
        .header(
            HeaderName::from_static("xdap"),
            HeaderValue::from_static(XDAP),
        )
}

impl From<dap2::Error> for HandlerError {
    fn from(e: dap2::Error) -> Self {
        match e {
            dap2::Error::Syntax(m)
            | dap2::Error::UnknownVariable(m)
            | dap2::Error::BadIndex(m)
            | dap2::Error::Selection(m)
            | dap2::Error::UnknownFunction(m) => Self::BadRequest(m),
            dap2::Error::TooLarge(m) => Self::TooLarge(m),
            dap2::Error::Source(e) => Self::from(e),
            dap2::Error::Internal(m) => Self::Internal(m),
        }
    }
}

/// The DAP2 view of the dataset, built once per file version and kept with it: netCDF-C asks
/// for one `.dods` per row of a large variable, so per-request work must stay small.
pub(crate) fn mapped(entry: &cdm::CatalogEntry) -> Arc<Dap2Dataset> {
    entry.extension(|| dap2::map_dataset(entry.dataset()))
}

/// A DAP2 response. `Last-Modified` (and the `ETag`) are added with the validators, for every
/// dataset response alike.
fn response(
    description: &'static str,
    content_type: &'static str,
    length: u64,
    body: Body,
) -> Result<http::Response<Body>, HandlerError> {
    with_dap2_headers(http::Response::builder(), description)
        .header(header::CONTENT_TYPE, HeaderValue::from_static(content_type))
        .header(header::CONTENT_LENGTH, length)
        .body(body)
        .map_err(|e| HandlerError::Internal(e.to_string()))
}

fn text(description: &'static str, bytes: Bytes) -> Result<http::Response<Body>, HandlerError> {
    let len = bytes.len() as u64;
    response(description, "text/plain; charset=utf-8", len, full(bytes))
}

/// Answers a DAP2 request for a dataset.
pub(crate) async fn respond(req: &DatasetRequest) -> Result<http::Response<Body>, HandlerError> {
    let ds = mapped(&req.entry);
    // An empty query (`x.dds?`) is no constraint.
    let query = req.query.as_deref().filter(|q| !q.trim().is_empty());
    match req.kind {
        ResponseKind::Dds => {
            let body = match query {
                None => req
                    .entry
                    .rendered("dds", || Ok::<_, HandlerError>(Bytes::from(dap2::dds(&ds))))?,
                Some(q) => {
                    let projected = dap2::constrain(&ds, Some(q))?;
                    Bytes::from(dap2::dds::print_dds(&ds, &projected))
                }
            };
            text("dods_dds", body)
        }
        ResponseKind::Das => {
            // libdap answers a DAS whatever the constraint; it is still checked so that a bad
            // one is reported rather than ignored.
            if let Some(q) = query {
                dap2::ce::parse(q)?;
            }
            let body = req
                .entry
                .rendered("das", || Ok::<_, HandlerError>(Bytes::from(dap2::das(&ds))))?;
            text("dods_das", body)
        }
        ResponseKind::Dods => {
            let projected = dap2::constrain(&ds, query)?;
            let dds = dap2::dds::print_dds(&ds, &projected);
            let source = Arc::clone(req.entry.source());
            let prepared = dap2::DodsResponse::prepare(source, &ds, &projected, dds).await?;
            let length = prepared.content_length();
            let stream = prepared.into_stream().map(|item| {
                item.map_err(|e| {
                    tracing::warn!(error = %e, "aborting a .dods response");
                    e
                })
            });
            response(
                "dods_data",
                "application/octet-stream",
                length,
                streaming(stream),
            )
        }
        ResponseKind::Ascii => {
            let projected = dap2::constrain(&ds, query)?;
            let text_body =
                dap2::ascii::ascii(req.entry.source().as_ref(), &ds, &projected).await?;
            text("dods_data", Bytes::from(text_body))
        }
        ResponseKind::Version => {
            let body = format!("Core version: {XDODS_SERVER}\nServer version: {XOPENDAP_SERVER}\n");
            text("dods_version", Bytes::from(body))
        }
        other => Err(HandlerError::NotImplemented(format!(
            "{other:?} is not a DAP2 response"
        ))),
    }
}
