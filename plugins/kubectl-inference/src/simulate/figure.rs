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

/// Line colours that stay apart on white (the routers' order decides).
const COLOURS: [RGBColor; 8] = [
    RGBColor(214, 39, 40),
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// An axis label without a needless ".0".
fn tick(v: &f64) -> String {
    if v.fract() == 0.0 || v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

/// Two significant digits: 0.0031, 4.2, 17, 760.
fn significant(v: f64) -> String {
    if v >= 100.0 {
        return format!("{v:.0}");
    }
    let decimals = (1.0 - v.log10().floor()).max(0.0) as usize;
    format!("{v:.decimals$}")
}

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
        // A log panel plots log10 of its values on a linear axis and
        // labels the ticks with the values: plotters' own log axes label
        // a decade or two too sparsely to read.
        let y = |v: f64| if panel.log { v.max(1e-9).log10() } else { v };
        let values: Vec<f64> = runs.iter().map(|o| y((panel.value)(o))).collect();
        let (lo, hi) = values
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        let range = if panel.log {
            let pad = ((hi - lo) * 0.05).max(0.05);
            (lo - pad)..(hi + pad)
        } else {
            0.0..(hi.max(1e-9) * 1.1)
        };
        let label = |v: &f64| {
            if panel.log {
                significant(10f64.powf(*v))
            } else {
                tick(v)
            }
        };
        let mut chart = ChartBuilder::on(area)
            .caption(panel.title, (FONT, 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x.clone(), range)?;
        chart
            .configure_mesh()
            .x_desc("offered QPS")
            .y_desc(panel.unit)
            .x_label_formatter(&tick)
            .y_label_formatter(&label)
            .light_line_style(RGBColor(238, 238, 238))
            .label_style((FONT, 12))
            .draw()?;
        for (i, (name, line)) in lines.iter().enumerate() {
            let color = COLOURS[i % COLOURS.len()];
            let points: Vec<(f64, f64)> =
                line.iter().map(|o| (o.qps, y((panel.value)(o)))).collect();
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
            held_midway: 0,
            held_at_end: 0,
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
    fn log_ticks_read_as_values() {
        assert_eq!(significant(0.00314), "0.0031");
        assert_eq!(significant(4.24), "4.2");
        assert_eq!(significant(17.2), "17");
        assert_eq!(significant(763.0), "763");
        assert_eq!(tick(&100.0), "100");
        assert_eq!(tick(&2.5), "2.5");
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
