//! The netCDF-3 encoding of a [`SubsetPlan`]: the header (classic format spec, CDF-2 "64-bit
//! offset" or CDF-5 "64-bit data"), its exact length, and the values streamed big-endian in
//! file order, each variable padded to four bytes.
//!
//! Every variable is written as one contiguous block (no record interleaving), so the file's
//! layout is known from the header alone and each variable is one read of the source.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use cdm::{AttrValue, DataType, Hyperslab, Source};
use futures::{Stream, StreamExt};

use crate::{Error, SubsetPlan};

/// The root attribute naming the variables netCDF-3 cannot hold.
pub const OMITTED_ATTRIBUTE: &str = "_fathom_omitted";

const NC_DIMENSION: u32 = 0x0A;
const NC_VARIABLE: u32 = 0x0B;
const NC_ATTRIBUTE: u32 = 0x0C;

/// A netCDF-3 type code and its size, or `None` when netCDF-3 has none.
fn nc3_type(dtype: &DataType) -> Option<(u32, usize)> {
    Some(match dtype {
        DataType::Int8 => (1, 1),
        DataType::Char => (2, 1),
        DataType::Int16 => (3, 2),
        DataType::Int32 => (4, 4),
        DataType::Float32 => (5, 4),
        DataType::Float64 => (6, 8),
        DataType::UInt8 => (7, 1),
        DataType::UInt16 => (8, 2),
        DataType::UInt32 => (9, 4),
        DataType::Int64 => (10, 8),
        DataType::UInt64 => (11, 8),
        DataType::Enum(e) => return nc3_type(&e.base),
        _ => return None,
    })
}

/// Whether a type code needs CDF-5.
fn needs_cdf5(code: u32) -> bool {
    code >= 7
}

fn pad4(n: u64) -> u64 {
    n.div_ceil(4) * 4
}

/// A name as netCDF-3 keeps it: a group path flattened with `_`.
fn flat_name(group: &str, name: &str) -> String {
    let prefix: Vec<&str> = group.split('/').filter(|p| !p.is_empty()).collect();
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{}_{name}", prefix.join("_"))
    }
}

/// An attribute as netCDF-3 stores it: type code and big-endian values.
fn attribute_values(value: &AttrValue) -> Option<(u32, usize, Vec<u8>)> {
    fn be<T: Copy, const N: usize>(v: &[T], f: impl Fn(T) -> [u8; N]) -> Vec<u8> {
        v.iter().flat_map(|&x| f(x)).collect()
    }
    Some(match value {
        AttrValue::Int8(v) => (1, v.len(), be(v, i8::to_be_bytes)),
        AttrValue::Char(v) => (2, v.len(), v.clone()),
        AttrValue::Int16(v) => (3, v.len(), be(v, i16::to_be_bytes)),
        AttrValue::Int32(v) => (4, v.len(), be(v, i32::to_be_bytes)),
        AttrValue::Float32(v) => (5, v.len(), be(v, f32::to_be_bytes)),
        AttrValue::Float64(v) => (6, v.len(), be(v, f64::to_be_bytes)),
        AttrValue::UInt8(v) => (7, v.len(), v.clone()),
        AttrValue::UInt16(v) => (8, v.len(), be(v, u16::to_be_bytes)),
        AttrValue::UInt32(v) => (9, v.len(), be(v, u32::to_be_bytes)),
        AttrValue::Int64(v) => (10, v.len(), be(v, i64::to_be_bytes)),
        AttrValue::UInt64(v) => (11, v.len(), be(v, u64::to_be_bytes)),
        AttrValue::String(v) => {
            let text = v.join(", ").into_bytes();
            (2, text.len(), text)
        }
        AttrValue::Typed { .. } => return None,
    })
}

/// Header writer for one format version.
struct Header {
    out: Vec<u8>,
    cdf5: bool,
}

