//! The JSON boundary of openets: the shape of a command line, of an outcome
//! line and of the views `ets show` prints; who may send each command and
//! read each view (`authority`); the refusal codes with their HTTP statuses
//! (`refusal`). Domain types never derive the API's serde formats; they are
//! converted here, so changing an API shape never silently changes the
//! journal format (and the reverse).

#![warn(missing_docs)]

mod authority;
mod compliance;
mod exchange;
mod history_view;
mod inbox;
mod line;
mod market_view;
pub mod openapi;
mod outcome;
pub mod public_report;
mod refusal;
mod registry_controls;
mod request;
mod role;
pub mod route;
mod schema;
mod stream_view;
mod text;
mod view;

pub use authority::{
    ACCOUNT_HOLDING, ADMINISTRATION, Access, CommandSpec, EXCHANGE_OPERATION, Senders, TRADING_DAY,
    VERIFICATION, Visibility, authorise_read, command_spec, command_specs,
};
pub use compliance::{COMPLIANCE_COMMANDS, ComplianceCommandJson};
pub use exchange::EXCHANGE_COMMANDS;
pub use history_view::{
    AccountHitView, LIST_LIMIT_DEFAULT, ListQuery, SEARCH_TERM_MAX_CHARS, SearchView,
    SerialHitView, StatusStepView, TRANSACTION_KINDS, TRANSACTION_STATUSES, TransactionPageView,
    TransactionRowView, cursor_past_end, list_query,
};
pub use inbox::{
    DEADLINE_NEAR_DAYS, INBOX_ITEMS_MAX, InboxItem, InboxKind, InboxView, NearDeadline,
    approval_item, authorise_inbox, deadline_item, deadlines_near, delay_item, delay_parties,
    inbox, report_item, report_settled_item, settled_item,
};
pub use market_view::{
    ComplianceResultView, ComplianceYearView, DayStatsView, HealthView, InstrumentMarketView,
    LevelView, PublicTradeView, REPORTS_LISTED_MAX, ReportView, TRADES_LISTED_MAX, compliance_view,
    market_view, reports_view, reports_view_up_to,
};
pub use outcome::{
    AcceptedLine, Always, AuctionClosedView, ComplianceResult, DayClosedView, EffectView,
    ExchangeResult, HoldingLimitView, OutcomeLine, RefusedLine,
};
pub use refusal::{ErrorBody, Refusal, RefusalCode, status_of_code};
pub use registry_controls::{
    CALENDAR_NAMES, CONTROL_COMMANDS, ControlCommandJson, ControlReply, ControlSettingsJson,
};
pub use request::{
    ApiError, ApiRequest, CLOCK_COMMANDS, CommandError, CommandJson, CommandLineJson,
    EXACT_FLOAT_INTEGER_MAX, REGISTRY_COMMANDS, RegistryCommandJson, SerialPolicyJson,
    parse_request, rejection_json, reply_json,
};
pub use role::{Principal, Role, UnknownRole};
pub use route::{Answer, Audience, Body, PathParameter, RouteSpec, Verb};
pub use stream_view::{
    AccountStatusEvent, AccountTradeEvent, CashEvent, DayClosedEvent, LaggedEvent, QuoteEvent,
    StreamStats, SubscribedEvent, TradeEvent, VenueView, trade_mode_name,
};
pub use text::{check_text, format_time, parse_time, parse_unit_class};
pub use view::{
    AccountView, HoldingView, ParticipantView, SerialView, StatusChangeView, TransactionView,
    account_parties, account_view, participant_view, serial_parties, serial_view,
    transaction_parties, transaction_view,
};
