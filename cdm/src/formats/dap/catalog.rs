//! Remote THREDDS catalogs (InvCatalog 1.0 `catalog.xml`, as TDS, Hyrax, pydap and fathom
//! write them): the datasets a catalog offers over OPeNDAP, with their dataset URLs, and the
//! catalogs it refers to (`catalogRef`), read one catalog at a time.
//!
//! A dataset's URL is its OPeNDAP (or DAP4) service's `base`, resolved against the catalog's
//! URL, followed by its `urlPath`; the service comes from an `<access>` element, the dataset's
//! `serviceName` (attribute or `<metadata>`, inherited by nested datasets), or else the
//! catalog's first OPeNDAP service. Nested container datasets are flattened into one folder.

use std::collections::HashMap;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::RemoteOptions;
use super::http::Http;
use crate::error::{Error, Result};

/// Largest `catalog.xml` accepted.
const MAX_CATALOG_BYTES: usize = 16 << 20;

/// What one remote catalog offers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RemoteCatalog {
    /// Datasets reachable over OPeNDAP, by unique name, in document order.
    pub datasets: Vec<CatalogDataset>,
    /// Catalogs it refers to, by unique name, in document order.
    pub refs: Vec<CatalogRef>,
}

/// A dataset of a remote catalog.
#[derive(Clone, Debug, PartialEq)]
pub struct CatalogDataset {
    /// Its name, usable as one URL path segment (no `/`).
    pub name: String,
    /// The dataset URL to open with [`super::open_remote`].
    pub url: String,
    /// Its size in bytes, when the catalog says.
    pub size: Option<u64>,
}

/// A `catalogRef` of a remote catalog.
#[derive(Clone, Debug, PartialEq)]
pub struct CatalogRef {
    /// Its name, usable as one URL path segment.
    pub name: String,
    /// The absolute URL of the catalog it refers to.
    pub url: String,
}

/// Fetches and reads the catalog at `url`.
///
/// # Errors
/// [`Error::Upstream`] / [`Error::UpstreamTimeout`] when it cannot be fetched, or is not a
/// catalog.
pub async fn read_catalog(url: &str, options: &RemoteOptions) -> Result<RemoteCatalog> {
    let http = Http::new(options.timeout, options.retries, options.ca_file.as_deref())?;
    let body = http.get(url, MAX_CATALOG_BYTES).await?;
    parse(&String::from_utf8_lossy(&body), url)
}

/// `reference` resolved against the absolute `http(s)` URL `base` (RFC 3986 for the forms
/// catalogs use: absolute, scheme-relative, path-absolute and path-relative, with `.` and
/// `..` removed); `None` for another scheme.
#[must_use]
pub fn resolve_url(base: &str, reference: &str) -> Option<String> {
    let reference = reference.split('#').next().unwrap_or_default();
    let scheme_end = base.find("://")?;
    let (scheme, rest) = (&base[..scheme_end], &base[scheme_end + 3..]);
    let host_end = rest.find('/').unwrap_or(rest.len());
    let host = &rest[..host_end];
    let base_path = rest[host_end..]
        .split(['?', '#'])
        .next()
        .unwrap_or_default();
    let lower = reference.to_ascii_lowercase();
    let joined = if lower.starts_with("http://") || lower.starts_with("https://") {
        return Some(normalise_url(reference));
    } else if let Some(r) = reference.strip_prefix("//") {
        return Some(normalise_url(&format!("{scheme}://{r}")));
    } else if reference.find(':').is_some_and(|i| {
        i > 0
            && reference[..i]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    }) {
        // Another scheme (`file:`, `ftp:`, …).
        return None;
    } else if reference.starts_with('/') {
        reference.to_owned()
    } else {
        let dir = base_path.rfind('/').map_or("/", |i| &base_path[..=i]);
        format!("{dir}{reference}")
    };
    Some(normalise_url(&format!("{scheme}://{host}{joined}")))
}

/// Removes `.` and `..` segments from an absolute URL's path.
fn normalise_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let host_end = rest.find('/').unwrap_or(rest.len());
    let (path, query) = match rest[host_end..].find('?') {
        Some(q) => (&rest[host_end..host_end + q], &rest[host_end + q..]),
        None => (&rest[host_end..], ""),
    };
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, s) in segments.iter().enumerate() {
        match *s {
            "." => {
                if i + 1 == segments.len() {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if i + 1 == segments.len() {
                    out.push("");
                }
            }
            other => out.push(other),
        }
    }
    format!(
        "{}{}/{}{query}",
        &url[..scheme_end + 3],
        &rest[..host_end],
        out.join("/")
    )
}

