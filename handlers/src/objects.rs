//! Object-store mounts: S3 bucket prefixes (`s3://…`) and HTTP folders of plain files
//! (`protocol = "files"`) served under URL prefixes, with folder pages, JSON listings,
//! `catalog.xml` and every dataset response, as a folder on disk is. The reading is
//! [`cdm::object`]'s; this module only maps URL paths to keys and errors to responses.

use std::sync::Arc;

use futures::StreamExt;

use cdm::object::{ObjectOptions, ObjectRoot};
use http::Request;

use crate::config::Mount;
use crate::error::{HandlerError, Protocol};
use crate::listing::{self, EntryKind, FolderEntry};
use crate::metrics::Kind;
use crate::{AppState, Routed, paths, route, thredds};

/// Names that the listing marks as datasets without reading each object (a listing would
/// otherwise cost one request per object).
const DATASET_SUFFIXES: &[&str] = &[".nc", ".nc4", ".h5", ".hdf5", ".he5", ".hdf", ".cdf"];

/// The configured object-store mounts, longest URL prefix first.
#[derive(Debug, Default)]
pub(crate) struct ObjectMounts {
    /// (URL prefix without trailing slash — empty for a mount at `/` — , the root).
    mounts: Vec<(String, Arc<ObjectRoot>)>,
}

impl ObjectMounts {
    /// The object mounts among `mounts`.
    ///
    /// # Errors
    /// A mount whose URL or settings the store refuses.
    pub(crate) fn new(mounts: &[Mount]) -> Result<Self, cdm::Error> {
        let mut out = Vec::new();
        for m in mounts.iter().filter(|m| m.is_object()) {
            let options = ObjectOptions {
                endpoint: m.endpoint.clone(),
                region: m.region.clone(),
                allow_http: m.allow_http,
                anonymous: m.anonymous,
                timeout: Some(std::time::Duration::from_secs_f64(m.timeout_secs)),
                retries: Some(usize::try_from(m.retries).unwrap_or(3)),
                max_image_bytes: m.max_image_bytes,
            };
            let files = m.protocol == crate::config::MountProtocol::Files;
            let root = ObjectRoot::new(&m.url, files, &options)?;
            out.push((m.path.trim_end_matches('/').to_owned(), Arc::new(root)));
        }
        out.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        Ok(Self { mounts: out })
    }

    /// Every mount: its URL prefix (no trailing slash; empty at `/`) and its root.
    pub(crate) fn all(&self) -> impl Iterator<Item = (&str, &Arc<ObjectRoot>)> {
        self.mounts.iter().map(|(p, r)| (p.as_str(), r))
    }

    /// The mount a (still percent-encoded) URL path lies under, and the rest of the path.
    pub(crate) fn find<'a>(&self, path: &'a str) -> Option<(&str, &Arc<ObjectRoot>, &'a str)> {
        self.mounts.iter().find_map(|(prefix, root)| {
            let rest = path.strip_prefix(prefix.as_str())?;
            (rest.is_empty() || rest.starts_with('/')).then_some((prefix.as_str(), root, rest))
        })
    }
}

