//! Feature types, term and rule logic, vars and back-references, built from
//! NFD's semantics: flags, attributes and instances and their union,
//! matchName, matchFeatures (AND), matchAny (OR), missing features.

use std::collections::BTreeMap;

use super::*;
use crate::features::{Features, Instance, View};
use crate::spec::{self, Expression, GroupRule, Term};

fn features() -> Features {
    let mut f = Features::default();
    f.insert_flags("kernel.loadedmodule", ["vfio-pci", "ip_tables"]);
    f.insert_flags("cpu.cpuid", ["AVX", "AVX2", "SSE4"]);
    f.insert_attributes(
        "cpu.cpuid",
        [("AVX10_VERSION".to_string(), "1".to_string())].into(),
    );
    f.insert_attributes(
        "cpu.model",
        [("vendor_id", "Intel"), ("family", "6"), ("id", "143")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    f.insert_attributes(
        "kernel.version",
        [("full".to_string(), "5.15.0-91-generic".to_string())].into(),
    );
    f.insert_attributes("cpu.rdt", BTreeMap::new());
    f.insert_instances(
        "pci.device",
        vec![
            Instance::new([("vendor", "8086"), ("class", "0600")]),
            Instance::new([
                ("vendor", "10de"),
                ("class", "0302"),
                ("sriov_totalvfs", "8"),
            ]),
            Instance::new([("vendor", "15b3"), ("class", "0200")]),
        ],
    );
    f.insert_instances("usb.device", vec![]);
    f
}

fn term(feature: &str, exprs: &[(&str, Expression)]) -> Term {
    Term {
        feature: feature.into(),
        match_expressions: Some(
            exprs
                .iter()
                .map(|(k, e)| (k.to_string(), e.clone()))
                .collect(),
        ),
        ..Default::default()
    }
}

fn x(op: &str, values: &[&str]) -> Expression {
    Expression::new(op, values)
}

fn matches(t: Term) -> bool {
    let mut errors = Vec::new();
    let status = evaluate_terms(
        &[t],
        &View::of(&features()),
        List::Features,
        false,
        &mut errors,
    );
    assert!(errors.is_empty(), "{errors:?}");
    status.matched
}

#[test]
fn flag_features_only_know_existence() {
    assert!(matches(term(
        "kernel.loadedmodule",
        &[("vfio-pci", x("Exists", &[]))]
    )));
    assert!(!matches(term(
        "kernel.loadedmodule",
        &[("nvidia", x("Exists", &[]))]
    )));
    assert!(matches(term(
        "kernel.loadedmodule",
        &[("nvidia", x("DoesNotExist", &[]))]
    )));
    assert!(matches(term(
        "kernel.loadedmodule",
        &[("nvidia", x("", &[]))]
    )));
    for op in [
        x("In", &["vfio-pci"]),
        x("NotIn", &["a"]),
        x("InRegexp", &["."]),
        x("Gt", &["1"]),
        x("IsTrue", &[]),
    ] {
        assert!(
            !matches(term("kernel.loadedmodule", &[("vfio-pci", op.clone())])),
            "{op:?} is false on a flag"
        );
    }
    // Even malformed values give no error on a flag.
    assert!(!matches(term(
        "kernel.loadedmodule",
        &[("vfio-pci", x("Gt", &["x", "y"]))]
    )));
    assert!(matches(term(
        "kernel.loadedmodule",
        &[
            ("vfio-pci", x("Exists", &[])),
            ("ip_tables", x("Exists", &[]))
        ]
    )));
    assert!(!matches(term(
        "kernel.loadedmodule",
        &[("vfio-pci", x("Exists", &[])), ("nope", x("Exists", &[]))]
    )));
}

#[test]
fn attribute_features_apply_the_op_to_the_value() {
    assert!(matches(term(
        "cpu.model",
        &[("vendor_id", x("In", &["Intel", "AMD"]))]
    )));
    assert!(matches(term(
        "cpu.model",
        &[
            ("family", x("Ge", &["6"])),
            ("id", x("GtLt", &["100", "200"]))
        ]
    )));
    assert!(!matches(term(
        "cpu.model",
        &[("vendor_id", x("NotIn", &["Intel"]))]
    )));
    assert!(
        !matches(term("cpu.model", &[("stepping", x("NotIn", &["1"]))])),
        "NotIn on an absent key is false"
    );
    assert!(matches(term(
        "cpu.model",
        &[("stepping", x("DoesNotExist", &[]))]
    )));
    assert!(matches(term(
        "kernel.version",
        &[("full", x("Ge", &["5.15"]).with_type("version"))]
    )));
    assert!(
        matches(term("cpu.rdt", &[])),
        "an empty set on a present feature matches"
    );
    assert!(matches(term(
        "cpu.rdt",
        &[("RDTMON", x("DoesNotExist", &[]))]
    )));
    assert!(!matches(term("cpu.rdt", &[("RDTMON", x("IsTrue", &[]))])));
}

#[test]
fn flags_and_attributes_are_a_union() {
    // cpu.cpuid has flags and attributes.
    assert!(matches(term("cpu.cpuid", &[("AVX2", x("Exists", &[]))])));
    assert!(matches(term(
        "cpu.cpuid",
        &[("AVX10_VERSION", x("Ge", &["1"]))]
    )));
    assert!(matches(term(
        "cpu.cpuid",
        &[("AVX10_VERSION", x("Exists", &[]))]
    )));
    // DoesNotExist must hold in both.
    assert!(!matches(term(
        "cpu.cpuid",
        &[("AVX10_VERSION", x("DoesNotExist", &[]))]
    )));
    assert!(!matches(term(
        "cpu.cpuid",
        &[("AVX2", x("DoesNotExist", &[]))]
    )));
    assert!(matches(term(
        "cpu.cpuid",
        &[("AVX512F", x("DoesNotExist", &[]))]
    )));
}

#[test]
fn instance_features_need_one_instance_for_all_expressions() {
    assert!(matches(term(
        "pci.device",
        &[
            ("vendor", x("In", &["10de"])),
            ("class", x("In", &["0302"]))
        ]
    )));
    // Each expression holds on some instance, but never on the same one.
    assert!(!matches(term(
        "pci.device",
        &[
            ("vendor", x("In", &["10de"])),
            ("class", x("In", &["0200"]))
        ]
    )));
    assert!(matches(term(
        "pci.device",
        &[("sriov_totalvfs", x("Gt", &["4"]))]
    )));
    assert!(matches(term(
        "pci.device",
        &[("sriov_totalvfs", x("DoesNotExist", &[]))]
    )));
    assert!(
        matches(term("pci.device", &[])),
        "empty set: true with at least one instance"
    );
    assert!(
        !matches(term("usb.device", &[])),
        "empty set: false without instances"
    );
    assert!(!matches(term(
        "usb.device",
        &[("class", x("DoesNotExist", &[]))]
    )));
}

#[test]
fn missing_features_fail_without_error() {
    assert!(!matches(term(
        "storage.block",
        &[("name", x("DoesNotExist", &[]))]
    )));
    assert!(!matches(Term {
        feature: "nope.nope".into(),
        ..Default::default()
    }));
    assert!(
        matches(Term {
            feature: "cpu.model".into(),
            ..Default::default()
        }),
        "no matcher: feature exists"
    );
    // Feature names are lower-cased for lookup; keys are not.
    assert!(matches(term(
        "CPU.Model",
        &[("vendor_id", x("Exists", &[]))]
    )));
    assert!(!matches(term(
        "cpu.model",
        &[("VENDOR_ID", x("Exists", &[]))]
    )));
}

#[test]
fn match_name_applies_to_names() {
    let name = |feature: &str, e: Expression| Term {
        feature: feature.into(),
        match_name: Some(e),
        ..Default::default()
    };
    assert!(matches(name("cpu.cpuid", x("InRegexp", &["^AVX"]))));
    assert!(
        matches(name("cpu.cpuid", x("In", &["AVX10_VERSION"]))),
        "attribute names count"
    );
    assert!(!matches(name("cpu.cpuid", x("In", &["AVX512F"]))));
    assert!(
        matches(name("cpu.model", x("Exists", &[]))),
        "Exists: a non-empty set"
    );
    assert!(!matches(name("cpu.rdt", x("Exists", &[]))));
    assert!(
        !matches(name("cpu.model", x("DoesNotExist", &[]))),
        "never true on names"
    );
    assert!(
        matches(name("pci.device", x("In", &["sriov_totalvfs"]))),
        "instance attribute names"
    );
    assert!(
        matches(name("cpu.model", x("NotIn", &["vendor_id"]))),
        "some other name"
    );
    // Value-count errors are raised on names.
    let mut errors = Vec::new();
    evaluate_terms(
        &[name("cpu.model", x("Exists", &["x"]))],
        &View::of(&features()),
        List::Features,
        false,
        &mut errors,
    );
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].at,
        At::Expression {
            list: List::Features,
            term: 0,
            key: None
        }
    );
    // Both matchers: both must hold.
    let both = Term {
        match_name: Some(x("In", &["family"])),
        ..term("cpu.model", &[("vendor_id", x("In", &["AMD"]))])
    };
    assert!(!matches(both));
}

