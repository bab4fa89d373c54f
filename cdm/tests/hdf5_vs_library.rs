//! `Source::read` of the HDF5 source against hdf5-metno's own reads of the same datasets.
//!
//! The source reads one set of sample files; the truth is read from copies of them (another
//! file to HDF5), so no HDF5 file is ever open twice in the process. Numeric datasets are
//! compared on random strided hyperslabs, through the engine and through the library path;
//! strings, compounds, enums, sequences and HDF5 array types on whole datasets and strided
//! selections with typed hdf5-metno reads.

mod common;

use common::{runtime, slab_from};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use cdm::engine::cache::ChunkCache;
use cdm::formats::hdf5::Hdf5Source;
use cdm::{DataType, Hyperslab, Range, Source, read_all};
use hdf5::types::{FixedAscii, VarLenArray, VarLenUnicode};
use hdf5::{H5Type, SliceOrIndex};
use proptest::prelude::*;

/// (folder the source reads, folder of truth copies).
fn sample_dirs() -> &'static (PathBuf, PathBuf) {
    static DIRS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    DIRS.get_or_init(|| {
        let base = std::env::temp_dir().join(format!("fathom-hdf5-vs-lib-{}", std::process::id()));
        let served = base.join("served");
        let truth = base.join("truth");
        let files = testdata::write_samples(&served).expect("samples are written");
        std::fs::create_dir_all(&truth).expect("truth dir");
        for f in files
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "h5"))
        {
            std::fs::copy(f, truth.join(f.file_name().expect("name"))).expect("copy");
        }
        (served, truth)
    })
}

const FILES: [&str; 4] = [
    "hdf5_groups.h5",
    "hdf5_types.h5",
    "hdf5_chunked.h5",
    "hdf5_references.h5",
];

fn open_all(cache: &ChunkCache) -> Vec<(String, Arc<Hdf5Source>)> {
    let (served, _) = sample_dirs();
    FILES
        .iter()
        .map(|f| {
            let src = Hdf5Source::open(&served.join(f), Some(cache)).expect("opens");
            ((*f).to_owned(), Arc::new(src))
        })
        .collect()
}

/// hdf5-metno's selection for `slab`.
fn selection(slab: &Hyperslab) -> hdf5::Selection {
    let parts: Vec<SliceOrIndex> = slab
        .ranges()
        .iter()
        .map(|r| SliceOrIndex::SliceCount {
            start: r.start,
            step: r.stride,
            count: r.count,
            block: 1,
        })
        .collect();
    hdf5::Selection::from(hdf5::Hyperslab::from(parts))
}

/// What hdf5-metno reads for `slab` of numeric dataset `path`, little-endian; `None` for an HDF5
/// array type (whose extra dimensions hdf5-metno cannot select).
fn numeric_truth(file: &Path, path: &str, dtype: &DataType, slab: &Hyperslab) -> Option<Vec<u8>> {
    let f = hdf5::File::open(file).expect("truth opens");
    let ds = f.dataset(path).expect("dataset");
    if ds.ndim() != slab.rank() {
        return None;
    }
    macro_rules! read {
        ($t:ty) => {{
            let values: Vec<$t> = if slab.rank() == 0 {
                ds.read_raw::<$t>().expect("scalar read")
            } else {
                ds.read_slice::<$t, _, ndarray::IxDyn>(selection(slab))
                    .expect("strided read")
                    .iter()
                    .copied()
                    .collect()
            };
            values.iter().flat_map(|v| v.to_le_bytes()).collect()
        }};
    }
    Some(match dtype {
        DataType::Int8 => read!(i8),
        DataType::UInt8 => read!(u8),
        DataType::Int16 => read!(i16),
        DataType::UInt16 => read!(u16),
        DataType::Int32 => read!(i32),
        DataType::UInt32 => read!(u32),
        DataType::Int64 => read!(i64),
        DataType::UInt64 => read!(u64),
        DataType::Float32 => read!(f32),
        DataType::Float64 => read!(f64),
        other => panic!("not numeric: {other:?}"),
    })
}

