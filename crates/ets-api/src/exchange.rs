//! JSON shapes of the exchange commands (docs/exchange.md): typed DTOs,
//! converted to the engine's [`ExchangeCommand`] by `TryFrom`. Prices are
//! whole ticks (`*_price_ticks`, or `{"limit": ticks}`), money whole minor
//! units (`amount_minor_units`), quantities whole tonnes, units `CEA-2021`,
//! times RFC 3339.
//!
//! Rule sets (`rules`, `market_data`, auction `rules`, a holding `limit`) are a
//! preset name, or an object with an optional `preset` plus fields that
//! override it; without a preset every field must be given. The presets are
//! `ets-market`'s own constants (`InstrumentRules::CHINA_LISTED`,
//! `CHINA_BLOCK`, `CONTINUOUS`, `MarketDataRules::CHINA`, `EU`,
//! `AuctionRules::eu`, `rggi`, `california`) and the engine's
//! `HoldingLimit::CHINA_UNCONFIRMED`, so they cannot drift; the unit tests
//! pin both forms.

use crate::authority::{
    ACCOUNT_HOLDING, ADMINISTRATION, CommandSpec, EXCHANGE_OPERATION, TRADING_DAY,
};
use crate::request::CommandError;
use crate::schema::{CodeText, TimeText, UnitText};
use crate::text::{parse_time, parse_unit_class};
use ets_engine::exchange::{
    AuctionId, ExchangeCommand, HoldingLimit, TradingCalendar, TradingMode,
};
use ets_market::{
    AuctionRules, BookLimits, ClosePriceRule, CostContainmentReserve, InstrumentRules,
    MarketDataRules, OrderId, OrderKind, Side, TieBreak, TimeInForce,
};
use ets_model::{AccountId, Code, Money, Price, Quantity};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, DeserializeOwned, IntoDeserializer as _};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::borrow::Cow;
use std::marker::PhantomData;

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

/// A field that may be absent (outer `None`) or `null` (inner `None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A field that may be absent but, when given, not `null`.
fn some<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// A whole number of ticks, never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ticks(Price);

impl<'de> Deserialize<'de> for Ticks {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Ticks, D::Error> {
        let ticks = i64::deserialize(deserializer)?;
        Price::try_new(ticks)
            .map(Ticks)
            .map_err(|_| de::Error::custom(format!("a price must not be negative (got {ticks})")))
    }
}

impl JsonSchema for Ticks {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Ticks")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "integer", "minimum": 0, "maximum": i64::MAX,
            "description": "A price in whole ticks, never negative.",
        })
    }
}

/// A code (a symbol), checked as it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CodeField(Code);

impl<'de> Deserialize<'de> for CodeField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<CodeField, D::Error> {
        let text = String::deserialize(deserializer)?;
        Code::try_new(&text)
            .map(CodeField)
            .map_err(|error| de::Error::custom(format!("code {text:?}: {error}")))
    }
}

impl JsonSchema for CodeField {
    fn schema_name() -> Cow<'static, str> {
        CodeText::schema_name()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        CodeText::json_schema(generator)
    }
}

/// A unit class, checked as it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct UnitField(ets_model::UnitClass);

impl<'de> Deserialize<'de> for UnitField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<UnitField, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_unit_class(&text)
            .map(UnitField)
            .map_err(de::Error::custom)
    }
}

impl JsonSchema for UnitField {
    fn schema_name() -> Cow<'static, str> {
        UnitText::schema_name()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        UnitText::json_schema(generator)
    }
}

/// A rule set: a preset's name, or an object of fields (`O`) over an
/// optional preset.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Preset<N, O> {
    Name(N),
    Fields(O),
}

impl<'de, N: DeserializeOwned, O: DeserializeOwned> Deserialize<'de> for Preset<N, O> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Preset<N, O>, D::Error> {
        struct Visit<N, O>(PhantomData<(N, O)>);
        impl<'de, N: DeserializeOwned, O: DeserializeOwned> de::Visitor<'de> for Visit<N, O> {
            type Value = Preset<N, O>;

            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("a preset name or an object of fields")
            }

            fn visit_str<E: de::Error>(self, name: &str) -> Result<Preset<N, O>, E> {
                N::deserialize(name.into_deserializer()).map(Preset::Name)
            }

            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Preset<N, O>, A::Error> {
                O::deserialize(de::value::MapAccessDeserializer::new(map)).map(Preset::Fields)
            }
        }
        deserializer.deserialize_any(Visit(PhantomData))
    }
}

impl<N: JsonSchema, O: JsonSchema> JsonSchema for Preset<N, O> {
    fn schema_name() -> Cow<'static, str> {
        Cow::Owned(format!("{}Or{}", N::schema_name(), O::schema_name()))
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "oneOf": [generator.subschema_for::<N>(), generator.subschema_for::<O>()],
        })
    }
}

