//! Stable process exit codes shared by every plugin.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success: the command ran, the image is compatible, the check is clean |
//! | 1 | runtime or API error: the command could not do its work |
//! | 2 | usage error: bad flags or arguments (clap uses 2 as well) |
//! | 3 | the check ran and found problems (incompatible, error findings) |
//!
//! On Windows kubectl collapses every non-zero plugin exit code to 1.

use std::io::Write;
use std::process::ExitCode;

/// One of the four stable exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Code {
    Success = 0,
    Error = 1,
    Usage = 2,
    Problems = 3,
}

impl Code {
    pub fn as_u8(self) -> u8 {
        self as u8
    }
}

impl From<Code> for ExitCode {
    fn from(code: Code) -> Self {
        ExitCode::from(code.as_u8())
    }
}

/// True when the error chain holds a broken pipe: the reader went away
/// (`kubectl foo | head`), which is not a failure worth reporting.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    use std::io::ErrorKind::BrokenPipe;
    err.chain().any(|cause| {
        // serde_json keeps the io::Error inside its own type, out of the chain.
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == BrokenPipe)
            || cause
                .downcast_ref::<serde_json::Error>()
                .is_some_and(|e| e.io_error_kind() == Some(BrokenPipe))
    })
}

/// The exit code an error deserves: the typed [`crate::Error`] decides when it
/// is in the chain, anything else is a runtime error.
pub fn code_for(err: &anyhow::Error) -> Code {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<crate::Error>())
        .map_or(Code::Error, crate::Error::exit_code)
}

/// Finish a plugin's `main`: print the error (if any) as `error: ...` with its
/// causes to stderr and turn the result into the process exit code.
/// A broken pipe exits 0 quietly, as ripgrep and kubectl do.
pub fn finish(result: anyhow::Result<Code>) -> ExitCode {
    match result {
        Ok(code) => code.into(),
        Err(err) if is_broken_pipe(&err) => Code::Success.into(),
        Err(err) => {
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(
                stderr,
                "error: {}",
                crate::output::escape(&render_chain(&err))
            );
            code_for(&err).into()
        }
    }
}

/// `outer: inner: root`, skipping causes whose text the outer message already
/// carries (thiserror messages often embed their source). The chain ends at
/// a typed [`crate::Error`] or at a cause that quotes the root cause: such
/// sentences were written for people, their sources are kept for programs.
pub fn render_chain(err: &anyhow::Error) -> String {
    let root = flat(&err.root_cause().to_string());
    let probe: String = root.chars().take(200).collect();
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
        let summarises = cause.is::<crate::Error>()
            || (cause.source().is_some() && flat(&text).contains(&probe));
        if summarises {
            break;
        }
    }
    out
}

fn flat(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn codes_are_stable() {
        assert_eq!(Code::Success.as_u8(), 0);
        assert_eq!(Code::Error.as_u8(), 1);
        assert_eq!(Code::Usage.as_u8(), 2);
        assert_eq!(Code::Problems.as_u8(), 3);
    }

    struct BrokenWriter;
    impl std::io::Write for BrokenWriter {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn broken_pipe_is_found_through_context() {
        let io = std::io::Error::new(std::io::ErrorKind::BrokenPipe, "pipe");
        let err = anyhow::Error::new(io).context("writing table");
        assert!(is_broken_pipe(&err));
        let json = serde_json::to_writer(BrokenWriter, &[1, 2, 3]).unwrap_err();
        assert!(is_broken_pipe(
            &anyhow::Error::new(json).context("printing")
        ));
        let other = anyhow::anyhow!("boom").context("x");
        assert!(!is_broken_pipe(&other));
    }

    #[test]
    fn typed_error_decides_code_through_context() {
        let err: Result<(), crate::Error> = Err(crate::Error::Usage("bad flag".into()));
        let err = err.context("parsing").unwrap_err();
        assert_eq!(code_for(&err), Code::Usage);
        assert_eq!(code_for(&anyhow::anyhow!("plain")), Code::Error);
    }

    #[test]
    fn chain_skips_repeated_text() {
        let inner = anyhow::anyhow!("connection refused");
        let err = inner.context("cannot reach the API server: connection refused");
        assert_eq!(
            render_chain(&err),
            "cannot reach the API server: connection refused"
        );
        let err = anyhow::anyhow!("root").context("middle").context("top");
        assert_eq!(render_chain(&err), "top: middle: root");
    }

    #[derive(Debug, thiserror::Error)]
    #[error("resolving x: cannot reach h (refused)")]
    struct Sentence(#[source] Wrapper);

    #[derive(Debug, thiserror::Error)]
    #[error("error sending request")]
    struct Wrapper(#[source] std::io::Error);

    #[test]
    fn chain_ends_where_a_sentence_quotes_its_root() {
        let err = anyhow::Error::new(Sentence(Wrapper(std::io::Error::other("refused"))))
            .context("validating");
        assert_eq!(
            render_chain(&err),
            "validating: resolving x: cannot reach h (refused)"
        );
        // The library's own errors are whole sentences whatever their source.
        let err = anyhow::Error::new(crate::Error::Io {
            path: "/x".into(),
            source: std::io::Error::other("gone"),
        });
        assert_eq!(render_chain(&err), "/x: gone");
    }
}
