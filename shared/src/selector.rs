//! The Kubernetes label-selector grammar, parsed and matched client-side with
//! apimachinery's rules (`k8s.io/apimachinery/pkg/labels`) and its error wording.
//!
//! Send the user's original string to the API server; use the parsed form to
//! filter stored events and offline manifests.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// A selector that failed to parse or validate; the text is apimachinery's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SelectorError(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    In,
    NotIn,
    Equals,
    DoubleEquals,
    NotEquals,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

impl Operator {
    /// The operator as apimachinery names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

/// One `key op values` term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
    pub values: Vec<String>,
}

/// An AND of requirements. Empty selects everything; [`Selector::nothing`] selects nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    requirements: Vec<Requirement>,
    nothing: bool,
}

impl Requirement {
    /// Build and validate a requirement (apimachinery's `NewRequirement`).
    pub fn new(key: &str, operator: Operator, values: Vec<String>) -> Result<Self, SelectorError> {
        let mut errs: Vec<String> = Vec::new();
        if let Some(msg) = key_errors(key) {
            errs.push(invalid("key", key, &msg));
        }
        let n = values.len();
        match operator {
            Operator::In | Operator::NotIn if n == 0 => errs.push(invalid_list(
                "values",
                &values,
                "for 'in', 'notin' operators, values set can't be empty",
            )),
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals if n != 1 => {
                errs.push(invalid_list(
                    "values",
                    &values,
                    "exact-match compatibility requires one single value",
                ))
            }
            Operator::Exists | Operator::DoesNotExist if n != 0 => errs.push(invalid_list(
                "values",
                &values,
                "values set must be empty for exists and does not exist",
            )),
            Operator::GreaterThan | Operator::LessThan => {
                if n != 1 {
                    errs.push(invalid_list(
                        "values",
                        &values,
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    ));
                }
                for (i, v) in values.iter().enumerate() {
                    if v.parse::<i64>().is_err() {
                        errs.push(invalid(
                            &format!("values[{i}]"),
                            v,
                            "for 'Gt', 'Lt' operators, the value must be an integer",
                        ));
                    }
                }
            }
            _ => {}
        }
        for (i, v) in values.iter().enumerate() {
            if let Some(msg) = value_errors(v) {
                errs.push(invalid(&format!("values[{i}][{key}]"), v, &msg));
            }
        }
        if !errs.is_empty() {
            return Err(SelectorError(aggregate(errs)));
        }
        Ok(Requirement {
            key: key.to_string(),
            operator,
            values,
        })
    }

    /// Whether a label set satisfies this requirement. `notin` and `!=` match
    /// when the key is absent; `>`/`<` need an integer label value.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        let has = |v: &String| self.values.iter().any(|x| x == v);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => value.is_some_and(has),
            Operator::NotIn | Operator::NotEquals => !value.is_some_and(has),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let (Some(actual), [wanted]) = (value, self.values.as_slice()) else {
                    return false;
                };
                match (actual.parse::<i64>(), wanted.parse::<i64>()) {
                    (Ok(a), Ok(w)) if self.operator == Operator::GreaterThan => a > w,
                    (Ok(a), Ok(w)) => a < w,
                    _ => false,
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values = || {
            let mut v = self.values.clone();
            v.sort();
            v.join(",")
        };
        let k = &self.key;
        match self.operator {
            Operator::Exists => write!(f, "{k}"),
            Operator::DoesNotExist => write!(f, "!{k}"),
            Operator::Equals => write!(f, "{k}={}", values()),
            Operator::DoubleEquals => write!(f, "{k}=={}", values()),
            Operator::NotEquals => write!(f, "{k}!={}", values()),
            Operator::GreaterThan => write!(f, "{k}>{}", values()),
            Operator::LessThan => write!(f, "{k}<{}", values()),
            Operator::In => write!(f, "{k} in ({})", values()),
            Operator::NotIn => write!(f, "{k} notin ({})", values()),
        }
    }
}

