//! The parsed, resolved forms of DynamoDB expressions. Placeholders are already
//! replaced: `#n` by the attribute name it stands for, `:v` by its value.

use std::fmt;

use crate::value::{AttributeType, AttributeValue};

/// A document path such as `a.b[2].c`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Path {
    /// The steps from the item's top level, never empty.
    pub elements: Vec<PathElement>,
}

/// One step of a document path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathElement {
    /// A map key (or, first, a top-level attribute name).
    Name(String),
    /// A list index.
    Index(usize),
}

impl Path {
    /// A one-step path to a top-level attribute.
    pub fn attribute(name: impl Into<String>) -> Path {
        Path {
            elements: vec![PathElement::Name(name.into())],
        }
    }

    /// The top-level attribute the path starts at.
    pub fn top_level_name(&self) -> &str {
        match self.elements.first() {
            Some(PathElement::Name(name)) => name,
            // The parser only builds paths that start with a name.
            _ => "",
        }
    }

    /// The form DynamoDB uses in messages: `[a, b, [2]]`.
    pub fn bracketed(&self) -> String {
        let parts: Vec<String> = self
            .elements
            .iter()
            .map(|element| match element {
                PathElement::Name(name) => name.clone(),
                PathElement::Index(index) => format!("[{index}]"),
            })
            .collect();
        format!("[{}]", parts.join(", "))
    }
}

/// `a.b[2]` (names are shown raw, even if they contain dots).
impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, element) in self.elements.iter().enumerate() {
            match element {
                PathElement::Name(name) if position == 0 => f.write_str(name)?,
                PathElement::Name(name) => write!(f, ".{name}")?,
                PathElement::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparator {
    /// `=`
    Equal,
    /// `<>`
    NotEqual,
    /// `<`
    Less,
    /// `<=`
    LessOrEqual,
    /// `>`
    Greater,
    /// `>=`
    GreaterOrEqual,
}

impl Comparator {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparator::Equal => "=",
            Comparator::NotEqual => "<>",
            Comparator::Less => "<",
            Comparator::LessOrEqual => "<=",
            Comparator::Greater => ">",
            Comparator::GreaterOrEqual => ">=",
        }
    }

    /// The operator with its operands swapped (`a < b` is `b > a`).
    pub fn flipped(self) -> Comparator {
        match self {
            Comparator::Less => Comparator::Greater,
            Comparator::LessOrEqual => Comparator::GreaterOrEqual,
            Comparator::Greater => Comparator::Less,
            Comparator::GreaterOrEqual => Comparator::LessOrEqual,
            same => same,
        }
    }
}

/// A value in a condition: an attribute, a literal, or `size(...)`.
#[derive(Clone, PartialEq)]
pub enum Operand {
    /// The value at a document path in the item (absent if the path is).
    Path(Path),
    /// A value from ExpressionAttributeValues.
    Value(AttributeValue),
    /// `size(operand)`, a number.
    Size(Box<Operand>),
}

impl fmt::Debug for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Path(path) => write!(f, "{path}"),
            Operand::Value(value) => write!(f, "{value:?}"),
            Operand::Size(inner) => write!(f, "size({inner:?})"),
        }
    }
}

/// A ConditionExpression or FilterExpression.
#[derive(Clone, PartialEq)]
pub enum Condition {
    /// `left <op> right`
    Compare(Comparator, Operand, Operand),
    /// `operand BETWEEN low AND high`
    Between(Operand, Operand, Operand),
    /// `operand IN (candidates...)`
    In(Operand, Vec<Operand>),
    /// `attribute_exists(path)`
    AttributeExists(Path),
    /// `attribute_not_exists(path)`
    AttributeNotExists(Path),
    /// `attribute_type(path, :type)`
    AttributeType(Path, AttributeType),
    /// `begins_with(operand, prefix)`
    BeginsWith(Operand, Operand),
    /// `contains(operand, member_or_substring)`
    Contains(Operand, Operand),
    /// `a AND b AND ...`, two or more conditions
    And(Vec<Condition>),
    /// `a OR b OR ...`, two or more conditions
    Or(Vec<Condition>),
    /// `NOT a`
    Not(Box<Condition>),
}

