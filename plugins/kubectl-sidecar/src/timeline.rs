//! The startup timeline of a live Pod from its status and Events
//! (../shared/specs/sidecar.md §7): scheduling, pulls, each container's
//! start, how long each sidecar held the next container and why, restarts,
//! readiness, and the termination order.
//!
//! A sidecar's "started" instant has no timestamp of its own: it is the
//! moment the next init container started, or, for the last one,
//! `Initialized` (or the first app container's start).

use jiff::Timestamp;
use kplug::event::Event;
use serde::Serialize;
use serde_json::Value;

use crate::container::{Container, List};
use crate::template::PodTemplate;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub time: Option<Timestamp>,
    /// Seconds since the Pod was created.
    pub offset_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    pub what: String,
}

/// How long a sidecar held the next container, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Gate {
    pub sidecar: String,
    pub started_at: Option<Timestamp>,
    /// When the next container could start (inferred).
    pub released_at: Option<Timestamp>,
    pub delay_seconds: Option<i64>,
    pub causes: Vec<String>,
}

impl Gate {
    /// One line for a person: how long, and why.
    pub fn describe(&self) -> String {
        let why = if self.causes.is_empty() {
            "started at once".to_string()
        } else {
            self.causes.join("; ")
        };
        match self.delay_seconds {
            Some(d) => format!("{} held the next container {d}s: {why}", self.sidecar),
            None => format!(
                "{} held the next container for a time the Pod's status does not show: {why}",
                self.sidecar
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Restart {
    pub container: String,
    pub count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_exit_code: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Termination {
    /// Containers in the order they finished.
    pub finish_order: Vec<String>,
    /// Sidecars stopped after every app container, in reverse declaration order.
    pub ordered: bool,
    /// Containers killed at the end of the grace period (exit 137 at the deadline).
    pub killed_at_deadline: Vec<String>,
}

/// `kind: SidecarTimeline`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timeline {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub pod: String,
    pub namespace: String,
    pub phase: String,
    pub created: Option<Timestamp>,
    pub entries: Vec<Entry>,
    pub gates: Vec<Gate>,
    pub restarts: Vec<Restart>,
    pub unready_sidecars: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub termination: Option<Termination>,
}

fn ts(v: Option<&Value>) -> Option<Timestamp> {
    v?.as_str()?.parse().ok()
}

/// The status entry of a container.
fn status<'a>(pod: &'a Value, c: &Container) -> Option<&'a Value> {
    let list = match c.list {
        List::Init => "initContainerStatuses",
        List::Regular => "containerStatuses",
    };
    pod.pointer(&format!("/status/{list}"))?
        .as_array()?
        .iter()
        .find(|s| s["name"] == c.name.as_str())
}

/// When the current (or, failing that, the last) instance started.
fn started_at(s: &Value) -> Option<Timestamp> {
    ts(s.pointer("/state/running/startedAt"))
        .or_else(|| ts(s.pointer("/state/terminated/startedAt")))
        .or_else(|| ts(s.pointer("/lastState/terminated/startedAt")))
}

/// The first start of a container: the last instance's start when it has
/// restarted since (status keeps only two instances).
fn first_started_at(s: &Value) -> Option<Timestamp> {
    ts(s.pointer("/lastState/terminated/startedAt")).or_else(|| started_at(s))
}

fn condition(pod: &Value, kind: &str) -> Option<(String, Option<Timestamp>)> {
    pod.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
        .map(|c| {
            (
                c["status"].as_str().unwrap_or("").to_string(),
                ts(c.get("lastTransitionTime")),
            )
        })
}

/// Events about `container` between two instants (inclusive).
fn events_between<'a>(
    events: &'a [Event],
    container: &str,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
) -> impl Iterator<Item = &'a Event> {
    events.iter().filter(move |e| {
        e.regarding.container() == Some(container)
            && e.last_observed.is_none_or(|t| from.is_none_or(|f| t >= f))
            && e.first_observed.is_none_or(|t| to.is_none_or(|u| t <= u))
    })
}

