//! `kubectl inference explain`: replay the endpoint picker's decision.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use kplug::cli::{KubectlArgs, ReportFormat};
use kplug::output::table::{Cell, Table, TableOptions};
use kplug_inference::engine::{self, Engine, Reading};
use kplug_inference::picker::{Decision, Endpoint, Filter, Picker, Request, Scorer};
use serde::Serialize;

/// Why the endpoint picker sends a request to one model server: each
/// endpoint's scores and weighted total, the pick and its fallbacks, the
/// pool's saturation and whether a request of this priority is shed (429)
///
/// The picker is GIE v1.5.0's default profile (queue-scorer 2,
/// kv-cache-utilization-scorer 2, prefix-cache-scorer 3, max-score-picker;
/// utilization-detector with 5 waiting, 80 % KV, 200 ms), or the one an
/// EndpointPickerConfig file (--config) describes. For now it
/// replays saved metrics (`--endpoint`); metrics read from files count as
/// fresh. The EPP's prefix-cache index lives in its memory: the replay
/// assumes it cold, so every prefix score is 0.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A model server: NAME=FILE or NAME=ENGINE:FILE, FILE holding its
    /// /metrics (Prometheus text); ENGINE one of vllm (default), sglang,
    /// trtllm-serve, triton-tensorrt-llm. Repeat for each
    #[arg(long = "endpoint", value_name = "NAME=[ENGINE:]FILE", required = true)]
    pub endpoints: Vec<String>,

    /// The request's priority (its InferenceObjective's); below 0 is sheddable
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    pub priority: i64,

    /// The model or LoRA adapter the request is for (lora-affinity-scorer)
    #[arg(long, value_name = "MODEL", default_value = "")]
    pub model: String,

    /// Weigh a scorer differently, or add one: SCORER=W (0 removes it).
    /// Scorers: queue-scorer, kv-cache-utilization-scorer,
    /// running-requests-size-scorer, lora-affinity-scorer, prefix-cache-scorer
    #[arg(long = "weight", value_name = "SCORER=W", value_parser = parse_weight)]
    pub weights: Vec<(Scorer, f64)>,

    /// Change a saturation threshold (of the detector, and of the
    /// profile's saturation filter): queueDepthThreshold=N,
    /// kvCacheUtilThreshold=F, headroom=F
    #[arg(long = "threshold", value_name = "NAME=VALUE", value_parser = parse_threshold)]
    pub thresholds: Vec<(Threshold, f64)>,

    /// Leave an endpoint out, as if drained
    #[arg(long = "drain", value_name = "NAME")]
    pub drained: Vec<String>,

    /// The EPP's EndpointPickerConfig (its --config-file) instead of the
    /// built-in defaults; the flags above change it further
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,

    #[arg(short = 'o', long, value_name = "FORMAT")]
    pub output: Option<ReportFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threshold {
    QueueDepth,
    KvCacheUtil,
    Headroom,
}

fn pair(text: &str) -> Result<(&str, f64), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: write NAME=VALUE"))?;
    let value: f64 = value
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("{text:?}: {value:?} is not a number ≥ 0"))?;
    Ok((name, value))
}

fn parse_weight(text: &str) -> Result<(Scorer, f64), String> {
    let (name, weight) = pair(text)?;
    let scorer = Scorer::parse(name).ok_or_else(|| {
        let known: Vec<&str> = Scorer::ALL.iter().map(|s| s.name()).collect();
        format!("unknown scorer {name:?}; known: {}", known.join(", "))
    })?;
    Ok((scorer, weight))
}

fn parse_threshold(text: &str) -> Result<(Threshold, f64), String> {
    let (name, value) = pair(text)?;
    let which = match name {
        "queueDepthThreshold" => Threshold::QueueDepth,
        "kvCacheUtilThreshold" => Threshold::KvCacheUtil,
        "headroom" => Threshold::Headroom,
        _ => {
            return Err(format!(
                "unknown threshold {name:?}; known: queueDepthThreshold, kvCacheUtilThreshold, headroom"
            ));
        }
    };
    if value == 0.0 && which != Threshold::Headroom {
        return Err(format!("{name} must be above 0"));
    }
    Ok((which, value))
}

