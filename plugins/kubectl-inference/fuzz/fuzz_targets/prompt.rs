//! Any bytes, read as a request body, give the user input the EPP hashes —
//! valid JSON of the messages, as Go marshals them — and a hash chain of
//! whole blocks, never a panic.
#![no_main]

use kplug_inference::picker::prefix::{self, Prompt};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Some(prompt) = Prompt::from_body(&body) else {
        return;
    };
    let input = prompt.user_input();
    if let Prompt::Chat(messages) = &prompt {
        let back: serde_json::Value = serde_json::from_slice(&input).expect("Go's marshalling is JSON");
        assert_eq!(back.as_array().map(Vec::len), Some(messages.len()));
    }
    let hashes = prefix::hash_chain("m", "", &input, 1, 1_000_000);
    assert_eq!(hashes.len(), input.len() / 4);
});
