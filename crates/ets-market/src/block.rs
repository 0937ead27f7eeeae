//! China's block agreement (大宗协议, docs/sources.md#cn-exchange): one party proposes a
//! trade of 100,000 t or more, within ±30% of the previous close, to a named
//! counterparty; the counterparty accepts (the trade is done at the proposed
//! price and quantity) or declines; the proposer may withdraw; proposals
//! expire at the time the caller gives (the end of the session). Haggling is
//! a decline followed by a new proposal.

use crate::error::MarketError;
use crate::order::{Fill, OrderId, Side};
use crate::rules::InstrumentRules;
use ets_model::{AccountId, Price, Quantity, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A new block proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalRequest {
    /// Who proposes.
    pub proposer: AccountId,
    /// The only account that may accept.
    pub counterparty: AccountId,
    /// The proposer's side: `Sell` offers units to the counterparty.
    pub side: Side,
    /// The price per tonne.
    pub price: Price,
    /// The tonnes.
    pub quantity: Quantity,
    /// When it lapses (the end of the session); after the time of the call.
    pub expires_at: Timestamp,
}

/// An open block proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// Its id (the fill's `maker_order`).
    pub id: OrderId,
    /// Who proposed.
    pub proposer: AccountId,
    /// Who may accept.
    pub counterparty: AccountId,
    /// The proposer's side.
    pub side: Side,
    /// The price per tonne.
    pub price: Price,
    /// The tonnes.
    pub quantity: Quantity,
    /// When it was made.
    pub proposed_at: Timestamp,
    /// When it lapses.
    pub expires_at: Timestamp,
}

/// How a proposal ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProposalState {
    /// The counterparty accepted: a trade.
    Accepted,
    /// The counterparty declined.
    Declined,
    /// The proposer withdrew it.
    Withdrawn,
    /// It lapsed at the end of the session.
    Expired,
}

/// The end of one proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalUpdate {
    /// The proposal as it was.
    pub proposal: Proposal,
    /// How it ended.
    pub state: ProposalState,
    /// When.
    pub at: Timestamp,
}

/// The block-agreement desk of one instrument: open proposals by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockDesk {
    rules: InstrumentRules,
    reference_price: Price,
    proposals: BTreeMap<OrderId, Proposal>,
    open_by_proposer: BTreeMap<AccountId, u32>,
    next_id: u64,
    last_time: Timestamp,
}

impl BlockDesk {
    /// An empty desk; use [`InstrumentRules::CHINA_BLOCK`] for China's rules.
    /// `limits.max_open_orders_per_account` bounds one proposer's open
    /// proposals and `limits.max_orders` the desk's.
    ///
    /// # Errors
    /// [`MarketError::InvalidRules`]; [`MarketError::NonPositivePrice`] for a
    /// zero reference price under a band.
    pub fn new(rules: InstrumentRules, reference_price: Price) -> Result<BlockDesk, MarketError> {
        rules.validate()?;
        let mut desk = BlockDesk {
            rules,
            reference_price,
            proposals: BTreeMap::new(),
            open_by_proposer: BTreeMap::new(),
            next_id: 1,
            last_time: Timestamp(i64::MIN),
        };
        desk.set_reference_price(reference_price)?;
        Ok(desk)
    }

    /// Moves the band to a new reference price (the previous close). Open
    /// proposals keep their prices.
    ///
    /// # Errors
    /// [`MarketError::NonPositivePrice`] when the rules have a band and
    /// `price` is zero.
    pub fn set_reference_price(&mut self, price: Price) -> Result<(), MarketError> {
        if self.rules.price_band_bps.is_some() && price.ticks() <= 0 {
            return Err(MarketError::NonPositivePrice {
                price_ticks: price.ticks(),
            });
        }
        self.reference_price = price;
        Ok(())
    }

    /// An open proposal.
    #[must_use]
    pub fn proposal(&self, id: OrderId) -> Option<&Proposal> {
        self.proposals.get(&id)
    }

    /// Every open proposal, in id order.
    pub fn proposals(&self) -> impl Iterator<Item = &Proposal> {
        self.proposals.values()
    }

