//! Every SQS operation once, for both protocols: reads the input (the JSON protocol's
//! shape; the query protocol's form is read into it by [`crate::wire::form_to_json`]),
//! authorizes the caller, runs the engine and builds the answer as an [`Out`] tree.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Map, Value};
use serverful_aws::{Action, Principal, Resource};

use crate::engine::{check_batch_ids, Queues, ReceiveOptions, SendMessage};
use crate::error::SqsError;
use crate::message::{MessageAttributeValue, MessageAttributes};
use crate::wire::{Field, Out};

/// Every operation, as `X-Amz-Target` and `Action` name them.
pub const OPERATIONS: &[&str] = &[
    "CreateQueue",
    "GetQueueUrl",
    "ListQueues",
    "DeleteQueue",
    "PurgeQueue",
    "GetQueueAttributes",
    "SetQueueAttributes",
    "SendMessage",
    "SendMessageBatch",
    "ReceiveMessage",
    "DeleteMessage",
    "DeleteMessageBatch",
    "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch",
    "TagQueue",
    "UntagQueue",
    "ListQueueTags",
    "ListDeadLetterSourceQueues",
    "StartMessageMoveTask",
    "ListMessageMoveTasks",
    "CancelMessageMoveTask",
    "AddPermission",
    "RemovePermission",
];

/// The largest batch SQS accepts, in bytes of message bodies and attributes.
const MAX_BATCH_BYTES: usize = 262_144;

/// Who calls, and from where.
#[derive(Debug, Clone)]
pub struct CallContext {
    pub principal: Arc<Principal>,
    /// The signature's region, for ARNs in access denials.
    pub region: String,
    /// The queue the request's path names (the query protocol may post to the queue's URL).
    pub path_queue: Option<String>,
}

/// Runs `operation` on `input`. `None` answers are operations without output members.
pub async fn call(
    queues: &Arc<Queues>,
    operation: &str,
    input: Map<String, Value>,
    context: CallContext,
) -> Result<Option<Out>, SqsError> {
    if operation == "ReceiveMessage" {
        // The one operation that waits: the engine's long poll is async.
        let name = queue(&input, &context)?;
        authorize(&context, operation, &name)?;
        let options = receive_options(&input)?;
        let messages = queues.receive(&name, options).await?;
        return Ok(Some(received(messages)));
    }
    if operation == "StartMessageMoveTask" {
        let source = required_text(&input, "SourceArn")?;
        let name = Queues::queue_name(&source).unwrap_or_default();
        authorize(&context, operation, &name)?;
        let destination = text(&input, "DestinationArn")?;
        let rate = int(&input, "MaxNumberOfMessagesPerSecond")?
            .map(|rate| u32::try_from(rate).unwrap_or(u32::MAX));
        let handle = queues.start_move_task(&source, destination.as_deref(), rate)?;
        return Ok(Some(Out::Struct(vec![Field::new(
            "TaskHandle",
            Out::Text(handle),
        )])));
    }
    if MESSAGE_OPERATIONS.contains(&operation) {
        // The hot paths run on this task: they wait for the store without a thread.
        let name = queue(&input, &context)?;
        authorize(&context, operation, &name)?;
        let sender_id = context.principal.account_id.clone();
        return message_operation(queues, operation, &name, &input, &sender_id).await;
    }
    let queues = Arc::clone(queues);
    let operation = operation.to_owned();
    tokio::task::spawn_blocking(move || call_blocking(&queues, &operation, &input, &context))
        .await
        .map_err(|error| SqsError::Storage {
            action: "run the operation",
            message: error.to_string(),
        })?
}

/// Whether the caller may take `operation` on the queue `name`.
fn authorize(context: &CallContext, operation: &str, name: &str) -> Result<(), SqsError> {
    if context.principal.is_unrestricted() {
        return Ok(());
    }
    context
        .principal
        .authorize(
            Action::sqs(operation),
            Resource::Queue { name },
            &context.region,
        )
        .map_err(|denied| SqsError::AccessDenied(denied.message))
}

