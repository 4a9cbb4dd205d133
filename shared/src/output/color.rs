//! Colour decisions with kubectl's rules: only on a terminal, never with
//! `NO_COLOR` set (even empty), never with `TERM=dumb`, and `--color` overrides.

use std::io::IsTerminal;

use owo_colors::{OwoColorize, Style};

use crate::cli::ColorChoice;

/// The environment facts the decision depends on, so it can be tested.
#[derive(Debug, Clone, Default)]
pub struct ColorEnv {
    pub is_tty: bool,
    pub no_color: bool,
    pub term_dumb: bool,
}

impl ColorEnv {
    /// Read the facts for stdout from this process.
    pub fn stdout() -> Self {
        ColorEnv {
            is_tty: std::io::stdout().is_terminal(),
            no_color: std::env::var_os("NO_COLOR").is_some(),
            term_dumb: std::env::var_os("TERM").is_some_and(|t| t == "dumb"),
        }
    }
}

/// Whether stdout gets colour.
pub fn color_enabled(choice: ColorChoice, env: &ColorEnv) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => env.is_tty && !env.no_color && !env.term_dumb,
    }
}

/// Styles for table cells; all plain when colour is off, so callers never branch.
#[derive(Debug, Clone, Copy)]
pub struct Palette {
    pub enabled: bool,
}

impl Palette {
    pub fn new(choice: ColorChoice) -> Self {
        Palette {
            enabled: color_enabled(choice, &ColorEnv::stdout()),
        }
    }

    pub fn plain() -> Self {
        Palette { enabled: false }
    }

    fn style(&self, style: Style) -> Option<Style> {
        self.enabled.then_some(style)
    }

    pub fn error(&self) -> Option<Style> {
        self.style(Style::new().red().bold())
    }
    pub fn warning(&self) -> Option<Style> {
        self.style(Style::new().yellow())
    }
    pub fn ok(&self) -> Option<Style> {
        self.style(Style::new().green())
    }
    pub fn dim(&self) -> Option<Style> {
        self.style(Style::new().dimmed())
    }
    pub fn bold(&self) -> Option<Style> {
        self.style(Style::new().bold())
    }
}

/// Apply an optional style to text.
pub fn paint(text: &str, style: Option<Style>) -> String {
    match style {
        Some(style) => text.style(style).to_string(),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_rules() {
        let tty = ColorEnv {
            is_tty: true,
            ..Default::default()
        };
        assert!(color_enabled(ColorChoice::Auto, &tty));
        let piped = ColorEnv::default();
        assert!(!color_enabled(ColorChoice::Auto, &piped));
        let no_color = ColorEnv {
            no_color: true,
            ..tty.clone()
        };
        assert!(!color_enabled(ColorChoice::Auto, &no_color));
        let dumb = ColorEnv {
            term_dumb: true,
            ..tty.clone()
        };
        assert!(!color_enabled(ColorChoice::Auto, &dumb));
        assert!(color_enabled(ColorChoice::Always, &piped));
        assert!(!color_enabled(ColorChoice::Never, &tty));
    }

    #[test]
    fn plain_palette_adds_no_escapes() {
        let p = Palette::plain();
        assert_eq!(paint("x", p.error()), "x");
        let c = Palette { enabled: true };
        assert!(paint("x", c.error()).contains('\u{1b}'));
    }
}
