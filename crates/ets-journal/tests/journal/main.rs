//! Integration tests of `ets-journal`, one module per concern, built as one test binary so that the
//! crate links once.

mod common;
mod properties;
mod read_ahead;
mod recovery;
mod round_trip;
mod snapshots;
