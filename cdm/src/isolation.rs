//! Reader processes: the netCDF-C and HDF5 libraries run on untrusted files in supervised
//! worker processes, so that a damaged file that crashes or hangs a library costs one request,
//! never the server.
//!
//! The libraries are not memory-safe on hostile bytes: a few flipped bits in a netCDF-4 file
//! make HDF5 free a pointer twice inside `nc_open`, and the C runtime then aborts the whole
//! process. So with isolation on, the server never calls them. A [`ReaderPool`] keeps up to N
//! worker processes (the `fathom` binary's hidden `worker` command, running [`serve_worker`]),
//! spoken to over their stdin / stdout with length-prefixed frames:
//!
//! - **open**: the worker opens the file with the ordinary readers ([`crate::catalog::open`])
//!   and sends back the [`Dataset`] model and the read engine's chunk layouts (postcard);
//! - **read**: the worker reads one piece of a variable through the library (the fallback path
//!   for what the engine does not decode) and sends back the canonical bytes.
//!
//! The server keeps the engine's lock-free positional reads and decoding in-process: with the
//! layouts it reads and decodes the bytes itself, in memory-safe code, exactly as without
//! isolation. A worker that dies, exceeds the per-call timeout or answers nonsense is killed and
//! replaced by a fresh one on the next call; the request that hit it gets
//! [`Error::Isolated`], and the file version that did it is remembered, so it is not tried
//! again (and does not kill a worker per request) until it changes on disk.

use std::collections::HashMap;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::engine::EngineReader;
use crate::engine::cache::ChunkCache;
use crate::engine::layout::ChunkLayout;
use crate::error::{Error, Result};
use crate::hyperslab::{Hyperslab, Range};
use crate::model::Dataset;
use crate::source::{ByteStream, Source, blocking_pieces, error_stream};

/// The largest frame either side accepts: a read piece is about a megabyte, a dataset model
/// with its chunk index rarely more than a few; anything near this is a broken peer.
const MAX_FRAME: usize = 256 << 20;
/// Frame tag of a postcard-encoded message.
const TAG_MESSAGE: u8 = 0;
/// Frame tag of raw canonical bytes (a read piece): no encoding step for the bulk data.
const TAG_DATA: u8 = 1;
/// File versions a worker keeps open, so that the pieces of one read do not reopen the file.
const WORKER_OPEN_FILES: usize = 16;
/// File versions remembered as having killed a worker.
const MAX_REMEMBERED_FAILURES: usize = 4096;

/// How to start a worker: a program and its arguments (for the server, its own executable
/// and `worker`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerCommand {
    /// The executable.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
}

/// What a worker is asked.
#[derive(Debug, Serialize, Deserialize)]
enum Request {
    /// Open the file and send its model and engine layouts.
    Open { path: PathBuf },
    /// Read `ranges` of the variable `var` through the library.
    Read {
        path: PathBuf,
        var: String,
        ranges: Vec<Range>,
    },
}

/// A worker's answer to [`Request::Open`] or a failure (a read's data is a raw frame).
#[derive(Debug, Serialize, Deserialize)]
enum Reply {
    Opened {
        dataset: Dataset,
        layouts: Vec<(String, ChunkLayout)>,
    },
    Failed(WireError),
}

/// An [`Error`] as it crosses the pipe, keeping the kinds that decide the HTTP status.
#[derive(Debug, Serialize, Deserialize)]
enum WireError {
    UnknownFormat,
    NoSuchVariable(String),
    NotFound(String),
    Io(String),
    NetCdf { code: i32, message: String },
    Hdf5(String),
    Corrupt(String),
    Unsupported(String),
    Other(String),
}

impl From<&Error> for WireError {
    fn from(e: &Error) -> Self {
        match e {
            Error::UnknownFormat => Self::UnknownFormat,
            Error::NoSuchVariable(v) => Self::NoSuchVariable(v.clone()),
            Error::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
                Self::NotFound(io.to_string())
            }
            Error::Io(io) => Self::Io(io.to_string()),
            Error::NetCdf { code, message } => Self::NetCdf {
                code: *code,
                message: message.clone(),
            },
            Error::Hdf5(m) => Self::Hdf5(m.clone()),
            Error::Corrupt(m) => Self::Corrupt(m.clone()),
            Error::Unsupported(m) => Self::Unsupported(m.clone()),
            Error::Open(m) => Self::Other(m.clone()),
            other => Self::Other(other.to_string()),
        }
    }
}

