//! The image-compatibility spec (NFD `v1alpha1`) and a decoder that accepts
//! exactly what NFD's decoder accepts: JSON struct keys matched
//! case-insensitively, unknown keys ignored, YAML 1.1 scalars coerced to text,
//! `null` leaving the zero value. Every item keeps its line for reports and lint.

use std::collections::BTreeMap;

use crate::goyaml;
use crate::yaml::{self, Node, Value};

pub const ARTIFACT_TYPE: &str = "application/vnd.nfd.image-compatibility.v1alpha1";
pub const SPEC_MEDIA_TYPE: &str = "application/vnd.nfd.image-compatibility.spec.v1alpha1+yaml";
pub const VERSION: &str = "v1alpha1";

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Spec {
    pub version: String,
    pub compatibilities: Vec<Compatibility>,
}

impl Spec {
    /// Every feature a rule matches on (`cpu.model`, `rule.matched`, …).
    pub fn feature_names(&self) -> impl Iterator<Item = &str> {
        self.compatibilities
            .iter()
            .flat_map(|c| &c.rules)
            .flat_map(|r| r.match_features.iter().chain(r.match_any.iter().flatten()))
            .map(|t| t.feature.as_str())
    }
}

/// One compatibility set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Compatibility {
    pub rules: Vec<GroupRule>,
    pub weight: i64,
    pub tag: String,
    pub description: String,
    pub line: usize,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupRule {
    pub name: String,
    pub vars: BTreeMap<String, String>,
    pub vars_template: String,
    pub match_features: Vec<Term>,
    pub match_any: Vec<Vec<Term>>,
    pub line: usize,
}

/// One `FeatureMatcherTerm`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Term {
    pub feature: String,
    /// `None` when absent or `null`; keys in the order written.
    pub match_expressions: Option<Vec<(String, Expression)>>,
    pub match_name: Option<Expression>,
    pub line: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Expression {
    pub op: String,
    pub value: Vec<String>,
    /// `type`: empty or `version`.
    pub value_type: String,
    pub line: usize,
    /// A `key: null` expression: NFD crashes on it; we report an error.
    pub null: bool,
}

impl Expression {
    pub fn new(op: &str, value: &[&str]) -> Self {
        Expression {
            op: op.into(),
            value: value.iter().map(|v| v.to_string()).collect(),
            ..Default::default()
        }
    }

    pub fn with_type(mut self, value_type: &str) -> Self {
        self.value_type = value_type.into();
        self
    }

    /// NFD's `String()`: `{op: "In", value: ["a" "b"]}`; `type` is not shown.
    pub fn nfd_string(&self) -> String {
        if self.value.is_empty() {
            return format!("{{op: {}}}", go_quote(&self.op));
        }
        let values: Vec<String> = self.value.iter().map(|v| go_quote(v)).collect();
        format!(
            "{{op: {}, value: [{}]}}",
            go_quote(&self.op),
            values.join(" ")
        )
    }

    /// Our display form, which shows the type: `Ge 5.15 (version)`.
    pub fn display(&self) -> String {
        let op = if self.op.is_empty() {
            "<any>"
        } else {
            &self.op
        };
        let mut out = op.to_string();
        if !self.value.is_empty() {
            out.push(' ');
            out.push_str(&self.value.join(","));
        }
        if !self.value_type.is_empty() {
            out.push_str(&format!(" ({})", self.value_type));
        }
        out
    }
}

/// Go's `%q` for a string: double quotes, Go escapes.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A spec that NFD would not decode, with the line and path of the problem.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {path}: {message}")]
pub struct DecodeError {
    pub line: usize,
    pub path: String,
    pub message: String,
}

impl From<yaml::SyntaxError> for DecodeError {
    fn from(e: yaml::SyntaxError) -> Self {
        DecodeError {
            line: e.line,
            path: "(document)".into(),
            message: e.message,
        }
    }
}

/// Parse a spec from YAML or JSON text.
pub fn parse(text: &str) -> Result<Spec, DecodeError> {
    let root = yaml::parse_one(text)?;
    decode(&root)
}

/// Decode a parsed document.
pub fn decode(root: &Node) -> Result<Spec, DecodeError> {
    let mut spec = Spec::default();
    for (key, value, path) in fields(root, "")? {
        match key.as_str() {
            "version" => spec.version = string(value, &path)?.unwrap_or_default(),
            "compatibilities" => {
                spec.compatibilities = list(value, &path, compatibility)?;
            }
            _ => {}
        }
    }
    Ok(spec)
}

