//! Folder pages: what a folder holds (sub-folders, datasets, other files) as HTML for people and
//! as JSON for scripts (`Accept: application/json` or `?format=json`).

use std::path::Path;
use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderMap, Response, header};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;

use crate::body::{Body, full};
use crate::conditional::{Validators, iso_date};
use crate::error::HandlerError;

/// Characters left as they are in a URL path component.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes one path component for a link.
pub(crate) fn encode_component(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

/// Escapes text for HTML.
pub(crate) fn html_escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

/// What a folder entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum EntryKind {
    /// A sub-folder.
    Folder,
    /// A file fathom can serve over DAP (netCDF-3, netCDF-4 / HDF5, sniffed from its content; an
    /// NcML virtual dataset, by its `.ncml` name).
    Dataset,
    /// Any other file: downloadable as it is.
    File,
}

/// One visible entry of a folder.
#[derive(Debug, Clone)]
pub(crate) struct FolderEntry {
    /// The entry's file name.
    pub(crate) name: String,
    /// What it is.
    pub(crate) kind: EntryKind,
    /// Size in bytes (files).
    pub(crate) size: u64,
    /// Last modification.
    pub(crate) modified: Option<SystemTime>,
}

/// The visible entries of `dir` (which lies in `root`), folders first, then by name. Hidden
/// files and symlinks that lead outside the root are left out. Runs on the blocking pool: it
/// stats and sniffs every entry.
pub(crate) async fn read_folder(root: &Path, dir: &Path) -> Result<Vec<FolderEntry>, HandlerError> {
    let (root, dir) = (root.to_path_buf(), dir.to_path_buf());
    tokio::task::spawn_blocking(move || read_folder_blocking(&root, &dir))
        .await
        .map_err(|e| HandlerError::Internal(e.to_string()))?
}

fn read_folder_blocking(root: &Path, dir: &Path) -> Result<Vec<FolderEntry>, HandlerError> {
    let rd = std::fs::read_dir(dir).map_err(|_| HandlerError::NotFound("no such folder".into()))?;
    let mut out = Vec::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        // Follow symlinks, but only list what stays inside the data root.
        let Ok(real) = std::fs::canonicalize(e.path()) else {
            continue;
        };
        if !real.starts_with(root) {
            continue;
        }
        let Ok(meta) = std::fs::metadata(&real) else {
            continue;
        };
        // A DMR++ beside its data file is that dataset's index, not a second dataset.
        if cdm::formats::dmrpp::is_dmrpp(&real)
            && cdm::formats::dmrpp::data_beside(&e.path()).is_some()
        {
            continue;
        }
        let kind = if meta.is_dir() {
            EntryKind::Folder
        } else if cdm::formats::ncml::is_ncml(&real)
            || cdm::formats::dmrpp::sidecar_of(&real).is_some()
            || matches!(cdm::catalog::sniff(&real), Ok(Some(_)))
        {
            EntryKind::Dataset
        } else {
            EntryKind::File
        };
        out.push(FolderEntry {
            name,
            kind,
            size: if meta.is_dir() { 0 } else { meta.len() },
            modified: meta.modified().ok(),
        });
    }
    out.sort_by(|a, b| {
        (a.kind == EntryKind::Folder)
            .cmp(&(b.kind == EntryKind::Folder))
            .reverse()
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(out)
}

/// Whether the request asks for JSON (`?format=json`, or `Accept` preferring it to HTML).
pub(crate) fn wants_json(query: Option<&str>, headers: &HeaderMap) -> bool {
    if let Some(q) = query {
        for pair in q.split('&') {
            if let Some(v) = pair.strip_prefix("format=") {
                return v.eq_ignore_ascii_case("json");
            }
        }
    }
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| {
            let json = accept.find("application/json");
            let html = accept.find("text/html");
            json.is_some() && (html.is_none() || json < html)
        })
}

/// A human-readable size.
pub(crate) fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    #[allow(clippy::cast_precision_loss)] // Display only.
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// The responses linked from a dataset's row, as (label, suffix).
pub(crate) const DATASET_LINKS: &[(&str, &str)] = &[
    ("form", ".html"),
    ("dds", ".dds"),
    ("das", ".das"),
    ("dmr", ".dmr"),
    ("info", ".info"),
];

/// Shared page style: plain, readable, no external resources.
pub(crate) const STYLE: &str = "<style>body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse}td,th{padding:.2em .8em;text-align:left;border-bottom:1px solid #ddd}\
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}\
a{color:#05c}code,pre{background:#f6f6f6;padding:.1em .3em}pre{padding:.6em;overflow:auto}\
.links a{margin-right:.5em}footer{margin-top:2em;color:#777;font-size:.9em}</style>";

#[derive(Serialize)]
struct JsonListing<'a> {
    path: &'a str,
    catalog: String,
    entries: Vec<JsonEntry>,
}

#[derive(Serialize)]
struct JsonEntry {
    name: String,
    kind: EntryKind,
    /// The entry's URL, relative to the folder.
    href: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    modified: Option<String>,
    /// A dataset's responses, relative to the folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    links: Option<std::collections::BTreeMap<&'static str, String>>,
}

