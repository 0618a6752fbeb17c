//! A template bucket's `WebsiteConfiguration`, read from CloudFormation's shape into the
//! website S3 serves: the index and error documents, `RedirectAllRequestsTo`, and the
//! `RoutingRules` (`RoutingRuleCondition`, `RedirectRule`), checked as S3 checks them so
//! that a rule S3 would refuse fails the deploy.

use serde_json::Value;
use serverful_s3::website_routing::{check_rule_count, RoutingRuleFields};
use serverful_s3::WebsiteConfig;

/// The website of one bucket's `WebsiteConfiguration`; a refused routing rule is an error
/// naming it (`RoutingRules[1]: ...`).
pub(crate) fn website_config(website: &Value) -> Result<WebsiteConfig, String> {
    let text = |value: &Value, pointer: &str| {
        value
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let rules = match website.get("RoutingRules") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(rules)) => rules.as_slice(),
        Some(_) => return Err("RoutingRules: expected a list of routing rules".to_owned()),
    };
    check_rule_count(rules.len()).map_err(|error| format!("RoutingRules: {error}"))?;
    let routing_rules = rules
        .iter()
        .enumerate()
        .map(|(rule_idx, rule)| {
            let field = |pointer: &str| rule.pointer(pointer).and_then(Value::as_str);
            let condition = rule.get("RoutingRuleCondition");
            RoutingRuleFields {
                has_condition: condition.is_some_and(|condition| !condition.is_null()),
                key_prefix_equals: field("/RoutingRuleCondition/KeyPrefixEquals"),
                http_error_code_returned_equals: field(
                    "/RoutingRuleCondition/HttpErrorCodeReturnedEquals",
                ),
                host_name: field("/RedirectRule/HostName"),
                protocol: field("/RedirectRule/Protocol"),
                http_redirect_code: field("/RedirectRule/HttpRedirectCode"),
                replace_key_prefix_with: field("/RedirectRule/ReplaceKeyPrefixWith"),
                replace_key_with: field("/RedirectRule/ReplaceKeyWith"),
            }
            .check()
            .map_err(|error| format!("RoutingRules[{rule_idx}]: {error}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(WebsiteConfig {
        index: text(website, "/IndexDocument"),
        error: text(website, "/ErrorDocument"),
        redirect_all: text(website, "/RedirectAllRequestsTo/HostName")
            .map(|host| (host, text(website, "/RedirectAllRequestsTo/Protocol"))),
        routing_rules,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use serverful_s3::website_routing::{Condition, Redirect, ReplaceKey};
    use serverful_s3::RoutingRule;

    use super::*;

    #[test]
    fn routing_rules_are_read_in_cloudformations_shape() {
        let config = website_config(&json!({
            "IndexDocument": "index.html",
            "ErrorDocument": "error.html",
            "RoutingRules": [
                {"RoutingRuleCondition": {"KeyPrefixEquals": "docs/"},
                 "RedirectRule": {"ReplaceKeyPrefixWith": "documents/"}},
                {"RoutingRuleCondition": {"HttpErrorCodeReturnedEquals": "404"},
                 "RedirectRule": {"HostName": "example.com", "Protocol": "https",
                                  "HttpRedirectCode": "302", "ReplaceKeyWith": "lost.html"}}
            ]
        }))
        .expect("valid");
        assert_eq!(config.index.as_deref(), Some("index.html"));
        assert_eq!(config.error.as_deref(), Some("error.html"));
        assert_eq!(
            config.routing_rules,
            [
                RoutingRule {
                    condition: Some(Condition {
                        key_prefix_equals: Some("docs/".to_owned()),
                        http_error_code_returned_equals: None,
                    }),
                    redirect: Redirect {
                        replace: Some(ReplaceKey::PrefixWith("documents/".to_owned())),
                        ..Default::default()
                    },
                },
                RoutingRule {
                    condition: Some(Condition {
                        key_prefix_equals: None,
                        http_error_code_returned_equals: Some(404),
                    }),
                    redirect: Redirect {
                        host_name: Some("example.com".to_owned()),
                        protocol: Some("https".to_owned()),
                        http_redirect_code: Some(302),
                        replace: Some(ReplaceKey::With("lost.html".to_owned())),
                    },
                },
            ]
        );
    }

    #[test]
    fn a_rule_s3_would_refuse_is_an_error_naming_it() {
        let error = website_config(&json!({
            "IndexDocument": "index.html",
            "RoutingRules": [
                {"RedirectRule": {"HostName": "example.com"}},
                {"RedirectRule": {"HttpRedirectCode": "200"}}
            ]
        }))
        .expect_err("refused");
        assert_eq!(
            error,
            "RoutingRules[1]: The provided HTTP redirect code (200) is not valid. Valid codes \
             are 3XX except 300."
        );
    }
}
