//! DMR++ in and out: Hyrax's sidecar index (a DAP4 DMR plus where every chunk of every variable
//! lies in the data object) read as a [`Source`] without opening the data object's metadata, and
//! written from any source the read engine knows the layouts of ([`write`]).
//!
//! # Reading
//!
//! [`open`] takes the DMR++ text and the data object as an `Arc<dyn Storage>` (a local file
//! today, an object in a bucket tomorrow): nothing is read from the data object until a value
//! is asked for, and then only the chunks the request touches, through the read engine
//! ([`crate::engine`]: its chunk layouts, filter decoders and the shared chunk cache). There is
//! no second decoder here: a DMR++ becomes one [`ChunkLayout`] per variable.
//!
//! | DMR++ | becomes |
//! |---|---|
//! | the DMR (groups, `Dimension`s, types, `Enumeration`s, attributes) | the [`Dataset`] model, through the DMR parser the remote DAP4 client uses |
//! | `dmrpp:chunks compressionType="shuffle deflate fletcher32"` | the filter [`Pipeline`], in the order written (HDF5's pipeline order, the order Hyrax writes since `dmrpp:version` 3.20.13 and the only order older files use) |
//! | `deflateLevel` / `deflate_level` | nothing (decoding needs no level) |
//! | `fillValue` | what chunks that are not listed read as (else the variable's `_FillValue`, else zeros, as HDF5) |
//! | `byteOrder="BE"` / `"LE"` | the layout's byte order (little-endian when absent) |
//! | `dmrpp:chunkDimensionSizes` + `dmrpp:chunk offset nBytes chunkPositionInArray` | an indexed chunk layout |
//! | `dmrpp:chunk` without chunk sizes (a contiguous variable) | a contiguous layout from that offset |
//! | `dmrpp:compact` (base64) | the values themselves, kept in memory; strings as one value (scalars, fixed- or variable-length) or cut by `dmrpp:FixedLengthStringArray string_length`, padding stripped |
//! | `dmrpp:chunks` (contiguous or chunked, any filters) + `dmrpp:FixedLengthStringArray string_length pad` on a `String` | a layout of `string_length`-byte elements; each read element is cut at its first NUL (and trailing spaces stripped for `space_pad`); chunks not listed read as empty strings |
//! | `dmrpp:href` on the `Dataset` | ignored when the data object is given (a DMR++ beside `X` reads `X`, whatever absolute href it carries) |
//! | `href` on a variable's chunks naming another object | that object, through the resolver given to [`open_with`]; refused by [`open`] |
//!
//! What is not read: Structures, Sequences and Opaques (left out of the model and listed in
//! `_fathom_omitted`), variable-length strings located by chunks (Hyrax points such a chunk at
//! the string's global-heap reference and marks it `unsupported-variable-length-string`),
//! strings in chunks without `dmrpp:FixedLengthStringArray` (the first DMR++ files), chunks of
//! one variable spread over several objects, filters other than deflate, shuffle and fletcher32. Such a variable is in the
//! model; when the DMR++ lies beside its data file ([`open_local`]), reading it opens that file
//! with its library (once, lazily), otherwise a read of it is a clear error.
//!
//! # Writing
//!
//! [`write::weave`] takes a DMR (rendered by the DAP4 crate from the source's model) and each
//! variable's [`write::VarIndex`] (chunk layout or compact values: a scalar string as its text,
//! an array of strings as fixed-length strings as long as the longest, with
//! `dmrpp:FixedLengthStringArray`; a compact variable's `fillValue` is the file's) and writes
//! the DMR++, naming the data object relatively and recording the object's size and modification time in
//! `fathom:` attributes on the `Dataset` element that Hyrax ignores, so that an index can be
//! known current without opening anything ([`write::recorded_version`]), and so that a data
//! file changed since its index was written is never read through stale offsets
//! ([`open_local`] declines such an index).

pub mod write;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;

use crate::engine::cache::ChunkCache;
use crate::engine::filters::{Filter, Pipeline};
use crate::engine::layout::{ChunkLayout, ChunkLoc, Locator};
use crate::engine::storage::Storage;
use crate::engine::{self, EngineReader};
use crate::error::{Error, Result};
use crate::formats::dap::dmr::{self, Extension};
use crate::hyperslab::Hyperslab;
use crate::model::{AttrValue, Attribute, DataType, Dataset, Format, Variable};
use crate::source::{ByteStream, Source, error_stream};

/// The namespace fathom's own bookkeeping attributes live in.
pub const FATHOM_NS: &str = "https://github.com/fathom-opendap/fathom/dmrpp";

