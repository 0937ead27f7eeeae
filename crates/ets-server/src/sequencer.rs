//! The sequencer thread: the only owner of the store. It drains the queue in
//! batches; submissions of a batch are made durable together (one fsync)
//! before any of them is answered; a query first flushes the submissions
//! queued before it, so reads see every earlier acknowledged write. Each
//! group commit is timed for the metrics. After a batch is durable and
//! answered, its events go to the subscribers of the streams (`stream`).
//!
//! **Faults.** A batch that fails is answered with a [`Fault`], never a
//! reply. A file store then stays stopped until restarted (`store_faulted`).
//! A PostgreSQL store is resumed: between jobs the sequencer tries
//! [`Store::resume`] with a backoff doubling from 100 ms to 5 s; meanwhile
//! writes answer `503 database_unavailable` and `/healthz` reports the fault;
//! a writer fenced off by another never resumes (`store_fenced`).
//!
//! A timer thread sends a [`Job::Tick`] every [`SequencerConfig::tick`]:
//! the sequencer then checks what time alone changes (a deadline's window
//! opening) against the server's clock and publishes it, even when no
//! command arrives. A tick writes nothing and never reaches the engine.

use crate::clock::{ServerClock, TICK_DEFAULT, TICK_MIN};
use crate::metrics::Metrics;
use crate::stream::{Publisher, Streams};
use ets_api::RefusalCode;
use ets_store::{Reply, Store, StoreError, Submission};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{mpsc, oneshot};

/// Why a batch was not made durable, as its requests are answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// `store_faulted` (a file store, stopped until restarted; HTTP 500),
    /// `database_unavailable` (a PostgreSQL store retrying; 503) or
    /// `store_fenced` (another server took over the database; 503).
    pub code: RefusalCode,
    /// What happened, naming the database without its password.
    pub message: String,
}

impl Fault {
    /// The fault of `store` after `error` failed a batch.
    fn of(store: &Store, error: &StoreError) -> Fault {
        let code = if !store.can_resume() {
            RefusalCode::StoreFaulted
        } else if error.code() == "fenced" {
            RefusalCode::StoreFenced
        } else {
            RefusalCode::DatabaseUnavailable
        };
        Fault {
            code,
            message: error.to_string(),
        }
    }

    /// Whether the server may come back from it without a restart.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        self.code == RefusalCode::DatabaseUnavailable
    }
}

/// How long a faulted database store waits before its first attempt to resume.
const RESUME_FIRST_WAIT: Duration = Duration::from_millis(100);
/// The longest wait between attempts.
const RESUME_MAX_WAIT: Duration = Duration::from_secs(5);
/// How often the queue is looked at between attempts.
const FAULTED_POLL: Duration = Duration::from_millis(20);

/// Queue and batch limits, the clock commands are stamped with, and the timer.
#[derive(Debug, Clone, Copy)]
pub struct SequencerConfig {
    /// Jobs that may wait in the queue; beyond this requests get 503.
    pub queue_capacity: usize,
    /// The most submissions made durable by one fsync.
    pub batch_max: usize,
    /// The most request bytes (the commands' JSON, an upper bound of their
    /// journaled size) made durable by one fsync; a job that would pass it
    /// starts the next group commit instead. A quarter of the journal's
    /// batch limit, so no mix of users' requests can exceed it and fault
    /// the store.
    pub batch_bytes_max: usize,
    /// The server's clock: the stamps of commands and the time ticks check
    /// against (the wall clock unless a test starts it elsewhere).
    pub clock: ServerClock,
    /// How often a [`Job::Tick`] is queued (at least [`TICK_MIN`]).
    pub tick: Duration,
}

impl Default for SequencerConfig {
    fn default() -> SequencerConfig {
        SequencerConfig {
            queue_capacity: 65_536,
            batch_max: 8_189,
            batch_bytes_max: ets_journal::MAX_BATCH_BYTES / 4,
            clock: ServerClock::wall(),
            tick: TICK_DEFAULT,
        }
    }
}

