//! Pipelined group commit: while the journal appends, writes and fsyncs
//! batch N on a thread of its own, the engine applies batch N+1, as
//! TigerBeetle overlaps its prepare with its commit.
//!
//! What stays as in [`Store::submit_dated`]: a batch's replies are handed out
//! only after its own fsync returned and after every earlier batch's, in
//! order (a duplicate in batch N+1 may answer with batch N's outcome, so it
//! waits for N too); a failed write of batch N stops the writer before it
//! takes N+1, so nothing after N is acknowledged; the store then faults and
//! puts back the durable state (`Store::fault`), as after any I/O fault. At
//! most one batch is being written while the next is applied, so the engine
//! runs at most two batches ahead of the disk, never further.
//!
//! An observer (the history database) reads the engine as it stands after
//! the records it is handed, and here the engine runs ahead of the disk: so
//! it hears of a run's batches together, once the run has drained (every
//! batch durable, nothing applied beyond them), and after a failed write of
//! the run's durable part only, with the durable state.

use super::{Store, StoreError};
use crate::backend::JournalBackend;
use crate::kind::StoreKind;
use crate::observer::{Committed, JournalHead};
use crate::sequence::{Fresh, Stamping, Step, apply_submission, journaled};
use crate::{Reply, Submission};
use ets_engine::Engine;
use ets_model::Timestamp;
use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver, Sender};

/// One batch's journal records, encoded by the sequencer, appended by the writer.
#[derive(Default)]
struct Encoded {
    /// The sequence number the first record must get.
    first_sequence: u64,
    /// The payloads, end to end.
    payloads: Vec<u8>,
    /// Each record's time and the end of its payload in `payloads`.
    records: Vec<(i64, usize)>,
}

impl Encoded {
    /// Empties the batch (keeping its memory) for records from `first_sequence` on.
    fn reset(&mut self, first_sequence: u64) {
        self.first_sequence = first_sequence;
        self.payloads.clear();
        self.records.clear();
    }

    /// The sequence number the next record will get.
    fn next_sequence(&self) -> u64 {
        self.first_sequence + self.records.len() as u64
    }

    /// Encodes `fresh` as the next record; returns its sequence number.
    fn push(&mut self, fresh: &Fresh) -> Result<u64, StoreError> {
        let sequence = self.next_sequence();
        let start = self.payloads.len();
        if let Err(error) = fresh.encode(sequence, &mut self.payloads) {
            self.payloads.truncate(start);
            return Err(error);
        }
        self.records.push((fresh.time.0, self.payloads.len()));
        Ok(sequence)
    }

    /// Each record's time and payload, in order.
    fn records(&self) -> impl Iterator<Item = (i64, &[u8])> {
        let starts = std::iter::once(0).chain(self.records.iter().map(|&(_, end)| end));
        self.records
            .iter()
            .zip(starts)
            .map(|(&(timestamp_ms, end), start)| (timestamp_ms, &self.payloads[start..end]))
    }
}

/// The most journaled records a pipelined run gathers for the observer before
/// it drains the pipeline and hands them over (a bound on the observer's lag
/// and on the memory of the records it has not heard of yet).
pub const PIPELINE_OBSERVED_MAX: usize = 65_536;

impl Store {
    /// Applies dated batches one after another as [`Store::submit_dated`]
    /// does, but overlaps the journal append, write and fsync of each batch
    /// with applying the next (`durable` receives each batch's replies, in
    /// order, once that batch is durable). For an in-process driver that owns
    /// a virtual or import store and streams batches (the ledger benchmark).
    /// Reads between batches would see a batch not yet durable, so none are
    /// offered: the store is borrowed until every batch is durable. An
    /// observer (a history database) hears of the batches at the end of each
    /// pipelined run, all at once, with the engine as it stands after them
    /// (the engine runs ahead of the disk, so not after each batch; a run
    /// gathers at most [`PIPELINE_OBSERVED_MAX`] records).
    ///
    /// # Errors
    /// [`StoreError::DatedOnLiveStore`] on a live store; otherwise the first
    /// I/O fault, after which the store refuses everything until reopened,
    /// its engine holds the durable state, and no batch after the last one
    /// handed to `durable` may be acknowledged.
    pub fn submit_dated_pipelined<B, F>(&mut self, batches: B, durable: F) -> Result<(), StoreError>
    where
        B: IntoIterator<Item = Vec<Submission>>,
        F: FnMut(Vec<Reply>),
    {
        if self.kind.is_live() {
            return Err(StoreError::DatedOnLiveStore);
        }
        let dated = batches.into_iter().map(|batch| (batch, Stamping::Dated));
        self.run_pipelined(dated, durable)
    }

