//! Tests of every security-control rule: the business window, the transfer
//! delay and its cancellation, trusted-list statuses and activation in
//! business days, additional representatives, the quantity limit, and bad
//! settings. Each refusal also checks that nothing changed.

use crate::*;
use ets_model::{
    AccountId, Code, ParticipantId, Quantity, Timestamp, TransactionId, UnitClass, Vintage,
};
use ets_time::{CivilDate, EU_EEX_TOML, TimeZone};

const ADMIN: ParticipantId = ParticipantId(1);
const SELLER: ParticipantId = ParticipantId(10);
const SELLER_2: ParticipantId = ParticipantId(11);
const SELLER_AAR: ParticipantId = ParticipantId(12);
const BUYER: ParticipantId = ParticipantId(20);
const STRANGER: ParticipantId = ParticipantId(21);

const ISSUANCE: AccountId = AccountId(1);
const SELLER_ACCOUNT: AccountId = AccountId(100);
const BUYER_ACCOUNT: AccountId = AccountId(200);

fn eua() -> UnitClass {
    UnitClass::Allowance {
        scheme: Code::try_new("EUA").unwrap(),
        vintage: Vintage(2025),
    }
}

fn eua_code() -> Code {
    Code::try_new("EUA").unwrap()
}

/// Local time in Brussels/Leipzig (CET/CEST).
fn cet(year: i32, month: u8, day: u8, hour: u32, minute: u32) -> Timestamp {
    let date = CivilDate::try_new(year, month, day).unwrap();
    TimeZone::CentralEuropean.instant_of(date, hour * 60 + minute)
}

fn settings() -> ControlSettings {
    ControlSettings::eu_defaults(EU_EEX_TOML.to_owned())
}

struct Harness {
    registry: Registry,
}

impl Harness {
    fn run(
        &mut self,
        at: Timestamp,
        requester: ParticipantId,
        command: RegistryCommand,
    ) -> Result<Effect, RegistryError> {
        let result = self.registry.execute(Context { requester, at }, &command);
        self.registry
            .check_invariants()
            .expect("invariants hold after every command");
        result
    }

    fn ok(&mut self, at: Timestamp, requester: ParticipantId, command: RegistryCommand) -> Effect {
        self.run(at, requester, command).expect("command accepted")
    }

    fn refused(
        &mut self,
        at: Timestamp,
        requester: ParticipantId,
        command: RegistryCommand,
        code: &str,
    ) {
        let before = self.registry.clone();
        let error = self
            .run(at, requester, command)
            .expect_err("command refused");
        assert_eq!(error.code(), code, "{error}");
        assert_eq!(
            self.registry, before,
            "a refused command changed the registry"
        );
    }

    fn transfer(
        &mut self,
        at: Timestamp,
        requester: ParticipantId,
        tonnes: u64,
    ) -> (TransactionId, TransactionStatus) {
        match self.ok(at, requester, transfer(tonnes)) {
            Effect::Transaction { id, status } => (id, status),
            other => panic!("expected a transaction, got {other:?}"),
        }
    }

    fn status(&self, id: TransactionId) -> TransactionStatus {
        self.registry.transaction(id).unwrap().status()
    }

    fn available(&self, account: AccountId) -> u64 {
        let index = self.registry.class_index(&eua()).unwrap();
        self.registry
            .account(account)
            .unwrap()
            .available(index)
            .tonnes()
    }

    fn total(&self, account: AccountId) -> u64 {
        let index = self.registry.class_index(&eua()).unwrap();
        self.registry
            .account(account)
            .unwrap()
            .holding(index)
            .map_or(0, |holding| holding.total().tonnes())
    }

    fn trusted_status(&self, at: Timestamp) -> Option<TrustedStatus> {
        self.registry
            .controls()
            .trusted_list(SELLER_ACCOUNT)
            .find(|(account, _)| *account == BUYER_ACCOUNT)
            .map(|(_, entry)| entry.status(at))
    }
}

fn transfer(tonnes: u64) -> RegistryCommand {
    RegistryCommand::Transfer {
        from: SELLER_ACCOUNT,
        to: BUYER_ACCOUNT,
        class: eua(),
        quantity: Quantity::new(tonnes),
    }
}

fn propose_trusted() -> RegistryCommand {
    RegistryCommand::ProposeTrustedAccount {
        account: SELLER_ACCOUNT,
        trusted: BUYER_ACCOUNT,
        scheme: eua_code(),
    }
}

