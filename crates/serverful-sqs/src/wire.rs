//! SQS's two wire formats over one model: answers are built once as an [`Out`] tree and
//! rendered as the JSON protocol's object or the query protocol's XML; query-protocol
//! requests (`Attribute.1.Name=...` form fields) are read into the JSON protocol's input
//! shape, so that each operation reads one input shape whichever protocol carried it.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// The query protocol's XML namespace.
pub const XML_NAMESPACE: &str = "http://queue.amazonaws.com/doc/2012-11-05/";

/// An answer's value, with what both formats need to render it.
#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    Text(String),
    Number(i64),
    Bool(bool),
    /// Members in order, each with its JSON and XML names.
    Struct(Vec<Field>),
    /// A list: a JSON array; in XML each item is an element named as the field.
    List(Vec<Out>),
    /// A map: a JSON object; in XML each entry is an element named as the field, holding
    /// the key under `key_name` and the value under `Value`.
    Map {
        key_name: &'static str,
        entries: Vec<(String, Out)>,
    },
}

/// A member of a structure.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub json: &'static str,
    pub xml: &'static str,
    pub value: Out,
}

impl Field {
    /// A member named the same in both formats.
    pub fn new(name: &'static str, value: Out) -> Field {
        Field {
            json: name,
            xml: name,
            value,
        }
    }
}

impl Out {
    /// A text member.
    pub fn text(value: impl Into<String>) -> Out {
        Out::Text(value.into())
    }

    /// A string map, as queue attributes (`Name`) and tags (`Key`) are sent.
    pub fn string_map(key_name: &'static str, map: &BTreeMap<String, String>) -> Out {
        Out::Map {
            key_name,
            entries: map
                .iter()
                .map(|(key, value)| (key.clone(), Out::text(value.clone())))
                .collect(),
        }
    }

    /// The JSON protocol's rendering.
    pub fn to_json(&self) -> Value {
        match self {
            Out::Text(text) => Value::String(text.clone()),
            Out::Number(number) => Value::from(*number),
            Out::Bool(flag) => Value::Bool(*flag),
            Out::Struct(fields) => Value::Object(
                fields
                    .iter()
                    .map(|field| (field.json.to_owned(), field.value.to_json()))
                    .collect(),
            ),
            Out::List(items) => Value::Array(items.iter().map(Out::to_json).collect()),
            Out::Map { entries, .. } => Value::Object(
                entries
                    .iter()
                    .map(|(key, value)| (key.clone(), value.to_json()))
                    .collect(),
            ),
        }
    }

    /// The query protocol's rendering of a structure's members into `xml`.
    fn write_members(fields: &[Field], xml: &mut String) {
        for field in fields {
            match &field.value {
                Out::List(items) => {
                    for item in items {
                        write_element(field.xml, item, xml);
                    }
                }
                Out::Map { key_name, entries } => {
                    for (key, value) in entries {
                        xml.push('<');
                        xml.push_str(field.xml);
                        xml.push('>');
                        write_element(key_name, &Out::Text(key.clone()), xml);
                        write_element("Value", value, xml);
                        xml.push_str("</");
                        xml.push_str(field.xml);
                        xml.push('>');
                    }
                }
                value => write_element(field.xml, value, xml),
            }
        }
    }
}

fn write_element(name: &str, value: &Out, xml: &mut String) {
    xml.push('<');
    xml.push_str(name);
    xml.push('>');
    match value {
        Out::Text(text) => escape_into(text, xml),
        Out::Number(number) => xml.push_str(&number.to_string()),
        Out::Bool(flag) => xml.push_str(if *flag { "true" } else { "false" }),
        Out::Struct(fields) => Out::write_members(fields, xml),
        // Lists and maps are members of structures only.
        Out::List(_) | Out::Map { .. } => {}
    }
    xml.push_str("</");
    xml.push_str(name);
    xml.push('>');
}

/// Escapes text for XML, as SQS does: markup characters, and carriage returns and other
/// control characters as character references so that they survive XML parsing.
pub fn escape_into(text: &str, xml: &mut String) {
    for character in text.chars() {
        match character {
            '&' => xml.push_str("&amp;"),
            '<' => xml.push_str("&lt;"),
            '>' => xml.push_str("&gt;"),
            '"' => xml.push_str("&quot;"),
            '\'' => xml.push_str("&apos;"),
            '\r' => xml.push_str("&#xD;"),
            '\t' | '\n' => xml.push(character),
            control if (control as u32) < 0x20 => {
                xml.push_str(&format!("&#x{:X};", control as u32));
            }
            other => xml.push(other),
        }
    }
}

