//! Snapshot tests of every expression parser, through one `check` helper per
//! expression kind, plus property tests that no input makes a parser panic.

use std::collections::BTreeMap;

use expect_test::{expect, Expect};
use proptest::prelude::*;

use super::*;
use crate::key::{KeyAttribute, ScalarType};
use crate::value::AttributeValue;

/// The placeholder maps every test shares.
fn placeholders() -> (BTreeMap<String, String>, Item) {
    let names: BTreeMap<String, String> = [("#n", "name"), ("#s", "status"), ("#d", "a.b")]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect();
    let json = serde_json::json!({
        ":s": {"S": "x"}, ":t": {"S": "y"}, ":n": {"N": "5"}, ":m": {"N": "1"},
        ":b": {"B": "AAE="}, ":l": {"L": [{"N": "1"}]}, ":ss": {"SS": ["a", "b"]},
        ":ns": {"NS": ["1"]}, ":bool": {"BOOL": true}, ":type": {"S": "SS"}, ":bad": {"S": "STRING"},
        ":null": {"NULL": true}, ":map": {"M": {}}
    });
    (
        names,
        crate::value::item_from_json(&json).expect("valid test values"),
    )
}

fn render<T: std::fmt::Debug>(result: StoreResult<T>) -> String {
    match result {
        Ok(parsed) => format!("{parsed:?}"),
        Err(error) => error.to_string(),
    }
}

fn check_condition(text: &str, expected: Expect) {
    let (names, values) = placeholders();
    let mut context = ExpressionContext::new(&names, &values);
    expected.assert_eq(&render(context.condition(text)));
}

fn check_filter(text: &str, expected: Expect) {
    let (names, values) = placeholders();
    let mut context = ExpressionContext::new(&names, &values);
    expected.assert_eq(&render(context.filter(text)));
}

fn check_update(text: &str, expected: Expect) {
    let (names, values) = placeholders();
    let mut context = ExpressionContext::new(&names, &values);
    expected.assert_eq(&render(context.update(text)));
}

fn check_projection(text: &str, expected: Expect) {
    let (names, values) = placeholders();
    let mut context = ExpressionContext::new(&names, &values);
    expected.assert_eq(&render(context.projection(text)));
}

