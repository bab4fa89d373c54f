//! Evaluating a parsed NcML document into a [`VirtualSource`]: opening locations through the
//! catalog, aggregating members (union, joinExisting, joinNew), and applying the edits in
//! document order.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use futures::StreamExt;

use super::deps::{DepsBuilder, FileVersion};
use super::parse::{AggKind, Aggregation, AttributeElem, Edit, NetcdfElem, VariableElem};
use super::scan::{DateFormatMark, Found, Scan};
use super::source::{Joined, Member, Origin, Piece, VirtualSource};
use super::values::{self, Values};
use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::formats::dap::{self, RemoteOptions};
use crate::hyperslab::Hyperslab;
use crate::model::{
    AttrValue, Attribute, DataType, Dataset, Dimension, Format, Group, Storage, VarDim, Variable,
};
use crate::source::Source;

/// The most values a `<values start increment>` may generate (they are held in memory).
const MAX_WRITTEN_VALUES: usize = 16 << 20;

/// How many members are opened at once while an aggregation is built.
const OPEN_CONCURRENCY: usize = 8;

/// What one evaluation needs: where it is, and what it has touched.
pub(crate) struct Context<'a> {
    pub catalog: &'a Catalog,
    /// The canonical data root: no location may lead outside it.
    pub root: PathBuf,
    /// The folder of the NcML file: relative locations start here.
    pub dir: PathBuf,
    /// The NcML file, relative to the root, for messages.
    pub label: String,
    /// NcML files being opened, outermost first, to refuse a file that includes itself.
    pub chain: Vec<PathBuf>,
    pub deps: Mutex<DepsBuilder>,
}

/// A dataset while it is being built: its metadata and where each variable's values are.
struct Work {
    ds: Dataset,
    origins: HashMap<String, Origin>,
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A member's metadata (and, for joinExisting, its coordinate values along the join dimension),
/// computed once per member version.
#[derive(Debug)]
pub(crate) struct Summary {
    pub dataset: Arc<Dataset>,
    pub coord: Option<Values>,
}

type SummaryKey = (PathBuf, std::time::SystemTime, u64, String);

/// Member summaries, keyed by path, version and join dimension: a member that has not changed is
/// never opened again to learn its extent or coordinate values.
fn summaries() -> &'static moka::sync::Cache<SummaryKey, Arc<Summary>> {
    static CACHE: std::sync::OnceLock<moka::sync::Cache<SummaryKey, Arc<Summary>>> =
        std::sync::OnceLock::new();
    CACHE.get_or_init(|| moka::sync::Cache::new(200_000))
}

impl Context<'_> {
    fn err(&self, message: impl Into<String>) -> Error {
        Error::Ncml {
            file: self.label.clone(),
            message: message.into(),
        }
    }

    fn label_of(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .map_or_else(|_| "?".into(), |p| p.to_string_lossy().into_owned())
    }

    /// A location as a canonical path under the data root.
    pub(crate) fn resolve(&self, location: &str) -> Result<PathBuf> {
        let loc = location.strip_prefix("file://").unwrap_or(location);
        let loc = loc.strip_prefix("file:").unwrap_or(loc);
        if loc.contains("://") {
            return Err(self.err(format!(
                "location \"{location}\": only files under the data root and http://, https://, \
                 dap2:// or dap4:// dataset URLs can be members"
            )));
        }
        let given = Path::new(loc);
        // An absolute location is a server path when it lies under the data root, and is taken
        // from the data root otherwise (`/nc/jan.nc`), so it never reaches outside.
        let candidate = if given.is_absolute() {
            let lexical = normalise(given);
            if lexical.starts_with(&self.root) {
                lexical
            } else {
                self.root
                    .join(lexical.strip_prefix("/").unwrap_or(&lexical))
            }
        } else {
            normalise(&self.dir.join(given))
        };
        if !candidate.starts_with(&self.root) {
            return Err(self.err(format!("location \"{location}\" is outside the data root")));
        }
        match candidate.canonicalize() {
            Ok(real) if real.starts_with(&self.root) => Ok(real),
            // A symbolic link that leads out is answered like a missing file.
            _ => Err(self.err(format!("location \"{location}\" does not exist"))),
        }
    }

    fn record(&self, version: FileVersion) {
        self.deps
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .files
            .push(version);
    }

    /// Opens a remote dataset URL (`http://`, `https://`, `dap2://`, `dap4://`) with the
    /// catalog's chunk cache, and marks the dataset for rebuilding after
    /// [`super::deps::REMOTE_REFRESH`]: the remote dataset may change without any local file
    /// changing. Only NcML files in the data root get here, so no request can choose the URL.
    async fn open_remote(&self, location: &str) -> Result<Arc<dyn Source>> {
        self.deps
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remote = true;
        let options = RemoteOptions {
            cache: Some(self.catalog.chunk_cache().clone()),
            ..RemoteOptions::default()
        };
        // Upstream failures stay upstream failures (a 502 / 504 to the client), named by file.
        dap::open_remote(location, options)
            .await
            .map_err(|e| match e {
                Error::Upstream(m) => {
                    Error::Upstream(format!("{}: member {location}: {m}", self.label))
                }
                Error::UpstreamTimeout(m) => {
                    Error::UpstreamTimeout(format!("{}: member {location}: {m}", self.label))
                }
                other => self.err(format!("cannot open the remote member {location}: {other}")),
            })
    }

    /// Opens a location as a source through the catalog, recording its version.
    async fn open_location(&self, path: &Path) -> Result<Arc<dyn Source>> {
        if super::is_ncml(path) {
            if self.chain.iter().any(|p| p == path) {
                return Err(self.err(format!("{} includes itself", self.label_of(path))));
            }
            let entry = self.catalog.open_ncml(path, &self.chain).await?;
            if let Some(d) = entry.dependencies() {
                self.deps
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .merge(d);
            }
            return Ok(Arc::clone(entry.source()));
        }
        let entry = self.catalog.open(path).await.map_err(|e| Error::Ncml {
            file: self.label_of(path),
            message: format!("cannot open the member: {e}"),
        })?;
        self.record(FileVersion {
            path: path.to_path_buf(),
            modified: entry.modified(),
            size: entry.size(),
        });
        Ok(Arc::clone(entry.source()))
    }
}

