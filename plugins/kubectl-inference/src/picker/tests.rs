use super::*;

/// An endpoint with `waiting` requests and `kv` of its KV cache in use.
pub(super) fn server(name: &str, waiting: u64, kv: f64) -> Endpoint {
    Endpoint::new(
        name,
        Metrics {
            waiting_queue_size: waiting,
            kv_cache_usage_percent: kv,
            ..Default::default()
        },
    )
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn the_default_profile_weighs_queue_and_kv_cache_as_the_reference_does() {
    let pool = [
        server("a", 0, 0.5),
        server("b", 2, 0.1),
        server("c", 4, 0.0),
    ];
    let d = Picker::default().decide(&pool, &Request::default());
    // queue: (4 − q) / 4 → 1, 0.5, 0; KV: 1 − use → 0.5, 0.9, 1; prefix: 0.
    let totals: Vec<f64> = d.endpoints.iter().map(|e| e.total).collect();
    assert!(close(totals[0], 2.0 * 1.0 + 2.0 * 0.5));
    assert!(close(totals[1], 2.0 * 0.5 + 2.0 * 0.9));
    assert!(close(totals[2], 2.0 * 0.0 + 2.0 * 1.0));
    assert_eq!(d.pick.as_deref(), Some("a"));
    assert!(d.ties.is_empty() && d.fallbacks.is_empty());
    assert_eq!(d.endpoints[1].scores["queue-scorer"], 0.5);
    assert_eq!(d.endpoints[1].scores["prefix-cache-scorer"], 0.0);
    // Loads: max(q / 5, kv / 0.8) → 0.625, 0.4, 0.8.
    assert!(close(d.saturation, (0.625 + 0.4 + 0.8) / 3.0));
    assert!(!d.shed);
}

#[test]
fn a_sheddable_request_is_shed_only_when_the_pool_is_saturated() {
    let full = [server("a", 5, 0.2), server("b", 7, 0.9)];
    let sheddable = Request {
        priority: -1,
        ..Default::default()
    };
    let d = Picker::default().decide(&full, &sheddable);
    assert!(d.saturation >= 1.0 && d.shed && d.pick.is_none());
    // The same pool takes a request of priority 0.
    let d = Picker::default().decide(&full, &Request::default());
    assert!(!d.shed);
    assert_eq!(d.pick.as_deref(), Some("a"));
    // Just under saturation a sheddable request passes.
    let almost = [server("a", 4, 0.0), server("b", 5, 0.0)];
    let d = Picker::default().decide(&almost, &sheddable);
    assert!(close(d.saturation, 0.9) && !d.shed);
}

#[test]
fn equal_queues_score_one_and_equal_totals_are_reported_as_ties() {
    let pool = [
        server("a", 3, 0.25),
        server("b", 3, 0.25),
        server("c", 3, 0.5),
    ];
    let d = Picker::default().decide(&pool, &Request::default());
    assert!(d.endpoints.iter().all(|e| e.scores["queue-scorer"] == 1.0));
    assert_eq!(d.pick.as_deref(), Some("a"));
    assert_eq!(d.ties, ["b"]);
}

#[test]
fn stale_and_unscraped_endpoints_count_full_but_are_still_scored() {
    let mut stale = server("stale", 0, 0.0);
    stale.age = Duration::from_millis(201);
    let never = Endpoint {
        name: "never".into(),
        metrics: None,
        age: Duration::ZERO,
    };
    let pool = [stale, never, server("busy", 2, 0.4)];
    let picker = Picker::default();
    let d = picker.decide(&pool, &Request::default());
    assert_eq!(d.endpoints[0].load, 1.0);
    assert_eq!(d.endpoints[1].load, 1.0);
    assert!(close(d.endpoints[2].load, 0.5));
    // The scorers read what the EPP holds: the stale numbers, or zeros.
    assert_eq!(d.endpoints[0].scores["queue-scorer"], 1.0);
    assert_eq!(d.endpoints[1].scores["kv-cache-utilization-scorer"], 1.0);
    assert!(close(d.saturation, 2.5 / 3.0));
}

#[test]
fn the_saturation_filter_drops_full_endpoints_unless_all_are() {
    let picker = Picker {
        profile: Profile {
            filters: vec![Filter::Saturation(Detector::default())],
            ..Profile::gie_default()
        },
        ..Default::default()
    };
    let pool = [
        server("full", 5, 0.1),
        server("kv", 0, 0.8),
        server("ok", 4, 0.79),
    ];
    let d = picker.decide(&pool, &Request::default());
    assert_eq!(d.endpoints[0].filtered_by, Some("utilization-detector"));
    assert_eq!(d.endpoints[1].filtered_by, Some("utilization-detector"));
    assert_eq!(d.endpoints[2].filtered_by, None);
    assert!(
        d.endpoints[0].scores.is_empty(),
        "filtered endpoints are not scored"
    );
    // Scores are normalised over the candidates left: one, so queue = 1.
    assert_eq!(d.endpoints[2].scores["queue-scorer"], 1.0);
    assert_eq!(d.pick.as_deref(), Some("ok"));
    let all_full = [server("a", 9, 0.1), server("b", 6, 0.2)];
    let d = picker.decide(&all_full, &Request::default());
    assert!(d.endpoints.iter().all(|e| e.filtered_by.is_none()));
    assert_eq!(d.pick.as_deref(), Some("b"));
}

#[test]
fn lora_affinity_prefers_loaded_then_room_then_waiting() {
    let lora = |active: &[&str], waiting: &[&str], max: u64| {
        Endpoint::new(
            "e",
            Metrics {
                active_models: active.iter().map(|s| s.to_string()).collect(),
                waiting_models: waiting.iter().map(|s| s.to_string()).collect(),
                max_active_models: max,
                ..Default::default()
            },
        )
    };
    let pool = [
        lora(&["sql"], &[], 1),
        lora(&["chat"], &[], 2),
        lora(&["chat"], &["sql"], 2),
        lora(&["chat"], &[], 1),
    ];
    let request = Request {
        target_model: "sql".into(),
        ..Default::default()
    };
    let candidates: Vec<&Endpoint> = pool.iter().collect();
    assert_eq!(
        Scorer::LoraAffinity.score(&candidates, &request),
        [1.0, 0.8, 0.6, 0.0]
    );
}

#[test]
fn more_endpoints_make_fallbacks_in_order() {
    let picker = Picker {
        profile: Profile {
            max_endpoints: 3,
            ..Profile::gie_default()
        },
        ..Default::default()
    };
    let pool = [
        server("c", 4, 0.0),
        server("a", 0, 0.5),
        server("b", 2, 0.1),
    ];
    let d = picker.decide(&pool, &Request::default());
    assert_eq!(d.pick.as_deref(), Some("a"));
    assert_eq!(d.fallbacks, ["b", "c"]);
}

#[test]
fn the_report_has_the_fields_explain_promises() {
    let d = Picker::default().decide(&[server("a", 1, 0.3)], &Request::default());
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!(v["pick"], "a");
    assert_eq!(v["shed"], false);
    assert!(v["saturation"].is_number());
    let e = &v["endpoints"][0];
    assert_eq!(e["name"], "a");
    assert_eq!(e["filteredBy"], serde_json::Value::Null);
    assert_eq!(e["scores"]["queue-scorer"], 1.0);
    assert!(e["total"].is_number());
    assert_eq!(
        Scorer::parse("kv-cache-utilization-scorer"),
        Some(Scorer::KvCacheUtilization)
    );
}
