//! Request traces (`--trace FILE`): one request a line, as JSON Lines
//! (`{"input": 212, "output": 180, "timestamp": 0.25, "model": "tweet-lora"}`)
//! or CSV with a header naming the same columns. Token counts are required;
//! `timestamp` (seconds) and `model` (a LoRA adapter) are optional. Aliases
//! the common tools write are read too: `input_tokens`/`prompt_tokens`/
//! `input_length`, `output_tokens`/`completion_tokens`/`output_length`,
//! `time`/`arrival`, `lora`/`adapter`. Read as a stream: a run holds one
//! line at a time, never the trace.

use std::io::BufRead;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("line {line}: {message}")]
    Line { line: u64, message: String },
    #[error("no requests in the trace")]
    Empty,
    #[error("reading: {0}")]
    Io(#[from] std::io::Error),
}

/// One request of a trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub at: Option<f64>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub model: Option<Arc<str>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    Csv,
}

impl Format {
    /// CSV for a `.csv` file, else JSON Lines.
    pub fn of(path: &std::path::Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("csv") => Format::Csv,
            _ => Format::Jsonl,
        }
    }
}

/// What a field's name means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Input,
    Output,
    At,
    Model,
}

fn field(name: &str) -> Option<Field> {
    Some(match name.trim().to_ascii_lowercase().as_str() {
        "input" | "input_tokens" | "prompt_tokens" | "input_length" => Field::Input,
        "output" | "output_tokens" | "completion_tokens" | "output_length" => Field::Output,
        "timestamp" | "time" | "arrival" => Field::At,
        "model" | "lora" | "adapter" => Field::Model,
        _ => return None,
    })
}

/// Builds a record from named values, whichever the format.
#[derive(Default)]
struct Fields {
    input: Option<u64>,
    output: Option<u64>,
    at: Option<f64>,
    model: Option<Arc<str>>,
}

impl Fields {
    fn set(&mut self, f: Field, number: Option<f64>, text: &str) -> Result<(), String> {
        let count = |n: Option<f64>| match n {
            Some(n) if n >= 0.0 && n.fract() == 0.0 && n < 1e12 => Ok(n as u64),
            _ => Err(format!("{text:?} is not a token count")),
        };
        match f {
            Field::Input => self.input = Some(count(number)?),
            Field::Output => self.output = Some(count(number)?),
            Field::At => match number {
                Some(t) if t.is_finite() && t >= 0.0 => self.at = Some(t),
                _ => return Err(format!("{text:?} is not a time in seconds")),
            },
            Field::Model if !text.is_empty() => self.model = Some(text.into()),
            Field::Model => {}
        }
        Ok(())
    }

    fn record(self) -> Result<Record, String> {
        Ok(Record {
            input_tokens: self.input.ok_or("no input token count")?,
            output_tokens: self.output.ok_or("no output token count")?,
            at: self.at,
            model: self.model,
        })
    }
}

/// A trace's lines, parsed. Blank lines and `#` comments are skipped.
pub struct Records<R> {
    lines: std::io::Lines<R>,
    format: Format,
    /// CSV: what each column is (`None` for columns we do not read).
    columns: Option<Vec<Option<Field>>>,
    line: u64,
}

impl<R: BufRead> Records<R> {
    pub fn new(reader: R, format: Format) -> Records<R> {
        Records {
            lines: reader.lines(),
            format,
            columns: None,
            line: 0,
        }
    }

    fn parse(&mut self, text: &str) -> Result<Option<Record>, String> {
        let mut fields = Fields::default();
        match self.format {
            Format::Jsonl => {
                let value: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(text).map_err(|e| e.to_string())?;
                for (name, v) in &value {
                    let Some(f) = field(name) else { continue };
                    let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                    fields.set(f, v.as_f64(), &text)?;
                }
            }
            Format::Csv => {
                let cells = text.split(',').map(|c| c.trim().trim_matches('"'));
                let Some(columns) = &self.columns else {
                    let columns: Vec<Option<Field>> = cells.map(field).collect();
                    for need in [Field::Input, Field::Output] {
                        if !columns.contains(&Some(need)) {
                            return Err(format!(
                                "the header names no {} column",
                                if need == Field::Input {
                                    "input"
                                } else {
                                    "output"
                                }
                            ));
                        }
                    }
                    self.columns = Some(columns);
                    return Ok(None);
                };
                let cells: Vec<&str> = cells.collect();
                if cells.len() != columns.len() {
                    return Err(format!(
                        "{} cells, the header has {}",
                        cells.len(),
                        columns.len()
                    ));
                }
                for (f, cell) in columns.iter().zip(cells) {
                    // An empty cell is a value left out.
                    if let Some(f) = f.filter(|_| !cell.is_empty()) {
                        fields.set(f, cell.parse().ok(), cell)?;
                    }
                }
            }
        }
        fields.record().map(Some)
    }
}