fn key_schema() -> KeySchema {
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

fn check_key_condition(text: &str, expected: Expect) {
    let (names, values) = placeholders();
    let mut context = ExpressionContext::new(&names, &values);
    expected.assert_eq(&render(context.key_condition(text, &key_schema())));
}

#[test]
fn condition_precedence() {
    check_condition(
        "a = :s OR b = :t AND NOT c = :n",
        expect!["(or (= a {S: x}) (and (= b {S: y}) (not (= c {N: 5}))))"],
    );
    check_condition(
        "(a = :s OR b = :t) AND c < :n",
        expect!["(and (or (= a {S: x}) (= b {S: y})) (< c {N: 5}))"],
    );
    check_condition("NOT NOT a <> :s", expect!["(not (not (<> a {S: x})))"]);
    check_condition(
        "a.b[2].#n >= :n and (x) <= :m",
        expect!["(and (>= a.b[2].name {N: 5}) (<= x {N: 1}))"],
    );
    check_condition("#d = :s", expect!["(= a.b {S: x})"]);
}

#[test]
fn condition_operators_and_functions() {
    check_condition("a BETWEEN :m AND :n", expect!["(between a {N: 1} {N: 5})"]);
    check_condition("a in (:s, :t, b)", expect!["(in a {S: x} {S: y} b)"]);
    check_condition(
        "attribute_exists(a) AND attribute_not_exists(#n.c)",
        expect!["(and (attribute_exists a) (attribute_not_exists name.c))"],
    );
    check_condition("attribute_type(a, :type)", expect!["(attribute_type a SS)"]);
    check_condition(
        "begins_with(a, :s) OR contains(b, :n)",
        expect!["(or (begins_with a {S: x}) (contains b {N: 5}))"],
    );
    check_condition("size(a) > :n", expect!["(> size(a) {N: 5})"]);
    check_condition("size(:s) = :m", expect!["(= size({S: x}) {N: 1})"]);
}

#[test]
fn condition_syntax_errors() {
    check_condition("a = ", expect!["ValidationException: Invalid ConditionExpression: Syntax error; token: <EOF>, near: \"=\""]);
    check_condition("(a)", expect!["ValidationException: Invalid ConditionExpression: Syntax error; token: <EOF>, near: \")\""]);
    check_condition(
        "(NOT a)",
        expect![[
            r#"ValidationException: Invalid ConditionExpression: Syntax error; token: ")", near: "a)""#
        ]],
    );
    check_condition("a = :s AND (b)", expect!["ValidationException: Invalid ConditionExpression: Syntax error; token: <EOF>, near: \")\""]);
    check_condition(
        "a x b",
        expect![[
            r#"ValidationException: Invalid ConditionExpression: Syntax error; token: "x", near: "a x b""#
        ]],
    );
    check_condition(
        "a-b",
        expect![[
            r#"ValidationException: Invalid ConditionExpression: Syntax error; token: "-", near: "a-b""#
        ]],
    );
    check_condition(
        "!!",
        expect![[
            r#"ValidationException: Invalid ConditionExpression: Syntax error; token: "!", near: "!!""#
        ]],
    );
    check_condition("a", expect!["ValidationException: Invalid ConditionExpression: Syntax error; token: <EOF>, near: \"a\""]);
    check_condition(":s", expect!["ValidationException: Invalid ConditionExpression: Syntax error; token: <EOF>, near: \":s\""]);
    check_condition(
        "a = : s",
        expect![[
            r#"ValidationException: Invalid ConditionExpression: Syntax error; token: ":", near: "= : s""#
        ]],
    );
    check_condition(
        "a BETWEEN :m OR :n",
        expect![[
            r#"ValidationException: Invalid ConditionExpression: Syntax error; token: "OR", near: ":m OR :n""#
        ]],
    );
    check_condition(
        "(a = :s) = :t",
        expect![[
            r#"ValidationException: Invalid ConditionExpression: Syntax error; token: "=", near: ") = :t""#
        ]],
    );
    check_condition(
        "and = :s",
        expect![[
            r#"ValidationException: Invalid ConditionExpression: Syntax error; token: "and", near: "and =""#
        ]],
    );
    check_condition(
        "a[x] = :s",
        expect![[
            r#"ValidationException: Invalid ConditionExpression: Syntax error; token: "x", near: "[x]""#
        ]],
    );
    check_condition(
        "   ",
        expect![
            "ValidationException: Invalid ConditionExpression: The expression can not be empty;"
        ],
    );
    check_filter(
        "a = :s :t",
        expect![[
            r#"ValidationException: Invalid FilterExpression: Syntax error; token: ":t", near: ":s :t""#
        ]],
    );
}

#[test]
fn condition_semantic_errors() {
    check_condition("status = :s", expect!["ValidationException: Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: status"]);
    check_condition("a.Name = :s", expect!["ValidationException: Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: Name"]);
    check_condition("#x = :s", expect!["ValidationException: Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #x"]);
    check_condition("a = :x", expect!["ValidationException: Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :x"]);
    check_condition("a = :x AND status = :s", expect!["ValidationException: Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: status"]);
    check_condition("((a = :s))", expect!["ValidationException: Invalid ConditionExpression: The expression has redundant parentheses;"]);
    check_condition("foo(a)", expect!["ValidationException: Invalid ConditionExpression: Invalid function name; function: foo"]);
    check_condition("size(a)", expect!["ValidationException: Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: size"]);
    check_condition("attribute_exists(a) = :s", expect!["ValidationException: Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: attribute_exists"]);
    check_condition("begins_with(a)", expect!["ValidationException: Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: begins_with, number of operands: 1"]);
    check_condition("begins_with(a, :n)", expect!["ValidationException: Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"]);
    check_condition("attribute_exists(:s)", expect!["ValidationException: Invalid ConditionExpression: Operator or function requires a document path; operator or function: attribute_exists"]);
    check_condition("attribute_type(a, :bad)", expect!["ValidationException: Invalid ConditionExpression: Invalid attribute type name found; type: STRING, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}"]);
    check_condition("attribute_type(a, :n)", expect!["ValidationException: Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: attribute_type, operand type: N"]);
    check_condition("size(:n) = :m", expect!["ValidationException: Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: size, operand type: N"]);
    check_condition("a = a", expect!["ValidationException: Invalid ConditionExpression: The first operand must be distinct from the remaining operands for this operator or function; operator: =, first operand: [a]"]);
    check_condition("contains(a.b, a.b)", expect!["ValidationException: Invalid ConditionExpression: The first operand must be distinct from the remaining operands for this operator or function; operator: contains, first operand: [a, b]"]);
    check_condition("a BETWEEN :n AND :m", expect!["ValidationException: Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N:5}, upper bound operand: AttributeValue: {N:1}"]);
    check_condition("a BETWEEN :s AND :n", expect!["ValidationException: Invalid ConditionExpression: The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: {S:x}, upper bound operand: AttributeValue: {N:5}"]);
    check_filter("if_not_exists(a, :s) = :s", expect!["ValidationException: Invalid FilterExpression: Invalid function name; function: if_not_exists"]);
}

#[test]
fn condition_limits() {
    let many: Vec<String> = (0..101).map(|_| ":s".to_owned()).collect();
    check_condition(&format!("a IN ({})", many.join(",")), expect!["ValidationException: Invalid ConditionExpression: The IN operator is provided with too many operands; number of operands: 101"]);
    let operators: Vec<&str> = (0..151).map(|_| "a < b").collect();
    check_condition(&operators.join(" or "), expect!["ValidationException: Invalid ConditionExpression: The expression contains too many operators; operator count: 301"]);
    check_condition(&"a".repeat(4097), expect!["ValidationException: Invalid ConditionExpression: Expression size has exceeded the maximum allowed size; expression size: 4097"]);
    check_condition(&format!("{}a < b{}", "(".repeat(2000), ")".repeat(2000)), expect!["ValidationException: Invalid ConditionExpression: The expression is nested too deeply; maximum nesting depth: 100"]);
    check_condition(&format!("{}a < b", "not ".repeat(1000)), expect!["ValidationException: Invalid ConditionExpression: The expression is nested too deeply; maximum nesting depth: 100"]);
}

#[test]
fn update_expressions() {
    check_update(
        "SET a = :s, b.c[1] = b.c[0] + :n, d = if_not_exists(d, :m) REMOVE e[2], #n ADD f :n DELETE g :ss",
        expect!["SET a = {S: x}; SET b.c[1] = (+ b.c[0] {N: 5}); SET d = (if_not_exists d {N: 1}); REMOVE e[2]; REMOVE name; ADD f {N: 5}; DELETE g {SS: [a, b]}"],
    );
    check_update(
        "set l = list_append(l, :l) remove x",
        expect!["SET l = (list_append l {L: [{N: 1}]}); REMOVE x"],
    );
    check_update("SET a = b - :n", expect!["SET a = (- b {N: 5})"]);
    check_update("set b.c=((c[1])+(b.a)), d = (e), f = (g) - :n, h = if_not_exists((h), :n)", expect!["SET b.c = (+ c[1] b.a); SET d = e; SET f = (- g {N: 5}); SET h = (if_not_exists h {N: 5})"]);
    for invalid in [
        "set a = b + c + d",
        "set (a = (b + c))",
        "set a = (b.c).d + e",
        "set a = (b.c)[0] + e",
        "set a[1] = 1",
        "set a = b / c",
        "delete a if_not_exist(b)",
        "add abort b",
        "remove a b",
        "set :a = b",
        "SET if_not_exist(a, b) = a",
    ] {
        let (names, values) = placeholders();
        let mut context = ExpressionContext::new(&names, &values);
        let message = render(context.update(invalid));
        assert!(
            message.starts_with("ValidationException: Invalid UpdateExpression: Syntax error; "),
            "{invalid}: {message}"
        );
    }
}

#[test]
fn update_errors() {
    check_update(
        "INVALID SYNTAX HERE",
        expect![[
            r#"ValidationException: Invalid UpdateExpression: Syntax error; token: "INVALID", near: "INVALID SYNTAX""#
        ]],
    );
    check_update(
        "ADD hits : incr",
        expect![[
            r#"ValidationException: Invalid UpdateExpression: Syntax error; token: ":", near: "hits : incr""#
        ]],
    );
    check_update(
        "SET a = :s, REMOVE b",
        expect![[
            r#"ValidationException: Invalid UpdateExpression: Syntax error; token: "REMOVE", near: ", REMOVE b""#
        ]],
    );
    check_update(
        "SET a = :s SET b = :t",
        expect![[
            r#"ValidationException: Invalid UpdateExpression: The "SET" section can only be used once in an update expression;"#
        ]],
    );
    check_update("SET status = :s", expect!["ValidationException: Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: status"]);
    check_update("SET a = :v", expect!["ValidationException: Invalid UpdateExpression: An expression attribute value used in expression is not defined; attribute value: :v"]);
    check_update("SET a = :s, a = :t", expect!["ValidationException: Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]"]);
    check_update("SET a.b = :s REMOVE a", expect!["ValidationException: Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a, b], path two: [a]"]);
    check_update("SET a.b = :s REMOVE a[0]", expect!["ValidationException: Invalid UpdateExpression: Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, b], path two: [a, [0]]"]);
    check_update("ADD a :s", expect!["ValidationException: Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: STRING"]);
    check_update("DELETE a :n", expect!["ValidationException: Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, operand type: NUMBER"]);
    check_update("SET a = :s + :n", expect!["ValidationException: Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: +, operand type: S"]);
    check_update("SET a = list_append(:s, a)", expect!["ValidationException: Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: list_append, operand type: S"]);
    check_update("SET a = if_not_exists(:s, :t)", expect!["ValidationException: Invalid UpdateExpression: Operator or function requires a document path; operator or function: if_not_exists"]);
    check_update(
        "SET a = size(b)",
        expect![
            "ValidationException: Invalid UpdateExpression: Invalid function name; function: size"
        ],
    );
    check_update("SET a = list_append(b)", expect!["ValidationException: Invalid UpdateExpression: Incorrect number of operands for operator or function; operator or function: list_append, number of operands: 1"]);
    check_update(
        "",
        expect!["ValidationException: Invalid UpdateExpression: The expression can not be empty;"],
    );
    check_update("SET", expect!["ValidationException: Invalid UpdateExpression: Syntax error; token: <EOF>, near: \"SET\""]);
}

#[test]
fn projections() {
    check_projection("a, b.c, #n[3], #d", expect!["a, b.c, name[3], a.b"]);
    check_projection("a, a.b", expect!["ValidationException: Invalid ProjectionExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]"]);
    check_projection("a[1], a.b", expect!["ValidationException: Invalid ProjectionExpression: Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, [1]], path two: [a, b]"]);
    check_projection("year", expect!["ValidationException: Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: year"]);
    check_projection("a,", expect!["ValidationException: Invalid ProjectionExpression: Syntax error; token: <EOF>, near: \",\""]);
    check_projection("#zz", expect!["ValidationException: Invalid ProjectionExpression: An expression attribute name used in the document path is not defined; attribute name: #zz"]);
}

#[test]
fn key_conditions() {
    check_key_condition("pk = :s", expect!["pk = {S: x}"]);
    check_key_condition(
        "pk = :s AND sk BETWEEN :m AND :n",
        expect!["pk = {S: x}; sk BETWEEN {N: 1} AND {N: 5}"],
    );
    check_key_condition(":n > sk AND :s = pk", expect!["pk = {S: x}; sk < {N: 5}"]);
    check_key_condition("pk = :s AND begins_with(sk, :s)", expect!["ValidationException: One or more parameter values were invalid: Condition parameter type does not match schema type"]);
    check_key_condition(
        "sk = :n",
        expect!["ValidationException: Query condition missed key schema element: pk"],
    );
    check_key_condition(
        "pk = :s AND x1 = :n",
        expect!["ValidationException: Query condition missed key schema element: sk"],
    );
    check_key_condition(
        "pk > :s",
        expect!["ValidationException: Query key condition not supported"],
    );
    check_key_condition(
        "pk = :s OR sk = :n",
        expect!["ValidationException: Invalid operator used in KeyConditionExpression: OR"],
    );
    check_key_condition(
        "pk = :s AND sk <> :n",
        expect!["ValidationException: Invalid operator used in KeyConditionExpression: <>"],
    );
    check_key_condition(
        "pk = :s AND pk = :t",
        expect![
            "ValidationException: KeyConditionExpressions must only contain one condition per key"
        ],
    );
    check_key_condition(
        "pk = :s AND size(sk) = :n",
        expect!["ValidationException: KeyConditionExpressions cannot contain nested operations"],
    );
    check_key_condition("pk.x = :s", expect!["ValidationException: KeyConditionExpressions cannot have conditions on nested attributes"]);
    check_key_condition("pk = sk", expect!["ValidationException: Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition"]);
    check_key_condition(":s = :t", expect!["ValidationException: Invalid condition in KeyConditionExpression: No key attribute specified"]);
    check_key_condition("pk = :n", expect!["ValidationException: One or more parameter values were invalid: Condition parameter type does not match schema type"]);
    check_key_condition(
        "",
        expect![
            "ValidationException: Invalid KeyConditionExpression: The expression can not be empty;"
        ],
    );
}

#[test]
fn unused_placeholders() {
    let names: BTreeMap<String, String> = [
        ("#a".to_owned(), "a".to_owned()),
        ("#b".to_owned(), "b".to_owned()),
    ]
    .into_iter()
    .collect();
    let mut values = Item::new();
    values.insert(":v".into(), AttributeValue::S("x".into()));
    values.insert(":w".into(), AttributeValue::S("y".into()));
    let mut context = ExpressionContext::new(&names, &values);
    context.condition("#a = :v").expect("valid");
    expect!["ValidationException: Value provided in ExpressionAttributeNames unused in expressions: keys: {#b}"]
        .assert_eq(&render(context.finish()));
    context.projection("#b").expect("valid");
    expect!["ValidationException: Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}"]
        .assert_eq(&render(context.finish()));
    context.update("SET x = :w").expect("valid");
    expect!["()"].assert_eq(&render(context.finish()));
}

#[test]
fn placeholder_maps() {
    let names: BTreeMap<String, String> = [("a".to_owned(), "a".to_owned())].into_iter().collect();
    expect![[r#"ValidationException: ExpressionAttributeNames contains invalid key: Syntax error; key: "a""#]]
        .assert_eq(&render(check_placeholder_maps(Some(&names), None)));
    expect!["ValidationException: ExpressionAttributeValues must not be empty"]
        .assert_eq(&render(check_placeholder_maps(None, Some(&Item::new()))));
}

#[test]
fn reserved_words() {
    assert!(is_reserved_word("status"));
    assert!(is_reserved_word("ZONE"));
    assert!(!is_reserved_word("pk"));
}

/// Text built from the expression languages' own pieces, so that random inputs
/// get deep into the parsers instead of failing on the first character.
fn expression_text() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "a",
        "b.c",
        "#n",
        "#x",
        ":s",
        ":n",
        ":ss",
        ":l",
        ":x",
        "[0]",
        "[99999999999999999999999]",
        "(",
        ")",
        ",",
        ".",
        "=",
        "<>",
        "<",
        "<=",
        ">",
        ">=",
        "+",
        "-",
        "AND",
        "OR",
        "NOT",
        "BETWEEN",
        "IN",
        "SET",
        "REMOVE",
        "ADD",
        "DELETE",
        "size",
        "attribute_exists",
        "attribute_type",
        "begins_with",
        "contains",
        "if_not_exists",
        "list_append",
        "status",
        "!",
        "é",
        " ",
        "#",
        ":",
    ]);
    prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.join(" "))
}

