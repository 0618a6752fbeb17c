//! Custom domain names: SAM's `Domain` on an API, `AWS::ApiGateway::DomainName` with
//! `AWS::ApiGateway::BasePathMapping`, and `AWS::ApiGatewayV2::DomainName` with
//! `AWS::ApiGatewayV2::ApiMapping`, read into the host names and base paths that lead to
//! an API's stage ([`DomainMapping`]). Certificates, endpoint types, TLS policies and
//! Route 53 records mean nothing on one machine: they are accepted and left alone.

use std::collections::BTreeMap;

use super::apis::api_reference;
use super::properties::{expect_string, expect_string_or_strings, mapping};
use super::RawResource;
use crate::intrinsics::{Resolver, Resource, ResourceKind};
use crate::model::{Api, ApiKind, DomainMapping};
use crate::names::fnv1a;
use crate::node::{Node, Span};
use crate::Problem;

pub(super) const REST_DOMAIN_NAME: &str = "AWS::ApiGateway::DomainName";
pub(super) const HTTP_DOMAIN_NAME: &str = "AWS::ApiGatewayV2::DomainName";
pub(super) const BASE_PATH_MAPPING: &str = "AWS::ApiGateway::BasePathMapping";
pub(super) const API_MAPPING: &str = "AWS::ApiGatewayV2::ApiMapping";

/// `Domain` properties that only matter on AWS (certificates, DNS, TLS, endpoint type).
const SAM_DOMAIN_IGNORED: &[&str] = &[
    "CertificateArn",
    "EndpointConfiguration",
    "Route53",
    "SecurityPolicy",
    "MutualTlsAuthentication",
    "OwnershipVerificationCertificateArn",
    "NormalizeBasePath",
];

/// Domain name resource properties that only matter on AWS.
const DOMAIN_NAME_IGNORED: &[&str] = &[
    "CertificateArn",
    "RegionalCertificateArn",
    "EndpointConfiguration",
    "SecurityPolicy",
    "MutualTlsAuthentication",
    "OwnershipVerificationCertificateArn",
    "DomainNameConfigurations",
    "Tags",
];

/// An API's `Domain` property (after globals), read.
pub(super) struct SamDomain {
    /// Lower-case, as host names compare.
    pub(super) domain_name: String,
    /// One per `BasePath` entry; `None` maps the whole domain.
    pub(super) base_paths: Vec<Option<String>>,
    /// Where the `Domain` property is, for errors about it.
    pub(super) span: Span,
}

/// The custom domains a template declares, by lower-case domain name: the declaring
/// resource's logical id and where it is.
#[derive(Default)]
pub(super) struct DeclaredDomains {
    by_name: BTreeMap<String, (String, Span)>,
}

impl DeclaredDomains {
    /// Records `domain_name` as declared by `logical_id`; a domain declared by two
    /// resources would fail on AWS (the second create finds it taken), so it is an error.
    fn declare(
        &mut self,
        domain_name: &str,
        logical_id: &str,
        span: Span,
        location: &str,
    ) -> Result<(), Problem> {
        match self.by_name.get(domain_name) {
            Some((other, _)) if other != logical_id => Err(Problem::at(
                span,
                format!("{location}: the domain '{domain_name}' is already declared by {other}; a domain name can be created once, then mapped to several APIs by base path"),
            )),
            Some(_) => Ok(()),
            None => {
                self.by_name
                    .insert(domain_name.to_owned(), (logical_id.to_owned(), span));
                Ok(())
            }
        }
    }
}

