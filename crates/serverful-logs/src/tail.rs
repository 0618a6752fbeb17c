//! Reading one function's log page by page, and following it as new lines come: what
//! `serverful logs [-f]` does, and what the admin API turns into a streamed response.

use std::time::{Duration, Instant};

use crate::{Cursor, LogBackend, LogError, LogLine, LogQuery};

/// Lines per page unless [`Tail::page_size`] says otherwise.
const DEFAULT_PAGE_SIZE: usize = 1000;

/// A reader's place in one function's log: each page continues after the last line of
/// the one before, so a reader sees every line once, in order, however many lines are
/// written meanwhile.
///
/// ```
/// # fn demo(store: &serverful_logs::SqliteLogs) -> Result<(), serverful_logs::LogError> {
/// use std::time::Duration;
/// let mut tail = serverful_logs::Tail::new("my-app", "HelloFunction")
///     .since_ms(serverful_logs::now_ms() - 10 * 60 * 1000);
/// loop {
///     let page = tail.next_page(store)?;
///     if page.is_empty() {
///         break; // caught up; `wait` would keep following
///     }
///     for line in page {
///         println!("{}", line.text);
///     }
/// }
/// let newer = tail.wait(store, Duration::from_millis(250), Duration::from_secs(1))?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Tail {
    query: LogQuery,
}

impl Tail {
    /// From the oldest line kept.
    pub fn new(stack: impl Into<String>, function: impl Into<String>) -> Tail {
        Tail {
            query: LogQuery {
                stack: stack.into(),
                function: function.into(),
                since_ms: None,
                after: None,
                limit: DEFAULT_PAGE_SIZE,
            },
        }
    }

    /// Only lines written at or after `since_ms` (milliseconds since the Unix epoch).
    pub fn since_ms(mut self, since_ms: i64) -> Tail {
        self.query.since_ms = Some(since_ms);
        self
    }

    /// Only lines after `cursor`: where a reader that was interrupted left off.
    pub fn after(mut self, cursor: Cursor) -> Tail {
        self.query.after = Some(cursor);
        self
    }

    /// At most `lines` lines per page (at least one).
    pub fn page_size(mut self, lines: usize) -> Tail {
        self.query.limit = lines.max(1);
        self
    }

    /// The last line returned so far (or the one given to [`Tail::after`]).
    pub fn cursor(&self) -> Option<Cursor> {
        self.query.after
    }

    /// The next lines, in order; empty when the reader has caught up.
    pub fn next_page<B: LogBackend + ?Sized>(
        &mut self,
        backend: &B,
    ) -> Result<Vec<LogLine>, LogError> {
        let page = backend.read(&self.query)?;
        if let Some(last) = page.last() {
            self.query.after = Some(last.cursor);
        }
        Ok(page)
    }

    /// The next lines; when there are none yet, looks again every `poll` until some come
    /// or `timeout` has passed (then returns none).
    pub fn wait<B: LogBackend + ?Sized>(
        &mut self,
        backend: &B,
        poll: Duration,
        timeout: Duration,
    ) -> Result<Vec<LogLine>, LogError> {
        let deadline = Instant::now() + timeout;
        loop {
            let page = self.next_page(backend)?;
            let now = Instant::now();
            if !page.is_empty() || now >= deadline {
                return Ok(page);
            }
            std::thread::sleep(poll.min(deadline - now));
        }
    }
}
