//! REST API request validation written as resources: `AWS::ApiGateway::RequestValidator`
//! and `AWS::ApiGateway::Model`, and a `Method`'s `RequestValidatorId`, `RequestModels` and
//! `RequestParameters`, read into a route's [`RequestValidation`].

use super::properties::{expect_string, mapping};
use super::rest_resources::{property, string_property, MODEL, REQUEST_VALIDATOR};
use super::RawResource;
use crate::intrinsics::Resolver;
use crate::model::RequestValidation;
use crate::node::Node;
use crate::Problem;

/// Whether a resolved value is YAML/JSON `true` (CloudFormation also takes `"true"`).
pub(super) fn is_true(node: &Node) -> bool {
    node.as_scalar()
        .is_some_and(|text| text.trim().eq_ignore_ascii_case("true"))
}

/// The checks a method's validator makes, or `None` when it names no validator.
pub(super) fn method_validation(
    resolver: &Resolver<'_>,
    method: &RawResource<'_>,
    created: &[RawResource<'_>],
    api: &str,
) -> Result<Option<RequestValidation>, Problem> {
    let location = format!("Resources.{}.Properties", method.logical_id);
    let Some((validator_id, validator_span)) =
        string_property(resolver, method, "RequestValidatorId")?
    else {
        return Ok(None);
    };
    let Some(validator) = created
        .iter()
        .find(|raw| raw.type_name == REQUEST_VALIDATOR && raw.logical_id == validator_id)
    else {
        return Err(Problem::at(
            validator_span,
            format!("{location}.RequestValidatorId: '{validator_id}' is not an AWS::ApiGateway::RequestValidator of this template; use !Ref of one"),
        ));
    };
    let flag = |key: &str| -> Result<bool, Problem> {
        Ok(property(resolver, validator, key)?.is_some_and(|(value, _)| is_true(&value)))
    };
    let validate_body = flag("ValidateRequestBody")?;
    let validate_parameters = flag("ValidateRequestParameters")?;

    let mut validation = RequestValidation {
        body_model: None,
        required_query: Vec::new(),
        required_headers: Vec::new(),
    };
    if validate_body {
        if let Some((models, models_location)) = property(resolver, method, "RequestModels")? {
            let entries = mapping(&models, &models_location)?;
            let chosen = entries
                .iter()
                .find(|entry| entry.key == "application/json")
                .or_else(|| entries.iter().find(|entry| entry.key == "$default"))
                .or(entries.first());
            if let Some(entry) = chosen {
                let entry_location = format!("{models_location}.{}", entry.key);
                let name = expect_string(&entry.value, &entry_location)?;
                validation.body_model = Some((
                    name.clone(),
                    model_schema(
                        resolver,
                        created,
                        api,
                        &name,
                        entry.value.span,
                        &entry_location,
                    )?,
                ));
            }
        }
    }
    if validate_parameters {
        if let Some((parameters, parameters_location)) =
            property(resolver, method, "RequestParameters")?
        {
            for entry in mapping(&parameters, &parameters_location)? {
                if !is_true(&entry.value) {
                    continue;
                }
                if let Some(name) = entry.key.strip_prefix("method.request.querystring.") {
                    validation.required_query.push(name.to_owned());
                } else if let Some(name) = entry.key.strip_prefix("method.request.header.") {
                    validation.required_headers.push(name.to_owned());
                } else if !entry.key.starts_with("method.request.path.") {
                    return Err(Problem::at(
                        entry.key_span,
                        format!("{parameters_location}.{}: expected method.request.querystring.NAME, method.request.header.NAME or method.request.path.NAME", entry.key),
                    ));
                }
            }
        }
    }
    Ok(Some(validation))
}

/// The JSON Schema of the model `name` (its `Name`, or its logical id as `!Ref` gives it)
/// of the REST API `api`.
fn model_schema(
    resolver: &Resolver<'_>,
    created: &[RawResource<'_>],
    api: &str,
    name: &str,
    span: crate::node::Span,
    location: &str,
) -> Result<serde_json::Value, Problem> {
    for raw in created.iter().filter(|raw| raw.type_name == MODEL) {
        let model_name = string_property(resolver, raw, "Name")?.map(|(name, _)| name);
        if raw.logical_id != name && model_name.as_deref() != Some(name) {
            continue;
        }
        let model_location = format!("Resources.{}.Properties", raw.logical_id);
        if let Some(node) = raw
            .properties
            .and_then(|properties| properties.get("RestApiId"))
        {
            let model_api =
                super::apis::api_reference(node, &format!("{model_location}.RestApiId"))?;
            if model_api != api {
                continue;
            }
        }
        let Some((schema, schema_location)) = property(resolver, raw, "Schema")? else {
            return Err(Problem::at(
                raw.key_span,
                format!(
                    "{model_location}.Schema: missing; write the model's JSON Schema (draft 4)"
                ),
            ));
        };
        return schema_json(&schema, &schema_location);
    }
    Err(Problem::at(
        span,
        format!("{location}: '{name}' is not an AWS::ApiGateway::Model of this API; declare one (Name, RestApiId, ContentType: application/json, Schema) and use !Ref of it"),
    ))
}

/// A `Schema` value as JSON: a mapping, or a JSON document in a string.
pub(super) fn schema_json(schema: &Node, location: &str) -> Result<serde_json::Value, Problem> {
    let value = match schema.as_scalar() {
        Some(text) => serde_json::from_str(text).map_err(|error| {
            Problem::at(
                schema.span,
                format!("{location}: not a JSON Schema: {error}"),
            )
        })?,
        None => schema.to_json(),
    };
    if !value.is_object() {
        return Err(Problem::at(
            schema.span,
            format!("{location}: a JSON Schema is an object, such as {{\"type\": \"object\", \"required\": [\"name\"]}}"),
        ));
    }
    if let Err(error) = jsonschema::draft4::new(&value) {
        return Err(Problem::at(
            schema.span,
            format!("{location}: not a valid JSON Schema (draft 4): {error}"),
        ));
    }
    Ok(value)
}
