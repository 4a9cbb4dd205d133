//! The endpoint picker's decision, replayed: admission (is a sheddable
//! request shed because the pool is saturated?), then one scheduling
//! profile — filters, weighted scorers, the max-score picker. The steps and
//! their arithmetic are GIE v1.5.0's (`requestcontrol/admission.go`,
//! `scheduling/scheduler_profile.go`, the scorer and picker plugins); every
//! intermediate value is kept, because showing them is the point.

mod detector;
pub mod legacy;
pub mod prefix;
mod scorer;

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use serde::Serialize;

pub use detector::Detector;
pub use scorer::Scorer;

use crate::metrics::Metrics;

/// One model-server endpoint (a Pod's IP and one target port) as the
/// picker sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub name: String,
    /// `None` when it was never scraped: the EPP then holds zero values
    /// that are too old to count (the scorers read zeros, the detector
    /// counts it full).
    pub metrics: Option<Metrics>,
    /// How old the metrics are.
    pub age: Duration,
}

static NO_METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::default);

impl Endpoint {
    pub fn new(name: impl Into<String>, metrics: Metrics) -> Endpoint {
        Endpoint {
            name: name.into(),
            metrics: Some(metrics),
            age: Duration::ZERO,
        }
    }

    /// What the scorers read.
    pub fn metrics(&self) -> &Metrics {
        self.metrics.as_ref().unwrap_or(&NO_METRICS)
    }
}

/// What of a request the picker looks at.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    /// The model (or LoRA adapter) the request is for, after any rewrite.
    pub target_model: String,
    /// The InferenceObjective's priority; below 0 is sheddable.
    pub priority: i64,
    /// How much of the prompt each endpoint holds in the prefix cache.
    pub prefix: PrefixMatch,
}

/// The prefix-cache producer's answer for a request
/// (`PrefixCacheMatchInfo`): its number of blocks, and per endpoint how
/// many leading blocks the index says it holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PrefixMatch {
    pub total: usize,
    pub matched: BTreeMap<String, usize>,
}

impl Request {
    /// `IsSheddable`: a negative priority.
    pub fn sheddable(&self) -> bool {
        self.priority < 0
    }
}

/// A filter of a profile.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// The saturation detector used as a filter (only when a config lists it).
    Saturation(Detector),
}

impl Filter {
    pub fn name(&self) -> &'static str {
        match self {
            Filter::Saturation(_) => "utilization-detector",
        }
    }

    /// Which of `candidates` pass; all of them when none would.
    fn keep(&self, candidates: &[&Endpoint]) -> Vec<bool> {
        let keep: Vec<bool> = match self {
            Filter::Saturation(d) => candidates.iter().map(|e| d.admits(e)).collect(),
        };
        if keep.iter().any(|k| *k) {
            keep
        } else {
            vec![true; candidates.len()]
        }
    }
}

/// One scheduling profile: what runs, in order, and with which weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub filters: Vec<Filter>,
    pub scorers: Vec<(Scorer, f64)>,
    /// How many endpoints the max-score picker returns (the pick and its
    /// fallbacks; `maxNumOfEndpoints`, default 1).
    pub max_endpoints: usize,
    /// The prefix-cache scorer's parameters.
    pub prefix: prefix::PrefixConfig,
}

impl Profile {
    /// The reference EPP's built-in configuration (GIE v1.5.0
    /// `config/loader/defaults.go`): queue 2, KV cache 2, prefix cache 3,
    /// the max-score picker, no filter.
    pub fn gie_default() -> Profile {
        Profile {
            filters: Vec::new(),
            scorers: vec![
                (Scorer::QueueDepth, 2.0),
                (Scorer::KvCacheUtilization, 2.0),
                (Scorer::PrefixCache, 3.0),
            ],
            max_endpoints: 1,
            prefix: prefix::PrefixConfig::default(),
        }
    }
}

/// What the picker does with a request, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Picker {
    pub profile: Profile,
    /// Saturation for admission (and for the filter, if the profile has it).
    pub detector: Detector,
}

