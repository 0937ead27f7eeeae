//! Throttling of failed sign-ins. Failures are counted per user name and per
//! client address in a fixed window that starts at the first failure; once a
//! user has [`ThrottleConfig::user_failures_max`] failures (or an address
//! [`ThrottleConfig::address_failures_max`]) in the window, further attempts
//! are refused with `429 too_many_failures` and `Retry-After` until the
//! window ends, without checking the credentials (so no argon2 work either).
//! A successful sign-in clears its own user name's count only: never the
//! address's, so one valid credential cannot reset the count of guesses at
//! other names from the same address. Time is the server's monotonic clock.
//!
//! Any sign-in path calls, in order: [`check`] before verifying,
//! then [`record_failure`] or [`record_success`]. Token checks count against
//! the address only (a token names no user before it is verified).

use crate::http::{ServerState, error};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How many failures are allowed, and for how long they count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Failed sign-ins of one user name allowed in a window.
    pub user_failures_max: u32,
    /// Failed sign-ins or token checks from one client address allowed in a window.
    pub address_failures_max: u32,
    /// How long failures count, from the first one.
    pub window: Duration,
    /// The most users and addresses tracked; beyond this the oldest windows
    /// are dropped (bounded memory under a flood of made-up names).
    pub entries_max: usize,
}

impl Default for ThrottleConfig {
    fn default() -> ThrottleConfig {
        ThrottleConfig {
            user_failures_max: 5,
            address_failures_max: 20,
            window: Duration::from_secs(60),
            entries_max: 65_536,
        }
    }
}

/// A refused attempt: when to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// How long until the window ends.
    pub retry_after: Duration,
}