fn call_blocking(
    queues: &Queues,
    operation: &str,
    input: &Map<String, Value>,
    context: &CallContext,
) -> Result<Option<Out>, SqsError> {
    match operation {
        "CreateQueue" => {
            let name = required_text(input, "QueueName")?;
            authorize(context, operation, &name)?;
            let url = queues.create_queue(
                &name,
                &string_map(input, "Attributes")?,
                &string_map(input, "Tags")?,
            )?;
            Ok(Some(Out::Struct(vec![Field::new(
                "QueueUrl",
                Out::Text(url),
            )])))
        }
        "GetQueueUrl" => {
            let name = required_text(input, "QueueName")?;
            authorize(context, operation, &name)?;
            if !queues.exists(&name) {
                return Err(SqsError::QueueDoesNotExist);
            }
            Ok(Some(Out::Struct(vec![Field::new(
                "QueueUrl",
                Out::Text(queues.queue_url(&name)),
            )])))
        }
        "ListQueues" => {
            let prefix = text(input, "QueueNamePrefix")?;
            let names: Vec<String> = queues
                .list_queues(prefix.as_deref())
                .into_iter()
                .filter(|name| {
                    context.principal.is_unrestricted()
                        || context
                            .principal
                            .allows(Action::sqs("ListQueues"), Resource::Queue { name })
                })
                .collect();
            let (page, next) = paginate(names, input)?;
            let mut fields = Vec::new();
            if !page.is_empty() {
                fields.push(Field {
                    json: "QueueUrls",
                    xml: "QueueUrl",
                    value: Out::List(
                        page.iter()
                            .map(|name| Out::Text(queues.queue_url(name)))
                            .collect(),
                    ),
                });
            }
            if let Some(next) = next {
                fields.push(Field::new("NextToken", Out::Text(next)));
            }
            Ok(Some(Out::Struct(fields)))
        }
        "ListDeadLetterSourceQueues" => {
            let name = queue(input, context)?;
            authorize(context, operation, &name)?;
            let (page, next) = paginate(queues.dead_letter_sources(&name)?, input)?;
            let mut fields = vec![Field {
                json: "queueUrls",
                xml: "QueueUrl",
                value: Out::List(
                    page.iter()
                        .map(|name| Out::Text(queues.queue_url(name)))
                        .collect(),
                ),
            }];
            if let Some(next) = next {
                fields.push(Field::new("NextToken", Out::Text(next)));
            }
            Ok(Some(Out::Struct(fields)))
        }
        "ListMessageMoveTasks" => {
            let source = required_text(input, "SourceArn")?;
            authorize(
                context,
                operation,
                &Queues::queue_name(&source).unwrap_or_default(),
            )?;
            let max = int(input, "MaxResults")?.map(|max| u32::try_from(max).unwrap_or(u32::MAX));
            let tasks = queues.list_move_tasks(&source, max)?;
            let results = tasks
                .into_iter()
                .map(|task| {
                    let mut fields = Vec::new();
                    if task.status == "RUNNING" {
                        fields.push(Field::new("TaskHandle", Out::Text(task.task_handle)));
                    }
                    fields.push(Field::new("Status", Out::Text(task.status)));
                    fields.push(Field::new("SourceArn", Out::Text(task.source_arn)));
                    if let Some(destination) = task.destination_arn {
                        fields.push(Field::new("DestinationArn", Out::Text(destination)));
                    }
                    if let Some(rate) = task.max_messages_per_second {
                        fields.push(Field::new(
                            "MaxNumberOfMessagesPerSecond",
                            Out::Number(i64::from(rate)),
                        ));
                    }
                    fields.push(Field::new(
                        "ApproximateNumberOfMessagesMoved",
                        Out::Number(task.moved as i64),
                    ));
                    fields.push(Field::new(
                        "ApproximateNumberOfMessagesToMove",
                        Out::Number(task.to_move as i64),
                    ));
                    if let Some(reason) = task.failure_reason {
                        fields.push(Field::new("FailureReason", Out::Text(reason)));
                    }
                    fields.push(Field::new(
                        "StartedTimestamp",
                        Out::Number(task.started_at_ms),
                    ));
                    Out::Struct(fields)
                })
                .collect();
            Ok(Some(Out::Struct(vec![Field {
                json: "Results",
                xml: "ListMessageMoveTasksResultEntry",
                value: Out::List(results),
            }])))
        }
        "CancelMessageMoveTask" => {
            let handle = required_text(input, "TaskHandle")?;
            let source = base64::engine::general_purpose::STANDARD
                .decode(&handle)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
                .and_then(|value| {
                    value
                        .get("sourceArn")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .ok_or_else(|| SqsError::ResourceNotFound("Task does not exist.".to_owned()))?;
            authorize(
                context,
                operation,
                &Queues::queue_name(&source).unwrap_or_default(),
            )?;
            let moved = queues.cancel_move_task(&handle)?;
            Ok(Some(Out::Struct(vec![Field::new(
                "ApproximateNumberOfMessagesMoved",
                Out::Number(moved as i64),
            )])))
        }
        _ => {
            if !crate::operations::OPERATIONS.contains(&operation) {
                return Err(SqsError::InvalidAction(operation.to_owned()));
            }
            let name = queue(input, context)?;
            authorize(context, operation, &name)?;
            queue_operation(queues, operation, &name, input)
        }
    }
}

/// The operations that send and delete messages: run on the request's task, since the
/// engine's async calls wait for the store without holding a thread.
const MESSAGE_OPERATIONS: &[&str] = &[
    "SendMessage",
    "SendMessageBatch",
    "DeleteMessage",
    "DeleteMessageBatch",
];

/// [`MESSAGE_OPERATIONS`] on the queue `name`.
async fn message_operation(
    queues: &Queues,
    operation: &str,
    name: &str,
    input: &Map<String, Value>,
    sender_id: &str,
) -> Result<Option<Out>, SqsError> {
    match operation {
        "SendMessage" => {
            let message = send_message(input)?;
            let outcome = queues.send_async(name, message, sender_id).await?;
            Ok(Some(Out::Struct(send_fields(None, outcome))))
        }
        "SendMessageBatch" => {
            let entries = entries(input, "SendMessageBatchRequestEntry")?;
            let mut messages = Vec::with_capacity(entries.len());
            let mut ids = Vec::with_capacity(entries.len());
            let mut failures = Vec::new();
            let mut size = 0;
            for (id, entry) in &entries {
                match send_message(entry) {
                    Ok(message) => {
                        size += message.body.len()
                            + message
                                .attributes
                                .iter()
                                .map(|(name, value)| {
                                    name.len()
                                        + value.data_type.len()
                                        + value.string_value.as_ref().map_or(0, String::len)
                                        + value.binary_value.as_ref().map_or(0, Vec::len)
                                })
                                .sum::<usize>();
                        messages.push(message);
                        ids.push(id.clone());
                    }
                    Err(error) => failures.push((id.clone(), error)),
                }
            }
            if size > MAX_BATCH_BYTES {
                return Err(SqsError::BatchRequestTooLong {
                    limit: MAX_BATCH_BYTES,
                    sent: size,
                });
            }
            let results = queues.send_batch_async(name, messages, sender_id).await?;
            let mut successful = Vec::new();
            for (id, result) in ids.into_iter().zip(results) {
                match result {
                    Ok(outcome) => successful.push(Out::Struct(send_fields(Some(id), outcome))),
                    Err(error) => failures.push((id, error)),
                }
            }
            Ok(Some(batch_answer(
                "SendMessageBatchResultEntry",
                successful,
                failures,
            )))
        }
        "DeleteMessage" => {
            let handle = required_text(input, "ReceiptHandle")?;
            queues
                .delete_message_async(name, &handle)
                .await
                .map(|()| None)
        }
        "DeleteMessageBatch" => {
            let entries = entries(input, "DeleteMessageBatchRequestEntry")?;
            let mut successful = Vec::new();
            let mut failures = Vec::new();
            let mut ids = Vec::new();
            let mut handles = Vec::new();
            for (id, entry) in entries {
                match required_text(&entry, "ReceiptHandle") {
                    Ok(handle) => {
                        ids.push(id);
                        handles.push(handle);
                    }
                    Err(error) => failures.push((id, error)),
                }
            }
            let results = queues.delete_messages_async(name, &handles).await?;
            for (id, result) in ids.into_iter().zip(results) {
                match result {
                    Ok(()) => successful.push(Out::Struct(vec![Field::new("Id", Out::Text(id))])),
                    Err(error) => failures.push((id, error)),
                }
            }
            Ok(Some(batch_answer(
                "DeleteMessageBatchResultEntry",
                successful,
                failures,
            )))
        }
        _ => Err(SqsError::InvalidAction(operation.to_owned())),
    }
}

/// The operations on one queue named by `QueueUrl`.
fn queue_operation(
    queues: &Queues,
    operation: &str,
    name: &str,
    input: &Map<String, Value>,
) -> Result<Option<Out>, SqsError> {
    match operation {
        "DeleteQueue" => queues.delete_queue(name).map(|()| None),
        "PurgeQueue" => queues.purge(name).map(|_| None),
        "GetQueueAttributes" => {
            let names = string_list(input, "AttributeNames")?;
            let attributes = queues.get_attributes(name, &names)?;
            let mut fields = Vec::new();
            if !attributes.is_empty() {
                fields.push(Field {
                    json: "Attributes",
                    xml: "Attribute",
                    value: Out::string_map("Name", &attributes),
                });
            }
            Ok(Some(Out::Struct(fields)))
        }
        "SetQueueAttributes" => {
            let attributes = string_map(input, "Attributes")?;
            queues.set_attributes(name, &attributes).map(|()| None)
        }
        "ChangeMessageVisibility" => {
            let handle = required_text(input, "ReceiptHandle")?;
            let timeout = required_timeout(input)?;
            queues
                .change_visibility(name, &handle, timeout)
                .map(|()| None)
        }
        "ChangeMessageVisibilityBatch" => {
            let entries = entries(input, "ChangeMessageVisibilityBatchRequestEntry")?;
            let mut successful = Vec::new();
            let mut failures = Vec::new();
            for (id, entry) in entries {
                let result = required_text(&entry, "ReceiptHandle").and_then(|handle| {
                    let timeout = required_timeout(&entry)?;
                    queues.change_visibility(name, &handle, timeout)
                });
                match result {
                    Ok(()) => successful.push(Out::Struct(vec![Field::new("Id", Out::Text(id))])),
                    Err(SqsError::QueueDoesNotExist) => return Err(SqsError::QueueDoesNotExist),
                    Err(error) => failures.push((id, error)),
                }
            }
            Ok(Some(batch_answer(
                "ChangeMessageVisibilityBatchResultEntry",
                successful,
                failures,
            )))
        }
        "TagQueue" => {
            let tags = string_map(input, "Tags")?;
            queues.tag_queue(name, &tags).map(|()| None)
        }
        "UntagQueue" => {
            let keys = string_list(input, "TagKeys")?;
            queues.untag_queue(name, &keys).map(|()| None)
        }
        "ListQueueTags" => {
            let tags = queues.tags(name)?;
            let mut fields = Vec::new();
            if !tags.is_empty() {
                fields.push(Field {
                    json: "Tags",
                    xml: "Tag",
                    value: Out::string_map("Key", &tags),
                });
            }
            Ok(Some(Out::Struct(fields)))
        }
        "AddPermission" => {
            let label = required_text(input, "Label")?;
            let accounts = string_list(input, "AWSAccountIds")?;
            let actions = string_list(input, "Actions")?;
            queues
                .add_permission(name, &label, &accounts, &actions)
                .map(|()| None)
        }
        "RemovePermission" => {
            let label = required_text(input, "Label")?;
            queues.remove_permission(name, &label).map(|()| None)
        }
        other => Err(SqsError::InvalidAction(other.to_owned())),
    }
}

/// The queue a call names: `QueueUrl`, else the request's path.
fn queue(input: &Map<String, Value>, context: &CallContext) -> Result<String, SqsError> {
    match text(input, "QueueUrl")? {
        Some(url) => Queues::queue_name(&url).ok_or(SqsError::QueueDoesNotExist),
        None => context
            .path_queue
            .clone()
            .ok_or_else(|| SqsError::MissingParameter("QueueUrl".to_owned())),
    }
}

fn text(input: &Map<String, Value>, key: &str) -> Result<Option<String>, SqsError> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(SqsError::invalid_value(key, other, "Must be a string.")),
    }
}