fn corrupt(what: impl std::fmt::Display) -> Error {
    Error::Corrupt(format!("the DMR++ {what}"))
}

/// What one variable's DMR++ elements say about where its values are.
#[derive(Debug, Default)]
struct VarElements {
    chunks: Option<Vec<(String, String)>>,
    chunk_sizes: Option<Vec<usize>>,
    chunk_list: Vec<Vec<(String, String)>>,
    compact: Option<String>,
    fixed_strings: Option<Vec<(String, String)>>,
}

fn get<'a>(attrs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k == key || k.rsplit(':').next() == Some(key))
        .map(|(_, v)| v.as_str())
}

/// Where a variable's values come from.
#[derive(Debug)]
enum VarData {
    /// Chunks in an object: `None` the dataset's own, `Some(href)` another one.
    Chunks(ChunkLayout, Option<String>),
    /// Fixed-size values given in the DMR++ itself, as stored (in `layout`'s byte order).
    Compact(ChunkLayout, Bytes),
    /// Strings given in the DMR++ itself, canonical (length-prefixed), one per element.
    Strings(Vec<Bytes>),
    /// Fixed-length strings in chunks (`dmrpp:FixedLengthStringArray`): the chunks read as
    /// elements of `string_length` bytes, then cut at padding.
    FixedStrings(ChunkLayout, Option<String>, FixedString),
    /// The DMR++ gives no usable location: reading it is this error.
    Unreadable(String),
}

/// A parsed DMR++: the model and where each variable's values are.
#[derive(Debug)]
pub struct Index {
    /// The dataset as the DMR describes it.
    pub dataset: Dataset,
    /// The `dmrpp:href` of the `Dataset` element (the data object Hyrax would read).
    pub href: Option<String>,
    /// `dmrpp:version` (absent in files written before Hyrax 3.20.13).
    pub version: Option<String>,
    /// The size and modification time (nanoseconds since the epoch) of the data object the
    /// index was written from, when fathom wrote it.
    pub source_version: Option<(u64, i64)>,
    vars: HashMap<String, VarData>,
}

