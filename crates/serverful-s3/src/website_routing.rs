//! A website's conditional redirects, as S3's website endpoint applies them: the routing
//! rules of a website configuration (`RoutingRules`), and an object's own redirect
//! (`x-amz-website-redirect-location`).
//!
//! Each rule has an optional condition (a key prefix, an error status, or both) and a
//! redirect (host, protocol, status, and a replacement of the key or of its prefix). The
//! first rule whose condition holds decides. A rule without an error status is looked at
//! before the object is read, so it redirects whether or not the key exists; a rule with
//! one only once reading the key failed with that status (404 for a missing key, 403
//! for one that may not be read). The rules are checked as S3's `PutBucketWebsite` checks
//! them, in its `InvalidRequest` wording (an empty `Redirect`, which S3 refuses as
//! malformed XML, gets a sentence of ours), so a template's rules are refused as S3 would
//! refuse them. A rule's `Location` is built from the key alone: the query string is not
//! carried over.

use http::StatusCode;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

/// S3 keeps at most this many rules in a website configuration.
pub const MAX_ROUTING_RULES: usize = 50;

/// One routing rule: when it applies and where it sends the browser.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoutingRule {
    /// `None`: the rule applies to every request.
    pub condition: Option<Condition>,
    pub redirect: Redirect,
}

/// `Condition` (`RoutingRuleCondition` in CloudFormation); at least one of the two is set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Condition {
    /// `KeyPrefixEquals`: the requested key starts with it.
    pub key_prefix_equals: Option<String>,
    /// `HttpErrorCodeReturnedEquals`: reading the key failed with this status (4XX, 5XX).
    pub http_error_code_returned_equals: Option<u16>,
}

/// `Redirect` (`RedirectRule` in CloudFormation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redirect {
    /// `HostName`; the request's own host when not given.
    pub host_name: Option<String>,
    /// `Protocol`, `http` or `https`; the request's when not given.
    pub protocol: Option<String>,
    /// `HttpRedirectCode`, a 3XX other than 300; 301 when not given.
    pub http_redirect_code: Option<u16>,
    /// What to put in place of the key: all of it, or the prefix the condition matched.
    pub replace: Option<ReplaceKey>,
}

/// `ReplaceKeyWith` or `ReplaceKeyPrefixWith` (S3 takes one at most).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplaceKey {
    With(String),
    PrefixWith(String),
}

/// A routing rule S3 would refuse, with S3's wording (an `InvalidRequest`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidRoutingRule(pub String);

/// The strings of one rule as a configuration spells them (a template or S3's XML), before
/// they are checked.
#[derive(Debug, Clone, Default)]
pub struct RoutingRuleFields<'a> {
    /// Whether the rule has a condition element at all (an empty one is refused).
    pub has_condition: bool,
    pub key_prefix_equals: Option<&'a str>,
    pub http_error_code_returned_equals: Option<&'a str>,
    pub host_name: Option<&'a str>,
    pub protocol: Option<&'a str>,
    pub http_redirect_code: Option<&'a str>,
    pub replace_key_prefix_with: Option<&'a str>,
    pub replace_key_with: Option<&'a str>,
}

