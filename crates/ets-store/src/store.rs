//! Opening, recovering and writing a store.

use crate::backend::JournalBackend;
use crate::observer::{CommitObserver, Committed, JournalHead};
use ets_engine::{Applied, Command, Engine, Envelope, JournalEntry, Outcome, Rejection};
use ets_journal::{Journal, JournalConfig, JournalError, Record};
use ets_model::{ParticipantId, RequestId, Timestamp};
use std::path::Path;
use thiserror::Error;

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
        /// A stable code: `database_unreachable`, `database_credentials`, `not_a_store`,
        /// `already_exists`, `unsupported_version`, `locked`, `fenced`, `database`.
        code: &'static str,
        /// What went wrong, naming the database (without its password).
        message: String,
    },
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
        }
    }
}

/// A command as a client submits it; the sequencer fills in the time when absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// The client's id for this request.
    pub request_id: RequestId,
    /// Who sends it.
    pub requester: ParticipantId,
    /// A time carried by the command (imports, simulations); `None` = now.
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
    /// Opened with [`Store::open_read_only`]: submissions are refused before the engine sees them.
    read_only: bool,
    payload: Vec<u8>,
    /// Read models following the durable batches, with this batch's commands for them.
    observer: Option<(Box<dyn CommitObserver>, Vec<Committed>)>,
}

impl Store {
    /// Creates a new, empty store in `dir`.
    ///
    /// # Errors
    /// [`StoreError::Journal`] when the directory already holds a store or cannot be written.
    pub fn create(dir: &Path, config: StoreConfig) -> Result<Store, StoreError> {
        let journal = Journal::create(dir, config.journal)?;
        Ok(Store::with(Box::new(journal), Engine::new(), config, 0))
    }

    /// Opens a store: recovers the journal (truncating a torn tail), loads
    /// the latest valid snapshot and replays every record after it.
    ///
    /// # Errors
    /// [`StoreError`] when the journal is corrupt, locked, or replay disagrees with it.
    pub fn open(dir: &Path, config: StoreConfig) -> Result<Store, StoreError> {
        let journal = Journal::open(dir, config.journal)?;
        Store::recover(Box::new(journal), config)
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
        Ok(store)
    }