/// Lexically removes `.` and `..` from a path.
fn normalise(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Evaluates the top `<netcdf>` element into the dataset called `name`.
pub(crate) async fn build(
    ctx: &Context<'_>,
    elem: &NetcdfElem,
    name: &str,
) -> Result<VirtualSource> {
    let mut work = eval(ctx, elem, &[]).await?;
    work.ds.name = name.to_owned();
    work.ds.format = Format::Ncml;
    Ok(VirtualSource {
        dataset: Arc::new(work.ds),
        origins: work.origins,
    })
}

fn eval<'a>(
    ctx: &'a Context<'a>,
    elem: &'a NetcdfElem,
    scope: &'a [Dimension],
) -> BoxFuture<'a, Result<Work>> {
    Box::pin(async move {
        let mut work = if let Some(loc) = elem.location.as_deref().filter(|l| dap::is_remote_url(l))
        {
            let source = ctx.open_remote(loc).await?;
            work_of(&source, loc)
        } else if let Some(loc) = &elem.location {
            let path = ctx.resolve(loc)?;
            let source = ctx.open_location(&path).await?;
            let label = ctx.label_of(&path);
            work_of(&source, &label)
        } else {
            // A virtual dataset sees the dimensions of the datasets it is nested in.
            let mut ds = empty_dataset();
            ds.root.dimensions = scope.to_vec();
            Work {
                ds,
                origins: HashMap::new(),
            }
        };
        let split = elem.edits_before_aggregation.min(elem.edits.len());
        let (before, after) = if elem.aggregation.is_some() {
            elem.edits.split_at(split)
        } else {
            (&elem.edits[..], &[][..])
        };
        for edit in before {
            apply(ctx, &mut work, edit)?;
        }
        if let Some(agg) = &elem.aggregation {
            let dims = work.ds.root.dimensions.clone();
            let result = aggregate(ctx, agg, &dims).await?;
            merge(&mut work, result);
        }
        for edit in after {
            apply(ctx, &mut work, edit)?;
        }
        Ok(work)
    })
}

/// Adds what `work` lacks from `other` (the first comer wins, as in a union; the aggregation's
/// length wins for a dimension it joined).
fn merge(work: &mut Work, other: Work) {
    let Work { ds, mut origins } = other;
    for d in ds.root.dimensions {
        match work
            .ds
            .root
            .dimensions
            .iter_mut()
            .find(|x| x.name == d.name)
        {
            Some(x) => *x = d,
            None => work.ds.root.dimensions.push(d),
        }
    }
    for a in ds.root.attributes {
        if work.ds.root.attribute(&a.name).is_none() {
            work.ds.root.attributes.push(a);
        }
    }
    for v in ds.root.variables {
        if work.ds.root.variable(&v.name).is_none() {
            if let Some(o) = origins.remove(&v.path) {
                work.origins.insert(v.path.clone(), o);
            }
            work.ds.root.variables.push(v);
        }
    }
}

fn empty_dataset() -> Dataset {
    Dataset {
        name: String::new(),
        format: Format::Ncml,
        root: Group {
            path: "/".into(),
            ..Group::default()
        },
    }
}

/// A whole source as a starting point: every variable read from it.
fn work_of(source: &Arc<dyn Source>, label: &str) -> Work {
    let ds = (**source.dataset()).clone();
    let member = Member::Built {
        source: Arc::clone(source),
        label: label.to_owned(),
    };
    let origins = ds
        .all_variables()
        .map(|v| {
            (
                v.path.clone(),
                Origin::Member {
                    member: member.clone(),
                    path: v.path.clone(),
                },
            )
        })
        .collect();
    Work { ds, origins }
}

/// One member of an aggregation, ready to be read, with what is known of it.
struct Prepared {
    member: Member,
    /// Metadata, when the member was opened or built.
    summary: Option<Arc<Summary>>,
    /// The `<netcdf>` element's `ncoords` / `coordValue`, or the scan's date.
    ncoords: Option<String>,
    coord_value: Option<String>,
    date: Option<String>,
    /// The location as written (joinNew's default coordinate).
    location: String,
}

fn aggregate<'a>(
    ctx: &'a Context<'a>,
    agg: &'a Aggregation,
    scope: &'a [Dimension],
) -> BoxFuture<'a, Result<Work>> {
    Box::pin(async move {
        let dim = agg.dim_name.clone().unwrap_or_default();
        let needs_all = match agg.kind {
            AggKind::Union | AggKind::JoinNew => true,
            AggKind::JoinExisting => false,
        };
        let join_coord = (agg.kind == AggKind::JoinExisting).then_some(dim.as_str());

        // Explicit members first, in document order, then each scan's files in its order.
        let mut specs: Vec<(Option<&NetcdfElem>, Option<Found>, Option<String>)> =
            agg.members.iter().map(|m| (Some(m), None, None)).collect();
        for scan in &agg.scans {
            let s = checked_scan(ctx, scan)?;
            let root = ctx.root.clone();
            let s2 = s.clone();
            let found = tokio::task::spawn_blocking(move || s2.run(&root))
                .await
                .map_err(|_| Error::Interrupted)?
                .map_err(|e| ctx.err(format!("scan of \"{}\" failed: {e}", scan.location)))?;
            ctx.deps
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .scans
                .push((s, found.iter().map(|f| f.path.clone()).collect()));
            for f in found {
                specs.push((None, Some(f), scan.ncoords.clone()));
            }
        }
        if let Some(every) = &agg.recheck_every {
            let d =
                super::scan::duration(every).map_err(|e| ctx.err(format!("recheckEvery: {e}")))?;
            let mut deps = ctx
                .deps
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            deps.recheck = Some(deps.recheck.map_or(d, |r| r.min(d)));
        }
        if specs.is_empty() {
            return Err(ctx.err("the aggregation has no members"));
        }
        ctx.deps
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .aggregation = true;

        let mut futures = Vec::with_capacity(specs.len());
        for (i, spec) in specs.into_iter().enumerate() {
            futures.push(prepare(
                ctx,
                i,
                spec,
                needs_all || i == 0,
                join_coord,
                scope,
            ));
        }
        let prepared: Vec<Result<Prepared>> = futures::stream::iter(futures)
            .buffered(OPEN_CONCURRENCY)
            .collect()
            .await;
        let members = prepared.into_iter().collect::<Result<Vec<_>>>()?;
        match agg.kind {
            AggKind::Union => union(ctx, &members),
            AggKind::JoinExisting => join_existing(ctx, agg, &dim, &members),
            AggKind::JoinNew => join_new(ctx, agg, &dim, &members),
        }
    })
}

