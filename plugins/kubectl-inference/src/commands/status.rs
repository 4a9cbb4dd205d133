//! `kubectl inference status`: a pool, its parents, its endpoint picker and
//! the live load of every endpoint, scraped from the model servers.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Pod, Service};
use kplug::cli::{KubectlArgs, ReportFormat};
use kplug::output::table::{Cell, Table, TableOptions};
use kplug_inference::apis::Served;
use kplug_inference::engine::{self, Engine, Reading};
use kplug_inference::objects::Pool;
use kube::api::{Api, DynamicObject, ListParams};
use serde::Serialize;

use super::cluster::{Cluster, is_ready};

/// A pool's parents and conditions, its endpoint picker's Service and
/// readiness, and every endpoint (Ready Pods matching its selector × target
/// ports, narrowed by active-ports) with its engine and live load scraped
/// from http://podIP:port/metrics: waiting, running, KV cache, LoRA
/// adapters, how long the scrape took, metrics missing. Scrapes run at once,
/// each with a timeout: a dead endpoint is a row with its error
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The pool (default: every pool of the namespace)
    pub pool: Option<String>,

    /// Give up on an endpoint's /metrics after this long
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = kplug::cli::parse_duration)]
    pub scrape_timeout: Duration,

    #[arg(short = 'o', long, value_name = "FORMAT")]
    pub output: Option<ReportFormat>,
}

/// One endpoint and what its scrape found.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct EndpointStatus {
    /// `<pod>-rank-<i>`, as the EPP names it.
    name: String,
    address: String,
    engine: Engine,
    #[serde(skip_serializing_if = "Option::is_none")]
    reading: Option<Reading>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    scrape_ms: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PoolStatus {
    name: String,
    namespace: String,
    api_version: String,
    pool: Pool,
    /// The endpoint picker's Service and its Ready Pods, `ready/total`.
    picker: Option<String>,
    endpoints: Vec<EndpointStatus>,
}

/// `status`, again and again: refreshed in place on a terminal, one
/// snapshot after another (each headed by its time) when piped
#[derive(Debug, clap::Args)]
pub struct TopArgs {
    /// The pool (default: every pool of the namespace)
    pub pool: Option<String>,

    /// Time between refreshes
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = kplug::cli::parse_duration)]
    pub interval: Duration,

    /// Stop after this many refreshes (default: until interrupted)
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,

    /// Give up on an endpoint's /metrics after this long
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = kplug::cli::parse_duration)]
    pub scrape_timeout: Duration,
}

pub fn run_top(kube: &KubectlArgs, args: TopArgs) -> anyhow::Result<kplug::Code> {
    use std::io::IsTerminal;
    let tty = std::io::stdout().is_terminal();
    let runtime = kplug::cli::runtime()?;
    // Connect and discover once; each refresh only reads pools and scrapes.
    let session = runtime.block_on(Session::open(kube, args.scrape_timeout))?;
    let mut shown = 0u64;
    loop {
        let pools = runtime.block_on(session.snapshot(kube, args.pool.as_deref()))?;
        let mut frame = Vec::new();
        writeln!(
            frame,
            "{}",
            jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ")
        )?;
        for p in &pools {
            human(p, &mut frame)?;
        }
        let mut out = std::io::stdout().lock();
        if tty {
            // Home and clear: the new frame replaces the old one.
            out.write_all(b"\x1b[H\x1b[2J")?;
        }
        out.write_all(&frame)?;
        out.flush()?;
        shown += 1;
        if args.count.is_some_and(|n| shown >= n) {
            return Ok(kplug::Code::Success);
        }
        std::thread::sleep(args.interval);
    }
}

pub fn run(kube: &KubectlArgs, args: Args) -> anyhow::Result<kplug::Code> {
    let pools = kplug::cli::runtime()?.block_on(async {
        let session = Session::open(kube, args.scrape_timeout).await?;
        session.snapshot(kube, args.pool.as_deref()).await
    })?;
    let mut out = std::io::stdout().lock();
    match args.output {
        Some(format) => {
            super::print_report(&serde_json::json!({ "pools": pools }), format, &mut out)?
        }
        None => {
            for p in &pools {
                human(p, &mut out)?;
            }
        }
    }
    Ok(kplug::Code::Success)
}

