//! The extension's objects as a person reads them, from their JSON in
//! either generation: an InferencePool's selector, ports, endpoint picker
//! and parents (v1 `spec.endpointPickerRef` and `status.parents`, or the
//! v1alpha2 `spec.extensionRef` and `status.parent`), an objective's pool
//! and priority, a model's targets, a rewrite's rules, an import's
//! exporting clusters.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

fn text(v: &Value) -> Option<&str> {
    v.as_str().filter(|s| !s.is_empty())
}

/// `name:weight`, or the name alone without a weight.
fn weighted(name: &Value, weight: &Value) -> String {
    let name = text(name).unwrap_or("?");
    match weight.as_i64() {
        Some(w) => format!("{name}:{w}"),
        None => name.to_string(),
    }
}

/// The endpoint picker a pool sends requests through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PickerRef {
    pub name: String,
    pub port: Option<i64>,
    /// `FailOpen` or `FailClose` (the default).
    pub failure_mode: String,
}

/// A Gateway (or other parent) a pool is attached to, and what it says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Parent {
    pub name: String,
    /// `Accepted`'s status, with its reason when not True.
    pub accepted: String,
    pub resolved_refs: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pool {
    pub selector: BTreeMap<String, String>,
    pub target_ports: Vec<i64>,
    pub picker: Option<PickerRef>,
    pub parents: Vec<Parent>,
}

/// A condition of `conditions` as `True`, or `False (Reason)`; `-` when absent.
fn condition(conditions: &Value, kind: &str) -> String {
    conditions
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == kind)
        .map_or("-".to_string(), |c| {
            let status = text(&c["status"]).unwrap_or("Unknown");
            match (status, text(&c["reason"])) {
                ("True", _) | (_, None) => status.to_string(),
                (s, Some(reason)) => format!("{s} ({reason})"),
            }
        })
}

impl Pool {
    /// Read a pool of either generation.
    pub fn read(pool: &Value) -> Pool {
        let spec = &pool["spec"];
        // v1: selector.matchLabels; v1alpha2: the selector is the map.
        let labels = if spec["selector"]["matchLabels"].is_object() {
            &spec["selector"]["matchLabels"]
        } else {
            &spec["selector"]
        };
        let selector = labels
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
            .collect();
        let target_ports = match spec["targetPorts"].as_array() {
            Some(ports) => ports.iter().filter_map(|p| p["number"].as_i64()).collect(),
            None => spec["targetPortNumber"].as_i64().into_iter().collect(),
        };
        let picker = if spec["endpointPickerRef"].is_object() {
            let r = &spec["endpointPickerRef"];
            text(&r["name"]).map(|name| PickerRef {
                name: name.to_string(),
                port: r["port"]["number"].as_i64(),
                failure_mode: text(&r["failureMode"]).unwrap_or("FailClose").to_string(),
            })
        } else {
            let r = &spec["extensionRef"];
            text(&r["name"]).map(|name| PickerRef {
                name: name.to_string(),
                // v1alpha2 implementations assume 9002 when it is unset.
                port: r["portNumber"].as_i64().or(Some(9002)),
                failure_mode: text(&r["failureMode"]).unwrap_or("FailClose").to_string(),
            })
        };
        // v1: status.parents; v1alpha2: status.parent, with a placeholder
        // entry (kind Status, name default) until a gateway takes it.
        let parents = pool["status"]["parents"]
            .as_array()
            .or_else(|| pool["status"]["parent"].as_array())
            .into_iter()
            .flatten()
            .filter(|p| p["parentRef"]["kind"] != "Status")
            .map(|p| {
                let r = &p["parentRef"];
                let name = match text(&r["namespace"]) {
                    Some(ns) => format!("{ns}/{}", text(&r["name"]).unwrap_or("?")),
                    None => text(&r["name"]).unwrap_or("?").to_string(),
                };
                Parent {
                    name,
                    accepted: condition(&p["conditions"], "Accepted"),
                    resolved_refs: condition(&p["conditions"], "ResolvedRefs"),
                }
            })
            .collect();
        Pool {
            selector,
            target_ports,
            picker,
            parents,
        }
    }

    /// The (rank, port) endpoints of one of the pool's Pods: every target
    /// port, or those its `inference.networking.k8s.io/active-ports`
    /// annotation (a comma list) names.
    pub fn ports_of(&self, active_ports: Option<&str>) -> Vec<(usize, i64)> {
        let active: Option<Vec<i64>> =
            active_ports.map(|a| a.split(',').filter_map(|s| s.trim().parse().ok()).collect());
        self.target_ports
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, port)| active.as_ref().is_none_or(|a| a.contains(port)))
            .collect()
    }

    pub fn selector_text(&self) -> String {
        let s: Vec<String> = self
            .selector
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        s.join(",")
    }

    pub fn picker_text(&self) -> String {
        match &self.picker {
            None => "-".to_string(),
            Some(p) => match p.port {
                Some(port) => format!("{}:{port} ({})", p.name, p.failure_mode),
                None => format!("{} ({})", p.name, p.failure_mode),
            },
        }
    }

    pub fn parents_text(&self) -> String {
        if self.parents.is_empty() {
            return "<none>".to_string();
        }
        let p: Vec<String> = self
            .parents
            .iter()
            .map(|p| {
                format!(
                    "{}: Accepted={} ResolvedRefs={}",
                    p.name, p.accepted, p.resolved_refs
                )
            })
            .collect();
        p.join("; ")
    }
}

/// An objective's pool and priority (unset reads as 0, as the EPP reads it).
pub fn objective(o: &Value) -> (String, String) {
    let pool = text(&o["spec"]["poolRef"]["name"])
        .unwrap_or("-")
        .to_string();
    let priority = match o["spec"]["priority"].as_i64() {
        Some(p) if p < 0 => format!("{p} (sheddable)"),
        Some(p) => p.to_string(),
        None => "0 (unset)".to_string(),
    };
    (pool, priority)
}

