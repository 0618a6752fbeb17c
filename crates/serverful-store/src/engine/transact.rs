//! TransactWriteItems and TransactGetItems: all items locked together, every
//! condition checked before anything is written, one atomic backend batch,
//! `CancellationReasons` in request order, and `ClientRequestToken`
//! idempotency for ten minutes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::items::{
    consumed, item_collection_metrics_by_table, parse_expressions, read_projection, Mutation,
    PreparedWrite, UpdatePlan,
};
use super::validate::{Violations, CAPACITY_VALUES, METRICS_VALUES};
use super::{Store, Table};
use crate::api::{
    ConsumedCapacity, ItemResponse, TransactGetItemsInput, TransactGetItemsOutput,
    TransactOperation, TransactWriteItemsInput, TransactWriteItemsOutput,
};
use crate::backend::Write;
use crate::capacity::{read_units, write_units, ReadKind};
use crate::error::{CancellationReason, ErrorDetails, ErrorKind, StoreError, StoreResult};
use crate::eval::{apply_projection, check_update_keeps_key};
use crate::value::{check_item_size, item_size, Item};

/// How long a `ClientRequestToken` is remembered, in milliseconds (ten minutes).
const TOKEN_MILLIS: i64 = 600_000;
/// The most items in one transaction.
const MAX_TRANSACTION_ITEMS: usize = 100;
/// The most bytes of items in one transaction.
const MAX_TRANSACTION_BYTES: usize = 4 * 1024 * 1024;

/// `TransactionCanceledException` with its reasons, in request order.
fn cancelled(reasons: Vec<CancellationReason>) -> StoreError {
    let codes: Vec<&str> = reasons.iter().map(|reason| reason.code.as_str()).collect();
    let mut error = StoreError::new(
        ErrorKind::TransactionCanceled,
        format!(
            "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
            codes.join(", ")
        ),
    );
    error.details = Some(Box::new(ErrorDetails {
        cancellation_reasons: reasons,
        item: None,
    }));
    error
}

impl Store {
    fn prepare_transact_write(
        &self,
        kind: &str,
        operation: &TransactOperation,
    ) -> StoreResult<PreparedWrite> {
        let mut violations = Violations::new();
        violations.table_name(
            operation.table_name.as_ref(),
            &format!("transactItems.member.{kind}.tableName"),
        );
        if kind == "put" {
            violations.required(operation.item.as_ref(), "transactItems.member.put.item");
        } else {
            violations.required(
                operation.key.as_ref(),
                &format!("transactItems.member.{kind}.key"),
            );
        }
        if kind == "update" {
            violations.required(
                operation.update_expression.as_ref(),
                "transactItems.member.update.updateExpression",
            );
        }
        if kind == "conditionCheck" {
            violations.required(
                operation.condition_expression.as_ref(),
                "transactItems.member.conditionCheck.conditionExpression",
            );
        }
        violations.one_of(
            operation.return_values_on_condition_check_failure.as_ref(),
            &format!("transactItems.member.{kind}.returnValuesOnConditionCheckFailure"),
            &["ALL_OLD", "NONE"],
        );
        violations.finish()?;
        let (update, condition) = parse_expressions(
            operation.expression_attribute_names.as_ref(),
            operation.expression_attribute_values.as_ref(),
            operation.condition_expression.is_some() || operation.update_expression.is_some(),
            None,
            |context| {
                let update = match (kind, operation.update_expression.as_deref()) {
                    ("update", Some(text)) => Some(context.update(text)?),
                    _ => None,
                };
                let condition = operation
                    .condition_expression
                    .as_deref()
                    .map(|text| context.condition(text))
                    .transpose()?;
                Ok((update, condition))
            },
        )?;
        let table = self.table(operation.table_name.as_deref().unwrap_or_default())?;
        let (key, mutation) = if kind == "put" {
            let item = operation.item.clone().unwrap_or_default();
            table.key.check_item(&item)?;
            check_item_size(&item)?;
            for (_, index) in &table.indexes {
                index.check_item(&item)?;
            }
            (table.key.key_of(&item), Mutation::Put(item))
        } else {
            let key = operation.key.clone().unwrap_or_default();
            table.key.check_key(&key)?;
            let mutation = match (kind, update) {
                ("delete", _) => Mutation::Delete,
                ("update", Some(update)) => {
                    check_update_keeps_key(&update, &table.key)?;
                    table.check_key_paths(update.paths())?;
                    Mutation::Update(UpdatePlan::Expression(update))
                }
                _ => Mutation::Check,
            };
            (key, mutation)
        };
        Ok(PreparedWrite {
            row: table.row_key(&key)?,
            key,
            table,
            condition,
            mutation,
            old_on_failure: operation
                .return_values_on_condition_check_failure
                .as_deref()
                == Some("ALL_OLD"),
        })
    }

