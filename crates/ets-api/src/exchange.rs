//! JSON shapes of the exchange commands (docs/exchange.md), converted by hand
//! to the engine's [`ExchangeCommand`]. Prices are whole ticks
//! (`*_price_ticks`, or `{"limit": ticks}`), money whole minor units
//! (`amount_minor_units`), quantities whole tonnes, units `CEA-2021`, times
//! RFC 3339.
//!
//! Rule sets (`rules`, `market_data`, auction `rules`) are a preset name, or an
//! object with an optional `preset` plus fields that override it; without a
//! preset every field must be given.
//!
//! The command is assembled as a JSON value in the engine's own serde form
//! and deserialized into [`ExchangeCommand`]. The presets are built from
//! `ets-market`'s own constants (`InstrumentRules::CHINA_LISTED`,
//! `CHINA_BLOCK`, `CONTINUOUS`, `MarketDataRules::CHINA`, `EU`,
//! `AuctionRules::eu`, `rggi`, `california`) and the engine's
//! `HoldingLimit::CHINA_UNCONFIRMED`, so they cannot drift; the unit tests
//! pin both forms.

use crate::authority::{
    ACCOUNT_HOLDING, ADMINISTRATION, CommandSpec, EXCHANGE_OPERATION, TRADING_DAY,
};
use crate::text::{parse_time, parse_unit_class};
use ets_engine::exchange::{ExchangeCommand, HoldingLimit, TradingMode};
use ets_market::{AuctionRules, ClosePriceRule, InstrumentRules, MarketDataRules, TieBreak};
use ets_model::{AccountId, Code, Money, Price, Quantity, Timestamp, UnitClass};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value, json};

/// The commands handled here, with who may send each.
pub const EXCHANGE_COMMANDS: [CommandSpec; 18] = [
    CommandSpec::write("list_instrument", ADMINISTRATION),
    CommandSpec::write("deposit_cash", EXCHANGE_OPERATION),
    CommandSpec::write("withdraw_cash", EXCHANGE_OPERATION),
    CommandSpec::write("place_order", ACCOUNT_HOLDING),
    CommandSpec::write("cancel_order", ACCOUNT_HOLDING),
    CommandSpec::write("amend_order", ACCOUNT_HOLDING),
    CommandSpec::write("take_listed", ACCOUNT_HOLDING),
    CommandSpec::write("propose_block", ACCOUNT_HOLDING),
    CommandSpec::write("accept_block", ACCOUNT_HOLDING),
    CommandSpec::write("decline_block", ACCOUNT_HOLDING),
    CommandSpec::write("withdraw_block", ACCOUNT_HOLDING),
    CommandSpec::write("end_of_day", TRADING_DAY),
    CommandSpec::write("open_auction", ADMINISTRATION),
    CommandSpec::write("submit_bid", ACCOUNT_HOLDING),
    CommandSpec::write("withdraw_bid", ACCOUNT_HOLDING),
    CommandSpec::write("close_auction", ADMINISTRATION),
    CommandSpec::write("set_holding_limit", ADMINISTRATION),
    CommandSpec::write("modify_bid", ACCOUNT_HOLDING),
];

/// A field that must be present but may be `null`.
fn nullable<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer)
}

fn day() -> String {
    "day".to_owned()
}

#[derive(Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
enum JsonExchangeCommand {
    ListInstrument {
        symbol: String,
        unit: String,
        mode: String,
        rules: Value,
        reference_price_ticks: i64,
        fee_bps: u32,
        fee_account: u64,
        no_same_day_resale: bool,
        market_data: Value,
        #[serde(default)]
        calendar: Option<Value>,
    },
    DepositCash {
        account: u64,
        amount_minor_units: i64,
    },
    WithdrawCash {
        account: u64,
        amount_minor_units: i64,
    },
    PlaceOrder {
        instrument: String,
        account: u64,
        side: String,
        kind: Value,
        quantity: u64,
        #[serde(default = "day")]
        time_in_force: String,
    },
    CancelOrder {
        instrument: String,
        account: u64,
        order: u64,
    },
    AmendOrder {
        instrument: String,
        account: u64,
        order: u64,
        price_ticks: i64,
        quantity: u64,
    },
    TakeListed {
        instrument: String,
        account: u64,
        maker_order: u64,
        quantity: u64,
    },
    ProposeBlock {
        instrument: String,
        account: u64,
        counterparty: u64,
        side: String,
        price_ticks: i64,
        quantity: u64,
        expires_at: String,
    },
    AcceptBlock {
        instrument: String,
        account: u64,
        proposal: u64,
    },
    DeclineBlock {
        instrument: String,
        account: u64,
        proposal: u64,
    },
    WithdrawBlock {
        instrument: String,
        account: u64,
        proposal: u64,
    },
    EndOfDay {
        instrument: String,
    },
    OpenAuction {
        unit: String,
        rules: Value,
        seed: u64,
    },
    SubmitBid {
        auction: u64,
        account: u64,
        price_ticks: i64,
        quantity: u64,
    },
    WithdrawBid {
        auction: u64,
        account: u64,
        bid: u64,
    },
    CloseAuction {
        auction: u64,
    },
    SetHoldingLimit {
        instrument: String,
        #[serde(deserialize_with = "nullable")]
        limit: Option<Value>,
    },
    ModifyBid {
        auction: u64,
        account: u64,
        bid: u64,
        price_ticks: i64,
        quantity: u64,
    },
}

