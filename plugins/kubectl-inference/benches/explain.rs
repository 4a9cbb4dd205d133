//! `cargo bench -p kubectl-inference` (part of `make bench`): the picker's
//! whole decision — saturation, admission, scorers, ranking — over pools of
//! 100, 1,000 and 10,000 endpoints with varied load; the median and the
//! slowest of many runs. Target: 1,000 endpoints in under 5 ms. The real
//! EPP's own scheduling latency is measured beside it by the `inference`
//! bench of the tests crate.

use std::time::Instant;

use kplug_inference::metrics::Metrics;
use kplug_inference::picker::{Endpoint, Picker, Request};

/// A pool of `n` endpoints whose queues and KV use vary (deterministically).
fn pool(n: usize) -> Vec<Endpoint> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Endpoint::new(
                format!("pod-{i}-rank-0"),
                Metrics {
                    waiting_queue_size: x % 12,
                    running_requests_size: (x >> 8) % 64,
                    kv_cache_usage_percent: ((x >> 16) % 1000) as f64 / 1000.0,
                    ..Default::default()
                },
            )
        })
        .collect()
}

fn main() {
    let picker = Picker::default();
    let request = Request {
        target_model: "llama".into(),
        priority: -1,
        ..Default::default()
    };
    for n in [100, 1_000, 10_000] {
        let endpoints = pool(n);
        let runs = if n > 1_000 { 50 } else { 500 };
        let mut times: Vec<f64> = (0..runs)
            .map(|_| {
                let t = Instant::now();
                let d = picker.decide(&endpoints, &request);
                std::hint::black_box(&d);
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!(
            "explain's decision over {n} endpoints (default profile): median {:.3} ms, slowest {:.3} ms of {runs}{}",
            times[runs / 2],
            times[runs - 1],
            if n == 1_000 { " (target < 5 ms)" } else { "" }
        );
    }
}