    /// Makes a proposal to a named counterparty.
    ///
    /// # Errors
    /// [`MarketError::TimeWentBackwards`], [`MarketError::SelfTrade`]
    /// (proposing to oneself), quantity and price refusals,
    /// [`MarketError::ExpiryNotInFuture`], [`MarketError::TooManyOpenOrders`]
    /// or [`MarketError::BookFull`].
    pub fn propose(
        &mut self,
        request: &ProposalRequest,
        now: Timestamp,
    ) -> Result<OrderId, MarketError> {
        self.check_time(now)?;
        if request.proposer == request.counterparty {
            return Err(MarketError::SelfTrade {
                trader: request.proposer,
            });
        }
        self.rules.check_quantity(request.quantity)?;
        self.rules
            .check_price(request.price, self.reference_price)?;
        if request.expires_at <= now {
            return Err(MarketError::ExpiryNotInFuture {
                expires_at_ms: request.expires_at.unix_ms(),
                now_ms: now.unix_ms(),
            });
        }
        self.check_capacity(request.proposer)?;
        self.check_id_space()?;
        // Validated: from here on nothing can fail.
        self.last_time = now;
        let id = OrderId(self.next_id);
        self.next_id += 1;
        self.proposals.insert(
            id,
            Proposal {
                id,
                proposer: request.proposer,
                counterparty: request.counterparty,
                side: request.side,
                price: request.price,
                quantity: request.quantity,
                proposed_at: now,
                expires_at: request.expires_at,
            },
        );
        *self.open_by_proposer.entry(request.proposer).or_insert(0) += 1;
        Ok(id)
    }

    /// The named counterparty accepts: the trade is done at the proposed
    /// price and quantity. The fill's `maker_order` is the proposal and its
    /// `taker_order` a new id for the acceptance.
    ///
    /// # Errors
    /// [`MarketError::TimeWentBackwards`], [`MarketError::UnknownProposal`],
    /// [`MarketError::NotCounterparty`] or [`MarketError::ProposalExpired`].
    pub fn accept(
        &mut self,
        trader: AccountId,
        proposal: OrderId,
        now: Timestamp,
    ) -> Result<(Fill, ProposalUpdate), MarketError> {
        let open = self.check_answer(trader, proposal, now)?;
        self.check_id_space()?;
        let update = self.close(open, ProposalState::Accepted, now);
        let acceptance = OrderId(self.next_id);
        self.next_id += 1;
        let (buyer, seller) = match open.side {
            Side::Buy => (open.proposer, open.counterparty),
            Side::Sell => (open.counterparty, open.proposer),
        };
        let fill = Fill {
            maker_order: open.id,
            taker_order: acceptance,
            buyer,
            seller,
            price: open.price,
            quantity: open.quantity,
            at: now,
            aggressor: open.side.opposite(),
        };
        Ok((fill, update))
    }

    /// The named counterparty declines.
    ///
    /// # Errors
    /// As [`BlockDesk::accept`].
    pub fn decline(
        &mut self,
        trader: AccountId,
        proposal: OrderId,
        now: Timestamp,
    ) -> Result<ProposalUpdate, MarketError> {
        let open = self.check_answer(trader, proposal, now)?;
        Ok(self.close(open, ProposalState::Declined, now))
    }

    /// The proposer withdraws its proposal.
    ///
    /// # Errors
    /// [`MarketError::TimeWentBackwards`], [`MarketError::UnknownProposal`]
    /// or [`MarketError::NotOwner`].
    pub fn withdraw(
        &mut self,
        trader: AccountId,
        proposal: OrderId,
        now: Timestamp,
    ) -> Result<ProposalUpdate, MarketError> {
        self.check_time(now)?;
        let open = *self
            .proposals
            .get(&proposal)
            .ok_or(MarketError::UnknownProposal(proposal))?;
        if open.proposer != trader {
            return Err(MarketError::NotOwner {
                order: proposal,
                owner: open.proposer,
                trader,
            });
        }
        Ok(self.close(open, ProposalState::Withdrawn, now))
    }

    /// Closes every proposal whose expiry is at or before `now`, in id order.
    ///
    /// # Errors
    /// [`MarketError::TimeWentBackwards`].
    pub fn expire(&mut self, now: Timestamp) -> Result<Vec<ProposalUpdate>, MarketError> {
        self.check_time(now)?;
        let due: Vec<Proposal> = self
            .proposals
            .values()
            .filter(|proposal| proposal.expires_at <= now)
            .copied()
            .collect();
        Ok(due
            .into_iter()
            .map(|proposal| self.close(proposal, ProposalState::Expired, now))
            .collect())
    }

