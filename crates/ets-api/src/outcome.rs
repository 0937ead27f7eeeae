//! Outcome lines: what every command gets back (`ets submit`, the HTTP API,
//! the web UI), as typed structs converted from the engine's outcomes and
//! effects. An accepted command's `result` is one of the [`EffectView`]
//! shapes; a refused one carries its stable `code` and a message.

use crate::registry_controls::ControlReply;
use crate::request::ApiError;
use crate::stream_view::StreamStats;
use crate::text::format_time;
use ets_engine::compliance::ComplianceEffect;
use ets_engine::exchange::{ExchangeEffect, HoldingLimit};
use ets_engine::{Effect, Outcome, Rejection};
use ets_market::DailyStats;
use ets_model::{Code, RequestId, Timestamp};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Serialize, Serializer};
use serde_json::Value;
use std::borrow::Cow;

/// A boolean that is always `B` (the `ok` of an outcome line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Always<const B: bool>;

impl<const B: bool> Serialize for Always<B> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bool(B)
    }
}

impl<const B: bool> JsonSchema for Always<B> {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed(if B { "True" } else { "False" })
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "boolean", "const": B })
    }
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// The outcome of one command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum OutcomeLine {
    /// The command applied.
    Accepted(AcceptedLine),
    /// The command was refused, by the API or the engine.
    Refused(RefusedLine),
}

/// A command that applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct AcceptedLine {
    /// The client's request id.
    pub request_id: u64,
    /// Always `true`.
    pub ok: Always<true>,
    /// What it did.
    pub result: EffectView,
    /// The store's time of the command, RFC 3339.
    pub time: String,
    /// Its place in the journal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    /// `true` when the request id was seen before: this is its first outcome.
    #[serde(skip_serializing_if = "is_false")]
    #[schemars(default)]
    pub duplicate: bool,
}

/// A command that was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct RefusedLine {
    /// The client's request id (`null` when the line had no readable one).
    pub request_id: Option<u64>,
    /// The line number in a batch, for lines refused before the engine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// Always `false`.
    pub ok: Always<false>,
    /// The stable refusal code.
    pub code: String,
    /// What is refused and why, for people.
    pub message: String,
    /// The store's time of the command, RFC 3339 (refusals by the engine).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// Its place in the journal (refusals by the engine are journaled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    /// `true` when the request id was seen before: this is its first outcome.
    #[serde(skip_serializing_if = "is_false")]
    #[schemars(default)]
    pub duplicate: bool,
}

impl OutcomeLine {
    /// The outcome line of a command that reached the sequencer.
    #[must_use]
    pub fn reply(
        request_id: RequestId,
        sequence: Option<u64>,
        time: Timestamp,
        duplicate: bool,
        outcome: &Outcome,
    ) -> OutcomeLine {
        match outcome {
            Outcome::Accepted(effect) => OutcomeLine::Accepted(AcceptedLine {
                request_id: request_id.0,
                ok: Always,
                result: EffectView::from(effect),
                time: format_time(time),
                sequence,
                duplicate,
            }),
            Outcome::Rejected(Rejection { code, message }) => OutcomeLine::Refused(RefusedLine {
                request_id: Some(request_id.0),
                line: None,
                ok: Always,
                code: code.clone(),
                message: message.clone(),
                time: Some(format_time(time)),
                sequence,
                duplicate,
            }),
        }
    }

    /// The outcome line of line `line_number` that never reached the sequencer.
    #[must_use]
    pub fn rejected(line_number: usize, error: &ApiError) -> OutcomeLine {
        OutcomeLine::Refused(RefusedLine {
            request_id: error.request_id,
            line: Some(line_number),
            ok: Always,
            code: error.code.to_owned(),
            message: error.message.clone(),
            time: None,
            sequence: None,
            duplicate: false,
        })
    }

    /// Whether the command applied.
    #[must_use]
    pub fn is_accepted(&self) -> bool {
        matches!(self, OutcomeLine::Accepted(_))
    }
}

