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
    // Counting: the rollup and the aggregate never wrap to negative counts.
    let ms = |t: Option<jiff::Timestamp>| t.map(|t| t.as_millisecond());
    let spans: Vec<kplug_eventlog::store::Span> = records
        .iter()
        .map(|r| {
            let occurrences = i64::try_from(r.event.count).unwrap_or(i64::MAX);
            for (_, micro) in kplug_eventlog::aggregate::hourly_shares(
                ms(r.event.first_observed),
                ms(r.event.last_observed),
                occurrences,
            ) {
                assert!(micro >= 0);
            }
            kplug_eventlog::store::Span {
                key: vec![r.event.reason.clone()],
                first_ms: ms(r.event.first_observed),
                last_ms: ms(r.event.last_observed),
                occurrences,
            }
        })
        .collect();
    let end = 1_800_000_000_000;
    let buckets = kplug_eventlog::store::Buckets {
        start_ms: end - 7 * 24 * 3_600_000,
        end_ms: end,
        window_ms: 3_600_000,
    };
    for g in kplug_eventlog::aggregate::aggregate(&[kplug_eventlog::store::GroupBy::Reason], &spans, buckets) {
        assert!(g.count >= 0 && g.buckets.iter().all(|b| b.count >= 0));
    }
    let _ = streamed;
});
