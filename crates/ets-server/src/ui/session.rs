//! Web sessions: a random token in an `HttpOnly; SameSite=Strict` cookie,
//! kept server-side with the user's name and a per-session CSRF token that
//! every form carries in a hidden field. Sessions live in memory only: a
//! restarted server signs everyone out.

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The session cookie's name.
pub(crate) const COOKIE_NAME: &str = "ets_session";
/// How long a session lasts without use.
pub(crate) const IDLE_MAX: Duration = Duration::from_secs(12 * 60 * 60);
/// The most sessions one user holds at once; beyond, that user's least
/// recently used one ends. Per user, so signing in again and again ends only
/// one's own sessions; memory stays bounded because users are
/// (`USERS_MAX` of them).
pub(crate) const SESSIONS_PER_USER_MAX: usize = 16;
/// Random bytes in a session token and in a CSRF token.
const TOKEN_BYTES: usize = 32;

/// A signed-in browser.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// The user's name (the principal is looked up again on every request).
    pub(crate) user: String,
    /// The token forms must carry.
    pub(crate) csrf: String,
    last_used: Instant,
}

/// The sessions of a running server.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    by_token: Mutex<HashMap<String, Session>>,
}

/// The operating system gave no random bytes.
#[derive(Debug, thiserror::Error)]
#[error("no randomness available: {0}")]
pub(crate) struct NoRandomness(String);

/// A fresh random token: 32 bytes in base64url without padding.
pub(crate) fn random_token() -> Result<String, NoRandomness> {
    let mut bytes = [0_u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(|error| NoRandomness(error.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// A fresh form nonce: the request id of the command the form will send.
/// From 2^62 up, away from the small sequential ids API clients tend to use;
/// below 2^63 so any JSON reader keeps it exact enough to compare. The wall
/// clock's seconds come first, then 20 random bits and 8 bits for the page's
/// forms: a requester's ids increase from one second to the next, as bounded
/// retention asks (docs/memory.md).
pub(crate) fn random_request_id() -> Result<u64, NoRandomness> {
    let mut bytes = [0_u8; 8];
    getrandom::fill(&mut bytes).map_err(|error| NoRandomness(error.to_string()))?;
    let random = u64::from_le_bytes(bytes) & ((1_u64 << 20) - 1);
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
        & ((1_u64 << 34) - 1);
    Ok((1_u64 << 62) | (seconds << 28) | (random << 8))
}

impl Sessions {
    /// Starts a session for `user`; gives its cookie token.
    pub(crate) fn start(&self, user: &str) -> Result<String, NoRandomness> {
        let token = random_token()?;
        let session = Session {
            user: user.to_owned(),
            csrf: random_token()?,
            last_used: Instant::now(),
        };
        let mut sessions = self.by_token.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        sessions.retain(|_, session| now.duration_since(session.last_used) < IDLE_MAX);
        let own = || sessions.iter().filter(|(_, session)| session.user == user);
        if own().count() >= SESSIONS_PER_USER_MAX {
            let oldest = own()
                .min_by_key(|(_, session)| session.last_used)
                .map(|(token, _)| token.clone());
            if let Some(oldest) = oldest {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(token.clone(), session);
        Ok(token)
    }

    /// The live session of a cookie token, marked as used now.
    pub(crate) fn get(&self, token: &str) -> Option<Session> {
        let mut sessions = self.by_token.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let session = sessions.get_mut(token)?;
        if now.duration_since(session.last_used) >= IDLE_MAX {
            sessions.remove(token);
            return None;
        }
        session.last_used = now;
        Some(session.clone())
    }

    /// Ends a session.
    pub(crate) fn end(&self, token: &str) {
        self.by_token
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(token);
    }
}

/// The session token in the request's `Cookie` headers, if any.
pub(crate) fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim().to_owned())
}

/// The `Set-Cookie` value that hands a session to the browser (`Secure`
/// when the server speaks HTTPS, so the browser never sends it in clear).
pub(crate) fn set_cookie(token: &str, https: bool) -> String {
    format!(
        "{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        IDLE_MAX.as_secs(),
        secure(https)
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub(crate) fn clear_cookie(https: bool) -> String {
    format!(
        "{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        secure(https)
    )
}

fn secure(https: bool) -> &'static str {
    if https { "; Secure" } else { "" }
}

/// Compares without stopping at the first difference.
pub(crate) fn same_secret(left: &str, right: &str) -> bool {
    let (left, right) = (left.as_bytes(), right.as_bytes());
    if left.len() != right.len() {
        return false;
    }
    let difference = left
        .iter()
        .zip(right)
        .fold(0_u8, |acc, (l, r)| acc | (l ^ r));
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_cookie_is_secure_exactly_when_the_server_speaks_https() {
        assert!(!set_cookie("t", false).contains("Secure"));
        assert!(set_cookie("t", true).ends_with("; Secure"));
        assert!(clear_cookie(true).contains("Max-Age=0; Secure"));
        assert!(set_cookie("t", false).contains("HttpOnly; SameSite=Strict"));
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        // Goal: the token is read from any Cookie header, beside other cookies.
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; ets_session=abc"),
        );
        assert_eq!(cookie_token(&headers).as_deref(), Some("abc"));
        let mut none = HeaderMap::new();
        none.append(header::COOKIE, HeaderValue::from_static("ets_sessionx=1"));
        assert_eq!(cookie_token(&none), None);
    }

    #[test]
    fn sessions_start_find_and_end() {
        // Goal: a started session is found by its token until it is ended.
        let sessions = Sessions::default();
        let token = sessions.start("alice").unwrap();
        let session = sessions.get(&token).unwrap();
        assert_eq!(session.user, "alice");
        assert_eq!(session.csrf.len(), 43);
        assert!(sessions.get("other").is_none());
        sessions.end(&token);
        assert!(sessions.get(&token).is_none());
    }

    #[test]
    fn signing_in_many_times_ends_only_ones_own_oldest_sessions() {
        // Goal: the attack: one user signing in again and again no
        // longer signs everyone else out.
        let sessions = Sessions::default();
        let other = sessions.start("bob").unwrap();
        let first = sessions.start("alice").unwrap();
        for _ in 0..SESSIONS_PER_USER_MAX * 3 {
            sessions.start("alice").unwrap();
        }
        assert!(sessions.get(&other).is_some());
        assert!(sessions.get(&first).is_none());
        let count = sessions.by_token.lock().unwrap().len();
        assert_eq!(count, SESSIONS_PER_USER_MAX + 1);
    }

    #[test]
    fn form_request_ids_stay_between_two_to_the_62_and_63() {
        // Goal: UI request ids never collide with small API ids and fit in i64.
        for _ in 0..100 {
            let id = random_request_id().unwrap();
            assert!((1_u64 << 62..1_u64 << 63).contains(&id), "{id}");
        }
    }

    #[test]
    fn form_request_ids_increase_from_one_second_to_the_next() {
        // Goal: under bounded retention a requester's ids must increase; the
        // seconds lead, so a later page's ids are above an earlier second's.
        let now = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
        };
        let before = now();
        let id = random_request_id().unwrap();
        let after = now();
        let seconds = (id >> 28) & ((1_u64 << 34) - 1);
        assert!((before..=after).contains(&seconds), "{seconds}");
        let earlier_second_highest =
            (1_u64 << 62) | ((seconds - 1) << 28) | (((1 << 20) - 1) << 8) | 255;
        assert!(id > earlier_second_highest);
    }
}
