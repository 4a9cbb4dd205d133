//! Finding the Pod template in every workload kind, for typed objects and for
//! dynamic JSON (manifests, `DynamicObject`).

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    Pod, PodSpec, PodTemplate as CorePodTemplate, PodTemplateSpec, ReplicationController,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

/// The kinds that carry a Pod template, with the API groups they live in
/// (`""` is core; `extensions` for manifests older than apps/v1).
pub const WORKLOAD_KINDS: &[(&str, &[&str])] = &[
    ("Pod", &[""]),
    ("Deployment", &["apps", "extensions"]),
    ("StatefulSet", &["apps"]),
    ("DaemonSet", &["apps", "extensions"]),
    ("ReplicaSet", &["apps", "extensions"]),
    ("ReplicationController", &[""]),
    ("Job", &["batch"]),
    ("CronJob", &["batch"]),
    ("PodTemplate", &[""]),
];

/// Where the template sits inside an object of a kind, as JSON pointers.
fn pointers(kind: &str) -> Option<(&'static str, &'static str)> {
    Some(match kind {
        "Pod" => ("/metadata", "/spec"),
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "ReplicationController"
        | "Job" => ("/spec/template/metadata", "/spec/template/spec"),
        "CronJob" => (
            "/spec/jobTemplate/spec/template/metadata",
            "/spec/jobTemplate/spec/template/spec",
        ),
        "PodTemplate" => ("/template/metadata", "/template/spec"),
        _ => return None,
    })
}

/// The API group of an `apiVersion` (`apps/v1` → `apps`, `v1` → ``).
pub fn group_of(api_version: &str) -> &str {
    api_version.split_once('/').map_or("", |(g, _)| g)
}

/// Whether `apiVersion` + `kind` is one of the workload kinds.
pub fn is_workload(api_version: &str, kind: &str) -> bool {
    let group = group_of(api_version);
    WORKLOAD_KINDS
        .iter()
        .any(|(k, groups)| *k == kind && groups.contains(&group))
}

/// A Pod template found in a dynamic object.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TemplateRef<'a> {
    /// The template's metadata (labels, annotations), when present.
    pub metadata: Option<&'a Value>,
    /// The PodSpec.
    pub spec: &'a Value,
    /// JSON pointer of the PodSpec within the object, for patches and messages.
    pub spec_pointer: &'static str,
}

/// The Pod template of a workload object, or `None` if the object is not a
/// workload kind or has no spec there.
pub fn pod_template(object: &Value) -> Option<TemplateRef<'_>> {
    let api_version = object.get("apiVersion")?.as_str()?;
    let kind = object.get("kind")?.as_str()?;
    if !is_workload(api_version, kind) {
        return None;
    }
    let (meta, spec) = pointers(kind)?;
    let spec_value = object.pointer(spec).filter(|v| v.is_object())?;
    Some(TemplateRef {
        metadata: object.pointer(meta).filter(|v| v.is_object()),
        spec: spec_value,
        spec_pointer: spec,
    })
}

/// The Pod template of a dynamic object as typed `PodTemplateSpec`.
/// `Ok(None)` when it is not a workload; an error when the template is malformed.
pub fn typed_pod_template(object: &Value) -> Result<Option<PodTemplateSpec>, serde_json::Error> {
    let Some(t) = pod_template(object) else {
        return Ok(None);
    };
    let metadata = t
        .metadata
        .map(|m| serde_json::from_value::<ObjectMeta>(m.clone()))
        .transpose()?;
    let spec = serde_json::from_value::<PodSpec>(t.spec.clone())?;
    Ok(Some(PodTemplateSpec {
        metadata,
        spec: Some(spec),
    }))
}

/// Typed workload objects that carry a Pod template.
pub trait HasPodTemplate {
    /// The template's metadata and PodSpec, if set.
    fn pod_template(&self) -> Option<(Option<&ObjectMeta>, &PodSpec)>;
}

fn from_template(t: Option<&PodTemplateSpec>) -> Option<(Option<&ObjectMeta>, &PodSpec)> {
    let t = t?;
    Some((t.metadata.as_ref(), t.spec.as_ref()?))
}

impl HasPodTemplate for Pod {
    fn pod_template(&self) -> Option<(Option<&ObjectMeta>, &PodSpec)> {
        Some((Some(&self.metadata), self.spec.as_ref()?))
    }
}

impl HasPodTemplate for CorePodTemplate {
    fn pod_template(&self) -> Option<(Option<&ObjectMeta>, &PodSpec)> {
        from_template(self.template.as_ref())
    }
}

