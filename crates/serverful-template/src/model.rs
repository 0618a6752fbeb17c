//! The resolved application model that the rest of Serverful runs: functions, APIs, outputs.
//!
//! Nothing here refers to YAML or intrinsics any more; every value is final.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// A SAM application after parameters, conditions, globals and intrinsics are applied.
#[derive(Clone, Debug, PartialEq)]
pub struct App {
    /// The template file, as the caller named it.
    pub template_path: PathBuf,
    /// The absolute folder holding the template; `CodeUri` is relative to it.
    pub base_dir: PathBuf,
    pub description: Option<String>,
    /// In template order.
    pub functions: Vec<Function>,
    /// Explicit APIs in template order, then the implicit `ServerlessRestApi` and `ServerlessHttpApi`.
    pub apis: Vec<Api>,
    /// `AWS::ApiGatewayV2::Api`s with `ProtocolType: WEBSOCKET`, in template order.
    pub websocket_apis: Vec<WebSocketApi>,
    /// Custom domains' base paths and the APIs they lead to: first those of the APIs'
    /// `Domain` properties (in the order of `apis`), then the template's
    /// `AWS::ApiGateway::BasePathMapping` and `AWS::ApiGatewayV2::ApiMapping` resources.
    /// Every mapping's API is in `apis`, its domain is declared in the template, and no
    /// two mappings share a domain and base path.
    pub domain_mappings: Vec<DomainMapping>,
    /// In template order, those whose condition holds.
    pub outputs: Vec<Output>,
    /// `AWS::DynamoDB::Table` and `AWS::Serverless::SimpleTable` resources, in template order.
    pub tables: Vec<Table>,
    /// `AWS::Serverless::LayerVersion` and `AWS::Lambda::LayerVersion` resources, in
    /// template order.
    pub layers: Vec<Layer>,
    /// Published function versions: the one SAM makes for each function with
    /// `AutoPublishAlias` (in the order of `functions`), then the `AWS::Lambda::Version`
    /// resources in template order.
    pub versions: Vec<Version>,
    /// Function aliases: SAM's for each function with `AutoPublishAlias` (in the order of
    /// `functions`), then the `AWS::Lambda::Alias` resources in template order. Each
    /// points at versions of its own function only, with valid weights.
    pub aliases: Vec<Alias>,
    /// Schedules that invoke the app's functions: SAM `Schedule` and `ScheduleV2` events
    /// (in the order of `functions`, then of their events), then `AWS::Events::Rule`
    /// resources with a `ScheduleExpression` and `AWS::Scheduler::Schedule` resources, in
    /// template order. Every expression, time zone and date here is valid.
    pub schedules: Vec<crate::ScheduleSource>,
    /// Asynchronous invocation settings: each function's `EventInvokeConfig` property (in
    /// the order of `functions`), then the `AWS::Lambda::EventInvokeConfig` resources in
    /// template order.
    pub event_invoke_configs: Vec<EventInvokeConfig>,
    /// EventBridge rules with an event pattern: SAM `EventBridgeRule` and `CloudWatchEvent`
    /// events (in the order of `functions`, then of their events), then `AWS::Events::Rule`
    /// resources with an `EventPattern`, in template order. Every pattern and target input
    /// here is valid.
    pub event_rules: Vec<crate::EventRule>,
    /// `AWS::Events::EventBus` resources, in template order.
    pub event_buses: Vec<crate::EventBus>,
    /// Resources, properties and events the template uses that Serverful does not run yet,
    /// one short name each (`MyQueue (AWS::SQS::Queue)`, `HelloFunction.Policies`), to warn about.
    pub unsupported: Vec<String>,
    /// DynamoDB stream → function mappings.
    pub stream_mappings: Vec<StreamMapping>,
    /// `AWS::SQS::Queue` resources in template order, then the queues SAM makes for `SNS`
    /// events with `SqsSubscription: true`.
    pub queues: Vec<Queue>,
    /// `AWS::SNS::Topic` resources, in template order.
    pub topics: Vec<Topic>,
    /// `AWS::S3::Bucket` resources, in template order.
    pub buckets: Vec<Bucket>,
    /// `AWS::S3::BucketPolicy` resources, in template order (stored as their buckets' policies).
    pub bucket_policies: Vec<BucketPolicy>,
    /// S3 event notifications: SAM `S3` events, then the buckets' own configurations.
    pub bucket_notifications: Vec<BucketNotification>,
    /// Topic subscriptions: each topic's inline `Subscription` list, SAM `SNS` events and
    /// `AWS::SNS::Subscription` resources.
    pub subscriptions: Vec<Subscription>,
    /// SQS queue → function mappings: SAM `SQS` events (and those `SNS` events with
    /// `SqsSubscription` make), then `AWS::Lambda::EventSourceMapping` resources of queues.
    pub queue_mappings: Vec<QueueMapping>,
    /// `AWS::ApiGateway::ApiKey` resources in template order, then those SAM makes for
    /// APIs' `Auth.UsagePlan` (in the order of `apis`).
    pub api_keys: Vec<crate::ApiKey>,
    /// `AWS::ApiGateway::UsagePlan` resources in template order, then SAM's; every stage
    /// and key they name is in `apis` and `api_keys`, and no key is in two plans of one
    /// stage.
    pub usage_plans: Vec<crate::UsagePlan>,
    /// Lambda function URLs: each function's `FunctionUrlConfig` (in the order of
    /// `functions`), then the `AWS::Lambda::Url` resources in template order. Every
    /// setting here is valid and every URL's function is in `functions`.
    pub function_urls: Vec<FunctionUrl>,
}

