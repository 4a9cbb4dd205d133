//! `kubectl eventlog collect`: watch Events and store every occurrence once.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Event as CoreEvent;
use kplug::cli::KubectlArgs;
use kplug::event::Event;
use kplug_eventlog::backoff::Backoff;
use kplug_eventlog::classify::Classifier;
use kplug_eventlog::health::Health;
use kplug_eventlog::record::{Preparer, Record};
use kplug_eventlog::store::{ObjectInfo, Store, StoreError};
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};

use super::objects::Lookups;
use super::store::{RetentionArgs, RulesArgs, StoreArgs};

/// Watch Events (all namespaces, or -n) and store every occurrence exactly
/// once — across restarts, relists and 410 Gone — until SIGTERM or Ctrl-C
///
/// Memory stays bounded: no cache of Events is kept, only the batch being
/// written; the store's ledger remembers what was recorded. On restart the
/// relist is reconciled against the ledger, so occurrences that happened
/// while the collector was down are recorded (if the API server still has
/// the Event) and nothing is recorded twice.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only Events matching this field selector (e.g. type=Warning)
    #[arg(long, value_name = "SELECTOR")]
    pub field_selector: Option<String>,

    /// The name recorded with every event (default: "default")
    #[arg(long, value_name = "NAME", default_value = "default")]
    pub cluster_name: String,

    /// Serve Prometheus metrics on this address, e.g. 127.0.0.1:9464
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,

    /// Write a batch at least this often
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = kplug::cli::parse_duration)]
    pub flush_interval: Duration,

    /// Do not read the labels and controllers of the objects events are
    /// about (for `query -l`); reading them needs `get` on those objects
    #[arg(long)]
    pub no_object_labels: bool,

    /// Log the collector's health this often (0 for never)
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = kplug::cli::parse_duration)]
    pub log_interval: Duration,

    #[command(flatten)]
    pub store: StoreArgs,

    #[command(flatten)]
    pub rules: RulesArgs,

    #[command(flatten)]
    pub retention: RetentionArgs,
}

/// Write at most this many events per transaction; also the bound on what
/// is held in memory.
const BATCH: usize = 1000;

/// Events held while the store is unavailable, at most.
const MAX_PENDING: usize = 50_000;

pub fn run(kube: &KubectlArgs, args: Args) -> anyhow::Result<kplug::Code> {
    let classifier = args.rules.classifier()?;
    let store = args.store.open(kplug_eventlog::store::Access::Write)?;
    store
        .check_retention(&args.retention.policy())
        .map_err(|e| kplug::Error::Usage(e.to_string()))?;
    kplug::cli::runtime()?.block_on(collect(kube, args, classifier, store))
}

