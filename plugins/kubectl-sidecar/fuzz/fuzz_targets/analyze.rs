//! Any manifest that loads is analysed (by the rules of an old and a new
//! API server), fixed, patched and explained without a panic.
#![no_main]

use kplug_sidecar::{analysis, fix, report, template::PodTemplate, timeline, validation::KubeVersion};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(objects) = kplug::manifest::parse_str(text, "fuzz.yaml") else { return };
    let templates: Vec<PodTemplate> = objects.iter().filter_map(PodTemplate::from_object).collect();
    for minor in [27, 33, 36] {
        let items = analysis::analyze_all(&templates, &[], KubeVersion { minor });
        let mut out = Vec::new();
        let _ = report::render(&items, kplug::output::color::Palette::plain(), &mut out);
        let _ = serde_json::to_string(&report::SidecarReport::new(&items));
        for (t, r) in templates.iter().zip(&items) {
            let f = fix::plan(t, r, true, None);
            let original = &objects.iter().find(|o| o.name() == t.object.name).expect("template from an object").value;
            let _ = f.kubectl_patch(original);
            let mut fixed = original.clone();
            f.apply(&mut fixed);
        }
    }
    for o in &objects {
        let _ = timeline::explain(&o.value, &[]);
    }
});