fn rule(match_features: Vec<Term>, match_any: Vec<Vec<Term>>) -> GroupRule {
    GroupRule {
        name: "r".into(),
        match_features,
        match_any,
        ..Default::default()
    }
}

#[test]
fn rules_and_or() {
    let ok = || term("cpu.model", &[("vendor_id", x("In", &["Intel"]))]);
    let bad = || term("cpu.model", &[("vendor_id", x("In", &["AMD"]))]);
    let owned = features();
    let f = View::of(&owned);
    assert!(
        execute(&rule(vec![], vec![]), &f).is_match,
        "a rule without matchers matches"
    );
    assert!(execute(&rule(vec![ok(), ok()], vec![]), &f).is_match);
    assert!(!execute(&rule(vec![ok(), bad()], vec![]), &f).is_match);
    assert!(execute(&rule(vec![], vec![vec![bad()], vec![ok()]]), &f).is_match);
    assert!(!execute(&rule(vec![], vec![vec![bad()], vec![ok(), bad()]]), &f).is_match);
    assert!(!execute(&rule(vec![bad()], vec![vec![ok()]]), &f).is_match);
    assert!(!execute(&rule(vec![ok()], vec![vec![bad()]]), &f).is_match);
    assert!(execute(&rule(vec![ok()], vec![vec![bad()], vec![ok()]]), &f).is_match);
    // Every matchAny element is evaluated and recorded.
    assert_eq!(
        execute(&rule(vec![], vec![vec![ok()], vec![bad()]]), &f)
            .match_any
            .len(),
        2
    );
}

