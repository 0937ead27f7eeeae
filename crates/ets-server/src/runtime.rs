//! The tokio runtime `ets serve` runs on ([`runtime`]), and the settings a
//! bench may vary on it ([`RuntimeSettings`]).

/// The name of the runtime's worker threads (profiles and the HTTP bench
/// tell them from the sequencer's and the history writer's by it).
pub const WORKER_THREADS_NAME: &str = "ets-srv";

/// Settings of the server's runtime; the default is what `ets serve` uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuntimeSettings {
    /// Worker threads; `None`: one per CPU (tokio's default).
    pub workers: Option<usize>,
    /// Tasks a worker runs between two polls of its I/O driver; `None`: tokio's (61).
    pub event_interval: Option<u32>,
    /// Tasks a worker runs between two looks at the global queue; `None`: tokio's.
    /// (Turning off the LIFO slot needs tokio's unstable API, not built here.)
    pub global_queue_interval: Option<u32>,
}

/// A multi-threaded runtime with I/O and timers, built with `settings`.
///
/// # Errors
/// When the operating system refuses the threads or the I/O driver.
pub fn runtime(settings: RuntimeSettings) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.thread_name(WORKER_THREADS_NAME).enable_all();
    if let Some(workers) = settings.workers {
        builder.worker_threads(workers.max(1));
    }
    if let Some(interval) = settings.event_interval {
        builder.event_interval(interval.max(1));
    }
    if let Some(interval) = settings.global_queue_interval {
        builder.global_queue_interval(interval.max(1));
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runtime_with_every_setting_runs_a_task_on_a_named_worker() {
        let settings = RuntimeSettings {
            workers: Some(2),
            event_interval: Some(31),
            global_queue_interval: Some(17),
        };
        let runtime = runtime(settings).expect("runtime");
        let name = runtime.block_on(async {
            tokio::spawn(async { std::thread::current().name().map(str::to_owned) })
                .await
                .expect("task")
        });
        assert_eq!(name.as_deref(), Some(WORKER_THREADS_NAME));
    }
}
