//! DynamoDB's expression languages: parsing ConditionExpression,
//! FilterExpression, KeyConditionExpression, ProjectionExpression and
//! UpdateExpression into the typed trees of [`ast`], with placeholders resolved
//! and DynamoDB's validation messages.
//!
//! One [`ExpressionContext`] serves one request: it holds the request's
//! `ExpressionAttributeNames` and `ExpressionAttributeValues`, parses each of the
//! request's expressions, and finally reports placeholders no expression used.

pub mod ast;
mod key_condition;
mod lexer;
mod parser;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::OnceLock;

use crate::error::{StoreError, StoreResult};
use crate::key::KeySchema;
use crate::value::Item;

pub use ast::{
    Comparator, Condition, KeyCondition, Operand, Path, PathElement, Projection, SetValue,
    SortKeyCondition, UpdateAction, UpdateExpression, UpdateOperand,
};
pub use key_condition::KeyShape;
use parser::Parser;

/// Which request parameter an expression came from; error messages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpressionKind {
    /// `ConditionExpression` (PutItem, UpdateItem, DeleteItem, transactions).
    Condition,
    /// `FilterExpression` (Query, Scan).
    Filter,
    /// `KeyConditionExpression` (Query).
    KeyCondition,
    /// `ProjectionExpression` (GetItem, Query, Scan, BatchGetItem, …).
    Projection,
    /// `UpdateExpression` (UpdateItem).
    Update,
}

impl ExpressionKind {
    /// The request parameter's name, e.g. `ConditionExpression`.
    pub fn parameter_name(self) -> &'static str {
        match self {
            ExpressionKind::Condition => "ConditionExpression",
            ExpressionKind::Filter => "FilterExpression",
            ExpressionKind::KeyCondition => "KeyConditionExpression",
            ExpressionKind::Projection => "ProjectionExpression",
            ExpressionKind::Update => "UpdateExpression",
        }
    }

    /// A `ValidationException` prefixed as DynamoDB prefixes expression errors.
    pub(crate) fn error(self, message: impl AsRef<str>) -> StoreError {
        StoreError::validation(format!(
            "Invalid {}: {}",
            self.parameter_name(),
            message.as_ref()
        ))
    }
}

static RESERVED_WORDS: OnceLock<HashSet<&'static str>> = OnceLock::new();

/// True if `word` is one of DynamoDB's reserved words (any letter case), which
/// may not appear as a bare attribute name in an expression.
pub fn is_reserved_word(word: &str) -> bool {
    let words = RESERVED_WORDS.get_or_init(|| {
        include_str!("reserved_words.txt")
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect()
    });
    words.contains(word.to_ascii_uppercase().as_str())
}

/// Whether `key` is a placeholder of the form `sigil` then `[0-9a-zA-Z_]+`.
fn well_formed_placeholder(key: &str, sigil: char) -> bool {
    key.strip_prefix(sigil).is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
    })
}

/// Whether `key` is a well-formed value placeholder (`:value`).
pub(crate) fn is_value_placeholder(key: &str) -> bool {
    well_formed_placeholder(key, ':')
}

/// Checks the placeholder maps themselves: not empty when given, and keys of
/// the form `#name` / `:value`.
pub fn check_placeholder_maps(
    names: Option<&BTreeMap<String, String>>,
    values: Option<&Item>,
) -> StoreResult<()> {
    let valid_key = well_formed_placeholder;
    if let Some(names) = names {
        if names.is_empty() {
            return Err(StoreError::validation(
                "ExpressionAttributeNames must not be empty",
            ));
        }
        if let Some(key) = names.keys().find(|key| !valid_key(key, '#')) {
            return Err(StoreError::validation(format!(
                "ExpressionAttributeNames contains invalid key: Syntax error; key: \"{key}\""
            )));
        }
    }
    if let Some(values) = values {
        if values.is_empty() {
            return Err(StoreError::validation(
                "ExpressionAttributeValues must not be empty",
            ));
        }
        if let Some(key) = values.keys().find(|key| !valid_key(key, ':')) {
            return Err(StoreError::validation(format!(
                "ExpressionAttributeValues contains invalid key: Syntax error; key: \"{key}\""
            )));
        }
    }
    Ok(())
}

