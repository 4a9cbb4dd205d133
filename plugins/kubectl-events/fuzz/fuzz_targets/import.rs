//! Any file is read, normalised, classified and templated without a panic.
#![no_main]

use kplug_eventlog::classify::Classifier;
use kplug_eventlog::record::Record;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(docs) = kplug_eventlog::input::documents(text) else { return };
    let classifier = Classifier::default();
    for doc in &docs {
        for e in kplug::event::from_document(doc).into_iter().flatten() {
            let r = Record::new(e, "fuzz", &classifier);
            let _ = serde_json::to_string(&r);
            let _ = kplug_eventlog::ledger::decide(None, &r.event);
        }
    }
});