/// A Lambda function URL: SAM's `FunctionUrlConfig` (the `{Function}Url` resource SAM
/// makes) or an `AWS::Lambda::Url`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionUrl {
    /// `{Function}Url` for SAM's, else the resource's logical id.
    pub logical_id: String,
    /// The 32-character lowercase id of the URL's host, `{url_id}.lambda-url.{region}...`,
    /// stable for a stack and logical id.
    pub url_id: String,
    /// The function's logical id.
    pub function: String,
    /// The alias (or version) the URL invokes: `Qualifier`, the qualifier of
    /// `TargetFunctionArn`, or the function's `AutoPublishAlias` for SAM's.
    pub qualifier: Option<String>,
    pub auth_type: FunctionUrlAuthType,
    pub cors: Option<Cors>,
    pub invoke_mode: InvokeMode,
}

/// `AuthType` of a function URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FunctionUrlAuthType {
    /// `NONE`: anyone may call it.
    None,
    /// `AWS_IAM`: requests must be signed with SigV4 (service `lambda`).
    AwsIam,
}

/// `InvokeMode` of a function URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvokeMode {
    /// `BUFFERED` (the default): the whole response at once.
    Buffered,
    /// `RESPONSE_STREAM`: the response as the function writes it.
    ResponseStream,
}

/// An SQS queue the app declares, as the `CreateQueue` that makes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queue {
    pub logical_id: String,
    /// `QueueName`, or the name CloudFormation would generate (with `.fifo` for a FIFO
    /// queue).
    pub name: String,
    /// `CreateQueue`'s attributes (`VisibilityTimeout`, `RedrivePolicy` as JSON, ...).
    pub attributes: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
}

/// An SNS topic the app declares, as the `CreateTopic` that makes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topic {
    pub logical_id: String,
    /// `TopicName`, or the name CloudFormation would generate.
    pub name: String,
    /// `CreateTopic`'s attributes (`DisplayName`, `FifoTopic`, ...).
    pub attributes: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
}