/// `NAME=[ENGINE:]FILE` → the name, the engine and the file.
fn endpoint_arg(text: &str) -> Result<(String, Engine, String), kplug::Error> {
    let (name, rest) = text
        .split_once('=')
        .filter(|(n, r)| !n.is_empty() && !r.is_empty())
        .ok_or_else(|| {
            kplug::Error::Usage(format!(
                "--endpoint {text}: write NAME=FILE or NAME=ENGINE:FILE"
            ))
        })?;
    // A prefix before ':' is an engine only when it names one (paths may
    // hold colons).
    let (engine, file) = rest
        .split_once(':')
        .and_then(|(e, file)| Engine::parse(e).map(|e| (e, file)))
        .unwrap_or((Engine::Vllm, rest));
    Ok((name.to_string(), engine, file.to_string()))
}

#[derive(Debug, Serialize)]
struct Weighted {
    scorer: &'static str,
    weight: f64,
}

/// The report `-o json|yaml` prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ExplainReport<'a> {
    #[serde(flatten)]
    decision: &'a Decision,
    /// The profile replayed: its scorers and weights, in order.
    profile: Vec<Weighted>,
    /// What the replay could not know and assumed.
    assumptions: Vec<String>,
    /// Per endpoint, the metrics its exposition lacks.
    missing: std::collections::BTreeMap<&'a str, &'a [String]>,
}

pub fn run(_kube: &KubectlArgs, args: Args) -> anyhow::Result<kplug::Code> {
    let mut readings: Vec<(String, Reading)> = Vec::new();
    for text in &args.endpoints {
        let (name, engine, file) = endpoint_arg(text)?;
        if readings.iter().any(|(n, _)| *n == name) {
            anyhow::bail!(kplug::Error::Usage(format!(
                "--endpoint {name} is given twice"
            )));
        }
        if args.drained.contains(&name) {
            continue;
        }
        let body = std::fs::read_to_string(&file).with_context(|| format!("reading {file}"))?;
        let reading = engine::read(&body, engine).with_context(|| file.clone())?;
        readings.push((name, reading));
    }
    for d in &args.drained {
        if !args
            .endpoints
            .iter()
            .any(|e| e.split('=').next() == Some(d))
        {
            anyhow::bail!(kplug::Error::Usage(format!(
                "--drain {d}: no --endpoint has that name"
            )));
        }
    }
    let base = match &args.config {
        None => Picker::default(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            kplug_inference::config::read(&text).with_context(|| path.display().to_string())?
        }
    };
    let picker = what_if(base, &args);
    let endpoints: Vec<Endpoint> = readings
        .iter()
        .map(|(name, r)| Endpoint {
            name: name.clone(),
            metrics: Some(r.metrics.clone()),
            age: Duration::ZERO,
        })
        .collect();
    let request = Request {
        target_model: args.model.clone(),
        priority: args.priority,
    };
    let decision = picker.decide(&endpoints, &request);
    let mut assumptions = vec!["metrics read from files are fresh (age 0)".to_string()];
    if picker
        .profile
        .scorers
        .iter()
        .any(|(s, _)| *s == Scorer::PrefixCache)
    {
        assumptions.push("the prefix cache is cold: the EPP's index of past picks lives in its memory, so every prefix-cache-scorer score is 0".into());
    }
    let report = ExplainReport {
        decision: &decision,
        profile: picker
            .profile
            .scorers
            .iter()
            .map(|(s, w)| Weighted {
                scorer: s.name(),
                weight: *w,
            })
            .collect(),
        assumptions,
        missing: readings
            .iter()
            .filter(|(_, r)| !r.missing.is_empty())
            .map(|(n, r)| (n.as_str(), r.missing.as_slice()))
            .collect(),
    };
    let mut out = std::io::stdout().lock();
    match args.output {
        Some(format) => super::print_report(&report, format, &mut out)?,
        None => human(&report, &readings, &picker, &request, &mut out)?,
    }
    Ok(kplug::Code::Success)
}

