//! The sequencer thread: the only owner of the store. It drains the queue in
//! batches through the store's pipelined group commit
//! (`Store::submit_pipelined`): while batch N is written and fsynced on the
//! store's writer thread, batch N+1 is applied; the submissions of a batch
//! are answered only once it and every batch before it are durable. A run
//! of batches ends when the queue is empty or a read or a tick comes; it
//! drains first (every batch durable and answered, the history told), so a
//! query sees every earlier acknowledged write and nothing that is not
//! durable. Each group commit is timed for the metrics (from the batch's
//! hand-over to its acknowledgement). While the streams have subscribers a
//! run is one batch, whose events go out once it is durable and answered,
//! drawn from the store as it stands after it (`stream`).
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
use ets_engine::{Command, Outcome};
use ets_model::Timestamp;
use ets_store::{Reply, Store, StoreError, Submission};
use std::cell::RefCell;
use std::collections::VecDeque;
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

/// Who waits for which replies of a batch, in order.
enum Waiter {
    One(oneshot::Sender<Result<Reply, Fault>>),
    Many {
        count: usize,
        reply: oneshot::Sender<Result<Vec<Reply>, Fault>>,
    },
}

impl Waiter {
    /// Answers with the fault of the batch.
    fn fail(self, fault: &Fault) {
        // The asker may have gone away; nothing to do then.
        let _ = match self {
            Waiter::One(sender) => sender.send(Err(fault.clone())).map_err(drop),
            Waiter::Many { reply, .. } => reply.send(Err(fault.clone())).map_err(drop),
        };
    }
}

/// A batch handed to the store, waiting to be durable.
struct InFlight {
    waiters: Vec<Waiter>,
    /// Its commands, kept only when the streams have subscribers (for the events).
    commands: Vec<Command>,
    handed: Instant,
}

/// One pipelined run (`Store::submit_pipelined`): the batches it takes from
/// the queue, who waits for each, and the job that ended it.
struct Run<'a> {
    receiver: &'a mut mpsc::Receiver<Job>,
    limits: SequencerConfig,
    metrics: &'a Metrics,
    /// A job taken from the queue and not yet placed: the run's first, or
    /// one that did not fit in the batch before it.
    carry: Option<Job>,
    /// A read or tick that ended the run: it runs once the run is durable.
    ended_by: Option<Job>,
    /// With subscribers to the streams a run is one batch, so that its
    /// events are drawn from the store as it stands after that batch.
    one_batch: bool,
    batches: usize,
    in_flight: VecDeque<InFlight>,
    /// The journaled commands with their outcomes, for the stream events.
    applied: Vec<(Command, Outcome)>,
}

impl Run<'_> {
    /// The next batch from the queue, without waiting: `None` when the queue
    /// is empty (the run then drains, so that nobody waits on a batch behind
    /// an empty queue) or a read or tick comes (it runs after the drain).
    fn next_batch(&mut self) -> Option<(Vec<Submission>, Timestamp)> {
        if self.ended_by.is_some() || (self.one_batch && self.batches > 0) {
            return None;
        }
        let mut submissions = Vec::new();
        let mut waiters = Vec::new();
        let mut bytes_total = 0_usize;
        while submissions.len() < self.limits.batch_max {
            let Some(job) = self.carry.take().or_else(|| self.receiver.try_recv().ok()) else {
                break;
            };
            let bytes = match &job {
                Job::Submit { bytes, .. } | Job::SubmitMany { bytes, .. } => *bytes,
                Job::Read(_) | Job::Tick => {
                    self.ended_by = Some(job);
                    break;
                }
            };
            // A job that would take the group commit past its byte bound starts the next one.
            if !submissions.is_empty()
                && bytes_total.saturating_add(bytes) > self.limits.batch_bytes_max
            {
                self.carry = Some(job);
                break;
            }
            bytes_total = bytes_total.saturating_add(bytes);
            take_job(job, &mut submissions, &mut waiters);
        }
        if submissions.is_empty() {
            // Only empty batches can be waiting: answer them.
            for waiter in waiters {
                if let Waiter::Many { reply, .. } = waiter {
                    let _ = reply.send(Ok(Vec::new()));
                }
            }
            return None;
        }
        let commands = if self.one_batch {
            submissions
                .iter()
                .map(|submission| submission.command.clone())
                .collect()
        } else {
            Vec::new()
        };
        self.in_flight.push_back(InFlight {
            waiters,
            commands,
            handed: Instant::now(),
        });
        self.batches += 1;
        Some((submissions, self.limits.clock.now()))
    }

    /// Answers the oldest batch in flight, now durable, with `replies`.
    fn acknowledge(&mut self, replies: Vec<Reply>) {
        let batch = self.in_flight.pop_front();
        assert!(
            batch.is_some(),
            "the store acknowledged a batch the sequencer never handed it"
        );
        let Some(batch) = batch else { return };
        self.metrics
            .observe_commit(replies.len(), batch.handed.elapsed());
        // The journal's record count is current before any reply leaves: a
        // client that scrapes /metrics after its answer sees its record.
        let journaled = replies.iter().filter(|r| r.sequence.is_some()).count();
        self.metrics.add_journal_records(journaled);
        if self.one_batch {
            let journaled = batch.commands.into_iter().zip(&replies);
            self.applied.extend(
                journaled
                    .filter(|(_, reply)| reply.sequence.is_some())
                    .map(|(command, reply)| (command, reply.outcome.clone())),
            );
        }
        let mut replies = replies.into_iter();
        for waiter in batch.waiters {
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
    }

    /// Answers every batch not acknowledged, and a submission taken but not
    /// placed, with `fault`.
    fn fail(&mut self, fault: &Fault) {
        for batch in self.in_flight.drain(..) {
            for waiter in batch.waiters {
                waiter.fail(fault);
            }
        }
        if let Some(job) = self.carry.take() {
            let mut submissions = Vec::new();
            let mut waiters = Vec::new();
            take_job(job, &mut submissions, &mut waiters);
            for waiter in waiters {
                waiter.fail(fault);
            }
        }
    }
}