fn human(p: &PoolStatus, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "Pool {}/{} ({})", p.namespace, p.name, p.api_version)?;
    writeln!(out, "  selector:        {}", p.pool.selector_text())?;
    writeln!(out, "  endpoint picker: {}", p.pool.picker_text())?;
    if let Some(picker) = &p.picker {
        writeln!(out, "                   {picker}")?;
    }
    writeln!(out, "  parents:         {}", p.pool.parents_text())?;
    if p.endpoints.is_empty() {
        writeln!(out, "  no ready endpoints\n")?;
        return Ok(());
    }
    let mut t = Table::new(&[
        "ENDPOINT", "ADDRESS", "ENGINE", "WAITING", "RUNNING", "KV", "LORA", "SCRAPE", "PROBLEMS",
    ]);
    for e in &p.endpoints {
        let (waiting, running, kv, lora, problems) = match (&e.reading, &e.error) {
            (_, Some(err)) => ("-".into(), "-".into(), "-".into(), "-".into(), err.clone()),
            (Some(r), None) => {
                let m = &r.metrics;
                let lora = if m.max_active_models == 0 && m.active_models.is_empty() {
                    "-".to_string()
                } else {
                    format!(
                        "{}/{} of {}",
                        m.active_models.len(),
                        m.waiting_models.len(),
                        m.max_active_models
                    )
                };
                let mut problems: Vec<String> =
                    r.missing.iter().map(|m| format!("no {m}")).collect();
                if let Some(old) = r.old_kv_usage {
                    problems.push(format!("only vllm:gpu_cache_usage_perc ({old})"));
                }
                (
                    m.waiting_queue_size.to_string(),
                    m.running_requests_size.to_string(),
                    format!("{:.0}%", m.kv_cache_usage_percent * 100.0),
                    lora,
                    if problems.is_empty() {
                        "-".into()
                    } else {
                        problems.join("; ")
                    },
                )
            }
            (None, None) => Default::default(),
        };
        t.push([
            Cell::from(e.name.as_str()),
            Cell::from(e.address.as_str()),
            Cell::from(e.engine.name()),
            Cell::from(waiting),
            Cell::from(running),
            Cell::from(kv),
            Cell::from(lora),
            Cell::from(format!("{}ms", e.scrape_ms)),
            Cell::from(problems),
        ]);
    }
    let table = t.to_string_with(TableOptions::default());
    for line in table.lines() {
        writeln!(out, "  {line}")?;
    }
    writeln!(out)
}

/// What does not change between refreshes: the connection, the pool API
/// versions the cluster serves, the HTTP client for scrapes.
struct Session {
    cluster: Cluster,
    namespace: String,
    served: Vec<Served>,
    http: reqwest::Client,
}

impl Session {
    async fn open(kube: &KubectlArgs, scrape_timeout: Duration) -> anyhow::Result<Session> {
        let cluster = Cluster::connect(kube).await?;
        let namespace = kube.namespace.clone().unwrap_or(cluster.namespace.clone());
        let served: Vec<Served> = cluster
            .served(kube)
            .await?
            .into_iter()
            .filter(|s| s.kind == "InferencePool")
            .collect();
        if served.is_empty() {
            anyhow::bail!(
                "the cluster serves no InferencePool (`kubectl inference version` shows what it serves)"
            );
        }
        let http = reqwest::Client::builder()
            .timeout(scrape_timeout)
            .build()
            .context("building the HTTP client")?;
        Ok(Session {
            cluster,
            namespace,
            served,
            http,
        })
    }

    /// The pools (one, or all of the namespace) as they are now.
    async fn snapshot(
        &self,
        kube: &KubectlArgs,
        only: Option<&str>,
    ) -> anyhow::Result<Vec<PoolStatus>> {
        let (cluster, namespace) = (&self.cluster, &self.namespace);
        let mut pools = Vec::new();
        for s in &self.served {
            let resource = super::cluster::resource(s);
            let api: Api<DynamicObject> =
                Api::namespaced_with(cluster.client.clone(), namespace, &resource);
            let objects: Vec<DynamicObject> = match only {
                Some(name) => kplug::client::request(kube, &cluster.server, api.get_opt(name))
                    .await?
                    .into_iter()
                    .collect(),
                None => {
                    kplug::client::request(kube, &cluster.server, api.list(&ListParams::default()))
                        .await?
                        .items
                }
            };
            for object in objects {
                let pool = Pool::read(&serde_json::to_value(&object)?);
                let name = object.metadata.name.clone().unwrap_or_default();
                let targets = endpoints(kube, cluster, namespace, &pool).await?;
                let endpoints = scrape_all(&self.http, targets).await;
                let picker = match &pool.picker {
                    Some(p) => Some(picker_status(kube, cluster, namespace, &p.name).await),
                    None => None,
                };
                pools.push(PoolStatus {
                    name,
                    namespace: namespace.clone(),
                    api_version: s.api_version(),
                    pool,
                    picker,
                    endpoints,
                });
            }
        }
        if let Some(name) = only
            && pools.is_empty()
        {
            anyhow::bail!(kplug::Error::NotFound {
                message: format!("InferencePool {name:?} in {namespace}"),
            });
        }
        Ok(pools)
    }
}

