//! The load: arrival times (Poisson, evenly spaced as the old GIE
//! simulator sent them, or a trace's) and request lengths from a
//! ShareGPT-like distribution or a trace.

use std::io::BufRead;
use std::sync::Arc;

use super::random::Rng;
use super::trace::{Format, Record, Records, Summary};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Arrivals {
    Poisson,
    /// Evenly spaced, as the old GIE simulator sent them.
    Deterministic,
    /// The trace's own timestamps, scaled to each rate.
    Trace,
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
#[derive(Debug, Clone, PartialEq)]
pub struct Arrival {
    pub at: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// The LoRA adapter it asks for (traces only).
    pub adapter: Option<Arc<str>>,
}

/// Opens a trace afresh: each run streams it from the start.
pub type Open = dyn Fn() -> std::io::Result<Box<dyn BufRead + Send>> + Send + Sync;

/// A trace file, scanned once.
#[derive(Clone)]
pub struct TraceSource {
    pub summary: Summary,
    pub format: Format,
    pub open: Arc<Open>,
}

impl std::fmt::Debug for TraceSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceSource")
            .field("summary", &self.summary)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// Where requests' lengths come from (and, with [`Arrivals::Trace`], their times).
#[derive(Debug, Clone)]
pub enum Shape {
    LogNormal(Lengths),
    Trace(TraceSource),
}

impl Default for Shape {
    fn default() -> Self {
        Shape::LogNormal(Lengths::default())
    }
}

impl Arrival {
    fn at(at: f64, r: Record) -> Arrival {
        Arrival {
            at,
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
            adapter: r.model,
        }
    }
}

/// A trace's records in order, from the start again when it ends (for
/// lengths under a generated arrival process).
struct Cycle {
    source: TraceSource,
    records: Option<Records<Box<dyn BufRead + Send>>>,
}

impl Cycle {
    fn new(source: &TraceSource) -> Cycle {
        Cycle {
            source: source.clone(),
            records: None,
        }
    }
}

impl Iterator for Cycle {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        for _ in 0..2 {
            let records = match &mut self.records {
                Some(r) => r,
                None => self
                    .records
                    .insert(Records::new((self.source.open)().ok()?, self.source.format)),
            };
            // The trace was scanned before the run: a bad line here means it
            // changed since, and ends the pass.
            if let Some(Ok(record)) = records.next() {
                return Some(record);
            }
            self.records = None;
        }
        None
    }
}

/// The requests of `qps` over `duration` seconds, in time order, drawn
/// lazily (a long run holds none of them in memory). With
/// [`Arrivals::Trace`] the trace's own times are scaled to `qps`.
pub fn requests(
    qps: f64,
    duration: f64,
    arrivals: Arrivals,
    shape: &Shape,
    mut rng: Rng,
) -> Box<dyn Iterator<Item = Arrival> + Send> {
    let mut sizes = match shape {
        Shape::LogNormal(lengths) => Sizes::Drawn(*lengths),
        Shape::Trace(source) if arrivals == Arrivals::Trace => {
            // Times as the trace has them, sped up or slowed down to `qps`.
            let scale = source.summary.rate().map_or(0.0, |r| r / qps);
            let mut first = None;
            let once = Cycle::new(source).take(source.summary.requests as usize);
            return Box::new(once.map_while(move |r| {
                let t = r.at?;
                let at = (t - *first.get_or_insert(t)) * scale;
                (at < duration).then(|| Arrival::at(at, r))
            }));
        }
        Shape::Trace(source) => Sizes::Traced(Cycle::new(source)),
    };
    if arrivals == Arrivals::Trace {
        // Without a trace there are no times to replay.
        return Box::new(std::iter::empty());
    }
    let mut now = 0.0;
    let mut n = 0u64;
    Box::new(std::iter::from_fn(move || {
        now = match arrivals {
            Arrivals::Poisson => now + rng.exponential(qps),
            Arrivals::Deterministic | Arrivals::Trace => n as f64 / qps,
        };
        n += 1;
        if now >= duration {
            return None;
        }
        let record = match &mut sizes {
            Sizes::Traced(cycle) => cycle.next()?,
            Sizes::Drawn(lengths) => {
                let (input_tokens, output_tokens) = lengths.draw(&mut rng);
                Record {
                    at: None,
                    input_tokens,
                    output_tokens,
                    model: None,
                }
            }
        };
        Some(Arrival::at(now, record))
    }))
}

/// Where a generated arrival's lengths come from.
enum Sizes {
    Drawn(Lengths),
    Traced(Cycle),
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
            &Shape::default(),
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
            &Shape::default(),
            Rng::new(3),
        )
        .collect();
        assert_eq!(even.len(), 10);
        assert!((even[3].at - 0.3).abs() < 1e-12);
    }

    fn trace(text: &'static str) -> Shape {
        let open: Arc<Open> =
            Arc::new(move || Ok(Box::new(text.as_bytes()) as Box<dyn BufRead + Send>));
        let summary = super::super::trace::scan(text.as_bytes(), Format::Csv).unwrap();
        Shape::Trace(TraceSource {
            summary,
            format: Format::Csv,
            open,
        })
    }

    #[test]
    fn a_trace_gives_lengths_in_order_and_its_times_scaled() {
        let shape = trace("time,input,output,model\n0,10,1,a\n1,20,2,\n2,30,3,b\n");
        // Generated arrivals: the trace's lengths, from the start again.
        let even: Vec<(u64, Option<&str>)> =
            requests(10.0, 0.5, Arrivals::Deterministic, &shape, Rng::new(1))
                .map(|a| (a.input_tokens, a.adapter.as_deref().map(|_| "x")))
                .collect();
        assert_eq!(
            even.iter().map(|e| e.0).collect::<Vec<_>>(),
            [10, 20, 30, 10, 20]
        );
        // Its own times: 1 request/s scaled to 4/s, one pass.
        let timed: Vec<Arrival> =
            requests(4.0, 60.0, Arrivals::Trace, &shape, Rng::new(1)).collect();
        assert_eq!(
            timed.iter().map(|a| a.at).collect::<Vec<_>>(),
            [0.0, 0.25, 0.5]
        );
        assert_eq!(timed[2].adapter.as_deref(), Some("b"));
        assert_eq!(timed[1].adapter, None);
        // Cut at the duration.
        assert_eq!(
            requests(4.0, 0.3, Arrivals::Trace, &shape, Rng::new(1)).count(),
            2
        );
    }
}
