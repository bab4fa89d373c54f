//! The OGC API – Common and EDR metadata documents: the landing page (JSON and HTML), the
//! conformance declaration, the collections list and one collection with its extent, its
//! parameters and its query types.

use serde_json::{Value, json};

use cdm::cf::Axis;

use crate::covjson::{self, CRS84};
use crate::grid::Grid;
use crate::query::QueryKind;

/// The media type of the OpenAPI document.
pub const OPENAPI_MEDIA_TYPE: &str = "application/vnd.oai.openapi+json;version=3.0";

/// The conformance classes implemented.
pub const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/landing-page",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections",
    "http://www.opengis.net/spec/ogcapi-edr-1/1.1/conf/core",
    "http://www.opengis.net/spec/ogcapi-edr-1/1.1/conf/collections",
    "http://www.opengis.net/spec/ogcapi-edr-1/1.1/conf/json",
    "http://www.opengis.net/spec/ogcapi-edr-1/1.1/conf/html",
    "http://www.opengis.net/spec/ogcapi-edr-1/1.1/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-edr-1/1.1/conf/covjson",
    "http://www.opengis.net/spec/ogcapi-edr-1/1.1/conf/queries",
];

fn link(href: String, rel: &str, media: &str, title: &str) -> Value {
    json!({ "href": href, "rel": rel, "type": media, "title": title })
}

/// The landing page; `base` is the server's URL without a trailing slash (`http://h:p`).
#[must_use]
pub fn landing(base: &str) -> Value {
    json!({
        "title": "fathom",
        "description": "OGC API – Environmental Data Retrieval over fathom's gridded datasets \
    (CoverageJSON), the OpenAPI description of every route, and a STAC catalog",
        "links": [
            link(format!("{base}/ogc"), "self", "application/json", "this document"),
            link(format!("{base}/ogc?f=html"), "alternate", "text/html", "this document as HTML"),
            link(format!("{base}/ogc/api"), "service-desc", OPENAPI_MEDIA_TYPE, "the API definition (OpenAPI 3.0)"),
            link(format!("{base}/ogc/conformance"), "conformance", "application/json", "conformance classes"),
            link(format!("{base}/ogc/conformance"), "http://www.opengis.net/def/rel/ogc/1.0/conformance", "application/json", "conformance classes"),
            link(format!("{base}/ogc/collections"), "data", "application/json", "the collections"),
            link(format!("{base}/ogc/collections"), "http://www.opengis.net/def/rel/ogc/1.0/data", "application/json", "the collections"),
            link(format!("{base}/stac/catalog.json"), "http://www.opengis.net/def/rel/ogc/1.0/data-meta", "application/json", "the STAC catalog"),
        ],
    })
}