/// The field of an object over a preset: given, else the preset's, else missing.
fn pick<T>(field: &str, given: Option<T>, preset: Option<T>) -> Result<T, String> {
    given
        .or(preset)
        .ok_or_else(|| format!("missing field `{field}` (no preset gives it)"))
}

/// The object form's schema: its fields, and either a `preset` or every
/// field the preset would give (`all`); `needed` lists, per preset name, the
/// fields it leaves to the caller.
fn over_preset(mut fields: Schema, all: &[&str], needed: &[(&str, &[&str])]) -> Schema {
    let mut choices: Vec<Value> = needed
        .iter()
        .map(|(name, wanted)| {
            let mut required = vec!["preset"];
            required.extend_from_slice(wanted);
            serde_json::json!({
                "properties": { "preset": { "const": name } },
                "required": required,
            })
        })
        .collect();
    choices.push(serde_json::json!({
        "not": { "required": ["preset"] },
        "required": all,
    }));
    fields.insert("oneOf".into(), choices.into());
    fields
}

// ---- instrument rules ----

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum InstrumentPreset {
    ChinaListed,
    ChinaBlock,
    Continuous,
}

impl From<InstrumentPreset> for InstrumentRules {
    fn from(preset: InstrumentPreset) -> InstrumentRules {
        match preset {
            InstrumentPreset::ChinaListed => InstrumentRules::CHINA_LISTED,
            InstrumentPreset::ChinaBlock => InstrumentRules::CHINA_BLOCK,
            InstrumentPreset::Continuous => InstrumentRules::CONTINUOUS,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct JsonBookLimits {
    max_open_orders_per_account: u32,
    max_orders: u32,
    max_price_levels_per_side: u32,
}

/// Instrument rules over an optional preset.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonInstrumentRules {
    #[serde(default, deserialize_with = "some")]
    preset: Option<InstrumentPreset>,
    #[serde(default, deserialize_with = "some")]
    tick_size_ticks: Option<i64>,
    #[serde(default, deserialize_with = "some")]
    lot_size_tonnes: Option<u64>,
    #[serde(default, deserialize_with = "some")]
    min_order_tonnes: Option<u64>,
    #[serde(default, deserialize_with = "some")]
    max_order_tonnes: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    price_band_bps: Option<Option<u32>>,
    #[serde(default, deserialize_with = "some")]
    limits: Option<JsonBookLimits>,
}

/// The fields of [`JsonInstrumentRules`], for its schema.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct InstrumentRuleFields {
    preset: InstrumentPreset,
    tick_size_ticks: i64,
    lot_size_tonnes: u64,
    min_order_tonnes: u64,
    max_order_tonnes: u64,
    price_band_bps: Option<u32>,
    limits: JsonBookLimits,
}

impl JsonSchema for JsonInstrumentRules {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("InstrumentRules")
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut fields = InstrumentRuleFields::json_schema(generator);
        fields.remove("required");
        let all = [
            "tick_size_ticks",
            "lot_size_tonnes",
            "min_order_tonnes",
            "max_order_tonnes",
            "price_band_bps",
            "limits",
        ];
        over_preset(
            fields,
            &all,
            &[
                ("china_listed", &[]),
                ("china_block", &[]),
                ("continuous", &[]),
            ],
        )
    }
}

impl TryFrom<Preset<InstrumentPreset, JsonInstrumentRules>> for InstrumentRules {
    type Error = String;

    fn try_from(given: Preset<InstrumentPreset, JsonInstrumentRules>) -> Result<Self, String> {
        let given = match given {
            Preset::Name(name) => return Ok(name.into()),
            Preset::Fields(fields) => fields,
        };
        let base = given.preset.map(InstrumentRules::from);
        let limits = given.limits.map(|limits| BookLimits {
            max_open_orders_per_account: limits.max_open_orders_per_account,
            max_orders: limits.max_orders,
            max_price_levels_per_side: limits.max_price_levels_per_side,
        });
        Ok(InstrumentRules {
            tick_size_ticks: pick(
                "tick_size_ticks",
                given.tick_size_ticks,
                base.map(|b| b.tick_size_ticks),
            )?,
            lot_size_tonnes: pick(
                "lot_size_tonnes",
                given.lot_size_tonnes,
                base.map(|b| b.lot_size_tonnes),
            )?,
            min_order_tonnes: pick(
                "min_order_tonnes",
                given.min_order_tonnes,
                base.map(|b| b.min_order_tonnes),
            )?,
            max_order_tonnes: pick(
                "max_order_tonnes",
                given.max_order_tonnes,
                base.map(|b| b.max_order_tonnes),
            )?,
            price_band_bps: pick(
                "price_band_bps",
                given.price_band_bps,
                base.map(|b| b.price_band_bps),
            )?,
            limits: pick("limits", limits, base.map(|b| b.limits))?,
        })
    }
}

