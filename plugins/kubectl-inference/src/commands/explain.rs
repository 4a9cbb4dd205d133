//! `kubectl inference explain`: replay the endpoint picker's decision.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use kplug::cli::{KubectlArgs, ReportFormat};
use kplug::output::table::{Cell, Table, TableOptions};
use kplug_inference::engine::{self, Engine, Reading};
use kplug_inference::picker::legacy::Legacy;
use kplug_inference::picker::prefix::{self, Prompt};
use kplug_inference::picker::{
    Decision, Endpoint, Filter, Picker, PrefixMatch, Profile, Request, Scorer,
};
use serde::Serialize;

/// Why the endpoint picker sends a request to one model server: each
/// endpoint's scores and weighted total, the pick and its fallbacks, the
/// pool's saturation and whether a request of this priority is shed (429)
///
/// The picker is GIE v1.5.0's default profile (queue-scorer 2,
/// kv-cache-utilization-scorer 2, prefix-cache-scorer 3, max-score-picker;
/// utilization-detector with 5 waiting, 80 % KV, 200 ms), or the one an
/// EndpointPickerConfig describes: --config FILE, or for a live POOL the
/// one its EPP Deployment runs (--config-text, or the ConfigMap behind
/// --config-file). Live, every endpoint of POOL is scraped now; offline,
/// --endpoint names saved /metrics files or URLs, which count as fresh.
/// The EPP's prefix-cache index lives in its memory: the replay assumes it
/// cold, so every prefix-cache score is 0.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The pool to replay live: its Ready endpoints, scraped now
    #[arg(conflicts_with = "endpoints", required_unless_present = "endpoints")]
    pub pool: Option<String>,

    /// A model server: NAME=SOURCE or NAME=ENGINE:SOURCE, SOURCE a file
    /// holding its /metrics (Prometheus text) or an http(s) URL to scrape;
    /// ENGINE one of vllm (default), sglang, trtllm-serve,
    /// triton-tensorrt-llm. Repeat for each
    #[arg(long = "endpoint", value_name = "NAME=[ENGINE:]SOURCE")]
    pub endpoints: Vec<String>,

    /// The request's priority (its InferenceObjective's); below 0 is sheddable
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    pub priority: i64,

    /// The model or LoRA adapter the request is for (lora-affinity-scorer;
    /// it also seeds the prefix hash chain)
    #[arg(long, value_name = "MODEL", default_value = "")]
    pub model: String,

    /// The request's prompt, for the prefix-cache scorer: TEXT (one user
    /// message) or @FILE (a chat or completions request body as JSON, or
    /// text)
    #[arg(long, value_name = "TEXT|@FILE")]
    pub prompt: Option<String>,

    /// What the EPP's prefix index holds: a JSON Lines file of past
    /// requests, {"endpoint": NAME|ADDRESS, "prompt": TEXT} or
    /// {"endpoint": …, "body": {…}}, optionally with "model"; oldest first.
    /// Without it the index is assumed cold
    #[arg(long, value_name = "FILE", requires = "prompt")]
    pub prefix_history: Option<std::path::PathBuf>,

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

    /// The scheduler to replay: v1.5 (the plugin profile) or legacy (the
    /// v0.1–v0.3 filter tree behind the published benchmark; --threshold
    /// kvCacheUtilThreshold and queueDepthThreshold set its
    /// KV_CACHE_THRESHOLD and QUEUE_THRESHOLD_CRITICAL)
    #[arg(long, value_enum, default_value = "v1.5", conflicts_with_all = ["config", "weights", "prompt"])]
    pub scheduler: Scheduler,

    /// Give up on an endpoint's /metrics after this long
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = kplug::cli::parse_duration)]
    pub scrape_timeout: Duration,

    #[arg(short = 'o', long, value_name = "FORMAT")]
    pub output: Option<ReportFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scheduler {
    #[value(name = "v1.5")]
    Profile,
    Legacy,
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

/// `NAME=[ENGINE:]SOURCE` → the name, the engine and the file or URL.
fn endpoint_arg(text: &str) -> Result<(String, Engine, String), kplug::Error> {
    let (name, rest) = text
        .split_once('=')
        .filter(|(n, r)| !n.is_empty() && !r.is_empty())
        .ok_or_else(|| {
            kplug::Error::Usage(format!(
                "--endpoint {text}: write NAME=FILE or NAME=ENGINE:FILE"
            ))
        })?;
    // A prefix before ':' is an engine only when it names one (paths and
    // URLs hold colons).
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
    /// The live pool replayed, `namespace/name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pool: Option<String>,
    /// Each endpoint's `ip:port` (live, or scraped from a URL).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    addresses: BTreeMap<&'a str, &'a str>,
    /// Where the profile comes from.
    config: String,
    /// The profile replayed: its scorers and weights, in order.
    profile: Vec<Weighted>,
    /// What the replay could not know and assumed.
    assumptions: Vec<String>,
    /// Per endpoint, the metrics its exposition lacks.
    missing: BTreeMap<&'a str, &'a [String]>,
    /// Endpoints whose /metrics could not be read, and why.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    unreachable: BTreeMap<&'a str, &'a str>,
}

/// One endpoint to replay: what its metrics said, or why they could not be read.
pub struct Replayed {
    pub name: String,
    pub address: Option<String>,
    pub reading: Result<Reading, String>,
}

/// What the replay runs on.
struct Inputs {
    pool: Option<String>,
    endpoints: Vec<Replayed>,
    /// The EndpointPickerConfig's text and where it was found; `None` for
    /// the built-in default profile.
    config: Option<String>,
    config_origin: String,
}

pub fn run(kube: &KubectlArgs, args: Args) -> anyhow::Result<kplug::Code> {
    let runtime = kplug::cli::runtime()?;
    let mut inputs = match &args.pool {
        Some(pool) => runtime.block_on(live(kube, &args, pool))?,
        None => runtime.block_on(offline(&args))?,
    };
    if let Some(path) = &args.config {
        inputs.config = Some(
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        );
        inputs.config_origin = format!("--config {}", path.display());
    }
    for d in &args.drained {
        let before = inputs.endpoints.len();
        // A Pod's name drains all its ranks; an endpoint's or address, one.
        inputs.endpoints.retain(|e| {
            e.name != *d
                && e.address.as_deref() != Some(d)
                && e.name
                    .strip_prefix(d.as_str())
                    .is_none_or(|r| !r.starts_with("-rank-"))
        });
        if inputs.endpoints.len() == before {
            anyhow::bail!(kplug::Error::Usage(format!(
                "--drain {d}: no endpoint, Pod or address of that name"
            )));
        }
    }
    let base = match &inputs.config {
        None => Picker::default(),
        Some(text) => {
            kplug_inference::config::read(text).with_context(|| inputs.config_origin.clone())?
        }
    };
    let picker = match args.scheduler {
        Scheduler::Profile => what_if(base, &args),
        // The tree has no scorers: the table shows each endpoint's chance.
        Scheduler::Legacy => Picker {
            profile: Profile {
                filters: Vec::new(),
                scorers: Vec::new(),
                ..Profile::gie_default()
            },
            ..base
        },
    };
    let endpoints: Vec<Endpoint> = inputs
        .endpoints
        .iter()
        .map(|e| Endpoint {
            name: e.name.clone(),
            metrics: e.reading.as_ref().ok().map(|r| r.metrics.clone()),
            age: Duration::ZERO,
        })
        .collect();
    let (prefix, prefix_assumption) =
        prefix_match(&args, &picker.profile.prefix, &inputs.endpoints, &endpoints)?;
    let request = Request {
        target_model: args.model.clone(),
        priority: args.priority,
        prefix,
    };
    let decision = match args.scheduler {
        Scheduler::Profile => picker.decide(&endpoints, &request),
        Scheduler::Legacy => legacy(&args).decide(&endpoints, &request),
    };
    if args.scheduler == Scheduler::Legacy {
        inputs.config_origin = "the v0.3 filter tree (--scheduler legacy)".into();
    }
    let mut assumptions = vec![match inputs.pool {
        Some(_) => "metrics scraped just now are as fresh as the EPP's (it scrapes every 50 ms)"
            .to_string(),
        None => "metrics read from files or URLs are fresh (age 0)".to_string(),
    }];
    if picker
        .profile
        .scorers
        .iter()
        .any(|(s, _)| *s == Scorer::PrefixCache)
    {
        assumptions.push(prefix_assumption);
    }
    if args.scheduler == Scheduler::Legacy {
        assumptions.push("a request of priority > 0 is Critical; 0 (Standard) and below (Sheddable) are not, as the v0.3 scheduler tells them apart".into());
    }
    if inputs.endpoints.iter().any(|e| e.reading.is_err()) {
        assumptions.push("an endpoint whose /metrics cannot be read has no metrics: the EPP keeps its last values, which only it knows".into());
    }
    let report = ExplainReport {
        decision: &decision,
        pool: inputs.pool.clone(),
        addresses: inputs
            .endpoints
            .iter()
            .filter_map(|e| Some((e.name.as_str(), e.address.as_deref()?)))
            .collect(),
        config: inputs.config_origin.clone(),
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
        missing: inputs
            .endpoints
            .iter()
            .filter_map(|e| {
                let r = e.reading.as_ref().ok()?;
                (!r.missing.is_empty()).then_some((e.name.as_str(), r.missing.as_slice()))
            })
            .collect(),
        unreachable: inputs
            .endpoints
            .iter()
            .filter_map(|e| Some((e.name.as_str(), e.reading.as_ref().err()?.as_str())))
            .collect(),
    };
    let mut out = std::io::stdout().lock();
    match args.output {
        Some(format) => super::print_report(&report, format, &mut out)?,
        None => human(&report, &inputs.endpoints, &picker, &request, &mut out)?,
    }
    Ok(kplug::Code::Success)
}

/// A prompt as the EPP reads it: a request body (JSON) or plain text as
/// one user message; and the body's cache_salt.
fn prompt_of(text: &str) -> (Prompt, String) {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(body) if body.is_object() => match Prompt::from_body(&body) {
            Some(p) => (
                p,
                body["cache_salt"].as_str().unwrap_or_default().to_string(),
            ),
            None => (Prompt::user(text), String::new()),
        },
        _ => (Prompt::user(text), String::new()),
    }
}