impl Index {
    /// The hrefs other than the dataset's that variables read from.
    #[must_use]
    pub fn other_hrefs(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .vars
            .values()
            .filter_map(|v| match v {
                VarData::Chunks(_, Some(h)) => Some(h.clone()),
                _ => None,
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// Parses a DMR++ document.
///
/// # Errors
/// [`Error::Corrupt`] when it is not XML, not a DMR, or its chunk elements contradict the
/// variables they describe.
pub fn parse(xml: &[u8]) -> Result<Index> {
    let text = std::str::from_utf8(xml).map_or_else(
        // ISO-8859-1 (what Hyrax declares) is a byte per character.
        |_| xml.iter().map(|&b| char::from(b)).collect::<String>(),
        str::to_owned,
    );
    let (mut dataset, ext) = dmr::parse_with_extensions(&text).map_err(|e| match e {
        Error::Upstream(m) => corrupt(format!(
            "is not a DMR: {}",
            m.trim_start_matches("the remote DMR is malformed: ")
        )),
        other => other,
    })?;
    dataset.format = Format::Dmrpp;
    if !ext.omitted.is_empty() {
        dataset.root.attributes.push(Attribute::new(
            crate::formats::hdf5::OMITTED_ATTRIBUTE,
            AttrValue::String(vec![format!(
                "not read from the DMR++: {}",
                ext.omitted.join(", ")
            )]),
        ));
    }
    let href = get(&ext.root, "dmrpp:href").map(str::to_owned);
    let version = get(&ext.root, "dmrpp:version").map(str::to_owned);
    let source_version = match (
        get(&ext.root, "fathom:sourceSize").and_then(|s| s.parse().ok()),
        get(&ext.root, "fathom:sourceMtime").and_then(|s| s.parse().ok()),
    ) {
        (Some(s), Some(m)) => Some((s, m)),
        _ => None,
    };

    let mut elements: HashMap<String, VarElements> = HashMap::new();
    for Extension {
        name,
        attributes,
        text,
        variable,
    } in ext.elements
    {
        let Some(var) = variable else { continue };
        let e = elements.entry(var).or_default();
        match name.as_str() {
            "chunks" => e.chunks = Some(attributes),
            "chunkDimensionSizes" => {
                let sizes: Option<Vec<usize>> =
                    text.split_whitespace().map(|s| s.parse().ok()).collect();
                e.chunk_sizes = Some(sizes.ok_or_else(|| {
                    corrupt(format!(
                        "has chunk sizes {:?} that are not numbers",
                        text.trim()
                    ))
                })?);
            }
            "chunk" => e.chunk_list.push(attributes),
            "compact" => e.compact = Some(text),
            "FixedLengthStringArray" => e.fixed_strings = Some(attributes),
            _ => {}
        }
    }

    let mut vars = HashMap::new();
    for v in dataset.root.all_variables() {
        let data = match elements.remove(&v.path) {
            Some(e) => var_data(v, &e, href.as_deref())?,
            None => VarData::Unreadable("the DMR++ does not say where its values are".into()),
        };
        vars.insert(v.path.clone(), data);
    }
    Ok(Index {
        dataset,
        href,
        version,
        source_version,
        vars,
    })
}

/// The pipeline `compressionType` names, in the order written.
fn pipeline(types: &str, elem_size: usize) -> std::result::Result<Pipeline, String> {
    let mut filters = Vec::new();
    for t in types.split_whitespace() {
        filters.push(match t {
            "deflate" => Filter::Deflate,
            "shuffle" => Filter::Shuffle { elem_size },
            "fletcher32" => Filter::Fletcher32,
            other => return Err(format!("its filter {other:?} is not one fathom decodes")),
        });
    }
    Ok(Pipeline::new(filters))
}

/// One element of `fill` (the `fillValue` text) in `dtype`, canonical; `None` when it is not a
/// number of that type.
fn fill_element(dtype: &DataType, text: &str) -> Option<Vec<u8>> {
    let t = text.trim();
    let int = || -> Option<i128> {
        t.parse::<i128>().ok().or_else(|| {
            t.parse::<f64>()
                .ok()
                .filter(|f| f.fract() == 0.0)
                .map(|f| f as i128)
        })
    };
    let base = match dtype {
        DataType::Enum(e) => &e.base,
        d => d,
    };
    Some(match base {
        DataType::Int8 => i8::try_from(int()?).ok()?.to_le_bytes().to_vec(),
        DataType::UInt8 => u8::try_from(int()?).ok()?.to_le_bytes().to_vec(),
        DataType::Char => vec![t.bytes().next().unwrap_or(0)],
        DataType::Int16 => i16::try_from(int()?).ok()?.to_le_bytes().to_vec(),
        DataType::UInt16 => u16::try_from(int()?).ok()?.to_le_bytes().to_vec(),
        DataType::Int32 => i32::try_from(int()?).ok()?.to_le_bytes().to_vec(),
        DataType::UInt32 => u32::try_from(int()?).ok()?.to_le_bytes().to_vec(),
        DataType::Int64 => i64::try_from(int()?).ok()?.to_le_bytes().to_vec(),
        DataType::UInt64 => u64::try_from(int()?).ok()?.to_le_bytes().to_vec(),
        DataType::Float32 => t.parse::<f32>().ok()?.to_le_bytes().to_vec(),
        DataType::Float64 => t.parse::<f64>().ok()?.to_le_bytes().to_vec(),
        _ => return None,
    })
}

fn parse_u64(attrs: &[(String, String)], key: &str) -> Result<u64> {
    get(attrs, key)
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| corrupt(format!("has a chunk without a numeric {key}")))
}

/// Where the values of `v` are, from its DMR++ elements.
fn var_data(v: &Variable, e: &VarElements, dataset_href: Option<&str>) -> Result<VarData> {
    let shape = v.shape();
    let unreadable = |why: String| Ok(VarData::Unreadable(why));
    let no_attrs = Vec::new();
    let chunks_attrs = e.chunks.as_ref().unwrap_or(&no_attrs);
    let big_endian = get(chunks_attrs, "byteOrder")
        .or_else(|| get(chunks_attrs, "byteOrde"))
        .is_some_and(|b| b.eq_ignore_ascii_case("BE"));

    if let Some(b64) = &e.compact {
        let raw: String = b64.split_whitespace().collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(raw.as_bytes())
            .map_err(|_| {
                corrupt(format!(
                    "has compact values of {} that are not base64",
                    v.path
                ))
            })?;
        let count: usize = shape.iter().product();
        if v.dtype == DataType::String {
            let strings = compact_strings(&bytes, count, e.fixed_strings.as_deref());
            return match strings {
                Some(s) => Ok(VarData::Strings(s)),
                None => {
                    unreadable("its compact strings are not laid out as fathom reads them".into())
                }
            };
        }
        let Some(elem) = v.dtype.fixed_size() else {
            return unreadable(format!(
                "compact values of type {} are not read",
                v.dtype.cdl_name()
            ));
        };
        if bytes.len() != count * elem {
            return Err(corrupt(format!(
                "gives {} bytes of compact values for {}, which holds {}",
                bytes.len(),
                v.path,
                count * elem
            )));
        }
        let layout =
            ChunkLayout::contiguous(&shape, elem, big_endian, Some(0), None, vec![0; elem]);
        return Ok(VarData::Compact(layout, Bytes::from(bytes)));
    }

    let fixed = if v.dtype == DataType::String {
        e.fixed_strings.as_deref().and_then(fixed_string)
    } else {
        None
    };
    let Some(elem) = v.dtype.fixed_size().or(fixed.map(|f| f.len)) else {
        return unreadable(format!(
            "values of type {} stored in chunks are not read from a DMR++",
            v.dtype.cdl_name()
        ));
    };
    // The first DMR++ files put `dmrpp:chunk` straight in the variable, without `dmrpp:chunks`.
    if e.chunks.is_none() && e.chunk_list.is_empty() {
        return unreadable("the DMR++ does not say where its values are".into());
    }
    let pipeline = match pipeline(get(chunks_attrs, "compressionType").unwrap_or(""), elem) {
        Ok(p) => p,
        Err(why) => return unreadable(why),
    };
    let fill = get(chunks_attrs, "fillValue")
        .filter(|_| fixed.is_none())
        .and_then(|t| fill_element(&v.dtype, t))
        .or_else(|| {
            v.fill_value()
                .filter(|f| f.dtype() == v.dtype)
                .and_then(|_| v.fill_bytes())
        })
        .unwrap_or_else(|| vec![0; elem]);

    // The object the chunks are in: the dataset's, or one other for the whole variable.
    let mut href: Option<String> = None;
    for (i, c) in e.chunk_list.iter().enumerate() {
        let h = get(c, "href")
            .filter(|h| Some(*h) != dataset_href)
            .map(str::to_owned);
        if i > 0 && h != href {
            return unreadable("its chunks are spread over several objects".into());
        }
        href = h;
    }

    let layout = match &e.chunk_sizes {
        None => {
            // Contiguous: one chunk, or none when nothing was ever written.
            match e.chunk_list.as_slice() {
                [] => ChunkLayout::contiguous(&shape, elem, big_endian, None, None, fill),
                [c] if pipeline.is_empty() => {
                    let offset = parse_u64(c, "offset")?;
                    let n = parse_u64(c, "nBytes")?;
                    let want = shape.iter().product::<usize>() as u64 * elem as u64;
                    if n != want {
                        return Err(corrupt(format!(
                            "gives {n} bytes for the contiguous {}, which holds {want}",
                            v.path
                        )));
                    }
                    ChunkLayout::contiguous(&shape, elem, big_endian, Some(offset), None, fill)
                }
                [c] => {
                    // One filtered chunk covering the whole array.
                    let chunk: Vec<usize> = shape.iter().map(|&n| n.max(1)).collect();
                    indexed(
                        v,
                        &shape,
                        chunk,
                        elem,
                        big_endian,
                        pipeline,
                        fill,
                        std::slice::from_ref(c),
                    )?
                }
                _ => {
                    return Err(corrupt(format!(
                        "gives several chunks but no chunk sizes for {}",
                        v.path
                    )));
                }
            }
        }
        Some(sizes) => indexed(
            v,
            &shape,
            sizes.clone(),
            elem,
            big_endian,
            pipeline,
            fill,
            &e.chunk_list,
        )?,
    };
    layout
        .check()
        .map_err(|e| corrupt(format!("describes {}: {e}", v.path)))?;
    Ok(match fixed {
        Some(f) => VarData::FixedStrings(layout, href, f),
        None => VarData::Chunks(layout, href),
    })
}

/// How fixed-length strings are stored: `string_length` bytes each, padded with NULs or spaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FixedString {
    len: usize,
    space_pad: bool,
}

/// The `dmrpp:FixedLengthStringArray` attributes, when they give a usable length.
fn fixed_string(attrs: &[(String, String)]) -> Option<FixedString> {
    let len: usize = get(attrs, "string_length")?.trim().parse().ok()?;
    let space_pad = get(attrs, "pad").is_some_and(|p| p.to_ascii_lowercase().contains("space"));
    (len > 0).then_some(FixedString { len, space_pad })
}

/// One fixed-length string, canonical (length-prefixed): cut at the first NUL, and trailing
/// spaces stripped when the padding is spaces.
fn canonical_string(s: &[u8], space_pad: bool) -> Vec<u8> {
    let mut end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
    if space_pad {
        while end > 0 && s[end - 1] == b' ' {
            end -= 1;
        }
    }
    let mut out = Vec::with_capacity(end + 8);
    out.extend_from_slice(&(end as u64).to_le_bytes());
    out.extend_from_slice(&s[..end]);
    out
}

#[allow(clippy::too_many_arguments)]
fn indexed(
    v: &Variable,
    shape: &[usize],
    chunk: Vec<usize>,
    elem: usize,
    big_endian: bool,
    pipeline: Pipeline,
    fill: Vec<u8>,
    list: &[Vec<(String, String)>],
) -> Result<ChunkLayout> {
    if chunk.len() != shape.len() || chunk.contains(&0) {
        return Err(corrupt(format!(
            "gives chunk sizes {chunk:?} for {} of shape {shape:?}",
            v.path
        )));
    }
    let mut layout = ChunkLayout {
        shape: shape.to_vec(),
        chunk,
        clipped: false,
        elem_size: elem,
        big_endian,
        pipeline,
        locator: Locator::Indexed(HashMap::new()),
        fill,
    };
    let grid = layout.grid();
    let mut index = HashMap::with_capacity(list.len());
    for c in list {
        let offset = parse_u64(c, "offset")?;
        let size = parse_u64(c, "nBytes")?;
        let pos: Vec<usize> = match get(c, "chunkPositionInArray") {
            Some(p) => p
                .trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| s.trim().parse().ok())
                .collect::<Option<Vec<usize>>>()
                .ok_or_else(|| corrupt(format!("has a chunk position {p:?} in {}", v.path)))?,
            None if shape.is_empty() => Vec::new(),
            None => {
                return Err(corrupt(format!(
                    "has a chunk of {} without a position",
                    v.path
                )));
            }
        };
        if pos.len() != shape.len() {
            return Err(corrupt(format!(
                "has a chunk position {pos:?} of the wrong rank in {}",
                v.path
            )));
        }
        let g: Vec<usize> = pos
            .iter()
            .zip(&layout.chunk)
            .map(|(&p, &c)| p / c)
            .collect();
        let aligned = pos.iter().zip(&layout.chunk).all(|(&p, &c)| p % c == 0);
        if !aligned || g.iter().zip(&grid).any(|(&a, &n)| a >= n) {
            return Err(corrupt(format!(
                "has a chunk at {pos:?}, which is not a chunk of {}",
                v.path
            )));
        }
        index.insert(
            layout.linear(&g),
            ChunkLoc {
                addr: offset,
                size,
                mask: 0,
            },
        );
    }
    layout.locator = Locator::Indexed(index);
    Ok(layout)
}

/// Compact string values, canonical: a scalar is the whole buffer; an array of fixed-length
/// strings is cut every `string_length` bytes; padding (NULs, and spaces when `pad` says so) is
/// stripped.
fn compact_strings(
    bytes: &[u8],
    count: usize,
    fixed: Option<&[(String, String)]>,
) -> Option<Vec<Bytes>> {
    let canonical = |s: &[u8], space_pad: bool| Bytes::from(canonical_string(s, space_pad));
    match fixed {
        Some(attrs) => {
            let FixedString { len, space_pad } = fixed_string(attrs)?;
            if bytes.len() != len * count {
                return None;
            }
            Some(bytes.chunks(len).map(|s| canonical(s, space_pad)).collect())
        }
        None if count == 1 => Some(vec![canonical(bytes, false)]),
        None => None,
    }
}

/// Bytes held in memory, read like a file: the compact values of a DMR++.
#[derive(Debug)]
pub struct MemoryStorage(Bytes);

impl Storage for MemoryStorage {
    fn read_at(&self, offset: u64, len: usize) -> std::io::Result<Bytes> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        match start.checked_add(len) {
            Some(end) if end <= self.0.len() => Ok(self.0.slice(start..end)),
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "past the end of the compact values",
            )),
        }
    }
}

