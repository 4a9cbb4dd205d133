//! Fixes for sidecars that do not gate: which containers get a derived
//! startupProbe (or, with migration, move from `containers` to
//! `initContainers`), expressed as a strategic merge patch, as a change to
//! the whole object, or as text inserted into the original manifest so its
//! comments and key order survive.

use kplug::finding::ObjectRef;
use serde_json::{Map, Value, json};

use crate::analysis::{Role, TemplateReport, Verdict};
use crate::derive::{self, Derived};
use crate::template::PodTemplate;

/// What happens to one container.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Add the startupProbe to a native sidecar.
    AddStartupProbe,
    /// Move a legacy sidecar to `initContainers` with `restartPolicy:
    /// Always` and the startupProbe.
    Migrate,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ContainerFix {
    pub container: String,
    pub change: Change,
    pub derived: Derived,
}

/// The fixes of one template, and the sidecars kplug would not fix.
#[derive(Debug, Clone)]
pub struct TemplateFix {
    pub object: ObjectRef,
    pub kind: String,
    /// JSON pointer of the PodSpec (`/spec/template/spec`).
    pub spec_pointer: String,
    pub fixes: Vec<ContainerFix>,
    pub refused: Vec<(String, String)>,
}

/// `--budget` in seconds as the API server can hold it: the derived probe
/// polls at least once a second, and `failureThreshold` is an int32.
pub fn check_budget(secs: u64) -> Result<i64, String> {
    const MAX: u64 = i32::MAX as u64;
    match secs {
        0 => Err("--budget must be at least 1s: a startupProbe allows at least one attempt".into()),
        s if s > MAX => Err(format!(
            "--budget {s}s is out of range: at most {MAX}s, as failureThreshold is a 32-bit number"
        )),
        s => Ok(s as i64),
    }
}

/// Plan the fixes of a template from its analysis.
pub fn plan(
    t: &PodTemplate,
    report: &TemplateReport,
    migrate_legacy: bool,
    budget: Option<i64>,
) -> TemplateFix {
    let mut fixes = Vec::new();
    let mut refused = Vec::new();
    for r in &report.containers {
        let change = match (r.role, r.verdict) {
            // A sidecar nothing talks to (no ports, no probes) needs no gate.
            (Role::Sidecar, Some(Verdict::StartedOnly))
                if r.findings
                    .iter()
                    .any(|f| f.severity >= kplug::finding::Severity::Warning) =>
            {
                Change::AddStartupProbe
            }
            (Role::LegacySidecar, Some(Verdict::Unordered | Verdict::LegacyGated))
                if migrate_legacy =>
            {
                Change::Migrate
            }
            _ => continue,
        };
        let Some(c) = t.containers().find(|c| c.name == r.name) else {
            continue;
        };
        match derive::startup_probe(c, budget) {
            Ok(derived) => fixes.push(ContainerFix {
                container: r.name.clone(),
                change,
                derived,
            }),
            Err(e) => refused.push((r.name.clone(), e.0)),
        }
    }
    TemplateFix {
        object: t.object.clone(),
        kind: t.kind.clone(),
        spec_pointer: format!("/{}", t.spec_path.replace('.', "/")),
        fixes,
        refused,
    }
}

impl TemplateFix {
    /// Nothing to change.
    pub fn is_empty(&self) -> bool {
        self.fixes.is_empty()
    }

    /// The strategic merge patch: containers merge by name, so only the new
    /// fields are sent; a migration deletes the entry from `containers` and
    /// adds the whole container to `initContainers`.
    pub fn strategic_patch(&self, original: &Value) -> Value {
        let spec = original
            .pointer(&self.spec_pointer)
            .cloned()
            .unwrap_or(Value::Null);
        let mut init = Vec::new();
        let mut regular = Vec::new();
        for f in &self.fixes {
            match f.change {
                Change::AddStartupProbe => {
                    init.push(json!({"name": f.container, "startupProbe": f.derived.probe}))
                }
                Change::Migrate => {
                    regular.push(json!({"name": f.container, "$patch": "delete"}));
                    init.push(migrated(&spec, f));
                }
            }
        }
        let mut body = Map::new();
        if !init.is_empty() {
            body.insert("initContainers".into(), Value::Array(init));
        }
        if !regular.is_empty() {
            body.insert("containers".into(), Value::Array(regular));
        }
        nest(&self.spec_pointer, Value::Object(body))
    }

    /// Apply the fixes to the whole object.
    pub fn apply(&self, object: &mut Value) {
        let Some(spec) = object.pointer_mut(&self.spec_pointer) else {
            return;
        };
        for f in &self.fixes {
            match f.change {
                Change::AddStartupProbe => {
                    if let Some(c) = find_mut(spec, "initContainers", &f.container) {
                        c["startupProbe"] = f.derived.probe.clone();
                    }
                }
                Change::Migrate => {
                    let moved = migrated(spec, f);
                    if let Some(list) = spec.get_mut("containers").and_then(Value::as_array_mut) {
                        list.retain(|c| c["name"] != f.container.as_str());
                    }
                    match spec.get_mut("initContainers").and_then(Value::as_array_mut) {
                        Some(list) => list.push(moved),
                        None => spec["initContainers"] = json!([moved]),
                    }
                }
            }
        }
    }

