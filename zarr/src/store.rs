//! The Zarr store of one dataset: every metadata document of both formats (consolidated at
//! every group), built once per file version, and what every other key means.

use std::collections::HashMap;

use bytes::Bytes;
use cdm::engine::filters::Filter;
use cdm::engine::layout::{ChunkLayout, Locator};
use cdm::{AttrValue, Attribute, DataType, Dataset, Group, Hyperslab, HyperslabError, Range};

use crate::json::{Json, attr_value, element};

/// Target size of a synthetic chunk (netCDF-3 and contiguous variables): within the 1–8 MiB
/// that dask and HTTP clients handle well.
pub const SYNTHETIC_CHUNK_BYTES: usize = 4 << 20;

/// Bytes assumed per string when sizing a synthetic chunk of strings.
const STRING_BYTES_GUESS: usize = 64;

/// The root attribute that names the variables left out of the store, with the reason.
pub const OMITTED_ATTRIBUTE: &str = "zarr_omitted_variables";

/// The two Zarr formats the store offers side by side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ZarrFormat {
    /// Zarr v2: `.zgroup`, `.zarray`, `.zattrs`, `.zmetadata`; chunks at `i.j.k`.
    V2,
    /// Zarr v3: `zarr.json`; chunks at `c/i/j/k`.
    V3,
}

/// How the bytes of one array's chunks are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkEncoding {
    /// The file's stored chunk, sent untouched: its filters are Zarr codecs.
    Stored,
    /// The values, little-endian, uncompressed; edge chunks padded to full size with the fill
    /// value ([`Array::raw_chunk`]).
    Raw,
    /// Strings in the `vlen-utf8` codec's layout ([`Array::vlen_utf8_chunk`]).
    VlenUtf8,
}

/// One variable as a Zarr array.
#[derive(Clone, Debug)]
pub struct Array {
    /// The CDM variable's path (`/g/v`), what the source reads by.
    pub var_path: String,
    /// The array's key in the store (`g/v`).
    pub key: String,
    /// The array's shape.
    pub shape: Vec<usize>,
    /// The chunk shape: the variable's own, or a synthetic one.
    pub chunk: Vec<usize>,
    /// The CDM element type.
    pub dtype: DataType,
    /// Bytes per canonical element (0 for strings).
    pub(crate) elem_size: usize,
    /// One canonical element of the fill value, for padding edge chunks.
    pub(crate) fill: Vec<u8>,
    /// How v2 chunks are made.
    pub v2: ChunkEncoding,
    /// How v3 chunks are made.
    pub v3: ChunkEncoding,
}

impl Array {
    /// How chunks of `format` are made.
    #[must_use]
    pub fn encoding(&self, format: ZarrFormat) -> ChunkEncoding {
        match format {
            ZarrFormat::V2 => self.v2,
            ZarrFormat::V3 => self.v3,
        }
    }

    /// Number of chunks along each dimension.
    #[must_use]
    pub fn grid(&self) -> Vec<usize> {
        cdm::engine::layout::chunk_grid(&self.shape, &self.chunk)
    }

