//! Opening, recovering and writing a store.

use crate::backend::JournalBackend;
use crate::kind::{self, StoreKind};
use crate::observer::{CommitObserver, Committed, JournalHead};
use crate::sequence::{Stamping, Step, apply_submission, journaled};
use ets_engine::{Command, Engine, Outcome};
use ets_journal::{Journal, JournalConfig, JournalError};
use ets_model::{ParticipantId, RequestId, Timestamp};
use std::path::Path;
use thiserror::Error;

mod pipeline;

pub use pipeline::PIPELINE_OBSERVED_MAX;

/// How the store behaves.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The journal's settings.
    pub journal: JournalConfig,
    /// Write a snapshot after this many records since the last one (0 = never automatically).
    pub snapshot_every_records: u64,
}

impl Default for StoreConfig {
    fn default() -> StoreConfig {
        StoreConfig {
            journal: JournalConfig::default(),
            snapshot_every_records: 1_000_000,
        }
    }
}

/// A fault of the store (not a business rejection: those are outcomes).
#[derive(Debug, Error)]
pub enum StoreError {
    /// The journal failed: I/O, corruption, lock.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A journal record does not decode as a command.
    #[error("journal record {sequence} does not decode: {reason}")]
    BadRecord {
        /// The record's sequence number.
        sequence: u64,
        /// What is wrong.
        reason: String,
    },
    /// Replay gave a different outcome than the one journaled: nondeterminism.
    #[error(
        "replay of record {sequence} gave outcome {replayed:?} but the journal says {journaled:?}: the engine is not deterministic or the journal was written by an incompatible version"
    )]
    ReplayMismatch {
        /// The record's sequence number.
        sequence: u64,
        /// The code journaled.
        journaled: String,
        /// The code replay produced.
        replayed: String,
    },
    /// A snapshot does not decode.
    #[error("snapshot at record {sequence} does not decode: {reason}")]
    BadSnapshot {
        /// The snapshot's sequence number.
        sequence: u64,
        /// What is wrong.
        reason: String,
    },
    /// An earlier fault stopped the store.
    #[error("the store stopped after an I/O fault; reopen it to recover from the journal")]
    Faulted,
    /// The PostgreSQL database behind the store refused, did not answer, or
    /// holds no store, another version's or another writer's.
    #[error("{message}")]
    Database {
        /// A stable code: `database_unreachable`, `database_credentials`,
        /// `database_read_only`, `database_disk_full`, `not_a_store`,
        /// `already_exists`, `unsupported_version`, `locked`, `fenced`, `database`.
        code: &'static str,
        /// What went wrong, naming the database (without its password).
        message: String,
    },
    /// The store's kind file cannot be written, read or understood.
    #[error("store kind: {reason}")]
    Kind {
        /// What is wrong, naming the file.
        reason: String,
    },
    /// Dated submissions were sent to a live store, whose clock is the server's.
    #[error("a live store stamps its own time; dated submissions need a virtual or import store")]
    DatedOnLiveStore,
}

impl StoreError {
    /// The stable machine-readable code of this error.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Journal(error) => error.code(),
            StoreError::BadRecord { .. } => "bad_record",
            StoreError::ReplayMismatch { .. } => "replay_mismatch",
            StoreError::BadSnapshot { .. } => "bad_snapshot",
            StoreError::Faulted => "store_faulted",
            StoreError::Database { code, .. } => code,
            StoreError::Kind { .. } => "bad_store_kind",
            StoreError::DatedOnLiveStore => "dated_submission_on_live_store",
        }
    }
}

/// The code of a command refused because it carries its own time through a
/// client door ([`Store::submit`]); it is not journaled and changes nothing.
pub const CLIENT_TIME_REFUSED: &str = "client_time_refused";
/// The code of an `advance_clock` sent to a live store.
pub const CLOCK_IS_LIVE: &str = "clock_not_settable_on_live_store";

/// A command as a client submits it. Through [`Store::submit`] (every client
/// door) `time` must be `None`: the store stamps it. Only
/// [`Store::submit_dated`] takes it as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// The client's id for this request.
    pub request_id: RequestId,
    /// Who sends it.
    pub requester: ParticipantId,
    /// A time carried by the command: refused through [`Store::submit`];
    /// used by [`Store::submit_dated`] (`None` there means the store's clock).
    pub time: Option<Timestamp>,
    /// What to do.
    pub command: Command,
}

/// The answer to one submission, returned once it is durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The journal sequence number, when the command was journaled now.
    pub sequence: Option<u64>,
    /// The time the command was applied at.
    pub time: Timestamp,
    /// Whether this repeats an earlier request id (the first outcome is returned).
    pub duplicate: bool,
    /// What came of it.
    pub outcome: Outcome,
}

