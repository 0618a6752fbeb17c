//! The `Invoke` action: one call of a running stack's function with an event, as
//! `serverful invoke --endpoint` makes it through the admin API. The function is found by
//! any of its names, as Lambda's `Invoke` finds it; the call goes through the same
//! [`Platform::invoke`] as the gateway's and the Lambda API's.

use std::sync::Arc;

use bytes::Bytes;
use serverful_invoke::{FunctionRef, InvokeError};

use crate::action::{ActionError, ErrorKind, InvokeRequest, Outcome};
use crate::server::{LiveVersion, Platform};

/// Calls the function `request` names and returns its result or its error payload.
pub(crate) async fn invoke(
    platform: &Arc<Platform>,
    request: InvokeRequest,
) -> Result<Outcome, ActionError> {
    if serde_json::from_slice::<serde_json::Value>(&request.event).is_err() {
        return Err(ActionError::invalid(
            "invoke",
            "the event is not JSON: Lambda's Invoke takes a JSON document",
        ));
    }
    let (name, arn_qualifier) = function_name(&request.function);
    let (stack, function) = resolve(&platform.current_versions(), name, &request)?;
    let qualifier = request.qualifier.as_deref().or(arn_qualifier);
    let mut target = FunctionRef::new(stack.as_str(), function.as_str()).with_trigger("cli");
    if let Some(qualifier) = qualifier {
        target = target.with_qualifier(qualifier);
    }
    let started_ms = now_ms();
    let (executed_version, outcome) = platform
        .invoke_version(&target, Bytes::from(request.event))
        .await;
    let (payload, failed) = match outcome {
        Ok(result) => (result, false),
        Err(InvokeError::FunctionError(error)) => (error, true),
        Err(InvokeError::Timeout) => {
            let timeout = platform
                .current(&stack)
                .and_then(|version| {
                    version
                        .app
                        .functions
                        .iter()
                        .find(|candidate| candidate.logical_id == function)
                        .map(|candidate| candidate.timeout_secs)
                })
                .unwrap_or_default();
            let error = serde_json::json!({
                "errorType": "Sandbox.Timedout",
                "errorMessage": format!("Task timed out after {timeout}.00 seconds"),
            });
            (Bytes::from(error.to_string()), true)
        }
        Err(InvokeError::NoSuchFunction(name)) => {
            return Err(ActionError::not_found(
                "invoke",
                format!("{name} does not exist (is the qualifier a version or alias of it?)"),
            ))
        }
        Err(InvokeError::Throttled) => {
            return Err(ActionError::new(
                "invoke",
                ErrorKind::Conflict,
                format!("{stack}/{function} is at its concurrency limit: try again"),
            ))
        }
        Err(error) => return Err(ActionError::internal("invoke", error.to_string())),
    };
    Ok(Outcome::Invoked {
        stack,
        function,
        payload: String::from_utf8_lossy(&payload).into_owned(),
        failed,
        executed_version,
        started_ms,
    })
}

/// Milliseconds since the Unix epoch: where the function's log lines of this call begin.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}

/// The function's name in a plain name or an ARN, and the ARN's qualifier if it has one.
fn function_name(function: &str) -> (&str, Option<&str>) {
    let name = function
        .rsplit_once(":function:")
        .map_or(function, |(_, name)| name);
    match name.split_once(':') {
        Some((name, qualifier)) => (name, Some(qualifier)),
        None => (name, None),
    }
}

/// The stack and logical id of the running function `name` (a logical id or a physical
/// name), in the request's stack if it names one.
fn resolve(
    live: &[Arc<LiveVersion>],
    name: &str,
    request: &InvokeRequest,
) -> Result<(String, String), ActionError> {
    let stacks = live.iter().filter(|version| {
        request
            .stack
            .as_deref()
            .is_none_or(|stack| stack == version.record.stack)
    });
    let found: Vec<(String, String)> = stacks
        .flat_map(|version| {
            version
                .app
                .functions
                .iter()
                .filter(|function| function.logical_id == name || function.name == name)
                .map(|function| (version.record.stack.clone(), function.logical_id.clone()))
        })
        .collect();
    match found.as_slice() {
        [only] => Ok(only.clone()),
        [] => {
            let mut known: Vec<String> = live
                .iter()
                .filter(|version| {
                    request
                        .stack
                        .as_deref()
                        .is_none_or(|stack| stack == version.record.stack)
                })
                .flat_map(|version| {
                    version.app.functions.iter().map(|function| {
                        format!("{} ({})", function.logical_id, version.record.stack)
                    })
                })
                .collect();
            known.sort();
            let place = match &request.stack {
                Some(stack) => format!("stack {stack}"),
                None => "any running stack".to_owned(),
            };
            let hint = if known.is_empty() {
                String::new()
            } else {
                format!("; functions: {}", known.join(", "))
            };
            Err(ActionError::not_found(
                "invoke",
                format!("{place} has no function named {name}{hint}"),
            ))
        }
        several => {
            let stacks: Vec<&str> = several.iter().map(|(stack, _)| stack.as_str()).collect();
            Err(ActionError::invalid(
                "invoke",
                format!(
                    "{name} is a function of several stacks ({}): say which with --stack-name",
                    stacks.join(", ")
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_arns_give_the_function_and_its_qualifier() {
        assert_eq!(function_name("Hello"), ("Hello", None));
        assert_eq!(function_name("Hello:live"), ("Hello", Some("live")));
        assert_eq!(
            function_name("arn:aws:lambda:us-east-1:123456789012:function:app-Hello-ABC"),
            ("app-Hello-ABC", None)
        );
        assert_eq!(
            function_name("arn:aws:lambda:us-east-1:123456789012:function:app-Hello-ABC:3"),
            ("app-Hello-ABC", Some("3"))
        );
    }
}
