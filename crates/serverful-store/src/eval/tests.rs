//! Tests of condition evaluation, projections and updates against one sample
//! item, through a `check` helper per operation.

use std::collections::BTreeMap;

use expect_test::{expect, Expect};
use proptest::prelude::*;

use super::*;
use crate::expression::{Comparator, ExpressionContext, SortKeyCondition};
use crate::key::{KeyAttribute, ScalarType};
use crate::value::{item_from_json, item_to_json};

fn sample_item() -> Item {
    item_from_json(&serde_json::json!({
        "id": {"S": "item-1"},
        "count": {"N": "10"},
        "price": {"N": "2.50"},
        "title": {"S": "Hello world"},
        "bin": {"B": "AAECAw=="},
        "tags": {"SS": ["blue", "red"]},
        "sizes": {"NS": ["1", "2", "3"]},
        "list": {"L": [{"S": "a"}, {"N": "1"}, {"L": [{"S": "deep"}]}]},
        "map": {"M": {"inside": {"S": "x"}, "nested": {"M": {"n": {"N": "5"}}}}},
        "flag": {"BOOL": true},
        "nothing": {"NULL": true}
    }))
    .expect("valid sample item")
}

fn values() -> Item {
    item_from_json(&serde_json::json!({
        ":one": {"N": "1"}, ":ten": {"N": "10.0"}, ":five": {"N": "5"}, ":hello": {"S": "Hello"},
        ":world": {"S": "world"}, ":red": {"S": "red"}, ":two": {"N": "2"}, ":a": {"S": "a"},
        ":bin_prefix": {"B": "AAE="}, ":ss": {"SS": ["red", "blue"]}, ":s": {"S": "x"},
        ":list": {"L": [{"S": "z"}]}, ":ns": {"NS": ["2", "7"]}, ":green": {"SS": ["green"]},
        ":three": {"N": "3"}, ":true": {"BOOL": true}, ":null_type": {"S": "NULL"}
    }))
    .expect("valid test values")
}

fn names() -> BTreeMap<String, String> {
    [
        ("#c", "count"),
        ("#l", "list"),
        ("#m", "map"),
        ("#t", "title"),
        ("#n", "nothing"),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value.to_owned()))
    .collect()
}

/// Evaluates a condition against the sample item and against an empty item.
fn check_condition(text: &str, expected: Expect) {
    let (names, values) = (names(), values());
    let mut context = ExpressionContext::new(&names, &values);
    let condition = context.condition(text).expect("test condition parses");
    let actual = format!(
        "sample: {}, empty: {}",
        evaluate_condition(&condition, &sample_item()),
        evaluate_condition(&condition, &Item::new())
    );
    expected.assert_eq(&actual);
}

fn check_projection(text: &str, expected: Expect) {
    let (names, values) = (names(), values());
    let mut context = ExpressionContext::new(&names, &values);
    let projection = context.projection(text).expect("test projection parses");
    expected.assert_eq(&item_to_json(&apply_projection(&projection, &sample_item())).to_string());
}

/// Applies an update to the sample item and shows the attributes it changed,
/// or the error.
fn check_update(text: &str, expected: Expect) {
    let (names, values) = (names(), values());
    let mut context = ExpressionContext::new(&names, &values);
    let update = context.update(text).expect("test update parses");
    let before = sample_item();
    let actual = match apply_update(&update, &before) {
        Ok(after) => {
            let mut changes = Vec::new();
            for (name, value) in &after {
                if before.get(name) != Some(value) {
                    changes.push(format!("{name}={value:?}"));
                }
            }
            for name in before.keys().filter(|name| !after.contains_key(*name)) {
                changes.push(format!("-{name}"));
            }
            changes.join(" ")
        }
        Err(error) => error.to_string(),
    };
    expected.assert_eq(&actual);
}

