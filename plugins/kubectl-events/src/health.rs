//! The collector's own health: counters logged and served in Prometheus'
//! text format.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Health {
    /// Times the watch had to be restarted after an error.
    pub watch_restarts: AtomicU64,
    /// Of those, because the resourceVersion was too old (410 Gone).
    pub gone: AtomicU64,
    /// Objects in the latest (re)list.
    pub relist_size: AtomicU64,
    /// Events received from the API server.
    pub events_received: AtomicU64,
    /// Occurrences written to the store.
    pub occurrences_written: AtomicU64,
    /// Events that added nothing (already recorded).
    pub dedup_hits: AtomicU64,
    /// Batches that failed to be written (kept and retried).
    pub store_errors: AtomicU64,
    /// Seconds between the newest written occurrence and when it was written.
    pub lag_seconds: AtomicI64,
}

impl Health {
    fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }

    /// One line for the log.
    pub fn line(&self) -> String {
        format!(
            "received={} written={} dedup={} relist={} restarts={} gone={} store_errors={} lag={}s",
            Self::get(&self.events_received),
            Self::get(&self.occurrences_written),
            Self::get(&self.dedup_hits),
            Self::get(&self.relist_size),
            Self::get(&self.watch_restarts),
            Self::get(&self.gone),
            Self::get(&self.store_errors),
            self.lag_seconds.load(Ordering::Relaxed)
        )
    }

    /// The Prometheus exposition.
    pub fn prometheus(&self) -> String {
        let counters = [
            (
                "kplug_eventlog_watch_restarts_total",
                "Watch restarts after an error.",
                &self.watch_restarts,
            ),
            (
                "kplug_eventlog_watch_gone_total",
                "Watch restarts because the resourceVersion was too old (410).",
                &self.gone,
            ),
            (
                "kplug_eventlog_events_received_total",
                "Events received from the API server.",
                &self.events_received,
            ),
            (
                "kplug_eventlog_occurrences_written_total",
                "Occurrences written to the store.",
                &self.occurrences_written,
            ),
            (
                "kplug_eventlog_dedup_hits_total",
                "Events that were already recorded.",
                &self.dedup_hits,
            ),
            (
                "kplug_eventlog_store_errors_total",
                "Store writes that failed and were retried.",
                &self.store_errors,
            ),
        ];
        let mut out = String::new();
        for (name, help, v) in counters {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
                Self::get(v)
            ));
        }
        out.push_str(&format!(
            "# HELP kplug_eventlog_relist_size Objects in the latest list.\n# TYPE kplug_eventlog_relist_size gauge\nkplug_eventlog_relist_size {}\n",
            Self::get(&self.relist_size)
        ));
        out.push_str(&format!(
            "# HELP kplug_eventlog_lag_seconds Age of the newest occurrence when written.\n# TYPE kplug_eventlog_lag_seconds gauge\nkplug_eventlog_lag_seconds {}\n",
            self.lag_seconds.load(Ordering::Relaxed)
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_every_metric_once() {
        let h = Health::default();
        h.occurrences_written.fetch_add(7, Ordering::Relaxed);
        let text = h.prometheus();
        assert!(text.contains("kplug_eventlog_occurrences_written_total 7\n"));
        assert_eq!(text.matches("# TYPE").count(), 8);
        assert!(h.line().contains("written=7"));
    }
}