/// Work for the sequencer, with where to send the answer.
pub enum Job {
    /// A command to apply; answered once durable, or with the store's fault.
    Submit {
        /// The command (boxed: commands are much larger than queries, and the queue
        /// holds many jobs).
        submission: Box<Submission>,
        /// The size of the request it came in, bytes.
        bytes: usize,
        /// Where the reply goes.
        reply: oneshot::Sender<Result<Reply, Fault>>,
    },
    /// Many commands from one request (`POST /api/commands/batch`), applied
    /// in order within one group commit; answered with one reply each once
    /// durable, or with the store's fault.
    SubmitMany {
        /// The commands, in order.
        submissions: Vec<Submission>,
        /// The size of the request they came in, bytes.
        bytes: usize,
        /// Where the replies go, in the same order.
        reply: oneshot::Sender<Result<Vec<Reply>, Fault>>,
    },
    /// A read of anything in the store (the web UI's pages), run on the
    /// sequencer thread after the submissions queued before it are durable.
    /// The closure sends its own answer; it must be quick, as writes wait.
    Read(Box<dyn FnOnce(&Store) + Send>),
    /// The timer: publish what time alone changed since the last tick
    /// (deadlines whose window opened). Writes nothing.
    Tick,
}

/// The running sequencer thread and its timer.
pub struct Sequencer {
    sender: mpsc::Sender<Job>,
    thread: std::thread::JoinHandle<()>,
    ticker: Ticker,
}

/// The timer thread, stopped when `stop` is dropped.
struct Ticker {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Ticker {
    /// Queues a [`Job::Tick`] on `jobs` every `every` until stopped; a full
    /// queue skips that tick rather than wait.
    fn start(jobs: mpsc::Sender<Job>, every: Duration) -> std::io::Result<Ticker> {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sequencer-tick".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(every)
                {
                    if let Err(mpsc::error::TrySendError::Closed(_)) = jobs.try_send(Job::Tick) {
                        break;
                    }
                }
            })?;
        Ok(Ticker { stop, thread })
    }

    fn stop(self) {
        drop(self.stop);
        if self.thread.join().is_err() {
            tracing::error!("the sequencer's timer thread panicked");
        }
    }
}

impl Sequencer {
    /// Starts the thread that owns `store`; it reports batch sizes, commit
    /// latency and the journal's size to `metrics`, and publishes the events
    /// of each durable batch on `streams`.
    ///
    /// # Errors
    /// The operating system's error when the thread cannot be created.
    pub fn start(
        store: Store,
        config: SequencerConfig,
        metrics: Arc<Metrics>,
        streams: Streams,
    ) -> std::io::Result<Sequencer> {
        let (sender, receiver) = mpsc::channel(config.queue_capacity.max(1));
        let limits = SequencerConfig {
            batch_max: config.batch_max.max(1),
            batch_bytes_max: config.batch_bytes_max.max(1),
            tick: config.tick.max(TICK_MIN),
            ..config
        };
        let ticker = Ticker::start(sender.clone(), limits.tick)?;
        let thread = std::thread::Builder::new()
            .name("sequencer".into())
            .spawn(move || {
                let mut sink = Sink {
                    metrics: &metrics,
                    streams: &streams,
                    publisher: Publisher::default(),
                };
                run(store, receiver, limits, &mut sink);
            })?;
        Ok(Sequencer {
            sender,
            thread,
            ticker,
        })
    }

    /// A handle for request handlers.
    #[must_use]
    pub fn handle(&self) -> mpsc::Sender<Job> {
        self.sender.clone()
    }

    /// Stops the timer, closes the queue, lets the thread finish what is
    /// queued, and waits for it.
    pub fn stop(self) {
        self.ticker.stop();
        drop(self.sender);
        if self.thread.join().is_err() {
            tracing::error!("the sequencer thread panicked");
        }
    }
}

/// Where the results of a batch go besides the replies.
struct Sink<'a> {
    metrics: &'a Metrics,
    streams: &'a Streams,
    publisher: Publisher,
}

/// Who waits for which replies of the pending submissions, in order.
enum Waiter {
    One(oneshot::Sender<Result<Reply, Fault>>),
    Many {
        count: usize,
        reply: oneshot::Sender<Result<Vec<Reply>, Fault>>,
    },
}

/// The submissions not yet durable and who waits for them.
#[derive(Default)]
struct Pending {
    submissions: Vec<Submission>,
    waiters: Vec<Waiter>,
    bytes: usize,
}