/// A subscription of an endpoint to a topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    /// Names it across deploys: the resource's logical id, `Topic/Subscription[N]` for a
    /// topic's inline list, `Function/Event` for a SAM event.
    pub id: String,
    pub topic_arn: String,
    /// `lambda`, `sqs`, `http`, `https`, ...
    pub protocol: String,
    /// The function or queue ARN, or the URL.
    pub endpoint: String,
    /// `FilterPolicy` and `RedrivePolicy` as JSON, `FilterPolicyScope`,
    /// `RawMessageDelivery`, `DeliveryPolicy`.
    pub attributes: BTreeMap<String, String>,
}

/// An SQS queue → function mapping, checked against Lambda's limits; defaults are
/// Lambda's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueMapping {
    /// `Function/Event` for a SAM event, the resource's logical id otherwise.
    pub id: String,
    /// The function's logical id.
    pub function: String,
    pub qualifier: Option<String>,
    pub queue_arn: String,
    /// 1–10,000 (default 10).
    pub batch_size: u32,
    /// 0–300.
    pub maximum_batching_window_secs: u32,
    /// `FunctionResponseTypes: [ReportBatchItemFailures]`.
    pub report_batch_item_failures: bool,
    /// `ScalingConfig.MaximumConcurrency` (2–1000).
    pub maximum_concurrency: Option<u32>,
    /// `FilterCriteria.Filters[].Pattern`, each checked.
    pub filter_patterns: Vec<String>,
    pub enabled: bool,
}

/// A DynamoDB table the app declares, as the request that creates it.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub logical_id: String,
    /// `TableName` if the template sets it, else the name CloudFormation would generate
    /// (`{stack}-{LogicalId}-{SUFFIX}`, see [`crate::generated_name`]); what `!Ref` gives
    /// and what the table is called on the AWS endpoint.
    pub table_name: String,
    /// A DynamoDB `CreateTable` request body (`TableName`, `KeySchema`,
    /// `AttributeDefinitions`, `BillingMode`, `ProvisionedThroughput`, indexes,
    /// `StreamSpecification`, `Tags`): CloudFormation's and SAM's properties translated to
    /// the API's shape.
    pub create_table: serde_json::Value,
    /// The attribute of `TimeToLiveSpecification`, when it is enabled.
    pub time_to_live_attribute: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Function {
    pub logical_id: String,
    /// `FunctionName` if the template sets it, else the name CloudFormation would generate
    /// (`{stack}-{LogicalId}-{SUFFIX}`, see [`crate::generated_name`]); what `!Ref` gives,
    /// what the Lambda API lists and `AWS_LAMBDA_FUNCTION_NAME`.
    pub name: String,
    pub runtime: String,
    /// Empty only for `provided*` runtimes that do not set one.
    pub handler: String,
    pub code: FunctionCode,
    pub timeout_secs: u32,
    pub memory_mb: u32,
    pub environment: BTreeMap<String, String>,
    pub reserved_concurrency: Option<u32>,
    /// `x86_64` unless the template says otherwise.
    pub architectures: Vec<String>,
    /// `EphemeralStorage.Size`: the size of the private `/tmp` in MB (512 by default).
    pub ephemeral_storage_mb: u32,
    /// `Metadata: Serverful: Network`, when the function chooses its network.
    pub network: Option<Network>,
    /// The resource's `Metadata`, resolved; `Null` if absent.
    pub metadata: serde_json::Value,
    /// `Layers`, in order (the Globals' first, then the function's own, as SAM joins them):
    /// later layers' files win over earlier ones'.
    pub layers: Vec<LayerRef>,
    /// `AutoPublishAlias` (also under `Globals.Function`): on AWS, each deploy that changes
    /// the function publishes a version of it and points this alias at that version, and
    /// the function's events invoke the alias. Its [`Version`] and [`Alias`] are in
    /// [`App::versions`] and [`App::aliases`].
    pub auto_publish_alias: Option<String>,
    /// `AutoPublishCodeSha256`: a value whose change alone makes SAM publish a new version
    /// (for code that changes without its `CodeUri` changing).
    pub auto_publish_code_sha256: Option<String>,
    /// `DeadLetterQueue.TargetArn` (SAM) or `DeadLetterConfig.TargetArn`: the SQS queue or
    /// SNS topic that gets an asynchronous event that failed every attempt.
    pub dead_letter_arn: Option<String>,
    /// `LoggingConfig`: the format of the function's logs and, with JSON, their levels.
    pub logging: Logging,
}

