//! `handlers` — fathom's HTTP service on hyper + tokio.
//!
//! [`run`] accepts connections until its shutdown future resolves, then lets open connections
//! (running downloads included) finish, up to the configured grace period. Each request goes
//! through [`service`] (concurrency slot, CORS, compression, metrics and access log) and then
//! [`dispatch`]: the URL path is mapped to a folder, a file or a dataset response under the data
//! root ([`paths`], with a short-lived cache of resolved paths), conditional requests are
//! answered from validators ([`conditional`]), and the response is written by the module that
//! owns it — [`listing`] (folder pages), [`thredds`] (catalogs), [`files`] (raw downloads with
//! `Range`), [`pages`] (the data request form, `.info`, `.help`), the DAP2 / DAP4 modules,
//! `zarr` (`X.zarr/…`: the dataset as a Zarr v2 / v3 store), `png` (the quick-look picture
//! of a 2-D slice), and [`ogc`] (OGC API – EDR, the
//! OpenAPI document of every route, STAC).
//! [`error`] is the one place that turns failures into HTTP statuses and protocol error bodies;
//! [`config`] holds every operator setting.

pub mod body;
mod conditional;
pub mod config;
mod cors;
mod dap2;
mod dap4;
pub mod error;
mod fileout;
mod files;
mod kept;
mod listing;
pub mod metrics;
mod objects;
pub mod ogc;
mod pages;
pub mod paths;
mod png;
mod remote;
pub mod route;
mod service;
mod thredds;
mod zarr;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cdm::{Catalog, CatalogEntry};
use http::{HeaderMap, Method, Request, Response, StatusCode, header};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tower::Layer;
use tracing::{info, warn};

pub use body::Body;
pub use config::Config;
pub use error::{HandlerError, Protocol};
pub use route::ResponseKind;

use crate::conditional::Validators;
use crate::metrics::{CacheCounts, Kind, Metrics};
use crate::service::NoCompression;

/// How long a resolved URL path is trusted before the file system is asked again. Short, so a
/// moved or replaced file is noticed at once by people, while a client's burst of requests
/// (ncdump asks for one `.dods` per row) resolves the path once.
const PATH_CACHE_TTL: Duration = Duration::from_secs(2);

/// How long a client may take to send its request headers (slow-loris protection).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything a request needs, shared by all of them.
#[derive(Debug)]
pub struct AppState {
    /// The data root, canonicalised: every served file lies below it.
    root: PathBuf,
    /// Open datasets, keyed by file path.
    catalog: Catalog,
    /// The operator's settings.
    config: Config,
    /// Request counters and histograms.
    metrics: Metrics,
    /// URL path → what it names, so repeated requests skip `canonicalize` (one syscall per
    /// path component) and the suffix search.
    /// Hashed with foldhash (seeded per process) rather than moka's default SipHash.
    targets: moka::sync::Cache<Box<str>, Arc<Target>, foldhash::fast::RandomState>,
    /// One permit per request being answered (`max_concurrent_requests`).
    slots: Arc<tokio::sync::Semaphore>,
    /// The CORS policy.
    cors: cors::Cors,
    /// Datasets on remote OPeNDAP servers, by configured URL path.
    remote: remote::RemoteMounts,
    /// S3 bucket prefixes and HTTP folders of plain files, by configured URL prefix.
    objects: objects::ObjectMounts,
    /// What each object version under those mounts holds, for OGC collections and STAC.
    object_probes: ogc::ObjectProbes,
    /// Whole responses of repeated constrained requests.
    kept: kept::KeptResponses,
}

impl AppState {
    /// State serving the folder `root` with default settings.
    ///
    /// # Errors
    /// When `root` does not exist or is not a folder.
    pub fn new(root: &Path) -> std::io::Result<Self> {
        Self::with_config(root, Config::default())
    }

