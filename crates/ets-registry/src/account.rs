//! Registry accounts: their kinds, statuses and what each status allows, and
//! the representatives and approval rule that govern who may move units.

use crate::holding::Holding;
use ets_model::{AccountId, ParticipantId, Quantity, Timestamp};
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

/// An account's representatives; the usual one or two inside the account, so
/// checking who may move units reads no memory of its own (a cache miss per
/// transfer, docs/benchmarks.md). Encoded as a `Vec` is.
pub type Representatives = SmallVec<[ParticipantId; 2]>;

/// An account's holdings per unit class; the usual one inside the account,
/// so a transfer reaches the holding without another cache miss. Encoded as
/// a `Vec` is.
pub(crate) type Holdings = SmallVec<[(u32, Holding); 1]>;

/// The most representatives one account may have.
pub const REPRESENTATIVES_MAX: usize = 16;

/// What an account is for. The system kinds (all but operator holding and
/// trading) exist once per registry and are held by the administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AccountKind {
    /// National issuance account: new units are issued into it.
    Issuance,
    /// Holds units set aside for free allocation.
    Allocation,
    /// Holds units to be sold at auction.
    Auction,
    /// A covered entity's compliance account (one per covered entity).
    OperatorHolding,
    /// A trading account (one per participant).
    Trading,
    /// Receives surrendered units; they never leave except by reversal.
    Surrender,
    /// Receives voluntarily retired units; they never leave.
    Retirement,
    /// Receives cancelled units; they never leave.
    Cancellation,
}

impl AccountKind {
    /// The snake_case name used in commands and reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            AccountKind::Issuance => "issuance",
            AccountKind::Allocation => "allocation",
            AccountKind::Auction => "auction",
            AccountKind::OperatorHolding => "operator_holding",
            AccountKind::Trading => "trading",
            AccountKind::Surrender => "surrender",
            AccountKind::Retirement => "retirement",
            AccountKind::Cancellation => "cancellation",
        }
    }

    /// Every kind, for parsing and help texts.
    pub const ALL: [AccountKind; 8] = [
        AccountKind::Issuance,
        AccountKind::Allocation,
        AccountKind::Auction,
        AccountKind::OperatorHolding,
        AccountKind::Trading,
        AccountKind::Surrender,
        AccountKind::Retirement,
        AccountKind::Cancellation,
    ];

    /// Whether the registry has exactly one account of this kind, held by the administrator.
    #[must_use]
    pub fn is_system(self) -> bool {
        !matches!(self, AccountKind::OperatorHolding | AccountKind::Trading)
    }

    /// Whether units that arrive here are out of circulation for good
    /// (surrender, retirement, cancellation): plain transfers may not target them.
    #[must_use]
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            AccountKind::Surrender | AccountKind::Retirement | AccountKind::Cancellation
        )
    }
}

/// Where an account is in its life (EU Delegated Regulation 2019/1122 Art. 9, simplified).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AccountStatus {
    /// Everything allowed.
    Open,
    /// Can receive units and surrender, but cannot transfer or retire.
    Blocked,
    /// Final: nothing in or out, never reopened. Only an empty account can close.
    Closed,
}

impl AccountStatus {
    /// The snake_case name used in commands and reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            AccountStatus::Open => "open",
            AccountStatus::Blocked => "blocked",
            AccountStatus::Closed => "closed",
        }
    }

    /// Whether units may be sent by transfer or retirement.
    #[must_use]
    pub fn may_send(self) -> bool {
        self == AccountStatus::Open
    }

    /// Whether units may be surrendered (a blocked company must still be able to comply).
    #[must_use]
    pub fn may_surrender(self) -> bool {
        self != AccountStatus::Closed
    }

    /// Whether units may arrive.
    #[must_use]
    pub fn may_receive(self) -> bool {
        self != AccountStatus::Closed
    }
}

/// Who may act on an account and how many of them must agree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRule {
    /// The representatives, sorted, no duplicates, at least one.
    pub representatives: Representatives,
    /// How many distinct representatives must sign, the proposer included:
    /// 1 = no approval step, 2 = four eyes.
    pub approvals_required: u8,
}

impl ApprovalRule {
    /// Whether `participant` represents the account.
    #[must_use]
    pub fn is_representative(&self, participant: ParticipantId) -> bool {
        self.representatives.binary_search(&participant).is_ok()
    }
}

/// A registry account and its holdings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Its id.
    pub id: AccountId,
    /// What it is for.
    pub kind: AccountKind,
    /// The participant who owns it.
    pub holder: ParticipantId,
    /// Its status.
    pub status: AccountStatus,
    /// Its representatives and approval rule.
    pub rule: ApprovalRule,
    /// When it was opened.
    pub opened_at: Timestamp,
    /// Holdings per interned unit class index, sorted by class index.
    pub(crate) holdings: Holdings,
}

impl Account {
    /// The holding of class `class_index`, if the account ever held any.
    #[must_use]
    pub fn holding(&self, class_index: u32) -> Option<&Holding> {
        self.holdings
            .binary_search_by_key(&class_index, |(index, _)| *index)
            .ok()
            .map(|position| &self.holdings[position].1)
    }

    pub(crate) fn holding_mut(&mut self, class_index: u32) -> Option<&mut Holding> {
        self.holdings
            .binary_search_by_key(&class_index, |(index, _)| *index)
            .ok()
            .map(|position| &mut self.holdings[position].1)
    }

    pub(crate) fn holding_entry(&mut self, class_index: u32) -> &mut Holding {
        let position = match self
            .holdings
            .binary_search_by_key(&class_index, |(index, _)| *index)
        {
            Ok(position) => position,
            Err(position) => {
                self.holdings
                    .insert(position, (class_index, Holding::default()));
                position
            }
        };
        &mut self.holdings[position].1
    }

    /// Units of class `class_index` free to move.
    #[must_use]
    pub fn available(&self, class_index: u32) -> Quantity {
        self.holding(class_index)
            .map_or(Quantity::ZERO, Holding::available)
    }

    /// The account's holdings as (class index, holding), by class index.
    pub fn holdings(&self) -> impl Iterator<Item = (u32, &Holding)> {
        self.holdings
            .iter()
            .map(|(index, holding)| (*index, holding))
    }

    /// Whether the account holds no units at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.holdings
            .iter()
            .all(|(_, holding)| holding.total().is_zero())
    }
}
