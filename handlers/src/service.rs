//! What wraps every request: a concurrency slot, CORS, compression (tower-http), and a metered
//! body that records metrics and writes the access-log line when the last byte has gone.
//!
//! The order, outside in: slot → CORS → compression → [`crate::dispatch`] (routing, validators,
//! limits, request timeout). The slot and the meter live in the body, so a running download
//! holds its slot and counts its bytes until it ends, not only until its headers are sent.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use bytes::Bytes;
use http::{Method, Request, Response, Uri, header};
use http_body::{Frame, SizeHint};
use http_body_util::Either;
use tokio::sync::OwnedSemaphorePermit;
use tower::ServiceExt;
use tower_http::compression::predicate::{Predicate, SizeAbove};
use tower_http::compression::{CompressionBody, CompressionLayer, CompressionLevel};

use crate::body::{Body, BoxError};
use crate::error::{HandlerError, Protocol};
use crate::metrics::Kind;
use crate::{AppState, cors::Cors};

/// Marks a response that must not be compressed (raw files; binary data unless configured).
#[derive(Clone, Copy, Debug)]
pub(crate) struct NoCompression;

/// The compression policy: big enough, and not marked [`NoCompression`].
fn compress_when(min_bytes: u64) -> impl Predicate {
    let allowed = |_: http::StatusCode,
                   _: http::Version,
                   _: &http::HeaderMap,
                   ext: &http::Extensions| ext.get::<NoCompression>().is_none();
    SizeAbove::new(min_bytes).and(allowed)
}

/// Compression of the responses that [`compress_when`] allows.
pub(crate) fn compression_layer(min_bytes: u64) -> CompressionLayer<impl Predicate> {
    CompressionLayer::new()
        .gzip(true)
        .deflate(true)
        .quality(CompressionLevel::Default)
        .compress_when(compress_when(min_bytes))
}

/// A request that accepts no compression skips the compression layer (its future and body
/// wrapper cost about a tenth of a metadata request's instructions); the response still says
/// `Vary: Accept-Encoding` where the layer would have said it, so a cache in front keeps the
/// two forms apart.
fn accepts_compression(headers: &http::HeaderMap) -> bool {
    headers.contains_key(header::ACCEPT_ENCODING)
}

/// Adds `Vary: Accept-Encoding` as the compression layer does for a response it could
/// compress.
fn vary_as_compression_would(min_bytes: u64, response: &mut Response<Body>) {
    let varies = response.headers().get_all(header::VARY).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.to_ascii_lowercase().contains("accept-encoding"))
    });
    let encoded = response.headers().contains_key(header::CONTENT_ENCODING)
        || response.headers().contains_key(header::CONTENT_RANGE);
    if !varies && !encoded && compress_when(min_bytes).should_compress(response) {
        response.headers_mut().append(
            header::VARY,
            http::HeaderValue::from_static("accept-encoding"),
        );
    }
}

/// Every response's body as sent: compressed or not.
type SentBody = Either<CompressionBody<Body>, Body>;

