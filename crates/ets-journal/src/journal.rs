//! [`Journal`]: the writable handle on a store: create, open with recovery, append, group commit,
//! reads and snapshots.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::io_error;
use crate::format::{
    RECORD_PREFIX_BYTES, SEGMENT_HEADER_BYTES, SegmentHeader, encode_record, encoded_record_fields,
    read_u32, record_size_bytes, segment_file_name,
};
use crate::read_ahead::ReadAhead;
use crate::reader::Committed;
use crate::scan::{
    ChainEnd, OnRecord, ScanMode, ScanOutcome, SegmentState, apply_repairs, scan_store,
};
use crate::snapshot::{SnapshotCheck, check_snapshot, write_snapshot_file};
use crate::superblock::{self, Superblock, SuperblockFile};
use crate::{
    GENESIS_HASH, Hash, JournalConfig, JournalError, JournalStats, MAX_BATCH_BYTES,
    MAX_SNAPSHOT_STATE_BYTES, Record, RecordReader, RecordView, Snapshot, store,
};

/// After a commit, a batch buffer that grew beyond this is shrunk back, so that one huge batch does
/// not pin its memory for the life of the journal.
const RETAINED_BATCH_BUFFER_BYTES: usize = 16 * 1024 * 1024;

/// Appended records not yet committed.
struct PendingBatch {
    /// The encoded records, exactly as they will be written; reused from batch to batch.
    buffer: Vec<u8>,
    records: usize,
    /// The last pending record, or the last committed one when nothing is pending.
    end: ChainEnd,
}

/// The writable handle on a journal store; it holds the store's exclusive lock while it lives.
///
/// It is `Send`, so it can live on the sequencer's thread.
///
/// Records are appended into an in-memory batch ([`Journal::append`]) and made durable together with
/// one write and one fsync ([`Journal::commit`]). `last_sequence`, `last_hash`, `last_timestamp_ms`
/// and `stats` describe committed records only.
pub struct Journal {
    dir: PathBuf,
    config: JournalConfig,
    /// Never read: holding the file holds the lock, and dropping it releases the lock.
    /// `None` for a read-only handle, which takes no lock.
    _lock: Option<File>,
    /// Every segment, oldest first; the last one is `active`.
    segments: Vec<SegmentState>,
    /// The last segment, opened for appending.
    active: File,
    committed: ChainEnd,
    pending: PendingBatch,
    /// Set by an I/O failure while writing; cleared only by reopening.
    faulted: bool,
    /// Records the last committed record after every commit; `None` for a
    /// read-only handle.
    superblock: Option<SuperblockFile>,
    /// Opened by [`Journal::open_read_only`]: every write is refused.
    read_only: bool,
    recovery_warnings: Vec<String>,
}

impl Drop for Journal {
    /// A clean close records the last committed record in the superblock
    /// (every commit already did, unless writing it failed).
    fn drop(&mut self) {
        if !self.read_only
            && !self.faulted
            && let Err(error) = self.write_superblock()
        {
            tracing::warn!(dir = %self.dir.display(), %error, "superblock not written on close");
        }
    }
}

impl Journal {
    /// Creates a new, empty store in `dir`, creating the directory if it is missing, and returns it
    /// open and locked.
    ///
    /// # Errors
    ///
    /// [`JournalError::AlreadyExists`] if `dir` already holds journal segments or snapshots;
    /// [`JournalError::Locked`] if another handle has it open; [`JournalError::Io`].
    pub fn create(dir: &Path, config: JournalConfig) -> Result<Journal, JournalError> {
        let existed = dir.exists();
        fs::create_dir_all(dir).map_err(io_error(dir))?;
        if !existed {
            sync_parent(dir)?;
        }
        let lock = store::lock(dir)?;
        let listing = store::list(dir)?;
        if !listing.segments.is_empty() || !listing.snapshots.is_empty() {
            return Err(JournalError::AlreadyExists {
                path: dir.to_path_buf(),
            });
        }
        store::remove_temporaries(dir, &listing.temporaries)?;
        let path = create_first_segment(dir)?;
        let active = open_for_append(&path)?;
        let superblock = SuperblockFile::create_new(dir)?;
        tracing::info!(dir = %dir.display(), "journal store created");
        Ok(Journal {
            dir: dir.to_path_buf(),
            config,
            _lock: Some(lock),
            segments: vec![SegmentState::empty(path, 1, GENESIS_HASH)],
            active,
            committed: ChainEnd::GENESIS,
            pending: PendingBatch::empty(ChainEnd::GENESIS),
            faulted: false,
            superblock: Some(superblock),
            read_only: false,
            recovery_warnings: Vec::new(),
        })
    }

