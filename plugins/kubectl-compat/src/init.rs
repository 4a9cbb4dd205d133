//! `kubectl compat init`: a starter spec from requirements the user names,
//! checked against the features of the host (or file) it is written from.
//!
//! Requirement syntax:
//! - `kernel.loadedmodule=vfio-pci`, `cpu.cpuid=AVX2`: a flag exists
//!   (`!=` for "does not exist");
//! - `cpu.model.vendor_id=Intel|AMD`: an attribute is one of the values
//!   (`!=` none of them, `~` matches a regexp, `>`/`>=`/`<`/`<=` compare
//!   integers, or versions when the value is not an integer);
//! - `kernel.version.full>=5.15`, `cpu.model.family` (exists);
//! - `pci.device:vendor=10de,class=0302`: one instance with all of these.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::catalogue::{self, Kind};
use crate::engine::{expr, version};
use crate::features::Features;
use crate::spec::Expression;

/// One parsed `--require`.
#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    pub text: String,
    pub feature: String,
    /// (key, expression) pairs of one term.
    pub expressions: Vec<(String, Expression)>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("--require {text:?}: {message}")]
pub struct RequireError {
    pub text: String,
    pub message: String,
}

const OPS: [(&str, &str); 7] = [
    (">=", "Ge"),
    ("<=", "Le"),
    ("!=", "NotIn"),
    ("=", "In"),
    (">", "Gt"),
    ("<", "Lt"),
    ("~", "InRegexp"),
];

pub fn parse_requirement(text: &str) -> Result<Requirement, RequireError> {
    let r = parse_unchecked(text)?;
    // A pattern that does not compile is the user's typo, not the host's lack.
    for (key, e) in &r.expressions {
        if e.op == "InRegexp"
            && let Some(bad) = e
                .value
                .iter()
                .find(|v| crate::engine::expr::compile(v).is_none())
        {
            return Err(RequireError {
                text: text.to_string(),
                message: format!("invalid regular expression {bad:?} for {key:?}"),
            });
        }
    }
    Ok(r)
}

fn parse_unchecked(text: &str) -> Result<Requirement, RequireError> {
    let err = |m: String| RequireError {
        text: text.to_string(),
        message: m,
    };
    if let Some((feature, list)) = text.split_once(':') {
        let feature = known_feature(feature).map_err(err)?;
        let mut expressions = Vec::new();
        for part in list.split(',').filter(|p| !p.is_empty()) {
            let (key, e) = comparison(part).ok_or_else(|| {
                err(format!(
                    "{part:?} is not KEY=VALUE (or !=, >=, <=, >, <, ~)"
                ))
            })?;
            expressions.push((key, e));
        }
        if expressions.is_empty() {
            return Err(err("no KEY=VALUE after ':'".into()));
        }
        return Ok(Requirement {
            text: text.into(),
            feature,
            expressions,
        });
    }
    // FEATURE=KEY for flag features; FEATURE.KEY OP VALUE otherwise.
    let (lhs, op, value) = match OPS
        .iter()
        .filter_map(|(sym, op)| text.find(sym).map(|i| (i, *sym, *op)))
        .min_by_key(|(i, sym, _)| (*i, std::cmp::Reverse(sym.len())))
    {
        Some((i, sym, op)) => (&text[..i], Some(op), Some(&text[i + sym.len()..])),
        None => (text, None, None),
    };
    if let Some(f) = catalogue::find(lhs) {
        if matches!(f.kind, Kind::Flag | Kind::FlagAttribute) {
            let (op, value) = match (op, value) {
                (Some("In"), Some(v)) => ("Exists", v),
                (Some("NotIn"), Some(v)) => ("DoesNotExist", v),
                _ => {
                    return Err(err(format!(
                        "{} is a flag feature: write {}=NAME or {}!=NAME",
                        f.name, f.name, f.name
                    )));
                }
            };
            if value.is_empty() {
                return Err(err("missing NAME".into()));
            }
            return Ok(Requirement {
                text: text.into(),
                feature: f.name.into(),
                expressions: vec![(value.into(), Expression::new(op, &[]))],
            });
        }
        return Err(err(format!("{} needs a key: {}.KEY=VALUE", f.name, f.name)));
    }
    let (feature, key) = split_feature_key(lhs).map_err(err)?;
    let e = match (op, value) {
        (None, _) => Expression::new("Exists", &[]),
        (Some(op), Some(v)) => expression(op, v),
        _ => unreachable!("an op comes with a value"),
    };
    Ok(Requirement {
        text: text.into(),
        feature,
        expressions: vec![(key, e)],
    })
}

