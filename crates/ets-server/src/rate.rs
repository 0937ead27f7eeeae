//! Per-user rate limits: every authenticated request of the JSON API spends
//! one request and its body's bytes from two token buckets of its user. An
//! empty bucket answers `429 rate_limited` with `Retry-After`, and the request
//! never reaches the sequencer, so one user cannot fill the queue or the
//! journal for everyone else. Time is the server's monotonic clock.

use ets_api::{Refusal, RefusalCode};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How fast each user may send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimitConfig {
    /// Requests a user may send per second, sustained.
    pub requests_per_second: f64,
    /// Requests a user may send at once after being idle.
    pub requests_burst: f64,
    /// Body bytes a user may send per second, sustained.
    pub bytes_per_second: f64,
    /// Body bytes a user may send at once after being idle.
    pub bytes_burst: f64,
    /// The most users tracked; beyond, the buckets start afresh (bounded
    /// memory; users are bounded by the users file anyway).
    pub users_max: usize,
}

impl Default for RateLimitConfig {
    /// 5,000 requests/s (bursts of 10,000) and 16 MiB/s (bursts of 32 MiB)
    /// per user: far above what one person or the benchmark's clients send
    /// per user, far below what fills the journal (the attack sent
    /// 128 MiB in a second).
    fn default() -> RateLimitConfig {
        RateLimitConfig {
            requests_per_second: 5_000.0,
            requests_burst: 10_000.0,
            bytes_per_second: 16.0 * 1024.0 * 1024.0,
            bytes_burst: 32.0 * 1024.0 * 1024.0,
            users_max: 100_000,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Buckets {
    requests: f64,
    bytes: f64,
    refilled: Instant,
}

/// The buckets of every user of a running server.
#[derive(Debug)]
pub struct RateLimiter {
    config: RateLimitConfig,
    users: Mutex<HashMap<String, Buckets>>,
}

impl Default for RateLimiter {
    fn default() -> RateLimiter {
        RateLimiter::new(RateLimitConfig::default())
    }
}

impl RateLimiter {
    /// Full buckets for everyone.
    #[must_use]
    pub fn new(config: RateLimitConfig) -> RateLimiter {
        RateLimiter {
            config,
            users: Mutex::new(HashMap::new()),
        }
    }

    /// Spends one request and `bytes` of `user`'s buckets at `now`.
    ///
    /// # Errors
    /// `rate_limited` with how long to wait, when either bucket lacks them
    /// (nothing is spent then).
    pub fn spend_at(
        &self,
        user: &str,
        bytes: u64,
        now: Instant,
    ) -> Result<(), (Refusal, Duration)> {
        let config = &self.config;
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        if !users.contains_key(user) {
            if users.len() >= config.users_max {
                users.clear();
            }
            // The name is copied once per user, not per request.
            users.insert(
                user.to_owned(),
                Buckets {
                    requests: config.requests_burst,
                    bytes: config.bytes_burst,
                    refilled: now,
                },
            );
        }
        let Some(buckets) = users.get_mut(user) else {
            unreachable!("the user's buckets were just inserted");
        };
        let elapsed = now
            .saturating_duration_since(buckets.refilled)
            .as_secs_f64();
        buckets.requests =
            (buckets.requests + elapsed * config.requests_per_second).min(config.requests_burst);
        buckets.bytes = (buckets.bytes + elapsed * config.bytes_per_second).min(config.bytes_burst);
        buckets.refilled = now;
        // A body larger than the whole burst could never pass: such bodies
        // are refused by the size limits before this, so cap the cost.
        #[allow(clippy::cast_precision_loss)]
        let cost = (bytes as f64).min(config.bytes_burst);
        let missing_requests = (1.0 - buckets.requests).max(0.0);
        let missing_bytes = (cost - buckets.bytes).max(0.0);
        if missing_requests == 0.0 && missing_bytes == 0.0 {
            buckets.requests -= 1.0;
            buckets.bytes -= cost;
            return Ok(());
        }
        let wait_seconds = (missing_requests / config.requests_per_second)
            .max(missing_bytes / config.bytes_per_second);
        let wait = Duration::from_secs_f64(wait_seconds.clamp(0.001, 3_600.0));
        let refusal = Refusal::new(
            RefusalCode::RateLimited,
            format!(
                "user {user} sends faster than {} requests or {} bytes per second; retry after {} ms",
                config.requests_per_second,
                config.bytes_per_second,
                wait.as_millis()
            ),
        );
        Err((refusal, wait))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> RateLimiter {
        RateLimiter::new(RateLimitConfig {
            requests_per_second: 10.0,
            requests_burst: 3.0,
            bytes_per_second: 100.0,
            bytes_burst: 1_000.0,
            users_max: 10,
        })
    }

    #[test]
    fn a_user_beyond_its_burst_waits_and_others_are_unaffected() {
        // Goal: the fourth request at once is refused with the time until one
        // request refills; another user is not affected; after the wait it passes.
        let limiter = limiter();
        let now = Instant::now();
        for _ in 0..3 {
            assert!(limiter.spend_at("alice", 0, now).is_ok());
        }
        let (refusal, wait) = limiter.spend_at("alice", 0, now).unwrap_err();
        assert_eq!(refusal.code, RefusalCode::RateLimited);
        assert_eq!(wait, Duration::from_millis(100));
        assert!(limiter.spend_at("bob", 0, now).is_ok());
        assert!(limiter.spend_at("alice", 0, now + wait).is_ok());
    }

    #[test]
    fn bytes_are_limited_like_requests() {
        // Goal: large bodies use up the byte bucket before the request one.
        let limiter = limiter();
        let now = Instant::now();
        assert!(limiter.spend_at("alice", 900, now).is_ok());
        let (_, wait) = limiter.spend_at("alice", 900, now).unwrap_err();
        assert_eq!(wait, Duration::from_secs(8));
    }
}