/// An open store: the engine in memory, the journal on disk.
pub struct Store {
    journal: Box<dyn JournalBackend>,
    engine: Engine,
    config: StoreConfig,
    records_since_snapshot: u64,
    faulted: bool,
    /// After a fault the durable state could not be read back (a database that
    /// is away): the engine holds nothing trustworthy, so reads must refuse.
    state_unknown: bool,
    /// Opened with [`Store::open_read_only`]: submissions are refused before the engine sees them.
    read_only: bool,
    /// Who sets the time of its commands.
    kind: StoreKind,
    payload: Vec<u8>,
    /// Read models following the durable batches, with this batch's commands for them.
    observer: Option<(Box<dyn CommitObserver>, Vec<Committed>)>,
}

impl Store {
    /// Creates a new, empty live store in `dir`.
    ///
    /// # Errors
    /// [`StoreError::Journal`] when the directory already holds a store or cannot be written.
    pub fn create(dir: &Path, config: StoreConfig) -> Result<Store, StoreError> {
        Store::create_of_kind(dir, config, StoreKind::Live)
    }

    /// Creates a new, empty store of `kind` in `dir`, recording the kind durably.
    ///
    /// # Errors
    /// [`StoreError::Journal`] when the directory already holds a store or cannot
    /// be written; [`StoreError::Kind`] when the kind file cannot be written.
    pub fn create_of_kind(
        dir: &Path,
        config: StoreConfig,
        kind: StoreKind,
    ) -> Result<Store, StoreError> {
        // The journal first: it takes the lock and refuses a directory that holds a store.
        let journal = Journal::create(dir, config.journal)?;
        kind::write(dir, kind)?;
        let mut store = Store::with(Box::new(journal), Engine::new(), config, 0);
        store.kind = kind;
        Ok(store)
    }

    /// Opens a store: recovers the journal (truncating a torn tail), loads
    /// the latest valid snapshot and replays every record after it.
    ///
    /// # Errors
    /// [`StoreError`] when the journal is corrupt, locked, or replay disagrees with it.
    pub fn open(dir: &Path, config: StoreConfig) -> Result<Store, StoreError> {
        let journal = Journal::open(dir, config.journal)?;
        let mut store = Store::recover(Box::new(journal), config)?;
        store.kind = kind::read(dir)?;
        Ok(store)
    }

    /// Opens a store for queries only: no lock, nothing truncated, and
    /// [`Store::submit`] refuses to write.
    ///
    /// # Errors
    /// [`StoreError`] when the journal is corrupt or replay disagrees with it.
    pub fn open_read_only(dir: &Path) -> Result<Store, StoreError> {
        let config = StoreConfig::default();
        let journal = Journal::open_read_only(dir, config.journal)?;
        let mut store = Store::recover(Box::new(journal), config)?;
        store.read_only = true;
        store.kind = kind::read(dir)?;
        Ok(store)
    }

    /// Recovers a store from any journal backend: the newest decodable snapshot, then replay.
    pub(crate) fn recover(
        journal: Box<dyn JournalBackend>,
        config: StoreConfig,
    ) -> Result<Store, StoreError> {
        let (mut engine, from) = newest_decodable_snapshot(journal.as_ref(), u64::MAX)?;
        let mut replayed = 0;
        for record in journal.read_replay_from(from)? {
            record?.check(&mut engine)?;
            replayed += 1;
        }
        tracing::info!(
            snapshot_records = from - 1,
            replayed_records = replayed,
            "store recovered"
        );
        Ok(Store::with(journal, engine, config, replayed))
    }

    /// This store, of `kind` (as recorded where it lives).
    pub(crate) fn with_kind(mut self, kind: StoreKind) -> Store {
        self.kind = kind;
        self
    }

    /// This store, refusing submissions before the engine sees them.
    pub(crate) fn into_read_only(mut self) -> Store {
        self.read_only = true;
        self
    }

    fn with(
        journal: Box<dyn JournalBackend>,
        engine: Engine,
        config: StoreConfig,
        since_snapshot: u64,
    ) -> Store {
        Store {
            journal,
            engine,
            config,
            records_since_snapshot: since_snapshot,
            faulted: false,
            state_unknown: false,
            read_only: false,
            kind: StoreKind::Live,
            payload: Vec::with_capacity(256),
            observer: None,
        }
    }

