//! The typed read of a command line: the envelope (`request_id`,
//! `requester`, `time`) read straight from the text, and the command's own
//! fields handed to its family's serde shape as borrowed raw JSON, with no
//! `serde_json::Value` tree (an ordered map of owned strings) in between.
//!
//! [`crate::parse_request`] tries it first. It takes a line only when every
//! part reads cleanly; anything else (a syntax error, a missing, repeated or
//! unknown field, a float written for an integer, a value that breaks a
//! rule, a command family it does not read) goes the general way, which
//! names what is wrong. Both ways end in the same serde shapes and the same
//! conversions, so a line this one takes gets exactly the request the
//! general way gives (a test compares them).

use crate::request::{ApiRequest, Family, convert, family};
use crate::text::parse_time;
use crate::{RegistryCommandJson, exchange};
use ets_engine::Command;
use ets_model::{ParticipantId, RequestId};
use serde::de::value::{BorrowedStrDeserializer, StringDeserializer};
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;

/// A string as written: borrowed from the line unless it holds escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Text<'de>, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Text<'de>;

            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("a string")
            }

            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(text)))
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }
        }
        deserializer.deserialize_str(Visit)
    }
}

/// A command line split into its envelope and its command's fields.
struct Line<'a> {
    request_id: u64,
    requester: u64,
    /// `None` when absent or `null`.
    time: Option<Cow<'a, str>>,
    /// The command's name (also among `fields`, as its family's tag).
    command: Cow<'a, str>,
    /// Every field but the envelope's, in the order written.
    fields: Vec<(Cow<'a, str>, &'a RawValue)>,
}

/// Fails a field written twice (the general way keeps the last one; this one
/// leaves such lines to it).
fn once<T, E: de::Error>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), E> {
    if slot.replace(value).is_some() {
        return Err(E::duplicate_field(name));
    }
    Ok(())
}

impl<'de> Deserialize<'de> for Line<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Line<'de>, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Line<'de>;

            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("a command line object")
            }

            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Line<'de>, M::Error> {
                let (mut request_id, mut requester, mut time, mut command) =
                    (None, None, None, None);
                let mut fields = Vec::with_capacity(8);
                while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
                    match key.as_ref() {
                        "request_id" => once(&mut request_id, map.next_value()?, "request_id")?,
                        "requester" => once(&mut requester, map.next_value()?, "requester")?,
                        "time" => {
                            let text: Option<Text<'de>> = map.next_value()?;
                            once(&mut time, text.map(|Text(text)| text), "time")?;
                        }
                        _ => {
                            let raw: &'de RawValue = map.next_value()?;
                            if key == "command" {
                                let name = serde_json::from_str::<Text<'de>>(raw.get())
                                    .map_err(de::Error::custom)?;
                                once(&mut command, name.0, "command")?;
                            }
                            fields.push((key, raw));
                        }
                    }
                }
                Ok(Line {
                    request_id: request_id.ok_or_else(|| de::Error::missing_field("request_id"))?,
                    requester: requester.ok_or_else(|| de::Error::missing_field("requester"))?,
                    time: time.flatten(),
                    command: command.ok_or_else(|| de::Error::missing_field("command"))?,
                    fields,
                })
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

/// A command's fields as a map for its family's serde shape: keys borrowed
/// where the line allows, values read from their raw JSON text.
struct Fields<'a> {
    items: std::vec::IntoIter<(Cow<'a, str>, &'a RawValue)>,
    value: Option<&'a RawValue>,
}

