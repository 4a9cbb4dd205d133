//! The document `nfd compat validate-node --output-json` prints, rebuilt from
//! the same evaluation with NFD's row logic (node-validator), key order,
//! omissions and Go JSON encoding, so tools that parse NFD's output keep working.

use serde::Serialize;

use crate::engine::rule::{MatcherStatus, TermRecord};
use crate::spec::{Expression, Spec, Term};
use crate::validate::NfdSet;

#[derive(Serialize)]
struct CompatibilityStatus {
    rules: Option<Vec<ProcessedRuleStatus>>,
    #[serde(skip_serializing_if = "String::is_empty")]
    description: String,
    #[serde(skip_serializing_if = "is_zero")]
    weight: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    tag: String,
}

fn is_zero(w: &i64) -> bool {
    *w == 0
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProcessedRuleStatus {
    name: String,
    is_match: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    matched_expressions: Vec<MatchedExpression>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    matched_any: Vec<MatchAnyElem>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MatchAnyElem {
    /// Not omitted when empty: Go prints `null`.
    matched_expressions: Option<Vec<MatchedExpression>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MatchedExpression {
    feature: String,
    name: String,
    expression: Option<ExpressionOut>,
    matcher_type: &'static str,
    is_match: bool,
}

#[derive(Serialize, Clone)]
struct ExpressionOut {
    op: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    value: Vec<String>,
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    value_type: String,
}

impl ExpressionOut {
    fn from(e: &Expression) -> Option<Self> {
        (!e.null).then(|| ExpressionOut {
            op: e.op.clone(),
            value: e.value.clone(),
            value_type: e.value_type.clone(),
        })
    }
}

/// NFD's `--output-json` document for these evaluated sets (compact, no newline).
pub fn render(spec: &Spec, sets: &[NfdSet]) -> String {
    let out: Vec<CompatibilityStatus> = sets.iter().map(|s| set_status(spec, s)).collect();
    crate::gojson::to_string(&out)
}

fn set_status(spec: &Spec, s: &NfdSet) -> CompatibilityStatus {
    let set = &spec.compatibilities[s.index];
    let rules: Vec<ProcessedRuleStatus> = set
        .rules
        .iter()
        .zip(&s.rules)
        .map(|(rule, status)| {
            let processed = status
                .match_features
                .as_ref()
                .map(|m| m.terms.as_slice())
                .unwrap_or_default();
            ProcessedRuleStatus {
                name: rule.name.clone(),
                is_match: status.is_match,
                matched_expressions: rows(&rule.match_features, processed),
                matched_any: rule
                    .match_any
                    .iter()
                    .enumerate()
                    .map(|(i, elem)| {
                        let processed = status
                            .match_any
                            .get(i)
                            .map(|m: &MatcherStatus| m.terms.as_slice())
                            .unwrap_or_default();
                        let r = rows(elem, processed);
                        MatchAnyElem {
                            matched_expressions: (!r.is_empty()).then_some(r),
                        }
                    })
                    .collect(),
            }
        })
        .collect();
    CompatibilityStatus {
        rules: (!rules.is_empty()).then_some(rules),
        description: set.description.clone(),
        weight: set.weight,
        tag: set.tag.clone(),
    }
}

/// The expressions a processed term recorded as held, with their keys.
fn held_expressions<'a>(
    terms: &'a [Term],
    p: &'a TermRecord,
) -> impl Iterator<Item = (&'a str, &'a Expression)> {
    let set = terms[p.term]
        .match_expressions
        .as_deref()
        .unwrap_or_default();
    set.iter()
        .enumerate()
        .filter(|(i, _)| p.held.get(*i))
        .map(|(_, (k, e))| (k.as_str(), e))
}

/// NFD's `matchFeatureExpressions`: a row per spec expression, OK when some
/// processed term of the same (verbatim) feature recorded the same key with
/// the same op and values; sorted by feature, key, expression text.
fn rows(terms: &[Term], processed: &[TermRecord]) -> Vec<MatchedExpression> {
    let mut out: Vec<(MatchedExpression, String)> = Vec::new();
    for term in terms {
        if let Some(set) = &term.match_expressions {
            for (key, e) in set {
                let is_match = processed
                    .iter()
                    .filter(|p| terms[p.term].feature.to_lowercase() == term.feature)
                    .any(|p| {
                        held_expressions(terms, p)
                            .any(|(k, pe)| k == key && pe.op == e.op && pe.value == e.value)
                    });
                let row = MatchedExpression {
                    feature: term.feature.clone(),
                    name: key.clone(),
                    expression: ExpressionOut::from(e),
                    matcher_type: "matchExpression",
                    is_match,
                };
                out.push((row, e.nfd_string()));
            }
        }
        if let Some(e) = &term.match_name {
            let is_match = processed
                .iter()
                .filter(|p| p.name && terms[p.term].feature.to_lowercase() == term.feature)
                .filter_map(|p| terms[p.term].match_name.as_ref())
                .any(|pe| pe.op == e.op && pe.value == e.value);
            let row = MatchedExpression {
                feature: term.feature.clone(),
                name: String::new(),
                expression: ExpressionOut::from(e),
                matcher_type: "matchName",
                is_match,
            };
            out.push((row, e.nfd_string()));
        }
    }
    out.sort_by(|(a, sa), (b, sb)| (&a.feature, &a.name, sa).cmp(&(&b.feature, &b.name, sb)));
    out.into_iter().map(|(r, _)| r).collect()
}
