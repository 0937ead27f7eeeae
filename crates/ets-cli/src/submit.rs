//! `ets submit`: JSON lines in, JSON outcome lines out, in order, each
//! printed only after its batch is durable.

use anyhow::{Context, Result};
use ets_api::{ApiError, parse_request, rejection_json, reply_json};
use ets_model::ParticipantId;
use ets_store::{Store, StoreConfig, Submission, wall_clock_now};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::ExitCode;

/// One input line, parsed or not.
enum Item {
    Command(Submission),
    Malformed { line: usize, error: ApiError },
}

pub fn run(data: &Path, input: &str, batch_max: usize, dated_by: Option<u64>) -> Result<ExitCode> {
    let mut store = Store::open(data, StoreConfig::default())
        .with_context(|| format!("cannot open the store in {}", data.display()))?;
    if let Some(notice) = store.kind().not_live_notice() {
        eprintln!("{notice}");
    }
    if dated_by.is_some() && store.kind().is_live() {
        anyhow::bail!(
            "--dated-by needs a virtual or import store: the clock of this live store is the server's"
        );
    }
    let dated_by = dated_by.map(ParticipantId);
    let reader: Box<dyn Read> = if input == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(input).with_context(|| format!("cannot read {input}"))?)
    };
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut items = Vec::new();
    let mut line_number = 0;
    let mut line = String::new();
    loop {
        line.clear();
        let read = reader.read_line(&mut line).context("cannot read input")?;
        if read > 0 {
            line_number += 1;
            if let Some(item) = parse(line_number, &line) {
                items.push(item);
            }
        }
        // A batch ends when the input has nothing more buffered (so an
        // interactive client is answered at once) or when it is full.
        let drained = read == 0 || reader.buffer().is_empty();
        if !items.is_empty() && (drained || items.len() >= batch_max) {
            match dated_by {
                Some(administrator) => {
                    flush_dated(&mut store, &mut items, &mut out, administrator)?
                }
                None => flush(&mut store, &mut items, &mut out)?,
            }
        }
        if read == 0 {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn parse(line_number: usize, line: &str) -> Option<Item> {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return None;
    }
    Some(match parse_request(trimmed) {
        Ok(request) => Item::Command(Submission {
            request_id: request.request_id,
            requester: request.requester,
            time: request.time,
            command: request.command,
        }),
        Err(error) => Item::Malformed {
            line: line_number,
            error,
        },
    })
}

/// Import mode: each dated line first advances the store's clock to its time
/// (an `advance_clock` from `administrator`, journaled), then goes in without
/// it, one at a time. A refused advance is that line's outcome, and the line
/// is not applied.
fn flush_dated(
    store: &mut Store,
    items: &mut Vec<Item>,
    out: &mut impl Write,
    administrator: ParticipantId,
) -> Result<()> {
    for item in items.drain(..) {
        let line = match item {
            Item::Command(mut submission) => {
                let advance = match submission.time.take() {
                    Some(to) if to != store.clock() => {
                        Some(crate::one_command::advance_clock(store, administrator, to)?.1)
                    }
                    _ => None,
                };
                let reply = match advance {
                    Some(refused) if !refused.outcome.is_accepted() => refused,
                    _ => store
                        .submit(std::slice::from_ref(&submission), wall_clock_now())
                        .context("the store failed; this line's outcome was not acknowledged")?
                        .into_iter()
                        .next()
                        .context("the store gave no reply")?,
                };
                reply_json(
                    submission.request_id,
                    reply.sequence,
                    reply.time,
                    reply.duplicate,
                    &reply.outcome,
                )
            }
            Item::Malformed { line, error } => rejection_json(line, &error),
        };
        serde_json::to_writer(&mut *out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// Makes the batch durable, then prints every outcome in input order.
fn flush(store: &mut Store, items: &mut Vec<Item>, out: &mut impl Write) -> Result<()> {
    let submissions: Vec<Submission> = items
        .iter()
        .filter_map(|item| match item {
            Item::Command(submission) => Some(submission.clone()),
            Item::Malformed { .. } => None,
        })
        .collect();
    let replies = store
        .submit(&submissions, wall_clock_now())
        .context("the store failed; no outcome of this batch was acknowledged")?;
    let mut replies = replies.into_iter();
    for item in items.drain(..) {
        let line = match item {
            Item::Command(submission) => {
                let reply = replies
                    .next()
                    .context("the store returned fewer replies than submissions")?;
                reply_json(
                    submission.request_id,
                    reply.sequence,
                    reply.time,
                    reply.duplicate,
                    &reply.outcome,
                )
            }
            Item::Malformed { line, error } => rejection_json(line, &error),
        };
        serde_json::to_writer(&mut *out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}
