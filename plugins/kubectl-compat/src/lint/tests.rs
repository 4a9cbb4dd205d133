use super::*;

fn codes(text: &str) -> Vec<(String, usize, String)> {
    lint(text, "spec.yaml")
        .into_iter()
        .map(|f| {
            (
                f.code,
                f.object.line.unwrap(),
                f.object.field.unwrap_or_default(),
            )
        })
        .collect()
}

fn has(found: &[(String, usize, String)], code: &str, line: usize, field: &str) -> bool {
    found
        .iter()
        .any(|(c, l, f)| c == code && *l == line && f == field)
}

#[test]
fn the_blog_example_is_clean() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/specs/blog-example.yaml"
    ))
    .unwrap();
    assert_eq!(codes(&text), vec![]);
}

#[test]
fn finds_what_nfd_accepts_silently() {
    let text = r#"compatibilities:
- description: x
  wieght: 5
  rules:
  - name: r
    matchFeatures:
    - feature: cpu.model
      matchExpresions:
        vendor_id: {op: In, value: [Intel]}
    - feature: cpu.model
      matchExpressions:
        VENDOR_ID: {op: exists}
        family: {opp: Gt, value: ["6"]}
        id: {op: Gt, value: ["6", "7"]}
        hypervisor: {op: InRegexp, value: ["("]}
    - feature: kernel.version
      matchExpressions:
        full: {op: Ge, value: ["5.15"]}
        major: {op: GtLt, value: ["6", "5"]}
        minor: {op: Ge, value: [x], type: version}
        revision: {op: GeLe, value: ["6.1", "5.4"], type: version}
    - feature: kernel.loadedmodule
      matchExpressions:
        vfio-pci: {op: In, value: [yes]}
    - feature: pci.devices
    - feature: CPU.Model
  - name: r
    Labels: {a: b}
    labels: {a: b}
"#;
    let found = codes(text);
    let p = "compatibilities[0].rules[0].matchFeatures";
    assert!(has(&found, "missing-version", 1, "version"), "{found:#?}");
    assert!(
        has(&found, "unknown-key", 3, "compatibilities[0].wieght"),
        "{found:#?}"
    );
    assert!(
        has(&found, "unknown-key", 8, &format!("{p}[0].matchExpresions")),
        "{found:#?}"
    );
    assert!(
        has(
            &found,
            "element-case",
            12,
            &format!("{p}[1].matchExpressions.VENDOR_ID")
        ),
        "{found:#?}"
    );
    assert!(
        has(
            &found,
            "op-case",
            12,
            &format!("{p}[1].matchExpressions.VENDOR_ID.op")
        ),
        "{found:#?}"
    );
    assert!(
        has(
            &found,
            "missing-op",
            13,
            &format!("{p}[1].matchExpressions.family.op")
        ),
        "{found:#?}"
    );
    assert!(
        has(
            &found,
            "unknown-key",
            13,
            &format!("{p}[1].matchExpressions.family.opp")
        ),
        "{found:#?}"
    );
    assert!(
        has(
            &found,
            "value-count",
            14,
            &format!("{p}[1].matchExpressions.id.value")
        ),
        "{found:#?}"
    );
    assert!(
        has(
            &found,
            "invalid-regexp",
            15,
            &format!("{p}[1].matchExpressions.hypervisor.value[0]")
        ),
        "{found:#?}"
    );
    assert!(
        has(
            &found,
            "not-a-number",
            18,
            &format!("{p}[2].matchExpressions.full.value[0]")
        ),
        "{found:#?}"
    );
    assert!(
        has(
            &found,
            "range-order",
            19,
            &format!("{p}[2].matchExpressions.major.value")
        ),
        "{found:#?}"
    );
    assert!(
        has(
            &found,
            "not-a-version",
            20,
            &format!("{p}[2].matchExpressions.minor.value[0]")
        ),
        "{found:#?}"
    );
    assert!(
        has(
            &found,
            "range-order",
            21,
            &format!("{p}[2].matchExpressions.revision.value")
        ),
        "{found:#?}"
    );
    assert!(
        has(
            &found,
            "op-on-flag",
            24,
            &format!("{p}[3].matchExpressions.vfio-pci")
        ),
        "{found:#?}"
    );
    assert!(
        has(
            &found,
            "yaml-coercion",
            24,
            &format!("{p}[3].matchExpressions.vfio-pci.value[0]")
        ),
        "{found:#?}"
    );
    assert!(
        has(&found, "unknown-feature", 25, &format!("{p}[4].feature")),
        "{found:#?}"
    );
    assert!(
        has(&found, "feature-case", 26, &format!("{p}[5].feature")),
        "{found:#?}"
    );
    assert!(
        has(
            &found,
            "duplicate-rule-name",
            27,
            "compatibilities[0].rules[1]"
        ),
        "{found:#?}"
    );
    assert!(
        has(&found, "empty-rule", 27, "compatibilities[0].rules[1]"),
        "{found:#?}"
    );
    assert!(
        has(
            &found,
            "ignored-key",
            29,
            "compatibilities[0].rules[1].labels"
        ),
        "{found:#?}"
    );
    assert!(
        has(
            &found,
            "unknown-key",
            28,
            "compatibilities[0].rules[1].Labels"
        ) || has(
            &found,
            "ignored-key",
            28,
            "compatibilities[0].rules[1].Labels"
        ),
        "{found:#?}"
    );
}

#[test]
fn coercions_wrong_versions_and_broken_documents() {
    let found = codes(
        "version: v1\ncompatibilities:\n- rules:\n  - name: nic\n    matchFeatures:\n    - feature: pci.device\n      matchExpressions:\n        class: {op: In, value: [0200]}\n        vendor: {op: In, value: [\"0200\", 2.0, on]}\n",
    );
    assert!(
        has(&found, "unsupported-version", 1, "version"),
        "{found:#?}"
    );
    assert!(
        has(
            &found,
            "yaml-coercion",
            8,
            "compatibilities[0].rules[0].matchFeatures[0].matchExpressions.class.value[0]"
        ),
        "{found:#?}"
    );
    let coerced = found.iter().filter(|(c, ..)| c == "yaml-coercion").count();
    assert_eq!(coerced, 3, "{found:#?}");
    let findings = lint("compatibilities:\n- rules: [\n", "bad.yaml");
    assert_eq!(findings[0].code, "yaml-syntax");
    assert_eq!(findings[0].severity, Severity::Error);
    let findings = lint(
        "compatibilities:\n- rules:\n  - matchFeatures: {a: b}\n",
        "bad.yaml",
    );
    assert!(
        findings
            .iter()
            .any(|f| f.code == "invalid-spec" && f.object.line == Some(3)),
        "{findings:#?}"
    );
    assert_eq!(
        codes("version: v1alpha1\ncompatibilities: []\n")[0].0,
        "no-compatibilities"
    );
}
