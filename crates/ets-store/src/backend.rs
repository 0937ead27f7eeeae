//! The journal as the store sees it: [`JournalBackend`], implemented by the
//! file journal (`ets-journal`, the embedded default) and by the PostgreSQL
//! journal ([`crate::PgJournal`]). Both keep the same records (sequence,
//! time, previous hash, payload, BLAKE3 hash) in the same hash chain and make
//! a batch durable in one step (one fsync, or one database transaction).

use crate::replayed::ReplayRecord;
use crate::store::StoreError;
use ets_journal::{Hash, Journal, JournalStats, Record, Snapshot};
use std::path::Path;

/// Records read in order from some sequence number.
pub type Records<'a> = Box<dyn Iterator<Item = Result<Record, StoreError>> + 'a>;

/// Records read in order from some sequence number, decoded for replay.
pub type ReplayRecords<'a> = Box<dyn Iterator<Item = Result<ReplayRecord, StoreError>> + 'a>;

/// A hash-chained, append-only journal with snapshots.
pub trait JournalBackend: Send {
    /// Buffers one record; returns its sequence number. Not durable until [`Self::commit`].
    ///
    /// # Errors
    /// [`StoreError`] when the record is refused (too large, time backwards).
    fn append(&mut self, timestamp_ms: i64, payload: &[u8]) -> Result<u64, StoreError>;
    /// Makes every buffered record durable at once.
    ///
    /// # Errors
    /// [`StoreError`]; then nothing of the batch may be acknowledged.
    fn commit(&mut self) -> Result<(), StoreError>;
    /// After a failed [`Self::commit`]: finds where the journal really ends
    /// (reconnecting to a database if need be), keeps the failed batch if it
    /// turns out durable and drops it otherwise, so appending can go on.
    ///
    /// # Errors
    /// [`StoreError`] while that cannot be known yet (the database is still
    /// away), `fenced` when another writer took over; a file journal always
    /// refuses (`store_faulted`): it is reopened instead.
    fn resume(&mut self) -> Result<(), StoreError>;
    /// Records appended but not yet committed.
    fn pending(&self) -> usize;
    /// The last record's sequence number (0 when empty), buffered ones included.
    fn last_sequence(&self) -> u64;
    /// The last record's hash (zeros when empty), buffered ones included.
    fn last_hash(&self) -> Hash;
    /// Every durable record from `first_sequence` on, checked.
    ///
    /// # Errors
    /// [`StoreError`] when the journal cannot be read.
    fn read_from(&self, first_sequence: u64) -> Result<Records<'_>, StoreError>;
    /// [`Self::read_from`], each record decoded for replay (a decoding
    /// failure comes out in its place, and nothing after it).
    ///
    /// # Errors
    /// [`StoreError`] when the journal cannot be read.
    fn read_replay_from(&self, first_sequence: u64) -> Result<ReplayRecords<'_>, StoreError> {
        let mut failed = false;
        let records = self.read_from(first_sequence)?;
        Ok(Box::new(records.map_while(move |record| {
            if failed {
                return None;
            }
            let decoded = record.and_then(|record| ReplayRecord::decode(&record.view()));
            failed = decoded.is_err();
            Some(decoded)
        })))
    }
    /// The newest valid snapshot.
    ///
    /// # Errors
    /// [`StoreError`] when snapshots cannot be read.
    fn latest_snapshot(&self) -> Result<Option<Snapshot>, StoreError>;
    /// The newest valid snapshot at a sequence below `below`.
    ///
    /// # Errors
    /// [`StoreError`] when snapshots cannot be read.
    fn latest_snapshot_below(&self, below: u64) -> Result<Option<Snapshot>, StoreError>;
    /// Stores a snapshot of the state at `sequence`.
    ///
    /// # Errors
    /// [`StoreError`].
    fn write_snapshot(&mut self, sequence: u64, state: &[u8]) -> Result<(), StoreError>;
    /// Deletes all but the newest `keep` snapshots; returns how many went.
    ///
    /// # Errors
    /// [`StoreError`].
    fn prune_snapshots(&mut self, keep: usize) -> Result<usize, StoreError>;
    /// Records, segments and bytes.
    fn stats(&self) -> JournalStats;
    /// The store directory, for a file journal.
    fn dir(&self) -> Option<&Path>;
    /// The database URL to connect to, for a PostgreSQL journal.
    fn database_url(&self) -> Option<&str>;
}

impl JournalBackend for Journal {
    fn append(&mut self, timestamp_ms: i64, payload: &[u8]) -> Result<u64, StoreError> {
        Ok(Journal::append(self, timestamp_ms, payload)?)
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        Ok(Journal::commit(self)?)
    }

    fn resume(&mut self) -> Result<(), StoreError> {
        Err(StoreError::Faulted)
    }

    fn pending(&self) -> usize {
        Journal::pending(self)
    }

    fn last_sequence(&self) -> u64 {
        Journal::last_sequence(self)
    }

    fn last_hash(&self) -> Hash {
        Journal::last_hash(self)
    }

    fn read_from(&self, first_sequence: u64) -> Result<Records<'_>, StoreError> {
        // Read and checked on a thread of its own while the caller replays
        // (docs/benchmarks.md): the same records, the same errors.
        let reader = Journal::read_ahead_from(self, first_sequence)?;
        Ok(Box::new(
            reader.map(|record| record.map_err(StoreError::from)),
        ))
    }

    fn read_replay_from(&self, first_sequence: u64) -> Result<ReplayRecords<'_>, StoreError> {
        // Decoded on the reading thread too, so the caller only applies.
        let reader = Journal::read_ahead_from_map(self, first_sequence, |record| {
            ReplayRecord::decode(record)
        })?;
        Ok(Box::new(
            reader.map(|record| record.map_err(StoreError::from)?),
        ))
    }

    fn latest_snapshot(&self) -> Result<Option<Snapshot>, StoreError> {
        Ok(Journal::latest_snapshot(self)?)
    }

    fn latest_snapshot_below(&self, below: u64) -> Result<Option<Snapshot>, StoreError> {
        Ok(Journal::latest_snapshot_below(self, below)?.0)
    }

    fn write_snapshot(&mut self, sequence: u64, state: &[u8]) -> Result<(), StoreError> {
        Ok(Journal::write_snapshot(self, sequence, state)?)
    }

    fn prune_snapshots(&mut self, keep: usize) -> Result<usize, StoreError> {
        Ok(Journal::prune_snapshots(self, keep)?)
    }

    fn stats(&self) -> JournalStats {
        Journal::stats(self)
    }

    fn dir(&self) -> Option<&Path> {
        Some(Journal::dir(self))
    }

    fn database_url(&self) -> Option<&str> {
        None
    }
}
