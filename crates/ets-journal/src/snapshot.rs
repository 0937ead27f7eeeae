//! Snapshot files: writing them atomically and checking them against their checksums and the journal.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::path::Path;

use crate::error::io_error;
use crate::format::{read_hash, read_u32, read_u64, snapshot_file_name};
use crate::reader::Committed;
use crate::scan::READ_BUFFER_BYTES;
use crate::{FORMAT_VERSION, Hash, JournalError, MAX_SNAPSHOT_STATE_BYTES, Snapshot, store};

/// Magic bytes that open every snapshot file.
const SNAPSHOT_MAGIC: [u8; 8] = *b"ETSSNAP\0";

/// Size of a snapshot header: magic 8, version 4, reserved 4, sequence 8, record hash 32,
/// state length 8, state CRC32C 4, state BLAKE3 32, header CRC32C 4. The state follows it.
pub const SNAPSHOT_HEADER_BYTES: usize = 104;

/// Offset of the header CRC32C, which covers every header byte before it.
const HEADER_CRC_AT: usize = 100;

/// A decoded snapshot header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SnapshotHeader {
    sequence: u64,
    record_hash: Hash,
    state_length_bytes: u64,
    state_crc32c: u32,
    state_hash: Hash,
}

impl SnapshotHeader {
    fn for_state(sequence: u64, record_hash: Hash, state: &[u8]) -> Self {
        Self {
            sequence,
            record_hash,
            state_length_bytes: state.len() as u64,
            state_crc32c: crc32c::crc32c(state),
            state_hash: *blake3::hash(state).as_bytes(),
        }
    }

