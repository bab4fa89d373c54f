//! `dap2` — DAP2 for fathom: the CDM → DAP2 mapping, DDS, DAS, XDR data and the DAP2 constraint
//! language.

/// The DAP2 error body, as libdap prints it: `Error { code = N; message = "…"; };`.
#[must_use]
pub fn error_body(code: u16, message: &str) -> String {
    let escaped = message.replace('\\', "\\\\").replace('"', "\\\"");
    format!("Error {{\n    code = {code};\n    message = \"{escaped}\";\n}};\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn error_body_escapes_quotes() {
        assert_eq!(
            super::error_body(400, r#"bad "x""#),
            "Error {\n    code = 400;\n    message = \"bad \\\"x\\\"\";\n};\n"
        );
    }
}