    /// Opens an existing store: takes its exclusive lock, removes leftover temp files, and checks
    /// every record of every segment (CRC32C, BLAKE3, gap-free sequence from 1, hash chain,
    /// timestamps never going backwards).
    ///
    /// Before anything is repaired, the intact records are checked against the superblock and the
    /// snapshots ([`JournalError::RecordsLost`] when they end before a record proven durable). Then
    /// a torn tail in the last segment (an incomplete final record, a CRC-failing final record,
    /// or trailing zero bytes: an unacknowledged write) is truncated and reported through
    /// [`Journal::recovery_warnings`] and `tracing::warn!`; so is a last segment whose header a
    /// crash interrupted, which is removed.
    ///
    /// # Errors
    ///
    /// [`JournalError::NotAStore`] if `dir` holds no segment; [`JournalError::Locked`];
    /// [`JournalError::RecordsLost`];
    /// [`JournalError::Corrupt`] naming the file and byte offset of any other damage;
    /// [`JournalError::UnsupportedVersion`]; [`JournalError::Io`].
    pub fn open(dir: &Path, config: JournalConfig) -> Result<Journal, JournalError> {
        // Checked before locking so that opening a wrong directory does not leave a LOCK file in it.
        ensure_is_store(dir)?;
        let lock = store::lock(dir)?;
        let listing = store::list(dir)?;
        store::remove_temporaries(dir, &listing.temporaries)?;
        let outcome = scan_store(dir, &mut |_| {})?;
        // The loss check runs on the intact records before anything is
        // repaired, so a refusal leaves the files as they were.
        superblock::check_nothing_lost(dir, &committed_of(&outcome))?;
        let warnings = apply_repairs(dir, &outcome.repairs, ScanMode::Repair)?;
        let Some(last) = outcome.segments.last() else {
            return Err(JournalError::NotAStore {
                path: dir.to_path_buf(),
            });
        };
        let active = open_for_append(&last.path)?;
        // Records a crashed writer left in the page cache become durable
        // before anything is built on them or the superblock names them.
        active.sync_all().map_err(io_error(&last.path))?;
        let superblock = SuperblockFile::open_or_create(
            dir,
            Superblock {
                sequence: outcome.end.last_sequence,
                hash: outcome.end.last_hash,
            },
        )?;
        tracing::info!(
            dir = %dir.display(),
            segments = outcome.segments.len(),
            last_sequence = outcome.end.last_sequence,
            warnings = warnings.len(),
            "journal store opened"
        );
        Ok(Journal {
            dir: dir.to_path_buf(),
            config,
            _lock: Some(lock),
            segments: outcome.segments,
            active,
            committed: outcome.end,
            pending: PendingBatch::empty(outcome.end),
            faulted: false,
            superblock: Some(superblock),
            read_only: false,
            recovery_warnings: warnings,
        })
    }

    /// Opens a store for reading only, without its lock and without repairing anything: the same
    /// record checks as [`Journal::open`], but a torn tail is left in place and reported through
    /// [`Journal::recovery_warnings`], and only the records before it are readable. `append`,
    /// `commit` and `write_snapshot` return [`JournalError::ReadOnly`]. Used by queries and by
    /// verification while a writer may have the store open.
    ///
    /// # Errors
    ///
    /// As for [`Journal::open`], except that it is never [`JournalError::Locked`].
    pub fn open_read_only(dir: &Path, config: JournalConfig) -> Result<Journal, JournalError> {
        ensure_is_store(dir)?;
        Journal::open_read_only_visiting(dir, config, &mut |_| {})
    }

