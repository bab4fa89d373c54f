//! STAC 1.1 documents: a `Catalog` per folder (children: its sub-folders and its aggregations;
//! items: its other datasets), a `Collection` per aggregation (an NcML dataset made of other
//! datasets: its extent, holding the aggregated dataset's own item) and an `Item` per dataset,
//! with geometry and bbox from the CF coordinates, its time or time interval, the datacube
//! extension's `cube:dimensions` / `cube:variables`, and assets linking the file and its DAP2,
//! DAP4 and Zarr URLs.

use serde_json::{Map, Value, json};

use cdm::cf::{Axis, DateTime};
use cdm::{Dataset, Variable};

use crate::grid::{Grid, collection_id};

/// The STAC version written.
pub const STAC_VERSION: &str = "1.1.0";
/// The datacube extension's schema.
pub const DATACUBE: &str = "https://stac-extensions.github.io/datacube/v2.3.0/schema.json";

/// The URL path of the catalog of the folder made of `parts` (`/stac/catalog.json` for the
/// root).
#[must_use]
pub fn catalog_path(parts: &[String]) -> String {
    let mut p = String::from("/stac/");
    for part in parts {
        p.push_str(&encode(part));
        p.push('/');
    }
    p.push_str("catalog.json");
    p
}

/// The URL path of the collection of the aggregation at `parts`
/// (`/stac/a/b.ncml/collection.json`).
#[must_use]
pub fn collection_path(parts: &[String]) -> String {
    let encoded: Vec<String> = parts.iter().map(|p| encode(p)).collect();
    format!("/stac/{}/collection.json", encoded.join("/"))
}

/// The URL path of the item of the dataset at `parts` (`/stac/a/b.nc.json`).
#[must_use]
pub fn item_path(parts: &[String]) -> String {
    let encoded: Vec<String> = parts.iter().map(|p| encode(p)).collect();
    format!("/stac/{}.json", encoded.join("/"))
}

fn encode(part: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(part, SET).to_string()
}

/// The catalog of the folder made of `parts`, whose sub-folders are `folders`, whose
/// aggregations are `aggregations` and whose other datasets are `datasets` (names in the
/// folder).
#[must_use]
pub fn catalog(
    base: &str,
    parts: &[String],
    folders: &[String],
    aggregations: &[String],
    datasets: &[String],
) -> Value {
    let mut links = vec![
        json!({ "rel": "self", "href": format!("{base}{}", catalog_path(parts)), "type": "application/json" }),
        json!({ "rel": "root", "href": format!("{base}{}", catalog_path(&[])), "type": "application/json", "title": "fathom" }),
    ];
    if let Some((_, parent)) = parts.split_last() {
        links.push(json!({ "rel": "parent", "href": format!("{base}{}", catalog_path(parent)), "type": "application/json" }));
    }
    for f in folders {
        let mut child = parts.to_vec();
        child.push(f.clone());
        links.push(json!({ "rel": "child", "href": format!("{base}{}", catalog_path(&child)), "type": "application/json", "title": f }));
    }
    for a in aggregations {
        let mut child = parts.to_vec();
        child.push(a.clone());
        links.push(json!({ "rel": "child", "href": format!("{base}{}", collection_path(&child)), "type": "application/json", "title": a }));
    }
    for d in datasets {
        let mut item = parts.to_vec();
        item.push(d.clone());
        links.push(json!({ "rel": "item", "href": format!("{base}{}", item_path(&item)), "type": "application/geo+json", "title": d }));
    }
    let id = if parts.is_empty() {
        "fathom".to_owned()
    } else {
        parts.join("/")
    };
    json!({
        "type": "Catalog",
        "stac_version": STAC_VERSION,
        "id": id,
        "title": if parts.is_empty() { "fathom".to_owned() } else { format!("fathom: /{}/", parts.join("/")) },
        "description": "The datasets served by fathom in this folder, and its sub-folders",
        "links": links,
    })
}

/// What an item is made of.
#[derive(Debug)]
pub struct ItemSource<'a> {
    /// The dataset's path components under the root.
    pub parts: &'a [String],
    /// Its metadata.
    pub dataset: &'a Dataset,
    /// Its grid, when it has CF longitude and latitude coordinates.
    pub grid: Option<&'a Grid>,
    /// The file's modification time (seconds since 1970), the item's `datetime` when the
    /// dataset has no time axis.
    pub modified_unix: i64,
    /// The file's media type.
    pub media_type: &'static str,
    /// Whether the dataset is an aggregation: its item then lives in its own collection.
    pub aggregation: bool,
}

