//! Request validation written SAM's way and OpenAPI's way, read into the same
//! [`RequestValidation`] as `AWS::ApiGateway::RequestValidator` resources give:
//!
//! - SAM: an API's `Models` (name → JSON Schema), and an `Api` event's `RequestModel`
//!   (`Model`, `Required`, `ValidateBody`, `ValidateParameters`) and `RequestParameters`
//!   (`method.request.header.X` / `method.request.querystring.X`, as strings or with
//!   `{Required, Caching}`). As SAM's transform does, a method gets a validator only when
//!   its `RequestModel` asks for one (`ValidateBody` or `ValidateParameters`); required
//!   parameters are then checked if it validates parameters.
//! - OpenAPI: `x-amazon-apigateway-request-validators` (name → `validateRequestBody`,
//!   `validateRequestParameters`) with `x-amazon-apigateway-request-validator` on the
//!   definition or an operation; `parameters` (the path's and the operation's) with
//!   `required: true` in `query` or `header`; the body's schema from a Swagger `in: body`
//!   parameter or OpenAPI 3's `requestBody`, references into `definitions` or
//!   `components.schemas` kept resolvable.

use std::collections::BTreeMap;

use super::properties::{expect_string, mapping};
use super::validators::{is_true, schema_json};
use crate::intrinsics::Resolver;
use crate::model::RequestValidation;
use crate::node::Node;
use crate::Problem;

/// An API's `Models`: each name and its JSON Schema (checked as draft 4).
pub(super) type Models = BTreeMap<String, serde_json::Value>;

/// Reads an `AWS::Serverless::Api`'s `Models` (after globals).
pub(super) fn sam_models(
    resolver: &Resolver<'_>,
    logical_id: &str,
    properties: Option<&Node>,
) -> Result<Models, Problem> {
    let Some(node) = properties.and_then(|properties| properties.get("Models")) else {
        return Ok(Models::new());
    };
    let location = format!("Resources.{logical_id}.Properties.Models");
    let Some(resolved) = resolver.resolve(node, &location)? else {
        return Ok(Models::new());
    };
    let mut models = Models::new();
    for entry in mapping(&resolved, &location)? {
        let model_location = format!("{location}.{}", entry.key);
        models.insert(
            entry.key.clone(),
            schema_json(&entry.value, &model_location)?,
        );
    }
    Ok(models)
}

