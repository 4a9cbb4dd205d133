//! `kubectl compat features`.

use std::io::Write;
use std::path::PathBuf;

use kplug::cli::{KubectlArgs, OutputFormat};
use kplug::output::format::Printer;
use kplug::output::table::Table;
use kplug_compat::features::Features;
use kplug_compat::gojson;
use kplug_compat::sources::{self, Host};

/// Show this host's features as NFD discovers them
///
/// `-o json` prints exactly the document `nfd export features` prints (the
/// shape of NodeFeature.spec.features). Sources that cannot be read on this
/// host are reported as warnings on stderr.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Read host files under this directory (a container with the host mounted), /proc and /etc included
    #[arg(long, value_name = "DIR")]
    host_root: Option<PathBuf>,

    /// Only these sources (cpu, kernel, local, memory, network, pci, storage, system, usb)
    #[arg(long = "source", value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(sources::SOURCES))]
    sources: Vec<String>,

    /// Output format (default: a table); json is exactly `nfd export features`; name lists the feature names
    #[arg(short = 'o', long, value_name = "FORMAT")]
    output: Option<OutputFormat>,
}

pub fn run(kube: &KubectlArgs, args: Args) -> anyhow::Result<kplug::Code> {
    let host = match &args.host_root {
        Some(root) if !root.is_dir() => {
            anyhow::bail!(kplug::Error::Usage(format!(
                "--host-root {} is not a directory",
                root.display()
            )))
        }
        Some(root) => Host::new(root, std::env::var("NODE_NAME").unwrap_or_default()),
        None => Host::local(),
    };
    let found = sources::discover(&host, &args.sources);
    for w in &found.warnings {
        eprintln!(
            "warning: {}: {}",
            w.source,
            kplug::output::Escaped(&w.message)
        );
    }
    let mut out = std::io::stdout().lock();
    match args.output {
        Some(OutputFormat::Json) => {
            writeln!(out, "{}", gojson::to_string_indented(&found.features))?
        }
        Some(OutputFormat::Yaml) => out.write_all(
            kplug::output::format::to_yaml(&serde_json::to_value(&found.features)?)?.as_bytes(),
        )?,
        Some(OutputFormat::Name) => {
            for name in found.features.names() {
                writeln!(out, "{}", kplug::output::Escaped(name))?;
            }
        }
        None | Some(OutputFormat::Wide) => Printer::new(kube, args.output).print_table(
            &table(&found.features, args.output == Some(OutputFormat::Wide)),
            &mut out,
        )?,
    }
    Ok(kplug::Code::Success)
}

const PREVIEW: usize = 72;

fn table(f: &Features, wide: bool) -> Table {
    let mut t = Table::new(&["FEATURE", "TYPE", "COUNT", "ELEMENTS"]);
    let cut = |s: String| {
        if wide || s.chars().count() <= PREVIEW {
            s
        } else {
            format!("{}…", s.chars().take(PREVIEW - 1).collect::<String>())
        }
    };
    for (name, set) in &f.flags {
        let keys: Vec<&str> = set.elements.keys().map(String::as_str).collect();
        t.push([
            name.clone(),
            "flag".into(),
            keys.len().to_string(),
            cut(keys.join(",")),
        ]);
    }
    for (name, set) in &f.attributes {
        let pairs: Vec<String> = set
            .elements
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        t.push([
            name.clone(),
            "attribute".into(),
            pairs.len().to_string(),
            cut(pairs.join(",")),
        ]);
    }
    for (name, set) in &f.instances {
        let items: Vec<String> = set
            .elements
            .iter()
            .map(|i| {
                format!(
                    "{{{}}}",
                    i.attributes
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(",")
                )
            })
            .collect();
        t.push([
            name.clone(),
            "instance".into(),
            items.len().to_string(),
            cut(items.join(" ")),
        ]);
    }
    t
}