/// Finds the object a DMR++ names by an href other than its dataset's.
pub type Resolver<'a> = &'a dyn Fn(&str) -> Result<Arc<dyn Storage>>;

/// Opens the data file itself, once, for the variables its DMR++ does not locate.
pub struct Fallback {
    open: Box<dyn Fn() -> Result<Arc<dyn Source>> + Send + Sync>,
    source: std::sync::OnceLock<Arc<dyn Source>>,
}

impl std::fmt::Debug for Fallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fallback")
            .field("opened", &self.source.get().is_some())
            .finish()
    }
}

impl Fallback {
    /// A fallback that calls `open` (blocking) the first time it is needed.
    #[must_use]
    pub fn new(open: impl Fn() -> Result<Arc<dyn Source>> + Send + Sync + 'static) -> Self {
        Self {
            open: Box::new(open),
            source: std::sync::OnceLock::new(),
        }
    }

    fn get(&self) -> Result<Arc<dyn Source>> {
        if let Some(s) = self.source.get() {
            return Ok(Arc::clone(s));
        }
        let s = (self.open)()?;
        Ok(Arc::clone(self.source.get_or_init(|| s)))
    }
}

/// A dataset read through its DMR++.
#[derive(Debug)]
pub struct DmrppSource {
    dataset: Arc<Dataset>,
    /// One engine per object values come from: the data object, other objects, the compact
    /// values.
    engines: Vec<EngineReader>,
    strings: HashMap<String, Vec<Bytes>>,
    /// Variables of fixed-length strings the engines read as raw elements.
    fixed_strings: HashMap<String, FixedString>,
    unreadable: HashMap<String, String>,
    /// Reads what the DMR++ does not locate from the data file itself, when there is one.
    fallback: Option<Arc<Fallback>>,
}

