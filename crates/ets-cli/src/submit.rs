//! `ets submit`: JSON lines in, JSON outcome lines out, in order, each
//! printed only after its batch is durable. Every input line gets an
//! outcome line, including lines that are not UTF-8 or repeat a JSON key.
//! The exit status says whether anything was refused ([`EXIT_REFUSED`]).

use anyhow::{Context, Result};
use ets_api::{ApiError, parse_request, rejection_json, reply_json};
use ets_model::ParticipantId;
use ets_store::{Reply, Store, StoreConfig, StoreLocation, Submission, wall_clock_now};
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::ExitCode;

/// Exit status when every line was read and made durable but at least one
/// was refused or malformed (0: all accepted; 1: the tool failed).
pub const EXIT_REFUSED: u8 = 3;

/// One input line, parsed or not (a command boxed: it is several times the
/// size of a malformed line's error).
enum Item {
    Command(Box<Submission>),
    Malformed { line: usize, error: ApiError },
}

/// Runs `ets submit`: applies the JSON lines of `input` (`-`: standard
/// input) in batches of at most `batch_max`, printing one outcome line per
/// line once it is durable; exits 3 when any line was refused.
///
/// # Errors
/// The store or the input cannot be opened, or a write fails.
pub fn run(
    data: &StoreLocation,
    input: &str,
    batch_max: usize,
    dated_by: Option<u64>,
) -> Result<ExitCode> {
    let mut store = Store::open_at(data, StoreConfig::default())
        .with_context(|| format!("cannot open the store in {}", data.display()))?;
    crate::history::attach(&mut store)?;
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
    let mut line = Vec::new();
    let mut refused = false;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .context("cannot read input")?;
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
            refused |= match dated_by {
                Some(administrator) => {
                    flush_dated(&mut store, &mut items, &mut out, administrator)?
                }
                None => flush(&mut store, &mut items, &mut out)?,
            };
        }
        if read == 0 {
            break;
        }
    }
    Ok(if refused {
        ExitCode::from(EXIT_REFUSED)
    } else {
        ExitCode::SUCCESS
    })
}

fn parse(line_number: usize, bytes: &[u8]) -> Option<Item> {
    let malformed = |message: String| {
        Some(Item::Malformed {
            line: line_number,
            error: ApiError {
                code: "malformed_command",
                message,
                request_id: None,
            },
        })
    };
    let line = match std::str::from_utf8(bytes) {
        Ok(line) => line,
        Err(error) => {
            return malformed(format!(
                "the line is not UTF-8 (invalid byte at offset {}); send JSON text in UTF-8",
                error.valid_up_to()
            ));
        }
    };
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return None;
    }
    if let Some(key) = repeated_key(trimmed) {
        return malformed(format!(
            "the key `{key}` appears twice in one object; give each key once"
        ));
    }
    Some(match parse_request(trimmed) {
        Ok(request) => Item::Command(Box::new(Submission {
            request_id: request.request_id,
            requester: request.requester,
            time: request.time,
            command: request.command,
        })),
        Err(error) => Item::Malformed {
            line: line_number,
            error,
        },
    })
}

/// Import mode: each dated line first advances the store's clock to its time
/// (an `advance_clock` from `administrator`, journaled), then goes in without
/// it, one at a time. A refused advance is that line's outcome, and the line
/// is not applied. Returns whether any line was refused or malformed.
fn flush_dated(
    store: &mut Store,
    items: &mut Vec<Item>,
    out: &mut impl Write,
    administrator: ParticipantId,
) -> Result<bool> {
    print_outcomes(items, out, |submission| {
        let advance = match submission.time.take() {
            Some(to) if to != store.clock() => {
                Some(crate::one_command::advance_clock(store, administrator, to)?.1)
            }
            _ => None,
        };
        match advance {
            Some(refusal) if !refusal.outcome.is_accepted() => Ok(refusal),
            _ => store
                .submit(std::slice::from_ref(submission), wall_clock_now())
                .context("the store failed; this line's outcome was not acknowledged")?
                .into_iter()
                .next()
                .context("the store gave no reply"),
        }
    })
}

/// Makes the batch durable, then prints every outcome in input order.
/// Returns whether any line was refused or malformed.
fn flush(store: &mut Store, items: &mut Vec<Item>, out: &mut impl Write) -> Result<bool> {
    let submissions: Vec<Submission> = items
        .iter()
        .filter_map(|item| match item {
            Item::Command(submission) => Some(Submission::clone(submission)),
            Item::Malformed { .. } => None,
        })
        .collect();
    let replies = store
        .submit(&submissions, wall_clock_now())
        .context("the store failed; no outcome of this batch was acknowledged")?;
    let mut replies = replies.into_iter();
    print_outcomes(items, out, |_| {
        replies
            .next()
            .context("the store returned fewer replies than submissions")
    })
}

/// Prints one outcome line per item in input order, each command's from
/// `reply_for`, and empties `items`. Returns whether any line was refused or
/// malformed.
fn print_outcomes(
    items: &mut Vec<Item>,
    out: &mut impl Write,
    mut reply_for: impl FnMut(&mut Submission) -> Result<Reply>,
) -> Result<bool> {
    let mut refused = false;
    for item in items.drain(..) {
        let line = match item {
            Item::Command(mut submission) => {
                let reply = reply_for(&mut submission)?;
                refused |= !reply.outcome.is_accepted();
                reply_json(
                    submission.request_id,
                    reply.sequence,
                    reply.time,
                    reply.duplicate,
                    &reply.outcome,
                )
            }
            Item::Malformed { line, error } => {
                refused = true;
                rejection_json(line, &error)
            }
        };
        serde_json::to_writer(&mut *out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(refused)
}

/// The first key that appears twice in one JSON object of `line`, if any
/// (JSON parsers keep the last, which would hide a client's mistake).
/// Malformed JSON is left to the command parser to report.
fn repeated_key(line: &str) -> Option<String> {
    let mut deserializer = serde_json::Deserializer::from_str(line);
    match deserializer.deserialize_any(UniqueKeys) {
        Err(error) => error
            .to_string()
            .strip_prefix(REPEATED)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned),
        Ok(()) => None,
    }
}

/// The start of the error [`UniqueKeys`] raises.
const REPEATED: &str = "repeated key `";

/// Walks any JSON value and fails on the first object with a repeated key.
struct UniqueKeys;

impl<'de> Visitor<'de> for UniqueKeys {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!("{REPEATED}{key}`")));
            }
            map.next_value_seed(UniqueKeysSeed)?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(UniqueKeysSeed)?.is_some() {}
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// [`UniqueKeys`] for nested values.
struct UniqueKeysSeed;

impl<'de> serde::de::DeserializeSeed<'de> for UniqueKeysSeed {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(UniqueKeys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_key_is_named_at_any_depth() {
        assert_eq!(repeated_key(r#"{"a":1,"b":2,"a":3}"#), Some("a".to_owned()));
        assert_eq!(repeated_key(r#"{"a":{"x":1,"x":2}}"#), Some("x".to_owned()));
        assert_eq!(repeated_key(r#"{"a":[{"y":1},{"y":2}]}"#), None);
        assert_eq!(repeated_key(r#"{"a":1,"b":"a"}"#), None);
        assert_eq!(repeated_key("not json"), None);
    }
}
