//! `kubectl compat lint`.

use std::path::PathBuf;

use kplug::cli::{KubectlArgs, TableFormat};
use kplug::finding::{self, Severity};
use kplug::output::color::Palette;
use kplug::output::format::Printer;
use kplug::output::table::{Cell, Table};

use super::input;

/// Find what NFD silently accepts in compatibility specs but should not
///
/// Unknown keys, missing or misspelled ops (NFD treats a missing op as
/// match-anything), value counts, invalid regexps, non-integers, unparseable
/// versions, reversed ranges, YAML 1.1 coercions (unquoted 0200, 2.0, yes),
/// unknown features and keys, empty sets and duplicate rule names.
/// Exit status: 0 clean or only warnings, 3 when there are errors, 1 when a file cannot be read.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Spec files; - reads standard input
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,

    /// Hide findings below this severity (info, warning, error)
    #[arg(long, default_value = "info", value_name = "SEVERITY")]
    min_severity: Severity,

    /// Output format (default: a table of findings)
    #[arg(short = 'o', long, value_name = "FORMAT")]
    output: Option<TableFormat>,
}

pub fn run(kube: &KubectlArgs, args: Args) -> anyhow::Result<kplug::Code> {
    let mut all = Vec::new();
    for file in &args.files {
        let text = input::read_text(file)?;
        all.extend(kplug_compat::lint::lint(&text, &input::display(file)));
    }
    let shown = finding::filter_sorted(&all, args.min_severity);
    let mut out = std::io::stdout().lock();
    let printer = Printer::new(kube, args.output);
    match args.output {
        Some(TableFormat::Json | TableFormat::Yaml) => {
            let doc = serde_json::json!({"apiVersion": "kplug.dev/v1alpha1", "kind": "LintReport", "findings": shown});
            printer.print_value(&doc, &mut out)?;
        }
        _ if shown.is_empty() => {
            eprintln!("no findings in {} file(s)", args.files.len());
        }
        _ => printer.print_table(&table(&shown, Palette::new(kube.color)), &mut out)?,
    }
    Ok(finding::exit_code(&all))
}

/// Findings as SEVERITY CODE LOCATION FIELD MESSAGE (+ FIX with -o wide):
/// a spec has no object names, so the file and line lead.
fn table(findings: &[finding::Finding], palette: Palette) -> Table {
    let mut t =
        Table::new(&["SEVERITY", "CODE", "LOCATION", "FIELD", "MESSAGE"]).wide_column("FIX");
    for f in findings {
        let style = match f.severity {
            Severity::Error => palette.error(),
            Severity::Warning => palette.warning(),
            Severity::Info => palette.dim(),
        };
        let location = format!(
            "{}:{}",
            f.object.file.as_deref().unwrap_or("-"),
            f.object.line.unwrap_or(0)
        );
        t.push([
            Cell::styled(f.severity.to_string(), style),
            Cell::from(&f.code),
            Cell::from(location),
            Cell::from(f.object.field.clone().unwrap_or_default()),
            Cell::from(&f.message),
            Cell::from(f.fix.clone().unwrap_or_default()),
        ]);
    }
    t
}
