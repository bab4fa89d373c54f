//! Folder listings and whole-file downloads.

use std::path::Path;

use bytes::Bytes;
use http::{Response, header};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use tokio::io::AsyncReadExt;

use crate::body::{Body, full, streaming};
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
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One visible entry of a folder.
#[derive(Debug)]
pub(crate) struct FolderEntry {
    /// The entry's file name.
    pub(crate) name: String,
    /// Whether it is a folder.
    pub(crate) is_dir: bool,
    /// Size in bytes (files).
    pub(crate) size: u64,
}

/// The visible entries of `dir`, folders first, then by name. Hidden files and symlinks that
/// lead outside the root are left out.
pub(crate) async fn read_folder(dir: &Path) -> Result<Vec<FolderEntry>, HandlerError> {
    let root_check = dir.to_path_buf();
    let mut rd = tokio::fs::read_dir(dir)
        .await
        .map_err(|_| HandlerError::NotFound("no such folder".into()))?;
    let mut out = Vec::new();
    while let Ok(Some(e)) = rd.next_entry().await {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        // Follow symlinks, but only list what stays inside the folder's own tree.
        let Ok(real) = tokio::fs::canonicalize(e.path()).await else {
            continue;
        };
        if !real.starts_with(&root_check) {
            continue;
        }
        let Ok(meta) = tokio::fs::metadata(&real).await else {
            continue;
        };
        out.push(FolderEntry {
            name,
            is_dir: meta.is_dir(),
            size: meta.len(),
        });
    }
    out.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.cmp(&b.name)));
    Ok(out)
}

/// A plain HTML listing of the folder `dir`, shown at `url_path`.
pub(crate) async fn respond(dir: &Path, url_path: &str) -> Result<Response<Body>, HandlerError> {
    let entries = read_folder(dir).await?;
    let title = html_escape(&percent_encoding::percent_decode_str(url_path).decode_utf8_lossy());
    let mut html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of {title}</title></head>\n<body><h1>Index of {title}</h1>\n<ul>\n"
    );
    if url_path != "/" {
        html.push_str("<li><a href=\"../\">../</a></li>\n");
    }
    for e in &entries {
        let href = encode_component(&e.name);
        let name = html_escape(&e.name);
        if e.is_dir {
            html.push_str(&format!("<li><a href=\"{href}/\">{name}/</a></li>\n"));
        } else {
            html.push_str(&format!(
                "<li><a href=\"{href}\">{name}</a> ({} bytes) <a href=\"{href}.dds\">dds</a> <a href=\"{href}.das\">das</a> <a href=\"{href}.dmr\">dmr</a></li>\n",
                e.size
            ));
        }
    }
    html.push_str("</ul>\n</body></html>\n");
    let bytes = Bytes::from(html);
    Response::builder()
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CONTENT_LENGTH, bytes.len())
        .body(full(bytes))
        .map_err(|e| HandlerError::Internal(e.to_string()))
}

/// The file at `path`, streamed as it is.
pub(crate) async fn file_download(path: &Path) -> Result<Response<Body>, HandlerError> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|_| HandlerError::NotFound("no such file".into()))?;
    let len = file
        .metadata()
        .await
        .map_err(|e| HandlerError::Internal(e.to_string()))?
        .len();
    let stream = futures::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = bytes::BytesMut::with_capacity(256 * 1024);
        match file.read_buf(&mut buf).await {
            Ok(0) => None,
            Ok(_) => Some((Ok::<_, std::io::Error>(buf.freeze()), Some(file))),
            // Yield the error once, then end: the connection is aborted.
            Err(e) => Some((Err(e), None)),
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, len)
        .body(streaming(stream))
        .map_err(|e| HandlerError::Internal(e.to_string()))
}
