//! Calls started without waiting, for an async edge: [`Store::start_call`] answers short
//! reads at once, queues blind puts and deletes and answers them from the backend's
//! writer once they are durable, and hands everything else back as a [`BlockingCall`]
//! to run on a thread that may wait.

use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::dispatch::{encode, NON_WAITING_OPERATIONS};
use super::items::{ConditionalWrite, Consumption, Mutation, PreparedWrite};
use super::{lock_without_waiting, Store};
use crate::api::{from_slice, DeleteItemInput, PutItemInput};
use crate::error::{StoreError, StoreResult};

/// Where a started call's answer (the response body, or the error) goes. Called once,
/// on the caller's thread or on the backend's writer thread.
pub type Answer = Box<dyn FnOnce(StoreResult<Vec<u8>>) + Send>;

/// A call that may wait (for locks, a group commit, a control-plane operation): run it
/// off the async threads; it hands its answer to the [`Answer`] it was started with.
pub type BlockingCall = Box<dyn FnOnce() + Send>;

fn parse<I: DeserializeOwned>(body: &[u8]) -> StoreResult<I> {
    from_slice(if body.is_empty() { b"{}" } else { body })
}

impl Store {
    /// Starts the operation named as in `X-Amz-Target` on a request body, without
    /// waiting: the answer is what [`Store::call_json`] would answer, handed to `answer`.
    ///
    /// - Short reads ([`NON_WAITING_OPERATIONS`]) are answered before this returns.
    /// - A `PutItem` or `DeleteItem` that needs nothing of the item it replaces (no
    ///   condition, no old item or capacity to return, no index or stream) is queued
    ///   to the backend, and answered once it is durable.
    /// - Anything else, and any of those that would have to wait for a lock, comes back
    ///   as a [`BlockingCall`] to run off the async threads (parsed already, if it was).
    pub fn start_call<B>(
        self: &Arc<Self>,
        operation: &str,
        body: B,
        answer: Answer,
    ) -> Option<BlockingCall>
    where
        B: AsRef<[u8]> + Send + 'static,
    {
        match operation {
            "PutItem" => {
                // The values' verdicts are taken by the request's checks, which
                // `try_start_put` runs on this thread before anything else.
                let scope = crate::deferred::begin();
                let input: PutItemInput = match parse(body.as_ref()) {
                    Ok(input) => input,
                    Err(error) => {
                        answer(Err(error));
                        return None;
                    }
                };
                let answer = self.try_start_put(&input, answer).err()?;
                if let Some(error) = scope.unchecked() {
                    debug_assert!(false, "a value's verdict was never checked: {error}");
                    answer(Err(error));
                    return None;
                }
                drop(scope);
                let store = Arc::clone(self);
                Some(Box::new(move || {
                    answer(store.put_item(input).and_then(|output| encode(&output)));
                }))
            }
            "DeleteItem" => {
                // The values' verdicts are taken by the request's checks, which
                // `try_start_delete` runs on this thread before anything else.
                let scope = crate::deferred::begin();
                let input: DeleteItemInput = match parse(body.as_ref()) {
                    Ok(input) => input,
                    Err(error) => {
                        answer(Err(error));
                        return None;
                    }
                };
                let answer = self.try_start_delete(&input, answer).err()?;
                if let Some(error) = scope.unchecked() {
                    debug_assert!(false, "a value's verdict was never checked: {error}");
                    answer(Err(error));
                    return None;
                }
                drop(scope);
                let store = Arc::clone(self);
                Some(Box::new(move || {
                    answer(store.delete_item(input).and_then(|output| encode(&output)));
                }))
            }
            _ => {
                if NON_WAITING_OPERATIONS.contains(&operation) {
                    if let Some(outcome) = self.try_call_without_waiting(operation, body.as_ref()) {
                        answer(outcome);
                        return None;
                    }
                }
                let store = Arc::clone(self);
                let operation = operation.to_owned();
                Some(Box::new(move || {
                    answer(store.call_json(&operation, body.as_ref()));
                }))
            }
        }
    }

    /// `PutItem` as a queued blind write, if it can be one without waiting; else the
    /// answer comes back. Validation errors are answered here, as `put_item` would.
    fn try_start_put(&self, input: &PutItemInput, answer: Answer) -> Result<(), Answer> {
        let write = ConditionalWrite::put(input);
        let condition = match write.condition(input.item.as_ref(), "item") {
            Ok(condition) => condition,
            Err(error) => {
                answer(Err(error));
                return Ok(());
            }
        };
        let Some(_gate) = self.try_read_gate() else {
            return Err(answer);
        };
        match self.prepare_put(input, condition) {
            Ok(prepared) => self.try_start_blind_write(&write, &prepared, answer),
            Err(error) => {
                answer(Err(error));
                Ok(())
            }
        }
    }

    /// `DeleteItem` as a queued blind write; see [`Store::try_start_put`].
    fn try_start_delete(&self, input: &DeleteItemInput, answer: Answer) -> Result<(), Answer> {
        let write = ConditionalWrite::delete(input);
        let condition = match write.condition(input.key.as_ref(), "key") {
            Ok(condition) => condition,
            Err(error) => {
                answer(Err(error));
                return Ok(());
            }
        };
        let Some(_gate) = self.try_read_gate() else {
            return Err(answer);
        };
        match self.prepare_delete(input, condition) {
            Ok(prepared) => self.try_start_blind_write(&write, &prepared, answer),
            Err(error) => {
                answer(Err(error));
                Ok(())
            }
        }
    }

    /// Queues a prepared put or delete without reading the item it replaces, holding
    /// its key's stripe only while it queues (see `PendingWrites`). Called under the
    /// schema gate. The answer comes back if the write needs the old item or the stripe
    /// is taken.
    fn try_start_blind_write(
        &self,
        write: &ConditionalWrite<'_>,
        prepared: &PreparedWrite,
        answer: Answer,
    ) -> Result<(), Answer> {
        if write.needs_old(prepared) {
            return Err(answer);
        }
        let new = match &prepared.mutation {
            Mutation::Put(item) => Some(item),
            Mutation::Delete => None,
            Mutation::Update(_) | Mutation::Check => return Err(answer),
        };
        if self.shared {
            // Other processes' locks must be taken first, which may wait.
            return Err(answer);
        }
        let table = &prepared.table;
        let stripe = Store::stripe_index(Store::stripe(table, &prepared.row.0, &prepared.row.1));
        let Some(_stripe) = lock_without_waiting(&self.key_locks[stripe]) else {
            return Err(answer);
        };
        let mut writes = Vec::new();
        let response = self
            .item_writes(table, &prepared.row, None, new, &mut writes)
            .and_then(|()| {
                encode(&write.output(None, &Consumption::table(0.0), table, &prepared.key))
            });
        let response = match response {
            Ok(response) => response,
            Err(error) => {
                answer(Err(error));
                return Ok(());
            }
        };
        self.pending.add(stripe);
        let pending = Arc::clone(&self.pending);
        self.backend.write_then(
            writes,
            Box::new(move |outcome| {
                pending.settle(stripe);
                answer(outcome.map(|()| response).map_err(StoreError::from));
            }),
        );
        Ok(())
    }
}