    /// Applies a batch from a client door (HTTP, `ets submit`, the CLI's
    /// subcommands) and makes it durable with one fsync, then returns one reply
    /// per submission, in order. A live store stamps each command with `now`
    /// (the server's clock, raised to the last command's time if it stepped
    /// back); a virtual or import store stamps it with its own clock and
    /// ignores `now`. A submission carrying a time is refused with
    /// [`CLIENT_TIME_REFUSED`], and `advance_clock` on a live store with
    /// [`CLOCK_IS_LIVE`]: not journaled, nothing changed, the clock untouched.
    ///
    /// # Errors
    /// [`StoreError`] on an I/O fault; the store then refuses all further
    /// batches until reopened, and no reply of this batch may be given.
    pub fn submit(
        &mut self,
        batch: &[Submission],
        now: Timestamp,
    ) -> Result<Vec<Reply>, StoreError> {
        self.submit_stamped(batch, Stamping::Door { now })
    }

    /// Applies a batch whose submissions carry their own times (`None`: the
    /// store's clock), for an in-process driver that owns a virtual or import
    /// store (the simulator, the benchmarks). No client door calls it. A time
    /// before the last command's is refused with `time_went_backwards`.
    ///
    /// # Errors
    /// [`StoreError::DatedOnLiveStore`] on a live store; otherwise as [`Store::submit`].
    pub fn submit_dated(&mut self, batch: &[Submission]) -> Result<Vec<Reply>, StoreError> {
        if self.kind.is_live() {
            return Err(StoreError::DatedOnLiveStore);
        }
        self.submit_stamped(batch, Stamping::Dated)
    }

    /// Applies and journals a dated batch as [`Store::submit_dated`] does, but
    /// leaves it uncommitted: the records wait in the journal's buffer for a
    /// later [`Store::commit`] (or the next committing submission), so a driver
    /// that owns the store (the simulator) makes many small batches durable
    /// with one fsync. The replies are NOT acknowledgements: until a commit
    /// returns `Ok` nothing may be told about them, and a store dropped before
    /// that reopens at its last commit (the journal and the engine agree there).
    ///
    /// # Errors
    /// As [`Store::submit_dated`]; after an error nothing uncommitted survives.
    pub fn submit_dated_uncommitted(
        &mut self,
        batch: &[Submission],
    ) -> Result<Vec<Reply>, StoreError> {
        if self.kind.is_live() {
            return Err(StoreError::DatedOnLiveStore);
        }
        self.sequence_batch(batch, Stamping::Dated)
    }

    /// Makes every record journaled by [`Store::submit_dated_uncommitted`]
    /// durable (one write and fsync), hands them to the observer and snapshots
    /// when one is due. Does nothing when nothing waits.
    ///
    /// # Errors
    /// [`StoreError`] on an I/O fault; the store then refuses all further
    /// batches until reopened, and none of the uncommitted replies may be given.
    pub fn commit(&mut self) -> Result<(), StoreError> {
        self.check_writable()?;
        if let Err(error) = self.journal.commit() {
            self.fault();
            return Err(error);
        }
        self.notify_observer();
        self.snapshot_if_due()
    }

    /// Refuses writes on a faulted or read-only store.
    fn check_writable(&self) -> Result<(), StoreError> {
        if self.faulted {
            return Err(StoreError::Faulted);
        }
        if self.read_only {
            return Err(JournalError::ReadOnly.into());
        }
        Ok(())
    }

    /// Records journaled but not yet committed (see [`Store::submit_dated_uncommitted`]).
    #[must_use]
    pub fn uncommitted(&self) -> usize {
        self.journal.pending()
    }

    fn submit_stamped(
        &mut self,
        batch: &[Submission],
        stamping: Stamping,
    ) -> Result<Vec<Reply>, StoreError> {
        let replies = self.sequence_batch(batch, stamping)?;
        self.commit()?;
        Ok(replies)
    }

    /// Applies and journals `batch` without committing it.
    fn sequence_batch(
        &mut self,
        batch: &[Submission],
        stamping: Stamping,
    ) -> Result<Vec<Reply>, StoreError> {
        self.check_writable()?;
        if self.journal.pending() == 0
            && let Some((_, pending)) = &mut self.observer
        {
            // Whatever a failed batch left there was never durable.
            pending.clear();
        }
        let mut replies = Vec::with_capacity(batch.len());
        for submission in batch {
            match self.sequence(submission, stamping) {
                Ok(reply) => replies.push(reply),
                Err(error) => {
                    self.fault();
                    return Err(error);
                }
            }
        }
        Ok(replies)
    }