/// Build the timeline of `pod` (the live object) from its `events`.
pub fn explain(pod: &Value, events: &[Event]) -> Option<Timeline> {
    let t = PodTemplate::from_value(pod)?;
    let created = ts(pod.pointer("/metadata/creationTimestamp"));
    let offset = |at: Option<Timestamp>| Some(at?.as_second() - created?.as_second());
    let mut entries = Vec::new();
    let mut push = |time: Option<Timestamp>, container: Option<&str>, what: String| {
        entries.push(Entry {
            time,
            offset_seconds: offset(time),
            container: container.map(str::to_string),
            what,
        });
    };
    push(created, None, "Pod created".into());
    if let Some((_, at)) = condition(pod, "PodScheduled") {
        let node = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or("?");
        push(at, None, format!("scheduled to {node}"));
    }
    if let Some((_, at)) = condition(pod, "PodReadyToStartContainers") {
        push(at, None, "sandbox ready (network set up)".into());
    }
    // Pulls and kubelet events per container, in the order they happened.
    for e in events {
        let container = e.regarding.container();
        let what = match e.reason.as_str() {
            "Pulled"
            | "Pulling"
            | "Created"
            | "Started"
            | "Killing"
            | "BackOff"
            | "FailedPostStartHook"
            | "FailedPreStopHook"
            | "Unhealthy"
            | "ProbeWarning" => {
                let times = if e.count > 1 {
                    format!(" (×{})", e.count)
                } else {
                    String::new()
                };
                format!("{}: {}{times}", e.reason, e.note)
            }
            _ => continue,
        };
        push(e.first_observed, container, what);
    }
    let containers: Vec<&Container> = t.containers().collect();
    let mut gates = Vec::new();
    let initialized =
        condition(pod, "Initialized").and_then(|(s, at)| (s == "True").then_some(at).flatten());
    let first_app_start = t
        .regular
        .iter()
        .filter_map(|c| status(pod, c).and_then(first_started_at))
        .min();
    for (i, c) in containers.iter().enumerate() {
        let s = status(pod, c);
        let start = s.and_then(first_started_at);
        if let Some(at) = start {
            push(Some(at), Some(&c.name), "started".into());
        }
        if !c.is_sidecar()
            && c.list == List::Init
            && let Some(done) = s.and_then(|s| ts(s.pointer("/state/terminated/finishedAt")))
        {
            let code = s
                .and_then(|s| s.pointer("/state/terminated/exitCode"))
                .and_then(Value::as_i64)
                .unwrap_or(0);
            push(Some(done), Some(&c.name), format!("exited {code}"));
        }
        if !c.is_sidecar() {
            continue;
        }
        let next = containers.get(i + 1).filter(|n| n.list == List::Init);
        let released = match next {
            Some(n) => status(pod, n).and_then(first_started_at),
            None => initialized.or(first_app_start),
        };
        let delay = released
            .zip(start)
            .map(|(r, s)| r.as_second() - s.as_second());
        let mut causes = Vec::new();
        let failures: u64 = events_between(events, &c.name, start, released)
            .filter(|e| e.reason == "Unhealthy" && e.note.starts_with("Startup probe"))
            .map(|e| e.count)
            .sum();
        if failures > 0 {
            causes.push(format!("{failures} failed startup probe(s)"));
        }
        if events_between(events, &c.name, start, released)
            .any(|e| e.reason == "FailedPostStartHook")
        {
            causes.push("the postStart hook failed".into());
        }
        if let Some(n) = next.copied().or_else(|| t.regular.first())
            && let Some(pull) = events_between(events, &n.name, start, released)
                .find(|e| e.reason == "Pulling" || e.reason == "Pulled")
        {
            causes.push(format!("pulling the image of {} ({})", n.name, pull.note));
        }
        if c.startup.is_some() && failures == 0 && delay.is_some_and(|d| d > 0) {
            causes.push("the startupProbe's polling".into());
        }
        if released.is_none() {
            causes.push("never released: the next container has not started".into());
        }
        gates.push(Gate {
            sidecar: c.name.clone(),
            started_at: start,
            released_at: released,
            delay_seconds: delay,
            causes,
        });
    }
    if let Some((_, at)) = condition(pod, "Initialized").filter(|(s, _)| s == "True") {
        push(
            at,
            None,
            "initialized (every init container done, every sidecar started)".into(),
        );
    }
    for kind in ["ContainersReady", "Ready"] {
        if let Some((s, at)) = condition(pod, kind) {
            push(at, None, format!("{kind} is {s}"));
        }
    }
    let restarts = containers
        .iter()
        .filter_map(|c| {
            let s = status(pod, c)?;
            let count = s.get("restartCount").and_then(Value::as_i64).unwrap_or(0);
            (count > 0).then(|| Restart {
                container: c.name.clone(),
                count,
                last_exit_code: s
                    .pointer("/lastState/terminated/exitCode")
                    .and_then(Value::as_i64),
                last_reason: s
                    .pointer("/lastState/terminated/reason")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            })
        })
        .collect();
    let unready_sidecars = t
        .sidecars()
        .filter(|c| {
            status(pod, c).is_some_and(|s| s.get("ready").and_then(Value::as_bool) == Some(false))
        })
        .map(|c| c.name.clone())
        .collect();
    let termination = termination(pod, &t);
    if let Some(term) = &termination {
        for name in &term.finish_order {
            let c = containers
                .iter()
                .find(|c| &c.name == name)
                .expect("finished containers exist");
            let s = status(pod, c);
            let at = s.and_then(|s| ts(s.pointer("/state/terminated/finishedAt")));
            let code = s
                .and_then(|s| s.pointer("/state/terminated/exitCode"))
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if c.is_sidecar() || c.list == List::Regular {
                push(at, Some(name), format!("stopped (exit {code})"));
            }
        }
    }
    entries.sort_by_key(|e| e.time);
    Some(Timeline {
        api_version: crate::report::API_VERSION,
        kind: "SidecarTimeline",
        pod: t.object.name.clone(),
        namespace: t.object.namespace.clone().unwrap_or_default(),
        phase: pod
            .pointer("/status/phase")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        created,
        entries,
        gates,
        restarts,
        unready_sidecars,
        termination,
    })
}

