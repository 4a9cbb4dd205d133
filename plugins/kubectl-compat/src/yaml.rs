//! A YAML (and JSON) document as a tree that keeps what the spec loader and
//! the linter need and serde throws away: the line of every node and whether
//! a scalar was quoted, which decides its YAML 1.1 type in NFD's decoder.

use std::borrow::Cow;
use std::collections::HashMap;

use granit_parser::{Event, Parser, ScalarStyle};

/// One YAML node and where it starts (1-based line and column).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub line: usize,
    pub col: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar; `plain` is false for quoted and block scalars and for `!!str`.
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The scalar text, if this is a scalar.
    pub fn scalar(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Scalar { .. } => "a scalar",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// True for an unquoted `null`, `~` or empty value.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }
}

/// A syntax error with its position.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

/// Parse every document in `text`. Aliases are expanded; anchors are kept by id.
pub fn parse_documents(text: &str) -> Result<Vec<Node>, SyntaxError> {
    let mut builder = Builder::default();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| SyntaxError {
            line: e.marker().line(),
            message: e.info().to_string(),
        })?;
        builder.event(event, span.start.line(), span.start.col() + 1)?;
    }
    Ok(builder.documents)
}

/// Parse a single document; an empty input is an error.
pub fn parse_one(text: &str) -> Result<Node, SyntaxError> {
    let mut docs = parse_documents(text)?;
    match docs.len() {
        0 => Err(SyntaxError {
            line: 1,
            message: "the document is empty".into(),
        }),
        1 => Ok(docs.remove(0)),
        n => Err(SyntaxError {
            line: docs[1].line,
            message: format!("expected one document, found {n}"),
        }),
    }
}

enum Frame {
    Seq(Node, usize),
    Map(Node, usize, Option<Node>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    documents: Vec<Node>,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, line: usize, col: usize) -> Result<(), SyntaxError> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let tagged_str = tag
                    .as_ref()
                    .is_some_and(|t| t.is_yaml_core_schema_tag("str"));
                let plain = style == ScalarStyle::Plain && !tagged_str;
                let node = Node {
                    value: Value::Scalar {
                        text: Cow::into_owned(text),
                        plain,
                    },
                    line,
                    col,
                };
                self.finish(node, anchor, line)
            }
            Event::SequenceStart(_, anchor, _) => {
                let node = Node {
                    value: Value::Seq(Vec::new()),
                    line,
                    col,
                };
                self.stack.push(Frame::Seq(node, anchor));
                Ok(())
            }
            Event::MappingStart(_, anchor, _) => {
                let node = Node {
                    value: Value::Map(Vec::new()),
                    line,
                    col,
                };
                self.stack.push(Frame::Map(node, anchor, None));
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq(node, anchor)) | Some(Frame::Map(node, anchor, _)) => {
                    self.finish(node, anchor, line)
                }
                None => Err(SyntaxError {
                    line,
                    message: "unbalanced collection end".into(),
                }),
            },
            Event::Alias(id) => {
                let node = self.anchors.get(&id).cloned().ok_or_else(|| SyntaxError {
                    line,
                    message: "alias to an unknown anchor".into(),
                })?;
                self.finish(node, 0, line)
            }
            Event::UnresolvedAlias(name) => Err(SyntaxError {
                line,
                message: format!("unknown anchor {name:?}"),
            }),
            _ => Ok(()),
        }
    }

    fn finish(&mut self, node: Node, anchor: usize, _line: usize) -> Result<(), SyntaxError> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.documents.push(node),
            Some(Frame::Seq(seq, _)) => {
                if let Value::Seq(items) = &mut seq.value {
                    items.push(node);
                }
            }
            Some(Frame::Map(map, _, pending)) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => {
                    if let Value::Map(entries) = &mut map.value {
                        if let Some(text) = key.scalar()
                            && entries.iter().any(|(k, _)| k.scalar() == Some(text))
                        {
                            return Err(SyntaxError {
                                line: key.line,
                                message: format!("mapping key {text:?} is defined twice"),
                            });
                        }
                        entries.push((key, node));
                    }
                }
            },
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_lines_and_quoting() {
        let doc = parse_one("a: 1\nb:\n  - '0200'\n  - 0200\n").unwrap();
        let Value::Map(entries) = &doc.value else {
            panic!()
        };
        assert_eq!(entries[0].0.line, 1);
        let Value::Seq(items) = &entries[1].1.value else {
            panic!()
        };
        assert_eq!(items[0].line, 3);
        assert_eq!(
            items[0].value,
            Value::Scalar {
                text: "0200".into(),
                plain: false
            }
        );
        assert_eq!(
            items[1].value,
            Value::Scalar {
                text: "0200".into(),
                plain: true
            }
        );
    }

    #[test]
    fn json_and_aliases() {
        let doc = parse_one("{\"x\": [1, \"2\"], \"y\": &a {k: v}, \"z\": *a}").unwrap();
        let Value::Map(entries) = &doc.value else {
            panic!()
        };
        assert_eq!(
            entries[1].1,
            Node {
                line: entries[2].1.line,
                col: entries[2].1.col,
                ..entries[2].1.clone()
            }
        );
        assert!(matches!(&entries[0].1.value, Value::Seq(v) if v.len() == 2));
    }

    #[test]
    fn duplicate_keys_and_syntax_errors_have_lines() {
        let err = parse_one("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.line, 3, "{err}");
        assert!(err.message.contains("twice"));
        let err = parse_one("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.line >= 1, "{err}");
        assert!(parse_one("").is_err());
        assert!(
            parse_one("!!str 0200").unwrap().value
                == Value::Scalar {
                    text: "0200".into(),
                    plain: false
                }
        );
    }
}