async fn library_read(src: &Hdf5Source, path: &str, slab: &Hyperslab) -> cdm::Result<Vec<u8>> {
    use futures::StreamExt;
    let mut s = src.read_with_library(path, slab);
    let mut out = Vec::new();
    while let Some(b) = s.next().await {
        out.extend_from_slice(&b?);
    }
    Ok(out)
}

#[test]
fn every_numeric_dataset_matches_hdf5_whole_and_the_engine_reads_the_plain_ones() {
    let rt = runtime();
    let cache = ChunkCache::new(32 << 20);
    let (_, truth) = sample_dirs();
    let mut compared = 0;
    let mut by_engine = Vec::new();
    for (name, src) in open_all(&cache) {
        for v in src.dataset().all_variables() {
            if !v.dtype.is_numeric() {
                continue;
            }
            let slab = Hyperslab::full(&v.shape());
            let Some(want) = numeric_truth(&truth.join(&name), &v.path, &v.dtype, &slab) else {
                continue;
            };
            let got = rt.block_on(read_all(&*src, &v.path, &slab)).expect("reads");
            let lib = rt
                .block_on(library_read(&src, &v.path, &slab))
                .expect("reads");
            assert_eq!(got, want, "{name} {}", v.path);
            assert_eq!(lib, want, "library path of {name} {}", v.path);
            compared += 1;
            if src.uses_engine(&v.path) {
                by_engine.push(format!("{name}{}", v.path));
            }
        }
    }
    assert!(compared >= 20, "only {compared} numeric datasets");
    // Contiguous, chunked+filtered, big-endian, sparse and never-written datasets all go
    // through the engine; compact storage and converted types (none here) do not.
    for expected in [
        "hdf5_chunked.h5/field",
        "hdf5_chunked.h5/sparse",
        "hdf5_chunked.h5/big_endian",
        "hdf5_chunked.h5/contiguous",
        "hdf5_chunked.h5/unwritten",
        "hdf5_groups.h5/lon",
        "hdf5_groups.h5/time",
        "hdf5_groups.h5/forecast/surface/pressure",
    ] {
        assert!(
            by_engine.iter().any(|p| p == expected),
            "{expected} not by the engine"
        );
    }
    assert!(!by_engine.iter().any(|p| p == "hdf5_types.h5/compact"));
}

#[test]
fn unwritten_storage_reads_as_the_datasets_fill_value() {
    let rt = runtime();
    let cache = ChunkCache::new(8 << 20);
    let (served, _) = sample_dirs();
    let src = Hdf5Source::open(&served.join("hdf5_chunked.h5"), Some(&cache)).expect("opens");
    let all = rt
        .block_on(read_all(&src, "/unwritten", &Hyperslab::full(&[25])))
        .expect("reads");
    assert_eq!(all, 3.5_f32.to_le_bytes().repeat(25));
    // A chunk of `sparse` off the written diagonal.
    let slab = Hyperslab::new(
        vec![
            Range::new(0, 2, 1, 50).expect("r"),
            Range::new(40, 2, 3, 60).expect("r"),
        ],
        &[50, 60],
    )
    .expect("slab");
    let got = rt
        .block_on(read_all(&src, "/sparse", &slab))
        .expect("reads");
    assert_eq!(got, (-32000_i16).to_le_bytes().repeat(4));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn random_strided_hyperslabs_match_hdf5(
        var_pick in any::<prop::sample::Index>(),
        seeds in prop::collection::vec((any::<u32>(), any::<u32>(), any::<u32>()), 1..5),
        through_library in any::<bool>(),
    ) {
        thread_local! {
            static STATE: (tokio::runtime::Runtime, Vec<(String, Arc<Hdf5Source>, cdm::Variable)>) = {
                let cache = ChunkCache::new(16 << 20);
                let vars = open_all(&cache)
                    .into_iter()
                    .flat_map(|(name, src)| {
                        let vars: Vec<_> = src
                            .dataset()
                            .all_variables()
                            .filter(|v| v.dtype.is_numeric() && !v.dims.is_empty())
                            .cloned()
                            .collect();
                        vars.into_iter().map(move |v| (name.clone(), Arc::clone(&src), v))
                    })
                    .collect();
                (runtime(), vars)
            };
        }
        STATE.with(|(rt, vars)| {
            let (name, src, v) = var_pick.get(vars);
            let slab = slab_from(&v.shape(), &seeds, 5);
            let got = if through_library {
                rt.block_on(library_read(src, &v.path, &slab))
            } else {
                rt.block_on(read_all(&**src, &v.path, &slab))
            }
            .expect("reads");
            let Some(want) = numeric_truth(&sample_dirs().1.join(name), &v.path, &v.dtype, &slab)
            else {
                return Ok(());
            };
            prop_assert_eq!(got, want, "{} {} {:?}", name, v.path, slab);
            Ok(())
        })?;
    }
}