fn termination(pod: &Value, t: &PodTemplate) -> Option<Termination> {
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("");
    let deleting = pod.pointer("/metadata/deletionTimestamp").is_some();
    if !deleting && !matches!(phase, "Succeeded" | "Failed") {
        return None;
    }
    let deadline = ts(pod.pointer("/metadata/deletionTimestamp"));
    let mut finished: Vec<(Timestamp, String, i64, bool)> = t
        .containers()
        .filter(|c| c.is_sidecar() || c.list == List::Regular)
        .filter_map(|c| {
            let s = status(pod, c)?;
            let at = ts(s.pointer("/state/terminated/finishedAt"))?;
            let code = s
                .pointer("/state/terminated/exitCode")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            Some((at, c.name.clone(), code, c.is_sidecar()))
        })
        .collect();
    finished.sort();
    let last_app = finished.iter().filter(|f| !f.3).map(|f| f.0).max();
    let sidecars_in_order: Vec<&String> = finished.iter().filter(|f| f.3).map(|f| &f.1).collect();
    let mut declared: Vec<&String> = t
        .sidecars()
        .map(|c| &c.name)
        .filter(|n| sidecars_in_order.contains(n))
        .collect();
    declared.reverse();
    let ordered = sidecars_in_order == declared
        && finished
            .iter()
            .filter(|f| f.3)
            .all(|f| last_app.is_none_or(|a| f.0 >= a));
    let killed_at_deadline = finished
        .iter()
        .filter(|f| {
            f.2 == 137 && deadline.is_some_and(|d| (f.0.as_second() - d.as_second()).abs() <= 2)
        })
        .map(|f| f.1.clone())
        .collect();
    Some(Termination {
        finish_order: finished.into_iter().map(|f| f.1).collect(),
        ordered,
        killed_at_deadline,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_read_as_sentences_even_when_the_time_is_unknown() {
        let gate = |delay| Gate {
            sidecar: "istio-proxy".into(),
            started_at: None,
            released_at: None,
            delay_seconds: delay,
            causes: vec!["4 failed startup probe(s)".into()],
        };
        assert_eq!(
            gate(Some(12)).describe(),
            "istio-proxy held the next container 12s: 4 failed startup probe(s)"
        );
        let unknown = gate(None).describe();
        assert!(!unknown.contains("unknown:"), "{unknown}");
        assert!(
            unknown.contains("a time the Pod's status does not show"),
            "{unknown}"
        );
    }
}