    /// [`Journal::open_read_only`] and [`Journal::read_ahead_from`]`(1)` from one scan of the
    /// records instead of two: a thread of its own scans and checks every record as `open_read_only`
    /// does and hands each intact one over as soon as it is checked, so the caller replays while
    /// the scan goes on. The checks that need the whole journal come at the end of the stream: a
    /// journal that ends before a record the superblock or a snapshot proves durable yields
    /// [`JournalError::RecordsLost`] after the records it has, so a caller must drain the stream
    /// to its end (or to its error) before trusting what it built. A torn tail ends the records
    /// where `open_read_only` would, and is reported in the opened journal's
    /// [`Journal::recovery_warnings`] ([`ReadAhead::into_journal`]).
    ///
    /// # Errors
    ///
    /// [`JournalError::NotAStore`] at once; [`JournalError::Io`] if the thread cannot be started.
    /// Everything `open_read_only` refuses comes out of the stream, after the records before it.
    pub fn open_read_only_ahead(
        dir: &Path,
        config: JournalConfig,
    ) -> Result<ReadAhead, JournalError> {
        Journal::open_read_only_ahead_map(dir, config, Record::from_view)
    }

    /// [`Journal::open_read_only_ahead`], handing over what `map` makes of each record instead of
    /// the record: `map` runs on the scanning thread, on each record as soon as it passed its
    /// checks, in order (a replay decodes the payloads there, so that the caller only applies
    /// them). The stream ends as that of `open_read_only_ahead` does.
    ///
    /// # Errors
    ///
    /// As [`Journal::open_read_only_ahead`].
    pub fn open_read_only_ahead_map<T: Send + 'static>(
        dir: &Path,
        config: JournalConfig,
        map: impl FnMut(&RecordView<'_>) -> T + Send + 'static,
    ) -> Result<ReadAhead<T>, JournalError> {
        ensure_is_store(dir)?;
        ReadAhead::scan(dir, config, map)
    }

    /// [`Journal::open_read_only`] of a store known to exist, showing every intact record to
    /// `on_record` as the scan checks it.
    pub(crate) fn open_read_only_visiting(
        dir: &Path,
        config: JournalConfig,
        on_record: OnRecord<'_>,
    ) -> Result<Journal, JournalError> {
        let outcome = scan_store(dir, on_record)?;
        superblock::check_nothing_lost(dir, &committed_of(&outcome))?;
        let warnings = apply_repairs(dir, &outcome.repairs, ScanMode::ReadOnly)?;
        let Some(last) = outcome.segments.last() else {
            return Err(JournalError::NotAStore {
                path: dir.to_path_buf(),
            });
        };
        let active = File::open(&last.path).map_err(io_error(&last.path))?;
        Ok(Journal {
            dir: dir.to_path_buf(),
            config,
            _lock: None,
            segments: outcome.segments,
            active,
            committed: outcome.end,
            pending: PendingBatch::empty(outcome.end),
            faulted: false,
            superblock: None,
            read_only: true,
            recovery_warnings: warnings,
        })
    }

    /// Checks a store without locking it and without changing anything: the same record checks as
    /// [`Journal::open`], plus every snapshot. A torn tail or interrupted segment creation is
    /// reported as a warning (and left in place); so is an invalid snapshot. The stats describe the
    /// valid records.
    ///
    /// Run on a store that a writer has open, the writer's uncommitted tail may show as a torn tail.
    ///
    /// # Errors
    ///
    /// [`JournalError::NotAStore`], [`JournalError::Corrupt`], [`JournalError::UnsupportedVersion`],
    /// [`JournalError::Io`], as for `open`.
    pub fn verify(dir: &Path) -> Result<(JournalStats, Vec<String>), JournalError> {
        let (journal, warnings) = Journal::verify_and_open(dir)?;
        Ok((journal.stats(), warnings))
    }

