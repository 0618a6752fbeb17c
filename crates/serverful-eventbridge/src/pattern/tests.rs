//! Unit tests for event patterns, one group per operator, with the examples of AWS's
//! documentation as cases.

use serde_json::{json, Value};

use super::{EventPattern, PatternError};

/// Asserts that `pattern` parses and matches exactly the events marked `true`.
fn check(pattern: &str, cases: &[(Value, bool)]) {
    let parsed = EventPattern::parse(pattern)
        .unwrap_or_else(|error| panic!("{pattern} should parse: {error}"));
    for (event, expected) in cases {
        assert_eq!(
            parsed.matches(event),
            *expected,
            "pattern {pattern} against event {event}"
        );
    }
}

/// Asserts that `pattern` is refused with AWS's reason.
fn check_error(pattern: &str, reason: &str) {
    match EventPattern::parse(pattern) {
        Err(PatternError::Invalid { reason: actual }) => {
            assert_eq!(actual, reason, "pattern {pattern}")
        }
        other => panic!("{pattern} should be refused with {reason:?}, got {other:?}"),
    }
}

fn ec2_event() -> Value {
    json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "account": "111122223333",
        "time": "2017-12-22T18:43:48Z",
        "region": "us-west-1",
        "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
        "detail": {
            "instance-id": "i-1234567890abcdef0",
            "state": "terminated",
            "c-count": 5,
            "d-count": 3,
            "x-limit": 301.8,
            "source-ip": "10.0.0.33"
        }
    })
}