/// Adds a submission job's commands to `submissions` and its waiter to
/// `waiters` (a read or tick is never passed here).
fn take_job(job: Job, submissions: &mut Vec<Submission>, waiters: &mut Vec<Waiter>) {
    match job {
        Job::Submit {
            submission, reply, ..
        } => {
            submissions.push(*submission);
            waiters.push(Waiter::One(reply));
        }
        Job::SubmitMany {
            submissions: many,
            reply,
            ..
        } => {
            waiters.push(Waiter::Many {
                count: many.len(),
                reply,
            });
            submissions.extend(many);
        }
        Job::Read(_) | Job::Tick => {
            unreachable!("reads and ticks end a run before they are taken")
        }
    }
}

fn run(
    mut store: Store,
    mut receiver: mpsc::Receiver<Job>,
    limits: SequencerConfig,
    sink: &mut Sink<'_>,
) {
    report_journal(&store, sink.metrics);
    // The first tick: deadlines are counted from the server's start.
    tick(&store, sink, limits.clock);
    let mut resumer = Resumer::default();
    let mut next = None;
    loop {
        let job = match next.take() {
            Some(job) => job,
            None => match resumer.next_job(&mut store, &mut receiver, sink) {
                Some(job) => job,
                None => break,
            },
        };
        match job {
            Job::Read(read) => {
                // Every earlier submission is durable: runs drain before they return.
                let read = std::panic::AssertUnwindSafe(|| read(&store));
                if std::panic::catch_unwind(read).is_err() {
                    tracing::error!("a read job panicked");
                }
            }
            Job::Tick => tick(&store, sink, limits.clock),
            submit => next = pipelined(&mut store, &mut receiver, submit, limits, sink),
        }
    }
    tracing::info!("sequencer stopped");
}

/// Runs submissions from `first` on through the store's pipelined group
/// commit (batch N+1 applied while N is written and fsynced), each batch
/// answered once durable, until the queue is empty or a read or tick comes;
/// returns that read or tick, to run now that everything before it is durable.
fn pipelined(
    store: &mut Store,
    receiver: &mut mpsc::Receiver<Job>,
    first: Job,
    limits: SequencerConfig,
    sink: &mut Sink<'_>,
) -> Option<Job> {
    let run = RefCell::new(Run {
        receiver,
        limits,
        metrics: sink.metrics,
        carry: Some(first),
        ended_by: None,
        one_batch: sink.streams.has_subscribers(),
        batches: 0,
        in_flight: VecDeque::new(),
        applied: Vec::new(),
    });
    let batches = std::iter::from_fn(|| run.borrow_mut().next_batch());
    let submitted =
        store.submit_pipelined(batches, |replies| run.borrow_mut().acknowledge(replies));
    let mut run = run.into_inner();
    match submitted {
        Ok(()) => {
            report_journal(store, sink.metrics);
            if !run.applied.is_empty() {
                let batch = run
                    .applied
                    .iter()
                    .map(|(command, outcome)| (command, outcome));
                let events = sink.publisher.events(store, batch);
                sink.streams.publish(events);
            }
        }
        Err(error) => {
            let fault = standing_fault(store, &error, sink.metrics);
            run.fail(&fault);
        }
    }
    run.ended_by
}

/// Records the fault a failed batch met (a stopped store refuses with
/// `Faulted`: the fault that stopped it still stands) and returns it.
fn standing_fault(store: &Store, error: &StoreError, metrics: &Metrics) -> Fault {
    metrics.observe_store_fault();
    let fault = match (error, metrics.store_fault()) {
        (StoreError::Faulted, Some(standing)) => standing,
        _ => Fault::of(store, error),
    };
    tracing::error!(%error, code = %fault.code, "store fault; no reply of this batch is acknowledged");
    metrics.set_store_fault(Some(fault.clone()));
    fault
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
