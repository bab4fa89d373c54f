//! The metadata cache: one open per file version, and a file rewritten in place is re-read.

use std::path::Path;
use std::sync::Arc;

use cdm::{Catalog, Hyperslab, read_all};

fn write_classic(path: &Path, values: &[f32]) {
    let mut f = netcdf::create_with(path, netcdf::Options::CLASSIC).expect("create");
    f.add_dimension("x", values.len()).expect("dim");
    f.add_variable::<f32>("v", &["x"]).expect("var");
    f.enddef().expect("leave define mode");
    let mut v = f.variable_mut("v").expect("var");
    v.put_values(values, ..).expect("values");
    f.close().expect("close");
}

fn floats(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_file_is_read_again_and_unchanged_files_are_shared() {
    let dir = std::env::temp_dir().join(format!("fathom-catalog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("data.nc");
    write_classic(&path, &[1.0, 2.0, 3.0]);

    let catalog = Catalog::new(16, 1 << 20);
    let first = catalog.open(&path).await.expect("opens");
    let again = catalog.open(&path).await.expect("opens");
    assert!(
        Arc::ptr_eq(&first, &again),
        "an unchanged file is served from the cache"
    );
    let slab = Hyperslab::full(&[3]);
    let v = floats(
        &read_all(&**first.source(), "/v", &slab)
            .await
            .expect("reads"),
    );
    assert_eq!(v, [1.0, 2.0, 3.0]);
    drop((first, again));

    // Rewrite in place with different values and length; make sure the mtime moves on even on
    // file systems with coarse timestamps.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::remove_file(&path).ok();
    write_classic(&path, &[7.0, 8.0, 9.0, 10.0]);
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(2);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_modified(later))
        .expect("touch");

    let fresh = catalog.open(&path).await.expect("opens");
    assert_eq!(
        fresh.dataset().variable("/v").map(|v| v.shape()),
        Some(vec![4])
    );
    let v = floats(
        &read_all(&**fresh.source(), "/v", &Hyperslab::full(&[4]))
            .await
            .expect("reads"),
    );
    assert_eq!(v, [7.0, 8.0, 9.0, 10.0]);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn files_that_are_not_datasets_are_refused() {
    let dir = std::env::temp_dir().join(format!("fathom-catalog-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let catalog = Catalog::new(16, 1 << 20);
    let text = dir.join("notes.nc");
    std::fs::write(&text, b"this is not netCDF").expect("write");
    assert!(matches!(
        catalog.open(&text).await,
        Err(cdm::Error::UnknownFormat)
    ));
    // A truncated netCDF-3 header: the magic is right, the rest is missing.
    let truncated = dir.join("truncated.nc");
    std::fs::write(&truncated, b"CDF\x01\x00\x00").expect("write");
    assert!(catalog.open(&truncated).await.is_err());
    // A truncated HDF5 file.
    let hdf = dir.join("truncated.h5");
    std::fs::write(&hdf, b"\x89HDF\r\n\x1a\n\x00\x00\x00").expect("write");
    assert!(catalog.open(&hdf).await.is_err());
    assert!(catalog.open(&dir.join("missing.nc")).await.is_err());
    std::fs::remove_dir_all(&dir).ok();
}
