//! Single-item operations (PutItem, GetItem, UpdateItem, DeleteItem) and the
//! batch operations, with expression and legacy parameters, ReturnValues and
//! consumed capacity. Writes run read-check-write under the key's lock.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::validate::{Violations, CAPACITY_VALUES, METRICS_VALUES};
use super::{Gate, Store, Table};
use crate::api::{
    AttributeValueUpdate, BatchGetItemInput, BatchGetItemOutput, BatchWriteItemInput,
    BatchWriteItemOutput, Capacity, ConsumedCapacity, DeleteItemInput, ExpectedAttributeValue,
    GetItemInput, GetItemOutput, ItemCollectionMetrics, Names, PutItemInput, UpdateItemInput,
    WriteItemOutput,
};
use crate::capacity::{read_units, write_units, ReadKind};
use crate::deferred::{self, Place};
use crate::error::{ErrorDetails, StoreError, StoreResult};
use crate::eval::{
    apply_projection, apply_update, apply_update_to_missing_item, check_update_keeps_key,
    evaluate_condition,
};
use crate::expression::{
    check_placeholder_maps, Condition, ExpressionContext, Projection, UpdateExpression,
};
use crate::key::ScalarType;
use crate::legacy::{
    self, AttributeUpdate, ComparisonOperator, ConditionalOperator, ExpectedAttribute,
    UpdateActionKind,
};
use crate::value::{check_item_size, item_size, Item, MAX_ITEM_SIZE};

pub(crate) const RETURN_VALUES: [&str; 5] =
    ["ALL_NEW", "UPDATED_OLD", "ALL_OLD", "NONE", "UPDATED_NEW"];

/// How a write changes its item.
#[derive(Debug, Clone)]
pub(crate) enum Mutation {
    Put(Item),
    Update(UpdatePlan),
    Delete,
    /// A transaction's ConditionCheck: no change.
    Check,
}

/// An UpdateItem's change: an UpdateExpression, legacy AttributeUpdates, or
/// nothing (which still creates the item from its key).
#[derive(Debug, Clone)]
pub(crate) enum UpdatePlan {
    Expression(UpdateExpression),
    Legacy(BTreeMap<String, AttributeUpdate>),
    Nothing,
}

/// A validated write of one item, ready to run under its key lock.
#[derive(Debug, Clone)]
pub(crate) struct PreparedWrite {
    pub(crate) table: Arc<Table>,
    pub(crate) key: Item,
    pub(crate) row: (Vec<u8>, Vec<u8>),
    pub(crate) condition: Option<Condition>,
    pub(crate) mutation: Mutation,
    pub(crate) old_on_failure: bool,
}

impl PreparedWrite {
    /// The item after the write, given the stored one; fails if the condition
    /// does not hold or the result is not a valid item.
    pub(crate) fn apply(&self, old: Option<&Item>) -> StoreResult<Option<Item>> {
        if let Some(condition) = &self.condition {
            let empty = Item::new();
            if !evaluate_condition(condition, old.unwrap_or(&empty)) {
                let mut error = StoreError::conditional_check_failed();
                if self.old_on_failure {
                    if let Some(old) = old {
                        error.details = Some(Box::new(ErrorDetails {
                            cancellation_reasons: Vec::new(),
                            item: Some(old.clone()),
                        }));
                    }
                }
                return Err(error);
            }
        }
        let new = match &self.mutation {
            Mutation::Put(item) => Some(item.clone()),
            Mutation::Delete => None,
            Mutation::Check => return Ok(old.cloned()),
            Mutation::Update(plan) => Some(match (plan, old) {
                (UpdatePlan::Expression(update), Some(old)) => apply_update(update, old)?,
                (UpdatePlan::Expression(update), None) => {
                    apply_update_to_missing_item(update, &self.key)?
                }
                (UpdatePlan::Legacy(updates), old) => {
                    legacy::apply_attribute_updates(updates, old.unwrap_or(&self.key))?
                }
                (UpdatePlan::Nothing, old) => old.cloned().unwrap_or_else(|| self.key.clone()),
            }),
        };
        if let Some(item) = &new {
            if matches!(self.mutation, Mutation::Update(_)) {
                if item_size(item) > MAX_ITEM_SIZE {
                    return Err(StoreError::validation(
                        "Item size to update has exceeded the maximum allowed size",
                    ));
                }
            } else {
                check_item_size(item)?;
            }
            for (_, index) in &self.table.indexes {
                index.check_item(item)?;
            }
        }
        Ok(new)
    }
}

/// `ItemCollectionMetrics` for a write to `key`'s item collection, when
/// `mode` is `SIZE` and the table has a local secondary index (only such
/// tables have bounded item collections, so only they report them).
pub(crate) fn item_collection_metrics(
    mode: Option<&String>,
    table: &Table,
    key: &Item,
) -> Option<ItemCollectionMetrics> {
    let has_local_index = table.indexes.iter().any(|(meta, _)| !meta.global);
    if mode.map(String::as_str) != Some("SIZE") || !has_local_index {
        return None;
    }
    let partition = &table.key.partition_key.name;
    let item_collection_key: Item = key
        .get(partition)
        .map(|value| (partition.clone(), value.clone()))
        .into_iter()
        .collect();
    Some(ItemCollectionMetrics {
        item_collection_key,
        // DynamoDB estimates in whole gigabytes; every collection the
        // embedded store holds is far below the first one.
        size_estimate_range_gb: [0.0, 1.0],
    })
}

