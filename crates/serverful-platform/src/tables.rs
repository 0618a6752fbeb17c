//! The DynamoDB store of the server: the SQLite database in the data folder, a version's
//! tables created before it serves (kept when they exist, so data survives restarts and
//! deploys; a changed key schema refused, as CloudFormation would have to replace the
//! table), tables deleted with their stack on request, and the periodic TTL sweep.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use serverful_store::{ErrorKind, Store, StoreConfig};
use serverful_template as template;

/// How often expired items (TTL) are deleted. DynamoDB deletes them "within a few days";
/// here it is seconds, which is what tests and demos expect to see.
const TTL_SWEEP_INTERVAL: Duration = Duration::from_secs(5);

/// What happened to one template table at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableSetup {
    Created,
    Existing,
}

/// Opens (or creates) the store: in `data_dir`, or in the cluster's PostgreSQL
/// `database` (`--store`).
pub fn open_store(
    data_dir: &Path,
    database: Option<Arc<serverful_postgres::Database>>,
    region: &str,
    account_id: &str,
) -> Result<Arc<Store>, String> {
    let backend: Arc<dyn serverful_store::Backend> = match database {
        Some(database) => {
            let url = database.url().to_owned();
            Arc::new(
                serverful_postgres::PostgresBackend::new(database).map_err(|error| {
                    format!("open the DynamoDB store in PostgreSQL {url}: {error}")
                })?,
            )
        }
        None => {
            let path = data_dir.join("dynamodb.sqlite");
            Arc::new(
                serverful_store_sqlite::SqliteBackend::open(&path).map_err(|error| {
                    format!("open the DynamoDB store {}: {error}", path.display())
                })?,
            )
        }
    };
    let config = StoreConfig {
        region: region.to_string(),
        account_id: account_id.to_string(),
    };
    let store = Store::open(backend, config)
        .map_err(|error| format!("open the DynamoDB store: {error}"))?;
    Ok(Arc::new(store))
}

/// Creates the template's tables that do not exist yet and turns on their TTL. An error
/// names the table and says what DynamoDB would say about its definition.
pub fn ensure_tables(
    store: &Store,
    tables: &[template::Table],
) -> Result<Vec<(String, TableSetup)>, String> {
    let mut setups = Vec::new();
    for table in tables {
        let name = &table.table_name;
        let describe = json!({"TableName": name}).to_string();
        let setup = match store.call("DescribeTable", describe.as_bytes()) {
            Ok(existing) => {
                check_key_schema(table, &existing["Table"]["KeySchema"])?;
                TableSetup::Existing
            }
            Err(error) if error.kind == ErrorKind::ResourceNotFound => {
                let create = table.create_table.to_string();
                store
                    .call("CreateTable", create.as_bytes())
                    .map_err(|error| {
                        format!(
                            "table {} ({name}): {}: {}",
                            table.logical_id,
                            error.type_name(),
                            error.message
                        )
                    })?;
                TableSetup::Created
            }
            Err(error) => {
                return Err(format!(
                    "table {name}: {}: {}",
                    error.type_name(),
                    error.message
                ))
            }
        };
        if let Some(attribute) = &table.time_to_live_attribute {
            enable_time_to_live(store, name, attribute)?;
        }
        setups.push((name.clone(), setup));
    }
    Ok(setups)
}

/// A table's key schema cannot change in place: CloudFormation replaces the table (a new
/// one, empty) when it does. A deploy refuses rather than lose the items.
fn check_key_schema(table: &template::Table, existing: &serde_json::Value) -> Result<(), String> {
    let wanted = &table.create_table["KeySchema"];
    let keys = |schema: &serde_json::Value| -> Vec<(String, String)> {
        schema
            .as_array()
            .map(|elements| {
                elements
                    .iter()
                    .map(|element| {
                        (
                            element["AttributeName"]
                                .as_str()
                                .unwrap_or_default()
                                .to_owned(),
                            element["KeyType"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let (wanted, existing) = (keys(wanted), keys(existing));
    if wanted.is_empty() || wanted == existing {
        return Ok(());
    }
    let show = |keys: &[(String, String)]| {
        keys.iter()
            .map(|(name, kind)| format!("{name} ({kind})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(format!(
        "table {} ({}): its key schema changed from {} to {}; CloudFormation would replace the table and lose its items, so the deploy is refused (give the table a new name, or delete the old one first)",
        table.logical_id,
        table.table_name,
        show(&existing),
        show(&wanted)
    ))
}

/// Deletes `names` from the store (a stack deleted with `--delete-tables`, or tables
/// dropped from its template); a table already gone is fine.
pub fn delete_tables(store: &Store, names: &[String]) -> Result<(), String> {
    for name in names {
        let request = json!({"TableName": name}).to_string();
        match store.call("DeleteTable", request.as_bytes()) {
            Ok(_) => {}
            Err(error) if error.kind == ErrorKind::ResourceNotFound => {}
            Err(error) => return Err(format!("delete table {name}: {}", error.message)),
        }
    }
    Ok(())
}

fn enable_time_to_live(store: &Store, table_name: &str, attribute: &str) -> Result<(), String> {
    let describe = json!({"TableName": table_name}).to_string();
    let current = store
        .call("DescribeTimeToLive", describe.as_bytes())
        .map_err(|error| format!("table {table_name}: {}", error.message))?;
    let description = &current["TimeToLiveDescription"];
    let enabled = description["TimeToLiveStatus"] == "ENABLED";
    if enabled && description["AttributeName"] == attribute {
        return Ok(());
    }
    let update = json!({
        "TableName": table_name,
        "TimeToLiveSpecification": {"Enabled": true, "AttributeName": attribute},
    })
    .to_string();
    store
        .call("UpdateTimeToLive", update.as_bytes())
        .map(|_| ())
        .map_err(|error| {
            format!(
                "table {table_name}: turn on TTL on {attribute}: {}",
                error.message
            )
        })
}

/// Deletes expired items every few seconds, for as long as the server runs.
/// How often a node of a cluster checks whether another node changed the catalog
/// (a table's index, stream or TTL); a table missing here is looked up at once anyway.
const CATALOG_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Keeps a cluster node's view of the catalog within a second of the database's.
pub fn spawn_catalog_watch(store: Arc<Store>) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(CATALOG_CHECK_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let store = store.clone();
            match tokio::task::spawn_blocking(move || store.refresh_catalog()).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::warn!("failed to read the shared catalog: {error}"),
                Err(error) => tracing::warn!("the catalog check failed: {error}"),
            }
        }
    });
}

/// Deletes expired items every few seconds. In a cluster one node sweeps at a time: the
/// one holding the `ttl-sweep` lease, asked for before each sweep.
pub fn spawn_ttl_sweep(store: Arc<Store>, leases: Arc<dyn serverful_cluster::Leases>) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(TTL_SWEEP_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let store = store.clone();
            let leases = leases.clone();
            let sweep = move || {
                // Held past the next tick, so the sweeping node keeps it while it lives.
                match leases.hold("ttl-sweep", TTL_SWEEP_INTERVAL * 3) {
                    Ok(true) => store.expire_items().map(|_| ()),
                    Ok(false) => Ok(()),
                    Err(error) => {
                        tracing::debug!("cannot ask for the TTL sweep's lease: {error}");
                        Ok(())
                    }
                }
            };
            match tokio::task::spawn_blocking(sweep).await {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => tracing::warn!("failed to delete expired items: {error}"),
                Err(error) => tracing::warn!("the TTL sweep failed: {error}"),
            }
        }
    });
}