// ---- market data ----

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum MarketDataPreset {
    China,
    Eu,
}

impl From<MarketDataPreset> for MarketDataRules {
    fn from(preset: MarketDataPreset) -> MarketDataRules {
        match preset {
            MarketDataPreset::China => MarketDataRules::CHINA,
            MarketDataPreset::Eu => MarketDataRules::EU,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum JsonClosePrice {
    VolumeWeightedAverage,
    LastTrade,
}

impl From<JsonClosePrice> for ClosePriceRule {
    fn from(rule: JsonClosePrice) -> ClosePriceRule {
        match rule {
            JsonClosePrice::VolumeWeightedAverage => ClosePriceRule::VolumeWeightedAverage,
            JsonClosePrice::LastTrade => ClosePriceRule::LastTrade,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonMarketData {
    #[serde(default, deserialize_with = "some")]
    preset: Option<MarketDataPreset>,
    #[serde(default, deserialize_with = "some")]
    close_price: Option<JsonClosePrice>,
    #[serde(default, deserialize_with = "some")]
    max_tape_trades: Option<u32>,
}

/// The fields of [`JsonMarketData`], for its schema.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct MarketDataFields {
    preset: MarketDataPreset,
    close_price: JsonClosePrice,
    max_tape_trades: u32,
}

impl JsonSchema for JsonMarketData {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("MarketDataRules")
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut fields = MarketDataFields::json_schema(generator);
        fields.remove("required");
        over_preset(
            fields,
            &["close_price", "max_tape_trades"],
            &[("china", &[]), ("eu", &[])],
        )
    }
}

impl TryFrom<Preset<MarketDataPreset, JsonMarketData>> for MarketDataRules {
    type Error = String;

    fn try_from(given: Preset<MarketDataPreset, JsonMarketData>) -> Result<Self, String> {
        let given = match given {
            Preset::Name(name) => return Ok(name.into()),
            Preset::Fields(fields) => fields,
        };
        let base = given.preset.map(MarketDataRules::from);
        Ok(MarketDataRules {
            close_price: pick(
                "close_price",
                given.close_price.map(ClosePriceRule::from),
                base.map(|b| b.close_price),
            )?,
            max_tape_trades: pick(
                "max_tape_trades",
                given.max_tape_trades,
                base.map(|b| b.max_tape_trades),
            )?,
        })
    }
}

// ---- auction rules ----

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum AuctionPreset {
    Eu,
    Rggi,
    California,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum JsonTieBreak {
    SeededOrder,
    ProRata,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct JsonCostContainment {
    trigger_price_ticks: Ticks,
    volume: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonAuctionRules {
    #[serde(default, deserialize_with = "some")]
    preset: Option<AuctionPreset>,
    #[serde(default, deserialize_with = "some")]
    volume_offered: Option<u64>,
    #[serde(default, deserialize_with = "some")]
    lot_size_tonnes: Option<u64>,
    #[serde(default, deserialize_with = "some")]
    tick_size_ticks: Option<i64>,
    #[serde(default, deserialize_with = "present")]
    reserve_price_ticks: Option<Option<Ticks>>,
    #[serde(default, deserialize_with = "some")]
    tie_break: Option<JsonTieBreak>,
    #[serde(default, deserialize_with = "some")]
    cancel_if_undersubscribed: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    minimum_clearing_price_ticks: Option<Option<Ticks>>,
    #[serde(default, deserialize_with = "present")]
    cost_containment: Option<Option<JsonCostContainment>>,
    #[serde(default, deserialize_with = "present")]
    purchase_limit_bps: Option<Option<u32>>,
    #[serde(default, deserialize_with = "some")]
    max_bids_per_bidder: Option<u32>,
    #[serde(default, deserialize_with = "some")]
    max_bids: Option<u32>,
}

/// The fields of [`JsonAuctionRules`], for its schema.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct AuctionRuleFields {
    preset: AuctionPreset,
    volume_offered: u64,
    lot_size_tonnes: u64,
    tick_size_ticks: i64,
    reserve_price_ticks: Option<Ticks>,
    tie_break: JsonTieBreak,
    cancel_if_undersubscribed: bool,
    minimum_clearing_price_ticks: Option<Ticks>,
    cost_containment: Option<JsonCostContainment>,
    purchase_limit_bps: Option<u32>,
    max_bids_per_bidder: u32,
    max_bids: u32,
}

/// Per preset, the fields it leaves to the caller.
const AUCTION_PRESET_NEEDS: [(&str, &[&str]); 3] = [
    ("eu", &["volume_offered"]),
    ("rggi", &["volume_offered", "reserve_price_ticks"]),
    (
        "california",
        &[
            "volume_offered",
            "reserve_price_ticks",
            "purchase_limit_bps",
        ],
    ),
];

impl JsonSchema for JsonAuctionRules {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("AuctionRules")
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut fields = AuctionRuleFields::json_schema(generator);
        fields.remove("required");
        let all = [
            "volume_offered",
            "lot_size_tonnes",
            "tick_size_ticks",
            "reserve_price_ticks",
            "tie_break",
            "cancel_if_undersubscribed",
            "minimum_clearing_price_ticks",
            "cost_containment",
            "purchase_limit_bps",
            "max_bids_per_bidder",
            "max_bids",
        ];
        over_preset(fields, &all, &AUCTION_PRESET_NEEDS)
    }
}

impl From<JsonTieBreak> for TieBreak {
    fn from(tie: JsonTieBreak) -> TieBreak {
        match tie {
            JsonTieBreak::SeededOrder => TieBreak::SeededOrder,
            JsonTieBreak::ProRata => TieBreak::ProRata,
        }
    }
}

impl From<JsonCostContainment> for CostContainmentReserve {
    fn from(ccr: JsonCostContainment) -> CostContainmentReserve {
        CostContainmentReserve {
            trigger_price: ccr.trigger_price_ticks.0,
            volume: Quantity::new(ccr.volume),
        }
    }
}

/// A preset's rules with the values it leaves to the caller unset (`None`).
fn auction_base(preset: AuctionPreset) -> AuctionRules {
    match preset {
        AuctionPreset::Eu => AuctionRules::eu(Quantity::ZERO),
        AuctionPreset::Rggi => AuctionRules::rggi(Quantity::ZERO, Price::default(), None),
        AuctionPreset::California => AuctionRules::california(Quantity::ZERO, Price::default(), 0),
    }
}

/// Auction rules: always an object, since every preset leaves the volume
/// (and some the reserve price and purchase limit) to the caller.
fn auction_rules(given: JsonAuctionRules) -> Result<AuctionRules, String> {
    let needs: &[&str] = given
        .preset
        .and_then(|preset| AUCTION_PRESET_NEEDS.get(preset as usize))
        .map_or(&[], |(_, needs)| needs);
    // The values a preset leaves to the caller are not the preset's to give.
    let base = given.preset.map(auction_base);
    let from_base = |field: &str| !needs.contains(&field);
    let base_if = |field: &str| base.filter(|_| from_base(field));
    let ticks = |ticks: Option<Option<Ticks>>| ticks.map(|t| t.map(|Ticks(price)| price));
    Ok(AuctionRules {
        volume_offered: pick(
            "volume_offered",
            given.volume_offered.map(Quantity::new),
            base_if("volume_offered").map(|b| b.volume_offered),
        )?,
        lot_size_tonnes: pick(
            "lot_size_tonnes",
            given.lot_size_tonnes,
            base.map(|b| b.lot_size_tonnes),
        )?,
        tick_size_ticks: pick(
            "tick_size_ticks",
            given.tick_size_ticks,
            base.map(|b| b.tick_size_ticks),
        )?,
        reserve_price: pick(
            "reserve_price_ticks",
            ticks(given.reserve_price_ticks),
            base_if("reserve_price_ticks").map(|b| b.reserve_price),
        )?,
        tie_break: pick(
            "tie_break",
            given.tie_break.map(TieBreak::from),
            base.map(|b| b.tie_break),
        )?,
        cancel_if_undersubscribed: pick(
            "cancel_if_undersubscribed",
            given.cancel_if_undersubscribed,
            base.map(|b| b.cancel_if_undersubscribed),
        )?,
        minimum_clearing_price: pick(
            "minimum_clearing_price_ticks",
            ticks(given.minimum_clearing_price_ticks),
            base.map(|b| b.minimum_clearing_price),
        )?,
        cost_containment: pick(
            "cost_containment",
            given
                .cost_containment
                .map(|ccr| ccr.map(CostContainmentReserve::from)),
            base.map(|b| b.cost_containment),
        )?,
        purchase_limit_bps: pick(
            "purchase_limit_bps",
            given.purchase_limit_bps,
            base_if("purchase_limit_bps").map(|b| b.purchase_limit_bps),
        )?,
        max_bids_per_bidder: pick(
            "max_bids_per_bidder",
            given.max_bids_per_bidder,
            base.map(|b| b.max_bids_per_bidder),
        )?,
        max_bids: pick("max_bids", given.max_bids, base.map(|b| b.max_bids))?,
    })
}

// ---- holding limit ----

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum HoldingLimitPreset {
    China,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonHoldingLimit {
    #[serde(default, deserialize_with = "some")]
    preset: Option<HoldingLimitPreset>,
    #[serde(default, deserialize_with = "some")]
    compliance_entity_above_allocation_tonnes: Option<u64>,
    #[serde(default, deserialize_with = "some")]
    others_tonnes: Option<u64>,
}

/// The fields of [`JsonHoldingLimit`], for its schema.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct HoldingLimitFields {
    preset: HoldingLimitPreset,
    compliance_entity_above_allocation_tonnes: u64,
    others_tonnes: u64,
}

impl JsonSchema for JsonHoldingLimit {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("HoldingLimit")
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut fields = HoldingLimitFields::json_schema(generator);
        fields.remove("required");
        over_preset(
            fields,
            &["compliance_entity_above_allocation_tonnes", "others_tonnes"],
            &[("china", &[])],
        )
    }
}

impl TryFrom<Preset<HoldingLimitPreset, JsonHoldingLimit>> for HoldingLimit {
    type Error = String;

    fn try_from(given: Preset<HoldingLimitPreset, JsonHoldingLimit>) -> Result<Self, String> {
        let base = HoldingLimit::CHINA_UNCONFIRMED;
        let given = match given {
            Preset::Name(HoldingLimitPreset::China) => return Ok(base),
            Preset::Fields(fields) => fields,
        };
        let base = given.preset.map(|HoldingLimitPreset::China| base);
        Ok(HoldingLimit {
            compliance_entity_above_allocation: pick(
                "compliance_entity_above_allocation_tonnes",
                given
                    .compliance_entity_above_allocation_tonnes
                    .map(Quantity::new),
                base.map(|b| b.compliance_entity_above_allocation),
            )?,
            others: pick(
                "others_tonnes",
                given.others_tonnes.map(Quantity::new),
                base.map(|b| b.others),
            )?,
        })
    }
}

// ---- calendar ----

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum CalendarPreset {
    ChinaListed,
    ChinaBlock,
}

/// `HH:MM`, minutes after midnight (`24:00` allowed as an end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ClockTime(u16);

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ClockTime, D::Error> {
        let text = String::deserialize(deserializer)?;
        clock(&text).map(ClockTime).map_err(de::Error::custom)
    }
}

impl JsonSchema for ClockTime {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("ClockTime")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string", "pattern": "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$",
            "description": "HH:MM, local time (24:00 allowed as an end).",
        })
    }
}