fn checked_scan(ctx: &Context<'_>, scan: &super::parse::ScanElem) -> Result<Scan> {
    let dir = ctx.resolve(&scan.location)?;
    if !dir.is_dir() {
        return Err(ctx.err(format!(
            "scan location \"{}\" is not a folder",
            scan.location
        )));
    }
    let reg_exp = scan_attr(ctx, scan.reg_exp.as_deref(), "regExp", regex::Regex::new)?;
    let older_than = scan_attr(
        ctx,
        scan.older_than.as_deref(),
        "olderThan",
        super::scan::duration,
    )?;
    let date_format_mark = scan_attr(
        ctx,
        scan.date_format_mark.as_deref(),
        "dateFormatMark",
        DateFormatMark::parse,
    )?;
    Ok(Scan {
        dir,
        suffix: scan.suffix.clone(),
        reg_exp,
        subdirs: scan.subdirs,
        older_than,
        date_format_mark,
    })
}

/// A `<scan>` attribute parsed by `parse` when present; its error names the attribute.
fn scan_attr<T, E: std::fmt::Display>(
    ctx: &Context<'_>,
    value: Option<&str>,
    what: &str,
    parse: impl FnOnce(&str) -> std::result::Result<T, E>,
) -> Result<Option<T>> {
    value
        .map(parse)
        .transpose()
        .map_err(|e| ctx.err(format!("scan {what}: {e}")))
}

/// One member as the aggregation lists it: its `<netcdf>` element, or a file a scan found (with
/// the scan's `ncoords`).
type MemberSpec<'a> = (Option<&'a NetcdfElem>, Option<Found>, Option<String>);

async fn prepare(
    ctx: &Context<'_>,
    index: usize,
    (elem, found, scan_ncoords): MemberSpec<'_>,
    open_now: bool,
    join_coord: Option<&str>,
    scope: &[Dimension],
) -> Result<Prepared> {
    if let Some(f) = found {
        let location = ctx.label_of(&f.path);
        let (member, summary) =
            file_member(ctx, &f.path, open_now || scan_ncoords.is_none(), join_coord).await?;
        return Ok(Prepared {
            member,
            summary,
            ncoords: scan_ncoords,
            coord_value: None,
            date: f.date,
            location,
        });
    }
    let Some(elem) = elem else {
        return Err(ctx.err("internal: a member with neither element nor file"));
    };
    let location = elem
        .location
        .clone()
        .unwrap_or_else(|| format!("Virtual_Dataset_{index}"));
    if elem.is_plain_file() && dap::is_remote_url(&location) {
        // A remote member is opened now: its metadata is one request (or two) away, and an
        // unreachable member is better reported when the aggregation is built than mid-read.
        let source = ctx.open_remote(&location).await?;
        let coord = match join_coord {
            Some(dim) => coordinate_values(&source, dim).await,
            None => None,
        };
        return Ok(Prepared {
            member: Member::Built {
                source: Arc::clone(&source),
                label: location.clone(),
            },
            summary: Some(Arc::new(Summary {
                dataset: Arc::clone(source.dataset()),
                coord,
            })),
            ncoords: elem.ncoords.clone(),
            coord_value: elem.coord_value.clone(),
            date: None,
            location,
        });
    }
    if elem.is_plain_file() {
        let path = ctx.resolve(elem.location.as_deref().unwrap_or_default())?;
        let needs = open_now || (elem.ncoords.is_none() && elem.coord_value.is_none());
        let (member, summary) = file_member(ctx, &path, needs, join_coord).await?;
        return Ok(Prepared {
            member,
            summary,
            ncoords: elem.ncoords.clone(),
            coord_value: elem.coord_value.clone(),
            date: None,
            location,
        });
    }
    // A virtual, edited or nested member: built now.
    let work = eval(ctx, elem, scope).await?;
    let mut ds = work.ds;
    ds.format = Format::Ncml;
    let source: Arc<dyn Source> = Arc::new(VirtualSource {
        dataset: Arc::new(ds),
        origins: work.origins,
    });
    let coord = match join_coord {
        Some(dim) => coordinate_values(&source, dim).await,
        None => None,
    };
    Ok(Prepared {
        member: Member::Built {
            source: Arc::clone(&source),
            label: format!("{} (member {index})", ctx.label),
        },
        summary: Some(Arc::new(Summary {
            dataset: Arc::clone(source.dataset()),
            coord,
        })),
        ncoords: elem.ncoords.clone(),
        coord_value: elem.coord_value.clone(),
        date: None,
        location,
    })
}

