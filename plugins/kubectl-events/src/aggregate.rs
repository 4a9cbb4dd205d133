//! Counting occurrences per group and per time bucket. A stored row may
//! stand for many occurrences spread over days (a BackOff counted 70,944
//! times over eleven days); they are spread evenly over the row's span, so
//! buckets show when things happened, and totals stay exact.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::store::{Buckets, GroupBy, Span};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bucket {
    /// Start of the bucket, RFC 3339.
    pub start: String,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub key: BTreeMap<String, String>,
    pub count: i64,
    pub buckets: Vec<Bucket>,
}

/// Groups sorted by count (then key), with `window`-sized buckets from
/// `start_ms` to `end_ms`.
pub fn aggregate(columns: &[GroupBy], spans: &[Span], buckets: Buckets) -> Vec<Group> {
    groups(columns, count(spans, buckets), buckets)
}

/// Millionths of an occurrence: the unit of the hourly rollup, so that a
/// row spread over hours sums back exactly, in any order, on any database.
pub const MICRO: i64 = 1_000_000;

/// [`aggregate`] of spans counted in [`MICRO`]s (the hourly rollup): each
/// group's total is rounded once, and its buckets by largest remainder.
pub fn aggregate_micro(columns: &[GroupBy], spans: &[Span], buckets: Buckets) -> Vec<Group> {
    let counts = count(spans, buckets)
        .into_iter()
        .map(|(k, v)| (k, whole(&v)))
        .collect();
    groups(columns, counts, buckets)
}

/// The hour a time is in (its start), in ms.
pub fn hour_of(ms: i64) -> i64 {
    ms.div_euclid(HOUR) * HOUR
}

pub const HOUR: i64 = 3_600_000;

/// The longest span the rollup spreads a row over.
pub const MAX_SPAN: i64 = 90 * 24 * HOUR;

/// `occurrences` between `first` and `last` as [`MICRO`]s per hour (start
/// of the hour, amount): spread evenly like [`aggregate`] does, summing
/// exactly to `occurrences` millions. Nothing without a time.
pub fn hourly_shares(first: Option<i64>, last: Option<i64>, occurrences: i64) -> Vec<(i64, i64)> {
    let Some(last) = last.or(first) else {
        return Vec::new();
    };
    // A row spanning years (a hand-made first time, or none kept) would
    // fill the rollup with hours; such a row counts over its last 90 days.
    let first = first
        .unwrap_or(last)
        .min(last)
        .max(last.saturating_sub(MAX_SPAN));
    let start = hour_of(first);
    let mut counts = vec![0; ((hour_of(last) - start) / HOUR + 1) as usize];
    let s = Span {
        key: Vec::new(),
        first_ms: Some(first),
        last_ms: Some(last),
        occurrences: occurrences.saturating_mul(MICRO),
    };
    spread(&s, start, HOUR, &mut counts);
    counts
        .into_iter()
        .enumerate()
        .filter(|(_, c)| *c != 0)
        .map(|(i, c)| (start + i as i64 * HOUR, c))
        .collect()
}

/// Whole occurrences from micro ones: the total rounded, the buckets by
/// largest remainder.
fn whole(micro: &[i64]) -> Vec<i64> {
    let total = sum(micro);
    let target = total.saturating_add(MICRO / 2).div_euclid(MICRO);
    let mut out: Vec<i64> = micro.iter().map(|m| m.div_euclid(MICRO)).collect();
    let mut left = target.saturating_sub(sum(&out));
    let mut order: Vec<usize> = (0..micro.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(micro[i].rem_euclid(MICRO)));
    for i in order {
        if left <= 0 {
            break;
        }
        out[i] += 1;
        left -= 1;
    }
    out
}

/// A sum that stops at the largest count instead of wrapping to a negative one.
fn sum(values: &[i64]) -> i64 {
    values.iter().fold(0i64, |a, b| a.saturating_add(*b))
}

fn count(spans: &[Span], buckets: Buckets) -> HashMap<Vec<String>, Vec<i64>> {
    let Buckets {
        start_ms,
        end_ms,
        window_ms,
    } = buckets;
    let window_ms = window_ms.max(1);
    let n = (((end_ms - start_ms).max(0) + window_ms - 1) / window_ms).max(1) as usize;
    let mut groups: HashMap<Vec<String>, Vec<i64>> = HashMap::new();
    for s in spans {
        // Most spans add to a group already there: no key copied for them.
        let counts = match groups.get_mut(&s.key) {
            Some(counts) => counts,
            None => groups.entry(s.key.clone()).or_insert_with(|| vec![0; n]),
        };
        spread(s, start_ms, window_ms, counts);
    }
    groups
}

fn groups(
    columns: &[GroupBy],
    counts: HashMap<Vec<String>, Vec<i64>>,
    buckets: Buckets,
) -> Vec<Group> {
    let window_ms = buckets.window_ms.max(1);
    let n = counts.values().map(Vec::len).max().unwrap_or(0);
    // Each bucket's start written once, not once per group.
    let starts: Vec<String> = (0..n)
        .map(|i| {
            jiff::Timestamp::from_millisecond(buckets.start_ms + i as i64 * window_ms)
                .map(|t| t.to_string())
                .unwrap_or_default()
        })
        .collect();
    let mut out: Vec<Group> = counts
        .into_iter()
        .map(|(key, counts)| Group {
            key: columns
                .iter()
                .map(|c| c.column().to_string())
                .zip(key)
                .collect(),
            count: sum(&counts),
            buckets: counts
                .iter()
                .zip(&starts)
                .map(|(c, start)| Bucket {
                    start: start.clone(),
                    count: *c,
                })
                .collect(),
        })
        .filter(|g| g.count > 0)
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    out
}