/// `ItemCollectionMetrics` of a write of several items (BatchWriteItem,
/// TransactWriteItems): per table, one entry per write in request order, for
/// the tables that report them; `None` when there is none to report.
pub(crate) fn item_collection_metrics_by_table<'a>(
    mode: Option<&String>,
    writes: impl IntoIterator<Item = (&'a Table, &'a Item)>,
) -> Option<BTreeMap<String, Vec<ItemCollectionMetrics>>> {
    let mut by_table: BTreeMap<String, Vec<ItemCollectionMetrics>> = BTreeMap::new();
    for (table, key) in writes {
        if let Some(metrics) = item_collection_metrics(mode, table, key) {
            by_table
                .entry(table.meta.name.clone())
                .or_default()
                .push(metrics);
        }
    }
    (!by_table.is_empty()).then_some(by_table)
}

/// Placeholder maps need an expression to be used in; `absent` names the operation's
/// expressions for the message, where DynamoDB's wording is known.
pub(crate) fn check_expression_params(
    names: Option<&Names>,
    values: Option<&Item>,
    any_expression: bool,
    absent: Option<&str>,
) -> StoreResult<()> {
    if any_expression {
        return Ok(());
    }
    if names.is_some() {
        return Err(StoreError::validation(
            "ExpressionAttributeNames can only be specified when using expressions",
        ));
    }
    if values.is_some() {
        let message = "ExpressionAttributeValues can only be specified when using expressions";
        return Err(StoreError::validation(match absent {
            Some(absent) => format!("{message}: {absent}"),
            None => message.to_owned(),
        }));
    }
    Ok(())
}