fn required_text(input: &Map<String, Value>, key: &str) -> Result<String, SqsError> {
    text(input, key)?.ok_or_else(|| SqsError::MissingParameter(key.to_owned()))
}

/// An integer, given as a JSON number or (query protocol) as text.
fn int(input: &Map<String, Value>, key: &str) -> Result<Option<i64>, SqsError> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => number
            .as_i64()
            .map(Some)
            .ok_or_else(|| SqsError::invalid_value(key, number, "Must be an integer.")),
        Some(Value::String(text)) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| SqsError::invalid_value(key, text, "Must be an integer.")),
        Some(other) => Err(SqsError::invalid_value(key, other, "Must be an integer.")),
    }
}

/// A non-negative integer parameter that fits in `u32`.
fn unsigned(input: &Map<String, Value>, key: &str, reason: &str) -> Result<Option<u32>, SqsError> {
    match int(input, key)? {
        None => Ok(None),
        Some(value) => u32::try_from(value)
            .map(Some)
            .map_err(|_| SqsError::invalid_value(key, value, reason)),
    }
}

fn required_timeout(input: &Map<String, Value>) -> Result<u32, SqsError> {
    unsigned(
        input,
        "VisibilityTimeout",
        "VisibilityTimeout must be an integer between 0 and 43200",
    )?
    .ok_or_else(|| SqsError::MissingParameter("VisibilityTimeout".to_owned()))
}

