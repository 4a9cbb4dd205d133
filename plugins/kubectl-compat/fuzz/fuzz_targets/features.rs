//! Any input: the features loader (export JSON, NodeFeature, lists) returns, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(loaded) = kplug_compat::features::parse(text) {
            let _ = kplug_compat::features::select(loaded, None);
        }
    }
});
