//! One Event type for both wire shapes — `core/v1` (`involvedObject`,
//! `message`, `count`, `firstTimestamp`/`lastTimestamp`, `source`) and
//! `events.k8s.io/v1` (`regarding`, `note`, `series`, `eventTime`,
//! `deprecated*`) — and for `kubectl cluster-info dump`'s Go-field-name
//! variant (`InvolvedObject`, `FirstTimestamp`, metadata inlined). Nothing is
//! lost: the raw object is kept beside the normalised fields.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Which API an Event came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventApi {
    #[serde(rename = "v1")]
    CoreV1,
    #[serde(rename = "events.k8s.io/v1")]
    EventsV1,
}

/// The object an Event is about (or a related one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reference {
    pub kind: String,
    /// Empty for cluster-scoped objects (Nodes, PersistentVolumes …).
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub api_version: String,
    /// `spec.containers{app}`: which part of the object.
    pub field_path: String,
}

impl Reference {
    /// The container a `fieldPath` such as `spec.initContainers{proxy}` names.
    pub fn container(&self) -> Option<&str> {
        let start = self.field_path.find('{')?;
        let end = self.field_path.rfind('}')?;
        (end > start).then(|| &self.field_path[start + 1..end])
    }
}

/// A normalised Event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub api: EventApi,
    pub uid: String,
    /// The Event object's own name and namespace (`default` for events
    /// about cluster-scoped objects).
    pub name: String,
    pub namespace: String,
    pub resource_version: String,
    pub regarding: Reference,
    pub related: Option<Reference>,
    pub reason: String,
    /// `note` or `message`.
    pub note: String,
    /// `Normal` or `Warning` (other values are kept as written).
    pub event_type: String,
    pub action: String,
    /// `reportingController` / `reportingComponent`, else `source.component`.
    pub reporting_controller: String,
    /// `reportingInstance`, else `source.host`.
    pub reporting_instance: String,
    /// The node of `source.host` (kubelet events).
    pub source_host: String,
    pub first_observed: Option<Timestamp>,
    pub last_observed: Option<Timestamp>,
    /// Occurrences: `series.count`, else `count` / `deprecatedCount`, else 1.
    pub count: u64,
    /// The cluster it was read from, when known.
    pub cluster: Option<String>,
    pub raw: Value,
    /// What was wrong with the object and how it was read anyway (a count
    /// that is no count, a time that is no time), for the reader to show.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Counts above this are taken as this: a billion occurrences is centuries
/// of an event every ten seconds, and larger values overflow the rollup's
/// arithmetic (occurrences are kept in millionths).
pub const MAX_COUNT: u64 = 1_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("not an Event: expected a JSON object")]
    NotAnObject,
    #[error("Event {name}: {message}")]
    Invalid { name: String, message: String },
}

/// A field by JSON name, or by its Go name (the same, capitalised) as
/// `cluster-info dump` writes it.
fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name)
        .or_else(|| {
            // On the stack: this runs for every absent field of every Event.
            let mut go = [0u8; 32];
            let go = go.get_mut(..name.len())?;
            go.copy_from_slice(name.as_bytes());
            go[0].make_ascii_uppercase();
            obj.get(std::str::from_utf8(go).ok()?)
        })
        .filter(|v| !v.is_null())
}

fn text(obj: &Map<String, Value>, names: &[&str]) -> String {
    names
        .iter()
        .find_map(|n| {
            field(obj, n)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        })
        .unwrap_or("")
        .to_string()
}

/// A count: a positive whole number, at most [`MAX_COUNT`]. Anything else
/// present is read as 1 (or the maximum) and said in `warnings`; 0 and null
/// mean "unset", as the API writes them.
fn number(obj: &Map<String, Value>, name: &str, warnings: &mut Vec<String>) -> Option<u64> {
    let v = field(obj, name)?;
    match v {
        Value::Null => None,
        Value::Number(n) if n.as_u64() == Some(0) => None,
        Value::Number(n) => match n.as_u64() {
            Some(n) if n <= MAX_COUNT => Some(n),
            Some(n) => {
                warnings.push(format!(
                    "{name} {n} is beyond the limit of {MAX_COUNT}; counted as {MAX_COUNT}"
                ));
                Some(MAX_COUNT)
            }
            None => {
                warnings.push(format!(
                    "{name} {n} is not a positive whole number; counted as 1"
                ));
                Some(1)
            }
        },
        other => {
            warnings.push(format!(
                "{name} {} is not a number; counted as 1",
                crate::output::escape(&other.to_string())
            ));
            Some(1)
        }
    }
}

