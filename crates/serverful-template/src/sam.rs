//! SAM semantics: template sections, parameters, globals, implicit resources, and the
//! functions, APIs and outputs of the [`App`].
//!
//! Everything the template uses that Serverful does not run yet is recorded in
//! `App::unsupported` rather than skipped.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use crate::intrinsics::{derived_id, ParameterValue, Resolver, Resource, ResourceKind};
use crate::model::{
    Api, ApiKind, App, Function, FunctionCode, Network, Output, PayloadFormat, Route, Table,
};
use crate::node::{Entry, Node, NodeKind, Span};
use crate::{LoadOptions, Problem};

const SAM_TRANSFORM: &str = "AWS::Serverless-2016-10-31";
const FUNCTION: &str = "AWS::Serverless::Function";
const REST_API: &str = "AWS::Serverless::Api";
const HTTP_API: &str = "AWS::Serverless::HttpApi";
const IMPLICIT_REST_API: &str = "ServerlessRestApi";
const IMPLICIT_HTTP_API: &str = "ServerlessHttpApi";
const HTTP_METHODS: &[&str] = &[
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
];

/// Removes `.` and `..` without touching the disk, so paths read well in output.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut normalized = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                normalized.pop();
            }
            other => normalized.push(other),
        }
    }
    normalized
}

/// A resource as written, before conditions and globals.
struct RawResource<'t> {
    logical_id: String,
    key_span: Span,
    type_name: String,
    properties: Option<&'t Node>,
    metadata: Option<&'t Node>,
    condition: Option<(&'t str, Span)>,
}

#[derive(Default)]
struct Sections<'t> {
    description: Option<String>,
    parameters: Option<&'t Node>,
    mappings: Option<&'t Node>,
    conditions: Option<&'t Node>,
    resources: Option<&'t Node>,
    outputs: Option<&'t Node>,
    globals: Option<&'t Node>,
}

pub(crate) fn build(
    root: Option<&Node>,
    template_path: &Path,
    base_dir: &Path,
    options: &LoadOptions,
) -> Result<App, Problem> {
    let Some(root) = root else {
        return Err(Problem::nowhere(
            "the template is empty; it needs at least a Resources section",
        ));
    };
    let mut unsupported = Vec::new();
    let sections = sections(root, &mut unsupported)?;
    let parameters = parameters(sections.parameters, options, &mut unsupported)?;
    let conditions = match sections.conditions {
        None => BTreeMap::new(),
        Some(node) => mapping(node, "Conditions")?
            .iter()
            .map(|entry| (entry.key.clone(), &entry.value))
            .collect(),
    };
    if let Some(mappings) = sections.mappings {
        mapping(mappings, "Mappings")?;
    }
    let mut resolver = Resolver::new(options, parameters, sections.mappings, conditions);

    let Some(resources_node) = sections.resources else {
        return Err(Problem::nowhere(
            "the template has no Resources section; add one with at least one AWS::Serverless::Function",
        ));
    };
    let raw_resources = raw_resources(resources_node)?;
    let globals = Globals::read(sections.globals, &mut unsupported)?;

    // Conditions first: a resource whose condition is false does not exist at all.
    let mut created = Vec::new();
    for raw in raw_resources {
        if let Some((condition, span)) = raw.condition {
            let location = format!("Resources.{}.Condition", raw.logical_id);
            if !resolver.condition(condition, span, &location)? {
                resolver
                    .dropped_resources
                    .insert(raw.logical_id.clone(), condition.to_owned());
                continue;
            }
        }
        created.push(raw);
    }
    let (needs_rest, needs_http) = register_resources(&mut resolver, &created);

    // Globals apply before intrinsics, as in SAM's transform.
    let merged: Vec<Option<Node>> = created
        .iter()
        .map(|raw| {
            let global = match raw.type_name.as_str() {
                FUNCTION => globals.function,
                REST_API => globals.api,
                HTTP_API => globals.http_api,
                _ => None,
            };
            match (global, raw.properties) {
                (Some(global), Some(local)) => Some(merge(global, local)),
                (Some(global), None) => Some(global.clone()),
                (None, local) => local.cloned(),
            }
        })
        .collect();

    let mut apis = Vec::new();
    for (raw, properties) in created.iter().zip(&merged) {
        let kind = match raw.type_name.as_str() {
            REST_API => ApiKind::Rest,
            HTTP_API => ApiKind::Http,
            _ => continue,
        };
        apis.push(api(
            &resolver,
            &raw.logical_id,
            raw.key_span,
            kind,
            properties.as_ref(),
            options,
            &mut unsupported,
        )?);
    }
    let implicit_apis = [
        (needs_rest, IMPLICIT_REST_API, ApiKind::Rest, globals.api),
        (
            needs_http,
            IMPLICIT_HTTP_API,
            ApiKind::Http,
            globals.http_api,
        ),
    ];
    for (needed, logical_id, kind, global_properties) in implicit_apis {
        // A template may declare the implicit API itself; SAM then uses that one.
        if needed && !apis.iter().any(|api| api.logical_id == logical_id) {
            let mut api = api(
                &resolver,
                logical_id,
                Span::default(),
                kind,
                global_properties,
                options,
                &mut unsupported,
            )?;
            if kind == ApiKind::Rest {
                api.stage_name = "Prod".to_owned();
            }
            apis.push(api);
        }
    }
    for api in &apis {
        register_stage(&mut resolver, api);
    }

    let mut functions = Vec::new();
    let mut tables = Vec::new();
    let mut routes: Vec<(String, Route)> = Vec::new();
    for (raw, properties) in created.iter().zip(&merged) {
        match raw.type_name.as_str() {
            FUNCTION => {
                let function = function(
                    &resolver,
                    raw,
                    properties.as_ref(),
                    base_dir,
                    &mut unsupported,
                )?;
                functions.push(function);
                // Events are not a globals property: they are read as written, which is
                // also what decided above whether the implicit APIs exist.
                routes.extend(events(&resolver, raw, &mut unsupported)?);
            }
            REST_API | HTTP_API => {}
            DYNAMODB_TABLE | SIMPLE_TABLE => tables.push(table(&resolver, raw, &mut unsupported)?),
            "AWS::Lambda::Permission" => {}
            other => unsupported.push(format!("{} ({other})", raw.logical_id)),
        }
    }

    for (api_logical_id, route) in routes {
        let api = apis
            .iter_mut()
            .find(|api| api.logical_id == api_logical_id)
            .expect("every route's API was found when its event was read, or made implicit");
        api.routes.push(route);
    }

    let outputs = outputs(&resolver, sections.outputs, &mut unsupported)?;
    Ok(App {
        template_path: template_path.to_owned(),
        base_dir: base_dir.to_owned(),
        description: sections.description,
        functions,
        apis,
        outputs,
        tables,
        unsupported,
    })
}

