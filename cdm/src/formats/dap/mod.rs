//! A dataset on a remote OPeNDAP server as a [`Source`]: [`open_remote`] fetches its metadata
//! (DAP4 DMR, or DAP2 DDS + DAS), maps it into the CDM model, and reads hyperslabs with
//! constrained `.dap` / `.dods` requests.
//!
//! - Protocol: with [`DapProtocol::Auto`] the client asks for the DMR first; when it parses, it
//!   checks that the server also answers a one-element `.dap` request (pydap's server, for one,
//!   sends DMRs but no `.dap`), and uses DAP4. Anything else falls back to DAP2. A URL spelled
//!   `dap4://…` or `dap2://…` forces the protocol (as netcdf-c and TDS do); `https://` goes
//!   through rustls ([`http`]).
//! - [`catalog`]: remote THREDDS `catalog.xml` files, for catalog mounts.
//! - Types: atomic ones, enums, groups and shared dimensions as the DMR / DDS declares them;
//!   Structures, Sequences and Opaques as the CDM compound, vlen and opaque types ([`dmr`],
//!   [`dap2`] say how); what has no CDM form is left out and named in `_fathom_omitted`.
//! - Reads: each variable is cut into a grid of blocks of about [`BLOCK_BYTES`] (whole trailing
//!   dimensions first); a read fetches only the blocks its hyperslab touches, each with one
//!   constrained request, and keeps them in the shared chunk cache, so repeated and overlapping
//!   reads do not go upstream again. A warm read hands out slices of the cached blocks for
//!   runs of [`SHARE_BYTES`] or more (a whole block, a row of a large variable) and copies only
//!   short runs, so it costs about what a local read of decoded chunks does.
//! - Settings: a mount passes its own [`RemoteOptions`]; NcML members get theirs from the
//!   operator's [`RemotePolicy`] for the URL's host.
//! - Faults: timeouts, refused connections and 502/503/504 answers are retried a bounded number
//!   of times with backoff ([`http`]); every response is checked against what was asked
//!   (`wire`), and DAP4 checksums are verified when the server sends them.

pub mod catalog;
mod dap2;
pub(crate) mod dmr;
pub(crate) mod http;
mod wire;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::engine::cache::{ChunkCache, ChunkKey};
use crate::error::{Error, Result};
use crate::hyperslab::{Hyperslab, Range};
use crate::model::{DataType, Dataset};
use crate::source::{ByteStream, Source, error_stream};

use self::http::Http;

/// Parses a remote DMR into the model, for the fuzz targets ([`crate::fuzzing`]).
pub(crate) fn parse_dmr(text: &str) -> Result<Dataset> {
    dmr::parse(text, true)
}

/// Parses a remote DDS and DAS and maps them into the model, for the fuzz targets.
pub(crate) fn parse_dds_das(dds: &str, das: &str) -> bool {
    match (dap2::parse_dds(dds), dap2::parse_das(das)) {
        (Ok(dds), Ok(das)) => dap2::to_dataset("fuzz", &dds, &das).is_ok(),
        _ => false,
    }
}

/// Decodes `body` as a `.dap` and as a `.dods` response of one variable, for the fuzz targets.
pub(crate) fn decode_bodies(body: &[u8], dtype: &DataType, counts: &[usize]) -> (bool, bool) {
    let dap = wire::decode_dap(body, "/v", dtype, counts).is_ok();
    let base = match dtype {
        DataType::Int8 | DataType::UInt8 => dap2::BaseType::Byte,
        DataType::Int16 => dap2::BaseType::Int16,
        DataType::Float64 => dap2::BaseType::Float64,
        DataType::String => dap2::BaseType::String,
        _ => dap2::BaseType::Int32,
    };
    let dods = wire::decode_dods(body, "v", base, None, counts).is_ok();
    (dap, dods)
}

/// Which protocol to speak to the remote server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DapProtocol {
    /// DAP4 when the server answers it (DMR and `.dap`), DAP2 otherwise.
    #[default]
    Auto,
    /// DDS + DAS, `.dods`.
    Dap2,
    /// DMR, `.dap`.
    Dap4,
}

