//! A template bucket's `WebsiteConfiguration`, read from CloudFormation's shape into the
//! website S3 serves: the index and error documents, `RedirectAllRequestsTo`, and the
//! `RoutingRules` (read and checked by `serverful_s3::website_routing`, so that a rule S3
//! would refuse fails the deploy).

use serde_json::Value;
use serverful_s3::website_routing::rules_of_document;
use serverful_s3::WebsiteConfig;

/// The website of one bucket's `WebsiteConfiguration`; a refused routing rule is an error
/// naming it (`RoutingRules[1]: ...`).
pub(crate) fn website_config(website: &Value) -> Result<WebsiteConfig, String> {
    let text = |pointer: &str| {
        website
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    Ok(WebsiteConfig {
        index: text("/IndexDocument"),
        error: text("/ErrorDocument"),
        redirect_all: text("/RedirectAllRequestsTo/HostName")
            .map(|host| (host, text("/RedirectAllRequestsTo/Protocol"))),
        routing_rules: rules_of_document(website).map_err(|error| error.to_string())?,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_documents_and_rules_are_read_and_a_refused_rule_is_named() {
        let config = website_config(&json!({
            "IndexDocument": "index.html",
            "ErrorDocument": "error.html",
            "RoutingRules": [{"RedirectRule": {"HostName": "example.com"}}]
        }))
        .expect("valid");
        assert_eq!(config.index.as_deref(), Some("index.html"));
        assert_eq!(config.error.as_deref(), Some("error.html"));
        assert_eq!(config.routing_rules.len(), 1);
        let error = website_config(&json!({
            "IndexDocument": "index.html",
            "RoutingRules": [{"RedirectRule": {"ReplaceKeyWith": "a", "ReplaceKeyPrefixWith": "b/"}}]
        }))
        .expect_err("refused");
        assert_eq!(
            error,
            "RoutingRules[0]: You can only define ReplaceKeyPrefix or ReplaceKey but not both."
        );
    }
}
