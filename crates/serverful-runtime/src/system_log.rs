//! A function's `LoggingConfig` as Lambda honours it: the format of the lines Lambda
//! itself writes around each invocation (system logs: `START`/`END`/`REPORT` as text, or
//! `platform.start`/`platform.report` JSON objects), which of them `SystemLogLevel` lets
//! through, and what the function's own runtime is told (`AWS_LAMBDA_LOG_FORMAT`,
//! `AWS_LAMBDA_LOG_LEVEL`) so that its logging library writes JSON at its
//! `ApplicationLogLevel`.

use std::time::Duration;

use time::OffsetDateTime;

use crate::logs::{self, Report};

/// `LoggingConfig.LogFormat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Plain lines, as Lambda has always written them (its default).
    #[default]
    Text,
    /// One JSON object per line, for system and application logs.
    Json,
}

/// `LoggingConfig.SystemLogLevel`: the most detailed system log level sent, `DEBUG` the
/// most, `WARN` the least.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum SystemLogLevel {
    Debug,
    /// Lambda's default for the JSON format.
    #[default]
    Info,
    Warn,
}

impl SystemLogLevel {
    /// `DEBUG`, `INFO` or `WARN`, as the template writes it.
    pub fn parse(text: &str) -> Option<SystemLogLevel> {
        match text {
            "DEBUG" => Some(SystemLogLevel::Debug),
            "INFO" => Some(SystemLogLevel::Info),
            "WARN" => Some(SystemLogLevel::Warn),
            _ => None,
        }
    }
}

/// `LoggingConfig.ApplicationLogLevel`, from the most detailed to the least.
pub const APPLICATION_LOG_LEVELS: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];

/// A function's `LoggingConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoggingConfig {
    pub format: LogFormat,
    /// One of [`APPLICATION_LOG_LEVELS`]; with the JSON format, `INFO` when unset.
    pub application_level: Option<String>,
    /// With the JSON format, [`SystemLogLevel::Info`] when unset.
    pub system_level: Option<SystemLogLevel>,
    /// `LogGroup`: the log group the function writes to instead of `/aws/lambda/NAME`.
    pub log_group: Option<String>,
}

/// How an invocation ended, as `platform.report` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReportStatus<'a> {
    Success,
    /// The function failed or its process ended; holds Lambda's `errorType`.
    Error(&'a str),
    Timeout,
}

impl LoggingConfig {
    fn json(&self) -> bool {
        self.format == LogFormat::Json
    }

    /// Whether a system line at `level` is written: every text line is; a JSON one when
    /// the function's `SystemLogLevel` lets it through.
    fn lets_through(&self, level: SystemLogLevel) -> bool {
        !self.json() || level >= self.system_level.unwrap_or_default()
    }

    /// What the function's process is told: `AWS_LAMBDA_LOG_FORMAT` (`JSON` or `Text`),
    /// and with JSON, `AWS_LAMBDA_LOG_LEVEL` (its `ApplicationLogLevel`).
    pub(crate) fn environment(&self) -> Vec<(&'static str, String)> {
        match self.format {
            LogFormat::Text => vec![("AWS_LAMBDA_LOG_FORMAT", "Text".to_owned())],
            LogFormat::Json => vec![
                ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
                (
                    "AWS_LAMBDA_LOG_LEVEL",
                    self.application_level
                        .clone()
                        .unwrap_or_else(|| "INFO".to_owned()),
                ),
            ],
        }
    }

    /// `START RequestId: …`, or `platform.start`.
    pub(crate) fn start(&self, request_id: &str) -> Option<String> {
        if !self.json() {
            return Some(logs::start_line(request_id));
        }
        self.lets_through(SystemLogLevel::Info).then(|| {
            system_event(
                "platform.start",
                serde_json::json!({ "requestId": request_id, "version": "$LATEST" }),
            )
        })
    }

    /// `END RequestId: …`; the JSON format has no such line (`platform.report` ends the
    /// invocation).
    pub(crate) fn end(&self, request_id: &str) -> Option<String> {
        (!self.json()).then(|| logs::end_line(request_id))
    }

    /// `REPORT RequestId: …`, or `platform.report` with its metrics and status (a failed
    /// or timed-out invocation's report is a warning, so it survives `SystemLogLevel:
    /// WARN`).
    pub(crate) fn report(
        &self,
        request_id: &str,
        report: &Report,
        status: ReportStatus<'_>,
    ) -> Option<String> {
        if !self.json() {
            return Some(logs::report_line(request_id, report));
        }
        let level = match status {
            ReportStatus::Success => SystemLogLevel::Info,
            ReportStatus::Error(_) | ReportStatus::Timeout => SystemLogLevel::Warn,
        };
        if !self.lets_through(level) {
            return None;
        }
        let (duration_ms, billed_ms, init_ms) = report.milliseconds();
        let mut metrics = serde_json::json!({
            "durationMs": round2(duration_ms),
            "billedDurationMs": billed_ms,
            "memorySizeMB": report.memory_size_mb,
            "maxMemoryUsedMB": report.max_memory_used_mb,
        });
        if let Some(init_ms) = init_ms {
            metrics["initDurationMs"] = serde_json::json!(round2(init_ms));
        }
        let mut record = serde_json::json!({
            "requestId": request_id,
            "metrics": metrics,
        });
        match status {
            ReportStatus::Success => record["status"] = "success".into(),
            ReportStatus::Error(error_type) => {
                record["status"] = "error".into();
                record["errorType"] = error_type.into();
            }
            ReportStatus::Timeout => record["status"] = "timeout".into(),
        }
        Some(system_event("platform.report", record))
    }

