//! `kubectl compat validate-cluster`.

use std::io::Write;

use k8s_openapi::api::core::v1::Node as K8sNode;
use kplug::cli::{KubectlArgs, OutputFormat, ReportFormat};
use kplug::output::color::Palette;
use kplug::output::format::Printer;
use kplug::output::table::{Cell, Table};
use kplug_compat::cluster::{self, ClusterReport, Node};
use kplug_compat::features::{self, NodeFeature};
use kplug_compat::validate::Options;
use kube::api::{Api, DynamicObject, ListParams};
use kube::core::{ApiResource, GroupVersionKind};

use super::image::{self, RegistryArgs, SpecSource};

/// Check every node of the cluster against a spec, from the NodeFeature objects NFD publishes
///
/// Lists nodefeatures.nfd.k8s-sigs.io in all namespaces, merges each node's
/// objects as nfd-master does, and evaluates every node (-l picks nodes).
/// Exit status: 0 when at least one node is compatible, 3 when none is.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub spec: SpecSource,

    /// Keep only compatibility sets with one of these tags
    #[arg(long, value_delimiter = ',', value_name = "TAG")]
    pub tags: Vec<String>,

    /// Warn about NodeFeature data not written for this long
    #[arg(long, value_name = "DURATION", value_parser = kplug::cli::parse_duration, default_value = "24h")]
    pub stale_after: std::time::Duration,

    /// Print a Pod affinity that schedules the image only on compatible nodes, instead of the table
    #[arg(long, value_name = "WHAT", value_parser = ["affinity"])]
    pub emit: Option<String>,

    /// Only this node (by name)
    #[arg(skip)]
    pub node: Option<String>,

    #[command(flatten)]
    pub registry: RegistryArgs,

    /// Output format (default: a table of nodes); name prints the compatible nodes as node/NAME
    #[arg(short = 'o', long, value_name = "FORMAT", conflicts_with = "emit")]
    pub output: Option<ClusterFormat>,
}

/// What validate-cluster prints besides its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClusterFormat {
    /// The report, every node's full evaluation included, as JSON
    Json,
    /// The same as YAML
    Yaml,
    /// The compatible nodes, `node/NAME` one per line
    Name,
}

impl From<ClusterFormat> for OutputFormat {
    fn from(f: ClusterFormat) -> Self {
        match f {
            ClusterFormat::Json => OutputFormat::Json,
            ClusterFormat::Yaml => OutputFormat::Yaml,
            ClusterFormat::Name => OutputFormat::Name,
        }
    }
}

impl From<ReportFormat> for ClusterFormat {
    fn from(f: ReportFormat) -> Self {
        match f {
            ReportFormat::Json => ClusterFormat::Json,
            ReportFormat::Yaml => ClusterFormat::Yaml,
        }
    }
}

pub fn run(kube: &KubectlArgs, args: Args) -> anyhow::Result<kplug::Code> {
    image::runtime()?.block_on(run_async(kube, args))
}

