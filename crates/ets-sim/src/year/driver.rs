//! Where the simulation's commands go: the [`Sink`] (an engine in memory, or a
//! store that journals each command) and the [`Driver`] that numbers, stamps,
//! batches and checks them.
//!
//! A store journals every command as it is applied but commits (writes and fsyncs)
//! them in groups of [`COMMIT_EVERY`] records and at the end of the run: the
//! simulator is the store's only client and tells nobody about an outcome before
//! the run's last commit, so one fsync per group keeps "durable before
//! acknowledged" while the run does not wait on the disk for each order.

use anyhow::{Context as _, Result, bail};
use ets_engine::compliance::ComplianceCommand;
use ets_engine::{Command, Effect, Engine, Envelope, Outcome};
use ets_model::{ParticipantId, RequestId, Timestamp};
use ets_store::{Store, Submission};
use indicatif::{ProgressBar, ProgressStyle};

use super::MAX_COMMAND_BYTES;

/// A phase's queued commands go in about this many batches (one fsync each in a
/// store), so its bar moves as they are applied.
const PHASE_BATCHES: usize = 20;
/// ... of at least this many commands.
const MIN_PHASE_BATCH: usize = 500;
/// A store commits its journaled commands once this many wait (and at the end of a run).
pub const COMMIT_EVERY: usize = 16_384;

/// Where commands go: an engine in memory, or a store that journals each one.
pub trait Sink {
    /// Applies one command at `time` and returns its outcome.
    ///
    /// # Errors
    /// On a store fault (never for a business refusal).
    fn send(
        &mut self,
        request: RequestId,
        requester: ParticipantId,
        time: Timestamp,
        command: Command,
    ) -> Result<Outcome>;
    /// The engine, for queries.
    fn engine(&self) -> &Engine;

    /// Makes every command sent so far durable (a store commits its journal; an
    /// engine in memory has nothing to do).
    ///
    /// # Errors
    /// On a store fault.
    fn commit(&mut self) -> Result<()> {
        Ok(())
    }

    /// Applies commands in order and returns their outcomes (a store journals them with
    /// one fsync for the batch).
    ///
    /// # Errors
    /// On a store fault (never for a business refusal).
    fn send_all(
        &mut self,
        batch: Vec<(RequestId, ParticipantId, Timestamp, Command)>,
    ) -> Result<Vec<Outcome>> {
        batch
            .into_iter()
            .map(|(request, requester, time, command)| self.send(request, requester, time, command))
            .collect()
    }
}

impl Sink for Engine {
    fn send(
        &mut self,
        request: RequestId,
        requester: ParticipantId,
        time: Timestamp,
        command: Command,
    ) -> Result<Outcome> {
        let envelope = Envelope {
            request_id: request,
            requester,
            time,
            command,
        };
        Ok(self.apply(&envelope).outcome().clone())
    }

    fn engine(&self) -> &Engine {
        self
    }
}

impl Sink for Store {
    fn send(
        &mut self,
        request: RequestId,
        requester: ParticipantId,
        time: Timestamp,
        command: Command,
    ) -> Result<Outcome> {
        let submission = Submission {
            request_id: request,
            requester,
            time: Some(time),
            command,
        };
        let mut replies = self.submit_dated_uncommitted(&[submission])?;
        commit_when_due(self)?;
        match replies.pop() {
            Some(reply) => Ok(reply.outcome),
            None => bail!("the store gave no reply"),
        }
    }

    fn engine(&self) -> &Engine {
        Store::engine(self)
    }

    fn commit(&mut self) -> Result<()> {
        Ok(Store::commit(self)?)
    }

    fn send_all(
        &mut self,
        batch: Vec<(RequestId, ParticipantId, Timestamp, Command)>,
    ) -> Result<Vec<Outcome>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let submissions: Vec<Submission> = batch
            .into_iter()
            .map(|(request_id, requester, time, command)| Submission {
                request_id,
                requester,
                time: Some(time),
                command,
            })
            .collect();
        let replies = self.submit_dated_uncommitted(&submissions)?;
        commit_when_due(self)?;
        if replies.len() != submissions.len() {
            bail!(
                "the store gave {} replies to {}",
                replies.len(),
                submissions.len()
            );
        }
        Ok(replies.into_iter().map(|reply| reply.outcome).collect())
    }
}

/// Commits the store's journal once [`COMMIT_EVERY`] records wait.
fn commit_when_due(store: &mut Store) -> Result<()> {
    if store.uncommitted() >= COMMIT_EVERY {
        store.commit()?;
    }
    Ok(())
}

/// Numbers, stamps and sends the simulation's commands; queues the ones whose
/// effects are not needed at once and sends them as one batch.
pub(crate) struct Driver<'a, S: Sink> {
    pub(crate) sink: &'a mut S,
    request: u64,
    time_ms: i64,
    commands: u64,
    progress: bool,
    /// Commands queued by `defer`, sent as one batch by `flush` or before the next `send`.
    pending: Vec<(RequestId, ParticipantId, Timestamp, Command)>,
}