/// `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Date((u16, u8, u8));

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
        let text = String::deserialize(deserializer)?;
        date(&text).map(Date).map_err(de::Error::custom)
    }
}

impl JsonSchema for Date {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Date")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$",
            "description": "YYYY-MM-DD.",
        })
    }
}

/// A calendar object: `utc_offset_minutes`, `sessions` as `["HH:MM",
/// "HH:MM"]` pairs, `weekdays_only`, `holidays` as `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct JsonCalendar {
    utc_offset_minutes: i32,
    sessions: Vec<(ClockTime, ClockTime)>,
    weekdays_only: bool,
    #[serde(default)]
    holidays: Vec<Date>,
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

impl TryFrom<Preset<CalendarPreset, JsonCalendar>> for TradingCalendar {
    type Error = String;

    fn try_from(given: Preset<CalendarPreset, JsonCalendar>) -> Result<Self, String> {
        let beijing = |sessions: Vec<(u16, u16)>| TradingCalendar {
            utc_offset_minutes: 480,
            sessions,
            weekdays_only: true,
            holidays: Vec::new(),
        };
        let given = match given {
            Preset::Name(CalendarPreset::ChinaListed) => {
                return Ok(beijing(vec![(570, 690), (780, 900)]));
            }
            Preset::Name(CalendarPreset::ChinaBlock) => return Ok(beijing(vec![(780, 900)])),
            Preset::Fields(fields) => fields,
        };
        let mut sessions = Vec::new();
        for (ClockTime(start), ClockTime(end)) in given.sessions {
            if start >= end {
                return Err(format!(
                    "calendar session {:02}:{:02}-{:02}:{:02} must end after it starts",
                    start / 60,
                    start % 60,
                    end / 60,
                    end % 60
                ));
            }
            sessions.push((start, end));
        }
        Ok(TradingCalendar {
            utc_offset_minutes: given.utc_offset_minutes,
            sessions,
            weekdays_only: given.weekdays_only,
            holidays: given.holidays.into_iter().map(|Date(day)| day).collect(),
        })
    }
}

