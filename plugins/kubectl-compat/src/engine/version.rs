//! Version comparison for `type: version`, as NFD does it: Masterminds semver
//! v3's lenient parser (optional `v`, one to three numeric parts, a
//! pre-release and build metadata checked for valid characters), then the
//! pre-release dropped, so only major.minor.patch is compared.

/// major, minor, patch.
pub type Version = (u64, u64, u64);

const MAX_LEN: usize = 256;

/// Parse `text` or return `None` where NFD reports "not a version".
pub fn parse(text: &str) -> Option<Version> {
    if text.len() > MAX_LEN {
        return None;
    }
    let rest = text.strip_prefix('v').unwrap_or(text);
    let (core, metadata) = match rest.split_once('+') {
        Some((c, m)) => (c, Some(m)),
        None => (rest, None),
    };
    // The pre-release starts at the first '-' after the numeric part.
    let numeric_end = core
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(core.len());
    let (numbers, pre) = core.split_at(numeric_end);
    let pre = match pre {
        "" => None,
        p => Some(p.strip_prefix('-')?),
    };
    let parts: Vec<&str> = numbers.split('.').collect();
    if parts.is_empty() || parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let mut nums = [0u64; 3];
    for (i, p) in parts.iter().enumerate() {
        nums[i] = p.parse().ok()?;
    }
    if let Some(pre) = pre
        && !valid_prerelease(pre)
    {
        return None;
    }
    if let Some(meta) = metadata
        && !identifiers(meta)
    {
        return None;
    }
    Some((nums[0], nums[1], nums[2]))
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-'
}

fn identifiers(s: &str) -> bool {
    s.split('.')
        .all(|p| !p.is_empty() && p.chars().all(allowed))
}

/// Non-empty dot-separated identifiers; numeric ones without leading zeros.
fn valid_prerelease(s: &str) -> bool {
    identifiers(s)
        && s.split('.')
            .all(|p| !(p.len() > 1 && p.starts_with('0') && p.chars().all(|c| c.is_ascii_digit())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_semver_with_prerelease_dropped() {
        for (input, want) in [
            ("5.15.0", Some((5, 15, 0))),
            ("v1.2.3", Some((1, 2, 3))),
            ("5", Some((5, 0, 0))),
            ("5.15", Some((5, 15, 0))),
            ("05.015.0", Some((5, 15, 0))),
            ("5.15.0-91-generic", Some((5, 15, 0))),
            ("6.18.44-fc-v782", Some((6, 18, 44))),
            ("1.0.0-rc.1+build.5", Some((1, 0, 0))),
            ("1.0.0+meta", Some((1, 0, 0))),
            ("1.2-alpha", Some((1, 2, 0))),
            ("4.18.0-553.el8_10.x86_64", None),
            ("5.4.0-011", None),
            ("5.4.0-1.011", None),
            ("1.0.0-", None),
            ("1.0.0-a..b", None),
            ("1.0.0+", None),
            ("1.2.3.4", None),
            ("V1.2.3", None),
            ("", None),
            ("1..2", None),
            ("x", None),
            ("1.2.3 ", None),
            ("18446744073709551616", None),
        ] {
            assert_eq!(parse(input), want, "{input}");
        }
        assert!(parse(&"1".repeat(257)).is_none());
    }
}
