//! Unit tests for every transaction type and every refusal. Each refusal
//! test also checks that the registry is unchanged afterwards.

use crate::*;
use ets_model::{
    AccountId, Code, ParticipantId, Quantity, Timestamp, TransactionId, UnitClass, Vintage,
};

const ADMIN: ParticipantId = ParticipantId(1);
const ADMIN_2: ParticipantId = ParticipantId(2);
const PLANT: ParticipantId = ParticipantId(10);
const PLANT_CLERK: ParticipantId = ParticipantId(11);
const PLANT_MANAGER: ParticipantId = ParticipantId(12);
const TRADER: ParticipantId = ParticipantId(20);
const VERIFIER: ParticipantId = ParticipantId(30);

const ISSUANCE: AccountId = AccountId(1);
const SURRENDER: AccountId = AccountId(2);
const RETIREMENT: AccountId = AccountId(3);
const CANCELLATION: AccountId = AccountId(4);
const PLANT_OHA: AccountId = AccountId(100);
const TRADER_ACCOUNT: AccountId = AccountId(200);

fn cea(vintage: u16) -> UnitClass {
    UnitClass::Allowance {
        scheme: Code::try_new("CEA").unwrap(),
        vintage: Vintage(vintage),
    }
}

fn q(tonnes: u64) -> Quantity {
    Quantity::new(tonnes)
}

/// A small registry harness: every command is run with an increasing time.
struct Harness {
    registry: Registry,
    clock: i64,
}

impl Harness {
    fn run(
        &mut self,
        requester: ParticipantId,
        command: RegistryCommand,
    ) -> Result<Effect, RegistryError> {
        self.clock += 1_000;
        let context = Context {
            requester,
            at: Timestamp(self.clock),
        };
        let result = self.registry.execute(context, &command);
        self.registry
            .check_invariants()
            .expect("invariants hold after every command");
        result
    }

    fn ok(&mut self, requester: ParticipantId, command: RegistryCommand) -> Effect {
        self.run(requester, command).expect("command accepted")
    }

    /// Runs a command that must be refused with `code`, and checks nothing changed.
    fn refused(
        &mut self,
        requester: ParticipantId,
        command: RegistryCommand,
        code: &str,
    ) -> RegistryError {
        let before = self.registry.clone();
        let error = self.run(requester, command).expect_err("command refused");
        assert_eq!(error.code(), code, "{error}");
        assert_eq!(
            self.registry, before,
            "a refused command changed the registry"
        );
        error
    }

    fn tx(
        &mut self,
        requester: ParticipantId,
        command: RegistryCommand,
    ) -> (TransactionId, TransactionStatus) {
        match self.ok(requester, command) {
            Effect::Transaction { id, status } => (id, status),
            other => panic!("expected a transaction, got {other:?}"),
        }
    }

    fn available(&self, account: AccountId, class: UnitClass) -> u64 {
        let index = self.registry.class_index(&class).unwrap();
        self.registry
            .account(account)
            .unwrap()
            .available(index)
            .tonnes()
    }

    fn total(&self, account: AccountId, class: UnitClass) -> u64 {
        let index = self.registry.class_index(&class).unwrap();
        self.registry
            .account(account)
            .unwrap()
            .holding(index)
            .map_or(0, |h| h.total().tonnes())
    }
}

fn participant(id: ParticipantId, kind: ParticipantKind, name: &str) -> RegistryCommand {
    RegistryCommand::RegisterParticipant {
        id,
        kind,
        name: name.to_owned(),
    }
}

fn open(
    id: AccountId,
    kind: AccountKind,
    holder: ParticipantId,
    reps: &[ParticipantId],
    required: u8,
) -> RegistryCommand {
    RegistryCommand::OpenAccount {
        id,
        kind,
        holder,
        representatives: reps.to_vec(),
        approvals_required: required,
    }
}

fn transfer(from: AccountId, to: AccountId, tonnes: u64) -> RegistryCommand {
    RegistryCommand::Transfer {
        from,
        to,
        class: cea(2021),
        quantity: q(tonnes),
    }
}

