//! Full verification of a store: every checksum and hash link, a replay
//! from the first record into a fresh engine, every invariant, and agreement
//! with the latest snapshot. The same checks run on a directory store and on
//! a PostgreSQL store ([`verify_at`]).

use crate::backend::JournalBackend;
use crate::location::StoreLocation;
use crate::pg_journal::PgJournal;
use crate::replayed::ReplayRecord;
use crate::store::StoreError;
use ets_engine::{Engine, StateHash};
use ets_journal::{Hash, Journal, JournalConfig};
use std::path::Path;

/// What `verify` found.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// Records in the journal.
    pub records: u64,
    /// Segment files (0 for a database store).
    pub segments: usize,
    /// The hash of the last record (the journal's head), zeros when empty.
    pub head_hash: Hash,
    /// The state hash after replaying every record.
    pub state_hash: StateHash,
    /// The sequence of the latest snapshot, whose state matched the replay at that point.
    pub snapshot_sequence: Option<u64>,
    /// Warnings (e.g. a torn tail that the next open will truncate).
    pub warnings: Vec<String>,
}

/// Replays the whole journal of the store in `dir` into a fresh engine,
/// ignoring snapshots (the worst case of recovery), without changing the
/// store; returns the engine and how many records it replayed.
///
/// The journal is read and checked once: each record is applied as the
/// open's scan checks it, and the checks that need the whole journal (records
/// lost behind what the superblock or a snapshot proves durable) come at the
/// end, before the engine is returned.
///
/// # Errors
/// [`StoreError`] naming the first record that fails its checks, does not
/// decode or replays to another outcome, or the records lost.
pub fn replay(dir: &Path) -> Result<(Engine, u64), StoreError> {
    let mut engine = Engine::new();
    let mut records = 0;
    // Decoded on the scanning thread too: this thread only applies, each
    // record where its batch holds it (moving records out cost a copy each).
    let mut stream =
        Journal::open_read_only_ahead_map(dir, JournalConfig::default(), ReplayRecord::decode)?;
    while let Some(batch) = stream.next_batch() {
        let mut batch = batch?;
        for record in &batch {
            let Ok(record) = record else {
                break;
            };
            record.check(&mut engine)?;
            records += 1;
        }
        // Looked for in place: moving every record out of the batch to find
        // none cost two copies of each (docs/benchmarks.md, round 7b).
        if let Some(position) = batch.iter().position(Result::is_err)
            && let Err(error) = batch.swap_remove(position)
        {
            return Err(error);
        }
    }
    Ok((engine, records))
}

/// Verifies the store in `dir` without changing it.
///
/// # Errors
/// [`StoreError`] naming the first problem found.
pub fn verify(dir: &Path) -> Result<VerifyReport, StoreError> {
    // One scan checks the records and the snapshots and opens the journal;
    // the replay then reads the records once more.
    let (journal, warnings) = Journal::verify_and_open(dir)?;
    let stats = journal.stats();
    let mut report = verify_journal(&journal, warnings)?;
    report.records = stats.records;
    report.segments = stats.segments;
    Ok(report)
}

/// Verifies the store at `location` (a directory or a PostgreSQL database)
/// without changing it; a database store is read without the writer's lock,
/// so a running server may keep writing.
///
/// # Errors
/// [`StoreError`] naming the first problem found.
pub fn verify_at(location: &StoreLocation) -> Result<VerifyReport, StoreError> {
    match location {
        StoreLocation::Directory(dir) => verify(dir),
        StoreLocation::Database(url) => {
            let journal = PgJournal::open_read_only(url)?;
            verify_journal(&journal, Vec::new())
        }
    }
}

/// Replays every durable record of `journal` into a fresh engine (the
/// reader checks sequence, chain and hash of each), compares the newest
/// snapshot on the way and checks the invariants at the end.
fn verify_journal(
    journal: &dyn JournalBackend,
    mut warnings: Vec<String>,
) -> Result<VerifyReport, StoreError> {
    let snapshot = journal.latest_snapshot()?;
    // A snapshot whose state does not decode is skipped on open, as one that
    // fails its checksum is: here it is a warning, not a failed verification.
    let snapshot_hash = snapshot.as_ref().and_then(|snapshot| {
        match Engine::decode_snapshot(&snapshot.state) {
            Ok(engine) => Some((snapshot.sequence, engine.state_hash())),
            Err(error) => {
                warnings.push(format!(
                    "snapshot at record {} does not decode ({error}); opening falls back to an older one",
                    snapshot.sequence
                ));
                None
            }
        }
    });
    let mut engine = Engine::new();
    let mut records = 0;
    for record in journal.read_replay_from(1)? {
        let record = record?;
        let sequence = record.sequence;
        record.check(&mut engine)?;
        records += 1;
        if let Some((snapshot_sequence, hash)) = snapshot_hash
            && snapshot_sequence == sequence
            && engine.state_hash() != hash
        {
            return Err(StoreError::BadSnapshot {
                sequence,
                reason: "its state differs from the replayed state at that record".to_owned(),
            });
        }
    }
    let stats = journal.stats();
    engine
        .check_invariants()
        .map_err(|problem| StoreError::BadRecord {
            sequence: stats.last_sequence,
            reason: format!("invariant broken after replay: {problem}"),
        })?;
    Ok(VerifyReport {
        records,
        segments: stats.segments,
        head_hash: stats.last_hash,
        state_hash: engine.state_hash(),
        snapshot_sequence: snapshot_hash.map(|(sequence, _)| sequence),
        warnings,
    })
}
