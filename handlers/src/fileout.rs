//! File-out: `X.nc?ce` / `X.nc4?ce` (DAP2 constraint) and `X.dap.nc?dap4.ce=` /
//! `X.dap.nc4?dap4.ce=` (DAP4 constraint), as Hyrax spells them.
//!
//! The constraint is parsed and bound by the DAP crates exactly as for `.dods` / `.dap`, turned
//! into (variable, hyperslab) selections, planned by [`fileout::plan`], and checked against
//! `max_response_bytes` before anything is read. netCDF-3 is streamed with its exact
//! `Content-Length`; netCDF-4 is written to a temporary file (under `nc4_max_bytes`), whose
//! name is removed as soon as it is open for sending, so it goes away with the response however
//! that ends.

use std::sync::Arc;

use bytes::Bytes;
use http::{Response, header};
use tokio::io::AsyncReadExt;

use crate::DatasetRequest;
use crate::body::{Body, streaming};
use crate::error::HandlerError;
use crate::route::ResponseKind;

/// Bytes per read of a written netCDF-4 file.
const READ_SIZE: usize = 256 * 1024;

impl From<fileout::Error> for HandlerError {
    fn from(e: fileout::Error) -> Self {
        match e {
            fileout::Error::Unsupported(m) | fileout::Error::Query(m) => Self::BadRequest(m),
            fileout::Error::Source(e) => Self::from(e),
        }
    }
}

/// Every variable of the dataset, whole: a file-out request without a constraint.
fn whole_dataset(ds: &cdm::Dataset) -> Vec<fileout::Selection> {
    ds.all_variables()
        .map(|v| fileout::Selection {
            path: v.path.clone(),
            slab: cdm::Hyperslab::full(&v.shape()),
        })
        .collect()
}

/// The selections a request's constraint makes, checked before anything is read.
fn selections(req: &DatasetRequest) -> Result<Vec<fileout::Selection>, HandlerError> {
    let ds = req.entry.dataset();
    let query = req.query.as_deref().filter(|q| !q.trim().is_empty());
    match req.kind {
        ResponseKind::NetCdf3 | ResponseKind::NetCdf4 => {
            let Some(q) = query else {
                return Ok(whole_dataset(ds));
            };
            let mapped = crate::dap2::mapped(&req.entry);
            let projected = ::dap2::constrain(&mapped, Some(q))?;
            Ok(::dap2::file_selections(&mapped, &projected)?)
        }
        _ => {
            let query = dap4::Query::parse(query).map_err(crate::dap4::to_handler_error)?;
            if query.ce.is_none() {
                return Ok(whole_dataset(ds));
            }
            let constraint = dap4::bind(ds, &query).map_err(crate::dap4::to_handler_error)?;
            dap4::file_selections(ds, &constraint).map_err(crate::dap4::to_handler_error)
        }
    }
}

/// The name the downloaded file is saved under: the dataset's name without its extension.
fn file_name(url_path: &str, extension: &str) -> String {
    let name = url_path.rsplit('/').next().unwrap_or("data");
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    let safe: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}.{extension}")
}

/// Answers a file-out request; `nc4_max_bytes` bounds the temporary netCDF-4 file (0: none).
pub(crate) async fn respond(
    req: &DatasetRequest,
    nc4_max_bytes: u64,
) -> Result<Response<Body>, HandlerError> {
    let selections = selections(req)?;
    let netcdf4 = matches!(req.kind, ResponseKind::NetCdf4 | ResponseKind::Dap4NetCdf4);
    respond_with(req, &selections, netcdf4, nc4_max_bytes).await
}

