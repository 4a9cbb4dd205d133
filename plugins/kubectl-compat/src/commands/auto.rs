//! `kubectl compat validate`: the everyday entry point. It checks an
//! image's spec where the image will run: the cluster's nodes when a
//! cluster is reachable and NFD publishes NodeFeatures there (as
//! validate-cluster), otherwise this host (as validate-node).

use std::path::PathBuf;
use std::time::Duration;

use kplug::cli::KubectlArgs;
use kube::api::{Api, DynamicObject, ListParams};
use kube::core::{ApiResource, GroupVersionKind};

use super::image::{self, RegistryArgs, SpecSource};

/// Check an image (or a spec) against the cluster's nodes, or this host when there is no cluster
///
/// Without --local, --nodes or --node, the cluster of the current kubeconfig
/// context is asked for NFD's NodeFeature objects; when it answers with
/// some, every node is checked (as validate-cluster), otherwise this host is
/// (as validate-node). The first line on stderr says which and why.
/// Exit status: 0 compatible (some node, or this host), 3 not compatible, 1
/// when something could not be read.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image whose compatibility artifact holds the spec
    #[arg(
        value_name = "IMAGE",
        required_unless_present = "spec",
        conflicts_with = "spec"
    )]
    image: Option<String>,

    /// A spec file instead of an image's artifact (- reads standard input)
    #[arg(long, value_name = "FILE")]
    spec: Option<PathBuf>,

    /// With IMAGE: use this artifact instead of the newest
    #[arg(long, value_name = "DIGEST", requires = "image")]
    digest: Option<String>,

    /// Check this host, even when a cluster is reachable
    #[arg(long, conflicts_with_all = ["nodes", "node"])]
    local: bool,

    /// Check the cluster's nodes; fail when there is no cluster or no NodeFeature data
    /// (kubectl's --cluster already names a kubeconfig cluster, hence --nodes)
    #[arg(long)]
    nodes: bool,

    /// Check this node of the cluster only
    #[arg(long, value_name = "NAME", conflicts_with = "nodes")]
    node: Option<String>,

    /// Keep only compatibility sets with one of these tags (comma-separated or repeated)
    #[arg(long, value_delimiter = ',', value_name = "TAG")]
    tags: Vec<String>,

    #[command(flatten)]
    pub registry: RegistryArgs,

    /// Output format (default: the report for people, or the table of nodes)
    #[arg(short = 'o', long, value_name = "FORMAT")]
    output: Option<kplug::cli::ReportFormat>,
}

/// Where the check runs, and why there.
enum Target {
    Cluster(String),
    Host(String),
}

/// How long the cluster may take to say whether it has NodeFeatures.
const PROBE: Duration = Duration::from_secs(5);

pub fn run(kube: &KubectlArgs, args: Args) -> anyhow::Result<kplug::Code> {
    let forced_cluster = args.nodes || args.node.is_some();
    let target = if args.local {
        Target::Host("--local".into())
    } else {
        match image::runtime()?.block_on(probe(kube)) {
            Ok(found) => Target::Cluster(found),
            Err(why) if forced_cluster => {
                anyhow::bail!("cannot check the cluster's nodes: {why}")
            }
            Err(why) => Target::Host(why),
        }
    };
    let spec = SpecSource {
        spec: args.spec,
        image: args.image,
        digest: args.digest,
    };
    match target {
        Target::Cluster(why) => {
            let what = match &args.node {
                Some(n) => format!("node {n}"),
                None => "the cluster's nodes".into(),
            };
            eprintln!("target: {what} ({why})");
            super::cluster::run(
                kube,
                super::cluster::Args {
                    spec,
                    tags: args.tags,
                    stale_after: Duration::from_secs(24 * 3600),
                    emit: None,
                    node: args.node,
                    registry: args.registry,
                    output: args.output.map(Into::into),
                },
            )
        }
        Target::Host(why) => {
            eprintln!("target: this host ({why})");
            super::validate::run(
                kube,
                super::validate::Args {
                    spec,
                    registry: args.registry,
                    source: Default::default(),
                    tags: args.tags,
                    output_json: false,
                    output: args.output.map(Into::into),
                },
            )
        }
    }
}

/// Whether the current context's cluster answers and publishes NodeFeatures:
/// a sentence for the first line either way.
async fn probe(kube: &KubectlArgs) -> Result<String, String> {
    let config = kplug::client::config(kube)
        .await
        .map_err(|e| format!("no cluster: {e}"))?;
    let server = kplug::client::redact_url(&config.cluster_url.to_string());
    let client =
        kplug::client::client_from_config(config).map_err(|e| format!("no cluster: {e}"))?;
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("nfd.k8s-sigs.io", "v1alpha1", "NodeFeature"),
        "nodefeatures",
    );
    let api: Api<DynamicObject> = Api::all_with(client, &ar);
    let listed = tokio::time::timeout(PROBE, api.list_metadata(&ListParams::default().limit(1)))
        .await
        .map_err(|_| {
            format!(
                "the cluster at {server} did not answer within {}s",
                PROBE.as_secs()
            )
        })?;
    match listed {
        Ok(list) if !list.items.is_empty() => Ok(format!(
            "the cluster at {server} publishes NFD's NodeFeatures"
        )),
        Ok(_) => Err(format!(
            "the cluster at {server} has no NodeFeature objects: is NFD running there?"
        )),
        Err(kube::Error::Api(s)) if s.code == 404 => Err(format!(
            "the cluster at {server} has no NodeFeature API: NFD is not installed there"
        )),
        Err(e) => Err(format!(
            "no cluster: {}",
            kplug::client::api_error(e, &server)
        )),
    }
}
