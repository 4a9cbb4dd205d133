//! Shell completion through kubectl. kubectl (1.26+) completes a plugin's
//! arguments by running `kubectl_complete-<plugin> WORD… PARTIAL` from PATH
//! and reading one candidate a line (`value\tdescription`), then an
//! optional `:<directive>` line in Cobra's protocol. Every plugin binary
//! answers that when it is started under such a name (`make install` links
//! one per plugin), walking its own clap command tree.

use clap::Command;

/// The first argument that asks a plugin binary for completions, as the
/// `kubectl_complete-<plugin>` script in release archives passes it.
pub const REQUEST: &str = "__complete";

/// That script: it runs the plugin beside it (or on PATH) in completion mode.
pub fn script(binary: &str) -> String {
    format!(
        "#!/bin/sh\n# kubectl runs this to complete `kubectl {}`: link it into a directory on PATH.\nhere=$(dirname \"$(readlink -f \"$0\")\")\nif [ -x \"$here/{binary}\" ]; then exec \"$here/{binary}\" {REQUEST} \"$@\"; fi\nexec {binary} {REQUEST} \"$@\"\n",
        binary.trim_start_matches("kubectl-").replace('_', "-")
    )
}

/// Cobra's `ShellCompDirectiveNoFileComp`: offer no file names.
const NO_FILE_COMPLETION: u8 = 4;
/// Cobra's default: the shell may complete file names.
const DEFAULT: u8 = 0;

/// The plugin's name when this process was started as its completion
/// executable (`kubectl_complete-compat` → `compat`).
pub fn completion_name(argv0: &std::path::Path) -> Option<String> {
    let file = argv0.file_name()?.to_str()?;
    file.strip_prefix("kubectl_complete-")
        .filter(|p| !p.is_empty())
        .map(str::to_string)
}

/// The candidates for the last of `words` (the partial word, maybe empty),
/// with the directive to print after them.
pub fn candidates(cmd: &Command, words: &[String]) -> (Vec<(String, String)>, u8) {
    let (done, partial) = match words.split_last() {
        Some((last, done)) => (done, last.as_str()),
        None => (&[][..], ""),
    };
    // Walk down the subcommands named so far, skipping flags and their values.
    let mut current = cmd;
    let mut expects_value = false;
    for w in done {
        if expects_value {
            expects_value = false;
            continue;
        }
        if let Some(flag) = w.strip_prefix("--") {
            expects_value =
                !flag.contains('=') && takes_value(current, cmd, |a| a.get_long() == Some(flag));
        } else if let Some(short) = w.strip_prefix('-').and_then(|s| s.chars().next()) {
            expects_value =
                w.len() == 2 && takes_value(current, cmd, |a| a.get_short() == Some(short));
        } else if let Some(sub) = current.find_subcommand(w) {
            current = sub;
        }
    }
    let mut out = Vec::new();
    if expects_value {
        // The value of the flag before: its possible values, else files.
        let flag = done.last().map(String::as_str).unwrap_or("");
        let arg = find_arg(current, cmd, |a| {
            flag.strip_prefix("--")
                .is_some_and(|f| a.get_long() == Some(f))
                || flag
                    .strip_prefix('-')
                    .and_then(|s| s.chars().next())
                    .is_some_and(|c| a.get_short() == Some(c))
        });
        let values: Vec<(String, String)> = arg
            .map(|a| {
                a.get_possible_values()
                    .iter()
                    .filter(|v| !v.is_hide_set() && v.get_name().starts_with(partial))
                    .map(|v| (v.get_name().to_string(), help(v.get_help())))
                    .collect()
            })
            .unwrap_or_default();
        let directive = if values.is_empty() {
            DEFAULT
        } else {
            NO_FILE_COMPLETION
        };
        return (values, directive);
    }
    if partial.starts_with('-') {
        for a in current.get_arguments().chain(global_args(cmd, current)) {
            if a.is_hide_set() {
                continue;
            }
            if let Some(long) = a.get_long() {
                let name = format!("--{long}");
                if name.starts_with(partial) && !out.iter().any(|(n, _)| *n == name) {
                    out.push((name, help(a.get_help())));
                }
            }
        }
        return (out, NO_FILE_COMPLETION);
    }
    for sub in current.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.get_name().starts_with(partial) {
            out.push((sub.get_name().to_string(), help(sub.get_about())));
        }
    }
    if current.has_subcommands() {
        (out, NO_FILE_COMPLETION)
    } else {
        (out, DEFAULT)
    }
}

