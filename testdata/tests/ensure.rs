//! `ensure_samples` as the test suites of other crates use it: the first call writes the set,
//! later calls leave it alone, a set from another generator version is replaced whole, and
//! concurrent callers all come back with a complete set.

mod support;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use support::ScratchDir;
use testdata::{GENERATOR_VERSION, ensure_samples, sample_file_names, stamp_file_name};

/// The inode of a file: a rewrite through the temporary folder gives every file a new one.
fn inode(path: &Path) -> u64 {
    fs::metadata(path).expect("file exists").ino()
}

/// Fails unless `dir` holds every sample, the current stamp, and nothing half-written beside it.
fn assert_complete(dir: &Path) {
    assert!(dir.join(stamp_file_name()).is_file(), "stamp present");
    for name in sample_file_names() {
        let path = dir.join(name);
        netcdf::open(&path).unwrap_or_else(|error| panic!("{name} opens: {error}"));
    }
    let parent = dir.parent().expect("scratch dirs have a parent");
    let leftovers: Vec<_> = fs::read_dir(parent)
        .expect("parent lists")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.starts_with(".samples."))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary folders left: {leftovers:?}"
    );
}

#[test]
fn ensuring_twice_writes_once() {
    let scratch = ScratchDir::new("ensure-twice");
    let dir = scratch.path().join("samples");
    ensure_samples(&dir).expect("first call writes");
    assert_complete(&dir);
    let before = inode(&dir.join("types.nc"));
    ensure_samples(&dir).expect("second call succeeds");
    assert_eq!(
        inode(&dir.join("types.nc")),
        before,
        "second call rewrote the set"
    );
}

#[test]
fn a_set_from_another_generator_version_is_replaced() {
    let scratch = ScratchDir::new("ensure-old");
    let dir = scratch.path().join("samples");
    ensure_samples(&dir).expect("first call writes");
    let before = inode(&dir.join("classic.nc"));
    // Pretend an older generator wrote the set, and left a file this version no longer makes.
    let old_stamp = dir.join(format!(".fathom-samples-v{}", GENERATOR_VERSION - 1));
    fs::rename(dir.join(stamp_file_name()), &old_stamp).expect("stamp renamed");
    fs::write(dir.join("retired.nc"), b"old").expect("old file written");

    ensure_samples(&dir).expect("rewrite succeeds");
    assert_complete(&dir);
    assert_ne!(
        inode(&dir.join("classic.nc")),
        before,
        "the set was rewritten"
    );
    assert!(!old_stamp.exists(), "the old set was replaced whole");
    assert!(
        !dir.join("retired.nc").exists(),
        "the old set was replaced whole"
    );
}

#[test]
fn a_set_missing_a_file_is_rewritten() {
    let scratch = ScratchDir::new("ensure-missing");
    let dir = scratch.path().join("samples");
    ensure_samples(&dir).expect("first call writes");
    fs::remove_file(dir.join("chunked.nc")).expect("removed");
    ensure_samples(&dir).expect("rewrite succeeds");
    assert_complete(&dir);
}

#[test]
fn concurrent_callers_all_get_a_complete_set() {
    let scratch = ScratchDir::new("ensure-race");
    let dir = scratch.path().join("samples");
    std::thread::scope(|scope| {
        let callers: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| ensure_samples(&dir)))
            .collect();
        for caller in callers {
            caller
                .join()
                .expect("no panic")
                .expect("every caller succeeds");
        }
    });
    assert_complete(&dir);
}

#[test]
fn the_default_folder_is_the_crates_gitignored_samples_folder() {
    let dir = testdata::default_samples_dir();
    assert!(dir.ends_with("testdata/samples"), "{}", dir.display());
}
