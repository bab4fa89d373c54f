//! DAP2 over HTTP: the server runs in-process on 127.0.0.1:0 and is asked what clients ask;
//! statuses, headers, error bodies, exact lengths and constrained DDSs are checked, and data
//! values are compared with the netcdf crate reading the same file.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn bes_data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/conformance/bes/modules/netcdf_handler/data/nc4_test_files/..")
}

/// Serves a fresh folder holding copies of the named bes data files.
async fn server(files: &[&str]) -> (String, tempdir::TempDir) {
    let dir = tempdir::TempDir::new();
    for f in files {
        std::fs::copy(bes_data().join(f), dir.path().join(f)).expect("copy");
    }
    let state = Arc::new(handlers::AppState::new(dir.path()).expect("state"));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(handlers::run(listener, state, std::future::pending()));
    (format!("{addr}"), dir)
}

/// A tiny temporary folder, removed on drop.
mod tempdir {
    use std::path::{Path, PathBuf};

    pub(crate) struct TempDir(PathBuf);

    impl TempDir {
        pub(crate) fn new() -> Self {
            static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let p = std::env::temp_dir().join(format!("fathom-dap2-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&p).expect("mkdir");
            Self(p)
        }

        pub(crate) fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `GET target` over a fresh HTTP/1.1 connection.
async fn get(addr: &str, target: &str) -> Reply {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let req = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

fn dap2_headers(r: &Reply, description: &str) {
    assert_eq!(r.header("Content-Description"), Some(description));
    assert_eq!(r.header("XDODS-Server"), Some("dods/3.2"));
    assert!(
        r.header("XOPeNDAP-Server")
            .is_some_and(|v| v.starts_with("fathom/"))
    );
    assert_eq!(r.header("XDAP"), Some("3.2"));
    assert!(r.header("Content-Type").is_some());
    if r.status == 200 {
        // The file's modification time; an error has no such date.
        assert!(
            r.header("Last-Modified")
                .is_some_and(|v| v.ends_with(" GMT"))
        );
    }
    assert_eq!(
        r.header("Content-Length")
            .and_then(|v| v.parse::<usize>().ok()),
        Some(r.body.len()),
        "Content-Length is exact"
    );
}

#[tokio::test]
async fn every_response_carries_the_dap2_headers() {
    let (addr, _dir) = server(&["fnoc1.nc", "test.nc"]).await;
    for (suffix, description) in [
        ("dds", "dods_dds"),
        ("das", "dods_das"),
        ("dods", "dods_data"),
        ("ascii", "dods_data"),
        ("asc", "dods_data"),
        ("ver", "dods_version"),
        ("version", "dods_version"),
    ] {
        for file in ["fnoc1.nc", "test.nc"] {
            let r = get(&addr, &format!("/{file}.{suffix}")).await;
            assert_eq!(r.status, 200, "{file}.{suffix}");
            dap2_headers(&r, description);
        }
    }
    let r = get(&addr, "/fnoc1.nc.dds?nosuch").await;
    assert_eq!(r.status, 400);
    dap2_headers(&r, "dods_error");
}

#[tokio::test]
async fn errors_are_dap2_error_bodies_with_the_right_status() {
    let (addr, _dir) = server(&["fnoc1.nc", "coads_climatology.nc"]).await;
    let cases = [
        ("/fnoc1.nc.dods?nosuch", 400, "not in the dataset"),
        ("/fnoc1.nc.dods?u[0", 400, "malformed"),
        ("/fnoc1.nc.dods?u[0:0:3]", 400, "stride"),
        ("/fnoc1.nc.dods?u[4:3]", 400, "greater than stop"),
        ("/fnoc1.nc.dods?u[16]", 400, "out of range"),
        ("/fnoc1.nc.dods?u[0][0][0][0]", 400, "dimension"),
        ("/fnoc1.nc.dods?lat.x", 400, "no member"),
        ("/fnoc1.nc.dods?u&u%3E1", 400, "Sequences"),
        ("/fnoc1.nc.dods?scale(u,2)", 400, "unknown function"),
        (
            "/fnoc1.nc.dods?nosuchfn(u)",
            400,
            "no DAP2 server-side functions",
        ),
        (
            "/coads_climatology.nc.dds?SST.nosuch",
            400,
            "not in the dataset",
        ),
        ("/nosuch.nc.dds", 404, "no such dataset"),
        ("/nosuch.nc.dods?u", 404, "no such dataset"),
    ];
    for (target, status, needle) in cases {
        let r = get(&addr, target).await;
        assert_eq!(r.status, status, "{target}");
        let text = r.text();
        assert!(
            text.starts_with(&format!("Error {{\n    code = {status};\n    message = \"")),
            "{target}: {text}"
        );
        assert!(text.ends_with("\";\n};\n"), "{target}: {text}");
        assert!(text.contains(needle), "{target}: {text}");
    }
    // A name full of markup is never repeated back (libdap expr-testsuite test.1.error).
    let r = get(
        &addr,
        "/fnoc1.nc.dds?d1rox%253cscript%253ealert%25281%2529%253c%252fscript%253ed55je=1",
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(!r.text().contains("script"), "{}", r.text());
}

#[tokio::test]
async fn constrained_dds_is_what_libdap_prints() {
    let (addr, _dir) = server(&["coads_climatology.nc", "fnoc1.nc"]).await;
    let dds = |ce: &'static str| {
        let addr = addr.clone();
        async move {
            let r = get(&addr, &format!("/coads_climatology.nc.dds?{ce}")).await;
            assert_eq!(r.status, 200, "{ce}: {}", r.text());
            r.text()
        }
    };
    // A Grid subset by index subsets its maps.
    assert_eq!(
        dds("SST%5B0:1%5D%5B0:2:10%5D%5B3%5D").await,
        "Dataset {\n    Grid {\n      Array:\n        Float32 SST[TIME = 2][COADSY = 6][COADSX = 1];\n      Maps:\n        Float64 TIME[TIME = 2];\n        Float64 COADSY[COADSY = 6];\n        Float64 COADSX[COADSX = 1];\n    } SST;\n} coads_climatology.nc;\n"
    );
    // Only the array part: printed as a Structure (libdap Grid::print_decl).
    assert_eq!(
        dds("SST.SST[0]").await,
        "Dataset {\n    Structure {\n        Float32 SST[TIME = 1][COADSY = 90][COADSX = 180];\n    } SST;\n} coads_climatology.nc;\n"
    );
    // A map alone, and variables in dataset order whatever the clause order.
    assert_eq!(
        dds("AIRT.COADSY[1:2],COADSX[0:1:1]").await,
        "Dataset {\n    Float64 COADSX[COADSX = 2];\n    Structure {\n        Float64 COADSY[COADSY = 2];\n    } AIRT;\n} coads_climatology.nc;\n"
    );
    // Fewer brackets than dimensions (pydap), `*`, and a repeated name keeping its hyperslab.
    assert_eq!(
        dds("SST[1],SST").await,
        dds("SST%5B1:1:1%5D%5B*%5D%5B0:179%5D").await
    );
}

/// Parses the XDR of a `.dods` holding one Int16 array: the values.
fn int16_values(body: &[u8]) -> Vec<i16> {
    let start = body
        .windows(7)
        .position(|w| w == b"\nData:\n")
        .expect("separator")
        + 7;
    let xdr = &body[start..];
    let n = u32::from_be_bytes(xdr[0..4].try_into().expect("count")) as usize;
    assert_eq!(&xdr[0..4], &xdr[4..8], "the count is written twice");
    assert_eq!(xdr.len(), 8 + 4 * n);
    xdr[8..]
        .chunks(4)
        .map(|c| i32::from_be_bytes(c.try_into().expect("4 bytes")) as i16)
        .collect()
}

#[tokio::test]
async fn strided_hyperslabs_return_the_files_values() {
    let (addr, _dir) = server(&["fnoc1.nc"]).await;
    let file = netcdf::open(bes_data().join("fnoc1.nc")).expect("open");
    let u = file.variable("u").expect("u");
    for (ce, extents) in [
        (
            "u[1:2:9][3][0:4:20]",
            (1..10).step_by(2).collect::<Vec<_>>(),
        ),
        ("u%5b15%5d%5b16%5d%5b20%5d", vec![15]),
    ] {
        let r = get(&addr, &format!("/fnoc1.nc.dods?{ce}")).await;
        assert_eq!(r.status, 200, "{ce}");
        dap2_headers(&r, "dods_data");
        let got = int16_values(&r.body);
        let mut want = Vec::new();
        for t in &extents {
            let (lat, lons): (usize, Vec<usize>) = if ce.contains("%5b") {
                (16, vec![20])
            } else {
                (3, (0..=20).step_by(4).collect())
            };
            for lon in lons {
                let v: Vec<i16> = u
                    .get_values([*t..*t + 1, lat..lat + 1, lon..lon + 1])
                    .expect("read");
                want.extend(v);
            }
        }
        assert_eq!(got, want, "{ce}");
    }
}

#[tokio::test]
async fn ascii_prints_rows_like_hyrax() {
    let (addr, _dir) = server(&["fnoc1.nc"]).await;
    let r = get(&addr, "/fnoc1.nc.ascii?lat,u[0][0:1][0:2]").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.text(),
        "Dataset: fnoc1.nc\nu[0][0], -1728, -2449, -3099\nu[0][1], -1686, -1985, -2508\nlat, 50, 47.5, 45, 42.5, 40, 37.5, 35, 32.5, 30, 27.5, 25, 22.5, 20, 17.5, 15, 12.5, 10\n"
    );
}
