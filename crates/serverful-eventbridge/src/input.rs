//! What a rule's target receives: the whole event, a constant (`Input`), the part of the
//! event a JSON path selects (`InputPath`), or a template filled from the event
//! (`InputTransformer`).
//!
//! Checks happen when the target is created (PutTargets); rendering never fails.

use serde_json::Value;

/// Reserved template variables, always defined and never definable in `InputPathsMap`.
pub const RULE_ARN: &str = "aws.events.rule-arn";
pub const RULE_NAME: &str = "aws.events.rule-name";
pub const EVENT: &str = "aws.events.event";
pub const EVENT_JSON: &str = "aws.events.event.json";
pub const INGESTION_TIME: &str = "aws.events.event.ingestion-time";
const RESERVED: &[&str] = &[RULE_ARN, RULE_NAME, EVENT, EVENT_JSON, INGESTION_TIME];

/// PutTargets' limits.
pub const MAX_INPUT_PATHS: usize = 100;
pub const MAX_INPUT_PATH_LENGTH: usize = 256;
pub const MAX_INPUT_TEMPLATE_LENGTH: usize = 8192;
pub const MAX_INPUT_LENGTH: usize = 8192;

/// Why a target's input settings were refused (AWS answers `ValidationException`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InputError {
    #[error("Input for target {target_id} is not valid JSON: {reason}")]
    InputNotJson { target_id: String, reason: String },
    #[error("Input for target {target_id} is {length} characters long; at most {MAX_INPUT_LENGTH} are allowed")]
    InputTooLong { target_id: String, length: usize },
    #[error("Only one of Input, InputPath, or InputTransformer must be provided for target {target_id}.")]
    MoreThanOneInput { target_id: String },
    #[error("InputPath {path} for target {target_id} is not a valid JSON path: {reason}")]
    BadPath {
        target_id: String,
        path: String,
        reason: String,
    },
    #[error("InputPathsMap for target {target_id} has {count} entries; at most {MAX_INPUT_PATHS} are allowed")]
    TooManyPaths { target_id: String, count: usize },
    #[error("InputPathsMap key {key} for target {target_id} is not valid: {reason}")]
    BadKey {
        target_id: String,
        key: String,
        reason: String,
    },
    #[error("InputTemplate for target {target_id} is {length} characters long; it must be 1 to {MAX_INPUT_TEMPLATE_LENGTH}")]
    TemplateLength { target_id: String, length: usize },
    #[error("InputTemplate for target {target_id} contains invalid placeholder {placeholder}.")]
    UnknownPlaceholder {
        target_id: String,
        placeholder: String,
    },
    #[error("InputTemplate for target {target_id} uses placeholder {placeholder} as an object key, which is not allowed.")]
    PlaceholderAsKey {
        target_id: String,
        placeholder: String,
    },
}

/// A target's input setting, checked.
#[derive(Debug, Clone, PartialEq)]
pub enum TargetInput {
    /// The matched event itself (no input setting).
    Event,
    /// `Input`: constant JSON text, delivered as given.
    Constant(String),
    /// `InputPath`.
    Path(JsonPath),
    /// `InputTransformer`.
    Transformer(InputTransformer),
}

/// What rendering needs beyond the event: the rule and when the event arrived.
#[derive(Debug, Clone)]
pub struct RuleContext<'a> {
    pub rule_name: &'a str,
    pub rule_arn: &'a str,
    /// RFC 3339, as EventBridge writes it (`2015-11-11T21:29:54Z`).
    pub ingestion_time: &'a str,
}

impl TargetInput {
    /// Checks a target's `Input`, `InputPath` and `InputTransformer` (at most one set).
    pub fn new(
        target_id: &str,
        input: Option<&str>,
        input_path: Option<&str>,
        transformer: Option<(&[(String, String)], &str)>,
    ) -> Result<TargetInput, InputError> {
        let count = usize::from(input.is_some())
            + usize::from(input_path.is_some())
            + usize::from(transformer.is_some());
        if count > 1 {
            return Err(InputError::MoreThanOneInput {
                target_id: target_id.to_string(),
            });
        }
        if let Some(text) = input {
            let length = text.encode_utf16().count();
            if length > MAX_INPUT_LENGTH {
                return Err(InputError::InputTooLong {
                    target_id: target_id.to_string(),
                    length,
                });
            }
            serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(|error| {
                InputError::InputNotJson {
                    target_id: target_id.to_string(),
                    reason: error.to_string(),
                }
            })?;
            return Ok(TargetInput::Constant(text.to_string()));
        }
        if let Some(path) = input_path {
            return Ok(TargetInput::Path(JsonPath::parse(target_id, path)?));
        }
        if let Some((paths, template)) = transformer {
            return Ok(TargetInput::Transformer(InputTransformer::new(
                target_id, paths, template,
            )?));
        }
        Ok(TargetInput::Event)
    }

