//! The `.dap` wire form checked against peers' real responses: the TDS responses in netcdf-c's
//! `dap4_test/rawtestfiles` for the framing and the data layout of every netCDF-4 type (and the
//! constrained cases), and a Hyrax response from pydap's test data for the CRC32.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use cdm::{ByteStream, DataType, Dataset, Format, Group, Hyperslab, Source, Storage, VarDim};
use dap4::chunk::{self, flags};
use dap4::{Constraint, ce};
use futures::StreamExt;
use quick_xml::events::Event;

fn conformance() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance")
}

fn raw_dir() -> PathBuf {
    conformance().join("netcdf-c/dap4_test/rawtestfiles")
}

/// The netCDF files built from the CDL the TDS responses were made from (`ncgen -4`, Debian
/// netcdf-bin 4.9.0).
fn nc_file(stem: &str) -> PathBuf {
    conformance().join(format!("generated/dap4_cdl_ncgen-4.9.0/{stem}.nc"))
}

/// A whole `.dap` response as bytes.
async fn encode(source: Arc<dyn Source>, c: &Constraint, checksums: bool) -> Vec<u8> {
    let dmr = dap4::dmr::render(source.dataset(), c).expect("DMR");
    let stream = dap4::data::response(source, &dmr, c, checksums).expect("encodes");
    let parts: Vec<Bytes> = stream.map(|r| r.expect("infallible")).collect().await;
    parts.iter().flat_map(|b| b.to_vec()).collect()
}

/// The DMR text and the joined data chunks of a response.
fn dmr_and_data(wire: &[u8]) -> (String, Vec<u8>) {
    let chunks = chunk::split(wire).expect("a framed response");
    let dmr = String::from_utf8(chunks[0].data.to_vec()).expect("UTF-8 DMR");
    let data = chunks[1..].iter().flat_map(|c| c.data.to_vec()).collect();
    (dmr, data)
}

fn open(path: &Path) -> Arc<dyn Source> {
    cdm::catalog::open(path, None).expect("opens")
}

fn bind(ds: &Dataset, text: &str) -> Constraint {
    Constraint::bind(ds, &ce::parse(text).expect("parses")).expect("binds")
}

/// Fully qualified names of the top-level variables a DMR declares, in document order.
fn top_level_variables(dmr: &str) -> Vec<String> {
    const VARIABLE_TAGS: &[&str] = &[
        "Char",
        "Int8",
        "UInt8",
        "Byte",
        "Int16",
        "UInt16",
        "Int32",
        "UInt32",
        "Int64",
        "UInt64",
        "Float32",
        "Float64",
        "String",
        "URL",
        "Opaque",
        "Enum",
        "Structure",
        "Sequence",
    ];
    let mut reader = quick_xml::Reader::from_str(dmr);
    let mut groups: Vec<String> = Vec::new();
    // Depth inside a variable: its children are not top-level variables.
    let mut inside_variable = 0usize;
    let mut out = Vec::new();
    loop {
        let event = reader.read_event().expect("well-formed DMR");
        let (start, empty) = match &event {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            Event::End(e) => {
                let name = e.name().as_ref().to_owned();
                if inside_variable > 0 {
                    inside_variable -= 1;
                } else if name == "Group" {
                    groups.pop();
                }
                continue;
            }
            Event::Eof => return out,
            _ => continue,
        };
        let Some(e) = start else { continue };
        let tag = e.name().as_ref().to_owned();
        let name = e.try_get_attribute("name").ok().flatten().map(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .expect("attribute")
                .into_owned()
        });
        if inside_variable > 0 {
            if !empty {
                inside_variable += 1;
            }
        } else if tag == "Group" {
            groups.push(name.unwrap_or_default());
        } else if VARIABLE_TAGS.contains(&tag.as_str()) {
            let mut path = String::new();
            for g in &groups {
                path.push('/');
                path.push_str(g);
            }
            path.push('/');
            path.push_str(&name.unwrap_or_default());
            out.push(path);
            if !empty {
                inside_variable = 1;
            }
        } else if !empty && tag != "Dataset" {
            // <Attribute>, <Enumeration>, <Dimension>: skip what is inside.
            inside_variable = 1;
        }
    }
}

/// The raw TDS responses the data comparison covers, and why some are left out.
fn unconstrained_raw_stems() -> Vec<String> {
    let mut stems: Vec<String> = std::fs::read_dir(raw_dir())
        .expect("rawtestfiles")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".nc.dap").map(str::to_owned))
        .filter(|stem| !stem.contains('.'))
        .collect();
    stems.sort();
    stems
}

