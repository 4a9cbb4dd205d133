use super::*;
use crate::metrics::Metrics;
use crate::objects::PickerRef;

fn healthy() -> Facts {
    Facts {
        namespace: "serving".into(),
        name: "chat".into(),
        group: GIE.into(),
        pool: Some(Pool {
            selector: [("app".to_string(), "vllm".to_string())].into(),
            target_ports: vec![8000],
            picker: Some(PickerRef {
                name: "chat-epp".into(),
                port: Some(9002),
                failure_mode: "FailClose".into(),
            }),
            parents: vec![],
        }),
        missing_kinds: vec![],
        pods: vec![PodFacts {
            name: "vllm-0".into(),
            ready: true,
            container_ports: vec![8000],
        }],
        scrapes: vec![Scrape {
            endpoint: "vllm-0-rank-0".into(),
            address: "10.0.0.1:8000".into(),
            engine: Engine::Vllm,
            reading: Ok(Reading {
                metrics: Metrics::default(),
                missing: vec![],
                old_kv_usage: None,
            }),
            millis: 3,
        }],
        routes: Some(vec![RouteRef {
            route_namespace: "serving".into(),
            route: "chat".into(),
            group: GIE.into(),
            kind: "InferencePool".into(),
            namespace: "serving".into(),
        }]),
        grants: vec![],
        service_ports: Some(vec![9002]),
        picker: Some(PickerFacts {
            deployment: "chat-epp".into(),
            ready_replicas: 1,
            replicas: 1,
            pool_name: Some("chat".into()),
            service_account: "chat-epp".into(),
            denied: vec![],
        }),
        objectives: vec![],
        rewrites: vec![],
    }
}

fn codes(f: &Facts) -> Vec<String> {
    diagnose(f).into_iter().map(|f| f.code).collect()
}

#[test]
fn a_healthy_pool_has_no_findings() {
    assert_eq!(codes(&healthy()), Vec::<String>::new());
}

#[test]
fn a_route_to_the_old_group_is_invalid_kind() {
    let mut f = healthy();
    f.routes.as_mut().unwrap()[0].group = GIE_X.into();
    let found = diagnose(&f);
    assert_eq!(found[0].code, "route-backend-kind");
    assert!(
        found[0].message.contains("InvalidKind"),
        "{}",
        found[0].message
    );
    assert_eq!(
        found[0].fix.as_deref(),
        Some("set the backendRef's group: inference.networking.k8s.io and kind: InferencePool")
    );
}

#[test]
fn a_route_from_another_namespace_needs_a_grant_for_this_pool() {
    let mut f = healthy();
    f.routes.as_mut().unwrap()[0].route_namespace = "gateways".into();
    assert_eq!(codes(&f), ["missing-reference-grant"]);
    let grant = |to_name: Option<&str>| Grant {
        name: "g".into(),
        from: vec![(
            "gateway.networking.k8s.io".into(),
            "HTTPRoute".into(),
            "gateways".into(),
        )],
        to: vec![(
            GIE.into(),
            "InferencePool".into(),
            to_name.map(String::from),
        )],
    };
    f.grants = vec![grant(Some("other"))];
    assert_eq!(
        codes(&f),
        ["missing-reference-grant"],
        "a grant for another pool"
    );
    f.grants = vec![grant(None)];
    assert_eq!(codes(&f), Vec::<String>::new(), "a grant for every pool");
}

#[test]
fn the_picker_service_its_port_replicas_pool_name_and_rbac() {
    let mut f = healthy();
    f.service_ports = Some(vec![9000]);
    assert_eq!(codes(&f), ["picker-port-mismatch"]);
    f.service_ports = None;
    assert_eq!(codes(&f), ["picker-service-missing"]);
    let mut f = healthy();
    let p = f.picker.as_mut().unwrap();
    p.ready_replicas = 0;
    p.pool_name = Some("chat-v2".into());
    p.denied = vec![("list".into(), GIE_X.into(), "inferenceobjectives".into())];
    let found = diagnose(&f);
    assert_eq!(
        found.iter().map(|f| f.code.as_str()).collect::<Vec<_>>(),
        ["picker-not-ready", "picker-pool-name", "picker-rbac"]
    );
    assert!(
        found[2]
            .message
            .contains("cannot list inferenceobjectives.inference.networking.x-k8s.io")
    );
}

#[test]
fn endpoints_ports_and_metrics() {
    let mut f = healthy();
    f.pool.as_mut().unwrap().target_ports = vec![8000, 8001];
    assert_eq!(codes(&f), ["target-port-not-exposed"]);
    f.pods[0].ready = false;
    assert_eq!(codes(&f), ["no-ready-endpoints", "target-port-not-exposed"]);

    let mut f = healthy();
    f.scrapes[0].millis = 450;
    f.scrapes.push(Scrape {
        endpoint: "vllm-1-rank-0".into(),
        address: "10.0.0.2:8000".into(),
        engine: Engine::Sglang,
        reading: Err("connection refused or unreachable".into()),
        millis: 1,
    });
    if let Ok(r) = &mut f.scrapes[0].reading {
        r.missing = vec!["vllm:num_requests_waiting".into()];
    }
    assert_eq!(
        codes(&f),
        ["missing-metrics", "stale-metrics", "scrape-failed"]
    );
}

#[test]
fn duplicate_objectives_and_shadowed_rewrites() {
    let mut f = healthy();
    let named = |api: &str, name: &str, created: &str, models: &[&str]| Named {
        api_version: api.into(),
        name: name.into(),
        created: created.into(),
        models: models.iter().map(|m| m.to_string()).collect(),
    };
    f.objectives = vec![
        named("inference.networking.x-k8s.io/v1alpha2", "batch", "", &[]),
        named("llm-d.ai/v1alpha2", "batch", "", &[]),
        named("llm-d.ai/v1alpha2", "chat", "", &[]),
    ];
    f.rewrites = vec![
        named("x", "newer", "2026-02-01T00:00:00Z", &["llama", "mistral"]),
        named("x", "older", "2026-01-01T00:00:00Z", &["llama"]),
    ];
    let found = diagnose(&f);
    assert_eq!(
        found.iter().map(|f| f.code.as_str()).collect::<Vec<_>>(),
        ["duplicate-objective", "rewrite-conflict"]
    );
    assert_eq!(found[1].object.name, "newer");
    assert!(
        found[1].message.contains("model llama"),
        "{}",
        found[1].message
    );
}

#[test]
fn missing_crds_and_no_routes() {
    let mut f = healthy();
    f.missing_kinds = vec!["inferenceobjectives.inference.networking.x-k8s.io".into()];
    f.routes = Some(vec![]);
    assert_eq!(codes(&f), ["missing-crd", "no-route"]);
    f.routes = None;
    assert_eq!(
        codes(&f),
        ["missing-crd"],
        "no Gateway API: nothing to say of routes"
    );
}
