//! CloudFormation intrinsic functions, pseudo parameters, conditions and the `Ref`/`GetAtt`
//! values of resources, resolved on the YAML tree.
//!
//! Resolving a node gives a node with no intrinsics left, or `None` where `AWS::NoValue` asks
//! for the value to disappear. Resource references resolve as they would after SAM's
//! transform on AWS, but with the local region, account and stack name.

use std::cell::RefCell;
use std::collections::BTreeMap;

use base64::Engine as _;

use crate::names::{fnv1a, generated_name, hashed_chars, Case, NameRule};
use crate::node::{Entry, Node, NodeKind, Span};
use crate::{LoadOptions, Problem};

/// A parameter's value after defaults and overrides.
#[derive(Clone, Debug)]
pub(crate) enum ParameterValue {
    String(String),
    /// Kept apart from strings so `Metadata` renders it as a JSON number.
    Number(String),
    List(Vec<String>),
}

/// What a resource's `Ref` and `Fn::GetAtt` give.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ResourceKind {
    Function,
    Role,
    RestApi,
    HttpApi,
    /// `AWS::ApiGatewayV2::Api` with `ProtocolType: WEBSOCKET`: `Ref` gives its id,
    /// `ApiEndpoint` its `wss://` URL.
    WebSocketApi,
    Stage {
        stage_name: String,
    },
    Deployment,
    Table,
    Queue,
    Topic,
    /// `AWS::S3::Bucket`: `Ref` gives the bucket's name.
    Bucket,
    /// `AWS::Events::EventBus`: `Ref` gives the bus's name.
    EventBus,
    /// `AWS::Events::Rule`: `Ref` gives the rule's name.
    EventRule,
    /// `AWS::Serverless::LayerVersion` and `AWS::Lambda::LayerVersion`: `Ref` gives the
    /// version ARN.
    Layer,
    /// `AWS::ApiGateway::DomainName`, declared or made by SAM for a REST API's `Domain`:
    /// `Ref` gives the domain name.
    RestDomainName,
    /// `AWS::ApiGatewayV2::DomainName`, declared or made by SAM for an HTTP API's `Domain`:
    /// `Ref` gives the domain name.
    HttpDomainName,
    /// `AWS::ApiGateway::BasePathMapping`: `Ref` gives an id (CloudFormation documents no
    /// value; nothing in a template needs one).
    BasePathMapping,
    /// `AWS::ApiGatewayV2::ApiMapping`: `Ref` gives the mapping's id.
    ApiMapping,
    /// `AWS::Lambda::Version`, declared or made by SAM for `AutoPublishAlias`: `Ref` gives
    /// the version's ARN (`...:function:NAME:3`). The function and number are set once
    /// every version is known (`sam::versions`); until then the function is empty.
    Version {
        /// The logical id of the function.
        function: String,
        number: u32,
    },
    /// `AWS::Lambda::Alias`, declared or made by SAM for `AutoPublishAlias`: `Ref` gives
    /// the alias's ARN (`...:function:NAME:live`).
    Alias {
        /// The logical id of the function.
        function: String,
        name: String,
    },
    /// `AWS::Lambda::Url`, declared or made by SAM for a function's `FunctionUrlConfig`:
    /// `Ref` gives the function's ARN (qualified when the URL is), `FunctionUrl` the URL.
    FunctionUrl {
        /// The logical id of the function, for SAM's URL; `None` for a declared one, whose
        /// `TargetFunctionArn` (and `Qualifier`) say.
        function: Option<String>,
    },
    /// `AWS::ApiGateway::ApiKey`, declared or made by SAM for `Auth.UsagePlan`: `Ref` gives
    /// the key's id, as does `APIKeyId`.
    ApiKey,
    /// `AWS::ApiGateway::UsagePlan`, declared or made by SAM: `Ref` gives the plan's id, as
    /// does `Id`.
    UsagePlan,
    /// Types Serverful knows nothing about; `Ref` gives the logical id.
    Other,
}

#[derive(Clone, Debug)]
pub(crate) struct Resource<'t> {
    pub(crate) type_name: String,
    pub(crate) properties: Option<&'t Node>,
    pub(crate) kind: ResourceKind,
}

pub(crate) struct Resolver<'t> {
    options: &'t LoadOptions,
    pub(crate) parameters: BTreeMap<String, ParameterValue>,
    mappings: Option<&'t Node>,
    conditions: BTreeMap<String, &'t Node>,
    condition_values: RefCell<BTreeMap<String, bool>>,
    /// The chain of conditions being evaluated, to report cycles instead of overflowing.
    conditions_in_progress: RefCell<Vec<String>>,
    pub(crate) resources: BTreeMap<String, Resource<'t>>,
    /// Resources left out because their condition is false, with that condition.
    pub(crate) dropped_resources: BTreeMap<String, String>,
    physical_names: RefCell<BTreeMap<String, String>>,
    names_in_progress: RefCell<Vec<String>>,
    /// SAM's referenceable properties (`MyApi.DomainName`, `MyFunction.Alias`): the name
    /// `Ref` and `Fn::Sub` take, and the logical id of the generated resource it stands for.
    pub(crate) referenceable: BTreeMap<String, String>,
}

/// The hosted zone of every CloudFront distribution, which edge-optimized custom domains
/// report as their `DistributionHostedZoneId`.
const CLOUDFRONT_HOSTED_ZONE_ID: &str = "Z2FDTNDATAQYW2";

/// The intrinsic functions [`Resolver::call`] evaluates.
const SUPPORTED: &[&str] = &[
    "Ref",
    "Condition",
    "Fn::GetAtt",
    "Fn::Sub",
    "Fn::Join",
    "Fn::Select",
    "Fn::Split",
    "Fn::If",
    "Fn::Equals",
    "Fn::Not",
    "Fn::And",
    "Fn::Or",
    "Fn::FindInMap",
    "Fn::Base64",
    "Fn::GetAZs",
    "Fn::Length",
    "Fn::ToJsonString",
];

/// Intrinsics that need AWS or other stacks and so cannot be resolved locally.
const NOT_SUPPORTED: &[&str] = &[
    "Fn::ImportValue",
    "Fn::Cidr",
    "Fn::Transform",
    "Fn::ForEach",
    "Fn::GetStackOutput",
];

