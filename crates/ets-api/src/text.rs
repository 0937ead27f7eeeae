//! Text forms of times and unit classes used in JSON.

use ets_model::{Code, Timestamp, UnitClass, Vintage};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Checks a free text a person gave (a participant's name, a beneficiary, a
/// reason): at most `max_bytes`, no control characters and no bidirectional
/// overrides or isolates, which could make a name display as another.
///
/// # Errors
/// A message naming the field and the offending character's code point.
pub fn check_text(field: &str, text: &str, max_bytes: usize) -> Result<(), String> {
    if text.len() > max_bytes {
        return Err(format!(
            "`{field}` is {} bytes; at most {max_bytes} are accepted",
            text.len()
        ));
    }
    let forbidden = |c: &char| {
        c.is_control()
            || matches!(*c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
    };
    match text.chars().find(forbidden) {
        Some(c) => Err(format!(
            "`{field}` holds the control or bidirectional character U+{:04X}",
            u32::from(c)
        )),
        None => Ok(()),
    }
}

/// Parses an RFC 3339 time such as `2021-07-16T09:30:00+08:00`.
///
/// # Errors
/// A message naming the text when it is not RFC 3339 or out of range.
pub fn parse_time(text: &str) -> Result<Timestamp, String> {
    let parsed = OffsetDateTime::parse(text, &Rfc3339).map_err(|error| {
        format!("time {text:?} is not RFC 3339 (e.g. 2021-07-16T09:30:00Z): {error}")
    })?;
    let unix_ms = parsed.unix_timestamp_nanos() / 1_000_000;
    i64::try_from(unix_ms)
        .map(Timestamp)
        .map_err(|_| format!("time {text:?} is out of range"))
}

/// Formats a time as RFC 3339 in UTC with milliseconds.
#[must_use]
pub fn format_time(time: Timestamp) -> String {
    let nanos = i128::from(time.0) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|moment| moment.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("{}ms", time.0))
}

/// Parses a unit class: `CEA-2021` (allowance of scheme CEA, vintage 2021)
/// or `CCER/P001-2016` (offset of standard CCER, project P001, vintage 2016).
///
/// # Errors
/// A message naming the text and the expected form.
pub fn parse_unit_class(text: &str) -> Result<UnitClass, String> {
    let bad = || {
        format!(
            "unit {text:?} is not SCHEME-VINTAGE (e.g. CEA-2021) or STANDARD/PROJECT-VINTAGE (e.g. CCER/P001-2016)"
        )
    };
    let (name, year) = text.rsplit_once('-').ok_or_else(bad)?;
    let year: u16 = year.parse().map_err(|_| bad())?;
    if !(1990..=2200).contains(&year) {
        return Err(format!(
            "unit {text:?} has vintage {year}, outside 1990-2200"
        ));
    }
    let vintage = Vintage(year);
    match name.split_once('/') {
        None => Ok(UnitClass::Allowance {
            scheme: Code::try_new(name).map_err(|error| format!("unit {text:?}: {error}"))?,
            vintage,
        }),
        Some((standard, project)) => Ok(UnitClass::Offset {
            standard: Code::try_new(standard).map_err(|error| format!("unit {text:?}: {error}"))?,
            project: Code::try_new(project).map_err(|error| format!("unit {text:?}: {error}"))?,
            vintage,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_with_control_or_bidi_characters_are_refused() {
        // Goal: the names the attack used (control and override characters)
        // are refused with the code point named; ordinary names pass.
        assert_eq!(check_text("name", "Plant Zhang 张", 200), Ok(()));
        for bad in ["a\u{202e}b", "a\nb", "\u{0}", "x\u{2067}y", "a\u{7f}"] {
            let error = check_text("name", bad, 200).unwrap_err();
            assert!(error.contains("U+"), "{error}");
        }
        assert!(check_text("name", &"a".repeat(201), 200).is_err());
    }

    #[test]
    fn unit_classes_round_trip_through_text() {
        for text in ["CEA-2021", "CCER/P001-2016", "EUA-2024"] {
            assert_eq!(parse_unit_class(text).unwrap().to_string(), text);
        }
        assert!(parse_unit_class("CEA").is_err());
        assert!(parse_unit_class("CEA-21x").is_err());
        assert!(parse_unit_class("CEA-1066").is_err());
    }

    #[test]
    fn times_round_trip_in_utc() {
        let time = parse_time("2021-07-16T09:30:00+08:00").unwrap();
        assert_eq!(format_time(time), "2021-07-16T01:30:00Z");
        assert!(parse_time("16 July").is_err());
    }
}
