//! Rewriting the extension's objects for a newer generation (spec §0, §9):
//!
//! - `v1`: a `inference.networking.x-k8s.io/v1alpha2` InferencePool becomes
//!   an `inference.networking.k8s.io/v1` one (selector → matchLabels,
//!   targetPortNumber → targetPorts, extensionRef → endpointPickerRef); an
//!   InferenceModel becomes an InferenceObjective (priority from its
//!   criticality) and, when it splits traffic, an InferenceModelRewrite
//!   (its modelName matched exactly, its targetModels as weighted targets).
//! - `llm-d`: x-k8s InferenceObjectives and InferenceModelRewrites move to
//!   the `llm-d.ai/v1alpha2` group, spec unchanged.
//!
//! Pure functions of the objects' JSON; the command reads and prints them.

use serde_json::{Map, Value, json};

use crate::apis::{GIE, GIE_X, LLM_D};

/// The EPP's gRPC port when a v1alpha2 extensionRef gives none.
pub const DEFAULT_PICKER_PORT: i64 = 9002;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// v1alpha2 pools and models → v1 pools, objectives and rewrites
    V1,
    /// x-k8s objectives and rewrites → llm-d.ai
    #[value(name = "llm-d")]
    LlmD,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MigrateError {
    #[error("{kind} {name}: {problem}")]
    Invalid {
        kind: String,
        name: String,
        problem: String,
    },
}

/// The result: objects to apply, in order (pools, objectives, rewrites),
/// and what the user must do besides.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub objects: Vec<Value>,
    /// `(kind, name)` of inputs left as they are, and why.
    pub skipped: Vec<(String, String, String)>,
    pub notes: Vec<String>,
}

/// Rewrite `inputs` for `target`.
pub fn plan(inputs: &[Value], target: Target) -> Result<Plan, MigrateError> {
    let mut pools = Vec::new();
    let mut objectives = Vec::new();
    let mut rewrites = Vec::new();
    let mut plan = Plan::default();
    for o in inputs {
        let (api_version, kind) = (text(&o["apiVersion"]), text(&o["kind"]));
        let group = api_version.split_once('/').map_or("", |(g, _)| g);
        match (target, group, kind) {
            (Target::V1, GIE_X, "InferencePool") if api_version.ends_with("/v1alpha2") => {
                pools.push(pool_to_v1(o)?)
            }
            (Target::V1, GIE_X, "InferenceModel") => {
                let (objective, rewrite) = model_to_v1(o)?;
                objectives.push(objective);
                rewrites.extend(rewrite);
            }
            (Target::LlmD, GIE_X, "InferenceObjective") => objectives.push(regroup(o, LLM_D)),
            (Target::LlmD, GIE_X, "InferenceModelRewrite") => rewrites.push(regroup(o, LLM_D)),
            _ => plan.skipped.push((
                kind.to_string(),
                text(&o["metadata"]["name"]).to_string(),
                format!(
                    "{api_version} {kind} has nothing to migrate to {}",
                    target_name(target)
                ),
            )),
        }
    }
    if !pools.is_empty() {
        plan.notes.push(format!(
            "the v1 pools keep their names in the {GIE} group, beside the old ones: apply them, then point HTTPRoute backendRefs at group {GIE}, upgrade the EPP to read v1 (--pool-group {GIE}), and delete the v1alpha2 objects"
        ));
    }
    if target == Target::V1 && !objectives.is_empty() {
        plan.notes.push(
            "an InferenceObjective applies to a request that names it in the x-gateway-inference-objective header; the model name no longer selects it".into(),
        );
    }
    if target == Target::LlmD && !(objectives.is_empty() && rewrites.is_empty()) {
        plan.notes.push(format!(
            "the llm-d.ai copies sit beside the {GIE_X} ones: delete those once your EPP reads llm-d.ai"
        ));
    }
    plan.objects = pools
        .into_iter()
        .chain(objectives)
        .chain(rewrites)
        .collect();
    Ok(plan)
}

fn target_name(t: Target) -> &'static str {
    match t {
        Target::V1 => "v1",
        Target::LlmD => "llm-d.ai",
    }
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// The metadata a new object keeps: name, namespace, labels, annotations
/// (without kubectl's last-applied copy of the old object).
fn metadata(old: &Value) -> Value {
    let m = &old["metadata"];
    let mut out = Map::new();
    for key in ["name", "namespace", "labels"] {
        if !m[key].is_null() {
            out.insert(key.into(), m[key].clone());
        }
    }
    if let Some(a) = m["annotations"].as_object() {
        let kept: Map<String, Value> = a
            .iter()
            .filter(|(k, _)| *k != "kubectl.kubernetes.io/last-applied-configuration")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !kept.is_empty() {
            out.insert("annotations".into(), Value::Object(kept));
        }
    }
    Value::Object(out)
}