impl From<WireError> for Error {
    fn from(e: WireError) -> Self {
        match e {
            WireError::UnknownFormat => Self::UnknownFormat,
            WireError::NoSuchVariable(v) => Self::NoSuchVariable(v),
            WireError::NotFound(m) => {
                Self::Io(std::io::Error::new(std::io::ErrorKind::NotFound, m))
            }
            WireError::Io(m) => Self::Io(std::io::Error::other(m)),
            WireError::NetCdf { code, message } => Self::NetCdf { code, message },
            WireError::Hdf5(m) => Self::Hdf5(m),
            WireError::Corrupt(m) => Self::Corrupt(m),
            WireError::Unsupported(m) => Self::Unsupported(m),
            WireError::Other(m) => Self::Open(m),
        }
    }
}

/// Writes one frame: a little-endian `u32` length (tag included), the tag, the payload.
fn write_frame(out: &mut impl Write, tag: u8, payload: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(payload.len() + 1)
        .ok()
        .filter(|&n| n as usize <= MAX_FRAME)
        .ok_or_else(|| std::io::Error::other("frame too large"))?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(&[tag])?;
    out.write_all(payload)?;
    out.flush()
}

/// Reads one frame as (tag, payload); `None` at a clean end of input.
fn read_frame(input: &mut impl Read) -> std::io::Result<Option<(u8, Vec<u8>)>> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes(len) as usize;
    if len == 0 || len > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("bad frame length {len}"),
        ));
    }
    let mut tag = [0u8; 1];
    input.read_exact(&mut tag)?;
    let mut payload = Vec::new();
    input.take(len as u64 - 1).read_to_end(&mut payload)?;
    if payload.len() != len - 1 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(Some((tag[0], payload)))
}

/// The worker side: answers requests from `input` on `output` until `input` ends. Every
/// library call of the process happens here, so a crash ends only this process.
///
/// # Errors
/// When the pipes fail or a request cannot be decoded (the server then replaces the worker).
pub fn serve_worker(input: impl Read, output: impl Write) -> Result<()> {
    let mut input = BufReader::with_capacity(1 << 16, input);
    let mut output = BufWriter::with_capacity(1 << 16, output);
    // The library read path streams through the blocking pool; one small runtime drives it.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut files: HashMap<PathBuf, (SystemTime, u64, Arc<dyn Source>)> = HashMap::new();
    while let Some((tag, frame)) = read_frame(&mut input)? {
        if tag != TAG_MESSAGE {
            return Err(Error::Corrupt("unexpected frame from the server".into()));
        }
        let request: Request = postcard::from_bytes(&frame)
            .map_err(|e| Error::Corrupt(format!("undecodable request: {e}")))?;
        let answer = match request {
            Request::Open { path } => {
                open_in_worker(&mut files, &path).map(|source| Reply::Opened {
                    dataset: Dataset::clone(source.dataset()),
                    layouts: source.engine_layouts(),
                })
            }
            Request::Read { path, var, ranges } => {
                match read_in_worker(&runtime, &mut files, &path, &var, ranges) {
                    Ok(bytes) => {
                        write_frame(&mut output, TAG_DATA, &bytes)?;
                        continue;
                    }
                    Err(e) => Err(e),
                }
            }
        };
        let reply = answer.unwrap_or_else(|e| Reply::Failed(WireError::from(&e)));
        let bytes = postcard::to_allocvec(&reply)
            .map_err(|e| Error::Corrupt(format!("cannot encode the reply: {e}")))?;
        write_frame(&mut output, TAG_MESSAGE, &bytes)?;
    }
    Ok(())
}

/// The worker's open source for `path`, reopened when the file changed on disk.
fn open_in_worker(
    files: &mut HashMap<PathBuf, (SystemTime, u64, Arc<dyn Source>)>,
    path: &Path,
) -> Result<Arc<dyn Source>> {
    let meta = std::fs::metadata(path)?;
    let version = (meta.modified()?, meta.len());
    if let Some((mtime, size, source)) = files.get(path)
        && (*mtime, *size) == version
    {
        return Ok(Arc::clone(source));
    }
    files.remove(path);
    if files.len() >= WORKER_OPEN_FILES {
        files.clear();
    }
    // No chunk cache: the server's engine reads what it can, the library here reads the rest.
    let source = crate::catalog::open(path, None)?;
    files.insert(
        path.to_path_buf(),
        (version.0, version.1, Arc::clone(&source)),
    );
    Ok(source)
}

