//! Leader election over a coordination.k8s.io Lease, decided without I/O:
//! which of several collector replicas writes. As client-go does, a
//! candidate never compares the Lease's timestamps with its own clock: it
//! notes, on its own monotonic clock, when it last saw the Lease change,
//! and takes it over only after a whole lease duration without a change.
//! A replica whose wall clock runs ahead therefore cannot steal a Lease
//! that its holder keeps renewing. The holder, for its part, stops writing
//! when it could not renew for `renew_deadline`, which is shorter than the
//! duration the others wait: the two never write at once.

use std::time::{Duration, Instant};

/// What a Lease says, as far as the election reads it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Held {
    /// Who holds it ("" when released).
    pub holder: String,
    /// Changes with every write of the Lease (its resourceVersion).
    pub version: String,
    pub transitions: i32,
}

/// The next thing a replica does with the Lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// There is none: create it, holding it.
    Create,
    /// It is ours: write a new renew time.
    Renew,
    /// Its holder let it lapse or released it: write ourselves in.
    TakeOver,
    /// Someone else holds it: look again later.
    Follow { holder: String },
}

/// The timings of an election (client-go's defaults are 15 s, 10 s, 2 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How long others wait, after the Lease last changed, to take it.
    pub duration: Duration,
    /// How long the holder may fail to renew before it stops writing.
    pub renew_deadline: Duration,
    /// How often to renew or look again.
    pub retry: Duration,
}

impl Timing {
    /// The renew deadline two thirds of the duration, a retry every
    /// seventh: several tries before the deadline, which falls well before
    /// anyone else may take over.
    pub fn from_duration(duration: Duration) -> Timing {
        Timing {
            duration,
            renew_deadline: duration * 2 / 3,
            retry: (duration / 7).max(Duration::from_millis(100)),
        }
    }
}

/// A replica's view of the Lease over time.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub me: String,
    pub timing: Timing,
    /// The Lease as last seen, and when (this replica's clock) it last changed.
    seen: Option<(Held, Instant)>,
}

impl Candidate {
    pub fn new(me: impl Into<String>, timing: Timing) -> Candidate {
        Candidate {
            me: me.into(),
            timing,
            seen: None,
        }
    }

    /// What to do, given the Lease as read at `now` (`None`: there is none).
    pub fn decide(&mut self, current: Option<&Held>, now: Instant) -> Step {
        let Some(current) = current else {
            self.seen = None;
            return Step::Create;
        };
        let changed_at = match &self.seen {
            Some((seen, at)) if seen == current => *at,
            _ => now,
        };
        self.seen = Some((current.clone(), changed_at));
        if current.holder == self.me {
            Step::Renew
        } else if current.holder.is_empty()
            || now.saturating_duration_since(changed_at) >= self.timing.duration
        {
            Step::TakeOver
        } else {
            Step::Follow {
                holder: current.holder.clone(),
            }
        }
    }
}

/// The holder's side: whether it may still write, from when it last renewed.
#[derive(Debug, Clone, Copy)]
pub struct Tenure {
    pub renewed: Instant,
    pub renew_deadline: Duration,
}

impl Tenure {
    pub fn holds(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.renewed) < self.renew_deadline
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(holder: &str, version: &str) -> Held {
        Held {
            holder: holder.into(),
            version: version.into(),
            transitions: 0,
        }
    }

    #[test]
    fn a_lease_is_created_renewed_and_followed() {
        let t = Timing::from_duration(Duration::from_secs(15));
        assert_eq!(t.renew_deadline, Duration::from_secs(10));
        let now = Instant::now();
        let mut a = Candidate::new("a", t);
        assert_eq!(a.decide(None, now), Step::Create);
        assert_eq!(a.decide(Some(&held("a", "1")), now), Step::Renew);
        let mut b = Candidate::new("b", t);
        assert_eq!(
            b.decide(Some(&held("a", "1")), now),
            Step::Follow { holder: "a".into() }
        );
        // A released Lease is taken at once.
        assert_eq!(b.decide(Some(&held("", "2")), now), Step::TakeOver);
    }

    #[test]
    fn a_lease_is_taken_only_a_whole_duration_after_it_last_changed() {
        let t = Timing::from_duration(Duration::from_secs(15));
        let start = Instant::now();
        let mut b = Candidate::new("b", t);
        let at = |s: u64| start + Duration::from_secs(s);
        assert!(matches!(
            b.decide(Some(&held("a", "1")), at(0)),
            Step::Follow { .. }
        ));
        // The holder renews every few seconds: never taken, however long.
        for (s, v) in [(5, "2"), (10, "3"), (15, "4"), (20, "5"), (25, "6")] {
            assert!(matches!(
                b.decide(Some(&held("a", v)), at(s)),
                Step::Follow { .. }
            ));
        }
        // The holder stops (killed): 15 s after the last change it is taken.
        assert!(matches!(
            b.decide(Some(&held("a", "6")), at(39)),
            Step::Follow { .. }
        ));
        assert_eq!(b.decide(Some(&held("a", "6")), at(40)), Step::TakeOver);
    }

    #[test]
    fn a_clock_running_ahead_does_not_steal_a_renewed_lease() {
        // Wall-clock times in the Lease never enter the decision: a
        // candidate whose clock is an hour ahead sees the same versions
        // change and waits like any other.
        let t = Timing::from_duration(Duration::from_secs(15));
        let start = Instant::now();
        let mut ahead = Candidate::new("ahead", t);
        for s in 0..10u64 {
            let now = start + Duration::from_secs(s * 2);
            let step = ahead.decide(Some(&held("a", &s.to_string())), now);
            assert!(matches!(step, Step::Follow { .. }), "{step:?}");
        }
    }

    #[test]
    fn the_holder_stops_before_anyone_may_take_over() {
        let t = Timing::from_duration(Duration::from_secs(15));
        let renewed = Instant::now();
        let tenure = Tenure {
            renewed,
            renew_deadline: t.renew_deadline,
        };
        assert!(tenure.holds(renewed + Duration::from_secs(9)));
        assert!(!tenure.holds(renewed + t.renew_deadline));
        assert!(t.renew_deadline < t.duration);
    }
}
