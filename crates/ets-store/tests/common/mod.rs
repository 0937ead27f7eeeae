//! What the PostgreSQL tests share: a registry session of commands and a
//! driver that submits it in batches of seven.

#![allow(dead_code)]

use ets_engine::Command;
use ets_model::{
    AccountId, Code, ParticipantId, Quantity, RequestId, Timestamp, UnitClass, Vintage,
};
use ets_registry::{AccountKind, ParticipantKind, RegistryCommand};
use ets_store::{Store, Submission};

pub fn class() -> UnitClass {
    UnitClass::Allowance {
        scheme: Code::try_new("CEA").expect("a code"),
        vintage: Vintage(2021),
    }
}

/// A registry session: participants, accounts, an issue and transfers (one refused).
pub fn commands() -> Vec<Submission> {
    let mut commands = vec![
        RegistryCommand::RegisterParticipant {
            id: ParticipantId(1),
            kind: ParticipantKind::Administrator,
            name: "admin".into(),
        },
        RegistryCommand::OpenAccount {
            id: AccountId(1),
            kind: AccountKind::Issuance,
            holder: ParticipantId(1),
            representatives: vec![ParticipantId(1)],
            approvals_required: 1,
        },
        RegistryCommand::Issue {
            class: class(),
            quantity: Quantity::new(1_000_000),
        },
    ];
    for trader in 100..110 {
        commands.push(RegistryCommand::RegisterParticipant {
            id: ParticipantId(trader),
            kind: ParticipantKind::Institution,
            name: format!("trader {trader}"),
        });
        commands.push(RegistryCommand::OpenAccount {
            id: AccountId(trader),
            kind: AccountKind::Trading,
            holder: ParticipantId(trader),
            representatives: vec![ParticipantId(trader)],
            approvals_required: 1,
        });
        commands.push(RegistryCommand::Transfer {
            from: AccountId(1),
            to: AccountId(trader),
            class: class(),
            quantity: Quantity::new(50_000 + trader),
        });
    }
    // Refused: more than the account holds.
    commands.push(RegistryCommand::Transfer {
        from: AccountId(100),
        to: AccountId(101),
        class: class(),
        quantity: Quantity::new(10_000_000),
    });
    commands
        .into_iter()
        .enumerate()
        .map(|(index, command)| Submission {
            request_id: RequestId(index as u64 + 1),
            requester: ParticipantId(if index < 3 || index % 3 == 2 {
                1
            } else {
                100 + (index as u64 - 3) / 3
            }),
            time: None,
            command: Command::Registry(command),
        })
        .collect()
}

pub fn run(store: &mut Store, commands: &[Submission]) {
    for (batch, chunk) in commands.chunks(7).enumerate() {
        store
            .submit(chunk, Timestamp(1_700_000_000_000 + batch as i64))
            .expect("durable");
    }
}