#[test]
fn errors_are_recorded_where_they_happen_and_evaluation_goes_on() {
    let f = features();
    let r = rule(
        vec![
            term("cpu.model", &[("family", x("Gt", &["six"]))]),
            term("cpu.model", &[("vendor_id", x("In", &["Intel"]))]),
        ],
        vec![vec![term("cpu.model", &[("id", x("exists", &[]))])]],
    );
    let status = execute(&r, &View::of(&f));
    assert!(!status.is_match);
    let ats: Vec<&At> = status.errors.iter().map(|e| &e.at).collect();
    assert!(ats.contains(&&At::Expression {
        list: List::Features,
        term: 0,
        key: Some("family".into())
    }));
    assert!(ats.contains(&&At::Expression {
        list: List::Any(0),
        term: 0,
        key: Some("id".into())
    }));
    assert!(
        status
            .errors
            .iter()
            .any(|e| e.message == "not a number \"six\" in &{Gt [six] }")
    );
}

#[test]
fn vars_templates_and_backrefs() {
    let f = features();
    let r = GroupRule {
        vars: [("static".to_string(), "yes".to_string())].into(),
        vars_template: "{{range .cpu.cpuid}}has-{{.Name}}=true\n{{end}}".into(),
        ..rule(
            vec![Term {
                feature: "cpu.cpuid".into(),
                match_name: Some(x("InRegexp", &["^AVX2$"])),
                ..Default::default()
            }],
            vec![],
        )
    };
    let status = execute(&r, &View::of(&f));
    assert!(status.is_match);
    let vars = status.vars.clone().unwrap();
    assert_eq!(vars.get("has-AVX2").map(String::as_str), Some("true"));
    assert_eq!(vars.get("static").map(String::as_str), Some("yes"));
    let mut backrefs = None;
    insert_backrefs(&mut backrefs, &f, status.vars.as_ref());
    let later = rule(
        vec![term("rule.matched", &[("has-AVX2", x("IsTrue", &[]))])],
        vec![],
    );
    let view = View {
        base: &f,
        backrefs: backrefs.as_ref(),
    };
    assert!(execute(&later, &view).is_match);
    assert!(
        !execute(&later, &View::of(&f)).is_match,
        "the node's features are untouched"
    );

    // A failed matchFeatures emits no vars; a failed matchAny alone still does (NFD quirk).
    let failing = GroupRule {
        vars: [("v".to_string(), "1".to_string())].into(),
        ..rule(
            vec![term("cpu.model", &[("vendor_id", x("In", &["AMD"]))])],
            vec![],
        )
    };
    assert_eq!(execute(&failing, &View::of(&f)).vars, None);
    let any_failed = GroupRule {
        vars: [("v".to_string(), "1".to_string())].into(),
        ..rule(
            vec![],
            vec![vec![term("cpu.model", &[("vendor_id", x("In", &["AMD"]))])]],
        )
    };
    let status = execute(&any_failed, &View::of(&f));
    assert!(!status.is_match);
    assert_eq!(status.vars.unwrap().get("v").map(String::as_str), Some("1"));
    let empty = Features::default();
    let mut backrefs = None;
    insert_backrefs(&mut backrefs, &empty, None);
    let view = View {
        base: &empty,
        backrefs: backrefs.as_ref(),
    };
    assert!(
        view.has(BACKREF_FEATURE),
        "rule.matched exists after any rule"
    );
}

