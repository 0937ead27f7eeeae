//! The exchange through the engine's front door: an account with money at the
//! exchange cannot be closed until the money is withdrawn.

use ets_engine::exchange::ExchangeCommand;
use ets_engine::{Command, Engine, Envelope, Outcome};
use ets_model::{AccountId, Money, ParticipantId, RequestId, Timestamp};
use ets_registry::{AccountKind, AccountStatus, ParticipantKind, RegistryCommand};

fn send(engine: &mut Engine, request: u64, requester: u64, command: Command) -> Outcome {
    let envelope = Envelope {
        request_id: RequestId(request),
        requester: ParticipantId(requester),
        time: Timestamp(1_700_000_000_000 + request as i64),
        command,
    };
    let outcome = engine.apply(&envelope).outcome().clone();
    engine.check_invariants().expect("invariants hold");
    outcome
}

#[test]
fn an_account_with_cash_at_the_exchange_cannot_be_closed_until_it_is_withdrawn() {
    // Goal: closing must not strand money or orders at the exchange.
    let mut engine = Engine::new();
    let register = |id: u64, kind| {
        Command::Registry(RegistryCommand::RegisterParticipant {
            id: ParticipantId(id),
            kind,
            name: format!("p{id}"),
        })
    };
    let setup = [
        (1, register(1, ParticipantKind::Administrator)),
        (1, register(2, ParticipantKind::Exchange)),
        (1, register(5, ParticipantKind::Institution)),
        (
            1,
            Command::Registry(RegistryCommand::OpenAccount {
                id: AccountId(12),
                kind: AccountKind::Trading,
                holder: ParticipantId(5),
                representatives: vec![ParticipantId(5)],
                approvals_required: 1,
            }),
        ),
        (
            2,
            Command::Exchange(ExchangeCommand::DepositCash {
                account: AccountId(12),
                amount: Money::new(500_000),
            }),
        ),
    ];
    for (index, (requester, command)) in setup.into_iter().enumerate() {
        let outcome = send(&mut engine, index as u64 + 1, requester, command);
        assert!(outcome.is_accepted(), "{outcome:?}");
    }
    let close = || {
        Command::Registry(RegistryCommand::SetAccountStatus {
            account: AccountId(12),
            status: AccountStatus::Closed,
        })
    };
    assert_eq!(
        send(&mut engine, 10, 1, close()).code(),
        "account_has_exchange_positions"
    );
    let withdraw = Command::Exchange(ExchangeCommand::WithdrawCash {
        account: AccountId(12),
        amount: Money::new(500_000),
    });
    assert!(send(&mut engine, 11, 2, withdraw).is_accepted());
    assert!(send(&mut engine, 12, 1, close()).is_accepted());
}
