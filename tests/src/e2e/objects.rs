//! Creating objects the way a cluster would, for an API server that has no
//! kubelet, scheduler or controllers: Pods with a filled-in status, Events of
//! both APIs, Nodes, CRDs (waiting until Established) and custom resources.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Namespace, Node, NodeStatus, Pod, PodStatus};
use k8s_openapi::api::events::v1::Event as EventV1;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

fn from_json<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("test object JSON matches its type")
}

pub async fn create_namespace(client: &Client, name: &str) -> Namespace {
    let api: Api<Namespace> = Api::all(client.clone());
    api.create(
        &PostParams::default(),
        &from_json(json!({"metadata": {"name": name}})),
    )
    .await
    .unwrap_or_else(|e| panic!("create namespace {name}: {e}"))
}

/// Create a Pod, then write its status through the status subresource, as
/// the kubelet would.
pub async fn pod_with_status(client: &Client, namespace: &str, pod: Value, status: Value) -> Pod {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let created = api
        .create(&PostParams::default(), &from_json::<Pod>(pod))
        .await
        .unwrap_or_else(|e| panic!("create pod: {e}"));
    let name = created.metadata.name.clone().unwrap_or_default();
    let _: PodStatus = from_json(status.clone());
    api.patch_status(
        &name,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": status})),
    )
    .await
    .unwrap_or_else(|e| panic!("patch status of pod {name}: {e}"))
}

/// A core/v1 Event about an object.
pub async fn core_event(client: &Client, namespace: &str, event: Value) -> Event {
    let api: Api<Event> = Api::namespaced(client.clone(), namespace);
    api.create(&PostParams::default(), &from_json(event))
        .await
        .unwrap_or_else(|e| panic!("create core/v1 event: {e}"))
}

/// An events.k8s.io/v1 Event.
pub async fn events_v1_event(client: &Client, namespace: &str, event: Value) -> EventV1 {
    let api: Api<EventV1> = Api::namespaced(client.clone(), namespace);
    api.create(&PostParams::default(), &from_json(event))
        .await
        .unwrap_or_else(|e| panic!("create events.k8s.io/v1 event: {e}"))
}

/// A Node with labels and a status (conditions, capacity, nodeInfo …).
pub async fn node(client: &Client, name: &str, labels: Value, status: Value) -> Node {
    let api: Api<Node> = Api::all(client.clone());
    api.create(
        &PostParams::default(),
        &from_json(json!({"metadata": {"name": name, "labels": labels}})),
    )
    .await
    .unwrap_or_else(|e| panic!("create node {name}: {e}"));
    let _: NodeStatus = from_json(status.clone());
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": status})),
    )
    .await
    .unwrap_or_else(|e| panic!("patch status of node {name}: {e}"))
}

/// Create (or keep) a CRD and wait until it is Established.
pub async fn crd(client: &Client, crd: Value) -> CustomResourceDefinition {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = from_json(crd);
    let name = crd.metadata.name.clone().unwrap_or_default();
    match api.create(&PostParams::default(), &crd).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => panic!("create CRD {name}: {e}"),
    }
    for _ in 0..200 {
        let current = api
            .get(&name)
            .await
            .unwrap_or_else(|e| panic!("get CRD {name}: {e}"));
        let established = current
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| {
                c.iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            });
        if established {
            return current;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("CRD {name} not Established after 20s");
}

/// Create a custom resource of `group/version`, `kind` (plural given) from JSON.
pub async fn custom_resource(
    client: &Client,
    gvk: (&str, &str, &str),
    plural: &str,
    namespace: Option<&str>,
    object: Value,
) -> DynamicObject {
    let (group, version, kind) = gvk;
    let ar =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    };
    let mut object = object;
    object["apiVersion"] = json!(ar.api_version);
    object["kind"] = json!(kind);
    api.create(&PostParams::default(), &from_json(object))
        .await
        .unwrap_or_else(|e| panic!("create {kind}: {e}"))
}
