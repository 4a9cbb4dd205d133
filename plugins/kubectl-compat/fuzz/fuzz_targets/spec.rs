//! Any input: the spec decoder and the linter return, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = kplug_compat::spec::parse(text);
        let _ = kplug_compat::lint::lint(text, "fuzz.yaml");
    }
});
