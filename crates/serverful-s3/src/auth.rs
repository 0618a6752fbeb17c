//! Who may call S3: s3s verifies each request's SigV4 signature (header, presigned URL or
//! aws-chunked body) with the secrets of the endpoint's [`KeyRing`] ([`KeyRingAuth`]), so
//! the keys that work for DynamoDB or SQS work for S3; [`KeyRingAccess`] then asks the
//! signer's [`serverful_aws::Principal`] whether it may take the operation on the
//! bucket, as the other services ask it.

use std::sync::Arc;

use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::path::S3Path;
use s3s::{s3_error, S3Error, S3ErrorCode, S3Result};
use serverful_aws::{Action, KeyRing, Resource};

/// The secrets of the endpoint's keys.
#[derive(Debug)]
pub struct KeyRingAuth {
    pub keys: Arc<KeyRing>,
}

#[async_trait::async_trait]
impl S3Auth for KeyRingAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        self.keys
            .snapshot()
            .get(access_key)
            .map(|identity| SecretKey::from(identity.credentials.secret_access_key.as_str()))
            .ok_or_else(|| {
                s3_error!(
                    InvalidAccessKeyId,
                    "The AWS Access Key Id you provided does not exist in our records."
                )
            })
    }
}

/// Each operation checked against the signer's principal.
#[derive(Debug)]
pub struct KeyRingAccess {
    pub keys: Arc<KeyRing>,
    /// The region bucket ARNs are printed in.
    pub region: String,
}

#[async_trait::async_trait]
impl S3Access for KeyRingAccess {
    async fn check(&self, context: &mut S3AccessContext<'_>) -> S3Result<()> {
        let Some(credentials) = context.credentials() else {
            // Public access (bucket policies, website hosting) is not served yet.
            return Err(s3_error!(AccessDenied, "Access Denied"));
        };
        let identities = self.keys.snapshot();
        let identity = identities.get(&credentials.access_key).ok_or_else(|| {
            s3_error!(
                InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records."
            )
        })?;
        let query = context.uri().query().unwrap_or("");
        if !identity.accepts_token(context.headers(), query) {
            return Err(s3_error!(
                InvalidToken,
                "The provided token is malformed or otherwise invalid."
            ));
        }
        let action = Action::s3(context.s3_op().name());
        let resource = match context.s3_path() {
            S3Path::Root => Resource::Listing,
            S3Path::Bucket { bucket } | S3Path::Object { bucket, .. } => {
                Resource::Bucket { name: bucket }
            }
        };
        identity
            .principal
            .authorize(action, resource, &self.region)
            .map_err(|denied| S3Error::with_message(S3ErrorCode::AccessDenied, denied.message))
    }
}
