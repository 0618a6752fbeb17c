//! Unit tests for target input, with the examples of AWS's input transformation guide.

use serde_json::{json, Value};

use super::{InputError, InputTransformer, JsonPath, RuleContext, TargetInput};

fn event() -> Value {
    json!({
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "account": "123456789012",
        "time": "2015-11-11T21:29:54Z",
        "region": "us-east-1",
        "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
        "detail": {"instance-id": "i-0123456789", "state": "RUNNING", "tags": [{"k": "a"}, {"k": "b"}]}
    })
}

fn rule() -> RuleContext<'static> {
    RuleContext {
        rule_name: "example",
        rule_arn: "arn:aws:events:us-east-2:123456789012:rule/example",
        ingestion_time: "2015-11-11T21:29:55Z",
    }
}

fn paths() -> Vec<(String, String)> {
    vec![
        ("timestamp".to_string(), "$.time".to_string()),
        ("instance".to_string(), "$.detail.instance-id".to_string()),
        ("state".to_string(), "$.detail.state".to_string()),
    ]
}

/// Renders `template` with the guide's paths over the guide's event.
fn check(template: &str, expected: &str) {
    let transformer = InputTransformer::new("t1", &paths(), template).expect("valid transformer");
    assert_eq!(
        transformer.render(&event(), &rule()),
        expected,
        "template {template}"
    );
}

#[test]
fn string_templates() {
    check(
        r#""instance <instance> is in <state>""#,
        r#""instance i-0123456789 is in RUNNING""#,
    );
    check(
        r#""instance \"<instance>\" is in <state>""#,
        r#""instance \"i-0123456789\" is in RUNNING""#,
    );
    check(
        r#""<aws.events.rule-name> triggered""#,
        r#""example triggered""#,
    );
    check(
        "<instance> is in state <state>",
        "i-0123456789 is in state RUNNING",
    );
}

#[test]
fn json_templates() {
    check(
        r#"{"instance" : <instance>, "state": <state>}"#,
        r#"{"instance" : "i-0123456789", "state": "RUNNING"}"#,
    );
    check(
        r#"{"instance" : <instance>, "state": "<state>", "instanceStatus": "instance \"<instance>\" is in <state>"}"#,
        r#"{"instance" : "i-0123456789", "state": "RUNNING", "instanceStatus": "instance \"i-0123456789\" is in RUNNING"}"#,
    );
    check(
        r#"{"instance" : <instance>, "state": [ 9, <state>, true ], "Transformed" : "Yes"}"#,
        r#"{"instance" : "i-0123456789", "state": [ 9, "RUNNING", true ], "Transformed" : "Yes"}"#,
    );
}

#[test]
fn reserved_variables() {
    let transformer = InputTransformer::new(
        "t1",
        &paths(),
        r#"{"ruleArn": <aws.events.rule-arn>, "ruleName": <aws.events.rule-name>, "at": <aws.events.event.ingestion-time>, "originalEvent": <aws.events.event>}"#,
    )
    .expect("valid");
    let rendered: Value =
        serde_json::from_str(&transformer.render(&event(), &rule())).expect("JSON payload");
    assert_eq!(
        rendered["ruleArn"],
        "arn:aws:events:us-east-2:123456789012:rule/example"
    );
    assert_eq!(rendered["ruleName"], "example");
    assert_eq!(rendered["at"], "2015-11-11T21:29:55Z");
    assert_eq!(rendered["originalEvent"], event());
}

