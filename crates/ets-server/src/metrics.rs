//! Prometheus metrics, served as text at `/metrics`: requests by route, method
//! and status with their latency; the sequencer's batch sizes and commit
//! latency (from a batch's hand-over to the store's pipelined group commit
//! to its acknowledgement: apply, journal write and fsync, and the wait for
//! the batch before it); the queue
//! depth; the journal's size in bytes and records.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::borrow::Cow;
use std::time::Duration;

/// The labels of a request counter. The route and method are static
/// strings for the API's routes, so counting a request allocates nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    /// The route as registered (`/api/accounts/{id}`), or `unmatched`.
    route: Cow<'static, str>,
    method: &'static str,
    status: u16,
}

/// The labels of a request latency histogram.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    route: Cow<'static, str>,
}

type HistogramConstructor = fn() -> Histogram;

fn request_latency_histogram() -> Histogram {
    // 100 µs to about 3.3 s.
    Histogram::new(exponential_buckets(0.000_1, 2.0, 16))
}

/// Every metric of the server, with the registry that encodes them.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_duration: Family<RouteLabels, Histogram, HistogramConstructor>,
    batch_size: Histogram,
    commit_duration: Histogram,
    store_faults: Counter,
    /// The fault that stops the store now (1 in `ets_store_faulted`), if any.
    store_fault: std::sync::Mutex<Option<crate::sequencer::Fault>>,
    store_faulted: Gauge,
    queue_depth: Gauge,
    journal_size: Gauge,
    journal_records: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// Creates the metrics, all at zero, and registers them.
    #[must_use]
    pub fn new() -> Metrics {
        let mut metrics = Metrics {
            registry: Registry::default(),
            requests: Family::default(),
            request_duration: Family::new_with_constructor(request_latency_histogram),
            // 1 to 16,384 commands.
            batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 15)),
            // 50 µs to about 1.6 s.
            commit_duration: Histogram::new(exponential_buckets(0.000_05, 2.0, 16)),
            store_faults: Counter::default(),
            store_fault: std::sync::Mutex::new(None),
            store_faulted: Gauge::default(),
            queue_depth: Gauge::default(),
            journal_size: Gauge::default(),
            journal_records: Gauge::default(),
        };
        metrics.register();
        metrics
    }

    /// Registers every metric with its name and help, in the order they are
    /// encoded.
    fn register(&mut self) {
        let registry = &mut self.registry;
        registry.register(
            "ets_http_requests",
            "HTTP requests answered, by route, method and status",
            self.requests.clone(),
        );
        registry.register(
            "ets_http_request_duration_seconds",
            "Time from receiving a request to having its response, by route",
            self.request_duration.clone(),
        );
        registry.register(
            "ets_batch_size_commands",
            "Commands made durable by one group commit",
            self.batch_size.clone(),
        );
        registry.register(
            "ets_commit_duration_seconds",
            "Time of one group commit, from hand-over to acknowledgement: apply, journal append, fsync and the wait for the batch before",
            self.commit_duration.clone(),
        );
        registry.register(
            "ets_store_faults",
            "Group commits that failed with a store fault",
            self.store_faults.clone(),
        );
        registry.register(
            "ets_store_faulted",
            "1 while a fault stops the store from accepting writes, else 0",
            self.store_faulted.clone(),
        );
        registry.register(
            "ets_queue_depth_jobs",
            "Jobs waiting for the sequencer when scraped",
            self.queue_depth.clone(),
        );
        registry.register(
            "ets_journal_size_bytes",
            "Committed bytes across all journal segment files",
            self.journal_size.clone(),
        );
        registry.register(
            "ets_journal_records",
            "Committed records in the journal's segment files",
            self.journal_records.clone(),
        );
    }

    /// Counts one answered request and its latency. `route` is the route as
    /// registered (borrowed for the API's, which are static), `method` one of
    /// a fixed set, so a client cannot grow the label set at will.
    pub fn observe_request(
        &self,
        route: Cow<'static, str>,
        method: &'static str,
        status: u16,
        latency: Duration,
    ) {
        let route = RouteLabels { route };
        self.request_duration
            .get_or_create(&route)
            .observe(latency.as_secs_f64());
        self.requests
            .get_or_create(&RequestLabels {
                route: route.route,
                method,
                status,
            })
            .inc();
    }

    /// Records one group commit of `commands` commands that took `latency`.
    pub fn observe_commit(&self, commands: usize, latency: Duration) {
        // Exact: batch sizes are bounded by the sequencer's batch_max, far below 2^52.
        self.batch_size.observe(commands as f64);
        self.commit_duration.observe(latency.as_secs_f64());
    }

    /// Counts a group commit that failed with a store fault.
    pub fn observe_store_fault(&self) {
        self.store_faults.inc();
    }

    /// How many group commits failed with a store fault since the server started.
    #[must_use]
    pub fn store_faults(&self) -> u64 {
        self.store_faults.get()
    }

    /// Records the fault that stops the store now, or `None` once it accepts writes again.
    pub fn set_store_fault(&self, fault: Option<crate::sequencer::Fault>) {
        self.store_faulted.set(i64::from(fault.is_some()));
        *self
            .store_fault
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = fault;
    }

    /// The fault that stops the store now, if any.
    #[must_use]
    pub fn store_fault(&self) -> Option<crate::sequencer::Fault> {
        self.store_fault
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Sets the journal's committed size and record count.
    pub fn set_journal(&self, size_bytes: u64, records: u64) {
        self.journal_size
            .set(i64::try_from(size_bytes).unwrap_or(i64::MAX));
        self.journal_records
            .set(i64::try_from(records).unwrap_or(i64::MAX));
    }

    /// Counts `records` more committed journal records, before their replies
    /// leave (the size follows at the end of the pipelined run, with
    /// [`Metrics::set_journal`]).
    pub fn add_journal_records(&self, records: usize) {
        self.journal_records
            .inc_by(i64::try_from(records).unwrap_or(i64::MAX));
    }

    /// Sets the number of jobs waiting in the queue.
    pub fn set_queue_depth(&self, jobs: usize) {
        self.queue_depth
            .set(i64::try_from(jobs).unwrap_or(i64::MAX));
    }

    /// The metrics in the Prometheus text exposition format.
    ///
    /// # Errors
    /// [`std::fmt::Error`] if encoding fails (it writes to a `String`, so only
    /// on a bug in the encoder).
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}
