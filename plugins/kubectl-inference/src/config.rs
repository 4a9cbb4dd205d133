//! An `EndpointPickerConfig` file (the EPP's `--config-file`), read into
//! the profile and saturation detector the picker replays, with the
//! reference loader's defaults (GIE v1.5.0 `config/loader`): a plugin's
//! name is its type; a scorer without a weight weighs 1; no profile means
//! one `default` profile of every filter, scorer and picker; no picker means
//! `max-score-picker`; the saturation detector is the plugin
//! `saturationDetector.pluginRef` names, by default `utilization-detector`
//! (a configured plugin of that name, or the defaults).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::picker::prefix::PrefixConfig;
use crate::picker::{Detector, Filter, Picker, Profile, Scorer};

/// The apiVersions the file may have: GIE's and llm-d-router's.
pub const API_VERSIONS: [&str; 2] = [
    "inference.networking.x-k8s.io/v1alpha1",
    "llm-d.ai/v1alpha1",
];

/// Plugins the replay does not need (data sources, parsers, handlers).
const PASSIVE: [&str; 5] = [
    "metrics-data-source",
    "core-metrics-extractor",
    "single-profile-handler",
    "openai-parser",
    "approx-prefix-cache-producer",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Yaml(String),
    #[error(
        "apiVersion {0:?} is not an EndpointPickerConfig's (inference.networking.x-k8s.io/v1alpha1 or llm-d.ai/v1alpha1)"
    )]
    ApiVersion(String),
    #[error("kind {0:?}: want EndpointPickerConfig")]
    Kind(String),
    #[error(
        "plugin {name:?} (type {kind:?}) cannot be replayed: it needs what only the live EPP has"
    )]
    Unsupported { name: String, kind: String },
    #[error("profile {profile:?} refers to plugin {name:?}, which plugins does not define")]
    UnknownRef { profile: String, name: String },
    #[error(
        "{0} scheduling profiles: the replay runs one (prefill/decode disaggregation is not replayed)"
    )]
    Profiles(usize),
    #[error("plugin {name:?}: {message}")]
    Parameters { name: String, message: String },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    api_version: String,
    kind: String,
    #[serde(default)]
    plugins: Vec<PluginSpec>,
    #[serde(default)]
    scheduling_profiles: Vec<ProfileSpec>,
    saturation_detector: Option<PluginRef>,
}

