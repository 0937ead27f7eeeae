//! Following the store off its sequencer thread. [`Follower`] is the store's
//! observer: on the sequencer thread it turns each durable batch into rows
//! (the projection needs the engine as it stands after the batch) and hands
//! them, owned, over a bounded queue to a thread of its own, which writes
//! them. The sequencer waits for the database only when that queue is full.
//!
//! The writer takes every batch waiting in the queue into one database
//! transaction. Each batch names the journal record it follows: a batch that
//! does not follow the history's head (a write failed, the session was lost,
//! a projection was refused) stops the writing, and the writer catches up
//! from the journal, which it opens read-only itself, so no later batch is
//! needed for it to recover. Readers wait for the head they need
//! ([`wait_for_journal`]).

use crate::error::HistoryError;
use crate::history::History;
use crate::project::{Projector, Row};
use ets_engine::Engine;
use ets_journal::{Journal, JournalConfig};
use ets_store::{CommitObserver, Committed, JournalBackend, JournalHead, PgJournal};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Batches the queue holds before the sequencer waits for the writer.
pub const QUEUE_BATCHES: usize = 4_096;

/// Rows the writer takes into one database transaction, at most (whole batches;
/// a single larger batch goes alone).
const TRANSACTION_ROWS_MAX: usize = 100_000;

/// The pause before the first attempt to catch up again after a failed one; it doubles.
const RETRY_PAUSE_MIN: Duration = Duration::from_millis(50);

/// The longest pause between two attempts to catch up (each replays the
/// journal from a snapshot).
const RETRY_PAUSE_MAX: Duration = Duration::from_secs(10);

/// One durable batch's rows, for the writer.
struct Batch {
    /// The journal record the batch follows.
    after: u64,
    /// Its rows.
    rows: Vec<Row>,
    /// The journal's head after it.
    head: JournalHead,
}

/// Where the writer opens the journal to catch up from.
#[derive(Debug, Clone)]
pub(crate) enum JournalAt {
    /// A file journal's directory.
    Directory(PathBuf),
    /// A PostgreSQL journal's database URL.
    Database(String),
}

impl JournalAt {
    /// Where `journal` is, if it can be opened again.
    pub(crate) fn of(journal: &dyn JournalBackend) -> Option<JournalAt> {
        match (journal.dir(), journal.database_url()) {
            (Some(dir), _) => Some(JournalAt::Directory(dir.to_path_buf())),
            (None, Some(url)) => Some(JournalAt::Database(url.to_owned())),
            (None, None) => None,
        }
    }

    /// The journal, read-only, as it stands now.
    fn open(&self) -> Result<Box<dyn JournalBackend>, HistoryError> {
        Ok(match self {
            JournalAt::Directory(dir) => Box::new(
                Journal::open_read_only(dir, JournalConfig::default())
                    .map_err(ets_store::StoreError::from)?,
            ),
            JournalAt::Database(url) => Box::new(PgJournal::open_read_only(url)?),
        })
    }
}

/// The store's observer that writes the history on a thread of its own.
pub struct Follower {
    /// The projection's memory, as of the last batch projected.
    projector: Projector,
    /// The queue to the writer (`None` once closed).
    queue: Option<SyncSender<Batch>>,
    /// The writer thread.
    writer: Option<JoinHandle<()>>,
}

impl Follower {
    /// Starts the writer thread with `history`, which stands at the head of
    /// the journal at `journal`.
    ///
    /// # Errors
    /// [`HistoryError::Database`] when the thread cannot be started.
    pub(crate) fn start(history: History, journal: JournalAt) -> Result<Follower, HistoryError> {
        let projector = history.projector().clone();
        let (queue, batches) = sync_channel(QUEUE_BATCHES);
        let writer = std::thread::Builder::new()
            .name("ets-history".to_owned())
            .spawn(move || Writer::new(history, journal).run(&batches))
            .map_err(|error| {
                HistoryError::Database(format!("cannot start the history writer: {error}"))
            })?;
        Ok(Follower {
            projector,
            queue: Some(queue),
            writer: Some(writer),
        })
    }
}

impl CommitObserver for Follower {
    fn committed(
        &mut self,
        engine: &Engine,
        batch: &[Committed],
        head: JournalHead,
        _journal: &dyn JournalBackend,
    ) {
        let Some(first) = batch.first() else {
            return;
        };
        // Projected on a copy: a refused projection leaves the memory as it
        // was, nothing is sent, and the writer finds the gap and catches up.
        let mut projector = self.projector.clone();
        let rows = match projector.rows(engine, batch) {
            Ok(rows) => rows,
            Err(error) => {
                tracing::error!(%error, code = error.code(), "history projection failed; the history catches up from the journal");
                return;
            }
        };
        self.projector = projector;
        let batch = Batch {
            after: first.sequence - 1,
            rows,
            head,
        };
        let sent = self.queue.as_ref().map(|queue| queue.send(batch));
        if !matches!(sent, Some(Ok(()))) {
            tracing::error!(
                "the history writer has stopped; the history catches up when the store is opened again"
            );
        }
    }
}

