//! The HTTP routes of the API, declared once: method, path, who may call
//! it, its path parameters with their true ranges, its body, its answer and
//! every refusal it can give. The server registers its handlers through these
//! declarations and the OpenAPI document (`openapi`) is generated from them,
//! so neither can drift from what is served.

use crate::market_view::{ComplianceYearView, HealthView, InstrumentMarketView, ReportView};
use crate::outcome::OutcomeLine;
use crate::refusal::RefusalCode;
use crate::view::{AccountView, ParticipantView, SerialView, TransactionView};
use schemars::{JsonSchema, Schema, SchemaGenerator};

/// The HTTP methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// GET (HEAD is answered too).
    Get,
    /// POST.
    Post,
}

impl Verb {
    /// The method's name in upper case, as on the wire.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
        }
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Anyone, without credentials.
    Public,
    /// An authenticated user (Bearer token, or HTTP Basic when enabled).
    User,
}

/// A path parameter: a whole number from 0 to 2^64 - 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathParameter {
    /// Its name, as in the path's `{name}`.
    pub name: &'static str,
    /// What it identifies.
    pub description: &'static str,
}

/// What a route takes as its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// Nothing.
    None,
    /// One JSON command (`application/json`).
    Command,
    /// JSON lines, one command each (`application/json` or
    /// `application/x-ndjson`).
    CommandLines,
}

/// How a route answers when it succeeds.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    /// `200` with a JSON body of the schema the function gives.
    Json(fn(&mut SchemaGenerator) -> Schema),
    /// `200` with text of this content type.
    Text(&'static str),
    /// `200` with a `text/event-stream` of the named events.
    EventStream(&'static str),
}

/// One route of the API.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    /// Its method.
    pub verb: Verb,
    /// Its path, with `{name}` parameters as in OpenAPI.
    pub path: &'static str,
    /// Who may call it.
    pub audience: Audience,
    /// The OpenAPI tag it is listed under.
    pub tag: &'static str,
    /// One line on what it does.
    pub summary: &'static str,
    /// More on what it does and answers.
    pub description: &'static str,
    /// Its path parameters.
    pub parameters: &'static [PathParameter],
    /// What it takes.
    pub body: Body,
    /// What it answers on success.
    pub answer: Answer,
    /// The refusals it can give itself, beyond those every route of its
    /// audience and method can give ([`RouteSpec::refusals`]).
    pub refuses: &'static [RefusalCode],
}

/// Every user route may refuse these (authentication, throttling, rate).
const USER_REFUSALS: [RefusalCode; 3] = [
    RefusalCode::Unauthenticated,
    RefusalCode::TooManyFailures,
    RefusalCode::RateLimited,
];

/// Every POST may refuse these (origin, media type, size, slow body, and the
/// read-only roles).
const POST_REFUSALS: [RefusalCode; 5] = [
    RefusalCode::CrossOrigin,
    RefusalCode::UnsupportedMediaType,
    RefusalCode::PayloadTooLarge,
    RefusalCode::BodyTimeout,
    RefusalCode::RoleForbids,
];

/// A read queued behind the writes may meet a full queue or a stopping server.
const QUEUED: [RefusalCode; 2] = [RefusalCode::QueueFull, RefusalCode::ShuttingDown];

impl RouteSpec {
    /// Every refusal this route can answer with: its own plus those of its
    /// audience and method, sorted and without repeats.
    #[must_use]
    pub fn refusals(&self) -> Vec<RefusalCode> {
        let mut codes = self.refuses.to_vec();
        if self.audience == Audience::User {
            codes.extend(USER_REFUSALS);
        }
        if self.verb == Verb::Post {
            codes.extend(POST_REFUSALS);
        }
        if self.body == Body::Command {
            codes.extend(RefusalCode::ENGINE);
        }
        if !self.parameters.is_empty() {
            codes.push(RefusalCode::InvalidParameter);
        }
        if codes.contains(&RefusalCode::QueueFull) {
            // Whatever waits behind the writes meets a database outage too: a
            // read is refused rather than answered from a state not read back.
            codes.push(RefusalCode::DatabaseUnavailable);
        }
        codes.sort_unstable();
        codes.dedup();
        codes
    }
}

fn schema_of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

const ID: PathParameter = PathParameter {
    name: "id",
    description: "The id, a whole number from 0 to 18446744073709551615.",
};

