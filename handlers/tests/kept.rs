//! Kept responses (`response_cache_bytes`): a repeated constrained request is answered from
//! the response kept for that file version — byte for byte what a server that keeps nothing
//! sends — and never from an older version of the file. Values are checked against the file
//! written here.

mod common;

use std::path::{Path, PathBuf};

use common::{Reply, get, request_with, serve_with};

/// A fresh folder for one test.
fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fathom-kept-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

/// Writes `v(y=3, x=4)` as f32 `base + 10*y + x`, and a big `w(n)` of 300,000 f64.
fn write(path: &Path, base: f32) {
    let tmp = path.with_extension("tmp");
    {
        let mut f = netcdf::create(&tmp).expect("create");
        f.add_dimension("y", 3).expect("dim");
        f.add_dimension("x", 4).expect("dim");
        f.add_dimension("n", 300_000).expect("dim");
        let mut v = f.add_variable::<f32>("v", &["y", "x"]).expect("var");
        let values: Vec<f32> = (0..12u8)
            .map(|i| base + f32::from(i / 4) * 10.0 + f32::from(i % 4))
            .collect();
        v.put_values(&values, ..).expect("values");
        let mut w = f.add_variable::<f64>("w", &["n"]).expect("var");
        let big: Vec<f64> = (0..300_000u32).map(f64::from).collect();
        w.put_values(&big, ..).expect("values");
    }
    // Replaced in one rename, as a data provider's publishing step would.
    std::fs::rename(&tmp, path).expect("rename");
}

