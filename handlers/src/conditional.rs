//! Validators and conditional requests: `ETag` and `Last-Modified` on what the server sends,
//! `If-None-Match` / `If-Modified-Since` answered with 304, and the `Range` / `If-Range` of raw
//! file downloads.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};

use crate::body::{Body, full};

/// A response's validators.
#[derive(Clone, Debug)]
pub(crate) struct Validators {
    /// The entity tag, quoted (`"…"` or `W/"…"`).
    pub(crate) etag: HeaderValue,
    /// The source file's modification time, when there is one.
    pub(crate) modified: Option<SystemTime>,
    /// `modified` as an HTTP date, formatted once.
    last_modified: Option<HeaderValue>,
}

/// Seconds since the epoch (HTTP dates have a one-second resolution).
fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn nanos(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

impl Validators {
    /// Strong validators of a file's bytes: its size and modification time (as nginx does).
    pub(crate) fn of_file(modified: SystemTime, size: u64) -> Self {
        let etag = format!("\"{size:x}-{:x}\"", nanos(modified));
        Self {
            etag: HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"0\"")),
            modified: Some(modified),
            last_modified: date_value(modified),
        }
    }

    /// Strong validators of an object's bytes: the store's ETag (quoted), else its size and
    /// modification time as for a file.
    pub(crate) fn of_object(etag: Option<&str>, modified: SystemTime, size: u64) -> Self {
        let Some(tag) = etag
            .map(|e| e.trim_start_matches("W/").trim_matches('"'))
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic() && b != b'"'))
        else {
            return Self::of_file(modified, size);
        };
        Self {
            etag: HeaderValue::from_str(&format!("\"{tag}\""))
                .unwrap_or(HeaderValue::from_static("\"0\"")),
            modified: Some(modified),
            last_modified: date_value(modified),
        }
    }

    /// Weak validators of a response made from a file version: the same file version, response
    /// and query always give the same content, though compression may change its bytes.
    pub(crate) fn of_rendering(modified: SystemTime, size: u64, what: &[&str]) -> Self {
        let mut h = DefaultHasher::new();
        // The server version is part of it: another version may render differently.
        env!("CARGO_PKG_VERSION").hash(&mut h);
        what.hash(&mut h);
        let etag = format!("W/\"{size:x}-{:x}-{:016x}\"", nanos(modified), h.finish());
        Self {
            etag: HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("W/\"0\"")),
            modified: Some(modified),
            last_modified: date_value(modified),
        }
    }

    /// Weak validators of generated content without a file behind it (listings, catalogs).
    pub(crate) fn of_content(content: &[u8]) -> Self {
        let mut h = DefaultHasher::new();
        env!("CARGO_PKG_VERSION").hash(&mut h);
        content.hash(&mut h);
        let etag = format!("W/\"{:016x}\"", h.finish());
        Self {
            etag: HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("W/\"0\"")),
            modified: None,
            last_modified: None,
        }
    }

    /// Whether a request with `headers` already holds this version (RFC 9110 §13.2.2:
    /// `If-None-Match` decides when present, else `If-Modified-Since`).
    pub(crate) fn not_modified(&self, headers: &HeaderMap) -> bool {
        if let Some(inm) = headers.get(header::IF_NONE_MATCH) {
            let Ok(list) = inm.to_str() else {
                return false;
            };
            let ours = weak_form(self.etag.to_str().unwrap_or_default());
            return list
                .split(',')
                .map(str::trim)
                .any(|t| t == "*" || weak_form(t) == ours);
        }
        if let (Some(ims), Some(modified)) = (headers.get(header::IF_MODIFIED_SINCE), self.modified)
            && let Some(since) = ims
                .to_str()
                .ok()
                .and_then(|s| httpdate::parse_http_date(s).ok())
        {
            return unix_secs(modified) <= unix_secs(since);
        }
        false
    }

    /// Adds `ETag` and `Last-Modified` (unless the response set its own).
    pub(crate) fn apply(&self, headers: &mut HeaderMap) {
        headers.insert(header::ETAG, self.etag.clone());
        if let Some(v) = &self.last_modified {
            headers.insert(header::LAST_MODIFIED, v.clone());
        }
    }

    /// The 304 answer.
    pub(crate) fn not_modified_response(&self) -> Response<Body> {
        let mut r = Response::new(full(Bytes::new()));
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        self.apply(r.headers_mut());
        r
    }

    /// Whether `If-Range` (when present) still names this version, so a range may be sent.
    /// Only a strong `ETag` or the exact `Last-Modified` date count (RFC 9110 §13.1.5).
    pub(crate) fn if_range_holds(&self, headers: &HeaderMap) -> bool {
        let Some(v) = headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) else {
            return true;
        };
        let v = v.trim();
        if v.starts_with('"') {
            return self.etag.to_str().is_ok_and(|ours| ours == v);
        }
        match (httpdate::parse_http_date(v), self.modified) {
            (Ok(date), Some(m)) => unix_secs(date) == unix_secs(m),
            _ => false,
        }
    }
}