/// A registry with an administrator, the system accounts, a covered entity
/// whose account needs two signatures, a trader, and 1,000 CEA-2021 allocated to the plant.
fn harness() -> Harness {
    let mut h = Harness {
        registry: Registry::new(),
        clock: 0,
    };
    h.ok(
        ADMIN,
        participant(
            ADMIN,
            ParticipantKind::Administrator,
            "Registry administrator",
        ),
    );
    h.ok(
        ADMIN,
        participant(
            ADMIN_2,
            ParticipantKind::Administrator,
            "Second administrator",
        ),
    );
    h.ok(
        ADMIN,
        participant(PLANT, ParticipantKind::CoveredEntity, "Huaneng Plant 1"),
    );
    h.ok(
        ADMIN,
        participant(PLANT_CLERK, ParticipantKind::Individual, "Clerk"),
    );
    h.ok(
        ADMIN,
        participant(PLANT_MANAGER, ParticipantKind::Individual, "Manager"),
    );
    h.ok(
        ADMIN,
        participant(TRADER, ParticipantKind::Institution, "Carbon Fund"),
    );
    h.ok(
        ADMIN,
        participant(VERIFIER, ParticipantKind::Verifier, "Verifier Co"),
    );
    h.ok(
        ADMIN,
        open(ISSUANCE, AccountKind::Issuance, ADMIN, &[ADMIN, ADMIN_2], 1),
    );
    h.ok(
        ADMIN,
        open(SURRENDER, AccountKind::Surrender, ADMIN, &[ADMIN], 1),
    );
    h.ok(
        ADMIN,
        open(RETIREMENT, AccountKind::Retirement, ADMIN, &[ADMIN], 1),
    );
    h.ok(
        ADMIN,
        open(CANCELLATION, AccountKind::Cancellation, ADMIN, &[ADMIN], 1),
    );
    h.ok(
        ADMIN,
        open(
            PLANT_OHA,
            AccountKind::OperatorHolding,
            PLANT,
            &[PLANT_CLERK, PLANT_MANAGER],
            2,
        ),
    );
    h.ok(
        ADMIN,
        open(TRADER_ACCOUNT, AccountKind::Trading, TRADER, &[TRADER], 1),
    );
    h.tx(
        ADMIN,
        RegistryCommand::Issue {
            class: cea(2021),
            quantity: q(10_000),
        },
    );
    h.tx(
        ADMIN,
        RegistryCommand::Allocate {
            to: PLANT_OHA,
            class: cea(2021),
            quantity: q(1_000),
        },
    );
    h
}

#[test]
fn issue_creates_a_new_serial_range_in_the_issuance_account() {
    let mut h = harness();
    let (id, status) = h.tx(
        ADMIN,
        RegistryCommand::Issue {
            class: cea(2022),
            quantity: q(500),
        },
    );
    assert_eq!(status, TransactionStatus::Completed);
    let t = h.registry.transaction(id).unwrap();
    assert_eq!(t.blocks.len(), 1);
    assert_eq!((t.blocks[0].start(), t.blocks[0].end()), (10_001, 10_500));
    assert_eq!(h.total(ISSUANCE, cea(2022)), 500);
    assert_eq!(h.registry.next_serial(), 10_501);
}

#[test]
fn allocation_moves_the_oldest_serials_to_the_operator() {
    let h = harness();
    assert_eq!(h.total(PLANT_OHA, cea(2021)), 1_000);
    assert_eq!(h.total(ISSUANCE, cea(2021)), 9_000);
    let index = h.registry.class_index(&cea(2021)).unwrap();
    let blocks: Vec<_> = h
        .registry
        .account(PLANT_OHA)
        .unwrap()
        .holding(index)
        .unwrap()
        .blocks()
        .collect();
    assert_eq!((blocks[0].start(), blocks[0].end()), (1, 1_000));
}

