//! Where the bytes come from: positional reads of a file or of an object in a store
//! ([`crate::object`]), behind one small trait.

use std::fmt;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use bytes::Bytes;

/// Random-access reads of immutable bytes. Blocking; called from the blocking pool.
pub trait Storage: Send + Sync + fmt::Debug {
    /// Exactly `len` bytes starting at `offset`.
    ///
    /// # Errors
    /// An I/O error, or `UnexpectedEof` when the range runs past the end.
    fn read_at(&self, offset: u64, len: usize) -> io::Result<Bytes>;

    /// Several ranges; nearby ones are fetched with one read (see [`coalesce`]).
    ///
    /// # Errors
    /// The first failing read.
    fn read_ranges(&self, ranges: &[(u64, usize)]) -> io::Result<Vec<Bytes>> {
        let mut out = vec![Bytes::new(); ranges.len()];
        for group in coalesce(ranges, COALESCE_GAP) {
            let whole = self.read_at(group.offset, group.len)?;
            for &i in &group.members {
                let (off, len) = ranges[i];
                let start = usize::try_from(off - group.offset).unwrap_or(usize::MAX);
                out[i] = whole.slice(start..start + len);
            }
        }
        Ok(out)
    }
}

/// Ranges closer than this are read together: one larger read beats two syscalls.
pub const COALESCE_GAP: u64 = 64 * 1024;

/// One merged read covering several requested ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoalescedRange {
    /// Start of the merged read.
    pub offset: u64,
    /// Its length.
    pub len: usize,
    /// Indices of the requested ranges it covers.
    pub members: Vec<usize>,
}

/// Merges ranges whose gaps are at most `max_gap` bytes; each input range is covered by exactly
/// one output range.
#[must_use]
pub fn coalesce(ranges: &[(u64, usize)], max_gap: u64) -> Vec<CoalescedRange> {
    coalesce_bounded(ranges, max_gap, usize::MAX)
}

/// Merges ranges like [`coalesce`], but never into a read longer than `max_len` (a request to an
/// object store: a too-large merge would delay the first byte and waste more on a retry).
#[must_use]
pub fn coalesce_bounded(
    ranges: &[(u64, usize)],
    max_gap: u64,
    max_len: usize,
) -> Vec<CoalescedRange> {
    let mut order: Vec<usize> = (0..ranges.len()).collect();
    order.sort_by_key(|&i| ranges[i].0);
    let mut out: Vec<CoalescedRange> = Vec::new();
    for i in order {
        let (off, len) = ranges[i];
        let end = off.saturating_add(len as u64);
        if let Some(last) = out.last_mut() {
            let last_end = last.offset + last.len as u64;
            let new_end = last_end.max(end);
            let merged = usize::try_from(new_end - last.offset).unwrap_or(usize::MAX);
            if off <= last_end.saturating_add(max_gap) && (merged <= max_len || end <= last_end) {
                last.len = merged;
                last.members.push(i);
                continue;
            }
        }
        out.push(CoalescedRange {
            offset: off,
            len,
            members: vec![i],
        });
    }
    out
}

/// Storages that stand in for a local path: a dataset opened from an object store has its
/// metadata read from a local copy at that path, while the engine reads its data bytes from the
/// store. Registered for the duration of the open.
static OVERRIDES: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<std::path::PathBuf, std::sync::Arc<dyn Storage>>>,
> = std::sync::LazyLock::new(Default::default);

/// Makes the engine read the data bytes of the file at `path` from `storage` until the returned
/// guard is dropped.
#[must_use]
pub fn override_path(path: &Path, storage: std::sync::Arc<dyn Storage>) -> OverrideGuard {
    lock_overrides().insert(path.to_path_buf(), storage);
    OverrideGuard(path.to_path_buf())
}

/// The storage standing in for `path`, if any.
#[must_use]
pub fn overridden(path: &Path) -> Option<std::sync::Arc<dyn Storage>> {
    lock_overrides().get(path).cloned()
}

fn lock_overrides() -> std::sync::MutexGuard<
    'static,
    std::collections::HashMap<std::path::PathBuf, std::sync::Arc<dyn Storage>>,
> {
    OVERRIDES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Removes a storage override when dropped.
#[derive(Debug)]
pub struct OverrideGuard(std::path::PathBuf);

impl Drop for OverrideGuard {
    fn drop(&mut self) {
        lock_overrides().remove(&self.0);
    }
}

/// A local file read with `pread`, which needs no lock and no seek: many threads read at once.
#[derive(Debug)]
pub struct FileStorage {
    file: std::fs::File,
    len: u64,
}

impl FileStorage {
    /// Opens `path` for reading.
    ///
    /// # Errors
    /// When the file cannot be opened.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        Ok(Self { file, len })
    }
}

impl Storage for FileStorage {
    fn read_at(&self, offset: u64, len: usize) -> io::Result<Bytes> {
        if offset.saturating_add(len as u64) > self.len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "a data address lies past the end of the file",
            ));
        }
        let mut buf = vec![0u8; len];
        self.file.read_exact_at(&mut buf, offset)?;
        Ok(Bytes::from(buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearby_ranges_merge_and_far_ones_do_not() {
        let r = [(100, 10), (0, 10), (5_000_000, 4), (115, 5)];
        let c = coalesce(&r, 100);
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].offset, c[0].len), (0, 120));
        assert_eq!(c[0].members, vec![1, 0, 3]);
        assert_eq!(
            (c[1].offset, c[1].len, c[1].members.clone()),
            (5_000_000, 4, vec![2])
        );
        // Bounded: the third range would make the read longer than 115 bytes.
        let c = coalesce_bounded(&r, 100, 115);
        assert_eq!(c.len(), 3);
        assert_eq!((c[0].offset, c[0].len), (0, 110));
        assert_eq!(
            (c[1].offset, c[1].len, c[1].members.clone()),
            (115, 5, vec![3])
        );
        // Overlapping and contained ranges.
        let c = coalesce(&[(0, 100), (10, 5)], 0);
        assert_eq!((c[0].offset, c[0].len), (0, 100));
    }

    #[test]
    fn file_reads_are_exact_and_refuse_the_end() {
        let dir = std::env::temp_dir().join(format!("fathom-storage-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("bytes");
        let data: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
        std::fs::write(&path, &data).expect("write");
        let s = FileStorage::open(&path).expect("open");
        assert_eq!(&s.read_at(1000, 10).expect("read")[..], &data[1000..1010]);
        assert!(s.read_at(299_995, 10).is_err());
        let parts = s
            .read_ranges(&[(10, 5), (200_000, 3), (20, 5)])
            .expect("reads");
        assert_eq!(&parts[0][..], &data[10..15]);
        assert_eq!(&parts[1][..], &data[200_000..200_003]);
        assert_eq!(&parts[2][..], &data[20..25]);
        std::fs::remove_dir_all(&dir).ok();
    }
}
