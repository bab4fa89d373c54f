//! Object storage as a source of datasets: an S3 bucket prefix or an HTTP folder of plain files
//! read by byte ranges ([`ObjectRoot`]), its objects' bytes behind the engine's
//! [`Storage`] trait ([`ObjectStorage`]), listings of its prefixes, and the opening of an object
//! as a dataset.
//!
//! The store is reached through `object_store` (S3 signing, retries with backoff, HTTP ranges).
//! Its futures run on one dedicated runtime ([`io_runtime`]): the engine's [`Storage`] calls are
//! blocking and made from the blocking pool (and from reader processes that have no runtime), so
//! they hand their requests to that runtime and wait, rather than nesting runtimes or blocking a
//! server worker thread.
//!
//! Opening: one ranged read sniffs the magic bytes. A netCDF-3 object's header is read by ranges
//! (grown until the nom header parser is satisfied) and only those bytes are kept locally for the
//! library to read the metadata from; the engine reads every variable's data from the store. A
//! netCDF-4 / HDF5 object is opened by HDF5 through the ranged driver
//! ([`crate::formats::hdf5::vfd`]: the first megabyte, then 64 KiB pages, read through this
//! object's [`ObjectStorage`]) and modelled by the HDF5 walk, which shows netCDF-4 content as
//! netCDF-C does; this runs in the server process (not in a reader process: the driver's
//! storage lives here), under the library lock, its reads waiting on [`io_runtime`]. Chosen by
//! measurement over HDF5's `ros3` driver and the whole copy (BENCHMARKS.md). A store error
//! fails the open; any other failure of the ranged open (bytes HDF5 cannot open, a netCDF-4
//! object the walk cannot show as netCDF-C does, another HDF5 version) falls back to fetching the
//! object whole (up to [`ObjectOptions::max_image_bytes`]) into a local copy for the libraries.
//! Either way the engine reads the data bytes of every chunked or contiguous variable from the
//! store, through the shared chunk cache. Every open pins the object's ETag: a read that finds
//! another version fails (412 from the store) rather than mixing bytes of two versions.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectMeta, ObjectStore};

use crate::catalog::{Catalog, CatalogEntry};
use crate::engine::storage::{Storage, coalesce_bounded};
use crate::error::{Error, Result};
use crate::hyperslab::Hyperslab;
use crate::model::Dataset;
use crate::source::{ByteStream, Source};

/// Ranged GETs in flight per read (hidefix uses 16; measured in `bench/cloud.py`).
pub const IN_FLIGHT: usize = 16;
/// Ranges of one object closer than this are fetched with one request.
pub const COALESCE_GAP: u64 = 256 * 1024;
/// The longest request a coalesced read makes.
pub const MAX_REQUEST_BYTES: usize = 8 << 20;
/// How long a listing of a prefix is reused.
pub const LIST_TTL: Duration = Duration::from_secs(2);
/// How long an opened object is served before its version (ETag, size) is checked again.
pub const VALIDATION_TTL: Duration = Duration::from_secs(1);

/// Requests made to object stores by this process, for metrics and the benchmark.
#[derive(Debug, Default)]
pub struct ObjectStats {
    /// Ranged GETs sent (retries inside `object_store` not counted).
    pub requests: AtomicU64,
    /// HEAD and LIST requests sent, and GETs of whole `.dmrpp` objects.
    pub metadata_requests: AtomicU64,
    /// Bytes received by ranged GETs.
    pub bytes: AtomicU64,
    /// Ranged GETs in flight now.
    pub in_flight: AtomicU64,
    /// The most ranged GETs ever in flight at once.
    pub max_in_flight: AtomicU64,
}

/// The process's object-store counters.
pub static STATS: LazyLock<ObjectStats> = LazyLock::new(ObjectStats::default);

/// The runtime that drives every object-store request of the process.
pub fn io_runtime() -> &'static tokio::runtime::Runtime {
    static RT: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fathom-object-io")
            .enable_all()
            .build()
            .unwrap_or_else(|e| {
                // Without threads the process cannot serve at all.
                tracing::error!(error = %e, "cannot start the object-store runtime");
                std::process::abort()
            })
    });
    &RT
}

/// Runs `fut` on [`io_runtime`] and waits for it. Blocking: call it off the async runtime.
fn block_on<T: Send + 'static>(fut: impl Future<Output = T> + Send + 'static) -> io::Result<T> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    io_runtime().spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv()
        .map_err(|_| io::Error::other("an object-store request was cancelled"))
}

/// Per-root settings; anything unset comes from the standard AWS environment variables.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObjectOptions {
    /// An S3-compatible endpoint (else `AWS_ENDPOINT_URL`, else AWS).
    pub endpoint: Option<String>,
    /// The region (else `AWS_REGION` / `AWS_DEFAULT_REGION`, else `us-east-1`).
    pub region: Option<String>,
    /// Allow a plain-http endpoint (else `AWS_ALLOW_HTTP`).
    pub allow_http: Option<bool>,
    /// Send unsigned requests (a public bucket).
    pub anonymous: bool,
    /// Per-request timeout (default 30 s).
    pub timeout: Option<Duration>,
    /// Retries of a failed request, with exponential backoff (default 3).
    pub retries: Option<usize>,
    /// The largest netCDF-4 / HDF5 object whose metadata is read from a whole local copy, when
    /// the ranged open cannot be used (default 1 GiB).
    pub max_image_bytes: Option<u64>,
}

fn env_flag(name: &str) -> Option<bool> {
    std::env::var(name)
        .ok()
        .map(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
}

/// Whether `url` names an object-store root (`s3://…`) rather than a folder or a DAP server.
#[must_use]
pub fn is_object_url(url: &str) -> bool {
    url.starts_with("s3://")
}

fn store_error(e: object_store::Error, what: &str) -> Error {
    match e {
        object_store::Error::NotFound { .. } => Error::Io(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{what}: no such object"),
        )),
        object_store::Error::Precondition { .. } => Error::Upstream(format!(
            "{what}: the object changed while it was being read; ask again"
        )),
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => Error::Upstream(format!(
            "{what}: the object store refused the credentials (check AWS_ACCESS_KEY_ID / \
AWS_SECRET_ACCESS_KEY)"
        )),
        other => {
            let text = other.to_string();
            if text.contains("403")
                || text.contains("Forbidden")
                || text.contains("SignatureDoesNotMatch")
            {
                Error::Upstream(format!(
                    "{what}: the object store refused the credentials (check AWS_ACCESS_KEY_ID / \
AWS_SECRET_ACCESS_KEY): {text}"
                ))
            } else if text.contains("NoSuchBucket") {
                Error::Io(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{what}: no such bucket"),
                ))
            } else {
                Error::Upstream(format!("{what}: {text}"))
            }
        }
    }
}

