//! Reading workloads and Pods from the cluster for analysis: `TYPE`,
//! `TYPE/NAME` (kubectl's names and aliases), `-n`, `-A`, `-l`. A Pod's
//! controller is fetched too, so admission drift can be seen.

use anyhow::{Context, bail};
use kplug::cli::KubectlArgs;
use kplug::workload::{self, WorkloadType};
use kube::api::{Api, DynamicObject, ListParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::Value;

use kplug_sidecar::template::PodTemplate;
use kplug_sidecar::validation::KubeVersion;

/// What to read: every object of a kind, or one by name.
#[derive(Debug, Clone)]
pub struct Target {
    pub kind: WorkloadType,
    pub name: Option<String>,
}

/// `deploy/web`, `pods`, `all`.
pub fn parse_targets(args: &[String]) -> anyhow::Result<Vec<Target>> {
    let mut out = Vec::new();
    for arg in args {
        for part in arg.split(',') {
            let (kind, name) = match part.split_once('/') {
                Some((k, n)) => (k, Some(n.to_string())),
                None => (part, None),
            };
            if kind == "all" && name.is_none() {
                out.extend(workload::all_types().map(|kind| Target { kind, name: None }));
                continue;
            }
            let Some(kind) = workload::resolve_type(kind) else {
                bail!(kplug::Error::Usage(format!(
                    "\"{kind}\" is not a kind with a Pod template; use pods, deployments, statefulsets, daemonsets, replicasets, jobs, cronjobs, replicationcontrollers, podtemplates or all"
                )));
            };
            out.push(Target { kind, name });
        }
    }
    Ok(out)
}

pub fn resource(kind: &WorkloadType) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(kind.group, kind.version, kind.kind),
        kind.plural,
    )
}

fn to_value(kind: &WorkloadType, o: DynamicObject) -> anyhow::Result<Value> {
    let mut v = serde_json::to_value(o)?;
    // List items come without their type.
    v["apiVersion"] = kind.api_version().into();
    v["kind"] = kind.kind.into();
    Ok(v)
}

/// The live objects, and (separately) the controllers of the Pods among
/// them, for the drift check. Also the server's version.
pub struct Fetched {
    /// The objects read, as the server returned them.
    pub objects: Vec<Value>,
    pub templates: Vec<PodTemplate>,
    pub owners: Vec<PodTemplate>,
    pub version: Option<KubeVersion>,
}

pub async fn fetch(kube: &KubectlArgs, targets: &[Target]) -> anyhow::Result<Fetched> {
    let config = kplug::client::config(kube).await?;
    let server = config.cluster_url.to_string();
    let namespace = config.default_namespace.clone();
    let client = kplug::client::client_from_config(config)?;
    let version = kplug::client::request(kube, &server, client.apiserver_version())
        .await
        .ok()
        .and_then(|v| KubeVersion::parse(&format!("{}.{}", v.major, v.minor)));
    let api = |kind: &WorkloadType, all: bool| -> Api<DynamicObject> {
        if all {
            Api::all_with(client.clone(), &resource(kind))
        } else {
            Api::namespaced_with(client.clone(), &namespace, &resource(kind))
        }
    };
    let bar = kplug::output::progress::progress_bar(targets.len() as u64, "reading objects");
    let mut values = Vec::new();
    for t in targets {
        match &t.name {
            Some(name) => {
                let o = kplug::client::request(kube, &server, api(&t.kind, false).get(name))
                    .await
                    .with_context(|| format!("reading {}/{name}", t.kind.plural))?;
                values.push(to_value(&t.kind, o)?);
            }
            None => {
                let mut params = ListParams::default();
                if let Some(s) = &kube.selector {
                    params = params.labels(s);
                }
                let list = kplug::client::request(
                    kube,
                    &server,
                    api(&t.kind, kube.all_namespaces).list(&params),
                )
                .await
                .with_context(|| format!("listing {}", t.kind.plural))?;
                for o in list.items {
                    values.push(to_value(&t.kind, o)?);
                }
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let templates: Vec<PodTemplate> = values.iter().filter_map(PodTemplate::from_value).collect();
    // Each distinct controller of a Pod, once.
    let mut wanted: Vec<(String, String, String)> = templates
        .iter()
        .filter(|t| t.kind == "Pod")
        .filter_map(|t| {
            t.owner
                .clone()
                .map(|(k, n)| (t.object.namespace.clone().unwrap_or_default(), k, n))
        })
        .collect();
    wanted.sort();
    wanted.dedup();
    let mut owners = Vec::new();
    for (ns, kind, name) in wanted {
        let Some(kind) = workload::type_of_kind(&kind) else {
            continue;
        };
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &resource(&kind));
        // A vanished or unreadable owner only means no drift check.
        if let Ok(Some(o)) = kplug::client::request(kube, &server, api.get_opt(&name)).await
            && let Some(t) = PodTemplate::from_value(&to_value(&kind, o)?)
        {
            owners.push(t);
        }
    }
    Ok(Fetched {
        objects: values,
        templates,
        owners,
        version,
    })
}
