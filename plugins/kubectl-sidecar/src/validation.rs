//! The sidecar-related rules the API server enforces, reproduced offline
//! with the server's own wording, so a manifest can be judged before it is
//! applied. The end-to-end tests check every rule against a real server.

use crate::container::{Container, Handler, List, Probe};
use crate::template::PodTemplate;

/// The API server's minor version (1.x) whose rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KubeVersion {
    pub minor: u32,
}

impl Default for KubeVersion {
    /// The newest release kplug knows (the end-to-end tier's server).
    fn default() -> Self {
        KubeVersion { minor: 36 }
    }
}

impl KubeVersion {
    /// `1.33`, `v1.33.2`, `1.33+`.
    pub fn parse(text: &str) -> Option<KubeVersion> {
        let t = text.trim().trim_start_matches('v');
        let mut parts = t.split('.');
        if parts.next()? != "1" {
            return None;
        }
        let minor: String = parts
            .next()?
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        Some(KubeVersion {
            minor: minor.parse().ok()?,
        })
    }

    /// Native sidecars exist (`SidecarContainers`: alpha 1.28, on from 1.29).
    pub fn sidecars(self) -> bool {
        self.minor >= 29
    }

    /// `ContainerRestartRules` (beta and on by default from 1.35): any
    /// container may carry `restartPolicy`, init containers any value.
    pub fn restart_rules(self) -> bool {
        self.minor >= 35
    }
}

/// The rules of the API server that sidecar analysis reports, by finding code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    DuplicateName,
    RestartPolicy,
    ProbeOnInitContainer,
    Probe,
    Port,
    GrpcNamedPort,
}

impl Rule {
    /// The finding code it is reported under.
    pub fn code(self) -> &'static str {
        match self {
            Rule::DuplicateName => "duplicate-container-name",
            Rule::RestartPolicy => "invalid-restart-policy",
            Rule::ProbeOnInitContainer => "probe-on-init-container",
            Rule::Probe => "invalid-probe",
            Rule::Port => "invalid-port",
            Rule::GrpcNamedPort => "grpc-named-port",
        }
    }
}

/// One error as the API server words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// Which rule it breaks (the finding code).
    pub rule: Rule,
    /// The container it is about.
    pub container: String,
    /// `spec.initContainers[0].startupProbe.successThreshold: Invalid value: 2: must be 1`.
    pub message: String,
}

/// Every error the API server would return for this template, in the order
/// it checks them.
pub fn validate(t: &PodTemplate, version: KubeVersion) -> Vec<ApiError> {
    let mut out = Vec::new();
    decode_errors(t, &mut out);
    if !out.is_empty() {
        // A body that does not decode is refused before validation runs.
        return out;
    }
    let mut seen = std::collections::BTreeSet::new();
    for c in &t.regular {
        if !seen.insert(c.name.as_str()) {
            push(
                &mut out,
                Rule::DuplicateName,
                t,
                c,
                "name",
                format!("Duplicate value: \"{}\"", c.name),
            );
        }
        probes(t, c, &mut out);
        if c.restart_policy.is_some() && !version.restart_rules() {
            push(
                &mut out,
                Rule::RestartPolicy,
                t,
                c,
                "restartPolicy",
                "Forbidden: may not be set for non-init containers".into(),
            );
        }
    }
    let regular: std::collections::BTreeSet<&str> =
        t.regular.iter().map(|c| c.name.as_str()).collect();
    let mut init_names = std::collections::BTreeSet::new();
    for c in &t.init {
        if regular.contains(c.name.as_str()) || !init_names.insert(c.name.as_str()) {
            push(
                &mut out,
                Rule::DuplicateName,
                t,
                c,
                "name",
                format!("Duplicate value: \"{}\"", c.name),
            );
        }
        match c.restart_policy.as_deref() {
            Some("Always") if version.sidecars() => probes(t, c, &mut out),
            policy => {
                if let Some(p) = policy {
                    let allowed = if version.restart_rules() {
                        ["Always", "OnFailure", "Never"].contains(&p)
                    } else {
                        version.sidecars() && p == "Always"
                    };
                    if !allowed {
                        let supported = if version.restart_rules() {
                            "\"Always\", \"Never\", \"OnFailure\""
                        } else {
                            "\"Always\""
                        };
                        push(
                            &mut out,
                            Rule::RestartPolicy,
                            t,
                            c,
                            "restartPolicy",
                            format!("Unsupported value: \"{p}\": supported values: {supported}"),
                        );
                    }
                }
                let detail = if version.sidecars() {
                    "may not be set for init containers without restartPolicy=Always"
                } else {
                    "may not be set for init containers"
                };
                for (field, set) in [
                    ("lifecycle", c.has_lifecycle),
                    ("livenessProbe", c.liveness.is_some()),
                    ("readinessProbe", c.readiness.is_some()),
                    ("startupProbe", c.startup.is_some()),
                ] {
                    if set {
                        push(
                            &mut out,
                            Rule::ProbeOnInitContainer,
                            t,
                            c,
                            field,
                            format!("Forbidden: {detail}"),
                        );
                    }
                }
            }
        }
    }
    port_ranges(t, &mut out);
    out
}

