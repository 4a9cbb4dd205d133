//! `kplug-selftest`: a small command over the shared library, used by the
//! library's own end-to-end tests (flags, kubeconfig, tables, manifests, exit
//! codes, kubectl dispatch). Not a plugin; never installed.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use k8s_openapi::api::core::v1::Pod;
use kplug::cli::KubectlArgs;
use kplug::exit::Code;
use kplug::manifest::{self, Input};
use kplug::output::table::Table;
use kplug::output::{Palette, Printer};
use kplug::selector::Selector;
use kube::api::{Api, ListParams};

/// Exercise the kplug library end to end.
#[derive(Debug, Parser)]
#[command(
    name = "kplug-selftest",
    version,
    after_help = "Examples:\n  kplug-selftest manifests -f deploy.yaml\n  kplug-selftest pods -A -o wide\n  kplug-selftest selector 'app in (web,api)' app=web"
)]
struct Cli {
    #[command(flatten)]
    kube: KubectlArgs,
    /// Output format (a test harness: one -o for every command)
    #[arg(short = 'o', long, global = true, value_name = "FORMAT")]
    output: Option<kplug::cli::OutputFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the API server's version.
    Version,
    /// List Pods like `kubectl get pods`.
    Pods,
    /// Load manifests and list the Pod templates found in them.
    Manifests {
        /// File, directory (recursive) or - for stdin; repeatable.
        #[arg(short = 'f', long = "filename", required = true)]
        files: Vec<String>,
    },
    /// Parse a label selector and match it against labels (exit 3 on no match).
    Selector {
        expression: String,
        /// Labels as key=value, comma-separated.
        labels: Option<String>,
    },
    /// Print N table rows (for broken-pipe tests).
    Rows { count: usize },
    /// Print a shell completion script.
    Completion { shell: clap_complete::Shell },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    kplug::init_tls();
    let cli: Cli = kplug::cli::parse();
    kplug::exit::finish(run(cli).await)
}