    /// [`Journal::verify`] and [`Journal::open_read_only`] from one scan of the records: the
    /// journal, opened read-only, and the warnings `verify` gives (its recovery warnings, then one
    /// per invalid snapshot). A full verification reads the records once more to replay them; it
    /// no longer scans them twice first.
    ///
    /// # Errors
    ///
    /// As [`Journal::verify`].
    pub fn verify_and_open(dir: &Path) -> Result<(Journal, Vec<String>), JournalError> {
        let journal = Journal::open_read_only(dir, JournalConfig::default())?;
        let mut warnings = journal.recovery_warnings.clone();
        let committed = journal.committed_view();
        for (sequence, path) in store::list(dir)?.snapshots {
            if let SnapshotCheck::Invalid(reason) =
                check_snapshot(&path, sequence, &committed, false)?
            {
                warnings.push(format!("snapshot {} is invalid: {reason}", path.display()));
            }
        }
        Ok((journal, warnings))
    }

    /// What `open` repaired: one sentence per torn tail truncated or interrupted segment removed.
    #[must_use]
    pub fn recovery_warnings(&self) -> &[String] {
        &self.recovery_warnings
    }

    /// Counts describing the committed contents.
    #[must_use]
    pub fn stats(&self) -> JournalStats {
        stats_of(&self.segments, &self.committed)
    }

    /// Sequence of the last committed record; 0 when none is.
    #[must_use]
    pub fn last_sequence(&self) -> u64 {
        self.committed.last_sequence
    }

    /// Hash of the last committed record; [`GENESIS_HASH`] when none is.
    #[must_use]
    pub fn last_hash(&self) -> Hash {
        self.committed.last_hash
    }

    /// Timestamp of the last committed record; `None` when none is.
    #[must_use]
    pub fn last_timestamp_ms(&self) -> Option<i64> {
        self.committed.last_timestamp_ms
    }

    /// Streams the committed records with sequence `>= first_sequence` (0 is treated as 1), in order,
    /// re-checking each record's CRC32C, hash and chain link as it is read. Records committed after
    /// this call are not included.
    ///
    /// # Errors
    ///
    /// [`JournalError::Io`] if the first segment to read cannot be opened; [`JournalError::Corrupt`]
    /// or [`JournalError::UnsupportedVersion`] if its header changed since open. Later problems come
    /// out of the iterator.
    pub fn read_from(&self, first_sequence: u64) -> Result<RecordReader, JournalError> {
        self.committed_view().read_from(first_sequence)
    }

    /// As [`Journal::read_from`], but reading and checking on a thread of its own while the caller
    /// works on the records already read (recovery replays this way): the same records and errors
    /// in the same order, at most a few thousand records ahead of the caller.
    ///
    /// # Errors
    ///
    /// As [`Journal::read_from`]; [`JournalError::Io`] if the thread cannot be started.
    pub fn read_ahead_from(&self, first_sequence: u64) -> Result<ReadAhead, JournalError> {
        self.read_ahead_from_map(first_sequence, Record::from_view)
    }

    /// [`Journal::read_ahead_from`], handing over what `map` makes of each record instead of the
    /// record: `map` runs on the reading thread, on each record once it passed its checks, in
    /// order.
    ///
    /// # Errors
    ///
    /// As [`Journal::read_ahead_from`].
    pub fn read_ahead_from_map<T: Send + 'static>(
        &self,
        first_sequence: u64,
        map: impl FnMut(&RecordView<'_>) -> T + Send + 'static,
    ) -> Result<ReadAhead<T>, JournalError> {
        ReadAhead::start(self.read_from(first_sequence)?, &self.dir, map)
    }