/// An entity tag for weak comparison: without `W/`.
fn weak_form(tag: &str) -> &str {
    tag.strip_prefix("W/").unwrap_or(tag)
}

fn date_value(t: SystemTime) -> Option<HeaderValue> {
    HeaderValue::from_str(&http_date(t)).ok()
}

/// An HTTP date (IMF-fixdate).
pub(crate) fn http_date(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

/// An RFC 3339 UTC date-time (`2024-05-01T12:00:00Z`) for catalogs and JSON listings.
pub(crate) fn iso_date(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t.max(std::time::UNIX_EPOCH)).to_string()
}

/// What a `Range` header asks of a body of `len` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RangeRequest {
    /// No usable range: send everything (absent, malformed, or several ranges, which a server
    /// may answer whole).
    Whole,
    /// Bytes `start..end` (end exclusive).
    Part {
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
    /// Nothing of the file is in the range: 416.
    Unsatisfiable,
}

/// Reads a `Range: bytes=…` header for a body of `len` bytes.
pub(crate) fn parse_range(value: Option<&HeaderValue>, len: u64) -> RangeRequest {
    let Some(spec) = value
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return RangeRequest::Whole;
    };
    if spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // A suffix: the last N bytes.
        let Ok(n) = last.parse::<u64>() else {
            return RangeRequest::Whole;
        };
        if n == 0 || len == 0 {
            return RangeRequest::Unsatisfiable;
        }
        return RangeRequest::Part {
            start: len.saturating_sub(n),
            end: len,
        };
    }
    let Ok(start) = first.parse::<u64>() else {
        return RangeRequest::Whole;
    };
    let end = if last.is_empty() {
        len
    } else {
        match last.parse::<u64>() {
            Ok(l) if l >= start => l.saturating_add(1).min(len),
            _ => return RangeRequest::Whole,
        }
    };
    if start >= len {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Part { start, end }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(v: &str, len: u64) -> RangeRequest {
        parse_range(Some(&HeaderValue::from_str(v).expect("header")), len)
    }

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(
            range("bytes=0-9", 100),
            RangeRequest::Part { start: 0, end: 10 }
        );
        assert_eq!(
            range("bytes=90-", 100),
            RangeRequest::Part {
                start: 90,
                end: 100
            }
        );
        assert_eq!(
            range("bytes=-10", 100),
            RangeRequest::Part {
                start: 90,
                end: 100
            }
        );
        assert_eq!(
            range("bytes=-500", 100),
            RangeRequest::Part { start: 0, end: 100 }
        );
        assert_eq!(
            range("bytes=50-500", 100),
            RangeRequest::Part {
                start: 50,
                end: 100
            }
        );
        assert_eq!(range("bytes=100-", 100), RangeRequest::Unsatisfiable);
        assert_eq!(range("bytes=-0", 100), RangeRequest::Unsatisfiable);
        assert_eq!(range("bytes=5-1", 100), RangeRequest::Whole);
        assert_eq!(range("bytes=0-1,5-6", 100), RangeRequest::Whole);
        assert_eq!(range("items=0-1", 100), RangeRequest::Whole);
        assert_eq!(parse_range(None, 100), RangeRequest::Whole);
    }

    #[test]
    fn validators_match_their_own_tags_and_dates() {
        let t = UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_500);
        let v = Validators::of_rendering(t, 10, &["das", ""]);
        let mut h = HeaderMap::new();
        assert!(!v.not_modified(&h));
        h.insert(header::IF_NONE_MATCH, v.etag.clone());
        assert!(v.not_modified(&h));
        // The weak comparison ignores W/.
        let strong = v
            .etag
            .to_str()
            .expect("ascii")
            .trim_start_matches("W/")
            .to_owned();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&format!("\"x\", {strong}")).expect("h"),
        );
        assert!(v.not_modified(&h));
        let other = Validators::of_rendering(t, 10, &["dds", ""]);
        assert!(!other.not_modified(&h));
        // If-None-Match wins over If-Modified-Since.
        h.insert(
            header::IF_MODIFIED_SINCE,
            HeaderValue::from_str(&http_date(t)).expect("h"),
        );
        assert!(!other.not_modified(&h));
        h.remove(header::IF_NONE_MATCH);
        assert!(other.not_modified(&h));
        let earlier = t - std::time::Duration::from_secs(5);
        h.insert(
            header::IF_MODIFIED_SINCE,
            HeaderValue::from_str(&http_date(earlier)).expect("h"),
        );
        assert!(!other.not_modified(&h));
    }

    #[test]
    fn iso_dates_are_utc() {
        assert_eq!(iso_date(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        assert_eq!(iso_date(t), "2023-11-14T22:13:20Z");
    }
}