#[derive(Debug, Deserialize)]
struct PluginSpec {
    #[serde(default)]
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    parameters: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct ProfileSpec {
    name: String,
    #[serde(default)]
    plugins: Vec<ProfilePlugin>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProfilePlugin {
    plugin_ref: String,
    weight: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PluginRef {
    #[serde(default)]
    plugin_ref: String,
}

/// `utilization-detector`'s parameters.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DetectorParameters {
    queue_depth_threshold: Option<i64>,
    kv_cache_util_threshold: Option<f64>,
    metrics_staleness_threshold: Option<String>,
    headroom: Option<f64>,
}

/// What a plugin is to the replay.
enum Role {
    /// With the prefix cache's parameters, for its scorer.
    Scorer(Scorer, Option<PrefixConfig>),
    Detector(Detector),
    Picker(usize),
    Passive,
}

fn parameters<T: for<'de> Deserialize<'de> + Default>(p: &PluginSpec) -> Result<T, ConfigError> {
    match &p.parameters {
        None => Ok(T::default()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| ConfigError::Parameters {
            name: p.name.clone(),
            message: e.to_string(),
        }),
    }
}

/// `200ms`, `1s`, `1m` as Go's `time.ParseDuration` takes the usual ones.
fn go_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (n, unit) = text.split_at(split);
    let n: f64 = n.parse().ok()?;
    let scale = match unit {
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(n * scale).ok()
}

fn detector(p: &PluginSpec) -> Result<Detector, ConfigError> {
    let params: DetectorParameters = parameters(p)?;
    let bad = |message: String| ConfigError::Parameters {
        name: p.name.clone(),
        message,
    };
    let mut d = Detector::default();
    if let Some(q) = params.queue_depth_threshold {
        d.queue_depth_threshold = u64::try_from(q).ok().filter(|q| *q > 0).ok_or_else(|| {
            bad(format!(
                "queueDepthThreshold must be strictly positive, got {q}"
            ))
        })?;
    }
    if let Some(kv) = params.kv_cache_util_threshold {
        // NaN is refused too.
        if !(0.0..=1.0).contains(&kv) || kv == 0.0 {
            return Err(bad(format!(
                "kvCacheUtilThreshold must be in (0, 1], got {kv}"
            )));
        }
        d.kv_cache_util_threshold = kv;
    }
    if let Some(s) = params.metrics_staleness_threshold {
        d.metrics_staleness = go_duration(&s)
            .ok_or_else(|| bad(format!("metricsStalenessThreshold {s:?} is not a duration")))?;
    }
    if let Some(h) = params.headroom {
        if !(h.is_finite() && h >= 0.0) {
            return Err(bad(format!("headroom must be ≥ 0, got {h}")));
        }
        d.headroom = h;
    }
    Ok(d)
}

/// `prefix-cache-scorer`'s parameters (approximateprefix `config`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PrefixParameters {
    auto_tune: Option<bool>,
    block_size_tokens: Option<i64>,
    block_size: Option<i64>,
    max_prefix_blocks_to_match: Option<i64>,
    max_prefix_tokens_to_match: Option<i64>,
    lru_capacity_per_server: Option<i64>,
}

/// The prefix plugins' configuration, checked as `newPrepareData` checks it.
fn prefix_config(p: &PluginSpec) -> Result<PrefixConfig, ConfigError> {
    let params: PrefixParameters = parameters(p)?;
    let bad = |message: String| ConfigError::Parameters {
        name: p.name.clone(),
        message,
    };
    let d = PrefixConfig::default();
    let tokens = params
        .block_size_tokens
        .unwrap_or(d.block_size_tokens as i64);
    let auto_tune = params.auto_tune.unwrap_or(d.auto_tune);
    if params.block_size.is_some_and(|b| b > 0) && tokens <= 0 {
        return Err(bad(
            "blockSize is deprecated: give the block size in tokens with blockSizeTokens".into(),
        ));
    }
    if !auto_tune && tokens <= 0 {
        return Err(bad(format!(
            "blockSizeTokens must be > 0 when autoTune is off, got {tokens}"
        )));
    }
    let max_tokens = params.max_prefix_tokens_to_match.unwrap_or(0);
    if max_tokens < 0 {
        return Err(bad(format!(
            "maxPrefixTokensToMatch must be ≥ 0, got {max_tokens}"
        )));
    }
    let non_negative = |v: Option<i64>, default: usize| v.map_or(default, |v| v.max(0) as usize);
    Ok(PrefixConfig {
        auto_tune,
        block_size_tokens: tokens.max(0) as usize,
        max_prefix_blocks: non_negative(params.max_prefix_blocks_to_match, d.max_prefix_blocks),
        max_prefix_tokens: max_tokens as usize,
        lru_capacity: non_negative(params.lru_capacity_per_server, d.lru_capacity),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PickerParameters {
    max_num_of_endpoints: Option<i64>,
}

fn role(p: &PluginSpec) -> Result<Role, ConfigError> {
    if let Some(s) = Scorer::parse(&p.kind) {
        let prefix = match s {
            Scorer::PrefixCache => Some(prefix_config(p)?),
            _ => None,
        };
        return Ok(Role::Scorer(s, prefix));
    }
    match p.kind.as_str() {
        "utilization-detector" => Ok(Role::Detector(detector(p)?)),
        "max-score-picker" => {
            let params: PickerParameters = parameters(p)?;
            // An invalid count falls back to the default, as the reference does.
            let n = params.max_num_of_endpoints.filter(|n| *n > 0).unwrap_or(1);
            Ok(Role::Picker(n as usize))
        }
        k if PASSIVE.contains(&k) => Ok(Role::Passive),
        _ => Err(ConfigError::Unsupported {
            name: p.name.clone(),
            kind: p.kind.clone(),
        }),
    }
}

/// Read an `EndpointPickerConfig` into the picker it configures.
pub fn read(text: &str) -> Result<Picker, ConfigError> {
    let mut file: File =
        kplug::yaml::from_str(text).map_err(|e| ConfigError::Yaml(kplug::yaml::message(&e)))?;
    if !API_VERSIONS.contains(&file.api_version.as_str()) {
        return Err(ConfigError::ApiVersion(file.api_version));
    }
    if file.kind != "EndpointPickerConfig" {
        return Err(ConfigError::Kind(file.kind));
    }
    for p in &mut file.plugins {
        if p.name.is_empty() {
            p.name = p.kind.clone();
        }
    }
    let mut roles = BTreeMap::new();
    for p in &file.plugins {
        roles.insert(p.name.clone(), role(p)?);
    }
    let detector_ref = file
        .saturation_detector
        .as_ref()
        .map(|r| r.plugin_ref.as_str())
        .filter(|r| !r.is_empty())
        .unwrap_or("utilization-detector");
    let detector = match roles.get(detector_ref) {
        Some(Role::Detector(d)) => d.clone(),
        Some(_) => {
            return Err(ConfigError::Unsupported {
                name: detector_ref.to_string(),
                kind: "saturation detector".into(),
            });
        }
        None if detector_ref == "utilization-detector" => Detector::default(),
        None => {
            return Err(ConfigError::Unsupported {
                name: detector_ref.to_string(),
                kind: "saturation detector".into(),
            });
        }
    };
    // No profile: one of every filter, scorer and picker, in file order
    // (the reference walks a Go map, in no set order; sums are the same).
    let refs: Vec<(String, Option<f64>)> = match file.scheduling_profiles.as_slice() {
        [] => file
            .plugins
            .iter()
            .map(|p| (p.name.clone(), None))
            .collect(),
        [one] => one
            .plugins
            .iter()
            .map(|p| {
                if roles.contains_key(&p.plugin_ref) {
                    Ok((p.plugin_ref.clone(), p.weight))
                } else {
                    Err(ConfigError::UnknownRef {
                        profile: one.name.clone(),
                        name: p.plugin_ref.clone(),
                    })
                }
            })
            .collect::<Result<_, _>>()?,
        many => return Err(ConfigError::Profiles(many.len())),
    };
    let mut profile = Profile {
        filters: Vec::new(),
        scorers: Vec::new(),
        max_endpoints: 1,
        prefix: PrefixConfig::default(),
    };
    for (name, weight) in refs {
        match &roles[&name] {
            Role::Scorer(s, prefix) => {
                profile.scorers.push((*s, weight.unwrap_or(1.0)));
                if let Some(prefix) = prefix {
                    profile.prefix = *prefix;
                }
            }
            Role::Detector(d) => profile.filters.push(Filter::Saturation(d.clone())),
            Role::Picker(n) => profile.max_endpoints = *n,
            Role::Passive => {}
        }
    }
    Ok(Picker { profile, detector })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_scorers_parameters_size_its_blocks_and_index() {
        let head =
            "apiVersion: inference.networking.x-k8s.io/v1alpha1\nkind: EndpointPickerConfig\n";
        let p = read(&format!(
            "{head}plugins: [{{type: prefix-cache-scorer, parameters: {{autoTune: false, blockSizeTokens: 64, maxPrefixTokensToMatch: 2048, lruCapacityPerServer: 1000}}}}]"
        ))
        .unwrap();
        let c = p.profile.prefix;
        assert_eq!(
            (c.auto_tune, c.block_size_tokens, c.lru_capacity),
            (false, 64, 1000)
        );
        assert_eq!(c.max_blocks(c.block_tokens(16)), 32);
        // Unset parameters keep the reference defaults.
        let p = read(&format!("{head}plugins: [{{type: prefix-cache-scorer}}]")).unwrap();
        assert_eq!(p.profile.prefix, PrefixConfig::default());
        // What the reference refuses, refused.
        for bad in [
            "{blockSize: 64, blockSizeTokens: 0}",
            "{autoTune: false, blockSizeTokens: 0}",
            "{maxPrefixTokensToMatch: -1}",
        ] {
            let e = read(&format!(
                "{head}plugins: [{{type: prefix-cache-scorer, parameters: {bad}}}]"
            ));
            assert!(
                matches!(e, Err(ConfigError::Parameters { .. })),
                "{bad}: {e:?}"
            );
        }
    }

    #[test]
    fn profiles_weights_and_the_detector_are_read_with_the_reference_defaults() {
        let p = read(
            "apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: queue-scorer
- name: kv
  type: kv-cache-utilization-scorer
- {type: utilization-detector, parameters: {queueDepthThreshold: 8, metricsStalenessThreshold: 1s}}
- {type: max-score-picker, parameters: {maxNumOfEndpoints: 3}}
- type: metrics-data-source
schedulingProfiles:
- name: default
  plugins: [{pluginRef: kv, weight: 4}, {pluginRef: queue-scorer}, {pluginRef: max-score-picker}]
",
        )
        .unwrap();
        assert_eq!(
            p.profile.scorers,
            [(Scorer::KvCacheUtilization, 4.0), (Scorer::QueueDepth, 1.0)]
        );
        assert!(
            p.profile.filters.is_empty(),
            "the detector is not in the profile"
        );
        assert_eq!(p.profile.max_endpoints, 3);
        assert_eq!(p.detector.queue_depth_threshold, 8);
        assert_eq!(p.detector.metrics_staleness, Duration::from_secs(1));
    }

    #[test]
    fn without_profiles_every_plugin_joins_the_default_one() {
        let p = read(
            "apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: lora-affinity-scorer
- type: utilization-detector
",
        )
        .unwrap();
        assert_eq!(p.profile.scorers, [(Scorer::LoraAffinity, 1.0)]);
        assert_eq!(p.profile.filters.len(), 1, "the detector filters too");
    }

    #[test]
    fn what_cannot_be_replayed_is_refused_by_name() {
        let head = "apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\n";
        let e = read(&format!(
            "{head}plugins: [{{type: precise-prefix-cache-scorer, name: ppc}}]"
        ))
        .unwrap_err();
        assert!(e.to_string().contains("\"ppc\""), "{e}");
        let e = read(&format!(
            "{head}schedulingProfiles: [{{name: p, plugins: [{{pluginRef: nope}}]}}]"
        ))
        .unwrap_err();
        assert!(matches!(e, ConfigError::UnknownRef { .. }), "{e}");
        let e = read(&format!("{head}plugins: [{{type: utilization-detector, parameters: {{queueDepthThreshold: 0}}}}]")).unwrap_err();
        assert!(e.to_string().contains("strictly positive"), "{e}");
        let e = read("apiVersion: v1\nkind: ConfigMap\n").unwrap_err();
        assert!(matches!(e, ConfigError::ApiVersion(_)), "{e}");
        assert!(read("plugins: [").is_err());
    }
}
