//! `kubectl sidecar explain pod/NAME`: the startup timeline of a live Pod.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use k8s_openapi::api::core::v1::{Event as CoreEvent, Pod};
use kplug::cli::{KubectlArgs, ReportFormat};
use kplug::event::Event;
use kplug::output::table::{Cell, Table, TableOptions};
use kplug_sidecar::timeline::{self, Timeline};
use kube::api::{Api, ListParams};
use serde_json::Value;

/// How a running Pod started: scheduling, pulls, each container's start, how
/// long each sidecar held the next container and why, restarts, readiness
/// and (when terminating) the stop order
///
/// Events expire after an hour (by default), timestamps have one-second
/// resolution and status keeps only the last two instances of a container,
/// so older history may be missing.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The Pod: pod/NAME or NAME
    #[arg(value_name = "pod/NAME", required_unless_present = "file")]
    pub pod: Option<String>,

    /// Explain a saved Pod (JSON or YAML) instead of a live one
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE",
        conflicts_with = "pod"
    )]
    pub file: Option<PathBuf>,

    /// With -f: the Pod's Events (`kubectl get events -o json`, either API)
    #[arg(long, value_name = "FILE", requires = "file")]
    pub events: Option<PathBuf>,

    /// Output format (default: the timeline for people)
    #[arg(short = 'o', long, value_name = "FORMAT")]
    pub output: Option<ReportFormat>,
}

pub fn run(kube: &KubectlArgs, args: Args) -> anyhow::Result<kplug::Code> {
    let (pod, events) = match (&args.pod, &args.file) {
        (_, Some(file)) => offline(file, args.events.as_ref())?,
        (Some(name), None) => {
            let name = name
                .strip_prefix("pod/")
                .or_else(|| name.strip_prefix("pods/"))
                .unwrap_or(name);
            kplug::cli::runtime()?.block_on(live(kube, name))?
        }
        (None, None) => unreachable!("clap requires a Pod or -f"),
    };
    let Some(timeline) = timeline::explain(&pod, &events) else {
        bail!("the object is not a Pod");
    };
    let mut out = std::io::stdout().lock();
    match args.output {
        Some(ReportFormat::Json) => {
            kplug::output::format::write_json(&timeline, &mut out)?;
        }
        Some(ReportFormat::Yaml) => {
            out.write_all(
                kplug::output::format::to_yaml(&serde_json::to_value(&timeline)?)?.as_bytes(),
            )?;
        }
        None => render(&timeline, &mut out)?,
    }
    Ok(kplug::Code::Success)
}

fn offline(file: &PathBuf, events: Option<&PathBuf>) -> anyhow::Result<(Value, Vec<Event>)> {
    let objects = super::analyze::load_objects(std::slice::from_ref(file))?;
    let pod = objects
        .into_iter()
        .find(|o| o.kind() == "Pod")
        .with_context(|| format!("{} holds no Pod", file.display()))?
        .value;
    let mut out = Vec::new();
    if let Some(path) = events {
        for o in super::analyze::load_objects(std::slice::from_ref(path))? {
            out.push(Event::from_value(&o.value).with_context(|| format!("{}", o.source))?);
        }
    }
    let events = keep_pods(&pod, out);
    Ok((pod, events))
}

/// Only the events about this Pod.
fn keep_pods(pod: &Value, events: Vec<Event>) -> Vec<Event> {
    let uid = pod
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("");
    let name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    events
        .into_iter()
        .filter(|e| {
            e.regarding.kind == "Pod"
                && (e.regarding.uid == uid
                    || (e.regarding.uid.is_empty() && e.regarding.name == name))
        })
        .collect()
}

async fn live(kube: &KubectlArgs, name: &str) -> anyhow::Result<(Value, Vec<Event>)> {
    let config = kplug::client::config(kube).await?;
    let server = config.cluster_url.to_string();
    let namespace = config.default_namespace.clone();
    let client = kplug::client::client_from_config(config)?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let pod = kplug::client::request(kube, &server, pods.get(name))
        .await
        .with_context(|| format!("reading pod/{name} in {namespace}"))?;
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let mut pod = serde_json::to_value(pod)?;
    pod["apiVersion"] = "v1".into();
    pod["kind"] = "Pod".into();
    // core/v1 and events.k8s.io/v1 are two views of the same objects;
    // core/v1 can filter on the Pod's uid.
    let events: Api<CoreEvent> = Api::namespaced(client, &namespace);
    let list = kplug::client::request(
        kube,
        &server,
        events.list(&ListParams::default().fields(&format!("involvedObject.uid={uid}"))),
    )
    .await
    .context("listing the Pod's events")?;
    let mut out = Vec::new();
    for e in list.items {
        out.push(Event::from_value(&serde_json::to_value(e)?)?);
    }
    Ok((pod, out))
}

/// The timeline for a person; its text comes from the cluster, so it is escaped.
fn render(t: &Timeline, out: &mut dyn Write) -> std::io::Result<()> {
    let mut text = Vec::new();
    render_raw(t, &mut text)?;
    out.write_all(kplug::output::escape_lines(&String::from_utf8_lossy(&text)).as_bytes())
}

fn render_raw(t: &Timeline, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "pod/{} -n {} ({})",
        t.pod,
        t.namespace,
        if t.phase.is_empty() {
            "no phase"
        } else {
            &t.phase
        }
    )?;
    let mut table = Table::new(&["AT", "CONTAINER", "WHAT"]);
    for e in &t.entries {
        table.push([
            Cell::from(
                e.offset_seconds
                    .map_or("?".to_string(), |s| format!("+{s}s")),
            ),
            Cell::from(e.container.as_deref().unwrap_or("-")),
            Cell::from(e.what.as_str()),
        ]);
    }
    out.write_all(table.to_string_with(TableOptions::default()).as_bytes())?;
    if !t.gates.is_empty() {
        writeln!(out, "\nsidecar gates:")?;
        for g in &t.gates {
            writeln!(out, "  {}", g.describe())?;
        }
    }
    for r in &t.restarts {
        let last = match (&r.last_reason, r.last_exit_code) {
            (Some(reason), Some(code)) => format!(", last: {reason} (exit {code})"),
            (None, Some(code)) => format!(", last exit {code}"),
            _ => String::new(),
        };
        writeln!(out, "restarts: {} ×{}{last}", r.container, r.count)?;
    }
    if !t.unready_sidecars.is_empty() {
        writeln!(
            out,
            "unready sidecars (they keep the Pod NotReady): {}",
            t.unready_sidecars.join(", ")
        )?;
    }
    if let Some(term) = &t.termination {
        writeln!(
            out,
            "termination: stopped in order {}; {}",
            term.finish_order.join(", "),
            if term.ordered {
                "sidecars stopped after the app, in reverse order"
            } else {
                "sidecars did NOT stop after the app in reverse order"
            }
        )?;
        if !term.killed_at_deadline.is_empty() {
            writeln!(
                out,
                "  killed at the end of the grace period: {}",
                term.killed_at_deadline.join(", ")
            )?;
        }
    }
    Ok(())
}