/// An RFC 3339 time; Go's zero time and empty strings are "unset". A value
/// that is no time is skipped and said in `warnings`.
fn time(obj: &Map<String, Value>, names: &[&str], warnings: &mut Vec<String>) -> Option<Timestamp> {
    names.iter().find_map(|n| {
        let v = field(obj, n)?;
        let s = match v {
            Value::Null => return None,
            Value::String(s) if s.is_empty() => return None,
            Value::String(s) => s,
            other => {
                warnings.push(format!("{n} {other} is not a time; ignored"));
                return None;
            }
        };
        match s.parse::<Timestamp>() {
            Ok(t) => Some(t).filter(|t| t.as_second() > -62_135_596_800),
            Err(_) => {
                warnings.push(format!(
                    "{n} {:?} is not an RFC 3339 time; ignored",
                    crate::output::escape(s)
                ));
                None
            }
        }
    })
}

fn reference(obj: &Map<String, Value>, name: &str) -> Option<Reference> {
    let r = field(obj, name)?.as_object()?;
    Some(Reference {
        kind: text(r, &["kind"]),
        namespace: text(r, &["namespace"]),
        name: text(r, &["name"]),
        uid: text(r, &["uid"]).to_string(),
        api_version: text(r, &["apiVersion"]),
        field_path: text(r, &["fieldPath"]),
    })
}

impl Event {
    /// Normalise an Event of either API (or the Go-field dump variant).
    pub fn from_value(v: &Value) -> Result<Event, EventError> {
        Self::from_owned(v.clone())
    }

    /// [`Event::from_value`] keeping `v` itself as the raw object (no copy).
    pub fn from_owned(v: Value) -> Result<Event, EventError> {
        let mut e = Self::read(&v)?;
        e.raw = v;
        Ok(e)
    }

    fn read(v: &Value) -> Result<Event, EventError> {
        let obj = v.as_object().ok_or(EventError::NotAnObject)?;
        // The dump variant inlines metadata.
        let meta = field(obj, "metadata")
            .and_then(Value::as_object)
            .unwrap_or(obj);
        let name = text(meta, &["name"]);
        let api_version = text(obj, &["apiVersion"]);
        let api = if api_version.starts_with("events.k8s.io/") || field(obj, "regarding").is_some()
        {
            EventApi::EventsV1
        } else {
            EventApi::CoreV1
        };
        let invalid = |message: &str| EventError::Invalid {
            name: if name.is_empty() {
                "(unnamed)".into()
            } else {
                name.clone()
            },
            message: message.into(),
        };
        let regarding = reference(obj, "regarding")
            .or_else(|| reference(obj, "involvedObject"))
            .ok_or_else(|| invalid("has neither regarding nor involvedObject"))?;
        let source = field(obj, "deprecatedSource")
            .or_else(|| field(obj, "source"))
            .and_then(Value::as_object);
        let series = field(obj, "series").and_then(Value::as_object);
        let mut warnings = Vec::new();
        let w = &mut warnings;
        let first_observed = time(
            obj,
            &["eventTime", "firstTimestamp", "deprecatedFirstTimestamp"],
            w,
        )
        .or_else(|| time(meta, &["creationTimestamp"], w));
        let mut last_observed = series
            .and_then(|s| time(s, &["lastObservedTime"], w))
            .or_else(|| time(obj, &["lastTimestamp", "deprecatedLastTimestamp"], w))
            .or(first_observed);
        if let (Some(first), Some(last)) = (first_observed, last_observed)
            && last < first
        {
            w.push(format!(
                "last seen {last} is before first seen {first}; counted at the first time"
            ));
            last_observed = Some(first);
        }
        let count = series
            .and_then(|s| number(s, "count", w))
            .or_else(|| number(obj, "count", w))
            .or_else(|| number(obj, "deprecatedCount", w))
            .unwrap_or(1);
        let source_component = source.map(|s| text(s, &["component"])).unwrap_or_default();
        let source_host = source.map(|s| text(s, &["host"])).unwrap_or_default();
        let mut reporting_controller = text(obj, &["reportingController", "reportingComponent"]);
        if reporting_controller.is_empty() {
            reporting_controller = source_component;
        }
        let mut reporting_instance = text(obj, &["reportingInstance"]);
        if reporting_instance.is_empty() {
            reporting_instance = source_host.clone();
        }
        Ok(Event {
            api,
            uid: text(meta, &["uid"]),
            namespace: text(meta, &["namespace"]),
            resource_version: text(meta, &["resourceVersion"]),
            related: reference(obj, "related"),
            reason: text(obj, &["reason"]),
            note: text(obj, &["note", "message"]),
            event_type: text(obj, &["type"]),
            action: text(obj, &["action"]),
            reporting_controller,
            reporting_instance,
            source_host,
            first_observed,
            last_observed,
            count,
            cluster: None,
            raw: Value::Null,
            regarding,
            name,
            warnings,
        })
    }

