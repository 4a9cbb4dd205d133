//! Incidents: stored Events correlated by typed cause→effect rules over the
//! object, its owner chain and its node, within a time window. Each
//! incident has a root (the earliest cause nothing else explains), the
//! effects it explains, a confidence, its span and its counts. Decided
//! without I/O over the rows a query returns, so any window can be asked.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::store::EventRow;

/// How a cause and its effect must be related.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// The same object (a Pod's own events).
    SameObject,
    /// Objects with the same owner root (a Deployment's Pods and ReplicaSets).
    SameOwner,
    /// The effect is about something on the node the cause is about (a
    /// Node's event, then its Pods').
    OnNode,
    /// The effect comes from the same workload, anywhere: a replacement
    /// scheduled or created elsewhere after the cause.
    Elsewhere,
}

impl Link {
    /// How sure a link of this kind makes a cause→effect pair.
    fn confidence(self) -> f64 {
        match self {
            Link::SameObject => 0.9,
            Link::SameOwner => 0.75,
            Link::OnNode => 0.7,
            Link::Elsewhere => 0.6,
        }
    }
}

/// One typed rule: an Event whose reason is one of `cause` explains a
/// later Event whose reason is one of `effect`, related by `link`, that
/// starts within `within` of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    pub cause: Vec<String>,
    /// Only causes whose message contains one of these (empty: any).
    pub cause_message: Vec<String>,
    pub effect: Vec<String>,
    pub link: Link,
    pub within: SignedDuration,
}

const MIN: i64 = 60;

/// The built-in chains (from the Kubernetes components' reason strings).
pub fn builtin_rules() -> Vec<Rule> {
    let m = |minutes: i64| SignedDuration::from_secs(minutes * MIN);
    let rule =
        |name: &str, cause: &[&str], cause_message: &[&str], effect: &[&str], link, within| Rule {
            name: name.to_string(),
            cause: cause.iter().map(|s| s.to_string()).collect(),
            cause_message: cause_message.iter().map(|s| s.to_string()).collect(),
            effect: effect.iter().map(|s| s.to_string()).collect(),
            link,
            within,
        };
    vec![
        rule(
            "volume-not-attached",
            &["FailedAttachVolume", "FailedMount"],
            &[],
            &[
                "BackOff",
                "Failed",
                "FailedMount",
                "FailedCreatePodContainer",
            ],
            Link::SameObject,
            m(30),
        ),
        rule(
            "node-not-ready",
            &["NodeNotReady"],
            &[],
            &["TaintManagerEviction", "NodeNotReady", "Evicted", "Killing"],
            Link::OnNode,
            m(15),
        ),
        rule(
            "evicted-rescheduled",
            &["TaintManagerEviction", "Evicted"],
            &[],
            &["FailedScheduling", "SuccessfulCreate", "Scheduled"],
            Link::Elsewhere,
            m(15),
        ),
        rule(
            "node-pressure",
            &["EvictionThresholdMet"],
            &[],
            &["Evicted", "Killing"],
            Link::OnNode,
            m(15),
        ),
        rule(
            "liveness-restart",
            &["Unhealthy"],
            &["Liveness probe failed"],
            &["Killing", "BackOff"],
            Link::SameObject,
            m(30),
        ),
        rule(
            "restart-backoff",
            &["Killing"],
            &[],
            &["BackOff"],
            Link::SameObject,
            m(30),
        ),
        rule(
            "unschedulable-autoscaler",
            &["FailedScheduling"],
            &["Insufficient", "didn't match", "untolerated taint"],
            &["TriggeredScaleUp", "NotTriggerScaleUp"],
            Link::SameObject,
            m(15),
        ),
        rule(
            "image-pull",
            &["Failed", "ErrImagePull", "InspectFailed"],
            &["pull", "image", "ImagePull"],
            &["BackOff"],
            Link::SameObject,
            m(30),
        ),
    ]
}

/// A rule as a rules file writes it, under `incidents:` beside the
/// classification `rules:`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RuleSpec {
    name: String,
    cause: Vec<String>,
    #[serde(default)]
    cause_message: Vec<String>,
    effect: Vec<String>,
    link: String,
    #[serde(default = "default_within")]
    within: String,
}

