//! Any bytes, read as a model server's /metrics by every engine and fed to
//! the picker, give a reading or an error naming a line — never a panic,
//! and never a score outside [0, 1] or a total outside the weights' sum.
#![no_main]

use kplug_inference::engine::{self, Engine};
use kplug_inference::picker::{Endpoint, Picker, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for engine in Engine::ALL {
        let Ok(reading) = engine::read(text, engine) else {
            continue;
        };
        let endpoints = [
            Endpoint::new("fuzzed", reading.metrics.clone()),
            Endpoint::new("idle", Default::default()),
        ];
        let picker = Picker::default();
        let request = Request { target_model: "m".into(), priority: -1, ..Default::default() };
        let d = picker.decide(&endpoints, &request);
        let legacy = kplug_inference::picker::legacy::Legacy::default().decide(&endpoints, &request);
        assert!(legacy.pick.is_none() == legacy.shed || endpoints.is_empty());
        let most: f64 = picker.profile.scorers.iter().map(|(_, w)| w).sum();
        for e in &d.endpoints {
            assert!(e.total >= 0.0 && e.total <= most + 1e-9, "{e:?}");
        }
        assert!(d.saturation >= 0.0 || d.saturation.is_nan());
    }
});