/// How to reach a remote dataset.
#[derive(Clone, Debug)]
pub struct RemoteOptions {
    /// The protocol, or how to choose it.
    pub protocol: DapProtocol,
    /// Time allowed for one request to the remote server, body included.
    pub timeout: Duration,
    /// Further attempts after a failed one that is worth retrying (timeouts, refused
    /// connections, 502/503/504).
    pub retries: u32,
    /// The shared chunk cache that fetched blocks go into; `None` fetches every time.
    pub cache: Option<ChunkCache>,
    /// PEM certificates trusted for `https://`, besides the system's (a private authority or
    /// a self-signed server).
    pub ca_file: Option<std::path::PathBuf>,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        Self {
            protocol: DapProtocol::Auto,
            timeout: Duration::from_secs(30),
            retries: 2,
            cache: None,
            ca_file: None,
        }
    }
}

/// How long to wait for, how often to retry, and which certificates to trust from one remote
/// server.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteSettings {
    /// Time allowed for one request, body included.
    pub timeout: Duration,
    /// Further attempts after a failure worth retrying.
    pub retries: u32,
    /// PEM certificates trusted for `https://` besides the system's.
    pub ca_file: Option<std::path::PathBuf>,
}

impl Default for RemoteSettings {
    fn default() -> Self {
        let o = RemoteOptions::default();
        Self {
            timeout: o.timeout,
            retries: o.retries,
            ca_file: o.ca_file,
        }
    }
}

/// The operator's settings for remote datasets that NcML files in the data root name as
/// members: a default and overrides by host (`host` or `host:port`, as the URL spells it). An
/// NcML file can choose a URL but none of these settings, so it cannot wait longer, retry more
/// or trust more certificates than the operator allowed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RemotePolicy {
    /// For hosts without an entry of their own.
    pub default: RemoteSettings,
    /// `(host, settings)`: the first entry whose host equals the URL's (case-insensitive).
    pub hosts: Vec<(String, RemoteSettings)>,
    /// Wraps every remote member source once opened (the server uses it to learn of read
    /// failures while it can still choose the response status).
    pub tap: Option<SourceTap>,
}

/// A function that wraps a source in another.
pub type WrapSource = dyn Fn(Arc<dyn Source>) -> Arc<dyn Source> + Send + Sync;

/// A function that wraps a source in another (see [`RemotePolicy::tap`]).
#[derive(Clone)]
pub struct SourceTap(pub Arc<WrapSource>);

impl fmt::Debug for SourceTap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SourceTap")
    }
}

impl PartialEq for SourceTap {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl RemotePolicy {
    /// The settings for the dataset at `url`.
    #[must_use]
    pub fn settings_for(&self, url: &str) -> &RemoteSettings {
        let host = url.split_once("://").map_or("", |(_, rest)| {
            rest.split(['/', '?', '#']).next().unwrap_or("")
        });
        let host = host.rsplit('@').next().unwrap_or(host);
        self.hosts
            .iter()
            .find(|(h, _)| h.eq_ignore_ascii_case(host))
            .map_or(&self.default, |(_, s)| s)
    }