    /// The payload the target receives, as JSON text (or, for a plain-text template,
    /// that text).
    pub fn render(&self, event: &Value, rule: &RuleContext<'_>) -> String {
        match self {
            TargetInput::Event => event.to_string(),
            TargetInput::Constant(text) => text.clone(),
            // A path that selects nothing is delivered as `null`; AWS documents no other
            // value for this case.
            TargetInput::Path(path) => path.select(event).unwrap_or(Value::Null).to_string(),
            TargetInput::Transformer(transformer) => transformer.render(event, rule),
        }
    }
}

/// The JSON path subset EventBridge accepts: `$`, then `.name` steps (names may hold
/// letters, digits, `-`, `_`, `/` and other characters except `.` and `[`), `[index]`
/// steps and `*` / `[*]` wildcards. With a wildcard, the result is the array of every
/// value found.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(usize),
    Any,
}

impl JsonPath {
    pub fn parse(target_id: &str, text: &str) -> Result<JsonPath, InputError> {
        let bad = |reason: &str| InputError::BadPath {
            target_id: target_id.to_string(),
            path: text.to_string(),
            reason: reason.to_string(),
        };
        if text.chars().count() > MAX_INPUT_PATH_LENGTH {
            return Err(bad("it is longer than 256 characters"));
        }
        let Some(mut rest) = text.strip_prefix('$') else {
            return Err(bad("it must start with $"));
        };
        let mut steps = Vec::new();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                let end = after.find(['.', '[']).unwrap_or(after.len());
                let name = &after[..end];
                if name.is_empty() {
                    return Err(bad("a field name is empty"));
                }
                steps.push(if name == "*" {
                    Step::Any
                } else {
                    Step::Field(name.to_string())
                });
                rest = &after[end..];
            } else if let Some(after) = rest.strip_prefix('[') {
                let Some(end) = after.find(']') else {
                    return Err(bad("a [ is not closed"));
                };
                let inside = &after[..end];
                if inside == "*" {
                    steps.push(Step::Any);
                } else {
                    let index = inside.parse::<usize>().map_err(|_| {
                        bad("brackets hold an array index or *; use dot notation for fields")
                    })?;
                    steps.push(Step::Index(index));
                }
                rest = &after[end + 1..];
            } else {
                return Err(bad("expected . or [ after a step"));
            }
        }
        Ok(JsonPath { steps })
    }

    /// The value the path selects, if any.
    pub fn select(&self, event: &Value) -> Option<Value> {
        let mut found = Vec::new();
        walk(&self.steps, event, &mut found);
        if self.steps.contains(&Step::Any) {
            return Some(Value::Array(found.into_iter().cloned().collect()));
        }
        found.first().map(|value| (*value).clone())
    }
}

fn walk<'a>(steps: &[Step], value: &'a Value, found: &mut Vec<&'a Value>) {
    let Some((step, rest)) = steps.split_first() else {
        found.push(value);
        return;
    };
    match (step, value) {
        (Step::Field(name), Value::Object(object)) => {
            if let Some(child) = object.get(name) {
                walk(rest, child, found);
            }
        }
        (Step::Index(index), Value::Array(items)) => {
            if let Some(child) = items.get(*index) {
                walk(rest, child, found);
            }
        }
        (Step::Any, Value::Array(items)) => items.iter().for_each(|child| walk(rest, child, found)),
        (Step::Any, Value::Object(object)) => {
            object.values().for_each(|child| walk(rest, child, found))
        }
        _ => {}
    }
}

/// An `InputTransformer`: variables read from the event by JSON paths, and a template
/// that names them as `<name>`.
///
/// A template that is a JSON object or array (its first non-blank character is `{` or
/// `[`) gets each variable as JSON where it stands outside a string (a string value
/// quoted, a missing value `null`), and as text inside a string. Any other template is
/// text: variables are written as their text (a string without quotes, a missing one as
/// nothing). AWS documents that it does not escape the text it writes into a string,
/// which can break the payload's JSON; Serverful escapes it, so the payload stays valid.
#[derive(Debug, Clone, PartialEq)]
pub struct InputTransformer {
    paths: Vec<(String, JsonPath)>,
    template: String,
    json_template: bool,
}

