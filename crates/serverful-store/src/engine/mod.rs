//! The DynamoDB engine: [`Store`] runs every operation of [`crate::api`] over
//! a [`Backend`], holding the table catalog in memory and serializing each
//! read-check-write with striped key locks so conditions, updates and
//! transactions are never lost to a concurrent writer.
//!
//! Locking: item operations hold the schema gate for reading, control-plane
//! operations (create, delete and update table) for writing. Inside the gate a
//! write locks the stripes of the keys it touches (several, in stripe order,
//! for batches and transactions), reads the current item, evaluates, and
//! writes one atomic backend batch before unlocking. Different keys proceed in
//! parallel, which is what lets the backend group-commit.

mod codec;
mod dispatch;
mod items;
mod partiql;
mod read;
mod start;
mod stream_watch;
mod streams;
mod tables;
mod targets;
mod transact;
mod validate;

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::backend::{Backend, BackendError, Exclusion, Held, Space, Write};
use crate::capacity::write_units;
use crate::error::{StoreError, StoreResult};
use crate::index::{IndexProjection, SecondaryIndex};
use crate::key::{encode_key_value_into, KeyAttribute, KeySchema, ScalarType};
use crate::value::{item_size, Item};

pub use dispatch::{NON_WAITING_OPERATIONS, OPERATIONS, STREAMS_OPERATIONS};
pub use start::{Answer, BlockingCall};
pub use stream_watch::{ShardRecord, StreamInfo, StreamWatch};
pub use tables::table_arn;
pub use targets::{RequestTargets, TableAccess};

/// How many lock stripes keys hash into.
const KEY_STRIPES: usize = 1024;
/// How many lock stripes client request tokens hash into.
const TOKEN_STRIPES: usize = 64;

impl From<BackendError> for StoreError {
    fn from(error: BackendError) -> StoreError {
        StoreError::internal(format!("failed to access storage: {error}"))
    }
}

/// A secondary index as the catalog stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct IndexMeta {
    pub(crate) name: String,
    pub(crate) partition_key: String,
    pub(crate) sort_key: Option<String>,
    /// ALL, KEYS_ONLY or INCLUDE.
    pub(crate) projection_type: String,
    pub(crate) non_key_attributes: Vec<String>,
    pub(crate) global: bool,
    pub(crate) read_capacity: i64,
    pub(crate) write_capacity: i64,
}

/// A table as the catalog stores it (serialized as JSON in the backend).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TableMeta {
    pub(crate) id: u64,
    pub(crate) name: String,
    /// Attribute name and type (S, N, B), as defined.
    pub(crate) attribute_definitions: Vec<(String, String)>,
    pub(crate) partition_key: String,
    pub(crate) sort_key: Option<String>,
    pub(crate) indexes: Vec<IndexMeta>,
    pub(crate) billing_mode: String,
    pub(crate) read_capacity: i64,
    pub(crate) write_capacity: i64,
    /// The stream view type while a stream is enabled.
    pub(crate) stream_view_type: Option<String>,
    /// The view type of the latest stream, kept after it is disabled so it
    /// can still be described and read for 24 hours.
    #[serde(default)]
    pub(crate) last_stream_view_type: Option<String>,
    pub(crate) stream_label: Option<String>,
    pub(crate) ttl_attribute: Option<String>,
    pub(crate) tags: Vec<(String, String)>,
    pub(crate) created: f64,
    pub(crate) deletion_protection: bool,
}

/// A catalog entry with its key schemas resolved, ready for item operations.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub(crate) meta: TableMeta,
    pub(crate) key: KeySchema,
    pub(crate) indexes: Vec<(IndexMeta, SecondaryIndex)>,
}

fn key_attribute(meta: &TableMeta, name: &str) -> StoreResult<KeyAttribute> {
    let scalar_type = meta
        .attribute_definitions
        .iter()
        .find(|(defined, _)| defined == name)
        .and_then(|(_, kind)| match kind.as_str() {
            "S" => Some(ScalarType::S),
            "N" => Some(ScalarType::N),
            "B" => Some(ScalarType::B),
            _ => None,
        })
        .ok_or_else(|| StoreError::internal(format!("catalog lacks the type of {name}")))?;
    Ok(KeyAttribute {
        name: name.to_owned(),
        scalar_type,
    })
}