/// What an accepted command did: one shape per kind of effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum EffectView {
    /// A participant was registered.
    Participant {
        /// Its id.
        participant: u64,
    },
    /// An account was opened or changed.
    Account {
        /// Its id.
        account: u64,
    },
    /// A transaction was created or changed status.
    Transaction {
        /// Its id.
        transaction: u64,
        /// Its status now (`completed`, `proposed`, `delayed`, ...).
        status: &'static str,
    },
    /// A security-control command's reply.
    Control(ControlReply),
    /// A compliance command's reply.
    Compliance(ComplianceResult),
    /// An exchange command's reply.
    Exchange(ExchangeResult),
    /// The clock of a store that is not live moved.
    Clock {
        /// The time before, RFC 3339.
        clock_from: String,
        /// The time now, RFC 3339.
        clock: String,
    },
}

impl EffectView {
    /// Its fields as `(name, text)` pairs in the order its JSON lists
    /// them, names with spaces for underscores: what a page shows people.
    #[must_use]
    pub fn details(&self) -> Vec<(String, String)> {
        let Ok(Value::Object(fields)) = serde_json::to_value(self) else {
            return Vec::new();
        };
        fields
            .into_iter()
            .map(|(name, value)| {
                let text = match value {
                    Value::String(text) => text,
                    other => other.to_string(),
                };
                (name.replace('_', " "), text)
            })
            .collect()
    }
}

impl From<&Effect> for EffectView {
    fn from(effect: &Effect) -> EffectView {
        use ets_registry::Effect as Registry;
        match effect {
            Effect::Registry(Registry::ParticipantRegistered(id)) => {
                EffectView::Participant { participant: id.0 }
            }
            Effect::Registry(Registry::AccountOpened(id) | Registry::AccountUpdated(id)) => {
                EffectView::Account { account: id.0 }
            }
            Effect::Registry(Registry::Transaction { id, status }) => EffectView::Transaction {
                transaction: id.0,
                status: status.name(),
            },
            Effect::Registry(Registry::ControlsSet) => {
                EffectView::Control(ControlReply::ControlsSet { controls_set: true })
            }
            Effect::Registry(Registry::DelaysReleased(count)) => {
                EffectView::Control(ControlReply::Released {
                    delays_released: *count,
                })
            }
            Effect::Compliance(effect) => EffectView::Compliance(ComplianceResult::from(effect)),
            Effect::Exchange(effect) => EffectView::Exchange(ExchangeResult::from(effect)),
            Effect::Clock(ets_engine::clock::ClockEffect::Advanced { from, to }) => {
                EffectView::Clock {
                    clock_from: format_time(*from),
                    clock: format_time(*to),
                }
            }
        }
    }
}

/// What a compliance command did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum ComplianceResult {
    /// `load_rulebook`.
    RulebookLoaded {
        /// The scheme loaded.
        rulebook: String,
    },
    /// `register_entities`.
    EntitiesRegistered {
        /// How many.
        entities_registered: u64,
    },
    /// `allocate_free`, `allocate_eu`, `allocate_sector`.
    Allocated {
        /// Entities allocated to.
        entities_allocated: u64,
        /// Tonnes issued.
        issued: u64,
        /// Tonnes clawed back.
        clawed_back: u64,
    },
    /// `submit_report`, `verify_report`, `correct_report`.
    Report {
        /// The report's status now.
        report: &'static str,
        /// Its computed emissions, tonnes.
        computed_emissions: u64,
        /// Implausibility flags for the verifier.
        flags: Vec<String>,
    },
    /// `set_plausibility_ranges`.
    PlausibilityRangesSet {
        /// The scheme.
        plausibility_ranges: String,
    },
    /// `close_year`.
    YearClosed {
        /// Always true.
        year_closed: bool,
        /// Entities with results.
        entities: u64,
        /// Of which compliant.
        compliant: u64,
    },
}

fn count(value: usize) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
}

impl From<&ComplianceEffect> for ComplianceResult {
    fn from(effect: &ComplianceEffect) -> ComplianceResult {
        match effect {
            ComplianceEffect::RulebookLoaded { scheme } => ComplianceResult::RulebookLoaded {
                rulebook: scheme.clone(),
            },
            ComplianceEffect::EntitiesRegistered { count: n } => {
                ComplianceResult::EntitiesRegistered {
                    entities_registered: count(*n),
                }
            }
            ComplianceEffect::Allocated {
                entities,
                issued,
                clawed_back,
            } => ComplianceResult::Allocated {
                entities_allocated: count(*entities),
                issued: issued.tonnes(),
                clawed_back: clawed_back.tonnes(),
            },
            ComplianceEffect::Report {
                status,
                computed_emissions,
                flags,
            } => ComplianceResult::Report {
                report: status.name(),
                computed_emissions: computed_emissions.tonnes(),
                flags: flags.clone(),
            },
            ComplianceEffect::PlausibilityRangesSet { scheme } => {
                ComplianceResult::PlausibilityRangesSet {
                    plausibility_ranges: scheme.clone(),
                }
            }
            ComplianceEffect::YearClosed {
                entities,
                compliant,
            } => ComplianceResult::YearClosed {
                year_closed: true,
                entities: count(*entities),
                compliant: count(*compliant),
            },
        }
    }
}