    /// As [`Store::submit`] for each batch in turn (a client door: each
    /// batch stamped by the server's clock `now` given with it), with the
    /// write and fsync of each batch overlapping applying the next, as
    /// [`Store::submit_dated_pipelined`] does: `durable` receives each
    /// batch's replies, in order, once that batch and every earlier one are
    /// durable. The iterator is asked for the next batch while earlier ones
    /// may still be in flight; when it ends, every batch is made durable and
    /// acknowledged before this returns, so a read after it sees exactly
    /// what was acknowledged (`ets serve`'s sequencer ends it at a read).
    ///
    /// # Errors
    /// As [`Store::submit_dated_pipelined`], on a store of any kind.
    pub fn submit_pipelined<B, F>(&mut self, batches: B, durable: F) -> Result<(), StoreError>
    where
        B: IntoIterator<Item = (Vec<Submission>, Timestamp)>,
        F: FnMut(Vec<Reply>),
    {
        let stamped = batches
            .into_iter()
            .map(|(batch, now)| (batch, Stamping::Door { now }));
        self.run_pipelined(stamped, durable)
    }

    /// Runs stamped batches through the pipeline in runs that end when the
    /// batches run out, a snapshot falls due or the observer's share is full;
    /// after each run the observer hears of it and a due snapshot is written.
    fn run_pipelined(
        &mut self,
        mut batches: impl Iterator<Item = (Vec<Submission>, Stamping)>,
        mut durable: impl FnMut(Vec<Reply>),
    ) -> Result<(), StoreError> {
        self.check_writable()?;
        // Uncommitted records first: the writer appends after them.
        self.commit()?;
        loop {
            let run = self.pipeline(&mut batches, &mut durable);
            if let Err(error) = run.result {
                self.fault_after_run(run.durable_observed);
                return Err(error);
            }
            self.notify_observer();
            self.snapshot_if_due()?;
            if !run.more {
                return Ok(());
            }
        }
    }

    /// After a failed run: puts back the durable state ([`Store::fault`]) and
    /// hands the observer the run's first `durable_observed` records, the
    /// ones that became durable before the failure, with that state.
    fn fault_after_run(&mut self, durable_observed: usize) {
        let durable_prefix = self.observer.as_mut().map(|(_, batch)| {
            batch.truncate(durable_observed);
            std::mem::take(batch)
        });
        self.fault();
        let (Some((observer, _)), Some(prefix)) = (&mut self.observer, durable_prefix) else {
            return;
        };
        if prefix.is_empty() || self.state_unknown {
            return;
        }
        let stats = self.journal.stats();
        let head = JournalHead {
            sequence: stats.last_sequence,
            hash: stats.last_hash,
        };
        assert_eq!(
            prefix.last().map(|committed| committed.sequence),
            Some(head.sequence),
            "the records acknowledged before a failed write end at the durable end"
        );
        observer.committed(&self.engine, &prefix, head, self.journal.as_ref());
    }

    /// Runs batches through the engine and the writer thread until they run
    /// out, a snapshot falls due, the observer's share is full, or a write fails.
    fn pipeline(
        &mut self,
        batches: &mut dyn Iterator<Item = (Vec<Submission>, Stamping)>,
        durable: &mut dyn FnMut(Vec<Reply>),
    ) -> PipelineRun {
        assert_eq!(
            self.journal.pending(),
            0,
            "the writer appends after committed records only"
        );
        let first_sequence = self.journal.last_sequence() + 1;
        let mut applier = Applier {
            engine: &mut self.engine,
            kind: self.kind,
            records_since_snapshot: &mut self.records_since_snapshot,
            snapshot_every: self.config.snapshot_every_records,
            observed: self.observer.as_mut().map(|(_, batch)| batch),
            next_sequence: first_sequence,
        };
        let journal: &mut dyn JournalBackend = self.journal.as_mut();
        std::thread::scope(|scope| {
            let (to_writer, writer_input) = mpsc::sync_channel::<Encoded>(0);
            let (writer_output, from_writer) = mpsc::channel();
            scope.spawn(move || write_batches(journal, &writer_input, &writer_output));
            let mut acknowledger = Acknowledger {
                in_flight: VecDeque::new(),
                spare: Vec::new(),
                error: None,
                writer_failed: false,
                durable_observed: 0,
                durable,
            };
            let mut more = true;
            loop {
                if applier.run_is_full() {
                    break;
                }
                let Some((batch, stamping)) = batches.next() else {
                    more = false;
                    break;
                };
                let mut encoded = acknowledger.spare.pop().unwrap_or_default();
                let replies = match applier.apply(&batch, stamping, &mut encoded) {
                    Ok(replies) => replies,
                    Err(error) => {
                        acknowledger.error.get_or_insert(error);
                        break;
                    }
                };
                if to_writer.send(encoded).is_err() {
                    // The writer stopped after a failed write.
                    break;
                }
                acknowledger.in_flight.push_back(replies);
                acknowledger.take_ready(&from_writer);
            }
            drop(to_writer);
            acknowledger.take_all(&from_writer);
            PipelineRun {
                more,
                durable_observed: acknowledger.durable_observed,
                result: acknowledger.error.map_or(Ok(()), Err),
            }
        })
    }
}

