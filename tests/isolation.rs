//! Reader processes give the server exactly what an in-process open gives: the same model, the
//! same engine layouts and the same values for every variable of every sample, whether the
//! engine or the library (in a worker) reads them; and a damaged file that aborts the library
//! costs one error, not the process.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cdm::Hyperslab;
use cdm::engine::cache::ChunkCache;
use cdm::isolation::{ReaderPool, WorkerCommand};

fn pool() -> Arc<ReaderPool> {
    Arc::new(ReaderPool::new(
        WorkerCommand {
            program: PathBuf::from(env!("CARGO_BIN_EXE_fathom")),
            args: vec!["worker".into()],
        },
        2,
        Duration::from_secs(60),
    ))
}

fn samples(tag: &str) -> (PathBuf, Vec<PathBuf>) {
    let dir = std::env::temp_dir().join(format!("fathom-isolation-{tag}-{}", std::process::id()));
    let files = testdata::write_samples(&dir).expect("samples");
    (dir, files)
}

#[test]
fn isolated_sources_match_in_process_ones() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (dir, files) = samples("match");
    let pool = pool();
    let cache = ChunkCache::new(64 << 20);
    for file in &files {
        let local = cdm::catalog::open(file, Some(&cache)).expect("in-process open");
        let isolated = cdm::isolation::open(&pool, file, Some(&cache)).expect("isolated open");
        let name = file.display();
        // Compared as text: NaN fill values are equal there, not under `==`.
        assert_eq!(
            format!("{:?}", local.dataset()),
            format!("{:?}", isolated.dataset()),
            "{name}"
        );
        assert_eq!(local.engine_layouts(), isolated.engine_layouts(), "{name}");
        for var in local.dataset().all_variables() {
            let slab = Hyperslab::full(&var.shape());
            let want = runtime
                .block_on(cdm::read_all(local.as_ref(), &var.path, &slab))
                .expect("local read");
            let got = runtime
                .block_on(cdm::read_all(isolated.as_ref(), &var.path, &slab))
                .expect("isolated read");
            assert_eq!(want, got, "{name} {}", var.path);
        }
    }
    assert!(
        pool.stats()
            .calls
            .load(std::sync::atomic::Ordering::Relaxed)
            > files.len() as u64
    );
    assert_eq!(
        pool.stats()
            .crashed
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_file_that_aborts_the_library_is_one_error_and_the_next_open_works() {
    let (dir, files) = samples("abort");
    let pool = pool();
    let types = files
        .iter()
        .find(|f| f.ends_with("types.nc"))
        .expect("types.nc");
    let bytes = std::fs::read(types).expect("read");
    // Bit flips in the middle of the file until one makes `fathom info` (an in-process open)
    // die of a signal: the damage that took the whole server down.
    let bad = dir.join("bad.nc");
    let mut found = false;
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..400 {
        let mut b = bytes.clone();
        for _ in 0..8 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let i = bytes.len() / 4 + (seed as usize) % (bytes.len() / 2);
            b[i] ^= 1 << (seed >> 60 & 7);
        }
        std::fs::write(&bad, &b).expect("write");
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_fathom"))
            .args(["info", bad.to_str().expect("utf-8 path")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("run fathom info");
        if status.code().is_none() {
            found = true;
            break;
        }
    }
    assert!(found, "no bit flips found that crash the library");
    let err = cdm::isolation::open(&pool, &bad, None).expect_err("the worker died");
    assert!(matches!(err, cdm::Error::Isolated(_)), "{err:?}");
    assert_eq!(
        pool.stats()
            .crashed
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    // A fresh worker serves the next file.
    let good = cdm::isolation::open(&pool, types, None).expect("a good file opens");
    assert!(good.dataset().all_variables().count() > 5);
    let _ = std::fs::remove_dir_all(dir);
}