fn push(
    out: &mut Vec<ApiError>,
    rule: Rule,
    t: &PodTemplate,
    c: &Container,
    field: &str,
    detail: String,
) {
    out.push(ApiError {
        rule,
        container: c.name.clone(),
        message: format!("{}.{field}: {detail}", t.path(c)),
    });
}

/// Probe rules that apply to regular containers and sidecars alike.
fn probes(t: &PodTemplate, c: &Container, out: &mut Vec<ApiError>) {
    for (field, p) in probes_of(c) {
        match p.handlers.as_slice() {
            [] => push(
                out,
                Rule::Probe,
                t,
                c,
                field,
                "Required value: must specify a handler type".into(),
            ),
            [_, rest @ ..] => {
                for h in rest {
                    push(
                        out,
                        Rule::Probe,
                        t,
                        c,
                        &format!("{field}.{}", h.field()),
                        "Forbidden: may not specify more than 1 handler type".into(),
                    );
                }
            }
        }
        probe_ranges(t, c, field, p, out);
        if field != "readinessProbe" && p.success != 1 {
            push(
                out,
                Rule::Probe,
                t,
                c,
                &format!("{field}.successThreshold"),
                format!("Invalid value: {}: must be 1", p.success),
            );
        }
        if field == "readinessProbe"
            && let Some(g) = p.termination_grace
        {
            push(
                out,
                Rule::Probe,
                t,
                c,
                &format!("{field}.terminationGracePeriodSeconds"),
                format!("Invalid value: {g}: must not be set for readinessProbes"),
            );
        }
    }
}

/// The fields of a probe that must not be negative (the server's defaults
/// replace zeros first).
const PROBE_COUNTS: [&str; 5] = [
    "initialDelaySeconds",
    "timeoutSeconds",
    "periodSeconds",
    "successThreshold",
    "failureThreshold",
];

/// The API server's range checks on a probe's numbers and ports.
fn probe_ranges(t: &PodTemplate, c: &Container, field: &str, p: &Probe, out: &mut Vec<ApiError>) {
    for name in PROBE_COUNTS {
        if let Some(n) = p.raw.get(name).and_then(serde_json::Value::as_i64)
            && n < 0
        {
            push(
                out,
                Rule::Probe,
                t,
                c,
                &format!("{field}.{name}"),
                format!("Invalid value: {n}: must be greater than or equal to 0"),
            );
        }
    }
    if field != "readinessProbe"
        && let Some(g) = p.termination_grace
        && g <= 0
    {
        push(
            out,
            Rule::Probe,
            t,
            c,
            &format!("{field}.terminationGracePeriodSeconds"),
            format!("Invalid value: {g}: must be greater than 0"),
        );
    }
    for h in &p.handlers {
        let number = match h {
            Handler::Grpc { port } => port.as_i64(),
            other => match other.port() {
                Some(crate::container::Port::Number(n)) => Some(*n),
                _ => None,
            },
        };
        if let Some(n) = number.filter(|n| !(1..=65535).contains(n)) {
            push(
                out,
                Rule::Port,
                t,
                c,
                &format!("{field}.{}.port", h.field()),
                format!("Invalid value: {n}: must be between 1 and 65535, inclusive"),
            );
        }
    }
}

/// Declared container ports outside 1–65535.
fn port_ranges(t: &PodTemplate, out: &mut Vec<ApiError>) {
    for c in t.containers() {
        for (i, p) in c.ports.iter().enumerate() {
            if !(1..=65535).contains(&p.number) {
                let detail = if p.number == 0 {
                    "Required value".to_string()
                } else {
                    format!(
                        "Invalid value: {}: must be between 1 and 65535, inclusive",
                        p.number
                    )
                };
                push(
                    out,
                    Rule::Port,
                    t,
                    c,
                    &format!("ports[{i}].containerPort"),
                    detail,
                );
            }
        }
    }
}