async fn collect(
    kube: &KubectlArgs,
    args: Args,
    classifier: Classifier,
    store: Store,
) -> anyhow::Result<kplug::Code> {
    let health = Arc::new(Health::default());
    if let Some(addr) = args.metrics_addr {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {addr} for metrics"))?;
        eprintln!("metrics on http://{}/metrics", listener.local_addr()?);
        tokio::spawn(serve_metrics(listener, health.clone()));
    }
    let config = kplug::client::config(kube).await?;
    let server = config.cluster_url.to_string();
    let client = kplug::client::client_from_config(config)?;
    let (mut lookups, mut learnt) = Lookups::new(client.clone(), &args.cluster_name);
    let mut lookups = (!args.no_object_labels).then_some(&mut lookups);
    let mut objects: Vec<ObjectInfo> = Vec::new();
    let api: Api<CoreEvent> = match (&kube.namespace, kube.all_namespaces) {
        (Some(ns), false) => Api::namespaced(client, ns),
        _ => Api::all(client),
    };
    let mut config = watcher::Config::default().page_size(500);
    if let Some(f) = &args.field_selector {
        config = config.fields(f);
    }
    let mut events = watcher(api, config).default_backoff().boxed();
    let mut prepare = Preparer::new(&args.cluster_name, &classifier);
    let mut batch: Vec<Record> = Vec::with_capacity(BATCH);
    let mut flush = tokio::time::interval(args.flush_interval.max(Duration::from_millis(10)));
    let mut log = tokio::time::interval(if args.log_interval.is_zero() {
        Duration::from_secs(u64::MAX / 4)
    } else {
        args.log_interval
    });
    let mut listed = 0u64;
    let policy = args.retention.policy();
    // Retention runs in small steps between writes, never holding them up.
    let mut prune = tokio::time::interval(Duration::from_secs(if policy.is_empty() {
        u64::MAX / 4
    } else {
        5
    }));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("watching for SIGTERM")?;
    eprintln!("collecting events into {}", store.describe());
    // The store runs on blocking threads: the PostgreSQL client blocks on
    // a runtime of its own, which may not start inside this one.
    let store = Arc::new(Mutex::new(store));
    // A failure that retrying cannot mend ends the loop; what was read is
    // still written, unless it is the store that failed for good.
    let mut fatal = None;
    // A store that cannot take writes for good: nothing more is written.
    let mut store_error: Option<StoreError> = None;
    let mut backoff = Backoff::default();
    loop {
        tokio::select! {
            // While the store refuses writes the batch would grow without
            // end: stop reading (the watch backs up, a relist later catches up
            // through the ledger) until it drains.
            item = events.next(), if batch.len() < MAX_PENDING => match item {
                None => break,
                Some(Ok(watcher::Event::Init)) => listed = 0,
                Some(Ok(watcher::Event::InitDone)) => health.relist_size.store(listed, Ordering::Relaxed),
                Some(Ok(watcher::Event::InitApply(e))) => {
                    listed += 1;
                    accept(e, &mut prepare, &health, &mut batch, lookups.as_deref_mut());
                }
                Some(Ok(watcher::Event::Apply(e))) => accept(e, &mut prepare, &health, &mut batch, lookups.as_deref_mut()),
                // DELETED means the TTL expired, not that something happened.
                Some(Ok(watcher::Event::Delete(_))) => {}
                Some(Err(e)) => {
                    // What retrying cannot mend (an untrusted certificate, no
                    // right to list Events) stops the collector with the reason.
                    if let Some(reason) = permanent(&e, &server) {
                        fatal = Some(reason);
                        break;
                    }
                    health.watch_restarts.fetch_add(1, Ordering::Relaxed);
                    if is_gone(&e) {
                        health.gone.fetch_add(1, Ordering::Relaxed);
                    }
                    eprintln!("watch: {}; retrying with backoff", kplug::output::escape(&e.to_string()));
                }
            },
            Some(o) = learnt.recv(), if objects.len() < MAX_PENDING => objects.push(o),
            _ = flush.tick() => {
                if let Err(e) = write(&store, &mut batch, &health, &mut backoff).await {
                    store_error = Some(e);
                    break;
                }
                if !objects.is_empty() && backoff.ready(std::time::Instant::now()) {
                    // Kept until written, like the batch.
                    let learnt = std::mem::take(&mut objects);
                    let (learnt, result) = with_store(&store, move |s| {
                        let r = s.record_objects(&learnt);
                        (learnt, r)
                    })
                    .await;
                    match result {
                        Ok(()) => {}
                        Err(e) if e.is_transient() => {
                            let wait = backoff.failed(std::time::Instant::now());
                            eprintln!("store: {e}; keeping {} objects and retrying in {wait:?}", learnt.len());
                            objects = learnt;
                        }
                        Err(e) => {
                            store_error = Some(e);
                            break;
                        }
                    }
                }
            }
            _ = log.tick() => eprintln!("eventlog: {}", health.line()),
            _ = prune.tick(), if !policy.is_empty() => {
                let step = with_store(&store, move |s| s.prune_step(&policy, jiff::Timestamp::now().as_millisecond(), 5000)).await;
                match step {
                    Ok(n) if n.rows == 0 => {}
                    Ok(n) => {
                        eprintln!("eventlog: retention deleted old {}", n.counts());
                        prune.reset_immediately();
                    }
                    Err(e) if e.is_transient() => eprintln!("eventlog: retention: {e}; trying again later"),
                    Err(e) => {
                        store_error = Some(e);
                        break;
                    }
                }
            }
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
        }
        if batch.len() >= BATCH
            && let Err(e) = write(&store, &mut batch, &health, &mut backoff).await
        {
            store_error = Some(e);
            break;
        }
    }
    if store_error.is_none() {
        // One last try, whatever the backoff says.
        backoff.reset();
        store_error = write(&store, &mut batch, &health, &mut backoff).await.err();
    }
    eprintln!("eventlog: stopped; {}", health.line());
    if let Some(e) = store_error {
        return Err(store_stop(e, batch.len()));
    }
    if let Some(e) = fatal {
        return Err(e);
    }
    Ok(if batch.is_empty() {
        kplug::Code::Success
    } else {
        kplug::Code::Error
    })
}

