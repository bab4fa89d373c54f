//! Writing a [`SubsetPlan`] as a netCDF-4 file through netCDF-C: groups, dimensions (unlimited
//! ones stay unlimited), variables with their attributes, values read piece by piece from a
//! [`Source`] so memory stays bounded by one piece, not by the file.
//!
//! Every library call holds the process-wide library lock, as the reader's do. Types netCDF-4
//! has no plain form for here (enum, opaque, compound, vlen) are left out; the root attribute
//! `_fathom_omitted` names each.

use std::ffi::{CString, c_char, c_void};
use std::path::Path;
use std::sync::Arc;

use netcdf_sys as nc;

use super::netcdf::{check, locked};
use crate::error::{Error, Result};
use crate::model::{AttrValue, Attribute, DataType};
use crate::source::{Source, read_all};
use crate::subset::SubsetPlan;

/// Values per piece read and written: large enough to amortise a library call, small enough
/// to keep memory low.
const PIECE_ELEMENTS: usize = 1 << 20;
/// The largest chunk written, in elements (about 4 MiB of floats).
const CHUNK_ELEMENTS: usize = 1 << 20;
/// The root attribute naming the variables left out.
pub const OMITTED_ATTRIBUTE: &str = "_fathom_omitted";

/// The netCDF type of a plain type, `None` for the ones this writer leaves out.
fn nc_type(dtype: &DataType) -> Option<nc::nc_type> {
    Some(match dtype {
        DataType::Int8 => nc::NC_BYTE,
        DataType::UInt8 => nc::NC_UBYTE,
        DataType::Int16 => nc::NC_SHORT,
        DataType::UInt16 => nc::NC_USHORT,
        DataType::Int32 => nc::NC_INT,
        DataType::UInt32 => nc::NC_UINT,
        DataType::Int64 => nc::NC_INT64,
        DataType::UInt64 => nc::NC_UINT64,
        DataType::Float32 => nc::NC_FLOAT,
        DataType::Float64 => nc::NC_DOUBLE,
        DataType::Char => nc::NC_CHAR,
        DataType::String => nc::NC_STRING,
        DataType::Enum(e) => return nc_type(&e.base),
        _ => return None,
    })
}

fn cname(name: &str) -> Result<CString> {
    CString::new(name).map_err(|_| Error::Unsupported(format!("a name with a NUL byte: {name:?}")))
}

/// Little-endian canonical values to the host's memory order.
fn to_native(mut bytes: Vec<u8>, size: usize) -> Vec<u8> {
    if cfg!(target_endian = "big") && size > 1 {
        for chunk in bytes.chunks_exact_mut(size) {
            chunk.reverse();
        }
    }
    bytes
}

/// Writes one attribute on `varid` (`NC_GLOBAL` for a group's). Types netCDF-4 cannot take
/// plainly are skipped.
fn put_attribute(ncid: i32, varid: i32, att: &Attribute) -> Result<()> {
    let name = cname(&att.name)?;
    macro_rules! numbers {
        ($v:expr, $t:expr) => {
            // SAFETY: the pointer and length describe the vector, of the type named.
            check(unsafe {
                nc::nc_put_att(
                    ncid,
                    varid,
                    name.as_ptr(),
                    $t,
                    $v.len(),
                    $v.as_ptr().cast::<c_void>(),
                )
            })
        };
    }
    match &att.value {
        AttrValue::Int8(v) => numbers!(v, nc::NC_BYTE),
        AttrValue::UInt8(v) => numbers!(v, nc::NC_UBYTE),
        AttrValue::Int16(v) => numbers!(v, nc::NC_SHORT),
        AttrValue::UInt16(v) => numbers!(v, nc::NC_USHORT),
        AttrValue::Int32(v) => numbers!(v, nc::NC_INT),
        AttrValue::UInt32(v) => numbers!(v, nc::NC_UINT),
        AttrValue::Int64(v) => numbers!(v, nc::NC_INT64),
        AttrValue::UInt64(v) => numbers!(v, nc::NC_UINT64),
        AttrValue::Float32(v) => numbers!(v, nc::NC_FLOAT),
        AttrValue::Float64(v) => numbers!(v, nc::NC_DOUBLE),
        AttrValue::Char(v) => {
            // SAFETY: the pointer and length describe the bytes.
            check(unsafe {
                nc::nc_put_att_text(ncid, varid, name.as_ptr(), v.len(), v.as_ptr().cast())
            })
        }
        AttrValue::String(v) => {
            let owned: Vec<CString> = v
                .iter()
                .map(|s| CString::new(s.replace('\0', "")).unwrap_or_default())
                .collect();
            let mut ptrs: Vec<*const c_char> = owned.iter().map(|s| s.as_ptr()).collect();
            // SAFETY: `ptrs` holds `len` NUL-terminated strings that outlive the call.
            check(unsafe {
                nc::nc_put_att_string(ncid, varid, name.as_ptr(), ptrs.len(), ptrs.as_mut_ptr())
            })
        }
        AttrValue::Typed { .. } => Ok(()),
    }
}

