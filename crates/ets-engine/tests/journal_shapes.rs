//! The journal's compatibility rule, enforced: every type a journal entry
//! holds (registry, compliance, exchange, auction, control and clock
//! commands, and everything inside them) keeps its shape. Postcard encodes
//! an enum variant by its position and a struct by its fields in order, so
//! reordering, removing or inserting a variant or a field silently changes
//! what old journals mean.
//!
//! A tracer walks `JournalEntry` through serde, visiting every variant of
//! every enum it meets, and writes one line per type: its variants with
//! their tags (positions) and fields, or its fields. The lines must equal
//! `tests/journal_shapes.txt`. The rule (docs/journal-format.md): append new
//! variants at the end of an enum and pin them here; never move, remove or
//! rename one, never change the fields of one already journaled. The test
//! says which pinned tag moved when that rule is broken.

use ets_engine::JournalEntry;
use serde::de::value::{Error, U32Deserializer};
use serde::de::{
    DeserializeSeed, Deserializer, EnumAccess, Error as _, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use std::collections::{BTreeMap, BTreeSet};

/// Deeper than any journaled type nests; a guard against recursive types.
const MAX_DEPTH: usize = 48;

/// An enum as serde names it: its name and its variants (two enums of
/// different crates may share a name).
type EnumKey = (&'static str, &'static [&'static str]);

/// What the tracer learned so far.
#[derive(Default)]
struct Shapes {
    /// Every struct: its name and its description.
    structs: BTreeSet<(&'static str, String)>,
    /// Every enum and, once visited, each variant's form.
    enums: BTreeMap<EnumKey, BTreeMap<u32, String>>,
    /// How often each (enum, variant) was chosen.
    chosen: BTreeMap<(EnumKey, u32), u64>,
    /// Whether this pass chose a variant never chosen before.
    progressed: bool,
}

impl Shapes {
    /// The variant of `key` this pass takes: the one taken least often so
    /// far (the first of those), so every path through the types is taken
    /// in turn.
    fn choose(&mut self, key: EnumKey) -> u32 {
        let count = |index: u32| self.chosen.get(&(key, index)).copied().unwrap_or(0);
        let index = (0..key.1.len() as u32)
            .min_by_key(|index| count(*index))
            .unwrap_or(0);
        let times = self.chosen.entry((key, index)).or_insert(0);
        if *times == 0 {
            self.progressed = true;
        }
        *times += 1;
        index
    }

    fn lines(&self) -> String {
        let mut out = String::new();
        for (name, fields) in &self.structs {
            out.push_str(&format!("struct {name}{fields}\n"));
        }
        for ((name, variants), forms) in &self.enums {
            out.push_str(&format!("enum {name}\n"));
            for (index, variant) in variants.iter().enumerate() {
                let form = forms
                    .get(&(index as u32))
                    .map_or(" (never reached)", String::as_str);
                out.push_str(&format!("  {index} {variant}{form}\n"));
            }
        }
        out
    }
}

/// A deserializer that makes up the smallest value of any shape (one
/// element per sequence and map, `Some` for options, 1 for numbers, "1" for
/// text) and records every struct and enum on the way.
struct Tracer<'a> {
    shapes: &'a mut Shapes,
    depth: usize,
}

impl<'a> Tracer<'a> {
    fn deeper(&mut self) -> Result<Tracer<'_>, Error> {
        if self.depth >= MAX_DEPTH {
            return Err(Error::custom("too deep: a recursive type?"));
        }
        Ok(Tracer {
            shapes: self.shapes,
            depth: self.depth + 1,
        })
    }
}

macro_rules! number {
    ($($method:ident => $visit:ident($($value:expr)?)),* $(,)?) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            visitor.$visit($($value)?)
        })*
    };
}