    /// Options to open the dataset at `url` with, reading through `cache`.
    #[must_use]
    pub fn options_for(&self, url: &str, cache: Option<ChunkCache>) -> RemoteOptions {
        let s = self.settings_for(url);
        RemoteOptions {
            protocol: DapProtocol::Auto,
            timeout: s.timeout,
            retries: s.retries,
            cache,
            ca_file: s.ca_file.clone(),
        }
    }
}

/// Whether `location` is a remote dataset URL that [`open_remote`] takes (`http://`,
/// `https://`, `dap2://`, `dap4://`), rather than a file path.
#[must_use]
pub fn is_remote_url(location: &str) -> bool {
    let lower = location.get(..8).unwrap_or(location).to_ascii_lowercase();
    ["http://", "https://", "dap2://", "dap4://"]
        .iter()
        .any(|p| lower.starts_with(p))
}

/// Bytes of values per block of the block grid: one upstream request each.
pub const BLOCK_BYTES: usize = 512 * 1024;
/// A guess at the size of one string, to size blocks of string variables.
const STRING_GUESS: usize = 64;
/// Largest metadata document accepted from a remote server.
const MAX_METADATA_BYTES: usize = 64 << 20;
/// Largest data response accepted for a block of strings.
const MAX_STRING_BLOCK_BYTES: usize = 256 << 20;
/// Output elements assembled per buffer of the read stream.
const PIECE_ELEMENTS: usize = 256 * 1024;

/// Opens the dataset at `url` (`http://host/path/file.nc`, or `dap2://` / `dap4://` to force
/// the protocol): fetches and maps its metadata. Any caller — a configured mount, an NcML
/// `location`, a test — opens remote datasets through this one function.
///
/// # Errors
/// [`Error::Upstream`] when the server cannot be reached or its metadata cannot be read,
/// [`Error::UpstreamTimeout`] when it does not answer in time.
pub async fn open_remote(url: &str, options: RemoteOptions) -> Result<Arc<dyn Source>> {
    Ok(Arc::new(DapSource::open(url, options).await?))
}

/// What the source speaks to its server.
enum Wire {
    Dap2(HashMap<String, dap2::RemoteVar2>),
    Dap4,
}

/// A remote dataset.
pub struct DapSource {
    /// The dataset URL, without suffix or query.
    url: String,
    http: Http,
    wire: Wire,
    dataset: Arc<Dataset>,
    /// Variable path → its number, for cache keys.
    numbers: HashMap<String, u32>,
    /// This open's number in the chunk cache.
    id: u64,
    cache: Option<ChunkCache>,
}

impl fmt::Debug for DapSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DapSource")
            .field("url", &self.url)
            .field("protocol", &self.protocol())
            .finish_non_exhaustive()
    }
}

impl DapSource {
    /// Opens the dataset at `url`; see [`open_remote`].
    ///
    /// # Errors
    /// As [`open_remote`].
    pub async fn open(url: &str, options: RemoteOptions) -> Result<Self> {
        let (url, protocol) = if let Some(rest) = url.strip_prefix("dap4://") {
            (format!("http://{rest}"), DapProtocol::Dap4)
        } else if let Some(rest) = url.strip_prefix("dap2://") {
            (format!("http://{rest}"), DapProtocol::Dap2)
        } else {
            (url.to_owned(), options.protocol)
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.contains(['?', '#'])
        {
            return Err(Error::Upstream(format!(
                "{url:?} is not an http:// or https:// dataset URL without query"
            )));
        }
        let url = url.trim_end_matches('/').to_owned();
        let name = url.rsplit('/').next().unwrap_or_default().to_owned();
        let http = Http::new(options.timeout, options.retries, options.ca_file.as_deref())?;
        let (dataset, wire) = match protocol {
            DapProtocol::Dap4 => (open_dap4(&http, &url, &name).await?, Wire::Dap4),
            DapProtocol::Dap2 => open_dap2(&http, &url, &name).await?,
            DapProtocol::Auto => match open_dap4(&http, &url, &name).await {
                Ok(ds) if probe_dap4(&http, &url, &ds).await => (ds, Wire::Dap4),
                Err(e @ Error::UpstreamTimeout(_)) => return Err(e),
                _ => open_dap2(&http, &url, &name).await?,
            },
        };
        let numbers = dataset
            .all_variables()
            .enumerate()
            .map(|(i, v)| (v.path.clone(), u32::try_from(i).unwrap_or(u32::MAX)))
            .collect();
        Ok(Self {
            url,
            http,
            wire,
            dataset: Arc::new(dataset),
            numbers,
            id: crate::engine::next_file_id(),
            cache: options.cache,
        })
    }

    /// The protocol this source speaks.
    #[must_use]
    pub fn protocol(&self) -> DapProtocol {
        match self.wire {
            Wire::Dap2(_) => DapProtocol::Dap2,
            Wire::Dap4 => DapProtocol::Dap4,
        }
    }
}

async fn open_dap4(http: &Http, url: &str, name: &str) -> Result<Dataset> {
    let body = http.get(&format!("{url}.dmr"), MAX_METADATA_BYTES).await?;
    let mut ds = dmr::parse(&String::from_utf8_lossy(&body), true)?;
    name.clone_into(&mut ds.name);
    Ok(ds)
}

/// Whether the server answers a one-element `.dap` request for the first variable that has
/// values (or the dataset has none).
async fn probe_dap4(http: &Http, url: &str, ds: &Dataset) -> bool {
    let Some(v) = ds.all_variables().find(|v| !v.is_empty()) else {
        return true;
    };
    let ranges: Vec<Range> = v.dims.iter().map(|_| Range::full(1)).collect();
    let ce = dap4_ce(&v.path, &ranges);
    let probe = format!("{url}.dap?dap4.ce={ce}");
    match http.get(&probe, MAX_STRING_BLOCK_BYTES).await {
        Ok(body) => wire::decode_dap(&body, &v.path, &v.dtype, &vec![1; v.dims.len()]).is_ok(),
        Err(_) => false,
    }
}

async fn open_dap2(http: &Http, url: &str, name: &str) -> Result<(Dataset, Wire)> {
    let dds = http.get(&format!("{url}.dds"), MAX_METADATA_BYTES).await?;
    let das = http.get(&format!("{url}.das"), MAX_METADATA_BYTES).await?;
    let dds = dap2::parse_dds(&String::from_utf8_lossy(&dds))?;
    let das = dap2::parse_das(&String::from_utf8_lossy(&das))?;
    let (ds, vars) = dap2::to_dataset(name, &dds, &das)?;
    Ok((ds, Wire::Dap2(vars)))
}

/// Characters left as they are in a constraint: letters, digits and `_-.~/`.
const CE_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'-')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