    /// `INIT_REPORT … Status: error`, or `platform.initReport` (a warning).
    pub(crate) fn init_failure(&self, init_duration: Duration, error_type: &str) -> Option<String> {
        if !self.json() {
            return Some(logs::init_failure_line(init_duration, error_type));
        }
        self.lets_through(SystemLogLevel::Warn).then(|| {
            system_event(
                "platform.initReport",
                serde_json::json!({
                    "initializationType": "on-demand",
                    "phase": "init",
                    "status": "error",
                    "errorType": error_type,
                    "metrics": { "durationMs": round2(init_duration.as_secs_f64() * 1000.0) },
                }),
            )
        })
    }

    /// `… Task timed out after 3.00 seconds`; with JSON, the report's `timeout` status
    /// says it instead.
    pub(crate) fn timeout(&self, request_id: &str, timeout: Duration) -> Option<String> {
        (!self.json()).then(|| logs::timeout_line(request_id, timeout))
    }
}

/// `{"time": …, "type": …, "record": …}`: a system log event in Lambda's JSON format.
fn system_event(kind: &str, record: serde_json::Value) -> String {
    serde_json::json!({
        "time": logs::timestamp(OffsetDateTime::now_utc()),
        "type": kind,
        "record": record,
    })
    .to_string()
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json() -> LoggingConfig {
        LoggingConfig {
            format: LogFormat::Json,
            ..LoggingConfig::default()
        }
    }

    fn report(init: Option<Duration>) -> Report {
        Report {
            duration: Duration::from_micros(1_234),
            memory_size_mb: 128,
            max_memory_used_mb: 40,
            init_duration: init,
        }
    }

    #[test]
    fn text_is_lambdas_classic_lines() {
        let text = LoggingConfig::default();
        assert_eq!(
            text.start("abc").as_deref(),
            Some("START RequestId: abc Version: $LATEST")
        );
        assert_eq!(text.end("abc").as_deref(), Some("END RequestId: abc"));
        let line = text
            .report("abc", &report(None), ReportStatus::Success)
            .expect("text reports");
        assert!(line.starts_with("REPORT RequestId: abc\tDuration: 1.23 ms"));
        assert_eq!(
            text.environment(),
            vec![("AWS_LAMBDA_LOG_FORMAT", "Text".to_owned())]
        );
    }

    #[test]
    fn json_writes_platform_events() {
        let config = json();
        let start: serde_json::Value =
            serde_json::from_str(&config.start("abc").expect("INFO passes")).expect("JSON");
        assert_eq!(start["type"], "platform.start");
        assert_eq!(start["record"]["requestId"], "abc");
        assert!(config.end("abc").is_none());
        let report: serde_json::Value = serde_json::from_str(
            &config
                .report(
                    "abc",
                    &report(Some(Duration::from_millis(100))),
                    ReportStatus::Error("Runtime.ExitError"),
                )
                .expect("a warning passes"),
        )
        .expect("JSON");
        assert_eq!(report["type"], "platform.report");
        assert_eq!(report["record"]["status"], "error");
        assert_eq!(report["record"]["errorType"], "Runtime.ExitError");
        assert_eq!(report["record"]["metrics"]["durationMs"], 1.23);
        assert_eq!(report["record"]["metrics"]["billedDurationMs"], 102);
        assert_eq!(report["record"]["metrics"]["initDurationMs"], 100.0);
        assert_eq!(
            config.environment(),
            vec![
                ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
                ("AWS_LAMBDA_LOG_LEVEL", "INFO".to_owned())
            ]
        );
    }

    #[test]
    fn system_log_level_filters_json_lines() {
        let warn = LoggingConfig {
            system_level: Some(SystemLogLevel::Warn),
            application_level: Some("ERROR".to_owned()),
            ..json()
        };
        assert!(warn.start("abc").is_none());
        assert!(warn
            .report("abc", &report(None), ReportStatus::Success)
            .is_none());
        assert!(warn
            .report("abc", &report(None), ReportStatus::Timeout)
            .is_some());
        assert!(warn
            .init_failure(Duration::from_millis(5), "Runtime.ExitError")
            .is_some());
        assert_eq!(warn.environment()[1].1, "ERROR");
        let debug = LoggingConfig {
            system_level: Some(SystemLogLevel::Debug),
            ..json()
        };
        assert!(debug.start("abc").is_some());
    }
}
