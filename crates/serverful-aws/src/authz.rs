//! Who signed a request and what they may do: the endpoint's authorization seam.
//!
//! Every access key the endpoint accepts belongs to an [`Identity`] in the [`KeyRing`]:
//! the key pair that verifies its signatures and the [`Principal`] it acts as. The router
//! resolves the principal once per request, with the signature, and hands it to the
//! service, which asks [`Principal::authorize`] for each action and resource a call would
//! touch before it dispatches, and filters listings with [`Principal::allows`].
//!
//! A principal's [`Policy`] says what it may do. Today there are two: the endpoint's master
//! keys may do everything (an account's root user), and a stack's keys may act only on
//! that stack's own tables and functions. Fine-grained IAM (the policies of a function's
//! `Policies`) is another `Policy`, evaluated by the same call on the same actions and
//! resources, which is why both are named as IAM names them (`dynamodb:GetItem` on a
//! table's ARN).

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, RwLock};

use http::StatusCode;

use crate::credentials::Credentials;
use crate::error::{AwsError, MessageField};
use crate::sigv4::SigningKeys;

/// An action as IAM names it: `dynamodb:GetItem`, `lambda:InvokeFunction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action<'a> {
    /// The service prefix: `dynamodb`, `lambda`.
    pub service: &'static str,
    /// The action within it: `GetItem`, `InvokeFunction`.
    pub name: &'a str,
}

