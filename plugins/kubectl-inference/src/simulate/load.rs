//! The load: arrival times (Poisson, or evenly spaced as the old GIE
//! simulator sent them) and request lengths from a ShareGPT-like
//! distribution.

use super::random::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Arrivals {
    Poisson,
    Deterministic,
}

/// Request lengths: log-normal input and output token counts, capped. The
/// defaults follow the published runs' ShareGPT sample (mean input 252
/// and output 225 tokens at 200 QPS; LPG capped inputs at 1,024 and outputs
/// at 2,048): medians e^5 ≈ 148 and e^4.9 ≈ 134 with σ = 1 give means of
/// about 245 and 221, and ShareGPT's long tail.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lengths {
    pub input_mu: f64,
    pub input_sigma: f64,
    pub output_mu: f64,
    pub output_sigma: f64,
    pub max_input: u64,
    pub max_output: u64,
}

impl Default for Lengths {
    fn default() -> Self {
        Lengths {
            input_mu: 5.0,
            input_sigma: 1.0,
            output_mu: 4.9,
            output_sigma: 1.0,
            max_input: 1024,
            max_output: 2048,
        }
    }
}

impl Lengths {
    /// One (input, output) pair.
    pub fn draw(&self, rng: &mut Rng) -> (u64, u64) {
        let draw = |rng: &mut Rng, mu: f64, sigma: f64, max: u64| {
            ((mu + sigma * rng.normal()).exp().round() as u64).clamp(1, max)
        };
        (
            draw(rng, self.input_mu, self.input_sigma, self.max_input),
            draw(rng, self.output_mu, self.output_sigma, self.max_output),
        )
    }
}

/// One request of the load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrival {
    pub at: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// The requests of `qps` over `duration` seconds, in time order, drawn
/// lazily (a long run holds none of them in memory).
pub fn requests(
    qps: f64,
    duration: f64,
    arrivals: Arrivals,
    lengths: Lengths,
    mut rng: Rng,
) -> impl Iterator<Item = Arrival> {
    let mut now = 0.0;
    let mut n = 0u64;
    std::iter::from_fn(move || {
        now = match arrivals {
            Arrivals::Poisson => now + rng.exponential(qps),
            Arrivals::Deterministic => n as f64 / qps,
        };
        n += 1;
        if now >= duration {
            return None;
        }
        let (input_tokens, output_tokens) = lengths.draw(&mut rng);
        Some(Arrival {
            at: now,
            input_tokens,
            output_tokens,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_lengths_are_what_they_say() {
        let poisson: Vec<Arrival> = requests(
            100.0,
            60.0,
            Arrivals::Poisson,
            Lengths::default(),
            Rng::new(3),
        )
        .collect();
        assert!(
            (poisson.len() as f64 - 6000.0).abs() < 300.0,
            "{}",
            poisson.len()
        );
        assert!(poisson.windows(2).all(|w| w[0].at <= w[1].at));
        let mean_in =
            poisson.iter().map(|a| a.input_tokens as f64).sum::<f64>() / poisson.len() as f64;
        let mean_out =
            poisson.iter().map(|a| a.output_tokens as f64).sum::<f64>() / poisson.len() as f64;
        assert!((200.0..290.0).contains(&mean_in), "{mean_in}");
        assert!((180.0..260.0).contains(&mean_out), "{mean_out}");
        assert!(
            poisson
                .iter()
                .all(|a| a.input_tokens <= 1024 && a.output_tokens >= 1)
        );
        let even: Vec<Arrival> = requests(
            10.0,
            1.0,
            Arrivals::Deterministic,
            Lengths::default(),
            Rng::new(3),
        )
        .collect();
        assert_eq!(even.len(), 10);
        assert!((even[3].at - 0.3).abs() < 1e-12);
    }
}