fn subscripts(ranges: &[Range]) -> String {
    let mut s = String::new();
    for r in ranges {
        let last = r.start + r.count.saturating_sub(1) * r.stride;
        s.push_str(&format!("[{}:{}:{}]", r.start, r.stride, last));
    }
    s
}

fn dap4_ce(path: &str, ranges: &[Range]) -> String {
    utf8_percent_encode(&format!("{path}{}", subscripts(ranges)), CE_KEEP).to_string()
}

/// The block shape of a variable of `shape` whose elements take about `elem` bytes: whole
/// trailing dimensions while they fit in [`BLOCK_BYTES`], then a part of the next one.
fn block_shape(shape: &[usize], elem: usize) -> Vec<usize> {
    let target = (BLOCK_BYTES / elem.max(1)).max(1);
    let mut block = vec![1; shape.len()];
    let mut inner = 1usize;
    for d in (0..shape.len()).rev() {
        let fit = (target / inner).max(1);
        block[d] = shape[d].clamp(1, fit.max(1)).min(shape[d].max(1));
        inner = inner.saturating_mul(block[d]);
    }
    block
}

/// One variable's block grid.
#[derive(Clone, Debug)]
struct Grid {
    shape: Vec<usize>,
    block: Vec<usize>,
    /// Blocks along each dimension.
    blocks: Vec<usize>,
}

impl Grid {
    fn new(shape: &[usize], elem: usize) -> Self {
        let block = block_shape(shape, elem);
        let blocks = shape
            .iter()
            .zip(&block)
            .map(|(s, b)| s.div_ceil(*b).max(1))
            .collect();
        Self {
            shape: shape.to_vec(),
            block,
            blocks,
        }
    }

    /// The linear number of the block at grid coordinates `b`.
    fn number(&self, b: &[usize]) -> u64 {
        b.iter()
            .zip(&self.blocks)
            .fold(0u64, |acc, (i, n)| acc * (*n as u64) + *i as u64)
    }