/// A function's `LoggingConfig`, checked as Lambda checks it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Logging {
    /// `LogFormat: JSON`; `Text` (Lambda's default) otherwise.
    pub json: bool,
    /// `ApplicationLogLevel`: `TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR` or `FATAL`.
    pub application_level: Option<String>,
    /// `SystemLogLevel`: `DEBUG`, `INFO` or `WARN`.
    pub system_level: Option<String>,
    /// `LogGroup`: the group the function's logs go to instead of `/aws/lambda/NAME`.
    pub log_group: Option<String>,
}

/// A published version of a function: an `AWS::Lambda::Version`, or the one SAM makes for
/// a function's `AutoPublishAlias` (`<Function>Version<hash>`, referenceable as
/// `MyFunction.Version`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub logical_id: String,
    /// The logical id of the function it publishes, one of [`App::functions`].
    pub function: String,
    /// The version number `Ref` (`...:function:NAME:N`) and `Fn::GetAtt ... .Version` gave
    /// while loading: the number [`crate::LoadOptions::version_numbers`] gives it, else the
    /// next after its function's highest, counting the function's versions in template
    /// order from 1, as a new stack's first deploy numbers them.
    pub number: u32,
    /// `Description`, or the function's `VersionDescription` for SAM's version.
    pub description: Option<String>,
    /// `CodeSha256` (publish only if the code has this hash), or the function's
    /// `AutoPublishCodeSha256` for SAM's version.
    pub code_sha256: Option<String>,
    /// Made by SAM for the function's `AutoPublishAlias`.
    pub auto_published: bool,
}

/// A function alias: an `AWS::Lambda::Alias`, or the one SAM makes for a function's
/// `AutoPublishAlias` (`<Function>Alias<Name>`, referenceable as `MyFunction.Alias`).
#[derive(Clone, Debug, PartialEq)]
pub struct Alias {
    pub logical_id: String,
    /// The logical id of the function, one of [`App::functions`].
    pub function: String,
    /// `Name`: what callers add to the function's name or ARN (`...:live`).
    pub name: String,
    /// `FunctionVersion`: where the alias points.
    pub version: AliasVersion,
    /// `RoutingConfig.AdditionalVersionWeights`: another version and the share of
    /// invocations (0.0 to 1.0) it takes from `version`. Lambda allows one.
    pub additional_versions: Vec<VersionWeight>,
    pub description: Option<String>,
}

/// The version an alias points to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AliasVersion {
    /// `$LATEST`: the function's unpublished code and configuration.
    Latest,
    /// One of [`App::versions`], by logical id (`!GetAtt MyVersion.Version`, or its number).
    Version(String),
    /// A version number the template does not publish (one published before, outside it).
    Number(u32),
}

/// One entry of an alias's `AdditionalVersionWeights`.
#[derive(Clone, Debug, PartialEq)]
pub struct VersionWeight {
    pub version: AliasVersion,
    /// The share of invocations, from 0.0 to 1.0.
    pub weight: f64,
}

/// One entry of a function's `Layers`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LayerRef {
    /// A layer of this template, by logical id (`!Ref MyLayer`, or its ARN).
    Local(String),
    /// A layer version ARN that is not in this template: a public layer, or another
    /// account's; nothing local provides its files.
    Arn(String),
}