    /// Whether the object it is about is cluster-scoped (the Event itself
    /// then lives in `default`).
    pub fn is_cluster_scoped(&self) -> bool {
        self.regarding.namespace.is_empty()
    }

    pub fn is_warning(&self) -> bool {
        self.event_type == "Warning"
    }
}

/// Every Event of a list document (`EventList` of either API, `kind: List`,
/// the dump's `Items`), or the one Event a document is.
pub fn from_document(v: &Value) -> Vec<Result<Event, EventError>> {
    let Some(obj) = v.as_object() else {
        return vec![Err(EventError::NotAnObject)];
    };
    match field(obj, "items").and_then(Value::as_array) {
        Some(items) => items.iter().map(Event::from_value).collect(),
        None => vec![Event::from_value(v)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn core_v1_from_the_legacy_recorder() {
        let e = Event::from_value(&json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "web-1.17a", "namespace": "shop", "uid": "u1", "resourceVersion": "42"},
            "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "web-1", "uid": "p1", "apiVersion": "v1", "fieldPath": "spec.initContainers{proxy}"},
            "reason": "Unhealthy", "message": "Startup probe failed: connection refused", "type": "Warning",
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": "2026-11-27T10:00:00Z", "lastTimestamp": "2026-11-27T10:00:09Z", "count": 10,
            "eventTime": null, "reportingComponent": "", "reportingInstance": ""
        }))
        .unwrap();
        assert_eq!(e.api, EventApi::CoreV1);
        assert_eq!(e.regarding.container(), Some("proxy"));
        assert_eq!(
            (
                e.reporting_controller.as_str(),
                e.reporting_instance.as_str()
            ),
            ("kubelet", "node-1")
        );
        assert_eq!(e.count, 10);
        assert_eq!(
            e.first_observed.unwrap().to_string(),
            "2026-11-27T10:00:00Z"
        );
        assert_eq!(e.last_observed.unwrap().to_string(), "2026-11-27T10:00:09Z");
        assert!(e.is_warning() && !e.is_cluster_scoped());
    }

    #[test]
    fn events_v1_with_a_series_and_a_node() {
        let e = Event::from_value(&json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "node-1.18b", "namespace": "default", "uid": "u2"},
            "regarding": {"kind": "Node", "name": "node-1", "uid": "node-1"},
            "reason": "NodeHasInsufficientMemory", "note": "Node node-1 status is now: NodeHasInsufficientMemory",
            "type": "Normal", "action": "NodeStatus",
            "reportingController": "kubelet", "reportingInstance": "node-1",
            "eventTime": "2026-11-27T10:00:00.123456Z",
            "series": {"count": 4, "lastObservedTime": "2026-11-27T10:30:00.000001Z"},
            "deprecatedCount": 0
        }))
        .unwrap();
        assert_eq!(e.api, EventApi::EventsV1);
        assert!(e.is_cluster_scoped());
        assert_eq!(e.namespace, "default");
        assert_eq!(e.count, 4);
        assert_eq!(e.action, "NodeStatus");
        assert_eq!(
            e.last_observed.unwrap().to_string(),
            "2026-11-27T10:30:00.000001Z"
        );
        let round: Event = serde_json::from_value(serde_json::to_value(&e).unwrap()).unwrap();
        assert_eq!(round, e, "the normalised form round-trips for storage");
    }

    #[test]
    fn real_dumps_in_both_field_spellings() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/events");
        for (file, expected) in [
            ("aks-2020-default.json", 3),
            ("minikube-2019-default.json", 430),
        ] {
            let v: Value =
                serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
            let events: Vec<Event> = from_document(&v).into_iter().map(|e| e.unwrap()).collect();
            assert_eq!(events.len(), expected, "{file}");
            for e in &events {
                assert!(
                    !e.uid.is_empty() && !e.reason.is_empty() && !e.regarding.kind.is_empty(),
                    "{file}: {e:?}"
                );
                assert!(
                    e.first_observed.is_some() && e.last_observed >= e.first_observed,
                    "{file}: {}",
                    e.name
                );
            }
        }
    }

    #[test]
    fn broken_events_are_errors() {
        assert_eq!(Event::from_value(&json!([])), Err(EventError::NotAnObject));
        let e = Event::from_value(&json!({"metadata": {"name": "x"}, "reason": "R"})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Event x: has neither regarding nor involvedObject"
        );
    }
}