#[test]
fn exact_values_and_structure() {
    check(
        r#"{"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"], "detail": {"state": ["terminated"]}}"#,
        &[
            (ec2_event(), true),
            (
                json!({"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "detail": {"state": "running"}}),
                false,
            ),
            (
                json!({"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "state": "terminated"}),
                false,
            ),
        ],
    );
}

#[test]
fn values_of_a_field_are_alternatives() {
    check(
        r#"{"source": ["aws.ec2", "aws.fargate"]}"#,
        &[
            (json!({"source": "aws.ec2"}), true),
            (json!({"source": "aws.fargate"}), true),
            (json!({"source": "aws.s3"}), false),
        ],
    );
}

#[test]
fn array_fields_match_when_any_element_does() {
    check(
        r#"{"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f", "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f"]}"#,
        &[
            (
                json!({"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f", "arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f"]}),
                true,
            ),
            (
                json!({"resources": ["arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f"]}),
                false,
            ),
            (json!({"resources": []}), false),
        ],
    );
}

#[test]
fn nested_arrays_are_flattened() {
    check(
        r#"{"a": [3]}"#,
        &[
            (json!({"a": [[1, [3]]]}), true),
            (json!({"a": [[1, [2]]]}), false),
        ],
    );
}

#[test]
fn nested_fields_must_hold_in_one_array_element() {
    let employees = json!({"employees": [
        {"firstName": "John", "lastName": "Doe"},
        {"firstName": "Anna", "lastName": "Smith"},
        {"firstName": "Peter", "lastName": "Jones"}
    ]});
    check(
        r#"{"employees": {"firstName": ["Anna"]}}"#,
        &[(employees.clone(), true)],
    );
    check(
        r#"{"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}}"#,
        &[(employees.clone(), true)],
    );
    check(
        r#"{"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}"#,
        &[(employees, false)],
    );
    check(
        r#"{"employees": {"firstName": ["Peter"]}}"#,
        &[(
            json!({"employees": [[{"firstName": "John"}], [{"firstName": "Peter"}]]}),
            true,
        )],
    );
}

#[test]
fn strings_numbers_booleans_and_null_are_distinct() {
    check(
        r#"{"a": ["5"]}"#,
        &[(json!({"a": "5"}), true), (json!({"a": 5}), false)],
    );
    check(
        r#"{"a": [5]}"#,
        &[
            (json!({"a": 5}), true),
            (json!({"a": 5.0}), true),
            (json!({"a": "5"}), false),
            (json!({"a": 50}), false),
        ],
    );
    check(r#"{"a": [3.018e2]}"#, &[(json!({"a": 301.8}), true)]);
    check(
        r#"{"a": [true]}"#,
        &[
            (json!({"a": true}), true),
            (json!({"a": "true"}), false),
            (json!({"a": false}), false),
        ],
    );
    check(
        r#"{"responseElements": [null]}"#,
        &[
            (json!({"responseElements": null}), true),
            (json!({"responseElements": ""}), false),
            (json!({}), false),
        ],
    );
    check(
        r#"{"lastName": [""]}"#,
        &[
            (json!({"lastName": ""}), true),
            (json!({"lastName": null}), false),
            (json!({}), false),
        ],
    );
}

#[test]
fn value_patterns_never_match_objects() {
    check(
        r#"{"detail": ["x"]}"#,
        &[(json!({"detail": {"a": "x"}}), false)],
    );
}

#[test]
fn prefix() {
    check(
        r#"{"time": [{"prefix": "2017-10-02"}]}"#,
        &[
            (json!({"time": "2017-10-02T18:43:48Z"}), true),
            (json!({"time": "2017-10-03T18:43:48Z"}), false),
            (json!({"time": 20171002}), false),
        ],
    );
    check(
        r#"{"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}}"#,
        &[
            (json!({"detail": {"service": "eventbridge"}}), true),
            (json!({"detail": {"service": "EVENTBRIDGE"}}), true),
            (json!({"detail": {"service": "sqs"}}), false),
        ],
    );
}

#[test]
fn suffix() {
    check(
        r#"{"FileName": [{"suffix": ".png"}]}"#,
        &[
            (json!({"FileName": "image.png"}), true),
            (json!({"FileName": "image.PNG"}), false),
            (json!({"FileName": "x.jpg"}), false),
        ],
    );
    check(
        r#"{"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}}"#,
        &[
            (json!({"detail": {"FileName": "image.PNG"}}), true),
            (json!({"detail": {"FileName": "image.jpg"}}), false),
        ],
    );
}

#[test]
fn equals_ignore_case() {
    check(
        r#"{"Name": [{"equals-ignore-case": "alice"}]}"#,
        &[
            (json!({"Name": "Alice"}), true),
            (json!({"Name": "ALICE"}), true),
            (json!({"Name": "Alicia"}), false),
        ],
    );
}

#[test]
fn wildcard() {
    check(
        r#"{"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}"#,
        &[
            (
                json!({"EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/default"}),
                true,
            ),
            (
                json!({"EventBusArn": "arn:aws:events:us-west-2:123456789012:event-bus/default"}),
                false,
            ),
        ],
    );
    check(
        r#"{"a": [{"wildcard": "x\\*y"}]}"#,
        &[(json!({"a": "x*y"}), true), (json!({"a": "xzy"}), false)],
    );
}

#[test]
fn anything_but() {
    check(
        r#"{"detail": {"state": [{"anything-but": "initializing"}]}}"#,
        &[
            (json!({"detail": {"state": "running"}}), true),
            (json!({"detail": {"state": "initializing"}}), false),
            (json!({"detail": {}}), false),
            (json!({"detail": {"state": 5}}), true),
        ],
    );
    check(
        r#"{"detail": {"x-limit": [{"anything-but": 123}]}}"#,
        &[
            (json!({"detail": {"x-limit": 124}}), true),
            (json!({"detail": {"x-limit": 123.0}}), false),
        ],
    );
    check(
        r#"{"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}}"#,
        &[
            (json!({"detail": {"state": "running"}}), true),
            (json!({"detail": {"state": "stopped"}}), false),
        ],
    );
    check(
        r#"{"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}}"#,
        &[
            (json!({"detail": {"x-limit": 150}}), true),
            (json!({"detail": {"x-limit": 200}}), false),
        ],
    );
    // An array field matches when some element is not excluded.
    check(
        r#"{"a": [{"anything-but": "x"}]}"#,
        &[
            (json!({"a": ["x", "y"]}), true),
            (json!({"a": ["x"]}), false),
            (json!({"a": []}), false),
        ],
    );
}

#[test]
fn anything_but_prefix_suffix_ignore_case_wildcard() {
    check(
        r#"{"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}"#,
        &[
            (json!({"detail": {"state": "running"}}), true),
            (json!({"detail": {"state": "initializing"}}), false),
        ],
    );
    check(
        r#"{"FileName": [{"anything-but": {"suffix": ".png"}}]}"#,
        &[
            (json!({"FileName": "a.jpg"}), true),
            (json!({"FileName": "a.png"}), false),
        ],
    );
    check(
        r#"{"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]}"#,
        &[
            (json!({"state": "running"}), true),
            (json!({"state": "INITIALIZING"}), false),
        ],
    );
    check(
        r#"{"state": [{"anything-but": {"equals-ignore-case": ["stopped", "overloaded"]}}]}"#,
        &[
            (json!({"state": "running"}), true),
            (json!({"state": "Stopped"}), false),
            (json!({"state": "OVERLOADED"}), false),
        ],
    );
    check(
        r#"{"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}"#,
        &[
            (json!({"FilePath": "/usr/bin/x"}), true),
            (json!({"FilePath": "/usr/lib/x"}), false),
        ],
    );
    check(
        r#"{"FilePath": [{"anything-but": {"wildcard": ["*/lib/*", "*/bin/*"]}}]}"#,
        &[
            (json!({"FilePath": "/usr/share/x"}), true),
            (json!({"FilePath": "/usr/bin/x"}), false),
        ],
    );
}

#[test]
fn numeric() {
    check(
        r#"{"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}], "d-count": [{"numeric": ["<", 10]}], "x-limit": [{"numeric": ["=", 3.018e2]}]}}"#,
        &[
            (ec2_event(), true),
            (
                json!({"detail": {"c-count": 0, "d-count": 3, "x-limit": 301.8}}),
                false,
            ),
            (
                json!({"detail": {"c-count": 6, "d-count": 3, "x-limit": 301.8}}),
                false,
            ),
            (
                json!({"detail": {"c-count": 5, "d-count": 10, "x-limit": 301.8}}),
                false,
            ),
            (
                json!({"detail": {"c-count": "5", "d-count": 3, "x-limit": 301.8}}),
                false,
            ),
        ],
    );
    check(
        r#"{"a": [{"numeric": [">=", -1.5, "<", 2]}]}"#,
        &[
            (json!({"a": -1.5}), true),
            (json!({"a": 1.999}), true),
            (json!({"a": 2}), false),
            (json!({"a": -2}), false),
        ],
    );
    // Numbers are compared as numbers, whatever their notation.
    check(
        r#"{"a": [{"numeric": ["=", 300]}]}"#,
        &[(json!({"a": 3e2}), true), (json!({"a": 300.0}), true)],
    );
    // Event numbers beyond ±5e9 cannot be compared.
    check(
        r#"{"a": [{"numeric": [">", 0]}]}"#,
        &[(json!({"a": 6e9}), false)],
    );
}

#[test]
fn cidr() {
    check(
        r#"{"detail": {"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}}"#,
        &[
            (json!({"detail": {"sourceIPAddress": "10.0.0.7"}}), true),
            (json!({"detail": {"sourceIPAddress": "10.0.1.7"}}), false),
            (json!({"detail": {"sourceIPAddress": "not-an-ip"}}), false),
        ],
    );
    check(
        r#"{"sourceIPAddress": [{"cidr": "2001:db8::/64"}]}"#,
        &[
            (json!({"sourceIPAddress": "2001:db8::ff"}), true),
            (json!({"sourceIPAddress": "2001:db9::ff"}), false),
        ],
    );
    // An exact value that is an address matches every spelling of that address.
    check(
        r#"{"ip": ["2001:db8::1"]}"#,
        &[
            (json!({"ip": "2001:0db8:0:0:0:0:0:1"}), true),
            (json!({"ip": "2001:db8::2"}), false),
        ],
    );
}

#[test]
fn exists() {
    check(
        r#"{"detail": {"c-count": [{"exists": true}]}}"#,
        &[
            (ec2_event(), true),
            (json!({"detail": {"state": "x"}}), false),
            (json!({"detail": {"c-count": null}}), true),
            (json!({"detail": {"c-count": []}}), false),
            (json!({"detail": {"c-count": {"c1": 100}}}), false),
        ],
    );
    check(
        r#"{"detail": {"c-count": [{"exists": false}]}}"#,
        &[
            (
                json!({"detail-type": "EC2 Instance State-change Notification", "detail": {"state": ["initializing", "running"]}}),
                true,
            ),
            // Exists only looks at leaves: an object at that place is no value.
            (
                json!({"detail": {"state": "x", "c-count": {"c1": 100}}}),
                true,
            ),
            (json!({"detail": {"c-count": 5}}), false),
            (json!({}), true),
        ],
    );
}

#[test]
fn or() {
    let pattern = r#"{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization", "ReadLatency"]}, {"namespace": ["AWS/EC2", "AWS/ES"]}]}"#;
    check(
        pattern,
        &[
            (
                json!({"source": "aws.cloudwatch", "metricName": "CPUUtilization"}),
                true,
            ),
            (
                json!({"source": "aws.cloudwatch", "namespace": "AWS/ES"}),
                true,
            ),
            (
                json!({"source": "aws.cloudwatch", "namespace": "AWS/S3"}),
                false,
            ),
            (
                json!({"source": "aws.s3", "metricName": "CPUUtilization"}),
                false,
            ),
        ],
    );
    let nested = r#"{"source": ["aws.cloudwatch"], "$or": [
        {"metricName": ["CPUUtilization"]},
        {"metricType": ["MetricType"], "namespace": ["AWS/EC2"], "$or": [{"metricId": [1234]}, {"spaceId": [1000]}]},
        {"scope": ["Service"]}
    ]}"#;
    check(
        nested,
        &[
            (
                json!({"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/EC2", "spaceId": 1000}),
                true,
            ),
            (
                json!({"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/EC2"}),
                false,
            ),
            (
                json!({"source": "aws.cloudwatch", "scope": "Service"}),
                true,
            ),
        ],
    );
    check(
        r#"{"detail": {"$or": [{"c-count": [{"numeric": [">", 0, "<=", 5]}]}, {"d-count": [{"numeric": ["<", 10]}]}]}}"#,
        &[
            (json!({"detail": {"c-count": 9, "d-count": 3}}), true),
            (json!({"detail": {"c-count": 9, "d-count": 11}}), false),
        ],
    );
}

#[test]
fn repeated_keys() {
    // Values: the last list wins. Objects: their fields join.
    check(
        r#"{"a": ["x"], "a": ["y"]}"#,
        &[(json!({"a": "y"}), true), (json!({"a": "x"}), false)],
    );
    check(
        r#"{"a": {"b": ["x"]}, "a": {"c": ["y"]}}"#,
        &[
            (json!({"a": {"b": "x", "c": "y"}}), true),
            (json!({"a": {"b": "x"}}), false),
        ],
    );
}

#[test]
fn events_that_are_not_objects_match_nothing() {
    let pattern = EventPattern::parse(r#"{"a": [{"exists": false}]}"#).expect("valid");
    assert!(!pattern.matches(&json!([1])));
    assert!(pattern.matches(&json!({})));
}

#[test]
fn structure_errors() {
    check_error("[]", "Filter is not an object");
    check_error("{}", "Empty objects are not allowed");
    check_error(r#"{"a": {}}"#, "Empty objects are not allowed");
    check_error(r#"{"a": "x"}"#, "\"a\" must be an object or an array");
    check_error(r#"{"a": []}"#, "Empty arrays are not allowed");
    check_error(
        r#"{"a": [[1]]}"#,
        "Match value must be String, number, true, false, or null",
    );
    check_error(r#"{"a": [{}]}"#, "Match expression name not found");
    check_error(
        r#"{"a": [{"regex": "x"}]}"#,
        "Unrecognized match type regex",
    );
    check_error(
        r#"{"a": [{"prefix": "x", "suffix": "y"}]}"#,
        "Only one key allowed in match expression",
    );
    assert!(matches!(
        EventPattern::parse("{"),
        Err(PatternError::Invalid { .. })
    ));
}

#[test]
fn or_errors() {
    check_error(
        r#"{"$or": {"a": ["x"]}}"#,
        "It must be an Array followed with $or.",
    );
    check_error(
        r#"{"$or": [{"a": ["x"]}]}"#,
        "There must have at least 2 Objects in $or relationship.",
    );
    check_error(
        r#"{"$or": [{"a": ["x"]}, "b"]}"#,
        "Only JSON object is allowed in array of $or relationship.",
    );
    check_error(
        r#"{"$or": [{"numeric": [123]}, {"prefix": ["abc"]}]}"#,
        "numeric is Ruler reserved fieldName which cannot be used inside $or.",
    );
}

#[test]
fn operator_errors() {
    check_error(
        r#"{"a": [{"prefix": 5}]}"#,
        "prefix match pattern must be a string",
    );
    check_error(
        r#"{"a": [{"suffix": null}]}"#,
        "suffix match pattern must be a string",
    );
    check_error(
        r#"{"a": [{"prefix": {"equals-ignore-case": 5}}]}"#,
        "equals-ignore-case match pattern must be a string",
    );
    check_error(
        r#"{"a": [{"equals-ignore-case": ["x"]}]}"#,
        "equals-ignore-case match pattern must be a string",
    );
    check_error(
        r#"{"a": [{"wildcard": 1}]}"#,
        "wildcard match pattern must be a string",
    );
    check_error(
        r#"{"a": [{"wildcard": "a**"}]}"#,
        "Consecutive wildcard characters at pos 2",
    );
    check_error(
        r#"{"a": [{"wildcard": "a\\b"}]}"#,
        "Invalid escape character at pos 2",
    );
    check_error(
        r#"{"a": [{"exists": "true"}]}"#,
        "exists match pattern must be either true or false.",
    );
    check_error(
        r#"{"a": [{"cidr": 10}]}"#,
        "prefix match pattern must be a string",
    );
    check_error(
        r#"{"a": [{"cidr": "10.0.0.0"}]}"#,
        "Malformed CIDR, one '/' required",
    );
    check_error(
        r#"{"a": [{"cidr": "10.0.0.0/33"}]}"#,
        "IPv4 mask bits must be < 32",
    );
}

#[test]
fn numeric_errors() {
    check_error(
        r#"{"a": [{"numeric": 5}]}"#,
        "Value of numeric must be an array.",
    );
    check_error(
        r#"{"a": [{"numeric": []}]}"#,
        "Invalid member in numeric match: ]",
    );
    check_error(
        r#"{"a": [{"numeric": [5]}]}"#,
        "Invalid member in numeric match: 5",
    );
    check_error(
        r#"{"a": [{"numeric": ["!=", 5]}]}"#,
        "Unrecognized numeric range operator: !=",
    );
    check_error(
        r#"{"a": [{"numeric": ["=", "5"]}]}"#,
        "Value of equals must be numeric",
    );
    check_error(
        r#"{"a": [{"numeric": [">"]}]}"#,
        "Value of > must be numeric",
    );
    check_error(
        r#"{"a": [{"numeric": ["<", 5, ">", 1]}]}"#,
        "Too many elements in numeric expression",
    );
    check_error(
        r#"{"a": [{"numeric": [">", 5, 6]}]}"#,
        "Bad value in numeric range: 6",
    );
    check_error(
        r#"{"a": [{"numeric": [">", 0, ">", 5]}]}"#,
        "Bad numeric range operator: >",
    );
    check_error(
        r#"{"a": [{"numeric": [">", 0, "<", "5"]}]}"#,
        "Value of < must be numeric",
    );
    check_error(
        r#"{"a": [{"numeric": [">", 0, "<", 5, "x"]}]}"#,
        "Too many terms in numeric range expression",
    );
    check_error(
        r#"{"a": [{"numeric": [">", 5, "<", 5]}]}"#,
        "Bottom must be less than top",
    );
    check_error(
        r#"{"a": [{"numeric": ["<", 6e9]}]}"#,
        "Value must be between -5.0E9 and 5.0E9, inclusive",
    );
    check_error(
        r#"{"a": [{"numeric": [">", 0], "x": 1}]}"#,
        "Too many elements in numeric expression",
    );
}

#[test]
fn anything_but_errors() {
    check_error(
        r#"{"a": [{"anything-but": null}]}"#,
        "Value of anything-but must be an array or single string/number value.",
    );
    check_error(
        r#"{"a": [{"anything-but": true}]}"#,
        "Value of anything-but must be an array or single string/number value.",
    );
    check_error(
        r#"{"a": [{"anything-but": [null]}]}"#,
        "Inside anything but list, start|null|boolean is not supported.",
    );
    check_error(
        r#"{"a": [{"anything-but": ["x", 1]}]}"#,
        "Inside anything but list, either all values are number or string, mixed type is not supported",
    );
    check_error(
        r#"{"a": [{"anything-but": {}}]}"#,
        "Anything-But expression name not found",
    );
    check_error(
        r#"{"a": [{"anything-but": {"numeric": [">", 1]}}]}"#,
        "Unsupported anything-but pattern: numeric",
    );
    check_error(
        r#"{"a": [{"anything-but": {"prefix": 1}}]}"#,
        "prefix/suffix match pattern must be a string",
    );
    check_error(
        r#"{"a": [{"anything-but": {"prefix": ""}}]}"#,
        "Null prefix/suffix not allowed",
    );
    check_error(
        r#"{"a": [{"anything-but": {"equals-ignore-case": [1]}}]}"#,
        "Inside anything-but/equals-ignore-case list, numberic|start|null|boolean is not supported.",
    );
    check_error(
        r#"{"a": [{"anything-but": {"equals-ignore-case": 1}}]}"#,
        "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.",
    );
    check_error(
        r#"{"a": [{"anything-but": {"wildcard": "**"}}]}"#,
        "Consecutive wildcard characters at pos 1",
    );
    check_error(
        r#"{"a": [{"anything-but": 1e10}]}"#,
        "Value must be between -5.0E9 and 5.0E9, inclusive",
    );
}

#[test]
fn first_problem_in_document_order_is_reported() {
    check_error(
        r#"{"b": [{"prefix": 1}], "a": []}"#,
        "prefix match pattern must be a string",
    );
    check_error(
        r#"{"b": [], "a": [{"prefix": 1}]}"#,
        "Empty arrays are not allowed",
    );
}

#[test]
fn length_limit() {
    let long = format!(r#"{{"a": ["{}"]}}"#, "x".repeat(4100));
    let error = EventPattern::parse(&long).expect_err("too long");
    assert_eq!(error.aws_code(), "ValidationException");
    assert!(matches!(error, PatternError::TooLong { length } if length > 4096));
    let fits = format!(r#"{{"a": ["{}"]}}"#, "x".repeat(4096 - 11));
    assert_eq!(fits.len(), 4096);
    assert!(EventPattern::parse(&fits).is_ok());
}

#[test]
fn error_message_wording() {
    let error = EventPattern::parse("{}").expect_err("invalid");
    assert_eq!(
        error.to_string(),
        "Event pattern is not valid. Reason: Empty objects are not allowed"
    );
    assert_eq!(error.aws_code(), "InvalidEventPatternException");
}

#[test]
fn deep_nesting_is_refused_not_a_crash() {
    let deep = format!("{}{}", r#"{"a":"#.repeat(200), "}".repeat(200));
    assert!(EventPattern::parse(&deep).is_err());
}