impl<'a> Action<'a> {
    /// A DynamoDB action (the Streams API's actions are DynamoDB's too).
    pub fn dynamodb(name: &'a str) -> Action<'a> {
        Action {
            service: "dynamodb",
            name,
        }
    }

    /// An API Gateway action on APIs (`Invoke`, `ManageConnections`).
    pub fn execute_api(name: &'a str) -> Action<'a> {
        Action {
            service: "execute-api",
            name,
        }
    }

    /// A Lambda action.
    pub fn lambda(name: &'a str) -> Action<'a> {
        Action {
            service: "lambda",
            name,
        }
    }

    /// An SQS action.
    pub fn sqs(name: &'a str) -> Action<'a> {
        Action {
            service: "sqs",
            name,
        }
    }

    /// An S3 action (`s3:PutObject`; s3s names operations as IAM names them).
    pub fn s3(name: &'a str) -> Action<'a> {
        Action {
            service: "s3",
            name,
        }
    }

    /// An SNS action.
    pub fn sns(name: &'a str) -> Action<'a> {
        Action {
            service: "sns",
            name,
        }
    }
}

impl fmt::Display for Action<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.service, self.name)
    }
}

/// What an action acts on, by the names the request gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource<'a> {
    /// A DynamoDB table, or one of its indexes.
    Table {
        name: &'a str,
        index: Option<&'a str>,
    },
    /// A table's stream (the DynamoDB Streams API).
    Stream { table: &'a str },
    /// A Lambda function by its name, with the version or alias asked for.
    Function {
        name: &'a str,
        qualifier: Option<&'a str>,
    },
    /// An SQS queue by its name.
    Queue { name: &'a str },
    /// An SNS topic by name (its subscriptions act on it too).
    Topic { name: &'a str },
    /// An S3 bucket, or an object in it.
    Bucket { name: &'a str },
    /// A route of an API Gateway API (`execute-api:Invoke`) or its connections
    /// (`execute-api:ManageConnections`), with the stack that owns the API.
    Api {
        stack: &'a str,
        api_id: &'a str,
        stage: &'a str,
        /// What follows the stage in the ARN: `GET/pets/7`, `$connect`,
        /// `POST/@connections/{id}`.
        route: &'a str,
    },
    /// No one resource: an account-wide listing (`ListTables`, `ListFunctions`), whose
    /// answer the service filters with [`Principal::allows`].
    Listing,
}

impl Resource<'_> {
    /// The resource's ARN, as AWS prints it in an access denial.
    pub fn arn(&self, region: &str, account_id: &str) -> String {
        match self {
            Resource::Table { name, index: None } => {
                format!("arn:aws:dynamodb:{region}:{account_id}:table/{name}")
            }
            Resource::Table {
                name,
                index: Some(index),
            } => format!("arn:aws:dynamodb:{region}:{account_id}:table/{name}/index/{index}"),
            Resource::Stream { table } => {
                format!("arn:aws:dynamodb:{region}:{account_id}:table/{table}/stream/*")
            }
            Resource::Function {
                name,
                qualifier: None,
            } => format!("arn:aws:lambda:{region}:{account_id}:function:{name}"),
            Resource::Function {
                name,
                qualifier: Some(qualifier),
            } => format!("arn:aws:lambda:{region}:{account_id}:function:{name}:{qualifier}"),
            Resource::Queue { name } => format!("arn:aws:sqs:{region}:{account_id}:{name}"),
            Resource::Topic { name } => format!("arn:aws:sns:{region}:{account_id}:{name}"),
            Resource::Bucket { name } => format!("arn:aws:s3:::{name}"),
            Resource::Api {
                api_id,
                stage,
                route,
                ..
            } => format!("arn:aws:execute-api:{region}:{account_id}:{api_id}/{stage}/{route}"),
            Resource::Listing => "*".to_owned(),
        }
    }
}

/// The DynamoDB actions that define a table rather than use it. A stack's tables are
/// made, changed and deleted by its deploys, from its template, as CloudFormation does;
/// a function without IAM permissions for them could not on AWS either.
const TABLE_DEFINITION_ACTIONS: &[&str] = &[
    "CreateTable",
    "DeleteTable",
    "UpdateTable",
    "UpdateTimeToLive",
    "TagResource",
    "UntagResource",
];

/// The SQS actions that define a queue rather than use it: a stack's queues come from
/// its template, as its tables do.
const QUEUE_DEFINITION_ACTIONS: &[&str] = &[
    "CreateQueue",
    "DeleteQueue",
    "SetQueueAttributes",
    "TagQueue",
    "UntagQueue",
    "AddPermission",
    "RemovePermission",
];

/// The SNS actions that define a topic rather than use it, made by deploys as tables are.
const TOPIC_DEFINITION_ACTIONS: &[&str] = &[
    "CreateTopic",
    "DeleteTopic",
    "SetTopicAttributes",
    "TagResource",
    "UntagResource",
];

/// The S3 actions that define a bucket rather than use it: a stack's buckets and their
/// configuration come from its template, as its tables do.
const BUCKET_DEFINITION_ACTIONS: &[&str] = &[
    "CreateBucket",
    "DeleteBucket",
    "PutBucketPolicy",
    "DeleteBucketPolicy",
    "PutBucketCors",
    "DeleteBucketCors",
    "PutBucketVersioning",
    "PutBucketLifecycleConfiguration",
    "DeleteBucketLifecycle",
    "PutBucketNotificationConfiguration",
    "PutBucketWebsite",
    "DeleteBucketWebsite",
    "PutBucketTagging",
    "DeleteBucketTagging",
    "PutBucketAcl",
    "PutPublicAccessBlock",
    "DeletePublicAccessBlock",
];

/// The account-wide actions a stack may take; their answers list only what it may see.
const LISTING_ACTIONS: &[(&str, &str)] = &[
    ("dynamodb", "ListTables"),
    ("dynamodb", "ListStreams"),
    ("lambda", "ListFunctions"),
    ("sqs", "ListQueues"),
    ("sns", "ListTopics"),
    ("sns", "ListSubscriptions"),
    ("s3", "ListBuckets"),
];

/// What a stack owns: the physical names of its live versions' tables and functions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackScope {
    /// The stack's name.
    pub stack: String,
    /// Its tables' names.
    pub tables: BTreeSet<String>,
    /// Its functions' names.
    pub functions: BTreeSet<String>,
    /// Its SQS queues' names.
    pub queues: BTreeSet<String>,
    /// Its SNS topics' names.
    pub topics: BTreeSet<String>,
    /// Its S3 buckets' names.
    pub buckets: BTreeSet<String>,
}

/// What a principal may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    /// Everything: the endpoint's master keys.
    Unrestricted,
    /// A stack's keys: every use of its own tables, their indexes and streams (not
    /// their definition: [`TABLE_DEFINITION_ACTIONS`]), every Lambda action on its own
    /// functions, calls to its own APIs' `AWS_IAM` routes and their connections, and
    /// listings that show only those.
    Stack(StackScope),
}

impl Policy {
    /// Whether the policy allows `action` on `resource`.
    pub fn allows(&self, action: Action<'_>, resource: Resource<'_>) -> bool {
        let scope = match self {
            Policy::Unrestricted => return true,
            Policy::Stack(scope) => scope,
        };
        match resource {
            Resource::Table { name, .. } | Resource::Stream { table: name } => {
                action.service == "dynamodb"
                    && !TABLE_DEFINITION_ACTIONS.contains(&action.name)
                    && scope.tables.contains(name)
            }
            Resource::Function { name, .. } => {
                action.service == "lambda" && scope.functions.contains(name)
            }
            Resource::Queue { name } => {
                action.service == "sqs"
                    && !QUEUE_DEFINITION_ACTIONS.contains(&action.name)
                    && scope.queues.contains(name)
            }
            Resource::Topic { name } => {
                action.service == "sns"
                    && !TOPIC_DEFINITION_ACTIONS.contains(&action.name)
                    && scope.topics.contains(name)
            }
            Resource::Bucket { name } => {
                action.service == "s3"
                    && !BUCKET_DEFINITION_ACTIONS.contains(&action.name)
                    && scope.buckets.contains(name)
            }
            Resource::Api { stack, .. } => action.service == "execute-api" && scope.stack == stack,
            Resource::Listing => LISTING_ACTIONS.contains(&(action.service, action.name)),
        }
    }
}

/// Who a request acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Its ARN, as AWS names the caller in an access denial.
    pub arn: String,
    /// The account its resources' ARNs name.
    pub account_id: String,
    /// What it may do.
    pub policy: Policy,
}

impl Principal {
    /// The endpoint's master keys: the account's root user, allowed everything.
    pub fn root(account_id: &str) -> Principal {
        Principal {
            arn: format!("arn:aws:iam::{account_id}:root"),
            account_id: account_id.to_owned(),
            policy: Policy::Unrestricted,
        }
    }

    /// A stack's keys. Named as a Lambda function's role session is on AWS, with the
    /// stack as both the role and the session, since its functions share the keys.
    pub fn stack(account_id: &str, scope: StackScope) -> Principal {
        Principal {
            arn: format!(
                "arn:aws:sts::{account_id}:assumed-role/{}-FunctionRole/{}",
                scope.stack, scope.stack
            ),
            account_id: account_id.to_owned(),
            policy: Policy::Stack(scope),
        }
    }

    /// Who sends an unsigned request a service serves to anyone: allowed nothing.
    pub fn anonymous() -> Principal {
        Principal {
            arn: "anonymous".to_owned(),
            account_id: String::new(),
            policy: Policy::Stack(StackScope::default()),
        }
    }

    /// Whether it may do everything, so that services can skip reading what a request
    /// acts on.
    pub fn is_unrestricted(&self) -> bool {
        self.policy == Policy::Unrestricted
    }

    /// Whether it may take `action` on `resource`.
    pub fn allows(&self, action: Action<'_>, resource: Resource<'_>) -> bool {
        self.policy.allows(action, resource)
    }

    /// `Ok` if it may take `action` on `resource`, else the denial, worded as AWS words it
    /// (`region` is the request's, for the resource's ARN).
    pub fn authorize(
        &self,
        action: Action<'_>,
        resource: Resource<'_>,
        region: &str,
    ) -> Result<(), AccessDenied> {
        if self.allows(action, resource) {
            return Ok(());
        }
        Err(AccessDenied {
            message: format!(
                "User: {} is not authorized to perform: {action} on resource: {} because no identity-based policy allows the {action} action",
                self.arn,
                resource.arn(region, &self.account_id)
            ),
        })
    }
}

/// A refused action; each API renders it in its own error shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AccessDenied {
    /// `User: ARN is not authorized to perform: ACTION on resource: ARN because ...`.
    pub message: String,
}

impl AccessDenied {
    /// As the JSON-protocol services (DynamoDB, DynamoDB Streams) send it: a 400 from
    /// AWS's front end, `com.amazon.coral.service#AccessDeniedException`, whose message
    /// member is `Message` (capital M), unlike the front end's signature errors.
    pub fn to_json_error(&self) -> AwsError {
        AwsError::coral("AccessDeniedException", self.message.clone())
            .with_message_field(MessageField::Upper)
    }

