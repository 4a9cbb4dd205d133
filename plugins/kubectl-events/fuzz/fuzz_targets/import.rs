//! Any file is read (streamed, as `import` reads it), normalised,
//! classified, templated and planned against the ledger without a panic.
#![no_main]

use std::sync::LazyLock;

use kplug_eventlog::classify::Classifier;
use kplug_eventlog::record::Preparer;
use libfuzzer_sys::fuzz_target;

// Compiling the rules' patterns once, not per input.
static CLASSIFIER: LazyLock<Classifier> = LazyLock::new(Classifier::default);

fuzz_target!(|data: &[u8]| {
    let mut prepare = Preparer::new("fuzz", &CLASSIFIER);
    let mut records = Vec::new();
    let mut items = 0;
    let streamed = kplug_eventlog::input::for_each_event(data, &mut |_, value| {
        items += 1;
        if let Ok(e) = kplug::event::Event::from_owned(value) {
            records.push(prepare.record(e));
        }
    });
    let mut stats = Default::default();
    let plan = kplug_eventlog::store::plan(&records, Default::default(), &mut stats);
    assert!(plan.ledger.len() <= records.len() && plan.rows.len() <= records.len());
    assert!(records.len() <= items);
    let _ = streamed;
});