    /// The part of the array that the chunk at `g` covers (edge chunks clipped to the shape).
    ///
    /// # Errors
    /// When `g` is not a position in the chunk grid.
    pub fn region(&self, g: &[usize]) -> Result<Hyperslab, HyperslabError> {
        let ranges = g
            .iter()
            .zip(&self.chunk)
            .zip(&self.shape)
            .map(|((&i, &c), &n)| {
                let start = i.saturating_mul(c);
                Range::new(start, c.min(n.saturating_sub(start)).max(1), 1, n)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Hyperslab::new(ranges, &self.shape)
    }
}

/// What a key of the store names.
#[derive(Debug)]
pub enum Key<'a> {
    /// A metadata document (JSON).
    Document(&'a Bytes),
    /// One chunk of an array, in one format.
    Chunk {
        /// The array.
        array: &'a Array,
        /// The format whose key named it (it decides the chunk's encoding).
        format: ZarrFormat,
        /// The chunk's position in the grid (inside the grid).
        grid: Vec<usize>,
    },
}

/// Every document and array of one dataset's Zarr store.
#[derive(Debug, Default)]
pub struct Store {
    arrays: Vec<Array>,
    /// Array key → index in `arrays`.
    by_key: HashMap<String, usize>,
    /// Metadata key (`.zmetadata`, `g/v/zarr.json`, …) → document.
    documents: HashMap<String, Bytes>,
    /// Variables left out, with the reason.
    omitted: Vec<(String, String)>,
}

/// Per group, while building: its key and the documents of its subtree (for consolidation).
struct GroupDocs {
    /// (key relative to the store root, v2 documents, v3 document) of each node in the subtree.
    v2: Vec<(String, Json)>,
    v3: Vec<(String, Json)>,
}

impl Store {
    /// The store of `ds`. `native` gives the read engine's layout of a variable, when it knows
    /// one: its chunk shape, filters and index decide whether stored chunks can be sent as
    /// they are.
    pub fn build<'a>(ds: &Dataset, native: impl Fn(&str) -> Option<&'a ChunkLayout>) -> Self {
        let mut store = Self::default();
        let mut phony = PhonyDims::default();
        let _ = store.add_group(&ds.root, "", &native, &mut phony);
        store
    }

    /// The arrays, depth first.
    #[must_use]
    pub fn arrays(&self) -> &[Array] {
        &self.arrays
    }

    /// The variables left out, with the reason.
    #[must_use]
    pub fn omitted(&self) -> &[(String, String)] {
        &self.omitted
    }

    /// What `key` (the part of the URL after `X.zarr/`, decoded) names; `None` for a key
    /// that is not in the store (an unknown array, a malformed chunk key, a chunk outside the
    /// grid): Zarr clients take only "absent" from it.
    #[must_use]
    pub fn resolve(&self, key: &str) -> Option<Key<'_>> {
        if let Some(doc) = self.documents.get(key) {
            return Some(Key::Document(doc));
        }
        let parts: Vec<&str> = key.split('/').collect();
        // v2: `array/i.j.k` (`array/0` for a scalar).
        if let Some((last, prefix)) = parts.split_last()
            && let Some(array) = self.array(&prefix.join("/"))
        {
            let coords: Vec<&str> = if array.shape.is_empty() {
                if *last == "0" { vec![] } else { vec!["x"] }
            } else {
                last.split('.').collect()
            };
            if let Some(grid) = grid_position(array, &coords) {
                return Some(Key::Chunk {
                    array,
                    format: ZarrFormat::V2,
                    grid,
                });
            }
        }
        // v3: `array/c/i/j/k` (`array/c` for a scalar).
        for i in 1..parts.len() {
            if parts[i] == "c"
                && let Some(array) = self.array(&parts[..i].join("/"))
            {
                if let Some(grid) = grid_position(array, &parts[i + 1..]) {
                    return Some(Key::Chunk {
                        array,
                        format: ZarrFormat::V3,
                        grid,
                    });
                }
                return None;
            }
        }
        None
    }

    fn array(&self, key: &str) -> Option<&Array> {
        self.by_key.get(key).and_then(|&i| self.arrays.get(i))
    }