fn approve_trusted() -> RegistryCommand {
    RegistryCommand::ApproveTrustedAccount {
        account: SELLER_ACCOUNT,
        trusted: BUYER_ACCOUNT,
    }
}

/// A registry in early March 2025 with a seller holding 1,000 EUA (one
/// signature, two representatives), a buyer, and the EU's controls set
/// (26 h delay, 10:00-16:00 window, 4 business days, EEX calendar).
fn harness() -> Harness {
    let mut h = Harness {
        registry: Registry::new(),
    };
    let at = cet(2025, 3, 3, 9, 0);
    let people = [
        (ADMIN, ParticipantKind::Administrator, "Administrator"),
        (SELLER, ParticipantKind::Institution, "Seller"),
        (
            SELLER_2,
            ParticipantKind::Individual,
            "Seller's second representative",
        ),
        (
            SELLER_AAR,
            ParticipantKind::Individual,
            "Seller's additional representative",
        ),
        (BUYER, ParticipantKind::Institution, "Buyer"),
        (STRANGER, ParticipantKind::Institution, "Stranger"),
    ];
    for (id, kind, name) in people {
        let command = RegistryCommand::RegisterParticipant {
            id,
            kind,
            name: name.to_owned(),
        };
        h.ok(at, ADMIN, command);
    }
    let accounts = [
        (ISSUANCE, AccountKind::Issuance, ADMIN, vec![ADMIN]),
        (
            SELLER_ACCOUNT,
            AccountKind::Trading,
            SELLER,
            vec![SELLER, SELLER_2],
        ),
        (BUYER_ACCOUNT, AccountKind::Trading, BUYER, vec![BUYER]),
    ];
    for (id, kind, holder, representatives) in accounts {
        let command = RegistryCommand::OpenAccount {
            id,
            kind,
            holder,
            representatives,
            approvals_required: 1,
        };
        h.ok(at, ADMIN, command);
    }
    h.ok(
        at,
        ADMIN,
        RegistryCommand::Issue {
            class: eua(),
            quantity: Quantity::new(1_000),
        },
    );
    let funding = RegistryCommand::Transfer {
        from: ISSUANCE,
        to: SELLER_ACCOUNT,
        class: eua(),
        quantity: Quantity::new(1_000),
    };
    h.ok(at, ADMIN, funding);
    let set = RegistryCommand::SetControls {
        scheme: eua_code(),
        settings: settings(),
    };
    assert_eq!(h.ok(at, ADMIN, set), Effect::ControlsSet);
    h
}

#[test]
fn the_business_window_snaps_initiation_and_the_delay_runs_from_it() {
    // The EU example: confirmed Friday 18:00, initiated Monday 10:00, completed Tuesday 12:00.
    let mut h = harness();
    let (id, status) = h.transfer(cet(2025, 3, 7, 18, 0), SELLER, 300);
    assert_eq!(status, TransactionStatus::Delayed);
    let delay = *h.registry.controls().delay(id).unwrap();
    assert_eq!(delay.initiated_at, cet(2025, 3, 10, 10, 0));
    assert_eq!(delay.ends_at, cet(2025, 3, 11, 12, 0));
    assert!(!delay.trusted);
    // The units stay with the seller, reserved.
    assert_eq!(
        (h.total(SELLER_ACCOUNT), h.available(SELLER_ACCOUNT)),
        (1_000, 700)
    );
    // Any later command completes it once its end has passed; not before.
    h.ok(
        cet(2025, 3, 11, 11, 59),
        STRANGER,
        RegistryCommand::ReleaseDue,
    );
    assert_eq!(h.status(id), TransactionStatus::Delayed);
    let released = h.ok(
        cet(2025, 3, 11, 12, 0),
        STRANGER,
        RegistryCommand::ReleaseDue,
    );
    assert_eq!(released, Effect::DelaysReleased(1));
    assert_eq!(h.status(id), TransactionStatus::Completed);
    assert_eq!(
        (h.total(SELLER_ACCOUNT), h.total(BUYER_ACCOUNT)),
        (700, 300)
    );
    let completed = h
        .registry
        .transaction(id)
        .unwrap()
        .history
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        completed.at, delay.ends_at,
        "completion is stamped at the delay's end"
    );
    assert!(h.registry.controls().running_delays().next().is_none());
}

