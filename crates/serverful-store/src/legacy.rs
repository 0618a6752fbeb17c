//! DynamoDB's legacy (pre-expression) request parameters — `Expected`,
//! `QueryFilter`/`ScanFilter`, `KeyConditions`, `AttributesToGet` and
//! `AttributeUpdates` — validated with DynamoDB's messages and turned into the
//! same trees the expression parsers build, so one evaluator serves both.
//!
//! The edge deserializes the JSON into the plain structs below; this module
//! knows the rules, not the wire.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{StoreError, StoreResult};
use crate::eval::compare_values;
use crate::expression::{
    Comparator, Condition, KeyCondition, Operand, Path, Projection, SortKeyCondition,
};
use crate::key::{KeySchema, ScalarType};
use crate::value::{AttributeType, AttributeValue, Item, Number};

/// `ComparisonOperator` of the legacy condition parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComparisonOperator {
    /// `EQ`
    Eq,
    /// `NE`
    Ne,
    /// `LE`
    Le,
    /// `LT`
    Lt,
    /// `GE`
    Ge,
    /// `GT`
    Gt,
    /// `NOT_NULL`: the attribute exists.
    NotNull,
    /// `NULL`: the attribute does not exist.
    Null,
    /// `CONTAINS`
    Contains,
    /// `NOT_CONTAINS`
    NotContains,
    /// `BEGINS_WITH`
    BeginsWith,
    /// `IN`
    In,
    /// `BETWEEN`
    Between,
}

impl ComparisonOperator {
    /// The wire name, e.g. `NOT_NULL`.
    pub fn name(self) -> &'static str {
        match self {
            ComparisonOperator::Eq => "EQ",
            ComparisonOperator::Ne => "NE",
            ComparisonOperator::Le => "LE",
            ComparisonOperator::Lt => "LT",
            ComparisonOperator::Ge => "GE",
            ComparisonOperator::Gt => "GT",
            ComparisonOperator::NotNull => "NOT_NULL",
            ComparisonOperator::Null => "NULL",
            ComparisonOperator::Contains => "CONTAINS",
            ComparisonOperator::NotContains => "NOT_CONTAINS",
            ComparisonOperator::BeginsWith => "BEGINS_WITH",
            ComparisonOperator::In => "IN",
            ComparisonOperator::Between => "BETWEEN",
        }
    }

    /// Parses a wire name; `None` for anything else (the edge reports it as an
    /// enum constraint violation).
    pub fn from_name(name: &str) -> Option<ComparisonOperator> {
        const ALL: [ComparisonOperator; 13] = [
            ComparisonOperator::Eq,
            ComparisonOperator::Ne,
            ComparisonOperator::Le,
            ComparisonOperator::Lt,
            ComparisonOperator::Ge,
            ComparisonOperator::Gt,
            ComparisonOperator::NotNull,
            ComparisonOperator::Null,
            ComparisonOperator::Contains,
            ComparisonOperator::NotContains,
            ComparisonOperator::BeginsWith,
            ComparisonOperator::In,
            ComparisonOperator::Between,
        ];
        ALL.into_iter().find(|operator| operator.name() == name)
    }

    fn argument_count_ok(self, count: usize) -> bool {
        match self {
            ComparisonOperator::NotNull | ComparisonOperator::Null => count == 0,
            ComparisonOperator::In => count >= 1,
            ComparisonOperator::Between => count == 2,
            _ => count == 1,
        }
    }

    fn allows(self, attribute_type: AttributeType) -> bool {
        use AttributeType::{B, BS, N, NS, S, SS};
        match self {
            ComparisonOperator::Eq | ComparisonOperator::Ne => {
                matches!(attribute_type, S | N | B | SS | NS | BS)
            }
            ComparisonOperator::BeginsWith => matches!(attribute_type, S | B),
            ComparisonOperator::NotNull | ComparisonOperator::Null => true,
            _ => matches!(attribute_type, S | N | B),
        }
    }
}

/// `ConditionalOperator`: how several legacy conditions combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConditionalOperator {
    /// All must hold (the default).
    #[default]
    And,
    /// One must hold.
    Or,
}

