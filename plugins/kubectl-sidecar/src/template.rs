//! A Pod template as the analysis sees it: where it came from, its
//! containers in start order, and the Pod-level settings that matter.

use std::collections::BTreeMap;

use kplug::finding::ObjectRef;
use kplug::manifest::Object;
use serde_json::Value;

use crate::container::{Container, List};

/// One Pod template of a workload (or a Pod).
#[derive(Debug, Clone)]
pub struct PodTemplate {
    pub object: ObjectRef,
    pub kind: String,
    pub api_version: String,
    /// Dotted path of the PodSpec in the object (`spec.template.spec`).
    pub spec_path: String,
    pub init: Vec<Container>,
    pub regular: Vec<Container>,
    pub annotations: BTreeMap<String, String>,
    pub pod_restart_policy: String,
    /// `terminationGracePeriodSeconds` (default 30).
    pub grace_seconds: i64,
    /// The Job's `podFailurePolicy.rules` (for Jobs and CronJobs).
    pub pod_failure_rules: Vec<Value>,
    /// The controlling owner (`kind`, `name`) of a live Pod.
    pub owner: Option<(String, String)>,
}

impl PodTemplate {
    /// An empty template named `kind` `namespace/name`, to be filled in.
    pub fn sketch(kind: &str, namespace: Option<String>, name: &str) -> PodTemplate {
        PodTemplate {
            object: ObjectRef {
                kind: kind.to_string(),
                namespace,
                name: name.to_string(),
                ..Default::default()
            },
            kind: kind.to_string(),
            api_version: String::new(),
            spec_path: String::new(),
            init: Vec::new(),
            regular: Vec::new(),
            annotations: BTreeMap::new(),
            pod_restart_policy: String::new(),
            grace_seconds: 0,
            pod_failure_rules: Vec::new(),
            owner: None,
        }
    }

    /// The template of a workload object or Pod; `None` for other kinds.
    pub fn from_object(object: &Object) -> Option<PodTemplate> {
        let mut t = Self::from_value(&object.value)?;
        t.object = ObjectRef::from_manifest(object);
        Some(t)
    }

    /// The same for a live object (no file).
    pub fn from_value(value: &Value) -> Option<PodTemplate> {
        let template = kplug::workload::pod_template(value)?;
        let spec = template.spec;
        let read = |list: List| -> Vec<Container> {
            spec.get(list.field())
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .enumerate()
                        .map(|(i, c)| Container::read(list, i, c))
                        .collect()
                })
                .unwrap_or_default()
        };
        let str_at = |p: &str| value.pointer(p).and_then(Value::as_str).unwrap_or("");
        let kind = str_at("/kind").to_string();
        let pod_failure_rules = match kind.as_str() {
            "Job" => value.pointer("/spec/podFailurePolicy/rules"),
            "CronJob" => value.pointer("/spec/jobTemplate/spec/podFailurePolicy/rules"),
            _ => None,
        }
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
        let owner = value
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .and_then(|refs| {
                refs.iter()
                    .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
            })
            .map(|r| {
                let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                (s("kind"), s("name"))
            });
        let namespace = Some(str_at("/metadata/namespace")).filter(|s| !s.is_empty());
        let name = match str_at("/metadata/name") {
            "" => str_at("/metadata/generateName"),
            n => n,
        };
        Some(PodTemplate {
            object: ObjectRef::new(&kind, namespace, name),
            api_version: str_at("/apiVersion").to_string(),
            spec_path: template
                .spec_pointer
                .trim_start_matches('/')
                .replace('/', "."),
            init: read(List::Init),
            regular: read(List::Regular),
            annotations: kplug::manifest::string_map(
                template.metadata.and_then(|m| m.get("annotations")),
            ),
            pod_restart_policy: spec
                .get("restartPolicy")
                .and_then(Value::as_str)
                .unwrap_or("Always")
                .to_string(),
            grace_seconds: spec
                .get("terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(30),
            pod_failure_rules,
            owner,
            kind,
        })
    }

    /// Every container in start order: init containers (plain and sidecar),
    /// then the regular ones.
    pub fn containers(&self) -> impl Iterator<Item = &Container> {
        self.init.iter().chain(&self.regular)
    }

    pub fn sidecars(&self) -> impl Iterator<Item = &Container> {
        self.init.iter().filter(|c| c.is_sidecar())
    }

    /// The full field path of a container: `spec.template.spec.initContainers[0]`.
    pub fn path(&self, c: &Container) -> String {
        format!("{}.{}", self.spec_path, c.path())
    }

    pub fn is_job(&self) -> bool {
        matches!(self.kind.as_str(), "Job" | "CronJob")
    }
}
