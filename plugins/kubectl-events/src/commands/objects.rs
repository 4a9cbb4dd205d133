//! What the collector learns of the objects events are about — labels and
//! controller — so `query -l app=web` works for as long as the events are
//! kept. Each object is read once (metadata only), a few at a time, off the
//! watch loop; what cannot be read (deleted, not allowed) stays unknown.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use kplug::event::Reference;
use kplug_eventlog::store::{ObjectInfo, ObjectKey};
use kube::api::{Api, ApiResource, DynamicObject};
use kube::core::GroupVersionKind;
use kube::discovery::Scope;
use tokio::sync::{Mutex, Semaphore, mpsc};

/// Objects remembered as looked up, at most (then forgotten all at once,
/// and read again when they come up).
const KNOWN: usize = 100_000;

/// Lookups in flight at most.
const PARALLEL: usize = 8;

type Resources = HashMap<(String, String), Option<(ApiResource, bool)>>;

pub struct Lookups {
    client: kube::Client,
    cluster: String,
    known: HashSet<ObjectKey>,
    /// (apiVersion, kind) → the resource and whether it is namespaced;
    /// `None` when discovery does not know it.
    resources: Arc<Mutex<Resources>>,
    permits: Arc<Semaphore>,
    found: mpsc::UnboundedSender<ObjectInfo>,
}

impl Lookups {
    /// The lookups, and where what they find arrives.
    pub fn new(
        client: kube::Client,
        cluster: &str,
    ) -> (Lookups, mpsc::UnboundedReceiver<ObjectInfo>) {
        let (found, rx) = mpsc::unbounded_channel();
        let lookups = Lookups {
            client,
            cluster: cluster.to_string(),
            known: HashSet::new(),
            resources: Arc::default(),
            permits: Arc::new(Semaphore::new(PARALLEL)),
            found,
        };
        (lookups, rx)
    }

    /// Read `r`'s labels and controller, unless already done.
    pub fn learn(&mut self, r: &Reference) {
        // Hand-written events may leave out apiVersion; guess the usual ones.
        let api_version = match (r.api_version.as_str(), r.kind.as_str()) {
            ("", "Pod" | "Node" | "Service" | "PersistentVolumeClaim" | "PersistentVolume") => "v1",
            ("", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") => "apps/v1",
            ("", "Job" | "CronJob") => "batch/v1",
            (v, _) => v,
        };
        if r.name.is_empty() || r.kind.is_empty() || api_version.is_empty() {
            return;
        }
        let key = ObjectKey {
            namespace: r.namespace.clone(),
            kind: r.kind.clone(),
            name: r.name.clone(),
        };
        if self.known.len() >= KNOWN {
            self.known.clear();
        }
        if !self.known.insert(key.clone()) {
            return;
        }
        let (client, resources, permits, found) = (
            self.client.clone(),
            self.resources.clone(),
            self.permits.clone(),
            self.found.clone(),
        );
        let (cluster, api_version) = (self.cluster.clone(), api_version.to_string());
        tokio::spawn(async move {
            let Ok(_permit) = permits.acquire().await else {
                return;
            };
            let Some((resource, namespaced)) =
                resource(&client, &resources, &api_version, &key.kind).await
            else {
                return;
            };
            let api: Api<DynamicObject> = if namespaced {
                Api::namespaced_with(client, &key.namespace, &resource)
            } else {
                Api::all_with(client, &resource)
            };
            // A server that never answers must not hold a permit forever.
            let lookup = tokio::time::timeout(
                kplug::client::DEFAULT_REQUEST_TIMEOUT,
                api.get_metadata(&key.name),
            );
            let Ok(Ok(meta)) = lookup.await else {
                return;
            };
            let m = meta.metadata;
            let owner = m
                .owner_references
                .iter()
                .flatten()
                .find(|o| o.controller == Some(true))
                .map(|o| format!("{}/{}", o.kind, o.name))
                .unwrap_or_default();
            let _ = found.send(ObjectInfo {
                cluster,
                key,
                uid: m.uid.unwrap_or_default(),
                labels: m.labels.unwrap_or_default(),
                owner,
                seen_ms: jiff::Timestamp::now().as_millisecond(),
            });
        });
    }
}

/// The API resource of `kind` in `api_version`, discovered once.
async fn resource(
    client: &kube::Client,
    cache: &Mutex<Resources>,
    api_version: &str,
    kind: &str,
) -> Option<(ApiResource, bool)> {
    let id = (api_version.to_string(), kind.to_string());
    let mut cache = cache.lock().await;
    if let Some(known) = cache.get(&id) {
        return known.clone();
    }
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let found = kube::discovery::pinned_kind(client, &gvk)
        .await
        .ok()
        .map(|(r, caps)| (r, caps.scope == Scope::Namespaced));
    cache.insert(id, found.clone());
    found
}
