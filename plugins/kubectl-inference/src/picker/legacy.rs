//! The first generation's scheduler (GIE v0.1–v0.3, `pkg/epp/scheduling`
//! `scheduler.go` and `filter.go` at v0.3.0): a tree of filters, each
//! passing its survivors on when some are left and the original set when
//! none are, and at the end one survivor chosen uniformly at random. This
//! is what produced the extension's published benchmark.

use std::collections::BTreeMap;

use super::{Decision, Endpoint, Request, Scored};

/// The tree's thresholds (v0.3 reads them from the environment).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Legacy {
    /// `KV_CACHE_THRESHOLD`.
    pub kv_cache_threshold: f64,
    /// `QUEUE_THRESHOLD_CRITICAL`.
    pub queue_threshold_critical: u64,
    /// `QUEUING_THRESHOLD_LORA`.
    pub queueing_threshold_lora: u64,
    /// `LORA_AFFINITY_THRESHOLD`: the chance of keeping the adapter's pods
    /// when others have a free slot too.
    pub lora_affinity_threshold: f64,
}

impl Default for Legacy {
    fn default() -> Self {
        Legacy {
            kv_cache_threshold: 0.8,
            queue_threshold_critical: 5,
            queueing_threshold_lora: 128,
            lora_affinity_threshold: 0.999,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Critical,
    LowQueueing,
    LoraAffinity,
    LeastQueuing,
    LeastKvCache,
    SheddableCapacity,
    Drop,
}

/// One filter of the tree and where it leads (`filter` in filter.go).
struct Node {
    name: &'static str,
    func: Func,
    on_success: Option<Box<Node>>,
    on_failure: Option<Box<Node>>,
    /// `nextOnSuccessOrFailure`: where either leads, unless the two above say otherwise.
    either: Option<Box<Node>>,
}

fn node(name: &'static str, func: Func) -> Node {
    Node {
        name,
        func,
        on_success: None,
        on_failure: None,
        either: None,
    }
}

/// The tree is the same for every decision: built once.
static TREE: std::sync::LazyLock<Node> = std::sync::LazyLock::new(tree);

impl Node {
    fn then(mut self, next: Node) -> Node {
        self.on_success = Some(Box::new(next));
        self
    }
    fn otherwise(mut self, next: Node) -> Node {
        self.on_failure = Some(Box::new(next));
        self
    }
    fn always(mut self, next: Node) -> Node {
        self.either = Some(Box::new(next));
        self
    }
}

fn least_kv() -> Node {
    node("least KV cache percent", Func::LeastKvCache)
}

/// least queuing → low cost LoRA → least KV cache.
fn queue_lora_kv() -> Node {
    node("least queuing", Func::LeastQueuing)
        .always(node("low cost LoRA", Func::LoraAffinity).always(least_kv()))
}

/// The v0.3.0 tree (`defaultFilter`).
fn tree() -> Node {
    let low_latency = node("low queueing filter", Func::LowQueueing)
        .then(
            node("affinity LoRA", Func::LoraAffinity)
                .always(node("least queuing", Func::LeastQueuing).always(least_kv())),
        )
        .otherwise(queue_lora_kv());
    let sheddable = node(
        "has capacity for sheddable requests",
        Func::SheddableCapacity,
    )
    .then(queue_lora_kv())
    .otherwise(node("drop request", Func::Drop));
    node("critical request", Func::Critical)
        .then(low_latency)
        .otherwise(sheddable)
}

/// What walking the tree did.
struct Walk<'a> {
    legacy: &'a Legacy,
    request: &'a Request,
    endpoints: &'a [Endpoint],
    /// Per endpoint, the filter that removed it on the way.
    removed_by: Vec<Option<&'static str>>,
    path: Vec<String>,
    dropped: bool,
    lora_chance: Option<f64>,
}

impl Walk<'_> {
    fn apply(&mut self, func: Func, pods: &[usize]) -> Vec<usize> {
        let m = |i: &usize| self.endpoints[*i].metrics();
        let l = self.legacy;
        match func {
            // Critical: every pod or none.
            Func::Critical => {
                if self.request.priority > 0 {
                    pods.to_vec()
                } else {
                    Vec::new()
                }
            }
            Func::LowQueueing => pods
                .iter()
                .copied()
                .filter(|i| m(i).waiting_queue_size < l.queueing_threshold_lora)
                .collect(),
            Func::SheddableCapacity => pods
                .iter()
                .copied()
                .filter(|i| {
                    m(i).waiting_queue_size <= l.queue_threshold_critical
                        && m(i).kv_cache_usage_percent <= l.kv_cache_threshold
                })
                .collect(),
            // leastQueuingFilterFunc: [min, min + (max − min) / n], integer division.
            Func::LeastQueuing => {
                let q: Vec<u64> = pods.iter().map(|i| m(i).waiting_queue_size).collect();
                let (min, max) = (
                    q.iter().copied().min().unwrap_or(0),
                    q.iter().copied().max().unwrap_or(0),
                );
                let limit = min + (max - min) / pods.len().max(1) as u64;
                pods.iter()
                    .copied()
                    .filter(|i| m(i).waiting_queue_size <= limit)
                    .collect()
            }
            Func::LeastKvCache => {
                let kv: Vec<f64> = pods.iter().map(|i| m(i).kv_cache_usage_percent).collect();
                let min = kv.iter().copied().fold(f64::MAX, f64::min);
                let max = kv.iter().copied().fold(0.0, f64::max);
                let limit = min + (max - min) / pods.len().max(1) as f64;
                pods.iter()
                    .copied()
                    .filter(|i| {
                        let v = m(i).kv_cache_usage_percent;
                        v >= min && v <= limit
                    })
                    .collect()
            }
            // loRASoftAffinityFilter: the adapter's pods, or those with a
            // free slot; both non-empty: the adapter's with probability
            // LORA_AFFINITY_THRESHOLD (the likely branch is replayed).
            Func::LoraAffinity => {
                let model = &self.request.target_model;
                let affinity: Vec<usize> = pods
                    .iter()
                    .copied()
                    .filter(|i| m(i).active_models.contains(model))
                    .collect();
                let available: Vec<usize> = pods
                    .iter()
                    .copied()
                    .filter(|i| {
                        !m(i).active_models.contains(model)
                            && (m(i).active_models.len() as u64) < m(i).max_active_models
                    })
                    .collect();
                if !affinity.is_empty() && !available.is_empty() {
                    self.lora_chance = Some(l.lora_affinity_threshold);
                }
                if affinity.is_empty() {
                    available
                } else {
                    affinity
                }
            }
            Func::Drop => {
                self.dropped = true;
                Vec::new()
            }
        }
    }