    /// Adds the group at store key `key` ("" for the root) and its subtree; returns the
    /// documents of the subtree, keyed relative to this group.
    fn add_group<'a>(
        &mut self,
        group: &Group,
        key: &str,
        native: &impl Fn(&str) -> Option<&'a ChunkLayout>,
        phony: &mut PhonyDims,
    ) -> GroupDocs {
        let mut sub = GroupDocs {
            v2: Vec::new(),
            v3: Vec::new(),
        };
        let mut taken: Vec<&str> = Vec::new();
        for v in &group.variables {
            taken.push(&v.name);
            let array_key = join(key, &v.name);
            match self.add_array(v, &array_key, native, phony) {
                Ok((zarray, zattrs, zarr_json)) => {
                    sub.v2.push((format!("{}/.zarray", v.name), zarray));
                    sub.v2.push((format!("{}/.zattrs", v.name), zattrs));
                    sub.v3.push((v.name.clone(), zarr_json));
                }
                Err(reason) => self.omitted.push((v.path.clone(), reason)),
            }
        }
        for g in &group.groups {
            if taken.contains(&g.name.as_str()) {
                continue;
            }
            let child = self.add_group(g, &join(key, &g.name), native, phony);
            for (k, doc) in child.v2 {
                sub.v2.push((format!("{}/{k}", g.name), doc));
            }
            for (k, doc) in child.v3 {
                let k = if k.is_empty() {
                    g.name.clone()
                } else {
                    format!("{}/{k}", g.name)
                };
                sub.v3.push((k, doc));
            }
        }

        let mut attrs = attributes(&group.attributes, |_| true);
        if key.is_empty() && !self.omitted.is_empty() {
            let list = self
                .omitted
                .iter()
                .map(|(p, why)| Json::str(format!("{p}: {why}")))
                .collect();
            attrs.push(OMITTED_ATTRIBUTE, Json::Arr(list));
        }
        let zgroup = Json::obj([("zarr_format", Json::uint(2))]);
        // The consolidated documents of the subtree, this group's own first.
        let mut v2_all = vec![
            (".zgroup".to_owned(), zgroup.clone()),
            (".zattrs".to_owned(), attrs.clone()),
        ];
        v2_all.extend(sub.v2.iter().cloned());
        let zmetadata = Json::obj([
            ("metadata", Json::Obj(v2_all.clone())),
            ("zarr_consolidated_format", Json::uint(1)),
        ]);
        let plain_group = Json::obj([
            ("zarr_format", Json::uint(3)),
            ("node_type", Json::str("group")),
            ("attributes", attrs.clone()),
        ]);
        let mut zarr_json = plain_group.clone();
        zarr_json.push(
            "consolidated_metadata",
            Json::obj([
                ("kind", Json::str("inline")),
                ("must_understand", Json::Bool(false)),
                ("metadata", Json::Obj(sub.v3.clone())),
            ]),
        );
        self.put(&join(key, ".zgroup"), &zgroup);
        self.put(&join(key, ".zattrs"), &attrs);
        self.put(&join(key, ".zmetadata"), &zmetadata);
        self.put(&join(key, "zarr.json"), &zarr_json);
        // Every array's documents, as their own keys too.
        GroupDocs {
            v2: v2_all,
            v3: std::iter::once((String::new(), plain_group))
                .chain(sub.v3)
                .collect(),
        }
    }

    fn put(&mut self, key: &str, doc: &Json) {
        self.documents
            .insert(key.to_owned(), Bytes::from(doc.to_bytes()));
    }

    /// Adds one variable; returns its `.zarray`, `.zattrs` and v3 `zarr.json`, or why Zarr
    /// cannot hold it.
    fn add_array<'a>(
        &mut self,
        v: &cdm::Variable,
        key: &str,
        native: &impl Fn(&str) -> Option<&'a ChunkLayout>,
        phony: &mut PhonyDims,
    ) -> Result<(Json, Json, Json), String> {
        let value_type = match &v.dtype {
            DataType::Enum(e) => e.base.clone(),
            t if t.is_numeric() || matches!(t, DataType::Char | DataType::String) => t.clone(),
            DataType::Structure(_) => return Err("compound type".into()),
            DataType::VLen(_) => return Err("variable-length type".into()),
            DataType::Opaque(_) => return Err("opaque type".into()),
            other => return Err(format!("type {other}")),
        };
        let shape = v.shape();
        let rank = shape.len();
        let elem_size = value_type.fixed_size().unwrap_or(0);
        let layout = native(&v.path);
        let passes = layout.filter(|l| stored_chunks_are_zarr(l, &value_type));
        let chunk = match (layout, &v.storage.chunks) {
            (Some(l), _) if !l.clipped => l.chunk.clone(),
            (_, Some(c)) if c.len() == rank && !c.contains(&0) => c.clone(),
            _ => synthetic_chunk(
                &shape,
                if elem_size == 0 {
                    STRING_BYTES_GUESS
                } else {
                    elem_size
                },
            ),
        };
        let fill = layout
            .map(|l| l.fill.clone())
            .filter(|f| f.len() == elem_size && elem_size > 0)
            .or_else(|| v.fill_bytes())
            .unwrap_or_else(|| vec![0; elem_size]);
        let decoded = if value_type == DataType::String {
            ChunkEncoding::VlenUtf8
        } else {
            ChunkEncoding::Raw
        };
        // v2 clients read a missing chunk as `fill_value`, which is the `_FillValue` attribute
        // (xarray masks with it): stored chunks go out as they are only when every chunk was
        // written or that attribute is what unwritten chunks hold.
        let v2_fill_attr = v.fill_value().and_then(attr_value);
        let v2_passes = passes.is_some_and(|l| {
            complete(l) || (v.fill_value().is_some() && v.fill_bytes().as_ref() == Some(&l.fill))
        });
        let array = Array {
            var_path: v.path.clone(),
            key: key.to_owned(),
            shape: shape.clone(),
            chunk: chunk.clone(),
            dtype: value_type.clone(),
            elem_size,
            fill: fill.clone(),
            v2: if v2_passes {
                ChunkEncoding::Stored
            } else {
                decoded
            },
            v3: if passes.is_some() {
                ChunkEncoding::Stored
            } else {
                decoded
            },
        };
        let dims: Vec<Json> = v
            .dims
            .iter()
            .map(|d| Json::str(d.name.clone().unwrap_or_else(|| phony.name(d.len))))
            .collect();
        let big_endian = |enc: ChunkEncoding| {
            enc == ChunkEncoding::Stored && elem_size > 1 && layout.is_some_and(|l| l.big_endian)
        };
        let filters = passes
            .map(|l| l.pipeline.filters().to_vec())
            .unwrap_or_default();
        let level = v.storage.deflate.unwrap_or(1);

        // v2.
        let (mut v2_filters, mut compressor) = (Vec::new(), Json::Null);
        if array.v2 == ChunkEncoding::Stored {
            for f in &filters {
                match f {
                    Filter::Shuffle { elem_size } => v2_filters.push(Json::obj([
                        ("id", Json::str("shuffle")),
                        ("elementsize", Json::uint(*elem_size)),
                    ])),
                    Filter::Deflate => {
                        compressor = Json::obj([
                            ("id", Json::str("zlib")),
                            ("level", Json::uint(level as usize)),
                        ]);
                    }
                    _ => {}
                }
            }
        }
        if array.v2 == ChunkEncoding::VlenUtf8 {
            v2_filters.push(Json::obj([("id", Json::str("vlen-utf8"))]));
        }
        let zarray = Json::obj([
            ("zarr_format", Json::uint(2)),
            ("shape", Json::uints(&shape)),
            ("chunks", Json::uints(&chunk)),
            (
                "dtype",
                Json::str(v2_dtype(&value_type, big_endian(array.v2))),
            ),
            ("compressor", compressor),
            (
                "fill_value",
                match (&v2_fill_attr, value_type.is_numeric()) {
                    (Some(j @ Json::Num(_)), true) => j.clone(),
                    // v2 spells non-finite fill values as strings.
                    (Some(Json::NonFinite(t)), true) => Json::str(*t),
                    _ => Json::Null,
                },
            ),
            ("order", Json::str("C")),
            (
                "filters",
                if v2_filters.is_empty() {
                    Json::Null
                } else {
                    Json::Arr(v2_filters)
                },
            ),
            ("dimension_separator", Json::str(".")),
        ]);
        let mut zattrs = attributes(&v.attributes, |a| a.name != "_FillValue");
        zattrs.push("_ARRAY_DIMENSIONS", Json::Arr(dims.clone()));

        // v3.
        let mut codecs = vec![match (&array.v3, elem_size) {
            (ChunkEncoding::VlenUtf8, _) => Json::obj([
                ("name", Json::str("vlen-utf8")),
                ("configuration", Json::Obj(vec![])),
            ]),
            (_, 1) => Json::obj([("name", Json::str("bytes"))]),
            (enc, _) => Json::obj([
                ("name", Json::str("bytes")),
                (
                    "configuration",
                    Json::obj([(
                        "endian",
                        Json::str(if big_endian(*enc) { "big" } else { "little" }),
                    )]),
                ),
            ]),
        }];
        if array.v3 == ChunkEncoding::Stored {
            for f in &filters {
                match f {
                    Filter::Shuffle { elem_size } => codecs.push(Json::obj([
                        ("name", Json::str("numcodecs.shuffle")),
                        (
                            "configuration",
                            Json::obj([("elementsize", Json::uint(*elem_size))]),
                        ),
                    ])),
                    Filter::Deflate => codecs.push(Json::obj([
                        ("name", Json::str("numcodecs.zlib")),
                        (
                            "configuration",
                            Json::obj([("level", Json::uint(level as usize))]),
                        ),
                    ])),
                    _ => {}
                }
            }
        }
        let v3_fill = match &value_type {
            DataType::Char | DataType::String => Json::str(""),
            t => element(t, &fill).unwrap_or(Json::uint(0)),
        };
        let mut v3_attrs = attributes(&v.attributes, |a| a.name != "_FillValue");
        if let Some(f) = v3_fill_attribute(v.fill_value(), &value_type) {
            v3_attrs.push("_FillValue", f);
        }
        let data_type = match &value_type {
            DataType::Char => Json::obj([
                ("name", Json::str("null_terminated_bytes")),
                (
                    "configuration",
                    Json::obj([("length_bytes", Json::uint(1))]),
                ),
            ]),
            DataType::String => Json::str("string"),
            t => Json::str(v3_numeric_name(t)),
        };
        let zarr_json = Json::obj([
            ("zarr_format", Json::uint(3)),
            ("node_type", Json::str("array")),
            ("shape", Json::uints(&shape)),
            ("data_type", data_type),
            (
                "chunk_grid",
                Json::obj([
                    ("name", Json::str("regular")),
                    (
                        "configuration",
                        Json::obj([("chunk_shape", Json::uints(&chunk))]),
                    ),
                ]),
            ),
            (
                "chunk_key_encoding",
                Json::obj([
                    ("name", Json::str("default")),
                    ("configuration", Json::obj([("separator", Json::str("/"))])),
                ]),
            ),
            ("fill_value", v3_fill),
            ("codecs", Json::Arr(codecs)),
            ("attributes", v3_attrs),
            ("dimension_names", Json::Arr(dims)),
        ]);

        self.put(&join(key, ".zarray"), &zarray);
        self.put(&join(key, ".zattrs"), &zattrs);
        self.put(&join(key, "zarr.json"), &zarr_json);
        self.by_key.insert(key.to_owned(), self.arrays.len());
        self.arrays.push(array);
        Ok((zarray, zattrs, zarr_json))
    }
}

