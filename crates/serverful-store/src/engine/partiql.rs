//! PartiQL operations (ExecuteStatement, BatchExecuteStatement,
//! ExecuteTransaction): each parsed statement is rewritten into the
//! equivalent item operation with expression placeholders and run through it,
//! so conditions, indexes, streams and locking behave exactly as there.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::validate::Violations;
use super::Store;
use crate::api::{
    BatchExecuteStatementInput, BatchExecuteStatementOutput, BatchStatementError,
    BatchStatementResponse, DeleteItemInput, ExecuteStatementInput, ExecuteStatementOutput,
    ExecuteTransactionInput, ExecuteTransactionOutput, GetItemInput, Names, PutItemInput,
    QueryInput, ScanInput, TransactGet, TransactGetItem, TransactGetItemsInput, TransactOperation,
    TransactWriteItem, TransactWriteItemsInput, UpdateItemInput,
};
use crate::error::{ErrorKind, StoreError, StoreResult};
use crate::eval::resolve_path;
use crate::expression::{Comparator, Condition, Operand, Path, PathElement};
use crate::key::KeySchema;
use crate::partiql::{parse, Returning, SetOperand, Statement};
use crate::value::{item_from_json, item_to_json, AttributeValue, Item};

/// Re-keys an item projected by a SELECT's paths as PartiQL answers it:
/// each selected path's value becomes a top-level attribute named after the
/// path's last name (`SELECT mymap.nested` gives `nested`), where a
/// `ProjectionExpression` would keep the nesting.
fn select_shape(item: Item, paths: &[Path]) -> Item {
    let mut shaped = Item::new();
    for path in paths {
        let Some(value) = resolve_path(&item, path) else {
            continue;
        };
        let name = path
            .elements
            .iter()
            .rev()
            .find_map(|element| match element {
                PathElement::Name(name) => Some(name.clone()),
                PathElement::Index(_) => None,
            });
        if let Some(name) = name {
            shaped.insert(name, value.clone());
        }
    }
    shaped
}

/// Turns condition trees back into expression text with placeholders.
#[derive(Default)]
struct Renderer {
    names: Names,
    values: Item,
}

impl Renderer {
    fn name(&mut self, name: &str) -> String {
        if let Some((key, _)) = self.names.iter().find(|(_, value)| *value == name) {
            return key.clone();
        }
        let key = format!("#n{}", self.names.len());
        self.names.insert(key.clone(), name.to_owned());
        key
    }

    fn value(&mut self, value: &AttributeValue) -> String {
        let key = format!(":v{}", self.values.len());
        self.values.insert(key.clone(), value.clone());
        key
    }

    fn path(&mut self, path: &Path) -> String {
        let mut text = String::new();
        for (position, element) in path.elements.iter().enumerate() {
            match element {
                PathElement::Name(name) => {
                    if position > 0 {
                        text.push('.');
                    }
                    let placeholder = self.name(name);
                    text.push_str(&placeholder);
                }
                PathElement::Index(index) => text.push_str(&format!("[{index}]")),
            }
        }
        text
    }

    fn operand(&mut self, operand: &Operand) -> String {
        match operand {
            Operand::Path(path) => self.path(path),
            Operand::Value(value) => self.value(value),
            Operand::Size(inner) => format!("size({})", self.operand(inner)),
        }
    }

