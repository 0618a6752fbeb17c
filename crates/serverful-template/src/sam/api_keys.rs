//! API keys and usage plans: `AWS::ApiGateway::ApiKey`, `UsagePlan` and `UsagePlanKey`
//! resources, and the three SAM generates for a REST API's `Auth.UsagePlan`
//! (`CreateUsagePlan: PER_API` makes `{Api}ApiKey`, `{Api}UsagePlan` and
//! `{Api}UsagePlanKey`; `SHARED` makes `ServerlessApiKey`, `ServerlessUsagePlan` and
//! `ServerlessUsagePlanKey` for every API that asks for it), read into [`ApiKey`]s and
//! [`UsagePlan`]s once every API is known.

use super::properties::{expect_string, mapping};
use super::rest_resources::{string_property, STAGE};
use super::validators::is_true;
use super::RawResource;
use crate::api_keys::{
    ApiKey, ApiKeySource, Quota, QuotaPeriod, Throttle, UsagePlan, UsagePlanStage,
};
use crate::intrinsics::{derived_id, Resolver, Resource, ResourceKind};
use crate::model::{Api, ApiKind};
use crate::names::{generated_name, NameRule};
use crate::node::{Node, Span};
use crate::{LoadOptions, Problem};

pub(super) const API_KEY: &str = "AWS::ApiGateway::ApiKey";
pub(super) const USAGE_PLAN: &str = "AWS::ApiGateway::UsagePlan";
pub(super) const USAGE_PLAN_KEY: &str = "AWS::ApiGateway::UsagePlanKey";

/// The resource types this module reads.
pub(super) const TYPES: &[&str] = &[API_KEY, USAGE_PLAN, USAGE_PLAN_KEY];

/// API Gateway's names for keys: up to 1024 characters; CloudFormation's suffix is 12.
const KEY_NAME: NameRule = NameRule {
    max_len: 1024,
    suffix_len: 12,
};

/// The logical ids of the resources SAM shares between APIs with `CreateUsagePlan: SHARED`.
const SHARED_PREFIX: &str = "Serverless";

/// `Auth.UsagePlan.CreateUsagePlan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CreateUsagePlan {
    PerApi,
    Shared,
    None,
}

/// A REST API's `Auth.UsagePlan`, resolved.
#[derive(Clone, Debug)]
pub(super) struct SamUsagePlan {
    pub(super) create: CreateUsagePlan,
    pub(super) name: Option<String>,
    pub(super) throttle: Option<Throttle>,
    pub(super) quota: Option<Quota>,
}

/// Reads `Auth.UsagePlan` (`CreateUsagePlan`, `UsagePlanName`, `Throttle`, `Quota`,
/// `Description`, `Tags`).
pub(super) fn sam_usage_plan(value: &Node, location: &str) -> Result<SamUsagePlan, Problem> {
    let mut create = None;
    let mut plan = SamUsagePlan {
        create: CreateUsagePlan::None,
        name: None,
        throttle: None,
        quota: None,
    };
    for entry in mapping(value, location)? {
        let entry_location = format!("{location}.{}", entry.key);
        match entry.key.as_str() {
            "CreateUsagePlan" => {
                create = Some(
                    match expect_string(&entry.value, &entry_location)?.as_str() {
                        "PER_API" => CreateUsagePlan::PerApi,
                        "SHARED" => CreateUsagePlan::Shared,
                        "NONE" => CreateUsagePlan::None,
                        other => {
                            return Err(Problem::at(
                                entry.value.span,
                                format!("{entry_location}: expected PER_API, SHARED or NONE, found '{other}'"),
                            ))
                        }
                    },
                )
            }
            "UsagePlanName" => plan.name = Some(expect_string(&entry.value, &entry_location)?),
            "Throttle" => plan.throttle = Some(throttle(&entry.value, &entry_location)?),
            "Quota" => plan.quota = Some(quota(&entry.value, &entry_location)?),
            "Description" | "Tags" => {}
            other => {
                return Err(Problem::at(
                    entry.key_span,
                    format!("{location}.{other}: not a UsagePlan setting; use CreateUsagePlan, UsagePlanName, Throttle, Quota, Description or Tags"),
                ))
            }
        }
    }
    let Some(create) = create else {
        return Err(Problem::at(
            value.span,
            format!("{location}.CreateUsagePlan: missing; use PER_API (a plan and key for this API), SHARED (one for every API that says SHARED) or NONE"),
        ));
    };
    plan.create = create;
    Ok(plan)
}