impl Selector {
    /// Parse the selector syntax of `kubectl -l`.
    pub fn parse(text: &str) -> Result<Self, SelectorError> {
        let tokens = lex(text);
        let mut requirements = Parser { tokens, pos: 0 }.parse()?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Selector {
            requirements,
            nothing: false,
        })
    }

    /// The selector that matches nothing (a null `LabelSelector`).
    pub fn nothing() -> Self {
        Selector {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// `metav1.LabelSelectorAsSelector`: null matches nothing, empty matches everything.
    pub fn from_label_selector(selector: Option<&LabelSelector>) -> Result<Self, SelectorError> {
        let Some(ls) = selector else {
            return Ok(Selector::nothing());
        };
        let mut requirements = Vec::new();
        for (k, v) in ls.match_labels.iter().flatten() {
            requirements.push(Requirement::new(k, Operator::Equals, vec![v.clone()])?);
        }
        for expr in ls.match_expressions.iter().flatten() {
            let op = match expr.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(SelectorError(format!(
                        "{} is not a valid label selector operator",
                        go_quote(other)
                    )));
                }
            };
            requirements.push(Requirement::new(
                &expr.key,
                op,
                expr.values.clone().unwrap_or_default(),
            )?);
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Selector {
            requirements,
            nothing: false,
        })
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// True when it selects every object.
    pub fn is_everything(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Selector {
    type Err = SelectorError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Selector::parse(s)
    }
}

// ---- lexer ----

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    End,
    ClosedPar,
    Comma,
    Bang,
    DoubleEquals,
    Equals,
    Greater,
    Identifier,
    In,
    Less,
    NotEquals,
    NotIn,
    OpenPar,
}

