//! Any rules file is read — its classification rules, incident rules,
//! alerts and sinks — and any list of Alertmanager silences matched,
//! without a panic: a mistake is an error naming where it is.
#![no_main]

use std::collections::BTreeMap;

use kplug_eventlog::alerts::notify::{Silence, silenced_by};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = kplug_eventlog::classify::Classifier::with_rules(text);
    let _ = kplug_eventlog::incidents::rules_from_yaml(text);
    if let Err(e) = kplug_eventlog::alerts::config::from_yaml(text) {
        assert!(!e.is_empty());
    }
    if let Ok(silences) = serde_json::from_str::<Vec<Silence>>(text) {
        let labels = BTreeMap::from([("alertname".to_string(), "CrashLooping".to_string())]);
        let _ = silenced_by(&silences, &labels);
    }
});