/// Chunk sizes for a variable of `counts`: whole inner dimensions, the outer ones cut so a
/// chunk holds at most [`CHUNK_ELEMENTS`].
fn chunk_sizes(counts: &[usize]) -> Vec<usize> {
    let mut chunks: Vec<usize> = counts.iter().map(|&c| c.max(1)).collect();
    for i in 0..chunks.len() {
        let total: usize = chunks.iter().product();
        if total <= CHUNK_ELEMENTS {
            break;
        }
        let rest: usize = chunks[i + 1..].iter().product();
        chunks[i] = (CHUNK_ELEMENTS / rest.max(1)).max(1).min(chunks[i]);
    }
    chunks
}

/// An open file being written; closed (and the library's handle released) when dropped.
struct Writer {
    ncid: i32,
}

impl Drop for Writer {
    fn drop(&mut self) {
        // SAFETY: the id came from nc_create and is closed once.
        let _ = locked(|| unsafe { nc::nc_close(self.ncid) });
    }
}

/// Where each planned variable went: (group id, variable id), `None` when left out.
type Placed = Vec<Option<(i32, i32)>>;

/// Creates the file at `path`.
fn create(path: &Path) -> Result<Writer> {
    let cpath = cname(&path.to_string_lossy())?;
    let mut ncid = 0;
    // SAFETY: valid NUL-terminated path and out-pointer.
    locked(|| {
        check(unsafe { nc::nc_create(cpath.as_ptr(), nc::NC_NETCDF4 | nc::NC_CLOBBER, &mut ncid) })
    })?;
    Ok(Writer { ncid })
}

