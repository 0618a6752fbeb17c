//! What travels on the admin API's streams: one JSON object per line, progress events
//! then the outcome or the error.

use serverful_platform::{ActionError, Outcome};

/// One line of an action's answer.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A step of the action begins.
    Phase { phase: String },
    /// `n` build steps follow.
    Steps { n: usize },
    /// A build tool started for a function or layer.
    Build { function: String, what: String },
    /// A function or layer finished building.
    Built { function: String, cached: bool },
    /// Something the user should know.
    Warning { message: String },
    /// The last line: what the action did.
    Done { result: Box<Outcome> },
    /// The last line: why the action failed.
    Failed { error: ActionError },
}