fn io_error(e: Error) -> io::Error {
    match e {
        Error::Io(io) => io,
        other => io::Error::other(other.to_string()),
    }
}

/// The bytes of one version of one object, read by ranged GETs.
pub struct ObjectStorage {
    store: Arc<dyn ObjectStore>,
    location: ObjectPath,
    etag: Option<String>,
    size: u64,
}

impl fmt::Debug for ObjectStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectStorage")
            .field("location", &self.location.as_ref())
            .field("etag", &self.etag)
            .field("size", &self.size)
            .finish()
    }
}

impl ObjectStorage {
    /// The object's size in bytes.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    async fn fetch(
        store: Arc<dyn ObjectStore>,
        location: ObjectPath,
        etag: Option<String>,
        offset: u64,
        len: usize,
    ) -> Result<Bytes> {
        let now = STATS.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        STATS.max_in_flight.fetch_max(now, Ordering::Relaxed);
        let result = async {
            // A response cut short is asked for again, twice at most.
            let mut attempts = 0;
            loop {
                attempts += 1;
                STATS.requests.fetch_add(1, Ordering::Relaxed);
                let options = GetOptions {
                    if_match: etag.clone(),
                    range: Some(GetRange::Bounded(offset..offset + len as u64)),
                    ..GetOptions::default()
                };
                let what = location.as_ref();
                let got = store
                    .get_opts(&location, options)
                    .await
                    .map_err(|e| store_error(e, what))?;
                match got.bytes().await {
                    Ok(bytes) if bytes.len() == len => {
                        STATS.bytes.fetch_add(len as u64, Ordering::Relaxed);
                        return Ok(bytes);
                    }
                    Ok(bytes) if attempts >= 3 => {
                        return Err(Error::Upstream(format!(
                            "{what}: {} bytes received of {len} asked for",
                            bytes.len()
                        )));
                    }
                    Err(e) if attempts >= 3 => return Err(store_error(e, what)),
                    _ => tokio::time::sleep(Duration::from_millis(50 << attempts)).await,
                }
            }
        }
        .await;
        STATS.in_flight.fetch_sub(1, Ordering::Relaxed);
        result
    }
}

impl Storage for ObjectStorage {
    fn read_at(&self, offset: u64, len: usize) -> io::Result<Bytes> {
        let mut parts = self.read_ranges(&[(offset, len)])?;
        Ok(parts.pop().unwrap_or_default())
    }

    fn read_ranges(&self, ranges: &[(u64, usize)]) -> io::Result<Vec<Bytes>> {
        if ranges
            .iter()
            .any(|&(off, len)| off.saturating_add(len as u64) > self.size)
        {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "a data address lies past the end of the object",
            ));
        }
        let groups = coalesce_bounded(ranges, COALESCE_GAP, MAX_REQUEST_BYTES);
        let jobs: Vec<_> = groups
            .iter()
            .enumerate()
            .filter(|(_, g)| g.len > 0)
            .map(|(i, g)| {
                let (store, location, etag) = (
                    Arc::clone(&self.store),
                    self.location.clone(),
                    self.etag.clone(),
                );
                let (offset, len) = (g.offset, g.len);
                async move {
                    Self::fetch(store, location, etag, offset, len)
                        .await
                        .map(|b| (i, b))
                }
            })
            .collect();
        let fetched: Vec<(usize, Bytes)> = block_on(async move {
            futures::stream::iter(jobs)
                .buffer_unordered(IN_FLIGHT)
                .try_collect()
                .await
        })?
        .map_err(io_error)?;
        let mut whole = vec![Bytes::new(); groups.len()];
        for (i, b) in fetched {
            whole[i] = b;
        }
        let mut out = vec![Bytes::new(); ranges.len()];
        for (group, bytes) in groups.iter().zip(whole) {
            for &i in &group.members {
                let (off, len) = ranges[i];
                let start = usize::try_from(off - group.offset).unwrap_or(usize::MAX);
                out[i] = bytes.slice(start..start + len);
            }
        }
        Ok(out)
    }
}

/// One entry of a prefix listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// The last part of the key (or of the sub-prefix).
    pub name: String,
    /// A sub-prefix (a folder) rather than an object.
    pub folder: bool,
    /// Object size.
    pub size: u64,
    /// Object last modification.
    pub modified: Option<SystemTime>,
    /// The object's version as the store names it (its ETag, else size and modification).
    pub version: Option<String>,
}

/// What a folder name is escaped of in the URL of its index page.
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'?')
    .add(b'<')
    .add(b'>');

/// The largest index page of an HTTP folder that is read.
const MAX_LISTING_PAGE: u64 = 16 << 20;

/// The entries of an index page as nginx's `autoindex` writes it: `autoindex_format json`
/// (`[{"name", "type", "mtime", "size"}]`), or the default HTML, one
/// `<a href="NAME">…</a> DD-Mon-YYYY HH:MM SIZE` line per entry. `None` when it is neither.
fn parse_autoindex(page: &str) -> Option<Vec<Listed>> {
    #[derive(serde::Deserialize)]
    struct JsonEntry {
        name: String,
        #[serde(rename = "type")]
        kind: String,
        mtime: Option<String>,
        size: Option<u64>,
    }
    if page.trim_start().starts_with('[') {
        let entries: Vec<JsonEntry> = serde_json::from_str(page).ok()?;
        return Some(
            entries
                .into_iter()
                .map(|e| Listed {
                    folder: e.kind == "directory",
                    name: e.name,
                    size: e.size.unwrap_or(0),
                    modified: e
                        .mtime
                        .as_deref()
                        .and_then(|m| httpdate::parse_http_date(m).ok()),
                    version: None,
                })
                .collect(),
        );
    }
    static LINE: LazyLock<Option<regex::Regex>> = LazyLock::new(|| {
        regex::Regex::new(
            r#"<a href="([^"?#]+)">[^<]*</a>\s+(\d{2})-([A-Z][a-z]{2})-(\d{4}) (\d{2}):(\d{2})\s+(\d+|-)"#,
        )
        .ok()
    });
    let line = LINE.as_ref()?;
    if !page.contains("<title>Index of ") {
        return None;
    }
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    Some(
        line.captures_iter(page)
            .filter_map(|c| {
                let href = percent_encoding::percent_decode_str(&c[1])
                    .decode_utf8()
                    .ok()?
                    .into_owned();
                let folder = href.ends_with('/');
                let name = href.trim_end_matches('/').to_owned();
                if name.is_empty() || name.contains('/') || name == ".." {
                    return None;
                }
                let month = months.iter().position(|m| *m == &c[3])?;
                let num = |i: usize| c[i].parse::<i64>().ok();
                let modified = civil_time(
                    num(4)?,
                    i64::try_from(month).ok()? + 1,
                    num(2)?,
                    num(5)?,
                    num(6)?,
                );
                Some(Listed {
                    name,
                    folder,
                    size: c[7].parse().unwrap_or(0),
                    modified,
                    version: None,
                })
            })
            .collect(),
    )
}

