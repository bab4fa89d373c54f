//! The OGC API – EDR routes (`/ogc/…`), the OpenAPI document of every route (`/ogc/api`, made
//! from [`routes`], the router's table) and the STAC catalog (`/stac/…`). Thin: it finds the
//! datasets, reads their coordinates and values through the catalog, and hands them to the
//! `ogc` crate, which makes every document.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use serde_json::Value;

use ::ogc::grid::{self, Grid};
use ::ogc::openapi::{Param, Route};
use ::ogc::query::{self, QueryKind};
use ::ogc::{OgcError, common, covjson, openapi, stac};

use crate::error::{HandlerError, Protocol};
use crate::listing::{self, EntryKind};
use crate::metrics::Kind;
use crate::route::{ResponseKind, SUFFIXES};
use crate::{AppState, Routed, body, paths};

/// How deep `/ogc/collections` looks for datasets below the root.
const MAX_DEPTH: usize = 8;
/// How many datasets `/ogc/collections` lists at most.
const MAX_COLLECTIONS: usize = 10_000;

/// Answers `/ogc…` and `/stac/…`; `None` for any other path.
pub(crate) async fn respond<B>(state: &AppState, req: &Request<B>) -> Option<Routed> {
    let path = req.uri().path();
    let kind = if path == "/ogc" || path.starts_with("/ogc/") {
        Kind::Ogc
    } else if path.starts_with("/stac/") || path == "/stac" {
        Kind::Stac
    } else {
        return None;
    };
    let base = base_url(req);
    let query = req.uri().query();
    let result = if kind == Kind::Ogc {
        ogc_route(state, &base, path, query, req.headers()).await
    } else {
        stac_route(state, &base, path).await
    };
    Some(
        result
            .map(|r| (r, kind))
            .map_err(|e| (e, Protocol::Json, kind)),
    )
}

/// `http://host` from the request, so every link points back where the client came from.
fn base_url<B>(req: &Request<B>) -> String {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.bytes().all(|b| b.is_ascii_graphic())
                && !h.contains(['/', '"', '\\'])
        })
        .or_else(|| req.uri().authority().map(http::uri::Authority::as_str));
    let scheme = match req
        .headers()
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    host.map_or_else(String::new, |h| format!("{scheme}://{h}"))
}

impl From<OgcError> for HandlerError {
    fn from(e: OgcError) -> Self {
        match e {
            OgcError::BadRequest(m) => Self::BadRequest(m),
            OgcError::NotFound(m) => Self::NotFound(m),
            OgcError::TooLarge(m) => Self::TooLarge(m),
            // `edr_query` answers it with 204 before it could get here; a query that selects
            // nothing anywhere else is the client's mistake.
            OgcError::NoData(m) => Self::BadRequest(m),
        }
    }
}

fn json_response(
    doc: &Value,
    content_type: &'static str,
) -> Result<Response<body::Body>, HandlerError> {
    let bytes = serde_json::to_vec(doc).map_err(|e| HandlerError::Internal(e.to_string()))?;
    bytes_response(bytes.into(), content_type)
}

fn bytes_response(
    bytes: Bytes,
    content_type: &'static str,
) -> Result<Response<body::Body>, HandlerError> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_LENGTH, bytes.len())
        .body(body::full(bytes))
        .map_err(|e| HandlerError::Internal(e.to_string()))
}

fn wants_html(query: Option<&str>, headers: &http::HeaderMap) -> bool {
    let params = query::parse_query_string(query);
    if let Some((_, f)) = params.iter().find(|(k, _)| k == "f") {
        return f.eq_ignore_ascii_case("html");
    }
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| {
            let html = a.find("text/html");
            let json = a.find("json");
            html.is_some() && (json.is_none() || html < json)
        })
}