/// Opens the dataset the DMR++ `xml` describes, reading values from `data` (whatever its
/// `dmrpp:href` says) through `cache`. `name` names the dataset (its file or object name). A
/// variable whose chunks name another object cannot be read (see [`open_with`]).
///
/// # Errors
/// [`Error::Corrupt`] when the DMR++ is not one.
pub fn open(
    xml: &[u8],
    data: Arc<dyn Storage>,
    name: &str,
    cache: Option<&ChunkCache>,
) -> Result<Arc<dyn Source>> {
    let refuse = |href: &str| -> Result<Arc<dyn Storage>> {
        Err(Error::Unsupported(format!(
            "values in another object ({href}) are not read"
        )))
    };
    open_with(xml, data, name, cache, &refuse)
}

/// [`open`], finding the objects that hrefs other than the dataset's name with `resolve`.
///
/// # Errors
/// [`Error::Corrupt`] when the DMR++ is not one.
pub fn open_with(
    xml: &[u8],
    data: Arc<dyn Storage>,
    name: &str,
    cache: Option<&ChunkCache>,
    resolve: Resolver<'_>,
) -> Result<Arc<dyn Source>> {
    let index = parse(xml)?;
    Ok(Arc::new(DmrppSource::new(
        index, data, name, cache, resolve,
    )))
}

