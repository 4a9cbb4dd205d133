//! `kubectl eventlog collect`: watch Events and store every occurrence once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use k8s_openapi::api::core::v1::Event as CoreEvent;
use kplug::cli::KubectlArgs;
use kplug_eventlog::collect::{CollectError, Collector, Settings};
use kplug_eventlog::health::Health;
use kplug_eventlog::lease::{Tenure, Timing};
use kplug_eventlog::record::Preparer;
use kplug_eventlog::store::Access;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};

use super::lease::{Elector, Outcome};
use super::objects::Lookups;
use super::store::{RetentionArgs, RulesArgs, StoreArgs};
use super::track;
use kplug_eventlog::track::Tracker;

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

    /// The name recorded with every event (default: the UID of the
    /// cluster's kube-system namespace, stable for the cluster's life; a
    /// store that already holds this cluster's Events under "default", as
    /// earlier versions wrote, keeps that name)
    #[arg(long, value_name = "NAME")]
    pub cluster_name: Option<String>,

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

    /// Run as one of several replicas: only the holder of a
    /// coordination.k8s.io Lease collects; the others wait and take over
    /// when it stops renewing (needs a store they share: PostgreSQL)
    #[arg(long)]
    pub leader_elect: bool,

    /// The Lease of --leader-elect, [NAMESPACE/]NAME (default namespace:
    /// the pod's own, else "default")
    #[arg(
        long,
        value_name = "[NAMESPACE/]NAME",
        default_value = "kplug-eventlog"
    )]
    pub lease: String,

    /// How long the other replicas wait, after the Lease last changed,
    /// before taking it; the holder stops writing after two thirds of it
    /// without a renewal
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = kplug::cli::parse_duration)]
    pub lease_duration: Duration,

    /// This replica's name in the Lease (default: $POD_NAME, else the
    /// host name and process id)
    #[arg(long, value_name = "NAME")]
    pub identity: Option<String>,

    /// Keep the store's incident table current: correlate the Events of
    /// the last rule window (and of every incident still going on) this
    /// often, so `incidents --kept` reads them instead of correlating.
    /// On whenever the --rules file has alerts
    #[arg(long)]
    pub keep_incidents: bool,

    /// How often the incident tracker runs (it waits longer when a step
    /// takes long, so it never takes more than a quarter of the time)
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = kplug::cli::parse_duration)]
    pub track_interval: Duration,

    /// Post the firing alerts to Alertmanager again this often; each one
    /// ends four times this after its last post, so the alerts of a
    /// collector that stopped resolve by themselves. Failed deliveries are
    /// retried with a backoff that grows up to this
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = kplug::cli::parse_duration)]
    pub alert_resend: Duration,

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
    // Read and checked before anything starts: a mistake is a usage error.
    let alerts = args.rules.alerts()?;
    let mut store = args.store.open(Access::Write).await?;
    let tracking = args.keep_incidents || !alerts.is_empty();
    if tracking {
        // Two connections then: the tracker reads a window of recent rows
        // (a 4 MB cache of its own), and this one writes, which on SQLite
        // keeps 64 MB of pages by default; half of that serves a collector's
        // rates, and the two stay within the memory a collector is given.
        store.limit_cache(32 * 1024)?;
    }
    let config = kplug::client::config(kube).await?;
    let server = config.cluster_url.to_string();
    let client = kplug::client::client_from_config(config)?;
    let cluster_name = match &args.cluster_name {
        Some(name) => name.clone(),
        None => cluster_identity(&client, &mut store, &server).await?,
    };
    let policy = args.retention.policy();
    let settings = Settings {
        flush_interval: args.flush_interval,
        log_interval: Some(args.log_interval),
        retention: policy,
        ..Settings::default()
    };
    let described = store.describe();
    let prepare = Preparer::new(&cluster_name, &classifier);
    let mut collector = Collector::new(store, prepare, settings);
    if let Some(addr) = args.metrics_addr {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {addr} for metrics"))?;
        eprintln!("metrics on http://{}/metrics", listener.local_addr()?);
        tokio::spawn(serve(listener, collector.health()));
    }
    let lease_client = client.clone();
    let (mut lookups, learnt) = Lookups::new(client.clone(), &cluster_name);
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
    let health = collector.health();
    let mut elector = None;
    if args.leader_elect {
        let mut e = elector_for(&args, lease_client)?;
        tokio::select! {
            led = lead(&mut e, &health) => led?,
            _ = tokio::signal::ctrl_c() => return Ok(kplug::Code::Success),
            _ = term.recv() => return Ok(kplug::Code::Success),
        }
        elector = Some(e);
    } else {
        health.leader.set(1);
    }
    let shutdown = async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    eprintln!("collecting events of cluster {cluster_name} into {described}");
    let learnt = tokio_stream_of(learnt);
    // The incident tracker and the alerts, on their own thread (only the
    // leader's: it starts after the election).
    let (stop_tracker, stopped) = tokio::sync::watch::channel(false);
    let tracker = if tracking {
        let tracker = Tracker::new(&cluster_name, args.rules.incident_rules()?, alerts);
        let pace = track::Pace {
            every: args.track_interval.max(Duration::from_millis(100)),
            resend: args.alert_resend.max(Duration::from_secs(1)),
        };
        let url = args.store.url()?;
        Some(track::spawn(url, tracker, pace, health.clone(), stopped)?)
    } else {
        None
    };
    let result = collector.run(events, learnt, shutdown).await;
    let _ = stop_tracker.send(true);
    if let Some(t) = tracker {
        let _ = tokio::task::spawn_blocking(move || t.join()).await;
    }
    if let Some(mut e) = elector {
        // The next replica takes over now rather than after the lease duration.
        if let Err(err) = e.release().await {
            eprintln!("eventlog: could not release the Lease: {err}");
        }
    }
    match result {
        Ok(report) if report.held == 0 => Ok(kplug::Code::Success),
        Ok(_) => Ok(kplug::Code::Error),
        Err(CollectError::Watch(e)) => Err(explain(e, &server)),
        Err(e) => Err(e.into()),
    }
}

