//! `kubectl eventlog query`.

use std::io::Write;

use anyhow::bail;
use jiff::Timestamp;
use kplug::cli::{KubectlArgs, OutputFormat};
use kplug::output::format::Printer;
use kplug::output::table::{Cell, Table, TableOptions};
use kplug::selector::Selector;
use kplug_eventlog::classify::{Category, Severity};
use kplug_eventlog::store::{EventRow, Filter, Store};

use super::store::{StoreArgs, parse_time};

/// The stored Events, newest first: what `kubectl events` shows, for as far
/// back as the store goes
///
/// Each row is one Event object with the occurrences recorded in the time
/// window. `--for deploy/web` includes the events of its ReplicaSets and
/// Pods, also of ones deleted long ago.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only events about KIND/NAME (and what it owns)
    #[arg(long = "for", value_name = "KIND/NAME")]
    pub for_object: Option<String>,

    #[command(flatten)]
    pub filters: FilterArgs,

    /// At most this many events
    #[arg(long, value_name = "N", value_parser = super::store::parse_limit)]
    pub limit: Option<usize>,

    /// Only the Events of this incident (an ID from `kubectl eventlog
    /// incidents` over the same window: --since defaults to 24h here too)
    #[arg(long, value_name = "ID", conflicts_with = "watch")]
    pub incident: Option<String>,

    #[command(flatten)]
    pub rules: super::store::RulesArgs,

    /// After the matching events, keep printing new ones as they are stored
    /// (COUNT is then the new occurrences); Ctrl-C to stop
    #[arg(short = 'w', long)]
    pub watch: bool,

    #[command(flatten)]
    pub store: StoreArgs,

    /// Output format (default: a table); json and yaml print a v1 List, name
    /// the objects the events are about (kind/name, once each)
    #[arg(short = 'o', long, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

/// Filters shared by query and aggregate.
#[derive(Debug, Clone, clap::Args)]
pub struct FilterArgs {
    /// Occurrences since: a duration (3d, 12h) or a time (RFC 3339)
    #[arg(long, value_name = "WHEN", value_parser = parse_time)]
    pub since: Option<Timestamp>,

    /// Occurrences until: a duration ago or a time
    #[arg(long, value_name = "WHEN", value_parser = parse_time)]
    pub until: Option<Timestamp>,

    /// Only these reasons (comma-separated)
    #[arg(long, value_delimiter = ',', value_name = "REASON")]
    pub reason: Vec<String>,

    /// Normal or Warning
    #[arg(long = "type", value_name = "TYPE")]
    pub event_type: Option<String>,

    /// Only these categories (comma-separated): scheduling, image, lifecycle, crash, probes, volumes, storage, networking, node-health, node-problem, pressure, oom, autoscaling, workloads, jobs, disruption, configuration, other
    #[arg(long, value_delimiter = ',', value_name = "CATEGORY", value_parser = parse_category)]
    pub category: Vec<Category>,

    /// At least this severe: info, low, medium, high, critical
    #[arg(long, value_name = "SEVERITY", value_parser = parse_severity)]
    pub severity: Option<Severity>,

    /// Only events from or about this node
    #[arg(long, value_name = "NODE")]
    pub node: Option<String>,

    /// Only messages containing this text (case-insensitive)
    #[arg(long, value_name = "TEXT")]
    pub grep: Option<String>,

    /// Only events recorded under this cluster name (`collect`/`import
    /// --cluster-name`); kubectl's own --cluster picks a kubeconfig cluster
    #[arg(long = "cluster-name", value_name = "NAME")]
    pub cluster_name: Option<String>,
}

fn parse_category(s: &str) -> Result<Category, String> {
    Category::parse(s).ok_or_else(|| {
        format!(
            "unknown category \"{s}\"; use one of {}",
            Category::ALL.map(Category::as_str).join(", ")
        )
    })
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse(s)
        .ok_or_else(|| format!("unknown severity \"{s}\"; use info, low, medium, high or critical"))
}

