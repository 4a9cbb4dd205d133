//! Node features in NFD's shape (`NodeFeature.spec.features`, also what
//! `nfd export features` prints), NodeFeature objects, and nfd-master's merge.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

pub const NODE_NAME_LABEL: &str = "nfd.node.kubernetes.io/node-name";
pub const WORKER_VERSION_ANNOTATION: &str = "nfd.node.kubernetes.io/worker.version";

/// Flag, attribute and instance feature sets keyed by `<domain>.<feature>`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Features {
    #[serde(default)]
    pub flags: BTreeMap<String, FlagSet>,
    #[serde(default)]
    pub attributes: BTreeMap<String, AttributeSet>,
    #[serde(default)]
    pub instances: BTreeMap<String, InstanceSet>,
}

/// Go's `struct{}`: serialised as `{}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nil {}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlagSet {
    #[serde(default, deserialize_with = "null_default")]
    pub elements: BTreeMap<String, Nil>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AttributeSet {
    #[serde(default, deserialize_with = "null_default")]
    pub elements: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceSet {
    #[serde(default, deserialize_with = "null_default")]
    pub elements: Vec<Instance>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    #[serde(default, deserialize_with = "null_default")]
    pub attributes: BTreeMap<String, String>,
}

fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl Instance {
    pub fn new<K: Into<String>, V: Into<String>>(attrs: impl IntoIterator<Item = (K, V)>) -> Self {
        Instance {
            attributes: attrs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}

impl Features {
    pub fn insert_flags<S: Into<String>>(&mut self, name: &str, keys: impl IntoIterator<Item = S>) {
        let set = self.flags.entry(name.to_string()).or_default();
        set.elements
            .extend(keys.into_iter().map(|k| (k.into(), Nil {})));
    }

    pub fn insert_attributes(&mut self, name: &str, values: BTreeMap<String, String>) {
        self.attributes
            .entry(name.to_string())
            .or_default()
            .elements
            .extend(values);
    }

    pub fn insert_instances(&mut self, name: &str, instances: Vec<Instance>) {
        self.instances
            .entry(name.to_string())
            .or_default()
            .elements
            .extend(instances);
    }

    /// True when the feature exists in any of the three maps.
    pub fn has(&self, name: &str) -> bool {
        self.flags.contains_key(name)
            || self.attributes.contains_key(name)
            || self.instances.contains_key(name)
    }

    /// Merge `other` into `self` as nfd-master does: flags are a union,
    /// attributes of `other` overwrite, instances are appended. Sets new to
    /// `self` move instead of being copied.
    pub fn absorb(&mut self, other: Features) {
        for (k, v) in other.flags {
            match self.flags.entry(k) {
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert(v);
                }
                std::collections::btree_map::Entry::Occupied(mut e) => {
                    e.get_mut().elements.extend(v.elements)
                }
            }
        }
        for (k, v) in other.attributes {
            match self.attributes.entry(k) {
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert(v);
                }
                std::collections::btree_map::Entry::Occupied(mut e) => {
                    e.get_mut().elements.extend(v.elements)
                }
            }
        }
        for (k, v) in other.instances {
            self.instances
                .entry(k)
                .or_default()
                .elements
                .extend(v.elements);
        }
    }

    /// Every feature name, sorted, each once.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .flags
            .keys()
            .chain(self.attributes.keys())
            .chain(self.instances.keys())
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

/// Features as the engine reads them: the node's features plus the
/// `rule.matched` back-references of the rules evaluated so far, kept apart
/// so evaluating a spec never copies the node's features.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    pub base: &'a Features,
    pub backrefs: Option<&'a AttributeSet>,
}

impl<'a> View<'a> {
    pub fn of(base: &'a Features) -> Self {
        View {
            base,
            backrefs: None,
        }
    }

    pub fn flags(&self, name: &str) -> Option<&'a FlagSet> {
        self.base.flags.get(name)
    }

    pub fn attributes(&self, name: &str) -> Option<&'a AttributeSet> {
        match self.backrefs {
            Some(b) if name == "rule.matched" => Some(b),
            _ => self.base.attributes.get(name),
        }
    }

    pub fn instances(&self, name: &str) -> Option<&'a InstanceSet> {
        self.base.instances.get(name)
    }

    pub fn has(&self, name: &str) -> bool {
        self.flags(name).is_some()
            || self.attributes(name).is_some()
            || self.instances(name).is_some()
    }
}