#[test]
fn a_transfer_inside_the_window_is_initiated_at_once_and_early_morning_waits_for_the_opening() {
    let mut h = harness();
    let (id, _) = h.transfer(cet(2025, 3, 5, 11, 0), SELLER, 10);
    assert_eq!(
        h.registry.controls().delay(id).unwrap().initiated_at,
        cet(2025, 3, 5, 11, 0)
    );
    let (id, _) = h.transfer(cet(2025, 3, 6, 7, 30), SELLER, 10);
    assert_eq!(
        h.registry.controls().delay(id).unwrap().initiated_at,
        cet(2025, 3, 6, 10, 0)
    );
    // At 16:00 the window has closed: the next business day's opening.
    let (id, _) = h.transfer(cet(2025, 3, 6, 16, 0), SELLER, 10);
    assert_eq!(
        h.registry.controls().delay(id).unwrap().initiated_at,
        cet(2025, 3, 7, 10, 0)
    );
}

#[test]
fn a_transfer_cancelled_during_its_delay_releases_its_units() {
    let mut h = harness();
    let (id, _) = h.transfer(cet(2025, 3, 5, 11, 0), SELLER, 400);
    assert_eq!(h.available(SELLER_ACCOUNT), 600);
    // The other representative notices and cancels it.
    let effect = h.ok(
        cet(2025, 3, 5, 12, 0),
        SELLER_2,
        RegistryCommand::Withdraw { transaction: id },
    );
    assert_eq!(
        effect,
        Effect::Transaction {
            id,
            status: TransactionStatus::Cancelled
        }
    );
    assert_eq!(
        (h.total(SELLER_ACCOUNT), h.available(SELLER_ACCOUNT)),
        (1_000, 1_000)
    );
    // Its end passes: nothing moves, and it cannot be cancelled twice.
    h.ok(
        cet(2025, 3, 10, 12, 0),
        STRANGER,
        RegistryCommand::ReleaseDue,
    );
    assert_eq!(h.status(id), TransactionStatus::Cancelled);
    assert_eq!(h.total(BUYER_ACCOUNT), 0);
    h.refused(
        cet(2025, 3, 10, 13, 0),
        SELLER,
        RegistryCommand::Withdraw { transaction: id },
        "not_pending",
    );
    // Someone who does not represent the sender cannot cancel a delayed transfer.
    let (other, _) = h.transfer(cet(2025, 3, 10, 13, 0), SELLER, 1);
    h.refused(
        cet(2025, 3, 10, 14, 0),
        STRANGER,
        RegistryCommand::Withdraw { transaction: other },
        "not_representative",
    );
}

#[test]
fn a_trusted_account_becomes_active_after_business_days_and_then_skips_the_delay() {
    let mut h = harness();
    // Proposed Thursday before Easter 2025: Good Friday and Easter Monday are
    // EEX holidays, so the 4 business days are Tue 22, Wed 23, Thu 24, Fri 25 April.
    h.ok(cet(2025, 4, 17, 12, 0), SELLER, propose_trusted());
    // One signature suffices on this account: no approval step.
    assert_eq!(
        h.trusted_status(cet(2025, 4, 17, 12, 0)),
        Some(TrustedStatus::PendingActivation)
    );
    let active_from = cet(2025, 4, 25, 10, 0);
    assert_eq!(h.trusted_status(active_from), Some(TrustedStatus::Active));
    assert_eq!(
        h.trusted_status(cet(2025, 4, 25, 9, 59)),
        Some(TrustedStatus::PendingActivation)
    );
    // Before activation a transfer to it is delayed; after, it completes at once.
    let (early, status) = h.transfer(cet(2025, 4, 24, 11, 0), SELLER, 5);
    assert_eq!(status, TransactionStatus::Delayed);
    let (late, status) = h.transfer(cet(2025, 4, 25, 11, 0), SELLER, 5);
    assert_eq!(status, TransactionStatus::Completed);
    assert!(
        h.registry
            .controls()
            .delay(late)
            .is_none_or(|delay| delay.trusted)
    );
    assert_eq!(h.status(early), TransactionStatus::Delayed);
    // Proposing it twice is refused.
    h.refused(
        cet(2025, 4, 25, 12, 0),
        SELLER,
        propose_trusted(),
        "trusted_entry_exists",
    );
}

#[test]
fn a_trusted_transfer_outside_the_window_is_queued_to_the_next_opening() {
    let mut h = harness();
    h.ok(cet(2025, 3, 3, 12, 0), SELLER, propose_trusted());
    let (id, status) = h.transfer(cet(2025, 3, 14, 20, 0), SELLER, 5);
    assert_eq!(status, TransactionStatus::Delayed);
    let delay = *h.registry.controls().delay(id).unwrap();
    assert!(delay.trusted);
    assert_eq!(
        (delay.initiated_at, delay.ends_at),
        (cet(2025, 3, 17, 10, 0), cet(2025, 3, 17, 10, 0))
    );
    h.ok(
        cet(2025, 3, 17, 10, 0),
        STRANGER,
        RegistryCommand::ReleaseDue,
    );
    assert_eq!(h.status(id), TransactionStatus::Completed);
}

