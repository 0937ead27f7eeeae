//! The journal in PostgreSQL: an append-only table of the same records as
//! the file journal (sequence, time, previous hash, payload, BLAKE3 hash of
//! `sequence ‖ time ‖ previous hash ‖ payload length ‖ payload`, all
//! little-endian, as in docs/journal-format.md), one database transaction per
//! group commit, snapshots in a table beside it. docs/postgres.md.
//!
//! **Single writer.** A writer holds a session advisory lock (a second
//! writer is refused at once) and a fencing epoch: opening as writer raises
//! the epoch, and every commit checks it in its own transaction, so a writer
//! that another has replaced can never commit again.
//!
//! **A lost session.** When the connection drops during a group commit
//! (server restart, network cut, `pg_terminate_backend`), the journal
//! reconnects a few times with backoff, takes the lock again, checks that
//! its epoch still holds, and then looks for the batch by sequence and hash:
//! all there, the batch is durable; none there, it is inserted again; anything
//! else, another writer wrote and this one is fenced. Past the bounded retries
//! the commit fails (nothing acknowledged) and [`JournalBackend::resume`]
//! settles the batch the same way once the database answers again.

use crate::backend::{JournalBackend, Records};
use crate::kind::StoreKind;
use crate::store::StoreError;
use ets_journal::{
    GENESIS_HASH, Hash, JournalError, JournalStats, MAX_PAYLOAD_BYTES, Record, Snapshot,
};
use postgres::{Client, NoTls};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::path::Path;

/// The journal format this build writes and reads in PostgreSQL.
pub const PG_FORMAT_VERSION: u32 = 1;

/// The advisory lock key held by the one writer of a database ("ets_jrnl").
const WRITER_LOCK_KEY: i64 = 0x6574_735f_6a72_6e6c;

/// Records read per query when replaying.
const PAGE_RECORDS: i64 = 10_000;

/// Reconnection attempts within one group commit after the session dropped,
/// and the wait before the first (doubling after each): at most about 1.5 s
/// in all, so a restart of the database is ridden out while the requests of
/// the batch wait, and a longer outage fails the batch instead of blocking.
const RECONNECT_ATTEMPTS: u32 = 5;
const RECONNECT_FIRST_WAIT: std::time::Duration = std::time::Duration::from_millis(50);

