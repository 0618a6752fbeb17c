//! Integration tests of serverful-eventbridge: property tests and the differential test
//! against an independent implementation of event patterns.

mod differential;
mod properties;