impl<'t> Resolver<'t> {
    pub(crate) fn new(
        options: &'t LoadOptions,
        parameters: BTreeMap<String, ParameterValue>,
        mappings: Option<&'t Node>,
        conditions: BTreeMap<String, &'t Node>,
    ) -> Resolver<'t> {
        Resolver {
            options,
            parameters,
            mappings,
            conditions,
            condition_values: RefCell::new(BTreeMap::new()),
            conditions_in_progress: RefCell::new(Vec::new()),
            resources: BTreeMap::new(),
            dropped_resources: BTreeMap::new(),
            physical_names: RefCell::new(BTreeMap::new()),
            names_in_progress: RefCell::new(Vec::new()),
            referenceable: BTreeMap::new(),
        }
    }

    /// Resolves every intrinsic in `node`; `location` (`Resources.X.Properties.Y`) starts messages.
    pub(crate) fn resolve(&self, node: &Node, location: &str) -> Result<Option<Node>, Problem> {
        if let Some(tag) = &node.tag {
            let Some(short_name) = tag.strip_prefix('!') else {
                return Err(Problem::at(
                    node.span,
                    format!("{location}: unknown YAML tag '{tag}'"),
                ));
            };
            let function = match short_name {
                "Ref" | "Condition" => short_name.to_owned(),
                _ => format!("Fn::{short_name}"),
            };
            if !SUPPORTED.contains(&function.as_str())
                && !NOT_SUPPORTED.contains(&function.as_str())
            {
                return Err(Problem::at(
                    node.span,
                    format!("{location}: unknown tag '{tag}'; the short forms are !Ref, !GetAtt, !Sub, !Join, !If, !Select, !Split, !Equals, !Not, !And, !Or, !FindInMap, !Base64, !GetAZs and !Condition"),
                ));
            }
            let mut argument = node.clone();
            argument.tag = None;
            return self.call(&function, &argument, node.span, location);
        }
        match &node.kind {
            NodeKind::Scalar { .. } => Ok(Some(node.clone())),
            NodeKind::Sequence(items) => {
                let mut resolved = Vec::with_capacity(items.len());
                for (item_idx, item) in items.iter().enumerate() {
                    if let Some(item) = self.resolve(item, &format!("{location}[{item_idx}]"))? {
                        resolved.push(item);
                    }
                }
                Ok(Some(Node::sequence(resolved, node.span)))
            }
            NodeKind::Mapping(entries) => {
                if let [entry] = entries.as_slice() {
                    if entry.key == "Ref" || entry.key.starts_with("Fn::") {
                        return self.call(&entry.key, &entry.value, entry.key_span, location);
                    }
                }
                let mut resolved = Vec::with_capacity(entries.len());
                for entry in entries {
                    let value_location = format!("{location}.{}", entry.key);
                    if let Some(value) = self.resolve(&entry.value, &value_location)? {
                        resolved.push(Entry {
                            key: entry.key.clone(),
                            key_span: entry.key_span,
                            value,
                        });
                    }
                }
                Ok(Some(Node {
                    kind: NodeKind::Mapping(resolved),
                    tag: None,
                    span: node.span,
                }))
            }
        }
    }

    /// Resolves a value that must be there: `AWS::NoValue` is an error.
    pub(crate) fn resolve_required(&self, node: &Node, location: &str) -> Result<Node, Problem> {
        self.resolve(node, location)?.ok_or_else(|| {
            Problem::at(
                node.span,
                format!("{location}: AWS::NoValue cannot be used here; a value is required"),
            )
        })
    }

    /// Resolves a value that must be a string (numbers and booleans count as their text).
    pub(crate) fn resolve_string(&self, node: &Node, location: &str) -> Result<String, Problem> {
        let resolved = self.resolve_required(node, location)?;
        match resolved.as_scalar() {
            Some(text) => Ok(text.to_owned()),
            None => Err(Problem::at(
                node.span,
                format!(
                    "{location}: expected a string, found {}",
                    resolved.describe()
                ),
            )),
        }
    }

    fn call(
        &self,
        function: &str,
        argument: &Node,
        span: Span,
        location: &str,
    ) -> Result<Option<Node>, Problem> {
        let here =
            |message: String| Problem::at(span, format!("{location}: {function}: {message}"));
        match function {
            "Ref" => {
                let Some(name) = argument.as_scalar() else {
                    return Err(here(format!(
                        "expected the name of a parameter or resource, found {}",
                        argument.describe()
                    )));
                };
                self.ref_value(name, span, location)
            }
            "Fn::GetAtt" => self.get_att_call(argument, span, location),
            "Fn::Sub" => self.sub_call(argument, span, location),
            "Fn::Join" => {
                let [delimiter, list] = self.arguments::<2>(function, argument, span, location)?;
                let delimiter = self.resolve_string(delimiter, location)?;
                let items = self.resolve_list(function, list, location)?;
                let mut texts = Vec::with_capacity(items.len());
                for item in &items {
                    match item.as_scalar() {
                        Some(text) => texts.push(text.to_owned()),
                        None => {
                            return Err(Problem::at(
                                item.span,
                                format!(
                                    "{location}: {function}: can only join strings, found {}",
                                    item.describe()
                                ),
                            ))
                        }
                    }
                }
                Ok(Some(Node::string(texts.join(&delimiter), span)))
            }
            "Fn::Select" => {
                let [index, list] = self.arguments::<2>(function, argument, span, location)?;
                let index_text = self.resolve_string(index, location)?;
                let Ok(index) = index_text.trim().parse::<usize>() else {
                    return Err(here(format!(
                        "the index must be a whole number, found '{index_text}'"
                    )));
                };
                let items = self.resolve_list(function, list, location)?;
                match items.get(index) {
                    Some(item) => Ok(Some(item.clone())),
                    None => Err(here(format!(
                        "index {index} is out of range for a list of {} items",
                        items.len()
                    ))),
                }
            }
            "Fn::Split" => {
                let [delimiter, source] = self.arguments::<2>(function, argument, span, location)?;
                let delimiter = self.resolve_string(delimiter, location)?;
                if delimiter.is_empty() {
                    return Err(here("the delimiter must not be empty".to_owned()));
                }
                let source = self.resolve_string(source, location)?;
                let items = source
                    .split(delimiter.as_str())
                    .map(|part| Node::string(part, span))
                    .collect();
                Ok(Some(Node::sequence(items, span)))
            }
            "Fn::If" => {
                let [condition, when_true, when_false] =
                    self.arguments::<3>(function, argument, span, location)?;
                let Some(condition_name) = condition.as_scalar() else {
                    return Err(here(format!(
                        "the first item must be a condition name, found {}",
                        condition.describe()
                    )));
                };
                // Only the chosen branch is resolved, as on CloudFormation: the other may
                // refer to resources its condition leaves out.
                if self.condition(condition_name, condition.span, location)? {
                    self.resolve(when_true, location)
                } else {
                    self.resolve(when_false, location)
                }
            }
            "Fn::Equals" => {
                let [left, right] = self.arguments::<2>(function, argument, span, location)?;
                let left = self.resolve_required(left, location)?;
                let right = self.resolve_required(right, location)?;
                Ok(Some(boolean(same_value(&left, &right), span)))
            }
            "Fn::Not" => {
                let [operand] = self.arguments::<1>(function, argument, span, location)?;
                let value = self.condition_expression(operand, location)?;
                Ok(Some(boolean(!value, span)))
            }
            "Fn::And" | "Fn::Or" => {
                let operands = match (&argument.kind, &argument.tag) {
                    (NodeKind::Sequence(items), None) if (2..=10).contains(&items.len()) => items,
                    _ => {
                        return Err(here(format!(
                            "expected a list of 2 to 10 conditions, found {}",
                            describe_arity(argument)
                        )))
                    }
                };
                let is_and = function == "Fn::And";
                // Every operand is evaluated, so an error in any of them is reported.
                let mut result = is_and;
                for operand in operands {
                    let value = self.condition_expression(operand, location)?;
                    result = if is_and { result && value } else { result || value };
                }
                Ok(Some(boolean(result, span)))
            }
            "Condition" => {
                let Some(name) = argument.as_scalar() else {
                    return Err(here(format!(
                        "expected a condition name, found {}",
                        argument.describe()
                    )));
                };
                Ok(Some(boolean(self.condition(name, span, location)?, span)))
            }
            "Fn::FindInMap" => {
                let [map_name, top_key, second_key] =
                    self.arguments::<3>(function, argument, span, location)?;
                let map_name = self.resolve_string(map_name, location)?;
                let top_key = self.resolve_string(top_key, location)?;
                let second_key = self.resolve_string(second_key, location)?;
                let Some(map) = self.mappings.and_then(|mappings| mappings.get(&map_name)) else {
                    return Err(here(format!(
                        "there is no mapping '{map_name}' under Mappings"
                    )));
                };
                let Some(top) = map.get(&top_key) else {
                    return Err(here(format!(
                        "mapping '{map_name}' has no key '{top_key}'"
                    )));
                };
                let Some(value) = top.get(&second_key) else {
                    return Err(here(format!(
                        "mapping '{map_name}' has no key '{top_key}.{second_key}'"
                    )));
                };
                Ok(Some(value.clone()))
            }
            "Fn::Base64" => {
                let text = self.resolve_string(argument, location)?;
                let encoded = base64::engine::general_purpose::STANDARD.encode(text);
                Ok(Some(Node::string(encoded, span)))
            }
            "Fn::GetAZs" => {
                let region = self.resolve_string(argument, location)?;
                let region = if region.is_empty() {
                    self.options.region.clone()
                } else {
                    region
                };
                let zones = ["a", "b", "c"]
                    .iter()
                    .map(|suffix| Node::string(format!("{region}{suffix}"), span))
                    .collect();
                Ok(Some(Node::sequence(zones, span)))
            }
            "Fn::Length" => {
                let items = self.resolve_list(function, argument, location)?;
                Ok(Some(Node::plain(items.len().to_string(), span)))
            }
            "Fn::ToJsonString" => {
                let value = self.resolve_required(argument, location)?;
                Ok(Some(Node::string(value.to_json().to_string(), span)))
            }
            _ if NOT_SUPPORTED.contains(&function) => Err(here(
                "is not supported by Serverful, which runs one stack without AWS; use a parameter instead".to_owned(),
            )),
            _ => Err(Problem::at(
                span,
                format!("{location}: unknown intrinsic function '{function}'"),
            )),
        }
    }

    /// `Fn::GetAtt` in its `Resource.Attribute` and `[Resource, Attribute]` forms.
    fn get_att_call(
        &self,
        argument: &Node,
        span: Span,
        location: &str,
    ) -> Result<Option<Node>, Problem> {
        let function = "Fn::GetAtt";
        let here =
            |message: String| Problem::at(span, format!("{location}: {function}: {message}"));
        let (resource, attribute) = match (&argument.kind, &argument.tag) {
            (NodeKind::Scalar { text, .. }, None) => match text.split_once('.') {
                Some((resource, attribute)) => (resource.to_owned(), attribute.to_owned()),
                None => {
                    return Err(here(format!(
                        "expected 'Resource.Attribute', found '{text}'"
                    )))
                }
            },
            (NodeKind::Sequence(items), None) if items.len() == 2 => {
                let Some(resource) = items[0].as_scalar() else {
                    return Err(here(format!(
                        "expected a resource name, found {}",
                        items[0].describe()
                    )));
                };
                let attribute = self.resolve_string(&items[1], location)?;
                (resource.to_owned(), attribute)
            }
            _ => {
                return Err(here(format!(
                    "expected 'Resource.Attribute' or [Resource, Attribute], found {}",
                    argument.describe()
                )))
            }
        };
        let value = self.get_att(&resource, &attribute, span, location)?;
        Ok(Some(Node::string(value, span)))
    }

    /// `Fn::Sub` in its string and `[String, {Name: Value}]` forms.
    fn sub_call(
        &self,
        argument: &Node,
        span: Span,
        location: &str,
    ) -> Result<Option<Node>, Problem> {
        let function = "Fn::Sub";
        let here =
            |message: String| Problem::at(span, format!("{location}: {function}: {message}"));
        let (template, variables_node) = match (&argument.kind, &argument.tag) {
            (NodeKind::Scalar { text, .. }, None) => (text.as_str(), None),
            (NodeKind::Sequence(items), None) if items.len() == 2 => {
                let Some(template) = items[0].as_scalar() else {
                    return Err(here(format!(
                        "the first item must be the string to substitute into, found {}",
                        items[0].describe()
                    )));
                };
                (template, Some(&items[1]))
            }
            _ => {
                return Err(here(format!(
                    "expected a string or [String, {{Name: Value}}], found {}",
                    argument.describe()
                )))
            }
        };
        let mut variables = BTreeMap::new();
        if let Some(variables_node) = variables_node {
            let Some(entries) = variables_node.as_mapping() else {
                return Err(Problem::at(
                    variables_node.span,
                    format!(
                        "{location}: {function}: the second item must be a mapping of variables, found {}",
                        variables_node.describe()
                    ),
                ));
            };
            for entry in entries {
                let value = self.resolve_string(&entry.value, location)?;
                variables.insert(entry.key.clone(), value);
            }
        }
        let value = self.substitute(template, &variables, span, location)?;
        Ok(Some(Node::string(value, span)))
    }

    /// The literal list of exactly `N` arguments an intrinsic takes.
    fn arguments<'n, const N: usize>(
        &self,
        function: &str,
        argument: &'n Node,
        span: Span,
        location: &str,
    ) -> Result<&'n [Node; N], Problem> {
        if let (NodeKind::Sequence(items), None) = (&argument.kind, &argument.tag) {
            if let Ok(items) = <&[Node; N]>::try_from(items.as_slice()) {
                return Ok(items);
            }
        }
        let noun = if N == 1 { "item" } else { "items" };
        Err(Problem::at(
            span,
            format!(
                "{location}: {function}: expected a list of {N} {noun}, found {}",
                describe_arity(argument)
            ),
        ))
    }

    fn resolve_list(
        &self,
        function: &str,
        node: &Node,
        location: &str,
    ) -> Result<Vec<Node>, Problem> {
        let resolved = self.resolve_required(node, location)?;
        match resolved.kind {
            NodeKind::Sequence(items) => Ok(items),
            _ => Err(Problem::at(
                node.span,
                format!(
                    "{location}: {function}: expected a list, found {}",
                    resolved.describe()
                ),
            )),
        }
    }

    fn substitute(
        &self,
        template: &str,
        variables: &BTreeMap<String, String>,
        span: Span,
        location: &str,
    ) -> Result<String, Problem> {
        let mut output = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            output.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            // `${!Name}` is how a template writes a literal `${Name}`.
            if let Some(literal) = after.strip_prefix('!') {
                output.push_str("${");
                rest = literal;
                continue;
            }
            let Some(end) = after.find('}') else {
                return Err(Problem::at(
                    span,
                    format!("{location}: Fn::Sub: '${{' without a closing '}}'; write '${{!' for a literal '${{'"),
                ));
            };
            let name = after[..end].trim();
            let value = if let Some(value) = variables.get(name) {
                value.clone()
            } else if name.is_empty() {
                return Err(Problem::at(
                    span,
                    format!("{location}: Fn::Sub: empty variable '${{}}'"),
                ));
            } else if let Some(target) = self.referenceable.get(name) {
                self.resource_ref(target, span, location)?
            } else if let (false, Some((resource, attribute))) =
                (name.starts_with("AWS::"), name.split_once('.'))
            {
                self.get_att(resource, attribute, span, location)?
            } else {
                match self.ref_value(name, span, location)? {
                    Some(node) => match node.as_scalar() {
                        Some(text) => text.to_owned(),
                        None => {
                            return Err(Problem::at(
                                span,
                                format!("{location}: Fn::Sub: '${{{name}}}' is a list; join it with Fn::Join first"),
                            ))
                        }
                    },
                    None => String::new(),
                }
            };
            output.push_str(&value);
            rest = &after[end + 1..];
        }
        output.push_str(rest);
        Ok(output)
    }

    /// `Ref`: a pseudo parameter, a parameter or a resource.
    pub(crate) fn ref_value(
        &self,
        name: &str,
        span: Span,
        location: &str,
    ) -> Result<Option<Node>, Problem> {
        let options = self.options;
        let text = match name {
            "AWS::Region" => options.region.clone(),
            "AWS::AccountId" => options.account_id.clone(),
            "AWS::StackName" => options.stack_name.clone(),
            "AWS::StackId" => format!(
                "arn:aws:cloudformation:{}:{}:stack/{}/{}",
                options.region,
                options.account_id,
                options.stack_name,
                stack_uuid(&options.stack_name)
            ),
            "AWS::Partition" => "aws".to_owned(),
            "AWS::URLSuffix" => "amazonaws.com".to_owned(),
            "AWS::NoValue" => return Ok(None),
            "AWS::NotificationARNs" => return Ok(Some(Node::sequence(Vec::new(), span))),
            _ if name.starts_with("AWS::") => {
                return Err(Problem::at(
                    span,
                    format!("{location}: unknown pseudo parameter '{name}'"),
                ))
            }
            _ => {
                if let Some(parameter) = self.parameters.get(name) {
                    return Ok(Some(match parameter {
                        ParameterValue::String(value) => Node::string(value.clone(), span),
                        ParameterValue::Number(value) => Node::plain(value.clone(), span),
                        ParameterValue::List(values) => Node::sequence(
                            values
                                .iter()
                                .map(|value| Node::string(value.clone(), span))
                                .collect(),
                            span,
                        ),
                    }));
                }
                match self.referenceable.get(name) {
                    Some(target) => self.resource_ref(target, span, location)?,
                    None => self.resource_ref(name, span, location)?,
                }
            }
        };
        Ok(Some(Node::string(text, span)))
    }

    fn find_resource(
        &self,
        logical_id: &str,
        span: Span,
        location: &str,
    ) -> Result<&Resource<'t>, Problem> {
        if let Some(resource) = self.resources.get(logical_id) {
            return Ok(resource);
        }
        let message = match self.dropped_resources.get(logical_id) {
            Some(condition) => format!(
                "{location}: '{logical_id}' is not created because its condition '{condition}' is false; guard this reference with Fn::If [{condition}, ...]"
            ),
            None => match logical_id.split_once('.') {
                Some((resource, _)) if self.resources.contains_key(resource) => format!(
                    "{location}: '{logical_id}' is not a property SAM makes referenceable here; MyFunction.Alias and MyFunction.Version need AutoPublishAlias on the function, MyApi.DomainName needs Domain on the API"
                ),
                _ => format!(
                    "{location}: unknown name '{logical_id}'; it is not a parameter, a resource or a pseudo parameter such as AWS::Region"
                ),
            },
        };
        Err(Problem::at(span, message))
    }

    fn resource_ref(
        &self,
        logical_id: &str,
        span: Span,
        location: &str,
    ) -> Result<String, Problem> {
        let resource = self.find_resource(logical_id, span, location)?;
        let options = self.options;
        Ok(match &resource.kind {
            ResourceKind::Function => self.physical_name(logical_id, "FunctionName")?,
            ResourceKind::Role => self.physical_name(logical_id, "RoleName")?,
            ResourceKind::RestApi | ResourceKind::HttpApi | ResourceKind::WebSocketApi => {
                derived_id(&options.stack_name, logical_id)
            }
            ResourceKind::Stage { stage_name } => stage_name.clone(),
            ResourceKind::Deployment => derived_id(&options.stack_name, logical_id),
            ResourceKind::Table => self.physical_name(logical_id, "TableName")?,
            ResourceKind::Queue => format!(
                "{}/{}/{}",
                options
                    .queue_url_base
                    .as_deref()
                    .map(|base| base.trim_end_matches('/').to_owned())
                    .unwrap_or_else(|| format!("https://sqs.{}.amazonaws.com", options.region)),
                options.account_id,
                self.physical_name(logical_id, "QueueName")?
            ),
            ResourceKind::Topic => self.topic_arn(logical_id)?,
            ResourceKind::Bucket => self.physical_name(logical_id, "BucketName")?,
            ResourceKind::EventBus | ResourceKind::EventRule => {
                self.physical_name(logical_id, "Name")?
            }
            ResourceKind::Layer => self.layer_arn(logical_id)?,
            ResourceKind::RestDomainName | ResourceKind::HttpDomainName => {
                self.physical_name(logical_id, "DomainName")?
            }
            ResourceKind::BasePathMapping
            | ResourceKind::ApiMapping
            | ResourceKind::ApiKey
            | ResourceKind::UsagePlan => derived_id(&options.stack_name, logical_id),
            ResourceKind::Version { function, number } => {
                self.qualified_function_arn(function, &number.to_string())?
            }
            ResourceKind::Alias { function, name } => {
                self.qualified_function_arn(function, name)?
            }
            ResourceKind::FunctionUrl { function } => {
                self.function_url_target(logical_id, function.as_deref(), location)?
            }
            ResourceKind::Other => logical_id.to_owned(),
        })
    }

    /// The 32-character id of a function URL's host, stable for a stack and logical id.
    pub(crate) fn function_url_id(&self, logical_id: &str) -> String {
        let stack = &self.options.stack_name;
        hashed_chars(
            |round| format!("function-url/{round}/{stack}/{logical_id}"),
            32,
            Case::Lower,
        )
    }

    /// The ARN of the function a URL invokes, with its qualifier when it has one: SAM's
    /// URL of `function` goes to its `AutoPublishAlias`; a declared one to its
    /// `TargetFunctionArn` and `Qualifier`.
    fn function_url_target(
        &self,
        logical_id: &str,
        function: Option<&str>,
        location: &str,
    ) -> Result<String, Problem> {
        if let Some(function) = function {
            let alias = self
                .referenceable
                .get(&format!("{function}.Alias"))
                .and_then(|alias| self.resources.get(alias))
                .and_then(|alias| match &alias.kind {
                    ResourceKind::Alias { name, .. } => Some(name.clone()),
                    _ => None,
                });
            return match alias {
                Some(alias) => self.qualified_function_arn(function, &alias),
                None => Ok(format!(
                    "arn:aws:lambda:{}:{}:function:{}",
                    self.options.region,
                    self.options.account_id,
                    self.physical_name(function, "FunctionName")?
                )),
            };
        }
        let properties = self
            .resources
            .get(logical_id)
            .and_then(|resource| resource.properties);
        let resolved = |key: &str| -> Result<Option<String>, Problem> {
            let Some(node) = properties.and_then(|properties| properties.get(key)) else {
                return Ok(None);
            };
            let location = format!("{location} (Resources.{logical_id}.Properties.{key})");
            Ok(self
                .resolve(node, &location)?
                .and_then(|value| value.as_scalar().map(str::to_owned)))
        };
        let target = resolved("TargetFunctionArn")?.unwrap_or_default();
        Ok(match resolved("Qualifier")? {
            Some(qualifier) if !qualifier.is_empty() => format!("{target}:{qualifier}"),
            _ => target,
        })
    }

    /// `arn:aws:lambda:REGION:ACCOUNT:function:NAME:QUALIFIER` of the template's function
    /// `function` (a logical id), for a version number or an alias name.
    fn qualified_function_arn(&self, function: &str, qualifier: &str) -> Result<String, Problem> {
        Ok(format!(
            "arn:aws:lambda:{}:{}:function:{}:{qualifier}",
            self.options.region,
            self.options.account_id,
            self.physical_name(function, "FunctionName")?
        ))
    }

    /// Records the name of a resource SAM generates, which has no properties to read it
    /// from (the `AWS::ApiGateway::DomainName` of an API's `Domain`).
    pub(crate) fn set_physical_name(&self, logical_id: &str, name: &str) {
        self.physical_names
            .borrow_mut()
            .insert(logical_id.to_owned(), name.to_owned());
    }

    /// The `RegionalDomainName` of a custom domain: the API Gateway host name its DNS
    /// record points at, `d-xxxxxxxxxx.execute-api.REGION.amazonaws.com`.
    fn regional_domain_name(&self, domain_name: &str) -> String {
        let options = self.options;
        let id = hashed_chars(
            |round| {
                format!(
                    "regional-domain/{round}/{}/{domain_name}",
                    options.stack_name
                )
            },
            10,
            Case::Lower,
        );
        format!("d-{id}.execute-api.{}.amazonaws.com", options.region)
    }

    /// The `RegionalHostedZoneId` of custom domains in the region: a stand-in of AWS's
    /// shape (`Z` and 13 characters), stable for the region.
    fn regional_hosted_zone_id(&self) -> String {
        let region = &self.options.region;
        let id = hashed_chars(
            |round| format!("hosted-zone/{round}/{region}"),
            13,
            Case::Upper,
        );
        format!("Z{id}")
    }

    fn topic_arn(&self, logical_id: &str) -> Result<String, Problem> {
        Ok(format!(
            "arn:aws:sns:{}:{}:{}",
            self.options.region,
            self.options.account_id,
            self.physical_name(logical_id, "TopicName")?
        ))
    }

    /// A layer's first (and, locally, only) version: what its `Ref` gives.
    pub(crate) fn layer_arn(&self, logical_id: &str) -> Result<String, Problem> {
        Ok(format!(
            "arn:aws:lambda:{}:{}:layer:{}:1",
            self.options.region,
            self.options.account_id,
            self.physical_name(logical_id, "LayerName")?
        ))
    }

    /// `Fn::GetAtt`.
    pub(crate) fn get_att(
        &self,
        logical_id: &str,
        attribute: &str,
        span: Span,
        location: &str,
    ) -> Result<String, Problem> {
        let resource = self.find_resource(logical_id, span, location)?;
        let options = self.options;
        let (region, account) = (&options.region, &options.account_id);
        let (value, known): (Option<String>, &[&str]) = match &resource.kind {
            ResourceKind::Function => (
                (attribute == "Arn")
                    .then(|| -> Result<String, Problem> {
                        Ok(format!(
                            "arn:aws:lambda:{region}:{account}:function:{}",
                            self.physical_name(logical_id, "FunctionName")?
                        ))
                    })
                    .transpose()?,
                &["Arn"],
            ),
            ResourceKind::Role => {
                let value = match attribute {
                    "Arn" => Some(format!(
                        "arn:aws:iam::{account}:role/{}",
                        self.physical_name(logical_id, "RoleName")?
                    )),
                    "RoleId" => Some(format!(
                        "AROA{}",
                        derived_id(&options.stack_name, logical_id).to_uppercase()
                    )),
                    _ => None,
                };
                (value, &["Arn", "RoleId"])
            }
            ResourceKind::RestApi => (
                (attribute == "RootResourceId")
                    .then(|| derived_id(&options.stack_name, &format!("{logical_id}/root"))),
                &["RootResourceId"],
            ),
            ResourceKind::HttpApi => {
                let api_id = derived_id(&options.stack_name, logical_id);
                let value = match attribute {
                    "ApiEndpoint" => Some(format!(
                        "https://{api_id}.execute-api.{region}.amazonaws.com"
                    )),
                    "ApiId" => Some(api_id),
                    _ => None,
                };
                (value, &["ApiEndpoint", "ApiId"])
            }
            ResourceKind::WebSocketApi => {
                let api_id = derived_id(&options.stack_name, logical_id);
                let value = match attribute {
                    "ApiEndpoint" => {
                        Some(format!("wss://{api_id}.execute-api.{region}.amazonaws.com"))
                    }
                    "ApiId" => Some(api_id),
                    _ => None,
                };
                (value, &["ApiEndpoint", "ApiId"])
            }
            ResourceKind::Table => {
                let arn = format!(
                    "arn:aws:dynamodb:{region}:{account}:table/{}",
                    self.physical_name(logical_id, "TableName")?
                );
                let value = match attribute {
                    "Arn" => Some(arn),
                    // A fixed label keeps the ARN stable between runs.
                    "StreamArn" => Some(format!("{arn}/stream/1970-01-01T00:00:00.000")),
                    _ => None,
                };
                (value, &["Arn", "StreamArn"])
            }
            ResourceKind::Queue => {
                let name = self.physical_name(logical_id, "QueueName")?;
                let value = match attribute {
                    "Arn" => Some(format!("arn:aws:sqs:{region}:{account}:{name}")),
                    "QueueName" => Some(name),
                    "QueueUrl" => Some(self.resource_ref(logical_id, span, location)?),
                    _ => None,
                };
                (value, &["Arn", "QueueName", "QueueUrl"])
            }
            ResourceKind::Bucket => {
                let name = self.physical_name(logical_id, "BucketName")?;
                let value = match attribute {
                    "Arn" => Some(format!("arn:aws:s3:::{name}")),
                    "DomainName" => Some(format!("{name}.s3.amazonaws.com")),
                    "RegionalDomainName" => Some(format!("{name}.s3.{region}.amazonaws.com")),
                    "DualStackDomainName" => {
                        Some(format!("{name}.s3.dualstack.{region}.amazonaws.com"))
                    }
                    "WebsiteURL" => {
                        Some(format!("http://{name}.s3-website-{region}.amazonaws.com"))
                    }
                    _ => None,
                };
                (
                    value,
                    &[
                        "Arn",
                        "DomainName",
                        "RegionalDomainName",
                        "DualStackDomainName",
                        "WebsiteURL",
                    ],
                )
            }
            ResourceKind::Topic => {
                let value = match attribute {
                    "TopicArn" => Some(self.topic_arn(logical_id)?),
                    "TopicName" => Some(self.physical_name(logical_id, "TopicName")?),
                    _ => None,
                };
                (value, &["TopicArn", "TopicName"])
            }
            ResourceKind::EventBus => {
                let name = self.physical_name(logical_id, "Name")?;
                let value = match attribute {
                    "Arn" => Some(format!(
                        "arn:aws:events:{region}:{account}:event-bus/{name}"
                    )),
                    "Name" => Some(name),
                    _ => None,
                };
                (value, &["Arn", "Name"])
            }
            ResourceKind::EventRule => (
                (attribute == "Arn")
                    .then(|| self.physical_name(logical_id, "Name"))
                    .transpose()?
                    .map(|name| format!("arn:aws:events:{region}:{account}:rule/{name}")),
                &["Arn"],
            ),
            ResourceKind::Layer => (
                (attribute == "LayerVersionArn")
                    .then(|| self.layer_arn(logical_id))
                    .transpose()?,
                &["LayerVersionArn"],
            ),
            ResourceKind::RestDomainName | ResourceKind::HttpDomainName => {
                let domain_name = self.physical_name(logical_id, "DomainName")?;
                let rest = resource.kind == ResourceKind::RestDomainName;
                let value = match attribute {
                    "RegionalDomainName" => Some(self.regional_domain_name(&domain_name)),
                    "RegionalHostedZoneId" => Some(self.regional_hosted_zone_id()),
                    "DistributionDomainName" if rest => {
                        let id = hashed_chars(
                            |round| {
                                format!("distribution/{round}/{}/{domain_name}", options.stack_name)
                            },
                            13,
                            Case::Lower,
                        );
                        Some(format!("d{id}.cloudfront.net"))
                    }
                    "DistributionHostedZoneId" if rest => {
                        Some(CLOUDFRONT_HOSTED_ZONE_ID.to_owned())
                    }
                    "DomainNameArn" if rest => Some(format!(
                        "arn:aws:apigateway:{region}::/domainnames/{domain_name}"
                    )),
                    _ => None,
                };
                let known: &[&str] = if rest {
                    &[
                        "DistributionDomainName",
                        "DistributionHostedZoneId",
                        "DomainNameArn",
                        "RegionalDomainName",
                        "RegionalHostedZoneId",
                    ]
                } else {
                    &["RegionalDomainName", "RegionalHostedZoneId"]
                };
                (value, known)
            }
            ResourceKind::Version { number, .. } => (
                (attribute == "Version").then(|| number.to_string()),
                &["Version"],
            ),
            ResourceKind::Alias { .. } => (
                (attribute == "AliasArn")
                    .then(|| self.resource_ref(logical_id, span, location))
                    .transpose()?,
                &["AliasArn"],
            ),
            ResourceKind::ApiMapping => (
                (attribute == "ApiMappingId").then(|| derived_id(&options.stack_name, logical_id)),
                &["ApiMappingId"],
            ),
            ResourceKind::ApiKey => (
                (attribute == "APIKeyId").then(|| derived_id(&options.stack_name, logical_id)),
                &["APIKeyId"],
            ),
            ResourceKind::UsagePlan => (
                (attribute == "Id").then(|| derived_id(&options.stack_name, logical_id)),
                &["Id"],
            ),
            ResourceKind::FunctionUrl { function } => {
                let value = match attribute {
                    "FunctionUrl" => Some(format!(
                        "https://{}.lambda-url.{region}.on.aws/",
                        self.function_url_id(logical_id)
                    )),
                    "FunctionArn" => {
                        Some(self.function_url_target(logical_id, function.as_deref(), location)?)
                    }
                    _ => None,
                };
                (value, &["FunctionArn", "FunctionUrl"])
            }
            ResourceKind::Stage { .. }
            | ResourceKind::Deployment
            | ResourceKind::BasePathMapping => (None, &[]),
            // Serverful does not model these types; a recognisable placeholder lets the rest
            // of the template load, and the resource is already listed as unsupported.
            ResourceKind::Other => (Some(format!("{logical_id}.{attribute}")), &[]),
        };
        value.ok_or_else(|| {
            let known = if known.is_empty() {
                "it has no attributes".to_owned()
            } else {
                format!("it has {}", known.join(", "))
            };
            Problem::at(
                span,
                format!(
                    "{location}: Fn::GetAtt: {logical_id} ({}) has no attribute '{attribute}'; {known}",
                    resource.type_name
                ),
            )
        })
    }

    /// A resource's name: its name property (`TableName`, ...) resolved; else, for the
    /// types CloudFormation names itself (functions and tables so far), the name it would
    /// generate ([`generated_name`]); else the logical id.
    pub(crate) fn physical_name(
        &self,
        logical_id: &str,
        property: &str,
    ) -> Result<String, Problem> {
        if let Some(name) = self.physical_names.borrow().get(logical_id) {
            return Ok(name.clone());
        }
        let node = self
            .resources
            .get(logical_id)
            .and_then(|resource| resource.properties)
            .and_then(|properties| properties.get(property));
        let generated = || match self
            .resources
            .get(logical_id)
            .map(|resource| &resource.kind)
        {
            Some(ResourceKind::Function) => {
                generated_name(&self.options.stack_name, logical_id, NameRule::FUNCTION)
            }
            Some(ResourceKind::Table) => {
                generated_name(&self.options.stack_name, logical_id, NameRule::TABLE)
            }
            // A FIFO queue's or topic's name must end in `.fifo`; CloudFormation adds it.
            Some(ResourceKind::Queue) if self.declares_fifo(logical_id, "FifoQueue") => format!(
                "{}.fifo",
                generated_name(
                    &self.options.stack_name,
                    logical_id,
                    NameRule {
                        max_len: 75,
                        ..NameRule::QUEUE
                    }
                )
            ),
            Some(ResourceKind::Queue) => {
                generated_name(&self.options.stack_name, logical_id, NameRule::QUEUE)
            }
            Some(ResourceKind::Topic) if self.declares_fifo(logical_id, "FifoTopic") => format!(
                "{}.fifo",
                generated_name(
                    &self.options.stack_name,
                    logical_id,
                    NameRule {
                        max_len: 251,
                        ..NameRule::TOPIC
                    }
                )
            ),
            Some(ResourceKind::Topic) => {
                generated_name(&self.options.stack_name, logical_id, NameRule::TOPIC)
            }
            Some(ResourceKind::Bucket) => {
                crate::names::bucket_name(&self.options.stack_name, logical_id)
            }
            // As `sam::schedules` and `sam::event_rules` name rules.
            Some(ResourceKind::EventRule) => generated_name(
                &self.options.stack_name,
                logical_id,
                NameRule {
                    max_len: 64,
                    suffix_len: 12,
                },
            ),
            _ => logical_id.to_owned(),
        };
        let name = match node {
            None => generated(),
            Some(node) => {
                let location = format!("Resources.{logical_id}.Properties.{property}");
                if self
                    .names_in_progress
                    .borrow()
                    .iter()
                    .any(|name| name == logical_id)
                {
                    return Err(Problem::at(
                        node.span,
                        format!(
                            "{location}: the name refers back to itself through other resources"
                        ),
                    ));
                }
                self.names_in_progress
                    .borrow_mut()
                    .push(logical_id.to_owned());
                let resolved = self.resolve(node, &location);
                self.names_in_progress.borrow_mut().pop();
                match resolved? {
                    None => generated(),
                    Some(resolved) => match resolved.as_scalar() {
                        Some(text) => text.to_owned(),
                        None => {
                            return Err(Problem::at(
                                node.span,
                                format!(
                                    "{location}: expected a string, found {}",
                                    resolved.describe()
                                ),
                            ))
                        }
                    },
                }
            }
        };
        self.physical_names
            .borrow_mut()
            .insert(logical_id.to_owned(), name.clone());
        Ok(name)
    }

    /// Whether the resource sets `property` (`FifoQueue`, `FifoTopic`) to true.
    fn declares_fifo(&self, logical_id: &str, property: &str) -> bool {
        self.resources
            .get(logical_id)
            .and_then(|resource| resource.properties)
            .and_then(|properties| properties.get(property))
            .and_then(|node| node.as_scalar())
            .is_some_and(|text| text.trim().eq_ignore_ascii_case("true"))
    }

    /// The value of the named condition under `Conditions`.
    pub(crate) fn condition(
        &self,
        name: &str,
        span: Span,
        location: &str,
    ) -> Result<bool, Problem> {
        if let Some(value) = self.condition_values.borrow().get(name) {
            return Ok(*value);
        }
        let Some(definition) = self.conditions.get(name).copied() else {
            let known: Vec<&str> = self.conditions.keys().map(String::as_str).collect();
            let hint = if known.is_empty() {
                "the template has no Conditions section".to_owned()
            } else {
                format!("defined conditions: {}", known.join(", "))
            };
            return Err(Problem::at(
                span,
                format!("{location}: unknown condition '{name}'; {hint}"),
            ));
        };
        let cycle_start = self
            .conditions_in_progress
            .borrow()
            .iter()
            .position(|in_progress| in_progress == name);
        if let Some(cycle_start) = cycle_start {
            let mut chain = self.conditions_in_progress.borrow()[cycle_start..].to_vec();
            chain.push(name.to_owned());
            return Err(Problem::at(
                span,
                format!("{location}: circular condition: {}", chain.join(" -> ")),
            ));
        }
        self.conditions_in_progress
            .borrow_mut()
            .push(name.to_owned());
        let value = self.condition_expression(definition, &format!("Conditions.{name}"));
        self.conditions_in_progress.borrow_mut().pop();
        let value = value?;
        self.condition_values
            .borrow_mut()
            .insert(name.to_owned(), value);
        Ok(value)
    }

    /// A condition operand: `{Condition: Name}` or an expression that gives true or false.
    fn condition_expression(&self, node: &Node, location: &str) -> Result<bool, Problem> {
        if let Some([entry]) = node.as_mapping() {
            if entry.key == "Condition" {
                if let Some(name) = entry.value.as_scalar() {
                    return self.condition(name, entry.value.span, location);
                }
            }
        }
        let resolved = self.resolve_required(node, location)?;
        match resolved.as_scalar() {
            Some("true" | "True" | "TRUE") => Ok(true),
            Some("false" | "False" | "FALSE") => Ok(false),
            _ => Err(Problem::at(
                node.span,
                format!(
                    "{location}: expected a condition (Fn::Equals, Fn::And, Fn::Or, Fn::Not or Condition: Name), found {}",
                    resolved.describe()
                ),
            )),
        }
    }
}

