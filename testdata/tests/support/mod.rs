//! Helpers shared by the integration tests: scratch folders that clean up after themselves,
//! raw netCDF-C queries the `netcdf` crate does not offer (format, fletcher32, vlen data,
//! attributes of user-defined types), and `ncdump`.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code, unreachable_pub)]

use std::ffi::{CStr, CString, c_char, c_int};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use netcdf_sys as sys;

/// A fresh folder under the system temp dir, removed when dropped.
#[derive(Debug)]
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// A new, empty, uniquely named folder (not yet created on disk).
    pub fn new(label: &str) -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "fathom-testdata-{label}-{}-{count}",
            std::process::id()
        ));
        let _stale = std::fs::remove_dir_all(&path);
        Self(path)
    }

    /// The folder's path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ignored = std::fs::remove_dir_all(&self.0);
    }
}

/// Panics with the library's message unless `status` is `NC_NOERR`.
fn check(what: &str, status: c_int) {
    if status != sys::NC_NOERR {
        // SAFETY: nc_strerror returns a static string for any code.
        let message = unsafe { CStr::from_ptr(sys::nc_strerror(status)) };
        panic!("{what}: {} ({status})", message.to_string_lossy());
    }
}

/// Runs a raw call under the library lock and checks its status.
fn locked(what: &str, raw_call: impl FnOnce() -> c_int) {
    let status = {
        let _guard = sys::libnetcdf_lock.lock();
        raw_call()
    };
    check(what, status);
}

fn c_string(text: &str) -> CString {
    CString::new(text).expect("test names have no NUL")
}

/// A file opened read-only through netCDF-C, for queries the `netcdf` crate lacks.
#[derive(Debug)]
pub struct RawReader {
    ncid: c_int,
}

impl RawReader {
    pub fn open(path: &Path) -> Self {
        let c_path = c_string(path.to_str().expect("temp paths are UTF-8"));
        let mut ncid = -1;
        // SAFETY: NUL-terminated path, out-pointer.
        locked("nc_open", || unsafe {
            sys::nc_open(c_path.as_ptr(), sys::NC_NOWRITE, &mut ncid)
        });
        Self { ncid }
    }

    /// The on-disk format, as `nc_inq_format` (what `ncdump -k` prints).
    pub fn format(&self) -> c_int {
        let mut format = 0;
        // SAFETY: out-pointer.
        locked("nc_inq_format", || unsafe {
            sys::nc_inq_format(self.ncid, &mut format)
        });
        format
    }

    /// (group id, variable id) of a variable given as `name` or `group/sub/name`.
    pub fn variable(&self, path: &str) -> (c_int, c_int) {
        let mut group = self.ncid;
        let mut parts: Vec<&str> = path.split('/').collect();
        let name = parts.pop().expect("a variable name");
        for part in parts {
            let c_part = c_string(part);
            let mut child = -1;
            // SAFETY: NUL-terminated name, out-pointer.
            locked("nc_inq_grp_ncid", || unsafe {
                sys::nc_inq_grp_ncid(group, c_part.as_ptr(), &mut child)
            });
            group = child;
        }
        let c_name = c_string(name);
        let mut varid = -1;
        // SAFETY: NUL-terminated name, out-pointer.
        locked("nc_inq_varid", || unsafe {
            sys::nc_inq_varid(group, c_name.as_ptr(), &mut varid)
        });
        (group, varid)
    }

    /// (shuffle, deflate level or None, fletcher32) of a variable.
    pub fn filters(&self, path: &str) -> (bool, Option<c_int>, bool) {
        let (group, varid) = self.variable(path);
        let (mut shuffle, mut deflate, mut level, mut fletcher) = (0, 0, 0, 0);
        // SAFETY: out-pointers.
        locked("nc_inq_var_deflate", || unsafe {
            sys::nc_inq_var_deflate(group, varid, &mut shuffle, &mut deflate, &mut level)
        });
        // SAFETY: out-pointer.
        locked("nc_inq_var_fletcher32", || unsafe {
            sys::nc_inq_var_fletcher32(group, varid, &mut fletcher)
        });
        (shuffle != 0, (deflate != 0).then_some(level), fletcher != 0)
    }

