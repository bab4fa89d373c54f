//! The DAP4 query keys fathom reads from a request's query string: `dap4.ce` and
//! `dap4.checksum`. Other keys are ignored, as other servers do.

use percent_encoding::percent_decode_str;

use crate::error::{Error, Result};

/// What a DAP4 request's query string asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// The percent-decoded `dap4.ce` value, if given and not blank.
    pub ce: Option<String>,
    /// `dap4.checksum`: `Some(true)` / `Some(false)` when given, `None` when absent. See the crate
    /// documentation for what each means on the wire.
    pub checksum: Option<bool>,
}

impl Query {
    /// Whether the `.dap` response carries a CRC32 after each top-level variable: unless the
    /// client said `dap4.checksum=false` (the policy, and why, is in the crate docs).
    #[must_use]
    pub fn checksums(&self) -> bool {
        self.checksum != Some(false)
    }

    /// Parses a raw (still percent-encoded) query string.
    ///
    /// # Errors
    /// [`Error::Constraint`] for a value that is not UTF-8 once decoded, a repeated key, or a
    /// `dap4.checksum` other than `true` / `false`.
    pub fn parse(raw: Option<&str>) -> Result<Self> {
        let mut query = Self::default();
        let Some(raw) = raw else {
            return Ok(query);
        };
        for pair in raw.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = decode(key)?;
            match key.as_str() {
                "dap4.ce" => {
                    if query.ce.is_some() {
                        return Err(Error::Constraint("dap4.ce is given more than once".into()));
                    }
                    let value = decode(value)?;
                    if !value.trim().is_empty() {
                        query.ce = Some(value);
                    }
                }
                "dap4.checksum" => {
                    let value = decode(value)?;
                    query.checksum = Some(if value.eq_ignore_ascii_case("true") {
                        true
                    } else if value.eq_ignore_ascii_case("false") {
                        false
                    } else {
                        return Err(Error::Constraint(format!(
                            "dap4.checksum must be true or false, not '{value}'"
                        )));
                    });
                }
                _ => {}
            }
        }
        Ok(query)
    }
}

fn decode(s: &str) -> Result<String> {
    percent_decode_str(s)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
        .map_err(|_| Error::Constraint("the query is not UTF-8 once percent-decoded".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_decoded_and_others_ignored() {
        let q = Query::parse(Some(
            "dap4.ce=/t%5B0%3A1%3A1%5D%3B/u%5b2%5d&dap4.checksum=false&foo=bar",
        ))
        .expect("valid");
        assert_eq!(q.ce.as_deref(), Some("/t[0:1:1];/u[2]"));
        assert_eq!(q.checksum, Some(false));
        assert!(!q.checksums());
        let q = Query::parse(Some("dap4.checksum=TRUE&dap4.ce=")).expect("valid");
        assert_eq!(q.ce, None);
        assert!(q.checksums());
        assert!(Query::parse(None).expect("valid").checksums());
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(Query::parse(Some("dap4.checksum=maybe")).is_err());
        assert!(Query::parse(Some("dap4.ce=%ff")).is_err());
        assert!(Query::parse(Some("dap4.ce=a&dap4.ce=b")).is_err());
    }
}
