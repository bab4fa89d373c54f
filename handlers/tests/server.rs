//! The server as a new user and an attacker meet it: the folder listing, a missing file, the
//! methods it answers, and every way of asking for a file outside the data root.

mod common;

use std::path::PathBuf;

use common::{get, request, serve};

fn root() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fathom-server-test-{}", std::process::id()));
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::fs::create_dir_all(dir.join("sub/deeper")).expect("dirs");
        testdata::write_samples(&dir.join("samples")).expect("samples");
        std::fs::write(dir.join("sub/readme.txt"), b"plain text").expect("file");
        std::fs::write(dir.join(".hidden"), b"secret").expect("file");
        // A secret outside the root, and symlinks pointing at it and at its folder.
        let outside = std::env::temp_dir().join(format!("fathom-outside-{}", std::process::id()));
        std::fs::create_dir_all(&outside).expect("dir");
        std::fs::write(outside.join("secret.nc"), b"CDF\x01 not for you").expect("file");
        std::os::unix::fs::symlink(outside.join("secret.nc"), dir.join("link.nc")).ok();
        std::os::unix::fs::symlink(&outside, dir.join("linkdir")).ok();
        // A symlink that stays inside is fine.
        std::os::unix::fs::symlink(dir.join("samples/classic.nc"), dir.join("sub/inside.nc")).ok();
    });
    dir
}

#[tokio::test]
async fn the_root_lists_folders_and_files_and_hides_what_leaves_the_root() {
    let server = serve(&root()).await;
    let r = get(server.addr, "/").await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("text/html"))
    );
    let text = r.text();
    assert!(text.contains("href=\"samples/\""), "{text}");
    assert!(text.contains("href=\"sub/\""), "{text}");
    assert!(!text.contains(".hidden"), "{text}");
    assert!(
        !text.contains("link.nc"),
        "a symlink out of the root is listed: {text}"
    );
    assert!(!text.contains("linkdir"), "{text}");

    let r = get(server.addr, "/samples/").await;
    assert_eq!(r.status, 200);
    let text = r.text();
    for name in testdata::sample_file_names() {
        assert!(
            text.contains(&format!("href=\"{name}\"")),
            "{name} missing: {text}"
        );
    }
    // A folder without its slash redirects to it (relative links need it).
    let r = get(server.addr, "/samples").await;
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/samples/"));
}

#[tokio::test]
async fn missing_things_are_404_and_files_download_whole() {
    let server = serve(&root()).await;
    assert_eq!(get(server.addr, "/nope.nc").await.status, 404);
    assert_eq!(get(server.addr, "/nope/").await.status, 404);
    let r = get(server.addr, "/nope.nc.dds").await;
    assert_eq!(r.status, 404);
    assert!(r.text().starts_with("Error {"), "{}", r.text());
    let r = get(server.addr, "/sub/readme.txt").await;
    assert_eq!((r.status, r.body.as_slice()), (200, &b"plain text"[..]));
    let r = get(server.addr, "/sub/inside.nc").await;
    let want = std::fs::read(root().join("samples/classic.nc")).expect("read");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, want);
    // A file that is not a dataset has no DAP responses.
    assert_eq!(get(server.addr, "/sub/readme.txt.dds").await.status, 404);
}

#[tokio::test]
async fn only_get_and_head_are_answered() {
    let server = serve(&root()).await;
    let r = request(server.addr, "POST", "/").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    let r = request(server.addr, "HEAD", "/sub/readme.txt").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("10"));
    assert!(r.body.is_empty());
}

#[tokio::test]
async fn nothing_outside_the_root_is_ever_served() {
    let server = serve(&root()).await;
    for target in [
        "/../../../../etc/passwd",
        "/sub/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/%2E%2E/%2E%2E/etc/passwd",
        "/..%2f..%2f..%2fetc%2fpasswd",
        "/sub%2f..%2f..%2fetc/passwd",
        "/..%5c..%5cetc%5cpasswd",
        "/%252e%252e/etc/passwd",
        "/etc/passwd",
        "//etc/passwd",
        "/link.nc",
        "/link.nc.dds",
        "/linkdir/secret.nc",
        "/linkdir/",
        "/sub/%00",
        "/%c0%ae%c0%ae/etc/passwd",
        "http://127.0.0.1/../etc/passwd",
    ] {
        let r = get(server.addr, target).await;
        assert!(
            matches!(r.status, 400 | 404),
            "{target} gave {} {}",
            r.status,
            r.text()
        );
        assert!(!r.text().contains("root:"), "{target} leaked /etc/passwd");
        assert!(!r.text().contains("not for you"), "{target} leaked a file");
        assert!(
            !r.text().contains("/tmp/"),
            "{target} revealed a server path"
        );
    }
}