fn run(
    mut store: Store,
    mut receiver: mpsc::Receiver<Job>,
    limits: SequencerConfig,
    sink: &mut Sink<'_>,
) {
    let batch_max = limits.batch_max;
    report_journal(&store, sink.metrics);
    // The first tick: deadlines are counted from the server's start.
    tick(&store, sink, limits.clock);
    let mut pending = Pending::default();
    let mut resumer = Resumer::default();
    // Waits for the first job, then takes whatever else is already queued.
    while let Some(first) = resumer.next_job(&mut store, &mut receiver, sink) {
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Submit {
                    submission,
                    bytes,
                    reply,
                } => {
                    make_room(&mut store, &mut pending, sink, bytes, limits);
                    pending.bytes = pending.bytes.saturating_add(bytes);
                    pending.submissions.push(*submission);
                    pending.waiters.push(Waiter::One(reply));
                }
                Job::SubmitMany {
                    submissions,
                    bytes,
                    reply,
                } => {
                    make_room(&mut store, &mut pending, sink, bytes, limits);
                    pending.bytes = pending.bytes.saturating_add(bytes);
                    pending.waiters.push(Waiter::Many {
                        count: submissions.len(),
                        reply,
                    });
                    pending.submissions.extend(submissions);
                }
                Job::Read(read) => {
                    flush(&mut store, &mut pending, sink, limits.clock);
                    // A read changes nothing, so a panicking one only loses its answer.
                    let read = std::panic::AssertUnwindSafe(|| read(&store));
                    if std::panic::catch_unwind(read).is_err() {
                        tracing::error!("a read job panicked");
                    }
                }
                Job::Tick => {
                    flush(&mut store, &mut pending, sink, limits.clock);
                    tick(&store, sink, limits.clock);
                }
            }
            if pending.submissions.len() >= batch_max {
                flush(&mut store, &mut pending, sink, limits.clock);
            }
            next = receiver.try_recv().ok();
        }
        flush(&mut store, &mut pending, sink, limits.clock);
    }
    tracing::info!("sequencer stopped");
}

/// Commits what is pending first when a job of `bytes` would take the group
/// commit past `bytes_max` (so a large job starts a batch of its own rather
/// than overflowing the journal's limit).
fn make_room(
    store: &mut Store,
    pending: &mut Pending,
    sink: &mut Sink<'_>,
    bytes: usize,
    limits: SequencerConfig,
) {
    if !pending.submissions.is_empty()
        && pending.bytes.saturating_add(bytes) > limits.batch_bytes_max
    {
        flush(store, pending, sink, limits.clock);
    }
}

/// Publishes what time alone changed by the server's `clock` (never before
/// the store's last stamp). The inbox tracker checks at every tick, whether
/// or not anyone listens, so that a window opening is judged once.
fn tick(store: &Store, sink: &mut Sink<'_>, clock: ServerClock) {
    let now = clock.now().max(store.clock());
    let events = sink.publisher.tick(store, now);
    if !events.is_empty() && sink.streams.has_subscribers() {
        sink.streams.publish(events);
    }
}

