//! Which of the Gateway API Inference Extension's APIs a cluster serves.
//! Three generations are in use (spec §0): GIE ≤ v0.5 (x-k8s v1alpha2
//! InferencePool and InferenceModel), GIE v1.0–v1.5 (the v1 InferencePool
//! with x-k8s InferenceObjective and InferenceModelRewrite), and llm-d-router
//! (the same pool with those two under `llm-d.ai`). They are found by API
//! discovery, never assumed.

use serde::Serialize;

/// A kind this plugin knows, and the groups it may be served under.
struct Known {
    kind: &'static str,
    plural: &'static str,
    groups: &'static [&'static str],
}

pub const GIE: &str = "inference.networking.k8s.io";
pub const GIE_X: &str = "inference.networking.x-k8s.io";
pub const LLM_D: &str = "llm-d.ai";

const KNOWN: [Known; 5] = [
    Known {
        kind: "InferencePool",
        plural: "inferencepools",
        groups: &[GIE, GIE_X],
    },
    Known {
        kind: "InferenceModel",
        plural: "inferencemodels",
        groups: &[GIE_X],
    },
    Known {
        kind: "InferenceObjective",
        plural: "inferenceobjectives",
        groups: &[GIE_X, LLM_D],
    },
    Known {
        kind: "InferenceModelRewrite",
        plural: "inferencemodelrewrites",
        groups: &[GIE_X, LLM_D],
    },
    Known {
        kind: "InferencePoolImport",
        plural: "inferencepoolimports",
        groups: &[GIE_X],
    },
];

/// The groups discovery needs to look into.
pub const GROUPS: [&str; 3] = [GIE, GIE_X, LLM_D];

/// One API group version as discovery lists it: its resources' plural names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    pub group: String,
    pub version: String,
    pub resources: Vec<String>,
}

/// A served kind of ours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Served {
    pub kind: &'static str,
    pub plural: &'static str,
    pub group: String,
    pub version: String,
}

impl Served {
    pub fn api_version(&self) -> String {
        format!("{}/{}", self.group, self.version)
    }

    /// The CRD's name: `plural.group`.
    pub fn crd(&self) -> String {
        format!("{}.{}", self.plural, self.group)
    }
}

/// Our kinds among what discovery found, in the order of [`KNOWN`].
pub fn served(discovered: &[Discovered]) -> Vec<Served> {
    let mut out = Vec::new();
    for k in &KNOWN {
        for d in discovered {
            if k.groups.contains(&d.group.as_str()) && d.resources.iter().any(|r| r == k.plural) {
                out.push(Served {
                    kind: k.kind,
                    plural: k.plural,
                    group: d.group.clone(),
                    version: d.version.clone(),
                });
            }
        }
    }
    out
}

/// A generation of the extension's APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Generation {
    /// GIE ≤ v0.5: x-k8s v1alpha2 InferencePool and InferenceModel.
    #[serde(rename = "gie-v0.5")]
    Alpha,
    /// GIE v1.0–v1.5: v1 InferencePool, x-k8s objectives and rewrites.
    #[serde(rename = "gie-v1")]
    V1,
    /// llm-d-router: v1 InferencePool, `llm-d.ai` objectives and rewrites.
    #[serde(rename = "llm-d")]
    LlmD,
}

impl Generation {
    pub fn describe(self) -> &'static str {
        match self {
            Generation::Alpha => {
                "GIE up to v0.5: inference.networking.x-k8s.io/v1alpha2 InferencePool and InferenceModel"
            }
            Generation::V1 => {
                "GIE v1: inference.networking.k8s.io/v1 InferencePool with inference.networking.x-k8s.io InferenceObjective"
            }
            Generation::LlmD => {
                "llm-d-router: inference.networking.k8s.io/v1 InferencePool with llm-d.ai InferenceObjective"
            }
        }
    }
}

/// The generations `served` makes up (a cluster in migration has several).
pub fn generations(served: &[Served]) -> Vec<Generation> {
    let has = |kind: &str, group: &str| served.iter().any(|s| s.kind == kind && s.group == group);
    let mut out = Vec::new();
    if has("InferencePool", GIE_X) && has("InferenceModel", GIE_X) {
        out.push(Generation::Alpha);
    }
    if has("InferencePool", GIE) && has("InferenceObjective", GIE_X) {
        out.push(Generation::V1);
    }
    if has("InferencePool", GIE) && has("InferenceObjective", LLM_D) {
        out.push(Generation::LlmD);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(group: &str, version: &str, resources: &[&str]) -> Discovered {
        Discovered {
            group: group.into(),
            version: version.into(),
            resources: resources.iter().map(|r| r.to_string()).collect(),
        }
    }

    #[test]
    fn every_generation_is_told_apart_from_discovery_alone() {
        let found = [
            d(GIE, "v1", &["inferencepools", "inferencepools/status"]),
            d(
                GIE_X,
                "v1alpha2",
                &["inferencepools", "inferencemodels", "inferenceobjectives"],
            ),
            d(
                LLM_D,
                "v1alpha2",
                &["inferenceobjectives", "inferencemodelrewrites"],
            ),
            d("apps", "v1", &["deployments"]),
        ];
        let s = served(&found);
        let names: Vec<String> = s
            .iter()
            .map(|s| format!("{} {}", s.kind, s.api_version()))
            .collect();
        assert_eq!(
            names,
            [
                "InferencePool inference.networking.k8s.io/v1",
                "InferencePool inference.networking.x-k8s.io/v1alpha2",
                "InferenceModel inference.networking.x-k8s.io/v1alpha2",
                "InferenceObjective inference.networking.x-k8s.io/v1alpha2",
                "InferenceObjective llm-d.ai/v1alpha2",
                "InferenceModelRewrite llm-d.ai/v1alpha2",
            ]
        );
        assert_eq!(
            generations(&s),
            [Generation::Alpha, Generation::V1, Generation::LlmD]
        );
        assert_eq!(s[0].crd(), "inferencepools.inference.networking.k8s.io");
        assert!(generations(&served(&[d("apps", "v1", &["deployments"])])).is_empty());
    }
}
