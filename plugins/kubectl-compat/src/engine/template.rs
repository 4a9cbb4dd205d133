//! The part of Go's text/template that NFD documents for `varsTemplate`:
//! text, `{{ .field.chain }}`, `{{ range PIPELINE }}`, `{{ if PIPELINE }}`
//! with `else`, `eq`/`ne`/`not`, string literals, comments and `{{-`/`-}}`
//! trimming, with `missingkey=error`. Anything else is refused by name.
//! The result is read as `key=value` lines, as NFD does.

use std::borrow::Cow;
use std::collections::BTreeMap;

use kplug::limits::{Limit, Unit};

use super::rule::MatchedFeatures;

/// NFD's own limit on a template's size.
const MAX_TEMPLATE: usize = 64 * 1024;

/// `{{if}}`/`{{range}}` blocks inside each other. Go's parser has no such
/// limit (its stacks grow); within 64 KiB one could nest 9,000 deep, which
/// would overflow ours. Real templates nest two or three deep.
const MAX_NESTING: usize = 100;

/// What one expansion may write: each `{{.}}` prints all matched data, so a
/// short template over a large kernel config could otherwise fill memory.
pub const OUTPUT_BYTES: Limit = Limit {
    what: "of expanded varsTemplate output",
    env: "KPLUG_MAX_TEMPLATE_OUTPUT_BYTES",
    default: 4 << 20,
    unit: Unit::Bytes,
};

#[derive(Debug, Clone, PartialEq)]
enum Val {
    Str(String),
    Bool(bool),
    List(Vec<Val>),
    Map(BTreeMap<String, Val>),
}

impl Val {
    fn truthy(&self) -> bool {
        match self {
            Val::Str(s) => !s.is_empty(),
            Val::Bool(b) => *b,
            Val::List(l) => !l.is_empty(),
            Val::Map(m) => !m.is_empty(),
        }
    }