fn default_within() -> String {
    "30m".to_string()
}

#[derive(Debug, serde::Deserialize)]
struct RulesFile {
    #[serde(default)]
    incidents: Vec<RuleSpec>,
}

/// The incident rules of a rules file (its `incidents:` list), tried
/// before the built-in ones. Errors name the rule.
pub fn rules_from_yaml(text: &str) -> Result<Vec<Rule>, String> {
    let file: RulesFile = kplug::yaml::from_str(text).map_err(|e| kplug::yaml::line_message(&e))?;
    let mut rules = Vec::new();
    for spec in file.incidents {
        let link = match spec.link.as_str() {
            "same-object" => Link::SameObject,
            "same-owner" => Link::SameOwner,
            "on-node" => Link::OnNode,
            "elsewhere" => Link::Elsewhere,
            other => {
                return Err(format!(
                    "incident rule {}: link \"{other}\" is not one of same-object, same-owner, on-node, elsewhere",
                    spec.name
                ));
            }
        };
        let within = kplug::cli::parse_duration(&spec.within)
            .map_err(|e| format!("incident rule {}: within: {e}", spec.name))?;
        if spec.cause.is_empty() || spec.effect.is_empty() {
            return Err(format!(
                "incident rule {}: cause and effect each need a reason",
                spec.name
            ));
        }
        rules.push(Rule {
            name: spec.name,
            cause: spec.cause,
            cause_message: spec.cause_message,
            effect: spec.effect,
            link,
            within: SignedDuration::try_from(within)
                .map_err(|e| format!("incident rule: within: {e}"))?,
        });
    }
    rules.extend(builtin_rules());
    Ok(rules)
}

