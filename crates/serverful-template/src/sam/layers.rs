//! Lambda layers: `AWS::Serverless::LayerVersion` and `AWS::Lambda::LayerVersion` resources
//! with local content, and the `Layers` of functions, each either a layer of this template
//! or the ARN of a layer elsewhere.

use std::path::Path;

use super::properties::{
    expect_string, expect_strings, mapping, resolved_properties, PropertyRules,
};
use super::{normalize, RawResource};
use crate::intrinsics::{Resolver, ResourceKind};
use crate::model::{Layer, LayerRef};
use crate::node::{Node, NodeKind};
use crate::Problem;

pub(super) const SERVERLESS_LAYER: &str = "AWS::Serverless::LayerVersion";
pub(super) const LAMBDA_LAYER: &str = "AWS::Lambda::LayerVersion";

/// How many layers Lambda lets one function use.
const MAX_LAYERS: usize = 5;

const SERVERLESS_LAYER_PROPERTIES: PropertyRules<'static> = PropertyRules {
    supported: &[
        "ContentUri",
        "CompatibleRuntimes",
        "CompatibleArchitectures",
    ],
    // `LayerName` is read by `Ref`; the others change nothing locally.
    ignored: &["LayerName", "RetentionPolicy", "Description", "LicenseInfo"],
};

const LAMBDA_LAYER_PROPERTIES: PropertyRules<'static> = PropertyRules {
    supported: &["Content", "CompatibleRuntimes", "CompatibleArchitectures"],
    ignored: &["LayerName", "Description", "LicenseInfo"],
};

/// A layer resource, its content folder resolved against the template's folder.
pub(super) fn layer(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    base_dir: &Path,
    unsupported: &mut Vec<String>,
) -> Result<Layer, Problem> {
    let logical_id = &raw.logical_id;
    let location = format!("Resources.{logical_id}.Properties");
    let (rules, content_key) = if raw.type_name == SERVERLESS_LAYER {
        (&SERVERLESS_LAYER_PROPERTIES, "ContentUri")
    } else {
        (&LAMBDA_LAYER_PROPERTIES, "Content")
    };
    let mut content_dir = None;
    let mut compatible_runtimes = Vec::new();
    let mut compatible_architectures = Vec::new();
    for (key, value) in
        resolved_properties(resolver, logical_id, raw.properties, rules, unsupported)?
    {
        let property_location = format!("{location}.{key}");
        match key.as_str() {
            "ContentUri" | "Content" => {
                let folder = match value.as_scalar() {
                    Some(uri) if !uri.starts_with("s3://") => uri,
                    Some(_) => return Err(content_in_s3(&value, &property_location)),
                    None if value.get("Bucket").is_some() || value.get("S3Bucket").is_some() => {
                        return Err(content_in_s3(&value, &property_location))
                    }
                    None => {
                        return Err(Problem::at(
                            value.span,
                            format!(
                                "{property_location}: expected the layer's folder, found {}",
                                value.describe()
                            ),
                        ))
                    }
                };
                content_dir = Some(normalize(&base_dir.join(folder)));
            }
            "CompatibleRuntimes" => {
                compatible_runtimes = expect_strings(&value, &property_location)?;
            }
            "CompatibleArchitectures" => {
                compatible_architectures = expect_strings(&value, &property_location)?;
                if let Some(other) = compatible_architectures
                    .iter()
                    .find(|architecture| !matches!(architecture.as_str(), "x86_64" | "arm64"))
                {
                    return Err(Problem::at(
                        value.span,
                        format!("{property_location}: `{other}` is not an architecture; use x86_64 or arm64"),
                    ));
                }
            }
            // `resolved_properties` returns supported properties only.
            _ => {}
        }
    }
    let Some(content_dir) = content_dir else {
        return Err(Problem::at(
            raw.key_span,
            format!("{location}.{content_key}: missing; point {content_key} at the folder that holds the layer's files, such as {content_key}: layers/shared/"),
        ));
    };
    let (build_method, build_architecture) = match raw.metadata {
        None => (None, None),
        Some(node) => {
            let metadata_location = format!("Resources.{logical_id}.Metadata");
            match resolver.resolve(node, &metadata_location)? {
                None => (None, None),
                Some(metadata) => {
                    mapping(&metadata, &metadata_location)?;
                    let read = |key: &str| {
                        metadata
                            .get(key)
                            .filter(|value| !value.is_null())
                            .map(|value| {
                                expect_string(value, &format!("{metadata_location}.{key}"))
                            })
                            .transpose()
                    };
                    (read("BuildMethod")?, read("BuildArchitecture")?)
                }
            }
        }
    };
    Ok(Layer {
        logical_id: logical_id.clone(),
        name: resolver.physical_name(logical_id, "LayerName")?,
        arn: resolver.layer_arn(logical_id)?,
        content_dir,
        compatible_runtimes,
        compatible_architectures,
        build_method,
        build_architecture,
    })
}

fn content_in_s3(value: &Node, location: &str) -> Problem {
    Problem::at(
        value.span,
        format!("{location}: layer content in S3 cannot be used locally; point it at the local folder that holds the layer's files, such as layers/shared/"),
    )
}

