//! Function logs kept per stack and function, behind a backend trait: what `serverful
//! logs` reads, and what the admin API serves.
//!
//! Every line a function writes, and the `START`/`END`/`REPORT` lines around each of its
//! invocations, is kept with its stack, function, time, request id (when the line belongs
//! to one invocation) and a cursor that orders all lines strictly, even within one
//! millisecond. Readers ask for a function's lines since a time and page or follow them
//! with the cursor ([`Tail`]).
//!
//! - [`LogBackend`]: the storage, one trait with room for another backend (PostgreSQL for
//!   cluster mode); [`SqliteLogs`] keeps everything in one SQLite file, `DATA/logs.sqlite`.
//! - [`LogWriter`]: takes lines on the invocation path without ever blocking it (a bounded
//!   queue; when it is full, lines are dropped and counted) and writes them in batches on
//!   a thread of its own, which also applies the [`Retention`] policy in the background.
//!
//! Architecture invariant: this crate knows nothing about functions' processes, HTTP or
//! the runtime; the runtime hands lines to a trait of its own, which the binary implements
//! with a [`LogWriter`].

mod sqlite;
mod tail;
mod writer;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

pub use sqlite::SqliteLogs;
pub use tail::Tail;
pub use writer::{LogWriter, WriterOptions};

/// The file [`SqliteLogs`] keeps in a data folder.
pub const FILE_NAME: &str = "logs.sqlite";

/// A line to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLine {
    pub stack: String,
    /// The function's logical id.
    pub function: String,
    /// When the line was written, in milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// The invocation the line belongs to, when known.
    pub request_id: Option<String>,
    /// The line, without its newline.
    pub text: String,
}

/// A kept line, as readers get it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Orders every line of the store; pass it back to read the lines after this one.
    pub cursor: Cursor,
    pub stack: String,
    pub function: String,
    pub at_ms: i64,
    pub request_id: Option<String>,
    pub text: String,
}

/// A line's place in the store: lines are read in cursor order, which is the order they
/// were written in. Its text form (a decimal number) is what an HTTP client passes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor(i64);

impl Cursor {
    /// The cursor before every line.
    pub const START: Cursor = Cursor(0);

    /// The cursor of the line a store numbered `seq` (stores number lines in the order
    /// they were written, from 1).
    pub fn from_seq(seq: i64) -> Cursor {
        Cursor(seq)
    }

    /// The number the store gave the line.
    pub fn seq(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for Cursor {
    type Err = LogError;

    fn from_str(text: &str) -> Result<Cursor, LogError> {
        match text.parse::<i64>() {
            Ok(seq) if seq >= 0 => Ok(Cursor(seq)),
            _ => Err(LogError::BadCursor(text.to_owned())),
        }
    }
}

/// Which lines to read: one function of one stack, in cursor order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQuery {
    pub stack: String,
    pub function: String,
    /// Only lines written at or after this time (milliseconds since the Unix epoch).
    pub since_ms: Option<i64>,
    /// Only lines after this cursor (the last one a previous read returned).
    pub after: Option<Cursor>,
    /// At most this many lines.
    pub limit: usize,
}

/// A function that has lines in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionLogs {
    pub stack: String,
    pub function: String,
    pub n_lines: u64,
    /// The bytes of the lines' text, what [`Retention::max_bytes_per_function`] limits.
    pub bytes: u64,
    /// When its newest line was written.
    pub last_at_ms: i64,
}

/// How much of each function's log is kept. Older lines go first; both limits apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// At most this many bytes of text per function (stack and function name); `None`
    /// keeps any amount.
    pub max_bytes_per_function: Option<u64>,
    /// Lines older than this are deleted; `None` keeps them whatever their age.
    pub max_age: Option<Duration>,
}

/// 10 MB of text per function.
pub const DEFAULT_MAX_BYTES_PER_FUNCTION: u64 = 10 * 1024 * 1024;

/// Seven days.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

impl Default for Retention {
    /// 10 MB of text per function, seven days.
    fn default() -> Retention {
        Retention {
            max_bytes_per_function: Some(DEFAULT_MAX_BYTES_PER_FUNCTION),
            max_age: Some(DEFAULT_MAX_AGE),
        }
    }
}

/// What one rotation deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rotated {
    pub n_lines: u64,
    pub bytes: u64,
}

/// Storage of function logs. Implementations are shared by threads: the writer appends
/// while readers page and follow.
pub trait LogBackend: Send + Sync {
    /// Keeps `lines`, in this order, after every line appended before. All or none.
    fn append(&self, lines: &[NewLine]) -> Result<(), LogError>;

    /// Lines of one function in cursor order, as `query` selects them.
    fn read(&self, query: &LogQuery) -> Result<Vec<LogLine>, LogError>;

    /// Functions that have lines, sorted by stack then function; only `stack`'s when given.
    fn functions(&self, stack: Option<&str>) -> Result<Vec<FunctionLogs>, LogError>;

    /// Deletes every line of `stack`; returns how many there were.
    fn delete_stack(&self, stack: &str) -> Result<u64, LogError>;

    /// Deletes, for each function, its lines older than `retention.max_age` before
    /// `now_ms`, then its oldest lines until it holds at most
    /// `retention.max_bytes_per_function` bytes.
    fn rotate(&self, retention: &Retention, now_ms: i64) -> Result<Rotated, LogError>;
}

/// Why the log store failed.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The data folder has no log store (nothing has run from it yet).
    #[error("{} does not exist: no function has logged in this data folder yet", path.display())]
    Missing { path: PathBuf },
    #[error("failed to open the log store {}: {source}", path.display())]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    /// A statement failed; `action` says what it was doing ("append lines").
    #[error("failed to {action} in the log store: {source}")]
    Sqlite {
        action: &'static str,
        source: rusqlite::Error,
    },
    /// A shared database's statement failed (cluster mode).
    #[error("failed to {action} in the log store: {message}")]
    Storage {
        action: &'static str,
        message: String,
    },
    /// The file was written by a newer Serverful.
    #[error("the log store {} has schema version {found}; this Serverful reads up to {supported}: upgrade Serverful or move the file away", path.display())]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("`{0}` is not a log cursor: a cursor is the number a previous read returned")]
    BadCursor(String),
}

/// Milliseconds since the Unix epoch now.
pub fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_through_text() {
        let cursor: Cursor = "42".parse().expect("a cursor");
        assert_eq!(cursor.to_string(), "42");
        assert!(Cursor::START < cursor);
        for bad in ["", "-1", "abc", "1.5"] {
            let error = bad.parse::<Cursor>().expect_err("not a cursor");
            assert!(error.to_string().contains("not a log cursor"), "{error}");
        }
    }
}