fn string_list(input: &Map<String, Value>, key: &str) -> Result<Vec<String>, SqsError> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| SqsError::invalid_value(key, item, "Must be a list of strings."))
            })
            .collect(),
        Some(other) => Err(SqsError::invalid_value(
            key,
            other,
            "Must be a list of strings.",
        )),
    }
}

fn string_map(input: &Map<String, Value>, key: &str) -> Result<BTreeMap<String, String>, SqsError> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(object)) => object
            .iter()
            .map(|(name, value)| match value {
                Value::String(text) => Ok((name.clone(), text.clone())),
                other => Err(SqsError::invalid_value(name, other, "Must be a string.")),
            })
            .collect(),
        Some(other) => Err(SqsError::invalid_value(
            key,
            other,
            "Must be a map of strings.",
        )),
    }
}

fn message_attributes(
    input: &Map<String, Value>,
    key: &str,
) -> Result<MessageAttributes, SqsError> {
    let Some(value) = input.get(key).filter(|value| !value.is_null()) else {
        return Ok(MessageAttributes::new());
    };
    let Some(object) = value.as_object() else {
        return Err(SqsError::invalid_value(
            key,
            value,
            "Must be a map of message attributes.",
        ));
    };
    let mut attributes = MessageAttributes::new();
    for (name, value) in object {
        let Some(fields) = value.as_object() else {
            return Err(SqsError::invalid_value(
                key,
                value,
                "Must be a map of message attributes.",
            ));
        };
        let data_type = text(fields, "DataType")?.ok_or_else(|| {
            SqsError::InvalidParameterValue(format!(
                "The message attribute '{name}' must contain non-empty message attribute type."
            ))
        })?;
        let binary_value = match text(fields, "BinaryValue")? {
            None => None,
            Some(encoded) => Some(
                base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .map_err(|_| {
                        SqsError::InvalidParameterValue(format!(
                            "The message attribute '{name}' has an invalid binary value: it must be base64."
                        ))
                    })?,
            ),
        };
        attributes.insert(
            name.clone(),
            MessageAttributeValue {
                data_type,
                string_value: text(fields, "StringValue")?,
                binary_value,
            },
        );
    }
    Ok(attributes)
}

