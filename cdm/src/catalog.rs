//! The metadata cache: file path → open [`Source`], invalidated when the file's modification time
//! or size changes, so a rewritten file is never served stale.
//!
//! A file `X` with a DMR++ `X.dmrpp` beside it, and a DMR++ alone, open through the DMR++
//! ([`crate::formats::dmrpp`]) without any library reading `X`; the DMR++ is part of the
//! dataset's version.
//!
//! An `.ncml` file opens as a virtual dataset ([`crate::formats::ncml`]) whose members are opened
//! through this same catalog; its entry is invalidated when the NcML file or any member changes.
//!
//! Each [`CatalogEntry`] also keeps the protocol renderings of its unconstrained metadata (DDS,
//! DAS, DMR), made once per file version.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;

use crate::engine::cache::{CacheStats, ChunkCache};
use crate::error::{Error, Result};
use crate::formats::dmrpp;
use crate::formats::hdf5::{self, Hdf5Source};
use crate::formats::ncml::{self, Dependencies};
use crate::formats::netcdf::{self, NetcdfSource};
use crate::formats::shared;
use crate::isolation::ReaderPool;
use crate::model::Dataset;
use crate::source::Source;

/// What a file's first bytes say it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// netCDF-3 (`CDF\x01`, `CDF\x02`, `CDF\x05`).
    NetCdf3,
    /// HDF5, which includes netCDF-4.
    Hdf5,
}

/// The HDF5 signature; the superblock may sit at offset 0, 512, 1024, 2048, …
const HDF5_MAGIC: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

/// Sniffs the format of the file at `path` from its content, not its name.
///
/// # Errors
/// When the file cannot be read; `Ok(None)` when it is neither netCDF-3 nor HDF5.
pub fn sniff(path: &Path) -> Result<Option<FileKind>> {
    let mut file = std::fs::File::open(path)?;
    let mut head = [0u8; 8];
    let n = read_up_to(&mut file, &mut head)?;
    if n >= 4 && &head[..3] == b"CDF" && matches!(head[3], 1 | 2 | 5) {
        return Ok(Some(FileKind::NetCdf3));
    }
    if n == 8 && &head == HDF5_MAGIC {
        return Ok(Some(FileKind::Hdf5));
    }
    // A user block pushes the HDF5 superblock to a power of two from 512 on.
    let len = file.metadata()?.len();
    let mut offset = 512u64;
    while offset + 8 <= len {
        use std::io::{Seek, SeekFrom};
        file.seek(SeekFrom::Start(offset))?;
        if read_up_to(&mut file, &mut head)? == 8 && &head == HDF5_MAGIC {
            return Ok(Some(FileKind::Hdf5));
        }
        offset *= 2;
    }
    Ok(None)
}

