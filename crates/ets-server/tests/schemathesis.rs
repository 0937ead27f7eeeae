//! The API against its own OpenAPI document, fuzzed by schemathesis (from
//! PyPI, pinned) in a Python virtual environment under `target/` (made once,
//! then reused): a real server on 127.0.0.1 with a fresh store that holds a
//! few participants and accounts, an administrator's token, every check
//! schemathesis has, bounded in examples per operation and in time. The
//! event streams never end, so they are left out of the run (their routes
//! are still checked by the OpenAPI test in `api.rs`).

use ets_server::Role;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::bearer;

/// The schemathesis release the run is pinned to.
const SCHEMATHESIS: &str = "schemathesis==4.32.5";

/// Test cases per operation and phase: with the fixed seed, the same cases
/// on every run (schemathesis's own `--max-time` would instead repeat fuzzing
/// until the time is spent, so a faster machine would test more).
const EXAMPLES_PER_OPERATION: &str = "40";

/// The run's time budget: schemathesis is stopped, and the test fails, if it
/// has not finished by then.
const SECONDS_MAX: u64 = 240;

/// `target/` of this build: the test binary is `target/<profile>/deps/<name>`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.ancestors()
        .nth(3)
        .expect("target/<profile>/deps/<binary>")
        .to_path_buf()
}

fn run(command: &mut Command) {
    let output = command.output().expect("the command starts");
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The `st` executable of a virtual environment with schemathesis, made
/// (and schemathesis installed) when it is not there yet.
fn schemathesis() -> PathBuf {
    let venv = target_dir().join("schemathesis-venv");
    let st = venv.join("bin").join("st");
    let marker = venv.join(SCHEMATHESIS);
    if !marker.exists() {
        run(Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(&venv));
        run(Command::new(venv.join("bin").join("pip")).args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            SCHEMATHESIS,
        ]));
        std::fs::write(&marker, "installed\n").expect("marker written");
    }
    st
}

/// What schemathesis may expect beyond its defaults, with the reasons:
/// schema-valid commands may still break the engine's rules (`422`, e.g.
/// too few units), which is an answer to valid data, not a refusal of it.
const CONFIG: &str = r#"
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429", "503"]
"#;

fn config_file(dir: &Path) -> PathBuf {
    let path = dir.join("schemathesis.toml");
    std::fs::write(&path, CONFIG).expect("config written");
    path
}

/// Waits for `child` at most [`SECONDS_MAX`]; kills it and gives `None` if
/// it is still running then.
fn within_budget(child: &mut std::process::Child) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(SECONDS_MAX);
    loop {
        if let Some(status) = child.try_wait().expect("schemathesis waited for") {
            return Some(status);
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn the_api_keeps_its_openapi_contract_under_fuzzing() {
    // Goal: every answer schemathesis provokes is one the document
    // describes (status, content type, body schema, headers), no server
    // error, schema-invalid input refused, valid input not refused as
    // malformed; zero failures.
    let st = schemathesis();
    let server = common::start(&[("admin", 1, Role::Administrator)], |_, _| {});
    let admin = bearer(&server, "admin");
    // Existing participants, accounts and units, so reads and commands meet them too.
    common::plant_and_fund(&server, &admin);
    let reports = tempfile::tempdir().expect("temp dir");
    let junit = reports.path().join("junit.xml");
    let mut child = Command::new(&st)
        .arg("--config-file")
        .arg(config_file(reports.path()))
        .arg("run")
        .arg(format!("{}/api/openapi.json", server.base))
        .args(["--checks", "all"])
        .args(["--max-examples", EXAMPLES_PER_OPERATION])
        .args(["--exclude-path-regex", "^/api/stream/"])
        .args(["--workers", "1", "--seed", "1", "--no-color"])
        .args(["--continue-on-failure", "--request-timeout", "10"])
        .arg("--header")
        .arg(format!("Authorization: {admin}"))
        .args(["--report", "junit", "--report-junit-path"])
        .arg(&junit)
        .current_dir(reports.path())
        .stdout(std::process::Stdio::from(
            std::fs::File::create(reports.path().join("stdout.txt")).expect("stdout file"),
        ))
        .stderr(std::process::Stdio::from(
            std::fs::File::create(reports.path().join("stderr.txt")).expect("stderr file"),
        ))
        .spawn()
        .expect("schemathesis starts");
    let status = within_budget(&mut child);
    let read = |name: &str| std::fs::read_to_string(reports.path().join(name)).unwrap_or_default();
    let output = (status, read("stdout.txt"), read("stderr.txt"));
    let (status, stdout, stderr) = output;
    let junit_text = std::fs::read_to_string(&junit).unwrap_or_default();
    let status = status.unwrap_or_else(|| {
        panic!("schemathesis did not finish within {SECONDS_MAX} s:\n{stdout}\n{stderr}")
    });
    assert!(
        status.success() && junit_text.contains("failures=\"0\""),
        "schemathesis found contract failures (exit {:?}):\n{stdout}\n{stderr}",
        status.code(),
    );
    assert!(
        junit_text.contains("<testcase"),
        "schemathesis ran no test case:\n{stdout}"
    );
}