/// The prefix-cache producer's answer for the request, replayed: the
/// prompt's blocks (block size from the first endpoint's cache_config_info
/// under autoTune, else the configured one) against an index filled from
/// --prefix-history, each endpoint's LRU as large as its KV cache under
/// autoTune; and what that assumed.
fn prefix_match(
    args: &Args,
    config: &prefix::PrefixConfig,
    replayed: &[Replayed],
    endpoints: &[Endpoint],
) -> anyhow::Result<(PrefixMatch, String)> {
    let Some(prompt) = &args.prompt else {
        return Ok((
            PrefixMatch::default(),
            "no --prompt: the request has no prefix blocks, so every prefix-cache-scorer score is 0".into(),
        ));
    };
    let text = match prompt.strip_prefix('@') {
        Some(file) => std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?,
        None => prompt.clone(),
    };
    let (prompt, salt) = prompt_of(&text);
    let block_tokens = config.block_tokens(
        endpoints
            .first()
            .map_or(0, |e| e.metrics().cache_block_size),
    );
    let max_blocks = config.max_blocks(block_tokens);
    let hashes = prefix::hash_chain(
        &args.model,
        &salt,
        &prompt.user_input(),
        block_tokens,
        max_blocks,
    );
    let Some(history) = &args.prefix_history else {
        return Ok((
            PrefixMatch {
                total: hashes.len(),
                matched: Default::default(),
            },
            format!(
                "the prefix cache is cold (no --prefix-history): the prompt is {} blocks of {block_tokens} tokens and no endpoint holds any",
                hashes.len()
            ),
        ));
    };
    let text = std::fs::read_to_string(history)
        .with_context(|| format!("reading {}", history.display()))?;
    let mut index = prefix::PrefixIndex::new();
    let mut entries = 0;
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let at = || format!("{}:{}", history.display(), n + 1);
        let entry: serde_json::Value = serde_json::from_str(line).with_context(at)?;
        let endpoint = entry["endpoint"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("{}: no \"endpoint\"", at()))?;
        // An address names the endpoint it belongs to.
        let name = replayed
            .iter()
            .find(|r| r.name == endpoint || r.address.as_deref() == Some(endpoint))
            .map(|r| r.name.clone())
            .ok_or_else(|| anyhow::anyhow!("{}: no endpoint {endpoint:?} in the replay", at()))?;
        let (past, salt) = match (&entry["body"], entry["prompt"].as_str()) {
            (body @ serde_json::Value::Object(_), _) => prompt_of(&body.to_string()),
            (_, Some(text)) => (Prompt::user(text), String::new()),
            _ => anyhow::bail!("{}: give \"prompt\" or \"body\"", at()),
        };
        let model = entry["model"].as_str().unwrap_or(&args.model);
        // Under autoTune each endpoint's LRU is as large as its KV cache.
        let blocks = endpoints
            .iter()
            .find(|e| e.name == name)
            .map_or(0, |e| e.metrics().cache_num_blocks);
        let past = prefix::hash_chain(model, &salt, &past.user_input(), block_tokens, max_blocks);
        index.add(&name, &past, config.capacity(blocks));
        entries += 1;
    }
    Ok((
        PrefixMatch {
            total: hashes.len(),
            matched: index.longest_prefix(&hashes),
        },
        format!(
            "the EPP's prefix index holds exactly the {entries} requests of --prefix-history (its own lives in its memory); the prompt is {} blocks of {block_tokens} tokens",
            hashes.len()
        ),
    ))
}