fn send_message(input: &Map<String, Value>) -> Result<SendMessage, SqsError> {
    let body = required_text(input, "MessageBody")?;
    Ok(SendMessage {
        body,
        delay_seconds: unsigned(
            input,
            "DelaySeconds",
            "DelaySeconds must be >= 0 and <= 900.",
        )?,
        attributes: message_attributes(input, "MessageAttributes")?,
        system_attributes: message_attributes(input, "MessageSystemAttributes")?,
        group_id: text(input, "MessageGroupId")?,
        deduplication_id: text(input, "MessageDeduplicationId")?,
    })
}

fn send_fields(id: Option<String>, outcome: crate::SendOutcome) -> Vec<Field> {
    let mut fields = Vec::new();
    if let Some(id) = id {
        fields.push(Field::new("Id", Out::Text(id)));
    }
    fields.push(Field::new("MessageId", Out::Text(outcome.message_id)));
    fields.push(Field::new(
        "MD5OfMessageBody",
        Out::Text(outcome.md5_of_body),
    ));
    if let Some(md5) = outcome.md5_of_message_attributes {
        fields.push(Field::new("MD5OfMessageAttributes", Out::Text(md5)));
    }
    if let Some(md5) = outcome.md5_of_system_attributes {
        fields.push(Field::new("MD5OfMessageSystemAttributes", Out::Text(md5)));
    }
    if let Some(sequence) = outcome.sequence_number {
        fields.push(Field::new("SequenceNumber", Out::Text(sequence)));
    }
    fields
}

