//! What the web console shows of a stack ([`crate::Action::Describe`]): its deploy
//! history, its functions with what triggers each (routes, schedules, stream and queue
//! mappings, topics, buckets, EventBridge rules), its routes, tables, queues and topics;
//! and the item browser's calls into the store ([`crate::Action::Table`]), one DynamoDB
//! operation of a stack's table with DynamoDB's own request and answer.

use serverful_store::Store;
use serverful_template as template;

use crate::action::{ActionError, ErrorKind, Outcome};
use crate::server::LiveVersion;
use crate::state::StackRecord;

/// A stack as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StackDetail {
    pub name: String,
    /// The version serving.
    pub version: u64,
    /// Every version kept, newest first.
    pub history: Vec<DeployEntry>,
    pub functions: Vec<FunctionDetail>,
    pub routes: Vec<RouteDetail>,
    /// Physical table names.
    pub tables: Vec<String>,
    /// Queue names.
    pub queues: Vec<String>,
    /// Topic names.
    pub topics: Vec<String>,
}

/// One deploy of a stack.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeployEntry {
    pub version: u64,
    /// RFC 3339, UTC.
    pub deployed_at: String,
    pub source: String,
    pub current: bool,
}

/// One function of the serving version.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FunctionDetail {
    pub logical_id: String,
    /// Its physical name (`FunctionName`, or the generated one).
    pub name: String,
    pub runtime: String,
    pub handler: String,
    pub memory_mb: u32,
    pub timeout_secs: u32,
    /// What invokes it: `GET /items/{id} (ServerlessHttpApi)`, `schedule rate(1 minute)`,
    /// `stream of TABLE`, `queue NAME`, `topic NAME`, `bucket NAME`, `rule NAME`.
    pub triggers: Vec<String>,
}

/// One route of an API of the serving version.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RouteDetail {
    /// The API's logical id.
    pub api: String,
    pub method: String,
    pub path: String,
    /// The function's logical id; empty for a mock.
    pub function: String,
}

/// The stack's details, from its serving version and its recorded history.
pub(crate) fn describe(version: &LiveVersion, record: Option<&StackRecord>) -> StackDetail {
    let app = &version.app;
    let mut history: Vec<DeployEntry> = record
        .map(|record| {
            record
                .versions
                .iter()
                .map(|kept| DeployEntry {
                    version: kept.number,
                    deployed_at: kept.deployed_at.clone(),
                    source: kept.source.clone(),
                    current: kept.number == version.record.number,
                })
                .collect()
        })
        .unwrap_or_default();
    if history.is_empty() {
        history.push(DeployEntry {
            version: version.record.number,
            deployed_at: version.record.deployed_at.clone(),
            source: version.record.source.clone(),
            current: true,
        });
    }
    history.sort_by_key(|entry| std::cmp::Reverse(entry.version));
    let routes: Vec<RouteDetail> = app
        .apis
        .iter()
        .flat_map(|api| {
            api.routes.iter().map(|route| RouteDetail {
                api: api.logical_id.clone(),
                method: route.method.clone(),
                path: route.path.clone(),
                function: if route.mock.is_some() {
                    String::new()
                } else {
                    route.function.clone()
                },
            })
        })
        .collect();
    let functions = app
        .functions
        .iter()
        .map(|function| FunctionDetail {
            logical_id: function.logical_id.clone(),
            name: function.name.clone(),
            runtime: function.runtime.clone(),
            handler: function.handler.clone(),
            memory_mb: function.memory_mb,
            timeout_secs: function.timeout_secs,
            triggers: triggers(app, function, &routes),
        })
        .collect();
    StackDetail {
        name: version.record.stack.clone(),
        version: version.record.number,
        history,
        functions,
        routes,
        tables: app
            .tables
            .iter()
            .map(|table| table.table_name.clone())
            .collect(),
        queues: app.queues.iter().map(|queue| queue.name.clone()).collect(),
        topics: app.topics.iter().map(|topic| topic.name.clone()).collect(),
    }
}

