//! `dap2` — DAP2 for fathom: the CDM → DAP2 mapping, DDS, DAS, XDR data (`.dods`), `.ascii`
//! and the DAP2 constraint language.
//!
//! A request goes through these steps, each in its own module:
//!
//! 1. [`mapping`]: the [`cdm::Dataset`] becomes a [`mapping::Dap2Dataset`] (once per file
//!    version): which variables DAP2 can carry, their types, flattened names, Grids, attributes.
//! 2. [`ce`] parses the query string (nom) and [`constraint`] binds it to the dataset, checking
//!    every name and index before anything is sent.
//! 3. [`dds`] and [`das`] print the metadata; [`xdr`] streams the data with an exact length;
//!    [`ascii`] prints values for people.
//!
//! # CDM → DAP2 mapping
//!
//! The policy is chosen so that the values ncdump (netCDF-C's DAP2 client), pydap / xarray and
//! netCDF-Java read are the values in the file. Evidence for each choice is in the module that
//! applies it and in `dap2/CONFORMANCE.md`.
//!
//! | CDM | DAP2 | notes |
//! |---|---|---|
//! | `byte` (Int8) | `Int16` | as Hyrax's `PromoteByteToShort`: DAP2's `Byte` is unsigned, and with `Byte` + `_Unsigned "false"` netCDF-C's converting reads (`nc_get_vara_float` / `_double` / `_short`, used by GrADS and others) return value + 256 for negatives, so a negative `missing_value` stops matching; getdap prints unsigned values. `Int16` is read as the same signed values by every netCDF-C read path, pydap, xarray and getdap. The cost: 4 bytes per value on the wire instead of 1 (XDR widens `Int16` to 4 bytes); byte data is rarely large. Byte attributes are `Int16` too |
//! | `ubyte` | `Byte` | |
//! | `short`, `ushort`, `int`, `uint`, `float`, `double` | `Int16`, `UInt16`, `Int32`, `UInt32`, `Float32`, `Float64` | |
//! | variable on a zero-length dimension other than the root's unlimited one | — | left out, named in `DAP2_omitted_variables`: netCDF-C's DAP2 client defines a size-0 dimension as `UNLIMITED` and then refuses the dataset ("NC_UNLIMITED size already in use"); it hides zero-size variables anyway. The unlimited dimension itself may be empty (`DODS_EXTRA` names it) |
//! | `_FillValue` / `missing_value` of another type than the variable's | the variable's type, or left out | converted when the value is exactly representable, otherwise left out and described in `_fathom_dropped` ([`cdm::fill`]): netCDF-C otherwise returns memory it never set as the fill value |
//! | `int64`, `uint64`, vlen, opaque | — | left out of the DDS; `NC_GLOBAL` `DAP2_omitted_variables` names each with the reason (all are available over DAP4); 64-bit *attributes* become `Int32`/`UInt32` when they fit, `Float64` otherwise |
//! | `char` array | `String` array | the last dimension is the string length (trailing NULs dropped); the DAS container gets `DODS { Int32 strlen; String dimName; }`, from which netCDF-C restores the char dimension |
//! | `string` | `String` | |
//! | enum | its base type | plus `DAP2_EnumValues`, `DAP2_EnumNames`, `DAP2_OriginalNetCDFBaseType "NC_ENUM"`, `DAP2_OriginalNetCDFTypeName` (as Hyrax) |
//! | compound | `Structure` | nested compounds nest; a compound with a member DAP2 cannot carry is left out |
//! | variable in a group `/g/h/v` | `g_h_v` | unique names (`_1`, `_2` appended on a clash); attribute `fullnamepath "/g/h/v"`; group attributes in a container named like the group |
//! | variable whose every dimension has a 1-D coordinate variable | `Grid` with those maps | the coordinate variables are also listed on their own (pydap and xarray only see top-level arrays as coordinates) |
//! | root attributes | `NC_GLOBAL` container | the root group's unlimited dimension in `DODS_EXTRA { String Unlimited_Dimension; }` |

pub mod ascii;
pub mod ce;
pub mod constraint;
pub mod das;
pub mod dds;
pub mod mapping;
pub mod xdr;

pub use constraint::{Projected, constrain, file_selections};
pub use mapping::{Dap2Dataset, map_dataset};
pub use xdr::DodsResponse;

/// Everything a DAP2 request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The constraint expression does not parse.
    #[error("{0}")]
    Syntax(String),
    /// A name that is not in the dataset.
    #[error("{0}")]
    UnknownVariable(String),
    /// An index range that does not fit (stride 0, start after stop, past the end…).
    #[error("{0}")]
    BadIndex(String),
    /// A selection clause the dataset cannot answer.
    #[error("{0}")]
    Selection(String),
    /// A call to a server-side function this server does not have (it has none): the
    /// client's error, as an unknown variable is.
    #[error("{0}")]
    UnknownFunction(String),
    /// A response larger than DAP2 or this server allows.
    #[error("{0}")]
    TooLarge(String),
    /// Reading the data failed.
    #[error(transparent)]
    Source(#[from] cdm::Error),
    /// A bug: the pieces of a request disagree.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The DAP2 error body, as libdap prints it: `Error { code = N; message = "…"; };`.
#[must_use]
pub fn error_body(code: u16, message: &str) -> String {
    let escaped = message.replace('\\', "\\\\").replace('"', "\\\"");
    format!("Error {{\n    code = {code};\n    message = \"{escaped}\";\n}};\n")
}

/// The unconstrained DDS of a dataset.
#[must_use]
pub fn dds(ds: &Dap2Dataset) -> String {
    dds::print_dds(ds, &constraint::whole_dataset(ds))
}

/// The DAS of a dataset.
#[must_use]
pub fn das(ds: &Dap2Dataset) -> String {
    das::print_das(ds)
}

#[cfg(test)]
mod tests {
    #[test]
    fn error_body_escapes_quotes() {
        assert_eq!(
            super::error_body(400, r#"bad "x""#),
            "Error {\n    code = 400;\n    message = \"bad \\\"x\\\"\";\n};\n"
        );
    }
}
