//! Why each expression held or not on this host: the actual value, which
//! instance was used (the one matching the whole term, or the closest), and
//! "feature not discovered". This is reporting only; rule results come from
//! `rule`, which reproduces NFD.

use super::expr;
use super::rule::{At, EvalError, List};
use crate::features::{Instance, View};
use crate::spec::{Expression, Term};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matcher {
    MatchExpression,
    MatchName,
}

impl Matcher {
    pub fn as_str(self) -> &'static str {
        match self {
            Matcher::MatchExpression => "matchExpression",
            Matcher::MatchName => "matchName",
        }
    }
}

/// One expression of one term, explained.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub feature: String,
    pub key: Option<String>,
    pub matcher: Matcher,
    pub any_of: Option<usize>,
    pub expression: Expression,
    pub matched: bool,
    /// The host's value: an attribute value, `present` for a flag, the
    /// matching names for matchName; `None` when absent.
    pub actual: Option<String>,
    /// For instance features: the instance used (0-based).
    pub instance: Option<usize>,
    pub note: Option<String>,
    pub error: Option<String>,
}

const MAX_NAMES: usize = 5;

/// Explain every expression of `terms` (one rule list) on `features`.
pub fn rows(terms: &[Term], features: &View, list: List, errors: &[EvalError]) -> Vec<Row> {
    let any_of = match list {
        List::Features => None,
        List::Any(i) => Some(i),
    };
    let mut out = Vec::new();
    for (t, term) in terms.iter().enumerate() {
        let error_at = |key: Option<&str>| {
            let at = At::Expression {
                list,
                term: t,
                key: key.map(str::to_string),
            };
            errors
                .iter()
                .find(|e| e.at == at)
                .map(|e| e.message.clone())
        };
        let name = term.feature.to_lowercase();
        let present = features.has(&name);
        let base = |key: Option<&str>, matcher: Matcher, expression: &Expression| Row {
            feature: term.feature.clone(),
            key: key.map(str::to_string),
            matcher,
            any_of,
            expression: expression.clone(),
            matched: false,
            actual: None,
            instance: None,
            note: (!present).then(|| "feature not discovered".to_string()),
            error: error_at(key),
        };
        let set = term.match_expressions.as_deref().unwrap_or_default();
        let mut rows: Vec<Row> = set
            .iter()
            .map(|(k, e)| base(Some(k), Matcher::MatchExpression, e))
            .collect();
        if present {
            explain_expressions(&mut rows, set, features, &name);
        }
        out.extend(rows);
        if let Some(e) = &term.match_name {
            let mut row = base(None, Matcher::MatchName, e);
            if present {
                explain_name(&mut row, e, features, &name);
            }
            out.push(row);
        }
    }
    out
}

fn holds(e: &Expression, valid: bool, value: Option<&str>) -> bool {
    expr::evaluate(e, valid, value).unwrap_or(false)
}

fn explain_expressions(
    rows: &mut [Row],
    set: &[(String, Expression)],
    features: &View,
    name: &str,
) {
    let flags = features.flags(name);
    let attrs = features.attributes(name);
    for (row, (key, e)) in rows.iter_mut().zip(set) {
        let mut results = Vec::new();
        if let Some(f) = flags {
            results.push(holds(e, f.elements.contains_key(key), None));
            if f.elements.contains_key(key) {
                row.actual = Some("present".into());
            }
        }
        if let Some(a) = attrs {
            let v = a.elements.get(key);
            results.push(holds(e, v.is_some(), v.map(String::as_str)));
            if let Some(v) = v {
                row.actual = Some(v.clone());
            }
        }
        row.matched = if e.op == "DoesNotExist" {
            !results.is_empty() && results.iter().all(|&b| b)
        } else {
            results.iter().any(|&b| b)
        };
    }
    let Some(instances) = features.instances(name) else {
        return;
    };
    // Instance features: explain on the instance that matches the whole term,
    // else the one that satisfies the most expressions.
    if rows.iter().all(|r| r.matched) && (flags.is_some() || attrs.is_some()) {
        return;
    }
    let score = |inst: &Instance| -> Vec<bool> {
        set.iter()
            .map(|(k, e)| {
                let v = inst.attributes.get(k);
                holds(e, v.is_some(), v.map(String::as_str))
            })
            .collect()
    };
    let scored: Vec<Vec<bool>> = instances.elements.iter().map(score).collect();
    let best = scored
        .iter()
        .enumerate()
        .max_by_key(|(i, s)| (s.iter().filter(|&&b| b).count(), std::cmp::Reverse(*i)));
    let Some((index, results)) = best else {
        for row in rows.iter_mut() {
            row.note
                .get_or_insert_with(|| "no instances of this feature".into());
        }
        return;
    };
    let inst = &instances.elements[index];
    let whole = results.iter().all(|&b| b);
    for (row, ((key, _), ok)) in rows.iter_mut().zip(set.iter().zip(results)) {
        row.matched = *ok;
        row.instance = Some(index);
        row.actual = inst.attributes.get(key).cloned();
        if !whole {
            row.note = Some(format!(
                "no instance matches every expression of this term; closest is #{index} of {}",
                instances.elements.len()
            ));
        }
    }
}

fn explain_name(row: &mut Row, e: &Expression, features: &View, name: &str) {
    let mut names: Vec<&str> = Vec::new();
    let mut total = 0usize;
    if let Some(f) = features.flags(name) {
        total += f.elements.len();
        names.extend(
            f.elements
                .keys()
                .map(String::as_str)
                .filter(|k| holds(e, true, Some(k))),
        );
    }
    if let Some(a) = features.attributes(name) {
        total += a.elements.len();
        names.extend(
            a.elements
                .keys()
                .map(String::as_str)
                .filter(|k| holds(e, true, Some(k))),
        );
    }
    if let Some(i) = features.instances(name) {
        for inst in &i.elements {
            total += inst.attributes.len();
            names.extend(
                inst.attributes
                    .keys()
                    .map(String::as_str)
                    .filter(|k| holds(e, true, Some(k))),
            );
        }
    }
    names.sort_unstable();
    names.dedup();
    row.matched = !names.is_empty();
    if names.is_empty() {
        row.note = Some(format!("no name matches among {total}"));
        return;
    }
    let mut text = names
        .iter()
        .take(MAX_NAMES)
        .copied()
        .collect::<Vec<_>>()
        .join(",");
    if names.len() > MAX_NAMES {
        text.push_str(&format!(" (+{} more)", names.len() - MAX_NAMES));
    }
    row.actual = Some(text);
}
