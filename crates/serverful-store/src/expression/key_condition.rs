//! Narrows a parsed KeyConditionExpression to what Query can use: equality on
//! the partition key and at most one condition on the sort key.

use super::ast::{
    Comparator, Condition, KeyCondition, Operand, Path, PathElement, SortKeyCondition,
};
use crate::error::{StoreError, StoreResult};
use crate::key::{KeySchema, ScalarType};
use crate::value::AttributeValue;

/// Turns a piece's values (and whether the key came first) into its condition.
type BuildPiece = Box<dyn Fn(Vec<AttributeValue>, bool) -> SortKeyCondition>;

/// One `key <op> value` piece of the expression.
#[derive(Debug)]
struct KeyPiece {
    name: String,
    condition: SortKeyCondition,
}

/// A KeyConditionExpression checked for its shape (operators, operands, one condition per
/// key, at most two) but not yet against a key schema: DynamoDB checks the shape before it
/// looks the table up.
#[derive(Debug)]
pub struct KeyShape {
    pieces: Vec<KeyPiece>,
}

pub(crate) fn shape(condition: Condition) -> StoreResult<KeyShape> {
    let mut pieces = Vec::new();
    collect(condition, &mut pieces)?;
    if pieces.len() > 2 {
        return Err(StoreError::validation(
            "Conditions can be of length 1 or 2 only",
        ));
    }
    Ok(KeyShape { pieces })
}

impl KeyShape {
    /// Narrows the condition to the key schema of the table or index being queried.
    pub fn restrict(self, schema: &KeySchema) -> StoreResult<KeyCondition> {
        let mut pieces = self.pieces;
        restrict(&mut pieces, schema)
    }
}

fn restrict(pieces: &mut Vec<KeyPiece>, schema: &KeySchema) -> StoreResult<KeyCondition> {
    let partition = &schema.partition_key;
    if schema.sort_key.is_none() && pieces.len() > 1 {
        return Err(StoreError::validation("Query key condition not supported"));
    }
    let missed = |name: &str| {
        StoreError::validation(format!("Query condition missed key schema element: {name}"))
    };
    let Some(partition_index) = pieces.iter().position(|piece| piece.name == partition.name) else {
        return Err(missed(&partition.name));
    };
    let partition_piece = pieces.remove(partition_index);
    check_types(&partition_piece.condition, partition.scalar_type)?;
    let SortKeyCondition::Compare(Comparator::Equal, partition_value) = partition_piece.condition
    else {
        return Err(StoreError::validation("Query key condition not supported"));
    };
    let sort_key = match (pieces.pop(), &schema.sort_key) {
        (None, _) => None,
        (Some(piece), Some(sort)) if piece.name == sort.name => {
            check_types(&piece.condition, sort.scalar_type)?;
            Some((piece.name, piece.condition))
        }
        (Some(_), Some(sort)) => return Err(missed(&sort.name)),
        (Some(_), None) => return Err(StoreError::validation("Query key condition not supported")),
    };
    Ok(KeyCondition {
        partition_key_name: partition.name.clone(),
        partition_key_value: partition_value,
        sort_key,
    })
}

fn check_types(condition: &SortKeyCondition, scalar_type: ScalarType) -> StoreResult<()> {
    let values: Vec<&AttributeValue> = match condition {
        SortKeyCondition::Compare(_, value) | SortKeyCondition::BeginsWith(value) => vec![value],
        SortKeyCondition::Between(low, high) => vec![low, high],
    };
    if values
        .iter()
        .any(|value| ScalarType::of(value) != Some(scalar_type))
    {
        return Err(StoreError::validation(
            "One or more parameter values were invalid: Condition parameter type does not match schema type",
        ));
    }
    if let (SortKeyCondition::BeginsWith(_), ScalarType::N) = (condition, scalar_type) {
        return Err(StoreError::validation(
            "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
        ));
    }
    Ok(())
}

fn collect(condition: Condition, pieces: &mut Vec<KeyPiece>) -> StoreResult<()> {
    let invalid_operator = |name: &str| {
        StoreError::validation(format!(
            "Invalid operator used in KeyConditionExpression: {name}"
        ))
    };
    let (operands, build): (Vec<Operand>, BuildPiece) = match condition {
        Condition::And(conditions) => {
            for condition in conditions {
                collect(condition, pieces)?;
            }
            return Ok(());
        }
        Condition::Or(..) => return Err(invalid_operator("OR")),
        Condition::Not(..) => return Err(invalid_operator("NOT")),
        Condition::In(..) => return Err(invalid_operator("IN")),
        Condition::Compare(Comparator::NotEqual, ..) => return Err(invalid_operator("<>")),
        Condition::AttributeExists(_) => return Err(invalid_operator("attribute_exists")),
        Condition::AttributeNotExists(_) => return Err(invalid_operator("attribute_not_exists")),
        Condition::AttributeType(..) => return Err(invalid_operator("attribute_type")),
        Condition::Contains(..) => return Err(invalid_operator("contains")),
        Condition::Compare(comparator, left, right) => (
            vec![left, right],
            Box::new(move |values, key_first| {
                let operator = if key_first {
                    comparator
                } else {
                    comparator.flipped()
                };
                SortKeyCondition::Compare(
                    operator,
                    values.into_iter().next().unwrap_or(AttributeValue::Null),
                )
            }),
        ),
        Condition::Between(operand, low, high) => {
            if !matches!(operand, Operand::Path(_)) {
                return Err(StoreError::validation(
                        "Invalid condition in KeyConditionExpression: BETWEEN operator must have the key attribute as its first operand",
                    ));
            }
            (
                vec![operand, low, high],
                Box::new(|mut values, _| {
                    let high = values.pop().unwrap_or(AttributeValue::Null);
                    let low = values.pop().unwrap_or(AttributeValue::Null);
                    SortKeyCondition::Between(low, high)
                }),
            )
        }
        Condition::BeginsWith(operand, prefix) => {
            if !matches!(operand, Operand::Path(_)) {
                return Err(StoreError::validation(
                        "Invalid condition in KeyConditionExpression: begins_with operator must have the key attribute as its first operand",
                    ));
            }
            (
                vec![operand, prefix],
                Box::new(|values, _| {
                    SortKeyCondition::BeginsWith(
                        values.into_iter().next().unwrap_or(AttributeValue::Null),
                    )
                }),
            )
        }
    };
    let mut key: Option<Path> = None;
    let mut key_first = true;
    let mut values = Vec::new();
    for (position, operand) in operands.into_iter().enumerate() {
        match operand {
            Operand::Size(_) => {
                return Err(StoreError::validation(
                    "KeyConditionExpressions cannot contain nested operations",
                ))
            }
            Operand::Path(path) => {
                if key.is_some() {
                    return Err(StoreError::validation(
                        "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition",
                    ));
                }
                if path.elements.len() > 1 {
                    return Err(StoreError::validation(
                        "KeyConditionExpressions cannot have conditions on nested attributes",
                    ));
                }
                key_first = position == 0;
                key = Some(path);
            }
            Operand::Value(value) => values.push(value),
        }
    }
    let Some(key) = key else {
        return Err(StoreError::validation(
            "Invalid condition in KeyConditionExpression: No key attribute specified",
        ));
    };
    let name = match key.elements.into_iter().next() {
        Some(PathElement::Name(name)) => name,
        _ => String::new(),
    };
    if pieces.iter().any(|piece| piece.name == name) {
        return Err(StoreError::validation(
            "KeyConditionExpressions must only contain one condition per key",
        ));
    }
    pieces.push(KeyPiece {
        name,
        condition: build(values, key_first),
    });
    Ok(())
}
