//! Remote mounts: URL paths the operator configured to serve datasets that live on other
//! OPeNDAP servers. A request names a mount by its path plus a response suffix
//! (`/remote/coads.dds`); nothing in a request can make the server fetch any other URL.
//!
//! A catalog mount mirrors a remote THREDDS `catalog.xml` as a folder: its datasets are served
//! under the mount path by name, its `catalogRef`s are sub-folders fetched when first visited
//! — only those under the configured catalog's own folder URL, and only datasets on the same
//! server, so a remote catalog cannot turn fathom into a proxy to anywhere else. Catalogs and
//! opened datasets are kept for the mount's `refresh_secs`.
//!
//! Mounts also show in the listings and `catalog.xml` of their parent folder, which need not
//! exist in the data root.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cdm::CatalogEntry;
use cdm::engine::cache::ChunkCache;
use cdm::formats::dap::catalog::{RemoteCatalog, origin, read_catalog};
use cdm::formats::dap::{DapProtocol, RemoteOptions, open_remote};

use bytes::Bytes;
use cdm::{ByteStream, Dataset, Hyperslab, Source};
use futures::StreamExt;
use http::Response;
use http_body_util::BodyExt;

use crate::body::{Body, streaming};
use crate::config::{Mount, MountProtocol};
use crate::error::HandlerError;
use crate::listing::{EntryKind, FolderEntry};
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

/// The policy remote NcML members are opened with: the operator's `[remote]` settings, and
/// each member source tapped like a mount's, so that [`hold_back`] learns of its failures.
pub(crate) fn member_policy(
    config: &crate::config::RemoteConfig,
) -> cdm::formats::dap::RemotePolicy {
    let mut policy = config.policy();
    policy.tap = Some(cdm::formats::dap::SourceTap(Arc::new(|s| Arc::new(Tap(s)))));
    policy
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
                // All of it is here: sent as it is, with its length, without joining the parts.
                Held {
                    parts: held.into(),
                    left: size as u64,
                }
                .boxed_unsync()
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

/// A response body held back whole: its parts, and the bytes still to send.
struct Held {
    parts: std::collections::VecDeque<Bytes>,
    left: u64,
}

impl http_body::Body for Held {
    type Data = Bytes;
    type Error = crate::body::BoxError;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        std::task::Poll::Ready(this.parts.pop_front().map(|b| {
            this.left = this.left.saturating_sub(b.len() as u64);
            Ok(http_body::Frame::data(b))
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.parts.is_empty()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.left)
    }
}

/// The configured remote datasets, each opened on first use and re-opened after its refresh
/// time. A failed open is not kept: the next request tries again.
#[derive(Debug)]
pub(crate) struct RemoteMounts {
    mounts: Vec<(Mount, moka::future::Cache<(), Arc<CatalogEntry>>)>,
    catalogs: Vec<CatalogMount>,
}

/// A remote THREDDS catalog served as a folder.
#[derive(Debug)]
struct CatalogMount {
    mount: Mount,
    /// The mount path's segments.
    parts: Vec<String>,
    /// Fetched catalogs by URL.
    catalogs: moka::future::Cache<String, Arc<RemoteCatalog>>,
    /// Opened datasets by URL.
    datasets: moka::future::Cache<String, Arc<CatalogEntry>>,
}

/// What a request under a catalog mount asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CatalogRequest {
    /// The folder's listing (`…/`), or its `catalog.xml` / `catalog.html`.
    Folder {
        /// The folder's segments under the mount.
        sub: Vec<String>,
        /// The whole folder path's segments, mount path included.
        parts: Vec<String>,
        view: FolderView,
    },
    /// A folder asked for without its trailing slash.
    Redirect(String),
    /// A response of a dataset of the folder `sub`.
    Dataset {
        sub: Vec<String>,
        name: String,
        kind: ResponseKind,
        /// The dataset's URL path (without suffix).
        url_path: String,
    },
}

/// How a folder is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FolderView {
    Listing,
    CatalogXml,
    CatalogHtml,
}