/// A Lambda layer the template declares, with local content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    pub logical_id: String,
    /// `LayerName` if the template sets it, else the logical id.
    pub name: String,
    /// The layer version ARN `!Ref` gives: `arn:aws:lambda:REGION:ACCOUNT:layer:NAME:1`.
    pub arn: String,
    /// The layer's folder (`ContentUri`, or `Content` for `AWS::Lambda::LayerVersion`)
    /// resolved against the template's folder; not checked here.
    pub content_dir: PathBuf,
    /// `CompatibleRuntimes`, as written; empty when absent.
    pub compatible_runtimes: Vec<String>,
    /// `CompatibleArchitectures`; empty when absent.
    pub compatible_architectures: Vec<String>,
    /// `Metadata.BuildMethod`: a runtime such as `python3.12` or `nodejs20.x`, or
    /// `makefile`; `None` means the folder is used as it is, as `sam build` does.
    pub build_method: Option<String>,
    /// `Metadata.BuildArchitecture`.
    pub build_architecture: Option<String>,
}

/// What a function's instances may reach on the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Network {
    /// Only the platform's endpoints (Runtime API, AWS endpoint) on loopback.
    None,
    /// Outbound traffic, like Lambda.
    Egress,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FunctionCode {
    /// An absolute folder: `CodeUri` resolved against the template's folder, or that folder
    /// itself when `CodeUri` is absent.
    Dir(PathBuf),
    /// The source of `InlineCode`.
    Inline(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiKind {
    /// API Gateway REST API (`AWS::Serverless::Api`, `Api` events).
    Rest,
    /// API Gateway HTTP API (`AWS::Serverless::HttpApi`, `HttpApi` events).
    Http,
}

/// The API Gateway proxy event format a route delivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadFormat {
    V1,
    V2,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Api {
    pub logical_id: String,
    /// Deterministic 10-character lowercase alphanumeric id from the logical id and stack name.
    pub api_id: String,
    pub kind: ApiKind,
    /// The first stage (SAM's `StageName`, the first `Stage` resource of one written
    /// without SAM's shorthand).
    pub stage_name: String,
    pub stage_variables: BTreeMap<String, String>,
    /// Further stages of an API written as resources (a second `AWS::ApiGateway::Stage`
    /// or `AWS::ApiGatewayV2::Stage`), each serving the same routes with its own variables.
    pub other_stages: Vec<ApiStage>,
    pub binary_media_types: Vec<String>,
    /// SAM's `Cors` (REST) or `CorsConfiguration` (HTTP).
    pub cors: Option<Cors>,
    /// In template order of functions, then of their events.
    pub routes: Vec<Route>,
    /// SAM's `Auth.Authorizers`, in template order; every route's [`RouteAuth::Authorizer`]
    /// names one of them.
    pub authorizers: Vec<crate::Authorizer>,
    /// Where the API reads API keys (REST APIs; `ApiKeySourceType`).
    pub api_key_source: crate::ApiKeySource,
}

/// A stage of an API beyond its first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiStage {
    pub name: String,
    pub variables: BTreeMap<String, String>,
}

impl Api {
    /// The names of all its stages, the first first.
    pub fn stage_names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.stage_name.as_str())
            .chain(self.other_stages.iter().map(|stage| stage.name.as_str()))
    }

    /// The API as each of its stages serves it: itself, then a copy per other stage with
    /// that stage's name and variables (and no other stages).
    pub fn per_stage(&self) -> Vec<Api> {
        let mut first = self.clone();
        first.other_stages = Vec::new();
        let mut views = vec![first];
        for stage in &self.other_stages {
            let mut view = views[0].clone();
            view.stage_name = stage.name.clone();
            view.stage_variables = stage.variables.clone();
            views.push(view);
        }
        views
    }
}

