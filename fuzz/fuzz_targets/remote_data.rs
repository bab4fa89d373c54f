//! Data bodies from remote DAP servers (`.dap` chunks with their DMR and checksums, `.dods` DDS
//! and XDR), decoded by the remote source for a variable whose type and shape the first three
//! bytes choose: anything malformed is an error, never a panic or wrong-sized data.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [which, a, b, body @ ..] = data else {
        return;
    };
    let counts = [usize::from(*a % 16) + 1, usize::from(*b % 16)];
    let counts = if counts[1] == 0 {
        &counts[..1]
    } else {
        &counts[..]
    };
    let _ = cdm::fuzzing::remote_data(body, *which, counts);
});
