//! `kubectl eventlog report`: the timeline page (see
//! [`kplug_eventlog::report`]).

use anyhow::Context;
use jiff::Timestamp;
use kplug::cli::KubectlArgs;
use kplug_eventlog::incidents::correlate;
use kplug_eventlog::report::{Density, Subject, render};
use kplug_eventlog::store::{Buckets, GroupBy};

use super::query::FilterArgs;
use super::store::{RulesArgs, StoreArgs};

const EXAMPLES: &str = "\
Examples:
  # Three days of a Deployment, its ReplicaSets and Pods, as one page
  kubectl eventlog report -n shop --for deploy/web --since 3d --html web.html

  # A namespace's last day
  kubectl eventlog report -n shop --since 24h --html shop.html";

/// Write one self-contained HTML page: a timeline per object down the owner
/// chain, each Event over its span with its density, the incidents'
/// cause→effect arrows, and the incidents and Events as tables. Nothing on
/// it is fetched from anywhere; it reads without JavaScript
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Only events about KIND/NAME (and what it owns)
    #[arg(long = "for", value_name = "KIND/NAME")]
    pub for_object: Option<String>,

    #[command(flatten)]
    pub filters: FilterArgs,

    #[command(flatten)]
    pub store: StoreArgs,

    #[command(flatten)]
    pub rules: RulesArgs,

    /// Where to write the page
    #[arg(long, value_name = "FILE")]
    pub html: std::path::PathBuf,
}

pub async fn run(kube: &KubectlArgs, args: Args) -> anyhow::Result<kplug::Code> {
    let until = args.filters.until.unwrap_or_else(Timestamp::now);
    let mut filters = args.filters.clone();
    let since = *filters
        .since
        .get_or_insert(until - jiff::SignedDuration::from_hours(72));
    filters.until = Some(until);
    let mut store = args.store.open(kplug_eventlog::store::Access::Read).await?;
    let filter = filters
        .filter(kube, args.for_object.as_deref(), &mut store)
        .await?;
    let rows = store.query(&filter, None).await?;
    let incidents = correlate(&rows, &args.rules.incident_rules()?);
    // About 200 buckets across the page, whole minutes.
    let bucket_ms =
        ((until.as_millisecond() - since.as_millisecond()) / 200).max(60_000) / 60_000 * 60_000;
    let buckets = Buckets {
        start_ms: since.as_millisecond(),
        end_ms: until.as_millisecond(),
        window_ms: bucket_ms,
    };
    let by = [
        GroupBy::Kind,
        GroupBy::Namespace,
        GroupBy::Name,
        GroupBy::Reason,
    ];
    let groups = store.aggregate(&by, &filter, buckets).await?;
    let density = Density {
        bucket_ms,
        lanes: groups
            .into_iter()
            .map(|g| {
                let k = |c: GroupBy| g.key.get(c.column()).cloned().unwrap_or_default();
                (
                    (
                        k(GroupBy::Kind),
                        k(GroupBy::Namespace),
                        k(GroupBy::Name),
                        k(GroupBy::Reason),
                    ),
                    g.buckets.iter().map(|b| b.count).collect(),
                )
            })
            .collect(),
    };
    let title = match (&args.for_object, &filter.namespace) {
        (Some(f), Some(ns)) => format!("{f} in {ns}"),
        (Some(f), None) => f.clone(),
        (None, Some(ns)) => format!("namespace {ns}"),
        (None, None) => "all namespaces".to_string(),
    };
    let page = render(
        &Subject {
            title,
            since,
            until,
        },
        &rows,
        &incidents,
        &density,
    );
    std::fs::write(&args.html, page).with_context(|| format!("writing {}", args.html.display()))?;
    eprintln!(
        "wrote {}: {} Events, {} incidents",
        args.html.display(),
        rows.len(),
        incidents.len()
    );
    Ok(kplug::Code::Success)
}