    /// `kubectl patch deployment/web -n ns --type=strategic -p '…'`.
    pub fn kubectl_patch(&self, original: &Value) -> String {
        let patch =
            serde_json::to_string(&self.strategic_patch(original)).expect("JSON serialises");
        let ns = self
            .object
            .namespace
            .as_deref()
            .map(|n| format!(" -n {n}"))
            .unwrap_or_default();
        format!(
            "kubectl patch {}/{}{ns} --type=strategic -p '{}'",
            self.kind.to_lowercase(),
            self.object.name,
            patch.replace('\'', "'\\''")
        )
    }

    /// What applying the change does to running things (sidecar.md §6).
    pub fn side_effects(&self) -> Vec<String> {
        let mut out = vec![match self.kind.as_str() {
            "Pod" => "probes of an existing Pod cannot be changed: recreate the Pod (the patch is for its manifest or controller)".to_string(),
            "Job" => "a Job's Pod template cannot be changed: delete and recreate the Job with the fixed manifest".to_string(),
            "CronJob" => "applies to Jobs created from now on; running Jobs keep the old template".to_string(),
            kind => format!("changing the Pod template rolls the {kind}: every Pod is replaced"),
        }];
        if !self.fixes.is_empty() {
            out.push("each startupProbe may delay the app by up to one period after the sidecar is ready".into());
        }
        out
    }
}

fn find_mut<'a>(spec: &'a mut Value, list: &str, name: &str) -> Option<&'a mut Value> {
    spec.get_mut(list)?
        .as_array_mut()?
        .iter_mut()
        .find(|c| c["name"] == name)
}

/// The legacy container as a native sidecar.
fn migrated(spec: &Value, f: &ContainerFix) -> Value {
    let mut c = spec
        .get("containers")
        .and_then(Value::as_array)
        .and_then(|l| l.iter().find(|c| c["name"] == f.container.as_str()))
        .cloned()
        .unwrap_or_else(|| json!({"name": f.container}));
    c["restartPolicy"] = json!("Always");
    c["startupProbe"] = f.derived.probe.clone();
    c
}

/// `{"spec": {"template": {"spec": body}}}` for `/spec/template/spec`.
fn nest(pointer: &str, body: Value) -> Value {
    pointer
        .split('/')
        .filter(|s| !s.is_empty())
        .rev()
        .fold(body, |inner, key| json!({ key: inner }))
}

/// Insert `startupProbe` for `container` into one YAML document's text,
/// keeping everything else as written. `None` when the container's block
/// cannot be found in block style; the caller then rewrites the object.
pub fn insert_probe_text(document: &str, container: &str, probe_yaml: &str) -> Option<String> {
    let lines: Vec<&str> = document.lines().collect();
    let mut in_init = false;
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("initContainers:") {
            in_init = true;
            continue;
        }
        if trimmed.starts_with("containers:") {
            in_init = false;
        }
        if !in_init {
            continue;
        }
        let indent = line.len() - trimmed.len();
        let (key_indent, rest) = match trimmed.strip_prefix("- ") {
            Some(rest) => (indent + 2, rest),
            None => (indent, trimmed),
        };
        let Some(value) = rest.strip_prefix("name:") else {
            continue;
        };
        let value = value
            .split(" #")
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches(['"', '\'']);
        if value != container {
            continue;
        }
        let pad = " ".repeat(key_indent);
        let mut out: Vec<String> = lines[..=i].iter().map(|s| s.to_string()).collect();
        out.push(format!("{pad}startupProbe:"));
        out.extend(probe_yaml.lines().map(|l| format!("{pad}  {l}")));
        out.extend(lines[i + 1..].iter().map(|s| s.to_string()));
        let mut text = out.join("\n");
        if document.ends_with('\n') {
            text.push('\n');
        }
        return Some(text);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_nest_under_the_template_path() {
        assert_eq!(
            nest("/spec/jobTemplate/spec/template/spec", json!({"a": 1})),
            json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"a": 1}}}}}})
        );
        assert_eq!(nest("/spec", json!({})), json!({"spec": {}}));
    }

    #[test]
    fn text_insertion_keeps_comments_and_finds_only_init_containers() {
        let doc = "spec:\n  containers:\n  - name: proxy # not this one\n  initContainers:\n  # the proxy\n  - image: x\n    name: \"proxy\"\n    restartPolicy: Always\n";
        let out = insert_probe_text(doc, "proxy", "tcpSocket:\n  port: 1\n").unwrap();
        assert_eq!(
            out,
            "spec:\n  containers:\n  - name: proxy # not this one\n  initContainers:\n  # the proxy\n  - image: x\n    name: \"proxy\"\n    startupProbe:\n      tcpSocket:\n        port: 1\n    restartPolicy: Always\n"
        );
        assert!(
            insert_probe_text(
                "spec: {initContainers: [{name: proxy}]}\n",
                "proxy",
                "x: 1\n"
            )
            .is_none()
        );
    }
}