/// A `Throttle` (`RateLimit`, `BurstLimit`); a missing one takes API Gateway's account
/// default (10,000 a second, bursts of 5,000).
pub(super) fn throttle(value: &Node, location: &str) -> Result<Throttle, Problem> {
    let mut throttle = Throttle {
        rate_limit: 10_000.0,
        burst_limit: 5_000,
    };
    for entry in mapping(value, location)? {
        let entry_location = format!("{location}.{}", entry.key);
        match entry.key.as_str() {
            "RateLimit" => {
                let text = expect_string(&entry.value, &entry_location)?;
                throttle.rate_limit = match text.trim().parse::<f64>() {
                    Ok(rate) if rate.is_finite() && rate >= 0.0 => rate,
                    _ => {
                        return Err(Problem::at(
                            entry.value.span,
                            format!("{entry_location}: expected a number of requests per second (0 or more), found '{text}'"),
                        ))
                    }
                };
            }
            "BurstLimit" => {
                throttle.burst_limit =
                    super::properties::expect_number(&entry.value, &entry_location, 0..=u32::MAX)?;
            }
            other => {
                return Err(Problem::at(
                    entry.key_span,
                    format!(
                        "{location}.{other}: not a Throttle setting; use RateLimit and BurstLimit"
                    ),
                ))
            }
        }
    }
    Ok(throttle)
}

/// A `Quota` (`Limit`, `Period`, `Offset`).
pub(super) fn quota(value: &Node, location: &str) -> Result<Quota, Problem> {
    let mut limit = None;
    let mut period = None;
    let mut offset = 0_u64;
    let whole = |node: &Node, location: &str| -> Result<u64, Problem> {
        let text = expect_string(node, location)?;
        text.trim().parse::<u64>().map_err(|_| {
            Problem::at(
                node.span,
                format!("{location}: expected a whole number (0 or more), found '{text}'"),
            )
        })
    };
    for entry in mapping(value, location)? {
        let entry_location = format!("{location}.{}", entry.key);
        match entry.key.as_str() {
            "Limit" => limit = Some(whole(&entry.value, &entry_location)?),
            "Offset" => offset = whole(&entry.value, &entry_location)?,
            "Period" => {
                period = Some(
                    match expect_string(&entry.value, &entry_location)?.as_str() {
                        "DAY" => QuotaPeriod::Day,
                        "WEEK" => QuotaPeriod::Week,
                        "MONTH" => QuotaPeriod::Month,
                        other => {
                            return Err(Problem::at(
                                entry.value.span,
                                format!(
                                "{entry_location}: expected DAY, WEEK or MONTH, found '{other}'"
                            ),
                            ))
                        }
                    },
                )
            }
            other => {
                return Err(Problem::at(
                    entry.key_span,
                    format!(
                        "{location}.{other}: not a Quota setting; use Limit, Period and Offset"
                    ),
                ))
            }
        }
    }
    let (Some(limit), Some(period)) = (limit, period) else {
        return Err(Problem::at(
            value.span,
            format!("{location}: a quota needs Limit (requests) and Period (DAY, WEEK or MONTH)"),
        ));
    };
    if offset >= limit.max(1) {
        return Err(Problem::at(
            value.span,
            format!("{location}.Offset: {offset} must be less than the Limit ({limit})"),
        ));
    }
    Ok(Quota {
        limit,
        offset,
        period,
    })
}

/// `ApiKeySourceType` (`x-amazon-apigateway-api-key-source`): `HEADER` or `AUTHORIZER`.
pub(super) fn api_key_source(value: &Node, location: &str) -> Result<ApiKeySource, Problem> {
    match expect_string(value, location)?.to_uppercase().as_str() {
        "HEADER" => Ok(ApiKeySource::Header),
        "AUTHORIZER" => Ok(ApiKeySource::Authorizer),
        other => Err(Problem::at(
            value.span,
            format!("{location}: expected HEADER or AUTHORIZER, found '{other}'"),
        )),
    }
}