/// Declares everything of `plan` in the new file `ncid`; call with the library lock held.
fn define(ncid: i32, plan: &SubsetPlan) -> Result<Placed> {
    let mut group_ids: std::collections::HashMap<&str, i32> = std::collections::HashMap::new();
    group_ids.insert("/", ncid);
    for g in &plan.groups {
        if g.path != "/" {
            let (parent, name) = crate::model::split_path(&g.path)
                .ok_or_else(|| Error::Unsupported(format!("group path {:?}", g.path)))?;
            let parent_id = *group_ids
                .get(parent)
                .ok_or_else(|| Error::Unsupported(format!("group {parent:?} undeclared")))?;
            let cn = cname(name)?;
            let mut gid = 0;
            // SAFETY: valid ids, name and out-pointer.
            check(unsafe { nc::nc_def_grp(parent_id, cn.as_ptr(), &mut gid) })?;
            group_ids.insert(g.path.as_str(), gid);
        }
        let gid = group_ids[g.path.as_str()];
        for a in &g.attributes {
            put_attribute(gid, nc::NC_GLOBAL, a)?;
        }
    }
    let mut dim_ids = Vec::with_capacity(plan.dimensions.len());
    for d in &plan.dimensions {
        let gid = *group_ids
            .get(d.group.as_str())
            .ok_or_else(|| Error::Unsupported(format!("group {:?} undeclared", d.group)))?;
        let cn = cname(&d.name)?;
        let len = if d.unlimited { nc::NC_UNLIMITED } else { d.len };
        let mut id = 0;
        // SAFETY: valid ids, name and out-pointer.
        check(unsafe { nc::nc_def_dim(gid, cn.as_ptr(), len, &mut id) })?;
        dim_ids.push(id);
    }
    let mut placed = Vec::with_capacity(plan.variables.len());
    let mut omitted = Vec::new();
    for v in &plan.variables {
        let Some(xtype) = nc_type(&v.dtype) else {
            omitted.push(format!("{} ({})", v.path, v.dtype.cdl_name()));
            placed.push(None);
            continue;
        };
        let gid = *group_ids
            .get(v.group.as_str())
            .ok_or_else(|| Error::Unsupported(format!("group {:?} undeclared", v.group)))?;
        let cn = cname(&v.name)?;
        let dims: Vec<i32> = v.dims.iter().map(|&i| dim_ids[i]).collect();
        let mut varid = 0;
        // SAFETY: `dims` holds `dims.len()` valid dimension ids.
        check(unsafe {
            nc::nc_def_var(
                gid,
                cn.as_ptr(),
                xtype,
                i32::try_from(dims.len()).unwrap_or(i32::MAX),
                dims.as_ptr(),
                &mut varid,
            )
        })?;
        if !dims.is_empty() {
            let chunks = chunk_sizes(&v.counts());
            // SAFETY: one chunk size per dimension.
            check(unsafe { nc::nc_def_var_chunking(gid, varid, nc::NC_CHUNKED, chunks.as_ptr()) })?;
            if v.dtype.is_numeric() {
                // SAFETY: valid ids.
                check(unsafe { nc::nc_def_var_deflate(gid, varid, 1, 1, 1) })?;
            }
        }
        for a in &v.attributes {
            // A `_FillValue` netCDF-C refuses (another type) is dropped rather than failing the file.
            if a.name == "_FillValue" && a.value.dtype() != v.dtype {
                continue;
            }
            put_attribute(gid, varid, a)?;
        }
        placed.push(Some((gid, varid)));
    }
    if !omitted.is_empty() {
        put_attribute(
            ncid,
            nc::NC_GLOBAL,
            &Attribute::new(
                OMITTED_ATTRIBUTE,
                AttrValue::Char(
                    format!(
                        "not representable in this netCDF-4 output: {}",
                        omitted.join(", ")
                    )
                    .into_bytes(),
                ),
            ),
        )?;
    }
    // SAFETY: valid id.
    check(unsafe { nc::nc_enddef(ncid) })?;
    Ok(placed)
}

/// Writes one piece of canonical values at `start` / `count` of a variable.
fn put_piece(
    (gid, varid): (i32, i32),
    dtype: &DataType,
    start: &[usize],
    count: &[usize],
    bytes: Vec<u8>,
) -> Result<()> {
    match dtype {
        DataType::String => {
            let mut owned = Vec::new();
            let mut pos = 0usize;
            while pos < bytes.len() {
                let n = usize::try_from(crate::encoding::read_len(&bytes[pos..])?)
                    .map_err(|_| Error::Corrupt("string length".into()))?;
                let text = bytes
                    .get(pos + 8..pos + 8 + n)
                    .ok_or_else(|| Error::Corrupt("truncated string".into()))?;
                let text: Vec<u8> = text.iter().copied().filter(|&b| b != 0).collect();
                owned.push(CString::new(text).unwrap_or_default());
                pos += 8 + n;
            }
            let mut ptrs: Vec<*const c_char> = owned.iter().map(|s| s.as_ptr()).collect();
            if ptrs.len() != count.iter().product::<usize>() {
                return Err(Error::Corrupt("string count mismatch".into()));
            }
            // SAFETY: `ptrs` holds one string per element of the piece.
            locked(|| {
                check(unsafe {
                    nc::nc_put_vara_string(
                        gid,
                        varid,
                        start.as_ptr(),
                        count.as_ptr(),
                        ptrs.as_mut_ptr(),
                    )
                })
            })
        }
        _ => {
            let size = dtype.fixed_size().unwrap_or(1);
            if bytes.len() != count.iter().product::<usize>() * size {
                return Err(Error::Corrupt("value count mismatch".into()));
            }
            let native = to_native(bytes, size);
            // SAFETY: the buffer holds one value of the variable's type per element.
            locked(|| {
                check(unsafe {
                    nc::nc_put_vara(
                        gid,
                        varid,
                        start.as_ptr(),
                        count.as_ptr(),
                        native.as_ptr().cast::<c_void>(),
                    )
                })
            })
        }
    }
}

