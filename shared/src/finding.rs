//! The one report type every check produces, so all plugins print, filter and
//! export problems the same way.

use std::fmt;
use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use crate::exit::Code;
use crate::output::color::Palette;
use crate::output::table::{Cell, Table, TableOptions};

/// How bad a finding is. Ordered: `Info < Warning < Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "warning" | "warn" => Ok(Severity::Warning),
            "error" => Ok(Severity::Error),
            _ => Err(format!(
                "unknown severity \"{s}\": use error, warning or info"
            )),
        }
    }
}

/// The object a finding is about: live (`namespace`) or from a file (`file`, `line`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// A part of the object, e.g. a container name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ObjectRef {
    pub fn new(kind: &str, namespace: Option<&str>, name: &str) -> Self {
        ObjectRef {
            kind: kind.to_string(),
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
            ..Default::default()
        }
    }

    /// The reference of an object loaded from a manifest.
    pub fn from_manifest(object: &crate::manifest::Object) -> Self {
        ObjectRef {
            file: Some(object.source.file.clone()),
            line: Some(object.source.line),
            ..ObjectRef::new(object.kind(), object.namespace(), object.name())
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/", self.kind.to_lowercase())?;
        if let Some(ns) = &self.namespace {
            write!(f, "{ns}/")?;
        }
        f.write_str(&self.name)?;
        if let Some(field) = &self.field {
            write!(f, "[{field}]")?;
        }
        if let Some(file) = &self.file {
            write!(f, " ({file}")?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// One problem found by a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub severity: Severity,
    /// Stable kebab-case code, e.g. `readiness-does-not-gate`.
    pub code: String,
    pub object: ObjectRef,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    /// A finding; `code` must be kebab-case (checked in debug builds and tests).
    pub fn new(
        severity: Severity,
        code: &str,
        object: ObjectRef,
        message: impl Into<String>,
    ) -> Self {
        debug_assert!(
            is_kebab_case(code),
            "finding code {code:?} is not kebab-case"
        );
        Finding {
            severity,
            code: code.to_string(),
            object,
            message: message.into(),
            fix: None,
        }
    }

    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// `lower-case-words-and-digits`.
pub fn is_kebab_case(code: &str) -> bool {
    !code.is_empty()
        && !code.starts_with('-')
        && !code.ends_with('-')
        && !code.contains("--")
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// 3 when any finding is an error, 0 otherwise.
pub fn exit_code(findings: &[Finding]) -> Code {
    if findings.iter().any(|f| f.severity == Severity::Error) {
        Code::Problems
    } else {
        Code::Success
    }
}

/// Keep findings at or above `min`, worst first, then by object and code.
pub fn filter_sorted(findings: &[Finding], min: Severity) -> Vec<Finding> {
    let mut out: Vec<Finding> = findings
        .iter()
        .filter(|f| f.severity >= min)
        .cloned()
        .collect();
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.object.to_string().cmp(&b.object.to_string()))
            .then_with(|| a.code.cmp(&b.code))
    });
    out
}

/// The findings table: SEVERITY CODE OBJECT MESSAGE, plus FIX with `-o wide`.
pub fn table(findings: &[Finding], palette: Palette) -> Table {
    let mut t = Table::new(&["severity", "code", "object", "message"]).wide_column("fix");
    for f in findings {
        let style = match f.severity {
            Severity::Error => palette.error(),
            Severity::Warning => palette.warning(),
            Severity::Info => palette.dim(),
        };
        t.push([
            Cell::styled(f.severity.to_string(), style),
            Cell::from(&f.code),
            Cell::from(f.object.to_string()),
            Cell::from(&f.message),
            Cell::from(f.fix.clone().unwrap_or_default()),
        ]);
    }
    t
}

/// Print findings as a table, or as JSON with `{"findings": [...]}`.
pub fn render_json(findings: &[Finding], out: &mut dyn Write) -> io::Result<()> {
    crate::output::format::write_json(&serde_json::json!({ "findings": findings }), out)
}

/// Render the table to a writer.
pub fn render_table(
    findings: &[Finding],
    opts: TableOptions,
    palette: Palette,
    out: &mut dyn Write,
) -> io::Result<()> {
    table(findings, palette).render(opts, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Finding> {
        vec![
            Finding::new(
                Severity::Warning,
                "readiness-does-not-gate",
                ObjectRef::new("Deployment", Some("web"), "api").with_field("proxy"),
                "readinessProbe does not hold the app",
            )
            .with_fix("add a startupProbe"),
            Finding::new(
                Severity::Error,
                "sidecar-order-inversion",
                ObjectRef {
                    file: Some("k8s/app.yaml".into()),
                    line: Some(12),
                    ..ObjectRef::new("Pod", None, "p")
                },
                "the app starts before its sidecar",
            ),
            Finding::new(
                Severity::Info,
                "legacy-sidecar",
                ObjectRef::new("Pod", None, "q"),
                "note",
            ),
        ]
    }

    #[test]
    fn severity_order_and_exit_code() {
        assert!(Severity::Error > Severity::Warning && Severity::Warning > Severity::Info);
        let f = sample();
        assert_eq!(exit_code(&f), Code::Problems);
        assert_eq!(exit_code(&f[..1]), Code::Success);
        assert_eq!(exit_code(&[]), Code::Success);
        assert_eq!("WARN".parse::<Severity>(), Ok(Severity::Warning));
        assert!("fatal".parse::<Severity>().is_err());
    }

    #[test]
    fn filtering_sorts_worst_first() {
        let f = filter_sorted(&sample(), Severity::Warning);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].code, "sidecar-order-inversion");
    }

    #[test]
    fn table_and_wide() {
        let f = sample();
        let t = table(&f, Palette::plain());
        let narrow = t.to_string_with(TableOptions::default());
        assert!(narrow.starts_with("SEVERITY   CODE"), "{narrow}");
        assert!(narrow.contains("pod/p (k8s/app.yaml:12)"));
        assert!(narrow.contains("deployment/web/api[proxy]"));
        assert!(!narrow.contains("FIX"));
        let wide = t.to_string_with(TableOptions {
            wide: true,
            ..Default::default()
        });
        assert!(wide.contains("FIX") && wide.contains("add a startupProbe"));
    }

    #[test]
    fn json_shape_is_stable() {
        let mut out = Vec::new();
        render_json(&sample()[..2], &mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let first = &v["findings"][0];
        assert_eq!(first["severity"], "warning");
        assert_eq!(first["code"], "readiness-does-not-gate");
        assert_eq!(first["object"]["kind"], "Deployment");
        assert_eq!(first["object"]["namespace"], "web");
        assert_eq!(first["object"]["field"], "proxy");
        assert_eq!(first["fix"], "add a startupProbe");
        assert_eq!(v["findings"][1]["object"]["line"], 12);
        assert!(v["findings"][1].get("fix").is_none());
        let back: Finding = serde_json::from_value(first.clone()).unwrap();
        assert_eq!(back, sample()[0]);
    }

    #[test]
    fn kebab_case_codes() {
        for ok in ["a", "readiness-does-not-gate", "x1-y2"] {
            assert!(is_kebab_case(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "a--b", "Upper", "snake_case", "sp ace"] {
            assert!(!is_kebab_case(bad), "{bad}");
        }
    }
}