impl DmrppSource {
    /// The source of a parsed DMR++ over `data`.
    #[must_use]
    pub fn new(
        index: Index,
        data: Arc<dyn Storage>,
        name: &str,
        cache: Option<&ChunkCache>,
        resolve: Resolver<'_>,
    ) -> Self {
        let Index {
            mut dataset, vars, ..
        } = index;
        if !name.is_empty() {
            dataset.name = name.to_owned();
        }
        let cache = cache.cloned().unwrap_or_else(|| ChunkCache::new(64 << 20));
        let mut by_object: HashMap<Option<String>, Vec<(String, ChunkLayout)>> = HashMap::new();
        let mut compact: Vec<(String, ChunkLayout)> = Vec::new();
        let mut compact_bytes: Vec<u8> = Vec::new();
        let mut strings = HashMap::new();
        let mut fixed_strings = HashMap::new();
        let mut unreadable = HashMap::new();
        let mut paths: Vec<String> = vars.keys().cloned().collect();
        paths.sort();
        let mut vars = vars;
        for path in paths {
            let Some(data) = vars.remove(&path) else {
                continue;
            };
            match data {
                VarData::Chunks(layout, href) => {
                    by_object.entry(href).or_default().push((path, layout))
                }
                VarData::Compact(mut layout, bytes) => {
                    if let Locator::Arithmetic { base, .. } = &mut layout.locator {
                        *base = Some(compact_bytes.len() as u64);
                    }
                    compact_bytes.extend_from_slice(&bytes);
                    compact.push((path, layout));
                }
                VarData::Strings(s) => {
                    strings.insert(path, s);
                }
                VarData::FixedStrings(layout, href, f) => {
                    fixed_strings.insert(path.clone(), f);
                    by_object.entry(href).or_default().push((path, layout));
                }
                VarData::Unreadable(why) => {
                    unreadable.insert(path, why);
                }
            }
        }
        let mut engines = Vec::new();
        let mut objects: Vec<_> = by_object.into_iter().collect();
        objects.sort_by(|a, b| a.0.cmp(&b.0));
        for (href, layouts) in objects {
            let storage = match &href {
                None => Ok(Arc::clone(&data)),
                Some(h) => resolve(h),
            };
            match storage {
                Ok(s) => engines.extend(EngineReader::from_storage(s, &cache, layouts)),
                Err(e) => {
                    for (p, _) in layouts {
                        unreadable.insert(p, e.to_string());
                    }
                }
            }
        }
        if !compact.is_empty() {
            let memory: Arc<dyn Storage> = Arc::new(MemoryStorage(Bytes::from(compact_bytes)));
            engines.extend(EngineReader::from_storage(memory, &cache, compact));
        }
        Self {
            dataset: Arc::new(dataset),
            engines,
            strings,
            fixed_strings,
            unreadable,
            fallback: None,
        }
    }

