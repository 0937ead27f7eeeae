//! Refusal codes: every code the API answers with, as one enum with a stable
//! snake_case string and the HTTP status that goes with it. The JSON API, the
//! event streams and the web UI all take the status from here, so the same
//! refusal never gets two statuses. The engine's rejections carry their code
//! as text; [`status_of_code`] maps them through the same table.

use std::fmt;

macro_rules! refusal_codes {
    (
        api { $( $(#[$doc:meta])* $variant:ident = $text:literal => $status:literal, )* }
        engine { $( $(#[$edoc:meta])* $evariant:ident = $etext:literal => $estatus:literal, )* }
    ) => {
        /// A stable refusal code. Its string form ([`RefusalCode::as_str`]) is
        /// what clients see in `code`; it never changes once released.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum RefusalCode {
            $( $(#[$doc])* $variant, )*
            $( $(#[$edoc])* $evariant, )*
        }

        impl RefusalCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [RefusalCode] =
                &[$(RefusalCode::$variant,)* $(RefusalCode::$evariant,)*];

            /// The codes of the engine's rejections (a command's outcome).
            pub const ENGINE: &'static [RefusalCode] = &[$(RefusalCode::$evariant,)*];

            /// The code as clients see it.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self {
                    $(RefusalCode::$variant => $text,)*
                    $(RefusalCode::$evariant => $etext,)*
                }
            }

            /// The HTTP status of a refusal with this code.
            #[must_use]
            pub fn http_status(self) -> u16 {
                match self {
                    $(RefusalCode::$variant => $status,)*
                    $(RefusalCode::$evariant => $estatus,)*
                }
            }
        }
    };
}

refusal_codes! {
    // Decided by the API before the engine.
    api {
    /// The body is not a valid command.
    MalformedCommand = "malformed_command" => 400,
    /// A command of the documented shape whose values break a rule the
    /// shape cannot state (a name with a control character, a calendar
    /// session that ends before it starts, an unknown unit vintage...).
    InvalidValue = "invalid_value" => 422,
    /// A path or query parameter is unknown or out of its range, or a cursor is past the list's end.
    InvalidParameter = "invalid_parameter" => 400,
    /// A UI form lacks a field or has a bad value.
    MalformedForm = "malformed_form" => 400,
    /// The `Idempotency-Key` header is not the body's `request_id` (each may
    /// be well formed alone: 422, like every rule between values).
    IdempotencyKeyMismatch = "idempotency_key_mismatch" => 422,
    /// A batch holds more commands than allowed.
    BatchTooLarge = "batch_too_large" => 413,
    /// A batch body holds no command.
    EmptyBatch = "empty_batch" => 400,
    /// The body is larger than the route accepts.
    PayloadTooLarge = "payload_too_large" => 413,
    /// The client took too long to send the request's body.
    BodyTimeout = "body_timeout" => 408,
    /// A JSON route was sent something other than `application/json`.
    UnsupportedMediaType = "unsupported_media_type" => 415,
    /// The request's `Origin` is not this server.
    CrossOrigin = "cross_origin" => 403,
    /// No valid credentials.
    Unauthenticated = "unauthenticated" => 401,
    /// A UI form was sent without a live session.
    NotSignedIn = "not_signed_in" => 401,
    /// A UI form does not carry the session's CSRF token.
    CsrfMismatch = "csrf_mismatch" => 403,
    /// The command's requester is not the user's participant.
    RequesterMismatch = "requester_mismatch" => 403,
    /// The user's role may not send this command or read this.
    RoleForbids = "role_forbids" => 403,
    /// The user's participant is of a kind that may not send this command.
    ParticipantKindForbids = "participant_kind_forbids" => 403,
    /// Too many failed sign-ins for this name or from this address.
    TooManyFailures = "too_many_failures" => 429,
    /// The user sent more requests or bytes than the rate limit allows.
    RateLimited = "rate_limited" => 429,
    /// The requested thing does not exist (or may not be seen).
    NotFound = "not_found" => 404,
    /// The sequencer's queue is full.
    QueueFull = "queue_full" => 503,
    /// The server is stopping.
    ShuttingDown = "shutting_down" => 503,
    /// The store met an I/O fault and acknowledges nothing more.
    StoreFaulted = "store_faulted" => 500,
    /// The PostgreSQL database behind the store is away, full or refusing;
    /// the server keeps retrying and writes again once it answers.
    DatabaseUnavailable = "database_unavailable" => 503,
    /// Another server took over the store's database; this one never writes again.
    StoreFenced = "store_fenced" => 503,
    /// The metrics could not be encoded.
    MetricsUnavailable = "metrics_unavailable" => 500,
    /// The operating system gave no random bytes.
    RandomnessUnavailable = "randomness_unavailable" => 500,
    /// The history database could not be read (none, or it failed).
    HistoryUnavailable = "history_unavailable" => 503,
    }
    engine {
    // Engine rejections: who may act.
    /// The requester is not an administrator.
    NotAdministrator = "not_administrator" => 403,
    /// The requester does not represent the account.
    NotRepresentative = "not_representative" => 403,
    /// The requester is not a verifier.
    NotVerifier = "not_verifier" => 403,
    /// The requester is not the exchange operator.
    NotExchangeOperator = "not_exchange_operator" => 403,
    /// The requester is not the order's owner.
    NotOwner = "not_owner" => 403,
    /// The requester is not the block proposal's counterparty.
    NotCounterparty = "not_counterparty" => 403,
    // Engine rejections: things that do not exist.
    /// The requester is not a registered participant.
    UnknownRequester = "unknown_requester" => 404,
    /// No such participant.
    UnknownParticipant = "unknown_participant" => 404,
    /// No such account.
    UnknownAccount = "unknown_account" => 404,
    /// No such transaction.
    UnknownTransaction = "unknown_transaction" => 404,
    /// No such unit class.
    UnknownUnitClass = "unknown_unit_class" => 404,
    /// No such instrument.
    UnknownInstrument = "unknown_instrument" => 404,
    /// No such auction.
    UnknownAuction = "unknown_auction" => 404,
    /// No such order.
    UnknownOrder = "unknown_order" => 404,
    /// No such block proposal.
    UnknownProposal = "unknown_proposal" => 404,
    /// No such scheme.
    UnknownScheme = "unknown_scheme" => 404,
    /// No such covered entity.
    UnknownEntity = "unknown_entity" => 404,
    // Engine rejections: conflicts with the current state.
    /// The command's time is before the store's.
    TimeWentBackwards = "time_went_backwards" => 409,
    /// The participant exists already.
    ParticipantExists = "participant_exists" => 409,
    /// The account exists already.
    AccountExists = "account_exists" => 409,
    /// The transaction is not pending.
    NotPending = "not_pending" => 409,
    /// The representative approved already.
    AlreadyApproved = "already_approved" => 409,
    /// The instrument exists already.
    InstrumentExists = "instrument_exists" => 409,
    /// The scheme exists already.
    SchemeExists = "scheme_exists" => 409,
    /// The entity exists already.
    EntityExists = "entity_exists" => 409,
    /// The request id was used before with another command.
    RequestIdReused = "request_id_reused" => 422,
    /// The request id is older than the engine's idempotency window (docs/memory.md):
    /// it may have been applied already and is not applied again.
    RequestExpired = "request_expired" => 422,
    /// A retention window out of range.
    InvalidRetention = "invalid_retention" => 422,
    /// The units held do not cover the command.
    InsufficientUnits = "insufficient_units" => 422,
    /// The cash held does not cover the command.
    InsufficientCash = "insufficient_cash" => 422,
    }
}

impl RefusalCode {
    /// The code named `text`, if it is one of [`RefusalCode::ALL`].
    #[must_use]
    pub fn parse(text: &str) -> Option<RefusalCode> {
        RefusalCode::ALL
            .iter()
            .copied()
            .find(|code| code.as_str() == text)
    }
}

impl fmt::Display for RefusalCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// The HTTP status of a refusal code given as text (an engine rejection's):
/// the table's status for a listed code; any other `unknown_*` code is 404;
/// every other business rejection is 422 (the command was understood but
/// the rules refuse it).
#[must_use]
pub fn status_of_code(code: &str) -> u16 {
    match RefusalCode::parse(code) {
        Some(known) => known.http_status(),
        None if code.starts_with("unknown_") => 404,
        None => 422,
    }
}

/// A refusal decided by the API: a code and a message naming the values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// The stable code.
    pub code: RefusalCode,
    /// What is refused and why, for people.
    pub message: String,
}

impl Refusal {
    /// A refusal with `code` and `message`.
    #[must_use]
    pub fn new(code: RefusalCode, message: impl Into<String>) -> Refusal {
        Refusal {
            code,
            message: message.into(),
        }
    }
}

/// The JSON body of every refusal the server answers by itself:
/// `{"ok": false, "code": ..., "message": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ErrorBody<'a> {
    /// Always `false`.
    pub ok: bool,
    /// The stable code.
    pub code: &'a str,
    /// What went wrong.
    pub message: &'a str,
}

impl<'a> ErrorBody<'a> {
    /// The body of a refusal with `code` and `message`.
    #[must_use]
    pub fn new(code: &'a str, message: &'a str) -> ErrorBody<'a> {
        ErrorBody {
            ok: false,
            code,
            message,
        }
    }
}

impl<'a> From<&'a Refusal> for ErrorBody<'a> {
    fn from(refusal: &'a Refusal) -> ErrorBody<'a> {
        ErrorBody::new(refusal.code.as_str(), &refusal.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_and_parse_back() {
        // Goal: no two codes share a string; each string parses to its code.
        let mut seen = std::collections::BTreeSet::new();
        for code in RefusalCode::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} twice");
            assert!(
                text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{text}"
            );
            assert_eq!(RefusalCode::parse(text), Some(*code));
        }
    }

    #[test]
    fn engine_codes_get_one_status_everywhere() {
        // Goal: the drift the issue found (not_verifier 422 in the API, 403 in
        // the UI) cannot recur: one table, and unlisted codes by a stated rule.
        assert_eq!(status_of_code("not_verifier"), 403);
        assert_eq!(status_of_code("not_representative"), 403);
        assert_eq!(status_of_code("unknown_account"), 404);
        assert_eq!(status_of_code("unknown_anything_new"), 404);
        assert_eq!(status_of_code("time_went_backwards"), 409);
        assert_eq!(status_of_code("outside_price_band"), 422);
    }
}
