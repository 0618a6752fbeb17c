//! Lifecycle rules: which objects a bucket's `LifecycleConfiguration` expires, and when.
//! A rule is read from the stored document, which has CloudFormation's shape
//! (`Prefix`, `TagFilters`, `ExpirationInDays`, `ExpirationDate`,
//! `NoncurrentVersionExpiration.NoncurrentDays`, ...) or, when the API set it, the API's
//! `Filter` (`Prefix`, `Tag`, `And`) beside those.

use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;

use crate::backend::{ConfigurationKind, StorageError};
use crate::configuration::{flag, number};
use crate::S3Store;

/// A real lifecycle day.
pub const DAY_SECS: u64 = 86_400;

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

/// What one sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Sweep {
    /// Current objects expired (deleted, or hidden behind a delete marker).
    pub expired: usize,
    /// Noncurrent versions deleted.
    pub noncurrent_deleted: usize,
    /// Delete markers left alone by every version, removed.
    pub markers_removed: usize,
    /// Incomplete multipart uploads aborted.
    pub uploads_aborted: usize,
}

impl S3Store {
    /// Starts the background sweep: every `day_secs` (at most every hour) it applies each
    /// bucket's lifecycle rules, with a lifecycle day lasting `day_secs` seconds.
    pub fn spawn_lifecycle_sweep(&self, day_secs: u64) -> tokio::task::JoinHandle<()> {
        let store = self.clone();
        let day_secs = day_secs.max(1);
        let period = Duration::from_secs(day_secs.min(3600));
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match store
                    .sweep_lifecycle(OffsetDateTime::now_utc(), day_secs)
                    .await
                {
                    Ok(sweep) if sweep != Sweep::default() => {
                        tracing::info!(?sweep, "S3 lifecycle rules expired objects");
                    }
                    Ok(_) => {}
                    Err(error) => tracing::error!("failed to sweep S3 lifecycle rules: {error}"),
                }
            }
        })
    }

    /// Applies every bucket's enabled lifecycle rules as of `now`.
    pub async fn sweep_lifecycle(
        &self,
        now: OffsetDateTime,
        day_secs: u64,
    ) -> Result<Sweep, StorageError> {
        let mut sweep = Sweep::default();
        let configured = self
            .backend
            .configurations_of_kind(ConfigurationKind::Lifecycle)?;
        for (bucket, stored) in configured {
            let rules: Vec<LifecycleRule> = rules_of(&stored.document)
                .into_iter()
                .filter(|rule| rule.enabled)
                .collect();
            if rules.is_empty() {
                continue;
            }
            for rule in &rules {
                self.expire_current(&bucket, rule, now, day_secs, &mut sweep)
                    .await?;
                self.expire_versions(&bucket, rule, now, day_secs, &mut sweep)
                    .await?;
                self.abort_uploads(&bucket, rule, now, day_secs, &mut sweep)
                    .await?;
            }
        }
        Ok(sweep)
    }

    /// Expiration of current objects: deleted, or behind a delete marker when versioned.
    async fn expire_current(
        &self,
        bucket: &str,
        rule: &LifecycleRule,
        now: OffsetDateTime,
        day_secs: u64,
        sweep: &mut Sweep,
    ) -> Result<(), StorageError> {
        if rule.expiration_days.is_none() && rule.expiration_date.is_none() {
            return Ok(());
        }
        let due = |created: OffsetDateTime| match (rule.expiration_days, rule.expiration_date) {
            (Some(days), _) => now >= expires_at(created, days, day_secs),
            (None, Some(date)) => now >= date,
            (None, None) => false,
        };
        let mut expired = Vec::new();
        let mut after = String::new();
        loop {
            let batch = self
                .backend
                .list_objects(bucket, &rule.filter.prefix, &after, 1000)?;
            let full = batch.len() == 1000;
            for object in batch {
                after.clone_from(&object.key);
                if rule.filter.matches(&object.key, object.size, &object.tags)
                    && due(object.last_modified)
                {
                    expired.push(object.key);
                }
            }
            if !full {
                break;
            }
        }
        let origin = S3Store::lifecycle_origin();
        for key in expired {
            let deletion = match self
                .delete_and_tell(&origin, bucket, &key, None, true)
                .await
            {
                Ok(deletion) => deletion,
                Err(error) => {
                    tracing::error!(bucket, key, "failed to expire an object: {error}");
                    continue;
                }
            };
            if deletion.event.is_some() {
                sweep.expired += 1;
            }
        }
        Ok(())
    }

    /// Noncurrent versions past their days (keeping the newest `NewerNoncurrentVersions`),
    /// and delete markers no version is left behind.
    async fn expire_versions(
        &self,
        bucket: &str,
        rule: &LifecycleRule,
        now: OffsetDateTime,
        day_secs: u64,
        sweep: &mut Sweep,
    ) -> Result<(), StorageError> {
        if rule.noncurrent_days.is_none() && !rule.expired_object_delete_marker {
            return Ok(());
        }
        let mut after = String::new();
        let mut doomed: Vec<(String, Option<String>, bool)> = Vec::new();
        loop {
            let keys =
                self.backend
                    .versioned_keys(bucket, &rule.filter.prefix, &after, false, 1000)?;
            let full = keys.len() == 1000;
            for key in keys {
                after.clone_from(&key);
                let versions = self.backend.versions_of(bucket, &key)?;
                if let Some(days) = rule.noncurrent_days {
                    let keep =
                        usize::try_from(rule.newer_noncurrent_versions.unwrap_or(0)).unwrap_or(0);
                    let mut n_noncurrent = 0usize;
                    // A version became noncurrent when the next newer one was written.
                    for pair in versions.windows(2) {
                        let (newer, version) = (&pair[0], &pair[1]);
                        if version.delete_marker {
                            continue;
                        }
                        n_noncurrent += 1;
                        if n_noncurrent <= keep
                            || !rule
                                .filter
                                .matches(&key, version.record.size, &version.record.tags)
                        {
                            continue;
                        }
                        if now >= expires_at(newer.record.last_modified, days, day_secs) {
                            doomed.push((key.clone(), version.record.version_id.clone(), false));
                        }
                    }
                }
                let lone_marker = versions.len() == 1 && versions[0].delete_marker;
                if rule.expired_object_delete_marker && lone_marker {
                    doomed.push((key.clone(), versions[0].record.version_id.clone(), true));
                }
            }
            if !full {
                break;
            }
        }
        let origin = S3Store::lifecycle_origin();
        for (key, version_id, marker) in doomed {
            let text = version_id.clone().unwrap_or_else(|| "null".to_owned());
            match self
                .delete_and_tell(&origin, bucket, &key, Some(&text), true)
                .await
            {
                Ok(deletion) if deletion.event.is_some() => {
                    if marker {
                        sweep.markers_removed += 1;
                    } else {
                        sweep.noncurrent_deleted += 1;
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::error!(bucket, key, "failed to expire a version: {error}");
                }
            }
        }
        Ok(())
    }

    /// Multipart uploads started more than `DaysAfterInitiation` days ago.
    async fn abort_uploads(
        &self,
        bucket: &str,
        rule: &LifecycleRule,
        now: OffsetDateTime,
        day_secs: u64,
        sweep: &mut Sweep,
    ) -> Result<(), StorageError> {
        let Some(days) = rule.abort_after_days else {
            return Ok(());
        };
        for upload in self.backend.uploads(bucket)? {
            if upload.key.starts_with(&rule.filter.prefix)
                && now >= expires_at(upload.initiated, days, day_secs)
            {
                let bodies = self.backend.abort_upload(&upload.id)?;
                self.bodies.remove(bodies).await;
                sweep.uploads_aborted += 1;
            }
        }
        Ok(())
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

    fn store(dir: &std::path::Path) -> S3Store {
        let keys = serverful_aws::KeyRing::new(
            serverful_aws::Credentials {
                access_key_id: "AKIDTEST".to_owned(),
                secret_access_key: "secret".to_owned(),
            },
            serverful_aws::Principal::root("123456789012"),
        );
        crate::open_in(dir, std::sync::Arc::new(keys), "us-east-1").expect("open")
    }

    fn put(store: &S3Store, key: &str, version: Option<&str>, at: OffsetDateTime) {
        store
            .backend
            .put_object(&crate::backend::ObjectRecord {
                bucket: "b".to_owned(),
                key: key.to_owned(),
                size: 1,
                etag: "e".to_owned(),
                last_modified: at,
                headers: Default::default(),
                checksums: Default::default(),
                parts_count: None,
                tags: Vec::new(),
                body: format!("{key}-{}", version.unwrap_or("null")),
                version_id: version.map(str::to_owned),
            })
            .expect("put");
    }

    #[tokio::test]
    async fn the_sweep_expires_what_is_due() {
        let dir = tempfile::tempdir().expect("dir");
        let store = store(dir.path());
        store.ensure_stack_bucket("b", "stack").expect("bucket");
        let start = parse_date("2026-01-01T00:00:00Z").expect("date");
        let lifecycle = json!({"Rules": [
            {"Status": "Enabled", "Prefix": "tmp/", "ExpirationInDays": 2,
             "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
            {"Status": "Enabled", "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
             "ExpiredObjectDeleteMarker": true}
        ]});
        store
            .set_template_configuration("b", ConfigurationKind::Lifecycle, Some(lifecycle))
            .expect("lifecycle");
        put(&store, "tmp/a", None, start);
        put(&store, "keep/a", None, start);
        let day = 10;
        let at = |secs: i64| start + time::Duration::seconds(secs);
        store
            .backend
            .create_upload(&crate::backend::Upload {
                id: "upload".to_owned(),
                bucket: "b".to_owned(),
                key: "tmp/big".to_owned(),
                initiated: at(10),
                headers: Default::default(),
                tags: Vec::new(),
                checksum_algorithm: None,
            })
            .expect("upload");
        // One short day in: nothing is due.
        let sweep = store.sweep_lifecycle(at(15), day).await.expect("sweep");
        assert_eq!(sweep, Sweep::default());
        let sweep = store.sweep_lifecycle(at(20), day).await.expect("sweep");
        assert_eq!(sweep.expired, 1);
        assert_eq!(sweep.uploads_aborted, 1);
        assert!(store.backend.upload("upload").expect("read").is_none());
        assert!(store.backend.object("b", "tmp/a").expect("read").is_none());
        assert!(store.backend.object("b", "keep/a").expect("read").is_some());

        // Versioned: a noncurrent version goes one day after it was replaced, and the
        // marker left alone goes with its last version.
        store
            .set_template_configuration(
                "b",
                ConfigurationKind::Versioning,
                Some(json!({"Status": "Enabled"})),
            )
            .expect("versioning");
        put(
            &store,
            "v",
            Some("11111111111111111111111111111111"),
            at(100),
        );
        put(
            &store,
            "v",
            Some("22222222222222222222222222222222"),
            at(105),
        );
        store.delete_key("b", "v", None).await.expect("marker");
        let sweep = store.sweep_lifecycle(at(110), day).await.expect("sweep");
        assert_eq!(sweep.noncurrent_deleted, 0);
        let versions = store.backend.versions_of("b", "v").expect("versions");
        assert_eq!(versions.len(), 3);
        // The marker was written now (wall clock), so the second version's day counts
        // from now; sweep far enough ahead for both.
        let later = OffsetDateTime::now_utc() + time::Duration::seconds(30);
        let sweep = store.sweep_lifecycle(later, day).await.expect("sweep");
        assert_eq!(sweep.noncurrent_deleted, 2);
        let sweep = store.sweep_lifecycle(later, day).await.expect("sweep");
        assert_eq!(sweep.markers_removed, 1);
        assert!(store
            .backend
            .versions_of("b", "v")
            .expect("versions")
            .is_empty());
    }
}
