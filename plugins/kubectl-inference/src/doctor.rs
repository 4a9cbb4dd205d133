//! `doctor`'s checks: the troubleshooting guide's symptoms turned into
//! findings, each with its fix. [`diagnose`] is a pure function of the
//! facts the command gathered from the cluster and the model servers.

use kplug::finding::{Finding, ObjectRef, Severity};

use crate::apis::{GIE, GIE_X};
use crate::engine::{Engine, Reading};
use crate::objects::Pool;

/// The EPP reads metrics older than this as stale (v1.5.0's
/// `--metrics-staleness-threshold` default); a scrape slower than this
/// leaves it with stale metrics between refreshes.
pub const STALENESS_MS: u64 = 200;

/// A Pod the pool's selector matches.
#[derive(Debug, Clone, Default)]
pub struct PodFacts {
    pub name: String,
    pub ready: bool,
    /// Every container's declared ports.
    pub container_ports: Vec<i64>,
}

/// One endpoint's scrape.
#[derive(Debug, Clone)]
pub struct Scrape {
    pub endpoint: String,
    pub address: String,
    pub engine: Engine,
    pub reading: Result<Reading, String>,
    pub millis: u64,
}

/// A backendRef of an HTTPRoute that names the pool.
#[derive(Debug, Clone, Default)]
pub struct RouteRef {
    pub route_namespace: String,
    pub route: String,
    /// The ref's group and kind as written (defaults applied: "" and Service).
    pub group: String,
    pub kind: String,
    /// The namespace the ref points into.
    pub namespace: String,
}

/// A ReferenceGrant in the pool's namespace: (from group, kind, namespace)
/// and (to group, kind, optional name).
#[derive(Debug, Clone, Default)]
pub struct Grant {
    pub name: String,
    pub from: Vec<(String, String, String)>,
    pub to: Vec<(String, String, Option<String>)>,
}

/// The EPP's Deployment, as far as it matters here.
#[derive(Debug, Clone, Default)]
pub struct PickerFacts {
    pub deployment: String,
    pub ready_replicas: i32,
    pub replicas: i32,
    /// `--pool-name` of its container, when it has one.
    pub pool_name: Option<String>,
    pub service_account: String,
    /// (verb, group, resource) the ServiceAccount may not do.
    pub denied: Vec<(String, String, String)>,
}

/// An objective or rewrite of the pool, in any group.
#[derive(Debug, Clone, Default)]
pub struct Named {
    pub api_version: String,
    pub name: String,
    /// RFC 3339; the oldest rewrite rule wins in the EPP.
    pub created: String,
    /// For rewrites: the model names its rules match exactly.
    pub models: Vec<String>,
}

/// Everything [`diagnose`] looks at.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub namespace: String,
    pub name: String,
    /// The pool's API group.
    pub group: String,
    pub pool: Option<Pool>,
    /// Kinds the EPP v1.5.0 watches that the cluster does not serve.
    pub missing_kinds: Vec<String>,
    pub pods: Vec<PodFacts>,
    pub scrapes: Vec<Scrape>,
    /// `None` when the cluster serves no HTTPRoute.
    pub routes: Option<Vec<RouteRef>>,
    pub grants: Vec<Grant>,
    /// The picker Service's ports; `None` when it does not exist.
    pub service_ports: Option<Vec<i64>>,
    pub picker: Option<PickerFacts>,
    pub objectives: Vec<Named>,
    pub rewrites: Vec<Named>,
}

impl Facts {
    fn object(&self) -> ObjectRef {
        ObjectRef::new("InferencePool", Some(&self.namespace), &self.name)
    }
}

/// The findings for one pool, in a fixed order.
pub fn diagnose(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    crds(f, &mut out);
    routes(f, &mut out);
    picker(f, &mut out);
    endpoints(f, &mut out);
    metrics(f, &mut out);
    objectives(f, &mut out);
    out
}

fn crds(f: &Facts, out: &mut Vec<Finding>) {
    for kind in &f.missing_kinds {
        out.push(
            Finding::new(
                Severity::Error,
                "missing-crd",
                ObjectRef::new("CustomResourceDefinition", None, kind),
                format!("the cluster does not serve {kind}, which the endpoint picker v1.5.0 watches: it fails to start"),
            )
            .with_fix("install the extension's CRDs of the EPP's release (config/crd/bases of gateway-api-inference-extension)"),
        );
    }
}

