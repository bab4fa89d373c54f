//! What the fuzz targets share: real datasets to bind constraints against (fathom's sample files
//! and the netCDF-C DAP4 test files, opened once per fuzzing process) and a data root with a
//! symlink that leaves it, for the URL path target.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// One open dataset and its DAP2 view.
pub struct Bound {
    /// The CDM metadata, as the DAP4 side binds against it.
    pub dataset: Arc<cdm::Dataset>,
    /// The DAP2 view, as the DAP2 side binds against it.
    pub dap2: dap2::Dap2Dataset,
}

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every sample file and every netCDF-C DAP4 test file that opens, opened once.
///
/// # Panics
/// When the samples cannot be written: the fuzzer cannot run without them.
pub fn datasets() -> &'static [Bound] {
    static DATASETS: OnceLock<Vec<Bound>> = OnceLock::new();
    DATASETS.get_or_init(|| {
        let samples = fuzz_dir().join("samples");
        #[allow(clippy::expect_used)]
        testdata::ensure_samples(&samples).expect("write the sample files");
        let generated = fuzz_dir().join("../tests/conformance/generated/dap4_cdl_ncgen-4.9.0");
        let mut files: Vec<PathBuf> = Vec::new();
        for dir in [samples.as_path(), generated.as_path()] {
            if let Ok(entries) = std::fs::read_dir(dir) {
                files.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_file()));
            }
        }
        files.sort();
        let bound = files
            .iter()
            .filter_map(|p| cdm::catalog::open(p, None).ok())
            .map(|source| {
                let dataset = Arc::clone(source.dataset());
                let dap2 = dap2::map_dataset(&dataset);
                Bound { dataset, dap2 }
            })
            .collect::<Vec<_>>();
        assert!(
            !bound.is_empty(),
            "no dataset opened: nothing to bind against"
        );
        bound
    })
}

/// A data root for the URL path target, and the canonical root and the file beside it that must
/// never be reached.
pub struct Root {
    /// The canonical data root.
    pub root: PathBuf,
    /// A file outside the root, next to it.
    pub outside: PathBuf,
}

/// Lays out `root/` (files, a folder, a symlink inside and symlinks leaving it) and
/// `secret.txt` beside it, once.
///
/// # Panics
/// When the folder cannot be made.
#[allow(clippy::expect_used)]
pub fn root() -> &'static Root {
    static ROOT: OnceLock<Root> = OnceLock::new();
    ROOT.get_or_init(|| {
        let base = fuzz_dir().join("target").join("url-root");
        let root = base.join("root");
        std::fs::create_dir_all(root.join("sub/deeper")).expect("make the root");
        std::fs::write(root.join("a.nc"), b"CDF\x01").expect("write a file");
        std::fs::write(root.join("sub/b.nc"), b"CDF\x01").expect("write a file");
        let outside = base.join("secret.txt");
        std::fs::write(&outside, b"secret").expect("write the outside file");
        link(&outside, &root.join("leak"));
        link(&base, &root.join("up"));
        link(Path::new("/etc"), &root.join("sub/etc"));
        link(&root.join("sub"), &root.join("inside"));
        Root {
            root: root.canonicalize().expect("canonical root"),
            outside: outside.canonicalize().expect("canonical outside"),
        }
    })
}

fn link(target: &Path, at: &Path) {
    if std::fs::symlink_metadata(at).is_err() {
        #[allow(clippy::expect_used)]
        std::os::unix::fs::symlink(target, at).expect("make a symlink");
    }
}
