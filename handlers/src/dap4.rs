//! DAP4 responses: `.dmr`, `.dmr.xml`, `.dap`, `.dsr`.

use crate::DatasetRequest;
use crate::body::Body;
use crate::error::HandlerError;

/// Answers a DAP4 request for a dataset.
pub(crate) async fn respond(req: &DatasetRequest) -> Result<http::Response<Body>, HandlerError> {
    Err(HandlerError::NotImplemented(format!(
        "{:?} responses are not available yet",
        req.kind
    )))
}
