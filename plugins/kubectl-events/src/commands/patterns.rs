//! `kubectl eventlog patterns`: recurring patterns in the stored Events
//! (see [`kplug_eventlog::patterns`]).

use std::collections::BTreeMap;
use std::io::Write;

use jiff::Timestamp;
use kplug::cli::{KubectlArgs, TableFormat};
use kplug::output::table::{Cell, Table, TableOptions};
use kplug_eventlog::patterns::{Pattern, Series, Thresholds, find};
use kplug_eventlog::store::{Buckets, GroupBy};

use super::query::FilterArgs;
use super::store::StoreArgs;

const EXAMPLES: &str = "\
Examples:
  # This week's bursts, schedules, flapping objects and new kinds of Events
  kubectl eventlog patterns -A --since 7d

  # One workload, in 15-minute buckets, as JSON
  kubectl eventlog patterns -n shop --for deploy/web --since 1d --window 15m -o json";

/// Recurring patterns per fingerprint and per object: bursts against the
/// fingerprint's own baseline, periodic recurrence (a CronJob failing on
/// its schedule), flapping (an object whose reasons take turns, as failing
/// probes do), fingerprints new since their workload's last rollout
/// (ScalingReplicaSet), and fingerprints never seen before the window's
/// last bucket. Warnings only, unless --type is given
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Only Events about KIND/NAME (and what it owns)
    #[arg(long = "for", value_name = "KIND/NAME")]
    pub for_object: Option<String>,

    /// Bucket size, e.g. 1h, 15m, 1d
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = kplug::cli::parse_duration)]
    pub window: std::time::Duration,

    #[command(flatten)]
    pub filters: FilterArgs,

    #[command(flatten)]
    pub store: StoreArgs,

    /// Output format (default: a table); json and yaml print {"patterns": [...]}
    #[arg(short = 'o', long, value_name = "FORMAT")]
    pub output: Option<TableFormat>,
}

/// The columns a series is told apart by, in the order [`series`] reads.
const BY: [GroupBy; 8] = [
    GroupBy::Fingerprint,
    GroupBy::Cluster,
    GroupBy::Namespace,
    GroupBy::Kind,
    GroupBy::Name,
    GroupBy::Reason,
    GroupBy::Owner,
    GroupBy::Type,
];

pub async fn run(kube: &KubectlArgs, args: Args) -> anyhow::Result<kplug::Code> {
    let until = args.filters.until.unwrap_or_else(Timestamp::now);
    let mut filters = args.filters.clone();
    let since = *filters
        .since
        .get_or_insert(until - jiff::SignedDuration::from_hours(24 * 7));
    let mut store = args.store.open(kplug_eventlog::store::Access::Read).await?;
    let mut filter = filters
        .filter(kube, args.for_object.as_deref(), &mut store)
        .await?;
    let window_ms = args.window.as_millis().max(1) as i64;
    let buckets = Buckets::covering(since.as_millisecond(), until.as_millisecond(), window_ms);
    if (buckets.end_ms - buckets.start_ms) / buckets.window_ms > 10_000 {
        anyhow::bail!(kplug::Error::Usage(
            "--since and --window make more than 10,000 buckets; use a bigger --window".into()
        ));
    }
    filter.since = Timestamp::from_millisecond(buckets.start_ms).ok();
    filter.until = Timestamp::from_millisecond(buckets.end_ms).ok();
    let groups = store.aggregate(&BY, &filter, buckets).await?;
    let starts: Vec<String> = groups
        .first()
        .map(|g| g.buckets.iter().map(|b| b.start.clone()).collect())
        .unwrap_or_default();
    let key = |g: &kplug_eventlog::aggregate::Group, c: GroupBy| {
        g.key.get(c.column()).cloned().unwrap_or_default()
    };
    let mut rollouts = BTreeMap::new();
    let mut series = Vec::new();
    for g in &groups {
        let s = Series {
            fingerprint: key(g, GroupBy::Fingerprint),
            cluster: key(g, GroupBy::Cluster),
            namespace: key(g, GroupBy::Namespace),
            kind: key(g, GroupBy::Kind),
            name: key(g, GroupBy::Name),
            reason: key(g, GroupBy::Reason),
            owner: key(g, GroupBy::Owner),
            counts: g.buckets.iter().map(|b| b.count).collect(),
        };
        // A rollout marks its workload from the bucket it happened in.
        if s.reason == "ScalingReplicaSet"
            && let Some(at) = s.counts.iter().position(|c| *c > 0)
        {
            let entry = rollouts
                .entry((s.cluster.clone(), s.namespace.clone(), s.owner.clone()))
                .or_insert(at);
            *entry = (*entry).max(at);
        }
        // Warnings only, unless --type asks otherwise: a burst of
        // Scheduled or Pulled is a scale-up, not a problem.
        let wanted = args.filters.event_type.is_some() || key(g, GroupBy::Type) == "Warning";
        if s.reason != "ScalingReplicaSet" && wanted {
            series.push(s);
        }
    }
    let patterns = find(&series, &starts, &rollouts, &Thresholds::default());
    let mut out = std::io::stdout().lock();
    let doc = || serde_json::json!({ "patterns": patterns });
    match args.output {
        Some(f @ (TableFormat::Json | TableFormat::Yaml)) => {
            kplug::output::format::write_document(f == TableFormat::Json, &doc(), &mut out)?
        }
        _ if patterns.is_empty() => eprintln!("No patterns found."),
        format => table(kube, &patterns, format == Some(TableFormat::Wide), &mut out)?,
    }
    Ok(kplug::Code::Success)
}

fn table(
    kube: &KubectlArgs,
    patterns: &[Pattern],
    wide: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let mut headers = vec![
        "PATTERN",
        "NAMESPACE",
        "OBJECT",
        "REASON",
        "AT",
        "OCCURRENCES",
        "DETAIL",
    ];
    if wide {
        headers.extend(["CLUSTER", "FINGERPRINT"]);
    }
    let mut t = Table::new(&headers);
    for p in patterns {
        let mut cells = vec![
            Cell::from(p.kind.as_str()),
            Cell::from(p.namespace.as_str()),
            Cell::from(p.object.as_str()),
            Cell::from(p.reason.as_str()),
            Cell::from(p.at.as_str()),
            Cell::from(p.occurrences.to_string()),
            Cell::from(p.detail.as_str()),
        ];
        if wide {
            cells.extend([
                Cell::from(p.cluster.as_str()),
                Cell::from(p.fingerprint.as_str()),
            ]);
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
