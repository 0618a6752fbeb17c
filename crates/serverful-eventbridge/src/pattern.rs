//! Event patterns: EventBridge's matching language, parsed once and matched against
//! events.
//!
//! A pattern is a JSON object shaped like the events it matches. Each leaf is an array of
//! alternatives (exact values or match expressions such as `prefix`, `numeric` or
//! `anything-but`); all fields must match, and `$or` lists alternative sub-patterns. The
//! semantics follow AWS's documentation and its open-source matcher (Event Ruler), whose
//! wording the errors use. A field whose event value is an array matches when any element
//! does, and the fields of one nested pattern must all be found in the same element of an
//! array of objects (EventBridge's "array-consistent" matching).

mod ip;
mod wildcard;

use serde_json::Value;

use crate::json::Node;
use ip::IpRange;
use wildcard::Wildcard;

/// PutRule's and TestEventPattern's limit on the pattern's length, in UTF-16 units as
/// the API counts.
pub const MAX_PATTERN_LENGTH: usize = 4096;

/// Numbers in numeric matches and in `anything-but` must lie within ±5.0e9 (EventBridge
/// compares them with six digits after the decimal point).
const NUMBER_LIMIT: f64 = 5.0e9;

/// Names that cannot be field names inside `$or`, so that a misplaced match expression
/// is reported instead of silently matching a field of that name.
const RESERVED_IN_OR: &[&str] = &[
    "exactly",
    "equals-ignore-case",
    "prefix",
    "suffix",
    "anything-but",
    "exists",
    "wildcard",
    "numeric",
    "cidr",
    "=",
    "<",
    "<=",
    ">",
    ">=",
    "regex",
    "not-wildcard",
    "not-equals-ignore-case",
    "date-after",
    "date-on-or-after",
    "date-before",
    "date-on-or-before",
    "in-date-range",
    "ip-address-in-range",
    "ip-address-not-in-range",
];

/// Why a pattern was refused; `Display` is AWS's message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PatternError {
    /// AWS answers `InvalidEventPatternException` with this message.
    #[error("Event pattern is not valid. Reason: {reason}")]
    Invalid { reason: String },
    /// AWS answers `ValidationException`: the pattern is longer than the API accepts.
    #[error(
        "1 validation error detected: Value at 'eventPattern' failed to satisfy constraint: Member must have length less than or equal to {MAX_PATTERN_LENGTH}"
    )]
    TooLong { length: usize },
}

impl PatternError {
    /// The AWS error code to answer with.
    pub fn aws_code(&self) -> &'static str {
        match self {
            PatternError::Invalid { .. } => "InvalidEventPatternException",
            PatternError::TooLong { .. } => "ValidationException",
        }
    }
}

fn invalid<T>(reason: impl Into<String>) -> Result<T, PatternError> {
    Err(PatternError::Invalid {
        reason: reason.into(),
    })
}

/// A parsed event pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPattern {
    root: ObjectPattern,
}

/// The fields of one object level, all of which must match, and its `$or` groups, each
/// of which needs one alternative to match.
#[derive(Debug, Clone, PartialEq, Default)]
struct ObjectPattern {
    fields: Vec<(String, FieldPattern)>,
    any_of: Vec<Vec<ObjectPattern>>,
}

#[derive(Debug, Clone, PartialEq)]
enum FieldPattern {
    Nested(ObjectPattern),
    Leaf(Vec<Matcher>),
}

#[derive(Debug, Clone, PartialEq)]
enum Matcher {
    String {
        text: String,
        address: Option<(bool, u128)>,
    },
    Number(f64),
    Bool(bool),
    Null,
    Prefix(String),
    PrefixIgnoreCase(String),
    Suffix(String),
    SuffixIgnoreCase(String),
    EqualsIgnoreCase(String),
    Wildcard(Wildcard),
    AnythingBut(AnythingBut),
    Numeric(NumericRange),
    Exists(bool),
    Cidr(IpRange),
}

