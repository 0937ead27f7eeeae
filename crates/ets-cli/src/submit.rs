//! `ets submit`: JSON lines in, JSON outcome lines out, in order, each
//! printed only after its batch is durable.

use anyhow::{Context, Result};
use ets_api::{ApiError, parse_request, rejection_json, reply_json};
use ets_store::{Store, StoreConfig, Submission, wall_clock_now};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::ExitCode;

/// One input line, parsed or not.
enum Item {
    Command(Submission),
    Malformed { line: usize, error: ApiError },
}

pub fn run(data: &Path, input: &str, batch_max: usize) -> Result<ExitCode> {
    let mut store = Store::open(data, StoreConfig::default())
        .with_context(|| format!("cannot open the store in {}", data.display()))?;
    crate::history::attach(&mut store)?;
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
            flush(&mut store, &mut items, &mut out)?;
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
