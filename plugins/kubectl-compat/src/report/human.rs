//! The human report of a validation: per set, per rule, a table of every
//! expression with the condition, the host's value and the result; then the
//! set's verdict and the overall verdict with the best set.

use std::io::{self, Write};

use kplug::output::Escaped;
use kplug::output::color::{Palette, paint};
use kplug::output::table::{Cell, Table, TableOptions};

use crate::validate::{ExpressionReport, Report, SetReport};

pub fn render(report: &Report, palette: Palette, out: &mut dyn Write) -> io::Result<()> {
    if let Some(node) = &report.node {
        writeln!(out, "Node: {}", Escaped(node))?;
    }
    if report.sets.is_empty() {
        writeln!(
            out,
            "No compatibility set to evaluate (none in the spec, or none with the requested tags)."
        )?;
    }
    for set in &report.sets {
        render_set(set, report.best_set == Some(set.index), palette, out)?;
    }
    let verdict = if report.has_errors {
        paint("ERROR", palette.error())
            + " — some expressions could not be evaluated (see ERROR rows); NFD would stop at the first of them"
    } else if let Some(set) = report.best() {
        let mut text = paint("COMPATIBLE", palette.ok())
            + &format!(" — best set #{} (weight {})", set.index + 1, set.weight);
        if !set.description.is_empty() {
            text.push_str(&format!(": {}", Escaped(&set.description)));
        }
        text
    } else {
        paint("NOT COMPATIBLE", palette.error()) + " — no compatibility set is satisfied"
    };
    writeln!(out, "Result: {verdict}")
}

fn render_set(
    set: &SetReport,
    best: bool,
    palette: Palette,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut header = format!(
        "COMPATIBILITY SET #{}  weight {}",
        set.index + 1,
        set.weight
    );
    if !set.tag.is_empty() {
        header.push_str(&format!("  tag {}", Escaped(&set.tag)));
    }
    writeln!(out, "{}", paint(&header, palette.bold()))?;
    if !set.description.is_empty() {
        writeln!(out, "{}", Escaped(&set.description))?;
    }
    for rule in &set.rules {
        let status = status_cell(rule.matched, rule.error.is_some(), palette);
        writeln!(
            out,
            "  RULE {:?}  {}",
            rule.name,
            paint(&status.text, status.style)
        )?;
        if let Some(e) = &rule.error {
            writeln!(
                out,
                "    {}",
                paint(&format!("error: {}", Escaped(e)), palette.error())
            )?;
        }
        if rule.expressions.is_empty() {
            writeln!(out, "    (no expressions: the rule always matches)")?;
            continue;
        }
        let mut table = Table::new(&["FEATURE", "IN", "EXPRESSION", "ACTUAL", "STATUS", "NOTE"]);
        for e in &rule.expressions {
            table.push(row(e, palette));
        }
        let text = table.to_string_with(TableOptions::default());
        for line in text.lines() {
            writeln!(out, "    {line}")?;
        }
    }
    let matched = set.rules.iter().filter(|r| r.matched).count();
    let verdict = if set.satisfied {
        paint("SATISFIED", palette.ok())
    } else {
        paint("NOT SATISFIED", palette.error())
    };
    let best = if best { "  (best set)" } else { "" };
    writeln!(
        out,
        "  => {verdict}: {matched} of {} rules match{best}\n",
        set.rules.len()
    )
}

fn status_cell(matched: bool, error: bool, palette: Palette) -> Cell {
    if error {
        Cell::styled("ERROR", palette.error())
    } else if matched {
        Cell::styled("OK", palette.ok())
    } else {
        Cell::styled("FAIL", palette.error())
    }
}

fn row(e: &ExpressionReport, palette: Palette) -> Vec<Cell> {
    let feature = match &e.key {
        Some(k) => format!("{}.{k}", e.feature),
        None => format!("{} (names)", e.feature),
    };
    let within = match e.any_of {
        Some(i) => format!("any #{}", i + 1),
        None => "all".to_string(),
    };
    let expr = crate::spec::Expression {
        op: e.expression.op.clone(),
        value: e.expression.value.clone(),
        value_type: e.expression.value_type.clone(),
        ..Default::default()
    };
    let mut actual = e.actual.clone().unwrap_or_else(|| "<absent>".into());
    if let Some(i) = e.instance {
        actual = format!("{actual} [#{i}]");
    }
    let note = e
        .error
        .clone()
        .or_else(|| e.note.clone())
        .unwrap_or_default();
    vec![
        Cell::from(feature),
        Cell::from(within),
        Cell::from(expr.display()),
        Cell::from(actual),
        status_cell(e.matched, e.error.is_some(), palette),
        Cell::from(note),
    ]
}