#[test]
fn additional_representatives_only_approve_and_must_sign() {
    let mut h = harness();
    let set = RegistryCommand::SetAdditionalRepresentatives {
        account: SELLER_ACCOUNT,
        representatives: vec![SELLER_AAR],
    };
    h.ok(cet(2025, 3, 3, 9, 0), ADMIN, set);
    let at = cet(2025, 3, 4, 11, 0);
    // An additional representative cannot propose a transfer nor a trusted account.
    h.refused(
        at,
        SELLER_AAR,
        transfer(10),
        "additional_representative_cannot_propose",
    );
    h.refused(
        at,
        SELLER_AAR,
        propose_trusted(),
        "additional_representative_cannot_propose",
    );
    // A representative's transfer now awaits approval, and a second ordinary
    // representative's signature is not enough: an additional one must sign.
    let (id, status) = h.transfer(at, SELLER, 10);
    assert_eq!(status, TransactionStatus::AwaitingApproval);
    let effect = h.ok(at, SELLER_2, RegistryCommand::Approve { transaction: id });
    assert_eq!(
        effect,
        Effect::Transaction {
            id,
            status: TransactionStatus::AwaitingApproval
        }
    );
    let effect = h.ok(at, SELLER_AAR, RegistryCommand::Approve { transaction: id });
    assert_eq!(
        effect,
        Effect::Transaction {
            id,
            status: TransactionStatus::Delayed
        }
    );
    // A trusted-list addition needs the second signature too.
    h.ok(at, SELLER, propose_trusted());
    assert_eq!(h.trusted_status(at), Some(TrustedStatus::PendingApproval));
    h.refused(at, SELLER, approve_trusted(), "self_approval");
    h.refused(at, STRANGER, approve_trusted(), "not_representative");
    h.ok(at, SELLER_AAR, approve_trusted());
    assert_eq!(h.trusted_status(at), Some(TrustedStatus::PendingActivation));
    h.refused(at, SELLER_2, approve_trusted(), "trusted_not_pending");
    // An additional representative cannot also be an ordinary one.
    let both = RegistryCommand::SetAdditionalRepresentatives {
        account: SELLER_ACCOUNT,
        representatives: vec![SELLER_2],
    };
    h.refused(at, ADMIN, both, "invalid_approval_rule");
}

#[test]
fn a_transfer_to_an_account_removed_from_the_list_while_pending_is_delayed() {
    let mut h = harness();
    let set = RegistryCommand::SetAdditionalRepresentatives {
        account: SELLER_ACCOUNT,
        representatives: vec![SELLER_AAR],
    };
    h.ok(cet(2025, 3, 3, 9, 0), ADMIN, set);
    h.ok(cet(2025, 3, 3, 12, 0), SELLER, propose_trusted());
    h.ok(cet(2025, 3, 3, 12, 0), SELLER_AAR, approve_trusted());
    let at = cet(2025, 3, 12, 11, 0);
    assert_eq!(h.trusted_status(at), Some(TrustedStatus::Active));
    // Proposed while the buyer is trusted, awaiting the additional representative.
    let (id, _) = h.transfer(at, SELLER, 50);
    // The buyer is removed from the list: requested, then approved by a second representative.
    let remove = RegistryCommand::RemoveTrustedAccount {
        account: SELLER_ACCOUNT,
        trusted: BUYER_ACCOUNT,
    };
    h.ok(at, SELLER_2, remove);
    assert_eq!(h.trusted_status(at), Some(TrustedStatus::PendingRemoval));
    h.refused(at, SELLER_2, approve_trusted(), "self_approval");
    h.ok(at, SELLER, approve_trusted());
    assert_eq!(h.trusted_status(at), None);
    // Trust is judged at initiation: the approved transfer now waits the full delay.
    h.ok(at, SELLER_AAR, RegistryCommand::Approve { transaction: id });
    assert_eq!(h.status(id), TransactionStatus::Delayed);
    let delay = *h.registry.controls().delay(id).unwrap();
    assert!(!delay.trusted);
    assert_eq!(delay.ends_at, cet(2025, 3, 13, 13, 0));
    let remove_again = RegistryCommand::RemoveTrustedAccount {
        account: SELLER_ACCOUNT,
        trusted: BUYER_ACCOUNT,
    };
    h.refused(at, SELLER, remove_again, "not_on_trusted_list");
}

