//! When to try a failing store again.

use std::time::{Duration, Instant};

/// Waits after failures: half a second after the first, doubling up to
/// 30 s; a success starts over.
#[derive(Debug, Default)]
pub struct Backoff {
    delay: Option<Duration>,
    until: Option<Instant>,
}

const FIRST: Duration = Duration::from_millis(500);
const LONGEST: Duration = Duration::from_secs(30);

impl Backoff {
    /// Whether to try now.
    pub fn ready(&self, now: Instant) -> bool {
        self.until.is_none_or(|u| now >= u)
    }

    /// A try failed at `now`: how long until the next.
    pub fn failed(&mut self, now: Instant) -> Duration {
        let delay = self.delay.map_or(FIRST, |d| (d * 2).min(LONGEST));
        self.delay = Some(delay);
        self.until = Some(now + delay);
        delay
    }

    /// A try succeeded (or the caller must try regardless, as on shutdown).
    pub fn reset(&mut self) {
        *self = Backoff::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_a_limit_and_start_over_after_a_success() {
        let t = Instant::now();
        let mut b = Backoff::default();
        assert!(b.ready(t));
        let waits: Vec<u64> = (0..9).map(|_| b.failed(t).as_millis() as u64).collect();
        assert_eq!(
            waits,
            [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        assert!(!b.ready(t + Duration::from_secs(29)));
        assert!(b.ready(t + Duration::from_secs(30)));
        b.reset();
        assert!(b.ready(t));
        assert_eq!(b.failed(t), FIRST);
    }
}