    /// State serving the folder `root` with `config` (its `root` and `bind` are not used here).
    ///
    /// # Errors
    /// When `root` does not exist or is not a folder.
    pub fn with_config(root: &Path, config: Config) -> std::io::Result<Self> {
        let root = root.canonicalize()?;
        if !root.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                "the data root is not a folder",
            ));
        }
        Ok(Self {
            catalog: Catalog::new(config.catalog_capacity, config.chunk_cache_bytes)
                .with_root(&root)
                .with_remote_policy(remote::member_policy(&config.remote)),
            root,
            metrics: Metrics::default(),
            targets: moka::sync::Cache::builder()
                .max_capacity(16_384)
                .time_to_live(PATH_CACHE_TTL)
                .build_with_hasher(foldhash::fast::RandomState::default()),
            slots: Arc::new(tokio::sync::Semaphore::new(
                config
                    .max_concurrent_requests
                    .min(tokio::sync::Semaphore::MAX_PERMITS),
            )),
            cors: cors::Cors::new(&config.cors_origins),
            remote: remote::RemoteMounts::new(
                &config
                    .mounts
                    .iter()
                    .filter(|m| !m.is_object())
                    .cloned()
                    .collect::<Vec<_>>(),
            ),
            objects: objects::ObjectMounts::new(&config.mounts).map_err(std::io::Error::other)?,
            object_probes: ogc::ObjectProbes::default(),
            kept: kept::KeptResponses::new(config.response_cache_bytes),
            config,
        })
    }

    /// This state, opening files in reader processes started with `command` (the server's own
    /// executable with its `worker` command) when `isolate_readers` is set; otherwise unchanged.
    /// Without this call files are opened in this process.
    #[must_use]
    pub fn with_reader_processes(mut self, command: cdm::isolation::WorkerCommand) -> Self {
        if self.config.isolate_readers {
            let pool = cdm::isolation::ReaderPool::new(
                command,
                self.config.reader_processes,
                self.config.reader_timeout(),
            );
            self.catalog = self.catalog.with_readers(Arc::new(pool));
        }
        self
    }

    /// The canonical data root.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The settings in force.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }
}

/// A request for one of a dataset's responses.
#[derive(Debug)]
pub(crate) struct DatasetRequest {
    /// Which response.
    pub(crate) kind: ResponseKind,
    /// The open dataset.
    pub(crate) entry: Arc<CatalogEntry>,
    /// The raw (still percent-encoded) query string, if any.
    pub(crate) query: Option<String>,
    /// The dataset's URL path (`/folder/file.nc`), for links and messages.
    pub(crate) url_path: String,
    /// The largest data response allowed, in bytes (0: no limit).
    pub(crate) max_response_bytes: u64,
    /// The largest response that would be kept ([`kept`]); 0 when this one is not kept.
    pub(crate) keep_max: u64,
}

/// Serves connections from `listener` until `shutdown` resolves, then waits (up to the
/// configured grace period) for open connections and running downloads to finish.
///
/// # Errors
/// Only when accepting fails in a way that is not per-connection.
pub async fn run(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let compression = service::compression_layer(state.config.compress_min_bytes);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        // Running out of file descriptors and the like: back off, keep serving.
                        warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let dispatch_state = Arc::clone(&state);
                let inner = compression.layer(tower::service_fn(move |req| {
                    let state = Arc::clone(&dispatch_state);
                    async move { Ok::<_, std::convert::Infallible>(dispatch(&state, req).await) }
                }));
                let state = Arc::clone(&state);
                let service = hyper::service::service_fn(move |req| {
                    let state = Arc::clone(&state);
                    let inner = inner.clone();
                    async move {
                        Ok::<_, std::convert::Infallible>(
                            service::serve_one(state, inner, req, peer).await,
                        )
                    }
                });
                let conn = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    info!("shutting down: waiting for open connections and running downloads");
    let grace = state.config.shutdown_grace();
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        warn!(
            grace_secs = grace.as_secs_f64(),
            "connections still open after the grace period; closing them"
        );
    }
    Ok(())
}

