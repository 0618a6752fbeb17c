//! Tests of the legacy parameters through one `check` helper per parameter.

use expect_test::{expect, Expect};

use super::*;
use crate::eval::evaluate_condition;
use crate::key::KeyAttribute;

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

fn n(text: &str) -> AttributeValue {
    AttributeValue::N(Number::parse(text).expect("valid test number"))
}

fn render<T: std::fmt::Debug>(result: StoreResult<T>) -> String {
    match result {
        Ok(value) => format!("{value:?}"),
        Err(error) => error.to_string(),
    }
}

fn check_expected(
    entries: Vec<(&str, ExpectedAttribute)>,
    operator: ConditionalOperator,
    expected: Expect,
) {
    let map: BTreeMap<String, ExpectedAttribute> = entries
        .into_iter()
        .map(|(name, entry)| (name.to_owned(), entry))
        .collect();
    expected.assert_eq(&render(expected_condition(&map, operator)));
}

fn check_filter(entries: Vec<(&str, ComparisonOperator, Vec<AttributeValue>)>, expected: Expect) {
    let map: BTreeMap<String, FilterCondition> = entries
        .into_iter()
        .map(|(name, comparison_operator, attribute_value_list)| {
            (
                name.to_owned(),
                FilterCondition {
                    comparison_operator,
                    attribute_value_list,
                },
            )
        })
        .collect();
    expected.assert_eq(&render(filter_condition(&map, ConditionalOperator::And)));
}

fn schema() -> KeySchema {
    KeySchema {
        partition_key: KeyAttribute {
            name: "pk".into(),
            scalar_type: ScalarType::S,
        },
        sort_key: Some(KeyAttribute {
            name: "sk".into(),
            scalar_type: ScalarType::N,
        }),
    }
}

fn check_key_conditions(
    entries: Vec<(&str, ComparisonOperator, Vec<AttributeValue>)>,
    expected: Expect,
) {
    let map: BTreeMap<String, FilterCondition> = entries
        .into_iter()
        .map(|(name, comparison_operator, attribute_value_list)| {
            (
                name.to_owned(),
                FilterCondition {
                    comparison_operator,
                    attribute_value_list,
                },
            )
        })
        .collect();
    expected.assert_eq(&render(key_conditions(&map, &schema())));
}

#[test]
fn expected() {
    let value = |value| ExpectedAttribute {
        value: Some(value),
        ..Default::default()
    };
    check_expected(
        vec![("a", value(s("x")))],
        ConditionalOperator::And,
        expect!["Some((= a {S: x}))"],
    );
    check_expected(
        vec![
            (
                "a",
                ExpectedAttribute {
                    exists: Some(false),
                    ..Default::default()
                },
            ),
            ("b", value(n("1"))),
        ],
        ConditionalOperator::Or,
        expect!["Some((or (attribute_not_exists a) (= b {N: 1})))"],
    );
    check_expected(
        vec![(
            "a",
            ExpectedAttribute {
                comparison_operator: Some(ComparisonOperator::Between),
                attribute_value_list: Some(vec![n("1"), n("5")]),
                ..Default::default()
            },
        )],
        ConditionalOperator::And,
        expect!["Some((between a {N: 1} {N: 5}))"],
    );
    check_expected(vec![], ConditionalOperator::And, expect!["None"]);
}

