//! Position limits: the most units of one class an account may hold or be
//! about to buy on an instrument with a [`HoldingLimit`], and where the
//! exchange learns a compliance entity's allocation ([`Allocations`]).

use super::error::ExchangeError;
use super::state::Exchange;
use crate::compliance::Compliance;
use ets_market::Side;
use ets_model::{AccountId, Code, ParticipantId, Quantity, UnitClass};
use ets_registry::{ParticipantKind, Registry};
use serde::{Deserialize, Serialize};

/// The largest position an account may reach in the class an instrument
/// trades: units held (including units held for its own open sells) plus
/// the open quantity of its buy orders and buy proposals on every
/// instrument of that class, plus what a new buy could add.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldingLimit {
    /// A compliance entity (participant kind `covered_entity`) may hold its
    /// allocation of the instrument's vintage plus this many tonnes.
    pub compliance_entity_above_allocation: Quantity,
    /// Every other participant may hold this many tonnes.
    pub others: Quantity,
}

impl HoldingLimit {
    /// China's national market, by analogy with the pilot exchanges
    /// (docs/sources.md#cn-exchange, Beijing: a compliance entity at most its allocation
    /// plus 1 Mt, others at most 1 Mt). **Unconfirmed nationally**: a
    /// parameter, not a published national rule.
    pub const CHINA_UNCONFIRMED: HoldingLimit = HoldingLimit {
        compliance_entity_above_allocation: Quantity::new(1_000_000),
        others: Quantity::new(1_000_000),
    };
}

/// Where the exchange looks up a compliance entity's free allocation of a
/// vintage.
pub trait Allocations {
    /// The tonnes allocated to `entity` of `class`'s vintage (zero when
    /// none, and for offset credits).
    fn allocation(&self, entity: ParticipantId, class: &UnitClass) -> Quantity;
}

/// No allocations known: a compliance entity's limit is then the fixed
/// part alone. [`Exchange::execute`] uses it; the engine passes its
/// compliance state instead.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAllocations;

impl Allocations for NoAllocations {
    fn allocation(&self, _entity: ParticipantId, _class: &UnitClass) -> Quantity {
        Quantity::ZERO
    }
}

impl Allocations for Compliance {
    /// The allocation record of the entity for the vintage's year: the final
    /// allocation if the true-up was done, else the pre-allocation.
    fn allocation(&self, entity: ParticipantId, class: &UnitClass) -> Quantity {
        match class {
            UnitClass::Allowance { vintage, .. } => Compliance::allocation(self, entity, vintage.0)
                .map_or(
                    Quantity::ZERO,
                    crate::compliance::AllocationRecord::allocation,
                ),
            UnitClass::Offset { .. } => Quantity::ZERO,
        }
    }
}

impl Exchange {
    /// The tonnes of class `class_index` that `account` has bought or may
    /// still buy through open orders: the open quantity of its buy orders
    /// and buy proposals on every instrument of the class.
    #[must_use]
    pub fn open_buy_quantity(&self, account: AccountId, class_index: u32) -> Quantity {
        let mut total: u64 = 0;
        for instrument in self
            .instruments
            .values()
            .filter(|instrument| instrument.class_index == class_index)
        {
            for (order, hold) in &instrument.holds {
                if hold.account == account && hold.side == Side::Buy {
                    total = total.saturating_add(instrument.venue.open_quantity(*order).tonnes());
                }
            }
        }
        Quantity::new(total)
    }

    /// The holding limit of an instrument, if it has one.
    #[must_use]
    pub fn holding_limit(&self, instrument: &Code) -> Option<HoldingLimit> {
        self.instruments.get(instrument)?.holding_limit
    }

    /// Refuses a buy of `adding` tonnes on `symbol` by `account` when the
    /// account's position in the class (held, plus open buys except
    /// `replacing`, plus `adding`) would exceed the instrument's limit.
    pub(super) fn check_holding_limit(
        &self,
        registry: &Registry,
        allocations: &dyn Allocations,
        symbol: &Code,
        account: AccountId,
        adding: Quantity,
        replacing: Option<ets_market::OrderId>,
    ) -> Result<(), ExchangeError> {
        let Some(instrument) = self.instruments.get(symbol) else {
            return Err(ExchangeError::UnknownInstrument(*symbol));
        };
        let Some(limit) = instrument.holding_limit else {
            return Ok(());
        };
        let found = registry.account(account)?;
        let holder = registry.participant(found.holder)?;
        let maximum = if holder.kind == ParticipantKind::CoveredEntity {
            let allocation = allocations.allocation(holder.id, &instrument.class);
            Quantity::new(
                allocation
                    .tonnes()
                    .saturating_add(limit.compliance_entity_above_allocation.tonnes()),
            )
        } else {
            limit.others
        };
        let held = found
            .holding(instrument.class_index)
            .map_or(0, |holding| holding.total().tonnes());
        let replaced = replacing.map_or(0, |order| instrument.venue.open_quantity(order).tonnes());
        let open_buys = self
            .open_buy_quantity(account, instrument.class_index)
            .tonnes()
            .saturating_sub(replaced);
        let position = held
            .saturating_add(open_buys)
            .saturating_add(adding.tonnes());
        if position > maximum.tonnes() {
            return Err(ExchangeError::HoldingLimitExceeded {
                instrument: *symbol,
                account,
                held: Quantity::new(held),
                open_buys: Quantity::new(open_buys),
                requested: adding,
                limit: maximum,
            });
        }
        Ok(())
    }
}
