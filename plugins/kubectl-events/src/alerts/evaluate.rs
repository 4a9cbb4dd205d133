//! From incidents to alerts: each rule groups the incidents (and the
//! Warnings no incident explains) it matches, and each group moves through
//! pending → firing → resolved, with `for`/`minCount` before it fires,
//! `resolveAfter` of quiet before it resolves, and `cooldown` before it may
//! fire again. What changes is a [`Notice`]; the state is kept in a
//! [`Book`] the store persists, so a restarted collector sends nothing
//! twice.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::classify::{Category, Severity};
use crate::incidents::Incident;
use crate::store::EventRow;

use super::config::{AlertRule, GroupKey};

/// What alerts are decided on: an incident, or one Warning no incident
/// explains. It borrows from the incidents and rows it was made of: a
/// window holds tens of thousands of them.
#[derive(Debug, Clone)]
pub struct Episode<'r> {
    /// The incident's ID, or the Event's own (cluster, object, reason).
    pub id: Cow<'r, str>,
    pub cluster: &'r str,
    pub kind: &'r str,
    pub namespace: &'r str,
    pub name: &'r str,
    pub reason: &'r str,
    pub message: &'r str,
    pub owner: &'r str,
    pub node: &'r str,
    /// `Killing×2 BackOff×17` (empty for a lone Event).
    pub effects: String,
    pub first_ms: i64,
    pub last_ms: i64,
    pub count: i64,
    /// Its Events: indexes into the rows.
    pub members: Cow<'r, [usize]>,
}

fn ms(t: Option<jiff::Timestamp>) -> i64 {
    t.map_or(0, |t| t.as_millisecond())
}

/// Whether some rule could match an Event of this reason.
fn wanted(rules: &[AlertRule], r: &EventRow) -> bool {
    rules
        .iter()
        .any(|a| a.matches.reasons.is_empty() || a.matches.reasons.contains(&r.reason))
}

/// The incidents, then every Warning row in none of them that one of
/// `rules` could match, as episodes.
pub fn episodes<'r>(
    incidents: &'r [Incident],
    rows: &'r [EventRow],
    rules: &[AlertRule],
) -> Vec<Episode<'r>> {
    let mut taken = vec![false; rows.len()];
    let mut out = Vec::with_capacity(incidents.len());
    for i in incidents {
        for &m in &i.members {
            taken[m] = true;
        }
        let Some(&root) = i.members.iter().find(|&&m| {
            rows[m].reason == i.root.reason
                && rows[m].kind == i.root.object.kind
                && rows[m].name == i.root.object.name
                && rows[m].namespace == i.root.object.namespace
        }) else {
            continue;
        };
        let mut by_reason: Vec<(&str, i64)> = Vec::new();
        for e in &i.effects {
            match by_reason.iter_mut().find(|(r, _)| *r == e.reason) {
                Some((_, n)) => *n += e.count,
                None => by_reason.push((&e.reason, e.count)),
            }
        }
        out.push(Episode {
            id: Cow::Borrowed(&i.id),
            cluster: &i.cluster,
            kind: &i.root.object.kind,
            namespace: &i.root.object.namespace,
            name: &i.root.object.name,
            reason: &i.root.reason,
            message: &i.root.message,
            owner: &rows[root].owner_root,
            node: &rows[root].node,
            effects: by_reason
                .iter()
                .map(|(r, n)| format!("{r}×{n}"))
                .collect::<Vec<_>>()
                .join(" "),
            first_ms: ms(i.first),
            last_ms: ms(i.last),
            count: i.occurrences,
            members: Cow::Borrowed(&i.members),
        });
    }
    for (n, r) in rows.iter().enumerate() {
        if taken[n] || r.event_type != "Warning" || !wanted(rules, r) {
            continue;
        }
        let last = ms(r.last_seen.or(r.first_seen));
        out.push(Episode {
            id: Cow::Owned(
                crate::template::stable_id(&[
                    &r.cluster,
                    &r.namespace,
                    &r.kind,
                    &r.name,
                    &r.reason,
                ])[..12]
                    .to_string(),
            ),
            cluster: &r.cluster,
            kind: &r.kind,
            namespace: &r.namespace,
            name: &r.name,
            reason: &r.reason,
            message: &r.message,
            owner: &r.owner_root,
            node: &r.node,
            effects: String::new(),
            first_ms: r.first_seen.map_or(last, |t| t.as_millisecond()),
            last_ms: last,
            count: r.count,
            members: Cow::Owned(vec![n]),
        });
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Matched, not yet sustained long enough or often enough.
    Pending,
    Firing,
    Resolved,
}

