//! `ets market`: place and cancel orders, end a trading day, close an
//! auction, and look at the book (depth and last trades) and the day's
//! statistics. Writes are built as the JSON lines of docs/exchange.md and go
//! through `ets_api::parse_request`, so the CLI and the API accept the same
//! commands.

use anyhow::{Context, Result, bail};
use clap::{Subcommand, ValueEnum};
use ets_api::trade_mode_name;
use ets_market::{DailyStats, Depth, DepthLevel, Trade};
use ets_model::{Code, Price, Timestamp};
use ets_store::StoreLocation;
use serde_json::{Value, json};
use std::process::ExitCode;

/// Output formats of `stats`.
#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    /// A table for people.
    Table,
    /// CSV, one row per instrument.
    Csv,
    /// JSON.
    Json,
}

/// Output formats of `book`.
#[derive(Clone, Copy, ValueEnum)]
pub enum BookFormat {
    /// A table for people.
    Table,
    /// JSON.
    Json,
}

/// Buy or sell.
#[derive(Clone, Copy, ValueEnum)]
pub enum Side {
    /// Buy units, pay cash.
    Buy,
    /// Sell units, receive cash.
    Sell,
}

/// How long an order lives.
#[derive(Clone, Copy, ValueEnum)]
pub enum TimeInForce {
    /// Rests until filled, cancelled or the end of the day.
    Day,
    /// Immediate or cancel.
    Ioc,
    /// Fill or kill.
    Fok,
}

/// `--instrument`: the instrument a market subcommand works on.
#[derive(clap::Args)]
pub struct Instrument {
    /// The instrument symbol.
    #[arg(long)]
    instrument: String,
}