/// A function's `Layers` (after Globals), in order. Each entry is a layer of this template
/// (`!Ref MyLayer`, `!GetAtt MyLayer.LayerVersionArn`, or its ARN written out) or the ARN
/// of a layer elsewhere; a `Ref` to a resource that is not a layer, or a string that is no
/// layer ARN, is an error at that entry.
pub(super) fn function_layers(
    resolver: &Resolver<'_>,
    logical_id: &str,
    node: Option<&Node>,
) -> Result<Vec<LayerRef>, Problem> {
    let Some(node) = node else {
        return Ok(Vec::new());
    };
    let location = format!("Resources.{logical_id}.Properties.Layers");
    // A list written out is checked item by item, so that a wrong reference is reported
    // where it is; a list that comes from an intrinsic (`!If`, a list parameter) is
    // resolved whole.
    let mut items: Vec<(Node, Option<&Node>)> = Vec::new();
    match (&node.kind, &node.tag) {
        (NodeKind::Sequence(written), None) => {
            for (item_idx, item) in written.iter().enumerate() {
                let item_location = format!("{location}[{item_idx}]");
                check_reference(resolver, item, &item_location)?;
                // An item that `AWS::NoValue` removed is no layer at all.
                if let Some(resolved) = resolver.resolve(item, &item_location)? {
                    items.push((resolved, Some(item)));
                }
            }
        }
        _ => match resolver.resolve(node, &location)? {
            None => {}
            Some(resolved) => match resolved.kind {
                NodeKind::Sequence(resolved_items) => {
                    items.extend(resolved_items.into_iter().map(|item| (item, None)));
                }
                _ if resolved.is_null() => {}
                _ => {
                    return Err(Problem::at(
                        node.span,
                        format!(
                            "{location}: expected a list of layers, found {}",
                            resolved.describe()
                        ),
                    ))
                }
            },
        },
    }
    let local_layers: Vec<(String, String)> = resolver
        .resources
        .iter()
        .filter(|(_, resource)| resource.kind == ResourceKind::Layer)
        .map(|(layer_id, _)| Ok((resolver.layer_arn(layer_id)?, layer_id.clone())))
        .collect::<Result<_, Problem>>()?;
    let mut layers = Vec::new();
    for (item_idx, (value, written)) in items.iter().enumerate() {
        let item_location = format!("{location}[{item_idx}]");
        let span = written.map_or(value.span, |written| written.span);
        let Some(text) = value.as_scalar() else {
            return Err(Problem::at(
                span,
                format!(
                    "{item_location}: expected a layer ARN or !Ref of a layer, found {}",
                    value.describe()
                ),
            ));
        };
        if let Some((_, layer_id)) = local_layers.iter().find(|(arn, _)| arn == text) {
            layers.push(LayerRef::Local(layer_id.clone()));
        } else if is_layer_version_arn(text) {
            layers.push(LayerRef::Arn(text.to_owned()));
        } else {
            let hint = match resolver.resources.get(text) {
                Some(resource) if resource.kind == ResourceKind::Layer => {
                    format!("; to use the layer {text} of this template, write !Ref {text}")
                }
                _ => String::new(),
            };
            return Err(Problem::at(
                span,
                format!("{item_location}: '{text}' is not a layer version ARN (arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION){hint}"),
            ));
        }
    }
    if layers.len() > MAX_LAYERS {
        return Err(Problem::at(
            node.span,
            format!(
                "{location}: a function can use at most {MAX_LAYERS} layers, as on Lambda; this one lists {}",
                layers.len()
            ),
        ));
    }
    Ok(layers)
}

/// A `Ref` in `Layers` must name a layer (or a parameter holding an ARN): naming another
/// kind of resource is a mistake that would otherwise surface as a puzzling non-ARN.
fn check_reference(resolver: &Resolver<'_>, item: &Node, location: &str) -> Result<(), Problem> {
    let target = match (&item.kind, item.tag.as_deref()) {
        (NodeKind::Scalar { text, .. }, Some("!Ref")) => text.as_str(),
        (NodeKind::Mapping(entries), None) => match entries.as_slice() {
            [entry] if entry.key == "Ref" => match entry.value.as_scalar() {
                Some(text) => text,
                None => return Ok(()),
            },
            _ => return Ok(()),
        },
        _ => return Ok(()),
    };
    match resolver.resources.get(target) {
        Some(resource) if resource.kind != ResourceKind::Layer => Err(Problem::at(
            item.span,
            format!(
                "{location}: '{target}' is of type {}, not a layer; Layers takes !Ref of an {SERVERLESS_LAYER} or {LAMBDA_LAYER}, or a layer version ARN",
                resource.type_name
            ),
        )),
        _ => Ok(()),
    }
}

/// `arn:PARTITION:lambda:REGION:ACCOUNT:layer:NAME:VERSION`, the form Lambda accepts in a
/// function's `Layers`.
fn is_layer_version_arn(text: &str) -> bool {
    let parts: Vec<&str> = text.split(':').collect();
    matches!(
        parts.as_slice(),
        ["arn", partition, "lambda", region, account, "layer", name, version]
            if partition.starts_with("aws")
                && !region.is_empty()
                && account.len() == 12
                && account.chars().all(|c| c.is_ascii_digit())
                && !name.is_empty()
                && !version.is_empty()
                && version.chars().all(|c| c.is_ascii_digit())
    )
}
