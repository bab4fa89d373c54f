//! `handlers` — fathom's HTTP service on hyper + tokio.
//!
//! [`run`] accepts connections until its shutdown future resolves, then lets open connections
//! finish. Each request goes through [`handle`]: the URL path is mapped to a file or folder under
//! the data root ([`paths`]), the suffix picks the response ([`route`]), the dataset comes from
//! the shared [`cdm::Catalog`], and the DAP2 / DAP4 modules write the answer. [`error`] is the one
//! place that turns failures into HTTP statuses and protocol error bodies.

pub mod body;
mod dap2;
mod dap4;
pub mod error;
mod listing;
pub mod paths;
pub mod route;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cdm::{Catalog, CatalogEntry};
use http::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tracing::{info, warn};

pub use body::Body;
pub use error::{HandlerError, Protocol};
pub use route::ResponseKind;

/// How long running requests may go on after shutdown was asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Everything a request needs, shared by all of them.
#[derive(Debug)]
pub struct AppState {
    /// The data root, canonicalised: every served file lies below it.
    root: PathBuf,
    /// Open datasets, keyed by file path.
    catalog: Catalog,
}

impl AppState {
    /// State serving the folder `root`.
    ///
    /// # Errors
    /// When `root` does not exist or is not a folder.
    pub fn new(root: &Path) -> std::io::Result<Self> {
        let root = root.canonicalize()?;
        if !root.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                "the data root is not a folder",
            ));
        }
        Ok(Self {
            root,
            catalog: Catalog::new(256, cdm::engine::cache::DEFAULT_CACHE_BYTES),
        })
    }

    /// The canonical data root.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// A request for one of a dataset's responses.
#[derive(Debug)]
#[allow(dead_code)] // The DAP modules read these fields as they are filled in.
pub(crate) struct DatasetRequest {
    /// Which response.
    pub(crate) kind: ResponseKind,
    /// The open dataset.
    pub(crate) entry: Arc<CatalogEntry>,
    /// The raw (still percent-encoded) query string, if any.
    pub(crate) query: Option<String>,
    /// The dataset's URL path (`/folder/file.nc`), for links and messages.
    pub(crate) url_path: String,
}

/// Serves connections from `listener` until `shutdown` resolves, then waits (up to a grace
/// period) for open connections to finish.
///
/// # Errors
/// Only when accepting fails in a way that is not per-connection.
pub async fn run(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
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
                let state = Arc::clone(&state);
                let service = hyper::service::service_fn(move |req| {
                    let state = Arc::clone(&state);
                    async move { Ok::<_, Infallible>(handle(&state, req, peer).await) }
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
    info!("shutting down: waiting for open connections");
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        warn!("connections still open after the grace period; closing them");
    }
    Ok(())
}

/// Answers one request and writes its access-log line.
pub async fn handle<B>(state: &AppState, req: Request<B>, peer: SocketAddr) -> Response<Body> {
    let started = Instant::now();
    let method = req.method().clone();
    let uri = req.uri().clone();
    let response = match route(state, &req).await {
        Ok(r) => r,
        Err((e, protocol)) => e.into_response(protocol),
    };
    info!(
        target: "access",
        peer = %peer,
        method = %method,
        uri = %uri,
        status = response.status().as_u16(),
        length = response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-"),
        ms = started.elapsed().as_secs_f64() * 1000.0,
    );
    response
}

type Routed = Result<Response<Body>, (HandlerError, Protocol)>;

async fn route<B>(state: &AppState, req: &Request<B>) -> Routed {
    let path = req.uri().path();
    let last = path.rsplit('/').next().unwrap_or_default();
    let suffix_kind = percent_encoding::percent_decode_str(last)
        .decode_utf8()
        .ok()
        .and_then(|l| route::split_suffix(&l).map(|(_, k)| k));
    let protocol = suffix_kind.map_or(Protocol::Plain, Protocol::from);
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Err((HandlerError::MethodNotAllowed, protocol));
    }
    let parts =
        paths::components(path).map_err(|e| (HandlerError::BadRequest(e.to_string()), protocol))?;

    // The path itself: a folder or a file.
    if let Ok(target) = paths::resolve(&state.root, &parts) {
        if target.is_dir() {
            if !path.ends_with('/') {
                // Relative links in the listing need the trailing slash.
                return Ok(redirect(&folder_url(&parts)));
            }
            return listing::respond(&target, path)
                .await
                .map_err(|e| (e, Protocol::Plain));
        }
        return listing::file_download(&target)
            .await
            .map_err(|e| (e, Protocol::Plain));
    }

    // A dataset response: `<dataset path><suffix>`.
    let Some((stem, kind)) = parts.last().and_then(|l| route::split_suffix(l)) else {
        return Err((
            HandlerError::NotFound("no such file or folder".into()),
            protocol,
        ));
    };
    let mut dataset_parts = parts.clone();
    let stem = stem.to_owned();
    if let Some(last) = dataset_parts.last_mut() {
        *last = stem;
    }
    let file = paths::resolve(&state.root, &dataset_parts)
        .ok()
        .filter(|p| p.is_file())
        .ok_or_else(|| (HandlerError::NotFound("no such dataset".into()), protocol))?;
    let entry = state.catalog.open(&file).await.map_err(|e| {
        let err = match e {
            cdm::Error::UnknownFormat => HandlerError::NotFound("not a dataset".into()),
            other => HandlerError::from(other),
        };
        (err, protocol)
    })?;
    let url_path = format!("/{}", dataset_parts.join("/"));
    let dreq = DatasetRequest {
        kind,
        entry,
        query: req.uri().query().map(str::to_owned),
        url_path,
    };
    let result = match protocol {
        Protocol::Dap2 => dap2::respond(&dreq).await,
        Protocol::Dap4 => dap4::respond(&dreq).await,
        Protocol::Plain => Err(HandlerError::NotImplemented(format!(
            "{kind:?} pages are not available yet"
        ))),
    };
    result.map_err(|e| (e, protocol))
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