/// The market subcommands.
#[derive(Subcommand)]
pub enum Market {
    /// Places an order (a limit order with --price, else a market order).
    ///
    /// Example: `ets market place --data ./registry --requester 10 --instrument CEA21 --account 10 --side sell --price 5000 --quantity 100`
    Place {
        #[command(flatten)]
        sender: crate::one_command::Sender,
        #[command(flatten)]
        on: Instrument,
        /// The trading account.
        #[arg(long)]
        account: u64,
        /// Buy or sell.
        #[arg(long, value_enum)]
        side: Side,
        /// The limit price in ticks (0.01 yuan); omit for a market order.
        #[arg(long)]
        price: Option<i64>,
        /// Tonnes.
        #[arg(long)]
        quantity: u64,
        /// Day, ioc or fok.
        #[arg(long, value_enum, default_value = "day")]
        tif: TimeInForce,
    },
    /// Cancels a resting order.
    ///
    /// Example: `ets market cancel --data ./registry --requester 10 --instrument CEA21 --account 10 --order 1`
    Cancel {
        #[command(flatten)]
        sender: crate::one_command::Sender,
        #[command(flatten)]
        on: Instrument,
        /// The owning account.
        #[arg(long)]
        account: u64,
        /// The order id.
        #[arg(long)]
        order: u64,
    },
    /// Ends the trading day of an instrument (administrator or exchange operator).
    ///
    /// Example: `ets market end-of-day --data ./registry --requester 3 --instrument CEA21`
    EndOfDay {
        #[command(flatten)]
        sender: crate::one_command::Sender,
        #[command(flatten)]
        on: Instrument,
    },
    /// Closes a primary auction (administrator): awards settle at the clearing price.
    ///
    /// Example: `ets market auction-close --data ./registry --requester 1 --auction 1`
    AuctionClose {
        #[command(flatten)]
        sender: crate::one_command::Sender,
        /// The auction id.
        #[arg(long)]
        auction: u64,
    },
    /// Prints the book of an instrument: five price levels each side and the last trades.
    ///
    /// Example: `ets market book --data ./registry --instrument CEA21 --format json`
    Book {
        #[command(flatten)]
        data: crate::StoreDir,
        #[command(flatten)]
        on: Instrument,
        /// How many of the latest trades to show.
        #[arg(long, default_value_t = 10)]
        trades: usize,
        /// Table or JSON.
        #[arg(long, value_enum, default_value = "table")]
        format: BookFormat,
    },
    /// Prints the day's statistics (open, high, low, last, close, VWAP, volume,
    /// turnover) of every instrument, or of one.
    ///
    /// Example: `ets market stats --data ./registry --format csv`
    Stats {
        #[command(flatten)]
        data: crate::StoreDir,
        /// Only this instrument.
        #[arg(long)]
        instrument: Option<String>,
        /// Table, CSV or JSON.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

/// Runs one `ets market` subcommand.
///
/// # Errors
/// The store cannot be opened, an instrument symbol is not a code, or the
/// instrument shown is not listed.
pub fn run(command: Market) -> Result<ExitCode> {
    match command {
        Market::Place {
            sender,
            on,
            account,
            side,
            price,
            quantity,
            tif,
        } => {
            let kind = price.map_or_else(|| json!("market"), |ticks| json!({ "limit": ticks }));
            let side = match side {
                Side::Buy => "buy",
                Side::Sell => "sell",
            };
            let tif = match tif {
                TimeInForce::Day => "day",
                TimeInForce::Ioc => "ioc",
                TimeInForce::Fok => "fok",
            };
            submit(
                &sender,
                json!({"command": "place_order", "instrument": on.instrument, "account": account,
                    "side": side, "kind": kind, "quantity": quantity, "time_in_force": tif}),
            )
        }
        Market::Cancel {
            sender,
            on,
            account,
            order,
        } => submit(
            &sender,
            json!({"command": "cancel_order", "instrument": on.instrument, "account": account,
                "order": order}),
        ),
        Market::EndOfDay { sender, on } => submit(
            &sender,
            json!({"command": "end_of_day", "instrument": on.instrument}),
        ),
        Market::AuctionClose { sender, auction } => submit(
            &sender,
            json!({"command": "close_auction", "auction": auction}),
        ),
        Market::Book {
            data,
            on,
            trades,
            format,
        } => book(&data, &on.instrument, trades, format),
        Market::Stats {
            data,
            instrument,
            format,
        } => stats(&data, instrument.as_deref(), format),
    }
}

/// Sends one exchange command (given as its JSON fields) and prints its outcome.
fn submit(sender: &crate::one_command::Sender, mut fields: Value) -> Result<ExitCode> {
    // The envelope is filled in by `submit_one`; these only let the line parse.
    if let Some(object) = fields.as_object_mut() {
        object.insert("request_id".to_owned(), json!(0));
        object.insert("requester".to_owned(), json!(sender.requester()));
    }
    let request = ets_api::parse_request(&fields.to_string()).map_err(anyhow::Error::msg)?;
    sender.submit(request.command)
}

/// The instrument code `text` names.
fn symbol(text: &str) -> Result<Code> {
    Code::try_new(text).with_context(|| format!("instrument {text:?}"))
}

/// A price as JSON ticks, `null` when there is none.
fn ticks(price: Option<Price>) -> Value {
    price.map_or(Value::Null, |p| json!(p.ticks()))
}

/// A price as text ticks, `-` when there is none.
fn dash(price: Option<Price>) -> String {
    price.map_or_else(|| "-".to_owned(), |p| p.ticks().to_string())
}

/// A time as the API writes it (RFC 3339).
fn time_text(at: Timestamp) -> String {
    ets_api::format_time(at)
}

/// `book`: prints the depth of an instrument's book and its latest `last` trades.
fn book(
    data: &StoreLocation,
    instrument: &str,
    last: usize,
    format: BookFormat,
) -> Result<ExitCode> {
    let store = crate::one_command::open_for_view(data)?;
    let exchange = store.engine().exchange();
    let code = symbol(instrument)?;
    if !exchange.instruments().any(|listed| *listed == code) {
        bail!("instrument {instrument} is not listed");
    }
    // Block desks have no book: an empty depth.
    let depth = exchange.depth(&code).unwrap_or_default();
    let tape = exchange.tape(&code);
    let recent = &tape[tape.len().saturating_sub(last)..];
    match format {
        BookFormat::Json => print_book_json(instrument, &depth, recent)?,
        BookFormat::Table => print_book_table(instrument, &depth, recent),
    }
    Ok(ExitCode::SUCCESS)
}

/// One side of the depth as JSON, best level first.
fn levels_json(levels: &[DepthLevel]) -> Vec<Value> {
    levels
        .iter()
        .map(|l| json!({"price_ticks": l.price.ticks(), "quantity": l.quantity.tonnes(), "orders": l.orders}))
        .collect()
}

/// The book as JSON: both sides of the depth and the trades, newest first.
fn print_book_json(instrument: &str, depth: &Depth, recent: &[Trade]) -> Result<()> {
    let view = json!({
        "instrument": instrument,
        "bids": levels_json(&depth.bids),
        "asks": levels_json(&depth.asks),
        "trades": recent.iter().rev().map(|t| json!({
            "price_ticks": t.price.ticks(), "quantity": t.quantity.tonnes(),
            "at": time_text(t.at), "mode": trade_mode_name(t.mode),
        })).collect::<Vec<_>>(),
    });
    println!("{}", serde_json::to_string_pretty(&view)?);
    Ok(())
}

/// A depth level's three cells (`orders`, `quantity`, `price`), empty where the side has no level.
fn level_cells(level: Option<&DepthLevel>) -> [String; 3] {
    level.map_or_else(
        || [String::new(), String::new(), String::new()],
        |l| {
            [
                l.orders.to_string(),
                l.quantity.tonnes().to_string(),
                l.price.ticks().to_string(),
            ]
        },
    )
}

/// The book as a table for people: bids beside asks, then the trades, newest first.
fn print_book_table(instrument: &str, depth: &Depth, recent: &[Trade]) {
    println!("{instrument}");
    println!(
        "{:>8} {:>12} {:>12} | {:>12} {:>12} {:>8}",
        "orders", "bid qty", "bid", "ask", "ask qty", "orders"
    );
    let rows = depth.bids.len().max(depth.asks.len());
    for row in 0..rows {
        let [bid_orders, bid_qty, bid] = level_cells(depth.bids.get(row));
        let [ask_orders, ask_qty, ask] = level_cells(depth.asks.get(row));
        println!(
            "{bid_orders:>8} {bid_qty:>12} {bid:>12} | {ask:>12} {ask_qty:>12} {ask_orders:>8}"
        );
    }
    println!("last trades (newest first):");
    println!("{:>12} {:>12} {:<12} at", "price", "quantity", "mode");
    for trade in recent.iter().rev() {
        println!(
            "{:>12} {:>12} {:<12} {}",
            trade.price.ticks(),
            trade.quantity.tonnes(),
            trade_mode_name(trade.mode),
            time_text(trade.at)
        );
    }
}

/// `stats`: prints the day's statistics of every instrument, or of `only`.
fn stats(data: &StoreLocation, only: Option<&str>, format: Format) -> Result<ExitCode> {
    let store = crate::one_command::open_for_view(data)?;
    let exchange = store.engine().exchange();
    let wanted = only.map(symbol).transpose()?;
    let mut rows = Vec::new();
    for code in exchange.instruments() {
        if wanted.is_some_and(|wanted| wanted != *code) {
            continue;
        }
        if let Some(stats) = exchange.day_stats(code) {
            rows.push((code.as_str().to_owned(), stats));
        }
    }
    if let (Some(wanted), true) = (wanted, rows.is_empty()) {
        bail!("instrument {wanted} is not listed");
    }
    match format {
        Format::Json => print_stats_json(&rows)?,
        Format::Csv => print_stats_csv(&rows)?,
        Format::Table => print_stats_table(&rows),
    }
    Ok(ExitCode::SUCCESS)
}

/// The statistics as JSON, one object per instrument.
fn print_stats_json(rows: &[(String, DailyStats)]) -> Result<()> {
    let lines: Vec<_> = rows
        .iter()
        .map(|(symbol, s)| {
            json!({
                "instrument": symbol, "previous_close_ticks": s.previous_close.ticks(),
                "open_ticks": s.open.ticks(), "high_ticks": ticks(s.high),
                "low_ticks": ticks(s.low), "last_ticks": ticks(s.last),
                "close_ticks": s.close.ticks(), "vwap_ticks": ticks(s.vwap),
                "volume": s.volume.tonnes(), "turnover_minor_units": s.turnover.minor_units(),
                "price_forming_volume": s.price_forming_volume.tonnes(), "trades": s.trades,
            })
        })
        .collect();
    println!("{}", serde_json::to_string_pretty(&lines)?);
    Ok(())
}

/// One instrument's statistics as the cells of a CSV row or table line, in
/// the order of [`STATS_CSV_HEADER`] (a missing price is `-`).
fn stats_cells(symbol: &str, s: &DailyStats) -> [String; 11] {
    [
        symbol.to_owned(),
        s.previous_close.ticks().to_string(),
        s.open.ticks().to_string(),
        dash(s.high),
        dash(s.low),
        dash(s.last),
        s.close.ticks().to_string(),
        dash(s.vwap),
        s.volume.tonnes().to_string(),
        s.turnover.minor_units().to_string(),
        s.trades.to_string(),
    ]
}

/// The header of the CSV statistics: its columns, in order.
const STATS_CSV_HEADER: &str = "instrument,previous_close_ticks,open_ticks,high_ticks,low_ticks,last_ticks,close_ticks,vwap_ticks,volume,turnover_minor_units,trades";

/// The statistics as CSV, one row per instrument.
fn print_stats_csv(rows: &[(String, DailyStats)]) -> Result<()> {
    let mut writer = csv::Writer::from_writer(std::io::stdout());
    writer.write_record(STATS_CSV_HEADER.split(','))?;
    for (symbol, s) in rows {
        writer.write_record(stats_cells(symbol, s))?;
    }
    writer.flush()?;
    Ok(())
}

/// The statistics table's header, its columns separated by spaces.
const STATS_TABLE_HEADER: &str =
    "instrument prev open high low last close vwap volume turnover trades";

/// The width of each column of the statistics table; the first is aligned
/// left, the others right.
const STATS_TABLE_WIDTHS: [usize; 11] = [12, 8, 8, 8, 8, 8, 8, 8, 12, 16, 7];

/// The statistics as a table for people, one line per instrument.
fn print_stats_table(rows: &[(String, DailyStats)]) {
    print_stats_line(STATS_TABLE_HEADER.split(' '));
    for (symbol, s) in rows {
        print_stats_line(stats_cells(symbol, s).iter());
    }
}

/// One line of the statistics table: `cells` in the columns of [`STATS_TABLE_WIDTHS`].
fn print_stats_line(cells: impl Iterator<Item = impl AsRef<str>>) {
    let aligned: Vec<String> = cells
        .zip(STATS_TABLE_WIDTHS)
        .enumerate()
        .map(|(column, (cell, width))| match column {
            0 => format!("{:<width$}", cell.as_ref()),
            _ => format!("{:>width$}", cell.as_ref()),
        })
        .collect();
    println!("{}", aligned.join(" "));
}
