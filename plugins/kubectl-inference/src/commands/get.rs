//! `kubectl inference get`: the extension's objects with the columns a
//! person needs (`kubectl get inferencepool` shows only NAME and AGE).

use std::io::Write;

use anyhow::Context;
use k8s_openapi::api::core::v1::Pod;
use kplug::cli::{KubectlArgs, OutputFormat};
use kplug::output::table::{Cell, Table};
use kplug_inference::apis::Served;
use kplug_inference::objects::{self, Pool};
use kube::api::{Api, DynamicObject, ListParams};
use serde_json::Value;

use super::cluster::Cluster;

/// List InferencePools, InferenceObjectives, InferenceModels,
/// InferenceModelRewrites or InferencePoolImports of every API version the
/// cluster serves, with their spec and status in columns: a pool's selector,
/// target ports, endpoint picker and failure mode, parents with Accepted and
/// ResolvedRefs, and ready endpoints (Ready Pods, not terminating, matching
/// the selector, times the target ports)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// pools, objectives, models, rewrites or imports (singular and
    /// kubectl's short names too: infpool, infpimp)
    #[arg(value_name = "WHAT", value_parser = parse_what)]
    pub what: What,

    /// One object by name
    pub name: Option<String>,

    #[arg(short = 'o', long, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    Pools,
    Objectives,
    Models,
    Rewrites,
    Imports,
}

impl What {
    fn kind(self) -> &'static str {
        match self {
            What::Pools => "InferencePool",
            What::Objectives => "InferenceObjective",
            What::Models => "InferenceModel",
            What::Rewrites => "InferenceModelRewrite",
            What::Imports => "InferencePoolImport",
        }
    }
}

fn parse_what(text: &str) -> Result<What, String> {
    Ok(match text {
        "pools" | "pool" | "inferencepools" | "inferencepool" | "infpool" => What::Pools,
        "objectives" | "objective" | "inferenceobjectives" | "inferenceobjective" => {
            What::Objectives
        }
        "models" | "model" | "inferencemodels" | "inferencemodel" => What::Models,
        "rewrites" | "rewrite" | "inferencemodelrewrites" | "inferencemodelrewrite" => {
            What::Rewrites
        }
        "imports" | "import" | "inferencepoolimports" | "inferencepoolimport" | "infpimp" => {
            What::Imports
        }
        _ => {
            return Err(format!(
                "{text:?}: one of pools, objectives, models, rewrites, imports"
            ));
        }
    })
}

/// An object with the API version it was read at.
struct Item {
    served: Served,
    object: DynamicObject,
    /// The object as JSON, with its apiVersion and kind: what is printed
    /// and what the columns are read from.
    value: Value,
    /// Ready endpoints, for pools.
    endpoints: Option<usize>,
}

pub fn run(kube: &KubectlArgs, args: Args) -> anyhow::Result<kplug::Code> {
    let items = kplug::cli::runtime()?.block_on(fetch(kube, &args))?;
    let printer = kplug::output::format::Printer::new(kube, args.output);
    let mut out = std::io::stdout().lock();
    if items.is_empty() && !printer.is_machine() {
        eprintln!("No {} found.", args.what.kind());
        return Ok(kplug::Code::Success);
    }
    let values: Vec<&Value> = items.iter().map(|i| &i.value).collect();
    printer.print_list(
        &values,
        |v| {
            format!(
                "{}.{}/{}",
                v["kind"].as_str().unwrap_or("").to_lowercase(),
                v["apiVersion"]
                    .as_str()
                    .unwrap_or("")
                    .split('/')
                    .next()
                    .unwrap_or(""),
                v["metadata"]["name"].as_str().unwrap_or("")
            )
        },
        || table(args.what, &items),
        &mut out,
    )?;
    out.flush()?;
    Ok(kplug::Code::Success)
}

