//! What a batch of records does to a store, decided without touching it:
//! which occurrences are new (through the ledger), the ledger entries to
//! write and what the new rows add to the hourly rollup.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::ledger::{Decision, Seen};
use crate::record::Record;

use super::StoreError;
use super::rows::{ByLabels, ByObject, HourlyCell, LedgerEntry, Occurrence, Read, Rollup};

/// What `ingest` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestStats {
    /// Events looked at.
    pub events: u64,
    /// Rows written (events with new occurrences).
    pub written: u64,
    /// Occurrences added.
    pub occurrences: u64,
    /// Events that added nothing (already recorded).
    pub duplicates: u64,
}

impl std::ops::AddAssign for IngestStats {
    fn add_assign(&mut self, o: Self) {
        self.events += o.events;
        self.written += o.written;
        self.occurrences += o.occurrences;
        self.duplicates += o.duplicates;
    }
}

/// The ledger key of a record.
pub fn ledger_key(r: &Record) -> String {
    format!("{}/{}", r.cluster, crate::ledger::key(&r.event))
}

/// What a batch does to the store, whichever it is: the ledger entries to
/// write (one per Event, its state after the batch), the occurrence rows to
/// insert, in order, and what they add to the hourly rollup.
#[derive(Debug, Default)]
pub struct Plan {
    pub ledger: Vec<LedgerEntry>,
    pub rows: Vec<Occurrence>,
    pub hourly: Vec<HourlyCell<ByLabels>>,
    pub hourly_objects: Vec<HourlyCell<ByObject>>,
}

/// The distinct ledger keys of `batch` per cluster, clusters and keys in
/// first-seen order: a ledger lookup is one statement per cluster, which a
/// store sharded by cluster answers from one shard.
pub fn batch_keys(batch: &[Record]) -> Vec<(String, Vec<String>)> {
    let mut seen = HashSet::new();
    let mut clusters: Vec<(String, Vec<String>)> = Vec::new();
    for r in batch {
        let key = ledger_key(r);
        if !seen.insert(key.clone()) {
            continue;
        }
        match clusters.iter_mut().find(|(c, _)| *c == r.cluster) {
            Some((_, keys)) => keys.push(key),
            None => clusters.push((r.cluster.clone(), vec![key])),
        }
    }
    clusters
}

/// Decide every record of `batch` against the ledger entries `found` (the
/// stored ones for [`batch_keys`]), in order — an Event may come several
/// times in one batch — and count the outcome in `stats`.
pub fn plan(batch: &[Record], mut found: HashMap<String, Seen>, stats: &mut IngestStats) -> Plan {
    let before = found.clone();
    let mut plan = Plan::default();
    let mut order = Vec::new();
    let mut listed = HashSet::new();
    let mut hourly = Hourly::<ByLabels>::default();
    let mut by_object = Hourly::<ByObject>::default();
    for r in batch {
        let key = ledger_key(r);
        let prev = found.get(&key);
        if let Some(row) = occurrence(r, &key, prev, stats) {
            hourly.add(&row);
            by_object.add(&row);
            plan.rows.push(row);
        }
        let next = crate::ledger::seen(prev, &r.event);
        found.insert(key.clone(), next);
        // Each key once: a statement may not upsert the same row twice.
        if listed.insert(key.clone()) {
            order.push((r.cluster.clone(), key));
        }
    }
    // In key order: neighbouring keys share B-tree pages.
    order.sort_unstable();
    plan.hourly = hourly.cells();
    plan.hourly_objects = by_object.cells();
    for (cluster, key) in order {
        let next = &found[&key];
        // A relist repeats what the ledger holds: nothing to write.
        if before.get(&key) == Some(next) {
            continue;
        }
        plan.ledger.push(LedgerEntry {
            seen: next.clone(),
            cluster,
            key,
        });
    }
    plan
}

