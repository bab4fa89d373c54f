//! Writing a DMR++: the chunk elements of each variable woven into a DMR rendered elsewhere
//! (the DAP4 crate renders the DMR; this module knows nothing of DAP4's rendering rules), in
//! the shape Hyrax's `build_dmrpp` writes, with the data object named relatively.

use std::collections::HashMap;

use base64::Engine as _;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer};

use crate::engine::filters::Filter;
use crate::engine::layout::{ChunkLayout, Locator};
use crate::error::{Error, Result};
use crate::model::DataType;

/// The DMR++ version whose semantics fathom writes: filters in pipeline order.
pub const DMRPP_VERSION: &str = "3.20.13";
/// The DMR++ namespace.
pub const DMRPP_NS: &str = "http://xml.opendap.org/dap/dmrpp/1.0.0#";

/// What the index says about one variable.
#[derive(Debug, Clone)]
pub enum VarIndex {
    /// Where its chunks are, and its type (for the fill value's text).
    Chunks(ChunkLayout, DataType),
    /// Its values, given in the index itself (little-endian), its type, and its fill value
    /// (one element, little-endian) when the file sets one (else zeros, as HDF5).
    Compact(Vec<u8>, DataType, Option<Vec<u8>>),
    /// One string, given in the index itself.
    CompactString(Vec<u8>),
    /// An array of strings, given in the index itself as fixed-length strings of `len` bytes,
    /// NUL-padded (`dmrpp:FixedLengthStringArray`).
    CompactStrings { bytes: Vec<u8>, len: usize },
}

/// The data object an index describes.
#[derive(Debug, Clone)]
pub struct DataObject<'a> {
    /// Its name relative to the index (`X` for `X.dmrpp` beside it).
    pub href: &'a str,
    /// Its size in bytes when indexed.
    pub size: u64,
    /// Its modification time when indexed, nanoseconds since the epoch.
    pub mtime: i64,
}

/// The size and modification time an index fathom wrote records for its data object, read
/// without parsing the whole document.
#[must_use]
pub fn recorded_version(xml: &[u8]) -> Option<(u64, i64)> {
    let mut reader = Reader::from_reader(xml);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).ok()? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "Dataset" => {
                let value = |key: &str| -> Option<String> {
                    let a = e.try_get_attribute(key).ok()??;
                    Some(a.value.into_owned())
                };
                let size = value("fathom:sourceSize")?.parse().ok()?;
                let mtime = value("fathom:sourceMtime")?.parse().ok()?;
                return Some((size, mtime));
            }
            Event::Eof => return None,
            _ => {}
        }
        buf.clear();
    }
}

/// The text of one canonical element of `dtype`.
fn element_text(dtype: &DataType, b: &[u8]) -> Option<String> {
    let base = match dtype {
        DataType::Enum(e) => &e.base,
        d => d,
    };
    macro_rules! num {
        ($t:ty) => {
            <$t>::from_le_bytes(b.get(..size_of::<$t>())?.try_into().ok()?).to_string()
        };
    }
    Some(match base {
        DataType::Int8 => num!(i8),
        DataType::UInt8 => num!(u8),
        DataType::Char => char::from(*b.first()?).to_string(),
        DataType::Int16 => num!(i16),
        DataType::UInt16 => num!(u16),
        DataType::Int32 => num!(i32),
        DataType::UInt32 => num!(u32),
        DataType::Int64 => num!(i64),
        DataType::UInt64 => num!(u64),
        DataType::Float32 => num!(f32),
        DataType::Float64 => num!(f64),
        _ => return None,
    })
}

/// The chunk elements of one variable, or why it cannot be described in DMR++.
fn chunk_events(index: &VarIndex) -> std::result::Result<Vec<Event<'static>>, String> {
    let mut out = Vec::new();
    match index {
        VarIndex::Compact(bytes, dtype, fill) => {
            let mut chunks = BytesStart::new("dmrpp:chunks");
            if let Some(fill) = fill
                .clone()
                .or_else(|| dtype.fixed_size().map(|n| vec![0u8; n]))
                && let Some(t) = element_text(dtype, &fill)
            {
                chunks.push_attribute(("fillValue", t.as_str()));
            }
            chunks.push_attribute(("byteOrder", "LE"));
            out.push(Event::Empty(chunks));
            compact(&mut out, bytes);
        }
        VarIndex::CompactString(bytes) => compact(&mut out, bytes),
        VarIndex::CompactStrings { bytes, len } => {
            compact(&mut out, bytes);
            let mut fixed = BytesStart::new("dmrpp:FixedLengthStringArray");
            fixed.push_attribute(("string_length", len.to_string().as_str()));
            fixed.push_attribute(("pad", "null_pad"));
            out.push(Event::Empty(fixed));
        }
        VarIndex::Chunks(layout, dtype) => chunked(&mut out, layout, dtype)?,
    }
    Ok(out)
}

