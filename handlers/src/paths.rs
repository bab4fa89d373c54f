//! Mapping a URL path to a file under the data root, and nowhere else.
//!
//! The path is percent-decoded once, split into components, and rejected if any component is
//! empty-after-decoding-and-dangerous (`..`, `.`), contains a separator or NUL, or the result,
//! after resolving symlinks, lies outside the canonical root.

use std::path::{Component, Path, PathBuf};

use percent_encoding::percent_decode_str;

/// Why a URL path does not name something under the root.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path tries to leave the root or is malformed (`..`, NUL, bad encoding).
    #[error("invalid path")]
    Invalid,
    /// Nothing is there (or it lies outside the root through a symlink, which is reported the
    /// same way so as not to reveal what exists outside).
    #[error("not found")]
    NotFound,
}

/// The URL path's components, percent-decoded and checked, without touching the file system.
///
/// # Errors
/// [`PathError::Invalid`] for `..`, `.`, NUL, an encoded `/` or `\`, or invalid UTF-8.
pub fn components(url_path: &str) -> Result<Vec<String>, PathError> {
    let mut out = Vec::new();
    for raw in url_path.split('/') {
        if raw.is_empty() {
            continue;
        }
        let part = percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| PathError::Invalid)?;
        if part == "." || part == ".." || part.contains(['/', '\\', '\0']) {
            return Err(PathError::Invalid);
        }
        out.push(part.into_owned());
    }
    Ok(out)
}

/// Joins checked components onto the canonical `root` and resolves symlinks, refusing anything
/// that ends up outside the root.
///
/// # Errors
/// [`PathError::NotFound`] when nothing is there or the target is outside the root.
pub fn resolve(root: &Path, parts: &[String]) -> Result<PathBuf, PathError> {
    let mut path = root.to_path_buf();
    for p in parts {
        // `components` already refused separators; this guards against a prefix or root
        // component sneaking in on another platform.
        if Path::new(p)
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Err(PathError::Invalid);
        }
        path.push(p);
    }
    let real = path.canonicalize().map_err(|_| PathError::NotFound)?;
    if real.starts_with(root) {
        Ok(real)
    } else {
        Err(PathError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_refuses_traversal() {
        assert_eq!(
            components("/a/b%20c/d.nc"),
            Ok(vec!["a".into(), "b c".into(), "d.nc".into()])
        );
        assert_eq!(components("//a//"), Ok(vec!["a".into()]));
        for bad in [
            "/../etc/passwd",
            "/a/%2e%2e/%2e%2e/etc",
            "/a/%2E%2E",
            "/a/..%2fb",
            "/a/%2f",
            "/a/%5c..",
            "/a/%00",
            "/./a",
            "/%ff",
        ] {
            assert_eq!(components(bad), Err(PathError::Invalid), "{bad}");
        }
    }
}