const SCHEMA_SQL: &str = "
CREATE TABLE ets_store (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE ets_journal (
    sequence BIGINT PRIMARY KEY,
    timestamp_ms BIGINT NOT NULL,
    previous_hash BYTEA NOT NULL,
    payload BYTEA NOT NULL,
    hash BYTEA NOT NULL
);
CREATE TABLE ets_snapshots (
    sequence BIGINT PRIMARY KEY,
    record_hash BYTEA NOT NULL,
    state BYTEA NOT NULL
);
CREATE FUNCTION ets_journal_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the openets journal is append-only'; END $$;
CREATE TRIGGER ets_journal_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON ets_journal
    FOR EACH STATEMENT EXECUTE FUNCTION ets_journal_append_only();
";

/// A record appended but not yet committed.
struct Pending {
    sequence: i64,
    timestamp_ms: i64,
    previous_hash: Vec<u8>,
    payload: Vec<u8>,
    hash: Vec<u8>,
}

/// A journal in a PostgreSQL database.
pub struct PgJournal {
    client: RefCell<Client>,
    /// The URL without its password, for messages.
    url: String,
    /// The URL as given, to connect other clients (the history) to the same database.
    connect_url: String,
    /// The fencing epoch this writer holds; `None` when read-only.
    epoch: Option<i64>,
    /// Who sets the time of the store's commands (`kind` in `ets_store`; live when absent).
    kind: StoreKind,
    committed: (u64, Hash),
    /// The time of the last committed record (to put back when a batch is dropped).
    committed_timestamp_ms: Option<i64>,
    last: (u64, Hash),
    last_timestamp_ms: Option<i64>,
    pending: Vec<Pending>,
}

/// Where the batch of a commit whose session dropped stands in the database.
enum Presence {
    /// Every record of it is there with its hash: it is durable.
    Durable,
    /// None of it is there: it never committed.
    Absent,
}

impl PgJournal {
    /// Creates an empty journal of a store of `kind` in the database at
    /// `url`, which must hold no store.
    ///
    /// # Errors
    /// [`StoreError::Database`]: no answer, refused credentials, a read-only
    /// standby, a store already there.
    pub fn create(url: &str, kind: StoreKind) -> Result<PgJournal, StoreError> {
        let mut client = connect(url)?;
        refuse_standby(&mut client, url)?;
        let mut transaction = client.transaction().map_err(database(url))?;
        if table_exists(&mut transaction, "ets_store", url)? {
            return Err(StoreError::Database {
                code: "already_exists",
                message: format!("{} already holds an openets store", redact(url)),
            });
        }
        transaction
            .batch_execute(SCHEMA_SQL)
            .map_err(database(url))?;
        transaction
            .execute(
                "INSERT INTO ets_store (key, value) VALUES ('format', 'openets-journal'), ('format_version', $1), ('writer_epoch', '0'), ('kind', $2)",
                &[&PG_FORMAT_VERSION.to_string(), &kind.name()],
            )
            .map_err(database(url))?;
        transaction.commit().map_err(database(url))?;
        PgJournal::open_with(client, url, true)
    }

    /// Opens the journal in the database at `url` as its one writer.
    ///
    /// # Errors
    /// [`StoreError::Database`]: no answer, refused credentials, no store,
    /// a newer format, or another writer holding it.
    pub fn open(url: &str) -> Result<PgJournal, StoreError> {
        PgJournal::open_with(connect(url)?, url, true)
    }

    /// Opens the journal for reading only: no lock, no epoch, no commits.
    ///
    /// # Errors
    /// As [`PgJournal::open`], except that a writer may be running.
    pub fn open_read_only(url: &str) -> Result<PgJournal, StoreError> {
        PgJournal::open_with(connect(url)?, url, false)
    }

    fn open_with(mut client: Client, url: &str, writer: bool) -> Result<PgJournal, StoreError> {
        let kind = check_format(&mut client, url)?;
        let epoch = if writer {
            refuse_standby(&mut client, url)?;
            take_writer_lock(&mut client, url)?;
            let row = client
                .query_one(
                    "UPDATE ets_store SET value = (value::BIGINT + 1)::TEXT WHERE key = 'writer_epoch' RETURNING value",
                    &[],
                )
                .map_err(database(url))?;
            let epoch: String = row.get(0);
            Some(
                epoch
                    .parse()
                    .map_err(|_| corrupt_meta(url, "writer_epoch"))?,
            )
        } else {
            None
        };
        let last = client
            .query_opt(
                "SELECT sequence, hash, timestamp_ms FROM ets_journal ORDER BY sequence DESC LIMIT 1",
                &[],
            )
            .map_err(database(url))?;
        let (last, last_timestamp_ms) = match last {
            Some(row) => {
                let sequence: i64 = row.get(0);
                let hash: Vec<u8> = row.get(1);
                let hash =
                    to_hash(&hash).ok_or_else(|| bad(sequence, "its hash is not 32 bytes"))?;
                (
                    (u64::try_from(sequence).unwrap_or(0), hash),
                    Some(row.get::<_, i64>(2)),
                )
            }
            None => ((0, GENESIS_HASH), None),
        };
        Ok(PgJournal {
            client: RefCell::new(client),
            url: redact(url),
            connect_url: url.to_owned(),
            epoch,
            kind,
            committed: last,
            committed_timestamp_ms: last_timestamp_ms,
            last,
            last_timestamp_ms,
            pending: Vec::new(),
        })
    }

    /// Who sets the time of the store's commands.
    #[must_use]
    pub fn kind(&self) -> StoreKind {
        self.kind
    }

    fn insert_pending(&mut self) -> Result<(), StoreError> {
        let url = self.url.clone();
        let Some(epoch) = self.epoch else {
            return Err(JournalError::ReadOnly.into());
        };
        let mut client = self.client.borrow_mut();
        let mut transaction = client.transaction().map_err(database(&url))?;
        let current: String = transaction
            .query_one(
                "SELECT value FROM ets_store WHERE key = 'writer_epoch' FOR SHARE",
                &[],
            )
            .map_err(database(&url))?
            .get(0);
        if current != epoch.to_string() {
            return Err(fenced(&url, &current, epoch));
        }
        let column = |field: fn(&Pending) -> &Vec<u8>| -> Vec<&[u8]> {
            self.pending.iter().map(|p| field(p).as_slice()).collect()
        };
        let sequences: Vec<i64> = self.pending.iter().map(|p| p.sequence).collect();
        let times: Vec<i64> = self.pending.iter().map(|p| p.timestamp_ms).collect();
        transaction
            .execute(
                "INSERT INTO ets_journal (sequence, timestamp_ms, previous_hash, payload, hash) \
                 SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BYTEA[], $4::BYTEA[], $5::BYTEA[])",
                &[
                    &sequences,
                    &times,
                    &column(|p| &p.previous_hash),
                    &column(|p| &p.payload),
                    &column(|p| &p.hash),
                ],
            )
            .map_err(database(&url))?;
        transaction.commit().map_err(database(&url))
    }

    /// After the session dropped during a commit: reconnects (a bounded
    /// number of times, with backoff), then finds the batch by sequence and
    /// hash; durable, it is done; absent, it is inserted again. Any failure
    /// is the commit's failure: nothing of the batch may be acknowledged.
    fn commit_after_lost_session(&mut self, lost: StoreError) -> Result<(), StoreError> {
        let mut wait = RECONNECT_FIRST_WAIT;
        let mut last_error = lost;
        for attempt in 1..=RECONNECT_ATTEMPTS {
            std::thread::sleep(wait);
            wait = wait.saturating_mul(2);
            match self.reconnect_writer() {
                Ok(()) => {
                    tracing::warn!(attempt, "reconnected to the database after a lost session");
                    return match self.batch_presence()? {
                        Presence::Durable => self.replication_barrier(),
                        Presence::Absent => self.insert_pending(),
                    };
                }
                // Another writer took over: no retry will change that.
                Err(error) if error.code() == "fenced" => return Err(error),
                Err(error) => last_error = error,
            }
        }
        Err(last_error)
    }

    /// A new session for this writer: not a standby, the writer's lock taken
    /// again, and its fencing epoch still the database's (else `fenced`).
    fn reconnect_writer(&mut self) -> Result<(), StoreError> {
        let Some(epoch) = self.epoch else {
            return Err(JournalError::ReadOnly.into());
        };
        let mut client = connect(&self.connect_url)?;
        refuse_standby(&mut client, &self.url)?;
        take_writer_lock(&mut client, &self.url)?;
        let current: String = client
            .query_one(
                "SELECT value FROM ets_store WHERE key = 'writer_epoch'",
                &[],
            )
            .map_err(database(&self.url))?
            .get(0);
        if current != epoch.to_string() {
            return Err(fenced(&self.url, &current, epoch));
        }
        *self.client.get_mut() = client;
        Ok(())
    }

    /// Whether the pending batch is in the database, checked by sequence and
    /// hash from the last committed record on. Records there that are not
    /// this writer's (another writer's, or a lost committed one) are `fenced`.
    fn batch_presence(&mut self) -> Result<Presence, StoreError> {
        let from =
            i64::try_from(self.committed.0.max(1)).map_err(|_| JournalError::SequenceExhausted)?;
        let mut expected: Vec<(i64, Vec<u8>)> = Vec::with_capacity(self.pending.len() + 1);
        if self.committed.0 > 0 {
            expected.push((from, self.committed.1.to_vec()));
        }
        let before = expected.len();
        expected.extend(self.pending.iter().map(|p| (p.sequence, p.hash.clone())));
        let limit = i64::try_from(expected.len() + 1).unwrap_or(i64::MAX);
        let found: Vec<(i64, Vec<u8>)> = self
            .client
            .get_mut()
            .query(
                "SELECT sequence, hash FROM ets_journal WHERE sequence >= $1 ORDER BY sequence LIMIT $2",
                &[&from, &limit],
            )
            .map_err(database(&self.url))?
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
        if found == expected[..before] {
            return Ok(Presence::Absent);
        }
        if found == expected {
            return Ok(Presence::Durable);
        }
        Err(StoreError::Database {
            code: "fenced",
            message: format!(
                "the journal in {} no longer ends where this writer left it (record {}); another server wrote it, so this one may no longer write",
                self.url, self.committed.0
            ),
        })
    }

    /// Commits a write of this writer's own epoch (the same value) and so
    /// waits, as every commit does, for the synchronous standbys: a batch
    /// found in the database after a lost session may have committed only
    /// locally (its session cut while waiting for a standby), and is
    /// acknowledged only once this later commit is replicated too.
    fn replication_barrier(&mut self) -> Result<(), StoreError> {
        self.client
            .get_mut()
            .execute(
                "UPDATE ets_store SET value = value WHERE key = 'writer_epoch'",
                &[],
            )
            .map_err(database(&self.url))?;
        Ok(())
    }

    /// Marks the pending batch committed.
    fn pending_committed(&mut self) {
        self.pending.clear();
        self.committed = self.last;
        self.committed_timestamp_ms = self.last_timestamp_ms;
    }

    /// Forgets the pending batch: the journal ends at its last committed record.
    fn pending_dropped(&mut self) {
        self.pending.clear();
        self.last = self.committed;
        self.last_timestamp_ms = self.committed_timestamp_ms;
    }
}

impl JournalBackend for PgJournal {
    fn append(&mut self, timestamp_ms: i64, payload: &[u8]) -> Result<u64, StoreError> {
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(JournalError::PayloadTooLarge {
                size_bytes: payload.len(),
                limit_bytes: MAX_PAYLOAD_BYTES,
            }
            .into());
        }
        if let Some(previous_ms) = self.last_timestamp_ms
            && timestamp_ms < previous_ms
        {
            return Err(JournalError::TimeWentBackwards {
                previous_ms,
                given_ms: timestamp_ms,
            }
            .into());
        }
        let sequence = self.last.0 + 1;
        let hash = record_hash(sequence, timestamp_ms, &self.last.1, payload);
        self.pending.push(Pending {
            sequence: i64::try_from(sequence).map_err(|_| JournalError::SequenceExhausted)?,
            timestamp_ms,
            previous_hash: self.last.1.to_vec(),
            payload: payload.to_vec(),
            hash: hash.to_vec(),
        });
        self.last = (sequence, hash);
        self.last_timestamp_ms = Some(timestamp_ms);
        Ok(sequence)
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        match self.insert_pending() {
            Ok(()) => {}
            Err(error) if error.code() == "database_unreachable" => {
                self.commit_after_lost_session(error)?;
            }
            Err(error) => return Err(error),
        }
        self.pending_committed();
        Ok(())
    }

    fn resume(&mut self) -> Result<(), StoreError> {
        let alive = !self.client.get_mut().is_closed()
            && self.client.get_mut().simple_query("SELECT 1").is_ok();
        if alive {
            // The session (and the lock with it) held: the epoch must still be ours.
            let epoch = self.epoch.ok_or(JournalError::ReadOnly)?;
            let current: String = self
                .client
                .get_mut()
                .query_one(
                    "SELECT value FROM ets_store WHERE key = 'writer_epoch'",
                    &[],
                )
                .map_err(database(&self.url))?
                .get(0);
            if current != epoch.to_string() {
                return Err(fenced(&self.url, &current, epoch));
            }
        } else {
            self.reconnect_writer()?;
        }
        if self.pending.is_empty() {
            return Ok(());
        }
        match self.batch_presence()? {
            Presence::Durable => {
                self.replication_barrier()?;
                self.pending_committed();
            }
            Presence::Absent => self.pending_dropped(),
        }
        Ok(())
    }

    fn pending(&self) -> usize {
        self.pending.len()
    }

    fn last_sequence(&self) -> u64 {
        self.last.0
    }

    fn last_hash(&self) -> Hash {
        self.last.1
    }

    fn read_from(&self, first_sequence: u64) -> Result<Records<'_>, StoreError> {
        Ok(Box::new(PgRecords {
            journal: self,
            next: first_sequence.max(1),
            previous: None,
            buffer: VecDeque::new(),
            failed: false,
        }))
    }

    fn latest_snapshot(&self) -> Result<Option<Snapshot>, StoreError> {
        self.latest_snapshot_below(u64::MAX)
    }

    fn latest_snapshot_below(&self, below: u64) -> Result<Option<Snapshot>, StoreError> {
        let below = i64::try_from(below).unwrap_or(i64::MAX);
        let row = self
            .client
            .borrow_mut()
            .query_opt(
                "SELECT sequence, record_hash, state FROM ets_snapshots WHERE sequence < $1 ORDER BY sequence DESC LIMIT 1",
                &[&below],
            )
            .map_err(database(&self.url))?;
        row.map(|row| {
            let sequence: i64 = row.get(0);
            let record_hash: Vec<u8> = row.get(1);
            Ok(Snapshot {
                sequence: u64::try_from(sequence).unwrap_or(0),
                record_hash: to_hash(&record_hash)
                    .ok_or_else(|| bad(sequence, "the snapshot's record hash is not 32 bytes"))?,
                state: row.get(2),
            })
        })
        .transpose()
    }

    fn write_snapshot(&mut self, sequence: u64, state: &[u8]) -> Result<(), StoreError> {
        if self.epoch.is_none() {
            return Err(JournalError::ReadOnly.into());
        }
        let sequence = i64::try_from(sequence).map_err(|_| JournalError::SequenceExhausted)?;
        let hash = self.committed.1.to_vec();
        self.client
            .borrow_mut()
            .execute(
                "INSERT INTO ets_snapshots (sequence, record_hash, state) VALUES ($1, $2, $3) ON CONFLICT (sequence) DO NOTHING",
                &[&sequence, &hash, &state],
            )
            .map_err(database(&self.url))?;
        Ok(())
    }

    fn prune_snapshots(&mut self, keep: usize) -> Result<usize, StoreError> {
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        let deleted = self
            .client
            .borrow_mut()
            .execute(
                "DELETE FROM ets_snapshots WHERE sequence NOT IN (SELECT sequence FROM ets_snapshots ORDER BY sequence DESC LIMIT $1)",
                &[&keep],
            )
            .map_err(database(&self.url))?;
        Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
    }

    fn stats(&self) -> JournalStats {
        JournalStats {
            segments: 0,
            records: self.committed.0,
            last_sequence: self.committed.0,
            last_hash: self.committed.1,
            bytes: 0,
        }
    }

    fn dir(&self) -> Option<&Path> {
        None
    }

    fn database_url(&self) -> Option<&str> {
        Some(&self.connect_url)
    }
}