fn compact(out: &mut Vec<Event<'static>>, bytes: &[u8]) {
    let text = base64::engine::general_purpose::STANDARD.encode(bytes);
    out.push(Event::Start(BytesStart::new("dmrpp:compact")));
    out.push(Event::Text(BytesText::new(&text).into_owned()));
    out.push(Event::End(BytesEnd::new("dmrpp:compact")));
}

fn chunked(
    out: &mut Vec<Event<'static>>,
    layout: &ChunkLayout,
    dtype: &DataType,
) -> std::result::Result<(), String> {
    let mut types = Vec::new();
    for f in layout.pipeline.filters() {
        types.push(match f {
            Filter::Deflate => "deflate",
            Filter::Shuffle { .. } => "shuffle",
            Filter::Fletcher32 => "fletcher32",
            other => return Err(format!("its filter {other:?} has no DMR++ name")),
        });
    }
    let mut chunks = BytesStart::new("dmrpp:chunks");
    if !types.is_empty() {
        chunks.push_attribute(("compressionType", types.join(" ").as_str()));
    }
    if let Some(t) = element_text(dtype, &layout.fill) {
        chunks.push_attribute(("fillValue", t.as_str()));
    }
    chunks.push_attribute(("byteOrder", if layout.big_endian { "BE" } else { "LE" }));

    // (position in the array, offset, size) of each stored chunk, and the chunk sizes when the
    // variable is chunked rather than contiguous.
    let mut list: Vec<(Vec<usize>, u64, u64)> = Vec::new();
    let mut sizes: Option<&[usize]> = Some(&layout.chunk);
    match &layout.locator {
        Locator::Indexed(map) => {
            if layout.clipped {
                return Err("its chunks are clipped at the edges".into());
            }
            let grid = layout.grid();
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by_key(|(k, _)| **k);
            for (&linear, loc) in entries {
                if loc.mask != 0 {
                    return Err("a chunk skips filters of the pipeline".into());
                }
                let mut g = vec![0usize; grid.len()];
                let mut rest = linear;
                for d in (0..grid.len()).rev() {
                    let n = grid[d].max(1) as u64;
                    g[d] = usize::try_from(rest % n).unwrap_or(0);
                    rest /= n;
                }
                let pos = g.iter().zip(&layout.chunk).map(|(&i, &c)| i * c).collect();
                list.push((pos, loc.addr, loc.size));
            }
        }
        Locator::Arithmetic { base: None, .. } => sizes = None,
        Locator::Arithmetic {
            base: Some(base), ..
        } => {
            let whole = ChunkLayout::contiguous(
                &layout.shape,
                layout.elem_size,
                layout.big_endian,
                Some(*base),
                None,
                layout.fill.clone(),
            );
            if whole.locator == layout.locator && whole.chunk == layout.chunk {
                let total = layout.shape.iter().product::<usize>() * layout.elem_size;
                list.push((vec![0; layout.shape.len()], *base, total as u64));
                sizes = None;
            } else if layout
                .shape
                .iter()
                .zip(&layout.chunk)
                .all(|(&n, &c)| n % c == 0)
            {
                // Regularly spaced whole chunks (netCDF-3 records).
                let grid = layout.grid();
                let mut g = vec![0usize; grid.len()];
                if grid.iter().all(|&n| n > 0) {
                    loop {
                        if let Some(loc) = layout.locate(&g) {
                            let pos = g.iter().zip(&layout.chunk).map(|(&i, &c)| i * c).collect();
                            list.push((pos, loc.addr, loc.size));
                        }
                        let mut d = grid.len();
                        let done = loop {
                            if d == 0 {
                                break true;
                            }
                            d -= 1;
                            g[d] += 1;
                            if g[d] < grid[d] {
                                break false;
                            }
                            g[d] = 0;
                        };
                        if done {
                            break;
                        }
                    }
                }
            } else {
                return Err("its bytes are neither contiguous nor in whole chunks".into());
            }
        }
    }
    out.push(Event::Start(chunks));
    if let Some(sizes) = sizes {
        let text = sizes
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ");
        out.push(Event::Start(BytesStart::new("dmrpp:chunkDimensionSizes")));
        out.push(Event::Text(BytesText::new(&text).into_owned()));
        out.push(Event::End(BytesEnd::new("dmrpp:chunkDimensionSizes")));
    }
    for (pos, offset, size) in list {
        let mut c = BytesStart::new("dmrpp:chunk");
        c.push_attribute(("offset", offset.to_string().as_str()));
        c.push_attribute(("nBytes", size.to_string().as_str()));
        if sizes.is_some() && !pos.is_empty() {
            let p = pos
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",");
            c.push_attribute(("chunkPositionInArray", format!("[{p}]").as_str()));
        }
        out.push(Event::Empty(c));
    }
    out.push(Event::End(BytesEnd::new("dmrpp:chunks")));
    Ok(())
}