async fn ogc_route(
    state: &AppState,
    base: &str,
    path: &str,
    query: Option<&str>,
    headers: &http::HeaderMap,
) -> Result<Response<body::Body>, HandlerError> {
    let rest = path.trim_start_matches("/ogc").trim_end_matches('/');
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        [] => {
            if wants_html(query, headers) {
                let grids = all_grids(state).await?;
                let page = common::landing_html(&grids);
                bytes_response(page.into(), "text/html; charset=utf-8")
            } else {
                json_response(&common::landing(base), "application/json")
            }
        }
        ["api"] => json_response(
            &openapi::document(&routes(), env!("CARGO_PKG_VERSION")),
            "application/vnd.oai.openapi+json;version=3.0",
        ),
        ["conformance"] => json_response(&common::conformance(), "application/json"),
        ["collections"] => {
            let grids = all_grids(state).await?;
            json_response(&common::collections(base, &grids), "application/json")
        }
        ["collections", id] => {
            let g = collection(state, id).await?;
            json_response(&common::collection(base, &g), "application/json")
        }
        ["collections", id, q] => {
            let kind = QueryKind::from_name(q).ok_or_else(|| {
                HandlerError::NotFound(format!(
                    "no query type {q:?}: this server answers position, area and cube"
                ))
            })?;
            let g = collection(state, id).await?;
            edr_query(state, &g, kind, query).await
        }
        _ => Err(HandlerError::NotFound("no such OGC API resource".into())),
    }
}

/// The collection `id` names.
async fn collection(state: &AppState, id: &str) -> Result<Arc<Grid>, HandlerError> {
    let id = percent_encoding::percent_decode_str(id)
        .decode_utf8()
        .map_err(|_| HandlerError::BadRequest("the collection id is not UTF-8".into()))?;
    let not_found =
        || HandlerError::NotFound(format!("no collection {id:?}: see /ogc/collections"));
    let url_path = grid::dataset_path(&id);
    let parts = paths::components(&url_path).map_err(|_| not_found())?;
    let file = paths::resolve(&state.root, &parts)
        .ok()
        .filter(|p| p.is_file())
        .ok_or_else(not_found)?;
    grid_of(state, &file, &format!("/{}", parts.join("/")))
        .await?
        .ok_or_else(not_found)
}

/// Per open dataset: its grid, made once per file version.
#[derive(Debug, Default)]
struct GridCell(tokio::sync::OnceCell<Option<Arc<Grid>>>);