    /// The element ranges the block at grid coordinates `b` covers.
    fn extent(&self, b: &[usize]) -> Vec<Range> {
        b.iter()
            .zip(&self.block)
            .zip(&self.shape)
            .map(|((i, bl), s)| {
                let start = i * bl;
                Range {
                    start,
                    count: (*bl).min(s.saturating_sub(start)),
                    stride: 1,
                }
            })
            .collect()
    }
}

/// A block in hand: its element ranges, its values, and where each value starts when the type's
/// size varies (one offset per element, plus the end).
type FetchedBlock = (Vec<Range>, Bytes, Option<Vec<usize>>);

/// What one read needs, cheap to clone into its stream.
#[derive(Clone)]
struct Reader {
    url: Arc<str>,
    http: Http,
    /// What the DAP2 server calls the variable and sends it as, or `None` for DAP4.
    dap2: Option<dap2::RemoteVar2>,
    path: Arc<str>,
    dtype: DataType,
    number: u32,
    id: u64,
    cache: Option<ChunkCache>,
    grid: Arc<Grid>,
}

impl Reader {
    /// The values of one block, from the cache or with one request.
    async fn block(&self, b: Vec<usize>) -> Result<Bytes> {
        let key = ChunkKey {
            file: self.id,
            var: self.number,
            chunk: self.grid.number(&b),
        };
        let extent = self.grid.extent(&b);
        match &self.cache {
            Some(cache) => cache
                .get_or_load(key, self.fetch(extent))
                .await
                .map_err(|e| Error::unshare(&e)),
            None => self.fetch(extent).await,
        }
    }

    async fn fetch(&self, extent: Vec<Range>) -> Result<Bytes> {
        let counts: Vec<usize> = extent.iter().map(|r| r.count).collect();
        let n: usize = counts.iter().product();
        let max = match self.dtype.fixed_size() {
            // XDR takes up to 4 bytes for a 1-byte value (a Byte or Int8 field of a Structure).
            Some(s) => n.saturating_mul(s).saturating_mul(4) + (1 << 20),
            None => MAX_STRING_BLOCK_BYTES,
        };
        let values = match &self.dap2 {
            None => {
                let url = format!(
                    "{}.dap?dap4.ce={}&dap4.checksum=true",
                    self.url,
                    dap4_ce(&self.path, &extent)
                );
                let body = self.http.get(&url, max).await?;
                wire::decode_dap(&body, &self.path, &self.dtype, &counts)?
            }
            Some(v) => {
                let ce = utf8_percent_encode(&v.name, CE_KEEP).to_string()
                    + &utf8_percent_encode(&subscripts(&extent), CE_KEEP).to_string();
                let url = format!("{}.dods?{ce}", self.url);
                let body = self.http.get(&url, max).await?;
                wire::decode_dods(
                    &body,
                    &v.name,
                    v.base,
                    v.members.as_ref().map(|m| (m.as_slice(), v.sequence)),
                    &counts,
                )?
            }
        };
        Ok(Bytes::from(values))
    }

