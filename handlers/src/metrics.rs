//! Prometheus metrics: requests by response kind and status, bytes sent, latency, cache hits.
//!
//! A fixed table of relaxed atomics, written in a few nanoseconds per request with no lock and
//! no allocation, and printed in the Prometheus text format on `GET /metrics`. The label sets
//! are closed (the response kinds below, statuses bucketed to a known list), so the table never
//! grows with traffic and an attacker cannot blow up the series count with odd URLs.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::route::ResponseKind;

/// What a request was answered with, as a metrics label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A DAP or page response of a dataset.
    Dataset(ResponseKind),
    /// A folder listing (HTML or JSON).
    Listing,
    /// `catalog.xml`.
    CatalogXml,
    /// `catalog.html`.
    CatalogHtml,
    /// A file as it is on disk.
    File,
    /// `/healthz`.
    Health,
    /// `/metrics`.
    Metrics,
    /// A CORS preflight.
    Preflight,
    /// An OGC API – EDR document or query (`/ogc/…`).
    Ogc,
    /// A STAC document (`/stac/…`).
    Stac,
    /// Anything else (not found, bad paths, redirects, refused methods).
    Other,
    /// A key of a dataset's Zarr store.
    Zarr,
}

const DATASET_KINDS: [ResponseKind; 12] = [
    ResponseKind::Dds,
    ResponseKind::Das,
    ResponseKind::Dods,
    ResponseKind::Ascii,
    ResponseKind::Version,
    ResponseKind::Dmr,
    ResponseKind::Dap,
    ResponseKind::Dsr,
    ResponseKind::Html,
    ResponseKind::Info,
    ResponseKind::Help,
    ResponseKind::Png,
];
const KIND_COUNT: usize = DATASET_KINDS.len() + 11;

impl Kind {
    fn index(self) -> usize {
        match self {
            Self::Dataset(k) => DATASET_KINDS.iter().position(|d| *d == k).unwrap_or(0),
            Self::Listing => DATASET_KINDS.len(),
            Self::CatalogXml => DATASET_KINDS.len() + 1,
            Self::CatalogHtml => DATASET_KINDS.len() + 2,
            Self::File => DATASET_KINDS.len() + 3,
            Self::Health => DATASET_KINDS.len() + 4,
            Self::Metrics => DATASET_KINDS.len() + 5,
            Self::Preflight => DATASET_KINDS.len() + 6,
            Self::Other => DATASET_KINDS.len() + 7,
            Self::Ogc => DATASET_KINDS.len() + 8,
            Self::Stac => DATASET_KINDS.len() + 9,
            Self::Zarr => DATASET_KINDS.len() + 10,
        }
    }

    /// The label value.
    #[must_use]
    pub fn label(self) -> &'static str {
        LABELS[self.index()]
    }
}

const LABELS: [&str; KIND_COUNT] = [
    "dds",
    "das",
    "dods",
    "ascii",
    "version",
    "dmr",
    "dap",
    "dsr",
    "html",
    "info",
    "help",
    "png",
    "listing",
    "catalog_xml",
    "catalog_html",
    "file",
    "healthz",
    "metrics",
    "preflight",
    "other",
    "ogc",
    "stac",
    "zarr",
];

/// Statuses counted on their own; anything else is counted as its class (`2xx`, `4xx`, …).
const STATUSES: [u16; 17] = [
    200, 204, 206, 301, 304, 400, 403, 404, 405, 408, 412, 413, 416, 500, 501, 503, 504,
];
const STATUS_SLOTS: usize = STATUSES.len() + 5;

fn status_slot(status: u16) -> usize {
    STATUSES
        .iter()
        .position(|s| *s == status)
        .unwrap_or_else(|| {
            // 1xx..5xx classes after the named ones.
            STATUSES.len() + usize::from((status / 100).clamp(1, 5) - 1)
        })
}

fn status_label(slot: usize) -> String {
    STATUSES.get(slot).map_or_else(
        || format!("{}xx", slot - STATUSES.len() + 1),
        u16::to_string,
    )
}

/// Upper bounds of the latency histogram, in seconds.
const LATENCY_BOUNDS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0,
];