impl Drop for Follower {
    /// Closes the queue and waits until the writer has written what it holds.
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!("the history writer panicked");
        }
    }
}

/// The writer thread's state.
struct Writer {
    history: History,
    journal: JournalAt,
    /// The journal record the database stands at (0: none).
    written: u64,
    /// When the next attempt to catch up is due, while the history is behind.
    behind: Option<Instant>,
    /// The pause after the next failed attempt.
    pause: Duration,
}

impl Writer {
    fn new(history: History, journal: JournalAt) -> Writer {
        let written = history.written().map_or(0, |head| head.sequence);
        Writer {
            history,
            journal,
            written,
            behind: None,
            pause: RETRY_PAUSE_MIN,
        }
    }

    /// Writes batches until the queue is closed and empty.
    fn run(mut self, batches: &Receiver<Batch>) {
        loop {
            let first = match self.behind {
                None => batches.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(due) => batches.recv_timeout(due.saturating_duration_since(Instant::now())),
            };
            match first {
                Ok(batch) => self.write(batch, batches),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if self.behind.is_some_and(|due| due <= Instant::now()) {
                self.catch_up();
            }
        }
        if self.behind.is_some() {
            // A last attempt, so that a command-line run leaves its history complete.
            self.catch_up();
        }
    }

    /// Writes `first` and the batches waiting after it, in one transaction.
    fn write(&mut self, first: Batch, batches: &Receiver<Batch>) {
        let mut rows = Vec::new();
        let mut head = None;
        let mut next = Some(first);
        while let Some(batch) = next.take() {
            self.take(batch, &mut rows, &mut head);
            if rows.len() < TRANSACTION_ROWS_MAX {
                next = batches.try_recv().ok();
            }
        }
        let Some(head) = head else {
            return;
        };
        match self.history.write_rows(&rows, head) {
            Ok(()) => self.written = head.sequence,
            Err(error) => self.fell_behind(&error),
        }
    }

    /// Adds `batch` to the transaction when it follows what is written or
    /// taken; a batch the history already holds is passed over, and a gap
    /// stops the writing until the history has caught up.
    fn take(&mut self, batch: Batch, rows: &mut Vec<Row>, head: &mut Option<JournalHead>) {
        let standing = head.map_or(self.written, |head: JournalHead| head.sequence);
        if self.behind.is_some() || batch.head.sequence <= standing {
            return;
        }
        if batch.after != standing {
            tracing::warn!(
                history = standing,
                batch_after = batch.after,
                "the history missed durable records; it catches up from the journal"
            );
            self.behind = Some(Instant::now());
            return;
        }
        rows.extend(batch.rows);
        *head = Some(batch.head);
    }

    fn fell_behind(&mut self, error: &HistoryError) {
        tracing::error!(%error, code = error.code(), "history write failed; it catches up from the journal");
        self.behind = Some(Instant::now());
    }

    /// Brings the history up to the journal as it stands now.
    fn catch_up(&mut self) {
        let caught_up = self
            .journal
            .open()
            .and_then(|journal| self.history.catch_up(journal.as_ref()));
        match caught_up {
            Ok(report) => {
                self.written = report.head.sequence;
                self.behind = None;
                self.pause = RETRY_PAUSE_MIN;
            }
            Err(error) => {
                tracing::error!(%error, code = error.code(), pause_ms = self.pause.as_millis(), "history could not catch up; it tries again");
                self.behind = Some(Instant::now() + self.pause);
                self.pause = (self.pause * 2).min(RETRY_PAUSE_MAX);
            }
        }
    }
}

/// The sequence number of `journal`'s last durable record: the head a read
/// that must see every acknowledged command waits for.
#[must_use]
pub fn durable_sequence(journal: &dyn JournalBackend) -> u64 {
    journal.stats().last_sequence
}

/// Waits until the history in `backend` stands at journal record `sequence`
/// or later, for at most `timeout`.
///
/// # Errors
/// [`HistoryError::Behind`] when it does not get there in time (the history
/// keeps failing to write, or is being rebuilt), naming where it stands;
/// [`HistoryError::Database`] when its head cannot be read.
pub fn wait_for_journal(
    backend: &mut dyn crate::Backend,
    sequence: u64,
    timeout: Duration,
) -> Result<(), HistoryError> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_micros(100);
    loop {
        let at = crate::history::head_sequence(backend)?;
        if at >= sequence {
            return Ok(());
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(HistoryError::Behind {
                at,
                journal: sequence,
            });
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}
