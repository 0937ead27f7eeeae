//! `ets bench ledger`: registry transfers with serial blocks through the real
//! engine, first in memory, then through the store (journal, one fsync per
//! batch), then the store's recovery (every record replayed, no snapshot).
//! `ets bench replay`: the recovery of an existing store. Prints JSON figures
//! (with serial blocks moved and held and the peak resident memory beside
//! each); asserts nothing about time.

use anyhow::{Context, Result, bail};
use clap::{Subcommand, ValueEnum};
use ets_engine::{Command, Engine, Envelope, Outcome};
use ets_model::{
    AccountId, Code, ParticipantId, Quantity, RequestId, Timestamp, UnitClass, Vintage,
};
use ets_registry::{AccountKind, ParticipantKind, Registry, RegistryCommand, SerialPolicy};
use ets_store::{Store, StoreConfig, Submission};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Which benchmark.
#[derive(Subcommand)]
pub enum Bench {
    /// Registry transfers between uniformly random accounts: in memory, then durable.
    ///
    /// The default workload matches TigerBeetle's own `benchmark` (10,000 accounts,
    /// 10,000,000 transfers, batches of 8,189) so the two can be run side by side.
    /// Example: `ets bench ledger --transfers 1000000`
    Ledger {
        /// How many transfers.
        #[arg(long, default_value_t = 10_000_000)]
        transfers: u64,
        /// Transfers per batch (one fsync per batch in the durable run).
        #[arg(long, default_value_t = crate::BATCH_MAX_DEFAULT)]
        batch: usize,
        /// How many accounts transfers pick from.
        #[arg(long, default_value_t = 10_000)]
        accounts: u64,
        /// Put the durable run's store here (default: a temporary directory).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Seed of the workload's random choices.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Which serials transfers take (docs/serials.md).
        #[arg(long, value_enum, default_value_t = Policy::LargestFirst)]
        serial_policy: Policy,
        /// The engine's retention window in commands, as `ets init` sets it
        /// (docs/memory.md); 0 keeps every transaction and request id.
        #[arg(long, default_value_t = ets_engine::retention::DEFAULT_WINDOW)]
        retention: u64,
        /// How the durable run commits: `pipelined` writes and fsyncs each
        /// batch on a thread of its own while the next is applied;
        /// `one-at-a-time` applies, writes and fsyncs each batch in turn.
        #[arg(long, value_enum, default_value_t = CommitMode::Pipelined)]
        commit: CommitMode,
    },
    /// One order book: pure matching, the engine with DvP settlement, open-loop latency.
    ///
    /// Example: `ets bench market --rates 100000,1000000`
    Market(crate::bench_market::MarketArgs),
    /// Transfers and orders over HTTP against `ets serve` (docs/benchmarks.md).
    Http(crate::bench_http::HttpArgs),
    /// Opens an existing store read-only and replays every record of its journal from the
    /// first, ignoring snapshots: the worst case of recovery.
    ///
    /// Example: `ets bench replay --data ./store`
    Replay {
        /// The store to replay (it is not changed).
        #[arg(long)]
        data: PathBuf,
    },
}

/// The serial policy a benchmark store is set to.
#[derive(Clone, Copy, ValueEnum)]
pub enum Policy {
    /// Lowest serials first (the policy of stores that never chose one).
    OldestFirst,
    /// Whole blocks largest first, splitting at most one.
    LargestFirst,
}

impl From<Policy> for SerialPolicy {
    fn from(policy: Policy) -> SerialPolicy {
        match policy {
            Policy::OldestFirst => SerialPolicy::OldestFirst,
            Policy::LargestFirst => SerialPolicy::LargestFirst,
        }
    }
}

/// How the durable run commits its batches.
#[derive(Clone, Copy, ValueEnum)]
pub enum CommitMode {
    /// `Store::submit_dated_pipelined`: batch N's write and fsync overlap applying N+1.
    Pipelined,
    /// `Store::submit_dated` per batch: apply, write, fsync, reply, then the next.
    OneAtATime,
}

