//! `ets demo`: a short scripted registry session through the real store
//! (JSON command lines, sequencer, journal, engine), then the balances.

use anyhow::{Context, Result, bail};
use ets_api::parse_request;
use ets_engine::Effect;
use ets_engine::Outcome;
use ets_registry::Effect as RegistryEffect;
use ets_store::{Store, StoreConfig, StoreKind, Submission};
use std::path::PathBuf;
use std::process::ExitCode;

/// The session, as the JSON lines a client would send (docs/commands.md).
/// Times are carried by the commands so that every run journals the same bytes.
const SESSION: &str = r#"
{"request_id":1,"requester":1,"time":"2021-02-01T09:00:00+08:00","command":"register_participant","id":1,"kind":"administrator","name":"Ministry of Ecology and Environment"}
{"request_id":2,"requester":1,"time":"2021-02-01T09:00:00+08:00","command":"register_participant","id":2,"kind":"administrator","name":"Hubei registry operator"}
{"request_id":3,"requester":1,"time":"2021-02-01T09:00:00+08:00","command":"register_participant","id":10,"kind":"covered_entity","name":"Huaneng Plant 1"}
{"request_id":4,"requester":1,"time":"2021-02-01T09:00:00+08:00","command":"register_participant","id":11,"kind":"individual","name":"Huaneng trading clerk"}
{"request_id":5,"requester":1,"time":"2021-02-01T09:00:00+08:00","command":"register_participant","id":12,"kind":"individual","name":"Huaneng compliance manager"}
{"request_id":6,"requester":1,"time":"2021-02-01T09:00:00+08:00","command":"register_participant","id":20,"kind":"covered_entity","name":"Datang Plant 7"}
{"request_id":7,"requester":1,"time":"2021-02-01T09:00:00+08:00","command":"register_participant","id":30,"kind":"institution","name":"Green Carbon Fund"}
{"request_id":8,"requester":1,"time":"2021-02-01T09:05:00+08:00","command":"open_account","id":1,"kind":"issuance","holder":1,"representatives":[1,2]}
{"request_id":9,"requester":1,"time":"2021-02-01T09:05:00+08:00","command":"open_account","id":2,"kind":"surrender","holder":1,"representatives":[1]}
{"request_id":10,"requester":1,"time":"2021-02-01T09:05:00+08:00","command":"open_account","id":3,"kind":"retirement","holder":1,"representatives":[1]}
{"request_id":11,"requester":1,"time":"2021-02-01T09:05:00+08:00","command":"open_account","id":4,"kind":"cancellation","holder":1,"representatives":[1]}
{"request_id":12,"requester":1,"time":"2021-02-01T09:05:00+08:00","command":"open_account","id":100,"kind":"operator_holding","holder":10,"representatives":[11,12],"approvals_required":2}
{"request_id":13,"requester":1,"time":"2021-02-01T09:05:00+08:00","command":"open_account","id":200,"kind":"operator_holding","holder":20,"representatives":[20]}
{"request_id":14,"requester":1,"time":"2021-02-01T09:05:00+08:00","command":"open_account","id":300,"kind":"trading","holder":30,"representatives":[30]}
{"request_id":15,"requester":1,"time":"2021-04-30T10:00:00+08:00","command":"issue","unit":"CEA-2021","quantity":10000000}
{"request_id":16,"requester":1,"time":"2021-04-30T10:10:00+08:00","command":"allocate","to":100,"unit":"CEA-2021","quantity":4263312}
{"request_id":17,"requester":1,"time":"2021-04-30T10:10:00+08:00","command":"allocate","to":200,"unit":"CEA-2021","quantity":3500000}
{"request_id":18,"requester":11,"time":"2021-07-16T09:31:00+08:00","command":"transfer","from":100,"to":300,"unit":"CEA-2021","quantity":200000}
{"request_id":19,"requester":11,"time":"2021-07-16T09:32:00+08:00","command":"approve","transaction":4}
{"request_id":20,"requester":12,"time":"2021-07-16T09:40:00+08:00","command":"approve","transaction":4}
{"request_id":21,"requester":20,"time":"2021-11-02T14:00:00+08:00","command":"transfer","from":200,"to":100,"unit":"CEA-2021","quantity":9000000}
{"request_id":22,"requester":11,"time":"2021-12-20T10:00:00+08:00","command":"surrender","from":100,"unit":"CEA-2021","quantity":4000000,"compliance_year":2021}
{"request_id":23,"requester":12,"time":"2021-12-20T11:00:00+08:00","command":"approve","transaction":5}
{"request_id":24,"requester":30,"time":"2021-12-28T15:00:00+08:00","command":"retire","from":300,"unit":"CEA-2021","quantity":1000,"beneficiary":"Shanghai marathon 2021, on behalf of its runners"}
"#;

