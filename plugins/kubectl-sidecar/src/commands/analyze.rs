//! `kubectl sidecar analyze`: manifests (`-f`) or live objects.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use kplug::cli::{KubectlArgs, ReportFormat};
use kplug::manifest::Input;
use kplug::output::color::Palette;
use kplug_sidecar::analysis::{self, TemplateReport};
use kplug_sidecar::report::{self, SidecarReport};
use kplug_sidecar::validation::KubeVersion;

/// Show the start chain of every Pod template, a verdict for every sidecar
/// (GATED, STARTED-ONLY, UNORDERED, LEGACY-GATED, INVALID, STUCK) and the
/// findings with fixes
///
/// Exit status: 0 when no finding is an error, 3 when one is, 1 when the
/// input cannot be read.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Live objects: TYPE, TYPE/NAME or all (kubectl's names: pods, deploy,
    /// sts, ds, rs, jobs, cj …), with -n, -A and -l
    #[arg(value_name = "TYPE[/NAME]", conflicts_with = "files")]
    pub targets: Vec<String>,

    /// Manifest file, directory (recursive) or - for stdin; repeatable
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub files: Vec<PathBuf>,

    #[command(flatten)]
    pub version: KubeVersionArg,

    /// Output format (default: the start chains and findings for people)
    #[arg(short = 'o', long, value_name = "FORMAT")]
    pub output: Option<ReportFormat>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct KubeVersionArg {
    /// Judge by the rules of this API server version (default: the newest
    /// known, 1.36)
    #[arg(long, value_name = "VERSION", value_parser = parse_version)]
    pub kube_version: Option<KubeVersion>,
}

impl KubeVersionArg {
    pub fn get(&self) -> KubeVersion {
        self.kube_version.unwrap_or_default()
    }
}

/// Every object of the `-f` inputs, in order.
pub fn load_objects(files: &[PathBuf]) -> anyhow::Result<Vec<kplug::manifest::Object>> {
    let inputs: Vec<Input> = files.iter().map(|p| input(p)).collect();
    kplug::manifest::load(&inputs).context("reading manifests")
}

fn parse_version(s: &str) -> Result<KubeVersion, String> {
    KubeVersion::parse(s).ok_or_else(|| format!("\"{s}\" is not a Kubernetes version like 1.33"))
}

pub fn run(kube: &KubectlArgs, args: Args) -> anyhow::Result<kplug::Code> {
    if args.targets.is_empty() {
        if args.files.is_empty() {
            anyhow::bail!(kplug::Error::Usage(
                "give manifests with -f FILE|DIR|- or live objects as TYPE[/NAME] (e.g. deploy/web, pods -A)".into()
            ));
        }
        return analyze_files(kube, &args);
    }
    let targets = super::live::parse_targets(&args.targets)?;
    let fetched = kplug::cli::runtime()?.block_on(super::live::fetch(kube, &targets))?;
    // The server's own rules unless the user asks for another version.
    let version = args
        .version
        .kube_version
        .or(fetched.version)
        .unwrap_or_default();
    let items = analysis::analyze_all(&fetched.templates, &fetched.owners, version);
    print(kube, args.output, &items)?;
    Ok(kplug::finding::exit_code(&report::findings(&items)))
}

/// Manifests, one document at a time: the report for people is written as
/// each document is analysed, so memory stays flat however many workloads
/// the input holds (JSON and YAML, one document, gather the reports). What
/// a Pod is compared with (its controller's sidecars, for admission drift)
/// is kept as names: the sidecars of earlier Pod-owning templates.
fn analyze_files(kube: &KubectlArgs, args: &Args) -> anyhow::Result<kplug::Code> {
    let inputs: Vec<Input> = args.files.iter().map(|p| input(p)).collect();
    let palette = Palette::new(kube.color);
    let mut out = std::io::BufWriter::new(std::io::stdout());
    let mut gathered = Vec::new();
    let mut shown = 0usize;
    let mut code = kplug::Code::Success;
    let gather = args.output.is_some();
    let render = |t: &TemplateReport| {
        let mut text = Vec::new();
        // Writing into memory cannot fail.
        let _ = report::render_one(t, true, palette, &mut text);
        text
    };
    let render: Option<super::stream::Render> = if gather { None } else { Some(&render) };
    super::stream::analyze(&inputs, args.version.get(), render, &mut |(t, text)| {
        code = code.max(kplug::finding::exit_code(&report::findings(
            std::slice::from_ref(&t),
        )));
        shown += 1;
        match text {
            Some(text) => {
                if shown > 1 {
                    out.write_all(b"\n")?;
                }
                out.write_all(&text)
            }
            None => {
                gathered.push(t);
                Ok(())
            }
        }
    })
    .context("reading manifests")?;
    if gather {
        drop(out);
        print(kube, args.output, &gathered)?;
    } else {
        out.flush()?;
        if shown == 0 {
            eprintln!("no Pod templates found");
        }
    }
    Ok(code)
}

fn input(p: &std::path::Path) -> Input {
    if p.as_os_str() == "-" {
        Input::Stdin
    } else {
        Input::Path(p.to_path_buf())
    }
}

pub fn print(
    kube: &KubectlArgs,
    format: Option<ReportFormat>,
    items: &[TemplateReport],
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        Some(ReportFormat::Json) => {
            kplug::output::format::write_json(&SidecarReport::new(items), &mut out)?;
        }
        Some(ReportFormat::Yaml) => {
            let value = serde_json::to_value(SidecarReport::new(items))?;
            out.write_all(kplug::output::format::to_yaml(&value)?.as_bytes())?;
        }
        _ if items.is_empty() => eprintln!("no Pod templates found"),
        _ => report::render(items, Palette::new(kube.color), &mut out)?,
    }
    out.flush()?;
    Ok(())
}