/// Placeholder maps and the expressions parsed against them.
///
/// `absent` names the operation's expressions for the message about values
/// without any of them (`ConditionExpression is null`), where DynamoDB's
/// wording is known.
pub(crate) fn parse_expressions<T>(
    names: Option<&Names>,
    values: Option<&Item>,
    any_expression: bool,
    absent: Option<&str>,
    parse: impl FnOnce(&mut ExpressionContext<'_>) -> StoreResult<T>,
) -> StoreResult<T> {
    check_expression_params(names, values, any_expression, absent)?;
    check_placeholder_maps(names, values)?;
    deferred::check(Place::Values)?;
    let empty_names = Names::new();
    let empty_values = Item::new();
    let mut context = ExpressionContext::new(
        names.unwrap_or(&empty_names),
        values.unwrap_or(&empty_values),
    );
    let parsed = parse(&mut context)?;
    context.finish()?;
    Ok(parsed)
}

/// Rejects a request mixing expression and legacy parameters.
pub(crate) fn check_not_mixed(
    legacy: &[(&str, bool)],
    expressions: &[(&str, bool)],
) -> StoreResult<()> {
    let legacy: Vec<&str> = legacy
        .iter()
        .filter(|(_, used)| *used)
        .map(|(name, _)| *name)
        .collect();
    let expressions: Vec<&str> = expressions
        .iter()
        .filter(|(_, used)| *used)
        .map(|(name, _)| *name)
        .collect();
    if !legacy.is_empty() && !expressions.is_empty() {
        return Err(StoreError::validation(format!(
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {{{}}} Expression parameters: {{{}}}",
            legacy.join(", "),
            expressions.join(", ")
        )));
    }
    Ok(())
}

fn conditional_operator(operator: Option<&String>) -> StoreResult<ConditionalOperator> {
    match operator.map(String::as_str) {
        None | Some("AND") => Ok(ConditionalOperator::And),
        Some("OR") => Ok(ConditionalOperator::Or),
        Some(other) => Err(StoreError::validation(format!(
            "1 validation error detected: Value '{other}' at 'conditionalOperator' failed to satisfy constraint: Member must satisfy enum value set: [OR, AND]"
        ))),
    }
}

pub(crate) fn comparison_operator(
    name: Option<&String>,
    field: &str,
) -> StoreResult<Option<ComparisonOperator>> {
    match name {
        None => Ok(None),
        Some(name) => ComparisonOperator::from_name(name).map(Some).ok_or_else(|| {
            StoreError::validation(format!(
                "1 validation error detected: Value '{name}' at '{field}' failed to satisfy constraint: Member must satisfy enum value set: [IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]"
            ))
        }),
    }
}

/// Converts legacy conditions (`QueryFilter`, `ScanFilter`, `KeyConditions`, named
/// `field` in messages), each with a required, known `ComparisonOperator`.
pub(crate) fn legacy_conditions(
    conditions: &BTreeMap<String, crate::api::Condition>,
    field: &str,
) -> StoreResult<BTreeMap<String, legacy::FilterCondition>> {
    let mut converted = BTreeMap::new();
    for (name, condition) in conditions {
        let operator = comparison_operator(
            condition.comparison_operator.as_ref(),
            &format!("{field}.{name}.member.comparisonOperator"),
        )?
        .ok_or_else(|| {
            StoreError::validation(format!(
                "1 validation error detected: Value null at '{field}.{name}.member.comparisonOperator' failed to satisfy constraint: Member must not be null"
            ))
        })?;
        converted.insert(
            name.clone(),
            legacy::FilterCondition {
                comparison_operator: operator,
                attribute_value_list: condition.attribute_value_list.clone().unwrap_or_default(),
            },
        );
    }
    Ok(converted)
}

pub(crate) fn legacy_filter(
    filter: Option<&BTreeMap<String, crate::api::Condition>>,
    operator: Option<&String>,
    field: &str,
) -> StoreResult<Option<Condition>> {
    let Some(filter) = filter else {
        return Ok(None);
    };
    let converted = legacy_conditions(filter, field)?;
    legacy::filter_condition(&converted, conditional_operator(operator)?)
}

fn expected_condition(
    expected: Option<&BTreeMap<String, ExpectedAttributeValue>>,
    operator: Option<&String>,
) -> StoreResult<Option<Condition>> {
    let Some(expected) = expected else {
        return Ok(None);
    };
    let mut converted = BTreeMap::new();
    for (name, entry) in expected {
        converted.insert(
            name.clone(),
            ExpectedAttribute {
                value: entry.value.clone(),
                exists: entry.exists,
                comparison_operator: comparison_operator(
                    entry.comparison_operator.as_ref(),
                    &format!("expected.{name}.member.comparisonOperator"),
                )?,
                attribute_value_list: entry.attribute_value_list.clone(),
            },
        );
    }
    legacy::expected_condition(&converted, conditional_operator(operator)?)
}

fn attribute_updates(
    updates: &BTreeMap<String, AttributeValueUpdate>,
) -> StoreResult<BTreeMap<String, AttributeUpdate>> {
    updates
        .iter()
        .map(|(name, update)| {
            let action = match update.action.as_deref() {
                None | Some("PUT") => UpdateActionKind::Put,
                Some("ADD") => UpdateActionKind::Add,
                Some("DELETE") => UpdateActionKind::Delete,
                Some(other) => {
                    return Err(StoreError::validation(format!(
                        "1 validation error detected: Value '{other}' at 'attributeUpdates.{name}.member.action' failed to satisfy constraint: Member must satisfy enum value set: [ADD, PUT, DELETE]"
                    )))
                }
            };
            Ok((
                name.clone(),
                AttributeUpdate {
                    action,
                    value: update.value.clone(),
                },
            ))
        })
        .collect()
}

/// The units one operation consumed on one table: on the table itself (`None` when
/// only an index was read) and on each of its indexes (name, whether global, units).
#[derive(Debug, Default, Clone)]
pub(crate) struct Consumption {
    pub(crate) table: Option<f64>,
    pub(crate) indexes: Vec<(String, bool, f64)>,
}

impl Consumption {
    /// Units consumed on the table alone.
    pub(crate) fn table(units: f64) -> Consumption {
        Consumption {
            table: Some(units),
            indexes: Vec::new(),
        }
    }

    /// Adds another write's or read's units, index by index.
    pub(crate) fn add(&mut self, other: &Consumption) {
        if let Some(units) = other.table {
            *self.table.get_or_insert(0.0) += units;
        }
        for (name, global, units) in &other.indexes {
            match self.indexes.iter_mut().find(|(known, ..)| known == name) {
                Some((_, _, total)) => *total += units,
                None => self.indexes.push((name.clone(), *global, *units)),
            }
        }
    }

    fn total(&self) -> f64 {
        self.table.unwrap_or(0.0) + self.indexes.iter().map(|(.., units)| units).sum::<f64>()
    }
}

/// What a write from `old` to `new` consumed: the larger of the two items on the table
/// (a delete has no new one), and the changed entries on each index.
pub(crate) fn write_consumption(
    table: &Table,
    old: Option<&Item>,
    new: Option<&Item>,
) -> Consumption {
    Consumption {
        table: Some(write_units(
            old.map_or(0, item_size).max(new.map_or(0, item_size)),
            false,
        )),
        indexes: table.index_write_units(old, new),
    }
}

/// `ConsumedCapacity` for one table, when asked for: the total with `TOTAL`, and with
/// `INDEXES` also the table's and each index's share, as DynamoDB reports them.
pub(crate) fn consumed_detail(
    mode: Option<&String>,
    table: &str,
    consumption: &Consumption,
) -> Option<ConsumedCapacity> {
    let indexes_of = |global: bool| {
        let shares: BTreeMap<String, Capacity> = consumption
            .indexes
            .iter()
            .filter(|(_, is_global, _)| *is_global == global)
            .map(|(name, _, units)| {
                (
                    name.clone(),
                    Capacity {
                        capacity_units: *units,
                    },
                )
            })
            .collect();
        (!shares.is_empty()).then_some(shares)
    };
    let total = ConsumedCapacity {
        table_name: table.to_owned(),
        capacity_units: consumption.total(),
        read_capacity_units: None,
        write_capacity_units: None,
        table: None,
        local_secondary_indexes: None,
        global_secondary_indexes: None,
    };
    match mode.map(String::as_str) {
        Some("TOTAL") => Some(total),
        Some("INDEXES") => Some(ConsumedCapacity {
            table: consumption.table.map(|units| Capacity {
                capacity_units: units,
            }),
            local_secondary_indexes: indexes_of(false),
            global_secondary_indexes: indexes_of(true),
            ..total
        }),
        _ => None,
    }
}

/// `ConsumedCapacity` for units consumed on a table alone, when asked for.
pub(crate) fn consumed(mode: Option<&String>, table: &str, units: f64) -> Option<ConsumedCapacity> {
    consumed_detail(mode, table, &Consumption::table(units))
}

fn non_empty(item: Item) -> Option<Item> {
    (!item.is_empty()).then_some(item)
}

fn check_on_failure(violations: &mut Violations, value: Option<&String>) {
    violations.one_of(
        value,
        "returnValuesOnConditionCheckFailure",
        &["ALL_OLD", "NONE"],
    );
}

impl Store {
    /// Runs one prepared write under its key lock; returns the old and new item.
    pub(crate) fn run_write(
        &self,
        prepared: &PreparedWrite,
    ) -> StoreResult<(Option<Item>, Option<Item>)> {
        let table = &prepared.table;
        let _guard = self.lock_stripes(
            vec![Store::stripe(table, &prepared.row.0, &prepared.row.1)],
            &[table],
        )?;
        let old = self.stored_item(table, &prepared.row.0, &prepared.row.1)?;
        let new = prepared.apply(old.as_ref())?;
        if old != new {
            let mut writes = Vec::new();
            self.item_writes(
                table,
                &prepared.row,
                old.as_ref(),
                new.as_ref(),
                &mut writes,
            )?;
            self.backend.write(writes)?;
        }
        Ok((old, new))
    }

    /// Runs a prepared put or delete that needs nothing of the item it
    /// replaces (see [`ConditionalWrite::needs_old`]): under the key's lock
    /// like any write, but without reading the stored item first.
    fn run_blind_write(&self, prepared: &PreparedWrite) -> StoreResult<()> {
        let table = &prepared.table;
        let new = match &prepared.mutation {
            Mutation::Put(item) => Some(item),
            Mutation::Delete => None,
            Mutation::Update(_) | Mutation::Check => {
                return Err(StoreError::internal(
                    "only puts and deletes are written without reading",
                ))
            }
        };
        let _guard = self.lock_stripes(
            vec![Store::stripe(table, &prepared.row.0, &prepared.row.1)],
            &[table],
        )?;
        let mut writes = Vec::new();
        self.item_writes(table, &prepared.row, None, new, &mut writes)?;
        self.backend.write(writes)?;
        Ok(())
    }

    /// `PutItem`
    pub fn put_item(&self, input: PutItemInput) -> StoreResult<WriteItemOutput> {
        let write = ConditionalWrite::put(&input);
        let condition = write.condition(input.item.as_ref(), "item")?;
        let _gate = self.read_gate();
        let prepared = self.prepare_put(&input, condition)?;
        self.run_conditional_write(&write, &prepared)
    }

    /// A validated `PutItem`, under the schema gate.
    pub(crate) fn prepare_put(
        &self,
        input: &PutItemInput,
        condition: Option<Condition>,
    ) -> StoreResult<PreparedWrite> {
        let table = self.table(input.table_name.as_deref().unwrap_or_default())?;
        let item = input.item.clone().unwrap_or_default();
        table.key.check_item(&item)?;
        check_item_size(&item)?;
        for (_, index) in &table.indexes {
            index.check_item(&item)?;
        }
        let key = table.key.key_of(&item);
        Ok(PreparedWrite {
            row: table.row_key(&key)?,
            key,
            table,
            condition,
            mutation: Mutation::Put(item),
            old_on_failure: input.return_values_on_condition_check_failure.as_deref()
                == Some("ALL_OLD"),
        })
    }

    /// `DeleteItem`
    pub fn delete_item(&self, input: DeleteItemInput) -> StoreResult<WriteItemOutput> {
        let write = ConditionalWrite::delete(&input);
        let condition = write.condition(input.key.as_ref(), "key")?;
        let _gate = self.read_gate();
        let prepared = self.prepare_delete(&input, condition)?;
        self.run_conditional_write(&write, &prepared)
    }

    /// A validated `DeleteItem`, under the schema gate.
    pub(crate) fn prepare_delete(
        &self,
        input: &DeleteItemInput,
        condition: Option<Condition>,
    ) -> StoreResult<PreparedWrite> {
        let table = self.table(input.table_name.as_deref().unwrap_or_default())?;
        let key = input.key.clone().unwrap_or_default();
        table.key.check_key(&key)?;
        Ok(PreparedWrite {
            row: table.row_key(&key)?,
            key,
            table,
            condition,
            mutation: Mutation::Delete,
            old_on_failure: input.return_values_on_condition_check_failure.as_deref()
                == Some("ALL_OLD"),
        })
    }

    /// Runs a prepared `PutItem` or `DeleteItem` and builds its response. The write
    /// goes out blind when nothing needs the item it replaces.
    fn run_conditional_write(
        &self,
        write: &ConditionalWrite<'_>,
        prepared: &PreparedWrite,
    ) -> StoreResult<WriteItemOutput> {
        if !write.needs_old(prepared) {
            self.run_blind_write(prepared)?;
            return Ok(write.output(
                None,
                &Consumption::table(0.0),
                &prepared.table,
                &prepared.key,
            ));
        }
        let (old, new) = self.run_write(prepared)?;
        let consumption = write_consumption(&prepared.table, old.as_ref(), new.as_ref());
        Ok(write.output(old, &consumption, &prepared.table, &prepared.key))
    }

    /// `UpdateItem`
    pub fn update_item(&self, input: UpdateItemInput) -> StoreResult<WriteItemOutput> {
        let mut violations = Violations::new();
        violations.table_name(input.table_name.as_ref(), "tableName");
        violations.required(input.key.as_ref(), "key");
        violations.one_of(input.return_values.as_ref(), "returnValues", &RETURN_VALUES);
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
        check_on_failure(
            &mut violations,
            input.return_values_on_condition_check_failure.as_ref(),
        );
        violations.expected(input.expected.as_ref(), input.conditional_operator.as_ref());
        violations.finish()?;
        check_not_mixed(
            &[
                ("AttributeUpdates", input.attribute_updates.is_some()),
                ("Expected", input.expected.is_some()),
            ],
            &[
                ("UpdateExpression", input.update_expression.is_some()),
                ("ConditionExpression", input.condition_expression.is_some()),
            ],
        )?;
        check_expression_params(
            input.expression_attribute_names.as_ref(),
            input.expression_attribute_values.as_ref(),
            input.condition_expression.is_some() || input.update_expression.is_some(),
            Some("UpdateExpression and ConditionExpression are null"),
        )?;
        deferred::check(Place::Item)?;
        let legacy_updates = input
            .attribute_updates
            .as_ref()
            .map(|updates| {
                let updates = attribute_updates(updates)?;
                legacy::check_attribute_update_actions(&updates)?;
                Ok::<_, StoreError>(updates)
            })
            .transpose()?;
        deferred::check(Place::Condition)?;
        let (update, expression_condition) = parse_expressions(
            input.expression_attribute_names.as_ref(),
            input.expression_attribute_values.as_ref(),
            input.condition_expression.is_some() || input.update_expression.is_some(),
            Some("UpdateExpression and ConditionExpression are null"),
            |context| {
                let update = input
                    .update_expression
                    .as_deref()
                    .map(|text| context.update(text))
                    .transpose()?;
                let condition = input
                    .condition_expression
                    .as_deref()
                    .map(|text| context.condition(text))
                    .transpose()?;
                Ok((update, condition))
            },
        )?;
        let condition = match expression_condition {
            Some(condition) => Some(condition),
            None => {
                expected_condition(input.expected.as_ref(), input.conditional_operator.as_ref())?
            }
        };
        let _gate = self.read_gate();
        let table = self.table(input.table_name.as_deref().unwrap_or_default())?;
        let key = input.key.clone().unwrap_or_default();
        table.key.check_key(&key)?;
        let (plan, updated_paths) = match (update, legacy_updates) {
            (Some(update), _) => {
                check_update_keeps_key(&update, &table.key)?;
                table.check_key_paths(update.paths())?;
                let paths = update.updated_paths();
                (UpdatePlan::Expression(update), paths)
            }
            (None, Some(updates)) => {
                legacy::check_attribute_updates(&updates, &table.key)?;
                let paths =
                    legacy::attributes_to_get(&updates.keys().cloned().collect::<Vec<_>>())?;
                (UpdatePlan::Legacy(updates), paths)
            }
            (None, None) => (UpdatePlan::Nothing, Projection { paths: Vec::new() }),
        };
        let prepared = PreparedWrite {
            row: table.row_key(&key)?,
            key,
            table: table.clone(),
            condition,
            mutation: Mutation::Update(plan),
            old_on_failure: input.return_values_on_condition_check_failure.as_deref()
                == Some("ALL_OLD"),
        };
        let (old, new) = self.run_write(&prepared)?;
        let consumption = write_consumption(&table, old.as_ref(), new.as_ref());
        let attributes = match input.return_values.as_deref() {
            Some("ALL_OLD") => old,
            Some("ALL_NEW") => new,
            Some("UPDATED_OLD") => old
                .as_ref()
                .and_then(|old| non_empty(apply_projection(&updated_paths, old))),
            Some("UPDATED_NEW") => new
                .as_ref()
                .and_then(|new| non_empty(apply_projection(&updated_paths, new))),
            _ => None,
        };
        Ok(WriteItemOutput {
            attributes,
            consumed_capacity: consumed_detail(
                input.return_consumed_capacity.as_ref(),
                &table.meta.name,
                &consumption,
            ),
            item_collection_metrics: item_collection_metrics(
                input.return_item_collection_metrics.as_ref(),
                &table,
                &prepared.key,
            ),
        })
    }

    /// `GetItem`
    pub fn get_item(&self, input: GetItemInput) -> StoreResult<GetItemOutput> {
        self.get_item_under(input, Gate::Take)
    }

    pub(crate) fn get_item_under(
        &self,
        input: GetItemInput,
        gate: Gate,
    ) -> StoreResult<GetItemOutput> {
        let mut violations = Violations::new();
        violations.table_name(input.table_name.as_ref(), "tableName");
        violations.required(input.key.as_ref(), "key");
        violations.attributes_to_get(input.attributes_to_get.as_ref());
        violations.one_of(
            input.return_consumed_capacity.as_ref(),
            "returnConsumedCapacity",
            &CAPACITY_VALUES,
        );
        violations.finish()?;
        let projection = read_projection(
            input.projection_expression.as_ref(),
            input.attributes_to_get.as_ref(),
            input.expression_attribute_names.as_ref(),
        )?;
        let _gate = self.enter(gate);
        let table = self.table(input.table_name.as_deref().unwrap_or_default())?;
        let key = input.key.clone().unwrap_or_default();
        table.key.check_key(&key)?;
        if let Some(projection) = &projection {
            table.check_key_paths(&projection.paths)?;
        }
        let (partition, sort) = table.row_key(&key)?;
        let item = self.stored_item(&table, &partition, &sort)?;
        let kind = if input.consistent_read == Some(true) {
            ReadKind::Strong
        } else {
            ReadKind::Eventual
        };
        let units = read_units(item.as_ref().map_or(0, item_size), kind);
        Ok(GetItemOutput {
            item: item.map(|item| match &projection {
                Some(projection) => apply_projection(projection, &item),
                None => item,
            }),
            consumed_capacity: consumed(
                input.return_consumed_capacity.as_ref(),
                &table.meta.name,
                units,
            ),
        })
    }

    /// `BatchGetItem`: every key is read (nothing is left unprocessed).
    pub fn batch_get_item(&self, input: BatchGetItemInput) -> StoreResult<BatchGetItemOutput> {
        self.batch_get_item_under(input, Gate::Take)
    }

    pub(crate) fn batch_get_item_under(
        &self,
        input: BatchGetItemInput,
        gate: Gate,
    ) -> StoreResult<BatchGetItemOutput> {
        let mut violations = Violations::new();
        violations.required(input.request_items.as_ref(), "requestItems");
        violations.one_of(
            input.return_consumed_capacity.as_ref(),
            "returnConsumedCapacity",
            &CAPACITY_VALUES,
        );
        if input.request_items.as_ref().is_some_and(BTreeMap::is_empty) {
            return Err(StoreError::validation(
                "The requestItems parameter is required for BatchGetItem",
            ));
        }
        if let Some(requests) = &input.request_items {
            for (name, request) in requests {
                violations.name_pattern(name, "requestItems.key");
                violations.required(
                    request.keys.as_ref(),
                    &format!("requestItems.{name}.member.keys"),
                );
                // The per-table limit is a constraint on the member; the
                // total over all tables is checked below with its own message.
                if request.keys.as_ref().is_some_and(|keys| keys.len() > 100) {
                    violations.unechoed(
                        &format!("RequestItems.{name}.member.Keys"),
                        "Member must have length less than or equal to 100",
                    );
                }
            }
        }
        violations.finish()?;
        let requests = input.request_items.clone().unwrap_or_default();
        let total: usize = requests
            .values()
            .map(|request| request.keys.as_ref().map_or(0, Vec::len))
            .sum();
        if total > 100 {
            return Err(StoreError::validation(
                "Too many items requested for the BatchGetItem call",
            ));
        }
        let mut plans = Vec::new();
        for (name, request) in &requests {
            let keys = request.keys.clone().unwrap_or_default();
            if keys.is_empty() {
                return Err(StoreError::validation(format!(
                    "1 validation error detected: Value '[]' at 'requestItems.{name}.member.keys' failed to satisfy constraint: Member must have length greater than or equal to 1"
                )));
            }
            check_not_mixed(
                &[("AttributesToGet", request.attributes_to_get.is_some())],
                &[(
                    "ProjectionExpression",
                    request.projection_expression.is_some(),
                )],
            )?;
            deferred::check(Place::Item)?;
            // Equal keys are found before the table is looked up.
            let mut distinct = BTreeSet::new();
            if !keys.iter().all(|key| distinct.insert(format!("{key:?}"))) {
                return Err(StoreError::validation(
                    "Provided list of item keys contains duplicates",
                ));
            }
            let projection = read_projection(
                request.projection_expression.as_ref(),
                request.attributes_to_get.as_ref(),
                request.expression_attribute_names.as_ref(),
            )?;
            plans.push((
                name.clone(),
                keys,
                projection,
                request.consistent_read == Some(true),
            ));
        }
        let _gate = self.enter(gate);
        let mut output = BatchGetItemOutput::default();
        let mut capacities = Vec::new();
        for (name, keys, projection, consistent) in plans {
            let table = self.table(&name)?;
            let mut seen = BTreeSet::new();
            let mut rows = Vec::new();
            for key in &keys {
                table.key.check_key(key)?;
                let row = table.row_key(key)?;
                if !seen.insert(row.clone()) {
                    return Err(StoreError::validation(
                        "Provided list of item keys contains duplicates",
                    ));
                }
                rows.push(row);
            }
            if let Some(projection) = &projection {
                table.check_key_paths(&projection.paths)?;
            }
            let mut items = Vec::new();
            let mut units = 0.0;
            let kind = if consistent {
                ReadKind::Strong
            } else {
                ReadKind::Eventual
            };
            for (partition, sort) in rows {
                let item = self.stored_item(&table, &partition, &sort)?;
                units += read_units(item.as_ref().map_or(0, item_size), kind);
                if let Some(item) = item {
                    items.push(match &projection {
                        Some(projection) => apply_projection(projection, &item),
                        None => item,
                    });
                }
            }
            capacities.extend(consumed(
                input.return_consumed_capacity.as_ref(),
                &name,
                units,
            ));
            output.responses.insert(name, items);
        }
        if input
            .return_consumed_capacity
            .as_deref()
            .is_some_and(|mode| mode != "NONE")
        {
            output.consumed_capacity = Some(capacities);
        }
        Ok(output)
    }

    /// `BatchWriteItem`: all requests are applied in one atomic backend batch
    /// (nothing is left unprocessed).
    pub fn batch_write_item(
        &self,
        input: BatchWriteItemInput,
    ) -> StoreResult<BatchWriteItemOutput> {
        let mut violations = Violations::new();
        violations.required(input.request_items.as_ref(), "requestItems");
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
        if input.request_items.as_ref().is_some_and(BTreeMap::is_empty) {
            return Err(StoreError::validation(
                "The requestItems parameter is required for BatchWriteItem",
            ));
        }
        if let Some(requests) = &input.request_items {
            for name in requests.keys() {
                violations.name_pattern(name, "requestItems.key");
            }
            // One table over 25 requests fails the map's value constraint, and
            // DynamoDB echoes the whole map. It prints its Java model there;
            // the requests' JSON stands in for that dump.
            if requests.values().any(|writes| writes.len() > 25) {
                let shown: Vec<String> = requests
                    .iter()
                    .map(|(name, writes)| {
                        format!(
                            "{name}={}",
                            serde_json::to_string(writes).expect("requests serialize")
                        )
                    })
                    .collect();
                violations.echoed(
                    &format!("'{{{}}}'", shown.join(", ")),
                    "requestItems",
                    "Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]",
                );
            }
        }
        violations.finish()?;
        let requests = input.request_items.clone().unwrap_or_default();
        let total: usize = requests.values().map(Vec::len).sum();
        if total > 25 {
            return Err(StoreError::validation(
                "Too many items requested for the BatchWriteItem call",
            ));
        }
        // The writes are checked by themselves before any table is looked up.
        for (name, writes) in &requests {
            if writes.is_empty() {
                return Err(StoreError::validation(format!(
                    "1 validation error detected: Value '[]' at 'requestItems.{name}.member' failed to satisfy constraint: Member must have length greater than or equal to 1"
                )));
            }
            // DynamoDB words an empty write request as it words an empty value.
            if writes
                .iter()
                .any(|write| write.put_request.is_none() && write.delete_request.is_none())
            {
                return Err(StoreError::validation(
                    "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
                ));
            }
        }
        deferred::check(Place::Item)?;
        for write in requests.values().flatten() {
            if let Some(item) = write.put_request.as_ref().and_then(|put| put.item.as_ref()) {
                check_item_size(item)?;
            }
        }
        let _gate = self.read_gate();
        let mut prepared = Vec::new();
        for (name, writes) in &requests {
            let table = self.table(name)?;
            let mut seen = BTreeSet::new();
            for write in writes {
                let (key, mutation) = match (&write.put_request, &write.delete_request) {
                    (Some(put), None) => {
                        let item = put.item.clone().ok_or_else(|| {
                            StoreError::validation("1 validation error detected: Value null at 'requestItems.member.putRequest.item' failed to satisfy constraint: Member must not be null")
                        })?;
                        // BatchWriteItem says less than PutItem about a missing or
                        // mistyped key attribute.
                        if table.key.attributes().any(|attribute| {
                            item.get(&attribute.name).and_then(ScalarType::of)
                                != Some(attribute.scalar_type)
                        }) {
                            return Err(StoreError::validation(
                                "The provided key element does not match the schema",
                            ));
                        }
                        table.key.check_item(&item)?;
                        for (_, index) in &table.indexes {
                            index.check_item(&item)?;
                        }
                        (table.key.key_of(&item), Mutation::Put(item))
                    }
                    (None, Some(delete)) => {
                        let key = delete.key.clone().ok_or_else(|| {
                            StoreError::validation("1 validation error detected: Value null at 'requestItems.member.deleteRequest.key' failed to satisfy constraint: Member must not be null")
                        })?;
                        table.key.check_key(&key)?;
                        (key, Mutation::Delete)
                    }
                    _ => {
                        return Err(StoreError::validation(
                            "Supplied WriteRequest must contain exactly one of PutRequest or DeleteRequest",
                        ))
                    }
                };
                let row = table.row_key(&key)?;
                if !seen.insert(row.clone()) {
                    return Err(StoreError::validation(
                        "Provided list of item keys contains duplicates",
                    ));
                }
                prepared.push(PreparedWrite {
                    table: table.clone(),
                    key,
                    row,
                    condition: None,
                    mutation,
                    old_on_failure: false,
                });
            }
        }
        let stripes = prepared
            .iter()
            .map(|write| Store::stripe(&write.table, &write.row.0, &write.row.1))
            .collect();
        let tables: Vec<&Table> = prepared.iter().map(|write| write.table.as_ref()).collect();
        let _guards = self.lock_stripes(stripes, &tables)?;
        let mut writes = Vec::new();
        let mut units: BTreeMap<String, Consumption> = BTreeMap::new();
        let capacity_wanted = matches!(
            input.return_consumed_capacity.as_deref(),
            Some("TOTAL" | "INDEXES")
        );
        for write in &prepared {
            if !capacity_wanted && write.table.writes_without_old_item() {
                // Nothing needs the replaced item: write without reading it.
                let new = match &write.mutation {
                    Mutation::Put(item) => Some(item),
                    _ => None,
                };
                self.item_writes(&write.table, &write.row, None, new, &mut writes)?;
                continue;
            }
            let old = self.stored_item(&write.table, &write.row.0, &write.row.1)?;
            let new = write.apply(old.as_ref())?;
            units
                .entry(write.table.meta.name.clone())
                .or_default()
                .add(&write_consumption(&write.table, old.as_ref(), new.as_ref()));
            self.item_writes(
                &write.table,
                &write.row,
                old.as_ref(),
                new.as_ref(),
                &mut writes,
            )?;
        }
        self.backend.write(writes)?;
        let capacities: Vec<ConsumedCapacity> = units
            .iter()
            .filter_map(|(name, consumption)| {
                consumed_detail(input.return_consumed_capacity.as_ref(), name, consumption)
            })
            .collect();
        Ok(BatchWriteItemOutput {
            unprocessed_items: BTreeMap::new(),
            consumed_capacity: input
                .return_consumed_capacity
                .as_deref()
                .is_some_and(|mode| mode != "NONE")
                .then_some(capacities),
            item_collection_metrics: item_collection_metrics_by_table(
                input.return_item_collection_metrics.as_ref(),
                prepared
                    .iter()
                    .map(|write| (write.table.as_ref(), &write.key)),
            ),
        })
    }
}

/// The projection of a read from `ProjectionExpression` or `AttributesToGet`.
pub(crate) fn read_projection(
    expression: Option<&String>,
    attributes_to_get: Option<&Vec<String>>,
    names: Option<&Names>,
) -> StoreResult<Option<Projection>> {
    check_not_mixed(
        &[("AttributesToGet", attributes_to_get.is_some())],
        &[("ProjectionExpression", expression.is_some())],
    )?;
    check_expression_params(names, None, expression.is_some(), None)?;
    // The keys' values are judged before the projection.
    deferred::check(Place::Item)?;
    let projection = parse_expressions(names, None, expression.is_some(), None, |context| {
        expression.map(|text| context.projection(text)).transpose()
    })?;
    match (projection, attributes_to_get) {
        (Some(projection), _) => Ok(Some(projection)),
        (None, Some(names)) => Ok(Some(legacy::attributes_to_get(names)?)),
        (None, None) => Ok(None),
    }
}

/// The members `PutItem` and `DeleteItem` share: everything but the item or the key.
pub(crate) struct ConditionalWrite<'a> {
    table_name: Option<&'a String>,
    condition_expression: Option<&'a String>,
    expression_attribute_names: Option<&'a Names>,
    expression_attribute_values: Option<&'a Item>,
    return_values: Option<&'a String>,
    return_consumed_capacity: Option<&'a String>,
    return_item_collection_metrics: Option<&'a String>,
    return_values_on_condition_check_failure: Option<&'a String>,
    expected: Option<&'a BTreeMap<String, ExpectedAttributeValue>>,
    conditional_operator: Option<&'a String>,
    /// A put's item, whose size DynamoDB checks before the table is looked up.
    item: Option<&'a Item>,
}

