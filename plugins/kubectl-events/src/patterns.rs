//! Recurring patterns in occurrence counts over time, decided without I/O
//! from per-bucket series (what `aggregate` computes): bursts against a
//! series' own baseline, periodic recurrence (a CronJob failing every
//! hour), flapping (an object alternating between reasons, as probes do),
//! what is new since a rollout of its workload, and fingerprints never
//! seen before the window's last part.

use std::collections::BTreeMap;

use serde::Serialize;

/// Occurrences per bucket of one fingerprint on one object.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub fingerprint: String,
    pub cluster: String,
    pub namespace: String,
    pub kind: String,
    pub name: String,
    pub reason: String,
    /// The workload at the top of the object's owner chain.
    pub owner: String,
    pub counts: Vec<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    Burst,
    Periodic,
    Flapping,
    NewSinceRollout,
    New,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Burst => "burst",
            Kind::Periodic => "periodic",
            Kind::Flapping => "flapping",
            Kind::NewSinceRollout => "new-since-rollout",
            Kind::New => "new",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pattern {
    pub kind: Kind,
    pub fingerprint: String,
    pub cluster: String,
    pub namespace: String,
    pub object: String,
    pub reason: String,
    /// The bucket it shows in (its start, RFC 3339), or where it begins.
    pub at: String,
    /// What was measured, in words: "42 in one bucket, 14x its median of 3".
    pub detail: String,
    /// Occurrences of the series in the window.
    pub occurrences: i64,
}

/// How the detectors judge.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// A burst: at least this many times the series' median bucket…
    pub burst_factor: f64,
    /// …and at least this many occurrences in the bucket.
    pub burst_min: i64,
    /// Periodic: at least this many recurrences at one spacing.
    pub periodic_min: usize,
    /// Flapping: at least this many switches between reasons.
    pub flaps_min: usize,
    /// New: first seen in this many last buckets of the window.
    pub new_buckets: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            burst_factor: 5.0,
            burst_min: 10,
            periodic_min: 4,
            flaps_min: 4,
            new_buckets: 1,
        }
    }
}

fn object(s: &Series) -> String {
    format!("{}/{}", s.kind.to_lowercase(), s.name)
}

fn pattern(kind: Kind, s: &Series, at: &str, detail: String) -> Pattern {
    Pattern {
        kind,
        fingerprint: s.fingerprint.clone(),
        cluster: s.cluster.clone(),
        namespace: s.namespace.clone(),
        object: object(s),
        reason: s.reason.clone(),
        at: at.to_string(),
        detail,
        occurrences: s.counts.iter().sum(),
    }
}

fn median(values: &mut [i64]) -> i64 {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or(0)
}

/// The bucket where a series bursts: the largest, when it is at least
/// `factor` times the series' median (counting empty buckets: a series
/// mostly silent has a median of 0, so any bucket past the minimum is a
/// burst against it) and at least `min`.
fn burst(s: &Series, t: &Thresholds) -> Option<(usize, String)> {
    let (i, peak) = s
        .counts
        .iter()
        .copied()
        .enumerate()
        .max_by_key(|(i, c)| (*c, std::cmp::Reverse(*i)))?;
    let typical = median(&mut s.counts.clone());
    let ratio = peak as f64 / typical.max(1) as f64;
    (peak >= t.burst_min && ratio >= t.burst_factor).then(|| {
        let detail = if typical == 0 {
            format!("{peak} in one bucket; most buckets have none")
        } else {
            format!("{peak} in one bucket, {ratio:.0}x its median of {typical}")
        };
        (i, detail)
    })
}

/// A spacing the series recurs at: every non-empty bucket sits on one
/// grid (same gap between each), with at least `min` recurrences and
/// empty buckets between them.
fn periodic(s: &Series, t: &Thresholds) -> Option<(usize, String)> {
    let hits: Vec<usize> = (0..s.counts.len()).filter(|i| s.counts[*i] > 0).collect();
    if hits.len() < t.periodic_min {
        return None;
    }
    let gap = hits[1] - hits[0];
    (gap >= 2 && hits.windows(2).all(|w| w[1] - w[0] == gap)).then(|| {
        (
            hits[0],
            format!("{} times, every {gap} buckets", hits.len()),
        )
    })
}

