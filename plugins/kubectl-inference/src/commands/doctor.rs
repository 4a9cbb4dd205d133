//! `kubectl inference doctor`: gather what the troubleshooting guide asks
//! about a pool from the cluster and its model servers, and report it as
//! findings ([`kplug_inference::doctor::diagnose`]).

use std::time::Duration;

use anyhow::Context;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kplug::cli::{KubectlArgs, TableFormat};
use kplug::finding::{self, Severity};
use kplug::output::color::Palette;
use kplug::output::format::Printer;
use kplug_inference::apis::Served;
use kplug_inference::doctor::{self, Facts, Grant, Named, PickerFacts, PodFacts, RouteRef, Scrape};
use kplug_inference::epp;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, PostParams};
use serde_json::Value;

use super::cluster::is_ready;
use super::live::{PoolStatus, Session, picker_deployment};

/// Check a pool end to end, as the troubleshooting guide would: the
/// extension's CRDs, the HTTPRoutes that name the pool (backendRef group and
/// kind against the installed pool version; a ReferenceGrant across
/// namespaces), the endpoint picker's Service, port, readiness, --pool-name
/// and RBAC, target ports against the Pods' containerPorts, every
/// endpoint's /metrics (unreachable, missing families for its engine,
/// slower than the staleness threshold), duplicate objectives and rewrite
/// rules that never apply. Each finding comes with its fix.
/// Exit status: 0 clean or only warnings, 3 when there are errors
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The pool (default: every pool of the namespace)
    pub pool: Option<String>,

    /// Hide findings below this severity (info, warning, error)
    #[arg(long, default_value = "info", value_name = "SEVERITY")]
    pub min_severity: Severity,

    /// Give up on an endpoint's /metrics after this long
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = kplug::cli::parse_duration)]
    pub scrape_timeout: Duration,

    /// Output format (default: a table of findings; wide adds the fixes)
    #[arg(short = 'o', long, value_name = "FORMAT")]
    pub output: Option<TableFormat>,
}

pub fn run(kube: &KubectlArgs, args: Args) -> anyhow::Result<kplug::Code> {
    let all = kplug::cli::runtime()?.block_on(async {
        let session = Session::open(kube, args.scrape_timeout).await?;
        let mut all = Vec::new();
        for status in session.snapshot(kube, args.pool.as_deref()).await? {
            let facts = gather(kube, &session, status).await?;
            all.extend(doctor::diagnose(&facts));
        }
        anyhow::Ok(all)
    })?;
    let shown = finding::filter_sorted(&all, args.min_severity);
    let mut out = std::io::stdout().lock();
    let printer = Printer::new(kube, args.output);
    match args.output {
        Some(TableFormat::Json | TableFormat::Yaml) => {
            let doc = serde_json::json!({"apiVersion": "kplug.dev/v1alpha1", "kind": "DoctorReport", "findings": shown});
            printer.print_value(&doc, &mut out)?;
        }
        _ if shown.is_empty() => eprintln!("no findings"),
        _ => printer.print_table(&finding::table(&shown, Palette::new(kube.color)), &mut out)?,
    }
    Ok(finding::exit_code(&all))
}

