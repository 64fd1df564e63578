//! The watcher alone over a folder, for scripts/bench-watch: prints `scan_done files=N
//! micros=T` once the start-up scan is reported, then one line per later event, and runs
//! until killed. The script reads this process's CPU time and RSS from /proc.
//!
//! `cargo run --release -p stowage-core --example watch_idle -- DIR [SETTLE_MS]`

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use stowage_core::watch::{WatchEvent, WatchOptions, Watcher};

#[tokio::main(flavor = "current_thread")]
async fn main() -> stowage_core::Result<()> {
    let mut args = std::env::args().skip(1);
    let root = PathBuf::from(args.next().expect("usage: watch_idle DIR [SETTLE_MS]"));
    let settle = args
        .next()
        .map(|s| Duration::from_millis(s.parse().expect("SETTLE_MS is a number")))
        .unwrap_or(Duration::from_secs(2));
    let t0 = Instant::now();
    let (_watcher, mut rx) = Watcher::start(WatchOptions {
        roots: vec![root],
        settle,
        ignore: Vec::new(),
    })?;
    let mut files = 0u64;
    let mut scanned = false;
    let mut out = std::io::stdout();
    while let Some(ev) = rx.recv().await {
        match ev {
            WatchEvent::ScanDone => {
                scanned = true;
                writeln!(
                    out,
                    "scan_done files={files} micros={}",
                    t0.elapsed().as_micros()
                )
                .unwrap();
            }
            WatchEvent::Stable { .. } if !scanned => files += 1,
            // After the scan: one line per event (none expected while idle).
            ev => writeln!(out, "{ev:?}").unwrap(),
        }
        out.flush().unwrap();
    }
    Ok(())
}
