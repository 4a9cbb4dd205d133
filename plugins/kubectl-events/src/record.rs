//! An Event made ready for the store: normalised, classified, templated and
//! fingerprinted.

use kplug::event::Event;
use serde::Serialize;

use crate::classify::{Category, Classifier, Severity};
use crate::template;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub event: Event,
    pub cluster: String,
    pub category: Category,
    pub severity: Severity,
    pub template: String,
    pub owner_root: String,
    pub fingerprint: String,
    /// The node involved: the Node itself, or where the kubelet reported from.
    pub node: String,
}

impl Record {
    pub fn new(event: Event, cluster: &str, classifier: &Classifier) -> Record {
        let (category, severity) = classifier.classify(&event);
        let template = template::template(&event.note);
        let owner_root = template::owner_root(&event.regarding.kind, &event.regarding.name);
        let fingerprint = template::fingerprint(
            cluster,
            &event.regarding.namespace,
            &owner_root,
            &event.reason,
            &template,
        );
        let node = if event.regarding.kind == "Node" {
            event.regarding.name.clone()
        } else if !event.source_host.is_empty() {
            event.source_host.clone()
        } else if event.reporting_controller.contains("kubelet") {
            event
                .reporting_instance
                .trim_start_matches("kubelet-")
                .to_string()
        } else {
            String::new()
        };
        Record {
            cluster: cluster.to_string(),
            category,
            severity,
            template,
            owner_root,
            fingerprint,
            node,
            event,
        }
    }
}