fn routes(f: &Facts, out: &mut Vec<Finding>) {
    let Some(routes) = &f.routes else {
        return;
    };
    for r in routes {
        let route = ObjectRef::new("HTTPRoute", Some(&r.route_namespace), &r.route);
        if r.kind != "InferencePool" || r.group != f.group {
            out.push(
                Finding::new(
                    Severity::Error,
                    "route-backend-kind",
                    route.clone(),
                    format!(
                        "its backendRef to {} is {}/{}, but the pool is {}/InferencePool: the gateway reports InvalidKind and answers 500",
                        f.name,
                        if r.group.is_empty() { "core" } else { &r.group },
                        r.kind,
                        f.group
                    ),
                )
                .with_fix(format!("set the backendRef's group: {} and kind: InferencePool", f.group)),
            );
        }
        if r.route_namespace != f.namespace {
            let granted = f.grants.iter().any(|g| {
                g.from.iter().any(|(group, kind, ns)| {
                    group == "gateway.networking.k8s.io"
                        && kind == "HTTPRoute"
                        && *ns == r.route_namespace
                }) && g.to.iter().any(|(group, kind, name)| {
                    *group == f.group
                        && kind == "InferencePool"
                        && name.as_ref().is_none_or(|n| *n == f.name)
                })
            });
            if !granted {
                out.push(
                    Finding::new(
                        Severity::Error,
                        "missing-reference-grant",
                        route,
                        format!(
                            "it routes to InferencePool {}/{} across namespaces, and no ReferenceGrant in {} allows it: ResolvedRefs is False (RefNotPermitted), requests fail with 500",
                            f.namespace, f.name, f.namespace
                        ),
                    )
                    .with_fix(format!(
                        "create a ReferenceGrant in {} from HTTPRoute in {} to {}/InferencePool",
                        f.namespace, r.route_namespace, f.group
                    )),
                );
            }
        }
    }
    if routes.is_empty() {
        out.push(
            Finding::new(
                Severity::Info,
                "no-route",
                f.object(),
                "no HTTPRoute sends traffic to this pool: the gateway answers 404",
            )
            .with_fix("add an HTTPRoute with a backendRef of kind InferencePool"),
        );
    }
}

fn picker(f: &Facts, out: &mut Vec<Finding>) {
    let Some(pool) = &f.pool else {
        return;
    };
    let Some(reference) = &pool.picker else {
        out.push(Finding::new(
            Severity::Error,
            "no-endpoint-picker",
            f.object(),
            "the pool names no endpoint picker: the gateway cannot route to it",
        ));
        return;
    };
    let port = reference.port.unwrap_or(9002);
    let service = ObjectRef::new("Service", Some(&f.namespace), &reference.name);
    match &f.service_ports {
        None => out.push(
            Finding::new(
                Severity::Error,
                "picker-service-missing",
                service.clone(),
                format!("the pool's endpoint picker Service {} does not exist: every request fails", reference.name),
            )
            .with_fix("deploy the EPP (e.g. the inferencepool Helm chart) or fix endpointPickerRef.name"),
        ),
        Some(ports) if !ports.contains(&port) => out.push(
            Finding::new(
                Severity::Error,
                "picker-port-mismatch",
                service.clone(),
                format!(
                    "the pool sends ext_proc to port {port}, but the Service exposes {}",
                    ports.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
                ),
            )
            .with_fix(format!("set endpointPickerRef.port to one of the Service's ports, or expose {port} (the EPP's --grpc-port)")),
        ),
        Some(_) => {}
    }
    let Some(p) = &f.picker else {
        if f.service_ports.is_some() {
            out.push(Finding::new(
                Severity::Warning,
                "picker-deployment-missing",
                service,
                "no Deployment's Pods match the picker Service's selector",
            ));
        }
        return;
    };
    let deployment = ObjectRef::new("Deployment", Some(&f.namespace), &p.deployment);
    if p.ready_replicas < 1 {
        out.push(
            Finding::new(
                Severity::Error,
                "picker-not-ready",
                deployment.clone(),
                format!("{}/{} endpoint picker replicas are ready", p.ready_replicas, p.replicas),
            )
            .with_fix(format!("kubectl logs -n {} deploy/{} (RBAC errors and a wrong --pool-name are the usual causes)", f.namespace, p.deployment)),
        );
    }
    if let Some(name) = &p.pool_name
        && *name != f.name
    {
        out.push(
            Finding::new(
                Severity::Error,
                "picker-pool-name",
                deployment.clone(),
                format!("the picker runs with --pool-name {name}, not {}: it reports \"Pool is not initialized\" and routes nothing", f.name),
            )
            .with_fix(format!("set --pool-name {}", f.name)),
        );
    }
    for (verb, group, resource) in &p.denied {
        out.push(
            Finding::new(
                Severity::Error,
                "picker-rbac",
                ObjectRef::new("ServiceAccount", Some(&f.namespace), &p.service_account),
                format!(
                    "the picker's ServiceAccount cannot {verb} {resource}{}: the EPP fails to sync and crashloops",
                    if group.is_empty() { String::new() } else { format!(".{group}") }
                ),
            )
            .with_fix(format!(
                "grant get, list, watch on {resource} to system:serviceaccount:{}:{} (a Role and RoleBinding)",
                f.namespace, p.service_account
            )),
        );
    }
}

