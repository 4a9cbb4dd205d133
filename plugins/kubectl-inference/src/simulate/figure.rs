//! `--plot`: the published benchmark's figure — output tokens per minute,
//! p90 normalised time per output token and p90 end-to-end latency against
//! the offered rate, one line per router (and pool size) — on any plotters
//! backend (the command draws SVG and PNG).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::run::Outcome;

/// One panel: its title, its y-axis and the value of a run.
struct Panel {
    title: &'static str,
    unit: &'static str,
    log: bool,
    value: fn(&Outcome) -> f64,
}

const PANELS: [Panel; 3] = [
    Panel {
        title: "Throughput",
        unit: "output tokens/min (millions)",
        log: false,
        value: |o| o.output_tokens_per_min / 1e6,
    },
    Panel {
        title: "p90 NTPOT",
        unit: "ms (log)",
        log: true,
        value: |o| o.ntpot.p90 * 1e3,
    },
    Panel {
        title: "p90 end-to-end latency",
        unit: "s (log)",
        log: true,
        value: |o| o.e2e.p90,
    },
];

/// The font every label uses. The caller registers its bytes with
/// [`use_font`] first: plotters measures text with it, even for SVG.
pub const FONT: &str = "sans-serif";

/// Registers a TrueType font for the labels.
pub fn use_font(ttf: &'static [u8]) -> Result<(), String> {
    plotters::style::register_font(FONT, FontStyle::Normal, ttf)
        .map_err(|_| "not a TrueType font plotters can read".to_string())
}

/// Lines, one per router and pool size, in the order the runs came.
fn lines(runs: &[Outcome]) -> Vec<(String, Vec<&Outcome>)> {
    let sizes = runs
        .iter()
        .map(|o| o.servers)
        .collect::<std::collections::BTreeSet<_>>();
    let mut lines: Vec<(String, Vec<&Outcome>)> = Vec::new();
    for o in runs {
        let name = if sizes.len() > 1 {
            format!("{} ×{}", o.router, o.servers)
        } else {
            o.router.to_string()
        };
        match lines.iter_mut().find(|(n, _)| *n == name) {
            Some((_, line)) => line.push(o),
            None => lines.push((name, vec![o])),
        }
    }
    for (_, line) in &mut lines {
        line.sort_by(|a, b| a.qps.total_cmp(&b.qps));
    }
    lines
}

/// Draws the three panels side by side on `root`.
pub fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    runs: &[Outcome],
    title: &str,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let root = root.titled(title, (FONT, 22))?;
    let lines = lines(runs);
    let (x_min, x_max) = runs.iter().fold((f64::MAX, f64::MIN), |(lo, hi), o| {
        (lo.min(o.qps), hi.max(o.qps))
    });
    let pad = ((x_max - x_min) * 0.05).max(1.0);
    let x = (x_min - pad)..(x_max + pad);
    for (area, panel) in root.split_evenly((1, 3)).iter().zip(&PANELS) {
        let values: Vec<f64> = runs.iter().map(panel.value).collect();
        let y_max = values.iter().copied().fold(0.0, f64::max).max(1e-9) * 1.1;
        let mut builder = ChartBuilder::on(area);
        builder
            .caption(panel.title, (FONT, 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60);
        // One body for both scales: the axis types differ.
        macro_rules! body {
            ($chart:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .x_desc("offered QPS")
                    .y_desc(panel.unit)
                    .label_style((FONT, 12))
                    .draw()?;
                for (i, (name, line)) in lines.iter().enumerate() {
                    let color = Palette99::pick(i).to_rgba();
                    let points: Vec<(f64, f64)> =
                        line.iter().map(|o| (o.qps, (panel.value)(o))).collect();
                    chart
                        .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
                        .label(name.as_str())
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                        });
                    chart.draw_series(
                        points
                            .into_iter()
                            .map(|p| Circle::new(p, 3, color.filled())),
                    )?;
                }
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::UpperLeft)
                    .label_font((FONT, 13))
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK)
                    .draw()?;
            }};
        }
        if panel.log {
            let y_min = values
                .iter()
                .copied()
                .filter(|v| *v > 0.0)
                .fold(f64::MAX, f64::min)
                .min(y_max / 10.0)
                * 0.8;
            body!(builder.build_cartesian_2d(x.clone(), (y_min..y_max).log_scale())?);
        } else {
            body!(builder.build_cartesian_2d(x.clone(), 0.0..y_max)?);
        }
    }
    root.present()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::run::Quantiles;

    fn run(router: &'static str, servers: usize, qps: f64) -> Outcome {
        let q = Quantiles {
            p50: 0.01,
            p90: 0.02 * qps / 100.0,
            p99: 0.05,
        };
        Outcome {
            router,
            servers,
            qps,
            requests: 1,
            completed: 1,
            shed: 0,
            preempted: 0,
            achieved_qps: qps,
            output_tokens_per_sec: qps * 200.0,
            output_tokens_per_min: qps * 12_000.0,
            ntpot: q,
            tpot: q,
            ttft: q,
            e2e: q,
            makespan: 60.0,
        }
    }

    #[test]
    fn lines_are_per_router_and_size_in_rate_order() {
        let runs = [
            run("random", 10, 200.0),
            run("epp", 10, 100.0),
            run("random", 10, 100.0),
        ];
        let l = lines(&runs);
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].0, "random");
        assert_eq!(
            l[0].1.iter().map(|o| o.qps).collect::<Vec<_>>(),
            [100.0, 200.0]
        );
        let two = [run("epp", 8, 100.0), run("epp", 12, 100.0)];
        let sized = lines(&two);
        assert_eq!(sized[1].0, "epp ×12");
    }

    #[test]
    fn the_figure_draws_as_svg() {
        let Ok(ttf) = std::fs::read("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf") else {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "skipped: no DejaVuSans.ttf (Debian fonts-dejavu-core) to measure labels with"
            );
            return;
        };
        use_font(Box::leak(ttf.into_boxed_slice())).unwrap();
        let runs: Vec<Outcome> = [100.0, 200.0, 300.0]
            .iter()
            .flat_map(|q| [run("random", 10, *q), run("epp", 10, *q)])
            .collect();
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (1200, 400)).into_drawing_area();
            draw(&root, &runs, "10 servers").unwrap();
        }
        for text in [
            "Throughput",
            "p90 NTPOT",
            "offered QPS",
            "random",
            "epp",
            "<polyline",
            "<circle",
            "10 servers",
        ] {
            assert!(svg.contains(text), "no {text:?} in the SVG");
        }
    }
}
