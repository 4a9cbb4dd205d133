pub mod cluster;
pub mod doctor;
pub mod explain;
pub mod get;
pub mod live;
pub mod migrate;
pub mod simulate;
pub mod status;
pub mod version;

use std::io::Write;

use kplug::cli::ReportFormat;

/// A report as `-o json` or `-o yaml` asks.
fn print_report(
    report: &impl serde::Serialize,
    format: ReportFormat,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match format {
        ReportFormat::Json => kplug::output::format::write_json(report, out)?,
        ReportFormat::Yaml => out.write_all(
            kplug::output::format::to_yaml(&serde_json::to_value(report)?)?.as_bytes(),
        )?,
    }
    Ok(())
}
