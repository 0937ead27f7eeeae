//! The server's clock: what the sequencer stamps commands with, what reads
//! take as "now" and what the sequencer's timer (`Job::Tick`) checks
//! deadlines against. It is server configuration, never a client's: no
//! request can set or move it. `ets serve` runs on the wall clock; a test or
//! a demonstration may start the clock at another instant, from which it
//! runs at the wall clock's pace.

use ets_model::Timestamp;
use std::time::Duration;

/// How often the sequencer's timer looks for time-driven events (a
/// deadline's window opening) when no command arrives, by default.
pub const TICK_DEFAULT: Duration = Duration::from_secs(60);

/// The shortest timer interval: a shorter one is taken as this.
pub const TICK_MIN: Duration = Duration::from_millis(10);

/// The server's clock: the wall clock moved by a fixed offset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerClock {
    /// Milliseconds added to the wall clock (0: the wall clock itself).
    offset_ms: i64,
}

impl ServerClock {
    /// The wall clock (what `ets serve` uses).
    #[must_use]
    pub fn wall() -> ServerClock {
        ServerClock::default()
    }

    /// A clock that reads `start` now and then runs at the wall clock's pace
    /// (for tests and demonstrations of time-driven events).
    #[must_use]
    pub fn starting_at(start: Timestamp) -> ServerClock {
        ServerClock {
            offset_ms: start.0.saturating_sub(ets_store::wall_clock_now().0),
        }
    }

    /// The time now, milliseconds since the Unix epoch.
    #[must_use]
    pub fn now(&self) -> Timestamp {
        Timestamp(ets_store::wall_clock_now().0.saturating_add(self.offset_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_started_clock_reads_its_start_and_runs_forward() {
        let start = Timestamp(1_900_000_000_000);
        let clock = ServerClock::starting_at(start);
        let first = clock.now();
        assert!(first >= start, "{first:?}");
        assert!(clock.now() >= first);
        let before = ets_store::wall_clock_now();
        let wall = ServerClock::wall().now();
        assert!(wall >= before && wall <= ets_store::wall_clock_now());
    }
}