/// One alert: a rule and a group, and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertState {
    pub rule: String,
    /// The group's values, `key=value` joined by `,`.
    pub group: String,
    pub status: Status,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// The round's first and last occurrence (ms).
    pub first_ms: i64,
    pub last_ms: i64,
    pub count: i64,
    /// The incidents (episode IDs) in it.
    pub incidents: Vec<String>,
    pub fired_ms: Option<i64>,
    pub resolved_ms: Option<i64>,
    /// How many times it has fired: what tells its notifications apart.
    pub round: u32,
}

/// A change to tell the sinks about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    pub status: Status,
    pub alert: AlertState,
    pub at_ms: i64,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Firing => "firing",
            Status::Resolved => "resolved",
        }
    }
}

impl Notice {
    /// Unique per alert, round and status: the outbox's key with the sink.
    pub fn id(&self, cluster: &str, sink: &str) -> String {
        crate::template::stable_id(&[
            cluster,
            &self.alert.rule,
            &self.alert.group,
            &self.alert.round.to_string(),
            self.status.as_str(),
            sink,
        ])
    }
}

/// Every alert's state, and which changed since the store last saw them.
#[derive(Debug, Default)]
pub struct Book {
    pub alerts: BTreeMap<(String, String), AlertState>,
    /// Changed: to save (or delete, when no longer in `alerts`).
    pub changed: BTreeSet<(String, String)>,
}

/// What the matchers of a rule see of an Event: the object's labels, when
/// the collector read them.
pub type Labels<'a> = &'a dyn Fn(&EventRow) -> Option<&'a BTreeMap<String, String>>;

fn matches_row(rule: &AlertRule, r: &EventRow, labels: Labels<'_>) -> bool {
    let m = &rule.matches;
    (m.reasons.is_empty() || m.reasons.contains(&r.reason))
        && (m.categories.is_empty()
            || Category::parse(&r.category).is_some_and(|c| m.categories.contains(&c)))
        && m.severity
            .is_none_or(|min| Severity::parse(&r.severity).is_some_and(|s| s >= min))
        && (m.namespaces.is_empty() || m.namespaces.contains(&r.namespace))
        && m.selector
            .as_ref()
            .is_none_or(|s| labels(r).is_some_and(|l| s.matches(l)))
}

/// The group an episode falls in under `rule`, as labels.
fn group_labels(rule: &AlertRule, e: &Episode<'_>) -> Vec<(&'static str, String)> {
    rule.group_by
        .iter()
        .map(|g| {
            let value = match g {
                GroupKey::Incident => e.id.to_string(),
                GroupKey::Cluster => e.cluster.to_string(),
                GroupKey::Namespace => e.namespace.to_string(),
                GroupKey::Reason => e.reason.to_string(),
                GroupKey::Owner => e.owner.to_string(),
                GroupKey::Node => e.node.to_string(),
                GroupKey::Object => format!("{}/{}", e.kind.to_lowercase(), e.name),
            };
            (g.label(), value)
        })
        .collect()
}

