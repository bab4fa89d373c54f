//! Zarr over HTTP: `X.zarr/KEY` for every dataset `X`, answered from the `zarr` crate's store
//! (built once per file version): metadata documents, stored chunks sent untouched, decoded
//! chunks read through the engine's shared cache. GET and HEAD, `Range`, `ETag` and
//! `Last-Modified`, 404 for every key the store does not hold (what Zarr clients take as
//! "absent").

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use cdm::CatalogEntry;
use cdm::engine::StoredChunks;
use http::{HeaderMap, Response, StatusCode, header};
use zarr::{ChunkEncoding, Key, Store};

use crate::AppState;
use crate::body::{Body, full};
use crate::conditional::{RangeRequest, Validators, parse_range};
use crate::error::HandlerError;
use crate::paths;
use crate::service::NoCompression;

/// The suffix that turns a dataset path into its Zarr store.
const SUFFIX: &str = ".zarr";

/// A request into a dataset's Zarr store.
#[derive(Debug)]
pub(crate) struct ZarrTarget {
    /// The canonical file of the dataset.
    pub(crate) file: PathBuf,
    /// The key inside the store (`.zmetadata`, `g/v/c/0/1`); empty for the store itself.
    pub(crate) key: String,
}

/// The dataset and key named by URL components `a/b/X.zarr/k/e/y`, when `X` is a file under
/// `root`.
pub(crate) fn target(root: &Path, parts: &[String]) -> Option<ZarrTarget> {
    let (dataset, key) = split_store(parts)?;
    let file = paths::resolve(root, &dataset)
        .ok()
        .filter(|p| p.is_file())?;
    Some(ZarrTarget { file, key })
}

/// Answers one key of the store of the dataset `entry`.
///
/// # Errors
/// [`HandlerError::NotFound`] for a key the store does not hold or a chunk never written;
/// read failures as the source reports them.
pub(crate) async fn respond(
    state: &AppState,
    target: &ZarrTarget,
    headers: &HeaderMap,
) -> Result<Response<Body>, HandlerError> {
    let entry = state.catalog.open(&target.file).await?;
    answer(&entry, &target.key, headers).await
}

/// The components of a URL path `a/b/X.zarr/k/e/y` split at the store: (`a/b/X`, `k/e/y`),
/// when one of them names a store.
pub(crate) fn split_store(parts: &[String]) -> Option<(Vec<String>, String)> {
    parts.iter().enumerate().find_map(|(i, part)| {
        let stem = part.strip_suffix(SUFFIX).filter(|s| !s.is_empty())?;
        let mut dataset = parts[..i].to_vec();
        dataset.push(stem.to_owned());
        Some((dataset, parts[i + 1..].join("/")))
    })
}

/// Answers the key `key` of the store of the dataset `entry`, wherever it was opened from.
///
/// # Errors
/// As [`respond`].
pub(crate) async fn answer(
    entry: &std::sync::Arc<CatalogEntry>,
    key: &str,
    headers: &HeaderMap,
) -> Result<Response<Body>, HandlerError> {
    let store = entry.extension(|| build_store(entry));
    let Some(resolved) = store.resolve(key) else {
        return Err(HandlerError::NotFound(format!(
            "no key {key:?} in this Zarr store"
        )));
    };
    // Every key of one file version has its own validators; a rewritten file changes them all.
    let validators = Validators::of_rendering(entry.modified(), entry.size(), &["zarr", key]);
    if validators.not_modified(headers) {
        return Ok(validators.not_modified_response());
    }
    let (bytes, content_type) = match resolved {
        Key::Document(doc) => (doc.clone(), "application/json"),
        Key::Chunk {
            array,
            format,
            grid,
        } => {
            let bytes = match array.encoding(format) {
                ChunkEncoding::Stored => {
                    let chunks =
                        entry
                            .source()
                            .stored_chunks(&array.var_path)
                            .ok_or_else(|| {
                                HandlerError::Internal("the stored chunks are not available".into())
                            })?;
                    match chunks.stored(&grid).await? {
                        Some((bytes, 0)) => bytes,
                        Some(_) => {
                            return Err(HandlerError::Internal(
                                "a chunk was stored with part of its filters".into(),
                            ));
                        }
                        None => {
                            return Err(HandlerError::NotFound(
                                "chunk never written: it reads as the fill value".into(),
                            ));
                        }
                    }
                }
                encoding => {
                    let region = array.region(&grid).map_err(cdm::Error::from)?;
                    let values =
                        cdm::read_all(entry.source().as_ref(), &array.var_path, &region).await?;
                    let chunk = if encoding == ChunkEncoding::VlenUtf8 {
                        array.vlen_utf8_chunk(&grid, &values)
                    } else {
                        array.raw_chunk(&grid, &values)
                    };
                    Bytes::from(chunk.map_err(|e| HandlerError::Internal(e.to_string()))?)
                }
            };
            (bytes, "application/octet-stream")
        }
    };
    let mut r = ranged(bytes, content_type, headers, &validators)?;
    if content_type != "application/json" {
        // Chunks are compressed already, or served raw so that a range means the same bytes.
        r.extensions_mut().insert(NoCompression);
    }
    Ok(r)
}

/// The store of one file version: which variables the engine holds stored chunks of decides
/// which arrays pass them through.
fn build_store(entry: &CatalogEntry) -> Store {
    let ds = entry.dataset();
    let stored: HashMap<String, StoredChunks> = ds
        .all_variables()
        .filter_map(|v| Some((v.path.clone(), entry.source().stored_chunks(&v.path)?)))
        .collect();
    Store::build(ds, |path| stored.get(path).map(StoredChunks::layout))
}

/// `bytes` whole, or the one range the request asks for (206 / 416).
fn ranged(
    bytes: Bytes,
    content_type: &'static str,
    headers: &HeaderMap,
    validators: &Validators,
) -> Result<Response<Body>, HandlerError> {
    let len = bytes.len() as u64;
    let range = if validators.if_range_holds(headers) {
        parse_range(headers.get(header::RANGE), len)
    } else {
        RangeRequest::Whole
    };
    let builder = Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(header::ACCEPT_RANGES, "bytes");
    let mut r = match range {
        RangeRequest::Whole => builder
            .header(header::CONTENT_LENGTH, len)
            .body(full(bytes)),
        RangeRequest::Part { start, end } => {
            let (s, e) = (
                usize::try_from(start).unwrap_or(0),
                usize::try_from(end).unwrap_or(0),
            );
            builder
                .status(StatusCode::PARTIAL_CONTENT)
                .header(
                    header::CONTENT_RANGE,
                    format!("bytes {start}-{}/{len}", end - 1),
                )
                .header(header::CONTENT_LENGTH, end - start)
                .body(full(bytes.slice(s..e)))
        }
        RangeRequest::Unsatisfiable => builder
            .status(StatusCode::RANGE_NOT_SATISFIABLE)
            .header(header::CONTENT_RANGE, format!("bytes */{len}"))
            .header(header::CONTENT_LENGTH, 0)
            .body(full(Bytes::new())),
    }
    .map_err(|e| HandlerError::Internal(e.to_string()))?;
    validators.apply(r.headers_mut());
    Ok(r)
}
