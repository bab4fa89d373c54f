//! The read engine against the library: for every variable of many real files (netCDF-3 record
//! and fixed variables, netCDF-4 contiguous and chunked with filters), random strided hyperslabs
//! read by the engine equal the same hyperslabs read through netCDF-C; hot (cached) reads equal
//! cold ones.

mod common;

use common::{runtime, slab_from};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cdm::engine::cache::ChunkCache;
use cdm::formats::netcdf::NetcdfSource;
use cdm::{Hyperslab, Source, read_all};
use proptest::prelude::*;

fn conformance_files() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance");
    let dirs = [
        root.join("bes/modules/netcdf_handler/data"),
        root.join("bes/modules/netcdf_handler/data/nc4_test_files"),
        root.join("generated/dap4_cdl_ncgen-4.9.0"),
        root.join("bes/modules/hdf5_handler/data"),
    ];
    let mut files: Vec<PathBuf> = dirs
        .iter()
        .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten())
        .map(|e| e.path())
        .filter(|p| matches!(cdm::catalog::sniff(p), Ok(Some(_))))
        .collect();
    // The bundled samples: chunked with deflate, shuffle and fletcher32, partly unwritten
    // chunks, CDF-5, record variables of every classic layout.
    static SAMPLES: std::sync::OnceLock<Vec<PathBuf>> = std::sync::OnceLock::new();
    files.extend(
        SAMPLES
            .get_or_init(|| {
                let dir = std::env::temp_dir()
                    .join(format!("fathom-engine-samples-{}", std::process::id()));
                testdata::write_samples(&dir).expect("samples are written")
            })
            .iter()
            // The plain HDF5 samples are served by the HDF5 source (tests/hdf5_*.rs).
            .filter(|p| p.extension().is_some_and(|e| e == "nc"))
            .cloned(),
    );
    files.sort();
    files
}

/// One open file: its engine reads and its library reads come from the same handle (opening
/// one HDF5 file twice in a process is what the server avoids, so the tests avoid it too).
struct Opened {
    name: String,
    source: Arc<NetcdfSource>,
}

fn open_all(files: &[PathBuf], cache: &ChunkCache) -> Vec<Opened> {
    files
        .iter()
        .filter_map(|p| {
            Some(Opened {
                name: file_name(p),
                source: Arc::new(NetcdfSource::open(p, Some(cache)).ok()?),
            })
        })
        .collect()
}

async fn library_read(src: &NetcdfSource, path: &str, slab: &Hyperslab) -> cdm::Result<Vec<u8>> {
    use futures::StreamExt;
    let mut s = src.read_with_library(path, slab);
    let mut out = Vec::new();
    while let Some(b) = s.next().await {
        out.extend_from_slice(&b?);
    }
    Ok(out)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[test]
fn whole_variables_match_the_library() {
    let rt = runtime();
    let cache = ChunkCache::new(64 << 20);
    let files = conformance_files();
    assert!(
        files.len() > 40,
        "conformance files missing: {}",
        files.len()
    );
    let opened = open_all(&files, &cache);
    let mut engine_vars = 0;
    for pair in &opened {
        for v in pair.source.dataset().all_variables() {
            let slab = Hyperslab::full(&v.shape());
            let want = rt.block_on(library_read(&pair.source, &v.path, &slab));
            let got = rt.block_on(read_all(&*pair.source, &v.path, &slab));
            let again = rt.block_on(read_all(&*pair.source, &v.path, &slab));
            match (want, got, again) {
                (Ok(w), Ok(g), Ok(a)) => {
                    assert_eq!(g, w, "{} {}", pair.name, v.path);
                    assert_eq!(a, w, "hot read of {} {}", pair.name, v.path);
                }
                (w, g, _) => panic!("{} {}: library {w:?} engine {g:?}", pair.name, v.path),
            }
            if pair.source.uses_engine(&v.path) {
                engine_vars += 1;
            }
        }
    }
    // Most variables of these files are plain numbers: the engine must be reading them.
    assert!(
        engine_vars > 100,
        "the engine read only {engine_vars} variables"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn random_hyperslabs_match_the_library(
        file_pick in any::<prop::sample::Index>(),
        var_pick in any::<prop::sample::Index>(),
        seeds in prop::collection::vec((any::<u32>(), any::<u32>(), any::<u32>()), 1..5),
    ) {
        thread_local! {
            static STATE: (tokio::runtime::Runtime, Vec<Opened>) = {
                let cache = ChunkCache::new(16 << 20);
                (runtime(), open_all(&conformance_files(), &cache))
            };
        }
        STATE.with(|(rt, opened)| {
            let pair = file_pick.get(opened);
            let vars: Vec<_> = pair.source.dataset().all_variables().cloned().collect();
            if vars.is_empty() {
                return Ok(());
            }
            let v = var_pick.get(&vars);
            let slab = slab_from(&v.shape(), &seeds, 4);
            let want = rt.block_on(library_read(&pair.source, &v.path, &slab)).expect("library reads");
            let got = rt.block_on(read_all(&*pair.source, &v.path, &slab)).expect("engine reads");
            prop_assert_eq!(got, want, "{} {} {:?}", pair.name, v.path, slab);
            Ok(())
        })?;
    }
}