/// One NodeFeature object reduced to what evaluation needs.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeFeature {
    pub namespace: String,
    pub name: String,
    /// The `nfd.node.kubernetes.io/node-name` label.
    pub node: Option<String>,
    pub worker_version: Option<String>,
    pub created: Option<String>,
    /// The latest `metadata.managedFields[].time`: when it was last written.
    pub updated: Option<String>,
    pub features: Features,
}

/// Features read from a file: a bare feature set, or NodeFeature objects.
#[derive(Debug, Clone, PartialEq)]
pub enum Loaded {
    Features(Features),
    Objects(Vec<NodeFeature>),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Syntax(String),
    #[error("{0}")]
    Shape(String),
    #[error("no NodeFeature objects in the input")]
    Empty,
    #[error("no NodeFeature data for node {0:?} (nodes with data: {1})")]
    NoSuchNode(String, String),
    #[error("the input holds NodeFeature data for {0} nodes ({1}); pick one with --node")]
    Ambiguous(usize, String),
}

/// Parse features JSON or YAML: `nfd export features` output, a NodeFeature,
/// a NodeFeatureList or a `kind: List` of NodeFeatures.
pub fn parse(text: &str) -> Result<Loaded, LoadError> {
    let value: Json = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(json_err) => {
            let trimmed = text.trim_start();
            if trimmed.starts_with('{') || trimmed.starts_with('[') {
                return Err(LoadError::Syntax(format!("invalid JSON: {json_err}")));
            }
            kplug::yaml::from_str(text).map_err(|e| {
                let at = e
                    .location()
                    .map_or(String::new(), |l| format!(" at line {}", l.line()));
                LoadError::Syntax(format!("invalid YAML{at}: {}", kplug::yaml::message(&e)))
            })?
        }
    };
    from_value(value)
}

fn from_value(value: Json) -> Result<Loaded, LoadError> {
    let kind = value.get("kind").and_then(Json::as_str).unwrap_or_default();
    match kind {
        "NodeFeature" => Ok(Loaded::Objects(vec![node_feature(&value, 0)?])),
        "NodeFeatureList" | "List" => {
            let items = value
                .get("items")
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default();
            let objects = items
                .iter()
                .enumerate()
                .filter(|(_, item)| {
                    item.get("kind")
                        .and_then(Json::as_str)
                        .is_none_or(|k| k == "NodeFeature")
                })
                .map(|(i, item)| node_feature(item, i))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Loaded::Objects(objects))
        }
        "" => {
            let Json::Object(map) = &value else {
                return Err(LoadError::Shape(
                    "expected a JSON object of flags, attributes and instances".into(),
                ));
            };
            if let Some(key) = map
                .keys()
                .find(|k| !matches!(k.as_str(), "flags" | "attributes" | "instances"))
            {
                return Err(LoadError::Shape(format!(
                    "unexpected key {key:?}: expected `nfd export features` output (flags, attributes, instances) or a NodeFeature object"
                )));
            }
            serde_json::from_value(value)
                .map(Loaded::Features)
                .map_err(|e| LoadError::Shape(format!("not a feature set: {e}")))
        }
        other => Err(LoadError::Shape(format!(
            "kind {other:?} holds no node features (expected NodeFeature or NodeFeatureList)"
        ))),
    }
}