impl Header {
    fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }
    /// A NON_NEG: 4 bytes in CDF-2, 8 in CDF-5.
    fn size(&mut self, v: u64) {
        if self.cdf5 {
            self.out.extend_from_slice(&v.to_be_bytes());
        } else {
            // Checked when the version is chosen: every size fits in 32 bits in CDF-2.
            self.u32(u32::try_from(v).unwrap_or(u32::MAX));
        }
    }
    fn offset(&mut self, v: u64) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }
    fn padded(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
        let pad = (4 - bytes.len() % 4) % 4;
        self.out.extend(std::iter::repeat_n(0u8, pad));
    }
    fn name(&mut self, name: &str) {
        self.size(name.len() as u64);
        self.padded(name.as_bytes());
    }
    fn list_head(&mut self, tag: u32, n: usize) {
        if n == 0 {
            self.u32(0);
            self.size(0);
        } else {
            self.u32(tag);
            self.size(n as u64);
        }
    }
    fn attributes(&mut self, attrs: &[(String, u32, usize, Vec<u8>)]) {
        self.list_head(NC_ATTRIBUTE, attrs.len());
        for (name, code, n, bytes) in attrs {
            self.name(name);
            self.u32(*code);
            self.size(*n as u64);
            self.padded(bytes);
        }
    }
}

/// Values per read of the source while streaming.
const READ_ELEMENTS: usize = 1 << 20;

/// One variable's block of values.
#[derive(Clone, Debug)]
struct Block {
    path: String,
    /// The reads, in file order (see [`cdm::subset::PlanVariable::reads`]).
    reads: Vec<Hyperslab>,
    /// Values given by the plan instead of reads (canonical encoding).
    values: Option<Bytes>,
    elem: usize,
    bytes: u64,
    padded: u64,
}

/// A variable of the file, ready to write into the header.
struct HeaderVar {
    name: String,
    dims: Vec<usize>,
    attrs: Vec<(String, u32, usize, Vec<u8>)>,
    code: u32,
    vsize: u64,
    record: bool,
}

/// A planned netCDF-3 file: its header, its length and where its values come from.
#[derive(Debug)]
pub struct Netcdf3 {
    header: Bytes,
    blocks: Vec<Block>,
    length: u64,
    cdf5: bool,
}

