//! Ingest's fast path: the same type checks as [`super::check_fields`], made while serde_json
//! streams through the body, building no JSON value.
//!
//! The full check parses the body into a `serde_json::Value` (a map of owned keys and values: one
//! allocation per field, more for text) and then looks fields up in it; that was the largest
//! per-event cost of `POST /pins` after the log. Here each field name is matched against the
//! field table as it is read, each value is reduced to its JSON type, unknown fields are skipped
//! with [`IgnoredAny`] (still fully checked as JSON), and only the log key is copied.
//!
//! The scan decides only "valid, with this key". Anything else (invalid JSON, a wrong type, a
//! missing field, a field named twice, whose last value the full check would use) ends it with
//! `None`, and the caller runs the full check, which explains the problem in FastAPI's shape. So
//! the scan can make a body slower, never change an answer; the property tests in
//! `tests/properties.rs` check that it accepts exactly what the full check accepts.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{Accepts, fields_of};
use crate::EventType;

/// The log key when `body` passes [`super::validate_key`]'s checks; `None` when it does not, or
/// when only the full check can tell (see the module comment).
pub(super) fn key(kind: EventType, body: &[u8]) -> Option<String> {
    // One UTF-8 check of the whole body, then a parse that relies on it: the slice reader checks
    // each string on its own, which was 7 % of ingest's time under `POST /pins`. A body that is
    // not UTF-8 goes to the full check, which refuses it (JSON text is UTF-8, RFC 8259).
    let text = std::str::from_utf8(body).ok()?;
    let mut de = serde_json::Deserializer::from_str(text);
    let key = Body { kind }.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(key)
}

/// The JSON type of one value, as the checks see it.
enum Kind {
    Null,
    Bool,
    /// An integer that fits in i64 (`Value::as_i64` is `Some`).
    Int(i64),
    /// Any other number (a float, or an integer above i64::MAX).
    Number,
    /// A string; its text only when asked for (the pin's key).
    Str(Option<String>),
    /// An array or an object.
    Nested,
}

impl Kind {
    fn accepted(&self, accepts: Accepts) -> bool {
        matches!(
            (accepts, self),
            (Accepts::Int, Kind::Int(_))
                | (Accepts::Str, Kind::Str(_))
                | (Accepts::Number, Kind::Int(_) | Kind::Number)
                | (Accepts::StrOrInt, Kind::Str(_) | Kind::Int(_))
                | (Accepts::IntOrBool, Kind::Int(_) | Kind::Bool)
        )
    }
}

/// Reads one value into its [`Kind`]; `keep_text` copies a string's text.
struct Value {
    keep_text: bool,
}

impl<'de> DeserializeSeed<'de> for Value {
    type Value = Kind;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Kind, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Value {
    type Value = Kind;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Kind, E> {
        Ok(Kind::Bool)
    }
    fn visit_i64<E>(self, n: i64) -> Result<Kind, E> {
        Ok(Kind::Int(n))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Kind, E> {
        Ok(i64::try_from(n).map_or(Kind::Number, Kind::Int))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Kind, E> {
        Ok(Kind::Number)
    }
    fn visit_str<E>(self, text: &str) -> Result<Kind, E> {
        Ok(Kind::Str(self.keep_text.then(|| text.to_owned())))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Kind::Nested)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Kind::Nested)
    }
}

/// A field name: its place in the type's field table, `None` for a field data.md does not name.
struct Field {
    kind: EventType,
}

impl<'de> DeserializeSeed<'de> for Field {
    type Value = Option<usize>;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Option<usize>, D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Field {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E>(self, name: &str) -> Result<Option<usize>, E> {
        Ok(fields_of(self.kind).iter().position(|&(n, ..)| n == name))
    }
}

/// The whole body: an object whose fields pass the checks.
struct Body {
    kind: EventType,
}

impl<'de> DeserializeSeed<'de> for Body {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<String, D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Body {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<String, A::Error> {
        let fields = fields_of(self.kind);
        let key_field = self.kind.key_field();
        // One bit per field of the table (at most 12), set when the field has been read.
        let mut seen = 0u32;
        let mut key = None;
        while let Some(place) = map.next_key_seed(Field { kind: self.kind })? {
            let Some(i) = place else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let (name, required, accepts) = fields[i];
            if seen & (1 << i) != 0 {
                return Err(de::Error::custom(
                    "a field named twice: the full check decides",
                ));
            }
            seen |= 1 << i;
            let is_key = name == key_field;
            let value = map.next_value_seed(Value { keep_text: is_key })?;
            let ok = match value {
                Kind::Null => !required,
                ref other => other.accepted(accepts),
            };
            if !ok {
                return Err(de::Error::custom("a type check failed"));
            }
            if is_key {
                key = match value {
                    Kind::Str(Some(text)) => {
                        let trimmed = crate::text::trim(&text);
                        Some(if trimmed.len() == text.len() {
                            text
                        } else {
                            trimmed.to_owned()
                        })
                    }
                    Kind::Int(n) => Some(n.to_string()),
                    _ => None,
                };
            }
        }
        let missing = fields
            .iter()
            .enumerate()
            .any(|(i, &(_, required, _))| required && seen & (1 << i) == 0);
        match key {
            Some(key) if !missing => Ok(key),
            _ => Err(de::Error::custom("a required field is missing")),
        }
    }
}
