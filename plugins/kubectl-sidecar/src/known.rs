//! What kplug knows about common sidecars by name and image: which family a
//! container belongs to (to spot legacy sidecars and daemons run as init
//! containers) and where each one reports that it is ready (for fixes).

use crate::container::{Container, Port};

/// Families of well-known sidecars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// Service-mesh data plane (Istio, Linkerd, Envoy, Kuma, Consul).
    MeshProxy,
    /// Database or API proxies (Cloud SQL Auth Proxy, AlloyDB, pgbouncer).
    DbProxy,
    /// Secret agents (Vault Agent).
    SecretAgent,
    /// Log shippers (Fluent Bit, Fluentd, Vector, Filebeat, Promtail).
    LogShipper,
    /// Telemetry collectors (OpenTelemetry Collector, Jaeger agent).
    Telemetry,
    /// Dapr's runtime.
    Dapr,
}

impl Family {
    pub fn label(self) -> &'static str {
        match self {
            Family::MeshProxy => "mesh proxy",
            Family::DbProxy => "database proxy",
            Family::SecretAgent => "secret agent",
            Family::LogShipper => "log shipper",
            Family::Telemetry => "telemetry collector",
            Family::Dapr => "dapr runtime",
        }
    }
}

/// (substring of the container name or image, family). The first match wins.
const PATTERNS: &[(&str, Family)] = &[
    ("istio-proxy", Family::MeshProxy),
    ("istio/proxyv2", Family::MeshProxy),
    ("linkerd-proxy", Family::MeshProxy),
    ("linkerd/proxy", Family::MeshProxy),
    ("envoy", Family::MeshProxy),
    ("kuma-sidecar", Family::MeshProxy),
    ("kuma-dp", Family::MeshProxy),
    ("consul-dataplane", Family::MeshProxy),
    ("cloud-sql-proxy", Family::DbProxy),
    ("cloudsql-proxy", Family::DbProxy),
    ("alloydb-auth-proxy", Family::DbProxy),
    ("pgbouncer", Family::DbProxy),
    ("vault-agent", Family::SecretAgent),
    ("hashicorp/vault", Family::SecretAgent),
    ("fluent-bit", Family::LogShipper),
    ("fluentbit", Family::LogShipper),
    ("fluentd", Family::LogShipper),
    ("filebeat", Family::LogShipper),
    ("promtail", Family::LogShipper),
    ("timberio/vector", Family::LogShipper),
    ("otel-collector", Family::Telemetry),
    ("opentelemetry-collector", Family::Telemetry),
    ("jaeger-agent", Family::Telemetry),
    ("daprd", Family::Dapr),
];

/// The family of a container, from its name, image or kubexit settings.
pub fn family(c: &Container) -> Option<Family> {
    let name = c.name.to_ascii_lowercase();
    let image = c.image.to_ascii_lowercase();
    // Mesh init containers set up iptables and exit; they are not daemons.
    if name.ends_with("-init")
        || name == "istio-validation"
        || c.command.iter().any(|a| a == "istio-iptables")
    {
        return None;
    }
    // vault-agent-init and `-exit-after-auth` render secrets once and exit.
    if c.command.iter().any(|a| a.contains("exit-after-auth")) {
        return None;
    }
    PATTERNS
        .iter()
        .find(|(p, _)| name.contains(p) || image.contains(p))
        .map(|(_, f)| *f)
}

/// A container that signals kubexit-style ordering (env `KUBEXIT_*`).
pub fn uses_kubexit(c: &Container) -> bool {
    c.env.iter().any(|(k, _)| k.starts_with("KUBEXIT_"))
}

/// A command that keeps running forever (`sleep infinity`, `tail -f`).
pub fn runs_forever(c: &Container) -> bool {
    let line = c.command_line();
    line.contains("sleep infinity") || line.contains("tail -f") || line.contains("while true")
}

/// Commands that hold a legacy app until its proxy is up.
pub fn is_wait_hook(line: &str) -> bool {
    [
        "pilot-agent wait",
        "linkerd-await",
        "cloud-sql-proxy wait",
        "/healthz/ready",
        "/ready",
    ]
    .iter()
    .any(|p| line.contains(p))
}

/// How an app tells a legacy sidecar to exit (Jobs).
pub fn quits_sidecar(line: &str) -> bool {
    line.contains("quitquitquit")
        || line.contains("linkerd-await --shutdown")
        || line.contains("/shutdown")
}

/// Where a known sidecar reports ready, for a derived startupProbe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyHint {
    pub path: &'static str,
    pub port: Port,
    pub note: &'static str,
}

pub fn ready_hint(c: &Container) -> Option<ReadyHint> {
    let image = c.image.to_ascii_lowercase();
    let name = c.name.to_ascii_lowercase();
    let has = |p: &str| image.contains(p) || name.contains(p);
    if has("istio/proxyv2") || name == "istio-proxy" {
        return Some(ReadyHint {
            path: "/healthz/ready",
            port: Port::Number(15021),
            note: "Istio's agent readiness endpoint",
        });
    }
    if has("linkerd/proxy") || name == "linkerd-proxy" {
        return Some(ReadyHint {
            path: "/ready",
            port: Port::Number(4191),
            note: "Linkerd's proxy admin endpoint",
        });
    }
    if has("cloud-sql-proxy") || has("alloydb-auth-proxy") {
        // The health server listens on --http-port (default 9090) when
        // --health-check is given.
        let port = c
            .command
            .iter()
            .find_map(|a| a.strip_prefix("--http-port=").and_then(|p| p.parse().ok()))
            .unwrap_or(9090);
        return Some(ReadyHint {
            path: "/startup",
            port: Port::Number(port),
            note: "needs --health-check and --http-address=0.0.0.0",
        });
    }
    if has("envoy") {
        let port = c
            .ports
            .iter()
            .find(|p| p.number == 9901 || p.name.as_deref() == Some("admin"))
            .map_or(9901, |p| p.number);
        return Some(ReadyHint {
            path: "/ready",
            port: Port::Number(port),
            note: "Envoy's admin endpoint",
        });
    }
    None
}
