//! `kubectl compat lint`: what NFD silently accepts but should not. Works on
//! the YAML tree (unknown keys, YAML 1.1 coercions, lines) and on the decoded
//! spec (ops, value counts, regexps, numbers, versions, features, names).

use kplug::finding::{Finding, ObjectRef, Severity};

use crate::catalogue::{self, Kind};
use crate::engine::expr::{self, OP_NAMES, Op};
use crate::engine::{template, version};
use crate::goyaml;
use crate::spec::{self, Expression, Spec, Term};
use crate::yaml::{self, Node, Value};

const KIND: &str = "CompatibilitySpec";

/// Lint one spec document read from `file`.
pub fn lint(text: &str, file: &str) -> Vec<Finding> {
    let mut l = Linter {
        file: file.to_string(),
        findings: Vec::new(),
    };
    let root = match yaml::parse_one(text) {
        Ok(r) => r,
        Err(e) => {
            l.push(Severity::Error, "yaml-syntax", e.line, "", e.message, None);
            return l.findings;
        }
    };
    l.walk(&root, Shape::Spec, "");
    match spec::decode(&root) {
        Ok(spec) => l.semantic(&spec),
        Err(e) => {
            let msg = format!("NFD cannot decode the spec: {}", e.message);
            l.push(Severity::Error, "invalid-spec", e.line, &e.path, msg, None);
        }
    }
    l.findings
        .sort_by(|a, b| (a.object.line, &a.code).cmp(&(b.object.line, &b.code)));
    l.findings
}

struct Linter {
    file: String,
    findings: Vec<Finding>,
}

#[derive(Clone, Copy, PartialEq)]
enum Shape {
    Spec,
    Compat,
    Rule,
    AnyElem,
    Term,
    ExprMap,
    Expr,
    Str,
    StrList,
    StrMap,
    Int,
    List(&'static Shape),
}

const COMPAT: Shape = Shape::Compat;
const RULE: Shape = Shape::Rule;
const ANY: Shape = Shape::AnyElem;
const TERM: Shape = Shape::Term;

fn fields(shape: Shape) -> &'static [(&'static str, Shape)] {
    match shape {
        Shape::Spec => &[
            ("version", Shape::Str),
            ("compatibilities", Shape::List(&COMPAT)),
        ],
        Shape::Compat => &[
            ("rules", Shape::List(&RULE)),
            ("weight", Shape::Int),
            ("tag", Shape::Str),
            ("description", Shape::Str),
        ],
        Shape::Rule => &[
            ("name", Shape::Str),
            ("vars", Shape::StrMap),
            ("varsTemplate", Shape::Str),
            ("matchFeatures", Shape::List(&TERM)),
            ("matchAny", Shape::List(&ANY)),
        ],
        Shape::AnyElem => &[("matchFeatures", Shape::List(&TERM))],
        Shape::Term => &[
            ("feature", Shape::Str),
            ("matchExpressions", Shape::ExprMap),
            ("matchName", Shape::Expr),
        ],
        Shape::Expr => &[
            ("op", Shape::Str),
            ("value", Shape::StrList),
            ("type", Shape::Str),
        ],
        _ => &[],
    }
}

/// Rule keys of NFD v0.17 (`Rule`) that v0.18+ (`GroupRule`) ignores.
const OLD_RULE_KEYS: [&str; 5] = [
    "labels",
    "labelsTemplate",
    "annotations",
    "taints",
    "extendedResources",
];

impl Linter {
    fn push(
        &mut self,
        severity: Severity,
        code: &str,
        line: usize,
        path: &str,
        message: String,
        fix: Option<String>,
    ) {
        let object = ObjectRef {
            file: Some(self.file.clone()),
            line: Some(line),
            field: (!path.is_empty()).then(|| path.to_string()),
            ..ObjectRef::new(KIND, None, &self.file)
        };
        let mut f = Finding::new(severity, code, object, message);
        if let Some(fix) = fix {
            f = f.with_fix(fix);
        }
        self.findings.push(f);
    }

