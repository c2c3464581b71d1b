//! The catalogue of clean columns: data.md's clean columns of pins, geos and users, in data.md's
//! order, defined here once.
//!
//! Every place that has the clean columns takes them from here where it can
//! ([`crate::EventType::clean_columns`]). Places that must spell them out themselves (the clean
//! record structs and their JSON writer here, the batch UDFs' Arrow struct, the serving DB's
//! migrations, the lake's tables) are held to this list by tests that call [`check`], so a column
//! added in one place only fails loudly, naming the place and the column.

use crate::EventType;

/// The clean columns of a pin, in data.md's order.
pub const PIN_COLUMNS: &[&str] = &[
    "ind",
    "unique_id",
    "title",
    "description",
    "poster_name",
    "follower_count",
    "tag_list",
    "media_type",
    "image_src",
    "downloaded",
    "save_location",
    "category",
];

/// The clean columns of a geolocation record, in data.md's order.
pub const GEO_COLUMNS: &[&str] = &["ind", "country", "coordinates", "timestamp"];

/// The clean columns of a user record, in data.md's order.
pub const USER_COLUMNS: &[&str] = &["ind", "user_name", "age", "date_joined"];

/// The name of a type's list in this module, for messages.
fn catalogue_name(kind: EventType) -> &'static str {
    match kind {
        EventType::Pin => "pinpipe_model::columns::PIN_COLUMNS",
        EventType::Geo => "pinpipe_model::columns::GEO_COLUMNS",
        EventType::User => "pinpipe_model::columns::USER_COLUMNS",
    }
}

/// Checks the columns a place has for `kind` against the catalogue: `actual` must be the
/// catalogue's columns, in its order, followed by exactly `extras` (the place's own columns, such
/// as a receive time). The error names `place` and the first column that differs, and says
/// whether the place or the catalogue lacks it.
pub fn check<S: AsRef<str>>(
    place: &str,
    kind: EventType,
    actual: &[S],
    extras: &[&str],
) -> Result<(), String> {
    let catalogue = kind.clean_columns();
    let actual: Vec<&str> = actual.iter().map(AsRef::as_ref).collect();
    let expected: Vec<&str> = catalogue.iter().chain(extras).copied().collect();
    if actual == expected {
        return Ok(());
    }
    let list = catalogue_name(kind);
    let table = kind.plural();
    let unknown = actual.iter().find(|c| !expected.contains(c));
    let missing = expected.iter().find(|c| !actual.contains(c));
    let message = match (unknown, missing) {
        (Some(column), _) => format!(
            "{place}: {table} has column `{column}`, which is not in the catalogue ({list}){}: a \
             clean column must be added to the catalogue and every place that has the columns",
            if extras.is_empty() {
                String::new()
            } else {
                format!(" nor among this place's extra columns {extras:?}")
            }
        ),
        (None, Some(column)) if catalogue.contains(column) => format!(
            "{place}: {table} lacks the catalogue's column `{column}` ({list}): a clean column \
             must be added to every place that has the columns"
        ),
        (None, Some(column)) => format!("{place}: {table} lacks its extra column `{column}`"),
        (None, None) => {
            let (i, (got, want)) = actual
                .iter()
                .zip(&expected)
                .enumerate()
                .find(|(_, (got, want))| got != want)
                .unwrap_or((0, (&"?", &"?")));
            format!(
                "{place}: {table} has `{got}` as column {} where the catalogue ({list}) has \
                 `{want}`: the order must be data.md's (columns: {actual:?})",
                i + 1
            )
        }
    };
    Err(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CleanRecord;
    use crate::json_line::Escaping;

    /// One raw record of each type, every field set.
    const RAW: [(EventType, &str); 3] = [
        (
            EventType::Pin,
            r#"{"index": 7, "unique_id": "p-1", "title": "Tree", "description": "d", "poster_name": "Zoë", "follower_count": "4.35k", "tag_list": "a,b", "is_image_or_video": "image", "image_src": "https://i.pinimg.com/x.jpg", "downloaded": 1, "save_location": "Local save in /data/art", "category": "art"}"#,
        ),
        (
            EventType::Geo,
            r#"{"ind": 1, "timestamp": "2020-08-28 03:52:47", "latitude": 45, "longitude": -73.5, "country": "Chad"}"#,
        ),
        (
            EventType::User,
            r#"{"ind": 1, "first_name": "Ann", "last_name": "Lee", "age": 30, "date_joined": "2015-01-02 03:04:05"}"#,
        ),
    ];

    /// The keys of a JSON object, in the order they are written.
    fn keys_in_order(json: &[u8]) -> Vec<String> {
        struct Keys(Vec<String>);
        impl<'de> serde::Deserialize<'de> for Keys {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Visitor;
                impl<'de> serde::de::Visitor<'de> for Visitor {
                    type Value = Keys;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("a JSON object")
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<Keys, A::Error> {
                        let mut keys = Vec::new();
                        while let Some((key, serde::de::IgnoredAny)) = map.next_entry()? {
                            keys.push(key);
                        }
                        Ok(Keys(keys))
                    }
                }
                d.deserialize_map(Visitor)
            }
        }
        serde_json::from_slice::<Keys>(json).unwrap().0
    }

    fn record(kind: EventType, raw: &str) -> CleanRecord<'_> {
        kind.clean_json(raw.as_bytes()).unwrap()
    }

    fn assert_columns(place: &str, kind: EventType, actual: &[String]) {
        if let Err(message) = check(place, kind, actual, &[]) {
            panic!("{message}");
        }
    }

    #[test]
    fn serialized_clean_records_have_the_catalogue_columns() {
        for (kind, raw) in RAW {
            let json = serde_json::to_vec(&record(kind, raw)).unwrap();
            assert_columns(
                "the model's clean record (serde Serialize of pinpipe_model::clean)",
                kind,
                &keys_in_order(&json),
            );
        }
    }

    #[test]
    fn the_json_writer_writes_the_catalogue_columns() {
        for (kind, raw) in RAW {
            for escaping in [Escaping::Check, Escaping::NotNeeded] {
                let mut json = Vec::new();
                record(kind, raw).write_json(&mut json, escaping);
                assert_columns(
                    "the JSON line writer (pinpipe_model::json_line)",
                    kind,
                    &keys_in_order(&json),
                );
            }
        }
    }

    #[test]
    fn check_names_the_place_and_the_column() {
        let mut pins: Vec<&str> = PIN_COLUMNS.to_vec();
        assert_eq!(check("here", EventType::Pin, &pins, &[]), Ok(()));
        pins.push("colour");
        let added = check("here", EventType::Pin, &pins, &[]).unwrap_err();
        assert!(
            added.starts_with("here: pins has column `colour`, which is not in the catalogue"),
            "{added}"
        );
        let lacking = check(
            "there",
            EventType::Geo,
            &["ind", "country", "timestamp"],
            &[],
        );
        assert!(
            lacking
                .unwrap_err()
                .starts_with("there: geos lacks the catalogue's column `coordinates`")
        );
        let swapped = check(
            "t",
            EventType::User,
            &["ind", "age", "user_name", "date_joined", "received_at"],
            &["received_at"],
        );
        assert!(
            swapped
                .unwrap_err()
                .starts_with("t: users has `age` as column 2 where the catalogue")
        );
        let extra = check("x", EventType::User, USER_COLUMNS, &["received_at"]).unwrap_err();
        assert_eq!(extra, "x: users lacks its extra column `received_at`");
        for kind in EventType::ALL {
            assert_eq!(kind.clean_columns()[0], "ind");
            assert!(kind.clean_columns().contains(&kind.key_field()));
        }
    }
}
