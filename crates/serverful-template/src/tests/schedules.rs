//! Snapshot tests of schedules: SAM `Schedule`/`ScheduleV2` events, `AWS::Events::Rule` and
//! `AWS::Scheduler::Schedule`, and their errors.

use std::fmt::Write as _;

use expect_test::expect;

use super::check;
use crate::{ScheduleKind, ScheduleSource};

pub(super) fn render_schedule(out: &mut String, schedule: &ScheduleSource) {
    let kind = match schedule.kind {
        ScheduleKind::Rule => "rule",
        ScheduleKind::Scheduler => "scheduler",
    };
    // The generated suffix is a hash; the snapshot keeps the shape, not the letters.
    let name = match schedule.name.rsplit_once('-') {
        Some((head, suffix)) if suffix.len() == 12 && schedule.name.starts_with("demo-") => {
            format!("{head}-XXXX")
        }
        _ => schedule.name.clone(),
    };
    let state = if schedule.enabled {
        "enabled"
    } else {
        "disabled"
    };
    writeln!(
        out,
        "schedule {} {kind} {name} {} {state}",
        schedule.logical_id, schedule.expression
    )
    .expect("writing to a String");
    let mut details = Vec::new();
    if let Some(time_zone) = &schedule.time_zone {
        details.push(format!("zone {time_zone}"));
    }
    if let Some(start) = &schedule.start_date {
        details.push(format!("from {start}"));
    }
    if let Some(end) = &schedule.end_date {
        details.push(format!("until {end}"));
    }
    if let Some(window) = schedule.flexible_window_minutes {
        details.push(format!("window {window} min"));
    }
    if let Some(retry) = schedule.retry_policy {
        details.push(format!(
            "retry {} within {}s",
            retry.maximum_retry_attempts, retry.maximum_event_age_secs
        ));
    }
    if let Some(description) = &schedule.description {
        details.push(format!("description {description:?}"));
    }
    if !details.is_empty() {
        writeln!(out, "  {}", details.join(", ")).expect("writing to a String");
    }
    if schedule.arn.contains(":rule/") || schedule.arn.contains(":schedule/default/") {
        writeln!(
            out,
            "  arn {}",
            schedule.arn.replace(&schedule.name, "NAME")
        )
        .expect("writing to a String");
    }
    for target in &schedule.targets {
        write!(out, "  -> {}", target.function).expect("writing to a String");
        if let Some(qualifier) = &target.qualifier {
            write!(out, ":{qualifier}").expect("writing to a String");
        }
        if let Some(input) = &target.input {
            write!(out, " input {input}").expect("writing to a String");
        }
        writeln!(out).expect("writing to a String");
    }
}

const FUNCTION: &str = r#"
  Ticker:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: index.handler
      InlineCode: "exports.handler = async () => {}"
"#;

