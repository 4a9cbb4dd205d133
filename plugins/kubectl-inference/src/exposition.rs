//! Prometheus' text exposition, as far as the endpoint picker reads it:
//! samples (`name{label="value",…} value [timestamp]`); comments and type
//! lines carry nothing it uses. Written here because the parser crates at
//! hand each refuse text that Prometheus itself takes: `prometheus-parse`
//! and `prometheus-scrape` reject metric names with colons (all of vLLM's),
//! `openmetrics-parser` rejects samples without a `# TYPE` line and a
//! family whose samples carry different labels.

use std::collections::BTreeMap;

/// One sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
    pub timestamp: Option<i64>,
}

/// A line that is not a sample, a comment or blank.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {what}")]
pub struct ParseError {
    pub line: usize,
    pub what: String,
}

/// Every sample of `text`, in order.
pub fn parse(text: &str) -> Result<Vec<Sample>, ParseError> {
    let mut samples = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fail = |what: &str| ParseError {
            line: i + 1,
            what: what.to_string(),
        };
        samples.push(sample(line).map_err(|what| fail(&what))?);
    }
    Ok(samples)
}

fn is_name_char(c: char, first: bool) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':' || (!first && c.is_ascii_digit())
}

fn sample(line: &str) -> Result<Sample, String> {
    let end = line
        .char_indices()
        .find(|&(i, c)| !is_name_char(c, i == 0))
        .map_or(line.len(), |(i, _)| i);
    if end == 0 {
        return Err(format!("a metric name must start it: {}", preview(line)));
    }
    let name = line[..end].to_string();
    let mut rest = &line[end..];
    let mut labels = BTreeMap::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = read_labels(after, &mut labels)?;
    }
    let mut fields = rest.split_whitespace();
    let value = fields
        .next()
        .ok_or_else(|| format!("{name} has no value"))
        .and_then(|v| number(v).ok_or_else(|| format!("{name}: {} is not a number", preview(v))))?;
    let timestamp = match fields.next() {
        None => None,
        Some(t) => Some(
            t.parse::<i64>()
                .map_err(|_| format!("{name}: {} is not a timestamp", preview(t)))?,
        ),
    };
    if fields.next().is_some() {
        return Err(format!("{name}: more after the timestamp"));
    }
    Ok(Sample {
        name,
        labels,
        value,
        timestamp,
    })
}

/// Go's float syntax as exporters write it, with Prometheus' infinities.
fn number(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => text.parse().ok(),
    }
}

/// `a="x",b="y"}` → the labels, and what follows the brace.
fn read_labels<'t>(
    mut text: &'t str,
    labels: &mut BTreeMap<String, String>,
) -> Result<&'t str, String> {
    loop {
        text = text.trim_start();
        if let Some(after) = text.strip_prefix('}') {
            return Ok(after);
        }
        let end = text
            .char_indices()
            .find(|&(i, c)| {
                !(c.is_ascii_alphanumeric() || c == '_') || (i == 0 && c.is_ascii_digit())
            })
            .map_or(text.len(), |(i, _)| i);
        if end == 0 {
            return Err(format!("a label name is missing at {}", preview(text)));
        }
        let key = text[..end].to_string();
        text = text[end..].trim_start();
        text = text
            .strip_prefix('=')
            .ok_or_else(|| format!("label {key} has no ="))?
            .trim_start();
        text = text
            .strip_prefix('"')
            .ok_or_else(|| format!("label {key}'s value is not quoted"))?;
        let mut value = String::new();
        let mut chars = text.char_indices();
        let close = loop {
            match chars.next() {
                None => return Err(format!("label {key}'s value is not closed")),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => return Err(format!("label {key}'s value is not closed")),
                },
                Some((_, c)) => value.push(c),
            }
        };
        labels.insert(key, value);
        text = text[close + 1..].trim_start();
        text = text.strip_prefix(',').unwrap_or(text);
    }
}

/// The start of `text`, for a message.
fn preview(text: &str) -> String {
    let cut: String = text.chars().take(40).collect();
    if cut.len() < text.len() {
        format!("{cut:?}…")
    } else {
        format!("{cut:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_with_colons_labels_escapes_and_timestamps() {
        let text = "# HELP x y\n\
                    vllm:num_requests_waiting{model_name=\"llama\"} 7.0\n\
                    up 1 1700000000000\n\
                    q{a=\"x\\\"y\",b=\"line\\nbreak\",} +Inf\n\
                    \n";
        let s = parse(text).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].name, "vllm:num_requests_waiting");
        assert_eq!(s[0].labels["model_name"], "llama");
        assert_eq!(s[0].value, 7.0);
        assert_eq!(s[1].timestamp, Some(1_700_000_000_000));
        assert_eq!(s[2].labels["a"], "x\"y");
        assert_eq!(s[2].labels["b"], "line\nbreak");
        assert!(s[2].value.is_infinite());
    }

    #[test]
    fn a_bad_line_names_its_number() {
        let e = parse("ok 1\nbroken{a=\"x} 1\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.to_string().contains("not closed"), "{e}");
        assert!(parse("9lives 1").is_err());
        assert!(
            parse("x one")
                .unwrap_err()
                .to_string()
                .contains("not a number")
        );
        assert!(parse("x{a=1} 2").is_err());
    }
}
