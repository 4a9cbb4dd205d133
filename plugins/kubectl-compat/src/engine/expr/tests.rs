//! Every operator against every kind of input: absent key, flag key (no
//! value), attribute value; value counts; integer and version comparison.

use super::*;

fn e(op: &str, values: &[&str]) -> Expression {
    Expression::new(op, values)
}

/// (absent, flag present, attribute present with value) results.
fn triple(
    x: &Expression,
    value: &str,
) -> (
    Result<bool, ExprError>,
    Result<bool, ExprError>,
    Result<bool, ExprError>,
) {
    (
        evaluate(x, false, None),
        evaluate(x, true, None),
        evaluate(x, true, Some(value)),
    )
}

#[test]
fn any_exists_does_not_exist() {
    assert_eq!(triple(&e("", &[]), "v"), (Ok(true), Ok(true), Ok(true)));
    assert_eq!(
        triple(&e("Exists", &[]), "v"),
        (Ok(false), Ok(true), Ok(true))
    );
    assert_eq!(
        triple(&e("DoesNotExist", &[]), "v"),
        (Ok(true), Ok(false), Ok(false))
    );
    for op in ["", "Exists", "DoesNotExist"] {
        // The value count is checked even when the key is absent.
        let err = evaluate(&e(op, &["x"]), false, None).unwrap_err();
        assert_eq!(
            err.0,
            format!("invalid expression, 'value' field must be empty for Op \"{op}\" (have [x])")
        );
    }
}

#[test]
fn in_not_in() {
    let x = e("In", &["a", "b"]);
    assert_eq!(triple(&x, "b"), (Ok(false), Ok(false), Ok(true)));
    assert_eq!(evaluate(&x, true, Some("c")), Ok(false));
    assert_eq!(evaluate(&x, true, Some("B")), Ok(false), "case-sensitive");
    let x = e("NotIn", &["a", "b"]);
    assert_eq!(
        triple(&x, "c"),
        (Ok(false), Ok(false), Ok(true)),
        "NotIn on an absent key is false"
    );
    assert_eq!(evaluate(&x, true, Some("a")), Ok(false));
    for op in ["In", "NotIn", "InRegexp"] {
        assert_eq!(
            evaluate(&e(op, &[]), false, None),
            Ok(false),
            "no check without a value"
        );
        assert_eq!(
            evaluate(&e(op, &[]), true, None),
            Ok(false),
            "no check on a flag"
        );
        assert_eq!(
            evaluate(&e(op, &[]), true, Some("x")).unwrap_err().0,
            format!("invalid expression, 'value' field must be non-empty for Op \"{op}\"")
        );
    }
    assert_eq!(evaluate(&e("In", &[""]), true, Some("")), Ok(true));
}

#[test]
fn in_regexp_is_unanchored_re2() {
    let x = e("InRegexp", &["^AVX", "512"]);
    assert_eq!(triple(&x, "AVX2"), (Ok(false), Ok(false), Ok(true)));
    assert_eq!(evaluate(&x, true, Some("X512Y")), Ok(true));
    assert_eq!(evaluate(&x, true, Some("SSE")), Ok(false));
    assert_eq!(
        evaluate(&e("InRegexp", &[r"^\d+$"]), true, Some("١٢")),
        Ok(false),
        "\\d is ASCII in Go"
    );
    assert_eq!(
        evaluate(&e("InRegexp", &[r"^\w+$"]), true, Some("é")),
        Ok(false),
        "\\w is ASCII in Go"
    );
    assert_eq!(
        evaluate(&e("InRegexp", &[r"^[\d.]+$"]), true, Some("5.15")),
        Ok(true)
    );
    assert_eq!(
        evaluate(&e("InRegexp", &[r"^[a[]+$"]), true, Some("a[a")),
        Ok(true),
        "[ is literal in a Go class"
    );
    assert_eq!(
        evaluate(&e("InRegexp", &[r"^[[:digit:]]+$"]), true, Some("42")),
        Ok(true)
    );
    let err = evaluate(&e("InRegexp", &["(", "a"]), true, Some("a")).unwrap_err();
    assert_eq!(
        err.0,
        "invalid expressiom, 'value' field must only contain valid regexps for Op \"InRegexp\" (have [( a])"
    );
    assert_eq!(
        evaluate(&e("InRegexp", &["("]), false, None),
        Ok(false),
        "bad regexp unchecked without a value"
    );
}