/// A file member: its version recorded, and its summary when `open` (from the cache when the
/// file has not changed).
async fn file_member(
    ctx: &Context<'_>,
    path: &Path,
    open: bool,
    join_coord: Option<&str>,
) -> Result<(Member, Option<Arc<Summary>>)> {
    let label = ctx.label_of(path);
    let member = Member::File {
        path: path.to_path_buf(),
        label: label.clone(),
        catalog: ctx.catalog.clone(),
    };
    if super::is_ncml(path) {
        // A nested NcML file: always built, through the catalog.
        let source = ctx.open_location(path).await?;
        let coord = match join_coord {
            Some(dim) => coordinate_values(&source, dim).await,
            None => None,
        };
        return Ok((
            member,
            Some(Arc::new(Summary {
                dataset: Arc::clone(source.dataset()),
                coord,
            })),
        ));
    }
    let meta = std::fs::metadata(path).map_err(|e| Error::Ncml {
        file: label.clone(),
        message: format!("cannot read the member: {e}"),
    })?;
    let version = FileVersion {
        path: path.to_path_buf(),
        modified: meta.modified()?,
        size: meta.len(),
    };
    ctx.record(version.clone());
    if !open {
        return Ok((member, None));
    }
    let key = (
        version.path.clone(),
        version.modified,
        version.size,
        join_coord.unwrap_or_default().to_owned(),
    );
    if let Some(s) = summaries().get(&key) {
        return Ok((member, Some(s)));
    }
    let source = member.source().await?;
    let coord = match join_coord {
        Some(dim) => coordinate_values(&source, dim).await,
        None => None,
    };
    let summary = Arc::new(Summary {
        dataset: Arc::clone(source.dataset()),
        coord,
    });
    summaries().insert(key, Arc::clone(&summary));
    Ok((member, Some(summary)))
}

/// The values of a member's coordinate variable `dim`, if it has one.
async fn coordinate_values(source: &Arc<dyn Source>, dim: &str) -> Option<Values> {
    let path = format!("/{dim}");
    let var = source.dataset().variable(&path)?;
    if var.dims.len() != 1 {
        return None;
    }
    let bytes = crate::source::read_all(&**source, &path, &Hyperslab::full(&var.shape()))
        .await
        .ok()?;
    Values::from_canonical(&var.dtype, &bytes)
}

fn union(ctx: &Context<'_>, members: &[Prepared]) -> Result<Work> {
    let mut work = Work {
        ds: empty_dataset(),
        origins: HashMap::new(),
    };
    for m in members {
        let Some(summary) = &m.summary else {
            return Err(ctx.err("internal: a union member was not opened"));
        };
        let root = &summary.dataset.root;
        for d in &root.dimensions {
            match work.ds.root.dimensions.iter().find(|x| x.name == d.name) {
                Some(x) if x.len != d.len => {
                    return Err(ctx.err(format!(
                        "member {}: dimension {} has length {}, an earlier member has {}",
                        m.member.label(),
                        d.name,
                        d.len,
                        x.len
                    )));
                }
                Some(_) => {}
                None => work.ds.root.dimensions.push(d.clone()),
            }
        }
        for a in &root.attributes {
            if work.ds.root.attribute(&a.name).is_none() {
                work.ds.root.attributes.push(a.clone());
            }
        }
        for v in &root.variables {
            if work.ds.root.variable(&v.name).is_none() {
                work.ds.root.variables.push(v.clone());
                work.origins.insert(
                    v.path.clone(),
                    Origin::Member {
                        member: m.member.clone(),
                        path: v.path.clone(),
                    },
                );
            }
        }
    }
    Ok(work)
}

/// The aggregated dataset starts as the first member's root group: its dimensions, attributes
/// and variables (the ones not joined are read from the first member).
fn from_template(first: &Prepared, summary: &Summary) -> Work {
    let mut ds = empty_dataset();
    ds.root.dimensions = summary.dataset.root.dimensions.clone();
    ds.root.attributes = summary.dataset.root.attributes.clone();
    let mut origins = HashMap::new();
    for v in &summary.dataset.root.variables {
        ds.root.variables.push(v.clone());
        origins.insert(
            v.path.clone(),
            Origin::Member {
                member: first.member.clone(),
                path: v.path.clone(),
            },
        );
    }
    Work { ds, origins }
}

fn first_dim_is(v: &Variable, dim: &str) -> bool {
    v.dims.first().and_then(|d| d.name.as_deref()) == Some(dim)
}

