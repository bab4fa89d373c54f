//! The model the HDF5 source builds: groups, dimension scales as shared dimensions, phony
//! dimensions, types, attributes, hidden bookkeeping, what is left out — and the catalog's
//! choice between the netCDF and HDF5 sources by content, not by name.
//!
//! Expectations are the facts the sample generator wrote (testdata's HDF5 samples) and what
//! netCDF-C reads from the bes hdf5_handler's netCDF-4 files.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cdm::formats::hdf5::{Hdf5Source, OMITTED_ATTRIBUTE};
use cdm::{AttrValue, DataType, Dataset, Format, Source};

fn samples() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("fathom-hdf5-model-{}", std::process::id()));
        testdata::write_samples(&dir).expect("samples are written");
        dir
    })
}

fn bes_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance/bes/modules/hdf5_handler/data")
}

fn open(name: &str) -> std::sync::Arc<Dataset> {
    let source = cdm::catalog::open(&samples().join(name), None).expect("opens");
    std::sync::Arc::clone(source.dataset())
}

fn dim_paths(ds: &Dataset, var: &str) -> Vec<String> {
    ds.variable(var)
        .unwrap_or_else(|| panic!("{var} exists"))
        .dims
        .iter()
        .map(|d| d.path.clone().unwrap_or_default())
        .collect()
}

fn omitted(ds: &Dataset, group: &str) -> Vec<String> {
    match ds.group(group).and_then(|g| g.attribute(OMITTED_ATTRIBUTE)) {
        Some(a) => match &a.value {
            AttrValue::String(v) => v.clone(),
            other => panic!("{other:?}"),
        },
        None => Vec::new(),
    }
}

#[test]
fn dimension_scales_become_shared_dimensions_and_coordinates() {
    let ds = open("hdf5_groups.h5");
    assert_eq!(ds.format, Format::Hdf5);
    let time = ds.dimension("/time").expect("time");
    assert_eq!((time.len, time.unlimited), (6, true));
    assert_eq!(
        ds.dimension("/lat").map(|d| (d.len, d.unlimited)),
        Some((5, false))
    );
    assert_eq!(ds.dimension("/lon").map(|d| d.len), Some(8));
    assert_eq!(ds.dimension("/forecast/lead_time").map(|d| d.len), Some(4));
    for coord in ["/time", "/lat", "/lon", "/forecast/lead_time"] {
        assert!(
            ds.variable(coord).is_some_and(cdm::Variable::is_coordinate),
            "{coord}"
        );
    }
    assert_eq!(
        dim_paths(&ds, "/surface_temperature"),
        ["/time", "/lat", "/lon"]
    );
    assert_eq!(
        dim_paths(&ds, "/forecast/temperature"),
        ["/forecast/lead_time", "/lat", "/lon"]
    );
    // Big-endian integers attached to the root's scales from a nested group.
    let p = ds.variable("/forecast/surface/pressure").expect("pressure");
    assert_eq!(p.dtype, DataType::Int32);
    assert_eq!(
        dim_paths(&ds, "/forecast/surface/pressure"),
        ["/lat", "/lon"]
    );
}

#[test]
fn datasets_without_scales_get_phony_dimensions_numbered_as_netcdf_c_numbers_them() {
    let ds = open("hdf5_groups.h5");
    let surface = "/forecast/surface";
    // netCDF-C counts dimensions across the file: the four scales are 0 to 3, and child groups
    // are matched before their parent, so the nested group's phony dimensions come first.
    assert_eq!(
        dim_paths(&ds, "/forecast/surface/land_mask"),
        [
            format!("{surface}/phony_dim_4"),
            format!("{surface}/phony_dim_5")
        ]
    );
    // One dimension has a scale, the other reuses the group's phony dimension of length 5.
    assert_eq!(
        dim_paths(&ds, "/forecast/surface/roughness"),
        ["/lon".to_owned(), format!("{surface}/phony_dim_4")]
    );
    // Two string datasets of length 3 in the root share one, numbered after the nested ones.
    assert_eq!(dim_paths(&ds, "/station_names"), ["/phony_dim_6"]);
    assert_eq!(dim_paths(&ds, "/station_codes"), ["/phony_dim_6"]);

    let chunked = open("hdf5_chunked.h5");
    // A square dataset takes two distinct dimensions of the same length.
    let square = dim_paths(&chunked, "/square");
    assert_ne!(square[0], square[1]);
    assert_eq!(dim_paths(&chunked, "/row")[0], square[0]);
    // Names only depend on the file: a second open (of a copy) names everything the same.
    let copy = samples().join("copy_of_chunked.h5");
    std::fs::copy(samples().join("hdf5_chunked.h5"), &copy).expect("copy");
    let again = cdm::catalog::open(&copy, None).expect("opens");
    assert_eq!(again.dataset().root, chunked.root);
}