impl<'de> Deserializer<'de> for Tracer<'_> {
    type Error = Error;

    number! {
        deserialize_bool => visit_bool(false),
        deserialize_i8 => visit_i8(1), deserialize_i16 => visit_i16(1),
        deserialize_i32 => visit_i32(1), deserialize_i64 => visit_i64(1),
        deserialize_i128 => visit_i128(1),
        deserialize_u8 => visit_u8(1), deserialize_u16 => visit_u16(1),
        deserialize_u32 => visit_u32(1), deserialize_u64 => visit_u64(1),
        deserialize_u128 => visit_u128(1),
        deserialize_f32 => visit_f32(1.0), deserialize_f64 => visit_f64(1.0),
        deserialize_char => visit_char('1'),
        deserialize_str => visit_str("1"), deserialize_string => visit_str("1"),
        deserialize_any => visit_str("1"),
        deserialize_identifier => visit_u32(0),
        deserialize_bytes => visit_bytes(&[]), deserialize_byte_buf => visit_bytes(&[]),
        deserialize_unit => visit_unit(),
        deserialize_ignored_any => visit_unit(),
    }

    fn deserialize_option<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self.deeper()?)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.shapes.structs.insert((name, " (unit)".to_owned()));
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        mut self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.shapes.structs.insert((name, " (newtype)".to_owned()));
        visitor.visit_newtype_struct(self.deeper()?)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_tuple(1, visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_seq(Elements {
            tracer: self,
            left: len,
        })
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.shapes
            .structs
            .insert((name, format!(" ({len} fields)")));
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_map(Entries {
            tracer: self,
            left: 1,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.shapes
            .structs
            .insert((name, format!(" {{ {} }}", fields.join(", "))));
        self.deserialize_tuple(fields.len(), visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let key = (name, variants);
        self.shapes.enums.entry(key).or_default();
        let index = self.shapes.choose(key);
        visitor.visit_enum(Variant {
            tracer: self,
            key,
            index,
        })
    }
}

/// `left` made-up elements of a sequence, tuple or struct.
struct Elements<'a> {
    tracer: Tracer<'a>,
    left: usize,
}

impl<'de> SeqAccess<'de> for Elements<'_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(self.tracer.deeper()?).map(Some)
    }
}

/// `left` made-up entries of a map.
struct Entries<'a> {
    tracer: Tracer<'a>,
    left: usize,
}

impl<'de> MapAccess<'de> for Entries<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(self.tracer.deeper()?).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        seed.deserialize(self.tracer.deeper()?)
    }
}

/// The variant chosen for one enum in this pass.
struct Variant<'a> {
    tracer: Tracer<'a>,
    key: EnumKey,
    index: u32,
}

impl Variant<'_> {
    fn form(&mut self, form: String) {
        if let Some(forms) = self.tracer.shapes.enums.get_mut(&self.key) {
            forms.insert(self.index, form);
        }
    }
}

impl<'de, 'a> EnumAccess<'de> for Variant<'a> {
    type Error = Error;
    type Variant = Variant<'a>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Variant<'a>), Error> {
        let tag: U32Deserializer<Error> = self.index.into_deserializer();
        Ok((seed.deserialize(tag)?, self))
    }
}

impl<'de> VariantAccess<'de> for Variant<'_> {
    type Error = Error;

    fn unit_variant(mut self) -> Result<(), Error> {
        self.form(String::new());
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(mut self, seed: T) -> Result<T::Value, Error> {
        self.form(" (newtype)".to_owned());
        seed.deserialize(self.tracer.deeper()?)
    }

    fn tuple_variant<V: Visitor<'de>>(mut self, len: usize, visitor: V) -> Result<V::Value, Error> {
        self.form(format!(" ({len} fields)"));
        self.tracer.deeper()?.deserialize_tuple(len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        mut self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.form(format!(" {{ {} }}", fields.join(", ")));
        self.tracer
            .deeper()?
            .deserialize_tuple(fields.len(), visitor)
    }
}

