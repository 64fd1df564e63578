//! What deserves an OS notification, and how often: a transfer that failed for good, a
//! provider that went down or came back. Never one per file: failures are counted and told
//! at most once per [`Notices::QUIET`]; a provider's state change at most once per
//! [`Notices::QUIET`] per provider (a flapping provider is told when it settles).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use ts_rs::TS;

use crate::events::Event;

/// One notification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct Notice {
    /// The title.
    pub title: String,
    /// The text.
    pub body: String,
}

/// The rate-limited notices of a stream of events.
#[derive(Debug, Default)]
pub struct Notices {
    /// Failures not yet told: count, and the first one's message.
    failed: (u64, Option<String>),
    failed_told: Option<Instant>,
    /// Per provider: the state last told (up?) and when; and the state now.
    told: HashMap<String, (bool, Instant)>,
    now_up: HashMap<String, (bool, String)>,
}

impl Notices {
    /// The least time between two notices of one kind (per provider for provider notices).
    pub const QUIET: Duration = Duration::from_secs(30);

    /// Take one event in; what to tell now, if anything.
    pub fn offer(&mut self, event: &Event, now: Instant) -> Vec<Notice> {
        match event {
            Event::Failed { error, .. } => {
                self.failed.0 += 1;
                self.failed.1.get_or_insert_with(|| error.clone());
            }
            Event::ProviderDown { profile, error, .. } => {
                self.now_up.insert(profile.clone(), (false, error.clone()));
            }
            Event::ProviderUp { profile, .. } => {
                self.now_up.insert(profile.clone(), (true, String::new()));
            }
            _ => return Vec::new(),
        }
        self.due(now)
    }

    /// What has waited long enough to be told (call now and then: batched failures and
    /// settled providers come out here).
    pub fn due(&mut self, now: Instant) -> Vec<Notice> {
        let mut out = Vec::new();
        let quiet = |t: Option<Instant>| t.is_none_or(|t| now.duration_since(t) >= Self::QUIET);
        if self.failed.0 > 0 && quiet(self.failed_told) {
            let (n, first) = std::mem::take(&mut self.failed);
            let first = first.unwrap_or_default();
            out.push(Notice {
                title: if n == 1 {
                    "A transfer failed".to_string()
                } else {
                    format!("{n} transfers failed")
                },
                body: if n == 1 {
                    first
                } else {
                    format!("First: {first}. See the Sync view to retry.")
                },
            });
            self.failed_told = Some(now);
        }
        let mut names: Vec<&String> = self.now_up.keys().collect();
        names.sort();
        for name in names {
            let (up, error) = &self.now_up[name];
            let last = self.told.get(name);
            // Told already in this state, or told too recently: wait.
            if last.is_some_and(|(was, _)| was == up)
                || (last.is_none() && *up)
                || !quiet(last.map(|(_, at)| *at))
            {
                continue;
            }
            out.push(if *up {
                Notice {
                    title: format!("{name} is back"),
                    body: "Waiting transfers are going up now.".to_string(),
                }
            } else {
                Notice {
                    title: format!("{name} is down"),
                    body: format!("{error}. Transfers wait and go up when it is back."),
                }
            });
            self.told.insert(name.clone(), (*up, now));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn failed(n: u32) -> Event {
        Event::Failed {
            id: Some(n.into()),
            path: PathBuf::from(format!("/p/f{n}")),
            profile: "s3".into(),
            bucket: "b".into(),
            key: format!("k{n}"),
            error: format!("f{n}: refused"),
            kind: "unauthorized",
            attempt: 3,
            at_ns: 0,
        }
    }

    fn down(p: &str) -> Event {
        Event::ProviderDown {
            profile: p.into(),
            error: "could not connect".into(),
            at_ns: 0,
        }
    }

    fn up(p: &str) -> Event {
        Event::ProviderUp {
            profile: p.into(),
            down_ms: 1,
            at_ns: 0,
        }
    }

    #[test]
    fn failures_are_counted_not_told_one_by_one() {
        let mut n = Notices::default();
        let t0 = Instant::now();
        let first = n.offer(&failed(1), t0);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].title, "A transfer failed");
        for i in 2..=50 {
            assert!(n
                .offer(&failed(i), t0 + Duration::from_millis(i.into()))
                .is_empty());
        }
        assert!(n.due(t0 + Duration::from_secs(10)).is_empty());
        let later = n.due(t0 + Notices::QUIET);
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].title, "49 transfers failed");
        assert!(later[0].body.contains("f2: refused"));
        assert!(n.due(t0 + Notices::QUIET * 3).is_empty());
    }

    #[test]
    fn a_provider_is_told_down_and_back_once_and_a_flap_when_it_settles() {
        let mut n = Notices::default();
        let t0 = Instant::now();
        // Up at first is not news.
        assert!(n.offer(&up("s3"), t0).is_empty());
        let d = n.offer(&down("s3"), t0);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].title, "s3 is down");
        assert!(n.offer(&down("s3"), t0 + Duration::from_secs(1)).is_empty());
        // Back too soon after the last notice: told once the quiet time has passed.
        assert!(n.offer(&up("s3"), t0 + Duration::from_secs(2)).is_empty());
        let back = n.due(t0 + Notices::QUIET);
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].title, "s3 is back");
        // Down and up again within the quiet time, settled up: nothing to tell.
        let t1 = t0 + Notices::QUIET + Duration::from_secs(1);
        assert!(n.offer(&down("s3"), t1).is_empty());
        assert!(n.offer(&up("s3"), t1 + Duration::from_secs(1)).is_empty());
        assert!(n.due(t1 + Notices::QUIET * 2).is_empty());
        // Another provider is told on its own.
        assert_eq!(n.offer(&down("supabase"), t1).len(), 1);
    }
}
