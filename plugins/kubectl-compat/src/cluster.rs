//! Whole-cluster validation: every node's merged NodeFeature data against a
//! spec, the node × set matrix, nodes without data, stale data, and a Pod
//! `nodeAffinity` that schedules the image only where it fits. No I/O.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Value, json};

use crate::features::{NodeFeature, merge_per_node};
use crate::spec::Spec;
use crate::validate::{self, Options, Report};

pub const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";

/// A node as the cluster lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterReport {
    pub api_version: &'static str,
    pub kind: &'static str,
    /// At least one node is compatible.
    pub compatible: bool,
    pub sets: Vec<SetSummary>,
    pub nodes: Vec<NodeResult>,
    /// Nodes with no NodeFeature object (NFD not running there, or gone).
    pub nodes_without_data: Vec<String>,
    /// NodeFeature objects whose node is not in the cluster (or not selected).
    pub data_without_nodes: Vec<String>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetSummary {
    #[serde(serialize_with = "crate::validate::one_based")]
    pub index: usize,
    pub description: String,
    pub tag: String,
    pub weight: i64,
    pub compatible_nodes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeResult {
    pub name: String,
    pub compatible: bool,
    #[serde(serialize_with = "crate::validate::one_based_opt")]
    pub best_set: Option<usize>,
    pub has_errors: bool,
    pub report: Report,
}

/// Evaluate every node that has data. `now` and `stale_after` (seconds)
/// decide stale-data warnings.
pub fn validate_cluster(
    spec: &Spec,
    objects: &[NodeFeature],
    nodes: &[Node],
    options: &Options,
    now: i64,
    stale_after: i64,
) -> ClusterReport {
    // nfd-worker's own objects carry its version annotation; their namespace goes first.
    let mut by_ns: BTreeMap<&str, usize> = BTreeMap::new();
    for o in objects.iter().filter(|o| o.worker_version.is_some()) {
        *by_ns.entry(o.namespace.as_str()).or_default() += 1;
    }
    let nfd_namespace = by_ns
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(ns, _)| ns.to_string());
    let merged = merge_per_node(objects, nfd_namespace.as_deref());
    let node_names: BTreeSet<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    let mut warnings = Vec::new();
    for o in objects {
        if let Some(updated) = o
            .updated
            .as_deref()
            .or(o.created.as_deref())
            .and_then(crate::time::parse_rfc3339)
        {
            let age = now - updated;
            if age > stale_after {
                warnings.push(format!(
                    "NodeFeature {}/{} was last written {} ago: its data may be stale (is nfd-worker running on {}?)",
                    o.namespace,
                    o.name,
                    human(age),
                    o.node.as_deref().unwrap_or("its node")
                ));
            }
        }
        if let Some(v) = &o.worker_version
            && old_worker(v)
        {
            warnings.push(format!(
                "NodeFeature {}/{} comes from nfd-worker {v}, older than v0.17; upgrade NFD",
                o.namespace, o.name
            ));
        }
        if o.node.is_none() {
            warnings.push(format!(
                "NodeFeature {}/{} has no {} label and is ignored",
                o.namespace,
                o.name,
                crate::features::NODE_NAME_LABEL
            ));
        }
    }
    let mut results = Vec::new();
    let mut without = Vec::new();
    for node in nodes {
        match merged.get(&node.name) {
            Some(f) => {
                let report = validate::validate(spec, f, options, Some(node.name.clone()));
                results.push(NodeResult {
                    name: node.name.clone(),
                    compatible: report.compatible,
                    best_set: report.best_set,
                    has_errors: report.has_errors,
                    report,
                });
            }
            None => without.push(node.name.clone()),
        }
    }
    let data_without_nodes = merged
        .keys()
        .filter(|n| !node_names.contains(n.as_str()))
        .cloned()
        .collect();
    let sets = results
        .first()
        .map(|r| &r.report.sets)
        .map(|sets| {
            sets.iter()
                .enumerate()
                .map(|(i, s)| SetSummary {
                    index: s.index,
                    description: s.description.clone(),
                    tag: s.tag.clone(),
                    weight: s.weight,
                    compatible_nodes: results
                        .iter()
                        .filter(|r| r.report.sets[i].satisfied && !r.has_errors)
                        .map(|r| r.name.clone())
                        .collect(),
                })
                .collect()
        })
        .unwrap_or_default();
    ClusterReport {
        api_version: validate::API_VERSION,
        kind: "ClusterCompatibilityReport",
        compatible: results.iter().any(|r| r.compatible),
        sets,
        nodes: results,
        nodes_without_data: without,
        data_without_nodes,
        warnings,
    }
}

