//! Reading ahead: a [`RecordReader`] run on a thread of its own, so that
//! reading the segment files and checking every record (CRC32C, BLAKE3,
//! sequence and chain) overlaps with what the caller does with each record.
//! Recovery replays a journal this way: one core reads and checks while the
//! other applies.
//!
//! The records and the error come out exactly as the reader gives them, in
//! order; the thread never runs more than a few batches ahead, so memory
//! stays bounded whatever the journal's length.
//!
//! The same stream can come straight from the open's scan
//! ([`crate::Journal::open_read_only_ahead`]): the thread opens the journal
//! read-only and hands over each record as the scan checks it, so a replay
//! reads and checks the journal once, not twice.
//!
//! What comes out per record is chosen by the caller: the [`Record`] itself,
//! or whatever a function of the checked record makes of it on the reading
//! thread ([`crate::Journal::open_read_only_ahead_map`],
//! [`crate::Journal::read_ahead_from_map`]): a replay decodes each payload
//! there, so the other core only applies. The function sees each record
//! only after it passed its checks, in order.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use crate::{Journal, JournalConfig, JournalError, Record, RecordReader, RecordView};

/// Records sent to the caller at once: large enough that the hand-over costs
/// little per record, small enough that the caller starts early.
const BATCH_RECORDS: usize = 1024;

/// Batches the reading thread may have ready before it waits for the caller.
const BATCHES_AHEAD: usize = 8;

/// What the reading thread hands over.
enum Message<T> {
    /// The next records, in order, as the caller's function made them.
    Records(Vec<T>),
    /// The reader failed after the records already sent; it sends nothing more.
    Failed(JournalError),
    /// The scan sent every record and the journal passed the checks that
    /// need all of it: here it is, open read-only. Nothing follows.
    Opened(Box<Journal>),
}

/// Streams committed records in sequence order, read and checked on a thread
/// of its own; made by [`crate::Journal::read_ahead_from`]. Yields what
/// [`RecordReader`] yields, in the same order, and nothing after an error
/// (each record as `T`, what the caller's function made of it, for the
/// `_map` makers). Dropping it early stops the thread.
pub struct ReadAhead<T = Record> {
    /// `None` once the stream ended (or failed).
    receiver: Option<Receiver<Message<T>>>,
    current: std::vec::IntoIter<T>,
    worker: Option<JoinHandle<()>>,
    /// What the scan opened, once the stream ended without an error.
    opened: Option<Box<Journal>>,
}

