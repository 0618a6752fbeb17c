//! The `Globals` section and SAM's rule for merging it into each resource's properties.

use super::properties::mapping;
use crate::node::{Node, NodeKind};
use crate::Problem;

#[derive(Default)]
pub(super) struct Globals<'t> {
    pub(super) function: Option<&'t Node>,
    pub(super) api: Option<&'t Node>,
    pub(super) http_api: Option<&'t Node>,
}

impl<'t> Globals<'t> {
    pub(super) fn read(
        node: Option<&'t Node>,
        unsupported: &mut Vec<String>,
    ) -> Result<Globals<'t>, Problem> {
        let mut globals = Globals::default();
        let Some(node) = node else {
            return Ok(globals);
        };
        for entry in mapping(node, "Globals")? {
            let location = format!("Globals.{}", entry.key);
            let value = if entry.value.is_null() {
                None
            } else {
                mapping(&entry.value, &location)?;
                Some(&entry.value)
            };
            match entry.key.as_str() {
                "Function" => globals.function = value,
                "Api" => globals.api = value,
                "HttpApi" => globals.http_api = value,
                _ => unsupported.push(location),
            }
        }
        Ok(globals)
    }
}

fn is_intrinsic(node: &Node) -> bool {
    node.tag.is_some()
        || matches!(node.as_mapping(), Some([entry]) if entry.key == "Ref" || entry.key.starts_with("Fn::"))
}

/// SAM's globals rule: mappings merge key by key (the resource wins), lists join (the
/// resource's items first), anything else is the resource's.
pub(super) fn merge(global: &Node, local: &Node) -> Node {
    if is_intrinsic(global) || is_intrinsic(local) {
        return local.clone();
    }
    match (&global.kind, &local.kind) {
        (NodeKind::Mapping(global_entries), NodeKind::Mapping(local_entries)) => {
            let mut entries = global_entries.clone();
            for local_entry in local_entries {
                match entries
                    .iter_mut()
                    .find(|entry| entry.key == local_entry.key)
                {
                    Some(entry) => {
                        entry.value = merge(&entry.value, &local_entry.value);
                        entry.key_span = local_entry.key_span;
                    }
                    None => entries.push(local_entry.clone()),
                }
            }
            Node {
                kind: NodeKind::Mapping(entries),
                tag: None,
                span: local.span,
            }
        }
        (NodeKind::Sequence(global_items), NodeKind::Sequence(local_items)) => Node::sequence(
            local_items.iter().chain(global_items).cloned().collect(),
            local.span,
        ),
        _ => local.clone(),
    }
}