/// The listing of `entries`, shown at `url_path`, as HTML or JSON.
pub(crate) fn respond_entries(
    entries: &[FolderEntry],
    url_path: &str,
    json: bool,
    headers: &HeaderMap,
) -> Result<Response<Body>, HandlerError> {
    let (bytes, content_type) = if json {
        (render_json(entries, url_path)?, "application/json")
    } else {
        (render_html(entries, url_path), "text/html; charset=utf-8")
    };
    page(bytes, content_type, headers)
}

/// A generated page with content validators; 304 when the client already has it.
pub(crate) fn page(
    bytes: Bytes,
    content_type: &'static str,
    headers: &HeaderMap,
) -> Result<Response<Body>, HandlerError> {
    let validators = Validators::of_content(&bytes);
    if validators.not_modified(headers) {
        return Ok(validators.not_modified_response());
    }
    let mut r = Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_LENGTH, bytes.len())
        .body(full(bytes))
        .map_err(|e| HandlerError::Internal(e.to_string()))?;
    validators.apply(r.headers_mut());
    Ok(r)
}

fn render_json(entries: &[FolderEntry], url_path: &str) -> Result<Bytes, HandlerError> {
    let listing = JsonListing {
        path: url_path,
        catalog: "catalog.xml".into(),
        entries: entries
            .iter()
            .map(|e| {
                let href = encode_component(&e.name);
                JsonEntry {
                    name: e.name.clone(),
                    kind: e.kind,
                    href: if e.kind == EntryKind::Folder {
                        format!("{href}/")
                    } else {
                        href.clone()
                    },
                    size: (e.kind != EntryKind::Folder).then_some(e.size),
                    modified: e.modified.map(iso_date),
                    links: (e.kind == EntryKind::Dataset).then(|| {
                        DATASET_LINKS
                            .iter()
                            .map(|(label, suffix)| (*label, format!("{href}{suffix}")))
                            .chain([("file", href.clone()), ("dods", format!("{href}.dods"))])
                            .collect()
                    }),
                }
            })
            .collect(),
    };
    serde_json::to_vec_pretty(&listing)
        .map(Bytes::from)
        .map_err(|e| HandlerError::Internal(e.to_string()))
}

fn render_html(entries: &[FolderEntry], url_path: &str) -> Bytes {
    use std::fmt::Write as _;
    let title = html_escape(&percent_encoding::percent_decode_str(url_path).decode_utf8_lossy());
    let mut html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of {title}</title>{STYLE}</head>\n<body><h1>Index of {title}</h1>\n\
<p class=\"links\"><a href=\"catalog.html\">THREDDS catalog</a> <a href=\"catalog.xml\">catalog.xml</a> <a href=\"?format=json\">JSON</a></p>\n\
<table>\n<tr><th>Name</th><th>Size</th><th>Modified</th><th>Responses</th></tr>\n"
    );
    if url_path != "/" {
        html.push_str("<tr><td><a href=\"../\">../</a></td><td></td><td></td><td></td></tr>\n");
    }
    for e in entries {
        let href = encode_component(&e.name);
        let name = html_escape(&e.name);
        let modified = e.modified.map(iso_date).unwrap_or_default();
        match e.kind {
            EntryKind::Folder => {
                let _ = writeln!(
                    html,
                    "<tr><td><a href=\"{href}/\">{name}/</a></td><td></td><td>{modified}</td><td class=\"links\"><a href=\"{href}/catalog.xml\">catalog</a></td></tr>"
                );
            }
            EntryKind::Dataset | EntryKind::File => {
                let _ = write!(
                    html,
                    "<tr><td><a href=\"{href}\">{name}</a></td><td class=\"num\" title=\"{} bytes\">{}</td><td>{modified}</td><td class=\"links\">",
                    e.size,
                    human_size(e.size)
                );
                if e.kind == EntryKind::Dataset {
                    for (label, suffix) in DATASET_LINKS {
                        let _ = write!(html, "<a href=\"{href}{suffix}\">{label}</a>");
                    }
                    let _ = write!(html, "<a href=\"{href}\">file</a>");
                }
                html.push_str("</td></tr>\n");
            }
        }
    }
    html.push_str("</table>\n<footer>fathom ");
    html.push_str(env!("CARGO_PKG_VERSION"));
    html.push_str(" — OPeNDAP DAP2 and DAP4</footer>\n</body></html>\n");
    Bytes::from(html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_asked_for_by_query_or_accept() {
        let mut h = HeaderMap::new();
        assert!(!wants_json(None, &h));
        assert!(wants_json(Some("format=json"), &h));
        assert!(!wants_json(Some("format=html"), &h));
        h.insert(header::ACCEPT, "application/json".parse().expect("h"));
        assert!(wants_json(None, &h));
        h.insert(
            header::ACCEPT,
            "text/html,application/xhtml+xml,application/json;q=0.9"
                .parse()
                .expect("h"),
        );
        assert!(!wants_json(None, &h));
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(12), "12 B");
        assert_eq!(human_size(2048), "2.0 KiB");
        assert_eq!(human_size(5 * 1024 * 1024 + 1), "5.0 MiB");
    }
}
