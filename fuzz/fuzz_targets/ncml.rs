//! NcML files found in the data tree: parsed by the NcML source, which must answer with an error,
//! never a panic, whatever the document.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = cdm::fuzzing::ncml(text);
    }
});
