//! The saturation detector the reference EPP uses by default
//! (`utilization-detector`, GIE v1.5.0
//! `flowcontrol/saturationdetector/utilization/detector.go`): how full the
//! pool is, for shedding sheddable requests, and — when a profile lists it
//! as a filter — which endpoints are too full to take more.

use std::time::Duration;

use super::Endpoint;

#[derive(Debug, Clone, PartialEq)]
pub struct Detector {
    /// Waiting requests at which an endpoint counts as full (`queueDepthThreshold`).
    pub queue_depth_threshold: u64,
    /// KV-cache use at which an endpoint counts as full (`kvCacheUtilThreshold`).
    pub kv_cache_util_threshold: f64,
    /// Metrics older than this count as full (`metricsStalenessThreshold`).
    pub metrics_staleness: Duration,
    /// How far past the thresholds the filter still lets an endpoint through.
    pub headroom: f64,
}

impl Default for Detector {
    /// The reference defaults: 5 waiting, 80 % KV, 200 ms, no headroom.
    fn default() -> Self {
        Detector {
            queue_depth_threshold: 5,
            kv_cache_util_threshold: 0.8,
            metrics_staleness: Duration::from_millis(200),
            headroom: 0.0,
        }
    }
}

impl Detector {
    fn fresh<'e>(&self, e: &'e Endpoint) -> Option<&'e crate::metrics::Metrics> {
        e.metrics
            .as_ref()
            .filter(|_| e.age <= self.metrics_staleness)
    }

    /// One endpoint's load: the larger of its queue and KV ratios to the
    /// thresholds; 1.0 without fresh metrics.
    pub fn load(&self, e: &Endpoint) -> f64 {
        match self.fresh(e) {
            None => 1.0,
            Some(m) => {
                let queue = m.waiting_queue_size as f64 / self.queue_depth_threshold as f64;
                let kv = m.kv_cache_usage_percent / self.kv_cache_util_threshold;
                queue.max(kv)
            }
        }
    }

    /// The pool's saturation: the plain mean of its endpoints' loads; 1.0
    /// for a pool without endpoints (Saturation).
    pub fn saturation(&self, endpoints: &[Endpoint]) -> f64 {
        if endpoints.is_empty() {
            return 1.0;
        }
        endpoints.iter().map(|e| self.load(e)).sum::<f64>() / endpoints.len() as f64
    }

    /// Whether the filter lets `e` through: fresh metrics under both
    /// thresholds times (1 + headroom) (Filter; when it would let none
    /// through it lets all through, which the caller decides).
    pub fn admits(&self, e: &Endpoint) -> bool {
        let q_limit = self.queue_depth_threshold as f64 * (1.0 + self.headroom);
        let kv_limit = self.kv_cache_util_threshold * (1.0 + self.headroom);
        self.fresh(e).is_some_and(|m| {
            (m.waiting_queue_size as f64) < q_limit && m.kv_cache_usage_percent < kv_limit
        })
    }
}
