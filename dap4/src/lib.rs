//! `dap4` — DAP4 for fathom: the DMR, the chunked `.dap` encoding with CRC32, and the DAP4
//! constraint language.
//!
//! A request goes through four steps, each in its own module:
//!
//! 1. [`query`]: the query string's `dap4.ce` and `dap4.checksum` keys ([`Query`]).
//! 2. [`ce`]: the constraint text parsed (nom) into an [`ce::Expression`], and
//!    [`constraint`]: the expression bound to a [`cdm::Dataset`] as a [`Constraint`] — the
//!    projected variables in dataset order, each with its [`constraint::DimSelection`]s and
//!    Structure fields. Every error up to here is the client's (HTTP 400) and happens before a
//!    byte is sent.
//! 3. [`dmr`]: the (constrained) dataset as DMR XML (quick-xml).
//! 4. [`data`]: the `.dap` body — the DMR chunk, then the values framed by [`chunk::Chunker`]
//!    with a CRC32 after each variable — streamed from the [`cdm::Source`] as it reads.
//!
//! # CDM → DAP4 mapping (where it is not one to one)
//!
//! | CDM | DAP4 | why |
//! |---|---|---|
//! | `char` array `v(…, n)` | `String v(…)`, each string the `n` chars without trailing NULs | pydap / xarray read `Char` arrays as `uint8`; as Hyrax does, the last dimension becomes the string length, so xarray shows the same strings as the local file and DAP2, and `ncdump` shows the text. A `dap4.ce` subscripts the remaining dimensions only ([`constraint::as_sent`]). A `char` scalar stays `Char`; a 1-D char array becomes a scalar `String` |
//! | `_FillValue` / `missing_value` of another type than the variable's | the variable's type, or left out | netcdf-c refuses the whole DMR otherwise ("Malformed attribute value(s) for: _FillValue"); converted when exact, else left out and described in `_fathom_dropped` ([`cdm::fill`]) |
//! | attribute named `CLASS`, `_IsNetcdf4`, `_SuperblockVersion`, `_Format`, `_Codecs` | left out | names netCDF-4 reserves: netcdf-c refuses a DMR with one ("String match to name in use"; every PyTables node has `CLASS`), and netCDF-C and h5netcdf hide them locally ([`dmr::NETCDF_RESERVED_ATTRIBUTES`]) |
//! | coordinate variables | declared first in their group | libdap resolves a `<Map>` as it parses it, so its target must come first; HDF5 files often list dimension scales after their users ([`constraint::declaration_order`], the order of the DMR and of the data) |
//!
//! # Checksum policy
//!
//! 1. A CRC32 (zlib polynomial, little-endian) follows each top-level variable, over every byte
//!    of it as sent (string and opaque counts included), **unless the request says
//!    `dap4.checksum=false`**.
//! 2. With `dap4.checksum=false` there are no CRCs, and the DMR chunk carries the
//!    non-standard flag `0x08` ([`chunk::flags::NO_CHECKSUM`]).
//! 3. When a `dap4.ce` projects more than one variable and CRCs are on, the DMR announces each
//!    CRC in a `_DAP4_Checksum_CRC32` attribute ([`data::needs_announced_checksums`]); the
//!    CRCs come from a first, streaming read of the values ([`data::checksums`]). No other
//!    response waits for its data before the DMR goes out.
//!
//! This is the one policy every client reads, because they disagree on what they expect:
//!
//! | client | expects CRCs |
//! |---|---|
//! | netcdf-c 4.9.0 (Debian `ncdump`) | after every variable unless the first chunk has flag `0x08`; verifies them |
//! | netcdf-c ≥ 4.9.3 (4.10.1 in the netCDF4 wheel) | only where `_DAP4_Checksum_CRC32` announces them (its per-variable responses never see the query's key); ignores `0x08`; asks for one variable at a time unless the URL has a `dap4.ce` |
//! | pydap 3.5.9 | always sends the key, one variable per request; with `true` reads the 4 bytes after each variable as its CRC |
//! | libdap 3.20 (`getdap4`) | always, whatever it asked |
//!
//! (netcdf-c 4.9.0 `libdap4/d4chunk.c` `CHECKSUMHACK`, `d4data.c` `NCD4_checkChecksums`;
//! 4.10.1 `d4varx.c` `getvarx`, `d4file.c` `NCD4_applychecksumcontrols`, `d4data.c`
//! `NCD4_inferChecksums`; pydap 3.5.9 `handlers/dap.py` `unpack_dap4_data`; libdap
//! `D4Group.cc` `deserialize`.) `tests/clients/test_dap4_checksums.py` runs every combination
//! and shows, through a proxy that alters one thing, which client each part of the policy is
//! for; `CONFORMANCE.md` records it.

