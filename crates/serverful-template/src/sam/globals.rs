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

/// Properties whose lists the resource's own value replaces instead of joining: a function
/// runs on one architecture, so SAM's transform replaces `Architectures` (its
/// per-property merge rules, where every other list still joins).
const REPLACED_LISTS: &[&str] = &["Architectures"];

/// SAM's globals rule: mappings merge key by key (the resource wins), lists join with the
/// Globals' items first (so a function's `Layers` come after the global ones), anything
/// else is the resource's.
pub(super) fn merge(global: &Node, local: &Node) -> Node {
    merge_at(global, local, true)
}

fn merge_at(global: &Node, local: &Node, top_level: bool) -> Node {
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
                    Some(entry) if top_level && REPLACED_LISTS.contains(&entry.key.as_str()) => {
                        entry.value = local_entry.value.clone();
                        entry.key_span = local_entry.key_span;
                    }
                    Some(entry) => {
                        entry.value = merge_at(&entry.value, &local_entry.value, false);
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
            global_items.iter().chain(local_items).cloned().collect(),
            local.span,
        ),
        _ => local.clone(),
    }
}