/// Objects whose reasons take turns: each bucket's dominant reason, and
/// how often it switches.
fn flapping(series: &[&Series], t: &Thresholds) -> Option<(usize, String)> {
    let len = series.iter().map(|s| s.counts.len()).max()?;
    let mut dominant: Vec<(usize, &str)> = Vec::new();
    for i in 0..len {
        let best = series
            .iter()
            .filter(|s| s.counts.get(i).copied().unwrap_or(0) > 0)
            .max_by_key(|s| (s.counts[i], std::cmp::Reverse(s.reason.as_str())));
        if let Some(s) = best {
            dominant.push((i, s.reason.as_str()));
        }
    }
    let switches = dominant.windows(2).filter(|w| w[0].1 != w[1].1).count();
    let mut reasons: Vec<&str> = dominant.iter().map(|(_, r)| *r).collect();
    reasons.sort_unstable();
    reasons.dedup();
    (reasons.len() >= 2 && switches >= t.flaps_min).then(|| {
        (
            dominant[0].0,
            format!("{switches} switches between {}", reasons.join(" and ")),
        )
    })
}

/// The patterns in `series`, whose buckets start at `starts`. `rollouts`
/// are the buckets where a workload (cluster, namespace, owner name) was
/// rolled out (a ScalingReplicaSet).
pub fn find(
    series: &[Series],
    starts: &[String],
    rollouts: &BTreeMap<(String, String, String), usize>,
    t: &Thresholds,
) -> Vec<Pattern> {
    let at = |i: usize| starts.get(i).cloned().unwrap_or_default();
    let mut out = Vec::new();
    // Each fingerprint once for what is about the fingerprint as a whole.
    let mut by_fingerprint: BTreeMap<&str, Vec<&Series>> = BTreeMap::new();
    for s in series {
        by_fingerprint.entry(&s.fingerprint).or_default().push(s);
    }
    for (_, list) in by_fingerprint {
        let s = list[0];
        let mut total = s.clone();
        for other in &list[1..] {
            for (c, o) in total.counts.iter_mut().zip(&other.counts) {
                *c += o;
            }
        }
        if let Some((i, detail)) = burst(&total, t) {
            out.push(pattern(Kind::Burst, &total, &at(i), detail));
        }
        if let Some((i, detail)) = periodic(&total, t) {
            out.push(pattern(Kind::Periodic, &total, &at(i), detail));
        }
        let first = total.counts.iter().position(|c| *c > 0);
        let n = total.counts.len();
        if let Some(first) = first {
            let rollout = rollouts.get(&(s.cluster.clone(), s.namespace.clone(), s.owner.clone()));
            match rollout {
                Some(r) if first >= *r && first > 0 => out.push(pattern(
                    Kind::NewSinceRollout,
                    &total,
                    &at(first),
                    format!(
                        "first seen {} buckets after the rollout at {}",
                        first - r,
                        at(*r)
                    ),
                )),
                _ if first > 0 && first + t.new_buckets >= n => out.push(pattern(
                    Kind::New,
                    &total,
                    &at(first),
                    "not seen before in the window".to_string(),
                )),
                _ => {}
            }
        }
    }
    // Flapping is about an object across its fingerprints.
    let mut by_object: BTreeMap<(&str, &str, &str, &str), Vec<&Series>> = BTreeMap::new();
    for s in series {
        by_object
            .entry((&s.cluster, &s.namespace, &s.kind, &s.name))
            .or_default()
            .push(s);
    }
    for (_, list) in by_object {
        if let Some((i, detail)) = flapping(&list, t) {
            let mut p = pattern(Kind::Flapping, list[0], &at(i), detail);
            p.reason = list
                .iter()
                .map(|s| s.reason.as_str())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
                .join(",");
            p.occurrences = list.iter().flat_map(|s| &s.counts).sum();
            out.push(p);
        }
    }
    out.sort_by(|a, b| {
        a.kind
            .cmp(&b.kind)
            .then(b.occurrences.cmp(&a.occurrences))
            .then(a.fingerprint.cmp(&b.fingerprint))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(fp: &str, name: &str, reason: &str, counts: &[i64]) -> Series {
        Series {
            fingerprint: fp.into(),
            cluster: "c".into(),
            namespace: "shop".into(),
            kind: "Pod".into(),
            name: name.into(),
            reason: reason.into(),
            // web-1's workload is web.
            owner: name.split('-').next().unwrap_or(name).into(),
            counts: counts.to_vec(),
        }
    }

    fn starts(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("t{i}")).collect()
    }

    fn kinds(found: &[Pattern]) -> Vec<Kind> {
        found.iter().map(|p| p.kind).collect()
    }

    fn run(series: &[Series]) -> Vec<Pattern> {
        let n = series.iter().map(|s| s.counts.len()).max().unwrap_or(0);
        find(series, &starts(n), &BTreeMap::new(), &Thresholds::default())
    }

    #[test]
    fn a_burst_stands_out_from_its_own_baseline() {
        let found = run(&[series("a", "web-1", "BackOff", &[3, 2, 3, 40, 3, 2, 3, 3])]);
        assert_eq!(kinds(&found), [Kind::Burst]);
        assert_eq!(found[0].at, "t3");
        assert!(
            found[0].detail.contains("40 in one bucket"),
            "{}",
            found[0].detail
        );
        // A steady series, however busy, is no burst.
        assert!(run(&[series("b", "web-1", "BackOff", &[30, 31, 29, 30, 32, 30])]).is_empty());
    }

    #[test]
    fn a_cronjob_failing_on_a_schedule_is_periodic() {
        let found = run(&[series(
            "a",
            "job-1",
            "BackoffLimitExceeded",
            &[1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0],
        )]);
        assert_eq!(kinds(&found), [Kind::Periodic]);
        assert!(found[0].detail.contains("4 times, every 3 buckets"));
        assert!(run(&[series("a", "job-1", "Failed", &[1, 0, 1, 1, 0, 0, 0, 1])]).is_empty());
    }

    #[test]
    fn probes_taking_turns_flap() {
        let found = run(&[
            series("a", "web-1", "Unhealthy", &[2, 0, 2, 0, 2, 0, 2]),
            series("b", "web-1", "Started", &[0, 1, 0, 1, 0, 1, 0]),
        ]);
        assert!(kinds(&found).contains(&Kind::Flapping), "{found:#?}");
        let f = found.iter().find(|p| p.kind == Kind::Flapping).unwrap();
        assert_eq!(f.reason, "Started,Unhealthy");
        assert!(f.detail.starts_with("6 switches"));
    }

    #[test]
    fn new_fingerprints_and_new_since_a_rollout() {
        let n = 8;
        let mut rollouts = BTreeMap::new();
        rollouts.insert(("c".to_string(), "shop".to_string(), "web".to_string()), 4);
        let s = [
            series("old", "web-1", "BackOff", &[1, 1, 1, 1, 1, 1, 1, 1]),
            series("after", "web-2", "Unhealthy", &[0, 0, 0, 0, 0, 1, 1, 1]),
            series("fresh", "api-1", "Failed", &[0, 0, 0, 0, 0, 0, 0, 2]),
        ];
        let found = find(&s, &starts(n), &rollouts, &Thresholds::default());
        let got: Vec<(Kind, &str)> = found
            .iter()
            .map(|p| (p.kind, p.fingerprint.as_str()))
            .collect();
        assert_eq!(
            got,
            [(Kind::NewSinceRollout, "after"), (Kind::New, "fresh")]
        );
    }
}
