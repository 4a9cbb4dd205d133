//! The collector's own health: counters logged, served in Prometheus' text
//! format (through the Prometheus client crate), and the two answers
//! Kubernetes probes ask — alive, and ready.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Debug)]
pub struct Health {
    registry: Registry,
    /// Times the watch had to be restarted after an error.
    pub watch_restarts: Counter,
    /// Of those, because the resourceVersion was too old (410 Gone).
    pub gone: Counter,
    /// Objects in the latest (re)list.
    pub relist_size: Gauge,
    /// Events received from the API server.
    pub events_received: Counter,
    /// Occurrences written to the store.
    pub occurrences_written: Counter,
    /// Events that added nothing (already recorded).
    pub dedup_hits: Counter,
    /// Batches that failed to be written (kept and retried).
    pub store_errors: Counter,
    /// Seconds between the newest written occurrence and when it was written.
    pub lag_seconds: Gauge<i64, AtomicI64>,
    /// Events held, not yet written.
    pub pending: Gauge,
    /// 1 while this replica holds the Lease (or runs without election).
    pub leader: Gauge,
    /// Times this replica became the leader.
    pub leaderships: Counter,
    /// Incidents the tracker keeps over its window (latest step).
    pub incidents: Gauge,
    /// Alerts firing now.
    pub alerts_firing: Gauge,
    /// Notifications delivered to a sink.
    pub notifications_sent: Counter,
    /// Delivery attempts that failed (kept and retried).
    pub notifications_failed: Counter,
    /// Notifications not sent because an Alertmanager silence matched.
    pub notifications_silenced: Counter,
    /// Notifications waiting in the outbox.
    pub outbox_pending: Gauge,
    /// A first list of Events was read completely.
    listed: AtomicBool,
    /// The latest write to the store succeeded (or none was needed yet).
    store_ok: AtomicBool,
}

impl Default for Health {
    fn default() -> Self {
        let mut h = Health {
            registry: Registry::default(),
            watch_restarts: Counter::default(),
            gone: Counter::default(),
            relist_size: Gauge::default(),
            events_received: Counter::default(),
            occurrences_written: Counter::default(),
            dedup_hits: Counter::default(),
            store_errors: Counter::default(),
            lag_seconds: Gauge::default(),
            pending: Gauge::default(),
            leader: Gauge::default(),
            leaderships: Counter::default(),
            incidents: Gauge::default(),
            alerts_firing: Gauge::default(),
            notifications_sent: Counter::default(),
            notifications_failed: Counter::default(),
            notifications_silenced: Counter::default(),
            outbox_pending: Gauge::default(),
            listed: AtomicBool::new(false),
            store_ok: AtomicBool::new(true),
        };
        let r = &mut h.registry;
        let counters = [
            (
                "watch_restarts",
                "Watch restarts after an error",
                &h.watch_restarts,
            ),
            (
                "watch_gone",
                "Watch restarts because the resourceVersion was too old (410)",
                &h.gone,
            ),
            (
                "events_received",
                "Events received from the API server",
                &h.events_received,
            ),
            (
                "occurrences_written",
                "Occurrences written to the store",
                &h.occurrences_written,
            ),
            (
                "dedup_hits",
                "Events that were already recorded",
                &h.dedup_hits,
            ),
            (
                "store_errors",
                "Store writes that failed and were retried",
                &h.store_errors,
            ),
            (
                "leader_acquired",
                "Times this replica became the leader (--leader-elect)",
                &h.leaderships,
            ),
            (
                "notifications_sent",
                "Alert notifications delivered to a sink",
                &h.notifications_sent,
            ),
            (
                "notifications_failed",
                "Alert notification deliveries that failed and are retried",
                &h.notifications_failed,
            ),
            (
                "notifications_silenced",
                "Alert notifications an Alertmanager silence held back",
                &h.notifications_silenced,
            ),
        ];
        for (name, help, metric) in counters {
            r.register(format!("kplug_eventlog_{name}"), help, metric.clone());
        }
        let gauges = [
            ("relist_size", "Objects in the latest list", &h.relist_size),
            (
                "pending_events",
                "Events read and not yet written",
                &h.pending,
            ),
            (
                "leader",
                "1 while this replica collects (holds the Lease, or runs alone)",
                &h.leader,
            ),
            (
                "incidents",
                "Incidents the tracker keeps over its window",
                &h.incidents,
            ),
            ("alerts_firing", "Alerts firing now", &h.alerts_firing),
            (
                "outbox_pending",
                "Alert notifications not yet delivered",
                &h.outbox_pending,
            ),
        ];
        for (name, help, metric) in gauges {
            r.register(format!("kplug_eventlog_{name}"), help, metric.clone());
        }
        r.register(
            "kplug_eventlog_lag_seconds",
            "Age of the newest occurrence when written",
            h.lag_seconds.clone(),
        );
        h
    }
}

impl Health {
    /// One line for the log.
    pub fn line(&self) -> String {
        format!(
            "received={} written={} dedup={} relist={} restarts={} gone={} store_errors={} pending={} lag={}s",
            self.events_received.get(),
            self.occurrences_written.get(),
            self.dedup_hits.get(),
            self.relist_size.get(),
            self.watch_restarts.get(),
            self.gone.get(),
            self.store_errors.get(),
            self.pending.get(),
            self.lag_seconds.get()
        )
    }

    /// The exposition, in the text format Prometheus scrapes.
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// The Content-Type of [`Health::prometheus`].
    pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

    pub fn set_listed(&self) {
        self.listed.store(true, Ordering::Relaxed);
    }

    pub fn set_store_ok(&self, ok: bool) {
        self.store_ok.store(ok, Ordering::Relaxed);
    }

    /// Ready: the first list was read and the store takes writes. (A
    /// collector that is not ready still holds what it read.)
    pub fn ready(&self) -> Result<(), &'static str> {
        if !self.listed.load(Ordering::Relaxed) {
            return Err("the first list of Events is not read yet");
        }
        if !self.store_ok.load(Ordering::Relaxed) {
            return Err("the store refuses writes; events are held and retried");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_every_metric_once() {
        let h = Health::default();
        h.occurrences_written.inc_by(7);
        h.relist_size.set(3);
        let text = h.prometheus();
        assert!(
            text.contains("kplug_eventlog_occurrences_written_total 7\n"),
            "{text}"
        );
        assert!(text.contains("kplug_eventlog_relist_size 3\n"), "{text}");
        assert_eq!(text.matches("# TYPE").count(), 17);
        assert!(h.line().contains("written=7"));
    }

    #[test]
    fn ready_after_a_list_while_the_store_takes_writes() {
        let h = Health::default();
        assert!(h.ready().is_err());
        h.set_listed();
        assert!(h.ready().is_ok());
        h.set_store_ok(false);
        assert!(h.ready().unwrap_err().contains("store"));
    }
}
