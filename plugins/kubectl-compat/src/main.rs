//! `kubectl compat`: check a host or a NodeFeature against an image's
//! compatibility spec, inspect host features, and write and lint specs.

mod commands;

use clap::{Parser, Subcommand};
use kplug::cli::KubectlArgs;

const EXAMPLES: &str = "\
Examples:
  # Will the image run here? Its spec (from the registry) against the cluster's nodes,
  # or this host when there is no cluster
  kubectl compat validate ghcr.io/org/app:v1
  kubectl compat validate --spec spec.yaml --local

  # Check this host against a spec and show why each rule passes or fails
  kubectl compat validate-node --spec spec.yaml

  # Check a node's published features (a NodeFeature object) instead
  kubectl get nodefeature -n node-feature-discovery worker-1 -o yaml > nf.yaml
  kubectl compat validate-node --spec spec.yaml --features nf.yaml

  # NFD's own JSON, for tools that parse `nfd compat validate-node --output-json`
  kubectl compat validate-node --spec spec.yaml -o nfd-json

  # Attach a spec to an image, then check this host against it
  kubectl compat attach --image ghcr.io/org/app:v1 spec.yaml
  kubectl compat validate-node --image ghcr.io/org/app:v1
  kubectl compat discover --image ghcr.io/org/app:v1

  # Which nodes of the cluster fit, from NFD's NodeFeature objects, and an affinity for them
  kubectl compat validate-cluster --spec spec.yaml
  kubectl compat validate-cluster --image ghcr.io/org/app:v1 --emit affinity

  # Show this host's features, or export them like `nfd export features`
  kubectl compat features
  kubectl compat features -o json > features.json

  # Find what NFD would silently accept in a spec
  kubectl compat lint spec.yaml

  # Start a spec from requirements, checked against this host
  kubectl compat init --require kernel.loadedmodule=vfio-pci --require 'kernel.version.full>=5.15' > spec.yaml";

#[derive(Debug, Parser)]
#[command(
    name = "kubectl-compat",
    version,
    about = "Image compatibility with Node Feature Discovery specs: validate hosts, inspect features, lint and write specs",
    after_help = EXAMPLES
)]
struct Cli {
    #[command(flatten)]
    kube: KubectlArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Validate(commands::auto::Args),
    ValidateNode(commands::validate::Args),
    ValidateCluster(commands::cluster::Args),
    Features(commands::features::Args),
    Lint(commands::lint::Args),
    Init(commands::init::Args),
    Attach(commands::attach::Args),
    Remove(commands::attach::RemoveArgs),
    Discover(commands::discover::DiscoverArgs),
    Get(commands::discover::GetArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completion {
        shell: clap_complete::Shell,
    },
}

fn main() -> std::process::ExitCode {
    kplug::cli::plugin_main(run)
}

fn run(cli: Cli) -> anyhow::Result<kplug::Code> {
    // Before any thread starts: see `registry::roots`.
    let _roots = match cli.command.registry() {
        Some(registry) => {
            let cluster_too = matches!(
                cli.command,
                Command::ValidateCluster(_) | Command::Validate(_)
            );
            // Only attach and remove write (and build oci-client).
            let reads_only = !matches!(cli.command, Command::Attach(_) | Command::Remove(_));
            Some(kplug_compat::registry::roots::prepare(
                &registry.roots_plan(cluster_too, reads_only),
            )?)
        }
        None => None,
    };
    dispatch(cli)
}

impl Command {
    /// The registry flags of commands that talk to a registry.
    fn registry(&self) -> Option<&commands::image::RegistryArgs> {
        match self {
            Command::Validate(a) => Some(&a.registry),
            Command::ValidateNode(a) => Some(&a.registry),
            Command::ValidateCluster(a) => Some(&a.registry),
            Command::Attach(a) => Some(&a.registry),
            Command::Remove(a) => Some(&a.registry),
            Command::Discover(a) => Some(&a.registry),
            Command::Get(a) => Some(&a.registry),
            _ => None,
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<kplug::Code> {
    match cli.command {
        Command::Validate(args) => commands::auto::run(&cli.kube, args),
        Command::ValidateNode(args) => commands::validate::run(&cli.kube, args),
        Command::ValidateCluster(args) => commands::cluster::run(&cli.kube, args),
        Command::Features(args) => commands::features::run(&cli.kube, args),
        Command::Lint(args) => commands::lint::run(&cli.kube, args),
        Command::Init(args) => commands::init::run(args),
        Command::Attach(args) => commands::attach::run(args),
        Command::Remove(args) => commands::attach::remove(args),
        Command::Discover(args) => commands::discover::discover(&cli.kube, args),
        Command::Get(args) => commands::discover::get(args),
        Command::Completion { shell } => kplug::cli::completion::<Cli>(shell, "kubectl-compat"),
    }
}
