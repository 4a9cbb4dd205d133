//! Where each model-server engine keeps what the endpoint picker reads: the
//! metric names of the reference EPP's built-in engine configurations (GIE
//! v1.5.0 `datalayer/extractor/metrics/factories.go`), and reading them out
//! of a scraped exposition.

use serde::Serialize;

use crate::exposition::{self, Sample};
use crate::metrics::Metrics;

/// A model-server engine, as the pod label
/// `inference.networking.k8s.io/engine-type` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Engine {
    #[default]
    Vllm,
    Sglang,
    TrtllmServe,
    TritonTensorrtLlm,
}

/// A metric as the EPP's specs write it: a name and at most one label
/// that must have a value (`name{label=value}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub name: &'static str,
    pub label: Option<(&'static str, &'static str)>,
}

impl std::fmt::Display for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.label {
            Some((k, v)) => write!(f, "{}{{{k}={v}}}", self.name),
            None => f.write_str(self.name),
        }
    }
}

const fn spec(name: &'static str) -> Spec {
    Spec { name, label: None }
}

const fn labelled(name: &'static str, label: &'static str, value: &'static str) -> Spec {
    Spec {
        name,
        label: Some((label, value)),
    }
}

/// The specs of one engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Specs {
    pub waiting: Spec,
    pub running: Spec,
    pub kv_usage: Spec,
    /// Adapters loaded and waiting (vLLM only).
    pub lora: Option<Spec>,
    /// The KV-cache geometry: an info gauge with block size and count
    /// labels, or two gauges.
    pub cache: Cache,
}

/// Where an engine tells its KV-cache block size and block count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cache {
    Labels {
        info: Spec,
        block_size: &'static str,
        num_blocks: &'static str,
    },
    Gauges {
        block_size: Spec,
        num_blocks: Spec,
    },
}

impl Engine {
    pub const ALL: [Engine; 4] = [
        Engine::Vllm,
        Engine::Sglang,
        Engine::TrtllmServe,
        Engine::TritonTensorrtLlm,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Engine::Vllm => "vllm",
            Engine::Sglang => "sglang",
            Engine::TrtllmServe => "trtllm-serve",
            Engine::TritonTensorrtLlm => "triton-tensorrt-llm",
        }
    }

    pub fn parse(name: &str) -> Option<Engine> {
        Engine::ALL.into_iter().find(|e| e.name() == name)
    }

    pub fn specs(self) -> Specs {
        match self {
            Engine::Vllm => Specs {
                waiting: spec("vllm:num_requests_waiting"),
                running: spec("vllm:num_requests_running"),
                kv_usage: spec("vllm:kv_cache_usage_perc"),
                lora: Some(spec("vllm:lora_requests_info")),
                cache: Cache::Labels {
                    info: spec("vllm:cache_config_info"),
                    block_size: "block_size",
                    num_blocks: "num_gpu_blocks",
                },
            },
            Engine::Sglang => Specs {
                waiting: spec("sglang:num_queue_reqs"),
                running: spec("sglang:num_running_reqs"),
                kv_usage: spec("sglang:token_usage"),
                lora: None,
                cache: Cache::Labels {
                    info: spec("sglang:cache_config_info"),
                    block_size: "page_size",
                    num_blocks: "num_pages",
                },
            },
            Engine::TrtllmServe => Specs {
                waiting: spec("trtllm_num_requests_waiting"),
                running: spec("trtllm_num_requests_running"),
                kv_usage: spec("trtllm_kv_cache_utilization"),
                lora: None,
                cache: Cache::Gauges {
                    block_size: spec("trtllm_kv_cache_tokens_per_block"),
                    num_blocks: spec("trtllm_kv_cache_max_blocks"),
                },
            },
            Engine::TritonTensorrtLlm => Specs {
                waiting: labelled("nv_trt_llm_request_metrics", "request_type", "waiting"),
                running: labelled("nv_trt_llm_request_metrics", "request_type", "scheduled"),
                kv_usage: labelled(
                    "nv_trt_llm_kv_cache_block_metrics",
                    "kv_cache_block_type",
                    "fraction",
                ),
                lora: None,
                cache: Cache::Gauges {
                    block_size: labelled(
                        "nv_trt_llm_kv_cache_block_metrics",
                        "kv_cache_block_type",
                        "tokens_per",
                    ),
                    num_blocks: labelled(
                        "nv_trt_llm_kv_cache_block_metrics",
                        "kv_cache_block_type",
                        "max",
                    ),
                },
            },
        }
    }
}