/// The UTC time `y-m-d hh:mm` (days from the civil date as in H. Hinnant's algorithm).
fn civil_time(y: i64, m: i64, d: i64, hh: i64, mm: i64) -> Option<SystemTime> {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days * 86_400 + hh * 3600 + mm * 60).ok()?;
    Some(std::time::UNIX_EPOCH + Duration::from_secs(secs))
}

/// The version of an object as a listing or a HEAD reports it: its ETag, or its size and
/// modification time when the store gives no ETag.
fn version_of(etag: Option<&str>, size: u64, modified: SystemTime) -> String {
    // Listings and HEADs may quote it differently.
    let etag = etag.map(|e| e.trim_start_matches("W/").trim_matches('"'));
    etag.map_or_else(
        || {
            let t = modified
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            format!("{size}-{t}")
        },
        str::to_owned,
    )
}

/// The version of an object as a HEAD reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectVersion {
    /// Its size in bytes.
    pub size: u64,
    /// Its ETag, when the store gives one.
    pub etag: Option<String>,
    /// Its last modification.
    pub modified: SystemTime,
}

/// An opened object and the version it was opened at.
#[derive(Debug)]
struct Opened {
    entry: Arc<CatalogEntry>,
    /// The object whose bytes are read: the key itself, or the data object a DMR++ alone names.
    data: ObjectPath,
    etag: Option<String>,
    size: u64,
    modified: SystemTime,
    /// The version of the DMR++ it was opened through (`None`: there was none), so that a
    /// replaced, added or removed `X.dmrpp` alone reopens the dataset.
    sidecar: Option<String>,
    checked: std::sync::Mutex<Instant>,
}

/// What is known of the DMR++ `X.dmrpp` of an object `X` before opening it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum SidecarState {
    /// A fresh listing (or a HEAD) says there is none: no request for it.
    Absent,
    /// It exists at this version.
    Present(String),
    /// Not known: ask the store.
    Unknown,
}

/// A bucket prefix (or HTTP folder) served as a tree of datasets.
pub struct ObjectRoot {
    store: Arc<dyn ObjectStore>,
    /// The key prefix (no leading or trailing slash; empty for the whole bucket).
    prefix: String,
    url: String,
    /// The client that reads the index pages of an HTTP folder.
    http: Option<Arc<crate::formats::dap::http::Http>>,
    /// The bucket of an `s3://` root, to resolve `s3://` hrefs of DMR++ files.
    bucket: Option<String>,
    /// The S3 endpoint, to resolve path-style URL hrefs of DMR++ files.
    endpoint: Option<String>,
    spool: PathBuf,
    /// A folder of plain files on an HTTP server: no listing.
    files: bool,
    max_image_bytes: u64,
    opened: moka::sync::Cache<String, Arc<Opened>>,
    listings: moka::sync::Cache<String, Arc<Vec<Listed>>>,
}

impl fmt::Debug for ObjectRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectRoot")
            .field("url", &self.url)
            .finish()
    }
}

