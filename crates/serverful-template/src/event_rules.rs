//! The model of EventBridge event-pattern rules and buses the template declares (SAM's
//! `EventBridgeRule` and `CloudWatchEvent` events, `AWS::Events::Rule` with an
//! `EventPattern`, `AWS::Events::EventBus`), every pattern and input setting checked.

/// The bus a rule sits on when it names none: the account's own.
pub const DEFAULT_BUS: &str = "default";

/// An event bus the template declares (`AWS::Events::EventBus`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventBus {
    pub logical_id: String,
    /// `Name`: what `PutEvents` entries and rules name it by.
    pub name: String,
    /// `arn:aws:events:REGION:ACCOUNT:event-bus/NAME`.
    pub arn: String,
}

/// A rule that routes the events of a bus that match its pattern to functions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRule {
    /// The resource's logical id, or for a SAM event the one SAM generates
    /// (`{Function}{EventName}`).
    pub logical_id: String,
    /// `Name` / `RuleName`, else CloudFormation's generated name.
    pub name: String,
    /// `arn:aws:events:REGION:ACCOUNT:rule/NAME`, with `BUS/` before the name on a bus
    /// other than the default one.
    pub arn: String,
    /// The bus's name (`default` unless the rule names another; an ARN is reduced to its
    /// name).
    pub event_bus_name: String,
    pub description: Option<String>,
    /// The event pattern as JSON text; valid by `serverful_eventbridge::EventPattern`.
    pub event_pattern: String,
    /// `State`: a disabled rule matches nothing.
    pub enabled: bool,
    /// The functions it invokes, in the order of the targets.
    pub targets: Vec<EventRuleTarget>,
    /// The SQS queues and SNS topics it sends matched events to.
    pub message_targets: Vec<EventRuleMessageTarget>,
    /// The line of the pattern in the template, for messages.
    pub line: usize,
}

/// A function a rule invokes, and what it receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRuleTarget {
    /// The target's `Id` (SAM: `{Function}{EventName}LambdaTarget`, or `Target.Id`).
    pub id: String,
    /// The function's logical id, one of [`crate::App::functions`].
    pub function: String,
    /// The alias or version the target's ARN names, or SAM's `AutoPublishAlias`.
    pub qualifier: Option<String>,
    pub input: EventTargetInput,
}

/// A queue or topic a rule sends matched events to, and what it sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRuleMessageTarget {
    pub id: String,
    /// `arn:aws:sqs:...` or `arn:aws:sns:...`.
    pub arn: String,
    pub input: EventTargetInput,
    /// `SqsParameters.MessageGroupId`, which a FIFO queue needs.
    pub message_group_id: Option<String>,
}

/// A target's input setting, as written (checked with `serverful_eventbridge::input`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventTargetInput {
    /// The matched event.
    Event,
    /// `Input`: constant JSON text.
    Constant(String),
    /// `InputPath`.
    Path(String),
    /// `InputTransformer`: `InputPathsMap` in template order, and `InputTemplate`.
    Transformer {
        paths: Vec<(String, String)>,
        template: String,
    },
}