/// Reads answered from the store behind the queued writes.
const READ_REFUSALS: [RefusalCode; 3] = [
    RefusalCode::NotFound,
    RefusalCode::QueueFull,
    RefusalCode::ShuttingDown,
];

/// Private reads: also refused to those who are not parties.
const PRIVATE_READ_REFUSALS: [RefusalCode; 4] = [
    RefusalCode::NotFound,
    RefusalCode::NotRepresentative,
    RefusalCode::QueueFull,
    RefusalCode::ShuttingDown,
];

/// Private reads that may fall back to the history database.
const PRIVATE_HISTORY_READ_REFUSALS: [RefusalCode; 5] = [
    RefusalCode::NotFound,
    RefusalCode::NotRepresentative,
    RefusalCode::HistoryUnavailable,
    RefusalCode::QueueFull,
    RefusalCode::ShuttingDown,
];

/// `GET /healthz`.
pub const HEALTH: RouteSpec = RouteSpec {
    verb: Verb::Get,
    path: "/healthz",
    audience: Audience::Public,
    tag: "operations",
    summary: "Whether the store accepts writes",
    description: "`200 {\"ok\": true}` while the store accepts writes; `503` while a fault stops it: `store_faulted` (a file store's I/O fault; it then needs a restart), `database_unavailable` (a PostgreSQL store whose database is away or full; the server resumes by itself once it answers) or `store_fenced` (another server took over the database).",
    parameters: &[],
    body: Body::None,
    answer: Answer::Json(schema_of::<HealthView>),
    refuses: &[
        RefusalCode::StoreFaulted,
        RefusalCode::DatabaseUnavailable,
        RefusalCode::StoreFenced,
    ],
};

