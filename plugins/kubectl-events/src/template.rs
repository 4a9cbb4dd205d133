//! Message templates (variable parts replaced by placeholders), owner roots
//! (a Pod's or ReplicaSet's generated suffixes removed) and the stable
//! fingerprint (cluster, owner root, reason, template) events are grouped by.

use std::sync::LazyLock;

use regex::Regex;
use sha2::{Digest, Sha256};

/// Placeholder rules, applied in order (specific before general).
static RULES: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "<uuid>"),
        (r"sha256:[0-9a-f]{64}", "<digest>"),
        (r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b", "<ip>"),
        (r"\b[0-9a-fA-F:]*:[0-9a-fA-F:]*:[0-9a-fA-F:]+\b", "<ip>"),
        // Names with generated suffixes: web-6d4f9c8b7-x7k2p, job-28473910-abcde.
        (r"\b([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)-(?:[bcdfghjklmnpqrstvwxz2456789]{6,10}|\d{8,})-[bcdfghjklmnpqrstvwxz2456789]{5}([^a-z0-9]|$)", "$1-<pod>$2"),
        (r"\b[0-9a-f]{12,}\b", "<hash>"),
        (r"\b\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h)\b", "<duration>"),
        (r"\b\d+(?:\.\d+)?\b", "<n>"),
    ]
    .into_iter()
    .map(|(p, r)| (Regex::new(p).expect("template patterns compile"), r))
    .collect()
});

const COMBINED: &str = "(combined from similar events): ";

/// The message with its variable parts replaced: `Back-off restarting failed
/// container app in pod web-<pod>`.
pub fn template(message: &str) -> String {
    let mut out = message
        .strip_prefix(COMBINED)
        .unwrap_or(message)
        .trim()
        .to_string();
    for (re, with) in RULES.iter() {
        out = re.replace_all(&out, *with).into_owned();
    }
    out
}

static POD_SUFFIX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"-[bcdfghjklmnpqrstvwxz2456789]{5}$").expect("compiles"));
static SET_SUFFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"-(?:[bcdfghjklmnpqrstvwxz2456789]{6,10}|\d{8,})$").expect("compiles")
});
static ORDINAL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"-\d+$").expect("compiles"));

/// The name of the object at the top of `kind/name`'s owner chain, guessed
/// from Kubernetes' generated names: a Pod `web-6d4f9c8b7-x7k2p` and its
/// ReplicaSet `web-6d4f9c8b7` both belong to `web`; a CronJob's Pod
/// `backup-28473910-abcde` to `backup`; a StatefulSet's `db-0` to `db`.
/// The kubelet's generated-name alphabet has no vowels and no 0, 1 or 3,
/// which keeps ordinary names intact.
pub fn owner_root(kind: &str, name: &str) -> String {
    let mut root = name.to_string();
    match kind {
        "Pod" => {
            if let Some(m) = POD_SUFFIX.find(&root) {
                root.truncate(m.start());
                if let Some(m) = SET_SUFFIX.find(&root) {
                    root.truncate(m.start());
                }
            } else if let Some(m) = ORDINAL.find(&root) {
                root.truncate(m.start());
            }
        }
        "ReplicaSet" | "Job" => {
            if let Some(m) = SET_SUFFIX.find(&root) {
                root.truncate(m.start());
            }
        }
        _ => {}
    }
    root
}

/// 16 hex digits identifying (cluster, namespace, owner root, reason,
/// template); stable across releases of kplug as long as templates are.
pub fn fingerprint(
    cluster: &str,
    namespace: &str,
    root: &str,
    reason: &str,
    template: &str,
) -> String {
    stable_id(&[cluster, namespace, root, reason, template])
}

/// 16 hex digits of SHA-256 over `parts`, each ended by a NUL (so parts
/// cannot run into each other): the same on every build and platform.
pub fn stable_id(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for part in parts {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_hide_what_varies() {
        assert_eq!(
            template(
                "Back-off restarting failed container app in pod web-6d4f9c8b7-x7k2p_shop(0b7c1c2e-4a55-4a51-9d8e-1f0e9d2f6a10)"
            ),
            "Back-off restarting failed container app in pod web-<pod>_shop(<uuid>)"
        );
        assert_eq!(
            template(
                "Successfully pulled image \"nginx:1.27\" in 1.203s (1.203s including waiting). Image size: 72099410 bytes."
            ),
            "Successfully pulled image \"nginx:<n>\" in <duration> (<duration> including waiting). Image size: <n> bytes."
        );
        assert_eq!(
            template(
                "(combined from similar events): Readiness probe failed: Get \"http://10.244.1.7:8080/ready\": dial tcp 10.244.1.7:8080: connect: connection refused"
            ),
            "Readiness probe failed: Get \"http://<ip>/ready\": dial tcp <ip>: connect: connection refused"
        );
        assert_eq!(
            template(
                "0/5 nodes are available: 3 Insufficient cpu, 2 node(s) had untolerated taint."
            ),
            "<n>/<n> nodes are available: <n> Insufficient cpu, <n> node(s) had untolerated taint."
        );
        assert_eq!(
            template("Created container istio-proxy"),
            "Created container istio-proxy"
        );
    }

    #[test]
    fn owner_roots_strip_generated_suffixes_only() {
        assert_eq!(owner_root("Pod", "web-6d4f9c8b7-x7k2p"), "web");
        assert_eq!(owner_root("ReplicaSet", "web-6d4f9c8b7"), "web");
        assert_eq!(owner_root("Pod", "backup-28473910-bcdfg"), "backup");
        assert_eq!(owner_root("Pod", "db-0"), "db");
        assert_eq!(owner_root("Pod", "node-exporter-x7k2p"), "node-exporter");
        assert_eq!(
            owner_root("Pod", "my-app"),
            "my-app",
            "vowels: not generated"
        );
        assert_eq!(owner_root("Deployment", "web-6d4f9c8b7"), "web-6d4f9c8b7");
    }

    #[test]
    fn fingerprints_are_stable_and_separate_their_parts() {
        let a = fingerprint("prod", "shop", "web", "BackOff", "x");
        assert_eq!(a, fingerprint("prod", "shop", "web", "BackOff", "x"));
        assert_eq!(a.len(), 16);
        assert_ne!(fingerprint("prod", "shop", "webB", "ackOff", "x"), a);
    }
}
