//! CPU time spent by the server and by the bench's client while the bench
//! measures, read from Linux's `/proc` (user + system time, in the kernel's
//! fixed 1/100 s ticks): a server in its own process by its process id, the
//! bench's own server by the names of its threads. Elsewhere: no figure.

use std::path::Path;

/// The kernel's unit of `utime` and `stime` in `/proc/*/stat` (`USER_HZ`,
/// 100 on every Linux architecture's ABI).
const TICKS_PER_SECOND: f64 = 100.0;

/// The user and system seconds of the `/proc/.../stat` file at `path`.
fn stat_seconds(path: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(path).ok()?;
    // The command name may hold spaces and parentheses: fields follow the last ')'.
    let after = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    #[expect(clippy::cast_precision_loss, reason = "ticks far below 2^52")]
    Some((user + system) as f64 / TICKS_PER_SECOND)
}

/// The CPU seconds process `pid` has used so far.
#[must_use]
pub fn process_seconds(pid: u32) -> Option<f64> {
    stat_seconds(&Path::new("/proc").join(pid.to_string()).join("stat"))
}

/// The CPU seconds used so far by the threads of this process whose names
/// start with one of `prefixes` (threads that ended are not counted).
#[must_use]
pub fn threads_seconds(prefixes: &[&str]) -> Option<f64> {
    let mut total = 0.0;
    for entry in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let name = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if prefixes.iter().any(|prefix| name.starts_with(prefix)) {
            total += stat_seconds(&entry.path().join("stat")).unwrap_or(0.0);
        }
    }
    Some(total)
}

/// The CPU seconds used so far by the threads of this process other than
/// its main thread and those whose names start with one of `prefixes`
/// (threads that ended are not counted): the bench's own server, whatever
/// threads it starts and however they are named.
#[must_use]
pub fn threads_seconds_except(prefixes: &[&str]) -> Option<f64> {
    let main = std::process::id().to_string();
    let mut total = 0.0;
    for entry in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        if entry.file_name().to_str() == Some(main.as_str()) {
            continue;
        }
        let name = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if !prefixes.iter().any(|prefix| name.starts_with(prefix)) {
            total += stat_seconds(&entry.path().join("stat")).unwrap_or(0.0);
        }
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_cpu_time_and_a_named_thread_is_found() {
        if !Path::new("/proc/self/stat").exists() {
            return;
        }
        let spun = std::thread::Builder::new()
            .name("cpu-probe".into())
            .spawn(|| threads_seconds(&["cpu-probe"]))
            .unwrap()
            .join()
            .unwrap();
        assert!(spun.is_some_and(|seconds| seconds >= 0.0));
        assert_eq!(threads_seconds(&["no thread is named so"]), Some(0.0));
        let busy = std::thread::Builder::new()
            .name("cpu-busy".into())
            .spawn(|| {
                // Spins until the kernel has counted a tick of CPU time on this thread.
                let mine = || threads_seconds(&["cpu-busy"]).unwrap_or(0.0);
                while mine() == 0.0 {}
                // Read in this order, so `all` counts at least `others` and `mine`.
                let spun = mine();
                let others = threads_seconds_except(&["cpu-busy"]).unwrap_or(0.0);
                let all = threads_seconds_except(&[]).unwrap_or(0.0);
                (spun, others, all)
            })
            .unwrap()
            .join()
            .unwrap();
        let (mine, others, all) = busy;
        assert!(mine > 0.0);
        assert!(
            all >= others + mine - 1e-9,
            "every thread but the main one ({all} s) counts the busy thread ({mine} s) beside the others ({others} s)"
        );
        assert!(process_seconds(std::process::id()).is_some());
        assert_eq!(process_seconds(u32::MAX), None);
    }
}
