//! What an NcML dataset was built from (the NcML files, each member file's version, each scan's
//! result) and the check that it is all still the same, so an aggregation is rebuilt when any
//! of it changes and files dropped into a scanned folder join after `recheckEvery`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use super::scan::Scan;

/// One file's version when the dataset was built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FileVersion {
    pub path: PathBuf,
    pub modified: SystemTime,
    pub size: u64,
}

impl FileVersion {
    fn is_current(&self) -> bool {
        std::fs::metadata(&self.path)
            .is_ok_and(|m| m.len() == self.size && m.modified().is_ok_and(|t| t == self.modified))
    }
}

/// Collected while a dataset is built.
#[derive(Debug, Default)]
pub(crate) struct DepsBuilder {
    pub files: Vec<FileVersion>,
    pub scans: Vec<(Scan, Vec<PathBuf>)>,
    pub recheck: Option<Duration>,
    /// Whether an `<aggregation>` was built (catalogs show aggregations as collections).
    pub aggregation: bool,
    /// Whether a member is a remote dataset.
    pub remote: bool,
}

/// How long a dataset with remote members is kept before it is built again (fetching the
/// remote metadata anew), as a remote mount is re-opened.
pub(crate) const REMOTE_REFRESH: Duration = Duration::from_secs(300);

impl DepsBuilder {
    /// Takes in what a nested NcML dataset depends on.
    pub(crate) fn merge(&mut self, other: &Dependencies) {
        self.files.extend(other.files.iter().cloned());
        self.scans.extend(other.scans.iter().cloned());
        self.aggregation |= other.aggregation;
        self.remote |= other.remote;
        if let Some(r) = other.recheck {
            self.recheck = Some(self.recheck.map_or(r, |m| m.min(r)));
        }
    }
}

/// How often the member files of an aggregation with more than a few members are checked for
/// changes: a thousand `stat`s per request would cost more than the request.
const MANY_MEMBERS_WINDOW: Duration = Duration::from_secs(1);

/// What an NcML dataset depends on.
#[derive(Debug)]
pub struct Dependencies {
    files: Vec<FileVersion>,
    scans: Vec<(Scan, Vec<PathBuf>)>,
    recheck: Option<Duration>,
    /// Whether the dataset (or an NcML dataset it is made of) is an aggregation.
    aggregation: bool,
    /// Whether a member is a remote dataset (rebuilt after [`REMOTE_REFRESH`]).
    remote: bool,
    /// When the dataset was built: with remote members, part of its version.
    built: SystemTime,
    root: PathBuf,
    /// When the files were last found unchanged, in nanoseconds since `epoch`.
    checked: AtomicU64,
    /// When the scans were last run, in nanoseconds since `epoch`.
    scanned: AtomicU64,
    epoch: Instant,
}

impl Dependencies {
    pub(crate) fn new(built: DepsBuilder, root: &Path) -> Self {
        let mut files = built.files;
        files.sort_by(|a, b| a.path.cmp(&b.path));
        files.dedup();
        Self {
            files,
            scans: built.scans,
            recheck: built.recheck,
            aggregation: built.aggregation,
            remote: built.remote,
            built: SystemTime::now(),
            root: root.to_path_buf(),
            checked: AtomicU64::new(0),
            scanned: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    fn nanos(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// The newest modification time of the files (the dataset's version, with [`Self::size`]);
    /// with remote members, no older than the build, since the remote may have changed.
    #[must_use]
    pub fn modified(&self) -> SystemTime {
        let newest = self
            .files
            .iter()
            .map(|f| f.modified)
            .max()
            .unwrap_or(SystemTime::UNIX_EPOCH);
        if self.remote {
            newest.max(self.built)
        } else {
            newest
        }
    }

    /// The files' total size.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// Whether the dataset is an aggregation of other datasets (`union`, `joinExisting`,
    /// `joinNew`), not one file with edits.
    #[must_use]
    pub fn is_aggregation(&self) -> bool {
        self.aggregation
    }

    /// Whether a member is a dataset on a remote server.
    #[must_use]
    pub fn has_remote(&self) -> bool {
        self.remote
    }

    /// How many files the dataset is made of (NcML files and members).
    #[must_use]
    pub fn file_count(&self) -> usize {
        self.files.len()
    }

    /// Whether every file is as it was, and (after `recheckEvery`) every scan finds the same
    /// files. `window` is how long a positive check stays good for a dataset of few files.
    #[must_use]
    pub fn unchanged(&self, window: Duration) -> bool {
        if self.remote && self.epoch.elapsed() >= REMOTE_REFRESH {
            return false;
        }
        let now = self.nanos();
        let window = if self.files.len() > 16 {
            window.max(MANY_MEMBERS_WINDOW)
        } else {
            window
        };
        let window = u64::try_from(window.as_nanos()).unwrap_or(u64::MAX);
        let last = self.checked.load(Ordering::Relaxed);
        if last != 0 && now.saturating_sub(last) < window {
            return true;
        }
        if !self.files.iter().all(FileVersion::is_current) {
            return false;
        }
        if let Some(every) = self.recheck {
            let every = u64::try_from(every.as_nanos()).unwrap_or(u64::MAX);
            if now.saturating_sub(self.scanned.load(Ordering::Relaxed)) >= every {
                for (scan, found) in &self.scans {
                    let Ok(now_found) = scan.run(&self.root) else {
                        return false;
                    };
                    if now_found.iter().map(|f| &f.path).ne(found.iter()) {
                        return false;
                    }
                }
                self.scanned.store(now, Ordering::Relaxed);
            }
        }
        self.checked.store(now.max(1), Ordering::Relaxed);
        true
    }
}