/// A Lisp-like rendering that makes precedence visible in tests.
impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::Compare(op, left, right) => {
                write!(f, "({} {left:?} {right:?})", op.symbol())
            }
            Condition::Between(operand, low, high) => {
                write!(f, "(between {operand:?} {low:?} {high:?})")
            }
            Condition::In(operand, candidates) => {
                write!(f, "(in {operand:?}")?;
                for candidate in candidates {
                    write!(f, " {candidate:?}")?;
                }
                f.write_str(")")
            }
            Condition::AttributeExists(path) => write!(f, "(attribute_exists {path})"),
            Condition::AttributeNotExists(path) => write!(f, "(attribute_not_exists {path})"),
            Condition::AttributeType(path, kind) => write!(f, "(attribute_type {path} {kind})"),
            Condition::BeginsWith(a, b) => write!(f, "(begins_with {a:?} {b:?})"),
            Condition::Contains(a, b) => write!(f, "(contains {a:?} {b:?})"),
            Condition::And(conditions) | Condition::Or(conditions) => {
                f.write_str(if matches!(self, Condition::And(_)) {
                    "(and"
                } else {
                    "(or"
                })?;
                for condition in conditions {
                    write!(f, " {condition:?}")?;
                }
                f.write_str(")")
            }
            Condition::Not(a) => write!(f, "(not {a:?})"),
        }
    }
}

/// A value on the right of `SET path = ...`.
#[derive(Clone, PartialEq)]
pub enum UpdateOperand {
    /// The value at a path in the item before the update.
    Path(Path),
    /// A value from ExpressionAttributeValues.
    Value(AttributeValue),
    /// `if_not_exists(path, fallback)`
    IfNotExists(Path, Box<UpdateOperand>),
    /// `list_append(first, second)`
    ListAppend(Box<UpdateOperand>, Box<UpdateOperand>),
}

impl fmt::Debug for UpdateOperand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpdateOperand::Path(path) => write!(f, "{path}"),
            UpdateOperand::Value(value) => write!(f, "{value:?}"),
            UpdateOperand::IfNotExists(path, fallback) => {
                write!(f, "(if_not_exists {path} {fallback:?})")
            }
            UpdateOperand::ListAppend(a, b) => write!(f, "(list_append {a:?} {b:?})"),
        }
    }
}

/// The whole right-hand side of a SET action.
#[derive(Clone, PartialEq)]
pub enum SetValue {
    /// A single operand.
    Operand(UpdateOperand),
    /// `a + b`, numbers only.
    Plus(UpdateOperand, UpdateOperand),
    /// `a - b`, numbers only.
    Minus(UpdateOperand, UpdateOperand),
}

impl fmt::Debug for SetValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetValue::Operand(operand) => write!(f, "{operand:?}"),
            SetValue::Plus(a, b) => write!(f, "(+ {a:?} {b:?})"),
            SetValue::Minus(a, b) => write!(f, "(- {a:?} {b:?})"),
        }
    }
}

/// One action of an UpdateExpression.
#[derive(Clone, PartialEq)]
pub enum UpdateAction {
    /// `SET path = value`
    Set(Path, SetValue),
    /// `REMOVE path`
    Remove(Path),
    /// `ADD path :value` (numbers and sets)
    Add(Path, AttributeValue),
    /// `DELETE path :set`
    Delete(Path, AttributeValue),
}

impl UpdateAction {
    /// The path the action writes.
    pub fn path(&self) -> &Path {
        match self {
            UpdateAction::Set(path, _)
            | UpdateAction::Remove(path)
            | UpdateAction::Add(path, _)
            | UpdateAction::Delete(path, _) => path,
        }
    }
}

impl fmt::Debug for UpdateAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpdateAction::Set(path, value) => write!(f, "SET {path} = {value:?}"),
            UpdateAction::Remove(path) => write!(f, "REMOVE {path}"),
            UpdateAction::Add(path, value) => write!(f, "ADD {path} {value:?}"),
            UpdateAction::Delete(path, value) => write!(f, "DELETE {path} {value:?}"),
        }
    }
}

/// A parsed UpdateExpression: its actions in the order written, clauses merged.
#[derive(Clone, PartialEq)]
pub struct UpdateExpression {
    /// Every action; no two write overlapping paths.
    pub actions: Vec<UpdateAction>,
}

impl UpdateExpression {
    /// The paths the update writes, as a projection: applied to the old or new
    /// item it gives what `ReturnValues: UPDATED_OLD` / `UPDATED_NEW` return.
    pub fn updated_paths(&self) -> Projection {
        Projection {
            paths: self
                .actions
                .iter()
                .map(|action| action.path().clone())
                .collect(),
        }
    }
}

impl fmt::Debug for UpdateExpression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let actions: Vec<String> = self
            .actions
            .iter()
            .map(|action| format!("{action:?}"))
            .collect();
        f.write_str(&actions.join("; "))
    }
}

