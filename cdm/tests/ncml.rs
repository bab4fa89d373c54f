//! NcML virtual datasets through the catalog: aggregations read the same values as the member
//! files, edits show, changes to any member are seen, and bad NcML fails with a clear message.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cdm::{AttrValue, Catalog, DataType, Error, Hyperslab, Range, read_all};

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Self {
        let d = std::env::temp_dir().join(format!("fathom-ncml-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("dir");
        Self(d.canonicalize().expect("canonical"))
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("dir");
        }
        std::fs::write(&p, text).expect("write");
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A month file: `t(time, y, x)` = 100·time + 10·y + x, `time` = the global time indices.
fn month(path: &Path, first_time: usize, ntime: usize) {
    let mut f = netcdf::create_with(path, netcdf::Options::CLASSIC).expect("create");
    f.add_unlimited_dimension("time").expect("dim");
    f.add_dimension("y", 2).expect("dim");
    f.add_dimension("x", 3).expect("dim");
    f.add_attribute("title", "month").expect("attr");
    let mut time = f.add_variable::<f64>("time", &["time"]).expect("var");
    time.put_attribute("units", "days since 2000-01-01")
        .expect("attr");
    let mut t = f
        .add_variable::<f32>("t", &["time", "y", "x"])
        .expect("var");
    t.put_attribute("units", "K").expect("attr");
    f.add_variable::<i32>("y", &["y"]).expect("var");
    f.enddef().expect("leave define mode");
    let times: Vec<f64> = (first_time..first_time + ntime).map(|i| i as f64).collect();
    f.variable_mut("time")
        .expect("time")
        .put_values(&times, ..)
        .expect("put");
    let mut vals = Vec::new();
    for ti in first_time..first_time + ntime {
        for y in 0..2 {
            for x in 0..3 {
                vals.push((100 * ti + 10 * y + x) as f32);
            }
        }
    }
    f.variable_mut("t")
        .expect("t")
        .put_values(&vals, (0..ntime, 0..2, 0..3))
        .expect("put");
    f.variable_mut("y")
        .expect("y")
        .put_values(&[0i32, 1], ..)
        .expect("put");
    f.close().expect("close");
}

fn floats(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn doubles(b: &[u8]) -> Vec<f64> {
    b.chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8")))
        .collect()
}

fn strings(b: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = b;
    while rest.len() >= 8 {
        let n = u64::from_le_bytes(rest[..8].try_into().expect("8")) as usize;
        out.push(String::from_utf8_lossy(&rest[8..8 + n]).into_owned());
        rest = &rest[8 + n..];
    }
    out
}

fn r(start: usize, count: usize, stride: usize) -> Range {
    Range {
        start,
        count,
        stride,
    }
}

fn catalog(root: &Path) -> Catalog {
    Catalog::new(64, 1 << 20).with_root(root)
}

/// Three members of 2, 3 and 1 time steps.
fn months(d: &Dir) {
    std::fs::create_dir_all(d.0.join("m")).expect("dir");
    month(&d.0.join("m/a.nc"), 0, 2);
    month(&d.0.join("m/b.nc"), 2, 3);
    month(&d.0.join("m/c.nc"), 5, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_existing_reads_across_members_with_strides() {
    let d = Dir::new("join");
    months(&d);
    let ncml = d.write(
        "all.ncml",
        r#"<netcdf xmlns="http://www.unidata.ucar.edu/namespaces/netcdf/ncml-2.2">
             <attribute name="title" value="all months"/>
             <aggregation type="joinExisting" dimName="time">
               <netcdf location="m/a.nc"/>
               <netcdf location="m/b.nc" ncoords="3"/>
               <netcdf location="m/c.nc"/>
             </aggregation>
           </netcdf>"#,
    );
    let cat = catalog(&d.0);
    let entry = cat.open(&ncml).await.expect("opens");
    let ds = entry.dataset();
    assert_eq!(ds.name, "all.ncml");
    let t = ds.variable("/t").expect("t");
    assert_eq!(t.shape(), [6, 2, 3]);
    assert!(t.dims[0].unlimited);
    assert_eq!(
        t.attribute("units").map(|a| a.value.clone()),
        Some(AttrValue::Char(b"K".to_vec()))
    );
    assert_eq!(
        ds.root.attribute("title").map(|a| a.value.clone()),
        // Written before the aggregation, the NcML's attribute is the first comer and wins.
        Some(AttrValue::String(vec!["all months".into()]))
    );
    let src = entry.source();
    let all = floats(
        &read_all(&**src, "/t", &Hyperslab::full(&[6, 2, 3]))
            .await
            .expect("reads"),
    );
    let want: Vec<f32> = (0..6)
        .flat_map(|ti| {
            (0..2).flat_map(move |y| (0..3).map(move |x| (100 * ti + 10 * y + x) as f32))
        })
        .collect();
    assert_eq!(all, want);
    // time 1, 3, 5 (one from each member), y 1, x 0 and 2.
    let slab = Hyperslab::new(vec![r(1, 3, 2), r(1, 1, 1), r(0, 2, 2)], &[6, 2, 3]).expect("fits");
    let got = floats(&read_all(&**src, "/t", &slab).await.expect("reads"));
    assert_eq!(got, [110.0, 112.0, 310.0, 312.0, 510.0, 512.0]);
    let time = doubles(
        &read_all(&**src, "/time", &Hyperslab::full(&[6]))
            .await
            .expect("reads"),
    );
    assert_eq!(time, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    // A non-joined variable comes from the first member.
    let y = read_all(&**src, "/y", &Hyperslab::full(&[2]))
        .await
        .expect("reads");
    assert_eq!(y, [0, 0, 0, 0, 1, 0, 0, 0]);

    // Cached while nothing changes; rebuilt when a member changes.
    let again = cat.open(&ncml).await.expect("opens");
    assert!(Arc::ptr_eq(&entry, &again));
    tokio::time::sleep(Duration::from_millis(20)).await;
    std::fs::remove_file(d.0.join("m/c.nc")).expect("rm");
    month(&d.0.join("m/c.nc"), 5, 2);
    let later = std::time::SystemTime::now() + Duration::from_secs(2);
    std::fs::File::options()
        .write(true)
        .open(d.0.join("m/c.nc"))
        .and_then(|f| f.set_modified(later))
        .expect("touch");
    let fresh = cat.open(&ncml).await.expect("opens");
    assert!(!Arc::ptr_eq(&entry, &fresh));
    assert_eq!(
        fresh.dataset().variable("/t").map(|v| v.shape()),
        Some(vec![7, 2, 3])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_sort_by_name_and_join_new_files_after_recheck() {
    let d = Dir::new("scan");
    months(&d);
    std::fs::write(d.0.join("m/notes.txt"), "not data").expect("write");
    let ncml = d.write(
        "scan.ncml",
        r#"<netcdf>
             <aggregation type="joinExisting" dimName="time" recheckEvery="1 sec">
               <scan location="m/" suffix=".nc" subdirs="false"/>
             </aggregation>
           </netcdf>"#,
    );
    let cat = catalog(&d.0);
    let entry = cat.open(&ncml).await.expect("opens");
    assert_eq!(
        entry.dataset().variable("/t").map(|v| v.shape()),
        Some(vec![6, 2, 3])
    );
    month(&d.0.join("m/d.nc"), 6, 4);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let fresh = cat.open(&ncml).await.expect("opens");
    assert_eq!(
        fresh.dataset().variable("/t").map(|v| v.shape()),
        Some(vec![10, 2, 3])
    );
    let time = doubles(
        &read_all(&**fresh.source(), "/time", &Hyperslab::full(&[10]))
            .await
            .expect("reads"),
    );
    assert_eq!(time, (0..10).map(f64::from).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_new_union_and_edits() {
    let d = Dir::new("new");
    months(&d);
    // Two runs with the same shape: the joinNew members.
    std::fs::create_dir_all(d.0.join("runs")).expect("dir");
    month(&d.0.join("runs/r1.nc"), 0, 2);
    month(&d.0.join("runs/r2.nc"), 7, 2);
    let ncml = d.write(
        "runs.ncml",
        r#"<netcdf>
             <aggregation type="joinNew" dimName="run">
               <variableAgg name="t"/>
               <netcdf location="runs/r1.nc" coordValue="1.5"/>
               <netcdf location="runs/r2.nc" coordValue="2.5"/>
             </aggregation>
             <variable name="run"><attribute name="long_name" value="run number"/></variable>
             <variable name="temperature" orgName="t"/>
             <dimension name="along" orgName="x"/>
             <remove name="title" type="attribute"/>
             <variable name="level" type="int" shape="y"><values start="10" increment="5"/></variable>
           </netcdf>"#,
    );
    let cat = catalog(&d.0);
    let entry = cat.open(&ncml).await.expect("opens");
    let ds = entry.dataset();
    let t = ds.variable("/temperature").expect("renamed");
    assert_eq!(t.shape(), [2, 2, 2, 3]);
    let dims: Vec<_> = t
        .dims
        .iter()
        .map(|d| d.name.clone().unwrap_or_default())
        .collect();
    assert_eq!(dims, ["run", "time", "y", "along"]);
    assert!(ds.variable("/t").is_none());
    assert!(ds.root.attribute("title").is_none());
    let run = ds.variable("/run").expect("run");
    assert_eq!(run.dtype, DataType::Float64);
    assert!(run.attribute("long_name").is_some());
    let src = entry.source();
    assert_eq!(
        doubles(
            &read_all(&**src, "/run", &Hyperslab::full(&[2]))
                .await
                .expect("reads")
        ),
        [1.5, 2.5]
    );
    let slab = Hyperslab::new(
        vec![r(0, 2, 1), r(1, 1, 1), r(0, 1, 1), r(2, 1, 1)],
        &[2, 2, 2, 3],
    )
    .expect("fits");
    assert_eq!(
        floats(
            &read_all(&**src, "/temperature", &slab)
                .await
                .expect("reads")
        ),
        [102.0, 802.0]
    );
    let level = read_all(&**src, "/level", &Hyperslab::full(&[2]))
        .await
        .expect("reads");
    assert_eq!(level, [10, 0, 0, 0, 15, 0, 0, 0]);

    // Location coordinates when there is no coordValue; a union of two joins (nested).
    let nested = d.write(
        "nested.ncml",
        r#"<netcdf>
             <aggregation type="union">
               <netcdf>
                 <aggregation type="joinNew" dimName="member">
                   <variableAgg name="t"/>
                   <netcdf location="runs/r1.nc"/>
                   <netcdf location="runs/r2.nc"/>
                 </aggregation>
               </netcdf>
               <netcdf location="all.ncml"/>
             </aggregation>
           </netcdf>"#,
    );
    d.write(
        "all.ncml",
        r#"<netcdf><aggregation type="joinExisting" dimName="time">
             <netcdf location="m/a.nc"/><netcdf location="m/b.nc"/><netcdf location="m/c.nc"/>
           </aggregation>
           <dimension name="day" orgName="time"/>
           <variable name="tt" orgName="t"/></netcdf>"#,
    );
    let entry = cat.open(&nested).await.expect("opens");
    let ds = entry.dataset();
    assert_eq!(ds.variable("/t").map(|v| v.shape()), Some(vec![2, 2, 2, 3]));
    assert_eq!(ds.variable("/tt").map(|v| v.shape()), Some(vec![6, 2, 3]));
    let members = strings(
        &read_all(&**entry.source(), "/member", &Hyperslab::full(&[2]))
            .await
            .expect("reads"),
    );
    assert_eq!(members, ["runs/r1.nc", "runs/r2.nc"]);
    let slab = Hyperslab::new(vec![r(4, 2, 1), r(0, 1, 1), r(0, 1, 1)], &[6, 2, 3]).expect("fits");
    assert_eq!(
        floats(
            &read_all(&**entry.source(), "/tt", &slab)
                .await
                .expect("reads")
        ),
        [400.0, 500.0]
    );
}

async fn error_of(cat: &Catalog, path: &Path) -> String {
    match cat.open(path).await {
        Ok(e) => panic!("{} should fail, got {:?}", path.display(), e.dataset().name),
        Err(e @ Error::Ncml { .. }) => e.to_string(),
        Err(other) => panic!("{}: not an NcML error: {other}", path.display()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ncml_fails_with_the_file_and_the_problem() {
    let d = Dir::new("bad");
    months(&d);
    std::fs::create_dir_all(d.0.join("sub")).expect("dir");
    month(&d.0.join("odd.nc"), 0, 2);
    // A member whose y has another length.
    {
        let mut f = netcdf::create_with(d.0.join("wide.nc"), netcdf::Options::CLASSIC).expect("c");
        f.add_unlimited_dimension("time").expect("d");
        f.add_dimension("y", 5).expect("d");
        f.add_dimension("x", 3).expect("d");
        f.add_variable::<f32>("t", &["time", "y", "x"]).expect("v");
        f.add_variable::<f64>("time", &["time"]).expect("v");
        f.close().expect("close");
    }
    let cases = [
        (
            "malformed.ncml",
            "<netcdf><attribute name=\"a\" value=\"1\"></netcdf>",
            "malformed XML",
        ),
        (
            "missing.ncml",
            r#"<netcdf><aggregation type="union"><netcdf location="m/nothere.nc"/></aggregation></netcdf>"#,
            "m/nothere.nc\" does not exist",
        ),
        (
            "escape.ncml",
            r#"<netcdf location="../../../etc/passwd"/>"#,
            "outside the data root",
        ),
        (
            "absolute.ncml",
            r#"<netcdf location="/etc/passwd"/>"#,
            "does not exist",
        ),
        (
            "dims.ncml",
            r#"<netcdf><aggregation type="joinExisting" dimName="time">
                 <netcdf location="m/a.nc"/><netcdf location="wide.nc"/></aggregation></netcdf>"#,
            "member wide.nc: dimension y has length 5, the first member has 2",
        ),
        (
            "self.ncml",
            r#"<netcdf><aggregation type="union"><netcdf location="self.ncml"/></aggregation></netcdf>"#,
            "includes itself",
        ),
        (
            "novaragg.ncml",
            r#"<netcdf><aggregation type="joinNew" dimName="n"><netcdf location="m/a.nc"/></aggregation></netcdf>"#,
            "needs <variableAgg>",
        ),
        (
            "values.ncml",
            r#"<netcdf><dimension name="n" length="3"/>
                 <variable name="v" type="int" shape="n"><values>1 2</values></variable></netcdf>"#,
            "variable v: 2 values for a shape of 3 elements",
        ),
        (
            "notanumber.ncml",
            r#"<netcdf><variable name="v" type="int" shape=""><values>x</values></variable></netcdf>"#,
            "\"x\" is not a valid int",
        ),
        (
            "regexp.ncml",
            r#"<netcdf><aggregation type="joinExisting" dimName="time"><scan location="m" regExp="(["/></aggregation></netcdf>"#,
            "scan regExp",
        ),
        (
            "notadataset.ncml",
            r#"<netcdf location="m"/>"#,
            "cannot open the member",
        ),
    ];
    let cat = catalog(&d.0);
    for (name, text, want) in cases {
        let p = d.write(name, text);
        let msg = error_of(&cat, &p).await;
        assert!(
            msg.contains(name) || msg.contains("wide.nc") || msg.contains("NcML m"),
            "{msg}"
        );
        assert!(msg.contains(want), "{name}: {msg} lacks {want}");
        assert!(
            !msg.contains(&*d.0.to_string_lossy()),
            "{msg} shows a server path"
        );
    }
    // The catalog still works for good datasets afterwards.
    assert!(cat.open(&d.0.join("m/a.nc")).await.is_ok());
}
