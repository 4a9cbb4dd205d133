//! `kubectl compat init`.

use std::io::Write;

use anyhow::bail;
use kplug_compat::init::{self, Requirement};
use kplug_compat::spec;
use kplug_compat::validate::{self, Options};

use super::input::{self, FeatureSource};

/// Write a starter compatibility spec for requirements you name
///
/// Each requirement is checked against this host (or --features) so the spec
/// validates as compatible where it was written. Without --require, the
/// host's CPU vendor, x86-64 level and kernel version are used.
///
/// Requirement syntax: FLAG-FEATURE=NAME (kernel.loadedmodule=vfio-pci,
/// cpu.cpuid=AVX2; != for absent), FEATURE.KEY OP VALUE with OP one of
/// = != > >= < <= ~ (cpu.model.vendor_id=Intel|AMD, kernel.version.full>=5.15;
/// versions compare as versions), and INSTANCE-FEATURE:KEY=VALUE,... for one
/// device with all of these (pci.device:vendor=10de,class=0302).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A requirement (repeatable)
    #[arg(long = "require", value_name = "REQUIREMENT")]
    requirements: Vec<String>,

    #[command(flatten)]
    source: FeatureSource,

    /// The description of the compatibility set
    #[arg(long, default_value = "Host requirements of this image")]
    description: String,

    /// Write requirements even when this host does not meet them (the usual
    /// case when writing a spec for other hosts than this one)
    #[arg(long)]
    force: bool,

    /// Write the spec to FILE, only once it is complete and checked (an
    /// existing FILE is replaced atomically, and kept as it was on any error).
    /// -o is kubectl's output-format flag in every plugin, hence the name.
    #[arg(long = "output-file", value_name = "FILE")]
    output_file: Option<std::path::PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<kplug::Code> {
    let (node, features, _) = input::load_features(&args.source, &Default::default(), false)?;
    let texts = if args.requirements.is_empty() {
        init::defaults(&features)
    } else {
        args.requirements.clone()
    };
    if texts.is_empty() {
        bail!(kplug::Error::Usage(
            "no --require given and nothing to default to in these features".into()
        ));
    }
    let requirements: Vec<Requirement> = texts
        .iter()
        .map(|t| init::parse_requirement(t).map_err(|e| kplug::Error::Usage(e.to_string())))
        .collect::<Result<_, _>>()?;
    let source = match (&args.source.file, &node) {
        (Some(f), _) => format!("the features in {}", input::display(f)),
        (None, Some(n)) => format!("host {n}"),
        (None, None) => "this host".into(),
    };
    let text = init::render(&requirements, &args.description, &source);
    // Check every requirement on the host it came from.
    let spec = spec::parse(&text)
        .map_err(|e| anyhow::anyhow!("generated spec does not parse (a bug): {e}"))?;
    let report = validate::validate(&spec, &features, &Options::default(), node);
    let failed: Vec<&str> = report.sets[0]
        .rules
        .iter()
        .filter(|r| !r.matched)
        .map(|r| r.name.as_str())
        .collect();
    if !failed.is_empty() && !args.force {
        bail!(
            "{source} does not meet these requirements: {} (use --force to write them anyway)",
            failed.join(", ")
        );
    }
    if !failed.is_empty() {
        eprintln!(
            "note: {source} does not meet {}; written anyway (--force)",
            kplug::output::escape(&failed.join(", "))
        );
    }
    match &args.output_file {
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
        Some(path) => write_atomically(path, text.as_bytes())?,
    }
    Ok(kplug::Code::Success)
}

/// Write `bytes` to a temporary file beside `path`, then rename it over
/// `path`: a reader sees the old file or the new one, never a part.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use anyhow::Context;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    let name = path.file_name().context("--output-file names no file")?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.with_context(|| format!("writing {}", path.display()))
}
