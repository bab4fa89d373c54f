//! The OGC API – EDR routes (`/ogc/…`), the OpenAPI document of every route (`/ogc/api`, made
//! from [`routes`], the router's table) and the STAC catalog (`/stac/…`). Thin: it finds the
//! datasets, reads their coordinates and values through the catalog, and hands them to the
//! `ogc` crate, which makes every document.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

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
use crate::{AppState, Routed, body, objects, paths};
use cdm::object::{Listed, ObjectRoot};

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
            common::OPENAPI_MEDIA_TYPE,
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
    let (located, entry) = open_dataset(state, &url_path, not_found).await?;
    grid_of_entry(&entry, &located.url_path())
        .await?
        .ok_or_else(not_found)
}

/// Where a dataset's URL path leads: a file under the root, or an object under a mount.
enum Located<'a> {
    /// A file under the root, and its path components.
    File(PathBuf, Vec<String>),
    /// An object: its mount's root, the mount's path components and the key's.
    Object(&'a ObjectRoot, Vec<String>, Vec<String>),
}

impl Located<'_> {
    /// The dataset's URL path (`/a/b.nc`), as its DAP URLs and collection id use it.
    fn url_path(&self) -> String {
        match self {
            Self::File(_, parts) => format!("/{}", parts.join("/")),
            Self::Object(_, mount, key) => {
                format!("/{}", [&mount[..], &key[..]].concat().join("/"))
            }
        }
    }
}

/// The dataset at the (decoded) URL path `url_path`: an object when it lies under an object
/// mount (mounts come first, as for every other response), else a file under the root.
fn locate<'a>(state: &'a AppState, url_path: &str) -> Option<Located<'a>> {
    if let Some((prefix, root, rest)) = state.objects.find(url_path) {
        let mount = paths::components(prefix).ok()?;
        let key = paths::components(rest).ok()?;
        return (!key.is_empty()).then(|| Located::Object(root.as_ref(), mount, key));
    }
    let parts = paths::components(url_path).ok()?;
    let file = paths::resolve(&state.root, &parts)
        .ok()
        .filter(|p| p.is_file())?;
    Some(Located::File(file, parts))
}

