//! The superblock and the loss check: telling a torn write (never
//! acknowledged, safe to drop) from the loss of acknowledged records.
//!
//! `SUPERBLOCK` holds two slots of 56 bytes, each recording a sequence number
//! known to be durable and that record's hash: magic `ETSSUPER`, format
//! version (u32 LE), sequence (u64 LE), hash (32 bytes), CRC32C of the
//! preceding 52 bytes (u32 LE). Every group commit, once its records are
//! fsynced and before any of them is acknowledged, overwrites the older slot
//! in place and syncs it; so does a snapshot and a clean close. The newest
//! slot that passes its CRC is the proof; a crash while writing one slot
//! leaves the other. A file of one slot (56 bytes) is the superblock of an
//! older build, written only at snapshots and clean closes; it is read as is.
//! Every snapshot file is proof too: one is only written for a committed
//! record.
//!
//! On open, the loss check runs on what the scan found intact, before any
//! torn tail is truncated: a journal that ends before either proof has lost
//! acknowledged records, and the store refuses to start (changing nothing)
//! rather than hand out those sequence numbers again; a journal whose record
//! at the proven sequence has another hash has been replaced by another
//! history. A torn tail after the proven record is an unacknowledged write
//! and is repaired quietly.

use std::fs::{self, File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use crate::error::{corrupt, io_error};
use crate::reader::Committed;
use crate::{FORMAT_VERSION, GENESIS_HASH, Hash, JournalError, store};

/// The superblock's file name.
pub(crate) const SUPERBLOCK_FILE_NAME: &str = "SUPERBLOCK";
/// Its temporary name while being created (removed on open if left behind).
const SUPERBLOCK_TEMP_NAME: &str = "journal-superblock.tmp";
const MAGIC: &[u8; 8] = b"ETSSUPER";
const SLOT_BYTES: usize = 56;
const SLOTS: usize = 2;
const CRC_AT: usize = 52;

/// A sequence number known durable and its record's hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Superblock {
    pub sequence: u64,
    pub hash: Hash,
}

impl Superblock {
    /// The superblock of an empty journal.
    const GENESIS: Superblock = Superblock {
        sequence: 0,
        hash: GENESIS_HASH,
    };

    fn encode(&self) -> [u8; SLOT_BYTES] {
        let mut bytes = [0_u8; SLOT_BYTES];
        bytes[..8].copy_from_slice(MAGIC);
        bytes[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        bytes[12..20].copy_from_slice(&self.sequence.to_le_bytes());
        bytes[20..52].copy_from_slice(&self.hash);
        let crc = crc32c::crc32c(&bytes[..CRC_AT]);
        bytes[CRC_AT..].copy_from_slice(&crc.to_le_bytes());
        bytes
    }

    fn decode(bytes: &[u8]) -> Option<Superblock> {
        if bytes.len() != SLOT_BYTES || &bytes[..8] != MAGIC {
            return None;
        }
        let crc = u32::from_le_bytes(bytes[CRC_AT..].try_into().ok()?);
        if crc != crc32c::crc32c(&bytes[..CRC_AT]) {
            return None;
        }
        Some(Superblock {
            sequence: u64::from_le_bytes(bytes[12..20].try_into().ok()?),
            hash: bytes[20..52].try_into().ok()?,
        })
    }
}

/// The newest valid slot of a superblock file's bytes and its slot number;
/// `None` when no slot is valid.
fn newest_slot(bytes: &[u8]) -> Option<(usize, Superblock)> {
    if bytes.len() != SLOT_BYTES && bytes.len() != SLOT_BYTES * SLOTS {
        return None;
    }
    bytes
        .chunks_exact(SLOT_BYTES)
        .enumerate()
        .filter_map(|(slot, chunk)| Superblock::decode(chunk).map(|superblock| (slot, superblock)))
        .max_by_key(|(_, superblock)| superblock.sequence)
}

/// The writable superblock of a journal opened for writing: its file, kept
/// open, and the slot the next write replaces.
#[derive(Debug)]
pub(crate) struct SuperblockFile {
    file: File,
    next_slot: usize,
    /// What the file proves now.
    pub(crate) current: Superblock,
}

impl SuperblockFile {
    /// Opens the store's superblock for writing, creating it (durably, by
    /// rename) to record `fallback` when the store has none.
    ///
    /// # Errors
    /// [`JournalError::Corrupt`] when it exists but no slot is valid; [`JournalError::Io`].
    pub(crate) fn open_or_create(
        dir: &Path,
        fallback: Superblock,
    ) -> Result<SuperblockFile, JournalError> {
        let path = dir.join(SUPERBLOCK_FILE_NAME);
        let current = match read(dir)? {
            Some(found) => found,
            None => {
                create(dir, fallback)?;
                (0, fallback)
            }
        };
        let file = OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(io_error(&path))?;
        Ok(SuperblockFile {
            file,
            next_slot: (current.0 + 1) % SLOTS,
            current: current.1,
        })
    }

    /// Opens the superblock of a new, empty store.
    ///
    /// # Errors
    /// [`JournalError::Io`].
    pub(crate) fn create_new(dir: &Path) -> Result<SuperblockFile, JournalError> {
        create(dir, Superblock::GENESIS)?;
        SuperblockFile::open_or_create(dir, Superblock::GENESIS)
    }