impl Default for Picker {
    fn default() -> Self {
        Picker {
            profile: Profile::gie_default(),
            detector: Detector::default(),
        }
    }
}

/// One endpoint's part in a decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Scored {
    pub name: String,
    /// The detector's load of it (≥ 1: full).
    pub load: f64,
    /// The filter that dropped it, if one did.
    pub filtered_by: Option<&'static str>,
    /// Each scorer's score before weighting, by plugin type.
    pub scores: BTreeMap<&'static str, f64>,
    /// The weighted sum the picker ranks by.
    pub total: f64,
}

/// A decision: shed, or the endpoint picked and those that would follow.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// The endpoint picked; `None` when the request is shed or no endpoint
    /// is left.
    pub pick: Option<String>,
    /// Shed with 429: sheddable, and the pool saturated.
    pub shed: bool,
    pub saturation: f64,
    /// Endpoints after the pick, best first (the picker's fallbacks).
    pub fallbacks: Vec<String>,
    /// Others with the pick's very total: the EPP shuffles before sorting,
    /// so it may pick any of them.
    pub ties: Vec<String>,
    pub endpoints: Vec<Scored>,
    /// The filters walked, with survivors/candidates each (the v0.3
    /// scheduler's tree; empty for a profile).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<String>,
}

impl Picker {
    /// Decide for `request` among `endpoints` (the pool's ready endpoints).
    pub fn decide(&self, endpoints: &[Endpoint], request: &Request) -> Decision {
        let saturation = self.detector.saturation(endpoints);
        // requestcontrol/admission.go, rejectIfSheddableAndSaturated.
        let shed = request.sheddable() && saturation >= 1.0;
        let mut scored: Vec<Scored> = endpoints
            .iter()
            .map(|e| Scored {
                name: e.name.clone(),
                load: self.detector.load(e),
                filtered_by: None,
                scores: BTreeMap::new(),
                total: 0.0,
            })
            .collect();
        // Filters in order, each over what the ones before left.
        let mut left: Vec<usize> = (0..endpoints.len()).collect();
        for filter in &self.profile.filters {
            let candidates: Vec<&Endpoint> = left.iter().map(|&i| &endpoints[i]).collect();
            let keep = filter.keep(&candidates);
            left = left
                .into_iter()
                .zip(keep)
                .filter_map(|(i, keep)| {
                    if !keep {
                        scored[i].filtered_by = Some(filter.name());
                    }
                    keep.then_some(i)
                })
                .collect();
        }
        // scheduler_profile.go, runScorerPlugins: weighted sums of scores
        // clamped to [0, 1], scorer by scorer.
        let candidates: Vec<&Endpoint> = left.iter().map(|&i| &endpoints[i]).collect();
        for (scorer, weight) in &self.profile.scorers {
            for (&i, score) in left.iter().zip(scorer.score(&candidates, request)) {
                scored[i].scores.insert(scorer.name(), score);
                scored[i].total += score.clamp(0.0, 1.0) * weight;
            }
        }
        // max_score_picker.go: highest total first; among equals the EPP's
        // shuffle decides, here the order given.
        let mut ranked = left.clone();
        ranked.sort_by(|&a, &b| scored[b].total.total_cmp(&scored[a].total));
        let best = ranked.first().map(|&i| scored[i].total);
        let ties = ranked
            .iter()
            .skip(1)
            .filter(|&&i| Some(scored[i].total) == best)
            .map(|&i| scored[i].name.clone())
            .collect();
        let mut picked = ranked
            .iter()
            .take(self.profile.max_endpoints.max(1))
            .map(|&i| scored[i].name.clone());
        let pick = if shed { None } else { picked.next() };
        let fallbacks = if shed { Vec::new() } else { picked.collect() };
        Decision {
            pick,
            shed,
            saturation,
            fallbacks,
            ties,
            endpoints: scored,
            path: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests;