/// Writes `plan` of `source` as a netCDF-4 file at `path` (created or replaced) and returns its
/// size. Stops with [`Error::LimitExceeded`] as soon as the file grows past `max_bytes`
/// (0: no limit). On error the caller removes the file.
///
/// # Errors
/// A failed read or library call, or the size limit.
pub async fn write_netcdf4(
    source: Arc<dyn Source>,
    plan: &SubsetPlan,
    path: &Path,
    max_bytes: u64,
) -> Result<u64> {
    let owned_plan = plan.clone();
    let owned_path = path.to_owned();
    let (writer, placed) = tokio::task::spawn_blocking(move || {
        let writer = create(&owned_path)?;
        let placed = locked(|| define(writer.ncid, &owned_plan))?;
        Ok::<_, Error>((writer, placed))
    })
    .await
    .map_err(|e| Error::Unsupported(e.to_string()))??;
    for (v, place) in plan.variables.iter().zip(placed) {
        let Some(place) = place else { continue };
        let elem = v.dtype.fixed_size().unwrap_or(64).max(1);
        let reads = match &v.values {
            Some(values) => vec![(
                crate::subset::PlannedRead {
                    slab: v.slab.clone(),
                    start: vec![0; v.slab.rank()],
                },
                Some(values.clone()),
            )],
            None => v
                .reads((PIECE_ELEMENTS / elem).max(1))
                .into_iter()
                .map(|r| (r, None))
                .collect(),
        };
        for (read, given) in reads {
            let piece = read.slab;
            if piece.is_empty() {
                continue;
            }
            let bytes = match given {
                Some(b) => b,
                None => read_all(source.as_ref(), &v.path, &piece).await?,
            };
            let start = read.start;
            let count = if v.values.is_some() {
                v.counts()
            } else {
                piece.counts()
            };
            let dtype = v.dtype.clone();
            tokio::task::spawn_blocking(move || put_piece(place, &dtype, &start, &count, bytes))
                .await
                .map_err(|e| Error::Unsupported(e.to_string()))??;
            if max_bytes > 0 {
                let size = tokio::fs::metadata(path).await?.len();
                if size > max_bytes {
                    return Err(Error::LimitExceeded(format!(
                        "the netCDF-4 file would be larger than this server's limit of \
{max_bytes} bytes for netCDF-4 files; ask for less, or for .nc (streamed)"
                    )));
                }
            }
        }
    }
    // Closing flushes the file: on the blocking pool.
    tokio::task::spawn_blocking(move || drop(writer))
        .await
        .map_err(|e| Error::Unsupported(e.to_string()))?;
    let size = tokio::fs::metadata(path).await?.len();
    if max_bytes > 0 && size > max_bytes {
        return Err(Error::LimitExceeded(format!(
            "the netCDF-4 file would be {size} bytes, more than this server's limit of \
{max_bytes} bytes for netCDF-4 files; ask for less, or for .nc (streamed)"
        )));
    }
    Ok(size)
}
