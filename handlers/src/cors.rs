//! CORS: which web pages' scripts may read fathom's responses, and the preflight answer.
//!
//! fathom is read-only and uses no cookies, so allowing an origin only lets browser apps read
//! what `curl` could read anyway — from wherever the browser can reach the server, which on an
//! intranet is why no origin is allowed unless configured.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};

use crate::body::{Body, full};

/// Response headers a script may read besides the CORS-safelisted ones: DAP clients in the
/// browser look at the DAP2 headers, and downloads at the range and validator headers.
const EXPOSED: &str = "Content-Length, Content-Range, Accept-Ranges, ETag, Last-Modified, \
Content-Description, XDODS-Server, XOPeNDAP-Server, XDAP";

/// The configured policy.
#[derive(Debug, Clone)]
pub(crate) struct Cors {
    any: bool,
    origins: Vec<String>,
}

impl Cors {
    /// A policy from the `cors_origins` setting (`*` allows any origin).
    pub(crate) fn new(origins: &[String]) -> Self {
        Self {
            any: origins.iter().any(|o| o == "*"),
            origins: origins
                .iter()
                .filter(|o| *o != "*")
                .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
                .collect(),
        }
    }

    /// Whether any origin could be allowed (skips all work when CORS is off).
    pub(crate) fn enabled(&self) -> bool {
        self.any || !self.origins.is_empty()
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if it is allowed.
    pub(crate) fn allow(&self, origin: Option<&HeaderValue>) -> Option<HeaderValue> {
        let origin = origin?;
        if self.any {
            return Some(HeaderValue::from_static("*"));
        }
        let text = origin.to_str().ok()?.to_ascii_lowercase();
        self.origins.contains(&text).then(|| origin.clone())
    }

    /// Adds the CORS headers to a response for an allowed origin.
    pub(crate) fn decorate(&self, allowed: HeaderValue, headers: &mut HeaderMap) {
        if !self.any {
            // The answer depends on the Origin: caches must keep one per origin.
            headers.append(header::VARY, HeaderValue::from_static("Origin"));
        }
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED),
        );
    }

    /// Whether a request is a preflight: `OPTIONS` with `Access-Control-Request-Method`.
    pub(crate) fn is_preflight(method: &http::Method, headers: &HeaderMap) -> bool {
        method == http::Method::OPTIONS
            && headers.contains_key(header::ORIGIN)
            && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// The answer to a preflight: 204, with permission when the origin is allowed (a browser
    /// then blocks the real request by itself when it is not).
    pub(crate) fn preflight(&self, headers: &HeaderMap) -> Response<Body> {
        let mut r = Response::new(full(Bytes::new()));
        *r.status_mut() = StatusCode::NO_CONTENT;
        if let Some(allowed) = self.allow(headers.get(header::ORIGIN)) {
            let h = r.headers_mut();
            self.decorate(allowed, h);
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, HEAD, OPTIONS"),
            );
            // Any request header is fine for a read-only server: echo what was asked.
            if let Some(asked) = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
                h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
            }
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("86400"),
            );
        }
        if !self.any {
            r.headers_mut()
                .append(header::VARY, HeaderValue::from_static("Origin"));
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_origins_are_allowed() {
        let cors = Cors::new(&["https://app.example/".into()]);
        assert!(cors.enabled());
        let ok = HeaderValue::from_static("https://APP.example");
        assert_eq!(cors.allow(Some(&ok)), Some(ok.clone()));
        assert_eq!(
            cors.allow(Some(&HeaderValue::from_static("https://evil.example"))),
            None
        );
        assert_eq!(cors.allow(None), None);
        let any = Cors::new(&["*".into()]);
        assert_eq!(any.allow(Some(&ok)), Some(HeaderValue::from_static("*")));
        assert!(!Cors::new(&[]).enabled());
    }
}
