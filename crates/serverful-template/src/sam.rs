//! SAM semantics: template sections, resources and their conditions, the resources SAM
//! generates implicitly, and the order in which the rest is read into the [`App`].
//!
//! Everything the template uses that Serverful does not run yet is recorded in
//! `App::unsupported` rather than skipped. One module per concern:
//! - `parameters`: the `Parameters` section;
//! - `globals`: the `Globals` section and how it merges into resources;
//! - `properties`: reading and checking resource properties;
//! - `functions`: `AWS::Serverless::Function`;
//! - `function_urls`: `FunctionUrlConfig` and `AWS::Lambda::Url`;
//! - `apis`: APIs, their stages, and the `Api`/`HttpApi` events that make routes;
//! - `auth`: APIs' and events' `Auth`: authorizers and each route's protection;
//! - `domains`: custom domain names and their base path mappings to APIs;
//! - `versions`: function versions and aliases, and SAM's `AutoPublishAlias`;
//! - `tables`: DynamoDB tables;
//! - `layers`: layer resources and the `Layers` of functions;
//! - `schedules`: `Schedule`/`ScheduleV2` events, scheduled rules and Scheduler schedules;
//! - `event_rules`: `EventBridgeRule`/`CloudWatchEvent` events, event-pattern rules and buses;
//! - `rest_resources`: REST APIs written as `AWS::ApiGateway::*` resources (`RestApi`,
//!   `Resource`, `Method`, `Stage`), with `MOCK` integrations;
//! - `http_resources`: HTTP APIs written as `AWS::ApiGatewayV2::*` resources, and their
//!   quick-create form;
//! - `openapi`: OpenAPI definitions (`DefinitionBody`/`DefinitionUri`, `Body`) into routes;
//! - `validators`: REST request validators and models (`RequestValidator`, `Model`);
//! - `request_models`: SAM's `Models`, `RequestModel` and `RequestParameters`, and
//!   OpenAPI's request validators, into the same checks;
//! - `api_keys`: API keys and usage plans (`ApiKey`, `UsagePlan`, `UsagePlanKey`, SAM's
//!   `Auth.UsagePlan`);
//! - `websockets`: WebSocket APIs (`AWS::ApiGatewayV2::*` with `ProtocolType: WEBSOCKET`);
//! - `outputs`: the `Outputs` section.

mod api_keys;
mod apis;
mod async_config;
mod auth;
mod bucket_notifications;
mod buckets;
mod domains;
mod event_rules;
mod function_urls;
mod functions;
mod globals;
mod http_resources;
mod layers;
mod openapi;
mod openapi_auth;
mod outputs;
mod parameters;
mod properties;
mod queues;
mod request_models;
mod resource_authorizers;
mod rest_resources;
mod schedules;
mod streams;
mod tables;
mod validators;
mod versions;
mod websockets;

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use crate::intrinsics::{Resolver, Resource, ResourceKind};
use crate::model::{ApiKind, App, Route};
use crate::node::{self, Node, NodeKind, Span};
use crate::{LoadOptions, Problem};

use apis::{api, events, register_stage};
use async_config::{
    event_invoke_config_resource, function_event_invoke_config, LAMBDA_EVENT_INVOKE_CONFIG,
};
use domains::{
    check_unique, domain_name_resource, mapping_resource, register_sam_domain, DeclaredDomains,
    API_MAPPING, BASE_PATH_MAPPING, HTTP_DOMAIN_NAME, REST_DOMAIN_NAME,
};
use event_rules::{event_bus, event_rule_events, is_pattern_rule, pattern_rule, EVENT_BUS};
use functions::function;
use globals::{merge, Globals};
use layers::{layer, LAMBDA_LAYER, SERVERLESS_LAYER};
use outputs::outputs;
use parameters::parameters;
use properties::mapping;
use schedules::{
    events_rule, schedule_events, scheduler_schedule, EVENTS_RULE, SCHEDULER_SCHEDULE,
};
use tables::{table, DYNAMODB_TABLE, SIMPLE_TABLE};
use versions::{versions_and_aliases, LAMBDA_ALIAS, LAMBDA_VERSION};

