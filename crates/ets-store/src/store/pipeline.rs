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

use super::{Store, StoreError};
use crate::backend::JournalBackend;
use crate::sequence::{Fresh, Stamping, Step, apply_submission, journaled};
use crate::{Reply, Submission};
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

impl Store {
    /// Applies dated batches one after another as [`Store::submit_dated`]
    /// does, but overlaps the journal append, write and fsync of each batch
    /// with applying the next (`durable` receives each batch's replies, in
    /// order, once that batch is durable). For an in-process driver that owns
    /// a virtual or import store and streams batches (the ledger benchmark).
    /// Reads between batches would see a batch not yet durable, so none are
    /// offered: the store is borrowed until every batch is durable. A store
    /// with an observer (a history database) applies the batches one at a
    /// time instead, since the observer reads the engine as it stands after
    /// each durable batch.
    ///
    /// # Errors
    /// [`StoreError::DatedOnLiveStore`] on a live store; otherwise the first
    /// I/O fault, after which the store refuses everything until reopened,
    /// its engine holds the durable state, and no batch after the last one
    /// handed to `durable` may be acknowledged.
    pub fn submit_dated_pipelined<B, F>(
        &mut self,
        batches: B,
        mut durable: F,
    ) -> Result<(), StoreError>
    where
        B: IntoIterator<Item = Vec<Submission>>,
        F: FnMut(Vec<Reply>),
    {
        if self.kind.is_live() {
            return Err(StoreError::DatedOnLiveStore);
        }
        self.check_writable()?;
        // Uncommitted records first: the writer appends after them.
        self.commit()?;
        let mut batches = batches.into_iter();
        if self.observer.is_some() {
            for batch in batches {
                durable(self.submit_dated(&batch)?);
            }
            return Ok(());
        }
        loop {
            let run = self.pipeline(&mut batches, &mut durable);
            if let Err(error) = run.result {
                self.fault();
                return Err(error);
            }
            self.snapshot_if_due()?;
            if !run.more {
                return Ok(());
            }
        }
    }

    /// Runs batches through the engine and the writer thread until they run
    /// out, a snapshot falls due, or a write fails.
    fn pipeline(
        &mut self,
        batches: &mut dyn Iterator<Item = Vec<Submission>>,
        durable: &mut dyn FnMut(Vec<Reply>),
    ) -> PipelineRun {
        assert_eq!(
            self.journal.pending(),
            0,
            "the writer appends after committed records only"
        );
        let first_sequence = self.journal.last_sequence() + 1;
        let snapshot_every = self.config.snapshot_every_records;
        let kind = self.kind;
        let Store {
            journal,
            engine,
            records_since_snapshot,
            ..
        } = self;
        std::thread::scope(|scope| {
            let (to_writer, writer_input) = mpsc::sync_channel::<Encoded>(0);
            let (writer_output, from_writer) = mpsc::channel();
            let journal: &mut dyn JournalBackend = journal.as_mut();
            scope.spawn(move || write_batches(journal, &writer_input, &writer_output));
            let mut acknowledger = Acknowledger {
                in_flight: VecDeque::new(),
                spare: Vec::new(),
                error: None,
                writer_failed: false,
                durable,
            };
            let mut next_sequence = first_sequence;
            let mut more = true;
            loop {
                if snapshot_every > 0 && *records_since_snapshot >= snapshot_every {
                    break;
                }
                let Some(batch) = batches.next() else {
                    more = false;
                    break;
                };
                let mut encoded = acknowledger.spare.pop().unwrap_or_default();
                encoded.reset(next_sequence);
                let mut replies = Vec::with_capacity(batch.len());
                for submission in &batch {
                    match apply_submission(engine, kind, submission, Stamping::Dated) {
                        Step::Answered(reply) => replies.push(reply),
                        Step::Fresh(fresh) => match encoded.push(&fresh) {
                            Ok(sequence) => replies.push(journaled(
                                fresh,
                                sequence,
                                records_since_snapshot,
                                None,
                            )),
                            Err(error) => {
                                acknowledger.error.get_or_insert(error);
                                break;
                            }
                        },
                    }
                }
                next_sequence = encoded.next_sequence();
                if acknowledger.error.is_some() || to_writer.send(encoded).is_err() {
                    // A failed encoding, or the writer stopped after a failed write.
                    break;
                }
                acknowledger.in_flight.push_back(replies);
                acknowledger.take_ready(&from_writer);
            }
            drop(to_writer);
            acknowledger.take_all(&from_writer);
            PipelineRun {
                more,
                result: acknowledger.error.map_or(Ok(()), Err),
            }
        })
    }
}

/// How a stretch of the pipeline ended.
struct PipelineRun {
    /// Whether batches remain (a snapshot fell due before they ran out).
    more: bool,
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
