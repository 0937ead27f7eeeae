//! The allowance reserve (`[design.reserve]`, docs/simulation.md, "Allowance
//! reserve"): a stock of allowances the authority holds apart and moves at the
//! primary auctions by a price trigger. China's roadmap names "an allowance reserve
//! and market adjustment mechanism" without its rules (docs/sources.md#cn-roadmap);
//! this design borrows from the EU's reserve (which withholds supply) and RGGI's
//! cost containment reserve (which releases it above a trigger price).
//!
//! Every unit of the reserve goes through the registry: the stock is issued into the
//! reserve's account at the start, released units move from it to the auction
//! account and are sold by the exchange's auction engine only when the auction would
//! clear above the release trigger (the auction's cost containment reserve), and
//! withheld units move from the auction account back to the reserve. Nothing is
//! created or destroyed outside the journal.

use crate::scenario::{Bad, Check, positive, share};
use ets_model::{AccountId, ParticipantId};
use serde::{Deserialize, Serialize};

/// The participant that holds the reserve (an authority desk, like the floor desk).
pub const RESERVE_HOLDER: ParticipantId = ParticipantId(6);
/// The registry's auction account (the design's auction volume is issued into it).
pub const AUCTION_ACCOUNT: AccountId = AccountId(3);
/// The reserve's account (a trading account of [`RESERVE_HOLDER`]).
pub const RESERVE_ACCOUNT: AccountId = AccountId(9);

/// The `[design.reserve]` table: an allowance reserve and its trigger (absent or
/// `stock_mt = 0`: no reserve).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReserveDesign {
    /// Allowances in the reserve at the start of the year, Mt (issued into its account).
    pub stock_mt: f64,
    /// An auction sells reserve units only when it would clear above this price, yuan/t.
    pub release_above_yuan: f64,
    /// Reserve units offered at one auction at most, Mt.
    pub release_mt: f64,
    /// When the last secondary close before an auction is at or below this price
    /// (yuan/t; 0 = never), part of the auction's volume goes to the reserve instead.
    pub withhold_below_yuan: f64,
    /// The share of an auction's volume withheld when the withholding trigger fires.
    pub withhold_share: f64,
}

impl Default for ReserveDesign {
    fn default() -> ReserveDesign {
        ReserveDesign {
            stock_mt: 0.0,
            release_above_yuan: 0.0,
            release_mt: 0.0,
            withhold_below_yuan: 0.0,
            withhold_share: 0.0,
        }
    }
}

/// What the reserve does at one auction, tonnes (whole lots).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReservePlan {
    /// Moved from the auction account to the reserve before the auction.
    pub withhold: u64,
    /// Moved from the reserve to the auction account and offered as the auction's
    /// cost containment reserve (sold only above the release trigger).
    pub release_offer: u64,
}

/// What the reserve did over the year, tonnes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReserveTally {
    /// Issued into the reserve at the start.
    pub stock: u64,
    /// Sold at auctions out of the reserve.
    pub released: u64,
    /// Taken out of auctions into the reserve.
    pub withheld: u64,
}

impl ReserveDesign {
    /// Whether the design has a reserve.
    #[must_use]
    pub fn active(&self) -> bool {
        self.stock_mt > 0.0 || (self.withhold_below_yuan > 0.0 && self.withhold_share > 0.0)
    }

    /// The stock in whole lots of `lot` tonnes.
    #[must_use]
    pub fn stock_tonnes(&self, lot: u64) -> u64 {
        whole_lots(self.stock_mt * 1e6, lot)
    }

    /// The same reserve with its volumes (stock and release) times `factor` (a run of
    /// part of the market gets that part of the reserve).
    #[must_use]
    pub fn scaled(&self, factor: f64) -> ReserveDesign {
        ReserveDesign {
            stock_mt: self.stock_mt * factor,
            release_mt: self.release_mt * factor,
            ..self.clone()
        }
    }

    /// The reserve's decision at an auction of `volume` tonnes, given the last
    /// secondary close (`last_close_yuan`, 0 when none yet) and the tonnes the reserve
    /// holds. Pure: the caller journals the transfers.
    #[must_use]
    pub fn plan(&self, volume: u64, last_close_yuan: f64, held: u64, lot: u64) -> ReservePlan {
        let withhold = if self.withhold_below_yuan > 0.0
            && last_close_yuan > 0.0
            && last_close_yuan <= self.withhold_below_yuan
        {
            whole_lots(volume as f64 * self.withhold_share, lot).min(volume)
        } else {
            0
        };
        let release_offer = if self.release_above_yuan > 0.0 && withhold == 0 {
            whole_lots(self.release_mt * 1e6, lot).min(held / lot.max(1) * lot)
        } else {
            0
        };
        ReservePlan {
            withhold,
            release_offer,
        }
    }