#[test]
fn missing_values() {
    let paths = vec![("gone".to_string(), "$.detail.nothing".to_string())];
    let json =
        InputTransformer::new("t1", &paths, r#"{"a": <gone>, "b": "x<gone>y"}"#).expect("valid");
    assert_eq!(json.render(&event(), &rule()), r#"{"a": null, "b": "xy"}"#);
    let text = InputTransformer::new("t1", &paths, "value: <gone>.").expect("valid");
    assert_eq!(text.render(&event(), &rule()), "value: .");
}

#[test]
fn values_written_into_strings_stay_valid_json() {
    let event = json!({"detail": {"quote": "say \"hi\"", "object": {"a": 1}}});
    let paths = vec![
        ("quote".to_string(), "$.detail.quote".to_string()),
        ("object".to_string(), "$.detail.object".to_string()),
    ];
    let transformer =
        InputTransformer::new("t1", &paths, r#"{"m": "<quote> <object>", "o": <object>}"#)
            .expect("valid");
    let rendered: Value =
        serde_json::from_str(&transformer.render(&event, &rule())).expect("JSON payload");
    assert_eq!(
        rendered,
        json!({"m": "say \"hi\" {\"a\":1}", "o": {"a": 1}})
    );
}

#[test]
fn text_that_is_not_a_placeholder_is_kept() {
    let transformer =
        InputTransformer::new("t1", &paths(), r#""a < b and <> and <state>""#).expect("valid");
    assert_eq!(
        transformer.render(&event(), &rule()),
        r#""a < b and <> and RUNNING""#
    );
}

#[test]
fn transformer_errors() {
    let unknown = InputTransformer::new("t1", &paths(), "<nope>").expect_err("unknown placeholder");
    assert_eq!(
        unknown.to_string(),
        "InputTemplate for target t1 contains invalid placeholder nope."
    );
    let as_key =
        InputTransformer::new("t1", &paths(), r#"{<state>: 1}"#).expect_err("placeholder as key");
    assert!(matches!(as_key, InputError::PlaceholderAsKey { .. }));
    let reserved = vec![("aws.events.event".to_string(), "$.id".to_string())];
    assert!(matches!(
        InputTransformer::new("t1", &reserved, "<aws.events.event>"),
        Err(InputError::BadKey { .. })
    ));
    let many: Vec<(String, String)> = (0..101)
        .map(|index| (format!("k{index}"), "$.id".to_string()))
        .collect();
    assert!(matches!(
        InputTransformer::new("t1", &many, "x"),
        Err(InputError::TooManyPaths { count: 101, .. })
    ));
    assert!(matches!(
        InputTransformer::new("t1", &paths(), ""),
        Err(InputError::TemplateLength { length: 0, .. })
    ));
    let bad_path = vec![("a".to_string(), "detail.x".to_string())];
    assert!(matches!(
        InputTransformer::new("t1", &bad_path, "<a>"),
        Err(InputError::BadPath { .. })
    ));
}

#[test]
fn json_paths() {
    let select = |path: &str| {
        JsonPath::parse("t1", path)
            .expect("valid path")
            .select(&event())
    };
    assert_eq!(select("$"), Some(event()));
    assert_eq!(select("$.detail.state"), Some(json!("RUNNING")));
    assert_eq!(
        select("$.resources[0]"),
        Some(json!(
            "arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"
        ))
    );
    assert_eq!(select("$.detail.tags[*].k"), Some(json!(["a", "b"])));
    assert_eq!(select("$.detail.tags.*.k"), Some(json!(["a", "b"])));
    assert_eq!(select("$.detail.nothing"), None);
    assert_eq!(select("$.resources[5]"), None);
    for bad in ["detail", "$.", "$..a", "$['detail']", "$.a[", "$x"] {
        assert!(
            JsonPath::parse("t1", bad).is_err(),
            "{bad} should be refused"
        );
    }
}

#[test]
fn target_inputs() {
    let event = event();
    let constant = TargetInput::new("t1", Some(r#"{"fixed": true}"#), None, None).expect("valid");
    assert_eq!(constant.render(&event, &rule()), r#"{"fixed": true}"#);
    let path = TargetInput::new("t1", None, Some("$.detail.state"), None).expect("valid");
    assert_eq!(path.render(&event, &rule()), r#""RUNNING""#);
    let missing = TargetInput::new("t1", None, Some("$.nothing"), None).expect("valid");
    assert_eq!(missing.render(&event, &rule()), "null");
    let whole = TargetInput::new("t1", None, None, None).expect("valid");
    assert_eq!(
        serde_json::from_str::<Value>(&whole.render(&event, &rule())).expect("JSON"),
        event
    );
    assert!(matches!(
        TargetInput::new("t1", Some("{"), None, None),
        Err(InputError::InputNotJson { .. })
    ));
    assert!(matches!(
        TargetInput::new("t1", Some("{}"), Some("$"), None),
        Err(InputError::MoreThanOneInput { .. })
    ));
}