    /// As Lambda sends it: 403, `x-amzn-ErrorType: AccessDeniedException`, and the
    /// message as `Message`.
    pub fn to_lambda_error(&self) -> AwsError {
        AwsError::new(
            StatusCode::FORBIDDEN,
            "com.amazonaws.lambda",
            "AccessDeniedException",
            self.message.clone(),
        )
        .with_message_field(MessageField::Upper)
    }
}

/// An access key's owner: the pair that verifies its signatures, the session token its
/// requests must carry (temporary keys, as a Lambda function's role session has), and
/// who it acts as.
#[derive(Debug, Clone)]
pub struct Identity {
    pub credentials: Credentials,
    pub session_token: Option<String>,
    pub principal: Arc<Principal>,
}

impl Identity {
    /// Whether a request carries the session token the key needs: none needed, or the
    /// same in `X-Amz-Security-Token` (a header, or a presigned URL's query).
    pub fn accepts_token(&self, headers: &http::HeaderMap, raw_query: &str) -> bool {
        let Some(expected) = &self.session_token else {
            return true;
        };
        let given = headers
            .get("x-amz-security-token")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
            .or_else(|| {
                crate::sigv4::query_pairs(raw_query)
                    .find(|(key, _)| key == "X-Amz-Security-Token")
                    .map(|(_, value)| value)
            });
        // Compared in constant time, as the signature is.
        given.is_some_and(|given| {
            given.len() == expected.len()
                && given
                    .bytes()
                    .zip(expected.bytes())
                    .fold(0u8, |diff, (a, b)| diff | (a ^ b))
                    == 0
        })
    }
}

/// Every identity by access key id, as one immutable snapshot.
#[derive(Debug, Clone, Default)]
pub struct Identities(HashMap<String, Identity>);

impl Identities {
    /// The identity of an access key.
    pub fn get(&self, access_key_id: &str) -> Option<&Identity> {
        self.0.get(access_key_id)
    }
}

impl SigningKeys for Identities {
    fn secret_access_key(&self, access_key_id: &str) -> Option<&str> {
        self.get(access_key_id)
            .map(|identity| identity.credentials.secret_access_key.as_str())
    }
}

/// The access keys the endpoint accepts, and whose they are. Requests read a snapshot
/// (one lock and one reference count per request); the platform replaces an identity
/// when a stack's deploy changes what it owns, and removes it with the stack, by copying
/// the map, which changes only on such actions.
#[derive(Debug)]
pub struct KeyRing {
    identities: RwLock<Arc<Identities>>,
}

impl KeyRing {
    /// A ring holding the endpoint's master keys as `principal`.
    pub fn new(master: Credentials, principal: Principal) -> KeyRing {
        let ring = KeyRing {
            identities: RwLock::new(Arc::default()),
        };
        ring.insert(master, principal);
        ring
    }

