//! `kubectl eventlog import FILE…`.

use std::io::Write;
use std::path::PathBuf;

use std::io::Read;
use tokio::sync::mpsc::Sender;

use anyhow::Context;
use indicatif::ProgressBar;
use kplug::cli::KubectlArgs;
use kplug::event::Event;
use kplug::output::Escaped;
use kplug_eventlog::classify::Classifier;
use kplug_eventlog::input;
use kplug_eventlog::record::{Preparer, Record};

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

/// One thread reads, normalises and classifies while this one writes: on
/// two cores the store and the parser each get one.
pub async fn run(_kube: &KubectlArgs, args: Args) -> anyhow::Result<kplug::Code> {
    let classifier = args.rules.classifier()?;
    let mut store = args
        .store
        .open(kplug_eventlog::store::Access::Write)
        .await?;
    let batch_size = store.bulk_batch();
    let bytes: u64 = args
        .files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let bar = kplug::output::progress::progress_bar(bytes, "importing (bytes)");
    let mut total = kplug_eventlog::store::IngestStats::default();
    // One batch read ahead while one is written: memory stays at two.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Record>>(1);
    let reader = {
        let (files, cluster, bar) = (args.files.clone(), args.cluster_name.clone(), bar.clone());
        std::thread::spawn(move || read_all(&files, &cluster, &classifier, &bar, batch_size, tx))
    };
    let mut written = Ok(());
    while let Some(batch) = rx.recv().await {
        match store.ingest(&batch).await {
            Ok(stats) => total += stats,
            Err(e) => {
                // Dropping the receiver stops the reader at its next batch.
                written = Err(e);
                break;
            }
        }
    }
    drop(rx);
    let bad = reader.join().expect("the reader does not panic");
    bar.finish_and_clear();
    written.with_context(|| format!("writing to {}", store.describe()))?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "imported {} Events into {}: {} new occurrences; {} Events already recorded in full",
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

/// Read every file and send its Records in batches; report what cannot be
/// read and count it.
fn read_all(
    files: &[PathBuf],
    cluster: &str,
    classifier: &Classifier,
    bar: &ProgressBar,
    size: usize,
    tx: Sender<Vec<Record>>,
) -> usize {
    let mut prepare = Preparer::new(cluster, classifier);
    let mut bad = 0;
    let mut batch = Vec::with_capacity(size);
    let mut stopped = false;
    for file in files {
        let (reader, name): (Box<dyn Read>, String) = if file.as_os_str() == "-" {
            (Box::new(std::io::stdin().lock()), "<stdin>".into())
        } else {
            match std::fs::File::open(file) {
                Ok(f) => (Box::new(bar.wrap_read(f)), file.display().to_string()),
                Err(e) => {
                    eprintln!("error: {}: {e}", file.display());
                    bad += 1;
                    continue;
                }
            }
        };
        let read = input::for_each_event(reader, &mut |at, value| {
            if stopped {
                return;
            }
            match Event::from_owned(value) {
                Ok(e) => {
                    for w in &e.warnings {
                        eprintln!(
                            "warning: {name}: document {}, item {}: Event {}/{}: {w}",
                            at.document,
                            at.item,
                            Escaped(&e.namespace),
                            Escaped(&e.name)
                        );
                    }
                    batch.push(prepare.record(e))
                }
                Err(err) => {
                    bad += 1;
                    eprintln!(
                        "{name}: document {}, item {}: {}",
                        at.document,
                        at.item,
                        Escaped(&err.to_string())
                    );
                }
            }
            if batch.len() >= size {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(size));
                stopped = tx.blocking_send(full).is_err();
            }
        });
        if let Err(e) = read {
            bad += 1;
            eprintln!("error: {name}: {}", Escaped(&e.to_string()));
        }
        if stopped {
            return bad;
        }
    }
    let _ = tx.blocking_send(batch);
    bad
}