/// Reads records page by page, checking sequence, chain and hash of each.
struct PgRecords<'a> {
    journal: &'a PgJournal,
    next: u64,
    previous: Option<Hash>,
    buffer: VecDeque<Record>,
    failed: bool,
}

impl PgRecords<'_> {
    fn fill(&mut self) -> Result<(), StoreError> {
        let from = i64::try_from(self.next).map_err(|_| JournalError::SequenceExhausted)?;
        let rows = self
            .journal
            .client
            .borrow_mut()
            .query(
                "SELECT sequence, timestamp_ms, previous_hash, payload, hash FROM ets_journal \
                 WHERE sequence >= $1 AND sequence <= $2 ORDER BY sequence LIMIT $3",
                &[
                    &from,
                    &i64::try_from(self.journal.committed.0).unwrap_or(i64::MAX),
                    &PAGE_RECORDS,
                ],
            )
            .map_err(database(&self.journal.url))?;
        for row in rows {
            let sequence: i64 = row.get(0);
            let previous: Vec<u8> = row.get(2);
            let hash: Vec<u8> = row.get(4);
            let record = Record {
                sequence: u64::try_from(sequence).unwrap_or(0),
                timestamp_ms: row.get(1),
                previous_hash: to_hash(&previous)
                    .ok_or_else(|| bad(sequence, "previous hash is not 32 bytes"))?,
                payload: row.get(3),
                hash: to_hash(&hash).ok_or_else(|| bad(sequence, "hash is not 32 bytes"))?,
            };
            self.check(&record)?;
            self.next = record.sequence + 1;
            self.previous = Some(record.hash);
            self.buffer.push_back(record);
        }
        Ok(())
    }

    fn check(&self, record: &Record) -> Result<(), StoreError> {
        let sequence = i64::try_from(record.sequence).unwrap_or(i64::MAX);
        if record.sequence != self.next {
            return Err(bad(
                sequence,
                &format!("expected record {} here", self.next),
            ));
        }
        if let Some(previous) = self.previous
            && previous != record.previous_hash
        {
            return Err(bad(
                sequence,
                "its previous hash does not chain to the record before",
            ));
        }
        let expected = record_hash(
            record.sequence,
            record.timestamp_ms,
            &record.previous_hash,
            &record.payload,
        );
        if expected != record.hash {
            return Err(bad(sequence, "BLAKE3 hash mismatch"));
        }
        Ok(())
    }
}