/// The picker's Service and the readiness of the Pods behind it.
async fn picker_status(
    kube: &KubectlArgs,
    cluster: &Cluster,
    namespace: &str,
    name: &str,
) -> String {
    let services: Api<Service> = Api::namespaced(cluster.client.clone(), namespace);
    let service = match kplug::client::request(kube, &cluster.server, services.get_opt(name)).await
    {
        Ok(Some(s)) => s,
        Ok(None) => return format!("Service {name} does not exist: requests to the pool fail"),
        Err(e) => return format!("Service {name}: {e}"),
    };
    let selector = service
        .spec
        .and_then(|s| s.selector)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    if selector.is_empty() {
        return format!("Service {name} selects no Pods");
    }
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), namespace);
    match kplug::client::request(
        kube,
        &cluster.server,
        pods.list(&ListParams::default().labels(&selector)),
    )
    .await
    {
        Ok(list) => {
            let ready = list.items.iter().filter(|p| is_ready(p)).count();
            format!(
                "Service {name}: {ready}/{} picker Pods ready",
                list.items.len()
            )
        }
        Err(e) => format!("Service {name}: {e}"),
    }
}

/// (name, address, engine) of every endpoint of `pool`.
async fn endpoints(
    kube: &KubectlArgs,
    cluster: &Cluster,
    namespace: &str,
    pool: &Pool,
) -> anyhow::Result<Vec<(String, String, Engine)>> {
    if pool.selector.is_empty() {
        return Ok(Vec::new());
    }
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), namespace);
    let list = kplug::client::request(
        kube,
        &cluster.server,
        pods.list(&ListParams::default().labels(&pool.selector_text())),
    )
    .await
    .context("listing the pool's Pods")?;
    let mut out = Vec::new();
    for p in list.items.iter().filter(|p| is_ready(p)) {
        let Some(ip) = p.status.as_ref().and_then(|s| s.pod_ip.clone()) else {
            continue;
        };
        let name = p.metadata.name.clone().unwrap_or_default();
        let labels = p.metadata.labels.clone().unwrap_or_default();
        let engine = labels
            .get("inference.networking.k8s.io/engine-type")
            .and_then(|e| Engine::parse(e))
            .unwrap_or_default();
        for (rank, port) in pool.ports_of(super::cluster::active_ports(p)) {
            out.push((
                format!("{name}-rank-{rank}"),
                format!("{ip}:{port}"),
                engine,
            ));
        }
    }
    Ok(out)
}

/// Scrape every endpoint at once; each failure is its row's error.
async fn scrape_all(
    http: &reqwest::Client,
    targets: Vec<(String, String, Engine)>,
) -> Vec<EndpointStatus> {
    futures::stream::iter(targets)
        .map(|(name, address, engine)| async move {
            let start = Instant::now();
            let result = scrape(http, &address, engine).await;
            let scrape_ms = start.elapsed().as_millis() as u64;
            let (reading, error) = match result {
                Ok(r) => (Some(r), None),
                Err(e) => (None, Some(e)),
            };
            EndpointStatus {
                name,
                address,
                engine,
                reading,
                error,
                scrape_ms,
            }
        })
        .buffered(64)
        .collect()
        .await
}

async fn scrape(http: &reqwest::Client, address: &str, engine: Engine) -> Result<Reading, String> {
    let response = http
        .get(format!("http://{address}/metrics"))
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                "no answer in time".to_string()
            } else if e.is_connect() {
                "connection refused or unreachable".to_string()
            } else {
                e.to_string()
            }
        })?;
    if !response.status().is_success() {
        return Err(format!("/metrics answered {}", response.status()));
    }
    let body = response.text().await.map_err(|e| e.to_string())?;
    engine::read(&body, engine).map_err(|e| format!("/metrics: {e}"))
}