pub mod ce;
pub mod chunk;
pub mod constraint;
pub mod data;
pub mod dmr;
pub mod error;
pub mod query;
pub mod xml;

pub use constraint::{Constraint, file_selections};
pub use error::{Error, Result, error_document};
pub use query::Query;

/// The media types of DAP4 responses.
pub mod media {
    /// `.dmr`.
    pub const DMR: &str = "application/vnd.opendap.dap4.dataset-metadata+xml; charset=utf-8";
    /// `.dap`.
    pub const DAP: &str = "application/vnd.opendap.dap4.data";
    /// `.dsr`.
    pub const DSR: &str = "application/vnd.opendap.dap4.dataset-services+xml; charset=utf-8";
    /// An error document.
    pub const ERROR: &str = "application/vnd.opendap.dap4.error+xml; charset=utf-8";
}

/// What a filter in `dap4.ce` deserves: DAP4 filters apply to Sequences only, so one on any
/// other variable is the client's error (400); on a Sequence it is a valid request this server
/// does not carry out (501). Other errors pass through.
fn filter_error(ds: &cdm::Dataset, e: Error) -> Error {
    let Error::Filter { variable, column } = e else {
        return e;
    };
    let path = if variable.starts_with('/') {
        variable
    } else {
        format!("/{variable}")
    };
    match ds.variable(&path) {
        Some(v) if matches!(v.dtype, cdm::DataType::VLen(_)) => Error::NotSupported(format!(
            "filters ('|', at character {column} of dap4.ce) on the Sequence {path}"
        )),
        Some(v) => Error::Constraint(format!(
            "a filter ('|', at character {column} of dap4.ce) applies only to a Sequence, and \
             {path} is not one ({}); select with slices like {path}[0:2:10] instead",
            v.dtype.cdl_name()
        )),
        None => Error::UnknownName(path),
    }
}

/// The constraint a query asks for over `ds`: the whole dataset without `dap4.ce`.
///
/// # Errors
/// A malformed expression, an unknown name or a slice that does not fit (the client's fault),
/// or [`Error::NotSupported`] for a filter on a Sequence.
pub fn bind(ds: &cdm::Dataset, query: &Query) -> Result<Constraint> {
    let Some(text) = &query.ce else {
        return Ok(Constraint::all(ds));
    };
    let first = ce::parse(text)
        .map_err(|e| filter_error(ds, e))
        .and_then(|e| Constraint::bind(ds, &e));
    if first.is_ok() || !text.contains('%') {
        return first;
    }
    // netcdf-c 4.9.0 percent-encodes the query three times over (`[` arrives as `%25255b`).
    // When the expression, decoded once as it should be, means nothing, and still holds
    // escapes, try it decoded again; a correct request never reaches this point.
    let mut text = text.clone();
    for _ in 0..3 {
        let Ok(decoded) = percent_encoding::percent_decode_str(&text).decode_utf8() else {
            break;
        };
        if decoded == text {
            break;
        }
        text = decoded.into_owned();
        if let Ok(c) = ce::parse(&text).and_then(|e| Constraint::bind(ds, &e)) {
            return Ok(c);
        }
    }
    first
}