fn old_worker(version: &str) -> bool {
    crate::engine::version::parse(version).is_some_and(|(major, minor, _)| major == 0 && minor < 17)
}

/// An age as kubectl prints one (`45s`, `3m10s`, `5d`), never `0m`.
fn human(secs: i64) -> String {
    kplug::output::human_duration(std::time::Duration::from_secs(secs.max(0) as u64))
}

/// A label (other than the hostname) on every node of `inside` and on none
/// of `outside`, preferring the shortest key.
fn distinguishing_label(inside: &[&Node], outside: &[&Node]) -> Option<(String, String)> {
    let first = inside.first()?;
    first
        .labels
        .iter()
        .filter(|(k, _)| k.as_str() != HOSTNAME_LABEL)
        .filter(|(k, v)| inside.iter().all(|n| n.labels.get(*k) == Some(v)))
        .filter(|(k, v)| outside.iter().all(|n| n.labels.get(*k) != Some(v)))
        .min_by_key(|(k, _)| k.len())
        .map(|(k, v)| (k.clone(), v.clone()))
}

/// A node selector expression matching exactly `inside` among `all`.
fn expression_for(names: &[String], all: &[Node]) -> Value {
    let inside: Vec<&Node> = all.iter().filter(|n| names.contains(&n.name)).collect();
    let outside: Vec<&Node> = all.iter().filter(|n| !names.contains(&n.name)).collect();
    match distinguishing_label(&inside, &outside) {
        Some((k, v)) => json!({"key": k, "operator": "In", "values": [v]}),
        None => {
            let hosts: Vec<String> = inside
                .iter()
                .map(|n| {
                    n.labels
                        .get(HOSTNAME_LABEL)
                        .cloned()
                        .unwrap_or_else(|| n.name.clone())
                })
                .collect();
            json!({"key": HOSTNAME_LABEL, "operator": "In", "values": hosts})
        }
    }
}