/// Runs `ets tour`: the scripted registry session on an import store in
/// `data` (default: a temporary directory), printing the balances.
///
/// # Errors
/// The store cannot be created, or a step of the session is refused.
pub fn run(data: Option<PathBuf>) -> Result<ExitCode> {
    let temporary = tempfile::tempdir().context("cannot create a temporary directory")?;
    let dir = data.unwrap_or_else(|| temporary.path().join("store"));
    // The session is dated 2021: a historical import store, not a live one.
    let mut store = Store::create_of_kind(&dir, StoreConfig::default(), StoreKind::Import)
        .with_context(|| format!("cannot create a store in {}", dir.display()))?;
    println!(
        "openets demo: a registry session on the embedded store in {}\n",
        dir.display()
    );
    let submissions = SESSION
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            parse_request(line).map(|request| Submission {
                request_id: request.request_id,
                requester: request.requester,
                time: request.time,
                command: request.command,
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .context("the demo script has a malformed line")?;
    if let Some(notice) = store.kind().not_live_notice() {
        println!("{notice}\n");
    }
    let replies = store.submit_dated(&submissions)?;
    for (submission, reply) in submissions.iter().zip(&replies) {
        let verdict = match &reply.outcome {
            Outcome::Accepted(effect) => format!("ok       {}", describe(effect)),
            Outcome::Rejected(rejection) => {
                format!("REFUSED  {}: {}", rejection.code, rejection.message)
            }
        };
        println!(
            "{:>3} {:<22} {}",
            submission.request_id.0,
            submission.command.name(),
            verdict
        );
    }
    print_balances(&store)?;
    drop(store);
    let report = ets_store::verify(&dir)?;
    println!(
        "\njournal verified: {} records, every checksum and hash link holds, replay matches; state hash {}",
        report.records, report.state_hash
    );
    Ok(ExitCode::SUCCESS)
}

fn describe(effect: &Effect) -> String {
    match effect {
        Effect::Registry(RegistryEffect::ParticipantRegistered(id)) => {
            format!("participant {id} registered")
        }
        Effect::Registry(RegistryEffect::AccountOpened(id)) => format!("account {id} opened"),
        Effect::Registry(RegistryEffect::AccountUpdated(id)) => format!("account {id} updated"),
        Effect::Registry(RegistryEffect::Transaction { id, status }) => {
            format!("transaction {id} {}", status.name())
        }
        Effect::Registry(RegistryEffect::ControlsSet) => "security controls set".to_owned(),
        Effect::Registry(RegistryEffect::DelaysReleased(count)) => {
            format!("{count} delayed transfers released")
        }
        Effect::Compliance(effect) => format!("{effect:?}"),
        Effect::Exchange(effect) => format!("{effect:?}"),
        Effect::Clock(ets_engine::clock::ClockEffect::Advanced { to, .. }) => {
            format!("clock advanced to {}", ets_api::format_time(*to))
        }
    }
}

fn print_balances(store: &Store) -> Result<()> {
    let registry = store.engine().registry();
    println!("\nBalances after the session (tonnes of CO2):");
    println!(
        "{:>7}  {:<17} {:<36} {:<9} {:>12}",
        "account", "kind", "holder", "unit", "held"
    );
    let mut issued_total = 0;
    for (class_index, class) in registry.classes() {
        issued_total += registry.issued_quantity(class_index).tonnes();
        for account in registry.accounts() {
            let Some(holding) = account.holding(class_index) else {
                continue;
            };
            let holder = registry.participant(account.holder)?;
            println!(
                "{:>7}  {:<17} {:<36} {:<9} {:>12}",
                account.id.0,
                account.kind.name(),
                holder.name,
                class.to_string(),
                holding.total().tonnes()
            );
        }
    }
    let held_total: u64 = registry
        .accounts()
        .flat_map(|account| account.holdings().map(|(_, h)| h.total().tonnes()))
        .sum();
    println!(
        "{:>7}  issued {issued_total}, held across all accounts {held_total}",
        "total"
    );
    if issued_total != held_total {
        bail!("units were created or lost: issued {issued_total}, held {held_total}");
    }
    println!(
        "\nAccount 100 needs two signatures: the clerk's own approval was refused (four-eyes rule) and the manager's completed the transfer;\nDatang's transfer beyond its holding was refused and changed nothing."
    );
    Ok(())
}

/// The default scenario of `ets demo` and its rulebook, built into the
/// binary so that the demo runs from any directory and after `cargo install`.
const DEFAULT_SCENARIO: &str = include_str!("../../../scenarios/cn-power-2021.toml");
/// The rulebook the default scenario names (`../schemes/cn-power-2021.toml`).
const DEFAULT_RULEBOOK: &str = include_str!("../../../schemes/cn-power-2021.toml");

/// Writes the built-in default scenario and its rulebook into a temporary
/// folder laid out as the repository is (`scenarios/`, `schemes/`), and
/// returns the folder (kept alive by the caller) and the scenario's path.
///
/// # Errors
/// When the temporary folder cannot be written.
pub fn default_scenario() -> Result<(tempfile::TempDir, PathBuf)> {
    let folder = tempfile::tempdir().context("cannot create a temporary folder")?;
    let scenarios = folder.path().join("scenarios");
    let schemes = folder.path().join("schemes");
    std::fs::create_dir_all(&scenarios)?;
    std::fs::create_dir_all(&schemes)?;
    std::fs::write(schemes.join("cn-power-2021.toml"), DEFAULT_RULEBOOK)?;
    let scenario = scenarios.join("cn-power-2021.toml");
    std::fs::write(&scenario, DEFAULT_SCENARIO)?;
    Ok((folder, scenario))
}