/// A batch entry: its id and its members.
type BatchEntry = (String, Map<String, Value>);

/// A batch's entries with their ids, checked as SQS checks a batch before any entry runs.
fn entries(
    input: &Map<String, Value>,
    entry_shape: &'static str,
) -> Result<Vec<BatchEntry>, SqsError> {
    let entries: Vec<Map<String, Value>> = match input.get("Entries") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_object().cloned().ok_or_else(|| {
                    SqsError::invalid_value("Entries", item, "Must be a list of entries.")
                })
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(SqsError::invalid_value(
                "Entries",
                other,
                "Must be a list of entries.",
            ))
        }
    };
    let ids: Vec<String> = entries
        .iter()
        .map(|entry| text(entry, "Id").map(Option::unwrap_or_default))
        .collect::<Result<_, _>>()?;
    check_batch_ids(ids.iter().map(String::as_str), entry_shape)?;
    Ok(ids.into_iter().zip(entries).collect())
}

fn batch_answer(
    entry_name: &'static str,
    successful: Vec<Out>,
    failures: Vec<(String, SqsError)>,
) -> Out {
    let failed = failures
        .into_iter()
        .map(|(id, error)| {
            Out::Struct(vec![
                Field::new("Id", Out::Text(id)),
                Field::new("SenderFault", Out::Bool(error.is_sender_fault())),
                Field::new("Code", Out::Text(error.query_code().to_owned())),
                Field::new("Message", Out::Text(error.to_string())),
            ])
        })
        .collect();
    Out::Struct(vec![
        Field {
            json: "Successful",
            xml: entry_name,
            value: Out::List(successful),
        },
        Field {
            json: "Failed",
            xml: "BatchResultErrorEntry",
            value: Out::List(failed),
        },
    ])
}

/// `MaxResults`/`NextToken` paging over names in order; the token is the last name
/// given, encoded.
fn paginate(
    names: Vec<String>,
    input: &Map<String, Value>,
) -> Result<(Vec<String>, Option<String>), SqsError> {
    let max = int(input, "MaxResults")?;
    if let Some(max) = max {
        if !(1..=1000).contains(&max) {
            return Err(SqsError::invalid_value(
                "MaxResults",
                max,
                "MaxResults must be an integer between 1 and 1000.",
            ));
        }
    }
    let after = match text(input, "NextToken")? {
        None => None,
        Some(token) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(&token)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| {
                    SqsError::invalid_value("NextToken", &token, "Invalid NextToken value.")
                })?,
        ),
    };
    let mut remaining: Vec<String> = names
        .into_iter()
        .filter(|name| after.as_ref().is_none_or(|after| name > after))
        .collect();
    let Some(max) = max else {
        remaining.truncate(1000);
        return Ok((remaining, None));
    };
    let max = usize::try_from(max).unwrap_or(1000);
    if remaining.len() <= max {
        return Ok((remaining, None));
    }
    remaining.truncate(max);
    let token = remaining
        .last()
        .map(|last| base64::engine::general_purpose::STANDARD.encode(last));
    Ok((remaining, token))
}

