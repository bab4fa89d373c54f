//! Library behaviours fathom works around, each with the file that shows it.

use cdm::{Hyperslab, Range, read_all};

/// A netCDF-4 file whose variable `b` has 2 records of an unlimited dimension that `a` fills
/// to 6: netCDF-C 4.9.0 returns only fill values for a strided read of `b` reaching past its
/// second record.
fn write_ragged(path: &std::path::Path) {
    let mut f = netcdf::create(path).expect("create");
    f.add_unlimited_dimension("t").expect("dim");
    f.add_dimension("x", 5).expect("dim");
    let mut a = f.add_variable::<i32>("a", &["t", "x"]).expect("var");
    a.put_values(&(0..30).collect::<Vec<i32>>(), [0..6, 0..5])
        .expect("a");
    let mut b = f.add_variable::<f32>("b", &["t", "x"]).expect("var");
    b.put_values(&[1.0f32; 10], [0..2, 0..5]).expect("b");
    let mut s = f.add_string_variable("s", &["t"]).expect("var");
    for (i, text) in ["zero", "one", "two"].iter().enumerate() {
        s.put_string(text, [i]).expect("s");
    }
}

#[tokio::test]
async fn strided_reads_past_a_variables_written_records_are_right() {
    let dir = std::env::temp_dir().join(format!("fathom-quirks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("ragged.nc");
    write_ragged(&path);
    let src = cdm::catalog::open(&path, Some(&cdm::engine::cache::ChunkCache::new(1 << 20)))
        .expect("opens");
    let fill = 9.969_21e36_f32;
    let slab = Hyperslab::new(
        vec![Range::new(1, 3, 2, 6).expect("fits"), Range::full(5)],
        &[6, 5],
    )
    .expect("valid");
    let got: Vec<f32> = read_all(&*src, "/b", &slab)
        .await
        .expect("reads")
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let mut want = vec![1.0f32; 5];
    want.extend([fill; 10]);
    assert_eq!(got, want);

    // Strings (always read through the library) take the same path.
    let slab = Hyperslab::new(vec![Range::new(0, 3, 2, 6).expect("fits")], &[6]).expect("valid");
    let got = read_all(&*src, "/s", &slab).await.expect("reads");
    let strings: Vec<String> = cdm::encoding::split_elements(&cdm::DataType::String, &got)
        .expect("whole strings")
        .iter()
        .map(|e| String::from_utf8_lossy(&e[8..]).into_owned())
        .collect();
    assert_eq!(strings, ["zero", "two", ""]);
    std::fs::remove_dir_all(&dir).ok();
}
