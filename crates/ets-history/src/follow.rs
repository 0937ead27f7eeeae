//! Following the store off its sequencer thread. [`Follower`] is the store's
//! observer: on the sequencer thread it turns each durable batch into rows
//! (the projection needs the engine as it stands after the batch) and hands
//! them, owned, over a bounded queue to a thread of its own, which writes
//! them. The sequencer never waits for the database: when the queue is full
//! (the database is away or slow), the follower stops queueing and marks
//! itself behind ([`Lag`]); the writer drops what it holds, catches up from
//! the journal, and the follower queues again once the writer has passed
//! every record it did not queue.
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
use crate::project::{Projector, Row, last_per_key};
use ets_engine::Engine;
use ets_journal::{Journal, JournalConfig};
use ets_store::{CommitObserver, Committed, JournalBackend, JournalHead, PgJournal};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The name of the history writer's thread (profiles and the HTTP bench tell it
/// from the server's other threads by it).
pub const WRITER_THREAD_NAME: &str = "ets-history";

/// Batches the queue holds; when it is full the follower stops queueing
/// and the writer catches up from the journal.
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

/// Whether the follower has stopped queueing, shared by it and the writer.
#[derive(Debug, Default)]
struct Lag {
    /// The follower queues no batch: the writer must catch up from the journal.
    behind: bool,
    /// The last journal record of the batches not queued (the writer may
    /// clear `behind` once the history stands there or later).
    dropped_to: u64,
    /// Batches not queued since the writer was started.
    dropped: u64,
}

/// The shared [`Lag`].
type SharedLag = Arc<Mutex<Lag>>;

fn lock(lag: &SharedLag) -> std::sync::MutexGuard<'_, Lag> {
    // A panic while holding it leaves plain numbers behind: still usable.
    lag.lock().unwrap_or_else(PoisonError::into_inner)
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
    /// Whether it stopped queueing (kept here too, so that a follower in
    /// step does not take the lock).
    behind: bool,
    /// Shared with the writer.
    lag: SharedLag,
}

impl Follower {
    /// Starts the writer thread with `history`, which stands at the head of
    /// the journal at `journal`.
    ///
    /// # Errors
    /// [`HistoryError::Database`] when the thread cannot be started.
    pub(crate) fn start(history: History, journal: JournalAt) -> Result<Follower, HistoryError> {
        Follower::start_with(history, journal, QUEUE_BATCHES, None)
    }

    /// [`Follower::start`] with a queue of `bound` batches; a writer given
    /// `hold` takes that lock before each write (tests block it so).
    fn start_with(
        history: History,
        journal: JournalAt,
        bound: usize,
        hold: Option<Arc<Mutex<()>>>,
    ) -> Result<Follower, HistoryError> {
        let projector = history.projector().clone();
        let lag = SharedLag::default();
        let mut writer = Writer::new(history, journal, Arc::clone(&lag));
        writer.hold = hold;
        let (queue, batches) = sync_channel(bound);
        let writer = std::thread::Builder::new()
            .name(WRITER_THREAD_NAME.to_owned())
            .spawn(move || writer.run(&batches))
            .map_err(|error| {
                HistoryError::Database(format!("cannot start the history writer: {error}"))
            })?;
        Ok(Follower {
            projector,
            queue: Some(queue),
            writer: Some(writer),
            behind: false,
            lag,
        })
    }

    /// Whether the batch ending at journal record `last` is to be dropped:
    /// the follower is behind and the writer has not yet passed every
    /// record dropped before (it then notes this one as dropped too).
    fn still_behind(&mut self, last: u64) -> bool {
        if !self.behind {
            return false;
        }
        let mut lag = lock(&self.lag);
        if lag.behind {
            lag.dropped_to = last;
            lag.dropped += 1;
            return true;
        }
        drop(lag);
        tracing::info!(
            from = last,
            "the history writer has caught up; queueing again"
        );
        self.behind = false;
        false
    }