/// A group's episodes in this evaluation.
struct Group<'e, 'r> {
    labels: Vec<(&'static str, String)>,
    episodes: Vec<&'e Episode<'r>>,
}

impl Book {
    /// Bring every alert up to `now_ms` given the episodes found in the
    /// window the tracker looked at; the notices to send.
    pub fn evaluate(
        &mut self,
        rules: &[AlertRule],
        episodes: &[Episode<'_>],
        rows: &[EventRow],
        labels: Labels<'_>,
        now_ms: i64,
    ) -> Vec<Notice> {
        let mut notices = Vec::new();
        for rule in rules {
            let mut groups: BTreeMap<String, Group> = BTreeMap::new();
            for e in episodes {
                let hit = (rule.matches.root.is_empty()
                    || rule.matches.root.iter().any(|r| r == e.reason))
                    && e.members
                        .iter()
                        .any(|&m| matches_row(rule, &rows[m], labels));
                if !hit {
                    continue;
                }
                let labels = group_labels(rule, e);
                let key = labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(",");
                groups
                    .entry(key)
                    .or_insert_with(|| Group {
                        labels,
                        episodes: Vec::new(),
                    })
                    .episodes
                    .push(e);
            }
            for (key, group) in groups {
                self.seen(rule, key, group, now_ms);
            }
            self.advance(rule, now_ms, &mut notices);
        }
        notices
    }

    /// Fold a group's episodes into its alert.
    fn seen(&mut self, rule: &AlertRule, group: String, g: Group<'_, '_>, now_ms: i64) {
        let id = (rule.name.clone(), group.clone());
        let existing = self.alerts.get(&id);
        // A resolved alert starts a new round with what came after it, once
        // its cooldown is over; within the cooldown it stays quiet.
        let after = match existing {
            Some(a) if a.status == Status::Resolved => {
                a.resolved_ms.unwrap_or(a.last_ms).max(a.last_ms)
            }
            _ => i64::MIN,
        };
        let fresh: Vec<&&Episode> = g.episodes.iter().filter(|e| e.last_ms > after).collect();
        if fresh.is_empty() {
            return;
        }
        let first = fresh.iter().map(|e| e.first_ms).min().unwrap_or(now_ms);
        let last = fresh.iter().map(|e| e.last_ms).max().unwrap_or(now_ms);
        let count: i64 = fresh.iter().map(|e| e.count).sum();
        let mut ids: Vec<String> = fresh.iter().map(|e| e.id.to_string()).collect();
        ids.sort();
        let lead = fresh
            .iter()
            .min_by_key(|e| (e.first_ms, &e.id))
            .expect("not empty");
        let state = match self.alerts.get_mut(&id) {
            Some(a) if a.status == Status::Resolved => {
                if now_ms - a.resolved_ms.unwrap_or(0) < rule.cooldown_ms {
                    return;
                }
                a.status = Status::Pending;
                a.first_ms = first;
                a.last_ms = last;
                a.count = count;
                a.incidents = ids;
                a.fired_ms = None;
                a.resolved_ms = None;
                a
            }
            Some(a) => {
                let changed = a.last_ms != last.max(a.last_ms)
                    || a.count != count.max(a.count)
                    || a.incidents != ids;
                if !changed {
                    return;
                }
                a.first_ms = a.first_ms.min(first);
                a.last_ms = a.last_ms.max(last);
                a.count = a.count.max(count);
                a.incidents = ids;
                a
            }
            None => self.alerts.entry(id.clone()).or_insert(AlertState {
                rule: rule.name.clone(),
                group,
                status: Status::Pending,
                labels: BTreeMap::new(),
                annotations: BTreeMap::new(),
                first_ms: first,
                last_ms: last,
                count,
                incidents: ids,
                fired_ms: None,
                resolved_ms: None,
                round: 0,
            }),
        };
        state.labels = alert_labels(rule, lead, &g.labels);
        state.annotations = annotations(rule, lead, state.count, &state.incidents);
        self.changed.insert(id);
    }

    /// Move each of the rule's alerts on in time.
    fn advance(&mut self, rule: &AlertRule, now_ms: i64, notices: &mut Vec<Notice>) {
        let mut gone = Vec::new();
        for (id, a) in self.alerts.range_mut((rule.name.clone(), String::new())..) {
            if id.0 != rule.name {
                break;
            }
            let quiet = now_ms - a.last_ms >= rule.resolve_after_ms;
            match a.status {
                Status::Pending if quiet => gone.push(id.clone()),
                Status::Pending
                    if a.count >= rule.min_count && now_ms - a.first_ms >= rule.sustain_ms =>
                {
                    a.status = Status::Firing;
                    a.fired_ms = Some(now_ms);
                    a.round += 1;
                    self.changed.insert(id.clone());
                    notices.push(Notice {
                        status: Status::Firing,
                        alert: a.clone(),
                        at_ms: now_ms,
                    });
                }
                Status::Firing if quiet => {
                    a.status = Status::Resolved;
                    a.resolved_ms = Some(now_ms);
                    self.changed.insert(id.clone());
                    notices.push(Notice {
                        status: Status::Resolved,
                        alert: a.clone(),
                        at_ms: now_ms,
                    });
                }
                // Kept a day past its cooldown, then forgotten.
                Status::Resolved
                    if now_ms - a.resolved_ms.unwrap_or(0) > rule.cooldown_ms + DAY_MS =>
                {
                    gone.push(id.clone())
                }
                _ => {}
            }
        }
        for id in gone {
            self.alerts.remove(&id);
            self.changed.insert(id);
        }
    }

    /// The alerts firing now.
    pub fn firing(&self) -> impl Iterator<Item = &AlertState> {
        self.alerts.values().filter(|a| a.status == Status::Firing)
    }
}

const DAY_MS: i64 = 86_400_000;

fn alert_labels(
    rule: &AlertRule,
    lead: &Episode<'_>,
    group: &[(&'static str, String)],
) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = rule.labels.clone();
    labels.insert("alertname".into(), rule.name.clone());
    labels.insert("cluster".into(), lead.cluster.to_string());
    for (k, v) in group {
        labels.insert((*k).to_string(), v.clone());
    }
    labels
}

fn annotations(
    rule: &AlertRule,
    lead: &Episode<'_>,
    count: i64,
    incidents: &[String],
) -> BTreeMap<String, String> {
    let object = format!("{}/{}", lead.kind.to_lowercase(), lead.name);
    let place = if lead.namespace.is_empty() {
        object
    } else {
        format!("{object} in {}", lead.namespace)
    };
    let mut summary = format!("{} on {place}", lead.reason);
    if !lead.effects.is_empty() {
        summary += &format!(", then {}", lead.effects);
    }
    let mut a = BTreeMap::from([
        ("summary".to_string(), summary),
        ("description".to_string(), lead.message.to_string()),
        ("occurrences".to_string(), count.to_string()),
        ("incidents".to_string(), incidents.join(" ")),
    ]);
    for (k, v) in &rule.annotations {
        a.insert(k.clone(), v.clone());
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::config::from_yaml;
    use crate::incidents::{builtin_rules, correlate};

    const M: i64 = 60_000;
    const T0: i64 = 1_700_000_000_000;

    fn row(kind: &str, name: &str, reason: &str, at_min: i64, count: i64) -> EventRow {
        let t = jiff::Timestamp::from_millisecond(T0 + at_min * M).unwrap();
        EventRow {
            cluster: "c".into(),
            namespace: "shop".into(),
            kind: kind.into(),
            name: name.into(),
            field_path: String::new(),
            reason: reason.into(),
            event_type: if reason == "Killing" {
                "Normal"
            } else {
                "Warning"
            }
            .into(),
            message: format!("{reason} happened"),
            reporting_controller: "kubelet".into(),
            node: "n1".into(),
            first_seen: Some(t),
            last_seen: Some(t),
            count,
            category: "Other".into(),
            severity: "medium".into(),
            fingerprint: String::new(),
            owner_root: "Deployment/web".into(),
        }
    }

    fn config(rules: &str) -> Vec<AlertRule> {
        from_yaml(&format!(
            "sinks:\n- {{name: s, stdout: true}}\nalerts:\n{rules}"
        ))
        .unwrap()
        .rules
    }

    fn run(book: &mut Book, rules: &[AlertRule], rows: &[EventRow], now_min: i64) -> Vec<Notice> {
        let incidents = correlate(rows, &builtin_rules());
        let eps = episodes(&incidents, rows, rules);
        book.evaluate(rules, &eps, rows, &|_| None, T0 + now_min * M)
    }

    /// A liveness failure, the kill and 20 back-offs: one incident.
    fn crashloop(pod: &str, at: i64) -> Vec<EventRow> {
        let mut unhealthy = row("Pod", pod, "Unhealthy", at, 3);
        unhealthy.message = "Liveness probe failed: HTTP probe failed".into();
        vec![
            unhealthy,
            row("Pod", pod, "Killing", at + 1, 1),
            row("Pod", pod, "BackOff", at + 2, 20),
        ]
    }

    #[test]
    fn one_alert_per_incident_not_per_event_and_it_resolves_when_quiet() {
        let rules = config("- {name: Crash, match: {reasons: [BackOff]}, resolveAfter: 5m}\n");
        let mut book = Book::default();
        let rows = crashloop("web-1", 0);
        let n = run(&mut book, &rules, &rows, 3);
        assert_eq!(n.len(), 1, "{n:#?}");
        assert_eq!(n[0].status, Status::Firing);
        let a = &n[0].alert;
        // Named by its root cause, the effects in the summary.
        assert_eq!(a.labels["alertname"], "Crash");
        assert!(a.annotations["summary"].starts_with("Unhealthy on pod/web-1 in shop, then"));
        assert!(a.annotations["summary"].contains("BackOff×20"));
        assert_eq!(a.count, 24);
        assert_eq!(a.labels["incident"], a.incidents[0]);
        // Nothing new while it keeps firing.
        assert!(run(&mut book, &rules, &rows, 4).is_empty());
        // Quiet for resolveAfter: resolved, once.
        let n = run(&mut book, &rules, &rows, 8);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].status, Status::Resolved);
        assert!(run(&mut book, &rules, &rows, 9).is_empty());
    }

    #[test]
    fn for_and_min_count_hold_it_back_until_sustained() {
        let rules =
            config("- {name: Mount, match: {reasons: [FailedMount]}, for: 2m, minCount: 3}\n");
        let mut book = Book::default();
        let mut rows = vec![row("Pod", "db-0", "FailedMount", 0, 1)];
        assert!(run(&mut book, &rules, &rows, 0).is_empty());
        assert_eq!(book.alerts.values().next().unwrap().status, Status::Pending);
        // Long enough but too few.
        assert!(run(&mut book, &rules, &rows, 3).is_empty());
        rows[0].count = 3;
        rows[0].last_seen = Some(jiff::Timestamp::from_millisecond(T0 + 3 * M).unwrap());
        let n = run(&mut book, &rules, &rows, 3);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].alert.count, 3);
        // A pending alert that goes quiet is dropped without a word.
        let mut other = Book::default();
        let lone = vec![row("Pod", "db-1", "FailedMount", 0, 1)];
        assert!(run(&mut other, &rules, &lone, 1).is_empty());
        assert!(run(&mut other, &rules, &lone, 10).is_empty());
        assert!(other.alerts.is_empty());
    }

