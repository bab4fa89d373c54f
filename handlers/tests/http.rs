//! The HTTP surface as an operator and a browser app meet it: compression, conditional GETs,
//! HEAD, CORS, Range downloads, the response-size limit, request slots, health, metrics,
//! catalogs, JSON listings, dataset pages and graceful shutdown. The server runs in-process on
//! 127.0.0.1:0; expected bytes come from the files on disk or from the identity response.

mod common;

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use common::{get, request, request_with, serve, serve_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn root() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fathom-http-test-{}", std::process::id()));
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        testdata::write_samples(&dir.join("samples")).expect("samples");
        std::fs::create_dir_all(dir.join("empty")).expect("dir");
        std::fs::write(dir.join("notes.txt"), b"not a dataset\n").expect("file");
        // A big file for downloads that outlast their request (slots, shutdown).
        let big: Vec<u8> = (0..48u32 << 20).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.join("big.bin"), big).expect("file");
    });
    dir
}

fn config() -> handlers::Config {
    handlers::Config::default()
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

fn inflate(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(b)
        .read_to_end(&mut out)
        .expect("valid zlib (HTTP deflate)");
    out
}

#[tokio::test]
async fn text_responses_are_compressed_when_asked_and_decompress_to_the_same_bytes() {
    let server = serve(&root()).await;
    for path in [
        "/samples/groups.nc.das",
        "/samples/groups.nc.dds",
        "/samples/classic.nc.ascii?temperature",
        "/samples/catalog.xml",
        "/samples/",
        "/samples/classic.nc.html",
    ] {
        let plain = get(server.addr, path).await;
        assert_eq!(plain.status, 200, "{path}");
        assert_eq!(plain.header("content-encoding"), None, "{path}");
        assert!(plain.body.len() > 1024, "{path} too small to be compressed");

        let gz = request_with(server.addr, "GET", path, &[("Accept-Encoding", "gzip")]).await;
        assert_eq!(gz.status, 200);
        assert_eq!(gz.header("content-encoding"), Some("gzip"), "{path}");
        assert!(
            gz.body.len() < plain.body.len(),
            "{path}: gzip did not shrink"
        );
        assert_eq!(gunzip(&gz.body), plain.body, "{path}");

        let df = request_with(server.addr, "GET", path, &[("Accept-Encoding", "deflate")]).await;
        assert_eq!(df.header("content-encoding"), Some("deflate"), "{path}");
        assert_eq!(inflate(&df.body), plain.body, "{path}");
    }
    // DAP2 headers survive compression.
    let gz = request_with(
        server.addr,
        "GET",
        "/samples/groups.nc.das",
        &[("Accept-Encoding", "gzip")],
    )
    .await;
    assert_eq!(gz.header("content-description"), Some("dods_das"));
    assert_eq!(gz.header("xdods-server"), Some("dods/3.2"));
}

#[tokio::test]
async fn binary_data_and_files_are_not_compressed_unless_configured() {
    let server = serve(&root()).await;
    let gzip = [("Accept-Encoding", "gzip, deflate")];
    let dods = request_with(server.addr, "GET", "/samples/chunked.nc.dods?precip", &gzip).await;
    assert_eq!(dods.status, 200);
    assert_eq!(dods.header("content-encoding"), None);
    let length: usize = dods
        .header("content-length")
        .expect("length")
        .parse()
        .expect("n");
    assert_eq!(dods.body.len(), length);
    let file = request_with(server.addr, "GET", "/samples/chunked.nc", &gzip).await;
    assert_eq!(file.header("content-encoding"), None);

    let mut c = config();
    c.compress_data = true;
    let server = serve_with(&root(), c).await;
    let gz = request_with(server.addr, "GET", "/samples/chunked.nc.dods?precip", &gzip).await;
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&gz.body), dods.body);
    // Raw files stay as they are even then (they are often compressed already, and ranges
    // must address the file's bytes).
    let file = request_with(server.addr, "GET", "/samples/chunked.nc", &gzip).await;
    assert_eq!(file.header("content-encoding"), None);
}