    /// Stops queueing: the queue was full for `batch`.
    fn fall_behind(&mut self, batch: Batch) {
        let last = batch.head.sequence;
        tracing::warn!(
            at = last,
            "the history queue is full; the history catches up from the journal"
        );
        self.behind = true;
        {
            let mut lag = lock(&self.lag);
            lag.behind = true;
            lag.dropped_to = last;
            lag.dropped += 1;
        }
        // Offered once more, now that the writer can see the mark: so that a
        // writer that emptied the queue meanwhile is woken to find it (it
        // passes the batch over, or writes it if it follows).
        if let Some(queue) = &self.queue {
            let _ = queue.try_send(batch);
        }
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
        // Projected even while behind (the rows are dropped): the memory
        // must stand at this batch when the follower queues again.
        if self.still_behind(head.sequence) {
            return;
        }
        let sent = self.queue.as_ref().map(|queue| queue.try_send(batch));
        match sent {
            Some(Ok(())) => {}
            Some(Err(TrySendError::Full(batch))) => self.fall_behind(batch),
            Some(Err(TrySendError::Disconnected(_))) | None => tracing::error!(
                "the history writer has stopped; the history catches up when the store is opened again"
            ),
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
    /// Shared with the follower.
    lag: SharedLag,
    /// Taken before each write (tests hold it to block the writer).
    hold: Option<Arc<Mutex<()>>>,
}

impl Writer {
    fn new(history: History, journal: JournalAt, lag: SharedLag) -> Writer {
        let written = history.written().map_or(0, |head| head.sequence);
        Writer {
            history,
            journal,
            written,
            behind: None,
            pause: RETRY_PAUSE_MIN,
            lag,
            hold: None,
        }
    }

    /// Writes batches until the queue is closed and empty.
    fn run(mut self, batches: &Receiver<Batch>) {
        loop {
            let first = match self.behind {
                None => batches.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(due) => batches.recv_timeout(due.saturating_duration_since(Instant::now())),
            };
            self.heed_the_follower();
            match first {
                Ok(batch) => self.write(batch, batches),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            // Again: the follower may have stopped while this thread wrote.
            self.heed_the_follower();
            if self.behind.is_some_and(|due| due <= Instant::now()) {
                self.catch_up();
            }
        }
        self.heed_the_follower();
        if self.behind.is_some() {
            // A last attempt, so that a command-line run leaves its history complete.
            self.catch_up();
        }
    }

    /// Falls behind when the follower has stopped queueing: the batches
    /// waiting are then passed over, and the history catches up at once.
    fn heed_the_follower(&mut self) {
        if self.behind.is_none() && lock(&self.lag).behind {
            self.behind = Some(Instant::now());
        }
    }

    /// Writes `first` and the batches waiting after it, in one transaction.
    fn write(&mut self, first: Batch, batches: &Receiver<Batch>) {
        let hold = self.hold.clone();
        let _held = hold
            .as_ref()
            .map(|hold| hold.lock().unwrap_or_else(PoisonError::into_inner));
        let mut rows = Vec::new();
        let mut head = None;
        let mut next = Some(first);
        let mut merged = 0_usize;
        while let Some(batch) = next.take() {
            self.take(batch, &mut rows, &mut head);
            merged += 1;
            if rows.len() < TRANSACTION_ROWS_MAX {
                next = batches.try_recv().ok();
            }
        }
        let Some(head) = head else {
            return;
        };
        if merged > 1 {
            rows = last_per_key(rows);
        }
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
                self.pause = RETRY_PAUSE_MIN;
                self.behind = self.release_the_follower().then_some(Instant::now());
            }
            Err(error) => {
                tracing::error!(%error, code = error.code(), pause_ms = self.pause.as_millis(), "history could not catch up; it tries again");
                self.behind = Some(Instant::now() + self.pause);
                self.pause = (self.pause * 2).min(RETRY_PAUSE_MAX);
            }
        }
    }
}

impl Writer {
    /// Lets a follower that stopped queueing queue again when the history
    /// has passed every record it dropped; says whether more were dropped
    /// after the journal was read (the history must catch up again).
    fn release_the_follower(&self) -> bool {
        let mut lag = lock(&self.lag);
        if !lag.behind {
            return false;
        }
        if lag.dropped_to > self.written {
            return true;
        }
        tracing::info!(
            at = self.written,
            dropped = lag.dropped,
            "the history has caught up with what the follower did not queue"
        );
        lag.behind = false;
        false
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Sqlite;

    fn head(sequence: u64) -> JournalHead {
        JournalHead {
            sequence,
            hash: [u8::try_from(sequence % 256).unwrap_or(0); 32],
        }
    }

    fn batch(after: u64, sequence: u64) -> Batch {
        Batch {
            after,
            rows: Vec::new(),
            head: head(sequence),
        }
    }

    fn writer(dir: &std::path::Path) -> Writer {
        let backend = Sqlite::open(&dir.join("history.sqlite")).expect("opens");
        let history = History::new(Box::new(backend)).expect("history");
        Writer::new(
            history,
            JournalAt::Directory(dir.to_path_buf()),
            SharedLag::default(),
        )
    }

    #[test]
    fn waiting_batches_that_follow_are_written_together_and_a_gap_stops_the_writing() {
        // Goal: the writer takes every waiting batch that follows its head
        // into one transaction, passes over what it already holds, and stops
        // at a batch that does not follow (it must catch up from the journal).
        let temp = tempfile::tempdir().expect("temp dir");
        let mut writer = writer(temp.path());
        let (queue, batches) = sync_channel(8);
        queue.send(batch(2, 5)).expect("queued");
        queue.send(batch(5, 7)).expect("queued");
        writer.write(batch(0, 2), &batches);
        assert_eq!(writer.written, 7);
        assert_eq!(writer.history.head().expect("reads"), Some(head(7)));
        assert!(writer.behind.is_none());
        // Already held: passed over, nothing changes.
        writer.write(batch(2, 5), &batches);
        assert_eq!(writer.written, 7);
        assert!(writer.behind.is_none());
        // A gap (records 8 and 9 never came): nothing of it is written.
        queue.send(batch(10, 11)).expect("queued");
        writer.write(batch(9, 10), &batches);
        assert_eq!(writer.written, 7);
        assert_eq!(writer.history.head().expect("reads"), Some(head(7)));
        assert!(writer.behind.is_some());
    }

    fn register(id: u64) -> ets_store::Submission {
        ets_store::Submission {
            request_id: ets_model::RequestId(id),
            requester: ets_model::ParticipantId(1),
            time: None,
            command: ets_engine::Command::Registry(
                ets_registry::RegistryCommand::RegisterParticipant {
                    id: ets_model::ParticipantId(id),
                    kind: ets_registry::ParticipantKind::Institution,
                    name: format!("p{id}"),
                },
            ),
        }
    }

    fn dump(path: &std::path::Path) -> Vec<crate::TableRows> {
        let backend = Sqlite::open(path).expect("opens");
        History::new(Box::new(backend))
            .expect("history")
            .dump()
            .expect("dumps")
    }

    #[test]
    fn a_full_queue_puts_the_follower_behind_and_the_writer_catches_up_from_the_journal() {
        // Goal: while the writer is blocked (a database away) and its queue
        // (2 batches here) is full, the sequencer goes on: the follower stops
        // queueing and marks itself behind; once the writer is released it
        // catches up from the journal, the follower queues again, and the
        // history equals the one rebuilt from the journal.
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path().join("store");
        let mut store =
            ets_store::Store::create(&dir, ets_store::StoreConfig::default()).expect("store");
        let history = History::new(Box::new(
            Sqlite::open(&crate::sqlite_path(&dir)).expect("opens"),
        ))
        .expect("history");
        let hold = Arc::new(Mutex::new(()));
        let held = hold.lock().expect("not poisoned");
        let follower = Follower::start_with(
            history,
            JournalAt::Directory(dir.clone()),
            2,
            Some(Arc::clone(&hold)),
        )
        .expect("starts");
        let lag = Arc::clone(&follower.lag);
        store.set_observer(Box::new(follower));
        let mut now = 1_700_000_000_000;
        let mut submit = |store: &mut ets_store::Store, ids: std::ops::Range<u64>| {
            for id in ids {
                store
                    .submit(&[register(id)], ets_model::Timestamp(now))
                    .expect("durable");
                now += 1_000;
            }
        };
        // One batch in the blocked writer's hands, two queued: the rest are not queued.
        submit(&mut store, 1..21);
        {
            let lag = lock(&lag);
            assert!(lag.behind);
            assert_eq!(lag.dropped_to, 20);
            assert!(lag.dropped >= 17, "{lag:?}");
        }
        drop(held);
        // The writer catches up and lets the follower queue again; no clock
        // is read here, the loop only waits for that to happen.
        while lock(&lag).behind {
            std::thread::yield_now();
        }
        // The queue is empty now, so the next batch is queued.
        let dropped = lock(&lag).dropped;
        submit(&mut store, 21..22);
        assert_eq!(
            lock(&lag).dropped,
            dropped,
            "queued again after the catch-up"
        );
        submit(&mut store, 22..31);
        drop(store);
        let live = dump(&crate::sqlite_path(&dir));
        let mut again = History::new(Box::new(
            Sqlite::open(&temp.path().join("rebuilt.sqlite")).expect("opens"),
        ))
        .expect("history");
        let journal = ets_store::Store::open_read_only(&dir).expect("opens");
        again.rebuild(journal.journal()).expect("rebuilds");
        assert_eq!(live[0].1.len(), 30);
        assert_eq!(live, again.dump().expect("dumps"));
    }
}