/// One kind's latency histogram.
#[derive(Debug, Default)]
struct Histogram {
    /// Cumulative-at-print-time counts: `buckets[i]` counts observations in `(bound[i-1], bound[i]]`.
    buckets: [AtomicU64; LATENCY_BOUNDS.len() + 1],
    /// Sum of observations in microseconds (integers keep it atomic).
    sum_micros: AtomicU64,
}

/// The registry, shared by every request.
#[derive(Debug)]
pub struct Metrics {
    requests: [[AtomicU64; STATUS_SLOTS]; KIND_COUNT],
    bytes: [AtomicU64; KIND_COUNT],
    latency: [Histogram; KIND_COUNT],
    in_flight: AtomicU64,
    rejected_busy: AtomicU64,
    timeouts: AtomicU64,
    too_large: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            requests: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            bytes: std::array::from_fn(|_| AtomicU64::new(0)),
            latency: std::array::from_fn(|_| Histogram::default()),
            in_flight: AtomicU64::new(0),
            rejected_busy: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            too_large: AtomicU64::new(0),
        }
    }
}

/// Cache counters read at scrape time.
#[derive(Clone, Copy, Debug, Default)]
pub struct CacheCounts {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that had to load.
    pub misses: u64,
}

impl Metrics {
    /// Counts a finished request: its kind, status, body bytes sent and time from the request
    /// to the last byte.
    pub fn record(&self, kind: Kind, status: u16, bytes: u64, elapsed: Duration) {
        let k = kind.index();
        if let Some(row) = self.requests.get(k)
            && let Some(c) = row.get(status_slot(status))
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(b) = self.bytes.get(k) {
            b.fetch_add(bytes, Ordering::Relaxed);
        }
        if let Some(h) = self.latency.get(k) {
            let secs = elapsed.as_secs_f64();
            let slot = LATENCY_BOUNDS
                .iter()
                .position(|b| secs <= *b)
                .unwrap_or(LATENCY_BOUNDS.len());
            if let Some(c) = h.buckets.get(slot) {
                c.fetch_add(1, Ordering::Relaxed);
            }
            let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
            h.sum_micros.fetch_add(micros, Ordering::Relaxed);
        }
    }