impl Throttled {
    /// `429 too_many_failures` with `Retry-After` in whole seconds (at least 1).
    #[must_use]
    pub fn response(&self) -> Response {
        let seconds = self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0);
        let seconds = seconds.max(1);
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_failures",
            format!("too many failed sign-ins; try again in {seconds} s"),
        );
        if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Address(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Window {
    first: Instant,
    failures: u32,
}

/// The failure counts of a running server.
#[derive(Debug)]
pub struct Throttle {
    config: ThrottleConfig,
    windows: Mutex<HashMap<Key, Window>>,
}

impl Default for Throttle {
    fn default() -> Throttle {
        Throttle::new(ThrottleConfig::default())
    }
}

fn keys(user: Option<&str>, address: Option<IpAddr>) -> impl Iterator<Item = Key> {
    user.map(|name| Key::User(name.to_owned()))
        .into_iter()
        .chain(address.map(Key::Address))
}

impl Throttle {
    /// No failures yet.
    #[must_use]
    pub fn new(config: ThrottleConfig) -> Throttle {
        Throttle {
            config,
            windows: Mutex::new(HashMap::new()),
        }
    }

    fn limit(&self, key: &Key) -> u32 {
        match key {
            Key::User(_) => self.config.user_failures_max,
            Key::Address(_) => self.config.address_failures_max,
        }
    }

    /// Whether an attempt by `user` from `address` may go ahead at `now`.
    ///
    /// # Errors
    /// [`Throttled`] when either has used up its failures in the current window.
    pub fn check_at(
        &self,
        user: Option<&str>,
        address: Option<IpAddr>,
        now: Instant,
    ) -> Result<(), Throttled> {
        let windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if windows.is_empty() {
            return Ok(());
        }
        let mut wait = None;
        for key in keys(user, address) {
            if let Some(window) = windows.get(&key) {
                let elapsed = now.saturating_duration_since(window.first);
                if window.failures >= self.limit(&key) && elapsed < self.config.window {
                    let remaining = self.config.window - elapsed;
                    wait = Some(wait.map_or(remaining, |other: Duration| other.max(remaining)));
                }
            }
        }
        match wait {
            Some(retry_after) => Err(Throttled { retry_after }),
            None => Ok(()),
        }
    }

    /// Counts a failed attempt at `now`.
    pub fn record_failure_at(&self, user: Option<&str>, address: Option<IpAddr>, now: Instant) {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        for key in keys(user, address) {
            if !windows.contains_key(&key) && windows.len() >= self.config.entries_max {
                self.make_room(&mut windows, now);
            }
            let window = windows.entry(key).or_insert(Window {
                first: now,
                failures: 0,
            });
            if now.saturating_duration_since(window.first) >= self.config.window {
                *window = Window {
                    first: now,
                    failures: 0,
                };
            }
            window.failures = window.failures.saturating_add(1);
        }
    }

    /// Clears the count of `user` after a successful attempt by that user;
    /// the address keeps its count.
    pub fn record_success(&self, user: Option<&str>, _address: Option<IpAddr>) {
        let Some(user) = user else {
            return;
        };
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if windows.is_empty() {
            return;
        }
        windows.remove(&Key::User(user.to_owned()));
    }

    /// Drops ended windows; if none ended, the oldest one.
    fn make_room(&self, windows: &mut HashMap<Key, Window>, now: Instant) {
        let window = self.config.window;
        windows.retain(|_, w| now.saturating_duration_since(w.first) < window);
        if windows.len() >= self.config.entries_max
            && let Some(oldest) = windows
                .iter()
                .min_by_key(|(_, w)| w.first)
                .map(|(key, _)| key.clone())
        {
            windows.remove(&oldest);
        }
    }
}

/// Whether a sign-in by `user` (a name, when the attempt names one) from
/// `address` may be checked now.
///
/// # Errors
/// [`Throttled`] (answer it with [`Throttled::response`]) when the user or
/// the address has too many recent failures.
pub fn check(
    state: &ServerState,
    user: Option<&str>,
    address: Option<IpAddr>,
) -> Result<(), Throttled> {
    state.throttle.check_at(user, address, Instant::now())
}

/// Counts a failed sign-in or token check by `user` from `address`.
pub fn record_failure(state: &ServerState, user: Option<&str>, address: Option<IpAddr>) {
    state
        .throttle
        .record_failure_at(user, address, Instant::now());
}

/// Clears the failures of `user` and `address` after a successful sign-in.
pub fn record_success(state: &ServerState, user: Option<&str>, address: Option<IpAddr>) {
    state.throttle.record_success(user, address);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> Throttle {
        Throttle::new(ThrottleConfig {
            user_failures_max: 3,
            address_failures_max: 5,
            window: Duration::from_secs(60),
            entries_max: 4,
        })
    }

    #[test]
    fn a_user_is_refused_after_too_many_failures_until_the_window_ends() {
        let throttle = throttle();
        let start = Instant::now();
        let address: IpAddr = [10, 0, 0, 1].into();
        for _ in 0..3 {
            assert_eq!(
                throttle.check_at(Some("admin"), Some(address), start),
                Ok(())
            );
            throttle.record_failure_at(Some("admin"), Some(address), start);
        }
        let refused = throttle.check_at(Some("admin"), None, start + Duration::from_secs(10));
        assert_eq!(
            refused,
            Err(Throttled {
                retry_after: Duration::from_secs(50)
            })
        );
        // Another user from another address is not affected.
        assert_eq!(
            throttle.check_at(Some("other"), Some([10, 0, 0, 2].into()), start),
            Ok(())
        );
        // The window ends.
        assert_eq!(
            throttle.check_at(Some("admin"), None, start + Duration::from_secs(60)),
            Ok(())
        );
    }

    #[test]
    fn an_address_is_refused_after_its_own_limit_and_a_success_does_not_clear_it() {
        // Goal: the attack of the issue: guesses at other names from one
        // address, interleaved with sign-ins by a valid user, still reach the
        // address's limit.
        let throttle = Throttle::new(ThrottleConfig {
            entries_max: 100,
            ..throttle().config
        });
        let now = Instant::now();
        let address: IpAddr = [10, 0, 0, 1].into();
        for name in ["a", "b", "c", "d", "e"] {
            throttle.record_failure_at(Some(name), Some(address), now);
        }
        assert!(throttle.check_at(Some("f"), Some(address), now).is_err());
        throttle.record_success(Some("f"), Some(address));
        assert!(throttle.check_at(Some("f"), Some(address), now).is_err());
        throttle.record_failure_at(Some("a"), None, now);
        throttle.record_failure_at(Some("a"), None, now);
        throttle.record_success(Some("a"), None);
        assert_eq!(throttle.check_at(Some("a"), None, now), Ok(()));
    }

    #[test]
    fn memory_stays_bounded_under_made_up_names() {
        let throttle = throttle();
        let now = Instant::now();
        for index in 0..100 {
            throttle.record_failure_at(Some(&format!("user{index}")), None, now);
        }
        let windows = throttle.windows.lock().expect("not poisoned");
        assert!(windows.len() <= 4, "{}", windows.len());
    }
}