#[test]
fn integer_comparisons() {
    for (op, input, bound, want) in [
        ("Gt", "5", "4", true),
        ("Gt", "4", "4", false),
        ("Ge", "4", "4", true),
        ("Ge", "3", "4", false),
        ("Lt", "3", "4", true),
        ("Lt", "4", "4", false),
        ("Le", "4", "4", true),
        ("Le", "5", "4", false),
        ("Gt", "-1", "-2", true),
        ("Gt", "+3", "2", true),
        ("Lt", "007", "8", true),
    ] {
        assert_eq!(
            evaluate(&e(op, &[bound]), true, Some(input)),
            Ok(want),
            "{input} {op} {bound}"
        );
        assert_eq!(evaluate(&e(op, &[bound]), false, None), Ok(false));
        assert_eq!(
            evaluate(&e(op, &[bound]), true, None),
            Ok(false),
            "flags have no value"
        );
    }
    assert_eq!(
        evaluate(&e("Gt", &["1"]), true, Some("x")).unwrap_err().0,
        "not a number \"x\""
    );
    assert_eq!(
        evaluate(&e("Gt", &["1.5"]), true, Some("2")).unwrap_err().0,
        "not a number \"1.5\" in &{Gt [1.5] }"
    );
    assert_eq!(
        evaluate(&e("Gt", &["0x10"]), true, Some("2"))
            .unwrap_err()
            .0,
        "not a number \"0x10\" in &{Gt [0x10] }"
    );
    for bad in [&[][..], &["1", "2"][..]] {
        let err = evaluate(&e("Le", bad), true, Some("1")).unwrap_err();
        assert!(
            err.0.starts_with(
                "invalid expression, 'value' field must contain exactly one element for Op \"Le\""
            ),
            "{err}"
        );
    }
}

#[test]
fn integer_ranges() {
    for (op, input, want) in [
        ("GtLt", "5", true),
        ("GtLt", "1", false),
        ("GtLt", "10", false),
        ("GeLe", "1", true),
        ("GeLe", "10", true),
        ("GeLe", "11", false),
        ("GeLe", "0", false),
    ] {
        assert_eq!(
            evaluate(&e(op, &["1", "10"]), true, Some(input)),
            Ok(want),
            "{input} {op}"
        );
    }
    let err = evaluate(&e("GtLt", &["10", "1"]), true, Some("5")).unwrap_err();
    assert_eq!(
        err.0,
        "invalid expression, value[0] must be less than Value[1] for Op \"GtLt\" (have [10 1])"
    );
    assert!(
        evaluate(&e("GeLe", &["3", "3"]), true, Some("3")).is_err(),
        "equal bounds are an error"
    );
    let err = evaluate(&e("GtLt", &["1"]), true, Some("5")).unwrap_err();
    assert_eq!(
        err.0,
        "invalid expression, 'value' field must contain exactly two elements for Op \"GtLt\" (have [1])"
    );
    assert_eq!(evaluate(&e("GtLt", &["1"]), false, None), Ok(false));
}