    /// `TransactWriteItems`
    pub fn transact_write_items(
        &self,
        input: TransactWriteItemsInput,
    ) -> StoreResult<TransactWriteItemsOutput> {
        let mut violations = Violations::new();
        violations.required(input.transact_items.as_ref(), "transactItems");
        if let Some(items) = &input.transact_items {
            violations.length_between(
                Some(items.len()),
                // DynamoDB echoes an empty list as `[]`; a longer one is not
                // worth rendering in full.
                if items.is_empty() { "'[]'" } else { "'[...]'" },
                "transactItems",
                1,
                MAX_TRANSACTION_ITEMS,
            );
        }
        violations.one_of(
            input.return_consumed_capacity.as_ref(),
            "returnConsumedCapacity",
            &CAPACITY_VALUES,
        );
        violations.one_of(
            input.return_item_collection_metrics.as_ref(),
            "returnItemCollectionMetrics",
            &METRICS_VALUES,
        );
        if let Some(token) = &input.client_request_token {
            violations.length_between(
                Some(token.len()),
                &format!("'{token}'"),
                "clientRequestToken",
                1,
                36,
            );
        }
        violations.finish()?;
        let fingerprint = {
            let mut unsigned = input.clone();
            unsigned.client_request_token = None;
            serde_json::to_string(&unsigned).expect("requests serialize")
        };
        let _gate = self.read_gate();
        // Held until the outcome is recorded: a concurrent call with the same
        // token waits and then replays instead of running again.
        let _token_lock = input
            .client_request_token
            .as_deref()
            .map(|token| self.lock_token(token));
        // Tokens live in the backend, written in the transaction's own batch,
        // so a committed transaction is remembered across restarts.
        let now_millis = (self.now() * 1000.0) as i64;
        if let Some(replay) = self.replay_transaction(&input, &fingerprint, now_millis)? {
            return Ok(replay);
        }
        let mut prepared = Vec::new();
        for item in input.transact_items.as_deref().unwrap_or_default() {
            let actions = [
                ("conditionCheck", &item.condition_check),
                ("put", &item.put),
                ("delete", &item.delete),
                ("update", &item.update),
            ];
            let chosen: Vec<_> = actions
                .iter()
                .filter_map(|(kind, operation)| {
                    operation.as_ref().map(|operation| (*kind, operation))
                })
                .collect();
            let [(kind, operation)] = chosen.as_slice() else {
                return Err(StoreError::validation(
                    "TransactItems can only contain one of Check, Put, Update or Delete",
                ));
            };
            prepared.push(self.prepare_transact_write(kind, operation)?);
        }
        // DynamoDB caps a whole transaction at 4 MB of items, beside the
        // 400 KB cap on each item.
        let total_size: usize = prepared
            .iter()
            .map(|write| match &write.mutation {
                Mutation::Put(item) => item_size(item),
                _ => item_size(&write.key),
            })
            .sum();
        if total_size > MAX_TRANSACTION_BYTES {
            return Err(StoreError::validation(
                "Transaction request cannot be larger than 4 MB",
            ));
        }
        let mut seen = BTreeSet::new();
        for write in &prepared {
            if !seen.insert((write.table.meta.id, write.row.clone())) {
                return Err(StoreError::validation(
                    "Transaction request cannot include multiple operations on one item",
                ));
            }
        }
        let mut stripes: Vec<u64> = prepared
            .iter()
            .map(|write| Store::stripe(&write.table, &write.row.0, &write.row.1))
            .collect();
        // Other nodes do not share the token's lock above: on a shared backend the token
        // is locked with the keys, and looked at again once it is.
        let token = input
            .client_request_token
            .as_deref()
            .filter(|_| self.shared);
        if let Some(token) = token {
            stripes.push(super::key_hash(u64::MAX, token.as_bytes(), b""));
        }
        let tables: Vec<&Table> = prepared.iter().map(|write| write.table.as_ref()).collect();
        let _guards = self.lock_stripes(stripes, &tables)?;
        if token.is_some() {
            if let Some(replay) = self.replay_transaction(&input, &fingerprint, now_millis)? {
                return Ok(replay);
            }
        }
        let mut reasons = Vec::new();
        let mut failed = false;
        let mut changes = Vec::new();
        for write in &prepared {
            let old = self.stored_item(&write.table, &write.row.0, &write.row.1)?;
            match write.apply(old.as_ref()) {
                Ok(new) => {
                    reasons.push(CancellationReason {
                        code: "None".to_owned(),
                        message: None,
                        item: None,
                    });
                    changes.push((write, old, new));
                }
                Err(error) => {
                    failed = true;
                    let code = if error.kind == ErrorKind::ConditionalCheckFailed {
                        "ConditionalCheckFailed"
                    } else {
                        "ValidationError"
                    };
                    reasons.push(CancellationReason {
                        code: code.to_owned(),
                        message: Some(error.message.clone()),
                        item: error.details.and_then(|details| details.item),
                    });
                }
            }
        }
        let outcome = if failed {
            Err(cancelled(reasons))
        } else {
            let mut writes = Vec::new();
            for (write, old, new) in &changes {
                if matches!(write.mutation, Mutation::Check) {
                    continue;
                }
                self.item_writes(
                    &write.table,
                    &write.row,
                    old.as_ref(),
                    new.as_ref(),
                    &mut writes,
                )?;
            }
            // Only a committed transaction is remembered: a cancelled one may
            // be retried with the same token once its conditions hold. Expired
            // tokens are forgotten in the same batch.
            if let Some(token) = &input.client_request_token {
                writes.push(Write::ExpireTokens {
                    before_millis: now_millis - TOKEN_MILLIS,
                });
                writes.push(Write::PutToken {
                    token: token.clone(),
                    request: fingerprint.into_bytes(),
                    created_millis: now_millis,
                });
            }
            self.backend.write(writes)?;
            Ok(())
        };
        outcome?;
        let sizes: Vec<(String, f64)> = changes
            .iter()
            .map(|(write, old, new)| {
                (
                    write.table.meta.name.clone(),
                    write_units(
                        old.as_ref()
                            .map_or(0, item_size)
                            .max(new.as_ref().map_or(0, item_size)),
                        true,
                    ),
                )
            })
            .collect();
        let written: Vec<(Arc<Table>, Item)> = prepared
            .iter()
            .filter(|write| !matches!(write.mutation, Mutation::Check))
            .map(|write| (write.table.clone(), write.key.clone()))
            .collect();
        Ok(self.transact_write_output(&input, &sizes, &written))
    }

