//! A read-only HDF5 virtual file driver whose reads go through the engine's [`Storage`] (an
//! object read by ranged GETs), with an aligned page cache: HDF5 reads its superblock, object
//! headers, heaps and chunk B-trees as many small pieces, and each would otherwise be a request.
//!
//! The first [`PREFETCH_BYTES`] are read up front with one request (the superblock, the root
//! group and, in files written by netCDF-C and h5py, most object headers live there); every
//! later read fetches the [`PAGE_BYTES`]-aligned pages it touches that are not yet cached, all
//! of them in one coalesced call. Reads larger than [`BYPASS_BYTES`] (raw data the library
//! reads itself: strings, compounds) go straight to the storage and are not cached.
//!
//! The driver's callbacks run inside HDF5, under the library lock, on a blocking thread: they
//! block on the storage (which hands its requests to the object-store runtime and waits). Each
//! callback catches panics, so none unwinds into C. The layout of HDF5's driver structures is
//! the one of HDF5 1.10.8 (Debian's); with another library version the driver is not used and
//! [`open`] says so.

use std::collections::{HashMap, VecDeque};
use std::ffi::{CString, c_char, c_int, c_uint, c_ulong, c_void};
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use bytes::Bytes;
use hdf5_sys::h5::{haddr_t, herr_t, hsize_t};
use hdf5_sys::h5f::H5F_close_degree_t;
use hdf5_sys::h5fd::{H5FD_FEAT_ACCUMULATE_METADATA, H5FD_FEAT_DATA_SIEVE, H5FD_mem_t};
use hdf5_sys::h5i::hid_t;

use crate::engine::storage::Storage;

/// The pages HDF5's metadata reads are rounded out to.
pub const PAGE_BYTES: u64 = 64 * 1024;
/// Read with the first request of an open.
pub const PREFETCH_BYTES: u64 = 1 << 20;
/// Reads at least this long go to the storage uncached.
pub const BYPASS_BYTES: usize = 4 << 20;
/// Cached pages per open file, at most (metadata only, so this is rarely reached).
pub const MAX_CACHED_BYTES: u64 = 64 << 20;

/// An object's bytes seen through aligned pages, fetched on first use and kept.
#[derive(Debug)]
pub struct PageCache {
    storage: Arc<dyn Storage>,
    size: u64,
    page: u64,
    pages: Mutex<Pages>,
    /// Storage reads made (one per coalesced call), for tests and logs.
    reads: AtomicU64,
    /// Bytes the storage returned.
    fetched: AtomicU64,
    /// The last storage error a read met, so the caller of the open can report it rather
    /// than HDF5's generic "unable to open file".
    failure: Mutex<Option<io::Error>>,
}

#[derive(Debug, Default)]
struct Pages {
    by_number: HashMap<u64, Bytes>,
    /// Page numbers in the order they were cached, oldest first, for eviction.
    order: VecDeque<u64>,
}

impl PageCache {
    /// The cache over the `size` bytes of `storage` with pages of `page` bytes, having read
    /// the first `prefetch` bytes.
    ///
    /// # Errors
    /// The storage's error on the first read.
    pub fn new(storage: Arc<dyn Storage>, size: u64, page: u64, prefetch: u64) -> io::Result<Self> {
        let page = page.max(512);
        let cache = Self {
            storage,
            size,
            page,
            pages: Mutex::new(Pages::default()),
            reads: AtomicU64::new(0),
            fetched: AtomicU64::new(0),
            failure: Mutex::new(None),
        };
        let first = prefetch.min(size).div_ceil(page) * page;
        let first = first.min(size);
        if first > 0 {
            let len = usize::try_from(first).map_err(io::Error::other)?;
            let bytes = cache.fetch(&[(0, len)])?.pop().unwrap_or_default();
            let mut pages = cache.lock();
            for (n, start) in (0..first)
                .step_by(usize::try_from(page).unwrap_or(usize::MAX))
                .enumerate()
            {
                let end = (start + page).min(first);
                let (s, e) = (
                    usize::try_from(start).unwrap_or(0),
                    usize::try_from(end).unwrap_or(0),
                );
                cache.insert(&mut pages, n as u64, bytes.slice(s..e));
            }
        }
        Ok(cache)
    }