/// Add `s`'s occurrences to `counts`: evenly over its span, clipped to the
/// buckets, rounding by largest remainder so the total is exact.
fn spread(s: &Span, start_ms: i64, window_ms: i64, counts: &mut [i64]) {
    let end_ms = start_ms + window_ms * counts.len() as i64;
    let last = s.last_ms.or(s.first_ms).unwrap_or(start_ms);
    let first = s.first_ms.unwrap_or(last).min(last);
    let bucket = |t: i64| (((t - start_ms) / window_ms).clamp(0, counts.len() as i64 - 1)) as usize;
    if last == first {
        if (start_ms..end_ms).contains(&last) {
            let b = bucket(last);
            counts[b] = counts[b].saturating_add(s.occurrences);
        }
        return;
    }
    let span = (last - first) as f64;
    let mut shares: Vec<(usize, f64)> = Vec::new();
    let (lo, hi) = (first.max(start_ms), last.min(end_ms));
    if lo > hi {
        return;
    }
    let mut t = lo;
    while t < hi {
        let b = bucket(t);
        let bucket_end = (start_ms + (b as i64 + 1) * window_ms).min(hi);
        shares.push((b, s.occurrences as f64 * (bucket_end - t) as f64 / span));
        t = bucket_end;
    }
    let whole: i64 = shares.iter().map(|(_, x)| x.floor() as i64).sum();
    let inside = (s.occurrences as f64 * (hi - lo) as f64 / span).round() as i64;
    let mut left = inside - whole;
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|a, b| (shares[*b].1.fract()).total_cmp(&shares[*a].1.fract()));
    for (b, x) in &shares {
        counts[*b] = counts[*b].saturating_add(x.floor() as i64);
    }
    for i in order {
        if left <= 0 {
            break;
        }
        let b = shares[i].0;
        counts[b] = counts[b].saturating_add(1);
        left -= 1;
    }
}

/// `▁▃█▅` for the buckets' counts.
pub fn sparkline(counts: &[i64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = counts.iter().copied().max().unwrap_or(0);
    counts
        .iter()
        .map(|&c| {
            if c == 0 || max == 0 {
                ' '
            } else {
                BARS[((i128::from(c) * 7) / i128::from(max)).clamp(0, 7) as usize]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(key: &str, first: i64, last: i64, n: i64) -> Span {
        Span {
            key: vec![key.into()],
            first_ms: Some(first),
            last_ms: Some(last),
            occurrences: n,
        }
    }

    #[test]
    fn long_spans_are_spread_and_totals_stay_exact() {
        let h = 3_600_000;
        let groups = aggregate(
            &[GroupBy::Reason],
            &[
                span("BackOff", 0, 4 * h, 10),
                span("Pulled", h / 2, h / 2, 3),
            ],
            Buckets {
                start_ms: 0,
                end_ms: 4 * h,
                window_ms: h,
            },
        );
        assert_eq!(groups[0].key["reason"], "BackOff");
        assert_eq!(groups[0].count, 10);
        let counts: Vec<i64> = groups[0].buckets.iter().map(|b| b.count).collect();
        assert_eq!(counts.iter().sum::<i64>(), 10);
        assert!(counts.iter().all(|c| (2..=3).contains(c)), "{counts:?}");
        assert_eq!(
            groups[1]
                .buckets
                .iter()
                .map(|b| b.count)
                .collect::<Vec<_>>(),
            [3, 0, 0, 0]
        );
        assert_eq!(groups[0].buckets[1].start, "1970-01-01T01:00:00Z");
    }

    #[test]
    fn clipping_to_the_window_keeps_the_part_inside() {
        let h = 3_600_000;
        // 8 occurrences over 8 hours; the window sees the last 2 hours.
        let groups = aggregate(
            &[GroupBy::Reason],
            &[span("BackOff", 0, 8 * h, 8)],
            Buckets {
                start_ms: 6 * h,
                end_ms: 8 * h,
                window_ms: h,
            },
        );
        assert_eq!(groups[0].count, 2);
    }

    #[test]
    fn hourly_shares_are_exact_and_bounded() {
        let shares = hourly_shares(Some(HOUR / 2), Some(3 * HOUR + 7), 7);
        assert_eq!(shares.len(), 4);
        assert_eq!(shares.iter().map(|(_, m)| m).sum::<i64>(), 7 * MICRO);
        assert_eq!(shares[0].0, 0);
        // Ten thousand years collapse to the last 90 days, still exact.
        let long = hourly_shares(Some(-300_000_000_000_000), Some(0), 5);
        assert!((MAX_SPAN / HOUR..=MAX_SPAN / HOUR + 1).contains(&(long.len() as i64)));
        assert_eq!(long.iter().map(|(_, m)| m).sum::<i64>(), 5 * MICRO);
        assert!(hourly_shares(None, None, 3).is_empty());
    }

    #[test]
    fn sparklines_scale_to_the_maximum() {
        assert_eq!(sparkline(&[0, 1, 4, 8]), " ▁▄█");
        assert_eq!(sparkline(&[]), "");
    }
}