impl RoutingRuleFields<'_> {
    /// The rule, checked as S3 checks it.
    pub fn check(&self) -> Result<RoutingRule, InvalidRoutingRule> {
        let invalid = |message: String| Err(InvalidRoutingRule(message));
        let condition = if self.has_condition {
            if self.key_prefix_equals.is_none() && self.http_error_code_returned_equals.is_none() {
                return invalid(
                    "Condition cannot be empty. To redirect all requests without a condition, \
                     the condition element shouldn't be present."
                        .to_owned(),
                );
            }
            let http_error_code_returned_equals = match self.http_error_code_returned_equals {
                None => None,
                Some(text) => match text.trim().parse::<u16>() {
                    Ok(code) if (400..600).contains(&code) => Some(code),
                    _ => {
                        return invalid(format!(
                            "The provided HTTP error code ({text}) is not valid. Valid codes are \
                             4XX or 5XX."
                        ))
                    }
                },
            };
            Some(Condition {
                key_prefix_equals: self.key_prefix_equals.map(str::to_owned),
                http_error_code_returned_equals,
            })
        } else {
            None
        };
        if self.host_name.is_none()
            && self.protocol.is_none()
            && self.http_redirect_code.is_none()
            && self.replace_key_prefix_with.is_none()
            && self.replace_key_with.is_none()
        {
            return invalid(
                "Redirect must have at least one of HostName, Protocol, ReplaceKeyPrefixWith, \
                 ReplaceKeyWith or HttpRedirectCode."
                    .to_owned(),
            );
        }
        if self.host_name.is_some_and(|host| host.trim().is_empty()) {
            return invalid(
                "The HostName cannot be blank. To redirect within the same domain, the element \
                 should not be present."
                    .to_owned(),
            );
        }
        let protocol = match self.protocol {
            None => None,
            Some(protocol @ ("http" | "https")) => Some(protocol.to_owned()),
            Some(_) => {
                return invalid(
                    "Invalid protocol, protocol can be http or https. If not defined the \
                     protocol will be selected automatically."
                        .to_owned(),
                )
            }
        };
        let http_redirect_code = match self.http_redirect_code {
            None => None,
            Some(text) => match text.trim().parse::<u16>() {
                Ok(code) if (301..400).contains(&code) => Some(code),
                _ => {
                    return invalid(format!(
                        "The provided HTTP redirect code ({text}) is not valid. Valid codes are \
                         3XX except 300."
                    ))
                }
            },
        };
        let replace = match (self.replace_key_with, self.replace_key_prefix_with) {
            (Some(_), Some(_)) => {
                return invalid(
                    "You can only define ReplaceKeyPrefix or ReplaceKey but not both.".to_owned(),
                )
            }
            (Some(key), None) => Some(ReplaceKey::With(key.to_owned())),
            (None, Some(prefix)) => Some(ReplaceKey::PrefixWith(prefix.to_owned())),
            (None, None) => None,
        };
        Ok(RoutingRule {
            condition,
            redirect: Redirect {
                host_name: self.host_name.map(str::to_owned),
                protocol,
                http_redirect_code,
                replace,
            },
        })
    }
}

/// Checks the number of rules, as S3 does before looking at each.
pub fn check_rule_count(count: usize) -> Result<(), InvalidRoutingRule> {
    if count > MAX_ROUTING_RULES {
        return Err(InvalidRoutingRule(format!(
            "{count} routing rules provided, the number of routing rules in a website \
             configuration is limited to {MAX_ROUTING_RULES}."
        )));
    }
    Ok(())
}

/// Why a website document's `RoutingRules` were refused: the rule (none when the list as
/// a whole is) and S3's reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct InvalidRoutingRules {
    pub rule_idx: Option<usize>,
    pub error: InvalidRoutingRule,
}

impl std::fmt::Display for InvalidRoutingRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.rule_idx {
            Some(rule_idx) => write!(f, "RoutingRules[{rule_idx}]: {}", self.error),
            None => write!(f, "RoutingRules: {}", self.error),
        }
    }
}

/// The `RoutingRules` of a website configuration document in CloudFormation's shape (a
/// template's `WebsiteConfiguration`: each rule's `RoutingRuleCondition` and
/// `RedirectRule`), checked; none when the document has none.
pub fn rules_of_document(document: &Value) -> Result<Vec<RoutingRule>, InvalidRoutingRules> {
    let whole = |message: &str| InvalidRoutingRules {
        rule_idx: None,
        error: InvalidRoutingRule(message.to_owned()),
    };
    let rules = match document.get("RoutingRules") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(rules)) => rules,
        Some(_) => return Err(whole("expected a list of routing rules")),
    };
    check_rule_count(rules.len()).map_err(|error| InvalidRoutingRules {
        rule_idx: None,
        error,
    })?;
    rules
        .iter()
        .enumerate()
        .map(|(rule_idx, rule)| {
            let field = |pointer: &str| rule.pointer(pointer).and_then(Value::as_str);
            RoutingRuleFields {
                has_condition: rule
                    .get("RoutingRuleCondition")
                    .is_some_and(|condition| !condition.is_null()),
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
            .map_err(|error| InvalidRoutingRules {
                rule_idx: Some(rule_idx),
                error,
            })
        })
        .collect()
}

