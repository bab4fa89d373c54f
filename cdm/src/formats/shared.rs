//! The one-open registry: every file a format reader has open, by identity on disk, so that a
//! file is open at most once in the process whatever reader (netCDF or HDF5) opened it.
//!
//! HDF5 shares its state between two opens of the same file, and closing one of them can leave
//! the other's variable-length types pointing at freed memory (seen as crashes in
//! `H5T__conv_vlen`); it also keeps serving the old metadata to a second open of a file that was
//! rewritten in place. So a file is open at most once: later opens share it, and the open of a
//! changed file waits until the old version's last user is gone.

use std::any::Any;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};

use crate::error::{Error, Result};

/// An open file of any reader, shared.
pub(crate) type SharedFile = Arc<dyn Any + Send + Sync>;

/// Identifies a file on disk independently of the path used to reach it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct FileIdentity {
    dev: u64,
    ino: u64,
}

/// The version (mtime, size) a file was opened at, and the open file while anyone uses it.
type OpenVersion = (SystemTime, u64, Weak<dyn Any + Send + Sync>);

/// Every file open in the process, by identity, with the version it was opened at.
static OPEN_FILES: LazyLock<Mutex<HashMap<FileIdentity, OpenVersion>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// How long an open waits for an older version of the same file to be released.
const REPLACE_WAIT: Duration = Duration::from_secs(30);

/// The open file at `path`: the one already open if its version (mtime, size) is current,
/// otherwise a new one made by `open`, which runs while the registry is held so that no other
/// thread opens the same file meanwhile (whatever reader it would use). An older version still
/// in use is waited for.
///
/// # Errors
/// When the file cannot be examined, `open`'s error, or an older version stays in use too long.
pub(crate) fn open_shared_any(
    path: &Path,
    open: impl FnOnce(&Path) -> Result<SharedFile>,
) -> Result<SharedFile> {
    use std::os::unix::fs::MetadataExt;
    let deadline = Instant::now() + REPLACE_WAIT;
    let mut open = Some(open);
    loop {
        let meta = std::fs::metadata(path)?;
        let id = FileIdentity {
            dev: meta.dev(),
            ino: meta.ino(),
        };
        let version = (meta.modified()?, meta.len());
        let mut registry = OPEN_FILES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((mtime, size, weak)) = registry.get(&id)
            && let Some(file) = weak.upgrade()
        {
            if (*mtime, *size) == version {
                return Ok(file);
            }
            drop(registry);
            if Instant::now() > deadline {
                return Err(Error::Open(
                    "an older version of the file is still being read; retry later".into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        let Some(open) = open.take() else {
            return Err(Error::Interrupted);
        };
        // Opened while holding the registry, so no other thread opens the same file meanwhile.
        let file = open(path)?;
        registry.retain(|_, (_, _, w)| w.strong_count() > 0);
        registry.insert(id, (version.0, version.1, Arc::downgrade(&file)));
        return Ok(file);
    }
}

/// [`open_shared_any`] for one reader's file type `T`.
///
/// # Errors
/// As [`open_shared_any`], and [`Error::Open`] when the file is already open through another
/// reader.
pub(crate) fn open_shared<T: Send + Sync + 'static>(
    path: &Path,
    open: impl FnOnce(&Path) -> Result<T>,
) -> Result<Arc<T>> {
    let file = open_shared_any(path, |p| Ok(Arc::new(open(p)?) as SharedFile))?;
    file.downcast::<T>()
        .map_err(|_| Error::Open("the file is already open through another reader".into()))
}