/// Answers one request (no slot, CORS or compression: [`service`] adds those), within the
/// request timeout. The response carries its [`Kind`] as an extension, for the metrics.
async fn dispatch<B>(state: &AppState, req: Request<B>) -> Response<Body> {
    let routed = match state.config.request_timeout() {
        Some(t) => match tokio::time::timeout(t, route(state, &req)).await {
            Ok(r) => r,
            Err(_) => {
                state.metrics.timeout();
                Err((
                    HandlerError::Unavailable(format!(
                        "the response took longer than {} s to start; ask for less data",
                        state.config.request_timeout_secs
                    )),
                    Protocol::of_path(req.uri().path()),
                    Kind::Other,
                ))
            }
        },
        None => route(state, &req).await,
    };
    match routed {
        Ok((mut r, kind)) => {
            r.extensions_mut().insert(kind);
            r
        }
        Err((e, protocol, kind)) => {
            if matches!(e, HandlerError::TooLarge(_)) {
                state.metrics.too_large();
            }
            let mut r = e.into_response(protocol);
            r.extensions_mut().insert(kind);
            r
        }
    }
}

/// What a URL path names.
#[derive(Debug)]
enum Target {
    /// A folder: its listing.
    Folder {
        /// The canonical folder.
        dir: PathBuf,
        /// The checked URL components.
        parts: Vec<String>,
    },
    /// `catalog.xml` / `catalog.html` of a folder that has no such file.
    Catalog {
        /// The canonical folder.
        dir: PathBuf,
        /// The folder's checked URL components.
        parts: Vec<String>,
        /// `catalog.html` rather than `catalog.xml`.
        html: bool,
    },
    /// A file, sent as it is.
    File(PathBuf),
    /// A response of the dataset in a file.
    Dataset {
        /// The canonical file.
        file: PathBuf,
        /// Which response.
        kind: ResponseKind,
        /// The dataset's URL path (without the suffix).
        url_path: String,
    },
    /// A key of a dataset's Zarr store (`X.zarr/…`).
    Zarr(zarr::ZarrTarget),
}

type Routed = Result<(Response<Body>, Kind), (HandlerError, Protocol, Kind)>;

/// Finds what `parts` names on disk.
fn resolve_target(root: &Path, parts: &[String]) -> Option<Target> {
    if let Ok(real) = paths::resolve(root, parts) {
        return Some(if real.is_dir() {
            Target::Folder {
                dir: real,
                parts: parts.to_vec(),
            }
        } else {
            Target::File(real)
        });
    }
    let (last, folder) = parts.split_last()?;
    if (last == "catalog.xml" || last == "catalog.html")
        && let Ok(dir) = paths::resolve(root, folder)
        && dir.is_dir()
    {
        return Some(Target::Catalog {
            dir,
            parts: folder.to_vec(),
            html: last == "catalog.html",
        });
    }
    if let Some(t) = zarr::target(root, parts) {
        return Some(Target::Zarr(t));
    }
    let (stem, kind) = route::split_suffix(last)?;
    let mut dataset_parts = folder.to_vec();
    dataset_parts.push(stem.to_owned());
    let file = paths::resolve(root, &dataset_parts)
        .ok()
        .filter(|p| p.is_file())?;
    Some(Target::Dataset {
        file,
        kind,
        url_path: format!("/{}", dataset_parts.join("/")),
    })
}

