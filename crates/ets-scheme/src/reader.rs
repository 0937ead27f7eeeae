//! A reader over a parsed TOML document that knows the key path of every
//! value it hands out, so that each loader error can name the file, the full
//! key (`allocation.china.benchmarks.gas.heat_tonnes_per_gj`), the value as
//! written and its line. Numbers are read from their source text, so a
//! decimal such as `0.8218` never passes through `f64`.

use crate::rulebook::{CalendarDate, RulebookError};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use std::collections::BTreeSet;
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The file being read: its name (for messages) and its text (for lines
/// and for quoting values as written).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Source<'a> {
    pub(crate) name: &'a str,
    pub(crate) text: &'a str,
}

impl Source<'_> {
    /// The 1-based line of a byte offset.
    fn line(&self, offset: usize) -> usize {
        self.text
            .get(..offset)
            .map_or(1, |before| before.matches('\n').count() + 1)
    }

    /// The value exactly as written in the file.
    fn raw(&self, span: Range<usize>) -> String {
        self.text.get(span).unwrap_or("?").trim().to_owned()
    }
}

/// The allowed interval of a decimal value: `min` (inclusive or not) up to
/// `max` (inclusive).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    min: Decimal,
    min_inclusive: bool,
    max: Decimal,
}

impl Bounds {
    /// `min <= value <= max`.
    pub(crate) fn closed(min: Decimal, max: Decimal) -> Bounds {
        Bounds {
            min,
            min_inclusive: true,
            max,
        }
    }

    /// `min < value <= max`.
    pub(crate) fn above(min: Decimal, max: Decimal) -> Bounds {
        Bounds {
            min,
            min_inclusive: false,
            max,
        }
    }

    /// A share: `0 < value <= 1`.
    pub(crate) fn share() -> Bounds {
        Bounds::above(Decimal::ZERO, Decimal::ONE)
    }

    /// A fraction that may be zero: `0 <= value <= 1`.
    pub(crate) fn fraction() -> Bounds {
        Bounds::closed(Decimal::ZERO, Decimal::ONE)
    }

    fn contains(&self, value: Decimal) -> bool {
        let above_min = if self.min_inclusive {
            value >= self.min
        } else {
            value > self.min
        };
        above_min && value <= self.max
    }

    fn describe(&self) -> String {
        let open = if self.min_inclusive { "[" } else { "(" };
        format!("{open}{}, {}]", self.min, self.max)
    }
}

/// The earliest and latest year a rulebook may mention.
pub(crate) const YEAR_RANGE: (u16, u16) = (1990, 2100);

/// A table of the document being read, with the key path that leads to it
/// and the keys consumed so far (the rest are unknown keys).
pub(crate) struct TableReader<'a> {
    source: Source<'a>,
    path: String,
    table: &'a DeTable<'a>,
    seen: BTreeSet<&'a str>,
}

/// A value with its span in the file.
type Value<'a> = Spanned<DeValue<'a>>;

impl<'a> TableReader<'a> {
    /// A reader over the document's root table.
    pub(crate) fn root(source: Source<'a>, table: &'a DeTable<'a>) -> TableReader<'a> {
        TableReader {
            source,
            path: String::new(),
            table,
            seen: BTreeSet::new(),
        }
    }

    /// The full key path of `key` in this table.
    pub(crate) fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The file name, for errors built by callers.
    pub(crate) fn source_name(&self) -> &'a str {
        self.source.name
    }

    fn get(&mut self, key: &str) -> Option<&'a Value<'a>> {
        let table: &'a DeTable<'a> = self.table;
        let (name, value) = table.get_key_value(key)?;
        let name: &'a str = name.get_ref().as_ref();
        self.seen.insert(name);
        Some(value)
    }

    fn require(&mut self, key: &str) -> Result<&'a Value<'a>, RulebookError> {
        self.get(key).ok_or_else(|| RulebookError::MissingKey {
            file: self.source.name.to_owned(),
            key: self.key_path(key),
        })
    }

    fn wrong_type(&self, key: &str, value: &Value<'_>, expected: &'static str) -> RulebookError {
        RulebookError::WrongType {
            file: self.source.name.to_owned(),
            key: self.key_path(key),
            value: self.source.raw(value.span()),
            line: self.source.line(value.span().start),
            expected,
        }
    }