impl Iterator for PgRecords<'_> {
    type Item = Result<Record, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if self.buffer.is_empty() && self.next <= self.journal.committed.0 {
            if let Err(error) = self.fill() {
                self.failed = true;
                return Some(Err(error));
            }
            if self.buffer.is_empty() {
                self.failed = true;
                return Some(Err(bad(
                    i64::try_from(self.next).unwrap_or(i64::MAX),
                    "the record is missing",
                )));
            }
        }
        self.buffer.pop_front().map(Ok)
    }
}

/// The record hash of the file journal's format: BLAKE3 of the body before it.
#[must_use]
pub fn record_hash(sequence: u64, timestamp_ms: i64, previous_hash: &Hash, payload: &[u8]) -> Hash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&sequence.to_le_bytes());
    hasher.update(&timestamp_ms.to_le_bytes());
    hasher.update(previous_hash);
    hasher.update(
        &u32::try_from(payload.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    hasher.update(payload);
    *hasher.finalize().as_bytes()
}

fn connect(url: &str) -> Result<Client, StoreError> {
    Client::connect(url, NoTls).map_err(database(url))
}

/// Refuses a server in recovery (a hot standby): it cannot write, and a
/// writer there would fail only at its first commit.
fn refuse_standby(client: &mut Client, url: &str) -> Result<(), StoreError> {
    let in_recovery: bool = client
        .query_one("SELECT pg_is_in_recovery()", &[])
        .map_err(database(url))?
        .get(0);
    if in_recovery {
        return Err(StoreError::Database {
            code: "database_read_only",
            message: format!(
                "{} is a read-only standby (in recovery); write to the primary, or promote this standby first (`pg_ctl promote`)",
                redact(url)
            ),
        });
    }
    Ok(())
}

/// Takes the session advisory lock of the one writer, or refuses with `locked`.
fn take_writer_lock(client: &mut Client, url: &str) -> Result<(), StoreError> {
    let locked: bool = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&WRITER_LOCK_KEY])
        .map_err(database(url))?
        .get(0);
    if !locked {
        return Err(StoreError::Database {
            code: "locked",
            message: format!(
                "another server writes the store in {}; only one may",
                redact(url)
            ),
        });
    }
    Ok(())
}