fn symbol_token(s: &str) -> Option<Tok> {
    Some(match s {
        ")" => Tok::ClosedPar,
        "," => Tok::Comma,
        "!" => Tok::Bang,
        "==" => Tok::DoubleEquals,
        "=" => Tok::Equals,
        ">" => Tok::Greater,
        "in" => Tok::In,
        "<" => Tok::Less,
        "!=" => Tok::NotEquals,
        "notin" => Tok::NotIn,
        "(" => Tok::OpenPar,
        _ => return None,
    })
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// Tokens with their literal text, ending with `End`.
fn lex(text: &str) -> Vec<(Tok, String)> {
    let bytes = text.as_bytes();
    let mut pos = 0;
    let mut out = Vec::new();
    loop {
        while pos < bytes.len() && is_space(bytes[pos]) {
            pos += 1;
        }
        if pos >= bytes.len() {
            out.push((Tok::End, String::new()));
            return out;
        }
        let start = pos;
        if is_special(bytes[pos]) {
            // Longest run of symbols that still forms a known token.
            let mut last: Option<(Tok, usize)> = None;
            while pos < bytes.len() && is_special(bytes[pos]) {
                pos += 1;
                match symbol_token(&text[start..pos]) {
                    Some(tok) => last = Some((tok, pos)),
                    None if last.is_some() => {
                        pos -= 1;
                        break;
                    }
                    None => {}
                }
            }
            // Every single symbol is a token, so `last` is always set.
            let (tok, end) = last.unwrap_or((Tok::Identifier, pos));
            pos = end;
            out.push((tok, text[start..end].to_string()));
        } else {
            while pos < bytes.len() && !is_special(bytes[pos]) && !is_space(bytes[pos]) {
                pos += 1;
            }
            let lit = &text[start..pos];
            let tok = match lit {
                "in" => Tok::In,
                "notin" => Tok::NotIn,
                _ => Tok::Identifier,
            };
            out.push((tok, lit.to_string()));
        }
    }
}

// ---- parser ----

/// `in`/`notin` are keywords only where an operator is expected.
#[derive(Clone, Copy, PartialEq)]
enum Ctx {
    KeyAndOperator,
    Values,
}

struct Parser {
    tokens: Vec<(Tok, String)>,
    pos: usize,
}

fn found(lit: &str, expected: &str) -> SelectorError {
    SelectorError(format!("found '{lit}', expected: {expected}"))
}

impl Parser {
    fn peek(&self, ctx: Ctx) -> (Tok, String) {
        let (tok, lit) = self.tokens[self.pos.min(self.tokens.len() - 1)].clone();
        (Self::in_context(tok, ctx), lit)
    }

    fn next(&mut self, ctx: Ctx) -> (Tok, String) {
        let item = self.peek(ctx);
        self.pos += 1;
        item
    }

    fn in_context(tok: Tok, ctx: Ctx) -> Tok {
        match tok {
            Tok::In | Tok::NotIn if ctx == Ctx::Values => Tok::Identifier,
            t => t,
        }
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, SelectorError> {
        let mut out = Vec::new();
        loop {
            let (tok, lit) = self.peek(Ctx::Values);
            match tok {
                Tok::Identifier | Tok::Bang => {
                    let r = self.requirement().map_err(|e| {
                        SelectorError(format!("unable to parse requirement: {}", e.0))
                    })?;
                    out.push(r);
                    let (t, l) = self.next(Ctx::Values);
                    match t {
                        Tok::End => return Ok(out),
                        Tok::Comma => {
                            let (t2, l2) = self.peek(Ctx::Values);
                            if t2 != Tok::Identifier && t2 != Tok::Bang {
                                return Err(found(&l2, "identifier after ','"));
                            }
                        }
                        _ => return Err(found(&l, "',' or 'end of string'")),
                    }
                }
                Tok::End => return Ok(out),
                _ => return Err(found(&lit, "!, identifier, or 'end of string'")),
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, SelectorError> {
        let (key, unary) = self.key_and_unary()?;
        if let Some(op) = unary {
            return Requirement::new(&key, op, Vec::new());
        }
        let op = self.operator()?;
        let values = match op {
            Operator::In | Operator::NotIn => self.value_set()?,
            _ => self.exact_value()?,
        };
        Requirement::new(&key, op, values)
    }

    fn key_and_unary(&mut self) -> Result<(String, Option<Operator>), SelectorError> {
        let (mut tok, mut lit) = self.next(Ctx::Values);
        let negated = tok == Tok::Bang;
        if negated {
            (tok, lit) = self.next(Ctx::Values);
        }
        if tok != Tok::Identifier {
            return Err(found(&lit, "identifier"));
        }
        if let Some(msg) = key_errors(&lit) {
            return Err(SelectorError(format!(
                "<nil>: Invalid value: {}: {msg}",
                go_quote(&lit)
            )));
        }
        let (next, _) = self.peek(Ctx::Values);
        let unary = if negated {
            Some(Operator::DoesNotExist)
        } else if matches!(next, Tok::End | Tok::Comma) {
            Some(Operator::Exists)
        } else {
            None
        };
        Ok((lit, unary))
    }

    fn operator(&mut self) -> Result<Operator, SelectorError> {
        let (tok, lit) = self.next(Ctx::KeyAndOperator);
        Ok(match tok {
            Tok::In => Operator::In,
            Tok::Equals => Operator::Equals,
            Tok::DoubleEquals => Operator::DoubleEquals,
            Tok::Greater => Operator::GreaterThan,
            Tok::Less => Operator::LessThan,
            Tok::NotIn => Operator::NotIn,
            Tok::NotEquals => Operator::NotEquals,
            _ => return Err(found(&lit, "in, notin, =, ==, !=, gt, lt")),
        })
    }

    /// `(a,b)`; `()` and empty members stand for the empty string. Sorted, no duplicates.
    fn value_set(&mut self) -> Result<Vec<String>, SelectorError> {
        let (tok, lit) = self.next(Ctx::Values);
        if tok != Tok::OpenPar {
            return Err(SelectorError(format!("found '{lit}' expected: '('")));
        }
        let (tok, lit) = self.peek(Ctx::Values);
        let mut set = std::collections::BTreeSet::new();
        match tok {
            Tok::Identifier | Tok::Comma => {
                self.identifier_list(&mut set)?;
                if self.next(Ctx::Values).0 != Tok::ClosedPar {
                    return Err(found(&lit, "')'"));
                }
            }
            Tok::ClosedPar => {
                self.next(Ctx::Values);
                set.insert(String::new());
            }
            _ => return Err(found(&lit, "',', ')' or identifier")),
        }
        Ok(set.into_iter().collect())
    }

    fn identifier_list(
        &mut self,
        set: &mut std::collections::BTreeSet<String>,
    ) -> Result<(), SelectorError> {
        loop {
            let (tok, lit) = self.next(Ctx::Values);
            match tok {
                Tok::Identifier => {
                    set.insert(lit);
                    let (t2, l2) = self.peek(Ctx::Values);
                    match t2 {
                        Tok::Comma => continue,
                        Tok::ClosedPar => return Ok(()),
                        _ => return Err(found(&l2, "',' or ')'")),
                    }
                }
                Tok::Comma => {
                    if set.is_empty() {
                        set.insert(String::new());
                    }
                    let (t2, _) = self.peek(Ctx::Values);
                    if t2 == Tok::ClosedPar {
                        set.insert(String::new());
                        return Ok(());
                    }
                    if t2 == Tok::Comma {
                        self.next(Ctx::Values);
                        set.insert(String::new());
                    }
                }
                _ => return Err(found(&lit, "',', or identifier")),
            }
        }
    }

    fn exact_value(&mut self) -> Result<Vec<String>, SelectorError> {
        let (tok, _) = self.peek(Ctx::Values);
        if matches!(tok, Tok::End | Tok::Comma) {
            return Ok(vec![String::new()]);
        }
        let (tok, lit) = self.next(Ctx::Values);
        if tok == Tok::Identifier {
            Ok(vec![lit])
        } else {
            Err(found(&lit, "identifier"))
        }
    }
}

// ---- validation (apimachinery util/validation) ----

const NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const SUBDOMAIN_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";

fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    let examples: Vec<String> = examples.iter().map(|e| format!("'{e}', ")).collect();
    format!(
        "{msg} (e.g. {}regex used for validation is '{fmt}')",
        examples.join(" or ")
    )
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn is_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: &u8| c.is_ascii_alphanumeric();
    !b.is_empty()
        && alnum(&b[0])
        && alnum(&b[b.len() - 1])
        && b.iter()
            .all(|c| alnum(c) || matches!(c, b'-' | b'_' | b'.'))
}

/// A valid `metadata.name` for most kinds: an RFC 1123 subdomain of at most 253 characters.
pub fn is_object_name(s: &str) -> bool {
    s.len() <= 253 && is_dns1123_subdomain(s)
}

/// A valid namespace name: an RFC 1123 label of at most 63 characters.
pub fn is_namespace_name(s: &str) -> bool {
    s.len() <= 63 && !s.contains('.') && is_dns1123_subdomain(s)
}

fn is_dns1123_subdomain(s: &str) -> bool {
    s.split('.').all(|label| {
        let b = label.as_bytes();
        let ok = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        !b.is_empty() && ok(&b[0]) && ok(&b[b.len() - 1]) && b.iter().all(|c| ok(c) || *c == b'-')
    })
}

/// `IsQualifiedName`: `[prefix/]name`, messages joined with "; ".
fn key_errors(key: &str) -> Option<String> {
    let parts: Vec<&str> = key.split('/').collect();
    let name_example = ["MyName", "my.name", "123-abc"];
    let mut errs = Vec::new();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                if prefix.len() > 253 {
                    errs.push("prefix part must be no more than 253 characters".to_string());
                }
                if !is_dns1123_subdomain(prefix) {
                    errs.push(format!(
                        "prefix part {}",
                        regex_error(SUBDOMAIN_MSG, SUBDOMAIN_FMT, &["example.com"])
                    ));
                }
            }
            *name
        }
        _ => {
            return Some(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(NAME_MSG, NAME_FMT, &name_example)
            ));
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push("name part must be no more than 63 characters".to_string());
    }
    if !is_qualified_name_part(name) {
        errs.push(format!(
            "name part {}",
            regex_error(NAME_MSG, NAME_FMT, &name_example)
        ));
    }
    (!errs.is_empty()).then(|| errs.join("; "))
}

/// `IsValidLabelValue`: empty, or ≤ 63 characters shaped like a name.
fn value_errors(value: &str) -> Option<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    if !value.is_empty() && !is_qualified_name_part(value) {
        errs.push(regex_error(
            VALUE_MSG,
            &format!("({NAME_FMT})?"),
            &["MyValue", "my_value", "12345"],
        ));
    }
    (!errs.is_empty()).then(|| errs.join("; "))
}