fn boolean(value: bool, span: Span) -> Node {
    Node::plain(if value { "true" } else { "false" }, span)
}

fn describe_arity(node: &Node) -> String {
    match (&node.kind, &node.tag) {
        (NodeKind::Sequence(items), None) => match items.len() {
            1 => "a list of 1 item".to_owned(),
            count => format!("a list of {count} items"),
        },
        _ => node.describe(),
    }
}

/// `Fn::Equals` compares values as strings, the way CloudFormation does.
fn same_value(left: &Node, right: &Node) -> bool {
    match (&left.kind, &right.kind) {
        (NodeKind::Scalar { text: left, .. }, NodeKind::Scalar { text: right, .. }) => {
            left == right
        }
        (NodeKind::Sequence(left), NodeKind::Sequence(right)) => {
            left.len() == right.len()
                && left
                    .iter()
                    .zip(right)
                    .all(|(left, right)| same_value(left, right))
        }
        (NodeKind::Mapping(left), NodeKind::Mapping(right)) => {
            left.len() == right.len()
                && left.iter().all(|left_entry| {
                    right.iter().any(|right_entry| {
                        left_entry.key == right_entry.key
                            && same_value(&left_entry.value, &right_entry.value)
                    })
                })
        }
        _ => false,
    }
}

/// A 10-character lowercase alphanumeric id, like API Gateway's, stable for a stack and name.
pub(crate) fn derived_id(stack_name: &str, logical_id: &str) -> String {
    const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut hash = fnv1a(&format!("{stack_name}/{logical_id}"));
    let mut id = String::with_capacity(10);
    for _ in 0..10 {
        id.push(char::from(ALPHABET[(hash % 36) as usize]));
        hash /= 36;
    }
    id
}

fn stack_uuid(stack_name: &str) -> String {
    let high = fnv1a(&format!("stack-id-high/{stack_name}"));
    let low = fnv1a(&format!("stack-id-low/{stack_name}"));
    let hex = format!("{high:016x}{low:016x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::{derived_id, stack_uuid};

    /// Ids end up in URLs users bookmark and in other crates' tests; they must not drift.
    #[test]
    fn derived_ids_are_stable() {
        let ids = [
            derived_id("demo", "ServerlessRestApi"),
            derived_id("demo", "ServerlessHttpApi"),
            derived_id("other", "ServerlessRestApi"),
            stack_uuid("demo"),
        ];
        expect![[r#"
            t9deqls5s9
            ffhayohrny
            axrnr4ixa0
            28f1f70e-b928-ee34-e4d0-b2ea14cc44d6"#]]
        .assert_eq(&ids.join("\n"));
    }
}
