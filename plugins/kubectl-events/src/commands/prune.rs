//! `kubectl eventlog prune`: apply retention now.

use std::io::Write;

use kplug::cli::KubectlArgs;

use super::store::{RetentionArgs, StoreArgs};

/// Delete old occurrences now (`collect` does the same as it runs)
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub retention: RetentionArgs,

    #[command(flatten)]
    pub store: StoreArgs,
}

pub async fn run(_kube: &KubectlArgs, args: Args) -> anyhow::Result<kplug::Code> {
    let policy = args.retention.policy();
    if policy.is_empty() {
        anyhow::bail!(kplug::Error::Usage(
            "give --retain DURATION and/or --max-size SIZE".into()
        ));
    }
    let mut store = args
        .store
        .open(kplug_eventlog::store::Access::Write)
        .await?;
    let now = jiff::Timestamp::now().as_millisecond();
    let mut total = kplug_eventlog::store::Pruned::default();
    loop {
        let step = store.prune_step(&policy, now, 50_000).await?;
        if step.is_empty() {
            break;
        }
        total.absorb(step);
    }
    writeln!(
        std::io::stdout(),
        "deleted {} from {}",
        total.counts(),
        store.describe()
    )?;
    Ok(kplug::Code::Success)
}