/// The checks an `Api` event's resolved `RequestModel` and `RequestParameters` make on
/// an API with `models`; `None` when they make none.
pub(super) fn event_validation(
    models: Option<&Models>,
    api_logical_id: &str,
    request_model: Option<(&Node, &str)>,
    request_parameters: Option<(&Node, &str)>,
) -> Result<Option<RequestValidation>, Problem> {
    let mut required_query = Vec::new();
    let mut required_headers = Vec::new();
    if let Some((parameters, location)) = request_parameters {
        let Some(items) = parameters.as_sequence() else {
            return Err(Problem::at(
                parameters.span,
                format!("{location}: expected a list of method.request.header.NAME or method.request.querystring.NAME, each alone or with {{Required, Caching}}"),
            ));
        };
        for (item_idx, item) in items.iter().enumerate() {
            let item_location = format!("{location}[{item_idx}]");
            let (name, required) = match (item.as_scalar(), item.as_mapping()) {
                (Some(name), _) => (name.to_owned(), false),
                (None, Some([entry])) => {
                    let mut required = false;
                    for setting in mapping(&entry.value, &format!("{item_location}.{}", entry.key))? {
                        match setting.key.as_str() {
                            "Required" => required = is_true(&setting.value),
                            "Caching" => {}
                            other => {
                                return Err(Problem::at(
                                    setting.key_span,
                                    format!("{item_location}.{}.{other}: not a parameter setting; use Required and Caching", entry.key),
                                ))
                            }
                        }
                    }
                    (entry.key.clone(), required)
                }
                _ => {
                    return Err(Problem::at(
                        item.span,
                        format!("{item_location}: expected method.request.header.NAME or method.request.querystring.NAME, alone or with {{Required, Caching}}"),
                    ))
                }
            };
            let target = if let Some(header) = name.strip_prefix("method.request.header.") {
                (header, &mut required_headers)
            } else if let Some(query) = name.strip_prefix("method.request.querystring.") {
                (query, &mut required_query)
            } else if name.starts_with("method.request.path.") {
                // A route only matches with its path parameters.
                continue;
            } else {
                return Err(Problem::at(
                    item.span,
                    format!("{item_location}: '{name}' must start with method.request.header., method.request.querystring. or method.request.path."),
                ));
            };
            if required {
                target.1.push(target.0.to_owned());
            }
        }
    }
    let Some((request_model, location)) = request_model else {
        return Ok(None);
    };
    let mut model = None;
    let mut validate_body = false;
    let mut validate_parameters = false;
    for entry in mapping(request_model, location)? {
        let entry_location = format!("{location}.{}", entry.key);
        match entry.key.as_str() {
            "Model" => model = Some((expect_string(&entry.value, &entry_location)?, entry.value.span)),
            "ValidateBody" => validate_body = is_true(&entry.value),
            "ValidateParameters" => validate_parameters = is_true(&entry.value),
            "Required" => {}
            other => {
                return Err(Problem::at(
                    entry.key_span,
                    format!("{location}.{other}: not a RequestModel setting; use Model, Required, ValidateBody and ValidateParameters"),
                ))
            }
        }
    }
    let Some((model, model_span)) = model else {
        return Err(Problem::at(
            request_model.span,
            format!("{location}.Model: missing; name one of the Models of {api_logical_id}"),
        ));
    };
    let Some(schema) = models.and_then(|models| models.get(&model)) else {
        let known: Vec<&str> = models
            .map(|models| models.keys().map(String::as_str).collect())
            .unwrap_or_default();
        return Err(Problem::at(
            model_span,
            format!(
                "{location}.Model: '{model}' is not one of the Models of {api_logical_id} ({}); declare it under the API's Models",
                if known.is_empty() { "it has none".to_owned() } else { known.join(", ") }
            ),
        ));
    };
    if !validate_body && !validate_parameters {
        // SAM attaches no validator then: the model documents the body only.
        return Ok(None);
    }
    Ok(Some(RequestValidation {
        body_model: validate_body.then(|| (model, schema.clone())),
        required_query: if validate_parameters {
            required_query
        } else {
            Vec::new()
        },
        required_headers: if validate_parameters {
            required_headers
        } else {
            Vec::new()
        },
    }))
}