// ---- orders ----

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum JsonSide {
    Buy,
    Sell,
}

impl From<JsonSide> for Side {
    fn from(side: JsonSide) -> Side {
        match side {
            JsonSide::Buy => Side::Buy,
            JsonSide::Sell => Side::Sell,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum JsonTimeInForce {
    #[default]
    Day,
    Ioc,
    Fok,
}

impl From<JsonTimeInForce> for TimeInForce {
    fn from(time_in_force: JsonTimeInForce) -> TimeInForce {
        match time_in_force {
            JsonTimeInForce::Day => TimeInForce::Day,
            JsonTimeInForce::Ioc => TimeInForce::ImmediateOrCancel,
            JsonTimeInForce::Fok => TimeInForce::FillOrKill,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum JsonMarket {
    Market,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct JsonLimit {
    limit: Ticks,
}

/// A trading mode by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum JsonMode {
    Continuous,
    ChinaListed,
    ChinaBlock,
}

/// A block desk whose band follows the close of the listed instrument named:
/// `{"china_block_of": "CEA21"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct JsonBlockOf {
    china_block_of: CodeField,
}

impl From<Preset<JsonMode, JsonBlockOf>> for TradingMode {
    fn from(mode: Preset<JsonMode, JsonBlockOf>) -> TradingMode {
        match mode {
            Preset::Name(JsonMode::Continuous) => TradingMode::Continuous,
            Preset::Name(JsonMode::ChinaListed) => TradingMode::ChinaListed,
            Preset::Name(JsonMode::ChinaBlock) => TradingMode::ChinaBlock,
            Preset::Fields(JsonBlockOf { china_block_of }) => TradingMode::ChinaBlockOf {
                listed: china_block_of.0,
            },
        }
    }
}

/// The exchange's commands.
#[derive(Deserialize, JsonSchema)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
enum JsonExchangeCommand {
    /// Lists an instrument.
    ListInstrument {
        symbol: CodeField,
        unit: UnitField,
        mode: Preset<JsonMode, JsonBlockOf>,
        rules: Preset<InstrumentPreset, JsonInstrumentRules>,
        reference_price_ticks: Ticks,
        fee_bps: u32,
        fee_account: u64,
        no_same_day_resale: bool,
        market_data: Preset<MarketDataPreset, JsonMarketData>,
        #[serde(default)]
        calendar: Option<Preset<CalendarPreset, JsonCalendar>>,
    },
    /// Credits cash to an account.
    DepositCash {
        account: u64,
        amount_minor_units: i64,
    },
    /// Debits cash from an account.
    WithdrawCash {
        account: u64,
        amount_minor_units: i64,
    },
    /// Places an order: `kind` is `"market"` or `{"limit": price_ticks}`.
    PlaceOrder {
        instrument: CodeField,
        account: u64,
        side: JsonSide,
        kind: Preset<JsonMarket, JsonLimit>,
        quantity: u64,
        #[serde(default)]
        time_in_force: JsonTimeInForce,
    },
    /// Cancels an order.
    CancelOrder {
        instrument: CodeField,
        account: u64,
        order: u64,
    },
    /// Changes an order's price and quantity.
    AmendOrder {
        instrument: CodeField,
        account: u64,
        order: u64,
        price_ticks: Ticks,
        quantity: u64,
    },
    /// Takes a listed order.
    TakeListed {
        instrument: CodeField,
        account: u64,
        maker_order: u64,
        quantity: u64,
    },
    /// Proposes a block trade to a counterparty.
    ProposeBlock {
        instrument: CodeField,
        account: u64,
        counterparty: u64,
        side: JsonSide,
        price_ticks: Ticks,
        quantity: u64,
        #[schemars(with = "TimeText")]
        expires_at: String,
    },
    /// Accepts a block proposal.
    AcceptBlock {
        instrument: CodeField,
        account: u64,
        proposal: u64,
    },
    /// Declines a block proposal.
    DeclineBlock {
        instrument: CodeField,
        account: u64,
        proposal: u64,
    },
    /// Withdraws one's block proposal.
    WithdrawBlock {
        instrument: CodeField,
        account: u64,
        proposal: u64,
    },
    /// Closes the trading day of an instrument.
    EndOfDay { instrument: CodeField },
    /// Opens an auction.
    OpenAuction {
        unit: UnitField,
        rules: JsonAuctionRules,
        seed: u64,
    },
    /// Bids in an auction.
    SubmitBid {
        auction: u64,
        account: u64,
        price_ticks: Ticks,
        quantity: u64,
    },
    /// Withdraws a bid.
    WithdrawBid {
        auction: u64,
        account: u64,
        bid: u64,
    },
    /// Closes an auction and clears it.
    CloseAuction { auction: u64 },
    /// Sets (or with `null` removes) an instrument's holding limit.
    SetHoldingLimit {
        instrument: CodeField,
        #[serde(deserialize_with = "present")]
        #[schemars(
            with = "Option<Preset<HoldingLimitPreset, JsonHoldingLimit>>",
            required
        )]
        limit: Option<Option<Preset<HoldingLimitPreset, JsonHoldingLimit>>>,
    },
    /// Changes a bid's price and quantity.
    ModifyBid {
        auction: u64,
        account: u64,
        bid: u64,
        price_ticks: Ticks,
        quantity: u64,
    },
}

/// The JSON Schema of these commands (a `oneOf`), for the OpenAPI document.
pub(crate) fn schema(generator: &mut SchemaGenerator) -> Schema {
    JsonExchangeCommand::json_schema(generator)
}

impl TryFrom<JsonExchangeCommand> for ExchangeCommand {
    type Error = String;

    fn try_from(command: JsonExchangeCommand) -> Result<ExchangeCommand, String> {
        use JsonExchangeCommand as J;
        Ok(match command {
            J::ListInstrument {
                symbol,
                unit,
                mode,
                rules,
                reference_price_ticks,
                fee_bps,
                fee_account,
                no_same_day_resale,
                market_data,
                calendar,
            } => ExchangeCommand::ListInstrument {
                symbol: symbol.0,
                class: unit.0,
                mode: mode.into(),
                rules: InstrumentRules::try_from(rules).map_err(|e| format!("rules: {e}"))?,
                reference_price: reference_price_ticks.0,
                fee_bps,
                fee_account: AccountId(fee_account),
                no_same_day_resale,
                market_data: MarketDataRules::try_from(market_data)
                    .map_err(|e| format!("market_data: {e}"))?,
                calendar: calendar.map(TradingCalendar::try_from).transpose()?,
            },
            J::DepositCash {
                account,
                amount_minor_units,
            } => ExchangeCommand::DepositCash {
                account: AccountId(account),
                amount: Money::new(amount_minor_units),
            },
            J::WithdrawCash {
                account,
                amount_minor_units,
            } => ExchangeCommand::WithdrawCash {
                account: AccountId(account),
                amount: Money::new(amount_minor_units),
            },
            J::PlaceOrder {
                instrument,
                account,
                side,
                kind,
                quantity,
                time_in_force,
            } => ExchangeCommand::PlaceOrder {
                instrument: instrument.0,
                account: AccountId(account),
                side: side.into(),
                kind: match kind {
                    Preset::Name(JsonMarket::Market) => OrderKind::Market,
                    Preset::Fields(JsonLimit { limit }) => OrderKind::Limit(limit.0),
                },
                quantity: Quantity::new(quantity),
                time_in_force: time_in_force.into(),
            },
            J::CancelOrder {
                instrument,
                account,
                order,
            } => ExchangeCommand::CancelOrder {
                instrument: instrument.0,
                account: AccountId(account),
                order: OrderId(order),
            },
            J::AmendOrder {
                instrument,
                account,
                order,
                price_ticks,
                quantity,
            } => ExchangeCommand::AmendOrder {
                instrument: instrument.0,
                account: AccountId(account),
                order: OrderId(order),
                price: price_ticks.0,
                quantity: Quantity::new(quantity),
            },
            J::TakeListed {
                instrument,
                account,
                maker_order,
                quantity,
            } => ExchangeCommand::TakeListed {
                instrument: instrument.0,
                account: AccountId(account),
                maker_order: OrderId(maker_order),
                quantity: Quantity::new(quantity),
            },
            J::ProposeBlock {
                instrument,
                account,
                counterparty,
                side,
                price_ticks,
                quantity,
                expires_at,
            } => ExchangeCommand::ProposeBlock {
                instrument: instrument.0,
                account: AccountId(account),
                counterparty: AccountId(counterparty),
                side: side.into(),
                price: price_ticks.0,
                quantity: Quantity::new(quantity),
                expires_at: parse_time(&expires_at)?,
            },
            J::AcceptBlock {
                instrument,
                account,
                proposal,
            } => ExchangeCommand::AcceptBlock {
                instrument: instrument.0,
                account: AccountId(account),
                proposal: OrderId(proposal),
            },
            J::DeclineBlock {
                instrument,
                account,
                proposal,
            } => ExchangeCommand::DeclineBlock {
                instrument: instrument.0,
                account: AccountId(account),
                proposal: OrderId(proposal),
            },
            J::WithdrawBlock {
                instrument,
                account,
                proposal,
            } => ExchangeCommand::WithdrawBlock {
                instrument: instrument.0,
                account: AccountId(account),
                proposal: OrderId(proposal),
            },
            J::EndOfDay { instrument } => ExchangeCommand::EndOfDay {
                instrument: instrument.0,
            },
            J::OpenAuction { unit, rules, seed } => ExchangeCommand::OpenAuction {
                class: unit.0,
                rules: auction_rules(rules).map_err(|e| format!("rules: {e}"))?,
                seed,
            },
            J::SubmitBid {
                auction,
                account,
                price_ticks,
                quantity,
            } => ExchangeCommand::SubmitBid {
                auction: AuctionId(auction),
                account: AccountId(account),
                price: price_ticks.0,
                quantity: Quantity::new(quantity),
            },
            J::WithdrawBid {
                auction,
                account,
                bid,
            } => ExchangeCommand::WithdrawBid {
                auction: AuctionId(auction),
                account: AccountId(account),
                bid: OrderId(bid),
            },
            J::CloseAuction { auction } => ExchangeCommand::CloseAuction {
                auction: AuctionId(auction),
            },
            J::SetHoldingLimit { instrument, limit } => ExchangeCommand::SetHoldingLimit {
                instrument: instrument.0,
                limit: limit
                    .flatten()
                    .map(HoldingLimit::try_from)
                    .transpose()
                    .map_err(|e| format!("limit: {e}"))?,
            },
            J::ModifyBid {
                auction,
                account,
                bid,
                price_ticks,
                quantity,
            } => ExchangeCommand::ModifyBid {
                auction: AuctionId(auction),
                account: AccountId(account),
                bid: OrderId(bid),
                price: price_ticks.0,
                quantity: Quantity::new(quantity),
            },
        })
    }
}

/// Parses the command part of an exchange line (envelope fields removed).
///
/// # Errors
/// A message naming the field that is wrong.
pub fn parse_exchange(value: Value) -> Result<ExchangeCommand, CommandError> {
    let parsed: JsonExchangeCommand = serde_json::from_value(value).map_err(CommandError::shape)?;
    Ok(ExchangeCommand::try_from(parsed)?)
}

/// The exchange command whose fields `fields` holds (the typed read of a
/// line, `crate::line`), or `None` when they do not read or convert cleanly
/// (the general read then names what is wrong).
pub(crate) fn typed_exchange<'de, D: Deserializer<'de>>(fields: D) -> Option<ExchangeCommand> {
    let parsed = JsonExchangeCommand::deserialize(fields).ok()?;
    ExchangeCommand::try_from(parsed).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ApiRequest, parse_request};
    use ets_engine::Command;
    use ets_engine::exchange::TradingCalendar;
    use serde_json::json;

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
        parse_exchange(fields).map_err(|error| error.message().to_owned())
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
    fn listing_presets_are_the_market_constants() {
        // Goal: every listing preset name gives exactly the ets-market constant, so
        // the API and the market cannot drift apart.
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
    }

    #[test]
    fn a_block_desk_names_the_listed_instrument_it_follows() {
        // Goal: `{"china_block_of": "CEA21"}` is `ChinaBlockOf { listed: CEA21 }`;
        // the plain names keep their modes; a bad symbol or an unknown mode
        // is refused with a message naming it.
        let listing = |mode: Value| {
            parse(
                json!({"command": "list_instrument", "symbol": "CEA21B", "unit": "CEA-2021",
                "mode": mode, "rules": "china_block", "reference_price_ticks": 4_000,
                "fee_bps": 0, "fee_account": 20, "no_same_day_resale": true,
                "market_data": "china"}),
            )
        };
        let mode_of = |mode: Value| match listing(mode).unwrap() {
            ExchangeCommand::ListInstrument { mode, .. } => mode,
            other => panic!("not a listing: {other:?}"),
        };
        assert_eq!(
            mode_of(json!({"china_block_of": "CEA21"})),
            TradingMode::ChinaBlockOf {
                listed: Code::try_new("CEA21").unwrap()
            }
        );
        assert_eq!(mode_of(json!("china_block")), TradingMode::ChinaBlock);
        assert_eq!(mode_of(json!("china_listed")), TradingMode::ChinaListed);
        let error = listing(json!({"china_block_of": "CEA 21"})).unwrap_err();
        assert!(error.contains("CEA 21"), "{error}");
        let error = listing(json!({"china_block_of": 21})).unwrap_err();
        assert!(error.contains("21"), "{error}");
        let error = listing(json!("china_block_of")).unwrap_err();
        assert!(error.contains("china_block_of"), "{error}");
        let error = listing(json!({"block_of": "CEA21"})).unwrap_err();
        assert!(error.contains("block_of"), "{error}");
    }

    #[test]
    fn auction_presets_are_the_market_constants() {
        // Goal: every auction preset, given the values it leaves to the caller, gives
        // exactly the ets-market constructor's rules.
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
    }

    #[test]
    fn holding_limit_presets_are_the_engine_constants() {
        // Goal: the holding-limit preset is the engine's constant, its fields can be
        // overridden, null sets no limit, and an object without a preset must name
        // every field.
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
        assert!(error.contains("CEA 21"), "{error}");
        let error = parse(json!({"command": "submit_bid", "auction": 1, "account": 10,
            "price_ticks": -1, "quantity": 500}))
        .unwrap_err();
        assert!(error.contains("negative"), "{error}");
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
