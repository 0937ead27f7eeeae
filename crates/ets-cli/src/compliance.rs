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
use ets_store::StoreLocation;
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

/// `--scheme` and `--year`: the compliance year a subcommand works on.
#[derive(clap::Args)]
pub struct SchemeYear {
    /// The scheme id.
    #[arg(long)]
    scheme: String,
    /// The compliance year.
    #[arg(long)]
    year: u16,
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
        #[command(flatten)]
        at: SchemeYear,
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
        #[command(flatten)]
        at: SchemeYear,
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
        #[command(flatten)]
        at: SchemeYear,
    },
    /// Prints the compliance report of a year: per entity verified emissions, allocation,
    /// obligation, surrendered, offsets used, status and penalty (final once closed).
    ///
    /// Example: `ets compliance report --data ./registry --scheme cn-power-2021 --year 2021 --format csv`
    Report {
        #[command(flatten)]
        data: crate::StoreDir,
        #[command(flatten)]
        at: SchemeYear,
        /// Table, CSV or JSON.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Average price of the month before the deadline, in ticks (for a provisional China 2024 penalty).
        #[arg(long)]
        price_ticks: Option<i64>,
    },
}

/// Runs one `ets compliance` subcommand.
///
/// # Errors
/// A file that cannot be read or holds a bad row, a store that cannot be
/// opened, or a price of zero or less.
pub fn run(command: Compliance) -> Result<ExitCode> {
    match command {
        Compliance::LoadRulebook { sender, file } => load_rulebook(&sender, &file),
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
            at,
            phase,
            file,
        } => allocate(&sender, at, phase, &file),
        Compliance::Close {
            sender,
            at,
            price_ticks,
        } => close(&sender, at, price_ticks),
        Compliance::Allocation { data, at } => print_allocation(&data, &at),
        Compliance::Report {
            data,
            at,
            format,
            price_ticks,
        } => report(&data, &at, format, price_ticks),
    }
}

/// `load-rulebook`: sends the rulebook file's text, named by its path.
fn load_rulebook(sender: &crate::one_command::Sender, file: &Path) -> Result<ExitCode> {
    let toml =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let source_name = file.display().to_string();
    submit(
        sender,
        ComplianceCommand::LoadRulebook { source_name, toml },
    )
}

/// `allocate`: sends a pre-allocation or final allocation of the outputs in `file`.
fn allocate(
    sender: &crate::one_command::Sender,
    at: SchemeYear,
    phase: Phase,
    file: &Path,
) -> Result<ExitCode> {
    let outputs = read_outputs(file)?;
    let phase = match phase {
        Phase::Pre => AllocationPhase::Pre,
        Phase::Final => AllocationPhase::Final,
    };
    submit(
        sender,
        ComplianceCommand::Allocate {
            scheme: at.scheme,
            year: at.year,
            phase,
            outputs,
        },
    )
}

/// `close`: closes the year, with the reference price of the month before
/// the deadline when given.
fn close(
    sender: &crate::one_command::Sender,
    at: SchemeYear,
    price_ticks: Option<i64>,
) -> Result<ExitCode> {
    let reference_average_price = price_ticks.map(Price::try_new).transpose()?;
    submit(
        sender,
        ComplianceCommand::CloseYear {
            scheme: at.scheme,
            year: at.year,
            reference_average_price,
        },
    )
}

/// `allocation`: prints the year's allocation of every entity as JSON.
fn print_allocation(data: &StoreLocation, at: &SchemeYear) -> Result<ExitCode> {
    let store = crate::one_command::open_for_view(data)?;
    let lines: Vec<_> = store
        .engine()
        .compliance()
        .allocations_for(&at.scheme, at.year)
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

/// `report`: prints the year's compliance report, final once the year is
/// closed; a table for a store that is not live opens with its notice.
fn report(
    data: &StoreLocation,
    at: &SchemeYear,
    format: Format,
    price_ticks: Option<i64>,
) -> Result<ExitCode> {
    let store = crate::one_command::open_read_only(data)?;
    let price = price_ticks.map(Price::try_new).transpose()?;
    let engine = store.engine();
    let results = engine
        .compliance()
        .results(engine.registry(), &at.scheme, at.year, price)?;
    let closed = engine
        .compliance()
        .closed_results(&at.scheme, at.year)
        .is_some();
    crate::one_command::note_if_not_live(&store);
    if let (Format::Table, Some(notice)) = (format, store.kind().not_live_notice()) {
        println!("{notice}");
    }
    match format {
        Format::Json => print_report_json(&results, closed)?,
        Format::Csv => print_report_csv(&results)?,
        Format::Table => print_report_table(&results, closed),
    }
    Ok(ExitCode::SUCCESS)
}

/// Sends one compliance command through the store and prints its outcome.
fn submit(sender: &crate::one_command::Sender, command: ComplianceCommand) -> Result<ExitCode> {
    sender.submit(Command::Compliance(command))
}

/// One row of the entities CSV: a unit of a covered entity.
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

/// One row of the outputs CSV: a unit's output of the year (decimals kept as text).
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

/// The covered entities of an entities CSV, their units grouped by participant,
/// or the first bad line named.
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

/// The unit outputs of an outputs CSV, grouped by participant, or the first
/// bad line named.
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

/// Tonnes as text, `-` when there are none to give.
fn optional(quantity: Option<ets_model::Quantity>) -> String {
    quantity.map_or_else(|| "-".to_owned(), |q| q.tonnes().to_string())
}

/// The report as JSON, one object per entity.
fn print_report_json(results: &[EntityResult], closed: bool) -> Result<()> {
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
    Ok(())
}

/// The header of the CSV report: its columns, in order.
const REPORT_CSV_HEADER: &str = "entity,account,verified_emissions,allocation,obligation,allowances_surrendered,offsets_used,status,shortfall,fine_min_minor_units,fine_max_minor_units,next_year_deduction,period,eu_status,make_good,intermediate_shortfall";

/// The report as CSV, one row per entity under [`REPORT_CSV_HEADER`].
fn print_report_csv(results: &[EntityResult]) -> Result<()> {
    let mut writer = csv::Writer::from_writer(std::io::stdout());
    writer.write_record(REPORT_CSV_HEADER.split(','))?;
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
    Ok(())
}

/// The report as a table for people, headed final or provisional.
fn print_report_table(results: &[EntityResult], closed: bool) {
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