fn read_up_to(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Opens the file at `path` with the reader its content calls for, whatever its name. Blocking.
/// With a `cache`, values are read by the engine through that shared chunk cache where it can.
///
/// netCDF-3 files go to the netCDF source. HDF5 files go to the netCDF source when they are
/// netCDF-4 by content ([`crate::formats::hdf5::is_netcdf4`]) and netCDF-C opens them, and to
/// the HDF5 source otherwise. The decision is made inside the one-open registry, so a file
/// another request already has open is shared, never opened a second time to be examined.
///
/// # Errors
/// [`Error::UnknownFormat`] for other files, or the reader's error.
pub fn open(path: &Path, cache: Option<&ChunkCache>) -> Result<Arc<dyn Source>> {
    match sniff(path)? {
        Some(FileKind::NetCdf3) => Ok(Arc::new(NetcdfSource::open(path, cache)?)),
        Some(FileKind::Hdf5) => open_hdf5(path, cache),
        None => Err(Error::UnknownFormat),
    }
}

/// Opens an HDF5 file as netCDF-4 or as plain HDF5, by content.
fn open_hdf5(path: &Path, cache: Option<&ChunkCache>) -> Result<Arc<dyn Source>> {
    let file = shared::open_shared_any(path, |p| {
        if hdf5::is_netcdf4(p)? {
            match netcdf::OpenFile::open(p) {
                Ok(f) => return Ok(Arc::new(f) as shared::SharedFile),
                Err(e) => tracing::debug!(error = %e, "netCDF-C cannot open it: reading as HDF5"),
            }
        }
        Ok(Arc::new(hdf5::Hdf5File::open(p)?) as shared::SharedFile)
    })?;
    match file.downcast::<netcdf::OpenFile>() {
        Ok(nc) => Ok(Arc::new(NetcdfSource::from_open(nc, path, cache)?)),
        Err(other) => match other.downcast::<hdf5::Hdf5File>() {
            Ok(h5) => Ok(Arc::new(Hdf5Source::from_open(h5, path, cache)?)),
            Err(_) => Err(Error::Open(
                "the file is open through an unknown reader".into(),
            )),
        },
    }
}

/// One open dataset in the cache.
pub struct CatalogEntry {
    /// Unique within the process and never reused: a key for things kept per file version
    /// outside the entry (a freed entry's address can be reused, its id cannot).
    id: u64,
    source: Arc<dyn Source>,
    modified: SystemTime,
    size: u64,
    rendered: Mutex<HashMap<&'static str, Bytes>>,
    /// Per-protocol views of the dataset (a DAP2 mapping, …), built once per file version.
    extensions: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
    /// When the file on disk was last found unchanged, in nanoseconds since [`clock_epoch`].
    checked: AtomicU64,
    /// For a virtual (NcML) dataset, the files it was built from: its version.
    dependencies: Option<Arc<Dependencies>>,
}

/// How long a check that the file on disk is unchanged stays good. Under load the same file is
/// asked for thousands of times a second and its path lookup (`stat`) was a tenth of a
/// metadata request's CPU; a change on disk is still seen by every request that starts more
/// than this after it.
pub const VALIDATION_WINDOW: Duration = Duration::from_millis(5);

/// The process's reference instant for [`CatalogEntry`] check times.
fn clock_epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// The next [`CatalogEntry::id`].
fn next_entry_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn now_nanos() -> u64 {
    u64::try_from(clock_epoch().elapsed().as_nanos()).unwrap_or(u64::MAX)
}

impl fmt::Debug for CatalogEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CatalogEntry")
            .field("dataset", &self.source.dataset().name)
            .field("modified", &self.modified)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl CatalogEntry {
    /// An entry for a source opened elsewhere (a remote dataset), versioned by `modified` and
    /// `size` as a file would be.
    #[must_use]
    pub fn from_source(source: Arc<dyn Source>, modified: SystemTime, size: u64) -> Self {
        Self::new(source, modified, size, None)
    }

    /// A fresh entry, checked now, with nothing rendered yet.
    fn new(
        source: Arc<dyn Source>,
        modified: SystemTime,
        size: u64,
        dependencies: Option<Arc<Dependencies>>,
    ) -> Self {
        Self {
            id: next_entry_id(),
            source,
            modified,
            size,
            dependencies,
            rendered: Mutex::new(HashMap::new()),
            extensions: Mutex::new(HashMap::new()),
            checked: AtomicU64::new(now_nanos()),
        }
    }

    /// This file version's id: unique within the process, never reused.
    #[must_use]
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The open source.
    #[must_use]
    pub fn source(&self) -> &Arc<dyn Source> {
        &self.source
    }

    /// The dataset's metadata.
    #[must_use]
    pub fn dataset(&self) -> &Arc<Dataset> {
        self.source.dataset()
    }

    /// For a virtual (NcML) dataset, the files and scans it was built from.
    #[must_use]
    pub fn dependencies(&self) -> Option<&Arc<Dependencies>> {
        self.dependencies.as_ref()
    }

    /// The file's modification time when it was opened (for a virtual dataset, the newest of
    /// its files').
    #[must_use]
    pub fn modified(&self) -> SystemTime {
        self.modified
    }

    /// The file's size when it was opened (for a virtual dataset, the sum of its files').
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The rendering called `key` (`"dds"`, `"das"`, `"dmr"`, …), made by `render` the first time
    /// it is asked for and kept for as long as this file version is cached.
    ///
    /// # Errors
    /// `render`'s error; nothing is kept then.
    pub fn rendered<E>(
        &self,
        key: &'static str,
        render: impl FnOnce() -> std::result::Result<Bytes, E>,
    ) -> std::result::Result<Bytes, E> {
        if let Some(b) = self.lock_rendered().get(key) {
            return Ok(b.clone());
        }
        let bytes = render()?;
        self.lock_rendered().insert(key, bytes.clone());
        Ok(bytes)
    }

    /// The value of type `T` kept with this file version, made by `init` the first time. A
    /// protocol keeps its own view of the dataset here, so that per-request work stays small.
    pub fn extension<T: Any + Send + Sync>(&self, init: impl FnOnce() -> T) -> Arc<T> {
        let lock = || {
            self.extensions
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        if let Some(v) = lock().get(&TypeId::of::<T>()).cloned()
            && let Ok(v) = v.downcast::<T>()
        {
            return v;
        }
        // Built outside the lock: two requests may build it at once, and one of them wins.
        let value = Arc::new(init());
        let stored = Arc::clone(
            lock()
                .entry(TypeId::of::<T>())
                .or_insert_with(|| Arc::clone(&value) as Arc<dyn Any + Send + Sync>),
        );
        stored.downcast::<T>().unwrap_or(value)
    }

    fn lock_rendered(&self) -> std::sync::MutexGuard<'_, HashMap<&'static str, Bytes>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.rendered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The cache of open datasets, shared by every request.
#[derive(Clone)]
pub struct Catalog {
    /// Keyed by path, hashed with foldhash (seeded per process): SipHash over the path was a
    /// tenth of a metadata request's instructions.
    cache: moka::sync::Cache<PathBuf, Arc<CatalogEntry>, foldhash::fast::RandomState>,
    chunks: ChunkCache,
    /// Lookups answered by an open entry (hits) or that opened the file (misses), for metrics.
    stats: Arc<CacheStats>,
    /// The data root: NcML locations may not lead outside it. Without one, an NcML file's
    /// locations must stay in its own folder.
    root: Option<Arc<PathBuf>>,
    /// Reader processes that run the C libraries, when files are opened in isolation.
    readers: Option<Arc<ReaderPool>>,
    /// Timeouts, retries and certificates for remote NcML members.
    remote: Arc<crate::formats::dap::RemotePolicy>,
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalog")
            .field("entries", &self.cache.entry_count())
            .finish()
    }
}

impl Catalog {
    /// A catalog keeping at most `capacity` datasets open, reading values through a shared
    /// chunk cache of `chunk_cache_bytes`.
    #[must_use]
    pub fn new(capacity: u64, chunk_cache_bytes: u64) -> Self {
        Self {
            cache: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .build_with_hasher(foldhash::fast::RandomState::default()),
            chunks: ChunkCache::new(chunk_cache_bytes),
            stats: Arc::new(CacheStats::default()),
            root: None,
            readers: None,
            remote: Arc::default(),
        }
    }

    /// This catalog with the operator's settings for remote datasets named by NcML files.
    #[must_use]
    pub fn with_remote_policy(mut self, policy: crate::formats::dap::RemotePolicy) -> Self {
        self.remote = Arc::new(policy);
        self
    }

    /// The settings for remote datasets named by NcML files.
    #[must_use]
    pub fn remote_policy(&self) -> &crate::formats::dap::RemotePolicy {
        &self.remote
    }

    /// This catalog with the canonical data root that NcML locations must stay under.
    #[must_use]
    pub fn with_root(mut self, root: &Path) -> Self {
        self.root = Some(Arc::new(root.to_path_buf()));
        self
    }

    /// This catalog, opening files in `readers`' worker processes rather than in this one
    /// ([`crate::isolation`]).
    #[must_use]
    pub fn with_readers(mut self, readers: Arc<ReaderPool>) -> Self {
        self.readers = Some(readers);
        self
    }

    /// The reader processes, when files are opened in isolation.
    #[must_use]
    pub fn readers(&self) -> Option<&Arc<ReaderPool>> {
        self.readers.as_ref()
    }

    /// Hit and miss counters of the dataset cache.
    #[must_use]
    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    /// How many datasets are open (approximate: moka applies writes lazily).
    #[must_use]
    pub fn len(&self) -> u64 {
        self.cache.entry_count()
    }

    /// Whether no dataset is open.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The shared chunk cache.
    #[must_use]
    pub fn chunk_cache(&self) -> &ChunkCache {
        &self.chunks
    }

    /// The dataset at `path`, opened (off the async runtime) if it is not cached or changed on
    /// disk since it was. Concurrent requests for the same file open it once.
    ///
    /// # Errors
    /// When the file cannot be read or is not a dataset.
    pub async fn open(&self, path: &Path) -> Result<Arc<CatalogEntry>> {
        if ncml::is_ncml(path) {
            return self.open_ncml(path, &[]).await;
        }
        // Looked up by `&Path`: a hit allocates no key.
        let cached = self.cache.get(path);
        let now = now_nanos();
        let window = u64::try_from(VALIDATION_WINDOW.as_nanos()).unwrap_or(u64::MAX);
        if let Some(entry) = &cached
            && now.saturating_sub(entry.checked.load(Ordering::Relaxed)) < window
        {
            self.stats.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Arc::clone(entry));
        }
        // A plain stat, on this thread: it costs about a microsecond, where a hop to the
        // blocking pool (tokio::fs) costs two context switches.
        let meta = std::fs::metadata(path)?;
        let mut modified = meta.modified()?;
        let mut size = meta.len();
        // A DMR++ beside the file (or the DMR++ itself) is part of the dataset's version.
        let dmrpp = dmrpp::sidecar_of(path);
        if let Some(d) = dmrpp.as_deref().filter(|d| *d != path) {
            let m = std::fs::metadata(d)?;
            modified = modified.max(m.modified()?);
            size = size.saturating_add(m.len());
        }
        if let Some(entry) = cached {
            if entry.modified == modified && entry.size == size {
                entry.checked.store(now, Ordering::Relaxed);
                self.stats.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(entry);
            }
            self.cache.invalidate(path);
            // moka may keep the removed value in its pending work until housekeeping runs,
            // and the open of the new version waits for the old one to be released.
            self.cache.run_pending_tasks();
        }
        self.stats.misses.fetch_add(1, Ordering::Relaxed);
        let key = path.to_path_buf();
        let cache = self.cache.clone();
        let chunks = self.chunks.clone();
        let readers = self.readers.clone();
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            cache
                .try_get_with(key.clone(), || {
                    // Read through the DMR++ when there is a current one: no library opens
                    // the data file.
                    let indexed = match &dmrpp {
                        Some(d) => {
                            let data = if d == &key {
                                dmrpp::data_beside(d)
                            } else {
                                Some(key.clone())
                            };
                            let root = match &root {
                                Some(r) => r.as_ref().clone(),
                                None => d.parent().unwrap_or(Path::new("/")).to_path_buf(),
                            };
                            dmrpp::open_local(d, data.as_deref(), &root, Some(&chunks))?
                        }
                        None => None,
                    };
                    let source = match (indexed, &readers) {
                        (Some(s), _) => s,
                        (None, Some(readers)) => {
                            crate::isolation::open(readers, &key, Some(&chunks))?
                        }
                        (None, None) => open(&key, Some(&chunks))?,
                    };
                    Ok::<_, Error>(Arc::new(CatalogEntry::from_source(source, modified, size)))
                })
                .map_err(|e: Arc<Error>| Error::unshare(&e))
        })
        .await
        .map_err(|_| Error::Interrupted)?
    }
}