fn join_existing(
    ctx: &Context<'_>,
    agg: &Aggregation,
    dim: &str,
    members: &[Prepared],
) -> Result<Work> {
    let first = &members[0];
    let Some(template) = &first.summary else {
        return Err(ctx.err("internal: the first member was not opened"));
    };
    let tds = &template.dataset;
    for name in &agg.variable_agg {
        match tds.root.variable(name) {
            None => {
                return Err(ctx.err(format!(
                    "variableAgg {name}: the first member has no such variable"
                )));
            }
            Some(v) if !first_dim_is(v, dim) => {
                return Err(ctx.err(format!(
                    "variableAgg {name}: its first dimension is not {dim}"
                )));
            }
            Some(_) => {}
        }
    }
    let joined: Vec<Variable> = tds
        .root
        .variables
        .iter()
        .filter(|v| first_dim_is(v, dim))
        .filter(|v| {
            agg.variable_agg.is_empty() || agg.variable_agg.contains(&v.name) || v.name == dim
        })
        .cloned()
        .collect();
    if joined.is_empty() && tds.root.dimensions.iter().all(|d| d.name != dim) {
        return Err(ctx.err(format!(
            "member {}: no dimension {dim} to join",
            first.member.label()
        )));
    }

    // Each member's extent along the join dimension.
    let mut lens = Vec::with_capacity(members.len());
    for m in members {
        let coord_count = m
            .coord_value
            .as_deref()
            .map(|c| values::tokens(c, c.contains(',').then_some(",")).len());
        let len = if let Some(n) = &m.ncoords {
            n.trim().parse::<usize>().map_err(|_| {
                ctx.err(format!(
                    "member {}: ncoords \"{n}\" is not a count",
                    m.member.label()
                ))
            })?
        } else if let Some(n) = coord_count {
            n
        } else if let Some(s) = &m.summary {
            s.dataset
                .root
                .dimensions
                .iter()
                .find(|d| d.name == dim)
                .map(|d| d.len)
                .ok_or_else(|| {
                    ctx.err(format!("member {}: no dimension {dim}", m.member.label()))
                })?
        } else {
            return Err(ctx.err(format!(
                "member {}: its extent along {dim} is unknown",
                m.member.label()
            )));
        };
        if let Some(s) = &m.summary {
            check_join_member(ctx, tds, &s.dataset, &joined, dim, m, len)?;
        }
        lens.push(len);
    }
    let total: usize = lens.iter().sum();

    let mut work = from_template(first, template);
    // The joined dimension's new length, everywhere it is used.
    let unlimited = tds
        .root
        .dimensions
        .iter()
        .find(|d| d.name == dim)
        .is_some_and(|d| d.unlimited);
    set_dimension(&mut work.ds, dim, total, unlimited);
    // Variables that use the dimension elsewhere than first cannot be joined: leave them out,
    // as are the variables on it that variableAgg does not name.
    let keep: Vec<String> = joined.iter().map(|v| v.name.clone()).collect();
    work.ds.root.variables.retain(|v| {
        let uses = v.dims.iter().any(|d| d.name.as_deref() == Some(dim));
        !uses || keep.contains(&v.name)
    });
    work.origins
        .retain(|p, _| work.ds.root.variables.iter().any(|v| &v.path == p));

    for v in &joined {
        let mut pieces = Vec::with_capacity(members.len());
        let mut offset = 0;
        for (m, &len) in members.iter().zip(&lens) {
            pieces.push(Piece {
                member: m.member.clone(),
                path: v.path.clone(),
                offset,
                len,
            });
            offset += len;
        }
        work.origins.insert(
            v.path.clone(),
            Origin::Joined(Arc::new(Joined {
                pieces,
                new_dim: false,
                dtype: v.dtype.clone(),
                inner_shape: v.shape()[1..].to_vec(),
            })),
        );
    }

    // The join coordinate: written coordValues, else the members' own values (cached per
    // member version), else read from the members when asked.
    let coord_path = format!("/{dim}");
    let existing = work.ds.variable(&coord_path).cloned();
    let values = if members.iter().all(|m| m.coord_value.is_some()) {
        let toks: Vec<String> = members
            .iter()
            .flat_map(|m| {
                let c = m.coord_value.as_deref().unwrap_or_default();
                values::tokens(c, c.contains(',').then_some(","))
                    .into_iter()
                    .map(|t| t.trim().to_owned())
                    .collect::<Vec<_>>()
            })
            .collect();
        Some(coord_values_of(
            ctx,
            existing.as_ref().map(|v| &v.dtype),
            &toks,
        )?)
    } else if existing.is_none() && members.iter().all(|m| m.date.is_some()) {
        let dates: Vec<&str> = members.iter().filter_map(|m| m.date.as_deref()).collect();
        Some((
            DataType::String,
            Values::Strings(dates.iter().map(|s| (*s).to_owned()).collect()),
        ))
    } else if let Some(v) = &existing
        && members
            .iter()
            .all(|m| m.summary.as_ref().is_some_and(|s| s.coord.is_some()))
    {
        let parts: Vec<Values> = members
            .iter()
            .filter_map(|m| m.summary.as_ref().and_then(|s| s.coord.clone()))
            .collect();
        Values::concat(&parts)
            .filter(|c| c.len() == total)
            .map(|c| (v.dtype.clone(), c))
    } else {
        None
    };
    if let Some((dtype, values)) = values {
        if values.len() != total {
            return Err(ctx.err(format!(
                "{} coordinate values for {dim}, which has length {total}",
                values.len()
            )));
        }
        let dimension = work
            .ds
            .root
            .dimensions
            .iter()
            .find(|d| d.name == dim)
            .cloned();
        let var = match existing {
            Some(mut v) => {
                v.dtype = dtype;
                v
            }
            None => new_variable(
                dim,
                dtype,
                vec![
                    dimension
                        .as_ref()
                        .map_or(VarDim::anonymous(total), VarDim::shared),
                ],
            ),
        };
        upsert_variable(&mut work.ds, var);
        work.origins
            .insert(coord_path, Origin::Memory(Arc::new(values)));
    }
    Ok(work)
}

/// Checks that a member agrees with the first on everything but the join dimension.
fn check_join_member(
    ctx: &Context<'_>,
    template: &Dataset,
    member: &Dataset,
    joined: &[Variable],
    dim: &str,
    m: &Prepared,
    len: usize,
) -> Result<()> {
    let label = m.member.label();
    for d in &template.root.dimensions {
        if d.name == dim {
            continue;
        }
        if let Some(md) = member.root.dimensions.iter().find(|x| x.name == d.name)
            && md.len != d.len
        {
            return Err(ctx.err(format!(
                "member {label}: dimension {} has length {}, the first member has {}",
                d.name, md.len, d.len
            )));
        }
    }
    for v in joined {
        let Some(mv) = member.root.variable(&v.name) else {
            return Err(ctx.err(format!("member {label}: no variable {}", v.name)));
        };
        if mv.dtype != v.dtype {
            return Err(ctx.err(format!(
                "member {label}: variable {} is {}, the first member's is {}",
                v.name, mv.dtype, v.dtype
            )));
        }
        let (ms, ts) = (mv.shape(), v.shape());
        if ms.len() != ts.len() || ms[1..] != ts[1..] || !first_dim_is(mv, dim) {
            return Err(ctx.err(format!(
                "member {label}: variable {} has shape {ms:?}, which does not join with the first \
                 member's {ts:?} along {dim}",
                v.name
            )));
        }
        if ms[0] != len {
            return Err(ctx.err(format!(
                "member {label}: variable {} has {} values along {dim}, ncoords says {len}",
                v.name, ms[0]
            )));
        }
    }
    Ok(())
}