    /// Appends one record to the uncommitted batch and returns its sequence (the previous one plus
    /// one). Nothing is durable until [`Journal::commit`].
    ///
    /// # Errors
    ///
    /// [`JournalError::Faulted`] after an earlier write failure; [`JournalError::TimeWentBackwards`]
    /// if `timestamp_ms` is earlier than the previous record's; [`JournalError::PayloadTooLarge`];
    /// [`JournalError::BatchTooLarge`] when the batch must be committed first;
    /// [`JournalError::SequenceExhausted`]. A refused append changes nothing.
    pub fn append(&mut self, timestamp_ms: i64, payload: &[u8]) -> Result<u64, JournalError> {
        self.check_writable()?;
        let end = self.pending.end;
        if let Some(previous_ms) = end.last_timestamp_ms
            && timestamp_ms < previous_ms
        {
            return Err(JournalError::TimeWentBackwards {
                previous_ms,
                given_ms: timestamp_ms,
            });
        }
        let batch_bytes = self.pending.buffer.len() + record_size_bytes(payload.len());
        if batch_bytes > MAX_BATCH_BYTES {
            return Err(JournalError::BatchTooLarge {
                size_bytes: batch_bytes,
                limit_bytes: MAX_BATCH_BYTES,
            });
        }
        let sequence = end
            .last_sequence
            .checked_add(1)
            .ok_or(JournalError::SequenceExhausted)?;
        let record_start = self.pending.buffer.len();
        let hash = encode_record(
            &mut self.pending.buffer,
            sequence,
            timestamp_ms,
            &end.last_hash,
            payload,
        )?;
        debug_assert!(
            record_checks_out(&self.pending.buffer[record_start..]),
            "a record failed its own checks right after encoding"
        );
        self.pending.records += 1;
        self.pending.end = ChainEnd {
            last_sequence: sequence,
            last_hash: hash,
            last_timestamp_ms: Some(timestamp_ms),
        };
        Ok(sequence)
    }

    /// Makes every appended record durable: one write and one `sync_data` per segment touched (one,
    /// unless the batch crosses the segment size limit), then records the batch's last record in
    /// the superblock (one in-place write and `sync_data`), then returns. A new segment file is started
    /// when the current one would exceed [`JournalConfig::segment_size_limit_bytes`], and the
    /// directory is fsynced so the new file survives a crash. Committing an empty batch does nothing.
    ///
    /// # Errors
    ///
    /// [`JournalError::Faulted`] after an earlier failure. [`JournalError::Io`] if writing fails; the
    /// journal is then faulted: the files may hold part of the batch, so every later `append`,
    /// `commit` and `write_snapshot` returns `Faulted` until the store is reopened, which repairs
    /// or reports what is on disk.
    pub fn commit(&mut self) -> Result<(), JournalError> {
        self.check_writable()?;
        if self.pending.records == 0 {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.pending.buffer);
        let written = self.write_batch(&batch);
        self.pending.buffer = batch;
        if let Err(error) = written {
            self.faulted = true;
            tracing::error!(dir = %self.dir.display(), %error, "journal commit failed; journal faulted until reopened");
            return Err(error);
        }
        debug_assert_eq!(self.committed, self.pending.end);
        if let Err(error) = self.write_superblock() {
            self.faulted = true;
            tracing::error!(dir = %self.dir.display(), %error, "superblock not written after a commit; journal faulted until reopened");
            return Err(error);
        }
        self.pending.buffer.clear();
        self.pending.buffer.shrink_to(RETAINED_BATCH_BUFFER_BYTES);
        self.pending.records = 0;
        Ok(())
    }

    /// Refuses writes on a read-only or faulted handle.
    fn check_writable(&self) -> Result<(), JournalError> {
        if self.read_only {
            return Err(JournalError::ReadOnly);
        }
        if self.faulted {
            return Err(JournalError::Faulted);
        }
        Ok(())
    }