    fn run(&mut self, n: &Node, pods: Vec<usize>) -> Vec<usize> {
        let kept = self.apply(n.func, &pods);
        if self.dropped {
            self.path.push(format!("{}: 429", n.name));
            return Vec::new();
        }
        self.path
            .push(format!("{} {}/{}", n.name, kept.len(), pods.len()));
        if !kept.is_empty() {
            for i in pods.iter().filter(|i| !kept.contains(i)) {
                self.removed_by[*i].get_or_insert(n.name);
            }
            match n.on_success.as_ref().or(n.either.as_ref()) {
                Some(next) => self.run(next, kept),
                None => kept,
            }
        } else {
            match n.on_failure.as_ref().or(n.either.as_ref()) {
                Some(next) => self.run(next, pods),
                None => kept,
            }
        }
    }
}

impl Legacy {
    /// The tree's decision for `request` among `endpoints`. The survivors
    /// are equally likely: the first is reported as the pick, the others
    /// as its ties. Critical means a priority above 0 (an InferenceModel's
    /// `Critical`); Standard and Sheddable are dropped alike when no
    /// endpoint has capacity.
    pub fn decide(&self, endpoints: &[Endpoint], request: &Request) -> Decision {
        let mut walk = Walk {
            legacy: self,
            request,
            endpoints,
            removed_by: vec![None; endpoints.len()],
            path: Vec::new(),
            dropped: false,
            lora_chance: None,
        };
        let survivors = if endpoints.is_empty() {
            Vec::new()
        } else {
            walk.run(&TREE, (0..endpoints.len()).collect())
        };
        let name = |i: &usize| endpoints[*i].name.clone();
        let mut path = walk.path;
        if let Some(p) = walk.lora_chance {
            path.push(format!(
                "the adapter's endpoints were kept, as {:.1} % of the time; otherwise those with a free slot",
                p * 100.0
            ));
        }
        Decision {
            pick: survivors.first().map(name),
            shed: walk.dropped,
            saturation: 0.0,
            fallbacks: Vec::new(),
            ties: survivors.iter().skip(1).map(name).collect(),
            endpoints: endpoints
                .iter()
                .enumerate()
                .map(|(i, e)| Scored {
                    name: e.name.clone(),
                    load: 0.0,
                    filtered_by: if walk.dropped {
                        Some("drop request")
                    } else {
                        walk.removed_by[i]
                    },
                    scores: BTreeMap::new(),
                    total: if survivors.contains(&i) {
                        1.0 / survivors.len() as f64
                    } else {
                        0.0
                    },
                })
                .collect(),
            path,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::picker::tests::server;

    fn priority(p: i64) -> Request {
        Request {
            priority: p,
            ..Default::default()
        }
    }

    #[test]
    fn standard_requests_go_to_the_least_queued_then_least_kv() {
        // c has no capacity (9 > 5); a and b queue alike; the KV band
        // [0.2, 0.2 + 0.5/2 = 0.45] keeps b.
        let pool = [
            server("a", 1, 0.7),
            server("b", 1, 0.2),
            server("c", 9, 0.1),
        ];
        let d = Legacy::default().decide(&pool, &priority(0));
        assert_eq!(d.pick.as_deref(), Some("b"));
        assert!(d.ties.is_empty() && !d.shed);
        // c fails the capacity check (9 > 5), then least queuing drops it.
        assert_eq!(
            d.endpoints[2].filtered_by,
            Some("has capacity for sheddable requests")
        );
        assert_eq!(d.endpoints[0].filtered_by, Some("least KV cache percent"));
        assert_eq!(d.path[0], "critical request 0/3");
    }

    #[test]
    fn non_critical_requests_are_dropped_without_capacity() {
        let full = [server("a", 6, 0.1), server("b", 0, 0.85)];
        for p in [0, -1] {
            let d = Legacy::default().decide(&full, &priority(p));
            assert!(d.shed && d.pick.is_none(), "priority {p}");
            assert_eq!(d.path.last().unwrap(), "drop request: 429");
        }
        // A critical one is not dropped: it takes the least queued.
        let d = Legacy::default().decide(&full, &priority(1));
        assert_eq!(d.pick.as_deref(), Some("b"));
    }

    #[test]
    fn equal_survivors_are_ties_and_lora_affinity_is_soft() {
        let pool = [server("a", 1, 0.3), server("b", 1, 0.3)];
        let d = Legacy::default().decide(&pool, &priority(0));
        assert_eq!(
            (d.pick.as_deref(), d.ties.as_slice()),
            (Some("a"), &["b".to_string()][..])
        );
        assert_eq!(d.endpoints[0].total, 0.5);

        let lora = |name: &str, active: &[&str], max: u64| {
            let mut e = server(name, 0, 0.1);
            let m = e.metrics.as_mut().unwrap();
            m.active_models = active.iter().map(|s| s.to_string()).collect();
            m.max_active_models = max;
            e
        };
        let pool = [
            lora("a", &["sql"], 2),
            lora("b", &[], 2),
            lora("c", &["x", "y"], 2),
        ];
        let request = Request {
            target_model: "sql".into(),
            priority: 1,
            ..Default::default()
        };
        let d = Legacy::default().decide(&pool, &request);
        assert_eq!(d.pick.as_deref(), Some("a"));
        assert!(d.path.iter().any(|p| p.contains("99.9 %")), "{:?}", d.path);
    }
}