/// A holding limit in the API's field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
pub struct HoldingLimitView {
    /// Tonnes a compliance entity may hold above its allocation.
    pub compliance_entity_above_allocation_tonnes: u64,
    /// Tonnes any other holder may hold.
    pub others_tonnes: u64,
}

impl From<HoldingLimit> for HoldingLimitView {
    fn from(limit: HoldingLimit) -> HoldingLimitView {
        HoldingLimitView {
            compliance_entity_above_allocation_tonnes: limit
                .compliance_entity_above_allocation
                .tonnes(),
            others_tonnes: limit.others.tonnes(),
        }
    }
}

/// A closed trading day's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct DayClosedView {
    /// The instrument.
    pub instrument: String,
    /// Opening price, ticks.
    pub open_ticks: i64,
    /// Highest trade price, ticks.
    pub high_ticks: Option<i64>,
    /// Lowest trade price, ticks.
    pub low_ticks: Option<i64>,
    /// Closing price, ticks.
    pub close_ticks: i64,
    /// Volume-weighted average price, ticks.
    pub vwap_ticks: Option<i64>,
    /// Tonnes traded.
    pub volume: u64,
    /// Money traded, minor units.
    pub turnover_minor_units: i64,
    /// Trades.
    pub trades: u64,
    /// Day orders expired at the close.
    pub expired_orders: u32,
}

/// An auction's end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct AuctionClosedView {
    /// The auction.
    pub auction: u64,
    /// `cleared`, `undersubscribed`, `cancelled_insufficient_bid_volume` or
    /// `cancelled_clearing_price_too_low`.
    pub status: &'static str,
    /// The clearing price, ticks.
    pub clearing_price_ticks: Option<i64>,
    /// Tonnes sold.
    pub sold: u64,
    /// The trades made.
    pub trades: Vec<u64>,
}

/// What an exchange command did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum ExchangeResult {
    /// An order was entered; it traded and may rest.
    OrderEntered {
        /// Its instrument.
        instrument: String,
        /// Its id.
        order: u64,
        /// The trades it made.
        trades: Vec<u64>,
        /// Tonnes left resting.
        open: u64,
    },
    /// An order was closed.
    OrderClosed {
        /// Its instrument.
        instrument: String,
        /// Its id.
        order_closed: u64,
    },
    /// A holding limit was set or removed.
    HoldingLimitSet {
        /// Its instrument.
        instrument: String,
        /// The limit, `null` for none.
        holding_limit: Option<HoldingLimitView>,
    },
    /// A trading day closed.
    DayClosed(DayClosedView),
    /// An instrument was listed.
    InstrumentListed {
        /// Its symbol.
        instrument: String,
    },
    /// An account's cash changed.
    CashUpdated {
        /// The account.
        account: u64,
        /// Cash free to use, minor units.
        cash_available_minor_units: i64,
        /// Cash held for open orders and bids, minor units.
        cash_held_minor_units: i64,
    },
    /// An auction closed.
    AuctionClosed(AuctionClosedView),
    /// A bid was submitted.
    BidSubmitted {
        /// The auction.
        auction: u64,
        /// The bid.
        bid: u64,
    },
    /// A bid was withdrawn.
    BidWithdrawn {
        /// The auction.
        auction: u64,
        /// The bid.
        bid_withdrawn: u64,
    },
    /// A bid was modified.
    BidModified {
        /// The auction.
        auction: u64,
        /// The bid.
        bid_modified: u64,
    },
    /// An auction opened.
    AuctionOpened {
        /// Its id.
        auction: u64,
    },
}

