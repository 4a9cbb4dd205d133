//! Ages and durations the way kubectl prints them (`45s`, `3m`, `5d2h`, `2y100d`).

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

/// kubectl's human duration: precise for short spans, coarser as they grow.
/// A duration exactly, in its largest whole unit: `1h`, `90m`, `7d`,
/// `1500ms` (for windows and intervals; ages use [`human_duration`]).
pub fn exact_duration(d: Duration) -> String {
    let ms = d.as_millis();
    for (unit, name) in [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1000, "s"),
    ] {
        if ms >= unit && ms.is_multiple_of(unit) {
            return format!("{}{name}", ms / unit);
        }
    }
    format!("{ms}ms")
}

pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        return match secs % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        return match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        return match hours % 24 {
            0 => format!("{days}d"),
            h => format!("{days}d{h}h"),
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        return match days % 365 {
            0 => format!("{years}y"),
            dy => format!("{years}y{dy}d"),
        };
    }
    format!("{years}y")
}

/// The age of something created at `then`, seen at `now`. Clocks that disagree
/// by up to a second read as `0s`; further in the future is `<invalid>`, as in kubectl.
pub fn age_since(then: Timestamp, now: Timestamp) -> String {
    let secs = now.as_second() - then.as_second();
    if secs < -1 {
        return "<invalid>".to_string();
    }
    let nanos = now.as_nanosecond() - then.as_nanosecond();
    human_duration(Duration::from_nanos(u64::try_from(nanos).unwrap_or(0)))
}

/// Age for an optional timestamp: `<unknown>` when the object has none.
pub fn age(then: Option<Timestamp>) -> String {
    then.map_or_else(
        || "<unknown>".to_string(),
        |t| age_since(t, Timestamp::now()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(secs: u64) -> String {
        human_duration(Duration::from_secs(secs))
    }

    #[test]
    fn exact_durations() {
        let e = |s: u64| exact_duration(Duration::from_secs(s));
        assert_eq!(
            (e(3600), e(5400), e(7 * 86_400), e(45)),
            ("1h".into(), "90m".into(), "7d".into(), "45s".into())
        );
        assert_eq!(exact_duration(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn kubectl_boundaries() {
        let cases = [
            (0, "0s"),
            (45, "45s"),
            (119, "119s"),
            (120, "2m"),
            (121, "2m1s"),
            (599, "9m59s"),
            (600, "10m"),
            (3 * 3600 - 1, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 60, "3h1m"),
            (8 * 3600 - 1, "7h59m"),
            (8 * 3600, "8h"),
            (47 * 3600, "47h"),
            (48 * 3600, "2d"),
            (5 * 86400 + 2 * 3600, "5d2h"),
            (8 * 86400 - 1, "7d23h"),
            (8 * 86400, "8d"),
            (729 * 86400, "729d"),
            (730 * 86400, "2y"),
            (830 * 86400, "2y100d"),
            (8 * 365 * 86400, "8y"),
            (20 * 365 * 86400, "20y"),
        ];
        for (secs, want) in cases {
            assert_eq!(h(secs), want, "{secs}s");
        }
    }

    #[test]
    fn ages_against_a_fixed_now() {
        let now: Timestamp = "2026-11-27T12:00:00Z".parse().unwrap();
        let then: Timestamp = "2026-11-22T10:00:00Z".parse().unwrap();
        assert_eq!(age_since(then, now), "5d2h");
        let soon: Timestamp = "2026-11-27T12:00:01Z".parse().unwrap();
        assert_eq!(age_since(soon, now), "0s");
        let future: Timestamp = "2026-11-27T12:00:05Z".parse().unwrap();
        assert_eq!(age_since(future, now), "<invalid>");
        assert_eq!(age(None), "<unknown>");
    }
}
