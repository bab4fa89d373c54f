//! DAP4 query strings (`dap4.ce=…&dap4.checksum=…`) from any client: parse, bind against real
//! datasets, size the response and render the constrained DMR, as a `.dap` request does before
//! any data is read.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    // Half the inputs are whole query strings, the others bare expressions.
    let wrapped;
    let raw = if raw.contains("dap4.") {
        raw
    } else {
        wrapped = format!("dap4.ce={raw}");
        &wrapped
    };
    let Ok(query) = dap4::Query::parse(Some(raw)) else {
        return;
    };
    for bound in fathom_fuzz::datasets() {
        if let Ok(constraint) = dap4::bind(&bound.dataset, &query) {
            let _ = dap4::data::size_at_least(&constraint, query.checksums());
            let _ = dap4::dmr::render(&bound.dataset, &constraint);
            let _ = constraint;
        }
    }
});