#[test]
fn a_later_configuration_change_does_not_shorten_a_running_delay() {
    let mut h = harness();
    let (id, _) = h.transfer(cet(2025, 3, 5, 11, 0), SELLER, 20);
    let mut no_delay = settings();
    no_delay.transfer_delay_minutes = 0;
    let set = RegistryCommand::SetControls {
        scheme: eua_code(),
        settings: no_delay,
    };
    h.ok(cet(2025, 3, 5, 11, 30), ADMIN, set);
    h.ok(
        cet(2025, 3, 5, 12, 0),
        STRANGER,
        RegistryCommand::ReleaseDue,
    );
    assert_eq!(h.status(id), TransactionStatus::Delayed);
    assert_eq!(
        h.registry.controls().delay(id).unwrap().ends_at,
        cet(2025, 3, 6, 13, 0)
    );
    // New transfers follow the new setting.
    let (new, status) = h.transfer(cet(2025, 3, 5, 12, 0), SELLER, 1);
    assert_eq!(
        (h.status(new), status),
        (TransactionStatus::Completed, TransactionStatus::Completed)
    );
    h.ok(
        cet(2025, 3, 6, 13, 0),
        STRANGER,
        RegistryCommand::ReleaseDue,
    );
    assert_eq!(h.status(id), TransactionStatus::Completed);
}

#[test]
fn a_delayed_transfer_fails_and_releases_its_units_when_the_sender_is_blocked_meanwhile() {
    let mut h = harness();
    let (id, _) = h.transfer(cet(2025, 3, 5, 11, 0), SELLER, 20);
    let block = RegistryCommand::SetAccountStatus {
        account: SELLER_ACCOUNT,
        status: AccountStatus::Blocked,
    };
    h.ok(cet(2025, 3, 5, 12, 0), ADMIN, block);
    // The receiving account cannot be closed while a delayed transfer involves it.
    let close = RegistryCommand::SetAccountStatus {
        account: BUYER_ACCOUNT,
        status: AccountStatus::Closed,
    };
    h.refused(
        cet(2025, 3, 5, 12, 0),
        ADMIN,
        close,
        "status_change_not_allowed",
    );
    h.ok(
        cet(2025, 3, 7, 12, 0),
        STRANGER,
        RegistryCommand::ReleaseDue,
    );
    assert_eq!(h.status(id), TransactionStatus::Failed);
    assert_eq!(
        (h.total(SELLER_ACCOUNT), h.available(SELLER_ACCOUNT)),
        (1_000, 1_000)
    );
}

#[test]
fn the_per_transfer_limit_refuses_larger_transfers() {
    let mut h = harness();
    let mut limited = settings();
    limited.max_transfer_quantity = Some(Quantity::new(100));
    h.ok(
        cet(2025, 3, 4, 9, 0),
        ADMIN,
        RegistryCommand::SetControls {
            scheme: eua_code(),
            settings: limited,
        },
    );
    h.refused(
        cet(2025, 3, 4, 11, 0),
        SELLER,
        transfer(101),
        "transfer_limit_exceeded",
    );
    h.transfer(cet(2025, 3, 4, 11, 0), SELLER, 100);
}

#[test]
fn bad_settings_are_refused_with_the_setting_named() {
    let mut h = harness();
    let at = cet(2025, 3, 4, 9, 0);
    let set = |settings| RegistryCommand::SetControls {
        scheme: eua_code(),
        settings,
    };
    let mut backwards = settings();
    backwards.window_opens_minute = 960;
    backwards.window_closes_minute = 600;
    h.refused(at, ADMIN, set(backwards), "bad_controls");
    let mut garbage = settings();
    garbage.calendar_toml = "name = <script>".to_owned();
    h.refused(at, ADMIN, set(garbage), "bad_controls");
    let mut long = settings();
    long.transfer_delay_minutes = DELAY_MAX_MINUTES + 1;
    h.refused(at, ADMIN, set(long), "bad_controls");
    h.refused(at, SELLER, set(settings()), "not_administrator");
    // A trusted account under a scheme without controls, and outside the calendar's years.
    let unknown = RegistryCommand::ProposeTrustedAccount {
        account: SELLER_ACCOUNT,
        trusted: BUYER_ACCOUNT,
        scheme: Code::try_new("CEA").unwrap(),
    };
    h.refused(at, SELLER, unknown, "controls_not_configured");
    h.refused(
        cet(2026, 12, 30, 12, 0),
        SELLER,
        propose_trusted(),
        "calendar_not_covered",
    );
}