/// A v1alpha2 InferenceModel: model name, pool, criticality, targets.
pub fn model(m: &Value) -> [String; 4] {
    let spec = &m["spec"];
    let targets: Vec<String> = spec["targetModels"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| weighted(&t["name"], &t["weight"]))
        .collect();
    [
        text(&spec["modelName"]).unwrap_or("-").to_string(),
        text(&spec["poolRef"]["name"]).unwrap_or("-").to_string(),
        // Unset counts as Standard.
        text(&spec["criticality"])
            .unwrap_or("Standard (unset)")
            .to_string(),
        if targets.is_empty() {
            "-".to_string()
        } else {
            targets.join(",")
        },
    ]
}

/// A rewrite's pool and its rules, `matched → target:weight,…` each.
pub fn rewrite(r: &Value) -> (String, String) {
    let rules: Vec<String> = r["spec"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|rule| {
            let matches: Vec<&str> = rule["matches"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| text(&m["model"]["value"]))
                .collect();
            let targets: Vec<String> = rule["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| weighted(&t["modelRewrite"], &t["weight"]))
                .collect();
            let from = if matches.is_empty() {
                "*".to_string()
            } else {
                matches.join("|")
            };
            format!("{from} → {}", targets.join(","))
        })
        .collect();
    (
        text(&r["spec"]["poolRef"]["name"])
            .unwrap_or("-")
            .to_string(),
        if rules.is_empty() {
            "-".to_string()
        } else {
            rules.join("; ")
        },
    )
}

/// An import's controllers and the clusters exporting the pool.
pub fn import(i: &Value) -> (String, String) {
    let controllers = i["status"]["controllers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = controllers
        .iter()
        .filter_map(|c| text(&c["name"]))
        .collect();
    let mut exporting: Vec<String> = controllers
        .iter()
        .flat_map(|c| {
            c["exportingClusters"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|c| c["name"].as_str().map(String::from))
        .collect();
    exporting.sort();
    exporting.dedup();
    (
        if names.is_empty() {
            "-".to_string()
        } else {
            names.join(",")
        },
        if exporting.is_empty() {
            "-".to_string()
        } else {
            exporting.join(",")
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_v1_pool_reads_its_picker_ports_and_parents() {
        let p = Pool::read(&json!({"spec": {
            "selector": {"matchLabels": {"app": "vllm", "tier": "gpu"}},
            "targetPorts": [{"number": 8000}, {"number": 8001}],
            "endpointPickerRef": {"name": "epp", "port": {"number": 9002}, "failureMode": "FailOpen"}},
          "status": {"parents": [{"parentRef": {"name": "gw", "namespace": "infra"},
            "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted"},
                           {"type": "ResolvedRefs", "status": "False", "reason": "InvalidExtensionRef"}]}]}}));
        assert_eq!(p.selector_text(), "app=vllm,tier=gpu");
        assert_eq!(p.target_ports, [8000, 8001]);
        assert_eq!(p.ports_of(None), [(0, 8000), (1, 8001)]);
        assert_eq!(p.ports_of(Some("8001, 9999")), [(1, 8001)]);
        assert_eq!(p.picker_text(), "epp:9002 (FailOpen)");
        assert_eq!(
            p.parents_text(),
            "infra/gw: Accepted=True ResolvedRefs=False (InvalidExtensionRef)"
        );
    }

    #[test]
    fn a_v1alpha2_pool_reads_its_own_shape() {
        let p = Pool::read(&json!({"spec": {
            "selector": {"app": "vllm"}, "targetPortNumber": 8000, "extensionRef": {"name": "epp"}},
          "status": {"parent": [{"parentRef": {"kind": "Status", "name": "default"},
            "conditions": [{"type": "Accepted", "status": "Unknown", "reason": "Pending"}]}]}}));
        assert_eq!(p.selector_text(), "app=vllm");
        assert_eq!(p.target_ports, [8000]);
        assert_eq!(
            p.picker_text(),
            "epp:9002 (FailClose)",
            "9002 and FailClose by default"
        );
        assert_eq!(
            p.parents_text(),
            "<none>",
            "the placeholder parent is no parent"
        );
    }

    #[test]
    fn objectives_models_rewrites_and_imports_read_their_columns() {
        assert_eq!(
            objective(&json!({"spec": {"poolRef": {"name": "p"}, "priority": -1}})),
            ("p".to_string(), "-1 (sheddable)".to_string())
        );
        assert_eq!(
            objective(&json!({"spec": {"poolRef": {"name": "p"}}})).1,
            "0 (unset)"
        );
        assert_eq!(
            model(
                &json!({"spec": {"modelName": "chat", "poolRef": {"name": "p"},
                "targetModels": [{"name": "chat-v1", "weight": 90}, {"name": "chat-v2", "weight": 10}]}})
            ),
            ["chat", "p", "Standard (unset)", "chat-v1:90,chat-v2:10"]
        );
        assert_eq!(
            rewrite(&json!({"spec": {"poolRef": {"name": "p"}, "rules": [
                {"matches": [{"model": {"value": "chat"}}], "targets": [{"modelRewrite": "chat-v2", "weight": 1}]},
                {"targets": [{"modelRewrite": "base"}]}]}})),
            ("p".to_string(), "chat → chat-v2:1; * → base".to_string())
        );
        assert_eq!(
            import(
                &json!({"status": {"controllers": [{"name": "mci", "exportingClusters": [{"name": "east"}, {"name": "west"}]}]}})
            ),
            ("mci".to_string(), "east,west".to_string())
        );
    }
}