const DYNAMODB_TABLE: &str = "AWS::DynamoDB::Table";
const SIMPLE_TABLE: &str = "AWS::Serverless::SimpleTable";

/// `AWS::DynamoDB::Table` properties that carry straight over to `CreateTable`.
const TABLE_PROPERTIES_KEPT: &[&str] = &[
    "KeySchema",
    "AttributeDefinitions",
    "BillingMode",
    "ProvisionedThroughput",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "Tags",
];

/// Table properties that mean nothing on one machine (encryption, backups, storage class,
/// ...): accepted without a warning.
const TABLE_PROPERTIES_IGNORED: &[&str] = &[
    "SSESpecification",
    "PointInTimeRecoverySpecification",
    "TableClass",
    "DeletionProtectionEnabled",
    "ContributorInsightsSpecification",
    "OnDemandThroughput",
    "WarmThroughput",
    "ResourcePolicy",
];

/// A table resource as a `CreateTable` request; SAM's `SimpleTable` expands as SAM's
/// transform expands it (a single hash key, `id` of type String unless `PrimaryKey` says).
fn table(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    unsupported: &mut Vec<String>,
) -> Result<Table, Problem> {
    use serde_json::{json, Map, Value};
    let logical_id = &raw.logical_id;
    let location = format!("Resources.{logical_id}.Properties");
    let properties = match raw.properties {
        Some(node) => resolver
            .resolve(node, &location)?
            .map_or(Value::Null, |node| node.to_json()),
        None => Value::Null,
    };
    let properties = match properties {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        _ => {
            return Err(Problem::at(
                raw.properties.map(|node| node.span).unwrap_or_default(),
                format!("{location}: expected a mapping"),
            ))
        }
    };
    let table_name = resolver.physical_name(logical_id, "TableName")?;
    let mut request = Map::new();
    request.insert("TableName".to_owned(), json!(table_name));
    let mut time_to_live_attribute = None;

    if raw.type_name == SIMPLE_TABLE {
        let primary_key = properties.get("PrimaryKey");
        let key_name = primary_key
            .and_then(|key| key.get("Name"))
            .and_then(Value::as_str)
            .unwrap_or("id");
        let key_type = match primary_key.and_then(|key| key.get("Type")).and_then(Value::as_str) {
            None | Some("String") => "S",
            Some("Number") => "N",
            Some("Binary") => "B",
            Some(other) => {
                return Err(Problem::at(
                    raw.properties.map(|node| node.span).unwrap_or_default(),
                    format!("{location}.PrimaryKey.Type: `{other}` is not a key type; use String, Number or Binary"),
                ))
            }
        };
        request.insert(
            "KeySchema".to_owned(),
            json!([{"AttributeName": key_name, "KeyType": "HASH"}]),
        );
        request.insert(
            "AttributeDefinitions".to_owned(),
            json!([{"AttributeName": key_name, "AttributeType": key_type}]),
        );
        match properties.get("ProvisionedThroughput") {
            Some(throughput) => {
                request.insert("BillingMode".to_owned(), json!("PROVISIONED"));
                request.insert("ProvisionedThroughput".to_owned(), throughput.clone());
            }
            None => {
                request.insert("BillingMode".to_owned(), json!("PAY_PER_REQUEST"));
            }
        }
        if let Some(Value::Object(tags)) = properties.get("Tags") {
            let tags: Vec<Value> = tags
                .iter()
                .map(|(key, value)| json!({"Key": key, "Value": value}))
                .collect();
            request.insert("Tags".to_owned(), Value::Array(tags));
        }
        for key in properties.keys() {
            if !matches!(
                key.as_str(),
                "PrimaryKey" | "TableName" | "ProvisionedThroughput" | "Tags" | "SSESpecification"
            ) {
                unsupported.push(format!("{logical_id}.{key}"));
            }
        }
    } else {
        for (key, value) in &properties {
            match key.as_str() {
                "TableName" => {}
                key if TABLE_PROPERTIES_KEPT.contains(&key) => {
                    request.insert(key.to_owned(), value.clone());
                }
                "StreamSpecification" => {
                    // CloudFormation names only the view type; the API also wants the switch.
                    let mut stream = value.as_object().cloned().unwrap_or_default();
                    stream.insert("StreamEnabled".to_owned(), json!(true));
                    request.insert("StreamSpecification".to_owned(), Value::Object(stream));
                }
                "TimeToLiveSpecification" => {
                    let enabled = value
                        .get("Enabled")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    if enabled {
                        time_to_live_attribute = value
                            .get("AttributeName")
                            .and_then(Value::as_str)
                            .map(str::to_owned);
                    }
                }
                key if TABLE_PROPERTIES_IGNORED.contains(&key) => {}
                other => unsupported.push(format!("{logical_id}.{other}")),
            }
        }
        if !request.contains_key("BillingMode") && !request.contains_key("ProvisionedThroughput") {
            // CloudFormation requires one of them; a local table needs neither.
            request.insert("BillingMode".to_owned(), json!("PAY_PER_REQUEST"));
        }
    }
    Ok(Table {
        logical_id: logical_id.clone(),
        table_name,
        create_table: Value::Object(request),
        time_to_live_attribute,
    })
}

fn mapping<'n>(node: &'n Node, location: &str) -> Result<&'n [Entry], Problem> {
    if node.is_null() {
        return Ok(&[]);
    }
    node.as_mapping().ok_or_else(|| {
        Problem::at(
            node.span,
            format!("{location}: expected a mapping, found {}", node.describe()),
        )
    })
}

