//! Unit tests of the DMR++ reader and writer.

use super::*;
use crate::source::read_all;

const CHUNKED: &str = r#"<?xml version="1.0" encoding="ISO-8859-1"?>
<Dataset xmlns="http://xml.opendap.org/ns/DAP/4.0#" xmlns:dmrpp="http://xml.opendap.org/dap/dmrpp/1.0.0#" dapVersion="4.0" dmrVersion="1.0" name="t.h5" dmrpp:href="https://example.com/elsewhere/t.h5" dmrpp:version="3.20.13">
    <Dimension name="x" size="4"/>
    <Int32 name="v">
        <Dim name="/x"/>
        <Dim size="3"/>
        <Attribute name="units" type="String"><Value>m</Value></Attribute>
        <dmrpp:chunks compressionType="shuffle deflate" deflateLevel="4" fillValue="-7" byteOrder="BE">
            <dmrpp:chunkDimensionSizes>2 3</dmrpp:chunkDimensionSizes>
            <dmrpp:chunk offset="10" nBytes="20" chunkPositionInArray="[2,0]"/>
        </dmrpp:chunks>
    </Int32>
    <Float64 name="c">
        <Dim size="2"/>
        <dmrpp:chunks byteOrder="LE"><dmrpp:chunk offset="100" nBytes="16"/></dmrpp:chunks>
    </Float64>
    <Int16 name="k">
        <Dim size="2"/>
        <dmrpp:chunks fillValue="0" byteOrder="BE"/>
        <dmrpp:compact>AAEAAg==</dmrpp:compact>
    </Int16>
    <String name="s">
        <dmrpp:compact>aGVsbG8=</dmrpp:compact>
    </String>
    <String name="names">
        <Dim size="2"/>
        <dmrpp:compact>YWIAAGNkZWY=</dmrpp:compact>
        <dmrpp:FixedLengthStringArray string_length="4" pad="null_term"/>
    </String>
    <Float32 name="lz">
        <dmrpp:chunks compressionType="szip"><dmrpp:chunk offset="0" nBytes="4"/></dmrpp:chunks>
    </Float32>
    <Structure name="st"><Int32 name="a"/></Structure>
</Dataset>"#;

#[test]
fn chunks_filters_fill_and_byte_order_become_layouts() {
    let index = parse(CHUNKED.as_bytes()).expect("parses");
    assert_eq!(
        index.href.as_deref(),
        Some("https://example.com/elsewhere/t.h5")
    );
    assert_eq!(index.version.as_deref(), Some("3.20.13"));
    assert_eq!(index.dataset.format, Format::Dmrpp);
    let v = index.dataset.variable("/v").expect("v");
    assert_eq!(v.shape(), vec![4, 3]);
    let Some(VarData::Chunks(l, None)) = index.vars.get("/v") else {
        panic!("v is chunked: {:?}", index.vars.get("/v"));
    };
    assert_eq!(l.chunk, vec![2, 3]);
    assert!(l.big_endian);
    assert_eq!(
        l.pipeline.filters(),
        &[Filter::Shuffle { elem_size: 4 }, Filter::Deflate]
    );
    assert_eq!(l.fill, (-7i32).to_le_bytes().to_vec());
    assert_eq!(l.locate(&[1, 0]).map(|c| (c.addr, c.size)), Some((10, 20)));
    assert_eq!(
        l.locate(&[0, 0]),
        None,
        "an unlisted chunk reads as the fill value"
    );
    let Some(VarData::Chunks(c, None)) = index.vars.get("/c") else {
        panic!("c is contiguous");
    };
    assert_eq!(c.locate(&[0]).map(|c| (c.addr, c.size)), Some((100, 16)));
    assert!(matches!(index.vars.get("/k"), Some(VarData::Compact(..))));
    assert!(matches!(index.vars.get("/lz"), Some(VarData::Unreadable(w)) if w.contains("szip")));
    assert!(index.dataset.variable("/st").is_none());
    assert!(index.dataset.root.attribute("_fathom_omitted").is_some());
}