impl<S: Sink> Driver<'_, S> {
    /// A driver whose first command is stamped no earlier than `time_ms`.
    pub(crate) fn new(sink: &mut S, time_ms: i64, progress: bool) -> Driver<'_, S> {
        Driver {
            sink,
            request: 0,
            time_ms,
            commands: 0,
            progress,
            pending: Vec::new(),
        }
    }

    /// Queues a command whose effect the simulation does not need at once: it is sent
    /// with the others in one batch (one fsync in a store), and must be accepted.
    pub(crate) fn defer(
        &mut self,
        requester: ParticipantId,
        at_ms: i64,
        command: Command,
    ) -> Result<()> {
        check_size(&command)?;
        self.request += 1;
        self.commands += 1;
        self.time_ms = at_ms.max(self.time_ms + 1);
        self.pending.push((
            RequestId(self.request),
            requester,
            Timestamp(self.time_ms),
            command,
        ));
        Ok(())
    }

    /// Sends the queued commands; returns their outcomes in order.
    pub(crate) fn flush_outcomes(&mut self) -> Result<Vec<Outcome>> {
        let batch = std::mem::take(&mut self.pending);
        self.sink.send_all(batch).context("sending a batch")
    }

    /// Sends the queued commands; each must be accepted. Returns their effects in order.
    pub(crate) fn flush(&mut self) -> Result<Vec<Effect>> {
        let names: Vec<(&'static str, ParticipantId)> = self
            .pending
            .iter()
            .map(|item| (item.3.name(), item.1))
            .collect();
        let outcomes = self.flush_outcomes()?;
        outcomes
            .into_iter()
            .zip(names)
            .map(|(outcome, (name, requester))| match outcome {
                Outcome::Accepted(effect) => Ok(effect),
                Outcome::Rejected(rejection) => bail!(
                    "{name} by {requester} refused: {} ({})",
                    rejection.code,
                    rejection.message
                ),
            })
            .collect()
    }

    /// Sends the queued commands of a phase in a few batches, drawing a bar named
    /// `phase` that counts them and stays at its total; each must be accepted.
    /// Returns their effects in order.
    pub(crate) fn flush_phase(&mut self, phase: &str) -> Result<Vec<Effect>> {
        let mut rest = std::mem::take(&mut self.pending);
        let bar = self.bar(rest.len(), phase);
        let batch = (rest.len() / PHASE_BATCHES).max(MIN_PHASE_BATCH);
        let mut effects = Vec::with_capacity(rest.len());
        while !rest.is_empty() {
            let take = batch.min(rest.len());
            self.pending = rest.drain(..take).collect();
            effects.extend(self.flush()?);
            bar.inc(take as u64);
        }
        bar.finish();
        Ok(effects)
    }

    /// Sends at `at_ms` or just after the last command (times never go backwards),
    /// after any queued commands.
    pub(crate) fn send(
        &mut self,
        requester: ParticipantId,
        at_ms: i64,
        command: Command,
    ) -> Result<Outcome> {
        if !self.pending.is_empty() {
            self.flush()?;
        }
        self.request += 1;
        self.commands += 1;
        self.time_ms = at_ms.max(self.time_ms + 1);
        let name = command.name();
        let outcome = self
            .sink
            .send(
                RequestId(self.request),
                requester,
                Timestamp(self.time_ms),
                command,
            )
            .with_context(|| format!("sending {name}"))?;
        Ok(outcome)
    }

    /// Sends a command that must be accepted and returns its effect.
    pub(crate) fn ok(
        &mut self,
        requester: ParticipantId,
        at_ms: i64,
        command: Command,
    ) -> Result<Effect> {
        let name = command.name();
        check_size(&command)?;
        match self.send(requester, at_ms, command)? {
            Outcome::Accepted(effect) => Ok(effect),
            Outcome::Rejected(rejection) => bail!(
                "{name} by {requester} refused: {} ({})",
                rejection.code,
                rejection.message
            ),
        }
    }

    /// Sends the queued commands and makes everything sent durable: the end of a run.
    pub(crate) fn finish(&mut self) -> Result<()> {
        self.flush()?;
        self.sink.commit().context("committing the journal")
    }

    /// Commands sent or queued so far.
    pub(crate) fn commands(&self) -> u64 {
        self.commands
    }

    /// A progress bar of `len` steps named `phase` (hidden without progress); finish
    /// it with `finish()`, so it stays on screen at its total.
    pub(crate) fn bar(&self, len: usize, phase: &str) -> ProgressBar {
        if !self.progress {
            return ProgressBar::hidden();
        }
        phase_bar(len, phase)
    }
}

/// A visible progress bar of `len` steps named `phase`.
pub(crate) fn phase_bar(len: usize, phase: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) = ProgressStyle::with_template("{msg:>14} [{bar:40}] {pos}/{len} {elapsed}") {
        bar.set_style(style);
    }
    bar.set_message(phase.to_owned());
    bar
}

fn check_size(command: &Command) -> Result<()> {
    // Only the big ones can come near the bound; skip encoding the many small ones.
    if matches!(
        command,
        Command::Compliance(
            ComplianceCommand::RegisterEntities { .. }
                | ComplianceCommand::Allocate { .. }
                | ComplianceCommand::LoadRulebook { .. }
        )
    ) {
        let size = serde_json::to_vec(command).map(|v| v.len()).unwrap_or(0);
        if size > MAX_COMMAND_BYTES {
            bail!(
                "{} would be {size} bytes encoded, above {MAX_COMMAND_BYTES}",
                command.name()
            );
        }
    }
    Ok(())
}