fn sections<'t>(root: &'t Node, unsupported: &mut Vec<String>) -> Result<Sections<'t>, Problem> {
    let Some(entries) = root.as_mapping() else {
        return Err(Problem::at(
            root.span,
            format!(
                "the template must be a mapping of sections (Resources, Parameters, ...), found {}",
                root.describe()
            ),
        ));
    };
    let mut sections = Sections::default();
    for entry in entries {
        let value = &entry.value;
        match entry.key.as_str() {
            "AWSTemplateFormatVersion" | "Metadata" => {}
            "Description" => match value.as_scalar() {
                Some(text) => sections.description = Some(text.to_owned()),
                None => {
                    return Err(Problem::at(
                        value.span,
                        format!("Description: expected a string, found {}", value.describe()),
                    ))
                }
            },
            "Transform" => {
                let names: Vec<&Node> = match &value.kind {
                    NodeKind::Sequence(items) if value.tag.is_none() => items.iter().collect(),
                    _ => vec![value],
                };
                for name in names {
                    match name.as_scalar() {
                        Some(SAM_TRANSFORM) => {}
                        Some(other) => unsupported.push(format!("Transform {other}")),
                        None => unsupported.push(format!("Transform {}", name.describe())),
                    }
                }
            }
            "Parameters" => sections.parameters = Some(value),
            "Mappings" => sections.mappings = Some(value),
            "Conditions" => sections.conditions = Some(value),
            "Resources" => sections.resources = Some(value),
            "Outputs" => sections.outputs = Some(value),
            "Globals" => sections.globals = Some(value),
            other => unsupported.push(format!("{other} (template section)")),
        }
    }
    Ok(sections)
}

fn parameters(
    node: Option<&Node>,
    options: &LoadOptions,
    unsupported: &mut Vec<String>,
) -> Result<BTreeMap<String, ParameterValue>, Problem> {
    let entries = match node {
        Some(node) => mapping(node, "Parameters")?,
        None => &[],
    };
    for name in options.parameter_overrides.keys() {
        if !entries.iter().any(|entry| &entry.key == name) {
            let known: Vec<&str> = entries.iter().map(|entry| entry.key.as_str()).collect();
            let hint = if known.is_empty() {
                "the template has no Parameters".to_owned()
            } else {
                format!("its parameters are {}", known.join(", "))
            };
            return Err(Problem::nowhere(format!(
                "--parameter-overrides sets '{name}', which is not a parameter of this template; {hint}"
            )));
        }
    }
    let mut values = BTreeMap::new();
    for entry in entries {
        let name = &entry.key;
        let location = format!("Parameters.{name}");
        let definition = &entry.value;
        if definition.as_mapping().is_none() {
            return Err(Problem::at(
                definition.span,
                format!(
                    "{location}: expected a mapping with Type and Default, found {}",
                    definition.describe()
                ),
            ));
        }
        let Some(type_name) = definition.get("Type").and_then(Node::as_scalar) else {
            return Err(Problem::at(
                entry.key_span,
                format!("{location}.Type: missing or not a string; use String, Number, CommaDelimitedList or List<Number>"),
            ));
        };
        let (raw, span, source) = match (options.parameter_overrides.get(name), definition.get("Default")) {
            (Some(value), _) => (value.clone(), entry.key_span, " (from --parameter-overrides)"),
            (None, Some(default)) => (literal_text(default, &format!("{location}.Default"))?, default.span, ""),
            (None, None) => {
                return Err(Problem::at(
                    entry.key_span,
                    format!("{location}: parameter '{name}' has no Default and no value was given; pass --parameter-overrides {name}=Value"),
                ))
            }
        };
        let allowed: Option<Vec<String>> = match definition.get("AllowedValues") {
            None => None,
            Some(node) => match &node.kind {
                NodeKind::Sequence(items) if node.tag.is_none() => Some(
                    items
                        .iter()
                        .map(|item| literal_text(item, &format!("{location}.AllowedValues")))
                        .collect::<Result<_, _>>()?,
                ),
                _ => {
                    return Err(Problem::at(
                        node.span,
                        format!(
                            "{location}.AllowedValues: expected a list, found {}",
                            node.describe()
                        ),
                    ))
                }
            },
        };
        let check_number = |value: &str| -> Result<(), Problem> {
            match value.trim().parse::<f64>() {
                Ok(_) => Ok(()),
                Err(_) => Err(Problem::at(
                    span,
                    format!("{location}: '{value}'{source} is not a number, which a {type_name} parameter needs"),
                )),
            }
        };
        let split = |text: &str| -> Vec<String> {
            text.split(',').map(|item| item.trim().to_owned()).collect()
        };
        let value = match type_name {
            "String" => ParameterValue::String(raw),
            "Number" => {
                check_number(&raw)?;
                ParameterValue::Number(raw.trim().to_owned())
            }
            "CommaDelimitedList" => ParameterValue::List(split(&raw)),
            "List<Number>" => {
                let items = split(&raw);
                for item in &items {
                    check_number(item)?;
                }
                ParameterValue::List(items)
            }
            // AWS-specific types (SSM parameters, EC2 ids) are plain values locally.
            other if other.starts_with("AWS::") || other.starts_with("List<AWS::") => {
                unsupported.push(format!("Parameters.{name} (Type {other})"));
                if other.starts_with("List<") {
                    ParameterValue::List(split(&raw))
                } else {
                    ParameterValue::String(raw)
                }
            }
            other => {
                return Err(Problem::at(
                    definition.get("Type").map_or(entry.key_span, |node| node.span),
                    format!("{location}.Type: unknown parameter type '{other}'; use String, Number, CommaDelimitedList or List<Number>"),
                ))
            }
        };
        if let Some(allowed) = &allowed {
            let given: Vec<&str> = match &value {
                ParameterValue::String(text) | ParameterValue::Number(text) => vec![text.as_str()],
                ParameterValue::List(items) => items.iter().map(String::as_str).collect(),
            };
            for item in given {
                if !allowed.iter().any(|allowed| allowed == item) {
                    return Err(Problem::at(
                        span,
                        format!(
                            "{location}: '{item}'{source} is not one of the AllowedValues: {}",
                            allowed.join(", ")
                        ),
                    ));
                }
            }
        }
        check_parameter_bounds(definition, &value, span, &location, source)?;
        values.insert(name.clone(), value);
    }
    Ok(values)
}