    /// The tables and keys a transaction's Puts, Updates and Deletes name,
    /// skipping any whose table is gone.
    /// The answer to a transaction whose `ClientRequestToken` committed within the last
    /// ten minutes (as the first call answered), or `IdempotentParameterMismatch` when
    /// that call asked for something else; `None` when the token is new.
    fn replay_transaction(
        &self,
        input: &TransactWriteItemsInput,
        fingerprint: &str,
        now_millis: i64,
    ) -> StoreResult<Option<TransactWriteItemsOutput>> {
        let Some(token) = &input.client_request_token else {
            return Ok(None);
        };
        let Some(record) = self
            .backend
            .token(token)?
            .filter(|record| now_millis - record.created_millis < TOKEN_MILLIS)
        else {
            return Ok(None);
        };
        if record.request != fingerprint.as_bytes() {
            return Err(StoreError::new(
                ErrorKind::IdempotentParameterMismatch,
                "Request parameters do not match the original request with the same ClientRequestToken",
            ));
        }
        // A replay answers as the first call did, item collections included (its keys
        // come from the request).
        let written = self.transact_written_keys(input);
        Ok(Some(self.transact_write_output(input, &[], &written)))
    }

    fn transact_written_keys(&self, input: &TransactWriteItemsInput) -> Vec<(Arc<Table>, Item)> {
        let mut written = Vec::new();
        for item in input.transact_items.as_deref().unwrap_or_default() {
            let (operation, key) = match (&item.put, &item.update, &item.delete) {
                (Some(put), _, _) => (put, None),
                (_, Some(operation), _) | (_, _, Some(operation)) => {
                    (operation, operation.key.clone())
                }
                _ => continue,
            };
            let Ok(table) = self.table(operation.table_name.as_deref().unwrap_or_default()) else {
                continue;
            };
            let key = key.unwrap_or_else(|| {
                table
                    .key
                    .key_of(operation.item.as_ref().unwrap_or(&Item::new()))
            });
            written.push((table, key));
        }
        written
    }

    /// The response: capacity from `units` (per table), and the item
    /// collections of the `written` items.
    fn transact_write_output(
        &self,
        input: &TransactWriteItemsInput,
        units: &[(String, f64)],
        written: &[(Arc<Table>, Item)],
    ) -> TransactWriteItemsOutput {
        let mut per_table: BTreeMap<&str, f64> = BTreeMap::new();
        for (name, units) in units {
            *per_table.entry(name).or_default() += units;
        }
        let capacities: Vec<ConsumedCapacity> = per_table
            .iter()
            .filter_map(|(name, units)| {
                consumed(input.return_consumed_capacity.as_ref(), name, *units)
            })
            .collect();
        TransactWriteItemsOutput {
            consumed_capacity: input
                .return_consumed_capacity
                .as_deref()
                .is_some_and(|mode| mode != "NONE")
                .then_some(capacities),
            item_collection_metrics: item_collection_metrics_by_table(
                input.return_item_collection_metrics.as_ref(),
                written.iter().map(|(table, key)| (table.as_ref(), key)),
            ),
        }
    }