    fn out_of_range(&self, key: &str, value: &Value<'_>, allowed: String) -> RulebookError {
        RulebookError::OutOfRange {
            file: self.source.name.to_owned(),
            key: self.key_path(key),
            value: self.source.raw(value.span()),
            line: self.source.line(value.span().start),
            allowed,
        }
    }

    /// An error for a value that is well-formed but inconsistent with the
    /// rest of the rulebook. The key must have been read already.
    pub(crate) fn invalid(&self, key: &str, reason: String) -> RulebookError {
        let (value, line) = match self.table.get(key) {
            Some(value) => (
                self.source.raw(value.span()),
                self.source.line(value.span().start),
            ),
            None => ("(absent)".to_owned(), 0),
        };
        RulebookError::Invalid {
            file: self.source.name.to_owned(),
            key: self.key_path(key),
            value,
            line,
            reason,
        }
    }

    /// Like [`TableReader::invalid`], but quoting `value` (a summary of
    /// several entries) instead of the text under `key`.
    pub(crate) fn invalid_summary(
        &self,
        key: &str,
        value: String,
        reason: String,
    ) -> RulebookError {
        let line = self
            .table
            .get(key)
            .map_or(0, |entry| self.source.line(entry.span().start));
        RulebookError::Invalid {
            file: self.source.name.to_owned(),
            key: self.key_path(key),
            value,
            line,
            reason,
        }
    }

    /// A decimal written as a string (`"0.8218"`) or a TOML number, parsed
    /// exactly from its text and checked against `bounds`.
    pub(crate) fn decimal(&mut self, key: &str, bounds: Bounds) -> Result<Decimal, RulebookError> {
        let value = self.require(key)?;
        let number = parse_decimal(value.get_ref()).ok_or_else(|| {
            self.wrong_type(key, value, "a decimal number such as \"0.8218\" or 0.8218")
        })?;
        if bounds.contains(number) {
            Ok(number)
        } else {
            Err(self.out_of_range(key, value, bounds.describe()))
        }
    }

    /// An optional decimal, as [`Self::decimal`] when present.
    pub(crate) fn optional_decimal(
        &mut self,
        key: &str,
        bounds: Bounds,
    ) -> Result<Option<Decimal>, RulebookError> {
        if self.get(key).is_none() {
            return Ok(None);
        }
        self.decimal(key, bounds).map(Some)
    }

    /// A whole number (written as an integer or an integral decimal string)
    /// between `min` and `max`.
    pub(crate) fn whole_number(
        &mut self,
        key: &str,
        min: u64,
        max: u64,
    ) -> Result<u64, RulebookError> {
        let value = self.require(key)?;
        let number = parse_decimal(value.get_ref())
            .filter(|number| number.fract().is_zero())
            .ok_or_else(|| self.wrong_type(key, value, "a whole number"))?;
        let whole = number.to_u64().filter(|whole| (min..=max).contains(whole));
        whole.ok_or_else(|| self.out_of_range(key, value, format!("[{min}, {max}]")))
    }

    /// A calendar year within [`YEAR_RANGE`].
    pub(crate) fn year(&mut self, key: &str) -> Result<u16, RulebookError> {
        let value = self.require(key)?;
        self.year_value(key, value)
    }

    /// An optional calendar year within [`YEAR_RANGE`].
    pub(crate) fn optional_year(&mut self, key: &str) -> Result<Option<u16>, RulebookError> {
        match self.get(key) {
            Some(value) => self.year_value(key, value).map(Some),
            None => Ok(None),
        }
    }

    fn year_value(&self, key: &str, value: &Value<'_>) -> Result<u16, RulebookError> {
        let DeValue::Integer(integer) = value.get_ref() else {
            return Err(self.wrong_type(key, value, "a year such as 2021"));
        };
        let year = i64::from_str_radix(integer.as_str(), integer.radix())
            .ok()
            .and_then(|year| u16::try_from(year).ok())
            .filter(|year| (YEAR_RANGE.0..=YEAR_RANGE.1).contains(year));
        year.ok_or_else(|| {
            self.out_of_range(key, value, format!("[{}, {}]", YEAR_RANGE.0, YEAR_RANGE.1))
        })
    }

