//! An Event made ready for the store: normalised, classified, templated and
//! fingerprinted.

use std::collections::HashMap;

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
    /// The Event as received, as compact JSON (`event.raw` is emptied: the
    /// tree is large, and this is made on the thread that prepares).
    #[serde(skip)]
    pub raw: String,
}

/// Makes Records for one cluster, remembering message templates: the same
/// message comes back with every count bump and relist, and templating it
/// again is most of the cost of preparing an Event.
pub struct Preparer<'a> {
    cluster: String,
    classifier: &'a Classifier,
    templates: HashMap<String, String>,
}

/// Templates remembered at most (then forgotten all at once).
const TEMPLATES: usize = 50_000;

impl<'a> Preparer<'a> {
    pub fn new(cluster: &str, classifier: &'a Classifier) -> Self {
        Preparer {
            cluster: cluster.to_string(),
            classifier,
            templates: HashMap::new(),
        }
    }

    pub fn record(&mut self, mut event: Event) -> Record {
        event.cluster = Some(self.cluster.clone());
        let template = match self.templates.get(&event.note) {
            Some(t) => t.clone(),
            None => {
                if self.templates.len() >= TEMPLATES {
                    self.templates.clear();
                }
                let t = template::template(&event.note);
                self.templates.insert(event.note.clone(), t.clone());
                t
            }
        };
        Record::with_template(event, &self.cluster, self.classifier, template)
    }
}

impl Record {
    pub fn new(event: Event, cluster: &str, classifier: &Classifier) -> Record {
        let template = template::template(&event.note);
        Record::with_template(event, cluster, classifier, template)
    }

    fn with_template(
        mut event: Event,
        cluster: &str,
        classifier: &Classifier,
        template: String,
    ) -> Record {
        let (category, severity) = classifier.classify(&event);
        let raw = std::mem::take(&mut event.raw).to_string();
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
            raw,
        }
    }
}