/// The query protocol's answer to `action`: its result (if it has members) and the
/// request id.
pub fn xml_response(action: &str, result: Option<&Out>, request_id: &str) -> String {
    let mut xml = String::with_capacity(256);
    xml.push_str("<?xml version=\"1.0\"?>");
    xml.push_str(&format!("<{action}Response xmlns=\"{XML_NAMESPACE}\">"));
    if let Some(Out::Struct(fields)) = result {
        xml.push_str(&format!("<{action}Result>"));
        Out::write_members(fields, &mut xml);
        xml.push_str(&format!("</{action}Result>"));
    }
    xml.push_str("<ResponseMetadata><RequestId>");
    escape_into(request_id, &mut xml);
    xml.push_str(&format!(
        "</RequestId></ResponseMetadata></{action}Response>"
    ));
    xml
}

/// The query protocol's error document.
pub fn xml_error(sender_fault: bool, code: &str, message: &str, request_id: &str) -> String {
    let mut xml = String::with_capacity(256);
    xml.push_str("<?xml version=\"1.0\"?>");
    xml.push_str(&format!(
        "<ErrorResponse xmlns=\"{XML_NAMESPACE}\"><Error><Type>"
    ));
    xml.push_str(if sender_fault { "Sender" } else { "Receiver" });
    xml.push_str("</Type><Code>");
    escape_into(code, &mut xml);
    xml.push_str("</Code><Message>");
    escape_into(message, &mut xml);
    xml.push_str("</Message><Detail/></Error><RequestId>");
    escape_into(request_id, &mut xml);
    xml.push_str("</RequestId></ErrorResponse>");
    xml
}

