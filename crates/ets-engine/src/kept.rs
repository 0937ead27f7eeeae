//! The compact form in which the idempotency table keeps each request's
//! first outcome, and the instrument codes those forms name by number.
//!
//! The table keeps one outcome per remembered request (a million under the
//! default window), written when a command is applied and read only when
//! the same request id comes again, when a snapshot is written, or when the
//! request leaves the window. So the common outcomes are kept inline,
//! without heap data: a registry effect (almost every accepted registry
//! command) and the exchange's two busiest answers, an order entered and an
//! order closed. Before, every exchange outcome was cloned into a box: one
//! allocation (two with its trade list) per order (docs/benchmarks.md).
//! Any other outcome is still boxed. What [`KeptOutcome::outcome`] gives
//! back always equals the outcome kept, field for field.

use crate::command::{Effect, Outcome, Rejection};
use crate::exchange::ExchangeEffect;
use ets_market::OrderId;
use ets_model::{Code, Quantity};

/// How many instrument codes [`KeptInstruments`] numbers; the outcomes of
/// orders in any further instrument are boxed. A venue lists a handful of
/// instruments; the bound keeps the linear search short.
const KEPT_INSTRUMENTS_MAX: usize = 64;

/// The instrument codes named by kept outcomes, numbered in the order they
/// were first kept. Not state: it is never encoded, and two engines with
/// the same state may number their instruments differently.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KeptInstruments(Vec<Code>);

impl KeptInstruments {
    /// The number of `code`, numbering it if it is new; `None` once
    /// [`KEPT_INSTRUMENTS_MAX`] other codes are numbered.
    fn number_of(&mut self, code: Code) -> Option<u16> {
        let found = self.0.iter().position(|known| *known == code);
        let index = match found {
            Some(index) => index,
            None if self.0.len() < KEPT_INSTRUMENTS_MAX => {
                self.0.push(code);
                self.0.len() - 1
            }
            None => return None,
        };
        u16::try_from(index).ok()
    }

    /// The code numbered `number`.
    ///
    /// # Panics
    /// When no code has that number: a kept outcome names only numbered codes.
    fn code(&self, number: u16) -> Code {
        match self.0.get(usize::from(number)) {
            Some(code) => *code,
            None => {
                panic!("kept outcome names instrument number {number}, which was never numbered")
            }
        }
    }
}

/// A remembered outcome, kept small (32 bytes): see the module's comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeptOutcome {
    /// `Accepted(Registry(effect))`.
    Registry(ets_registry::Effect),
    /// `Accepted(Exchange(OrderEntered))` whose trades have consecutive ids
    /// (`first_trade`, `first_trade + 1`, ...; `first_trade` is 0 when there
    /// are none).
    OrderEntered {
        instrument: u16,
        trade_count: u16,
        order: OrderId,
        first_trade: u64,
        open: Quantity,
    },
    /// `Accepted(Exchange(OrderClosed))`.
    OrderClosed { instrument: u16, order: OrderId },
    /// Any other outcome.
    Other(Box<Outcome>),
}

impl KeptOutcome {
    /// The kept form of `outcome`, numbering its instrument in `instruments`
    /// when it names one.
    pub(crate) fn of(outcome: &Outcome, instruments: &mut KeptInstruments) -> KeptOutcome {
        let compact = match outcome {
            Outcome::Accepted(Effect::Registry(effect)) => Some(KeptOutcome::Registry(*effect)),
            Outcome::Accepted(Effect::Exchange(effect)) => Self::of_exchange(effect, instruments),
            Outcome::Accepted(_) | Outcome::Rejected(_) => None,
        };
        compact.unwrap_or_else(|| KeptOutcome::Other(Box::new(outcome.clone())))
    }

    /// The inline form of an exchange effect, when it has one.
    fn of_exchange(
        effect: &ExchangeEffect,
        instruments: &mut KeptInstruments,
    ) -> Option<KeptOutcome> {
        match effect {
            ExchangeEffect::OrderEntered {
                instrument,
                order,
                trades,
                open,
            } => {
                let trade_count = u16::try_from(trades.len()).ok()?;
                let first_trade = trades.first().copied().unwrap_or(0);
                let consecutive = trades
                    .iter()
                    .zip(first_trade..)
                    .all(|(&trade, expected)| trade == expected);
                if !consecutive {
                    return None;
                }
                Some(KeptOutcome::OrderEntered {
                    instrument: instruments.number_of(*instrument)?,
                    trade_count,
                    order: *order,
                    first_trade,
                    open: *open,
                })
            }
            ExchangeEffect::OrderClosed { instrument, order } => Some(KeptOutcome::OrderClosed {
                instrument: instruments.number_of(*instrument)?,
                order: *order,
            }),
            _ => None,
        }
    }

