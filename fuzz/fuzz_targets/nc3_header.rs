//! netCDF-3 headers (CDF-1, CDF-2, CDF-5) from files fathom did not write: parsed by the
//! engine's own reader, which must answer with an error, never a panic or a huge allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(header)) = cdm::engine::nc3::parse(data) {
        let _ = header.record_dim();
        let _ = header.record_stride();
    }
});