    /// The object's size.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// (storage reads, bytes fetched) so far.
    #[must_use]
    pub fn counts(&self) -> (u64, u64) {
        (
            self.reads.load(Ordering::Relaxed),
            self.fetched.load(Ordering::Relaxed),
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pages> {
        self.pages.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fetch(&self, ranges: &[(u64, usize)]) -> io::Result<Vec<Bytes>> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let got = self.storage.read_ranges(ranges)?;
        let n: usize = got.iter().map(Bytes::len).sum();
        self.fetched.fetch_add(n as u64, Ordering::Relaxed);
        Ok(got)
    }

    fn insert(&self, pages: &mut Pages, number: u64, bytes: Bytes) {
        if pages.by_number.insert(number, bytes).is_none() {
            pages.order.push_back(number);
        }
        let max = usize::try_from(MAX_CACHED_BYTES / self.page)
            .unwrap_or(usize::MAX)
            .max(1);
        while pages.order.len() > max {
            if let Some(old) = pages.order.pop_front() {
                pages.by_number.remove(&old);
            }
        }
    }

    /// Fills `buf` with the bytes at `addr`.
    ///
    /// # Errors
    /// `UnexpectedEof` when the range runs past the object's end; the storage's error.
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> io::Result<()> {
        let len = buf.len() as u64;
        if len == 0 {
            return Ok(());
        }
        let end = addr
            .checked_add(len)
            .filter(|&e| e <= self.size)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "HDF5 metadata points past the end of the object (is it truncated?)",
                )
            })?;
        let (first, last) = (addr / self.page, (end - 1) / self.page);
        let missing: Vec<u64> = {
            let pages = self.lock();
            (first..=last)
                .filter(|n| !pages.by_number.contains_key(n))
                .collect()
        };
        if buf.len() >= BYPASS_BYTES && !missing.is_empty() {
            let bytes = self.fetch(&[(addr, buf.len())])?.pop().unwrap_or_default();
            if bytes.len() != buf.len() {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short read"));
            }
            buf.copy_from_slice(&bytes);
            return Ok(());
        }
        let mut held: HashMap<u64, Bytes> = HashMap::new();
        if !missing.is_empty() {
            let ranges: Vec<(u64, usize)> = missing
                .iter()
                .map(|&n| {
                    let start = n * self.page;
                    let len = self.page.min(self.size - start);
                    (start, usize::try_from(len).unwrap_or(0))
                })
                .collect();
            let got = self.fetch(&ranges)?;
            let mut pages = self.lock();
            for (&n, bytes) in missing.iter().zip(got) {
                held.insert(n, bytes.clone());
                self.insert(&mut pages, n, bytes);
            }
        }
        let pages = self.lock();
        let mut at = addr;
        let mut out = 0usize;
        while at < end {
            let n = at / self.page;
            let page = held
                .get(&n)
                .or_else(|| pages.by_number.get(&n))
                .ok_or_else(|| io::Error::other("a page was evicted while it was being read"))?;
            let within = usize::try_from(at - n * self.page).unwrap_or(usize::MAX);
            let take = (page.len().saturating_sub(within)).min(buf.len() - out);
            if take == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short page"));
            }
            buf[out..out + take].copy_from_slice(&page[within..within + take]);
            out += take;
            at += take as u64;
        }
        Ok(())
    }

    fn remember(&self, e: io::Error) {
        *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
    }

    /// The storage error an earlier read met, if any (taken).
    pub fn take_failure(&self) -> Option<io::Error> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

// HDF5 1.10.8's driver structures (H5FDpublic.h), which differ from the ones `hdf5-sys`
// declares for that version range (`terminate`, `access_flags`, `paged_aggr`, `lock`).

