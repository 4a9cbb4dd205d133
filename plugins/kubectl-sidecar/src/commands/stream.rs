//! `analyze -f` on every core: this thread splits the input into documents,
//! workers parse and analyse them (parsing YAML is most of the work), and
//! one thread hands the reports on in input order. Documents travel in
//! batches (one hand-off per document cost more in context switches than
//! the parallelism gained); channels are bounded, so memory stays flat
//! however long the input.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};

use kplug::manifest::{Input, ManifestError, Piece};
use kplug_sidecar::analysis::{self, Owners, TemplateReport};
use kplug_sidecar::template::PodTemplate;
use kplug_sidecar::validation::KubeVersion;

/// A document's templates and their reports (`None`: finished in order),
/// each with its rendering when one was asked for.
type Analysed = (Vec<PodTemplate>, Vec<Option<Rendered>>);

/// A report and, for the human output, its text (rendered by the worker).
pub type Rendered = (TemplateReport, Option<Vec<u8>>);

/// Turns a report into the text people read.
pub type Render<'a> = &'a (dyn Fn(&TemplateReport) -> Vec<u8> + Sync);

/// Documents per hand-off.
const BATCH: usize = 32;

/// Analyse every document of `inputs`, calling `emit` with each report in
/// input order (rendered by `render`, when given, on the workers). Stops at
/// the first unreadable document (after emitting the reports before it) or
/// the first failing `emit`.
pub fn analyze(
    inputs: &[Input],
    version: KubeVersion,
    render: Option<Render<'_>>,
    emit: &mut (dyn FnMut(Rendered) -> std::io::Result<()> + Send),
) -> anyhow::Result<()> {
    let rendered = |report: TemplateReport| {
        let text = render.map(|r| r(&report));
        (report, text)
    };
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let (work_tx, work_rx) = mpsc::sync_channel::<(usize, Vec<Piece>)>(workers * 2);
    let work_rx = Mutex::new(work_rx);
    // Bounded too: a slow writer holds the workers back, not memory.
    let (done_tx, done_rx) =
        mpsc::sync_channel::<(usize, Vec<Result<Analysed, ManifestError>>)>(workers * 2);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let rendered = &rendered;
        for _ in 0..workers {
            let done_tx = done_tx.clone();
            let work_rx = &work_rx;
            scope.spawn(move || {
                loop {
                    let next = work_rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    let Ok((seq, pieces)) = next else { break };
                    let mut results = Vec::with_capacity(pieces.len());
                    for piece in pieces {
                        let result = piece.parse().map(|objects| {
                            let templates: Vec<PodTemplate> = objects
                                .iter()
                                .filter_map(PodTemplate::from_object)
                                .collect();
                            let reports = analysis::analyze_document(&templates, version)
                                .into_iter()
                                .map(|r| r.map(rendered))
                                .collect();
                            (templates, reports)
                        });
                        let failed = result.is_err();
                        results.push(result);
                        if failed {
                            break;
                        }
                    }
                    // After a stop nobody listens; keep draining so the
                    // reader never waits on a full channel.
                    let _ = done_tx.send((seq, results));
                }
            });
        }
        drop(done_tx);
        let stop = &stop;
        let consumer = scope.spawn(move || -> anyhow::Result<()> {
            let mut owners = Owners::default();
            let mut waiting = BTreeMap::new();
            let mut next = 0;
            for (seq, results) in done_rx {
                waiting.insert(seq, results);
                while let Some(results) = waiting.remove(&next) {
                    next += 1;
                    for result in results {
                        let (templates, reports) = result.inspect_err(|_| {
                            stop.store(true, Ordering::Relaxed);
                        })?;
                        for (t, report) in templates.iter().zip(reports) {
                            let report = report.unwrap_or_else(|| {
                                rendered(analysis::analyze(t, owners.sketch(t).as_ref(), version))
                            });
                            emit(report).inspect_err(|_| stop.store(true, Ordering::Relaxed))?;
                        }
                        templates.iter().for_each(|t| owners.remember(t));
                    }
                }
            }
            Ok(())
        });
        let mut seq = 0;
        let mut batch = Vec::with_capacity(BATCH);
        let mut send = |batch: Vec<Piece>| -> anyhow::Result<()> {
            if stop.load(Ordering::Relaxed) {
                anyhow::bail!(Stopped);
            }
            work_tx
                .send((seq, batch))
                .map_err(|_| anyhow::anyhow!(Stopped))?;
            seq += 1;
            Ok(())
        };
        let mut read = kplug::manifest::for_each_piece(inputs, |piece| -> anyhow::Result<()> {
            batch.push(piece);
            if batch.len() == BATCH {
                send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))?;
            }
            Ok(())
        });
        if read.is_ok() && !batch.is_empty() {
            read = send(batch);
        }
        // The workers stop once the sender is gone.
        drop(work_tx);
        let consumed = consumer
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the report writer panicked")));
        // The consumer's error (a bad document, a closed pipe) comes first:
        // it is why the reader stopped.
        consumed?;
        match read {
            Err(e) if e.is::<Stopped>() => Ok(()),
            other => other,
        }
    })
}

/// The reader was told to stop: not an error of its own.
#[derive(Debug, thiserror::Error)]
#[error("stopped")]
struct Stopped;
