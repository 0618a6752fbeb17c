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
        if name.is_empty()
            || !name
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

    /// `AttributesToGet`: 1 to 255 names, echoed as DynamoDB prints a list.
    pub(crate) fn attributes_to_get(&mut self, names: Option<&Vec<String>>) {
        if let Some(names) = names {
            self.length_between(
                Some(names.len()),
                &format!("'[{}]'", names.join(", ")),
                "attributesToGet",
                1,
                255,
            );
        }
    }

    /// The legacy conditions of `QueryFilter`, `ScanFilter` and `KeyConditions`: each
    /// needs a known `ComparisonOperator`.
    pub(crate) fn legacy_conditions(
        &mut self,
        conditions: Option<&std::collections::BTreeMap<String, crate::api::Condition>>,
        field: &str,
    ) {
        for (name, condition) in conditions.into_iter().flatten() {
            self.comparison_operator(
                condition.comparison_operator.as_ref(),
                &format!("{field}.{name}.member.comparisonOperator"),
                true,
            );
        }
    }

    /// The legacy `Expected` conditions and their `ConditionalOperator`.
    pub(crate) fn expected(
        &mut self,
        expected: Option<&std::collections::BTreeMap<String, crate::api::ExpectedAttributeValue>>,
        conditional_operator: Option<&String>,
    ) {
        for (name, entry) in expected.into_iter().flatten() {
            self.comparison_operator(
                entry.comparison_operator.as_ref(),
                &format!("expected.{name}.member.comparisonOperator"),
                false,
            );
        }
        self.one_of(
            conditional_operator,
            "conditionalOperator",
            &CONDITIONAL_OPERATORS,
        );
    }

    /// A `ComparisonOperator`, required in filters and key conditions.
    pub(crate) fn comparison_operator(
        &mut self,
        value: Option<&String>,
        field: &str,
        required: bool,
    ) {
        if required {
            self.required(value, field);
        }
        self.one_of(value, field, &COMPARISON_OPERATORS);
    }

    /// Fails with every violation found, as one `ValidationException`.
    ///
    /// DynamoDB reports at most ten; a request with more gets the first ten.
    pub(crate) fn finish(mut self) -> StoreResult<()> {
        self.messages.truncate(MAX_REPORTED);
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

/// The most violations one `ValidationException` lists.
const MAX_REPORTED: usize = 10;

/// The `ComparisonOperator` values, in the order DynamoDB lists them.
pub(crate) const COMPARISON_OPERATORS: [&str; 13] = [
    "IN",
    "NULL",
    "BETWEEN",
    "LT",
    "NOT_CONTAINS",
    "EQ",
    "GT",
    "NOT_NULL",
    "NE",
    "LE",
    "BEGINS_WITH",
    "GE",
    "CONTAINS",
];

/// The `ConditionalOperator` values, in the order DynamoDB lists them.
pub(crate) const CONDITIONAL_OPERATORS: [&str; 2] = ["OR", "AND"];

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
