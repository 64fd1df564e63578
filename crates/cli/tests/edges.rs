//! Edges a user meets from the shell and on other S3 servers: closed pipes, stalled servers,
//! compression by name, hints and exit codes.

mod common;

use std::io::Read;
use std::process::Stdio;

use common::*;

/// `stowage ls | head`: the reader goes away after one line; the listing stops quietly with
/// status 141 (no panic, no error text).
#[test]
fn closed_stdout_ends_a_long_listing_quietly() {
    let sb = Sandbox::new();
    sb.run(&["buckets", "create", "big"]).ok();
    let dir = sb.path("data/store/big/many");
    std::fs::create_dir_all(&dir).unwrap();
    // About 200 KB of listing: more than a pipe buffer holds, so the writer meets the close.
    for i in 0..3000 {
        std::fs::write(dir.join(format!("file-{i:05}.txt")), b"x").unwrap();
    }
    for args in [&["ls", "-r", "big"][..], &["--json", "ls", "-r", "big"][..]] {
        let mut child = sb
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read the start only (the JSON document is one long line).
        let mut first = [0u8; 64];
        child.stdout.take().unwrap().read_exact(&mut first).unwrap();
        // The reader is dropped here: the pipe is closed with most of the listing unsent.
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(141), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}
