//! Rebuilding the history from the journal: replay every record into a
//! fresh engine and project it in chunks, each chunk one database
//! transaction that also records how far the rebuild got.

use crate::error::HistoryError;
use crate::history::History;
use ets_engine::Engine;
use ets_journal::Record;
use ets_store::{
    Committed, JournalBackend, JournalHead, ReplayRecord, StoreError, newest_decodable_snapshot,
};

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

/// Applies one record to `engine` as recovery does (`ReplayRecord`, the one
/// home of that rule), its faults under the history's code with the
/// history's wording.
fn replay(engine: &mut Engine, record: &Record) -> Result<Committed, HistoryError> {
    ReplayRecord::decode(&record.view())
        .and_then(|replay| replay.apply(engine))
        .map_err(|error| HistoryError::Replay {
            sequence: record.sequence,
            reason: match error {
                StoreError::BadRecord { reason, .. } => reason,
                StoreError::ReplayMismatch {
                    journaled,
                    replayed,
                    ..
                } => format!("replay gave `{replayed}` but the journal says `{journaled}`"),
                other => other.to_string(),
            },
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ets_engine::{Command, Envelope, JournalEntry};
    use ets_model::{ParticipantId, RequestId, Timestamp};
    use ets_registry::{ParticipantKind, RegistryCommand};

    fn record(payload: Vec<u8>) -> Record {
        Record {
            sequence: 1,
            timestamp_ms: 1_700_000_000_000,
            payload,
            ..Record::default()
        }
    }

    #[test]
    fn a_record_that_does_not_decode_or_replays_otherwise_is_a_history_replay_mismatch() {
        // Goal: replaying through the store's rule keeps the history's code
        // and wording for both faults, and a good record replays.
        let envelope = Envelope {
            request_id: RequestId(1),
            requester: ParticipantId(1),
            time: Timestamp(1_700_000_000_000),
            command: Command::Registry(RegistryCommand::RegisterParticipant {
                id: ParticipantId(1),
                kind: ParticipantKind::Administrator,
                name: "a".to_owned(),
            }),
        };
        let encoded = |code: &str| {
            let mut payload = Vec::new();
            JournalEntry::encode_into(&envelope, code, &mut payload).expect("encodes");
            payload
        };
        let bad = replay(&mut Engine::new(), &record(vec![0xff; 3])).expect_err("refused");
        assert_eq!(bad.code(), "history_replay_mismatch");
        let other = replay(&mut Engine::new(), &record(encoded("not_this"))).expect_err("refused");
        assert_eq!(other.code(), "history_replay_mismatch");
        assert!(
            other
                .to_string()
                .contains("but the journal says `not_this`"),
            "{other}"
        );
        let good = replay(&mut Engine::new(), &record(encoded("ok"))).expect("replays");
        assert_eq!(good.sequence, 1);
        assert_eq!(good.envelope, envelope);
    }
}
