//! The errors of the `dap4` crate and the DAP4 `<Error>` document that carries them to clients.

use cdm::HyperslabError;

/// Everything that can go wrong answering a DAP4 request.
///
/// Messages may reach a client, so they never contain server paths.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The query string or the `dap4.ce` expression is malformed.
    #[error("bad constraint: {0}")]
    Constraint(String),
    /// The constraint names a variable, dimension or field the dataset does not have.
    #[error("no variable, dimension or field named {0}")]
    UnknownName(String),
    /// A slice does not fit the variable or dimension it applies to.
    #[error("{name}: {source}")]
    Slice {
        /// What the slice was applied to (a fully qualified name).
        name: String,
        /// Why it does not fit.
        source: HyperslabError,
    },
    /// A valid request for something fathom does not do (a filter on a Sequence, a huge index
    /// list).
    #[error("not supported: {0}")]
    NotSupported(String),
    /// A filter (`|`) after the variable named, at this character of `dap4.ce`. Only Sequences
    /// can be filtered; [`crate::bind`] turns this into a 400 for any other variable and a
    /// [`Error::NotSupported`] for a Sequence.
    #[error("filters ('|', at character {column} of dap4.ce) are not supported")]
    Filter {
        /// The variable before the `|`, as written.
        variable: String,
        /// The 1-based character of the `|`.
        column: usize,
    },
    /// The response cannot be written (a DMR too large for one chunk, an XML writer failure).
    #[error("cannot write the response: {0}")]
    Encode(String),
    /// Reading the dataset failed.
    #[error(transparent)]
    Source(#[from] cdm::Error),
}

impl Error {
    /// Whether the request itself is at fault (HTTP 400), as opposed to the server.
    #[must_use]
    pub fn is_bad_request(&self) -> bool {
        match self {
            Self::Constraint(_)
            | Self::UnknownName(_)
            | Self::Slice { .. }
            | Self::Filter { .. } => true,
            Self::Source(e) => {
                matches!(e, cdm::Error::NoSuchVariable(_) | cdm::Error::Hyperslab(_))
            }
            Self::NotSupported(_) | Self::Encode(_) => false,
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The DAP4 error document, for an HTTP error response or the body of an error chunk
/// (`<Error httpcode=…><Message>…</Message></Error>`, as netcdf-c's `d4parser.c` and libdap
/// read it).
#[must_use]
pub fn error_document(http_code: u16, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error httpcode=\"{http_code}\">\n    <Message>{}</Message>\n</Error>\n",
        crate::xml::text(message)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn error_document_escapes_the_message() {
        let doc = super::error_document(404, "no <such> & \"thing\"");
        assert!(doc.contains("httpcode=\"404\""));
        assert!(doc.contains("<Message>no &lt;such&gt; &amp; \"thing\"</Message>"));
    }
}