impl HasPodTemplate for CronJob {
    fn pod_template(&self) -> Option<(Option<&ObjectMeta>, &PodSpec)> {
        let job = self.spec.as_ref()?.job_template.spec.as_ref()?;
        from_template(Some(&job.template))
    }
}

macro_rules! template_in_spec {
    ($($kind:ty => |$s:ident| $get:expr),* $(,)?) => {$(
        impl HasPodTemplate for $kind {
            fn pod_template(&self) -> Option<(Option<&ObjectMeta>, &PodSpec)> {
                let $s = self.spec.as_ref()?;
                from_template($get)
            }
        }
    )*};
}

template_in_spec! {
    Deployment => |s| Some(&s.template),
    StatefulSet => |s| Some(&s.template),
    DaemonSet => |s| Some(&s.template),
    ReplicaSet => |s| s.template.as_ref(),
    ReplicationController => |s| s.template.as_ref(),
    Job => |s| Some(&s.template),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(name: &str) -> Value {
        json!({"containers": [{"name": name, "image": "busybox"}]})
    }

    fn wrap(kind: &str, api: &str) -> Value {
        let template = json!({"metadata": {"labels": {"app": "x"}}, "spec": spec(kind)});
        match kind {
            "Pod" => {
                json!({"apiVersion": api, "kind": kind, "metadata": {"name": "p", "labels": {"app": "x"}}, "spec": spec(kind)})
            }
            "CronJob" => {
                json!({"apiVersion": api, "kind": kind, "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}}})
            }
            "PodTemplate" => json!({"apiVersion": api, "kind": kind, "template": template}),
            _ => {
                json!({"apiVersion": api, "kind": kind, "spec": {"selector": {}, "template": template}})
            }
        }
    }

    const ALL: [(&str, &str); 9] = [
        ("Pod", "v1"),
        ("Deployment", "apps/v1"),
        ("StatefulSet", "apps/v1"),
        ("DaemonSet", "apps/v1"),
        ("ReplicaSet", "apps/v1"),
        ("ReplicationController", "v1"),
        ("Job", "batch/v1"),
        ("CronJob", "batch/v1"),
        ("PodTemplate", "v1"),
    ];

    #[test]
    fn dynamic_every_kind() {
        for (kind, api) in ALL {
            let obj = wrap(kind, api);
            let t = pod_template(&obj).unwrap_or_else(|| panic!("{kind}"));
            assert_eq!(t.spec["containers"][0]["name"], kind, "{kind}");
            assert_eq!(t.metadata.unwrap()["labels"]["app"], "x", "{kind}");
            assert_eq!(obj.pointer(t.spec_pointer), Some(t.spec));
            let typed = typed_pod_template(&obj).unwrap().unwrap();
            assert_eq!(typed.spec.unwrap().containers[0].name, kind);
        }
    }

    #[test]
    fn typed_every_kind() {
        for (kind, api) in ALL {
            let obj = wrap(kind, api);
            let name = |t: Option<(Option<&ObjectMeta>, &PodSpec)>| {
                t.map(|(_, s)| s.containers[0].name.clone())
            };
            let got = match kind {
                "Pod" => name(serde_json::from_value::<Pod>(obj).unwrap().pod_template()),
                "Deployment" => name(
                    serde_json::from_value::<Deployment>(obj)
                        .unwrap()
                        .pod_template(),
                ),
                "StatefulSet" => name(
                    serde_json::from_value::<StatefulSet>(obj)
                        .unwrap()
                        .pod_template(),
                ),
                "DaemonSet" => name(
                    serde_json::from_value::<DaemonSet>(obj)
                        .unwrap()
                        .pod_template(),
                ),
                "ReplicaSet" => name(
                    serde_json::from_value::<ReplicaSet>(obj)
                        .unwrap()
                        .pod_template(),
                ),
                "ReplicationController" => name(
                    serde_json::from_value::<ReplicationController>(obj)
                        .unwrap()
                        .pod_template(),
                ),
                "Job" => name(serde_json::from_value::<Job>(obj).unwrap().pod_template()),
                "CronJob" => name(
                    serde_json::from_value::<CronJob>(obj)
                        .unwrap()
                        .pod_template(),
                ),
                "PodTemplate" => name(
                    serde_json::from_value::<CorePodTemplate>(obj)
                        .unwrap()
                        .pod_template(),
                ),
                _ => unreachable!(),
            };
            assert_eq!(got.as_deref(), Some(kind));
        }
    }

    #[test]
    fn non_workloads_and_wrong_groups() {
        assert!(pod_template(&json!({"apiVersion": "v1", "kind": "ConfigMap"})).is_none());
        assert!(pod_template(&wrap("Deployment", "example.com/v1")).is_none());
        assert!(pod_template(&wrap("Deployment", "extensions/v1beta1")).is_some());
        assert!(pod_template(&json!({"apiVersion": "apps/v1", "kind": "Deployment"})).is_none());
        assert!(pod_template(&json!({"kind": "Pod"})).is_none());
        assert!(
            typed_pod_template(&json!({"apiVersion": "v1", "kind": "Service"}))
                .unwrap()
                .is_none()
        );
        let bad = json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": "nope"}});
        assert!(typed_pod_template(&bad).is_err());
        assert!(Deployment::default().pod_template().is_none());
    }
}

/// A workload kind as the API serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkloadType {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
}

impl WorkloadType {
    /// `apps/v1`, or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// Every workload kind with the names kubectl accepts for it (plural first).
const TYPES: &[(WorkloadType, &[&str])] = &[
    (
        WorkloadType {
            group: "",
            version: "v1",
            kind: "Pod",
            plural: "pods",
        },
        &["pods", "pod", "po"],
    ),
    (
        WorkloadType {
            group: "apps",
            version: "v1",
            kind: "Deployment",
            plural: "deployments",
        },
        &["deployments", "deployment", "deploy"],
    ),
    (
        WorkloadType {
            group: "apps",
            version: "v1",
            kind: "StatefulSet",
            plural: "statefulsets",
        },
        &["statefulsets", "statefulset", "sts"],
    ),
    (
        WorkloadType {
            group: "apps",
            version: "v1",
            kind: "DaemonSet",
            plural: "daemonsets",
        },
        &["daemonsets", "daemonset", "ds"],
    ),
    (
        WorkloadType {
            group: "apps",
            version: "v1",
            kind: "ReplicaSet",
            plural: "replicasets",
        },
        &["replicasets", "replicaset", "rs"],
    ),
    (
        WorkloadType {
            group: "batch",
            version: "v1",
            kind: "Job",
            plural: "jobs",
        },
        &["jobs", "job"],
    ),
    (
        WorkloadType {
            group: "batch",
            version: "v1",
            kind: "CronJob",
            plural: "cronjobs",
        },
        &["cronjobs", "cronjob", "cj"],
    ),
    (
        WorkloadType {
            group: "",
            version: "v1",
            kind: "ReplicationController",
            plural: "replicationcontrollers",
        },
        &["replicationcontrollers", "replicationcontroller", "rc"],
    ),
    (
        WorkloadType {
            group: "",
            version: "v1",
            kind: "PodTemplate",
            plural: "podtemplates",
        },
        &["podtemplates", "podtemplate"],
    ),
];

/// The workload kind kubectl means by `name` (`deploy`, `deployments.apps`,
/// `Deployment`), case-insensitively.
pub fn resolve_type(name: &str) -> Option<WorkloadType> {
    let lower = name.to_ascii_lowercase();
    let (base, group) = match lower.split_once('.') {
        Some((b, g)) => (b, Some(g)),
        None => (lower.as_str(), None),
    };
    TYPES
        .iter()
        .find(|(t, names)| {
            (names.contains(&base) || t.kind.eq_ignore_ascii_case(base))
                && group.is_none_or(|g| g == t.group || (t.group.is_empty() && g == "core"))
        })
        .map(|(t, _)| *t)
}

/// The kind whose `kind` field is `kind` (for owner references).
pub fn type_of_kind(kind: &str) -> Option<WorkloadType> {
    TYPES.iter().find(|(t, _)| t.kind == kind).map(|(t, _)| *t)
}

/// Every workload kind (what `all` means).
pub fn all_types() -> impl Iterator<Item = WorkloadType> {
    TYPES.iter().map(|(t, _)| *t)
}

#[cfg(test)]
mod type_tests {
    use super::*;

    #[test]
    fn kubectl_names_resolve() {
        assert_eq!(resolve_type("deploy").unwrap().kind, "Deployment");
        assert_eq!(
            resolve_type("deployments.apps").unwrap().plural,
            "deployments"
        );
        assert_eq!(resolve_type("CronJob").unwrap().api_version(), "batch/v1");
        assert_eq!(resolve_type("po").unwrap().api_version(), "v1");
        assert_eq!(resolve_type("pods.core").unwrap().kind, "Pod");
        assert_eq!(resolve_type("services"), None);
        assert_eq!(resolve_type("deployments.batch"), None);
        assert_eq!(type_of_kind("ReplicaSet").unwrap().group, "apps");
    }
}
