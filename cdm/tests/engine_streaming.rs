//! Streaming from the engine: a consumer that stops early stops the reads, and the shared cache
//! serves a second request without decoding again.

use std::sync::atomic::Ordering;

use cdm::engine::cache::ChunkCache;
use cdm::formats::netcdf::NetcdfSource;
use cdm::{Hyperslab, Source, read_all};
use futures::StreamExt;

/// A netCDF-4 file with one deflated variable of 200 chunks (each 40 × 1000 f32 = 160 kB).
fn write_chunked(path: &std::path::Path) {
    let mut f = netcdf::create(path).expect("create");
    f.add_dimension("t", 200).expect("dim");
    f.add_dimension("y", 40).expect("dim");
    f.add_dimension("x", 1000).expect("dim");
    let mut v = f.add_variable::<f32>("v", &["t", "y", "x"]).expect("var");
    v.set_chunking(&[1, 40, 1000]).expect("chunking");
    v.set_compression(4, true).expect("deflate");
    let row: Vec<f32> = (0..40_000).map(|i| (i as f32 * 0.01).sin()).collect();
    for t in 0..200 {
        v.put_values(&row, [t..t + 1, 0..40, 0..1000])
            .expect("write");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_stream_stops_decoding_and_the_cache_serves_repeats() {
    let dir = std::env::temp_dir().join(format!("fathom-streaming-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("chunked.nc");
    write_chunked(&path);

    let cache = ChunkCache::new(512 << 20);
    let src = NetcdfSource::open(&path, Some(&cache)).expect("opens");
    assert!(src.uses_engine("/v"));
    let slab = Hyperslab::full(&[200, 40, 1000]);

    // Take one piece of the 200, then walk away.
    let mut stream = src.read("/v", &slab);
    let first = stream.next().await.expect("a piece").expect("reads");
    assert!(!first.is_empty());
    drop(stream);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let decoded = cache.stats().misses.load(Ordering::Relaxed);
    assert!(
        decoded <= 16,
        "{decoded} chunks were decoded after the reader left after one piece"
    );

    // A whole read decodes every chunk once; a repeat decodes none.
    let whole = read_all(&src, "/v", &slab).await.expect("reads");
    assert_eq!(whole.len(), 200 * 40 * 1000 * 4);
    let after_first = cache.stats().misses.load(Ordering::Relaxed);
    assert!(after_first <= 200, "{after_first} decodes for 200 chunks");
    let again = read_all(&src, "/v", &slab).await.expect("reads");
    assert_eq!(again, whole);
    assert_eq!(cache.stats().misses.load(Ordering::Relaxed), after_first);
    std::fs::remove_dir_all(&dir).ok();
}