/// `MinLength`/`MaxLength` for strings and `MinValue`/`MaxValue` for numbers, as CloudFormation
/// checks them; `ConstraintDescription`, when given, is shown as CloudFormation shows it.
fn check_parameter_bounds(
    definition: &Node,
    value: &ParameterValue,
    span: Span,
    location: &str,
    source: &str,
) -> Result<(), Problem> {
    let bound = |key: &str| -> Result<Option<f64>, Problem> {
        let Some(node) = definition.get(key) else {
            return Ok(None);
        };
        let text = literal_text(node, &format!("{location}.{key}"))?;
        text.trim().parse::<f64>().map(Some).map_err(|_| {
            Problem::at(
                node.span,
                format!("{location}.{key}: expected a number, found '{text}'"),
            )
        })
    };
    let hint = definition
        .get("ConstraintDescription")
        .and_then(Node::as_scalar)
        .map(|description| format!(" ({description})"))
        .unwrap_or_default();
    let items: Vec<&str> = match value {
        ParameterValue::String(text) | ParameterValue::Number(text) => vec![text.as_str()],
        ParameterValue::List(items) => items.iter().map(String::as_str).collect(),
    };
    let is_number = !matches!(value, ParameterValue::String(_));
    let checks: [(&str, bool); 2] = if is_number {
        [("MinValue", true), ("MaxValue", false)]
    } else {
        [("MinLength", true), ("MaxLength", false)]
    };
    for (key, is_minimum) in checks {
        let Some(limit) = bound(key)? else {
            continue;
        };
        for item in &items {
            let measured = if is_number {
                // Numbers were checked when the parameter was read; a list of strings
                // (CommaDelimitedList) has no numeric bounds to break.
                item.trim().parse::<f64>().unwrap_or(limit)
            } else {
                item.chars().count() as f64
            };
            let broken = if is_minimum {
                measured < limit
            } else {
                measured > limit
            };
            if broken {
                return Err(Problem::at(
                    span,
                    format!("{location}: '{item}'{source} breaks {key} {limit}{hint}"),
                ));
            }
        }
    }
    Ok(())
}

/// A parameter `Default` or allowed value: a literal, where a list means a comma-joined string.
fn literal_text(node: &Node, location: &str) -> Result<String, Problem> {
    if let Some(text) = node.as_scalar() {
        return Ok(text.to_owned());
    }
    if let (NodeKind::Sequence(items), None) = (&node.kind, &node.tag) {
        let texts: Option<Vec<&str>> = items.iter().map(Node::as_scalar).collect();
        if let Some(texts) = texts {
            return Ok(texts.join(","));
        }
    }
    Err(Problem::at(
        node.span,
        format!(
            "{location}: expected a literal value, found {}",
            node.describe()
        ),
    ))
}

fn raw_resources(node: &Node) -> Result<Vec<RawResource<'_>>, Problem> {
    let mut resources = Vec::new();
    for entry in mapping(node, "Resources")? {
        let logical_id = &entry.key;
        let location = format!("Resources.{logical_id}");
        let definition = &entry.value;
        if definition.as_mapping().is_none() {
            return Err(Problem::at(
                definition.span,
                format!(
                    "{location}: expected a mapping with Type and Properties, found {}",
                    definition.describe()
                ),
            ));
        }
        let type_name = match definition.get("Type") {
            Some(node) => match node.as_scalar() {
                Some(text) => text.to_owned(),
                None => {
                    return Err(Problem::at(
                        node.span,
                        format!(
                            "{location}.Type: expected a string, found {}",
                            node.describe()
                        ),
                    ))
                }
            },
            None => {
                return Err(Problem::at(
                    entry.key_span,
                    format!(
                        "{location}.Type: missing; every resource needs a Type such as {FUNCTION}"
                    ),
                ))
            }
        };
        let properties = match definition.get("Properties") {
            Some(node) if node.is_null() => None,
            Some(node) => {
                mapping(node, &format!("{location}.Properties"))?;
                Some(node)
            }
            None => None,
        };
        let condition = match definition.get("Condition") {
            Some(node) => match node.as_scalar() {
                Some(name) => Some((name, node.span)),
                None => {
                    return Err(Problem::at(
                        node.span,
                        format!(
                            "{location}.Condition: expected a condition name, found {}",
                            node.describe()
                        ),
                    ))
                }
            },
            None => None,
        };
        resources.push(RawResource {
            logical_id: logical_id.clone(),
            key_span: entry.key_span,
            type_name,
            properties,
            metadata: definition.get("Metadata"),
            condition,
        });
    }
    Ok(resources)
}

#[derive(Default)]
struct Globals<'t> {
    function: Option<&'t Node>,
    api: Option<&'t Node>,
    http_api: Option<&'t Node>,
}