#[test]
fn tds_raw_responses_frame_as_fathom_reads_them() {
    let mut files = 0;
    for entry in std::fs::read_dir(raw_dir()).expect("rawtestfiles") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("dap") {
            continue;
        }
        let wire = std::fs::read(&path).expect("readable");
        let chunks = chunk::split(&wire).expect("framed");
        assert!(chunks.len() >= 2, "{}: DMR and data", path.display());
        assert_eq!(
            chunks[0].flags & flags::LITTLE_ENDIAN,
            flags::LITTLE_ENDIAN,
            "{}",
            path.display()
        );
        assert!(chunks[0].data.ends_with(b"\r\n"), "{}", path.display());
        let dmr_file = path.with_extension("dmr");
        let expected = std::fs::read_to_string(&dmr_file).expect("the .dmr beside it");
        // The chunk holds the DMR (TDS sometimes adds a `_dap4.ce` attribute to it).
        let got = String::from_utf8_lossy(chunks[0].data);
        assert!(got.trim_end().ends_with("</Dataset>"), "{}", path.display());
        assert_eq!(
            top_level_variables(&got),
            top_level_variables(&expected),
            "{}",
            path.display()
        );
        let last = chunks.last().expect("one chunk at least");
        assert_eq!(last.flags & flags::END, flags::END);
        files += 1;
    }
    assert!(files >= 40, "only {files} raw responses found");
}

/// For every unconstrained TDS response, fathom's data bytes for the same file (without
/// checksums, like the raw responses) are the TDS bytes, variable by variable.
#[tokio::test]
async fn data_bytes_equal_tds_for_every_type() {
    // TDS answers a vlen of vlens with a single level of counts (its own bug): see
    // CONFORMANCE.md.
    const TDS_WRONG: &[&str] = &["test_vlen11"];
    let mut compared = 0;
    for stem in unconstrained_raw_stems() {
        if TDS_WRONG.contains(&stem.as_str()) || !nc_file(&stem).exists() {
            continue;
        }
        let wire = std::fs::read(raw_dir().join(format!("{stem}.nc.dap"))).expect("raw");
        let (tds_dmr, tds_data) = dmr_and_data(&wire);
        let source = open(&nc_file(&stem));
        let ds = Arc::clone(source.dataset());
        // TDS orders variables its own way: assemble ours in its order. TDS sends a char
        // array as `Char`s, fathom as `String`s without the last dimension (see the crate
        // docs): turn TDS's chars into those strings before comparing.
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        let mut at = 0;
        for path in top_level_variables(&tds_dmr) {
            let c = bind(&ds, &path);
            let (_, data) = dmr_and_data(&encode(Arc::clone(&source), &c, false).await);
            let var = ds.variable(&path).expect("declared");
            if var.dtype == DataType::Char && !var.dims.is_empty() {
                let strlen = var.dims.last().map_or(1, |d| d.len);
                let chars = &tds_data[at..at + var.shape().iter().product::<usize>()];
                at += chars.len();
                for s in chars.chunks(strlen) {
                    let text = s
                        .iter()
                        .rposition(|&b| b != 0)
                        .map_or(&s[..0], |i| &s[..=i]);
                    theirs.extend_from_slice(&(text.len() as u64).to_le_bytes());
                    theirs.extend_from_slice(text);
                }
            } else {
                theirs.extend_from_slice(&tds_data[at..at + data.len()]);
                at += data.len();
            }
            ours.extend(data);
        }
        assert_eq!(at, tds_data.len(), "{stem}");
        assert_eq!(ours, theirs, "{stem}");
        // And the whole response holds the same bytes when TDS's order is ours.
        let (_, whole) =
            dmr_and_data(&encode(Arc::clone(&source), &Constraint::all(&ds), false).await);
        assert_eq!(whole.len(), theirs.len(), "{stem}");
        compared += 1;
    }
    assert!(compared >= 30, "only {compared} files compared");
}

/// The constrained TDS responses (netcdf-c `d4manifest.sh` `constrained_manifest`): the same
/// expression gives the same values.
#[tokio::test]
async fn constrained_data_equals_tds() {
    let cases = [
        (
            "test_atomic_array",
            1,
            "/vu8[1][0:2:2];/vd[1];/vs[1][0];/vo[0][1]",
        ),
        ("test_atomic_array", 2, "/v16[0:1,3]"),
        ("test_atomic_array", 3, "/v16[3,0:1]"),
        ("test_one_vararray", 4, "/t[1]"),
        ("test_one_vararray", 5, "/t[0:1]"),
        ("test_enum_array", 6, "/primary_cloud[1:2:4]"),
        ("test_opaque_array", 7, "/vo2[1][0:1]"),
        ("test_struct_array", 8, "/s[0:2:3][0:1]"),
    ];
    for (stem, n, text) in cases {
        let wire = std::fs::read(raw_dir().join(format!("{stem}.{n}.nc.dap"))).expect("raw");
        let (tds_dmr, tds_data) = dmr_and_data(&wire);
        let source = open(&nc_file(stem));
        let c = bind(source.dataset(), text);
        let (dmr, data) = dmr_and_data(&encode(Arc::clone(&source), &c, false).await);
        assert_eq!(data, tds_data, "{stem}.{n}: {text}");
        // The sliced dimensions are anonymous, with the sizes TDS gives them.
        let sizes = |d: &str| -> Vec<String> {
            d.match_indices("<Dim size=\"")
                .map(|(i, _)| d[i..].split('"').nth(1).unwrap_or_default().to_owned())
                .collect()
        };
        assert_eq!(sizes(&dmr), sizes(&tds_dmr), "{stem}.{n}: {text}\n{dmr}");
    }
}

