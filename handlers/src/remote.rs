//! Remote mounts: URL paths the operator configured to serve datasets that live on other
//! OPeNDAP servers. A request names a mount by its path plus a response suffix
//! (`/remote/coads.dds`); nothing in a request can make the server fetch any other URL.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cdm::CatalogEntry;
use cdm::engine::cache::ChunkCache;
use cdm::formats::dap::{DapProtocol, RemoteOptions, open_remote};

use bytes::Bytes;
use cdm::{ByteStream, Dataset, Hyperslab, Source};
use futures::StreamExt;
use http::Response;
use http_body_util::BodyExt;

use crate::body::{Body, full, streaming};
use crate::config::{Mount, MountProtocol};
use crate::error::HandlerError;
use crate::route::{self, ResponseKind};

/// Bytes of a remote data response gathered before any is sent, so that a remote failure
/// within them becomes a 502 / 504 with the protocol's error body rather than a broken
/// download. Past this, the response streams and a failure aborts it (DAP2) or ends it with an
/// error chunk (DAP4).
const HOLD_BACK_BYTES: usize = 32 << 20;

tokio::task_local! {
    /// The first remote read failure of the request being answered.
    static FAILURE: std::cell::RefCell<Option<cdm::Error>>;
}

/// A remote source that records the first read failure in [`FAILURE`] (when the request set
/// it up), so the handler learns why a response failed even when the protocol encoder turned
/// the failure into an error chunk.
#[derive(Debug)]
struct Tap(Arc<dyn Source>);

impl Source for Tap {
    fn dataset(&self) -> &Arc<Dataset> {
        self.0.dataset()
    }

    fn read(&self, path: &str, slab: &Hyperslab) -> ByteStream {
        Box::pin(self.0.read(path, slab).inspect(|item| {
            if let Err(e) = item {
                let _ = FAILURE.try_with(|f| {
                    f.borrow_mut().get_or_insert_with(|| cdm::Error::unshare(e));
                });
            }
        }))
    }
}

/// Runs `respond` (which builds a response of a remote dataset) and, for data responses,
/// holds back the first [`HOLD_BACK_BYTES`] of the body: a remote failure in them becomes the
/// error it deserves before anything is sent.
///
/// # Errors
/// `respond`'s error, or the remote failure met while holding back.
pub(crate) async fn hold_back(
    kind: ResponseKind,
    respond: impl Future<Output = Result<Response<Body>, HandlerError>>,
) -> Result<Response<Body>, HandlerError> {
    if !matches!(
        kind,
        ResponseKind::Dods | ResponseKind::Dap | ResponseKind::Ascii
    ) {
        return respond.await;
    }
    FAILURE
        .scope(std::cell::RefCell::new(None), async {
            let response = respond.await?;
            let (parts, mut body) = response.into_parts();
            let mut held: Vec<Bytes> = Vec::new();
            let mut size = 0usize;
            let mut ended = true;
            let mut broke = None;
            while size < HOLD_BACK_BYTES {
                match body.frame().await {
                    None => break,
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            size += data.len();
                            held.push(data);
                        }
                    }
                    Some(Err(e)) => {
                        broke = Some(e.to_string());
                        break;
                    }
                }
                ended = size < HOLD_BACK_BYTES;
            }
            if let Some(e) = FAILURE.with(|f| f.borrow_mut().take()) {
                return Err(HandlerError::from(e));
            }
            if let Some(message) = broke {
                return Err(HandlerError::BadGateway(message));
            }
            let body = if ended && size < HOLD_BACK_BYTES {
                let mut all = Vec::with_capacity(size);
                for b in held {
                    all.extend_from_slice(&b);
                }
                full(all)
            } else {
                let head =
                    futures::stream::iter(held.into_iter().map(Ok::<_, crate::body::BoxError>));
                let rest = body.into_data_stream();
                streaming(head.chain(rest))
            };
            Ok(Response::from_parts(parts, body))
        })
        .await
}

