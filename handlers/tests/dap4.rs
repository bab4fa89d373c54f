//! DAP4 over HTTP, as a client meets it: `.dmr` / `.dmr.xml` / `.dap` / `.dsr` on the samples,
//! the chunk framing and checksum policy, constraints in every encoding clients send, and the
//! errors a bad request gets.

mod common;

use std::path::{Path, PathBuf};

use common::{Reply, get, serve};

/// A data root holding the samples, a 4 MB netCDF-3 file, and a copy of it cut short.
fn root() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fathom-dap4-test-{}", std::process::id()));
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        testdata::write_samples(&dir).expect("samples");
        let big = classic_floats(BIG_LEN);
        std::fs::write(dir.join("big.nc"), &big).expect("big file");
        // The header promises every value; the file stops halfway through them.
        std::fs::write(dir.join("cut.nc"), &big[..big.len() / 2]).expect("cut file");
    });
    dir
}

/// Values in `big.nc`.
const BIG_LEN: usize = 1 << 20;

fn big_value(i: usize) -> f32 {
    // Exact in f32 for every index used.
    (i % 65_536) as f32 * 0.25 - 1000.0
}

/// A netCDF-3 classic file with one float variable `v(n)` holding `big_value(i)`.
fn classic_floats(n: usize) -> Vec<u8> {
    fn name(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u32).to_be_bytes());
        out.extend_from_slice(s.as_bytes());
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }
    let mut h = b"CDF\x01".to_vec();
    h.extend_from_slice(&0u32.to_be_bytes()); // no records
    h.extend_from_slice(&[0, 0, 0, 0x0A, 0, 0, 0, 1]); // one dimension
    name(&mut h, "n");
    h.extend_from_slice(&(n as u32).to_be_bytes());
    h.extend_from_slice(&[0; 8]); // no global attributes
    h.extend_from_slice(&[0, 0, 0, 0x0B, 0, 0, 0, 1]); // one variable
    name(&mut h, "v");
    h.extend_from_slice(&1u32.to_be_bytes());
    h.extend_from_slice(&0u32.to_be_bytes()); // dimension 0
    h.extend_from_slice(&[0; 8]); // no attributes
    h.extend_from_slice(&5u32.to_be_bytes()); // NC_FLOAT
    h.extend_from_slice(&((n * 4) as u32).to_be_bytes());
    let begin = h.len() + 4;
    h.extend_from_slice(&(begin as u32).to_be_bytes());
    for i in 0..n {
        h.extend_from_slice(&big_value(i).to_be_bytes());
    }
    h
}

/// CRC-32 (IEEE 802.3, zlib's), bit by bit: independent of the server's implementation.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The chunks of a `.dap` body: (flags, bytes).
fn chunks(body: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        assert!(rest.len() >= 4, "the body ends inside a chunk header");
        let flags = rest[0];
        let len = u32::from_be_bytes([0, rest[1], rest[2], rest[3]]) as usize;
        assert!(rest.len() >= 4 + len, "the body ends inside a chunk");
        out.push((flags, rest[4..4 + len].to_vec()));
        rest = &rest[4 + len..];
        if flags & 1 != 0 {
            assert!(rest.is_empty(), "bytes after the END chunk");
            return out;
        }
    }
}

/// The DMR text and the joined data of a `.dap` reply.
fn dap_parts(r: &Reply) -> (u8, String, Vec<u8>) {
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some(dap4::media::DAP));
    let c = chunks(&r.body);
    let dmr = String::from_utf8(c[0].1.clone()).expect("UTF-8 DMR");
    assert!(dmr.ends_with("</Dataset>\r\n"), "{dmr}");
    let data = c[1..].iter().flat_map(|(_, d)| d.clone()).collect();
    (c[0].0, dmr, data)
}

/// Sizes in bytes of each variable of a sample, from its metadata (all fixed-size types).
fn fixed_sizes(file: &str) -> Vec<usize> {
    let source = cdm::catalog::open(&root().join(file), None).expect("opens");
    source
        .dataset()
        .all_variables()
        .map(|v| v.len() * v.dtype.fixed_size().expect("fixed-size sample"))
        .collect()
}

fn little_f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn assert_dap4_error(r: &Reply, status: u16, needle: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("application/vnd.opendap.dap4.error+xml")),
        "{:?}",
        r.headers
    );
    let text = r.text();
    assert!(
        text.contains(&format!("<Error httpcode=\"{status}\">")),
        "{text}"
    );
    assert!(text.contains(needle), "{needle:?} not in {text}");
    let root = root();
    assert!(!text.contains(root.to_string_lossy().as_ref()), "{text}");
}