#[test]
fn four_eyes_transfer_waits_for_a_second_representative() {
    let mut h = harness();
    let (id, status) = h.tx(PLANT_CLERK, transfer(PLANT_OHA, TRADER_ACCOUNT, 300));
    assert_eq!(status, TransactionStatus::AwaitingApproval);
    assert_eq!(
        h.available(PLANT_OHA, cea(2021)),
        700,
        "units are reserved while waiting"
    );
    assert_eq!(h.total(PLANT_OHA, cea(2021)), 1_000);
    h.refused(
        PLANT_CLERK,
        RegistryCommand::Approve { transaction: id },
        "self_approval",
    );
    h.refused(
        TRADER,
        RegistryCommand::Approve { transaction: id },
        "not_representative",
    );
    let (_, status) = h.tx(PLANT_MANAGER, RegistryCommand::Approve { transaction: id });
    assert_eq!(status, TransactionStatus::Completed);
    assert_eq!(h.total(TRADER_ACCOUNT, cea(2021)), 300);
    assert_eq!(h.total(PLANT_OHA, cea(2021)), 700);
    let statuses: Vec<_> = h
        .registry
        .transaction(id)
        .unwrap()
        .history
        .iter()
        .map(|c| c.status)
        .collect();
    assert_eq!(
        statuses,
        [
            TransactionStatus::Proposed,
            TransactionStatus::AwaitingApproval,
            TransactionStatus::Completed
        ]
    );
    h.refused(
        PLANT_MANAGER,
        RegistryCommand::Approve { transaction: id },
        "not_pending",
    );
}

#[test]
fn rejection_and_withdrawal_release_the_reservation() {
    let mut h = harness();
    let (first, _) = h.tx(PLANT_CLERK, transfer(PLANT_OHA, TRADER_ACCOUNT, 300));
    let (_, status) = h.tx(
        PLANT_MANAGER,
        RegistryCommand::Reject { transaction: first },
    );
    assert_eq!(status, TransactionStatus::Rejected);
    assert_eq!(h.available(PLANT_OHA, cea(2021)), 1_000);
    let (second, _) = h.tx(PLANT_CLERK, transfer(PLANT_OHA, TRADER_ACCOUNT, 300));
    h.refused(
        PLANT_MANAGER,
        RegistryCommand::Withdraw {
            transaction: second,
        },
        "not_representative",
    );
    let (_, status) = h.tx(
        PLANT_CLERK,
        RegistryCommand::Withdraw {
            transaction: second,
        },
    );
    assert_eq!(status, TransactionStatus::Cancelled);
    assert_eq!(h.available(PLANT_OHA, cea(2021)), 1_000);
    assert_eq!(h.total(TRADER_ACCOUNT, cea(2021)), 0);
}

#[test]
fn transfer_beyond_available_units_is_rejected_and_changes_nothing() {
    let mut h = harness();
    h.tx(PLANT_CLERK, transfer(PLANT_OHA, TRADER_ACCOUNT, 800));
    let error = h.refused(
        PLANT_CLERK,
        transfer(PLANT_OHA, TRADER_ACCOUNT, 201),
        "insufficient_units",
    );
    assert!(error.to_string().contains("200"), "{error}");
}

#[test]
fn transfer_refusals_have_stable_codes() {
    let mut h = harness();
    h.refused(
        PLANT_CLERK,
        transfer(PLANT_OHA, TRADER_ACCOUNT, 0),
        "zero_quantity",
    );
    h.refused(
        PLANT_CLERK,
        transfer(PLANT_OHA, AccountId(999), 1),
        "unknown_account",
    );
    h.refused(
        PLANT_CLERK,
        transfer(PLANT_OHA, PLANT_OHA, 1),
        "same_account",
    );
    h.refused(
        TRADER,
        transfer(PLANT_OHA, TRADER_ACCOUNT, 1),
        "not_representative",
    );
    h.refused(
        ParticipantId(77),
        transfer(PLANT_OHA, TRADER_ACCOUNT, 1),
        "unknown_requester",
    );
    h.refused(
        PLANT_CLERK,
        transfer(PLANT_OHA, SURRENDER, 1),
        "wrong_account_kind",
    );
    h.refused(
        PLANT_CLERK,
        transfer(PLANT_OHA, ISSUANCE, 1),
        "wrong_account_kind",
    );
    h.refused(
        PLANT_CLERK,
        RegistryCommand::Transfer {
            from: PLANT_OHA,
            to: TRADER_ACCOUNT,
            class: cea(2030),
            quantity: q(1),
        },
        "unknown_unit_class",
    );
}

