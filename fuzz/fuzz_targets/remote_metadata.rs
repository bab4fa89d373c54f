//! Metadata from remote DAP servers: a DMR, or a DDS and a DAS (the input split at its first NUL
//! byte), parsed and mapped into the model by the remote source.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match text.split_once('\0') {
        Some((dds, das)) => {
            let _ = cdm::fuzzing::remote_dds_das(dds, das);
        }
        None => {
            let _ = cdm::fuzzing::remote_dmr(&text);
        }
    }
});