#[test]
fn comparisons() {
    check_condition("#c = :ten", expect!["sample: true, empty: false"]);
    check_condition("#c <> :ten", expect!["sample: false, empty: true"]);
    check_condition("absent <> absent_too", expect!["sample: true, empty: true"]);
    check_condition(
        "absent = absent_too",
        expect!["sample: false, empty: false"],
    );
    check_condition(
        "price < :five AND price > :two",
        expect!["sample: true, empty: false"],
    );
    check_condition("price >= :hello", expect!["sample: false, empty: false"]);
    check_condition("#t < :world", expect!["sample: true, empty: false"]);
    check_condition("tags = :ss", expect!["sample: true, empty: false"]);
    check_condition("flag = :true", expect!["sample: true, empty: false"]);
    check_condition(
        "#c BETWEEN :one AND :ten",
        expect!["sample: true, empty: false"],
    );
    check_condition("#c IN (:one, :ten)", expect!["sample: true, empty: false"]);
    check_condition(
        "NOT #c IN (:one, :two)",
        expect!["sample: true, empty: true"],
    );
}

#[test]
fn functions() {
    check_condition(
        "attribute_exists(#m.nested.n)",
        expect!["sample: true, empty: false"],
    );
    check_condition(
        "attribute_not_exists(#l[3])",
        expect!["sample: true, empty: true"],
    );
    check_condition(
        "attribute_type(#n, :null_type)",
        expect!["sample: true, empty: false"],
    );
    check_condition(
        "begins_with(#t, :hello)",
        expect!["sample: true, empty: false"],
    );
    check_condition(
        "begins_with(bin, :bin_prefix)",
        expect!["sample: true, empty: false"],
    );
    check_condition(
        "contains(#t, :world)",
        expect!["sample: true, empty: false"],
    );
    check_condition(
        "contains(tags, :red)",
        expect!["sample: true, empty: false"],
    );
    check_condition(
        "contains(sizes, :two)",
        expect!["sample: true, empty: false"],
    );
    check_condition("contains(#l, :a)", expect!["sample: true, empty: false"]);
    check_condition("contains(#c, :one)", expect!["sample: false, empty: false"]);
    check_condition("size(#t) = :one", expect!["sample: false, empty: false"]);
    check_condition(
        "size(#l) = :three AND size(tags) = :two AND size(bin) > :three",
        expect!["sample: true, empty: false"],
    );
    check_condition("size(#c) >= :one", expect!["sample: false, empty: false"]);
    check_condition("size(:hello) = :five", expect!["sample: true, empty: true"]);
}