/// Names for anonymous dimensions, one per distinct length, as netCDF-C names them.
#[derive(Default)]
struct PhonyDims(Vec<usize>);

impl PhonyDims {
    fn name(&mut self, len: usize) -> String {
        let i = self.0.iter().position(|&l| l == len).unwrap_or_else(|| {
            self.0.push(len);
            self.0.len() - 1
        });
        format!("phony_dim_{i}")
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}/{name}")
    }
}

/// The attributes that JSON can carry and `keep` keeps, in order.
fn attributes(attrs: &[Attribute], keep: impl Fn(&Attribute) -> bool) -> Json {
    Json::Obj(
        attrs
            .iter()
            .filter(|a| keep(a))
            .filter_map(|a| Some((a.name.clone(), attr_value(&a.value)?)))
            .collect(),
    )
}

/// `_FillValue` as xarray writes it into v3 attributes: a float as the base64 of its
/// little-endian `f64`, an integer as a number. Text types keep none (xarray cannot decode
/// one for them).
fn v3_fill_attribute(value: Option<&AttrValue>, dtype: &DataType) -> Option<Json> {
    use base64::Engine as _;
    let json = attr_value(value?)?;
    match (dtype, &json) {
        (DataType::Float32 | DataType::Float64, _) => {
            let x = match &json {
                Json::Num(n) => n.as_f64()?,
                Json::NonFinite("NaN") => f64::NAN,
                Json::NonFinite("Infinity") => f64::INFINITY,
                Json::NonFinite(_) => f64::NEG_INFINITY,
                _ => return None,
            };
            Some(Json::str(
                base64::engine::general_purpose::STANDARD.encode(x.to_le_bytes()),
            ))
        }
        (t, Json::Num(_)) if t.is_integer() => Some(json),
        _ => None,
    }
}