/// The occurrence row `r` adds after its ledger entry `prev`, if any.
fn occurrence(
    r: &Record,
    key: &str,
    prev: Option<&Seen>,
    stats: &mut IngestStats,
) -> Option<Occurrence> {
    let e = &r.event;
    stats.events += 1;
    match crate::ledger::decide(prev, e) {
        Decision::Skip => {
            stats.duplicates += 1;
            None
        }
        Decision::Record {
            occurrences,
            from,
            to,
        } => {
            stats.written += 1;
            stats.occurrences += occurrences;
            Some(Occurrence {
                event_key: key.to_string(),
                cluster: r.cluster.clone(),
                namespace: e.regarding.namespace.clone(),
                kind: e.regarding.kind.clone(),
                name: e.regarding.name.clone(),
                object_uid: e.regarding.uid.clone(),
                field_path: e.regarding.field_path.clone(),
                owner_root: r.owner_root.clone(),
                reason: e.reason.clone(),
                event_type: e.event_type.clone(),
                message: e.note.clone(),
                reporting_controller: e.reporting_controller.clone(),
                node: r.node.clone(),
                first_ms: super::ms(from),
                last_ms: super::ms(to),
                occurrences: i64::try_from(occurrences).unwrap_or(i64::MAX),
                category: r.category.as_str().to_string(),
                severity: r.severity.as_str().to_string(),
                template: r.template.clone(),
                fingerprint: r.fingerprint.clone(),
                raw: if prev.is_none() {
                    r.raw.clone()
                } else {
                    String::new()
                },
            })
        }
    }
}

/// Adds occurrences to hours, by a rollup's key columns. A row of an import
/// may span days, so it adds to many hours: each key is stored once and
/// hours are counted by its number.
#[derive(Debug)]
pub struct Hourly<R> {
    /// A key's columns joined by U+001F → its number.
    ids: HashMap<String, usize>,
    keys: Vec<Vec<String>>,
    micro: HashMap<(i64, usize), i64>,
    /// The joined key being looked up (no allocation for a known key).
    scratch: String,
    rollup: std::marker::PhantomData<R>,
}

impl<R> Default for Hourly<R> {
    fn default() -> Self {
        Hourly {
            ids: HashMap::new(),
            keys: Vec::new(),
            micro: HashMap::new(),
            scratch: String::new(),
            rollup: std::marker::PhantomData,
        }
    }
}

impl<R: Rollup> Hourly<R> {
    /// The occurrence columns the rollup is computed from, for rebuilding it.
    pub fn source() -> String {
        format!(
            "SELECT {}, first_ms, last_ms, occurrences FROM occurrences",
            R::KEY.join(", ")
        )
    }

    /// Adds a row: its key columns by name.
    pub fn add(&mut self, row: &Occurrence) {
        let id = self.id(R::KEY
            .iter()
            .map(|column| row.column(column).unwrap_or_default()));
        self.add_shares(id, row.first_ms, row.last_ms, row.occurrences);
    }

    /// Adds a row of [`Hourly::source`].
    pub fn add_row(&mut self, r: &dyn Read) -> Result<(), StoreError> {
        let key = R::KEY
            .iter()
            .map(|column| r.text(column))
            .collect::<Result<Vec<_>, _>>()?;
        let id = self.id(key.iter().map(String::as_str));
        self.add_shares(
            id,
            r.opt_int("first_ms")?,
            r.opt_int("last_ms")?,
            r.int("occurrences")?,
        );
        Ok(())
    }

    /// The number of `key`, given it on first sight. The lookup joins the
    /// key into a reused buffer, so a known key costs no allocation.
    fn id<'k>(&mut self, key: impl Iterator<Item = &'k str> + Clone) -> usize {
        self.scratch.clear();
        for value in key.clone() {
            self.scratch.push_str(value);
            self.scratch.push('\u{1f}');
        }
        if let Some(id) = self.ids.get(self.scratch.as_str()) {
            return *id;
        }
        self.keys.push(key.map(String::from).collect());
        self.ids.insert(self.scratch.clone(), self.keys.len() - 1);
        self.keys.len() - 1
    }

    fn add_shares(&mut self, id: usize, first: Option<i64>, last: Option<i64>, occurrences: i64) {
        for (hour, micro) in crate::aggregate::hourly_shares(first, last, occurrences) {
            *self.micro.entry((hour, id)).or_default() += micro;
        }
    }

    /// The cells, each key once, in primary key order.
    pub fn cells(&self) -> Vec<HourlyCell<R>> {
        let mut cells: Vec<_> = self.micro.iter().collect();
        cells.sort_by(|((h1, k1), _), ((h2, k2), _)| {
            h1.cmp(h2).then_with(|| self.keys[*k1].cmp(&self.keys[*k2]))
        });
        cells
            .into_iter()
            .map(|((hour, id), micro)| HourlyCell {
                hour_ms: *hour,
                key: self.keys[*id].clone(),
                micro: *micro,
                rollup: std::marker::PhantomData,
            })
            .collect()
    }
}

