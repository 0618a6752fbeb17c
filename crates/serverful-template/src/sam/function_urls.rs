//! Lambda function URLs: SAM's `FunctionUrlConfig` on a function (or in `Globals`), which
//! makes a `{Function}Url` resource, and `AWS::Lambda::Url` resources.

use super::properties::{expect_number, expect_string, expect_strings, mapping};
use super::streams::{boolean, function_of_name};
use super::RawResource;
use crate::intrinsics::Resolver;
use crate::model::{Cors, Function, FunctionUrl, FunctionUrlAuthType, InvokeMode};
use crate::node::{Node, Span};
use crate::Problem;

pub(super) const LAMBDA_URL: &str = "AWS::Lambda::Url";

/// The longest `MaxAge` Lambda accepts, in seconds.
const MAX_AGE_LIMIT: u32 = 86_400;

/// The methods `AllowMethods` may name, besides `*`.
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// The logical id of the URL SAM makes for a function's `FunctionUrlConfig`.
pub(super) fn sam_url_id(function: &str) -> String {
    format!("{function}Url")
}

/// SAM's `FunctionUrlConfig` of a function (after globals): a URL on the function's
/// `AutoPublishAlias` when it has one, as SAM attaches it, else on the function.
pub(super) fn function_url_config(
    resolver: &Resolver<'_>,
    function: &Function,
    properties: Option<&Node>,
) -> Result<Option<FunctionUrl>, Problem> {
    let Some(node) = properties.and_then(|properties| properties.get("FunctionUrlConfig")) else {
        return Ok(None);
    };
    let location = format!(
        "Resources.{}.Properties.FunctionUrlConfig",
        function.logical_id
    );
    let Some(resolved) = resolver.resolve(node, &location)? else {
        return Ok(None);
    };
    if resolved.is_null() {
        return Ok(None);
    }
    let settings = Settings::read(&resolved, &location, &["AuthType", "Cors", "InvokeMode"])?;
    let auth_type = settings.auth_type(resolved.span, &location)?;
    let logical_id = sam_url_id(&function.logical_id);
    Ok(Some(FunctionUrl {
        url_id: resolver.function_url_id(&logical_id),
        logical_id,
        function: function.logical_id.clone(),
        qualifier: function.auto_publish_alias.clone(),
        auth_type,
        cors: settings.cors,
        invoke_mode: settings.invoke_mode,
    }))
}

/// An `AWS::Lambda::Url` resource, on a function of the template named by
/// `TargetFunctionArn` (its ARN or name, optionally with an alias) and `Qualifier`.
pub(super) fn url_resource(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    functions: &[Function],
) -> Result<FunctionUrl, Problem> {
    let logical_id = &raw.logical_id;
    let location = format!("Resources.{logical_id}.Properties");
    let Some(properties) = raw.properties else {
        return Err(Problem::at(
            raw.key_span,
            format!("{location}: missing; an {LAMBDA_URL} needs TargetFunctionArn and AuthType"),
        ));
    };
    let Some(resolved) = resolver.resolve(properties, &location)? else {
        return Err(Problem::at(
            raw.key_span,
            format!("{location}: missing; an {LAMBDA_URL} needs TargetFunctionArn and AuthType"),
        ));
    };
    let settings = Settings::read(
        &resolved,
        &location,
        &[
            "AuthType",
            "Cors",
            "InvokeMode",
            "Qualifier",
            "TargetFunctionArn",
        ],
    )?;
    let auth_type = settings.auth_type(raw.key_span, &location)?;
    let Some((target, target_span)) = settings.target else {
        return Err(Problem::at(
            raw.key_span,
            format!("{location}.TargetFunctionArn: missing; name the function (!GetAtt MyFunction.Arn, or an alias's !Ref)"),
        ));
    };
    let Some((function, target_qualifier)) = function_of_name(&target, functions) else {
        return Err(Problem::at(
            target_span,
            format!("{location}.TargetFunctionArn: no function of the template is {target}; use !GetAtt MyFunction.Arn"),
        ));
    };
    Ok(FunctionUrl {
        logical_id: logical_id.clone(),
        url_id: resolver.function_url_id(logical_id),
        function,
        qualifier: settings.qualifier.or(target_qualifier),
        auth_type,
        cors: settings.cors,
        invoke_mode: settings.invoke_mode,
    })
}