/// Asks `may_decide` and then the engine itself, and checks both agree: an
/// accepted question means an accepted command, a refusal the same code.
fn decide_agrees(
    h: &mut Harness,
    at: Timestamp,
    who: ParticipantId,
    id: TransactionId,
    decision: Decision,
) {
    let asked = h.registry.may_decide(id, who, decision);
    let command = match decision {
        Decision::Approve => RegistryCommand::Approve { transaction: id },
        Decision::Reject => RegistryCommand::Reject { transaction: id },
        Decision::Withdraw => RegistryCommand::Withdraw { transaction: id },
    };
    match asked {
        Ok(()) => {
            h.ok(at, who, command);
        }
        Err(error) => h.refused(at, who, command, error.code()),
    }
}

#[test]
fn approvers_include_additional_representatives_but_never_the_proposer() {
    let mut h = harness();
    let set = RegistryCommand::SetAdditionalRepresentatives {
        account: SELLER_ACCOUNT,
        representatives: vec![SELLER_AAR],
    };
    h.ok(cet(2025, 3, 3, 9, 0), ADMIN, set);
    let at = cet(2025, 3, 4, 11, 0);
    let (id, _) = h.transfer(at, SELLER, 10);
    assert_eq!(h.registry.approvers(id), vec![SELLER_2, SELLER_AAR]);
    // The proposer may not approve its own proposal, but may withdraw it.
    assert_eq!(
        h.registry
            .may_decide(id, SELLER, Decision::Approve)
            .unwrap_err()
            .code(),
        "self_approval"
    );
    assert_eq!(
        h.registry.decisions(id, SELLER),
        vec![Decision::Reject, Decision::Withdraw]
    );
    // The additional representative approves only.
    assert_eq!(
        h.registry.decisions(id, SELLER_AAR),
        vec![Decision::Approve]
    );
    assert!(h.registry.decisions(id, STRANGER).is_empty());
    // Once signed, the second representative is no longer asked.
    h.ok(at, SELLER_2, RegistryCommand::Approve { transaction: id });
    assert_eq!(h.registry.approvers(id), vec![SELLER_AAR]);
    assert_eq!(
        h.registry
            .may_decide(id, SELLER_2, Decision::Approve)
            .unwrap_err()
            .code(),
        "already_approved"
    );
    h.ok(at, SELLER_AAR, RegistryCommand::Approve { transaction: id });
    // Delayed now: nobody approves any more; a representative may still cancel it.
    assert_eq!(h.status(id), TransactionStatus::Delayed);
    assert!(h.registry.approvers(id).is_empty());
    assert_eq!(h.registry.decisions(id, SELLER_2), vec![Decision::Withdraw]);
}

#[test]
fn may_decide_answers_as_the_engine_does_for_additional_representatives() {
    let mut h = harness();
    let set = RegistryCommand::SetAdditionalRepresentatives {
        account: SELLER_ACCOUNT,
        representatives: vec![SELLER_AAR],
    };
    h.ok(cet(2025, 3, 3, 9, 0), ADMIN, set);
    let at = cet(2025, 3, 4, 11, 0);
    let (id, _) = h.transfer(at, SELLER, 10);
    // The additional representative cannot reject nor withdraw: both refused alike.
    let refused = h.registry.may_decide(id, SELLER_AAR, Decision::Reject);
    assert!(
        refused.is_err(),
        "an additional representative only approves"
    );
    decide_agrees(&mut h, at, SELLER_AAR, id, Decision::Reject);
    decide_agrees(&mut h, at, SELLER_AAR, id, Decision::Withdraw);
    decide_agrees(&mut h, at, SELLER, id, Decision::Approve);
    decide_agrees(&mut h, at, STRANGER, id, Decision::Approve);
    assert_eq!(h.status(id), TransactionStatus::AwaitingApproval);
    // Accepted questions are accepted commands: approve, then the proposer rejects another.
    decide_agrees(&mut h, at, SELLER_AAR, id, Decision::Approve);
    let (other, _) = h.transfer(at, SELLER, 5);
    decide_agrees(&mut h, at, SELLER, other, Decision::Reject);
    assert_eq!(h.status(other), TransactionStatus::Rejected);
}
