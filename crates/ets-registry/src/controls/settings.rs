//! A scheme's security-control settings, as journaled by the command that
//! sets them (the UK registry keeps the same as configuration properties).

use crate::error::RegistryError;
use ets_model::{Code, Quantity};
use ets_time::HolidayCalendar;
use serde::{Deserialize, Serialize};

/// The longest calendar text a setting may carry, in bytes.
pub const CALENDAR_TOML_MAX_BYTES: usize = 256 * 1024;

/// The longest transfer delay, in minutes (30 days).
pub const DELAY_MAX_MINUTES: u32 = 30 * 24 * 60;

/// The most business days a trusted-list addition may wait.
const ACTIVATION_MAX_BUSINESS_DAYS: u8 = 30;

/// A scheme's security controls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlSettings {
    /// Wall-clock delay of a transfer to an account outside the sender's
    /// trusted list, from its initiation, in minutes (EU: 26 h = 1,560).
    pub transfer_delay_minutes: u32,
    /// Business days before an approved trusted-list addition becomes active (EU: 4 to 7).
    pub trusted_activation_business_days: u8,
    /// Local minute of a business day at which transfers may first be initiated (EU: 10:00 = 600).
    pub window_opens_minute: u16,
    /// Local minute at which the window closes (EU: 16:00 = 960).
    pub window_closes_minute: u16,
    /// The holiday calendar (TOML, as in `calendars/`): its zone and business days.
    pub calendar_toml: String,
    /// The most units one transfer may move, where the scheme sets a limit.
    pub max_transfer_quantity: Option<Quantity>,
}

impl ControlSettings {
    /// The EU registry's values (26 h delay, 4 business days, 10:00-16:00) on a given calendar.
    #[must_use]
    pub fn eu_defaults(calendar_toml: String) -> ControlSettings {
        ControlSettings {
            transfer_delay_minutes: 26 * 60,
            trusted_activation_business_days: 4,
            window_opens_minute: 10 * 60,
            window_closes_minute: 16 * 60,
            calendar_toml,
            max_transfer_quantity: None,
        }
    }

    /// Checks the settings and parses their calendar.
    ///
    /// # Errors
    /// [`RegistryError::BadControls`] naming the setting at fault.
    pub fn calendar(&self, scheme: &Code) -> Result<HolidayCalendar, RegistryError> {
        let bad = |reason: String| RegistryError::BadControls {
            scheme: scheme.to_string(),
            reason,
        };
        if self.transfer_delay_minutes > DELAY_MAX_MINUTES {
            return Err(bad(format!(
                "transfer_delay_minutes must be at most {DELAY_MAX_MINUTES}, got {}",
                self.transfer_delay_minutes
            )));
        }
        if self.trusted_activation_business_days > ACTIVATION_MAX_BUSINESS_DAYS {
            return Err(bad(format!(
                "trusted_activation_business_days must be at most {ACTIVATION_MAX_BUSINESS_DAYS}, got {}",
                self.trusted_activation_business_days
            )));
        }
        if self.window_opens_minute >= self.window_closes_minute
            || self.window_closes_minute > 24 * 60
        {
            return Err(bad(format!(
                "the business window must open before it closes, within a day (0 to 1440 minutes); got {} to {}",
                self.window_opens_minute, self.window_closes_minute
            )));
        }
        if self.max_transfer_quantity.is_some_and(Quantity::is_zero) {
            return Err(bad("max_transfer_quantity must be at least 1".to_owned()));
        }
        if self.calendar_toml.len() > CALENDAR_TOML_MAX_BYTES {
            return Err(bad(format!(
                "the calendar is {} bytes, at most {CALENDAR_TOML_MAX_BYTES} allowed",
                self.calendar_toml.len()
            )));
        }
        HolidayCalendar::from_toml("calendar_toml", &self.calendar_toml)
            .map_err(|error| bad(error.to_string()))
    }
}
