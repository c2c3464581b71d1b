//! The cleaning rules of data.md: raw record in, clean record out.
//!
//! One small function per column, so each rule reads like its row in the contract. Both the speed
//! layer and the batch layer call [`crate::EventType::clean_json`]; there is no second copy.

use serde::Serialize;

use crate::follower_count::parse_follower_count;
use crate::lenient::{Field, LenientGeo, LenientPin, LenientUser};
use crate::text::{non_blank, trim, without_placeholders};
use crate::timestamp::Timestamp;

/// The `title` placeholder.
pub const NO_TITLE: &str = "No Title Data Available";
/// The `description` placeholders.
pub const NO_DESCRIPTION: [&str; 2] = [
    "No description available Story format",
    "No description available",
];
/// The `poster_name` placeholder (also seen in `follower_count`).
pub const USER_INFO_ERROR: &str = "User Info Error";
/// The `tag_list` placeholder: "No Tags Available" joined with commas letter by letter.
pub const NO_TAGS: &str = "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e";
/// The prefix removed from `save_location`.
pub const SAVE_LOCATION_PREFIX: &str = "Local save in ";

/// Why a raw record cannot be cleaned at all. Such a record goes to the dead-letter table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unusable {
    /// The bytes are not one valid JSON value.
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    /// Valid JSON, but not an object.
    #[error("not a JSON object: {0}")]
    NotAnObject(String),
    /// A field the record cannot be keyed or joined without is absent.
    #[error("missing required field `{0}`")]
    MissingField(&'static str),
    /// A field the record cannot be keyed or joined without has the wrong JSON type.
    #[error("field `{field}` must be {expected}, got {got}")]
    WrongType {
        /// The field's name.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
        /// What it was.
        got: &'static str,
    },
}

/// `media_type` of a clean pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaType {
    /// From `is_image_or_video` = `image`.
    Image,
    /// From `video` or `multi-video(story page format)`.
    Video,
}

/// A clean pin; fields in the column order of data.md.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CleanPin {
    /// The raw `index`; joins geo and user `ind`.
    pub ind: i64,
    /// The trimmed `unique_id`: the pin's key.
    pub unique_id: String,
    /// Trimmed; no blanks or placeholder.
    pub title: Option<String>,
    /// Trimmed; no blanks or placeholders.
    pub description: Option<String>,
    /// Trimmed; no blanks or placeholder.
    pub poster_name: Option<String>,
    /// Parsed from `"35k"`-style strings or taken from an integer.
    pub follower_count: Option<i64>,
    /// The tags, trimmed, never null.
    pub tag_list: Vec<String>,
    /// From `is_image_or_video`.
    pub media_type: Option<MediaType>,
    /// An http(s) URL as given.
    pub image_src: Option<String>,
    /// From 0/1 or false/true.
    pub downloaded: Option<bool>,
    /// The path without the `"Local save in "` prefix.
    pub save_location: Option<String>,
    /// Trimmed and lower-cased.
    pub category: Option<String>,
}

/// A clean geolocation record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CleanGeo {
    /// The key; joins pin `ind`.
    pub ind: i64,
    /// Trimmed; no blanks.
    pub country: Option<String>,
    /// `[latitude, longitude]`, both in range, or null.
    pub coordinates: Option<[f64; 2]>,
    /// In UTC.
    pub timestamp: Option<Timestamp>,
}

/// A clean user record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CleanUser {
    /// The key; joins pin `ind`.
    pub ind: i64,
    /// Trimmed first and last name joined by a space.
    pub user_name: Option<String>,
    /// 0–120.
    pub age: Option<i64>,
    /// In UTC.
    pub date_joined: Option<Timestamp>,
}

/// A clean record of any type.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum CleanRecord {
    /// A clean pin.
    Pin(CleanPin),
    /// A clean geolocation record.
    Geo(CleanGeo),
    /// A clean user record.
    User(CleanUser),
}

/// The de-duplication key of a clean record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKey {
    /// A pin's trimmed `unique_id`.
    UniqueId(String),
    /// A geo or user record's `ind`.
    Ind(i64),
}

impl CleanRecord {
    /// The record's de-duplication key.
    pub fn key(&self) -> RecordKey {
        match self {
            CleanRecord::Pin(pin) => RecordKey::UniqueId(pin.unique_id.clone()),
            CleanRecord::Geo(geo) => RecordKey::Ind(geo.ind),
            CleanRecord::User(user) => RecordKey::Ind(user.ind),
        }
    }
}

/// Reads a record view from JSON, telling invalid JSON from JSON that is not an object.
fn read<'a, T: serde::Deserialize<'a>>(json: &'a [u8]) -> Result<T, Unusable> {
    // One SIMD pass validates the UTF-8 of the whole line; serde_json then reads from a `str`
    // and need not validate each string again (the slowest part of reading from bytes).
    let text = simdutf8::compat::from_utf8(json)
        .map_err(|e| Unusable::InvalidJson(format!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
    serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => Unusable::NotAnObject(e.to_string()),
        _ => Unusable::InvalidJson(e.to_string()),
    })
}