/// An API's CORS settings, as API Gateway applies them: an HTTP API answers preflights
/// itself and adds the headers to every response; a REST API answers the `OPTIONS` method
/// SAM adds to each path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cors {
    /// `*` or origins (`https://example.com`).
    pub allow_origins: Vec<String>,
    /// Empty: a REST API allows each path's own methods and `OPTIONS`.
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    /// HTTP APIs only.
    pub expose_headers: Vec<String>,
    pub max_age: Option<u32>,
    pub allow_credentials: bool,
}

/// A custom domain name's base path and the API stage requests under it go to, as API
/// Gateway maps them: `https://{domain_name}/{base_path}/rest/of/path` reaches the API's
/// routes with `/rest/of/path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainMapping {
    /// The mapping resource: declared, or the one SAM generates for an API's `Domain`
    /// (`MyApiv1BasePathMapping`, `MyHttpApiApiMapping`).
    pub logical_id: String,
    /// The host name clients call, lower-case (`api.example.com`, or a wildcard such as
    /// `*.example.com`).
    pub domain_name: String,
    /// The leading path segments that select the API, without slashes (`v1`,
    /// `orders/v2`); `None` maps the whole domain (SAM's `/`, an empty `ApiMappingKey`,
    /// API Gateway's `(none)`).
    pub base_path: Option<String>,
    /// The logical id of the API, one of [`App::apis`].
    pub api_logical_id: String,
    /// The API's stage the mapping leads to (always that API's own stage). `None` only for
    /// a `BasePathMapping` without `Stage`, where API Gateway takes the stage from the
    /// first path segment after the base path.
    pub stage: Option<String>,
}

/// A WebSocket API: `AWS::ApiGatewayV2::Api` with `ProtocolType: WEBSOCKET`, its stage and
/// its routes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebSocketApi {
    pub logical_id: String,
    /// Deterministic 10-character id, as for [`Api::api_id`]; what `!Ref` gives.
    pub api_id: String,
    /// `Name`.
    pub name: Option<String>,
    /// `RouteSelectionExpression`: `$request.body.action` or another JSON path of the
    /// message.
    pub route_selection_expression: String,
    /// The `StageName` of its first `AWS::ApiGatewayV2::Stage`.
    pub stage_name: String,
    /// The names of its further stages, each serving the same routes.
    pub other_stages: Vec<String>,
    /// In template order.
    pub routes: Vec<WebSocketRoute>,
    /// How `$connect` is authorized: its route's `AuthorizationType` (API Gateway
    /// authorizes only `$connect`).
    pub connect_auth: WebSocketAuth,
}

/// How a WebSocket API's `$connect` is authorized.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum WebSocketAuth {
    /// `AuthorizationType: NONE` (or none given).
    #[default]
    None,
    /// `AWS_IAM`: the handshake must be signed with SigV4.
    AwsIam,
    /// `CUSTOM`: an `AWS::ApiGatewayV2::Authorizer` of type `REQUEST`.
    Lambda(WebSocketAuthorizer),
}

/// A WebSocket API's Lambda authorizer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebSocketAuthorizer {
    /// The authorizer resource's logical id.
    pub logical_id: String,
    /// Its `Name`.
    pub name: String,
    /// The logical id of the authorizer function, one of [`App::functions`].
    pub function: String,
    /// `IdentitySource`: `route.request.header.X`, `route.request.querystring.X`.
    pub identity_sources: Vec<String>,
}

