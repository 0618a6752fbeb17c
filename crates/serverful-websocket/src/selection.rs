//! Route selection: which route of a WebSocket API a message goes to, by evaluating the
//! API's `RouteSelectionExpression` (`$request.body.action`, or another JSON path of the
//! message) on the message body.

/// The route key a message selects among `route_keys`, or `None` when nothing matches and
/// the API has no `$default` route.
///
/// A message that is not a JSON object, lacks the path, has a value that is not a string
/// (numbers and booleans count as their text), or names no route goes to `$default`.
pub fn select_route<'r>(
    expression: &str,
    body: &str,
    route_keys: impl IntoIterator<Item = &'r str> + Clone,
) -> Option<&'r str> {
    let selected = selection_key(expression, body);
    if let Some(key) = selected.as_deref() {
        if let Some(found) = route_keys
            .clone()
            .into_iter()
            .find(|route_key| *route_key == key && !route_key.starts_with('$'))
        {
            return Some(found);
        }
    }
    route_keys
        .into_iter()
        .find(|route_key| *route_key == "$default")
}

/// The value of `expression` on the message: the text at the JSON path after
/// `$request.body` (`${request.body.action}` is accepted too).
pub fn selection_key(expression: &str, body: &str) -> Option<String> {
    let expression = expression.trim();
    let path = expression
        .strip_prefix("${")
        .and_then(|inner| inner.strip_suffix('}'))
        .map(|inner| format!("${inner}"))
        .unwrap_or_else(|| expression.to_owned());
    let rest = path.strip_prefix("$request.body")?;
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let mut current = &value;
    for segment in rest.split('.').filter(|segment| !segment.is_empty()) {
        current = current.as_object()?.get(segment)?;
    }
    match current {
        serde_json::Value::String(text) => Some(text.clone()),
        serde_json::Value::Number(number) => Some(number.to_string()),
        serde_json::Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::select_route;

    const KEYS: &[&str] = &["$connect", "$disconnect", "$default", "sendmessage"];

    fn check(expression: &str, body: &str, keys: &[&'static str], expected: Option<&str>) {
        assert_eq!(
            select_route(expression, body, keys.iter().copied()),
            expected,
            "{expression} on {body}"
        );
    }

    #[test]
    fn the_action_selects_a_custom_route() {
        check(
            "$request.body.action",
            r#"{"action":"sendmessage","data":"hi"}"#,
            KEYS,
            Some("sendmessage"),
        );
    }

    #[test]
    fn nested_paths_and_the_braced_form_select_too() {
        check(
            "$request.body.meta.kind",
            r#"{"meta":{"kind":"sendmessage"}}"#,
            KEYS,
            Some("sendmessage"),
        );
        check(
            "${request.body.action}",
            r#"{"action":"sendmessage"}"#,
            KEYS,
            Some("sendmessage"),
        );
    }

    #[test]
    fn unmatched_and_non_json_messages_go_to_default() {
        check(
            "$request.body.action",
            r#"{"action":"nope"}"#,
            KEYS,
            Some("$default"),
        );
        check("$request.body.action", "plain text", KEYS, Some("$default"));
        check(
            "$request.body.action",
            r#"{"other":1}"#,
            KEYS,
            Some("$default"),
        );
        check(
            "$request.body.action",
            r#"["sendmessage"]"#,
            KEYS,
            Some("$default"),
        );
    }

    #[test]
    fn reserved_keys_are_never_selected_by_a_message() {
        check(
            "$request.body.action",
            r#"{"action":"$connect"}"#,
            KEYS,
            Some("$default"),
        );
    }

    #[test]
    fn without_default_nothing_is_selected() {
        check(
            "$request.body.action",
            "plain text",
            &["$connect", "sendmessage"],
            None,
        );
        check(
            "$request.body.action",
            r#"{"action":"sendmessage"}"#,
            &["sendmessage"],
            Some("sendmessage"),
        );
    }
}
