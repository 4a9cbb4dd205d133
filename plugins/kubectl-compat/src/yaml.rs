//! A YAML (and JSON) document as a tree that keeps what the spec loader and
//! the linter need and serde throws away: the line of every node and whether
//! a scalar was quoted, which decides its YAML 1.1 type in NFD's decoder.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

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
    /// The mapping, its anchor, a key waiting for its value, and the scalar
    /// keys seen so far (a set: a linear scan is quadratic in the keys).
    Map(Node, usize, Option<Node>, HashSet<String>),
}

/// Nesting deeper than this, reached through aliases, is refused (the
/// parser itself stops plain nesting at 255 levels per kind).
const MAX_DEPTH: usize = 512;

/// An anchored node with its size in nodes and its depth, so an alias can
/// be charged before it is copied.
struct Anchor {
    node: Node,
    nodes: usize,
    depth: usize,
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Anchor>,
    documents: Vec<Node>,
    /// Nodes built, aliased copies included, and those that came from aliases:
    /// go-yaml's `decodeCount` and `aliasCount`.
    decoded: usize,
    aliased: usize,
}

/// go-yaml's `allowedAliasRatio`: small documents may be almost all aliases,
/// large ones only a tenth.
fn allowed_alias_ratio(decoded: usize) -> f64 {
    const LOW: f64 = 400_000.0;
    const HIGH: f64 = 4_000_000.0;
    let d = decoded as f64;
    if d <= LOW {
        0.99
    } else if d >= HIGH {
        0.10
    } else {
        0.99 - 0.89 * ((d - LOW) / (HIGH - LOW))
    }
}

/// (nodes, depth) of a tree, without recursion.
fn measure(node: &Node) -> (usize, usize) {
    let (mut nodes, mut depth) = (0, 0);
    let mut todo = vec![(node, 1)];
    while let Some((n, d)) = todo.pop() {
        nodes += 1;
        depth = depth.max(d);
        match &n.value {
            Value::Scalar { .. } => {}
            Value::Seq(items) => todo.extend(items.iter().map(|i| (i, d + 1))),
            Value::Map(entries) => {
                todo.extend(entries.iter().flat_map(|(k, v)| [(k, d + 1), (v, d + 1)]))
            }
        }
    }
    (nodes, depth)
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
                self.decoded += 1;
                self.finish(node, anchor, line)
            }
            Event::SequenceStart(_, anchor, _) => {
                let node = Node {
                    value: Value::Seq(Vec::new()),
                    line,
                    col,
                };
                self.decoded += 1;
                self.stack.push(Frame::Seq(node, anchor));
                Ok(())
            }
            Event::MappingStart(_, anchor, _) => {
                let node = Node {
                    value: Value::Map(Vec::new()),
                    line,
                    col,
                };
                self.decoded += 1;
                self.stack
                    .push(Frame::Map(node, anchor, None, HashSet::new()));
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq(node, anchor)) | Some(Frame::Map(node, anchor, _, _)) => {
                    self.finish(node, anchor, line)
                }
                None => Err(SyntaxError {
                    line,
                    message: "unbalanced collection end".into(),
                }),
            },
            Event::Alias(id) => {
                let anchor = self.anchors.get(&id).ok_or_else(|| SyntaxError {
                    line,
                    message: "alias to an unknown anchor".into(),
                })?;
                // Charged before the copy, as go-yaml does, so an alias bomb
                // stops before it takes memory.
                self.decoded += anchor.nodes;
                self.aliased += anchor.nodes;
                if self.aliased > 100
                    && self.decoded > 1000
                    && self.aliased as f64 / self.decoded as f64 > allowed_alias_ratio(self.decoded)
                {
                    return Err(SyntaxError {
                        line,
                        message: "document contains excessive aliasing (more nodes come from aliases than go-yaml, and so NFD, allows)".into(),
                    });
                }
                if self.stack.len() + anchor.depth > MAX_DEPTH {
                    return Err(SyntaxError {
                        line,
                        message: format!(
                            "aliases nest the document deeper than {MAX_DEPTH} levels"
                        ),
                    });
                }
                let node = anchor.node.clone();
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
            let (nodes, depth) = measure(&node);
            self.anchors.insert(
                anchor,
                Anchor {
                    node: node.clone(),
                    nodes,
                    depth,
                },
            );
        }
        match self.stack.last_mut() {
            None => self.documents.push(node),
            Some(Frame::Seq(seq, _)) => {
                if let Value::Seq(items) = &mut seq.value {
                    items.push(node);
                }
            }
            Some(Frame::Map(map, _, pending, keys)) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => {
                    if let Value::Map(entries) = &mut map.value {
                        if let Some(text) = key.scalar()
                            && !keys.insert(text.to_string())
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
    fn alias_bombs_stop_as_in_go_yaml() {
        let start = std::time::Instant::now();
        let err = parse_one(&kplug::yaml::alias_bomb("")).unwrap_err();
        assert!(err.message.contains("excessive aliasing"), "{err}");
        assert!(start.elapsed().as_secs() < 2);
        // Depth through aliases: each level wraps the previous one 200 deep.
        let mut deep = String::new();
        let open = "[".repeat(200);
        let close = "]".repeat(200);
        deep.push_str(&format!("a0: &a0 {open}x{close}\n"));
        for i in 1..8 {
            deep.push_str(&format!("a{i}: &a{i} {open}*a{}{close}\n", i - 1));
        }
        let err = parse_one(&deep).unwrap_err();
        assert!(err.message.contains("deeper than"), "{err}");
        // Ordinary reuse is fine.
        let doc = parse_one("base: &b {k: v}\nx: *b\ny: *b\n").unwrap();
        assert!(matches!(doc.value, Value::Map(ref e) if e.len() == 3));
    }

    #[test]
    fn many_keys_are_checked_in_linear_time() {
        let mut text = String::from("m:\n");
        for i in 0..100_000 {
            text.push_str(&format!("  k{i}: v\n"));
        }
        let start = std::time::Instant::now();
        parse_one(&text).unwrap();
        text.push_str("  k5: again\n");
        let err = parse_one(&text).unwrap_err();
        assert_eq!(err.line, 100_002);
        assert!(start.elapsed().as_secs() < 10, "{:?}", start.elapsed());
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