/// The name a cluster's rows carry when `--cluster-name` is not given: the
/// UID of its kube-system namespace (created with the cluster, never
/// renamed). A store holding Events under "default" and none under that UID
/// was written by an earlier collector of this cluster: it keeps "default",
/// or every Event would be recorded again under the new name.
async fn cluster_identity(
    client: &kube::Client,
    store: &mut kplug_eventlog::store::Store,
    server: &str,
) -> anyhow::Result<String> {
    use k8s_openapi::api::core::v1::Namespace;
    let uid = match Api::<Namespace>::all(client.clone())
        .get("kube-system")
        .await
    {
        Ok(ns) => ns.metadata.uid.unwrap_or_default(),
        // Without the right to read it the collector still runs, under the
        // old default name (and the watch says what else it may not do).
        Err(kube::Error::Api(s)) if s.code == 403 => {
            eprintln!(
                "eventlog: may not read the kube-system namespace, whose UID names the cluster; recording as \"default\" (pass --cluster-name, or apply deploy/eventlog/10-rbac.yaml)"
            );
            return Ok("default".to_string());
        }
        // The same sentences as any other call: an untrusted certificate,
        // a wrong password, a server that is not Kubernetes.
        Err(e) => return Err(kplug::client::api_error(e, server).into()),
    };
    if uid.is_empty() {
        anyhow::bail!("the kube-system namespace has no UID; pass --cluster-name");
    }
    if store.holds_cluster("default").await? && !store.holds_cluster(&uid).await? {
        eprintln!(
            "eventlog: this store holds Events of a cluster named \"default\"; keeping that name (pass --cluster-name {uid} to record under the cluster's UID)"
        );
        return Ok("default".to_string());
    }
    Ok(uid)
}

/// The election `args` ask for: the Lease's namespace and name, this
/// replica's identity and the timings.
fn elector_for(args: &Args, client: kube::Client) -> anyhow::Result<Elector> {
    let (namespace, name) = match args.lease.split_once('/') {
        Some((ns, name)) => (ns.to_string(), name.to_string()),
        None => (
            std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
                .map(|ns| ns.trim().to_string())
                .unwrap_or_else(|_| "default".to_string()),
            args.lease.clone(),
        ),
    };
    if name.is_empty() || namespace.is_empty() {
        anyhow::bail!(kplug::Error::Usage(format!(
            "--lease {}: give NAME or NAMESPACE/NAME",
            args.lease
        )));
    }
    let identity = args
        .identity
        .clone()
        .or_else(|| std::env::var("POD_NAME").ok().filter(|n| !n.is_empty()))
        .unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
            format!("{}-{}", host.trim(), std::process::id())
        });
    let timing = Timing::from_duration(args.lease_duration.max(Duration::from_secs(1)));
    Ok(Elector::new(client, &namespace, &name, &identity, timing))
}

/// Wait until this replica holds the Lease, then keep renewing it in the
/// background. A holder that cannot renew within the deadline exits at
/// once: another replica may take over after the lease duration, and two
/// must never write together. (What it had read and not written is read
/// again by the next leader's list; the ledger keeps it exactly once.)
async fn lead(elector: &mut Elector, health: &Arc<Health>) -> anyhow::Result<()> {
    let timing = elector.timing();
    let mut following: Option<String> = None;
    loop {
        match elector.try_lead().await {
            Ok(Outcome::Leading { took_over }) => {
                eprintln!(
                    "eventlog: {} leads{}",
                    elector.me(),
                    if took_over {
                        " (took the Lease over)"
                    } else {
                        ""
                    }
                );
                break;
            }
            Ok(Outcome::Following { holder }) => {
                if following.as_deref() != Some(holder.as_str()) {
                    eprintln!("eventlog: {} waits; {holder} holds the Lease", elector.me());
                    following = Some(holder);
                }
            }
            Err(kube::Error::Api(s)) if s.code == 403 => anyhow::bail!(
                "--leader-elect: may not read or write the Lease ({}); apply deploy/eventlog/10-rbac.yaml (the Role kplug-eventlog-lease grants get, create and update on leases in the collector's namespace)",
                kplug::output::escape(&s.message)
            ),
            Err(e) => eprintln!("eventlog: reading the Lease: {e}"),
        }
        tokio::time::sleep(timing.retry).await;
    }
    health.leader.set(1);
    health.leaderships.inc();
    let mut renewer = elector.clone();
    let health = health.clone();
    tokio::spawn(async move {
        let mut tenure = Tenure {
            renewed: Instant::now(),
            renew_deadline: timing.renew_deadline,
        };
        loop {
            tokio::time::sleep(timing.retry).await;
            match renewer.try_lead().await {
                Ok(Outcome::Leading { .. }) => tenure.renewed = Instant::now(),
                Ok(Outcome::Following { holder }) => {
                    health.leader.set(0);
                    eprintln!("eventlog: {holder} holds the Lease now; stopping");
                    std::process::exit(1);
                }
                Err(e) => eprintln!("eventlog: renewing the Lease: {e}"),
            }
            if !tenure.holds(Instant::now()) {
                health.leader.set(0);
                eprintln!(
                    "eventlog: the Lease was not renewed for {:?}; stopping so that no other replica writes beside this one",
                    timing.renew_deadline
                );
                std::process::exit(1);
            }
        }
    });
    Ok(())
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