/// The media type of a netCDF file (netCDF-3 or netCDF-4), as STAC lists it.
pub const NETCDF: &str = "application/netcdf";
/// The media type of an HDF5 file.
pub const HDF5: &str = "application/x-hdf5";
/// The media type of an NcML document (NcML is XML).
pub const NCML: &str = "application/xml";
/// The media type of a Zarr store (IANA `application/vnd.zarr`).
pub const ZARR: &str = "application/vnd.zarr";

fn dim_key(ds: &Dataset, path: &str, name: &str) -> String {
    // Root dimensions by name; those of sub-groups by full path, which stays unique.
    if ds.root.dimensions.iter().any(|d| d.path == path) {
        name.to_owned()
    } else {
        path.to_owned()
    }
}

/// Whether `v` is a coordinate: a 1-D coordinate variable, or named by another variable's CF
/// `coordinates` attribute (2-D latitude / longitude of a curvilinear grid, say).
fn is_auxiliary(ds: &Dataset, v: &Variable) -> bool {
    v.is_coordinate()
        || ds.all_variables().any(|o| {
            o.attribute("coordinates")
                .and_then(|a| a.value.as_text())
                .is_some_and(|names| names.split_whitespace().any(|n| n == v.name))
        })
}

fn variable_entry(ds: &Dataset, v: &Variable) -> Option<Value> {
    let dims: Option<Vec<String>> = v
        .dims
        .iter()
        .map(|d| Some(dim_key(ds, d.path.as_deref()?, d.name.as_deref()?)))
        .collect();
    let mut o = json!({
        "dimensions": dims?,
        "type": if is_auxiliary(ds, v) { "auxiliary" } else { "data" },
    });
    if let Some(u) = cdm::cf::units(v) {
        o["unit"] = json!(u);
    }
    if let Some(l) = v.attribute("long_name").and_then(|a| a.value.as_text()) {
        o["description"] = json!(l);
    }
    Some(o)
}

/// The item of one dataset.
#[must_use]
pub fn item(base: &str, src: &ItemSource<'_>) -> Value {
    let ds = src.dataset;
    let url_path = format!("/{}", src.parts.join("/"));
    let mut dims = Map::new();
    for g in ds.all_groups() {
        for d in &g.dimensions {
            let key = dim_key(ds, &d.path, &d.name);
            let axis = src.grid.and_then(|gr| {
                gr.axes.iter().find(|a| {
                    a.name == d.name
                        && ds.variable(&a.path).is_some_and(|v| {
                            v.dims.first().and_then(|x| x.path.as_deref()) == Some(d.path.as_str())
                        })
                })
            });
            let entry = match axis {
                Some(a) => {
                    let (lo, hi) = a.min_max().unwrap_or((0.0, 0.0));
                    match a.axis {
                        Axis::X | Axis::Y => json!({
                            "type": "spatial",
                            "axis": if a.axis == Axis::X { "x" } else { "y" },
                            "extent": [lo, hi],
                            "reference_system": 4326,
                            "description": a.name,
                        }),
                        Axis::Z => {
                            let mut z = json!({ "type": "spatial", "axis": "z", "extent": [lo, hi], "values": a.values, "description": a.name });
                            if let Some(u) = &a.units {
                                z["unit"] = json!(u);
                            }
                            z
                        }
                        Axis::T => {
                            let first = a.datetime(0);
                            let last = a.datetime(a.values.len().saturating_sub(1));
                            json!({ "type": "temporal", "extent": [first, last], "description": a.name })
                        }
                    }
                }
                None => json!({
                    "type": "index",
                    "extent": [0, d.len.saturating_sub(1)],
                    "description": format!("dimension {} of length {}", d.name, d.len),
                }),
            };
            dims.insert(key, entry);
        }
    }
    let mut vars = Map::new();
    for v in ds.all_variables() {
        if let Some(e) = variable_entry(ds, v) {
            let key = if ds.root.variables.iter().any(|r| r.path == v.path) {
                v.name.clone()
            } else {
                v.path.clone()
            };
            vars.insert(key, e);
        }
    }
    let mut props = Map::new();
    props.insert("title".into(), json!(ds.name));
    match src.grid.and_then(Grid::time_interval) {
        Some((a, b)) if a == b => {
            props.insert("datetime".into(), json!(a));
        }
        Some((a, b)) => {
            props.insert("datetime".into(), Value::Null);
            props.insert("start_datetime".into(), json!(a));
            props.insert("end_datetime".into(), json!(b));
        }
        None => {
            props.insert(
                "datetime".into(),
                json!(DateTime::from_unix_seconds(src.modified_unix).to_string()),
            );
        }
    }
    props.insert("cube:dimensions".into(), Value::Object(dims));
    props.insert("cube:variables".into(), Value::Object(vars));
    let (geometry, bbox) = match src.grid.and_then(Grid::bbox) {
        Some([w, s, e, n]) => {
            let ring = |w: f64, e: f64| json!([[[w, s], [e, s], [e, n], [w, n], [w, s]]]);
            let geometry = if w <= e {
                json!({ "type": "Polygon", "coordinates": ring(w, e) })
            } else {
                json!({ "type": "MultiPolygon", "coordinates": [ring(w, 180.0), ring(-180.0, e)] })
            };
            (geometry, Some(json!([w, s, e, n])))
        }
        None => (Value::Null, None),
    };
    let parent = src.parts.split_last().map_or(&[][..], |(_, p)| p);
    let parent_link = if src.aggregation {
        json!({ "rel": "parent", "href": format!("{base}{}", collection_path(src.parts)), "type": "application/json" })
    } else {
        json!({ "rel": "parent", "href": format!("{base}{}", catalog_path(parent)), "type": "application/json" })
    };
    let mut assets = json!({
        "data": { "href": format!("{base}{url_path}"), "type": src.media_type, "roles": ["data"], "title": "the file" },
        "opendap-dap2": { "href": format!("{base}{url_path}.dds"), "type": "text/plain", "roles": ["metadata"], "title": "DAP2 structure (open the dataset URL without .dds with an OPeNDAP client)" },
        "opendap-dap4": { "href": format!("{base}{url_path}.dmr"), "type": "application/vnd.opendap.dap4.dataset-metadata+xml", "roles": ["metadata"], "title": "DAP4 metadata (DMR)" },
        "zarr": { "href": format!("{base}{url_path}.zarr"), "type": ZARR, "roles": ["data"], "title": "the dataset as Zarr" },
    });
    if let Some(g) = src.grid {
        assets["edr"] = json!({ "href": format!("{base}/ogc/collections/{}", g.id), "type": "application/json", "roles": ["metadata"], "title": "OGC API – EDR collection" });
    }
    let mut item = json!({
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": [DATACUBE],
        "id": collection_id(&url_path),
        "geometry": geometry,
        "properties": props,
        "links": [
            { "rel": "self", "href": format!("{base}{}", item_path(src.parts)), "type": "application/geo+json" },
            { "rel": "root", "href": format!("{base}{}", catalog_path(&[])), "type": "application/json" },
            parent_link,
        ],
        "assets": assets,
    });
    if src.aggregation {
        item["collection"] = json!(collection_id(&url_path));
        if let Some(links) = item["links"].as_array_mut() {
            links.push(json!({ "rel": "collection", "href": format!("{base}{}", collection_path(src.parts)), "type": "application/json" }));
        }
    }
    if let Some(b) = bbox {
        item["bbox"] = b;
    }
    item
}