/// The landing page as HTML, for browsers.
#[must_use]
pub fn landing_html(grids: &[Grid]) -> String {
    let mut items = String::new();
    for g in grids {
        let id = html_escape(&g.id);
        items.push_str(&format!(
            "<li><a href=\"/ogc/collections/{id}\">{}</a> — parameters: {}</li>\n",
            html_escape(&g.title),
            html_escape(
                &g.parameters
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        ));
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>fathom — OGC API</title></head>\n\
<body><h1>fathom — OGC API – EDR</h1>\n\
<p><a href=\"/ogc/api\">OpenAPI document</a> · <a href=\"/ogc/conformance\">conformance</a> · \
<a href=\"/ogc/collections\">collections (JSON)</a> · <a href=\"/stac/catalog.json\">STAC catalog</a></p>\n\
<h2>Collections</h2>\n<ul>\n{items}</ul>\n</body></html>\n"
    )
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The conformance declaration.
#[must_use]
pub fn conformance() -> Value {
    json!({ "conformsTo": CONFORMANCE })
}

/// The collections list.
#[must_use]
pub fn collections(base: &str, grids: &[Grid]) -> Value {
    json!({
        "links": [
            link(format!("{base}/ogc/collections"), "self", "application/json", "this document"),
        ],
        "collections": grids.iter().map(|g| collection(base, g)).collect::<Vec<_>>(),
    })
}

/// A parameter as EDR collection metadata describes it (plain-text labels, unlike CoverageJSON's
/// language maps).
fn edr_parameter(p: &crate::grid::Parameter) -> Value {
    let label = p
        .long_name
        .clone()
        .or_else(|| p.standard_name.clone())
        .unwrap_or_else(|| p.name.clone());
    let mut observed = json!({ "label": p.standard_name.clone().unwrap_or_else(|| label.clone()) });
    if let Some(sn) = &p.standard_name {
        observed["id"] = json!(format!("https://vocab.nerc.ac.uk/standard_name/{sn}/"));
    }
    let mut o = json!({
        "type": "Parameter",
        "id": p.name,
        "description": label,
        "observedProperty": observed,
    });
    if let Some(u) = &p.units {
        o["unit"] = json!({ "symbol": u, "label": u });
    }
    o
}

/// One collection's metadata: extent, parameters, query types.
#[must_use]
pub fn collection(base: &str, g: &Grid) -> Value {
    let href = format!("{base}/ogc/collections/{}", g.id);
    // netCDF answers are regular slabs of regular grids (see `Plan::file_slab`).
    let formats = if g.curvilinear.is_some() {
        json!(["CoverageJSON"])
    } else {
        json!(["CoverageJSON", "netCDF"])
    };
    let mut extent = serde_json::Map::new();
    if let Some(b) = g.bbox() {
        extent.insert("spatial".into(), json!({ "bbox": [b], "crs": CRS84 }));
    }
    if let (Some((a, b)), Some(t)) = (g.time_interval(), g.axis(Axis::T)) {
        let values: Vec<String> = (0..t.values.len()).filter_map(|i| t.datetime(i)).collect();
        let calendar = t.time.map(|u| u.calendar().to_string()).unwrap_or_default();
        extent.insert(
            "temporal".into(),
            json!({
                "interval": [[a, b]],
                "values": values,
                "trs": format!("TIMECRS[\"DateTime\",TDATUM[\"{calendar}\"],CS[TemporalDateTime,1],AXIS[\"Time (T)\",future]]"),
            }),
        );
    }
    if let Some(z) = g.axis(Axis::Z)
        && let Some((lo, hi)) = z.min_max()
    {
        extent.insert(
            "vertical".into(),
            json!({
                "interval": [[lo.to_string(), hi.to_string()]],
                "values": z.values.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "vrs": format!("VERTCS[\"{}\",UNIT[\"{}\"]]", z.name, z.units.clone().unwrap_or_default()),
            }),
        );
    }
    let mut queries = serde_json::Map::new();
    for q in QueryKind::ALL {
        queries.insert(
            q.name().into(),
            json!({
                "link": {
                    "href": format!("{href}/{}", q.name()),
                    "rel": "data",
                    "type": covjson::MEDIA_TYPE,
                    "title": format!("{} query", q.name()),
                    "templated": false,
                    "variables": {
                        "title": format!("{} query", q.name()),
                        "query_type": q.name(),
                        "output_formats": formats,
                        "default_output_format": "CoverageJSON",
                        "crs_details": [{ "crs": "CRS84", "wkt": "GEOGCS[\"WGS 84\",DATUM[\"WGS_1984\",SPHEROID[\"WGS 84\",6378137,298.257223563]],PRIMEM[\"Greenwich\",0],UNIT[\"degree\",0.0174532925199433],AXIS[\"Longitude\",EAST],AXIS[\"Latitude\",NORTH]]" }],
                    }
                }
            }),
        );
    }
    let mut parameters = serde_json::Map::new();
    for p in &g.parameters {
        parameters.insert(p.name.clone(), edr_parameter(p));
    }
    let mut c = json!({
        "id": g.id,
        "title": g.title,
        "links": [
            link(href.clone(), "self", "application/json", "this collection"),
            link(format!("{base}{}", g.url_path), "alternate", "application/octet-stream", "the dataset file"),
            link(format!("{base}{}.dmr", g.url_path), "alternate", "application/vnd.opendap.dap4.dataset-metadata+xml", "DAP4 metadata"),
        ],
        "extent": extent,
        "data_queries": queries,
        "crs": ["CRS84"],
        "output_formats": formats,
        "parameter_names": parameters,
    });
    if let Some(d) = &g.description {
        c["description"] = json!(d);
    }
    c
}
