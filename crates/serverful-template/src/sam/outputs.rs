//! The `Outputs` section: each output's value resolved, those whose condition holds.

use super::properties::mapping;
use crate::intrinsics::Resolver;
use crate::model::Output;
use crate::node::Node;
use crate::Problem;

pub(super) fn outputs(
    resolver: &Resolver<'_>,
    node: Option<&Node>,
    unsupported: &mut Vec<String>,
) -> Result<Vec<Output>, Problem> {
    let Some(node) = node else {
        return Ok(Vec::new());
    };
    let mut outputs = Vec::new();
    for entry in mapping(node, "Outputs")? {
        let name = &entry.key;
        let location = format!("Outputs.{name}");
        let definition = &entry.value;
        if definition.as_mapping().is_none() {
            return Err(Problem::at(
                definition.span,
                format!(
                    "{location}: expected a mapping with a Value, found {}",
                    definition.describe()
                ),
            ));
        }
        if let Some(condition) = definition.get("Condition") {
            let Some(condition_name) = condition.as_scalar() else {
                return Err(Problem::at(
                    condition.span,
                    format!(
                        "{location}.Condition: expected a condition name, found {}",
                        condition.describe()
                    ),
                ));
            };
            if !resolver.condition(
                condition_name,
                condition.span,
                &format!("{location}.Condition"),
            )? {
                continue;
            }
        }
        let Some(value) = definition.get("Value") else {
            return Err(Problem::at(
                entry.key_span,
                format!("{location}.Value: missing; every output needs a Value"),
            ));
        };
        let value = resolver.resolve_string(value, &format!("{location}.Value"))?;
        let description = match definition.get("Description") {
            None => None,
            Some(description) => {
                Some(resolver.resolve_string(description, &format!("{location}.Description"))?)
            }
        };
        if definition.get("Export").is_some() {
            unsupported.push(format!("{location}.Export"));
        }
        outputs.push(Output {
            name: name.clone(),
            value,
            description,
        });
    }
    Ok(outputs)
}
