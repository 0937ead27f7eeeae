//! Measures the journal's durable append rate, open (full scan) rate and replay rate, and prints them.
//!
//! Run with `cargo run --release -p ets-journal --example journal_throughput -- [records] [payload_bytes]`
//! (defaults: 2,000,000 records of 100 bytes, committed in batches of 8,189 as the sequencer does).

use std::time::Instant;

use ets_journal::{Journal, JournalConfig, Record};

/// Records per commit, as the sequencer batches them.
const BATCH_RECORDS: u64 = 8_189;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut arguments = std::env::args().skip(1);
    let records: u64 = arguments
        .next()
        .map_or(Ok(2_000_000), |text| text.parse())?;
    let payload_bytes: usize = arguments.next().map_or(Ok(100), |text| text.parse())?;
    let temp = tempfile::tempdir()?;
    let dir = temp.path().join("store");
    let payload = vec![0x5A; payload_bytes];

    let mut journal = Journal::create(&dir, JournalConfig::default())?;
    let started = Instant::now();
    let mut appended = 0u64;
    let mut commit_seconds = 0.0;
    while appended < records {
        let batch = BATCH_RECORDS.min(records - appended);
        for _ in 0..batch {
            journal.append(1_700_000_000_000, &payload)?;
        }
        let committing = Instant::now();
        journal.commit()?;
        commit_seconds += committing.elapsed().as_secs_f64();
        appended += batch;
    }
    report("append + commit (durable)", records, started);
    println!("  of which in commit (write + fsync): {commit_seconds:.3} s");
    let bytes = journal.stats().bytes;
    drop(journal);

    let started = Instant::now();
    let journal = Journal::open(&dir, JournalConfig::default())?;
    report("open (scan and check every record)", records, started);

    let started = Instant::now();
    let mut reader = journal.read_from(1)?;
    let mut record = Record::default();
    let mut read = 0u64;
    while reader.next_into(&mut record)? {
        read += 1;
    }
    report("replay (read_from(1), next_into)", read, started);
    println!("{records} records, {payload_bytes}-byte payloads, {bytes} bytes on disk");
    Ok(())
}

fn report(what: &str, records: u64, started: Instant) {
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{what}: {records} records in {seconds:.3} s = {:.0} records/s",
        records as f64 / seconds
    );
}
