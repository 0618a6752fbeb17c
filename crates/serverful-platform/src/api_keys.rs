//! API keys and usage plans of REST APIs as the platform runs them: each key's value (the
//! template's, or one generated on the stack's first deploy and kept for its life), when
//! each plan was first deployed (its quota's `Offset` applies to that period), and the
//! quota counts, all durable behind [`ApiKeyBackend`]; [`SqliteApiKeys`] keeps them in
//! `DATA/api-keys.sqlite`. [`gateway_keys`] turns a version's keys and plans into what the
//! gateway checks on each API.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension};
use serverful_gateway as gateway;
use serverful_template as template;

/// The database file under the data folder.
pub const FILE_NAME: &str = "api-keys.sqlite";

/// Why the API keys' state could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("failed to {action} in {path}: {message}")]
pub struct ApiKeyError {
    action: &'static str,
    path: String,
    message: String,
}

/// Where keys' values, plans' creation times and quota counts are kept. Each method is one
/// transaction.
pub trait ApiKeyBackend: gateway::QuotaStore + std::fmt::Debug {
    /// The value of `stack`'s key `logical_id`: `given` when the template sets one (kept
    /// from then on), else the value kept before, else `fresh`, kept now.
    fn key_value(
        &self,
        stack: &str,
        logical_id: &str,
        given: Option<&str>,
        fresh: String,
    ) -> Result<String, ApiKeyError>;
    /// When `stack`'s usage plan `logical_id` was first deployed (Unix seconds): `now` if
    /// never before.
    fn plan_created(&self, stack: &str, logical_id: &str, now: i64) -> Result<i64, ApiKeyError>;
    /// Forgets a stack's keys and plans (and its plans' counts).
    fn delete_stack(&self, stack: &str) -> Result<(), ApiKeyError>;
}

/// [`ApiKeyBackend`] in a SQLite database.
pub struct SqliteApiKeys {
    path: PathBuf,
    connection: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteApiKeys")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteApiKeys {
    /// Opens (or creates) `DATA/api-keys.sqlite`.
    pub fn open_in(data_dir: &Path) -> Result<SqliteApiKeys, ApiKeyError> {
        SqliteApiKeys::open(&data_dir.join(FILE_NAME))
    }