impl Table {
    /// The write units a write from `old` to `new` consumes on each index it changes, as
    /// DynamoDB counts them: one write of the entry's size where an entry appears,
    /// disappears or changes in place, two (a delete and a put) where its index key
    /// changes. Indexes the write leaves alone are not listed.
    pub(crate) fn index_write_units(
        &self,
        old: Option<&Item>,
        new: Option<&Item>,
    ) -> Vec<(String, bool, f64)> {
        let mut units = Vec::new();
        for (meta, index) in &self.indexes {
            let old_entry = old.and_then(|item| index.entry(&self.key, item));
            let new_entry = new.and_then(|item| index.entry(&self.key, item));
            let written = match (&old_entry, &new_entry) {
                (None, None) => continue,
                (Some(old), Some(new)) if old == new => continue,
                (Some(entry), None) | (None, Some(entry)) => write_units(item_size(entry), false),
                (Some(old), Some(new))
                    if index.key_schema.key_of(old) == index.key_schema.key_of(new) =>
                {
                    write_units(item_size(old).max(item_size(new)), false)
                }
                (Some(old), Some(new)) => {
                    write_units(item_size(old), false) + write_units(item_size(new), false)
                }
            };
            units.push((meta.name.clone(), meta.global, written));
        }
        units
    }

    /// Fails for a path that reaches into a key attribute of the table or of one of its
    /// indexes (`a.b`, `a[0]`): key attributes are scalars, and DynamoDB refuses such
    /// paths in projections, filters and updates rather than matching nothing.
    pub(crate) fn check_key_paths<'a>(
        &self,
        paths: impl IntoIterator<Item = &'a crate::expression::Path>,
    ) -> StoreResult<()> {
        let nested: Vec<&str> = paths
            .into_iter()
            .filter(|path| path.elements.len() > 1)
            .map(|path| path.top_level_name())
            .collect();
        if nested.is_empty() {
            return Ok(());
        }
        let refuse = |kind: &str, name: &str| {
            Err(StoreError::validation(format!(
                "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: {kind}: {name}"
            )))
        };
        if let Some(attribute) = self
            .key
            .attributes()
            .find(|attribute| nested.contains(&attribute.name.as_str()))
        {
            return refuse("Key", &attribute.name);
        }
        for (_, index) in &self.indexes {
            if let Some(attribute) = index
                .key_schema
                .attributes()
                .find(|attribute| nested.contains(&attribute.name.as_str()))
            {
                return refuse("IndexKey", &attribute.name);
            }
        }
        Ok(())
    }

    pub(crate) fn new(meta: TableMeta) -> StoreResult<Table> {
        let key = KeySchema {
            partition_key: key_attribute(&meta, &meta.partition_key)?,
            sort_key: meta
                .sort_key
                .as_deref()
                .map(|name| key_attribute(&meta, name))
                .transpose()?,
        };
        let mut indexes = Vec::new();
        for index in &meta.indexes {
            let projection = match index.projection_type.as_str() {
                "ALL" => IndexProjection::All,
                "INCLUDE" => IndexProjection::Include(index.non_key_attributes.clone()),
                _ => IndexProjection::KeysOnly,
            };
            let secondary = SecondaryIndex {
                name: index.name.clone(),
                key_schema: KeySchema {
                    partition_key: key_attribute(&meta, &index.partition_key)?,
                    sort_key: index
                        .sort_key
                        .as_deref()
                        .map(|name| key_attribute(&meta, name))
                        .transpose()?,
                },
                projection,
            };
            indexes.push((index.clone(), secondary));
        }
        Ok(Table { meta, key, indexes })
    }

    pub(crate) fn space(&self) -> Space {
        Space::table(self.meta.id)
    }

    pub(crate) fn index(&self, name: &str) -> Option<&(IndexMeta, SecondaryIndex)> {
        self.indexes.iter().find(|(meta, _)| meta.name == name)
    }

    /// Whether a put or delete here can be written without the item it
    /// replaces: no index entries to move, no stream record to describe it.
    pub(crate) fn writes_without_old_item(&self) -> bool {
        self.indexes.is_empty() && self.meta.stream_view_type.is_none()
    }

    /// The backend row key of an item (or key) in the table itself.
    pub(crate) fn row_key(&self, item: &Item) -> StoreResult<(Vec<u8>, Vec<u8>)> {
        row_key(&self.key, None, item)
    }
}

