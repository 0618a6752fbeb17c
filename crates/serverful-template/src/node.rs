//! A YAML syntax tree that keeps tags and source positions, built from yaml-rust2's events.
//!
//! CloudFormation's short intrinsic forms (`!Ref`, `!Sub`, ...) are YAML tags, and every
//! template error has to point at a line, so the tree yaml-rust2 builds itself (which drops
//! both) is not enough. JSON templates parse here too, since JSON is YAML.

use std::collections::BTreeMap;

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A position in the template source, both numbers 1-based.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) line: usize,
    pub(crate) column: usize,
}

impl Span {
    fn from_marker(marker: Marker) -> Span {
        // yaml-rust2 counts lines from 1 and columns from 0.
        Span {
            line: marker.line(),
            column: marker.col() + 1,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub(crate) kind: NodeKind,
    /// A local tag such as `!Ref`; YAML core tags (`!!str`, ...) are folded into the node.
    pub(crate) tag: Option<String>,
    pub(crate) span: Span,
}

#[derive(Clone, Debug)]
pub(crate) enum NodeKind {
    /// `quoted` tells `"3"` (a string) from `3` (a number) when converting to JSON.
    Scalar {
        text: String,
        quoted: bool,
    },
    Sequence(Vec<Node>),
    Mapping(Vec<Entry>),
}

#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) key: String,
    pub(crate) key_span: Span,
    pub(crate) value: Node,
}

impl Node {
    pub(crate) fn string(text: impl Into<String>, span: Span) -> Node {
        Node {
            kind: NodeKind::Scalar {
                text: text.into(),
                quoted: true,
            },
            tag: None,
            span,
        }
    }

    pub(crate) fn plain(text: impl Into<String>, span: Span) -> Node {
        Node {
            kind: NodeKind::Scalar {
                text: text.into(),
                quoted: false,
            },
            tag: None,
            span,
        }
    }

    pub(crate) fn sequence(items: Vec<Node>, span: Span) -> Node {
        Node {
            kind: NodeKind::Sequence(items),
            tag: None,
            span,
        }
    }

    /// The text of an untagged scalar.
    pub(crate) fn as_scalar(&self) -> Option<&str> {
        match (&self.kind, &self.tag) {
            (NodeKind::Scalar { text, .. }, None) => Some(text),
            _ => None,
        }
    }

    /// The entries of an untagged mapping.
    pub(crate) fn as_mapping(&self) -> Option<&[Entry]> {
        match (&self.kind, &self.tag) {
            (NodeKind::Mapping(entries), None) => Some(entries),
            _ => None,
        }
    }

    /// The items of an untagged sequence.
    pub(crate) fn as_sequence(&self) -> Option<&[Node]> {
        match (&self.kind, &self.tag) {
            (NodeKind::Sequence(items), None) => Some(items),
            _ => None,
        }
    }

    /// YAML's empty value (`Key:` with nothing after it), `~` or `null`.
    pub(crate) fn is_null(&self) -> bool {
        matches!(
            (&self.kind, &self.tag),
            (NodeKind::Scalar { text, quoted: false }, None)
                if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL")
        )
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        self.as_mapping()?
            .iter()
            .find(|entry| entry.key == key)
            .map(|entry| &entry.value)
    }

    /// What this node is, for "expected X, found Y" messages.
    pub(crate) fn describe(&self) -> String {
        if let Some(tag) = &self.tag {
            return format!("a {tag} function");
        }
        match &self.kind {
            NodeKind::Scalar { .. } if self.is_null() => "nothing".to_owned(),
            NodeKind::Scalar { text, .. } => format!("'{}'", shorten(text)),
            NodeKind::Sequence(_) => "a list".to_owned(),
            NodeKind::Mapping(entries) => match entries.as_slice() {
                [entry] if entry.key == "Ref" || entry.key.starts_with("Fn::") => {
                    format!("a {} function", entry.key)
                }
                _ => "a mapping".to_owned(),
            },
        }
    }

