//! Short ASCII codes naming schemes, offset standards and projects
//! (`CEA`, `EUA`, `CCER`, `CCER-001`), stored inline so they are `Copy`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// The longest code, in bytes.
pub const CODE_MAX_BYTES: usize = 24;

/// Why a code was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CodeError {
    /// The code is empty.
    #[error("a code must not be empty")]
    Empty,
    /// The code is longer than [`CODE_MAX_BYTES`].
    #[error("code {code:?} is longer than {CODE_MAX_BYTES} characters")]
    TooLong {
        /// The offending code.
        code: String,
    },
    /// The code has a character other than `A-Z a-z 0-9 - _ .`.
    #[error("code {code:?} may only contain letters, digits, '-', '_' and '.'")]
    BadCharacter {
        /// The offending code.
        code: String,
    },
}

/// A short identifier of letters, digits, `-`, `_` and `.`; compared and
/// ordered byte-wise.
/// Encoded as its text (so a journal entry carries `CEA`, not a padded array).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Code {
    length: u8,
    bytes: [u8; CODE_MAX_BYTES],
}

impl Ord for Code {
    /// By length, then byte-wise: the order a derived `Ord` of the fields
    /// gives (maps keyed by codes are encoded in it, so it must not change),
    /// with the bytes compared as three big-endian words instead of by a
    /// call to `memcmp` (instruments are found by code for every order).
    fn cmp(&self, other: &Code) -> std::cmp::Ordering {
        self.length
            .cmp(&other.length)
            .then_with(|| self.words().cmp(&other.words()))
    }
}

impl PartialOrd for Code {
    fn partial_cmp(&self, other: &Code) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Code {
    /// Validates and stores `text`.
    ///
    /// # Errors
    /// [`CodeError`] when `text` is empty, too long or has another character.
    pub fn try_new(text: &str) -> Result<Code, CodeError> {
        if text.is_empty() {
            return Err(CodeError::Empty);
        }
        if text.len() > CODE_MAX_BYTES {
            return Err(CodeError::TooLong {
                code: text.to_owned(),
            });
        }
        let allowed = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.');
        if !text.bytes().all(allowed) {
            return Err(CodeError::BadCharacter {
                code: text.to_owned(),
            });
        }
        let mut bytes = [0u8; CODE_MAX_BYTES];
        bytes[..text.len()].copy_from_slice(text.as_bytes());
        // The length fits: it was checked against CODE_MAX_BYTES above.
        let length = u8::try_from(text.len()).unwrap_or(u8::MAX);
        Ok(Code { length, bytes })
    }

    /// The bytes as three big-endian words: compared in order, they
    /// compare as the bytes do.
    fn words(&self) -> [u64; 3] {
        let word = |index: usize| {
            let mut chunk = [0_u8; 8];
            chunk.copy_from_slice(&self.bytes[index * 8..index * 8 + 8]);
            u64::from_be_bytes(chunk)
        };
        [word(0), word(1), word(2)]
    }

    /// The code's bytes (ASCII).
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.length).min(CODE_MAX_BYTES)]
    }

    /// The code as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        let length = usize::from(self.length).min(CODE_MAX_BYTES);
        // Only ASCII was stored, so this never fails; an empty string would
        // only appear if a decoded value were tampered with.
        std::str::from_utf8(&self.bytes[..length]).unwrap_or("")
    }
}

impl Serialize for Code {
    /// Text in a human-readable format (JSON, TOML). In a binary one, the
    /// bytes as bytes: postcard writes a string and a byte string alike (a
    /// varint length, then the bytes), so the journal's and the state's
    /// encoding stay byte for byte what they were, and the bytes need no
    /// UTF-8 check on the way (they are ASCII, checked when the code was
    /// made). That check was a third of encoding an exchange command for its
    /// digest (docs/benchmarks.md).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(self.as_str())
        } else {
            serializer.serialize_bytes(self.as_bytes())
        }
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Code, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Code::try_new(&text).map_err(serde::de::Error::custom)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_codes_round_trip() {
        for text in ["CEA", "CCER", "CCER-001", "EU.A_4"] {
            assert_eq!(Code::try_new(text).unwrap().as_str(), text);
        }
    }

    #[test]
    fn a_code_encodes_in_postcard_exactly_as_its_text_and_in_json_as_text() {
        for text in [
            "C",
            "CEA",
            "CCER-001",
            "EU.A_4",
            &"X".repeat(CODE_MAX_BYTES),
        ] {
            let code = Code::try_new(text).unwrap();
            let encoded = postcard::to_stdvec(&code).unwrap();
            assert_eq!(encoded, postcard::to_stdvec(text).unwrap(), "{text}");
            assert_eq!(postcard::from_bytes::<Code>(&encoded).unwrap(), code);
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<Code>(&json).unwrap(), code);
        }
    }

    proptest::proptest! {
        /// The order is the derived order of (length, bytes) that maps
        /// keyed by codes were encoded in before `Ord` was written by hand.
        #[test]
        fn codes_order_by_length_then_bytes(
            left in "[A-Za-z0-9._-]{1,24}",
            right in "[A-Za-z0-9._-]{1,24}",
        ) {
            let (a, b) = (Code::try_new(&left).unwrap(), Code::try_new(&right).unwrap());
            let expected = (a.length, a.bytes).cmp(&(b.length, b.bytes));
            proptest::prop_assert_eq!(a.cmp(&b), expected);
            proptest::prop_assert_eq!(a.partial_cmp(&b), Some(expected));
            proptest::prop_assert_eq!(a == b, left == right);
            // Codes sharing a prefix, and equal lengths, are where order turns on the bytes.
            let longer = Code::try_new(&format!("{}x", &left[..left.len().min(23)])).unwrap();
            let expected = (a.length, a.bytes).cmp(&(longer.length, longer.bytes));
            proptest::prop_assert_eq!(a.cmp(&longer), expected);
        }
    }

    #[test]
    fn bad_codes_are_refused_with_the_reason() {
        assert_eq!(Code::try_new(""), Err(CodeError::Empty));
        assert!(matches!(
            Code::try_new(&"X".repeat(25)),
            Err(CodeError::TooLong { .. })
        ));
        assert!(matches!(
            Code::try_new("CE A"),
            Err(CodeError::BadCharacter { .. })
        ));
    }
}