#[tokio::test]
async fn dmr_and_dmr_xml_are_one_document_with_dap4_names() {
    let server = serve(&root()).await;
    let r = get(server.addr, "/types.nc.dmr").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some(dap4::media::DMR));
    assert_eq!(r.header("xdap"), Some("4.0"));
    let xml = get(server.addr, "/types.nc.dmr.xml").await;
    assert_eq!(xml.body, r.body, ".dmr.xml is what netcdf-c asks for");
    let dmr = r.text();
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );
    for needle in [
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
        "<Dataset xmlns=\"http://xml.opendap.org/ns/DAP/4.0#\" dapVersion=\"4.0\" dmrVersion=\"1.0\" name=\"types.nc\">",
        "<Int8 name=\"byte_scalar\"",
        "<UInt8 name=\"ubyte_scalar\"",
        "<Int64 name=\"int64_1d\">",
        "<UInt64 name=\"uint64_1d\">",
        "<Enumeration name=\"cloud_t\" basetype=\"UInt8\">",
        "<EnumConst name=\"Missing\" value=\"255\"/>",
        "<Enum name=\"cloud_type\" enum=\"/cloud_t\">",
        "<Opaque name=\"raw_packet\" _edu.ucar.opaque.size=\"5\">",
        "<Structure name=\"surface_obs\">",
        "<Structure name=\"location\">",
        "<Float32 name=\"wind_uvw\">",
        "<Dim size=\"3\"/>",
        "<Sequence name=\"lightning_strikes\" _edu.ucar.isvlen=\"1\">",
        "<Int32 name=\"lightning_strikes\"/>",
    ] {
        assert!(dmr.contains(needle), "{needle} not in\n{dmr}");
    }
    assert!(!dmr.contains("<Byte"), "never the ambiguous Byte");
    // A text attribute, escaped.
    assert!(
        dmr.contains("name=\"char_attribute\" type=\"String\" value=\"UTF-8 text: Zürich, 東京, «quotes» &quot;and&quot; \\\"/>"),
        "{dmr}"
    );
}

#[tokio::test]
async fn dmr_nests_groups_and_marks_unlimited_dimensions_and_maps() {
    let server = serve(&root()).await;
    let dmr = get(server.addr, "/groups.nc.dmr").await.text();
    let forecast = dmr
        .find("<Group name=\"forecast\">")
        .expect("forecast group");
    let surface = dmr.find("<Group name=\"surface\">").expect("nested group");
    assert!(forecast < surface);
    assert!(dmr.contains("<Dim name=\"/forecast/lead_time\"/>"), "{dmr}");
    assert!(dmr.contains("<Map name=\"/lat\"/>"), "{dmr}");
    // Root attributes come first, before variables and groups.
    let title = dmr.find("name=\"title\"").expect("global title");
    assert!(title < dmr.find("<Float64 name=\"time\"").expect("time"));
    let classic = get(server.addr, "/classic.nc.dmr").await.text();
    assert!(
        classic.contains("<Dimension name=\"time\" size=\"4\" _edu.ucar.isunlimited=\"1\"/>"),
        "{classic}"
    );
    // A coordinate variable is nobody's map of itself.
    let lat = classic.find("<Float32 name=\"lat\">").expect("lat");
    let lat_end = lat + classic[lat..].find("</Float32>").expect("end");
    assert!(!classic[lat..lat_end].contains("<Map"));
}

#[tokio::test]
async fn dap_checksums_follow_the_policy() {
    let server = serve(&root()).await;
    let sizes = fixed_sizes("cdf5.nc");
    let total: usize = sizes.iter().sum();
    for (query, crcs, first_flags) in [
        ("", true, 0x04),
        ("?dap4.checksum=true", true, 0x04),
        ("?dap4.checksum=TRUE", true, 0x04),
        ("?dap4.checksum=false", false, 0x0C),
    ] {
        let r = get(server.addr, &format!("/cdf5.nc.dap{query}")).await;
        let (flags, dmr, data) = dap_parts(&r);
        assert_eq!(flags, first_flags, "{query}");
        assert!(!dmr.contains("_DAP4_Checksum_CRC32"), "{query}");
        if crcs {
            assert_eq!(data.len(), total + 4 * sizes.len(), "{query}");
            let mut pos = 0;
            for n in &sizes {
                let crc = crc32(&data[pos..pos + n]);
                assert_eq!(data[pos + n..pos + n + 4], crc.to_le_bytes(), "{query}");
                pos += n + 4;
            }
        } else {
            assert_eq!(data.len(), total, "{query}");
        }
    }
}

