//! `kubectl inference simulate`: the benchmark replayed offline.

use std::io::Write;

use kplug::cli::KubectlArgs;
use kplug::output::table::{Cell, Table, TableOptions};
use kplug_inference::simulate::load::Arrivals;
use kplug_inference::simulate::profile;
use kplug_inference::simulate::router::Router;
use kplug_inference::simulate::run::{self, Outcome, Setup};
use kplug_inference::simulate::server::StepModel;

/// Simulate vLLM-like servers behind routers over a ladder of request
/// rates: a Service (random), round-robin, least-queue, the v0.3 filter
/// tree (legacy) and the endpoint picker's v1.5.0 default profile (epp),
/// the last two the very code `explain` replays, fed with metrics that
/// refresh every 50 ms. Per router and rate: achieved QPS, output
/// tokens/s and /min, p50/p90/p99 of normalised time per output token,
/// time per output token, time to first token and end-to-end latency,
/// shed and preempted requests. The same seed gives the same output.
/// Servers follow the GIE simulator's step model (Llama-2-7B on an
/// H100-like GPU); lengths are log-normal, ShareGPT-like
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model servers in the pool
    #[arg(long, default_value_t = 10)]
    pub servers: usize,

    /// Request rates: a list (100,200,400) or a ladder (100..1000/100)
    #[arg(long, default_value = "100..1000/100", value_parser = parse_rates)]
    pub qps: Rates,

    /// Simulated seconds of arrivals per run
    #[arg(long, default_value = "60s", value_parser = kplug::cli::parse_duration)]
    pub duration: std::time::Duration,

    /// Routers to compare: random, round-robin, least-queue, legacy, epp
    #[arg(long, value_delimiter = ',', default_value = "random,epp")]
    pub routers: Vec<String>,

    /// Server profile: blog (the published benchmark's, fitted so 10
    /// servers saturate near 470 QPS), h100-llama2-7b (Llama-2-7B on an
    /// H100 under vLLM V1, derived from the hardware), gie-sim (the old GIE
    /// simulator's constants), or a YAML/JSON file naming a `base` and the
    /// constants it changes
    #[arg(long, default_value = "blog")]
    pub profile: String,

    /// How often the routers' view of the servers' metrics refreshes
    #[arg(long, default_value = "50ms", value_parser = kplug::cli::parse_duration)]
    pub metrics_interval: std::time::Duration,

    /// Arrival process
    #[arg(long, value_enum, default_value = "poisson")]
    pub arrivals: Arrivals,

    /// Every request's priority: above 0 is Critical to the legacy tree,
    /// below 0 is sheddable
    #[arg(long, default_value_t = 1, allow_hyphen_values = true)]
    pub priority: i64,

    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// table (default), json or csv
    #[arg(short = 'o', long, value_enum)]
    pub output: Option<Format>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rates(pub Vec<f64>);

fn parse_rates(text: &str) -> Result<Rates, String> {
    let bad = || format!("{text:?}: write 100,200,400 or 100..1000/100");
    let rates: Vec<f64> = match text.split_once("..") {
        Some((from, rest)) => {
            let (to, step) = rest.split_once('/').ok_or_else(bad)?;
            let (from, to, step): (f64, f64, f64) = (
                from.parse().map_err(|_| bad())?,
                to.parse().map_err(|_| bad())?,
                step.parse().map_err(|_| bad())?,
            );
            if !(step > 0.0 && from <= to) {
                return Err(bad());
            }
            let n = ((to - from) / step + 1e-9).floor() as usize;
            (0..=n).map(|i| from + step * i as f64).collect()
        }
        None => text
            .split(',')
            .map(|r| r.trim().parse().map_err(|_| bad()))
            .collect::<Result<_, _>>()?,
    };
    if rates.is_empty() || rates.iter().any(|r| !(r.is_finite() && *r > 0.0)) {
        return Err(format!("{text:?}: rates must be above 0"));
    }
    Ok(Rates(rates))
}

