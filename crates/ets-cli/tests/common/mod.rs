//! The small harness every integration test of the real `ets` binary shares.

use std::io::Write;
use std::path::{Path, PathBuf};
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

/// The last journal segment file of the store in `data`.
#[allow(dead_code)] // Not every test binary damages segments.
pub fn last_segment(data: &Path) -> PathBuf {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(data)
        .expect("store dir")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "seg"))
        .collect();
    segments.sort();
    segments.pop().expect("a segment")
}

/// Runs `ets ARGS` as [`run_ets`] does, asserts it succeeded (showing what it printed
/// when not) and returns its standard output.
#[allow(dead_code)] // Not every test binary needs a success.
pub fn succeeds(args: &[&str], stdin: &str) -> String {
    let output = run_ets(args, stdin);
    assert!(
        output.status.success(),
        "ets {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The password every test user gets.
#[allow(dead_code)] // Not every test binary adds users.
pub const PASSWORD: &str = "correct horse battery staple";

/// Adds user `name` (participant `participant`, role `role`, password [`PASSWORD`]) with
/// `ets user add FLAG DIR` (`--data` or `--users`) and returns its token from `ets user token`.
#[allow(dead_code)] // Not every test binary adds users.
pub fn add_user(flag: &str, dir: &str, name: &str, participant: u64, role: &str) -> String {
    let id = participant.to_string();
    let add = [
        "user",
        "add",
        flag,
        dir,
        "--name",
        name,
        "--participant",
        &id,
        "--role",
        role,
    ];
    succeeds(&add, &format!("{PASSWORD}\n"));
    succeeds(&["user", "token", flag, dir, "--name", name], "")
        .trim()
        .to_owned()
}
