//! Control characters from cluster data (event messages, object names, spec
//! descriptions, feature values) must never reach a terminal raw: ESC starts
//! sequences that retitle windows, rewrite earlier lines or (with OSC 52)
//! fill the clipboard, and CR overwrites what was printed (the class of
//! CVE-2021-25743). Every human output escapes them here; `-o json|yaml`
//! keep the data exactly.

use std::borrow::Cow;
use std::fmt;

/// `text` with every control character made visible: ESC as `^[` (kubectl's
/// spelling), `\r`, `\n` and `\t` as such, anything else as `\u{..}`.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\x1b' => out.push_str("^["),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// C0 and C1 controls, DEL, and the bidirectional overrides that make text
/// read differently from what it is.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Multi-line text (no colour in it) with each line escaped and the line
/// breaks kept.
pub fn escape_lines(text: &str) -> String {
    text.split('\n').map(escape).collect::<Vec<_>>().join("\n")
}

/// Displays its text escaped: `writeln!(out, "{}", Escaped(&name))`.
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&escape(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_visible_and_plain_text_is_untouched() {
        assert!(matches!(escape("web-7 ünïcode"), Cow::Borrowed(_)));
        assert_eq!(escape("\x1b]0;owned\x07"), "^[]0;owned\\u{7}");
        assert_eq!(escape("a\rb\nc\td"), "a\\rb\\nc\\td");
        assert_eq!(escape("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(escape("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(Escaped("\x1b[2J").to_string(), "^[[2J");
        assert_eq!(escape_lines("a\x1b\nb\r\n"), "a^[\nb\\r\n");
    }
}
