//! One match expression against one input, with NFD's operator semantics and
//! error texts (`evaluateMatchExpression`).

use std::cell::RefCell;
use std::collections::HashMap;

use regex::Regex;

use super::version;
use crate::spec::Expression;

/// The operators NFD knows. `Any` is the empty op, which matches anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Any,
    In,
    NotIn,
    InRegexp,
    Exists,
    DoesNotExist,
    Gt,
    Ge,
    Lt,
    Le,
    GtLt,
    GeLe,
    IsTrue,
    IsFalse,
}

pub const OP_NAMES: [&str; 13] = [
    "In",
    "NotIn",
    "InRegexp",
    "Exists",
    "DoesNotExist",
    "Gt",
    "Ge",
    "Lt",
    "Le",
    "GtLt",
    "GeLe",
    "IsTrue",
    "IsFalse",
];

impl Op {
    /// Ops are case-sensitive in NFD.
    pub fn parse(name: &str) -> Option<Op> {
        Some(match name {
            "" => Op::Any,
            "In" => Op::In,
            "NotIn" => Op::NotIn,
            "InRegexp" => Op::InRegexp,
            "Exists" => Op::Exists,
            "DoesNotExist" => Op::DoesNotExist,
            "Gt" => Op::Gt,
            "Ge" => Op::Ge,
            "Lt" => Op::Lt,
            "Le" => Op::Le,
            "GtLt" => Op::GtLt,
            "GeLe" => Op::GeLe,
            "IsTrue" => Op::IsTrue,
            "IsFalse" => Op::IsFalse,
            _ => return None,
        })
    }

    /// How many values the op takes: `(min, Some(max))`.
    pub fn arity(self) -> (usize, Option<usize>) {
        match self {
            Op::Any | Op::Exists | Op::DoesNotExist | Op::IsTrue | Op::IsFalse => (0, Some(0)),
            Op::In | Op::NotIn | Op::InRegexp => (1, None),
            Op::Gt | Op::Ge | Op::Lt | Op::Le => (1, Some(1)),
            Op::GtLt | Op::GeLe => (2, Some(2)),
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            Op::Gt | Op::Ge | Op::Lt | Op::Le | Op::GtLt | Op::GeLe
        )
    }
}

/// An expression NFD refuses at evaluation time; the text is NFD's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExprError(pub String);

/// Go's `%v` of a string slice: `[a b]`.
pub fn go_list(values: &[String]) -> String {
    format!("[{}]", values.join(" "))
}

/// Go's `%v` of a `*MatchExpression` (used in "not a number … in %v").
fn go_struct(e: &Expression) -> String {
    format!("&{{{} {} {}}}", e.op, go_list(&e.value), e.value_type)
}

/// Evaluate `e` on an input: `valid` says the key exists; `value` is its
/// value, `None` for flag keys (which have no value).
pub fn evaluate(e: &Expression, valid: bool, value: Option<&str>) -> Result<bool, ExprError> {
    if e.null {
        return Err(ExprError("expression is null (NFD crashes on it)".into()));
    }
    let op = Op::parse(&e.op)
        .ok_or_else(|| ExprError(format!("invalid Op {}", crate::spec::go_quote(&e.op))))?;
    let q = || crate::spec::go_quote(&e.op);
    let must_be_empty = || {
        if e.value.is_empty() {
            Ok(())
        } else {
            Err(ExprError(format!(
                "invalid expression, 'value' field must be empty for Op {} (have {})",
                q(),
                go_list(&e.value)
            )))
        }
    };
    match op {
        Op::Any => return must_be_empty().map(|_| true),
        Op::Exists => return must_be_empty().map(|_| valid),
        Op::DoesNotExist => return must_be_empty().map(|_| !valid),
        _ => {}
    }
    let Some(input) = value.filter(|_| valid) else {
        return Ok(false);
    };
    let non_empty = || {
        if e.value.is_empty() {
            Err(ExprError(format!(
                "invalid expression, 'value' field must be non-empty for Op {}",
                q()
            )))
        } else {
            Ok(())
        }
    };
    match op {
        Op::In => {
            non_empty()?;
            Ok(e.value.iter().any(|v| v == input))
        }
        Op::NotIn => {
            non_empty()?;
            Ok(!e.value.iter().any(|v| v == input))
        }
        Op::InRegexp => {
            non_empty()?;
            let mut res = Vec::with_capacity(e.value.len());
            for v in &e.value {
                res.push(compile(v).ok_or_else(|| {
                    ExprError(format!(
                        "invalid expressiom, 'value' field must only contain valid regexps for Op {} (have {})",
                        q(),
                        go_list(&e.value)
                    ))
                })?);
            }
            Ok(res.iter().any(|re| re.is_match(input)))
        }
        Op::Gt | Op::Ge | Op::Lt | Op::Le => {
            if e.value.len() != 1 {
                return Err(ExprError(format!(
                    "invalid expression, 'value' field must contain exactly one element for Op {} (have {})",
                    q(),
                    go_list(&e.value)
                )));
            }
            let ord = compare(e, input, &e.value[0])?;
            Ok(match op {
                Op::Gt => ord.is_gt(),
                Op::Ge => ord.is_ge(),
                Op::Lt => ord.is_lt(),
                _ => ord.is_le(),
            })
        }
        Op::GtLt | Op::GeLe => {
            if e.value.len() != 2 {
                return Err(ExprError(format!(
                    "invalid expression, 'value' field must contain exactly two elements for Op {} (have {})",
                    q(),
                    go_list(&e.value)
                )));
            }
            let (lo, hi) = (
                compare(e, input, &e.value[0])?,
                compare(e, input, &e.value[1])?,
            );
            if e.value_type.is_empty() {
                let bounds = (atoi(&e.value[0]), atoi(&e.value[1]));
                if let (Some(a), Some(b)) = bounds
                    && a >= b
                {
                    return Err(ExprError(format!(
                        "invalid expression, value[0] must be less than Value[1] for Op {} (have {})",
                        q(),
                        go_list(&e.value)
                    )));
                }
            }
            Ok(if op == Op::GtLt {
                lo.is_gt() && hi.is_lt()
            } else {
                lo.is_ge() && hi.is_le()
            })
        }
        Op::IsTrue => must_be_empty().map(|_| input == "true"),
        Op::IsFalse => must_be_empty().map(|_| input == "false"),
        Op::Any | Op::Exists | Op::DoesNotExist => unreachable!("handled above"),
    }
}