/// The refusal of a writer whose epoch another writer has raised.
fn fenced(url: &str, current: &str, ours: i64) -> StoreError {
    StoreError::Database {
        code: "fenced",
        message: format!(
            "another server took over the store in {} (writer epoch {current}, ours {ours}); this one may no longer write",
            redact(url)
        ),
    }
}

/// Checks that the database holds an openets store this build reads; returns its kind.
fn check_format(client: &mut Client, url: &str) -> Result<StoreKind, StoreError> {
    let mut transaction = client.transaction().map_err(database(url))?;
    if !table_exists(&mut transaction, "ets_store", url)? {
        return Err(StoreError::Database {
            code: "not_a_store",
            message: format!(
                "{} holds no openets store; create one with `ets init`",
                redact(url)
            ),
        });
    }
    let rows = transaction
        .query(
            "SELECT key, value FROM ets_store WHERE key IN ('format', 'format_version', 'kind')",
            &[],
        )
        .map_err(database(url))?;
    let value = |key: &str| {
        rows.iter()
            .find(|row| row.get::<_, String>(0) == key)
            .map(|row| row.get::<_, String>(1))
    };
    if value("format").as_deref() != Some("openets-journal") {
        return Err(StoreError::Database {
            code: "not_a_store",
            message: format!(
                "{} holds a table ets_store that is not an openets store's",
                redact(url)
            ),
        });
    }
    let version: u32 = value("format_version")
        .and_then(|version| version.parse().ok())
        .ok_or_else(|| corrupt_meta(url, "format_version"))?;
    if version > PG_FORMAT_VERSION {
        return Err(StoreError::Database {
            code: "unsupported_version",
            message: format!(
                "the store in {} has format version {version}; this build reads version {PG_FORMAT_VERSION}",
                redact(url)
            ),
        });
    }
    let kind = match value("kind") {
        Some(kind) => kind.parse().map_err(|_| corrupt_meta(url, "kind"))?,
        // Written before kinds were recorded in the database: live.
        None => StoreKind::Live,
    };
    transaction.commit().map_err(database(url))?;
    Ok(kind)
}

