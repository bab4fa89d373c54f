//! The `.dods` encoder against bytes libdap wrote: netCDF-C's `ncdap_test/testdata3` captures.
//!
//! Each case declares the dataset of a capture (types and shapes), takes the values out of the
//! capture's XDR with a small reader written here (independent of the encoder), gives them to
//! the encoder as a source would (canonical little-endian), and requires the encoder's XDR to be
//! byte for byte the capture's. Also: the exact `Content-Length`, and a failing source turning
//! into an error item rather than a short body.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use cdm::{
    ByteStream, DataType, Dataset, Field, Format, Group, Hyperslab, Source, Storage, StructureType,
    VarDim, Variable,
};
use futures::StreamExt;

fn testdata3(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/conformance/netcdf-c/ncdap_test/testdata3")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The XDR part of a capture (after `Data:\n` or `Data:\r\n`).
fn xdr_part(dods: &[u8]) -> &[u8] {
    for sep in [&b"\nData:\r\n"[..], &b"\nData:\n"[..]] {
        if let Some(i) = dods.windows(sep.len()).position(|w| w == sep) {
            return &dods[i + sep.len()..];
        }
    }
    panic!("no Data: separator");
}

/// A source holding canonical bytes in memory.
#[derive(Debug)]
struct MemorySource {
    dataset: Arc<Dataset>,
    data: HashMap<String, Vec<u8>>,
    /// When set, the read of this variable fails after its first buffer.
    fail: Option<String>,
}

impl Source for MemorySource {
    fn dataset(&self) -> &Arc<Dataset> {
        &self.dataset
    }

    fn read(&self, path: &str, slab: &Hyperslab) -> ByteStream {
        let var = self.dataset.variable(path).expect("known variable");
        assert!(slab.is_full(&var.shape()), "the tests read whole variables");
        let bytes = Bytes::from(self.data[path].clone());
        if self.fail.as_deref() == Some(path) {
            let half = bytes.slice(..bytes.len() / 2);
            return Box::pin(futures::stream::iter(vec![
                Ok(half),
                Err(cdm::Error::Corrupt("disk on fire".into())),
            ]));
        }
        Box::pin(futures::stream::iter(vec![Ok(bytes)]))
    }
}

/// Reads values back out of XDR, the way a client would.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> &[u8] {
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        s
    }

    fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.take(4).try_into().expect("4 bytes"))
    }

    /// One number of `dtype` (scalar when `scalar`), as canonical little-endian bytes.
    fn number(&mut self, dtype: &DataType, scalar: bool, out: &mut Vec<u8>) {
        match dtype {
            DataType::UInt8 if scalar => out.push(self.take(4)[3]),
            DataType::UInt8 => out.push(self.take(1)[0]),
            DataType::Int16 => out.extend_from_slice(&(self.u32() as i32 as i16).to_le_bytes()),
            DataType::UInt16 => out.extend_from_slice(&(self.u32() as u16).to_le_bytes()),
            DataType::Float64 => {
                let mut b = self.take(8).to_vec();
                b.reverse();
                out.extend_from_slice(&b);
            }
            _ => {
                let mut b = self.take(4).to_vec();
                b.reverse();
                out.extend_from_slice(&b);
            }
        }
    }

    fn string(&mut self, out: &mut Vec<u8>) {
        let n = self.u32() as usize;
        out.extend_from_slice(&(n as u64).to_le_bytes());
        out.extend_from_slice(self.take(n));
        self.take((4 - n % 4) % 4);
    }

    /// A whole variable of `dtype` and `count` elements (scalar when `shape` is empty).
    fn variable(&mut self, dtype: &DataType, shape: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        let scalar = shape.is_empty();
        let n: usize = shape.iter().product();
        match dtype {
            DataType::String => {
                if !scalar {
                    assert_eq!(self.u32() as usize, n);
                }
                for _ in 0..n {
                    self.string(&mut out);
                }
            }
            DataType::Structure(s) => {
                assert!(scalar, "only scalar structures here");
                for f in &s.fields {
                    out.extend(self.variable(&f.dtype, &f.shape));
                }
            }
            _ => {
                if !scalar {
                    assert_eq!(self.u32() as usize, n);
                    assert_eq!(self.u32() as usize, n);
                }
                for _ in 0..n {
                    self.number(dtype, scalar, &mut out);
                }
                if !scalar && *dtype == DataType::UInt8 {
                    self.take((4 - n % 4) % 4);
                }
            }
        }
        out
    }
}

fn variable(name: &str, dtype: DataType, shape: &[usize]) -> Variable {
    Variable {
        name: name.into(),
        path: format!("/{name}"),
        dtype,
        dims: shape.iter().map(|&n| VarDim::anonymous(n)).collect(),
        attributes: vec![],
        storage: Storage::default(),
    }
}

fn dataset(vars: Vec<Variable>) -> Dataset {
    Dataset {
        name: "capture".into(),
        format: Format::NetCdf4,
        root: Group {
            name: String::new(),
            path: "/".into(),
            variables: vars,
            ..Group::default()
        },
    }
}

