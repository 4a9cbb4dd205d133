//! Deterministic mutation fuzzing of the spec parser, linter, engine and
//! features loader, run by `cargo test` (the cargo-fuzz targets in `fuzz/`
//! go much further but need nightly). Inputs are the parity corpus with
//! bytes flipped, inserted, deleted and spliced; nothing may panic.

use crate::features::{self, Loaded};
use crate::{lint, spec, validate};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    "{op: In, value: [",
    "matchAny:\n- matchFeatures:\n",
    "type: version",
    "op: GtLt",
    "- feature: ",
    "matchName: {op: InRegexp, value: [\"(\"]}",
    "{{range .cpu.cpuid}}",
    "\"",
    "'",
    ": ",
    "\n  ",
    "&a ",
    "*a",
    "0200",
    "null",
    "[",
    "{",
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(4) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] = rng.next() as u8;
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                out.splice(at..at, t.bytes());
            }
            2 if !out.is_empty() => {
                let end = (at + rng.below(16)).min(out.len());
                out.drain(at.min(end)..end);
            }
            _ => {
                let from = rng.below(seed.len());
                let len = rng.below(64).min(seed.len() - from);
                out.splice(at..at, seed[from..from + len].iter().copied());
            }
        }
    }
    out
}

fn seeds(dir: &str) -> Vec<Vec<u8>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(dir);
    let mut files: Vec<_> = std::fs::read_dir(path)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

#[test]
fn specs_never_panic() {
    let host = match features::parse(include_str!("../tests/data/features/amd-kvm.json")).unwrap() {
        Loaded::Features(f) => f,
        Loaded::Objects(_) => unreachable!(),
    };
    let seeds = seeds("corpus");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut decoded = 0;
    for _ in 0..8_000 {
        let pick = rng.below(seeds.len());
        let input = mutate(&mut rng, &seeds[pick]);
        let Ok(text) = std::str::from_utf8(&input) else {
            continue;
        };
        let _ = lint::lint(text, "fuzz.yaml");
        if let Ok(s) = spec::parse(text) {
            decoded += 1;
            let report = validate::validate(&s, &host, &Default::default(), None);
            let _ = crate::report::nfd::render(&s, &report.nfd);
        }
    }
    assert!(
        decoded > 400,
        "mutations should often still decode ({decoded})"
    );
}

#[test]
fn feature_files_never_panic() {
    let seeds = seeds("features");
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for _ in 0..3_000 {
        let pick = rng.below(seeds.len());
        let input = mutate(&mut rng, &seeds[pick]);
        if let Ok(text) = std::str::from_utf8(&input)
            && let Ok(loaded) = features::parse(text)
        {
            let _ = features::select(loaded, None);
        }
    }
}