impl DayClosedView {
    /// The close of `instrument`'s day: its statistics in ticks as the stream
    /// gives them ([`StreamStats`]), and the orders that expired.
    fn new(instrument: &Code, stats: &DailyStats, expired_orders: u32) -> DayClosedView {
        let ticks = StreamStats::from(stats);
        DayClosedView {
            instrument: instrument.to_string(),
            open_ticks: ticks.open_ticks,
            high_ticks: ticks.high_ticks,
            low_ticks: ticks.low_ticks,
            close_ticks: ticks.close_ticks,
            vwap_ticks: ticks.vwap_ticks,
            volume: ticks.volume,
            turnover_minor_units: ticks.turnover_minor_units,
            trades: ticks.trades,
            expired_orders,
        }
    }
}

impl From<&ExchangeEffect> for ExchangeResult {
    fn from(effect: &ExchangeEffect) -> ExchangeResult {
        match effect {
            ExchangeEffect::InstrumentListed { instrument } => ExchangeResult::InstrumentListed {
                instrument: instrument.to_string(),
            },
            ExchangeEffect::CashUpdated { account, balance } => ExchangeResult::CashUpdated {
                account: account.0,
                cash_available_minor_units: balance.available.minor_units(),
                cash_held_minor_units: balance.held.minor_units(),
            },
            ExchangeEffect::OrderEntered {
                instrument,
                order,
                trades,
                open,
            } => ExchangeResult::OrderEntered {
                instrument: instrument.to_string(),
                order: order.0,
                trades: trades.clone(),
                open: open.tonnes(),
            },
            ExchangeEffect::OrderClosed { instrument, order } => ExchangeResult::OrderClosed {
                instrument: instrument.to_string(),
                order_closed: order.0,
            },
            ExchangeEffect::DayClosed {
                instrument,
                stats,
                expired,
            } => ExchangeResult::DayClosed(DayClosedView::new(instrument, stats, *expired)),
            ExchangeEffect::AuctionOpened { auction } => {
                ExchangeResult::AuctionOpened { auction: auction.0 }
            }
            ExchangeEffect::BidSubmitted { auction, bid } => ExchangeResult::BidSubmitted {
                auction: auction.0,
                bid: bid.0,
            },
            ExchangeEffect::BidWithdrawn { auction, bid } => ExchangeResult::BidWithdrawn {
                auction: auction.0,
                bid_withdrawn: bid.0,
            },
            ExchangeEffect::AuctionClosed {
                auction,
                status,
                clearing_price,
                sold,
                trades,
            } => ExchangeResult::AuctionClosed(AuctionClosedView {
                auction: auction.0,
                status: auction_status_name(*status),
                clearing_price_ticks: clearing_price.map(|p| p.ticks()),
                sold: sold.tonnes(),
                trades: trades.clone(),
            }),
            ExchangeEffect::HoldingLimitSet { instrument, limit } => {
                ExchangeResult::HoldingLimitSet {
                    instrument: instrument.to_string(),
                    holding_limit: limit.map(HoldingLimitView::from),
                }
            }
            ExchangeEffect::BidModified { auction, bid } => ExchangeResult::BidModified {
                auction: auction.0,
                bid_modified: bid.0,
            },
        }
    }
}

/// The snake_case name of how an auction ended.
fn auction_status_name(status: ets_market::AuctionStatus) -> &'static str {
    use ets_market::{AuctionStatus, CancellationCause};
    match status {
        AuctionStatus::Cleared => "cleared",
        AuctionStatus::Undersubscribed => "undersubscribed",
        AuctionStatus::Cancelled(CancellationCause::InsufficientBidVolume) => {
            "cancelled_insufficient_bid_volume"
        }
        AuctionStatus::Cancelled(CancellationCause::ClearingPriceTooLow { .. }) => {
            "cancelled_clearing_price_too_low"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_effects_details_are_its_json_fields_in_order_for_people() {
        let effect = EffectView::Transaction {
            transaction: 42,
            status: "completed",
        };
        assert_eq!(
            effect.details(),
            vec![
                ("transaction".to_owned(), "42".to_owned()),
                ("status".to_owned(), "completed".to_owned()),
            ]
        );
        let clock = EffectView::Clock {
            clock_from: "2026-01-01T00:00:00Z".to_owned(),
            clock: "2026-01-02T00:00:00Z".to_owned(),
        };
        assert_eq!(clock.details()[0].0, "clock from");
    }
}