    /// Number of appended but uncommitted records.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.pending.records
    }

    /// Drops the uncommitted batch; the next append continues from the last committed record.
    pub fn discard_pending(&mut self) {
        self.pending.buffer.clear();
        self.pending.records = 0;
        self.pending.end = self.committed;
    }

    /// Writes a snapshot of the caller's state as of committed record `sequence` (the state after
    /// applying it; 0 means the initial state). The record's hash is taken from the journal and
    /// stored with the snapshot. The file is written to a temp file, fsynced, renamed into place,
    /// and the directory fsynced. A snapshot already at that sequence is replaced.
    ///
    /// # Errors
    ///
    /// [`JournalError::Faulted`]; [`JournalError::SnapshotAhead`] if `sequence` is not committed;
    /// [`JournalError::SnapshotTooLarge`]; [`JournalError::Corrupt`] if the record at `sequence`
    /// cannot be read back intact; [`JournalError::Io`] (which does not fault the journal: the
    /// journal's own files are untouched).
    pub fn write_snapshot(&mut self, sequence: u64, state: &[u8]) -> Result<(), JournalError> {
        self.check_writable()?;
        if sequence > self.committed.last_sequence {
            return Err(JournalError::SnapshotAhead {
                sequence,
                last_sequence: self.committed.last_sequence,
            });
        }
        let size_bytes = state.len() as u64;
        if size_bytes > MAX_SNAPSHOT_STATE_BYTES {
            return Err(JournalError::SnapshotTooLarge {
                size_bytes,
                limit_bytes: MAX_SNAPSHOT_STATE_BYTES,
            });
        }
        let record_hash = self.committed_view().record_hash_at(sequence)?;
        write_snapshot_file(&self.dir, sequence, record_hash, state)?;
        self.write_superblock()
    }

    /// Records the last committed record as durable in the superblock, so that
    /// losing it later is told from a torn write.
    ///
    /// # Errors
    /// [`JournalError::ReadOnly`], [`JournalError::Faulted`]; [`JournalError::Io`].
    pub fn write_superblock(&mut self) -> Result<(), JournalError> {
        self.check_writable()?;
        let Some(superblock) = &mut self.superblock else {
            return Err(JournalError::ReadOnly);
        };
        superblock.record(
            &self.dir,
            Superblock {
                sequence: self.committed.last_sequence,
                hash: self.committed.last_hash,
            },
        )
    }

    /// Deletes all but the `keep` newest snapshot files (at least one is always kept), so that
    /// snapshots do not fill the disk. Older snapshots are only a cache: the journal alone
    /// rebuilds the state. Returns how many files were removed.
    ///
    /// # Errors
    ///
    /// [`JournalError::ReadOnly`] or [`JournalError::Faulted`]; [`JournalError::Io`] if a file
    /// cannot be removed or the directory cannot be synced.
    pub fn prune_snapshots(&mut self, keep: usize) -> Result<usize, JournalError> {
        self.check_writable()?;
        let snapshots = store::list(&self.dir)?.snapshots;
        let removable = snapshots.len().saturating_sub(keep.max(1));
        for (_, path) in &snapshots[..removable] {
            fs::remove_file(path).map_err(io_error(path))?;
        }
        if removable > 0 {
            store::sync_dir(&self.dir)?;
        }
        Ok(removable)
    }

    /// The newest snapshot whose checksums are valid and whose (sequence, record hash) matches the
    /// journal's record at that sequence; `None` if there is none. Snapshots that fail are skipped
    /// with a `tracing::warn!`.
    ///
    /// # Errors
    ///
    /// [`JournalError::Io`] if the directory cannot be listed; [`JournalError::Corrupt`] if a
    /// journal record needed for the comparison cannot be read back intact. A damaged snapshot file
    /// is never an error, only skipped.
    pub fn latest_snapshot(&self) -> Result<Option<Snapshot>, JournalError> {
        self.latest_snapshot_with_warnings()
            .map(|(snapshot, _warnings)| snapshot)
    }

    /// [`Journal::latest_snapshot`], also returning one sentence per snapshot skipped.
    ///
    /// # Errors
    ///
    /// As for [`Journal::latest_snapshot`].
    pub fn latest_snapshot_with_warnings(
        &self,
    ) -> Result<(Option<Snapshot>, Vec<String>), JournalError> {
        self.latest_snapshot_below(u64::MAX)
    }

    /// [`Journal::latest_snapshot_with_warnings`] among the snapshots taken at a sequence below
    /// `below`: the fallback when a newer snapshot passed its checksums but its state did not
    /// decode.
    ///
    /// # Errors
    ///
    /// As for [`Journal::latest_snapshot`].
    pub fn latest_snapshot_below(
        &self,
        below: u64,
    ) -> Result<(Option<Snapshot>, Vec<String>), JournalError> {
        let committed = self.committed_view();
        let mut warnings = Vec::new();
        let snapshots = store::list(&self.dir)?.snapshots;
        for (sequence, path) in snapshots
            .into_iter()
            .rev()
            .filter(|(sequence, _)| *sequence < below)
        {
            match check_snapshot(&path, sequence, &committed, true)? {
                SnapshotCheck::Valid(snapshot) => return Ok((Some(snapshot), warnings)),
                SnapshotCheck::Invalid(reason) => {
                    tracing::warn!(path = %path.display(), %reason, "snapshot skipped");
                    warnings.push(format!("snapshot {} skipped: {reason}", path.display()));
                }
            }
        }
        Ok((None, warnings))
    }

    /// The store directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The configuration the journal was opened with.
    #[must_use]
    pub fn config(&self) -> JournalConfig {
        self.config
    }

    fn committed_view(&self) -> Committed<'_> {
        Committed {
            segments: &self.segments,
            end: self.committed,
        }
    }

    /// Writes the batch in chunks that respect the segment size limit, rolling over between them.
    fn write_batch(&mut self, batch: &[u8]) -> Result<(), JournalError> {
        let mut start = 0;
        while start < batch.len() {
            let Some(active) = self.segments.last() else {
                unreachable!("a journal always has a segment");
            };
            let room_bytes = self
                .config
                .segment_size_limit_bytes
                .saturating_sub(active.size_bytes);
            let end = chunk_end(batch, start, room_bytes, active.records == 0);
            if end == start {
                self.roll_over()?;
                continue;
            }
            self.write_chunk(&batch[start..end])?;
            start = end;
        }
        Ok(())
    }

    /// Writes whole records to the active segment, fsyncs, and then records them as committed.
    fn write_chunk(&mut self, chunk: &[u8]) -> Result<(), JournalError> {
        let Some(active) = self.segments.last_mut() else {
            unreachable!("a journal always has a segment");
        };
        self.active
            .write_all(chunk)
            .map_err(io_error(&active.path))?;
        self.active.sync_data().map_err(io_error(&active.path))?;
        let chunk_start_bytes = active.size_bytes;
        let mut offset = 0;
        while offset < chunk.len() {
            let (record_bytes, sequence, timestamp_ms, previous_hash, hash) =
                encoded_record_fields(&chunk[offset..]);
            active.note_record(sequence, chunk_start_bytes + offset as u64, previous_hash);
            active.records += 1;
            self.committed = ChainEnd {
                last_sequence: sequence,
                last_hash: hash,
                last_timestamp_ms: Some(timestamp_ms),
            };
            offset += record_bytes;
        }
        active.size_bytes += chunk.len() as u64;
        Ok(())
    }

    /// Starts a new segment after the last committed record and makes it the active one.
    fn roll_over(&mut self) -> Result<(), JournalError> {
        let first_sequence = self.committed.last_sequence + 1;
        let previous_hash = self.committed.last_hash;
        let path = self.dir.join(segment_file_name(first_sequence));
        let header = SegmentHeader {
            first_sequence,
            previous_hash,
        }
        .encode();
        // `create_new`: a segment file is never overwritten. The header reaches the disk with the
        // first chunk's fsync; a crash before that leaves a partial header, which open removes.
        let mut file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)
            .map_err(io_error(&path))?;
        file.write_all(&header).map_err(io_error(&path))?;
        store::sync_dir(&self.dir)?;
        tracing::info!(path = %path.display(), first_sequence, "journal segment started");
        self.active = file;
        self.segments
            .push(SegmentState::empty(path, first_sequence, previous_hash));
        Ok(())
    }
}