#[derive(Debug, Clone, PartialEq)]
enum AnythingBut {
    Strings(Vec<String>),
    Numbers(Vec<f64>),
    Prefixes(Vec<String>),
    Suffixes(Vec<String>),
    EqualsIgnoreCase(Vec<String>),
    Wildcards(Vec<Wildcard>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Bound {
    value: f64,
    inclusive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct NumericRange {
    lower: Option<Bound>,
    upper: Option<Bound>,
}

impl EventPattern {
    /// Parses and checks a pattern, as PutRule and TestEventPattern do.
    pub fn parse(text: &str) -> Result<EventPattern, PatternError> {
        let length = text.encode_utf16().count();
        if length > MAX_PATTERN_LENGTH {
            return Err(PatternError::TooLong { length });
        }
        let node = Node::parse(text).map_err(|error| PatternError::Invalid {
            reason: error.to_string(),
        })?;
        let Node::Object(members) = node else {
            return invalid("Filter is not an object");
        };
        let mut root = ObjectPattern::default();
        parse_object(&mut root, &members, false)?;
        Ok(EventPattern { root })
    }

    /// Whether `event` matches. An event that is not a JSON object matches nothing.
    pub fn matches(&self, event: &Value) -> bool {
        match event {
            Value::Object(object) => object_matches(&self.root, Some(object)),
            _ => false,
        }
    }
}

fn parse_object(
    target: &mut ObjectPattern,
    members: &[(String, Node)],
    inside_or: bool,
) -> Result<(), PatternError> {
    if members.is_empty() {
        return invalid("Empty objects are not allowed");
    }
    for (name, value) in members {
        if name == "$or" {
            let Node::Array(items) = value else {
                return invalid("It must be an Array followed with $or.");
            };
            let mut alternatives = Vec::new();
            for item in items {
                let Node::Object(alternative_members) = item else {
                    return invalid("Only JSON object is allowed in array of $or relationship.");
                };
                let mut alternative = ObjectPattern::default();
                parse_object(&mut alternative, alternative_members, true)?;
                alternatives.push(alternative);
            }
            if alternatives.len() < 2 {
                return invalid("There must have at least 2 Objects in $or relationship.");
            }
            target.any_of.push(alternatives);
            continue;
        }
        if inside_or && RESERVED_IN_OR.contains(&name.as_str()) {
            return invalid(format!(
                "{name} is Ruler reserved fieldName which cannot be used inside $or."
            ));
        }
        match value {
            Node::Object(nested_members) => {
                // A repeated key merges with the object already there, as EventBridge
                // joins field paths.
                let position = target.fields.iter().position(|(existing, field)| {
                    existing == name && matches!(field, FieldPattern::Nested(_))
                });
                let index = match position {
                    Some(index) => index,
                    None => {
                        target
                            .fields
                            .push((name.clone(), FieldPattern::Nested(ObjectPattern::default())));
                        target.fields.len() - 1
                    }
                };
                let FieldPattern::Nested(nested) = &mut target.fields[index].1 else {
                    unreachable!("found or pushed a nested field")
                };
                parse_object(nested, nested_members, inside_or)?;
            }
            Node::Array(items) => {
                let matchers = parse_leaf(items)?;
                // A repeated key with values replaces the earlier values.
                target.fields.retain(|(existing, field)| {
                    !(existing == name && matches!(field, FieldPattern::Leaf(_)))
                });
                target
                    .fields
                    .push((name.clone(), FieldPattern::Leaf(matchers)));
            }
            _ => return invalid(format!("\"{name}\" must be an object or an array")),
        }
    }
    Ok(())
}

fn parse_leaf(items: &[Node]) -> Result<Vec<Matcher>, PatternError> {
    let mut matchers = Vec::with_capacity(items.len());
    for item in items {
        matchers.push(match item {
            Node::Object(members) => parse_match_expression(members)?,
            Node::String(text) => {
                let address = match ip::parse_address(text) {
                    Some(Ok(address)) => Some(address),
                    _ => None,
                };
                Matcher::String {
                    text: text.clone(),
                    address,
                }
            }
            Node::Number(number) => Matcher::Number(number.as_f64().unwrap_or(f64::NAN)),
            Node::Bool(value) => Matcher::Bool(*value),
            Node::Null => Matcher::Null,
            Node::Array(_) => {
                return invalid("Match value must be String, number, true, false, or null")
            }
        });
    }
    if matchers.is_empty() {
        return invalid("Empty arrays are not allowed");
    }
    Ok(matchers)
}

/// The first member of a match expression (callers check that it is the only one after
/// its value, the order in which EventBridge reports problems).
fn single_member(members: &[(String, Node)]) -> Result<(&str, &Node), PatternError> {
    match members.first() {
        Some((name, value)) => Ok((name.as_str(), value)),
        None => invalid("Match expression name not found"),
    }
}

fn only_one(members: &[(String, Node)], message: &str) -> Result<(), PatternError> {
    if members.len() > 1 {
        return invalid(message.to_string());
    }
    Ok(())
}

const ONLY_ONE_KEY: &str = "Only one key allowed in match expression";
const TOO_MANY_NUMERIC: &str = "Too many elements in numeric expression";

fn parse_match_expression(members: &[(String, Node)]) -> Result<Matcher, PatternError> {
    let (name, value) = single_member(members)?;
    let matcher = match name {
        "prefix" | "suffix" => {
            let is_prefix = name == "prefix";
            match value {
                Node::String(text) => {
                    if is_prefix {
                        Matcher::Prefix(text.clone())
                    } else {
                        Matcher::Suffix(text.clone())
                    }
                }
                Node::Object(inner) => {
                    let text = parse_ignore_case_object(inner)?;
                    if is_prefix {
                        Matcher::PrefixIgnoreCase(fold_case(&text))
                    } else {
                        Matcher::SuffixIgnoreCase(fold_case(&text))
                    }
                }
                _ => return invalid(format!("{name} match pattern must be a string")),
            }
        }
        "equals-ignore-case" => match value {
            Node::String(text) => Matcher::EqualsIgnoreCase(fold_case(text)),
            _ => return invalid("equals-ignore-case match pattern must be a string"),
        },
        "wildcard" => match value {
            Node::String(text) => Matcher::Wildcard(Wildcard::parse(text).or_else(invalid)?),
            _ => return invalid("wildcard match pattern must be a string"),
        },
        "exists" => match value {
            Node::Bool(value) => Matcher::Exists(*value),
            _ => return invalid("exists match pattern must be either true or false."),
        },
        "cidr" => match value {
            // AWS's parser reports a non-string block with the prefix wording.
            Node::String(text) => Matcher::Cidr(ip::parse_cidr(text).or_else(invalid)?),
            _ => return invalid("prefix match pattern must be a string"),
        },
        "numeric" => {
            let Node::Array(items) = value else {
                return invalid("Value of numeric must be an array.");
            };
            let range = parse_numeric(items)?;
            only_one(members, TOO_MANY_NUMERIC)?;
            return Ok(Matcher::Numeric(range));
        }
        "anything-but" => {
            let anything_but = parse_anything_but(value)?;
            only_one(members, TOO_MANY_NUMERIC)?;
            return Ok(Matcher::AnythingBut(anything_but));
        }
        other => return invalid(format!("Unrecognized match type {other}")),
    };
    only_one(members, ONLY_ONE_KEY)?;
    Ok(matcher)
}

/// `{"equals-ignore-case": "text"}` inside `prefix` or `suffix`.
fn parse_ignore_case_object(members: &[(String, Node)]) -> Result<String, PatternError> {
    let (name, value) = single_member(members)?;
    if name != "equals-ignore-case" {
        return invalid(format!("Unsupported anything-but pattern: {name}"));
    }
    let Node::String(text) = value else {
        return invalid("equals-ignore-case match pattern must be a string");
    };
    only_one(members, ONLY_ONE_KEY)?;
    Ok(text.clone())
}

fn checked_number(node: &Node) -> Result<f64, PatternError> {
    let value = node.as_f64().unwrap_or(f64::NAN);
    if !(-NUMBER_LIMIT..=NUMBER_LIMIT).contains(&value) {
        return invalid("Value must be between -5.0E9 and 5.0E9, inclusive");
    }
    Ok(value)
}

fn parse_numeric(items: &[Node]) -> Result<NumericRange, PatternError> {
    let mut items = items.iter();
    let operator = match items.next() {
        Some(Node::String(operator)) => operator.as_str(),
        Some(other) => {
            return invalid(format!(
                "Invalid member in numeric match: {}",
                other.token_text()
            ))
        }
        None => return invalid("Invalid member in numeric match: ]"),
    };
    if !matches!(operator, "=" | "<" | "<=" | ">" | ">=") {
        return invalid(format!("Unrecognized numeric range operator: {operator}"));
    }
    let value = match items.next() {
        Some(node @ Node::Number(_)) => checked_number(node)?,
        _ => {
            let shown = if operator == "=" { "equals" } else { operator };
            return invalid(format!("Value of {shown} must be numeric"));
        }
    };
    let bound = |inclusive| Some(Bound { value, inclusive });
    let mut range = match operator {
        "=" => NumericRange {
            lower: bound(true),
            upper: bound(true),
        },
        "<" => NumericRange {
            lower: None,
            upper: bound(false),
        },
        "<=" => NumericRange {
            lower: None,
            upper: bound(true),
        },
        ">" => NumericRange {
            lower: bound(false),
            upper: None,
        },
        _ => NumericRange {
            lower: bound(true),
            upper: None,
        },
    };
    let Some(second) = items.next() else {
        return Ok(range);
    };
    if !matches!(operator, ">" | ">=") {
        return invalid(TOO_MANY_NUMERIC);
    }
    let upper_operator = match second {
        Node::String(text) => text.as_str(),
        other => {
            return invalid(format!(
                "Bad value in numeric range: {}",
                other.token_text()
            ))
        }
    };
    if !matches!(upper_operator, "<" | "<=") {
        return invalid(format!("Bad numeric range operator: {upper_operator}"));
    }
    let top = match items.next() {
        Some(node @ Node::Number(_)) => checked_number(node)?,
        _ => return invalid(format!("Value of {upper_operator} must be numeric")),
    };
    if items.next().is_some() {
        return invalid("Too many terms in numeric range expression");
    }
    if top <= value {
        return invalid("Bottom must be less than top");
    }
    range.upper = Some(Bound {
        value: top,
        inclusive: upper_operator == "<=",
    });
    Ok(range)
}

const ANYTHING_BUT_VALUE: &str =
    "Value of anything-but must be an array or single string/number value.";

fn parse_anything_but(value: &Node) -> Result<AnythingBut, PatternError> {
    match value {
        Node::String(text) => Ok(AnythingBut::Strings(vec![text.clone()])),
        Node::Number(_) => Ok(AnythingBut::Numbers(vec![checked_number(value)?])),
        Node::Array(items) => {
            let mut strings = Vec::new();
            let mut numbers = Vec::new();
            for item in items {
                match item {
                    Node::String(text) => strings.push(text.clone()),
                    Node::Number(_) => numbers.push(checked_number(item)?),
                    _ => {
                        return invalid(
                            "Inside anything but list, start|null|boolean is not supported.",
                        )
                    }
                }
            }
            match (strings.is_empty(), numbers.is_empty()) {
                (false, true) => Ok(AnythingBut::Strings(strings)),
                (true, false) => Ok(AnythingBut::Numbers(numbers)),
                _ => invalid("Inside anything but list, either all values are number or string, mixed type is not supported"),
            }
        }
        Node::Object(members) => {
            let Some((name, inner)) = members.first() else {
                return invalid("Anything-But expression name not found");
            };
            let result = match name.as_str() {
                "prefix" | "suffix" => {
                    let texts = strings_or_list(inner, "prefix/suffix match pattern must be a string")?;
                    if texts.iter().any(String::is_empty) {
                        return invalid("Null prefix/suffix not allowed");
                    }
                    if name == "prefix" {
                        AnythingBut::Prefixes(texts)
                    } else {
                        AnythingBut::Suffixes(texts)
                    }
                }
                "equals-ignore-case" => match inner {
                    Node::String(text) => AnythingBut::EqualsIgnoreCase(vec![fold_case(text)]),
                    Node::Array(items) => {
                        let mut texts = Vec::with_capacity(items.len());
                        for item in items {
                            let Node::String(text) = item else {
                                return invalid(
                                    "Inside anything-but/equals-ignore-case list, numberic|start|null|boolean is not supported.",
                                );
                            };
                            texts.push(fold_case(text));
                        }
                        AnythingBut::EqualsIgnoreCase(texts)
                    }
                    Node::Number(_) => {
                        return invalid(
                            "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.",
                        )
                    }
                    _ => return invalid(ANYTHING_BUT_VALUE),
                },
                "wildcard" => {
                    let texts = strings_or_list(inner, "wildcard match pattern must be a string")?;
                    let mut wildcards = Vec::with_capacity(texts.len());
                    for text in &texts {
                        wildcards.push(Wildcard::parse(text).or_else(invalid)?);
                    }
                    AnythingBut::Wildcards(wildcards)
                }
                other => return invalid(format!("Unsupported anything-but pattern: {other}")),
            };
            only_one(members, ONLY_ONE_KEY)?;
            Ok(result)
        }
        Node::Null | Node::Bool(_) => invalid(ANYTHING_BUT_VALUE),
    }
}

/// A string, or a non-empty list of strings.
fn strings_or_list(node: &Node, message: &str) -> Result<Vec<String>, PatternError> {
    match node {
        Node::String(text) => Ok(vec![text.clone()]),
        Node::Array(items) if !items.is_empty() => items
            .iter()
            .map(|item| match item {
                Node::String(text) => Ok(text.clone()),
                _ => invalid(message),
            })
            .collect(),
        Node::Object(_) => invalid(ANYTHING_BUT_VALUE),
        _ => invalid(message),
    }
}

/// Case folding for the `*-ignore-case` operators: lower case, as AWS documents
/// ("any other casing variation").
fn fold_case(text: &str) -> String {
    text.to_lowercase()
}

fn object_matches(
    pattern: &ObjectPattern,
    object: Option<&serde_json::Map<String, Value>>,
) -> bool {
    pattern
        .fields
        .iter()
        .all(|(name, field)| field_matches(field, object.and_then(|object| object.get(name))))
        && pattern.any_of.iter().all(|alternatives| {
            alternatives
                .iter()
                .any(|alternative| object_matches(alternative, object))
        })
}

fn field_matches(field: &FieldPattern, value: Option<&Value>) -> bool {
    match field {
        FieldPattern::Nested(nested) => {
            let mut objects = Vec::new();
            if let Some(value) = value {
                collect_objects(value, &mut objects);
            }
            // The nested fields must all hold in one object: with no object at all,
            // every nested field is absent, which `exists: false` can still match.
            if objects.is_empty() {
                object_matches(nested, None)
            } else {
                objects
                    .into_iter()
                    .any(|object| object_matches(nested, Some(object)))
            }
        }
        FieldPattern::Leaf(matchers) => {
            let mut leaves = Vec::new();
            if let Some(value) = value {
                collect_leaves(value, &mut leaves);
            }
            matchers.iter().any(|matcher| match matcher {
                Matcher::Exists(wanted) => leaves.is_empty() != *wanted,
                other => leaves.iter().any(|leaf| leaf_matches(other, leaf)),
            })
        }
    }
}

/// The objects a nested pattern can match at this place: the value itself, or the
/// objects among an array's elements, nested arrays flattened.
fn collect_objects<'a>(value: &'a Value, objects: &mut Vec<&'a serde_json::Map<String, Value>>) {
    match value {
        Value::Object(object) => objects.push(object),
        Value::Array(items) => items.iter().for_each(|item| collect_objects(item, objects)),
        _ => {}
    }
}

/// The scalar values at this place: the value itself, or an array's scalar elements,
/// nested arrays flattened. Objects are not leaves, so a value matcher never matches one.
fn collect_leaves<'a>(value: &'a Value, leaves: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| collect_leaves(item, leaves)),
        Value::Object(_) => {}
        scalar => leaves.push(scalar),
    }
}

