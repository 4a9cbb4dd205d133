//! Validate a spec against one node's features: NFD's per-rule results plus
//! the verdicts NFD leaves implicit (set satisfied, image compatible, best set)
//! and an explanation of every expression. The result is the documented
//! `CompatibilityReport` (`kplug.dev/v1alpha1`).

use serde::Serialize;

use crate::engine::explain::{self, Row};
use crate::engine::rule::{self, At, List, RuleStatus};
use crate::features::{Features, View};
use crate::spec::Spec;

pub const API_VERSION: &str = "kplug.dev/v1alpha1";
pub const KIND: &str = "CompatibilityReport";

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub api_version: &'static str,
    pub kind: &'static str,
    /// The node the features came from, when known.
    pub node: Option<String>,
    pub compatible: bool,
    /// The satisfied set with the highest weight, by its position in the
    /// spec (0-based here; numbered from 1 in JSON, as in tables).
    #[serde(serialize_with = "one_based_opt")]
    pub best_set: Option<usize>,
    /// True when some expression or template could not be evaluated.
    pub has_errors: bool,
    pub sets: Vec<SetReport>,
    /// NFD's own results, for `--output nfd-json`; not serialised.
    #[serde(skip)]
    pub nfd: Vec<NfdSet>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetReport {
    /// Position of the set in the spec (0-based), before tag filtering;
    /// numbered from 1 in JSON, as in tables.
    #[serde(serialize_with = "one_based")]
    pub index: usize,
    pub description: String,
    pub tag: String,
    pub weight: i64,
    pub satisfied: bool,
    pub rules: Vec<RuleReport>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleReport {
    pub name: String,
    pub matched: bool,
    /// A template error, or the first expression error of the rule.
    pub error: Option<String>,
    pub expressions: Vec<ExpressionReport>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpressionReport {
    pub feature: String,
    pub key: Option<String>,
    pub matcher: &'static str,
    /// Which `matchAny` term it is in (numbered from 1 in JSON, as in tables).
    #[serde(serialize_with = "one_based_opt")]
    pub any_of: Option<usize>,
    pub expression: ExpressionJson,
    pub matched: bool,
    pub actual: Option<String>,
    pub instance: Option<usize>,
    pub note: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExpressionJson {
    pub op: String,
    pub value: Vec<String>,
    #[serde(rename = "type")]
    pub value_type: String,
}

/// Sets are numbered from 1 wherever people or programs read them (tables,
/// `-o json|yaml`); positions stay 0-based inside.
pub fn one_based<S: serde::Serializer>(n: &usize, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(*n as u64 + 1)
}

/// [`one_based`] for a position that may be absent.
pub fn one_based_opt<S: serde::Serializer>(n: &Option<usize>, s: S) -> Result<S::Ok, S::Error> {
    n.map(|n| n + 1).serialize(s)
}

impl Report {
    /// The best set's report.
    pub fn best(&self) -> Option<&SetReport> {
        let best = self.best_set?;
        self.sets.iter().find(|s| s.index == best)
    }
}

/// One set as NFD evaluated it, kept for NFD-compatible output.
#[derive(Debug, Clone)]
pub struct NfdSet {
    /// Position of the set in the spec.
    pub index: usize,
    pub rules: Vec<RuleStatus>,
}

/// Options NFD has too.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Keep only sets whose tag is listed (untagged sets are dropped).
    pub tags: Vec<String>,
    /// Leave out the per-expression rows (verdicts only), for many nodes.
    pub brief: bool,
}

/// Evaluate every kept set of `spec` in order, rule by rule, feeding each
/// rule's vars to later rules through `rule.matched`, as NFD does.
pub fn validate(
    spec: &Spec,
    features: &Features,
    options: &Options,
    node: Option<String>,
) -> Report {
    let base = features;
    let mut backrefs = None;
    let mut sets = Vec::new();
    let mut nfd = Vec::new();
    for (index, set) in spec.compatibilities.iter().enumerate() {
        if !options.tags.is_empty() && !options.tags.contains(&set.tag) {
            continue;
        }
        let mut rules = Vec::new();
        let mut statuses = Vec::new();
        for r in &set.rules {
            let features = View {
                base,
                backrefs: backrefs.as_ref(),
            };
            let status = rule::execute(r, &features);
            let mut rows = Vec::new();
            if !options.brief {
                rows = explain::rows(&r.match_features, &features, List::Features, &status.errors);
                for (i, elem) in r.match_any.iter().enumerate() {
                    rows.extend(explain::rows(elem, &features, List::Any(i), &status.errors));
                }
            }
            let template_error = status
                .errors
                .iter()
                .find(|e| e.at == At::Template)
                .map(|e| e.message.clone());
            let error = template_error.or_else(|| status.errors.first().map(|e| e.message.clone()));
            rules.push(RuleReport {
                name: r.name.clone(),
                matched: status.is_match && status.errors.is_empty(),
                error,
                expressions: rows.into_iter().map(expression_report).collect(),
            });
            rule::insert_backrefs(&mut backrefs, base, status.vars.as_ref());
            statuses.push(status);
        }
        sets.push(SetReport {
            index,
            description: set.description.clone(),
            tag: set.tag.clone(),
            weight: set.weight,
            satisfied: rules.iter().all(|r| r.matched),
            rules,
        });
        nfd.push(NfdSet {
            index,
            rules: statuses,
        });
    }
    let best_set = sets
        .iter()
        .enumerate()
        .filter(|(_, s)| s.satisfied)
        .max_by_key(|(i, s)| (s.weight, std::cmp::Reverse(*i)))
        .map(|(_, s)| s.index);
    let has_errors = nfd
        .iter()
        .any(|s| s.rules.iter().any(|r| !r.errors.is_empty()));
    Report {
        api_version: API_VERSION,
        kind: KIND,
        node,
        compatible: best_set.is_some(),
        best_set,
        has_errors,
        sets,
        nfd,
    }
}

fn expression_report(row: Row) -> ExpressionReport {
    ExpressionReport {
        feature: row.feature,
        key: row.key,
        matcher: row.matcher.as_str(),
        any_of: row.any_of,
        expression: ExpressionJson {
            op: row.expression.op,
            value: row.expression.value,
            value_type: row.expression.value_type,
        },
        matched: row.matched && row.error.is_none(),
        actual: row.actual,
        instance: row.instance,
        note: row.note,
        error: row.error,
    }
}

/// The exit code of a validation: 1 when something could not be evaluated,
/// else 0 when compatible and 3 when not.
pub fn exit_code(report: &Report) -> kplug::Code {
    if report.has_errors {
        kplug::Code::Error
    } else if report.compatible {
        kplug::Code::Success
    } else {
        kplug::Code::Problems
    }
}