/// The endpoints of `--endpoint`, read from files or scraped from URLs.
async fn offline(args: &Args) -> anyhow::Result<Inputs> {
    // Built on the first URL: files alone need no HTTP client (and its TLS roots).
    let mut http: Option<reqwest::Client> = None;
    let mut endpoints: Vec<Replayed> = Vec::new();
    for text in &args.endpoints {
        let (name, engine, source) = endpoint_arg(text)?;
        if endpoints.iter().any(|e| e.name == name) {
            anyhow::bail!(kplug::Error::Usage(format!(
                "--endpoint {name} is given twice"
            )));
        }
        let (address, reading) = if source.starts_with("http://") || source.starts_with("https://")
        {
            let address = reqwest::Url::parse(&source)
                .ok()
                .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)));
            if http.is_none() {
                http = Some(super::live::http_client(args.scrape_timeout)?);
            }
            let client = http.as_ref().expect("built above");
            (address, super::live::scrape(client, &source, engine).await)
        } else {
            let body =
                std::fs::read_to_string(&source).with_context(|| format!("reading {source}"))?;
            let reading = engine::read(&body, engine).with_context(|| source.clone())?;
            (None, Ok(reading))
        };
        endpoints.push(Replayed {
            name,
            address,
            reading,
        });
    }
    Ok(Inputs {
        pool: None,
        endpoints,
        config: None,
        config_origin: "the GIE v1.5.0 default profile".into(),
    })
}