/// Reads an API's `Domain` (already resolved); `location` is `Resources.MyApi.Properties.Domain`.
pub(super) fn sam_domain(
    value: &Node,
    location: &str,
    api_logical_id: &str,
    unsupported: &mut Vec<String>,
) -> Result<SamDomain, Problem> {
    let mut domain_name = None;
    let mut base_paths = vec![None];
    for entry in mapping(value, location)? {
        let entry_location = format!("{location}.{}", entry.key);
        match entry.key.as_str() {
            "DomainName" => {
                let text = expect_string(&entry.value, &entry_location)?;
                domain_name = Some(checked_domain_name(
                    &text,
                    entry.value.span,
                    &entry_location,
                )?);
            }
            "BasePath" => {
                let paths = expect_string_or_strings(&entry.value, &entry_location)?;
                base_paths = Vec::with_capacity(paths.len().max(1));
                for path in &paths {
                    base_paths.push(checked_base_path(path, entry.value.span, &entry_location)?);
                }
                // `BasePath: []` maps the whole domain, like no `BasePath` at all.
                if base_paths.is_empty() {
                    base_paths.push(None);
                }
            }
            key if SAM_DOMAIN_IGNORED.contains(&key) => {}
            other => unsupported.push(format!("{api_logical_id}.Domain.{other}")),
        }
    }
    let Some(domain_name) = domain_name else {
        return Err(Problem::at(
            value.span,
            format!("{location}.DomainName: missing; a Domain needs the host name clients call, such as api.example.com"),
        ));
    };
    Ok(SamDomain {
        domain_name,
        base_paths,
        span: value.span,
    })
}

/// Makes the resources SAM's transform generates for an API's `Domain` (the domain name,
/// referenceable as `MyApi.DomainName`, and one mapping per base path) and returns the
/// mappings.
pub(super) fn register_sam_domain(
    resolver: &mut Resolver<'_>,
    declared: &mut DeclaredDomains,
    api: &Api,
    domain: &SamDomain,
) -> Result<Vec<(DomainMapping, Span)>, Problem> {
    // SAM names the domain resource after a hash of the domain, so APIs that share a
    // domain share the resource.
    let hash = fnv1a(&domain.domain_name) & 0xff_ffff_ffff;
    let (domain_id, domain_type, domain_kind, mapping_suffix, mapping_type, mapping_kind) =
        match api.kind {
            ApiKind::Rest => (
                format!("ApiGatewayDomainName{hash:010x}"),
                REST_DOMAIN_NAME,
                ResourceKind::RestDomainName,
                "BasePathMapping",
                BASE_PATH_MAPPING,
                ResourceKind::BasePathMapping,
            ),
            ApiKind::Http => (
                format!("ApiGatewayDomainNameV2{hash:010x}"),
                HTTP_DOMAIN_NAME,
                ResourceKind::HttpDomainName,
                "ApiMapping",
                API_MAPPING,
                ResourceKind::ApiMapping,
            ),
        };
    let location = format!("Resources.{}.Properties.Domain", api.logical_id);
    declared.declare(&domain.domain_name, &domain_id, domain.span, &location)?;
    resolver
        .resources
        .entry(domain_id.clone())
        .or_insert(Resource {
            type_name: domain_type.to_owned(),
            properties: None,
            kind: domain_kind,
        });
    resolver.set_physical_name(&domain_id, &domain.domain_name);
    resolver
        .referenceable
        .insert(format!("{}.DomainName", api.logical_id), domain_id);
    let mut mappings = Vec::with_capacity(domain.base_paths.len());
    for base_path in &domain.base_paths {
        let path_part: String = base_path
            .as_deref()
            .unwrap_or_default()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        let logical_id = format!("{}{path_part}{mapping_suffix}", api.logical_id);
        resolver
            .resources
            .entry(logical_id.clone())
            .or_insert(Resource {
                type_name: mapping_type.to_owned(),
                properties: None,
                kind: mapping_kind.clone(),
            });
        mappings.push((
            DomainMapping {
                logical_id,
                domain_name: domain.domain_name.clone(),
                base_path: base_path.clone(),
                api_logical_id: api.logical_id.clone(),
                stage: Some(api.stage_name.clone()),
            },
            domain.span,
        ));
    }
    Ok(mappings)
}

