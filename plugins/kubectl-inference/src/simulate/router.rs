//! Where each simulated request goes. `epp` and `legacy` are the very
//! deciders `explain` replays ([`crate::picker`]), fed with metrics that
//! are as stale as the last refresh; ties the EPP would shuffle are broken
//! by the run's generator.

use super::random::Rng;
use crate::picker::legacy::Legacy;
use crate::picker::{Decision, Endpoint, Picker, Request};

#[derive(Debug, Clone, PartialEq)]
pub enum Router {
    /// What a Service does per request: any server.
    Random,
    /// What an L4 Service does to a client that keeps `n` connections
    /// open: each connection is pinned to a server picked at random when it
    /// opened, and each request rides a random connection.
    Connections(usize),
    RoundRobin,
    /// The fewest waiting requests (then the fewest running).
    LeastQueue,
    /// The v0.3 filter tree behind the published benchmark.
    Legacy(Legacy),
    /// A v1.5.0 profile: the default one, or a config's.
    Epp(Picker),
}

impl Router {
    pub fn name(&self) -> &'static str {
        match self {
            Router::Random => "random",
            Router::Connections(_) => "connections",
            Router::RoundRobin => "round-robin",
            Router::LeastQueue => "least-queue",
            Router::Legacy(_) => "legacy",
            Router::Epp(_) => "epp",
        }
    }

    pub fn parse(name: &str) -> Option<Router> {
        Some(match name {
            "random" => Router::Random,
            "connections" => Router::Connections(100),
            "round-robin" => Router::RoundRobin,
            "least-queue" => Router::LeastQueue,
            "legacy" => Router::Legacy(Legacy::default()),
            "epp" => Router::Epp(Picker::default()),
            _ => return None,
        })
    }
}

/// A router with its state through a run.
#[derive(Debug, Clone)]
pub struct Routing {
    pub router: Router,
    next: usize,
    rng: Rng,
    /// Connections' servers, chosen at the first request.
    pins: Vec<usize>,
}

/// The server of `endpoints` named by `name` (`s<index>`).
fn index(name: &str) -> usize {
    name.strip_prefix('s')
        .and_then(|n| n.parse().ok())
        .expect("simulated endpoints are named s<index>")
}

impl Routing {
    pub fn new(router: Router, rng: Rng) -> Routing {
        Routing {
            router,
            next: 0,
            rng,
            pins: Vec::new(),
        }
    }

    /// The server for `request` given the last metrics of each (named
    /// `s0`, `s1`, …); `None` when it is shed.
    pub fn route(&mut self, endpoints: &[Endpoint], request: &Request) -> Option<usize> {
        let n = endpoints.len();
        if n == 0 {
            return None;
        }
        match &self.router {
            Router::Random => Some(self.rng.below(n)),
            Router::Connections(c) => {
                if self.pins.is_empty() {
                    self.pins = (0..(*c).max(1)).map(|_| self.rng.below(n)).collect();
                }
                let k = self.rng.below(self.pins.len());
                Some(self.pins[k])
            }
            Router::RoundRobin => {
                self.next = (self.next + 1) % n;
                Some(self.next)
            }
            Router::LeastQueue => {
                let key = |e: &Endpoint| {
                    (
                        e.metrics().waiting_queue_size,
                        e.metrics().running_requests_size,
                    )
                };
                let best = endpoints.iter().map(key).min()?;
                let ties: Vec<usize> = (0..n).filter(|i| key(&endpoints[*i]) == best).collect();
                Some(ties[self.rng.below(ties.len())])
            }
            Router::Legacy(l) => {
                let d = l.decide(endpoints, request);
                self.among(&d)
            }
            Router::Epp(p) => {
                let d = p.decide(endpoints, request);
                self.among(&d)
            }
        }
    }

    /// The pick, or one of the endpoints tied with it, at random.
    fn among(&mut self, d: &Decision) -> Option<usize> {
        let pick = d.pick.as_deref()?;
        if d.ties.is_empty() {
            return Some(index(pick));
        }
        let k = self.rng.below(d.ties.len() + 1);
        Some(index(if k == 0 { pick } else { &d.ties[k - 1] }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;

    fn endpoints(load: &[(u64, f64)]) -> Vec<Endpoint> {
        load.iter()
            .enumerate()
            .map(|(i, (waiting, kv))| {
                Endpoint::new(
                    format!("s{i}"),
                    Metrics {
                        waiting_queue_size: *waiting,
                        kv_cache_usage_percent: *kv,
                        ..Default::default()
                    },
                )
            })
            .collect()
    }

    #[test]
    fn the_simulated_epp_picks_what_explain_picks() {
        let pool = endpoints(&[(3, 0.5), (0, 0.6), (1, 0.1), (4, 0.2)]);
        let picker = Picker::default();
        let d = picker.decide(&pool, &Request::default());
        assert!(d.ties.is_empty());
        let mut epp = Routing::new(Router::Epp(picker), Rng::new(1));
        assert_eq!(
            epp.route(&pool, &Request::default()),
            d.pick.as_deref().map(index)
        );
        // Saturated and sheddable: shed, as explain says.
        let full = endpoints(&[(9, 0.95), (8, 0.9)]);
        let sheddable = Request {
            priority: -1,
            ..Default::default()
        };
        assert_eq!(epp.route(&full, &sheddable), None);
    }

    #[test]
    fn ties_spread_and_simple_routers_route() {
        let pool = endpoints(&[(0, 0.5), (0, 0.5), (2, 0.5)]);
        let mut epp = Routing::new(Router::Epp(Picker::default()), Rng::new(9));
        let picks: std::collections::BTreeSet<usize> = (0..50)
            .filter_map(|_| epp.route(&pool, &Request::default()))
            .collect();
        assert_eq!(
            picks,
            [0, 1].into(),
            "the two tied endpoints both get traffic"
        );
        let mut rr = Routing::new(Router::RoundRobin, Rng::new(1));
        let order: Vec<usize> = (0..4)
            .filter_map(|_| rr.route(&pool, &Request::default()))
            .collect();
        assert_eq!(order, [1, 2, 0, 1]);
        let mut lq = Routing::new(Router::LeastQueue, Rng::new(1));
        assert_ne!(lq.route(&pool, &Request::default()), Some(2));
        assert_eq!(Router::parse("legacy").unwrap().name(), "legacy");
    }
}