    #[test]
    fn cooldown_keeps_a_group_quiet_and_then_a_new_round_fires() {
        let rules = config(
            "- {name: Mount, match: {reasons: [FailedMount]}, groupBy: [namespace], cooldown: 30m, resolveAfter: 5m}\n",
        );
        let mut book = Book::default();
        let mut rows = vec![row("Pod", "a", "FailedMount", 0, 1)];
        assert_eq!(run(&mut book, &rules, &rows, 0).len(), 1);
        assert_eq!(run(&mut book, &rules, &rows, 6)[0].status, Status::Resolved);
        // Again within the cooldown: nothing.
        rows.push(row("Pod", "b", "FailedMount", 10, 1));
        assert!(run(&mut book, &rules, &rows, 10).is_empty());
        // After it: a second round, with its own notices.
        rows.push(row("Pod", "c", "FailedMount", 40, 1));
        let n = run(&mut book, &rules, &rows, 40);
        assert_eq!(n.len(), 1);
        assert_eq!((n[0].status, n[0].alert.round), (Status::Firing, 2));
        assert_eq!(n[0].alert.labels["namespace"], "shop");
        assert_ne!(n[0].id("c", "s"), {
            let mut first = n[0].clone();
            first.alert.round = 1;
            first.id("c", "s")
        });
    }