/// `GET /metrics`.
pub const METRICS: RouteSpec = RouteSpec {
    verb: Verb::Get,
    path: "/metrics",
    audience: Audience::Public,
    tag: "operations",
    summary: "Prometheus metrics",
    description: "Requests, commits, queue depth and journal size in the OpenMetrics text format.",
    parameters: &[],
    body: Body::None,
    answer: Answer::Text("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    refuses: &[RefusalCode::MetricsUnavailable],
};

/// `GET /api/openapi.json`.
pub const OPENAPI: RouteSpec = RouteSpec {
    verb: Verb::Get,
    path: "/api/openapi.json",
    audience: Audience::Public,
    tag: "operations",
    summary: "This document",
    description: "The OpenAPI 3.1 document of the API, generated from the server's own route and command declarations.",
    parameters: &[],
    body: Body::None,
    answer: Answer::Text("application/json"),
    refuses: &[],
};

/// `POST /api/commands`.
pub const COMMAND: RouteSpec = RouteSpec {
    verb: Verb::Post,
    path: "/api/commands",
    audience: Audience::User,
    tag: "commands",
    summary: "Send one command",
    description: "One command in the JSON shape of `ets submit` (docs/commands.md), answered once it is durable. The requester must be the user's participant and the user's role and participant kind must be among the command's senders; the engine then checks the rest. An `Idempotency-Key` header, when sent, must be the body's `request_id` in decimal; a repeated request id gets its first outcome again with `duplicate: true`. A refusal by the engine answers with its outcome line and the status of its code.",
    parameters: &[],
    body: Body::Command,
    answer: Answer::Json(schema_of::<OutcomeLine>),
    refuses: &[
        RefusalCode::MalformedCommand,
        RefusalCode::InvalidValue,
        RefusalCode::IdempotencyKeyMismatch,
        RefusalCode::RequesterMismatch,
        RefusalCode::ParticipantKindForbids,
        RefusalCode::QueueFull,
        RefusalCode::ShuttingDown,
        RefusalCode::StoreFaulted,
        RefusalCode::DatabaseUnavailable,
        RefusalCode::StoreFenced,
    ],
};

/// `POST /api/commands/batch`.
pub const COMMAND_BATCH: RouteSpec = RouteSpec {
    verb: Verb::Post,
    path: "/api/commands/batch",
    audience: Audience::User,
    tag: "commands",
    summary: "Send many commands",
    description: "JSON lines, one command each (blank lines are skipped), up to 10,000 commands in 4 MiB. The answer is a JSON array with one outcome line per command, in order: lines refused before the engine carry their `line` number. A body with no command is refused with `400 empty_batch`.",
    parameters: &[],
    body: Body::CommandLines,
    answer: Answer::Json(schema_of::<Vec<OutcomeLine>>),
    refuses: &[
        RefusalCode::MalformedCommand,
        RefusalCode::EmptyBatch,
        RefusalCode::BatchTooLarge,
        RefusalCode::QueueFull,
        RefusalCode::ShuttingDown,
        RefusalCode::StoreFaulted,
        RefusalCode::DatabaseUnavailable,
        RefusalCode::StoreFenced,
    ],
};

/// `GET /api/accounts/{id}`.
pub const ACCOUNT: RouteSpec = RouteSpec {
    verb: Verb::Get,
    path: "/api/accounts/{id}",
    audience: Audience::User,
    tag: "registry",
    summary: "An account with its holdings and serial blocks",
    description: "For the account's holder and representatives, the administrator and auditors.",
    parameters: &[ID],
    body: Body::None,
    answer: Answer::Json(schema_of::<AccountView>),
    refuses: &PRIVATE_READ_REFUSALS,
};

/// `GET /api/transactions/{id}`.
pub const TRANSACTION: RouteSpec = RouteSpec {
    verb: Verb::Get,
    path: "/api/transactions/{id}",
    audience: Audience::User,
    tag: "registry",
    summary: "A transaction with its status history",
    description: "For the parties of its accounts, the administrator and auditors. A transaction a bounded engine let go is read from the history database (503 history_unavailable when it has not caught up).",
    parameters: &[ID],
    body: Body::None,
    answer: Answer::Json(schema_of::<TransactionView>),
    refuses: &PRIVATE_HISTORY_READ_REFUSALS,
};

/// `GET /api/serials/{serial}`.
pub const SERIAL: RouteSpec = RouteSpec {
    verb: Verb::Get,
    path: "/api/serials/{serial}",
    audience: Audience::User,
    tag: "registry",
    summary: "Where a serial number is",
    description: "For the parties of the account holding it now, the administrator and auditors. On a bounded engine the movements it let go are read from the history database (503 history_unavailable when it has not caught up).",
    parameters: &[PathParameter {
        name: "serial",
        description: "A serial number, a whole number from 0 to 18446744073709551615.",
    }],
    body: Body::None,
    answer: Answer::Json(schema_of::<SerialView>),
    refuses: &PRIVATE_HISTORY_READ_REFUSALS,
};

/// `GET /api/participants/{id}`.
pub const PARTICIPANT: RouteSpec = RouteSpec {
    verb: Verb::Get,
    path: "/api/participants/{id}",
    audience: Audience::User,
    tag: "registry",
    summary: "A participant's name and kind",
    description: "Public to every user.",
    parameters: &[ID],
    body: Body::None,
    answer: Answer::Json(schema_of::<ParticipantView>),
    refuses: &READ_REFUSALS,
};

/// `GET /api/market`.
pub const MARKET: RouteSpec = RouteSpec {
    verb: Verb::Get,
    path: "/api/market",
    audience: Audience::User,
    tag: "market",
    summary: "Every instrument's book, day figures and recent trades",
    description: "Public market data (as the web UI's market page): the depth of each public book, the day's statistics and the latest trades without their parties.",
    parameters: &[],
    body: Body::None,
    answer: Answer::Json(schema_of::<Vec<InstrumentMarketView>>),
    refuses: &QUEUED,
};

/// `GET /api/compliance`.
pub const COMPLIANCE: RouteSpec = RouteSpec {
    verb: Verb::Get,
    path: "/api/compliance",
    audience: Audience::User,
    tag: "compliance",
    summary: "Compliance results per scheme and year",
    description: "Public (as the web UI's compliance page): each covered entity's allocation, verified emissions, surrendered units, status and shortfall; final once the year is closed.",
    parameters: &[],
    body: Body::None,
    answer: Answer::Json(schema_of::<Vec<ComplianceYearView>>),
    refuses: &QUEUED,
};

/// `GET /api/reports`.
pub const REPORTS: RouteSpec = RouteSpec {
    verb: Verb::Get,
    path: "/api/reports",
    audience: Audience::User,
    tag: "compliance",
    summary: "Emissions reports, those awaiting verification first",
    description: "For verifiers, the administrator and auditors (as the web UI's reports page).",
    parameters: &[],
    body: Body::None,
    answer: Answer::Json(schema_of::<Vec<ReportView>>),
    refuses: &[
        RefusalCode::RoleForbids,
        RefusalCode::QueueFull,
        RefusalCode::ShuttingDown,
    ],
};

/// `GET /api/stream/market`.
pub const MARKET_STREAM: RouteSpec = RouteSpec {
    verb: Verb::Get,
    path: "/api/stream/market",
    audience: Audience::User,
    tag: "streams",
    summary: "Market events as Server-Sent Events",
    description: "Events `trade`, `quote` and `day_closed` as durable batches apply, `lagged` when the client fell behind; keep-alive comments every 15 s. The stream stays open.",
    parameters: &[],
    body: Body::None,
    answer: Answer::EventStream("trade, quote, day_closed, lagged"),
    refuses: &[],
};

/// `GET /api/stream/accounts/{id}`.
pub const ACCOUNT_STREAM: RouteSpec = RouteSpec {
    verb: Verb::Get,
    path: "/api/stream/accounts/{id}",
    audience: Audience::User,
    tag: "streams",
    summary: "One account's events as Server-Sent Events",
    description: "Events `transaction`, `trade`, `cash` and `account` for the account's parties, the administrator and auditors; permission is checked again for every event. The stream stays open.",
    parameters: &[ID],
    body: Body::None,
    answer: Answer::EventStream("transaction, trade, cash, account, lagged"),
    refuses: &PRIVATE_READ_REFUSALS,
};

/// `GET /api/inbox`.
pub const INBOX: RouteSpec = RouteSpec {
    verb: Verb::Get,
    path: "/api/inbox",
    audience: Audience::User,
    tag: "registry",
    summary: "What awaits the user's participant",
    description: "Transfers it may approve, transfers of its accounts in their delay, emissions reports to verify (verifiers) and surrender deadlines within 30 days (covered entities), as the web UI's inbox lists them. Only the user's own participant's inbox is served.",
    parameters: &[],
    body: Body::None,
    answer: Answer::Json(schema_of::<crate::inbox::InboxView>),
    refuses: &QUEUED,
};

/// `GET /api/stream/inbox`.
pub const INBOX_STREAM: RouteSpec = RouteSpec {
    verb: Verb::Get,
    path: "/api/stream/inbox",
    audience: Audience::User,
    tag: "streams",
    summary: "The user's inbox as Server-Sent Events",
    description: "`inbox` events (an `InboxItem`: `approval_awaited`, `delay_running`, `delay_completed`, `settled`, `report_to_verify`, `deadline_near`) for the user's own participant as durable batches create them, `lagged` when the client fell behind; the user is checked again before every event. The stream stays open.",
    parameters: &[],
    body: Body::None,
    answer: Answer::EventStream("inbox, lagged"),
    refuses: &[],
};

/// A query parameter's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryValue {
    /// A whole number from `min` to `max`.
    Whole {
        /// The least.
        min: i64,
        /// The greatest.
        max: i64,
    },
    /// An RFC 3339 time.
    Time,
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// Text of 1 to `max` characters.
    Text {
        /// The most characters.
        max: u32,
    },
}