#[test]
fn version_comparisons() {
    let v = |op: &str, vals: &[&str]| e(op, vals).with_type("version");
    assert_eq!(
        evaluate(&v("Ge", &["5.15"]), true, Some("5.15.0-91-generic")),
        Ok(true),
        "pre-release dropped"
    );
    assert_eq!(
        evaluate(&v("Gt", &["5.15"]), true, Some("5.15.0-91-generic")),
        Ok(false)
    );
    assert_eq!(evaluate(&v("Lt", &["6"]), true, Some("5.15.99")), Ok(true));
    assert_eq!(
        evaluate(&v("Le", &["v5.15.0"]), true, Some("5.15")),
        Ok(true)
    );
    assert_eq!(
        evaluate(&v("GtLt", &["5.4", "6.1"]), true, Some("5.15.0")),
        Ok(true)
    );
    assert_eq!(
        evaluate(&v("GeLe", &["6.1", "5.4"]), true, Some("5.15.0")),
        Ok(false),
        "no order check for versions"
    );
    assert_eq!(
        evaluate(&v("GeLe", &["5.15", "5.15"]), true, Some("5.15.0")),
        Ok(true)
    );
    assert_eq!(
        evaluate(&v("Ge", &["4"]), true, Some("4.18.0-553.el8_10.x86_64"))
            .unwrap_err()
            .0,
        "not a version \"4.18.0-553.el8_10.x86_64\""
    );
    assert_eq!(
        evaluate(&v("Ge", &["x"]), true, Some("5.1")).unwrap_err().0,
        "not a version \"x\" in &{Ge [x] version}"
    );
    let err = evaluate(&e("Ge", &["1"]).with_type("semver"), true, Some("1")).unwrap_err();
    assert_eq!(
        err.0,
        "invalid expression, 'type' field only accepts \"version\" value for Op \"Ge\" (have \"semver\")"
    );
    assert_eq!(
        evaluate(&e("In", &["1"]).with_type("semver"), true, Some("1")),
        Ok(true),
        "type ignored elsewhere"
    );
}

#[test]
fn booleans_and_unknown_ops() {
    assert_eq!(
        triple(&e("IsTrue", &[]), "true"),
        (Ok(false), Ok(false), Ok(true))
    );
    assert_eq!(evaluate(&e("IsTrue", &[]), true, Some("True")), Ok(false));
    assert_eq!(
        triple(&e("IsFalse", &[]), "false"),
        (Ok(false), Ok(false), Ok(true))
    );
    assert_eq!(
        evaluate(&e("IsFalse", &["x"]), false, None),
        Ok(false),
        "value count unchecked without a value"
    );
    assert!(evaluate(&e("IsFalse", &["x"]), true, Some("false")).is_err());
    assert_eq!(
        evaluate(&e("exists", &[]), false, None).unwrap_err().0,
        "invalid Op \"exists\""
    );
    assert_eq!(
        evaluate(&e("Foo", &[]), true, Some("x")).unwrap_err().0,
        "invalid Op \"Foo\""
    );
}

#[test]
fn go_regexp_rules_rust_lacks() {
    use super::compile;
    // Refused by Go, so refused here.
    for bad in [
        "a**",
        "a+*",
        "a*?*",
        "a{2}{3}",
        "a{1001}",
        "a{2,1001}",
        "[[:alpha:]]{5000}",
    ] {
        assert!(compile(bad).is_none(), "{bad} compiled");
    }
    // Accepted by Go.
    for good in [
        "a*?", "a??", "a+?", "a{2}?", "a{1000}", "x{", "(?i)abc", "(?:a)*", r"\d*",
    ] {
        assert!(compile(good).is_some(), "{good} refused");
    }
    let quoted = compile(r"^\Q.*+\E$").unwrap();
    assert!(quoted.is_match(".*+") && !quoted.is_match("abc"));
    let twice = compile("(?P<d>a)|(?P<d>b)").unwrap();
    assert!(twice.is_match("b"));
    assert!(compile(r"(?i)\pL{500}").is_some());
}

#[test]
fn the_regexp_cache_stays_within_its_budget() {
    // Each of these needs a large program; together they would exceed the budget.
    for n in 0..6 {
        let pattern = format!(r"(?i)\pL{{{}}}x{n}", 400 + n);
        assert!(super::compile(&pattern).is_some(), "{pattern}");
        let charged = super::REGEXPS.with(|c| c.borrow().charged);
        assert!(charged <= super::CACHE_BUDGET, "{charged}");
    }
    // Beyond one program's limit: refused, as an invalid pattern is.
    assert!(super::compile(r"(?i)\pL{1000}").is_none());
}
