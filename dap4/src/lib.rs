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

pub use constraint::Constraint;
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

/// The constraint a query asks for over `ds`: the whole dataset without `dap4.ce`.
///
/// # Errors
/// A malformed expression, an unknown name or a slice that does not fit (the client's fault),
/// or [`Error::NotSupported`] for filters and functions.
pub fn bind(ds: &cdm::Dataset, query: &Query) -> Result<Constraint> {
    let Some(text) = &query.ce else {
        return Ok(Constraint::all(ds));
    };
    let first = ce::parse(text).and_then(|e| Constraint::bind(ds, &e));
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
