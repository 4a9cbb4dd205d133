//! `kubectl inference simulate`: the benchmark replayed offline, and a pool
//! sized before buying GPUs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use kplug::cli::KubectlArgs;
use kplug::output::table::{Cell, Table, TableOptions};
use kplug_inference::simulate::figure;
use kplug_inference::simulate::load::{Arrivals, Open, Shape, TraceSource};
use kplug_inference::simulate::profile;
use kplug_inference::simulate::router::Router;
use kplug_inference::simulate::run::{self, Outcome, Setup};
use kplug_inference::simulate::server::StepModel;
use kplug_inference::simulate::target::{self, Capacity, Target};
use kplug_inference::simulate::trace;
use plotters::prelude::{BitMapBackend, IntoDrawingArea, SVGBackend};

/// Simulate vLLM-like servers behind routers over a ladder of request
/// rates: a Service (random per request, or connections pinned by an L4
/// balancer), round-robin, least-queue, the v0.3 filter tree (legacy) and
/// the endpoint picker's v1.5.0 default profile or any EndpointPickerConfig
/// (epp), the last two the very code `explain` replays, fed with metrics
/// that refresh every 50 ms. Per router and rate:
/// achieved QPS, output tokens/s and /min, p50/p90/p99 of normalised time
/// per output token (NTPOT), time per output token, time to first token
/// and end-to-end latency, shed and preempted requests. The same seed gives
/// the same output. With --target, the highest rate each router sustains
/// within a latency objective instead.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  # The published benchmark: a Service against the endpoint picker, 100 to 1,000 QPS
  kubectl inference simulate --routers random,legacy,epp --plot benchmark.png

  # How many replicas keep p90 NTPOT under 50 ms, and at what rate
  kubectl inference simulate --servers 6..12/2 --target ntpot-p90=50ms

  # Today's pool (endpoints, KV cache, picker config) under a recorded trace
  kubectl inference simulate --from-cluster vllm-llama3 --trace requests.jsonl --arrivals trace")]
pub struct Args {
    /// Model servers in the pool: a count (10), a list (8,12) or a range
    /// (8..16, 8..16/2); default 10, or the pool's with --from-cluster
    #[arg(long, value_parser = parse_counts)]
    pub servers: Option<Counts>,

    /// Request rates: a list (100,200,400) or a ladder (100..1000/100);
    /// with --target, the lowest and highest searched
    #[arg(long, default_value = "100..1000/100", value_parser = parse_rates)]
    pub qps: Rates,

    /// Simulated seconds of arrivals per run
    #[arg(long, default_value = "60s", value_parser = kplug::cli::parse_duration)]
    pub duration: Duration,

    /// Routers to compare: random (a Service, per request), connections (an
    /// L4 Service under a client that keeps --connections open),
    /// round-robin, least-queue, legacy (the v0.3 filter tree), epp
    #[arg(long, value_delimiter = ',', default_value = "random,epp")]
    pub routers: Vec<String>,

    /// The connections router's client connections, each pinned to a
    /// server at random
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub connections: u32,

    /// The epp router's EndpointPickerConfig (default: the GIE v1.5.0
    /// default profile, or the pool's with --from-cluster)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Server profile: blog (the published benchmark's, fitted so 10
    /// servers saturate near 470 QPS), h100-llama2-7b (Llama-2-7B on an
    /// H100 under vLLM V1, derived from the hardware), gie-sim (the old GIE
    /// simulator's constants), or a YAML/JSON file naming a `base` and the
    /// constants it changes
    #[arg(long, default_value = "blog")]
    pub profile: String,

    /// How often the routers' view of the servers' metrics refreshes
    #[arg(long, default_value = "50ms", value_parser = kplug::cli::parse_duration)]
    pub metrics_interval: Duration,

    /// Arrival process: poisson, deterministic (evenly spaced), or trace
    /// (the --trace file's timestamps, scaled to each rate)
    #[arg(long, value_enum, default_value = "poisson")]
    pub arrivals: Arrivals,

    /// Request lengths (and LoRA adapters, and with --arrivals trace their
    /// times) from a JSON Lines or CSV file: input, output, timestamp, model
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,