/// A ProjectionExpression: the paths to return, none overlapping.
#[derive(Clone, PartialEq)]
pub struct Projection {
    /// The requested paths in the order written.
    pub paths: Vec<Path>,
}

impl fmt::Debug for Projection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let paths: Vec<String> = self.paths.iter().map(Path::to_string).collect();
        f.write_str(&paths.join(", "))
    }
}

/// The condition on the sort key of a Query.
#[derive(Clone, PartialEq)]
pub enum SortKeyCondition {
    /// `sk <op> value` (never `<>`)
    Compare(Comparator, AttributeValue),
    /// `sk BETWEEN low AND high`
    Between(AttributeValue, AttributeValue),
    /// `begins_with(sk, prefix)`
    BeginsWith(AttributeValue),
}

impl fmt::Debug for SortKeyCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SortKeyCondition::Compare(op, value) => write!(f, "{} {value:?}", op.symbol()),
            SortKeyCondition::Between(low, high) => write!(f, "BETWEEN {low:?} AND {high:?}"),
            SortKeyCondition::BeginsWith(prefix) => write!(f, "begins_with {prefix:?}"),
        }
    }
}

/// A validated KeyConditionExpression: one partition key value and at most one
/// condition on the sort key.
#[derive(Clone, PartialEq)]
pub struct KeyCondition {
    /// The partition key's name.
    pub partition_key_name: String,
    /// The partition key value to match.
    pub partition_key_value: AttributeValue,
    /// The sort key's name and condition, if any.
    pub sort_key: Option<(String, SortKeyCondition)>,
}

impl fmt::Debug for KeyCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} = {:?}",
            self.partition_key_name, self.partition_key_value
        )?;
        if let Some((name, condition)) = &self.sort_key {
            write!(f, "; {name} {condition:?}")?;
        }
        Ok(())
    }
}

impl Operand {
    fn visit_paths<'a>(&'a self, paths: &mut Vec<&'a Path>) {
        match self {
            Operand::Path(path) => paths.push(path),
            Operand::Size(inner) => inner.visit_paths(paths),
            Operand::Value(_) => {}
        }
    }
}

impl Condition {
    /// Every document path the condition reads, in the order written.
    pub fn paths(&self) -> Vec<&Path> {
        let mut paths = Vec::new();
        self.visit_paths(&mut paths);
        paths
    }

    fn visit_paths<'a>(&'a self, paths: &mut Vec<&'a Path>) {
        match self {
            Condition::Compare(_, left, right)
            | Condition::BeginsWith(left, right)
            | Condition::Contains(left, right) => {
                left.visit_paths(paths);
                right.visit_paths(paths);
            }
            Condition::Between(value, low, high) => {
                for each in [value, low, high] {
                    each.visit_paths(paths);
                }
            }
            Condition::In(value, candidates) => {
                value.visit_paths(paths);
                for candidate in candidates {
                    candidate.visit_paths(paths);
                }
            }
            Condition::AttributeExists(path)
            | Condition::AttributeNotExists(path)
            | Condition::AttributeType(path, _) => paths.push(path),
            Condition::And(conditions) | Condition::Or(conditions) => {
                for condition in conditions {
                    condition.visit_paths(paths);
                }
            }
            Condition::Not(inner) => inner.visit_paths(paths),
        }
    }
}

impl UpdateOperand {
    fn visit_paths<'a>(&'a self, paths: &mut Vec<&'a Path>) {
        match self {
            UpdateOperand::Path(path) => paths.push(path),
            UpdateOperand::Value(_) => {}
            UpdateOperand::IfNotExists(path, fallback) => {
                paths.push(path);
                fallback.visit_paths(paths);
            }
            UpdateOperand::ListAppend(first, second) => {
                first.visit_paths(paths);
                second.visit_paths(paths);
            }
        }
    }
}

impl UpdateExpression {
    /// Every document path the update writes or reads, in the order written.
    pub fn paths(&self) -> Vec<&Path> {
        let mut paths = Vec::new();
        for action in &self.actions {
            paths.push(action.path());
            if let UpdateAction::Set(_, value) = action {
                match value {
                    SetValue::Operand(operand) => operand.visit_paths(&mut paths),
                    SetValue::Plus(left, right) | SetValue::Minus(left, right) => {
                        left.visit_paths(&mut paths);
                        right.visit_paths(&mut paths);
                    }
                }
            }
        }
        paths
    }
}