impl<R: BufRead> Iterator for Records<R> {
    type Item = Result<Record, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let text = match self.lines.next()? {
                Ok(text) => text,
                Err(e) => return Some(Err(e.into())),
            };
            self.line += 1;
            let text = text.trim();
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            match self.parse(text) {
                Ok(None) => continue,
                Ok(Some(record)) => return Some(Ok(record)),
                Err(message) => {
                    return Some(Err(TraceError::Line {
                        line: self.line,
                        message,
                    }));
                }
            }
        }
    }
}

/// A whole trace read once, before any run, so that runs never meet a
/// bad line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub requests: u64,
    /// Seconds from the first timestamp to the last, when every request
    /// has one and they do not go back in time.
    pub span: Option<f64>,
}

impl Summary {
    /// The trace's own rate, from its timestamps.
    pub fn rate(&self) -> Option<f64> {
        self.span
            .filter(|s| *s > 0.0)
            .map(|s| (self.requests.saturating_sub(1)) as f64 / s)
    }
}

pub fn scan(reader: impl BufRead, format: Format) -> Result<Summary, TraceError> {
    let (mut requests, mut first, mut last, mut timed) = (0u64, None, 0.0f64, true);
    for record in Records::new(reader, format) {
        let record = record?;
        requests += 1;
        match record.at {
            Some(t) if timed && t >= last => {
                first.get_or_insert(t);
                last = t;
            }
            _ => timed = false,
        }
    }
    if requests == 0 {
        return Err(TraceError::Empty);
    }
    Ok(Summary {
        requests,
        span: timed.then(|| last - first.unwrap_or(0.0)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, format: Format) -> Vec<Result<Record, String>> {
        Records::new(text.as_bytes(), format)
            .map(|r| r.map_err(|e| e.to_string()))
            .collect()
    }

    #[test]
    fn jsonl_and_csv_read_the_same_requests() {
        let jsonl = "{\"input\": 10, \"output\": 5, \"timestamp\": 0.5, \"model\": \"a\"}\n\n# note\n{\"prompt_tokens\": 7, \"completion_tokens\": 3, \"id\": \"x\"}\n";
        let csv = "timestamp,input_tokens,output_tokens,lora\n0.5,10,5,a\n,7,3,\n";
        let want = vec![
            Ok(Record {
                at: Some(0.5),
                input_tokens: 10,
                output_tokens: 5,
                model: Some("a".into()),
            }),
            Ok(Record {
                at: None,
                input_tokens: 7,
                output_tokens: 3,
                model: None,
            }),
        ];
        assert_eq!(read(jsonl, Format::Jsonl), want);
        assert_eq!(read(csv, Format::Csv), want);
    }

    #[test]
    fn bad_lines_are_named() {
        for (text, format, says) in [
            ("{\"input\": 1}\n", Format::Jsonl, "line 1: no output"),
            (
                "\n{\"input\": 1.5, \"output\": 2}",
                Format::Jsonl,
                "line 2: \"1.5\"",
            ),
            (
                "{\"input\": -1, \"output\": 2}",
                Format::Jsonl,
                "not a token count",
            ),
            ("[1, 2]", Format::Jsonl, "line 1: invalid type"),
            ("input,model\n", Format::Csv, "no output column"),
            ("input,output\n1,2,3\n", Format::Csv, "line 2: 3 cells"),
            ("input,output,time\n1,2,soon\n", Format::Csv, "not a time"),
        ] {
            let got = read(text, format);
            let e = got.iter().find_map(|r| r.as_ref().err()).unwrap();
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }

    #[test]
    fn a_scan_counts_and_times_the_trace() {
        let s = scan(
            "input,output,time\n1,1,10\n1,1,12\n1,1,14\n".as_bytes(),
            Format::Csv,
        )
        .unwrap();
        assert_eq!((s.requests, s.span, s.rate()), (3, Some(4.0), Some(0.5)));
        let untimed = scan("input,output\n1,1\n".as_bytes(), Format::Csv).unwrap();
        assert_eq!(untimed.span, None);
        let backwards = scan("input,output,time\n1,1,2\n1,1,1\n".as_bytes(), Format::Csv).unwrap();
        assert_eq!(backwards.span, None);
        assert!(matches!(
            scan("# nothing\n".as_bytes(), Format::Jsonl),
            Err(TraceError::Empty)
        ));
    }
}