/// The row key of an item in a space: the space's partition key, then its sort
/// key, then (for indexes) the table's key so entries stay unique.
pub(crate) fn row_key(
    space_key: &KeySchema,
    table_key: Option<&KeySchema>,
    item: &Item,
) -> StoreResult<(Vec<u8>, Vec<u8>)> {
    let missing = || StoreError::validation("The provided key element does not match the schema");
    let mut partition = Vec::new();
    encode_key_value_into(
        item.get(&space_key.partition_key.name)
            .ok_or_else(missing)?,
        &mut partition,
    )?;
    let mut sort = Vec::new();
    if let Some(sort_key) = &space_key.sort_key {
        encode_key_value_into(item.get(&sort_key.name).ok_or_else(missing)?, &mut sort)?;
    }
    if let Some(table_key) = table_key {
        for attribute in table_key.attributes() {
            encode_key_value_into(item.get(&attribute.name).ok_or_else(missing)?, &mut sort)?;
        }
    }
    Ok((partition, sort))
}

pub(crate) fn encode_item(item: &Item) -> Vec<u8> {
    codec::encode(item)
}

pub(crate) fn decode_item(bytes: &[u8]) -> StoreResult<Item> {
    codec::decode(bytes)
}

/// Whether a read takes the schema gate itself or runs under the caller's.
/// Reads must never take it twice: a control-plane operation waiting in
/// between would deadlock them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    Take,
    Held,
}

/// When a space was counted, and its row count and bytes.
type CachedCounts = (f64, (u64, u64));

/// Blind writes handed to the backend with [`Backend::write_then`] and not yet
/// durable, per key stripe and in all.
///
/// Such a write holds its key's stripe only while it queues its batch, so a
/// writer that locks the stripe next could read the item before that batch
/// commits. Whoever locks stripes to read and write therefore first waits for
/// their pending writes to settle, and control-plane operations for all of
/// them; queued batches apply in order, so another blind write need not wait.
struct PendingWrites {
    per_stripe: Vec<AtomicUsize>,
    total: AtomicUsize,
    lock: Mutex<()>,
    settled: Condvar,
}

impl PendingWrites {
    fn new() -> PendingWrites {
        PendingWrites {
            per_stripe: (0..KEY_STRIPES).map(|_| AtomicUsize::new(0)).collect(),
            total: AtomicUsize::new(0),
            lock: Mutex::new(()),
            settled: Condvar::new(),
        }
    }

    /// Counts a write to `stripe` that was queued (call under the stripe's lock).
    fn add(&self, stripe: usize) {
        self.per_stripe[stripe].fetch_add(1, Ordering::SeqCst);
        self.total.fetch_add(1, Ordering::SeqCst);
    }

    /// Counts that write as settled and wakes whoever waits for it.
    fn settle(&self, stripe: usize) {
        self.per_stripe[stripe].fetch_sub(1, Ordering::SeqCst);
        self.total.fetch_sub(1, Ordering::SeqCst);
        // Taking the lock orders the notification after a waiter's last check.
        let _lock = lock(&self.lock);
        self.settled.notify_all();
    }

