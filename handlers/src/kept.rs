//! Whole responses of repeated constrained requests (`x.dods?SST`, `x.dds?v[0:9]`, a DAP4
//! `.dmr` or `.dap` with a constraint), kept per file version and bounded in bytes
//! (`response_cache_bytes`). A `.dap` is kept only when its size follows from the constraint
//! (fixed-size types) and it ended without an ERROR chunk.
//!
//! The unconstrained metadata responses are kept with their catalog entry (see
//! `PreparedResponses`); these are the rest: many clients and dashboards ask for the same
//! subsets, and netCDF-C and pydap fetch the same coordinate variables on every open. A kept
//! response is answered as the metadata ones are: its validators, a clone of its headers and a
//! reference to its body, so a repeated small read costs a lookup and a `writev`, not a decode,
//! a byte swap and a render.
//!
//! The key is the catalog entry's id (unique per file version, never reused), the response
//! kind and the raw query: a changed file is a new entry, so nothing is ever answered from an
//! older version. Responses larger than 1/16 of the cache are never kept, and moka's admission
//! keeps one-off reads (netCDF-C's row-by-row `.dods`) from pushing out repeated ones.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::Prepared;
use crate::route::ResponseKind;

/// Marks a response that must not be kept (a `.dap` whose data failed after its DMR).
#[derive(Clone, Copy, Debug)]
pub(crate) struct NotKept;

/// One kept response's key.
#[derive(Debug, Hash, PartialEq, Eq)]
struct Key {
    /// [`cdm::CatalogEntry::id`].
    entry: u64,
    /// Which response.
    kind: ResponseKind,
    /// The raw query string.
    query: Box<str>,
}

/// The kept responses of every dataset.
pub(crate) struct KeptResponses {
    /// `None` when `response_cache_bytes` is 0.
    cache: Option<moka::sync::Cache<Key, Arc<Prepared>, foldhash::fast::RandomState>>,
    /// The largest body kept.
    item_max: u64,
    /// Requests answered from a kept response.
    hits: AtomicU64,
    /// Responses made and kept.
    stored: AtomicU64,
}

impl std::fmt::Debug for KeptResponses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeptResponses")
            .field("enabled", &self.cache.is_some())
            .field("item_max", &self.item_max)
            .finish_non_exhaustive()
    }
}

/// Whether responses of `kind` to `query` are kept here. Unconstrained metadata is kept with
/// its catalog entry already, so only constrained `.dds` and `.dmr` come here; data (`.dods`,
/// `.dap`) with or without a constraint.
fn is_kept(kind: ResponseKind, query: Option<&str>) -> bool {
    let constrained = query.is_some_and(|q| !q.is_empty());
    match kind {
        ResponseKind::Dods | ResponseKind::Dap => true,
        ResponseKind::Dds | ResponseKind::Dmr => constrained,
        _ => false,
    }
}

impl KeptResponses {
    /// Up to `max_bytes` of responses (0 keeps none).
    pub(crate) fn new(max_bytes: u64) -> Self {
        let cache = (max_bytes > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|k: &Key, v: &Arc<Prepared>| {
                    // The body, the key and roughly the kept header map.
                    u32::try_from(v.body.len() + k.query.len() + 512).unwrap_or(u32::MAX)
                })
                .build_with_hasher(foldhash::fast::RandomState::default())
        });
        Self {
            cache,
            item_max: max_bytes / 16,
            hits: AtomicU64::new(0),
            stored: AtomicU64::new(0),
        }
    }

    /// Where this request's response is (or would be) kept; `None` when it is not kept.
    pub(crate) fn slot(
        &self,
        entry: &cdm::CatalogEntry,
        kind: ResponseKind,
        query: Option<&str>,
    ) -> Option<KeptSlot<'_>> {
        let cache = self.cache.as_ref()?;
        if !is_kept(kind, query) {
            return None;
        }
        Some(KeptSlot {
            cache,
            owner: self,
            key: Key {
                entry: entry.id(),
                kind,
                query: query.unwrap_or_default().into(),
            },
        })
    }

    /// Whether a body of `len` bytes is small enough to keep.
    pub(crate) fn admits(&self, len: u64) -> bool {
        len <= self.item_max
    }

    /// The largest body kept.
    pub(crate) fn item_max(&self) -> u64 {
        self.item_max
    }

    /// (requests answered from a kept response, responses kept).
    pub(crate) fn counts(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.stored.load(Ordering::Relaxed),
        )
    }
}

/// One request's place in [`KeptResponses`].
pub(crate) struct KeptSlot<'a> {
    cache: &'a moka::sync::Cache<Key, Arc<Prepared>, foldhash::fast::RandomState>,
    owner: &'a KeptResponses,
    key: Key,
}

impl KeptSlot<'_> {
    /// The kept response, if there is one.
    pub(crate) fn get(&self) -> Option<Arc<Prepared>> {
        let found = self.cache.get(&self.key);
        if found.is_some() {
            self.owner.hits.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// Keeps `prepared` (the cache may still decline it to keep more frequent ones).
    pub(crate) fn keep(self, prepared: Arc<Prepared>) {
        self.owner.stored.fetch_add(1, Ordering::Relaxed);
        self.cache.insert(self.key, prepared);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_constrained_metadata_and_data_are_kept() {
        assert!(is_kept(ResponseKind::Dods, None));
        assert!(is_kept(ResponseKind::Dods, Some("SST")));
        assert!(is_kept(ResponseKind::Dds, Some("SST")));
        assert!(is_kept(ResponseKind::Dmr, Some("dap4.ce=/SST")));
        // Kept with the entry already.
        assert!(!is_kept(ResponseKind::Dds, None));
        assert!(!is_kept(ResponseKind::Dds, Some("")));
        assert!(!is_kept(ResponseKind::Das, Some("SST")));
        assert!(is_kept(ResponseKind::Dap, Some("dap4.ce=/SST")));
        assert!(is_kept(ResponseKind::Dap, None));
        // Made per request.
        assert!(!is_kept(ResponseKind::Ascii, Some("SST")));
        assert!(!is_kept(ResponseKind::Png, Some("SST")));
    }

    #[test]
    fn a_sixteenth_of_the_cache_is_the_largest_kept_body() {
        let kept = KeptResponses::new(16 << 20);
        assert!(kept.admits(1 << 20));
        assert!(!kept.admits((1 << 20) + 1));
        let none = KeptResponses::new(0);
        assert!(none.cache.is_none());
    }
}