impl<'t> Globals<'t> {
    fn read(node: Option<&'t Node>, unsupported: &mut Vec<String>) -> Result<Globals<'t>, Problem> {
        let mut globals = Globals::default();
        let Some(node) = node else {
            return Ok(globals);
        };
        for entry in mapping(node, "Globals")? {
            let location = format!("Globals.{}", entry.key);
            let value = if entry.value.is_null() {
                None
            } else {
                mapping(&entry.value, &location)?;
                Some(&entry.value)
            };
            match entry.key.as_str() {
                "Function" => globals.function = value,
                "Api" => globals.api = value,
                "HttpApi" => globals.http_api = value,
                _ => unsupported.push(location),
            }
        }
        Ok(globals)
    }
}

fn is_intrinsic(node: &Node) -> bool {
    node.tag.is_some()
        || matches!(node.as_mapping(), Some([entry]) if entry.key == "Ref" || entry.key.starts_with("Fn::"))
}

/// SAM's globals rule: mappings merge key by key (the resource wins), lists join (the
/// resource's items first), anything else is the resource's.
fn merge(global: &Node, local: &Node) -> Node {
    if is_intrinsic(global) || is_intrinsic(local) {
        return local.clone();
    }
    match (&global.kind, &local.kind) {
        (NodeKind::Mapping(global_entries), NodeKind::Mapping(local_entries)) => {
            let mut entries = global_entries.clone();
            for local_entry in local_entries {
                match entries
                    .iter_mut()
                    .find(|entry| entry.key == local_entry.key)
                {
                    Some(entry) => {
                        entry.value = merge(&entry.value, &local_entry.value);
                        entry.key_span = local_entry.key_span;
                    }
                    None => entries.push(local_entry.clone()),
                }
            }
            Node {
                kind: NodeKind::Mapping(entries),
                tag: None,
                span: local.span,
            }
        }
        (NodeKind::Sequence(global_items), NodeKind::Sequence(local_items)) => Node::sequence(
            local_items.iter().chain(global_items).cloned().collect(),
            local.span,
        ),
        _ => local.clone(),
    }
}

fn resource_kind(type_name: &str) -> ResourceKind {
    match type_name {
        FUNCTION | "AWS::Lambda::Function" => ResourceKind::Function,
        REST_API | "AWS::ApiGateway::RestApi" => ResourceKind::RestApi,
        HTTP_API | "AWS::ApiGatewayV2::Api" => ResourceKind::HttpApi,
        "AWS::IAM::Role" => ResourceKind::Role,
        DYNAMODB_TABLE | SIMPLE_TABLE => ResourceKind::Table,
        "AWS::SQS::Queue" => ResourceKind::Queue,
        "AWS::SNS::Topic" => ResourceKind::Topic,
        _ => ResourceKind::Other,
    }
}

/// Makes every created resource, and the ones SAM would generate, a `Ref`/`GetAtt` target.
/// Returns whether the implicit REST and HTTP APIs are needed.
fn register_resources<'t>(
    resolver: &mut Resolver<'t>,
    created: &[RawResource<'t>],
) -> (bool, bool) {
    let mut implicit = Vec::new();
    let mut needs_rest = false;
    let mut needs_http = false;
    for raw in created {
        resolver.resources.insert(
            raw.logical_id.clone(),
            Resource {
                type_name: raw.type_name.clone(),
                properties: raw.properties,
                kind: resource_kind(&raw.type_name),
            },
        );
        if raw.type_name != FUNCTION {
            continue;
        }
        if raw
            .properties
            .and_then(|properties| properties.get("Role"))
            .is_none()
        {
            implicit.push((
                format!("{}Role", raw.logical_id),
                "AWS::IAM::Role",
                ResourceKind::Role,
            ));
        }
        let events = raw
            .properties
            .and_then(|properties| properties.get("Events"))
            .and_then(Node::as_mapping)
            .unwrap_or_default();
        for event in events {
            let properties = event.value.get("Properties");
            let has = |key: &str| {
                properties
                    .and_then(|properties| properties.get(key))
                    .is_some()
            };
            match event.value.get("Type").and_then(Node::as_scalar) {
                Some("Api") if !has("RestApiId") => needs_rest = true,
                Some("HttpApi") if !has("ApiId") => needs_http = true,
                _ => {}
            }
        }
    }
    if needs_rest {
        implicit.push((
            IMPLICIT_REST_API.to_owned(),
            "AWS::ApiGateway::RestApi",
            ResourceKind::RestApi,
        ));
    }
    if needs_http {
        implicit.push((
            IMPLICIT_HTTP_API.to_owned(),
            "AWS::ApiGatewayV2::Api",
            ResourceKind::HttpApi,
        ));
    }
    for (logical_id, type_name, kind) in implicit {
        // A resource the template declares itself wins over a generated one of the same name.
        resolver.resources.entry(logical_id).or_insert(Resource {
            type_name: type_name.to_owned(),
            properties: None,
            kind,
        });
    }
    (needs_rest, needs_http)
}

/// The stage and deployment SAM generates for an explicit API, named as SAM names them.
fn register_stage(resolver: &mut Resolver<'_>, api: &Api) {
    let (stage_id, stage_type) = match api.kind {
        ApiKind::Http if api.stage_name == "$default" => (
            format!("{}ApiGatewayDefaultStage", api.logical_id),
            "AWS::ApiGatewayV2::Stage",
        ),
        ApiKind::Http => (
            format!("{}{}Stage", api.logical_id, alphanumeric(&api.stage_name)),
            "AWS::ApiGatewayV2::Stage",
        ),
        ApiKind::Rest => (
            format!("{}{}Stage", api.logical_id, alphanumeric(&api.stage_name)),
            "AWS::ApiGateway::Stage",
        ),
    };
    let mut generated = vec![(
        stage_id,
        stage_type,
        ResourceKind::Stage {
            stage_name: api.stage_name.clone(),
        },
    )];
    if api.kind == ApiKind::Rest {
        generated.push((
            format!("{}Deployment", api.logical_id),
            "AWS::ApiGateway::Deployment",
            ResourceKind::Deployment,
        ));
    }
    for (logical_id, type_name, kind) in generated {
        resolver.resources.entry(logical_id).or_insert(Resource {
            type_name: type_name.to_owned(),
            properties: None,
            kind,
        });
    }
}

fn alphanumeric(text: &str) -> String {
    text.chars().filter(char::is_ascii_alphanumeric).collect()
}

/// Which properties of a resource type Serverful reads.
struct PropertyRules<'a> {
    /// Read and resolved.
    supported: &'a [&'a str],
    /// Accepted without a warning: they change nothing locally, or are read elsewhere.
    ignored: &'a [&'a str],
}

const FUNCTION_PROPERTIES: PropertyRules<'static> = PropertyRules {
    supported: &[
        "Runtime",
        "Handler",
        "CodeUri",
        "InlineCode",
        "Timeout",
        "MemorySize",
        "ReservedConcurrentExecutions",
        "Architectures",
        "Environment",
        "PackageType",
        "EphemeralStorage",
    ],
    // `Events` hold references (RestApiId) read as written; `FunctionName` is read by `Ref`.
    ignored: &["Events", "FunctionName", "Description", "Tags"],
};

const REST_API_PROPERTIES: PropertyRules<'static> = PropertyRules {
    supported: &["StageName", "Variables", "BinaryMediaTypes"],
    ignored: &["Name", "Description", "Tags"],
};

const HTTP_API_PROPERTIES: PropertyRules<'static> = PropertyRules {
    supported: &["StageName", "StageVariables"],
    ignored: &["Name", "Description", "Tags"],
};

/// Resolves the supported properties, skipping those `AWS::NoValue` removed, and lists the
/// unsupported ones as `LogicalId.Property`. Unsupported properties are not resolved, so an
/// intrinsic Serverful cannot evaluate there (`Fn::Transform` in a `DefinitionBody`) does not
/// stop the template from loading.
fn resolved_properties(
    resolver: &Resolver<'_>,
    logical_id: &str,
    properties: Option<&Node>,
    rules: &PropertyRules<'_>,
    unsupported: &mut Vec<String>,
) -> Result<Vec<(String, Node)>, Problem> {
    let Some(properties) = properties else {
        return Ok(Vec::new());
    };
    let location = format!("Resources.{logical_id}.Properties");
    let mut resolved = Vec::new();
    for entry in mapping(properties, &location)? {
        let key = entry.key.as_str();
        if rules.ignored.contains(&key) {
            continue;
        }
        if !rules.supported.contains(&key) {
            unsupported.push(format!("{logical_id}.{key}"));
            continue;
        }
        let property_location = format!("{location}.{key}");
        if let Some(value) = resolver.resolve(&entry.value, &property_location)? {
            if !value.is_null() {
                resolved.push((entry.key.clone(), value));
            }
        }
    }
    Ok(resolved)
}