/// The required integer key field (`index` or `ind`).
fn required_int(field: &Option<Field<'_>>, name: &'static str) -> Result<i64, Unusable> {
    match field {
        None => Err(Unusable::MissingField(name)),
        Some(Field::Int(i)) => Ok(*i),
        Some(other) => Err(Unusable::WrongType {
            field: name,
            expected: "an integer within the 64-bit range",
            got: other.type_name(),
        }),
    }
}

/// An optional field as a string; other JSON types count as null.
fn string<'f>(field: &'f Option<Field<'_>>) -> Option<&'f str> {
    field.as_ref().and_then(Field::as_str)
}

/// Cleans one raw pin given as JSON.
pub fn clean_pin_json(json: &[u8]) -> Result<CleanPin, Unusable> {
    clean_pin(&read::<LenientPin<'_>>(json)?)
}

/// Cleans one raw geolocation record given as JSON.
pub fn clean_geo_json(json: &[u8]) -> Result<CleanGeo, Unusable> {
    clean_geo(&read::<LenientGeo<'_>>(json)?)
}

/// Cleans one raw user record given as JSON.
pub fn clean_user_json(json: &[u8]) -> Result<CleanUser, Unusable> {
    clean_user(&read::<LenientUser<'_>>(json)?)
}

/// Cleans one raw pin.
pub fn clean_pin(raw: &LenientPin<'_>) -> Result<CleanPin, Unusable> {
    let ind = required_int(&raw.index, "index")?;
    let unique_id = match &raw.unique_id {
        None => return Err(Unusable::MissingField("unique_id")),
        Some(Field::Str(id)) => trim(id).to_owned(),
        Some(other) => {
            return Err(Unusable::WrongType {
                field: "unique_id",
                expected: "a string",
                got: other.type_name(),
            });
        }
    };
    Ok(CleanPin {
        ind,
        unique_id,
        title: text_column(&raw.title, &[NO_TITLE]),
        description: text_column(&raw.description, &NO_DESCRIPTION),
        poster_name: text_column(&raw.poster_name, &[USER_INFO_ERROR]),
        follower_count: follower_count(&raw.follower_count),
        tag_list: tag_list(string(&raw.tag_list)),
        media_type: string(&raw.is_image_or_video).and_then(media_type),
        image_src: string(&raw.image_src).and_then(image_src),
        downloaded: downloaded(&raw.downloaded),
        save_location: string(&raw.save_location).and_then(save_location),
        category: string(&raw.category).and_then(category),
    })
}

/// Trimmed text; blank or a placeholder is null.
fn text_column(field: &Option<Field<'_>>, placeholders: &[&str]) -> Option<String> {
    string(field)
        .and_then(|t| without_placeholders(t, placeholders))
        .map(str::to_owned)
}

/// A JSON integer as is; a string by [`parse_follower_count`]; anything else null.
fn follower_count(field: &Option<Field<'_>>) -> Option<i64> {
    match field {
        Some(Field::Int(i)) => Some(*i),
        Some(Field::Str(text)) => parse_follower_count(text),
        _ => None,
    }
}

/// Split on commas, trim, drop empties; the placeholder and null give no tags.
pub fn tag_list(text: Option<&str>) -> Vec<String> {
    match text {
        Some(text) if trim(text) != NO_TAGS => {
            // Sized up front: growing the vector tag by tag cost more than the tags themselves.
            let mut tags = Vec::with_capacity(text.bytes().filter(|&b| b == b',').count() + 1);
            tags.extend(text.split(',').filter_map(non_blank).map(str::to_owned));
            tags
        }
        _ => Vec::new(),
    }
}

/// `image` → image; `video` and `multi-video(story page format)` → video.
pub fn media_type(text: &str) -> Option<MediaType> {
    match trim(text) {
        "image" => Some(MediaType::Image),
        "video" | "multi-video(story page format)" => Some(MediaType::Video),
        _ => None,
    }
}

/// Kept as given when it is `http://` or `https://` (any case) and at least one more character.
pub fn image_src(text: &str) -> Option<String> {
    let is_url = ["http://", "https://"].iter().any(|scheme| {
        text.len() > scheme.len()
            && text.as_bytes()[..scheme.len()].eq_ignore_ascii_case(scheme.as_bytes())
    });
    is_url.then(|| text.to_owned())
}

/// JSON 1/true → true, 0/false → false, anything else null.
fn downloaded(field: &Option<Field<'_>>) -> Option<bool> {
    match field {
        Some(Field::Int(1) | Field::Bool(true)) => Some(true),
        Some(Field::Int(0) | Field::Bool(false)) => Some(false),
        _ => None,
    }
}

/// Without the exact `"Local save in "` prefix, trimmed; blank is null.
pub fn save_location(text: &str) -> Option<String> {
    non_blank(text.strip_prefix(SAVE_LOCATION_PREFIX).unwrap_or(text)).map(str::to_owned)
}

/// Trimmed and lower-cased; blank is null.
pub fn category(text: &str) -> Option<String> {
    non_blank(text).map(str::to_lowercase)
}

/// Cleans one raw geolocation record.
pub fn clean_geo(raw: &LenientGeo<'_>) -> Result<CleanGeo, Unusable> {
    Ok(CleanGeo {
        ind: required_int(&raw.ind, "ind")?,
        country: string(&raw.country).and_then(non_blank).map(str::to_owned),
        coordinates: coordinates(&raw.latitude, &raw.longitude),
        timestamp: string(&raw.timestamp).and_then(Timestamp::parse),
    })
}

/// `[latitude, longitude]` when both are JSON numbers within −90…90 and −180…180.
fn coordinates(latitude: &Option<Field<'_>>, longitude: &Option<Field<'_>>) -> Option<[f64; 2]> {
    fn number(field: &Option<Field<'_>>, bound: f64) -> Option<f64> {
        let value = match field {
            Some(Field::Int(i)) => *i as f64,
            Some(Field::Float(f)) => *f,
            _ => return None,
        };
        (-bound..=bound).contains(&value).then_some(value)
    }
    Some([number(latitude, 90.0)?, number(longitude, 180.0)?])
}

/// Cleans one raw user record.
pub fn clean_user(raw: &LenientUser<'_>) -> Result<CleanUser, Unusable> {
    Ok(CleanUser {
        ind: required_int(&raw.ind, "ind")?,
        user_name: user_name(string(&raw.first_name), string(&raw.last_name)),
        age: raw
            .age
            .as_ref()
            .and_then(Field::as_i64)
            .filter(|age| (0..=120).contains(age)),
        date_joined: string(&raw.date_joined).and_then(Timestamp::parse),
    })
}

/// The non-blank trimmed names joined by one space; null when both are blank.
pub fn user_name(first: Option<&str>, last: Option<&str>) -> Option<String> {
    match (first.and_then(non_blank), last.and_then(non_blank)) {
        (Some(first), Some(last)) => Some(format!("{first} {last}")),
        (Some(one), None) | (None, Some(one)) => Some(one.to_owned()),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_list_rule() {
        let cases: &[(Option<&str>, &[&str])] = &[
            (Some("a, b,,c ,"), &["a", "b", "c"]),
            (Some(NO_TAGS), &[]),
            (Some("  N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e "), &[]),
            (Some(" ,, ,"), &[]),
            (Some("solo"), &["solo"]),
            (None, &[]),
        ];
        for (input, expected) in cases {
            assert_eq!(tag_list(*input), *expected, "{input:?}");
        }
    }

    #[test]
    fn media_type_rule() {
        assert_eq!(media_type(" image "), Some(MediaType::Image));
        assert_eq!(media_type("video"), Some(MediaType::Video));
        assert_eq!(
            media_type("multi-video(story page format)"),
            Some(MediaType::Video)
        );
        assert_eq!(media_type("Image"), None);
        assert_eq!(media_type(""), None);
    }

    #[test]
    fn image_src_rule() {
        assert_eq!(
            image_src("https://i.pinimg.com/x.jpg").as_deref(),
            Some("https://i.pinimg.com/x.jpg")
        );
        assert_eq!(image_src("HTTP://x").as_deref(), Some("HTTP://x"));
        assert_eq!(image_src("https://"), None);
        assert_eq!(image_src(" https://x"), None);
        assert_eq!(image_src("Image src error."), None);
        assert_eq!(image_src("ftp://x"), None);
        assert_eq!(image_src("é"), None);
    }

    #[test]
    fn save_location_rule() {
        assert_eq!(
            save_location("Local save in /data/art").as_deref(),
            Some("/data/art")
        );
        assert_eq!(
            save_location("Local save in   /data/art ").as_deref(),
            Some("/data/art")
        );
        assert_eq!(
            save_location(" Local save in /x").as_deref(),
            Some("Local save in /x")
        );
        assert_eq!(
            save_location("local save in /x").as_deref(),
            Some("local save in /x")
        );
        assert_eq!(save_location("Local save in "), None);
    }

    #[test]
    fn user_name_rule() {
        assert_eq!(
            user_name(Some(" Ann "), Some(" Lee")).as_deref(),
            Some("Ann Lee")
        );
        assert_eq!(user_name(Some("Ann"), Some("  ")).as_deref(), Some("Ann"));
        assert_eq!(user_name(None, Some("Lee")).as_deref(), Some("Lee"));
        assert_eq!(user_name(Some(""), None), None);
    }

    #[test]
    fn keys_decide_usability() {
        assert_eq!(
            clean_pin_json(br#"{"unique_id": "u"}"#),
            Err(Unusable::MissingField("index"))
        );
        assert!(matches!(
            clean_pin_json(br#"{"index": "1", "unique_id": "u"}"#),
            Err(Unusable::WrongType { field: "index", .. })
        ));
        assert!(matches!(
            clean_geo_json(b"{\"ind\": 1"),
            Err(Unusable::InvalidJson(_))
        ));
        assert!(matches!(
            clean_user_json(b"[]"),
            Err(Unusable::NotAnObject(_))
        ));
        let geo = clean_geo_json(br#"{"ind": 3, "latitude": 90, "longitude": -180.0}"#).unwrap();
        assert_eq!(geo.coordinates, Some([90.0, -180.0]));
        assert_eq!(geo.timestamp, None);
    }
}
