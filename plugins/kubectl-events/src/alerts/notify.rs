//! What each sink is sent for a notice, and Alertmanager's silences
//! applied to the sinks that do not go through it.

use std::collections::BTreeMap;

use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

use super::evaluate::{AlertState, Notice, Status};

fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// One alert as Alertmanager's v2 API takes it. A firing alert ends at
/// `ends_ms` unless posted again before (so one whose collector died
/// resolves by itself); a resolved one ends when it resolved.
pub fn alertmanager_alert(a: &AlertState, ends_ms: i64) -> Value {
    let ends = match (a.status, a.resolved_ms) {
        (Status::Resolved, Some(r)) => r,
        _ => ends_ms,
    };
    json!({
        "labels": a.labels,
        "annotations": a.annotations,
        "startsAt": rfc3339(a.first_ms),
        "endsAt": rfc3339(ends),
    })
}

/// The body of a webhook (and of stdout's line): versioned JSON.
pub fn webhook_body(n: &Notice) -> Value {
    json!({
        "version": "1",
        "status": n.status,
        "alert": {
            "rule": n.alert.rule,
            "group": n.alert.group,
            "labels": n.alert.labels,
            "annotations": n.alert.annotations,
            "startsAt": rfc3339(n.alert.first_ms),
            "lastAt": rfc3339(n.alert.last_ms),
            "endsAt": n.alert.resolved_ms.map(rfc3339),
            "occurrences": n.alert.count,
            "incidents": n.alert.incidents,
            "round": n.alert.round,
        },
    })
}

/// `sha256=<hex>`: HMAC-SHA256 of the body under the secret, as the
/// receiver recomputes it (the header `X-Kplug-Signature`).
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac =
        hmac::Hmac::<sha2_hmac::Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// A Slack-compatible incoming webhook's message.
pub fn slack_body(n: &Notice) -> Value {
    let a = &n.alert;
    let head = match n.status {
        Status::Firing => "FIRING",
        Status::Resolved => "RESOLVED",
        Status::Pending => "PENDING",
    };
    let summary = a.annotations.get("summary").map_or("", String::as_str);
    let mut text = format!("[{head}] {}: {summary}", a.rule);
    if n.status == Status::Firing {
        if let Some(d) = a.annotations.get("description").filter(|d| !d.is_empty()) {
            text += &format!("\n> {d}");
        }
        text += &format!(
            "\n{} occurrences since {} (cluster {})",
            a.count,
            rfc3339(a.first_ms),
            a.labels.get("cluster").map_or("", String::as_str)
        );
    }
    json!({ "text": text })
}

/// One matcher of an Alertmanager silence.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Matcher {
    pub name: String,
    pub value: String,
    #[serde(default)]
    pub is_regex: bool,
    #[serde(default = "yes")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct SilenceStatus {
    pub state: String,
}

/// A silence as `GET /api/v2/silences` lists it.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Silence {
    pub id: String,
    pub matchers: Vec<Matcher>,
    pub status: SilenceStatus,
}

impl Matcher {
    /// As Alertmanager matches: a missing label is the empty string, and
    /// a regex must match the whole value.
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.name).map_or("", String::as_str);
        let hit = if self.is_regex {
            regex::Regex::new(&format!("^(?:{})$", self.value)).is_ok_and(|r| r.is_match(value))
        } else {
            value == self.value
        };
        hit == self.is_equal
    }
}

/// The active silence that mutes an alert with these labels, if any.
pub fn silenced_by<'s>(
    silences: &'s [Silence],
    labels: &BTreeMap<String, String>,
) -> Option<&'s str> {
    silences
        .iter()
        .filter(|s| s.status.state == "active")
        .find(|s| !s.matchers.is_empty() && s.matchers.iter().all(|m| m.matches(labels)))
        .map(|s| s.id.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_is_rfc_4231s() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    fn alert(status: Status) -> AlertState {
        AlertState {
            rule: "Crash".into(),
            group: "incident=abc".into(),
            status,
            labels: BTreeMap::from([
                ("alertname".into(), "Crash".into()),
                ("namespace".into(), "shop".into()),
                ("cluster".into(), "c1".into()),
            ]),
            annotations: BTreeMap::from([
                ("summary".into(), "Unhealthy on pod/web-1 in shop".into()),
                ("description".into(), "Liveness probe failed".into()),
            ]),
            first_ms: 1_700_000_000_000,
            last_ms: 1_700_000_060_000,
            count: 5,
            incidents: vec!["abc".into()],
            fired_ms: Some(1_700_000_060_000),
            resolved_ms: (status == Status::Resolved).then_some(1_700_000_360_000),
            round: 1,
        }
    }

    #[test]
    fn alertmanager_gets_labels_and_an_end() {
        let firing = alertmanager_alert(&alert(Status::Firing), 1_700_000_900_000);
        assert_eq!(firing["labels"]["alertname"], "Crash");
        assert_eq!(firing["startsAt"], "2023-11-14T22:13:20Z");
        assert_eq!(firing["endsAt"], "2023-11-14T22:28:20Z");
        let resolved = alertmanager_alert(&alert(Status::Resolved), 1_700_000_900_000);
        assert_eq!(resolved["endsAt"], "2023-11-14T22:19:20Z");
    }

    #[test]
    fn webhook_and_slack_bodies_say_what_happened() {
        let n = Notice {
            status: Status::Firing,
            alert: alert(Status::Firing),
            at_ms: 0,
        };
        let w = webhook_body(&n);
        assert_eq!(
            (w["status"].as_str(), w["alert"]["occurrences"].as_i64()),
            (Some("firing"), Some(5))
        );
        let s = slack_body(&n)["text"].as_str().unwrap().to_string();
        assert!(
            s.starts_with(
                "[FIRING] Crash: Unhealthy on pod/web-1 in shop\n> Liveness probe failed"
            ),
            "{s}"
        );
    }

    #[test]
    fn silences_match_as_alertmanager_does() {
        let list: Vec<Silence> = serde_json::from_value(json!([
            {"id": "expired", "status": {"state": "expired"}, "matchers": [{"name": "alertname", "value": "Crash", "isRegex": false}]},
            {"id": "other", "status": {"state": "active"}, "matchers": [{"name": "namespace", "value": "prod", "isRegex": false}]},
            {"id": "re", "status": {"state": "active"}, "matchers": [{"name": "alertname", "value": "Cr.*", "isRegex": true}, {"name": "namespace", "value": "kube-system", "isRegex": false, "isEqual": false}]},
        ]))
        .unwrap();
        let labels = alert(Status::Firing).labels;
        assert_eq!(silenced_by(&list, &labels), Some("re"));
        // A regex is anchored.
        let mut short = labels.clone();
        short.insert("alertname".into(), "XCrash".into());
        assert_eq!(silenced_by(&list, &short), None);
        let mut system = labels;
        system.insert("namespace".into(), "kube-system".into());
        assert_eq!(silenced_by(&list, &system), None);
    }
}