fn receive_options(input: &Map<String, Value>) -> Result<ReceiveOptions, SqsError> {
    let mut attribute_names = string_list(input, "AttributeNames")?;
    attribute_names.extend(string_list(input, "MessageSystemAttributeNames")?);
    for name in &attribute_names {
        if name != "All" && !crate::MESSAGE_SYSTEM_ATTRIBUTES.contains(&name.as_str()) {
            return Err(SqsError::InvalidAttributeName(format!(
                "Unknown Attribute {name}."
            )));
        }
    }
    let max_messages = match int(input, "MaxNumberOfMessages")? {
        None => None,
        Some(value) if (1..=10).contains(&value) => Some(value as u32),
        Some(value) => {
            return Err(SqsError::invalid_value(
                "MaxNumberOfMessages",
                value,
                "Must be between 1 and 10, if provided.",
            ))
        }
    };
    let wait_seconds = match int(input, "WaitTimeSeconds")? {
        None => None,
        Some(value) if (0..=20).contains(&value) => Some(value as u32),
        Some(value) => {
            return Err(SqsError::invalid_value(
                "WaitTimeSeconds",
                value,
                "Must be >= 0 and <= 20, if provided.",
            ))
        }
    };
    let visibility_timeout = match int(input, "VisibilityTimeout")? {
        None => None,
        Some(value) if (0..=43_200).contains(&value) => Some(value as u32),
        Some(value) => {
            return Err(SqsError::invalid_value(
                "VisibilityTimeout",
                value,
                "Must be >= 0 and <= 43200, if provided.",
            ))
        }
    };
    Ok(ReceiveOptions {
        max_messages,
        visibility_timeout,
        wait_seconds,
        attribute_names,
        message_attribute_names: string_list(input, "MessageAttributeNames")?,
        request_attempt_id: text(input, "ReceiveRequestAttemptId")?,
    })
}

fn received(messages: Vec<crate::ReceivedMessage>) -> Out {
    if messages.is_empty() {
        return Out::Struct(Vec::new());
    }
    let messages = messages
        .into_iter()
        .map(|message| {
            let mut fields = vec![
                Field::new("MessageId", Out::Text(message.message_id)),
                Field::new("ReceiptHandle", Out::Text(message.receipt_handle)),
                Field::new("MD5OfBody", Out::Text(message.md5_of_body)),
                Field::new("Body", Out::Text(message.body)),
            ];
            if !message.attributes.is_empty() {
                fields.push(Field {
                    json: "Attributes",
                    xml: "Attribute",
                    value: Out::string_map("Name", &message.attributes),
                });
            }
            if let Some(md5) = message.md5_of_message_attributes {
                fields.push(Field::new("MD5OfMessageAttributes", Out::Text(md5)));
            }
            if !message.message_attributes.is_empty() {
                let entries = message
                    .message_attributes
                    .into_iter()
                    .map(|(name, value)| {
                        let mut members = Vec::new();
                        if let Some(string) = value.string_value {
                            members.push(Field::new("StringValue", Out::Text(string)));
                        }
                        if let Some(binary) = value.binary_value {
                            members.push(Field::new(
                                "BinaryValue",
                                Out::Text(base64::engine::general_purpose::STANDARD.encode(binary)),
                            ));
                        }
                        members.push(Field::new("DataType", Out::Text(value.data_type)));
                        (name, Out::Struct(members))
                    })
                    .collect();
                fields.push(Field {
                    json: "MessageAttributes",
                    xml: "MessageAttribute",
                    value: Out::Map {
                        key_name: "Name",
                        entries,
                    },
                });
            }
            Out::Struct(fields)
        })
        .collect();
    Out::Struct(vec![Field {
        json: "Messages",
        xml: "Message",
        value: Out::List(messages),
    }])
}