/// A built-in profile by name, else a profile file.
fn profile(name: &str) -> anyhow::Result<StepModel> {
    if let Some(model) = StepModel::named(name) {
        return Ok(model);
    }
    let text = std::fs::read_to_string(name).map_err(|e| {
        kplug::Error::Usage(format!(
            "--profile {name}: not a built-in profile ({}) and not a readable file: {e}",
            StepModel::NAMES.join(", ")
        ))
    })?;
    Ok(profile::read(&text).map_err(|e| kplug::Error::Usage(format!("{name}: {e}")))?)
}

pub fn run(_kube: &KubectlArgs, args: Args) -> anyhow::Result<kplug::Code> {
    if args.servers == 0 {
        anyhow::bail!(kplug::Error::Usage("--servers must be at least 1".into()));
    }
    if args.metrics_interval.is_zero() || args.duration.is_zero() {
        anyhow::bail!(kplug::Error::Usage(
            "--metrics-interval and --duration must be above 0".into()
        ));
    }
    let routers: Vec<Router> = args
        .routers
        .iter()
        .map(|r| {
            Router::parse(r).ok_or_else(|| {
                kplug::Error::Usage(format!(
                    "--routers: unknown router {r:?}; known: random, round-robin, least-queue, legacy, epp"
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    let setup = Setup {
        servers: args.servers,
        model: profile(&args.profile)?,
        metrics_interval: args.metrics_interval.as_secs_f64(),
        duration: args.duration.as_secs_f64(),
        arrivals: args.arrivals,
        priority: args.priority,
        seed: args.seed,
        ..Setup::default()
    };
    let mut runs: Vec<Outcome> = Vec::new();
    for router in &routers {
        for qps in &args.qps.0 {
            runs.push(run::run(&setup, router.clone(), *qps));
        }
    }
    let mut out = std::io::stdout().lock();
    match args.output.unwrap_or(Format::Table) {
        Format::Json => {
            kplug::output::format::write_json(&serde_json::json!({ "runs": runs }), &mut out)?
        }
        Format::Csv => {
            writeln!(
                out,
                "router,qps,achievedQps,outputTokensPerSec,ntpotP50,ntpotP90,ntpotP99,tpotP90,ttftP90,e2eP50,e2eP90,e2eP99,shed,preempted"
            )?;
            for r in &runs {
                writeln!(
                    out,
                    "{},{},{:.3},{:.1},{:.5},{:.5},{:.5},{:.5},{:.4},{:.4},{:.4},{:.4},{},{}",
                    r.router,
                    r.qps,
                    r.achieved_qps,
                    r.output_tokens_per_sec,
                    r.ntpot.p50,
                    r.ntpot.p90,
                    r.ntpot.p99,
                    r.tpot.p90,
                    r.ttft.p90,
                    r.e2e.p50,
                    r.e2e.p90,
                    r.e2e.p99,
                    r.shed,
                    r.preempted
                )?;
            }
        }
        Format::Table => {
            let mut t = Table::new(&[
                "ROUTER",
                "QPS",
                "ACHIEVED",
                "OUT TOK/MIN",
                "NTPOT P90",
                "TPOT P90",
                "TTFT P90",
                "E2E P90",
                "SHED",
                "PREEMPTED",
            ]);
            for r in &runs {
                t.push([
                    Cell::from(r.router),
                    Cell::from(format!("{}", r.qps)),
                    Cell::from(format!("{:.1}", r.achieved_qps)),
                    Cell::from(format!("{:.0}", r.output_tokens_per_min)),
                    Cell::from(format!("{:.1}ms", r.ntpot.p90 * 1000.0)),
                    Cell::from(format!("{:.1}ms", r.tpot.p90 * 1000.0)),
                    Cell::from(format!("{:.2}s", r.ttft.p90)),
                    Cell::from(format!("{:.2}s", r.e2e.p90)),
                    Cell::from(r.shed.to_string()),
                    Cell::from(r.preempted.to_string()),
                ]);
            }
            out.write_all(t.to_string_with(TableOptions::default()).as_bytes())?;
        }
    }
    Ok(kplug::Code::Success)
}