/// The workload's parameters.
struct Workload {
    transfers: u64,
    batch: usize,
    accounts: u64,
    seed: u64,
    serial_policy: SerialPolicy,
    /// The retention window in commands; `None` keeps everything.
    retention: Option<u64>,
    /// How the durable run commits.
    commit: CommitMode,
}

const ADMIN: ParticipantId = ParticipantId(1);
const ISSUANCE: AccountId = AccountId(1);
/// Account i (0-based) has id FIRST_ACCOUNT + i and is held by participant FIRST_ACCOUNT + i.
const FIRST_ACCOUNT: u64 = 1_000;
const UNITS_PER_ACCOUNT: u64 = 1_000_000_000;
/// Mean transfer size: TigerBeetle's benchmark draws amounts from an exponential
/// distribution with mean 10,000 (plus one), and so do we.
const TRANSFER_QUANTITY_MEAN: f64 = 10_000.0;
const START_MS: i64 = 1_700_000_000_000;

/// Runs one `ets bench` benchmark and prints its figures as JSON.
///
/// # Errors
/// A workload that cannot run (fewer than 2 accounts, a batch of 0), a store
/// that cannot be created or read, or a setup command refused.
pub fn run(bench: Bench) -> Result<ExitCode> {
    match bench {
        Bench::Ledger {
            transfers,
            batch,
            accounts,
            data,
            seed,
            serial_policy,
            retention,
            commit,
        } => {
            if accounts < 2 || batch == 0 {
                bail!("a ledger benchmark needs at least 2 accounts and a batch of at least 1");
            }
            ledger(
                &Workload {
                    transfers,
                    batch,
                    accounts,
                    seed,
                    serial_policy: serial_policy.into(),
                    retention: (retention > 0).then_some(retention),
                    commit,
                },
                data,
            )
        }
        Bench::Market(args) => crate::bench_market::run(args),
        Bench::Http(args) => crate::bench_http::run(args),
        Bench::Replay { data } => {
            let figures = replay(&data)?;
            println!("{}", serde_json::to_string_pretty(&figures.to_json())?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// What a full replay of a journal took.
struct ReplayFigures {
    records: u64,
    elapsed: Duration,
}

impl ReplayFigures {
    fn to_json(&self) -> serde_json::Value {
        json!({
            "records": self.records,
            "seconds": self.elapsed.as_secs_f64(),
            "records_per_second": (self.records as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)).round(),
            "what": "one pass: the read-only open's scan checks every record (CRC32C, BLAKE3, chain), decodes it and digests its command on its own thread and hands it over; apply it to a fresh engine, compare its outcome code; the loss check at the end",
        })
    }
}

/// Replays the whole journal of the store in `dir` into a fresh engine, as
/// recovery without a snapshot does.
///
/// The engine is not dropped but leaked: the process ends right after the
/// figures are printed, and freeing a replayed store's state (about a
/// million transactions, outcomes and holdings' chunks) one allocation at a
/// time only to hand the pages back to the kernel at exit cost wall time
/// outside the bench's own figure (docs/benchmarks.md, "Replay", round 7b).
fn replay(dir: &std::path::Path) -> Result<ReplayFigures> {
    let started = Instant::now();
    let (engine, records) = ets_store::replay(dir)
        .with_context(|| format!("cannot replay the store in {}", dir.display()))?;
    let elapsed = started.elapsed();
    std::mem::forget(engine);
    Ok(ReplayFigures { records, elapsed })
}

fn class() -> Result<UnitClass> {
    Ok(UnitClass::Allowance {
        scheme: Code::try_new("CEA")?,
        vintage: Vintage(2021),
    })
}

/// SplitMix64 ([`ets_market::splitmix64`]): a small, fast, seeded generator
/// for the workload (outside the engine).
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        let output = ets_market::splitmix64(self.0);
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        output
    }

    /// A draw from the exponential distribution with `mean`, rounded down
    /// (floats are fine here: this is the workload generator, not the ledger).
    fn exponential(&mut self, mean: f64) -> u64 {
        let uniform = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        (-(1.0 - uniform).ln() * mean) as u64
    }

    fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(bound)) >> 64) as u64
    }
}