/// One NodeFeature object from its JSON (`index` names it when it has no name).
pub fn node_feature(item: &Json, index: usize) -> Result<NodeFeature, LoadError> {
    let meta = item.get("metadata").cloned().unwrap_or(Json::Null);
    let text = |v: Option<&Json>| v.and_then(Json::as_str).map(str::to_string);
    let name = text(meta.get("name")).unwrap_or_else(|| format!("items[{index}]"));
    let spec_features = item
        .pointer("/spec/features")
        .cloned()
        .unwrap_or(Json::Null);
    let features = if spec_features.is_null() {
        Features::default()
    } else {
        serde_json::from_value(spec_features)
            .map_err(|e| LoadError::Shape(format!("NodeFeature {name}: spec.features: {e}")))?
    };
    Ok(NodeFeature {
        namespace: text(meta.get("namespace")).unwrap_or_default(),
        node: text(meta.pointer(&format!("/labels/{}", NODE_NAME_LABEL.replace('/', "~1")))),
        worker_version: text(meta.pointer(&format!(
            "/annotations/{}",
            WORKER_VERSION_ANNOTATION.replace('/', "~1")
        ))),
        created: text(meta.get("creationTimestamp")),
        updated: meta["managedFields"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["time"].as_str())
            .max_by_key(|t| crate::time::parse_rfc3339(t).unwrap_or(i64::MIN))
            .map(str::to_string),
        name,
        features,
    })
}

/// Group objects by node and merge each group as nfd-master does: objects in
/// `nfd_namespace` first, then by name, then by namespace. Objects without
/// the node-name label are ignored, as nfd-master ignores them.
/// A node with one object borrows its features; only real merges copy.
pub fn merge_per_node<'a>(
    objects: &'a [NodeFeature],
    nfd_namespace: Option<&str>,
) -> BTreeMap<String, std::borrow::Cow<'a, Features>> {
    let mut groups: BTreeMap<String, Vec<&NodeFeature>> = BTreeMap::new();
    for o in objects {
        if let Some(node) = &o.node {
            groups.entry(node.clone()).or_default().push(o);
        }
    }
    groups
        .into_iter()
        .map(|(node, mut objs)| {
            objs.sort_by(|a, b| {
                let own = |o: &NodeFeature| Some(o.namespace.as_str()) != nfd_namespace;
                (own(a), &a.name, &a.namespace).cmp(&(own(b), &b.name, &b.namespace))
            });
            if let [only] = objs.as_slice() {
                return (node, std::borrow::Cow::Borrowed(&only.features));
            }
            let mut merged = Features::default();
            for o in objs {
                merged.absorb(o.features.clone());
            }
            (node, std::borrow::Cow::Owned(merged))
        })
        .collect()
}

