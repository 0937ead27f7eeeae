//! The registry's security controls inside the engine: a delayed transfer
//! completes when any later command (of any domain) arrives after its end,
//! snapshots carry the controls, and a state without controls encodes
//! exactly as before they existed.

use ets_engine::exchange::ExchangeCommand;
use ets_engine::{Applied, Command, Engine, Envelope};
use ets_model::{
    AccountId, Code, Money, ParticipantId, Quantity, RequestId, Timestamp, TransactionId,
    UnitClass, Vintage,
};
use ets_registry::{
    AccountKind, ControlSettings, ParticipantKind, RegistryCommand, TransactionStatus,
};
use ets_time::{CivilDate, EU_EEX_TOML, TimeZone};

const ADMIN: ParticipantId = ParticipantId(1);
const SELLER: ParticipantId = ParticipantId(2);
const BUYER: ParticipantId = ParticipantId(3);

fn eua() -> UnitClass {
    UnitClass::Allowance {
        scheme: Code::try_new("EUA").expect("code"),
        vintage: Vintage(2025),
    }
}

fn cet(day: u8, hour: u32) -> Timestamp {
    let date = CivilDate::try_new(2025, 3, day).expect("date");
    TimeZone::CentralEuropean.instant_of(date, hour * 60)
}

struct Session {
    engine: Engine,
    next_request: u64,
}

impl Session {
    fn send(&mut self, at: Timestamp, requester: ParticipantId, command: Command) -> Applied {
        self.next_request += 1;
        self.engine.apply(&Envelope {
            request_id: RequestId(self.next_request),
            requester,
            time: at,
            command,
        })
    }

    fn ok(&mut self, at: Timestamp, requester: ParticipantId, command: RegistryCommand) {
        let applied = self.send(at, requester, Command::Registry(command));
        assert!(applied.outcome().is_accepted(), "{applied:?}");
    }
}

/// An engine with a seller holding 100 EUA and one transfer of 40 to the buyer, delayed.
fn with_a_delayed_transfer(controls: bool) -> Session {
    let mut session = Session {
        engine: Engine::new(),
        next_request: 0,
    };
    let at = cet(3, 9);
    for (id, kind, name) in [
        (ADMIN, ParticipantKind::Administrator, "Administrator"),
        (SELLER, ParticipantKind::Institution, "Seller"),
        (BUYER, ParticipantKind::Institution, "Buyer"),
    ] {
        let name = name.to_owned();
        session.ok(
            at,
            ADMIN,
            RegistryCommand::RegisterParticipant { id, kind, name },
        );
    }
    for (id, kind, holder) in [
        (AccountId(1), AccountKind::Issuance, ADMIN),
        (AccountId(10), AccountKind::Trading, SELLER),
        (AccountId(20), AccountKind::Trading, BUYER),
    ] {
        let representatives = vec![holder];
        let open = RegistryCommand::OpenAccount {
            id,
            kind,
            holder,
            representatives,
            approvals_required: 1,
        };
        session.ok(at, ADMIN, open);
    }
    let quantity = Quantity::new(100);
    session.ok(
        at,
        ADMIN,
        RegistryCommand::Issue {
            class: eua(),
            quantity,
        },
    );
    let fund = RegistryCommand::Transfer {
        from: AccountId(1),
        to: AccountId(10),
        class: eua(),
        quantity,
    };
    session.ok(at, ADMIN, fund);
    if controls {
        let settings = ControlSettings::eu_defaults(EU_EEX_TOML.to_owned());
        let scheme = Code::try_new("EUA").expect("code");
        session.ok(at, ADMIN, RegistryCommand::SetControls { scheme, settings });
        let transfer = RegistryCommand::Transfer {
            from: AccountId(10),
            to: AccountId(20),
            class: eua(),
            quantity: Quantity::new(40),
        };
        session.ok(cet(3, 11), SELLER, transfer);
    }
    session
}

fn status(session: &Session, id: u64) -> TransactionStatus {
    let registry = session.engine.registry();
    registry
        .transaction(TransactionId(id))
        .expect("exists")
        .status()
}

#[test]
fn a_later_command_of_another_domain_completes_a_delay_that_has_ended() {
    let mut session = with_a_delayed_transfer(true);
    assert_eq!(status(&session, 3), TransactionStatus::Delayed);
    // An exchange command (refused: there is no such cash account) after the end.
    let deposit = ExchangeCommand::DepositCash {
        account: AccountId(99),
        amount: Money::new(1),
    };
    session.send(cet(4, 13), ADMIN, Command::Exchange(deposit));
    assert_eq!(status(&session, 3), TransactionStatus::Completed);
    session.engine.check_invariants().expect("invariants hold");
}

#[test]
fn snapshots_carry_the_controls_and_replaying_gives_the_same_hash() {
    let session = with_a_delayed_transfer(true);
    let bytes = session.engine.encode_snapshot();
    let restored = Engine::decode_snapshot(&bytes).expect("decodes");
    assert_eq!(restored.state_hash(), session.engine.state_hash());
    assert_eq!(restored.registry(), session.engine.registry());
    // The restored engine still completes the delay.
    let mut restored_session = Session {
        engine: restored,
        next_request: 100,
    };
    restored_session.ok(cet(4, 13), ADMIN, RegistryCommand::ReleaseDue);
    assert_eq!(status(&restored_session, 3), TransactionStatus::Completed);
    restored_session
        .engine
        .check_invariants()
        .expect("invariants hold");
}

#[test]
fn only_a_state_with_controls_carries_their_section() {
    let session = with_a_delayed_transfer(false);
    let bytes = session.engine.encode_snapshot();
    let restored = Engine::decode_snapshot(&bytes).expect("decodes");
    assert!(restored.registry().controls().is_empty());
    // With controls, the encoding grows by their section and no more.
    let with = with_a_delayed_transfer(true);
    let controls = postcard::to_stdvec(with.engine.registry().controls()).expect("encodes");
    let encoded = with.engine.encode_snapshot();
    assert!(encoded.ends_with(&controls));
}