/// A holding limit, every field given (after the preset is applied).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonHoldingLimit {
    compliance_entity_above_allocation_tonnes: u64,
    others_tonnes: u64,
}

/// Instrument rules, every field given (after presets are applied).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonInstrumentRules {
    tick_size_ticks: i64,
    lot_size_tonnes: u64,
    min_order_tonnes: u64,
    max_order_tonnes: u64,
    #[serde(deserialize_with = "nullable")]
    price_band_bps: Option<u32>,
    limits: JsonBookLimits,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonBookLimits {
    max_open_orders_per_account: u32,
    max_orders: u32,
    max_price_levels_per_side: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonMarketData {
    close_price: String,
    max_tape_trades: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonAuctionRules {
    volume_offered: u64,
    lot_size_tonnes: u64,
    tick_size_ticks: i64,
    #[serde(deserialize_with = "nullable")]
    reserve_price_ticks: Option<i64>,
    tie_break: String,
    cancel_if_undersubscribed: bool,
    #[serde(deserialize_with = "nullable")]
    minimum_clearing_price_ticks: Option<i64>,
    #[serde(deserialize_with = "nullable")]
    cost_containment: Option<JsonCostContainment>,
    #[serde(deserialize_with = "nullable")]
    purchase_limit_bps: Option<u32>,
    max_bids_per_bidder: u32,
    max_bids: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonCostContainment {
    trigger_price_ticks: i64,
    volume: u64,
}

/// Instrument rules in the API's field names.
fn instrument_rules_json(rules: &InstrumentRules) -> Value {
    let limits = &rules.limits;
    json!({
        "tick_size_ticks": rules.tick_size_ticks, "lot_size_tonnes": rules.lot_size_tonnes,
        "min_order_tonnes": rules.min_order_tonnes, "max_order_tonnes": rules.max_order_tonnes,
        "price_band_bps": rules.price_band_bps,
        "limits": {
            "max_open_orders_per_account": limits.max_open_orders_per_account,
            "max_orders": limits.max_orders,
            "max_price_levels_per_side": limits.max_price_levels_per_side,
        },
    })
}

/// The instrument-rule presets, in the API's field names.
fn instrument_preset(name: &str) -> Result<Value, String> {
    let rules = match name {
        "china_listed" => InstrumentRules::CHINA_LISTED,
        "china_block" => InstrumentRules::CHINA_BLOCK,
        "continuous" => InstrumentRules::CONTINUOUS,
        other => {
            return Err(format!(
                "rules preset {other:?} is not one of china_listed, china_block, continuous"
            ));
        }
    };
    Ok(instrument_rules_json(&rules))
}

fn market_data_preset(name: &str) -> Result<Value, String> {
    let rules = match name {
        "china" => MarketDataRules::CHINA,
        "eu" => MarketDataRules::EU,
        other => return Err(format!("market_data preset {other:?} is not china or eu")),
    };
    let close = match rules.close_price {
        ClosePriceRule::VolumeWeightedAverage => "volume_weighted_average",
        ClosePriceRule::LastTrade => "last_trade",
    };
    Ok(json!({"close_price": close, "max_tape_trades": rules.max_tape_trades}))
}

/// Auction presets, from `AuctionRules::eu`, `rggi` and `california` with
/// the values each leaves to the caller removed: every preset lacks the
/// volume, `rggi` the reserve price (and takes an optional cost containment
/// reserve), `california` the reserve price and purchase limit.
fn auction_preset(name: &str) -> Result<Value, String> {
    let (rules, given): (AuctionRules, &[&str]) = match name {
        "eu" => (AuctionRules::eu(Quantity::ZERO), &["volume_offered"]),
        "rggi" => (
            AuctionRules::rggi(Quantity::ZERO, Price::default(), None),
            &["volume_offered", "reserve_price_ticks"],
        ),
        "california" => (
            AuctionRules::california(Quantity::ZERO, Price::default(), 0),
            &[
                "volume_offered",
                "reserve_price_ticks",
                "purchase_limit_bps",
            ],
        ),
        other => {
            return Err(format!(
                "auction preset {other:?} is not one of eu, rggi, california"
            ));
        }
    };
    let tie_break = match rules.tie_break {
        TieBreak::SeededOrder => "seeded_order",
        TieBreak::ProRata => "pro_rata",
    };
    let ticks = |price: Option<Price>| price.map(Price::ticks);
    let mut preset = json!({
        "volume_offered": rules.volume_offered.tonnes(),
        "lot_size_tonnes": rules.lot_size_tonnes,
        "tick_size_ticks": rules.tick_size_ticks,
        "reserve_price_ticks": ticks(rules.reserve_price),
        "tie_break": tie_break,
        "cancel_if_undersubscribed": rules.cancel_if_undersubscribed,
        "minimum_clearing_price_ticks": ticks(rules.minimum_clearing_price),
        "cost_containment": rules.cost_containment.map(|ccr| json!({
            "trigger_price_ticks": ccr.trigger_price.ticks(), "volume": ccr.volume.tonnes(),
        })),
        "purchase_limit_bps": rules.purchase_limit_bps,
        "max_bids_per_bidder": rules.max_bids_per_bidder,
        "max_bids": rules.max_bids,
    });
    if let Some(fields) = preset.as_object_mut() {
        for field in given {
            fields.remove(*field);
        }
    }
    Ok(preset)
}

/// The holding-limit preset `china` (`HoldingLimit::CHINA_UNCONFIRMED`).
fn holding_limit_preset(name: &str) -> Result<Value, String> {
    match name {
        "china" => Ok(holding_limit_json(Some(HoldingLimit::CHINA_UNCONFIRMED))),
        other => Err(format!("holding limit preset {other:?} is not china")),
    }
}

/// A holding limit in the API's field names (`null` for none).
pub(crate) fn holding_limit_json(limit: Option<HoldingLimit>) -> Value {
    limit.map_or(Value::Null, |limit| {
        json!({
            "compliance_entity_above_allocation_tonnes":
                limit.compliance_entity_above_allocation.tonnes(),
            "others_tonnes": limit.others.tonnes(),
        })
    })
}

/// A rule set given as a preset name, or an object with an optional `preset`
/// and overriding fields; returns the full object, then deserializes it.
fn with_preset<T: for<'de> Deserialize<'de>>(
    what: &str,
    value: Value,
    preset: fn(&str) -> Result<Value, String>,
) -> Result<T, String> {
    let merged = match value {
        Value::String(name) => preset(&name)?,
        Value::Object(mut given) => {
            let mut merged = match given.remove("preset") {
                None => Map::new(),
                Some(Value::String(name)) => match preset(&name)? {
                    Value::Object(map) => map,
                    _ => Map::new(),
                },
                Some(_) => return Err(format!("{what}: `preset` must be a string")),
            };
            merged.extend(given);
            Value::Object(merged)
        }
        _ => {
            return Err(format!(
                "`{what}` must be a preset name or an object of fields"
            ));
        }
    };
    serde_json::from_value(merged).map_err(|error| format!("{what}: {error}"))
}

fn code(what: &str, text: &str) -> Result<Code, String> {
    Code::try_new(text).map_err(|error| format!("{what}: {error}"))
}

fn price(what: &str, ticks: i64) -> Result<Price, String> {
    Price::try_new(ticks).map_err(|_| format!("`{what}` must not be negative (got {ticks})"))
}

fn unit(text: &str) -> Result<UnitClass, String> {
    parse_unit_class(text)
}

fn side(text: &str) -> Result<&'static str, String> {
    match text {
        "buy" => Ok("Buy"),
        "sell" => Ok("Sell"),
        other => Err(format!("side {other:?} is not buy or sell")),
    }
}

fn time_in_force(text: &str) -> Result<&'static str, String> {
    match text {
        "day" => Ok("Day"),
        "ioc" => Ok("ImmediateOrCancel"),
        "fok" => Ok("FillOrKill"),
        other => Err(format!("time_in_force {other:?} is not day, ioc or fok")),
    }
}

/// `"market"` or `{"limit": price_ticks}`, in the engine's serde form.
fn order_kind(kind: &Value) -> Result<Value, String> {
    let bad = || format!("kind {kind} is not \"market\" or {{\"limit\": price_ticks}}");
    match kind {
        Value::String(text) if text == "market" => Ok(json!("Market")),
        Value::Object(map) if map.len() == 1 => {
            let ticks = map.get("limit").and_then(Value::as_i64).ok_or_else(bad)?;
            Ok(json!({ "Limit": price("limit", ticks)? }))
        }
        _ => Err(bad()),
    }
}

fn mode(text: &str) -> Result<TradingMode, String> {
    match text {
        "continuous" => Ok(TradingMode::Continuous),
        "china_listed" => Ok(TradingMode::ChinaListed),
        "china_block" => Ok(TradingMode::ChinaBlock),
        other => Err(format!(
            "mode {other:?} is not one of continuous, china_listed, china_block"
        )),
    }
}

fn instrument_rules(value: Value) -> Result<Value, String> {
    let rules: JsonInstrumentRules = with_preset("rules", value, instrument_preset)?;
    Ok(json!({
        "tick_size_ticks": rules.tick_size_ticks,
        "lot_size_tonnes": rules.lot_size_tonnes,
        "min_order_tonnes": rules.min_order_tonnes,
        "max_order_tonnes": rules.max_order_tonnes,
        "price_band_bps": rules.price_band_bps,
        "limits": {
            "max_open_orders_per_account": rules.limits.max_open_orders_per_account,
            "max_orders": rules.limits.max_orders,
            "max_price_levels_per_side": rules.limits.max_price_levels_per_side,
        },
    }))
}

fn market_data(value: Value) -> Result<Value, String> {
    let data: JsonMarketData = with_preset("market_data", value, market_data_preset)?;
    let close = match data.close_price.as_str() {
        "volume_weighted_average" => "VolumeWeightedAverage",
        "last_trade" => "LastTrade",
        other => {
            return Err(format!(
                "close_price {other:?} is not volume_weighted_average or last_trade"
            ));
        }
    };
    Ok(json!({ "close_price": close, "max_tape_trades": data.max_tape_trades }))
}

/// A calendar object: `utc_offset_minutes`, `sessions` as `["HH:MM",
/// "HH:MM"]` pairs, `weekdays_only`, `holidays` as `YYYY-MM-DD`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonCalendar {
    utc_offset_minutes: i32,
    sessions: Vec<(String, String)>,
    weekdays_only: bool,
    #[serde(default)]
    holidays: Vec<String>,
}