/// Canonical encoding of one string.
fn canonical_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s);
}

#[derive(H5Type, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i8)]
// The variants are made by HDF5's conversion of the file's values, never in this code.
#[allow(dead_code)]
enum Cloud {
    Clear = 0,
    Scattered = 1,
    Broken = 2,
    Overcast = 8,
    Missing = -1,
}

#[derive(H5Type, Clone, Copy, Debug)]
#[repr(C)]
struct Position {
    level: u8,
    height_m: f32,
}

#[derive(H5Type, Clone, Debug)]
#[repr(C)]
struct Observation {
    station_id: i32,
    temperature: f64,
    sky: Cloud,
    wind: [f32; 2],
    code: FixedAscii<6>,
    comment: VarLenUnicode,
    position: Position,
}

#[derive(H5Type, Clone, Copy, Debug)]
#[repr(C)]
struct Pair {
    first: i16,
    second: u64,
}

#[test]
fn strings_compounds_enums_sequences_and_arrays_match_hdf5() {
    let rt = runtime();
    let (served, truth) = sample_dirs();
    let src = Hdf5Source::open(&served.join("hdf5_types.h5"), None).expect("opens");
    let read =
        |path: &str, slab: &Hyperslab| rt.block_on(read_all(&src, path, slab)).expect("reads");
    let f = hdf5::File::open(truth.join("hdf5_types.h5")).expect("truth");

    // A committed compound with padding, nested record, enum, array and string members.
    let obs: Vec<Observation> = f
        .dataset("observations")
        .expect("ds")
        .read_raw()
        .expect("read");
    let mut want = Vec::new();
    for o in &obs {
        want.extend_from_slice(&o.station_id.to_le_bytes());
        want.extend_from_slice(&o.temperature.to_le_bytes());
        want.push(o.sky as i8 as u8);
        for w in o.wind {
            want.extend_from_slice(&w.to_le_bytes());
        }
        canonical_string(&mut want, o.code.as_bytes());
        canonical_string(&mut want, o.comment.as_bytes());
        want.push(o.position.level);
        want.extend_from_slice(&o.position.height_m.to_le_bytes());
    }
    assert_eq!(read("/observations", &Hyperslab::full(&[4])), want);
    // Every other record: the same bytes, strided.
    let odd = Hyperslab::new(vec![Range::new(1, 2, 2, 4).expect("r")], &[4]).expect("slab");
    let whole = read("/observations", &Hyperslab::full(&[4]));
    let parts = cdm::encoding::split_elements(
        &src.dataset().variable("/observations").expect("v").dtype,
        &whole,
    )
    .expect("splits");
    assert_eq!(read("/observations", &odd), [parts[1], parts[3]].concat());

    // An anonymous 2-D compound.
    let pairs: Vec<Pair> = f.dataset("pairs").expect("ds").read_raw().expect("read");
    let want: Vec<u8> = pairs
        .iter()
        .flat_map(|p| {
            [
                p.first.to_le_bytes().to_vec(),
                p.second.to_le_bytes().to_vec(),
            ]
            .concat()
        })
        .collect();
    assert_eq!(read("/pairs", &Hyperslab::full(&[2, 3])), want);

    // Enums read as their base integers.
    let sky: Vec<Cloud> = f.dataset("sky").expect("ds").read_raw().expect("read");
    let want: Vec<u8> = sky.iter().map(|c| *c as i8 as u8).collect();
    assert_eq!(read("/sky", &Hyperslab::full(&[5])), want);

    // Variable-length sequences, one empty.
    let ragged: Vec<VarLenArray<i32>> = f.dataset("ragged").expect("ds").read_raw().expect("r");
    let mut want = Vec::new();
    for r in &ragged {
        want.extend_from_slice(&(r.len() as u64).to_le_bytes());
        for x in r.as_slice() {
            want.extend_from_slice(&x.to_le_bytes());
        }
    }
    assert_eq!(read("/ragged", &Hyperslab::full(&[4])), want);

    // 2-D variable-length strings, strided.
    let labels: Vec<VarLenUnicode> = f.dataset("labels").expect("ds").read_raw().expect("r");
    let slab = Hyperslab::new(
        vec![Range::full(2), Range::new(0, 2, 2, 3).expect("r")],
        &[2, 3],
    )
    .expect("slab");
    let mut want = Vec::new();
    for i in [0usize, 2, 3, 5] {
        canonical_string(&mut want, labels[i].as_bytes());
    }
    assert_eq!(read("/labels", &slab), want);

    // Fixed-length strings lose their padding; one-byte strings are chars.
    let fixed: Vec<FixedAscii<5>> = f
        .dataset("fixed_nullterm")
        .expect("ds")
        .read_raw()
        .expect("r");
    let mut want = Vec::new();
    for s in &fixed {
        canonical_string(&mut want, s.as_bytes());
    }
    assert_eq!(read("/fixed_nullterm", &Hyperslab::full(&[3])), want);
    assert_eq!(read("/compass", &Hyperslab::full(&[4])), b"NSEW");

    // An HDF5 array type: its dimensions follow the dataset's, and can be sliced.
    let blocks: Vec<[[i16; 3]; 2]> = f.dataset("blocks").expect("ds").read_raw().expect("r");
    let v = src.dataset().variable("/blocks").expect("v");
    assert_eq!(v.shape(), vec![4, 2, 3]);
    let slab = Hyperslab::new(
        vec![
            Range::new(1, 2, 2, 4).expect("r"),
            Range::new(1, 1, 1, 2).expect("r"),
            Range::new(0, 2, 2, 3).expect("r"),
        ],
        &[4, 2, 3],
    )
    .expect("slab");
    let want: Vec<u8> = [
        blocks[1][1][0],
        blocks[1][1][2],
        blocks[3][1][0],
        blocks[3][1][2],
    ]
    .iter()
    .flat_map(|x| x.to_le_bytes())
    .collect();
    assert_eq!(read("/blocks", &slab), want);
}

#[test]
fn reads_that_do_not_fit_are_errors() {
    let rt = runtime();
    let (served, _) = sample_dirs();
    let src = Hdf5Source::open(&served.join("hdf5_groups.h5"), None).expect("opens");
    let bad = Hyperslab::full(&[3]);
    assert!(
        rt.block_on(read_all(&src, "/surface_temperature", &bad))
            .is_err()
    );
    assert!(matches!(
        rt.block_on(read_all(&src, "/nope", &bad)),
        Err(cdm::Error::NoSuchVariable(_))
    ));
}