/// Parses the expressions of one request against its placeholder maps and
/// tracks which placeholders were used.
#[derive(Debug)]
pub struct ExpressionContext<'a> {
    names: &'a BTreeMap<String, String>,
    values: &'a Item,
    used_names: BTreeSet<String>,
    used_values: BTreeSet<String>,
}

impl<'a> ExpressionContext<'a> {
    /// A context over the request's `ExpressionAttributeNames` and
    /// `ExpressionAttributeValues` (pass empty maps when absent).
    pub fn new(names: &'a BTreeMap<String, String>, values: &'a Item) -> ExpressionContext<'a> {
        ExpressionContext {
            names,
            values,
            used_names: BTreeSet::new(),
            used_values: BTreeSet::new(),
        }
    }

    fn run<T>(
        &mut self,
        kind: ExpressionKind,
        text: &str,
        parse: impl FnOnce(&mut Parser<'_, 'a>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut parser = Parser::new(text, kind, self.names, self.values)?;
        let parsed = parse(&mut parser)?;
        parser.finish()?;
        self.used_names.extend(parser.used_names);
        self.used_values.extend(parser.used_values);
        Ok(parsed)
    }

    /// Parses a `ConditionExpression`.
    pub fn condition(&mut self, text: &str) -> StoreResult<Condition> {
        self.run(ExpressionKind::Condition, text, |parser| {
            parser.parse_condition()
        })
    }

    /// Parses a `FilterExpression`: the condition grammar, named differently in
    /// error messages.
    pub fn filter(&mut self, text: &str) -> StoreResult<Condition> {
        self.run(ExpressionKind::Filter, text, |parser| {
            parser.parse_condition()
        })
    }

    /// Parses a `KeyConditionExpression` and checks it against the key schema of
    /// the table or index being queried.
    pub fn key_condition(&mut self, text: &str, schema: &KeySchema) -> StoreResult<KeyCondition> {
        self.key_condition_shape(text)?.restrict(schema)
    }

    /// Parses a `KeyConditionExpression` and checks its shape, which needs no table;
    /// [`KeyShape::restrict`] checks it against the key schema.
    pub fn key_condition_shape(&mut self, text: &str) -> StoreResult<KeyShape> {
        let condition = self.run(ExpressionKind::KeyCondition, text, |parser| {
            parser.parse_condition()
        })?;
        key_condition::shape(condition)
    }

    /// Parses a `ProjectionExpression`.
    pub fn projection(&mut self, text: &str) -> StoreResult<Projection> {
        self.run(ExpressionKind::Projection, text, |parser| {
            parser.parse_projection()
        })
    }

    /// Parses an `UpdateExpression`.
    pub fn update(&mut self, text: &str) -> StoreResult<UpdateExpression> {
        self.run(ExpressionKind::Update, text, |parser| parser.parse_update())
    }

    /// After all of a request's expressions are parsed: fails if a name or value
    /// placeholder was provided but never used, as DynamoDB does.
    pub fn finish(&self) -> StoreResult<()> {
        let unused_names: Vec<&str> = self
            .names
            .keys()
            .filter(|key| !self.used_names.contains(*key))
            .map(String::as_str)
            .collect();
        if !unused_names.is_empty() {
            return Err(StoreError::validation(format!(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}",
                unused_names.join(", ")
            )));
        }
        let unused_values: Vec<&str> = self
            .values
            .keys()
            .filter(|key| !self.used_values.contains(*key))
            .map(String::as_str)
            .collect();
        if !unused_values.is_empty() {
            return Err(StoreError::validation(format!(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{}}}",
                unused_values.join(", ")
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