/// `H5FD_t`: the library's part of an open file, filled in by the library after `open`.
#[repr(C)]
struct H5fdPublic {
    driver_id: hid_t,
    cls: *const DriverClass,
    fileno: c_ulong,
    access_flags: c_uint,
    feature_flags: c_ulong,
    maxaddr: haddr_t,
    base_addr: haddr_t,
    threshold: hsize_t,
    alignment: hsize_t,
    paged_aggr: bool,
}

/// One file open through the driver: the library's part first, as HDF5 requires.
#[repr(C)]
struct RangedFile {
    public: H5fdPublic,
    eoa: haddr_t,
    cache: Arc<PageCache>,
}

type Cb<T> = Option<T>;

/// `H5FD_class_t` of HDF5 1.10.8.
#[repr(C)]
struct DriverClass {
    name: *const c_char,
    maxaddr: haddr_t,
    fc_degree: H5F_close_degree_t,
    terminate: Cb<extern "C" fn() -> herr_t>,
    sb_size: Cb<extern "C" fn(*mut H5fdPublic) -> hsize_t>,
    sb_encode: Cb<extern "C" fn(*mut H5fdPublic, *mut c_char, *mut u8) -> herr_t>,
    sb_decode: Cb<extern "C" fn(*mut H5fdPublic, *const c_char, *const u8) -> herr_t>,
    fapl_size: usize,
    fapl_get: Cb<extern "C" fn(*mut H5fdPublic) -> *mut c_void>,
    fapl_copy: Cb<extern "C" fn(*const c_void) -> *mut c_void>,
    fapl_free: Cb<extern "C" fn(*mut c_void) -> herr_t>,
    dxpl_size: usize,
    dxpl_copy: Cb<extern "C" fn(*const c_void) -> *mut c_void>,
    dxpl_free: Cb<extern "C" fn(*mut c_void) -> herr_t>,
    open: Cb<extern "C" fn(*const c_char, c_uint, hid_t, haddr_t) -> *mut H5fdPublic>,
    close: Cb<extern "C" fn(*mut H5fdPublic) -> herr_t>,
    cmp: Cb<extern "C" fn(*const H5fdPublic, *const H5fdPublic) -> c_int>,
    query: Cb<extern "C" fn(*const H5fdPublic, *mut c_ulong) -> herr_t>,
    get_type_map: Cb<extern "C" fn(*const H5fdPublic, *mut H5FD_mem_t) -> herr_t>,
    alloc: Cb<extern "C" fn(*mut H5fdPublic, H5FD_mem_t, hid_t, hsize_t) -> haddr_t>,
    free: Cb<extern "C" fn(*mut H5fdPublic, H5FD_mem_t, hid_t, haddr_t, hsize_t) -> herr_t>,
    get_eoa: Cb<extern "C" fn(*const H5fdPublic, H5FD_mem_t) -> haddr_t>,
    set_eoa: Cb<extern "C" fn(*mut H5fdPublic, H5FD_mem_t, haddr_t) -> herr_t>,
    get_eof: Cb<extern "C" fn(*const H5fdPublic, H5FD_mem_t) -> haddr_t>,
    get_handle: Cb<extern "C" fn(*mut H5fdPublic, hid_t, *mut *mut c_void) -> herr_t>,
    read: Cb<
        extern "C" fn(*mut H5fdPublic, H5FD_mem_t, hid_t, haddr_t, usize, *mut c_void) -> herr_t,
    >,
    write: Cb<
        extern "C" fn(*mut H5fdPublic, H5FD_mem_t, hid_t, haddr_t, usize, *const c_void) -> herr_t,
    >,
    flush: Cb<extern "C" fn(*mut H5fdPublic, hid_t, bool) -> herr_t>,
    truncate: Cb<extern "C" fn(*mut H5fdPublic, hid_t, bool) -> herr_t>,
    lock: Cb<extern "C" fn(*mut H5fdPublic, bool) -> herr_t>,
    unlock: Cb<extern "C" fn(*mut H5fdPublic) -> herr_t>,
    fl_map: [H5FD_mem_t; 7],
}