    /// Waits until `settled` holds; only settling writes make it true.
    fn wait_until(&self, settled: impl Fn(&PendingWrites) -> bool) {
        if settled(self) {
            return;
        }
        let mut guard = lock(&self.lock);
        while !settled(self) {
            guard = self
                .settled
                .wait(guard)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// Settings of a [`Store`].
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Region in ARNs.
    pub region: String,
    /// Account id in ARNs.
    pub account_id: String,
}

impl Default for StoreConfig {
    fn default() -> StoreConfig {
        StoreConfig {
            region: "us-east-1".to_owned(),
            account_id: "000000000000".to_owned(),
        }
    }
}

/// The DynamoDB engine over one backend. Share it with `Arc`; every method
/// takes `&self` and may be called from many threads.
pub struct Store {
    backend: Arc<dyn Backend>,
    config: StoreConfig,
    tables: RwLock<BTreeMap<String, Arc<Table>>>,
    /// Item operations read-lock it, control-plane operations write-lock it.
    schema_gate: RwLock<()>,
    key_locks: Vec<Mutex<()>>,
    /// Item counts of large spaces for DescribeTable, with when they were taken.
    counts: Mutex<HashMap<Space, CachedCounts>>,
    /// Serializes transactions sharing a `ClientRequestToken` (by hash), so
    /// two concurrent first calls cannot both run.
    token_locks: Vec<Mutex<()>>,
    /// Shared with the callbacks of queued blind writes (not the store itself,
    /// which the backend's writer thread must never be the last to drop).
    pending: Arc<PendingWrites>,
    clock: Box<dyn Fn() -> f64 + Send + Sync>,
    /// Who is woken when records are appended to a stream (see `stream_watch`).
    stream_listeners: Arc<stream_watch::StreamListeners>,
    /// Whether other processes share the backend (cluster mode): writes then also take
    /// the backend's exclusion, and the catalog is reread when it moves.
    shared: bool,
    /// The backend's catalog version that `tables` reflects.
    catalog_version: AtomicU64,
    /// The catalog entry each of `tables` was made from: a reread keeps the `Table`s
    /// whose entry did not change, so an operation can tell by identity whether the
    /// table it planned against is still current.
    catalog_entries: Mutex<HashMap<String, Vec<u8>>>,
}

/// What a read-check-write holds: its key stripes in this process and, on a shared
/// backend, the other processes' exclusion (dropped last, after the write is durable).
pub(crate) struct KeyLocks<'a> {
    _guards: Vec<MutexGuard<'a, ()>>,
    _held: Option<Held>,
}

/// What a control-plane operation holds: the schema gate in this process and, on a
/// shared backend, the catalog in every process.
pub(crate) struct CatalogGate<'a> {
    _held: Option<Held>,
    _gate: std::sync::RwLockWriteGuard<'a, ()>,
}