async fn route<B>(state: &AppState, req: &Request<B>) -> Routed {
    let path = req.uri().path();
    let protocol = Protocol::of_path(path);
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Err((HandlerError::MethodNotAllowed, protocol, Kind::Other));
    }
    if let Some(routed) = ogc::respond(state, req).await {
        return routed;
    }
    if let Some(rest) = path.strip_prefix("/ncss/grid/") {
        let kind = Kind::Dataset(ResponseKind::NetCdf3);
        return fileout::ncss(state, rest, req.uri().query())
            .await
            .map(|r| (r, kind))
            .map_err(|e| (e, Protocol::Plain, kind));
    }
    match path {
        "/healthz" => {
            let r = plain(StatusCode::OK, "ok\n", "text/plain; charset=utf-8");
            return Ok((r, Kind::Health));
        }
        "/metrics" => {
            let text = metrics_text(state);
            let r = plain(
                StatusCode::OK,
                text,
                "text/plain; version=0.0.4; charset=utf-8",
            );
            return Ok((r, Kind::Metrics));
        }
        _ => {}
    }

    if let Some(routed) = objects::respond(state, req).await {
        return routed;
    }

    if let Some((mount, kind)) = state.remote.find(path) {
        let label = Kind::Dataset(kind);
        let fail = |e: HandlerError| (e, Protocol::from(kind), label);
        let entry = state
            .remote
            .entry(mount, state.catalog.chunk_cache())
            .await
            .map_err(|e| fail(HandlerError::from(e)))?;
        let url_path = state.remote.path(mount).to_owned();
        return remote::hold_back(kind, entry_response(state, req, entry, kind, &url_path))
            .await
            .map(|r| (r, label))
            .map_err(fail);
    }
    let on_disk = |parts: &[String]| paths::resolve(&state.root, parts).is_ok_and(|p| p.is_dir());
    if let Some((mount, request)) = state.remote.catalog_request(path, on_disk) {
        return catalog_mount_response(state, req, mount, request).await;
    }

    let target = if let Some(t) = state.targets.get(path) {
        t
    } else {
        let parts = paths::components(path).map_err(|e| {
            (
                HandlerError::BadRequest(e.to_string()),
                protocol,
                Kind::Other,
            )
        })?;
        let Some(t) = resolve_target(&state.root, &parts) else {
            // Counted under the response asked for, so a client's failing `.dods` requests show.
            return Err(
                match route::split_suffix(parts.last().map_or("", String::as_str)) {
                    Some((_, kind)) => (
                        HandlerError::NotFound("no such dataset".into()),
                        protocol,
                        Kind::Dataset(kind),
                    ),
                    None => (
                        HandlerError::NotFound("no such file or folder".into()),
                        protocol,
                        Kind::Other,
                    ),
                },
            );
        };
        let t = Arc::new(t);
        state.targets.insert(path.into(), Arc::clone(&t));
        t
    };

    let headers = req.headers();
    match target.as_ref() {
        Target::Folder { dir, parts } => {
            if !path.ends_with('/') {
                // Relative links in the listing need the trailing slash.
                return Ok((redirect(&folder_url(parts)), Kind::Other));
            }
            let json = listing::wants_json(req.uri().query(), headers);
            let mut entries = listing::read_folder(&state.root, dir)
                .await
                .map_err(|e| (e, Protocol::Plain, Kind::Listing))?;
            state.remote.add_entries(parts, &mut entries);
            listing::respond_entries(&entries, path, json, headers)
                .map(|r| (r, Kind::Listing))
                .map_err(|e| (e, Protocol::Plain, Kind::Listing))
        }
        Target::Catalog { dir, parts, html } => {
            let kind = if *html {
                Kind::CatalogHtml
            } else {
                Kind::CatalogXml
            };
            let mut entries = listing::read_folder(&state.root, dir)
                .await
                .map_err(|e| (e, Protocol::Plain, kind))?;
            state.remote.add_entries(parts, &mut entries);
            let (bytes, content_type) = if *html {
                (
                    thredds::catalog_html(parts, &entries),
                    "text/html; charset=utf-8",
                )
            } else {
                (
                    thredds::catalog_xml(parts, &entries),
                    "application/xml; charset=utf-8",
                )
            };
            listing::page(bytes, content_type, headers)
                .map(|r| (r, kind))
                .map_err(|e| (e, Protocol::Plain, kind))
        }
        Target::File(file) => {
            let mut r = files::download(file, headers)
                .await
                .map_err(|e| (e, Protocol::Plain, Kind::File))?;
            r.extensions_mut().insert(NoCompression);
            Ok((r, Kind::File))
        }
        Target::Dataset {
            file,
            kind,
            url_path,
        } => {
            let label = Kind::Dataset(*kind);
            dataset_response(state, req, file, *kind, url_path)
                .await
                .map(|r| (r, label))
                .map_err(|e| (e, Protocol::from(*kind), label))
        }
        Target::Zarr(t) => zarr::respond(state, t, headers)
            .await
            .map(|r| (r, Kind::Zarr))
            .map_err(|e| (e, Protocol::Plain, Kind::Zarr)),
    }
}

