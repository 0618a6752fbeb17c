//! Fuzzes the SAM template loader: any text must give an app or a template error, never a
//! panic or a hang.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use serverful_template::{load_str, LoadOptions};

fuzz_target!(|source: &str| {
    let options = LoadOptions {
        parameter_overrides: Default::default(),
        region: "us-east-1".to_string(),
        account_id: "123456789012".to_string(),
        stack_name: "fuzz".to_string(),
        version_numbers: Default::default(),
        queue_url_base: None,
    };
    let _ = load_str(source, Path::new("/fuzz/template.yaml"), &options);
});