    /// The values of `piece`, cut from the blocks it touches: long runs are slices of the
    /// cached blocks, short ones are copied.
    async fn piece(&self, piece: Hyperslab) -> Result<Vec<Bytes>> {
        let g = &self.grid;
        let rank = g.shape.len();
        // The block range each dimension of the piece touches.
        let spans: Vec<(usize, usize)> = piece
            .ranges()
            .iter()
            .zip(&g.block)
            .map(|(r, b)| (r.start / b, r.last() / b))
            .collect();
        // Every block the piece touches, by grid coordinates.
        let mut coords_list: Vec<Vec<usize>> = vec![Vec::new()];
        for &(lo, hi) in &spans {
            coords_list = coords_list
                .into_iter()
                .flat_map(|p| {
                    (lo..=hi).map(move |i| {
                        let mut q = p.clone();
                        q.push(i);
                        q
                    })
                })
                .collect();
        }
        let mut blocks: HashMap<u64, FetchedBlock> = HashMap::new();
        for b in coords_list {
            let bytes = self.block(b.clone()).await?;
            let offsets = if self.dtype.fixed_size().is_none() {
                let mut offs = Vec::new();
                let mut pos = 0usize;
                for e in crate::encoding::split_elements(&self.dtype, &bytes)? {
                    offs.push(pos);
                    pos += e.len();
                }
                offs.push(pos);
                Some(offs)
            } else {
                None
            };
            blocks.insert(g.number(&b), (g.extent(&b), bytes, offsets));
        }
        let size = self.dtype.fixed_size();
        let mut out = Output::default();
        let mut idx: Vec<usize> = vec![0; rank];
        let mut coords = vec![0usize; rank];
        let mut bc = vec![0usize; rank];
        let total = piece.len();
        let mut done = 0usize;
        while done < total {
            for d in 0..rank {
                let r = piece.ranges()[d];
                coords[d] = r.start + idx[d] * r.stride;
                bc[d] = coords[d] / g.block[d];
            }
            let (extent, bytes, offsets) = blocks
                .get(&g.number(&bc))
                .ok_or_else(|| Error::Corrupt("a block went missing".into()))?;
            let mut off = 0usize;
            for d in 0..rank {
                off = off * extent[d].count + (coords[d] - extent[d].start);
            }
            // Fixed-size values with unit stride along the last dimension are taken a run at a
            // time: to the end of the piece's row or of the block's, whichever comes first.
            let run = match (size, rank.checked_sub(1)) {
                (Some(_), Some(last)) if piece.ranges()[last].stride == 1 => {
                    let in_piece = piece.ranges()[last].count - idx[last];
                    let in_block = extent[last].start + extent[last].count - coords[last];
                    in_piece.min(in_block).max(1)
                }
                _ => 1,
            };
            let span = match (size, offsets) {
                (Some(s), _) => Some((off * s, (off + run) * s)),
                (None, Some(o)) => o.get(off).copied().zip(o.get(off + 1).copied()),
                (None, None) => None,
            }
            .filter(|(a, z)| a <= z && *z <= bytes.len())
            .ok_or_else(|| Error::Upstream("a block holds fewer values than asked".into()))?;
            out.take(bytes, span);
            done += run;
            if let Some(last) = rank.checked_sub(1) {
                idx[last] += run;
                let mut d = last;
                while d > 0 && idx[d] >= piece.ranges()[d].count {
                    idx[d] = 0;
                    d -= 1;
                    idx[d] += 1;
                }
            }
        }
        Ok(out.finish())
    }
}

/// Below this many bytes, a run of values is copied into the output; at or above it, the
/// output refers to the cached block itself (a slice, no copy).
const SHARE_BYTES: usize = 16 * 1024;

/// The buffers of one piece of a read, in order: slices of cached blocks for long runs of
/// consecutive values, copies for short ones.
#[derive(Default)]
struct Output {
    parts: Vec<Bytes>,
    /// Short runs copied since the last slice.
    copied: Vec<u8>,
    /// The run being extended: a block and a byte range of it.
    open: Option<(Bytes, usize, usize)>,
}

impl Output {
    /// Appends bytes `span` of `block`, extending the open run when they follow it.
    fn take(&mut self, block: &Bytes, span: (usize, usize)) {
        if let Some((b, _, end)) = &mut self.open
            && b.as_ptr() == block.as_ptr()
            && *end == span.0
        {
            *end = span.1;
            return;
        }
        self.close();
        self.open = Some((block.clone(), span.0, span.1));
    }

    fn close(&mut self) {
        let Some((block, start, end)) = self.open.take() else {
            return;
        };
        if end - start >= SHARE_BYTES {
            if !self.copied.is_empty() {
                self.parts
                    .push(Bytes::from(std::mem::take(&mut self.copied)));
            }
            self.parts.push(block.slice(start..end));
        } else {
            self.copied.extend_from_slice(&block[start..end]);
        }
    }

    fn finish(mut self) -> Vec<Bytes> {
        self.close();
        if !self.copied.is_empty() {
            self.parts.push(Bytes::from(self.copied));
        }
        self.parts
    }
}

impl Source for DapSource {
    fn dataset(&self) -> &Arc<Dataset> {
        &self.dataset
    }