impl InputTransformer {
    pub fn new(
        target_id: &str,
        paths: &[(String, String)],
        template: &str,
    ) -> Result<InputTransformer, InputError> {
        if paths.len() > MAX_INPUT_PATHS {
            return Err(InputError::TooManyPaths {
                target_id: target_id.to_string(),
                count: paths.len(),
            });
        }
        let mut parsed_paths = Vec::with_capacity(paths.len());
        for (key, path) in paths {
            let bad_key = |reason: &str| InputError::BadKey {
                target_id: target_id.to_string(),
                key: key.clone(),
                reason: reason.to_string(),
            };
            if RESERVED.contains(&key.as_str()) || key.to_ascii_lowercase().starts_with("aws.") {
                return Err(bad_key(
                    "names starting with aws. are reserved for EventBridge's own variables",
                ));
            }
            if key.is_empty() || key.chars().count() > 256 || !key.chars().all(is_key_char) {
                return Err(bad_key("use 1 to 256 letters, digits, _ or -"));
            }
            parsed_paths.push((key.clone(), JsonPath::parse(target_id, path)?));
        }
        let length = template.encode_utf16().count();
        if length == 0 || length > MAX_INPUT_TEMPLATE_LENGTH {
            return Err(InputError::TemplateLength {
                target_id: target_id.to_string(),
                length,
            });
        }
        let json_template = matches!(template.trim_start().chars().next(), Some('{' | '['));
        let transformer = InputTransformer {
            paths: parsed_paths,
            template: template.to_string(),
            json_template,
        };
        for piece in transformer.pieces() {
            if let Piece::Placeholder {
                name,
                in_string,
                before_colon,
            } = piece
            {
                if !RESERVED.contains(&name)
                    && !transformer.paths.iter().any(|(key, _)| key == name)
                {
                    return Err(InputError::UnknownPlaceholder {
                        target_id: target_id.to_string(),
                        placeholder: name.to_string(),
                    });
                }
                if transformer.json_template && !in_string && before_colon {
                    return Err(InputError::PlaceholderAsKey {
                        target_id: target_id.to_string(),
                        placeholder: name.to_string(),
                    });
                }
            }
        }
        Ok(transformer)
    }

    pub fn render(&self, event: &Value, rule: &RuleContext<'_>) -> String {
        let mut output = String::with_capacity(self.template.len());
        for piece in self.pieces() {
            match piece {
                Piece::Text(text) => output.push_str(text),
                Piece::Placeholder {
                    name, in_string, ..
                } => {
                    let value = self.variable(name, event, rule);
                    if in_string {
                        let text = value.as_ref().map(text_of).unwrap_or_default();
                        // The JSON string's inside: escaped, without the quotes.
                        let quoted = Value::String(text).to_string();
                        output.push_str(&quoted[1..quoted.len() - 1]);
                    } else if self.json_template {
                        output.push_str(&value.unwrap_or(Value::Null).to_string());
                    } else {
                        output.push_str(&value.as_ref().map(text_of).unwrap_or_default());
                    }
                }
            }
        }
        output
    }

    fn variable(&self, name: &str, event: &Value, rule: &RuleContext<'_>) -> Option<Value> {
        match name {
            RULE_ARN => Some(Value::String(rule.rule_arn.to_string())),
            RULE_NAME => Some(Value::String(rule.rule_name.to_string())),
            INGESTION_TIME => Some(Value::String(rule.ingestion_time.to_string())),
            EVENT | EVENT_JSON => Some(event.clone()),
            _ => self
                .paths
                .iter()
                .find(|(key, _)| key == name)
                .and_then(|(_, path)| path.select(event)),
        }
    }

    /// The template cut into text and placeholders, each placeholder knowing whether it
    /// stands inside a JSON string and whether a `:` follows it (an object key).
    fn pieces(&self) -> Vec<Piece<'_>> {
        let template = self.template.as_str();
        let bytes = template.as_bytes();
        let mut pieces = Vec::new();
        let mut in_string = false;
        let mut text_start = 0;
        let mut index = 0;
        while index < bytes.len() {
            match bytes[index] {
                b'\\' if in_string => index += 1,
                b'"' => in_string = !in_string,
                b'<' => {
                    let name_end = bytes[index + 1..]
                        .iter()
                        .position(|byte| !is_placeholder_byte(*byte))
                        .map(|offset| index + 1 + offset);
                    if let Some(end) =
                        name_end.filter(|end| *end > index + 1 && bytes[*end] == b'>')
                    {
                        pieces.push(Piece::Text(&template[text_start..index]));
                        let before_colon = template[end + 1..].trim_start().starts_with(':');
                        pieces.push(Piece::Placeholder {
                            name: &template[index + 1..end],
                            in_string,
                            before_colon,
                        });
                        index = end + 1;
                        text_start = index;
                        continue;
                    }
                }
                _ => {}
            }
            index += 1;
        }
        pieces.push(Piece::Text(&template[text_start.min(template.len())..]));
        pieces
    }
}

enum Piece<'a> {
    Text(&'a str),
    Placeholder {
        name: &'a str,
        in_string: bool,
        before_colon: bool,
    },
}

fn is_key_char(character: char) -> bool {
    character.is_ascii_alphanumeric() || character == '_' || character == '-'
}

fn is_placeholder_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'.')
}

/// A value as text: a string's characters, anything else its JSON.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