/// Coordinate values from their text: numbers as the existing type (or double), else strings.
fn coord_values_of(
    ctx: &Context<'_>,
    existing: Option<&DataType>,
    toks: &[String],
) -> Result<(DataType, Values)> {
    let refs: Vec<&str> = toks.iter().map(String::as_str).collect();
    let numeric = !refs.is_empty() && refs.iter().all(|t| t.parse::<f64>().is_ok());
    if let Some(t) = existing {
        if t.is_numeric() {
            if !numeric {
                return Err(ctx.err("coordValue: the coordinate is numeric, a value is not"));
            }
            return Ok((
                t.clone(),
                values::encode(t, &refs).map_err(|e| ctx.err(format!("coordValue: {e}")))?,
            ));
        }
        return Ok((DataType::String, Values::Strings(toks.to_vec())));
    }
    if numeric {
        Ok((
            DataType::Float64,
            values::encode(&DataType::Float64, &refs).map_err(|e| ctx.err(e))?,
        ))
    } else {
        Ok((DataType::String, Values::Strings(toks.to_vec())))
    }
}

fn join_new(ctx: &Context<'_>, agg: &Aggregation, dim: &str, members: &[Prepared]) -> Result<Work> {
    let first = &members[0];
    let Some(template) = &first.summary else {
        return Err(ctx.err("internal: the first member was not opened"));
    };
    let tds = &template.dataset;
    if agg.variable_agg.is_empty() {
        return Err(ctx.err("a joinNew aggregation needs <variableAgg> elements"));
    }
    if tds.root.dimensions.iter().any(|d| d.name == dim) {
        return Err(ctx.err(format!(
            "joinNew dimension {dim} already exists in member {}",
            first.member.label()
        )));
    }
    let mut joined = Vec::new();
    for name in &agg.variable_agg {
        let Some(v) = tds.root.variable(name) else {
            return Err(ctx.err(format!(
                "variableAgg {name}: member {} has no such variable",
                first.member.label()
            )));
        };
        joined.push(v.clone());
    }
    for m in &members[1..] {
        let Some(s) = &m.summary else { continue };
        let label = m.member.label();
        for v in &joined {
            let Some(mv) = s.dataset.root.variable(&v.name) else {
                return Err(ctx.err(format!("member {label}: no variable {}", v.name)));
            };
            if mv.dtype != v.dtype {
                return Err(ctx.err(format!(
                    "member {label}: variable {} is {}, the first member's is {}",
                    v.name, mv.dtype, v.dtype
                )));
            }
            if mv.shape() != v.shape() {
                return Err(ctx.err(format!(
                    "member {label}: variable {} has shape {:?}, the first member's is {:?}",
                    v.name,
                    mv.shape(),
                    v.shape()
                )));
            }
        }
    }

    let n = members.len();
    let mut work = from_template(first, template);
    let new_dim = Dimension {
        name: dim.to_owned(),
        path: format!("/{dim}"),
        len: n,
        unlimited: false,
    };
    work.ds.root.dimensions.insert(0, new_dim.clone());
    for v in &joined {
        let mut nv = v.clone();
        nv.dims.insert(0, VarDim::shared(&new_dim));
        let pieces = members
            .iter()
            .enumerate()
            .map(|(i, m)| Piece {
                member: m.member.clone(),
                path: v.path.clone(),
                offset: i,
                len: 1,
            })
            .collect();
        work.origins.insert(
            v.path.clone(),
            Origin::Joined(Arc::new(Joined {
                pieces,
                new_dim: true,
                dtype: v.dtype.clone(),
                inner_shape: v.shape(),
            })),
        );
        upsert_variable(&mut work.ds, nv);
    }

    // The new coordinate: coordValues (numbers or strings), the scan's dates, or the locations.
    let with_cv = members.iter().filter(|m| m.coord_value.is_some()).count();
    let (dtype, values) = if with_cv == n {
        let toks: Vec<String> = members
            .iter()
            .map(|m| m.coord_value.clone().unwrap_or_default())
            .collect();
        if toks.iter().any(|t| t.trim().is_empty()) {
            return Err(ctx.err("coordValue: an empty value"));
        }
        let first_numeric = toks[0].trim().parse::<f64>().is_ok();
        if first_numeric && toks.iter().any(|t| t.trim().parse::<f64>().is_err()) {
            return Err(
                ctx.err("coordValue: the first member's is a number, so every member's must be")
            );
        }
        coord_values_of(ctx, None, &toks)?
    } else if with_cv > 0 {
        return Err(ctx.err("coordValue: given for some members but not all"));
    } else if members.iter().all(|m| m.date.is_some()) {
        (
            DataType::String,
            Values::Strings(members.iter().filter_map(|m| m.date.clone()).collect()),
        )
    } else {
        (
            DataType::String,
            Values::Strings(members.iter().map(|m| m.location.clone()).collect()),
        )
    };
    let mut coord = new_variable(dim, dtype, vec![VarDim::shared(&new_dim)]);
    if members.iter().all(|m| m.date.is_some()) && with_cv == 0 {
        coord.attributes.push(Attribute::new(
            "_CoordinateAxisType",
            AttrValue::String(vec!["Time".into()]),
        ));
    }
    work.ds.root.variables.insert(0, coord);
    work.origins
        .insert(format!("/{dim}"), Origin::Memory(Arc::new(values)));
    Ok(work)
}

fn new_variable(name: &str, dtype: DataType, dims: Vec<VarDim>) -> Variable {
    Variable {
        name: name.to_owned(),
        path: format!("/{name}"),
        dtype,
        dims,
        attributes: Vec::new(),
        storage: Storage::default(),
    }
}

fn upsert_variable(ds: &mut Dataset, var: Variable) {
    match ds.root.variables.iter_mut().find(|v| v.name == var.name) {
        Some(slot) => *slot = var,
        None => ds.root.variables.push(var),
    }
}

