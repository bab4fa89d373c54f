//! THREDDS catalogs: `catalog.xml` (InvCatalog 1.0, what siphon, netCDF-Java's ToolsUI and
//! Panoply walk) and `catalog.html` in every folder.
//!
//! Each catalog declares one compound service with OPeNDAP (DAP2), DAP4 and HTTPServer members,
//! all based at `/`, so a dataset's `urlPath` (its path from the data root) is at once its DAP
//! dataset URL and its download URL. Sub-folders are `<catalogRef>`s to their own
//! `catalog.xml`, so a client walks the tree one folder at a time.

use std::fmt::Write as _;

use bytes::Bytes;

use crate::conditional::iso_date;
use crate::listing::{EntryKind, FolderEntry, STYLE, encode_component, html_escape, human_size};

/// The InvCatalog 1.0 namespace.
const NS: &str = "http://www.unidata.ucar.edu/namespaces/thredds/InvCatalog/v1.0";

/// Escapes text for XML content and attribute values.
fn xml_escape(s: &str) -> String {
    dap4::xml::escape(s)
}

/// The folder's path from the root, encoded, without leading or trailing slash (`a/b%20c`).
fn folder_path(parts: &[String]) -> String {
    parts
        .iter()
        .map(|p| encode_component(p))
        .collect::<Vec<_>>()
        .join("/")
}

/// `catalog.xml` of the folder made of `parts` (empty: the root).
pub(crate) fn catalog_xml(parts: &[String], entries: &[FolderEntry]) -> Bytes {
    let folder = folder_path(parts);
    let title = if parts.is_empty() {
        "/".to_owned()
    } else {
        format!("/{}/", parts.join("/"))
    };
    let prefix = if folder.is_empty() {
        String::new()
    } else {
        format!("{folder}/")
    };
    let mut x = String::with_capacity(1024 + entries.len() * 300);
    let title = xml_escape(&title);
    let id = xml_escape(if folder.is_empty() { "/" } else { &folder });
    let _ = writeln!(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    let _ = writeln!(
        x,
        "<catalog xmlns=\"{NS}\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" name=\"fathom: {title}\" version=\"1.0.1\">"
    );
    for line in [
        "  <service name=\"all\" serviceType=\"Compound\" base=\"\">",
        "    <service name=\"odap\" serviceType=\"OPENDAP\" base=\"/\"/>",
        "    <service name=\"dap4\" serviceType=\"DAP4\" base=\"/\"/>",
        "    <service name=\"file\" serviceType=\"HTTPServer\" base=\"/\"/>",
        "    <service name=\"ncss\" serviceType=\"NetcdfSubset\" base=\"/ncss/grid/\"/>",
        "  </service>",
    ] {
        x.push_str(line);
        x.push('\n');
    }
    let _ = writeln!(x, "  <dataset name=\"{title}\" ID=\"{id}\">");
    x.push_str("    <metadata inherited=\"true\">\n      <serviceName>all</serviceName>\n    </metadata>\n");
    for e in entries {
        let href = encode_component(&e.name);
        let name = xml_escape(&e.name);
        match e.kind {
            EntryKind::Folder => {
                let _ = writeln!(
                    x,
                    "    <catalogRef xlink:href=\"{href}/catalog.xml\" xlink:title=\"{name}\" name=\"{name}\" ID=\"{}\"/>",
                    xml_escape(&format!("{prefix}{href}/"))
                );
            }
            EntryKind::Dataset => {
                let url_path = xml_escape(&format!("{prefix}{href}"));
                let _ = writeln!(
                    x,
                    "    <dataset name=\"{name}\" ID=\"{url_path}\" urlPath=\"{url_path}\">\n      <dataSize units=\"bytes\">{}</dataSize>",
                    e.size
                );
                if let Some(m) = e.modified {
                    let _ = writeln!(x, "      <date type=\"modified\">{}</date>", iso_date(m));
                }
                x.push_str("    </dataset>\n");
            }
            // Plain files are not datasets; they stay reachable from the folder listing.
            EntryKind::File => {}
        }
    }
    x.push_str("  </dataset>\n</catalog>\n");
    Bytes::from(x)
}

/// `catalog.html`: the same catalog for people, with each dataset's access links.
pub(crate) fn catalog_html(parts: &[String], entries: &[FolderEntry]) -> Bytes {
    let title = html_escape(&if parts.is_empty() {
        "/".to_owned()
    } else {
        format!("/{}/", parts.join("/"))
    });
    let mut h = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Catalog {title}</title>{STYLE}</head>\n<body><h1>Catalog {title}</h1>\n\
<p class=\"links\"><a href=\"catalog.xml\">catalog.xml</a> <a href=\"./\">folder listing</a></p>\n\
<table>\n<tr><th>Dataset</th><th>Size</th><th>Last modified</th><th>Access</th></tr>\n"
    );
    if !parts.is_empty() {
        h.push_str(
            "<tr><td><a href=\"../catalog.html\">../</a></td><td></td><td></td><td></td></tr>\n",
        );
    }
    for e in entries {
        let href = encode_component(&e.name);
        let name = html_escape(&e.name);
        let modified = e.modified.map(iso_date).unwrap_or_default();
        match e.kind {
            EntryKind::Folder => {
                let _ = writeln!(
                    h,
                    "<tr><td><a href=\"{href}/catalog.html\">{name}/</a></td><td></td><td>{modified}</td><td></td></tr>"
                );
            }
            EntryKind::Dataset => {
                let _ = writeln!(
                    h,
                    "<tr><td>{name}</td><td class=\"num\">{}</td><td>{modified}</td><td class=\"links\">\
<a href=\"{href}.html\">OPeNDAP</a><a href=\"{href}.dmr\">DAP4</a><a href=\"{href}\">HTTPServer</a><a href=\"{href}.info\">info</a></td></tr>",
                    human_size(e.size)
                );
            }
            EntryKind::File => {}
        }
    }
    h.push_str("</table>\n</body></html>\n");
    Bytes::from(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<FolderEntry> {
        vec![
            FolderEntry {
                name: "sub dir".into(),
                kind: EntryKind::Folder,
                size: 0,
                modified: None,
            },
            FolderEntry {
                name: "a&b.nc".into(),
                kind: EntryKind::Dataset,
                size: 42,
                modified: Some(std::time::UNIX_EPOCH),
            },
            FolderEntry {
                name: "notes.txt".into(),
                kind: EntryKind::File,
                size: 1,
                modified: None,
            },
        ]
    }

    #[test]
    fn the_catalog_names_services_datasets_and_sub_catalogs() {
        let x = String::from_utf8(catalog_xml(&["top".into()], &entries()).to_vec()).expect("utf8");
        assert!(x.contains("serviceType=\"OPENDAP\" base=\"/\""), "{x}");
        assert!(x.contains("serviceType=\"DAP4\""));
        assert!(x.contains("serviceType=\"HTTPServer\""));
        assert!(
            x.contains("xlink:href=\"sub%20dir/catalog.xml\" xlink:title=\"sub dir\""),
            "{x}"
        );
        assert!(x.contains("name=\"a&amp;b.nc\""), "{x}");
        assert!(x.contains("urlPath=\"top/a%26b.nc\""), "{x}");
        assert!(x.contains("<dataSize units=\"bytes\">42</dataSize>"));
        assert!(x.contains("<date type=\"modified\">1970-01-01T00:00:00Z</date>"));
        assert!(!x.contains("notes.txt"));
    }
}
