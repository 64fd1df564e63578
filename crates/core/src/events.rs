//! The auto-sync event stream: what the engine plans and does, one [`Event`] at a time, for
//! the CLI's status line and NDJSON output and for the desktop app. Every subscriber gets
//! every event sent after it subscribed (a slow one that falls far behind skips ahead).

use std::path::PathBuf;

use serde::Serialize;
use tokio::sync::broadcast;

use crate::catalog::now_ns;

/// One thing the engine did. `id` is the queue row; `at_ns` Unix nanoseconds.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A transfer was planned (a queue row written before any byte moves).
    Queued {
        /// Queue row.
        id: i64,
        /// The local file.
        path: PathBuf,
        /// `primary` or `secondary`.
        role: &'static str,
        /// The profile.
        profile: String,
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// The file's size.
        size: u64,
        /// When.
        at_ns: i64,
    },
    /// A worker started the transfer.
    Started {
        /// Queue row.
        id: i64,
        /// The local file.
        path: PathBuf,
        /// The profile.
        profile: String,
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// The file's size.
        size: u64,
        /// This attempt's number (1 for the first).
        attempt: u32,
        /// When.
        at_ns: i64,
    },
    /// Bytes moved (sent at most every few percent of the file).
    Progress {
        /// Queue row.
        id: i64,
        /// The local file.
        path: PathBuf,
        /// The profile.
        profile: String,
        /// Bytes sent so far, in this attempt (resumed bytes included).
        bytes: u64,
        /// The file's size.
        size: u64,
        /// When.
        at_ns: i64,
    },
    /// Uploaded, verified (size and SHA-256) and recorded.
    Verified {
        /// Queue row.
        id: i64,
        /// The local file.
        path: PathBuf,
        /// The profile.
        profile: String,
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// The file's size.
        size: u64,
        /// Bytes stored (smaller when gzipped).
        stored_size: u64,
        /// SHA-256 of the stored bytes.
        sha256: String,
        /// The version recorded.
        version: String,
        /// Bytes the provider already held from an interrupted upload.
        resumed_from: u64,
        /// The object was already there from an upload that finished before a crash: only
        /// recorded, nothing sent.
        already_stored: bool,
        /// When.
        at_ns: i64,
    },
    /// A file that stays local (by policy) was versioned in the catalog.
    Recorded {
        /// The local file.
        path: PathBuf,
        /// The version.
        version: String,
        /// When.
        at_ns: i64,
    },
    /// A transfer failed for good (or a file cannot be synced at all: no row id then).
    Failed {
        /// Queue row.
        id: Option<i64>,
        /// The local file.
        path: PathBuf,
        /// The profile.
        profile: String,
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// The message (names file, provider and next step).
        error: String,
        /// The error's kind.
        kind: &'static str,
        /// Attempts made.
        attempt: u32,
        /// When.
        at_ns: i64,
    },
    /// A transfer failed and will be tried again.
    Retried {
        /// Queue row.
        id: i64,
        /// The local file.
        path: PathBuf,
        /// The profile.
        profile: String,
        /// The message.
        error: String,
        /// Attempts counted so far.
        attempt: u32,
        /// Milliseconds until it is due (while its provider is down, it waits for it).
        retry_in_ms: u64,
        /// When.
        at_ns: i64,
    },
    /// A transfer was dropped: its file changed (a newer row follows) or disappeared.
    Superseded {
        /// Queue row.
        id: i64,
        /// The local file.
        path: PathBuf,
        /// Why.
        reason: String,
        /// When.
        at_ns: i64,
    },
    /// A provider stopped answering: its transfers pause.
    ProviderDown {
        /// The profile.
        profile: String,
        /// What failed.
        error: String,
        /// When.
        at_ns: i64,
    },
    /// A provider answers again: its transfers resume.
    ProviderUp {
        /// The profile.
        profile: String,
        /// How long it was down.
        down_ms: u64,
        /// When.
        at_ns: i64,
    },
    /// The watcher reported a problem with one file; watching goes on.
    Problem {
        /// The file.
        path: PathBuf,
        /// The message.
        error: String,
        /// When.
        at_ns: i64,
    },
    /// The start-up scan of every root has been planned.
    ScanDone {
        /// When.
        at_ns: i64,
    },
    /// Nothing is queued or in flight.
    Idle {
        /// Rows done so far in this run.
        done: u64,
        /// Rows failed for good in this run.
        failed: u64,
        /// When.
        at_ns: i64,
    },
}

impl Event {
    /// The current time for `at_ns`.
    pub fn now() -> i64 {
        now_ns()
    }
}

/// The stream's sender; clones share it.
#[derive(Clone, Debug)]
pub struct Events {
    tx: broadcast::Sender<Event>,
}

impl Default for Events {
    fn default() -> Self {
        Events::new()
    }
}

impl Events {
    /// A stream buffering this many events per slow subscriber.
    pub fn new() -> Events {
        let (tx, _) = broadcast::channel(16_384);
        Events { tx }
    }

    /// Receive every event sent from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// Send one (nobody listening is fine).
    pub fn send(&self, e: Event) {
        let _ = self.tx.send(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_as_tagged_snake_case_json_and_reach_every_subscriber() {
        let events = Events::new();
        let mut a = events.subscribe();
        let mut b = events.subscribe();
        events.send(Event::ProviderDown {
            profile: "seaweed".into(),
            error: "connection refused".into(),
            at_ns: 7,
        });
        for rx in [&mut a, &mut b] {
            let e = rx.try_recv().unwrap();
            assert_eq!(
                serde_json::to_value(&e).unwrap(),
                serde_json::json!({"event": "provider_down", "profile": "seaweed",
                    "error": "connection refused", "at_ns": 7})
            );
        }
    }
}