    /// Every request's priority: above 0 is Critical to the legacy tree,
    /// below 0 is sheddable (the picker sheds it when the pool is saturated)
    #[arg(long, default_value_t = 1, allow_hyphen_values = true)]
    pub priority: i64,

    /// Seed of the load and of the routers' random choices: the same seed,
    /// the same output
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Find each router's highest rate within a latency objective:
    /// METRIC-pNN=DURATION with METRIC ntpot, tpot, ttft or e2e
    #[arg(long, value_parser = Target::parse, value_name = "TARGET")]
    pub target: Option<Target>,

    /// Draw the published figure (throughput, p90 NTPOT, p90 e2e against
    /// QPS) to FILE.svg or FILE.png; repeat for both
    #[arg(long, value_name = "FILE")]
    pub plot: Vec<PathBuf>,

    /// Take the endpoint count, the model servers' KV cache
    /// (cache_config_info) and the picker's config from this live pool
    #[arg(long, value_name = "POOL")]
    pub from_cluster: Option<String>,

    /// With --from-cluster: how long to wait for each metrics endpoint
    #[arg(long, default_value = "5s", value_parser = kplug::cli::parse_duration)]
    pub scrape_timeout: Duration,

    /// Runs at once (default: one per core)
    #[arg(short = 'j', long)]
    pub jobs: Option<usize>,

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

#[derive(Debug, Clone, PartialEq)]
pub struct Counts(pub Vec<usize>);

/// `100,200,400` or `100..1000/100` (`/1` when the step is left out).
fn parse_ladder(text: &str) -> Option<Vec<f64>> {
    match text.split_once("..") {
        Some((from, rest)) => {
            let (to, step) = rest.split_once('/').unwrap_or((rest, "1"));
            let (from, to, step): (f64, f64, f64) = (
                from.trim().parse().ok()?,
                to.trim().parse().ok()?,
                step.trim().parse().ok()?,
            );
            if !(step > 0.0 && from <= to && (to - from) / step < 1e5) {
                return None;
            }
            let n = ((to - from) / step + 1e-9).floor() as usize;
            Some((0..=n).map(|i| from + step * i as f64).collect())
        }
        None => text.split(',').map(|r| r.trim().parse().ok()).collect(),
    }
}

fn parse_rates(text: &str) -> Result<Rates, String> {
    let rates = parse_ladder(text)
        .ok_or_else(|| format!("{text:?}: write 100,200,400 or 100..1000/100"))?;
    if rates.is_empty() || rates.iter().any(|r| !(r.is_finite() && *r > 0.0)) {
        return Err(format!("{text:?}: rates must be above 0"));
    }
    Ok(Rates(rates))
}

fn parse_counts(text: &str) -> Result<Counts, String> {
    let bad = || format!("{text:?}: write 10, 8,12 or 8..16 (8..16/2), each at least 1");
    let counts = parse_ladder(text).ok_or_else(bad)?;
    if counts.is_empty()
        || counts
            .iter()
            .any(|c| !(c.fract() == 0.0 && *c >= 1.0 && *c <= 1e5))
    {
        return Err(bad());
    }
    Ok(Counts(counts.into_iter().map(|c| c as usize).collect()))
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

/// The trace, scanned once so that no run meets a bad line.
fn trace_shape(path: &Path) -> anyhow::Result<Shape> {
    let format = trace::Format::of(path);
    let file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    let summary = trace::scan(std::io::BufReader::new(file), format)
        .with_context(|| format!("{}", path.display()))?;
    let path = path.to_path_buf();
    let open: Arc<Open> = Arc::new(move || {
        let file = std::fs::File::open(&path)?;
        Ok(Box::new(std::io::BufReader::new(file)) as Box<dyn std::io::BufRead + Send>)
    });
    Ok(Shape::Trace(TraceSource {
        summary,
        format,
        open,
    }))
}

/// What a live pool tells the simulation.
struct Pool {
    endpoints: usize,
    kv_tokens: Option<(u64, u64)>,
    config: Option<(String, String)>,
}

async fn from_cluster(kube: &KubectlArgs, name: &str, timeout: Duration) -> anyhow::Result<Pool> {
    let session = super::live::Session::open(kube, timeout).await?;
    let status = session.pool(kube, name).await?;
    // The first model server that reports its cache's shape.
    let kv_tokens = status.endpoints.iter().find_map(|e| {
        let m = &e.reading.as_ref()?.metrics;
        (m.cache_block_size > 0 && m.cache_num_blocks > 0)
            .then_some((m.cache_block_size, m.cache_num_blocks))
    });
    // A Service that could not be read leaves the default profile.
    let config = match (&status.pool.picker, status.service()) {
        (Some(picker), Ok(service)) => {
            let (text, origin) = session.picker_config(kube, &picker.name, service).await?;
            text.map(|text| (text, origin))
        }
        _ => None,
    };
    Ok(Pool {
        endpoints: status.endpoints.len(),
        kv_tokens,
        config,
    })
}

fn routers(args: &Args, config: Option<&(String, String)>) -> anyhow::Result<Vec<Router>> {
    let picker = match (&args.config, config) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
            Some(kplug_inference::config::read(&text).with_context(|| path.display().to_string())?)
        }
        (None, Some((text, origin))) => {
            Some(kplug_inference::config::read(text).with_context(|| origin.clone())?)
        }
        (None, None) => None,
    };
    args.routers
        .iter()
        .map(|r| {
            let router = Router::parse(r).ok_or_else(|| {
                kplug::Error::Usage(format!(
                    "--routers: unknown router {r:?}; known: random, connections, round-robin, least-queue, legacy, epp"
                ))
            })?;
            Ok(match (router, &picker) {
                (Router::Epp(_), Some(p)) => Router::Epp(p.clone()),
                (Router::Connections(_), _) => Router::Connections(args.connections as usize),
                (router, _) => router,
            })
        })
        .collect()
}