// SAFETY: the class is immutable after construction; the name points at a 'static string.
unsafe impl Sync for DriverClass {}
unsafe impl Send for DriverClass {}

/// Caches waiting for the driver's `open` callback, by the name given to `H5Fopen`.
static PENDING: LazyLock<Mutex<HashMap<String, Arc<PageCache>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// A panic in a callback becomes `fail`; nothing unwinds into the library.
fn guarded<T>(fail: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fail)
}

extern "C" fn cb_open(
    name: *const c_char,
    _flags: c_uint,
    _fapl: hid_t,
    maxaddr: haddr_t,
) -> *mut H5fdPublic {
    guarded(std::ptr::null_mut(), || {
        if name.is_null() {
            return std::ptr::null_mut();
        }
        // SAFETY: HDF5 passes the NUL-terminated name given to H5Fopen.
        let name = unsafe { std::ffi::CStr::from_ptr(name) }
            .to_string_lossy()
            .into_owned();
        let Some(cache) = PENDING
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&name)
            .cloned()
        else {
            return std::ptr::null_mut();
        };
        if maxaddr == 0 || maxaddr < cache.size() {
            return std::ptr::null_mut();
        }
        let file = Box::new(RangedFile {
            public: H5fdPublic {
                driver_id: 0,
                cls: std::ptr::null(),
                fileno: 0,
                access_flags: 0,
                feature_flags: 0,
                maxaddr: 0,
                base_addr: 0,
                threshold: 0,
                alignment: 0,
                paged_aggr: false,
            },
            eoa: 0,
            cache,
        });
        Box::into_raw(file).cast::<H5fdPublic>()
    })
}

/// The file behind the library's pointer.
///
/// # Safety
/// `f` must come from [`cb_open`] and not be closed.
unsafe fn file<'a>(f: *const H5fdPublic) -> &'a RangedFile {
    // SAFETY: `RangedFile` starts with the public part (repr(C)), and `f` came from `cb_open`.
    unsafe { &*f.cast::<RangedFile>() }
}

extern "C" fn cb_close(f: *mut H5fdPublic) -> herr_t {
    guarded(-1, || {
        if f.is_null() {
            return -1;
        }
        // SAFETY: `f` came from `Box::into_raw` in `cb_open`; the library closes it once.
        drop(unsafe { Box::from_raw(f.cast::<RangedFile>()) });
        0
    })
}

extern "C" fn cb_cmp(a: *const H5fdPublic, b: *const H5fdPublic) -> c_int {
    guarded(0, || {
        // SAFETY: both come from `cb_open`.
        let (a, b) = unsafe { (file(a), file(b)) };
        let (pa, pb) = (
            Arc::as_ptr(&a.cache) as usize,
            Arc::as_ptr(&b.cache) as usize,
        );
        match pa.cmp(&pb) {
            std::cmp::Ordering::Less => -1,
            std::cmp::Ordering::Equal => 0,
            std::cmp::Ordering::Greater => 1,
        }
    })
}

extern "C" fn cb_query(_f: *const H5fdPublic, flags: *mut c_ulong) -> herr_t {
    if !flags.is_null() {
        // SAFETY: the library passes a valid pointer.
        unsafe { *flags = c_ulong::from(H5FD_FEAT_DATA_SIEVE | H5FD_FEAT_ACCUMULATE_METADATA) };
    }
    0
}

extern "C" fn cb_get_eoa(f: *const H5fdPublic, _t: H5FD_mem_t) -> haddr_t {
    // SAFETY: `f` comes from `cb_open`.
    guarded(haddr_t::MAX, || unsafe { file(f) }.eoa)
}

extern "C" fn cb_set_eoa(f: *mut H5fdPublic, _t: H5FD_mem_t, addr: haddr_t) -> herr_t {
    guarded(-1, || {
        // SAFETY: `f` comes from `cb_open`; the library calls this under its lock.
        unsafe { (*f.cast::<RangedFile>()).eoa = addr };
        0
    })
}

