//! NcML virtual datasets: an `.ncml` file read as one dataset made of other datasets.
//!
//! - `parse`: NcML 2.2 → a typed document (quick-xml).
//! - `build`: the document → a `VirtualSource`: locations resolved under the data root and
//!   opened through the [`Catalog`] (sharing its metadata and chunk caches), aggregations
//!   (`union`, `joinExisting`, `joinNew`, with `<scan>`), and the edits (attributes, renames,
//!   new variables with `<values>`, removals) in document order.
//! - `source`: the virtual dataset's reads; each variable comes from memory, from one member,
//!   or from pieces of many members along the join dimension, and a read opens only the
//!   members it touches.
//! - `scan`: folder scans, durations and `dateFormatMark` dates.
//! - `deps`: what the dataset was built from, so the catalog rebuilds it when any NcML file or
//!   member changes, or (after `recheckEvery`) a scan finds other files.
//!
//! Each member's extent and coordinate values along a join dimension are kept per member
//! version, so rebuilding a large aggregation after one member changed reopens only that one.
//!
//! | NcML | model |
//! |---|---|
//! | `<netcdf location>` | the file's dataset, edits applied |
//! | `<netcdf location="http://…">` (`https://`, `dap2://`, `dap4://`) | the remote dataset ([`crate::formats::dap::open_remote`]), edits applied; also as an aggregation member; rebuilt after 5 minutes; timeout, retries and certificates from the catalog's [`crate::formats::dap::RemotePolicy`] for the URL's host (the operator's, never the NcML file's) |
//! | `<netcdf>` without location | an empty dataset the edits fill (purely virtual) |
//! | `union` | the first member's dimension, variable or global attribute of each name |
//! | `joinExisting dimName=d` | variables whose first dimension is `d` laid end to end; `d`'s coordinate from `coordValue`, else the members' own values; other variables from the first member |
//! | `joinNew dimName=d` | `<variableAgg>` variables get a new first dimension `d`, one index per member; coordinate `d` from `coordValue` (double, else String), else the scan's dates, else the locations |

mod build;
mod deps;
mod parse;
mod scan;
mod source;
mod values;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use deps::Dependencies;

/// Parses an NcML document, for the fuzz targets ([`crate::fuzzing`]).
pub(crate) fn parse_document(text: &str) -> std::result::Result<(), String> {
    parse::parse(text).map(drop)
}

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::source::Source;

/// Whether `path` names an NcML file (by its `.ncml` suffix: NcML is text, not sniffable).
#[must_use]
pub fn is_ncml(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("ncml"))
}

/// Opens the NcML file at canonical `path` under `root`: its dataset and what it depends on.
/// `chain` holds the NcML files that are opening this one, outermost first.
///
/// # Errors
/// [`Error::Ncml`] naming the file and the problem: malformed NcML, a location that does not
/// exist or leaves the data root, a member that cannot be opened, members that do not agree.
pub(crate) async fn open(
    catalog: &Catalog,
    root: &Path,
    path: &Path,
    chain: &[PathBuf],
) -> Result<(Arc<dyn Source>, Dependencies)> {
    let label = path
        .strip_prefix(root)
        .map_or_else(|_| "?".into(), |p| p.to_string_lossy().into_owned());
    let meta = std::fs::metadata(path)?;
    let text = tokio::fs::read_to_string(path)
        .await
        .map_err(|e| Error::Ncml {
            file: label.clone(),
            message: format!("cannot read: {e}"),
        })?;
    let doc = parse::parse(&text).map_err(|message| Error::Ncml {
        file: label.clone(),
        message,
    })?;
    let mut chain = chain.to_vec();
    chain.push(path.to_path_buf());
    let ctx = build::Context {
        catalog,
        root: root.to_path_buf(),
        dir: path.parent().unwrap_or(root).to_path_buf(),
        label: label.clone(),
        chain,
        deps: Mutex::new(deps::DepsBuilder::default()),
    };
    ctx.deps
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .files
        .push(deps::FileVersion {
            path: path.to_path_buf(),
            modified: meta.modified()?,
            size: meta.len(),
        });
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let source = build::build(&ctx, &doc, &name).await?;
    let built = ctx
        .deps
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok((Arc::new(source), Dependencies::new(built, root)))
}