/// The dataset at `url_path`, opened; `not_found` when there is none (no such file or object,
/// or not a dataset).
async fn open_dataset<'a>(
    state: &'a AppState,
    url_path: &str,
    not_found: impl Fn() -> HandlerError,
) -> Result<(Located<'a>, Arc<cdm::catalog::CatalogEntry>), HandlerError> {
    let located = locate(state, url_path).ok_or_else(&not_found)?;
    match open_located(state, &located).await {
        Ok(entry) => Ok((located, entry)),
        Err(cdm::Error::UnknownFormat) => Err(not_found()),
        Err(cdm::Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Err(not_found()),
        Err(e) => Err(e.into()),
    }
}

async fn open_located(
    state: &AppState,
    located: &Located<'_>,
) -> Result<Arc<cdm::catalog::CatalogEntry>, cdm::Error> {
    match located {
        Located::File(file, _) => state.catalog.open(file).await,
        Located::Object(root, _, key) => root.open(key, &state.catalog).await,
    }
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
    match state.catalog.open(file).await {
        Ok(entry) => grid_of_entry(&entry, url_path).await,
        Err(cdm::Error::UnknownFormat) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The grid of an open dataset (`None`: no CF grid), made once per dataset version.
async fn grid_of_entry(
    entry: &Arc<cdm::catalog::CatalogEntry>,
    url_path: &str,
) -> Result<Option<Arc<Grid>>, HandlerError> {
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
    for (_, probe) in object_datasets(state).await {
        if let Probe::Dataset(Some(g)) = probe {
            grids.push(g.as_ref().clone());
        }
    }
    Ok(grids)
}

/// How many prefixes a walk of one object mount lists at most: each listing is one request to
/// the store (reused while the listing cache keeps it).
const MAX_OBJECT_LISTINGS: usize = 1_000;
/// How many objects a walk opens at once when it meets versions it has not seen.
const OPEN_CONCURRENCY: usize = 4;

/// What opening one object version found.
#[derive(Debug, Clone)]
enum Probe {
    /// No dataset (not netCDF or HDF5, or damaged): left out of collections and catalogs.
    NotADataset,
    /// A dataset, with its grid when it has one.
    Dataset(Option<Arc<Grid>>),
}

/// Object version (URL path, size, last modified — as a listing gives them) → what opening it
/// found. A walk of a bucket opens each object once per version; after that `/ogc/collections`
/// and the STAC catalogs cost only the (cached) listings.
#[derive(Debug)]
pub(crate) struct ObjectProbes(moka::future::Cache<(String, u64, Option<SystemTime>), Probe>);

impl Default for ObjectProbes {
    fn default() -> Self {
        Self(moka::future::Cache::new(16_384))
    }
}

/// One object a listing shows with a dataset's name.
struct FoundObject<'a> {
    /// Its URL path components (the mount's, then the key's).
    parts: Vec<String>,
    /// Its mount's root.
    root: &'a ObjectRoot,
    /// Its key's components under the root.
    key: Vec<String>,
    /// The listing's entry: its version.
    listed: Listed,
}

/// Whether an open failed for a reason that may pass (the store unreachable or refusing),
/// rather than because of what the object holds: such failures are not remembered.
fn transient(e: &cdm::Error) -> bool {
    match e {
        cdm::Error::Upstream(_) | cdm::Error::UpstreamTimeout(_) | cdm::Error::Interrupted => true,
        cdm::Error::Io(io) => io.kind() != std::io::ErrorKind::NotFound,
        _ => false,
    }
}

/// What `found` holds, opening it only when this version has not been seen.
async fn probe(state: &AppState, found: &FoundObject<'_>) -> Probe {
    let url_path = format!("/{}", found.parts.join("/"));
    let version = (url_path, found.listed.size, found.listed.modified);
    if let Some(p) = state.object_probes.0.get(&version).await {
        return p;
    }
    let probe = match found.root.open(&found.key, &state.catalog).await {
        Ok(entry) => match grid_of_entry(&entry, &version.0).await {
            Ok(g) => Probe::Dataset(g),
            Err(_) => return Probe::NotADataset,
        },
        Err(e) if transient(&e) => return Probe::NotADataset,
        Err(_) => Probe::NotADataset,
    };
    state.object_probes.0.insert(version, probe.clone()).await;
    probe
}

/// The objects with a dataset's name directly in the folder `key` of `root` (mounted at
/// `mount`), and its sub-folders' names.
async fn object_folder<'a>(
    root: &'a ObjectRoot,
    mount: &[String],
    key: &[String],
) -> Result<(Vec<String>, Vec<FoundObject<'a>>), cdm::Error> {
    let listed = root.list(key).await?;
    let mut folders = Vec::new();
    let mut found = Vec::new();
    // An entry is named after its object, or after the dataset a DMR++ alone describes.
    let by_name: std::collections::HashMap<&str, &cdm::object::Listed> =
        listed.iter().map(|l| (l.name.as_str(), l)).collect();
    for e in objects::entries(&listed) {
        let l = by_name
            .get(e.name.as_str())
            .or_else(|| by_name.get(format!("{}.dmrpp", e.name).as_str()));
        match (e.kind, l) {
            (EntryKind::Folder, _) => folders.push(e.name),
            (EntryKind::Dataset, Some(l)) => {
                let mut k = key.to_vec();
                k.push(e.name);
                found.push(FoundObject {
                    parts: [mount, &k[..]].concat(),
                    root,
                    key: k,
                    listed: (*l).clone(),
                });
            }
            _ => {}
        }
    }
    Ok((folders, found))
}

/// Opens (or finds remembered) the objects `found`, a few at a time, in their order.
async fn probe_all(state: &AppState, found: Vec<FoundObject<'_>>) -> Vec<(Vec<String>, Probe)> {
    let mut out = Vec::with_capacity(found.len());
    for batch in found.chunks(OPEN_CONCURRENCY) {
        let mut pending = Vec::with_capacity(batch.len());
        for f in batch {
            pending.push(probe(state, f));
        }
        for (f, p) in batch.iter().zip(futures::future::join_all(pending).await) {
            out.push((f.parts.clone(), p));
        }
    }
    out
}

/// Every dataset-named object below the object mounts, breadth first, bounded in depth, in
/// listings and in number, with what each holds.
async fn object_datasets(state: &AppState) -> Vec<(Vec<String>, Probe)> {
    let mut found = Vec::new();
    for (prefix, root) in state.objects.all() {
        let Ok(mount) = paths::components(prefix) else {
            continue;
        };
        let mut listings = 0;
        let mut queue = std::collections::VecDeque::from([(Vec::<String>::new(), 0usize)]);
        while let Some((key, depth)) = queue.pop_front() {
            if listings >= MAX_OBJECT_LISTINGS || found.len() >= MAX_COLLECTIONS {
                break;
            }
            listings += 1;
            // A mount that cannot be listed (an HTTP folder of plain files, a missing bucket,
            // refused credentials) adds nothing rather than failing the whole list.
            let Ok((folders, objects)) = object_folder(root, &mount, &key).await else {
                continue;
            };
            if depth < MAX_DEPTH {
                for f in folders {
                    let mut k = key.clone();
                    k.push(f);
                    queue.push_back((k, depth + 1));
                }
            }
            let room = MAX_COLLECTIONS - found.len();
            found.extend(objects.into_iter().take(room));
        }
    }
    found.sort_by(|a, b| a.parts.cmp(&b.parts));
    probe_all(state, found).await
}

/// The names of the folders the object mounts add directly below the folder `parts` (`/a/b`
/// mounted adds `a` to the root's catalog, and `b` to `a`'s).
fn mount_children(state: &AppState, parts: &[String]) -> Vec<String> {
    let mut out: Vec<String> = state
        .objects
        .all()
        .filter_map(|(prefix, _)| {
            let mount = paths::components(prefix).ok()?;
            (mount.len() > parts.len() && mount.starts_with(parts))
                .then(|| mount[parts.len()].clone())
        })
        .collect();
    out.sort();
    out.dedup();
    out
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
    let located = locate(state, &g.url_path)
        .ok_or_else(|| HandlerError::NotFound("the collection's dataset is gone".into()))?;
    let entry = open_located(state, &located).await?;
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
        keep_max: 0,
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
        let url_path = format!("/{}", folder.join("/"));
        if let Some((prefix, root, rest)) = state.objects.find(&url_path) {
            let mount = paths::components(prefix).map_err(|_| not_found())?;
            let key = paths::components(rest).map_err(|_| not_found())?;
            let (mut folders, found) = match object_folder(root, &mount, &key).await {
                Ok(f) => f,
                Err(cdm::Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(not_found());
                }
                Err(e) => return Err(objects::store_error(e)),
            };
            if key.is_empty() {
                folders.extend(mount_children(state, folder));
            }
            // Only objects that open are linked, so a walker never meets a broken link.
            let datasets: Vec<String> = probe_all(state, found)
                .await
                .into_iter()
                .filter(|(_, p)| matches!(p, Probe::Dataset(_)))
                .filter_map(|(parts, _)| parts.last().cloned())
                .collect();
            return json_response(
                &stac::catalog(base, folder, &folders, &[], &datasets),
                "application/json",
            );
        }
        let mounted = mount_children(state, folder);
        let dir = paths::resolve(&state.root, folder)
            .ok()
            .filter(|d| d.is_dir());
        if dir.is_none() && mounted.is_empty() {
            return Err(not_found());
        }
        let mut folders = Vec::new();
        let mut aggregations = Vec::new();
        let mut datasets = Vec::new();
        if let Some(dir) = dir {
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
        }
        for m in mounted {
            if !folders.contains(&m) {
                folders.push(m);
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
    let url_path = format!("/{}", item_parts.join("/"));
    let (located, entry) = open_dataset(state, &url_path, not_found).await?;
    let aggregation = is_aggregation(&entry);
    if as_collection && !aggregation {
        return Err(HandlerError::NotFound(
            "only aggregations are STAC collections: this dataset is an item".into(),
        ));
    }
    let g = grid_of_entry(&entry, &url_path).await?;
    let modified = entry
        .modified()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    let media_type = if matches!(&located, Located::File(file, _) if cdm::formats::ncml::is_ncml(file))
    {
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
    let dataset = dataset_param;
    let folder = folder_param;
    let format = || Param::query("format", "json for the listing as JSON");
    let plain = "text/plain";
    let json = "application/json";
    let dap4_error = "application/vnd.opendap.dap4.error+xml";
    let too_large = "the response would be larger than the server's limit";
    let mut r = vec![
        Route::new(
            "/healthz",
            "200 ok while the server accepts requests",
            "operations",
            vec![],
            vec![plain],
            plain,
        ),
        Route::new(
            "/metrics",
            "Prometheus metrics",
            "operations",
            vec![],
            vec![plain],
            plain,
        ),
        Route::new(
            "/",
            "the root folder's listing (HTML, or JSON with ?format=json)",
            "listings",
            vec![format()],
            vec!["text/html", json],
            plain,
        ),
        Route::new(
            "/{folder}/",
            "a folder's listing (HTML, or JSON with ?format=json)",
            "listings",
            vec![folder(), format()],
            vec!["text/html", json],
            plain,
        )
        .with_status(301, "the folder without its trailing slash"),
        Route::new(
            "/catalog.xml",
            "the root folder's THREDDS catalog",
            "catalogs",
            vec![],
            vec!["application/xml"],
            plain,
        ),
        Route::new(
            "/catalog.html",
            "the root folder's THREDDS catalog as HTML",
            "catalogs",
            vec![],
            vec!["text/html"],
            plain,
        ),
        Route::new(
            "/{folder}/catalog.xml",
            "a folder's THREDDS catalog",
            "catalogs",
            vec![folder()],
            vec!["application/xml"],
            plain,
        ),
        Route::new(
            "/{file}",
            "a file as it is on disk (with Range support)",
            "files",
            vec![Param::path(
                "file",
                "a file under the root",
                Some("classic.nc".into()),
            )],
            vec![
                "application/x-netcdf",
                "application/x-hdf5",
                "application/octet-stream",
                plain,
                "text/html",
                json,
                "application/xml",
            ],
            plain,
        )
        .with_status(206, "part of the file (Range)")
        .with_status(301, "a folder: its listing")
        .with_status(416, "a Range outside the file"),
    ];
    for (suffix, kind) in SUFFIXES {
        let (tag, media, error_media, data) = match kind {
            ResponseKind::Dds | ResponseKind::Das | ResponseKind::Version => {
                ("DAP2", plain, plain, false)
            }
            ResponseKind::Ascii => ("DAP2", plain, plain, true),
            ResponseKind::Dods => ("DAP2", "application/octet-stream", plain, true),
            ResponseKind::Dmr => (
                "DAP4",
                "application/vnd.opendap.dap4.dataset-metadata+xml",
                dap4_error,
                false,
            ),
            ResponseKind::Dsr => (
                "DAP4",
                "application/vnd.opendap.dap4.dataset-services+xml",
                dap4_error,
                false,
            ),
            ResponseKind::Dap => (
                "DAP4",
                "application/vnd.opendap.dap4.data",
                dap4_error,
                true,
            ),
            ResponseKind::Html | ResponseKind::Info | ResponseKind::Help => {
                ("pages", "text/html", plain, false)
            }
            ResponseKind::Png => ("pictures", "image/png", plain, true),
            ResponseKind::NetCdf3 => ("DAP2", "application/x-netcdf", plain, true),
            ResponseKind::NetCdf4 => ("DAP2", "application/x-netcdf4", plain, true),
            ResponseKind::Dap4NetCdf3 => ("DAP4", "application/x-netcdf", dap4_error, true),
            ResponseKind::Dap4NetCdf4 => ("DAP4", "application/x-netcdf4", dap4_error, true),
        };
        let mut params = vec![dataset()];
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
        let mut route = Route::new(
            format!("/{{dataset}}{suffix}"),
            format!("{tag} {suffix} of a dataset"),
            tag,
            params,
            vec![media],
            error_media,
        );
        if data {
            route = route.with_status(413, too_large);
        }
        r.push(route.with_status(501, "a valid request for something not supported"));
    }
    let mut ncss = vec![dataset()];
    for (name, description) in [
        (
            "var",
            "grid variables, comma-separated or repeated (or all)",
        ),
        ("north", "the box's northern edge, degrees"),
        ("south", "the box's southern edge, degrees"),
        ("east", "the box's eastern edge, degrees"),
        ("west", "the box's western edge, degrees"),
        ("latitude", "a point's latitude: the nearest cell"),
        ("longitude", "a point's longitude: the nearest cell"),
        ("horizStride", "every n-th x and y index"),
        (
            "time",
            "the nearest time (ISO 8601); without any time parameter, the latest",
        ),
        ("time_start", "the first time (ISO 8601)"),
        ("time_end", "the last time (ISO 8601)"),
        ("temporal", "all: every time"),
        ("timeStride", "every n-th time"),
        ("vertCoord", "the nearest vertical level"),
        ("addLatLon", "accepted; coordinates always come along"),
        (
            "accept",
            "netcdf (default), netcdf3, netcdf4 or netcdf4-classic; csv or xml for a point",
        ),
    ] {
        ncss.push(Param::query(name, description));
    }
    r.push(
        Route::new(
            "/ncss/grid/{dataset}",
            "NetCDF Subset Service (grid): a subset by coordinates as a netCDF file",
            "NCSS",
            ncss,
            vec![
                "application/x-netcdf",
                "application/x-netcdf4",
                "text/plain",
                "application/xml",
            ],
            plain,
        )
        .with_status(413, too_large),
    );
    r.push(Route::new(
        "/ncss/grid/{dataset}/dataset.xml",
        "NetCDF Subset Service (grid): the grids, lat/lon box and time span (siphon)",
        "NCSS",
        vec![dataset()],
        vec!["application/xml"],
        plain,
    ));
    r.push(Route::new(
        "/ncss/grid/{dataset}/datasetBoundaries",
        "NetCDF Subset Service (grid): the outline of the grid's cells",
        "NCSS",
        vec![
            dataset(),
            Param::query("accept", "wkt (default), json (GeoJSON) or xml"),
        ],
        vec!["text/plain", "application/geo+json", "application/xml"],
        plain,
    ));
    r.push(
        Route::new(
            "/{dataset}.zarr/{key}",
            "a dataset as a Zarr store: metadata (zarr.json, .zarray, .zattrs, .zgroup) and chunks",
            "Zarr",
            vec![
                dataset(),
                Param::path(
                    "key",
                    "a Zarr key (zarr.json, .zgroup, var/.zarray, var/c/0/0, …)",
                    Some("zarr.json".into()),
                ),
            ],
            vec![json, "application/octet-stream"],
            plain,
        )
        .with_status(206, "part of a chunk (Range)")
        .with_status(416, "a Range outside the chunk"),
    );
    r.extend(ogc_routes());
    r.extend(stac_routes());
    r
}

/// The `{dataset}` path parameter.
fn dataset_param() -> Param {
    Param::path(
        "dataset",
        "the dataset's path under the root (one segment here; folders are further path segments)",
        Some("classic.nc".into()),
    )
}

/// The `{folder}` path parameter.
fn folder_param() -> Param {
    Param::path("folder", "a folder under the root", Some("samples".into()))
}

/// The OGC API – EDR routes: landing page, OpenAPI, conformance, collections and queries.
fn ogc_routes() -> Vec<Route> {
    const TAG: &str = "OGC API – EDR";
    let json = "application/json";
    let ogc = |path: &str, summary: &str, params: Vec<Param>, media: Vec<&'static str>| {
        Route::new(path, summary, TAG, params, media, json)
    };
    let collection_id = || {
        Param::path(
            "collectionId",
            "a collection: the dataset's path with '/' written as ':'",
            Some("cf_grid.nc".into()),
        )
    };
    let mut r = vec![
        ogc(
            "/ogc",
            "the landing page (JSON; HTML with f=html)",
            vec![Param::query("f", "json or html")],
            vec![json, "text/html"],
        ),
        ogc(
            "/ogc/api",
            "this OpenAPI document",
            vec![],
            vec![common::OPENAPI_MEDIA_TYPE],
        ),
        ogc(
            "/ogc/conformance",
            "the conformance classes",
            vec![],
            vec![json],
        ),
        ogc(
            "/ogc/collections",
            "one collection per gridded dataset, with its extent and parameters",
            vec![],
            vec![json],
        ),
        ogc(
            "/ogc/collections/{collectionId}",
            "one collection",
            vec![collection_id()],
            vec![json],
        ),
    ];
    for q in QueryKind::ALL {
        let (pattern, name, description) = match q {
            QueryKind::Position => (POINT_PATTERN, "coords", "POINT(lon lat): the nearest cell"),
            QueryKind::Area => (
                POLYGON_PATTERN,
                "coords",
                "POLYGON((lon lat, …)): the cells whose centres are inside",
            ),
            QueryKind::Cube => (
                BBOX_PATTERN,
                "bbox",
                "west,south,east,north in CRS84 degrees",
            ),
        };
        let mut params = vec![
            collection_id(),
            Param {
                required: true,
                pattern: Some(pattern),
                ..Param::query(name, description)
            },
        ];
        for (name, description) in [
            (
                "datetime",
                "an instant (nearest time) or start/end, '..' for an open end",
            ),
            ("z", "a level (nearest), low/high, or a list a,b"),
            (
                "parameter-name",
                "parameters, comma-separated (default: all)",
            ),
            ("parameter_names", "the same as parameter-name"),
            ("crs", "CRS84 (the only one)"),
            (
                "f",
                "CoverageJSON (default) or netCDF (also nc; regular grids: a netCDF-3 file)",
            ),
        ] {
            params.push(Param::query(name, description));
        }
        r.push(
            ogc(
                &format!("/ogc/collections/{{collectionId}}/{}", q.name()),
                &format!("EDR {} query: CoverageJSON or netCDF", q.name()),
                params,
                vec![covjson::MEDIA_TYPE, "application/x-netcdf"],
            )
            .with_status(
                204,
                "no data: the place, time or level asked for lies outside the collection",
            )
            .with_status(413, "the query selects more values than the server allows"),
        );
    }
    r
}

/// The STAC routes: a catalog per folder, a collection per aggregation, an item per dataset.
fn stac_routes() -> Vec<Route> {
    let json = "application/json";
    let stac = |path: &str, summary: &str, params: Vec<Param>, media: &'static str| {
        Route::new(path, summary, "STAC", params, vec![media], json)
    };
    vec![
        stac(
            "/stac/catalog.json",
            "the STAC catalog of the root folder",
            vec![],
            json,
        ),
        stac(
            "/stac/{folder}/catalog.json",
            "the STAC catalog of a folder",
            vec![folder_param()],
            json,
        ),
        stac(
            "/stac/{dataset}/collection.json",
            "the STAC collection of an aggregation (an NcML dataset made of others)",
            vec![Param::path(
                "dataset",
                "an NcML aggregation's path under the root",
                Some("aggregation.ncml".into()),
            )],
            json,
        ),
        stac(
            "/stac/{dataset}.json",
            "the STAC item of a dataset",
            vec![dataset_param()],
            "application/geo+json",
        ),
    ]
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