extern "C" fn cb_get_eof(f: *const H5fdPublic, _t: H5FD_mem_t) -> haddr_t {
    // SAFETY: `f` comes from `cb_open`.
    guarded(haddr_t::MAX, || unsafe { file(f) }.cache.size())
}

extern "C" fn cb_get_handle(f: *mut H5fdPublic, _fapl: hid_t, handle: *mut *mut c_void) -> herr_t {
    if handle.is_null() {
        return -1;
    }
    // SAFETY: the library passes a valid out pointer.
    unsafe { *handle = f.cast::<c_void>() };
    0
}

extern "C" fn cb_read(
    f: *mut H5fdPublic,
    _t: H5FD_mem_t,
    _dxpl: hid_t,
    addr: haddr_t,
    size: usize,
    buffer: *mut c_void,
) -> herr_t {
    guarded(-1, || {
        if buffer.is_null() && size > 0 {
            return -1;
        }
        // SAFETY: `f` comes from `cb_open`.
        let cache = &unsafe { file(f) }.cache;
        if size == 0 {
            return 0;
        }
        // SAFETY: the library hands a buffer of `size` writable bytes.
        let buf = unsafe { std::slice::from_raw_parts_mut(buffer.cast::<u8>(), size) };
        match cache.read(addr, buf) {
            Ok(()) => 0,
            Err(e) => {
                cache.remember(e);
                -1
            }
        }
    })
}

extern "C" fn cb_write(
    _f: *mut H5fdPublic,
    _t: H5FD_mem_t,
    _dxpl: hid_t,
    _addr: haddr_t,
    _size: usize,
    _buffer: *const c_void,
) -> herr_t {
    -1
}

extern "C" fn cb_truncate(_f: *mut H5fdPublic, _dxpl: hid_t, _closing: bool) -> herr_t {
    0
}

const NAME: &std::ffi::CStr = c"fathom_ranged";

static CLASS: DriverClass = DriverClass {
    name: NAME.as_ptr(),
    maxaddr: (1 << 63) - 1,
    fc_degree: H5F_close_degree_t::H5F_CLOSE_WEAK,
    terminate: None,
    sb_size: None,
    sb_encode: None,
    sb_decode: None,
    fapl_size: 0,
    fapl_get: None,
    fapl_copy: None,
    fapl_free: None,
    dxpl_size: 0,
    dxpl_copy: None,
    dxpl_free: None,
    open: Some(cb_open),
    close: Some(cb_close),
    cmp: Some(cb_cmp),
    query: Some(cb_query),
    get_type_map: None,
    alloc: None,
    free: None,
    get_eoa: Some(cb_get_eoa),
    set_eoa: Some(cb_set_eoa),
    get_eof: Some(cb_get_eof),
    get_handle: Some(cb_get_handle),
    read: Some(cb_read),
    write: Some(cb_write),
    flush: None,
    truncate: Some(cb_truncate),
    lock: None,
    unlock: None,
    fl_map: [hdf5_sys::h5fd::H5FD_mem_t::H5FD_MEM_DEFAULT; 7],
};

/// Why the ranged open failed.
#[derive(Debug, thiserror::Error)]
pub enum RangedError {
    /// The store failed (down, refused, changed): the same error a data read would give.
    #[error("{0}")]
    Storage(io::Error),
    /// The bytes are not an HDF5 file HDF5 can open (or the object ends too early).
    #[error("HDF5 cannot open it through byte ranges")]
    NotOpened,
    /// The HDF5 view of a netCDF-4 object would differ from netCDF-C's.
    #[error("{0}")]
    NotFaithful(String),
    /// This HDF5 library's driver structures are not the ones the driver was written for.
    #[error("the ranged HDF5 driver is not available with HDF5 {0}")]
    Unavailable(String),
}