/// `f` over `items` on `jobs` threads, results in the items' order.
fn parallel<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    bar: &indicatif::ProgressBar,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    let done = std::sync::Mutex::new(&mut results);
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = f(item);
                    done.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
                    bar.inc(1);
                }
            });
        }
    });
    results
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}

pub fn run(kube: &KubectlArgs, args: Args) -> anyhow::Result<kplug::Code> {
    if args.metrics_interval.is_zero() || args.duration.is_zero() {
        anyhow::bail!(kplug::Error::Usage(
            "--metrics-interval and --duration must be above 0".into()
        ));
    }
    if args.arrivals == Arrivals::Trace && args.trace.is_none() {
        anyhow::bail!(kplug::Error::Usage(
            "--arrivals trace needs --trace FILE".into()
        ));
    }
    for path in &args.plot {
        if plot_kind(path).is_none() {
            anyhow::bail!(kplug::Error::Usage(format!(
                "--plot {}: name an .svg or a .png file",
                path.display()
            )));
        }
    }
    let mut model = profile(&args.profile)?;
    let shape = match &args.trace {
        Some(path) => trace_shape(path)?,
        None => Shape::default(),
    };
    if let (Arrivals::Trace, Shape::Trace(t)) = (args.arrivals, &shape)
        && t.summary.rate().is_none()
    {
        anyhow::bail!(kplug::Error::Usage(
            "--arrivals trace: the trace needs a timestamp on every request, in order, over more than an instant".into()
        ));
    }
    let pool = match &args.from_cluster {
        Some(name) => {
            Some(kplug::cli::runtime()?.block_on(from_cluster(kube, name, args.scrape_timeout))?)
        }
        None => None,
    };
    let mut servers = args
        .servers
        .clone()
        .map(|c| c.0)
        .unwrap_or_else(|| vec![10]);
    if let Some(p) = &pool {
        let name = args.from_cluster.as_deref().unwrap_or_default();
        let mut said = format!("pool {name}: {} endpoints", p.endpoints);
        if args.servers.is_none() {
            if p.endpoints == 0 {
                anyhow::bail!(
                    "pool {name} has no ready endpoints to size the simulation by; give --servers"
                );
            }
            servers = vec![p.endpoints];
        }
        match p.kv_tokens {
            Some((block, blocks)) => {
                model.kv_capacity_tokens = block * blocks;
                said += &format!(", KV cache {blocks} blocks × {block} tokens");
            }
            None => said += ", no cache_config_info (the profile's KV cache kept)",
        }
        match (&p.config, &args.config) {
            (Some((_, origin)), None) => said += &format!(", epp config from {origin}"),
            _ => said += ", epp's default profile",
        }
        eprintln!("{said}");
    }
    let routers = routers(&args, pool.as_ref().and_then(|p| p.config.as_ref()))?;
    let base = Setup {
        model,
        metrics_interval: args.metrics_interval.as_secs_f64(),
        duration: args.duration.as_secs_f64(),
        arrivals: args.arrivals,
        shape,
        priority: args.priority,
        seed: args.seed,
        ..Setup::default()
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let setups: Vec<Setup> = servers
        .iter()
        .map(|n| Setup {
            servers: *n,
            ..base.clone()
        })
        .collect();
    let format = args.output.unwrap_or(Format::Table);
    let mut out = std::io::stdout().lock();
    if let Some(target) = &args.target {
        let (low, high) = args
            .qps
            .0
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), q| (lo.min(*q), hi.max(*q)));
        let pairs: Vec<(&Setup, &Router)> = setups
            .iter()
            .flat_map(|s| routers.iter().map(move |r| (s, r)))
            .collect();
        let bar = kplug::output::progress::progress_bar(pairs.len() as u64, "searching");
        let resolution = ((high - low) / 200.0).max(1.0);
        let found = parallel(&pairs, jobs, &bar, |(setup, router)| {
            target::bisect(target, low, high, resolution, |qps| {
                run::run(setup, (*router).clone(), qps)
            })
        });
        bar.finish_and_clear();
        write_capacities(&mut out, format, target, &found)?;
        return Ok(kplug::Code::Success);
    }
    let rates = &args.qps.0;
    let mut cases: Vec<(&Setup, &Router, f64)> = Vec::new();
    for s in &setups {
        for r in &routers {
            cases.extend(rates.iter().map(|q| (s, r, *q)));
        }
    }
    let bar = kplug::output::progress::progress_bar(cases.len() as u64, "simulating");
    let runs = parallel(&cases, jobs, &bar, |(setup, router, qps)| {
        run::run(setup, (*router).clone(), *qps)
    });
    bar.finish_and_clear();
    for path in &args.plot {
        let title = format!(
            "{} servers, profile {}, {} s a rate, seed {}",
            servers
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join("/"),
            args.profile,
            base.duration,
            args.seed
        );
        plot(path, &runs, &title)?;
    }
    write_runs(&mut out, format, &runs)?;
    Ok(kplug::Code::Success)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum PlotKind {
    Svg,
    Png,
}