/// Answers one request through the whole stack. `inner` is compression around dispatch.
pub(crate) async fn serve_one<S, B>(
    state: Arc<AppState>,
    inner: S,
    req: Request<B>,
    peer: SocketAddr,
) -> Response<Metered>
where
    S: tower::Service<Request<B>, Response = Response<CompressionBody<Body>>, Error = Infallible>,
{
    let started = Instant::now();
    // The request line is kept only when the access log will print it.
    let logged = tracing::enabled!(target: "access", tracing::Level::INFO)
        .then(|| (req.method().clone(), req.uri().clone()));
    let path_protocol = Protocol::of_path(req.uri().path());
    let cors = &state.cors;
    let allowed_origin = if cors.enabled() {
        cors.allow(req.headers().get(header::ORIGIN))
    } else {
        None
    };
    state.metrics.in_flight(true);

    let mut guard = Guard {
        state: Arc::clone(&state),
        kind: Kind::Other,
        // Until a response exists: a client that leaves while waiting for a slot is counted as
        // nginx's 499 (client closed request).
        status: 499,
        logged,
        peer,
        started,
        bytes: 0,
        failed: false,
        _slot: None,
    };

    let mut response = if Cors::is_preflight(req.method(), req.headers()) {
        let mut r = cors.preflight(req.headers());
        r.extensions_mut().insert(Kind::Preflight);
        r.map(Either::Right)
    } else {
        match acquire_slot(&state).await {
            Ok(slot) => {
                guard._slot = slot;
                if accepts_compression(req.headers()) {
                    match inner.oneshot(req).await {
                        Ok(r) => r.map(Either::Left),
                        Err(never) => match never {},
                    }
                } else {
                    let mut r = crate::dispatch(&state, req).await;
                    vary_as_compression_would(state.config.compress_min_bytes, &mut r);
                    r.map(Either::Right)
                }
            }
            Err(e) => e.into_response(path_protocol).map(Either::Right),
        }
    };
    if let Some(origin) = allowed_origin {
        cors.decorate(origin, response.headers_mut());
    }
    guard.kind = response
        .extensions()
        .get::<Kind>()
        .copied()
        .unwrap_or(Kind::Other);
    guard.status = response.status().as_u16();
    response.map(|body| Metered { inner: body, guard })
}

/// Waits for a free request slot, up to the request timeout.
async fn acquire_slot(state: &AppState) -> Result<Option<OwnedSemaphorePermit>, HandlerError> {
    let slots = Arc::clone(&state.slots);
    if let Ok(permit) = Arc::clone(&slots).try_acquire_owned() {
        return Ok(Some(permit));
    }
    let wait = slots.acquire_owned();
    let permit = match state.config.request_timeout() {
        Some(t) => match tokio::time::timeout(t, wait).await {
            Ok(p) => p,
            Err(_) => {
                state.metrics.busy();
                return Err(HandlerError::Unavailable(format!(
                    "the server is busy ({} requests at once); try again later",
                    state.config.max_concurrent_requests
                )));
            }
        },
        None => wait.await,
    };
    // The semaphore is never closed; treat a closed one as "no limit".
    Ok(permit.ok())
}

/// Records the request when its body is done (or dropped).
struct Guard {
    state: Arc<AppState>,
    kind: Kind,
    status: u16,
    /// The request's method and URI, when the access log is on.
    logged: Option<(Method, Uri)>,
    peer: SocketAddr,
    started: Instant,
    bytes: u64,
    failed: bool,
    /// Held until the body ends, so downloads count against `max_concurrent_requests`.
    _slot: Option<OwnedSemaphorePermit>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let elapsed = self.started.elapsed();
        let m = &self.state.metrics;
        m.record(self.kind, self.status, self.bytes, elapsed);
        m.in_flight(false);
        let Some((method, uri)) = &self.logged else {
            return;
        };
        tracing::info!(
            target: "access",
            peer = %self.peer,
            method = %method,
            uri = %uri,
            status = self.status,
            kind = self.kind.label(),
            bytes = self.bytes,
            aborted = self.failed,
            ms = elapsed.as_secs_f64() * 1000.0,
        );
    }
}

pin_project_lite::pin_project! {
    /// A body that counts the bytes it yields; its guard records the request when dropped.
    /// Concrete rather than generic: a generic `Into<BoxError>` bound trips rustc's
    /// higher-ranked lifetime inference in the spawned connection future.
    pub struct Metered {
        #[pin]
        inner: SentBody,
        guard: Guard,
    }
}

impl std::fmt::Debug for Metered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metered")
            .field("bytes", &self.guard.bytes)
            .finish_non_exhaustive()
    }
}

impl http_body::Body for Metered {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        match ready!(this.inner.poll_frame(cx)) {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    this.guard.bytes += data.len() as u64;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(e)) => {
                this.guard.failed = true;
                Poll::Ready(Some(Err(e)))
            }
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