/// A query parameter of a route (none is required unless it says so).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryParameter {
    /// Its name.
    pub name: &'static str,
    /// What it does.
    pub description: &'static str,
    /// Its values.
    pub value: QueryValue,
    /// Whether it must be given.
    pub required: bool,
}

const FROM: QueryParameter = QueryParameter {
    name: "from",
    description: "Only transactions proposed at or after this time (RFC 3339).",
    value: QueryValue::Time,
    required: false,
};
const UNTIL: QueryParameter = QueryParameter {
    name: "until",
    description: "Only transactions proposed before this time (RFC 3339).",
    value: QueryValue::Time,
    required: false,
};
const STATUS: QueryParameter = QueryParameter {
    name: "status",
    description: "Only transactions whose status now is this one.",
    value: QueryValue::OneOf(&crate::history_view::TRANSACTION_STATUSES),
    required: false,
};
const KIND: QueryParameter = QueryParameter {
    name: "kind",
    description: "Only transactions of this kind.",
    value: QueryValue::OneOf(&crate::history_view::TRANSACTION_KINDS),
    required: false,
};
const CURSOR: QueryParameter = QueryParameter {
    name: "cursor",
    description: "The `next_cursor` of the previous page (its last transaction's id); `404 not_found` when no transaction of the list is older.",
    value: QueryValue::Whole {
        min: 1,
        max: i64::MAX,
    },
    required: false,
};
const LIMIT: QueryParameter = QueryParameter {
    name: "limit",
    description: "Transactions per page, 1 to 500 (50 when not given).",
    value: QueryValue::Whole { min: 1, max: 500 },
    required: false,
};