    /// The identities as they are now.
    pub fn snapshot(&self) -> Arc<Identities> {
        self.identities
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Adds an identity, or replaces the one with the same access key id.
    pub fn insert(&self, credentials: Credentials, principal: Principal) {
        self.insert_identity(credentials, None, principal);
    }

    /// Adds temporary keys, whose requests must also carry `session_token`, or replaces
    /// the identity with the same access key id.
    pub fn insert_session(
        &self,
        credentials: Credentials,
        session_token: String,
        principal: Principal,
    ) {
        self.insert_identity(credentials, Some(session_token), principal);
    }

    fn insert_identity(
        &self,
        credentials: Credentials,
        session_token: Option<String>,
        principal: Principal,
    ) {
        self.update(|identities| {
            identities.0.insert(
                credentials.access_key_id.clone(),
                Identity {
                    credentials,
                    session_token,
                    principal: Arc::new(principal),
                },
            );
        });
    }

    /// Forgets an access key: requests signed with it are then refused as unknown.
    pub fn remove(&self, access_key_id: &str) {
        self.update(|identities| {
            identities.0.remove(access_key_id);
        });
    }

    fn update(&self, change: impl FnOnce(&mut Identities)) {
        let mut current = self
            .identities
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut next = Identities::clone(&current);
        change(&mut next);
        *current = Arc::new(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(tables: &[&str], functions: &[&str]) -> Principal {
        Principal::stack(
            "123456789012",
            StackScope {
                stack: "shop".to_owned(),
                tables: tables.iter().map(|name| (*name).to_owned()).collect(),
                functions: functions.iter().map(|name| (*name).to_owned()).collect(),
                queues: BTreeSet::from(["shop-Jobs".to_owned()]),
                ..StackScope::default()
            },
        )
    }

    fn table(name: &str) -> Resource<'_> {
        Resource::Table { name, index: None }
    }

    #[test]
    fn a_stack_uses_its_own_tables_and_functions_only() {
        let shop = stack(&["shop-Orders-1"], &["shop-Api-1"]);
        let get = Action::dynamodb("GetItem");
        assert!(shop.allows(get, table("shop-Orders-1")));
        assert!(shop.allows(
            Action::dynamodb("Query"),
            Resource::Table {
                name: "shop-Orders-1",
                index: Some("byDate")
            }
        ));
        assert!(shop.allows(
            Action::dynamodb("GetRecords"),
            Resource::Stream {
                table: "shop-Orders-1"
            }
        ));
        assert!(!shop.allows(get, table("blog-Posts-1")));
        assert!(!shop.allows(Action::dynamodb("DeleteTable"), table("shop-Orders-1")));
        assert!(!shop.allows(Action::dynamodb("CreateTable"), table("shop-New")));
        let invoke = Action::lambda("InvokeFunction");
        let function = |name| Resource::Function {
            name,
            qualifier: None,
        };
        assert!(shop.allows(invoke, function("shop-Api-1")));
        assert!(!shop.allows(invoke, function("blog-Api-1")));
        // A table's name is not a function's, nor the other way round.
        assert!(!shop.allows(invoke, function("shop-Orders-1")));
        assert!(!shop.allows(get, table("shop-Api-1")));
        assert!(shop.allows(Action::dynamodb("ListTables"), Resource::Listing));
        assert!(!shop.allows(Action::dynamodb("DescribeEndpoints"), Resource::Listing));
        let jobs = Resource::Queue { name: "shop-Jobs" };
        assert!(shop.allows(Action::sqs("SendMessage"), jobs));
        assert!(!shop.allows(Action::sqs("DeleteQueue"), jobs));
        assert!(!shop.allows(
            Action::sqs("SendMessage"),
            Resource::Queue { name: "blog-Jobs" }
        ));
        assert!(!shop.allows(Action::dynamodb("GetItem"), table("shop-Jobs")));
        let root = Principal::root("123456789012");
        assert!(root.allows(Action::dynamodb("DeleteTable"), table("blog-Posts-1")));
    }

    #[test]
    fn a_stack_calls_its_own_apis_only() {
        let shop = stack(&[], &[]);
        let api = |stack| Resource::Api {
            stack,
            api_id: "abc123",
            stage: "Prod",
            route: "GET/orders",
        };
        let invoke = Action::execute_api("Invoke");
        assert!(shop.allows(invoke, api("shop")));
        assert!(!shop.allows(invoke, api("blog")));
        assert!(!shop.allows(Action::lambda("InvokeFunction"), api("shop")));
        let denied = shop
            .authorize(invoke, api("blog"), "eu-west-1")
            .expect_err("another stack's API");
        assert!(
            denied.message.contains(
                "execute-api:Invoke on resource: arn:aws:execute-api:eu-west-1:123456789012:abc123/Prod/GET/orders"
            ),
            "{denied}"
        );
        assert!(Principal::root("123456789012").allows(invoke, api("blog")));
    }

    #[test]
    fn a_stack_publishes_to_its_own_topics_only() {
        let shop = Principal::stack(
            "123456789012",
            StackScope {
                stack: "shop".to_owned(),
                topics: ["shop-Orders".to_owned()].into(),
                ..StackScope::default()
            },
        );
        let topic = |name| Resource::Topic { name };
        assert!(shop.allows(Action::sns("Publish"), topic("shop-Orders")));
        assert!(shop.allows(Action::sns("Subscribe"), topic("shop-Orders")));
        assert!(!shop.allows(Action::sns("Publish"), topic("blog-Posts")));
        assert!(!shop.allows(Action::sns("DeleteTopic"), topic("shop-Orders")));
        assert!(!shop.allows(Action::sns("CreateTopic"), topic("shop-New")));
        assert!(!shop.allows(Action::dynamodb("GetItem"), topic("shop-Orders")));
        assert!(shop.allows(Action::sns("ListTopics"), Resource::Listing));
        assert_eq!(
            topic("t").arn("us-east-1", "123456789012"),
            "arn:aws:sns:us-east-1:123456789012:t"
        );
        let anonymous = Principal::anonymous();
        assert!(!anonymous.allows(Action::sns("Publish"), topic("shop-Orders")));
    }

    #[test]
    fn a_stack_uses_its_own_buckets_only() {
        let shop = Principal::stack(
            "123456789012",
            StackScope {
                stack: "shop".to_owned(),
                buckets: ["shop-uploads-1".to_owned()].into(),
                ..StackScope::default()
            },
        );
        let bucket = |name| Resource::Bucket { name };
        assert!(shop.allows(Action::s3("PutObject"), bucket("shop-uploads-1")));
        assert!(shop.allows(Action::s3("ListObjectsV2"), bucket("shop-uploads-1")));
        assert!(!shop.allows(Action::s3("GetObject"), bucket("blog-uploads-1")));
        assert!(!shop.allows(Action::s3("DeleteBucket"), bucket("shop-uploads-1")));
        assert!(!shop.allows(Action::s3("CreateBucket"), bucket("shop-new")));
        assert!(shop.allows(Action::s3("ListBuckets"), Resource::Listing));
        assert_eq!(
            bucket("b").arn("us-east-1", "123456789012"),
            "arn:aws:s3:::b"
        );
        assert!(Principal::root("123456789012").allows(Action::s3("DeleteBucket"), bucket("b")));
    }

    #[test]
    fn denials_are_worded_as_aws_words_them() {
        let shop = stack(&[], &[]);
        let denied = shop
            .authorize(
                Action::dynamodb("GetItem"),
                table("blog-Posts-1"),
                "eu-west-1",
            )
            .expect_err("another stack's table");
        assert_eq!(
            denied.message,
            "User: arn:aws:sts::123456789012:assumed-role/shop-FunctionRole/shop is not authorized to perform: dynamodb:GetItem on resource: arn:aws:dynamodb:eu-west-1:123456789012:table/blog-Posts-1 because no identity-based policy allows the dynamodb:GetItem action"
        );
        assert_eq!(
            std::str::from_utf8(&denied.to_json_error().to_json_body()).ok(),
            Some(
                format!(
                    r#"{{"__type":"com.amazon.coral.service#AccessDeniedException","Message":"{}"}}"#,
                    denied.message
                )
                .as_str()
            )
        );
        let lambda = denied.to_lambda_error();
        assert_eq!(lambda.status, StatusCode::FORBIDDEN);
        assert_eq!(lambda.type_name, "AccessDeniedException");
    }

    #[test]
    fn the_ring_resolves_replaces_and_forgets_keys() {
        let master = crate::credentials::generate_credentials();
        let ring = KeyRing::new(master.clone(), Principal::root("123456789012"));
        let keys = crate::credentials::generate_credentials();
        ring.insert(keys.clone(), stack(&["a"], &[]));
        let before = ring.snapshot();
        ring.insert(keys.clone(), stack(&["b"], &[]));
        let after = ring.snapshot();
        let tables = |identities: &Identities| match &identities
            .get(&keys.access_key_id)
            .expect("stack keys")
            .principal
            .policy
        {
            Policy::Stack(scope) => scope.tables.clone(),
            Policy::Unrestricted => panic!("a stack's keys are restricted"),
        };
        // A request keeps the snapshot it started with.
        assert_eq!(tables(&before), BTreeSet::from(["a".to_owned()]));
        assert_eq!(tables(&after), BTreeSet::from(["b".to_owned()]));
        assert_eq!(
            after.secret_access_key(&master.access_key_id),
            Some(master.secret_access_key.as_str())
        );
        ring.remove(&keys.access_key_id);
        assert!(ring.snapshot().get(&keys.access_key_id).is_none());
    }
}