/// `scheme://host[:port]/` of an absolute URL: what a catalog's datasets must share with it.
#[must_use]
pub fn origin(url: &str) -> Option<&str> {
    let start = url.find("://")? + 3;
    let end = url[start..].find('/').map_or(url.len(), |i| start + i + 1);
    Some(&url[..end])
}

/// A name made safe as one URL path segment.
fn segment_name(name: &str) -> Option<String> {
    let n = name.trim().replace('/', "_");
    (!n.is_empty() && n != "." && n != "..").then_some(n)
}

fn attr(e: &BytesStart<'_>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| {
        e.try_get_attribute(k).ok().flatten().and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(std::borrow::Cow::into_owned)
        })
    })
}

fn bad(e: impl std::fmt::Display) -> Error {
    Error::Upstream(format!("the remote catalog cannot be read: {e}"))
}

/// A `<service>`.
#[derive(Debug, Default)]
struct Service {
    kind: String,
    base: String,
    /// Member services of a compound service.
    children: Vec<String>,
}

/// A `<dataset>` being read.
#[derive(Debug, Default)]
struct DatasetFrame {
    name: Option<String>,
    url_path: Option<String>,
    /// Its own service (attribute or metadata), else the inherited one.
    service: Option<String>,
    /// What nested datasets inherit.
    inherited: Option<String>,
    access: Vec<(String, String)>,
    size: Option<u64>,
}

#[derive(Debug)]
enum Frame {
    Service(String),
    Dataset(DatasetFrame),
    Metadata { inherited: bool },
    ServiceName,
    DataSize { factor: u64 },
    Other,
}

