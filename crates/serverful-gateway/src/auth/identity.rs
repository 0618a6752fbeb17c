//! Identity sources: API Gateway's expressions for where a request's identity is
//! (`method.request.header.Authorization`, `$request.querystring.token`,
//! `stageVariables.x`, `$context.sourceIp`), read from one request.

use super::AuthRequest;
use crate::event::parse_query;

/// The value `source` names in the request; `None` when it is missing or empty (API
/// Gateway then refuses the request without calling the authorizer).
pub(super) fn value(source: &str, request: &AuthRequest<'_>) -> Option<String> {
    let source = source.trim();
    let source = source.strip_prefix('$').unwrap_or(source);
    let source = source
        .strip_prefix("method.request.")
        .or_else(|| source.strip_prefix("request."))
        .map_or_else(|| source.to_owned(), |rest| format!("request:{rest}"));
    let value = if let Some(name) = source.strip_prefix("request:header.") {
        let values: Vec<String> = request
            .data
            .headers
            .get_all(name)
            .iter()
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .collect();
        (!values.is_empty()).then(|| values.join(","))
    } else if let Some(name) = source.strip_prefix("request:querystring.") {
        let values: Vec<String> = parse_query(&request.data.raw_query)
            .into_iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value)
            .collect();
        (!values.is_empty()).then(|| values.join(","))
    } else if let Some(name) = source.strip_prefix("stageVariables.") {
        request.api.stage_variables.get(name).cloned()
    } else if let Some(name) = source.strip_prefix("context.") {
        context_value(name, request)
    } else {
        None
    };
    value.filter(|value| !value.trim().is_empty())
}

/// The `$context` variables an identity source may name.
fn context_value(name: &str, request: &AuthRequest<'_>) -> Option<String> {
    let stage = request
        .found
        .stage
        .as_deref()
        .unwrap_or(&request.api.stage_name);
    match name {
        "httpMethod" => Some(request.data.method.clone()),
        "path" | "resourcePath" => Some(request.found.api_path.clone()),
        "stage" => Some(stage.to_owned()),
        "apiId" => Some(request.api.api_id.clone()),
        "requestId" => Some(request.data.request_id.clone()),
        "identity.sourceIp" | "sourceIp" => Some(request.data.source_ip.clone()),
        "identity.userAgent" => request
            .data
            .headers
            .get(http::header::USER_AGENT)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned()),
        _ => None,
    }
}
