//! Scores detectors on the labelled evaluation set (`streamswarm::analytics`): generates
//! the set (default: 6 agents × 6 targets × 22 days, seed 11; the first 14 days
//! incident-free), runs each detector, and prints per incident kind recall, precision
//! and F1 (precision of the findings naming the kind's scope class: a false finding has
//! no kind, see `analytics::score`), mean detection delay and scope accuracy, and
//! overall precision/recall/F1 and precision per scope class, as a Markdown table (and
//! the full scores as JSON with `--json`).
//!
//! ```sh
//! cargo run --release --example analytics_eval
//! ```
//!
//! Detectors: the product's engine (`analytics::engine`, replayed minute by minute) and
//! the rolling 3-sigma baseline (60-minute window, 3 σ, 3 points).

use clap::Parser;
use streamswarm::analytics::baseline::ThreeSigma;
use streamswarm::analytics::engine::EngineConfig;
use streamswarm::analytics::eval::{EvalConfig, generate};
use streamswarm::analytics::replay::replay;
use streamswarm::analytics::score::{Score, score};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = EvalConfig::default().seed)]
    seed: u64,
    #[arg(long, default_value_t = EvalConfig::default().days)]
    days: u32,
    /// Print the full scores as JSON too.
    #[arg(long)]
    json: bool,
}

fn main() {
    let args = Args::parse();
    let config = EvalConfig {
        seed: args.seed,
        days: args.days,
        ..EvalConfig::default()
    };
    let started = std::time::Instant::now();
    let set = generate(&config);
    eprintln!(
        "set: {} series × {} days, {} incidents, {} benign blips ({:.1} s)",
        set.series.len(),
        config.days,
        set.incidents.len(),
        set.blips.len(),
        started.elapsed().as_secs_f64()
    );
    let started = std::time::Instant::now();
    let product = replay(&set, EngineConfig::default());
    eprintln!(
        "engine: {} fits in {:.1} s, {} anomalous points, replay {:.1} s",
        product.fits,
        product.fit_seconds,
        product.anomalies,
        started.elapsed().as_secs_f64()
    );
    forecast_accuracy(&set, &product.expected);
    let detectors: [(&str, Score); 2] = [
        ("StreamSwarm engine", score(&set, &product.findings)),
        (
            "rolling 3-sigma",
            score(&set, &ThreeSigma::default().detect(&set)),
        ),
    ];
    println!(
        "| detector | kind | incidents | recall | precision (its scope's) | F1 | mean delay (min) | scope right |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (name, s) in &detectors {
        for (kind, k) in &s.per_kind {
            println!(
                "| {name} | {} | {} | {:.2} | {} | {} | {} | {}/{} |",
                serde_json::to_value(kind).unwrap().as_str().unwrap(),
                k.incidents,
                k.recall,
                k.precision.map_or("–".into(), |p| format!("{p:.2}")),
                k.f1.map_or("–".into(), |f| format!("{f:.2}")),
                k.mean_delay_min.map_or("–".into(), |d| format!("{d:.1}")),
                k.scope_right,
                k.found
            );
        }
        println!(
            "| {name} | **all** | {} | {:.2} | {:.2} | {:.2} | {} | {} |",
            s.per_kind.values().map(|k| k.incidents).sum::<usize>(),
            s.recall,
            s.precision,
            s.f1,
            s.mean_delay_min.map_or("–".into(), |d| format!("{d:.1}")),
            s.scope_accuracy.map_or("–".into(), |a| format!("{a:.2}")),
        );
    }
    for (name, s) in &detectors {
        println!(
            "\n{name}: {} findings, {} matched: precision {:.3}, recall {:.3}, F1 {:.3}",
            s.findings, s.matched_findings, s.precision, s.recall, s.f1
        );
        for (class, c) in &s.per_class {
            println!(
                "  findings naming the {} scope: {}, matched {}, precision {:.3}",
                serde_json::to_value(class).unwrap().as_str().unwrap(),
                c.findings,
                c.matched,
                c.precision
            );
        }
        if args.json {
            println!("{}", serde_json::to_string_pretty(&s).unwrap());
        }
    }
}

/// The live forecasts' mean absolute error on the test days, incident minutes left out,
/// against seasonal-naive forecasts (the same minute a day and a week earlier).
fn forecast_accuracy(
    set: &streamswarm::analytics::eval::EvalSet,
    expected: &[(usize, usize, i64, f64)],
) {
    let in_incident = |a: usize, t: usize, time: i64| {
        set.incidents
            .iter()
            .any(|i| i.series.contains(&(a, t)) && time >= i.start_s && time < i.end_s + 3600)
    };
    let (mut model, mut day, mut week, mut n) = (0.0, 0.0, 0.0, 0usize);
    for &(a, t, time, e) in expected {
        if in_incident(a, t, time) {
            continue;
        }
        let points = &set.series[&(a, t)];
        let at = |s: i64| {
            let i = (s - set.config.start_s) / 60;
            usize::try_from(i)
                .ok()
                .and_then(|i| points.get(i))
                .and_then(|p| p.rtt_avg_ms)
        };
        let (Some(y), Some(d), Some(w)) = (at(time), at(time - 86_400), at(time - 7 * 86_400))
        else {
            continue;
        };
        model += (y - e).abs();
        day += (y - d).abs();
        week += (y - w).abs();
        n += 1;
    }
    let n = n.max(1) as f64;
    println!(
        "forecast MAE on {} normal test-day points: model {:.3} ms, seasonal-naive (day) {:.3} ms, seasonal-naive (week) {:.3} ms\n",
        n,
        model / n,
        day / n,
        week / n
    );
}