    /// The keys' ranges (`design.reserve.*`).
    pub(crate) fn validate(&self, prefix: &str) -> Check {
        let key = |name: &str| format!("{prefix}.{name}");
        let not_negative = |name: &str, value: f64| -> Check {
            if value >= 0.0 && value.is_finite() {
                Ok(())
            } else {
                Err(Bad(
                    key(name),
                    value.to_string(),
                    "must be 0 or more".into(),
                ))
            }
        };
        not_negative("stock_mt", self.stock_mt)?;
        not_negative("release_above_yuan", self.release_above_yuan)?;
        not_negative("release_mt", self.release_mt)?;
        not_negative("withhold_below_yuan", self.withhold_below_yuan)?;
        share(&key("withhold_share"), self.withhold_share)?;
        if self.release_mt > 0.0 {
            positive(&key("release_above_yuan"), self.release_above_yuan)?;
        }
        if self.release_mt > self.stock_mt {
            return Err(Bad(
                key("release_mt"),
                self.release_mt.to_string(),
                format!("is more than the stock_mt of {}", self.stock_mt),
            ));
        }
        if self.release_above_yuan > 0.0 && self.withhold_below_yuan >= self.release_above_yuan {
            return Err(Bad(
                key("withhold_below_yuan"),
                self.withhold_below_yuan.to_string(),
                format!(
                    "must be below release_above_yuan ({})",
                    self.release_above_yuan
                ),
            ));
        }
        Ok(())
    }

    /// The reserve in words, for the design sentence.
    #[must_use]
    pub fn sentence(&self) -> String {
        if !self.active() {
            return "no allowance reserve".to_owned();
        }
        let mut parts = vec![format!("an allowance reserve of {:.1} Mt", self.stock_mt)];
        if self.release_mt > 0.0 {
            parts.push(format!(
                "releasing up to {:.1} Mt an auction above {:.2} yuan/t",
                self.release_mt, self.release_above_yuan
            ));
        }
        if self.withhold_below_yuan > 0.0 && self.withhold_share > 0.0 {
            parts.push(format!(
                "withholding {:.0}% of an auction when the close is at or below {:.2} yuan/t",
                self.withhold_share * 100.0,
                self.withhold_below_yuan
            ));
        }
        parts.join(", ")
    }
}

/// `tonnes` rounded down to whole lots of `lot`.
fn whole_lots(tonnes: f64, lot: u64) -> u64 {
    let lot = lot.max(1);
    (tonnes.max(0.0) as u64 / lot) * lot
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reserve() -> ReserveDesign {
        ReserveDesign {
            stock_mt: 10.0,
            release_above_yuan: 80.0,
            release_mt: 2.0,
            withhold_below_yuan: 40.0,
            withhold_share: 0.5,
        }
    }

    #[test]
    fn a_low_close_withholds_and_offers_nothing_from_the_reserve() {
        let plan = reserve().plan(1_000_000, 35.0, 10_000_000, 1_000);
        assert_eq!(plan.withhold, 500_000);
        assert_eq!(plan.release_offer, 0);
    }

    #[test]
    fn otherwise_the_release_is_offered_up_to_what_the_reserve_holds() {
        let plan = reserve().plan(1_000_000, 60.0, 10_000_000, 1_000);
        assert_eq!(
            plan,
            ReservePlan {
                withhold: 0,
                release_offer: 2_000_000
            }
        );
        let plan = reserve().plan(1_000_000, 60.0, 1_500_500, 1_000);
        assert_eq!(plan.release_offer, 1_500_000);
    }

    #[test]
    fn no_close_yet_never_withholds() {
        assert_eq!(reserve().plan(1_000_000, 0.0, 0, 1_000).withhold, 0);
    }

    #[test]
    fn a_withholding_trigger_above_the_release_trigger_is_refused() {
        let mut bad = reserve();
        bad.withhold_below_yuan = 90.0;
        let Err(Bad(key, _, _)) = bad.validate("design.reserve") else {
            panic!("accepted");
        };
        assert_eq!(key, "design.reserve.withhold_below_yuan");
    }
}