/// Reads an `AWS::ApiGateway::DomainName` or `AWS::ApiGatewayV2::DomainName` resource and
/// records the domain it declares.
pub(super) fn domain_name_resource(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    declared: &mut DeclaredDomains,
    unsupported: &mut Vec<String>,
) -> Result<(), Problem> {
    let logical_id = &raw.logical_id;
    let location = format!("Resources.{logical_id}.Properties");
    let empty = Node::plain("", raw.key_span);
    let mut domain_name = None;
    for entry in mapping(raw.properties.unwrap_or(&empty), &location)? {
        let entry_location = format!("{location}.{}", entry.key);
        match entry.key.as_str() {
            "DomainName" => {
                let text = resolver.resolve_string(&entry.value, &entry_location)?;
                let checked = checked_domain_name(&text, entry.value.span, &entry_location)?;
                domain_name = Some((checked, entry.value.span));
            }
            key if DOMAIN_NAME_IGNORED.contains(&key) => {}
            other => unsupported.push(format!("{logical_id}.{other}")),
        }
    }
    let Some((domain_name, span)) = domain_name else {
        return Err(Problem::at(
            raw.key_span,
            format!("{location}.DomainName: missing; an {} needs the host name clients call, such as api.example.com", raw.type_name),
        ));
    };
    declared.declare(
        &domain_name,
        logical_id,
        span,
        &format!("{location}.DomainName"),
    )
}

/// Reads an `AWS::ApiGateway::BasePathMapping` or `AWS::ApiGatewayV2::ApiMapping`: its
/// domain must be declared in the template, its API must be one of `apis`, and its stage
/// that API's stage.
pub(super) fn mapping_resource(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    apis: &[Api],
    declared: &DeclaredDomains,
    unsupported: &mut Vec<String>,
) -> Result<(DomainMapping, Span), Problem> {
    let logical_id = &raw.logical_id;
    let location = format!("Resources.{logical_id}.Properties");
    let rest = raw.type_name == BASE_PATH_MAPPING;
    let (api_key, path_key) = if rest {
        ("RestApiId", "BasePath")
    } else {
        ("ApiId", "ApiMappingKey")
    };
    let empty = Node::plain("", raw.key_span);
    let mut domain = None;
    let mut api = None;
    let mut base_path = None;
    let mut stage = None;
    for entry in mapping(raw.properties.unwrap_or(&empty), &location)? {
        let key = entry.key.as_str();
        let entry_location = format!("{location}.{key}");
        if key == api_key {
            api = Some((
                api_reference(&entry.value, &entry_location)?,
                entry.value.span,
            ));
            continue;
        }
        if !matches!(key, "DomainName" | "Stage") && key != path_key {
            unsupported.push(format!("{logical_id}.{key}"));
            continue;
        }
        let Some(value) = resolver.resolve(&entry.value, &entry_location)? else {
            continue;
        };
        let text = expect_string(&value, &entry_location)?;
        match key {
            "DomainName" => domain = Some((text, entry.value.span)),
            "Stage" => stage = Some((text, entry.value.span)),
            _ => base_path = checked_base_path(&text, entry.value.span, &entry_location)?,
        }
    }
    let missing = |key: &str, what: &str| {
        Problem::at(
            raw.key_span,
            format!(
                "{location}.{key}: missing; an {} needs {what}",
                raw.type_name
            ),
        )
    };
    let Some((domain_name, domain_span)) = domain else {
        return Err(missing(
            "DomainName",
            "the custom domain it maps, such as !Ref MyDomain",
        ));
    };
    let Some((api_logical_id, api_span)) = api else {
        return Err(missing(api_key, "the API it maps to, such as !Ref MyApi"));
    };
    if !rest && stage.is_none() {
        return Err(missing(
            "Stage",
            "the stage it maps to, such as !Ref MyApi.Stage",
        ));
    }

    let domain_name = domain_name.to_ascii_lowercase();
    if !declared.by_name.contains_key(&domain_name) {
        let declared_names: Vec<&str> = declared.by_name.keys().map(String::as_str).collect();
        let hint = if declared_names.is_empty() {
            format!("the template declares no domain; add an {REST_DOMAIN_NAME} or {HTTP_DOMAIN_NAME}, or a Domain on the API")
        } else {
            format!("its domains are {}", declared_names.join(", "))
        };
        return Err(Problem::at(
            domain_span,
            format!("{location}.DomainName: '{domain_name}' is not a custom domain of this template; {hint}"),
        ));
    }

    let api_location = format!("{location}.{api_key}");
    let Some(target) = apis.iter().find(|api| api.logical_id == api_logical_id) else {
        let message = if let Some(condition) = resolver.dropped_resources.get(&api_logical_id) {
            format!(
                "'{api_logical_id}' is not created because its condition '{condition}' is false"
            )
        } else if let Some(resource) = resolver.resources.get(&api_logical_id) {
            format!(
                "'{api_logical_id}' is of type {}; Serverful maps custom domains to AWS::Serverless::Api and AWS::Serverless::HttpApi APIs",
                resource.type_name
            )
        } else {
            format!("unknown API '{api_logical_id}'; declare it as an AWS::Serverless::Api or AWS::Serverless::HttpApi")
        };
        return Err(Problem::at(api_span, format!("{api_location}: {message}")));
    };
    if rest && target.kind == ApiKind::Http {
        return Err(Problem::at(
            api_span,
            format!(
                "{api_location}: '{api_logical_id}' is an HTTP API; map it with an {API_MAPPING}"
            ),
        ));
    }
    if let Some((stage_name, stage_span)) = &stage {
        if !target.stage_names().any(|known| known == stage_name) {
            return Err(Problem::at(
                *stage_span,
                format!(
                    "{location}.Stage: '{stage_name}' is not a stage of {api_logical_id}, whose stage is '{}'",
                    target.stage_name
                ),
            ));
        }
    }
    Ok((
        DomainMapping {
            logical_id: logical_id.clone(),
            domain_name,
            base_path,
            api_logical_id,
            stage: stage.map(|(stage_name, _)| stage_name),
        },
        raw.key_span,
    ))
}