/// A URL's settings as read, before the required ones are checked.
struct Settings {
    auth_type: Option<FunctionUrlAuthType>,
    cors: Option<Cors>,
    invoke_mode: InvokeMode,
    qualifier: Option<String>,
    target: Option<(String, Span)>,
}

impl Settings {
    fn read(node: &Node, location: &str, known: &[&str]) -> Result<Settings, Problem> {
        let mut settings = Settings {
            auth_type: None,
            cors: None,
            invoke_mode: InvokeMode::Buffered,
            qualifier: None,
            target: None,
        };
        for entry in mapping(node, location)? {
            let key = entry.key.as_str();
            let value = &entry.value;
            let property_location = format!("{location}.{key}");
            if !known.contains(&key) {
                return Err(Problem::at(
                    entry.key_span,
                    format!(
                        "{property_location}: unknown property; use {}",
                        known.join(", ")
                    ),
                ));
            }
            if value.is_null() {
                continue;
            }
            match key {
                "AuthType" => {
                    settings.auth_type = Some(match expect_string(value, &property_location)?.as_str() {
                        "NONE" => FunctionUrlAuthType::None,
                        "AWS_IAM" => FunctionUrlAuthType::AwsIam,
                        other => {
                            return Err(Problem::at(
                                value.span,
                                format!("{property_location}: '{other}' is not an auth type; use NONE or AWS_IAM"),
                            ))
                        }
                    });
                }
                "InvokeMode" => {
                    settings.invoke_mode = match expect_string(value, &property_location)?.as_str() {
                        "BUFFERED" => InvokeMode::Buffered,
                        "RESPONSE_STREAM" => InvokeMode::ResponseStream,
                        other => {
                            return Err(Problem::at(
                                value.span,
                                format!("{property_location}: '{other}' is not an invoke mode; use BUFFERED or RESPONSE_STREAM"),
                            ))
                        }
                    };
                }
                "Cors" => settings.cors = Some(cors(value, &property_location)?),
                "Qualifier" => {
                    let qualifier = expect_string(value, &property_location)?;
                    settings.qualifier = (!qualifier.is_empty()).then_some(qualifier);
                }
                "TargetFunctionArn" => {
                    settings.target = Some((expect_string(value, &property_location)?, value.span));
                }
                _ => {}
            }
        }
        Ok(settings)
    }

    fn auth_type(&self, span: Span, location: &str) -> Result<FunctionUrlAuthType, Problem> {
        self.auth_type.ok_or_else(|| {
            Problem::at(
                span,
                format!("{location}.AuthType: missing; use NONE (anyone may call the URL) or AWS_IAM (SigV4-signed requests)"),
            )
        })
    }
}

fn cors(node: &Node, location: &str) -> Result<Cors, Problem> {
    let mut cors = Cors::default();
    for entry in mapping(node, location)? {
        let value = &entry.value;
        let property_location = format!("{location}.{}", entry.key);
        if value.is_null() {
            continue;
        }
        match entry.key.as_str() {
            "AllowCredentials" => cors.allow_credentials = boolean(value, &property_location)?,
            "AllowHeaders" => cors.allow_headers = expect_strings(value, &property_location)?,
            "AllowMethods" => {
                let methods = expect_strings(value, &property_location)?;
                if let Some(bad) = methods
                    .iter()
                    .find(|method| *method != "*" && !METHODS.contains(&method.as_str()))
                {
                    return Err(Problem::at(
                        value.span,
                        format!("{property_location}: '{bad}' is not a method; use * or {}", METHODS.join(", ")),
                    ));
                }
                cors.allow_methods = methods;
            }
            "AllowOrigins" => cors.allow_origins = expect_strings(value, &property_location)?,
            "ExposeHeaders" => cors.expose_headers = expect_strings(value, &property_location)?,
            "MaxAge" => {
                cors.max_age = Some(expect_number(value, &property_location, 0..=MAX_AGE_LIMIT)?)
            }
            other => {
                return Err(Problem::at(
                    entry.key_span,
                    format!("{location}.{other}: unknown property; use AllowCredentials, AllowHeaders, AllowMethods, AllowOrigins, ExposeHeaders or MaxAge"),
                ))
            }
        }
    }
    Ok(cors)
}
