//! The per-event ledger that makes ingestion lossless and duplicate-free.
//!
//! One Event object is updated in place as its occurrence repeats (count or
//! series.count bumps), and a relist or restart delivers every live Event
//! again. So the store keeps, per Event uid, the last resourceVersion and
//! count it recorded, and records only the difference: a MODIFIED event with
//! a higher count adds exactly the new occurrences; the same version again
//! adds nothing.

use jiff::Timestamp;
use kplug::event::Event;
use serde::{Deserialize, Serialize};

/// What the ledger holds for one Event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub resource_version: String,
    pub count: u64,
    pub last_observed: Option<Timestamp>,
}

/// What to record for an Event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing new (already recorded, or an update without new occurrences).
    Skip,
    /// `occurrences` happened between `from` (exclusive once recorded
    /// before) and `to`.
    Record {
        occurrences: u64,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    },
}

/// The ledger key: the Event's uid, or namespace/name when a dump has none.
pub fn key(e: &Event) -> String {
    if e.uid.is_empty() {
        format!("{}/{}", e.namespace, e.name)
    } else {
        e.uid.clone()
    }
}

/// Decide what `e` adds after `prev`.
pub fn decide(prev: Option<&Seen>, e: &Event) -> Decision {
    match prev {
        None => Decision::Record {
            occurrences: e.count,
            from: e.first_observed,
            to: e.last_observed,
        },
        Some(p) if !p.resource_version.is_empty() && p.resource_version == e.resource_version => {
            Decision::Skip
        }
        Some(p) if e.count > p.count => Decision::Record {
            occurrences: e.count - p.count,
            from: p.last_observed.or(e.first_observed),
            to: e.last_observed,
        },
        // Same count (a message or timestamp rewrite) or lower (never for one
        // object): nothing happened that was not recorded.
        Some(_) => Decision::Skip,
    }
}

/// The ledger entry after recording `e`.
pub fn seen(prev: Option<&Seen>, e: &Event) -> Seen {
    Seen {
        resource_version: e.resource_version.clone(),
        count: prev.map_or(e.count, |p| p.count.max(e.count)),
        last_observed: e.last_observed.max(prev.and_then(|p| p.last_observed)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(rv: &str, count: u64, last: &str) -> Event {
        Event::from_value(&json!({
            "metadata": {"name": "web.1", "namespace": "shop", "uid": "u1", "resourceVersion": rv},
            "involvedObject": {"kind": "Pod", "name": "web"},
            "reason": "BackOff", "message": "m", "type": "Warning",
            "firstTimestamp": "2026-11-27T10:00:00Z", "lastTimestamp": last, "count": count
        }))
        .unwrap()
    }

    #[test]
    fn first_sight_records_every_occurrence_then_only_the_new_ones() {
        let a = event("1", 5, "2026-11-27T10:05:00Z");
        let d = decide(None, &a);
        assert_eq!(
            d,
            Decision::Record {
                occurrences: 5,
                from: a.first_observed,
                to: a.last_observed
            }
        );
        let s = seen(None, &a);
        assert_eq!(
            decide(Some(&s), &a),
            Decision::Skip,
            "a relist of the same version adds nothing"
        );
        let b = event("2", 8, "2026-11-27T10:08:00Z");
        assert_eq!(
            decide(Some(&s), &b),
            Decision::Record {
                occurrences: 3,
                from: a.last_observed,
                to: b.last_observed
            }
        );
        let s = seen(Some(&s), &b);
        assert_eq!(s.count, 8);
        // Replayed older version after a reconnect: no new occurrences.
        assert_eq!(decide(Some(&s), &a), Decision::Skip);
        assert_eq!(seen(Some(&s), &a).count, 8, "the ledger never goes back");
        // A rewrite without a count bump.
        assert_eq!(
            decide(Some(&s), &event("3", 8, "2026-11-27T10:08:00Z")),
            Decision::Skip
        );
    }
}
