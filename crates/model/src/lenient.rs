//! A lenient, zero-copy view of a raw record, for cleaning.
//!
//! Cleaning must accept anything a producer may have written to the log, so each known field is
//! read as a [`Field`] of whatever JSON type it has, and the column rules decide what a type means.
//! Unknown fields are skipped (the raw record itself stays in the log untouched). Strings without
//! escapes are borrowed from the input, so cleaning a record allocates only for its output.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

/// One field value of a raw record, whatever its JSON type.
#[derive(Debug, Clone, PartialEq)]
pub enum Field<'a> {
    /// JSON `null`.
    Null,
    /// JSON `true` / `false`.
    Bool(bool),
    /// A JSON integer that fits a signed 64-bit integer.
    Int(i64),
    /// A JSON integer above `i64::MAX` (but within `u64`).
    IntOutOfRange,
    /// A JSON number with a fraction or exponent (or an integer beyond `u64`).
    Float(f64),
    /// A JSON string, borrowed from the input where it had no escapes.
    Str(Cow<'a, str>),
    /// A JSON array or object.
    Nested,
}

impl Field<'_> {
    /// The integer, if this field is a JSON integer within the signed 64-bit range.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Field::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// A short name of the JSON type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Field::Null => "null",
            Field::Bool(_) => "a boolean",
            Field::Int(_) => "an integer",
            Field::IntOutOfRange => "an integer beyond the 64-bit range",
            Field::Float(_) => "a float",
            Field::Str(_) => "a string",
            Field::Nested => "an array or object",
        }
    }
}

impl<'de> Deserialize<'de> for Field<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldVisitor;

        impl<'de> Visitor<'de> for FieldVisitor {
            type Value = Field<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Field::Null)
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Field::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                Field::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Field::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Field::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(i64::try_from(v).map_or(Field::IntOutOfRange, Field::Int))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Field::Float(v))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Field::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Field::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Field::Str(Cow::Owned(v)))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Field::Nested)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Field::Nested)
            }
        }

        deserializer.deserialize_any(FieldVisitor)
    }
}

/// An object key, borrowed where it had no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }

        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Declares a lenient record view: a struct of optional [`Field`]s and a map visitor that fills
/// them. A field given twice keeps its last value, as JSON parsers commonly do. Written as a
/// macro because serde's derive refuses duplicate keys and has no "any JSON type" field.
macro_rules! lenient_record {
    ($(#[$meta:meta])* $name:ident { $($field:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Default, Clone, PartialEq)]
        #[allow(missing_docs)] // The fields are the raw fields of data.md, named as there.
        pub struct $name<'a> {
            $(pub $field: Option<Field<'a>>,)+
        }

        impl<'de> Deserialize<'de> for $name<'de> {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct RecordVisitor;

                impl<'de> Visitor<'de> for RecordVisitor {
                    type Value = $name<'de>;

                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a JSON object")
                    }

                    fn visit_map<A: MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<Self::Value, A::Error> {
                        let mut record = $name::default();
                        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                            match &*key {
                                $(stringify!($field) => record.$field = Some(map.next_value()?),)+
                                _ => {
                                    map.next_value::<IgnoredAny>()?;
                                }
                            }
                        }
                        Ok(record)
                    }
                }

                deserializer.deserialize_map(RecordVisitor)
            }
        }
    };
}

lenient_record! {
    /// A raw pin as cleaning sees it.
    LenientPin {
        index, unique_id, title, description, poster_name, follower_count, tag_list,
        is_image_or_video, image_src, downloaded, save_location, category,
    }
}

lenient_record! {
    /// A raw geolocation record as cleaning sees it.
    LenientGeo { ind, timestamp, latitude, longitude, country }
}

lenient_record! {
    /// A raw user record as cleaning sees it.
    LenientUser { ind, first_name, last_name, age, date_joined }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_json_type_and_borrows_plain_strings() {
        let json = r#"{"ind": 1, "timestamp": "2020-01-01 00:00:00", "latitude": 1.5,
            "longitude": 18446744073709551615, "country": ["x"], "extra": {"a": [1, 2]}}"#;
        let geo: LenientGeo<'_> = serde_json::from_str(json).unwrap();
        assert_eq!(geo.ind, Some(Field::Int(1)));
        assert!(matches!(geo.timestamp, Some(Field::Str(Cow::Borrowed(_)))));
        assert_eq!(geo.latitude, Some(Field::Float(1.5)));
        assert_eq!(geo.longitude, Some(Field::IntOutOfRange));
        assert_eq!(geo.country, Some(Field::Nested));
    }

    #[test]
    fn last_duplicate_key_wins_and_escaped_keys_match() {
        let json = r#"{"ind": 1, "ind": 2, "first\u005fname": "a\nb", "age": null}"#;
        let user: LenientUser<'_> = serde_json::from_str(json).unwrap();
        assert_eq!(user.ind, Some(Field::Int(2)));
        assert_eq!(user.first_name, Some(Field::Str(Cow::Owned("a\nb".into()))));
        assert_eq!(user.age, Some(Field::Null));
        assert_eq!(user.last_name, None);
    }

    #[test]
    fn refuses_non_objects() {
        assert!(serde_json::from_str::<LenientPin<'_>>("[1]").is_err());
        assert!(serde_json::from_str::<LenientPin<'_>>("\"x\"").is_err());
    }
}