    fn read(&self, path: &str, slab: &Hyperslab) -> ByteStream {
        let Some(var) = self.dataset.variable(path) else {
            return error_stream(Error::NoSuchVariable(path.to_owned()));
        };
        let shape = var.shape();
        if slab.rank() != shape.len()
            || slab
                .ranges()
                .iter()
                .zip(&shape)
                .any(|(r, len)| r.count > 0 && r.last() >= *len)
        {
            return error_stream(Error::Hyperslab(
                crate::hyperslab::HyperslabError::WrongRank {
                    expected: shape.len(),
                    got: slab.rank(),
                },
            ));
        }
        if slab.is_empty() {
            return Box::pin(futures::stream::empty());
        }
        let dap2 = match &self.wire {
            Wire::Dap4 => None,
            Wire::Dap2(vars) => match vars.get(path) {
                Some(v) => Some(v.clone()),
                None => return error_stream(Error::NoSuchVariable(path.to_owned())),
            },
        };
        let elem = var.dtype.fixed_size().unwrap_or(STRING_GUESS);
        let reader = Reader {
            url: Arc::from(self.url.as_str()),
            http: self.http.clone(),
            dap2,
            path: Arc::from(path),
            dtype: var.dtype.clone(),
            number: self.numbers.get(path).copied().unwrap_or(u32::MAX),
            id: self.id,
            cache: self.cache.clone(),
            grid: Arc::new(Grid::new(&shape, elem)),
        };
        let pieces = slab.split(PIECE_ELEMENTS);
        Box::pin(
            futures::stream::iter(pieces)
                .then(move |p| {
                    let reader = reader.clone();
                    async move { reader.piece(p).await }
                })
                .flat_map(|parts| {
                    futures::stream::iter(match parts {
                        Ok(parts) => parts.into_iter().map(Ok).collect::<Vec<_>>(),
                        Err(e) => vec![Err(e)],
                    })
                })
                .scan(false, |failed, item| {
                    // Stop after the first error: the consumer sees it once.
                    if *failed {
                        return futures::future::ready(None);
                    }
                    *failed = item.is_err();
                    futures::future::ready(Some(item))
                }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_take_whole_trailing_dimensions_first() {
        assert_eq!(block_shape(&[12, 90, 180], 4), vec![8, 90, 180]);
        assert_eq!(block_shape(&[10], 8), vec![10]);
        assert_eq!(block_shape(&[], 8), Vec::<usize>::new());
        assert_eq!(block_shape(&[4, 1_000_000], 4), vec![1, 131_072]);
        assert_eq!(block_shape(&[3, 0], 4), vec![3, 1]);
        let g = Grid::new(&[4, 1_000_000], 4);
        assert_eq!(g.blocks, vec![4, 8]);
        assert_eq!(g.number(&[1, 2]), 10);
        assert_eq!(g.extent(&[3, 7])[1].count, 1_000_000 - 7 * 131_072);
    }

    #[test]
    fn member_settings_follow_the_host() {
        let slow = RemoteSettings {
            timeout: Duration::from_secs(90),
            retries: 0,
            ca_file: None,
        };
        let policy = RemotePolicy {
            default: RemoteSettings::default(),
            hosts: vec![("Archive.example:8080".into(), slow.clone())],
            tap: None,
        };
        assert_eq!(
            policy.settings_for("dap4://archive.example:8080/a/b.nc"),
            &slow
        );
        assert_eq!(
            policy.settings_for("http://u@archive.example:8080/x"),
            &slow
        );
        assert_eq!(
            policy.settings_for("http://archive.example/x"),
            &RemoteSettings::default()
        );
        let o = policy.options_for("http://archive.example:8080/x", None);
        assert_eq!((o.timeout, o.retries), (Duration::from_secs(90), 0));
    }

    #[test]
    fn constraints_are_escaped() {
        let r = [Range {
            start: 2,
            count: 3,
            stride: 2,
        }];
        assert_eq!(dap4_ce("/g/v", &r), "/g/v%5B2%3A2%3A6%5D");
    }
}