impl RoutingRule {
    /// A rule of `PutBucketWebsite`'s configuration, checked.
    pub fn from_dto(rule: &s3s::dto::RoutingRule) -> Result<RoutingRule, InvalidRoutingRule> {
        let condition = rule.condition.as_ref();
        let redirect = &rule.redirect;
        RoutingRuleFields {
            has_condition: condition.is_some(),
            key_prefix_equals: condition.and_then(|c| c.key_prefix_equals.as_deref()),
            http_error_code_returned_equals: condition
                .and_then(|c| c.http_error_code_returned_equals.as_deref()),
            host_name: redirect.host_name.as_deref(),
            protocol: redirect.protocol.as_ref().map(|protocol| protocol.as_str()),
            http_redirect_code: redirect.http_redirect_code.as_deref(),
            replace_key_prefix_with: redirect.replace_key_prefix_with.as_deref(),
            replace_key_with: redirect.replace_key_with.as_deref(),
        }
        .check()
    }

    /// Whether the rule sends a request for `key` away before the key is read: it has no
    /// error condition, and its prefix (if any) starts the key.
    fn applies_before_reading(&self, key: &str) -> bool {
        match &self.condition {
            None => true,
            Some(condition) => {
                condition.http_error_code_returned_equals.is_none()
                    && condition
                        .key_prefix_equals
                        .as_deref()
                        .is_none_or(|prefix| key.starts_with(prefix))
            }
        }
    }

    /// Whether the rule sends a request for `key` away once reading it failed with `status`.
    fn applies_on_error(&self, key: &str, status: StatusCode) -> bool {
        self.condition.as_ref().is_some_and(|condition| {
            condition.http_error_code_returned_equals == Some(status.as_u16())
                && condition
                    .key_prefix_equals
                    .as_deref()
                    .is_none_or(|prefix| key.starts_with(prefix))
        })
    }

    /// The redirect's status and `Location` for a request for `key` that came to `host`
    /// over `protocol`. The key is replaced whole, or its matched prefix (none when the
    /// condition names none) is replaced; the new key is percent-encoded into the path.
    pub fn location(&self, key: &str, host: &str, protocol: &str) -> (StatusCode, String) {
        let redirect = &self.redirect;
        let new_key = match &redirect.replace {
            None => key.to_owned(),
            Some(ReplaceKey::With(whole)) => whole.clone(),
            Some(ReplaceKey::PrefixWith(replacement)) => {
                let prefix = self
                    .condition
                    .as_ref()
                    .and_then(|condition| condition.key_prefix_equals.as_deref())
                    .unwrap_or_default();
                format!("{replacement}{}", key.strip_prefix(prefix).unwrap_or(key))
            }
        };
        let status = redirect
            .http_redirect_code
            .and_then(|code| StatusCode::from_u16(code).ok())
            .unwrap_or(StatusCode::MOVED_PERMANENTLY);
        let protocol = redirect.protocol.as_deref().unwrap_or(protocol);
        let host = redirect.host_name.as_deref().unwrap_or(host);
        let path = utf8_percent_encode(&new_key, KEY_PATH);
        (status, format!("{protocol}://{host}/{path}"))
    }
}

/// What is escaped when a key becomes a URL path: all but unreserved characters and `/`.
const KEY_PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// The first rule that redirects a request for `key` before it is read.
pub fn before_reading<'r>(rules: &'r [RoutingRule], key: &str) -> Option<&'r RoutingRule> {
    rules.iter().find(|rule| rule.applies_before_reading(key))
}

/// The first rule that redirects a request for `key` whose read failed with `status`.
pub fn on_error<'r>(
    rules: &'r [RoutingRule],
    key: &str,
    status: StatusCode,
) -> Option<&'r RoutingRule> {
    rules.iter().find(|rule| rule.applies_on_error(key, status))
}