/// The sequencer's side of a pipelined run: the engine and what counts records.
struct Applier<'a> {
    engine: &'a mut Engine,
    kind: StoreKind,
    records_since_snapshot: &'a mut u64,
    snapshot_every: u64,
    /// The observer's batch, when the store has one: every journaled record goes there.
    observed: Option<&'a mut Vec<Committed>>,
    /// The sequence number the next journaled record gets.
    next_sequence: u64,
}

impl Applier<'_> {
    /// Whether the run must end before another batch: a snapshot is due or
    /// the observer has waited for [`PIPELINE_OBSERVED_MAX`] records.
    fn run_is_full(&self) -> bool {
        let snapshot_due =
            self.snapshot_every > 0 && *self.records_since_snapshot >= self.snapshot_every;
        let observer_full = self
            .observed
            .as_ref()
            .is_some_and(|observed| observed.len() >= PIPELINE_OBSERVED_MAX);
        snapshot_due || observer_full
    }

    /// Applies `batch` and encodes its fresh records into `encoded`; the replies, in order.
    fn apply(
        &mut self,
        batch: &[Submission],
        stamping: Stamping,
        encoded: &mut Encoded,
    ) -> Result<Vec<Reply>, StoreError> {
        encoded.reset(self.next_sequence);
        let mut replies = Vec::with_capacity(batch.len());
        for submission in batch {
            match apply_submission(self.engine, self.kind, submission, stamping) {
                Step::Answered(reply) => replies.push(reply),
                Step::Fresh(fresh) => {
                    let sequence = encoded.push(&fresh)?;
                    replies.push(journaled(
                        fresh,
                        sequence,
                        self.records_since_snapshot,
                        self.observed.as_deref_mut(),
                    ));
                }
            }
        }
        self.next_sequence = encoded.next_sequence();
        Ok(replies)
    }
}

/// How a stretch of the pipeline ended.
struct PipelineRun {
    /// Whether batches remain (a snapshot or the observer fell due before they ran out).
    more: bool,
    /// How many of the run's journaled records became durable (and were acknowledged).
    durable_observed: usize,
    /// The first failure, if any.
    result: Result<(), StoreError>,
}

/// The replies of batches handed to the writer, released as it reports them durable.
struct Acknowledger<'a> {
    /// Replies per batch, oldest first, waiting for their fsync.
    in_flight: VecDeque<Vec<Reply>>,
    /// Batches written, kept for their memory.
    spare: Vec<Encoded>,
    /// The first failure, the sequencer's or the writer's.
    error: Option<StoreError>,
    /// Whether the writer failed: it reports nothing after that.
    writer_failed: bool,
    /// The journaled records of the batches acknowledged so far.
    durable_observed: usize,
    durable: &'a mut dyn FnMut(Vec<Reply>),
}

impl Acknowledger<'_> {
    /// Acknowledges the batches the writer has reported durable so far.
    fn take_ready(&mut self, from_writer: &Receiver<Result<Encoded, StoreError>>) {
        while let Ok(written) = from_writer.try_recv() {
            self.take(written);
        }
    }

    /// Waits for the writer to finish and acknowledges what it made durable.
    fn take_all(&mut self, from_writer: &Receiver<Result<Encoded, StoreError>>) {
        for written in from_writer {
            self.take(written);
        }
    }

    fn take(&mut self, written: Result<Encoded, StoreError>) {
        match written {
            Ok(encoded) => {
                let replies = self.in_flight.pop_front();
                assert!(
                    replies.is_some(),
                    "the writer reported a batch the sequencer never sent"
                );
                assert!(
                    !self.writer_failed,
                    "the writer reported a batch durable after its failure"
                );
                self.durable_observed += encoded.records.len();
                (self.durable)(replies.unwrap_or_default());
                self.spare.push(encoded);
            }
            Err(error) => {
                self.writer_failed = true;
                self.error.get_or_insert(error);
            }
        }
    }
}

/// The writer thread: appends, writes and fsyncs each batch in turn and
/// reports it; after the first failure it reports that and stops, so no
/// later batch reaches the journal.
fn write_batches(
    journal: &mut dyn JournalBackend,
    input: &Receiver<Encoded>,
    output: &Sender<Result<Encoded, StoreError>>,
) {
    for encoded in input {
        let written = write(journal, &encoded);
        let failed = written.is_err();
        if output.send(written.map(|()| encoded)).is_err() || failed {
            return;
        }
    }
}

/// Appends `encoded`'s records and commits them.
fn write(journal: &mut dyn JournalBackend, encoded: &Encoded) -> Result<(), StoreError> {
    for (expected, (timestamp_ms, payload)) in (encoded.first_sequence..).zip(encoded.records()) {
        let sequence = journal.append(timestamp_ms, payload)?;
        assert_eq!(
            sequence, expected,
            "the journal numbered a record other than the sequencer did"
        );
    }
    journal.commit()
}
