//! Progress bars for transfers: one bar per file in flight, bytes, speed and ETA; a hashing
//! phase shows as its own message. Hidden unless both stdout and stderr are terminals.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use stowage_core::app::App;
use stowage_core::events::Event;
use stowage_core::transfer::ItemEvent;

/// Bars for the items of one transfer.
pub struct Bars {
    multi: MultiProgress,
    labels: Vec<String>,
    /// Labels of items not known when the bars were made (`stowage watch`).
    more_labels: Mutex<HashMap<usize, String>>,
    verb: &'static str,
    bars: Mutex<HashMap<usize, (ProgressBar, bool)>>,
    /// Bytes each item had moved at its last progress event.
    moved: Mutex<HashMap<usize, u64>>,
}

fn style(phase: &str) -> ProgressStyle {
    ProgressStyle::with_template(&format!(
        "{{msg:30!}} {phase:>9} [{{bar:25}}] {{bytes:>10}}/{{total_bytes:<10}} {{binary_bytes_per_sec:>12}} ETA {{eta}}"
    ))
    .expect("valid template")
    .progress_chars("=> ")
}

impl Bars {
    /// Bars labelled by item, `verb` naming the transfer ("uploading"), drawn when `visible`.
    pub fn new(labels: Vec<String>, verb: &'static str, visible: bool) -> Arc<Bars> {
        let target = if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Arc::new(Bars {
            multi: MultiProgress::with_draw_target(target),
            labels,
            more_labels: Mutex::new(HashMap::new()),
            verb,
            bars: Mutex::new(HashMap::new()),
            moved: Mutex::new(HashMap::new()),
        })
    }

    /// Draw the app's transfer events until its operation ends; await the handle before
    /// printing results so the bars are gone by then. None when bars are hidden.
    pub fn follow(
        app: &App,
        verb: &'static str,
        visible: bool,
    ) -> Option<tokio::task::JoinHandle<()>> {
        if !visible {
            return None;
        }
        let mut events = app.events();
        let bars = Bars::new(Vec::new(), verb, true);
        Some(tokio::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                match events.recv().await {
                    Ok(e) if matches!(e.event, Event::Ended { .. }) => break,
                    Ok(e) => bars.event(&e.event),
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => break,
                }
            }
            for (_, (pb, _)) in bars.bars.lock().expect("bars lock").drain() {
                pb.finish_and_clear();
            }
        }))
    }

    /// Apply one event of the stream to the bars.
    pub fn event(&self, e: &Event) {
        let idx = |id: i64| id as usize;
        match e {
            Event::Started { id, path, size, .. } => {
                self.set_label(idx(*id), label(path));
                self.handle(idx(*id), ItemEvent::Started { size: *size });
            }
            Event::Hashing {
                id, bytes, size, ..
            } => self.handle(
                idx(*id),
                ItemEvent::Hashing {
                    done: *bytes,
                    total: *size,
                },
            ),
            Event::Progress { id, bytes, .. } => {
                let before = self
                    .moved
                    .lock()
                    .expect("moved lock")
                    .insert(idx(*id), *bytes)
                    .unwrap_or(0);
                self.handle(
                    idx(*id),
                    ItemEvent::Moved {
                        bytes: bytes.saturating_sub(before),
                    },
                );
            }
            Event::Done { id, .. } | Event::Verified { id, .. } => {
                self.moved.lock().expect("moved lock").remove(&idx(*id));
                self.handle(idx(*id), ItemEvent::Done);
            }
            Event::Failed { id: Some(id), .. }
            | Event::Retried { id, .. }
            | Event::Superseded { id, .. } => {
                self.moved.lock().expect("moved lock").remove(&idx(*id));
                self.handle(idx(*id), ItemEvent::Failed);
            }
            _ => {}
        }
    }

    /// Label item `index` (for items that appear as the transfer goes).
    pub fn set_label(&self, index: usize, label: String) {
        self.more_labels
            .lock()
            .expect("labels lock")
            .insert(index, label);
    }

    /// Whether bars are drawn.
    pub fn is_hidden(&self) -> bool {
        self.multi.is_hidden()
    }

    /// Draw a line above the bars.
    pub fn println(&self, line: &str) {
        if self.multi.is_hidden() {
            eprintln!("{line}");
        } else {
            let _ = self.multi.println(line);
        }
    }

    /// A status line below the bars.
    pub fn status(&self) -> ProgressBar {
        let pb = self.multi.add(ProgressBar::new_spinner());
        pb.enable_steady_tick(Duration::from_millis(200));
        pb
    }

    /// Apply one item's event.
    pub fn handle(&self, index: usize, event: ItemEvent) {
        let mut bars = self.bars.lock().expect("bars lock");
        let label = self.labels.get(index).cloned().unwrap_or_else(|| {
            let more = self.more_labels.lock().expect("labels lock");
            more.get(&index).cloned().unwrap_or_default()
        });
        let mut bar = |len: u64| {
            bars.entry(index)
                .or_insert_with(|| {
                    let pb = self.multi.add(ProgressBar::new(len));
                    pb.set_style(style(self.verb));
                    pb.set_message(label.clone());
                    pb.enable_steady_tick(Duration::from_millis(200));
                    (pb, false)
                })
                .clone()
        };
        match event {
            ItemEvent::Started { size } => {
                let (pb, _) = bar(size);
                pb.set_length(size);
            }
            ItemEvent::Hashing { done, total } => {
                let (pb, hashing) = bar(total);
                if !hashing {
                    pb.set_style(style("hashing"));
                    pb.set_length(total);
                    pb.reset();
                    bars.get_mut(&index).expect("inserted").1 = true;
                }
                pb.set_position(done);
            }
            ItemEvent::Resumed { bytes } | ItemEvent::Moved { bytes } => {
                let (pb, hashing) = bar(0);
                if hashing {
                    pb.set_style(style(self.verb));
                    pb.reset();
                    bars.get_mut(&index).expect("inserted").1 = false;
                }
                if matches!(event, ItemEvent::Resumed { .. }) {
                    pb.set_position(bytes);
                    pb.reset_eta();
                } else {
                    pb.inc(bytes);
                }
            }
            ItemEvent::Done | ItemEvent::Failed => {
                if let Some((pb, _)) = bars.remove(&index) {
                    pb.finish_and_clear();
                    self.multi.remove(&pb);
                }
                self.more_labels.lock().expect("labels lock").remove(&index);
            }
        }
    }
}

/// A bar's label: the file's name.
fn label(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