/// Compare input with a bound as integers or, with `type: version`, versions.
fn compare(e: &Expression, input: &str, bound: &str) -> Result<std::cmp::Ordering, ExprError> {
    match e.value_type.as_str() {
        "version" => {
            let l = version::parse(input).ok_or_else(|| {
                ExprError(format!("not a version {}", crate::spec::go_quote(input)))
            })?;
            let r = version::parse(bound).ok_or_else(|| {
                ExprError(format!(
                    "not a version {} in {}",
                    crate::spec::go_quote(bound),
                    go_struct(e)
                ))
            })?;
            Ok(l.cmp(&r))
        }
        "" => {
            let l = atoi(input).ok_or_else(|| {
                ExprError(format!("not a number {}", crate::spec::go_quote(input)))
            })?;
            let r = atoi(bound).ok_or_else(|| {
                ExprError(format!(
                    "not a number {} in {}",
                    crate::spec::go_quote(bound),
                    go_struct(e)
                ))
            })?;
            Ok(l.cmp(&r))
        }
        other => Err(ExprError(format!(
            "invalid expression, 'type' field only accepts \"version\" value for Op {} (have {})",
            crate::spec::go_quote(&e.op),
            crate::spec::go_quote(other)
        ))),
    }
}

/// Go `strconv.Atoi`: optional sign, decimal digits, 64-bit range.
pub fn atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Compiled patterns, with what they were allowed to take.
#[derive(Default)]
struct Cache {
    compiled: HashMap<String, Option<Regex>>,
    charged: usize,
}

thread_local! {
    static REGEXPS: RefCell<Cache> = RefCell::new(Cache::default());
}

/// What the cached patterns may hold together; past it the cache starts over,
/// so a spec (or a fuzzer) with many large patterns cannot grow memory without end.
const CACHE_BUDGET: usize = 128 << 20;

/// The lazy DFA's cache of one regex (it grows as matching explores states).
const DFA_CACHE: usize = 1 << 20;

/// Compile a Go (RE2) regexp, cached. Go's `\d`, `\w`, `\s` and `\b` are
/// ASCII-only; Rust's are Unicode, so they are rewritten to ASCII forms.
pub fn compile(pattern: &str) -> Option<Regex> {
    REGEXPS.with(|cache| {
        if let Some(re) = cache.borrow().compiled.get(pattern) {
            return re.clone();
        }
        let built = go_to_rust_regex(pattern).and_then(|p| build(&p));
        let mut cache = cache.borrow_mut();
        let cost = built.as_ref().map_or(0, |(_, cost)| *cost);
        if cache.charged + cost > CACHE_BUDGET {
            *cache = Cache::default();
        }
        cache.charged += cost;
        let re = built.map(|(re, _)| re);
        cache.compiled.insert(pattern.to_string(), re.clone());
        re
    })
}

/// A regex and the program size it was allowed: the smallest of 1, 4 and
/// 32 MiB that fits it. Go compiles patterns Rust's default 10 MB limit
/// refuses (`(?i)\pL{500}` needs 24 MiB); 32 MiB is as far as one goes.
fn build(pattern: &str) -> Option<(Regex, usize)> {
    for limit in [1usize << 20, 4 << 20, 32 << 20] {
        match regex::RegexBuilder::new(pattern)
            .size_limit(limit)
            .dfa_size_limit(DFA_CACHE)
            .build()
        {
            Ok(re) => return Some((re, limit + DFA_CACHE)),
            Err(regex::Error::CompiledTooBig(_)) => continue,
            Err(_) => return None,
        }
    }
    None
}