fn table_exists(
    transaction: &mut postgres::Transaction<'_>,
    table: &str,
    url: &str,
) -> Result<bool, StoreError> {
    let row = transaction
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .map_err(database(url))?;
    Ok(row.get(0))
}

fn to_hash(bytes: &[u8]) -> Option<Hash> {
    bytes.try_into().ok()
}

fn bad(sequence: i64, reason: &str) -> StoreError {
    StoreError::BadRecord {
        sequence: u64::try_from(sequence).unwrap_or(0),
        reason: reason.to_owned(),
    }
}

fn corrupt_meta(url: &str, key: &str) -> StoreError {
    StoreError::Database {
        code: "corrupt",
        message: format!("the store in {} has an unreadable `{key}`", redact(url)),
    }
}

/// Maps a PostgreSQL error to [`StoreError::Database`] with the server's message.
fn database(url: &str) -> impl FnOnce(postgres::Error) -> StoreError + '_ {
    move |error| {
        let code = match error.as_db_error().map(|db| db.code().code()) {
            // 28P01 invalid password, 28000 invalid authorization.
            Some("28P01" | "28000") => "database_credentials",
            // 25006 read-only SQL transaction: a standby, or a primary turned read-only.
            Some("25006") => "database_read_only",
            // 53100 disk full (53xxx: insufficient resources).
            Some("53100") => "database_disk_full",
            // 57P01-57P03: the server shut down or terminated the session
            // (`pg_terminate_backend`, a restart); class 08: connection exceptions.
            Some(code) if code.starts_with("57P") || code.starts_with("08") => {
                "database_unreachable"
            }
            Some(_) if error.is_closed() => "database_unreachable",
            Some(_) => "database",
            None => "database_unreachable",
        };
        StoreError::Database {
            code,
            message: format!("{}: {}", redact(url), describe(&error)),
        }
    }
}