    fn encode(&self) -> [u8; SNAPSHOT_HEADER_BYTES] {
        let mut bytes = [0u8; SNAPSHOT_HEADER_BYTES];
        bytes[0..8].copy_from_slice(&SNAPSHOT_MAGIC);
        bytes[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        // Bytes 12..16 stay zero: the reserved field.
        bytes[16..24].copy_from_slice(&self.sequence.to_le_bytes());
        bytes[24..56].copy_from_slice(&self.record_hash);
        bytes[56..64].copy_from_slice(&self.state_length_bytes.to_le_bytes());
        bytes[64..68].copy_from_slice(&self.state_crc32c.to_le_bytes());
        bytes[68..100].copy_from_slice(&self.state_hash);
        let crc = crc32c::crc32c(&bytes[..HEADER_CRC_AT]);
        bytes[HEADER_CRC_AT..].copy_from_slice(&crc.to_le_bytes());
        bytes
    }

    fn decode(bytes: &[u8; SNAPSHOT_HEADER_BYTES]) -> Result<Self, String> {
        if bytes[0..8] != SNAPSHOT_MAGIC {
            return Err("wrong magic bytes".to_owned());
        }
        let version = read_u32(bytes, 8);
        if version != FORMAT_VERSION {
            return Err(format!(
                "format version {version}; this build reads version {FORMAT_VERSION}"
            ));
        }
        let stored = read_u32(bytes, HEADER_CRC_AT);
        let computed = crc32c::crc32c(&bytes[..HEADER_CRC_AT]);
        if stored != computed {
            return Err(format!(
                "header CRC32C mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ));
        }
        let reserved = read_u32(bytes, 12);
        if reserved != 0 {
            return Err(format!("reserved field is {reserved}, not 0"));
        }
        Ok(Self {
            sequence: read_u64(bytes, 16),
            record_hash: read_hash(bytes, 24),
            state_length_bytes: read_u64(bytes, 56),
            state_crc32c: read_u32(bytes, 64),
            state_hash: read_hash(bytes, 68),
        })
    }
}

/// Writes `snapshot-<sequence>.snap` so that it is either absent or complete, even across a crash:
/// a temp file is written and fsynced, renamed into place, and the directory fsynced.
///
/// # Errors
///
/// [`JournalError::Io`] if any step fails; the temp file is removed on a best-effort basis.
pub(crate) fn write_snapshot_file(
    dir: &Path,
    sequence: u64,
    record_hash: Hash,
    state: &[u8],
) -> Result<(), JournalError> {
    let name = snapshot_file_name(sequence);
    let final_path = dir.join(&name);
    let temp_path = dir.join(format!("{name}.tmp"));
    let header = SnapshotHeader::for_state(sequence, record_hash, state).encode();
    let written = write_durably(&temp_path, &header, state);
    if written.is_err() {
        // The write error is what the caller needs to see; a temp file that cannot be removed now is
        // removed by the next open.
        let _ = fs::remove_file(&temp_path);
    }
    written?;
    fs::rename(&temp_path, &final_path).map_err(io_error(&final_path))?;
    store::sync_dir(dir)?;
    tracing::info!(path = %final_path.display(), sequence, state_bytes = state.len(), "snapshot written");
    Ok(())
}

fn write_durably(path: &Path, header: &[u8], state: &[u8]) -> Result<(), JournalError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(io_error(path))?;
    file.write_all(header).map_err(io_error(path))?;
    file.write_all(state).map_err(io_error(path))?;
    file.sync_all().map_err(io_error(path))
}

/// The verdict on one snapshot file.
#[derive(Debug)]
pub(crate) enum SnapshotCheck {
    /// Valid; `state` is empty unless it was asked for.
    Valid(Snapshot),
    /// Not usable, and why.
    Invalid(String),
}

/// Checks one snapshot file: header, name, length, the journal's record hash at its sequence, and the
/// state's CRC32C and BLAKE3. Loads the state only when `keep_state`.
///
/// # Errors
///
/// Only errors reading the journal (to learn the record hash) are returned; every problem with the
/// snapshot file itself, I/O included, makes it [`SnapshotCheck::Invalid`], since skipping a snapshot
/// costs only a longer replay.
pub(crate) fn check_snapshot(
    path: &Path,
    name_sequence: u64,
    committed: &Committed<'_>,
    keep_state: bool,
) -> Result<SnapshotCheck, JournalError> {
    let (header, mut reader) = match read_header(path, name_sequence) {
        Ok(found) => found,
        Err(reason) => return Ok(SnapshotCheck::Invalid(reason)),
    };
    let last_sequence = committed.end.last_sequence;
    if header.sequence > last_sequence {
        return Ok(SnapshotCheck::Invalid(format!(
            "snapshot is at sequence {} but the journal ends at {last_sequence}",
            header.sequence
        )));
    }
    if committed.record_hash_at(header.sequence)? != header.record_hash {
        return Ok(SnapshotCheck::Invalid(format!(
            "its record hash does not match the journal's record {}",
            header.sequence
        )));
    }
    match read_state(&mut reader, &header, keep_state) {
        Ok(state) => Ok(SnapshotCheck::Valid(Snapshot {
            sequence: header.sequence,
            record_hash: header.record_hash,
            state,
        })),
        Err(reason) => Ok(SnapshotCheck::Invalid(reason)),
    }
}

/// Reads and checks the header, and that the file is exactly header plus state long.
fn read_header(
    path: &Path,
    name_sequence: u64,
) -> Result<(SnapshotHeader, BufReader<File>), String> {
    let file = File::open(path).map_err(|error| format!("cannot open: {error}"))?;
    let file_len_bytes = file
        .metadata()
        .map_err(|error| format!("cannot read metadata: {error}"))?
        .len();
    let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, file);
    let mut bytes = [0u8; SNAPSHOT_HEADER_BYTES];
    reader
        .read_exact(&mut bytes)
        .map_err(|error| format!("cannot read the header: {error}"))?;
    let header = SnapshotHeader::decode(&bytes)?;
    if header.sequence != name_sequence {
        return Err(format!(
            "header says sequence {} but the file name says {name_sequence}",
            header.sequence
        ));
    }
    if header.state_length_bytes > MAX_SNAPSHOT_STATE_BYTES {
        return Err(format!(
            "state length {} is over the limit of {MAX_SNAPSHOT_STATE_BYTES} bytes",
            header.state_length_bytes
        ));
    }
    let expected_len_bytes = SNAPSHOT_HEADER_BYTES as u64 + header.state_length_bytes;
    if file_len_bytes != expected_len_bytes {
        return Err(format!(
            "file is {file_len_bytes} bytes but its header says {expected_len_bytes}"
        ));
    }
    Ok((header, reader))
}

/// Streams the state through both checksums, keeping it only when asked.
fn read_state(
    reader: &mut BufReader<File>,
    header: &SnapshotHeader,
    keep_state: bool,
) -> Result<Vec<u8>, String> {
    // The length was checked against the file's actual size, so this allocation is backed by data.
    let capacity = if keep_state {
        usize::try_from(header.state_length_bytes).map_err(|_| "state too large for memory")?
    } else {
        0
    };
    let mut state = Vec::with_capacity(capacity);
    let mut chunk = vec![0u8; READ_BUFFER_BYTES];
    let mut crc = 0u32;
    let mut hasher = blake3::Hasher::new();
    let mut left_bytes = header.state_length_bytes;
    while left_bytes > 0 {
        let take = chunk
            .len()
            .min(usize::try_from(left_bytes).unwrap_or(usize::MAX));
        reader
            .read_exact(&mut chunk[..take])
            .map_err(|error| format!("cannot read the state: {error}"))?;
        crc = crc32c::crc32c_append(crc, &chunk[..take]);
        hasher.update(&chunk[..take]);
        if keep_state {
            state.extend_from_slice(&chunk[..take]);
        }
        left_bytes -= take as u64;
    }
    if crc != header.state_crc32c {
        return Err(format!(
            "state CRC32C mismatch (stored {:#010x}, computed {crc:#010x})",
            header.state_crc32c
        ));
    }
    if *hasher.finalize().as_bytes() != header.state_hash {
        return Err("state BLAKE3 hash mismatch".to_owned());
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: a snapshot header decodes to what was encoded, and a flipped bit is caught by its CRC.
    #[test]
    fn snapshot_header_round_trips_and_detects_flips() {
        let header = SnapshotHeader::for_state(9, [3; 32], b"state");
        let bytes = header.encode();
        assert_eq!(SnapshotHeader::decode(&bytes), Ok(header));
        for position in 0..SNAPSHOT_HEADER_BYTES {
            let mut flipped = bytes;
            flipped[position] ^= 0x01;
            assert!(
                SnapshotHeader::decode(&flipped).is_err(),
                "flip at byte {position} went unnoticed"
            );
        }
    }
}
