//! DAP2 responses: `.dds`, `.das`, `.dods`, `.ascii`, `.ver`.

use http::response::Builder;

use crate::DatasetRequest;
use crate::body::Body;
use crate::error::HandlerError;

/// The server's version as DAP2 clients expect to see it.
pub(crate) const XDODS_SERVER: &str = "dods/3.2";
/// The OPeNDAP server name and version.
pub(crate) const XOPENDAP_SERVER: &str = concat!("fathom/", env!("CARGO_PKG_VERSION"));
/// The DAP protocol version.
pub(crate) const XDAP: &str = "3.2";

/// Adds the headers every DAP2 response carries (netCDF-Java refuses a response without
/// `XDODS-Server` or `XDAP`).
pub(crate) fn with_dap2_headers(builder: Builder, description: &str) -> Builder {
    builder
        .header("Content-Description", description)
        .header("XDODS-Server", XDODS_SERVER)
        .header("XOPeNDAP-Server", XOPENDAP_SERVER)
        .header("XDAP", XDAP)
}

/// Answers a DAP2 request for a dataset.
pub(crate) async fn respond(req: &DatasetRequest) -> Result<http::Response<Body>, HandlerError> {
    Err(HandlerError::NotImplemented(format!(
        "{:?} responses are not available yet",
        req.kind
    )))
}
