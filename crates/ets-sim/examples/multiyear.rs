//! Times a multi-year chain (docs/simulation.md, "Multi-year runs"):
//! `cargo run --release -p ets-sim --example multiyear -- scenarios/cn-power-2019-2025.toml OUT [ENTITIES] [--in-memory]`.

use ets_sim::RunOptions;
use ets_sim::multiyear::{Chain, run_into};
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(chain), Some(out)) = (args.first(), args.get(1)) else {
        anyhow::bail!("usage: multiyear CHAIN.toml OUT [ENTITIES] [--in-memory]");
    };
    let mut chain = Chain::load(&PathBuf::from(chain))?;
    if let Some(entities) = args.get(2).and_then(|n| n.parse().ok()) {
        chain = chain.with_entities(entities);
    }
    let in_memory = args.iter().any(|a| a == "--in-memory");
    let run = run_into(
        &PathBuf::from(out),
        &chain,
        RunOptions::default(),
        in_memory,
    )?;
    println!(
        "{} entities: {} commands in {:.1} s, store {} bytes, state hash {}",
        chain.header.entities, run.outcome.commands, run.seconds, run.store_bytes, run.state_hash
    );
    Ok(())
}