    #[test]
    fn root_and_selector_and_severity_narrow_what_matches() {
        let rules = config(
            "- {name: Probe, match: {root: [Unhealthy], severity: high}}\n- {name: Sel, match: {selector: 'app=web'}}\n- {name: Root, match: {root: [FailedMount]}}\n",
        );
        let mut rows = crashloop("web-1", 0);
        rows[2].severity = "high".into();
        let labels = BTreeMap::from([("app".to_string(), "web".to_string())]);
        let incidents = correlate(&rows, &builtin_rules());
        let eps = episodes(&incidents, &rows, &rules);
        let mut book = Book::default();
        let n = book.evaluate(
            &rules,
            &eps,
            &rows,
            &|r: &EventRow| (r.name == "web-1").then_some(&labels),
            T0 + 3 * M,
        );
        let names: BTreeSet<&str> = n.iter().map(|n| n.alert.rule.as_str()).collect();
        assert_eq!(names, BTreeSet::from(["Probe", "Sel"]));
    }

    #[test]
    fn a_lone_warning_is_its_own_episode() {
        let rows = vec![
            row("Pod", "x", "FailedCreate", 0, 2),
            row("Pod", "y", "Killing", 0, 1),
        ];
        let rules = config("- {name: Any}\n");
        let eps = episodes(&[], &rows, &rules);
        assert_eq!(eps.len(), 1);
        assert_eq!((eps[0].reason, eps[0].count), ("FailedCreate", 2));
    }
}
