//! Function versions and aliases: the version and alias SAM's transform makes for a
//! function's `AutoPublishAlias`, `AWS::Lambda::Version` and `AWS::Lambda::Alias`.
//!
//! They are read before any other resource, so that `!Ref MyFunction.Alias`, `!Ref
//! MyFunction.Version` and `!GetAtt MyVersion.Version` resolve wherever a template uses
//! them. Version numbers are what a deploy would give (see `LoadOptions::version_numbers`).

use std::collections::BTreeMap;

use super::properties::{expect_string, mapping};
use super::{RawResource, FUNCTION};
use crate::intrinsics::{Resolver, Resource, ResourceKind};
use crate::model::{Alias, AliasVersion, Version, VersionWeight};
use crate::names::fnv1a;
use crate::node::{Node, NodeKind, Span};
use crate::{LoadOptions, Problem};

pub(super) const LAMBDA_VERSION: &str = "AWS::Lambda::Version";
pub(super) const LAMBDA_ALIAS: &str = "AWS::Lambda::Alias";

/// Properties that tune provisioned capacity on AWS: nothing to do on one machine, but
/// worth a warning since the template expects them.
const CAPACITY_PROPERTIES: &[&str] = &[
    "ProvisionedConcurrencyConfig",
    "RuntimePolicy",
    "FunctionScalingConfig",
];

/// A version before its number is known: where it comes in the template, for numbering.
struct Pending {
    template_idx: usize,
    version: Version,
}