#[test]
fn term_state_carries_over_like_nfd() {
    // After a failing term, a matchName-only term is not evaluated by NFD.
    let f = features();
    let terms = vec![
        term("cpu.model", &[("vendor_id", x("In", &["AMD"]))]),
        Term {
            feature: "cpu.cpuid".into(),
            match_name: Some(x("In", &["AVX"])),
            ..Default::default()
        },
    ];
    let mut errors = Vec::new();
    let status = evaluate_terms(&terms, &View::of(&f), List::Features, false, &mut errors);
    assert!(!status.matched);
    assert!(
        status.terms.iter().all(|t| !t.name),
        "matchName skipped: {:?}",
        status.terms
    );
}

#[test]
fn nfd_json_rows_follow_node_validator() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/specs/blog-example.yaml"
    ))
    .unwrap();
    let spec = spec::parse(&text).unwrap();
    let report = crate::validate::validate(&spec, &features(), &Default::default(), None);
    let json = crate::report::nfd::render(&spec, &report.nfd);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let rules = &v[0]["rules"];
    assert_eq!(rules[0]["name"], "kernel and cpu");
    assert_eq!(rules[0]["isMatch"], true);
    assert_eq!(rules[0]["matchedExpressions"][0]["feature"], "cpu.model");
    assert_eq!(rules[0]["matchedExpressions"][1]["name"], "vfio-pci");
    assert_eq!(rules[1]["isMatch"], false);
    assert_eq!(rules[1]["matchedAny"].as_array().unwrap().len(), 2);
    // The vendor held on some instance in neither element; class 0200 held on one.
    let any0 = &rules[1]["matchedAny"][0]["matchedExpressions"];
    assert_eq!(any0[0]["name"], "class");
    assert_eq!(any0[0]["isMatch"], true);
    assert_eq!(any0[1]["isMatch"], false);
    assert!(json.starts_with(
        "[{\"rules\":[{\"name\":\"kernel and cpu\",\"isMatch\":true,\"matchedExpressions\":["
    ));
    assert!(json.ends_with("\"description\":\"My image requirements\"}]"));
    assert!(!report.compatible);
}