/// A list of a kind the cluster may not serve: `None` when it does not
/// (404), or when listing it is forbidden.
async fn list_optional(
    kube: &KubectlArgs,
    session: &Session,
    resource: &ApiResource,
    namespace: Option<&str>,
) -> anyhow::Result<Option<Vec<DynamicObject>>> {
    let client = session.cluster.client.clone();
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(client, ns, resource),
        None => Api::all_with(client, resource),
    };
    let listed = kplug::client::request(
        kube,
        &session.cluster.server,
        api.list(&ListParams::default()),
    )
    .await;
    match listed {
        Ok(list) => Ok(Some(list.items)),
        Err(kplug::Error::NotFound { .. } | kplug::Error::Forbidden { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn gateway(kind: &str, plural: &str, version: &str) -> ApiResource {
    ApiResource {
        group: "gateway.networking.k8s.io".into(),
        version: version.into(),
        api_version: format!("gateway.networking.k8s.io/{version}"),
        kind: kind.into(),
        plural: plural.into(),
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

async fn gather(
    kube: &KubectlArgs,
    session: &Session,
    status: PoolStatus,
) -> anyhow::Result<Facts> {
    let namespace = status.namespace.clone();
    let group = doctor::group_of(&status.api_version).to_string();

    let missing_kinds = doctor::watched(&group)
        .into_iter()
        .filter(|(g, plural, _)| {
            !session
                .kinds
                .iter()
                .any(|s| s.group == *g && s.plural == *plural)
        })
        .map(|(g, plural, _)| format!("{plural}.{g}"))
        .collect();

    // The Pods and the picker's Service as the snapshot read them.
    let pods = status
        .pods
        .iter()
        .map(|p| PodFacts {
            name: p.metadata.name.clone().unwrap_or_default(),
            ready: is_ready(p),
            container_ports: p
                .spec
                .iter()
                .flat_map(|s| &s.containers)
                .flat_map(|c| c.ports.iter().flatten())
                .map(|port| i64::from(port.container_port))
                .collect(),
        })
        .collect();

    let routes = list_optional(
        kube,
        session,
        &gateway("HTTPRoute", "httproutes", "v1"),
        None,
    )
    .await?
    .map(|routes| route_refs(&routes, &status.name, &namespace));
    let grants = list_optional(
        kube,
        session,
        &gateway("ReferenceGrant", "referencegrants", "v1beta1"),
        Some(&namespace),
    )
    .await?
    .unwrap_or_default()
    .iter()
    .map(grant)
    .collect();

    let (service_ports, picker) = match &status.pool.picker {
        None => (None, None),
        Some(_) => {
            let service = status.service()?;
            let ports = service.map(|s| {
                s.spec
                    .iter()
                    .flat_map(|s| s.ports.iter().flatten())
                    .map(|p| i64::from(p.port))
                    .collect()
            });
            let deployment = picker_deployment(kube, &session.cluster, &namespace, service).await?;
            let facts = match deployment {
                Some(d) => Some(picker_facts(kube, session, &namespace, &group, d).await?),
                None => None,
            };
            (ports, facts)
        }
    };

    let objectives = of_pool(
        kube,
        session,
        "InferenceObjective",
        &namespace,
        &status.name,
    )
    .await?;
    let rewrites = of_pool(
        kube,
        session,
        "InferenceModelRewrite",
        &namespace,
        &status.name,
    )
    .await?;

    let scrapes = status
        .endpoints
        .into_iter()
        .map(|e| Scrape {
            endpoint: e.name,
            address: e.address,
            engine: e.engine,
            reading: match (e.reading, e.error) {
                (Some(r), _) => Ok(r),
                (None, error) => Err(error.unwrap_or_default()),
            },
            millis: e.scrape_ms,
        })
        .collect();
    Ok(Facts {
        namespace,
        name: status.name,
        group,
        pool: Some(status.pool),
        missing_kinds,
        pods,
        scrapes,
        routes,
        grants,
        service_ports,
        picker,
        objectives,
        rewrites,
    })
}

/// The backendRefs of `routes` that mean pool `name` in `namespace`: kind
/// InferencePool, or a group of the extension (a Service of that name is
/// another backend).
fn route_refs(routes: &[DynamicObject], name: &str, namespace: &str) -> Vec<RouteRef> {
    let mut out = Vec::new();
    for r in routes {
        let route_ns = r.metadata.namespace.clone().unwrap_or_default();
        let refs = r.data["spec"]["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|rule| rule["backendRefs"].as_array().into_iter().flatten());
        for b in refs {
            let group = text(&b["group"]);
            let kind = b["kind"].as_str().unwrap_or("Service").to_string();
            let target_ns = b["namespace"].as_str().unwrap_or(&route_ns).to_string();
            let ours =
                kind == "InferencePool" || kplug_inference::apis::GROUPS.contains(&group.as_str());
            if ours && text(&b["name"]) == name && target_ns == namespace {
                out.push(RouteRef {
                    route_namespace: route_ns.clone(),
                    route: r.metadata.name.clone().unwrap_or_default(),
                    group,
                    kind,
                    namespace: target_ns,
                });
            }
        }
    }
    out
}

fn grant(g: &DynamicObject) -> Grant {
    let list = |key: &str| g.data["spec"][key].as_array().cloned().unwrap_or_default();
    Grant {
        name: g.metadata.name.clone().unwrap_or_default(),
        from: list("from")
            .iter()
            .map(|f| (text(&f["group"]), text(&f["kind"]), text(&f["namespace"])))
            .collect(),
        to: list("to")
            .iter()
            .map(|t| {
                (
                    text(&t["group"]),
                    text(&t["kind"]),
                    t["name"].as_str().map(String::from),
                )
            })
            .collect(),
    }
}

/// The picker Deployment's readiness, --pool-name and what its
/// ServiceAccount may not do among what the EPP needs.
async fn picker_facts(
    kube: &KubectlArgs,
    session: &Session,
    namespace: &str,
    group: &str,
    d: k8s_openapi::api::apps::v1::Deployment,
) -> anyhow::Result<PickerFacts> {
    let spec = d
        .spec
        .clone()
        .and_then(|s| s.template.spec)
        .unwrap_or_default();
    let service_account = spec
        .service_account_name
        .clone()
        .unwrap_or_else(|| "default".into());
    let pool_name = epp::picker_container(&spec)
        .and_then(|c| epp::flag(&epp::arguments(c), "pool-name").map(String::from));
    let user = format!("system:serviceaccount:{namespace}:{service_account}");
    let mut needed = vec![(String::new(), "pods".to_string())];
    needed.extend(
        doctor::watched(group)
            .into_iter()
            .map(|(g, plural, _)| (g, plural.to_string())),
    );
    let reviews: Api<SubjectAccessReview> = Api::all(session.cluster.client.clone());
    let mut denied = Vec::new();
    for (g, resource) in needed {
        for verb in ["get", "list", "watch"] {
            let review = SubjectAccessReview {
                spec: SubjectAccessReviewSpec {
                    user: Some(user.clone()),
                    groups: Some(vec![
                        "system:serviceaccounts".into(),
                        format!("system:serviceaccounts:{namespace}"),
                        "system:authenticated".into(),
                    ]),
                    resource_attributes: Some(ResourceAttributes {
                        namespace: Some(namespace.to_string()),
                        verb: Some(verb.into()),
                        group: Some(g.clone()),
                        resource: Some(resource.clone()),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                ..Default::default()
            };
            let answer = kplug::client::request(
                kube,
                &session.cluster.server,
                reviews.create(&PostParams::default(), &review),
            )
            .await
            .context("asking the API server what the picker's ServiceAccount may do")?;
            if !answer.status.is_some_and(|s| s.allowed) {
                denied.push((verb.to_string(), g.clone(), resource.clone()));
                // One verb denied says enough about a resource.
                break;
            }
        }
    }
    let status = d.status.unwrap_or_default();
    Ok(PickerFacts {
        deployment: d.metadata.name.unwrap_or_default(),
        ready_replicas: status.ready_replicas.unwrap_or(0),
        replicas: d.spec.and_then(|s| s.replicas).unwrap_or(1),
        pool_name,
        service_account,
        denied,
    })
}

/// Objects of `kind` (every served group) whose poolRef is `pool`.
async fn of_pool(
    kube: &KubectlArgs,
    session: &Session,
    kind: &str,
    namespace: &str,
    pool: &str,
) -> anyhow::Result<Vec<Named>> {
    let mut out = Vec::new();
    for s in session.kinds.iter().filter(|s| s.kind == kind) {
        let items = list_optional(kube, session, &super::cluster::resource(s), Some(namespace))
            .await?
            .unwrap_or_default();
        for o in items
            .iter()
            .filter(|o| o.data["spec"]["poolRef"]["name"] == pool)
        {
            out.push(named(s, o));
        }
    }
    Ok(out)
}

fn named(s: &Served, o: &DynamicObject) -> Named {
    let models = o.data["spec"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["matches"].as_array().into_iter().flatten())
        .filter_map(|m| m["model"]["value"].as_str())
        .map(String::from)
        .collect();
    Named {
        api_version: s.api_version(),
        name: o.metadata.name.clone().unwrap_or_default(),
        created: o
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.to_string())
            .unwrap_or_default(),
        models,
    }
}