/// The grid of the dataset in `file` (`None`: not a dataset, or no CF grid).
async fn grid_of(
    state: &AppState,
    file: &Path,
    url_path: &str,
) -> Result<Option<Arc<Grid>>, HandlerError> {
    let entry = match state.catalog.open(file).await {
        Ok(e) => e,
        Err(cdm::Error::UnknownFormat) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let cell = entry.extension(GridCell::default);
    let grid = cell
        .0
        .get_or_try_init(|| async {
            let ds = entry.dataset();
            let Some(coords) = grid::grid_coordinates(ds) else {
                return Ok::<_, HandlerError>(None);
            };
            let mut values = BTreeMap::new();
            for path in coords {
                let var = ds
                    .variable(&path)
                    .ok_or_else(|| HandlerError::Internal(format!("no variable {path}")))?;
                let bytes = cdm::read_all(
                    entry.source().as_ref(),
                    &path,
                    &cdm::Hyperslab::full(&var.shape()),
                )
                .await?;
                let v = cdm::cf::numbers(&var.dtype, &bytes)
                    .map_err(|e| HandlerError::Internal(e.to_string()))?;
                values.insert(path, v);
            }
            Ok(Grid::new(ds, url_path, &values).map(Arc::new))
        })
        .await?;
    Ok(grid.clone())
}

/// Every dataset below the root, as (path components, file), breadth first, bounded.
async fn all_datasets(state: &AppState) -> Result<Vec<(Vec<String>, PathBuf)>, HandlerError> {
    let mut out = Vec::new();
    let mut queue: Vec<(Vec<String>, PathBuf, usize)> = vec![(Vec::new(), state.root.clone(), 0)];
    while let Some((parts, dir, depth)) = queue.pop() {
        for e in listing::read_folder(&state.root, &dir).await? {
            let mut p = parts.clone();
            p.push(e.name.clone());
            match e.kind {
                EntryKind::Folder if depth < MAX_DEPTH => {
                    queue.push((p, dir.join(&e.name), depth + 1));
                }
                EntryKind::Dataset if out.len() < MAX_COLLECTIONS => {
                    out.push((p, dir.join(&e.name)));
                }
                _ => {}
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The grids of every dataset below the root that has one.
async fn all_grids(state: &AppState) -> Result<Vec<Grid>, HandlerError> {
    let mut grids = Vec::new();
    for (parts, file) in all_datasets(state).await? {
        // A damaged file is left out of the list rather than failing it.
        if let Ok(Some(g)) = grid_of(state, &file, &format!("/{}", parts.join("/"))).await {
            grids.push(g.as_ref().clone());
        }
    }
    Ok(grids)
}

async fn edr_query(
    state: &AppState,
    g: &Grid,
    kind: QueryKind,
    query: Option<&str>,
) -> Result<Response<body::Body>, HandlerError> {
    let params = query::parse_query_string(query);
    let plan = match query::plan(g, kind, &params, state.config.edr_max_values) {
        Ok(plan) => plan,
        // EDR 1.1 /req/edr/query_type/no-data: a query outside the collection is 204, no body.
        Err(OgcError::NoData(_)) => {
            return Response::builder()
                .status(StatusCode::NO_CONTENT)
                .body(body::full(Bytes::new()))
                .map_err(|e| HandlerError::Internal(e.to_string()));
        }
        Err(e) => return Err(e.into()),
    };
    let parts =
        paths::components(&g.url_path).map_err(|e| HandlerError::BadRequest(e.to_string()))?;
    let file = paths::resolve(&state.root, &parts)
        .map_err(|_| HandlerError::NotFound("the collection's dataset is gone".into()))?;
    let entry = state.catalog.open(&file).await?;
    let format = query::output_format(
        params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("f"))
            .map(|(_, v)| v.trim()),
    )?;
    if format == query::OutputFormat::NetCdf {
        return edr_netcdf(state, g, &plan, entry).await;
    }
    let mut values = Vec::with_capacity(plan.parameters.len());
    for &p in &plan.parameters {
        let slab = plan.read_slab(g, p)?;
        let path = &g.parameters[p].path;
        values.push(cdm::read_all(entry.source().as_ref(), path, &slab).await?);
    }
    let doc = covjson::coverage(g, &plan, &values)?;
    bytes_response(doc.into(), covjson::MEDIA_TYPE)
}

/// The cells of `plan` as a netCDF-3 file, streamed (exact `Content-Length`, no temporary
/// file), through the file-out code: the selected parameters with their coordinate variables
/// and attributes.
async fn edr_netcdf(
    state: &AppState,
    g: &Grid,
    plan: &query::Plan,
    entry: Arc<cdm::catalog::CatalogEntry>,
) -> Result<Response<body::Body>, HandlerError> {
    let mut selections = Vec::with_capacity(plan.parameters.len());
    for &p in &plan.parameters {
        selections.push(fileout::Selection {
            path: g.parameters[p].path.clone(),
            slab: plan.file_slab(g, p)?,
        });
    }
    let max = state.config.max_response_bytes;
    let file_plan = fileout::plan(entry.dataset(), &selections)?;
    let bytes = file_plan.value_bytes();
    if max > 0 && bytes > max {
        return Err(HandlerError::TooLarge(format!(
            "this netCDF file would hold {bytes} bytes of values, more than this server's limit \
of {max} bytes. Ask for less: a smaller bbox, a shorter datetime interval (start/end), fewer z \
levels, or fewer parameters with parameter-name=name1,name2"
        )));
    }
    let req = crate::DatasetRequest {
        kind: ResponseKind::NetCdf3,
        entry,
        query: None,
        url_path: g.url_path.clone(),
        max_response_bytes: max,
    };
    crate::fileout::respond_with(&req, &selections, false, 0).await
}

async fn stac_route(
    state: &AppState,
    base: &str,
    path: &str,
) -> Result<Response<body::Body>, HandlerError> {
    let rest = path.strip_prefix("/stac").unwrap_or_default();
    let not_found =
        || HandlerError::NotFound("no such STAC document: start at /stac/catalog.json".into());
    let parts = paths::components(rest).map_err(|e| HandlerError::BadRequest(e.to_string()))?;
    let (last, folder) = parts.split_last().ok_or_else(not_found)?;
    if last == "catalog.json" {
        let dir = paths::resolve(&state.root, folder)
            .ok()
            .filter(|d| d.is_dir())
            .ok_or_else(not_found)?;
        let mut folders = Vec::new();
        let mut aggregations = Vec::new();
        let mut datasets = Vec::new();
        for e in listing::read_folder(&state.root, &dir).await? {
            match e.kind {
                EntryKind::Folder => folders.push(e.name),
                // Only datasets that open are linked, so a walker never meets a broken link.
                EntryKind::Dataset => match state.catalog.open(&dir.join(&e.name)).await {
                    Ok(entry) if is_aggregation(&entry) => aggregations.push(e.name),
                    Ok(_) => datasets.push(e.name),
                    Err(_) => {}
                },
                EntryKind::File => {}
            }
        }
        return json_response(
            &stac::catalog(base, folder, &folders, &aggregations, &datasets),
            "application/json",
        );
    }
    // `/stac/a/agg.ncml/collection.json`: the collection of an aggregation.
    let (item_parts, as_collection) = if last == "collection.json" {
        (folder.to_vec(), true)
    } else {
        let stem = last.strip_suffix(".json").ok_or_else(not_found)?;
        let mut p = folder.to_vec();
        p.push(stem.to_owned());
        (p, false)
    };
    let file = paths::resolve(&state.root, &item_parts)
        .ok()
        .filter(|f| f.is_file())
        .ok_or_else(not_found)?;
    let entry = match state.catalog.open(&file).await {
        Ok(e) => e,
        Err(cdm::Error::UnknownFormat) => return Err(not_found()),
        Err(e) => return Err(e.into()),
    };
    let aggregation = is_aggregation(&entry);
    if as_collection && !aggregation {
        return Err(HandlerError::NotFound(
            "only aggregations are STAC collections: this dataset is an item".into(),
        ));
    }
    let url_path = format!("/{}", item_parts.join("/"));
    let g = grid_of(state, &file, &url_path).await?;
    let modified = entry
        .modified()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    let media_type = if cdm::formats::ncml::is_ncml(&file) {
        stac::NCML
    } else if entry.dataset().format == cdm::Format::Hdf5 {
        stac::HDF5
    } else {
        stac::NETCDF
    };
    let src = stac::ItemSource {
        parts: &item_parts,
        dataset: entry.dataset(),
        grid: g.as_deref(),
        modified_unix: modified,
        media_type,
        aggregation,
    };
    if as_collection {
        json_response(&stac::collection(base, &src), "application/json")
    } else {
        json_response(&stac::item(base, &src), "application/geo+json")
    }
}

/// Whether a catalog entry is an NcML aggregation (a STAC collection of its own).
fn is_aggregation(entry: &cdm::catalog::CatalogEntry) -> bool {
    entry.dependencies().is_some_and(|d| d.is_aggregation())
}

/// `POINT(lon lat)`.
const POINT_PATTERN: &str = r"^POINT\(-?[0-9]{1,3}(\.[0-9]+)? -?[0-9]{1,3}(\.[0-9]+)?\)$";
/// `POLYGON((lon lat, …))`, a closed ring.
const POLYGON_PATTERN: &str = r"^POLYGON\(\(-?[0-9]{1,3}(\.[0-9]+)? -?[0-9]{1,3}(\.[0-9]+)?(, ?-?[0-9]{1,3}(\.[0-9]+)? -?[0-9]{1,3}(\.[0-9]+)?){3,}\)\)$";
/// `west,south,east,north`.
const BBOX_PATTERN: &str = r"^-?[0-9]{1,3}(\.[0-9]+)?,-?[0-9]{1,3}(\.[0-9]+)?,-?[0-9]{1,3}(\.[0-9]+)?,-?[0-9]{1,3}(\.[0-9]+)?$";

/// Every route the server answers, as the OpenAPI document describes it. The DAP routes come
/// from the router's own suffix table, so a new suffix is documented the day it is served.
#[must_use]
pub fn routes() -> Vec<Route> {
    let dataset = || {
        Param::path(
            "dataset",
            "the dataset's path under the root (one segment here; folders are further path segments)",
            Some("classic.nc".into()),
        )
    };
    let folder = || Param::path("folder", "a folder under the root", Some("samples".into()));
    let plain = "text/plain";
    let json = "application/json";
    let mut r = vec![
        Route {
            path: "/healthz".into(),
            summary: "200 ok while the server accepts requests".into(),
            tag: "operations",
            params: vec![],
            media_types: vec!["text/plain"],
            statuses: vec![],
            error_media_type: plain,
        },
        Route {
            path: "/metrics".into(),
            summary: "Prometheus metrics".into(),
            tag: "operations",
            params: vec![],
            media_types: vec!["text/plain"],
            statuses: vec![],
            error_media_type: plain,
        },
        Route {
            path: "/".into(),
            summary: "the root folder's listing (HTML, or JSON with ?format=json)".into(),
            tag: "listings",
            params: vec![Param::query("format", "json for the listing as JSON")],
            media_types: vec!["text/html", json],
            statuses: vec![],
            error_media_type: plain,
        },
        Route {
            path: "/{folder}/".into(),
            summary: "a folder's listing (HTML, or JSON with ?format=json)".into(),
            tag: "listings",
            params: vec![
                folder(),
                Param::query("format", "json for the listing as JSON"),
            ],
            media_types: vec!["text/html", json],
            statuses: vec![(301, "the folder without its trailing slash")],
            error_media_type: plain,
        },
        Route {
            path: "/catalog.xml".into(),
            summary: "the root folder's THREDDS catalog".into(),
            tag: "catalogs",
            params: vec![],
            media_types: vec!["application/xml"],
            statuses: vec![],
            error_media_type: plain,
        },
        Route {
            path: "/catalog.html".into(),
            summary: "the root folder's THREDDS catalog as HTML".into(),
            tag: "catalogs",
            params: vec![],
            media_types: vec!["text/html"],
            statuses: vec![],
            error_media_type: plain,
        },
        Route {
            path: "/{folder}/catalog.xml".into(),
            summary: "a folder's THREDDS catalog".into(),
            tag: "catalogs",
            params: vec![folder()],
            media_types: vec!["application/xml"],
            statuses: vec![],
            error_media_type: plain,
        },
        Route {
            path: "/{file}".into(),
            summary: "a file as it is on disk (with Range support)".into(),
            tag: "files",
            params: vec![Param::path(
                "file",
                "a file under the root",
                Some("classic.nc".into()),
            )],
            media_types: vec![
                "application/x-netcdf",
                "application/x-hdf5",
                "application/octet-stream",
                "text/plain",
                "text/html",
                "application/json",
                "application/xml",
            ],
            statuses: vec![
                (206, "part of the file (Range)"),
                (301, "a folder: its listing"),
                (416, "a Range outside the file"),
            ],
            error_media_type: plain,
        },
    ];
    for (suffix, kind) in SUFFIXES {
        let (tag, media, error_media, data) = match kind {
            ResponseKind::Dds | ResponseKind::Das | ResponseKind::Version => {
                ("DAP2", "text/plain", plain, false)
            }
            ResponseKind::Ascii => ("DAP2", "text/plain", plain, true),
            ResponseKind::Dods => ("DAP2", "application/octet-stream", plain, true),
            ResponseKind::Dmr => (
                "DAP4",
                "application/vnd.opendap.dap4.dataset-metadata+xml",
                "application/vnd.opendap.dap4.error+xml",
                false,
            ),
            ResponseKind::Dsr => (
                "DAP4",
                "application/vnd.opendap.dap4.dataset-services+xml",
                "application/vnd.opendap.dap4.error+xml",
                false,
            ),
            ResponseKind::Dap => (
                "DAP4",
                "application/vnd.opendap.dap4.data",
                "application/vnd.opendap.dap4.error+xml",
                true,
            ),
            ResponseKind::Html | ResponseKind::Info | ResponseKind::Help => {
                ("pages", "text/html", plain, false)
            }
            ResponseKind::Png => ("pictures", "image/png", plain, true),
            ResponseKind::NetCdf3 => ("DAP2", "application/x-netcdf", plain, true),
            ResponseKind::NetCdf4 => ("DAP2", "application/x-netcdf4", plain, true),
            ResponseKind::Dap4NetCdf3 => (
                "DAP4",
                "application/x-netcdf",
                "application/vnd.opendap.dap4.error+xml",
                true,
            ),
            ResponseKind::Dap4NetCdf4 => (
                "DAP4",
                "application/x-netcdf4",
                "application/vnd.opendap.dap4.error+xml",
                true,
            ),
        };
        let mut params = vec![dataset()];
        let mut statuses = vec![];
        if tag == "DAP4" {
            params.push(Param::query(
                "dap4.ce",
                "a DAP4 constraint expression (e.g. /var[0:9])",
            ));
        }
        if *kind == ResponseKind::Png {
            params.push(Param::query(
                "palette",
                "the palette: viridis (default), magma, inferno, plasma, cividis, turbo, rdbu, greys",
            ));
            params.push(Param::query(
                "range",
                "LO,HI: the values at the palette's ends (default: the slice's finite min, max)",
            ));
            params.push(Param::query(
                "colorbar",
                "true: a colour bar with the range drawn under the picture",
            ));
        }
        if data {
            statuses.push((413, "the response would be larger than the server's limit"));
        }
        statuses.push((501, "a valid request for something not supported"));
        r.push(Route {
            path: format!("/{{dataset}}{suffix}"),
            summary: format!("{tag} {suffix} of a dataset"),
            tag,
            params,
            media_types: vec![media],
            statuses,
            error_media_type: error_media,
        });
    }
    r.push(Route {
        path: "/ncss/grid/{dataset}".into(),
        summary: "NetCDF Subset Service (grid): a subset by coordinates as a netCDF file".into(),
        tag: "NCSS",
        params: vec![
            dataset(),
            Param::query(
                "var",
                "grid variables, comma-separated or repeated (or all)",
            ),
            Param::query("north", "the box's northern edge, degrees"),
            Param::query("south", "the box's southern edge, degrees"),
            Param::query("east", "the box's eastern edge, degrees"),
            Param::query("west", "the box's western edge, degrees"),
            Param::query("latitude", "a point's latitude: the nearest cell"),
            Param::query("longitude", "a point's longitude: the nearest cell"),
            Param::query("horizStride", "every n-th x and y index"),
            Param::query(
                "time",
                "the nearest time (ISO 8601); without any time parameter, the latest",
            ),
            Param::query("time_start", "the first time (ISO 8601)"),
            Param::query("time_end", "the last time (ISO 8601)"),
            Param::query("temporal", "all: every time"),
            Param::query("timeStride", "every n-th time"),
            Param::query("vertCoord", "the nearest vertical level"),
            Param::query("addLatLon", "accepted; coordinates always come along"),
            Param::query(
                "accept",
                "netcdf (default), netcdf3, netcdf4 or netcdf4-classic; csv or xml for a point",
            ),
        ],
        media_types: vec![
            "application/x-netcdf",
            "application/x-netcdf4",
            "text/plain",
            "application/xml",
        ],
        statuses: vec![(413, "the response would be larger than the server's limit")],
        error_media_type: plain,
    });
    r.push(Route {
        path: "/ncss/grid/{dataset}/dataset.xml".into(),
        summary: "NetCDF Subset Service (grid): the grids, lat/lon box and time span (siphon)"
            .into(),
        tag: "NCSS",
        params: vec![dataset()],
        media_types: vec!["application/xml"],
        statuses: vec![],
        error_media_type: plain,
    });
    r.push(Route {
        path: "/ncss/grid/{dataset}/datasetBoundaries".into(),
        summary: "NetCDF Subset Service (grid): the outline of the grid's cells".into(),
        tag: "NCSS",
        params: vec![
            dataset(),
            Param::query("accept", "wkt (default), json (GeoJSON) or xml"),
        ],
        media_types: vec!["text/plain", "application/geo+json", "application/xml"],
        statuses: vec![],
        error_media_type: plain,
    });
    r.push(Route {
        path: "/{dataset}.zarr/{key}".into(),
        summary:
            "a dataset as a Zarr store: metadata (zarr.json, .zarray, .zattrs, .zgroup) and chunks"
                .into(),
        tag: "Zarr",
        params: vec![
            dataset(),
            Param::path(
                "key",
                "a Zarr key (zarr.json, .zgroup, var/.zarray, var/c/0/0, …)",
                Some("zarr.json".into()),
            ),
        ],
        media_types: vec![json, "application/octet-stream"],
        statuses: vec![
            (206, "part of a chunk (Range)"),
            (416, "a Range outside the chunk"),
        ],
        error_media_type: plain,
    });
    let ogc_json =
        |path: &str, summary: &str, params: Vec<Param>, media: Vec<&'static str>| Route {
            path: path.into(),
            summary: summary.into(),
            tag: "OGC API – EDR",
            params,
            media_types: media,
            statuses: vec![],
            error_media_type: json,
        };
    let collection_id = || {
        Param::path(
            "collectionId",
            "a collection: the dataset's path with '/' written as ':'",
            Some("cf_grid.nc".into()),
        )
    };
    r.push(ogc_json(
        "/ogc",
        "the landing page (JSON; HTML with f=html)",
        vec![Param::query("f", "json or html")],
        vec![json, "text/html"],
    ));
    r.push(ogc_json(
        "/ogc/api",
        "this OpenAPI document",
        vec![],
        vec!["application/vnd.oai.openapi+json;version=3.0"],
    ));
    r.push(ogc_json(
        "/ogc/conformance",
        "the conformance classes",
        vec![],
        vec![json],
    ));
    r.push(ogc_json(
        "/ogc/collections",
        "one collection per gridded dataset, with its extent and parameters",
        vec![],
        vec![json],
    ));
    r.push(ogc_json(
        "/ogc/collections/{collectionId}",
        "one collection",
        vec![collection_id()],
        vec![json],
    ));
    for q in QueryKind::ALL {
        let mut params = vec![collection_id()];
        match q {
            QueryKind::Position => params.push(Param {
                required: true,
                pattern: Some(POINT_PATTERN),
                ..Param::query("coords", "POINT(lon lat): the nearest cell")
            }),
            QueryKind::Area => params.push(Param {
                required: true,
                pattern: Some(POLYGON_PATTERN),
                ..Param::query(
                    "coords",
                    "POLYGON((lon lat, …)): the cells whose centres are inside",
                )
            }),
            QueryKind::Cube => params.push(Param {
                required: true,
                pattern: Some(BBOX_PATTERN),
                ..Param::query("bbox", "west,south,east,north in CRS84 degrees")
            }),
        }
        params.push(Param::query(
            "datetime",
            "an instant (nearest time) or start/end, '..' for an open end",
        ));
        params.push(Param::query(
            "z",
            "a level (nearest), low/high, or a list a,b",
        ));
        params.push(Param::query(
            "parameter-name",
            "parameters, comma-separated (default: all)",
        ));
        params.push(Param::query(
            "parameter_names",
            "the same as parameter-name",
        ));
        params.push(Param::query("crs", "CRS84 (the only one)"));
        params.push(Param::query(
            "f",
            "CoverageJSON (default) or netCDF (also nc; regular grids: a netCDF-3 file)",
        ));
        let mut route = ogc_json(
            &format!("/ogc/collections/{{collectionId}}/{}", q.name()),
            &format!("EDR {} query: CoverageJSON or netCDF", q.name()),
            params,
            vec![covjson::MEDIA_TYPE, "application/x-netcdf"],
        );
        route.statuses.push((
            204,
            "no data: the place, time or level asked for lies outside the collection",
        ));
        route
            .statuses
            .push((413, "the query selects more values than the server allows"));
        r.push(route);
    }
    r.push(Route {
        path: "/stac/catalog.json".into(),
        summary: "the STAC catalog of the root folder".into(),
        tag: "STAC",
        params: vec![],
        media_types: vec![json],
        statuses: vec![],
        error_media_type: json,
    });
    r.push(Route {
        path: "/stac/{folder}/catalog.json".into(),
        summary: "the STAC catalog of a folder".into(),
        tag: "STAC",
        params: vec![folder()],
        media_types: vec![json],
        statuses: vec![],
        error_media_type: json,
    });
    r.push(Route {
        path: "/stac/{dataset}/collection.json".into(),
        summary: "the STAC collection of an aggregation (an NcML dataset made of others)".into(),
        tag: "STAC",
        params: vec![Param::path(
            "dataset",
            "an NcML aggregation's path under the root",
            Some("aggregation.ncml".into()),
        )],
        media_types: vec![json],
        statuses: vec![],
        error_media_type: json,
    });
    r.push(Route {
        path: "/stac/{dataset}.json".into(),
        summary: "the STAC item of a dataset".into(),
        tag: "STAC",
        params: vec![dataset()],
        media_types: vec!["application/geo+json"],
        statuses: vec![],
        error_media_type: json,
    });
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_lists_every_route_the_router_has() {
        let doc = openapi::document(&routes(), "test");
        let paths = doc["paths"].as_object().expect("paths");
        for (suffix, _) in SUFFIXES {
            assert!(
                paths.contains_key(&format!("/{{dataset}}{suffix}")),
                "{suffix} undocumented"
            );
        }
        for reserved in [
            "/healthz",
            "/metrics",
            "/ogc",
            "/ogc/api",
            "/ogc/conformance",
            "/ogc/collections",
            "/stac/catalog.json",
            "/catalog.xml",
            "/{dataset}.zarr/{key}",
        ] {
            assert!(paths.contains_key(reserved), "{reserved} undocumented");
        }
        for q in QueryKind::ALL {
            assert!(paths.contains_key(&format!("/ogc/collections/{{collectionId}}/{}", q.name())));
        }
    }
}
