//! API keys and usage plans of REST APIs: which keys may call the methods that require one
//! (`ApiKeyRequired`), on which API stages, and how often.
//!
//! As on API Gateway, a key opens an API stage only through a usage plan that lists the
//! stage and the key; the plan's throttle and quota then apply to each of its keys.

/// An `AWS::ApiGateway::ApiKey`, declared or made by SAM for an API's `Auth.UsagePlan`
/// (`{Api}ApiKey`, `ServerlessApiKey`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    pub logical_id: String,
    /// What `!Ref` gives: a 10-character id derived from the stack and the logical id.
    pub id: String,
    /// `Name`, else the name CloudFormation makes (`{stack}-{LogicalId}-{SUFFIX}`).
    pub name: String,
    /// `Value` (20 to 128 characters); `None`: generated when the stack first deploys
    /// (40 letters and digits, as API Gateway makes them) and kept for its life.
    pub value: Option<String>,
    /// `Enabled` (false unless set, as in CloudFormation; SAM's keys are enabled).
    pub enabled: bool,
    pub description: Option<String>,
    /// `StageKeys`: the API stages the key was associated with directly (the logical id of
    /// the API, and the stage). API Gateway only lets a key call a stage through a usage
    /// plan, so these open nothing by themselves.
    pub stage_keys: Vec<(String, String)>,
}

/// An `AWS::ApiGateway::UsagePlan`, declared or made by SAM (`{Api}UsagePlan`,
/// `ServerlessUsagePlan`), with the keys its `AWS::ApiGateway::UsagePlanKey`s add.
#[derive(Clone, Debug, PartialEq)]
pub struct UsagePlan {
    pub logical_id: String,
    /// What `!Ref` gives: a 10-character id derived from the stack and the logical id.
    pub id: String,
    /// `UsagePlanName`.
    pub name: Option<String>,
    /// `ApiStages`: each is an API of [`crate::App::apis`] and that API's stage.
    pub stages: Vec<UsagePlanStage>,
    /// `Throttle`: applies to each key on its own.
    pub throttle: Option<Throttle>,
    /// `Quota`: counted per key.
    pub quota: Option<Quota>,
    /// The logical ids of its keys (one of [`crate::App::api_keys`] each), in template order.
    pub keys: Vec<String>,
}

/// One entry of a usage plan's `ApiStages`.
#[derive(Clone, Debug, PartialEq)]
pub struct UsagePlanStage {
    /// The logical id of the REST API.
    pub api: String,
    /// The API's stage name.
    pub stage: String,
    /// `Throttle`: per method, keyed `/path/METHOD` as API Gateway writes them
    /// (`/pets/{id}/GET`); a method listed here takes this throttle instead of the plan's.
    pub method_throttles: Vec<(String, Throttle)>,
}

/// A token bucket: `rate_limit` requests a second on average, `burst_limit` at once.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Throttle {
    /// `RateLimit`: requests per second (may be fractional).
    pub rate_limit: f64,
    /// `BurstLimit`: the bucket's size.
    pub burst_limit: u32,
}

/// How many requests a key may make per period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// `Limit`: requests per period.
    pub limit: u64,
    /// `Offset`: taken off the limit in the period the plan was created in.
    pub offset: u64,
    pub period: QuotaPeriod,
}

/// A quota's `Period`; periods start at midnight UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuotaPeriod {
    Day,
    /// Weeks start on Sunday.
    Week,
    /// Months start on their first day.
    Month,
}

/// Where a REST API reads the API key of a request (`ApiKeySourceType`,
/// `x-amazon-apigateway-api-key-source`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ApiKeySource {
    /// The `x-api-key` header.
    #[default]
    Header,
    /// The `usageIdentifierKey` a Lambda authorizer answers with.
    Authorizer,
}