#[tokio::test]
async fn values_come_from_the_storage_given_and_the_document() {
    // The contiguous doubles at offset 100 of a 116-byte object.
    let mut object = vec![0u8; 116];
    object[100..108].copy_from_slice(&1.5f64.to_le_bytes());
    object[108..116].copy_from_slice(&(-2.0f64).to_le_bytes());
    let data: Arc<dyn Storage> = Arc::new(MemoryStorage(Bytes::from(object)));
    let src = open(CHUNKED.as_bytes(), data, "t.h5", None).expect("opens");
    assert_eq!(src.dataset().name, "t.h5");
    let c = read_all(src.as_ref(), "/c", &Hyperslab::full(&[2]))
        .await
        .expect("c");
    assert_eq!(c, [1.5f64.to_le_bytes(), (-2.0f64).to_le_bytes()].concat());
    let k = read_all(src.as_ref(), "/k", &Hyperslab::full(&[2]))
        .await
        .expect("k");
    assert_eq!(
        k,
        [1i16.to_le_bytes(), 2i16.to_le_bytes()].concat(),
        "big-endian compact values"
    );
    let s = read_all(src.as_ref(), "/s", &Hyperslab::full(&[]))
        .await
        .expect("s");
    assert_eq!(s, [5u64.to_le_bytes().as_slice(), b"hello"].concat());
    let names = read_all(src.as_ref(), "/names", &Hyperslab::full(&[2]))
        .await
        .expect("names");
    assert_eq!(
        names,
        [
            2u64.to_le_bytes().as_slice(),
            b"ab",
            4u64.to_le_bytes().as_slice(),
            b"cdef"
        ]
        .concat()
    );
    // Rows 0-1 were never written: the fill value. Rows 2-3 lie past the object's end.
    let slab =
        Hyperslab::new(vec![crate::Range::full(2), crate::Range::full(3)], &[4, 3]).expect("slab");
    let fill = read_all(src.as_ref(), "/v", &slab).await.expect("fill");
    assert_eq!(fill, (-7i32).to_le_bytes().repeat(6));
    assert!(
        read_all(src.as_ref(), "/v", &Hyperslab::full(&[4, 3]))
            .await
            .is_err()
    );
    let err = read_all(src.as_ref(), "/lz", &Hyperslab::full(&[]))
        .await
        .expect_err("szip");
    assert!(matches!(err, Error::Unsupported(_)), "{err}");
    assert!(matches!(
        read_all(src.as_ref(), "/nope", &Hyperslab::full(&[])).await,
        Err(Error::NoSuchVariable(_))
    ));
}

#[test]
fn broken_documents_are_corrupt_errors() {
    for bad in [
        "not xml at all <",
        "<Dataset name='x'><Int32 name='a'><Dim size='4'/><dmrpp:chunks xmlns:dmrpp='u'><dmrpp:chunkDimensionSizes>2 x</dmrpp:chunkDimensionSizes></dmrpp:chunks></Int32></Dataset>",
        "<Dataset name='x'><Int32 name='a'><Dim size='4'/><dmrpp:chunks xmlns:dmrpp='u'><dmrpp:chunkDimensionSizes>2</dmrpp:chunkDimensionSizes><dmrpp:chunk offset='0' nBytes='8' chunkPositionInArray='[3]'/></dmrpp:chunks></Int32></Dataset>",
        "<Dataset name='x'><Int32 name='a'><Dim size='4'/><dmrpp:chunks xmlns:dmrpp='u'><dmrpp:chunk offset='0' nBytes='7'/></dmrpp:chunks></Int32></Dataset>",
        "<Dataset name='x'><Int32 name='a'><Dim size='4'/><dmrpp:chunks xmlns:dmrpp='u'><dmrpp:chunkDimensionSizes>2</dmrpp:chunkDimensionSizes><dmrpp:chunk nBytes='8' chunkPositionInArray='[0]'/></dmrpp:chunks></Int32></Dataset>",
        "<Dataset name='x'><Int32 name='a'><dmrpp:compact xmlns:dmrpp='u'>!!!</dmrpp:compact></Int32></Dataset>",
    ] {
        let e = parse(bad.as_bytes()).expect_err(bad);
        assert!(matches!(e, Error::Corrupt(_)), "{bad}: {e}");
    }
}

