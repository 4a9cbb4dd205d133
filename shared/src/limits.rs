//! Named resource limits. Each guards one thing hostile or careless input
//! could make unbounded (memory, time, output); each has a default chosen for
//! real clusters and hosts, and an environment variable that raises it. An
//! error that hits a limit says which one and how to raise it, through
//! [`Limit::exceeded`], so every plugin phrases it the same way.

use std::fmt;

/// What a limit counts, for its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Bytes,
    Count,
}

/// One limit: its default and the variable that overrides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// What is limited, as a noun phrase ("YAML nodes in one input").
    pub what: &'static str,
    /// The environment variable that overrides the default.
    pub env: &'static str,
    pub default: u64,
    pub unit: Unit,
}

impl Limit {
    /// The value in force: the variable when it holds a positive number, else the default.
    pub fn get(&self) -> u64 {
        std::env::var(self.env)
            .ok()
            .and_then(|v| parse_amount(&v))
            .filter(|&n| n > 0)
            .unwrap_or(self.default)
    }

    /// [`Limit::get`] as a `usize`, saturating.
    pub fn get_usize(&self) -> usize {
        usize::try_from(self.get()).unwrap_or(usize::MAX)
    }

    /// A sentence for a breach: `detail` says what was found.
    pub fn exceeded(&self, detail: impl fmt::Display) -> String {
        format!(
            "{detail}: more than the limit of {} {} (raise it with {}=N)",
            Amount(self.get(), self.unit),
            self.what,
            self.env
        )
    }
}

/// Parse `123`, `64KiB`, `8MiB`, `1GiB` (and the same with `K`, `M`, `G`).
pub fn parse_amount(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '_')
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits.replace('_', "").parse().ok()?;
    let scale: u64 = match unit.trim() {
        "" => 1,
        "K" | "KiB" | "k" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(scale)
}

/// A limit's value as people read it: `8 MiB`, `1,000,000`.
pub struct Amount(pub u64, pub Unit);

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Amount(n, unit) = *self;
        if unit == Unit::Bytes {
            for (shift, name) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
                if n >= 1 << shift && n % (1 << shift) == 0 {
                    return write!(f, "{} {name}", n >> shift);
                }
            }
            return write!(f, "{n} bytes");
        }
        let digits = n.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limit = Limit {
        what: "widgets",
        env: "KPLUG_TEST_LIMIT_UNSET_XYZ",
        default: 1_000_000,
        unit: Unit::Count,
    };

    #[test]
    fn amounts_and_messages() {
        assert_eq!(parse_amount("8MiB"), Some(8 << 20));
        assert_eq!(parse_amount("1_000"), Some(1000));
        assert_eq!(parse_amount("2G"), Some(2 << 30));
        assert_eq!(parse_amount("99999999999999G"), None);
        assert_eq!(parse_amount("x"), None);
        assert_eq!(Amount(8 << 20, Unit::Bytes).to_string(), "8 MiB");
        assert_eq!(Amount(1000, Unit::Bytes).to_string(), "1000 bytes");
        assert_eq!(L.get(), 1_000_000);
        assert_eq!(
            L.exceeded("x.yaml"),
            "x.yaml: more than the limit of 1,000,000 widgets (raise it with KPLUG_TEST_LIMIT_UNSET_XYZ=N)"
        );
    }
}
