//! The sequencer thread: the only owner of the store. It drains the queue in
//! batches; submissions of a batch are made durable together (one fsync)
//! before any of them is answered; a query first flushes the submissions
//! queued before it, so reads see every earlier acknowledged write. Each
//! group commit is timed for the metrics.

use crate::metrics::Metrics;
use ets_api::{account_view, participant_view, serial_view, transaction_view};
use ets_model::{AccountId, ParticipantId, TransactionId};
use ets_store::{Reply, Store, Submission, wall_clock_now};
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

/// Queue and batch limits.
#[derive(Debug, Clone, Copy)]
pub struct SequencerConfig {
    /// Jobs that may wait in the queue; beyond this requests get 503.
    pub queue_capacity: usize,
    /// The most submissions made durable by one fsync.
    pub batch_max: usize,
}

impl Default for SequencerConfig {
    fn default() -> SequencerConfig {
        SequencerConfig {
            queue_capacity: 65_536,
            batch_max: 8_189,
        }
    }
}

/// A read of the engine's state.
#[derive(Debug, Clone, Copy)]
pub enum Query {
    /// An account with its holdings.
    Account(AccountId),
    /// A transaction with its history.
    Transaction(TransactionId),
    /// A serial number's history.
    Serial(u64),
    /// A participant.
    Participant(ParticipantId),
}

/// Work for the sequencer, with where to send the answer.
pub enum Job {
    /// A command to apply; answered once durable, or with the store's fault.
    Submit {
        /// The command (boxed: commands are much larger than queries, and the queue
        /// holds many jobs).
        submission: Box<Submission>,
        /// Where the reply goes.
        reply: oneshot::Sender<Result<Reply, String>>,
    },
    /// A query; answered with the view, or `None` when the thing does not exist.
    Query {
        /// What to read.
        query: Query,
        /// Where the view goes.
        reply: oneshot::Sender<Option<Value>>,
    },
    /// A read of anything in the store (the web UI's pages), run on the
    /// sequencer thread after the submissions queued before it are durable.
    /// The closure sends its own answer; it must be quick, as writes wait.
    Read(Box<dyn FnOnce(&Store) + Send>),
}

/// The running sequencer thread.
pub struct Sequencer {
    sender: mpsc::Sender<Job>,
    thread: std::thread::JoinHandle<()>,
}

impl Sequencer {
    /// Starts the thread that owns `store`; it reports batch sizes, commit
    /// latency and the journal's size to `metrics`.
    ///
    /// # Errors
    /// The operating system's error when the thread cannot be created.
    pub fn start(
        store: Store,
        config: SequencerConfig,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Sequencer> {
        let (sender, receiver) = mpsc::channel(config.queue_capacity.max(1));
        let batch_max = config.batch_max.max(1);
        let thread = std::thread::Builder::new()
            .name("sequencer".into())
            .spawn(move || run(store, receiver, batch_max, &metrics))?;
        Ok(Sequencer { sender, thread })
    }

    /// A handle for request handlers.
    #[must_use]
    pub fn handle(&self) -> mpsc::Sender<Job> {
        self.sender.clone()
    }

    /// Closes the queue, lets the thread finish what is queued, and waits for it.
    pub fn stop(self) {
        drop(self.sender);
        if self.thread.join().is_err() {
            tracing::error!("the sequencer thread panicked");
        }
    }
}

fn run(mut store: Store, mut receiver: mpsc::Receiver<Job>, batch_max: usize, metrics: &Metrics) {
    report_journal(&store, metrics);
    let mut pending: Vec<(Submission, oneshot::Sender<Result<Reply, String>>)> = Vec::new();
    // Waits for the first job, then takes whatever else is already queued.
    while let Some(first) = receiver.blocking_recv() {
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Submit { submission, reply } => {
                    pending.push((*submission, reply));
                    if pending.len() >= batch_max {
                        flush(&mut store, &mut pending, metrics);
                    }
                }
                Job::Query { query, reply } => {
                    flush(&mut store, &mut pending, metrics);
                    // The asker may have gone away; nothing to do then.
                    let _ = reply.send(answer(&store, query));
                }
                Job::Read(read) => {
                    flush(&mut store, &mut pending, metrics);
                    // A read changes nothing, so a panicking one only loses its answer.
                    let read = std::panic::AssertUnwindSafe(|| read(&store));
                    if std::panic::catch_unwind(read).is_err() {
                        tracing::error!("a read job panicked");
                    }
                }
            }
            next = receiver.try_recv().ok();
        }
        flush(&mut store, &mut pending, metrics);
    }
    tracing::info!("sequencer stopped");
}

/// Makes the pending submissions durable, then answers each.
fn flush(
    store: &mut Store,
    pending: &mut Vec<(Submission, oneshot::Sender<Result<Reply, String>>)>,
    metrics: &Metrics,
) {
    if pending.is_empty() {
        return;
    }
    let submissions: Vec<Submission> = pending
        .iter()
        .map(|(submission, _)| submission.clone())
        .collect();
    let started = Instant::now();
    let submitted = store.submit(&submissions, wall_clock_now());
    let latency = started.elapsed();
    match submitted {
        Ok(replies) => {
            metrics.observe_commit(submissions.len(), latency);
            report_journal(store, metrics);
            for ((_, sender), reply) in pending.drain(..).zip(replies) {
                let _ = sender.send(Ok(reply));
            }
        }
        Err(error) => {
            metrics.observe_store_fault();
            tracing::error!(%error, "store fault; no reply of this batch is acknowledged");
            for (_, sender) in pending.drain(..) {
                let _ = sender.send(Err(error.to_string()));
            }
        }
    }
}

fn report_journal(store: &Store, metrics: &Metrics) {
    let stats = store.journal().stats();
    metrics.set_journal(stats.bytes, stats.records);
}

fn answer(store: &Store, query: Query) -> Option<Value> {
    let registry = store.engine().registry();
    match query {
        Query::Account(id) => account_view(registry, id).ok(),
        Query::Transaction(id) => transaction_view(registry, id).ok(),
        Query::Participant(id) => participant_view(registry, id).ok(),
        Query::Serial(serial) => serial_view(registry, serial),
    }
}