fn options(mount: &Mount, chunks: &ChunkCache) -> RemoteOptions {
    RemoteOptions {
        protocol: match mount.protocol {
            // Object-store mounts never reach here (see `ObjectMounts`).
            MountProtocol::Auto | MountProtocol::Catalog | MountProtocol::Files => {
                DapProtocol::Auto
            }
            MountProtocol::Dap2 => DapProtocol::Dap2,
            MountProtocol::Dap4 => DapProtocol::Dap4,
        },
        timeout: Duration::from_secs_f64(mount.timeout_secs),
        retries: mount.retries,
        cache: Some(chunks.clone()),
        ca_file: mount.ca_file.clone(),
    }
}

fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl RemoteMounts {
    pub(crate) fn new(all: &[Mount]) -> Self {
        let (catalogs, mounts): (Vec<&Mount>, Vec<&Mount>) =
            all.iter().partition(|m| m.is_catalog());
        let ttl = |m: &Mount| Duration::from_secs_f64(m.refresh_secs);
        Self {
            catalogs: catalogs
                .into_iter()
                .map(|m| CatalogMount {
                    mount: m.clone(),
                    parts: segments(&m.path),
                    catalogs: moka::future::Cache::builder()
                        .max_capacity(1000)
                        .time_to_live(ttl(m))
                        .build(),
                    datasets: moka::future::Cache::builder()
                        .max_capacity(1000)
                        .time_to_live(ttl(m))
                        .build(),
                })
                .collect(),
            mounts: mounts
                .into_iter()
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

    /// Folder entries for the mounts directly in the folder `parts` (a dataset mount as a
    /// dataset, a catalog mount as a folder), and for folders that only lead to mounts.
    pub(crate) fn entries_in(&self, parts: &[String]) -> Vec<FolderEntry> {
        let mut out: Vec<FolderEntry> = Vec::new();
        let all = self
            .mounts
            .iter()
            .map(|(m, _)| (segments(&m.path), EntryKind::Dataset))
            .chain(
                self.catalogs
                    .iter()
                    .map(|c| (c.parts.clone(), EntryKind::Folder)),
            );
        for (segs, kind) in all {
            if segs.len() <= parts.len() || segs[..parts.len()] != *parts {
                continue;
            }
            let name = segs[parts.len()].clone();
            let kind = if segs.len() == parts.len() + 1 {
                kind
            } else {
                EntryKind::Folder
            };
            if !out.iter().any(|e| e.name == name) {
                out.push(FolderEntry {
                    name,
                    kind,
                    size: 0,
                    modified: None,
                });
            }
        }
        out
    }

    /// Adds [`Self::entries_in`] to a folder's entries (a name on disk wins), in listing order.
    pub(crate) fn add_entries(&self, parts: &[String], entries: &mut Vec<FolderEntry>) {
        for e in self.entries_in(parts) {
            if !entries.iter().any(|x| x.name == e.name) {
                entries.push(e);
            }
        }
        entries.sort_by(|a, b| {
            (a.kind == EntryKind::Folder)
                .cmp(&(b.kind == EntryKind::Folder))
                .reverse()
                .then_with(|| a.name.cmp(&b.name))
        });
    }

    /// What a (still percent-encoded) URL path asks of a catalog mount, or of a folder that
    /// exists only because mounts lie under it (`folder_exists` says whether the data root has
    /// it).
    pub(crate) fn catalog_request(
        &self,
        path: &str,
        folder_exists: impl Fn(&[String]) -> bool,
    ) -> Option<(Option<usize>, CatalogRequest)> {
        if self.catalogs.is_empty() && self.mounts.is_empty() {
            return None;
        }
        let decoded = percent_encoding::percent_decode_str(path)
            .decode_utf8()
            .ok()?;
        let slash = decoded.ends_with('/');
        let all = segments(&decoded);
        if all.iter().any(|s| s == "." || s == "..") {
            return None;
        }
        let mount = self
            .catalogs
            .iter()
            .position(|c| all.len() >= c.parts.len() && all[..c.parts.len()] == c.parts);
        let (folder, last) = match all.split_last() {
            Some((l, f)) if !slash => (f.to_vec(), Some(l.as_str())),
            _ => (all.clone(), None),
        };
        let view = match last {
            None => Some(FolderView::Listing),
            Some("catalog.xml") => Some(FolderView::CatalogXml),
            Some("catalog.html") => Some(FolderView::CatalogHtml),
            Some(_) => None,
        };
        let base = mount.map_or(0, |i| self.catalogs[i].parts.len());
        if let Some(view) = view {
            if folder.len() < base {
                return None;
            }
            // A virtual folder: only when the data root lacks it and a mount lies below.
            if mount.is_none() && (self.entries_in(&folder).is_empty() || folder_exists(&folder)) {
                return None;
            }
            return Some((
                mount,
                CatalogRequest::Folder {
                    sub: if mount.is_some() {
                        folder[base..].to_vec()
                    } else {
                        Vec::new()
                    },
                    parts: folder,
                    view,
                },
            ));
        }
        let last = last?;
        let i = mount?;
        if all.len() == base {
            return Some((Some(i), CatalogRequest::Redirect(format!("{path}/"))));
        }
        match route::split_suffix(last) {
            Some((stem, kind)) => Some((
                Some(i),
                CatalogRequest::Dataset {
                    sub: folder[base..].to_vec(),
                    name: stem.to_owned(),
                    kind,
                    url_path: format!("/{}/{stem}", folder.join("/")),
                },
            )),
            // A sub-folder without its slash (or nothing): the caller finds out which.
            None => Some((Some(i), CatalogRequest::Redirect(format!("{path}/")))),
        }
    }

    /// The remote catalog of folder `sub` of catalog mount `i`, following `catalogRef`s.
    ///
    /// # Errors
    /// Not found for a name the catalogs do not have, or a reference that leaves the
    /// configured catalog's folder; the remote server's failures.
    pub(crate) async fn remote_catalog(
        &self,
        i: usize,
        sub: &[String],
        chunks: &ChunkCache,
    ) -> Result<Arc<RemoteCatalog>, HandlerError> {
        let c = self
            .catalogs
            .get(i)
            .ok_or_else(|| HandlerError::NotFound("no such mount".into()))?;
        let options = options(&c.mount, chunks);
        let prefix = c.mount.url.rfind('/').map_or("", |j| &c.mount.url[..=j]);
        let mut url = c.mount.url.clone();
        let mut catalog = self.fetch_catalog(c, &url, &options).await?;
        for name in sub {
            let Some(r) = catalog.refs.iter().find(|r| &r.name == name) else {
                return Err(HandlerError::NotFound("no such folder".into()));
            };
            if !r.url.starts_with(prefix) {
                return Err(HandlerError::NotFound(
                    "the remote catalog refers outside the mounted catalog's folder".into(),
                ));
            }
            url.clone_from(&r.url);
            catalog = self.fetch_catalog(c, &url, &options).await?;
        }
        Ok(catalog)
    }

    async fn fetch_catalog(
        &self,
        c: &CatalogMount,
        url: &str,
        options: &RemoteOptions,
    ) -> Result<Arc<RemoteCatalog>, HandlerError> {
        c.catalogs
            .try_get_with(url.to_owned(), async {
                read_catalog(url, options).await.map(Arc::new)
            })
            .await
            .map_err(|e: Arc<cdm::Error>| HandlerError::from(cdm::Error::unshare(&e)))
    }

    /// The folder entries of a remote catalog.
    pub(crate) fn catalog_entries(catalog: &RemoteCatalog) -> Vec<FolderEntry> {
        catalog
            .refs
            .iter()
            .map(|r| FolderEntry {
                name: r.name.clone(),
                kind: EntryKind::Folder,
                size: 0,
                modified: None,
            })
            .chain(catalog.datasets.iter().map(|d| FolderEntry {
                name: d.name.clone(),
                kind: EntryKind::Dataset,
                size: d.size.unwrap_or(0),
                modified: None,
            }))
            .collect()
    }

    /// The opened dataset `name` of folder `sub` of catalog mount `i`.
    ///
    /// # Errors
    /// Not found for a name the catalog does not list or a dataset on another server; the
    /// remote server's failures.
    pub(crate) async fn catalog_dataset(
        &self,
        i: usize,
        sub: &[String],
        name: &str,
        chunks: &ChunkCache,
    ) -> Result<Arc<CatalogEntry>, HandlerError> {
        let catalog = self.remote_catalog(i, sub, chunks).await?;
        let c = self
            .catalogs
            .get(i)
            .ok_or_else(|| HandlerError::NotFound("no such mount".into()))?;
        let Some(d) = catalog.datasets.iter().find(|d| d.name == name) else {
            return Err(HandlerError::NotFound("no such dataset".into()));
        };
        if origin(&d.url) != origin(&c.mount.url) {
            return Err(HandlerError::NotFound(
                "the remote catalog names a dataset on another server".into(),
            ));
        }
        let options = options(&c.mount, chunks);
        c.datasets
            .try_get_with(d.url.clone(), async {
                let source: Arc<dyn Source> = Arc::new(Tap(open_remote(&d.url, options).await?));
                Ok::<_, cdm::Error>(Arc::new(CatalogEntry::from_source(
                    source,
                    SystemTime::now(),
                    0,
                )))
            })
            .await
            .map_err(|e: Arc<cdm::Error>| HandlerError::from(cdm::Error::unshare(&e)))
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
                let options = options(mount, chunks);
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
    fn catalog_mounts_and_virtual_folders_are_routed() {
        let mut cat = mount("/t/cat");
        cat.url = "http://h/thredds/catalog.xml".into();
        let m = RemoteMounts::new(&[mount("/m/coads"), cat]);
        let names = |parts: &[&str]| {
            let parts: Vec<String> = parts.iter().map(|s| (*s).to_owned()).collect();
            m.entries_in(&parts)
                .into_iter()
                .map(|e| (e.name, e.kind))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(&[]),
            vec![
                ("m".into(), EntryKind::Folder),
                ("t".into(), EntryKind::Folder)
            ]
        );
        assert_eq!(names(&["m"]), vec![("coads".into(), EntryKind::Dataset)]);
        assert_eq!(names(&["t"]), vec![("cat".into(), EntryKind::Folder)]);
        assert!(names(&["t", "cat"]).is_empty());
        // The dataset mount is still found by find(), not by catalog_request().
        assert_eq!(m.find("/m/coads.dds"), Some((0, ResponseKind::Dds)));
        let no_disk = |_: &[String]| false;
        let folder = |sub: &[&str], parts: &[&str], view| CatalogRequest::Folder {
            sub: sub.iter().map(|s| (*s).to_owned()).collect(),
            parts: parts.iter().map(|s| (*s).to_owned()).collect(),
            view,
        };
        assert_eq!(
            m.catalog_request("/m/", no_disk),
            Some((None, folder(&[], &["m"], FolderView::Listing)))
        );
        assert_eq!(m.catalog_request("/m/", |_: &[String]| true), None);
        assert_eq!(m.catalog_request("/x/", no_disk), None);
        assert_eq!(
            m.catalog_request("/t/cat/a%20b/catalog.xml", no_disk),
            Some((
                Some(0),
                folder(&["a b"], &["t", "cat", "a b"], FolderView::CatalogXml)
            ))
        );
        assert_eq!(
            m.catalog_request("/t/cat", no_disk),
            Some((Some(0), CatalogRequest::Redirect("/t/cat/".into())))
        );
        assert_eq!(
            m.catalog_request("/t/cat/sub/x.nc.dods", no_disk),
            Some((
                Some(0),
                CatalogRequest::Dataset {
                    sub: vec!["sub".into()],
                    name: "x.nc".into(),
                    kind: ResponseKind::Dods,
                    url_path: "/t/cat/sub/x.nc".into(),
                }
            ))
        );
        assert_eq!(m.catalog_request("/t/cat/../x.dds", no_disk), None);
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
