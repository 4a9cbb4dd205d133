//! Progress bars for long work: on stderr only, hidden when stderr is not a terminal.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar of `len` steps labelled `message`. Off a terminal (CI, pipes,
/// `TERM=dumb`) it draws nothing, so machine output stays clean.
pub fn progress_bar(len: u64, message: &str) -> ProgressBar {
    let visible =
        std::io::stderr().is_terminal() && std::env::var_os("TERM").is_none_or(|t| t != "dumb");
    let target = if visible {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(len), target);
    let style = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({eta})")
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(message.to_string());
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn hidden_off_terminal() {
        // The test harness captures stderr, so it is not a terminal here.
        if std::io::stderr().is_terminal() {
            // Straight to stderr: libtest captures eprintln!, and a skip must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "skipped: stderr is a terminal in this run"
            );
            return;
        }
        let bar = progress_bar(10, "listing");
        assert!(bar.is_hidden());
        bar.inc(3);
        assert_eq!(bar.position(), 3);
    }
}
