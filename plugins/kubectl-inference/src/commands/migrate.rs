//! `kubectl inference migrate`: the objects of an older generation,
//! rewritten for a newer one ([`kplug_inference::migrate`]).

use std::io::Write;

use anyhow::Context;
use kplug::cli::{KubectlArgs, ReportFormat};
use kplug::manifest::{self, Input};
use kplug_inference::apis::GIE_X;
use kplug_inference::migrate::{self, Target};
use kube::api::{Api, DynamicObject, ListParams};
use serde_json::Value;

use super::cluster::Cluster;

/// Print the manifests that move a pool to a newer generation of the APIs
///
/// --to v1 (default): each inference.networking.x-k8s.io/v1alpha2
/// InferencePool as an inference.networking.k8s.io/v1 one, each
/// InferenceModel as an InferenceObjective (priority from criticality:
/// Critical 1, Standard 0, Sheddable -1) and, when it splits traffic, an
/// InferenceModelRewrite of its targetModels. --to llm-d: x-k8s
/// InferenceObjectives and InferenceModelRewrites in the llm-d.ai group.
/// Reads the namespace's objects (-n, -A) or files (-f); prints pools,
/// then objectives, then rewrites, ready for `kubectl apply -f -`. Nothing
/// in the cluster changes.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The generation to move to
    #[arg(long, value_enum, default_value = "v1")]
    pub to: Target,

    /// Manifests to migrate (files, directories, - for stdin) instead of
    /// the cluster's objects
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub files: Vec<String>,

    /// yaml (default, with the steps to follow as comments) or json (a List)
    #[arg(short = 'o', long, value_name = "FORMAT")]
    pub output: Option<ReportFormat>,
}

pub fn run(kube: &KubectlArgs, args: Args) -> anyhow::Result<kplug::Code> {
    let inputs: Vec<Value> = if args.files.is_empty() {
        kplug::cli::runtime()?.block_on(from_cluster(kube, args.to))?
    } else {
        let files: Vec<Input> = args.files.iter().map(|f| Input::from(f.as_str())).collect();
        manifest::load(&files)?
            .into_iter()
            .map(|o| o.value)
            .collect()
    };
    let plan = migrate::plan(&inputs, args.to)?;
    for (kind, name, why) in &plan.skipped {
        eprintln!("skipped {kind} {name}: {why}");
    }
    if plan.objects.is_empty() {
        eprintln!("nothing to migrate");
        return Ok(kplug::Code::Success);
    }
    let mut out = std::io::stdout().lock();
    match args.output {
        Some(ReportFormat::Json) => {
            for note in &plan.notes {
                eprintln!("note: {note}");
            }
            let list =
                serde_json::json!({"apiVersion": "v1", "kind": "List", "items": plan.objects});
            kplug::output::format::write_json(&list, &mut out)?;
        }
        _ => {
            for note in &plan.notes {
                writeln!(out, "# {note}")?;
            }
            for o in &plan.objects {
                write!(out, "---\n{}", kplug::output::format::to_yaml(o)?)?;
            }
        }
    }
    Ok(kplug::Code::Success)
}

/// The objects `target` rewrites, from the namespace (or all with -A).
async fn from_cluster(kube: &KubectlArgs, target: Target) -> anyhow::Result<Vec<Value>> {
    let cluster = Cluster::connect(kube).await?;
    let namespace = kube.namespace.clone().unwrap_or(cluster.namespace.clone());
    let kinds: &[&str] = match target {
        Target::V1 => &["InferencePool", "InferenceModel"],
        Target::LlmD => &["InferenceObjective", "InferenceModelRewrite"],
    };
    let served = cluster.served(kube).await?;
    let sources: Vec<_> = served
        .iter()
        .filter(|s| s.group == GIE_X && kinds.contains(&s.kind))
        .filter(|s| target != Target::V1 || s.version == "v1alpha2")
        .collect();
    if sources.is_empty() {
        anyhow::bail!(
            "the cluster serves no {} in {GIE_X}: nothing to migrate from",
            kinds.join(" or ")
        );
    }
    let mut out = Vec::new();
    for s in sources {
        let resource = super::cluster::resource(s);
        let api: Api<DynamicObject> = if kube.all_namespaces {
            Api::all_with(cluster.client.clone(), &resource)
        } else {
            Api::namespaced_with(cluster.client.clone(), &namespace, &resource)
        };
        let list = kplug::client::request(kube, &cluster.server, api.list(&ListParams::default()))
            .await
            .with_context(|| format!("listing {} ({})", s.plural, s.api_version()))?;
        for o in list.items {
            let mut value = serde_json::to_value(&o)?;
            // Listed items carry no type: put it back for the rewrite.
            value["apiVersion"] = s.api_version().into();
            value["kind"] = s.kind.into();
            out.push(value);
        }
    }
    Ok(out)
}
