//! The harness the compliance tests share: commands through the engine with
//! increasing times, invariants after each, refusals compared before and after.

use ets_engine::{Command, Engine, Envelope, Outcome};
use ets_model::{AccountId, ParticipantId, RequestId, Timestamp, UnitClass};

/// An engine driven one command at a time.
pub struct Harness {
    /// The engine.
    pub engine: Engine,
    /// The last request id used.
    pub request: u64,
    /// The last command's time; each command comes one second later.
    pub time_ms: i64,
}

impl Harness {
    /// A fresh engine whose first command is dated one second after `start_ms`.
    pub fn starting_at(start_ms: i64) -> Harness {
        Harness {
            engine: Engine::new(),
            request: 0,
            time_ms: start_ms,
        }
    }

    /// Applies a command and checks every invariant afterwards.
    pub fn send(&mut self, requester: ParticipantId, command: Command) -> Outcome {
        self.request += 1;
        self.time_ms += 1_000;
        let envelope = Envelope {
            request_id: RequestId(self.request),
            requester,
            time: Timestamp(self.time_ms),
            command,
        };
        let outcome = self.engine.apply(&envelope).outcome().clone();
        self.engine
            .check_invariants()
            .expect("registry invariants hold after every command");
        outcome
    }

    /// Applies a command that must be accepted.
    pub fn ok(&mut self, requester: ParticipantId, command: Command) {
        let outcome = self.send(requester, command);
        assert!(outcome.is_accepted(), "{outcome:?}");
    }

    /// Applies a command that must be refused with `code`, and checks it changed nothing:
    /// registry, compliance and exchange are equal before and after (only the remembered
    /// outcome of its request id differs).
    pub fn refused(&mut self, requester: ParticipantId, command: Command, code: &str) {
        let before = self.engine.clone();
        let outcome = self.send(requester, command);
        assert_eq!(outcome.code(), code, "{outcome:?}");
        assert_eq!(
            before.registry(),
            self.engine.registry(),
            "a refusal changed the registry"
        );
        assert_eq!(
            before.compliance(),
            self.engine.compliance(),
            "a refusal changed compliance state"
        );
        assert_eq!(
            before.exchange(),
            self.engine.exchange(),
            "a refusal changed the exchange"
        );
    }

    /// Units of `class` held by `account`.
    pub fn held(&self, account: AccountId, class: &UnitClass) -> u64 {
        let registry = self.engine.registry();
        registry
            .class_index(class)
            .ok()
            .and_then(|index| {
                registry
                    .account(account)
                    .ok()?
                    .holding(index)
                    .map(|h| h.total().tonnes())
            })
            .unwrap_or(0)
    }
}