#[test]
fn written_indexes_read_back_the_same_layouts() {
    let dmr = r#"<Dataset xmlns="http://xml.opendap.org/ns/DAP/4.0#" dapVersion="4.0" dmrVersion="1.0" name="w.nc">
    <Dimension name="t" size="4"/>
    <Float32 name="a"><Dim name="/t"/><Dim size="6"/><Attribute name="units" type="String"><Value>K</Value></Attribute></Float32>
    <Group name="g"><Int16 name="b"><Dim size="3"/></Int16><Int32 name="r"><Dim size="4"/><Dim size="2"/></Int32></Group>
    <Int64 name="k"/>
    <String name="s"/>
</Dataset>"#;
    let mut a = ChunkLayout {
        shape: vec![4, 6],
        chunk: vec![2, 3],
        clipped: false,
        elem_size: 4,
        big_endian: false,
        pipeline: Pipeline::new(vec![
            Filter::Shuffle { elem_size: 4 },
            Filter::Deflate,
            Filter::Fletcher32,
        ]),
        locator: Locator::Indexed(HashMap::new()),
        fill: 9.5f32.to_le_bytes().to_vec(),
    };
    a.locator = Locator::Indexed(HashMap::from([
        (
            0,
            ChunkLoc {
                addr: 4000,
                size: 30,
                mask: 0,
            },
        ),
        (
            3,
            ChunkLoc {
                addr: 4030,
                size: 31,
                mask: 0,
            },
        ),
    ]));
    let b = ChunkLayout::contiguous(&[3], 2, true, Some(800), None, vec![0, 0]);
    // A netCDF-3 record variable: one record of 2 per chunk, 100 bytes apart.
    let r = ChunkLayout::contiguous(&[4, 2], 4, true, Some(1000), Some(100), vec![0; 4]);
    let vars = HashMap::from([
        (
            "/a".to_owned(),
            write::VarIndex::Chunks(a.clone(), DataType::Float32),
        ),
        (
            "/g/b".to_owned(),
            write::VarIndex::Chunks(b.clone(), DataType::Int16),
        ),
        (
            "/g/r".to_owned(),
            write::VarIndex::Chunks(r.clone(), DataType::Int32),
        ),
        (
            "/k".to_owned(),
            write::VarIndex::Compact(
                7i64.to_le_bytes().to_vec(),
                DataType::Int64,
                Some((-99i64).to_le_bytes().to_vec()),
            ),
        ),
        (
            "/s".to_owned(),
            write::VarIndex::CompactString(b"hi".to_vec()),
        ),
    ]);
    let object = write::DataObject {
        href: "w.nc",
        size: 5000,
        mtime: 1_700_000_000,
    };
    let (xml, left_out) = write::weave(dmr, &vars, &object).expect("weaves");
    assert!(left_out.is_empty(), "{left_out:?}");
    assert_eq!(
        write::recorded_version(xml.as_bytes()),
        Some((5000, 1_700_000_000))
    );
    let index = parse(xml.as_bytes()).expect("reads back");
    assert_eq!(index.href.as_deref(), Some("w.nc"));
    assert_eq!(index.source_version, Some((5000, 1_700_000_000)));
    let Some(VarData::Chunks(a2, None)) = index.vars.get("/a") else {
        panic!("{xml}")
    };
    assert_eq!(a2, &a);
    let Some(VarData::Chunks(b2, None)) = index.vars.get("/g/b") else {
        panic!("{xml}")
    };
    assert_eq!(b2.locate(&[0]).map(|c| (c.addr, c.size)), Some((800, 6)));
    assert!(b2.big_endian);
    let Some(VarData::Chunks(r2, None)) = index.vars.get("/g/r") else {
        panic!("{xml}")
    };
    for rec in 0..4 {
        assert_eq!(
            r2.locate(&[rec, 0]).map(|c| (c.addr, c.size)),
            Some((1000 + 100 * rec as u64, 8)),
            "record {rec}"
        );
    }
    assert!(matches!(index.vars.get("/k"), Some(VarData::Compact(..))));
    // The file's own fill value, not HDF5's default.
    assert!(xml.contains(r#"fillValue="-99""#), "{xml}");
    assert!(matches!(index.vars.get("/s"), Some(VarData::Strings(s)) if s.len() == 1));
    assert_eq!(
        index
            .dataset
            .variable("/a")
            .and_then(|v| v.attribute("units"))
            .and_then(|a| a.value.as_text())
            .as_deref(),
        Some("K")
    );
}

#[test]
fn hrefs_resolve_only_to_files_inside_the_root() {
    let base = std::env::temp_dir().join(format!("fathom-dmrpp-href-{}", std::process::id()));
    let root = base.join("root");
    std::fs::create_dir_all(root.join("data")).expect("dirs");
    std::fs::create_dir_all(root.join("index")).expect("dirs");
    std::fs::write(root.join("data/x.h5"), b"x").expect("write");
    std::fs::write(base.join("outside.h5"), b"x").expect("write");
    let root = root.canonicalize().expect("root");
    let dmrpp = root.join("index/x.h5.dmrpp");
    assert_eq!(
        resolve_local_href(&dmrpp, &root, "../data/x.h5").ok(),
        Some(root.join("data/x.h5"))
    );
    for bad in [
        "https://s3.amazonaws.com/bucket/x.h5",
        "s3://bucket/x.h5",
        "/etc/passwd",
        "../../outside.h5",
        "../data/missing.h5",
        "file:///etc/passwd",
    ] {
        assert!(resolve_local_href(&dmrpp, &root, bad).is_err(), "{bad}");
    }
    std::fs::remove_dir_all(&base).ok();
}

#[tokio::test]
async fn fixed_length_strings_in_chunks_read_as_strings() {
    // As Hyrax's build_dmrpp writes a chunked `|S4` array of 5 (chunks of 2, the last chunk
    // missing: it reads as empty strings) and a contiguous space-padded one.
    let xml = r#"<?xml version="1.0" encoding="ISO-8859-1"?>
<Dataset xmlns="http://xml.opendap.org/ns/DAP/4.0#" xmlns:dmrpp="http://xml.opendap.org/dap/dmrpp/1.0.0#" dapVersion="4.0" dmrVersion="1.0" name="s.h5">
    <String name="a">
        <Dim size="5"/>
        <dmrpp:chunks fillValue="">
            <dmrpp:chunkDimensionSizes>2</dmrpp:chunkDimensionSizes>
            <dmrpp:chunk offset="0" nBytes="8" chunkPositionInArray="[0]"/>
            <dmrpp:chunk offset="8" nBytes="8" chunkPositionInArray="[2]"/>
        </dmrpp:chunks>
        <dmrpp:FixedLengthStringArray string_length="4" pad="null_pad"/>
    </String>
    <String name="b">
        <Dim size="2"/>
        <dmrpp:chunks><dmrpp:chunk offset="16" nBytes="6"/></dmrpp:chunks>
        <dmrpp:FixedLengthStringArray string_length="3" pad="space_pad"/>
    </String>
</Dataset>"#;
    let object = b"abcdefgh\0\0\0\0wxyzab c  ".to_vec();
    let data: Arc<dyn Storage> = Arc::new(MemoryStorage(Bytes::from(object)));
    let src = open(xml.as_bytes(), data, "s.h5", None).expect("opens");
    let strings = |b: Bytes| {
        let mut out = Vec::new();
        let mut rest = &b[..];
        while rest.len() >= 8 {
            let n = u64::from_le_bytes(rest[..8].try_into().expect("8")) as usize;
            out.push(String::from_utf8(rest[8..8 + n].to_vec()).expect("utf-8"));
            rest = &rest[8 + n..];
        }
        assert!(rest.is_empty());
        out
    };
    let a = read_all(src.as_ref(), "/a", &Hyperslab::full(&[5]))
        .await
        .expect("a");
    assert_eq!(strings(Bytes::from(a)), ["abcd", "efgh", "", "wxyz", ""]);
    let range = crate::hyperslab::Range::new(1, 2, 2, 5).expect("range");
    let slab = Hyperslab::new(vec![range], &[5]).expect("slab");
    let a = read_all(src.as_ref(), "/a", &slab).await.expect("a[1:2:3]");
    assert_eq!(strings(Bytes::from(a)), ["efgh", "wxyz"]);
    let b = read_all(src.as_ref(), "/b", &Hyperslab::full(&[2]))
        .await
        .expect("b");
    assert_eq!(strings(Bytes::from(b)), ["ab", "c"]);
}
