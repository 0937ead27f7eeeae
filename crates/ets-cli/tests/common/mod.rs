//! The small harness every integration test of the real `ets` binary shares.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `ets ARGS`, writing `stdin` to its standard input, and returns what it printed.
pub fn run_ets(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ets"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ets starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("stdin accepts the input");
    child.wait_with_output().expect("ets finishes")
}