impl<'a> ConditionalWrite<'a> {
    pub(crate) fn put(input: &'a PutItemInput) -> Self {
        ConditionalWrite {
            table_name: input.table_name.as_ref(),
            condition_expression: input.condition_expression.as_ref(),
            expression_attribute_names: input.expression_attribute_names.as_ref(),
            expression_attribute_values: input.expression_attribute_values.as_ref(),
            return_values: input.return_values.as_ref(),
            return_consumed_capacity: input.return_consumed_capacity.as_ref(),
            return_item_collection_metrics: input.return_item_collection_metrics.as_ref(),
            return_values_on_condition_check_failure: input
                .return_values_on_condition_check_failure
                .as_ref(),
            expected: input.expected.as_ref(),
            conditional_operator: input.conditional_operator.as_ref(),
            item: input.item.as_ref(),
        }
    }

    pub(crate) fn delete(input: &'a DeleteItemInput) -> Self {
        ConditionalWrite {
            table_name: input.table_name.as_ref(),
            condition_expression: input.condition_expression.as_ref(),
            expression_attribute_names: input.expression_attribute_names.as_ref(),
            expression_attribute_values: input.expression_attribute_values.as_ref(),
            return_values: input.return_values.as_ref(),
            return_consumed_capacity: input.return_consumed_capacity.as_ref(),
            return_item_collection_metrics: input.return_item_collection_metrics.as_ref(),
            return_values_on_condition_check_failure: input
                .return_values_on_condition_check_failure
                .as_ref(),
            expected: input.expected.as_ref(),
            conditional_operator: input.conditional_operator.as_ref(),
            item: None,
        }
    }
    /// Validates the request, with its item or key (`payload`, named as DynamoDB names it
    /// in messages) checked in DynamoDB's order, and returns the write's condition: from
    /// `ConditionExpression`, else from the legacy `Expected`.
    pub(crate) fn condition(
        &self,
        payload: Option<&Item>,
        payload_name: &str,
    ) -> StoreResult<Option<Condition>> {
        let mut violations = Violations::new();
        violations.table_name(self.table_name, "tableName");
        violations.required(payload, payload_name);
        violations.one_of(self.return_values, "returnValues", &RETURN_VALUES);
        violations.one_of(
            self.return_consumed_capacity,
            "returnConsumedCapacity",
            &CAPACITY_VALUES,
        );
        violations.one_of(
            self.return_item_collection_metrics,
            "returnItemCollectionMetrics",
            &METRICS_VALUES,
        );
        check_on_failure(
            &mut violations,
            self.return_values_on_condition_check_failure,
        );
        violations.expected(self.expected, self.conditional_operator);
        violations.finish()?;
        check_not_mixed(
            &[("Expected", self.expected.is_some())],
            &[("ConditionExpression", self.condition_expression.is_some())],
        )?;
        check_expression_params(
            self.expression_attribute_names,
            self.expression_attribute_values,
            self.condition_expression.is_some(),
            Some("ConditionExpression is null"),
        )?;
        deferred::check(Place::Item)?;
        if !matches!(
            self.return_values.map(String::as_str),
            None | Some("NONE" | "ALL_OLD")
        ) {
            return Err(StoreError::validation(
                "ReturnValues can only be ALL_OLD or NONE",
            ));
        }
        if let Some(item) = self.item {
            check_item_size(item)?;
        }
        deferred::check(Place::Condition)?;
        let expression_condition = parse_expressions(
            self.expression_attribute_names,
            self.expression_attribute_values,
            self.condition_expression.is_some(),
            Some("ConditionExpression is null"),
            |context| {
                self.condition_expression
                    .map(|text| context.condition(text))
                    .transpose()
            },
        )?;
        match expression_condition {
            Some(condition) => Ok(Some(condition)),
            None => expected_condition(self.expected, self.conditional_operator),
        }
    }