    pub fn open(path: &Path) -> Result<SqliteApiKeys, ApiKeyError> {
        let error = |action: &'static str| {
            let path = path.display().to_string();
            move |error: rusqlite::Error| ApiKeyError {
                action,
                path,
                message: error.to_string(),
            }
        };
        let connection = Connection::open(path).map_err(error("open the database"))?;
        // A count is committed before the request it admits reaches its function; with
        // `synchronous=NORMAL` in WAL mode it survives a crash of the server (not of the
        // machine), which costs each counted request no fsync.
        connection
            .execute_batch(
                "PRAGMA journal_mode=WAL;
                 PRAGMA synchronous=NORMAL;
                 PRAGMA busy_timeout=5000;
                 CREATE TABLE IF NOT EXISTS api_keys (
                     stack TEXT NOT NULL,
                     logical_id TEXT NOT NULL,
                     value TEXT NOT NULL,
                     PRIMARY KEY (stack, logical_id)
                 ) WITHOUT ROWID;
                 CREATE TABLE IF NOT EXISTS usage_plans (
                     stack TEXT NOT NULL,
                     logical_id TEXT NOT NULL,
                     created_at INTEGER NOT NULL,
                     PRIMARY KEY (stack, logical_id)
                 ) WITHOUT ROWID;
                 CREATE TABLE IF NOT EXISTS quota_counts (
                     plan_id TEXT NOT NULL,
                     key_id TEXT NOT NULL,
                     period_start INTEGER NOT NULL,
                     count INTEGER NOT NULL,
                     PRIMARY KEY (plan_id, key_id, period_start)
                 ) WITHOUT ROWID;",
            )
            .map_err(error("create the schema"))?;
        Ok(SqliteApiKeys {
            path: path.to_owned(),
            connection: Mutex::new(connection),
        })
    }

    fn error(&self, action: &'static str) -> impl Fn(rusqlite::Error) -> ApiKeyError + '_ {
        move |error| ApiKeyError {
            action,
            path: self.path.display().to_string(),
            message: error.to_string(),
        }
    }

    fn connection(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

impl ApiKeyBackend for SqliteApiKeys {
    fn key_value(
        &self,
        stack: &str,
        logical_id: &str,
        given: Option<&str>,
        fresh: String,
    ) -> Result<String, ApiKeyError> {
        let mut connection = self.connection();
        let transaction = connection
            .transaction()
            .map_err(self.error("start a transaction"))?;
        let kept: Option<String> = transaction
            .query_row(
                "SELECT value FROM api_keys WHERE stack = ?1 AND logical_id = ?2",
                params![stack, logical_id],
                |row| row.get(0),
            )
            .optional()
            .map_err(self.error("read an API key"))?;
        let value = match (given, kept) {
            (Some(given), _) => given.to_owned(),
            (None, Some(kept)) => return Ok(kept),
            (None, None) => fresh,
        };
        transaction
            .execute(
                "INSERT INTO api_keys (stack, logical_id, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (stack, logical_id) DO UPDATE SET value = excluded.value",
                params![stack, logical_id, value],
            )
            .map_err(self.error("record an API key"))?;
        transaction
            .commit()
            .map_err(self.error("record an API key"))?;
        Ok(value)
    }

    fn plan_created(&self, stack: &str, logical_id: &str, now: i64) -> Result<i64, ApiKeyError> {
        let connection = self.connection();
        connection
            .execute(
                "INSERT OR IGNORE INTO usage_plans (stack, logical_id, created_at) VALUES (?1, ?2, ?3)",
                params![stack, logical_id, now],
            )
            .map_err(self.error("record a usage plan"))?;
        connection
            .query_row(
                "SELECT created_at FROM usage_plans WHERE stack = ?1 AND logical_id = ?2",
                params![stack, logical_id],
                |row| row.get(0),
            )
            .map_err(self.error("read a usage plan"))
    }

    fn delete_stack(&self, stack: &str) -> Result<(), ApiKeyError> {
        let mut connection = self.connection();
        let transaction = connection
            .transaction()
            .map_err(self.error("start a transaction"))?;
        for statement in [
            "DELETE FROM api_keys WHERE stack = ?1",
            "DELETE FROM usage_plans WHERE stack = ?1",
            "DELETE FROM quota_counts WHERE plan_id LIKE ?1 || '/%'",
        ] {
            transaction
                .execute(statement, params![stack])
                .map_err(self.error("forget a stack's API keys"))?;
        }
        transaction
            .commit()
            .map_err(self.error("forget a stack's API keys"))
    }
}

impl gateway::QuotaStore for SqliteApiKeys {
    fn try_count(
        &self,
        plan_id: &str,
        key_id: &str,
        period_start: i64,
        limit: u64,
    ) -> Result<bool, String> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let connection = self.connection();
        // One statement: the count goes up only while under the limit.
        let changed = connection
            .execute(
                "INSERT INTO quota_counts (plan_id, key_id, period_start, count)
                 SELECT ?1, ?2, ?3, 1 WHERE ?4 > 0
                 ON CONFLICT (plan_id, key_id, period_start)
                 DO UPDATE SET count = count + 1 WHERE count < ?4",
                params![plan_id, key_id, period_start, limit],
            )
            .map_err(|error| format!("count a request in {}: {error}", self.path.display()))?;
        Ok(changed == 1)
    }
}

/// [`ApiKeyBackend`] in a cluster's PostgreSQL: keys work through every node, and a
/// plan's quota counts every node's requests.
#[derive(Debug)]
pub struct PostgresApiKeys(pub serverful_postgres::api_keys::PostgresApiKeys);

impl PostgresApiKeys {
    fn error(
        &self,
        action: &'static str,
    ) -> impl Fn(serverful_postgres::api_keys::Failure) -> ApiKeyError + '_ {
        move |failure| ApiKeyError {
            action,
            path: self.0.url().to_owned(),
            message: failure.0,
        }
    }
}

impl ApiKeyBackend for PostgresApiKeys {
    fn key_value(
        &self,
        stack: &str,
        logical_id: &str,
        given: Option<&str>,
        fresh: String,
    ) -> Result<String, ApiKeyError> {
        self.0
            .key_value(stack, logical_id, given, fresh)
            .map_err(self.error("record an API key"))
    }

    fn plan_created(&self, stack: &str, logical_id: &str, now: i64) -> Result<i64, ApiKeyError> {
        self.0
            .plan_created(stack, logical_id, now)
            .map_err(self.error("record a usage plan"))
    }

    fn delete_stack(&self, stack: &str) -> Result<(), ApiKeyError> {
        self.0
            .delete_stack(stack)
            .map_err(self.error("forget a stack's API keys"))
    }
}

impl gateway::QuotaStore for PostgresApiKeys {
    fn try_count(
        &self,
        plan_id: &str,
        key_id: &str,
        period_start: i64,
        limit: u64,
    ) -> Result<bool, String> {
        self.0
            .try_count(plan_id, key_id, period_start, limit)
            .map_err(|failure| format!("count a request in {}: {}", self.0.url(), failure.0))
    }
}

/// A new key's value as API Gateway makes them: 40 letters and digits, from the
/// operating system's random source (through `uuid`'s v4).
pub fn generate_value() -> String {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut value = String::with_capacity(40);
    while value.len() < 40 {
        for byte in uuid::Uuid::new_v4().into_bytes() {
            // 248 = 4 × 62: taking bytes below it keeps every character equally likely.
            if byte < 248 && value.len() < 40 {
                value.push(char::from(ALPHABET[usize::from(byte % 62)]));
            }
        }
    }
    value
}