impl Netcdf3 {
    /// Lays out the file for `plan`.
    ///
    /// # Errors
    /// [`Error::Unsupported`] when the plan has more than one empty dimension, or an empty one
    /// that is not the first of a variable (netCDF-3 calls an empty dimension the record one).
    pub fn prepare(plan: &SubsetPlan) -> Result<Self, Error> {
        let dim_names: Vec<String> = {
            let mut seen = std::collections::HashSet::new();
            plan.dimensions
                .iter()
                .map(|d| {
                    let base = flat_name(&d.group, &d.name);
                    let mut name = base.clone();
                    let mut k = 2;
                    while !seen.insert(name.clone()) {
                        name = format!("{base}_{k}");
                        k += 1;
                    }
                    name
                })
                .collect()
        };
        let empty: Vec<usize> = (0..plan.dimensions.len())
            .filter(|&i| plan.dimensions[i].len == 0)
            .collect();
        if empty.len() > 1 {
            return Err(Error::Unsupported(
                "netCDF-3 holds one empty (record) dimension at most; ask for .nc4".into(),
            ));
        }
        let record_dim = empty.first().copied();

        let mut cdf5 = plan.dimensions.iter().any(|d| d.len > i32::MAX as usize);
        let mut vars = Vec::new();
        let mut blocks = Vec::new();
        let mut omitted = Vec::new();
        let mut var_names = std::collections::HashSet::new();
        for v in &plan.variables {
            let Some((code, elem)) = nc3_type(&v.dtype) else {
                omitted.push(format!("{} ({})", v.path, v.dtype.cdl_name()));
                continue;
            };
            cdf5 |= needs_cdf5(code);
            let record = record_dim.is_some_and(|r| v.dims.contains(&r));
            if record && v.dims.first() != record_dim.as_ref() {
                return Err(Error::Unsupported(format!(
                    "{}: an empty dimension that is not the first cannot be written as \
netCDF-3; ask for .nc4",
                    v.path
                )));
            }
            let per_record: u64 = v
                .dims
                .iter()
                .skip(usize::from(record))
                .map(|&d| plan.dimensions[d].len as u64)
                .product::<u64>()
                * elem as u64;
            let bytes = if record { 0 } else { per_record };
            let vsize = pad4(per_record);
            cdf5 |= vsize > u64::from(u32::MAX - 4);
            let mut attrs = Vec::new();
            for a in &v.attributes {
                if let Some((acode, n, vals)) = attribute_values(&a.value) {
                    // netCDF-C refuses a `_FillValue` of another type than its variable's.
                    if a.name == "_FillValue" && acode != code {
                        continue;
                    }
                    cdf5 |= needs_cdf5(acode);
                    attrs.push((a.name.clone(), acode, n, vals));
                }
            }
            let base = flat_name(&v.group, &v.name);
            let mut name = base.clone();
            let mut k = 2;
            while !var_names.insert(name.clone()) {
                name = format!("{base}_{k}");
                k += 1;
            }
            vars.push(HeaderVar {
                name,
                dims: v.dims.clone(),
                attrs,
                code,
                vsize,
                record,
            });
            if !record {
                blocks.push(Block {
                    path: v.path.clone(),
                    reads: if v.values.is_some() {
                        Vec::new()
                    } else {
                        v.reads(READ_ELEMENTS).into_iter().map(|r| r.slab).collect()
                    },
                    values: v.values.clone().map(Bytes::from),
                    elem,
                    bytes,
                    padded: vsize,
                });
            }
        }
        let mut globals = Vec::new();
        for g in &plan.groups {
            for a in &g.attributes {
                if let Some((code, n, vals)) = attribute_values(&a.value) {
                    cdf5 |= needs_cdf5(code);
                    globals.push((flat_name(&g.path, &a.name), code, n, vals));
                }
            }
        }
        if !omitted.is_empty() {
            let text = format!(
                "not representable in netCDF-3 (ask for .nc4): {}",
                omitted.join(", ")
            )
            .into_bytes();
            globals.push((OMITTED_ATTRIBUTE.to_owned(), 2, text.len(), text));
        }

        let render = |begins: &[u64]| -> Vec<u8> {
            let mut h = Header {
                out: Vec::new(),
                cdf5,
            };
            h.out.extend_from_slice(b"CDF");
            h.out.push(if cdf5 { 5 } else { 2 });
            h.size(0); // numrecs: a record dimension is always empty here
            h.list_head(NC_DIMENSION, plan.dimensions.len());
            for (d, name) in plan.dimensions.iter().zip(&dim_names) {
                h.name(name);
                h.size(d.len as u64);
            }
            h.attributes(&globals);
            h.list_head(NC_VARIABLE, vars.len());
            for (v, begin) in vars.iter().zip(begins) {
                h.name(&v.name);
                h.size(v.dims.len() as u64);
                for &d in &v.dims {
                    h.size(d as u64);
                }
                h.attributes(&v.attrs);
                h.u32(v.code);
                h.size(if cdf5 {
                    v.vsize
                } else {
                    v.vsize.min(u64::from(u32::MAX))
                });
                h.offset(*begin);
            }
            h.out
        };
        let header_len = render(&vec![0; vars.len()]).len() as u64;
        let mut begins = Vec::with_capacity(vars.len());
        let mut pos = header_len;
        for v in vars.iter().filter(|v| !v.record) {
            begins.push(pos);
            pos += v.vsize;
        }
        // Record variables start where the fixed ones end (they hold no record).
        let mut fixed = begins.into_iter();
        let begins: Vec<u64> = vars
            .iter()
            .map(|v| {
                if v.record {
                    pos
                } else {
                    fixed.next().unwrap_or(pos)
                }
            })
            .collect();
        let header = render(&begins);
        Ok(Self {
            length: header.len() as u64 + blocks.iter().map(|b| b.padded).sum::<u64>(),
            header: Bytes::from(header),
            blocks,
            cdf5,
        })
    }

    /// The file's exact length in bytes.
    #[must_use]
    pub fn content_length(&self) -> u64 {
        self.length
    }

    /// Whether the file is CDF-5 (otherwise CDF-2, 64-bit offset).
    #[must_use]
    pub fn is_cdf5(&self) -> bool {
        self.cdf5
    }

    /// The header bytes.
    #[must_use]
    pub fn header(&self) -> &Bytes {
        &self.header
    }

