//! One simulated run: a load at one rate through one router onto N
//! servers, as a discrete-event loop over three kinds of event — a server's
//! step ends, the router's metrics refresh, a request arrives — taken in
//! time order (ties: steps, then refreshes, then arrivals, so a run is a
//! function of its seed).

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::load::{self, Arrivals, Shape};
use super::random::Rng;
use super::router::{Router, Routing};
use super::server::{Done, Job, Server, StepModel};
use crate::picker::{Endpoint, Request};

/// What every run of a simulation shares.
#[derive(Debug, Clone)]
pub struct Setup {
    pub servers: usize,
    pub model: StepModel,
    /// How often the router's view of the servers refreshes (the EPP
    /// scrapes every 50 ms).
    pub metrics_interval: f64,
    /// Seconds of arrivals; the run then drains.
    pub duration: f64,
    pub arrivals: Arrivals,
    pub shape: Shape,
    /// Every request's priority (above 0 is Critical to the legacy tree;
    /// below 0 is sheddable).
    pub priority: i64,
    pub seed: u64,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            servers: 10,
            model: StepModel::default(),
            metrics_interval: 0.05,
            duration: 60.0,
            arrivals: Arrivals::Poisson,
            shape: Shape::default(),
            priority: 0,
            seed: 1,
        }
    }
}

/// p50, p90 and p99 of a set of samples (seconds).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Quantiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
}

impl Quantiles {
    fn of(h: &Histogram<u64>) -> Quantiles {
        if h.is_empty() {
            return Quantiles::default();
        }
        let at = |q: f64| h.value_at_quantile(q) as f64 / MICROS;
        Quantiles {
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
        }
    }
}

/// Histograms count microseconds.
const MICROS: f64 = 1e6;

/// The finished requests of a run in flat memory: HDR histograms at three
/// significant digits (quantiles within 0.1 %), however long the run.
#[derive(Debug, Clone)]
pub struct Stats {
    ntpot: Histogram<u64>,
    tpot: Histogram<u64>,
    ttft: Histogram<u64>,
    e2e: Histogram<u64>,
    completed: u64,
    output_tokens: u64,
    last_finish: f64,
    last_arrival: f64,
    /// What the servers held half way through the arrivals and when they
    /// stopped ([`Outcome::kept_up`]).
    held_midway: Option<u64>,
    held_at_end: Option<u64>,
}

impl Default for Stats {
    fn default() -> Self {
        let h = || Histogram::new(3).expect("3 significant digits are valid");
        Stats {
            ntpot: h(),
            tpot: h(),
            ttft: h(),
            e2e: h(),
            completed: 0,
            output_tokens: 0,
            last_finish: 0.0,
            last_arrival: 0.0,
            held_midway: None,
            held_at_end: None,
        }
    }
}

impl Stats {
    pub fn record(&mut self, d: &Done) {
        // The histograms grow to fit (auto-resize); past u64 they clamp.
        let record = |h: &mut Histogram<u64>, s: f64| {
            let v = (s.max(0.0) * MICROS).round() as u64;
            if h.record(v).is_err() {
                h.saturating_record(v);
            }
        };
        record(&mut self.ntpot, d.ntpot());
        record(&mut self.tpot, d.tpot());
        record(&mut self.ttft, d.ttft());
        record(&mut self.e2e, d.e2e());
        self.completed += 1;
        self.output_tokens += d.job.output_tokens;
        self.last_finish = self.last_finish.max(d.finished);
    }
}

/// The latencies a run reports, by the names outputs use.
pub const LATENCIES: [&str; 4] = ["ntpot", "tpot", "ttft", "e2e"];

/// One router at one rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub router: &'static str,
    pub servers: usize,
    pub qps: f64,
    pub requests: u64,
    pub completed: u64,
    pub shed: u64,
    pub preempted: u64,
    /// Requests the servers held (queued or running) half way through the
    /// arrivals, and when they stopped: about equal while the pool keeps
    /// up, growing with the run when it does not.
    pub held_midway: u64,
    pub held_at_end: u64,
    pub achieved_qps: f64,
    pub output_tokens_per_sec: f64,
    pub output_tokens_per_min: f64,
    pub ntpot: Quantiles,
    pub tpot: Quantiles,
    pub ttft: Quantiles,
    pub e2e: Quantiles,
    /// Simulated seconds until the last request arrived or finished.
    pub makespan: f64,
}