impl Catalog {
    /// The NcML dataset at `path`, built if it is not cached or anything it was built from
    /// changed. `chain` holds the NcML files that include this one (to refuse a cycle).
    pub(crate) fn open_ncml<'a>(
        &'a self,
        path: &'a Path,
        chain: &'a [PathBuf],
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Arc<CatalogEntry>>> + Send + 'a>>
    {
        Box::pin(async move {
            let key = path.to_path_buf();
            if let Some(entry) = self.cache.get(&key) {
                if entry
                    .dependencies
                    .as_ref()
                    .is_some_and(|d| d.unchanged(VALIDATION_WINDOW))
                {
                    self.stats.hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(entry);
                }
                self.cache.invalidate(&key);
            }
            self.stats.misses.fetch_add(1, Ordering::Relaxed);
            let root = match &self.root {
                Some(r) => r.as_ref().clone(),
                None => path.parent().unwrap_or(Path::new("/")).to_path_buf(),
            };
            let (source, deps) = ncml::open(self, &root, path, chain).await?;
            let entry = Arc::new(CatalogEntry::new(
                source,
                deps.modified(),
                deps.size(),
                Some(Arc::new(deps)),
            ));
            self.cache.insert(key, Arc::clone(&entry));
            Ok(entry)
        })
    }
}