/// A request under a remote catalog mount, or for a folder that holds only mounts: the
/// folder's listing or catalog (from the remote catalog, or the mounts), or a response of one
/// of the remote catalog's datasets.
async fn catalog_mount_response<B>(
    state: &AppState,
    req: &Request<B>,
    mount: Option<usize>,
    request: remote::CatalogRequest,
) -> Routed {
    let chunks = state.catalog.chunk_cache();
    match request {
        remote::CatalogRequest::Redirect(location) => Ok((redirect(&location), Kind::Other)),
        remote::CatalogRequest::Folder { sub, parts, view } => {
            let kind = match view {
                remote::FolderView::Listing => Kind::Listing,
                remote::FolderView::CatalogXml => Kind::CatalogXml,
                remote::FolderView::CatalogHtml => Kind::CatalogHtml,
            };
            let fail = |e: HandlerError| (e, Protocol::Plain, kind);
            let mut entries = match mount {
                Some(i) => remote::RemoteMounts::catalog_entries(
                    &*state
                        .remote
                        .remote_catalog(i, &sub, chunks)
                        .await
                        .map_err(fail)?,
                ),
                None => Vec::new(),
            };
            state.remote.add_entries(&parts, &mut entries);
            let headers = req.headers();
            let response = match view {
                remote::FolderView::Listing => {
                    let json = listing::wants_json(req.uri().query(), headers);
                    listing::respond_entries(&entries, req.uri().path(), json, headers)
                }
                remote::FolderView::CatalogXml => listing::page(
                    thredds::catalog_xml(&parts, &entries),
                    "application/xml; charset=utf-8",
                    headers,
                ),
                remote::FolderView::CatalogHtml => listing::page(
                    thredds::catalog_html(&parts, &entries),
                    "text/html; charset=utf-8",
                    headers,
                ),
            };
            response.map(|r| (r, kind)).map_err(fail)
        }
        remote::CatalogRequest::Dataset {
            sub,
            name,
            kind,
            url_path,
        } => {
            let label = Kind::Dataset(kind);
            let fail = |e: HandlerError| (e, Protocol::from(kind), label);
            let i = mount.ok_or_else(|| fail(HandlerError::NotFound("no such dataset".into())))?;
            let entry = state
                .remote
                .catalog_dataset(i, &sub, &name, chunks)
                .await
                .map_err(fail)?;
            remote::hold_back(kind, entry_response(state, req, entry, kind, &url_path))
                .await
                .map(|r| (r, label))
                .map_err(fail)
        }
    }
}

/// One response of a dataset: validators, the response, the size limit.
async fn dataset_response<B>(
    state: &AppState,
    req: &Request<B>,
    file: &Path,
    kind: ResponseKind,
    url_path: &str,
) -> Result<Response<Body>, HandlerError> {
    let entry = state.catalog.open(file).await.map_err(|e| match e {
        cdm::Error::UnknownFormat => HandlerError::NotFound("not a dataset".into()),
        other => HandlerError::from(other),
    })?;
    // An NcML dataset with remote members fails like a remote mount: 502 / 504 before the body.
    if entry.dependencies().is_some_and(|d| d.has_remote()) {
        return remote::hold_back(kind, entry_response(state, req, entry, kind, url_path)).await;
    }
    entry_response(state, req, entry, kind, url_path).await
}

