//! A small seeded generator (SplitMix64) and the draws the simulation
//! needs. Our own, so that a seed gives the same run on every build: a
//! crate's generator may change its stream between versions.

#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// An independent stream for `part` of a run (a router, a server).
    pub fn split(&self, part: u64) -> Rng {
        let mut r = Rng(self.0 ^ part.wrapping_mul(0xA24B_AED4_963E_E407));
        r.next_u64();
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize % n.max(1)
    }

    /// Exponential with `rate` (the gap between Poisson arrivals).
    pub fn exponential(&mut self, rate: f64) -> f64 {
        -(1.0 - self.unit()).ln() / rate
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u = 1.0 - self.unit();
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_one_stream_and_the_draws_have_their_means() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        assert_eq!(a.next_u64(), b.next_u64());
        assert_ne!(
            Rng::new(7).split(1).next_u64(),
            Rng::new(7).split(2).next_u64()
        );
        let n = 100_000;
        let mut r = Rng::new(1);
        let mean_exp: f64 = (0..n).map(|_| r.exponential(4.0)).sum::<f64>() / n as f64;
        assert!((mean_exp - 0.25).abs() < 0.01, "{mean_exp}");
        let mean_normal: f64 = (0..n).map(|_| r.normal()).sum::<f64>() / n as f64;
        assert!(mean_normal.abs() < 0.02, "{mean_normal}");
        assert!((0..1000).all(|_| r.below(3) < 3));
    }
}
