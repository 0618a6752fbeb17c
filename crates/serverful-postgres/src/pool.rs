//! One node's connections to the cluster's PostgreSQL database, shared by every backend
//! of this crate.
//!
//! Each connection lives on a worker thread of its own, which runs the calls handed to
//! it. The `postgres` client runs its own async runtime and refuses to block inside
//! another one, and the backends are called from the server's async threads too; a caller
//! only waits on a channel, which any thread may.
//!
//! Two groups of workers: most calls go to the *data* workers; calls that hold a
//! connection while their caller works elsewhere (the store's cross-node locks, held
//! across its read-check-write) go to the *held* workers, so that they can never take
//! every connection a holder needs to finish.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};

/// A call run on a worker's connection.
type Job = Box<dyn FnOnce(&mut Client) + Send>;

/// What went wrong talking to the database, as text for the caller's error type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatabaseError {
    /// The database answered with an error, or the connection failed.
    #[error("{0}")]
    Failed(String),
    /// This node's connections are shut down.
    #[error("the database connections are closed")]
    Closed,
}

impl DatabaseError {
    /// Wraps any error's text.
    pub fn failed(error: impl std::fmt::Display) -> DatabaseError {
        DatabaseError::Failed(error.to_string())
    }
}

/// What a PostgreSQL error says: the server's own message (and detail) for an error the
/// database reported, which the client's `Display` shortens to "db error".
pub fn describe(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({}; {detail})", db.message(), db.code().code()),
            None => format!("{} ({})", db.message(), db.code().code()),
        },
        None => error.to_string(),
    }
}

/// How long one attempt to connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How many connections of each kind a node keeps, and how long it tries to reach the
/// database at start.
#[derive(Debug, Clone)]
pub struct PoolSize {
    /// Connections for ordinary calls.
    pub data: u32,
    /// Connections for calls that hold one while their caller works (locks).
    pub held: u32,
    /// How long [`Database::connect`] keeps retrying an unreachable database.
    pub connect_for: Duration,
}

impl Default for PoolSize {
    fn default() -> PoolSize {
        PoolSize {
            data: 16,
            held: 8,
            connect_for: Duration::from_secs(60),
        }
    }
}

/// One node's connections to the database.
pub struct Database {
    data: Mutex<Sender<Job>>,
    held: Mutex<Sender<Job>>,
    /// The URL without its password, for messages.
    display: String,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("url", &self.display)
            .finish_non_exhaustive()
    }
}

/// One connection's thread: runs jobs until the database handle is dropped,
/// reconnecting when the connection was lost (the job that found it lost has failed with
/// the error, and the caller retries).
fn worker(config: postgres::Config, mut client: Client, jobs: Arc<Mutex<Receiver<Job>>>) {
    loop {
        let job = {
            let Ok(receiver) = jobs.lock() else { return };
            match receiver.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        if client.is_closed() {
            if let Ok(fresh) = connect(&config) {
                client = fresh;
            }
        }
        job(&mut client);
    }
}

/// Connects on a thread without an async runtime (the client makes its own, which
/// cannot start inside the server's). The client's own timeout covers the TCP connect
/// only; a server that accepts and then says nothing would hold the handshake forever,
/// so the whole attempt is bounded here (the thread left behind ends with its socket).
fn connect(config: &postgres::Config) -> Result<Client, DatabaseError> {
    let limit = config
        .get_connect_timeout()
        .copied()
        .unwrap_or(CONNECT_TIMEOUT)
        + Duration::from_secs(1);
    let config = config.clone();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(config.connect(NoTls));
    });
    match receiver.recv_timeout(limit) {
        Ok(connected) => connected.map_err(DatabaseError::failed),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(DatabaseError::Failed(format!(
            "no answer within {} s",
            limit.as_secs()
        ))),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(DatabaseError::Failed(
            "connecting to PostgreSQL panicked".into(),
        )),
    }
}