fn read_in_worker(
    runtime: &tokio::runtime::Runtime,
    files: &mut HashMap<PathBuf, (SystemTime, u64, Arc<dyn Source>)>,
    path: &Path,
    var: &str,
    ranges: Vec<Range>,
) -> Result<Vec<u8>> {
    let source = open_in_worker(files, path)?;
    let shape = source
        .dataset()
        .variable(var)
        .ok_or_else(|| Error::NoSuchVariable(var.to_owned()))?
        .shape();
    let slab = Hyperslab::new(ranges, &shape)?;
    runtime.block_on(crate::source::read_all(&*source, var, &slab))
}

/// A running worker process.
#[derive(Debug)]
struct Worker {
    child: Child,
    stdin: BufWriter<ChildStdin>,
    /// Frames read from the worker's stdout by its reader thread; an error or a closed channel
    /// means the worker is gone.
    frames: mpsc::Receiver<std::io::Result<(u8, Vec<u8>)>>,
}

/// Counters of the pool, for metrics and tests.
#[derive(Debug, Default)]
pub struct PoolStats {
    /// Worker processes started.
    pub started: AtomicU64,
    /// Workers that died during a call (crashed).
    pub crashed: AtomicU64,
    /// Workers killed for exceeding the per-call timeout.
    pub timed_out: AtomicU64,
    /// Calls answered.
    pub calls: AtomicU64,
}

/// Supervised worker processes that run the C libraries for the server.
#[derive(Debug)]
pub struct ReaderPool {
    command: WorkerCommand,
    /// Most workers alive at once.
    size: usize,
    /// Longest a call (an open, a read piece) may take before its worker is killed.
    timeout: Duration,
    state: Mutex<PoolState>,
    /// Signalled when a worker becomes idle or a slot frees up.
    freed: Condvar,
    /// File versions (path, mtime, size) that killed a worker: refused until they change.
    failed: Mutex<HashMap<PathBuf, (SystemTime, u64)>>,
    stats: PoolStats,
}

#[derive(Debug, Default)]
struct PoolState {
    idle: Vec<Worker>,
    /// Workers alive, idle or busy.
    live: usize,
}

impl ReaderPool {
    /// A pool of at most `size` workers started with `command` (lazily, on first use), each
    /// call limited to `timeout`.
    #[must_use]
    pub fn new(command: WorkerCommand, size: usize, timeout: Duration) -> Self {
        Self {
            command,
            size: size.max(1),
            timeout,
            state: Mutex::new(PoolState::default()),
            freed: Condvar::new(),
            failed: Mutex::new(HashMap::new()),
            stats: PoolStats::default(),
        }
    }

    /// The pool's counters.
    #[must_use]
    pub fn stats(&self) -> &PoolStats {
        &self.stats
    }