/// The length (in chars) of the repetition operator at `at`, if one starts
/// there: `*`, `+`, `?` or a well-formed `{n}`, `{n,}`, `{n,m}` (a `{`
/// that is not one is a literal, as in Go).
fn repetition_at(p: &[char], at: usize) -> Option<usize> {
    match p[at] {
        '*' | '+' | '?' => Some(1),
        '{' => {
            let end = p[at..].iter().position(|&c| c == '}')?;
            let body: String = p[at + 1..at + end].iter().collect();
            let (lo, hi) = body.split_once(',').unwrap_or((&body, &body));
            let number = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit());
            (number(lo) && (hi.is_empty() || number(hi))).then_some(end + 1)
        }
        _ => None,
    }
}

/// Go RE2 syntax as Rust's, or `None` where Go refuses the pattern:
/// - `\d`, `\w`, `\s`, `\b` keep Go's ASCII meaning;
/// - `\Q…\E` becomes an escaped literal (Rust lacks it);
/// - capture names are dropped (Go allows a name twice, Rust does not, and
///   nothing here reads them);
/// - Go's repetition rules, which Rust does not have: a repeat count above
///   1000 is "invalid repeat count", and a repetition of a repetition
///   (`a**`, `a{2}+`) "invalid nested repetition operator" (`a*?` is lazy).
fn go_to_rust_regex(pattern: &str) -> Option<String> {
    let p: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut in_class = false;
    let mut after_repeat = false;
    let mut lazy_taken = false;
    let mut i = 0;
    while i < p.len() {
        let c = p[i];
        if !in_class && let Some(len) = repetition_at(&p, i) {
            let op: String = p[i..i + len].iter().collect();
            if after_repeat {
                // One `?` after a repetition makes it lazy; anything more is nested.
                if c == '?' && !lazy_taken {
                    out.push('?');
                    lazy_taken = true;
                    i += 1;
                    continue;
                }
                return None;
            }
            let too_many = c == '{'
                && op[1..op.len() - 1]
                    .split(',')
                    .any(|n| n.parse::<u64>().map_or(!n.is_empty(), |n| n > 1000));
            if too_many {
                return None;
            }
            out.push_str(&op);
            after_repeat = true;
            lazy_taken = false;
            i += len;
            continue;
        }
        after_repeat = false;
        let rest: String = p[i..p.len().min(i + 4)].iter().collect();
        match c {
            '(' if !in_class
                && (rest.starts_with("(?P<")
                    || (rest.starts_with("(?<")
                        && !rest.starts_with("(?<=")
                        && !rest.starts_with("(?<!"))) =>
            {
                let close = p[i..].iter().position(|&c| c == '>')?;
                out.push('(');
                i += close + 1;
                continue;
            }
            '\\' if !in_class && p.get(i + 1) == Some(&'Q') => {
                let body = &p[i + 2..];
                let end = body.windows(2).position(|w| w == ['\\', 'E']);
                let literal: String = body[..end.unwrap_or(body.len())].iter().collect();
                out.push_str(&regex::escape(&literal));
                i += 2 + end.map_or(body.len(), |e| e + 2);
                continue;
            }
            '\\' => {
                let Some(&n) = p.get(i + 1) else {
                    out.push('\\');
                    break;
                };
                i += 1;
                let ascii = match (n, in_class) {
                    ('d', false) => "[0-9]",
                    ('d', true) => "0-9",
                    ('D', false) => "[^0-9]",
                    ('w', false) => "[0-9A-Za-z_]",
                    ('w', true) => "0-9A-Za-z_",
                    ('W', false) => "[^0-9A-Za-z_]",
                    ('s', false) => "[\\t\\n\\f\\r ]",
                    ('s', true) => "\\t\\n\\f\\r ",
                    ('S', false) => "[^\\t\\n\\f\\r ]",
                    ('b', false) => "(?-u:\\b)",
                    ('B', false) => "(?-u:\\B)",
                    _ => "",
                };
                if ascii.is_empty() {
                    out.push('\\');
                    out.push(n);
                } else {
                    out.push_str(ascii);
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if p.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if p.get(i + 1) == Some(&']') {
                    out.push(']');
                    i += 1;
                }
            }
            '[' if in_class && p.get(i + 1) == Some(&':') => {
                // A POSIX class like [:alpha:] inside a bracket expression.
                let close = p[i..]
                    .iter()
                    .position(|&c| c == ']')
                    .unwrap_or(p.len() - i - 1);
                out.extend(&p[i..=i + close]);
                i += close;
            }
            '[' | '&' | '~' if in_class => {
                // Literal in Go; nesting and set operators in Rust.
                out.push('\\');
                out.push(c);
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            // Not a repetition (checked above): a literal in Go, an error in Rust.
            '{' if !in_class => out.push_str("\\{"),
            c => out.push(c),
        }
        i += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests;
