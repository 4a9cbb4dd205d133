//! Any bytes, read as an EndpointPickerConfig, give a picker or an error —
//! never a panic; the picker then decides over two endpoints with every
//! total within its weights' sum.
#![no_main]

use kplug_inference::picker::{Endpoint, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(picker) = kplug_inference::config::read(text) else {
        return;
    };
    let endpoints = [
        Endpoint::new("a", Default::default()),
        Endpoint::new("b", Default::default()),
    ];
    let d = picker.decide(&endpoints, &Request::default());
    let most: f64 = picker.profile.scorers.iter().map(|(_, w)| w).sum();
    for e in &d.endpoints {
        assert!(e.total >= 0.0 && e.total <= most + 1e-9, "{e:?}");
    }
    assert!(d.pick.is_some() || d.shed);
    let c = picker.profile.prefix;
    let _ = c.max_blocks(c.block_tokens(16));
});