#[test]
fn blocked_account_cannot_transfer_but_can_still_surrender() {
    let mut h = harness();
    h.ok(
        ADMIN,
        RegistryCommand::SetAccountStatus {
            account: PLANT_OHA,
            status: AccountStatus::Blocked,
        },
    );
    h.refused(
        PLANT_CLERK,
        transfer(PLANT_OHA, TRADER_ACCOUNT, 1),
        "account_status_forbids",
    );
    let surrender = RegistryCommand::Surrender {
        from: PLANT_OHA,
        class: cea(2021),
        quantity: q(10),
        compliance_year: 2021,
    };
    let (id, _) = h.tx(PLANT_CLERK, surrender);
    let (_, status) = h.tx(PLANT_MANAGER, RegistryCommand::Approve { transaction: id });
    assert_eq!(status, TransactionStatus::Completed);
    assert_eq!(h.total(SURRENDER, cea(2021)), 10);
}

#[test]
fn closed_account_receives_nothing_and_is_never_reopened() {
    let mut h = harness();
    let close = RegistryCommand::SetAccountStatus {
        account: TRADER_ACCOUNT,
        status: AccountStatus::Closed,
    };
    h.ok(ADMIN, close);
    h.refused(
        PLANT_CLERK,
        transfer(PLANT_OHA, TRADER_ACCOUNT, 1),
        "account_status_forbids",
    );
    h.refused(
        ADMIN,
        RegistryCommand::SetAccountStatus {
            account: TRADER_ACCOUNT,
            status: AccountStatus::Open,
        },
        "status_change_not_allowed",
    );
    h.refused(
        ADMIN,
        RegistryCommand::SetAccountStatus {
            account: PLANT_OHA,
            status: AccountStatus::Closed,
        },
        "status_change_not_allowed",
    );
}

#[test]
fn surrender_goes_to_the_surrender_account_tagged_with_the_year() {
    let mut h = harness();
    let command = RegistryCommand::Surrender {
        from: PLANT_OHA,
        class: cea(2021),
        quantity: q(400),
        compliance_year: 2021,
    };
    let (id, _) = h.tx(PLANT_CLERK, command);
    h.tx(PLANT_MANAGER, RegistryCommand::Approve { transaction: id });
    let t = h.registry.transaction(id).unwrap();
    assert_eq!(
        t.kind,
        TransactionKind::Surrender {
            compliance_year: 2021
        }
    );
    assert_eq!(t.to, SURRENDER);
    assert_eq!(h.total(SURRENDER, cea(2021)), 400);
    h.refused(
        PLANT_CLERK,
        RegistryCommand::Surrender {
            from: PLANT_OHA,
            class: cea(2021),
            quantity: q(601),
            compliance_year: 2021,
        },
        "insufficient_units",
    );
}

#[test]
fn only_operator_accounts_surrender() {
    let mut h = harness();
    let (id, _) = h.tx(PLANT_CLERK, transfer(PLANT_OHA, TRADER_ACCOUNT, 50));
    h.tx(PLANT_MANAGER, RegistryCommand::Approve { transaction: id });
    h.refused(
        TRADER,
        RegistryCommand::Surrender {
            from: TRADER_ACCOUNT,
            class: cea(2021),
            quantity: q(1),
            compliance_year: 2021,
        },
        "wrong_account_kind",
    );
}