/// Reads a catalog fetched from `url`.
///
/// # Errors
/// [`Error::Upstream`] when it is not well-formed XML or not a catalog.
pub(crate) fn parse(text: &str, url: &str) -> Result<RemoteCatalog> {
    let mut reader = Reader::from_str(text);
    let mut services: HashMap<String, Service> = HashMap::new();
    let mut service_order: Vec<String> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    // (name, urlPath, service, access) of finished datasets, resolved once every service is known.
    let mut found: Vec<DatasetFrame> = Vec::new();
    let mut refs = Vec::new();
    let mut saw_catalog = false;
    loop {
        let event = reader.read_event().map_err(bad)?;
        let (e, empty) = match &event {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            Event::Text(t) => {
                let text = t.xml10_content();
                let text = text.trim();
                match stack.last() {
                    Some(Frame::ServiceName) => {
                        let inherited = matches!(
                            stack.iter().rev().nth(1),
                            Some(Frame::Metadata { inherited: true })
                        );
                        if let Some(Frame::Dataset(d)) = stack
                            .iter_mut()
                            .rev()
                            .find(|f| matches!(f, Frame::Dataset(_)))
                        {
                            d.service = Some(text.to_owned());
                            if inherited {
                                d.inherited = Some(text.to_owned());
                            }
                        }
                    }
                    Some(Frame::DataSize { factor }) => {
                        let factor = *factor;
                        if let Some(Frame::Dataset(d)) = stack
                            .iter_mut()
                            .rev()
                            .find(|f| matches!(f, Frame::Dataset(_)))
                        {
                            #[allow(
                                clippy::cast_possible_truncation,
                                clippy::cast_sign_loss,
                                clippy::cast_precision_loss
                            )]
                            {
                                d.size = text
                                    .parse::<f64>()
                                    .ok()
                                    .filter(|v| v.is_finite() && *v >= 0.0)
                                    .map(|v| (v * factor as f64) as u64);
                            }
                        }
                    }
                    _ => {}
                }
                continue;
            }
            Event::End(_) => {
                if let Some(Frame::Dataset(d)) = stack.pop() {
                    found.push(d);
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let Some(e) = e else { continue };
        let tag = e.local_name().as_ref().to_owned();
        let frame = match tag.as_str() {
            "catalog" => {
                saw_catalog = true;
                Frame::Other
            }
            "service" => {
                let name = attr(&e, &["name"]).unwrap_or_default();
                let service = Service {
                    kind: attr(&e, &["serviceType"])
                        .unwrap_or_default()
                        .to_ascii_uppercase(),
                    base: attr(&e, &["base"]).unwrap_or_default(),
                    children: Vec::new(),
                };
                if let Some(Frame::Service(parent)) = stack.last()
                    && let Some(p) = services.get_mut(parent)
                {
                    p.children.push(name.clone());
                }
                if !services.contains_key(&name) {
                    service_order.push(name.clone());
                }
                services.insert(name.clone(), service);
                Frame::Service(name)
            }
            "dataset" => {
                let inherited = stack.iter().rev().find_map(|f| match f {
                    Frame::Dataset(d) => Some(d.inherited.clone()),
                    _ => None,
                });
                let inherited = inherited.flatten();
                let own = attr(&e, &["serviceName"]);
                Frame::Dataset(DatasetFrame {
                    name: attr(&e, &["name"]),
                    url_path: attr(&e, &["urlPath"]),
                    service: own.clone().or_else(|| inherited.clone()),
                    inherited: own.or(inherited),
                    access: Vec::new(),
                    size: None,
                })
            }
            "metadata" => Frame::Metadata {
                inherited: attr(&e, &["inherited"]).is_some_and(|v| v == "true"),
            },
            "serviceName" => Frame::ServiceName,
            "dataSize" => Frame::DataSize {
                factor: match attr(&e, &["units"])
                    .unwrap_or_default()
                    .to_ascii_lowercase()
                    .as_str()
                {
                    "kbytes" => 1 << 10,
                    "mbytes" => 1 << 20,
                    "gbytes" => 1 << 30,
                    "tbytes" => 1 << 40,
                    _ => 1,
                },
            },
            "access" => {
                if let (Some(s), Some(p)) = (attr(&e, &["serviceName"]), attr(&e, &["urlPath"]))
                    && let Some(Frame::Dataset(d)) = stack.last_mut()
                {
                    d.access.push((s, p));
                }
                Frame::Other
            }
            "catalogRef" => {
                if let Some(href) = attr(&e, &["xlink:href", "href"])
                    && let Some(target) = resolve_url(url, &href)
                {
                    // The first non-empty of name, title, and the folder the href names.
                    let name = ["name", "xlink:title", "title"]
                        .iter()
                        .find_map(|k| attr(&e, &[k]).as_deref().and_then(segment_name))
                        .or_else(|| {
                            href.trim_end_matches("/catalog.xml")
                                .rsplit('/')
                                .next()
                                .and_then(segment_name)
                        });
                    if let Some(name) = name {
                        refs.push(CatalogRef { name, url: target });
                    }
                }
                Frame::Other
            }
            _ => Frame::Other,
        };
        if empty {
            if let Frame::Dataset(d) = frame {
                found.push(d);
            }
        } else {
            stack.push(frame);
        }
    }
    if !saw_catalog {
        return Err(bad("no <catalog> element"));
    }

    // The OPeNDAP base of a service (itself, or a member of a compound), DAP2 before DAP4.
    let dap_base = |name: &str| -> Option<&str> {
        let s = services.get(name)?;
        let members = std::iter::once(name).chain(s.children.iter().map(String::as_str));
        let typed = |kind: &str| {
            members
                .clone()
                .filter_map(|n| services.get(n))
                .find(|s| s.kind == kind)
                .map(|s| s.base.as_str())
        };
        typed("OPENDAP").or_else(|| typed("DAP4"))
    };
    let default_base = service_order.iter().find_map(|n| {
        services
            .get(n)
            .filter(|s| s.kind == "OPENDAP")
            .map(|s| s.base.as_str())
    });

    let mut datasets: Vec<CatalogDataset> = Vec::new();
    // Nested datasets finish first; document order is restored by sorting on position below.
    for d in found {
        let via_access = d
            .access
            .iter()
            .find_map(|(s, p)| dap_base(s).map(|b| (b, p.as_str())));
        let via_path = d.url_path.as_deref().and_then(|p| {
            let base = match d.service.as_deref() {
                Some(s) => dap_base(s),
                None => default_base,
            };
            base.map(|b| (b, p))
        });
        let Some((base, path)) = via_access.or(via_path) else {
            continue;
        };
        let Some(base_url) = resolve_url(url, base) else {
            continue;
        };
        let base_url = if base_url.ends_with('/') {
            base_url
        } else {
            format!("{base_url}/")
        };
        let Some(dataset_url) = resolve_url(&base_url, path.trim_start_matches('/')) else {
            continue;
        };
        let name = d
            .name
            .as_deref()
            .and_then(segment_name)
            .or_else(|| path.rsplit('/').next().and_then(segment_name));
        let Some(name) = name else { continue };
        if datasets.iter().any(|x| x.name == name) {
            continue;
        }
        datasets.push(CatalogDataset {
            name,
            url: dataset_url,
            size: d.size,
        });
    }
    let mut seen = std::collections::HashSet::new();
    refs.retain(|r: &CatalogRef| seen.insert(r.name.clone()));
    Ok(RemoteCatalog { datasets, refs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_against_the_catalog_url() {
        let base = "http://h:8/thredds/catalog/sub/catalog.xml";
        assert_eq!(
            resolve_url(base, "a/catalog.xml").as_deref(),
            Some("http://h:8/thredds/catalog/sub/a/catalog.xml")
        );
        assert_eq!(
            resolve_url(base, "/thredds/dodsC/").as_deref(),
            Some("http://h:8/thredds/dodsC/")
        );
        assert_eq!(
            resolve_url(base, "../x/catalog.xml").as_deref(),
            Some("http://h:8/thredds/catalog/x/catalog.xml")
        );
        assert_eq!(
            resolve_url(base, "../../../../../etc").as_deref(),
            Some("http://h:8/etc")
        );
        assert_eq!(
            resolve_url(base, "https://o/c.xml").as_deref(),
            Some("https://o/c.xml")
        );
        assert_eq!(
            resolve_url(base, "//o/c.xml").as_deref(),
            Some("http://o/c.xml")
        );
        assert_eq!(resolve_url(base, "file:///etc/passwd"), None);
        assert_eq!(origin(base), Some("http://h:8/"));
    }

    #[test]
    fn tds_pydap_and_fathom_catalogs_give_dataset_urls() {
        let tds = r#"<catalog xmlns="http://www.unidata.ucar.edu/namespaces/thredds/InvCatalog/v1.0" xmlns:xlink="http://www.w3.org/1999/xlink">
  <service name="all" serviceType="Compound" base="">
    <service name="http" serviceType="HTTPServer" base="/thredds/fileServer/"/>
    <service name="dap" serviceType="OPENDAP" base="/thredds/dodsC/"/>
  </service>
  <dataset name="Top">
    <metadata inherited="true"><serviceName>all</serviceName></metadata>
    <dataset name="a.nc" urlPath="x/a.nc"><dataSize units="Kbytes">2</dataSize></dataset>
    <catalogRef xlink:href="more/catalog.xml" xlink:title="more" name=""/>
  </dataset>
</catalog>"#;
        let c = parse(tds, "http://h/thredds/catalog/x/catalog.xml").expect("tds");
        assert_eq!(
            c.datasets,
            vec![CatalogDataset {
                name: "a.nc".into(),
                url: "http://h/thredds/dodsC/x/a.nc".into(),
                size: Some(2048)
            }]
        );
        assert_eq!(
            c.refs,
            vec![CatalogRef {
                name: "more".into(),
                url: "http://h/thredds/catalog/x/more/catalog.xml".into()
            }]
        );

        let pydap = r#"<catalog xmlns="http://www.unidata.ucar.edu/namespaces/thredds/InvCatalog/v1.0">
    <service name="odap" serviceType="OPeNDAP" base="/sub/"/>
    <dataset name="b.nc " ID="/sub/b.nc"><access serviceName="odap" urlPath="b.nc"/></dataset>
    <dataset name="/" ID="x"><access serviceName="odap" urlPath="c.nc"/></dataset>
</catalog>"#;
        let c = parse(pydap, "http://p:1/sub/catalog.xml").expect("pydap");
        assert_eq!(c.datasets[0].name, "b.nc");
        assert_eq!(c.datasets[0].url, "http://p:1/sub/b.nc");
        assert_eq!(c.datasets[1].name, "_");
        assert!(parse("<html/>", "http://p/catalog.xml").is_err());
        assert!(parse("<catalog><dataset", "http://p/catalog.xml").is_err());
    }
}
