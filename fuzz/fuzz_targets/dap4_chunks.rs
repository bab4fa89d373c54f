//! DAP4 `.dap` bodies as they arrive from other servers: split into chunks, which must end in an
//! error for anything malformed, never a panic or an out-of-bounds read.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(chunks) = dap4::chunk::split(data) {
        let total: usize = chunks.iter().map(|c| c.data.len()).sum();
        assert!(
            total <= data.len(),
            "chunks claim more bytes than the body has"
        );
    }
});