    /// Whether a failed condition returns the item as it was.
    /// Whether the write must read the item it replaces: to check a
    /// condition, to return the old item or the capacity (which counts the
    /// larger of the old and new item), to move index entries or to write a
    /// stream record. Otherwise a put or delete is written blind, which saves
    /// a read per write. (TTL needs nothing here: expiry re-reads the item.)
    pub(crate) fn needs_old(&self, prepared: &PreparedWrite) -> bool {
        prepared.condition.is_some()
            || self.return_values.map(String::as_str) == Some("ALL_OLD")
            || matches!(
                self.return_consumed_capacity.map(String::as_str),
                Some("TOTAL" | "INDEXES")
            )
            || !prepared.table.writes_without_old_item()
    }

    /// The response: the old item if asked for, capacity and item-collection metrics.
    pub(crate) fn output(
        &self,
        old: Option<Item>,
        consumption: &Consumption,
        table: &Table,
        key: &Item,
    ) -> WriteItemOutput {
        WriteItemOutput {
            attributes: match self.return_values.map(String::as_str) {
                Some("ALL_OLD") => old,
                _ => None,
            },
            consumed_capacity: consumed_detail(
                self.return_consumed_capacity,
                &table.meta.name,
                consumption,
            ),
            item_collection_metrics: item_collection_metrics(
                self.return_item_collection_metrics,
                table,
                key,
            ),
        }
    }
}