proptest! {
    #[test]
    fn parsers_never_panic_on_random_text(text in "\\PC{0,64}") {
        let (names, values) = placeholders();
        let mut context = ExpressionContext::new(&names, &values);
        let _ = context.condition(&text);
        let _ = context.key_condition(&text, &key_schema());
        let _ = context.projection(&text);
        let _ = context.update(&text);
        let _ = context.finish();
    }

    #[test]
    fn parsers_never_panic_on_token_soup(text in expression_text()) {
        let (names, values) = placeholders();
        let mut context = ExpressionContext::new(&names, &values);
        if let Ok(condition) = context.filter(&text) {
            let _ = crate::eval::evaluate_condition(&condition, &values);
        }
        let _ = context.key_condition(&text, &key_schema());
        if let Ok(projection) = context.projection(&text) {
            let _ = crate::eval::apply_projection(&projection, &values);
        }
        if let Ok(update) = context.update(&text) {
            let _ = crate::eval::apply_update(&update, &values);
        }
    }
}

/// The deepest expressions that fit in 4 KB must be rejected or parsed without
/// exhausting a 2 MB stack (the default for test and Tokio worker threads) in
/// an unoptimized build, where stack frames are largest.
#[test]
fn deep_nesting_fits_in_a_small_stack() {
    let outcome = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(|| {
            let (names, values) = placeholders();
            let mut context = ExpressionContext::new(&names, &values);
            let mut rendered = Vec::new();
            for text in [
                format!("{}a < b{}", "(".repeat(2000), ")".repeat(2000)),
                format!("{}a < b{}", "(a<b and ".repeat(99), ")".repeat(99)),
                format!("a < {}b{}", "size(".repeat(99), ")".repeat(99)),
                format!("{}a < b", "not ".repeat(99)),
                format!("{}a<b", "a<b or ".repeat(149)),
                format!("{}a<b", "a<b and ".repeat(149)),
            ] {
                let result = context.condition(&text);
                if let Ok(condition) = &result {
                    let _ = crate::eval::evaluate_condition(condition, &values);
                }
                rendered.push(
                    render(result.map(|_| "ok"))
                        .chars()
                        .take(120)
                        .collect::<String>(),
                );
            }
            let update = format!(
                "SET a = {}b{}",
                "if_not_exists(b, ".repeat(99),
                ")".repeat(99)
            );
            rendered.push(render(context.update(&update).map(|_| "ok")));
            rendered.join("\n")
        })
        .expect("spawn a thread")
        .join()
        .expect("no stack overflow or panic");
    expect![[r#"
        ValidationException: Invalid ConditionExpression: The expression is nested too deeply; maximum nesting depth: 100
        "ok"
        ValidationException: Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function:
        "ok"
        "ok"
        "ok"
        "ok""#]].assert_eq(&outcome);
}

/// Parses `text` as a FilterExpression with the given placeholders and returns
/// the error message (or "ok").
fn filter_message(text: &str, names: &[(&str, &str)], values: &serde_json::Value) -> String {
    let names: BTreeMap<String, String> = names
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    let values = crate::value::item_from_json(values).expect("valid test values");
    let mut context = ExpressionContext::new(&names, &values);
    match context.filter(text) {
        Ok(_) => "ok".to_owned(),
        Err(error) => error.message,
    }
}

/// Cases whose outcome DynamoDB is known to produce (they mirror the behaviour
/// recorded by DynamoDB emulators' test suites); each asserts which error wins
/// when an expression has several problems.
#[test]
fn dynamodb_filter_expression_cases() {
    let no_values = serde_json::json!({});
    for text in [
        "things are not gonna be ok",
        "a > 4",
        "attribute_exists(Pictures-RearView)",
        "attribute_exists(\"Pictures.RearView\")",
        "attribute_exists(Pictures..RearView)",
        "attribute_exists(Pi#ctures.RearView)",
        "attribute_exists(asdf[a])",
        "a in b, c",
        "a > between",
        "a in b",
        "a in (b,c,)",
        "(a)between(b.(c.d))and(c)",
        "(a)between(b.c.d)and((c)",
        "#$.b > a",
        "a > :things.stuff",
        "b[:a] > a",
        "b[#_] > a",
        "ü > a",
        "(a)between(b.c[4.5].#d)and(:a)",
        "size(a).b > a",
        "(size(a)).b > a",
        "size(a)[0] > a",
        "(size(a))[0] > a",
    ] {
        let message = filter_message(text, &[], &no_values);
        assert!(
            message.starts_with("Invalid FilterExpression: Syntax error; "),
            "{text}: {message}"
        );
    }
    let expect_message =
        |text: &str, names: &[(&str, &str)], values: &serde_json::Value, expected: &str| {
            let message = filter_message(text, names, values);
            assert_eq!(
                message,
                format!("Invalid FilterExpression: {expected}"),
                "{text}"
            );
        };
    for text in [
        "a=a and a > ((views))",
        "a > whatever((:things), ((a)))",
        "a=a AND ((a=a AND a=a)) AND a=a",
        "a=a OR ((a=a OR a=a)) OR a=a",
        "a=a AND ((a=a AND (a=a AND a=a)))",
        "a=a OR ((a=a OR (a=a OR a=a)))",
    ] {
        expect_message(
            text,
            &[],
            &no_values,
            "The expression has redundant parentheses;",
        );
    }
    for (text, function) in [
        ("a=a and whatever((:things)) > a", "whatever"),
        ("attRIbute_exIsts((views), #a)", "attRIbute_exIsts"),
    ] {
        expect_message(
            text,
            &[],
            &no_values,
            &format!("Invalid function name; function: {function}"),
        );
    }
    for (text, function) in [
        (
            "a=a and attribute_exists((views), (#a)) > b",
            "attribute_exists",
        ),
        ("attribute_not_exists(things) > b", "attribute_not_exists"),
        ("attribute_type(things, :a) > b", "attribute_type"),
        ("begins_with(things, a) > b", "begins_with"),
        ("contains(:things, c) > b", "contains"),
        ("size(contains(a, b)) > a", "contains"),
        ("size(things)", "size"),
        (
            "a between b and attribute_exists(things)",
            "attribute_exists",
        ),
        ("a in (b, attribute_exists(things))", "attribute_exists"),
    ] {
        expect_message(
            text,
            &[],
            &no_values,
            &format!("The function is not allowed to be used this way in an expression; function: {function}"),
        );
    }
    for (text, word) in [
        ("attribute_exists(views, #a)", "views"),
        (":a < abOrT", "abOrT"),
    ] {
        expect_message(
            text,
            &[],
            &no_values,
            &format!("Attribute name is a reserved keyword; reserved keyword: {word}"),
        );
    }
    for (text, name) in [
        (
            "attribute_exists(#Pictures.RearView, :a) and a=a",
            "#Pictures",
        ),
        ("begins_with(Pictures.#RearView)", "#RearView"),
        ("(#P between :lo and :hi) and (#PC in (:cat1, :cat2))", "#P"),
        ("#4g > a", "#4g"),
        ("#_ > a", "#_"),
        ("(a)between(b.c[45].#d)and(:a)", "#d"),
    ] {
        expect_message(
            text,
            &[],
            &no_values,
            &format!("An expression attribute name used in the document path is not defined; attribute name: {name}"),
        );
    }
    for (text, value) in [
        ("begins_with(:hello, #a, #b)", ":hello"),
        (":a < :b", ":a"),
        (":_ > a", ":_"),
    ] {
        expect_message(
            text,
            &[],
            &no_values,
            &format!("An expression attribute value used in expression is not defined; attribute value: {value}"),
        );
    }
    for (text, function, count) in [
        ("attribute_exists(things, a) and a=a", "attribute_exists", 2),
        ("attribute_not_exists(things, b)", "attribute_not_exists", 2),
        ("attribute_type(things)", "attribute_type", 1),
        ("begins_with(things)", "begins_with", 1),
        ("begins_with(things, size(a), b)", "begins_with", 3),
        ("contains(things)", "contains", 1),
        ("size(things, a) > b", "size", 2),
    ] {
        expect_message(
            text,
            &[],
            &no_values,
            &format!("Incorrect number of operands for operator or function; operator or function: {function}, number of operands: {count}"),
        );
    }
    for (text, function, value) in [
        (
            "attribute_type(a, size(a)) and a=a and a=:a",
            "attribute_type",
            serde_json::json!({"N": "1"}),
        ),
        (
            "attribute_type(a, :a)",
            "attribute_type",
            serde_json::json!({"BOOL": true}),
        ),
        (
            "attribute_type(a, :a)",
            "attribute_type",
            serde_json::json!({"L": []}),
        ),
        (
            "begins_with(a, size(a)) and a=:a",
            "begins_with",
            serde_json::json!({"N": "1"}),
        ),
        (
            "begins_with(a, :a)",
            "begins_with",
            serde_json::json!({"M": {}}),
        ),
        (
            "begins_with(:a, a)",
            "begins_with",
            serde_json::json!({"SS": ["1"]}),
        ),
        ("size(size(a)) > :a", "size", serde_json::json!({"N": "1"})),
        (
            "attribute_not_exists(size(:a))",
            "size",
            serde_json::json!({"N": "1"}),
        ),
        ("size(:a) > a", "size", serde_json::json!({"NULL": true})),
    ] {
        let type_name = value
            .as_object()
            .and_then(|object| object.keys().next().cloned())
            .unwrap_or_default();
        expect_message(
            text,
            &[],
            &serde_json::json!({":a": value}),
            &format!("Incorrect operand type for operator or function; operator or function: {function}, operand type: {type_name}"),
        );
    }
    expect_message(
        "attribute_type(a, :a)",
        &[],
        &serde_json::json!({":a": {"S": "1"}}),
        "Invalid attribute type name found; type: 1, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}",
    );
    for (text, function) in [
        ("attribute_exists(:a) and a=a", "attribute_exists"),
        ("attribute_not_exists(size(:a))", "attribute_not_exists"),
    ] {
        expect_message(
            text,
            &[],
            &serde_json::json!({":a": {"S": "1"}}),
            &format!(
                "Operator or function requires a document path; operator or function: {function}"
            ),
        );
    }
    for (text, operator, path) in [
        ("a = a AND #a = b AND :views > a", "=", "[a]"),
        ("#a <> a", "<>", "[a]"),
        ("a > #a", ">", "[a]"),
        ("((a=a) OR (a=a))", "=", "[a]"),
        ("((a=a) AND (a=a))", "=", "[a]"),
        (
            "contains(ab.bc[1].a, ab.bc[1].#a)",
            "contains",
            "[ab, bc, [1], a]",
        ),
        (
            "attribute_type(ab.bc[1].#a, ab.bc[1].a)",
            "attribute_type",
            "[ab, bc, [1], a]",
        ),
        (
            "begins_with(ab.bc[1].a, ab.bc[1].#a)",
            "begins_with",
            "[ab, bc, [1], a]",
        ),
    ] {
        expect_message(
            text,
            &[("#a", "a")],
            &no_values,
            &format!("The first operand must be distinct from the remaining operands for this operator or function; operator: {operator}, first operand: {path}"),
        );
    }
}

fn update_message(text: &str, names: &[(&str, &str)], values: &serde_json::Value) -> String {
    let names: BTreeMap<String, String> = names
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    let values = crate::value::item_from_json(values).expect("valid test values");
    let mut context = ExpressionContext::new(&names, &values);
    match context.update(text) {
        Ok(_) => "ok".to_owned(),
        Err(error) => error.message,
    }
}

/// UpdateExpression cases with DynamoDB's known outcome, including which error
/// wins when there are several.
#[test]
fn dynamodb_update_expression_cases() {
    let no_values = serde_json::json!({});
    let some_names = [("#a", "a"), ("#b", "b")];
    let some_values = serde_json::json!({":a": {"S": "a"}, ":b": {"S": "a"}});
    for text in [
        "whatever",
        "set a",
        "add a",
        "delete a",
        "set a=set",
        "remove a = b",
        "add a = b",
        "delete a = b",
        "delete a b",
        "delete a if_not_exist(b)",
        "add abort b",
        "add a if_not_exist(b)",
        "remove a b",
        "set a b",
        "set :a = b",
        "add :a b",
        "delete :a b",
        "remove :a",
        "set a = b / c",
        "set a = b * c",
        "set a[1] = \"eight\"",
        "set a[1] = 1",
        "SET a = if_not_exist(a, 100)",
        "SET if_not_exist(a, b) = a",
        "set (a = (b + c))",
        "set a = (b.c).d + e",
        "set a = (b.c)[0] + e",
        "set a = b + c + d",
    ] {
        let message = update_message(text, &[], &no_values);
        assert!(
            message.starts_with("Invalid UpdateExpression: Syntax error; "),
            "{text}: {message}"
        );
    }
    let expect_message =
        |text: &str, names: &[(&str, &str)], values: &serde_json::Value, expected: &str| {
            assert_eq!(
                update_message(text, names, values),
                format!("Invalid UpdateExpression: {expected}"),
                "{text}"
            );
        };
    for (text, word) in [
        (" set #c = :c set abOrt = true ", "abOrt"),
        (" remove Absolute ", "Absolute"),
    ] {
        expect_message(
            text,
            &some_names,
            &some_values,
            &format!("Attribute name is a reserved keyword; reserved keyword: {word}"),
        );
    }
    expect_message(
        "set #c = if_not_exist(:c) set c = d",
        &some_names,
        &some_values,
        "Invalid function name; function: if_not_exist",
    );
    for (text, section) in [
        ("set a = #c set c = :d", "SET"),
        ("remove #d set a = b remove e", "REMOVE"),
        ("add #d :e set a = b add e :f", "ADD"),
        ("delete #d :e set a = b delete #e :f", "DELETE"),
    ] {
        expect_message(
            text,
            &some_names,
            &some_values,
            &format!("The \"{section}\" section can only be used once in an update expression;"),
        );
    }
    expect_message(
        "SET #c = if_not_exists(:c)",
        &some_names,
        &some_values,
        "An expression attribute name used in the document path is not defined; attribute name: #c",
    );
    expect_message(
        "SET #a = if_not_exists(:c)",
        &some_names,
        &some_values,
        "An expression attribute value used in expression is not defined; attribute value: :c",
    );
    let path_names = [("#c", "c"), ("#d", "[3]")];
    expect_message(
        "set d[1] = a, d.b = a, c[1].a = a, #c = if_not_exists(a)",
        &path_names,
        &no_values,
        "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [c, [1], a], path two: [c]",
    );
    expect_message(
        "set #c[3].#d = a, #c[3] = a",
        &path_names,
        &no_values,
        "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [c, [3], [3]], path two: [c, [3]]",
    );
    expect_message(
        "set #c[3].#d = a, #c.#d[3] = if_not_exists(a)",
        &[("#c", "c"), ("#d", "[3]")],
        &no_values,
        "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [c, [3], [3]], path two: [c, [3], [3]]",
    );
    expect_message(
        "remove a.#c set a[1] = #d",
        &[("#c", "c"), ("#d", "[3]")],
        &no_values,
        "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, c], path two: [a, [1]]",
    );
    for (text, value, operator, shown) in [
        (
            "set b = list_append(:a, a), c = if_not_exists(a) add a.b :a",
            serde_json::json!({"S": "a"}),
            "ADD",
            "STRING",
        ),
        (
            "delete a.b :a",
            serde_json::json!({"S": "a"}),
            "DELETE",
            "STRING",
        ),
        (
            "add a.b :a",
            serde_json::json!({"NULL": true}),
            "ADD",
            "NULL",
        ),
        (
            "add a.b :a",
            serde_json::json!({"BOOL": false}),
            "ADD",
            "BOOLEAN",
        ),
        (
            "delete a.b :a",
            serde_json::json!({"B": "YQ=="}),
            "DELETE",
            "BINARY",
        ),
        (
            "add a.b :a",
            serde_json::json!({"M": {"a": {"L": [{"N": "1"}]}}}),
            "ADD",
            "MAP",
        ),
        (
            "delete a.b :a",
            serde_json::json!({"L": [{"N": "1"}]}),
            "DELETE",
            "LIST",
        ),
        (
            "delete a.b :a",
            serde_json::json!({"N": "1"}),
            "DELETE",
            "NUMBER",
        ),
    ] {
        expect_message(
            text,
            &[],
            &serde_json::json!({":a": value, ":b": {"S": "a"}}),
            &format!("Incorrect operand type for operator or function; operator: {operator}, operand type: {shown}"),
        );
    }
    for (text, function, count) in [
        ("set a = if_not_exists(c)", "if_not_exists", 1),
        ("set a = list_append(c)", "list_append", 1),
    ] {
        expect_message(
            text,
            &some_names,
            &some_values,
            &format!("Incorrect number of operands for operator or function; operator or function: {function}, number of operands: {count}"),
        );
    }
    for text in [
        "set a = if_not_exists(:a, c)",
        "set a = if_not_exists(if_not_exists(a, b), c)",
    ] {
        expect_message(
            text,
            &some_names,
            &some_values,
            "Operator or function requires a document path; operator or function: if_not_exists",
        );
    }
    let typed_values = serde_json::json!({
        ":a": {"S": "a"}, ":b": {"N": "1"}, ":c": {"B": "YQ=="}, ":d": {"BOOL": false}, ":e": {"NULL": true},
        ":f": {"SS": ["a"]}, ":g": {"NS": ["1"]}, ":h": {"BS": ["YQ=="]}, ":i": {"M": {}}, ":j": {"L": []}
    });
    for (text, function, type_name) in [
        ("set a = list_append(:a, a)", "list_append", "S"),
        ("set a = list_append(a, :b)", "list_append", "N"),
        ("set a = list_append(:i, a)", "list_append", "M"),
        ("set a = a + :a", "+", "S"),
        ("set a = :a + :c", "+", "S"),
        ("set a = :c + a", "+", "B"),
        ("set a = a + :e", "+", "NULL"),
        ("set a = a - :d", "-", "BOOL"),
        ("set a = a - :g", "-", "NS"),
        ("set a = a - :j", "-", "L"),
    ] {
        expect_message(
            text,
            &some_names,
            &typed_values,
            &format!("Incorrect operand type for operator or function; operator or function: {function}, operand type: {type_name}"),
        );
    }
}

/// KeyConditionExpression cases with DynamoDB's known outcome: the shape of
/// the expression is checked before the key schema.
#[test]
fn dynamodb_key_condition_cases() {
    let message = |text: &str, values: serde_json::Value| {
        let names = BTreeMap::new();
        let values = crate::value::item_from_json(&values).expect("valid test values");
        let mut context = ExpressionContext::new(&names, &values);
        match context.key_condition(text, &key_schema()) {
            Ok(_) => "ok".to_owned(),
            Err(error) => error.message,
        }
    };
    let no_values = serde_json::json!({});
    for text in ["things are not gonna be ok", "a > 4", "(size(a))[0] > a"] {
        assert!(
            message(text, no_values.clone())
                .starts_with("Invalid KeyConditionExpression: Syntax error; "),
            "{text}"
        );
    }
    assert!(message("attribute_type(a, b)", no_values.clone())
        .starts_with("Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: attribute_type, operand type:"));
    let cases: &[(&str, serde_json::Value, &str)] = &[
        (":a = a and b = :a and :a = c", serde_json::json!({":a": {"S": "a"}}), "Conditions can be of length 1 or 2 only"),
        (
            "(a > :a and b > :a) and (c > :a and d > :a) and (e > :a and f > :a)",
            serde_json::json!({":a": {"S": "a"}}),
            "Conditions can be of length 1 or 2 only",
        ),
        ("attribute_type(a, :a)", serde_json::json!({":a": {"S": "S"}}), "Invalid operator used in KeyConditionExpression: attribute_type"),
        ("a > b and size(b) > c or a > c", no_values.clone(), "Invalid operator used in KeyConditionExpression: OR"),
        ("a in (b, size(c), d)", no_values.clone(), "Invalid operator used in KeyConditionExpression: IN"),
        ("attribute_exists(a)", no_values.clone(), "Invalid operator used in KeyConditionExpression: attribute_exists"),
        ("attribute_not_exists(a)", no_values.clone(), "Invalid operator used in KeyConditionExpression: attribute_not_exists"),
        ("contains(a.d, b)", no_values.clone(), "Invalid operator used in KeyConditionExpression: contains"),
        ("not a > b", no_values.clone(), "Invalid operator used in KeyConditionExpression: NOT"),
        ("a <> b", no_values.clone(), "Invalid operator used in KeyConditionExpression: <>"),
        (
            ":a between size(b) and size(a) and b > :b",
            serde_json::json!({":a": {"S": "1"}, ":b": {"S": "1"}}),
            "Invalid condition in KeyConditionExpression: BETWEEN operator must have the key attribute as its first operand",
        ),
        (
            "begins_with(:a, b) and a > :b",
            serde_json::json!({":a": {"S": "1"}, ":b": {"S": "1"}}),
            "Invalid condition in KeyConditionExpression: begins_with operator must have the key attribute as its first operand",
        ),
        ("size(b) > a AND a.b > b AND b > c", no_values.clone(), "KeyConditionExpressions cannot contain nested operations"),
        ("a > size(b.d)", no_values.clone(), "KeyConditionExpressions cannot contain nested operations"),
        ("b > a.b", no_values.clone(), "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition"),
        ("b between c[1] and d", no_values.clone(), "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition"),
        ("a between b and size(a)", no_values.clone(), "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition"),
        ("begins_with(a, b)", no_values.clone(), "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition"),
        ("b.d > a AND c.d > e.f", no_values.clone(), "KeyConditionExpressions cannot have conditions on nested attributes"),
        ("b[0] > a", no_values.clone(), "KeyConditionExpressions cannot have conditions on nested attributes"),
        (
            ":b > :a AND a < :b",
            serde_json::json!({":a": {"N": "1"}, ":b": {"N": "1"}}),
            "Invalid condition in KeyConditionExpression: No key attribute specified",
        ),
        (
            "b > :a AND b < :a and c = :a and d = :a",
            serde_json::json!({":a": {"N": "1"}}),
            "KeyConditionExpressions must only contain one condition per key",
        ),
        (
            "a between :b and :a",
            serde_json::json!({":a": {"S": "a"}, ":b": {"N": "1"}}),
            "Invalid KeyConditionExpression: The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: {N:1}, upper bound operand: AttributeValue: {S:a}",
        ),
        (
            "a between :b and :a",
            serde_json::json!({":a": {"S": "a"}, ":b": {"S": "b"}}),
            "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {S:b}, upper bound operand: AttributeValue: {S:a}",
        ),
    ];
    for (text, values, expected) in cases {
        assert_eq!(message(text, values.clone()), *expected, "{text}");
    }
}

/// ProjectionExpression cases with DynamoDB's known outcome.
#[test]
fn dynamodb_projection_cases() {
    let message = |text: &str, names: &[(&str, &str)]| {
        let names: BTreeMap<String, String> = names
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        let values = Item::new();
        let mut context = ExpressionContext::new(&names, &values);
        match context.projection(text) {
            Ok(_) => match context.finish() {
                Ok(()) => "ok".to_owned(),
                Err(error) => error.message,
            },
            Err(error) => error.message,
        }
    };
    for text in [
        "whatever(stuff)",
        ":a",
        "abort,",
        "a,,b",
        "a..b",
        "a[b]",
        "(a.b).c",
        "(a)",
        "(a),(b)",
        "(a,b)",
        "a-b",
    ] {
        assert!(
            message(text, &[]).starts_with("Invalid ProjectionExpression: Syntax error; "),
            "{text}"
        );
    }
    for (text, word) in [("a.abORt", "abORt"), ("#a,ABSoLUTE", "ABSoLUTE")] {
        assert_eq!(
            message(text, &[]),
            format!("Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: {word}")
        );
    }
    assert_eq!(
        message("a,b,a,#a", &[]),
        "Invalid ProjectionExpression: An expression attribute name used in the document path is not defined; attribute name: #a"
    );
    let names = [("#a", "a"), ("#b", "[3]")];
    for (text, relation, one, two) in [
        ("b[1], b.a, #a.b, a", "overlap", "[a, b]", "[a]"),
        ("a, #a[1]", "overlap", "[a]", "[a, [1]]"),
        ("a.b, #a[1], #b", "conflict", "[a, b]", "[a, [1]]"),
        ("a.b[1], #a[1], #b", "conflict", "[a, b, [1]]", "[a, [1]]"),
        ("a[3].b, #a.#b.b", "conflict", "[a, [3], b]", "[a, [3], b]"),
    ] {
        let verb = if relation == "overlap" {
            "overlap with each other"
        } else {
            "conflict with each other"
        };
        assert_eq!(
            message(text, &names),
            format!("Invalid ProjectionExpression: Two document paths {verb}; must remove or rewrite one of these paths; path one: {one}, path two: {two}"),
            "{text}"
        );
    }
    assert_eq!(
        message("a,b", &[("#a", "a"), ("#b", "b")]),
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#a, #b}"
    );
}