    /// Go's `%v`.
    fn print(&self) -> String {
        match self {
            Val::Str(s) => s.clone(),
            Val::Bool(b) => b.to_string(),
            Val::List(l) => format!(
                "[{}]",
                l.iter().map(Val::print).collect::<Vec<_>>().join(" ")
            ),
            Val::Map(m) => {
                format!(
                    "map[{}]",
                    m.iter()
                        .map(|(k, v)| format!("{k}:{}", v.print()))
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    /// `.a.b` (empty for `.`).
    Field(Vec<String>),
    Str(String),
    Call(String, Vec<Arg>),
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Print(Arg),
    Range(Arg, Vec<Node>, Vec<Node>),
    If(Arg, Vec<Node>, Vec<Node>),
}

/// Expand `template` over `data` into `key=value` pairs.
pub fn expand_map(
    template: &str,
    data: &MatchedFeatures,
) -> Result<BTreeMap<String, String>, String> {
    let nodes = parse(template)?;
    let root = Val::Map(
        data.iter()
            .map(|(dom, feats)| {
                let feats = feats
                    .iter()
                    .map(|(name, elems)| {
                        let list = elems
                            .iter()
                            .map(|e| {
                                Val::Map(
                                    e.iter()
                                        .map(|(k, v)| (k.clone(), Val::Str(v.clone())))
                                        .collect(),
                                )
                            })
                            .collect();
                        (name.clone(), Val::List(list))
                    })
                    .collect();
                (dom.clone(), Val::Map(feats))
            })
            .collect(),
    );
    let mut text = String::new();
    run(&nodes, &root, &mut text, OUTPUT_BYTES.get_usize())?;
    let mut out = BTreeMap::new();
    for line in text.split('\n') {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(format!(
                "missing value in expanded template line {}, (format must be '<key>=<value>')",
                quote_prefix(line)
            ));
        };
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// Check that a template parses with the supported constructs (the same
/// checks, size included, as expansion makes).
pub fn check(template: &str) -> Result<(), String> {
    parse(template).map(|_| ())
}

/// A line for an error message: quoted, and cut after 80 characters.
fn quote_prefix(line: &str) -> String {
    match line.char_indices().nth(80) {
        None => format!("{line:?}"),
        Some((at, _)) => format!("{:?}… ({} bytes)", &line[..at], line.len()),
    }
}

enum Token {
    Text(String),
    Action(String),
}

fn tokenize(src: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    while let Some(start) = rest.find("{{") {
        let mut text = &rest[..start];
        if trim_next {
            text = text.trim_start();
        }
        let after = &rest[start + 2..];
        let trim_before =
            after.starts_with("- ") || after.starts_with("-\t") || after.starts_with("-\n");
        if trim_before {
            text = text.trim_end();
        }
        tokens.push(Token::Text(text.to_string()));
        let end = after.find("}}").ok_or("unclosed action")?;
        let mut action = &after[..end];
        if trim_before {
            action = &action[1..];
        }
        trim_next = action.ends_with(" -") || action.ends_with("\t-") || action.ends_with("\n-");
        if trim_next {
            action = &action[..action.len() - 1];
        }
        tokens.push(Token::Action(action.trim().to_string()));
        rest = &after[end + 2..];
    }
    let text = if trim_next { rest.trim_start() } else { rest };
    tokens.push(Token::Text(text.to_string()));
    Ok(tokens)
}

fn parse(src: &str) -> Result<Vec<Node>, String> {
    if src.len() > MAX_TEMPLATE {
        return Err(format!(
            "template exceeds maximum allowed size: {} bytes > {MAX_TEMPLATE} limit",
            src.len()
        ));
    }
    let tokens = tokenize(src)?;
    let mut pos = 0;
    let (nodes, end) = parse_block(&tokens, &mut pos, 0)?;
    match end {
        None => Ok(nodes),
        Some(word) => Err(format!("unexpected {{{{{word}}}}}")),
    }
}

/// Parse until `end`/`else` (returned) or the end of input.
fn parse_block(
    tokens: &[Token],
    pos: &mut usize,
    depth: usize,
) -> Result<(Vec<Node>, Option<String>), String> {
    if depth > MAX_NESTING {
        return Err(format!(
            "template nests {{{{if}}}}/{{{{range}}}} deeper than {MAX_NESTING} levels"
        ));
    }
    let mut nodes = Vec::new();
    while *pos < tokens.len() {
        let token = &tokens[*pos];
        *pos += 1;
        match token {
            Token::Text(t) => {
                if !t.is_empty() {
                    nodes.push(Node::Text(t.clone()));
                }
            }
            Token::Action(a) => {
                if a.starts_with("/*") && a.ends_with("*/") {
                    continue;
                }
                let (word, rest) = a
                    .split_once(char::is_whitespace)
                    .unwrap_or((a.as_str(), ""));
                match word {
                    "end" | "else" => return Ok((nodes, Some(word.to_string()))),
                    "range" | "if" => {
                        if rest.contains(":=") {
                            return Err(format!(
                                "unsupported template construct: variables in {{{{{a}}}}}"
                            ));
                        }
                        let arg = parse_pipeline(rest.trim())?;
                        let (body, end) = parse_block(tokens, pos, depth + 1)?;
                        let alt = match end.as_deref() {
                            Some("end") => Vec::new(),
                            Some("else") => {
                                let (alt, end) = parse_block(tokens, pos, depth + 1)?;
                                if end.as_deref() != Some("end") {
                                    return Err(format!("missing {{{{end}}}} for {{{{{word}}}}}"));
                                }
                                alt
                            }
                            _ => return Err(format!("missing {{{{end}}}} for {{{{{word}}}}}")),
                        };
                        nodes.push(if word == "range" {
                            Node::Range(arg, body, alt)
                        } else {
                            Node::If(arg, body, alt)
                        });
                    }
                    _ => nodes.push(Node::Print(parse_pipeline(a)?)),
                }
            }
        }
    }
    Ok((nodes, None))
}

fn parse_pipeline(text: &str) -> Result<Arg, String> {
    if text.is_empty() {
        return Err("missing value in template action".into());
    }
    if text.contains('|') || text.contains('$') || text.contains('(') {
        return Err(format!(
            "unsupported template construct: {text:?} (pipes, variables and parentheses are not supported)"
        ));
    }
    let words = split_words(text)?;
    if words.len() == 1 {
        return parse_arg(&words[0]);
    }
    let func = words[0].clone();
    if !matches!(func.as_str(), "eq" | "ne" | "not") {
        return Err(format!("unsupported template construct: function {func:?}"));
    }
    let args = words[1..]
        .iter()
        .map(|w| parse_arg(w))
        .collect::<Result<Vec<_>, _>>()?;
    let arity_ok = match func.as_str() {
        "not" => args.len() == 1,
        _ => args.len() == 2,
    };
    if !arity_ok {
        return Err(format!("wrong number of arguments for {func}"));
    }
    Ok(Arg::Call(func, args))
}

fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut s = String::from("\"");
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        let n = chars.next().ok_or("unterminated string")?;
                        s.push(match n {
                            'n' => '\n',
                            't' => '\t',
                            other => other,
                        });
                    }
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => s.push(c),
                }
            }
            if !closed {
                return Err("unterminated string in template".into());
            }
            words.push(s);
        } else {
            let mut w = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                w.push(c);
                chars.next();
            }
            words.push(w);
        }
    }
    Ok(words)
}