/// The checks an OpenAPI operation's validator makes; `None` when it has no validator.
pub(super) fn openapi_validation(
    definition: &Node,
    path_item: &Node,
    operation: &Node,
    location: &str,
    operation_location: &str,
) -> Result<Option<RequestValidation>, Problem> {
    const CHOOSE: &str = "x-amazon-apigateway-request-validator";
    let chosen = match operation.get(CHOOSE).or_else(|| definition.get(CHOOSE)) {
        None => return Ok(None),
        Some(node) => (
            expect_string(node, &format!("{operation_location}.{CHOOSE}"))?,
            node.span,
        ),
    };
    let validators_location = format!("{location}.x-amazon-apigateway-request-validators");
    let validator = definition
        .get("x-amazon-apigateway-request-validators")
        .and_then(|validators| validators.get(&chosen.0));
    let Some(validator) = validator else {
        return Err(Problem::at(
            chosen.1,
            format!("{operation_location}.{CHOOSE}: '{}' is not in {validators_location}; declare it there with validateRequestBody and validateRequestParameters", chosen.0),
        ));
    };
    let flag = |key: &str| validator.get(key).is_some_and(is_true);
    let validate_body = flag("validateRequestBody");
    let validate_parameters = flag("validateRequestParameters");

    let mut validation = RequestValidation {
        body_model: None,
        required_query: Vec::new(),
        required_headers: Vec::new(),
    };
    let parameters = [path_item.get("parameters"), operation.get("parameters")];
    for (list_idx, list) in parameters.into_iter().enumerate() {
        let Some(list) = list else { continue };
        let list_location = if list_idx == 0 {
            format!("{operation_location}/../parameters")
        } else {
            format!("{operation_location}.parameters")
        };
        let Some(items) = list.as_sequence() else {
            return Err(Problem::at(
                list.span,
                format!("{list_location}: expected a list of parameters"),
            ));
        };
        for item in items {
            let field = |key: &str| item.get(key).and_then(Node::as_scalar);
            match field("in") {
                Some("body") if validate_body => {
                    if let Some(schema) = item.get("schema") {
                        validation.body_model = Some(body_schema(
                            definition,
                            schema,
                            &format!("{list_location}.schema"),
                        )?);
                    }
                }
                Some(place @ ("query" | "header"))
                    if validate_parameters && item.get("required").is_some_and(is_true) =>
                {
                    let Some(name) = field("name") else { continue };
                    let names = if place == "query" {
                        &mut validation.required_query
                    } else {
                        &mut validation.required_headers
                    };
                    names.push(name.to_owned());
                }
                _ => {}
            }
        }
    }
    if validate_body {
        let schema = operation
            .get("requestBody")
            .and_then(|body| body.get("content"))
            .and_then(|content| {
                content
                    .get("application/json")
                    .or_else(|| content.as_mapping()?.first().map(|entry| &entry.value))
            })
            .and_then(|media| media.get("schema"));
        if let Some(schema) = schema {
            validation.body_model = Some(body_schema(
                definition,
                schema,
                &format!("{operation_location}.requestBody"),
            )?);
        }
    }
    Ok(Some(validation))
}

/// A body schema with its name: a `$ref` to `#/definitions/X` or `#/components/schemas/X`
/// (named `X`), or an inline schema; the definition's schemas travel with it so that
/// references inside resolve.
fn body_schema(
    definition: &Node,
    schema: &Node,
    location: &str,
) -> Result<(String, serde_json::Value), Problem> {
    let reference = schema.get("$ref").and_then(Node::as_scalar);
    let (name, mut json) = match reference {
        Some(reference) => {
            let target = reference
                .strip_prefix("#/definitions/")
                .map(|name| {
                    (
                        name,
                        definition.get("definitions").and_then(|all| all.get(name)),
                    )
                })
                .or_else(|| {
                    reference.strip_prefix("#/components/schemas/").map(|name| {
                        let schemas = definition
                            .get("components")
                            .and_then(|components| components.get("schemas"));
                        (name, schemas.and_then(|all| all.get(name)))
                    })
                });
            match target {
                Some((name, Some(node))) => (name.to_owned(), node.to_json()),
                _ => {
                    return Err(Problem::at(
                        schema.span,
                        format!("{location}: '{reference}' names no schema of the definition; use #/definitions/NAME or #/components/schemas/NAME"),
                    ))
                }
            }
        }
        None => ("inline".to_owned(), schema.to_json()),
    };
    if !json.is_object() {
        return Err(Problem::at(
            schema.span,
            format!("{location}: a JSON Schema is an object, such as {{\"type\": \"object\"}}"),
        ));
    }
    if let Some(object) = json.as_object_mut() {
        if let Some(definitions) = definition.get("definitions") {
            object
                .entry("definitions")
                .or_insert_with(|| definitions.to_json());
        }
        if let Some(components) = definition.get("components") {
            object
                .entry("components")
                .or_insert_with(|| components.to_json());
        }
    }
    if let Err(error) = jsonschema::draft4::new(&json) {
        return Err(Problem::at(
            schema.span,
            format!("{location}: not a valid JSON Schema (draft 4): {error}"),
        ));
    }
    Ok((name, json))
}
