//! `cargo run --release -p ets-sim --example demo -- OUT_DIR [SCENARIO] [SEED]`

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "target/sim-demo".to_owned());
    let scenario = args
        .next()
        .unwrap_or_else(|| "scenarios/cn-power-2021.toml".to_owned());
    let seed = args.next().map(|s| s.parse()).transpose()?;
    let summary = ets_sim::demo(out.as_ref(), scenario.as_ref(), seed, None)?;
    println!("{}", summary.to_markdown());
    Ok(())
}