#[tokio::test]
async fn a_repeat_with_the_validator_is_304_without_a_body() {
    let server = serve(&root()).await;
    for path in [
        "/samples/classic.nc.das",
        "/samples/classic.nc.dds?temperature",
        "/samples/classic.nc.dods?temperature[0][0:1:2][0]",
        "/samples/classic.nc",
        "/samples/",
        "/samples/catalog.xml",
        "/samples/classic.nc.html",
    ] {
        let first = get(server.addr, path).await;
        assert_eq!(first.status, 200, "{path}");
        let etag = first.header("etag").expect("an ETag").to_owned();
        let again = request_with(server.addr, "GET", path, &[("If-None-Match", &etag)]).await;
        assert_eq!(again.status, 304, "{path}");
        assert!(again.body.is_empty());
        assert_eq!(again.header("etag"), Some(etag.as_str()));
        // Another tag is not a match.
        let other = request_with(server.addr, "GET", path, &[("If-None-Match", "\"nope\"")]).await;
        assert_eq!(other.status, 200, "{path}");
        assert_eq!(other.body, first.body, "{path}");
        if let Some(lm) = first.header("last-modified") {
            let r = request_with(server.addr, "GET", path, &[("If-Modified-Since", lm)]).await;
            assert_eq!(r.status, 304, "{path}");
            let old = "Mon, 01 Jan 2001 00:00:00 GMT";
            let r = request_with(server.addr, "GET", path, &[("If-Modified-Since", old)]).await;
            assert_eq!(r.status, 200, "{path}");
        }
    }
    // A different constraint is a different response, with another tag.
    let a = get(server.addr, "/samples/classic.nc.dds?lat").await;
    let b = get(server.addr, "/samples/classic.nc.dds?lon").await;
    assert_ne!(a.header("etag"), b.header("etag"));
}

#[tokio::test]
async fn head_answers_the_headers_of_get() {
    let server = serve(&root()).await;
    for path in [
        "/samples/classic.nc.das",
        "/samples/chunked.nc.dods?precip[0:1:1][0:1:9][0:1:9]",
        "/samples/groups.nc",
        "/samples/",
    ] {
        let g = get(server.addr, path).await;
        let h = request(server.addr, "HEAD", path).await;
        assert_eq!(h.status, 200, "{path}");
        assert!(h.body.is_empty(), "{path}");
        assert_eq!(
            h.header("content-length"),
            Some(g.body.len().to_string().as_str()),
            "{path}"
        );
        assert_eq!(h.header("content-type"), g.header("content-type"));
        assert_eq!(h.header("etag"), g.header("etag"));
    }
}

#[tokio::test]
async fn cors_is_off_by_default_and_answers_preflights_when_configured() {
    let origin = [("Origin", "https://app.example")];
    let server = serve(&root()).await;
    let r = request_with(server.addr, "GET", "/samples/classic.nc.das", &origin).await;
    assert_eq!(r.header("access-control-allow-origin"), None);

    let mut c = config();
    c.cors_origins = vec!["https://app.example".into()];
    let server = serve_with(&root(), c).await;
    let r = request_with(server.addr, "GET", "/samples/classic.nc.das", &origin).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert!(
        r.header("access-control-expose-headers")
            .is_some_and(|h| h.contains("XDODS-Server") && h.contains("Content-Description"))
    );
    assert!(
        r.headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("vary") && v.contains("Origin"))
    );
    // Errors carry it too, so a browser app can read the DAP error body.
    let r = request_with(server.addr, "GET", "/samples/nope.nc.dds", &origin).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    // The preflight.
    let pre = request_with(
        server.addr,
        "OPTIONS",
        "/samples/classic.nc.dods",
        &[
            ("Origin", "https://app.example"),
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "range, if-none-match"),
        ],
    )
    .await;
    assert_eq!(pre.status, 204);
    assert_eq!(
        pre.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert!(
        pre.header("access-control-allow-methods")
            .is_some_and(|m| m.contains("GET"))
    );
    assert_eq!(
        pre.header("access-control-allow-headers"),
        Some("range, if-none-match")
    );
    assert!(pre.header("access-control-max-age").is_some());
    // Another origin gets no permission.
    let pre = request_with(
        server.addr,
        "OPTIONS",
        "/samples/classic.nc.dods",
        &[
            ("Origin", "https://evil.example"),
            ("Access-Control-Request-Method", "GET"),
        ],
    )
    .await;
    assert_eq!(pre.header("access-control-allow-origin"), None);
    let r = request_with(
        server.addr,
        "GET",
        "/samples/classic.nc.das",
        &[("Origin", "https://evil.example")],
    )
    .await;
    assert_eq!(r.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn ranges_of_a_file_are_its_bytes() {
    let server = serve(&root()).await;
    let path = root().join("samples/chunked.nc");
    let file = std::fs::read(&path).expect("read");
    let len = file.len();
    let whole = get(server.addr, "/samples/chunked.nc").await;
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    assert_eq!(whole.body, file);
    for (range, start, end) in [
        ("bytes=0-99", 0, 100),
        ("bytes=1000-4999", 1000, 5000),
        ("bytes=-512", len - 512, len),
        (&format!("bytes={}-", len - 10), len - 10, len),
        (&format!("bytes=100-{}", len + 1000), 100, len),
    ] {
        let r = request_with(
            server.addr,
            "GET",
            "/samples/chunked.nc",
            &[("Range", range)],
        )
        .await;
        assert_eq!(r.status, 206, "{range}");
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes {start}-{}/{len}", end - 1).as_str()),
            "{range}"
        );
        assert_eq!(r.body, &file[start..end], "{range}");
    }
    let r = request_with(
        server.addr,
        "GET",
        "/samples/chunked.nc",
        &[("Range", &format!("bytes={len}-"))],
    )
    .await;
    assert_eq!(r.status, 416);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes */{len}").as_str())
    );
    // If-Range with the current tag gets the range; with an old one, the whole file.
    let etag = whole.header("etag").expect("etag").to_owned();
    let r = request_with(
        server.addr,
        "GET",
        "/samples/chunked.nc",
        &[("Range", "bytes=0-9"), ("If-Range", &etag)],
    )
    .await;
    assert_eq!((r.status, r.body.as_slice()), (206, &file[..10]));
    let r = request_with(
        server.addr,
        "GET",
        "/samples/chunked.nc",
        &[("Range", "bytes=0-9"), ("If-Range", "\"old\"")],
    )
    .await;
    assert_eq!((r.status, r.body.len()), (200, len));
}