/// The f32 values after `Data:\n` and the XDR array length words of a one-variable `.dods`.
fn dods_f32(r: &Reply) -> Vec<f32> {
    let at = r
        .body
        .windows(6)
        .position(|w| w == b"Data:\n")
        .expect("Data: marker")
        + 6
        + 8;
    r.body[at..]
        .chunks_exact(4)
        .map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn config(bytes: u64) -> handlers::Config {
    handlers::Config {
        response_cache_bytes: bytes,
        ..handlers::Config::default()
    }
}

/// `(hit, stored)` from `/metrics`.
async fn kept_counts(addr: std::net::SocketAddr) -> (u64, u64) {
    let text = get(addr, "/metrics").await.text();
    let count = |result: &str| {
        let prefix = format!("fathom_kept_responses_total{{result=\"{result}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|n| n.parse().ok())
            .expect("kept counter")
    };
    (count("hit"), count("stored"))
}

#[tokio::test]
async fn a_repeated_request_is_answered_byte_for_byte_as_a_server_that_keeps_nothing() {
    let dir = folder("same");
    write(&dir.join("g.nc"), 100.0);
    let keeping = serve_with(&dir, config(64 << 20)).await;
    let plain = serve_with(&dir, config(0)).await;
    for target in [
        "/g.nc.dods?v[1:2][0:2:3]",
        "/g.nc.dods?v",
        "/g.nc.dds?v[0][1:3]",
        "/g.nc.dmr?dap4.ce=/v%5B0%5D%5B1:3%5D",
    ] {
        let first = get(keeping.addr, target).await;
        let again = get(keeping.addr, target).await;
        let reference = get(plain.addr, target).await;
        assert_eq!(first.status, 200, "{target}: {}", first.text());
        for r in [&first, &again] {
            assert_eq!(r.body, reference.body, "{target}");
            for h in ["content-type", "content-length", "etag", "last-modified"] {
                assert_eq!(r.header(h), reference.header(h), "{target} {h}");
            }
        }
    }
    assert_eq!(
        dods_f32(&get(keeping.addr, "/g.nc.dods?v[1:2][0:2:3]").await),
        [110.0, 112.0, 120.0, 122.0]
    );
    // Four responses kept, each answered once again, then the subset a third time.
    assert_eq!(kept_counts(keeping.addr).await, (5, 4));
    assert_eq!(kept_counts(plain.addr).await, (0, 0));
}

#[tokio::test]
async fn a_replaced_file_is_never_answered_from_its_older_version() {
    let dir = folder("replaced");
    let path = dir.join("g.nc");
    write(&path, 100.0);
    let server = serve_with(&dir, config(64 << 20)).await;
    let target = "/g.nc.dods?v[2][0:3]";
    let before = get(server.addr, target).await;
    assert_eq!(dods_f32(&before), [120.0, 121.0, 122.0, 123.0]);
    assert_eq!(dods_f32(&get(server.addr, target).await), dods_f32(&before));
    // A new version with other values (and a different mtime, whatever the clock's grain).
    std::thread::sleep(std::time::Duration::from_millis(20));
    write(&path, 500.0);
    let t = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_modified(t))
        .expect("mtime");
    std::thread::sleep(std::time::Duration::from_millis(20));
    let after = get(server.addr, target).await;
    assert_eq!(after.status, 200);
    assert_eq!(dods_f32(&after), [520.0, 521.0, 522.0, 523.0]);
    assert_ne!(after.header("etag"), before.header("etag"));
}

#[tokio::test]
async fn kept_responses_keep_their_validators_and_compression_policy() {
    let dir = folder("validators");
    write(&dir.join("g.nc"), 0.0);
    let server = serve_with(&dir, config(64 << 20)).await;
    let target = "/g.nc.dods?v";
    let first = get(server.addr, target).await;
    let etag = first.header("etag").expect("etag").to_owned();
    let again = request_with(server.addr, "GET", target, &[("If-None-Match", &etag)]).await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    // Binary data is sent as it is (compress_data = false), kept or not.
    let gz = request_with(server.addr, "GET", target, &[("Accept-Encoding", "gzip")]).await;
    assert_eq!(gz.status, 200);
    assert_eq!(gz.header("content-encoding"), None);
    assert_eq!(gz.body, first.body);
    let (hits, stored) = kept_counts(server.addr).await;
    assert_eq!((hits, stored), (2, 1));
}

#[tokio::test]
async fn responses_over_a_sixteenth_of_the_cache_are_not_kept_and_errors_never_are() {
    let dir = folder("limits");
    write(&dir.join("g.nc"), 0.0);
    // 2.4 MB of w against a 16 MiB cache (1 MiB items).
    let server = serve_with(&dir, config(16 << 20)).await;
    for _ in 0..2 {
        let r = get(server.addr, "/g.nc.dods?w").await;
        assert_eq!(r.status, 200);
        assert!(r.body.len() > 2_400_000, "{}", r.body.len());
    }
    for _ in 0..2 {
        let r = get(server.addr, "/g.nc.dods?v[5]").await;
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(r.text().contains("Error {"), "{}", r.text());
    }
    assert_eq!(kept_counts(server.addr).await, (0, 0));
    // A small part of w is kept.
    get(server.addr, "/g.nc.dods?w[0:9]").await;
    let r = get(server.addr, "/g.nc.dods?w[0:9]").await;
    assert_eq!(r.status, 200);
    assert_eq!(kept_counts(server.addr).await, (1, 1));
}

#[tokio::test]
async fn a_small_dap4_response_is_kept_and_sent_with_its_length() {
    let dir = folder("dap4");
    write(&dir.join("g.nc"), 7.0);
    let keeping = serve_with(&dir, config(64 << 20)).await;
    let plain = serve_with(&dir, config(0)).await;
    for target in [
        "/g.nc.dap?dap4.ce=/v%5B1:2%5D%5B0:3%5D",
        "/g.nc.dap?dap4.ce=/v%5B0%5D%5B1%5D&dap4.checksum=true",
        "/g.nc.dap?dap4.ce=/v;/w%5B0:9%5D",
    ] {
        let reference = get(plain.addr, target).await;
        assert_eq!(reference.status, 200, "{target}: {}", reference.text());
        for _ in 0..2 {
            let r = get(keeping.addr, target).await;
            assert_eq!(r.status, 200, "{target}");
            assert_eq!(r.body, reference.body, "{target}");
            assert_eq!(r.header("content-type"), reference.header("content-type"));
            assert_eq!(
                r.header("content-length"),
                Some(r.body.len().to_string().as_str())
            );
        }
    }
    // v[1:2][0:3] as sent: the DMR chunk, then one data chunk of 8 little-endian f32.
    let r = get(keeping.addr, "/g.nc.dap?dap4.ce=/v%5B1:2%5D%5B0:3%5D").await;
    let dmr_len =
        usize::from(r.body[1]) << 16 | usize::from(r.body[2]) << 8 | usize::from(r.body[3]);
    let data = &r.body[4 + dmr_len + 4..4 + dmr_len + 4 + 32];
    let values: Vec<f32> = data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(values, [17.0, 18.0, 19.0, 20.0, 27.0, 28.0, 29.0, 30.0]);
    assert_eq!(kept_counts(keeping.addr).await, (4, 3));
    // The 2.4 MB of w are over a 16 MiB cache's sixteenth: streamed as before, not kept.
    let small = serve_with(&dir, config(16 << 20)).await;
    let reference = get(plain.addr, "/g.nc.dap?dap4.ce=/w").await;
    assert!(reference.body.len() > 2_400_000);
    for _ in 0..2 {
        let big = get(small.addr, "/g.nc.dap?dap4.ce=/w").await;
        assert_eq!(big.status, 200);
        assert_eq!(big.header("content-length"), None);
        assert_eq!(big.body, reference.body);
    }
    assert_eq!(kept_counts(small.addr).await, (0, 0));
}
