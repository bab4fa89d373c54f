//! `ogc` — OGC API – Environmental Data Retrieval, CoverageJSON, the server's OpenAPI document
//! and STAC, built from the CDM. Pure: no files, no HTTP; `handlers` reads the values and sends
//! the bytes.
//!
//! - [`grid`]: a [`Grid`] is one EDR collection — a dataset's CF longitude/latitude (and
//!   vertical, time) coordinate variables with their values, and the data variables on them.
//! - [`query`]: EDR query parameters (`bbox`, `datetime`, `z`, `parameter-name`, `coords`) and
//!   their plan: which indices of each axis, which hyperslab of each variable to read.
//! - [`covjson`]: the planned values as a CoverageJSON `Coverage` (numbers printed exactly:
//!   a `float` as the shortest text that reads back to the same `float`).
//! - [`common`]: the OGC API – Common documents: landing page, conformance, collections.
//! - [`openapi`]: the OpenAPI 3.0 document of every route, made from the router's table.
//! - [`stac`]: STAC catalogs (one per folder) and items (one per dataset) with the datacube
//!   extension.
//!
//! | EDR / CoverageJSON | CDM |
//! |---|---|
//! | collection | a dataset with CF latitude and longitude coordinates (1-D, or 2-D named by `coordinates`: curvilinear) |
//! | parameter | a numeric data variable over exactly the grid's axes |
//! | `x`, `y`, `z`, `t` axis | coordinate variables found by `axis`, `standard_name`, `units` ([`cdm::cf`]) |
//! | `t` values | CF time units + calendar → ISO 8601 |
//! | `null` in a range | NaN, `_FillValue`, `missing_value` |
//! | curvilinear `cube` / `area` | `MultiPoint` / `MultiPointSeries` of the cells inside |
//! | query outside the collection | [`OgcError::NoData`]: 204 (EDR 1.1 `/req/edr/query_type/no-data`) |

pub mod common;
pub mod covjson;
pub mod grid;
pub mod openapi;
pub mod query;
pub mod stac;

pub use grid::{Grid, GridAxis, Parameter};
pub use query::{Plan, QueryKind};

/// What an OGC request can do wrong, each with the status `handlers` gives it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OgcError {
    /// 400: a malformed or unusable query parameter.
    #[error("{0}")]
    BadRequest(String),
    /// 404: no such collection, query type or document.
    #[error("{0}")]
    NotFound(String),
    /// 204: a well-formed query that selects nothing — its box, point, polygon, time or level
    /// lies outside the collection (EDR 1.1 `/req/edr/query_type/no-data`). Not a failure:
    /// `handlers` answers 204 No Content, without a body.
    #[error("{0}")]
    NoData(String),
    /// 413: the query asks for more values than the server allows.
    #[error("{0}")]
    TooLarge(String),
}