/// A hash of an item's key that every process computes alike (FNV-1a over the table id
/// and the encoded keys, with their lengths): the key of its cross-process lock, and
/// its stripe in this one.
fn key_hash(table_id: u64, partition: &[u8], sort: &[u8]) -> u64 {
    const PRIME: u64 = 0x0100_0000_01b3;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let lengths = [partition.len() as u64, sort.len() as u64];
    for bytes in [
        &table_id.to_le_bytes()[..],
        &lengths[0].to_le_bytes(),
        partition,
        &lengths[1].to_le_bytes(),
        sort,
    ] {
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    hash
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Tables by name, each with the catalog entry it was decoded from.
type Catalog = BTreeMap<String, (Vec<u8>, Arc<Table>)>;

/// The backend's catalog, decoded.
fn read_catalog(backend: &dyn Backend) -> StoreResult<Catalog> {
    let mut tables = BTreeMap::new();
    for (name, metadata) in backend.tables()? {
        let meta: TableMeta = serde_json::from_slice(&metadata).map_err(|error| {
            StoreError::internal(format!("corrupt catalog entry {name}: {error}"))
        })?;
        let table = Arc::new(Table::new(meta)?);
        tables.insert(name, (metadata, table));
    }
    Ok(tables)
}

fn system_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded data is either `()` or a cache that every holder leaves
    // consistent between statements, so a poisoned lock is still usable.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The lock if nobody holds it, without waiting.
fn lock_without_waiting<T>(mutex: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match mutex.try_lock() {
        Ok(guard) => Some(guard),
        Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}

impl Store {
    /// Opens the engine over a backend, loading its table catalog.
    pub fn open(backend: Arc<dyn Backend>, config: StoreConfig) -> StoreResult<Store> {
        Store::open_with_clock(backend, config, Box::new(system_now))
    }

    /// Like [`Store::open`] with a clock (seconds since the epoch), for tests
    /// of TTL and token expiry.
    pub fn open_with_clock(
        backend: Arc<dyn Backend>,
        config: StoreConfig,
        clock: Box<dyn Fn() -> f64 + Send + Sync>,
    ) -> StoreResult<Store> {
        let catalog_version = backend.catalog_version()?;
        let mut entries = HashMap::new();
        let mut tables = BTreeMap::new();
        for (name, (entry, table)) in read_catalog(backend.as_ref())? {
            entries.insert(name.clone(), entry);
            tables.insert(name, table);
        }
        let shared = backend.is_shared();
        let stream_listeners = Arc::new(stream_watch::StreamListeners::default());
        let backend: Arc<dyn Backend> = Arc::new(stream_watch::NotifyingBackend {
            inner: backend,
            listeners: stream_listeners.clone(),
        });
        Ok(Store {
            backend,
            config,
            tables: RwLock::new(tables),
            schema_gate: RwLock::new(()),
            key_locks: (0..KEY_STRIPES).map(|_| Mutex::new(())).collect(),
            counts: Mutex::new(HashMap::new()),
            token_locks: (0..TOKEN_STRIPES).map(|_| Mutex::new(())).collect(),
            pending: Arc::new(PendingWrites::new()),
            clock,
            stream_listeners,
            shared,
            catalog_version: AtomicU64::new(catalog_version),
            catalog_entries: Mutex::new(entries),
        })
    }

    /// Rereads the catalog when another process changed it since this one last read
    /// it (a shared backend's tables created, changed or deleted elsewhere). Cheap when
    /// nothing changed: one read of the version.
    pub fn refresh_catalog(&self) -> StoreResult<()> {
        if !self.shared {
            return Ok(());
        }
        let version = self.backend.catalog_version()?;
        if version != self.catalog_version.load(Ordering::SeqCst) {
            self.reload_catalog(version)?;
        }
        Ok(())
    }

    /// Replaces the cached catalog with the backend's at `version`, keeping the
    /// `Table`s whose catalog entry did not change.
    fn reload_catalog(&self, version: u64) -> StoreResult<()> {
        let fresh = read_catalog(self.backend.as_ref())?;
        let mut tables = self.tables.write().unwrap_or_else(PoisonError::into_inner);
        let mut entries = lock(&self.catalog_entries);
        let mut merged = BTreeMap::new();
        let mut merged_entries = HashMap::new();
        for (name, (entry, table)) in fresh {
            let kept = match tables.get(&name) {
                Some(old) if entries.get(&name) == Some(&entry) => old.clone(),
                _ => table,
            };
            merged.insert(name.clone(), kept);
            merged_entries.insert(name, entry);
        }
        *tables = merged;
        *entries = merged_entries;
        self.catalog_version.store(version, Ordering::SeqCst);
        Ok(())
    }

    /// Records the catalog entry a table written by this process was made from.
    fn note_catalog_entry(&self, name: &str, entry: Option<Vec<u8>>) {
        let mut entries = lock(&self.catalog_entries);
        match entry {
            Some(entry) => entries.insert(name.to_owned(), entry),
            None => entries.remove(name),
        };
    }

    fn now(&self) -> f64 {
        (self.clock)()
    }

    fn table(&self, name: &str) -> StoreResult<Arc<Table>> {
        let cached = self
            .tables
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned();
        match cached {
            Some(table) => Ok(table),
            // Another process may have created it a moment ago.
            None if self.shared => {
                self.refresh_catalog()?;
                self.tables
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(name)
                    .cloned()
                    .ok_or_else(StoreError::resource_not_found)
            }
            None => Err(StoreError::resource_not_found()),
        }
    }

    fn read_gate(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.schema_gate
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The schema gate for a read, unless the caller already holds it.
    fn enter(&self, gate: Gate) -> Option<std::sync::RwLockReadGuard<'_, ()>> {
        match gate {
            Gate::Take => Some(self.read_gate()),
            Gate::Held => None,
        }
    }

    /// The schema gate for reading if no control-plane operation holds or
    /// awaits it, without waiting.
    fn try_read_gate(&self) -> Option<std::sync::RwLockReadGuard<'_, ()>> {
        match self.schema_gate.try_read() {
            Ok(guard) => Some(guard),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// The schema gate for a control-plane operation, once every blind write
    /// queued before it is durable (an index backfill, say, must see them). On a
    /// shared backend also the catalog in every process, and the catalog as it is
    /// now, so that what the operation checks (a name taken, a table's indexes) is
    /// current.
    fn write_gate(&self) -> StoreResult<CatalogGate<'_>> {
        let gate = self
            .schema_gate
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        self.pending
            .wait_until(|pending| pending.total.load(Ordering::SeqCst) == 0);
        let held = self.backend.exclude(Exclusion::Catalog)?;
        if let Some(held) = &held {
            if held.catalog_version != self.catalog_version.load(Ordering::SeqCst) {
                self.reload_catalog(held.catalog_version)?;
            }
        }
        Ok(CatalogGate {
            _held: held,
            _gate: gate,
        })
    }

    /// An item's key hash (see [`key_hash`]), which picks its stripe.
    fn stripe(table: &Table, partition: &[u8], sort: &[u8]) -> u64 {
        key_hash(table.meta.id, partition, sort)
    }

    /// The lock stripe of a key hash in this process.
    fn stripe_index(hash: u64) -> usize {
        usize::try_from(hash % KEY_STRIPES as u64).expect("below the stripe count")
    }

    /// Locks the stripe of a client request token. Lock order: schema gate,
    /// then token stripe, then key stripes.
    fn lock_token(&self, token: &str) -> MutexGuard<'_, ()> {
        let mut hasher = DefaultHasher::new();
        token.hash(&mut hasher);
        let stripe = usize::try_from(hasher.finish() % TOKEN_STRIPES as u64)
            .expect("below the stripe count");
        lock(&self.token_locks[stripe])
    }

    /// Locks the stripes of several keys (by [`Store::stripe`] hash), in stripe order
    /// so two writers never wait on each other in a cycle, then waits for blind
    /// writes queued on them to be durable, so that what is read next is current.
    ///
    /// On a shared backend, then the keys in every process. When the catalog moved
    /// meanwhile, it is reread; if one of `tables` changed, the operation (planned
    /// against the old definition) fails without writing, with a retryable error.
    fn lock_stripes(&self, hashes: Vec<u64>, tables: &[&Table]) -> StoreResult<KeyLocks<'_>> {
        let mut stripes: Vec<usize> = hashes
            .iter()
            .map(|hash| Store::stripe_index(*hash))
            .collect();
        stripes.sort_unstable();
        stripes.dedup();
        let guards = stripes
            .iter()
            .map(|stripe| lock(&self.key_locks[*stripe]))
            .collect();
        self.pending.wait_until(|pending| {
            stripes
                .iter()
                .all(|stripe| pending.per_stripe[*stripe].load(Ordering::SeqCst) == 0)
        });
        let held = if self.shared {
            let mut hashes = hashes;
            hashes.sort_unstable();
            hashes.dedup();
            self.backend.exclude(Exclusion::Keys(&hashes))?
        } else {
            None
        };
        if let Some(held) = &held {
            if held.catalog_version != self.catalog_version.load(Ordering::SeqCst) {
                self.reload_catalog(held.catalog_version)?;
                let current = self.tables.read().unwrap_or_else(PoisonError::into_inner);
                for table in tables {
                    let same = current
                        .get(&table.meta.name)
                        .is_some_and(|now| std::ptr::eq(now.as_ref(), *table));
                    if !same {
                        return Err(StoreError::table_moved(&table.meta.name));
                    }
                }
            }
        }
        Ok(KeyLocks {
            _guards: guards,
            _held: held,
        })
    }

    fn stored_item(
        &self,
        table: &Table,
        partition: &[u8],
        sort: &[u8],
    ) -> StoreResult<Option<Item>> {
        self.backend
            .get(&table.space(), partition, sort)?
            .map(|bytes| decode_item(&bytes))
            .transpose()
    }

    /// The backend writes that replace `old` with `new` (either may be absent)
    /// in the table and every index.
    fn item_writes(
        &self,
        table: &Table,
        key: &(Vec<u8>, Vec<u8>),
        old: Option<&Item>,
        new: Option<&Item>,
        writes: &mut Vec<Write>,
    ) -> StoreResult<()> {
        self.stream_write(table, old, new, false, writes);
        match new {
            Some(item) => writes.push(Write::Put {
                space: table.space(),
                partition: key.0.clone(),
                sort: key.1.clone(),
                value: encode_item(item),
            }),
            None => writes.push(Write::Delete {
                space: table.space(),
                partition: key.0.clone(),
                sort: key.1.clone(),
            }),
        }
        for (meta, index) in &table.indexes {
            let space = Space::index(table.meta.id, &meta.name);
            let old_entry = old.and_then(|item| index.entry(&table.key, item));
            let new_entry = new.and_then(|item| index.entry(&table.key, item));
            if old_entry == new_entry {
                continue;
            }
            let old_key = old_entry
                .as_ref()
                .map(|entry| row_key(&index.key_schema, Some(&table.key), entry))
                .transpose()?;
            if let Some(entry) = &new_entry {
                let (partition, sort) = row_key(&index.key_schema, Some(&table.key), entry)?;
                if old_key.as_ref() != Some(&(partition.clone(), sort.clone())) {
                    if let Some((partition, sort)) = old_key {
                        writes.push(Write::Delete {
                            space: space.clone(),
                            partition,
                            sort,
                        });
                    }
                }
                writes.push(Write::Put {
                    space,
                    partition,
                    sort,
                    value: encode_item(entry),
                });
            } else if let Some((partition, sort)) = old_key {
                writes.push(Write::Delete {
                    space,
                    partition,
                    sort,
                });
            }
        }
        Ok(())
    }

    /// Deletes every expired item of every table with TTL enabled, as of now,
    /// and stream records older than 24 hours; returns how many items it
    /// deleted. The server calls this periodically.
    pub fn expire_items(&self) -> StoreResult<usize> {
        let now = self.now().floor() as i64;
        self.backend.write(vec![Write::ExpireStreamRecords {
            before: now - streams::RETENTION_SECONDS,
        }])?;
        let tables: Vec<Arc<Table>> = self
            .tables
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .filter(|table| table.meta.ttl_attribute.is_some())
            .cloned()
            .collect();
        let mut n_deleted = 0;
        for table in tables {
            let Some(attribute) = table.meta.ttl_attribute.clone() else {
                continue;
            };
            let mut after: Option<(Vec<u8>, Vec<u8>)> = None;
            loop {
                let _gate = self.read_gate();
                let rows = self.backend.scan(
                    &table.space(),
                    after.as_ref().map(|(p, s)| (p.as_slice(), s.as_slice())),
                    256,
                )?;
                let exhausted = rows.len() < 256;
                let mut expired = Vec::new();
                for row in &rows {
                    if crate::ttl::is_expired(&decode_item(&row.value)?, &attribute, now) {
                        expired.push((row.partition.clone(), row.sort.clone()));
                    }
                }
                if !expired.is_empty() {
                    // One batch per chunk: lock every expired key, re-read
                    // (a writer may have renewed one), delete what is still
                    // expired.
                    let stripes = expired
                        .iter()
                        .map(|(partition, sort)| Store::stripe(&table, partition, sort))
                        .collect();
                    let _guards = self.lock_stripes(stripes, &[&table])?;
                    let mut writes = Vec::new();
                    for key in &expired {
                        let Some(current) = self.stored_item(&table, &key.0, &key.1)? else {
                            continue;
                        };
                        if crate::ttl::is_expired(&current, &attribute, now) {
                            self.expiry_writes(&table, key, &current, &mut writes)?;
                            n_deleted += 1;
                        }
                    }
                    self.backend.write(writes)?;
                }
                match rows.last() {
                    Some(last) if !exhausted => {
                        after = Some((last.partition.clone(), last.sort.clone()))
                    }
                    _ => break,
                }
            }
        }
        Ok(n_deleted)
    }
}

#[cfg(test)]
mod tests;
