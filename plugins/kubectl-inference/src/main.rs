//! `kubectl inference`: Gateway API Inference Extension pools, and why the
//! endpoint picker sends a request where it does.

mod commands;

use clap::{Parser, Subcommand};
use kplug::cli::KubectlArgs;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EXAMPLES: &str = "\
Examples:
  # Which generation of the extension's APIs the cluster serves
  kubectl inference version

  # Pools with their selector, ports, endpoint picker, parents and endpoints
  kubectl inference get pools -A
  kubectl inference get objectives -n serving -o wide

  # Each endpoint's live load, scraped from its /metrics
  kubectl inference status chat -n serving
  kubectl inference top chat -n serving --interval 1s

  # What is wrong with a pool, each finding with its fix
  kubectl inference doctor chat -n serving -o wide

  # The namespace's v1alpha2 pools and models as v1 objects, checked by the API server
  kubectl inference migrate -n serving | kubectl apply --dry-run=server -f -

  # Why the endpoint picker (GIE v1.5.0 defaults) would pick one of two
  # model servers, from their saved /metrics
  kubectl inference explain --endpoint a=a.prom --endpoint b=b.prom

  # The same for a sheddable request, with the queue weighed more
  kubectl inference explain --endpoint a=a.prom --endpoint b=sglang:b.prom \\
      --priority -1 --weight queue-scorer=5 -o json";

#[derive(Debug, Parser)]
#[command(
    name = "kubectl-inference",
    version,
    about = "Gateway API Inference Extension: pools and objectives, and the endpoint picker's decision explained",
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
    Get(commands::get::Args),
    Status(commands::status::Args),
    Top(commands::status::TopArgs),
    Explain(commands::explain::Args),
    Doctor(commands::doctor::Args),
    Migrate(commands::migrate::Args),
    Simulate(commands::simulate::Args),
    Version(commands::version::Args),
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
        Command::Get(args) => commands::get::run(&cli.kube, args),
        Command::Status(args) => commands::status::run(&cli.kube, args),
        Command::Top(args) => commands::status::run_top(&cli.kube, args),
        Command::Explain(args) => commands::explain::run(&cli.kube, args),
        Command::Doctor(args) => commands::doctor::run(&cli.kube, args),
        Command::Migrate(args) => commands::migrate::run(&cli.kube, args),
        Command::Simulate(args) => commands::simulate::run(&cli.kube, args),
        Command::Version(args) => commands::version::run(&cli.kube, args),
        Command::Completion { shell } => kplug::cli::completion::<Cli>(shell, "kubectl-inference"),
    }
}