    /// This source, reading the variables its DMR++ does not locate through `fallback`.
    #[must_use]
    pub fn with_fallback(mut self, fallback: Fallback) -> Self {
        self.fallback = Some(Arc::new(fallback));
        self
    }
}

/// The elements of `values` (an array of `shape`, C order) that `slab` selects, concatenated.
fn select(values: &[Bytes], shape: &[usize], slab: &Hyperslab) -> Bytes {
    let mut out = Vec::new();
    let ranges = slab.ranges();
    if slab.is_empty() {
        return Bytes::new();
    }
    let mut idx = vec![0usize; ranges.len()];
    loop {
        let linear = ranges
            .iter()
            .zip(&idx)
            .zip(shape)
            .fold(0usize, |acc, ((r, &i), &n)| {
                acc * n + r.start + i * r.stride
            });
        if let Some(v) = values.get(linear) {
            out.extend_from_slice(v);
        }
        // Odometer, last dimension fastest.
        let mut d = ranges.len();
        loop {
            if d == 0 {
                return Bytes::from(out);
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < ranges[d].count {
                break;
            }
            idx[d] = 0;
        }
    }
}

impl Source for DmrppSource {
    fn dataset(&self) -> &Arc<Dataset> {
        &self.dataset
    }

    fn read(&self, path: &str, slab: &Hyperslab) -> ByteStream {
        if let Some(&f) = self.fixed_strings.get(path)
            && let Some(raw) = self.engines.iter().find_map(|e| e.read(path, slab))
        {
            return fixed_strings_stream(raw, f);
        }
        for e in &self.engines {
            if let Some(stream) = e.read(path, slab) {
                return stream;
            }
        }
        if let Some(values) = self.strings.get(path) {
            let shape = self
                .dataset
                .variable(path)
                .map(Variable::shape)
                .unwrap_or_default();
            if let Err(e) = Hyperslab::new(slab.ranges().to_vec(), &shape) {
                return error_stream(e.into());
            }
            let bytes = select(values, &shape, slab);
            return Box::pin(futures::stream::once(async move { Ok(bytes) }));
        }
        if let Some(why) = self.unreadable.get(path) {
            let Some(fallback) = &self.fallback else {
                return error_stream(Error::Unsupported(format!("{path}: {why}")));
            };
            use futures::TryStreamExt as _;
            let fallback = Arc::clone(fallback);
            let (path, slab) = (path.to_owned(), slab.clone());
            let opened = futures::stream::once(async move {
                tokio::task::spawn_blocking(move || fallback.get())
                    .await
                    .map_err(|_| Error::Interrupted)?
            });
            return Box::pin(
                opened
                    .map_ok(move |source| source.read(&path, &slab))
                    .try_flatten(),
            );
        }
        error_stream(Error::NoSuchVariable(path.to_owned()))
    }

    fn stored_chunks(&self, path: &str) -> Option<engine::StoredChunks> {
        self.engines.iter().find_map(|e| e.stored_chunks(path))
    }
}

/// The canonical strings of a stream of fixed-length string elements (which may arrive cut
/// anywhere).
fn fixed_strings_stream(raw: ByteStream, f: FixedString) -> ByteStream {
    use futures::StreamExt as _;
    let mut pending: Vec<u8> = Vec::new();
    Box::pin(raw.map(move |part| {
        let part = part?;
        pending.extend_from_slice(&part);
        let whole = pending.len() - pending.len() % f.len;
        let mut out = Vec::with_capacity(whole + whole / f.len * 8);
        for s in pending[..whole].chunks(f.len) {
            out.extend_from_slice(&canonical_string(s, f.space_pad));
        }
        pending.drain(..whole);
        Ok(Bytes::from(out))
    }))
}

/// The file extension of a DMR++ sidecar.
pub const EXTENSION: &str = "dmrpp";

/// The DMR++ that stands for the file at `path`: `path` itself when it is one (`X.dmrpp`), or
/// `X.dmrpp` beside `X` when that exists. One `stat` when there is none.
#[must_use]
pub fn sidecar_of(path: &Path) -> Option<PathBuf> {
    if is_dmrpp(path) {
        return Some(path.to_path_buf());
    }
    let mut name = path.file_name()?.to_os_string();
    name.push(".");
    name.push(EXTENSION);
    let sidecar = path.with_file_name(name);
    sidecar.is_file().then_some(sidecar)
}

/// Whether `path` names a DMR++ (by its extension).
#[must_use]
pub fn is_dmrpp(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == EXTENSION)
}