async fn run_async(kube: &KubectlArgs, args: Args) -> anyhow::Result<kplug::Code> {
    let config = kplug::client::config(kube).await?;
    let server = config.cluster_url.to_string();
    let client = kplug::client::client_from_config(config)?;
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("nfd.k8s-sigs.io", "v1alpha1", "NodeFeature"),
        "nodefeatures",
    );
    let nf_api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
    let node_api: Api<K8sNode> = Api::all(client);
    let mut params = ListParams::default();
    if let Some(selector) = &kube.selector {
        params = params.labels(selector);
    }
    if let Some(node) = &args.node {
        params = params.fields(&format!("metadata.name={node}"));
    }
    // The spec, the NodeFeatures and the Nodes come from three independent
    // round trips; only names and labels of Nodes are needed, so their
    // (large) specs and statuses are not fetched.
    let (spec, list, node_list) = tokio::try_join!(
        async { args.spec.load(&args.registry).await },
        async {
            kplug::client::request(kube, &server, nf_api.list(&ListParams::default()))
                .await
                .map_err(anyhow::Error::from)
        },
        async {
            kplug::client::request(kube, &server, node_api.list_metadata(&params))
                .await
                .map_err(anyhow::Error::from)
        },
    )?;
    let objects: Vec<NodeFeature> = list
        .items
        .iter()
        .enumerate()
        .map(|(i, o)| {
            features::node_feature(&serde_json::to_value(o)?, i).map_err(anyhow::Error::from)
        })
        .collect::<anyhow::Result<_>>()?;
    let nodes: Vec<Node> = node_list
        .items
        .into_iter()
        .map(|n| Node {
            name: n.metadata.name.unwrap_or_default(),
            labels: n.metadata.labels.unwrap_or_default().into_iter().collect(),
        })
        .collect();
    let bar = kplug::output::progress::progress_bar(nodes.len() as u64, "evaluating nodes");
    let report = cluster::validate_cluster(
        &spec,
        &objects,
        &nodes,
        &Options {
            tags: args.tags.clone(),
            // The table shows verdicts only; JSON carries every node's full report.
            brief: !matches!(args.output, Some(ClusterFormat::Json | ClusterFormat::Yaml)),
        },
        kplug_compat::time::now(),
        args.stale_after.as_secs() as i64,
    );
    bar.finish_and_clear();
    for w in &report.warnings {
        eprintln!("warning: {}", kplug::output::Escaped(w));
    }
    let mut out = std::io::stdout().lock();
    if args.emit.is_some() {
        match cluster::affinity(&report, &nodes) {
            Some(a) => out.write_all(kplug::output::format::to_yaml(&a)?.as_bytes())?,
            None => anyhow::bail!(kplug::Error::Problems(
                "no node is compatible: there is no affinity to write".into()
            )),
        }
        return Ok(kplug::Code::Success);
    }
    let printer = Printer::new(kube, args.output);
    match args.output {
        Some(ClusterFormat::Json | ClusterFormat::Yaml) => {
            printer.print_value(&serde_json::to_value(&report)?, &mut out)?;
        }
        Some(ClusterFormat::Name) => {
            for n in report.nodes.iter().filter(|n| n.compatible) {
                writeln!(out, "node/{}", kplug::output::Escaped(&n.name))?;
            }
        }
        None => {
            printer.print_table(&table(&report, Palette::new(kube.color)), &mut out)?;
            if !report.nodes_without_data.is_empty() {
                eprintln!(
                    "nodes without NodeFeature data (is NFD running there?): {}",
                    kplug::output::escape(&report.nodes_without_data.join(", "))
                );
            }
            for s in &report.sets {
                eprintln!(
                    "set #{} (weight {}{}): {} compatible node(s)",
                    s.index + 1,
                    s.weight,
                    if s.description.is_empty() {
                        String::new()
                    } else {
                        format!(", {}", kplug::output::Escaped(&s.description))
                    },
                    s.compatible_nodes.len()
                );
            }
        }
    }
    Ok(if report.compatible {
        kplug::Code::Success
    } else {
        kplug::Code::Problems
    })
}

fn table(report: &ClusterReport, palette: Palette) -> Table {
    let mut headers = vec![
        "NODE".to_string(),
        "COMPATIBLE".to_string(),
        "BEST SET".to_string(),
    ];
    headers.extend(report.sets.iter().map(|s| format!("SET #{}", s.index + 1)));
    let mut t = Table::new(&headers);
    for n in &report.nodes {
        let mut row = vec![
            Cell::from(&n.name),
            if n.has_errors {
                Cell::styled("error", palette.error())
            } else if n.compatible {
                Cell::styled("yes", palette.ok())
            } else {
                Cell::styled("no", palette.error())
            },
            Cell::from(
                n.best_set
                    .map(|b| format!("#{}", b + 1))
                    .unwrap_or_else(|| "-".into()),
            ),
        ];
        row.extend(
            n.report
                .sets
                .iter()
                .map(|s| Cell::from(if s.satisfied { "ok" } else { "fail" })),
        );
        t.push(row);
    }
    t
}