fn invalid(old: &Value, problem: impl Into<String>) -> MigrateError {
    MigrateError::Invalid {
        kind: text(&old["kind"]).to_string(),
        name: text(&old["metadata"]["name"]).to_string(),
        problem: problem.into(),
    }
}

/// A v1alpha2 pool as a v1 pool.
pub fn pool_to_v1(old: &Value) -> Result<Value, MigrateError> {
    let spec = &old["spec"];
    let selector = spec["selector"]
        .as_object()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid(old, "spec.selector is empty: a v1 pool needs matchLabels"))?;
    let port = spec["targetPortNumber"]
        .as_i64()
        .ok_or_else(|| invalid(old, "spec.targetPortNumber is missing"))?;
    let ext = &spec["extensionRef"];
    let picker_name = ext["name"].as_str().ok_or_else(|| {
        invalid(
            old,
            "spec.extensionRef.name is missing: a v1 pool needs an endpoint picker",
        )
    })?;
    let mut picker = json!({
        "name": picker_name,
        "port": {"number": ext["portNumber"].as_i64().unwrap_or(DEFAULT_PICKER_PORT)},
        // v1alpha2 defaulted to FailClose, as v1 does: write it out.
        "failureMode": ext["failureMode"].as_str().unwrap_or("FailClose"),
    });
    for key in ["group", "kind"] {
        if let Some(v) = ext[key].as_str().filter(|v| !v.is_empty()) {
            picker[key] = json!(v);
        }
    }
    Ok(json!({
        "apiVersion": format!("{GIE}/v1"),
        "kind": "InferencePool",
        "metadata": metadata(old),
        "spec": {
            "selector": {"matchLabels": selector},
            "targetPorts": [{"number": port}],
            "endpointPickerRef": picker,
        },
    }))
}

/// An InferenceModel's criticality as a priority: Critical above 0,
/// Standard (and unset) 0, Sheddable below 0.
pub fn priority(criticality: Option<&str>) -> Result<i64, String> {
    match criticality {
        Some("Critical") => Ok(1),
        None | Some("Standard") => Ok(0),
        Some("Sheddable") => Ok(-1),
        Some(other) => Err(format!(
            "criticality {other:?} is none of Critical, Standard, Sheddable"
        )),
    }
}

/// The v1 pool reference an old poolRef means.
fn pool_ref(old: &Value) -> Result<Value, MigrateError> {
    let name = old["spec"]["poolRef"]["name"]
        .as_str()
        .ok_or_else(|| invalid(old, "spec.poolRef.name is missing"))?;
    Ok(json!({"group": GIE, "kind": "InferencePool", "name": name}))
}

/// An InferenceModel as an InferenceObjective, and an InferenceModelRewrite
/// when it names target models.
pub fn model_to_v1(old: &Value) -> Result<(Value, Option<Value>), MigrateError> {
    let spec = &old["spec"];
    let priority = priority(spec["criticality"].as_str()).map_err(|p| invalid(old, p))?;
    let pool = pool_ref(old)?;
    let objective = json!({
        "apiVersion": format!("{GIE_X}/v1alpha2"),
        "kind": "InferenceObjective",
        "metadata": metadata(old),
        "spec": {"poolRef": pool, "priority": priority},
    });
    let targets: Vec<Value> = spec["targetModels"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let mut target = json!({"modelRewrite": t["name"]});
            if let Some(w) = t["weight"].as_i64() {
                target["weight"] = json!(w);
            }
            target
        })
        .collect();
    let rewrite = if targets.is_empty() {
        None
    } else {
        let model = spec["modelName"]
            .as_str()
            .ok_or_else(|| invalid(old, "spec.modelName is missing"))?;
        Some(json!({
            "apiVersion": format!("{GIE_X}/v1alpha2"),
            "kind": "InferenceModelRewrite",
            "metadata": metadata(old),
            "spec": {
                "poolRef": pool,
                "rules": [{"matches": [{"model": {"type": "Exact", "value": model}}], "targets": targets}],
            },
        }))
    };
    Ok((objective, rewrite))
}

