//! `cargo bench -p kubectl-compat` (part of `make bench`):
//! - rule evaluation per node with criterion: the blog example and the whole
//!   parity corpus against a realistic feature set (target: under 2 µs for
//!   the blog example);
//! - `kubectl compat features -o json` against `nfd export features`, wall
//!   time in the same run, in turns with a pause before each run (target:
//!   at least 5x faster), and back to back for comparison;
//! - `kubectl compat validate-node --spec` end to end (target: under 25 ms;
//!   NFD has no offline mode to compare with);
//! - `validate-node --image` against `nfd compat validate-node --image`, the
//!   same artifact in a local registry (target: at least 5x faster).
//!
//! NFD comes from the e2e peer cache (`make peers`); without it the
//! comparisons print a skip line and only our numbers.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::Criterion;
use kplug_compat::features::{self, Features, Loaded};
use kplug_compat::{spec, validate};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

fn host_features() -> Features {
    let text = std::fs::read_to_string(data("features/amd-kvm.json")).unwrap();
    match features::parse(&text).unwrap() {
        Loaded::Features(f) => f,
        Loaded::Objects(_) => unreachable!("an export"),
    }
}

fn engine(c: &mut Criterion) {
    let f = host_features();
    let blog =
        spec::parse(&std::fs::read_to_string(data("specs/blog-example.yaml")).unwrap()).unwrap();
    // The rules alone, as a scheduler or admission check would run them.
    c.bench_function("rules of blog-example.yaml (engine only)", |b| {
        b.iter(|| {
            let view = features::View::of(black_box(&f));
            let mut all = true;
            for rule in &blog.compatibilities[0].rules {
                all &= kplug_compat::engine::rule::execute(rule, &view).is_match;
            }
            black_box(all)
        })
    });
    c.bench_function("validate blog-example.yaml (full report)", |b| {
        b.iter(|| validate::validate(black_box(&blog), black_box(&f), &Default::default(), None))
    });
    // The corpus also holds specs NFD refuses (their parity is the error):
    // those have nothing to evaluate.
    let mut corpus = Vec::new();
    for e in std::fs::read_dir(data("corpus")).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        corpus.extend(spec::parse(&text).ok());
    }
    c.bench_function(
        &format!("validate the parity corpus ({} specs)", corpus.len()),
        |b| {
            b.iter(|| {
                for s in &corpus {
                    black_box(validate::validate(s, &f, &Default::default(), None));
                }
            })
        },
    );
    // Cluster mode: 5,000 nodes, each with a full real feature set (as
    // NodeFeature objects merge), against the blog example.
    let nodes: Vec<kplug_compat::cluster::Node> = (0..5000)
        .map(|i| kplug_compat::cluster::Node {
            name: format!("node-{i}"),
            labels: Default::default(),
        })
        .collect();
    let objects: Vec<features::NodeFeature> = nodes
        .iter()
        .map(|n| features::NodeFeature {
            namespace: "node-feature-discovery".into(),
            name: n.name.clone(),
            node: Some(n.name.clone()),
            worker_version: Some("v0.19.0".into()),
            created: None,
            updated: None,
            features: f.clone(),
        })
        .collect();
    let mut group = c.benchmark_group("cluster");
    group.sample_size(10);
    let brief = validate::Options {
        brief: true,
        ..Default::default()
    };
    group.bench_function("validate-cluster, 5000 nodes, table (verdicts)", |b| {
        b.iter(|| {
            kplug_compat::cluster::validate_cluster(
                &blog,
                black_box(&objects),
                &nodes,
                &brief,
                0,
                i64::MAX,
            )
        })
    });
    group.bench_function(
        "validate-cluster, 5000 nodes, -o json (full reports)",
        |b| {
            b.iter(|| {
                kplug_compat::cluster::validate_cluster(
                    &blog,
                    black_box(&objects),
                    &nodes,
                    &Default::default(),
                    0,
                    i64::MAX,
                )
            })
        },
    );
    group.finish();
    let text = std::fs::read_to_string(data("specs/blog-example.yaml")).unwrap();
    c.bench_function("parse blog-example.yaml", |b| {
        b.iter(|| spec::parse(black_box(&text)).unwrap())
    });
}

