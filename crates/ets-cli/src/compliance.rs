//! `ets compliance`: load a rulebook, register covered entities and run
//! allocation from CSV files, close a year, and print the compliance report.
//! Every step is an ordinary engine command, journaled like any other.

use anyhow::{Context, Result, bail};
use clap::{Subcommand, ValueEnum};
use ets_engine::Command;
use ets_engine::compliance::{
    AllocationPhase, ComplianceCommand, Cooling, EntityOutput, EntityResult, EntitySpec,
    UnitCategory, UnitOutput, UnitSpec,
};
use ets_model::{AccountId, Code, ParticipantId, Price};
use ets_store::Store;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Output formats of the report.
#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    /// A table for people.
    Table,
    /// CSV, one row per entity.
    Csv,
    /// JSON, one object per entity.
    Json,
}

/// Allocation steps.
#[derive(Clone, Copy, ValueEnum)]
pub enum Phase {
    /// Pre-allocation on base-year output.
    Pre,
    /// Final allocation on verified output (the true-up).
    Final,
}

/// The compliance subcommands.
#[derive(Subcommand)]
pub enum Compliance {
    /// Loads a scheme rulebook (TOML, e.g. schemes/cn-power-2021.toml) into the store.
    ///
    /// Example: `ets compliance load-rulebook --data ./registry --requester 1 schemes/cn-power-2021.toml`
    LoadRulebook {
        #[command(flatten)]
        sender: crate::one_command::Sender,
        /// The rulebook file.
        file: PathBuf,
    },
    /// Registers covered entities and their units from a CSV file; a bad row is
    /// reported by line number and nothing is imported.
    ///
    /// Columns: participant,account,unit,category,capacity_mw,cooling,chp (one row per unit;
    /// category coal_above_300mw|coal_at_most_300mw|unconventional_coal|gas; cooling water|air;
    /// chp true|false). Example: `ets compliance register --data ./registry --requester 1 --scheme cn-power-2021 entities.csv`
    Register {
        #[command(flatten)]
        sender: crate::one_command::Sender,
        /// The scheme id.
        #[arg(long)]
        scheme: String,
        /// The CSV file.
        file: PathBuf,
    },
    /// Runs pre-allocation or the final allocation (true-up) from a CSV of unit outputs.
    ///
    /// Columns: participant,unit,electricity_mwh,heat_gj,heat_supply_ratio,load_factor.
    /// Example: `ets compliance allocate --data ./registry --requester 1 --scheme cn-power-2021 --year 2021 --phase pre outputs-2018.csv`
    Allocate {
        #[command(flatten)]
        sender: crate::one_command::Sender,
        /// The scheme id.
        #[arg(long)]
        scheme: String,
        /// The compliance year.
        #[arg(long)]
        year: u16,
        /// Pre-allocation or final.
        #[arg(long, value_enum)]
        phase: Phase,
        /// The CSV file.
        file: PathBuf,
    },
    /// Closes a compliance year: statuses and penalties become final.
    ///
    /// Example: `ets compliance close --data ./registry --requester 1 --scheme cn-power-2021 --year 2021`
    Close {
        #[command(flatten)]
        sender: crate::one_command::Sender,
        /// The scheme id.
        #[arg(long)]
        scheme: String,
        /// The compliance year.
        #[arg(long)]
        year: u16,
        /// Average price of the month before the deadline, in ticks (China 2024 regime).
        #[arg(long)]
        price_ticks: Option<i64>,
    },
    /// Prints the allocation of a year per entity as JSON: pre-allocated, final, the per-unit
    /// breakdown of the latest step, a claw-back still owed, and the registry transactions.
    ///
    /// Example: `ets compliance allocation --data ./registry --scheme cn-power-2021 --year 2021`
    Allocation {
        #[command(flatten)]
        data: crate::StoreDir,
        /// The scheme id.
        #[arg(long)]
        scheme: String,
        /// The compliance year.
        #[arg(long)]
        year: u16,
    },
    /// Prints the compliance report of a year: per entity verified emissions, allocation,
    /// obligation, surrendered, offsets used, status and penalty (final once closed).
    ///
    /// Example: `ets compliance report --data ./registry --scheme cn-power-2021 --year 2021 --format csv`
    Report {
        #[command(flatten)]
        data: crate::StoreDir,
        /// The scheme id.
        #[arg(long)]
        scheme: String,
        /// The compliance year.
        #[arg(long)]
        year: u16,
        /// Table, CSV or JSON.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Average price of the month before the deadline, in ticks (for a provisional China 2024 penalty).
        #[arg(long)]
        price_ticks: Option<i64>,
    },
}

