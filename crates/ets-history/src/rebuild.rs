//! Rebuilding the history from the journal: replay every record into a
//! fresh engine and project it in chunks, each chunk one database
//! transaction that also records how far the rebuild got.

use crate::error::HistoryError;
use crate::history::History;
use ets_engine::{Applied, Engine, JournalEntry};
use ets_journal::Record;
use ets_model::Timestamp;
use ets_store::{Committed, JournalBackend, JournalHead};

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
    let mut engine = Engine::new();
    let mut chunk = Vec::with_capacity(CHUNK_RECORDS);
    let mut head = JournalHead {
        sequence: 0,
        hash: [0; 32],
    };
    let mut records = 0;
    for record in journal.read_from(1)? {
        let record = record?;
        chunk.push(replay(&mut engine, &record)?);
        head = JournalHead {
            sequence: record.sequence,
            hash: record.hash,
        };
        records += 1;
        if chunk.len() == CHUNK_RECORDS {
            history.project(&engine, &chunk, head)?;
            chunk.clear();
        }
    }
    if !chunk.is_empty() {
        history.project(&engine, &chunk, head)?;
    }
    tracing::info!(records, "history rebuilt from the journal");
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
