//! URL paths from any client mapped to files: whatever the path, the result lies under the data
//! root, and the file beside the root (reachable only through `..` or a symlink) is never named.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(url_path) = std::str::from_utf8(data) else {
        return;
    };
    let root = fathom_fuzz::root();
    let Ok(parts) = handlers::paths::components(url_path) else {
        return;
    };
    if let Ok(found) = handlers::paths::resolve(&root.root, &parts) {
        assert!(
            found.starts_with(&root.root),
            "{url_path:?} left the root: {found:?}"
        );
        assert_ne!(found, root.outside, "{url_path:?} reached the outside file");
    }
});