/// The entries of a listing as a folder page shows them: a DMR++ `X.dmrpp` beside its object
/// `X` is that dataset's index and is not shown (as Hyrax does); a DMR++ alone is the dataset
/// `X` it describes.
pub(crate) fn entries(listed: &[cdm::object::Listed]) -> Vec<FolderEntry> {
    let objects: std::collections::HashSet<&str> = listed
        .iter()
        .filter(|l| !l.folder)
        .map(|l| l.name.as_str())
        .collect();
    let mut out: Vec<FolderEntry> = listed
        .iter()
        .filter_map(|l| {
            let alone = match dmrpp_stem(&l.name) {
                Some(stem) if objects.contains(stem) => return None,
                Some(stem) if !l.folder => Some(stem),
                _ => None,
            };
            let kind = if l.folder {
                EntryKind::Folder
            } else if alone.is_some()
                || DATASET_SUFFIXES
                    .iter()
                    .any(|s| l.name.to_ascii_lowercase().ends_with(s))
            {
                EntryKind::Dataset
            } else {
                EntryKind::File
            };
            Some(FolderEntry {
                name: alone.unwrap_or(&l.name).to_owned(),
                kind,
                size: l.size,
                modified: l.modified,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        (a.kind == EntryKind::Folder)
            .cmp(&(b.kind == EntryKind::Folder))
            .reverse()
            .then_with(|| a.name.cmp(&b.name))
    });
    out
}

/// `X` for a DMR++ named `X.dmrpp`.
fn dmrpp_stem(name: &str) -> Option<&str> {
    name.strip_suffix(".dmrpp").filter(|s| !s.is_empty())
}

pub(crate) fn store_error(e: cdm::Error) -> HandlerError {
    match e {
        cdm::Error::UnknownFormat => HandlerError::NotFound("not a netCDF or HDF5 object".into()),
        cdm::Error::Io(ref io) if io.kind() == std::io::ErrorKind::NotFound => {
            HandlerError::NotFound(e.to_string().trim_start_matches("I/O error: ").to_owned())
        }
        other => HandlerError::from(other),
    }
}

/// The response to `req` when its path lies under an object mount; `None` otherwise.
pub(crate) async fn respond<B>(state: &AppState, req: &Request<B>) -> Option<Routed> {
    let path = req.uri().path();
    let (prefix, root, rest) = state.objects.find(path)?;
    let protocol = Protocol::of_path(path);
    let mount_parts = match paths::components(prefix) {
        Ok(p) => p,
        Err(e) => {
            return Some(Err((
                HandlerError::BadRequest(e.to_string()),
                protocol,
                Kind::Other,
            )));
        }
    };
    let parts = match paths::components(rest) {
        Ok(p) => p,
        Err(e) => {
            return Some(Err((
                HandlerError::BadRequest(e.to_string()),
                protocol,
                Kind::Other,
            )));
        }
    };
    let headers = req.headers();
    let full_parts = |p: &[String]| [mount_parts.as_slice(), p].concat();
    // A folder page or listing.
    if parts.is_empty() || path.ends_with('/') {
        if !path.ends_with('/') {
            return Some(Ok((
                crate::redirect(&crate::folder_url(&mount_parts)),
                Kind::Other,
            )));
        }
        let json = listing::wants_json(req.uri().query(), headers);
        let routed = match root.list(&parts).await {
            Ok(listed) => listing::respond_entries(&entries(&listed), path, json, headers),
            Err(e) => Err(store_error(e)),
        };
        return Some(
            routed
                .map(|r| (r, Kind::Listing))
                .map_err(|e| (e, Protocol::Plain, Kind::Listing)),
        );
    }
    let (last, folder) = parts.split_last()?;
    if last == "catalog.xml" || last == "catalog.html" {
        let html = last == "catalog.html";
        let kind = if html {
            Kind::CatalogHtml
        } else {
            Kind::CatalogXml
        };
        let listed = match root.list(folder).await {
            Ok(l) => l,
            Err(e) => return Some(Err((store_error(e), Protocol::Plain, kind))),
        };
        let all = full_parts(folder);
        let found = entries(&listed);
        let (bytes, content_type) = if html {
            (
                thredds::catalog_html(&all, &found),
                "text/html; charset=utf-8",
            )
        } else {
            (
                thredds::catalog_xml(&all, &found),
                "application/xml; charset=utf-8",
            )
        };
        return Some(
            listing::page(bytes, content_type, headers)
                .map(|r| (r, kind))
                .map_err(|e| (e, Protocol::Plain, kind)),
        );
    }
    // `X.zarr/KEY`: the dataset `X` as a Zarr store; with no dataset `X`, the objects of a
    // Zarr store kept in the bucket, as they are stored.
    if let Some((dataset, key)) = crate::zarr::split_store(&parts) {
        match root.open(&dataset, &state.catalog).await {
            Ok(entry) => {
                return Some(
                    crate::zarr::answer(&entry, &key, headers)
                        .await
                        .map(|r| (r, Kind::Zarr))
                        .map_err(|e| (e, Protocol::Plain, Kind::Zarr)),
                );
            }
            Err(cdm::Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Some(Err((store_error(e), Protocol::Plain, Kind::Zarr))),
        }
    }
    let Some((stem, kind)) = route::split_suffix(last) else {
        // A sub-folder named without its trailing slash, or an object to download as it is.
        if let Ok(listed) = root.list(&parts).await
            && !listed.is_empty()
        {
            return Some(Ok((
                crate::redirect(&crate::folder_url(&full_parts(&parts))),
                Kind::Other,
            )));
        }
        return Some(
            download(root, &parts, headers)
                .await
                .map_err(|e| (e, Protocol::Plain, Kind::File)),
        );
    };
    let label = Kind::Dataset(kind);
    let mut key = folder.to_vec();
    // `X.dmrpp.dds` is the dataset of the DMR++, as `X.dds` is.
    key.push(dmrpp_stem(stem).unwrap_or(stem).to_owned());
    let url_path = format!("/{}", full_parts(&key).join("/"));
    let entry = match root.open(&key, &state.catalog).await {
        Ok(e) => e,
        // `X.nc` names both the file-out of a dataset `X` and the object `X.nc` itself: with
        // no dataset `X`, the object as it is stored.
        Err(cdm::Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Some(match download(root, &parts, headers).await {
                Ok(r) => Ok(r),
                Err(_) => Err((store_error(cdm::Error::Io(e)), Protocol::from(kind), label)),
            });
        }
        Err(e) => return Some(Err((store_error(e), Protocol::from(kind), label))),
    };
    Some(
        crate::entry_response(state, req, entry, kind, &url_path)
            .await
            .map(|r| (r, label))
            .map_err(|e| (e, Protocol::from(kind), label)),
    )
}

/// The object at `parts`, sent as it is stored: 304 when the client holds its version, the one
/// `Range` asked for (206, by a ranged GET to the store; 416 when unsatisfiable), or all of
/// it. The GET is pinned to the version its HEAD found.
async fn download(
    root: &ObjectRoot,
    parts: &[String],
    headers: &http::HeaderMap,
) -> Result<(http::Response<crate::Body>, Kind), HandlerError> {
    use crate::conditional::{RangeRequest, Validators, parse_range};
    use http::{StatusCode, header};
    let version = root.stat(parts).await.map_err(store_error)?;
    let len = version.size;
    let validators = Validators::of_object(version.etag.as_deref(), version.modified, len);
    if validators.not_modified(headers) {
        return Ok((validators.not_modified_response(), Kind::File));
    }
    let range = if validators.if_range_holds(headers) {
        parse_range(headers.get(header::RANGE), len)
    } else {
        RangeRequest::Whole
    };
    let mut builder = http::Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::ACCEPT_RANGES, "bytes");
    let wanted = match range {
        RangeRequest::Whole => None,
        RangeRequest::Part { start, end } => {
            builder = builder.status(StatusCode::PARTIAL_CONTENT).header(
                header::CONTENT_RANGE,
                format!("bytes {start}-{}/{len}", end - 1),
            );
            Some(start..end)
        }
        RangeRequest::Unsatisfiable => {
            let mut r = builder
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{len}"))
                .header(header::CONTENT_LENGTH, 0)
                .body(crate::body::full(bytes::Bytes::new()))
                .map_err(|e| HandlerError::Internal(e.to_string()))?;
            validators.apply(r.headers_mut());
            return Ok((r, Kind::File));
        }
    };
    let sent = wanted.as_ref().map_or(len, |r| r.end - r.start);
    // An empty object has no byte to ask the store for.
    let stream = if sent == 0 {
        futures::stream::empty().boxed()
    } else {
        root.download(parts, &version, wanted)
            .await
            .map_err(store_error)?
    };
    let mut r = builder
        .header(header::CONTENT_LENGTH, sent)
        .body(crate::body::streaming(stream))
        .map_err(|e| HandlerError::Internal(e.to_string()))?;
    validators.apply(r.headers_mut());
    r.extensions_mut().insert(crate::service::NoCompression);
    Ok((r, Kind::File))
}
