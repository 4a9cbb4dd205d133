//! The `SidecarReport` document (`-o json|yaml`) and the terminal rendering:
//! per template the start chain with the gate on each edge, a container
//! table and the findings.

use std::io::{self, Write};

use kplug::finding::{Finding, ObjectRef, Severity};
use kplug::output::Escaped;
use kplug::output::color::{Palette, paint};
use kplug::output::table::{Cell, Table, TableOptions};
use serde::Serialize;

use crate::analysis::{ContainerReport, Role, TemplateReport, Verdict};

pub const API_VERSION: &str = "kplug.dev/v1alpha1";

/// `kind: SidecarReport`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SidecarReport<'a> {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub items: &'a [TemplateReport],
}

impl<'a> SidecarReport<'a> {
    pub fn new(items: &'a [TemplateReport]) -> Self {
        SidecarReport {
            api_version: API_VERSION,
            kind: "SidecarReport",
            items,
        }
    }
}

/// Every finding of every template.
pub fn findings(items: &[TemplateReport]) -> Vec<Finding> {
    items
        .iter()
        .flat_map(|t| t.all_findings().cloned())
        .collect()
}

fn seconds(s: Option<i64>) -> String {
    match s {
        Some(0) => "0s".into(),
        Some(n) => format!("≤{n}s"),
        None => "unbounded".into(),
    }
}

/// `istio-proxy ─startupProbe ≤600s→ db-migrate ─exit 0→ app, worker`.
pub fn chain(t: &TemplateReport) -> String {
    let mut out = String::new();
    let mut ordered = t
        .containers
        .iter()
        .filter(|c| matches!(c.role, Role::Init | Role::Sidecar))
        .peekable();
    while let Some(c) = ordered.next() {
        out.push_str(&c.name);
        let edge = match (c.role, c.gate, c.verdict) {
            (_, _, Some(Verdict::Stuck)) => "─never→".to_string(),
            (_, _, Some(Verdict::Invalid)) => "─rejected→".to_string(),
            (Role::Init, _, _) => "─exit 0→".to_string(),
            (_, Some(g), _) => format!("─{} {}→", g.label(), seconds(c.max_wait_seconds)),
            _ => "─started→".to_string(),
        };
        out.push_str(&format!(" {edge} "));
        let _ = ordered.peek();
    }
    let regular: Vec<String> = t
        .containers
        .iter()
        .filter(|c| matches!(c.role, Role::App | Role::LegacySidecar))
        .map(|c| match c.role {
            Role::LegacySidecar => format!("{} (legacy sidecar)", c.name),
            _ => c.name.clone(),
        })
        .collect();
    out.push_str(&regular.join(" ∥ "));
    out
}

fn verdict_cell(c: &ContainerReport, palette: Palette) -> Cell {
    let Some(v) = c.verdict else {
        return Cell::from("-");
    };
    let style = match v {
        Verdict::Gated => palette.ok(),
        Verdict::StartedOnly | Verdict::Unordered | Verdict::LegacyGated => palette.warning(),
        Verdict::Invalid | Verdict::Stuck => palette.error(),
    };
    Cell::styled(v.label(), style)
}

fn heading(o: &ObjectRef) -> String {
    let mut s = format!("{}/{}", o.kind, o.name);
    if let Some(ns) = &o.namespace {
        s = format!("{s} -n {ns}");
    }
    if let (Some(f), Some(l)) = (&o.file, o.line) {
        s.push_str(&format!(" ({f}:{l})"));
    }
    s
}

/// The human report.
pub fn render(items: &[TemplateReport], palette: Palette, out: &mut dyn Write) -> io::Result<()> {
    for (i, t) in items.iter().enumerate() {
        render_one(t, i == 0, palette, out)?;
    }
    Ok(())
}

/// One template's part of the human report (a blank line before all but the first).
pub fn render_one(
    t: &TemplateReport,
    first: bool,
    palette: Palette,
    out: &mut dyn Write,
) -> io::Result<()> {
    {
        if !first {
            writeln!(out)?;
        }
        writeln!(out, "{}", Escaped(&heading(&t.object)))?;
        writeln!(out, "  start: {}", Escaped(&chain(t)))?;
        let mut table = Table::new(&["CONTAINER", "ROLE", "VERDICT", "GATE", "MAX WAIT"]);
        for c in &t.containers {
            table.push([
                Cell::from(c.name.as_str()),
                Cell::from(match c.family {
                    Some(f) if c.role != Role::App => format!("{} ({})", c.role.label(), f.label()),
                    _ => c.role.label().to_string(),
                }),
                verdict_cell(c, palette),
                Cell::from(c.gate.map_or("-", |g| g.label())),
                Cell::from(match c.role {
                    Role::LegacySidecar | Role::Init if c.verdict != Some(Verdict::Stuck) => {
                        "-".to_string()
                    }
                    _ => seconds(c.max_wait_seconds),
                }),
            ]);
        }
        let text = table.to_string_with(TableOptions::default());
        for line in text.lines() {
            writeln!(out, "  {line}")?;
        }
        let found: Vec<&Finding> = t.all_findings().collect();
        for f in found {
            let sev = match f.severity {
                Severity::Error => paint("error", palette.error()),
                Severity::Warning => paint("warning", palette.warning()),
                Severity::Info => "info".to_string(),
            };
            let place = f
                .object
                .field
                .as_deref()
                .map(|p| format!(" {}", Escaped(p)))
                .unwrap_or_default();
            writeln!(out, "  {sev}{place} [{}]: {}", f.code, Escaped(&f.message))?;
            if let Some(fix) = &f.fix {
                writeln!(out, "      fix: {}", Escaped(fix))?;
            }
        }
    }
    Ok(())
}