/// Encodes the capture's values with fathom and compares the XDR bytes.
async fn encodes_like_libdap(capture: &str, vars: Vec<Variable>) {
    let dods = testdata3(capture);
    let reference = xdr_part(&dods);
    let mut reader = Reader {
        buf: reference,
        pos: 0,
    };
    let mut data = HashMap::new();
    for v in &vars {
        data.insert(v.path.clone(), reader.variable(&v.dtype, &v.shape()));
    }
    assert_eq!(
        reader.pos,
        reference.len(),
        "{capture}: the reader consumed the capture"
    );
    let ds = dataset(vars);
    let dap = dap2::map_dataset(&ds);
    let source = Arc::new(MemorySource {
        dataset: Arc::new(ds),
        data,
        fail: None,
    });
    let projected = dap2::constraint::whole_dataset(&dap);
    let dds = dap2::dds::print_dds(&dap, &projected);
    let header_len = dds.len() + "Data:\n".len();
    let response = dap2::DodsResponse::prepare(source, &dap, &projected, dds)
        .await
        .expect("prepares");
    let length = response.content_length();
    let mut body = Vec::new();
    let mut stream = Box::pin(response.into_stream());
    while let Some(item) = stream.next().await {
        body.extend_from_slice(&item.expect("no error"));
    }
    assert_eq!(
        body.len() as u64,
        length,
        "{capture}: Content-Length is exact"
    );
    assert_eq!(&body[header_len..], reference, "{capture}: XDR bytes");
}

fn all_types(shape: &[usize]) -> Vec<Variable> {
    vec![
        variable("b", DataType::UInt8, shape),
        variable("i32", DataType::Int32, shape),
        variable("ui32", DataType::UInt32, shape),
        variable("i16", DataType::Int16, shape),
        variable("ui16", DataType::UInt16, shape),
        variable("f32", DataType::Float32, shape),
        variable("f64", DataType::Float64, shape),
        variable("s", DataType::String, shape),
        variable("u", DataType::String, shape),
    ]
}

#[tokio::test]
async fn scalars_of_every_type() {
    encodes_like_libdap("test.01.dods", all_types(&[])).await;
}

#[tokio::test]
async fn one_dimensional_arrays_of_every_type() {
    encodes_like_libdap("test.02.dods", all_types(&[25])).await;
}

#[tokio::test]
async fn multidimensional_arrays_with_byte_padding() {
    encodes_like_libdap(
        "test.03.dods",
        vec![
            variable("b", DataType::UInt8, &[2, 3, 4]),
            variable("b2", DataType::UInt8, &[2, 3]),
            variable("i32", DataType::Int32, &[2, 3, 4]),
            variable("ui32", DataType::UInt32, &[2, 3, 4, 3, 2]),
            variable("i16", DataType::Int16, &[2, 2, 2]),
            variable("ui16", DataType::UInt16, &[2, 2, 2]),
            variable("f32", DataType::Float32, &[2, 2, 2]),
            variable("f64", DataType::Float64, &[2, 2, 2]),
            variable("s0", DataType::String, &[4, 5, 6]),
            variable("s1", DataType::String, &[10, 10, 10]),
            variable("u", DataType::String, &[10, 10, 10]),
        ],
    )
    .await;
}

#[tokio::test]
async fn a_structure_of_every_type() {
    let fields = all_types(&[])
        .into_iter()
        .map(|v| Field {
            name: v.name,
            dtype: v.dtype,
            shape: vec![],
        })
        .collect();
    let s = DataType::Structure(Arc::new(StructureType {
        name: "types_t".into(),
        path: "/types_t".into(),
        fields,
    }));
    encodes_like_libdap("test.04.dods", vec![variable("types", s, &[])]).await;
}

#[tokio::test]
async fn a_failing_read_ends_the_body_with_an_error() {
    let vars = vec![
        variable("a", DataType::Float64, &[100]),
        variable("b", DataType::Int16, &[100]),
    ];
    let mut data = HashMap::new();
    data.insert("/a".to_owned(), vec![0u8; 800]);
    data.insert("/b".to_owned(), vec![0u8; 200]);
    let ds = dataset(vars);
    let dap = dap2::map_dataset(&ds);
    let source = Arc::new(MemorySource {
        dataset: Arc::new(ds),
        data,
        fail: Some("/b".into()),
    });
    let projected = dap2::constraint::whole_dataset(&dap);
    let dds = dap2::dds::print_dds(&dap, &projected);
    let response = dap2::DodsResponse::prepare(source, &dap, &projected, dds)
        .await
        .expect("prepares");
    let length = response.content_length();
    let items: Vec<_> = response.into_stream().collect().await;
    let sent: usize = items
        .iter()
        .filter_map(|i| i.as_ref().ok())
        .map(Bytes::len)
        .sum();
    assert!(
        items.last().is_some_and(Result::is_err),
        "the body ends in an error"
    );
    assert!(
        (sent as u64) < length,
        "nothing pretends to be the whole body"
    );
}