/// The logical ids SAM gives the key, plan and plan key of an API's usage plan.
fn sam_ids(api_logical_id: &str, create: CreateUsagePlan) -> Option<[String; 3]> {
    let prefix = match create {
        CreateUsagePlan::PerApi => api_logical_id,
        CreateUsagePlan::Shared => SHARED_PREFIX,
        CreateUsagePlan::None => return None,
    };
    Some([
        format!("{prefix}ApiKey"),
        format!("{prefix}UsagePlan"),
        format!("{prefix}UsagePlanKey"),
    ])
}

/// Makes the resources SAM generates for the APIs' usage plans `Ref`/`GetAtt` targets.
pub(super) fn register_sam_usage_plans(
    resolver: &mut Resolver<'_>,
    plans: &[(String, SamUsagePlan)],
) {
    for (api, plan) in plans {
        let Some([key, usage_plan, plan_key]) = sam_ids(api, plan.create) else {
            continue;
        };
        for (logical_id, type_name, kind) in [
            (key, API_KEY, ResourceKind::ApiKey),
            (usage_plan, USAGE_PLAN, ResourceKind::UsagePlan),
            (plan_key, USAGE_PLAN_KEY, ResourceKind::Other),
        ] {
            resolver.resources.entry(logical_id).or_insert(Resource {
                type_name: type_name.to_owned(),
                properties: None,
                kind,
            });
        }
    }
}

/// Every API key and usage plan: the template's resources, then SAM's.
pub(super) fn api_keys_and_plans(
    resolver: &Resolver<'_>,
    created: &[RawResource<'_>],
    apis: &[Api],
    sam_plans: &[(String, SamUsagePlan)],
    options: &LoadOptions,
    unsupported: &mut Vec<String>,
) -> Result<(Vec<ApiKey>, Vec<UsagePlan>), Problem> {
    // `!Ref` of an `AWS::ApiGateway::Stage` gives its logical id here; CloudFormation's
    // gives the stage's name.
    let mut stages = Stages::new();
    for raw in created.iter().filter(|raw| raw.type_name == STAGE) {
        if let Some((name, _)) = string_property(resolver, raw, "StageName")? {
            stages.push((raw.logical_id.clone(), name));
        }
    }
    let mut keys = Vec::new();
    for raw in created.iter().filter(|raw| raw.type_name == API_KEY) {
        keys.push(api_key(resolver, raw, apis, &stages, options, unsupported)?);
    }
    let mut plans = Vec::new();
    for raw in created.iter().filter(|raw| raw.type_name == USAGE_PLAN) {
        plans.push(usage_plan(
            resolver,
            raw,
            apis,
            &stages,
            options,
            unsupported,
        )?);
    }
    sam_generated(sam_plans, apis, options, &mut keys, &mut plans);
    for raw in created.iter().filter(|raw| raw.type_name == USAGE_PLAN_KEY) {
        usage_plan_key(resolver, raw, &keys, &mut plans)?;
    }
    check_one_plan_per_stage(created, &keys, &plans)?;
    Ok((keys, plans))
}

/// The template's `AWS::ApiGateway::Stage`s: logical id and stage name.
type Stages = Vec<(String, String)>;

fn api_key(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    apis: &[Api],
    stages: &Stages,
    options: &LoadOptions,
    unsupported: &mut Vec<String>,
) -> Result<ApiKey, Problem> {
    let location = format!("Resources.{}.Properties", raw.logical_id);
    let mut key = ApiKey {
        logical_id: raw.logical_id.clone(),
        id: derived_id(&options.stack_name, &raw.logical_id),
        name: generated_name(&options.stack_name, &raw.logical_id, KEY_NAME),
        value: None,
        enabled: false,
        description: None,
        stage_keys: Vec::new(),
    };
    let Some(properties) = raw.properties else {
        return Ok(key);
    };
    for entry in mapping(properties, &location)? {
        let entry_location = format!("{location}.{}", entry.key);
        let Some(value) = resolver.resolve(&entry.value, &entry_location)? else {
            continue;
        };
        match entry.key.as_str() {
            "Name" => key.name = expect_string(&value, &entry_location)?,
            "Description" => key.description = Some(expect_string(&value, &entry_location)?),
            "Enabled" => key.enabled = is_true(&value),
            "Value" => {
                let text = expect_string(&value, &entry_location)?;
                if !(20..=128).contains(&text.chars().count()) {
                    return Err(Problem::at(
                        value.span,
                        format!("{entry_location}: an API key's value must be 20 to 128 characters long (this one has {}); leave Value out to have one generated", text.chars().count()),
                    ));
                }
                key.value = Some(text);
            }
            "StageKeys" => {
                let items = value.as_sequence().ok_or_else(|| {
                    Problem::at(
                        value.span,
                        format!("{entry_location}: expected a list of {{RestApiId, StageName}}"),
                    )
                })?;
                for (item_idx, item) in items.iter().enumerate() {
                    let item_location = format!("{entry_location}[{item_idx}]");
                    let api_id = item.get("RestApiId").ok_or_else(|| {
                        Problem::at(item.span, format!("{item_location}.RestApiId: missing"))
                    })?;
                    let api = api_by_id(
                        apis,
                        &expect_string(api_id, &format!("{item_location}.RestApiId"))?,
                        api_id.span,
                        &format!("{item_location}.RestApiId"),
                    )?;
                    let stage = match item.get("StageName") {
                        Some(node) => {
                            let stage_location = format!("{item_location}.StageName");
                            let stage = expect_string(node, &stage_location)?;
                            check_stage(api, stages, &stage, node.span, &stage_location)?
                        }
                        None => api.stage_name.clone(),
                    };
                    key.stage_keys.push((api.logical_id.clone(), stage));
                }
            }
            "CustomerId" | "GenerateDistinctId" | "Tags" => {}
            other => unsupported.push(format!("{}.{other}", raw.logical_id)),
        }
    }
    Ok(key)
}

/// The REST API of this template whose id (`!Ref MyApi`) is `id`.
fn api_by_id<'a>(
    apis: &'a [Api],
    id: &str,
    span: Span,
    location: &str,
) -> Result<&'a Api, Problem> {
    apis.iter()
        .find(|api| api.kind == ApiKind::Rest && (api.api_id == id || api.logical_id == id))
        .ok_or_else(|| {
            Problem::at(
                span,
                format!("{location}: '{id}' is not a REST API of this template; use !Ref of an AWS::Serverless::Api or AWS::ApiGateway::RestApi"),
            )
        })
}