/// A Pod `affinity` that requires a node compatible with some set and
/// prefers nodes of heavier sets (weight clamped to 1..100). `None` when no
/// node is compatible.
pub fn affinity(report: &ClusterReport, nodes: &[Node]) -> Option<Value> {
    let compatible: Vec<String> = report
        .nodes
        .iter()
        .filter(|n| n.compatible)
        .map(|n| n.name.clone())
        .collect();
    if compatible.is_empty() {
        return None;
    }
    let preferred: Vec<Value> = report
        .sets
        .iter()
        .filter(|s| !s.compatible_nodes.is_empty() && s.compatible_nodes.len() < compatible.len())
        .map(|s| {
            json!({
                "weight": s.weight.clamp(1, 100),
                "preference": {"matchExpressions": [expression_for(&s.compatible_nodes, nodes)]},
            })
        })
        .collect();
    let mut node_affinity = json!({
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [expression_for(&compatible, nodes)]}],
        },
    });
    if !preferred.is_empty() {
        node_affinity["preferredDuringSchedulingIgnoredDuringExecution"] = json!(preferred);
    }
    Some(json!({"affinity": {"nodeAffinity": node_affinity}}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{Features, Instance};

    fn nf(node: &str, vendor: &str, gpu: bool) -> NodeFeature {
        let mut f = Features::default();
        f.insert_attributes(
            "cpu.model",
            [("vendor_id".to_string(), vendor.to_string())].into(),
        );
        let pci = if gpu {
            vec![Instance::new([("vendor", "10de")])]
        } else {
            vec![]
        };
        f.insert_instances("pci.device", pci);
        NodeFeature {
            namespace: "nfd".into(),
            name: node.into(),
            node: Some(node.into()),
            worker_version: Some("v0.19.0".into()),
            created: None,
            updated: Some("2026-01-01T00:00:00Z".into()),
            features: f,
        }
    }

    fn node(name: &str, labels: &[(&str, &str)]) -> Node {
        let mut l: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        l.insert(HOSTNAME_LABEL.into(), name.into());
        Node {
            name: name.into(),
            labels: l,
        }
    }

    const SPEC: &str = "compatibilities:\n- description: gpu\n  weight: 80\n  rules:\n  - name: nvidia\n    matchFeatures:\n    - feature: pci.device\n      matchExpressions:\n        vendor: {op: In, value: [\"10de\"]}\n- description: intel\n  weight: 20\n  rules:\n  - name: intel\n    matchFeatures:\n    - feature: cpu.model\n      matchExpressions:\n        vendor_id: {op: In, value: [Intel]}\n";

    #[test]
    fn stale_ages_read_like_kubectl() {
        assert_eq!(human(30), "30s", "not 0m");
        assert_eq!(human(3 * 86_400 + 5), "3d");
    }

    #[test]
    fn matrix_missing_data_and_affinity() {
        let spec = crate::spec::parse(SPEC).unwrap();
        let objects = vec![
            nf("gpu-1", "AMD", true),
            nf("cpu-1", "Intel", false),
            nf("arm-1", "Ampere", false),
            nf("gone", "Intel", false),
        ];
        let nodes = vec![
            node("gpu-1", &[("pool", "gpu")]),
            node("cpu-1", &[("pool", "general")]),
            node("arm-1", &[("pool", "general")]),
            node("new-1", &[]),
        ];
        let now = crate::time::parse_rfc3339("2026-01-01T01:00:00Z").unwrap();
        let r = validate_cluster(&spec, &objects, &nodes, &Options::default(), now, 86400);
        assert!(r.compatible);
        assert_eq!(r.sets[0].compatible_nodes, ["gpu-1"]);
        assert_eq!(r.sets[1].compatible_nodes, ["cpu-1"]);
        assert_eq!(r.nodes_without_data, ["new-1"]);
        assert_eq!(r.data_without_nodes, ["gone"]);
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        let arm = r.nodes.iter().find(|n| n.name == "arm-1").unwrap();
        assert!(!arm.compatible);
        let a = affinity(&r, &nodes).unwrap();
        let req = &a["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            ["nodeSelectorTerms"][0]["matchExpressions"][0];
        assert_eq!(
            req["key"], HOSTNAME_LABEL,
            "no label tells gpu-1 and cpu-1 from arm-1: {a}"
        );
        assert_eq!(req["values"], json!(["gpu-1", "cpu-1"]));
        let pref =
            &a["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"];
        assert_eq!(pref[0]["weight"], 80);
        assert_eq!(
            pref[0]["preference"]["matchExpressions"][0],
            json!({"key": "pool", "operator": "In", "values": ["gpu"]})
        );
        let stale = validate_cluster(
            &spec,
            &objects,
            &nodes,
            &Options::default(),
            now + 3 * 86400,
            86400,
        );
        assert_eq!(stale.warnings.len(), 4, "{:?}", stale.warnings);
    }

    #[test]
    fn no_compatible_node_means_no_affinity() {
        let spec = crate::spec::parse(SPEC).unwrap();
        let objects = vec![nf("arm-1", "Ampere", false)];
        let nodes = vec![node("arm-1", &[])];
        let r = validate_cluster(&spec, &objects, &nodes, &Options::default(), 0, 86400);
        assert!(!r.compatible);
        assert!(affinity(&r, &nodes).is_none());
        let mut old = nf("x", "Intel", false);
        old.worker_version = Some("v0.16.3".into());
        let r = validate_cluster(
            &spec,
            &[old],
            &[node("x", &[])],
            &Options::default(),
            0,
            i64::MAX,
        );
        assert!(
            r.warnings.iter().any(|w| w.contains("older than v0.17")),
            "{:?}",
            r.warnings
        );
    }
}