/// The commands that create the administrator, the accounts and their units,
/// numbered from request id 1 and dated at the start.
fn setup(workload: &Workload) -> Result<Vec<Submission>> {
    let class = class()?;
    let mut commands = administration(workload.serial_policy);
    commands.extend(issuance(class, UNITS_PER_ACCOUNT * workload.accounts));
    for index in 0..workload.accounts {
        commands.extend(trader(class, FIRST_ACCOUNT + index));
    }
    // Bounded retention first, as `ets init` writes it.
    let retention = workload
        .retention
        .map(|commands| (ParticipantId(0), Command::SetRetention { commands }));
    Ok(retention
        .into_iter()
        .chain(
            commands
                .into_iter()
                .map(|(requester, command)| (requester, Command::Registry(command))),
        )
        .enumerate()
        .map(|(index, (requester, command))| Submission {
            request_id: RequestId(index as u64 + 1),
            requester,
            time: Some(Timestamp(START_MS)),
            command,
        })
        .collect())
}

/// The administrator, its issuance account and the serial policy.
fn administration(policy: SerialPolicy) -> Vec<(ParticipantId, RegistryCommand)> {
    vec![
        (
            ADMIN,
            RegistryCommand::RegisterParticipant {
                id: ADMIN,
                kind: ParticipantKind::Administrator,
                name: "administrator".into(),
            },
        ),
        (
            ADMIN,
            RegistryCommand::OpenAccount {
                id: ISSUANCE,
                kind: AccountKind::Issuance,
                holder: ADMIN,
                representatives: vec![ADMIN],
                approvals_required: 1,
            },
        ),
        (ADMIN, RegistryCommand::SetSerialPolicy { policy }),
    ]
}

/// Issues `tonnes` in parts: one command may issue at most
/// `Quantity::MAX_PER_COMMAND` (the parts' serial ranges are adjacent, so
/// they merge into one block).
fn issuance(class: UnitClass, tonnes: u64) -> Vec<(ParticipantId, RegistryCommand)> {
    let mut commands = Vec::new();
    let mut to_issue = tonnes;
    while to_issue > 0 {
        let part = to_issue.min(Quantity::MAX_PER_COMMAND.tonnes());
        commands.push((
            ADMIN,
            RegistryCommand::Issue {
                class,
                quantity: Quantity::new(part),
            },
        ));
        to_issue -= part;
    }
    commands
}

/// Trader `id`: the participant, its trading account (the same id) and its units.
fn trader(class: UnitClass, id: u64) -> [(ParticipantId, RegistryCommand); 3] {
    [
        (
            ADMIN,
            RegistryCommand::RegisterParticipant {
                id: ParticipantId(id),
                kind: ParticipantKind::Institution,
                name: format!("trader {id}"),
            },
        ),
        (
            ADMIN,
            RegistryCommand::OpenAccount {
                id: AccountId(id),
                kind: AccountKind::Trading,
                holder: ParticipantId(id),
                representatives: vec![ParticipantId(id)],
                approvals_required: 1,
            },
        ),
        (
            ADMIN,
            RegistryCommand::Transfer {
                from: ISSUANCE,
                to: AccountId(id),
                class,
                quantity: Quantity::new(UNITS_PER_ACCOUNT),
            },
        ),
    ]
}

/// One batch of random transfers; request ids continue after the setup's.
fn transfers(
    random: &mut Random,
    workload: &Workload,
    first_request: u64,
    count: usize,
    class: UnitClass,
) -> Vec<Submission> {
    (0..count as u64)
        .map(|offset| {
            let from = random.below(workload.accounts);
            let to = (from + 1 + random.below(workload.accounts - 1)) % workload.accounts;
            let request = first_request + offset;
            Submission {
                request_id: RequestId(request),
                requester: ParticipantId(FIRST_ACCOUNT + from),
                time: Some(Timestamp(START_MS + (request / 1_000) as i64)),
                command: Command::Registry(RegistryCommand::Transfer {
                    from: AccountId(FIRST_ACCOUNT + from),
                    to: AccountId(FIRST_ACCOUNT + to),
                    class,
                    quantity: Quantity::new(1 + random.exponential(TRANSFER_QUANTITY_MEAN)),
                }),
            }
        })
        .collect()
}