/// The features of one node from loaded data: all of a bare feature set, or
/// the merged objects of `node` (or of the only node present).
pub fn select(loaded: Loaded, node: Option<&str>) -> Result<(Option<String>, Features), LoadError> {
    match loaded {
        Loaded::Features(f) => Ok((None, f)),
        Loaded::Objects(objects) => {
            if objects.is_empty() {
                return Err(LoadError::Empty);
            }
            // A lone object without the label still names its node by its name.
            let objects: Vec<NodeFeature> = if objects.len() == 1 && objects[0].node.is_none() {
                let mut o = objects[0].clone();
                o.node = Some(o.name.clone());
                vec![o]
            } else {
                objects
            };
            let mut per_node = merge_per_node(&objects, Some("node-feature-discovery"));
            let names = per_node.keys().cloned().collect::<Vec<_>>().join(", ");
            match node {
                Some(n) => match per_node.remove(n) {
                    Some(f) => Ok((Some(n.to_string()), f.into_owned())),
                    None => Err(LoadError::NoSuchNode(n.to_string(), names)),
                },
                None if per_node.len() == 1 => {
                    let (n, f) = per_node.into_iter().next().expect("one node");
                    Ok((Some(n), f.into_owned()))
                }
                None => Err(LoadError::Ambiguous(per_node.len(), names)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nf(ns: &str, name: &str, node: &str, attrs: &[(&str, &str)], inst: &str) -> NodeFeature {
        let mut f = Features::default();
        f.insert_flags("kernel.loadedmodule", [name]);
        f.insert_attributes(
            "cpu.model",
            attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        f.insert_instances("pci.device", vec![Instance::new([("vendor", inst)])]);
        NodeFeature {
            namespace: ns.into(),
            name: name.into(),
            node: Some(node.into()),
            worker_version: None,
            created: None,
            updated: None,
            features: f,
        }
    }

    #[test]
    fn merges_like_nfd_master() {
        let objs = vec![
            nf("zz", "b", "n1", &[("vendor_id", "third-party")], "2"),
            nf(
                "nfd",
                "n1",
                "n1",
                &[("vendor_id", "Intel"), ("family", "6")],
                "1",
            ),
            nf("aa", "a", "n1", &[("family", "7")], "3"),
            nf("nfd", "n2", "n2", &[], "9"),
        ];
        let merged = merge_per_node(&objs, Some("nfd"));
        let n1 = &merged["n1"];
        // NFD namespace first, then by name: n1(nfd), a(aa), b(zz).
        assert_eq!(
            n1.attributes["cpu.model"].elements["vendor_id"],
            "third-party"
        );
        assert_eq!(n1.attributes["cpu.model"].elements["family"], "7");
        let vendors: Vec<&str> = n1.instances["pci.device"]
            .elements
            .iter()
            .map(|i| i.attributes["vendor"].as_str())
            .collect();
        assert_eq!(vendors, ["1", "3", "2"]);
        assert_eq!(n1.flags["kernel.loadedmodule"].elements.len(), 3);
        assert_eq!(merged.len(), 2);
    }

    #[test]
    fn parses_export_node_feature_and_lists() {
        let export = r#"{"flags":{"a.b":{"elements":{"x":{}}}},"attributes":{"c.d":{"elements":{"k":"v"}}},"instances":{"e.f":{"elements":[{"attributes":{"n":"1"}}]}}}"#;
        let Loaded::Features(f) = parse(export).unwrap() else {
            panic!()
        };
        assert!(f.flags["a.b"].elements.contains_key("x"));
        assert_eq!(crate::gojson::to_string(&f), export);

        let yaml = "apiVersion: nfd.k8s-sigs.io/v1alpha1\nkind: NodeFeature\nmetadata:\n  name: node-1\n  namespace: nfd\n  labels:\n    nfd.node.kubernetes.io/node-name: node-1\nspec:\n  features:\n    attributes:\n      cpu.model:\n        elements: {vendor_id: Intel}\n";
        let (node, f) = select(parse(yaml).unwrap(), None).unwrap();
        assert_eq!(node.as_deref(), Some("node-1"));
        assert_eq!(f.attributes["cpu.model"].elements["vendor_id"], "Intel");

        let list = r#"{"kind":"NodeFeatureList","items":[
            {"kind":"NodeFeature","metadata":{"name":"a","labels":{"nfd.node.kubernetes.io/node-name":"a"}},"spec":{"features":{"flags":{"x.y":{"elements":{"k":{}}}}}}},
            {"kind":"NodeFeature","metadata":{"name":"b","labels":{"nfd.node.kubernetes.io/node-name":"b"}},"spec":{}}]}"#;
        assert!(matches!(
            select(parse(list).unwrap(), None),
            Err(LoadError::Ambiguous(2, _))
        ));
        let (_, f) = select(parse(list).unwrap(), Some("a")).unwrap();
        assert!(f.has("x.y"));
        assert!(matches!(
            select(parse(list).unwrap(), Some("c")),
            Err(LoadError::NoSuchNode(..))
        ));
    }

    #[test]
    fn rejects_other_shapes() {
        assert!(matches!(parse("{\"spec\": {}}"), Err(LoadError::Shape(_))));
        assert!(matches!(parse("kind: Pod\n"), Err(LoadError::Shape(_))));
        assert!(matches!(parse("{not json"), Err(LoadError::Syntax(_))));
        assert!(matches!(
            parse(r#"{"flags": {"a": {"elements": ["x"]}}}"#),
            Err(LoadError::Shape(_))
        ));
    }
}