/// The KV-cache gauge vLLM up to 0.10 exposed; the v1.5.0 EPP does not read it.
const OLD_VLLM_KV: &str = "vllm:gpu_cache_usage_perc";

/// What one exposition says, for the picker and for a person.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reading {
    pub metrics: Metrics,
    /// The specs the exposition lacks: the EPP keeps zero (or its last
    /// value) for them and logs an extraction error.
    pub missing: Vec<String>,
    /// A vLLM that exposes only the old KV gauge: its value, which the
    /// picker does not see.
    pub old_kv_usage: Option<f64>,
}

/// The sample `spec` selects: with several, the one with the newest
/// timestamp (the first, without timestamps), as the EPP takes it.
fn select(samples: &[Sample], spec: Spec) -> Option<&Sample> {
    let mut best: Option<&Sample> = None;
    for s in samples.iter().filter(|s| s.name == spec.name) {
        if let Some((k, v)) = spec.label
            && s.labels.get(k).map(String::as_str) != Some(v)
        {
            continue;
        }
        if best.is_none_or(|b| s.timestamp > b.timestamp) {
            best = Some(s);
        }
    }
    best
}

fn list(text: Option<&String>) -> Vec<String> {
    text.map_or("", String::as_str)
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// Read `text` (one model server's `/metrics`) as `engine` names it.
pub fn read(text: &str, engine: Engine) -> Result<Reading, exposition::ParseError> {
    let samples = exposition::parse(text)?;
    let specs = engine.specs();
    let mut reading = Reading::default();
    let mut get = |spec: Spec| match select(&samples, spec) {
        Some(s) => s.value,
        None => {
            reading.missing.push(spec.to_string());
            0.0
        }
    };
    let waiting = get(specs.waiting);
    let running = get(specs.running);
    let kv = get(specs.kv_usage);
    // Go converts a float to int by truncation; NaN and negatives are
    // nonsense from the server, read as 0.
    let count = |v: f64| {
        if v.is_finite() && v > 0.0 {
            v as u64
        } else {
            0
        }
    };
    reading.metrics.waiting_queue_size = count(waiting);
    reading.metrics.running_requests_size = count(running);
    reading.metrics.kv_cache_usage_percent = if kv.is_finite() { kv } else { 0.0 };
    if engine == Engine::Vllm && select(&samples, specs.kv_usage).is_none() {
        reading.old_kv_usage = select(&samples, spec(OLD_VLLM_KV)).map(|s| s.value);
    }
    if let Some(lora) = specs.lora {
        // The gauge's value is a time: the largest is the latest state.
        let latest = samples
            .iter()
            .filter(|s| s.name == lora.name)
            .max_by(|a, b| a.value.total_cmp(&b.value));
        match latest {
            Some(s) => {
                reading.metrics.active_models = list(s.labels.get("running_lora_adapters"));
                reading.metrics.waiting_models = list(s.labels.get("waiting_lora_adapters"));
                reading.metrics.max_active_models = s
                    .labels
                    .get("max_lora")
                    .and_then(|m| m.parse().ok())
                    .unwrap_or(0);
            }
            None => reading.missing.push(lora.to_string()),
        }
    }
    // Only the prefix cache's block size depends on it: not "missing".
    let (block_size, num_blocks) = match specs.cache {
        Cache::Labels {
            info,
            block_size,
            num_blocks,
        } => {
            let label = |s: &Sample, name: &str| s.labels.get(name).and_then(|v| v.parse().ok());
            let sample = select(&samples, info);
            (
                sample.and_then(|s| label(s, block_size)),
                sample.and_then(|s| label(s, num_blocks)),
            )
        }
        Cache::Gauges {
            block_size,
            num_blocks,
        } => (
            select(&samples, block_size).map(|s| count(s.value)),
            select(&samples, num_blocks).map(|s| count(s.value)),
        ),
    };
    reading.metrics.cache_block_size = block_size.unwrap_or(0);
    reading.metrics.cache_num_blocks = num_blocks.unwrap_or(0);
    Ok(reading)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VLLM: &str = "\
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{model_name=\"llama\"} 7.0
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name=\"llama\"} 3.0
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{model_name=\"llama\"} 0.42
# TYPE vllm:lora_requests_info gauge
vllm:lora_requests_info{max_lora=\"2\",running_lora_adapters=\"sql\",waiting_lora_adapters=\"\"} 1.7e9
vllm:lora_requests_info{max_lora=\"2\",running_lora_adapters=\"sql,chat\",waiting_lora_adapters=\"fr\"} 1.8e9
vllm:cache_config_info{block_size=\"32\",num_gpu_blocks=\"2048\"} 1
";

    #[test]
    fn a_vllm_exposition_reads_as_the_epp_reads_it() {
        let r = read(VLLM, Engine::Vllm).unwrap();
        assert_eq!(r.metrics.waiting_queue_size, 7);
        assert_eq!(r.metrics.running_requests_size, 3);
        assert_eq!(r.metrics.kv_cache_usage_percent, 0.42);
        // The LoRA sample with the largest value (the latest) counts.
        assert_eq!(r.metrics.active_models, ["sql", "chat"]);
        assert_eq!(r.metrics.waiting_models, ["fr"]);
        assert_eq!(r.metrics.max_active_models, 2);
        assert_eq!(
            (r.metrics.cache_block_size, r.metrics.cache_num_blocks),
            (32, 2048)
        );
        assert!(r.missing.is_empty());
    }

    #[test]
    fn missing_families_are_named_and_the_old_kv_gauge_is_noticed() {
        let text = "# TYPE vllm:gpu_cache_usage_perc gauge\nvllm:gpu_cache_usage_perc 0.9\nvllm:num_requests_waiting 1";
        let r = read(text, Engine::Vllm).unwrap();
        assert_eq!(
            r.missing,
            [
                "vllm:num_requests_running",
                "vllm:kv_cache_usage_perc",
                "vllm:lora_requests_info"
            ]
        );
        assert_eq!(r.metrics.kv_cache_usage_percent, 0.0, "the EPP sees none");
        assert_eq!(r.old_kv_usage, Some(0.9));
    }

    #[test]
    fn triton_selects_by_label() {
        let text = "\
nv_trt_llm_request_metrics{request_type=\"waiting\"} 4
nv_trt_llm_request_metrics{request_type=\"scheduled\"} 9
nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type=\"fraction\"} 0.25
nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type=\"max\"} 4096
";
        let r = read(text, Engine::TritonTensorrtLlm).unwrap();
        assert_eq!(
            (
                r.metrics.waiting_queue_size,
                r.metrics.running_requests_size,
                r.metrics.kv_cache_usage_percent
            ),
            (4, 9, 0.25)
        );
        assert!(r.missing.is_empty());
        assert_eq!(r.metrics.cache_num_blocks, 4096);
        // SGLang's names are not there.
        let r = read(text, Engine::Sglang).unwrap();
        assert_eq!(r.missing.len(), 3);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(read("{{{ not metrics", Engine::Vllm).is_err());
        assert!(read("", Engine::Vllm).is_ok());
        assert_eq!(Engine::parse("trtllm-serve"), Some(Engine::TrtllmServe));
    }
}