/// `url` without a password, for start-up lines and errors.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl Database {
    /// Connects to `url` (`postgres://user@host:port/database`), retrying with backoff
    /// for up to `size.connect_for` while the database cannot be reached; `waiting` is
    /// told of each failed attempt (to print why the node is not up yet).
    pub fn connect(
        url: &str,
        size: &PoolSize,
        waiting: &dyn Fn(&DatabaseError, Duration),
    ) -> Result<Database, DatabaseError> {
        let mut config: postgres::Config = url.parse().map_err(|error| {
            DatabaseError::Failed(format!(
                "{} is not a PostgreSQL URL ({error}): use postgres://user[:password]@host[:port]/database",
                redacted(url)
            ))
        })?;
        // A database cut off by the network must not hang a node: connecting gives up
        // after a few seconds, and a connection whose peer stops answering is found dead
        // by keepalives and by the kernel's limit on unacknowledged data, instead of the
        // default quarter of an hour. The URL's own settings win.
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config
            .keepalives_idle(Duration::from_secs(10))
            .keepalives_interval(Duration::from_secs(2))
            .keepalives_retries(3)
            .tcp_user_timeout(Duration::from_secs(20));
        let started = Instant::now();
        let mut pause = Duration::from_millis(250);
        let first = loop {
            match connect(&config) {
                Ok(client) => break client,
                Err(error) => {
                    if started.elapsed() + pause > size.connect_for {
                        return Err(DatabaseError::Failed(format!(
                            "cannot reach PostgreSQL at {} after {} s: {error}",
                            redacted(url),
                            started.elapsed().as_secs()
                        )));
                    }
                    waiting(&error, pause);
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
            }
        };
        let mut first = Some(first);
        let mut group = |name: &str, count: u32| -> Result<Sender<Job>, DatabaseError> {
            let (sender, receiver) = mpsc::channel::<Job>();
            let receiver = Arc::new(Mutex::new(receiver));
            for number in 0..count.max(1) {
                let client = match first.take() {
                    Some(client) => client,
                    None => connect(&config)?,
                };
                let config = config.clone();
                let jobs = Arc::clone(&receiver);
                std::thread::Builder::new()
                    .name(format!("postgres-{name}-{number}"))
                    .spawn(move || worker(config, client, jobs))
                    .map_err(DatabaseError::failed)?;
            }
            Ok(sender)
        };
        let data = group("data", size.data)?;
        let held = group("held", size.held)?;
        Ok(Database {
            data: Mutex::new(data),
            held: Mutex::new(held),
            display: redacted(url),
        })
    }

    /// Connects without retrying, with `connections` data connections (tests, tools).
    pub fn open(url: &str, connections: u32) -> Result<Database, DatabaseError> {
        Database::connect(
            url,
            &PoolSize {
                data: connections,
                held: connections.clamp(1, 4),
                connect_for: Duration::ZERO,
            },
            &|_, _| {},
        )
    }

    /// The URL without its password.
    pub fn url(&self) -> &str {
        &self.display
    }

    /// Runs `call` on a data connection and waits for its answer.
    pub fn run<T: Send + 'static, E: From<DatabaseError> + Send + 'static>(
        &self,
        call: impl FnOnce(&mut Client) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E> {
        Database::send(&self.data, call)
    }

    fn send<T: Send + 'static, E: From<DatabaseError> + Send + 'static>(
        group: &Mutex<Sender<Job>>,
        call: impl FnOnce(&mut Client) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E> {
        let (answer, answered) = mpsc::sync_channel(1);
        Database::hand_over(
            group,
            Box::new(move |client| {
                let _ = answer.send(call(client));
            }),
        )?;
        answered.recv().map_err(|_| DatabaseError::Closed)?
    }

    /// Queues `job` for the next free connection of `group`.
    fn hand_over(group: &Mutex<Sender<Job>>, job: Job) -> Result<(), DatabaseError> {
        group
            .lock()
            .map_err(|_| DatabaseError::Closed)?
            .send(job)
            .map_err(|_| DatabaseError::Closed)
    }

    /// Hands `call` to a data connection without waiting; it answers through whatever
    /// it captured (for async callers, a oneshot channel).
    pub fn spawn(
        &self,
        call: impl FnOnce(&mut Client) + Send + 'static,
    ) -> Result<(), DatabaseError> {
        Database::hand_over(&self.data, Box::new(call))
    }

    /// Hands `call` to a connection of the held group without waiting (it answers
    /// through what it captured, and may keep the connection until its caller lets go).
    pub fn spawn_held(
        &self,
        call: impl FnOnce(&mut Client) + Send + 'static,
    ) -> Result<(), DatabaseError> {
        Database::hand_over(&self.held, Box::new(call))
    }

    /// Creates or upgrades one component's schema under a lock that nodes starting at
    /// the same time share: `steps[i]` takes the schema from version `i` to `i + 1`
    /// (each in one transaction), recorded in `serverful_schema`. A database of a newer
    /// version than `steps.len()` is refused.
    pub fn migrate(
        &self,
        component: &'static str,
        steps: &'static [&'static str],
    ) -> Result<(), DatabaseError> {
        self.run(move |client| migrate(client, component, steps))
    }
}

/// The advisory lock key of schema migrations (any constant; "srvf" in ASCII).
const MIGRATION_LOCK: i64 = 0x7372_7666;

fn migrate(client: &mut Client, component: &str, steps: &[&str]) -> Result<(), DatabaseError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .map_err(DatabaseError::failed)?;
    let outcome = (|| {
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS serverful_schema (component text PRIMARY KEY, version int NOT NULL)",
            )
            .map_err(DatabaseError::failed)?;
        let found: i32 = client
            .query_opt(
                "SELECT version FROM serverful_schema WHERE component = $1",
                &[&component],
            )
            .map_err(DatabaseError::failed)?
            .map(|row| row.get(0))
            .unwrap_or(0);
        let newest = i32::try_from(steps.len()).unwrap_or(i32::MAX);
        if found > newest {
            return Err(DatabaseError::Failed(format!(
                "the database's {component} schema is version {found}, newer than this build's {newest}: upgrade serverful"
            )));
        }
        for (version, step) in (1_i32..)
            .zip(steps)
            .skip(usize::try_from(found).unwrap_or(0))
        {
            let mut transaction = client.transaction().map_err(DatabaseError::failed)?;
            transaction
                .batch_execute(step)
                .map_err(DatabaseError::failed)?;
            transaction
                .execute(
                    "INSERT INTO serverful_schema (component, version) VALUES ($1, $2) ON CONFLICT (component) DO UPDATE SET version = EXCLUDED.version",
                    &[&component, &version],
                )
                .map_err(DatabaseError::failed)?;
            transaction.commit().map_err(DatabaseError::failed)?;
        }
        Ok(())
    })();
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .map_err(DatabaseError::failed)?;
    outcome
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redacted("postgres://app:secret@db:5432/serverful"),
            "postgres://app:***@db:5432/serverful"
        );
        assert_eq!(
            redacted("postgres://app@db/serverful"),
            "postgres://app@db/serverful"
        );
        assert_eq!(redacted("postgres://db/x"), "postgres://db/x");
    }
}
