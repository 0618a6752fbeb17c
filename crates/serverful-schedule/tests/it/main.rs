//! Integration tests of serverful-schedule (issue 15): properties of fire times and a
//! differential test against an independent implementation of AWS's cron dialect.

mod differential;
mod generate;
mod properties;