/// Passes without reaching a new variant after which the trace stops: more
/// than the passes it takes to come back to any path (the product of the
/// variant counts along the longest path is far below it).
const QUIET_PASSES: u32 = 20_000;

/// What the trace found: the table, the names of the enums reached, and
/// the errors of passes that could not make up a value.
struct Traced {
    table: String,
    enums: BTreeSet<&'static str>,
    failures: Vec<String>,
}

/// The trace, made once for both tests.
fn traced() -> &'static Traced {
    static TRACED: std::sync::OnceLock<Traced> = std::sync::OnceLock::new();
    TRACED.get_or_init(|| {
        let (shapes, failures) = trace();
        Traced {
            table: shapes.lines(),
            enums: shapes.enums.keys().map(|(name, _)| *name).collect(),
            failures,
        }
    })
}

/// Traces `JournalEntry` until many passes in a row reach no new variant.
fn trace() -> (Shapes, Vec<String>) {
    let mut shapes = Shapes::default();
    let mut failures = BTreeSet::new();
    let mut quiet = 0;
    while quiet < QUIET_PASSES {
        shapes.progressed = false;
        let tracer = Tracer {
            shapes: &mut shapes,
            depth: 0,
        };
        if let Err(error) = <JournalEntry as serde::Deserialize>::deserialize(tracer) {
            failures.insert(error.to_string());
        }
        quiet = if shapes.progressed { 0 } else { quiet + 1 };
    }
    (shapes, failures.into_iter().collect())
}

/// `(enum, tag, variant)` of every pinned line.
fn tags(text: &str) -> Vec<(String, String, String)> {
    let mut current = String::new();
    let mut tags = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("enum ") {
            current = name.to_owned();
        } else if let Some(variant) = line.strip_prefix("  ") {
            let mut parts = variant.splitn(2, ' ');
            let tag = parts.next().unwrap_or_default().to_owned();
            let rest = parts.next().unwrap_or_default().to_owned();
            tags.push((current.clone(), tag, rest));
        }
    }
    tags
}

const PINNED: &str = include_str!("journal_shapes.txt");

#[test]
fn every_journaled_type_keeps_its_shape() {
    let traced = traced();
    assert!(
        traced.failures.is_empty(),
        "the tracer could not make up a value: {:?}",
        traced.failures
    );
    let current = &traced.table;
    if current != PINNED {
        eprintln!("the journaled types now:\n{current}");
    }
    let now: BTreeSet<(String, String, String)> = tags(current).into_iter().collect();
    let moved: Vec<String> = tags(PINNED)
        .into_iter()
        .filter(|pinned| !now.contains(pinned))
        .map(|(name, tag, variant)| format!("{name}: tag {tag} was `{variant}`"))
        .collect();
    assert!(
        moved.is_empty(),
        "journaled variants moved, were removed or changed their fields, so old journals would \
         decode differently (append new variants at the end instead; docs/journal-format.md): {moved:#?}"
    );
    assert_eq!(
        current, PINNED,
        "a journaled type changed shape. If you only appended variants, pin them: copy the text \
         above into crates/ets-engine/tests/journal_shapes.txt. Anything else breaks old journals"
    );
}

#[test]
fn the_tracer_reaches_every_command_kind() {
    // Goal: the pinned table really covers the journal: every variant of
    // every enum was reached, so every command kind's fields are pinned.
    let traced = traced();
    let unreached: Vec<&str> = traced
        .table
        .lines()
        .filter(|line| line.contains("(never reached)"))
        .map(str::trim)
        .collect::<Vec<_>>();
    assert!(unreached.is_empty(), "{unreached:?}");
    let names = &traced.enums;
    for name in [
        "Command",
        "RegistryCommand",
        "ComplianceCommand",
        "ExchangeCommand",
        "ClockCommand",
    ] {
        assert!(names.contains(name), "{name} not reached: {names:?}");
    }
}