/// `HH:MM` as minutes after midnight (`24:00` allowed as an end).
fn clock(text: &str) -> Result<u16, String> {
    let bad = || format!("calendar time {text:?} is not HH:MM");
    let (hours, minutes) = text.split_once(':').ok_or_else(bad)?;
    if hours.len() != 2 || minutes.len() != 2 {
        return Err(bad());
    }
    let hours: u16 = hours.parse().map_err(|_| bad())?;
    let minutes: u16 = minutes.parse().map_err(|_| bad())?;
    let total = hours * 60 + minutes;
    if minutes >= 60 || total > 24 * 60 {
        return Err(bad());
    }
    Ok(total)
}

/// `YYYY-MM-DD` as (year, month, day).
fn date(text: &str) -> Result<(u16, u8, u8), String> {
    let bad = || format!("calendar holiday {text:?} is not YYYY-MM-DD");
    let mut parts = text.split('-');
    let (Some(year), Some(month), Some(day), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return Err(bad());
    }
    let year: u16 = year.parse().map_err(|_| bad())?;
    let month: u8 = month.parse().map_err(|_| bad())?;
    let day: u8 = day.parse().map_err(|_| bad())?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return Err(bad());
    }
    Ok((year, month, day))
}

/// A calendar: the preset `china_listed` or `china_block`, or an object.
fn calendar(value: Value) -> Result<Value, String> {
    let beijing = |sessions: Value| {
        json!({ "utc_offset_minutes": 480, "sessions": sessions,
            "weekdays_only": true, "holidays": [] })
    };
    match value {
        Value::String(name) => match name.as_str() {
            "china_listed" => Ok(beijing(json!([[570, 690], [780, 900]]))),
            "china_block" => Ok(beijing(json!([[780, 900]]))),
            other => Err(format!(
                "calendar preset {other:?} is not china_listed or china_block"
            )),
        },
        value => {
            let given: JsonCalendar =
                serde_json::from_value(value).map_err(|error| format!("calendar: {error}"))?;
            let mut sessions = Vec::new();
            for (start_text, end_text) in &given.sessions {
                let (start, end) = (clock(start_text)?, clock(end_text)?);
                if start >= end {
                    return Err(format!(
                        "calendar session {start_text}-{end_text} must end after it starts"
                    ));
                }
                sessions.push((start, end));
            }
            let holidays = given
                .holidays
                .iter()
                .map(|text| date(text))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(json!({
                "utc_offset_minutes": given.utc_offset_minutes,
                "sessions": sessions,
                "weekdays_only": given.weekdays_only,
                "holidays": holidays,
            }))
        }
    }
}