fn plot_kind(path: &Path) -> Option<PlotKind> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "svg" => Some(PlotKind::Svg),
        "png" => Some(PlotKind::Png),
        _ => None,
    }
}

/// Where fonts usually are; `KPLUG_FONT` names one directly.
const FONTS: [&str; 7] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// Registers a label font once: the first that reads.
fn load_font() -> anyhow::Result<()> {
    static LOADED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    LOADED
        .get_or_init(|| {
            let named = std::env::var("KPLUG_FONT").ok();
            let candidates = named.iter().map(String::as_str).chain(FONTS);
            for path in candidates {
                if let Ok(bytes) = std::fs::read(path) {
                    // plotters keeps fonts for the process's life.
                    return figure::use_font(Box::leak(bytes.into_boxed_slice()))
                        .map_err(|e| format!("{path}: {e}"));
                }
            }
            Err(format!(
                "--plot needs a TrueType font for its labels and found none (looked at {}); install one (Debian: fonts-dejavu-core) or name it in KPLUG_FONT",
                FONTS.join(", ")
            ))
        })
        .clone()
        .map_err(|e| anyhow::anyhow!(e))
}

fn plot(path: &Path, runs: &[Outcome], title: &str) -> anyhow::Result<()> {
    load_font()?;
    let size = (1500, 480);
    let context = || format!("--plot {}", path.display());
    match plot_kind(path) {
        Some(PlotKind::Svg) => {
            let root = SVGBackend::new(path, size).into_drawing_area();
            figure::draw(&root, runs, title)
                .map_err(|e| anyhow::anyhow!("{e}"))
                .with_context(context)?;
        }
        Some(PlotKind::Png) => {
            let root = BitMapBackend::new(path, size).into_drawing_area();
            figure::draw(&root, runs, title)
                .map_err(|e| anyhow::anyhow!("{e}"))
                .with_context(context)?;
        }
        None => unreachable!("checked before the runs"),
    }
    Ok(())
}