fn expect_string(node: &Node, location: &str) -> Result<String, Problem> {
    node.as_scalar().map(str::to_owned).ok_or_else(|| {
        Problem::at(
            node.span,
            format!("{location}: expected a string, found {}", node.describe()),
        )
    })
}

fn expect_number(
    node: &Node,
    location: &str,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, Problem> {
    let Some(text) = node.as_scalar() else {
        return Err(Problem::at(
            node.span,
            format!(
                "{location}: expected a whole number, found {}",
                node.describe()
            ),
        ));
    };
    match text.trim().parse::<u32>() {
        Ok(number) if range.contains(&number) => Ok(number),
        Ok(number) => Err(Problem::at(
            node.span,
            format!(
                "{location}: {number} is out of range; use a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        )),
        Err(_) => Err(Problem::at(
            node.span,
            format!("{location}: expected a whole number, found '{text}'"),
        )),
    }
}

fn expect_strings(node: &Node, location: &str) -> Result<Vec<String>, Problem> {
    match &node.kind {
        NodeKind::Sequence(items) => items
            .iter()
            .enumerate()
            .map(|(item_idx, item)| expect_string(item, &format!("{location}[{item_idx}]")))
            .collect(),
        _ => Err(Problem::at(
            node.span,
            format!(
                "{location}: expected a list of strings, found {}",
                node.describe()
            ),
        )),
    }
}

fn expect_string_map(node: &Node, location: &str) -> Result<BTreeMap<String, String>, Problem> {
    mapping(node, location)?
        .iter()
        .map(|entry| {
            let value = if entry.value.is_null() {
                String::new()
            } else {
                expect_string(&entry.value, &format!("{location}.{}", entry.key))?
            };
            Ok((entry.key.clone(), value))
        })
        .collect()
}

fn function(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    properties: Option<&Node>,
    base_dir: &Path,
    unsupported: &mut Vec<String>,
) -> Result<Function, Problem> {
    let logical_id = &raw.logical_id;
    let location = format!("Resources.{logical_id}.Properties");
    let mut runtime = None;
    let mut handler = None;
    let mut code_uri = None;
    let mut inline_code = None;
    let mut timeout_secs = 3;
    let mut memory_mb = 128;
    let mut environment = BTreeMap::new();
    let mut reserved_concurrency = None;
    let mut architectures = vec!["x86_64".to_owned()];
    let mut ephemeral_storage_mb = 512;
    let properties = resolved_properties(
        resolver,
        logical_id,
        properties,
        &FUNCTION_PROPERTIES,
        unsupported,
    )?;
    for (key, value) in properties {
        let property_location = format!("{location}.{key}");
        match key.as_str() {
            "Runtime" => runtime = Some(expect_string(&value, &property_location)?),
            "Handler" => handler = Some(expect_string(&value, &property_location)?),
            "CodeUri" => {
                let uri = match value.as_scalar() {
                    Some(uri) if !uri.starts_with("s3://") => uri.to_owned(),
                    Some(_) => return Err(code_in_s3(&value, &property_location)),
                    None if value.get("Bucket").is_some() => {
                        return Err(code_in_s3(&value, &property_location))
                    }
                    None => {
                        return Err(Problem::at(
                            value.span,
                            format!(
                                "{property_location}: expected a folder path, found {}",
                                value.describe()
                            ),
                        ))
                    }
                };
                code_uri = Some((uri, value.span));
            }
            "InlineCode" => {
                inline_code = Some((expect_string(&value, &property_location)?, value.span))
            }
            "Timeout" => timeout_secs = expect_number(&value, &property_location, 1..=900)?,
            "MemorySize" => memory_mb = expect_number(&value, &property_location, 128..=10240)?,
            "ReservedConcurrentExecutions" => {
                reserved_concurrency =
                    Some(expect_number(&value, &property_location, 0..=u32::MAX)?);
            }
            "Architectures" => {
                let given = expect_strings(&value, &property_location)?;
                let known = given
                    .iter()
                    .all(|architecture| matches!(architecture.as_str(), "x86_64" | "arm64"));
                // Lambda takes exactly one. Globals join lists with the function's items
                // first, so with both set the function's own choice is the first.
                let Some(first) = given.first().filter(|_| known) else {
                    return Err(Problem::at(
                        value.span,
                        format!(
                            "{property_location}: expected [x86_64] or [arm64], found [{}]",
                            given.join(", ")
                        ),
                    ));
                };
                architectures = vec![first.clone()];
            }
            "Environment" => {
                for entry in mapping(&value, &property_location)? {
                    if entry.key == "Variables" {
                        environment = expect_string_map(
                            &entry.value,
                            &format!("{property_location}.Variables"),
                        )?;
                    } else {
                        unsupported.push(format!("{logical_id}.Environment.{}", entry.key));
                    }
                }
            }
            "EphemeralStorage" => {
                for entry in mapping(&value, &property_location)? {
                    if entry.key == "Size" {
                        ephemeral_storage_mb = expect_number(
                            &entry.value,
                            &format!("{property_location}.Size"),
                            512..=10240,
                        )?;
                    } else {
                        unsupported.push(format!("{logical_id}.EphemeralStorage.{}", entry.key));
                    }
                }
            }
            "PackageType" => {
                let package_type = expect_string(&value, &property_location)?;
                if package_type != "Zip" {
                    return Err(Problem::at(
                        value.span,
                        format!("{property_location}: {package_type} functions are not supported; use PackageType: Zip with a CodeUri folder"),
                    ));
                }
            }
            // `resolved_properties` returns supported properties only.
            _ => {}
        }
    }
    let Some(runtime) = runtime else {
        return Err(Problem::at(
            raw.key_span,
            format!("{location}.Runtime: missing; set Runtime (such as python3.12) on the function or under Globals.Function"),
        ));
    };
    let handler = match handler {
        Some(handler) => handler,
        // Custom runtimes run `bootstrap` and may leave the handler out.
        None if runtime.starts_with("provided") => String::new(),
        None => {
            return Err(Problem::at(
                raw.key_span,
                format!("{location}.Handler: missing; a {runtime} function needs a Handler such as app.handler"),
            ))
        }
    };
    let code = match (code_uri, inline_code) {
        (Some(_), Some((_, span))) => {
            return Err(Problem::at(
                span,
                format!(
                    "{location}.InlineCode: a function has either CodeUri or InlineCode, not both"
                ),
            ))
        }
        (Some((uri, _)), None) => FunctionCode::Dir(normalize(&base_dir.join(uri))),
        (None, Some((code, _))) => FunctionCode::Inline(code),
        (None, None) => FunctionCode::Dir(base_dir.to_owned()),
    };
    let metadata_node = match raw.metadata {
        None => None,
        Some(node) => resolver.resolve(node, &format!("Resources.{logical_id}.Metadata"))?,
    };
    let network = match &metadata_node {
        Some(node) => function_network(
            node,
            &format!("Resources.{logical_id}.Metadata"),
            logical_id,
            unsupported,
        )?,
        None => None,
    };
    let metadata = metadata_node.map_or(serde_json::Value::Null, |node| node.to_json());
    Ok(Function {
        logical_id: logical_id.clone(),
        name: resolver.physical_name(logical_id, "FunctionName")?,
        runtime,
        handler,
        code,
        timeout_secs,
        memory_mb,
        environment,
        reserved_concurrency,
        architectures,
        ephemeral_storage_mb,
        network,
        metadata,
    })
}

/// `Metadata: {Serverful: {Network: none | egress}}`: what the function's instances may
/// reach. Other keys under `Serverful` are listed as not supported, so that a typo shows in
/// the start-up warning.
fn function_network(
    metadata: &Node,
    location: &str,
    logical_id: &str,
    unsupported: &mut Vec<String>,
) -> Result<Option<Network>, Problem> {
    let Some(serverful) = metadata.get("Serverful") else {
        return Ok(None);
    };
    let location = format!("{location}.Serverful");
    let mut network = None;
    for entry in mapping(serverful, &location)? {
        let entry_location = format!("{location}.{}", entry.key);
        match entry.key.as_str() {
            "Network" => {
                let value = expect_string(&entry.value, &entry_location)?;
                network = Some(match value.as_str() {
                    "none" => Network::None,
                    "egress" => Network::Egress,
                    other => {
                        return Err(Problem::at(
                            entry.value.span,
                            format!("{entry_location}: {other} is not a network; use none (only the platform's endpoints) or egress (outbound allowed)"),
                        ))
                    }
                });
            }
            other => unsupported.push(format!("{logical_id}.Metadata.Serverful.{other}")),
        }
    }
    Ok(network)
}

fn code_in_s3(value: &Node, location: &str) -> Problem {
    Problem::at(
        value.span,
        format!("{location}: code in S3 cannot run locally; point CodeUri at a local folder, such as CodeUri: hello_world/"),
    )
}

/// The logical id an event's `RestApiId`/`ApiId` refers to, read as written (`!Ref MyApi`).
fn api_reference(node: &Node, location: &str) -> Result<String, Problem> {
    let target = match (&node.kind, node.tag.as_deref()) {
        (NodeKind::Scalar { text, .. }, Some("!Ref")) => Some(text.clone()),
        (NodeKind::Mapping(entries), None) => match entries.as_slice() {
            [entry] if entry.key == "Ref" => entry.value.as_scalar().map(str::to_owned),
            _ => None,
        },
        _ => None,
    };
    target.ok_or_else(|| {
        Problem::at(
            node.span,
            format!(
                "{location}: expected !Ref of an API in this template, found {}",
                node.describe()
            ),
        )
    })
}

fn events(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    unsupported: &mut Vec<String>,
) -> Result<Vec<(String, Route)>, Problem> {
    let logical_id = &raw.logical_id;
    let Some(events_node) = raw
        .properties
        .and_then(|properties| properties.get("Events"))
    else {
        return Ok(Vec::new());
    };
    let location = format!("Resources.{logical_id}.Properties.Events");
    let mut routes = Vec::new();
    for event in mapping(events_node, &location)? {
        let event_name = &event.key;
        let event_location = format!("{location}.{event_name}");
        mapping(&event.value, &event_location)?;
        let Some(type_node) = event.value.get("Type") else {
            return Err(Problem::at(
                event.key_span,
                format!("{event_location}.Type: missing; use Api, HttpApi, Schedule, ..."),
            ));
        };
        // SAM reads event types before any intrinsic is resolved, so they are literals.
        let Some(event_type) = type_node.as_scalar() else {
            return Err(Problem::at(
                type_node.span,
                format!(
                    "{event_location}.Type: expected a literal event type such as Api, found {}",
                    type_node.describe()
                ),
            ));
        };
        let kind = match event_type {
            "Api" => ApiKind::Rest,
            "HttpApi" => ApiKind::Http,
            other => {
                unsupported.push(format!("{logical_id}.Events.{event_name} ({other})"));
                continue;
            }
        };
        let properties_location = format!("{event_location}.Properties");
        let empty = Node::plain("", event.key_span);
        let event_properties = event.value.get("Properties").unwrap_or(&empty);
        let mut path = None;
        let mut method = None;
        let mut api = None;
        let mut payload_format = match kind {
            ApiKind::Rest => PayloadFormat::V1,
            ApiKind::Http => PayloadFormat::V2,
        };
        for entry in mapping(event_properties, &properties_location)? {
            let property_location = format!("{properties_location}.{}", entry.key);
            match (kind, entry.key.as_str()) {
                (ApiKind::Rest, "RestApiId") | (ApiKind::Http, "ApiId") => {
                    api = Some((
                        api_reference(&entry.value, &property_location)?,
                        entry.value.span,
                    ));
                }
                (_, "Path" | "Method" | "PayloadFormatVersion") => {
                    let Some(value) = resolver.resolve(&entry.value, &property_location)? else {
                        continue;
                    };
                    let text = expect_string(&value, &property_location)?;
                    match entry.key.as_str() {
                        "Path" => path = Some((text, value.span)),
                        "Method" => method = Some((text, value.span)),
                        _ if kind == ApiKind::Rest => {
                            unsupported.push(format!("{logical_id}.Events.{event_name}.PayloadFormatVersion"));
                        }
                        _ => {
                            payload_format = match text.as_str() {
                                "1.0" => PayloadFormat::V1,
                                "2.0" => PayloadFormat::V2,
                                _ => {
                                    return Err(Problem::at(
                                        value.span,
                                        format!("{property_location}: expected \"1.0\" or \"2.0\", found '{text}'"),
                                    ))
                                }
                            }
                        }
                    }
                }
                (_, other) => unsupported.push(format!("{logical_id}.Events.{event_name}.{other}")),
            }
        }
        let (path, method) = match (path, method, kind) {
            (None, None, ApiKind::Http) => ("$default".to_owned(), "ANY".to_owned()),
            (Some((path, path_span)), Some((method, method_span)), _) => {
                let is_default_route = kind == ApiKind::Http && path == "$default";
                if !(path.starts_with('/') || is_default_route) {
                    return Err(Problem::at(
                        path_span,
                        format!("{properties_location}.Path: '{path}' must start with '/'"),
                    ));
                }
                let method = method.to_uppercase();
                if !HTTP_METHODS.contains(&method.as_str()) {
                    return Err(Problem::at(
                        method_span,
                        format!("{properties_location}.Method: unknown method '{method}'; use one of {} (any case)", HTTP_METHODS.join(", ")),
                    ));
                }
                (path, method)
            }
            (None, _, _) => {
                return Err(Problem::at(
                    event.key_span,
                    format!("{properties_location}.Path: missing; an {event_type} event needs Path and Method"),
                ))
            }
            (Some(_), None, _) => {
                return Err(Problem::at(
                    event.key_span,
                    format!("{properties_location}.Method: missing; an {event_type} event needs Path and Method"),
                ))
            }
        };
        let api_logical_id = match api {
            None => match kind {
                ApiKind::Rest => IMPLICIT_REST_API.to_owned(),
                ApiKind::Http => IMPLICIT_HTTP_API.to_owned(),
            },
            Some((target, span)) => {
                let (expected_type, key) = match kind {
                    ApiKind::Rest => (REST_API, "RestApiId"),
                    ApiKind::Http => (HTTP_API, "ApiId"),
                };
                let target_location = format!("{properties_location}.{key}");
                if let Some(condition) = resolver.dropped_resources.get(&target) {
                    return Err(Problem::at(
                        span,
                        format!("{target_location}: '{target}' is not created because its condition '{condition}' is false"),
                    ));
                }
                match resolver.resources.get(&target) {
                    Some(resource) if resource.type_name == expected_type => target,
                    Some(resource) => {
                        return Err(Problem::at(
                            span,
                            format!("{target_location}: '{target}' is of type {}, not {expected_type}", resource.type_name),
                        ))
                    }
                    None => {
                        return Err(Problem::at(
                            span,
                            format!("{target_location}: unknown resource '{target}'; declare it as an {expected_type}"),
                        ))
                    }
                }
            }
        };
        routes.push((
            api_logical_id,
            Route {
                method,
                path,
                function: logical_id.clone(),
                payload_format,
                event_name: event_name.clone(),
            },
        ));
    }
    Ok(routes)
}

fn api(
    resolver: &Resolver<'_>,
    logical_id: &str,
    key_span: Span,
    kind: ApiKind,
    properties: Option<&Node>,
    options: &LoadOptions,
    unsupported: &mut Vec<String>,
) -> Result<Api, Problem> {
    let location = format!("Resources.{logical_id}.Properties");
    let mut stage_name = None;
    let mut stage_variables = BTreeMap::new();
    let mut binary_media_types = Vec::new();
    let rules = match kind {
        ApiKind::Rest => &REST_API_PROPERTIES,
        ApiKind::Http => &HTTP_API_PROPERTIES,
    };
    for (key, value) in resolved_properties(resolver, logical_id, properties, rules, unsupported)? {
        let property_location = format!("{location}.{key}");
        match (kind, key.as_str()) {
            (_, "StageName") => stage_name = Some(expect_string(&value, &property_location)?),
            (ApiKind::Rest, "Variables") | (ApiKind::Http, "StageVariables") => {
                stage_variables = expect_string_map(&value, &property_location)?;
            }
            (ApiKind::Rest, "BinaryMediaTypes") => {
                // SAM escapes '/' as '~1' in media types, as in JSON pointers.
                binary_media_types = expect_strings(&value, &property_location)?
                    .into_iter()
                    .map(|media_type| media_type.replace("~1", "/"))
                    .collect();
            }
            // `resolved_properties` returns supported properties only.
            _ => {}
        }
    }
    let stage_name = match (stage_name, kind) {
        (Some(stage_name), _) => stage_name,
        (None, ApiKind::Http) => "$default".to_owned(),
        // The implicit REST API's stage is set by the caller; SAM names it Prod.
        (None, ApiKind::Rest) if logical_id == IMPLICIT_REST_API => "Prod".to_owned(),
        (None, ApiKind::Rest) => {
            return Err(Problem::at(
                key_span,
                format!(
                    "{location}.StageName: missing; an {REST_API} needs a StageName, such as Prod"
                ),
            ))
        }
    };
    Ok(Api {
        logical_id: logical_id.to_owned(),
        api_id: derived_id(&options.stack_name, logical_id),
        kind,
        stage_name,
        stage_variables,
        binary_media_types,
        routes: Vec::new(),
    })
}

fn outputs(
    resolver: &Resolver<'_>,
    node: Option<&Node>,
    unsupported: &mut Vec<String>,
) -> Result<Vec<Output>, Problem> {
    let Some(node) = node else {
        return Ok(Vec::new());
    };
    let mut outputs = Vec::new();
    for entry in mapping(node, "Outputs")? {
        let name = &entry.key;
        let location = format!("Outputs.{name}");
        let definition = &entry.value;
        if definition.as_mapping().is_none() {
            return Err(Problem::at(
                definition.span,
                format!(
                    "{location}: expected a mapping with a Value, found {}",
                    definition.describe()
                ),
            ));
        }
        if let Some(condition) = definition.get("Condition") {
            let Some(condition_name) = condition.as_scalar() else {
                return Err(Problem::at(
                    condition.span,
                    format!(
                        "{location}.Condition: expected a condition name, found {}",
                        condition.describe()
                    ),
                ));
            };
            if !resolver.condition(
                condition_name,
                condition.span,
                &format!("{location}.Condition"),
            )? {
                continue;
            }
        }
        let Some(value) = definition.get("Value") else {
            return Err(Problem::at(
                entry.key_span,
                format!("{location}.Value: missing; every output needs a Value"),
            ));
        };
        let value = resolver.resolve_string(value, &format!("{location}.Value"))?;
        let description = match definition.get("Description") {
            None => None,
            Some(description) => {
                Some(resolver.resolve_string(description, &format!("{location}.Description"))?)
            }
        };
        if definition.get("Export").is_some() {
            unsupported.push(format!("{location}.Export"));
        }
        outputs.push(Output {
            name: name.clone(),
            value,
            description,
        });
    }
    Ok(outputs)
}