fn compatibility(node: &Node, path: &str) -> Result<Compatibility, DecodeError> {
    let mut c = Compatibility {
        line: node.line,
        ..Default::default()
    };
    for (key, value, p) in fields(node, path)? {
        match key.as_str() {
            "rules" => c.rules = list(value, &p, group_rule)?,
            "weight" => {
                let text = value
                    .scalar()
                    .ok_or_else(|| mismatch(value, &p, "an integer"))?;
                let plain = matches!(value.value, Value::Scalar { plain: true, .. });
                c.weight = goyaml::go_int(text, plain)
                    .map_err(|m| DecodeError {
                        line: value.line,
                        path: p.clone(),
                        message: m,
                    })?
                    .unwrap_or(c.weight);
            }
            "tag" => c.tag = string(value, &p)?.unwrap_or(c.tag),
            "description" => c.description = string(value, &p)?.unwrap_or(c.description),
            _ => {}
        }
    }
    Ok(c)
}

fn group_rule(node: &Node, path: &str) -> Result<GroupRule, DecodeError> {
    let mut r = GroupRule {
        line: node.line,
        ..Default::default()
    };
    for (key, value, p) in fields(node, path)? {
        match key.as_str() {
            "name" => r.name = string(value, &p)?.unwrap_or(r.name),
            "vars" if !value.is_null() => {
                for (k, v, kp) in entries(value, &p)? {
                    r.vars.insert(k, string(v, &kp)?.unwrap_or_default());
                }
            }
            "varstemplate" => r.vars_template = string(value, &p)?.unwrap_or(r.vars_template),
            "matchfeatures" => r.match_features = list(value, &p, term)?,
            "matchany" => {
                r.match_any = list(value, &p, |n, p| {
                    let mut terms = Vec::new();
                    for (k, v, kp) in fields(n, p)? {
                        if k == "matchfeatures" {
                            terms = list(v, &kp, term)?;
                        }
                    }
                    Ok(terms)
                })?;
            }
            _ => {}
        }
    }
    Ok(r)
}

fn term(node: &Node, path: &str) -> Result<Term, DecodeError> {
    let mut t = Term {
        line: node.line,
        ..Default::default()
    };
    for (key, value, p) in fields(node, path)? {
        match key.as_str() {
            "feature" => t.feature = string(value, &p)?.unwrap_or(t.feature),
            "matchexpressions" => {
                if value.is_null() {
                    t.match_expressions = None;
                    continue;
                }
                let mut set = Vec::new();
                for (k, v, kp) in entries(value, &p)? {
                    let e = if v.is_null() {
                        Expression {
                            line: v.line,
                            null: true,
                            ..Default::default()
                        }
                    } else {
                        expression(v, &kp)?
                    };
                    set.push((k, e));
                }
                t.match_expressions = Some(set);
            }
            "matchname" => {
                t.match_name = if value.is_null() {
                    None
                } else {
                    Some(expression(value, &p)?)
                };
            }
            _ => {}
        }
    }
    Ok(t)
}

fn expression(node: &Node, path: &str) -> Result<Expression, DecodeError> {
    let mut e = Expression {
        line: node.line,
        ..Default::default()
    };
    for (key, value, p) in fields(node, path)? {
        match key.as_str() {
            "op" => e.op = string(value, &p)?.unwrap_or(e.op),
            "value" => {
                e.value = list(value, &p, |n, p| Ok(string(n, p)?.unwrap_or_default()))?;
            }
            "type" => e.value_type = string(value, &p)?.unwrap_or(e.value_type),
            _ => {}
        }
    }
    Ok(e)
}

/// The (lower-cased key, value, path) of a mapping's fields, Go-json style:
/// later duplicates (in a different case) overwrite earlier ones, as Go does.
fn fields<'a>(node: &'a Node, path: &str) -> Result<Vec<(String, &'a Node, String)>, DecodeError> {
    if node.is_null() {
        return Ok(Vec::new());
    }
    Ok(entries(node, path)?
        .into_iter()
        .map(|(k, v, p)| (k.to_lowercase(), v, p))
        .collect())
}

/// A mapping's entries with keys as Go strings and their paths.
pub(crate) fn entries<'a>(
    node: &'a Node,
    path: &str,
) -> Result<Vec<(String, &'a Node, String)>, DecodeError> {
    let Value::Map(items) = &node.value else {
        return Err(mismatch(node, path, "a mapping"));
    };
    items
        .iter()
        .map(|(k, v)| {
            let key = key_string(k).map_err(|message| DecodeError {
                line: k.line,
                path: path_or_root(path),
                message,
            })?;
            let p = child_path(path, &key);
            Ok((key, v, p))
        })
        .collect()
}

/// A key as NFD's decoder sees it (`0200:` is key "128").
pub(crate) fn key_string(node: &Node) -> Result<String, String> {
    let null = || "a mapping key must be a non-null scalar".to_string();
    match &node.value {
        Value::Scalar { text, plain: true } => goyaml::go_key(text).ok_or_else(null)?,
        Value::Scalar { text, plain: false } => Ok(text.clone()),
        _ => Err(null()),
    }
}

pub(crate) fn child_path(path: &str, key: &str) -> String {
    let simple = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (path.is_empty(), simple) {
        (true, true) => key.to_string(),
        (true, false) => format!("[{key:?}]"),
        (false, true) => format!("{path}.{key}"),
        (false, false) => format!("{path}[{key:?}]"),
    }
}

