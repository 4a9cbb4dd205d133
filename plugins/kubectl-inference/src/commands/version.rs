//! `kubectl inference version`: what the cluster serves of the extension.

use std::io::Write;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kplug::cli::{KubectlArgs, ReportFormat};
use kplug::output::table::{Cell, Table, TableOptions};
use kplug_inference::apis::{self, Generation, Served};
use kube::api::Api;
use serde::Serialize;

/// Which of the Gateway API Inference Extension's APIs the cluster serves
/// (found by API discovery: InferencePool, InferenceModel,
/// InferenceObjective, InferenceModelRewrite, InferencePoolImport, in the
/// inference.networking.k8s.io, inference.networking.x-k8s.io and llm-d.ai
/// groups), the bundle version each CRD is annotated with, and which
/// generation of the APIs that makes
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(short = 'o', long, value_name = "FORMAT")]
    pub output: Option<ReportFormat>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ServedApi {
    #[serde(flatten)]
    served: Served,
    /// The CRD's `…/bundle-version` annotation, when it can be read.
    bundle_version: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    client_version: &'static str,
    apis: Vec<ServedApi>,
    generations: Vec<Generation>,
}

pub fn run(kube: &KubectlArgs, args: Args) -> anyhow::Result<kplug::Code> {
    let report = kplug::cli::runtime()?.block_on(discover(kube))?;
    let mut out = std::io::stdout().lock();
    match args.output {
        Some(format) => super::print_report(&report, format, &mut out)?,
        None => {
            writeln!(out, "kubectl-inference {}", report.client_version)?;
            if report.apis.is_empty() {
                writeln!(
                    out,
                    "the cluster serves none of the Gateway API Inference Extension's APIs (install its CRDs)"
                )?;
                return Ok(kplug::Code::Success);
            }
            let mut table = Table::new(&["KIND", "API VERSION", "CRD BUNDLE"]);
            for a in &report.apis {
                table.push([
                    Cell::from(a.served.kind),
                    Cell::from(a.served.api_version()),
                    Cell::from(a.bundle_version.as_deref().unwrap_or("-")),
                ]);
            }
            out.write_all(table.to_string_with(TableOptions::default()).as_bytes())?;
            for g in &report.generations {
                writeln!(out, "generation: {}", g.describe())?;
            }
        }
    }
    Ok(kplug::Code::Success)
}

async fn discover(kube: &KubectlArgs) -> anyhow::Result<Report> {
    let cluster = super::cluster::Cluster::connect(kube).await?;
    let served = cluster.served(kube).await?;
    let client = cluster.client;
    let generations = apis::generations(&served);
    // The bundle version is on the CRD, which a user may not be allowed to
    // read: then it is shown as unknown, not an error.
    let crds: Api<CustomResourceDefinition> = Api::all(client);
    let mut list = Vec::new();
    for s in served {
        let crd = crds.get_opt(&s.crd()).await.ok().flatten();
        let bundle_version = crd.and_then(|c| {
            let annotations = c.metadata.annotations.unwrap_or_default();
            [
                "inference.networking.k8s.io/bundle-version",
                "llm-d.ai/bundle-version",
            ]
            .iter()
            .find_map(|k| annotations.get(*k).cloned())
        });
        list.push(ServedApi {
            served: s,
            bundle_version,
        });
    }
    Ok(Report {
        client_version: env!("CARGO_PKG_VERSION"),
        apis: list,
        generations,
    })
}