    fn walk(&mut self, node: &Node, shape: Shape, path: &str) {
        match shape {
            Shape::List(item) => {
                if let Value::Seq(items) = &node.value {
                    for (i, n) in items.iter().enumerate() {
                        self.walk(n, *item, &format!("{path}[{i}]"));
                    }
                }
            }
            Shape::Str => self.coercion(node, path),
            Shape::StrList => {
                if let Value::Seq(items) = &node.value {
                    for (i, n) in items.iter().enumerate() {
                        self.coercion(n, &format!("{path}[{i}]"));
                    }
                }
            }
            Shape::StrMap | Shape::ExprMap => {
                if let Value::Map(entries) = &node.value {
                    for (k, v) in entries {
                        let key = k.scalar().unwrap_or_default();
                        let p = spec::child_path(path, key);
                        self.coercion(k, &p);
                        if shape == Shape::StrMap {
                            self.coercion(v, &p)
                        } else {
                            self.walk(v, Shape::Expr, &p)
                        }
                    }
                }
            }
            Shape::Int => {}
            _ => {
                let Value::Map(entries) = &node.value else {
                    return;
                };
                let known = fields(shape);
                for (k, v) in entries {
                    let key = k.scalar().unwrap_or_default();
                    let p = spec::child_path(path, key);
                    if let Some((_, s)) = known.iter().find(|(name, _)| *name == key) {
                        self.walk(v, *s, &p);
                    } else if let Some((name, s)) = known
                        .iter()
                        .find(|(name, _)| name.eq_ignore_ascii_case(key))
                    {
                        self.push(
                            Severity::Warning,
                            "key-case",
                            k.line,
                            &p,
                            format!("key {key:?} is matched to {name:?} only because Go ignores case; other tools will not"),
                            Some(format!("write {name}")),
                        );
                        self.walk(v, *s, &p);
                    } else if shape == Shape::Rule && OLD_RULE_KEYS.contains(&key) {
                        self.push(
                            Severity::Warning,
                            "ignored-key",
                            k.line,
                            &p,
                            format!("{key:?} was part of NFD v0.17 rules; v0.18 and later ignore it in compatibility specs"),
                            Some("remove it".into()),
                        );
                    } else {
                        let hint = catalogue::suggest(key, known.iter().map(|(n, _)| *n));
                        self.push(
                            Severity::Warning,
                            "unknown-key",
                            k.line,
                            &p,
                            format!(
                                "unknown key {key:?}: NFD ignores it{}",
                                hint.map(|h| format!("; did you mean {h:?}?"))
                                    .unwrap_or_default()
                            ),
                            hint.map(|h| format!("rename it to {h}")),
                        );
                    }
                }
            }
        }
    }

    /// A plain scalar that YAML 1.1 reads as something else than its text.
    fn coercion(&mut self, node: &Node, path: &str) {
        let Value::Scalar { text, plain: true } = &node.value else {
            return;
        };
        if node.is_null() {
            return;
        }
        let read = goyaml::go_string(text);
        if read.as_deref() != Some(text.as_str()) {
            let kind = match goyaml::resolve(text) {
                goyaml::Resolved::Bool(_) => "a boolean",
                goyaml::Resolved::Int(_) => "an integer",
                goyaml::Resolved::Float(_) => "a float",
                goyaml::Resolved::Timestamp(_) => "a timestamp",
                _ => "a non-string",
            };
            self.push(
                Severity::Warning,
                "yaml-coercion",
                node.line,
                path,
                format!(
                    "unquoted {text} is read by NFD as {kind} and becomes {:?}",
                    read.unwrap_or_default()
                ),
                Some(format!("quote it: \"{text}\"")),
            );
        }
    }

    fn semantic(&mut self, s: &Spec) {
        match s.version.as_str() {
            spec::VERSION => {}
            "" => self.push(
                Severity::Warning,
                "missing-version",
                1,
                "version",
                "no version: the spec format requires version: v1alpha1 (NFD does not check)"
                    .into(),
                Some("add version: v1alpha1".into()),
            ),
            other => self.push(
                Severity::Error,
                "unsupported-version",
                1,
                "version",
                format!("version {other:?} is not v1alpha1, the only spec version NFD knows"),
                Some("set version: v1alpha1".into()),
            ),
        }
        if s.compatibilities.is_empty() {
            self.push(
                Severity::Error,
                "no-compatibilities",
                1,
                "compatibilities",
                "no compatibility sets: every host is incompatible".into(),
                None,
            );
        }
        let mut names: Vec<(String, usize)> = Vec::new();
        for (ci, c) in s.compatibilities.iter().enumerate() {
            let cp = format!("compatibilities[{ci}]");
            if c.rules.is_empty() {
                self.push(
                    Severity::Warning,
                    "empty-set",
                    c.line,
                    &cp,
                    "set has no rules: it is satisfied by every host".into(),
                    None,
                );
            }
            for (ri, r) in c.rules.iter().enumerate() {
                let rp = format!("{cp}.rules[{ri}]");
                if r.name.is_empty() {
                    self.push(
                        Severity::Info,
                        "missing-rule-name",
                        r.line,
                        &rp,
                        "rule has no name: reports cannot refer to it".into(),
                        None,
                    );
                } else if let Some((_, line)) = names.iter().find(|(n, _)| *n == r.name) {
                    let msg = format!("rule name {:?} is already used at line {line}", r.name);
                    self.push(
                        Severity::Warning,
                        "duplicate-rule-name",
                        r.line,
                        &rp,
                        msg,
                        Some("give each rule its own name".into()),
                    );
                } else {
                    names.push((r.name.clone(), r.line));
                }
                if r.match_features.is_empty() && r.match_any.is_empty() {
                    self.push(
                        Severity::Warning,
                        "empty-rule",
                        r.line,
                        &rp,
                        "rule has neither matchFeatures nor matchAny: it always matches".into(),
                        None,
                    );
                }
                if !r.vars_template.is_empty()
                    && let Err(e) = template::check(&r.vars_template)
                {
                    self.push(
                        Severity::Error,
                        "invalid-template",
                        r.line,
                        &format!("{rp}.varsTemplate"),
                        e,
                        None,
                    );
                }
                for (ti, t) in r.match_features.iter().enumerate() {
                    self.term(t, &format!("{rp}.matchFeatures[{ti}]"));
                }
                for (ai, elem) in r.match_any.iter().enumerate() {
                    if elem.is_empty() {
                        let p = format!("{rp}.matchAny[{ai}]");
                        self.push(
                            Severity::Warning,
                            "empty-rule",
                            r.line,
                            &p,
                            "matchAny element without matchFeatures always matches".into(),
                            None,
                        );
                    }
                    for (ti, t) in elem.iter().enumerate() {
                        self.term(t, &format!("{rp}.matchAny[{ai}].matchFeatures[{ti}]"));
                    }
                }
            }
        }
    }

