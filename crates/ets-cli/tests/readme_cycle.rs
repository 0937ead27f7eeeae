//! The README's compliance cycle, run literally: every `ets` line of its
//! marked code block, as written, in a fresh directory holding copies of the
//! repository's `examples/` and `schemes/`.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `ets` lines of the README block that follows the `readme-cycle` marker.
fn readme_lines() -> Vec<String> {
    let readme = std::fs::read_to_string(repository().join("README.md")).expect("README.md");
    let after = readme
        .split_once("<!-- readme-cycle:")
        .expect("the README marks its compliance cycle")
        .1;
    let block = after
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .expect("a sh code block after the marker")
        .0;
    block
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("ets "))
        .map(str::to_owned)
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

#[test]
fn the_readme_compliance_cycle_works_as_written_on_a_fresh_directory() {
    // Goal: a new user who types the README's lines gets the cycle the README
    // describes: every step succeeds, the late surrender is refused, and the
    // report shows the coal plant short and the gas plant compliant.
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&repository().join("examples"), &dir.path().join("examples"));
    copy_dir(&repository().join("schemes"), &dir.path().join("schemes"));
    let lines = readme_lines();
    assert!(lines.len() >= 8, "{lines:?}");
    let mut printed = Vec::new();
    for line in &lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        let output = Command::new(env!("CARGO_BIN_EXE_ets"))
            .args(&words[1..])
            .current_dir(dir.path())
            .output()
            .expect("ets runs");
        assert!(
            output.status.success(),
            "`{line}` failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        printed.push(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let surrenders = printed
        .iter()
        .zip(&lines)
        .find(|(_, line)| line.contains("surrenders.jsonl"))
        .map(|(out, _)| out)
        .expect("the README surrenders");
    let outcomes: Vec<Value> = surrenders
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON"))
        .collect();
    assert_eq!(outcomes[0]["ok"], true, "{outcomes:?}");
    assert_eq!(outcomes[1]["ok"], true, "{outcomes:?}");
    assert_eq!(outcomes[2]["code"], "surrender_after_deadline");
    assert_eq!(
        outcomes[0]["time"], "2023-11-10T02:00:00Z",
        "stamped with the import's date"
    );
    let report = printed.last().expect("the report");
    let coal = report
        .lines()
        .find(|row| row.contains("76120") || row.contains("76,120"));
    assert!(
        coal.is_some_and(|row| row.contains("shortfall")),
        "{report}"
    );
    assert!(report.contains("compliant"), "{report}");
    assert!(
        report.contains("NOT LIVE"),
        "every view of an import store says so: {report}"
    );
}