/// One entry of `Expected`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExpectedAttribute {
    /// `Value`
    pub value: Option<AttributeValue>,
    /// `Exists`
    pub exists: Option<bool>,
    /// `ComparisonOperator`
    pub comparison_operator: Option<ComparisonOperator>,
    /// `AttributeValueList`
    pub attribute_value_list: Option<Vec<AttributeValue>>,
}

/// One entry of `QueryFilter`, `ScanFilter` or `KeyConditions`.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterCondition {
    /// `ComparisonOperator`
    pub comparison_operator: ComparisonOperator,
    /// `AttributeValueList` (empty when absent)
    pub attribute_value_list: Vec<AttributeValue>,
}

fn invalid(message: impl AsRef<str>) -> StoreError {
    StoreError::validation(format!(
        "One or more parameter values were invalid: {}",
        message.as_ref()
    ))
}

/// Checks the argument count, uniform types, allowed types and BETWEEN order.
fn check_arguments(operator: ComparisonOperator, values: &[AttributeValue]) -> StoreResult<()> {
    if !operator.argument_count_ok(values.len()) {
        return Err(invalid(format!(
            "Invalid number of argument(s) for the {} ComparisonOperator",
            operator.name()
        )));
    }
    if let Some(first) = values.first() {
        if values
            .iter()
            .any(|value| value.attribute_type() != first.attribute_type())
        {
            return Err(invalid(
                "AttributeValues inside AttributeValueList must be of same type",
            ));
        }
    }
    if let Some(value) = values
        .iter()
        .find(|value| !operator.allows(value.attribute_type()))
    {
        return Err(invalid(format!(
            "ComparisonOperator {} is not valid for {} AttributeValue type",
            operator.name(),
            value.attribute_type()
        )));
    }
    if operator == ComparisonOperator::Between
        && compare_values(&values[0], &values[1]) == Some(std::cmp::Ordering::Greater)
    {
        return Err(StoreError::validation(
            "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound",
        ));
    }
    Ok(())
}

/// The condition one legacy comparison stands for.
fn comparison(
    attribute: &str,
    operator: ComparisonOperator,
    values: Vec<AttributeValue>,
) -> Condition {
    let path = Path::attribute(attribute);
    let subject = || Operand::Path(path.clone());
    let mut values = values.into_iter().map(Operand::Value);
    let mut next = || {
        values
            .next()
            .unwrap_or(Operand::Value(AttributeValue::Null))
    };
    let compare = |comparator, value| Condition::Compare(comparator, subject(), value);
    match operator {
        ComparisonOperator::Eq => compare(Comparator::Equal, next()),
        ComparisonOperator::Ne => compare(Comparator::NotEqual, next()),
        ComparisonOperator::Le => compare(Comparator::LessOrEqual, next()),
        ComparisonOperator::Lt => compare(Comparator::Less, next()),
        ComparisonOperator::Ge => compare(Comparator::GreaterOrEqual, next()),
        ComparisonOperator::Gt => compare(Comparator::Greater, next()),
        ComparisonOperator::NotNull => Condition::AttributeExists(path.clone()),
        ComparisonOperator::Null => Condition::AttributeNotExists(path.clone()),
        ComparisonOperator::Contains => Condition::Contains(subject(), next()),
        ComparisonOperator::NotContains => {
            Condition::Not(Box::new(Condition::Contains(subject(), next())))
        }
        ComparisonOperator::BeginsWith => Condition::BeginsWith(subject(), next()),
        ComparisonOperator::In => Condition::In(subject(), values.collect()),
        ComparisonOperator::Between => {
            let low = next();
            let high = next();
            Condition::Between(subject(), low, high)
        }
    }
}

fn combine(mut conditions: Vec<Condition>, operator: ConditionalOperator) -> Option<Condition> {
    match conditions.len() {
        0 => None,
        1 => conditions.pop(),
        _ => Some(match operator {
            ConditionalOperator::And => Condition::And(conditions),
            ConditionalOperator::Or => Condition::Or(conditions),
        }),
    }
}