fn parse_arg(word: &str) -> Result<Arg, String> {
    if let Some(s) = word.strip_prefix('"') {
        return Ok(Arg::Str(s.to_string()));
    }
    if word == "." {
        return Ok(Arg::Field(Vec::new()));
    }
    if let Some(chain) = word.strip_prefix('.') {
        let parts: Vec<String> = chain.split('.').map(str::to_string).collect();
        if parts.iter().all(|p| !p.is_empty()) {
            return Ok(Arg::Field(parts));
        }
    }
    Err(format!("unsupported template construct: {word:?}"))
}

/// An argument's value; fields are borrowed, never copied.
fn eval<'a>(arg: &Arg, dot: &'a Val) -> Result<Cow<'a, Val>, String> {
    match arg {
        Arg::Str(s) => Ok(Cow::Owned(Val::Str(s.clone()))),
        Arg::Field(chain) => {
            let mut v = dot;
            for name in chain {
                v = match v {
                    Val::Map(m) => m
                        .get(name)
                        .ok_or_else(|| format!("map has no entry for key {name:?}"))?,
                    other => {
                        return Err(format!(
                            "can't evaluate field {name} in type {}",
                            type_name(other)
                        ));
                    }
                };
            }
            Ok(Cow::Borrowed(v))
        }
        Arg::Call(func, args) => {
            let vals = args
                .iter()
                .map(|a| eval(a, dot))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Cow::Owned(Val::Bool(match func.as_str() {
                "not" => !vals[0].truthy(),
                "eq" => vals[0] == vals[1],
                _ => vals[0] != vals[1],
            })))
        }
    }
}

fn type_name(v: &Val) -> &'static str {
    match v {
        Val::Str(_) => "string",
        Val::Bool(_) => "bool",
        Val::List(_) => "[]nodefeaturerule.MatchedElement",
        Val::Map(_) => "map",
    }
}