fn known_feature(name: &str) -> Result<String, String> {
    match catalogue::find(name) {
        Some(f) => Ok(f.name.to_string()),
        None => Err(format!(
            "unknown feature {name:?}{}",
            catalogue::suggest(name, catalogue::FEATURES.iter().map(|f| f.name))
                .map(|h| format!("; did you mean {h:?}?"))
                .unwrap_or_default()
        )),
    }
}

/// `kernel.version.full` → (`kernel.version`, `full`).
fn split_feature_key(lhs: &str) -> Result<(String, String), String> {
    catalogue::FEATURES
        .iter()
        .filter_map(|f| {
            lhs.strip_prefix(f.name)
                .and_then(|rest| rest.strip_prefix('.'))
                .map(|k| (f.name, k))
        })
        .find(|(_, k)| !k.is_empty())
        .map(|(f, k)| (f.to_string(), k.to_string()))
        .ok_or_else(|| format!("{lhs:?} is not FEATURE.KEY of a known feature"))
}

fn comparison(part: &str) -> Option<(String, Expression)> {
    let (i, sym, op) = OPS
        .iter()
        .filter_map(|(sym, op)| part.find(sym).map(|i| (i, *sym, *op)))
        .min_by_key(|(i, sym, _)| (*i, std::cmp::Reverse(sym.len())))?;
    let key = &part[..i];
    (!key.is_empty()).then(|| (key.to_string(), expression(op, &part[i + sym.len()..])))
}

fn expression(op: &str, value: &str) -> Expression {
    let values: Vec<&str> = if matches!(op, "In" | "NotIn" | "InRegexp") {
        value.split('|').collect()
    } else {
        vec![value]
    };
    let e = Expression::new(op, &values);
    let needs_version = matches!(op, "Gt" | "Ge" | "Lt" | "Le")
        && expr::atoi(value).is_none()
        && version::parse(value).is_some();
    if needs_version {
        e.with_type("version")
    } else {
        e
    }
}

/// Requirements a user gets without naming any: CPU vendor, the x86-64
/// level and the kernel version of the host (major.minor and up).
pub fn defaults(features: &Features) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(v) = features
        .attributes
        .get("cpu.model")
        .and_then(|a| a.elements.get("vendor_id"))
    {
        out.push(format!("cpu.model.vendor_id={v}"));
    }
    if let Some(flags) = features.flags.get("cpu.cpuid")
        && let Some(level) = (1..=4)
            .rev()
            .map(|l| format!("X86_64_V{l}"))
            .find(|l| flags.elements.contains_key(l))
    {
        out.push(format!("cpu.cpuid={level}"));
    }
    if let Some(k) = features.attributes.get("kernel.version")
        && let (Some(major), Some(minor)) = (k.elements.get("major"), k.elements.get("minor"))
        && !minor.is_empty()
    {
        out.push(format!("kernel.version.full>={major}.{minor}"));
    }
    out
}

