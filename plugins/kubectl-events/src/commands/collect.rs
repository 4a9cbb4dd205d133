//! `kubectl eventlog collect`: watch Events and store every occurrence once.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use k8s_openapi::api::core::v1::Event as CoreEvent;
use kplug::cli::KubectlArgs;
use kplug_eventlog::collect::{CollectError, Collector, Settings};
use kplug_eventlog::health::Health;
use kplug_eventlog::record::Preparer;
use kplug_eventlog::store::Access;
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

pub async fn run(kube: &KubectlArgs, args: Args) -> anyhow::Result<kplug::Code> {
    let classifier = args.rules.classifier()?;
    let store = args.store.open(Access::Write).await?;
    let policy = args.retention.policy();
    let settings = Settings {
        flush_interval: args.flush_interval,
        log_interval: Some(args.log_interval),
        retention: policy,
        ..Settings::default()
    };
    let described = store.describe();
    let prepare = Preparer::new(&args.cluster_name, &classifier);
    let mut collector = Collector::new(store, prepare, settings);
    if let Some(addr) = args.metrics_addr {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {addr} for metrics"))?;
        eprintln!("metrics on http://{}/metrics", listener.local_addr()?);
        tokio::spawn(serve(listener, collector.health()));
    }
    let config = kplug::client::config(kube).await?;
    let server = config.cluster_url.to_string();
    let client = kplug::client::client_from_config(config)?;
    let (mut lookups, learnt) = Lookups::new(client.clone(), &args.cluster_name);
    if !args.no_object_labels {
        collector = collector.observe(move |e| lookups.learn(&e.regarding));
    }
    let api: Api<CoreEvent> = match (&kube.namespace, kube.all_namespaces) {
        (Some(ns), false) => Api::namespaced(client, ns),
        _ => Api::all(client),
    };
    let mut config = watcher::Config::default().page_size(500);
    if let Some(f) = &args.field_selector {
        config = config.fields(f);
    }
    let events = watcher(api, config).default_backoff();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("watching for SIGTERM")?;
    let shutdown = async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    eprintln!("collecting events into {described}");
    let learnt = tokio_stream_of(learnt);
    match collector.run(events, learnt, shutdown).await {
        Ok(report) if report.held == 0 => Ok(kplug::Code::Success),
        Ok(_) => Ok(kplug::Code::Error),
        Err(CollectError::Watch(e)) => Err(explain(e, &server)),
        Err(e) => Err(e.into()),
    }
}

/// The receiver as a stream.
fn tokio_stream_of<T>(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<T>,
) -> impl futures::Stream<Item = T> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// The sentence for a watch failure that retrying cannot mend.
fn explain(e: watcher::Error, server: &str) -> anyhow::Error {
    let server = kplug::client::redact_url(server);
    if let Some(problem) = kplug::client::tls_problem(&e) {
        return kplug::Error::Tls { server, problem }.into();
    }
    match &e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
            if s.code == 401 =>
        {
            kplug::Error::Unauthorized { server }.into()
        }
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
            if s.code == 403 =>
        {
            anyhow::anyhow!(
                "the collector may not list and watch Events ({}); apply deploy/eventlog/10-rbac.yaml (the ClusterRole kplug-eventlog-reader grants list and watch on events, core and events.k8s.io) and bind it to the user or ServiceAccount that runs it",
                kplug::output::escape(&s.message)
            )
        }
        _ => anyhow::Error::new(e).context("watching Events"),
    }
}

/// `/metrics` (Prometheus text), `/healthz` (alive) and `/readyz` (listed,
/// and the store takes writes), for the collector's probes and scrapes.
async fn serve(listener: tokio::net::TcpListener, health: Arc<Health>) {
    use axum::http::{StatusCode, header};
    use axum::routing::get;
    let metrics = health.clone();
    let app = axum::Router::new()
        .route(
            "/metrics",
            get(move || async move {
                (
                    [(header::CONTENT_TYPE, Health::CONTENT_TYPE)],
                    metrics.prometheus(),
                )
            }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(move || async move {
                match health.ready() {
                    Ok(()) => (StatusCode::OK, "ready\n".to_string()),
                    Err(why) => (
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!("not ready: {why}\n"),
                    ),
                }
            }),
        );
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("eventlog: the metrics server stopped: {e}");
    }
}