/// Makes the pending submissions durable, then answers each, then publishes
/// the batch's events when anyone listens.
fn flush(store: &mut Store, pending: &mut Pending, sink: &mut Sink<'_>, clock: ServerClock) {
    if pending.submissions.is_empty() {
        // Only empty batches can be waiting: answer them.
        for waiter in pending.waiters.drain(..) {
            if let Waiter::Many { reply, .. } = waiter {
                let _ = reply.send(Ok(Vec::new()));
            }
        }
        return;
    }
    let metrics = sink.metrics;
    let started = Instant::now();
    let submitted = store.submit(&pending.submissions, clock.now());
    let latency = started.elapsed();
    let count = pending.submissions.len();
    let publish = submitted.is_ok() && sink.streams.has_subscribers();
    // The journaled commands with their outcomes, for the stream events
    // (the inbox names a report's entity and year from its command).
    let applied: Vec<_> = match (&submitted, publish) {
        (Ok(replies), true) => pending
            .submissions
            .iter()
            .zip(replies)
            .filter(|(_, reply)| reply.sequence.is_some())
            .map(|(submission, reply)| (submission.command.clone(), reply.outcome.clone()))
            .collect(),
        _ => Vec::new(),
    };
    pending.submissions.clear();
    pending.bytes = 0;
    match submitted {
        Ok(replies) => {
            metrics.observe_commit(count, latency);
            report_journal(store, metrics);
            let mut replies = replies.into_iter();
            for waiter in pending.waiters.drain(..) {
                match waiter {
                    Waiter::One(sender) => {
                        if let Some(reply) = replies.next() {
                            let _ = sender.send(Ok(reply));
                        }
                    }
                    Waiter::Many { count, reply } => {
                        let _ = reply.send(Ok(replies.by_ref().take(count).collect()));
                    }
                }
            }
            if publish {
                let batch = applied.iter().map(|(command, outcome)| (command, outcome));
                let events = sink.publisher.events(store, batch);
                sink.streams.publish(events);
            }
        }
        Err(error) => {
            metrics.observe_store_fault();
            // A stopped store refuses with `Faulted`: the fault that stopped it still stands.
            let fault = match (&error, metrics.store_fault()) {
                (StoreError::Faulted, Some(standing)) => standing,
                _ => Fault::of(store, &error),
            };
            tracing::error!(%error, code = %fault.code, "store fault; no reply of this batch is acknowledged");
            metrics.set_store_fault(Some(fault.clone()));
            for waiter in pending.waiters.drain(..) {
                let _ = match waiter {
                    Waiter::One(sender) => sender.send(Err(fault.clone())).map_err(drop),
                    Waiter::Many { reply, .. } => reply.send(Err(fault.clone())).map_err(drop),
                };
            }
        }
    }
}

/// Tries to bring a faulted database store back between jobs, with backoff.
struct Resumer {
    wait: Duration,
    next_attempt: Option<Instant>,
}

impl Default for Resumer {
    fn default() -> Resumer {
        Resumer {
            wait: RESUME_FIRST_WAIT,
            next_attempt: None,
        }
    }
}

impl Resumer {
    /// The next job, or `None` once the queue is closed. While the store is
    /// stopped by a transient database fault it polls the queue and tries
    /// [`Store::resume`] whenever the backoff allows; otherwise it waits.
    fn next_job(
        &mut self,
        store: &mut Store,
        receiver: &mut mpsc::Receiver<Job>,
        sink: &mut Sink<'_>,
    ) -> Option<Job> {
        let metrics = sink.metrics;
        loop {
            let transient = metrics
                .store_fault()
                .is_some_and(|fault| fault.is_transient());
            if !(store.is_faulted() && transient) {
                *self = Resumer::default();
                return receiver.blocking_recv();
            }
            let now = Instant::now();
            let due = *self.next_attempt.get_or_insert(now + self.wait);
            if now >= due {
                self.attempt(store, sink);
                continue;
            }
            match receiver.try_recv() {
                Ok(job) => return Some(job),
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) => std::thread::sleep(FAULTED_POLL.min(due - now)),
            }
        }
    }

    /// One attempt to resume; on failure the fault's message is updated and
    /// the wait doubles (up to [`RESUME_MAX_WAIT`]). The failed batch, when
    /// it turned out durable, was answered with the fault: its events go out
    /// now, once, as any durable batch's do.
    fn attempt(&mut self, store: &mut Store, sink: &mut Sink<'_>) {
        let metrics = sink.metrics;
        match store.resume() {
            Ok(settled) => {
                tracing::warn!(
                    settled_records = settled.len(),
                    "the database is back; the store accepts writes again"
                );
                metrics.set_store_fault(None);
                report_journal(store, metrics);
                if !settled.is_empty() && sink.streams.has_subscribers() {
                    let batch = settled
                        .iter()
                        .map(|committed| (&committed.envelope.command, &committed.outcome));
                    let events = sink.publisher.events(store, batch);
                    sink.streams.publish(events);
                }
            }
            Err(error) => {
                let fault = Fault::of(store, &error);
                tracing::warn!(%error, code = %fault.code, wait_ms = self.wait.as_millis(), "the store could not resume yet");
                metrics.set_store_fault(Some(fault));
                self.wait = (self.wait * 2).min(RESUME_MAX_WAIT);
                self.next_attempt = Some(Instant::now() + self.wait);
            }
        }
    }
}

fn report_journal(store: &Store, metrics: &Metrics) {
    let stats = store.journal().stats();
    metrics.set_journal(stats.bytes, stats.records);
}
