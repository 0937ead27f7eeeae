//! `ets report public`: the public transparency report of a year, of the
//! kind the EU Transaction Log publishes. Per scheme whose rulebook governs
//! the year and per installation: allocation, verified emissions, units
//! surrendered, compliance status (the EU's A/B/C codes for EU rulebooks)
//! and the quantity still to make good; then market statistics per
//! instrument and UTC day. The report names its cut-off: the journal's
//! record count, head hash and state hash, which `ets verify` on the same
//! store reproduces (docs/public-report.md). In a bounded store the market
//! statistics come from the history database's trades (docs/memory.md).

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use ets_api::public_report::{self, CutOff, MarketTrade, PublicReport};
use std::fmt::Write as _;
use std::process::ExitCode;

/// Output formats.
#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    /// One JSON document.
    Json,
    /// CSV: the installations table (or the market table with `--section market`);
    /// every row carries the cut-off.
    Csv,
    /// Markdown for people.
    Md,
}

/// Which table a CSV report holds.
#[derive(Clone, Copy, ValueEnum)]
pub enum Section {
    /// One row per installation.
    Installations,
    /// One row per instrument and day.
    Market,
}

/// `ets report public` arguments.
#[derive(Args)]
pub struct PublicArgs {
    /// The store: a directory, or a `postgres://` URL.
    #[arg(long, value_name = "DIR|URL")]
    data: ets_store::StoreLocation,
    /// The compliance year (and calendar year of the market statistics).
    #[arg(long)]
    year: u16,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
    /// The table a CSV report holds.
    #[arg(long, value_enum, default_value = "installations")]
    section: Section,
}

/// Runs `ets report public`.
///
/// # Errors
/// The store cannot be opened, or a scheme's figures cannot be computed.
pub fn run(args: &PublicArgs) -> Result<ExitCode> {
    let store = crate::one_command::open_read_only(&args.data)?;
    let cut_off = CutOff {
        records: store.journal().last_sequence(),
        journal_head_hash: public_report::hex(&store.journal().last_hash()),
        state_hash: store.engine().state_hash().to_string(),
    };
    let report = if store.engine().retention_window().is_some() {
        // A bounded engine keeps recent trades only: the history has them all.
        let trades = trades_from_history(&args.data, store.journal().last_sequence(), args.year)?;
        public_report::draw_with_trades(store.engine(), args.year, cut_off, &trades)
    } else {
        public_report::draw(store.engine(), args.year, cut_off)
    }
    .map_err(anyhow::Error::msg)?;
    let text = match (args.format, args.section) {
        (Format::Json, _) => serde_json::to_string_pretty(&report)? + "\n",
        (Format::Csv, Section::Installations) => {
            public_report::installations_csv(&report).map_err(anyhow::Error::msg)?
        }
        (Format::Csv, Section::Market) => {
            public_report::market_csv(&report).map_err(anyhow::Error::msg)?
        }
        (Format::Md, _) => markdown(&report),
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// The trades of `year` from the history database, which must be up to the
/// journal's record `last_sequence` (the report's cut-off).
fn trades_from_history(
    data: &ets_store::StoreLocation,
    last_sequence: u64,
    year: u16,
) -> Result<Vec<MarketTrade>> {
    let mut history = crate::history::open(data)?;
    let (head, trades) = public_report::history_trades(history.as_mut(), year)?;
    if head != last_sequence {
        bail!(
            "the history database is at journal record {head}, the journal at {last_sequence}: run `ets history rebuild --data {}` (or open the store with `ets serve`), then draw the report again",
            data.display()
        );
    }
    Ok(trades)
}

fn markdown(report: &PublicReport) -> String {
    let mut text = format!("# Public report {}\n\n", report.year);
    let cut = &report.cut_off;
    let _ = writeln!(
        text,
        "Drawn at journal record {}, head hash `{}`, state hash `{}`; `ets verify` on the same store prints the same state hash.\n",
        cut.records, cut.journal_head_hash, cut.state_hash
    );
    text.push_str("## Installations\n\n| scheme | participant | name | account | allocation | verified emissions | surrendered | status | to make good | final |\n|---|---:|---|---:|---:|---:|---:|---|---:|---|\n");
    for line in &report.installations {
        let verified = line
            .verified_emissions
            .map_or_else(|| "-".to_owned(), |q| q.to_string());
        let _ = writeln!(
            text,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            line.scheme,
            line.participant,
            markdown_cell(&line.name),
            line.account,
            line.allocation,
            verified,
            line.units_surrendered,
            line.compliance_status,
            line.make_good,
            if line.final_figures { "yes" } else { "no" }
        );
    }
    text.push_str("\n## Market, per day (UTC)\n\n| date | venue | trades | volume | turnover | open | high | low | close | VWAP |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for day in &report.market {
        let _ = writeln!(
            text,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            day.date,
            day.venue,
            day.trades,
            day.volume,
            day.turnover_minor_units,
            day.open_ticks,
            day.high_ticks,
            day.low_ticks,
            day.close_ticks,
            day.vwap_ticks
        );
    }
    text
}

/// A name as a table cell: pipes, markup and line breaks cannot break the table or inject HTML.
fn markdown_cell(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '|' | '<' | '>' | '`' | '\n' | '\r' => ' ',
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_break_the_markdown_table_or_inject_markup() {
        assert_eq!(markdown_cell("A|B <script>\nC"), "A B  script  C");
    }
}