    fn check_time(&self, now: Timestamp) -> Result<(), MarketError> {
        if now < self.last_time {
            return Err(MarketError::TimeWentBackwards {
                now_ms: now.unix_ms(),
                last_ms: self.last_time.unix_ms(),
            });
        }
        Ok(())
    }

    fn check_id_space(&self) -> Result<(), MarketError> {
        if self.next_id == u64::MAX {
            return Err(MarketError::Overflow("proposal ids"));
        }
        Ok(())
    }

    fn check_capacity(&self, proposer: AccountId) -> Result<(), MarketError> {
        let limits = &self.rules.limits;
        let open = self.open_by_proposer.get(&proposer).copied().unwrap_or(0);
        if open >= limits.max_open_orders_per_account {
            return Err(MarketError::TooManyOpenOrders {
                trader: proposer,
                limit: limits.max_open_orders_per_account,
            });
        }
        if self.proposals.len() >= usize::try_from(limits.max_orders).unwrap_or(usize::MAX) {
            return Err(MarketError::BookFull {
                limit: limits.max_orders,
            });
        }
        Ok(())
    }

    /// Validates an answer by the counterparty before the session ends.
    fn check_answer(
        &self,
        trader: AccountId,
        proposal: OrderId,
        now: Timestamp,
    ) -> Result<Proposal, MarketError> {
        self.check_time(now)?;
        let open = *self
            .proposals
            .get(&proposal)
            .ok_or(MarketError::UnknownProposal(proposal))?;
        if open.counterparty != trader {
            return Err(MarketError::NotCounterparty {
                proposal,
                counterparty: open.counterparty,
                trader,
            });
        }
        if open.expires_at <= now {
            return Err(MarketError::ProposalExpired {
                proposal,
                expires_at_ms: open.expires_at.unix_ms(),
            });
        }
        Ok(open)
    }

