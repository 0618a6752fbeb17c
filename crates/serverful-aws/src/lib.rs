//! The AWS-compatible endpoint: one listener that serves the AWS APIs functions and
//! tools call (DynamoDB, DynamoDB Streams, Lambda, ...), as AWS serves them.
//!
//! This crate is the framework those APIs plug into: SigV4 verification
//! ([`sigv4`]), routing by `X-Amz-Target`, path or credential scope ([`router()`]), the service traits
//! ([`JsonService`], [`RestService`], and [`StreamingService`] for S3, whose bodies are not
//! buffered), AWS's error shapes ([`AwsError`]), what AWS answers unsigned (CORS
//! preflights in [`cors`], the health check), request ids in each service's shape
//! ([`request_id`]), the
//! endpoint's key pair ([`load_or_generate_credentials`]) and who may do what with which
//! keys ([`authz`]: the [`KeyRing`], each key's [`Principal`] and its [`Policy`]). It knows
//! HTTP and AWS wire formats, and nothing of how a service stores anything, nor of stacks
//! beyond the names a [`StackScope`] lists.
//!
//! ```no_run
//! # async fn run(service: std::sync::Arc<dyn serverful_aws::JsonService>) -> std::io::Result<()> {
//! let (credentials, _source) = serverful_aws::load_or_generate_credentials(".serverful".as_ref())
//!     .map_err(std::io::Error::other)?;
//! let state = serverful_aws::AwsState::new(credentials).with_json_service(service);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:4566").await?;
//! axum::serve(listener, serverful_aws::router(state)).await
//! # }
//! ```

pub mod authz;
pub mod cors;
pub mod credentials;
pub mod dynamodb;
pub mod error;
pub mod execute_api;
mod health;
pub mod host;
pub mod request_id;
pub mod router;
pub mod service;
pub mod sigv4;

pub use authz::{
    AccessDenied, Action, Identities, Identity, KeyRing, Policy, Principal, Resource, StackScope,
};
pub use credentials::{
    load_or_generate_credentials, resolve_credentials, Credentials, CredentialsError, KeySource,
    KEYS_FILE_NAME,
};
pub use dynamodb::{DynamoDbService, DynamoDbStreamsService};
pub use error::{AwsError, MessageField};
pub use router::{router, AwsState, DEFAULT_ACCOUNT_ID, DEFAULT_REGION};
pub use service::{JsonRequest, JsonService, RestRequest, RestService, Route, StreamingService};
pub use sigv4::AuthError;