impl Outcome {
    /// Whether the servers kept up: over the second half of the arrivals
    /// they finished about as many requests as arrived, so the requests
    /// they hold grew by no more than Poisson noise (three standard
    /// deviations of the half's arrivals, and one a server). A pool
    /// falling behind holds more and more, whatever its quantiles say so far.
    pub fn kept_up(&self) -> bool {
        let growth = self.held_at_end as f64 - self.held_midway as f64;
        growth <= 3.0 * (self.requests as f64 / 2.0).sqrt() + self.servers as f64
    }

    /// Each latency's name (of [`LATENCIES`]) and quantiles.
    pub fn latencies(&self) -> [(&'static str, &Quantiles); 4] {
        let [ntpot, tpot, ttft, e2e] = LATENCIES;
        [
            (ntpot, &self.ntpot),
            (tpot, &self.tpot),
            (ttft, &self.ttft),
            (e2e, &self.e2e),
        ]
    }
}

/// Flat, as the benchmark tools report: `ntpotP90`, `e2eP99`, … in seconds.
impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("router", self.router)?;
        m.serialize_entry("servers", &self.servers)?;
        m.serialize_entry("qps", &self.qps)?;
        m.serialize_entry("requests", &self.requests)?;
        m.serialize_entry("completed", &self.completed)?;
        m.serialize_entry("shed", &self.shed)?;
        m.serialize_entry("preempted", &self.preempted)?;
        m.serialize_entry("heldMidway", &self.held_midway)?;
        m.serialize_entry("heldAtEnd", &self.held_at_end)?;
        m.serialize_entry("achievedQps", &self.achieved_qps)?;
        m.serialize_entry("outputTokensPerSec", &self.output_tokens_per_sec)?;
        m.serialize_entry("outputTokensPerMin", &self.output_tokens_per_min)?;
        for (name, q) in self.latencies() {
            m.serialize_entry(&format!("{name}P50"), &q.p50)?;
            m.serialize_entry(&format!("{name}P90"), &q.p90)?;
            m.serialize_entry(&format!("{name}P99"), &q.p99)?;
        }
        m.serialize_entry("makespan", &self.makespan)?;
        m.end()
    }
}

/// Run `router` at `qps`.
pub fn run(setup: &Setup, router: Router, qps: f64) -> Outcome {
    let seed = Rng::new(setup.seed);
    // The same load for every router at a rate; its own stream for routing.
    let mut arrivals = load::requests(
        qps,
        setup.duration,
        setup.arrivals,
        &setup.shape,
        seed.split(1),
    )
    .peekable();
    let name = router.name();
    let mut routing = Routing::new(router, seed.split(2));
    let mut servers: Vec<Server> = (0..setup.servers)
        .map(|_| Server::new(setup.model))
        .collect();
    let mut busy_until: Vec<Option<f64>> = vec![None; setup.servers];
    // The routers' view: named once, its metrics replaced at each refresh
    // (the first at time 0, before any arrival).
    let mut view: Vec<Endpoint> = servers
        .iter()
        .enumerate()
        .map(|(i, s)| Endpoint::new(format!("s{i}"), s.metrics()))
        .collect();
    let (mut viewed_at, mut next_refresh) = (0.0, 0.0);
    let mut stats = Stats::default();
    let (mut requests, mut shed) = (0u64, 0u64);
    let mut request = Request {
        priority: setup.priority,
        ..Default::default()
    };
    loop {
        let step_end = busy_until
            .iter()
            .enumerate()
            .filter_map(|(i, t)| Some((i, (*t)?)))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        let arrival = arrivals.peek().map(|a| a.at);
        // Requests held at half time and when arrivals stop: a pool that
        // keeps up holds about as many at both.
        let held = |servers: &[Server]| servers.iter().map(|s| s.in_system() as u64).sum();
        if stats.held_midway.is_none() && arrival.is_none_or(|t| t >= setup.duration / 2.0) {
            stats.held_midway = Some(held(&servers));
        }
        if arrival.is_none() && stats.held_at_end.is_none() {
            stats.held_at_end = Some(held(&servers));
        }
        if step_end.is_none() && arrival.is_none() {
            break;
        }
        let next_step = step_end.map_or(f64::INFINITY, |s| s.1);
        let next_arrival = arrival.unwrap_or(f64::INFINITY);
        if let Some((i, t)) = step_end
            && t <= next_refresh
            && t <= next_arrival
        {
            start_step(&mut servers[i], &mut busy_until[i], t, &mut stats);
        } else if next_refresh <= next_step && next_refresh <= next_arrival {
            for (e, s) in view.iter_mut().zip(&servers) {
                e.metrics = Some(s.metrics());
            }
            viewed_at = next_refresh;
            next_refresh += setup.metrics_interval;
        } else {
            let a = arrivals.next().expect("an arrival is next");
            requests += 1;
            stats.last_arrival = a.at;
            let age = Duration::from_secs_f64((a.at - viewed_at).max(0.0));
            for e in &mut view {
                e.age = age;
            }
            request.target_model.clear();
            request
                .target_model
                .push_str(a.adapter.as_deref().unwrap_or(""));
            match routing.route(&view, &request) {
                None => shed += 1,
                Some(i) => {
                    servers[i].enqueue(
                        Job::new(requests, a.at, a.input_tokens, a.output_tokens)
                            .for_adapter(a.adapter),
                    );
                    if busy_until[i].is_none() {
                        start_step(&mut servers[i], &mut busy_until[i], a.at, &mut stats);
                    }
                }
            }
        }
    }
    summarise(name, qps, setup, requests, shed, &servers, stats)
}