/// The same object in `group`, its version kept.
pub fn regroup(old: &Value, group: &str) -> Value {
    let version = text(&old["apiVersion"])
        .rsplit('/')
        .next()
        .unwrap_or("v1alpha2");
    json!({
        "apiVersion": format!("{group}/{version}"),
        "kind": old["kind"],
        "metadata": metadata(old),
        "spec": old["spec"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> Value {
        json!({"apiVersion": "inference.networking.x-k8s.io/v1alpha2", "kind": "InferencePool",
            "metadata": {"name": "chat", "namespace": "serving", "uid": "x", "resourceVersion": "9",
                         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "team": "ml"}},
            "spec": {"selector": {"app": "vllm"}, "targetPortNumber": 8000,
                     "extensionRef": {"name": "chat-epp", "failureMode": "FailOpen"}},
            "status": {"parent": []}})
    }

    #[test]
    fn a_pool_becomes_v1() {
        let v1 = pool_to_v1(&pool()).unwrap();
        assert_eq!(
            v1,
            json!({"apiVersion": "inference.networking.k8s.io/v1", "kind": "InferencePool",
                "metadata": {"name": "chat", "namespace": "serving", "annotations": {"team": "ml"}},
                "spec": {"selector": {"matchLabels": {"app": "vllm"}}, "targetPorts": [{"number": 8000}],
                         "endpointPickerRef": {"name": "chat-epp", "port": {"number": 9002}, "failureMode": "FailOpen"}}})
        );
        let mut no_picker = pool();
        no_picker["spec"]["extensionRef"] = Value::Null;
        assert!(
            pool_to_v1(&no_picker)
                .unwrap_err()
                .to_string()
                .contains("InferencePool chat: spec.extensionRef.name")
        );
    }

    #[test]
    fn a_model_becomes_an_objective_and_a_rewrite() {
        let model = json!({"apiVersion": "inference.networking.x-k8s.io/v1alpha2", "kind": "InferenceModel",
            "metadata": {"name": "chat-model"},
            "spec": {"modelName": "chat", "criticality": "Sheddable", "poolRef": {"name": "chat"},
                     "targetModels": [{"name": "chat-v1", "weight": 90}, {"name": "chat-v2", "weight": 10}]}});
        let (objective, rewrite) = model_to_v1(&model).unwrap();
        assert_eq!(
            objective["spec"],
            json!({"poolRef": {"group": GIE, "kind": "InferencePool", "name": "chat"}, "priority": -1})
        );
        let rewrite = rewrite.unwrap();
        assert_eq!(
            rewrite["spec"]["rules"][0]["matches"][0]["model"]["value"],
            "chat"
        );
        assert_eq!(
            rewrite["spec"]["rules"][0]["targets"][1],
            json!({"modelRewrite": "chat-v2", "weight": 10})
        );
        let mut plain = model.clone();
        plain["spec"]["targetModels"] = Value::Null;
        plain["spec"]["criticality"] = Value::Null;
        let (objective, rewrite) = model_to_v1(&plain).unwrap();
        assert_eq!(
            (objective["spec"]["priority"].as_i64(), rewrite),
            (Some(0), None)
        );
        plain["spec"]["criticality"] = json!("Urgent");
        assert!(model_to_v1(&plain).is_err());
    }

    #[test]
    fn a_plan_orders_pools_objectives_rewrites_and_skips_the_rest() {
        let model = json!({"apiVersion": "inference.networking.x-k8s.io/v1alpha2", "kind": "InferenceModel",
            "metadata": {"name": "m"}, "spec": {"modelName": "m", "poolRef": {"name": "chat"},
            "criticality": "Critical", "targetModels": [{"name": "m-v2"}]}});
        let other = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
        let p = plan(&[model, other, pool()], Target::V1).unwrap();
        let kinds: Vec<&str> = p
            .objects
            .iter()
            .map(|o| o["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "InferencePool",
                "InferenceObjective",
                "InferenceModelRewrite"
            ]
        );
        assert_eq!(p.objects[1]["spec"]["priority"], 1);
        assert_eq!(p.skipped.len(), 1);
        assert_eq!(p.notes.len(), 2);
    }

    #[test]
    fn x_k8s_objectives_move_to_llm_d() {
        let o = json!({"apiVersion": "inference.networking.x-k8s.io/v1alpha2", "kind": "InferenceObjective",
            "metadata": {"name": "batch", "namespace": "s", "generation": 3}, "spec": {"poolRef": {"name": "chat"}, "priority": -1},
            "status": {}});
        let p = plan(&[o], Target::LlmD).unwrap();
        assert_eq!(
            p.objects,
            [
                json!({"apiVersion": "llm-d.ai/v1alpha2", "kind": "InferenceObjective",
                "metadata": {"name": "batch", "namespace": "s"}, "spec": {"poolRef": {"name": "chat"}, "priority": -1}})
            ]
        );
    }
}