fn auction_rules(value: Value) -> Result<Value, String> {
    let rules: JsonAuctionRules = with_preset("rules", value, auction_preset)?;
    let tie_break = match rules.tie_break.as_str() {
        "seeded_order" => "SeededOrder",
        "pro_rata" => "ProRata",
        other => {
            return Err(format!(
                "tie_break {other:?} is not seeded_order or pro_rata"
            ));
        }
    };
    let optional_price = |what: &str, ticks: Option<i64>| -> Result<Option<Price>, String> {
        ticks.map(|ticks| price(what, ticks)).transpose()
    };
    let cost_containment = match rules.cost_containment {
        None => Value::Null,
        Some(ccr) => json!({
            "trigger_price": price("trigger_price_ticks", ccr.trigger_price_ticks)?,
            "volume": Quantity::new(ccr.volume),
        }),
    };
    Ok(json!({
        "volume_offered": Quantity::new(rules.volume_offered),
        "lot_size_tonnes": rules.lot_size_tonnes,
        "tick_size_ticks": rules.tick_size_ticks,
        "reserve_price": optional_price("reserve_price_ticks", rules.reserve_price_ticks)?,
        "tie_break": tie_break,
        "cancel_if_undersubscribed": rules.cancel_if_undersubscribed,
        "minimum_clearing_price": optional_price(
            "minimum_clearing_price_ticks",
            rules.minimum_clearing_price_ticks
        )?,
        "cost_containment": cost_containment,
        "purchase_limit_bps": rules.purchase_limit_bps,
        "max_bids_per_bidder": rules.max_bids_per_bidder,
        "max_bids": rules.max_bids,
    }))
}

/// Builds the engine command from its serde form: `{"Variant": {fields}}`.
fn engine(variant: &str, fields: Value) -> Result<ExchangeCommand, String> {
    serde_json::from_value(json!({ variant: fields }))
        .map_err(|error| format!("cannot build {variant}: {error}"))
}

