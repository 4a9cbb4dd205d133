//! Category and severity of an Event from its reason, reporting component
//! and message (../shared/specs/events.md §5). Several reasons are
//! overloaded — the kubelet's `Failed` and `BackOff` cover image pulls and
//! container starts alike — so rules may also match the message; and some
//! Normal events are serious (`NodeHasInsufficientMemory`). Users add or
//! override rules in YAML; theirs are tried first.

use regex::Regex;
use serde::{Deserialize, Serialize};

use kplug::event::Event;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    Scheduling,
    Image,
    Lifecycle,
    Crash,
    Probes,
    Volumes,
    Storage,
    Networking,
    NodeHealth,
    NodeProblem,
    Pressure,
    Oom,
    Autoscaling,
    Workloads,
    Jobs,
    Disruption,
    Configuration,
    Other,
}

impl Category {
    pub const ALL: [Category; 18] = [
        Category::Scheduling,
        Category::Image,
        Category::Lifecycle,
        Category::Crash,
        Category::Probes,
        Category::Volumes,
        Category::Storage,
        Category::Networking,
        Category::NodeHealth,
        Category::NodeProblem,
        Category::Pressure,
        Category::Oom,
        Category::Autoscaling,
        Category::Workloads,
        Category::Jobs,
        Category::Disruption,
        Category::Configuration,
        Category::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Scheduling => "scheduling",
            Category::Image => "image",
            Category::Lifecycle => "lifecycle",
            Category::Crash => "crash",
            Category::Probes => "probes",
            Category::Volumes => "volumes",
            Category::Storage => "storage",
            Category::Networking => "networking",
            Category::NodeHealth => "node-health",
            Category::NodeProblem => "node-problem",
            Category::Pressure => "pressure",
            Category::Oom => "oom",
            Category::Autoscaling => "autoscaling",
            Category::Workloads => "workloads",
            Category::Jobs => "jobs",
            Category::Disruption => "disruption",
            Category::Configuration => "configuration",
            Category::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Ordered: `Info < Low < Medium < High < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Every severity, least severe first.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// One rule: every condition given must hold.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub reason: String,
    /// `Normal` or `Warning`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// Substring of the reporting component (`kubelet`, `scheduler` …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// The kind of the object the event is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// A regular expression the message must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub category: Category,
    pub severity: Severity,
}

/// A rule with its message pattern compiled.
#[derive(Debug, Clone)]
struct Compiled {
    rule: Rule,
    message: Option<Regex>,
}

/// The rule table: user rules first, then the built-in ones.
#[derive(Debug, Clone)]
pub struct Classifier {
    rules: Vec<Compiled>,
}

/// A rules file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    #[error("rules file, line {line}: {message}")]
    Parse { line: usize, message: String },
    #[error("rule {index} (reason {reason}): bad message pattern: {message}")]
    Pattern {
        index: usize,
        reason: String,
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    rules: Vec<Rule>,
    /// Incident rules, read by [`crate::incidents::rules_from_yaml`].
    #[serde(default, rename = "incidents")]
    _incidents: Vec<serde::de::IgnoredAny>,
    /// Alert rules and their sinks, read by [`crate::alerts::config::from_yaml`].
    #[serde(default, rename = "alerts")]
    _alerts: Vec<serde::de::IgnoredAny>,
    #[serde(default, rename = "sinks")]
    _sinks: Vec<serde::de::IgnoredAny>,
}

use Category as C;
use Severity as S;

/// (reason, type, component, message pattern, category, severity).
type BuiltIn = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Category,
    Severity,
);

/// The built-in rules, most specific first; see events.md §5.
#[rustfmt::skip]
const BUILT_IN: &[BuiltIn] = &[
    // Scheduling and the cluster autoscaler.
    ("Scheduled", None, None, None, C::Scheduling, S::Info),
    ("FailedScheduling", None, None, None, C::Scheduling, S::Medium),
    ("Preempted", None, None, None, C::Scheduling, S::Medium),
    ("NotTriggerScaleUp", None, None, None, C::Scheduling, S::Medium),
    ("TriggeredScaleUp", None, None, None, C::Autoscaling, S::Info),
    ("FailedToScaleUpGroup", None, None, None, C::Autoscaling, S::High),
    ("ScaleDown", None, None, None, C::Autoscaling, S::Info),
    ("ScaleDownFailed", None, None, None, C::Autoscaling, S::Medium),
    // The kubelet refusing a Pod at admission.
    ("OutOfcpu", None, None, None, C::Pressure, S::High),
    ("OutOfmemory", None, None, None, C::Pressure, S::High),
    ("OutOfpods", None, None, None, C::Pressure, S::High),
    ("OutOfephemeral-storage", None, None, None, C::Pressure, S::High),
    ("UnexpectedAdmissionError", None, None, None, C::Scheduling, S::High),
    ("NodeAffinity", None, None, None, C::Scheduling, S::High),
    // Images: `Failed` and `BackOff` are shared with container starts.
    ("Pulling", None, None, None, C::Image, S::Info),
    ("Pulled", None, None, None, C::Image, S::Info),
    ("Failed", None, None, Some(r"(?i)pull|ErrImagePull|ImagePullBackOff|manifest unknown|InvalidImageName"), C::Image, S::High),
    ("BackOff", None, None, Some(r"(?i)back-off pulling image|ImagePullBackOff"), C::Image, S::Medium),
    ("InspectFailed", None, None, None, C::Image, S::High),
    ("ErrImageNeverPull", None, None, None, C::Image, S::High),
    // Configuration errors surface as `Failed` with the state reason in the message.
    ("Failed", None, None, Some(r#"(?i)CreateContainerConfigError|(configmap|secret)s? "[^"]*" not found|couldn't find key"#), C::Configuration, S::High),
    ("FailedValidation", None, None, None, C::Configuration, S::High),
    // Container lifecycle and crashes.
    ("Created", None, None, None, C::Lifecycle, S::Info),
    ("Started", None, None, None, C::Lifecycle, S::Info),
    ("Killing", None, None, Some(r"(?i)failed (liveness|startup) probe"), C::Probes, S::Medium),
    ("Killing", None, None, None, C::Lifecycle, S::Low),
    ("Preempting", None, None, None, C::Lifecycle, S::Medium),
    ("ExceededGracePeriod", None, None, None, C::Lifecycle, S::Medium),
    ("Failed", None, None, None, C::Lifecycle, S::High),
    ("BackOff", None, None, None, C::Crash, S::High),
    ("FailedPostStartHook", None, None, None, C::Crash, S::High),
    ("FailedPreStopHook", None, None, None, C::Crash, S::Medium),
    ("FailedKillPod", None, None, None, C::Crash, S::High),
    ("FailedCreatePodContainer", None, None, None, C::Crash, S::High),
    ("FailedSync", None, None, None, C::Crash, S::Medium),
    // Probes.
    ("Unhealthy", None, None, Some(r"(?i)^liveness probe"), C::Probes, S::High),
    ("Unhealthy", None, None, None, C::Probes, S::Medium),
    ("ProbeWarning", None, None, None, C::Probes, S::Low),
    // Volumes.
    ("FailedAttachVolume", None, None, Some(r"(?i)multi-attach"), C::Volumes, S::High),
    ("FailedAttachVolume", None, None, None, C::Volumes, S::High),
    ("FailedMount", None, None, None, C::Volumes, S::High),
    ("SuccessfulMountVolume", None, None, None, C::Volumes, S::Info),
    ("SuccessfulAttachVolume", None, None, None, C::Volumes, S::Info),
    ("FailedDetachVolume", None, None, None, C::Volumes, S::Medium),
    ("FailedMapVolume", None, None, None, C::Volumes, S::High),
    ("AlreadyMountedVolume", None, None, None, C::Volumes, S::Low),
    ("FailedMountOnFilesystemMismatch", None, None, None, C::Volumes, S::High),
    ("VolumeResizeFailed", None, None, None, C::Volumes, S::Medium),
    ("VolumeResizeSuccessful", None, None, None, C::Volumes, S::Info),
    ("FileSystemResizeFailed", None, None, None, C::Volumes, S::Medium),
    ("FileSystemResizeSuccessful", None, None, None, C::Volumes, S::Info),
    ("ExternalExpanding", None, None, None, C::Volumes, S::Info),
    ("Resizing", None, None, None, C::Volumes, S::Info),
    // Storage: claims and volumes.
    ("ProvisioningSucceeded", None, None, None, C::Storage, S::Info),
    ("ProvisioningFailed", None, None, None, C::Storage, S::High),
    ("ExternalProvisioning", None, None, None, C::Storage, S::Info),
    ("Provisioning", None, None, None, C::Storage, S::Info),
    ("WaitForFirstConsumer", None, None, None, C::Storage, S::Info),
    ("WaitForPodScheduled", None, None, None, C::Storage, S::Info),
    ("FailedBinding", None, None, None, C::Storage, S::Medium),
    ("VolumeMismatch", None, None, None, C::Storage, S::Medium),
    ("VolumeFailedDelete", None, None, None, C::Storage, S::Medium),
    ("VolumeFailedRecycle", None, None, None, C::Storage, S::Medium),
    ("VolumeRecycled", None, None, None, C::Storage, S::Info),
    ("RecyclerPod", None, None, None, C::Storage, S::Info),
    // Networking.
    ("FailedCreatePodSandBox", None, None, None, C::Networking, S::High),
    ("SandboxChanged", None, None, None, C::Networking, S::Low),
    ("FailedPodSandBoxStatus", None, None, None, C::Networking, S::Medium),
    ("NetworkNotReady", None, None, None, C::Networking, S::High),
    ("DNSConfigForming", None, None, None, C::Networking, S::Low),
    ("EnsuringLoadBalancer", None, None, None, C::Networking, S::Info),
    ("EnsuredLoadBalancer", None, None, None, C::Networking, S::Info),
    ("SyncLoadBalancerFailed", None, None, None, C::Networking, S::High),
    ("UpdatedLoadBalancer", None, None, None, C::Networking, S::Info),
    ("DeletingLoadBalancer", None, None, None, C::Networking, S::Info),
    ("DeletedLoadBalancer", None, None, None, C::Networking, S::Info),
    ("FailedToUpdateEndpoint", None, None, None, C::Networking, S::Medium),
    ("FailedToUpdateEndpointSlices", None, None, None, C::Networking, S::Medium),
    // Node health: NodeNotReady is Warning on Pods, Normal on the Node.
    ("NodeNotReady", None, None, None, C::NodeHealth, S::Critical),
    ("NodeReady", None, None, None, C::NodeHealth, S::Info),
    ("NodeSchedulable", None, None, None, C::NodeHealth, S::Info),
    ("NodeNotSchedulable", None, None, None, C::NodeHealth, S::Low),
    ("Starting", None, None, None, C::NodeHealth, S::Info),
    ("KubeletSetupFailed", None, None, None, C::NodeHealth, S::Critical),
    ("Rebooted", None, None, None, C::NodeHealth, S::High),
    ("RegisteredNode", None, None, None, C::NodeHealth, S::Info),
    ("RemovingNode", None, None, None, C::NodeHealth, S::Low),
    ("DeletingNode", None, None, None, C::NodeHealth, S::Low),
    ("NodeAllocatableEnforced", None, None, None, C::NodeHealth, S::Info),
    ("FailedNodeAllocatableEnforcement", None, None, None, C::NodeHealth, S::High),
    ("InvalidDiskCapacity", None, None, None, C::NodeHealth, S::Medium),
    ("FreeDiskSpaceFailed", None, None, None, C::NodeHealth, S::High),
    ("ImageGCFailed", None, None, None, C::NodeHealth, S::Medium),
    ("ContainerGCFailed", None, None, None, C::NodeHealth, S::Medium),
    // node-problem-detector.
    ("KernelOops", None, None, None, C::NodeProblem, S::Critical),
    ("TaskHung", None, None, None, C::NodeProblem, S::High),
    ("UnregisterNetDevice", None, None, None, C::NodeProblem, S::High),
    ("Ext4Error", None, None, None, C::NodeProblem, S::Critical),
    ("IOError", None, None, None, C::NodeProblem, S::Critical),
    ("MemoryReadError", None, None, None, C::NodeProblem, S::Critical),
    ("DockerHung", None, None, None, C::NodeProblem, S::High),
    ("FilesystemIsReadOnly", None, None, None, C::NodeProblem, S::Critical),
    // Pressure and eviction: the bad condition transitions are Normal events.
    ("NodeHasInsufficientMemory", None, None, None, C::Pressure, S::High),
    ("NodeHasSufficientMemory", None, None, None, C::Pressure, S::Info),
    ("NodeHasDiskPressure", None, None, None, C::Pressure, S::High),
    ("NodeHasNoDiskPressure", None, None, None, C::Pressure, S::Info),
    ("NodeHasInsufficientPID", None, None, None, C::Pressure, S::High),
    ("NodeHasSufficientPID", None, None, None, C::Pressure, S::Info),
    ("EvictionThresholdMet", None, None, None, C::Pressure, S::High),
    ("Evicted", None, None, None, C::Pressure, S::High),
    ("TaintManagerEviction", None, None, None, C::Pressure, S::Medium),
    ("NodeControllerEviction", None, None, None, C::Pressure, S::Medium),
    // Out of memory.
    ("OOMKilling", None, None, None, C::Oom, S::High),
    ("SystemOOM", None, None, None, C::Oom, S::Critical),
    // Autoscaling.
    ("SuccessfulRescale", None, None, None, C::Autoscaling, S::Info),
    ("FailedGetResourceMetric", None, None, None, C::Autoscaling, S::Medium),
    ("FailedGetPodsMetric", None, None, None, C::Autoscaling, S::Medium),
    ("FailedGetObjectMetric", None, None, None, C::Autoscaling, S::Medium),
    ("FailedGetExternalMetric", None, None, None, C::Autoscaling, S::Medium),
    ("FailedGetContainerResourceMetric", None, None, None, C::Autoscaling, S::Medium),
    ("FailedComputeMetricsReplicas", None, None, None, C::Autoscaling, S::Medium),
    ("FailedGetScale", None, None, None, C::Autoscaling, S::Medium),
    ("FailedRescale", None, None, None, C::Autoscaling, S::High),
    ("FailedConvertHPA", None, None, None, C::Autoscaling, S::Medium),
    ("EvictedByVPA", None, None, None, C::Autoscaling, S::Low),
    // Workload controllers.
    ("ScalingReplicaSet", None, None, None, C::Workloads, S::Info),
    ("SuccessfulCreate", None, None, None, C::Workloads, S::Info),
    ("SuccessfulDelete", None, None, None, C::Workloads, S::Info),
    ("FailedCreate", None, None, None, C::Workloads, S::High),
    ("FailedDelete", None, None, None, C::Workloads, S::Medium),
    ("RecreatingFailedPod", None, None, None, C::Workloads, S::Medium),
    ("FailedDaemonPod", None, None, None, C::Workloads, S::High),
    // Jobs and CronJobs.
    ("Completed", None, None, None, C::Jobs, S::Info),
    ("BackoffLimitExceeded", None, None, None, C::Jobs, S::High),
    ("DeadlineExceeded", None, None, None, C::Jobs, S::High),
    ("PodFailurePolicy", None, None, None, C::Jobs, S::High),
    ("Suspended", None, None, None, C::Jobs, S::Info),
    ("Resumed", None, None, None, C::Jobs, S::Info),
    ("SawCompletedJob", None, None, None, C::Jobs, S::Info),
    ("MissSchedule", None, None, None, C::Jobs, S::Medium),
    ("UnexpectedJob", None, None, None, C::Jobs, S::Medium),
    ("JobAlreadyActive", None, None, None, C::Jobs, S::Low),
    ("TooManyMissedTimes", None, None, None, C::Jobs, S::High),
    ("FailedNeedsStart", None, None, None, C::Jobs, S::Medium),
    // PodDisruptionBudgets.
    ("NoPods", None, None, None, C::Disruption, S::Low),
    ("CalculateExpectedPodCountFailed", None, None, None, C::Disruption, S::Medium),
    ("NoControllers", None, None, None, C::Disruption, S::Medium),
];

impl Default for Classifier {
    fn default() -> Self {
        let rules = BUILT_IN
            .iter()
            .map(
                |(reason, event_type, component, message, category, severity)| Compiled {
                    rule: Rule {
                        reason: (*reason).into(),
                        event_type: event_type.map(Into::into),
                        component: component.map(Into::into),
                        kind: None,
                        message: message.map(Into::into),
                        category: *category,
                        severity: *severity,
                    },
                    message: message.map(|m| Regex::new(m).expect("built-in patterns compile")),
                },
            )
            .collect();
        Classifier { rules }
    }
}

impl Classifier {
    /// The built-in rules with `yaml`'s rules (`rules: [...]`) tried first.
    pub fn with_rules(yaml: &str) -> Result<Classifier, RulesError> {
        let file: RulesFile = kplug::yaml::from_str(yaml).map_err(|e| RulesError::Parse {
            line: e.location().map_or(0, |l| l.line() as usize),
            message: kplug::yaml::message(&e),
        })?;
        let mut user = Vec::new();
        for (index, rule) in file.rules.into_iter().enumerate() {
            let message = match &rule.message {
                Some(m) => Some(Regex::new(m).map_err(|e| {
                    RulesError::Pattern {
                        index,
                        reason: rule.reason.clone(),
                        message: e
                            .to_string()
                            .lines()
                            .last()
                            .unwrap_or("")
                            .trim()
                            .to_string(),
                    }
                })?),
                None => None,
            };
            user.push(Compiled { rule, message });
        }
        let mut c = Classifier::default();
        user.append(&mut c.rules);
        Ok(Classifier { rules: user })
    }

    /// The number of rules (user and built-in).
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Category and severity; unknown reasons are `other`, medium when a
    /// Warning and info otherwise.
    pub fn classify(&self, e: &Event) -> (Category, Severity) {
        for c in &self.rules {
            let r = &c.rule;
            if r.reason != e.reason {
                continue;
            }
            if r.event_type.as_ref().is_some_and(|t| t != &e.event_type) {
                continue;
            }
            if r.component
                .as_ref()
                .is_some_and(|p| !e.reporting_controller.contains(p.as_str()))
            {
                continue;
            }
            if r.kind.as_ref().is_some_and(|k| k != &e.regarding.kind) {
                continue;
            }
            if c.message.as_ref().is_some_and(|m| !m.is_match(&e.note)) {
                continue;
            }
            return (r.category, r.severity);
        }
        if e.is_warning() {
            (Category::Other, Severity::Medium)
        } else {
            (Category::Other, Severity::Info)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(reason: &str, kind: &str, message: &str, event_type: &str) -> Event {
        Event::from_value(&json!({
            "metadata": {"name": "e", "namespace": "ns", "uid": "u"},
            "involvedObject": {"kind": kind, "name": "x"},
            "reason": reason, "message": message, "type": event_type,
            "source": {"component": "kubelet"}
        }))
        .unwrap()
    }

    #[test]
    fn overloaded_reasons_are_told_apart_by_message() {
        let c = Classifier::default();
        assert_eq!(
            c.classify(&event("Failed", "Pod", "Error: ErrImagePull", "Warning")),
            (C::Image, S::High)
        );
        assert_eq!(
            c.classify(&event(
                "Failed",
                "Pod",
                "Error: configmap \"app-config\" not found",
                "Warning"
            )),
            (C::Configuration, S::High)
        );
        assert_eq!(
            c.classify(&event(
                "Failed",
                "Pod",
                "Error: failed to start container",
                "Warning"
            )),
            (C::Lifecycle, S::High)
        );
        assert_eq!(
            c.classify(&event(
                "BackOff",
                "Pod",
                "Back-off pulling image \"x:1\"",
                "Normal"
            )),
            (C::Image, S::Medium)
        );
        assert_eq!(
            c.classify(&event(
                "BackOff",
                "Pod",
                "Back-off restarting failed container app in pod web",
                "Warning"
            )),
            (C::Crash, S::High)
        );
        assert_eq!(
            c.classify(&event(
                "Unhealthy",
                "Pod",
                "Liveness probe failed: timeout",
                "Warning"
            )),
            (C::Probes, S::High)
        );
        assert_eq!(
            c.classify(&event(
                "Unhealthy",
                "Pod",
                "Readiness probe failed: 503",
                "Warning"
            )),
            (C::Probes, S::Medium)
        );
    }

    #[test]
    fn normal_but_serious_and_unknown_reasons() {
        let c = Classifier::default();
        assert_eq!(
            c.classify(&event(
                "NodeHasInsufficientMemory",
                "Node",
                "Node n status is now: NodeHasInsufficientMemory",
                "Normal"
            )),
            (C::Pressure, S::High)
        );
        assert_eq!(
            c.classify(&event("Issuing", "Certificate", "issuing", "Normal")),
            (C::Other, S::Info)
        );
        assert_eq!(
            c.classify(&event("ReconcileFailed", "Kustomization", "x", "Warning")),
            (C::Other, S::Medium)
        );
    }

    #[test]
    fn the_catalogue_is_covered() {
        let reasons: std::collections::BTreeSet<&str> = BUILT_IN.iter().map(|r| r.0).collect();
        assert!(reasons.len() >= 120, "{} reasons", reasons.len());
    }

    #[test]
    fn user_rules_come_first_and_bad_ones_are_clear() {
        let c = Classifier::with_rules(
            "rules:\n- reason: Issuing\n  category: configuration\n  severity: low\n- reason: BackOff\n  message: '(?i)restarting failed container sidecar'\n  category: crash\n  severity: medium\n",
        )
        .unwrap();
        assert_eq!(
            c.classify(&event("Issuing", "Certificate", "x", "Normal")),
            (C::Configuration, S::Low)
        );
        assert_eq!(
            c.classify(&event(
                "BackOff",
                "Pod",
                "Back-off restarting failed container sidecar in pod p",
                "Warning"
            )),
            (C::Crash, S::Medium)
        );
        assert_eq!(
            c.classify(&event(
                "BackOff",
                "Pod",
                "Back-off restarting failed container app in pod p",
                "Warning"
            )),
            (C::Crash, S::High)
        );
        let bad = Classifier::with_rules(
            "rules:\n- reason: X\n  message: '('\n  category: crash\n  severity: low\n",
        )
        .unwrap_err();
        assert!(matches!(bad, RulesError::Pattern { index: 0, .. }), "{bad}");
        let unknown =
            Classifier::with_rules("rules:\n- reason: X\n  categroy: crash\n  severity: low\n")
                .unwrap_err();
        assert!(
            matches!(unknown, RulesError::Parse { line: 3, .. }),
            "{unknown}"
        );
    }
}
