//! Reading resource properties: which ones a resource type supports, resolving them, and
//! the typed readers (`expect_string`, ...) whose errors name the property's place.

use std::collections::BTreeMap;

use crate::intrinsics::Resolver;
use crate::node::{Entry, Node, NodeKind};
use crate::Problem;

pub(super) fn mapping<'n>(node: &'n Node, location: &str) -> Result<&'n [Entry], Problem> {
    if node.is_null() {
        return Ok(&[]);
    }
    node.as_mapping().ok_or_else(|| {
        Problem::at(
            node.span,
            format!("{location}: expected a mapping, found {}", node.describe()),
        )
    })
}

/// Which properties of a resource type Serverful reads.
pub(super) struct PropertyRules<'a> {
    /// Read and resolved.
    pub(super) supported: &'a [&'a str],
    /// Accepted without a warning: they change nothing locally, or are read elsewhere.
    pub(super) ignored: &'a [&'a str],
}

/// Resolves the supported properties, skipping those `AWS::NoValue` removed, and lists the
/// unsupported ones as `LogicalId.Property`. Unsupported properties are not resolved, so an
/// intrinsic Serverful cannot evaluate there (`Fn::Transform` in a `DefinitionBody`) does not
/// stop the template from loading.
pub(super) fn resolved_properties(
    resolver: &Resolver<'_>,
    logical_id: &str,
    properties: Option<&Node>,
    rules: &PropertyRules<'_>,
    unsupported: &mut Vec<String>,
) -> Result<Vec<(String, Node)>, Problem> {
    let Some(properties) = properties else {
        return Ok(Vec::new());
    };
    let location = format!("Resources.{logical_id}.Properties");
    let mut resolved = Vec::new();
    for entry in mapping(properties, &location)? {
        let key = entry.key.as_str();
        if rules.ignored.contains(&key) {
            continue;
        }
        if !rules.supported.contains(&key) {
            unsupported.push(format!("{logical_id}.{key}"));
            continue;
        }
        let property_location = format!("{location}.{key}");
        if let Some(value) = resolver.resolve(&entry.value, &property_location)? {
            if !value.is_null() {
                resolved.push((entry.key.clone(), value));
            }
        }
    }
    Ok(resolved)
}

pub(super) fn expect_string(node: &Node, location: &str) -> Result<String, Problem> {
    node.as_scalar().map(str::to_owned).ok_or_else(|| {
        Problem::at(
            node.span,
            format!("{location}: expected a string, found {}", node.describe()),
        )
    })
}

pub(super) fn expect_number(
    node: &Node,
    location: &str,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, Problem> {
    let Some(text) = node.as_scalar() else {
        return Err(Problem::at(
            node.span,
            format!(
                "{location}: expected a whole number, found {}",
                node.describe()
            ),
        ));
    };
    match text.trim().parse::<u32>() {
        Ok(number) if range.contains(&number) => Ok(number),
        Ok(number) => Err(Problem::at(
            node.span,
            format!(
                "{location}: {number} is out of range; use a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        )),
        Err(_) => Err(Problem::at(
            node.span,
            format!("{location}: expected a whole number, found '{text}'"),
        )),
    }
}

/// A node that is one item or a list of them, as its items.
pub(super) fn one_or_many(node: &Node) -> Vec<&Node> {
    match &node.kind {
        NodeKind::Sequence(items) => items.iter().collect(),
        _ => vec![node],
    }
}

/// A string or a list of strings.
pub(super) fn expect_string_or_strings(
    node: &Node,
    location: &str,
) -> Result<Vec<String>, Problem> {
    match &node.kind {
        NodeKind::Sequence(_) => expect_strings(node, location),
        _ => Ok(vec![expect_string(node, location)?]),
    }
}

pub(super) fn expect_strings(node: &Node, location: &str) -> Result<Vec<String>, Problem> {
    match &node.kind {
        NodeKind::Sequence(items) => items
            .iter()
            .enumerate()
            .map(|(item_idx, item)| expect_string(item, &format!("{location}[{item_idx}]")))
            .collect(),
        _ => Err(Problem::at(
            node.span,
            format!(
                "{location}: expected a list of strings, found {}",
                node.describe()
            ),
        )),
    }
}

pub(super) fn expect_string_map(
    node: &Node,
    location: &str,
) -> Result<BTreeMap<String, String>, Problem> {
    mapping(node, location)?
        .iter()
        .map(|entry| {
            let value = if entry.value.is_null() {
                String::new()
            } else {
                expect_string(&entry.value, &format!("{location}.{}", entry.key))?
            };
            Ok((entry.key.clone(), value))
        })
        .collect()
}
