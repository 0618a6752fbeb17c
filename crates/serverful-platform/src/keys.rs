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