fn write_runs(out: &mut dyn Write, format: Format, runs: &[Outcome]) -> anyhow::Result<()> {
    match format {
        Format::Json => {
            kplug::output::format::write_json(&serde_json::json!({ "runs": runs }), out)?
        }
        Format::Csv => {
            write!(out, "router,servers,qps,achievedQps,outputTokensPerSec")?;
            for name in run::LATENCIES {
                write!(out, ",{name}P50,{name}P90,{name}P99")?;
            }
            writeln!(out, ",shed,preempted")?;
            for r in runs {
                write!(
                    out,
                    "{},{},{},{:.3},{:.1}",
                    r.router, r.servers, r.qps, r.achieved_qps, r.output_tokens_per_sec
                )?;
                for (_, q) in r.latencies() {
                    write!(out, ",{:.5},{:.5},{:.5}", q.p50, q.p90, q.p99)?;
                }
                writeln!(out, ",{},{}", r.shed, r.preempted)?;
            }
        }
        Format::Table => {
            let mut t = Table::new(&[
                "ROUTER",
                "SERVERS",
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
            for r in runs {
                t.push([
                    Cell::from(r.router),
                    Cell::from(r.servers.to_string()),
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
    Ok(())
}

fn write_capacities(
    out: &mut dyn Write,
    format: Format,
    target: &Target,
    found: &[Capacity],
) -> anyhow::Result<()> {
    let max = |c: &Capacity| match (c.max_qps, c.at_least) {
        (None, _) => "none".to_string(),
        (Some(q), true) => format!(">= {q:.0}"),
        (Some(q), false) => format!("{q:.0}"),
    };
    match format {
        Format::Json => kplug::output::format::write_json(
            &serde_json::json!({
                "target": { "metric": target.name(), "limit": target.limit },
                "capacities": found,
            }),
            out,
        )?,
        Format::Csv => {
            writeln!(out, "router,servers,maxQps,atLeast,{},runs", target.name())?;
            for c in found {
                writeln!(
                    out,
                    "{},{},{},{},{},{}",
                    c.router,
                    c.servers,
                    c.max_qps.map(|q| format!("{q:.2}")).unwrap_or_default(),
                    c.at_least,
                    c.run
                        .as_ref()
                        .map(|o| format!("{:.5}", target.value(o)))
                        .unwrap_or_default(),
                    c.runs
                )?;
            }
        }
        Format::Table => {
            let header = format!("{} THERE", target.name().to_uppercase());
            let mut t = Table::new(&["ROUTER", "SERVERS", "MAX QPS", &header, "ACHIEVED", "RUNS"]);
            for c in found {
                t.push([
                    Cell::from(c.router),
                    Cell::from(c.servers.to_string()),
                    Cell::from(max(c)),
                    Cell::from(
                        c.run
                            .as_ref()
                            .map(|o| format!("{:.1}ms", target.value(o) * 1000.0))
                            .unwrap_or_else(|| "-".into()),
                    ),
                    Cell::from(
                        c.run
                            .as_ref()
                            .map(|o| format!("{:.1}", o.achieved_qps))
                            .unwrap_or_else(|| "-".into()),
                    ),
                    Cell::from(c.runs.to_string()),
                ]);
            }
            out.write_all(t.to_string_with(TableOptions::default()).as_bytes())?;
        }
    }
    Ok(())
}