    /// Workers alive now (idle or busy).
    #[must_use]
    pub fn live(&self) -> usize {
        self.lock_state().live
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn spawn(&self) -> Result<Worker> {
        let mut child = Command::new(&self.command.program)
            .args(&self.command.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| Error::Isolated(format!("cannot start a reader process: {e}")))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Isolated("the reader process has no pipes".into()));
        };
        let (tx, frames) = mpsc::sync_channel(1);
        // Reading on a thread of its own lets a call wait with a timeout; the thread ends
        // when the worker's stdout closes (it exited or was killed).
        let spawned = std::thread::Builder::new()
            .name("fathom-reader-pipe".into())
            .spawn(move || {
                let mut stdout = BufReader::with_capacity(1 << 16, stdout);
                loop {
                    let frame = read_frame(&mut stdout)
                        .and_then(|f| f.ok_or_else(|| std::io::ErrorKind::UnexpectedEof.into()));
                    let failed = frame.is_err();
                    if tx.send(frame).is_err() || failed {
                        return;
                    }
                }
            });
        if let Err(e) = spawned {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Isolated(format!(
                "cannot watch a reader process: {e}"
            )));
        }
        self.stats.started.fetch_add(1, Ordering::Relaxed);
        Ok(Worker {
            child,
            stdin: BufWriter::new(stdin),
            frames,
        })
    }

    /// An idle worker, a new one if there is room, or the first to come free within the
    /// timeout.
    fn acquire(&self) -> Result<Worker> {
        let deadline = Instant::now() + self.timeout;
        let mut state = self.lock_state();
        loop {
            if let Some(worker) = state.idle.pop() {
                return Ok(worker);
            }
            if state.live < self.size {
                state.live += 1;
                drop(state);
                return self.spawn().inspect_err(|_| self.lose_slot());
            }
            let left = deadline
                .checked_duration_since(Instant::now())
                .filter(|d| !d.is_zero())
                .ok_or_else(|| Error::Isolated("every reader process stayed busy".into()))?;
            state = self
                .freed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn release(&self, worker: Worker) {
        self.lock_state().idle.push(worker);
        self.freed.notify_one();
    }

    fn lose_slot(&self) {
        let mut state = self.lock_state();
        state.live = state.live.saturating_sub(1);
        drop(state);
        self.freed.notify_one();
    }

    /// Kills (if still running) and reaps a worker that cannot be trusted any more; its slot
    /// goes to a fresh worker on the next call. Returns how it ended.
    fn discard(&self, mut worker: Worker) -> String {
        let _ = worker.child.kill();
        let status = worker
            .child
            .wait()
            .map_or_else(|e| e.to_string(), |s| s.to_string());
        self.lose_slot();
        status
    }

    /// Sends `request` to a worker and waits for its reply frame.
    fn call(&self, request: &Request) -> Result<(u8, Vec<u8>)> {
        let message = postcard::to_allocvec(request)
            .map_err(|e| Error::Corrupt(format!("cannot encode the request: {e}")))?;
        let mut worker = self.acquire()?;
        if let Err(e) = write_frame(&mut worker.stdin, TAG_MESSAGE, &message) {
            let status = self.discard(worker);
            self.stats.crashed.fetch_add(1, Ordering::Relaxed);
            return Err(Error::Isolated(format!(
                "the reader process was gone ({e}; {status})"
            )));
        }
        match worker.frames.recv_timeout(self.timeout) {
            Ok(Ok(frame)) => {
                self.release(worker);
                self.stats.calls.fetch_add(1, Ordering::Relaxed);
                Ok(frame)
            }
            Ok(Err(_)) | Err(RecvTimeoutError::Disconnected) => {
                let status = self.discard(worker);
                self.stats.crashed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%status, "a reader process died; starting a new one");
                Err(Error::Isolated(format!(
                    "the reader process died on this file ({status})"
                )))
            }
            Err(RecvTimeoutError::Timeout) => {
                self.discard(worker);
                self.stats.timed_out.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(timeout = ?self.timeout, "a reader process hung; killed it");
                Err(Error::Isolated(format!(
                    "the reader process took longer than {:?}",
                    self.timeout
                )))
            }
        }
    }

    /// Whether this file version killed a worker before.
    fn check_not_failed(&self, path: &Path, version: (SystemTime, u64)) -> Result<()> {
        let failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
        if failed.get(path) == Some(&version) {
            return Err(Error::Isolated(
                "it made a reader process fail before, and has not changed since".into(),
            ));
        }
        Ok(())
    }

    /// Remembers that this file version killed a worker, when `result` says so.
    fn note<T>(&self, path: &Path, version: (SystemTime, u64), result: &Result<T>) {
        if let Err(Error::Isolated(_)) = result {
            let mut failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
            if failed.len() >= MAX_REMEMBERED_FAILURES {
                failed.clear();
            }
            failed.insert(path.to_path_buf(), version);
        }
    }

    /// Opens `path` in a worker: its model and engine layouts.
    fn open_remote(&self, path: &Path) -> Result<(Dataset, Vec<(String, ChunkLayout)>)> {
        let (tag, frame) = self.call(&Request::Open {
            path: path.to_path_buf(),
        })?;
        if tag != TAG_MESSAGE {
            return Err(Error::Isolated(
                "the reader process answered out of turn".into(),
            ));
        }
        match postcard::from_bytes::<Reply>(&frame) {
            Ok(Reply::Opened { dataset, layouts }) => Ok((dataset, layouts)),
            Ok(Reply::Failed(e)) => Err(e.into()),
            Err(e) => Err(Error::Isolated(format!(
                "the reader process answered nonsense: {e}"
            ))),
        }
    }

    /// Reads `slab` of `var` in a worker, through the library.
    fn read_remote(&self, path: &Path, var: &str, slab: &Hyperslab) -> Result<Bytes> {
        let (tag, frame) = self.call(&Request::Read {
            path: path.to_path_buf(),
            var: var.to_owned(),
            ranges: slab.ranges().to_vec(),
        })?;
        match tag {
            TAG_DATA => Ok(Bytes::from(frame)),
            _ => match postcard::from_bytes::<Reply>(&frame) {
                Ok(Reply::Failed(e)) => Err(e.into()),
                _ => Err(Error::Isolated(
                    "the reader process answered a read with something else".into(),
                )),
            },
        }
    }
}