    fn condition(&mut self, condition: &Condition) -> String {
        match condition {
            Condition::Compare(comparator, left, right) => format!(
                "{} {} {}",
                self.operand(left),
                comparator.symbol(),
                self.operand(right)
            ),
            Condition::Between(value, low, high) => format!(
                "{} BETWEEN {} AND {}",
                self.operand(value),
                self.operand(low),
                self.operand(high)
            ),
            Condition::In(value, candidates) => {
                let value = self.operand(value);
                let candidates: Vec<String> = candidates
                    .iter()
                    .map(|candidate| self.operand(candidate))
                    .collect();
                format!("{value} IN ({})", candidates.join(", "))
            }
            Condition::AttributeExists(path) => format!("attribute_exists({})", self.path(path)),
            Condition::AttributeNotExists(path) => {
                format!("attribute_not_exists({})", self.path(path))
            }
            Condition::AttributeType(path, kind) => {
                let path = self.path(path);
                let kind = self.value(&AttributeValue::S(kind.name().to_owned()));
                format!("attribute_type({path}, {kind})")
            }
            Condition::BeginsWith(left, right) => {
                format!(
                    "begins_with({}, {})",
                    self.operand(left),
                    self.operand(right)
                )
            }
            Condition::Contains(left, right) => {
                format!("contains({}, {})", self.operand(left), self.operand(right))
            }
            Condition::And(parts) | Condition::Or(parts) => {
                let joiner = if matches!(condition, Condition::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                let parts: Vec<String> = parts.iter().map(|part| self.condition(part)).collect();
                format!("({})", parts.join(joiner))
            }
            Condition::Not(inner) => format!("(NOT {})", self.condition(inner)),
        }
    }

    fn set_operand(&mut self, operand: &SetOperand) -> String {
        match operand {
            SetOperand::Value(value) => self.value(value),
            SetOperand::Path(path) => self.path(path),
            SetOperand::Plus(left, right) => {
                format!("{} + {}", self.set_operand(left), self.set_operand(right))
            }
            SetOperand::Minus(left, right) => {
                format!("{} - {}", self.set_operand(left), self.set_operand(right))
            }
            SetOperand::ListAppend(first, second) => format!(
                "list_append({}, {})",
                self.set_operand(first),
                self.set_operand(second)
            ),
            // Rendered as ADD and DELETE clauses by the UPDATE itself.
            SetOperand::SetAdd(set) | SetOperand::SetDelete(set) => self.value(set),
        }
    }

    fn names(&self) -> Option<Names> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<Item> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// The conjuncts of a condition's top-level AND.
fn conjuncts(condition: &Condition) -> Vec<Condition> {
    match condition {
        Condition::And(parts) => parts.iter().flat_map(conjuncts).collect(),
        other => vec![other.clone()],
    }
}

/// The name a conjunct compares with `=` to a value, with that value.
fn equality(condition: &Condition) -> Option<(&str, &AttributeValue)> {
    match condition {
        Condition::Compare(Comparator::Equal, Operand::Path(path), Operand::Value(value))
            if path.elements.len() == 1 =>
        {
            Some((path.top_level_name(), value))
        }
        _ => None,
    }
}

/// Splits a WHERE into the item's full key and the remaining conditions.
fn key_and_rest(
    condition: &Condition,
    key_schema: &KeySchema,
) -> StoreResult<(Item, Option<Condition>)> {
    let mut key = Item::new();
    let mut rest = Vec::new();
    for conjunct in conjuncts(condition) {
        match equality(&conjunct) {
            Some((name, value)) if key_schema.is_key_attribute(name) && !key.contains_key(name) => {
                key.insert(name.to_owned(), value.clone());
            }
            _ => rest.push(conjunct),
        }
    }
    if key.len() != key_schema.attributes().count() {
        return Err(StoreError::validation(
            "Where clause does not contain a mandatory equality on all key attributes",
        ));
    }
    let rest = match rest.len() {
        0 => None,
        1 => rest.pop(),
        _ => Some(Condition::And(rest)),
    };
    Ok((key, rest))
}

fn decode_token(token: &str) -> StoreResult<Item> {
    let invalid = || StoreError::validation("Invalid NextToken");
    let bytes = BASE64.decode(token).map_err(|_| invalid())?;
    let json: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    item_from_json(&json).map_err(|_| invalid())
}

fn encode_token(key: &Item) -> String {
    BASE64.encode(item_to_json(key).to_string())
}

/// A write statement as a transaction operation, with its kind.
fn write_operation(
    store: &Store,
    statement: &Statement,
    on_failure: Option<&String>,
) -> StoreResult<(&'static str, TransactOperation)> {
    let mut renderer = Renderer::default();
    match statement {
        Statement::Insert { table, item } => {
            let schema = store.table(table)?.key.clone();
            let name = renderer.name(&schema.partition_key.name);
            Ok((
                "put",
                TransactOperation {
                    table_name: Some(table.clone()),
                    item: Some(item.clone()),
                    condition_expression: Some(format!("attribute_not_exists({name})")),
                    expression_attribute_names: renderer.names(),
                    return_values_on_condition_check_failure: on_failure.cloned(),
                    ..TransactOperation::default()
                },
            ))
        }
        Statement::Update {
            table,
            set,
            remove,
            condition,
            returning: _,
        } => {
            let schema = store.table(table)?.key.clone();
            let (key, rest) = key_and_rest(condition, &schema)?;
            // `set_add` and `set_delete` are UpdateExpression's ADD and
            // DELETE of set members; every other assignment is a SET.
            let mut assignments = Vec::new();
            let mut additions = Vec::new();
            let mut deletions = Vec::new();
            for (path, value) in set {
                let target = renderer.path(path);
                let value_text = renderer.set_operand(value);
                match value {
                    SetOperand::SetAdd(_) => additions.push(format!("{target} {value_text}")),
                    SetOperand::SetDelete(_) => deletions.push(format!("{target} {value_text}")),
                    _ => assignments.push(format!("{target} = {value_text}")),
                }
            }
            let mut clauses = Vec::new();
            if !assignments.is_empty() {
                clauses.push(format!("SET {}", assignments.join(", ")));
            }
            if !remove.is_empty() {
                let paths: Vec<String> = remove.iter().map(|path| renderer.path(path)).collect();
                clauses.push(format!("REMOVE {}", paths.join(", ")));
            }
            if !additions.is_empty() {
                clauses.push(format!("ADD {}", additions.join(", ")));
            }
            if !deletions.is_empty() {
                clauses.push(format!("DELETE {}", deletions.join(", ")));
            }
            let exists = format!(
                "attribute_exists({})",
                renderer.name(&schema.partition_key.name)
            );
            let condition = match rest {
                Some(rest) => format!("{exists} AND {}", renderer.condition(&rest)),
                None => exists,
            };
            Ok((
                "update",
                TransactOperation {
                    table_name: Some(table.clone()),
                    key: Some(key),
                    update_expression: Some(clauses.join(" ")),
                    condition_expression: Some(condition),
                    expression_attribute_names: renderer.names(),
                    expression_attribute_values: renderer.values(),
                    return_values_on_condition_check_failure: on_failure.cloned(),
                    ..TransactOperation::default()
                },
            ))
        }
        Statement::Delete {
            table,
            condition,
            returning: _,
        } => {
            let schema = store.table(table)?.key.clone();
            let (key, rest) = key_and_rest(condition, &schema)?;
            let condition = rest.map(|rest| renderer.condition(&rest));
            Ok((
                "delete",
                TransactOperation {
                    table_name: Some(table.clone()),
                    key: Some(key),
                    condition_expression: condition,
                    expression_attribute_names: renderer.names(),
                    expression_attribute_values: renderer.values(),
                    return_values_on_condition_check_failure: on_failure.cloned(),
                    ..TransactOperation::default()
                },
            ))
        }
        Statement::Exists {
            table,
            index,
            condition,
        } => {
            if index.is_some() {
                return Err(StoreError::validation(
                    "Operations on indices are not supported in transactions",
                ));
            }
            let schema = store.table(table)?.key.clone();
            // The SELECT must name one item by its whole key and test it
            // further; the test becomes the check's condition, as
            // ConditionCheck has it (on a missing item, the condition sees no
            // attributes).
            let exists_error = || {
                StoreError::validation(
                    "EXISTS() must contain a single item read with additional condition",
                )
            };
            let condition = condition.as_ref().ok_or_else(exists_error)?;
            let (key, rest) = key_and_rest(condition, &schema).map_err(|_| exists_error())?;
            let rest = rest.ok_or_else(exists_error)?;
            Ok((
                "conditionCheck",
                TransactOperation {
                    table_name: Some(table.clone()),
                    key: Some(key),
                    condition_expression: Some(renderer.condition(&rest)),
                    expression_attribute_names: renderer.names(),
                    expression_attribute_values: renderer.values(),
                    return_values_on_condition_check_failure: on_failure.cloned(),
                    ..TransactOperation::default()
                },
            ))
        }
        Statement::Select { .. } => Err(StoreError::validation(
            "Transactions must contain only reads or only writes",
        )),
    }
}

/// What a write statement's `RETURNING` asks for.
fn returning_of(statement: &Statement) -> Option<Returning> {
    match statement {
        Statement::Update { returning, .. } | Statement::Delete { returning, .. } => *returning,
        _ => None,
    }
}

/// DynamoDB's refusal of `EXISTS` outside a transaction.
fn exists_outside_transaction() -> StoreError {
    StoreError::validation("EXISTS can only be used in ExecuteTransaction write requests.")
}

impl Store {
    /// Runs a write statement as its item operation; answers what its
    /// `RETURNING` asks for (`None` without one).
    fn run_write_statement(
        &self,
        statement: &Statement,
        on_failure: Option<&String>,
    ) -> StoreResult<Option<Item>> {
        if matches!(statement, Statement::Exists { .. }) {
            return Err(exists_outside_transaction());
        }
        let return_values =
            returning_of(statement).map(|returning| returning.return_values().to_owned());
        let (kind, operation) = write_operation(self, statement, on_failure)?;
        let returned = match kind {
            "put" => {
                self.put_item(PutItemInput {
                    table_name: operation.table_name,
                    item: operation.item,
                    condition_expression: operation.condition_expression,
                    expression_attribute_names: operation.expression_attribute_names,
                    return_values_on_condition_check_failure: operation
                        .return_values_on_condition_check_failure,
                    ..PutItemInput::default()
                })
                .map_err(|error| {
                    if error.kind == ErrorKind::ConditionalCheckFailed {
                        StoreError::new(
                            ErrorKind::DuplicateItem,
                            "Duplicate primary key exists in table",
                        )
                    } else {
                        error
                    }
                })?;
                None
            }
            "update" => {
                self.update_item(UpdateItemInput {
                    table_name: operation.table_name,
                    key: operation.key,
                    update_expression: operation.update_expression,
                    condition_expression: operation.condition_expression,
                    expression_attribute_names: operation.expression_attribute_names,
                    expression_attribute_values: operation.expression_attribute_values,
                    return_values_on_condition_check_failure: operation
                        .return_values_on_condition_check_failure,
                    return_values,
                    ..UpdateItemInput::default()
                })?
                .attributes
            }
            _ => {
                self.delete_item(DeleteItemInput {
                    table_name: operation.table_name,
                    key: operation.key,
                    condition_expression: operation.condition_expression,
                    expression_attribute_names: operation.expression_attribute_names,
                    expression_attribute_values: operation.expression_attribute_values,
                    return_values_on_condition_check_failure: operation
                        .return_values_on_condition_check_failure,
                    return_values,
                    ..DeleteItemInput::default()
                })?
                .attributes
            }
        };
        // Only a RETURNING asks for attributes; a DELETE of a missing item
        // has none to return.
        Ok(returned)
    }

    /// Runs a SELECT as a Query (when the WHERE pins the partition key) or a
    /// Scan with a filter.
    fn run_select(
        &self,
        statement: &Statement,
        consistent_read: Option<bool>,
        limit: Option<i64>,
        start: Option<Item>,
    ) -> StoreResult<ExecuteStatementOutput> {
        let Statement::Select {
            table,
            index,
            projection,
            condition,
            order,
        } = statement
        else {
            return Err(StoreError::internal("not a SELECT"));
        };
        let table_entry = self.table(table)?;
        let schema = match index {
            Some(name) => table_entry
                .index(name)
                .map(|(_, index)| index.key_schema.clone())
                .ok_or_else(|| {
                    StoreError::validation(format!(
                        "The table does not have the specified index: {name}"
                    ))
                })?,
            None => table_entry.key.clone(),
        };
        let mut renderer = Renderer::default();
        let projection_expression = projection.as_ref().map(|paths| {
            paths
                .iter()
                .map(|path| renderer.path(path))
                .collect::<Vec<_>>()
                .join(", ")
        });
        let parts = condition.as_ref().map(conjuncts).unwrap_or_default();
        let partition_position = parts.iter().position(|part| {
            equality(part).is_some_and(|(name, _)| name == schema.partition_key.name)
        });
        if let Some((path, _)) = order {
            let on_sort_key = schema
                .sort_key
                .as_ref()
                .is_some_and(|sort| path.elements.len() == 1 && path.top_level_name() == sort.name);
            if partition_position.is_none() || !on_sort_key {
                return Err(StoreError::validation(
                    "Must have WHERE clause in the statement when using ORDER BY clause; ORDER BY works only on the sort key of a query on one partition",
                ));
            }
        }
        let output = match partition_position {
            Some(position) => {
                let mut rest = parts.clone();
                let partition = rest.remove(position);
                let sort_position = schema.sort_key.as_ref().and_then(|sort| {
                    rest.iter()
                        .position(|part| is_sort_condition(part, &sort.name))
                });
                let mut key_parts = vec![partition];
                if let Some(position) = sort_position {
                    key_parts.push(rest.remove(position));
                }
                let key_condition = key_parts
                    .iter()
                    .map(|part| renderer.condition(part))
                    .collect::<Vec<_>>()
                    .join(" AND ");
                let filter = match rest.len() {
                    0 => None,
                    1 => Some(renderer.condition(&rest[0])),
                    _ => Some(renderer.condition(&Condition::And(rest))),
                };
                self.query(QueryInput {
                    table_name: Some(table.clone()),
                    index_name: index.clone(),
                    limit,
                    consistent_read,
                    exclusive_start_key: start,
                    projection_expression,
                    filter_expression: filter,
                    key_condition_expression: Some(key_condition),
                    scan_index_forward: order.as_ref().map(|(_, descending)| !descending),
                    expression_attribute_names: renderer.names(),
                    expression_attribute_values: renderer.values(),
                    ..QueryInput::default()
                })?
            }
            None => {
                let filter = condition
                    .as_ref()
                    .map(|condition| renderer.condition(condition));
                self.scan(ScanInput {
                    table_name: Some(table.clone()),
                    index_name: index.clone(),
                    limit,
                    consistent_read,
                    exclusive_start_key: start,
                    projection_expression,
                    filter_expression: filter,
                    expression_attribute_names: renderer.names(),
                    expression_attribute_values: renderer.values(),
                    ..ScanInput::default()
                })?
            }
        };
        let items = output.items.unwrap_or_default();
        Ok(ExecuteStatementOutput {
            items: match projection {
                Some(paths) => items
                    .into_iter()
                    .map(|item| select_shape(item, paths))
                    .collect(),
                None => items,
            },
            next_token: output.last_evaluated_key.as_ref().map(encode_token),
            last_evaluated_key: output.last_evaluated_key,
        })
    }

    /// `ExecuteStatement`
    pub fn execute_statement(
        &self,
        input: ExecuteStatementInput,
    ) -> StoreResult<ExecuteStatementOutput> {
        let mut violations = Violations::new();
        violations.required(input.statement.as_ref(), "statement");
        violations.at_least(input.limit, "limit", 1);
        violations.finish()?;
        let statement = parse(
            input.statement.as_deref().unwrap_or_default(),
            input.parameters.as_deref().unwrap_or_default(),
        )?;
        if matches!(statement, Statement::Select { .. }) {
            let start = input.next_token.as_deref().map(decode_token).transpose()?;
            return self.run_select(&statement, input.consistent_read, input.limit, start);
        }
        let returned = self.run_write_statement(
            &statement,
            input.return_values_on_condition_check_failure.as_ref(),
        )?;
        Ok(ExecuteStatementOutput {
            items: returned.into_iter().collect(),
            ..ExecuteStatementOutput::default()
        })
    }

    /// `BatchExecuteStatement`: each statement on its own; reads must name a
    /// whole key.
    pub fn batch_execute_statement(
        &self,
        input: BatchExecuteStatementInput,
    ) -> StoreResult<BatchExecuteStatementOutput> {
        let mut violations = Violations::new();
        violations.required(input.statements.as_ref(), "statements");
        if let Some(statements) = &input.statements {
            violations.length_between(Some(statements.len()), "'[...]'", "statements", 1, 25);
        }
        violations.finish()?;
        let mut responses = Vec::new();
        for request in input.statements.unwrap_or_default() {
            let outcome = parse(
                request.statement.as_deref().unwrap_or_default(),
                request.parameters.as_deref().unwrap_or_default(),
            )
            .and_then(|statement| {
                let table = match &statement {
                    Statement::Select { table, .. }
                    | Statement::Insert { table, .. }
                    | Statement::Update { table, .. }
                    | Statement::Delete { table, .. }
                    | Statement::Exists { table, .. } => table.clone(),
                };
                let item = match &statement {
                    Statement::Select {
                        table,
                        index: None,
                        projection,
                        condition: Some(condition),
                        order: None,
                    } => {
                        let schema = self.table(table)?.key.clone();
                        let (key, rest) = key_and_rest(condition, &schema)?;
                        if rest.is_some() {
                            return Err(StoreError::validation(
                                "Batch reads may only name the key in their WHERE clause",
                            ));
                        }
                        let mut renderer = Renderer::default();
                        let projection_expression = projection.as_ref().map(|paths| {
                            paths
                                .iter()
                                .map(|path| renderer.path(path))
                                .collect::<Vec<_>>()
                                .join(", ")
                        });
                        self.get_item(GetItemInput {
                            table_name: Some(table.clone()),
                            key: Some(key),
                            projection_expression,
                            expression_attribute_names: renderer.names(),
                            consistent_read: request.consistent_read,
                            ..GetItemInput::default()
                        })?
                        .item
                        .map(|item| match projection {
                            Some(paths) => select_shape(item, paths),
                            None => item,
                        })
                    }
                    Statement::Select { .. } => {
                        return Err(StoreError::validation(
                            "Batch reads must specify the full primary key of one item",
                        ))
                    }
                    _ => self.run_write_statement(
                        &statement,
                        request.return_values_on_condition_check_failure.as_ref(),
                    )?,
                };
                Ok((table, item))
            });
            responses.push(match outcome {
                Ok((table, item)) => BatchStatementResponse {
                    table_name: Some(table),
                    item,
                    error: None,
                },
                Err(error) => BatchStatementResponse {
                    table_name: None,
                    item: None,
                    error: Some(BatchStatementError {
                        code: match error.kind {
                            ErrorKind::ConditionalCheckFailed => "ConditionalCheckFailed",
                            ErrorKind::DuplicateItem => "DuplicateItem",
                            ErrorKind::ResourceNotFound => "ResourceNotFound",
                            ErrorKind::Validation => "ValidationError",
                            _ => "InternalServerError",
                        }
                        .to_owned(),
                        item: error
                            .details
                            .as_ref()
                            .and_then(|details| details.item.clone()),
                        message: error.message,
                    }),
                },
            });
        }
        Ok(BatchExecuteStatementOutput { responses })
    }

    /// `ExecuteTransaction`: all reads (as TransactGetItems) or all writes (as
    /// TransactWriteItems, with its token and cancellation reasons).
    pub fn execute_transaction(
        &self,
        input: ExecuteTransactionInput,
    ) -> StoreResult<ExecuteTransactionOutput> {
        let mut violations = Violations::new();
        violations.required(input.transact_statements.as_ref(), "transactStatements");
        if let Some(statements) = &input.transact_statements {
            violations.length_between(
                Some(statements.len()),
                "'[...]'",
                "transactStatements",
                1,
                100,
            );
        }
        violations.finish()?;
        let mut statements = Vec::new();
        for request in input.transact_statements.as_deref().unwrap_or_default() {
            statements.push((
                parse(
                    request.statement.as_deref().unwrap_or_default(),
                    request.parameters.as_deref().unwrap_or_default(),
                )?,
                request.return_values_on_condition_check_failure.clone(),
            ));
        }
        let reads = statements
            .iter()
            .filter(|(statement, _)| matches!(statement, Statement::Select { .. }))
            .count();
        if reads == statements.len() {
            let mut gets = Vec::new();
            let mut projections = Vec::new();
            for (statement, _) in &statements {
                let Statement::Select {
                    table,
                    projection,
                    condition: Some(condition),
                    index: None,
                    order: None,
                } = statement
                else {
                    return Err(StoreError::validation(
                        "Transaction reads must specify the full primary key of one item",
                    ));
                };
                let schema = self.table(table)?.key.clone();
                let (key, _) = key_and_rest(condition, &schema)?;
                let mut renderer = Renderer::default();
                let projection_expression = projection.as_ref().map(|paths| {
                    paths
                        .iter()
                        .map(|path| renderer.path(path))
                        .collect::<Vec<_>>()
                        .join(", ")
                });
                projections.push(projection.clone());
                gets.push(TransactGetItem {
                    get: Some(TransactGet {
                        table_name: Some(table.clone()),
                        key: Some(key),
                        projection_expression,
                        expression_attribute_names: renderer.names(),
                    }),
                });
            }
            let output = self.transact_get_items(TransactGetItemsInput {
                transact_items: Some(gets),
                return_consumed_capacity: None,
            })?;
            let responses = output
                .responses
                .into_iter()
                .zip(projections)
                .map(|(mut response, projection)| {
                    if let Some(paths) = projection {
                        response.item = response.item.map(|item| select_shape(item, &paths));
                    }
                    response
                })
                .collect();
            return Ok(ExecuteTransactionOutput {
                responses: Some(responses),
            });
        }
        if reads > 0 {
            return Err(StoreError::validation(
                "Transactions must contain only reads or only writes",
            ));
        }
        let mut items = Vec::new();
        for (position, (statement, on_failure)) in statements.iter().enumerate() {
            if returning_of(statement).is_some() {
                return Err(StoreError::validation(format!(
                    "Validation failed in TransactStatements[{position}]: RETURNING is not supported in transactions"
                )));
            }
            let (kind, operation) =
                write_operation(self, statement, on_failure.as_ref()).map_err(|mut error| {
                    // DynamoDB names the statement an EXISTS check failed
                    // validation in.
                    if matches!(statement, Statement::Exists { .. })
                        && error.kind == ErrorKind::Validation
                    {
                        error.message = format!(
                            "Validation failed in TransactStatements[{position}]: {}",
                            error.message
                        );
                    }
                    error
                })?;
            let mut item = TransactWriteItem::default();
            match kind {
                "put" => item.put = Some(operation),
                "update" => item.update = Some(operation),
                "conditionCheck" => item.condition_check = Some(operation),
                _ => item.delete = Some(operation),
            }
            items.push(item);
        }
        self.transact_write_items(TransactWriteItemsInput {
            transact_items: Some(items),
            client_request_token: input.client_request_token,
            return_consumed_capacity: None,
            return_item_collection_metrics: None,
        })?;
        Ok(ExecuteTransactionOutput { responses: None })
    }
}

/// True if a conjunct is a condition Query can apply to the sort key.
fn is_sort_condition(condition: &Condition, sort_key: &str) -> bool {
    let on_sort = |operand: &Operand| matches!(operand, Operand::Path(path) if path.elements.len() == 1 && path.top_level_name() == sort_key);
    match condition {
        Condition::Compare(comparator, left, Operand::Value(_)) => {
            *comparator != Comparator::NotEqual && on_sort(left)
        }
        Condition::Between(value, Operand::Value(_), Operand::Value(_)) => on_sort(value),
        Condition::BeginsWith(value, Operand::Value(_)) => on_sort(value),
        _ => false,
    }
}
