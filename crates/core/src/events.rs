//! The event stream: what an operation plans and does, one [`Event`] at a time, for the
//! CLI's bars, status line and NDJSON output and for the desktop app. The auto-sync engine
//! and one-off transfers (put, get, migrate…) speak the same events; the app layer tags each
//! with its operation's id. Every subscriber gets every event sent after it subscribed (a
//! slow one that falls far behind skips ahead).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;
use tokio::sync::broadcast;
use ts_rs::TS;

use crate::transfer::{ItemEvent, ProgressFn};
use crate::units::now_ns;

/// One thing an operation did. `id` is the queue row for the engine, the item's index for a
/// one-off transfer; `at_ns` Unix nanoseconds.
#[derive(Clone, Debug, Serialize, TS)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// An operation began (`put`, `get`, `sync`, `watch`…).
    Began {
        /// The action.
        action: String,
        /// When.
        at_ns: i64,
    },
    /// An operation ended.
    Ended {
        /// Whether it succeeded as a whole.
        ok: bool,
        /// Its error's message, when it failed.
        error: Option<String>,
        /// When.
        at_ns: i64,
    },
    /// An operation was cancelled; its in-flight transfers stop.
    Cancelled {
        /// When.
        at_ns: i64,
    },
    /// A one-off transfer's source is being hashed before it is sent.
    Hashing {
        /// The item.
        id: i64,
        /// The local file.
        path: PathBuf,
        /// Bytes hashed so far.
        bytes: u64,
        /// Bytes in all.
        size: u64,
        /// When.
        at_ns: i64,
    },
    /// One item of a one-off transfer finished and was verified (the action's result says
    /// how).
    Done {
        /// The item.
        id: i64,
        /// The local file.
        path: PathBuf,
        /// When.
        at_ns: i64,
    },
    /// A transfer was planned (a queue row written before any byte moves).
    Queued {
        /// Queue row.
        id: i64,
        /// The local file.
        path: PathBuf,
        /// `primary` or `secondary`.
        #[ts(type = "string")]
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
        /// Bytes per second moved in this attempt so far (resumed bytes not counted).
        rate_bps: u64,
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
        #[ts(type = "string")]
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

/// Where a transfer's events go.
pub type Sink = Arc<dyn Fn(Event) + Send + Sync>;

/// One item of a transfer, as its events name it.
#[derive(Clone, Debug)]
pub struct Tracked {
    /// The queue row, or the item's index.
    pub id: i64,
    /// The local file.
    pub path: PathBuf,
    /// The profile.
    pub profile: String,
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// The file's size.
    pub size: u64,
}

/// The stream's events for a transfer's [`ItemEvent`]s: [`Event::Progress`] with the rate,
/// at most one per 2 % of the file (and per MiB) so a large file does not flood the stream,
/// plus — with `lifecycle`, for one-off transfers whose items have no queue rows —
/// [`Event::Started`], [`Event::Hashing`] and [`Event::Done`]. A failure is not sent here:
/// the caller sends [`Event::Failed`] with the error.
pub fn progress_fn(sink: Sink, items: Vec<Tracked>, lifecycle: bool) -> ProgressFn {
    struct State {
        sent: AtomicU64,
        last: AtomicU64,
        started: Mutex<Option<(Instant, u64)>>,
    }
    let states: Arc<Vec<State>> = Arc::new(
        items
            .iter()
            .map(|_| State {
                sent: AtomicU64::new(0),
                last: AtomicU64::new(0),
                started: Mutex::new(None),
            })
            .collect(),
    );
    Arc::new(move |index, e| {
        let (Some(item), Some(state)) = (items.get(index), states.get(index)) else {
            return;
        };
        let start = |resumed: u64| {
            let mut s = state.started.lock().unwrap_or_else(|p| p.into_inner());
            if s.is_none() {
                *s = Some((Instant::now(), resumed));
            }
        };
        let now = match e {
            ItemEvent::Started { size } => {
                start(0);
                if lifecycle {
                    sink(Event::Started {
                        id: item.id,
                        path: item.path.clone(),
                        profile: item.profile.clone(),
                        bucket: item.bucket.clone(),
                        key: item.key.clone(),
                        size,
                        attempt: 1,
                        at_ns: now_ns(),
                    });
                }
                return;
            }
            ItemEvent::Hashing { done, total } => {
                if lifecycle && (done == 0 || done == total || done % (8 << 20) == 0) {
                    sink(Event::Hashing {
                        id: item.id,
                        path: item.path.clone(),
                        bytes: done,
                        size: total,
                        at_ns: now_ns(),
                    });
                }
                return;
            }
            ItemEvent::Done => {
                if lifecycle {
                    sink(Event::Done {
                        id: item.id,
                        path: item.path.clone(),
                        at_ns: now_ns(),
                    });
                }
                return;
            }
            ItemEvent::Failed => return,
            ItemEvent::Resumed { bytes } => {
                *state.started.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some((Instant::now(), bytes));
                state.sent.store(bytes, Ordering::Relaxed);
                bytes
            }
            ItemEvent::Moved { bytes } => {
                start(0);
                state.sent.fetch_add(bytes, Ordering::Relaxed) + bytes
            }
        };
        let step = (item.size / 50).max(1 << 20);
        let before = state.last.load(Ordering::Relaxed);
        if now >= before + step || now >= item.size || before == 0 {
            state.last.store(now.max(1), Ordering::Relaxed);
            let rate_bps = match *state.started.lock().unwrap_or_else(|p| p.into_inner()) {
                Some((t, from)) => {
                    let secs = t.elapsed().as_secs_f64();
                    if secs > 0.0 {
                        (now.saturating_sub(from) as f64 / secs) as u64
                    } else {
                        0
                    }
                }
                None => 0,
            };
            sink(Event::Progress {
                id: item.id,
                path: item.path.clone(),
                profile: item.profile.clone(),
                bytes: now,
                size: item.size,
                rate_bps,
                at_ns: now_ns(),
            });
        }
    })
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