fn envelope(submission: &Submission) -> Envelope {
    Envelope {
        request_id: submission.request_id,
        requester: submission.requester,
        time: submission.time.unwrap_or_default(),
        command: submission.command.clone(),
    }
}

fn progress(total: u64, label: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template(
        "{msg:>10} [{bar:40}] {pos}/{len} transfers ({per_sec}, eta {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(label);
    bar
}

/// Applies the workload to an engine in memory, timing only `apply`.
/// How fragmented the serial blocks became: the cost driver of serial tracking.
struct Fragmentation {
    blocks_moved_per_transaction: f64,
    blocks_held: usize,
}

fn in_memory(workload: &Workload, setup: &[Submission]) -> Result<(Duration, u64, Fragmentation)> {
    let mut engine = Engine::new();
    for submission in setup {
        check_accepted(engine.apply(&envelope(submission)).outcome(), "setup")?;
    }
    let bar = progress(workload.transfers, "in memory");
    let mut elapsed = Duration::ZERO;
    let mut rejected = 0u64;
    for batch in Batches::new(workload, setup.len() as u64 + 1)? {
        let batch: Vec<Envelope> = batch.iter().map(envelope).collect();
        let started = Instant::now();
        for envelope in &batch {
            if !engine.apply(envelope).outcome().is_accepted() {
                rejected += 1;
            }
        }
        elapsed += started.elapsed();
        bar.inc(batch.len() as u64);
    }
    bar.finish_and_clear();
    engine
        .check_invariants()
        .map_err(anyhow::Error::msg)
        .context("an invariant broke during the benchmark")?;
    Ok((
        elapsed,
        rejected,
        Fragmentation::of(engine.registry(), workload.transfers),
    ))
}

impl Fragmentation {
    /// Blocks moved by the last `transfers` transactions (the benchmark's own,
    /// not the setup's; under bounded retention, those the engine still
    /// retains) and blocks held by every account at the end.
    fn of(registry: &Registry, transfers: u64) -> Fragmentation {
        let recent = registry
            .transactions()
            .rev()
            .take(usize::try_from(transfers).unwrap_or(usize::MAX));
        let (count, blocks_moved) = recent.fold((0usize, 0usize), |(count, moved), transaction| {
            (count + 1, moved + transaction.blocks.len())
        });
        Fragmentation {
            blocks_moved_per_transaction: blocks_moved as f64 / count.max(1) as f64,
            blocks_held: registry
                .accounts()
                .flat_map(|account| account.holdings().map(|(_, holding)| holding.block_count()))
                .sum(),
        }
    }
}

/// Peak resident memory of this process in bytes (`VmHWM` in
/// /proc/self/status), if the system reports it.
fn peak_resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kilobytes: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kilobytes.checked_mul(1024)
}

/// Resets the peak resident memory to the current one (Linux: `5` into
/// /proc/self/clear_refs), so the next phase reports its own peak. Returns
/// whether it was reset.
fn reset_peak_resident() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Peak resident memory as JSON-friendly mebibytes, `None` when unknown.
fn peak_resident_mib() -> Option<f64> {
    peak_resident_bytes().map(|bytes| (bytes as f64 / 1_048_576.0).round())
}

/// What the durable run measured: the time the store took (workload
/// generation excluded), each batch's latency, and the refusals.
struct DurableRun {
    elapsed: Duration,
    latencies: Vec<Duration>,
    rejected: u64,
}

/// The durable run's transfers, batch by batch: the same whichever way the
/// store commits them.
struct Batches<'a> {
    workload: &'a Workload,
    random: Random,
    class: UnitClass,
    first_request: u64,
    done: u64,
}

impl<'a> Batches<'a> {
    fn new(workload: &'a Workload, first_request: u64) -> Result<Batches<'a>> {
        Ok(Batches {
            workload,
            random: Random(workload.seed),
            class: class()?,
            first_request,
            done: 0,
        })
    }
}

impl Iterator for Batches<'_> {
    type Item = Vec<Submission>;