fn help(text: Option<&clap::builder::StyledStr>) -> String {
    text.map(|t| t.to_string().lines().next().unwrap_or("").to_string())
        .unwrap_or_default()
}

/// Global arguments are defined on the root and apply below it.
fn global_args<'a>(root: &'a Command, current: &'a Command) -> impl Iterator<Item = &'a clap::Arg> {
    let same = std::ptr::eq(root, current);
    root.get_arguments()
        .filter(move |a| !same && a.is_global_set())
}

fn find_arg<'a>(
    current: &'a Command,
    root: &'a Command,
    pred: impl Fn(&clap::Arg) -> bool,
) -> Option<&'a clap::Arg> {
    current
        .get_arguments()
        .chain(root.get_arguments())
        .find(|a| pred(a))
}

fn takes_value(current: &Command, root: &Command, pred: impl Fn(&clap::Arg) -> bool) -> bool {
    find_arg(current, root, pred).is_some_and(|a| a.get_action().takes_values())
}

/// Print the candidates for `words` in kubectl's plugin-completion protocol.
pub fn print(cmd: &Command, words: &[String], out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let (candidates, directive) = candidates(cmd, words);
    for (value, description) in candidates {
        if description.is_empty() {
            writeln!(out, "{value}")?;
        } else {
            writeln!(out, "{value}\t{description}")?;
        }
    }
    writeln!(out, ":{directive}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, ArgAction};

    fn cmd() -> Command {
        Command::new("kubectl-x")
            .arg(
                Arg::new("namespace")
                    .long("namespace")
                    .short('n')
                    .global(true),
            )
            .arg(
                Arg::new("output")
                    .long("output")
                    .short('o')
                    .global(true)
                    .value_parser(["json", "yaml"]),
            )
            .subcommand(
                Command::new("validate-node")
                    .about("Check this host")
                    .arg(Arg::new("spec").long("spec"))
                    .arg(Arg::new("force").long("force").action(ArgAction::SetTrue)),
            )
            .subcommand(Command::new("validate-cluster").about("Check every node"))
            .subcommand(Command::new("lint"))
    }

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn subcommands_flags_and_values() {
        let c = cmd();
        let (subs, d) = candidates(&c, &words(&["val"]));
        assert_eq!(
            subs.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            ["validate-node", "validate-cluster"]
        );
        assert_eq!(subs[0].1, "Check this host");
        assert_eq!(d, 4);
        let (flags, _) = candidates(&c, &words(&["-n", "ns", "validate-node", "--"]));
        let names: Vec<&str> = flags.iter().map(|(n, _)| n.as_str()).collect();
        assert!(
            names.contains(&"--spec") && names.contains(&"--namespace"),
            "{names:?}"
        );
        let (values, d) = candidates(&c, &words(&["validate-node", "-o", "y"]));
        assert_eq!(values, [("yaml".to_string(), String::new())]);
        assert_eq!(d, 4);
        let (_, d) = candidates(&c, &words(&["validate-node", "--spec", ""]));
        assert_eq!(d, 0, "a file name");
        let (none, _) = candidates(&c, &words(&["validate-node", "--force", "x"]));
        assert!(none.is_empty());
    }

    #[test]
    fn the_completion_name() {
        assert_eq!(
            completion_name(std::path::Path::new("/bin/kubectl_complete-compat")),
            Some("compat".into())
        );
        assert_eq!(
            completion_name(std::path::Path::new("kubectl-compat")),
            None
        );
    }
}