/// `picker` with the flags' changes.
fn what_if(picker: Picker, args: &Args) -> Picker {
    let Picker {
        mut profile,
        mut detector,
    } = picker;
    for (scorer, weight) in &args.weights {
        match profile.scorers.iter_mut().find(|(s, _)| s == scorer) {
            Some(entry) => entry.1 = *weight,
            None => profile.scorers.push((*scorer, *weight)),
        }
    }
    profile.scorers.retain(|(_, w)| *w > 0.0);
    // The detector and a profile's saturation filter are one plugin in the
    // EPP: a threshold changes both.
    let filters = profile.filters.iter_mut().map(|f| match f {
        Filter::Saturation(d) => d,
    });
    for d in std::iter::once(&mut detector).chain(filters) {
        for (which, value) in &args.thresholds {
            match which {
                Threshold::QueueDepth => d.queue_depth_threshold = value.round().max(1.0) as u64,
                Threshold::KvCacheUtil => d.kv_cache_util_threshold = *value,
                Threshold::Headroom => d.headroom = *value,
            }
        }
    }
    Picker { profile, detector }
}

fn human(
    report: &ExplainReport,
    readings: &[(String, Reading)],
    picker: &Picker,
    request: &Request,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let d = report.decision;
    let mut headers = vec!["ENDPOINT".to_string(), "FILTERED".to_string()];
    headers.extend(
        picker
            .profile
            .scorers
            .iter()
            .map(|(s, w)| format!("{} ×{w}", s.name().to_uppercase())),
    );
    headers.extend(["TOTAL".to_string(), "LOAD".to_string()]);
    let mut table = Table::new(&headers);
    for e in &d.endpoints {
        let mark = if d.pick.as_deref() == Some(&e.name) {
            " *"
        } else {
            ""
        };
        let mut row = vec![
            Cell::from(format!("{}{mark}", e.name)),
            Cell::from(e.filtered_by.unwrap_or("-")),
        ];
        for (s, _) in &picker.profile.scorers {
            row.push(Cell::from(
                e.scores
                    .get(s.name())
                    .map_or("-".to_string(), |v| format!("{v:.3}")),
            ));
        }
        row.push(Cell::from(format!("{:.3}", e.total)));
        row.push(Cell::from(format!("{:.2}", e.load)));
        table.push(row);
    }
    out.write_all(table.to_string_with(TableOptions::default()).as_bytes())?;
    writeln!(out)?;
    match (&d.pick, d.shed) {
        (_, true) => writeln!(
            out,
            "shed: a request of priority {} is sheddable and the pool is saturated ({:.2} ≥ 1): the EPP answers 429",
            request.priority, d.saturation
        )?,
        (Some(pick), false) => {
            writeln!(out, "picked: {pick} (*)")?;
            if !d.ties.is_empty() {
                writeln!(
                    out,
                    "  tied with {}: the EPP shuffles before sorting, so it may pick any of them",
                    d.ties.join(", ")
                )?;
            }
            writeln!(
                out,
                "pool saturation {:.2} (the mean load; requests of priority < 0 are shed at ≥ 1): a request of priority {} is admitted",
                d.saturation, request.priority
            )?;
        }
        (None, false) => writeln!(out, "no endpoint to pick")?,
    }
    for (name, r) in readings {
        if !r.missing.is_empty() {
            writeln!(
                out,
                "missing on {name}: {} (the EPP reads 0)",
                r.missing.join(", ")
            )?;
        }
        if let Some(old) = r.old_kv_usage {
            writeln!(
                out,
                "note on {name}: it exposes only vllm:gpu_cache_usage_perc ({old}), which the v1.5.0 EPP does not read"
            )?;
        }
    }
    for a in &report.assumptions {
        writeln!(out, "assumed: {a}")?;
    }
    Ok(())
}
