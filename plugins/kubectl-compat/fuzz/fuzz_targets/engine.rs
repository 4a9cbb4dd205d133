//! Any spec that decodes is evaluated against a realistic host and rendered
//! in every format without a panic.
#![no_main]

use std::sync::OnceLock;

use kplug_compat::features::Features;
use libfuzzer_sys::fuzz_target;

fn host() -> &'static Features {
    static HOST: OnceLock<Features> = OnceLock::new();
    HOST.get_or_init(|| {
        let text = include_str!("../../tests/data/features/amd-kvm.json");
        match kplug_compat::features::parse(text).expect("fixture parses") {
            kplug_compat::features::Loaded::Features(f) => f,
            _ => unreachable!("the fixture is an export"),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(spec) = kplug_compat::spec::parse(text) else { return };
    let report = kplug_compat::validate::validate(&spec, host(), &Default::default(), None);
    let _ = kplug_compat::report::nfd::render(&spec, &report.nfd);
    let mut out = Vec::new();
    let _ = kplug_compat::report::human::render(&report, kplug::output::color::Palette::plain(), &mut out);
    let _ = serde_json::to_string(&report);
});