/// The collection of an aggregation: its extent (the aggregated grid's box and time interval),
/// its datacube dimensions and variables, and one item, the aggregated dataset itself.
#[must_use]
pub fn collection(base: &str, src: &ItemSource<'_>) -> Value {
    let item = item(base, src);
    let props = &item["properties"];
    let url_path = format!("/{}", src.parts.join("/"));
    // STAC requires a spatial extent: an aggregation without longitude/latitude spans the
    // globe, as far as anyone can tell.
    let bbox = item
        .get("bbox")
        .cloned()
        .unwrap_or_else(|| json!([-180.0, -90.0, 180.0, 90.0]));
    let interval = match (props.get("start_datetime"), props.get("end_datetime")) {
        (Some(a), Some(b)) => json!([a, b]),
        _ => json!([props["datetime"], props["datetime"]]),
    };
    let parent = src.parts.split_last().map_or(&[][..], |(_, p)| p);
    let name = src.parts.last().cloned().unwrap_or_default();
    let title = src.grid.map_or_else(|| name.clone(), |g| g.title.clone());
    let description = src
        .grid
        .and_then(|g| g.description.clone())
        .unwrap_or_else(|| {
            format!("The NcML aggregation {url_path}: one dataset made of several, served as one")
        });
    json!({
        "type": "Collection",
        "stac_version": STAC_VERSION,
        "stac_extensions": [DATACUBE],
        "id": collection_id(&url_path),
        "title": title,
        "description": description,
        "license": "other",
        "extent": {
            "spatial": { "bbox": [bbox] },
            "temporal": { "interval": [interval] },
        },
        "cube:dimensions": props["cube:dimensions"],
        "cube:variables": props["cube:variables"],
        "links": [
            { "rel": "self", "href": format!("{base}{}", collection_path(src.parts)), "type": "application/json" },
            { "rel": "root", "href": format!("{base}{}", catalog_path(&[])), "type": "application/json" },
            { "rel": "parent", "href": format!("{base}{}", catalog_path(parent)), "type": "application/json" },
            { "rel": "item", "href": format!("{base}{}", item_path(src.parts)), "type": "application/geo+json", "title": name },
        ],
        "assets": item["assets"],
    })
}