/// The kind kubectl means by a `--for` type name.
fn for_object(text: &str) -> anyhow::Result<(String, String)> {
    let Some((kind, name)) = text.split_once('/') else {
        bail!(kplug::Error::Usage(format!(
            "--for wants KIND/NAME, e.g. deploy/web, not \"{text}\""
        )));
    };
    let kind = kplug::workload::resolve_type(kind).map_or_else(
        || {
            // Nodes, PVCs, Services …: take the kind as written, capitalised.
            let mut k = kind.trim_end_matches('s').to_string();
            if let Some(first) = k.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            match k.as_str() {
                "No" | "Node" => "Node".to_string(),
                "Pvc" | "Persistentvolumeclaim" => "PersistentVolumeClaim".to_string(),
                "Pv" | "Persistentvolume" => "PersistentVolume".to_string(),
                "Svc" | "Service" => "Service".to_string(),
                _ => k,
            }
        },
        |t| t.kind.to_string(),
    );
    Ok((kind, name.to_string()))
}

impl FilterArgs {
    /// The filter these flags ask for; `-l` is resolved through what
    /// `store` knows of the objects' labels.
    /// Whether a filter picks Events by what they say (reason, type,
    /// category, severity, node, message), beyond where and when.
    pub fn picks_events(&self) -> bool {
        !self.reason.is_empty()
            || self.event_type.is_some()
            || !self.category.is_empty()
            || self.severity.is_some()
            || self.node.is_some()
            || self.grep.is_some()
    }

    pub async fn filter(
        &self,
        kube: &KubectlArgs,
        for_object: Option<&str>,
        store: &mut Store,
    ) -> anyhow::Result<Filter> {
        let namespace = if kube.all_namespaces {
            None
        } else {
            kube.namespace.clone()
        };
        let objects = match &kube.selector {
            None => None,
            Some(text) => {
                let selector = Selector::parse(text)
                    .map_err(|e| kplug::Error::Usage(format!("-l {text}: {e}")))?;
                let known = store.objects(namespace.as_deref()).await?;
                Some(
                    known
                        .into_iter()
                        .filter(|o| self.cluster_name.as_ref().is_none_or(|c| *c == o.cluster))
                        .filter(|o| selector.matches(&o.labels))
                        .map(|o| o.key)
                        .collect(),
                )
            }
        };
        Ok(Filter {
            namespace,
            objects,
            for_object: for_object.map(self::for_object).transpose()?,
            since: self.since,
            until: self.until,
            reasons: self.reason.clone(),
            event_type: self.event_type.clone(),
            categories: self.category.clone(),
            severity: self.severity,
            node: self.node.clone(),
            cluster: self.cluster_name.clone(),
            grep: self.grep.clone(),
            after_id: None,
        })
    }
}

pub async fn run(kube: &KubectlArgs, args: Args) -> anyhow::Result<kplug::Code> {
    if let Some(id) = &args.incident {
        return incident(kube, &args, id).await;
    }
    let mut store = args.store.open(kplug_eventlog::store::Access::Read).await?;
    let mut filter = args
        .filters
        .filter(kube, args.for_object.as_deref(), &mut store)
        .await?;
    let mut last = store.last_id().await?;
    let rows = store.query(&filter, args.limit).await?;
    let mut out = std::io::stdout().lock();
    let mut widths = Vec::new();
    let printer = Printer::new(kube, args.output);
    let mut seen = std::collections::HashSet::new();
    match args.output {
        Some(OutputFormat::Json | OutputFormat::Yaml) => {
            printer.print_value(&kplug::output::format::list(&rows)?, &mut out)?
        }
        Some(OutputFormat::Name) => print_names(&rows, &mut seen, &mut out)?,
        _ if rows.is_empty() => eprintln!("No events found."),
        _ => table(kube, args.output, &rows, &mut out, true, &mut widths)?,
    }
    if args.watch {
        let mut header_shown = !rows.is_empty();
        out.flush()?;
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            filter.after_id = Some(last);
            last = store.last_id().await?;
            let mut new = store.query(&filter, None).await?;
            new.reverse();
            match args.output {
                Some(OutputFormat::Name) => print_names(&new, &mut seen, &mut out)?,
                Some(OutputFormat::Json) => {
                    for r in &new {
                        writeln!(out, "{}", serde_json::to_string(r)?)?;
                    }
                }
                Some(OutputFormat::Yaml) => {
                    for r in &new {
                        writeln!(
                            out,
                            "---\n{}",
                            kplug::output::format::to_yaml(&serde_json::to_value(r)?)?.trim_end()
                        )?;
                    }
                }
                _ if new.is_empty() => {}
                _ => {
                    table(
                        kube,
                        args.output,
                        &new,
                        &mut out,
                        !header_shown,
                        &mut widths,
                    )?;
                    header_shown = true;
                }
            }
            out.flush()?;
        }
    }
    Ok(kplug::Code::Success)
}

