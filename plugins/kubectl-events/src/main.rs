//! `kubectl eventlog`: Kubernetes Events kept beyond the API server's hour.
//! (`kubectl events` is a kubectl built-in, which always wins over a plugin.)

mod commands;

// Importing and collecting allocate and free a JSON tree per Event, across
// two threads; glibc's allocator spent about half the time of an import.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use kplug::cli::KubectlArgs;

const EXAMPLES: &str = "\
Examples:
  # Watch the cluster's events and keep every occurrence (Ctrl-C to stop)
  kubectl eventlog collect -A --metrics-addr 127.0.0.1:9464

  # Keep events from saved dumps (importing twice adds nothing)
  kubectl get events -A -o json > events.json
  kubectl eventlog import events.json

  # What happened to a Deployment, its ReplicaSets and Pods in the last 3 days
  kubectl eventlog query --for deploy/web -n shop --since 3d

  # Serious problems anywhere, with categories
  kubectl eventlog query -A --severity high -o wide

  # What went wrong today, as incidents: root cause, effects, confidence
  kubectl eventlog incidents -A --since 24h

  # What the collector alerted on (rules and sinks in its --rules file)
  kubectl eventlog alerts

  # Which reasons dominate, hour by hour, this week
  kubectl eventlog aggregate --by reason,namespace --window 1h --since 7d

  # How the store is laid out (tables, day partitions, Citus shards and workers)
  kubectl eventlog store info";

#[derive(Debug, Parser)]
#[command(
    name = "kubectl-eventlog",
    version,
    about = "Kubernetes Events kept beyond the API server's hour: stored, classified, queried and aggregated",
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
    Collect(commands::collect::Args),
    Import(commands::import::Args),
    Query(commands::query::Args),
    Aggregate(commands::aggregate::Args),
    Incidents(commands::incidents::Args),
    Alerts(commands::alerts::Args),
    Patterns(commands::patterns::Args),
    Report(commands::report::Args),
    Prune(commands::prune::Args),
    Store(commands::layout::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completion {
        shell: clap_complete::Shell,
    },
}

fn main() -> std::process::ExitCode {
    kplug::cli::plugin_main(run)
}

fn run(cli: Cli) -> anyhow::Result<kplug::Code> {
    let kube = &cli.kube;
    // One runtime for everything: the PostgreSQL store and the API server
    // client are async.
    let command = async move {
        match cli.command {
            Command::Collect(args) => commands::collect::run(kube, args).await,
            Command::Import(args) => commands::import::run(kube, args).await,
            Command::Query(args) => commands::query::run(kube, args).await,
            Command::Aggregate(args) => commands::aggregate::run(kube, args).await,
            Command::Incidents(args) => commands::incidents::run(kube, args).await,
            Command::Alerts(args) => commands::alerts::run(kube, args).await,
            Command::Patterns(args) => commands::patterns::run(kube, args).await,
            Command::Report(args) => commands::report::run(kube, args).await,
            Command::Prune(args) => commands::prune::run(kube, args).await,
            Command::Store(args) => commands::layout::run(kube, args).await,
            Command::Completion { shell } => {
                kplug::cli::completion::<Cli>(shell, "kubectl-eventlog")
            }
        }
    };
    kplug::cli::runtime()?.block_on(command)
}