/// A one-variable in-memory dataset.
#[derive(Debug)]
struct MemorySource {
    dataset: Arc<Dataset>,
    values: Bytes,
}

impl Source for MemorySource {
    fn dataset(&self) -> &Arc<Dataset> {
        &self.dataset
    }

    fn read(&self, _path: &str, slab: &Hyperslab) -> ByteStream {
        assert!(
            slab.is_full(&self.dataset.root.variables[0].shape()),
            "whole reads only"
        );
        let values = self.values.clone();
        Box::pin(futures::stream::once(async move { Ok(values) }))
    }
}

/// Hyrax's answer for `coads_climatology.nc.dap?dap4.ce=SST[0][0:3][0:3]` (pydap's test data)
/// carries a CRC32 after the variable; fathom's encoder, given the same values, writes the same
/// data chunk bytes, CRC included.
#[tokio::test]
async fn crc32_matches_hyrax() {
    let path =
        conformance().join("pydap-3.5.10/src/pydap/tests/data/daps/coads_climatology.nc.dap");
    let wire = std::fs::read(path).expect("Hyrax response");
    let (_, hyrax_data) = dmr_and_data(&wire);
    assert_eq!(hyrax_data.len(), 16 * 4 + 4);
    let dims: Vec<VarDim> = [1, 4, 4].into_iter().map(VarDim::anonymous).collect();
    let sst = cdm::Variable {
        name: "SST".into(),
        path: "/SST".into(),
        dtype: DataType::Float32,
        dims,
        attributes: vec![],
        storage: Storage::default(),
    };
    let dataset = Arc::new(Dataset {
        name: "coads_climatology.nc".into(),
        format: Format::NetCdf3Classic,
        root: Group {
            path: "/".into(),
            variables: vec![sst],
            ..Group::default()
        },
    });
    let source: Arc<dyn Source> = Arc::new(MemorySource {
        values: Bytes::copy_from_slice(&hyrax_data[..64]),
        dataset: Arc::clone(&dataset),
    });
    let wire = encode(source, &Constraint::all(&dataset), true).await;
    let chunks = chunk::split(&wire).expect("framed");
    assert_eq!(chunks[0].flags, flags::LITTLE_ENDIAN, "no NO_CHECKSUM flag");
    let (_, data) = dmr_and_data(&wire);
    assert_eq!(data, hyrax_data);
    // The CRC-32 check value, for the polynomial itself.
    assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
}

/// With checksums, each top-level variable of a whole-file response is followed by the CRC32
/// of its bytes as TDS sends them; without, the first chunk says so with flag 0x08.
#[tokio::test]
async fn checksums_follow_each_variable() {
    for stem in [
        "test_atomic_types",
        "test_groups1",
        "test_struct_array",
        "test_vlen2",
    ] {
        let wire = std::fs::read(raw_dir().join(format!("{stem}.nc.dap"))).expect("raw");
        let (tds_dmr, _) = dmr_and_data(&wire);
        let source = open(&nc_file(stem));
        let ds = Arc::clone(source.dataset());
        let mut expected = Vec::new();
        for path in ds.all_variables().map(|v| v.path.clone()) {
            let c = bind(&ds, &path);
            let (_, var_bytes) = dmr_and_data(&encode(Arc::clone(&source), &c, false).await);
            // The variable is one TDS sends (same bytes, checked above).
            assert!(
                top_level_variables(&tds_dmr).contains(&path),
                "{stem}: {path}"
            );
            expected.extend_from_slice(&var_bytes);
            expected.extend_from_slice(&crc32fast::hash(&var_bytes).to_le_bytes());
        }
        let with = encode(Arc::clone(&source), &Constraint::all(&ds), true).await;
        assert_eq!(dmr_and_data(&with).1, expected, "{stem}");
        assert_eq!(
            chunk::split(&with).expect("framed")[0].flags,
            flags::LITTLE_ENDIAN
        );
        let without = encode(Arc::clone(&source), &Constraint::all(&ds), false).await;
        assert_eq!(
            chunk::split(&without).expect("framed")[0].flags,
            flags::LITTLE_ENDIAN | flags::NO_CHECKSUM
        );
    }
}