impl<T: Send + 'static> ReadAhead<T> {
    /// Starts `reader` on a thread of its own, handing over what `map` makes
    /// of each record.
    ///
    /// # Errors
    /// [`JournalError::Io`] naming `dir` when the thread cannot be started.
    pub(crate) fn start(
        mut reader: RecordReader,
        dir: &Path,
        mut map: impl FnMut(&RecordView<'_>) -> T + Send + 'static,
    ) -> Result<ReadAhead<T>, JournalError> {
        ReadAhead::spawn(dir, move |sender| {
            read_batches(&mut reader, &mut map, &sender);
        })
    }

    /// Starts opening the store in `dir` read-only on a thread of its own,
    /// streaming what `map` makes of each record its scan checks (see
    /// [`crate::Journal::open_read_only_ahead`]).
    ///
    /// # Errors
    /// [`JournalError::Io`] naming `dir` when the thread cannot be started.
    pub(crate) fn scan(
        dir: &Path,
        config: JournalConfig,
        mut map: impl FnMut(&RecordView<'_>) -> T + Send + 'static,
    ) -> Result<ReadAhead<T>, JournalError> {
        let owned: PathBuf = dir.to_path_buf();
        ReadAhead::spawn(dir, move |sender| {
            scan_batches(&owned, config, &mut map, &sender);
        })
    }

    /// Runs `work` on the reading thread with the sending end of the stream.
    fn spawn(
        dir: &Path,
        work: impl FnOnce(SyncSender<Message<T>>) + Send + 'static,
    ) -> Result<ReadAhead<T>, JournalError> {
        let (sender, receiver) = sync_channel(BATCHES_AHEAD);
        let worker = std::thread::Builder::new()
            .name("journal-read-ahead".to_owned())
            .spawn(move || work(sender))
            .map_err(|source| JournalError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        Ok(ReadAhead {
            receiver: Some(receiver),
            current: Vec::new().into_iter(),
            worker: Some(worker),
            opened: None,
        })
    }
}

impl<T> ReadAhead<T> {
    /// The journal a stream of [`crate::Journal::open_read_only_ahead`] opened,
    /// once every record came out and the stream ended without an error;
    /// `None` before that, after an error, and for [`crate::Journal::read_ahead_from`].
    #[must_use]
    pub fn into_journal(mut self) -> Option<Journal> {
        self.opened.take().map(|journal| *journal)
    }

    /// The reading thread ended without a word: waits for it, and carries
    /// its panic (a bug) over to the caller instead of ending the stream as
    /// if the journal had ended.
    fn finish(&mut self) {
        self.receiver = None;
        if let Some(worker) = self.worker.take()
            && let Err(panic) = worker.join()
        {
            std::panic::resume_unwind(panic);
        }
    }
}

/// The reading thread: batches of records until the end, an error, or a
/// caller that stopped listening. One record buffer serves every read.
fn read_batches<T>(
    reader: &mut RecordReader,
    map: &mut impl FnMut(&RecordView<'_>) -> T,
    sender: &SyncSender<Message<T>>,
) {
    let mut record = Record::default();
    loop {
        let mut batch = Vec::with_capacity(BATCH_RECORDS);
        let mut failed = None;
        while batch.len() < BATCH_RECORDS {
            match reader.next_into(&mut record) {
                Ok(true) => batch.push(map(&record.view())),
                Ok(false) => break,
                Err(error) => {
                    failed = Some(error);
                    break;
                }
            }
        }
        let ended = batch.len() < BATCH_RECORDS;
        if !batch.is_empty() && sender.send(Message::Records(batch)).is_err() {
            return;
        }
        if let Some(error) = failed {
            // The caller may have stopped listening; nothing else to do then.
            let _ = sender.send(Message::Failed(error));
            return;
        }
        if ended {
            return;
        }
    }
}

/// The scanning thread: opens the journal read-only, sending each record in
/// batches as the scan checks it, then the opened journal or the error. A
/// caller that stopped listening is sent nothing more (the scan runs on to
/// its end, unread).
fn scan_batches<T>(
    dir: &Path,
    config: JournalConfig,
    map: &mut impl FnMut(&RecordView<'_>) -> T,
    sender: &SyncSender<Message<T>>,
) {
    let mut batch = Vec::with_capacity(BATCH_RECORDS);
    let mut listening = true;
    let opened = Journal::open_read_only_visiting(dir, config, &mut |view: &RecordView<'_>| {
        if !listening {
            return;
        }
        batch.push(map(view));
        if batch.len() == BATCH_RECORDS {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_RECORDS));
            listening = sender.send(Message::Records(full)).is_ok();
        }
    });
    if !listening || (!batch.is_empty() && sender.send(Message::Records(batch)).is_err()) {
        return;
    }
    // The caller may have stopped listening; nothing else to do then.
    let _ = sender.send(match opened {
        Ok(journal) => Message::Opened(Box::new(journal)),
        Err(error) => Message::Failed(error),
    });
}

impl<T> ReadAhead<T> {
    /// The next records as the reading thread handed them over, in order
    /// (what the iterator has not given yet of the batch it was in, when
    /// the two are mixed), or the error that ended the stream; `None` at its
    /// end. The same records and error as the iterator, without moving each
    /// record out of its batch.
    pub fn next_batch(&mut self) -> Option<Result<Vec<T>, JournalError>> {
        if !self.current.as_slice().is_empty() {
            return Some(Ok(std::mem::take(&mut self.current).collect()));
        }
        loop {
            let message = self.receiver.as_ref()?.recv();
            match message {
                Ok(Message::Records(batch)) => return Some(Ok(batch)),
                Ok(Message::Opened(journal)) => self.opened = Some(journal),
                Ok(Message::Failed(error)) => {
                    self.finish();
                    return Some(Err(error));
                }
                Err(_) => {
                    self.finish();
                    return None;
                }
            }
        }
    }
}

impl<T> Iterator for ReadAhead<T> {
    type Item = Result<T, JournalError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(record) = self.current.next() {
                return Some(Ok(record));
            }
            match self.next_batch()? {
                Ok(batch) => self.current = batch.into_iter(),
                Err(error) => return Some(Err(error)),
            }
        }
    }
}

impl<T> Drop for ReadAhead<T> {
    fn drop(&mut self) {
        // Closing the channel stops the thread at its next hand-over.
        self.receiver = None;
        if let Some(worker) = self.worker.take() {
            // A panic on the way out is not re-raised during a drop.
            let _ = worker.join();
        }
    }
}

impl<T> std::fmt::Debug for ReadAhead<T> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ReadAhead")
            .field("running", &self.worker.is_some())
            .field("buffered", &self.current.len())
            .finish_non_exhaustive()
    }
}
