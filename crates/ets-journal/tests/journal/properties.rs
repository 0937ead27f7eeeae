//! Property test: whatever mix of appends, commits, discards and reopens, everything committed (and
//! nothing else) is read back identically.

use ets_journal::{Journal, JournalConfig, SEGMENT_HEADER_BYTES};
use proptest::prelude::*;

use crate::common::{assert_chained, read_all};

#[derive(Debug, Clone)]
enum Operation {
    Append(Vec<u8>),
    Commit,
    Discard,
    Reopen,
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        6 => proptest::collection::vec(any::<u8>(), 0..300).prop_map(Operation::Append),
        2 => Just(Operation::Commit),
        1 => Just(Operation::Discard),
        1 => Just(Operation::Reopen),
    ]
}

fn segment_limit() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(SEGMENT_HEADER_BYTES as u64 + 200),
        Just(2048),
        Just(JournalConfig::default().segment_size_limit_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    // Goal: after random batches of random payloads, with random commits, discards and reopens,
    // a final reopen reads back exactly the committed payloads, gap-free and chained.
    #[test]
    fn everything_committed_is_read_back_identically(
        operations in proptest::collection::vec(operation(), 1..60),
        limit_bytes in segment_limit(),
    ) {
        let config = JournalConfig { segment_size_limit_bytes: limit_bytes };
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path().join("store");
        let mut journal = Journal::create(&dir, config).expect("create");
        let mut committed: Vec<Vec<u8>> = Vec::new();
        let mut pending: Vec<Vec<u8>> = Vec::new();
        let mut clock_ms = 0i64;
        for operation in operations {
            match operation {
                Operation::Append(payload) => {
                    clock_ms += 1;
                    let sequence = journal.append(clock_ms, &payload).expect("append");
                    prop_assert_eq!(sequence, (committed.len() + pending.len() + 1) as u64);
                    pending.push(payload);
                }
                Operation::Commit => {
                    journal.commit().expect("commit");
                    committed.append(&mut pending);
                }
                Operation::Discard => {
                    journal.discard_pending();
                    pending.clear();
                }
                Operation::Reopen => {
                    drop(journal);
                    pending.clear();
                    journal = Journal::open(&dir, config).expect("reopen");
                    prop_assert!(journal.recovery_warnings().is_empty());
                }
            }
            prop_assert_eq!(journal.last_sequence(), committed.len() as u64);
            prop_assert_eq!(journal.pending(), pending.len());
        }
        drop(journal);
        let journal = Journal::open(&dir, config).expect("final open");
        let records = read_all(&journal, 1);
        prop_assert_eq!(records.len(), committed.len());
        for (record, payload) in records.iter().zip(&committed) {
            prop_assert_eq!(&record.payload, payload);
        }
        assert_chained(&records);
        let (stats, warnings) = Journal::verify(&dir).expect("verify");
        prop_assert!(warnings.is_empty());
        prop_assert_eq!(stats, journal.stats());
    }
}