async fn metric(addr: std::net::SocketAddr, line_start: &str) -> u64 {
    let text = get(addr, "/metrics").await.text();
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_too_large_request_is_413_before_any_data_is_read() {
    let mut c = config();
    c.max_response_bytes = 100_000;
    let server = serve_with(&root(), c).await;
    let misses = "fathom_cache_misses_total{cache=\"chunks\"}";
    // A small request is served, and reading it decodes chunks (the counter works).
    let before = metric(server.addr, misses).await;
    let ok = get(
        server.addr,
        "/samples/chunked.nc.dods?precip[0][0:1:9][0:1:9]",
    )
    .await;
    assert_eq!(ok.status, 200);
    assert!(metric(server.addr, misses).await > before);

    // wind_speed is 10 × 45 × 90 floats: about 162 kB.
    let before = metric(server.addr, misses).await;
    let r = get(server.addr, "/samples/chunked.nc.dods?wind_speed").await;
    assert_eq!(r.status, 413);
    assert_eq!(r.header("content-description"), Some("dods_error"));
    let text = r.text();
    assert!(text.starts_with("Error {"), "{text}");
    assert!(text.contains("code = 413;"), "{text}");
    assert!(text.contains("limit of 100000 bytes"), "{text}");
    assert!(text.contains("chunked.nc.dods?var[0:1:9]"), "{text}");
    assert_eq!(
        metric(server.addr, misses).await,
        before,
        "data was read for a refused request"
    );
    assert_eq!(
        metric(server.addr, "fathom_requests_too_large_total").await,
        1
    );
    // The whole dataset is too large as well; a page about it is not data and is served.
    assert_eq!(
        get(server.addr, "/samples/chunked.nc.dods").await.status,
        413
    );
    assert_eq!(
        get(server.addr, "/samples/chunked.nc.html").await.status,
        200
    );
    assert_eq!(
        get(server.addr, "/samples/chunked.nc.das").await.status,
        200
    );

    // DAP4 is limited the same way, before any read (the multi-variable answer would otherwise
    // read everything once to announce its checksums), with a DAP4 error document.
    let before = metric(server.addr, misses).await;
    for target in [
        "/samples/chunked.nc.dap?dap4.ce=/wind_speed",
        "/samples/chunked.nc.dap?dap4.ce=/precip;/wind_speed&dap4.checksum=true",
        "/samples/chunked.nc.dap",
    ] {
        let r = get(server.addr, target).await;
        assert_eq!(r.status, 413, "{target}");
        let text = r.text();
        assert!(text.contains("<Error httpcode=\"413\""), "{text}");
        assert!(text.contains("chunked.nc.dap?dap4.ce=/var[0:9]"), "{text}");
    }
    assert_eq!(
        metric(server.addr, misses).await,
        before,
        "data was read for DAP4"
    );
    let small = get(
        server.addr,
        "/samples/chunked.nc.dap?dap4.ce=/precip%5B0%5D%5B0:9%5D%5B0:9%5D",
    )
    .await;
    assert_eq!(small.status, 200);
}

#[tokio::test]
async fn health_and_metrics() {
    let server = serve(&root()).await;
    let h = get(server.addr, "/healthz").await;
    assert_eq!((h.status, h.text().as_str()), (200, "ok\n"));
    let _ = get(server.addr, "/samples/classic.nc.das").await;
    let _ = get(server.addr, "/samples/classic.nc.das").await;
    let _ = get(server.addr, "/samples/nope.nc.das").await;
    let text = get(server.addr, "/metrics").await.text();
    assert!(
        text.contains("# TYPE fathom_requests_total counter"),
        "{text}"
    );
    assert!(
        text.contains("fathom_requests_total{kind=\"das\",status=\"200\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("fathom_requests_total{kind=\"das\",status=\"404\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("fathom_request_duration_seconds_count{kind=\"das\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("fathom_cache_misses_total{cache=\"catalog\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("fathom_cache_hits_total{cache=\"catalog\"} 1"),
        "{text}"
    );
    let key = "fathom_response_bytes_total{kind=\"das\"}";
    let before = metric(server.addr, key).await;
    let das_len = get(server.addr, "/samples/classic.nc.das").await.body.len() as u64;
    assert_eq!(metric(server.addr, key).await - before, das_len);
}

#[tokio::test]
async fn folders_list_as_json_and_catalogs_cover_every_folder() {
    let server = serve(&root()).await;
    let json = get(server.addr, "/samples/?format=json").await;
    assert_eq!(json.header("content-type"), Some("application/json"));
    let v: serde_json::Value = serde_json::from_slice(&json.body).expect("json");
    let entries = v["entries"].as_array().expect("entries");
    for name in testdata::sample_file_names() {
        let e = entries
            .iter()
            .find(|e| e["name"] == *name)
            .unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(e["kind"], "dataset");
        let size = std::fs::metadata(root().join("samples").join(name))
            .expect("stat")
            .len();
        assert_eq!(e["size"], size);
        assert_eq!(e["links"]["dds"], format!("{name}.dds"));
    }
    let by_accept = request_with(server.addr, "GET", "/", &[("Accept", "application/json")]).await;
    let v: serde_json::Value = serde_json::from_slice(&by_accept.body).expect("json");
    let kinds: Vec<(String, String)> = v["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap_or("").to_owned(),
                e["kind"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&("samples".into(), "folder".into())),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("notes.txt".into(), "file".into())),
        "{kinds:?}"
    );

    let root_catalog = get(server.addr, "/catalog.xml").await.text();
    assert!(
        root_catalog.contains("xlink:href=\"samples/catalog.xml\""),
        "{root_catalog}"
    );
    assert!(root_catalog.contains("xlink:href=\"empty/catalog.xml\""));
    assert!(!root_catalog.contains("notes.txt"));
    let empty = get(server.addr, "/empty/catalog.xml").await;
    assert_eq!(empty.status, 200);
    let html = get(server.addr, "/samples/catalog.html").await;
    assert!(html.text().contains("href=\"classic.nc.html\""));
    assert_eq!(get(server.addr, "/nope/catalog.xml").await.status, 404);
}

#[tokio::test]
async fn dataset_pages_describe_the_dataset() {
    let server = serve(&root()).await;
    let form = get(server.addr, "/samples/classic.nc.html").await;
    assert_eq!(form.status, 200);
    assert!(
        form.header("content-type")
            .is_some_and(|t| t.starts_with("text/html"))
    );
    let text = form.text();
    for needle in [
        "data-name=\"temperature\"",
        "data-len=\"6\"",
        "value=\"0:1:3\"",
        "id=\"get-ascii\"",
        "Air temperature at 2 m",
    ] {
        assert!(text.contains(needle), "{needle} missing from the form");
    }
    let info = get(server.addr, "/samples/classic.nc.info").await.text();
    assert!(info.contains("float temperature(time, lat, lon)"), "{info}");
    assert!(
        info.contains("Float32 temperature[time = 4][lat = 6][lon = 8]"),
        "{info}"
    );
    let help = get(server.addr, "/samples/classic.nc.help").await;
    assert_eq!(help.status, 200);
    assert!(help.text().contains("classic.nc.dods"));
    assert_eq!(get(server.addr, "/samples/nope.nc.html").await.status, 404);
}

/// Starts a GET of a big file and reads its head, leaving the body in flight. Returns the
/// stream, the body bytes already read, and the announced length.
async fn start_download(
    addr: std::net::SocketAddr,
    path: &str,
) -> (tokio::net::TcpStream, usize, usize) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("send");
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf).await.expect("read");
        assert!(n > 0, "connection closed before the head");
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            let text = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
            assert!(text.starts_with("http/1.1 200"), "{text}");
            let length = text
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .expect("content-length");
            return (s, head.len() - end - 4, length);
        }
    }
}