/// One key of a stack, with its value, for banners and listings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeyListing {
    pub logical_id: String,
    pub name: String,
    pub id: String,
    pub value: String,
    pub enabled: bool,
}

/// The keys of `app` (stack `stack`) with their values, kept in `backend`.
pub fn key_listings(
    backend: &dyn ApiKeyBackend,
    stack: &str,
    app: &template::App,
) -> Result<Vec<KeyListing>, ApiKeyError> {
    app.api_keys
        .iter()
        .map(|key| {
            let value = backend.key_value(
                stack,
                &key.logical_id,
                key.value.as_deref(),
                generate_value(),
            )?;
            Ok(KeyListing {
                logical_id: key.logical_id.clone(),
                name: key.name.clone(),
                id: key.id.clone(),
                value,
                enabled: key.enabled,
            })
        })
        .collect()
}

/// What the gateway checks on `api`'s stage: every key of a usage plan of it, with the
/// plan's limits. Quota counts are kept under `{stack}/{plan id}`.
pub fn gateway_keys(
    backend: &Arc<dyn ApiKeyBackend>,
    stack: &str,
    app: &template::App,
    api: &template::Api,
    listings: &[KeyListing],
) -> Result<gateway::ApiKeys, ApiKeyError> {
    let mut grants = Vec::new();
    for plan in &app.usage_plans {
        let Some(stage) = plan
            .stages
            .iter()
            .find(|stage| stage.api == api.logical_id && stage.stage == api.stage_name)
        else {
            continue;
        };
        let quota = match plan.quota {
            None => None,
            Some(quota) => {
                let now = time::OffsetDateTime::now_utc().unix_timestamp();
                Some(gateway::Quota {
                    limit: quota.limit,
                    offset: quota.offset,
                    period: match quota.period {
                        template::QuotaPeriod::Day => gateway::QuotaPeriod::Day,
                        template::QuotaPeriod::Week => gateway::QuotaPeriod::Week,
                        template::QuotaPeriod::Month => gateway::QuotaPeriod::Month,
                    },
                    created_at: backend.plan_created(stack, &plan.logical_id, now)?,
                })
            }
        };
        let throttle = |throttle: template::Throttle| gateway::Throttle {
            rate_limit: throttle.rate_limit,
            burst_limit: throttle.burst_limit,
        };
        let limits = Arc::new(gateway::PlanLimits {
            plan_id: format!("{stack}/{}", plan.id),
            throttle: plan.throttle.map(throttle),
            method_throttles: stage
                .method_throttles
                .iter()
                .map(|(method, limits)| (method.clone(), throttle(*limits)))
                .collect(),
            quota,
        });
        for key_logical_id in &plan.keys {
            let Some(key) = listings
                .iter()
                .find(|listing| listing.logical_id == *key_logical_id)
            else {
                continue;
            };
            grants.push(gateway::KeyGrant {
                key_id: key.id.clone(),
                value: key.value.clone(),
                enabled: key.enabled,
                plan: limits.clone(),
            });
        }
    }
    let quotas: Arc<dyn gateway::QuotaStore> = backend.clone();
    Ok(gateway::ApiKeys {
        source: match api.api_key_source {
            template::ApiKeySource::Header => gateway::ApiKeySource::Header,
            template::ApiKeySource::Authorizer => gateway::ApiKeySource::Authorizer,
        },
        grants,
        quotas: Some(quotas),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gateway::QuotaStore as _;

    #[test]
    fn values_and_counts_survive_reopening() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = SqliteApiKeys::open_in(dir.path()).expect("open");
        let generated = first
            .key_value("s", "Key", None, generate_value())
            .expect("value");
        assert_eq!(generated.len(), 40);
        assert!(generated.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(
            first
                .key_value(
                    "s",
                    "Given",
                    Some("given-value-of-twenty"),
                    generate_value()
                )
                .expect("value"),
            "given-value-of-twenty"
        );
        assert!(first.try_count("s/p", "k", 100, 2).expect("count"));
        assert!(first.try_count("s/p", "k", 100, 2).expect("count"));
        assert!(!first.try_count("s/p", "k", 100, 2).expect("count"));
        assert_eq!(first.plan_created("s", "Plan", 7).expect("plan"), 7);
        drop(first);

        let again = SqliteApiKeys::open_in(dir.path()).expect("reopen");
        assert_eq!(
            again
                .key_value("s", "Key", None, generate_value())
                .expect("value"),
            generated
        );
        assert!(!again.try_count("s/p", "k", 100, 2).expect("count"));
        assert!(again.try_count("s/p", "k", 200, 2).expect("a new period"));
        assert!(!again.try_count("s/p", "k", 300, 0).expect("a zero limit"));
        assert_eq!(again.plan_created("s", "Plan", 9).expect("plan"), 7);
        again.delete_stack("s").expect("delete");
        assert!(again.try_count("s/p", "k", 100, 2).expect("forgotten"));
        assert_ne!(
            again
                .key_value("s", "Key", None, generate_value())
                .expect("value"),
            generated
        );
    }
}