/// `server` takes its next step at `t`, if it has one: `busy` holds when
/// it ends.
fn start_step(server: &mut Server, busy: &mut Option<f64>, t: f64, stats: &mut Stats) {
    *busy = server.step(t).map(|step| {
        step.finished.iter().for_each(|d| stats.record(d));
        t + step.duration
    });
}

fn summarise(
    router: &'static str,
    qps: f64,
    setup: &Setup,
    requests: u64,
    shed: u64,
    servers: &[Server],
    stats: Stats,
) -> Outcome {
    // From the start to the last event: a trace may end before the duration.
    let makespan = stats.last_finish.max(stats.last_arrival).max(1e-9);
    let per_sec = stats.output_tokens as f64 / makespan;
    Outcome {
        router,
        servers: setup.servers,
        qps,
        requests,
        completed: stats.completed,
        shed,
        preempted: servers.iter().map(|s| s.preemptions).sum(),
        held_midway: stats.held_midway.unwrap_or(0),
        held_at_end: stats.held_at_end.unwrap_or(0),
        achieved_qps: stats.completed as f64 / makespan,
        output_tokens_per_sec: per_sec,
        output_tokens_per_min: per_sec * 60.0,
        ntpot: Quantiles::of(&stats.ntpot),
        tpot: Quantiles::of(&stats.tpot),
        ttft: Quantiles::of(&stats.ttft),
        e2e: Quantiles::of(&stats.e2e),
        makespan,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::picker::Picker;

    fn short(servers: usize) -> Setup {
        Setup {
            servers,
            duration: 10.0,
            ..Setup::default()
        }
    }

    #[test]
    fn quantiles_come_within_a_thousandth() {
        let mut h = Histogram::new(3).unwrap();
        for s in 1..=100u64 {
            h.record(s * 1_000_000).unwrap();
        }
        let q = Quantiles::of(&h);
        for (got, want) in [(q.p50, 50.0), (q.p90, 90.0), (q.p99, 99.0)] {
            assert!((got - want).abs() / want < 1e-3, "{q:?}");
        }
        assert_eq!(
            Quantiles::of(&Histogram::new(3).unwrap()),
            Quantiles::default()
        );
    }

    #[test]
    fn a_light_load_finishes_everything_at_the_single_request_cost() {
        let o = run(&short(4), Router::Random, 5.0);
        assert_eq!((o.completed, o.shed), (o.requests, 0));
        assert!((40..70).contains(&o.requests), "{}", o.requests);
        // Alone on a server a request's first token is one prefill away.
        assert!(o.ttft.p50 >= 0.04 && o.ttft.p50 < 0.1, "{:?}", o.ttft);
        assert_eq!(o.preempted, 0);
    }

    #[test]
    fn a_seed_is_a_run_and_the_picker_beats_random_under_load() {
        let setup = short(4);
        let a = run(&setup, Router::Random, 150.0);
        assert_eq!(a, run(&setup, Router::Random, 150.0), "same seed, same run");
        let epp = run(&setup, Router::Epp(Picker::default()), 150.0);
        assert_eq!(epp.requests, a.requests, "the same load for every router");
        assert!(
            epp.ntpot.p90 < a.ntpot.p90,
            "epp {:?} random {:?}",
            epp.ntpot,
            a.ntpot
        );
    }

    #[test]
    fn a_pool_falling_behind_did_not_keep_up() {
        let setup = short(2);
        // The gie-sim servers manage about 5 QPS each.
        let light = run(&setup, Router::Random, 4.0);
        let heavy = run(&setup, Router::Random, 40.0);
        assert!(light.kept_up(), "{light:?}");
        assert!(!heavy.kept_up(), "{heavy:?}");
        assert!(heavy.held_at_end > heavy.held_midway);
    }
}