impl fmt::Debug for Journal {
    // By hand: the derived form would print the whole batch buffer (megabytes) into a log line.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Journal")
            .field("dir", &self.dir)
            .field("config", &self.config)
            .field("segments", &self.segments.len())
            .field("last_sequence", &self.committed.last_sequence)
            .field("pending_records", &self.pending.records)
            .field("pending_bytes", &self.pending.buffer.len())
            .field("faulted", &self.faulted)
            .finish_non_exhaustive()
    }
}

impl PendingBatch {
    fn empty(end: ChainEnd) -> Self {
        Self {
            buffer: Vec::new(),
            records: 0,
            end,
        }
    }
}

/// The end offset of the longest run of whole records from `start` that fits in `room_bytes`. When
/// the segment is still empty at least one record is taken, so an oversized record gets a segment
/// of its own instead of blocking forever; otherwise the result may be `start` (roll over first).
fn chunk_end(batch: &[u8], start: usize, room_bytes: u64, segment_is_empty: bool) -> usize {
    let mut end = start;
    while end < batch.len() {
        let record_bytes = RECORD_PREFIX_BYTES + read_u32(batch, end) as usize;
        let taken_bytes = (end + record_bytes - start) as u64;
        let must_take = segment_is_empty && end == start;
        if taken_bytes > room_bytes && !must_take {
            break;
        }
        end += record_bytes;
    }
    end
}