/// Checks an object's `x-amz-website-redirect-location` as S3 does on a write: a key of
/// the same bucket (starting with `/`) or an absolute `http://` or `https://` URL, at most
/// 2 KB.
pub fn check_redirect_location(location: &str) -> Result<(), &'static str> {
    if location.len() > 2048 {
        return Err("The website redirect location must be at most 2048 bytes.");
    }
    if location.starts_with('/')
        || location.starts_with("http://")
        || location.starts_with("https://")
    {
        Ok(())
    } else {
        Err("The website redirect location must have a prefix of 'http://' or 'https://' or '/'.")
    }
}

/// [`check_redirect_location`] for a write's `x-amz-website-redirect-location`, as S3's
/// `InvalidRedirectLocation` error (400).
pub(crate) fn check_written_redirect_location(location: Option<&str>) -> s3s::S3Result<()> {
    match location.map(check_redirect_location) {
        Some(Err(message)) => {
            let mut error = s3s::S3Error::with_message(
                s3s::S3ErrorCode::Custom("InvalidRedirectLocation".into()),
                message,
            );
            error.set_status_code(StatusCode::BAD_REQUEST);
            Err(error)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(fields: RoutingRuleFields<'_>) -> RoutingRule {
        fields.check().expect("a valid rule")
    }

    fn refusal(fields: RoutingRuleFields<'_>) -> String {
        fields.check().expect_err("refused").0
    }

    /// The `Location` the first applicable rule gives a request for `key` before reading,
    /// or with `status` once reading failed.
    fn check(rules: &[RoutingRule], key: &str, status: Option<u16>) -> Option<(u16, String)> {
        let found = match status {
            None => before_reading(rules, key),
            Some(status) => on_error(rules, key, StatusCode::from_u16(status).expect("status")),
        }?;
        let (status, location) = found.location(key, "site.s3-website.localhost:3000", "http");
        Some((status.as_u16(), location))
    }

    #[test]
    fn a_prefix_rule_replaces_the_prefix_before_the_key_is_read() {
        let rules = [rule(RoutingRuleFields {
            has_condition: true,
            key_prefix_equals: Some("docs/"),
            replace_key_prefix_with: Some("documents/"),
            ..Default::default()
        })];
        assert_eq!(
            check(&rules, "docs/a b.html", None),
            Some((
                301,
                "http://site.s3-website.localhost:3000/documents/a%20b.html".to_owned()
            ))
        );
        assert_eq!(check(&rules, "images/x.png", None), None);
        assert_eq!(check(&rules, "docs/a.html", Some(404)), None);
    }

    #[test]
    fn an_error_rule_applies_only_once_the_read_failed_with_its_status() {
        let rules = [rule(RoutingRuleFields {
            has_condition: true,
            http_error_code_returned_equals: Some("404"),
            host_name: Some("errors.example.com"),
            protocol: Some("https"),
            http_redirect_code: Some("307"),
            replace_key_prefix_with: Some("report-404/"),
            ..Default::default()
        })];
        assert_eq!(check(&rules, "missing.html", None), None);
        assert_eq!(check(&rules, "missing.html", Some(403)), None);
        assert_eq!(
            check(&rules, "missing.html", Some(404)),
            Some((
                307,
                "https://errors.example.com/report-404/missing.html".to_owned()
            ))
        );
    }

    #[test]
    fn both_conditions_must_hold_and_the_first_rule_that_applies_wins() {
        let rules = [
            rule(RoutingRuleFields {
                has_condition: true,
                key_prefix_equals: Some("images/"),
                http_error_code_returned_equals: Some("404"),
                replace_key_with: Some("folderdeleted.html"),
                ..Default::default()
            }),
            rule(RoutingRuleFields {
                has_condition: true,
                http_error_code_returned_equals: Some("404"),
                host_name: Some("example.com"),
                ..Default::default()
            }),
        ];
        assert_eq!(check(&rules, "images/x.png", None), None);
        assert_eq!(
            check(&rules, "images/x.png", Some(404)),
            Some((
                301,
                "http://site.s3-website.localhost:3000/folderdeleted.html".to_owned()
            ))
        );
        assert_eq!(
            check(&rules, "other/x.png", Some(404)),
            Some((301, "http://example.com/other/x.png".to_owned()))
        );
    }

    #[test]
    fn a_rule_without_a_condition_sends_every_request_away() {
        let rules = [rule(RoutingRuleFields {
            protocol: Some("https"),
            ..Default::default()
        })];
        assert_eq!(
            check(&rules, "", None),
            Some((301, "https://site.s3-website.localhost:3000/".to_owned()))
        );
    }

    #[test]
    fn rules_are_refused_with_s3s_wording() {
        assert_eq!(
            refusal(RoutingRuleFields {
                http_redirect_code: Some("300"),
                ..Default::default()
            }),
            "The provided HTTP redirect code (300) is not valid. Valid codes are 3XX except 300."
        );
        assert_eq!(
            refusal(RoutingRuleFields {
                has_condition: true,
                http_error_code_returned_equals: Some("302"),
                host_name: Some("example.com"),
                ..Default::default()
            }),
            "The provided HTTP error code (302) is not valid. Valid codes are 4XX or 5XX."
        );
        assert_eq!(
            refusal(RoutingRuleFields {
                replace_key_with: Some("a"),
                replace_key_prefix_with: Some("b/"),
                ..Default::default()
            }),
            "You can only define ReplaceKeyPrefix or ReplaceKey but not both."
        );
        assert!(refusal(RoutingRuleFields {
            has_condition: true,
            host_name: Some("example.com"),
            ..Default::default()
        })
        .starts_with("Condition cannot be empty."));
        assert!(refusal(RoutingRuleFields {
            protocol: Some("ftp"),
            ..Default::default()
        })
        .starts_with("Invalid protocol"));
        assert!(refusal(RoutingRuleFields::default()).starts_with("Redirect must have"));
        assert_eq!(
            check_rule_count(51).expect_err("too many").0,
            "51 routing rules provided, the number of routing rules in a website configuration \
             is limited to 50."
        );
        assert_eq!(check_rule_count(50), Ok(()));
    }

    #[test]
    fn redirect_locations_are_a_key_or_an_absolute_url() {
        assert_eq!(check_redirect_location("/about/"), Ok(()));
        assert_eq!(check_redirect_location("https://example.com/x"), Ok(()));
        assert!(check_redirect_location("about/").is_err());
        assert!(check_redirect_location("ftp://example.com").is_err());
    }

    #[test]
    fn rules_read_from_a_document_in_cloudformations_shape() {
        let rules = rules_of_document(&serde_json::json!({
            "IndexDocument": "index.html",
            "RoutingRules": [
                {"RoutingRuleCondition": {"KeyPrefixEquals": "docs/"},
                 "RedirectRule": {"ReplaceKeyPrefixWith": "documents/"}},
                {"RoutingRuleCondition": {"HttpErrorCodeReturnedEquals": "404"},
                 "RedirectRule": {"HostName": "example.com", "Protocol": "https",
                                  "HttpRedirectCode": "302", "ReplaceKeyWith": "lost.html"}}
            ]
        }))
        .expect("valid");
        assert_eq!(
            rules,
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
        let refused = rules_of_document(&serde_json::json!({
            "RoutingRules": [
                {"RedirectRule": {"HostName": "example.com"}},
                {"RedirectRule": {"HttpRedirectCode": "200"}}
            ]
        }))
        .expect_err("refused");
        assert_eq!(
            refused.to_string(),
            "RoutingRules[1]: The provided HTTP redirect code (200) is not valid. Valid codes \
             are 3XX except 300."
        );
        assert_eq!(rules_of_document(&serde_json::json!({})), Ok(Vec::new()));
    }

    #[test]
    fn rules_read_from_put_bucket_website() {
        let dto = s3s::dto::RoutingRule {
            condition: Some(s3s::dto::Condition {
                key_prefix_equals: Some("old/".to_owned()),
                http_error_code_returned_equals: None,
            }),
            redirect: s3s::dto::Redirect {
                replace_key_prefix_with: Some("new/".to_owned()),
                http_redirect_code: Some("302".to_owned()),
                ..Default::default()
            },
        };
        let rules = [RoutingRule::from_dto(&dto).expect("valid")];
        assert_eq!(
            check(&rules, "old/page.html", None),
            Some((
                302,
                "http://site.s3-website.localhost:3000/new/page.html".to_owned()
            ))
        );
    }
}
