//! The HTTP side of the DAP client: GETs with a deadline, a size cap, and bounded retries with
//! backoff for the failures worth retrying (refused or reset connections, timeouts, 502/503/504).
//!
//! `https://` goes through rustls, trusting the system's certificate store (what the operator
//! already maintains, including any in-house authority) plus, per remote, the certificates of a
//! PEM `ca_file` (for a server with a private or self-signed certificate).

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::error::{Error, Result};

/// A pooled HTTP/1.1 client for one remote dataset.
#[derive(Clone, Debug)]
pub(crate) struct Http {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    /// Time allowed for one attempt, headers and body together.
    timeout: Duration,
    /// Attempts after the first one for a retryable failure.
    retries: u32,
}

/// First pause between attempts; doubled after each.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// What one attempt ended with.
enum Attempt {
    Done(Bytes),
    /// Worth trying again (the message says why).
    Retry(Error),
    Fail(Error),
}

/// The system's trusted certificates, loaded once (reading the store takes a while).
fn system_roots() -> &'static rustls::RootCertStore {
    static ROOTS: OnceLock<rustls::RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::warn!(error = %e, "a system certificate could not be loaded");
        }
        let mut roots = rustls::RootCertStore::empty();
        let (added, ignored) = roots.add_parsable_certificates(found.certs);
        tracing::debug!(added, ignored, "system certificates for https:// remotes");
        roots
    })
}

/// The TLS settings for a remote: the system's roots, plus those in `ca_file` (PEM).
///
/// # Errors
/// [`Error::Upstream`] when `ca_file` cannot be read or holds no certificate.
pub(crate) fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    let mut roots = system_roots().clone();
    if let Some(file) = ca_file {
        let pem = std::fs::read(file).map_err(|e| {
            Error::Upstream(format!("cannot read the CA file {}: {e}", file.display()))
        })?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::Upstream(format!("CA file {}: {e}", file.display())))?;
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(Error::Upstream(format!(
                "CA file {} holds no usable certificate",
                file.display()
            )));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Upstream(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

impl Http {
    /// A client for `http://` and `https://` URLs.
    ///
    /// # Errors
    /// As [`tls_config`].
    pub(crate) fn new(timeout: Duration, retries: u32, ca_file: Option<&Path>) -> Result<Self> {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        connector.set_nodelay(true);
        connector.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(ca_file)?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Self {
            client,
            timeout,
            retries,
        })
    }

    /// The body of a successful GET of `url`, at most `max_bytes` long.
    ///
    /// # Errors
    /// [`Error::UpstreamTimeout`] when every attempt ran out of time; [`Error::Upstream`] for a
    /// refused connection, an error status (with the remote's message) or a body over the cap.
    pub(crate) async fn get(&self, url: &str, max_bytes: usize) -> Result<Bytes> {
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 0u32;
        loop {
            let last = attempt >= self.retries;
            match self.attempt(url, max_bytes).await {
                Attempt::Done(b) => return Ok(b),
                Attempt::Fail(e) => return Err(e),
                Attempt::Retry(e) if last => return Err(e),
                Attempt::Retry(e) => {
                    tracing::debug!(error = %e, attempt, "remote request failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
            }
        }
    }

    async fn attempt(&self, url: &str, max_bytes: usize) -> Attempt {
        let uri: http::Uri = match url.parse() {
            Ok(u) => u,
            Err(e) => return Attempt::Fail(Error::Upstream(format!("bad remote URL: {e}"))),
        };
        let request = match http::Request::get(uri)
            .header(http::header::USER_AGENT, "fathom-dap-client")
            .body(Empty::<Bytes>::new())
        {
            Ok(r) => r,
            Err(e) => return Attempt::Fail(Error::Upstream(format!("bad remote URL: {e}"))),
        };
        let fetch = async {
            let response = self.client.request(request).await.map_err(|e| {
                Error::Upstream(format!("cannot reach the remote server: {}", causes(&e)))
            })?;
            let status = response.status();
            let body = Limited::new(response.into_body(), max_bytes)
                .collect()
                .await
                .map_err(|e| Error::Upstream(format!("the remote response broke off: {e}")))?
                .to_bytes();
            Ok::<_, Error>((status, body))
        };
        match tokio::time::timeout(self.timeout, fetch).await {
            Err(_) => Attempt::Retry(Error::UpstreamTimeout(format!(
                "no complete answer within {} s",
                self.timeout.as_secs_f64()
            ))),
            Ok(Err(e)) => Attempt::Retry(e),
            Ok(Ok((status, body))) if status.is_success() => Attempt::Done(body),
            Ok(Ok((status, body))) => {
                let e = Error::Upstream(format!(
                    "the remote server answered {status}: {}",
                    remote_message(&body)
                ));
                if matches!(status.as_u16(), 502..=504) {
                    Attempt::Retry(e)
                } else {
                    Attempt::Fail(e)
                }
            }
        }
    }
}

/// An error and its causes on one line (hyper's own message alone says only "Connect").
fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The message of a DAP2 or DAP4 error body, or the start of any other body, on one line.
pub(crate) fn remote_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(2000)]);
    let message = text
        .find("message")
        .and_then(|i| {
            let rest = &text[i..];
            let start = rest.find('"')? + 1;
            let end = rest[start..]
                .find("\";")
                .or_else(|| rest[start..].rfind('"'))?;
            Some(rest[start..start + end].to_owned())
        })
        .or_else(|| {
            let start = text.find("<Message>")? + "<Message>".len();
            let end = text[start..].find("</Message>")?;
            Some(text[start..start + end].to_owned())
        })
        .unwrap_or_else(|| text.into_owned());
    let one_line: String = message.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_must_hold_a_certificate() {
        let dir = std::env::temp_dir().join(format!("fathom-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").ok();
        assert!(matches!(tls_config(Some(&empty)), Err(Error::Upstream(_))));
        assert!(matches!(
            tls_config(Some(&dir.join("missing.pem"))),
            Err(Error::Upstream(_))
        ));
        assert!(tls_config(None).is_ok());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn messages_come_out_of_dap_error_bodies() {
        let dap2 = b"Error {\n    code = 404;\n    message = \"no such variable x\";\n};\n";
        assert_eq!(remote_message(dap2), "no such variable x");
        let dap4 = b"<Error httpcode=\"400\"><Message>bad ce</Message></Error>";
        assert_eq!(remote_message(dap4), "bad ce");
        assert_eq!(remote_message(b"plain\n text"), "plain text");
    }
}