    /// Stops the store after an I/O fault and puts back the durable state:
    /// the engine holds the failed batch's effects, which were never
    /// acknowledged, so it is rebuilt from the snapshot and the records the
    /// journal committed. Queries then show durable state only. If even that
    /// rebuild fails, the engine is emptied rather than show unacknowledged work.
    fn fault(&mut self) {
        self.faulted = true;
        if let Some((_, pending)) = &mut self.observer {
            pending.clear();
        }
        let durable_end = self.journal.stats().last_sequence;
        let rebuilt = match self.journal.dir() {
            Some(dir) => durable_state(dir, self.config.journal, durable_end),
            // A database journal reads back only what its transactions committed.
            None => replay_durable(self.journal.as_ref(), durable_end, drop),
        };
        match rebuilt {
            Ok(engine) => self.engine = engine,
            Err(error) => {
                tracing::error!(%error, "the durable state could not be rebuilt after an I/O fault; reads are refused until the store resumes or is reopened");
                self.engine = Engine::new();
                self.state_unknown = true;
            }
        }
    }

    /// Whether a fault left the store without its durable state (it could not
    /// be read back, as from a database that is away): the engine then holds
    /// nothing a reader may be shown, until [`Store::resume`] succeeds.
    #[must_use]
    pub fn is_state_unknown(&self) -> bool {
        self.state_unknown
    }

    /// Whether an I/O fault stopped the store (it refuses writes until
    /// reopened, or for a database store until [`Store::resume`] succeeds).
    #[must_use]
    pub fn is_faulted(&self) -> bool {
        self.faulted
    }

    /// Whether a faulted store can come back without reopening: its journal
    /// is a database, which [`Store::resume`] reconnects to.
    #[must_use]
    pub fn can_resume(&self) -> bool {
        self.journal.database_url().is_some()
    }

    /// Brings a store stopped by a fault of its database back: reconnects,
    /// settles the failed batch by sequence and hash (durable after all, or
    /// dropped: it was never acknowledged either way), rebuilds the engine
    /// from the durable journal and accepts writes again. Returns the failed
    /// batch's commands when they turned out durable (empty when dropped, or
    /// when the store was not faulted): they were never answered, so this is
    /// the one place their outcomes come out, for the event streams. The
    /// observer hears of them, and catches up with the journal, through
    /// [`CommitObserver::resumed`]. Does nothing when the store is not faulted.
    ///
    /// # Errors
    /// [`StoreError`] while the database is still away (try again later),
    /// `fenced` when another writer took over (it never will), and
    /// `store_faulted` for a file journal (reopen it instead).
    pub fn resume(&mut self) -> Result<Vec<Committed>, StoreError> {
        if !self.faulted {
            return Ok(Vec::new());
        }
        let durable_before = self.journal.stats().last_sequence;
        self.journal.resume()?;
        let durable_end = self.journal.stats().last_sequence;
        let mut settled = Vec::new();
        self.engine = replay_durable(self.journal.as_ref(), durable_end, |committed| {
            if committed.sequence > durable_before {
                settled.push(committed);
            }
        })?;
        assert_eq!(
            settled.len() as u64,
            durable_end - durable_before,
            "every record of the settled batch is replayed after the newest snapshot"
        );
        self.faulted = false;
        self.state_unknown = false;
        if let Some((observer, batch)) = &mut self.observer {
            batch.clear();
            let head = JournalHead {
                sequence: durable_end,
                hash: self.journal.last_hash(),
            };
            observer.resumed(&self.engine, &settled, head, self.journal.as_ref());
        }
        tracing::info!(
            last_sequence = durable_end,
            settled_records = settled.len(),
            "store resumed after a database fault"
        );
        Ok(settled)
    }

    /// Applies one submission and appends its journal record, if it has one.
    fn sequence(
        &mut self,
        submission: &Submission,
        stamping: Stamping,
    ) -> Result<Reply, StoreError> {
        let fresh = match apply_submission(&mut self.engine, self.kind, submission, stamping) {
            Step::Answered(reply) => return Ok(reply),
            Step::Fresh(fresh) => fresh,
        };
        self.payload.clear();
        fresh.encode(self.journal.last_sequence() + 1, &mut self.payload)?;
        let sequence = self.journal.append(fresh.time.0, &self.payload)?;
        Ok(journaled(
            fresh,
            sequence,
            &mut self.records_since_snapshot,
            self.observer.as_mut().map(|(_, batch)| batch),
        ))
    }

    /// Who sets the time of this store's commands.
    #[must_use]
    pub fn kind(&self) -> StoreKind {
        self.kind
    }

    /// The store's clock: the time of its last command (or of the last
    /// accepted `advance_clock`), the Unix epoch before any. A live store
    /// stamps new commands with the server's clock, never earlier than this.
    #[must_use]
    pub fn clock(&self) -> Timestamp {
        self.engine.last_time().unwrap_or(Timestamp(0))
    }