/// Parses the command part of an exchange line (envelope fields removed).
///
/// # Errors
/// A message naming the field that is wrong.
pub fn parse_exchange(value: Value) -> Result<ExchangeCommand, String> {
    let parsed: JsonExchangeCommand =
        serde_json::from_value(value).map_err(|error| format!("not a valid command: {error}"))?;
    match parsed {
        JsonExchangeCommand::ListInstrument {
            symbol,
            unit: class,
            mode: given_mode,
            rules,
            reference_price_ticks,
            fee_bps,
            fee_account,
            no_same_day_resale,
            market_data: data,
            calendar: given_calendar,
        } => engine(
            "ListInstrument",
            json!({
                "symbol": code("symbol", &symbol)?,
                "class": unit(&class)?,
                "mode": mode(&given_mode)?,
                "rules": instrument_rules(rules)?,
                "reference_price": price("reference_price_ticks", reference_price_ticks)?,
                "fee_bps": fee_bps,
                "fee_account": AccountId(fee_account),
                "no_same_day_resale": no_same_day_resale,
                "market_data": market_data(data)?,
                "calendar": given_calendar.map(calendar).transpose()?,
            }),
        ),
        JsonExchangeCommand::DepositCash {
            account,
            amount_minor_units,
        } => engine(
            "DepositCash",
            json!({ "account": AccountId(account), "amount": Money::new(amount_minor_units) }),
        ),
        JsonExchangeCommand::WithdrawCash {
            account,
            amount_minor_units,
        } => engine(
            "WithdrawCash",
            json!({ "account": AccountId(account), "amount": Money::new(amount_minor_units) }),
        ),
        JsonExchangeCommand::PlaceOrder {
            instrument,
            account,
            side: given_side,
            kind,
            quantity,
            time_in_force: given_tif,
        } => engine(
            "PlaceOrder",
            json!({
                "instrument": code("instrument", &instrument)?,
                "account": AccountId(account),
                "side": side(&given_side)?,
                "kind": order_kind(&kind)?,
                "quantity": Quantity::new(quantity),
                "time_in_force": time_in_force(&given_tif)?,
            }),
        ),
        JsonExchangeCommand::CancelOrder {
            instrument,
            account,
            order,
        } => engine(
            "CancelOrder",
            json!({
                "instrument": code("instrument", &instrument)?,
                "account": AccountId(account),
                "order": order,
            }),
        ),
        JsonExchangeCommand::AmendOrder {
            instrument,
            account,
            order,
            price_ticks,
            quantity,
        } => engine(
            "AmendOrder",
            json!({
                "instrument": code("instrument", &instrument)?,
                "account": AccountId(account),
                "order": order,
                "price": price("price_ticks", price_ticks)?,
                "quantity": Quantity::new(quantity),
            }),
        ),
        JsonExchangeCommand::TakeListed {
            instrument,
            account,
            maker_order,
            quantity,
        } => engine(
            "TakeListed",
            json!({
                "instrument": code("instrument", &instrument)?,
                "account": AccountId(account),
                "maker_order": maker_order,
                "quantity": Quantity::new(quantity),
            }),
        ),
        JsonExchangeCommand::ProposeBlock {
            instrument,
            account,
            counterparty,
            side: given_side,
            price_ticks,
            quantity,
            expires_at,
        } => {
            let expires_at: Timestamp = parse_time(&expires_at)?;
            engine(
                "ProposeBlock",
                json!({
                    "instrument": code("instrument", &instrument)?,
                    "account": AccountId(account),
                    "counterparty": AccountId(counterparty),
                    "side": side(&given_side)?,
                    "price": price("price_ticks", price_ticks)?,
                    "quantity": Quantity::new(quantity),
                    "expires_at": expires_at,
                }),
            )
        }
        JsonExchangeCommand::AcceptBlock {
            instrument,
            account,
            proposal,
        } => block("AcceptBlock", &instrument, account, proposal),
        JsonExchangeCommand::DeclineBlock {
            instrument,
            account,
            proposal,
        } => block("DeclineBlock", &instrument, account, proposal),
        JsonExchangeCommand::WithdrawBlock {
            instrument,
            account,
            proposal,
        } => block("WithdrawBlock", &instrument, account, proposal),
        JsonExchangeCommand::EndOfDay { instrument } => engine(
            "EndOfDay",
            json!({ "instrument": code("instrument", &instrument)? }),
        ),
        JsonExchangeCommand::OpenAuction {
            unit: class,
            rules,
            seed,
        } => engine(
            "OpenAuction",
            json!({ "class": unit(&class)?, "rules": auction_rules(rules)?, "seed": seed }),
        ),
        JsonExchangeCommand::SubmitBid {
            auction,
            account,
            price_ticks,
            quantity,
        } => engine(
            "SubmitBid",
            json!({
                "auction": auction,
                "account": AccountId(account),
                "price": price("price_ticks", price_ticks)?,
                "quantity": Quantity::new(quantity),
            }),
        ),
        JsonExchangeCommand::WithdrawBid {
            auction,
            account,
            bid,
        } => engine(
            "WithdrawBid",
            json!({ "auction": auction, "account": AccountId(account), "bid": bid }),
        ),
        JsonExchangeCommand::CloseAuction { auction } => {
            engine("CloseAuction", json!({ "auction": auction }))
        }
        JsonExchangeCommand::SetHoldingLimit { instrument, limit } => {
            let limit = match limit {
                None => Value::Null,
                Some(given) => {
                    let limit: JsonHoldingLimit =
                        with_preset("limit", given, holding_limit_preset)?;
                    json!({
                        "compliance_entity_above_allocation":
                            Quantity::new(limit.compliance_entity_above_allocation_tonnes),
                        "others": Quantity::new(limit.others_tonnes),
                    })
                }
            };
            engine(
                "SetHoldingLimit",
                json!({ "instrument": code("instrument", &instrument)?, "limit": limit }),
            )
        }
        JsonExchangeCommand::ModifyBid {
            auction,
            account,
            bid,
            price_ticks,
            quantity,
        } => engine(
            "ModifyBid",
            json!({
                "auction": auction,
                "account": AccountId(account),
                "bid": bid,
                "price": price("price_ticks", price_ticks)?,
                "quantity": Quantity::new(quantity),
            }),
        ),
    }
}