    /// Recovers a store from any journal backend: the latest snapshot, then replay.
    pub(crate) fn recover(
        journal: Box<dyn JournalBackend>,
        config: StoreConfig,
    ) -> Result<Store, StoreError> {
        let (mut engine, from) = match journal.latest_snapshot()? {
            Some(snapshot) => {
                let engine = Engine::decode_snapshot(&snapshot.state).map_err(|error| {
                    StoreError::BadSnapshot {
                        sequence: snapshot.sequence,
                        reason: error.to_string(),
                    }
                })?;
                (engine, snapshot.sequence + 1)
            }
            None => (Engine::new(), 1),
        };
        let mut replayed = 0;
        for record in journal.read_from(from)? {
            replay_record(&mut engine, &record?)?;
            replayed += 1;
        }
        tracing::info!(
            snapshot_records = from - 1,
            replayed_records = replayed,
            "store recovered"
        );
        Ok(Store::with(journal, engine, config, replayed))
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
            read_only: false,
            payload: Vec::with_capacity(256),
            observer: None,
        }
    }

    /// Applies a batch and makes it durable with one fsync, then returns one
    /// reply per submission, in order. `now` stamps submissions without a
    /// time; it is raised to the last command's time if the clock stepped back.
    ///
    /// # Errors
    /// [`StoreError`] on an I/O fault; the store then refuses all further
    /// batches until reopened, and no reply of this batch may be given.
    pub fn submit(
        &mut self,
        batch: &[Submission],
        now: Timestamp,
    ) -> Result<Vec<Reply>, StoreError> {
        if self.faulted {
            return Err(StoreError::Faulted);
        }
        if self.read_only {
            return Err(JournalError::ReadOnly.into());
        }
        if let Some((_, pending)) = &mut self.observer {
            // Whatever a failed batch left there was never durable.
            pending.clear();
        }
        let mut replies = Vec::with_capacity(batch.len());
        for submission in batch {
            match self.sequence(submission, now) {
                Ok(reply) => replies.push(reply),
                Err(error) => {
                    self.faulted = true;
                    return Err(error);
                }
            }
        }
        if let Err(error) = self.journal.commit() {
            self.faulted = true;
            return Err(error);
        }
        self.notify_observer();
        self.snapshot_if_due()?;
        Ok(replies)
    }

    fn sequence(&mut self, submission: &Submission, now: Timestamp) -> Result<Reply, StoreError> {
        let last = self.engine.last_time().unwrap_or(Timestamp(i64::MIN));
        let time = submission.time.unwrap_or(now.max(last));
        if time < last {
            let outcome = Outcome::Rejected(Rejection {
                code: "time_went_backwards".to_owned(),
                message: format!(
                    "the command is dated {} ms but the last command was at {} ms; times in the journal never go backwards",
                    time.0, last.0
                ),
            });
            return Ok(Reply {
                sequence: None,
                time,
                duplicate: false,
                outcome,
            });
        }
        let envelope = Envelope {
            request_id: submission.request_id,
            requester: submission.requester,
            time,
            command: submission.command.clone(),
        };
        match self.engine.apply(&envelope) {
            Applied::Duplicate(outcome) => Ok(Reply {
                sequence: None,
                time,
                duplicate: true,
                outcome,
            }),
            // Not the first outcome: a refusal of its own, not journaled.
            Applied::Reused(outcome) => Ok(Reply {
                sequence: None,
                time,
                duplicate: false,
                outcome,
            }),
            Applied::Fresh(outcome) => {
                self.payload.clear();
                JournalEntry::encode_into(&envelope, outcome.code(), &mut self.payload).map_err(
                    |error| StoreError::BadRecord {
                        sequence: self.journal.last_sequence() + 1,
                        reason: error.to_string(),
                    },
                )?;
                let sequence = self.journal.append(time.0, &self.payload)?;
                self.records_since_snapshot += 1;
                if let Some((_, batch)) = &mut self.observer {
                    batch.push(Committed {
                        sequence,
                        envelope,
                        outcome: outcome.clone(),
                    });
                }
                Ok(Reply {
                    sequence: Some(sequence),
                    time,
                    duplicate: false,
                    outcome,
                })
            }
        }
    }

    fn snapshot_if_due(&mut self) -> Result<(), StoreError> {
        let every = self.config.snapshot_every_records;
        if every > 0 && self.records_since_snapshot >= every {
            self.snapshot()?;
        }
        Ok(())
    }

    /// Writes a snapshot of the current state at the last committed record.
    ///
    /// # Errors
    /// [`StoreError::Journal`] when it cannot be written.
    pub fn snapshot(&mut self) -> Result<(), StoreError> {
        if self.faulted {
            return Err(StoreError::Faulted);
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
            observer.committed(&self.engine, batch, head);
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

/// Applies one journaled record to `engine` and checks the outcome code.
pub(crate) fn replay_record(engine: &mut Engine, record: &Record) -> Result<(), StoreError> {
    let entry = JournalEntry::decode(&record.payload).map_err(|error| StoreError::BadRecord {
        sequence: record.sequence,
        reason: error.to_string(),
    })?;
    let (envelope, journaled) = entry.into_envelope(Timestamp(record.timestamp_ms));
    let replayed = match engine.apply(&envelope) {
        Applied::Fresh(outcome) => outcome.code().to_owned(),
        Applied::Duplicate(_) => "duplicate".to_owned(),
        Applied::Reused(outcome) => outcome.code().to_owned(),
    };
    if replayed != journaled {
        return Err(StoreError::ReplayMismatch {
            sequence: record.sequence,
            journaled,
            replayed,
        });
    }
    Ok(())
}