    /// Records `superblock` as durable: overwrites the older slot in place and
    /// syncs it. Nothing is written when it proves nothing newer.
    ///
    /// # Errors
    /// [`JournalError::Io`]; the other slot still holds the previous proof.
    pub(crate) fn record(
        &mut self,
        dir: &Path,
        superblock: Superblock,
    ) -> Result<(), JournalError> {
        if superblock == self.current {
            return Ok(());
        }
        let path = dir.join(SUPERBLOCK_FILE_NAME);
        let offset = (self.next_slot * SLOT_BYTES) as u64;
        self.file
            .seek(SeekFrom::Start(offset))
            .and_then(|_| self.file.write_all(&superblock.encode()))
            .and_then(|()| self.file.sync_data())
            .map_err(io_error(&path))?;
        self.current = superblock;
        self.next_slot = (self.next_slot + 1) % SLOTS;
        Ok(())
    }
}

/// Creates the superblock file holding `superblock` in both slots, durably
/// (temp file, rename, directory fsync).
fn create(dir: &Path, superblock: Superblock) -> Result<(), JournalError> {
    let temp = dir.join(SUPERBLOCK_TEMP_NAME);
    let slot = superblock.encode();
    let written = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temp)
        .and_then(|mut file| {
            file.write_all(&slot)?;
            file.write_all(&slot)?;
            file.sync_all()
        });
    if let Err(source) = written {
        let _ = fs::remove_file(&temp);
        return Err(JournalError::Io { path: temp, source });
    }
    let path = dir.join(SUPERBLOCK_FILE_NAME);
    fs::rename(&temp, &path).map_err(io_error(&path))?;
    store::sync_dir(dir)
}

/// Reads the superblock's newest valid slot; `None` when there is no file (a
/// store written before superblocks existed, or one whose file was deleted).
///
/// # Errors
/// [`JournalError::Corrupt`] when it exists but no slot passes its magic,
/// length and CRC checks; [`JournalError::Io`].
fn read(dir: &Path) -> Result<Option<(usize, Superblock)>, JournalError> {
    let path = dir.join(SUPERBLOCK_FILE_NAME);
    match fs::read(&path) {
        Ok(bytes) => newest_slot(&bytes).map(Some).ok_or_else(|| {
            corrupt(
                &path,
                0,
                "no slot of the superblock passes its magic, length and CRC32C checks",
            )
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(JournalError::Io { path, source }),
    }
}

/// Refuses a journal whose intact records end before a record that a
/// snapshot or the superblock proves durable, or whose record at the
/// superblock's sequence is not the one recorded there. Runs before any
/// repair, so a refusal changes nothing on disk.
///
/// # Errors
/// [`JournalError::RecordsLost`] naming the missing records and the proof;
/// [`JournalError::Corrupt`] for another history; errors reading the
/// directory, the superblock or the record.
pub(crate) fn check_nothing_lost(
    dir: &Path,
    committed: &Committed<'_>,
) -> Result<(), JournalError> {
    let last_sequence = committed.end.last_sequence;
    let superblock = read(dir)?.map(|(_, superblock)| superblock);
    let newest_snapshot = store::list(dir)?.snapshots.pop();
    let mut proof: Option<(u64, String)> = newest_snapshot.map(|(sequence, path)| {
        (
            sequence,
            format!("snapshot {} was taken at it", path.display()),
        )
    });
    if let Some(superblock) = superblock
        && proof
            .as_ref()
            .is_none_or(|(sequence, _)| superblock.sequence > *sequence)
    {
        proof = Some((
            superblock.sequence,
            "the superblock records it as durable".to_owned(),
        ));
    }
    if let Some((durable, evidence)) = proof
        && durable > last_sequence
    {
        return Err(JournalError::RecordsLost {
            path: dir.to_path_buf(),
            last_sequence,
            durable_sequence: durable,
            evidence,
        });
    }
    match superblock {
        Some(superblock) if committed.record_hash_at(superblock.sequence)? != superblock.hash => {
            Err(corrupt(
                &dir.join(SUPERBLOCK_FILE_NAME),
                0,
                format!(
                    "record {} of the journal is not the record the superblock recorded as durable: the journal holds another history",
                    superblock.sequence
                ),
            ))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_round_trips_and_a_flip_is_caught() {
        let superblock = Superblock {
            sequence: 1_234_567,
            hash: [7; 32],
        };
        let mut bytes = superblock.encode();
        assert_eq!(Superblock::decode(&bytes), Some(superblock));
        bytes[14] ^= 1;
        assert_eq!(Superblock::decode(&bytes), None);
    }

    #[test]
    fn the_newest_valid_slot_wins_and_a_torn_slot_falls_back_to_the_other() {
        let older = Superblock {
            sequence: 7,
            hash: [1; 32],
        };
        let newer = Superblock {
            sequence: 9,
            hash: [2; 32],
        };
        let mut bytes = [older.encode(), newer.encode()].concat();
        assert_eq!(newest_slot(&bytes), Some((1, newer)));
        bytes[SLOT_BYTES + 30] ^= 0x40;
        assert_eq!(newest_slot(&bytes), Some((0, older)));
        assert_eq!(
            newest_slot(&older.encode()),
            Some((0, older)),
            "one slot: an older build's file"
        );
        assert_eq!(newest_slot(&bytes[..SLOT_BYTES + 3]), None);
    }
}