/// Go's `%q` for the strings that reach these messages.
fn go_quote(s: &str) -> String {
    format!("{s:?}")
}

fn invalid(field: &str, value: &str, detail: &str) -> String {
    format!("{field}: Invalid value: {}: {detail}", go_quote(value))
}

fn invalid_list(field: &str, values: &[String], detail: &str) -> String {
    let json = serde_json::to_string(values).unwrap_or_default();
    let json = if values.is_empty() { "[]".into() } else { json };
    format!("{field}: Invalid value: {json}: {detail}")
}

/// `utilerrors.NewAggregate(...).Error()`: one message as is, several in brackets.
fn aggregate(mut errs: Vec<String>) -> String {
    let mut seen = std::collections::HashSet::new();
    errs.retain(|e| seen.insert(e.clone()));
    if errs.len() == 1 {
        errs.remove(0)
    } else {
        format!("[{}]", errs.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn sel(s: &str) -> Selector {
        Selector::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str) -> String {
        Selector::parse(s).unwrap_err().0
    }

    #[test]
    fn apimachinery_doc_example() {
        let s = sel("x in (foo,,baz),y,z notin ()");
        assert_eq!(s.to_string(), "x in (,baz,foo),y,z notin ()");
        assert_eq!(s.requirements()[0].values, vec!["", "baz", "foo"]);
        assert!(s.matches(&labels(&[("x", "foo"), ("y", "1")])));
        assert!(s.matches(&labels(&[("x", ""), ("y", "1"), ("z", "a")])));
        assert!(!s.matches(&labels(&[("x", "foo"), ("y", "1"), ("z", "")])));
        assert!(!s.matches(&labels(&[("x", "foo")])));
    }

    #[test]
    fn valid_selectors_round_trip() {
        // (input, canonical String()) pairs from apimachinery's behaviour.
        let cases = [
            ("", ""),
            ("x=a,y=b,z=c", "x=a,y=b,z=c"),
            ("x!=a,y=b", "x!=a,y=b"),
            ("x=,z= ", "x=,z="),
            ("x= ,z= ", "x=,z="),
            ("!x", "!x"),
            ("x>1", "x>1"),
            ("x<7", "x<7"),
            ("x>1,z<5", "x>1,z<5"),
            ("x==a", "x==a"),
            ("x in (in)", "x in (in)"),
            ("x notin (notin)", "x notin (notin)"),
            ("  x  in  ( a , b )  ", "x in (a,b)"),
            ("x\tin\n(a)", "x in (a)"),
            ("z,y,x", "x,y,z"),
            ("example.com/app=web", "example.com/app=web"),
            ("x in (b,a,b)", "x in (a,b)"),
            ("x in (,)", "x in ()"),
        ];
        for (input, want) in cases {
            assert_eq!(sel(input).to_string(), want, "{input:?}");
        }
        assert!(sel("").is_everything());
    }

    #[test]
    fn matching_semantics() {
        let l = labels(&[("app", "web"), ("tier", "front"), ("replicas", "3")]);
        let yes = [
            "app=web",
            "app==web",
            "app",
            "!canary",
            "app in (web,api)",
            "canary notin (true)",
            "canary!=true",
            "app!=api",
            "replicas>2",
            "replicas<4",
            "",
        ];
        let no = [
            "app=api",
            "canary",
            "!app",
            "app notin (web)",
            "app!=web",
            "replicas>3",
            "replicas<3",
            "app>1",
            "missing>1",
            "missing in (x)",
            "missing=",
        ];
        for s in yes {
            assert!(sel(s).matches(&l), "{s} should match");
        }
        for s in no {
            assert!(!sel(s).matches(&l), "{s} should not match");
        }
        assert!(sel("x=").matches(&labels(&[("x", "")])));
        assert!(!Selector::nothing().matches(&l));
    }

    #[test]
    fn parse_errors_use_apimachinery_wording() {
        assert_eq!(err("x=a,"), "found '', expected: identifier after ','");
        assert_eq!(
            err("x=a y=b"),
            "found 'y', expected: ',' or 'end of string'"
        );
        assert_eq!(
            err(",x"),
            "found ',', expected: !, identifier, or 'end of string'"
        );
        assert_eq!(
            err("x in a"),
            "unable to parse requirement: found 'a' expected: '('"
        );
        assert_eq!(
            err("x in (a"),
            "unable to parse requirement: found '', expected: ',' or ')'"
        );
        assert_eq!(
            err("x notin"),
            "unable to parse requirement: found '' expected: '('"
        );
        assert_eq!(
            err("x (a)"),
            "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt"
        );
        assert_eq!(
            err("x=(a)"),
            "unable to parse requirement: found '(', expected: identifier"
        );
        assert_eq!(err("!x=a"), "found '=', expected: ',' or 'end of string'");
        assert_eq!(
            err("x in (a,b=)"),
            "unable to parse requirement: found '=', expected: ',' or ')'"
        );
    }

    #[test]
    fn invalid_keys_and_values() {
        let e = err("-x=a");
        assert!(e.starts_with("unable to parse requirement: <nil>: Invalid value: \"-x\": name part must consist of alphanumeric characters"), "{e}");
        assert!(
            e.contains("regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]'"),
            "{e}"
        );
        let e = err("Example.com/x=a");
        assert!(
            e.contains("prefix part a lowercase RFC 1123 subdomain"),
            "{e}"
        );
        let e = err("a/b/c");
        assert!(e.contains("a qualified name must consist of"), "{e}");
        let e = err("/x");
        assert!(e.contains("prefix part must be non-empty"), "{e}");
        let long = "k".repeat(64);
        assert!(err(&long).contains("name part must be no more than 63 characters"));
        let e = err("x=-bad");
        assert_eq!(
            e,
            "unable to parse requirement: values[0][x]: Invalid value: \"-bad\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        );
        let e = err("x>a");
        assert_eq!(
            e,
            "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer"
        );
        assert!(err("x>").contains("the value must be an integer"));
        assert!(
            err(&format!("x={}", "v".repeat(64))).contains("must be no more than 63 characters")
        );
    }

    #[test]
    fn from_label_selector() {
        let ls = LabelSelector {
            match_labels: Some([("app".to_string(), "web".to_string())].into()),
            match_expressions: Some(vec![
                LabelSelectorRequirement {
                    key: "tier".into(),
                    operator: "In".into(),
                    values: Some(vec!["front".into(), "back".into()]),
                },
                LabelSelectorRequirement {
                    key: "canary".into(),
                    operator: "DoesNotExist".into(),
                    values: None,
                },
            ]),
        };
        let s = Selector::from_label_selector(Some(&ls)).unwrap();
        assert_eq!(s.to_string(), "app=web,!canary,tier in (back,front)");
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "back")])));
        assert!(!s.matches(&labels(&[
            ("app", "web"),
            ("tier", "back"),
            ("canary", "1")
        ])));

        let empty = Selector::from_label_selector(Some(&LabelSelector::default())).unwrap();
        assert!(empty.matches(&labels(&[])));
        let null = Selector::from_label_selector(None).unwrap();
        assert!(!null.matches(&labels(&[])));

        let bad = LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "x".into(),
                operator: "Gt".into(),
                values: Some(vec!["1".into()]),
            }]),
            ..Default::default()
        };
        assert_eq!(
            Selector::from_label_selector(Some(&bad)).unwrap_err().0,
            "\"Gt\" is not a valid label selector operator"
        );
        let empty_in = LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "x".into(),
                operator: "In".into(),
                values: Some(vec![]),
            }]),
            ..Default::default()
        };
        assert_eq!(
            Selector::from_label_selector(Some(&empty_in))
                .unwrap_err()
                .0,
            "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty"
        );
    }

    #[test]
    fn never_panics_on_odd_input() {
        for s in [
            "(",
            ")",
            "!",
            "!!",
            "=",
            "==",
            "!=!",
            "x in ((",
            "x in (a,,",
            "é=ü",
            "x<<1",
            ",,,",
            "\u{0}",
        ] {
            let _ = Selector::parse(s);
        }
    }
}