/// Sets dimension `name` of the root group to `len`, and every variable's use of it.
fn set_dimension(ds: &mut Dataset, name: &str, len: usize, unlimited: bool) {
    let path = format!("/{name}");
    match ds.root.dimensions.iter_mut().find(|d| d.name == name) {
        Some(d) => d.len = len,
        None => ds.root.dimensions.push(Dimension {
            name: name.to_owned(),
            path: path.clone(),
            len,
            unlimited,
        }),
    }
    for g in std::iter::once(&mut ds.root) {
        for v in &mut g.variables {
            for d in &mut v.dims {
                if d.path.as_deref() == Some(path.as_str()) {
                    d.len = len;
                }
            }
        }
    }
}

fn apply(ctx: &Context<'_>, work: &mut Work, edit: &Edit) -> Result<()> {
    match edit {
        Edit::Dimension {
            name,
            length,
            org_name,
            unlimited,
        } => {
            if let Some(org) = org_name {
                rename_dimension(ctx, &mut work.ds, org, name)?;
                return Ok(());
            }
            let len = match length {
                Some(l) => Some(l.trim().parse::<usize>().map_err(|_| {
                    ctx.err(format!("dimension {name}: length \"{l}\" is not a count"))
                })?),
                None => None,
            };
            match (
                work.ds.root.dimensions.iter().find(|d| &d.name == name),
                len,
            ) {
                (Some(d), Some(l)) if d.len != l => Err(ctx.err(format!(
                    "dimension {name} has length {}, the NcML says {l}",
                    d.len
                ))),
                (Some(_), _) => Ok(()),
                (None, Some(l)) => {
                    work.ds.root.dimensions.push(Dimension {
                        name: name.clone(),
                        path: format!("/{name}"),
                        len: l,
                        unlimited: *unlimited,
                    });
                    Ok(())
                }
                (None, None) => Err(ctx.err(format!("new dimension {name} needs a length"))),
            }
        }
        Edit::Attribute(a) => edit_attribute(ctx, &mut work.ds.root.attributes, a, "the dataset"),
        Edit::Remove { name, kind } => match kind.as_str() {
            "variable" => {
                let before = work.ds.root.variables.len();
                work.ds.root.variables.retain(|v| &v.name != name);
                if work.ds.root.variables.len() == before {
                    return Err(ctx.err(format!("remove: no variable {name}")));
                }
                work.origins.remove(&format!("/{name}"));
                Ok(())
            }
            "attribute" => {
                let before = work.ds.root.attributes.len();
                work.ds.root.attributes.retain(|a| &a.name != name);
                if work.ds.root.attributes.len() == before {
                    return Err(ctx.err(format!("remove: no global attribute {name}")));
                }
                Ok(())
            }
            "dimension" => {
                if work
                    .ds
                    .all_variables()
                    .any(|v| v.dims.iter().any(|d| d.name.as_deref() == Some(name)))
                {
                    return Err(ctx.err(format!("remove: dimension {name} is in use")));
                }
                work.ds.root.dimensions.retain(|d| &d.name != name);
                Ok(())
            }
            other => Err(ctx.err(format!("remove: unknown type \"{other}\""))),
        },
        Edit::Variable(v) => edit_variable(ctx, work, v),
    }
}

fn rename_dimension(ctx: &Context<'_>, ds: &mut Dataset, org: &str, name: &str) -> Result<()> {
    let Some(d) = ds.root.dimensions.iter_mut().find(|d| d.name == org) else {
        return Err(ctx.err(format!("dimension {name}: no dimension {org} to rename")));
    };
    let (old_path, new_path) = (d.path.clone(), format!("/{name}"));
    d.name = name.to_owned();
    d.path.clone_from(&new_path);
    fn fix(g: &mut Group, old: &str, new: &str, name: &str) {
        for v in &mut g.variables {
            for d in &mut v.dims {
                if d.path.as_deref() == Some(old) {
                    d.path = Some(new.to_owned());
                    d.name = Some(name.to_owned());
                }
            }
        }
        for c in &mut g.groups {
            fix(c, old, new, name);
        }
    }
    fix(&mut ds.root, &old_path, &new_path, name);
    let _ = ctx;
    Ok(())
}

fn edit_variable(ctx: &Context<'_>, work: &mut Work, v: &VariableElem) -> Result<()> {
    let path = format!("/{}", v.name);
    if let Some(org) = &v.org_name {
        let org_path = format!("/{org}");
        if work.ds.root.variable(&v.name).is_some() {
            return Err(ctx.err(format!(
                "variable {org} cannot be renamed {}: that name is taken",
                v.name
            )));
        }
        let Some(var) = work.ds.root.variables.iter_mut().find(|x| &x.name == org) else {
            return Err(ctx.err(format!("variable {}: no variable {org} to rename", v.name)));
        };
        var.name.clone_from(&v.name);
        var.path.clone_from(&path);
        if let Some(o) = work.origins.remove(&org_path) {
            work.origins.insert(path.clone(), o);
        }
    }
    let exists = work.ds.root.variable(&v.name).is_some();
    if !exists {
        return new_from_ncml(ctx, work, v);
    }
    let shape_of = |w: &Work| {
        w.ds.root
            .variable(&v.name)
            .map(Variable::shape)
            .unwrap_or_default()
    };
    let shape = shape_of(work);
    if let (Some(shape), Some(var)) = (&v.shape, work.ds.root.variable(&v.name)) {
        let written: Vec<&str> = shape.split_whitespace().collect();
        let names: Vec<String> = var
            .dims
            .iter()
            .map(|d| d.name.clone().unwrap_or_else(|| d.len.to_string()))
            .collect();
        if written != names {
            return Err(ctx.err(format!(
                "variable {}: shape \"{shape}\" is not its shape ({})",
                v.name,
                names.join(" ")
            )));
        }
    }
    let mut dtype = work
        .ds
        .root
        .variable(&v.name)
        .map(|x| x.dtype.clone())
        .unwrap_or(DataType::Float64);
    if let Some(t) = &v.dtype {
        let want =
            values::data_type(t).map_err(|e| ctx.err(format!("variable {}: {e}", v.name)))?;
        if want != dtype {
            // A new type only comes with new values (an explicit joinNew coordinate).
            if v.values.is_none() {
                return Err(ctx.err(format!(
                    "variable {}: changing the type of an existing variable needs <values>",
                    v.name
                )));
            }
            dtype = want.clone();
            if let Some(var) = work.ds.root.variables.iter_mut().find(|x| x.name == v.name) {
                var.dtype = want;
            }
        }
    }
    if let Some(vals) = &v.values {
        let n: usize = shape.iter().product();
        let values = values_of(ctx, &v.name, &dtype, vals, n)?;
        work.origins
            .insert(path.clone(), Origin::Memory(Arc::new(values)));
    }
    let label = format!("variable {}", v.name);
    let Some(var) = work.ds.root.variables.iter_mut().find(|x| x.name == v.name) else {
        return Ok(());
    };
    for a in &v.attributes {
        match a {
            Ok(a) => edit_attribute(ctx, &mut var.attributes, a, &label)?,
            Err(name) => {
                let before = var.attributes.len();
                var.attributes.retain(|x| &x.name != name);
                if var.attributes.len() == before {
                    return Err(ctx.err(format!("{label}: no attribute {name} to remove")));
                }
            }
        }
    }
    Ok(())
}