fn leaf_matches(matcher: &Matcher, leaf: &Value) -> bool {
    match matcher {
        Matcher::String { text, address } => match leaf {
            Value::String(value) => {
                value == text
                    || address.is_some_and(|address| matches!(ip::parse_address(value), Some(Ok(parsed)) if parsed == address))
            }
            _ => false,
        },
        Matcher::Number(number) => leaf.as_f64() == Some(*number) && leaf.is_number(),
        Matcher::Bool(value) => leaf.as_bool() == Some(*value),
        Matcher::Null => leaf.is_null(),
        Matcher::Prefix(prefix) => leaf.as_str().is_some_and(|value| value.starts_with(prefix.as_str())),
        Matcher::Suffix(suffix) => leaf.as_str().is_some_and(|value| value.ends_with(suffix.as_str())),
        Matcher::PrefixIgnoreCase(prefix) => leaf.as_str().is_some_and(|value| fold_case(value).starts_with(prefix.as_str())),
        Matcher::SuffixIgnoreCase(suffix) => leaf.as_str().is_some_and(|value| fold_case(value).ends_with(suffix.as_str())),
        Matcher::EqualsIgnoreCase(text) => leaf.as_str().is_some_and(|value| fold_case(value) == *text),
        Matcher::Wildcard(wildcard) => leaf.as_str().is_some_and(|value| wildcard.matches(value)),
        Matcher::Numeric(range) => leaf.as_f64().is_some_and(|value| leaf.is_number() && range.contains(value)),
        Matcher::Cidr(range) => leaf.as_str().is_some_and(|value| range.contains(value)),
        Matcher::Exists(_) => unreachable!("exists is decided by the presence of leaves"),
        Matcher::AnythingBut(anything_but) => anything_but_matches(anything_but, leaf),
    }
}