    /// The file as a stream: the header, then each variable's values read from `source`,
    /// big-endian, padded. A read that fails, or returns more or fewer values than planned,
    /// ends the stream with an error (the caller aborts the response; never a short file).
    pub fn into_stream(
        self,
        source: Arc<dyn Source>,
    ) -> impl Stream<Item = Result<Bytes, Error>> + Send + 'static {
        let header = futures::stream::once(futures::future::ready(Ok(self.header)));
        let values = futures::stream::iter(self.blocks).flat_map(move |block| {
            let written = Arc::new(AtomicU64::new(0));
            let counter = Arc::clone(&written);
            let elem = block.elem;
            let read = if block.bytes == 0 {
                futures::stream::empty().boxed()
            } else if let Some(values) = block.values {
                futures::stream::once(futures::future::ready(Ok(values))).boxed()
            } else {
                let source = Arc::clone(&source);
                let path = block.path.clone();
                futures::stream::iter(block.reads)
                    .flat_map(move |slab| source.read(&path, &slab))
                    .boxed()
            };
            let values = read.map(move |item| {
                let mut buf = item?.to_vec();
                if elem > 1 {
                    for value in buf.chunks_exact_mut(elem) {
                        value.reverse();
                    }
                }
                counter.fetch_add(buf.len() as u64, Ordering::Relaxed);
                Ok(Bytes::from(buf))
            });
            let end = futures::stream::once(async move {
                let got = written.load(Ordering::Relaxed);
                if got != block.bytes {
                    return Err(Error::Unsupported(format!(
                        "{}: read {got} bytes of values, expected {}",
                        block.path, block.bytes
                    )));
                }
                Ok(Bytes::from(vec![
                    0u8;
                    (block.padded - block.bytes) as usize
                ]))
            });
            values.chain(end).boxed()
        });
        header.chain(values)
    }
}

#[cfg(test)]
mod tests {
    use cdm::Attribute;
    use cdm::subset::{PlanDimension, PlanGroup, PlanVariable};

    use super::*;

    fn plan(dtype: DataType, len: usize) -> SubsetPlan {
        SubsetPlan {
            groups: vec![PlanGroup {
                path: "/".into(),
                attributes: vec![Attribute::new("title", AttrValue::Char(b"t".to_vec()))],
            }],
            dimensions: vec![PlanDimension {
                group: "/".into(),
                name: "x".into(),
                len,
                unlimited: false,
            }],
            variables: vec![PlanVariable {
                path: "/v".into(),
                group: "/".into(),
                name: "v".into(),
                dtype,
                dims: vec![0],
                attributes: vec![],
                slab: Hyperslab::full(&[len]),
                joined: None,
                values: None,
            }],
        }
    }

    #[test]
    fn header_and_length_follow_the_classic_layout() {
        let f = Netcdf3::prepare(&plan(DataType::Int16, 3)).expect("layout");
        let h = f.header();
        assert_eq!(&h[..4], b"CDF\x02");
        assert!(!f.is_cdf5());
        // The variable's data begins right after the header: the last 8 bytes are `begin`.
        let begin = u64::from_be_bytes(h[h.len() - 8..].try_into().expect("8 bytes"));
        assert_eq!(begin, h.len() as u64);
        // Three shorts (6 bytes) padded to 8.
        assert_eq!(f.content_length(), h.len() as u64 + 8);
        // vsize (4 bytes in CDF-2) just before `begin`.
        let vsize = u32::from_be_bytes(h[h.len() - 12..h.len() - 8].try_into().expect("4"));
        assert_eq!(vsize, 8);
    }

    #[test]
    fn unsigned_types_make_cdf5_with_64_bit_sizes() {
        let f = Netcdf3::prepare(&plan(DataType::UInt16, 5)).expect("layout");
        let h = f.header();
        assert_eq!(&h[..4], b"CDF\x05");
        let vsize = u64::from_be_bytes(h[h.len() - 16..h.len() - 8].try_into().expect("8"));
        assert_eq!(vsize, 12);
        assert_eq!(f.content_length(), h.len() as u64 + 12);
    }

    #[test]
    fn strings_are_left_out_and_named() {
        let f = Netcdf3::prepare(&plan(DataType::String, 2)).expect("layout");
        let text = String::from_utf8_lossy(f.header());
        assert!(
            text.contains(OMITTED_ATTRIBUTE) && text.contains("/v (string)"),
            "{text}"
        );
        assert_eq!(f.content_length(), f.header().len() as u64);
    }

    #[test]
    fn two_empty_dimensions_are_refused() {
        let mut p = plan(DataType::Int16, 0);
        p.dimensions.push(PlanDimension {
            group: "/".into(),
            name: "y".into(),
            len: 0,
            unlimited: false,
        });
        assert!(matches!(Netcdf3::prepare(&p), Err(Error::Unsupported(_))));
    }
}
