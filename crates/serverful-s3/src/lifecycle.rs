//! Lifecycle rules: which objects a bucket's `LifecycleConfiguration` expires, and when.
//! A rule is read from the stored document, which has CloudFormation's shape
//! (`Prefix`, `TagFilters`, `ExpirationInDays`, `ExpirationDate`,
//! `NoncurrentVersionExpiration.NoncurrentDays`, ...) or, when the API set it, the API's
//! `Filter` (`Prefix`, `Tag`, `And`) beside those.

use serde_json::Value;
use time::OffsetDateTime;

use crate::configuration::{flag, number};

/// Which objects a rule applies to: all conditions must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LifecycleFilter {
    pub prefix: String,
    pub tags: Vec<(String, String)>,
    pub size_greater_than: Option<i64>,
    pub size_less_than: Option<i64>,
}

impl LifecycleFilter {
    /// Whether an object of `key`, `size` and `tags` is one the rule applies to.
    pub fn matches(&self, key: &str, size: u64, tags: &[(String, String)]) -> bool {
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        key.starts_with(&self.prefix)
            && self
                .tags
                .iter()
                .all(|wanted| tags.iter().any(|tag| tag == wanted))
            && self.size_greater_than.is_none_or(|bound| size > bound)
            && self.size_less_than.is_none_or(|bound| size < bound)
    }
}

/// One lifecycle rule's filter and expiration actions (transitions are accepted and
/// have nothing to do on one machine's storage).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LifecycleRule {
    pub id: Option<String>,
    pub enabled: bool,
    pub filter: LifecycleFilter,
    /// The rule gave its prefix outside a `Filter` (the older form).
    pub legacy_prefix: bool,
    pub expiration_days: Option<i64>,
    pub expiration_date: Option<OffsetDateTime>,
    pub expired_object_delete_marker: bool,
    pub noncurrent_days: Option<i64>,
    pub newer_noncurrent_versions: Option<i64>,
    pub abort_after_days: Option<i64>,
}

fn tag_pair(tag: &Value) -> Option<(String, String)> {
    Some((
        tag.get("Key")?.as_str()?.to_owned(),
        tag.get("Value")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    ))
}

fn tag_list(value: Option<&Value>) -> Vec<(String, String)> {
    value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(tag_pair)
        .collect()
}

/// An ISO 8601 date (`2030-01-01T00:00:00Z` or `2030-01-01`).
pub fn parse_date(text: &str) -> Option<OffsetDateTime> {
    let text = text.trim();
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .or_else(|| {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            time::Date::parse(text, format)
                .ok()
                .map(|date| date.midnight().assume_utc())
        })
}