impl Drop for ReaderPool {
    fn drop(&mut self) {
        let idle = std::mem::take(&mut self.lock_state().idle);
        for mut worker in idle {
            // Closing stdin ends a healthy worker; kill covers one that does not listen.
            let _ = worker.child.kill();
            let _ = worker.child.wait();
        }
    }
}

/// A dataset opened in a worker: the model and engine layouts came from there; the engine
/// reads in this process, and the rest is read through the library in a worker.
#[derive(Debug)]
pub struct IsolatedSource {
    dataset: Arc<Dataset>,
    layouts: Vec<(String, ChunkLayout)>,
    engine: Option<Arc<EngineReader>>,
    pool: Arc<ReaderPool>,
    path: PathBuf,
    /// The file version (mtime, size) opened, to remember it if it kills a worker.
    version: (SystemTime, u64),
}

impl IsolatedSource {
    /// Whether the read engine (rather than the library, in a worker) reads the variable at
    /// `path`.
    #[must_use]
    pub fn uses_engine(&self, path: &str) -> bool {
        self.engine.as_ref().is_some_and(|e| e.reads(path))
    }
}

impl Source for IsolatedSource {
    fn dataset(&self) -> &Arc<Dataset> {
        &self.dataset
    }

    fn read(&self, path: &str, slab: &Hyperslab) -> ByteStream {
        if let Some(stream) = self.engine.as_ref().and_then(|e| e.read(path, slab)) {
            return stream;
        }
        let Some(var) = self.dataset.variable(path) else {
            return error_stream(Error::NoSuchVariable(path.to_owned()));
        };
        if let Err(e) = Hyperslab::new(slab.ranges().to_vec(), &var.shape()) {
            return error_stream(e.into());
        }
        if let Err(e) = self.pool.check_not_failed(&self.path, self.version) {
            return error_stream(e);
        }
        let elem = var.dtype.fixed_size().unwrap_or(64);
        let pool = Arc::clone(&self.pool);
        let (file, version, var) = (self.path.clone(), self.version, path.to_owned());
        blocking_pieces(slab, elem, move |piece| {
            let result = pool.read_remote(&file, &var, piece);
            pool.note(&file, version, &result);
            result
        })
    }

    fn engine_layouts(&self) -> Vec<(String, ChunkLayout)> {
        self.layouts.clone()
    }

    fn stored_chunks(&self, path: &str) -> Option<crate::engine::StoredChunks> {
        self.engine.as_ref()?.stored_chunks(path)
    }
}

