//! Each stack's own access keys, and what they may reach: the platform's side of the AWS
//! endpoint's [`KeyRing`].
//!
//! A stack's functions sign their AWS requests with the stack's keys (made on its first
//! deploy, kept in the state, the same across deploys and restarts), never with the
//! endpoint's master keys. The endpoint lets those keys act only on what the stack owns:
//! the tables and functions of its live versions (the current one, those still draining,
//! and one being started, whose functions may touch its new tables before the switch).
//! The platform republishes that scope whenever it changes: when a version starts, at the
//! switch, when a drain ends, and after every action; a stack's keys leave the ring with
//! the stack.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use serverful_aws::{KeyRing, Principal, StackScope};
use serverful_template as template;

use crate::state::{StackCredentials, StateBackend, StateError};

/// What a version owns, by physical name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Owned {
    tables: Vec<String>,
    functions: Vec<String>,
    queues: Vec<String>,
    topics: Vec<String>,
    buckets: Vec<String>,
}

impl Owned {
    pub(crate) fn of(app: &template::App) -> Owned {
        Owned {
            tables: app
                .tables
                .iter()
                .map(|table| table.table_name.clone())
                .collect(),
            functions: app
                .functions
                .iter()
                .map(|function| function.name.clone())
                .collect(),
            queues: app.queues.iter().map(|queue| queue.name.clone()).collect(),
            topics: app.topics.iter().map(|topic| topic.name.clone()).collect(),
            buckets: app
                .buckets
                .iter()
                .map(|bucket| bucket.name.clone())
                .collect(),
        }
    }
}

/// The stacks' keys as the platform hands them out and publishes them.
#[derive(Debug)]
pub(crate) struct StackKeys {
    ring: Arc<KeyRing>,
    account_id: String,
    /// By stack, for the functions' environment.
    credentials: RwLock<BTreeMap<String, StackCredentials>>,
    /// What a version being started owns, by stack, until it is switched to or fails.
    starting: Mutex<BTreeMap<String, Owned>>,
}

impl StackKeys {
    pub(crate) fn new(ring: Arc<KeyRing>, account_id: &str) -> StackKeys {
        StackKeys {
            ring,
            account_id: account_id.to_owned(),
            credentials: RwLock::default(),
            starting: Mutex::default(),
        }
    }

    /// The stack's keys, recorded in `state` (and made) if they are not yet.
    pub(crate) fn ensure(
        &self,
        state: &dyn StateBackend,
        stack: &str,
    ) -> Result<StackCredentials, StateError> {
        if let Some(credentials) = self.credentials(stack) {
            return Ok(credentials);
        }
        let credentials = state.stack_keys(stack, StackCredentials::generate())?;
        self.credentials
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(stack.to_owned(), credentials.clone());
        Ok(credentials)
    }

    /// The keys handed to the stack's functions, once [`StackKeys::ensure`] made them.
    pub(crate) fn credentials(&self, stack: &str) -> Option<StackCredentials> {
        self.credentials
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(stack)
            .cloned()
    }

    /// Records what a version being started owns; [`StackKeys::publish`] includes it until
    /// [`StackKeys::started`].
    pub(crate) fn starting(&self, stack: &str, owned: Owned) {
        self.starting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(stack.to_owned(), owned);
    }

    /// The version being started is now live (or failed): it no longer counts apart.
    pub(crate) fn started(&self, stack: &str) {
        self.starting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(stack);
    }

    /// Lets the stack's keys reach what its live versions (`live`) and a version being
    /// started own, and nothing else.
    pub(crate) fn publish(&self, stack: &str, live: impl IntoIterator<Item = Owned>) {
        let Some(credentials) = self.credentials(stack) else {
            return;
        };
        let starting = self
            .starting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(stack)
            .cloned();
        let mut scope = StackScope {
            stack: stack.to_owned(),
            ..StackScope::default()
        };
        for owned in live.into_iter().chain(starting) {
            scope.tables.extend(owned.tables);
            scope.functions.extend(owned.functions);
            scope.queues.extend(owned.queues);
            scope.topics.extend(owned.topics);
            scope.buckets.extend(owned.buckets);
        }
        self.ring.insert_session(
            credentials.credentials,
            credentials.session_token,
            Principal::stack(&self.account_id, scope),
        );
    }

    /// Forgets a stack's keys, here and in the ring: a request signed with them is then
    /// refused as from an unknown client. (The state forgets them with the stack.)
    pub(crate) fn forget(&self, stack: &str) {
        self.started(stack);
        let credentials = self
            .credentials
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(stack);
        if let Some(credentials) = credentials {
            self.ring.remove(&credentials.credentials.access_key_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use serverful_aws::{Action, Credentials, Resource};

    use super::*;
    use crate::state::SqliteState;

    fn owned(tables: &[&str], functions: &[&str]) -> Owned {
        Owned {
            tables: tables.iter().map(|name| (*name).to_owned()).collect(),
            functions: functions.iter().map(|name| (*name).to_owned()).collect(),
            ..Owned::default()
        }
    }

    /// Whether the stack's keys, as the ring holds them now, may read `table`.
    fn reads(ring: &KeyRing, keys: &StackCredentials, table: &str) -> bool {
        ring.snapshot()
            .get(&keys.credentials.access_key_id)
            .is_some_and(|identity| {
                identity.principal.allows(
                    Action::dynamodb("GetItem"),
                    Resource::Table {
                        name: table,
                        index: None,
                    },
                )
            })
    }

    #[test]
    fn a_stacks_scope_follows_its_versions_and_its_keys_leave_with_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = SqliteState::open(&dir.path().join("platform.sqlite")).expect("state");
        let master = Credentials {
            access_key_id: "AKSFMASTER".to_owned(),
            secret_access_key: "secret".to_owned(),
        };
        let ring = Arc::new(KeyRing::new(master, Principal::root("123456789012")));
        let keys = StackKeys::new(ring.clone(), "123456789012");
        let shop = keys.ensure(&state, "shop").expect("keys");
        assert_eq!(keys.ensure(&state, "shop").expect("again"), shop);
        let blog = keys.ensure(&state, "blog").expect("keys");
        assert_ne!(
            shop.credentials.access_key_id,
            blog.credentials.access_key_id
        );

        // Version 1 runs; version 2, with a new table, is being started.
        keys.starting("shop", owned(&["shop-Orders", "shop-New"], &["shop-Api"]));
        keys.publish("shop", [owned(&["shop-Orders"], &["shop-Api"])]);
        assert!(reads(&ring, &shop, "shop-Orders") && reads(&ring, &shop, "shop-New"));
        // Version 2 failed to start: only version 1's tables are left.
        keys.started("shop");
        keys.publish("shop", [owned(&["shop-Orders"], &["shop-Api"])]);
        assert!(reads(&ring, &shop, "shop-Orders") && !reads(&ring, &shop, "shop-New"));
        keys.publish("blog", [owned(&["blog-Posts"], &[])]);
        assert!(!reads(&ring, &shop, "blog-Posts") && reads(&ring, &blog, "blog-Posts"));

        // The identity carries the token the functions get.
        let snapshot = ring.snapshot();
        let identity = snapshot
            .get(&shop.credentials.access_key_id)
            .expect("in the ring");
        assert_eq!(identity.session_token.as_ref(), Some(&shop.session_token));

        keys.forget("shop");
        assert!(ring
            .snapshot()
            .get(&shop.credentials.access_key_id)
            .is_none());
        assert!(keys.credentials("shop").is_none());
        assert!(reads(&ring, &blog, "blog-Posts"));
    }
}