    /// All rows of a 1-D vlen-of-int variable.
    pub fn vlen_i32_rows(&self, path: &str, len: usize) -> Vec<Vec<i32>> {
        let (group, varid) = self.variable(path);
        let mut handles: Vec<sys::nc_vlen_t> = (0..len)
            .map(|_| sys::nc_vlen_t {
                len: 0,
                p: std::ptr::null_mut(),
            })
            .collect();
        let (start, count) = ([0_usize], [len]);
        // SAFETY: `handles` holds `len` vlen handles for the library to fill.
        locked("nc_get_vara", || unsafe {
            sys::nc_get_vara(
                group,
                varid,
                start.as_ptr(),
                count.as_ptr(),
                handles.as_mut_ptr().cast(),
            )
        });
        let rows = handles
            .iter()
            .map(|handle| {
                if handle.len == 0 {
                    Vec::new()
                } else {
                    // SAFETY: the library filled `len` ints at `p`.
                    unsafe { std::slice::from_raw_parts(handle.p.cast::<i32>(), handle.len) }
                        .to_vec()
                }
            })
            .collect();
        // SAFETY: the handles were filled by the library and are freed once.
        locked("nc_free_vlens", || unsafe {
            sys::nc_free_vlens(len, handles.as_mut_ptr())
        });
        rows
    }

    /// All strings of a `string` variable with `len` elements (NULL pointers read as "").
    pub fn strings(&self, path: &str, len: usize) -> Vec<String> {
        let (group, varid) = self.variable(path);
        let mut pointers: Vec<*mut c_char> = vec![std::ptr::null_mut(); len];
        // SAFETY: `pointers` holds every element of the variable.
        locked("nc_get_var", || unsafe {
            sys::nc_get_var(group, varid, pointers.as_mut_ptr().cast())
        });
        let strings = pointers
            .iter()
            .map(|&pointer| {
                if pointer.is_null() {
                    String::new()
                } else {
                    // SAFETY: library strings are NUL-terminated.
                    unsafe { CStr::from_ptr(pointer) }
                        .to_string_lossy()
                        .into_owned()
                }
            })
            .collect();
        // SAFETY: allocated by the library for this read, freed once.
        locked("nc_free_string", || unsafe {
            sys::nc_free_string(len, pointers.as_mut_ptr())
        });
        strings
    }

    /// The raw bytes of an attribute of a plain (enum/opaque/compound/numeric) type, with the
    /// attribute's type id; `variable` is `None` for a global attribute.
    pub fn attribute_bytes(&self, variable: Option<&str>, name: &str) -> (c_int, Vec<u8>) {
        let (group, varid) =
            variable.map_or((self.ncid, sys::NC_GLOBAL), |path| self.variable(path));
        let c_name = c_string(name);
        let (mut xtype, mut len, mut size) = (0, 0, 0);
        // SAFETY: NUL-terminated name, out-pointers.
        locked("nc_inq_att", || unsafe {
            sys::nc_inq_att(group, varid, c_name.as_ptr(), &mut xtype, &mut len)
        });
        // SAFETY: a null name pointer asks for the size only.
        locked("nc_inq_type", || unsafe {
            sys::nc_inq_type(group, xtype, std::ptr::null_mut(), &mut size)
        });
        let mut bytes = vec![0_u8; len * size];
        // SAFETY: `bytes` holds `len` values of the attribute's type.
        locked("nc_get_att", || unsafe {
            sys::nc_get_att(group, varid, c_name.as_ptr(), bytes.as_mut_ptr().cast())
        });
        (xtype, bytes)
    }
}

impl Drop for RawReader {
    fn drop(&mut self) {
        let ncid = self.ncid;
        let _guard = sys::libnetcdf_lock.lock();
        // SAFETY: closes the file this reader opened.
        unsafe { sys::nc_close(ncid) };
    }
}

/// `ncdump` of a file, or `None` when `ncdump` is not installed (the caller skips).
pub fn ncdump(path: &Path) -> Option<String> {
    let output = Command::new("ncdump").arg(path).output().ok()?;
    assert!(
        output.status.success(),
        "ncdump {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    Some(String::from_utf8(output.stdout).expect("ncdump prints UTF-8 for these files"))
}
