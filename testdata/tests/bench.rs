//! The benchmark files, checked for the shapes, storage and compression the benchmarks assume.
//! Ignored by default: `x_wind.nc` is ~53 MB and takes a while in a debug build
//! (`cargo test -p testdata --release -- --ignored`).

mod support;

use netcdf::types::{FloatType, NcVariableType};
use support::{RawReader, ScratchDir};
use testdata::write_bench_files;

#[test]
#[ignore = "writes ~57 MB; run with --ignored"]
fn bench_files_have_the_promised_layout_and_compression() {
    let scratch = ScratchDir::new("bench");
    let paths = write_bench_files(scratch.path()).expect("bench files are written");
    assert_eq!(paths.len(), 2);

    let coads = netcdf::open(&paths[0]).expect("coads_like.nc opens");
    for name in ["SST", "AIRT", "UWND", "VWND"] {
        let variable = coads.variable(name).expect("variable exists");
        assert_eq!(variable.vartype(), NcVariableType::Float(FloatType::F32));
        assert_eq!(variable.len(), 12 * 90 * 180);
        assert_eq!(variable.chunking().expect("reads"), Some(vec![1, 90, 180]));
        assert_eq!(variable.fill_value::<f32>().expect("reads"), Some(-1.0e34));
        let values: Vec<f32> = variable.get_values(..).expect("reads");
        let land = values.iter().filter(|&&value| value == -1.0e34).count();
        assert!(
            land > values.len() / 10 && land < values.len() / 2,
            "{name}: {land} land cells"
        );
    }
    assert_eq!(
        RawReader::open(&paths[0]).filters("SST"),
        (false, None, false)
    );

    let wind_file = netcdf::open(&paths[1]).expect("x_wind.nc opens");
    let wind = wind_file.variable("x_wind").expect("x_wind");
    let dims: Vec<(String, usize)> = wind
        .dimensions()
        .iter()
        .map(|dimension| (dimension.name(), dimension.len()))
        .collect();
    assert_eq!(
        dims,
        [
            ("time".to_owned(), 36),
            ("level".to_owned(), 65),
            ("y".to_owned(), 1),
            ("x".to_owned(), 20_000)
        ]
    );
    assert_eq!(
        wind.chunking().expect("reads"),
        Some(vec![1, 13, 1, 20_000])
    );
    assert_eq!(
        RawReader::open(&paths[1]).filters("x_wind"),
        (true, Some(4), false)
    );
    let raw_bytes = 36.0 * 65.0 * 20_000.0 * 4.0;
    #[allow(clippy::cast_precision_loss)]
    let file_bytes = std::fs::metadata(&paths[1]).expect("written").len() as f64;
    let ratio = raw_bytes / file_bytes;
    eprintln!("x_wind.nc: {file_bytes} bytes, compression {ratio:.3}x");
    assert!((3.3..3.7).contains(&ratio), "compression ratio {ratio:.3}");
}