/// One response of an open dataset (a file's or a remote one's).
async fn entry_response<B>(
    state: &AppState,
    req: &Request<B>,
    entry: Arc<CatalogEntry>,
    kind: ResponseKind,
    url_path: &str,
) -> Result<Response<Body>, HandlerError> {
    let query = req.uri().query();
    let whole_slot = prepared_slot(&entry, kind, query);
    if let Some(slot) = &whole_slot
        && let Some(prepared) = slot.get()
    {
        return Ok(prepared.response(req.headers()));
    }
    let kept_slot = if whole_slot.is_none() {
        state.kept.slot(&entry, kind, query)
    } else {
        None
    };
    if let Some(slot) = &kept_slot
        && let Some(prepared) = slot.get()
    {
        return Ok(prepared.response(req.headers()));
    }
    let validators = rendering_validators(&entry, kind, query);
    if validators.not_modified(req.headers()) {
        return Ok(validators.not_modified_response());
    }
    let dreq = DatasetRequest {
        kind,
        entry,
        query: query.map(str::to_owned),
        url_path: url_path.to_owned(),
        max_response_bytes: state.config.max_response_bytes,
        keep_max: if kept_slot.is_some() {
            state.kept.item_max()
        } else {
            0
        },
    };
    let mut response = match kind {
        ResponseKind::Dds
        | ResponseKind::Das
        | ResponseKind::Dods
        | ResponseKind::Ascii
        | ResponseKind::Version => dap2::respond(&dreq).await?,
        ResponseKind::Dmr | ResponseKind::Dap | ResponseKind::Dsr => dap4::respond(&dreq).await?,
        ResponseKind::Html | ResponseKind::Info | ResponseKind::Help => page_response(&dreq)?,
        ResponseKind::Png => png::respond(&dreq, state.config.png_max_pixels).await?,
        ResponseKind::NetCdf3
        | ResponseKind::NetCdf4
        | ResponseKind::Dap4NetCdf3
        | ResponseKind::Dap4NetCdf4 => fileout::respond(&dreq, state.config.nc4_max_bytes).await?,
    };
    let is_file_out = matches!(
        kind,
        ResponseKind::NetCdf3
            | ResponseKind::NetCdf4
            | ResponseKind::Dap4NetCdf3
            | ResponseKind::Dap4NetCdf4
    );
    let is_data = is_file_out
        || matches!(
            kind,
            ResponseKind::Dods | ResponseKind::Dap | ResponseKind::Ascii
        );
    if is_data {
        check_size(state.config.max_response_bytes, &response, &dreq)?;
    }
    let no_compression = (is_file_out || matches!(kind, ResponseKind::Dods | ResponseKind::Dap))
        && !state.config.compress_data;
    if no_compression {
        response.extensions_mut().insert(NoCompression);
    }
    validators.apply(response.headers_mut());
    if let Some(slot) = whole_slot
        && response.status() == StatusCode::OK
    {
        // The first answer of this file version is kept whole; its body is one buffer, so
        // collecting it is immediate.
        let made = Prepared::made(validators, response, no_compression).await?;
        let prepared = slot.get_or_init(|| made);
        return Ok(prepared.response(req.headers()));
    }
    if let Some(slot) = kept_slot
        && response.status() == StatusCode::OK
        && content_length(&response).is_some_and(|n| state.kept.admits(n))
        && response.extensions().get::<kept::NotKept>().is_none()
    {
        // Small enough to keep: made whole before it is sent (a failure while reading the data
        // is then a clean error response rather than a cut connection).
        let prepared = Arc::new(Prepared::made(validators, response, no_compression).await?);
        let response = prepared.response(req.headers());
        slot.keep(prepared);
        return Ok(response);
    }
    Ok(response)
}

/// A response of one file version kept whole: an unconstrained metadata response (`.das`,
/// `.dds`, `.dmr`: the hottest requests, every client starts with them) or a repeated
/// constrained one ([`kept`]). Answering one is a clone of its headers and a reference to its
/// body.
#[derive(Debug)]
struct Prepared {
    validators: Validators,
    headers: HeaderMap,
    body: Bytes,
    /// Sent as it is even to clients that accept compression (`compress_data = false`).
    no_compression: bool,
}

impl Prepared {
    /// `response` made whole, to be kept with its validators.
    async fn made(
        validators: Validators,
        response: Response<Body>,
        no_compression: bool,
    ) -> Result<Self, HandlerError> {
        let (parts, body) = response.into_parts();
        let body = http_body_util::BodyExt::collect(body)
            .await
            .map_err(|e| match e.downcast::<::dap2::Error>() {
                Ok(e) => HandlerError::from(*e),
                Err(e) => HandlerError::Internal(e.to_string()),
            })?
            .to_bytes();
        Ok(Self {
            validators,
            headers: parts.headers,
            body,
            no_compression,
        })
    }

    /// The response to a request with `headers`: a 304 when the client holds this version.
    fn response(&self, headers: &HeaderMap) -> Response<Body> {
        if self.validators.not_modified(headers) {
            return self.validators.not_modified_response();
        }
        let mut r = Response::new(body::full(self.body.clone()));
        *r.headers_mut() = self.headers.clone();
        if self.no_compression {
            r.extensions_mut().insert(NoCompression);
        }
        r
    }
}

