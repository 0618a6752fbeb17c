//! Build progress on stderr, for the platform's [`Progress`]: an indicatif bar on a
//! terminal, plain lines otherwise.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serverful_build as build;
use serverful_platform::Progress;

/// Draws a deploy's (or `up`'s start's) progress on stderr.
pub(crate) struct TerminalProgress {
    bar: ProgressBar,
    interactive: bool,
}

impl TerminalProgress {
    pub(crate) fn new() -> TerminalProgress {
        let bar = ProgressBar::new(0);
        let interactive = !bar.is_hidden();
        if interactive {
            bar.set_style(
                ProgressStyle::with_template("{spinner} building [{pos}/{len}] {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        TerminalProgress { bar, interactive }
    }

    /// Clears the bar.
    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for TerminalProgress {
    fn phase(&self, phase: &str) {
        // Phases are the bar's message on a terminal; in a log they would only repeat
        // what the lines that follow say.
        if self.interactive {
            self.bar.set_message(phase.to_owned());
        }
    }

    fn steps(&self, n: usize) {
        self.bar.inc_length(n as u64);
    }

    fn build(&self, event: build::BuildEvent<'_>) {
        match event {
            build::BuildEvent::Started { logical_id, what } => {
                if self.interactive {
                    self.bar.set_message(format!("{logical_id}: {what}"));
                } else {
                    eprintln!("building {logical_id}: {what}");
                }
            }
            build::BuildEvent::Warning {
                logical_id,
                message,
            } => {
                self.bar
                    .suspend(|| eprintln!("warning: {logical_id}: {message}"));
            }
            build::BuildEvent::Finished { .. } => self.bar.inc(1),
        }
    }

    fn warning(&self, message: &str) {
        self.bar.suspend(|| eprintln!("warning: {message}"));
    }
}