#[test]
fn projections() {
    check_projection(
        "id, #m.inside",
        expect![[r#"{"id":{"S":"item-1"},"map":{"M":{"inside":{"S":"x"}}}}"#]],
    );
    check_projection(
        "#l[2][0], #l[0], absent, #m.nope",
        expect![[r#"{"list":{"L":[{"S":"a"},{"L":[{"S":"deep"}]}]}}"#]],
    );
    check_projection(
        "#m.nested.n, #m.inside",
        expect![[r#"{"map":{"M":{"inside":{"S":"x"},"nested":{"M":{"n":{"N":"5"}}}}}}"#]],
    );
}

#[test]
fn updates() {
    check_update(
        "SET #c = #c + :one, price = price - :five",
        expect!["count={N: 11} price={N: -2.5}"],
    );
    check_update("SET a = #c, #c = :one", expect!["a={N: 10} count={N: 1}"]);
    check_update("SET #l[1] = :a, #m.inside = :one", expect!["list={L: [{S: a}, {S: a}, {L: [{S: deep}]}]} map={M: {inside={N: 1}, nested={M: {n={N: 5}}}}}"]);
    check_update(
        "SET #l[10] = :a",
        expect!["list={L: [{S: a}, {N: 1}, {L: [{S: deep}]}, {S: a}]}"],
    );
    check_update(
        "SET #l = list_append(:list, #l)",
        expect!["list={L: [{S: z}, {S: a}, {N: 1}, {L: [{S: deep}]}]}"],
    );
    check_update(
        "SET fresh = if_not_exists(fresh, :one), #c = if_not_exists(#c, :one)",
        expect!["fresh={N: 1}"],
    );
    check_update(
        "REMOVE #l[0], #l[2], #m.nested, flag",
        expect!["list={L: [{N: 1}]} map={M: {inside={S: x}}} -flag"],
    );
    check_update("REMOVE absent, #m.absent", expect![""]);
    check_update(
        "SET #l[4] = :one, #l[3] = :a, #l[1] = :s",
        expect!["list={L: [{S: a}, {S: x}, {L: [{S: deep}]}, {S: a}, {N: 1}]}"],
    );
    check_update(
        "ADD #c :five, tags :ss, sizes :ns, newset :green, newnum :one",
        expect!["count={N: 15} newnum={N: 1} newset={SS: [green]} sizes={NS: [1, 2, 3, 7]}"],
    );
    check_update(
        "DELETE tags :ss, sizes :ns, absent :green",
        expect!["sizes={NS: [1, 3]} -tags"],
    );
}

#[test]
fn update_errors() {
    check_update("SET a = absent", expect!["ValidationException: The provided expression refers to an attribute that does not exist in the item"]);
    check_update(
        "SET a = #t + :one",
        expect![
            "ValidationException: An operand in the update expression has an incorrect data type"
        ],
    );
    check_update(
        "SET a = list_append(#c, :list)",
        expect![
            "ValidationException: An operand in the update expression has an incorrect data type"
        ],
    );
    check_update(
        "ADD #t :one",
        expect![
            "ValidationException: An operand in the update expression has an incorrect data type"
        ],
    );
    check_update(
        "ADD tags :ns",
        expect![
            "ValidationException: An operand in the update expression has an incorrect data type"
        ],
    );
    check_update(
        "DELETE sizes :ss",
        expect![
            "ValidationException: An operand in the update expression has an incorrect data type"
        ],
    );
    check_update("SET absent.a = :one", expect!["ValidationException: The document path provided in the update expression is invalid for update"]);
    check_update("SET #t[0] = :one", expect!["ValidationException: The document path provided in the update expression is invalid for update"]);
    for invalid in [
        "REMOVE #m.absent.deeper",
        "REMOVE #t.a",
        "REMOVE #m[1]",
        "REMOVE #l.a",
        "DELETE absent.a :ss",
        "DELETE #l.a :ss",
        "ADD #m[0] :one",
        "ADD absent[0] :one",
    ] {
        let (names, values) = (names(), values());
        let mut context = ExpressionContext::new(&names, &values);
        let update = context.update(invalid).expect("test update parses");
        let error = apply_update(&update, &sample_item()).expect_err(invalid);
        assert_eq!(
            error.message,
            "The document path provided in the update expression is invalid for update",
            "{invalid}"
        );
    }
}

#[test]
fn key_attributes_cannot_be_updated() {
    let schema = KeySchema {
        partition_key: KeyAttribute {
            name: "id".into(),
            scalar_type: ScalarType::S,
        },
        sort_key: None,
    };
    let (names, values) = (names(), values());
    let mut context = ExpressionContext::new(&names, &values);
    let update = context.update("SET id = :s").expect("parses");
    expect!["ValidationException: One or more parameter values were invalid: Cannot update attribute id. This attribute is part of the key"]
        .assert_eq(&check_update_keeps_key(&update, &schema).expect_err("key update").to_string());
}

#[test]
fn update_respects_item_size_limit() {
    let mut big = Item::new();
    big.insert(
        "a".into(),
        AttributeValue::S("x".repeat(MAX_ITEM_SIZE - 10)),
    );
    let mut values = Item::new();
    values.insert(":v".into(), AttributeValue::S("y".repeat(100)));
    let names = BTreeMap::new();
    let mut context = ExpressionContext::new(&names, &values);
    let update = context.update("SET b = :v").expect("parses");
    expect!["ValidationException: Item size to update has exceeded the maximum allowed size"]
        .assert_eq(
            &apply_update(&update, &big)
                .expect_err("too big")
                .to_string(),
        );
}

#[test]
fn condition_failure_is_conditional_check_failed() {
    let (names, values) = (names(), values());
    let mut context = ExpressionContext::new(&names, &values);
    let condition = context
        .condition("attribute_not_exists(id)")
        .expect("parses");
    let error = super::check_condition(&condition, &sample_item()).expect_err("item exists");
    expect!["ConditionalCheckFailedException: The conditional request failed"]
        .assert_eq(&error.to_string());
}

proptest! {
    /// Numbers compare numerically in conditions whatever their spelling.
    #[test]
    fn numeric_comparison_ignores_spelling(a in -1000i64..1000, b in -1000i64..1000, zeros in 0usize..4) {
        let spelled = |n: i64| AttributeValue::N(Number::parse(&format!("{n}.{}", "0".repeat(zeros))).expect("valid"));
        prop_assert_eq!(compare_values(&spelled(a), &spelled(b)), Some(a.cmp(&b)));
    }
}

#[test]
fn update_respects_nesting_limit() {
    let mut deep = AttributeValue::S("leaf".into());
    for _ in 0..32 {
        deep = AttributeValue::L(vec![deep]);
    }
    let item: Item = [("a".to_owned(), deep)].into();
    let (names, values) = (BTreeMap::new(), Item::new());
    let mut context = ExpressionContext::new(&names, &values);
    let copy = context.update("SET b = a").expect("parses");
    assert!(apply_update(&copy, &item).is_ok());
    let nest = context.update("SET a[0] = a").expect("parses");
    expect!["ValidationException: Nesting Levels have exceeded supported limits"].assert_eq(
        &apply_update(&nest, &item)
            .expect_err("too deep")
            .to_string(),
    );
}

#[test]
fn sort_key_conditions() {
    let number = |text: &str| AttributeValue::N(Number::parse(text).expect("valid"));
    let text = |value: &str| AttributeValue::S(value.to_owned());
    let cases = [
        (
            SortKeyCondition::Compare(Comparator::Less, number("10")),
            number("9.99"),
            true,
        ),
        (
            SortKeyCondition::Compare(Comparator::GreaterOrEqual, number("10")),
            number("1E1"),
            true,
        ),
        (
            SortKeyCondition::Compare(Comparator::Equal, number("10")),
            text("10"),
            false,
        ),
        (
            SortKeyCondition::Between(text("a"), text("c")),
            text("b"),
            true,
        ),
        (
            SortKeyCondition::Between(text("a"), text("c")),
            text("ca"),
            false,
        ),
        (SortKeyCondition::BeginsWith(text("ab")), text("abc"), true),
        (
            SortKeyCondition::BeginsWith(AttributeValue::B(vec![1])),
            AttributeValue::B(vec![1, 2]),
            true,
        ),
        (SortKeyCondition::BeginsWith(text("ab")), text("b"), false),
    ];
    for (condition, value, expected) in cases {
        assert_eq!(
            sort_key_matches(&condition, &value),
            expected,
            "{condition:?} on {value:?}"
        );
    }
}

/// Any attribute value, nested a few levels.
fn any_value() -> impl Strategy<Value = AttributeValue> {
    let number = (-1000i64..1000, 0u32..4).prop_map(|(mantissa, scale)| {
        AttributeValue::N(
            Number::parse(&format!("{mantissa}E-{scale}")).expect("small numbers are valid"),
        )
    });
    let leaf = prop_oneof![
        "[a-c]{0,3}".prop_map(AttributeValue::S),
        number,
        prop::collection::vec(any::<u8>(), 0..3).prop_map(AttributeValue::B),
        prop::collection::vec("[a-c]{1,2}", 1..3).prop_map(AttributeValue::string_set),
        prop::collection::vec((-5i64..5).prop_map(Number::from), 1..3)
            .prop_map(AttributeValue::number_set),
        Just(AttributeValue::Null),
        any::<bool>().prop_map(AttributeValue::Bool),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(AttributeValue::L),
            prop::collection::btree_map("[a-c]", inner, 0..3).prop_map(AttributeValue::M),
        ]
    })
}

fn any_item() -> impl Strategy<Value = Item> {
    prop::collection::btree_map("[a-d]", any_value(), 0..5)
}

/// Expressions over attributes a..d that exercise every evaluation path.
const CONDITIONS: &[&str] = &[
    "a = b",
    "a <> :v",
    "a < b OR c >= :v",
    "a BETWEEN :v AND b",
    "a IN (b, c, :v)",
    "attribute_type(a, :type) AND attribute_exists(b.c[1])",
    "begins_with(a, :w) OR contains(b, :v) OR contains(c, a)",
    "size(a) > size(b) AND NOT size(c.d) = :v",
];
const UPDATES: &[&str] = &[
    "SET a = b + :v, c = list_append(c, :list)",
    "SET a = if_not_exists(d, :v) REMOVE b[0], c.a",
    "SET a.b = :v, b[1] = c, c[5] = :w",
    "ADD a :v, b :set DELETE c :set",
    "SET d = a - b REMOVE c[2], c[0]",
];
const PROJECTIONS: &[&str] = &["a", "a.b, c[0]", "a[1].c, b.a.b, d"];

fn random_context_values() -> Item {
    item_from_json(&serde_json::json!({
        ":v": {"N": "1"}, ":w": {"S": "b"}, ":list": {"L": [{"N": "1"}]}, ":type": {"S": "L"},
        ":set": {"SS": ["a"]}
    }))
    .expect("valid values")
}

proptest! {
    #[test]
    fn evaluation_never_panics_on_random_items(item in any_item()) {
        let names = BTreeMap::new();
        let values = random_context_values();
        for text in CONDITIONS {
            let mut context = ExpressionContext::new(&names, &values);
            let condition = context.condition(text).expect("test condition parses");
            let negated = Condition::Not(Box::new(condition.clone()));
            prop_assert_eq!(evaluate_condition(&negated, &item), !evaluate_condition(&condition, &item));
        }
        for text in UPDATES {
            let mut context = ExpressionContext::new(&names, &values);
            let update = context.update(text).expect("test update parses");
            if let Ok(updated) = apply_update(&update, &item) {
                prop_assert!(item_size(&updated) <= MAX_ITEM_SIZE);
                let _ = apply_projection(&update.updated_paths(), &updated);
            }
        }
        for text in PROJECTIONS {
            let mut context = ExpressionContext::new(&names, &values);
            let projection = context.projection(text).expect("test projection parses");
            let projected = apply_projection(&projection, &item);
            prop_assert!(projected.keys().all(|name| item.contains_key(name)));
        }
        let everything = Projection { paths: item.keys().map(Path::attribute).collect() };
        prop_assert_eq!(&apply_projection(&everything, &item), &item);
    }
}

#[test]
fn remove_through_missing_parent_is_ignored_only_for_missing_items() {
    let (names, values) = (names(), values());
    let mut context = ExpressionContext::new(&names, &values);
    let update = context.update("REMOVE x.y, z[0]").expect("parses");
    let key: Item = [("id".to_owned(), AttributeValue::S("new".into()))].into();
    assert_eq!(
        apply_update_to_missing_item(&update, &key).expect("ignored"),
        key
    );
    expect!["ValidationException: The document path provided in the update expression is invalid for update"]
        .assert_eq(&apply_update(&update, &key).expect_err("existing item").to_string());
}
