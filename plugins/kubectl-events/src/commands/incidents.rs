//! `kubectl eventlog incidents`: the stored Events correlated into
//! incidents (see [`kplug_eventlog::incidents`]).

use std::io::{IsTerminal, Write};

use anyhow::Context;

use jiff::Timestamp;
use kplug::cli::{KubectlArgs, TableFormat};
use kplug::output::table::{Cell, Table, TableOptions};
use kplug_eventlog::aggregate::sparkline;
use kplug_eventlog::incidents::{Incident, activity, correlate};
use kplug_eventlog::store::{EventRow, Store};

use super::query::FilterArgs;
use super::store::{RulesArgs, StoreArgs};

const EXAMPLES: &str = "\
Examples:
  # What went wrong in the last day, one line per incident, root cause first
  kubectl eventlog incidents -A --since 24h

  # The incidents of one workload, with every effect, as JSON
  kubectl eventlog incidents -n shop --for deploy/web --since 3d -o json

  # The Events of one incident
  kubectl eventlog query -A --since 24h --incident 3f9a2c41d0b7

  # A week at once, from the table the collector keeps (collect --keep-incidents)
  kubectl eventlog incidents -A --since 7d --kept";

/// Events correlated into incidents: a root cause (the earliest Event that
/// nothing else explains), the effects it explains through typed rules
/// (a liveness failure → Killing → BackOff, NodeNotReady → eviction →
/// rescheduling elsewhere, FailedMount → BackOff, …) over the object, its
/// owner and its node, a confidence, the span and the counts
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Only incidents touching KIND/NAME (and what it owns)
    #[arg(long = "for", value_name = "KIND/NAME")]
    pub for_object: Option<String>,

    /// Read the incidents the collector keeps (collect --keep-incidents,
    /// or with alerts) instead of correlating the stored Events now: the
    /// same answers, fast over long windows; filters by namespace,
    /// cluster, time and --for only
    #[arg(long)]
    pub kept: bool,

    /// Also write the incidents found to the kept table, replacing what it
    /// held for the window (after an import, or for Events collected
    /// without --keep-incidents)
    #[arg(long, conflicts_with = "kept")]
    pub save: bool,

    #[command(flatten)]
    pub filters: FilterArgs,

    #[command(flatten)]
    pub store: StoreArgs,

    #[command(flatten)]
    pub rules: RulesArgs,

    /// Output format (default: a table); json and yaml print
    /// {"incidents": [...]}
    #[arg(short = 'o', long, value_name = "FORMAT")]
    pub output: Option<TableFormat>,
}

/// The incidents of the Events `filters` select (the last 24 hours by
/// default), with the rows they were found in.
pub async fn find(
    kube: &KubectlArgs,
    filters: &FilterArgs,
    for_object: Option<&str>,
    store: &StoreArgs,
    rules: &RulesArgs,
) -> anyhow::Result<(Vec<Incident>, Vec<EventRow>)> {
    let rules = rules.incident_rules()?;
    let mut filters = filters.clone();
    filters
        .since
        .get_or_insert_with(|| Timestamp::now() - jiff::SignedDuration::from_hours(24));
    let mut store: Store = store.open(kplug_eventlog::store::Access::Read).await?;
    let filter = filters.filter(kube, for_object, &mut store).await?;
    let rows = store.query(&filter, None).await?;
    Ok((correlate(&rows, &rules), rows))
}

/// The incidents the collector kept that `filters` select (the last 24
/// hours by default).
async fn kept(
    kube: &KubectlArgs,
    filters: &FilterArgs,
    for_object: Option<&str>,
    store: &StoreArgs,
) -> anyhow::Result<Vec<Incident>> {
    if filters.picks_events() || kube.selector.is_some() {
        anyhow::bail!(kplug::Error::Usage(
            "--kept filters by namespace, --cluster-name, --since/--until and --for only".into()
        ));
    }
    let mut store: Store = store.open(kplug_eventlog::store::Access::Read).await?;
    let since = filters
        .since
        .unwrap_or_else(|| Timestamp::now() - jiff::SignedDuration::from_hours(24));
    let filter = filters.filter(kube, for_object, &mut store).await?;
    let found = store
        .kept_incidents(
            filter.cluster.as_deref(),
            filter.namespace.as_deref(),
            Some(since.as_millisecond()),
            filters.until.map(|t| t.as_millisecond()),
        )
        .await?;
    let mut incidents = Vec::with_capacity(found.len());
    for k in found {
        let i: Incident = serde_json::from_str(&k.doc)
            .with_context(|| format!("incident {} in the store is unreadable", k.id))?;
        if filter
            .for_object
            .as_ref()
            .is_none_or(|(kind, name)| i.touches(kind, name))
        {
            incidents.push(i);
        }
    }
    Ok(incidents)
}

