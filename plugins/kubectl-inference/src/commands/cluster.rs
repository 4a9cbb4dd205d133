//! What every command that reads a cluster needs: a client, and which of
//! the extension's APIs the cluster serves.

use anyhow::Context;
use k8s_openapi::api::core::v1::Pod;
use kplug::cli::KubectlArgs;
use kplug_inference::apis::{self, Discovered, Served};
use kube::api::ApiResource;

pub struct Cluster {
    pub client: kube::Client,
    /// For messages (no credentials).
    pub server: String,
    /// The kubeconfig's namespace (or -n).
    pub namespace: String,
}

impl Cluster {
    pub async fn connect(kube: &KubectlArgs) -> anyhow::Result<Cluster> {
        let config = kplug::client::config(kube).await?;
        let server = config.cluster_url.to_string();
        let namespace = config.default_namespace.clone();
        let client = kplug::client::client_from_config(config)?;
        Ok(Cluster {
            client,
            server,
            namespace,
        })
    }

    /// Our kinds the cluster serves, found by discovery.
    pub async fn served(&self, kube: &KubectlArgs) -> anyhow::Result<Vec<Served>> {
        let groups = kplug::client::request(kube, &self.server, self.client.list_api_groups())
            .await
            .context("listing the API groups")?;
        let mut discovered = Vec::new();
        for g in groups
            .groups
            .iter()
            .filter(|g| apis::GROUPS.contains(&g.name.as_str()))
        {
            for v in &g.versions {
                let list = kplug::client::request(
                    kube,
                    &self.server,
                    self.client.list_api_group_resources(&v.group_version),
                )
                .await
                .with_context(|| format!("listing the resources of {}", v.group_version))?;
                discovered.push(Discovered {
                    group: g.name.clone(),
                    version: v.version.clone(),
                    resources: list.resources.into_iter().map(|r| r.name).collect(),
                });
            }
        }
        Ok(apis::served(&discovered))
    }
}

/// The dynamic resource of a served kind.
pub fn resource(s: &Served) -> ApiResource {
    ApiResource {
        group: s.group.clone(),
        version: s.version.clone(),
        api_version: s.api_version(),
        kind: s.kind.to_string(),
        plural: s.plural.to_string(),
    }
}

/// Ready and not terminating: what the EPP counts as an endpoint's Pod.
pub fn is_ready(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none()
        && p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// A Pod's `inference.networking.k8s.io/active-ports` annotation.
pub fn active_ports(p: &Pod) -> Option<&str> {
    p.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("inference.networking.k8s.io/active-ports"))
        .map(String::as_str)
}