    /// A non-empty list of years, each within [`YEAR_RANGE`].
    pub(crate) fn year_list(&mut self, key: &str) -> Result<Vec<u16>, RulebookError> {
        let value = self.require(key)?;
        let DeValue::Array(items) = value.get_ref() else {
            return Err(self.wrong_type(key, value, "a list of years such as [2021, 2022]"));
        };
        if items.is_empty() {
            return Err(self.out_of_range(key, value, "at least one year".to_owned()));
        }
        items
            .iter()
            .map(|item| self.year_value(key, item))
            .collect()
    }

    /// A non-empty string.
    pub(crate) fn string(&mut self, key: &str) -> Result<String, RulebookError> {
        let value = self.require(key)?;
        match value.get_ref() {
            DeValue::String(text) if !text.trim().is_empty() => Ok(text.to_string()),
            _ => Err(self.wrong_type(key, value, "a non-empty string")),
        }
    }

    /// An optional non-empty string.
    pub(crate) fn optional_string(&mut self, key: &str) -> Result<Option<String>, RulebookError> {
        if self.get(key).is_none() {
            return Ok(None);
        }
        self.string(key).map(Some)
    }

    /// A list of non-empty strings (possibly empty).
    pub(crate) fn string_list(&mut self, key: &str) -> Result<Vec<String>, RulebookError> {
        let value = self.require(key)?;
        let DeValue::Array(items) = value.get_ref() else {
            return Err(self.wrong_type(key, value, "a list of strings"));
        };
        items
            .iter()
            .map(|item| match item.get_ref() {
                DeValue::String(text) if !text.trim().is_empty() => Ok(text.to_string()),
                _ => Err(self.wrong_type(key, item, "a non-empty string")),
            })
            .collect()
    }

    /// A boolean.
    pub(crate) fn boolean(&mut self, key: &str) -> Result<bool, RulebookError> {
        let value = self.require(key)?;
        match value.get_ref() {
            DeValue::Boolean(flag) => Ok(*flag),
            _ => Err(self.wrong_type(key, value, "true or false")),
        }
    }

    /// One of a fixed set of words, mapped to its meaning.
    pub(crate) fn choice<T: Copy>(
        &mut self,
        key: &str,
        options: &[(&'static str, T)],
    ) -> Result<T, RulebookError> {
        let value = self.require(key)?;
        let DeValue::String(text) = value.get_ref() else {
            return Err(self.wrong_type(key, value, "a string"));
        };
        let found = options.iter().find(|(word, _)| *word == text.as_ref());
        found.map(|(_, meaning)| *meaning).ok_or_else(|| {
            let words: Vec<&str> = options.iter().map(|(word, _)| *word).collect();
            self.out_of_range(key, value, format!("one of {}", words.join(", ")))
        })
    }

    /// An optional string that must be one of `options`.
    pub(crate) fn optional_choice<T: Copy>(
        &mut self,
        key: &str,
        options: &[(&'static str, T)],
    ) -> Result<Option<T>, RulebookError> {
        if self.get(key).is_none() {
            return Ok(None);
        }
        self.choice(key, options).map(Some)
    }

    /// A required TOML local date.
    pub(crate) fn date(&mut self, key: &str) -> Result<CalendarDate, RulebookError> {
        let value = self.require(key)?;
        self.date_value(key, value)
    }

    /// An optional TOML local date.
    pub(crate) fn optional_date(
        &mut self,
        key: &str,
    ) -> Result<Option<CalendarDate>, RulebookError> {
        match self.get(key) {
            Some(value) => self.date_value(key, value).map(Some),
            None => Ok(None),
        }
    }

    fn date_value(&self, key: &str, value: &Value<'_>) -> Result<CalendarDate, RulebookError> {
        let expected = "a local date such as 2023-11-15";
        let DeValue::Datetime(datetime) = value.get_ref() else {
            return Err(self.wrong_type(key, value, expected));
        };
        let date = match (datetime.date, datetime.time, datetime.offset) {
            (Some(date), None, None) => date,
            _ => return Err(self.wrong_type(key, value, expected)),
        };
        CalendarDate::try_new(date.year, date.month, date.day).ok_or_else(|| {
            self.out_of_range(
                key,
                value,
                format!("a real date in years {}..={}", YEAR_RANGE.0, YEAR_RANGE.1),
            )
        })
    }

    /// A required sub-table.
    pub(crate) fn table(&mut self, key: &str) -> Result<TableReader<'a>, RulebookError> {
        let value = self.require(key)?;
        self.table_value(key, key, value)
    }

    /// An optional sub-table.
    pub(crate) fn optional_table(
        &mut self,
        key: &str,
    ) -> Result<Option<TableReader<'a>>, RulebookError> {
        match self.get(key) {
            Some(value) => self.table_value(key, key, value).map(Some),
            None => Ok(None),
        }
    }

    fn table_value(
        &self,
        key: &str,
        path_key: &str,
        value: &'a Value<'a>,
    ) -> Result<TableReader<'a>, RulebookError> {
        match value.get_ref() {
            DeValue::Table(table) => Ok(TableReader {
                source: self.source,
                path: self.key_path(path_key),
                table,
                seen: BTreeSet::new(),
            }),
            _ => Err(self.wrong_type(key, value, "a table")),
        }
    }

    /// An optional array of tables (`[[key]]`): empty when absent, else as [`Self::tables`].
    pub(crate) fn optional_tables(
        &mut self,
        key: &str,
    ) -> Result<Vec<TableReader<'a>>, RulebookError> {
        if self.get(key).is_none() {
            return Ok(Vec::new());
        }
        self.tables(key)
    }