async fn run(cli: Cli) -> anyhow::Result<Code> {
    let printer = Printer::new(&cli.kube, cli.output);
    let palette = Palette::new(cli.kube.color);
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Version => {
            let config = kplug::client::config(&cli.kube).await?;
            let server = config.cluster_url.to_string();
            let client = kplug::client::client_from_config(config)?;
            let info =
                kplug::client::request(&cli.kube, &server, client.apiserver_version()).await?;
            writeln!(out, "Server Version: {}", info.git_version)?;
        }
        Command::Pods => {
            let config = kplug::client::config(&cli.kube).await?;
            let server = config.cluster_url.to_string();
            let namespace = config.default_namespace.clone();
            let client = kplug::client::client_from_config(config)?;
            let api: Api<Pod> = if cli.kube.all_namespaces {
                Api::all(client)
            } else {
                Api::namespaced(client, &namespace)
            };
            let mut params = ListParams::default();
            if let Some(sel) = &cli.kube.selector {
                params = params.labels(sel);
            }
            let pods = kplug::client::request(&cli.kube, &server, api.list(&params))
                .await
                .context("listing pods")?
                .items;
            if pods.is_empty() && !printer.is_machine() {
                let ns = (!cli.kube.all_namespaces).then_some(namespace.as_str());
                eprintln!("{}", kplug::output::format::nothing_found(ns));
                return Ok(Code::Success);
            }
            printer.print_list(
                &pods,
                |p| {
                    kplug::output::object_name(
                        "v1",
                        "Pod",
                        p.metadata.name.as_deref().unwrap_or(""),
                    )
                },
                || pod_table(&pods, palette),
                &mut out,
            )?;
        }
        Command::Manifests { files } => {
            let inputs: Vec<Input> = files.iter().map(|f| Input::from(f.as_str())).collect();
            let selector = cli
                .kube
                .selector
                .as_deref()
                .map(Selector::parse)
                .transpose()?;
            let objects = manifest::load(&inputs)?;
            let mut table =
                Table::new(&["source", "kind", "name", "containers"]).wide_column("labels");
            let mut names = Vec::new();
            for object in &objects {
                if selector
                    .as_ref()
                    .is_some_and(|s| !s.matches(&object.labels()))
                {
                    continue;
                }
                let Some(template) = kplug::workload::pod_template(&object.value) else {
                    continue;
                };
                let containers: Vec<&str> = template.spec["containers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c["name"].as_str())
                    .collect();
                let labels = manifest::string_map(template.metadata.and_then(|m| m.get("labels")));
                table.push_in(
                    object.namespace().unwrap_or(""),
                    [
                        object.source.to_string(),
                        object.kind().to_string(),
                        object.name().to_string(),
                        containers.join(","),
                        render_labels(&labels),
                    ],
                );
                names.push(kplug::output::object_name(
                    object.api_version(),
                    object.kind(),
                    object.name(),
                ));
            }
            match printer.format {
                Some(kplug::cli::OutputFormat::Name) => {
                    for n in names {
                        writeln!(out, "{n}")?;
                    }
                }
                _ => printer.print_table(&table, &mut out)?,
            }
        }
        Command::Selector { expression, labels } => {
            let selector = Selector::parse(&expression).map_err(kplug::Error::from)?;
            let labels = parse_labels(labels.as_deref().unwrap_or(""));
            let matched = selector.matches(&labels);
            writeln!(
                out,
                "{selector}\t{}",
                if matched { "match" } else { "no match" }
            )?;
            return Ok(if matched {
                Code::Success
            } else {
                Code::Problems
            });
        }
        Command::Rows { count } => {
            let mut table = Table::new(&["n", "square"]);
            for i in 0..count {
                let style = if i % 2 == 1 { palette.ok() } else { None };
                table.push([
                    kplug::output::Cell::from(i.to_string()),
                    kplug::output::Cell::styled((i * i).to_string(), style),
                ]);
            }
            printer.print_table(&table, &mut out)?;
        }
        Command::Completion { shell } => {
            kplug::cli::write_completions::<Cli>(shell, "kplug-selftest", &mut out);
        }
    }
    out.flush()?;
    Ok(Code::Success)
}

fn pod_table(pods: &[Pod], palette: Palette) -> Table {
    let mut table = Table::new(&["name", "ready", "status", "restarts", "age"])
        .wide_column("ip")
        .wide_column("node");
    for pod in pods {
        let status = pod.status.clone().unwrap_or_default();
        let statuses = status.container_statuses.unwrap_or_default();
        let ready = statuses.iter().filter(|c| c.ready).count();
        let total = pod.spec.as_ref().map_or(0, |s| s.containers.len());
        let restarts: i32 = statuses.iter().map(|c| c.restart_count).sum();
        let phase = status.phase.unwrap_or_else(|| "Unknown".into());
        let style = match phase.as_str() {
            "Running" | "Succeeded" => palette.ok(),
            "Failed" | "Unknown" => palette.error(),
            _ => palette.warning(),
        };
        let created = pod.metadata.creation_timestamp.as_ref().map(|t| t.0);
        table.push_in(
            pod.metadata.namespace.as_deref().unwrap_or(""),
            [
                pod.metadata.name.clone().unwrap_or_default().into(),
                format!("{ready}/{total}").into(),
                kplug::output::Cell::styled(phase, style),
                restarts.to_string().into(),
                kplug::output::age::age(created).into(),
                status.pod_ip.unwrap_or_else(|| "<none>".into()).into(),
                pod.spec
                    .as_ref()
                    .and_then(|s| s.node_name.clone())
                    .unwrap_or_else(|| "<none>".into())
                    .into(),
            ] as [kplug::output::Cell; 7],
        );
    }
    table
}

fn parse_labels(text: &str) -> BTreeMap<String, String> {
    text.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (p.to_string(), String::new()),
        })
        .collect()
}

fn render_labels(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}
