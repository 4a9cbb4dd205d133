//! `kubectl eventlog aggregate`.

use std::io::IsTerminal;

use anyhow::bail;
use jiff::Timestamp;
use kplug::cli::{KubectlArgs, ReportFormat};
use kplug::output::table::{Cell, Table, TableOptions};
use kplug_eventlog::aggregate::sparkline;
use kplug_eventlog::store::{Buckets, GroupBy};

use super::query::FilterArgs;
use super::store::StoreArgs;

/// Buckets one aggregate may have (a week of minutes is 10,080).
const MAX_BUCKETS: i64 = 100_000;

/// Occurrences (not objects) per group and per time bucket, most first
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to group by (comma-separated): reason, kind, namespace, category, severity, node, fingerprint, type, cluster, name, owner_root
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "reason",
        value_name = "FIELDS"
    )]
    pub by: Vec<String>,

    /// Bucket size, e.g. 1h, 15m, 1d
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = kplug::cli::parse_duration)]
    pub window: std::time::Duration,

    #[command(flatten)]
    pub filters: FilterArgs,

    /// Only events about KIND/NAME (and what it owns)
    #[arg(long = "for", value_name = "KIND/NAME")]
    pub for_object: Option<String>,

    #[command(flatten)]
    pub store: StoreArgs,

    /// Output format (default: a table with a sparkline per group)
    #[arg(short = 'o', long, value_name = "FORMAT")]
    pub output: Option<ReportFormat>,
}

pub async fn run(kube: &KubectlArgs, mut args: Args) -> anyhow::Result<kplug::Code> {
    let mut columns = Vec::new();
    for field in &args.by {
        match GroupBy::parse(field) {
            Some(column) => columns.push(column),
            None => bail!(kplug::Error::Usage(format!(
                "cannot group by \"{field}\"; use {}",
                GroupBy::ALL.map(GroupBy::column).join(", ")
            ))),
        }
    }
    // Without --since: the last 7 days.
    let until = args.filters.until.unwrap_or_else(Timestamp::now);
    let since = *args
        .filters
        .since
        .get_or_insert(until - jiff::SignedDuration::from_hours(24 * 7));
    let mut store = args.store.open(kplug_eventlog::store::Access::Read).await?;
    let mut filter = args
        .filters
        .filter(kube, args.for_object.as_deref(), &mut store)
        .await?;
    let window_ms = args.window.as_millis().max(1) as i64;
    let buckets = Buckets::covering(since.as_millisecond(), until.as_millisecond(), window_ms);
    let n = (buckets.end_ms - buckets.start_ms) / buckets.window_ms;
    if n > MAX_BUCKETS {
        bail!(kplug::Error::Usage(format!(
            "--since and --window make {n} buckets (at most {MAX_BUCKETS}); use a bigger --window"
        )));
    }
    // What the buckets cover, exactly (windows of hours start on the hour).
    filter.since = Timestamp::from_millisecond(buckets.start_ms).ok();
    filter.until = Timestamp::from_millisecond(buckets.end_ms).ok();
    // Counts from several clusters are kept apart: a CLUSTER column when the
    // result spans more than one (ask the cheap question first).
    if !columns.contains(&GroupBy::Cluster)
        && filter.cluster.is_none()
        && store
            .aggregate(&[GroupBy::Cluster], &filter, buckets)
            .await?
            .len()
            > 1
    {
        columns.insert(0, GroupBy::Cluster);
        args.by.insert(0, "cluster".to_string());
    }
    let groups = store.aggregate(&columns, &filter, buckets).await?;
    let mut out = std::io::stdout().lock();
    match args.output {
        Some(f) => kplug::output::format::write_document(
            f == ReportFormat::Json,
            &serde_json::json!({"groups": groups}),
            &mut out,
        )?,
        _ if groups.is_empty() => eprintln!("No events found."),
        _ => {
            let mut headers: Vec<String> = args.by.iter().map(|b| b.to_uppercase()).collect();
            headers.push("COUNT".into());
            let spark = std::io::stdout().is_terminal();
            // The sparkline fits the terminal: adjacent windows merge when
            // there are more of them than columns left.
            let buckets = groups.first().map_or(1, |g| g.buckets.len());
            let used: usize = args
                .by
                .iter()
                .map(|b| {
                    groups
                        .iter()
                        .map(|g| g.key.get(b).map_or(0, |k| k.chars().count()))
                        .max()
                        .unwrap_or(0)
                        .max(b.len())
                        + 3
                })
                .sum::<usize>()
                + groups
                    .iter()
                    .map(|g| g.count.to_string().len())
                    .max()
                    .unwrap_or(5)
                    .max(5)
                + 3;
            let room = terminal_columns().saturating_sub(used).max(12);
            let merge = buckets.div_ceil(room).max(1);
            if spark {
                let per = args.window.saturating_mul(merge as u32);
                headers.push(format!(
                    "PER {}",
                    kplug::output::age::exact_duration(per).to_uppercase()
                ));
            }
            let mut t = Table::new(&headers);
            for g in &groups {
                let mut cells: Vec<Cell> = args
                    .by
                    .iter()
                    .map(|b| Cell::from(g.key.get(b).cloned().unwrap_or_default()))
                    .collect();
                cells.push(Cell::from(g.count.to_string()));
                if spark {
                    let counts: Vec<i64> = g
                        .buckets
                        .chunks(merge)
                        .map(|c| c.iter().fold(0i64, |a, b| a.saturating_add(b.count)))
                        .collect();
                    cells.push(Cell::from(sparkline(&counts)));
                }
                t.push(cells);
            }
            t.render(
                TableOptions {
                    no_headers: kube.no_headers,
                    ..Default::default()
                },
                &mut out,
            )?;
        }
    }
    Ok(kplug::Code::Success)
}

/// The terminal's width in columns (`COLUMNS` when set, else 80).
fn terminal_columns() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .or_else(terminal_width_of_stdout)
        .unwrap_or(80)
}

fn terminal_width_of_stdout() -> Option<usize> {
    let (_, cols) = console::Term::stdout().size_checked()?;
    Some(cols as usize)
}