fn table(what: What, items: &[Item]) -> Table {
    let mut t = match what {
        What::Pools => Table::new(&[
            "NAME",
            "SELECTOR",
            "PORTS",
            "ENDPOINT PICKER",
            "ENDPOINTS",
            "PARENTS",
            "AGE",
        ]),
        What::Objectives => Table::new(&["NAME", "POOL", "PRIORITY", "AGE"]),
        What::Models => Table::new(&[
            "NAME",
            "MODEL NAME",
            "POOL",
            "CRITICALITY",
            "TARGETS",
            "AGE",
        ]),
        What::Rewrites => Table::new(&["NAME", "POOL", "RULES", "AGE"]),
        What::Imports => Table::new(&["NAME", "CONTROLLERS", "EXPORTING CLUSTERS", "AGE"]),
    }
    .wide_column("API VERSION");
    for item in items {
        let v = &item.value;
        let name = item.object.metadata.name.clone().unwrap_or_default();
        let mut cells: Vec<String> = vec![name];
        match what {
            What::Pools => {
                let p = Pool::read(v);
                let ports: Vec<String> = p.target_ports.iter().map(i64::to_string).collect();
                cells.extend([
                    p.selector_text(),
                    ports.join(","),
                    p.picker_text(),
                    item.endpoints.map_or("-".to_string(), |n| n.to_string()),
                    p.parents_text(),
                ]);
            }
            What::Objectives => {
                let (pool, priority) = objects::objective(v);
                cells.extend([pool, priority]);
            }
            What::Models => cells.extend(objects::model(v)),
            What::Rewrites => {
                let (pool, rules) = objects::rewrite(v);
                cells.extend([pool, rules]);
            }
            What::Imports => {
                let (controllers, clusters) = objects::import(v);
                cells.extend([controllers, clusters]);
            }
        }
        let created = item
            .object
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0);
        cells.push(kplug::output::age::age(created));
        cells.push(item.served.api_version());
        let namespace = item.object.metadata.namespace.clone().unwrap_or_default();
        t.push_in(&namespace, cells.into_iter().map(Cell::from));
    }
    t
}

async fn fetch(kube: &KubectlArgs, args: &Args) -> anyhow::Result<Vec<Item>> {
    let cluster = Cluster::connect(kube).await?;
    let served: Vec<Served> = cluster
        .served(kube)
        .await?
        .into_iter()
        .filter(|s| s.kind == args.what.kind())
        .collect();
    if served.is_empty() {
        anyhow::bail!(
            "the cluster serves no {} (`kubectl inference version` shows what it serves)",
            args.what.kind()
        );
    }
    let namespace = kube.namespace.clone().unwrap_or(cluster.namespace.clone());
    let mut params = ListParams::default();
    if let Some(selector) = &kube.selector {
        params = params.labels(selector);
    }
    let mut items = Vec::new();
    for s in served {
        let resource = super::cluster::resource(&s);
        let api: Api<DynamicObject> = if kube.all_namespaces {
            Api::all_with(cluster.client.clone(), &resource)
        } else {
            Api::namespaced_with(cluster.client.clone(), &namespace, &resource)
        };
        let objects = match &args.name {
            Some(name) => kplug::client::request(kube, &cluster.server, api.get_opt(name))
                .await
                .with_context(|| format!("reading {} {name}", s.kind))?
                .into_iter()
                .collect(),
            None => {
                kplug::client::request(kube, &cluster.server, api.list(&params))
                    .await
                    .with_context(|| format!("listing {} ({})", s.plural, s.api_version()))?
                    .items
            }
        };
        for object in objects {
            let mut value = serde_json::to_value(&object)?;
            value["apiVersion"] = s.api_version().into();
            value["kind"] = s.kind.into();
            items.push(Item {
                served: s.clone(),
                object,
                value,
                endpoints: None,
            });
        }
    }
    if args.name.is_some() && items.is_empty() {
        anyhow::bail!(kplug::Error::NotFound {
            message: format!(
                "{} {:?} in {namespace}",
                args.what.kind(),
                args.name.as_deref().unwrap_or("")
            ),
        });
    }
    if args.what == What::Pools {
        for item in &mut items {
            let pool = Pool::read(&item.value);
            let namespace = item.object.metadata.namespace.clone().unwrap_or_default();
            item.endpoints = ready_endpoints(kube, &cluster, &namespace, &pool)
                .await
                .ok();
        }
    }
    items.sort_by(|a, b| {
        (&a.object.metadata.namespace, &a.object.metadata.name)
            .cmp(&(&b.object.metadata.namespace, &b.object.metadata.name))
    });
    Ok(items)
}

/// Ready Pods of the pool's selector, not terminating, times its target
/// ports (narrowed by a Pod's `inference.networking.k8s.io/active-ports`).
async fn ready_endpoints(
    kube: &KubectlArgs,
    cluster: &Cluster,
    namespace: &str,
    pool: &Pool,
) -> anyhow::Result<usize> {
    if pool.selector.is_empty() {
        return Ok(0);
    }
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), namespace);
    let list = kplug::client::request(
        kube,
        &cluster.server,
        pods.list(&ListParams::default().labels(&pool.selector_text())),
    )
    .await?;
    Ok(list
        .items
        .iter()
        .filter(|p| super::cluster::is_ready(p))
        .map(|p| pool.ports_of(super::cluster::active_ports(p)).len())
        .sum())
}