/// Whether a freshly encoded record passes the checks a reader will apply (debug builds only).
fn record_checks_out(record: &[u8]) -> bool {
    let body = &record[RECORD_PREFIX_BYTES..];
    crate::format::crc_mismatch(body, read_u32(record, 4)).is_none()
        && crate::format::parse_body(body).is_ok()
}

fn committed_of(outcome: &ScanOutcome) -> Committed<'_> {
    Committed {
        segments: &outcome.segments,
        end: outcome.end,
    }
}

fn stats_of(segments: &[SegmentState], end: &ChainEnd) -> JournalStats {
    JournalStats {
        segments: segments.len(),
        records: segments.iter().map(|segment| segment.records).sum(),
        last_sequence: end.last_sequence,
        last_hash: end.last_hash,
        bytes: segments.iter().map(|segment| segment.size_bytes).sum(),
    }
}

/// A store is a directory holding at least one segment file.
fn ensure_is_store(dir: &Path) -> Result<(), JournalError> {
    let not_a_store = || JournalError::NotAStore {
        path: dir.to_path_buf(),
    };
    if !dir.is_dir() {
        return Err(not_a_store());
    }
    if store::list(dir)?.segments.is_empty() {
        return Err(not_a_store());
    }
    Ok(())
}

/// Writes the first segment (header only) by temp file and rename, so that a store never holds a
/// partial first segment: either `create` finished or the directory is not a store yet.
fn create_first_segment(dir: &Path) -> Result<PathBuf, JournalError> {
    let name = segment_file_name(1);
    let path = dir.join(&name);
    let temp_path = dir.join(format!("{name}.tmp"));
    let header = SegmentHeader {
        first_sequence: 1,
        previous_hash: GENESIS_HASH,
    }
    .encode();
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temp_path)
        .map_err(io_error(&temp_path))?;
    file.write_all(&header).map_err(io_error(&temp_path))?;
    file.sync_all().map_err(io_error(&temp_path))?;
    fs::rename(&temp_path, &path).map_err(io_error(&path))?;
    store::sync_dir(dir)?;
    debug_assert_eq!(header.len(), SEGMENT_HEADER_BYTES);
    Ok(path)
}

fn open_for_append(path: &Path) -> Result<File, JournalError> {
    OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(io_error(path))
}

/// Makes a newly created store directory's own entry durable in its parent.
fn sync_parent(dir: &Path) -> Result<(), JournalError> {
    match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => store::sync_dir(parent),
        _ => store::sync_dir(Path::new(".")),
    }
}