/// `anything-but` matches every present scalar that is not excluded: values of another
/// type than the excluded ones are never excluded.
fn anything_but_matches(anything_but: &AnythingBut, leaf: &Value) -> bool {
    let text = leaf.as_str();
    match anything_but {
        AnythingBut::Strings(excluded) => {
            !text.is_some_and(|value| excluded.iter().any(|item| item == value))
        }
        AnythingBut::Numbers(excluded) => {
            !(leaf.is_number() && leaf.as_f64().is_some_and(|value| excluded.contains(&value)))
        }
        AnythingBut::Prefixes(excluded) => {
            !text.is_some_and(|value| excluded.iter().any(|item| value.starts_with(item.as_str())))
        }
        AnythingBut::Suffixes(excluded) => {
            !text.is_some_and(|value| excluded.iter().any(|item| value.ends_with(item.as_str())))
        }
        AnythingBut::EqualsIgnoreCase(excluded) => {
            !text.is_some_and(|value| excluded.contains(&fold_case(value)))
        }
        AnythingBut::Wildcards(excluded) => {
            !text.is_some_and(|value| excluded.iter().any(|item| item.matches(value)))
        }
    }
}

impl NumericRange {
    fn contains(&self, value: f64) -> bool {
        // Event numbers beyond the limit cannot be compared, as on AWS.
        if !(-NUMBER_LIMIT..=NUMBER_LIMIT).contains(&value) {
            return false;
        }
        let above = self.lower.is_none_or(|bound| {
            if bound.inclusive {
                value >= bound.value
            } else {
                value > bound.value
            }
        });
        let below = self.upper.is_none_or(|bound| {
            if bound.inclusive {
                value <= bound.value
            } else {
                value < bound.value
            }
        });
        above && below
    }
}

#[cfg(test)]
mod tests;