#[test]
fn sam_schedule_events() {
    check(
        &format!(
            r#"
Transform: AWS::Serverless-2016-10-31
Resources:{FUNCTION}      AutoPublishAlias: live
      Events:
        EveryMinute:
          Type: Schedule
          Properties:
            Schedule: rate(1 minute)
            Name: every-minute
            Description: ticks
            Input: '{{"tick": true}}'
        Nightly:
          Type: Schedule
          Properties:
            Schedule: cron(0 3 * * ? *)
            Enabled: false
        Berlin:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: cron(30 8 ? * MON-FRI *)
            ScheduleExpressionTimezone: Europe/Berlin
            StartDate: "2025-01-01T00:00:00Z"
            EndDate: "2030-01-01T00:00:00+01:00"
            FlexibleTimeWindow:
              Mode: FLEXIBLE
              MaximumWindowInMinutes: 5
            RetryPolicy:
              MaximumRetryAttempts: 3
            State: ENABLED
            RoleArn: arn:aws:iam::123456789012:role/ignored
            DeadLetterConfig:
              Arn: arn:aws:sqs:eu-west-1:123456789012:dlq
        Once:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: at(2030-05-01T12:00:00)
"#
        ),
        expect![[r#"
            function Ticker (demo-Ticker-22I4TI9JCPPC): nodejs20.x "index.handler" inline "exports.handler = async () => {}", 3s, 128 MB, x86_64
              auto-publish alias live
            version TickerVersioncf206df48a of Ticker: 1 (auto-published)
            alias TickerAliaslive of Ticker: live -> TickerVersioncf206df48a
            schedule TickerEveryMinute rule every-minute rate(1 minute) enabled
              description "ticks"
              arn arn:aws:events:eu-west-1:123456789012:rule/NAME
              -> Ticker:live input {"tick": true}
            schedule TickerNightly rule demo-TickerNightly-XXXX cron(0 3 * * ? *) disabled
              arn arn:aws:events:eu-west-1:123456789012:rule/NAME
              -> Ticker:live
            schedule TickerBerlin scheduler TickerBerlin cron(30 8 ? * MON-FRI *) enabled
              zone Europe/Berlin, from 2025-01-01T00:00:00Z, until 2029-12-31T23:00:00Z, window 5 min, retry 3 within 86400s
              arn arn:aws:scheduler:eu-west-1:123456789012:schedule/default/NAME
              -> Ticker:live
            schedule TickerOnce scheduler TickerOnce at(2030-05-01T12:00:00) enabled
              arn arn:aws:scheduler:eu-west-1:123456789012:schedule/default/NAME
              -> Ticker:live
            unsupported Ticker.Events.Berlin.DeadLetterConfig
        "#]],
    );
}

#[test]
fn rule_and_scheduler_resources() {
    check(
        &format!(
            r#"
Resources:{FUNCTION}
  TickRule:
    Type: AWS::Events::Rule
    Properties:
      ScheduleExpression: rate(5 minutes)
      State: ENABLED
      Targets:
        - Id: ticker
          Arn: !GetAtt Ticker.Arn
        - Id: with-input
          Arn: !GetAtt Ticker.Arn
          Input: '{{"from": "rule"}}'
        - Id: queue
          Arn: arn:aws:sqs:eu-west-1:123456789012:q
  PatternRule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {{"source": ["app"]}}
  TickSchedule:
    Type: AWS::Scheduler::Schedule
    Properties:
      Name: tick-schedule
      ScheduleExpression: rate(1 hour)
      FlexibleTimeWindow:
        Mode: "OFF"
      Target:
        Arn: !GetAtt Ticker.Arn
        RoleArn: arn:aws:iam::123456789012:role/scheduler
        Input: '{{"from": "scheduler"}}'
        RetryPolicy:
          MaximumRetryAttempts: 0
          MaximumEventAgeInSeconds: 60
"#
        ),
        expect![[r#"
            function Ticker (demo-Ticker-22I4TI9JCPPC): nodejs20.x "index.handler" inline "exports.handler = async () => {}", 3s, 128 MB, x86_64
            schedule TickRule rule demo-TickRule-XXXX rate(5 minutes) enabled
              arn arn:aws:events:eu-west-1:123456789012:rule/NAME
              -> Ticker
              -> Ticker input {"from": "rule"}
            schedule TickSchedule scheduler tick-schedule rate(1 hour) enabled
              retry 0 within 60s
              arn arn:aws:scheduler:eu-west-1:123456789012:schedule/default/NAME
              -> Ticker input {"from": "scheduler"}
            unsupported TickRule.Targets[2] (arn:aws:sqs:eu-west-1:123456789012:q)
        "#]],
    );
}

#[test]
fn invalid_expressions_name_the_line_and_say_what_aws_says() {
    let with_event = |properties: &str| {
        format!(
            "Resources:{FUNCTION}      Events:\n        Tick:\n          Type: ScheduleV2\n          Properties:\n{properties}"
        )
    };
    check(
        &with_event("            ScheduleExpression: rate(1 minutes)\n"),
        expect![[r#"
            error: /app/template.yaml:12:33: Resources.Ticker.Properties.Events.Tick.Properties.ScheduleExpression: Parameter ScheduleExpression is not valid. `rate(1 minutes)`: the unit must be singular for the value 1 and plural for larger values: write rate(1 minute)
        "#]],
    );
    check(
        &with_event("            ScheduleExpression: cron(0 10 * * MON *)\n"),
        expect![[r#"
            error: /app/template.yaml:12:33: Resources.Ticker.Properties.Events.Tick.Properties.ScheduleExpression: Parameter ScheduleExpression is not valid. `cron(0 10 * * MON *)`: Day-of-month and Day-of-week cannot both be specified: use `?` in one of them, as in cron(0 10 * * ? *) or cron(0 10 ? * MON-FRI *)
        "#]],
    );
    check(
        &with_event("            ScheduleExpression: rate(1 hour)\n            ScheduleExpressionTimezone: Mars/Olympus\n"),
        expect![[r#"
            error: /app/template.yaml:13:41: Resources.Ticker.Properties.Events.Tick.Properties.ScheduleExpressionTimezone: Parameter ScheduleExpressionTimezone is not valid. `Mars/Olympus` is not an IANA time zone name: write one such as UTC, Europe/Paris or America/New_York
        "#]],
    );
    check(
        &with_event("            ScheduleExpression: rate(1 hour)\n            StartDate: 2030-01-01T00:00:00Z\n            EndDate: 2029-01-01T00:00:00Z\n"),
        expect![[r#"
            error: /app/template.yaml:12:33: Resources.Ticker.Properties.Events.Tick.Properties.EndDate: Parameter EndDate is not valid. The EndDate 2029-01-01T00:00:00Z must not be before the StartDate 2030-01-01T00:00:00Z
        "#]],
    );
    check(
        &with_event("            ScheduleExpression: rate(1 hour)\n            Input: not json\n"),
        expect![[r#"
            error: /app/template.yaml:13:20: Resources.Ticker.Properties.Events.Tick.Properties.Input: Input must be valid JSON text (expected ident at line 1 column 2)
        "#]],
    );
    check(
        &format!("Resources:{FUNCTION}      Events:\n        Tick:\n          Type: Schedule\n          Properties:\n            Schedule: at(2030-01-01T00:00:00)\n"),
        expect![[r#"
            error: /app/template.yaml:12:23: Resources.Ticker.Properties.Events.Tick.Properties.Schedule: Parameter ScheduleExpression is not valid. `at(2030-01-01T00:00:00)`: EventBridge rules take rate(...) and cron(...) only; a one-time at(...) schedule needs EventBridge Scheduler (a ScheduleV2 event or AWS::Scheduler::Schedule)
        "#]],
    );
    check(
        &format!("Resources:{FUNCTION}\n  Rule:\n    Type: AWS::Events::Rule\n    Properties:\n      ScheduleExpression: rate(1 day)\n      Targets:\n        - Id: x\n          Arn: arn:aws:lambda:eu-west-1:123456789012:function:nope\n"),
        expect![[r#"
            error: /app/template.yaml:15:16: Resources.Rule.Properties.Targets[0].Arn: arn:aws:lambda:eu-west-1:123456789012:function:nope is not a function of this template; name one with !GetAtt MyFunction.Arn
        "#]],
    );
}