    /// A request started (`+1`) or finished (`-1`).
    pub fn in_flight(&self, started: bool) {
        if started {
            self.in_flight.fetch_add(1, Ordering::Relaxed);
        } else {
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// A request waited for a free slot longer than the timeout.
    pub fn busy(&self) {
        self.rejected_busy.fetch_add(1, Ordering::Relaxed);
    }

    /// A request took longer than the timeout to start its response.
    pub fn timeout(&self) {
        self.timeouts.fetch_add(1, Ordering::Relaxed);
    }

    /// A request was refused for asking for more than `max_response_bytes`.
    pub fn too_large(&self) {
        self.too_large.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    #[must_use]
    pub fn render(&self, chunks: CacheCounts, catalog: CacheCounts, open_datasets: u64) -> String {
        let mut out = String::with_capacity(8 * 1024);
        out.push_str("# HELP fathom_requests_total Requests answered, by response kind and status.\n# TYPE fathom_requests_total counter\n");
        for (k, row) in self.requests.iter().enumerate() {
            for (s, c) in row.iter().enumerate() {
                let n = c.load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "fathom_requests_total{{kind=\"{}\",status=\"{}\"}} {n}",
                        LABELS[k],
                        status_label(s)
                    );
                }
            }
        }
        out.push_str("# HELP fathom_response_bytes_total Body bytes sent (after compression), by response kind.\n# TYPE fathom_response_bytes_total counter\n");
        for (k, b) in self.bytes.iter().enumerate() {
            let _ = writeln!(
                out,
                "fathom_response_bytes_total{{kind=\"{}\"}} {}",
                LABELS[k],
                b.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP fathom_request_duration_seconds Time from the request to the last body byte, by response kind.\n# TYPE fathom_request_duration_seconds histogram\n");
        for (k, h) in self.latency.iter().enumerate() {
            let counts: Vec<u64> = h
                .buckets
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect();
            let total: u64 = counts.iter().sum();
            if total == 0 {
                continue;
            }
            let label = LABELS[k];
            let mut cumulative = 0;
            for (bound, n) in LATENCY_BOUNDS.iter().zip(&counts) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "fathom_request_duration_seconds_bucket{{kind=\"{label}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "fathom_request_duration_seconds_bucket{{kind=\"{label}\",le=\"+Inf\"}} {total}"
            );
            #[allow(clippy::cast_precision_loss)] // Microsecond sums fit an f64 for centuries.
            let sum = h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(
                out,
                "fathom_request_duration_seconds_sum{{kind=\"{label}\"}} {sum}\nfathom_request_duration_seconds_count{{kind=\"{label}\"}} {total}"
            );
        }
        let gauge_and_counters = [
            (
                "fathom_requests_in_flight",
                "gauge",
                "Requests being answered now (including running downloads).",
                self.in_flight.load(Ordering::Relaxed),
            ),
            (
                "fathom_requests_rejected_busy_total",
                "counter",
                "Requests refused with 503 after waiting for a free slot.",
                self.rejected_busy.load(Ordering::Relaxed),
            ),
            (
                "fathom_requests_timed_out_total",
                "counter",
                "Requests that did not start their response within request_timeout_secs.",
                self.timeouts.load(Ordering::Relaxed),
            ),
            (
                "fathom_requests_too_large_total",
                "counter",
                "Requests refused with 413 for asking for more than max_response_bytes.",
                self.too_large.load(Ordering::Relaxed),
            ),
            (
                "fathom_datasets_open",
                "gauge",
                "Datasets held open in the catalog.",
                open_datasets,
            ),
        ];
        for (name, ty, help, v) in gauge_and_counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {ty}\n{name} {v}");
        }
        out.push_str("# HELP fathom_cache_hits_total Cache lookups answered from memory.\n# TYPE fathom_cache_hits_total counter\n");
        let _ = writeln!(
            out,
            "fathom_cache_hits_total{{cache=\"chunks\"}} {}",
            chunks.hits
        );
        let _ = writeln!(
            out,
            "fathom_cache_hits_total{{cache=\"catalog\"}} {}",
            catalog.hits
        );
        out.push_str("# HELP fathom_cache_misses_total Cache lookups that had to read (chunks) or open (catalog).\n# TYPE fathom_cache_misses_total counter\n");
        let _ = writeln!(
            out,
            "fathom_cache_misses_total{{cache=\"chunks\"}} {}",
            chunks.misses
        );
        let _ = writeln!(
            out,
            "fathom_cache_misses_total{{cache=\"catalog\"}} {}",
            catalog.misses
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_fall_into_named_slots_or_their_class() {
        assert_eq!(status_label(status_slot(200)), "200");
        assert_eq!(status_label(status_slot(413)), "413");
        assert_eq!(status_label(status_slot(418)), "4xx");
        assert_eq!(status_label(status_slot(599)), "5xx");
        assert_eq!(status_label(status_slot(102)), "1xx");
    }

    #[test]
    fn the_exposition_counts_what_was_recorded() {
        let m = Metrics::default();
        m.record(
            Kind::Dataset(ResponseKind::Das),
            200,
            100,
            Duration::from_micros(300),
        );
        m.record(
            Kind::Dataset(ResponseKind::Das),
            200,
            50,
            Duration::from_millis(2),
        );
        m.record(Kind::File, 404, 10, Duration::from_secs(60));
        let text = m.render(
            CacheCounts { hits: 3, misses: 1 },
            CacheCounts::default(),
            2,
        );
        assert!(
            text.contains("fathom_requests_total{kind=\"das\",status=\"200\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("fathom_requests_total{kind=\"file\",status=\"404\"} 1\n"));
        assert!(text.contains("fathom_response_bytes_total{kind=\"das\"} 150\n"));
        assert!(
            text.contains("fathom_request_duration_seconds_bucket{kind=\"das\",le=\"0.0005\"} 1\n")
        );
        assert!(
            text.contains("fathom_request_duration_seconds_bucket{kind=\"das\",le=\"0.0025\"} 2\n")
        );
        assert!(
            text.contains("fathom_request_duration_seconds_bucket{kind=\"file\",le=\"30\"} 0\n")
        );
        assert!(
            text.contains("fathom_request_duration_seconds_bucket{kind=\"file\",le=\"+Inf\"} 1\n")
        );
        assert!(text.contains("fathom_request_duration_seconds_count{kind=\"das\"} 2\n"));
        assert!(text.contains("fathom_cache_hits_total{cache=\"chunks\"} 3\n"));
        assert!(text.contains("fathom_datasets_open 2\n"));
    }
}