/// Every endpoint of `pool`, scraped now, and the config its EPP runs.
async fn live(kube: &KubectlArgs, args: &Args, pool: &str) -> anyhow::Result<Inputs> {
    let session = super::live::Session::open(kube, args.scrape_timeout).await?;
    let status = session.pool(kube, pool).await?;
    let (config, config_origin) = match (&args.config, &status.pool.picker) {
        (Some(_), _) => (None, String::new()),
        (None, Some(picker)) => {
            session
                .picker_config(kube, &picker.name, status.service()?)
                .await?
        }
        (None, None) => (
            None,
            "the GIE v1.5.0 default profile (the pool names no endpoint picker)".into(),
        ),
    };
    let endpoints = status
        .endpoints
        .into_iter()
        .map(|e| Replayed {
            name: e.name,
            address: Some(e.address),
            reading: match (e.reading, e.error) {
                (Some(r), _) => Ok(r),
                (None, error) => Err(error.unwrap_or_default()),
            },
        })
        .collect();
    Ok(Inputs {
        pool: Some(format!("{}/{}", status.namespace, status.name)),
        endpoints,
        config,
        config_origin,
    })
}

/// The v0.3 tree with the flags' thresholds.
fn legacy(args: &Args) -> Legacy {
    let mut l = Legacy::default();
    for (which, value) in &args.thresholds {
        match which {
            Threshold::QueueDepth => l.queue_threshold_critical = value.round() as u64,
            Threshold::KvCacheUtil => l.kv_cache_threshold = *value,
            Threshold::Headroom => {}
        }
    }
    l
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
    endpoints: &[Replayed],
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
    let legacy = !d.path.is_empty();
    if legacy {
        headers.push("CHANCE".to_string());
    } else {
        headers.extend(["TOTAL".to_string(), "LOAD".to_string()]);
    }
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
        if !legacy {
            row.push(Cell::from(format!("{:.2}", e.load)));
        }
        table.push(row);
    }
    out.write_all(table.to_string_with(TableOptions::default()).as_bytes())?;
    writeln!(out)?;
    if legacy {
        writeln!(out, "filters: {}", d.path.join(" → "))?;
        match &d.pick {
            _ if d.shed => writeln!(
                out,
                "dropped: no endpoint has capacity for a request that is not Critical (priority {}): 429",
                request.priority
            )?,
            Some(pick) if d.ties.is_empty() => {
                writeln!(out, "picked: {pick} (*), the only survivor")?
            }
            Some(_) => writeln!(
                out,
                "picked at random among {} survivors (each equally likely); the first is marked",
                d.ties.len() + 1
            )?,
            None => writeln!(out, "no endpoint to pick")?,
        }
    } else {
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
    }
    if let Some(pool) = &report.pool {
        writeln!(out, "pool {pool}, profile from {}", report.config)?;
    }
    for (name, why) in &report.unreachable {
        writeln!(out, "unreachable {name}: {why}")?;
    }
    for (name, r) in endpoints
        .iter()
        .filter_map(|e| Some((&e.name, e.reading.as_ref().ok()?)))
    {
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
