//! The OpenAPI 3.0 document of the whole server, made from the router's table of routes
//! ([`Route`]) so that it cannot drift from what the server answers.

use serde_json::{Map, Value, json};

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum In {
    /// A `{name}` segment of the path.
    Path,
    /// A query-string parameter.
    Query,
}

/// One parameter of a route.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// Its name.
    pub name: &'static str,
    /// Path or query.
    pub location: In,
    /// Whether it must be given.
    pub required: bool,
    /// What it means.
    pub description: &'static str,
    /// An example value (also what a test walking the routes sends).
    pub example: Option<String>,
    /// A regular expression the value must match.
    pub pattern: Option<&'static str>,
}

/// What a path parameter may hold: one segment of a file name.
pub const PATH_SEGMENT: &str = "^[A-Za-z0-9_][A-Za-z0-9._:-]*$";

impl Param {
    /// A required path parameter.
    #[must_use]
    pub fn path(name: &'static str, description: &'static str, example: Option<String>) -> Self {
        Self {
            name,
            location: In::Path,
            required: true,
            description,
            example,
            pattern: None,
        }
    }

    /// An optional query parameter.
    #[must_use]
    pub fn query(name: &'static str, description: &'static str) -> Self {
        Self {
            name,
            location: In::Query,
            required: false,
            description,
            example: None,
            pattern: None,
        }
    }
}

/// One route the server answers (GET and HEAD).
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// The path template, `{name}` for path parameters.
    pub path: String,
    /// One line saying what it returns.
    pub summary: String,
    /// The group it is listed under (`DAP2`, `DAP4`, `EDR`, …).
    pub tag: &'static str,
    /// Its parameters.
    pub params: Vec<Param>,
    /// Media types of its successful (200) response.
    pub media_types: Vec<&'static str>,
    /// Other statuses it may answer with, besides 200 and the ones every route may give.
    pub statuses: Vec<(u16, &'static str)>,
    /// The media type of its error bodies.
    pub error_media_type: &'static str,
}

impl Route {
    /// The route at `path`, tagged `tag`, answering 200 with `media_types` (and with errors as
    /// `error_media_type`), with no statuses of its own yet.
    #[must_use]
    pub fn new(
        path: impl Into<String>,
        summary: impl Into<String>,
        tag: &'static str,
        params: Vec<Param>,
        media_types: Vec<&'static str>,
        error_media_type: &'static str,
    ) -> Self {
        Self {
            path: path.into(),
            summary: summary.into(),
            tag,
            params,
            media_types,
            statuses: Vec::new(),
            error_media_type,
        }
    }

    /// This route, also answering with `status` for the reason `why`.
    #[must_use]
    pub fn with_status(mut self, status: u16, why: &'static str) -> Self {
        self.statuses.push((status, why));
        self
    }
}

/// Statuses any route may answer with, and why.
const COMMON_STATUSES: &[(u16, &str)] = &[
    (304, "not modified (conditional request)"),
    (400, "a malformed request"),
    (404, "no such dataset, file, folder or collection"),
    (503, "too busy, or the response did not start in time"),
];

fn schema_of(media: &str) -> Value {
    if media.contains("json") {
        json!({ "type": "object" })
    } else {
        json!({ "type": "string" })
    }
}

/// The OpenAPI 3.0.3 document describing `routes`.
#[must_use]
pub fn document(routes: &[Route], version: &str) -> Value {
    let mut paths = Map::new();
    for r in routes {
        let params: Vec<Value> = r
            .params
            .iter()
            .map(|p| {
                let mut o = json!({
                    "name": p.name,
                    "in": match p.location { In::Path => "path", In::Query => "query" },
                    "required": p.required,
                    "description": p.description,
                    "schema": { "type": "string" },
                });
                if p.location == In::Path {
                    // Path parameters hold one segment of a file name: no '/', '\\', '..'
                    // (the server refuses those with 400).
                    o["schema"] = json!({ "type": "string", "pattern": PATH_SEGMENT });
                }
                if let Some(pattern) = p.pattern {
                    o["schema"] = json!({ "type": "string", "pattern": pattern });
                }
                if let Some(e) = &p.example {
                    o["example"] = json!(e);
                }
                o
            })
            .collect();
        let mut responses = Map::new();
        let content: Map<String, Value> = r
            .media_types
            .iter()
            .map(|m| ((*m).to_owned(), json!({ "schema": schema_of(m) })))
            .collect();
        responses.insert(
            "200".into(),
            json!({ "description": r.summary, "content": content }),
        );
        for (status, why) in COMMON_STATUSES.iter().chain(&r.statuses) {
            let mut resp = json!({ "description": why });
            // 204 and 304 have no body.
            if *status != 304 && *status != 204 {
                resp["content"] =
                    json!({ r.error_media_type: { "schema": schema_of(r.error_media_type) } });
            }
            responses.insert(status.to_string(), resp);
        }
        let op = |id_prefix: &str| {
            json!({
                "tags": [r.tag],
                "summary": r.summary,
                "operationId": format!("{id_prefix}{}", operation_id(&r.path)),
                "parameters": params,
                "responses": responses,
            })
        };
        let mut head = op("head");
        // A HEAD response has no body.
        if let Some(resp) = head["responses"].as_object_mut() {
            for v in resp.values_mut() {
                if let Some(o) = v.as_object_mut() {
                    o.remove("content");
                }
            }
        }
        paths.insert(r.path.clone(), json!({ "get": op("get"), "head": head }));
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "fathom",
            "version": version,
            "description": "An OPeNDAP / Common Data Model data server: DAP2, DAP4, raw files, \
    THREDDS catalogs, OGC API – EDR (CoverageJSON) and STAC. Every route answers GET and HEAD; \
    any other method gets 405 with an Allow header.",
        },
        "paths": paths,
    })
}

/// An operation id made of the path's letters: `/ogc/collections/{collectionId}` →
/// `_ogc_collections_collectionId_`.
fn operation_id(path: &str) -> String {
    path.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_become_paths_with_get_and_head() {
        let routes = vec![Route {
            path: "/{dataset}.dds".into(),
            summary: "DDS".into(),
            tag: "DAP2",
            params: vec![Param::path("dataset", "the dataset", Some("a.nc".into()))],
            media_types: vec!["text/plain"],
            statuses: vec![(413, "too large")],
            error_media_type: "text/plain",
        }];
        let doc = document(&routes, "1");
        let get = &doc["paths"]["/{dataset}.dds"]["get"];
        assert_eq!(get["parameters"][0]["in"], "path");
        assert_eq!(get["parameters"][0]["example"], "a.nc");
        assert!(get["responses"]["413"].is_object());
        assert!(get["responses"]["200"]["content"]["text/plain"].is_object());
        assert!(doc["paths"]["/{dataset}.dds"]["head"]["responses"]["200"]["content"].is_null());
    }
}