    /// `TransactGetItems`: a consistent snapshot of every item (all are
    /// locked while they are read).
    pub fn transact_get_items(
        &self,
        input: TransactGetItemsInput,
    ) -> StoreResult<TransactGetItemsOutput> {
        let mut violations = Violations::new();
        violations.required(input.transact_items.as_ref(), "transactItems");
        if let Some(items) = &input.transact_items {
            violations.length_between(
                Some(items.len()),
                // DynamoDB echoes an empty list as `[]`; a longer one is not
                // worth rendering in full.
                if items.is_empty() { "'[]'" } else { "'[...]'" },
                "transactItems",
                1,
                MAX_TRANSACTION_ITEMS,
            );
        }
        violations.one_of(
            input.return_consumed_capacity.as_ref(),
            "returnConsumedCapacity",
            &CAPACITY_VALUES,
        );
        violations.finish()?;
        let _gate = self.read_gate();
        let mut plans = Vec::new();
        // A key that does not fit its table's schema cancels the transaction
        // with a `ValidationError` reason for that item (and `None` for the
        // others), rather than failing the whole request.
        let mut key_errors: Vec<Option<StoreError>> = Vec::new();
        for item in input.transact_items.as_deref().unwrap_or_default() {
            let mut violations = Violations::new();
            violations.required(item.get.as_ref(), "transactItems.member.get");
            violations.finish()?;
            let get = item.get.clone().unwrap_or_default();
            let mut violations = Violations::new();
            violations.table_name(
                get.table_name.as_ref(),
                "transactItems.member.get.tableName",
            );
            violations.required(get.key.as_ref(), "transactItems.member.get.key");
            violations.finish()?;
            let projection = read_projection(
                get.projection_expression.as_ref(),
                None,
                get.expression_attribute_names.as_ref(),
            )?;
            let table = self.table(get.table_name.as_deref().unwrap_or_default())?;
            if let Some(projection) = &projection {
                table.check_key_paths(&projection.paths)?;
            }
            let key = get.key.clone().unwrap_or_default();
            match table.key.check_key(&key).and_then(|()| table.row_key(&key)) {
                Ok(row) => {
                    key_errors.push(None);
                    plans.push((table, row, projection));
                }
                Err(error) if error.kind == ErrorKind::Validation => {
                    key_errors.push(Some(error));
                }
                Err(error) => return Err(error),
            }
        }
        if key_errors.iter().any(Option::is_some) {
            let reasons: Vec<CancellationReason> = key_errors
                .into_iter()
                .map(|error| match error {
                    Some(error) => CancellationReason {
                        code: "ValidationError".to_owned(),
                        message: Some(error.message),
                        item: None,
                    },
                    None => CancellationReason {
                        code: "None".to_owned(),
                        message: None,
                        item: None,
                    },
                })
                .collect();
            return Err(cancelled(reasons));
        }
        let mut seen = BTreeSet::new();
        for (table, row, _) in &plans {
            if !seen.insert((table.meta.id, row.clone())) {
                return Err(StoreError::validation(
                    "Transaction request cannot include multiple operations on one item",
                ));
            }
        }
        let stripes = plans
            .iter()
            .map(|(table, row, _)| Store::stripe(table, &row.0, &row.1))
            .collect();
        let tables: Vec<&Table> = plans.iter().map(|(table, _, _)| table.as_ref()).collect();
        let _guards = self.lock_stripes(stripes, &tables)?;
        let mut responses = Vec::new();
        let mut per_table: BTreeMap<String, f64> = BTreeMap::new();
        for (table, row, projection) in &plans {
            let item = self.stored_item(table, &row.0, &row.1)?;
            *per_table.entry(table.meta.name.clone()).or_default() +=
                read_units(item.as_ref().map_or(0, item_size), ReadKind::Transactional);
            responses.push(ItemResponse {
                item: item.map(|item| match projection {
                    Some(projection) => apply_projection(projection, &item),
                    None => item,
                }),
            });
        }
        let capacities: Vec<ConsumedCapacity> = per_table
            .iter()
            .filter_map(|(name, units)| {
                consumed(input.return_consumed_capacity.as_ref(), name, *units)
            })
            .collect();
        Ok(TransactGetItemsOutput {
            responses,
            consumed_capacity: input
                .return_consumed_capacity
                .as_deref()
                .is_some_and(|mode| mode != "NONE")
                .then_some(capacities),
        })
    }
}