#[test]
fn expected_errors() {
    check_expected(
        vec![("a", ExpectedAttribute::default())],
        ConditionalOperator::And,
        expect!["ValidationException: One or more parameter values were invalid: Value must be provided when Exists is null for Attribute: a"],
    );
    check_expected(
        vec![("a", ExpectedAttribute { exists: Some(true), ..Default::default() })],
        ConditionalOperator::And,
        expect!["ValidationException: One or more parameter values were invalid: Value must be provided when Exists is true for Attribute: a"],
    );
    check_expected(
        vec![("a", ExpectedAttribute { exists: Some(false), value: Some(s("x")), ..Default::default() })],
        ConditionalOperator::And,
        expect!["ValidationException: One or more parameter values were invalid: Value cannot be used when Exists is false for Attribute: a"],
    );
    check_expected(
        vec![("a", ExpectedAttribute { comparison_operator: Some(ComparisonOperator::Eq), ..Default::default() })],
        ConditionalOperator::And,
        expect!["ValidationException: One or more parameter values were invalid: Value or AttributeValueList must be used with ComparisonOperator: EQ for Attribute: a"],
    );
    check_expected(
        vec![(
            "a",
            ExpectedAttribute {
                exists: Some(true),
                comparison_operator: Some(ComparisonOperator::NotNull),
                ..Default::default()
            },
        )],
        ConditionalOperator::And,
        expect!["ValidationException: One or more parameter values were invalid: Exists and ComparisonOperator cannot be used together for Attribute: a"],
    );
    check_expected(
        vec![("a", ExpectedAttribute { attribute_value_list: Some(vec![s("x")]), ..Default::default() })],
        ConditionalOperator::And,
        expect!["ValidationException: One or more parameter values were invalid: AttributeValueList can only be used with a ComparisonOperator for Attribute: a"],
    );
}

#[test]
fn filters() {
    check_filter(
        vec![
            ("a", ComparisonOperator::NotContains, vec![s("x")]),
            ("b", ComparisonOperator::In, vec![n("1"), n("2")]),
            ("c", ComparisonOperator::Null, vec![]),
        ],
        expect![
            "Some((and (not (contains a {S: x})) (in b {N: 1} {N: 2}) (attribute_not_exists c)))"
        ],
    );
    check_filter(
        vec![("a", ComparisonOperator::Lt, vec![s("x"), s("y")])],
        expect!["ValidationException: One or more parameter values were invalid: Invalid number of argument(s) for the LT ComparisonOperator"],
    );
    check_filter(
        vec![("a", ComparisonOperator::In, vec![s("x"), n("1")])],
        expect!["ValidationException: One or more parameter values were invalid: AttributeValues inside AttributeValueList must be of same type"],
    );
    check_filter(
        vec![("a", ComparisonOperator::BeginsWith, vec![n("1")])],
        expect!["ValidationException: One or more parameter values were invalid: ComparisonOperator BEGINS_WITH is not valid for N AttributeValue type"],
    );
    check_filter(
        vec![("a", ComparisonOperator::Between, vec![n("5"), n("1")])],
        expect!["ValidationException: The BETWEEN condition was provided a range where the lower bound is greater than the upper bound"],
    );
}

#[test]
fn filters_evaluate_like_expressions() {
    let map: BTreeMap<String, FilterCondition> = [(
        "tags".to_owned(),
        FilterCondition {
            comparison_operator: ComparisonOperator::NotContains,
            attribute_value_list: vec![s("x")],
        },
    )]
    .into();
    let condition = filter_condition(&map, ConditionalOperator::And)
        .expect("valid")
        .expect("not empty");
    assert!(
        evaluate_condition(&condition, &Item::new()),
        "NOT_CONTAINS holds on a missing attribute"
    );
}