/// Answers a NetCDF Subset Service grid request: `/ncss/grid/PATH?var=…` (the file) or
/// `/ncss/grid/PATH/dataset.xml` (what siphon reads first).
pub(crate) async fn ncss(
    state: &crate::AppState,
    rest: &str,
    query: Option<&str>,
) -> Result<Response<Body>, HandlerError> {
    let (dataset_path, metadata) = match rest.strip_suffix("/dataset.xml") {
        Some(p) => (p, true),
        None => (rest, false),
    };
    // `PATH/datasetBoundaries[.xml|.wkt|.json]`: the lat/lon outline.
    let boundaries = ["", ".xml", ".wkt", ".json"].iter().find_map(|ext| {
        dataset_path
            .strip_suffix(&format!("/datasetBoundaries{ext}"))
            .map(|p| (p, ext.trim_start_matches('.')))
    });
    let (dataset_path, boundaries) = match boundaries {
        Some((p, ext)) => (p, Some(ext)),
        None => (dataset_path, None),
    };
    let parts = crate::paths::components(&format!("/{dataset_path}"))
        .map_err(|e| HandlerError::BadRequest(e.to_string()))?;
    let file = crate::paths::resolve(&state.root, &parts)
        .ok()
        .filter(|p| p.is_file())
        .ok_or_else(|| HandlerError::NotFound("no such dataset".into()))?;
    let entry = state.catalog.open(&file).await.map_err(|e| match e {
        cdm::Error::UnknownFormat => HandlerError::NotFound("not a dataset".into()),
        other => HandlerError::from(other),
    })?;
    let url_path = format!("/{}", parts.join("/"));
    // Coordinate values are read once per file version.
    let coordinates = entry.extension(fileout::ncss::Coordinates::default);
    if let Some(ext) = boundaries {
        let format =
            fileout::ncss::BoundaryFormat::choose(Some(ext).filter(|e| !e.is_empty()), query)?;
        let ring =
            fileout::ncss::boundary(entry.source().as_ref(), entry.dataset(), &coordinates).await?;
        let (text, mime) = fileout::ncss::boundary_document(&ring, format);
        return Response::builder()
            .header(header::CONTENT_TYPE, mime)
            .header(header::CONTENT_LENGTH, text.len())
            .body(crate::body::full(Bytes::from(text)))
            .map_err(|e| HandlerError::Internal(e.to_string()));
    }
    if metadata {
        let location = format!("/ncss/grid{url_path}");
        let xml = fileout::ncss::dataset_xml(
            entry.source().as_ref(),
            entry.dataset(),
            &coordinates,
            &location,
        )
        .await?;
        return Response::builder()
            .header(header::CONTENT_TYPE, "application/xml")
            .header(header::CONTENT_LENGTH, xml.len())
            .body(crate::body::full(Bytes::from(xml)))
            .map_err(|e| HandlerError::Internal(e.to_string()));
    }
    let q = fileout::ncss::NcssQuery::parse(query)?;
    let subset =
        fileout::ncss::subset(entry.source().as_ref(), entry.dataset(), &coordinates, &q).await?;
    if matches!(
        q.accept,
        fileout::ncss::Accept::Csv | fileout::ncss::Accept::Xml
    ) {
        let location = format!("/ncss/grid{url_path}");
        let text = fileout::ncss::point_table(
            entry.source().as_ref(),
            entry.dataset(),
            &subset,
            q.accept,
            &location,
        )
        .await?;
        // TDS answers csv as text/plain (what siphon parses as CSV) and xml as application/xml.
        let mime = if q.accept == fileout::ncss::Accept::Csv {
            "text/plain; charset=utf-8"
        } else {
            "application/xml"
        };
        return Response::builder()
            .header(header::CONTENT_TYPE, mime)
            .header(header::CONTENT_LENGTH, text.len())
            .body(crate::body::full(Bytes::from(text)))
            .map_err(|e| HandlerError::Internal(e.to_string()));
    }
    let plan = subset.plan(entry.dataset())?;
    let netcdf4 = q.accept == fileout::ncss::Accept::Netcdf4;
    let req = DatasetRequest {
        kind: if netcdf4 {
            ResponseKind::NetCdf4
        } else {
            ResponseKind::NetCdf3
        },
        entry,
        query: query.map(str::to_owned),
        url_path,
        max_response_bytes: state.config.max_response_bytes,
        keep_max: 0,
    };
    respond_plan(&req, &plan, netcdf4, state.config.nc4_max_bytes).await
}