#[tokio::test]
async fn multi_variable_constraints_announce_their_checksums() {
    let server = serve(&root()).await;
    let r = get(server.addr, "/classic.nc.dap?dap4.ce=/lat;/lon").await;
    let (_, dmr, data) = dap_parts(&r);
    // lat (6 floats) + CRC, lon (8 floats) + CRC.
    assert_eq!(data.len(), 24 + 4 + 32 + 4);
    let lat_crc = crc32(&data[..24]);
    let lon_crc = crc32(&data[28..60]);
    assert_eq!(data[24..28], lat_crc.to_le_bytes());
    assert!(
        dmr.contains(&format!(
            "<Attribute name=\"_DAP4_Checksum_CRC32\" type=\"UInt32\">\n            <Value>{lat_crc}</Value>"
        )),
        "{dmr}"
    );
    assert!(dmr.contains(&format!("<Value>{lon_crc}</Value>")), "{dmr}");
    // One variable, or checksums off: nothing to announce.
    for q in ["dap4.ce=/lat", "dap4.ce=/lat;/lon&dap4.checksum=false"] {
        let (_, dmr, _) = dap_parts(&get(server.addr, &format!("/classic.nc.dap?{q}")).await);
        assert!(!dmr.contains("_DAP4_Checksum_CRC32"), "{q}");
    }
}

#[tokio::test]
async fn large_variables_stream_in_bounded_chunks() {
    let server = serve(&root()).await;
    let r = get(server.addr, "/big.nc.dap?dap4.checksum=false").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("transfer-encoding"),
        Some("chunked"),
        "streamed, not buffered"
    );
    let c = chunks(&r.body);
    let data_chunks = &c[1..];
    assert!(data_chunks.len() >= 16, "{} chunks", data_chunks.len());
    for (flags, d) in &data_chunks[..data_chunks.len() - 1] {
        assert_eq!(*flags, 0x04);
        assert!(d.len() <= dap4::data::CHUNK_BYTES);
    }
    assert_eq!(data_chunks.last().map(|(f, _)| *f), Some(0x05));
    let values = little_f32s(
        &data_chunks
            .iter()
            .flat_map(|(_, d)| d.clone())
            .collect::<Vec<_>>(),
    );
    assert_eq!(values.len(), BIG_LEN);
    assert!(values.iter().enumerate().all(|(i, &v)| v == big_value(i)));
}

#[tokio::test]
async fn a_failure_after_the_dmr_is_an_error_chunk() {
    let server = serve(&root()).await;
    let r = get(server.addr, "/cut.nc.dap").await;
    assert_eq!(r.status, 200, "the status went out with the DMR");
    let c = chunks(&r.body);
    let (flags, last) = c.last().expect("chunks");
    assert_eq!(*flags, 0x07, "ERROR | END | LITTLE_ENDIAN");
    let doc = String::from_utf8_lossy(last);
    assert!(doc.contains("<Error httpcode=\"500\">"), "{doc}");
    assert!(doc.contains("/v"), "names the variable: {doc}");
    assert!(!doc.contains(root().to_string_lossy().as_ref()), "{doc}");
}

#[tokio::test]
async fn constraints_arrive_in_every_encoding() {
    let server = serve(&root()).await;
    let plain = get(
        server.addr,
        "/classic.nc.dap?dap4.ce=/temperature[1:2:3][0:2][5];/lat[1:]",
    )
    .await;
    let (_, dmr, want) = dap_parts(&plain);
    assert!(dmr.contains("<Dim size=\"2\"/>"), "{dmr}");
    assert!(dmr.contains("<Dim size=\"5\"/>"), "{dmr}");
    for target in [
        "/classic.nc.dap?dap4.ce=%2Ftemperature%5B1%3A2%3A3%5D%5B0%3A2%5D%5B5%5D%3B%2Flat%5B1%3A%5D",
        "/classic.nc.dap?dap4.ce=/temperature%5b1:2:3%5d%5b0:2%5d%5b5%5d;/lat%5b1:%5d",
        "/classic.nc.dap?dap4.ce=temperature[1:2:3][0:2][5];lat[1:]&other=ignored",
        // netcdf-c 4.9.0 encodes the query three times over.
        "/classic.nc.dap?dap4.ce=/temperature%2525255B1:2:3%2525255D%2525255B0:2%2525255D%2525255B5%2525255D;/lat%2525255B1:%2525255D",
    ] {
        let (_, _, got) = dap_parts(&get(server.addr, target).await);
        assert_eq!(got, want, "{target}");
    }
}