    fn term(&mut self, t: &Term, path: &str) {
        let feature = t.feature.as_str();
        let known = catalogue::find(&feature.to_lowercase());
        if !feature.contains('.') {
            self.push(
                Severity::Error,
                "feature-name",
                t.line,
                &format!("{path}.feature"),
                format!("feature {feature:?} is not <domain>.<feature>"),
                None,
            );
        } else if known.is_none() {
            let hint = catalogue::suggest(feature, catalogue::FEATURES.iter().map(|f| f.name));
            self.push(
                Severity::Warning,
                "unknown-feature",
                t.line,
                &format!("{path}.feature"),
                format!(
                    "NFD does not discover a feature {feature:?}{}",
                    hint.map(|h| format!("; did you mean {h:?}?"))
                        .unwrap_or_default()
                ),
                hint.map(|h| format!("use {h}")),
            );
        } else if feature != feature.to_lowercase() {
            self.push(
                Severity::Warning,
                "feature-case",
                t.line,
                &format!("{path}.feature"),
                format!("feature {feature:?} matches only because NFD lower-cases it; NFD's report then shows its rows as FAIL"),
                Some(format!("write {}", feature.to_lowercase())),
            );
        }
        if t.match_expressions.is_none() && t.match_name.is_none() {
            self.push(Severity::Info, "empty-term", t.line, path, format!("term has no matchExpressions or matchName: it only checks that {feature} exists"), None);
        }
        for (key, e) in t.match_expressions.iter().flatten() {
            let p = spec::child_path(&format!("{path}.matchExpressions"), key);
            self.expression(e, &p, true);
            if let Some(f) = known {
                self.element(f, key, e, &p);
            }
        }
        if let Some(e) = &t.match_name {
            self.expression(e, &format!("{path}.matchName"), false);
        }
    }

    fn element(&mut self, f: &catalogue::Feature, key: &str, e: &Expression, path: &str) {
        if let Some(keys) = f.keys {
            let fixed_prefix = f.name == "memory.hugepages" && key.starts_with("hugepages-");
            if !keys.contains(&key) && !fixed_prefix {
                let hint = catalogue::suggest(key, keys.iter().copied());
                let code = if hint.is_some_and(|h| h.eq_ignore_ascii_case(key)) {
                    "element-case"
                } else {
                    "unknown-element"
                };
                self.push(
                    Severity::Warning,
                    code,
                    e.line,
                    path,
                    format!(
                        "{} has no element {key:?} (keys are case-sensitive){}",
                        f.name,
                        hint.map(|h| format!("; did you mean {h:?}?"))
                            .unwrap_or_default()
                    ),
                    hint.map(|h| format!("use {h}")),
                );
            }
        }
        let op = Op::parse(&e.op);
        if f.kind == Kind::Flag
            && op.is_some_and(|o| !matches!(o, Op::Any | Op::Exists | Op::DoesNotExist))
        {
            self.push(
                Severity::Warning,
                "op-on-flag",
                e.line,
                path,
                format!(
                    "{} is a flag feature: its elements have no value, so {} is always false",
                    f.name, e.op
                ),
                Some("use Exists or DoesNotExist".into()),
            );
        }
    }

