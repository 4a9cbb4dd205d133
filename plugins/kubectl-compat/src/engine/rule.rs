//! NFD's rule engine in its non-fail-fast mode (the one `nfd compat` uses):
//! `MatchMulti`, `MatchNamesMulti`, the feature matcher and group rules,
//! including the state NFD carries between terms. Where NFD aborts on a bad
//! expression, this records the error at the expression and goes on, treating
//! the expression as not matched.

use std::collections::BTreeMap;

use super::expr::{self, ExprError};
use super::template;
use crate::features::{AttributeSet, FlagSet, Instance, InstanceSet, View};
use crate::spec::{Expression, GroupRule, Term};

/// One matched element as templates see it: `Name`/`Value` or instance attributes.
pub type Element = BTreeMap<String, String>;
/// `<domain>` → `<feature>` → matched elements: the data of `varsTemplate`.
pub type MatchedFeatures = BTreeMap<String, BTreeMap<String, Vec<Element>>>;

pub const NAME: &str = "Name";
pub const VALUE: &str = "Value";

/// Which list of terms of a rule: `matchFeatures` or the i-th `matchAny` element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum List {
    Features,
    Any(usize),
}

/// Where an evaluation error happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum At {
    /// `key` is `None` for the term's `matchName`.
    Expression {
        list: List,
        term: usize,
        key: Option<String>,
    },
    Template,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError {
    pub at: At,
    pub message: String,
}

/// What NFD records for a term that (partly) held: which of its expressions
/// held (by position in the term) and whether its matchName held. Used to
/// rebuild NFD's report rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TermRecord {
    /// Position of the term in its list.
    pub term: usize,
    /// Which expressions of the term held (on some element).
    pub held: Held,
    pub name: bool,
}

/// A set of expression positions; no allocation up to 64 expressions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Held {
    bits: u64,
    more: Vec<bool>,
}

impl Held {
    fn new(len: usize) -> Self {
        Held {
            bits: 0,
            more: if len > 64 {
                vec![false; len]
            } else {
                Vec::new()
            },
        }
    }

    fn set(&mut self, i: usize) {
        match self.more.get_mut(i) {
            Some(b) => *b = true,
            None => self.bits |= 1 << i,
        }
    }

    pub fn get(&self, i: usize) -> bool {
        if self.more.is_empty() {
            i < 64 && self.bits & (1 << i) != 0
        } else {
            self.more.get(i).copied().unwrap_or(false)
        }
    }