/// An object as incidents name it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectRef {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Root {
    pub reason: String,
    pub object: ObjectRef,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Effect {
    pub reason: String,
    pub object: ObjectRef,
    pub count: i64,
    /// The rule that ties it to the incident.
    pub rule: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Incident {
    pub id: String,
    pub cluster: String,
    pub root: Root,
    pub confidence: f64,
    pub effects: Vec<Effect>,
    pub objects: Vec<ObjectRef>,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    /// Occurrences of the root and its effects.
    pub occurrences: i64,
    /// The Events in it: indexes into the rows it was found in.
    #[serde(skip)]
    pub members: Vec<usize>,
}

impl Incident {
    /// Whether it involves KIND/NAME or, for a controller, what it owns
    /// (named after it), as `--for` selects Events.
    pub fn touches(&self, kind: &str, name: &str) -> bool {
        let owned = format!("{name}-");
        self.objects.iter().any(|o| {
            (o.kind == kind && o.name == name)
                || (crate::store::filter::owns_by_name(kind)
                    && matches!(o.kind.as_str(), "Pod" | "ReplicaSet" | "Job")
                    && o.name.starts_with(&owned))
        })
    }
}

fn matches_any(text: &str, needles: &[String]) -> bool {
    needles.is_empty() || needles.iter().any(|n| text.contains(n))
}

fn object(r: &EventRow) -> ObjectRef {
    ObjectRef {
        kind: r.kind.clone(),
        namespace: r.namespace.clone(),
        name: r.name.clone(),
    }
}

/// Whether `link` relates cause `c` to effect `e`.
fn linked(link: Link, c: &EventRow, e: &EventRow) -> bool {
    if c.cluster != e.cluster {
        return false;
    }
    let same_object = c.kind == e.kind && c.namespace == e.namespace && c.name == e.name;
    let same_owner =
        c.namespace == e.namespace && !c.owner_root.is_empty() && c.owner_root == e.owner_root;
    match link {
        Link::SameObject => same_object,
        Link::SameOwner => same_owner,
        Link::OnNode => {
            let node = if c.kind == "Node" { &c.name } else { &c.node };
            !node.is_empty()
                && (e.node == *node || (e.kind == "Node" && e.name == *node))
                && !same_object
        }
        Link::Elsewhere => same_owner && !same_object,
    }
}

/// When an Event started and ended (its first and last occurrence).
fn span(r: &EventRow) -> Option<(Timestamp, Timestamp)> {
    let last = r.last_seen.or(r.first_seen)?;
    Some((r.first_seen.unwrap_or(last), last))
}

/// Rows by what links relate them on: the object, the owner root and the
/// node, each within its cluster.
struct Index<'a> {
    object: HashMap<(&'a str, &'a str, &'a str, &'a str), Vec<usize>>,
    owner: HashMap<(&'a str, &'a str, &'a str), Vec<usize>>,
    node: HashMap<(&'a str, &'a str), Vec<usize>>,
}

impl<'a> Index<'a> {
    fn new(rows: &'a [EventRow]) -> Index<'a> {
        let mut index = Index {
            object: HashMap::new(),
            owner: HashMap::new(),
            node: HashMap::new(),
        };
        for (i, r) in rows.iter().enumerate() {
            let key = (
                r.cluster.as_str(),
                r.namespace.as_str(),
                r.kind.as_str(),
                r.name.as_str(),
            );
            index.object.entry(key).or_default().push(i);
            if !r.owner_root.is_empty() {
                let key = (
                    r.cluster.as_str(),
                    r.namespace.as_str(),
                    r.owner_root.as_str(),
                );
                index.owner.entry(key).or_default().push(i);
            }
            // An Event is on its node, and a Node's own Events on it.
            let node = if r.kind == "Node" { &r.name } else { &r.node };
            if !node.is_empty() {
                index
                    .node
                    .entry((r.cluster.as_str(), node.as_str()))
                    .or_default()
                    .push(i);
            }
        }
        index
    }

    /// The rows `link` may relate to cause `c` (a superset: [`linked`]
    /// decides).
    fn candidates(&self, link: Link, c: &'a EventRow) -> &[usize] {
        let found = match link {
            Link::SameObject => self.object.get(&(
                c.cluster.as_str(),
                c.namespace.as_str(),
                c.kind.as_str(),
                c.name.as_str(),
            )),
            Link::SameOwner | Link::Elsewhere => self.owner.get(&(
                c.cluster.as_str(),
                c.namespace.as_str(),
                c.owner_root.as_str(),
            )),
            Link::OnNode => {
                let node = if c.kind == "Node" { &c.name } else { &c.node };
                self.node.get(&(c.cluster.as_str(), node.as_str()))
            }
        };
        found.map_or(&[], Vec::as_slice)
    }
}

/// Union-find over row indexes.
struct Groups(Vec<usize>);

impl Groups {
    fn find(&mut self, i: usize) -> usize {
        let mut r = i;
        while self.0[r] != r {
            r = self.0[r];
        }
        let mut j = i;
        while self.0[j] != r {
            let next = self.0[j];
            self.0[j] = r;
            j = next;
        }
        r
    }
    fn join(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.0[rb.max(ra)] = rb.min(ra);
        }
    }
}

/// The incidents in `rows` under `rules`, newest first. An Event belongs
/// to at most one incident: the cause→effect links join Events into
/// groups, each group's root is its earliest Event that no link explains,
/// and a group without any link is no incident.
pub fn correlate(rows: &[EventRow], rules: &[Rule]) -> Vec<Incident> {
    // Each effect's best explanation: (cause, rule, confidence).
    let mut explained: BTreeMap<usize, (usize, usize, f64)> = BTreeMap::new();
    let spans: Vec<Option<(Timestamp, Timestamp)>> = rows.iter().map(span).collect();
    let index = Index::new(rows);
    for (ri, rule) in rules.iter().enumerate() {
        for (ci, c) in rows.iter().enumerate() {
            if !rule.cause.contains(&c.reason) || !matches_any(&c.message, &rule.cause_message) {
                continue;
            }
            let Some((c_first, c_last)) = spans[ci] else {
                continue;
            };
            // Only the Events the link can relate, from the index: a week of
            // a busy store has millions of rows.
            for &ei in index.candidates(rule.link, c) {
                let e = &rows[ei];
                if ei == ci || !rule.effect.contains(&e.reason) || !linked(rule.link, c, e) {
                    continue;
                }
                let Some((e_first, _)) = spans[ei] else {
                    continue;
                };
                // The effect begins no earlier than the cause and no later
                // than `within` after the cause last occurred. At the same
                // instant (a dump's second-resolution times) the rule's
                // direction decides, unless the two could explain each
                // other; then order does, so links never loop.
                let after = e_first > c_first
                    || (e_first == c_first && (!rule.effect.contains(&c.reason) || ei > ci));
                if !after || e_first > c_last + rule.within {
                    continue;
                }
                let confidence = rule.link.confidence();
                let better = explained
                    .get(&ei)
                    .is_none_or(|(_, _, have)| confidence > *have);
                if better {
                    explained.insert(ei, (ci, ri, confidence));
                }
            }
        }
    }
    let mut groups = Groups((0..rows.len()).collect());
    for (e, (c, _, _)) in &explained {
        groups.join(*e, *c);
    }
    let mut members: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (e, (c, _, _)) in &explained {
        for i in [*e, *c] {
            let g = groups.find(i);
            let list = members.entry(g).or_default();
            if !list.contains(&i) {
                list.push(i);
            }
        }
    }
    let mut incidents: Vec<Incident> = members
        .into_values()
        .filter_map(|mut list| {
            list.sort_by_key(|i| (spans[*i], *i));
            // The earliest Event nothing explains; were every one explained
            // (user rules that loop), the earliest.
            let root = *list
                .iter()
                .find(|i| !explained.contains_key(i))
                .or(list.first())?;
            Some(incident(rows, &spans, &explained, rules, root, list))
        })
        .collect();
    incidents.sort_by(|a, b| b.last.cmp(&a.last).then_with(|| a.id.cmp(&b.id)));
    incidents
}

fn incident(
    rows: &[EventRow],
    spans: &[Option<(Timestamp, Timestamp)>],
    explained: &BTreeMap<usize, (usize, usize, f64)>,
    rules: &[Rule],
    root: usize,
    list: Vec<usize>,
) -> Incident {
    let r = &rows[root];
    let effects: Vec<Effect> = list
        .iter()
        .filter(|i| **i != root)
        .filter_map(|i| {
            let (_, rule, _) = explained.get(i)?;
            Some(Effect {
                reason: rows[*i].reason.clone(),
                object: object(&rows[*i]),
                count: rows[*i].count,
                rule: rules[*rule].name.clone(),
            })
        })
        .collect();
    let confidences: Vec<f64> = list
        .iter()
        .filter_map(|i| explained.get(i).map(|e| e.2))
        .collect();
    let confidence = if confidences.is_empty() {
        0.0
    } else {
        (confidences.iter().sum::<f64>() / confidences.len() as f64 * 100.0).round() / 100.0
    };
    let objects: BTreeSet<ObjectRef> = list.iter().map(|i| object(&rows[*i])).collect();
    let first = list.iter().filter_map(|i| spans[*i].map(|s| s.0)).min();
    let last = list.iter().filter_map(|i| spans[*i].map(|s| s.1)).max();
    Incident {
        id: id(r, first),
        cluster: r.cluster.clone(),
        root: Root {
            reason: r.reason.clone(),
            object: object(r),
            message: r.message.clone(),
        },
        confidence,
        effects,
        objects: objects.into_iter().collect(),
        first,
        last,
        occurrences: list.iter().map(|i| rows[*i].count).sum(),
        members: list,
    }
}

/// The incident's occurrences in `n` equal buckets of `from_ms..to_ms`,
/// each member Event's count spread evenly over its span (for a
/// sparkline).
pub fn activity(
    incident: &Incident,
    rows: &[EventRow],
    from_ms: i64,
    to_ms: i64,
    n: usize,
) -> Vec<i64> {
    let mut counts = vec![0i64; n];
    if n == 0 || to_ms <= from_ms {
        return counts;
    }
    let width = (to_ms - from_ms) as f64 / n as f64;
    let bucket = |ms: i64| (((ms - from_ms) as f64 / width) as usize).min(n - 1);
    for &i in &incident.members {
        let Some((first, last)) = span(&rows[i]) else {
            continue;
        };
        let (a, b) = (
            bucket(first.as_millisecond().max(from_ms)),
            bucket(last.as_millisecond().clamp(from_ms, to_ms)),
        );
        let spread = (b - a + 1) as i64;
        for (k, c) in counts[a..=b].iter_mut().enumerate() {
            // The remainder goes to the first buckets, so the sum is exact.
            *c += rows[i].count / spread + i64::from((k as i64) < rows[i].count % spread);
        }
    }
    counts
}

/// A short, stable name: the same root Event starting at the same time is
/// the same incident, whatever window it is found in.
fn id(root: &EventRow, first: Option<Timestamp>) -> String {
    let first = first.map_or(0, |t| t.as_millisecond()).to_string();
    let mut id = crate::template::stable_id(&[
        &root.cluster,
        &root.namespace,
        &root.kind,
        &root.name,
        &root.reason,
        &first,
    ]);
    id.truncate(12);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: &str, name: &str, reason: &str, message: &str, at: i64, count: i64) -> EventRow {
        let t = Timestamp::from_second(1_764_000_000 + at).unwrap();
        EventRow {
            cluster: "c".into(),
            namespace: if kind == "Node" {
                String::new()
            } else {
                "shop".into()
            },
            kind: kind.into(),
            name: name.into(),
            field_path: String::new(),
            reason: reason.into(),
            event_type: "Warning".into(),
            message: message.into(),
            reporting_controller: String::new(),
            node: if kind == "Node" {
                name.into()
            } else {
                "node-1".into()
            },
            first_seen: Some(t),
            last_seen: Some(t + SignedDuration::from_secs(count * 10)),
            count,
            category: String::new(),
            severity: String::new(),
            fingerprint: String::new(),
            owner_root: "web".into(),
        }
    }

    #[test]
    fn a_liveness_failure_explains_the_kill_and_the_backoff() {
        let rows = vec![
            row(
                "Pod",
                "web-1",
                "BackOff",
                "Back-off restarting failed container",
                120,
                5,
            ),
            row(
                "Pod",
                "web-1",
                "Killing",
                "Container app failed liveness probe, will be restarted",
                60,
                2,
            ),
            row(
                "Pod",
                "web-1",
                "Unhealthy",
                "Liveness probe failed: HTTP probe failed",
                0,
                3,
            ),
            // Another Pod's BackOff is not this incident's.
            row(
                "Pod",
                "api-0",
                "BackOff",
                "Back-off restarting failed container",
                120,
                1,
            ),
        ];
        let found = correlate(&rows, &builtin_rules());
        assert_eq!(found.len(), 1, "{found:#?}");
        let i = &found[0];
        assert_eq!(i.root.reason, "Unhealthy");
        let effects: Vec<&str> = i.effects.iter().map(|e| e.reason.as_str()).collect();
        assert_eq!(effects, ["Killing", "BackOff"]);
        assert_eq!(i.occurrences, 10);
        assert!(i.confidence > 0.8);
        assert_eq!(
            i.id,
            correlate(&rows[..3], &builtin_rules())[0].id,
            "ids are stable"
        );
    }

    #[test]
    fn cause_and_effect_in_the_same_second_are_still_linked() {
        let rows = vec![
            row(
                "Pod",
                "web-1",
                "BackOff",
                "Back-off restarting failed container",
                0,
                2,
            ),
            row(
                "Pod",
                "web-1",
                "Unhealthy",
                "Liveness probe failed: timeout",
                0,
                2,
            ),
        ];
        let found = correlate(&rows, &builtin_rules());
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].root.reason, "Unhealthy");
    }

    #[test]
    fn activity_spreads_every_occurrence_over_its_span() {
        let rows = vec![
            row("Pod", "web-1", "Unhealthy", "Liveness probe failed", 0, 3),
            row(
                "Pod",
                "web-1",
                "BackOff",
                "Back-off restarting failed container",
                10,
                7,
            ),
        ];
        let found = correlate(&rows, &builtin_rules());
        let from = 1_764_000_000_000;
        let counts = activity(&found[0], &rows, from, from + 100_000, 10);
        assert_eq!(counts.iter().sum::<i64>(), 10, "{counts:?}");
        assert!(counts[9] == 0 && counts[0] > 0, "{counts:?}");
    }

    #[test]
    fn a_readiness_failure_explains_nothing() {
        let rows = vec![
            row(
                "Pod",
                "web-1",
                "Unhealthy",
                "Readiness probe failed: 503",
                0,
                3,
            ),
            row(
                "Pod",
                "web-1",
                "BackOff",
                "Back-off restarting failed container",
                60,
                2,
            ),
        ];
        assert!(correlate(&rows, &builtin_rules()).is_empty());
    }

    #[test]
    fn a_node_going_away_explains_evictions_and_rescheduling_elsewhere() {
        let mut rescheduled = row(
            "Pod",
            "web-2",
            "FailedScheduling",
            "0/3 nodes are available",
            400,
            1,
        );
        rescheduled.node = String::new();
        let rows = vec![
            row(
                "Node",
                "node-1",
                "NodeNotReady",
                "Node node-1 status is now: NodeNotReady",
                0,
                1,
            ),
            row(
                "Pod",
                "web-1",
                "TaintManagerEviction",
                "Marking for deletion Pod shop/web-1",
                300,
                1,
            ),
            rescheduled,
        ];
        let found = correlate(&rows, &builtin_rules());
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].root.reason, "NodeNotReady");
        assert_eq!(found[0].effects.len(), 2);
        assert_eq!(found[0].objects.len(), 3);
    }

    #[test]
    fn volumes_images_pressure_and_the_autoscaler_chain_too() {
        let cases = [
            (
                "FailedMount",
                "MountVolume.SetUp failed for volume \"data\"",
                "BackOff",
            ),
            (
                "Failed",
                "Failed to pull image \"registry/app:1\"",
                "BackOff",
            ),
            (
                "FailedScheduling",
                "0/3 nodes are available: 3 Insufficient cpu.",
                "NotTriggerScaleUp",
            ),
        ];
        for (cause, message, effect) in cases {
            let rows = vec![
                row("Pod", "web-1", cause, message, 0, 1),
                row("Pod", "web-1", effect, "…", 30, 1),
            ];
            let found = correlate(&rows, &builtin_rules());
            assert_eq!(found.len(), 1, "{cause} → {effect}");
            assert_eq!(found[0].root.reason, cause);
        }
        let rows = vec![
            row(
                "Node",
                "node-1",
                "EvictionThresholdMet",
                "Attempting to reclaim memory",
                0,
                1,
            ),
            row(
                "Pod",
                "web-1",
                "Evicted",
                "The node was low on resource: memory.",
                20,
                1,
            ),
        ];
        assert_eq!(
            correlate(&rows, &builtin_rules())[0].root.reason,
            "EvictionThresholdMet"
        );
    }

    #[test]
    fn user_rules_come_first_and_are_checked() {
        let rules = rules_from_yaml(
            "rules: []\nincidents:\n- name: oom-then-backoff\n  cause: [OOMKilling]\n  effect: [BackOff]\n  link: same-object\n  within: 10m\n",
        )
        .unwrap();
        assert_eq!(rules[0].name, "oom-then-backoff");
        assert_eq!(rules.len(), builtin_rules().len() + 1);
        let rows = vec![
            row(
                "Pod",
                "web-1",
                "OOMKilling",
                "Memory cgroup out of memory",
                0,
                1,
            ),
            row(
                "Pod",
                "web-1",
                "BackOff",
                "Back-off restarting failed container",
                60,
                3,
            ),
        ];
        let found = correlate(&rows, &rules);
        assert_eq!(found[0].effects[0].rule, "oom-then-backoff");
        let bad =
            rules_from_yaml("incidents:\n- {name: x, cause: [A], effect: [B], link: sideways}\n");
        assert!(bad.unwrap_err().contains("link \"sideways\""));
        let bad = rules_from_yaml(
            "incidents:\n- {name: x, cause: [A], effect: [B], link: on-node, within: soon}\n",
        );
        assert!(bad.unwrap_err().contains("incident rule x: within"));
    }

    #[test]
    fn an_effect_long_after_its_cause_is_not_linked() {
        let rows = vec![
            row("Pod", "web-1", "Unhealthy", "Liveness probe failed", 0, 1),
            row(
                "Pod",
                "web-1",
                "Killing",
                "failed liveness probe",
                3 * 3600,
                1,
            ),
        ];
        assert!(correlate(&rows, &builtin_rules()).is_empty());
    }
}
