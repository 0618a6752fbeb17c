//! Each stack's S3 buckets, as its template declares them: made when a version starts
//! (with their configurations written, `bucket_configurations.rs`), kept across deploys
//! (and their objects with them) as tables are, and deleted with the stack when its data
//! goes too.

use serverful_template as template;

use crate::server::Platform;
use crate::ActionError;

/// Makes the app's buckets that do not exist yet. A bucket of that name made through the
/// API, or by another stack, is refused, as CloudFormation refuses a name in use.
pub(crate) async fn ensure(
    platform: &Platform,
    stack: &str,
    app: &template::App,
) -> Result<(), ActionError> {
    if app.buckets.is_empty() {
        return Ok(());
    }
    let Some(s3) = platform.config().buckets.clone() else {
        return Err(ActionError::invalid(
            "buckets",
            "this server runs no S3 buckets".to_owned(),
        ));
    };
    // A website configuration S3 would refuse fails the deploy before anything is made.
    for bucket in &app.buckets {
        if let Some(website) = bucket.configurations.get("WebsiteConfiguration") {
            serverful_s3::website_routing::rules_of_document(website).map_err(|error| {
                ActionError::invalid(
                    "buckets",
                    format!("{}.WebsiteConfiguration.{error}", bucket.logical_id),
                )
            })?;
        }
    }
    let buckets = app.buckets.clone();
    let stack = stack.to_owned();
    let app = app.clone();
    let (region, account_id) = (
        platform.config().region.clone(),
        platform.config().account_id.clone(),
    );
    let ensured = tokio::task::spawn_blocking(move || {
        for bucket in &buckets {
            let existing = s3
                .backend()
                .bucket(&bucket.name)
                .map_err(|error| format!("{} ({}): {error}", bucket.logical_id, bucket.name))?;
            match existing {
                Some(existing) if existing.stack.as_deref() == Some(stack.as_str()) => {}
                Some(existing) => {
                    let owner = existing.stack.map_or_else(
                        || "was made through the S3 API".to_owned(),
                        |owner| format!("belongs to the stack {owner}"),
                    );
                    return Err(format!(
                        "{} ({}): the bucket already exists and {owner}",
                        bucket.logical_id, bucket.name
                    ));
                }
                None => s3
                    .ensure_stack_bucket(&bucket.name, &stack)
                    .map_err(|error| format!("{} ({}): {error}", bucket.logical_id, bucket.name))?,
            }
        }
        crate::bucket_configurations::write(&s3, &app, &region, &account_id)?;
        Ok::<(), String>(())
    })
    .await
    .map_err(|error| ActionError::internal("buckets", error.to_string()))?;
    ensured.map_err(|message| ActionError::invalid("buckets", message))
}

/// Deletes a deleted stack's buckets with their objects when `with_data`; otherwise they
/// stay, as its tables do.
pub(crate) async fn delete_stack(platform: &Platform, app: &template::App, with_data: bool) {
    let Some(s3) = platform.config().buckets.clone() else {
        return;
    };
    if !with_data {
        return;
    }
    for bucket in &app.buckets {
        if let Err(error) = s3.delete_stack_bucket(&bucket.name).await {
            tracing::warn!("failed to delete the bucket {}: {error}", bucket.name);
        }
    }
}