    fn any(&self) -> bool {
        self.bits != 0 || self.more.iter().any(|&b| b)
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct MatcherStatus {
    pub matched: bool,
    /// Only collected when the rule has a `varsTemplate`.
    pub matched_features: MatchedFeatures,
    pub terms: Vec<TermRecord>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleStatus {
    pub is_match: bool,
    pub match_features: Option<MatcherStatus>,
    pub match_any: Vec<MatcherStatus>,
    /// Output vars; `None` where NFD returns none (matchFeatures failed).
    pub vars: Option<BTreeMap<String, String>>,
    pub errors: Vec<EvalError>,
}

struct Ctx<'a> {
    errors: &'a mut Vec<EvalError>,
    list: List,
    term: usize,
    /// Collect matched elements (for templates).
    collect: bool,
}

impl Ctx<'_> {
    fn eval(
        &mut self,
        key: Option<&str>,
        e: &Expression,
        valid: bool,
        value: Option<&str>,
    ) -> bool {
        match expr::evaluate(e, valid, value) {
            Ok(b) => b,
            Err(ExprError(message)) => {
                let at = At::Expression {
                    list: self.list,
                    term: self.term,
                    key: key.map(str::to_string),
                };
                if !self.errors.iter().any(|x| x.at == at) {
                    self.errors.push(EvalError { at, message });
                }
                false
            }
        }
    }

    fn element(&self, out: &mut Vec<Element>, name: &str, value: Option<&str>) {
        if self.collect {
            let mut e = Element::new();
            e.insert(NAME.into(), name.into());
            if let Some(v) = value {
                e.insert(VALUE.into(), v.into());
            }
            out.push(e);
        }
    }
}

/// `MatchMulti`: the expression set against flags, attributes and instances.
fn match_multi(
    ctx: &mut Ctx,
    set: &[(String, Expression)],
    flags: Option<&FlagSet>,
    attrs: Option<&AttributeSet>,
    instances: Option<&InstanceSet>,
    held: &mut Held,
) -> (bool, Vec<Element>) {
    let mut elems = Vec::new();
    let mut is_match = flags.is_some() || attrs.is_some();
    for (i, (n, e)) in set.iter().enumerate() {
        let (mut match_k, mut match_v) = (false, false);
        if let Some(flags) = flags {
            match_k = ctx.eval(Some(n), e, flags.elements.contains_key(n), None);
            if match_k {
                ctx.element(&mut elems, n, None);
                held.set(i);
            } else if e.op == "DoesNotExist" {
                is_match = false;
                continue;
            }
        }
        if let Some(attrs) = attrs {
            let v = attrs.elements.get(n);
            match_v = ctx.eval(Some(n), e, v.is_some(), v.map(String::as_str));
            if match_v {
                ctx.element(&mut elems, n, v.map(String::as_str));
                held.set(i);
            } else if e.op == "DoesNotExist" {
                is_match = false;
                continue;
            }
        }
        if !match_k && !match_v {
            is_match = false;
        }
    }
    elems.sort_by(|a, b| a[NAME].cmp(&b[NAME]));
    let any_instance = match_instances(
        ctx,
        set,
        instances.map(|i| i.elements.as_slice()),
        held,
        &mut elems,
    );
    (is_match || any_instance, elems)
}

/// `MatchGetInstances`: instances satisfying the whole set; every expression
/// that held on some instance is marked in `held`.
fn match_instances(
    ctx: &mut Ctx,
    set: &[(String, Expression)],
    instances: Option<&[Instance]>,
    held: &mut Held,
    elems: &mut Vec<Element>,
) -> bool {
    let mut any = false;
    for inst in instances.unwrap_or_default() {
        let mut all = true;
        for (i, (n, e)) in set.iter().enumerate() {
            let v = inst.attributes.get(n);
            if ctx.eval(Some(n), e, v.is_some(), v.map(String::as_str)) {
                held.set(i);
            } else {
                all = false;
            }
        }
        if all {
            any = true;
            if ctx.collect {
                elems.push(inst.attributes.clone());
            }
        }
    }
    any
}

/// `MatchNamesMulti`: one expression against element names.
fn match_names(
    ctx: &mut Ctx,
    e: &Expression,
    flags: Option<&FlagSet>,
    attrs: Option<&AttributeSet>,
    instances: Option<&InstanceSet>,
) -> (bool, Vec<Element>) {
    let mut out = Vec::new();
    let mut any = false;
    for k in flags.into_iter().flat_map(|f| f.elements.keys()) {
        if ctx.eval(None, e, true, Some(k)) {
            any = true;
            ctx.element(&mut out, k, None);
        }
    }
    for (k, v) in attrs.into_iter().flat_map(|a| a.elements.iter()) {
        if ctx.eval(None, e, true, Some(k)) {
            any = true;
            ctx.element(&mut out, k, Some(v));
        }
    }
    out.sort_by(|a, b| a[NAME].cmp(&b[NAME]));
    for inst in instances.into_iter().flat_map(|i| i.elements.iter()) {
        let mut matched = false;
        for k in inst.attributes.keys() {
            matched |= ctx.eval(None, e, true, Some(k));
        }
        if matched {
            any = true;
            if ctx.collect {
                out.push(inst.attributes.clone());
            }
        }
    }
    (any, out)
}

/// `evaluateFeatureMatcher` (non-fail-fast): all terms must match.
/// `collect`: gather matched elements for a template.
pub fn evaluate_terms(
    terms: &[Term],
    features: &View,
    list: List,
    collect: bool,
    errors: &mut Vec<EvalError>,
) -> MatcherStatus {
    let mut status = MatcherStatus {
        matched: true,
        ..Default::default()
    };
    // NFD does not reset this per term: a term with only matchName after a
    // failed term is skipped. Kept for identical NFD report rows.
    let mut is_term_match = true;
    for (i, term) in terms.iter().enumerate() {
        let mut ctx = Ctx {
            errors: &mut *errors,
            list,
            term: i,
            collect,
        };
        let feature = if term.feature.bytes().any(|b| b.is_ascii_uppercase()) {
            std::borrow::Cow::Owned(term.feature.to_lowercase())
        } else {
            std::borrow::Cow::Borrowed(term.feature.as_str())
        };
        if collect {
            let dom = term
                .feature
                .split_once('.')
                .map_or(feature.as_ref(), |(d, _)| d);
            status.matched_features.entry(dom.to_string()).or_default();
        }
        let (f, a, inst) = (
            features.flags(&feature),
            features.attributes(&feature),
            features.instances(&feature),
        );
        if f.is_none() && a.is_none() && inst.is_none() {
            status.matched = false;
            continue;
        }
        let mut held = Held::new(term.match_expressions.as_ref().map_or(0, Vec::len));
        let mut name_held = false;
        let mut elems = Vec::new();
        if let Some(set) = &term.match_expressions {
            let (m, e) = match_multi(&mut ctx, set, f, a, inst, &mut held);
            is_term_match = m;
            elems = e;
        }
        if is_term_match && let Some(name) = &term.match_name {
            let (m, e) = match_names(&mut ctx, name, f, a, inst);
            is_term_match = m;
            elems.extend(e);
            name_held = m;
        }
        if collect {
            let (dom, nam) = match term.feature.split_once('.') {
                Some((d, n)) => (d.to_string(), n.to_string()),
                None => (feature.to_string(), String::new()),
            };
            status
                .matched_features
                .entry(dom)
                .or_default()
                .entry(nam)
                .or_default()
                .extend(elems);
        }
        if name_held || held.any() {
            status.terms.push(TermRecord {
                term: i,
                held,
                name: name_held,
            });
        }
        if !is_term_match {
            status.matched = false;
        }
    }
    status
}

/// `ExecuteGroupRule` (non-fail-fast).
pub fn execute(rule: &GroupRule, features: &View) -> RuleStatus {
    let mut out = RuleStatus::default();
    let mut vars = BTreeMap::new();
    let mut any_matched = false;
    let collect = !rule.vars_template.is_empty();
    for (i, elem) in rule.match_any.iter().enumerate() {
        let status = evaluate_terms(elem, features, List::Any(i), collect, &mut out.errors);
        if status.matched {
            any_matched = true;
            expand(
                &rule.vars_template,
                &status.matched_features,
                &mut vars,
                &mut out.errors,
            );
        }
        out.match_any.push(status);
    }
    if !rule.match_features.is_empty() {
        let status = evaluate_terms(
            &rule.match_features,
            features,
            List::Features,
            collect,
            &mut out.errors,
        );
        let matched = status.matched;
        if matched {
            expand(
                &rule.vars_template,
                &status.matched_features,
                &mut vars,
                &mut out.errors,
            );
        }
        out.match_features = Some(status);
        if !matched {
            return out;
        }
    }
    vars.extend(rule.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    // matchFeatures is absent or matched here.
    out.is_match = rule.match_any.is_empty() || any_matched;
    out.vars = Some(vars);
    out
}

fn expand(
    template: &str,
    data: &MatchedFeatures,
    vars: &mut BTreeMap<String, String>,
    errors: &mut Vec<EvalError>,
) {
    if template.is_empty() {
        return;
    }
    match template::expand_map(template, data) {
        Ok(v) => vars.extend(v),
        Err(message) => {
            if !errors.iter().any(|e| e.at == At::Template) {
                errors.push(EvalError {
                    at: At::Template,
                    message,
                });
            }
        }
    }
}

/// The back-reference feature later rules can test.
pub const BACKREF_FEATURE: &str = "rule.matched";

/// NFD's `InsertAttributeFeatures("rule", "matched", vars)` after each rule:
/// `backrefs` starts as the node's own `rule.matched` (if any) and exists,
/// possibly empty, from the first rule on.
pub fn insert_backrefs(
    backrefs: &mut Option<AttributeSet>,
    base: &crate::features::Features,
    vars: Option<&BTreeMap<String, String>>,
) {
    let set = backrefs.get_or_insert_with(|| {
        base.attributes
            .get(BACKREF_FEATURE)
            .cloned()
            .unwrap_or_default()
    });
    if let Some(vars) = vars {
        set.elements
            .extend(vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
}

#[cfg(test)]
mod tests;