/// Validates `Expected` and turns it into a condition (`None` when empty).
pub fn expected_condition(
    expected: &BTreeMap<String, ExpectedAttribute>,
    operator: ConditionalOperator,
) -> StoreResult<Option<Condition>> {
    let mut conditions = Vec::new();
    for (attribute, entry) in expected {
        if entry.attribute_value_list.is_some() && entry.value.is_some() {
            return Err(invalid(format!(
                "Value and AttributeValueList cannot be used together for Attribute: {attribute}"
            )));
        }
        if let Some(comparison_operator) = entry.comparison_operator {
            if entry.exists.is_some() {
                return Err(invalid(format!(
                    "Exists and ComparisonOperator cannot be used together for Attribute: {attribute}"
                )));
            }
            let values: Vec<AttributeValue> = match (&entry.attribute_value_list, &entry.value) {
                (Some(list), _) => list.clone(),
                (None, Some(value)) => vec![value.clone()],
                (None, None) => {
                    if !matches!(
                        comparison_operator,
                        ComparisonOperator::Null | ComparisonOperator::NotNull
                    ) {
                        return Err(invalid(format!(
                            "Value or AttributeValueList must be used with ComparisonOperator: {} for Attribute: {attribute}",
                            comparison_operator.name()
                        )));
                    }
                    Vec::new()
                }
            };
            check_arguments(comparison_operator, &values)?;
            conditions.push(comparison(attribute, comparison_operator, values));
            continue;
        }
        if entry.attribute_value_list.is_some() {
            return Err(invalid(format!(
                "AttributeValueList can only be used with a ComparisonOperator for Attribute: {attribute}"
            )));
        }
        match (entry.exists, &entry.value) {
            (Some(false), Some(_)) => {
                return Err(invalid(format!(
                    "Value cannot be used when Exists is false for Attribute: {attribute}"
                )))
            }
            (Some(false), None) => {
                conditions.push(Condition::AttributeNotExists(Path::attribute(attribute)))
            }
            (exists, None) => {
                let shown = if exists.is_some() { "true" } else { "null" };
                return Err(invalid(format!(
                    "Value must be provided when Exists is {shown} for Attribute: {attribute}"
                )));
            }
            (_, Some(value)) => conditions.push(comparison(
                attribute,
                ComparisonOperator::Eq,
                vec![value.clone()],
            )),
        }
    }
    Ok(combine(conditions, operator))
}

/// Validates a `QueryFilter` or `ScanFilter` and turns it into a condition
/// (`None` when empty).
pub fn filter_condition(
    filter: &BTreeMap<String, FilterCondition>,
    operator: ConditionalOperator,
) -> StoreResult<Option<Condition>> {
    let mut conditions = Vec::new();
    for (attribute, entry) in filter {
        check_arguments(entry.comparison_operator, &entry.attribute_value_list)?;
        conditions.push(comparison(
            attribute,
            entry.comparison_operator,
            entry.attribute_value_list.clone(),
        ));
    }
    Ok(combine(conditions, operator))
}

/// Checks what `KeyConditions` say by themselves: each operator's values, and that
/// there are one or two conditions.
pub fn check_key_conditions(conditions: &BTreeMap<String, FilterCondition>) -> StoreResult<()> {
    for entry in conditions.values() {
        check_arguments(entry.comparison_operator, &entry.attribute_value_list)?;
    }
    if conditions.is_empty() || conditions.len() > 2 {
        return Err(StoreError::validation(
            "Conditions can be of length 1 or 2 only",
        ));
    }
    Ok(())
}