const SAM_TRANSFORM: &str = "AWS::Serverless-2016-10-31";
const FUNCTION: &str = "AWS::Serverless::Function";
const REST_API: &str = "AWS::Serverless::Api";
const HTTP_API: &str = "AWS::Serverless::HttpApi";
const IMPLICIT_REST_API: &str = "ServerlessRestApi";
const IMPLICIT_HTTP_API: &str = "ServerlessHttpApi";

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
    // SAM makes `{Function}Url` for a `FunctionUrlConfig`, the function's own or the
    // Globals'.
    for raw in &created {
        let has_url_config = |properties: Option<&Node>| {
            properties.is_some_and(|properties| properties.get("FunctionUrlConfig").is_some())
        };
        if raw.type_name == FUNCTION
            && (has_url_config(raw.properties) || has_url_config(globals.function))
        {
            resolver
                .resources
                .entry(function_urls::sam_url_id(&raw.logical_id))
                .or_insert(Resource {
                    type_name: function_urls::LAMBDA_URL.to_owned(),
                    properties: None,
                    kind: ResourceKind::FunctionUrl {
                        function: Some(raw.logical_id.clone()),
                    },
                });
        }
    }

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

    // Versions and aliases before anything else resolves, so that `MyFunction.Alias` and
    // `MyVersion.Version` resolve everywhere.
    let (versions, aliases) =
        versions_and_aliases(&mut resolver, &created, &merged, options, &mut unsupported)?;

    let websocket_ids: Vec<String> = created
        .iter()
        .filter(|raw| websockets::is_websocket_api(&raw.type_name, raw.properties))
        .map(|raw| raw.logical_id.clone())
        .collect();
    let mut apis = Vec::new();
    let mut api_auths = BTreeMap::new();
    let mut api_models = BTreeMap::new();
    let mut sam_domains = Vec::new();
    for (raw, properties) in created.iter().zip(&merged) {
        let kind = match raw.type_name.as_str() {
            REST_API => ApiKind::Rest,
            HTTP_API => ApiKind::Http,
            _ => continue,
        };
        let (api, domain, auth) = api(
            &resolver,
            &raw.logical_id,
            raw.key_span,
            kind,
            properties.as_ref(),
            options,
            &mut unsupported,
        )?;
        sam_domains.extend(domain.map(|domain| (apis.len(), domain)));
        api_auths.insert(api.logical_id.clone(), auth);
        if kind == ApiKind::Rest {
            api_models.insert(
                api.logical_id.clone(),
                request_models::sam_models(&resolver, &raw.logical_id, properties.as_ref())?,
            );
        }
        apis.push(api);
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
            let (mut api, domain, auth) = api(
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
            sam_domains.extend(domain.map(|domain| (apis.len(), domain)));
            api_auths.insert(api.logical_id.clone(), auth);
            if kind == ApiKind::Rest {
                api_models.insert(
                    api.logical_id.clone(),
                    request_models::sam_models(&resolver, logical_id, global_properties)?,
                );
            }
            apis.push(api);
        }
    }
    for api in &apis {
        register_stage(&mut resolver, api);
    }
    // SAM's usage plans, in the order of the APIs; their keys and plans resolve anywhere.
    let sam_usage_plans: Vec<(String, api_keys::SamUsagePlan)> = apis
        .iter()
        .filter_map(|api| {
            let plan = api_auths.get(&api.logical_id)?.usage_plan.clone()?;
            Some((api.logical_id.clone(), plan))
        })
        .collect();
    api_keys::register_sam_usage_plans(&mut resolver, &sam_usage_plans);
    // Written as resources, they declare their own stages and deployments.
    apis.extend(rest_resources::rest_apis(
        &resolver,
        &created,
        options,
        &mut unsupported,
    )?);
    apis.extend(http_resources::http_apis(
        &resolver,
        &created,
        options,
        &mut unsupported,
    )?);
    let http_ids: Vec<String> = created
        .iter()
        .filter(|raw| http_resources::is_http_api(&raw.type_name, raw.properties))
        .map(|raw| raw.logical_id.clone())
        .collect();

    // Custom domains: every declared domain is known before any mapping is read, whatever
    // the order of the resources.
    let mut declared_domains = DeclaredDomains::default();
    let mut domain_mappings = Vec::new();
    for (api_idx, domain) in &sam_domains {
        domain_mappings.extend(register_sam_domain(
            &mut resolver,
            &mut declared_domains,
            &apis[*api_idx],
            domain,
        )?);
    }
    for raw in &created {
        if matches!(raw.type_name.as_str(), REST_DOMAIN_NAME | HTTP_DOMAIN_NAME) {
            domain_name_resource(&resolver, raw, &mut declared_domains, &mut unsupported)?;
        }
    }

    let mut functions = Vec::new();
    let mut tables = Vec::new();
    let mut layers = Vec::new();
    let mut routes: Vec<(String, Route)> = Vec::new();
    let mut schedules = Vec::new();
    let mut event_invoke_configs = Vec::new();
    let mut stream_mappings = Vec::new();
    let mut event_source_mappings = Vec::new();
    let mut event_rules = Vec::new();
    let mut event_buses = Vec::new();
    let mut queues = Vec::new();
    let mut topics = Vec::new();
    let mut buckets = Vec::new();
    let mut bucket_policies = Vec::new();
    let mut subscriptions = Vec::new();
    let mut queue_mappings = Vec::new();
    let mut function_urls = Vec::new();
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
                schedules.extend(schedule_events(
                    &resolver,
                    raw,
                    &function,
                    options,
                    &mut unsupported,
                )?);
                event_rules.extend(event_rule_events(
                    &resolver,
                    raw,
                    &function,
                    options,
                    &mut unsupported,
                )?);
                event_invoke_configs.extend(function_event_invoke_config(
                    &resolver,
                    &function,
                    properties.as_ref(),
                )?);
                let made =
                    queues::queue_events(&resolver, raw, &function, options, &mut unsupported)?;
                queues.extend(made.queues);
                subscriptions.extend(made.subscriptions);
                queue_mappings.extend(made.mappings);
                function_urls.extend(function_urls::function_url_config(
                    &resolver,
                    &function,
                    properties.as_ref(),
                )?);
                functions.push(function);
                // Events are not a globals property: they are read as written, which is
                // also what decided above whether the implicit APIs exist.
                routes.extend(events(
                    &resolver,
                    raw,
                    &api_auths,
                    &api_models,
                    &mut unsupported,
                )?);
                stream_mappings.extend(streams::dynamodb_events(&resolver, raw, &mut unsupported)?);
            }
            // Read once every function is known: they name one.
            streams::EVENT_SOURCE_MAPPING => event_source_mappings.push(raw),
            REST_API | HTTP_API => {}
            DYNAMODB_TABLE | SIMPLE_TABLE => tables.push(table(&resolver, raw, &mut unsupported)?),
            SERVERLESS_LAYER | LAMBDA_LAYER => {
                layers.push(layer(&resolver, raw, base_dir, &mut unsupported)?);
            }
            // Read above, before any mapping or any other resource.
            REST_DOMAIN_NAME | HTTP_DOMAIN_NAME | LAMBDA_VERSION | LAMBDA_ALIAS => {}
            BASE_PATH_MAPPING | API_MAPPING => domain_mappings.push(mapping_resource(
                &resolver,
                raw,
                &apis,
                &declared_domains,
                &mut unsupported,
            )?),
            "AWS::Lambda::Permission" => {}
            // Read below, once every API has its routes.
            key_type if api_keys::TYPES.contains(&key_type) => {}
            // Read below, once every function is known.
            _ if websockets::belongs(raw, &websocket_ids) => {}
            rest_type if rest_resources::TYPES.contains(&rest_type) => {}
            _ if http_resources::belongs(raw, &http_ids) => {}
            queues::QUEUE => queues.push(queues::queue(&resolver, raw)?),
            queues::TOPIC => {
                let (topic, inline) = queues::topic(&resolver, raw, options, &mut unsupported)?;
                topics.push(topic);
                subscriptions.extend(inline);
            }
            queues::SUBSCRIPTION => {
                subscriptions.push(queues::subscription(&resolver, raw, &mut unsupported)?);
            }
            policy if queues::POLICIES.contains(&policy) => {}
            buckets::BUCKET => buckets.push(buckets::bucket(&resolver, raw, &mut unsupported)?),
            buckets::BUCKET_POLICY => {
                bucket_policies.push(buckets::bucket_policy(&resolver, raw)?);
            }
            EVENT_BUS => event_buses.push(event_bus(&resolver, raw, options, &mut unsupported)?),
            // Read below, once every function is known.
            EVENTS_RULE
            | SCHEDULER_SCHEDULE
            | LAMBDA_EVENT_INVOKE_CONFIG
            | function_urls::LAMBDA_URL => {}
            other => unsupported.push(format!("{} ({other})", raw.logical_id)),
        }
    }

    for raw in &created {
        match raw.type_name.as_str() {
            EVENTS_RULE if is_pattern_rule(raw) => {
                event_rules.push(pattern_rule(
                    &resolver,
                    raw,
                    &functions,
                    options,
                    &mut unsupported,
                )?);
            }
            EVENTS_RULE => {
                match events_rule(&resolver, raw, &functions, options, &mut unsupported)? {
                    Some(schedule) => schedules.push(schedule),
                    None => unsupported.push(format!("{} ({EVENTS_RULE})", raw.logical_id)),
                }
            }
            SCHEDULER_SCHEDULE => schedules.push(scheduler_schedule(
                &resolver,
                raw,
                &functions,
                options,
                &mut unsupported,
            )?),
            function_urls::LAMBDA_URL => {
                function_urls.push(function_urls::url_resource(&resolver, raw, &functions)?);
            }
            LAMBDA_EVENT_INVOKE_CONFIG => {
                event_invoke_configs.push(event_invoke_config_resource(
                    &resolver,
                    raw,
                    &functions,
                    &mut unsupported,
                )?);
            }
            _ => {}
        }
    }
    stream_mappings.extend(streams::event_source_mappings(
        &resolver,
        &event_source_mappings,
        &functions,
        &mut unsupported,
    )?);
    queue_mappings.extend(queues::queue_event_source_mappings(
        &resolver,
        &event_source_mappings,
        &functions,
        &mut unsupported,
    )?);

    let websocket_apis =
        websockets::websocket_apis(&resolver, &created, &functions, options, &mut unsupported)?;

    rest_resources::rest_routes(
        &resolver,
        &created,
        &functions,
        &mut apis,
        options,
        &mut unsupported,
    )?;
    http_resources::http_routes(&resolver, &created, &functions, &mut apis)?;
    for raw in &created {
        let kind = match raw.type_name.as_str() {
            REST_API | rest_resources::REST_API => ApiKind::Rest,
            HTTP_API => ApiKind::Http,
            _ if http_resources::is_http_api(&raw.type_name, raw.properties) => ApiKind::Http,
            _ => continue,
        };
        // SAM adds each event's route to the definition, replacing the same operation.
        let from_events: Vec<(&str, &str)> = routes
            .iter()
            .filter(|(api_logical_id, _)| *api_logical_id == raw.logical_id)
            .map(|(_, route)| (route.method.as_str(), route.path.as_str()))
            .collect();
        let Some(api) = apis.iter_mut().find(|api| api.logical_id == raw.logical_id) else {
            continue;
        };
        let default_auth = api_auths
            .get(&raw.logical_id)
            .map_or(crate::RouteAuth::None, |auth| auth.default_auth.clone());
        let side = openapi::ApiSide {
            kind,
            authorizers: &api.authorizers,
            default_auth: &default_auth,
        };
        let defined = openapi::definition_routes(
            &resolver,
            raw,
            base_dir,
            &side,
            &functions,
            &from_events,
            &mut unsupported,
        )?;
        api.routes.splice(0..0, defined.routes);
        if let Some(api_key_source) = defined.api_key_source {
            api.api_key_source = api_key_source;
        }
        // SAM writes its own authorizers into the definition under the same names.
        for authorizer in defined.authorizers {
            if !api
                .authorizers
                .iter()
                .any(|known| known.name == authorizer.name)
            {
                api.authorizers.push(authorizer);
            }
        }
    }

    for (api_logical_id, route) in routes {
        let api = apis
            .iter_mut()
            .find(|api| api.logical_id == api_logical_id)
            .expect("every route's API was found when its event was read, or made implicit");
        api.routes.push(route);
    }

    // S3 notifications: SAM's `S3` events, then the buckets' own configurations.
    let mut bucket_notifications = Vec::new();
    for raw in created.iter().filter(|raw| raw.type_name == FUNCTION) {
        bucket_notifications.extend(bucket_notifications::function_s3_events(
            &resolver,
            raw,
            &buckets,
            &mut unsupported,
        )?);
    }
    bucket_notifications.extend(bucket_notifications::configured(
        &buckets,
        &created,
        &functions,
        &mut unsupported,
    )?);

    check_unique(&domain_mappings)?;
    let (api_keys, usage_plans) = api_keys::api_keys_and_plans(
        &resolver,
        &created,
        &apis,
        &sam_usage_plans,
        options,
        &mut unsupported,
    )?;

    let outputs = outputs(&resolver, sections.outputs, &mut unsupported)?;
    Ok(App {
        template_path: template_path.to_owned(),
        base_dir: base_dir.to_owned(),
        description: sections.description,
        functions,
        apis,
        websocket_apis,
        domain_mappings: domain_mappings
            .into_iter()
            .map(|(mapping, _)| mapping)
            .collect(),
        outputs,
        tables,
        layers,
        versions,
        aliases,
        schedules,
        event_invoke_configs,
        event_rules,
        event_buses,
        unsupported,
        stream_mappings,
        queues,
        topics,
        buckets,
        bucket_policies,
        bucket_notifications,
        subscriptions,
        queue_mappings,
        function_urls,
        api_keys,
        usage_plans,
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

/// A function's events of some SAM types, each with its type.
type TypedEvents<'t> = Vec<(&'t node::Entry, &'t str)>;

/// A function's SAM events whose `Type` is one of `types`, each with that type, and where
/// the function's `Events` are (`Resources.F.Properties.Events`, for messages): what each
/// event-source reader (schedules, rules, streams) starts from.
fn function_events<'t>(
    raw: &RawResource<'t>,
    types: &[&str],
) -> Result<(String, TypedEvents<'t>), Problem> {
    let location = format!("Resources.{}.Properties.Events", raw.logical_id);
    let Some(events) = raw
        .properties
        .and_then(|properties| properties.get("Events"))
    else {
        return Ok((location, Vec::new()));
    };
    let mut found = Vec::new();
    for event in mapping(events, &location)? {
        if let Some(sam_type) = event.value.get("Type").and_then(Node::as_scalar) {
            if types.contains(&sam_type) {
                found.push((event, sam_type));
            }
        }
    }
    Ok((location, found))
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

fn resource_kind(type_name: &str) -> ResourceKind {
    match type_name {
        FUNCTION | "AWS::Lambda::Function" => ResourceKind::Function,
        REST_API | "AWS::ApiGateway::RestApi" => ResourceKind::RestApi,
        HTTP_API | "AWS::ApiGatewayV2::Api" => ResourceKind::HttpApi,
        "AWS::IAM::Role" => ResourceKind::Role,
        DYNAMODB_TABLE | SIMPLE_TABLE => ResourceKind::Table,
        SERVERLESS_LAYER | LAMBDA_LAYER => ResourceKind::Layer,
        "AWS::SQS::Queue" => ResourceKind::Queue,
        "AWS::SNS::Topic" => ResourceKind::Topic,
        buckets::BUCKET => ResourceKind::Bucket,
        "AWS::Events::EventBus" => ResourceKind::EventBus,
        EVENTS_RULE => ResourceKind::EventRule,
        REST_DOMAIN_NAME => ResourceKind::RestDomainName,
        HTTP_DOMAIN_NAME => ResourceKind::HttpDomainName,
        BASE_PATH_MAPPING => ResourceKind::BasePathMapping,
        API_MAPPING => ResourceKind::ApiMapping,
        // Their function and number or name are set by `versions`.
        LAMBDA_VERSION => ResourceKind::Version {
            function: String::new(),
            number: 0,
        },
        LAMBDA_ALIAS => ResourceKind::Alias {
            function: String::new(),
            name: String::new(),
        },
        function_urls::LAMBDA_URL => ResourceKind::FunctionUrl { function: None },
        api_keys::API_KEY => ResourceKind::ApiKey,
        api_keys::USAGE_PLAN => ResourceKind::UsagePlan,
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
        let kind = if websockets::is_websocket_api(&raw.type_name, raw.properties) {
            ResourceKind::WebSocketApi
        } else {
            resource_kind(&raw.type_name)
        };
        resolver.resources.insert(
            raw.logical_id.clone(),
            Resource {
                type_name: raw.type_name.clone(),
                properties: raw.properties,
                kind,
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
