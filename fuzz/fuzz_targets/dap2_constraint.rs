//! DAP2 constraint expressions from any client: parse, bind against real datasets and print the
//! constrained DDS, as a `.dds?CE` / `.dods?CE` request does before any data is read.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    for bound in fathom_fuzz::datasets() {
        if let Ok(projected) = dap2::constrain(&bound.dap2, Some(query)) {
            let _ = dap2::dds::print_dds(&bound.dap2, &projected);
        }
    }
});