    /// The outcome as it was given; `instruments` is the table
    /// [`KeptOutcome::of`] numbered its instrument in.
    pub(crate) fn outcome(&self, instruments: &KeptInstruments) -> Outcome {
        let effect = match self {
            KeptOutcome::Registry(effect) => Effect::Registry(*effect),
            KeptOutcome::OrderEntered {
                instrument,
                trade_count,
                order,
                first_trade,
                open,
            } => Effect::Exchange(ExchangeEffect::OrderEntered {
                instrument: instruments.code(*instrument),
                order: *order,
                trades: (*first_trade..).take(usize::from(*trade_count)).collect(),
                open: *open,
            }),
            KeptOutcome::OrderClosed { instrument, order } => {
                Effect::Exchange(ExchangeEffect::OrderClosed {
                    instrument: instruments.code(*instrument),
                    order: *order,
                })
            }
            KeptOutcome::Other(outcome) => return outcome.as_ref().clone(),
        };
        Outcome::Accepted(effect)
    }

    /// The refusal, when the outcome was one.
    pub(crate) fn rejection_mut(&mut self) -> Option<&mut Rejection> {
        match self {
            KeptOutcome::Other(outcome) => match outcome.as_mut() {
                Outcome::Rejected(rejection) => Some(rejection),
                Outcome::Accepted(_) => None,
            },
            KeptOutcome::Registry(_)
            | KeptOutcome::OrderEntered { .. }
            | KeptOutcome::OrderClosed { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ets_model::{AccountId, TransactionId};
    use ets_registry::TransactionStatus;

    fn code(text: &str) -> Code {
        Code::try_new(text).expect("a valid code")
    }

    fn entered(instrument: &str, trades: Vec<u64>) -> Outcome {
        Outcome::Accepted(Effect::Exchange(ExchangeEffect::OrderEntered {
            instrument: code(instrument),
            order: OrderId(41),
            trades,
            open: Quantity::new(7),
        }))
    }

    /// Keeps `outcome` and gives back what a duplicate would be answered with.
    fn round_trip(outcome: &Outcome, instruments: &mut KeptInstruments) -> (KeptOutcome, Outcome) {
        let kept = KeptOutcome::of(outcome, instruments);
        let answer = kept.outcome(instruments);
        (kept, answer)
    }

    #[test]
    fn a_kept_outcome_stays_within_32_bytes() {
        assert!(std::mem::size_of::<KeptOutcome>() <= 32);
    }

    #[test]
    fn orders_entered_and_closed_are_kept_inline_and_given_back_unchanged() {
        let mut instruments = KeptInstruments::default();
        let closed = Outcome::Accepted(Effect::Exchange(ExchangeEffect::OrderClosed {
            instrument: code("CEA22"),
            order: OrderId(9),
        }));
        for outcome in [
            entered("CEA21", vec![]),
            entered("CEA21", vec![5]),
            entered("CEA22", vec![17, 18, 19, 20]),
            closed,
        ] {
            let (kept, answer) = round_trip(&outcome, &mut instruments);
            assert!(!matches!(kept, KeptOutcome::Other(_)), "{kept:?}");
            assert_eq!(answer, outcome);
        }
        // Each instrument was numbered once.
        assert_eq!(instruments.0, vec![code("CEA21"), code("CEA22")]);
    }

    #[test]
    fn outcomes_without_an_inline_form_are_boxed_and_given_back_unchanged() {
        let mut instruments = KeptInstruments::default();
        let many: Vec<u64> = (1..=u64::from(u16::MAX) + 1).collect();
        let rejected = Outcome::Rejected(Rejection {
            code: "price_outside_band".to_owned(),
            message: "price 61.00 is outside the band".to_owned(),
        });
        let cash = Outcome::Accepted(Effect::Exchange(ExchangeEffect::CashUpdated {
            account: AccountId(3),
            balance: Default::default(),
        }));
        for outcome in [
            entered("CEA21", vec![4, 6]),
            entered("CEA21", vec![9, 8]),
            entered("CEA21", many),
            rejected,
            cash,
        ] {
            let (kept, answer) = round_trip(&outcome, &mut instruments);
            assert!(matches!(kept, KeptOutcome::Other(_)), "{kept:?}");
            assert_eq!(answer, outcome);
        }
        let registry = Outcome::Accepted(Effect::Registry(ets_registry::Effect::Transaction {
            id: TransactionId(12),
            status: TransactionStatus::Completed,
        }));
        let (kept, answer) = round_trip(&registry, &mut instruments);
        assert!(matches!(kept, KeptOutcome::Registry(_)));
        assert_eq!(answer, registry);
    }

    #[test]
    fn instruments_beyond_the_bound_are_boxed_and_the_numbered_ones_still_answer() {
        let mut instruments = KeptInstruments::default();
        let first = entered("I0", vec![1]);
        let (kept_first, _) = round_trip(&first, &mut instruments);
        for number in 1..KEPT_INSTRUMENTS_MAX {
            round_trip(&entered(&format!("I{number}"), vec![]), &mut instruments);
        }
        let beyond = entered("BEYOND", vec![2, 3]);
        let (kept, answer) = round_trip(&beyond, &mut instruments);
        assert!(matches!(kept, KeptOutcome::Other(_)), "{kept:?}");
        assert_eq!(answer, beyond);
        assert_eq!(kept_first.outcome(&instruments), first);
    }
}
