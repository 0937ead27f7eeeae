//! The store directory: listing its files, the `LOCK` file, leftover temp files, and directory fsync.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use crate::JournalError;
use crate::error::{corrupt, io_error};
use crate::format::{FileKind, classify_file_name};

/// Name of the file whose exclusive lock marks the one handle allowed to write the store.
pub(crate) const LOCK_FILE_NAME: &str = "LOCK";

/// The store's files, by kind; segments and snapshots are sorted by sequence.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    pub segments: Vec<(u64, PathBuf)>,
    pub snapshots: Vec<(u64, PathBuf)>,
    pub temporaries: Vec<PathBuf>,
}

/// Lists the store directory.
///
/// # Errors
///
/// [`JournalError::Io`] if the directory cannot be read; [`JournalError::Corrupt`] for a file named
/// like a segment whose name does not parse, since ignoring it could silently drop records.
pub(crate) fn list(dir: &Path) -> Result<Listing, JournalError> {
    let mut listing = Listing::default();
    for entry in fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let path = entry.path();
        // Only files are ours: a directory is never a segment or snapshot.
        if entry.file_type().map_err(io_error(&path))?.is_dir() {
            continue;
        }
        // A name that is not UTF-8 is none of ours, since we only write ASCII names.
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        match classify_file_name(&name) {
            FileKind::Segment(sequence) => listing.segments.push((sequence, path)),
            FileKind::Snapshot(sequence) => listing.snapshots.push((sequence, path)),
            FileKind::Temporary => listing.temporaries.push(path),
            FileKind::MalformedSegment => {
                return Err(corrupt(
                    &path,
                    0,
                    "file is named like a journal segment but not journal-<20 digits>.seg",
                ));
            }
            FileKind::Other => {}
        }
    }
    listing.segments.sort_unstable();
    listing.snapshots.sort_unstable();
    Ok(listing)
}

/// Opens (creating if needed) the `LOCK` file and takes its exclusive lock without waiting.
///
/// The lock lives as long as the returned `File`; the operating system releases it when the file is
/// closed, including when the process dies, so a crash never leaves a stale lock behind.
///
/// # Errors
///
/// [`JournalError::Locked`] if another handle holds the lock; [`JournalError::Io`] otherwise.
pub(crate) fn lock(dir: &Path) -> Result<File, JournalError> {
    // The OS lock (flock) is taken on the store directory itself: a lock on a
    // file inside it would let a second writer in after someone deletes that
    // file (the second writer would lock a new file). The LOCK file stays as
    // a visible marker for people and older builds.
    let marker = dir.join(LOCK_FILE_NAME);
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&marker)
        .map_err(io_error(&marker))?;
    let handle = File::open(dir).map_err(io_error(dir))?;
    match handle.try_lock() {
        Ok(()) => Ok(handle),
        Err(TryLockError::WouldBlock) => Err(JournalError::Locked { path: marker }),
        Err(TryLockError::Error(source)) => Err(JournalError::Io {
            path: dir.to_path_buf(),
            source,
        }),
    }
}

/// Makes the directory's entries (created, renamed or removed files) durable.
///
/// # Errors
///
/// [`JournalError::Io`] if the directory cannot be opened or synced.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(io_error(dir))
}

/// Removes leftovers of interrupted writes (never renamed into place, so never part of the store).
///
/// # Errors
///
/// [`JournalError::Io`] if a file cannot be removed or the directory cannot be synced.
pub(crate) fn remove_temporaries(dir: &Path, temporaries: &[PathBuf]) -> Result<(), JournalError> {
    if temporaries.is_empty() {
        return Ok(());
    }
    for path in temporaries {
        tracing::info!(path = %path.display(), "removing leftover temporary file");
        fs::remove_file(path).map_err(io_error(path))?;
    }
    sync_dir(dir)
}
