//! AWS SAM template model: YAML with CloudFormation intrinsics in, a resolved app model out.
//!
//! [`load`] reads `template.yaml` (or `.yml`, or JSON), applies parameters, conditions,
//! globals and every intrinsic function, and returns an [`App`]. Resources and properties
//! that Serverful does not run yet are listed in [`App::unsupported`] for the caller to warn
//! about. Architecture invariant: this crate does no network IO and reads only the template
//! file; it knows nothing about how functions are built or run.
//!
//! Modules, in the order a template flows through them:
//! - `node`: the YAML tree with tags (`!Ref`) and line/column spans, from yaml-rust2's events;
//! - `intrinsics`: pseudo parameters, conditions, intrinsic functions, and the `Ref`/`GetAtt`
//!   values resources (including the ones SAM generates) have after SAM's transform on AWS;
//! - `names`: the physical names CloudFormation gives resources the template does not name
//!   ([`generated_name`]);
//! - `sam`: SAM's semantics, one module per concern: `parameters`, `globals`, `properties`
//!   (reading resource properties), `functions`, `apis` (APIs, stages and the events that
//!   make routes), `domains` (custom domains and their mappings to APIs), `versions`
//!   (function versions and aliases, `AutoPublishAlias`), `tables` and `outputs`, with the
//!   resources and their order in `sam` itself;
//! - `model`: the resolved [`App`] the rest of Serverful runs.
//!
//! Errors carry the file, line and column, and a message that starts with where in the
//! template the problem is (`Resources.Fn.Properties.Runtime: expected a string, found a list`).

mod api_keys;
mod auth;
mod event_rules;
mod intrinsics;
mod model;
mod names;
mod node;
mod sam;
mod schedules;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use api_keys::{ApiKey, ApiKeySource, Quota, QuotaPeriod, Throttle, UsagePlan, UsagePlanStage};
pub use auth::{Authorizer, AuthorizerKind, JwtAuthorizer, LambdaAuthorizer, RouteAuth};
pub use event_rules::{
    EventBus, EventRule, EventRuleMessageTarget, EventRuleTarget, EventTargetInput, DEFAULT_BUS,
};
pub use model::{
    Alias, AliasVersion, Api, ApiKind, ApiStage, App, AsyncDestination, Bucket, BucketNotification,
    BucketPolicy, Cors, DomainMapping, EventInvokeConfig, Function, FunctionCode, FunctionUrl,
    FunctionUrlAuthType, InvokeMode, Layer, LayerRef, Logging, MockResponse, Network,
    NotificationTarget, Output, PayloadFormat, Queue, QueueMapping, RequestValidation, Route,
    StreamMapping, Subscription, Table, Topic, Version, VersionWeight, WebSocketApi, WebSocketAuth,
    WebSocketAuthorizer, WebSocketRoute,
};
pub use names::{bucket_name, generated_name, is_valid_bucket_name, NameRule};
pub use schedules::{RetryPolicy, ScheduleKind, ScheduleSource, ScheduleTarget};

/// What the template is loaded for: the values a deployed stack would get from AWS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadOptions {
    /// `--parameter-overrides Name=Value`; these win over parameter defaults.
    pub parameter_overrides: BTreeMap<String, String>,
    pub region: String,
    pub account_id: String,
    pub stack_name: String,
    /// The numbers the platform published the template's function versions under, by the
    /// version's logical id (`MyFunctionVersion0a1b2c3d4e`, `MyVersion`), so that `Ref` and
    /// `Fn::GetAtt ... .Version` give them. A version not listed gets the next number after
    /// the highest its function has, as a deploy publishing it would; with none listed, a
    /// function's versions are 1, 2, ... in template order.
    pub version_numbers: BTreeMap<String, u32>,
    /// Where queue URLs point (`{base}/{account}/{name}`): the server's AWS endpoint, so
    /// that a queue's `Ref` is a URL SDKs can send to. `None` gives AWS's own
    /// (`https://sqs.{region}.amazonaws.com`).
    pub queue_url_base: Option<String>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            parameter_overrides: BTreeMap::new(),
            region: "us-east-1".to_owned(),
            account_id: "123456789012".to_owned(),
            stack_name: "serverful".to_owned(),
            version_numbers: BTreeMap::new(),
            queue_url_base: None,
        }
    }
}

/// A template that cannot be loaded: where and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct TemplateError {
    /// The template file, as the caller named it.
    pub path: PathBuf,
    /// 1-based, when the problem has a place in the file.
    pub line: Option<usize>,
    /// 1-based.
    pub column: Option<usize>,
    /// What is wrong, starting with where in the template (`Resources.X.Properties.Runtime: ...`).
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(formatter, ":{line}")?;
            if let Some(column) = self.column {
                write!(formatter, ":{column}")?;
            }
        }
        write!(formatter, ": {}", self.message)
    }
}

/// A problem found while loading, before the file path is attached.
#[derive(Debug)]
pub(crate) struct Problem {
    pub(crate) span: Option<node::Span>,
    pub(crate) message: String,
}

impl Problem {
    pub(crate) fn at(span: node::Span, message: impl Into<String>) -> Problem {
        Problem {
            span: Some(span),
            message: message.into(),
        }
    }

    pub(crate) fn nowhere(message: impl Into<String>) -> Problem {
        Problem {
            span: None,
            message: message.into(),
        }
    }

    fn into_error(self, path: &Path) -> TemplateError {
        TemplateError {
            path: path.to_owned(),
            line: self.span.map(|span| span.line),
            column: self.span.map(|span| span.column),
            message: self.message,
        }
    }
}

/// Loads the template at `path`: a folder holding `template.yaml` or `template.yml`, or the
/// template file itself.
pub fn load(path: &Path, options: &LoadOptions) -> Result<App, TemplateError> {
    let template_path = if path.is_dir() {
        let yaml = path.join("template.yaml");
        let yml = path.join("template.yml");
        if yaml.is_file() {
            yaml
        } else if yml.is_file() {
            yml
        } else {
            return Err(TemplateError {
                path: yaml,
                line: None,
                column: None,
                message: "no template.yaml or template.yml in this folder; pass the template file or the folder that holds it".to_owned(),
            });
        }
    } else {
        path.to_owned()
    };
    let source = std::fs::read_to_string(&template_path).map_err(|error| TemplateError {
        path: template_path.clone(),
        line: None,
        column: None,
        message: format!("cannot read the template: {error}"),
    })?;
    load_str(&source, &template_path, options)
}

/// Loads a template from `source`; `template_path` names it in errors and its folder is the
/// base `CodeUri` is resolved against.
pub fn load_str(
    source: &str,
    template_path: &Path,
    options: &LoadOptions,
) -> Result<App, TemplateError> {
    let parent = template_path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let base_dir = std::path::absolute(parent)
        .map(|absolute| sam::normalize(&absolute))
        .map_err(|error| TemplateError {
            path: template_path.to_owned(),
            line: None,
            column: None,
            message: format!("cannot make the template's folder absolute: {error}"),
        })?;
    // Editors on Windows may start the file with a byte order mark, which YAML ignores but
    // yaml-rust2 would read as part of the first key.
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let root = node::parse(source).map_err(|error| TemplateError {
        path: template_path.to_owned(),
        line: Some(error.span.line),
        column: Some(error.span.column),
        message: error.message,
    })?;
    sam::build(root.as_ref(), template_path, &base_dir, options)
        .map_err(|problem| problem.into_error(template_path))
}

#[cfg(test)]
mod tests;