    /// A required, non-empty array of tables (`[[key]]`); the readers' paths
    /// are `key[0]`, `key[1]`, ...
    pub(crate) fn tables(&mut self, key: &str) -> Result<Vec<TableReader<'a>>, RulebookError> {
        let value = self.require(key)?;
        let DeValue::Array(items) = value.get_ref() else {
            return Err(self.wrong_type(key, value, "an array of tables ([[...]])"));
        };
        if items.is_empty() {
            return Err(self.out_of_range(key, value, "at least one entry".to_owned()));
        }
        items
            .iter()
            .enumerate()
            .map(|(index, item)| self.table_value(key, &format!("{key}[{index}]"), item))
            .collect()
    }

    /// Checks that every key of the table was read: an unknown key is an
    /// error (a misspelt key must not silently fall back to nothing).
    ///
    /// # Errors
    /// [`RulebookError::UnknownKey`] for the first key not read.
    pub(crate) fn finish(self) -> Result<(), RulebookError> {
        let unknown = self
            .table
            .iter()
            .find(|(name, _)| !self.seen.contains(name.get_ref().as_ref()));
        match unknown {
            Some((name, _)) => Err(RulebookError::UnknownKey {
                file: self.source.name.to_owned(),
                key: self.key_path(name.get_ref()),
                line: self.source.line(name.span().start),
            }),
            None => Ok(()),
        }
    }
}

/// Parses a decimal from a TOML string, integer or float exactly as written.
fn parse_decimal(value: &DeValue<'_>) -> Option<Decimal> {
    match value {
        DeValue::String(text) => parse_decimal_text(text),
        DeValue::Integer(integer) if integer.radix() == 10 => parse_decimal_text(integer.as_str()),
        DeValue::Float(float) => parse_decimal_text(float.as_str()),
        _ => None,
    }
}

/// Parses decimal text (`0.8218`, `-3`, `1_000.5`, `1e3`) without rounding;
/// text that would lose digits is refused.
pub(crate) fn parse_decimal_text(text: &str) -> Option<Decimal> {
    let cleaned: String = text.trim().chars().filter(|c| *c != '_').collect();
    if cleaned.contains(['e', 'E']) {
        Decimal::from_scientific(&cleaned).ok()
    } else {
        Decimal::from_str_exact(&cleaned).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_text_is_parsed_exactly_without_floats() {
        // Goal: the numbers of a rulebook keep every digit as written.
        assert_eq!(
            parse_decimal_text("0.8218").map(|d| d.to_string()),
            Some("0.8218".into())
        );
        assert_eq!(
            parse_decimal_text("1_000.50").map(|d| d.to_string()),
            Some("1000.50".into())
        );
        assert_eq!(
            parse_decimal_text("1e3").map(|d| d.normalize().to_string()),
            Some("1000".into())
        );
        assert_eq!(parse_decimal_text("nan"), None);
        assert_eq!(parse_decimal_text("0.1.2"), None);
    }
}
