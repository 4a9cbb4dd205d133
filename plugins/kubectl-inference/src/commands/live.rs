//! A pool as it is now: its object, its endpoint picker's readiness and
//! every endpoint's live load, scraped from the model servers. `status`,
//! `top` and `explain POOL` all read pools through this.

use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use kplug::cli::KubectlArgs;
use kplug_inference::apis::Served;
use kplug_inference::engine::{self, Engine, Reading};
use kplug_inference::epp::{self, ConfigSource};
use kplug_inference::objects::Pool;
use kube::api::{Api, DynamicObject, ListParams};
use serde::Serialize;

use super::cluster::{Cluster, is_ready};

/// One endpoint and what its scrape found.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointStatus {
    /// `<pod>-rank-<i>`, as the EPP names it.
    pub name: String,
    pub address: String,
    pub engine: Engine,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reading: Option<Reading>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub scrape_ms: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolStatus {
    pub name: String,
    pub namespace: String,
    pub api_version: String,
    pub pool: Pool,
    /// The endpoint picker's Service and its Ready Pods, `ready/total`.
    pub picker: Option<String>,
    pub endpoints: Vec<EndpointStatus>,
    /// The Pods the selector matches, Ready or not (read once, for
    /// `doctor`).
    #[serde(skip)]
    pub pods: Vec<Pod>,
    /// The picker's Service as read (`Ok(None)`: it does not exist), for
    /// `explain` and `doctor`.
    #[serde(skip)]
    pub picker_service: Result<Option<Service>, String>,
}

impl PoolStatus {
    /// The picker's Service as the snapshot read it (`None`: it does not
    /// exist), or why it could not be read.
    pub fn service(&self) -> anyhow::Result<Option<&Service>> {
        let name = self.pool.picker.as_ref().map_or("", |p| p.name.as_str());
        self.picker_service
            .as_ref()
            .map(Option::as_ref)
            .map_err(|e| anyhow::anyhow!("Service {name}: {e}"))
    }
}

/// What does not change between refreshes: the connection, the pool API
/// versions the cluster serves, the HTTP client for scrapes.
pub struct Session {
    pub cluster: Cluster,
    pub namespace: String,
    /// The pool API versions served.
    pub served: Vec<Served>,
    /// Every kind of ours served.
    pub kinds: Vec<Served>,
    pub http: reqwest::Client,
}

impl Session {
    pub async fn open(kube: &KubectlArgs, scrape_timeout: Duration) -> anyhow::Result<Session> {
        let cluster = Cluster::connect(kube).await?;
        let namespace = kube.namespace.clone().unwrap_or(cluster.namespace.clone());
        let kinds = cluster.served(kube).await?;
        let served: Vec<Served> = kinds
            .iter()
            .filter(|s| s.kind == "InferencePool")
            .cloned()
            .collect();
        if served.is_empty() {
            anyhow::bail!(
                "the cluster serves no InferencePool (`kubectl inference version` shows what it serves)"
            );
        }
        let http = http_client(scrape_timeout)?;
        Ok(Session {
            cluster,
            namespace,
            served,
            kinds,
            http,
        })
    }