    fn close(
        &mut self,
        proposal: Proposal,
        state: ProposalState,
        now: Timestamp,
    ) -> ProposalUpdate {
        self.last_time = now;
        self.proposals.remove(&proposal.id);
        let emptied = match self.open_by_proposer.get_mut(&proposal.proposer) {
            Some(count) => {
                *count = count.saturating_sub(1);
                *count == 0
            }
            None => false,
        };
        if emptied {
            self.open_by_proposer.remove(&proposal.proposer);
        }
        ProposalUpdate {
            proposal,
            state,
            at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SESSION_END: Timestamp = Timestamp(1_000);

    fn price(ticks: i64) -> Price {
        Price::try_new(ticks).expect("test prices are non-negative")
    }

    fn desk() -> BlockDesk {
        BlockDesk::new(InstrumentRules::CHINA_BLOCK, price(5_000)).expect("block rules are valid")
    }

    fn request(ticks: i64, tonnes: u64) -> ProposalRequest {
        ProposalRequest {
            proposer: AccountId(1),
            counterparty: AccountId(2),
            side: Side::Sell,
            price: price(ticks),
            quantity: Quantity::new(tonnes),
            expires_at: SESSION_END,
        }
    }

    #[test]
    fn accepted_proposal_trades_its_full_quantity_at_its_price() {
        // Goal: acceptance by the named counterparty makes one fill, seller
        // the proposer (it sold), and closes the proposal.
        let mut desk = desk();
        let id = desk
            .propose(&request(6_000, 150_000), Timestamp(1))
            .unwrap();
        let (fill, update) = desk.accept(AccountId(2), id, Timestamp(2)).unwrap();
        assert_eq!((fill.buyer, fill.seller), (AccountId(2), AccountId(1)));
        assert_eq!(
            (fill.price, fill.quantity),
            (price(6_000), Quantity::new(150_000))
        );
        assert_eq!(fill.maker_order, id);
        assert_ne!(fill.taker_order, id);
        assert_eq!(update.state, ProposalState::Accepted);
        assert_eq!(desk.proposal(id), None);
    }

    #[test]
    fn block_below_100000_tonnes_or_outside_thirty_percent_is_refused() {
        // Goal: the block agreement's size floor and ±30% band; nothing changes.
        let mut desk = desk();
        let before = desk.clone();
        let error = desk
            .propose(&request(5_000, 99_999), Timestamp(1))
            .unwrap_err();
        assert_eq!(error.code(), "below_minimum_quantity");
        assert!(error.to_string().contains("99999"));
        let error = desk
            .propose(&request(6_501, 100_000), Timestamp(1))
            .unwrap_err();
        assert_eq!(error.code(), "outside_price_band");
        let mut to_self = request(5_000, 100_000);
        to_self.counterparty = AccountId(1);
        let error = desk.propose(&to_self, Timestamp(1)).unwrap_err();
        assert_eq!(error.code(), "self_trade");
        assert_eq!(desk, before);
        // The band's edges themselves are allowed: 35.00 and 65.00 yuan.
        assert!(desk.propose(&request(3_500, 100_000), Timestamp(1)).is_ok());
        assert!(desk.propose(&request(6_500, 100_000), Timestamp(1)).is_ok());
    }

    #[test]
    fn only_the_named_counterparty_may_accept_or_decline() {
        // Goal: a third party is refused (nothing changes); the counterparty's
        // decline closes the proposal without a trade.
        let mut desk = desk();
        let id = desk
            .propose(&request(5_000, 100_000), Timestamp(1))
            .unwrap();
        let before = desk.clone();
        let error = desk.accept(AccountId(3), id, Timestamp(2)).unwrap_err();
        assert_eq!(error.code(), "not_counterparty");
        let error = desk.decline(AccountId(1), id, Timestamp(2)).unwrap_err();
        assert_eq!(error.code(), "not_counterparty");
        assert_eq!(desk, before);
        let update = desk.decline(AccountId(2), id, Timestamp(2)).unwrap();
        assert_eq!(update.state, ProposalState::Declined);
        assert_eq!(
            desk.accept(AccountId(2), id, Timestamp(3))
                .map_err(|e| e.code()),
            Err("unknown_proposal")
        );
    }

    #[test]
    fn only_the_proposer_may_withdraw() {
        // Goal: withdrawal by the counterparty is refused; by the proposer it closes.
        let mut desk = desk();
        let id = desk
            .propose(&request(5_000, 100_000), Timestamp(1))
            .unwrap();
        let error = desk.withdraw(AccountId(2), id, Timestamp(2)).unwrap_err();
        assert_eq!(error.code(), "not_owner");
        let update = desk.withdraw(AccountId(1), id, Timestamp(2)).unwrap();
        assert_eq!(update.state, ProposalState::Withdrawn);
        assert_eq!(desk.proposals().count(), 0);
    }

    #[test]
    fn proposals_expire_at_session_end_and_late_acceptance_is_refused() {
        // Goal: at the session end an acceptance is refused (changing nothing)
        // and `expire` closes the proposal.
        let mut desk = desk();
        let id = desk
            .propose(&request(5_000, 100_000), Timestamp(1))
            .unwrap();
        let later = desk
            .propose(
                &ProposalRequest {
                    expires_at: Timestamp(2_000),
                    ..request(5_000, 100_000)
                },
                Timestamp(1),
            )
            .unwrap();
        let before = desk.clone();
        let error = desk.accept(AccountId(2), id, SESSION_END).unwrap_err();
        assert_eq!(error.code(), "proposal_expired");
        assert_eq!(desk, before);
        let expired = desk.expire(SESSION_END).unwrap();
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].proposal.id, id);
        assert_eq!(expired[0].state, ProposalState::Expired);
        assert!(desk.proposal(later).is_some());
        let error = desk
            .propose(&request(5_000, 100_000), Timestamp(1_000))
            .unwrap_err();
        assert_eq!(error.code(), "expiry_not_in_future");
    }

    #[test]
    fn proposer_limit_is_enforced() {
        // Goal: one proposer cannot hold more open proposals than allowed.
        let mut rules = InstrumentRules::CHINA_BLOCK;
        rules.limits.max_open_orders_per_account = 1;
        let mut desk = BlockDesk::new(rules, price(5_000)).unwrap();
        desk.propose(&request(5_000, 100_000), Timestamp(1))
            .unwrap();
        let before = desk.clone();
        let error = desk
            .propose(&request(5_000, 100_000), Timestamp(1))
            .unwrap_err();
        assert_eq!(error.code(), "too_many_open_orders");
        assert_eq!(desk, before);
    }
}
