//! `cargo bench -p kplug`: throughput of the shared hot paths every plugin
//! leans on (manifest loading, selector parsing and matching, table rendering).
//! No upstream peer runs these offline, so the numbers are absolute; compare
//! runs on the same machine.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use kplug::manifest;
use kplug::output::table::{Table, TableOptions};
use kplug::selector::Selector;

/// Median wall time of `f` over enough runs to fill about half a second.
fn measure(name: &str, units: u64, unit: &str, mut f: impl FnMut()) {
    let warm = Instant::now();
    f();
    let once = warm.elapsed().max(Duration::from_micros(1));
    let runs = (Duration::from_millis(500).as_nanos() / once.as_nanos()).clamp(5, 10_000) as usize;
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    let median = times[runs / 2];
    let rate = units as f64 / median.as_secs_f64();
    println!("{name:<40} median {median:>10.2?}   {rate:>12.0} {unit}/s   ({runs} runs)");
}

fn deployment(i: usize) -> String {
    format!(
        "---\n# Source: chart/templates/deploy-{i}.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-{i}\n  namespace: ns-{ns}\n  labels: {{app: web, idx: \"{i}\"}}\nspec:\n  replicas: 3\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      initContainers:\n      - name: proxy\n        image: envoyproxy/envoy:v1.31\n        restartPolicy: Always\n        startupProbe: {{httpGet: {{path: /ready, port: 15021}}, periodSeconds: 1}}\n      containers:\n      - name: app\n        image: nginx:1.27\n        ports: [{{containerPort: 8080, name: http}}]\n        resources: {{requests: {{cpu: 100m, memory: 128Mi}}}}\n",
        ns = i % 7
    )
}

fn main() {
    let docs = 2_000;
    let yaml: String = (0..docs).map(deployment).collect();
    println!(
        "kplug shared benchmarks ({} KiB of YAML, {docs} documents)",
        yaml.len() / 1024
    );
    measure(
        "manifest::parse_str (multi-doc YAML)",
        docs as u64,
        "docs",
        || {
            let objs = manifest::parse_str(black_box(&yaml), "bench.yaml").unwrap();
            assert_eq!(objs.len(), docs);
        },
    );
    let json: String = manifest::parse_str(&yaml, "b")
        .unwrap()
        .iter()
        .map(|o| serde_json::to_string(&o.value).unwrap() + "\n")
        .collect();
    measure(
        "manifest::parse_str (JSON stream)",
        docs as u64,
        "docs",
        || {
            black_box(manifest::parse_str(black_box(&json), "bench.json").unwrap());
        },
    );

    let expr = "app in (web,api,worker),tier!=db,!canary,env=prod,example.com/team notin (a,b)";
    measure("Selector::parse", 1, "selectors", || {
        black_box(Selector::parse(black_box(expr)).unwrap());
    });
    let sel = Selector::parse(expr).unwrap();
    let labels: Vec<BTreeMap<String, String>> = (0..10_000)
        .map(|i| {
            BTreeMap::from([
                ("app".to_string(), ["web", "api", "db"][i % 3].to_string()),
                ("env".to_string(), ["prod", "dev"][i % 2].to_string()),
                ("tier".to_string(), "front".to_string()),
            ])
        })
        .collect();
    measure(
        "Selector::matches",
        labels.len() as u64,
        "label sets",
        || {
            black_box(labels.iter().filter(|l| sel.matches(l)).count());
        },
    );

    let mut table = Table::new(&["namespace", "name", "ready", "status", "age"]);
    for i in 0..10_000 {
        table.push([
            format!("ns-{}", i % 13),
            format!("pod-{i}"),
            "1/1".into(),
            "Running".into(),
            format!("{}m", i % 60),
        ]);
    }
    measure("Table::render (10k rows)", 10_000, "rows", || {
        let mut out = Vec::with_capacity(1 << 20);
        table.render(TableOptions::default(), &mut out).unwrap();
        black_box(out);
    });
}
