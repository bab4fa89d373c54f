//! XML text for the DMR, the DSR and error documents: what every name and value goes through.
//!
//! quick-xml escapes markup (`<`, `&`, quotes, and in attribute values the `\t`, `\n`, `\r` that
//! attribute-value normalisation would otherwise turn into spaces). Characters XML 1.0 cannot
//! carry at all, even as character references (most C0 controls), are replaced by U+FFFD first:
//! expat (pydap, xarray) and libxml2 (libdap) refuse a document that contains them.

use std::borrow::Cow;

/// Whether `c` may appear in an XML 1.0 document.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// `s` with every character XML cannot carry replaced by U+FFFD.
#[must_use]
pub fn clean(s: &str) -> Cow<'_, str> {
    if s.chars().all(is_xml_char) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(
            s.chars()
                .map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' })
                .collect(),
        )
    }
}

/// `s` escaped for element text content.
#[must_use]
pub fn text(s: &str) -> String {
    quick_xml::escape::partial_escape(clean(s)).into_owned()
}

/// `s` escaped for attribute values and text alike (quotes included).
#[must_use]
pub fn escape(s: &str) -> String {
    quick_xml::escape::escape(clean(s)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_replaced_and_markup_escaped() {
        assert_eq!(clean("a\tb\n"), "a\tb\n");
        assert_eq!(clean("a\u{1}b\u{0}"), "a\u{FFFD}b\u{FFFD}");
        assert_eq!(text("<a & b>\r"), "&lt;a &amp; b&gt;&#13;");
        assert_eq!(text("Καλημέα"), "Καλημέα");
        assert_eq!(escape("a\"b'<\u{1}"), "a&quot;b&apos;&lt;\u{FFFD}");
    }
}