fn new_from_ncml(ctx: &Context<'_>, work: &mut Work, v: &VariableElem) -> Result<()> {
    let Some(t) = &v.dtype else {
        return Err(ctx.err(format!(
            "variable {}: no such variable, and a new one needs a type",
            v.name
        )));
    };
    let dtype = values::data_type(t).map_err(|e| ctx.err(format!("variable {}: {e}", v.name)))?;
    let mut dims = Vec::new();
    for tok in v.shape.as_deref().unwrap_or_default().split_whitespace() {
        if let Ok(n) = tok.parse::<usize>() {
            dims.push(VarDim::anonymous(n));
        } else if let Some(d) = work.ds.root.dimensions.iter().find(|d| d.name == tok) {
            dims.push(VarDim::shared(d));
        } else {
            return Err(ctx.err(format!(
                "variable {}: shape names dimension {tok}, which does not exist",
                v.name
            )));
        }
    }
    let n: usize = dims.iter().map(|d| d.len).product();
    let Some(vals) = &v.values else {
        return Err(ctx.err(format!("new variable {} needs <values>", v.name)));
    };
    let values = values_of(ctx, &v.name, &dtype, vals, n)?;
    let mut var = new_variable(&v.name, dtype, dims);
    let label = format!("variable {}", v.name);
    for a in &v.attributes {
        match a {
            Ok(a) => edit_attribute(ctx, &mut var.attributes, a, &label)?,
            Err(name) => return Err(ctx.err(format!("{label}: no attribute {name} to remove"))),
        }
    }
    work.origins
        .insert(var.path.clone(), Origin::Memory(Arc::new(values)));
    work.ds.root.variables.push(var);
    Ok(())
}

fn values_of(
    ctx: &Context<'_>,
    name: &str,
    dtype: &DataType,
    vals: &super::parse::ValuesElem,
    n: usize,
) -> Result<Values> {
    let err = |e: String| ctx.err(format!("variable {name}: {e}"));
    let values = if let (Some(start), Some(inc)) = (&vals.start, &vals.increment) {
        let count = match &vals.npts {
            Some(p) => p
                .trim()
                .parse::<usize>()
                .map_err(|_| err(format!("npts \"{p}\" is not a count")))?,
            None => n,
        };
        if count > MAX_WRITTEN_VALUES {
            return Err(err(format!(
                "{count} values are more than NcML may generate"
            )));
        }
        values::arithmetic(dtype, start, inc, count).map_err(err)?
    } else if *dtype == DataType::Char {
        let mut bytes = vals.text.trim().as_bytes().to_vec();
        if bytes.len() > n {
            return Err(err(format!("{} characters for {n} places", bytes.len())));
        }
        bytes.resize(n, 0);
        Values::Fixed {
            elem: 1,
            data: bytes.into(),
        }
    } else if *dtype == DataType::String && n == 1 && vals.separator.is_none() {
        // One string: the whole text.
        Values::Strings(vec![vals.text.trim().to_owned()])
    } else {
        let toks = values::tokens(&vals.text, vals.separator.as_deref());
        values::encode(dtype, &toks).map_err(err)?
    };
    if values.len() != n {
        return Err(err(format!(
            "{} values for a shape of {n} elements",
            values.len()
        )));
    }
    Ok(values)
}

fn edit_attribute(
    ctx: &Context<'_>,
    attrs: &mut Vec<Attribute>,
    a: &AttributeElem,
    owner: &str,
) -> Result<()> {
    if let Some(org) = &a.org_name {
        let Some(existing) = attrs.iter_mut().find(|x| &x.name == org) else {
            return Err(ctx.err(format!("{owner}: no attribute {org} to rename {}", a.name)));
        };
        existing.name.clone_from(&a.name);
    }
    let explicit = a
        .dtype
        .as_deref()
        .map(values::data_type)
        .transpose()
        .map_err(|e| ctx.err(format!("{owner}, attribute {}: {e}", a.name)))?;
    let pos = attrs.iter().position(|x| x.name == a.name);
    let Some(text) = &a.value else {
        if pos.is_some() {
            return Ok(());
        }
        return Err(ctx.err(format!("{owner}: new attribute {} needs a value", a.name)));
    };
    let dtype = explicit
        .or_else(|| pos.map(|i| attrs[i].value.dtype()))
        .unwrap_or(DataType::String);
    let value = values::attr_value(&dtype, text, a.separator.as_deref())
        .map_err(|e| ctx.err(format!("{owner}, attribute {}: {e}", a.name)))?;
    match pos {
        Some(i) => attrs[i].value = value,
        None => attrs.push(Attribute::new(a.name.clone(), value)),
    }
    Ok(())
}