/// The driver's id, registered once (`None` with an HDF5 other than 1.10.8).
fn driver_id() -> Result<hid_t, RangedError> {
    static ID: LazyLock<Result<hid_t, String>> = LazyLock::new(|| {
        let _lock = hdf5_sys::LOCK.lock();
        let (mut major, mut minor, mut release) = (0, 0, 0);
        // SAFETY: plain out parameters.
        unsafe { hdf5_sys::h5::H5get_libversion(&mut major, &mut minor, &mut release) };
        let version = format!("{major}.{minor}.{release}");
        if (major, minor, release) != (1, 10, 8) {
            return Err(version);
        }
        // SAFETY: CLASS is a 'static H5FD_class_t of this library version (checked above).
        let id = unsafe {
            hdf5_sys::h5fd::H5FDregister(
                std::ptr::from_ref(&CLASS).cast::<hdf5_sys::h5fd::H5FD_class_t>(),
            )
        };
        if id < 0 { Err(version) } else { Ok(id) }
    });
    ID.clone().map_err(RangedError::Unavailable)
}

/// Opens the `size` bytes behind `storage` read-only with HDF5 through the ranged driver.
/// Call with the library lock held. `name` is only a label (unique per open).
///
/// # Errors
/// [`RangedError`]: the store's error, an object HDF5 cannot open, or no driver.
pub(crate) fn open(
    storage: Arc<dyn Storage>,
    size: u64,
    name: &str,
) -> Result<(hdf5::File, Arc<PageCache>), RangedError> {
    let driver = driver_id()?;
    // A failed open is reported by its error, not printed by the library (as the hdf5 crate
    // does for its own calls).
    hdf5::silence_errors(true);
    let cache = Arc::new(
        PageCache::new(storage, size, page_bytes(), PREFETCH_BYTES)
            .map_err(RangedError::Storage)?,
    );
    let label = format!("fathom-ranged-{}:{name}", crate::engine::next_file_id());
    let cname = CString::new(label.clone()).map_err(|_| RangedError::NotOpened)?;
    PENDING
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(label.clone(), Arc::clone(&cache));
    // SAFETY: plain HDF5 calls on ids this function owns; the driver reads through `cache`.
    let fid = unsafe {
        let fapl = hdf5_sys::h5p::H5Pcreate(*hdf5_sys::h5p::H5P_CLS_FILE_ACCESS);
        if fapl < 0 {
            -1
        } else {
            let fid = if hdf5_sys::h5p::H5Pset_driver(fapl, driver, std::ptr::null()) < 0 {
                -1
            } else {
                hdf5_sys::h5f::H5Fopen(cname.as_ptr(), hdf5_sys::h5f::H5F_ACC_RDONLY, fapl)
            };
            hdf5_sys::h5p::H5Pclose(fapl);
            fid
        }
    };
    PENDING
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&label);
    if fid < 0 {
        return Err(match cache.take_failure() {
            Some(e) if e.kind() != io::ErrorKind::UnexpectedEof => RangedError::Storage(e),
            _ => RangedError::NotOpened,
        });
    }
    // SAFETY: `fid` is a new file id this function owns.
    let file = unsafe { hdf5::from_id::<hdf5::File>(fid) }.map_err(|_| RangedError::NotOpened)?;
    Ok((file, cache))
}