/// DAP4 element names that declare a variable.
const VARIABLE_TAGS: [&str; 19] = [
    "Char",
    "Byte",
    "Int8",
    "UInt8",
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
    "Enum",
    "Opaque",
    "Structure",
    "Sequence",
    "Group",
];

fn xml_error(e: impl std::fmt::Display) -> Error {
    Error::Corrupt(format!("the DMR cannot be rewritten: {e}"))
}

/// The DMR++ of `dmr` with each variable of `vars` (by path) given its chunk elements, naming
/// `object` as its data. Variables that DMR++ cannot describe (an exotic filter, chunks that
/// skip filters) are left without location and returned by path with the reason.
///
/// # Errors
/// When `dmr` is not well-formed XML.
pub fn weave(
    dmr: &str,
    vars: &HashMap<String, VarIndex>,
    object: &DataObject<'_>,
) -> Result<(String, Vec<(String, String)>)> {
    let mut reader = Reader::from_str(dmr);
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 4);
    let mut stack: Vec<String> = Vec::new();
    let mut left_out = Vec::new();
    let path_of = |stack: &[String], name: &str| {
        let parent = stack.last().map_or("", String::as_str);
        format!("{}/{name}", parent.trim_end_matches('/'))
    };
    let emit = |writer: &mut Writer<Vec<u8>>,
                path: &str,
                left_out: &mut Vec<(String, String)>|
     -> Result<()> {
        let Some(index) = vars.get(path) else {
            return Ok(());
        };
        match chunk_events(index) {
            Ok(events) => {
                for e in events {
                    writer.write_event(e).map_err(xml_error)?;
                }
            }
            Err(why) => left_out.push((path.to_owned(), why)),
        }
        Ok(())
    };
    loop {
        let event = reader.read_event().map_err(xml_error)?;
        match event {
            Event::Start(e) if e.local_name().as_ref() == "Dataset" => {
                let mut d = e.to_owned();
                d.push_attribute(("xmlns:dmrpp", DMRPP_NS));
                d.push_attribute(("xmlns:fathom", super::FATHOM_NS));
                d.push_attribute(("dmrpp:href", object.href));
                d.push_attribute(("dmrpp:version", DMRPP_VERSION));
                d.push_attribute(("fathom:sourceSize", object.size.to_string().as_str()));
                d.push_attribute(("fathom:sourceMtime", object.mtime.to_string().as_str()));
                writer.write_event(Event::Start(d)).map_err(xml_error)?;
                stack.push("/".into());
            }
            Event::Start(e) => {
                let tag = e.local_name().as_ref().to_owned();
                let name = e
                    .try_get_attribute("name")
                    .ok()
                    .flatten()
                    .map(|a| a.value.into_owned());
                let pushed = match name {
                    Some(n) if VARIABLE_TAGS.contains(&tag.as_str()) => path_of(&stack, &n),
                    _ => String::new(),
                };
                // Anything that is not a group or variable keeps its parent's path.
                let path = if pushed.is_empty() {
                    format!("\u{0}{}", stack.last().cloned().unwrap_or_default())
                } else {
                    pushed
                };
                stack.push(path);
                writer.write_event(Event::Start(e)).map_err(xml_error)?;
            }
            Event::Empty(e) => {
                let tag = e.local_name().as_ref().to_owned();
                let name = e
                    .try_get_attribute("name")
                    .ok()
                    .flatten()
                    .map(|a| a.value.into_owned());
                match name {
                    Some(n) if VARIABLE_TAGS.contains(&tag.as_str()) && tag != "Group" => {
                        let path = path_of(&stack, &n);
                        if vars.contains_key(&path) {
                            let end = e.to_end().into_owned();
                            writer.write_event(Event::Start(e)).map_err(xml_error)?;
                            emit(&mut writer, &path, &mut left_out)?;
                            writer.write_event(Event::End(end)).map_err(xml_error)?;
                        } else {
                            writer.write_event(Event::Empty(e)).map_err(xml_error)?;
                        }
                    }
                    _ => writer.write_event(Event::Empty(e)).map_err(xml_error)?,
                }
            }
            Event::End(e) => {
                if let Some(path) = stack.pop()
                    && !path.starts_with('\u{0}')
                    && path != "/"
                {
                    emit(&mut writer, &path, &mut left_out)?;
                }
                writer.write_event(Event::End(e)).map_err(xml_error)?;
            }
            Event::Eof => break,
            // The indenting writer lays out the document afresh.
            Event::Text(t) if t.as_ref().trim().is_empty() => {}
            other => writer.write_event(other).map_err(xml_error)?,
        }
    }
    let text = String::from_utf8(writer.into_inner()).map_err(xml_error)?;
    Ok((text, left_out))
}