impl ObjectRoot {
    /// The root at `url`: `s3://bucket[/prefix]`, or (with `files`) an `http(s)://host/path/`
    /// folder of plain files read with `Range` requests.
    ///
    /// # Errors
    /// A URL of another form, or settings the store refuses.
    pub fn new(url: &str, files: bool, options: &ObjectOptions) -> Result<Self> {
        let retry = object_store::RetryConfig {
            max_retries: options.retries.unwrap_or(3),
            retry_timeout: Duration::from_secs(60),
            backoff: object_store::BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(5),
                base: 2.0,
            },
        };
        let allow_http = options
            .allow_http
            .or_else(|| env_flag("AWS_ALLOW_HTTP"))
            .unwrap_or(false);
        let client = object_store::ClientOptions::new()
            .with_timeout(options.timeout.unwrap_or(Duration::from_secs(30)))
            .with_connect_timeout(Duration::from_secs(5))
            .with_allow_http(allow_http || files && url.starts_with("http://"));
        let bad = |m: String| Error::Open(format!("{url}: {m}"));
        let (mut bucket_name, mut endpoint_url) = (None, None);
        let (store, prefix): (Arc<dyn ObjectStore>, String) =
            if let Some(rest) = url.strip_prefix("s3://") {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(bad("an s3:// URL needs a bucket".into()));
                }
                let mut b = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_client_options(client)
                    .with_retry(retry)
                    .with_allow_http(allow_http)
                    .with_virtual_hosted_style_request(false);
                let endpoint = options
                    .endpoint
                    .clone()
                    .or_else(|| std::env::var("AWS_ENDPOINT_URL_S3").ok())
                    .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
                if let Some(e) = endpoint {
                    endpoint_url = Some(e.clone());
                    b = b.with_endpoint(e);
                }
                bucket_name = Some(bucket.to_owned());
                let region = options
                    .region
                    .clone()
                    .or_else(|| std::env::var("AWS_REGION").ok())
                    .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
                    .unwrap_or_else(|| "us-east-1".into());
                b = b.with_region(region);
                if options.anonymous {
                    b = b.with_skip_signature(true);
                }
                let store = b.build().map_err(|e| bad(e.to_string()))?;
                (Arc::new(store), prefix.trim_matches('/').to_owned())
            } else if files && (url.starts_with("http://") || url.starts_with("https://")) {
                let base = if url.ends_with('/') {
                    url.to_owned()
                } else {
                    format!("{url}/")
                };
                let store = object_store::http::HttpBuilder::new()
                    .with_url(base)
                    .with_client_options(client)
                    .with_retry(retry)
                    .build()
                    .map_err(|e| bad(e.to_string()))?;
                (Arc::new(store), String::new())
            } else {
                return Err(bad(
                "expected s3://bucket/prefix, or an http(s):// folder with protocol = \"files\""
                    .into(),
            ));
            };
        let spool = std::env::temp_dir().join(format!("fathom-objects-{}", std::process::id()));
        std::fs::create_dir_all(&spool)?;
        Ok(Self {
            store,
            prefix,
            url: url.to_owned(),
            http: if files {
                Some(Arc::new(crate::formats::dap::http::Http::new(
                    options.timeout.unwrap_or(Duration::from_secs(30)),
                    u32::try_from(options.retries.unwrap_or(3)).unwrap_or(3),
                    None,
                )?))
            } else {
                None
            },
            bucket: bucket_name,
            endpoint: endpoint_url,
            spool,
            files,
            max_image_bytes: options.max_image_bytes.unwrap_or(1 << 30),
            opened: moka::sync::Cache::new(1024),
            listings: moka::sync::Cache::builder()
                .max_capacity(1024)
                .time_to_live(LIST_TTL)
                .build(),
        })
    }

    /// The root's URL as configured.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    fn location(&self, parts: &[String]) -> Result<ObjectPath> {
        let mut key = self.prefix.clone();
        for p in parts {
            if p.is_empty() || p == "." || p == ".." || p.contains('/') {
                return Err(Error::Io(io::Error::new(
                    io::ErrorKind::NotFound,
                    "no such object",
                )));
            }
            if !key.is_empty() {
                key.push('/');
            }
            key.push_str(p);
        }
        ObjectPath::parse(&key)
            .map_err(|e| Error::Io(io::Error::new(io::ErrorKind::NotFound, e.to_string())))
    }

    /// The folders and objects directly under the folder `parts`, folders first, then by name.
    /// Listings are reused for [`LIST_TTL`].
    ///
    /// # Errors
    /// [`Error::Io`] `NotFound` when nothing lies under it; the store's error.
    pub async fn list(&self, parts: &[String]) -> Result<Arc<Vec<Listed>>> {
        if self.files {
            return self.list_http_folder(parts).await;
        }
        let location = if parts.is_empty() && self.prefix.is_empty() {
            None
        } else {
            Some(self.location(parts)?)
        };
        let key = location.as_ref().map_or(String::new(), |l| l.to_string());
        if let Some(hit) = self.listings.get(&key) {
            return Ok(hit);
        }
        let store = Arc::clone(&self.store);
        let what = format!("listing of {}", self.url);
        let listed = io_runtime()
            .spawn(async move {
                STATS.metadata_requests.fetch_add(1, Ordering::Relaxed);
                store.list_with_delimiter(location.as_ref()).await
            })
            .await
            .map_err(|_| Error::Interrupted)?
            .map_err(|e| store_error(e, &what))?;
        let mut out: Vec<Listed> = listed
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_owned))
            .map(|name| Listed {
                name,
                folder: true,
                size: 0,
                modified: None,
                version: None,
            })
            .chain(listed.objects.iter().filter_map(|o| {
                Some(Listed {
                    name: o.location.filename()?.to_owned(),
                    folder: false,
                    size: o.size,
                    modified: Some(SystemTime::from(o.last_modified)),
                    version: Some(version_of(
                        o.e_tag.as_deref(),
                        o.size,
                        SystemTime::from(o.last_modified),
                    )),
                })
            }))
            .filter(|l| !l.name.starts_with('.'))
            .collect();
        if out.is_empty() && !parts.is_empty() {
            return Err(Error::Io(io::Error::new(
                io::ErrorKind::NotFound,
                "no such folder",
            )));
        }
        out.sort_by(|a, b| b.folder.cmp(&a.folder).then_with(|| a.name.cmp(&b.name)));
        let out = Arc::new(out);
        self.listings.insert(key, Arc::clone(&out));
        Ok(out)
    }

    /// The listing of an HTTP folder of plain files: its index page as nginx's `autoindex`
    /// writes it (HTML, the default, or `autoindex_format json`), reused for [`LIST_TTL`].
    async fn list_http_folder(&self, parts: &[String]) -> Result<Arc<Vec<Listed>>> {
        let not_listed = |why: &str| {
            Error::Io(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no such folder ({why})"),
            ))
        };
        let key = if parts.is_empty() {
            String::new()
        } else {
            self.location(parts)?.to_string()
        };
        if let Some(hit) = self.listings.get(&key) {
            return Ok(hit);
        }
        let Some(http) = self.http.clone() else {
            return Err(not_listed("not an HTTP folder"));
        };
        // With its trailing slash: a file asked for as a folder is a 404, never downloaded.
        let mut url = self.url.trim_end_matches('/').to_owned();
        for p in parts {
            url.push('/');
            url.extend(percent_encoding::utf8_percent_encode(p, PATH_SEGMENT));
        }
        url.push('/');
        let page = io_runtime()
            .spawn(async move {
                STATS.metadata_requests.fetch_add(1, Ordering::Relaxed);
                http.get(
                    &url,
                    usize::try_from(MAX_LISTING_PAGE).unwrap_or(usize::MAX),
                )
                .await
            })
            .await
            .map_err(|_| Error::Interrupted)?
            .map_err(|e| match e {
                Error::Upstream(m) if m.contains("answered 404") => not_listed("not found"),
                other => other,
            })?;
        let text = String::from_utf8_lossy(&page);
        let mut out = parse_autoindex(&text)
            .ok_or_else(|| not_listed("the server sent no autoindex page for it"))?;
        out.retain(|l| !l.name.starts_with('.'));
        out.sort_by(|a, b| b.folder.cmp(&a.folder).then_with(|| a.name.cmp(&b.name)));
        let out = Arc::new(out);
        self.listings.insert(key, Arc::clone(&out));
        Ok(out)
    }

    /// The version of the object at `parts` (one HEAD): what a raw download is pinned to.
    ///
    /// # Errors
    /// A missing object ([`Error::Io`] `NotFound`) or the store's error.
    pub async fn stat(&self, parts: &[String]) -> Result<ObjectVersion> {
        let location = self.location(parts)?;
        let meta = self.head(&location).await?;
        Ok(ObjectVersion {
            size: meta.size,
            etag: meta.e_tag,
            modified: SystemTime::from(meta.last_modified),
        })
    }

    /// The bytes of the object at `parts` as they are stored, all of them or the byte `range`,
    /// streamed from one GET pinned to `version` (a replaced object fails rather than mixing
    /// versions).
    ///
    /// # Errors
    /// A missing object ([`Error::Io`] `NotFound`), a replaced one ([`Error::Upstream`]) or
    /// the store's error.
    pub async fn download(
        &self,
        parts: &[String],
        version: &ObjectVersion,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<futures::stream::BoxStream<'static, Result<Bytes>>> {
        let location = self.location(parts)?;
        let store = Arc::clone(&self.store);
        let what = location.to_string();
        let options = GetOptions {
            if_match: version.etag.clone(),
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        let got = io_runtime()
            .spawn(async move {
                STATS.metadata_requests.fetch_add(1, Ordering::Relaxed);
                store.get_opts(&location, options).await
            })
            .await
            .map_err(|_| Error::Interrupted)?
            .map_err(|e| store_error(e, &what))?;
        Ok(got
            .into_stream()
            .map(move |r| r.map_err(|e| store_error(e, &what)))
            .boxed())
    }

    /// The dataset in the object at `parts` under this root, opened with `catalog`'s chunk
    /// cache and reader processes, and reopened when the object's version (ETag, size) or the
    /// version of its DMR++ `X.dmrpp` changes. A DMR++ `X.dmrpp` with no object `X` beside it
    /// is the dataset `X`, its values read from the object its `dmrpp:href` names under this
    /// root.
    ///
    /// Whether `X.dmrpp` exists is taken from a fresh listing of the folder when there is one
    /// (no request), else asked of the store.
    ///
    /// # Errors
    /// A missing object ([`Error::Io`] `NotFound`), refused credentials ([`Error::Upstream`]),
    /// an object that is no dataset ([`Error::UnknownFormat`]) or a damaged one.
    pub async fn open(&self, parts: &[String], catalog: &Catalog) -> Result<Arc<CatalogEntry>> {
        let location = self.location(parts)?;
        let key = location.to_string();
        let hit = self.opened.get(&key);
        if let Some(hit) = &hit {
            let fresh = hit
                .checked
                .lock()
                .map(|t| t.elapsed() < VALIDATION_TTL)
                .unwrap_or(false);
            if fresh {
                return Ok(Arc::clone(&hit.entry));
            }
        }
        let side = sidecar_path(&location)?;
        let meta = match self.head(&location).await {
            Ok(m) => Some(m),
            Err(Error::Io(e)) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let mut state = self.listed_sidecar(&location);
        // A revalidation without a fresh listing asks whether the DMR++ changed (a HEAD); a
        // first open learns it from the GET of the DMR++ itself.
        if state == SidecarState::Unknown && hit.is_some() {
            state = self.sidecar_state(&side).await?;
        }
        let Some(meta) = meta else {
            return self.open_alone(&location, &side, state, hit, catalog).await;
        };
        let modified = SystemTime::from(meta.last_modified);
        if let Some(hit) = &hit
            && hit.data == location
            && hit.etag == meta.e_tag
            && hit.size == meta.size
            && hit.modified == modified
            && state.is(hit.sidecar.as_deref())
        {
            hit.touch();
            return Ok(Arc::clone(&hit.entry));
        }
        let sidecar = match state {
            SidecarState::Absent => None,
            _ => self.get_sidecar(&side).await?,
        };
        let (index, sidecar_version) = match sidecar {
            Some((xml, version)) => {
                let index = tokio::task::spawn_blocking(move || crate::formats::dmrpp::parse(&xml))
                    .await
                    .map_err(|_| Error::Interrupted)??;
                (Some(index), Some(version))
            }
            None => (None, None),
        };
        let opened = self
            .open_data(&location, &location, &meta, index, true, catalog)
            .await?;
        Ok(self.remember(key, opened, location, meta, sidecar_version))
    }

    /// The dataset `X` of a DMR++ `X.dmrpp` with no object `X` beside it: its values are read
    /// from the object its `dmrpp:href` names under this root ([`Self::resolve_href`]).
    async fn open_alone(
        &self,
        location: &ObjectPath,
        side: &ObjectPath,
        state: SidecarState,
        hit: Option<Arc<Opened>>,
        catalog: &Catalog,
    ) -> Result<Arc<CatalogEntry>> {
        let not_found = || {
            Error::Io(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{location}: no such object"),
            ))
        };
        if state == SidecarState::Absent {
            return Err(not_found());
        }
        if let Some(hit) = &hit
            && hit.data != *location
            && state.is(hit.sidecar.as_deref())
        {
            let m = self.head(&hit.data).await?;
            if hit.etag == m.e_tag
                && hit.size == m.size
                && hit.modified == SystemTime::from(m.last_modified)
            {
                hit.touch();
                return Ok(Arc::clone(&hit.entry));
            }
        }
        let Some((xml, version)) = self.get_sidecar(side).await? else {
            return Err(not_found());
        };
        let index = tokio::task::spawn_blocking(move || crate::formats::dmrpp::parse(&xml))
            .await
            .map_err(|_| Error::Interrupted)??;
        let href = index.href.clone().ok_or_else(|| {
            Error::Unsupported(format!("{side}: the DMR++ does not name its data object"))
        })?;
        let data = self.resolve_href(side, &href)?;
        let meta = self.head(&data).await.map_err(|e| match e {
            Error::Io(io) if io.kind() == io::ErrorKind::NotFound => Error::Io(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{location}: the data object {data} its DMR++ names does not exist"),
            )),
            other => other,
        })?;
        let opened = self
            .open_data(location, &data, &meta, Some(index), false, catalog)
            .await?;
        Ok(self.remember(location.to_string(), opened, data, meta, Some(version)))
    }

    /// Opens the object `data` (at `meta`'s version) as the dataset named by `location`: through
    /// `index` (its DMR++) when that fits the object, else — when `fallback` — by ranges or a
    /// local copy. Off the async threads: the libraries block.
    async fn open_data(
        &self,
        location: &ObjectPath,
        data: &ObjectPath,
        meta: &ObjectMeta,
        index: Option<crate::formats::dmrpp::Index>,
        fallback: bool,
        catalog: &Catalog,
    ) -> Result<Arc<dyn Source>> {
        let storage = Arc::new(ObjectStorage {
            store: Arc::clone(&self.store),
            location: data.clone(),
            etag: meta.e_tag.clone(),
            size: meta.size,
        });
        let spool = self.spool_for(data)?;
        let name = location.filename().unwrap_or_default().to_owned();
        let max_image = self.max_image_bytes;
        let catalog = catalog.clone();
        tokio::task::spawn_blocking(move || {
            if let Some(index) = index
                && let Some(source) = open_indexed(
                    index,
                    &catalog,
                    Arc::clone(&storage),
                    &spool,
                    max_image,
                    &name,
                )?
            {
                return Ok(source);
            }
            if !fallback {
                return Err(Error::Corrupt(format!(
                    "the DMR++ was written from a data object of another size than {}",
                    storage.location
                )));
            }
            let result = open_object(&catalog, storage, &spool, max_image);
            if result.is_err() {
                drop(SpoolFile(spool));
            }
            result
        })
        .await
        .map_err(|_| Error::Interrupted)?
    }

    /// Keeps `opened` (read from `data` at `meta`'s version, through the DMR++ at `sidecar`'s
    /// version if any) as the dataset at `key`, and returns its catalog entry.
    fn remember(
        &self,
        key: String,
        opened: Arc<dyn Source>,
        data: ObjectPath,
        meta: ObjectMeta,
        sidecar: Option<String>,
    ) -> Arc<CatalogEntry> {
        let modified = SystemTime::from(meta.last_modified);
        let entry = Arc::new(CatalogEntry::from_source(opened, modified, meta.size));
        self.opened.insert(
            key,
            Arc::new(Opened {
                entry: Arc::clone(&entry),
                data,
                etag: meta.e_tag,
                size: meta.size,
                modified,
                sidecar,
                checked: std::sync::Mutex::new(Instant::now()),
            }),
        );
        entry
    }

    /// A fresh folder of the spool for a local copy named as the object (the dataset's name).
    fn spool_for(&self, location: &ObjectPath) -> Result<PathBuf> {
        let folder = self.spool.join(crate::engine::next_file_id().to_string());
        std::fs::create_dir_all(&folder)?;
        Ok(folder.join(location.filename().unwrap_or("object")))
    }

    /// The object a DMR++ at `side` names as its data (`dmrpp:href`), when it lies under this
    /// root: a path relative to the DMR++'s folder, `s3://bucket/key` of this root's bucket,
    /// or a path-style URL of this root's endpoint. Anything else is refused: a DMR++ never
    /// makes the server read what it chooses.
    ///
    /// # Errors
    /// [`Error::Unsupported`] naming the href.
    fn resolve_href(&self, side: &ObjectPath, href: &str) -> Result<ObjectPath> {
        let refuse = || {
            Error::Unsupported(format!(
                "the DMR++ {side} names its data as {href:?}, which is not an object under {}",
                self.url
            ))
        };
        let key = if let Some(rest) = href.strip_prefix("s3://") {
            let (bucket, key) = rest.split_once('/').ok_or_else(refuse)?;
            if Some(bucket) != self.bucket.as_deref() {
                return Err(refuse());
            }
            key.to_owned()
        } else if href.contains("://") {
            let (Some(endpoint), Some(bucket)) = (self.endpoint.as_deref(), self.bucket.as_deref())
            else {
                return Err(refuse());
            };
            href.strip_prefix(endpoint.trim_end_matches('/'))
                .and_then(|r| r.strip_prefix('/'))
                .and_then(|r| r.strip_prefix(bucket))
                .and_then(|r| r.strip_prefix('/'))
                .ok_or_else(refuse)?
                .to_owned()
        } else if href.starts_with('/') {
            return Err(refuse());
        } else {
            let mut segments: Vec<&str> = side.as_ref().split('/').collect();
            segments.pop();
            for p in href.split('/') {
                match p {
                    "" | "." => {}
                    ".." => {
                        segments.pop().ok_or_else(refuse)?;
                    }
                    p => segments.push(p),
                }
            }
            segments.join("/")
        };
        let inside = self.prefix.is_empty()
            || key
                .strip_prefix(&self.prefix)
                .is_some_and(|r| r.starts_with('/'));
        if !inside || key.split('/').any(|s| s.is_empty() || s == "..") {
            return Err(refuse());
        }
        ObjectPath::parse(&key).map_err(|_| refuse())
    }

    /// One HEAD of the object at `location`.
    async fn head(&self, location: &ObjectPath) -> Result<ObjectMeta> {
        let store = Arc::clone(&self.store);
        let at = location.clone();
        io_runtime()
            .spawn(async move {
                STATS.metadata_requests.fetch_add(1, Ordering::Relaxed);
                store.head(&at).await
            })
            .await
            .map_err(|_| Error::Interrupted)?
            .map_err(|e| store_error(e, location.as_ref()))
    }

    /// What a listing of its folder, while fresh, says of the DMR++ of the object at
    /// `location`.
    fn listed_sidecar(&self, location: &ObjectPath) -> SidecarState {
        let folder = location.as_ref().rsplit_once('/').map_or("", |(f, _)| f);
        let Some(listed) = self.listings.get(folder) else {
            return SidecarState::Unknown;
        };
        let name = format!(
            "{}.{}",
            location.filename().unwrap_or_default(),
            crate::formats::dmrpp::EXTENSION
        );
        match listed.iter().find(|l| !l.folder && l.name == name) {
            Some(l) => SidecarState::Present(l.version.clone().unwrap_or_default()),
            None => SidecarState::Absent,
        }
    }

    /// Whether the DMR++ at `side` exists, and its version (one HEAD).
    async fn sidecar_state(&self, side: &ObjectPath) -> Result<SidecarState> {
        match self.head(side).await {
            Ok(m) => Ok(SidecarState::Present(version_of(
                m.e_tag.as_deref(),
                m.size,
                SystemTime::from(m.last_modified),
            ))),
            Err(Error::Io(e)) if e.kind() == io::ErrorKind::NotFound => Ok(SidecarState::Absent),
            Err(e) => Err(e),
        }
    }

    /// The DMR++ at `side` and its version, when there is one (one GET).
    async fn get_sidecar(&self, side: &ObjectPath) -> Result<Option<(Bytes, String)>> {
        let what = side.to_string();
        let store = Arc::clone(&self.store);
        let at = side.clone();
        io_runtime()
            .spawn(async move {
                STATS.metadata_requests.fetch_add(1, Ordering::Relaxed);
                match store.get(&at).await {
                    Ok(got) => {
                        let version = version_of(
                            got.meta.e_tag.as_deref(),
                            got.meta.size,
                            SystemTime::from(got.meta.last_modified),
                        );
                        got.bytes().await.map(|b| Some((b, version)))
                    }
                    Err(object_store::Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .await
            .map_err(|_| Error::Interrupted)?
            .map_err(|e| store_error(e, &what))
    }
}

/// The key of the DMR++ `X.dmrpp` of the object `X` at `location`.
fn sidecar_path(location: &ObjectPath) -> Result<ObjectPath> {
    ObjectPath::parse(format!("{location}.{}", crate::formats::dmrpp::EXTENSION))
        .map_err(|e| Error::Io(io::Error::new(io::ErrorKind::NotFound, e.to_string())))
}

impl Opened {
    /// Marks the version as checked now.
    fn touch(&self) {
        if let Ok(mut t) = self.checked.lock() {
            *t = Instant::now();
        }
    }
}

impl SidecarState {
    /// Whether this is the state an open recorded as `version` (`None`: no DMR++).
    fn is(&self, version: Option<&str>) -> bool {
        match (self, version) {
            (Self::Absent, None) => true,
            (Self::Present(now), Some(then)) => now == then,
            _ => false,
        }
    }
}

/// Opens the object behind `storage` through its DMR++ `index` as the dataset `name`: no byte of the object is read
/// until values are asked for. Variables the DMR++ does not locate are read by opening the
/// object itself ([`open_object`]), only when one of them is asked for.
///
/// `Ok(None)` when the DMR++ records the size of the file it was written from and the object
/// has another size: its offsets cannot be trusted, so the object is opened itself.
///
/// # Errors
/// [`Error::Corrupt`] when the DMR++ is not one.
fn open_indexed(
    index: crate::formats::dmrpp::Index,
    catalog: &Catalog,
    storage: Arc<ObjectStorage>,
    spool: &Path,
    max_image: u64,
    name: &str,
) -> Result<Option<Arc<dyn Source>>> {
    if let Some((size, _)) = index.source_version
        && size != storage.size()
    {
        tracing::warn!(
            object = %storage.location.as_ref(),
            "the DMR++ was written from an object of another size: not used"
        );
        return Ok(None);
    }
    let refuse = |href: &str| -> Result<Arc<dyn Storage>> {
        Err(Error::Unsupported(format!(
            "values in another object ({href}) are not read from object storage"
        )))
    };
    let data: Arc<dyn Storage> = Arc::clone(&storage) as Arc<dyn Storage>;
    let source = crate::formats::dmrpp::DmrppSource::new(
        index,
        data,
        name,
        Some(catalog.chunk_cache()),
        &refuse,
    );
    let (catalog, spool) = (catalog.clone(), spool.to_path_buf());
    let source = source.with_fallback(crate::formats::dmrpp::Fallback::new(move || {
        let result = open_object(&catalog, Arc::clone(&storage), &spool, max_image);
        if result.is_err() {
            drop(SpoolFile(spool.clone()));
        }
        result
    }));
    Ok(Some(Arc::new(source)))
}

/// Opens the object behind `storage` as a dataset: its metadata from a local copy at `spool`
/// (the netCDF-3 header, or the whole netCDF-4 / HDF5 object), its data through `storage`.
fn open_object(
    catalog: &Catalog,
    storage: Arc<ObjectStorage>,
    spool: &Path,
    max_image: u64,
) -> Result<Arc<dyn Source>> {
    let size = storage.size();
    let head = storage
        .read_at(0, usize::try_from(size.min(8)).unwrap_or(8))
        .map_err(Error::Io)?;
    let is_nc3 = head.len() >= 4 && &head[..3] == b"CDF" && matches!(head[3], 1 | 2 | 5);
    let is_hdf5 = head.len() == 8 && &head[..] == b"\x89HDF\r\n\x1a\n";
    let header_only = if is_nc3 {
        let mut n = size.min(64 * 1024);
        let bytes = loop {
            let bytes = storage
                .read_at(0, usize::try_from(n).unwrap_or(usize::MAX))
                .map_err(Error::Io)?;
            match crate::engine::nc3::parse(&bytes)? {
                Some(_) => break bytes,
                None if n < size => n = size.min(n.saturating_mul(4)),
                None => {
                    return Err(Error::Corrupt(
                        "the netCDF-3 header runs past the end of the object".into(),
                    ));
                }
            }
        };
        std::fs::write(spool, &bytes)?;
        true
    } else if is_hdf5 {
        match open_ranged(catalog, &storage) {
            Ok(source) => return Ok(source),
            // The store failed: a whole copy would meet the same store.
            Err(crate::formats::hdf5::vfd::RangedError::Storage(e)) => return Err(Error::Io(e)),
            Err(e) => tracing::info!(
                object = %storage.location.as_ref(),
                reason = %e,
                "not opened by ranges: reading its metadata from a whole local copy"
            ),
        }
        if size > max_image {
            return Err(Error::Unsupported(format!(
                "a netCDF-4 / HDF5 object of {size} bytes is over this server's limit of \
{max_image} bytes for reading metadata from a local copy"
            )));
        }
        let parts: Vec<(u64, usize)> = (0..size)
            .step_by(MAX_REQUEST_BYTES)
            .map(|o| {
                (
                    o,
                    usize::try_from((size - o).min(MAX_REQUEST_BYTES as u64)).unwrap_or(0),
                )
            })
            .collect();
        let pieces = storage.read_ranges(&parts).map_err(Error::Io)?;
        let mut file = std::fs::File::create(spool)?;
        for p in pieces {
            io::Write::write_all(&mut file, &p)?;
        }
        false
    } else {
        return Err(Error::UnknownFormat);
    };
    let spool_file = SpoolFile(spool.to_path_buf());
    let guard = crate::engine::storage::override_path(spool, storage);
    let inner = match catalog.readers() {
        Some(readers) => crate::isolation::open(readers, spool, Some(catalog.chunk_cache())),
        None => crate::catalog::open(spool, Some(catalog.chunk_cache())),
    };
    drop(guard);
    let inner = inner?;
    let engine: HashSet<String> = inner.engine_layouts().into_iter().map(|(p, _)| p).collect();
    Ok(Arc::new(ObjectSource {
        inner,
        engine,
        header_only,
        _spool: spool_file,
    }))
}

/// Opens the netCDF-4 / HDF5 object behind `storage` with HDF5 reading its metadata and chunk
/// index by ranges (see [`crate::formats::hdf5::vfd`]), in this process.
fn open_ranged(
    catalog: &Catalog,
    storage: &Arc<ObjectStorage>,
) -> std::result::Result<Arc<dyn Source>, crate::formats::hdf5::vfd::RangedError> {
    let started = Instant::now();
    let name = storage.location.filename().unwrap_or("object").to_owned();
    let (source, pages) = crate::formats::hdf5::Hdf5Source::open_ranged(
        Arc::clone(storage) as Arc<dyn Storage>,
        storage.size(),
        &name,
        catalog.chunk_cache(),
    )?;
    let (reads, bytes) = pages.counts();
    tracing::debug!(
        object = %storage.location.as_ref(),
        reads,
        bytes,
        ms = started.elapsed().as_millis(),
        "opened by ranges"
    );
    Ok(Arc::new(source))
}

/// A local copy of an object's metadata bytes, removed when the dataset is closed.
#[derive(Debug)]
struct SpoolFile(PathBuf);

impl Drop for SpoolFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        if let Some(folder) = self.0.parent() {
            let _ = std::fs::remove_dir(folder);
        }
    }
}

/// A dataset opened from an object: reads of variables the engine does not read go to the
/// library's local copy, which for a netCDF-3 object holds only the header, so they are refused
/// there rather than answered with the copy's missing bytes.
#[derive(Debug)]
struct ObjectSource {
    inner: Arc<dyn Source>,
    engine: HashSet<String>,
    header_only: bool,
    _spool: SpoolFile,
}

impl Source for ObjectSource {
    fn dataset(&self) -> &Arc<Dataset> {
        self.inner.dataset()
    }

    fn read(&self, path: &str, slab: &Hyperslab) -> ByteStream {
        if self.header_only && !self.engine.contains(path) && !slab.is_empty() {
            return crate::source::error_stream(Error::Unsupported(format!(
                "variable {path} of a netCDF-3 object cannot be read from object storage"
            )));
        }
        self.inner.read(path, slab)
    }

    fn engine_layouts(&self) -> Vec<(String, crate::engine::layout::ChunkLayout)> {
        self.inner.engine_layouts()
    }

    fn stored_chunks(&self, path: &str) -> Option<crate::engine::StoredChunks> {
        self.inner.stored_chunks(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder as nginx 1.22's `autoindex` lists it (HTML, the default): a folder and names
    /// with a space, `&`, `%`, a non-ASCII letter, and one too long for the link text.
    const HTML: &str = r#"<html>
<head><title>Index of /</title></head>
<body>
<h1>Index of /</h1><hr><pre><a href="../">../</a>
<a href="sub%20dir/">sub dir/</a>                                           26-Nov-2026 12:37                   -
<a href="a%20b.nc">a b.nc</a>                                             26-Nov-2026 12:37                   3
<a href="a_very_long_file_name_that_nginx_truncates_in_the_html_listing.nc">a_very_long_file_name_that_nginx_truncates_in_t..&gt;</a> 26-Nov-2026 12:37               12345
<a href="odd%26name%25.nc">odd&amp;name%.nc</a>                                       26-Nov-2026 12:37                   1
<a href="%C3%A9.nc">é.nc</a>                                              26-Nov-2026 12:37                   1
</pre><hr></body>
</html>
"#;

    /// The same folder with `autoindex_format json`.
    const JSON: &str = r#"[
{ "name":"sub dir", "type":"directory", "mtime":"Thu, 26 Nov 2026 12:37:59 GMT" },
{ "name":"a b.nc", "type":"file", "mtime":"Thu, 26 Nov 2026 12:37:59 GMT", "size":3 },
{ "name":"a_very_long_file_name_that_nginx_truncates_in_the_html_listing.nc", "type":"file", "mtime":"Thu, 26 Nov 2026 12:37:59 GMT", "size":12345 },
{ "name":"odd&name%.nc", "type":"file", "mtime":"Thu, 26 Nov 2026 12:37:59 GMT", "size":1 },
{ "name":"é.nc", "type":"file", "mtime":"Thu, 26 Nov 2026 12:37:59 GMT", "size":1 }
]
"#;

    fn summary(listed: &[Listed]) -> Vec<(String, bool, u64)> {
        listed
            .iter()
            .map(|l| (l.name.clone(), l.folder, l.size))
            .collect()
    }

    #[test]
    fn both_autoindex_formats_list_the_same_entries() {
        let want = vec![
            ("sub dir".to_owned(), true, 0),
            ("a b.nc".to_owned(), false, 3),
            (
                "a_very_long_file_name_that_nginx_truncates_in_the_html_listing.nc".to_owned(),
                false,
                12345,
            ),
            ("odd&name%.nc".to_owned(), false, 1),
            ("é.nc".to_owned(), false, 1),
        ];
        let html = parse_autoindex(HTML).expect("an autoindex page");
        let json = parse_autoindex(JSON).expect("an autoindex page");
        assert_eq!(summary(&html), want);
        assert_eq!(summary(&json), want);
        // 2026-11-26 12:37 UTC: to the second in JSON, to the minute in HTML.
        let minute = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_795_696_620);
        for l in &html {
            assert_eq!(l.modified, Some(minute), "{}", l.name);
        }
        for l in &json {
            assert_eq!(
                l.modified,
                Some(minute + std::time::Duration::from_secs(59)),
                "{}",
                l.name
            );
        }
    }

    #[test]
    fn pages_that_are_not_an_autoindex_are_not_listings() {
        assert!(parse_autoindex("<html><body>Welcome to nginx!</body></html>").is_none());
        assert!(parse_autoindex("[{\"name\": 1}]").is_none());
        assert!(parse_autoindex("not json [").is_none());
        // An empty folder is a listing with no entries.
        let empty = "<html>\n<head><title>Index of /x/</title></head>\n<body>\n<h1>Index of /x/</h1><hr><pre><a href=\"../\">../</a>\n</pre><hr></body>\n</html>\n";
        assert_eq!(parse_autoindex(empty).map(|l| l.len()), Some(0));
        assert_eq!(parse_autoindex("[\n]\n").map(|l| l.len()), Some(0));
    }
}
