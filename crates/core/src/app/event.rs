//! The app's one event stream: every [`Event`] of every operation, tagged with the id of the
//! operation it belongs to.

use serde::Serialize;
use ts_rs::TS;

use crate::events::Event;

/// An operation's id: unique within one [`super::App`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, TS)]
#[serde(transparent)]
pub struct OpId(pub u64);

impl std::fmt::Display for OpId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// One event of one operation: `{"op": 3, "event": "progress", …}`.
#[derive(Clone, Debug, Serialize, TS)]
pub struct AppEvent {
    /// The operation.
    pub op: OpId,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
}