#[test]
fn retirement_records_the_beneficiary() {
    let mut h = harness();
    let (id, _) = h.tx(PLANT_CLERK, transfer(PLANT_OHA, TRADER_ACCOUNT, 50));
    h.tx(PLANT_MANAGER, RegistryCommand::Approve { transaction: id });
    let retire = |beneficiary: &str| RegistryCommand::Retire {
        from: TRADER_ACCOUNT,
        class: cea(2021),
        quantity: q(5),
        beneficiary: beneficiary.to_owned(),
    };
    h.refused(TRADER, retire(""), "bad_text");
    h.refused(TRADER, retire(&"x".repeat(501)), "bad_text");
    let (id, status) = h.tx(TRADER, retire("Shanghai marathon 2026"));
    assert_eq!(status, TransactionStatus::Completed);
    let t = h.registry.transaction(id).unwrap();
    assert_eq!(
        t.kind,
        TransactionKind::Retire {
            beneficiary: "Shanghai marathon 2026".into()
        }
    );
    assert_eq!(h.total(RETIREMENT, cea(2021)), 5);
}

#[test]
fn cancellation_is_administrative() {
    let mut h = harness();
    let cancel = RegistryCommand::Cancel {
        from: ISSUANCE,
        class: cea(2021),
        quantity: q(100),
        reason: "unallocated reserve".into(),
    };
    h.refused(PLANT_CLERK, cancel.clone(), "not_administrator");
    h.tx(ADMIN, cancel);
    assert_eq!(h.total(CANCELLATION, cea(2021)), 100);
    h.refused(
        ADMIN,
        RegistryCommand::Transfer {
            from: CANCELLATION,
            to: TRADER_ACCOUNT,
            class: cea(2021),
            quantity: q(1),
        },
        "wrong_account_kind",
    );
}

#[test]
fn reversal_of_a_surrender_returns_the_same_serials() {
    let mut h = harness();
    let (id, _) = h.tx(
        PLANT_CLERK,
        RegistryCommand::Surrender {
            from: PLANT_OHA,
            class: cea(2021),
            quantity: q(400),
            compliance_year: 2021,
        },
    );
    h.tx(PLANT_MANAGER, RegistryCommand::Approve { transaction: id });
    h.refused(
        PLANT_CLERK,
        RegistryCommand::Reverse { transaction: id },
        "not_administrator",
    );
    let (reversal, status) = h.tx(ADMIN, RegistryCommand::Reverse { transaction: id });
    assert_eq!(status, TransactionStatus::Completed);
    assert_eq!(
        h.registry.transaction(id).unwrap().status(),
        TransactionStatus::Reversed
    );
    assert_eq!(
        h.registry.transaction(reversal).unwrap().blocks,
        h.registry.transaction(id).unwrap().blocks
    );
    assert_eq!(h.total(PLANT_OHA, cea(2021)), 1_000);
    assert_eq!(h.total(SURRENDER, cea(2021)), 0);
    h.refused(
        ADMIN,
        RegistryCommand::Reverse { transaction: id },
        "not_reversible",
    );
}

#[test]
fn reversal_of_an_allocation_whose_units_moved_is_refused() {
    let mut h = harness();
    let allocation = TransactionId(2);
    let (id, _) = h.tx(PLANT_CLERK, transfer(PLANT_OHA, TRADER_ACCOUNT, 10));
    h.tx(PLANT_MANAGER, RegistryCommand::Approve { transaction: id });
    h.refused(
        ADMIN,
        RegistryCommand::Reverse {
            transaction: allocation,
        },
        "not_reversible",
    );
    h.refused(
        ADMIN,
        RegistryCommand::Reverse { transaction: id },
        "not_reversible",
    );
}

