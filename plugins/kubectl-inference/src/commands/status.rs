//! `kubectl inference status`: a pool, its parents, its endpoint picker and
//! the live load of every endpoint, scraped from the model servers.

use std::io::Write;
use std::time::Duration;

use kplug::cli::{KubectlArgs, ReportFormat};
use kplug::output::table::{Cell, Table, TableOptions};

use super::live::{PoolStatus, Session};

/// A pool's parents and conditions, its endpoint picker's Service and
/// readiness, and every endpoint (Ready Pods matching its selector × target
/// ports, narrowed by active-ports) with its engine and live load scraped
/// from http://podIP:port/metrics: waiting, running, KV cache, LoRA
/// adapters, how long the scrape took, metrics missing. Scrapes run at once,
/// each with a timeout: a dead endpoint is a row with its error
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The pool (default: every pool of the namespace)
    pub pool: Option<String>,

    /// Give up on an endpoint's /metrics after this long
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = kplug::cli::parse_duration)]
    pub scrape_timeout: Duration,

    #[arg(short = 'o', long, value_name = "FORMAT")]
    pub output: Option<ReportFormat>,
}

/// `status`, again and again: refreshed in place on a terminal, one
/// snapshot after another (each headed by its time) when piped
#[derive(Debug, clap::Args)]
pub struct TopArgs {
    /// The pool (default: every pool of the namespace)
    pub pool: Option<String>,

    /// Time between refreshes
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = kplug::cli::parse_duration)]
    pub interval: Duration,

    /// Stop after this many refreshes (default: until interrupted)
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,

    /// Give up on an endpoint's /metrics after this long
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = kplug::cli::parse_duration)]
    pub scrape_timeout: Duration,
}

pub fn run_top(kube: &KubectlArgs, args: TopArgs) -> anyhow::Result<kplug::Code> {
    use std::io::IsTerminal;
    let tty = std::io::stdout().is_terminal();
    let runtime = kplug::cli::runtime()?;
    // Connect and discover once; each refresh only reads pools and scrapes.
    let session = runtime.block_on(Session::open(kube, args.scrape_timeout))?;
    let mut shown = 0u64;
    loop {
        let pools = runtime.block_on(session.snapshot(kube, args.pool.as_deref()))?;
        let mut frame = Vec::new();
        writeln!(
            frame,
            "{}",
            jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ")
        )?;
        for p in &pools {
            human(p, &mut frame)?;
        }
        let mut out = std::io::stdout().lock();
        if tty {
            // Home and clear: the new frame replaces the old one.
            out.write_all(b"\x1b[H\x1b[2J")?;
        }
        out.write_all(&frame)?;
        out.flush()?;
        shown += 1;
        if args.count.is_some_and(|n| shown >= n) {
            return Ok(kplug::Code::Success);
        }
        std::thread::sleep(args.interval);
    }
}

pub fn run(kube: &KubectlArgs, args: Args) -> anyhow::Result<kplug::Code> {
    let pools = kplug::cli::runtime()?.block_on(async {
        let session = Session::open(kube, args.scrape_timeout).await?;
        session.snapshot(kube, args.pool.as_deref()).await
    })?;
    let mut out = std::io::stdout().lock();
    match args.output {
        Some(format) => {
            super::print_report(&serde_json::json!({ "pools": pools }), format, &mut out)?
        }
        None => {
            for p in &pools {
                human(p, &mut out)?;
            }
        }
    }
    Ok(kplug::Code::Success)
}

fn human(p: &PoolStatus, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "Pool {}/{} ({})", p.namespace, p.name, p.api_version)?;
    writeln!(out, "  selector:        {}", p.pool.selector_text())?;
    writeln!(out, "  endpoint picker: {}", p.pool.picker_text())?;
    if let Some(picker) = &p.picker {
        writeln!(out, "                   {picker}")?;
    }
    writeln!(out, "  parents:         {}", p.pool.parents_text())?;
    if p.endpoints.is_empty() {
        writeln!(out, "  no ready endpoints\n")?;
        return Ok(());
    }
    let mut t = Table::new(&[
        "ENDPOINT", "ADDRESS", "ENGINE", "WAITING", "RUNNING", "KV", "LORA", "SCRAPE", "PROBLEMS",
    ]);
    for e in &p.endpoints {
        let (waiting, running, kv, lora, problems) = match (&e.reading, &e.error) {
            (_, Some(err)) => ("-".into(), "-".into(), "-".into(), "-".into(), err.clone()),
            (Some(r), None) => {
                let m = &r.metrics;
                let lora = if m.max_active_models == 0 && m.active_models.is_empty() {
                    "-".to_string()
                } else {
                    format!(
                        "{}/{} of {}",
                        m.active_models.len(),
                        m.waiting_models.len(),
                        m.max_active_models
                    )
                };
                let mut problems: Vec<String> =
                    r.missing.iter().map(|m| format!("no {m}")).collect();
                if let Some(old) = r.old_kv_usage {
                    problems.push(format!("only vllm:gpu_cache_usage_perc ({old})"));
                }
                (
                    m.waiting_queue_size.to_string(),
                    m.running_requests_size.to_string(),
                    format!("{:.0}%", m.kv_cache_usage_percent * 100.0),
                    lora,
                    if problems.is_empty() {
                        "-".into()
                    } else {
                        problems.join("; ")
                    },
                )
            }
            (None, None) => Default::default(),
        };
        t.push([
            Cell::from(e.name.as_str()),
            Cell::from(e.address.as_str()),
            Cell::from(e.engine.name()),
            Cell::from(waiting),
            Cell::from(running),
            Cell::from(kv),
            Cell::from(lora),
            Cell::from(format!("{}ms", e.scrape_ms)),
            Cell::from(problems),
        ]);
    }
    let table = t.to_string_with(TableOptions::default());
    for line in table.lines() {
        writeln!(out, "  {line}")?;
    }
    writeln!(out)
}