    fn next(&mut self) -> Option<Vec<Submission>> {
        let remaining = self.workload.transfers - self.done;
        if remaining == 0 {
            return None;
        }
        let count = remaining.min(self.workload.batch as u64) as usize;
        let first = self.first_request + self.done;
        self.done += count as u64;
        Some(transfers(
            &mut self.random,
            self.workload,
            first,
            count,
            self.class,
        ))
    }
}

/// How many of `replies` were refused.
fn refused(replies: &[ets_store::Reply]) -> u64 {
    replies
        .iter()
        .filter(|reply| !reply.outcome.is_accepted())
        .count() as u64
}

/// The durable run, one batch at a time: the time is the sum of the batches'
/// `submit_dated` calls, each from the first command applied to its fsync.
fn durable_one_at_a_time(
    store: &mut Store,
    workload: &Workload,
    first_request: u64,
) -> Result<DurableRun> {
    let bar = progress(workload.transfers, "durable");
    let mut latencies = Vec::new();
    let mut rejected = 0;
    for batch in Batches::new(workload, first_request)? {
        let started = Instant::now();
        let replies = store.submit_dated(&batch)?;
        latencies.push(started.elapsed());
        rejected += refused(&replies);
        bar.inc(replies.len() as u64);
    }
    bar.finish_and_clear();
    Ok(DurableRun {
        elapsed: latencies.iter().sum(),
        latencies,
        rejected,
    })
}

/// The durable run pipelined (`Store::submit_dated_pipelined`): the time is
/// the run's wall time less the time spent generating the workload; a
/// batch's latency runs from when it is handed to the store to when its
/// replies come back durable.
fn durable_pipelined(
    store: &mut Store,
    workload: &Workload,
    first_request: u64,
) -> Result<DurableRun> {
    let bar = progress(workload.transfers, "durable");
    let mut batches = Batches::new(workload, first_request)?;
    let handed = std::cell::RefCell::new(std::collections::VecDeque::new());
    let mut generating = Duration::ZERO;
    let mut latencies = Vec::new();
    let mut rejected = 0;
    let started = Instant::now();
    let timed = std::iter::from_fn(|| {
        let generated = Instant::now();
        let batch = batches.next();
        generating += generated.elapsed();
        handed.borrow_mut().push_back(Instant::now());
        batch
    });
    store.submit_dated_pipelined(timed, |replies| {
        if let Some(handed) = handed.borrow_mut().pop_front() {
            latencies.push(handed.elapsed());
        }
        rejected += refused(&replies);
        bar.inc(replies.len() as u64);
    })?;
    let elapsed = started.elapsed().saturating_sub(generating);
    bar.finish_and_clear();
    Ok(DurableRun {
        elapsed,
        latencies,
        rejected,
    })
}

fn check_accepted(outcome: &Outcome, what: &str) -> Result<()> {
    match outcome {
        Outcome::Accepted(_) => Ok(()),
        Outcome::Rejected(rejection) => bail!(
            "{what} command refused: {} ({})",
            rejection.message,
            rejection.code
        ),
    }
}

fn percentile(sorted: &[Duration], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)].as_secs_f64() * 1_000.0
}