/// One route of a WebSocket API: a route key and the function its `AWS_PROXY` integration
/// calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebSocketRoute {
    /// `$connect`, `$disconnect`, `$default` or a custom key such as `sendmessage`.
    pub route_key: String,
    /// The logical id of the function, one of [`App::functions`].
    pub function: String,
    /// Whether an `AWS::ApiGatewayV2::RouteResponse` makes it two-way: the function's
    /// `body` is sent back to the client.
    pub two_way: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// Upper-case (`GET`) or `ANY`.
    pub method: String,
    /// `/hello/{user}`, `/{proxy+}` or `$default`.
    pub path: String,
    /// The logical id of the function the route invokes.
    pub function: String,
    pub payload_format: PayloadFormat,
    /// The key of the event under the function's `Events`; for routes of resources
    /// written without SAM's shorthand, the logical id of the resource that made the route
    /// (`AWS::ApiGateway::Method`, `AWS::ApiGatewayV2::Route`) or `paths./x.get` of an
    /// OpenAPI definition.
    pub event_name: String,
    /// Who may call the route: the event's `Auth.Authorizer`, else the API's
    /// `Auth.DefaultAuthorizer`.
    pub auth: crate::RouteAuth,
    /// A `MOCK` integration: API Gateway answers with this itself and `function` is empty.
    pub mock: Option<MockResponse>,
    /// What API Gateway checks before the function is called (REST APIs' request
    /// validators); `None` checks nothing.
    pub validation: Option<RequestValidation>,
    /// `ApiKeyRequired` (REST APIs): callers need a key of a usage plan of the API's stage.
    pub api_key_required: bool,
}

/// The answer of a REST API's `MOCK` integration, chosen when the template is loaded: the
/// `statusCode` its request template gives selects an integration response (by
/// `SelectionPattern`, else the default one), whose status, template and static headers
/// make the answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MockResponse {
    pub status_code: u16,
    /// The `ResponseTemplates` content type the body comes from (`application/json`).
    pub content_type: String,
    pub body: String,
    /// `method.response.header.X: "'value'"` parameters: header name to value.
    pub headers: BTreeMap<String, String>,
}

/// A REST API request validator's checks for one method, as API Gateway applies them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestValidation {
    /// The JSON Schema (draft 4) the body must match, with the model's name; `None` when
    /// the validator does not check bodies or the method names no model.
    pub body_model: Option<(String, serde_json::Value)>,
    /// Query string parameters that must be present (`method.request.querystring.x: true`).
    pub required_query: Vec<String>,
    /// Headers that must be present (`method.request.header.x: true`).
    pub required_headers: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    pub name: String,
    pub value: String,
    pub description: Option<String>,
}

/// How Lambda handles asynchronous events of one function version or alias: SAM's
/// `EventInvokeConfig` property or an `AWS::Lambda::EventInvokeConfig`. Values are checked
/// against Lambda's bounds; unset ones take Lambda's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventInvokeConfig {
    /// The logical id of the function, one of [`App::functions`].
    pub function: String,
    /// `$LATEST`, a version number or an alias name (SAM's property: the function's
    /// `AutoPublishAlias`, else `$LATEST`).
    pub qualifier: String,
    /// 0 to 2.
    pub maximum_retry_attempts: Option<u32>,
    /// 60 to 21600.
    pub maximum_event_age_secs: Option<u32>,
    pub on_success: Option<AsyncDestination>,
    pub on_failure: Option<AsyncDestination>,
}

/// An `OnSuccess` or `OnFailure` destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsyncDestination {
    /// SAM's `Type` (`Lambda`, `EventBridge`, `SQS`, `SNS`, `S3Bucket`), or the one the
    /// ARN names for an `AWS::Lambda::EventInvokeConfig`.
    pub kind: String,
    pub arn: String,
}

