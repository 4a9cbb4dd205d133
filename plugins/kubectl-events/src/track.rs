//! The collector's incident tracker: every few seconds it finds the
//! incidents of the Events stored since the oldest one still going on and
//! keeps them in the store's incident table — the same correlation that
//! `incidents` runs at query time, over the window the table needs — and
//! moves the alerts on, writing their notifications to the outbox in the
//! same transaction as their state.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::alerts::{self, Book, Notice};
use crate::incidents::{self, Incident};
use crate::store::kept::{AlertRow, KeptIncident, OutboxRow};
use crate::store::{EventRow, Filter, ObjectKey, Store, StoreError};

/// How late an Event may reach the store after it happened (the API
/// server's and the collector's batching): the tracker looks this much
/// further back.
const LATE_MS: i64 = 120_000;

pub struct Tracker {
    cluster: String,
    rules: Vec<incidents::Rule>,
    alerts: alerts::Config,
    book: Book,
    /// Read the Events of the last this-many ms at least.
    lookback_ms: i64,
    /// Only Events of these reasons can be part of anything the tracker
    /// finds (`None`: an alert rule matches any reason).
    reasons: Option<Vec<String>>,
    /// What the last step wrote (`None` before the first): a step that
    /// finds the same incidents writes nothing.
    written: Option<Vec<KeptIncident>>,
}

/// What one step did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    pub horizon_ms: i64,
    pub rows: usize,
    pub incidents: usize,
    pub notices: usize,
}

/// The stored form of an incident found over `rows`.
pub fn kept(incident: &Incident, rows: &[EventRow]) -> KeptIncident {
    let ms = |t: Option<jiff::Timestamp>| t.map_or(0, |t| t.as_millisecond());
    let reach = incident
        .members
        .iter()
        .map(|&m| ms(rows[m].last_seen.or(rows[m].first_seen)))
        .min()
        .unwrap_or(0);
    KeptIncident {
        cluster: incident.cluster.clone(),
        id: incident.id.clone(),
        namespace: incident.root.object.namespace.clone(),
        first_ms: ms(incident.first),
        last_ms: ms(incident.last),
        reach_ms: reach,
        doc: serde_json::to_string(incident).unwrap_or_default(),
    }
}

impl Tracker {
    pub fn new(cluster: &str, rules: Vec<incidents::Rule>, alerts: alerts::Config) -> Tracker {
        let within = rules
            .iter()
            .map(|r| r.within.as_millis() as i64)
            .max()
            .unwrap_or(0);
        let lookback_ms = within.max(alerts.longest_resolve_ms()) + LATE_MS;
        let mut reasons: BTreeSet<String> = BTreeSet::new();
        let mut any = false;
        for r in &rules {
            reasons.extend(r.cause.iter().cloned());
            reasons.extend(r.effect.iter().cloned());
        }
        for a in &alerts.rules {
            if a.matches.reasons.is_empty() {
                any = true;
            }
            reasons.extend(a.matches.reasons.iter().cloned());
        }
        Tracker {
            cluster: cluster.to_string(),
            rules,
            alerts,
            book: Book::default(),
            lookback_ms,
            reasons: (!any).then(|| reasons.into_iter().collect()),
            written: None,
        }
    }

    /// Read the alerts' states the store kept (after a restart).
    pub async fn load(&mut self, store: &mut Store) -> Result<(), StoreError> {
        self.book = Book::default();
        for row in store.alerts(Some(&self.cluster)).await? {
            match serde_json::from_str::<alerts::AlertState>(&row.state) {
                Ok(state) => {
                    self.book.alerts.insert((row.rule, row.grp), state);
                }
                Err(e) => eprintln!(
                    "eventlog: alert {} {}: unreadable state ({e}); starting it afresh",
                    row.rule, row.grp
                ),
            }
        }
        Ok(())
    }

    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    pub fn book(&self) -> &Book {
        &self.book
    }

    pub fn alerts(&self) -> &alerts::Config {
        &self.alerts
    }

