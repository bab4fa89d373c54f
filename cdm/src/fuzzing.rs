//! Entry points for the fuzz targets in `fuzz/`: the crate's parsers of bytes that come from
//! outside (NcML files in the data tree, DMR / DDS / DAS documents and `.dap` / `.dods` bodies
//! from remote servers), reachable without making them part of the crate's API. Each returns
//! whether the input was accepted; what matters to the fuzzer is that none of them panics or
//! allocates without bound.

use crate::model::DataType;

/// Parses an NcML document.
#[must_use]
pub fn ncml(text: &str) -> bool {
    crate::formats::ncml::parse_document(text).is_ok()
}

/// Parses a DMR as a remote server would send it and maps it into the model.
#[must_use]
pub fn remote_dmr(text: &str) -> bool {
    crate::formats::dap::parse_dmr(text).is_ok()
}

/// Parses a DDS and a DAS as a remote server would send them and maps them into the model.
#[must_use]
pub fn remote_dds_das(dds: &str, das: &str) -> bool {
    crate::formats::dap::parse_dds_das(dds, das)
}

/// The element types the data decoders are asked for, chosen by the fuzzer.
const TYPES: [DataType; 6] = [
    DataType::Int8,
    DataType::Int16,
    DataType::Int32,
    DataType::Float64,
    DataType::UInt64,
    DataType::String,
];

/// Decodes a `.dap` body and a `.dods` body of one variable of type `TYPES[which % 6]` with
/// `counts` elements per dimension, as the remote source does with what a server sent.
#[must_use]
pub fn remote_data(body: &[u8], which: u8, counts: &[usize]) -> (bool, bool) {
    let dtype = &TYPES[usize::from(which) % TYPES.len()];
    crate::formats::dap::decode_bodies(body, dtype, counts)
}