    pub(crate) fn to_json(&self) -> serde_json::Value {
        match &self.kind {
            NodeKind::Scalar { text, quoted } => {
                if *quoted {
                    serde_json::Value::String(text.clone())
                } else {
                    plain_scalar_to_json(text)
                }
            }
            NodeKind::Sequence(items) => items.iter().map(Node::to_json).collect(),
            NodeKind::Mapping(entries) => entries
                .iter()
                .map(|entry| (entry.key.clone(), entry.value.to_json()))
                .collect::<serde_json::Map<_, _>>()
                .into(),
        }
    }
}

fn shorten(text: &str) -> String {
    const LIMIT: usize = 40;
    if text.chars().count() <= LIMIT {
        text.to_owned()
    } else {
        let head: String = text.chars().take(LIMIT).collect();
        format!("{head}...")
    }
}

/// Reads an unquoted scalar with YAML 1.2 core schema rules.
fn plain_scalar_to_json(text: &str) -> serde_json::Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return serde_json::Value::Null,
        "true" | "True" | "TRUE" => return serde_json::Value::Bool(true),
        "false" | "False" | "FALSE" => return serde_json::Value::Bool(false),
        _ => {}
    }
    if let Ok(integer) = text.parse::<i64>() {
        return integer.into();
    }
    let looks_numeric = text
        .chars()
        .all(|character| character.is_ascii_digit() || "+-.eE".contains(character))
        && text.chars().any(|character| character.is_ascii_digit());
    if looks_numeric {
        if let Some(number) = text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
        {
            return number.into();
        }
    }
    serde_json::Value::String(text.to_owned())
}

#[derive(Debug)]
pub(crate) struct SyntaxError {
    pub(crate) span: Span,
    pub(crate) message: String,
}

/// Deeper nesting than this is refused so that the recursive resolver cannot overflow the stack.
const MAX_DEPTH: usize = 200;
/// Aliases are expanded by copying; this bounds "billion laughs" templates.
const MAX_NODES: usize = 1_000_000;

enum Frame {
    Sequence {
        items: Vec<Node>,
        tag: Option<String>,
        anchor: usize,
        span: Span,
    },
    Mapping {
        entries: Vec<Entry>,
        pending_key: Option<(String, Span)>,
        tag: Option<String>,
        anchor: usize,
        span: Span,
    },
}

struct Builder {
    stack: Vec<Frame>,
    root: Option<Node>,
    anchors: BTreeMap<usize, Node>,
    n_nodes: usize,
}

