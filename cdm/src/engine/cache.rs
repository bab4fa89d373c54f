//! The one chunk cache: decoded chunks (canonical little-endian bytes) shared by every request
//! and both protocols, bounded by decoded bytes. Concurrent requests for the same chunk decode it
//! once: later callers wait for the first.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use crate::error::Error;

/// Identifies one decoded chunk: the open file, the variable in it, the chunk's linear number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChunkKey {
    /// Unique per opened file version (a rewritten file gets a new one).
    pub file: u64,
    /// The variable's number within the file.
    pub var: u32,
    /// The chunk's position in the chunk grid, row-major.
    pub chunk: u64,
}

/// Hit and miss counters, for metrics.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Lookups answered from the cache.
    pub hits: AtomicU64,
    /// Lookups that had to read and decode.
    pub misses: AtomicU64,
}

/// The shared cache of decoded chunks.
#[derive(Clone)]
pub struct ChunkCache {
    /// Hashed with foldhash, like the catalog: SipHash was a few thousand instructions of a
    /// request that touches a dozen chunks.
    inner: moka::future::Cache<ChunkKey, Bytes, foldhash::fast::RandomState>,
    stats: Arc<CacheStats>,
}

impl fmt::Debug for ChunkCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkCache")
            .field("bytes", &self.inner.weighted_size())
            .field("chunks", &self.inner.entry_count())
            .finish()
    }
}

/// Default capacity: a few hundred MB keeps the working set of typical requests on a
/// few-GB machine without crowding out the page cache.
pub const DEFAULT_CACHE_BYTES: u64 = 256 * 1024 * 1024;

impl ChunkCache {
    /// A cache holding up to `max_bytes` of decoded chunks (0 disables caching).
    #[must_use]
    pub fn new(max_bytes: u64) -> Self {
        let inner = moka::future::Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|_k: &ChunkKey, v: &Bytes| u32::try_from(v.len()).unwrap_or(u32::MAX))
            .build_with_hasher(foldhash::fast::RandomState::default());
        Self {
            inner,
            stats: Arc::new(CacheStats::default()),
        }
    }

    /// The chunk for `key`, decoded by `load` if it is not cached. Concurrent calls for the same
    /// key run `load` once.
    ///
    /// # Errors
    /// `load`'s error (shared between the waiting callers).
    pub async fn get_or_load<F>(&self, key: ChunkKey, load: F) -> Result<Bytes, Arc<Error>>
    where
        F: Future<Output = Result<Bytes, Error>>,
    {
        let mut loaded = false;
        let result = self
            .inner
            .try_get_with(key, async {
                loaded = true;
                load.await
            })
            .await;
        let counter = if loaded {
            &self.stats.misses
        } else {
            &self.stats.hits
        };
        counter.fetch_add(1, Ordering::Relaxed);
        result
    }

    /// Whether `key` is cached now (it may be evicted right after).
    #[must_use]
    pub fn contains(&self, key: &ChunkKey) -> bool {
        self.inner.contains_key(key)
    }

    /// The hit and miss counters.
    #[must_use]
    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    /// Bytes currently held (approximate: moka applies writes lazily).
    #[must_use]
    pub fn weighted_size(&self) -> u64 {
        self.inner.weighted_size()
    }

    /// Drops every entry (tests and benchmarks of cold reads).
    pub fn clear(&self) {
        self.inner.invalidate_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn concurrent_loads_of_one_chunk_run_once() {
        let cache = ChunkCache::new(1 << 20);
        let key = ChunkKey {
            file: 1,
            var: 0,
            chunk: 7,
        };
        let calls = Arc::new(AtomicU64::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let cache = cache.clone();
                let calls = Arc::clone(&calls);
                tokio::spawn(async move {
                    cache
                        .get_or_load(key, async move {
                            calls.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                            Ok(Bytes::from_static(b"chunk"))
                        })
                        .await
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(&t.await.expect("joins").expect("loads")[..], b"chunk");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(cache.stats().misses.load(Ordering::Relaxed), 1);
        assert_eq!(cache.stats().hits.load(Ordering::Relaxed), 7);
    }

    #[tokio::test]
    async fn errors_are_not_cached() {
        let cache = ChunkCache::new(1 << 20);
        let key = ChunkKey {
            file: 1,
            var: 0,
            chunk: 0,
        };
        let r = cache
            .get_or_load(key, async { Err(Error::Corrupt("bad".into())) })
            .await;
        assert!(r.is_err());
        let r = cache
            .get_or_load(key, async { Ok(Bytes::from_static(b"ok")) })
            .await;
        assert_eq!(&r.expect("loads")[..], b"ok");
    }
}