/// `--save`: the window's incidents into the kept table. Only a whole
/// window is saved: a filtered one would replace the kept incidents of
/// what it left out with nothing.
async fn save(kube: &KubectlArgs, args: &Args, rows: &[EventRow]) -> anyhow::Result<()> {
    let f = &args.filters;
    if !kube.all_namespaces
        || kube.selector.is_some()
        || args.for_object.is_some()
        || f.picks_events()
        || f.until.is_some()
    {
        anyhow::bail!(kplug::Error::Usage(
            "--save keeps whole windows: give -A, and only --since and --cluster-name besides"
                .into()
        ));
    }
    let since = f
        .since
        .unwrap_or_else(|| Timestamp::now() - jiff::SignedDuration::from_hours(24));
    let mut store = args
        .store
        .open(kplug_eventlog::store::Access::Write)
        .await?;
    let n = kplug_eventlog::track::save(
        &mut store,
        rows,
        &args.rules.incident_rules()?,
        since.as_millisecond(),
    )
    .await?;
    eprintln!("kept {n} incidents");
    Ok(())
}

pub async fn run(kube: &KubectlArgs, args: Args) -> anyhow::Result<kplug::Code> {
    let (incidents, rows) = if args.kept {
        let found = kept(kube, &args.filters, args.for_object.as_deref(), &args.store).await?;
        (found, Vec::new())
    } else {
        let (found, rows) = find(
            kube,
            &args.filters,
            args.for_object.as_deref(),
            &args.store,
            &args.rules,
        )
        .await?;
        if args.save {
            save(kube, &args, &rows).await?;
        }
        (found, rows)
    };
    let mut out = std::io::stdout().lock();
    let doc = || serde_json::json!({ "incidents": incidents });
    match args.output {
        Some(f @ (TableFormat::Json | TableFormat::Yaml)) => {
            kplug::output::format::write_document(f == TableFormat::Json, &doc(), &mut out)?
        }
        _ if incidents.is_empty() => eprintln!("No incidents found."),
        format => table(
            kube,
            &incidents,
            &rows,
            format == Some(TableFormat::Wide),
            &mut out,
        )?,
    }
    Ok(kplug::Code::Success)
}

/// `Killing×2 BackOff×17`: each effect reason once, with its occurrences.
fn effects(i: &Incident) -> String {
    let mut by_reason: Vec<(String, i64)> = Vec::new();
    for e in &i.effects {
        match by_reason.iter_mut().find(|(r, _)| *r == e.reason) {
            Some((_, n)) => *n += e.count,
            None => by_reason.push((e.reason.clone(), e.count)),
        }
    }
    by_reason
        .iter()
        .map(|(r, n)| format!("{r}×{n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn table(
    kube: &KubectlArgs,
    incidents: &[Incident],
    rows: &[EventRow],
    wide: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let several_clusters = incidents
        .iter()
        .map(|i| i.cluster.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .len()
        > 1;
    let mut headers = vec!["ID"];
    if several_clusters {
        headers.push("CLUSTER");
    }
    headers.extend([
        "NAMESPACE",
        "ROOT CAUSE",
        "OBJECT",
        "EFFECTS",
        "OBJECTS",
        "OCCURRENCES",
        "FIRST",
        "LAST",
        "CONFIDENCE",
    ]);
    // On a terminal: each incident's occurrences over the span of them all.
    let spark = std::io::stdout().is_terminal() && !rows.is_empty();
    if spark {
        headers.push("ACTIVITY");
    }
    if wide {
        headers.push("MESSAGE");
    }
    let from = incidents
        .iter()
        .filter_map(|i| i.first)
        .min()
        .map(|t| t.as_millisecond());
    let to = incidents
        .iter()
        .filter_map(|i| i.last)
        .max()
        .map(|t| t.as_millisecond());
    let mut t = Table::new(&headers);
    for i in incidents {
        let mut cells = vec![Cell::from(i.id.as_str())];
        if several_clusters {
            cells.push(Cell::from(i.cluster.as_str()));
        }
        cells.extend([
            Cell::from(i.root.object.namespace.as_str()),
            Cell::from(i.root.reason.as_str()),
            Cell::from(format!(
                "{}/{}",
                i.root.object.kind.to_lowercase(),
                i.root.object.name
            )),
            Cell::from(effects(i)),
            Cell::from(i.objects.len().to_string()),
            Cell::from(i.occurrences.to_string()),
            Cell::from(kplug::output::age::age(i.first)),
            Cell::from(kplug::output::age::age(i.last)),
            Cell::from(format!("{:.2}", i.confidence)),
        ]);
        if spark {
            let counts = match (from, to) {
                (Some(from), Some(to)) => activity(i, rows, from, to + 1, 24),
                _ => Vec::new(),
            };
            cells.push(Cell::from(sparkline(&counts)));
        }
        if wide {
            cells.push(Cell::from(i.root.message.as_str()));
        }
        t.push(cells);
    }
    t.render(
        TableOptions {
            no_headers: kube.no_headers,
            ..Default::default()
        },
        out,
    )
}