#[test]
fn administrators_four_eyes_apply_to_issuance() {
    let mut h = harness();
    h.ok(
        ADMIN,
        RegistryCommand::SetApprovalRule {
            account: ISSUANCE,
            representatives: vec![ADMIN, ADMIN_2],
            approvals_required: 2,
        },
    );
    let (id, status) = h.tx(
        ADMIN,
        RegistryCommand::Issue {
            class: cea(2022),
            quantity: q(5),
        },
    );
    assert_eq!(status, TransactionStatus::AwaitingApproval);
    assert_eq!(
        h.registry
            .issued_quantity(h.registry.class_index(&cea(2022)).unwrap()),
        Quantity::ZERO
    );
    h.refused(
        ADMIN,
        RegistryCommand::Approve { transaction: id },
        "self_approval",
    );
    let (_, status) = h.tx(ADMIN_2, RegistryCommand::Approve { transaction: id });
    assert_eq!(status, TransactionStatus::Completed);
    assert_eq!(h.total(ISSUANCE, cea(2022)), 5);
}

#[test]
fn registration_and_account_opening_refusals() {
    let mut h = Harness {
        registry: Registry::new(),
        clock: 0,
    };
    h.refused(
        PLANT,
        participant(PLANT, ParticipantKind::CoveredEntity, "x"),
        "not_administrator",
    );
    h.ok(
        ADMIN,
        participant(ADMIN, ParticipantKind::Administrator, "Admin"),
    );
    h.refused(
        ADMIN,
        participant(ADMIN, ParticipantKind::Administrator, "Again"),
        "participant_exists",
    );
    h.refused(
        ADMIN,
        participant(PLANT, ParticipantKind::CoveredEntity, ""),
        "bad_text",
    );
    h.ok(
        ADMIN,
        participant(PLANT, ParticipantKind::CoveredEntity, "Plant"),
    );
    h.ok(
        ADMIN,
        participant(VERIFIER, ParticipantKind::Verifier, "Verifier"),
    );
    h.refused(
        PLANT,
        participant(TRADER, ParticipantKind::Institution, "Fund"),
        "not_administrator",
    );
    h.refused(
        PLANT,
        open(PLANT_OHA, AccountKind::OperatorHolding, PLANT, &[PLANT], 1),
        "not_administrator",
    );
    h.refused(
        ADMIN,
        open(
            PLANT_OHA,
            AccountKind::OperatorHolding,
            VERIFIER,
            &[VERIFIER],
            1,
        ),
        "holder_kind_mismatch",
    );
    h.refused(
        ADMIN,
        open(ISSUANCE, AccountKind::Issuance, PLANT, &[PLANT], 1),
        "holder_kind_mismatch",
    );
    h.refused(
        ADMIN,
        open(PLANT_OHA, AccountKind::OperatorHolding, PLANT, &[], 1),
        "invalid_approval_rule",
    );
    h.refused(
        ADMIN,
        open(PLANT_OHA, AccountKind::OperatorHolding, PLANT, &[PLANT], 2),
        "invalid_approval_rule",
    );
    h.refused(
        ADMIN,
        open(
            PLANT_OHA,
            AccountKind::OperatorHolding,
            PLANT,
            &[PLANT, PLANT],
            1,
        ),
        "invalid_approval_rule",
    );
    h.refused(
        ADMIN,
        open(
            PLANT_OHA,
            AccountKind::OperatorHolding,
            PLANT,
            &[ParticipantId(5)],
            1,
        ),
        "unknown_participant",
    );
    h.ok(
        ADMIN,
        open(PLANT_OHA, AccountKind::OperatorHolding, PLANT, &[PLANT], 1),
    );
    h.refused(
        ADMIN,
        open(PLANT_OHA, AccountKind::Trading, PLANT, &[PLANT], 1),
        "account_exists",
    );
    h.refused(
        ADMIN,
        open(
            AccountId(101),
            AccountKind::OperatorHolding,
            PLANT,
            &[PLANT],
            1,
        ),
        "holder_has_account",
    );
    h.ok(
        ADMIN,
        open(ISSUANCE, AccountKind::Issuance, ADMIN, &[ADMIN], 1),
    );
    h.refused(
        ADMIN,
        open(AccountId(5), AccountKind::Issuance, ADMIN, &[ADMIN], 1),
        "system_account_exists",
    );
    h.refused(
        ADMIN,
        RegistryCommand::Surrender {
            from: PLANT_OHA,
            class: cea(2021),
            quantity: q(1),
            compliance_year: 2021,
        },
        "missing_system_account",
    );
}