/// A DynamoDB stream → function mapping: a SAM `DynamoDB` event or an
/// `AWS::Lambda::EventSourceMapping` whose `EventSourceArn` is a table's stream. Values are
/// checked against Lambda's limits; defaults are Lambda's.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamMapping {
    /// Names the mapping across deploys: `Function/Event` for a SAM event, the resource's
    /// logical id for an `AWS::Lambda::EventSourceMapping`.
    pub id: String,
    /// The function's logical id.
    pub function: String,
    /// A Lambda version number or alias the mapping calls (from a qualified `FunctionName`).
    pub qualifier: Option<String>,
    /// The stream ARN as the template resolves it (`!GetAtt Table.StreamArn`).
    pub stream_arn: String,
    /// The table the stream belongs to (its physical name).
    pub table_name: String,
    /// `TRIM_HORIZON`, `LATEST` or `AT_TIMESTAMP`.
    pub starting_position: String,
    /// With `AT_TIMESTAMP`: seconds since the epoch.
    pub starting_position_timestamp: Option<f64>,
    pub batch_size: u32,
    pub maximum_batching_window_secs: u32,
    /// -1: retry until the records expire.
    pub maximum_retry_attempts: i64,
    /// -1: records never expire.
    pub maximum_record_age_secs: i64,
    pub bisect_batch_on_function_error: bool,
    pub parallelization_factor: u32,
    /// `TumblingWindowInSeconds`: 0 is no window.
    pub tumbling_window_secs: u32,
    /// `FunctionResponseTypes: [ReportBatchItemFailures]`.
    pub report_batch_item_failures: bool,
    /// `FilterCriteria.Filters[].Pattern`, each a JSON event pattern (checked).
    pub filter_patterns: Vec<String>,
    /// `DestinationConfig.OnFailure.Destination`: an SQS queue or SNS topic ARN.
    pub on_failure: Option<String>,
    pub enabled: bool,
}

/// An S3 bucket the stack owns.
#[derive(Clone, Debug, PartialEq)]
pub struct Bucket {
    pub logical_id: String,
    /// `BucketName`, or the name CloudFormation would generate (lowercase).
    pub name: String,
    /// The configurations the template gives (`CorsConfiguration`,
    /// `VersioningConfiguration`, `LifecycleConfiguration`, `NotificationConfiguration`,
    /// `WebsiteConfiguration`), resolved, by property name: written into S3's
    /// configuration store by the platform when the stack's version starts.
    pub configurations: BTreeMap<String, serde_json::Value>,
    pub tags: BTreeMap<String, String>,
    /// `NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled`: its
    /// objects' changes go to the default event bus as `aws.s3` events.
    pub event_bridge: bool,
}

/// An S3 event notification: which changes to a bucket's objects go where (a SAM `S3`
/// event, or an entry of the bucket's `NotificationConfiguration`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketNotification {
    /// `Function/Event` for a SAM event, the configuration's `Id` (or
    /// `Bucket/LambdaConfigurations[N]`) otherwise: the record's `configurationId`.
    pub id: String,
    /// The bucket's name.
    pub bucket: String,
    pub target: NotificationTarget,
    /// Event types such as `s3:ObjectCreated:*` and `s3:ObjectRemoved:Delete`.
    pub events: Vec<String>,
    /// `Filter.S3Key.Rules`: the key must start with `prefix` and end with `suffix`.
    pub prefix: Option<String>,
    pub suffix: Option<String>,
}

/// Where a notification goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotificationTarget {
    /// A function of the template, by logical id (invoked asynchronously).
    Function(String),
    /// An SQS queue by ARN.
    Queue(String),
    /// An SNS topic by ARN.
    Topic(String),
}

impl BucketNotification {
    /// Whether it takes the event S3 names `event` (`ObjectCreated:Put`) on `key`.
    pub fn takes(&self, event: &str, key: &str) -> bool {
        let named = self.events.iter().any(|pattern| {
            let pattern = pattern.strip_prefix("s3:").unwrap_or(pattern);
            match pattern.strip_suffix('*') {
                Some(prefix) => event.starts_with(prefix),
                None => pattern == event,
            }
        });
        named
            && self
                .prefix
                .as_deref()
                .is_none_or(|prefix| key.starts_with(prefix))
            && self
                .suffix
                .as_deref()
                .is_none_or(|suffix| key.ends_with(suffix))
    }
}

/// A bucket policy: the bucket's name and the policy document.
#[derive(Clone, Debug, PartialEq)]
pub struct BucketPolicy {
    pub logical_id: String,
    pub bucket: String,
    pub policy_document: serde_json::Value,
}