/// `ets bench ledger`: the workload in memory, then durable in a store in
/// `data` (default: a temporary directory), then that store's replay; prints
/// the figures as JSON.
fn ledger(workload: &Workload, data: Option<PathBuf>) -> Result<ExitCode> {
    let setup = setup(workload)?;
    let (elapsed, rejected, fragmentation) = in_memory(workload, &setup)?;
    let memory = MemoryFigures {
        elapsed,
        rejected,
        fragmentation,
        peak_mib: peak_resident_mib(),
    };
    // The in-memory engine is gone: the durable run reports its own peak.
    let peak_reset = reset_peak_resident();
    let temporary = tempfile::tempdir().context("cannot create a temporary directory")?;
    let dir = data.unwrap_or_else(|| temporary.path().join("store"));
    let mut durable = durable(workload, &setup, &dir, peak_reset)?;
    let replayed = replay(&dir)?;
    durable.run.latencies.sort_unstable();
    let report = json!({
        "benchmark": "ledger",
        "workload": workload.to_json(),
        "in_memory": memory.to_json(workload),
        "durable": durable.to_json(workload),
        "replay": replayed.to_json(),
        "reference_on_this_machine": {
            "tigerbeetle_transfers_per_second": "136,000-151,000 (10M transfers); 282,000-305,000 (1M)",
            "postgresql_15_transfers_per_second": "1,100-4,700 (one transaction per transfer; bench/pg_baseline.sh)",
        },
        "targets": { "in_memory_transfers_per_second": 2_000_000, "durable_transfers_per_second": 1_000_000, "replay_records_per_second": 1_000_000 },
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}

impl Workload {
    /// The workload's parameters as reported.
    fn to_json(&self) -> serde_json::Value {
        json!({
            "accounts": self.accounts,
            "transfers": self.transfers,
            "batch": self.batch,
            "quantity_tonnes": format!("1 + exponential, mean {TRANSFER_QUANTITY_MEAN} (as TigerBeetle's benchmark)"),
            "seed": self.seed,
            "serial_policy": match self.serial_policy {
                SerialPolicy::OldestFirst => "oldest-first",
                SerialPolicy::LargestFirst => "largest-first",
            },
            "retention_commands": self.retention,
        })
    }

    /// Transfers per second of a run of the whole workload that took `elapsed`.
    fn per_second(&self, elapsed: Duration) -> f64 {
        self.transfers as f64 / elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// What the in-memory run measured.
struct MemoryFigures {
    elapsed: Duration,
    rejected: u64,
    fragmentation: Fragmentation,
    /// The process's peak resident memory after the run, if known.
    peak_mib: Option<f64>,
}

impl MemoryFigures {
    /// The figures as reported.
    fn to_json(&self, workload: &Workload) -> serde_json::Value {
        json!({
            "transfers_per_second": workload.per_second(self.elapsed).round(),
            "seconds": self.elapsed.as_secs_f64(),
            "rejected": self.rejected,
            "serial_blocks_moved_per_transaction": self.fragmentation.blocks_moved_per_transaction,
            "serial_blocks_held_at_end": self.fragmentation.blocks_held,
            "peak_resident_mib": self.peak_mib,
        })
    }
}

/// What the durable run measured, with the store's state at its end.
struct DurableFigures {
    run: DurableRun,
    journal_bytes: u64,
    fragmentation: Fragmentation,
    /// The peak resident memory after the run, if known.
    peak_mib: Option<f64>,
    /// Whether the peak was reset after the in-memory run (else it is the whole process's).
    peak_reset: bool,
    /// What the engine still retains at the end.
    retained: serde_json::Value,
}

/// The durable run: a store on a virtual clock in `dir`, the setup in
/// batches, then the workload committed as `workload.commit` says. The store
/// is closed on return.
fn durable(
    workload: &Workload,
    setup: &[Submission],
    dir: &std::path::Path,
    peak_reset: bool,
) -> Result<DurableFigures> {
    let config = StoreConfig {
        snapshot_every_records: 0,
        ..StoreConfig::default()
    };
    // The benchmark dates its own commands, so its store runs on a virtual clock.
    let mut store = Store::create_of_kind(dir, config, ets_store::StoreKind::Virtual)
        .with_context(|| format!("cannot create a store in {}", dir.display()))?;
    for chunk in setup.chunks(workload.batch) {
        for reply in store.submit_dated(chunk)? {
            check_accepted(&reply.outcome, "setup")?;
        }
    }
    let bytes_before = store.journal().stats().bytes;
    let first_request = setup.len() as u64 + 1;
    let run = match workload.commit {
        CommitMode::Pipelined => durable_pipelined(&mut store, workload, first_request)?,
        CommitMode::OneAtATime => durable_one_at_a_time(&mut store, workload, first_request)?,
    };
    let journal_bytes = store.journal().stats().bytes - bytes_before;
    let fragmentation = Fragmentation::of(store.engine().registry(), workload.transfers);
    let peak_mib = peak_resident_mib();
    let retained = json!({
        "transactions": store.engine().registry().retained_transactions(),
        "request_ids": store.engine().remembered_requests(),
        "trades": store.engine().exchange().trades().len(),
    });
    Ok(DurableFigures {
        run,
        journal_bytes,
        fragmentation,
        peak_mib,
        peak_reset,
        retained,
    })
}

impl DurableFigures {
    /// The figures as reported; the batch latencies must be sorted.
    fn to_json(&self, workload: &Workload) -> serde_json::Value {
        let latencies = &self.run.latencies;
        json!({
            "commit": match workload.commit {
                CommitMode::Pipelined => "pipelined",
                CommitMode::OneAtATime => "one-at-a-time",
            },
            "transfers_per_second": workload.per_second(self.run.elapsed).round(),
            "seconds": self.run.elapsed.as_secs_f64(),
            "fsyncs": latencies.len(),
            "batch_latency_ms": {
                "p50": percentile(latencies, 0.50),
                "p99": percentile(latencies, 0.99),
                "max": latencies.last().map_or(0.0, |max| max.as_secs_f64() * 1_000.0),
            },
            "journal_bytes": self.journal_bytes,
            "journal_bytes_per_transfer": self.journal_bytes as f64 / workload.transfers.max(1) as f64,
            "rejected": self.run.rejected,
            "serial_blocks_moved_per_transaction": self.fragmentation.blocks_moved_per_transaction,
            "serial_blocks_held_at_end": self.fragmentation.blocks_held,
            "peak_resident_mib": self.peak_mib,
            "peak_resident_of": if self.peak_reset { "the durable run alone" } else { "the whole process" },
            "retained_at_end": self.retained,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small workload of `accounts` and `transfers`, under the default retention window.
    fn workload(accounts: u64, transfers: u64) -> Workload {
        Workload {
            transfers,
            batch: 100,
            accounts,
            seed: 7,
            serial_policy: SerialPolicy::LargestFirst,
            retention: Some(ets_engine::retention::DEFAULT_WINDOW),
            commit: CommitMode::OneAtATime,
        }
    }

    #[test]
    fn an_issuance_beyond_one_command_is_issued_in_full_parts_and_the_rest() {
        // Goal: more than `Quantity::MAX_PER_COMMAND` is issued by several
        // commands, each as large as one may be, the last with what is left.
        let parts: Vec<u64> = issuance(class().unwrap(), 2_500_000_000_000)
            .into_iter()
            .map(|(requester, command)| match command {
                RegistryCommand::Issue { quantity, .. } if requester == ADMIN => quantity.tonnes(),
                other => panic!("not an administrator's issue: {other:?}"),
            })
            .collect();
        assert_eq!(
            parts,
            [1_000_000_000_000, 1_000_000_000_000, 500_000_000_000]
        );
    }

    #[test]
    fn the_setup_sets_retention_first_and_numbers_its_commands_from_one() {
        // Goal: retention, then the administrator, its issuance account, the
        // serial policy and one issue, then three commands per trader; request
        // ids 1, 2, 3, ... all at the start time.
        let setup = setup(&workload(3, 10)).unwrap();
        assert_eq!(setup.len(), 1 + 3 + 1 + 3 * 3);
        assert!(matches!(
            setup[0].command,
            Command::SetRetention {
                commands: ets_engine::retention::DEFAULT_WINDOW
            }
        ));
        let ids: Vec<u64> = setup.iter().map(|s| s.request_id.0).collect();
        assert_eq!(ids, (1..=14).collect::<Vec<u64>>());
        assert!(setup.iter().all(|s| s.time == Some(Timestamp(START_MS))));
    }

    #[test]
    fn a_small_workload_runs_in_memory_with_no_refusal() {
        // Goal: a fresh engine accepts the setup and every random transfer (each
        // trader holds a billion units), and each trader ends with units.
        let workload = workload(5, 300);
        let setup = setup(&workload).unwrap();
        let (_elapsed, rejected, fragmentation) = in_memory(&workload, &setup).unwrap();
        assert_eq!(rejected, 0);
        assert!(
            fragmentation.blocks_held >= 5,
            "{}",
            fragmentation.blocks_held
        );
    }
}
