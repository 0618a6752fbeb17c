//! Fuzzes the PartiQL dialect's parser: any text gives a statement or a DynamoDB error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serverful_store::AttributeValue;

fuzz_target!(|text: &str| {
    let parameters = [AttributeValue::S("p".to_string())];
    let _ = serverful_store::partiql::parse(text, &parameters);
});