/// Values that do not even decode: a gRPC port must be an integer, and the
/// probes' numbers must fit Go's int32.
fn decode_errors(t: &PodTemplate, out: &mut Vec<ApiError>) {
    for c in t.containers() {
        for (field, p) in probes_of(c) {
            for name in PROBE_COUNTS {
                let Some(n) = p.raw.get(name).filter(|v| v.is_number()) else {
                    continue;
                };
                if n.as_i64().is_none_or(|n| i32::try_from(n).is_err()) {
                    let go_field = format!("Probe.{}.{field}.{name}", list_path(t, c));
                    out.push(decode_error(
                        t,
                        c,
                        Rule::Probe,
                        &format!("number {n}"),
                        &go_field,
                    ));
                }
            }
        }
    }
    for c in t.containers() {
        for (field, p) in probes_of(c) {
            for h in &p.handlers {
                if let Handler::Grpc { port } = h
                    && !(port.is_i64() || port.is_null())
                {
                    let what = if port.is_string() { "string" } else { "value" };
                    let go_field = format!(
                        "GRPCAction.{}.{field}.ProbeHandler.grpc.port",
                        list_path(t, c)
                    );
                    out.push(decode_error(t, c, Rule::GrpcNamedPort, what, &go_field));
                }
            }
        }
    }
}

/// A container's probes that are set, with their field names.
fn probes_of(c: &Container) -> impl Iterator<Item = (&'static str, &Probe)> {
    [
        ("livenessProbe", &c.liveness),
        ("readinessProbe", &c.readiness),
        ("startupProbe", &c.startup),
    ]
    .into_iter()
    .filter_map(|(field, p)| p.as_ref().map(|p| (field, p)))
}

/// `spec.template.spec.initContainers`: the list a container is in, as Go's decoder names it.
fn list_path(t: &PodTemplate, c: &Container) -> String {
    let list = match c.list {
        List::Init => "initContainers",
        List::Regular => "containers",
    };
    format!("{}.{list}", t.spec_path)
}

/// The server's refusal of a body that does not decode into its int32 field.
fn decode_error(
    t: &PodTemplate,
    c: &Container,
    rule: Rule,
    value: &str,
    go_field: &str,
) -> ApiError {
    ApiError {
        rule,
        container: c.name.clone(),
        message: format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: json: cannot unmarshal {value} into Go struct field {go_field} of type int32",
            kind = t.kind,
            version = t.api_version.rsplit('/').next().unwrap_or("v1"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(spec: serde_json::Value) -> PodTemplate {
        PodTemplate::from_value(
            &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}),
        )
        .unwrap()
    }

    #[test]
    fn versions_parse() {
        assert_eq!(
            KubeVersion::parse("v1.33.2"),
            Some(KubeVersion { minor: 33 })
        );
        assert_eq!(KubeVersion::parse("1.29+"), Some(KubeVersion { minor: 29 }));
        assert_eq!(KubeVersion::parse("2.0"), None);
    }

    #[test]
    fn restart_policy_rules_follow_the_version() {
        let t = template(
            json!({"initContainers": [{"name": "i", "restartPolicy": "OnFailure"}],
                                "containers": [{"name": "a", "restartPolicy": "Always"}]}),
        );
        assert!(validate(&t, KubeVersion { minor: 36 }).is_empty());
        let old: Vec<String> = validate(&t, KubeVersion { minor: 33 })
            .into_iter()
            .map(|e| e.message)
            .collect();
        assert_eq!(
            old,
            [
                "spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers",
                "spec.initContainers[0].restartPolicy: Unsupported value: \"OnFailure\": supported values: \"Always\"",
            ]
        );
    }

    #[test]
    fn probes_on_plain_init_containers_use_the_old_wording_before_sidecars() {
        let t = template(
            json!({"initContainers": [{"name": "i", "readinessProbe": {"tcpSocket": {"port": 1}}}],
                                "containers": [{"name": "a"}]}),
        );
        assert_eq!(
            validate(&t, KubeVersion { minor: 27 })[0].message,
            "spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers"
        );
    }
}
