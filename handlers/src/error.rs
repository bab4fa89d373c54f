//! The one place where errors become HTTP statuses and protocol error bodies.

use bytes::Bytes;
use http::{Response, StatusCode, header};

use crate::body::{Body, full};
use crate::route::ResponseKind;

/// Which protocol's error body a failed request gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// `Error { code = …; message = "…"; };` with `Content-Description: dods_error`.
    Dap2,
    /// A DAP4 `<Error>` XML document.
    Dap4,
    /// Plain text, for pages and files.
    Plain,
    /// An OGC API exception: `{"code": …, "description": …}` as JSON.
    Json,
}

impl Protocol {
    /// The protocol of a URL path, from its suffix (`Plain` when it has none).
    #[must_use]
    pub fn of_path(path: &str) -> Self {
        if path == "/ogc" || path.starts_with("/ogc/") || path.starts_with("/stac/") {
            return Self::Json;
        }
        if path.starts_with("/ncss/") {
            return Self::Plain;
        }
        let last = path.rsplit('/').next().unwrap_or_default();
        // Every request asks this (for its error body, should it fail): decode only a name
        // that holds an escape.
        let kind = if last.contains('%') {
            percent_encoding::percent_decode_str(last)
                .decode_utf8()
                .ok()
                .and_then(|l| crate::route::split_suffix(&l).map(|(_, k)| k))
        } else {
            crate::route::split_suffix(last).map(|(_, k)| k)
        };
        kind.map_or(Self::Plain, Self::from)
    }
}

impl From<ResponseKind> for Protocol {
    fn from(kind: ResponseKind) -> Self {
        match kind {
            ResponseKind::Dds
            | ResponseKind::Das
            | ResponseKind::Dods
            | ResponseKind::Ascii
            | ResponseKind::Version
            | ResponseKind::Png
            | ResponseKind::NetCdf3
            | ResponseKind::NetCdf4 => Self::Dap2,
            ResponseKind::Dmr
            | ResponseKind::Dap
            | ResponseKind::Dsr
            | ResponseKind::Dap4NetCdf3
            | ResponseKind::Dap4NetCdf4 => Self::Dap4,
            ResponseKind::Html | ResponseKind::Info | ResponseKind::Help => Self::Plain,
        }
    }
}

/// A request that cannot be answered, with the status it deserves.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// 400: a malformed request (bad constraint, bad path, bad index).
    #[error("{0}")]
    BadRequest(String),
    /// 404: no such dataset, file or folder.
    #[error("{0}")]
    NotFound(String),
    /// 405: only GET and HEAD are served.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 413: the response would be larger than the configured limit.
    #[error("{0}")]
    TooLarge(String),
    /// 500: the server failed (an unreadable file, a library error).
    #[error("{0}")]
    Internal(String),
    /// 501: a valid request for something not supported (a server-side function).
    #[error("{0}")]
    NotImplemented(String),
    /// 502: a remote server a dataset lives on failed or sent an unusable answer.
    #[error("{0}")]
    BadGateway(String),
    /// 504: a remote server a dataset lives on did not answer in time.
    #[error("{0}")]
    GatewayTimeout(String),
    /// 503: too busy, or the response did not start within the request timeout.
    #[error("{0}")]
    Unavailable(String),
}

impl HandlerError {
    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Self::GatewayTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The error as a response in `protocol`'s error format.
    #[must_use]
    pub fn into_response(self, protocol: Protocol) -> Response<Body> {
        let status = self.status();
        let message = self.to_string();
        let mut builder = Response::builder().status(status);
        let body: Bytes = match protocol {
            Protocol::Dap2 => {
                builder = crate::dap2::with_dap2_headers(builder, "dods_error")
                    .header(header::CONTENT_TYPE, "text/plain; charset=utf-8");
                dap2::error_body(status.as_u16(), &message).into()
            }
            Protocol::Dap4 => {
                builder = builder.header(
                    header::CONTENT_TYPE,
                    "application/vnd.opendap.dap4.error+xml",
                );
                dap4::error_document(status.as_u16(), &message).into()
            }
            Protocol::Json => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                serde_json::to_vec(&serde_json::json!({
                    "code": status.as_u16().to_string(),
                    "description": message,
                }))
                .unwrap_or_default()
                .into()
            }
            Protocol::Plain => {
                builder = builder.header(header::CONTENT_TYPE, "text/plain; charset=utf-8");
                format!("{status}: {message}\n").into()
            }
        };
        if self == Self::MethodNotAllowed {
            builder = builder.header(header::ALLOW, "GET, HEAD");
        }
        if matches!(self, Self::Unavailable(_)) {
            builder = builder.header(header::RETRY_AFTER, "1");
        }
        builder
            .header(header::CONTENT_LENGTH, body.len())
            .body(full(body))
            .unwrap_or_else(|_| Response::new(full(Bytes::new())))
    }
}

impl From<cdm::Error> for HandlerError {
    fn from(e: cdm::Error) -> Self {
        match e {
            cdm::Error::NoSuchVariable(_) | cdm::Error::Hyperslab(_) => {
                Self::BadRequest(e.to_string())
            }
            cdm::Error::UnknownFormat => Self::NotFound("not a dataset".into()),
            cdm::Error::LimitExceeded(m) => Self::TooLarge(m),
            cdm::Error::Upstream(_) => Self::BadGateway(e.to_string()),
            cdm::Error::UpstreamTimeout(_) => Self::GatewayTimeout(e.to_string()),
            cdm::Error::Io(ref io) if io.kind() == std::io::ErrorKind::NotFound => {
                Self::NotFound("no such dataset".into())
            }
            _ => Self::Internal(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_protocol_of_a_path_follows_its_suffix_escaped_or_not() {
        assert_eq!(Protocol::of_path("/a/b.nc.das"), Protocol::Dap2);
        assert_eq!(Protocol::of_path("/a/b.nc.dods"), Protocol::Dap2);
        assert_eq!(Protocol::of_path("/a/b.nc.dmr.xml"), Protocol::Dap4);
        assert_eq!(Protocol::of_path("/a/b.nc.dap"), Protocol::Dap4);
        // `%2E` is a dot: the suffix is read after decoding.
        assert_eq!(Protocol::of_path("/a/b.nc%2Edap"), Protocol::Dap4);
        assert_eq!(Protocol::of_path("/a/b%20c.nc.dds"), Protocol::Dap2);
        assert_eq!(Protocol::of_path("/a/b.nc%2"), Protocol::Plain);
        // `X.nc` is also the netCDF-3 file-out of `X`: a failure there speaks DAP2.
        assert_eq!(Protocol::of_path("/a/b.nc"), Protocol::Dap2);
        assert_eq!(Protocol::of_path("/a/b"), Protocol::Plain);
        assert_eq!(Protocol::of_path("/"), Protocol::Plain);
        assert_eq!(Protocol::of_path("/ogc/collections"), Protocol::Json);
    }
}
