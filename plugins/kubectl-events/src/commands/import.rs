//! `kubectl eventlog import FILE…`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use kplug::cli::KubectlArgs;
use kplug::event;
use kplug_eventlog::record::Record;

use super::store::{RulesArgs, StoreArgs};

/// Store the Events of saved files: `kubectl get events -o json|yaml`,
/// EventLists of either API, `kubectl cluster-info dump` output (both
/// spellings). Importing the same file twice adds nothing
///
/// Exit status: 0 when every Event was read, 1 when a file or an Event
/// could not be (the readable ones are still stored).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files to import (- for stdin)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// The cluster these events came from
    #[arg(long, value_name = "NAME", default_value = "default")]
    pub cluster_name: String,

    #[command(flatten)]
    pub store: StoreArgs,

    #[command(flatten)]
    pub rules: RulesArgs,
}

const BATCH: usize = 20_000;

pub fn run(_kube: &KubectlArgs, args: Args) -> anyhow::Result<kplug::Code> {
    let classifier = args.rules.classifier()?;
    let mut store = args.store.open()?;
    let mut total = kplug_eventlog::store::IngestStats::default();
    let mut bad = 0usize;
    for file in &args.files {
        let (text, name) = if file.as_os_str() == "-" {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                .context("reading stdin")?;
            (s, "<stdin>".to_string())
        } else {
            (
                std::fs::read_to_string(file)
                    .with_context(|| format!("reading {}", file.display()))?,
                file.display().to_string(),
            )
        };
        let documents =
            kplug_eventlog::input::documents(&text).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        let mut batch = Vec::with_capacity(BATCH);
        for (doc, value) in documents.iter().enumerate() {
            for (i, e) in event::from_document(value).into_iter().enumerate() {
                match e {
                    Ok(mut e) => {
                        e.cluster = Some(args.cluster_name.clone());
                        batch.push(Record::new(e, &args.cluster_name, &classifier));
                    }
                    Err(err) => {
                        bad += 1;
                        eprintln!("{name}: document {}, item {i}: {err}", doc + 1);
                    }
                }
                if batch.len() >= BATCH {
                    total += store.ingest(&batch)?;
                    batch.clear();
                }
            }
        }
        total += store.ingest(&batch)?;
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "imported {} events into {}: {} new occurrences, {} already recorded",
        total.events,
        store.describe(),
        total.occurrences,
        total.duplicates
    )?;
    Ok(if bad > 0 {
        kplug::Code::Error
    } else {
        kplug::Code::Success
    })
}