/// Reads every version and alias of the template, makes them `Ref`/`GetAtt` targets (and
/// SAM's `MyFunction.Version` and `MyFunction.Alias`), and checks the aliases.
/// `merged` holds each created resource's properties after globals.
pub(super) fn versions_and_aliases(
    resolver: &mut Resolver<'_>,
    created: &[RawResource<'_>],
    merged: &[Option<Node>],
    options: &LoadOptions,
    unsupported: &mut Vec<String>,
) -> Result<(Vec<Version>, Vec<Alias>), Problem> {
    let functions: Vec<&str> = created
        .iter()
        .filter(|raw| raw.type_name == FUNCTION)
        .map(|raw| raw.logical_id.as_str())
        .collect();
    let mut pending = Vec::new();
    // SAM's aliases, with where their `AutoPublishAlias` is for errors about them.
    let mut sam_aliases = Vec::new();
    for (template_idx, (raw, properties)) in created.iter().zip(merged).enumerate() {
        if raw.type_name != FUNCTION {
            continue;
        }
        let Some(properties) = properties else {
            continue;
        };
        if let Some((version, alias, span)) = auto_publish(resolver, raw, properties)? {
            pending.push(Pending {
                template_idx,
                version,
            });
            sam_aliases.push((alias, span));
        }
    }
    for (template_idx, raw) in created.iter().enumerate() {
        if raw.type_name == LAMBDA_VERSION {
            pending.push(Pending {
                template_idx,
                version: version_resource(resolver, raw, &functions, unsupported)?,
            });
        }
    }
    let versions = numbered(pending, options);

    for version in &versions {
        if version.auto_published {
            resolver.referenceable.insert(
                format!("{}.Version", version.function),
                version.logical_id.clone(),
            );
        }
        let kind = ResourceKind::Version {
            function: version.function.clone(),
            number: version.number,
        };
        set_kind(resolver, &version.logical_id, LAMBDA_VERSION, kind);
    }
    for (alias, _) in &sam_aliases {
        resolver.referenceable.insert(
            format!("{}.Alias", alias.function),
            alias.logical_id.clone(),
        );
        let kind = ResourceKind::Alias {
            function: alias.function.clone(),
            name: alias.name.clone(),
        };
        set_kind(resolver, &alias.logical_id, LAMBDA_ALIAS, kind);
    }

    // An alias's function and name first, so that `Ref` of any alias works while the rest
    // of the aliases are read.
    let mut declared_aliases = Vec::new();
    for raw in created.iter().filter(|raw| raw.type_name == LAMBDA_ALIAS) {
        let location = format!("Resources.{}.Properties", raw.logical_id);
        let function = function_property(resolver, raw, &functions)?;
        let Some(name_node) = raw.properties.and_then(|properties| properties.get("Name")) else {
            return Err(Problem::at(
                raw.key_span,
                format!("{location}.Name: missing; an {LAMBDA_ALIAS} needs a Name, such as live"),
            ));
        };
        let name_location = format!("{location}.Name");
        let name = resolver.resolve_string(name_node, &name_location)?;
        check_alias_name(&name, name_node.span, &name_location)?;
        let kind = ResourceKind::Alias {
            function: function.clone(),
            name: name.clone(),
        };
        set_kind(resolver, &raw.logical_id, LAMBDA_ALIAS, kind);
        declared_aliases.push((raw, function, name, name_node.span));
    }
    let mut aliases = sam_aliases;
    for (raw, function, name, name_span) in declared_aliases {
        let alias = alias_resource(resolver, raw, function, name, &versions, unsupported)?;
        aliases.push((alias, name_span));
    }
    let mut names = BTreeMap::new();
    for (alias, span) in &aliases {
        if let Some(first) = names.insert((&alias.function, &alias.name), &alias.logical_id) {
            return Err(Problem::at(
                *span,
                format!(
                    "Resources.{}: {} already has an alias named '{}' ({first}); alias names are unique per function",
                    alias.logical_id, alias.function, alias.name
                ),
            ));
        }
    }
    Ok((
        versions,
        aliases.into_iter().map(|(alias, _)| alias).collect(),
    ))
}

/// The version and alias SAM makes for a function's `AutoPublishAlias`, if it has one,
/// with where the property is.
fn auto_publish(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    properties: &Node,
) -> Result<Option<(Version, Alias, Span)>, Problem> {
    let function = &raw.logical_id;
    let location = format!("Resources.{function}.Properties");
    let Some(alias_node) = properties.get("AutoPublishAlias") else {
        return Ok(None);
    };
    let alias_location = format!("{location}.AutoPublishAlias");
    let Some(resolved) = resolver.resolve(alias_node, &alias_location)? else {
        return Ok(None);
    };
    let alias_name = expect_string(&resolved, &alias_location)?;
    check_alias_name(&alias_name, alias_node.span, &alias_location)?;
    let optional_string = |key: &str| -> Result<Option<String>, Problem> {
        let Some(node) = properties.get(key) else {
            return Ok(None);
        };
        let key_location = format!("{location}.{key}");
        match resolver.resolve(node, &key_location)? {
            Some(value) => Ok(Some(expect_string(&value, &key_location)?)),
            None => Ok(None),
        }
    };
    let code_sha256 = optional_string("AutoPublishCodeSha256")?;
    let description = optional_string("VersionDescription")?;
    let all_properties =
        optional_string("AutoPublishAliasAllProperties")?.as_deref() == Some("true");

    // SAM names the version after a hash of what makes a new version: the code (its
    // location as written; the code itself is the platform's to compare) and
    // `AutoPublishCodeSha256`, or every property with `AutoPublishAliasAllProperties`.
    let hashed = if all_properties {
        properties.to_json()
    } else {
        serde_json::json!({
            "CodeUri": properties.get("CodeUri").map(Node::to_json),
            "InlineCode": properties.get("InlineCode").map(Node::to_json),
            "AutoPublishCodeSha256": code_sha256,
        })
    };
    let hash = fnv1a(&hashed.to_string()) & 0xff_ffff_ffff;
    let version_id = format!("{function}Version{hash:010x}");
    let alias_part: String = alias_name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let alias_id = format!("{function}Alias{alias_part}");
    for (logical_id, type_name) in [(&version_id, LAMBDA_VERSION), (&alias_id, LAMBDA_ALIAS)] {
        if resolver.resources.contains_key(logical_id.as_str()) {
            return Err(Problem::at(
                alias_node.span,
                format!("{alias_location}: SAM makes the {type_name} {logical_id} for it, and the template already has a resource of that name"),
            ));
        }
    }
    let version = Version {
        logical_id: version_id.clone(),
        function: function.clone(),
        number: 0,
        description,
        code_sha256,
        auto_published: true,
    };
    let alias = Alias {
        logical_id: alias_id,
        function: function.clone(),
        name: alias_name,
        version: AliasVersion::Version(version_id),
        additional_versions: Vec::new(),
        description: None,
    };
    Ok(Some((version, alias, alias_node.span)))
}

/// An `AWS::Lambda::Version` resource, not numbered yet.
fn version_resource(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    functions: &[&str],
    unsupported: &mut Vec<String>,
) -> Result<Version, Problem> {
    let logical_id = &raw.logical_id;
    let location = format!("Resources.{logical_id}.Properties");
    let function = function_property(resolver, raw, functions)?;
    let mut description = None;
    let mut code_sha256 = None;
    let empty = Node::plain("", raw.key_span);
    for entry in mapping(raw.properties.unwrap_or(&empty), &location)? {
        let entry_location = format!("{location}.{}", entry.key);
        let target = match entry.key.as_str() {
            "FunctionName" => continue,
            "Description" => &mut description,
            "CodeSha256" => &mut code_sha256,
            other if CAPACITY_PROPERTIES.contains(&other) => {
                unsupported.push(format!("{logical_id}.{other} (provisioned capacity)"));
                continue;
            }
            other => {
                unsupported.push(format!("{logical_id}.{other}"));
                continue;
            }
        };
        if let Some(value) = resolver.resolve(&entry.value, &entry_location)? {
            *target = Some(expect_string(&value, &entry_location)?);
        }
    }
    Ok(Version {
        logical_id: logical_id.clone(),
        function,
        number: 0,
        description,
        code_sha256,
        auto_published: false,
    })
}

/// Numbers the versions as `options` says, else after each function's highest, in
/// template order (SAM's version at its function's place).
fn numbered(mut pending: Vec<Pending>, options: &LoadOptions) -> Vec<Version> {
    pending.sort_by_key(|pending| pending.template_idx);
    let mut highest: BTreeMap<String, u32> = BTreeMap::new();
    for pending in &pending {
        if let Some(number) = options.version_numbers.get(&pending.version.logical_id) {
            let function_highest = highest.entry(pending.version.function.clone()).or_default();
            *function_highest = (*function_highest).max(*number);
        }
    }
    pending
        .into_iter()
        .map(|Pending { mut version, .. }| {
            let function_highest = highest.entry(version.function.clone()).or_default();
            version.number = match options.version_numbers.get(&version.logical_id) {
                Some(number) => *number,
                None => {
                    *function_highest += 1;
                    *function_highest
                }
            };
            version
        })
        .collect()
}

/// An `AWS::Lambda::Alias` whose function and name are known: where it points, and how
/// it splits invocations between two versions.
fn alias_resource(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    function: String,
    name: String,
    versions: &[Version],
    unsupported: &mut Vec<String>,
) -> Result<Alias, Problem> {
    let logical_id = &raw.logical_id;
    let location = format!("Resources.{logical_id}.Properties");
    let empty = Node::plain("", raw.key_span);
    let mut version = None;
    let mut additional_versions = Vec::new();
    let mut description = None;
    for entry in mapping(raw.properties.unwrap_or(&empty), &location)? {
        let entry_location = format!("{location}.{}", entry.key);
        match entry.key.as_str() {
            "FunctionName" | "Name" => {}
            "FunctionVersion" => {
                version = Some((
                    alias_version(resolver, &entry.value, &entry_location, &function, versions)?,
                    entry.value.span,
                ));
            }
            "Description" => {
                if let Some(value) = resolver.resolve(&entry.value, &entry_location)? {
                    description = Some(expect_string(&value, &entry_location)?);
                }
            }
            "RoutingConfig" => {
                additional_versions =
                    routing(resolver, &entry.value, &entry_location, &function, versions)?;
            }
            other if CAPACITY_PROPERTIES.contains(&other) => {
                unsupported.push(format!("{logical_id}.{other} (provisioned capacity)"));
            }
            other => unsupported.push(format!("{logical_id}.{other}")),
        }
    }
    let Some((version, version_span)) = version else {
        return Err(Problem::at(
            raw.key_span,
            format!("{location}.FunctionVersion: missing; an {LAMBDA_ALIAS} needs the version it points to, such as !GetAtt MyVersion.Version or $LATEST"),
        ));
    };
    if let Some((additional, additional_span)) = additional_versions.first() {
        if version == AliasVersion::Latest || additional.version == AliasVersion::Latest {
            let span = if version == AliasVersion::Latest {
                version_span
            } else {
                *additional_span
            };
            return Err(Problem::at(
                span,
                format!("{location}: an alias that splits invocations between versions points at published versions only, not $LATEST"),
            ));
        }
        if additional.version == version {
            return Err(Problem::at(
                *additional_span,
                format!("{location}.RoutingConfig: the additional version is the alias's own FunctionVersion; name another version of {function}"),
            ));
        }
    }
    Ok(Alias {
        logical_id: logical_id.clone(),
        function,
        name,
        version,
        additional_versions: additional_versions
            .into_iter()
            .map(|(weight, _)| weight)
            .collect(),
        description,
    })
}

/// `RoutingConfig.AdditionalVersionWeights`: at most one version (Lambda's limit), with
/// a weight from 0.0 to 1.0.
fn routing(
    resolver: &Resolver<'_>,
    node: &Node,
    location: &str,
    function: &str,
    versions: &[Version],
) -> Result<Vec<(VersionWeight, Span)>, Problem> {
    let mut weights = Vec::new();
    for entry in mapping(node, location)? {
        if entry.key != "AdditionalVersionWeights" {
            return Err(Problem::at(
                entry.key_span,
                format!(
                    "{location}.{}: unknown property; RoutingConfig has AdditionalVersionWeights",
                    entry.key
                ),
            ));
        }
        let list_location = format!("{location}.AdditionalVersionWeights");
        let items = match &entry.value.kind {
            NodeKind::Sequence(items) if entry.value.tag.is_none() => items,
            _ => {
                return Err(Problem::at(
                    entry.value.span,
                    format!(
                        "{list_location}: expected a list of {{FunctionVersion, FunctionWeight}}, found {}",
                        entry.value.describe()
                    ),
                ))
            }
        };
        if items.len() > 1 {
            return Err(Problem::at(
                items[1].span,
                format!("{list_location}: Lambda routes an alias to at most one additional version, found {}", items.len()),
            ));
        }
        for (item_idx, item) in items.iter().enumerate() {
            let item_location = format!("{list_location}[{item_idx}]");
            let mut version = None;
            let mut weight = None;
            for field in mapping(item, &item_location)? {
                let field_location = format!("{item_location}.{}", field.key);
                match field.key.as_str() {
                    "FunctionVersion" => {
                        version = Some(alias_version(
                            resolver,
                            &field.value,
                            &field_location,
                            function,
                            versions,
                        )?);
                    }
                    "FunctionWeight" => {
                        let text = resolver.resolve_string(&field.value, &field_location)?;
                        weight = match text.trim().parse::<f64>() {
                            Ok(value) if (0.0..=1.0).contains(&value) => Some(value),
                            _ => {
                                return Err(Problem::at(
                                    field.value.span,
                                    format!("{field_location}: '{text}' is not a weight; use a number from 0.0 to 1.0, the share of invocations this version takes"),
                                ))
                            }
                        };
                    }
                    other => {
                        return Err(Problem::at(
                            field.key_span,
                            format!("{field_location}: unknown property '{other}'; an entry has FunctionVersion and FunctionWeight"),
                        ))
                    }
                }
            }
            let (Some(version), Some(weight)) = (version, weight) else {
                return Err(Problem::at(
                    item.span,
                    format!(
                        "{item_location}: an entry needs both FunctionVersion and FunctionWeight"
                    ),
                ));
            };
            weights.push((VersionWeight { version, weight }, item.span));
        }
    }
    let total: f64 = weights.iter().map(|(weight, _)| weight.weight).sum();
    if total > 1.0 {
        let span = weights.last().map(|(_, span)| *span).unwrap_or(node.span);
        return Err(Problem::at(
            span,
            format!(
                "{location}.AdditionalVersionWeights: the weights add up to {total}, more than 1.0"
            ),
        ));
    }
    Ok(weights)
}

/// An alias's `FunctionVersion` (or a routing entry's): `!GetAtt MyVersion.Version` of a
/// version of the alias's own function, `$LATEST`, or a version number.
fn alias_version(
    resolver: &Resolver<'_>,
    node: &Node,
    location: &str,
    function: &str,
    versions: &[Version],
) -> Result<AliasVersion, Problem> {
    // Read as written first: a number alone cannot tell whose version it is.
    if let Some(target) = version_attribute_target(node) {
        if let Some(version) = versions.iter().find(|version| version.logical_id == target) {
            if version.function != function {
                return Err(Problem::at(
                    node.span,
                    format!(
                        "{location}: {target} is a version of {}, not of {function}; an alias points at versions of its own function",
                        version.function
                    ),
                ));
            }
            return Ok(AliasVersion::Version(target));
        }
    }
    let text = resolver.resolve_string(node, location)?;
    if text == "$LATEST" {
        return Ok(AliasVersion::Latest);
    }
    match text.trim().parse::<u32>() {
        Ok(number) if number > 0 => Ok(versions
            .iter()
            .find(|version| version.function == function && version.number == number)
            .map_or(AliasVersion::Number(number), |version| {
                AliasVersion::Version(version.logical_id.clone())
            })),
        _ => Err(Problem::at(
            node.span,
            format!("{location}: expected a version number, $LATEST or !GetAtt MyVersion.Version, found '{text}'"),
        )),
    }
}

/// `X` of `!GetAtt X.Version`, `!GetAtt [X, Version]` or their long forms.
fn version_attribute_target(node: &Node) -> Option<String> {
    let argument = match (&node.tag, node.as_mapping()) {
        (Some(tag), _) if tag == "!GetAtt" => node,
        (None, Some([entry])) if entry.key == "Fn::GetAtt" => &entry.value,
        _ => return None,
    };
    match &argument.kind {
        NodeKind::Scalar { text, .. } => match text.split_once('.') {
            Some((target, "Version")) => Some(target.to_owned()),
            _ => None,
        },
        NodeKind::Sequence(items) => match items.as_slice() {
            [target, attribute] if attribute.as_scalar() == Some("Version") => {
                target.as_scalar().map(str::to_owned)
            }
            _ => None,
        },
        NodeKind::Mapping(_) => None,
    }
}

/// The logical id of the template function a version's or alias's `FunctionName` names:
/// by `!Ref`, by its name or by its ARN (a qualifier is ignored).
fn function_property(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    functions: &[&str],
) -> Result<String, Problem> {
    let location = format!("Resources.{}.Properties.FunctionName", raw.logical_id);
    let Some(node) = raw
        .properties
        .and_then(|properties| properties.get("FunctionName"))
    else {
        return Err(Problem::at(
            raw.key_span,
            format!("{location}: missing; an {} needs the function it belongs to, such as !Ref MyFunction", raw.type_name),
        ));
    };
    let text = resolver.resolve_string(node, &location)?;
    let without_arn = text
        .rsplit_once(":function:")
        .map_or(text.as_str(), |(_, rest)| rest);
    let name = without_arn.split(':').next().unwrap_or_default();
    for function in functions {
        if resolver.physical_name(function, "FunctionName")? == name {
            return Ok((*function).to_owned());
        }
    }
    Err(Problem::at(
        node.span,
        format!("{location}: '{text}' is not a function of this template; name an AWS::Serverless::Function, such as !Ref MyFunction"),
    ))
}

/// Alias names as Lambda takes them: letters, digits, `-` and `_`, not only digits (those
/// are version numbers), at most 128 characters.
fn check_alias_name(name: &str, span: Span, location: &str) -> Result<(), Problem> {
    let valid = (1..=128).contains(&name.len())
        && name
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || matches!(character, '-' | '_'))
        && !name.chars().all(|character| character.is_ascii_digit());
    if valid {
        Ok(())
    } else {
        Err(Problem::at(
            span,
            format!("{location}: '{name}' is not an alias name; use letters, digits, - and _ (not only digits, which name versions), such as live"),
        ))
    }
}

/// Registers a version or alias under `logical_id` with its final kind.
fn set_kind(resolver: &mut Resolver<'_>, logical_id: &str, type_name: &str, kind: ResourceKind) {
    let resource = resolver
        .resources
        .entry(logical_id.to_owned())
        .or_insert(Resource {
            type_name: type_name.to_owned(),
            properties: None,
            kind: kind.clone(),
        });
    resource.kind = kind;
}