/// Parses one YAML document; `None` when the source holds no document at all.
pub(crate) fn parse(source: &str) -> Result<Option<Node>, SyntaxError> {
    let mut parser = Parser::new_from_str(source);
    let mut builder = Builder {
        stack: Vec::new(),
        root: None,
        anchors: BTreeMap::new(),
        n_nodes: 0,
    };
    let mut n_documents = 0;
    loop {
        let (event, marker) = parser.next_token().map_err(|error| SyntaxError {
            span: Span::from_marker(*error.marker()),
            message: format!("YAML syntax error: {}", error.info()),
        })?;
        let span = Span::from_marker(marker);
        match event {
            // The stream end is the last event; asking the parser for more would be a bug.
            Event::StreamEnd => break,
            Event::DocumentStart => {
                n_documents += 1;
                if n_documents > 1 {
                    return Err(SyntaxError {
                        span,
                        message:
                            "the file holds more than one YAML document; a template is one document"
                                .to_owned(),
                    });
                }
            }
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => {}
            Event::Alias(anchor) => {
                let Some(node) = builder.anchors.get(&anchor).cloned() else {
                    return Err(SyntaxError {
                        span,
                        message: "alias refers to an unknown anchor".to_owned(),
                    });
                };
                builder.n_nodes += count_nodes(&node);
                builder.add(node)?;
            }
            Event::Scalar(text, style, anchor, tag) => {
                let quoted = !matches!(style, TScalarStyle::Plain);
                let (tag, quoted) = fold_tag(tag, quoted);
                let node = Node {
                    kind: NodeKind::Scalar { text, quoted },
                    tag,
                    span,
                };
                builder.remember(anchor, &node);
                builder.add(node)?;
            }
            Event::SequenceStart(anchor, tag) => {
                builder.push(
                    Frame::Sequence {
                        items: Vec::new(),
                        tag: fold_tag(tag, false).0,
                        anchor,
                        span,
                    },
                    span,
                )?;
            }
            Event::MappingStart(anchor, tag) => {
                builder.push(
                    Frame::Mapping {
                        entries: Vec::new(),
                        pending_key: None,
                        tag: fold_tag(tag, false).0,
                        anchor,
                        span,
                    },
                    span,
                )?;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = builder.stack.pop() else {
                    return Err(SyntaxError {
                        span,
                        message: "YAML syntax error: unbalanced collection end".to_owned(),
                    });
                };
                let (node, anchor) = match frame {
                    Frame::Sequence {
                        items,
                        tag,
                        anchor,
                        span,
                    } => (
                        Node {
                            kind: NodeKind::Sequence(items),
                            tag,
                            span,
                        },
                        anchor,
                    ),
                    Frame::Mapping {
                        entries,
                        tag,
                        anchor,
                        span,
                        ..
                    } => (
                        Node {
                            kind: NodeKind::Mapping(entries),
                            tag,
                            span,
                        },
                        anchor,
                    ),
                };
                builder.remember(anchor, &node);
                builder.add(node)?;
            }
        }
        if builder.n_nodes > MAX_NODES {
            return Err(SyntaxError {
                span,
                message: "the template is too large once its YAML aliases are expanded".to_owned(),
            });
        }
    }
    Ok(builder.root)
}

fn count_nodes(node: &Node) -> usize {
    match &node.kind {
        NodeKind::Scalar { .. } => 1,
        NodeKind::Sequence(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        NodeKind::Mapping(entries) => {
            1 + entries
                .iter()
                .map(|entry| count_nodes(&entry.value))
                .sum::<usize>()
        }
    }
}

/// Keeps local tags (`!Ref`) and drops YAML core tags, where `!!str` makes a scalar a string.
fn fold_tag(tag: Option<Tag>, quoted: bool) -> (Option<String>, bool) {
    match tag {
        None => (None, quoted),
        Some(tag) if tag.handle == "!" => (Some(format!("!{}", tag.suffix)), quoted),
        Some(tag) if tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!" => {
            (None, quoted || tag.suffix == "str")
        }
        Some(tag) => (Some(format!("{}{}", tag.handle, tag.suffix)), quoted),
    }
}

impl Builder {
    fn remember(&mut self, anchor: usize, node: &Node) {
        // yaml-rust2 numbers anchors from 1; 0 means the node has none.
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
    }

