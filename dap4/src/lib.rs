//! `dap4` — DAP4 for fathom: the DMR, the chunked `.dap` encoding with CRC32 and the DAP4
//! constraint language.

/// Escapes text for XML content and attribute values.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The DAP4 error document for an HTTP error response or an error chunk.
#[must_use]
pub fn error_document(http_code: u16, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error httpcode=\"{http_code}\">\n    <Message>{}</Message>\n</Error>\n",
        xml_escape(message)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn error_document_escapes_the_message() {
        let doc = super::error_document(404, "no <such> & \"thing\"");
        assert!(doc.contains("httpcode=\"404\""));
        assert!(doc.contains("<Message>no &lt;such&gt; &amp; &quot;thing&quot;</Message>"));
    }
}