#[tokio::test]
async fn a_running_download_holds_its_slot_and_others_wait_then_get_503() {
    let mut c = config();
    c.max_concurrent_requests = 1;
    c.request_timeout_secs = 0.3;
    let server = serve_with(&root(), c).await;
    let (download, _, _) = start_download(server.addr, "/big.bin").await;
    let r = get(server.addr, "/samples/classic.nc.das").await;
    assert_eq!(r.status, 503);
    assert!(r.text().starts_with("Error {"), "{}", r.text());
    assert!(r.header("retry-after").is_some());
    drop(download);
    // Once the download is gone its slot is free again.
    let mut ok = false;
    for _ in 0..50 {
        if get(server.addr, "/samples/classic.nc.das").await.status == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ok, "the slot was not given back");
}

#[tokio::test]
async fn shutdown_lets_a_running_download_finish() {
    let mut server = serve(&root()).await;
    let (mut s, already, length) = start_download(server.addr, "/big.bin").await;
    server.shutdown();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // New connections are refused once the listener is gone…
    assert!(
        tokio::net::TcpStream::connect(server.addr).await.is_err(),
        "still accepting after shutdown"
    );
    // …while the running download completes.
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).await.expect("read");
    let want = std::fs::metadata(root().join("big.bin"))
        .expect("stat")
        .len() as usize;
    assert_eq!(length, want);
    assert_eq!(already + rest.len(), want, "the download was cut short");
}