impl<'de> MapAccess<'de> for Fields<'de> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, serde_json::Error> {
        let Some((key, value)) = self.items.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        match key {
            Cow::Borrowed(key) => seed.deserialize(BorrowedStrDeserializer::new(key)),
            Cow::Owned(key) => seed.deserialize(StringDeserializer::new(key)),
        }
        .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, serde_json::Error> {
        let value = self
            .value
            .take()
            .ok_or_else(|| de::Error::custom("a value asked for before its key"))?;
        seed.deserialize(value)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

impl<'de> Deserializer<'de> for Fields<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, serde_json::Error> {
        visitor.visit_map(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// The request of `line` read the typed way, or `None` when the general way
/// must judge it (see the module's documentation).
pub(crate) fn typed_request(line: &str) -> Option<ApiRequest> {
    let Line {
        request_id,
        requester,
        time,
        command,
        fields,
    } = serde_json::from_str(line).ok()?;
    let time = match time {
        None => None,
        Some(text) => Some(parse_time(&text).ok()?),
    };
    let fields = Fields {
        items: fields.into_iter(),
        value: None,
    };
    let command = match family(&command) {
        Family::Registry => {
            let parsed = RegistryCommandJson::deserialize(fields).ok()?;
            Command::Registry(convert(parsed).ok()?)
        }
        Family::Exchange => Command::Exchange(exchange::typed_exchange(fields)?),
        Family::Clock | Family::Control | Family::Compliance => return None,
    };
    Some(ApiRequest {
        request_id: RequestId(request_id),
        requester: ParticipantId(requester),
        time,
        command,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::parse_general;

    /// Lines of every family the typed read takes, and lines it must leave to
    /// the general way.
    const TAKEN: [&str; 7] = [
        r#"{"request_id":7,"requester":11,"time":"2021-07-16T09:30:00Z","command":"transfer","from":100,"to":200,"unit":"CEA-2021","quantity":300}"#,
        r#"{"command":"transfer","quantity":1,"unit":"CEA-2021","to":2,"from":1,"requester":1,"request_id":2}"#,
        r#"{"request_id":8,"requester":1,"time":null,"command":"open_account","id":5,"kind":"trading","holder":5,"representatives":[1,5]}"#,
        r#"{"request_id":9,"requester":1,"command":"place_order","instrument":"B1000","account":1010,"side":"sell","kind":{"limit":5000},"quantity":1,"time_in_force":"day"}"#,
        r#"{"request_id":10,"requester":1,"command":"place_order","instrument":"B1000","account":1010,"side":"buy","kind":"market","quantity":1}"#,
        r#"{"request_id":11,"requester":1,"command":"retire","from":3,"unit":"CEA-2021","quantity":2,"beneficiary":"caf\u00e9 \"A\""}"#,
        r#"{"request_id" : 12 , "requester":1,"command":"deposit_cash","account":4,"amount_minor_units":100}"#,
    ];

    const LEFT: [&str; 12] = [
        "{not json",
        r#"{"request_id":7.0,"requester":1,"command":"reverse","transaction":5}"#,
        r#"{"request_id":1,"requester":1,"command":"reverse","transaction":5e3}"#,
        r#"{"request_id":1,"request_id":2,"requester":1,"command":"reverse","transaction":5}"#,
        r#"{"request_id":1,"requester":1,"command":"transfer","from":1,"to":2,"unit":"CEA-2021","quantity":1,"quantity":2}"#,
        r#"{"request_id":1,"requester":1,"command":"teleport"}"#,
        r#"{"request_id":1,"requester":1,"command":"issue","unit":"CEA","quantity":1}"#,
        r#"{"request_id":1,"requester":1,"command":"issue","unit":"CEA-2021","quantity":1,"colour":"red"}"#,
        r#"{"request_id":1,"requester":1,"time":5,"command":"reverse","transaction":5}"#,
        r#"{"request_id":1,"requester":1,"command":"advance_clock","to":"2021-01-01T00:00:00Z"}"#,
        r#"{"requester":1,"command":"reverse","transaction":5}"#,
        r#"[1,2]"#,
    ];

    #[test]
    fn a_line_the_typed_read_takes_gives_the_general_request() {
        // Goal: for each line it takes, the typed read's request is the general one's.
        for line in TAKEN {
            let typed = typed_request(line).unwrap_or_else(|| panic!("not taken: {line}"));
            assert_eq!(Ok(typed), parse_general(line), "{line}");
        }
    }

    #[test]
    fn lines_with_anything_to_judge_are_left_to_the_general_read() {
        // Goal: errors, floats for integers, repeated fields and the rare
        // families go the general way (which accepts some of them: 7.0, a
        // repeated field's last value, the clock).
        for line in LEFT {
            assert_eq!(typed_request(line), None, "{line}");
        }
        assert!(parse_general(LEFT[1]).is_ok());
        assert!(parse_general(LEFT[4]).is_ok());
    }
}
