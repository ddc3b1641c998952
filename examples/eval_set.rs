//! Writes the analytics evaluation set (`streamswarm::analytics::eval`) to a directory:
//! `points-NNN.lp` (ping line protocol, second precision, 50,000 lines a file) and
//! `labels.json` (the injected incidents, the configuration that made them, and the
//! benign blips), so the same set can be loaded into the embedded store or InfluxDB.
//!
//! ```sh
//! cargo run --release --example eval_set -- --out /tmp/evalset --seed 11 --agents 6 --targets 6 --days 15
//! curl -XPOST 'http://127.0.0.1:8086/write?db=eval&precision=s' --data-binary @/tmp/evalset/points-000.lp
//! ```

use clap::Parser;
use serde_json::json;
use streamswarm::analytics::eval::{EvalConfig, generate};

#[derive(Parser)]
struct Args {
    /// Directory to write into (created).
    #[arg(long)]
    out: std::path::PathBuf,
    #[arg(long, default_value_t = EvalConfig::default().seed)]
    seed: u64,
    #[arg(long, default_value_t = EvalConfig::default().agents)]
    agents: usize,
    #[arg(long, default_value_t = EvalConfig::default().targets)]
    targets: usize,
    #[arg(long, default_value_t = EvalConfig::default().days)]
    days: u32,
    #[arg(long, default_value_t = EvalConfig::default().training_days)]
    training_days: u32,
    #[arg(long, default_value_t = EvalConfig::default().incidents_per_kind)]
    incidents_per_kind: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = EvalConfig {
        seed: args.seed,
        agents: args.agents,
        targets: args.targets,
        days: args.days,
        training_days: args.training_days,
        incidents_per_kind: args.incidents_per_kind,
        ..EvalConfig::default()
    };
    let set = generate(&config);
    std::fs::create_dir_all(&args.out)?;
    let chunks = set.line_protocol(50_000);
    for (i, chunk) in chunks.iter().enumerate() {
        std::fs::write(args.out.join(format!("points-{i:03}.lp")), chunk)?;
    }
    let labels = json!({
        "config": {
            "seed": config.seed, "agents": config.agents, "targets": config.targets,
            "days": config.days, "training_days": config.training_days,
            "start_s": config.start_s, "pings_per_point": config.pings_per_point,
        },
        "incidents": set.incidents,
        "blips": set.blips,
    });
    std::fs::write(
        args.out.join("labels.json"),
        serde_json::to_vec_pretty(&labels)?,
    )?;
    println!(
        "{} series, {} points in {} files, {} incidents, {} blips → {}",
        set.series.len(),
        set.series.values().map(Vec::len).sum::<usize>(),
        chunks.len(),
        set.incidents.len(),
        set.blips.len(),
        args.out.display()
    );
    Ok(())
}
