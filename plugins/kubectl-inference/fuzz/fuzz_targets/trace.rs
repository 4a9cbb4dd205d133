//! Any bytes, read as a request trace (JSON Lines or CSV) or a server
//! profile, give records or errors with a line number — never a panic; a
//! profile that reads is one a run can use.
#![no_main]

use kplug_inference::simulate::trace::{self, Format, Records};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for format in [Format::Jsonl, Format::Csv] {
        for record in Records::new(data, format) {
            match record {
                Ok(r) => assert!(r.at.is_none_or(|t| t.is_finite() && t >= 0.0)),
                Err(trace::TraceError::Line { line, .. }) => assert!(line >= 1),
                Err(_) => {}
            }
        }
        if let Ok(s) = trace::scan(data, format) {
            assert!(s.requests > 0);
            assert!(s.rate().is_none_or(|r| r.is_finite() && r >= 0.0));
        }
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(model) = kplug_inference::simulate::profile::read(text)
    {
        assert!(model.max_num_seqs > 0 && model.kv_capacity_tokens > 0);
    }
});
