//! Mutation fuzzing of the parsers that read user input: manifests (YAML,
//! JSON, lists) and label selectors. Deterministic, so a failure reproduces;
//! `KPLUG_FUZZ_ITERS=1000000 cargo test -p kplug --test fuzz --release` runs longer.
//! Properties: no panic; every manifest error names the file, a document that
//! exists and a line inside the input; selectors round-trip through their
//! canonical form.

mod common;

use common::Rng;
use kplug::manifest::parse_str;
use kplug::selector::Selector;

const SEEDS: &[&str] = &[
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  containers:\n  - name: c\n    image: busybox\n",
    "---\n# Source: x\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec: {containers: [{name: c}]}\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: p}}\n",
    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"j\"}}\n{\"apiVersion\":\"v1\",\"kind\":\"PodList\",\"items\":[]}",
    "a: &x [1, 2]\nb: *x\nc: |\n  text\n  more\nd: >-\n  folded\n",
    "%YAML 1.2\n---\napiVersion: v1\nkind: ConfigMap\ndata:\n  k: \"v\\n\"\n...\n",
];

const SNIPPETS: &[&str] = &[
    "---",
    "...",
    "\n",
    ": ",
    "- ",
    "{",
    "}",
    "[",
    "]",
    "&a ",
    "*a",
    "!!str ",
    "|",
    ">",
    "\"",
    "'",
    "#",
    "\t",
    "  ",
    "kind: List\nitems:\n",
    "apiVersion: v1\n",
    "\u{feff}",
    "é",
    "\\u0000",
    "null",
    "~",
    "? ",
];

fn iterations(default: usize) -> usize {
    std::env::var("KPLUG_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Insert, delete, duplicate or splice at a random char boundary.
fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut s = text.to_string();
    for _ in 0..1 + rng.below(4) {
        let bounds: Vec<usize> = (0..=s.len()).filter(|&i| s.is_char_boundary(i)).collect();
        let at = bounds[rng.below(bounds.len())];
        match rng.below(4) {
            0 => s.insert_str(at, SNIPPETS[rng.below(SNIPPETS.len())]),
            1 => {
                let ends: Vec<usize> = bounds
                    .iter()
                    .copied()
                    .filter(|&e| e >= at && e <= at + 8)
                    .collect();
                let end = ends[rng.below(ends.len())];
                s.replace_range(at..end, "");
            }
            2 => {
                let piece: String = s[at..].chars().take(12).collect();
                s.insert_str(at, &piece);
            }
            _ => {
                let other = SEEDS[rng.below(SEEDS.len())];
                let cut: String = other.chars().take(rng.below(other.len())).collect();
                s.insert_str(at, &cut);
            }
        }
    }
    s
}

#[test]
fn manifest_parser_never_panics_and_locates_errors() {
    let mut rng = Rng(0xF022_0001);
    let (mut ok, mut failed) = (0, 0);
    for _ in 0..iterations(20_000) {
        let seed = SEEDS[rng.below(SEEDS.len())];
        let input = mutate(&mut rng, seed);
        let lines = input.split('\n').count().max(1);
        match parse_str(&input, "fuzz.yaml") {
            Ok(objects) => {
                ok += 1;
                for o in objects {
                    assert!(
                        !o.kind().is_empty() && !o.api_version().is_empty(),
                        "{input:?}"
                    );
                    assert!(
                        o.source.line >= 1 && o.source.line <= lines,
                        "{input:?} -> {:?}",
                        o.source
                    );
                }
            }
            Err(e) => {
                failed += 1;
                assert_eq!(e.file, "fuzz.yaml");
                assert!(e.document >= 1, "{input:?} -> {e:?}");
                assert!(e.line >= 1 && e.line <= lines + 1, "{input:?} -> {e:?}");
                assert!(
                    !e.message.is_empty() && !e.message.contains('\n'),
                    "{input:?} -> {e:?}"
                );
            }
        }
    }
    assert!(
        ok > 1000 && failed > 1000,
        "ok {ok}, failed {failed}: mutations too weak or too strong"
    );
}

#[test]
fn selectors_round_trip_through_canonical_form() {
    let tokens = [
        "x", "app", "a.b/c", "in", "notin", "(", ")", ",", "=", "==", "!=", "!", ">", "<", "1",
        " ", "v", "", "-",
    ];
    let mut rng = Rng(0x5E1E_C702);
    let mut parsed = 0;
    for _ in 0..iterations(50_000) {
        let text: String = (0..1 + rng.below(10))
            .map(|_| tokens[rng.below(tokens.len())])
            .collect();
        if let Ok(sel) = Selector::parse(&text) {
            parsed += 1;
            let canonical = sel.to_string();
            let again = Selector::parse(&canonical)
                .unwrap_or_else(|e| panic!("{text:?} -> {canonical:?}: {e}"));
            assert_eq!(again.to_string(), canonical, "{text:?}");
        }
    }
    assert!(parsed > 1000, "parsed {parsed}");
}