/// Whether the stored chunks of `layout` are valid Zarr chunks as they are: full-size edge
/// chunks (HDF5's), every chunk written with the whole pipeline, and a pipeline of Zarr
/// codecs (shuffle, zlib).
fn stored_chunks_are_zarr(layout: &ChunkLayout, value_type: &DataType) -> bool {
    let Locator::Indexed(index) = &layout.locator else {
        return false;
    };
    let codecs_map = matches!(
        layout.pipeline.filters(),
        [] | [Filter::Deflate]
            | [Filter::Shuffle { .. }]
            | [Filter::Shuffle { .. }, Filter::Deflate]
    );
    !layout.clipped
        && !layout.shape.is_empty()
        && codecs_map
        && value_type.fixed_size() == Some(layout.elem_size)
        && index.values().all(|loc| loc.mask == 0)
}

/// Whether every chunk of the grid was written.
fn complete(layout: &ChunkLayout) -> bool {
    match &layout.locator {
        Locator::Indexed(index) => {
            index.len() as u64 == layout.grid().iter().map(|&n| n as u64).product::<u64>()
        }
        Locator::Arithmetic { base, .. } => base.is_some(),
    }
}

/// A chunk shape of about [`SYNTHETIC_CHUNK_BYTES`]: whole inner dimensions, a run of the
/// outermost dimension that does not fit whole, ones outside it.
fn synthetic_chunk(shape: &[usize], elem_size: usize) -> Vec<usize> {
    let mut chunk: Vec<usize> = shape.iter().map(|&n| n.max(1)).collect();
    let mut inner = elem_size.max(1);
    for d in (0..shape.len()).rev() {
        let whole = inner.saturating_mul(shape[d].max(1));
        if whole <= SYNTHETIC_CHUNK_BYTES {
            inner = whole;
            continue;
        }
        chunk[d] = (SYNTHETIC_CHUNK_BYTES / inner).clamp(1, shape[d].max(1));
        for c in chunk.iter_mut().take(d) {
            *c = 1;
        }
        break;
    }
    chunk
}

