//! Differential test of `kplug::selector` against the real thing: a small Go
//! program over k8s.io/apimachinery's label parser (`selector-oracle/`). Both
//! parse the same fixed edge cases and thousands of generated selectors; the
//! canonical form, the match result and the error text must agree.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use kplug::selector::Selector;

mod common;
use common::Rng;
use serde_json::{Value, json};

const FIXED: &[&str] = &[
    "",
    "x in (foo,,baz),y,z notin ()",
    "x=a,y=b,z=c",
    "x!=a,y=b",
    "x=,z= ",
    "!x",
    "x>1",
    "x<-7",
    "x>1.5",
    "x>",
    "x==a",
    "x in (in)",
    "x notin (notin)",
    "  x  in  ( a , b )  ",
    "x\tin\n(a)",
    "z,y,x",
    "example.com/app=web",
    "Example.com/app=web",
    "x in (b,a,b)",
    "x in (,)",
    "x in ()",
    "x in (a",
    "x in a",
    "x notin",
    "x (a)",
    "x=(a)",
    "!x=a",
    "x=a,",
    ",x",
    "x=a y=b",
    "-x=a",
    "x=-bad",
    "a/b/c",
    "/x",
    "x/",
    "x in (a,b=)",
    "x=a=b",
    "x!=",
    "x==",
    "!",
    "!!x",
    "x,,y",
    "x,!y,z in (1,2)",
    "in",
    "notin",
    "in in (in)",
    "x notin (a,,b,)",
    "x>>1",
    "x=>1",
    "x<=1",
    "x!1",
    "é=1",
    "x=é",
    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk=1",
    "x=vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv",
    "x>99999999999999999999",
    "a.b-c_d=e.f-g_h",
];

const TOKENS: &[&str] = &[
    "x",
    "y",
    "app",
    "a.b/c",
    "example.com/k",
    "-x",
    "x-",
    "in",
    "notin",
    "(",
    ")",
    ",",
    "=",
    "==",
    "!=",
    "!",
    ">",
    "<",
    "1",
    "-1",
    "02",
    " ",
    " ",
    "\t",
    "foo",
    "Foo",
    "a_b",
    "_",
    ".",
    "é",
    "/",
    "web",
    "v1",
    "",
    "  ",
    "\n",
];

fn generated(n: usize) -> Vec<String> {
    let mut rng = Rng(0x5EED_CAFE_F00D_1234);
    (0..n)
        .map(|_| {
            let len = 1 + rng.next() % 9;
            (0..len).map(|_| rng.pick(TOKENS)).collect()
        })
        .collect()
}

fn label_sets() -> Vec<BTreeMap<String, String>> {
    let sets: &[&[(&str, &str)]] = &[
        &[],
        &[("x", "foo"), ("y", "1")],
        &[("x", ""), ("z", "a")],
        &[("x", "3"), ("app", "web"), ("a.b/c", "in")],
        &[("x", "a"), ("y", "b"), ("z", "c"), ("example.com/k", "1")],
    ];
    sets.iter()
        .map(|s| {
            s.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// Build the oracle with Go; `None` (and a printed reason) when Go is missing.
fn oracle() -> Option<PathBuf> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/selector-oracle");
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("selector-oracle");
    let go = Command::new("go").arg("version").output();
    if go.is_err() {
        common::skip("selector_agrees_with_apimachinery: Go is not installed");
        return None;
    }
    let status = Command::new("go")
        .args(["build", "-mod=mod", "-o"])
        .arg(&out)
        .arg(".")
        .current_dir(&src)
        .status()
        .expect("run go build");
    assert!(
        status.success(),
        "building the apimachinery selector oracle failed"
    );
    Some(out)
}

#[test]
fn selector_agrees_with_apimachinery() {
    let Some(oracle) = oracle() else { return };
    let mut inputs: Vec<String> = FIXED.iter().map(|s| s.to_string()).collect();
    inputs.extend(generated(4000));
    let sets = label_sets();

    let mut child = Command::new(&oracle)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start oracle");
    let mut stdin = child.stdin.take().unwrap();
    let queries: Vec<(String, BTreeMap<String, String>)> = inputs
        .iter()
        .enumerate()
        .map(|(i, s)| (s.clone(), sets[i % sets.len()].clone()))
        .collect();
    let payload: String = queries
        .iter()
        .map(|(s, l)| json!([s, l]).to_string() + "\n")
        .collect();
    let writer = std::thread::spawn(move || {
        stdin.write_all(payload.as_bytes()).unwrap();
    });
    let answers: Vec<Value> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    writer.join().unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(answers.len(), queries.len());

    let mut mismatches = Vec::new();
    let mut errors = 0;
    for ((input, labels), want) in queries.iter().zip(&answers) {
        let got = match Selector::parse(input) {
            Ok(s) => json!({"ok": true, "canonical": s.to_string(), "match": s.matches(labels)}),
            Err(e) => {
                errors += 1;
                json!({"ok": false, "match": false, "error": e.0})
            }
        };
        let want = json!({
            "ok": want["ok"],
            "match": want["match"],
            // Go omits an empty canonical form.
            "canonical": (want["ok"] == true).then(|| want.get("canonical").cloned().unwrap_or(json!(""))),
            "error": want.get("error").cloned(),
        });
        let got = json!({
            "ok": got["ok"],
            "match": got["match"],
            "canonical": got.get("canonical").cloned(),
            "error": got.get("error").cloned(),
        });
        if got != want {
            mismatches.push(format!(
                "{input:?}\n    kplug: {got}\n    apimachinery: {want}"
            ));
        }
    }
    // The generator must exercise both outcomes, or the comparison proves little.
    assert!(
        errors > 100 && errors < queries.len() - 100,
        "errors: {errors}"
    );
    assert!(
        mismatches.is_empty(),
        "{} of {} selectors differ:\n{}",
        mismatches.len(),
        queries.len(),
        mismatches
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