/// What one step of retention deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Stored rows deleted.
    pub rows: u64,
    /// Occurrences they stood for.
    pub occurrences: u64,
    /// The Events they belonged to.
    pub events: std::collections::BTreeSet<String>,
    /// Day partitions dropped (where occurrences are partitioned).
    pub partitions: u64,
}

impl Pruned {
    /// Counts a deleted row (`RETURNING event_key, occurrences`).
    pub fn add_row(&mut self, r: &dyn Read) -> Result<(), StoreError> {
        self.rows += 1;
        self.occurrences = self
            .occurrences
            .saturating_add(u64::try_from(r.int("occurrences")?).unwrap_or(0));
        self.events.insert(r.text("event_key")?);
        Ok(())
    }

    /// `7 occurrences of 2 Events (2 stored rows)`: each count says what
    /// it counts (and the days dropped, where there are any).
    pub fn counts(&self) -> String {
        let days = match self.partitions {
            0 => String::new(),
            1 => ", 1 day partition".to_string(),
            n => format!(", {n} day partitions"),
        };
        format!(
            "{} occurrences of {} Events ({} stored rows{days})",
            self.occurrences,
            self.events.len(),
            self.rows
        )
    }

    /// Nothing was deleted: retention is done for now.
    pub fn is_empty(&self) -> bool {
        self.rows == 0 && self.partitions == 0
    }

    pub fn absorb(&mut self, other: Pruned) {
        self.rows += other.rows;
        self.partitions += other.partitions;
        self.occurrences = self.occurrences.saturating_add(other.occurrences);
        self.events.extend(other.events);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(rv: &str, count: u64) -> Record {
        let e = kplug::event::Event::from_value(&serde_json::json!({
            "metadata": {"name": "web.1", "namespace": "shop", "uid": "u1", "resourceVersion": rv},
            "involvedObject": {"kind": "Pod", "name": "web"},
            "reason": "BackOff", "message": "m", "count": count,
            "lastTimestamp": "2026-11-27T10:00:00Z"
        }))
        .unwrap();
        Record::new(e, "c", &crate::classify::Classifier::default())
    }

    #[test]
    fn a_batch_with_an_event_twice_writes_its_ledger_entry_once() {
        let batch = [record("1", 1), record("2", 3), record("2", 3)];
        let mut stats = IngestStats::default();
        let plan = plan(&batch, Default::default(), &mut stats);
        assert_eq!(
            (stats.occurrences, stats.duplicates, plan.rows.len()),
            (3, 1, 2)
        );
        assert_eq!(plan.ledger.len(), 1);
        assert_eq!(plan.ledger[0].seen.count, 3);
        assert_ne!(plan.rows[0].raw, "", "raw kept");
        assert_eq!(plan.rows[1].raw, "", "once");
        assert_eq!(plan.rows[1].occurrences, 2);
        let hourly: i64 = plan.hourly.iter().map(|c| c.micro).sum();
        assert_eq!(
            hourly,
            3 * crate::aggregate::MICRO,
            "the rollup counts both rows"
        );

        // The same batch again (a relist): nothing to write at all.
        let key = ledger_key(&batch[0]);
        let seen = crate::ledger::seen(None, &batch[2].event);
        let mut again = IngestStats::default();
        let plan = super::plan(&batch, [(key, seen)].into(), &mut again);
        assert_eq!(
            (again.duplicates, plan.rows.len(), plan.ledger.len()),
            (3, 0, 0)
        );
    }
}
