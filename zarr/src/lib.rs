//! `zarr` — every dataset as a Zarr store, v2 and v3 side by side, built from the CDM model.
//!
//! Pure: no IO, no HTTP. [`Store::build`] makes every metadata document of a dataset once
//! (per file version) and [`Store::resolve`] says what a key names: a document, or one chunk
//! of one array ([`Array`]) in one [`ZarrFormat`]. The caller then fetches the chunk — the
//! stored bytes as they are ([`ChunkEncoding::Stored`]), or the decoded values of
//! [`Array::region`] turned into a Zarr chunk by [`Array::raw_chunk`] /
//! [`Array::vlen_utf8_chunk`]. Keys the store does not hold (unknown arrays, malformed or
//! out-of-grid chunk keys) resolve to `None`, which a server answers with 404: Zarr clients
//! read "absent" from nothing else.
//!
//! # Mapping
//!
//! | CDM | Zarr v2 | Zarr v3 |
//! |---|---|---|
//! | group | `.zgroup`, `.zattrs`, `.zmetadata` (consolidated subtree) | `zarr.json`, `node_type: group`, inline `consolidated_metadata` of the subtree |
//! | variable | `.zarray` (`dimension_separator: "."`), `.zattrs` with `_ARRAY_DIMENSIONS` | `zarr.json`, `node_type: array`, `dimension_names` |
//! | byte … double | `|i1` … `<f8` (`>` for big-endian stored chunks sent as they are) | `int8` … `float64`, `bytes` codec with the endianness |
//! | char | `|S1` | `null_terminated_bytes` of length 1 |
//! | string | `|O` with the `vlen-utf8` filter | `string` with the `vlen-utf8` codec |
//! | enum | its base integer type (values, not names) | same |
//! | compound, vlen, opaque | left out, named in the root attribute `zarr_omitted_variables` | same |
//! | chunks | HDF5 chunk shape; netCDF-3 / contiguous: synthetic, about [`SYNTHETIC_CHUNK_BYTES`] | same |
//! | deflate, shuffle | stored chunks sent untouched: `compressor: zlib`, `filters: [shuffle]` | `numcodecs.shuffle`, `numcodecs.zlib` (zarr-python's names) |
//! | fletcher32, other filters, partly filtered chunks | decoded, uncompressed | same |
//! | `_FillValue` | `fill_value` (xarray masks with it); not in `.zattrs` | `fill_value` and the `_FillValue` attribute as xarray writes it |
//! | attributes | JSON: one value a scalar, several a list, text a string | same |
//!
//! A v2 array whose stored chunks include unwritten ones and that has no `_FillValue`
//! attribute is served decoded in v2 (its missing chunks would otherwise read as
//! `fill_value: null`, not as the netCDF fill).

mod chunk;
pub mod json;
mod store;

pub use store::{
    Array, ChunkEncoding, Key, OMITTED_ATTRIBUTE, SYNTHETIC_CHUNK_BYTES, Store, ZarrFormat,
};

/// What turning decoded values into a Zarr chunk can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The values read are not the size of the chunk's region.
    #[error("the chunk's values are {got} bytes, expected {expected}")]
    Length {
        /// Bytes received.
        got: usize,
        /// Bytes the region holds.
        expected: usize,
    },
    /// A string's length runs past the values read.
    #[error("a string value runs past the end of the chunk's values")]
    Truncated,
    /// A string or a chunk longer than Zarr's 32-bit lengths.
    #[error("a string or chunk is too long for the vlen-utf8 codec")]
    TooLong,
}
