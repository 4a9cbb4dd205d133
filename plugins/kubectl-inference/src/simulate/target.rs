//! `--target ntpot-p90=50ms`: the highest rate a pool sustains within a
//! latency objective, found by bisection over runs (latency grows with the
//! rate, so the runs that meet the target are the rates below one edge).

use serde::Serialize;

use super::run::{Outcome, Quantiles};

/// Which latency a target bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Ntpot,
    Tpot,
    Ttft,
    E2e,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    pub metric: Metric,
    /// 50, 90 or 99.
    pub percentile: u8,
    /// Seconds.
    pub limit: f64,
}

impl Target {
    /// `ntpot-p90=50ms`, `e2e-p99=20s`, `ttft-p50=0.5s`.
    pub fn parse(text: &str) -> Result<Target, String> {
        let bad = || {
            format!(
                "{text:?}: write METRIC-pNN=DURATION, e.g. ntpot-p90=50ms (metrics ntpot, tpot, ttft, e2e; p50, p90, p99)"
            )
        };
        let (name, limit) = text.split_once('=').ok_or_else(bad)?;
        let (metric, percentile) = name.trim().split_once("-p").ok_or_else(bad)?;
        let metric = match metric {
            "ntpot" => Metric::Ntpot,
            "tpot" => Metric::Tpot,
            "ttft" => Metric::Ttft,
            "e2e" => Metric::E2e,
            _ => return Err(bad()),
        };
        let percentile = match percentile {
            "50" => 50,
            "90" => 90,
            "99" => 99,
            _ => return Err(bad()),
        };
        let limit = kplug::cli::parse_duration(limit.trim()).map_err(|_| bad())?;
        if limit.is_zero() {
            return Err(bad());
        }
        Ok(Target {
            metric,
            percentile,
            limit: limit.as_secs_f64(),
        })
    }

    /// The camelCase name `-o json` uses: `ntpotP90`.
    pub fn name(&self) -> String {
        let metric = match self.metric {
            Metric::Ntpot => "ntpot",
            Metric::Tpot => "tpot",
            Metric::Ttft => "ttft",
            Metric::E2e => "e2e",
        };
        format!("{metric}P{}", self.percentile)
    }

    /// The run's value of the bounded latency.
    pub fn value(&self, o: &Outcome) -> f64 {
        let q: &Quantiles = match self.metric {
            Metric::Ntpot => &o.ntpot,
            Metric::Tpot => &o.tpot,
            Metric::Ttft => &o.ttft,
            Metric::E2e => &o.e2e,
        };
        match self.percentile {
            50 => q.p50,
            90 => q.p90,
            _ => q.p99,
        }
    }

    /// Within the limit, and keeping up ([`Outcome::kept_up`]): a pool
    /// falling behind misses any target once the run is long enough, so
    /// such a rate does not count, however its quantile looks.
    pub fn met(&self, o: &Outcome) -> bool {
        self.value(o) <= self.limit && o.kept_up()
    }
}

/// The answer for one router and pool size.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Capacity {
    pub router: &'static str,
    pub servers: usize,
    /// The highest rate found to meet the target; `None` when even the
    /// lowest rate misses it.
    pub max_qps: Option<f64>,
    /// Whether the highest rate searched met it (the capacity is then at
    /// least `max_qps`).
    pub at_least: bool,
    /// The run at `max_qps`.
    pub run: Option<Outcome>,
    pub runs: u32,
}

/// The highest rate in `[low, high]` whose run meets `target`, to within
/// `resolution` QPS. `simulate` runs one rate.
pub fn bisect(
    target: &Target,
    low: f64,
    high: f64,
    resolution: f64,
    mut simulate: impl FnMut(f64) -> Outcome,
) -> Capacity {
    let mut runs = 0;
    let mut run = |qps: f64| {
        runs += 1;
        simulate(qps)
    };
    let top = run(high);
    let (router, servers) = (top.router, top.servers);
    let answer = |max: Option<Outcome>, at_least: bool, runs: u32| Capacity {
        router,
        servers,
        max_qps: max.as_ref().map(|o| o.qps),
        at_least,
        run: max,
        runs,
    };
    if target.met(&top) {
        return answer(Some(top), true, 1);
    }
    let bottom = run(low);
    if !target.met(&bottom) || low >= high {
        return answer(None, false, 2);
    }
    let (mut good, mut bad) = (bottom, high);
    while bad - good.qps > resolution.max(1e-9) {
        let mid = (good.qps + bad) / 2.0;
        let o = run(mid);
        if target.met(&o) {
            good = o;
        } else {
            bad = mid;
        }
    }
    answer(Some(good), false, runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(qps: f64) -> Outcome {
        // A pool whose p90 NTPOT is 10 ms up to 300 QPS, then climbs.
        let p90 = 0.010 + (qps - 300.0).max(0.0) * 0.001;
        Outcome {
            router: "epp",
            servers: 10,
            qps,
            requests: 0,
            completed: 0,
            shed: 0,
            preempted: 0,
            held_midway: 0,
            held_at_end: 0,
            achieved_qps: qps,
            output_tokens_per_sec: 0.0,
            output_tokens_per_min: 0.0,
            ntpot: Quantiles {
                p50: p90 / 2.0,
                p90,
                p99: p90 * 2.0,
            },
            tpot: Quantiles::default(),
            ttft: Quantiles::default(),
            e2e: Quantiles::default(),
            makespan: 60.0,
        }
    }

    #[test]
    fn targets_parse_and_name_themselves() {
        let t = Target::parse("ntpot-p90=50ms").unwrap();
        assert_eq!(
            t,
            Target {
                metric: Metric::Ntpot,
                percentile: 90,
                limit: 0.05
            }
        );
        assert_eq!(t.name(), "ntpotP90");
        assert_eq!(Target::parse("e2e-p99=20s").unwrap().limit, 20.0);
        for bad in [
            "ntpot=5ms",
            "ntpot-p95=5ms",
            "itl-p90=5ms",
            "ttft-p50=",
            "ttft-p50=0s",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bisection_finds_the_edge() {
        // 50 ms is met up to 340 QPS.
        let t = Target::parse("ntpot-p90=50ms").unwrap();
        let c = bisect(&t, 100.0, 1000.0, 1.0, outcome);
        let max = c.max_qps.unwrap();
        assert!((339.0..=340.0).contains(&max), "{max}");
        assert!(!c.at_least);
        assert!(c.runs <= 14, "{}", c.runs);
        // Met everywhere: at least the top; missed everywhere: none.
        let easy = bisect(
            &Target::parse("ntpot-p90=1s").unwrap(),
            100.0,
            1000.0,
            1.0,
            outcome,
        );
        assert_eq!((easy.max_qps, easy.at_least), (Some(1000.0), true));
        let hard = bisect(
            &Target::parse("ntpot-p90=1ms").unwrap(),
            100.0,
            1000.0,
            1.0,
            outcome,
        );
        assert_eq!(hard.max_qps, None);
    }
}
