//! `Source::read` on every sample file against the `netcdf` crate's own strided reads: for every
//! variable of a fixed-size or string type and random hyperslabs with strides, the values are the
//! same.
//!
//! The two never have the same file open at once: HDF5 shares state between two opens of one
//! file, which fathom avoids in the server as well.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use cdm::{DataType, Hyperslab, Range, read_all};
use proptest::prelude::*;

fn samples() -> &'static Vec<PathBuf> {
    static FILES: OnceLock<Vec<PathBuf>> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("fathom-cdm-samples-{}", std::process::id()));
        let mut files = testdata::write_samples(&dir).expect("samples are written");
        // The plain HDF5 samples are served by the HDF5 source (tests/hdf5_*.rs).
        files.retain(|p| p.extension().is_some_and(|e| e == "nc"));
        files.sort();
        files
    })
}

/// The values the netcdf crate reads for `slab`, in fathom's canonical encoding.
fn truth(file: &std::path::Path, path: &str, slab: &Hyperslab) -> Vec<u8> {
    let f = netcdf::open(file).expect("netcdf crate opens the sample");
    // The crate resolves `group/sub/var` paths itself.
    let var = f
        .variable(path.trim_start_matches('/'))
        .expect("variable exists");
    match var.vartype() {
        netcdf::types::NcVariableType::String => {
            // One element at a time: the crate reads strings singly.
            let mut out = Vec::new();
            let mut idx = vec![0usize; slab.rank()];
            for _ in 0..slab.len() {
                let at: Vec<netcdf::Extent> = slab
                    .ranges()
                    .iter()
                    .zip(&idx)
                    .map(|(r, &i)| netcdf::Extent::Index(r.start + i * r.stride))
                    .collect();
                let s = var
                    .get_string(netcdf::Extents::Extent(at))
                    .expect("string read");
                out.extend_from_slice(&(s.len() as u64).to_le_bytes());
                out.extend_from_slice(s.as_bytes());
                for d in (0..idx.len()).rev() {
                    idx[d] += 1;
                    if idx[d] < slab.ranges()[d].count {
                        break;
                    }
                    idx[d] = 0;
                }
            }
            out
        }
        _ => {
            // The stride-1 box around the selection, then the selected elements: netCDF-C 4.9.0
            // answers strided reads past a variable's written records with fill values, so the
            // truth must not ask it for a stride.
            let boxed: Vec<netcdf::Extent> = slab
                .ranges()
                .iter()
                .map(|r| netcdf::Extent::SliceCount {
                    start: r.start,
                    count: r.last() - r.start + 1,
                    stride: 1,
                })
                .collect();
            let raw = var
                .get_raw_values(netcdf::Extents::Extent(boxed))
                .expect("raw read");
            let elem = var.vartype().size();
            let spans: Vec<usize> = slab
                .ranges()
                .iter()
                .map(|r| r.last() - r.start + 1)
                .collect();
            let mut out = Vec::with_capacity(slab.len() * elem);
            let mut idx = vec![0usize; slab.rank()];
            for _ in 0..slab.len() {
                let offset = slab
                    .ranges()
                    .iter()
                    .zip(&idx)
                    .zip(&spans)
                    .fold(0usize, |acc, ((r, &i), &span)| acc * span + i * r.stride);
                out.extend_from_slice(&raw[offset * elem..(offset + 1) * elem]);
                for d in (0..idx.len()).rev() {
                    idx[d] += 1;
                    if idx[d] < slab.ranges()[d].count {
                        break;
                    }
                    idx[d] = 0;
                }
            }
            out
        }
    }
}

/// Both readers of one comparison run under this lock, one after the other, so no file is ever
/// open twice at once.
static ONE_OPEN_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// (ours, truth) for one selection.
fn both(
    rt: &tokio::runtime::Runtime,
    file: &std::path::Path,
    path: &str,
    slab: &Hyperslab,
) -> (Vec<u8>, Vec<u8>) {
    let _one = ONE_OPEN_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let want = truth(file, path, slab);
    (ours(rt, file, path, slab), want)
}

fn ours(
    rt: &tokio::runtime::Runtime,
    file: &std::path::Path,
    path: &str,
    slab: &Hyperslab,
) -> Vec<u8> {
    let cache = cdm::engine::cache::ChunkCache::new(8 << 20);
    let src: Arc<dyn cdm::Source> = cdm::catalog::open(file, Some(&cache)).expect("opens");
    rt.block_on(read_all(&*src, path, slab)).expect("reads")
}

/// Every (file, variable path, shape) whose type the netcdf crate reads as plain values.
fn comparable() -> &'static Vec<(PathBuf, String, Vec<usize>)> {
    static VARS: OnceLock<Vec<(PathBuf, String, Vec<usize>)>> = OnceLock::new();
    VARS.get_or_init(|| {
        let mut out = Vec::new();
        let _one = ONE_OPEN_AT_A_TIME
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for f in samples() {
            let src = cdm::catalog::open(f, None).expect("opens");
            for v in src.dataset().all_variables() {
                let plain =
                    v.dtype.is_numeric() || matches!(v.dtype, DataType::Char | DataType::String);
                if plain {
                    out.push((f.clone(), v.path.clone(), v.shape()));
                }
            }
        }
        out
    })
}

#[test]
fn every_sample_variable_reads_whole_like_the_netcdf_crate() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let vars = comparable();
    assert!(vars.len() > 60, "only {} comparable variables", vars.len());
    for (file, path, shape) in vars {
        let slab = Hyperslab::full(shape);
        let (got, want) = both(&rt, file, path, &slab);
        assert_eq!(got, want, "{} {path}", file.display());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn random_strided_hyperslabs_read_like_the_netcdf_crate(
        pick in any::<prop::sample::Index>(),
        seeds in prop::collection::vec((any::<u32>(), any::<u32>(), 1usize..5), 1..5),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let (file, path, shape) = pick.get(comparable());
        let ranges: Vec<Range> = shape
            .iter()
            .zip(seeds.iter().cycle())
            .map(|(&n, &(a, b, stride))| {
                if n == 0 {
                    return Range::full(0);
                }
                let start = a as usize % n;
                let count = 1 + b as usize % (n - start).div_ceil(stride);
                Range::new(start, count, stride, n).expect("fits")
            })
            .collect();
        let slab = Hyperslab::new(ranges, shape).expect("valid");
        let (got, want) = both(&rt, file, path, &slab);
        prop_assert_eq!(got, want, "{} {} {:?}", file.display(), path, slab);
    }
}