/// `query --incident ID`: the incidents of the window, then that one's
/// Events, root first.
async fn incident(kube: &KubectlArgs, args: &Args, id: &str) -> anyhow::Result<kplug::Code> {
    let (incidents, rows) = super::incidents::find(
        kube,
        &args.filters,
        args.for_object.as_deref(),
        &args.store,
        &args.rules,
    )
    .await?;
    let Some(found) = incidents.iter().find(|i| i.id == id) else {
        bail!(kplug::Error::Usage(format!(
            "no incident {id} in this window ({} found); list them with `kubectl eventlog incidents` and the same --since, --until and filters",
            incidents.len()
        )));
    };
    let mut rows: Vec<EventRow> = found.members.iter().map(|i| rows[*i].clone()).collect();
    rows.truncate(args.limit.unwrap_or(usize::MAX));
    let mut out = std::io::stdout().lock();
    let printer = Printer::new(kube, args.output);
    match args.output {
        Some(OutputFormat::Json | OutputFormat::Yaml) => {
            printer.print_value(&kplug::output::format::list(&rows)?, &mut out)?
        }
        Some(OutputFormat::Name) => print_names(&rows, &mut Default::default(), &mut out)?,
        _ => table(kube, args.output, &rows, &mut out, true, &mut Vec::new())?,
    }
    Ok(kplug::Code::Success)
}

/// The rows as a table; `widths` keeps the columns of earlier parts (`--watch`)
/// so that later rows line up under them.
/// `-o name`: the objects the events are about, each once (`seen` spans
/// the parts of `--watch`).
fn print_names(
    rows: &[EventRow],
    seen: &mut std::collections::HashSet<String>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    for r in rows {
        let name = format!("{}/{}", r.kind.to_lowercase(), r.name);
        if seen.insert(name.clone()) {
            writeln!(out, "{}", kplug::output::Escaped(&name))?;
        }
    }
    Ok(())
}

fn table(
    kube: &KubectlArgs,
    format: Option<OutputFormat>,
    rows: &[EventRow],
    out: &mut dyn Write,
    headers: bool,
    widths: &mut Vec<usize>,
) -> std::io::Result<()> {
    // A CLUSTER column only when the rows come from more than one cluster.
    let clusters = rows
        .iter()
        .map(|r| r.cluster.as_str())
        .collect::<std::collections::BTreeSet<_>>();
    let several = clusters.len() > 1;
    let mut columns = vec!["LAST SEEN", "TYPE", "REASON", "OBJECT", "COUNT", "MESSAGE"];
    if several {
        columns.insert(0, "CLUSTER");
    }
    let mut t = Table::new(&columns)
        .wide_column("CATEGORY")
        .wide_column("SEVERITY")
        .wide_column("NODE")
        .wide_column("FIRST SEEN");
    for r in rows {
        let object = if r.field_path.is_empty() {
            format!("{}/{}", r.kind.to_lowercase(), r.name)
        } else {
            format!("{}/{} {}", r.kind.to_lowercase(), r.name, r.field_path)
        };
        let mut cells = Vec::with_capacity(11);
        if several {
            cells.push(Cell::from(r.cluster.as_str()));
        }
        cells.extend([
            Cell::from(kplug::output::age::age(r.last_seen)),
            Cell::from(r.event_type.as_str()),
            Cell::from(r.reason.as_str()),
            Cell::from(object),
            Cell::from(r.count.to_string()),
            Cell::from(r.message.replace('\n', " ")),
            Cell::from(r.category.as_str()),
            Cell::from(r.severity.as_str()),
            Cell::from(r.node.as_str()),
            Cell::from(kplug::output::age::age(r.first_seen)),
        ]);
        t.push_in(&r.namespace, cells);
    }
    t.render_aligned(
        TableOptions {
            wide: format == Some(OutputFormat::Wide),
            no_headers: kube.no_headers || !headers,
            namespace_column: kube.all_namespaces || kube.namespace.is_none(),
        },
        widths,
        out,
    )
}