#[test]
fn every_config_key_is_documented_in_the_readme() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README");
    let section = readme
        .split("## Configuration")
        .nth(1)
        .expect("a Configuration section");
    for key in handlers::config::KEYS {
        assert!(
            section.contains(&format!("\n{key} = ")) || section.contains(&format!("\n# {key} = ")),
            "{key} is not in the README's example config"
        );
        assert!(
            section.contains(&format!("FATHOM_{}", key.to_ascii_uppercase())),
            "FATHOM_{} is not documented",
            key.to_ascii_uppercase()
        );
    }
}

#[tokio::test]
async fn kept_metadata_responses_are_those_of_the_file_version_on_disk() {
    // The unconstrained `.das` / `.dds` / `.dmr` of a file version are kept whole after the
    // first request; a replaced file must be answered anew.
    let dir = std::env::temp_dir().join(format!("fathom-kept-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let samples = root().join("samples");
    std::fs::copy(samples.join("classic.nc"), dir.join("d.nc")).expect("copy");
    // References: the same name in folders of their own, read by servers that start fresh.
    let reference = |sample: &str| {
        let d = dir.join(format!("ref-{sample}"));
        std::fs::create_dir_all(&d).expect("dir");
        std::fs::copy(samples.join(sample), d.join("d.nc")).expect("copy");
        d
    };
    let (classic, chunked) = (reference("classic.nc"), reference("chunked.nc"));
    let server = serve(&dir).await;
    let reference = serve(&classic).await;
    let ask = |addr, suffix: &str| {
        let path = format!("/{suffix}");
        async move { get(addr, &path).await }
    };
    for suffix in ["das", "dds", "dmr"] {
        let first = ask(server.addr, &format!("d.nc.{suffix}")).await;
        let second = ask(server.addr, &format!("d.nc.{suffix}")).await;
        let fresh = ask(reference.addr, &format!("d.nc.{suffix}")).await;
        assert_eq!(first.status, 200, "{suffix}");
        assert!(!first.body.is_empty(), "{suffix}");
        assert_eq!(second.body, first.body, "{suffix}");
        assert_eq!(first.body, fresh.body, "{suffix}");
        let without_date = |r: &common::Reply| {
            let mut h: Vec<_> = r
                .headers
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("date"))
                .cloned()
                .collect();
            h.sort();
            h
        };
        assert_eq!(without_date(&second), without_date(&first), "{suffix}");
        assert_eq!(
            first.header("content-length"),
            Some(first.body.len().to_string().as_str())
        );
    }
    // Another dataset under the same name, with another modification time.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let tmp = dir.join("d.nc.new");
    std::fs::copy(samples.join("chunked.nc"), &tmp).expect("copy");
    std::fs::rename(&tmp, dir.join("d.nc")).expect("replace");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let reference = serve(&chunked).await;
    for suffix in ["das", "dds", "dmr"] {
        let now = ask(server.addr, &format!("d.nc.{suffix}")).await;
        let fresh = ask(reference.addr, &format!("d.nc.{suffix}")).await;
        assert_eq!(now.status, 200, "{suffix}");
        assert_eq!(now.body, fresh.body, "{suffix} after the file was replaced");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