fn endpoints(f: &Facts, out: &mut Vec<Finding>) {
    let Some(pool) = &f.pool else {
        return;
    };
    let matching = f.pods.len();
    let ready = f.pods.iter().filter(|p| p.ready).count();
    if ready == 0 {
        out.push(
            Finding::new(
                Severity::Error,
                "no-ready-endpoints",
                f.object(),
                format!("{matching} Pods match the selector {}, none Ready: the gateway answers 503 no healthy upstream", pool.selector_text()),
            )
            .with_fix("check the selector against the model server Pods' labels, and why they are not Ready"),
        );
    }
    // GIE #2562: a target port no Pod declares still becomes an endpoint in
    // the EPP, whose scrapes and requests then fail.
    for port in &pool.target_ports {
        let declaring = f
            .pods
            .iter()
            .filter(|p| p.container_ports.contains(port))
            .count();
        if matching > 0 && declaring == 0 {
            out.push(
                Finding::new(
                    Severity::Error,
                    "target-port-not-exposed",
                    f.object().with_field(format!("spec.targetPorts[{port}]")),
                    format!("no container of the pool's Pods declares port {port}: requests sent there fail (502/503 upstream connect error)"),
                )
                .with_fix("make targetPorts the model server's containerPort"),
            );
        }
    }
}

fn metrics(f: &Facts, out: &mut Vec<Finding>) {
    for s in &f.scrapes {
        let object = ObjectRef::new("Endpoint", Some(&f.namespace), &s.endpoint);
        match &s.reading {
            Err(e) => out.push(
                Finding::new(
                    Severity::Error,
                    "scrape-failed",
                    object,
                    format!("http://{}/metrics: {e}: the picker routes on zeros it cannot refresh", s.address),
                )
                .with_fix("serve metrics on the target port, or set the data layer's metrics port in the EndpointPickerConfig"),
            ),
            Ok(r) => {
                if !r.missing.is_empty() {
                    out.push(
                        Finding::new(
                            Severity::Warning,
                            "missing-metrics",
                            object.clone(),
                            format!("{} metrics lack {}: the picker reads 0 for them", s.engine.name(), r.missing.join(", ")),
                        )
                        .with_fix(format!(
                            "label the Pod inference.networking.k8s.io/engine-type with its engine (now {}), or configure its metric names in engineConfigs",
                            s.engine.name()
                        )),
                    );
                }
                if s.millis > STALENESS_MS {
                    out.push(
                        Finding::new(
                            Severity::Warning,
                            "stale-metrics",
                            object,
                            format!(
                                "/metrics took {} ms, over the picker's {STALENESS_MS} ms staleness threshold: it counts the endpoint saturated",
                                s.millis
                            ),
                        )
                        .with_fix("make the model server's /metrics faster, or raise --metrics-staleness-threshold"),
                    );
                }
            }
        }
    }
}

fn objectives(f: &Facts, out: &mut Vec<Finding>) {
    let mut seen: Vec<&Named> = Vec::new();
    for o in &f.objectives {
        if let Some(first) = seen.iter().find(|s| s.name == o.name) {
            out.push(
                Finding::new(
                    Severity::Warning,
                    "duplicate-objective",
                    ObjectRef::new("InferenceObjective", Some(&f.namespace), &o.name),
                    format!(
                        "InferenceObjective {} exists as {} and {} for this pool: which priority applies depends on the group the EPP watches",
                        o.name, first.api_version, o.api_version
                    ),
                )
                .with_fix("keep one, in the group your EPP release reads"),
            );
        } else {
            seen.push(o);
        }
    }
    let mut rewrites: Vec<&Named> = f.rewrites.iter().collect();
    rewrites.sort_by(|a, b| a.created.cmp(&b.created).then(a.name.cmp(&b.name)));
    for (i, later) in rewrites.iter().enumerate() {
        for earlier in &rewrites[..i] {
            for model in later.models.iter().filter(|m| earlier.models.contains(m)) {
                out.push(
                    Finding::new(
                        Severity::Warning,
                        "rewrite-conflict",
                        ObjectRef::new("InferenceModelRewrite", Some(&f.namespace), &later.name),
                        format!("its rule for model {model} never applies: {} matches it too and is older, and the oldest rule wins", earlier.name),
                    )
                    .with_fix("merge the rules into one rewrite, or delete the one that never applies"),
                );
            }
        }
    }
}

/// The kinds the EPP v1.5.0 watches, as (group, plural, kind): a missing
/// one stops it at start-up.
pub fn watched(pool_group: &str) -> [(String, &'static str, &'static str); 3] {
    [
        (pool_group.to_string(), "inferencepools", "InferencePool"),
        (
            GIE_X.to_string(),
            "inferenceobjectives",
            "InferenceObjective",
        ),
        (
            GIE_X.to_string(),
            "inferencemodelrewrites",
            "InferenceModelRewrite",
        ),
    ]
}

/// The group a pool of `api_version` belongs to, for messages.
pub fn group_of(api_version: &str) -> &str {
    api_version.split_once('/').map_or(GIE, |(g, _)| g)
}

#[cfg(test)]
mod tests;
