//! The netCDF reader on files written by `ncgen` from the netcdf-c DAP4 test CDL: every
//! user-defined type read into the model and converted to the canonical encoding.

use std::path::PathBuf;

use cdm::{DataType, Hyperslab, Range, Source, read_all};

fn conformance(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/conformance/generated/dap4_cdl_ncgen-4.9.0")
        .join(name)
}

fn open(name: &str) -> std::sync::Arc<dyn Source> {
    cdm::catalog::open(&conformance(name), None).expect("opens")
}

async fn read_whole(src: &dyn Source, path: &str) -> Vec<u8> {
    let v = src.dataset().variable(path).expect("variable exists");
    read_all(src, path, &Hyperslab::full(&v.shape()))
        .await
        .expect("reads")
}

fn string(s: &str) -> Vec<u8> {
    let mut out = (s.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(s.as_bytes());
    out
}

#[tokio::test]
async fn atomic_types_enum_and_opaque() {
    let src = open("test_atomic_types.nc");
    let ds = src.dataset();
    assert_eq!(read_whole(&*src, "/v8").await, (-128i8).to_le_bytes());
    assert_eq!(read_whole(&*src, "/vu64").await, u64::MAX.to_le_bytes());
    assert_eq!(read_whole(&*src, "/v64").await, i64::MAX.to_le_bytes());
    let vd = f64::from_le_bytes(read_whole(&*src, "/vd").await.try_into().expect("8 bytes"));
    assert!((vd - std::f64::consts::PI).abs() < 1e-14, "{vd}");
    assert_eq!(read_whole(&*src, "/vc").await, b"@");
    assert_eq!(read_whole(&*src, "/vs").await, string("hello\tworld"));
    let mut opaque = 8u64.to_le_bytes().to_vec();
    opaque.extend_from_slice(&[0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF]);
    assert_eq!(read_whole(&*src, "/vo").await, opaque);
    let DataType::Opaque(o) = &ds.variable("/vo").expect("vo").dtype else {
        panic!("vo is opaque")
    };
    assert_eq!(
        (o.name.as_str(), o.size, o.path.as_str()),
        ("o_t", 8, "/o_t")
    );

    let cloud = ds.variable("/primary_cloud").expect("primary_cloud");
    let DataType::Enum(e) = &cloud.dtype else {
        panic!("enum")
    };
    assert_eq!(e.base, DataType::Int8);
    assert_eq!(e.name_of(127), Some("Missing"));
    assert_eq!(e.members.len(), 12);
    assert_eq!(read_whole(&*src, "/primary_cloud").await, [2u8]);
    match cloud.fill_value() {
        Some(cdm::AttrValue::Typed { count: 1, data, .. }) => assert_eq!(data, &[127u8]),
        other => panic!("enum fill value: {other:?}"),
    }
}

#[tokio::test]
async fn compounds_vlens_and_strings() {
    let src = open("test_struct_array.nc");
    let v = src.dataset().variable("/s").expect("s");
    assert_eq!(v.shape(), [4, 3]);
    let slab = Hyperslab::new(
        vec![
            Range::new(1, 2, 2, 4).expect("fits"),
            Range::new(2, 1, 1, 3).expect("fits"),
        ],
        &v.shape(),
    )
    .expect("valid");
    let got = read_all(&*src, "/s", &slab).await.expect("reads");
    let want: Vec<u8> = [-3i32, 1, -15, 5]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    assert_eq!(got, want);

    let src = open("test_vlen3.nc");
    let got = read_whole(&*src, "/v1").await;
    let mut want = 4u64.to_le_bytes().to_vec();
    for x in [1i32, 3, 5, 7] {
        want.extend_from_slice(&x.to_le_bytes());
    }
    assert_eq!(got, want);

    let src = open("test_utf8.nc");
    let got = read_whole(&*src, "/vs").await;
    let mut want = string("Καλημέα");
    want.extend(string("abc"));
    assert_eq!(got, want);
}

#[tokio::test]
async fn errors_are_reported_not_panics() {
    let src = open("test_struct_array.nc");
    let err = read_all(&*src, "/nope", &Hyperslab::full(&[])).await;
    assert!(matches!(err, Err(cdm::Error::NoSuchVariable(_))));
    let bad = Hyperslab::full(&[5, 3]);
    let err = read_all(&*src, "/s", &bad).await;
    assert!(matches!(err, Err(cdm::Error::Hyperslab(_))), "{err:?}");
}