/// The page size: [`PAGE_BYTES`], or `FATHOM_HDF5_PAGE_BYTES` (for the benchmark).
fn page_bytes() -> u64 {
    static PAGE: LazyLock<u64> = LazyLock::new(|| {
        std::env::var("FATHOM_HDF5_PAGE_BYTES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(PAGE_BYTES)
    });
    *PAGE
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes in memory that count the reads made of them.
    #[derive(Debug)]
    struct Counted {
        bytes: Bytes,
        calls: Mutex<Vec<Vec<(u64, usize)>>>,
    }

    impl Storage for Counted {
        fn read_at(&self, offset: u64, len: usize) -> io::Result<Bytes> {
            Ok(self.read_ranges(&[(offset, len)])?.remove(0))
        }
        fn read_ranges(&self, ranges: &[(u64, usize)]) -> io::Result<Vec<Bytes>> {
            self.calls
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(ranges.to_vec());
            ranges
                .iter()
                .map(|&(o, l)| {
                    let o = usize::try_from(o).map_err(io::Error::other)?;
                    self.bytes
                        .get(o..o + l)
                        .map(Bytes::copy_from_slice)
                        .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "past end"))
                })
                .collect()
        }
    }

    fn counted(n: usize) -> Arc<Counted> {
        Arc::new(Counted {
            bytes: (0..n).map(|i| (i % 251) as u8).collect::<Vec<u8>>().into(),
            calls: Mutex::new(Vec::new()),
        })
    }

    fn calls(c: &Counted) -> Vec<Vec<(u64, usize)>> {
        c.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn want(at: usize, n: usize) -> Vec<u8> {
        (at..at + n).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn the_prefetch_is_one_read_and_serves_what_it_covers() -> io::Result<()> {
        let s = counted(10_000);
        let cache = PageCache::new(s.clone(), 10_000, 1024, 4096)?;
        assert_eq!(calls(&s), vec![vec![(0, 4096)]]);
        let mut buf = vec![0; 3000];
        cache.read(500, &mut buf)?;
        assert_eq!(buf, want(500, 3000));
        assert_eq!(calls(&s).len(), 1, "no read for bytes already prefetched");
        Ok(())
    }

    #[test]
    fn missing_pages_are_fetched_aligned_in_one_call_then_kept() -> io::Result<()> {
        let s = counted(10_000);
        let cache = PageCache::new(s.clone(), 10_000, 1024, 1024)?;
        let mut buf = vec![0; 2000];
        cache.read(3000, &mut buf)?;
        assert_eq!(buf, want(3000, 2000));
        // Pages 2, 3 and 4 ([2048, 5120)), aligned, in one call.
        assert_eq!(calls(&s)[1], vec![(2048, 1024), (3072, 1024), (4096, 1024)]);
        let mut again = vec![0; 100];
        cache.read(4000, &mut again)?;
        assert_eq!(again, want(4000, 100));
        assert_eq!(calls(&s).len(), 2);
        // The last page is short: the object ends inside it.
        let mut tail = vec![0; 10];
        cache.read(9990, &mut tail)?;
        assert_eq!(tail, want(9990, 10));
        assert_eq!(calls(&s)[2], vec![(9216, 784)]);
        assert_eq!(cache.counts(), (3, 1024 + 3072 + 784));
        Ok(())
    }

    #[test]
    fn reads_past_the_end_are_refused_without_a_request() -> io::Result<()> {
        let s = counted(5000);
        let cache = PageCache::new(s.clone(), 5000, 1024, 0)?;
        let mut buf = vec![0; 100];
        let err = cache.read(4950, &mut buf).err().map(|e| e.kind());
        assert_eq!(err, Some(io::ErrorKind::UnexpectedEof));
        let err = cache.read(u64::MAX - 10, &mut buf).err().map(|e| e.kind());
        assert_eq!(err, Some(io::ErrorKind::UnexpectedEof));
        assert!(calls(&s).is_empty());
        Ok(())
    }

    #[test]
    fn large_reads_bypass_the_cache() -> io::Result<()> {
        let n = BYPASS_BYTES + 10_000;
        let s = counted(n);
        let cache = PageCache::new(s.clone(), n as u64, 4096, 0)?;
        let mut buf = vec![0; BYPASS_BYTES];
        cache.read(7, &mut buf)?;
        assert_eq!(buf, want(7, BYPASS_BYTES));
        assert_eq!(calls(&s), vec![vec![(7, BYPASS_BYTES)]]);
        assert!(cache.lock().by_number.is_empty());
        Ok(())
    }

    #[test]
    fn a_storage_error_reaches_the_caller() {
        #[derive(Debug)]
        struct Down;
        impl Storage for Down {
            fn read_at(&self, _: u64, _: usize) -> io::Result<Bytes> {
                Err(io::Error::other("the store is down"))
            }
        }
        let err = PageCache::new(Arc::new(Down), 100, 1024, 1024).err();
        assert_eq!(err.map(|e| e.to_string()), Some("the store is down".into()));
    }
}