fn block(
    variant: &str,
    instrument: &str,
    account: u64,
    proposal: u64,
) -> Result<ExchangeCommand, String> {
    engine(
        variant,
        json!({
            "instrument": code("instrument", instrument)?,
            "account": AccountId(account),
            "proposal": proposal,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ApiRequest, parse_request};
    use ets_engine::Command;
    use ets_engine::exchange::TradingCalendar;

    const DOC: &str = include_str!("../../../docs/exchange.md");

    /// Every JSON line in the ```json blocks of docs/exchange.md.
    fn doc_lines() -> Vec<&'static str> {
        let mut lines = Vec::new();
        let mut in_json = false;
        for line in DOC.lines() {
            match line.trim() {
                "```json" => in_json = true,
                "```" => in_json = false,
                text if in_json && text.starts_with('{') => lines.push(text),
                _ => {}
            }
        }
        lines
    }

    fn exchange(request: ApiRequest) -> ExchangeCommand {
        match request.command {
            Command::Exchange(command) => command,
            other => panic!("not an exchange command: {other:?}"),
        }
    }

    fn parse(fields: Value) -> Result<ExchangeCommand, String> {
        parse_exchange(fields)
    }

    /// The engine's serde form of a command, to compare shapes.
    fn serde_form(command: &ExchangeCommand) -> Value {
        serde_json::to_value(command).expect("commands serialize")
    }

    #[test]
    fn every_json_example_in_the_doc_parses() {
        // Goal: the documented lines are the real shapes, and every command has one.
        let lines = doc_lines();
        assert!(lines.len() >= EXCHANGE_COMMANDS.len(), "{lines:?}");
        let mut seen = Vec::new();
        for line in lines {
            let request = parse_request(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            let command = exchange(request);
            let value: Value = serde_json::from_str(line).unwrap();
            assert_eq!(value["command"], command.name(), "{line}");
            seen.push(command.name());
        }
        for name in EXCHANGE_COMMANDS.map(|spec| spec.name) {
            assert!(
                seen.contains(&name),
                "no example of {name} in docs/exchange.md"
            );
        }
    }

    #[test]
    fn the_command_list_matches_the_engine_names() {
        // Goal: EXCHANGE_COMMANDS is exactly the engine's names (routing depends on it).
        let names: Vec<_> = doc_lines()
            .into_iter()
            .map(|line| exchange(parse_request(line).unwrap()).name())
            .collect();
        for name in names {
            assert!(
                EXCHANGE_COMMANDS.iter().any(|spec| spec.name == name),
                "{name}"
            );
        }
    }

    #[test]
    fn place_order_fields_reach_the_engine() {
        // Goal: side, limit price, quantity and time in force land where they belong.
        let command = parse(
            json!({"command": "place_order", "instrument": "CEA21", "account": 10,
            "side": "buy", "kind": {"limit": 5_000}, "quantity": 100, "time_in_force": "ioc"}),
        )
        .unwrap();
        assert_eq!(
            serde_form(&command),
            json!({"PlaceOrder": {"instrument": "CEA21", "account": 10, "side": "Buy",
                "kind": {"Limit": 5_000}, "quantity": 100, "time_in_force": "ImmediateOrCancel"}})
        );
        let market = parse(
            json!({"command": "place_order", "instrument": "CEA21", "account": 10,
            "side": "sell", "kind": "market", "quantity": 5}),
        )
        .unwrap();
        assert_eq!(serde_form(&market)["PlaceOrder"]["kind"], "Market");
        assert_eq!(serde_form(&market)["PlaceOrder"]["time_in_force"], "Day");
    }

    #[test]
    fn presets_equal_their_full_objects() {
        // Goal: "china_listed" and "china" are InstrumentRules::CHINA_LISTED and
        // MarketDataRules::CHINA, and overrides change only what they name.
        let listed = |rules: Value, data: Value| {
            parse(
                json!({"command": "list_instrument", "symbol": "CEA21", "unit": "CEA-2021",
                "mode": "china_listed", "rules": rules, "reference_price_ticks": 5_000,
                "fee_bps": 5, "fee_account": 20, "no_same_day_resale": true, "market_data": data}),
            )
            .unwrap()
        };
        let preset = serde_form(&listed(json!("china_listed"), json!("china")));
        let full = serde_form(&listed(
            json!({"tick_size_ticks": 1, "lot_size_tonnes": 1, "min_order_tonnes": 1,
                "max_order_tonnes": 99_999, "price_band_bps": 1_000, "limits":
                {"max_open_orders_per_account": 1_000, "max_orders": 100_000,
                 "max_price_levels_per_side": 10_000}}),
            json!({"close_price": "volume_weighted_average", "max_tape_trades": 10_000}),
        ));
        assert_eq!(preset, full);
        assert_eq!(
            preset["ListInstrument"]["class"],
            json!({"Allowance": {"scheme": "CEA", "vintage": 2021}})
        );
        let wider = serde_form(&listed(
            json!({"preset": "china_listed", "price_band_bps": null}),
            json!("eu"),
        ));
        assert_eq!(
            wider["ListInstrument"]["rules"]["price_band_bps"],
            Value::Null
        );
        assert_eq!(wider["ListInstrument"]["rules"]["max_order_tonnes"], 99_999);
        assert_eq!(
            wider["ListInstrument"]["market_data"]["close_price"],
            "LastTrade"
        );
    }

    #[test]
    fn presets_are_the_market_constants() {
        // Goal: every preset name gives exactly the ets-market (or engine) constant,
        // so the API and the market cannot drift apart.
        let listing = |rules: &str, data: &str| match parse(
            json!({"command": "list_instrument", "symbol": "X", "unit": "CEA-2021",
                "mode": "continuous", "rules": rules, "reference_price_ticks": 5_000,
                "fee_bps": 0, "fee_account": 20, "no_same_day_resale": false, "market_data": data}),
        )
        .unwrap()
        {
            ExchangeCommand::ListInstrument {
                rules, market_data, ..
            } => (rules, market_data),
            other => panic!("not a listing: {other:?}"),
        };
        assert_eq!(
            listing("china_listed", "china"),
            (InstrumentRules::CHINA_LISTED, MarketDataRules::CHINA)
        );
        assert_eq!(
            listing("china_block", "eu"),
            (InstrumentRules::CHINA_BLOCK, MarketDataRules::EU)
        );
        assert_eq!(listing("continuous", "eu").0, InstrumentRules::CONTINUOUS);

        let auction = |rules: Value| match parse(
            json!({"command": "open_auction", "unit": "EUA-2025", "rules": rules, "seed": 1}),
        )
        .unwrap()
        {
            ExchangeCommand::OpenAuction { rules, .. } => rules,
            other => panic!("not an auction: {other:?}"),
        };
        let volume = Quantity::new(5_000);
        let reserve = Price::try_new(250).unwrap();
        assert_eq!(
            auction(json!({"preset": "eu", "volume_offered": 5_000})),
            AuctionRules::eu(volume)
        );
        assert_eq!(
            auction(json!({"preset": "rggi", "volume_offered": 5_000, "reserve_price_ticks": 250})),
            AuctionRules::rggi(volume, reserve, None)
        );
        assert_eq!(
            auction(json!({"preset": "california", "volume_offered": 5_000,
                "reserve_price_ticks": 250, "purchase_limit_bps": 2_000})),
            AuctionRules::california(volume, reserve, 2_000)
        );

        let limit = |limit: Value| match parse(
            json!({"command": "set_holding_limit", "instrument": "X", "limit": limit}),
        )
        .unwrap()
        {
            ExchangeCommand::SetHoldingLimit { limit, .. } => limit,
            other => panic!("not a holding limit: {other:?}"),
        };
        assert_eq!(limit(json!("china")), Some(HoldingLimit::CHINA_UNCONFIRMED));
        assert_eq!(
            limit(json!({"preset": "china", "others_tonnes": 5})),
            Some(HoldingLimit {
                others: Quantity::new(5),
                ..HoldingLimit::CHINA_UNCONFIRMED
            })
        );
        assert_eq!(limit(Value::Null), None);
        let error = parse(json!({"command": "set_holding_limit", "instrument": "X",
            "limit": {"others_tonnes": 5}}))
        .unwrap_err();
        assert!(
            error.contains("compliance_entity_above_allocation_tonnes"),
            "{error}"
        );
    }

    #[test]
    fn calendars_parse_as_presets_and_objects() {
        // Goal: "china_listed" / "china_block" are Beijing weekday sessions; an
        // object gives sessions as HH:MM and holidays as dates; no calendar is None.
        let listed = |calendar: Option<Value>| {
            let mut line = json!({"command": "list_instrument", "symbol": "CEA21",
                "unit": "CEA-2021", "mode": "china_listed", "rules": "china_listed",
                "reference_price_ticks": 5_000, "fee_bps": 5, "fee_account": 20,
                "no_same_day_resale": true, "market_data": "china"});
            if let (Some(line), Some(calendar)) = (line.as_object_mut(), calendar) {
                line.insert("calendar".to_owned(), calendar);
            }
            parse(line)
        };
        let expected = |sessions: Vec<(u16, u16)>, holidays| {
            Some(TradingCalendar {
                utc_offset_minutes: 480,
                sessions,
                weekdays_only: true,
                holidays,
            })
        };
        let calendar_of = |command: ExchangeCommand| match command {
            ExchangeCommand::ListInstrument { calendar, .. } => calendar,
            other => panic!("not a listing: {other:?}"),
        };
        assert_eq!(calendar_of(listed(None).unwrap()), None);
        assert_eq!(
            calendar_of(listed(Some(json!("china_listed"))).unwrap()),
            Some(TradingCalendar::china_listed())
        );
        assert_eq!(
            calendar_of(listed(Some(json!("china_block"))).unwrap()),
            expected(vec![(780, 900)], vec![])
        );
        let object = json!({"utc_offset_minutes": 480,
            "sessions": [["09:30", "11:30"], ["13:00", "15:00"]],
            "weekdays_only": true, "holidays": ["2021-10-01", "2021-10-07"]});
        assert_eq!(
            calendar_of(listed(Some(object)).unwrap()),
            expected(
                vec![(570, 690), (780, 900)],
                vec![(2021, 10, 1), (2021, 10, 7)]
            )
        );
        let error = listed(Some(json!("nyse"))).unwrap_err();
        assert!(error.contains("nyse"), "{error}");
        let error = listed(Some(json!({"utc_offset_minutes": 480,
            "sessions": [["9:30", "11:30"]], "weekdays_only": true})))
        .unwrap_err();
        assert!(error.contains("9:30"), "{error}");
        let error = listed(Some(json!({"utc_offset_minutes": 480,
            "sessions": [["13:00", "11:30"]], "weekdays_only": true})))
        .unwrap_err();
        assert!(error.contains("end after"), "{error}");
        let error = listed(Some(json!({"utc_offset_minutes": 480, "sessions": [],
            "weekdays_only": true, "holidays": ["2021-13-01"]})))
        .unwrap_err();
        assert!(error.contains("2021-13-01"), "{error}");
    }

    #[test]
    fn auction_presets_take_the_missing_values() {
        // Goal: the EU preset needs only the volume; RGGI a reserve price; an
        // object without a preset needs every field.
        let open = |rules: Value| {
            parse(json!({"command": "open_auction", "unit": "EUA-2025", "rules": rules, "seed": 7}))
        };
        let eu = serde_form(&open(json!({"preset": "eu", "volume_offered": 5_000})).unwrap());
        assert_eq!(
            eu["OpenAuction"]["rules"],
            json!({"volume_offered": 5_000, "lot_size_tonnes": 500, "tick_size_ticks": 1,
                "reserve_price": null, "tie_break": "SeededOrder", "cancel_if_undersubscribed": true,
                "minimum_clearing_price": null, "cost_containment": null,
                "purchase_limit_bps": null, "max_bids_per_bidder": 100, "max_bids": 100_000})
        );
        let error = open(json!({"preset": "rggi", "volume_offered": 5_000})).unwrap_err();
        assert!(error.contains("reserve_price_ticks"), "{error}");
        let rggi = serde_form(
            &open(
                json!({"preset": "rggi", "volume_offered": 5_000, "reserve_price_ticks": 250,
                "cost_containment": {"trigger_price_ticks": 1_300, "volume": 1_000}}),
            )
            .unwrap(),
        );
        assert_eq!(
            rggi["OpenAuction"]["rules"]["cost_containment"],
            json!({"trigger_price": 1_300, "volume": 1_000})
        );
        assert_eq!(rggi["OpenAuction"]["rules"]["purchase_limit_bps"], 2_500);
        let california = open(json!({"preset": "california", "volume_offered": 5_000,
            "reserve_price_ticks": 2_000}))
        .unwrap_err();
        assert!(california.contains("purchase_limit_bps"), "{california}");
        let bare = open(json!({"volume_offered": 5_000})).unwrap_err();
        assert!(bare.contains("missing field"), "{bare}");
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        // Goal: an unknown side, field, preset or kind and a negative price never
        // reach the engine, and the message names what is wrong.
        let order = |extra: Value| {
            let mut line = json!({"command": "place_order", "instrument": "CEA21", "account": 10,
                "side": "sell", "kind": {"limit": 5_000}, "quantity": 100, "time_in_force": "day"});
            if let (Some(line), Value::Object(extra)) = (line.as_object_mut(), extra) {
                line.extend(extra);
            }
            parse(line)
        };
        assert!(order(json!({})).is_ok());
        let error = order(json!({"side": "short"})).unwrap_err();
        assert!(error.contains("short"), "{error}");
        let error = order(json!({"colour": "red"})).unwrap_err();
        assert!(error.contains("colour"), "{error}");
        let error = order(json!({"kind": {"limit": -5}})).unwrap_err();
        assert!(error.contains("negative"), "{error}");
        let error = order(json!({"kind": {"stop": 5}})).unwrap_err();
        assert!(error.contains("limit"), "{error}");
        let error = order(json!({"time_in_force": "gtc"})).unwrap_err();
        assert!(error.contains("gtc"), "{error}");
        let error = order(json!({"instrument": "CEA 21"})).unwrap_err();
        assert!(error.contains("instrument"), "{error}");
        let error = parse(json!({"command": "submit_bid", "auction": 1, "account": 10,
            "price_ticks": -1, "quantity": 500}))
        .unwrap_err();
        assert!(error.contains("price_ticks"), "{error}");
        let error = parse(
            json!({"command": "list_instrument", "symbol": "X", "unit": "CEA-2021",
            "mode": "continuous", "rules": {"preset": "continuous", "band": 5},
            "reference_price_ticks": 1, "fee_bps": 0, "fee_account": 20,
            "no_same_day_resale": false, "market_data": "eu"}),
        )
        .unwrap_err();
        assert!(error.contains("band"), "{error}");
        let error = parse(
            json!({"command": "list_instrument", "symbol": "X", "unit": "CEA-2021",
            "mode": "continuous", "rules": "nasdaq", "reference_price_ticks": 1, "fee_bps": 0,
            "fee_account": 20, "no_same_day_resale": false, "market_data": "eu"}),
        )
        .unwrap_err();
        assert!(error.contains("nasdaq"), "{error}");
        // Through the whole line: unknown fields are refused as malformed.
        let error = parse_request(r#"{"request_id":1,"requester":1,"command":"end_of_day","instrument":"CEA21","when":"now"}"#)
            .unwrap_err();
        assert_eq!(error.code, "malformed_command");
        assert!(error.message.contains("when"), "{}", error.message);
    }
}
