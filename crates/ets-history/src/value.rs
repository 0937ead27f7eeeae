//! One SQL value as the projection writes it and the dumps read it back:
//! a 64-bit integer, a text, or NULL. Both databases store exactly these.

use crate::HistoryError;

/// A column value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A signed 64-bit integer (SQLite INTEGER, PostgreSQL BIGINT).
    Int(i64),
    /// A text.
    Text(String),
}

impl Value {
    /// An unsigned count or amount, refused when it does not fit a signed 64-bit column.
    ///
    /// # Errors
    /// [`HistoryError::OutOfRange`] above `i64::MAX`.
    pub fn unsigned(column: &'static str, value: u64) -> Result<Value, HistoryError> {
        i64::try_from(value)
            .map(Value::Int)
            .map_err(|_| HistoryError::OutOfRange { column, value })
    }

    /// The integer, if this is one.
    #[must_use]
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(value) => Some(*value),
            _ => None,
        }
    }

    /// The text, if this is one.
    #[must_use]
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(text) => Some(text),
            _ => None,
        }
    }
}

impl From<i64> for Value {
    fn from(value: i64) -> Value {
        Value::Int(value)
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Value {
        Value::Text(value.to_owned())
    }
}

impl From<String> for Value {
    fn from(value: String) -> Value {
        Value::Text(value)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Value {
        value.map_or(Value::Null, Into::into)
    }
}