/// Refuses two mappings of one domain and base path: API Gateway would reject the second.
pub(super) fn check_unique(mappings: &[(DomainMapping, Span)]) -> Result<(), Problem> {
    let mut seen: BTreeMap<(&str, Option<&str>), &str> = BTreeMap::new();
    for (mapping, span) in mappings {
        let key = (mapping.domain_name.as_str(), mapping.base_path.as_deref());
        if let Some(first) = seen.insert(key, &mapping.logical_id) {
            let path = mapping.base_path.as_deref().unwrap_or("(none)");
            return Err(Problem::at(
                *span,
                format!(
                    "Resources.{}: the base path '{path}' of {} is already mapped by {first}; give each API its own base path",
                    mapping.logical_id, mapping.domain_name
                ),
            ));
        }
    }
    Ok(())
}

/// A domain name as API Gateway takes it: letters, digits, dots and dashes, or a leading
/// `*.` wildcard; lower-cased, since host names compare without case.
fn checked_domain_name(text: &str, span: Span, location: &str) -> Result<String, Problem> {
    let name = text.trim().to_ascii_lowercase();
    let labels = name.strip_prefix("*.").unwrap_or(&name);
    let valid = !labels.is_empty()
        && labels.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|character| character.is_ascii_alphanumeric() || character == '-')
        });
    if valid && name.len() <= 253 {
        Ok(name)
    } else {
        Err(Problem::at(
            span,
            format!("{location}: '{text}' is not a domain name; use a host name such as api.example.com"),
        ))
    }
}

/// A base path without its surrounding slashes; `None` for the whole domain (`/`, empty,
/// or API Gateway's own `(none)`). Segments take the characters API Gateway allows.
fn checked_base_path(text: &str, span: Span, location: &str) -> Result<Option<String>, Problem> {
    let path = text.trim().trim_matches('/');
    if path.is_empty() || path == "(none)" {
        return Ok(None);
    }
    let valid = path.split('/').all(|segment| {
        !segment.is_empty()
            && segment.chars().all(|character| {
                character.is_ascii_alphanumeric() || "$-_.+!*'()".contains(character)
            })
    });
    if valid {
        Ok(Some(path.to_owned()))
    } else {
        Err(Problem::at(
            span,
            format!("{location}: '{text}' is not a base path; use path segments of letters, digits and $-_.+!*'(), such as v1 or orders/v2"),
        ))
    }
}
