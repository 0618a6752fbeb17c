//! Evaluates parsed expressions against items: conditions and filters with
//! DynamoDB's comparison rules, projections, and update expressions (producing
//! the new item or DynamoDB's runtime error).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::error::{StoreError, StoreResult};
use crate::expression::{
    Comparator, Condition, Operand, Path, PathElement, Projection, SetValue, SortKeyCondition,
    UpdateAction, UpdateExpression, UpdateOperand,
};
use crate::key::KeySchema;
use crate::value::{item_size, AttributeValue, Item, Number, MAX_ITEM_SIZE, MAX_NESTING_DEPTH};

/// The value at `path` in `item`, if every step exists with the right type.
pub fn resolve_path<'i>(item: &'i Item, path: &Path) -> Option<&'i AttributeValue> {
    let mut elements = path.elements.iter();
    let mut current = match elements.next()? {
        PathElement::Name(name) => item.get(name)?,
        PathElement::Index(_) => return None,
    };
    for element in elements {
        current = match (element, current) {
            (PathElement::Name(name), AttributeValue::M(map)) => map.get(name)?,
            (PathElement::Index(index), AttributeValue::L(list)) => list.get(*index)?,
            _ => return None,
        };
    }
    Some(current)
}

/// DynamoDB's order for `<`, `<=`, `>`, `>=` and BETWEEN: defined only between
/// two strings (bytewise), two numbers (numerically) or two binaries
/// (bytewise, unsigned); `None` for anything else, which makes the comparison
/// false.
pub fn compare_values(left: &AttributeValue, right: &AttributeValue) -> Option<Ordering> {
    match (left, right) {
        (AttributeValue::S(a), AttributeValue::S(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        (AttributeValue::N(a), AttributeValue::N(b)) => Some(a.cmp(b)),
        (AttributeValue::B(a), AttributeValue::B(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// The value of an operand for one item; `None` when it refers to a missing
/// attribute or takes `size()` of a type that has no size.
fn operand_value(operand: &Operand, item: &Item) -> Option<AttributeValue> {
    match operand {
        Operand::Path(path) => resolve_path(item, path).cloned(),
        Operand::Value(value) => Some(value.clone()),
        Operand::Size(inner) => {
            let size = match operand_value(inner, item)? {
                // A string's size is its length in characters, as DynamoDB documents
                // size() for strings ("the length of the string"; "less than or equal to
                // 20 characters"), counted as its Java service counts them, in UTF-16
                // code units. Binary values count bytes.
                AttributeValue::S(text) => text.encode_utf16().count(),
                AttributeValue::B(bytes) => bytes.len(),
                AttributeValue::SS(members) => members.len(),
                AttributeValue::NS(members) => members.len(),
                AttributeValue::BS(members) => members.len(),
                AttributeValue::L(list) => list.len(),
                AttributeValue::M(map) => map.len(),
                AttributeValue::N(_) | AttributeValue::Bool(_) | AttributeValue::Null => {
                    return None
                }
            };
            Some(AttributeValue::N(Number::from(
                i64::try_from(size).unwrap_or(i64::MAX),
            )))
        }
    }
}

/// Evaluates a condition or filter against an item (an empty item when the
/// item does not exist).
///
/// A missing attribute makes every comparison false except `<>`, which is true;
/// comparing values of different types is false, never an error.
pub fn evaluate_condition(condition: &Condition, item: &Item) -> bool {
    match condition {
        Condition::Compare(comparator, left, right) => {
            let (left, right) = (operand_value(left, item), operand_value(right, item));
            let (Some(left), Some(right)) = (left, right) else {
                return *comparator == Comparator::NotEqual;
            };
            match comparator {
                Comparator::Equal => left == right,
                Comparator::NotEqual => left != right,
                Comparator::Less => compare_values(&left, &right) == Some(Ordering::Less),
                Comparator::LessOrEqual => {
                    matches!(
                        compare_values(&left, &right),
                        Some(Ordering::Less | Ordering::Equal)
                    )
                }
                Comparator::Greater => compare_values(&left, &right) == Some(Ordering::Greater),
                Comparator::GreaterOrEqual => {
                    matches!(
                        compare_values(&left, &right),
                        Some(Ordering::Greater | Ordering::Equal)
                    )
                }
            }
        }
        Condition::Between(operand, low, high) => {
            let (Some(value), Some(low), Some(high)) = (
                operand_value(operand, item),
                operand_value(low, item),
                operand_value(high, item),
            ) else {
                return false;
            };
            matches!(
                compare_values(&value, &low),
                Some(Ordering::Greater | Ordering::Equal)
            ) && matches!(
                compare_values(&value, &high),
                Some(Ordering::Less | Ordering::Equal)
            )
        }
        Condition::In(operand, candidates) => match operand_value(operand, item) {
            Some(value) => candidates
                .iter()
                .any(|candidate| operand_value(candidate, item).as_ref() == Some(&value)),
            None => false,
        },
        Condition::AttributeExists(path) => resolve_path(item, path).is_some(),
        Condition::AttributeNotExists(path) => resolve_path(item, path).is_none(),
        Condition::AttributeType(path, attribute_type) => {
            resolve_path(item, path).is_some_and(|value| value.attribute_type() == *attribute_type)
        }
        Condition::BeginsWith(operand, prefix) => {
            match (operand_value(operand, item), operand_value(prefix, item)) {
                (Some(AttributeValue::S(text)), Some(AttributeValue::S(prefix))) => {
                    text.starts_with(&prefix)
                }
                (Some(AttributeValue::B(bytes)), Some(AttributeValue::B(prefix))) => {
                    bytes.starts_with(&prefix)
                }
                _ => false,
            }
        }
        Condition::Contains(operand, needle) => {
            match (operand_value(operand, item), operand_value(needle, item)) {
                (Some(AttributeValue::S(text)), Some(AttributeValue::S(needle))) => {
                    text.contains(&needle)
                }
                (Some(AttributeValue::B(bytes)), Some(AttributeValue::B(needle))) => {
                    needle.is_empty() || bytes.windows(needle.len()).any(|window| window == needle)
                }
                (Some(AttributeValue::SS(members)), Some(AttributeValue::S(needle))) => {
                    members.contains(&needle)
                }
                (Some(AttributeValue::NS(members)), Some(AttributeValue::N(needle))) => {
                    members.contains(&needle)
                }
                (Some(AttributeValue::BS(members)), Some(AttributeValue::B(needle))) => {
                    members.contains(&needle)
                }
                (Some(AttributeValue::L(list)), Some(needle)) => list.contains(&needle),
                _ => false,
            }
        }
        Condition::And(conditions) => conditions
            .iter()
            .all(|condition| evaluate_condition(condition, item)),
        Condition::Or(conditions) => conditions
            .iter()
            .any(|condition| evaluate_condition(condition, item)),
        Condition::Not(a) => !evaluate_condition(a, item),
    }
}

/// True if a sort key value satisfies a Query's sort key condition (values of
/// another type never match).
pub fn sort_key_matches(condition: &SortKeyCondition, value: &AttributeValue) -> bool {
    let order = |bound: &AttributeValue| compare_values(value, bound);
    match condition {
        SortKeyCondition::Compare(comparator, bound) => match (comparator, order(bound)) {
            (_, None) => false,
            (Comparator::Equal, Some(found)) => found == Ordering::Equal,
            (Comparator::NotEqual, Some(found)) => found != Ordering::Equal,
            (Comparator::Less, Some(found)) => found == Ordering::Less,
            (Comparator::LessOrEqual, Some(found)) => found != Ordering::Greater,
            (Comparator::Greater, Some(found)) => found == Ordering::Greater,
            (Comparator::GreaterOrEqual, Some(found)) => found != Ordering::Less,
        },
        SortKeyCondition::Between(low, high) => {
            matches!(order(low), Some(Ordering::Greater | Ordering::Equal))
                && matches!(order(high), Some(Ordering::Less | Ordering::Equal))
        }
        SortKeyCondition::BeginsWith(prefix) => match (value, prefix) {
            (AttributeValue::S(text), AttributeValue::S(prefix)) => {
                text.starts_with(prefix.as_str())
            }
            (AttributeValue::B(bytes), AttributeValue::B(prefix)) => bytes.starts_with(prefix),
            _ => false,
        },
    }
}

/// Fails with `ConditionalCheckFailedException` unless the condition holds.
pub fn check_condition(condition: &Condition, item: &Item) -> StoreResult<()> {
    if evaluate_condition(condition, item) {
        Ok(())
    } else {
        Err(StoreError::conditional_check_failed())
    }
}

/// A projection being assembled: whole values, or the parts of maps and lists
/// that some path selected.
enum Partial {
    Whole(AttributeValue),
    Map(BTreeMap<String, Partial>),
    List(BTreeMap<usize, Partial>),
}

impl Partial {
    fn into_value(self) -> AttributeValue {
        match self {
            Partial::Whole(value) => value,
            Partial::Map(map) => AttributeValue::M(
                map.into_iter()
                    .map(|(name, part)| (name, part.into_value()))
                    .collect(),
            ),
            // Selected list elements come back compacted, in index order.
            Partial::List(list) => {
                AttributeValue::L(list.into_values().map(Partial::into_value).collect())
            }
        }
    }
}

fn insert_partial(
    target: &mut BTreeMap<String, Partial>,
    name: &str,
    value: &AttributeValue,
    rest: &[PathElement],
) {
    let Some((next, remaining)) = rest.split_first() else {
        target.insert(name.to_owned(), Partial::Whole(value.clone()));
        return;
    };
    let slot = target.entry(name.to_owned());
    match (next, value) {
        (PathElement::Name(key), AttributeValue::M(map)) => {
            let Some(inner) = map.get(key) else { return };
            let entry = slot.or_insert_with(|| Partial::Map(BTreeMap::new()));
            if let Partial::Map(children) = entry {
                insert_partial(children, key, inner, remaining);
            }
        }
        (PathElement::Index(index), AttributeValue::L(list)) => {
            let Some(inner) = list.get(*index) else {
                return;
            };
            let entry = slot.or_insert_with(|| Partial::List(BTreeMap::new()));
            if let Partial::List(children) = entry {
                insert_list_partial(children, *index, inner, remaining);
            }
        }
        _ => {}
    }
}

fn insert_list_partial(
    target: &mut BTreeMap<usize, Partial>,
    index: usize,
    value: &AttributeValue,
    rest: &[PathElement],
) {
    let Some((next, remaining)) = rest.split_first() else {
        target.insert(index, Partial::Whole(value.clone()));
        return;
    };
    match (next, value) {
        (PathElement::Name(key), AttributeValue::M(map)) => {
            let Some(inner) = map.get(key) else { return };
            let entry = target
                .entry(index)
                .or_insert_with(|| Partial::Map(BTreeMap::new()));
            if let Partial::Map(children) = entry {
                insert_partial(children, key, inner, remaining);
            }
        }
        (PathElement::Index(inner_index), AttributeValue::L(list)) => {
            let Some(inner) = list.get(*inner_index) else {
                return;
            };
            let entry = target
                .entry(index)
                .or_insert_with(|| Partial::List(BTreeMap::new()));
            if let Partial::List(children) = entry {
                insert_list_partial(children, *inner_index, inner, remaining);
            }
        }
        _ => {}
    }
}

/// The parts of `item` a projection selects; paths that do not exist are
/// skipped, as DynamoDB does.
pub fn apply_projection(projection: &Projection, item: &Item) -> Item {
    let mut result = BTreeMap::new();
    for path in &projection.paths {
        let Some((PathElement::Name(name), rest)) = path.elements.split_first() else {
            continue;
        };
        if let Some(value) = item.get(name) {
            insert_partial(&mut result, name, value, rest);
        }
    }
    result
        .into_iter()
        .map(|(name, part)| (name, part.into_value()))
        .collect()
}

fn missing_attribute() -> StoreError {
    StoreError::validation(
        "The provided expression refers to an attribute that does not exist in the item",
    )
}

fn wrong_operand_type() -> StoreError {
    StoreError::validation("An operand in the update expression has an incorrect data type")
}

fn invalid_document_path() -> StoreError {
    StoreError::validation(
        "The document path provided in the update expression is invalid for update",
    )
}

fn update_operand_value(operand: &UpdateOperand, item: &Item) -> StoreResult<AttributeValue> {
    match operand {
        UpdateOperand::Path(path) => resolve_path(item, path)
            .cloned()
            .ok_or_else(missing_attribute),
        UpdateOperand::Value(value) => Ok(value.clone()),
        UpdateOperand::IfNotExists(path, fallback) => match resolve_path(item, path) {
            Some(value) => Ok(value.clone()),
            None => update_operand_value(fallback, item),
        },
        UpdateOperand::ListAppend(first, second) => {
            match (
                update_operand_value(first, item)?,
                update_operand_value(second, item)?,
            ) {
                (AttributeValue::L(mut first), AttributeValue::L(second)) => {
                    first.extend(second);
                    Ok(AttributeValue::L(first))
                }
                _ => Err(wrong_operand_type()),
            }
        }
    }
}

fn set_value(value: &SetValue, item: &Item) -> StoreResult<AttributeValue> {
    let arithmetic =
        |a: &UpdateOperand, b: &UpdateOperand, add: bool| -> StoreResult<AttributeValue> {
            match (
                update_operand_value(a, item)?,
                update_operand_value(b, item)?,
            ) {
                (AttributeValue::N(a), AttributeValue::N(b)) => Ok(AttributeValue::N(if add {
                    a.add(&b)?
                } else {
                    a.subtract(&b)?
                })),
                _ => Err(wrong_operand_type()),
            }
        };
    match value {
        SetValue::Operand(operand) => update_operand_value(operand, item),
        SetValue::Plus(a, b) => arithmetic(a, b, true),
        SetValue::Minus(a, b) => arithmetic(a, b, false),
    }
}

/// The container that holds the last step of `path`, created on demand only at
/// the top level (the item itself).
fn parent_mut<'i>(item: &'i mut Item, path: &Path) -> StoreResult<Option<&'i mut AttributeValue>> {
    let elements = &path.elements;
    if elements.len() < 2 {
        return Ok(None);
    }
    let PathElement::Name(first) = &elements[0] else {
        return Err(invalid_document_path());
    };
    let mut current = item.get_mut(first).ok_or_else(invalid_document_path)?;
    for element in &elements[1..elements.len() - 1] {
        current = match (element, current) {
            (PathElement::Name(name), AttributeValue::M(map)) => {
                map.get_mut(name).ok_or_else(invalid_document_path)?
            }
            (PathElement::Index(index), AttributeValue::L(list)) => {
                list.get_mut(*index).ok_or_else(invalid_document_path)?
            }
            _ => return Err(invalid_document_path()),
        };
    }
    Ok(Some(current))
}

fn write_path(item: &mut Item, path: &Path, value: AttributeValue) -> StoreResult<()> {
    let last = path.elements.last().ok_or_else(invalid_document_path)?;
    match (parent_mut(item, path)?, last) {
        (None, PathElement::Name(name)) => {
            item.insert(name.clone(), value);
        }
        (Some(AttributeValue::M(map)), PathElement::Name(name)) => {
            map.insert(name.clone(), value);
        }
        (Some(AttributeValue::L(list)), PathElement::Index(index)) => {
            // Writing past the end appends, as DynamoDB does.
            match list.get_mut(*index) {
                Some(slot) => *slot = value,
                None => list.push(value),
            }
        }
        _ => return Err(invalid_document_path()),
    }
    Ok(())
}

/// The current value at an update target: `Ok(None)` if only the last step is
/// missing, an error if a parent is missing or of the wrong kind (DynamoDB
/// rejects REMOVE, ADD and DELETE through such paths, not just SET).
fn existing_target<'i>(item: &'i Item, path: &Path) -> StoreResult<Option<&'i AttributeValue>> {
    let Some((last, parents)) = path.elements.split_last() else {
        return Err(invalid_document_path());
    };
    if parents.is_empty() {
        return match last {
            PathElement::Name(name) => Ok(item.get(name)),
            PathElement::Index(_) => Err(invalid_document_path()),
        };
    }
    let parent = resolve_path(
        item,
        &Path {
            elements: parents.to_vec(),
        },
    )
    .ok_or_else(invalid_document_path)?;
    match (parent, last) {
        (AttributeValue::M(map), PathElement::Name(name)) => Ok(map.get(name)),
        (AttributeValue::L(list), PathElement::Index(index)) => Ok(list.get(*index)),
        _ => Err(invalid_document_path()),
    }
}

fn remove_path(item: &mut Item, path: &Path) -> StoreResult<()> {
    if existing_target(item, path)?.is_none() {
        return Ok(());
    }
    let Some(last) = path.elements.last() else {
        return Ok(());
    };
    match (parent_mut(item, path)?, last) {
        (None, PathElement::Name(name)) => {
            item.remove(name);
        }
        (Some(AttributeValue::M(map)), PathElement::Name(name)) => {
            map.remove(name);
        }
        (Some(AttributeValue::L(list)), PathElement::Index(index)) if *index < list.len() => {
            list.remove(*index);
        }
        _ => return Err(invalid_document_path()),
    }
    Ok(())
}

fn add_to(
    existing: Option<&AttributeValue>,
    value: &AttributeValue,
) -> StoreResult<AttributeValue> {
    Ok(match (existing, value) {
        (None, value) => value.clone(),
        (Some(AttributeValue::N(a)), AttributeValue::N(b)) => AttributeValue::N(a.add(b)?),
        (Some(AttributeValue::SS(a)), AttributeValue::SS(b)) => {
            AttributeValue::string_set(a.iter().chain(b).cloned())
        }
        (Some(AttributeValue::NS(a)), AttributeValue::NS(b)) => {
            AttributeValue::number_set(a.iter().chain(b).cloned())
        }
        (Some(AttributeValue::BS(a)), AttributeValue::BS(b)) => {
            AttributeValue::binary_set(a.iter().chain(b).cloned())
        }
        _ => return Err(wrong_operand_type()),
    })
}

/// The set left after DELETE; `None` when it becomes empty (DynamoDB then
/// removes the attribute, since sets may not be empty).
fn delete_from(
    existing: &AttributeValue,
    value: &AttributeValue,
) -> StoreResult<Option<AttributeValue>> {
    let remaining = match (existing, value) {
        (AttributeValue::SS(a), AttributeValue::SS(b)) => AttributeValue::SS(
            a.iter()
                .filter(|member| !b.contains(member))
                .cloned()
                .collect(),
        ),
        (AttributeValue::NS(a), AttributeValue::NS(b)) => AttributeValue::NS(
            a.iter()
                .filter(|member| !b.contains(member))
                .cloned()
                .collect(),
        ),
        (AttributeValue::BS(a), AttributeValue::BS(b)) => AttributeValue::BS(
            a.iter()
                .filter(|member| !b.contains(member))
                .cloned()
                .collect(),
        ),
        _ => return Err(wrong_operand_type()),
    };
    let empty = match &remaining {
        AttributeValue::SS(members) => members.is_empty(),
        AttributeValue::NS(members) => members.is_empty(),
        AttributeValue::BS(members) => members.is_empty(),
        _ => false,
    };
    Ok(if empty { None } else { Some(remaining) })
}

/// Fails if an update writes a key attribute, which DynamoDB forbids.
pub fn check_update_keeps_key(update: &UpdateExpression, schema: &KeySchema) -> StoreResult<()> {
    for action in &update.actions {
        let name = action.path().top_level_name();
        if schema.is_key_attribute(name) {
            return Err(StoreError::validation(format!(
                "One or more parameter values were invalid: Cannot update attribute {name}. This attribute is part of the key"
            )));
        }
    }
    Ok(())
}

/// Applies an update to an existing item and returns the new item.
///
/// Every value on the right of SET is computed from the item as it was before
/// the update, so `SET a = b, b = a` swaps. Writes apply in path order and
/// REMOVEs last, so list indexes refer to the original positions.
pub fn apply_update(update: &UpdateExpression, item: &Item) -> StoreResult<Item> {
    apply_update_to(update, item, true)
}

/// Applies an update to an item that does not exist yet, given its key:
/// DynamoDB creates the item from the `Key`, so `SET b = pk` can read it. One
/// quirk differs from [`apply_update`]: REMOVE through a missing parent, which
/// fails on an existing item, is silently ignored on a missing one.
pub fn apply_update_to_missing_item(update: &UpdateExpression, key: &Item) -> StoreResult<Item> {
    apply_update_to(update, key, false)
}

fn apply_update_to(update: &UpdateExpression, item: &Item, item_exists: bool) -> StoreResult<Item> {
    let mut computed = Vec::with_capacity(update.actions.len());
    for action in &update.actions {
        if let UpdateAction::Set(_, value) = action {
            computed.push(Some(set_value(value, item)?));
        } else {
            computed.push(None);
        }
    }
    // DynamoDB applies the writes in path order, not in the order written: with
    // `SET l[4] = :x, l[2] = :y` on a two-element list, `l[2]` appends first
    // and `l[4]` after it. Removals come last, highest list index first, so
    // that they all refer to the original positions.
    let mut writes: Vec<(&UpdateAction, Option<AttributeValue>)> = Vec::new();
    let mut removals: Vec<&Path> = Vec::new();
    for (action, value) in update.actions.iter().zip(computed) {
        match action {
            UpdateAction::Remove(path) => removals.push(path),
            _ => writes.push((action, value)),
        }
    }
    writes.sort_by(|(a, _), (b, _)| compare_paths(a.path(), b.path()));
    removals.sort_by(|a, b| compare_paths(b, a));
    let mut result = item.clone();
    for (action, value) in writes {
        match (action, value) {
            (UpdateAction::Set(path, _), Some(value)) => write_path(&mut result, path, value)?,
            (UpdateAction::Add(path, value), _) => {
                let updated = add_to(existing_target(&result, path)?, value)?;
                write_path(&mut result, path, updated)?;
            }
            (UpdateAction::Delete(path, value), _) => {
                if let Some(existing) = existing_target(&result, path)? {
                    match delete_from(existing, value)? {
                        Some(remaining) => write_path(&mut result, path, remaining)?,
                        None => remove_path(&mut result, path)?,
                    }
                }
            }
            _ => {}
        }
    }
    for path in removals {
        match remove_path(&mut result, path) {
            Err(_) if !item_exists => {}
            other => other?,
        }
    }
    if result
        .values()
        .any(|value| nesting_depth(value) > MAX_NESTING_DEPTH)
    {
        return Err(StoreError::validation(
            "Nesting Levels have exceeded supported limits",
        ));
    }
    if item_size(&result) > MAX_ITEM_SIZE {
        return Err(StoreError::validation(
            "Item size to update has exceeded the maximum allowed size",
        ));
    }
    Ok(result)
}

/// How many maps and lists are nested in a value (0 for scalars and sets).
fn nesting_depth(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::M(map) => 1 + map.values().map(nesting_depth).max().unwrap_or(0),
        AttributeValue::L(list) => 1 + list.iter().map(nesting_depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn compare_paths(a: &Path, b: &Path) -> Ordering {
    for (x, y) in a.elements.iter().zip(&b.elements) {
        let order = match (x, y) {
            (PathElement::Name(x), PathElement::Name(y)) => x.cmp(y),
            (PathElement::Index(x), PathElement::Index(y)) => x.cmp(y),
            (PathElement::Name(_), PathElement::Index(_)) => Ordering::Less,
            (PathElement::Index(_), PathElement::Name(_)) => Ordering::Greater,
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    a.elements.len().cmp(&b.elements.len())
}

#[cfg(test)]
mod tests;
