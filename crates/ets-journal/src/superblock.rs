//! The superblock and the loss check: telling a torn write (never
//! acknowledged, safe to drop) from the loss of acknowledged records.
//!
//! `SUPERBLOCK` is a 56-byte file recording a sequence number known to be
//! durable and that record's hash: magic `ETSSUPER`, format version (u32 LE),
//! sequence (u64 LE), hash (32 bytes), CRC32C of the preceding 52 bytes
//! (u32 LE). It is replaced atomically (temp file, rename, directory fsync)
//! when a snapshot is written and when a writable journal closes cleanly.
//! Every snapshot file is proof too: one is only written for a committed
//! record. On open, a journal that ends before either proof has lost
//! acknowledged records, and the store refuses to start rather than hand
//! out those sequence numbers again.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use crate::error::{corrupt, io_error};
use crate::{FORMAT_VERSION, Hash, JournalError, store};

/// The superblock's file name.
pub(crate) const SUPERBLOCK_FILE_NAME: &str = "SUPERBLOCK";
/// Its temporary name while being replaced (removed on open if left behind).
const SUPERBLOCK_TEMP_NAME: &str = "journal-superblock.tmp";
const MAGIC: &[u8; 8] = b"ETSSUPER";
const SUPERBLOCK_BYTES: usize = 56;
const CRC_AT: usize = 52;

/// A sequence number known durable and its record's hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Superblock {
    pub sequence: u64,
    pub hash: Hash,
}

impl Superblock {
    fn encode(&self) -> [u8; SUPERBLOCK_BYTES] {
        let mut bytes = [0_u8; SUPERBLOCK_BYTES];
        bytes[..8].copy_from_slice(MAGIC);
        bytes[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        bytes[12..20].copy_from_slice(&self.sequence.to_le_bytes());
        bytes[20..52].copy_from_slice(&self.hash);
        let crc = crc32c::crc32c(&bytes[..CRC_AT]);
        bytes[CRC_AT..].copy_from_slice(&crc.to_le_bytes());
        bytes
    }

    fn decode(bytes: &[u8]) -> Option<Superblock> {
        if bytes.len() != SUPERBLOCK_BYTES || &bytes[..8] != MAGIC {
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

/// Replaces the superblock durably.
///
/// # Errors
/// [`JournalError::Io`] when it cannot be written, renamed or synced.
pub(crate) fn write(dir: &Path, superblock: Superblock) -> Result<(), JournalError> {
    let temp = dir.join(SUPERBLOCK_TEMP_NAME);
    let written = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temp)
        .and_then(|mut file| {
            file.write_all(&superblock.encode())?;
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

/// Reads the superblock; `None` when there is none (a store written before
/// superblocks existed, or never closed cleanly nor snapshotted).
///
/// # Errors
/// [`JournalError::Corrupt`] when it exists but is damaged; [`JournalError::Io`].
pub(crate) fn read(dir: &Path) -> Result<Option<Superblock>, JournalError> {
    let path = dir.join(SUPERBLOCK_FILE_NAME);
    match fs::read(&path) {
        Ok(bytes) => Superblock::decode(&bytes).map(Some).ok_or_else(|| {
            corrupt(
                &path,
                0,
                "the superblock fails its magic, length or CRC32C check",
            )
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(JournalError::Io { path, source }),
    }
}

/// Refuses a journal that ends at `last_sequence` when a snapshot or the
/// superblock proves later records were durable.
///
/// # Errors
/// [`JournalError::RecordsLost`] naming the missing records and the proof;
/// errors reading the directory or the superblock.
pub(crate) fn check_nothing_lost(dir: &Path, last_sequence: u64) -> Result<(), JournalError> {
    let newest_snapshot = store::list(dir)?.snapshots.pop();
    let mut proof: Option<(u64, String)> = newest_snapshot.map(|(sequence, path)| {
        (
            sequence,
            format!("snapshot {} was taken at it", path.display()),
        )
    });
    if let Some(superblock) = read(dir)?
        && proof
            .as_ref()
            .is_none_or(|(sequence, _)| superblock.sequence > *sequence)
    {
        proof = Some((
            superblock.sequence,
            "the superblock records it as durable".to_owned(),
        ));
    }
    match proof {
        Some((durable, evidence)) if durable > last_sequence => Err(JournalError::RecordsLost {
            path: dir.to_path_buf(),
            last_sequence,
            durable_sequence: durable,
            evidence,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_superblock_round_trips_and_a_flip_is_caught() {
        let superblock = Superblock {
            sequence: 1_234_567,
            hash: [7; 32],
        };
        let mut bytes = superblock.encode();
        assert_eq!(Superblock::decode(&bytes), Some(superblock));
        bytes[14] ^= 1;
        assert_eq!(Superblock::decode(&bytes), None);
    }
}