/// The configured remote datasets, each opened on first use and re-opened after its refresh
/// time. A failed open is not kept: the next request tries again.
#[derive(Debug)]
pub(crate) struct RemoteMounts {
    mounts: Vec<(Mount, moka::future::Cache<(), Arc<CatalogEntry>>)>,
}

impl RemoteMounts {
    pub(crate) fn new(mounts: &[Mount]) -> Self {
        Self {
            mounts: mounts
                .iter()
                .map(|m| {
                    let cache = moka::future::Cache::builder()
                        .max_capacity(1)
                        .time_to_live(Duration::from_secs_f64(m.refresh_secs))
                        .build();
                    (m.clone(), cache)
                })
                .collect(),
        }
    }

    /// The mount and the response a (still percent-encoded) URL path asks for, if it names one.
    pub(crate) fn find(&self, path: &str) -> Option<(usize, ResponseKind)> {
        if self.mounts.is_empty() {
            return None;
        }
        let decoded = percent_encoding::percent_decode_str(path)
            .decode_utf8()
            .ok()?;
        let (folder, last) = decoded.rsplit_once('/')?;
        let (stem, kind) = route::split_suffix(last)?;
        let named = format!("{folder}/{stem}");
        let i = self.mounts.iter().position(|(m, _)| m.path == named)?;
        Some((i, kind))
    }

    /// The mount's URL path.
    pub(crate) fn path(&self, i: usize) -> &str {
        self.mounts.get(i).map_or("", |(m, _)| m.path.as_str())
    }

    /// The open remote dataset of mount `i`.
    ///
    /// # Errors
    /// The remote server's failure to answer, or metadata that cannot be read.
    pub(crate) async fn entry(
        &self,
        i: usize,
        chunks: &ChunkCache,
    ) -> Result<Arc<CatalogEntry>, cdm::Error> {
        let (mount, cache) = self
            .mounts
            .get(i)
            .ok_or_else(|| cdm::Error::Open("no such mount".into()))?;
        cache
            .try_get_with((), async {
                let options = RemoteOptions {
                    protocol: match mount.protocol {
                        // Object-store mounts never reach here (see `ObjectMounts`).
                        MountProtocol::Auto | MountProtocol::Files => DapProtocol::Auto,
                        MountProtocol::Dap2 => DapProtocol::Dap2,
                        MountProtocol::Dap4 => DapProtocol::Dap4,
                    },
                    timeout: Duration::from_secs_f64(mount.timeout_secs),
                    retries: mount.retries,
                    cache: Some(chunks.clone()),
                };
                let source: Arc<dyn Source> =
                    Arc::new(Tap(open_remote(&mount.url, options).await?));
                // Versioned by the time it was opened: validators change when it is re-opened.
                Ok::<_, cdm::Error>(Arc::new(CatalogEntry::from_source(
                    source,
                    SystemTime::now(),
                    0,
                )))
            })
            .await
            .map_err(|e: Arc<cdm::Error>| cdm::Error::unshare(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(path: &str) -> Mount {
        Mount {
            protocol: MountProtocol::Auto,
            timeout_secs: 1.0,
            retries: 0,
            refresh_secs: 1.0,
            ..Mount::object(path, "http://127.0.0.1:9/x.nc")
        }
    }

    #[test]
    fn only_a_mount_path_plus_a_suffix_names_a_mount() {
        let m = RemoteMounts::new(&[mount("/remote/coads"), mount("/remote/a b")]);
        assert_eq!(m.find("/remote/coads.dds"), Some((0, ResponseKind::Dds)));
        assert_eq!(m.find("/remote/coads.dap"), Some((0, ResponseKind::Dap)));
        assert_eq!(
            m.find("/remote/a%20b.dmr.xml"),
            Some((1, ResponseKind::Dmr))
        );
        assert_eq!(m.find("/remote/coads"), None);
        assert_eq!(m.find("/remote/coads/x.dds"), None);
        assert_eq!(m.find("/remote/coadsx.dds"), None);
        assert_eq!(m.find("/other/coads.dds"), None);
        assert_eq!(m.find("/remote/http://evil/x.dds"), None);
    }
}