/// Median wall time of a command over `runs` runs (after one warm-up).
fn wall(cmd: &mut dyn FnMut() -> Command, runs: usize) -> Option<Duration> {
    let first = cmd().output().ok()?;
    if !first.status.code().is_some_and(|c| c == 0 || c == 3) {
        return None;
    }
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            let out = cmd().output().expect("command runs");
            let d = t.elapsed();
            assert!(
                out.status.code().is_some_and(|c| c == 0 || c == 3),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            d
        })
        .collect();
    times.sort();
    Some(times[runs / 2])
}

/// How long the machine is left idle before each timed run of a
/// comparison. A run here is 0.5–0.7 ms slower straight after another
/// process (NFD, or `sleep 0.02`) than straight after itself, so turns
/// without a pause charge that to the command that always follows the
/// other: ours. With the same pause before every run, each starts alike.
const PAUSE: Duration = Duration::from_millis(20);

/// Median wall times of `ours` and `theirs` run in turns (ours, theirs,
/// ours, …), each after [`PAUSE`], after one warm-up each, so that a
/// machine getting busier or quieter during the measurement weighs on
/// both alike. `None` for the peer when it is absent or fails.
fn paired(
    ours: &mut dyn FnMut() -> Command,
    theirs: Option<&mut dyn FnMut() -> Command>,
    runs: usize,
) -> Option<(Duration, Option<Duration>)> {
    let ok = |c: Option<i32>| c.is_some_and(|c| c == 0 || c == 3);
    if !ok(ours().output().ok()?.status.code()) {
        return None;
    }
    let mut theirs = theirs.and_then(|t| {
        let works = t().output().is_ok_and(|o| ok(o.status.code()));
        works.then_some(t)
    });
    let time = |cmd: &mut dyn FnMut() -> Command| {
        let t = Instant::now();
        let out = cmd().output().expect("command runs");
        let d = t.elapsed();
        assert!(
            ok(out.status.code()),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        d
    };
    let (mut a, mut b) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    for _ in 0..runs {
        std::thread::sleep(PAUSE);
        a.push(time(ours));
        if let Some(t) = theirs.as_mut() {
            std::thread::sleep(PAUSE);
            b.push(time(*t));
        }
    }
    a.sort();
    b.sort();
    Some((a[runs / 2], b.get(runs / 2).copied()))
}

/// For comparison with [`paired`]: each command run `runs` times in a row,
/// with no pause (as hyperfine measures), ours first.
fn back_to_back(
    ours: &mut dyn FnMut() -> Command,
    theirs: &mut dyn FnMut() -> Command,
    runs: usize,
) -> Option<(Duration, Duration)> {
    Some((wall(ours, runs)?, wall(theirs, runs)?))
}

fn report_back_to_back(times: Option<(Duration, Duration)>) {
    if let Some((ours, theirs)) = times {
        println!(
            "  the same back to back (each {BLOCK} times in a row):  kubectl compat {ours:>9.2?}   nfd {theirs:>9.2?}   ratio {:>5.1}x",
            theirs.as_secs_f64() / ours.as_secs_f64()
        );
    }
}

const BLOCK: usize = 31;

fn report(what: &str, ours: Duration, peer: Option<(&str, Duration)>, target: &str) {
    match peer {
        Some((name, theirs)) => println!(
            "{what:<46} kubectl compat {ours:>9.2?}   {name} {theirs:>9.2?}   ratio {:>5.1}x   ({target})",
            theirs.as_secs_f64() / ours.as_secs_f64()
        ),
        None => println!("{what:<46} kubectl compat {ours:>9.2?}   ({target})"),
    }
}

fn processes() {
    let ours = PathBuf::from(env!("CARGO_BIN_EXE_kubectl-compat"));
    let nfd = kplug::peers::find("NFD");
    if nfd.is_none() {
        println!("skipped: NFD comparisons: no nfd in the e2e peer cache (run `make peers`)");
    }
    const RUNS: usize = 31;
    let mut nfd_export = || {
        let mut c = Command::new(nfd.as_ref().expect("checked"));
        c.args(["export", "features"]);
        c
    };
    let (features, nfd_features) = paired(
        &mut || {
            let mut c = Command::new(&ours);
            c.args(["features", "-o", "json"]);
            c
        },
        nfd.is_some()
            .then_some(&mut nfd_export as &mut dyn FnMut() -> Command),
        2 * RUNS,
    )
    .expect("kubectl compat features runs");
    report(
        "features -o json vs nfd export features",
        features,
        nfd_features.map(|d| ("nfd", d)),
        "target >= 5x",
    );
    if nfd.is_some() {
        report_back_to_back(back_to_back(
            &mut || {
                let mut c = Command::new(&ours);
                c.args(["features", "-o", "json"]);
                c
            },
            &mut nfd_export,
            BLOCK,
        ));
    }

    let spec = data("specs/blog-example.yaml");
    let exported = data("features/amd-kvm.json");
    let on_host = wall(
        &mut || {
            let mut c = Command::new(&ours);
            c.arg("validate-node").arg("--spec").arg(&spec);
            c
        },
        RUNS,
    )
    .expect("validate-node runs");
    report(
        "validate-node --spec (this host)",
        on_host,
        None,
        "target < 25 ms",
    );
    let from_file = wall(
        &mut || {
            let mut c = Command::new(&ours);
            c.arg("validate-node")
                .arg("--spec")
                .arg(&spec)
                .arg("--features")
                .arg(&exported);
            c
        },
        RUNS,
    )
    .expect("validate-node runs");
    report(
        "validate-node --spec --features FILE",
        from_file,
        None,
        "target < 25 ms",
    );
}

/// A registry process killed when dropped.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `validate-node --image` against `nfd compat validate-node --image`, both
/// discovering this host and reading the same artifact from a local registry.
fn registry() {
    let (Some(registry_bin), Some(oras), Some(nfd)) = (
        kplug::peers::find("REGISTRY_REFERRERS"),
        kplug::peers::find("ORAS"),
        kplug::peers::find("NFD"),
    ) else {
        println!(
            "skipped: validate-node --image vs nfd: registry, oras or nfd not in the e2e peer cache (run `make peers`)"
        );
        return;
    };
    let ours = PathBuf::from(env!("CARGO_BIN_EXE_kubectl-compat"));
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let host = format!("127.0.0.1:{port}");
    std::fs::create_dir_all(dir.path().join("blobs")).unwrap();
    let _registry = Running(
        Command::new(registry_bin)
            .arg(format!("--addr={host}"))
            .arg(format!("--blobs={}", dir.path().join("blobs").display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let image = format!("{host}/bench/app:v1");
    std::fs::write(dir.path().join("app.txt"), "app").unwrap();
    for _ in 0..50 {
        let pushed = Command::new(&oras)
            .current_dir(dir.path())
            .args(["push", "--plain-http", &image, "app.txt:text/plain"])
            .output()
            .unwrap();
        if pushed.status.success() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let attach = Command::new(&ours)
        .args(["attach", "--plain-http", "--image", &image])
        .arg(data("specs/blog-example.yaml"))
        .output()
        .unwrap();
    assert!(
        attach.status.success(),
        "{}",
        String::from_utf8_lossy(&attach.stderr)
    );
    const RUNS: usize = 21;
    // Cold: every artifact read from the registry. Warm: the artifact's
    // manifest and spec from the digest cache, the referrers list fetched.
    let cache = dir.path().join("cache");
    let mut nfd_image = || {
        let mut c = Command::new(&nfd);
        c.args(["compat", "validate-node", "--plain-http", "--image", &image]);
        c
    };
    let ours_image = |setting: &std::path::Path| {
        let mut c = Command::new(&ours);
        c.args(["validate-node", "--plain-http", "--image", &image])
            .env("KPLUG_COMPAT_CACHE", setting);
        c
    };
    let mut with_cache = |setting: &std::path::Path| {
        paired(
            &mut || ours_image(setting),
            Some(&mut nfd_image as &mut dyn FnMut() -> Command),
            2 * RUNS,
        )
        .expect("validate-node --image runs")
    };
    let (cold, theirs_cold) = with_cache(std::path::Path::new("off"));
    let (mine, theirs) = with_cache(&cache);
    report(
        "validate-node --image vs nfd (local registry)",
        mine,
        theirs.map(|d| ("nfd", d)),
        "target >= 5x; kplug's digest cache warm",
    );
    report_back_to_back(back_to_back(
        &mut || ours_image(&cache),
        &mut nfd_image,
        BLOCK,
    ));
    report(
        "validate-node --image, cache off, vs nfd",
        cold,
        theirs_cold.map(|d| ("nfd", d)),
        "every artifact fetched, as nfd does",
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    engine(&mut c);
    c.final_summary();
    processes();
    registry();
}