    /// Find the incidents again since the horizon, keep them, move the
    /// alerts on and queue their notifications.
    pub async fn step(&mut self, store: &mut Store, now_ms: i64) -> Result<Step, StoreError> {
        let horizon = store
            .incident_horizon(&self.cluster, now_ms - self.lookback_ms)
            .await?;
        let filter = Filter {
            cluster: Some(self.cluster.clone()),
            since: jiff::Timestamp::from_millisecond(horizon).ok(),
            reasons: self.reasons.clone().unwrap_or_default(),
            ..Filter::default()
        };
        let rows = store.query(&filter, None).await?;
        let found = incidents::correlate(&rows, &self.rules);
        let keep: Vec<KeptIncident> = found
            .iter()
            .map(|i| kept(i, &rows))
            .filter(|k| k.reach_ms >= horizon)
            .collect();
        let mut step = Step {
            horizon_ms: horizon,
            rows: rows.len(),
            incidents: keep.len(),
            notices: 0,
        };
        // The same incidents as last time are already in the table: every
        // kept row reaching past this horizon is one of them.
        if self.written.as_ref() != Some(&keep) {
            store.keep_incidents(&self.cluster, horizon, &keep).await?;
            self.written = Some(keep);
        }
        if self.alerts.is_empty() {
            return Ok(step);
        }
        let labels = self.labels(store, &rows).await?;
        let episodes = alerts::episodes(&found, &rows, &self.alerts.rules);
        let lookup = |r: &EventRow| {
            labels.get(&ObjectKey {
                namespace: r.namespace.clone(),
                kind: r.kind.clone(),
                name: r.name.clone(),
            })
        };
        let notices = self
            .book
            .evaluate(&self.alerts.rules, &episodes, &rows, &lookup, now_ms);
        step.notices = notices.len();
        self.save(store, &notices, now_ms).await?;
        Ok(step)
    }

    /// The labels of the objects in `rows`, when an alert rule selects by
    /// them.
    async fn labels(
        &self,
        store: &mut Store,
        rows: &[EventRow],
    ) -> Result<HashMap<ObjectKey, BTreeMap<String, String>>, StoreError> {
        if !self
            .alerts
            .rules
            .iter()
            .any(|r| r.matches.selector.is_some())
        {
            return Ok(HashMap::new());
        }
        let namespaces: BTreeSet<&str> = rows.iter().map(|r| r.namespace.as_str()).collect();
        let mut out = HashMap::new();
        for ns in namespaces {
            for o in store.objects(Some(ns)).await? {
                if o.cluster == self.cluster {
                    out.insert(o.key, o.labels);
                }
            }
        }
        Ok(out)
    }

    /// Write what the evaluation changed and the notifications it caused.
    async fn save(
        &mut self,
        store: &mut Store,
        notices: &[Notice],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        if self.book.changed.is_empty() {
            return Ok(());
        }
        let mut changed = Vec::new();
        let mut forgotten = Vec::new();
        for id in &self.book.changed {
            match self.book.alerts.get(id) {
                Some(state) => changed.push(AlertRow {
                    cluster: self.cluster.clone(),
                    rule: id.0.clone(),
                    grp: id.1.clone(),
                    state: serde_json::to_string(state).unwrap_or_default(),
                }),
                None => forgotten.push(id.clone()),
            }
        }
        let mut outbox = Vec::new();
        for n in notices {
            let Some(rule) = self.alerts.rules.iter().find(|r| r.name == n.alert.rule) else {
                continue;
            };
            for sink in &rule.sinks {
                outbox.push(OutboxRow {
                    cluster: self.cluster.clone(),
                    id: n.id(&self.cluster, sink),
                    sink: sink.clone(),
                    created_ms: now_ms,
                    due_ms: now_ms,
                    attempts: 0,
                    sent_ms: None,
                    note: String::new(),
                    notice: serde_json::to_string(n).unwrap_or_default(),
                });
            }
        }
        store
            .save_alerts(&self.cluster, &changed, &forgotten, &outbox)
            .await?;
        self.book.changed.clear();
        Ok(())
    }
}

/// Keep the incidents of `rows` (found under `rules`), for every cluster
/// in them, replacing what was kept since `since_ms`: a backfill after an
/// import, or for Events the collector's tracker never saw. The number
/// kept.
pub async fn save(
    store: &mut Store,
    rows: &[EventRow],
    rules: &[incidents::Rule],
    since_ms: i64,
) -> Result<usize, StoreError> {
    let found = incidents::correlate(rows, rules);
    let mut by_cluster: BTreeMap<&str, Vec<KeptIncident>> = BTreeMap::new();
    for r in rows {
        by_cluster.entry(r.cluster.as_str()).or_default();
    }
    for i in &found {
        by_cluster
            .entry(i.cluster.as_str())
            .or_default()
            .push(kept(i, rows));
    }
    let mut n = 0;
    for (cluster, list) in by_cluster {
        n += list.len();
        store.keep_incidents(cluster, since_ms, &list).await?;
    }
    Ok(n)
}