/// One slot per metadata response, kept with the file version.
#[derive(Debug, Default)]
struct PreparedResponses([std::sync::OnceLock<Prepared>; 3]);

/// The slot of one metadata response of one file version.
#[derive(Debug)]
struct PreparedSlot {
    all: Arc<PreparedResponses>,
    index: usize,
}

impl std::ops::Deref for PreparedSlot {
    type Target = std::sync::OnceLock<Prepared>;

    fn deref(&self) -> &Self::Target {
        &self.all.0[self.index]
    }
}

/// Where the whole response of this request is (or will be) kept: only unconstrained metadata.
fn prepared_slot(
    entry: &CatalogEntry,
    kind: ResponseKind,
    query: Option<&str>,
) -> Option<PreparedSlot> {
    if query.is_some_and(|q| !q.is_empty()) {
        return None;
    }
    let index = match kind {
        ResponseKind::Das => 0,
        ResponseKind::Dds => 1,
        ResponseKind::Dmr => 2,
        _ => return None,
    };
    Some(PreparedSlot {
        all: entry.extension(PreparedResponses::default),
        index,
    })
}

/// The validators of a dataset's response: those of the unconstrained responses are made once
/// per file version (metadata requests are the hottest path), the rest per request.
fn rendering_validators(
    entry: &cdm::CatalogEntry,
    kind: ResponseKind,
    query: Option<&str>,
) -> Validators {
    let make = |q: &str| {
        Validators::of_rendering(
            entry.modified(),
            entry.size(),
            &[Kind::Dataset(kind).label(), q],
        )
    };
    match query {
        Some(q) if !q.is_empty() => make(q),
        _ => {
            type PerKind = std::sync::Mutex<std::collections::HashMap<&'static str, Validators>>;
            let cache = entry.extension(PerKind::default);
            let mut cache = cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            cache
                .entry(Kind::Dataset(kind).label())
                .or_insert_with(|| make(""))
                .clone()
        }
    }
}

/// Refuses a data response whose `Content-Length` (computed from the constraint before any
/// data is read or sent) is over the limit. The unpolled body is dropped with the response.
fn check_size(
    max: u64,
    response: &Response<Body>,
    req: &DatasetRequest,
) -> Result<(), HandlerError> {
    if max == 0 {
        return Ok(());
    }
    let Some(length) = content_length(response) else {
        return Ok(());
    };
    if length <= max {
        return Ok(());
    }
    Err(too_large(req, length, max))
}

/// The response's `Content-Length`, if it has one.
fn content_length<B>(response: &Response<B>) -> Option<u64> {
    response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// The 413 for a response of `length` bytes over the limit `max`, saying how to ask for less.
pub(crate) fn too_large(req: &DatasetRequest, length: u64, max: u64) -> HandlerError {
    let name = req.url_path.rsplit('/').next().unwrap_or_default();
    let example = match req.kind {
        ResponseKind::Dap => format!("{name}.dap?dap4.ce=/var[0:9]"),
        ResponseKind::Dap4NetCdf3 | ResponseKind::Dap4NetCdf4 => {
            format!("{name}.dap.nc4?dap4.ce=/var[0:9]")
        }
        ResponseKind::NetCdf3 | ResponseKind::NetCdf4 => format!("{name}.nc?var[0:1:9]"),
        _ => format!("{name}.dods?var[0:1:9]"),
    };
    HandlerError::TooLarge(format!(
        "this response would be {length} bytes, more than this server's limit of {max} bytes. \
Ask for less: name only the variables you need and a range of each dimension, \
e.g. {example}; see {name}.html to build a request"
    ))
}

fn page_response(req: &DatasetRequest) -> Result<Response<Body>, HandlerError> {
    let ds = dap2::mapped(&req.entry);
    let bytes = match req.kind {
        ResponseKind::Html => pages::form(req, &ds),
        ResponseKind::Info => {
            let dds = req.entry.rendered("dds", || {
                Ok::<_, HandlerError>(Bytes::from(::dap2::dds(&ds)))
            })?;
            let das = req.entry.rendered("das", || {
                Ok::<_, HandlerError>(Bytes::from(::dap2::das(&ds)))
            })?;
            pages::info(req, &dds, &das)
        }
        _ => pages::help(req),
    };
    Response::builder()
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CONTENT_LENGTH, bytes.len())
        .body(body::full(bytes))
        .map_err(|e| HandlerError::Internal(e.to_string()))
}

