//! The HTTP side of the DAP client: GETs with a deadline, a size cap, and bounded retries with
//! backoff for the failures worth retrying (refused or reset connections, timeouts, 502/503/504).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::error::{Error, Result};

/// A pooled HTTP/1.1 client for one remote dataset.
#[derive(Clone, Debug)]
pub(crate) struct Http {
    client: Client<HttpConnector, Empty<Bytes>>,
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

impl Http {
    pub(crate) fn new(timeout: Duration, retries: u32) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Self {
            client,
            timeout,
            retries,
        }
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
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| Error::Upstream(format!("cannot reach the remote server: {e}")))?;
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
    fn messages_come_out_of_dap_error_bodies() {
        let dap2 = b"Error {\n    code = 404;\n    message = \"no such variable x\";\n};\n";
        assert_eq!(remote_message(dap2), "no such variable x");
        let dap4 = b"<Error httpcode=\"400\"><Message>bad ce</Message></Error>";
        assert_eq!(remote_message(dap4), "bad ce");
        assert_eq!(remote_message(b"plain\n text"), "plain text");
    }
}
