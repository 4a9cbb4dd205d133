//! Hostile specs and host trees: each reproduction of the hardening issue
//! gets a clear error (or a warning) in bounded time, never a crash, a hang
//! or a read outside the host root.

use std::time::{Duration, Instant};

use super::{run, stderr, stdout, write};

fn alias_bomb() -> String {
    kplug::yaml::alias_bomb("version: v1alpha1\ncompatibilities: []\n")
}

#[test]
fn alias_bombs_and_deep_templates_are_errors_not_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = write(dir.path(), "bomb.yaml", &alias_bomb());
    let start = Instant::now();
    // lint reports it as a finding (exit 3), validation cannot start (exit 1).
    for (args, code) in [
        (vec!["lint", bomb.to_str().unwrap()], 3),
        (vec!["validate-node", "--spec", bomb.to_str().unwrap()], 1),
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("excessive aliasing")
                || stdout(&out).contains("excessive aliasing"),
            "{}{}",
            stdout(&out),
            stderr(&out)
        );
    }
    assert!(start.elapsed() < Duration::from_secs(20));

    // 40,000 nested {{if}}: lint applies the same limits as validation.
    let template = "{{if .}}".repeat(40_000) + &"{{end}}".repeat(40_000);
    let spec = format!(
        "version: v1alpha1\ncompatibilities:\n- rules:\n  - name: r\n    varsTemplate: '{template}'\n    matchFeatures:\n    - feature: kernel.version\n      matchExpressions:\n        major: {{op: Exists}}\n"
    );
    let deep = write(dir.path(), "deep.yaml", &spec);
    let out = run(&["lint", deep.to_str().unwrap(), "-o", "json"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("maximum allowed size"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn absurd_durations_are_range_errors() {
    for flag in ["--request-timeout", "--registry-timeout"] {
        let out = run(&[
            "validate-node",
            "--spec",
            "x.yaml",
            flag,
            "99999999999999999999s",
        ]);
        assert_eq!(out.status.code(), Some(2), "{flag}: {}", stderr(&out));
        assert!(stderr(&out).contains("out of range"), "{}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"));
    }
}

#[test]
fn a_host_root_is_never_left_and_special_files_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let secret = dir.path().join("shadow");
    std::fs::write(&secret, "root:$6$secret-hash:19000:0:99999:7:::\n").unwrap();
    let features_d = root.join("etc/kubernetes/node-feature-discovery/features.d");
    std::fs::create_dir_all(&features_d).unwrap();
    std::fs::create_dir_all(root.join("proc/sys/kernel")).unwrap();
    // Links to a file outside the root, absolute and through `..`.
    std::os::unix::fs::symlink(&secret, features_d.join("x")).unwrap();
    std::os::unix::fs::symlink("../../../../../../../../../shadow", features_d.join("y")).unwrap();
    std::os::unix::fs::symlink(&secret, root.join("proc/sys/kernel/osrelease")).unwrap();
    // A FIFO would block a reader forever, /dev/zero would fill memory.
    let fifo = features_d.join("fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    std::os::unix::fs::symlink("/dev/zero", root.join("proc/modules")).unwrap();
    // A gzip bomb as the kernel config: 64 MiB of zeros in ~64 KiB.
    {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            gz.write_all(&zeros).unwrap();
        }
        std::fs::write(root.join("proc/config.gz"), gz.finish().unwrap()).unwrap();
    }
    let start = Instant::now();
    let out = run(&[
        "features",
        "--host-root",
        root.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert!(start.elapsed() < Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stdout(&out).contains("secret-hash"), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("not a regular file (a FIFO)"), "{err}");
    assert!(err.contains("KPLUG_MAX_HOST_FILE_BYTES"), "{err}");
}

#[test]
fn validate_falls_back_to_this_host_and_says_why() {
    let spec = super::data("specs/blog-example.yaml");
    let spec = spec.to_str().unwrap();
    let out = run(&[
        "validate",
        "--spec",
        spec,
        "--kubeconfig",
        "/nonexistent/config",
    ]);
    let err = stderr(&out);
    assert!(
        err.lines()
            .next()
            .unwrap_or("")
            .starts_with("target: this host (no cluster: "),
        "{err}"
    );
    assert!(matches!(out.status.code(), Some(0 | 3)), "{err}");
    // Asked for the cluster's nodes without a cluster: an error, not a fallback.
    let forced = run(&[
        "validate",
        "--spec",
        spec,
        "--kubeconfig",
        "/nonexistent/config",
        "--nodes",
    ]);
    assert_eq!(forced.status.code(), Some(1));
    assert!(
        stderr(&forced).contains("cannot check the cluster's nodes"),
        "{}",
        stderr(&forced)
    );
    // An image or a spec is required, not both.
    assert_eq!(run(&["validate"]).status.code(), Some(2));
    assert_eq!(
        run(&["validate", "a/b:c", "--spec", spec]).status.code(),
        Some(2)
    );
}