pub fn run(command: Compliance) -> Result<ExitCode> {
    match command {
        Compliance::LoadRulebook { sender, file } => {
            let toml = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let source_name = file.display().to_string();
            submit(
                &sender,
                ComplianceCommand::LoadRulebook { source_name, toml },
            )
        }
        Compliance::Register {
            sender,
            scheme,
            file,
        } => {
            let entities = read_entities(&file)?;
            submit(
                &sender,
                ComplianceCommand::RegisterEntities { scheme, entities },
            )
        }
        Compliance::Allocate {
            sender,
            scheme,
            year,
            phase,
            file,
        } => {
            let outputs = read_outputs(&file)?;
            let phase = match phase {
                Phase::Pre => AllocationPhase::Pre,
                Phase::Final => AllocationPhase::Final,
            };
            submit(
                &sender,
                ComplianceCommand::Allocate {
                    scheme,
                    year,
                    phase,
                    outputs,
                },
            )
        }
        Compliance::Close {
            sender,
            scheme,
            year,
            price_ticks,
        } => {
            let reference_average_price = price_ticks.map(Price::try_new).transpose()?;
            submit(
                &sender,
                ComplianceCommand::CloseYear {
                    scheme,
                    year,
                    reference_average_price,
                },
            )
        }
        Compliance::Allocation { data, scheme, year } => {
            let store = Store::open_read_only_at(&data)
                .with_context(|| format!("cannot open the store in {}", data.display()))?;
            crate::one_command::note_if_not_live(&store);
            let lines: Vec<_> = store
                .engine()
                .compliance()
                .allocations_for(&scheme, year)
                .into_iter()
                .map(|(entity, record)| {
                    json!({
                        "entity": entity.0,
                        "pre_allocated": record.pre_allocated.map(|q| q.tonnes()),
                        "final_allocation": record.final_allocation.map(|q| q.tonnes()),
                        "breakdown_tonnes": record.breakdown.iter().map(|(unit, tonnes)| json!({"unit": unit, "exact_tonnes": tonnes})).collect::<Vec<_>>(),
                        "claw_back_outstanding": record.claw_back_outstanding.tonnes(),
                        "borrowed": record.borrowed.tonnes(),
                        "deducted": record.deducted.tonnes(),
                        "transactions": record.transactions.iter().map(|t| t.0).collect::<Vec<_>>(),
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&lines)?);
            Ok(ExitCode::SUCCESS)
        }
        Compliance::Report {
            data,
            scheme,
            year,
            format,
            price_ticks,
        } => {
            let store = Store::open_read_only_at(&data)
                .with_context(|| format!("cannot open the store in {}", data.display()))?;
            let price = price_ticks.map(Price::try_new).transpose()?;
            let engine = store.engine();
            let results = engine
                .compliance()
                .results(engine.registry(), &scheme, year, price)?;
            let closed = engine.compliance().closed_results(&scheme, year).is_some();
            crate::one_command::note_if_not_live(&store);
            if let (Format::Table, Some(notice)) = (format, store.kind().not_live_notice()) {
                println!("{notice}");
            }
            print_report(&results, format, closed)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Sends one compliance command through the store and prints its outcome.
fn submit(sender: &crate::one_command::Sender, command: ComplianceCommand) -> Result<ExitCode> {
    sender.submit(Command::Compliance(command))
}

#[derive(Deserialize)]
struct EntityRow {
    participant: u64,
    account: u64,
    unit: String,
    category: String,
    capacity_mw: u32,
    cooling: String,
    chp: bool,
}

#[derive(Deserialize)]
struct OutputRow {
    participant: u64,
    unit: String,
    electricity_mwh: String,
    heat_gj: String,
    heat_supply_ratio: String,
    load_factor: String,
}

/// Reads every row of a CSV file, or names the first bad line.
fn rows<T: for<'de> Deserialize<'de>>(file: &Path) -> Result<Vec<(u64, T)>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let mut rows = Vec::new();
    for record in reader.deserialize::<T>() {
        match record {
            Ok(row) => rows.push((rows.len() as u64 + 2, row)),
            Err(error) => {
                let line = error.position().map_or(0, csv::Position::line);
                bail!(
                    "{} line {line}: {error}; nothing was imported",
                    file.display()
                );
            }
        }
    }
    Ok(rows)
}

fn read_entities(file: &Path) -> Result<Vec<EntitySpec>> {
    let mut entities: BTreeMap<u64, EntitySpec> = BTreeMap::new();
    for (line, row) in rows::<EntityRow>(file)? {
        let at = |message: String| {
            anyhow::anyhow!(
                "{} line {line}: {message}; nothing was imported",
                file.display()
            )
        };
        let category = match row.category.as_str() {
            "coal_above_300mw" => UnitCategory::CoalAbove300Mw,
            "coal_at_most_300mw" => UnitCategory::CoalAtMost300Mw,
            "unconventional_coal" => UnitCategory::UnconventionalCoal,
            "gas" => UnitCategory::Gas,
            other => {
                return Err(at(format!(
                    "category {other:?} is not coal_above_300mw, coal_at_most_300mw, unconventional_coal or gas"
                )));
            }
        };
        let cooling = match row.cooling.as_str() {
            "water" => Cooling::Water,
            "air" => Cooling::Air,
            other => return Err(at(format!("cooling {other:?} is not water or air"))),
        };
        let unit = UnitSpec {
            unit: Code::try_new(&row.unit).map_err(|error| at(error.to_string()))?,
            category,
            capacity_mw: row.capacity_mw,
            cooling,
            combined_heat_and_power: row.chp,
        };
        let entity = entities
            .entry(row.participant)
            .or_insert_with(|| EntitySpec {
                participant: ParticipantId(row.participant),
                account: AccountId(row.account),
                units: Vec::new(),
            });
        if entity.account != AccountId(row.account) {
            return Err(at(format!(
                "participant {} was given account {} on an earlier line",
                row.participant, entity.account
            )));
        }
        entity.units.push(unit);
    }
    Ok(entities.into_values().collect())
}

fn read_outputs(file: &Path) -> Result<Vec<EntityOutput>> {
    let mut outputs: BTreeMap<u64, EntityOutput> = BTreeMap::new();
    for (line, row) in rows::<OutputRow>(file)? {
        let unit = Code::try_new(&row.unit).map_err(|error| {
            anyhow::anyhow!(
                "{} line {line}: {error}; nothing was imported",
                file.display()
            )
        })?;
        outputs
            .entry(row.participant)
            .or_insert_with(|| EntityOutput {
                participant: ParticipantId(row.participant),
                units: Vec::new(),
            })
            .units
            .push(UnitOutput {
                unit,
                electricity_mwh: row.electricity_mwh,
                heat_gj: row.heat_gj,
                heat_supply_ratio: row.heat_supply_ratio,
                load_factor: row.load_factor,
            });
    }
    Ok(outputs.into_values().collect())
}

fn optional(quantity: Option<ets_model::Quantity>) -> String {
    quantity.map_or_else(|| "-".to_owned(), |q| q.tonnes().to_string())
}

fn print_report(results: &[EntityResult], format: Format, closed: bool) -> Result<()> {
    match format {
        Format::Json => {
            let lines: Vec<_> = results
                .iter()
                .map(|r| {
                    json!({
                        "entity": r.entity.0, "account": r.account.0,
                        "verified_emissions": r.verified_emissions.map(|q| q.tonnes()),
                        "allocation": r.allocation.tonnes(), "obligation": r.obligation.tonnes(),
                        "allowances_surrendered": r.allowances_surrendered.tonnes(),
                        "offsets_used": r.offsets_used.tonnes(), "status": r.status.name(),
                        "shortfall": r.shortfall.tonnes(), "fine_min_minor_units": r.fine_min.minor_units(),
                        "fine_max_minor_units": r.fine_max.minor_units(),
                        "next_year_deduction": r.next_year_deduction.tonnes(), "final": closed,
                        "period": r.period, "eu_status": r.eu_status,
                        "make_good": r.make_good.tonnes(),
                        "intermediate_shortfall": r.intermediate_shortfall.tonnes(),
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&lines)?);
        }
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(std::io::stdout());
            writer.write_record([
                "entity",
                "account",
                "verified_emissions",
                "allocation",
                "obligation",
                "allowances_surrendered",
                "offsets_used",
                "status",
                "shortfall",
                "fine_min_minor_units",
                "fine_max_minor_units",
                "next_year_deduction",
                "period",
                "eu_status",
                "make_good",
                "intermediate_shortfall",
            ])?;
            for r in results {
                writer.write_record([
                    r.entity.0.to_string(),
                    r.account.0.to_string(),
                    optional(r.verified_emissions),
                    r.allocation.tonnes().to_string(),
                    r.obligation.tonnes().to_string(),
                    r.allowances_surrendered.tonnes().to_string(),
                    r.offsets_used.tonnes().to_string(),
                    r.status.name().to_owned(),
                    r.shortfall.tonnes().to_string(),
                    r.fine_min.minor_units().to_string(),
                    r.fine_max.minor_units().to_string(),
                    r.next_year_deduction.tonnes().to_string(),
                    r.period.clone(),
                    r.eu_status.clone().unwrap_or_default(),
                    r.make_good.tonnes().to_string(),
                    r.intermediate_shortfall.tonnes().to_string(),
                ])?;
            }
            writer.flush()?;
        }
        Format::Table => {
            println!(
                "{}",
                if closed {
                    "Final compliance report"
                } else {
                    "Provisional compliance report (year not closed)"
                }
            );
            println!(
                "{:>8} {:>9} {:>12} {:>12} {:>12} {:>12} {:>10} {:<28} {:>10} {:>22} {:>3} {:>10}",
                "entity",
                "period",
                "verified",
                "allocation",
                "obligation",
                "surrendered",
                "offsets",
                "status",
                "shortfall",
                "fine (minor units)",
                "eu",
                "make-good"
            );
            for r in results {
                println!(
                    "{:>8} {:>9} {:>12} {:>12} {:>12} {:>12} {:>10} {:<28} {:>10} {:>22} {:>3} {:>10}",
                    r.entity.0,
                    r.period,
                    optional(r.verified_emissions),
                    r.allocation.tonnes(),
                    r.obligation.tonnes(),
                    r.allowances_surrendered.tonnes(),
                    r.offsets_used.tonnes(),
                    r.status.name(),
                    r.shortfall.tonnes(),
                    format!("{}-{}", r.fine_min.minor_units(), r.fine_max.minor_units()),
                    r.eu_status.as_deref().unwrap_or("-"),
                    r.make_good.tonnes(),
                );
            }
        }
    }
    Ok(())
}
