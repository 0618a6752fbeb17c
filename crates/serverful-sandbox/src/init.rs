//! The sandbox init. PLACEHOLDER signatures; the implementation is being written.
#![allow(dead_code, unused_variables, clippy::todo)]

use crate::Mount;

/// Runs the sandbox init when this process was started as one (by a command from
/// [`crate::Host::prepare`]) and never returns then; otherwise returns at once. Call it
/// first thing in `main`, before any thread starts.
pub fn run_init_if_requested() {}

pub(crate) fn system_mounts() -> Vec<Mount> {
    todo!()
}