/// The chunk position named by `coords` (decimal indices, no signs or leading zeros), if it is
/// inside the array's grid.
fn grid_position(array: &Array, coords: &[&str]) -> Option<Vec<usize>> {
    if coords.len() != array.shape.len() {
        return None;
    }
    let grid = array.grid();
    coords
        .iter()
        .zip(&grid)
        .map(|(c, &n)| {
            let canonical = !c.is_empty()
                && c.bytes().all(|b| b.is_ascii_digit())
                && (c.len() == 1 || !c.starts_with('0'));
            let i: usize = c.parse().ok().filter(|_| canonical)?;
            (i < n).then_some(i)
        })
        .collect()
}

fn v2_dtype(t: &DataType, big_endian: bool) -> String {
    let (kind, size) = match t {
        DataType::Int8 => ('i', 1),
        DataType::UInt8 => ('u', 1),
        DataType::Int16 => ('i', 2),
        DataType::UInt16 => ('u', 2),
        DataType::Int32 => ('i', 4),
        DataType::UInt32 => ('u', 4),
        DataType::Int64 => ('i', 8),
        DataType::UInt64 => ('u', 8),
        DataType::Float32 => ('f', 4),
        DataType::Float64 => ('f', 8),
        DataType::Char => return "|S1".into(),
        _ => return "|O".into(),
    };
    let order = match (size, big_endian) {
        (1, _) => '|',
        (_, true) => '>',
        _ => '<',
    };
    format!("{order}{kind}{size}")
}