fn path_or_root(path: &str) -> String {
    if path.is_empty() {
        "(document)".into()
    } else {
        path.to_string()
    }
}

fn list<T>(
    node: &Node,
    path: &str,
    mut item: impl FnMut(&Node, &str) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    if node.is_null() {
        return Ok(Vec::new());
    }
    let Value::Seq(items) = &node.value else {
        return Err(mismatch(node, path, "a list"));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, n)| item(n, &format!("{path}[{i}]")))
        .collect()
}

/// A Go string field: text as NFD would store it, `None` for null.
fn string(node: &Node, path: &str) -> Result<Option<String>, DecodeError> {
    match &node.value {
        Value::Scalar { text, plain: true } => Ok(goyaml::go_string(text)),
        Value::Scalar { text, plain: false } => Ok(Some(text.clone())),
        _ => Err(mismatch(node, path, "a string")),
    }
}

fn mismatch(node: &Node, path: &str, want: &str) -> DecodeError {
    DecodeError {
        line: node.line,
        path: path_or_root(path),
        message: format!("expected {want}, found {}", node.kind()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOG: &str = include_str!("../tests/data/specs/blog-example.yaml");

    #[test]
    fn decodes_the_blog_example() {
        let spec = parse(BLOG).unwrap();
        assert_eq!(spec.version, "v1alpha1");
        let set = &spec.compatibilities[0];
        assert_eq!(set.description, "My image requirements");
        assert_eq!(set.rules.len(), 2);
        let r0 = &set.rules[0];
        assert_eq!(r0.name, "kernel and cpu");
        assert_eq!(r0.match_features[1].feature, "cpu.model");
        let exprs = r0.match_features[1].match_expressions.as_ref().unwrap();
        assert_eq!(exprs[0].0, "vendor_id");
        assert_eq!(
            exprs[0].1,
            Expression {
                line: exprs[0].1.line,
                ..Expression::new("In", &["Intel", "AMD"])
            }
        );
        assert_eq!(set.rules[1].match_any.len(), 2);
        assert_eq!(set.rules[1].match_any[1][0].feature, "pci.device");
    }

    #[test]
    fn go_decoding_rules() {
        let spec = parse(
            "Version: v1alpha1\nCOMPATIBILITIES:\n- Weight: 0x10\n  unknown: 1\n  rules:\n  - name: r\n    matchFeatures:\n    - feature: a.b\n      matchExpressions:\n        0200: {OP: In, value: [0200, 2.0, yes, '0200']}\n        k: null\n      matchName: {op: Exists}\n",
        )
        .unwrap();
        let set = &spec.compatibilities[0];
        assert_eq!(spec.version, "v1alpha1");
        assert_eq!(set.weight, 16);
        let term = &set.rules[0].match_features[0];
        let exprs = term.match_expressions.as_ref().unwrap();
        assert_eq!(exprs[0].0, "128");
        assert_eq!(exprs[0].1.value, ["128", "2", "true", "0200"]);
        assert!(exprs[1].1.null);
        assert_eq!(term.match_name.as_ref().unwrap().op, "Exists");
    }

    #[test]
    fn null_and_empty_match_expressions_differ() {
        let spec = parse("compatibilities:\n- rules:\n  - matchFeatures:\n    - feature: a.b\n      matchExpressions: {}\n    - feature: a.c\n      matchExpressions: null\n").unwrap();
        let terms = &spec.compatibilities[0].rules[0].match_features;
        assert_eq!(terms[0].match_expressions, Some(vec![]));
        assert_eq!(terms[1].match_expressions, None);
    }

    #[test]
    fn type_errors_carry_line_and_path() {
        let err = parse("compatibilities:\n- rules:\n  - name: x\n    matchFeatures:\n    - feature: a.b\n      matchExpressions:\n        k: {op: In, value: x}\n").unwrap_err();
        assert_eq!(err.line, 7);
        assert_eq!(
            err.path,
            "compatibilities[0].rules[0].matchFeatures[0].matchExpressions.k.value"
        );
        assert!(err.message.contains("expected a list"), "{err}");
        let err = parse("compatibilities:\n- weight: '5'\n").unwrap_err();
        assert_eq!(err.path, "compatibilities[0].weight");
        assert!(parse("[1, 2]").is_err());
    }

    #[test]
    fn nfd_expression_string() {
        assert_eq!(
            Expression::new("In", &["Intel", "AMD"]).nfd_string(),
            r#"{op: "In", value: ["Intel" "AMD"]}"#
        );
        assert_eq!(
            Expression::new("Exists", &[]).nfd_string(),
            r#"{op: "Exists"}"#
        );
        assert_eq!(Expression::new("", &[]).nfd_string(), r#"{op: ""}"#);
        assert_eq!(
            Expression::new("Ge", &["5.15"])
                .with_type("version")
                .display(),
            "Ge 5.15 (version)"
        );
    }
}