/// The file of `selections` of the request's dataset.
pub(crate) async fn respond_with(
    req: &DatasetRequest,
    selections: &[fileout::Selection],
    netcdf4: bool,
    nc4_max_bytes: u64,
) -> Result<Response<Body>, HandlerError> {
    let plan = fileout::plan(req.entry.dataset(), selections)?;
    respond_plan(req, &plan, netcdf4, nc4_max_bytes).await
}

/// The file of a planned subset of the request's dataset.
pub(crate) async fn respond_plan(
    req: &DatasetRequest,
    plan: &fileout::SubsetPlan,
    netcdf4: bool,
    nc4_max_bytes: u64,
) -> Result<Response<Body>, HandlerError> {
    let values = plan.value_bytes();
    if req.max_response_bytes > 0 && values > req.max_response_bytes {
        return Err(crate::too_large(req, values, req.max_response_bytes));
    }
    let source = Arc::clone(req.entry.source());
    if !netcdf4 {
        let file = fileout::Netcdf3::prepare(plan)?;
        let length = file.content_length();
        if req.max_response_bytes > 0 && length > req.max_response_bytes {
            return Err(crate::too_large(req, length, req.max_response_bytes));
        }
        let stream = file.into_stream(source);
        return Response::builder()
            .header(header::CONTENT_TYPE, "application/x-netcdf")
            .header(header::CONTENT_LENGTH, length)
            .header(
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}\"",
                    file_name(&req.url_path, "nc")
                ),
            )
            .body(streaming(stream))
            .map_err(|e| HandlerError::Internal(e.to_string()));
    }
    if nc4_max_bytes > 0 && values > nc4_max_bytes {
        return Err(HandlerError::TooLarge(format!(
            "this netCDF-4 file would hold {values} bytes of values, more than this server's \
limit of {nc4_max_bytes} bytes for netCDF-4 files; ask for less, or for .nc (streamed)"
        )));
    }
    let temp = tempfile::Builder::new()
        .prefix("fathom-fileout-")
        .suffix(".nc4")
        .tempfile()
        .map_err(|e| HandlerError::Internal(format!("cannot create a temporary file: {e}")))?;
    // On any error `temp` is dropped, which removes the file.
    let length = fileout::netcdf4(source, plan, temp.path(), nc4_max_bytes).await?;
    let reader = temp
        .reopen()
        .map_err(|e| HandlerError::Internal(format!("cannot reopen the written file: {e}")))?;
    // The open handle keeps the bytes; the name goes now.
    drop(temp);
    let file = tokio::fs::File::from_std(reader);
    let stream = futures::stream::unfold(Some((file, length)), |state| async move {
        let (mut file, left) = state?;
        if left == 0 {
            return None;
        }
        let want = usize::try_from(left).unwrap_or(READ_SIZE).min(READ_SIZE);
        let mut buf = bytes::BytesMut::with_capacity(want);
        match (&mut file).take(want as u64).read_buf(&mut buf).await {
            Ok(0) => Some((
                Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the written file ended early",
                )),
                None,
            )),
            Ok(n) => Some((
                Ok::<Bytes, std::io::Error>(buf.freeze()),
                Some((file, left - n as u64)),
            )),
            Err(e) => Some((Err(e), None)),
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/x-netcdf4")
        .header(header::CONTENT_LENGTH, length)
        .header(
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"{}\"",
                file_name(&req.url_path, "nc4")
            ),
        )
        .body(streaming(stream))
        .map_err(|e| HandlerError::Internal(e.to_string()))
}
