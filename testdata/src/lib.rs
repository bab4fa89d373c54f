//! `testdata` — deterministic generators of fathom's sample and benchmark files.
//!
//! - [`write_samples`] writes the small sample set (see [`sample_file_names`]): netCDF-3
//!   classic, 64-bit offset and CDF-5 files, and netCDF-4 files with groups, every type, and
//!   chunked/compressed storage, and plain HDF5 files (groups and dimension scales, compound,
//!   enum, vlen and string types, chunked storage without scales, references). These are what `fathom serve` shows first and what every DAP
//!   client test reads.
//! - [`ensure_samples`] writes them once per [`GENERATOR_VERSION`], into a temporary sibling
//!   folder renamed into place, so readers never see a half-written set and concurrent callers
//!   are safe; [`default_samples_dir`] is where the workspace keeps them.
//! - [`write_bench_files`] writes the two large benchmark files.
//! - [`write_corrupt_files`] writes damaged copies of the samples (truncated, bit-flipped
//!   headers, object headers, B-trees and data, zeroed superblocks, wrong magic), for tests
//!   that a server survives every one of them.
//!
//! Values are smooth functions of the indices plus a fixed-seed perturbation (`fields`), so
//! every run writes the same content. Most netCDF files go through the `netcdf` crate; what it
//! cannot write (fletcher32, user-defined types, vlen data) goes through a small checked wrapper
//! over `netcdf-sys` (`raw`). The HDF5 files go through `hdf5-metno`.

mod bench;
mod corrupt;
mod error;
mod fields;
mod raw;
mod samples;

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

pub use bench::write_bench_files;
pub use corrupt::write_corrupt_files;
pub use error::{Error, Result};

/// Version of the sample set; bump it whenever a sample file's content changes, so
/// [`ensure_samples`] rewrites folders made by older generators.
pub const GENERATOR_VERSION: u32 = 2;

/// The folder the workspace keeps its samples in: `testdata/samples` (gitignored).
#[must_use]
pub fn default_samples_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/samples"))
}

/// File names of the sample set, in the order [`write_samples`] returns their paths.
pub fn sample_file_names() -> impl Iterator<Item = &'static str> {
    samples::SAMPLE_FILES.iter().map(|sample| sample.name)
}

/// Name of the stamp file [`ensure_samples`] leaves in a complete sample folder. It carries the
/// generator version, so a folder written by another version simply lacks it.
#[must_use]
pub fn stamp_file_name() -> String {
    format!(".fathom-samples-v{GENERATOR_VERSION}")
}

/// Creates `dir` (and its parents) and writes every sample file into it, overwriting files of
/// the same names. Returns the paths written.
///
/// # Errors
///
/// The folder cannot be created, or the netCDF library fails to write a file; the error names
/// the file.
pub fn write_samples(dir: &Path) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(dir).map_err(|source| Error::io("creating directory", dir, source))?;
    samples::SAMPLE_FILES
        .iter()
        .map(|sample| {
            let path = dir.join(sample.name);
            (sample.write)(&path).map_err(|error| error.in_file(&path))?;
            Ok(path)
        })
        .collect()
}

/// Makes sure `dir` holds the current sample set, writing it only if a file or the stamp of
/// this [`GENERATOR_VERSION`] is missing.
///
/// The set is written into a temporary sibling folder and renamed into place, so a reader sees
/// either no folder, an old complete set, or the new complete set. When several processes or
/// threads call this at once, one rename wins and the others find the set done.
///
/// # Errors
///
/// `dir` has no file name or parent, a file cannot be written, or the rename keeps failing.
pub fn ensure_samples(dir: &Path) -> Result<()> {
    if samples_are_current(dir) {
        return Ok(());
    }
    let (parent, name) = parent_and_name(dir)?;
    fs::create_dir_all(&parent)
        .map_err(|source| Error::io("creating directory", &parent, source))?;

    let staging = parent.join(format!(".{name}.tmp-{}", unique_suffix()));
    let written = write_samples(&staging).and_then(|_| {
        let stamp = staging.join(stamp_file_name());
        let text = format!("fathom testdata sample set, generator version {GENERATOR_VERSION}\n");
        fs::write(&stamp, text).map_err(|source| Error::io("writing", &stamp, source))
    });
    if let Err(error) = written {
        remove_quietly(&staging);
        return Err(error);
    }
    let installed = install(&staging, dir, &parent, &name);
    // Still there when another caller installed its set first, or when installing failed.
    if staging.exists() {
        remove_quietly(&staging);
    }
    installed
}

/// Whether `dir` holds every sample file and the stamp of this generator version.
fn samples_are_current(dir: &Path) -> bool {
    dir.join(stamp_file_name()).is_file()
        && sample_file_names().all(|name| dir.join(name).is_file())
}

/// Renames the finished `staging` folder to `dir`, moving a stale `dir` out of the way first.
fn install(staging: &Path, dir: &Path, parent: &Path, name: &str) -> Result<()> {
    // Each round either installs, finds another caller's current set, or retires a stale set;
    // a few rounds cover callers racing each other through those steps.
    const ATTEMPTS: usize = 5;
    let mut last_error = None;
    for _ in 0..ATTEMPTS {
        match fs::rename(staging, dir) {
            Ok(()) => return Ok(()),
            Err(error) if dir.exists() => {
                if samples_are_current(dir) {
                    return Ok(());
                }
                // A stale (older or incomplete) set: retire it under a unique name so the next
                // rename can succeed. If another caller retired it first, ours finds nothing.
                let retired = parent.join(format!(".{name}.old-{}", unique_suffix()));
                match fs::rename(dir, &retired) {
                    Ok(()) => remove_quietly(&retired),
                    Err(retire_error) if retire_error.kind() == ErrorKind::NotFound => {}
                    Err(retire_error) => {
                        return Err(Error::io("moving aside", dir, retire_error));
                    }
                }
                last_error = Some(error);
            }
            Err(error) => return Err(Error::io("renaming into place", staging, error)),
        }
    }
    Err(Error::io(
        "renaming into place",
        staging,
        last_error.unwrap_or_else(|| ErrorKind::AlreadyExists.into()),
    ))
}

/// The parent folder and last component of `dir`, which the temporary siblings are named after.
fn parent_and_name(dir: &Path) -> Result<(PathBuf, String)> {
    let name = dir
        .file_name()
        .ok_or_else(|| Error::Usage(format!("{} has no folder name", dir.display())))?
        .to_string_lossy()
        .into_owned();
    let parent = match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((parent, name))
}

/// A suffix no other concurrent caller uses: the process id and a per-process counter.
fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{}-{count}", std::process::id())
}

/// Removes a temporary folder. Failure only leaves clutter beside the samples, which must not
/// turn a successful (or an already failing) call into a different error.
fn remove_quietly(path: &Path) {
    let _ignored = fs::remove_dir_all(path);
}
