//! Opening HDF5 and netCDF-4 bytes through the ranged HDF5 driver (as objects in a store are
//! opened): the model and every value equal the ones of the file opened from disk (netCDF-C
//! for netCDF-4 files), and bytes that are not HDF5, cut short, or behind a failing store give
//! their errors.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use cdm::engine::cache::ChunkCache;
use cdm::engine::storage::{FileStorage, Storage};
use cdm::formats::hdf5::Hdf5Source;
use cdm::formats::hdf5::vfd::RangedError;
use cdm::{Hyperslab, Source, read_all};

fn samples() -> &'static Vec<PathBuf> {
    static FILES: OnceLock<Vec<PathBuf>> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("fathom-hdf5-ranged-{}", std::process::id()));
        testdata::write_samples(&dir).expect("samples are written")
    })
}

fn is_hdf5(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| b.starts_with(b"\x89HDF\r\n\x1a\n"))
}

fn ranged(storage: Arc<dyn Storage>, size: u64, name: &str) -> Result<Hdf5Source, RangedError> {
    let cache = ChunkCache::new(64 << 20);
    Hdf5Source::open_ranged(storage, size, name, &cache).map(|(s, _)| s)
}

fn file(path: &Path) -> (Arc<dyn Storage>, u64) {
    let size = std::fs::metadata(path).expect("stat").len();
    (Arc::new(FileStorage::open(path).expect("opens")), size)
}

/// Bytes in memory.
#[derive(Debug)]
struct Memory(Bytes);

impl Storage for Memory {
    fn read_at(&self, offset: u64, len: usize) -> io::Result<Bytes> {
        let start = usize::try_from(offset).map_err(io::Error::other)?;
        self.0
            .get(start..start + len)
            .map(|_| self.0.slice(start..start + len))
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "past the end"))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_hdf5_sample_reads_the_same_model_and_values_as_from_disk() {
    let mut compared = 0;
    for path in samples().iter().filter(|p| is_hdf5(p)) {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let local = cdm::catalog::open(path, None).expect("opens from disk");
        let (storage, size) = file(path);
        let source = match ranged(storage, size, name) {
            Ok(s) => s,
            // A variable shorter than its unlimited dimension: netCDF-C's view only.
            Err(RangedError::NotFaithful(why)) if name == "chunked.nc" => {
                assert!(why.contains("snow_depth"), "{why}");
                continue;
            }
            Err(e) => panic!("{name}: {e}"),
        };
        // Compared as text: NaN attributes (fill values) are never equal to themselves.
        assert_eq!(
            format!("{:?}", source.dataset().root),
            format!("{:?}", local.dataset().root),
            "{name}: the model differs"
        );
        for var in local.dataset().all_variables() {
            let slab = Hyperslab::full(&var.shape());
            let want = read_all(local.as_ref(), &var.path, &slab).await;
            let got = read_all(&source, &var.path, &slab).await;
            match (want, got) {
                (Ok(w), Ok(g)) => assert!(w == g, "{name} {}: values differ", var.path),
                (Err(_), Err(_)) => {}
                (w, g) => panic!("{name} {}: {:?} vs {:?}", var.path, w.err(), g.err()),
            }
        }
        compared += 1;
    }
    assert!(compared >= 6, "only {compared} files compared");
}

#[test]
fn bytes_that_are_not_hdf5_or_are_cut_short_are_not_opened() {
    let text = Bytes::from_static(b"these are not HDF5 bytes at all\n");
    let err = ranged(
        Arc::new(Memory(text.clone())),
        text.len() as u64,
        "notes.h5",
    )
    .err();
    assert!(matches!(err, Some(RangedError::NotOpened)), "{err:?}");

    let path = samples()
        .iter()
        .find(|p| p.ends_with("groups.nc"))
        .expect("groups.nc");
    let whole = std::fs::read(path).expect("reads");
    for cut in [100, 2000, whole.len() / 2] {
        let part = Bytes::from(whole[..cut].to_vec());
        let err = ranged(Arc::new(Memory(part)), cut as u64, "cut.nc").err();
        assert!(
            matches!(err, Some(RangedError::NotOpened)),
            "cut at {cut}: {err:?}"
        );
    }
}

#[test]
fn a_failing_store_is_reported_as_the_store_error() {
    #[derive(Debug)]
    struct Down;
    impl Storage for Down {
        fn read_at(&self, _: u64, _: usize) -> io::Result<Bytes> {
            Err(io::Error::other("connection refused by the object store"))
        }
    }
    match ranged(Arc::new(Down), 1 << 20, "down.nc") {
        Err(RangedError::Storage(e)) => assert!(e.to_string().contains("connection refused")),
        other => panic!("{:?}", other.err()),
    }
}