    /// The EndpointPickerConfig the picker behind `service` (named
    /// `name`, as read by [`Session::snapshot`]) runs, and where it was
    /// found; `None` for the built-in default profile.
    pub async fn picker_config(
        &self,
        kube: &KubectlArgs,
        name: &str,
        service: Option<&Service>,
    ) -> anyhow::Result<(Option<String>, String)> {
        const DEFAULT: &str = "the GIE v1.5.0 default profile";
        let Some(deployment) =
            picker_deployment(kube, &self.cluster, &self.namespace, service).await?
        else {
            return Ok((
                None,
                format!("{DEFAULT} (no Deployment behind Service {name} to read it from)"),
            ));
        };
        let name = deployment.metadata.name.clone().unwrap_or_default();
        let spec = deployment
            .spec
            .and_then(|s| s.template.spec)
            .unwrap_or_default();
        match epp::config_source(&spec) {
            ConfigSource::Default => Ok((
                None,
                format!("{DEFAULT} (Deployment {name} sets no config)"),
            )),
            ConfigSource::Text(text) => {
                Ok((Some(text), format!("--config-text of Deployment {name}")))
            }
            ConfigSource::File {
                path,
                config_map: None,
            } => anyhow::bail!(
                "Deployment {name} reads its config from {path}, which no ConfigMap volume provides: pass it with --config"
            ),
            ConfigSource::File {
                path,
                config_map: Some((cm, key)),
            } => {
                let maps: Api<ConfigMap> =
                    Api::namespaced(self.cluster.client.clone(), &self.namespace);
                let map = kplug::client::request(kube, &self.cluster.server, maps.get_opt(&cm))
                    .await?
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "ConfigMap {cm} (mounted at {path} by Deployment {name}) does not exist"
                        )
                    })?;
                let text = map.data.and_then(|mut d| d.remove(&key)).ok_or_else(|| {
                    anyhow::anyhow!(
                        "ConfigMap {cm} has no key {key:?} (Deployment {name} reads it as {path})"
                    )
                })?;
                Ok((
                    Some(text),
                    format!("ConfigMap {cm} key {key} (--config-file {path} of Deployment {name})"),
                ))
            }
        }
    }

    /// The pool `name` as it is now.
    pub async fn pool(&self, kube: &KubectlArgs, name: &str) -> anyhow::Result<PoolStatus> {
        Ok(self
            .snapshot(kube, Some(name))
            .await?
            .into_iter()
            .next()
            .expect("snapshot finds the pool or fails"))
    }

    /// The pools (one, or all of the namespace) as they are now.
    pub async fn snapshot(
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
                let pods = pool_pods(kube, cluster, namespace, &pool).await?;
                let endpoints = scrape_all(&self.http, endpoints(&pool, &pods)).await;
                let (picker, picker_service) = match &pool.picker {
                    Some(p) => {
                        let services: Api<Service> =
                            Api::namespaced(cluster.client.clone(), namespace);
                        let service = kplug::client::request(
                            kube,
                            &cluster.server,
                            services.get_opt(&p.name),
                        )
                        .await
                        .map_err(|e| e.to_string());
                        let status =
                            picker_status(kube, cluster, namespace, &p.name, &service).await;
                        (Some(status), service)
                    }
                    None => (None, Ok(None)),
                };
                pools.push(PoolStatus {
                    name,
                    namespace: namespace.clone(),
                    api_version: s.api_version(),
                    pool,
                    picker,
                    endpoints,
                    pods,
                    picker_service,
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

/// The Service's selector as a label query; `None` when it selects nothing.
fn selector_of(service: &Service) -> Option<String> {
    let selector = service
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())?
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    (!selector.is_empty()).then_some(selector)
}

/// The Deployment whose Pods `service` selects: the endpoint picker's
/// (none without a Service).
pub async fn picker_deployment(
    kube: &KubectlArgs,
    cluster: &Cluster,
    namespace: &str,
    service: Option<&Service>,
) -> anyhow::Result<Option<Deployment>> {
    let Some(wanted) = service
        .and_then(|s| s.spec.as_ref())
        .and_then(|s| s.selector.clone())
    else {
        return Ok(None);
    };
    let deployments: Api<Deployment> = Api::namespaced(cluster.client.clone(), namespace);
    let list = kplug::client::request(
        kube,
        &cluster.server,
        deployments.list(&ListParams::default()),
    )
    .await
    .context("listing Deployments")?;
    Ok(list.items.into_iter().find(|d| {
        let labels = d
            .spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref())
            .and_then(|m| m.labels.as_ref());
        labels.is_some_and(|l| wanted.iter().all(|(k, v)| l.get(k) == Some(v)))
    }))
}

/// The picker's Service `name` (as read) and the readiness of the Pods
/// behind it.
async fn picker_status(
    kube: &KubectlArgs,
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    service: &Result<Option<Service>, String>,
) -> String {
    let service = match service {
        Ok(Some(s)) => s,
        Ok(None) => return format!("Service {name} does not exist: requests to the pool fail"),
        Err(e) => return format!("Service {name}: {e}"),
    };
    let Some(selector) = selector_of(service) else {
        return format!("Service {name} selects no Pods");
    };
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

/// The Pods `pool`'s selector matches (none for an empty selector).
async fn pool_pods(
    kube: &KubectlArgs,
    cluster: &Cluster,
    namespace: &str,
    pool: &Pool,
) -> anyhow::Result<Vec<Pod>> {
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
    Ok(list.items)
}

/// (name, address, engine) of every endpoint of `pool` among `pods`.
fn endpoints(pool: &Pool, pods: &[Pod]) -> Vec<(String, String, Engine)> {
    let mut out = Vec::new();
    for p in pods.iter().filter(|p| is_ready(p)) {
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
    out
}

/// Scrape every endpoint at once; each failure is its row's error.
async fn scrape_all(
    http: &reqwest::Client,
    targets: Vec<(String, String, Engine)>,
) -> Vec<EndpointStatus> {
    futures::stream::iter(targets)
        .map(|(name, address, engine)| async move {
            let start = Instant::now();
            let result = scrape(http, &format!("http://{address}/metrics"), engine).await;
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

/// The client scrapes go through: each gives up after `timeout`.
pub fn http_client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .context("building the HTTP client")
}

/// A model server's /metrics at `url`, read for `engine`.
pub async fn scrape(http: &reqwest::Client, url: &str, engine: Engine) -> Result<Reading, String> {
    let response = http.get(url).send().await.map_err(|e| {
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