    fn push(&mut self, frame: Frame, span: Span) -> Result<(), SyntaxError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(SyntaxError {
                span,
                message: format!("the template nests deeper than {MAX_DEPTH} levels"),
            });
        }
        if let Some(Frame::Mapping {
            pending_key: None, ..
        }) = self.stack.last()
        {
            return Err(SyntaxError {
                span,
                message: "a mapping key must be a plain string, not a list or a mapping".to_owned(),
            });
        }
        self.stack.push(frame);
        Ok(())
    }

    fn add(&mut self, node: Node) -> Result<(), SyntaxError> {
        self.n_nodes += 1;
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
            }
            Some(Frame::Sequence { items, .. }) => items.push(node),
            Some(Frame::Mapping {
                entries,
                pending_key,
                ..
            }) => match pending_key.take() {
                Some((key, key_span)) => entries.push(Entry {
                    key,
                    key_span,
                    value: node,
                }),
                None => {
                    let key = match (&node.kind, &node.tag) {
                        (NodeKind::Scalar { text, .. }, None) => text.clone(),
                        _ => {
                            return Err(SyntaxError {
                                span: node.span,
                                message: format!(
                                    "a mapping key must be a plain string, found {}",
                                    node.describe()
                                ),
                            })
                        }
                    };
                    if entries.iter().any(|entry| entry.key == key) {
                        return Err(SyntaxError {
                            span: node.span,
                            message: format!(
                                "duplicate key '{key}'; each key may appear once in a mapping"
                            ),
                        });
                    }
                    *pending_key = Some((key, node.span));
                }
            },
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use expect_test::{expect, Expect};

    use super::{parse, Node, NodeKind};

    /// Renders the tree one node a line: position, tag, and kind.
    fn check(source: &str, expect: Expect) {
        fn render(node: &Node, indent: usize, label: &str, out: &mut String) {
            let tag = node
                .tag
                .as_deref()
                .map(|tag| format!(" {tag}"))
                .unwrap_or_default();
            let position = format!("{}:{}", node.span.line, node.span.column);
            let pad = "  ".repeat(indent);
            match &node.kind {
                NodeKind::Scalar { text, quoted } => {
                    let style = if *quoted { "quoted" } else { "plain" };
                    out.push_str(&format!("{pad}{label}{position}{tag} {style} {text:?}\n"));
                }
                NodeKind::Sequence(items) => {
                    out.push_str(&format!("{pad}{label}{position}{tag} sequence\n"));
                    for item in items {
                        render(item, indent + 1, "- ", out);
                    }
                }
                NodeKind::Mapping(entries) => {
                    out.push_str(&format!("{pad}{label}{position}{tag} mapping\n"));
                    for entry in entries {
                        let label = format!(
                            "{} @{}:{} = ",
                            entry.key, entry.key_span.line, entry.key_span.column
                        );
                        render(&entry.value, indent + 1, &label, out);
                    }
                }
            }
        }
        let mut out = String::new();
        match parse(source) {
            Ok(Some(root)) => render(&root, 0, "", &mut out),
            Ok(None) => out.push_str("no document\n"),
            Err(error) => out.push_str(&format!(
                "error {}:{}: {}\n",
                error.span.line, error.span.column, error.message
            )),
        }
        expect.assert_eq(&out);
    }

    #[test]
    fn tags_spans_and_styles() {
        check(
            "A: !Ref Name\nB: !Join [\"\", [a, !Ref B]]\nC: !Sub |\n  line ${X}\n  two\nD: '3'\nE: 3\nF: !!str 4\n",
            expect![[r#"
                1:2 mapping
                  A @1:1 = 1:9 !Ref plain "Name"
                  B @2:1 = 2:10 !Join sequence
                    - 2:11 quoted ""
                    - 2:15 sequence
                      - 2:16 plain "a"
                      - 2:24 !Ref plain "B"
                  C @3:1 = 4:3 !Sub quoted "line ${X}\ntwo\n"
                  D @6:1 = 6:4 quoted "3"
                  E @7:1 = 7:4 plain "3"
                  F @8:1 = 8:10 quoted "4"
            "#]],
        );
    }

    #[test]
    fn anchors_are_copied() {
        check(
            "a: &x {k: v}\nb: *x\n",
            expect![[r#"
            1:2 mapping
              a @1:1 = 1:7 mapping
                k @1:8 = 1:11 plain "v"
              b @2:1 = 1:7 mapping
                k @1:8 = 1:11 plain "v"
        "#]],
        );
    }

    #[test]
    fn empty_source_has_no_document() {
        check(
            "# only a comment\n",
            expect![[r#"
            no document
        "#]],
        );
    }

    #[test]
    fn complex_keys_are_refused() {
        check(
            "? [a, b]\n: c\n",
            expect![[r#"
            error 1:3: a mapping key must be a plain string, not a list or a mapping
        "#]],
        );
    }
}
