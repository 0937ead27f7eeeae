//! Rebuilding the history from the journal: replay every record into a
//! fresh engine and project it in chunks, each chunk one database
//! transaction that also records how far the rebuild got.

use crate::error::HistoryError;
use crate::history::History;
use ets_engine::{Applied, Engine, JournalEntry};
use ets_journal::Record;
use ets_model::Timestamp;
use ets_store::{Committed, JournalBackend, JournalHead, newest_decodable_snapshot};

/// Records replayed between two database transactions.
const CHUNK_RECORDS: usize = 10_000;

/// What a rebuild did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuildReport {
    /// Journal records replayed.
    pub records: u64,
    /// The journal record the history now stands at.
    pub head: JournalHead,
}

/// Replays `journal` into `history`, which must be empty.
pub(crate) fn rebuild_into(
    journal: &dyn JournalBackend,
    history: &mut History,
) -> Result<RebuildReport, HistoryError> {
    let genesis = JournalHead {
        sequence: 0,
        hash: [0; 32],
    };
    let report = project_after(journal, history, Engine::new(), 1, genesis)?;
    tracing::info!(records = report.records, "history rebuilt from the journal");
    Ok(report)
}

/// Projects the records of `journal` after `after` into `history`, which
/// holds exactly the records up to it: no gap, none twice. The engine
/// starts from the newest snapshot at or before `after` (else empty) and
/// replays up to `after` without projecting. Returns `None`, having
/// written nothing, when the journal's record at `after.sequence` is not
/// `after` (the history follows another journal, or one cut shorter).
pub(crate) fn catch_up_into(
    journal: &dyn JournalBackend,
    history: &mut History,
    after: JournalHead,
) -> Result<Option<RebuildReport>, HistoryError> {
    if !journal_holds(journal, after)? {
        return Ok(None);
    }
    let (engine, from) = newest_decodable_snapshot(journal, after.sequence.saturating_add(1))?;
    let report = project_after(journal, history, engine, from, after)?;
    tracing::info!(
        from = after.sequence,
        records = report.records,
        "history caught up with the journal"
    );
    Ok(Some(report))
}

/// Whether `journal` holds `head` (the empty journal's head always).
fn journal_holds(journal: &dyn JournalBackend, head: JournalHead) -> Result<bool, HistoryError> {
    if head.sequence == 0 {
        return Ok(true);
    }
    match journal.read_from(head.sequence)?.next() {
        Some(record) => {
            let record = record?;
            Ok(record.sequence == head.sequence && record.hash == head.hash)
        }
        None => Ok(false),
    }
}

/// Replays `journal` from `from` into `engine` and projects, in chunks, the
/// records after `after`.
fn project_after(
    journal: &dyn JournalBackend,
    history: &mut History,
    mut engine: Engine,
    from: u64,
    after: JournalHead,
) -> Result<RebuildReport, HistoryError> {
    let mut chunk = Vec::with_capacity(CHUNK_RECORDS);
    let mut head = after;
    let mut records = 0;
    for record in journal.read_from(from)? {
        let record = record?;
        let committed = replay(&mut engine, &record)?;
        head = JournalHead {
            sequence: record.sequence,
            hash: record.hash,
        };
        if record.sequence <= after.sequence {
            continue;
        }
        chunk.push(committed);
        records += 1;
        if chunk.len() == CHUNK_RECORDS {
            history.project(&engine, &chunk, head)?;
            chunk.clear();
        }
    }
    if !chunk.is_empty() {
        history.project(&engine, &chunk, head)?;
    }
    Ok(RebuildReport { records, head })
}

/// Applies one record to `engine`, checking its outcome code as recovery does.
fn replay(engine: &mut Engine, record: &Record) -> Result<Committed, HistoryError> {
    let entry = JournalEntry::decode(&record.payload).map_err(|error| HistoryError::Replay {
        sequence: record.sequence,
        reason: error.to_string(),
    })?;
    let (envelope, journaled) = entry.into_envelope(Timestamp(record.timestamp_ms));
    let outcome = match engine.apply(&envelope) {
        Applied::Fresh(outcome) => outcome,
        Applied::Duplicate(_) | Applied::Reused(_) => {
            return Err(HistoryError::Replay {
                sequence: record.sequence,
                reason: "the journal repeats a request id".to_owned(),
            });
        }
    };
    if outcome.code() != journaled {
        return Err(HistoryError::Replay {
            sequence: record.sequence,
            reason: format!(
                "replay gave `{}` but the journal says `{journaled}`",
                outcome.code()
            ),
        });
    }
    Ok(Committed {
        sequence: record.sequence,
        envelope,
        outcome,
    })
}