#[tokio::test]
async fn shared_dimension_constraints_resize_the_dimension() {
    let server = serve(&root()).await;
    let r = get(
        server.addr,
        "/classic.nc.dmr?dap4.ce=/lat=[0:2:5];/temperature;/lat",
    )
    .await;
    let dmr = r.text();
    assert_eq!(r.status, 200, "{dmr}");
    assert!(
        dmr.contains("<Dimension name=\"lat\" size=\"3\"/>"),
        "{dmr}"
    );
    assert!(dmr.contains("<Dim name=\"/lat\"/>"), "{dmr}");
    assert!(
        !dmr.contains("name=\"pressure\""),
        "only what was asked for"
    );
    let (_, _, data) = dap_parts(
        &get(
            server.addr,
            "/classic.nc.dap?dap4.ce=/lat=[0:2:5];/lat&dap4.checksum=false",
        )
        .await,
    );
    let (_, _, all) = dap_parts(
        &get(
            server.addr,
            "/classic.nc.dap?dap4.ce=/lat&dap4.checksum=false",
        )
        .await,
    );
    let all = little_f32s(&all);
    assert_eq!(little_f32s(&data), vec![all[0], all[2], all[4]]);
}

#[tokio::test]
async fn bad_requests_get_dap4_errors() {
    let server = serve(&root()).await;
    let cases = [
        ("/classic.nc.dap?dap4.ce=/lat[", 400, "bad constraint"),
        ("/classic.nc.dmr?dap4.ce=/nope", 400, "/nope"),
        ("/classic.nc.dap?dap4.ce=/lat[6]", 400, "out of range"),
        (
            "/classic.nc.dap?dap4.ce=/lat[4:2]",
            400,
            "greater than stop",
        ),
        (
            "/classic.nc.dap?dap4.ce=/lat[0][0]",
            400,
            "wrong number of dimensions",
        ),
        (
            "/classic.nc.dap?dap4.ce=/temperature[0]&dap4.ce=/lat",
            400,
            "more than once",
        ),
        ("/classic.nc.dap?dap4.checksum=maybe", 400, "true or false"),
        // Clients percent-encode `|` and `>` (hyper refuses them raw).
        // A filter on an array is the client's mistake (filters are for Sequences); on a
        // Sequence it is valid but not carried out.
        (
            "/classic.nc.dap?dap4.ce=/lat%7Clat%3E0",
            400,
            "applies only to a Sequence",
        ),
        (
            "/types.nc.dap?dap4.ce=/lightning_strikes%7Clightning_strikes%3E0",
            501,
            "on the Sequence /lightning_strikes",
        ),
        (
            "/classic.nc.dap?dap4.ce=mean(/lat)",
            400,
            "no server functions",
        ),
        ("/classic.nc.dap?dap4.ce=;;;", 400, "no clause"),
        ("/classic.nc.dmr?dap4.ce=%3B%3B", 400, "no clause"),
        ("/missing.nc.dmr", 404, "no such dataset"),
        ("/missing.nc.dap", 404, "no such dataset"),
    ];
    for (target, status, needle) in cases {
        assert_dap4_error(&get(server.addr, target).await, status, needle);
    }
    // Escaped in the document.
    let r = get(server.addr, "/classic.nc.dmr?dap4.ce=/a%3Cb%3E").await;
    assert_dap4_error(&r, 400, "/a&lt;b&gt;");
}

#[tokio::test]
async fn dsr_lists_the_dap4_responses() {
    let server = serve(&root()).await;
    let r = get(server.addr, "/groups.nc.dsr").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some(dap4::media::DSR));
    let text = r.text();
    for suffix in [".dmr", ".dap", ".dsr"] {
        assert!(
            text.contains(&format!("href=\"/groups.nc{suffix}\"")),
            "{text}"
        );
    }
}

#[test]
fn the_test_crc_is_crc32() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
}

#[test]
fn the_big_file_is_what_the_test_thinks() {
    // The hand-written header must be valid netCDF-3 for the other tests to mean anything.
    let path: &Path = &root().join("big.nc");
    let source = cdm::catalog::open(path, None).expect("netCDF-C opens it");
    let v = source.dataset().variable("/v").expect("v");
    assert_eq!(v.shape(), vec![BIG_LEN]);
}