/// The API's stage that `stage` (a name, or a stage resource's logical id) names.
fn check_stage(
    api: &Api,
    stages: &Stages,
    stage: &str,
    span: Span,
    location: &str,
) -> Result<String, Problem> {
    let name = stages
        .iter()
        .find(|(logical_id, _)| logical_id == stage)
        .map_or(stage, |(_, name)| name.as_str());
    if api.stage_names().any(|known| known == name) {
        return Ok(name.to_owned());
    }
    Err(Problem::at(
        span,
        format!(
            "{location}: '{stage}' is not a stage of {}; its stages are {}",
            api.logical_id,
            api.stage_names()
                .map(|known| format!("'{known}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ))
}

fn usage_plan(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    apis: &[Api],
    stages: &Stages,
    options: &LoadOptions,
    unsupported: &mut Vec<String>,
) -> Result<UsagePlan, Problem> {
    let location = format!("Resources.{}.Properties", raw.logical_id);
    let mut plan = UsagePlan {
        logical_id: raw.logical_id.clone(),
        id: derived_id(&options.stack_name, &raw.logical_id),
        name: None,
        stages: Vec::new(),
        throttle: None,
        quota: None,
        keys: Vec::new(),
    };
    let Some(properties) = raw.properties else {
        return Ok(plan);
    };
    for entry in mapping(properties, &location)? {
        let entry_location = format!("{location}.{}", entry.key);
        let Some(value) = resolver.resolve(&entry.value, &entry_location)? else {
            continue;
        };
        match entry.key.as_str() {
            "UsagePlanName" => plan.name = Some(expect_string(&value, &entry_location)?),
            "Throttle" => plan.throttle = Some(throttle(&value, &entry_location)?),
            "Quota" => plan.quota = Some(quota(&value, &entry_location)?),
            "ApiStages" => {
                let items = value.as_sequence().ok_or_else(|| {
                    Problem::at(
                        value.span,
                        format!("{entry_location}: expected a list of {{ApiId, Stage, Throttle}}"),
                    )
                })?;
                for (item_idx, item) in items.iter().enumerate() {
                    let item_location = format!("{entry_location}[{item_idx}]");
                    plan.stages
                        .push(api_stage(item, &item_location, apis, stages)?);
                }
            }
            "Description" | "Tags" => {}
            other => unsupported.push(format!("{}.{other}", raw.logical_id)),
        }
    }
    Ok(plan)
}

/// One entry of `ApiStages`: `ApiId`, `Stage` and per-method `Throttle`s.
fn api_stage(
    item: &Node,
    location: &str,
    apis: &[Api],
    stages: &Stages,
) -> Result<UsagePlanStage, Problem> {
    let Some(api_node) = item.get("ApiId") else {
        return Err(Problem::at(
            item.span,
            format!("{location}.ApiId: missing; use !Ref of the REST API"),
        ));
    };
    let api_location = format!("{location}.ApiId");
    let api = api_by_id(
        apis,
        &expect_string(api_node, &api_location)?,
        api_node.span,
        &api_location,
    )?;
    let stage = match item.get("Stage") {
        Some(node) => {
            let stage_location = format!("{location}.Stage");
            let stage = expect_string(node, &stage_location)?;
            check_stage(api, stages, &stage, node.span, &stage_location)?
        }
        None => {
            return Err(Problem::at(
                item.span,
                format!(
                    "{location}.Stage: missing; name the API's stage ('{}')",
                    api.stage_name
                ),
            ))
        }
    };
    let mut method_throttles = Vec::new();
    if let Some(throttles) = item.get("Throttle") {
        let throttles_location = format!("{location}.Throttle");
        for entry in mapping(throttles, &throttles_location)? {
            let entry_location = format!("{throttles_location}.{}", entry.key);
            let known = entry.key.rsplit_once('/').is_some_and(|(path, method)| {
                api.routes.iter().any(|route| {
                    route.path == path && (route.method == method || route.method == "ANY")
                })
            });
            if !known {
                return Err(Problem::at(
                    entry.key_span,
                    format!("{entry_location}: no method of {} matches '{}'; write /path/METHOD as the API declares it, such as /pets/{{id}}/GET", api.logical_id, entry.key),
                ));
            }
            method_throttles.push((entry.key.clone(), throttle(&entry.value, &entry_location)?));
        }
    }
    for entry in mapping(item, location)? {
        if !matches!(entry.key.as_str(), "ApiId" | "Stage" | "Throttle") {
            return Err(Problem::at(
                entry.key_span,
                format!(
                    "{location}.{}: not an ApiStages setting; use ApiId, Stage and Throttle",
                    entry.key
                ),
            ));
        }
    }
    Ok(UsagePlanStage {
        api: api.logical_id.clone(),
        stage,
        method_throttles,
    })
}

/// The keys and plans SAM makes for `Auth.UsagePlan`: one of each per `PER_API` API, and
/// one shared by every `SHARED` API (configured by the first of them that sets anything).
fn sam_generated(
    sam_plans: &[(String, SamUsagePlan)],
    apis: &[Api],
    options: &LoadOptions,
    keys: &mut Vec<ApiKey>,
    plans: &mut Vec<UsagePlan>,
) {
    for (api_logical_id, sam_plan) in sam_plans {
        let Some([key_id, plan_id, _]) = sam_ids(api_logical_id, sam_plan.create) else {
            continue;
        };
        let Some(api) = apis.iter().find(|api| api.logical_id == *api_logical_id) else {
            continue;
        };
        let stage = UsagePlanStage {
            api: api.logical_id.clone(),
            stage: api.stage_name.clone(),
            method_throttles: Vec::new(),
        };
        if let Some(plan) = plans.iter_mut().find(|plan| plan.logical_id == plan_id) {
            // A later SHARED API joins the shared plan; its settings count only if the
            // first set none.
            plan.stages.push(stage);
            plan.name = plan.name.take().or_else(|| sam_plan.name.clone());
            plan.throttle = plan.throttle.or(sam_plan.throttle);
            plan.quota = plan.quota.or(sam_plan.quota);
            if let Some(key) = keys.iter_mut().find(|key| key.logical_id == key_id) {
                key.stage_keys
                    .push((api.logical_id.clone(), api.stage_name.clone()));
            }
            continue;
        }
        keys.push(ApiKey {
            logical_id: key_id.clone(),
            id: derived_id(&options.stack_name, &key_id),
            name: generated_name(&options.stack_name, &key_id, KEY_NAME),
            value: None,
            enabled: true,
            description: None,
            stage_keys: vec![(api.logical_id.clone(), api.stage_name.clone())],
        });
        plans.push(UsagePlan {
            logical_id: plan_id.clone(),
            id: derived_id(&options.stack_name, &plan_id),
            name: sam_plan.name.clone(),
            stages: vec![stage],
            throttle: sam_plan.throttle,
            quota: sam_plan.quota,
            keys: vec![key_id],
        });
    }
}

/// An `AWS::ApiGateway::UsagePlanKey`: its key joins its plan.
fn usage_plan_key(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    keys: &[ApiKey],
    plans: &mut [UsagePlan],
) -> Result<(), Problem> {
    let location = format!("Resources.{}.Properties", raw.logical_id);
    let required = |key: &str, hint: &str| -> Result<(String, Span), Problem> {
        string_property(resolver, raw, key)?
            .ok_or_else(|| Problem::at(raw.key_span, format!("{location}.{key}: missing; {hint}")))
    };
    let (key_id, key_span) = required("KeyId", "use !Ref of an AWS::ApiGateway::ApiKey")?;
    let (plan_id, plan_span) =
        required("UsagePlanId", "use !Ref of an AWS::ApiGateway::UsagePlan")?;
    let (key_type, key_type_span) = required("KeyType", "use API_KEY")?;
    if key_type != "API_KEY" {
        return Err(Problem::at(
            key_type_span,
            format!("{location}.KeyType: expected API_KEY, found '{key_type}'"),
        ));
    }
    let Some(key) = keys
        .iter()
        .find(|key| key.id == key_id || key.logical_id == key_id)
    else {
        return Err(Problem::at(
            key_span,
            format!("{location}.KeyId: '{key_id}' is not an AWS::ApiGateway::ApiKey of this template; use !Ref of one"),
        ));
    };
    let Some(plan) = plans
        .iter_mut()
        .find(|plan| plan.id == plan_id || plan.logical_id == plan_id)
    else {
        return Err(Problem::at(
            plan_span,
            format!("{location}.UsagePlanId: '{plan_id}' is not an AWS::ApiGateway::UsagePlan of this template; use !Ref of one"),
        ));
    };
    if plan.keys.contains(&key.logical_id) {
        return Err(Problem::at(
            raw.key_span,
            format!(
                "Resources.{}: key {} is already in usage plan {}",
                raw.logical_id, key.logical_id, plan.logical_id
            ),
        ));
    }
    plan.keys.push(key.logical_id.clone());
    Ok(())
}

/// API Gateway lets a key be in one usage plan per API stage.
fn check_one_plan_per_stage(
    created: &[RawResource<'_>],
    keys: &[ApiKey],
    plans: &[UsagePlan],
) -> Result<(), Problem> {
    for key in keys {
        let mut seen: Vec<(&str, &str, &str)> = Vec::new();
        for plan in plans
            .iter()
            .filter(|plan| plan.keys.contains(&key.logical_id))
        {
            for stage in &plan.stages {
                if let Some((_, _, other)) = seen
                    .iter()
                    .find(|(api, name, _)| *api == stage.api && *name == stage.stage)
                {
                    let span = created
                        .iter()
                        .find(|raw| raw.logical_id == plan.logical_id)
                        .map(|raw| raw.key_span)
                        .unwrap_or_default();
                    return Err(Problem::at(
                        span,
                        format!(
                            "Resources.{}: key {} is in usage plans {other} and {} which both cover stage '{}' of {}; API Gateway allows one plan per key and stage",
                            plan.logical_id, key.logical_id, plan.logical_id, stage.stage, stage.api
                        ),
                    ));
                }
                seen.push((&stage.api, &stage.stage, &plan.logical_id));
            }
        }
    }
    Ok(())
}