fn describe(error: &postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The URL without its password, for messages.
#[must_use]
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl crate::Store {
    /// Creates a new, empty live store in the PostgreSQL database at `url`.
    ///
    /// # Errors
    /// As [`crate::Store::create_postgres_of_kind`].
    pub fn create_postgres(
        url: &str,
        config: crate::StoreConfig,
    ) -> Result<crate::Store, StoreError> {
        crate::Store::create_postgres_of_kind(url, config, StoreKind::Live)
    }

    /// Creates a new, empty store of `kind` in the PostgreSQL database at
    /// `url`, recording the kind in the database.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the database does not answer, refuses
    /// the credentials, is a read-only standby or already holds a store.
    pub fn create_postgres_of_kind(
        url: &str,
        config: crate::StoreConfig,
        kind: StoreKind,
    ) -> Result<crate::Store, StoreError> {
        let journal = PgJournal::create(url, kind)?;
        Ok(crate::Store::recover(Box::new(journal), config)?.with_kind(kind))
    }

    /// Opens the store in the PostgreSQL database at `url` as its one writer
    /// and recovers it (latest snapshot, then replay).
    ///
    /// # Errors
    /// [`StoreError`] when the database does not answer, holds no store or
    /// a newer one, is a read-only standby, another server writes it, or
    /// replay disagrees.
    pub fn open_postgres(
        url: &str,
        config: crate::StoreConfig,
    ) -> Result<crate::Store, StoreError> {
        let journal = PgJournal::open(url)?;
        let kind = journal.kind();
        Ok(crate::Store::recover(Box::new(journal), config)?.with_kind(kind))
    }

    /// Opens the store in the PostgreSQL database at `url` for queries only:
    /// no lock (a server may be writing), and submissions are refused. A
    /// standby will do.
    ///
    /// # Errors
    /// As [`crate::Store::open_postgres`], except that a writer may be running.
    pub fn open_postgres_read_only(url: &str) -> Result<crate::Store, StoreError> {
        let journal = PgJournal::open_read_only(url)?;
        let kind = journal.kind();
        Ok(
            crate::Store::recover(Box::new(journal), crate::StoreConfig::default())?
                .with_kind(kind)
                .into_read_only(),
        )
    }
}