/// Values of variables the engine does not read (compact storage, small variables of other
/// layouts) are written into the index itself up to this many bytes.
pub const MAX_COMPACT_BYTES: usize = 64 * 1024;

/// What the index of `source` says about each of its variables: the engine's chunk layouts,
/// and the values of small variables it does not lay out (read through `source`). Variables
/// that get neither are returned by path with the reason. String arrays are inlined as
/// fixed-length strings as long as the longest.
///
/// # Errors
/// When reading a small variable's values fails.
pub async fn describe(
    source: &dyn crate::source::Source,
) -> Result<(HashMap<String, VarIndex>, Vec<(String, String)>)> {
    let layouts: HashMap<String, ChunkLayout> = source.engine_layouts().into_iter().collect();
    let mut out = HashMap::new();
    let mut left_out = Vec::new();
    for v in source.dataset().root.all_variables() {
        if let Some(l) = layouts.get(&v.path) {
            out.insert(v.path.clone(), VarIndex::Chunks(l.clone(), v.dtype.clone()));
            continue;
        }
        let shape = v.shape();
        let count: usize = shape.iter().product();
        let slab = crate::hyperslab::Hyperslab::full(&shape);
        if v.dtype == DataType::String && shape.is_empty() {
            let b = crate::source::read_all(source, &v.path, &slab).await?;
            let text = b.get(8..).unwrap_or_default().to_vec();
            out.insert(v.path.clone(), VarIndex::CompactString(text));
        } else if v.dtype == DataType::String && count <= MAX_COMPACT_BYTES {
            let b = crate::source::read_all(source, &v.path, &slab).await?;
            match fixed_length(&b, count) {
                Some((bytes, len)) if bytes.len() <= MAX_COMPACT_BYTES => {
                    out.insert(v.path.clone(), VarIndex::CompactStrings { bytes, len });
                }
                _ => left_out.push((
                    v.path.clone(),
                    "its strings are too long to inline, or hold NUL bytes".to_owned(),
                )),
            }
        } else if let Some(elem) = v.dtype.fixed_size()
            && (v.dtype.is_numeric() || matches!(v.dtype, DataType::Char | DataType::Enum(_)))
            && count.saturating_mul(elem) <= MAX_COMPACT_BYTES
        {
            let b = crate::source::read_all(source, &v.path, &slab).await?;
            // The file's own fill value, as the HDF5 reader shows it (`_FillValue` of the
            // variable's type); HDF5's default is zeros.
            let fill = v
                .fill_value()
                .and_then(|f| (f.dtype() == v.dtype).then(|| f.first_le_bytes()).flatten());
            out.insert(v.path.clone(), VarIndex::Compact(b, v.dtype.clone(), fill));
        } else {
            left_out.push((
                v.path.clone(),
                format!(
                    "its {} values are neither in chunks fathom can index nor small enough to inline",
                    v.dtype.cdl_name()
                ),
            ));
        }
    }
    Ok((out, left_out))
}

/// `count` canonical strings (each a little-endian `u64` length, then the bytes) as fixed-length
/// strings as long as the longest (at least 1), NUL-padded, and that length; `None` when the
/// buffer does not hold `count` strings or one holds a NUL (which NUL padding would cut).
fn fixed_length(canonical: &[u8], count: usize) -> Option<(Vec<u8>, usize)> {
    let mut strings = Vec::with_capacity(count);
    let mut rest = canonical;
    while !rest.is_empty() {
        let n = usize::try_from(u64::from_le_bytes(rest.get(..8)?.try_into().ok()?)).ok()?;
        let s = rest.get(8..8usize.checked_add(n)?)?;
        if s.contains(&0) {
            return None;
        }
        strings.push(s);
        rest = &rest[8 + n..];
    }
    if strings.len() != count {
        return None;
    }
    let len = strings.iter().map(|s| s.len()).max().unwrap_or(0).max(1);
    let mut out = vec![0u8; len.checked_mul(count)?];
    for (i, s) in strings.iter().enumerate() {
        out[i * len..i * len + s.len()].copy_from_slice(s);
    }
    Some((out, len))
}