    fn expression(&mut self, e: &Expression, path: &str, keyed: bool) {
        if e.null {
            self.push(
                Severity::Error,
                "null-expression",
                e.line,
                path,
                "expression is null: NFD crashes on it".into(),
                Some("write {op: Exists}".into()),
            );
            return;
        }
        let Some(op) = Op::parse(&e.op) else {
            let hint = catalogue::suggest(&e.op, OP_NAMES);
            let code = if hint.is_some_and(|h| h.eq_ignore_ascii_case(&e.op)) {
                "op-case"
            } else {
                "unknown-op"
            };
            self.push(
                Severity::Error,
                code,
                e.line,
                &format!("{path}.op"),
                format!("op {:?} is not an NFD operator (ops are case-sensitive); NFD fails the whole run on it{}", e.op, hint.map(|h| format!("; did you mean {h:?}?")).unwrap_or_default()),
                hint.map(|h| format!("use {h}")),
            );
            return;
        };
        if op == Op::Any {
            self.push(
                Severity::Error,
                "missing-op",
                e.line,
                &format!("{path}.op"),
                "no op: NFD treats it as match-anything, so this expression always passes".into(),
                Some(format!("set one of {}", OP_NAMES.join(", "))),
            );
        }
        let (min, max) = op.arity();
        let n = e.value.len();
        if n < min || max.is_some_and(|m| n > m) {
            let want = match (min, max) {
                (0, Some(0)) => "no values".to_string(),
                (a, Some(b)) if a == b => {
                    format!("exactly {a} value{}", if a == 1 { "" } else { "s" })
                }
                (a, _) => format!("at least {a} value"),
            };
            self.push(
                Severity::Error,
                "value-count",
                e.line,
                &format!("{path}.value"),
                format!(
                    "op {:?} takes {want}, got {n}; NFD fails the whole run on it",
                    e.op
                ),
                None,
            );
            return;
        }
        if !e.value_type.is_empty() && e.value_type != "version" {
            let msg = format!(
                "type {:?} is not supported; the only type is \"version\"",
                e.value_type
            );
            self.push(
                Severity::Error,
                "invalid-type",
                e.line,
                &format!("{path}.type"),
                msg,
                None,
            );
        } else if !e.value_type.is_empty() && !op.is_comparison() {
            let msg = format!(
                "type: version only affects Gt, Ge, Lt, Le, GtLt and GeLe; it is ignored with {}",
                e.op
            );
            self.push(
                Severity::Info,
                "ignored-type",
                e.line,
                &format!("{path}.type"),
                msg,
                None,
            );
        }
        match op {
            Op::InRegexp => {
                for (i, v) in e.value.iter().enumerate() {
                    if expr::compile(v).is_none() {
                        let msg = format!("{v:?} is not a valid RE2 regular expression");
                        self.push(
                            Severity::Error,
                            "invalid-regexp",
                            e.line,
                            &format!("{path}.value[{i}]"),
                            msg,
                            None,
                        );
                    }
                }
            }
            _ if op.is_comparison() => self.comparison(op, e, path),
            _ => {}
        }
        if !keyed && op == Op::DoesNotExist {
            self.push(
                Severity::Warning,
                "never-matches",
                e.line,
                path,
                "matchName with DoesNotExist never matches".into(),
                None,
            );
        }
    }

    fn comparison(&mut self, op: Op, e: &Expression, path: &str) {
        let is_version = e.value_type == "version";
        let mut bounds = Vec::new();
        for (i, v) in e.value.iter().enumerate() {
            let p = format!("{path}.value[{i}]");
            if is_version {
                match version::parse(v) {
                    Some(parsed) => bounds.push(parsed),
                    None => self.push(
                        Severity::Error,
                        "not-a-version",
                        e.line,
                        &p,
                        format!("{v:?} is not a version NFD can parse"),
                        None,
                    ),
                }
            } else {
                match expr::atoi(v) {
                    Some(n) => bounds.push((n as u64, 0, 0)),
                    None => {
                        let fix = version::parse(v)
                            .map(|_| "add type: version to compare versions".to_string());
                        self.push(
                            Severity::Error,
                            "not-a-number",
                            e.line,
                            &p,
                            format!("{v:?} is not an integer"),
                            fix,
                        );
                    }
                }
            }
        }
        if matches!(op, Op::GtLt | Op::GeLe) && bounds.len() == 2 {
            let ints = !is_version
                && expr::atoi(&e.value[0])
                    .zip(expr::atoi(&e.value[1]))
                    .is_some_and(|(a, b)| a >= b);
            let versions = is_version && bounds[0] > bounds[1];
            if ints {
                self.push(
                    Severity::Error,
                    "range-order",
                    e.line,
                    &format!("{path}.value"),
                    format!(
                        "{} needs value[0] < value[1]; NFD fails on {:?}",
                        e.op, e.value
                    ),
                    None,
                );
            } else if versions {
                let msg = format!("{} range {:?} is empty: it never matches", e.op, e.value);
                self.push(
                    Severity::Error,
                    "range-order",
                    e.line,
                    &format!("{path}.value"),
                    msg,
                    Some("swap the bounds".into()),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests;
