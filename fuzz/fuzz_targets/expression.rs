//! Fuzzes DynamoDB's expression grammar: the first byte picks the expression kind, the
//! rest is the text. Every input must parse or give a DynamoDB error, never panic.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use serverful_store::expression::ExpressionContext;
use serverful_store::{AttributeValue, Item};

fuzz_target!(|data: &[u8]| {
    let Some((kind, text)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(text) else { return };
    let names = BTreeMap::from([("#n".to_string(), "name".to_string()), ("#s".to_string(), "status".to_string())]);
    let values: Item = BTreeMap::from([
        (":v".to_string(), AttributeValue::S("x".to_string())),
        (":n".to_string(), AttributeValue::N("1".parse().expect("a number"))),
    ]);
    let mut context = ExpressionContext::new(&names, &values);
    let _ = match kind % 4 {
        0 => context.condition(text).map(drop),
        1 => context.filter(text).map(drop),
        2 => context.projection(text).map(drop),
        _ => context.update(text).map(drop),
    };
});