fn v3_numeric_name(t: &DataType) -> &'static str {
    match t {
        DataType::Int8 => "int8",
        DataType::UInt8 => "uint8",
        DataType::Int16 => "int16",
        DataType::UInt16 => "uint16",
        DataType::Int32 => "int32",
        DataType::UInt32 => "uint32",
        DataType::Int64 => "int64",
        DataType::UInt64 => "uint64",
        DataType::Float32 => "float32",
        _ => "float64",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use cdm::engine::filters::Pipeline;
    use cdm::engine::layout::ChunkLoc;
    use cdm::{Dimension, Field, Format, Storage, StructureType, VarDim, Variable};

    use super::*;

    fn dim(name: &str, len: usize) -> Dimension {
        Dimension {
            name: name.into(),
            path: format!("/{name}"),
            len,
            unlimited: false,
        }
    }

    fn var(path: &str, dtype: DataType, dims: &[&Dimension]) -> Variable {
        Variable {
            name: path.rsplit('/').next().unwrap_or_default().into(),
            path: path.into(),
            dtype,
            dims: dims.iter().map(|d| VarDim::shared(d)).collect(),
            attributes: vec![],
            storage: Storage::default(),
        }
    }

    fn sample() -> Dataset {
        let (y, x) = (dim("y", 5), dim("x", 7));
        let mut t = var("/t", DataType::Float32, &[&y, &x]);
        t.attributes
            .push(Attribute::new("units", AttrValue::Char(b"K".to_vec())));
        t.attributes
            .push(Attribute::new("_FillValue", AttrValue::Float32(vec![-1.0])));
        t.storage.chunks = Some(vec![2, 4]);
        let rec = DataType::Structure(Arc::new(StructureType {
            name: "rec".into(),
            path: "/rec".into(),
            fields: vec![Field {
                name: "a".into(),
                dtype: DataType::Int32,
                shape: vec![],
            }],
        }));
        Dataset {
            name: "s.nc".into(),
            format: Format::NetCdf4,
            root: Group {
                name: String::new(),
                path: "/".into(),
                dimensions: vec![y.clone(), x.clone()],
                variables: vec![
                    t,
                    var("/s", DataType::Int16, &[]),
                    var("/names", DataType::String, &[&y]),
                    var("/rec", rec, &[&y]),
                ],
                groups: vec![Group {
                    name: "g".into(),
                    path: "/g".into(),
                    variables: vec![var("/g/c", DataType::Char, &[&y, &x])],
                    ..Group::default()
                }],
                ..Group::default()
            },
        }
    }

    fn doc(store: &Store, key: &str) -> serde_json::Value {
        match store.resolve(key) {
            Some(Key::Document(d)) => serde_json::from_slice(d).expect("valid JSON"),
            other => panic!("{key}: {other:?}"),
        }
    }

    fn chunk(store: &Store, key: &str) -> Option<(String, ZarrFormat, Vec<usize>)> {
        match store.resolve(key)? {
            Key::Chunk {
                array,
                format,
                grid,
            } => Some((array.key.clone(), format, grid)),
            Key::Document(_) => None,
        }
    }

    #[test]
    fn documents_describe_arrays_groups_and_omissions() {
        let store = Store::build(&sample(), |_| None);
        let t = doc(&store, "t/.zarray");
        assert_eq!(t["dtype"], "<f4");
        assert_eq!(t["chunks"], serde_json::json!([2, 4]));
        assert_eq!(t["fill_value"], -1.0);
        assert_eq!(t["compressor"], serde_json::Value::Null);
        let attrs = doc(&store, "t/.zattrs");
        assert_eq!(attrs["units"], "K");
        assert_eq!(attrs["_ARRAY_DIMENSIONS"], serde_json::json!(["y", "x"]));
        assert!(attrs.get("_FillValue").is_none());
        let v3 = doc(&store, "t/zarr.json");
        assert_eq!(v3["data_type"], "float32");
        assert_eq!(v3["fill_value"], -1.0);
        // xarray's v3 spelling of a float fill value: base64 of the little-endian f64.
        assert_eq!(v3["attributes"]["_FillValue"], "AAAAAAAA8L8=");
        assert_eq!(v3["dimension_names"], serde_json::json!(["y", "x"]));
        assert_eq!(doc(&store, "names/.zarray")["dtype"], "|O");
        assert_eq!(doc(&store, "g/c/.zarray")["dtype"], "|S1");
        let root = doc(&store, "zarr.json");
        assert_eq!(
            root["attributes"][OMITTED_ATTRIBUTE],
            serde_json::json!(["/rec: compound type"])
        );
        let inline = &root["consolidated_metadata"]["metadata"];
        assert_eq!(inline["g"]["node_type"], "group");
        assert_eq!(inline["g/c"]["node_type"], "array");
        assert!(inline.get("rec").is_none());
        let zmeta = doc(&store, ".zmetadata");
        assert!(zmeta["metadata"]["g/c/.zarray"].is_object());
        assert!(doc(&store, "g/.zmetadata")["metadata"]["c/.zattrs"].is_object());
        assert_eq!(store.omitted().len(), 1);
    }

    #[test]
    fn chunk_keys_resolve_inside_the_grid_only() {
        let store = Store::build(&sample(), |_| None);
        let v2 = ZarrFormat::V2;
        let v3 = ZarrFormat::V3;
        assert_eq!(chunk(&store, "t/2.1"), Some(("t".into(), v2, vec![2, 1])));
        assert_eq!(chunk(&store, "t/c/2/1"), Some(("t".into(), v3, vec![2, 1])));
        assert_eq!(chunk(&store, "s/0"), Some(("s".into(), v2, vec![])));
        assert_eq!(chunk(&store, "s/c"), Some(("s".into(), v3, vec![])));
        assert_eq!(
            chunk(&store, "g/c/c/0/0"),
            Some(("g/c".into(), v3, vec![0, 0]))
        );
        assert_eq!(
            chunk(&store, "g/c/0.0"),
            Some(("g/c".into(), v2, vec![0, 0]))
        );
        for bad in [
            "t/3.0",
            "t/c/0/2",
            "t/0",
            "t/c/0",
            "t/01.0",
            "t/+1.0",
            "t/1.0.0",
            "t/c/1/0/0",
            "s/1",
            "s/c/0",
            "rec/0",
            "rec/c/0",
            "nope/0.0",
            "",
            "t",
            "t/",
            "c/0",
        ] {
            assert!(store.resolve(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn stored_chunks_pass_when_their_filters_are_codecs() {
        let ds = sample();
        let index: HashMap<u64, ChunkLoc> = (0..6)
            .map(|i| {
                (
                    i,
                    ChunkLoc {
                        addr: 100 * i,
                        size: 10,
                        mask: 0,
                    },
                )
            })
            .collect();
        let mut layout = ChunkLayout {
            shape: vec![5, 7],
            chunk: vec![2, 4],
            clipped: false,
            elem_size: 4,
            big_endian: true,
            pipeline: Pipeline::new(vec![Filter::Shuffle { elem_size: 4 }, Filter::Deflate]),
            locator: Locator::Indexed(index.clone()),
            fill: (-1.0f32).to_le_bytes().to_vec(),
        };
        let store = Store::build(&ds, |p| (p == "/t").then_some(&layout));
        let t = &store.arrays()[0];
        assert_eq!((t.v2, t.v3), (ChunkEncoding::Stored, ChunkEncoding::Stored));
        let z = doc(&store, "t/.zarray");
        assert_eq!(z["dtype"], ">f4");
        assert_eq!(z["compressor"]["id"], "zlib");
        assert_eq!(z["filters"][0]["id"], "shuffle");
        let codecs = &doc(&store, "t/zarr.json")["codecs"];
        assert_eq!(codecs[0]["configuration"]["endian"], "big");
        assert_eq!(codecs[1]["name"], "numcodecs.shuffle");
        assert_eq!(codecs[2]["name"], "numcodecs.zlib");

        // A chunk written without one of its filters: decoded in both formats.
        let mut masked = index.clone();
        masked.insert(
            3,
            ChunkLoc {
                addr: 300,
                size: 10,
                mask: 1,
            },
        );
        layout.locator = Locator::Indexed(masked);
        let store = Store::build(&ds, |p| (p == "/t").then_some(&layout));
        assert_eq!(store.arrays()[0].v3, ChunkEncoding::Raw);
        assert_eq!(doc(&store, "t/.zarray")["dtype"], "<f4");

        // Fletcher32 is not passed through.
        layout.locator = Locator::Indexed(index);
        layout.pipeline = Pipeline::new(vec![Filter::Deflate, Filter::Fletcher32]);
        let store = Store::build(&ds, |p| (p == "/t").then_some(&layout));
        assert_eq!(store.arrays()[0].v2, ChunkEncoding::Raw);
    }

    #[test]
    fn v2_decodes_unwritten_chunks_without_a_fill_value_attribute() {
        let mut ds = sample();
        ds.root.variables[0]
            .attributes
            .retain(|a| a.name != "_FillValue");
        let layout = ChunkLayout {
            shape: vec![5, 7],
            chunk: vec![2, 4],
            clipped: false,
            elem_size: 4,
            big_endian: false,
            pipeline: Pipeline::new(vec![Filter::Deflate]),
            locator: Locator::Indexed(HashMap::from([(
                0,
                ChunkLoc {
                    addr: 0,
                    size: 1,
                    mask: 0,
                },
            )])),
            fill: 9.0f32.to_le_bytes().to_vec(),
        };
        let store = Store::build(&ds, |p| (p == "/t").then_some(&layout));
        let t = &store.arrays()[0];
        assert_eq!((t.v2, t.v3), (ChunkEncoding::Raw, ChunkEncoding::Stored));
        assert_eq!(doc(&store, "t/zarr.json")["fill_value"], 9.0);
        assert_eq!(
            doc(&store, "t/.zarray")["fill_value"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn synthetic_chunks_hold_a_few_mib() {
        assert_eq!(synthetic_chunk(&[1000, 1000], 8), vec![524, 1000]);
        assert_eq!(synthetic_chunk(&[10, 20], 4), vec![10, 20]);
        assert_eq!(synthetic_chunk(&[3, 4000, 4000], 4), vec![1, 262, 4000]);
        assert_eq!(synthetic_chunk(&[0, 5], 4), vec![1, 5]);
        assert_eq!(synthetic_chunk(&[], 4), Vec::<usize>::new());
    }

    #[test]
    fn edge_chunks_are_padded_and_strings_encoded() {
        let store = Store::build(&sample(), |_| None);
        let t = &store.arrays()[0];
        // Chunk (2, 1) covers t[4:5, 4:7]: one row of three values.
        let region = t.region(&[2, 1]).expect("in grid");
        assert_eq!(region.counts(), vec![1, 3]);
        let values: Vec<u8> = [1.0f32, 2.0, 3.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let chunk = t.raw_chunk(&[2, 1], &values).expect("chunk");
        let floats: Vec<f32> = chunk
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect();
        assert_eq!(floats, [1.0, 2.0, 3.0, -1.0, -1.0, -1.0, -1.0, -1.0]);
        assert!(t.raw_chunk(&[2, 1], &values[..8]).is_err());

        let names = store
            .arrays()
            .iter()
            .find(|a| a.key == "names")
            .expect("names");
        let mut canonical = Vec::new();
        for s in ["ab", "", "c", "dé", "e"] {
            canonical.extend_from_slice(&(s.len() as u64).to_le_bytes());
            canonical.extend_from_slice(s.as_bytes());
        }
        let chunk = names.vlen_utf8_chunk(&[0], &canonical).expect("chunk");
        let mut expected = 5u32.to_le_bytes().to_vec();
        for s in ["ab", "", "c", "dé", "e"] {
            expected.extend_from_slice(&(s.len() as u32).to_le_bytes());
            expected.extend_from_slice(s.as_bytes());
        }
        assert_eq!(chunk, expected);
        assert_eq!(
            names.vlen_utf8_chunk(&[0], &canonical[..canonical.len() - 1]),
            Err(crate::Error::Truncated)
        );
    }
}