/// Opens the file at `path` in one of `pool`'s workers. Blocking. With a `cache`, the engine
/// reads in this process what it can, as [`crate::catalog::open`] does.
///
/// # Errors
/// The reader's error as the worker reports it, or [`Error::Isolated`] when the worker died,
/// hung or this file version made one fail before.
pub fn open(
    pool: &Arc<ReaderPool>,
    path: &Path,
    cache: Option<&ChunkCache>,
) -> Result<Arc<dyn Source>> {
    let meta = std::fs::metadata(path)?;
    let version = (meta.modified()?, meta.len());
    pool.check_not_failed(path, version)?;
    let result = pool.open_remote(path);
    pool.note(path, version, &result);
    let (dataset, layouts) = result?;
    let engine = match cache {
        Some(cache) => EngineReader::new(path, cache, layouts.iter().cloned())?.map(Arc::new),
        None => None,
    };
    Ok(Arc::new(IsolatedSource {
        dataset: Arc::new(dataset),
        layouts,
        engine,
        pool: Arc::clone(pool),
        path: path.to_path_buf(),
        version,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(program: &str, args: &[&str], timeout: Duration) -> Arc<ReaderPool> {
        Arc::new(ReaderPool::new(
            WorkerCommand {
                program: program.into(),
                args: args.iter().map(|s| (*s).to_owned()).collect(),
            },
            2,
            timeout,
        ))
    }

    fn a_file() -> tempfile_path::TempFile {
        tempfile_path::TempFile::new(b"CDF\x01 not really")
    }

    /// A small file that removes itself.
    mod tempfile_path {
        pub(super) struct TempFile(pub(super) std::path::PathBuf);
        impl TempFile {
            pub(super) fn new(bytes: &[u8]) -> Self {
                static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let path = std::env::temp_dir()
                    .join(format!("fathom-isolation-{}-{n}.nc", std::process::id()));
                std::fs::write(&path, bytes).expect("temp file");
                Self(path)
            }
        }
        impl Drop for TempFile {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    #[test]
    fn a_worker_that_crashes_is_an_isolated_error_and_is_replaced() {
        // The worker dies of SIGABRT as soon as it is asked anything, like a library abort.
        let pool = pool(
            "sh",
            &["-c", "head -c 1 >/dev/null; kill -ABRT $$"],
            Duration::from_secs(20),
        );
        let file = a_file();
        let err = open(&pool, &file.0, None).expect_err("the worker died");
        let Error::Isolated(message) = &err else {
            panic!("not an isolation error: {err:?}");
        };
        assert!(message.contains("died"), "{message}");
        assert!(
            message.contains("SIGABRT") || message.contains('6'),
            "{message}"
        );
        assert_eq!(pool.live(), 0, "the dead worker gave its slot back");
        assert_eq!(pool.stats().crashed.load(Ordering::Relaxed), 1);
        // The same file version is refused without killing another worker.
        let again = open(&pool, &file.0, None).expect_err("remembered");
        assert!(again.to_string().contains("before"), "{again}");
        assert_eq!(pool.stats().started.load(Ordering::Relaxed), 1);
        // Another file gets a fresh worker.
        let other = a_file();
        assert!(matches!(
            open(&pool, &other.0, None),
            Err(Error::Isolated(_))
        ));
        assert_eq!(pool.stats().started.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_worker_that_hangs_is_killed_at_the_timeout() {
        let pool = pool("sleep", &["600"], Duration::from_millis(300));
        let file = a_file();
        let started = Instant::now();
        let err = open(&pool, &file.0, None).expect_err("the worker hung");
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(err.to_string().contains("longer than"), "{err}");
        assert_eq!(pool.stats().timed_out.load(Ordering::Relaxed), 1);
        assert_eq!(pool.live(), 0);
    }

    #[test]
    fn a_worker_that_answers_nonsense_is_refused() {
        // `cat` echoes the request: a well-formed frame that is no reply.
        let pool = pool("cat", &[], Duration::from_secs(20));
        let file = a_file();
        let err = open(&pool, &file.0, None).expect_err("nonsense");
        assert!(matches!(err, Error::Isolated(_)), "{err:?}");
    }

    #[test]
    fn a_worker_that_cannot_start_is_an_error_not_a_panic() {
        let pool = pool("/nonexistent/fathom", &[], Duration::from_secs(5));
        let file = a_file();
        let err = open(&pool, &file.0, None).expect_err("no such program");
        assert!(err.to_string().contains("cannot start"), "{err}");
        assert_eq!(pool.live(), 0);
    }

    #[test]
    fn frames_round_trip_and_oversized_lengths_are_refused() {
        let mut buf = Vec::new();
        write_frame(&mut buf, TAG_DATA, b"abc").expect("write");
        let (tag, payload) = read_frame(&mut buf.as_slice())
            .expect("read")
            .expect("a frame");
        assert_eq!((tag, payload.as_slice()), (TAG_DATA, &b"abc"[..]));
        let huge = u32::MAX.to_le_bytes();
        assert!(read_frame(&mut huge.as_slice()).is_err());
        let truncated = [10u8, 0, 0, 0, TAG_DATA, 1, 2];
        assert!(read_frame(&mut truncated.as_slice()).is_err());
        assert!(read_frame(&mut [].as_slice()).expect("clean end").is_none());
    }
}
