//! RFC 3339 timestamps (feature-file expiry, artifact `created` annotations).

/// RFC 3339 date-time to Unix seconds (`2025-01-02T03:04:05Z`, offsets,
/// fractions). jiff parses; the shape is checked first because jiff also
/// takes forms Go's `time.RFC3339` refuses (a space for `T`, no seconds).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let shaped = b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b't')
        && b[13] == b':'
        && b[16] == b':';
    if !shaped {
        return None;
    }
    s.parse::<jiff::Timestamp>().ok().map(|t| t.as_second())
}

/// Unix seconds as RFC 3339 UTC (`2026-11-27T21:00:00Z`), as oras writes `created`.
pub fn format_rfc3339(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// Now, in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2000-03-01T00:00:00Z"), Some(951868800));
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00.5+01:00"), Some(0));
        assert_eq!(parse_rfc3339("2025-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(
            parse_rfc3339("2025-01-01 00:00:00Z"),
            None,
            "Go wants the T"
        );
        assert_eq!(parse_rfc3339("2025-01-01T00:00:00"), None, "and an offset");
        for t in [0, 951868800, 1_795_000_000, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&format_rfc3339(t)), Some(t));
        }
        assert_eq!(format_rfc3339(951868800), "2000-03-01T00:00:00Z");
    }
}