#[test]
fn key_conditions_checks() {
    check_key_conditions(
        vec![
            ("pk", ComparisonOperator::Eq, vec![s("x")]),
            ("sk", ComparisonOperator::Between, vec![n("1"), n("2")]),
        ],
        expect!["pk = {S: x}; sk BETWEEN {N: 1} AND {N: 2}"],
    );
    check_key_conditions(
        vec![],
        expect!["ValidationException: Conditions can be of length 1 or 2 only"],
    );
    check_key_conditions(
        vec![("sk", ComparisonOperator::Eq, vec![n("1")])],
        expect!["ValidationException: Query condition missed key schema element: pk"],
    );
    check_key_conditions(
        vec![
            ("pk", ComparisonOperator::Eq, vec![s("x")]),
            ("other", ComparisonOperator::Eq, vec![n("1")]),
        ],
        expect!["ValidationException: Query condition missed key schema element: sk"],
    );
    check_key_conditions(
        vec![
            ("pk", ComparisonOperator::Eq, vec![s("x")]),
            ("sk", ComparisonOperator::Ne, vec![n("1")]),
        ],
        expect![
            "ValidationException: Attempted conditional constraint is not an indexable operation"
        ],
    );
    check_key_conditions(
        vec![("pk", ComparisonOperator::Eq, vec![n("1")])],
        expect!["ValidationException: One or more parameter values were invalid: Condition parameter type does not match schema type"],
    );
    check_key_conditions(
        vec![("pk", ComparisonOperator::Gt, vec![s("x")])],
        expect!["ValidationException: Query key condition not supported"],
    );
}

#[test]
fn attributes_to_get_rejects_duplicates() {
    expect!["a, b"].assert_eq(&render(attributes_to_get(&[
        "a".to_owned(),
        "b".to_owned(),
    ])));
    expect!["ValidationException: One or more parameter values were invalid: Duplicate value in attribute name: a"]
        .assert_eq(&render(attributes_to_get(&["a".to_owned(), "a".to_owned()])));
}

fn check_updates(entries: Vec<(&str, UpdateActionKind, Option<AttributeValue>)>, expected: Expect) {
    let updates: BTreeMap<String, AttributeUpdate> = entries
        .into_iter()
        .map(|(name, action, value)| (name.to_owned(), AttributeUpdate { action, value }))
        .collect();
    let item: Item = [
        ("pk".to_owned(), s("key")),
        ("count".to_owned(), n("1")),
        (
            "tags".to_owned(),
            AttributeValue::string_set(["a".to_owned(), "b".to_owned()]),
        ),
        ("list".to_owned(), AttributeValue::L(vec![n("1")])),
    ]
    .into();
    let result = check_attribute_updates(&updates, &schema())
        .and_then(|()| apply_attribute_updates(&updates, &item));
    expected.assert_eq(&render(result));
}

#[test]
fn attribute_updates() {
    check_updates(
        vec![
            ("count", UpdateActionKind::Add, Some(n("2"))),
            ("list", UpdateActionKind::Add, Some(AttributeValue::L(vec![n("2")]))),
            ("tags", UpdateActionKind::Delete, Some(AttributeValue::string_set(["a".to_owned()]))),
            ("new", UpdateActionKind::Put, Some(s("v"))),
        ],
        expect!["{\"count\": {N: 3}, \"list\": {L: [{N: 1}, {N: 2}]}, \"new\": {S: v}, \"pk\": {S: key}, \"tags\": {SS: [b]}}"],
    );
    check_updates(
        vec![("count", UpdateActionKind::Delete, None)],
        expect!["{\"list\": {L: [{N: 1}]}, \"pk\": {S: key}, \"tags\": {SS: [a, b]}}"],
    );
    check_updates(
        vec![("count", UpdateActionKind::Put, None)],
        expect!["ValidationException: One or more parameter values were invalid: Only DELETE action is allowed when no attribute value is specified"],
    );
    check_updates(
        vec![("count", UpdateActionKind::Delete, Some(n("1")))],
        expect!["ValidationException: One or more parameter values were invalid: DELETE action with value is not supported for the type N"],
    );
    check_updates(
        vec![("count", UpdateActionKind::Add, Some(s("x")))],
        expect!["ValidationException: One or more parameter values were invalid: ADD action is not supported for the type S"],
    );
    check_updates(
        vec![("pk", UpdateActionKind::Put, Some(s("x")))],
        expect!["ValidationException: One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key"],
    );
    check_updates(
        vec![("tags", UpdateActionKind::Add, Some(n("1")))],
        expect!["ValidationException: Type mismatch for attribute to update"],
    );
}