/// The data file a DMR++ at `dmrpp` describes, when it lies beside it (`X` for `X.dmrpp`).
#[must_use]
pub fn data_beside(dmrpp: &Path) -> Option<PathBuf> {
    let data = dmrpp.with_extension("");
    (is_dmrpp(dmrpp) && data.is_file()).then_some(data)
}

/// The local file an href of the DMR++ at `dmrpp` names: relative hrefs only, resolved against
/// the DMR++'s folder, and only when they lead to a file inside `root`. URLs and absolute paths
/// are refused: a DMR++ never makes the server fetch or read what it chooses.
///
/// # Errors
/// [`Error::Unsupported`] for an href that is not a relative path inside the root, or names
/// nothing.
pub fn resolve_local_href(dmrpp: &Path, root: &Path, href: &str) -> Result<PathBuf> {
    let refuse = || {
        Error::Unsupported(format!(
            "the DMR++ names its data as {href:?}, which is not a file beside it in the data folder"
        ))
    };
    let rel = Path::new(href);
    if href.contains("://")
        || rel.is_absolute()
        || rel.components().any(|c| {
            !matches!(
                c,
                std::path::Component::Normal(_)
                    | std::path::Component::CurDir
                    | std::path::Component::ParentDir
            )
        })
    {
        return Err(refuse());
    }
    let dir = dmrpp.parent().ok_or_else(refuse)?;
    let real = dir.join(rel).canonicalize().map_err(|_| refuse())?;
    if real.starts_with(root) && real.is_file() {
        Ok(real)
    } else {
        Err(refuse())
    }
}

/// The size and modification time (nanoseconds since the epoch) of the file at `path`, as
/// `fathom index` records them.
///
/// # Errors
/// When the file cannot be examined.
pub fn file_version(path: &Path) -> std::io::Result<(u64, i64)> {
    let m = std::fs::metadata(path)?;
    let mtime = m
        .modified()?
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    Ok((m.len(), mtime))
}

/// Opens the DMR++ file at `dmrpp` as a dataset named after its data file, reading values from
/// `data` when given (the file beside it), else from what its `dmrpp:href` names inside `root`
/// ([`resolve_local_href`]). Other objects its chunks name are resolved the same way. Never
/// opens a data file with the HDF5 library.
///
/// `Ok(None)` when the index is stale: it records the size and modification time of the file
/// it was written from (as `fathom index` does) and the data file no longer has them, so its
/// offsets cannot be trusted; the caller opens the file itself instead.
///
/// # Errors
/// When the DMR++ cannot be read or parsed, or its data file cannot be found or opened.
pub fn open_local(
    dmrpp: &Path,
    data: Option<&Path>,
    root: &Path,
    cache: Option<&ChunkCache>,
) -> Result<Option<Arc<dyn Source>>> {
    let xml = std::fs::read(dmrpp)?;
    let index = parse(&xml)?;
    if let (Some(d), Some(recorded)) = (data, index.source_version)
        && file_version(d)? != recorded
    {
        tracing::warn!(index = %dmrpp.display(), "the DMR++ is older than its data file: not used");
        return Ok(None);
    }
    let data_path = match data {
        Some(d) => d.to_path_buf(),
        None => {
            let href = index.href.clone().ok_or_else(|| {
                Error::Unsupported("the DMR++ does not name its data object".into())
            })?;
            resolve_local_href(dmrpp, root, &href)?
        }
    };
    let storage: Arc<dyn Storage> = Arc::new(engine::storage::FileStorage::open(&data_path)?);
    let name = data_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let resolve = |href: &str| -> Result<Arc<dyn Storage>> {
        let p = resolve_local_href(dmrpp, root, href)?;
        Ok(Arc::new(engine::storage::FileStorage::open(&p)?))
    };
    let source = DmrppSource::new(index, storage, &name, cache, &resolve);
    // Variables the DMR++ does not locate (a filter it cannot name, a large string array) are
    // read from the file beside it, opened only when one of them is asked for.
    let source = match data {
        Some(d) if !source.unreadable.is_empty() => {
            let (d, cache) = (d.to_path_buf(), cache.cloned());
            source.with_fallback(Fallback::new(move || {
                crate::catalog::open(&d, cache.as_ref())
            }))
        }
        _ => source,
    };
    Ok(Some(Arc::new(source)))
}

#[cfg(test)]
mod tests;
