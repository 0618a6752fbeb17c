//! DynamoDB's request-level constraint checks ("1 validation error detected:
//! Value null at 'tableName' failed to satisfy constraint: ..."), collected
//! per request and reported together as DynamoDB does.

use crate::error::{StoreError, StoreResult};

/// Constraint violations of one request, in the order DynamoDB lists them.
#[derive(Debug, Default)]
pub(crate) struct Violations {
    messages: Vec<String>,
}

impl Violations {
    pub(crate) fn new() -> Violations {
        Violations::default()
    }

    fn push(&mut self, value: &str, field: &str, constraint: &str) {
        self.messages.push(format!(
            "Value {value} at '{field}' failed to satisfy constraint: {constraint}"
        ));
    }

    /// A required member.
    pub(crate) fn required<T>(&mut self, value: Option<&T>, field: &str) {
        if value.is_none() {
            self.push("null", field, "Member must not be null");
        }
    }

    /// A table or index name: required, 3 to 255 characters of `[a-zA-Z0-9_.-]`.
    pub(crate) fn table_name(&mut self, name: Option<&String>, field: &str) {
        match name {
            None => self.push("null", field, "Member must not be null"),
            // Since table names may also be ARNs, DynamoDB's model gives the
            // member a minimum length of 1, and an empty name fails only that
            // constraint (a name of 1 or 2 characters still fails the 3).
            Some(name) if name.is_empty() => self.push(
                "''",
                field,
                "Member must have length greater than or equal to 1",
            ),
            Some(name) => self.name_pattern(name, field),
        }
    }

    /// An optional name with the table name constraints.
    pub(crate) fn name_pattern(&mut self, name: &str, field: &str) {
        let quoted = format!("'{name}'");
        if !name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-'))
        {
            self.push(
                &quoted,
                field,
                "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
            );
        }
        if name.len() < 3 {
            self.push(
                &quoted,
                field,
                "Member must have length greater than or equal to 3",
            );
        }
        if name.len() > 255 {
            self.push(
                &quoted,
                field,
                "Member must have length less than or equal to 255",
            );
        }
    }

    /// A member restricted to a set of names.
    pub(crate) fn one_of(&mut self, value: Option<&String>, field: &str, allowed: &[&str]) {
        if let Some(value) = value {
            if !allowed.contains(&value.as_str()) {
                self.push(
                    &format!("'{value}'"),
                    field,
                    &format!(
                        "Member must satisfy enum value set: [{}]",
                        allowed.join(", ")
                    ),
                );
            }
        }
    }

    /// A number with a lower bound.
    pub(crate) fn at_least(&mut self, value: Option<i64>, field: &str, minimum: i64) {
        if let Some(value) = value {
            if value < minimum {
                self.push(
                    &format!("'{value}'"),
                    field,
                    &format!("Member must have value greater than or equal to {minimum}"),
                );
            }
        }
    }

    /// A violation that DynamoDB reports without echoing the value, usually
    /// under the member's wire name (`Value at 'Limit' ...`).
    pub(crate) fn unechoed(&mut self, field: &str, constraint: &str) {
        self.messages.push(format!(
            "Value at '{field}' failed to satisfy constraint: {constraint}"
        ));
    }

    /// A number with a lower bound, reported without its value (Query's
    /// `Limit`).
    pub(crate) fn at_least_unechoed(&mut self, value: Option<i64>, field: &str, minimum: i64) {
        if value.is_some_and(|value| value < minimum) {
            self.unechoed(
                field,
                &format!("Member must have value greater than or equal to {minimum}"),
            );
        }
    }

    /// A violation whose value DynamoDB echoes in a form of its own.
    pub(crate) fn echoed(&mut self, value: &str, field: &str, constraint: &str) {
        self.push(value, field, constraint);
    }

    /// A number with an upper bound.
    pub(crate) fn at_most(&mut self, value: Option<i64>, field: &str, maximum: i64) {
        if let Some(value) = value {
            if value > maximum {
                self.push(
                    &format!("'{value}'"),
                    field,
                    &format!("Member must have value less than or equal to {maximum}"),
                );
            }
        }
    }

    /// A collection with a size range.
    pub(crate) fn length_between(
        &mut self,
        length: Option<usize>,
        shown: &str,
        field: &str,
        minimum: usize,
        maximum: usize,
    ) {
        if let Some(length) = length {
            if length < minimum {
                self.push(
                    shown,
                    field,
                    &format!("Member must have length greater than or equal to {minimum}"),
                );
            } else if length > maximum {
                self.push(
                    shown,
                    field,
                    &format!("Member must have length less than or equal to {maximum}"),
                );
            }
        }
    }

    /// Fails with every violation found, as one `ValidationException`.
    pub(crate) fn finish(self) -> StoreResult<()> {
        match self.messages.len() {
            0 => Ok(()),
            count => Err(StoreError::validation(format!(
                "{count} validation error{} detected: {}",
                if count == 1 { "" } else { "s" },
                self.messages.join("; ")
            ))),
        }
    }
}

/// The `ReturnConsumedCapacity` values.
pub(crate) const CAPACITY_VALUES: [&str; 3] = ["INDEXES", "TOTAL", "NONE"];

/// The `ReturnItemCollectionMetrics` values.
pub(crate) const METRICS_VALUES: [&str; 2] = ["SIZE", "NONE"];

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;

    #[test]
    fn messages() {
        let mut violations = Violations::new();
        violations.table_name(Some(&"a!".to_owned()), "tableName");
        violations.required::<String>(None, "key");
        let error = violations.finish().expect_err("three violations");
        expect!["3 validation errors detected: Value 'a!' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value 'a!' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 3; Value null at 'key' failed to satisfy constraint: Member must not be null"].assert_eq(&error.message);
    }
}