/// The refusals of a list read from the history.
const LIST_REFUSALS: [RefusalCode; 6] = [
    RefusalCode::InvalidParameter,
    RefusalCode::NotFound,
    RefusalCode::NotRepresentative,
    RefusalCode::HistoryUnavailable,
    RefusalCode::QueueFull,
    RefusalCode::ShuttingDown,
];

/// `GET /api/accounts/{id}/statement`.
pub const STATEMENT: RouteSpec = RouteSpec {
    verb: Verb::Get,
    path: "/api/accounts/{id}/statement",
    audience: Audience::User,
    tag: "registry",
    summary: "An account's statement, a page at a time",
    description: "The account's transactions from the history, newest first, with their status history and serial blocks, filtered by period, status and kind, with the list's total and the cursor of the next page. For the account's holder and representatives, the administrator and auditors.",
    parameters: &[ID],
    body: Body::None,
    answer: Answer::Json(schema_of::<crate::history_view::TransactionPageView>),
    refuses: &LIST_REFUSALS,
};

/// `GET /api/transactions`.
pub const TRANSACTIONS: RouteSpec = RouteSpec {
    verb: Verb::Get,
    path: "/api/transactions",
    audience: Audience::User,
    tag: "registry",
    summary: "Transactions, filtered, a page at a time",
    description: "Every transaction for the administrator and auditors; others must name an `account` they are a party to (`403 role_forbids` otherwise). Newest first, with the list's total and the cursor of the next page.",
    parameters: &[],
    body: Body::None,
    answer: Answer::Json(schema_of::<crate::history_view::TransactionPageView>),
    refuses: &[
        RefusalCode::InvalidParameter,
        RefusalCode::NotFound,
        RefusalCode::NotRepresentative,
        RefusalCode::RoleForbids,
        RefusalCode::HistoryUnavailable,
        RefusalCode::QueueFull,
        RefusalCode::ShuttingDown,
    ],
};

/// `GET /api/search`.
pub const SEARCH: RouteSpec = RouteSpec {
    verb: Verb::Get,
    path: "/api/search",
    audience: Audience::User,
    tag: "registry",
    summary: "Search accounts, transactions and serial numbers",
    description: "A number finds the account, the transaction and the serial of that number and the transactions that moved it; text finds accounts by holder name and transactions by unit class, note, kind or status. Only what the user may see; the term is matched literally. Transactions are paged by cursor.",
    parameters: &[],
    body: Body::None,
    answer: Answer::Json(schema_of::<crate::history_view::SearchView>),
    refuses: &[
        RefusalCode::InvalidParameter,
        RefusalCode::NotFound,
        RefusalCode::HistoryUnavailable,
        RefusalCode::QueueFull,
        RefusalCode::ShuttingDown,
    ],
};

/// The query parameters of the route at `path` (none for most routes).
#[must_use]
pub fn query_parameters(path: &str) -> &'static [QueryParameter] {
    const ACCOUNT_FILTER: QueryParameter = QueryParameter {
        name: "account",
        description: "Only transactions from or to this account (required unless the user is an administrator or auditor).",
        value: QueryValue::Whole {
            min: 0,
            max: i64::MAX,
        },
        required: false,
    };
    const TERM: QueryParameter = QueryParameter {
        name: "q",
        description: "The term: a number, or text of 1 to 200 characters matched literally.",
        value: QueryValue::Text { max: 200 },
        required: true,
    };
    match path {
        "/api/accounts/{id}/statement" => &[FROM, UNTIL, STATUS, KIND, CURSOR, LIMIT],
        "/api/transactions" => &[ACCOUNT_FILTER, FROM, UNTIL, STATUS, KIND, CURSOR, LIMIT],
        "/api/search" => &[TERM, CURSOR, LIMIT],
        _ => &[],
    }
}