    fn snapshot_if_due(&mut self) -> Result<(), StoreError> {
        let every = self.config.snapshot_every_records;
        if every > 0 && self.records_since_snapshot >= every {
            self.snapshot()?;
        }
        Ok(())
    }

    /// Writes a snapshot of the current state at the last record, committing
    /// any uncommitted records first (a snapshot never runs ahead of the journal).
    ///
    /// # Errors
    /// [`StoreError::Journal`] when it cannot be written.
    pub fn snapshot(&mut self) -> Result<(), StoreError> {
        if self.faulted {
            return Err(StoreError::Faulted);
        }
        if self.journal.pending() > 0 {
            // commit() snapshots when one is due; either way the snapshot below is current.
            self.commit()?;
        }
        let sequence = self.journal.last_sequence();
        if sequence == 0 {
            return Ok(());
        }
        self.journal
            .write_snapshot(sequence, &self.engine.encode_snapshot())?;
        // Keep the previous snapshot too, in case the newest is damaged.
        self.journal.prune_snapshots(2)?;
        self.records_since_snapshot = 0;
        tracing::info!(sequence, "snapshot written");
        Ok(())
    }

    /// Hangs `observer` on the store: from now on it receives every durable batch.
    pub fn set_observer(&mut self, observer: Box<dyn CommitObserver>) {
        self.observer = Some((observer, Vec::new()));
    }

    /// Hands the batch just made durable to the observer, if any.
    fn notify_observer(&mut self) {
        if let Some((observer, batch)) = &mut self.observer
            && !batch.is_empty()
        {
            let head = JournalHead {
                sequence: self.journal.last_sequence(),
                hash: self.journal.last_hash(),
            };
            observer.committed(&self.engine, batch, head, self.journal.as_ref());
            batch.clear();
        }
    }

    /// The engine, for queries.
    #[must_use]
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The journal, for its statistics and warnings.
    #[must_use]
    pub fn journal(&self) -> &dyn JournalBackend {
        self.journal.as_ref()
    }
}

/// The wall clock in milliseconds since the Unix epoch: the sequencer's only
/// clock, read outside the engine and passed to [`Store::submit`] as `now`.
#[must_use]
pub fn wall_clock_now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis());
    Timestamp(i64::try_from(ms).unwrap_or(i64::MAX))
}

/// The engine of the newest snapshot at a sequence below `below` that passes
/// its checksums and decodes, and the first sequence to replay after it
/// (`u64::MAX`: the newest of all); a snapshot whose state does
/// not decode (written by another version, or damaged behind valid
/// checksums) is skipped with a warning like one that fails its checksum,
/// down to an empty engine and a replay from the first record.
///
/// # Errors
/// [`StoreError::Journal`] when the snapshots cannot be listed or read.
pub fn newest_decodable_snapshot(
    journal: &dyn JournalBackend,
    mut below: u64,
) -> Result<(Engine, u64), StoreError> {
    while let Some(snapshot) = journal.latest_snapshot_below(below)? {
        match Engine::decode_snapshot(&snapshot.state) {
            Ok(engine) => return Ok((engine, snapshot.sequence + 1)),
            Err(error) => {
                tracing::warn!(
                    sequence = snapshot.sequence,
                    %error,
                    "snapshot skipped: its state does not decode"
                );
                below = snapshot.sequence;
            }
        }
    }
    Ok((Engine::new(), 1))
}

/// The state made durable in `dir` up to record `durable_end`, read without
/// the lock (the faulted writer still holds it).
fn durable_state(
    dir: &Path,
    config: JournalConfig,
    durable_end: u64,
) -> Result<Engine, StoreError> {
    let journal = Journal::open_read_only(dir, config)?;
    replay_durable(&journal, durable_end, drop)
}

/// The state of `journal`'s snapshot and records up to `durable_end`; each
/// record replayed after the snapshot goes to `replayed`.
fn replay_durable(
    journal: &dyn JournalBackend,
    durable_end: u64,
    mut replayed: impl FnMut(Committed),
) -> Result<Engine, StoreError> {
    let (mut engine, from) = newest_decodable_snapshot(journal, u64::MAX)?;
    for record in journal.read_replay_from(from)? {
        let record = match record {
            // Nothing past the durable end is replayed, not even decoded.
            Err(StoreError::BadRecord { sequence, .. }) if sequence > durable_end => break,
            other => other?,
        };
        if record.sequence > durable_end {
            break;
        }
        replayed(record.apply(&mut engine)?);
    }
    Ok(engine)
}