fn run(nodes: &[Node], dot: &Val, out: &mut String, limit: usize) -> Result<(), String> {
    for node in nodes {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Print(arg) => out.push_str(&eval(arg, dot)?.print()),
            Node::If(arg, body, alt) => {
                let branch = if eval(arg, dot)?.truthy() { body } else { alt };
                run(branch, dot, out, limit)?;
            }
            Node::Range(arg, body, alt) => {
                let value = eval(arg, dot)?;
                let items: Vec<&Val> = match value.as_ref() {
                    Val::List(l) => l.iter().collect(),
                    Val::Map(m) => m.values().collect(),
                    other => {
                        return Err(format!(
                            "range can't iterate over {}",
                            quote_prefix(&other.print())
                        ));
                    }
                };
                if items.is_empty() {
                    run(alt, dot, out, limit)?;
                }
                for item in items {
                    run(body, item, out, limit)?;
                }
            }
        }
        if out.len() > limit {
            return Err(OUTPUT_BYTES.exceeded("the varsTemplate expands too far"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rule::Element;

    fn data() -> MatchedFeatures {
        let el = |pairs: &[(&str, &str)]| -> Element {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let mut d = MatchedFeatures::new();
        d.entry("cpu".into()).or_default().insert(
            "cpuid".into(),
            vec![el(&[("Name", "AVX")]), el(&[("Name", "AVX2")])],
        );
        d.entry("pci".into()).or_default().insert(
            "device".into(),
            vec![el(&[("vendor", "10de"), ("class", "0302")])],
        );
        d.entry("kernel".into()).or_default().insert(
            "version".into(),
            vec![el(&[("Name", "major"), ("Value", "6")])],
        );
        d
    }

    #[test]
    fn hostile_templates_are_refused_in_bounded_time_and_memory() {
        // 40,000 nested blocks: an error from check (lint) and from expansion.
        let deep = "{{if .}}".repeat(40_000) + &"{{end}}".repeat(40_000);
        assert!(check(&deep).unwrap_err().contains("maximum allowed size"));
        let nested = "{{if .}}".repeat(2000) + &"{{end}}".repeat(2000);
        assert!(nested.len() < MAX_TEMPLATE);
        assert!(check(&nested).unwrap_err().contains("deeper than 100 "));
        assert!(expand_map(&nested, &data()).unwrap_err().contains("deeper"));
        // Each {{.}} prints all matched data: the output is capped.
        let mut big = MatchedFeatures::new();
        big.entry("kernel".into()).or_default().insert(
            "config".into(),
            (0..20_000)
                .map(|i| {
                    [
                        ("Name".to_string(), format!("CONFIG_{i}")),
                        ("Value".to_string(), "y".into()),
                    ]
                    .into_iter()
                    .collect()
                })
                .collect(),
        );
        let template = "{{.}}".repeat(13_000);
        let err = expand_map(&template, &big).unwrap_err();
        assert!(err.contains("KPLUG_MAX_TEMPLATE_OUTPUT_BYTES"), "{err}");
        // A bad line is quoted by its start only.
        let err = expand_map("{{range .kernel.config}}{{.Name}}{{end}}", &big).unwrap_err();
        assert!(err.len() < 300 && err.contains("bytes)"), "{err}");
    }

    #[test]
    fn range_fields_if_and_trim() {
        let t = "{{range .cpu.cpuid}}cpu-{{.Name}}=true\n{{end}}{{- range .pci.device }}\ngpu-{{ .vendor }}={{ if eq .class \"0302\" }}3d{{ else }}other{{ end }}\n{{- end}}\n{{range .kernel.version}}kernel-{{.Name}}={{.Value}}{{end}}{{/* c */}}";
        let out = expand_map(t, &data()).unwrap();
        let want: BTreeMap<String, String> = [
            ("cpu-AVX", "true"),
            ("cpu-AVX2", "true"),
            ("gpu-10de", "3d"),
            ("kernel-major", "6"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(out, want);
    }

    #[test]
    fn errors_like_nfd() {
        assert_eq!(
            expand_map("{{.nope.x}}", &data()).unwrap_err(),
            "map has no entry for key \"nope\""
        );
        assert!(
            expand_map("novalue", &data())
                .unwrap_err()
                .starts_with("missing value in expanded template line \"novalue\"")
        );
        assert!(
            expand_map("{{range .cpu.cpuid}}", &data())
                .unwrap_err()
                .contains("missing {{end}}")
        );
        let err = expand_map("{{ .cpu.cpuid | len }}", &data()).unwrap_err();
        assert!(err.starts_with("unsupported template construct"), "{err}");
        let err = expand_map("{{ printf \"%s\" .x }}", &data()).unwrap_err();
        assert_eq!(err, "unsupported template construct: function \"printf\"");
        assert!(expand_map(&"x".repeat(70_000), &data()).is_err());
        assert_eq!(
            expand_map("a=b=c\n\n  d=  \n", &data())
                .unwrap()
                .get("a")
                .map(String::as_str),
            Some("b=c")
        );
    }
}