/// A watch failure that will fail the same way every time.
fn permanent(e: &watcher::Error, server: &str) -> Option<anyhow::Error> {
    let server = kplug::client::redact_url(server);
    if let Some(problem) = kplug::client::tls_problem(e) {
        return Some(kplug::Error::Tls { server, problem }.into());
    }
    let status = match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s)) => s,
        _ => return None,
    };
    match status.code {
        401 => Some(kplug::Error::Unauthorized { server }.into()),
        403 => Some(anyhow::anyhow!(
            "the collector may not list and watch Events ({}); apply deploy/eventlog/10-rbac.yaml (the ClusterRole kplug-eventlog-reader grants list and watch on events, core and events.k8s.io) and bind it to the user or ServiceAccount that runs it",
            kplug::output::escape(&status.message)
        )),
        _ => None,
    }
}

fn is_gone(e: &watcher::Error) -> bool {
    match e {
        watcher::Error::WatchError(status) => status.code == 410,
        other => {
            other.to_string().contains("410")
                || other.to_string().contains("too old resource version")
        }
    }
}

fn accept(
    e: CoreEvent,
    prepare: &mut Preparer,
    health: &Health,
    batch: &mut Vec<Record>,
    lookups: Option<&mut Lookups>,
) {
    health.events_received.fetch_add(1, Ordering::Relaxed);
    let value = match serde_json::to_value(e) {
        Ok(v) => v,
        Err(err) => return eprintln!("skipping an event that does not serialise: {err}"),
    };
    match Event::from_owned(value) {
        Ok(event) => {
            for w in &event.warnings {
                eprintln!(
                    "warning: Event {}/{}: {}",
                    kplug::output::Escaped(&event.namespace),
                    kplug::output::Escaped(&event.name),
                    w
                );
            }
            if let Some(l) = lookups {
                l.learn(&event.regarding);
            }
            batch.push(prepare.record(event));
        }
        Err(err) => eprintln!("skipping: {}", kplug::output::escape(&err.to_string())),
    }
}

/// Write the batch; on failure keep it (bounded by the caller's flushes)
/// and try again at the next tick.
/// Run `f` on the store on a blocking thread.
async fn with_store<T: Send + 'static>(
    store: &Arc<Mutex<Store>>,
    f: impl FnOnce(&mut Store) -> T + Send + 'static,
) -> T {
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&mut store.lock().unwrap_or_else(|p| p.into_inner())))
        .await
        .expect("store calls do not panic")
}

/// Write the batch. A transient failure keeps it for another try once the
/// backoff allows; one that retrying cannot mend is returned, the batch
/// still held.
async fn write(
    store: &Arc<Mutex<Store>>,
    batch: &mut Vec<Record>,
    health: &Health,
    backoff: &mut Backoff,
) -> Result<(), StoreError> {
    if batch.is_empty() || !backoff.ready(std::time::Instant::now()) {
        return Ok(());
    }
    let taken = std::mem::take(batch);
    let (taken, result) = with_store(store, move |s| {
        let r = s.ingest(&taken);
        (taken, r)
    })
    .await;
    *batch = taken;
    match result {
        Ok(stats) => {
            backoff.reset();
            health
                .occurrences_written
                .fetch_add(stats.occurrences, Ordering::Relaxed);
            health
                .dedup_hits
                .fetch_add(stats.duplicates, Ordering::Relaxed);
            if let Some(last) = batch.iter().filter_map(|r| r.event.last_observed).max() {
                health.lag_seconds.store(
                    jiff::Timestamp::now().as_second() - last.as_second(),
                    Ordering::Relaxed,
                );
            }
            batch.clear();
            Ok(())
        }
        Err(e) => {
            health.store_errors.fetch_add(1, Ordering::Relaxed);
            if !e.is_transient() {
                return Err(e);
            }
            let wait = backoff.failed(std::time::Instant::now());
            eprintln!(
                "store: {e}; keeping {} events and retrying in {wait:?}",
                batch.len()
            );
            Ok(())
        }
    }
}

/// The sentence the collector stops with when the store cannot take writes
/// for good; nothing is lost that the API server still holds.
fn store_stop(e: StoreError, held: usize) -> anyhow::Error {
    anyhow::Error::new(e).context(format!(
        "the store cannot take writes; stopping with {held} events unwritten (the API server keeps Events for about an hour: the next collect relists them, and the ledger keeps them from being counted twice)"
    ))
}

/// A minimal HTTP server for `GET /metrics`.
async fn serve_metrics(listener: tokio::net::TcpListener, health: Arc<Health>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            continue;
        };
        let health = health.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let n = sock.read(&mut buf).await.unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]);
            let (status, body) = if request.starts_with("GET /metrics") {
                ("200 OK", health.prometheus())
            } else {
                ("404 Not Found", "not found\n".to_string())
            };
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(response.as_bytes()).await;
        });
    }
}
