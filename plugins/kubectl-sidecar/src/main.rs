//! `kubectl sidecar`: does the app really wait for its native sidecar?

mod commands;

use clap::{Parser, Subcommand};
use kplug::cli::KubectlArgs;

const EXAMPLES: &str = "\
Examples:
  # Who waits for whom in a manifest, and what is wrong
  kubectl sidecar analyze -f deploy.yaml

  # Rendered charts and kustomizations, from stdin
  helm template ./chart | kubectl sidecar analyze -f -
  kustomize build overlays/prod | kubectl sidecar analyze -f -

  # The machine-readable SidecarReport
  kubectl sidecar analyze -f k8s/ -o json

  # Live objects: one workload, or everything in a namespace
  kubectl sidecar analyze deploy/web -n shop
  kubectl sidecar analyze all -A

  # Judge a manifest by the rules of an older API server
  kubectl sidecar analyze -f deploy.yaml --kube-version 1.33

  # Give every sidecar that does not gate a startupProbe
  kubectl sidecar fix -f deploy.yaml                      # kubectl patch commands
  kubectl sidecar fix -f k8s/ -o manifest > fixed.yaml     # the whole input, fixed
  kubectl sidecar fix -f deploy.yaml -o kustomize          # patch files for kustomization.yaml
  kubectl sidecar fix deploy/web --migrate-legacy --apply  # live, after a server dry run

  # How a running Pod started, and what each sidecar held up
  kubectl sidecar explain pod/web-6d4f9-x7k2p";

#[derive(Debug, Parser)]
#[command(
    name = "kubectl-sidecar",
    version,
    about = "Native sidecars: does the app really wait for its sidecar? Start-order analysis, lint, fixes and startup timelines",
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
    Analyze(commands::analyze::Args),
    Fix(commands::fix::Args),
    Explain(commands::explain::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completion {
        shell: clap_complete::Shell,
    },
}

fn main() -> std::process::ExitCode {
    kplug::cli::plugin_main(run)
}

fn run(cli: Cli) -> anyhow::Result<kplug::Code> {
    match cli.command {
        Command::Analyze(args) => commands::analyze::run(&cli.kube, args),
        Command::Fix(args) => commands::fix::run(&cli.kube, args),
        Command::Explain(args) => commands::explain::run(&cli.kube, args),
        Command::Completion { shell } => kplug::cli::completion::<Cli>(shell, "kubectl-sidecar"),
    }
}