/// A date as S3 prints lifecycle dates.
pub fn date_text(date: OffsetDateTime) -> String {
    date.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The rules of a `LifecycleConfiguration` document.
pub fn rules_of(document: &Value) -> Vec<LifecycleRule> {
    document
        .get("Rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(rule_of)
        .collect()
}

fn rule_of(rule: &Value) -> LifecycleRule {
    let mut filter = LifecycleFilter::default();
    let mut legacy_prefix = false;
    if let Some(given) = rule.get("Filter") {
        let and = given.get("And");
        let source = and.unwrap_or(given);
        filter.prefix = source
            .get("Prefix")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        filter.tags = tag_list(source.get("Tags"));
        filter.tags.extend(given.get("Tag").and_then(tag_pair));
        filter.size_greater_than = number(source, "ObjectSizeGreaterThan");
        filter.size_less_than = number(source, "ObjectSizeLessThan");
    } else {
        if let Some(prefix) = rule.get("Prefix").and_then(Value::as_str) {
            filter.prefix = prefix.to_owned();
            legacy_prefix = true;
        }
        filter.tags = tag_list(rule.get("TagFilters"));
        filter.size_greater_than = number(rule, "ObjectSizeGreaterThan");
        filter.size_less_than = number(rule, "ObjectSizeLessThan");
        // CloudFormation's tags and sizes make it the filter form.
        if !filter.tags.is_empty()
            || filter.size_greater_than.is_some()
            || filter.size_less_than.is_some()
        {
            legacy_prefix = false;
        }
    }
    let expiration = rule.get("Expiration");
    let noncurrent = rule.get("NoncurrentVersionExpiration");
    LifecycleRule {
        id: rule
            .get("Id")
            .or_else(|| rule.get("ID"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        enabled: rule.get("Status").and_then(Value::as_str) == Some("Enabled"),
        filter,
        legacy_prefix,
        expiration_days: number(rule, "ExpirationInDays")
            .or_else(|| expiration.and_then(|expiration| number(expiration, "Days"))),
        expiration_date: rule
            .get("ExpirationDate")
            .or_else(|| expiration.and_then(|expiration| expiration.get("Date")))
            .and_then(Value::as_str)
            .and_then(parse_date),
        expired_object_delete_marker: flag(rule, "ExpiredObjectDeleteMarker")
            .or_else(|| {
                expiration.and_then(|expiration| flag(expiration, "ExpiredObjectDeleteMarker"))
            })
            .unwrap_or(false),
        noncurrent_days: noncurrent
            .and_then(|noncurrent| number(noncurrent, "NoncurrentDays"))
            .or_else(|| number(rule, "NoncurrentVersionExpirationInDays")),
        newer_noncurrent_versions: noncurrent
            .and_then(|noncurrent| number(noncurrent, "NewerNoncurrentVersions")),
        abort_after_days: rule
            .get("AbortIncompleteMultipartUpload")
            .and_then(|abort| number(abort, "DaysAfterInitiation")),
    }
}

/// When an object created at `created` expires under `days`: S3 counts whole days and
/// rounds the result up to the next midnight UTC. With a short day (`day_secs` below a
/// real day's 86400 seconds, for tests) it is `created` plus that many short days.
pub fn expires_at(created: OffsetDateTime, days: i64, day_secs: u64) -> OffsetDateTime {
    let day_secs = i64::try_from(day_secs).unwrap_or(86_400);
    let due = created + time::Duration::seconds(days.saturating_mul(day_secs));
    if day_secs < 86_400 {
        return due;
    }
    let midnight = due.date().midnight().assume_utc();
    if midnight == due {
        due
    } else {
        midnight + time::Duration::days(1)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn rules_read_cloudformation_and_the_api() {
        let template = json!({"Rules": [
            {"Id": "logs", "Status": "Enabled", "Prefix": "logs/", "ExpirationInDays": 7,
             "NoncurrentVersionExpiration": {"NoncurrentDays": 3},
             "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": "2"}},
            {"Status": "Disabled", "TagFilters": [{"Key": "tmp", "Value": "yes"}],
             "ExpirationDate": "2030-01-01T00:00:00Z"}
        ]});
        let rules = rules_of(&template);
        assert_eq!(rules.len(), 2);
        assert!(rules[0].enabled && rules[0].legacy_prefix);
        assert_eq!(rules[0].filter.prefix, "logs/");
        assert_eq!(rules[0].expiration_days, Some(7));
        assert_eq!(rules[0].noncurrent_days, Some(3));
        assert_eq!(rules[0].abort_after_days, Some(2));
        assert!(!rules[1].enabled && !rules[1].legacy_prefix);
        assert_eq!(rules[1].filter.tags, vec![("tmp".into(), "yes".into())]);
        assert_eq!(
            rules[1].expiration_date.map(date_text).as_deref(),
            Some("2030-01-01T00:00:00Z")
        );
        let api = json!({"Rules": [{"Status": "Enabled",
            "Filter": {"And": {"Prefix": "a/", "Tags": [{"Key": "k", "Value": "v"}],
                               "ObjectSizeGreaterThan": 10}},
            "Expiration": {"ExpiredObjectDeleteMarker": true}}]});
        let rule = &rules_of(&api)[0];
        assert!(rule.expired_object_delete_marker);
        assert!(rule.filter.matches("a/b", 11, &[("k".into(), "v".into())]));
        assert!(!rule.filter.matches("a/b", 10, &[("k".into(), "v".into())]));
        assert!(!rule.filter.matches("a/b", 11, &[]));
        assert!(!rule.filter.matches("b/a", 11, &[("k".into(), "v".into())]));
    }

    #[test]
    fn days_end_at_the_next_midnight_unless_they_are_short() {
        let created = parse_date("2026-03-01T10:30:00Z").expect("date");
        assert_eq!(
            date_text(expires_at(created, 1, 86_400)),
            "2026-03-03T00:00:00Z"
        );
        assert_eq!(date_text(expires_at(created, 2, 5)), "2026-03-01T10:30:10Z");
    }
}