/// What invokes `function` in `app`.
fn triggers(
    app: &template::App,
    function: &template::Function,
    routes: &[RouteDetail],
) -> Vec<String> {
    let id = &function.logical_id;
    let mut found: Vec<String> = routes
        .iter()
        .filter(|route| &route.function == id)
        .map(|route| format!("{} {} ({})", route.method, route.path, route.api))
        .collect();
    for schedule in &app.schedules {
        if schedule.targets.iter().any(|target| &target.function == id) {
            found.push(format!(
                "schedule {} {}",
                schedule.name, schedule.expression
            ));
        }
    }
    for mapping in &app.stream_mappings {
        if &mapping.function == id {
            found.push(format!("stream {}", arn_name(&mapping.stream_arn)));
        }
    }
    for mapping in &app.queue_mappings {
        if &mapping.function == id {
            found.push(format!("queue {}", arn_name(&mapping.queue_arn)));
        }
    }
    for subscription in &app.subscriptions {
        let names_function = subscription.protocol == "lambda"
            && (subscription
                .endpoint
                .ends_with(&format!(":{}", function.name))
                || subscription
                    .endpoint
                    .contains(&format!(":function:{}:", function.name)));
        if names_function {
            found.push(format!("topic {}", arn_name(&subscription.topic_arn)));
        }
    }
    for notification in &app.bucket_notifications {
        if matches!(&notification.target, template::NotificationTarget::Function(target) if target == id)
        {
            found.push(format!("bucket {}", notification.bucket));
        }
    }
    for rule in &app.event_rules {
        if rule.targets.iter().any(|target| &target.function == id) {
            found.push(format!("rule {}", rule.name));
        }
    }
    for url in &app.function_urls {
        if &url.function == id {
            found.push("function URL".to_owned());
        }
    }
    found
}

/// The name at the end of an ARN (`arn:aws:sqs:…:orders` → `orders`; a stream ARN's
/// table).
fn arn_name(arn: &str) -> String {
    match arn.split_once(":table/") {
        Some((_, rest)) => rest.split('/').next().unwrap_or(rest).to_owned(),
        None => arn.rsplit(':').next().unwrap_or(arn).to_owned(),
    }
}

/// The DynamoDB operations the item browser may call.
pub const TABLE_OPERATIONS: &[&str] = &[
    "DescribeTable",
    "Scan",
    "Query",
    "GetItem",
    "PutItem",
    "DeleteItem",
];

/// One DynamoDB operation on `table` with DynamoDB's request JSON (its `TableName` set to
/// `table`), answered with DynamoDB's response JSON, or DynamoDB's error as the failure.
pub(crate) fn table_call(
    store: &Store,
    table: &str,
    operation: &str,
    body: &[u8],
) -> Result<Outcome, ActionError> {
    if !TABLE_OPERATIONS.contains(&operation) {
        return Err(ActionError {
            step: "table".to_owned(),
            message: format!(
                "{operation} is not an item browser operation; use one of {}",
                TABLE_OPERATIONS.join(", ")
            ),
            kind: ErrorKind::Invalid,
        });
    }
    let mut request: serde_json::Value = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::json!({})
    } else {
        serde_json::from_slice(body).map_err(|error| ActionError {
            step: "table".to_owned(),
            message: format!("the request is not JSON: {error}"),
            kind: ErrorKind::Invalid,
        })?
    };
    let Some(fields) = request.as_object_mut() else {
        return Err(ActionError {
            step: "table".to_owned(),
            message: "the request must be a JSON object of DynamoDB's request members".to_owned(),
            kind: ErrorKind::Invalid,
        });
    };
    fields.insert("TableName".to_owned(), table.into());
    let body = serde_json::to_vec(&request).map_err(|error| ActionError {
        step: "table".to_owned(),
        message: error.to_string(),
        kind: ErrorKind::Internal,
    })?;
    match store.call(operation, &body) {
        Ok(answer) => Ok(Outcome::TableAnswered {
            table: table.to_owned(),
            operation: operation.to_owned(),
            answer,
        }),
        Err(error) => {
            let shape = serverful_store::api::error_body(&error);
            let kind = shape["__type"]
                .as_str()
                .and_then(|kind| kind.rsplit('#').next())
                .unwrap_or("ValidationException")
                .to_owned();
            Err(ActionError {
                step: "table".to_owned(),
                message: format!("{kind}: {}", error.message),
                kind: if kind == "ResourceNotFoundException" {
                    ErrorKind::NotFound
                } else {
                    ErrorKind::Invalid
                },
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::arn_name;

    #[test]
    fn arn_names() {
        assert_eq!(
            arn_name("arn:aws:sqs:us-east-1:000000000000:orders"),
            "orders"
        );
        assert_eq!(
            arn_name("arn:aws:dynamodb:us-east-1:000000000000:table/Items/stream/2024-01-01T00:00:00.000"),
            "Items"
        );
    }
}
