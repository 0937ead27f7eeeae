//! The JSON boundary of openets: the shape of a command line, of an outcome
//! line and of the views `ets show` prints. Domain types never derive the
//! API's serde formats; they are converted here by hand, so changing an API
//! shape never silently changes the journal format (and the reverse).

mod compliance;
mod exchange;
mod registry_controls;
mod request;
mod text;
mod view;

pub use registry_controls::{CALENDAR_NAMES, CONTROL_COMMANDS, ControlReply};
pub use request::{ApiError, ApiRequest, parse_request, rejection_json, reply_json};
pub use text::{format_time, parse_time, parse_unit_class};
pub use view::{account_view, participant_view, serial_view, transaction_view};