fn metrics_text(state: &AppState) -> String {
    let chunks = state.catalog.chunk_cache().stats();
    let catalog = state.catalog.stats();
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    let mut text = state.metrics.render(
        CacheCounts {
            hits: load(&chunks.hits),
            misses: load(&chunks.misses),
        },
        CacheCounts {
            hits: load(&catalog.hits),
            misses: load(&catalog.misses),
        },
        state.catalog.len(),
    );
    {
        let o = &*cdm::object::STATS;
        text.push_str(&format!(
            "# HELP fathom_object_requests_total Requests sent to object stores, by kind.\n\
             # TYPE fathom_object_requests_total counter\n\
             fathom_object_requests_total{{kind=\"range\"}} {}\n\
             fathom_object_requests_total{{kind=\"metadata\"}} {}\n\
             # HELP fathom_object_bytes_total Bytes received from object stores by ranged reads.\n\
             # TYPE fathom_object_bytes_total counter\n\
             fathom_object_bytes_total {}\n\
             # HELP fathom_object_max_in_flight The most ranged reads ever in flight at once.\n\
             # TYPE fathom_object_max_in_flight gauge\n\
             fathom_object_max_in_flight {}\n",
            load(&o.requests),
            load(&o.metadata_requests),
            load(&o.bytes),
            load(&o.max_in_flight),
        ));
    }
    {
        let (hits, stored) = state.kept.counts();
        text.push_str(&format!(
            "# HELP fathom_kept_responses_total Responses to repeated constrained requests: \
             answered from a kept response (hit), or made and kept (stored).\n\
             # TYPE fathom_kept_responses_total counter\n\
             fathom_kept_responses_total{{result=\"hit\"}} {hits}\n\
             fathom_kept_responses_total{{result=\"stored\"}} {stored}\n"
        ));
    }
    if let Some(readers) = state.catalog.readers() {
        let stats = readers.stats();
        text.push_str(concat!(
            "# HELP fathom_reader_processes Reader processes alive (isolate_readers).\n",
            "# TYPE fathom_reader_processes gauge\n",
        ));
        text.push_str(&format!("fathom_reader_processes {}\n", readers.live()));
        text.push_str(concat!(
            "# HELP fathom_reader_process_ends_total Reader processes that died on a file ",
            "(crashed) or were killed at the timeout (hung).\n",
            "# TYPE fathom_reader_process_ends_total counter\n",
        ));
        text.push_str(&format!(
            "fathom_reader_process_ends_total{{reason=\"crashed\"}} {}\n\
             fathom_reader_process_ends_total{{reason=\"hung\"}} {}\n",
            load(&stats.crashed),
            load(&stats.timed_out),
        ));
    }
    text
}

fn plain(status: StatusCode, text: impl Into<Bytes>, content_type: &'static str) -> Response<Body> {
    let bytes: Bytes = text.into();
    let mut r = Response::new(body::full(bytes.clone()));
    *r.status_mut() = status;
    let h: &mut HeaderMap = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    h.insert(header::CONTENT_LENGTH, bytes.len().into());
    h.insert(
        header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    r
}

/// The URL of the folder made of `parts`, with its trailing slash, each part percent-encoded.
/// Built from the checked parts, never from the raw request path, so it cannot point elsewhere.
fn folder_url(parts: &[String]) -> String {
    let mut url = String::from("/");
    for p in parts {
        url.push_str(&listing::encode_component(p));
        url.push('/');
    }
    url
}

fn redirect(location: &str) -> Response<Body> {
    Response::builder()
        .status(StatusCode::MOVED_PERMANENTLY)
        .header(header::LOCATION, location)
        .header(header::CONTENT_LENGTH, 0)
        .body(body::full(Bytes::new()))
        .unwrap_or_else(|_| Response::new(body::full(Bytes::new())))
}