/// How a query-protocol member prefix maps to the JSON input shape.
enum Shape {
    /// `X.N=value` → `"Xs": [value, ...]`.
    List(&'static str),
    /// `X.N.Name=k&X.N.Value=v` → `"Xs": {"k": "v"}` with the given key member.
    Map(&'static str, &'static str),
    /// `X.N.Name=k&X.N.Value.DataType=...` → `"Xs": {"k": {"DataType": ...}}`.
    AttributeValues(&'static str),
    /// `X.N.Member=...` → `"Entries": [{"Member": ...}]`, each entry read like the top.
    Entries,
}

fn shape_of(prefix: &str) -> Option<Shape> {
    Some(match prefix {
        "AttributeName" => Shape::List("AttributeNames"),
        "MessageSystemAttributeName" => Shape::List("MessageSystemAttributeNames"),
        "MessageAttributeName" => Shape::List("MessageAttributeNames"),
        "TagKey" => Shape::List("TagKeys"),
        "AWSAccountId" => Shape::List("AWSAccountIds"),
        "ActionName" => Shape::List("Actions"),
        "Attribute" => Shape::Map("Attributes", "Name"),
        "Tag" => Shape::Map("Tags", "Key"),
        "MessageAttribute" => Shape::AttributeValues("MessageAttributes"),
        "MessageSystemAttribute" => Shape::AttributeValues("MessageSystemAttributes"),
        "SendMessageBatchRequestEntry"
        | "DeleteMessageBatchRequestEntry"
        | "ChangeMessageVisibilityBatchRequestEntry" => Shape::Entries,
        _ => return None,
    })
}

/// Whether a member name is a list or map's, by its query prefix or its JSON name.
fn is_collection(name: &str) -> bool {
    shape_of(name).is_some()
        || matches!(
            name,
            "Entries"
                | "AttributeNames"
                | "MessageSystemAttributeNames"
                | "MessageAttributeNames"
                | "TagKeys"
                | "AWSAccountIds"
                | "Actions"
                | "Attributes"
                | "Tags"
                | "MessageAttributes"
                | "MessageSystemAttributes"
        )
}

/// Reads query-protocol form fields (without `Action` and `Version`) into the JSON
/// protocol's input object. Indexed members are ordered by their index, as SQS orders
/// them.
pub fn form_to_json(pairs: &[(String, String)]) -> Map<String, Value> {
    let split: Vec<(Vec<&str>, &str)> = pairs
        .iter()
        .map(|(key, value)| (key.split('.').collect(), value.as_str()))
        .collect();
    convert(&split)
}

/// `index → member path → value`, for the fields under one prefix.
type Indexed<'a> = BTreeMap<u64, Vec<(Vec<&'a str>, &'a str)>>;

fn convert<'a>(fields: &[(Vec<&'a str>, &'a str)]) -> Map<String, Value> {
    let mut object = Map::new();
    let mut groups: BTreeMap<&str, Indexed<'a>> = BTreeMap::new();
    for (path, value) in fields {
        match path.as_slice() {
            [] => {}
            // An empty list goes out as its name with an empty value: absent.
            [name] if value.is_empty() && is_collection(name) => {}
            [name] => {
                object.insert((*name).to_owned(), Value::String((*value).to_owned()));
            }
            [prefix, index, rest @ ..] => {
                let Ok(index) = index.parse::<u64>() else {
                    continue;
                };
                groups
                    .entry(prefix)
                    .or_default()
                    .entry(index)
                    .or_default()
                    .push((rest.to_vec(), value));
            }
        }
    }
    for (prefix, indexed) in groups {
        let Some(shape) = shape_of(prefix) else {
            continue;
        };
        let member = |members: &[(Vec<&str>, &str)], name: &str| {
            members
                .iter()
                .find(|(path, _)| path.len() == 1 && path[0] == name)
                .map(|(_, value)| (*value).to_owned())
        };
        match shape {
            Shape::List(key) => {
                let items = indexed
                    .values()
                    .filter_map(|members| {
                        members
                            .iter()
                            .find(|(path, _)| path.is_empty())
                            .map(|(_, value)| Value::String((*value).to_owned()))
                    })
                    .collect();
                object.insert(key.to_owned(), Value::Array(items));
            }
            Shape::Map(key, key_name) => {
                let mut map = Map::new();
                for members in indexed.values() {
                    if let Some(name) = member(members, key_name) {
                        let value = member(members, "Value").unwrap_or_default();
                        map.insert(name, Value::String(value));
                    }
                }
                object.insert(key.to_owned(), Value::Object(map));
            }
            Shape::AttributeValues(key) => {
                let mut map = Map::new();
                for members in indexed.values() {
                    let Some(name) = member(members, "Name") else {
                        continue;
                    };
                    let mut value = Map::new();
                    for (path, text) in members {
                        if let ["Value", field] = path.as_slice() {
                            value.insert((*field).to_owned(), Value::String((*text).to_owned()));
                        }
                    }
                    map.insert(name, Value::Object(value));
                }
                object.insert(key.to_owned(), Value::Object(map));
            }
            Shape::Entries => {
                let entries = indexed
                    .values()
                    .map(|members| Value::Object(convert(members)))
                    .collect();
                object.insert("Entries".to_owned(), Value::Array(entries));
            }
        }
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(text.as_bytes())
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect()
    }

    #[test]
    fn form_fields_read_as_the_json_shape() {
        let input = form_to_json(&pairs(
            "QueueName=q&Attribute.2.Name=DelaySeconds&Attribute.2.Value=5&Attribute.1.Name=VisibilityTimeout&Attribute.1.Value=60&Tag.1.Key=team&Tag.1.Value=a&AttributeName.2=B&AttributeName.1=A",
        ));
        assert_eq!(
            Value::Object(input),
            serde_json::json!({
                "QueueName": "q",
                "Attributes": {"DelaySeconds": "5", "VisibilityTimeout": "60"},
                "Tags": {"team": "a"},
                "AttributeNames": ["A", "B"],
            })
        );
        let batch = form_to_json(&pairs(
            "Entries=&SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=x&SendMessageBatchRequestEntry.1.MessageAttribute.1.Name=k&SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType=String&SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue=v&SendMessageBatchRequestEntry.10.Id=b&SendMessageBatchRequestEntry.10.MessageBody=y",
        ));
        assert_eq!(
            Value::Object(batch),
            serde_json::json!({
                "Entries": [
                    {"Id": "a", "MessageBody": "x", "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}},
                    {"Id": "b", "MessageBody": "y"},
                ]
            })
        );
    }

    #[test]
    fn answers_render_in_both_formats() {
        let out = Out::Struct(vec![Field {
            json: "Messages",
            xml: "Message",
            value: Out::List(vec![Out::Struct(vec![
                Field::new("Body", Out::text("a<b\r")),
                Field {
                    json: "Attributes",
                    xml: "Attribute",
                    value: Out::string_map(
                        "Name",
                        &BTreeMap::from([("SentTimestamp".to_owned(), "1".to_owned())]),
                    ),
                },
            ])]),
        }]);
        assert_eq!(
            out.to_json(),
            serde_json::json!({"Messages": [{"Body": "a<b\r", "Attributes": {"SentTimestamp": "1"}}]})
        );
        assert_eq!(
            xml_response("ReceiveMessage", Some(&out), "r1"),
            format!("<?xml version=\"1.0\"?><ReceiveMessageResponse xmlns=\"{XML_NAMESPACE}\"><ReceiveMessageResult><Message><Body>a&lt;b&#xD;</Body><Attribute><Name>SentTimestamp</Name><Value>1</Value></Attribute></Message></ReceiveMessageResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></ReceiveMessageResponse>")
        );
    }
}
