//! The scorers of the reference EPP that depend only on the endpoints'
//! metrics and the request. Each gives every candidate a score in [0, 1];
//! the profile weighs them. Formulas as GIE v1.5.0 computes them (file and
//! function named on each).

use super::{Endpoint, Request};

/// A scorer, by the plugin type an `EndpointPickerConfig` names it with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scorer {
    /// `queue-scorer`: fewer waiting requests, higher score.
    QueueDepth,
    /// `kv-cache-utilization-scorer`: more free KV cache, higher score.
    KvCacheUtilization,
    /// `running-requests-size-scorer`: fewer running requests, higher score.
    RunningRequests,
    /// `lora-affinity-scorer`: the requested adapter loaded, or room for it.
    LoraAffinity,
    /// `prefix-cache-scorer`: the share of the prompt's blocks the endpoint
    /// holds, as the EPP's index of its own past picks says
    /// ([`super::prefix`]); a replay knows only the history it is given.
    PrefixCache,
}

impl Scorer {
    pub const ALL: [Scorer; 5] = [
        Scorer::QueueDepth,
        Scorer::KvCacheUtilization,
        Scorer::RunningRequests,
        Scorer::LoraAffinity,
        Scorer::PrefixCache,
    ];

    /// The plugin type.
    pub fn name(self) -> &'static str {
        match self {
            Scorer::QueueDepth => "queue-scorer",
            Scorer::KvCacheUtilization => "kv-cache-utilization-scorer",
            Scorer::RunningRequests => "running-requests-size-scorer",
            Scorer::LoraAffinity => "lora-affinity-scorer",
            Scorer::PrefixCache => "prefix-cache-scorer",
        }
    }

    pub fn parse(name: &str) -> Option<Scorer> {
        Scorer::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The score of each of `candidates` (all with metrics), in order.
    pub fn score(self, candidates: &[&Endpoint], request: &Request) -> Vec<f64> {
        let metrics = candidates.iter().map(|e| e.metrics());
        match self {
            Scorer::QueueDepth => spread_low(metrics.map(|m| m.waiting_queue_size)),
            Scorer::RunningRequests => spread_low(metrics.map(|m| m.running_requests_size)),
            // kvcacheutilization/kvcache_utilization.go, Score: 1 − usage.
            Scorer::KvCacheUtilization => metrics.map(|m| 1.0 - m.kv_cache_usage_percent).collect(),
            // loraaffinity/lora_affinity.go, Score: the first case that holds.
            Scorer::LoraAffinity => metrics
                .map(|m| {
                    let model = &request.target_model;
                    if m.active_models.contains(model) {
                        1.0
                    } else if ((m.active_models.len() + m.waiting_models.len()) as u64)
                        < m.max_active_models
                    {
                        0.8
                    } else if m.waiting_models.contains(model) {
                        0.6
                    } else {
                        0.0
                    }
                })
                .collect(),
            // scorer/prefix/plugin.go, Score: matched blocks / total blocks.
            Scorer::PrefixCache => candidates
                .iter()
                .map(|e| match request.prefix.total {
                    0 => 0.0,
                    total => {
                        request.prefix.matched.get(&e.name).copied().unwrap_or(0) as f64
                            / total as f64
                    }
                })
                .collect(),
        }
    }
}

/// `(max − v) / (max − min)` over the candidates, 1.0 for all when they
/// are equal (queuedepth/queue.go and runningrequests/runningrequest.go,
/// Score).
fn spread_low(values: impl Iterator<Item = u64>) -> Vec<f64> {
    let values: Vec<u64> = values.collect();
    let (Some(min), Some(max)) = (values.iter().min(), values.iter().max()) else {
        return Vec::new();
    };
    values
        .iter()
        .map(|v| {
            if max == min {
                1.0
            } else {
                (max - v) as f64 / (max - min) as f64
            }
        })
        .collect()
}