#[test]
fn attributes_are_typed_and_bookkeeping_is_hidden() {
    let ds = open("hdf5_groups.h5");
    let root = &ds.root;
    let value = |name: &str| root.attribute(name).map(|a| a.value.clone());
    assert_eq!(
        value("title"),
        Some(AttrValue::String(vec![
            "fathom sample: plain HDF5 with groups and scales".into()
        ]))
    );
    // One fixed-length string is text, as netCDF-C reads it.
    assert_eq!(
        value("institution"),
        Some(AttrValue::Char(b"fathom test data".to_vec()))
    );
    assert_eq!(value("version"), Some(AttrValue::Int32(vec![1, 2, 3])));
    assert_eq!(
        value("pi"),
        Some(AttrValue::Float64(vec![std::f64::consts::PI]))
    );
    let st = ds.variable("/surface_temperature").expect("v");
    assert_eq!(st.fill_value(), Some(&AttrValue::Float32(vec![-999.0])));
    for v in ds.all_variables() {
        for hidden in ["CLASS", "NAME", "REFERENCE_LIST", "DIMENSION_LIST"] {
            assert!(v.attribute(hidden).is_none(), "{} shows {hidden}", v.path);
        }
    }
    assert!(omitted(&ds, "/").is_empty());
    assert_eq!(
        ds.group("/empty")
            .and_then(|g| g.attribute("comment"))
            .map(|a| a.value.clone()),
        Some(AttrValue::String(vec!["a group with nothing in it".into()]))
    );
}

#[test]
fn user_defined_types_keep_their_structure_and_names() {
    let ds = open("hdf5_types.h5");
    let obs = ds.variable("/observations").expect("observations");
    let DataType::Structure(s) = &obs.dtype else {
        panic!("{:?}", obs.dtype)
    };
    // The committed type keeps its name.
    assert_eq!(
        (s.name.as_str(), s.path.as_str()),
        ("observation", "/observation")
    );
    let fields: Vec<(&str, Vec<usize>)> = s
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.shape.clone()))
        .collect();
    assert_eq!(
        fields,
        [
            ("station_id", vec![]),
            ("temperature", vec![]),
            ("sky", vec![]),
            ("wind", vec![2]),
            ("code", vec![]),
            ("comment", vec![]),
            ("position", vec![])
        ]
    );
    assert!(
        matches!(&s.fields[2].dtype, DataType::Enum(e) if e.base == DataType::Int8
        && e.name_of(8) == Some("Overcast") && e.name_of(-1) == Some("Missing"))
    );
    assert_eq!(s.fields[4].dtype, DataType::String);
    assert!(matches!(&s.fields[6].dtype, DataType::Structure(p) if p.fields.len() == 2));
    assert!(ds.root.types.iter().any(|t| t.cdl_name() == "observation"));
    // The attribute written from the same Rust struct shares the committed type.
    let attr = obs.attribute("reference_observation").expect("attr");
    assert!(matches!(&attr.value, AttrValue::Typed { dtype, count: 1, .. } if dtype == &obs.dtype));

    assert!(matches!(&ds.variable("/ragged").expect("v").dtype,
        DataType::VLen(v) if v.base == DataType::Int32));
    assert!(matches!(&ds.variable("/flags").expect("v").dtype,
        DataType::Enum(e) if e.name_of(1) == Some("TRUE")));
    let blocks = ds.variable("/blocks").expect("blocks");
    assert_eq!(
        (blocks.dtype.clone(), blocks.shape()),
        (DataType::Int16, vec![4, 2, 3])
    );
    assert_eq!(
        ds.variable("/compass").map(|v| v.dtype.clone()),
        Some(DataType::Char)
    );
    assert_eq!(ds.variable("/labels").map(|v| v.shape()), Some(vec![2, 3]));
    assert_eq!(
        ds.variable("/uint64_extremes").map(|v| v.dtype.clone()),
        Some(DataType::UInt64)
    );
    let g = ds.group("/attributes").expect("group");
    assert_eq!(
        g.attribute("words").map(|a| a.value.clone()),
        Some(AttrValue::String(vec![
            "one".into(),
            "two".into(),
            "three".into()
        ]))
    );
    assert_eq!(
        g.attribute("ushorts").map(|a| a.value.clone()),
        Some(AttrValue::UInt16(vec![65535, 0]))
    );
    assert!(matches!(
        &g.attribute("sequence").expect("a").value,
        AttrValue::Typed {
            dtype: DataType::VLen(_),
            count: 1,
            ..
        }
    ));
}