/// Validates `KeyConditions` against the key schema being queried.
pub fn key_conditions(
    conditions: &BTreeMap<String, FilterCondition>,
    schema: &KeySchema,
) -> StoreResult<KeyCondition> {
    check_key_conditions(conditions)?;
    let mut sort_key = None;
    let mut partition_key_value = None;
    for (index, attribute) in schema.attributes().enumerate() {
        let is_partition = index == 0;
        if is_partition && schema.sort_key.is_none() && conditions.len() > 1 {
            return Err(StoreError::validation("Query key condition not supported"));
        }
        let Some(entry) = conditions.get(&attribute.name) else {
            if is_partition || conditions.len() > 1 {
                return Err(StoreError::validation(format!(
                    "Query condition missed key schema element: {}",
                    attribute.name
                )));
            }
            continue;
        };
        let operator = entry.comparison_operator;
        if matches!(
            operator,
            ComparisonOperator::Null
                | ComparisonOperator::NotNull
                | ComparisonOperator::Ne
                | ComparisonOperator::Contains
                | ComparisonOperator::NotContains
                | ComparisonOperator::In
        ) {
            return Err(StoreError::validation(
                "Attempted conditional constraint is not an indexable operation",
            ));
        }
        if entry
            .attribute_value_list
            .iter()
            .any(|value| ScalarType::of(value) != Some(attribute.scalar_type))
        {
            return Err(invalid(
                "Condition parameter type does not match schema type",
            ));
        }
        let values = &entry.attribute_value_list;
        let first = values.first().cloned().unwrap_or(AttributeValue::Null);
        if is_partition {
            if operator != ComparisonOperator::Eq {
                return Err(StoreError::validation("Query key condition not supported"));
            }
            partition_key_value = Some(first);
            continue;
        }
        let condition = match operator {
            ComparisonOperator::Eq => SortKeyCondition::Compare(Comparator::Equal, first),
            ComparisonOperator::Lt => SortKeyCondition::Compare(Comparator::Less, first),
            ComparisonOperator::Le => SortKeyCondition::Compare(Comparator::LessOrEqual, first),
            ComparisonOperator::Gt => SortKeyCondition::Compare(Comparator::Greater, first),
            ComparisonOperator::Ge => SortKeyCondition::Compare(Comparator::GreaterOrEqual, first),
            ComparisonOperator::BeginsWith => SortKeyCondition::BeginsWith(first),
            _ => SortKeyCondition::Between(
                first,
                values.get(1).cloned().unwrap_or(AttributeValue::Null),
            ),
        };
        sort_key = Some((attribute.name.clone(), condition));
    }
    let Some(partition_key_value) = partition_key_value else {
        return Err(StoreError::validation(format!(
            "Query condition missed key schema element: {}",
            schema.partition_key.name
        )));
    };
    Ok(KeyCondition {
        partition_key_name: schema.partition_key.name.clone(),
        partition_key_value,
        sort_key,
    })
}

/// Validates `AttributesToGet` and turns it into a projection.
pub fn attributes_to_get(names: &[String]) -> StoreResult<Projection> {
    let mut seen = BTreeSet::new();
    for name in names {
        if !seen.insert(name) {
            return Err(invalid(format!(
                "Duplicate value in attribute name: {name}"
            )));
        }
    }
    Ok(Projection {
        paths: names.iter().map(Path::attribute).collect(),
    })
}

/// `Action` of an `AttributeUpdates` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpdateActionKind {
    /// Replace the attribute (the default).
    #[default]
    Put,
    /// Add to a number, set or list, creating it if missing.
    Add,
    /// Remove the attribute, or members of a set.
    Delete,
}

/// One entry of `AttributeUpdates`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AttributeUpdate {
    /// `Action`
    pub action: UpdateActionKind,
    /// `Value`
    pub value: Option<AttributeValue>,
}

/// Validates `AttributeUpdates` as DynamoDB does before touching any item.
pub fn check_attribute_updates(
    updates: &BTreeMap<String, AttributeUpdate>,
    schema: &KeySchema,
) -> StoreResult<()> {
    check_attribute_update_actions(updates)?;
    if let Some(name) = schema
        .attributes()
        .map(|attribute| &attribute.name)
        .find(|name| updates.contains_key(*name))
    {
        return Err(invalid(format!(
            "Cannot update attribute {name}. This attribute is part of the key"
        )));
    }
    Ok(())
}