#[test]
fn serial_history_traces_a_unit_from_issue_to_surrender() {
    let mut h = harness();
    let (transfer_id, _) = h.tx(PLANT_CLERK, transfer(PLANT_OHA, TRADER_ACCOUNT, 10));
    h.tx(
        PLANT_MANAGER,
        RegistryCommand::Approve {
            transaction: transfer_id,
        },
    );
    let kinds: Vec<_> = h
        .registry
        .serial_history(5)
        .iter()
        .map(|t| t.kind.name())
        .collect();
    assert_eq!(kinds, ["issue", "allocate", "transfer"]);
    assert_eq!(
        h.registry.serial_holder(5).map(|(account, _)| account),
        Some(TRADER_ACCOUNT)
    );
    assert_eq!(
        h.registry.serial_holder(11).map(|(account, _)| account),
        Some(PLANT_OHA)
    );
    assert_eq!(h.registry.serial_holder(10_001), None);
}

#[test]
fn pending_transfer_fails_to_complete_when_destination_closed_meanwhile() {
    let mut h = harness();
    let (id, _) = h.tx(PLANT_CLERK, transfer(PLANT_OHA, TRADER_ACCOUNT, 10));
    h.refused(
        ADMIN,
        RegistryCommand::SetAccountStatus {
            account: TRADER_ACCOUNT,
            status: AccountStatus::Closed,
        },
        "status_change_not_allowed",
    );
    h.ok(
        ADMIN,
        RegistryCommand::SetAccountStatus {
            account: PLANT_OHA,
            status: AccountStatus::Blocked,
        },
    );
    h.refused(
        PLANT_MANAGER,
        RegistryCommand::Approve { transaction: id },
        "account_status_forbids",
    );
    h.tx(PLANT_CLERK, RegistryCommand::Withdraw { transaction: id });
}

#[test]
fn closing_asks_the_pending_count_which_follows_every_status_change_and_a_decode() {
    // Goal: closing an account asks a per-account count of pending
    // transactions instead of scanning the history; the count must follow
    // proposal, withdrawal and a snapshot's decode, or a close would be
    // refused forever or let through with a transfer pending.
    let mut h = harness();
    let close = |account| RegistryCommand::SetAccountStatus {
        account,
        status: AccountStatus::Closed,
    };
    let (id, _) = h.tx(PLANT_CLERK, transfer(PLANT_OHA, TRADER_ACCOUNT, 10));
    let encoded = postcard::to_stdvec(&h.registry).unwrap();
    let mut decoded: Registry = postcard::from_bytes(&encoded).unwrap();
    decoded.rebuild_indexes();
    assert!(decoded.has_pending_involving(TRADER_ACCOUNT));
    assert!(decoded.has_pending_involving(PLANT_OHA));
    h.refused(ADMIN, close(TRADER_ACCOUNT), "status_change_not_allowed");
    h.tx(PLANT_CLERK, RegistryCommand::Withdraw { transaction: id });
    assert!(!h.registry.has_pending_involving(TRADER_ACCOUNT));
    h.ok(ADMIN, close(TRADER_ACCOUNT));
}

#[test]
fn an_account_needing_two_signatures_cannot_trade_on_one() {
    // Goal: four eyes on the exchange: one representative of a 2-of-2
    // account may not trade it (an order carries one signature), while a
    // 1-of-1 account trades; refused with a stable code naming the rule.
    let h = harness();
    let refused = h
        .registry
        .check_may_trade(PLANT_CLERK, PLANT_OHA)
        .unwrap_err();
    assert_eq!(refused.code(), "trading_needs_single_signature");
    assert!(refused.to_string().contains("2 approvals"), "{refused}");
    assert!(h.registry.check_may_trade(TRADER, TRADER_ACCOUNT).is_ok());
}