#[test]
fn what_cannot_be_represented_is_left_out_and_said() {
    let ds = open("hdf5_references.h5");
    assert!(ds.variable("/values").is_some());
    assert!(ds.variable("/inner/counts").is_some());
    assert!(ds.variable("/object_refs").is_none());
    assert!(ds.variable("/inner/pointers").is_none());
    assert_eq!(
        ds.root.attribute("answer").map(|a| a.value.clone()),
        Some(AttrValue::Int32(vec![42]))
    );
    let root = omitted(&ds, "/");
    assert!(
        root.iter()
            .any(|l| l.starts_with("object_refs: ") && l.contains("reference"))
    );
    assert!(root.iter().any(|l| l.starts_with("attribute points_at: ")));
    let inner = omitted(&ds, "/inner");
    for name in [
        "pointers: ",
        "values_link: a soft link",
        "external_link: an external link",
    ] {
        assert!(
            inner.iter().any(|l| l.starts_with(name)),
            "{name} in {inner:?}"
        );
    }
}

#[test]
fn the_catalog_decides_by_content_not_by_name() {
    let dir = samples();
    // netCDF-4 named .h5: the netCDF source, with netCDF semantics.
    let nc4_as_h5 = dir.join("groups_copy.h5");
    std::fs::copy(dir.join("groups.nc"), &nc4_as_h5).expect("copy");
    let src = cdm::catalog::open(&nc4_as_h5, None).expect("opens");
    assert_eq!(src.dataset().format, Format::NetCdf4);
    // Plain HDF5 named .nc: the HDF5 source.
    let h5_as_nc = dir.join("types_copy.nc");
    std::fs::copy(dir.join("hdf5_types.h5"), &h5_as_nc).expect("copy");
    let src = cdm::catalog::open(&h5_as_nc, None).expect("opens");
    assert_eq!(src.dataset().format, Format::Hdf5);
    // (Copies: other tests may have the samples open, and a file is never opened twice.)
    let nc4 = dir.join("chunked_copy.nc");
    std::fs::copy(dir.join("chunked.nc"), &nc4).expect("copy");
    assert!(cdm::formats::hdf5::is_netcdf4(&nc4).expect("reads"));
    let plain = dir.join("groups_plain_copy.h5");
    std::fs::copy(dir.join("hdf5_groups.h5"), &plain).expect("copy");
    assert!(!cdm::formats::hdf5::is_netcdf4(&plain).expect("reads"));
    // The bes hdf5_handler files are netCDF-4 inside, one of them without _NCProperties.
    for f in [
        "nc4_group_atomic.h5",
        "nc4_group_comp.h5",
        "SimpleGroup.nc4.h5",
    ] {
        let copy = dir.join(format!("bes_{f}"));
        std::fs::copy(bes_data().join(f), &copy).expect("copy");
        assert!(cdm::formats::hdf5::is_netcdf4(&copy).expect("reads"), "{f}");
    }
}

#[test]
fn netcdf4_files_read_as_plain_hdf5_keep_their_dimensions() {
    // Forced through the HDF5 source, netCDF-4's scales still give netCDF's dimensions, and
    // its dimension-only scales are dimensions without variables.
    let dir = samples();
    let copy = dir.join("simple_group_forced.h5");
    std::fs::copy(bes_data().join("SimpleGroup.nc4.h5"), &copy).expect("copy");
    let src = Hdf5Source::open(&copy, None).expect("opens");
    let ds = src.dataset();
    assert_eq!(ds.dimension("/nv").map(|d| d.len), Some(2));
    assert!(ds.variable("/nv").is_none());
    assert_eq!(dim_paths(ds, "/time_bnds"), ["/time", "/nv"]);
    assert_eq!(
        dim_paths(ds, "/SimpleGroup/Temperature"),
        ["/time", "/SimpleGroup/Y", "/SimpleGroup/X"]
    );
    assert!(ds.root.attribute("_NCProperties").is_none());
    assert!(
        ds.all_variables()
            .all(|v| v.attribute("_Netcdf4Dimid").is_none() && v.attribute("CLASS").is_none())
    );
}