/// Checks each `AttributeUpdates` action against its value, which needs no table.
pub fn check_attribute_update_actions(
    updates: &BTreeMap<String, AttributeUpdate>,
) -> StoreResult<()> {
    for update in updates.values() {
        match (&update.value, update.action) {
            (None, UpdateActionKind::Delete) => {}
            (None, _) => {
                return Err(invalid(
                    "Only DELETE action is allowed when no attribute value is specified",
                ))
            }
            (Some(value), UpdateActionKind::Delete)
                if !matches!(
                    value,
                    AttributeValue::SS(_) | AttributeValue::NS(_) | AttributeValue::BS(_)
                ) =>
            {
                return Err(invalid(format!(
                    "DELETE action with value is not supported for the type {}",
                    value.attribute_type()
                )))
            }
            (Some(value), UpdateActionKind::Add)
                if !matches!(
                    value,
                    AttributeValue::N(_)
                        | AttributeValue::L(_)
                        | AttributeValue::SS(_)
                        | AttributeValue::NS(_)
                        | AttributeValue::BS(_)
                ) =>
            {
                return Err(invalid(format!(
                    "ADD action is not supported for the type {}",
                    value.attribute_type()
                )))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Applies checked `AttributeUpdates` to an item (empty if new).
pub fn apply_attribute_updates(
    updates: &BTreeMap<String, AttributeUpdate>,
    item: &Item,
) -> StoreResult<Item> {
    let mismatch = || StoreError::validation("Type mismatch for attribute to update");
    let mut result = item.clone();
    for (name, update) in updates {
        let existing = result.get(name);
        let new_value = match (update.action, &update.value, existing) {
            (UpdateActionKind::Put, Some(value), _) => Some(value.clone()),
            (UpdateActionKind::Delete, None, _) => None,
            (UpdateActionKind::Add, Some(value), None) => Some(value.clone()),
            (
                UpdateActionKind::Add,
                Some(AttributeValue::N(add)),
                Some(AttributeValue::N(current)),
            ) => Some(AttributeValue::N(current.add(add)?)),
            (
                UpdateActionKind::Add,
                Some(AttributeValue::L(add)),
                Some(AttributeValue::L(current)),
            ) => Some(AttributeValue::L(
                current.iter().chain(add).cloned().collect(),
            )),
            (
                UpdateActionKind::Add,
                Some(AttributeValue::SS(add)),
                Some(AttributeValue::SS(current)),
            ) => Some(AttributeValue::string_set(
                current.iter().chain(add).cloned(),
            )),
            (
                UpdateActionKind::Add,
                Some(AttributeValue::NS(add)),
                Some(AttributeValue::NS(current)),
            ) => Some(AttributeValue::number_set(
                current.iter().chain(add).cloned(),
            )),
            (
                UpdateActionKind::Add,
                Some(AttributeValue::BS(add)),
                Some(AttributeValue::BS(current)),
            ) => Some(AttributeValue::binary_set(
                current.iter().chain(add).cloned(),
            )),
            (UpdateActionKind::Delete, Some(_), None) => continue,
            (UpdateActionKind::Delete, Some(remove), Some(current)) => {
                set_difference(current, remove)?
            }
            _ => return Err(mismatch()),
        };
        match new_value {
            Some(value) => {
                result.insert(name.clone(), value);
            }
            None => {
                result.remove(name);
            }
        }
    }
    Ok(result)
}

/// `current` without the members of `remove`; `None` once empty.
fn set_difference(
    current: &AttributeValue,
    remove: &AttributeValue,
) -> StoreResult<Option<AttributeValue>> {
    let remaining = match (current, remove) {
        (AttributeValue::SS(a), AttributeValue::SS(b)) => {
            let kept: Vec<String> = a
                .iter()
                .filter(|member| !b.contains(member))
                .cloned()
                .collect();
            (!kept.is_empty()).then_some(AttributeValue::SS(kept))
        }
        (AttributeValue::NS(a), AttributeValue::NS(b)) => {
            let kept: Vec<Number> = a
                .iter()
                .filter(|member| !b.contains(member))
                .cloned()
                .collect();
            (!kept.is_empty()).then_some(AttributeValue::NS(kept))
        }
        (AttributeValue::BS(a), AttributeValue::BS(b)) => {
            let kept: Vec<Vec<u8>> = a
                .iter()
                .filter(|member| !b.contains(member))
                .cloned()
                .collect();
            (!kept.is_empty()).then_some(AttributeValue::BS(kept))
        }
        _ => {
            return Err(StoreError::validation(
                "Type mismatch for attribute to update",
            ))
        }
    };
    Ok(remaining)
}

#[cfg(test)]
mod tests;