/// Write the spec. Requirements on the same flag or attribute feature share
/// one rule; each instance requirement is its own rule.
pub fn render(requirements: &[Requirement], description: &str, source: &str) -> String {
    let mut rules: Vec<(String, Vec<&Requirement>)> = Vec::new();
    for r in requirements {
        let instance = catalogue::find(&r.feature).is_some_and(|f| f.kind == Kind::Instance);
        // Two requirements on one key (`>=5.15` and `<7`) need two rules:
        // a mapping cannot hold the key twice, and rules of a set all must match.
        let shares_key = |rs: &[&Requirement]| {
            rs.iter().any(|o| {
                o.expressions
                    .iter()
                    .any(|(k, _)| r.expressions.iter().any(|(k2, _)| k == k2))
            })
        };
        match rules
            .iter_mut()
            .find(|(f, rs)| !instance && *f == r.feature && !rs.is_empty() && !shares_key(rs))
        {
            Some((_, rs)) => rs.push(r),
            None => rules.push((r.feature.clone(), vec![r])),
        }
    }
    let q = |s: &str| serde_json::to_string(s).expect("strings serialise");
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Image compatibility spec (Node Feature Discovery v1alpha1), written by"
    );
    let _ = writeln!(out, "# `kubectl compat init` from {source}.");
    let _ = writeln!(
        out,
        "# Check it with `kubectl compat lint FILE` and a host with"
    );
    let _ = writeln!(out, "# `kubectl compat validate-node --spec FILE`.");
    let _ = writeln!(out, "version: v1alpha1");
    let _ = writeln!(out, "compatibilities:");
    let _ = writeln!(out, "- description: {}", q(description));
    let _ = writeln!(out, "  rules:");
    let mut used: BTreeMap<String, usize> = BTreeMap::new();
    for (feature, reqs) in &rules {
        let base = feature.clone();
        let n = used.entry(base.clone()).or_default();
        *n += 1;
        let name = if *n == 1 {
            base
        } else {
            format!("{base} #{n}")
        };
        for r in reqs {
            let _ = writeln!(out, "  # --require {}", r.text);
        }
        let _ = writeln!(out, "  - name: {}", q(&name));
        let _ = writeln!(out, "    matchFeatures:");
        let _ = writeln!(out, "    - feature: {feature}");
        let _ = writeln!(out, "      matchExpressions:");
        for r in reqs {
            for (key, e) in &r.expressions {
                let mut expr = format!("op: {}", e.op);
                if !e.value.is_empty() {
                    let values: Vec<String> = e.value.iter().map(|v| q(v)).collect();
                    expr.push_str(&format!(", value: [{}]", values.join(", ")));
                }
                if !e.value_type.is_empty() {
                    expr.push_str(&format!(", type: {}", e.value_type));
                }
                let _ = writeln!(out, "        {}: {{{expr}}}", q(key));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_bounds_on_one_key_and_bad_patterns() {
        let reqs: Vec<Requirement> = ["kernel.version.full>=5.15", "kernel.version.full<7"]
            .iter()
            .map(|t| parse_requirement(t).unwrap())
            .collect();
        let text = render(&reqs, "d", "test");
        let spec = crate::spec::parse(&text).unwrap();
        assert_eq!(spec.compatibilities[0].rules.len(), 2, "{text}");
        let err = parse_requirement("kernel.version.full~[").unwrap_err();
        assert!(
            err.to_string().contains("invalid regular expression"),
            "{err}"
        );
    }

    #[test]
    fn requirement_syntax() {
        let r = parse_requirement("kernel.loadedmodule=vfio-pci").unwrap();
        assert_eq!(
            (
                r.feature.as_str(),
                r.expressions[0].0.as_str(),
                r.expressions[0].1.op.as_str()
            ),
            ("kernel.loadedmodule", "vfio-pci", "Exists")
        );
        let r = parse_requirement("cpu.cpuid!=AVX512F").unwrap();
        assert_eq!(r.expressions[0].1.op, "DoesNotExist");
        let r = parse_requirement("pci.device:vendor=10de,class=0302").unwrap();
        assert_eq!(r.expressions.len(), 2);
        assert_eq!(r.expressions[1].1, Expression::new("In", &["0302"]));
        let r = parse_requirement("kernel.version.full>=5.15").unwrap();
        assert_eq!(
            (r.feature.as_str(), r.expressions[0].0.as_str()),
            ("kernel.version", "full")
        );
        assert_eq!(
            r.expressions[0].1,
            Expression::new("Ge", &["5.15"]).with_type("version")
        );
        let r = parse_requirement("cpu.model.family>=6").unwrap();
        assert_eq!(r.expressions[0].1.value_type, "");
        let r = parse_requirement("cpu.model.vendor_id=Intel|AMD").unwrap();
        assert_eq!(r.expressions[0].1.value, ["Intel", "AMD"]);
        let r = parse_requirement("cpu.security.sgx.enabled").unwrap();
        assert_eq!(
            (r.expressions[0].0.as_str(), r.expressions[0].1.op.as_str()),
            ("sgx.enabled", "Exists")
        );
        assert!(
            parse_requirement("cpu.modle.vendor_id=Intel")
                .unwrap_err()
                .message
                .contains("not FEATURE.KEY")
        );
        assert!(
            parse_requirement("pci.devise:vendor=1")
                .unwrap_err()
                .message
                .contains("did you mean \"pci.device\"")
        );
        assert!(parse_requirement("kernel.loadedmodule>=1").is_err());
        assert!(parse_requirement("cpu.model=Intel").is_err());
    }

    #[test]
    fn rendered_specs_lint_clean_and_group_rules() {
        let reqs: Vec<Requirement> = [
            "kernel.loadedmodule=vfio-pci",
            "kernel.loadedmodule=ip_tables",
            "pci.device:vendor=10de,class=0302",
            "pci.device:class=0200",
            "kernel.version.full>=5.15",
            "cpu.model.vendor_id=yes",
        ]
        .iter()
        .map(|r| parse_requirement(r).unwrap())
        .collect();
        let text = render(&reqs, "GPU \"nodes\"", "host node-a");
        let findings = crate::lint::lint(&text, "init.yaml");
        assert!(findings.is_empty(), "{findings:#?}\n{text}");
        let spec = crate::spec::parse(&text).unwrap();
        let rules = &spec.compatibilities[0].rules;
        assert_eq!(rules.len(), 5, "{text}");
        assert_eq!(
            rules[0].match_features[0]
                .match_expressions
                .as_ref()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(rules[2].name, "pci.device #2");
        assert_eq!(spec.compatibilities[0].description, "GPU \"nodes\"");
        assert_eq!(
            rules[4].match_features[0]
                .match_expressions
                .as_ref()
                .unwrap()[0]
                .1
                .value,
            ["yes"],
            "quoted, not coerced"
        );
    }
}
