//! The cleaning rules of data.md: raw record in, clean record out.
//!
//! One small function per column, so each rule reads like its row in the contract. Both the speed
//! layer and the batch layer call [`crate::EventType::clean_json`]; there is no second copy.
//!
//! Clean records borrow their text from the raw JSON where it needs no change (most values only
//! lose nothing when trimmed), so cleaning allocates only for values it must rewrite. Call
//! `into_owned` to keep a record beyond its raw input.

use std::borrow::Cow;

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

impl Unusable {
    /// A short code for the kind of problem (the dead-letter metrics' `reason` label; the
    /// `dead_letter` table keeps the full message).
    pub fn code(&self) -> &'static str {
        match self {
            Unusable::InvalidJson(_) => "invalid_json",
            Unusable::NotAnObject(_) => "not_object",
            Unusable::MissingField(_) => "missing_field",
            Unusable::WrongType { .. } => "wrong_type",
        }
    }
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

impl MediaType {
    /// `image` or `video`, as the clean record writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Image => "image",
            MediaType::Video => "video",
        }
    }
}

/// A clean pin; fields in the column order of data.md.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CleanPin<'a> {
    /// The raw `index`; joins geo and user `ind`.
    pub ind: i64,
    /// The trimmed `unique_id`: the pin's key.
    pub unique_id: Cow<'a, str>,
    /// Trimmed; no blanks or placeholder.
    pub title: Option<Cow<'a, str>>,
    /// Trimmed; no blanks or placeholders.
    pub description: Option<Cow<'a, str>>,
    /// Trimmed; no blanks or placeholder.
    pub poster_name: Option<Cow<'a, str>>,
    /// Parsed from `"35k"`-style strings or taken from an integer.
    pub follower_count: Option<i64>,
    /// The tags, trimmed, never null.
    pub tag_list: Vec<Cow<'a, str>>,
    /// From `is_image_or_video`.
    pub media_type: Option<MediaType>,
    /// An http(s) URL as given.
    pub image_src: Option<Cow<'a, str>>,
    /// From 0/1 or false/true.
    pub downloaded: Option<bool>,
    /// The path without the `"Local save in "` prefix.
    pub save_location: Option<Cow<'a, str>>,
    /// Trimmed and lower-cased.
    pub category: Option<Cow<'a, str>>,
}

/// A clean geolocation record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CleanGeo<'a> {
    /// The key; joins pin `ind`.
    pub ind: i64,
    /// Trimmed; no blanks.
    pub country: Option<Cow<'a, str>>,
    /// `[latitude, longitude]`, both in range, or null.
    pub coordinates: Option<[f64; 2]>,
    /// In UTC.
    pub timestamp: Option<Timestamp>,
}

/// A clean user record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CleanUser<'a> {
    /// The key; joins pin `ind`.
    pub ind: i64,
    /// Trimmed first and last name joined by a space.
    pub user_name: Option<Cow<'a, str>>,
    /// 0–120.
    pub age: Option<i64>,
    /// In UTC.
    pub date_joined: Option<Timestamp>,
}

/// A clean record of any type.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum CleanRecord<'a> {
    /// A clean pin.
    Pin(CleanPin<'a>),
    /// A clean geolocation record.
    Geo(CleanGeo<'a>),
    /// A clean user record.
    User(CleanUser<'a>),
}

/// The de-duplication key of a clean record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKey {
    /// A pin's trimmed `unique_id`.
    UniqueId(String),
    /// A geo or user record's `ind`.
    Ind(i64),
}

impl CleanRecord<'_> {
    /// The record's de-duplication key.
    pub fn key(&self) -> RecordKey {
        match self {
            CleanRecord::Pin(pin) => RecordKey::UniqueId(pin.unique_id.to_string()),
            CleanRecord::Geo(geo) => RecordKey::Ind(geo.ind),
            CleanRecord::User(user) => RecordKey::Ind(user.ind),
        }
    }
}

/// A `Cow` that no longer borrows.
fn own<'b>(text: Cow<'_, str>) -> Cow<'b, str> {
    Cow::Owned(text.into_owned())
}

impl CleanRecord<'_> {
    /// The record, owning all its text.
    pub fn into_owned(self) -> CleanRecord<'static> {
        match self {
            CleanRecord::Pin(pin) => CleanRecord::Pin(pin.into_owned()),
            CleanRecord::Geo(geo) => CleanRecord::Geo(CleanGeo {
                country: geo.country.map(own),
                ..geo
            }),
            CleanRecord::User(user) => CleanRecord::User(CleanUser {
                user_name: user.user_name.map(own),
                ..user
            }),
        }
    }
}

impl CleanPin<'_> {
    /// The pin, owning all its text.
    pub fn into_owned(self) -> CleanPin<'static> {
        CleanPin {
            unique_id: own(self.unique_id),
            title: self.title.map(own),
            description: self.description.map(own),
            poster_name: self.poster_name.map(own),
            tag_list: self.tag_list.into_iter().map(own).collect(),
            image_src: self.image_src.map(own),
            save_location: self.save_location.map(own),
            category: self.category.map(own),
            ..self
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
fn string(field: Option<Field<'_>>) -> Option<Cow<'_, str>> {
    match field {
        Some(Field::Str(text)) => Some(text),
        _ => None,
    }
}

/// Applies a rule that picks a part of the text: borrowed text stays borrowed.
fn part_of<'a>(
    text: Cow<'a, str>,
    rule: impl FnOnce(&str) -> Option<&str>,
) -> Option<Cow<'a, str>> {
    match text {
        Cow::Borrowed(text) => rule(text).map(Cow::Borrowed),
        Cow::Owned(text) => rule(&text).map(|part| Cow::Owned(part.to_owned())),
    }
}

/// Cleans one raw pin given as JSON.
pub fn clean_pin_json(json: &[u8]) -> Result<CleanPin<'_>, Unusable> {
    clean_pin(read::<LenientPin<'_>>(json)?)
}

/// Cleans one raw geolocation record given as JSON.
pub fn clean_geo_json(json: &[u8]) -> Result<CleanGeo<'_>, Unusable> {
    clean_geo(read::<LenientGeo<'_>>(json)?)
}

/// Cleans one raw user record given as JSON.
pub fn clean_user_json(json: &[u8]) -> Result<CleanUser<'_>, Unusable> {
    clean_user(read::<LenientUser<'_>>(json)?)
}

/// Cleans one raw pin.
pub fn clean_pin(raw: LenientPin<'_>) -> Result<CleanPin<'_>, Unusable> {
    let ind = required_int(&raw.index, "index")?;
    let unique_id = match raw.unique_id {
        None => return Err(Unusable::MissingField("unique_id")),
        Some(Field::Str(id)) => part_of(id, |id| Some(trim(id))).unwrap_or_default(),
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
        title: text_column(raw.title, &[NO_TITLE]),
        description: text_column(raw.description, &NO_DESCRIPTION),
        poster_name: text_column(raw.poster_name, &[USER_INFO_ERROR]),
        follower_count: follower_count(&raw.follower_count),
        tag_list: string(raw.tag_list).map_or_else(Vec::new, tag_list),
        media_type: string(raw.is_image_or_video).and_then(|t| media_type(&t)),
        image_src: string(raw.image_src).and_then(image_src),
        downloaded: downloaded(&raw.downloaded),
        save_location: string(raw.save_location).and_then(save_location),
        category: string(raw.category).and_then(category),
    })
}

/// Trimmed text; blank or a placeholder is null.
fn text_column<'a>(field: Option<Field<'a>>, placeholders: &[&str]) -> Option<Cow<'a, str>> {
    part_of(string(field)?, |t| without_placeholders(t, placeholders))
}

/// A JSON integer of 0 or more as is (a negative one is null); a string by
/// [`parse_follower_count`]; anything else null.
fn follower_count(field: &Option<Field<'_>>) -> Option<i64> {
    match field {
        Some(Field::Int(i)) => (*i >= 0).then_some(*i),
        Some(Field::Str(text)) => parse_follower_count(text),
        _ => None,
    }
}

/// Split on commas, trim, drop empties; the placeholder gives no tags.
pub fn tag_list<'a>(text: impl Into<Cow<'a, str>>) -> Vec<Cow<'a, str>> {
    let text = text.into();
    if trim(&text) == NO_TAGS {
        return Vec::new();
    }
    // Sized up front: growing the vector tag by tag cost more than the tags themselves.
    let mut tags = Vec::with_capacity(text.bytes().filter(|&b| b == b',').count() + 1);
    match text {
        Cow::Borrowed(text) => {
            tags.extend(text.split(',').filter_map(non_blank).map(Cow::Borrowed))
        }
        Cow::Owned(text) => tags.extend(
            text.split(',')
                .filter_map(non_blank)
                .map(|tag| Cow::Owned(tag.to_owned())),
        ),
    }
    tags
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
pub fn image_src<'a>(text: impl Into<Cow<'a, str>>) -> Option<Cow<'a, str>> {
    let text = text.into();
    let is_url = ["http://", "https://"].iter().any(|scheme| {
        text.len() > scheme.len()
            && text.as_bytes()[..scheme.len()].eq_ignore_ascii_case(scheme.as_bytes())
    });
    is_url.then_some(text)
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
pub fn save_location<'a>(text: impl Into<Cow<'a, str>>) -> Option<Cow<'a, str>> {
    part_of(text.into(), |t| {
        non_blank(t.strip_prefix(SAVE_LOCATION_PREFIX).unwrap_or(t))
    })
}

/// Trimmed and lower-cased; blank is null.
pub fn category<'a>(text: impl Into<Cow<'a, str>>) -> Option<Cow<'a, str>> {
    let trimmed = part_of(text.into(), non_blank)?;
    // Already lower-case ASCII (every category of the source data) needs no new string.
    if trimmed
        .bytes()
        .all(|b| b.is_ascii() && !b.is_ascii_uppercase())
    {
        Some(trimmed)
    } else {
        Some(Cow::Owned(trimmed.to_lowercase()))
    }
}

/// Cleans one raw geolocation record.
pub fn clean_geo(raw: LenientGeo<'_>) -> Result<CleanGeo<'_>, Unusable> {
    Ok(CleanGeo {
        ind: required_int(&raw.ind, "ind")?,
        coordinates: coordinates(&raw.latitude, &raw.longitude),
        timestamp: string(raw.timestamp).and_then(|t| Timestamp::parse(&t)),
        country: string(raw.country).and_then(|t| part_of(t, non_blank)),
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
pub fn clean_user(raw: LenientUser<'_>) -> Result<CleanUser<'_>, Unusable> {
    Ok(CleanUser {
        ind: required_int(&raw.ind, "ind")?,
        age: raw
            .age
            .as_ref()
            .and_then(Field::as_i64)
            .filter(|age| (0..=120).contains(age)),
        date_joined: string(raw.date_joined).and_then(|t| Timestamp::parse(&t)),
        user_name: user_name(string(raw.first_name), string(raw.last_name)),
    })
}

/// The non-blank trimmed names joined by one space; null when both are blank.
pub fn user_name<'a>(
    first: Option<Cow<'a, str>>,
    last: Option<Cow<'a, str>>,
) -> Option<Cow<'a, str>> {
    let first = first.and_then(|t| part_of(t, non_blank));
    let last = last.and_then(|t| part_of(t, non_blank));
    match (first, last) {
        (Some(first), Some(last)) => Some(Cow::Owned(format!("{first} {last}"))),
        (Some(one), None) | (None, Some(one)) => Some(one),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_list_rule() {
        let cases: &[(&str, &[&str])] = &[
            ("a, b,,c ,", &["a", "b", "c"]),
            (NO_TAGS, &[]),
            ("  N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e ", &[]),
            (" ,, ,", &[]),
            ("solo", &["solo"]),
        ];
        for (input, expected) in cases {
            assert_eq!(tag_list(*input), *expected, "{input:?}");
            assert_eq!(tag_list(input.to_string()), *expected, "{input:?}");
        }
        assert!(matches!(tag_list("a, b")[1], Cow::Borrowed("b")));
    }

    #[test]
    fn follower_count_rule() {
        let cases: &[(Field<'_>, Option<i64>)] = &[
            (Field::Int(848), Some(848)),
            (Field::Int(0), Some(0)),
            (Field::Int(i64::MAX), Some(i64::MAX)),
            (Field::Int(-1), None),
            (Field::Int(-5), None),
            (Field::Int(i64::MIN), None),
            (Field::IntOutOfRange, None),
            (Field::Float(848.0), None),
            (Field::Float(-0.0), None),
            (Field::Bool(true), None),
            (Field::Null, None),
            (Field::Nested, None),
            (Field::Str(" 35k ".into()), Some(35_000)),
            (Field::Str("0".into()), Some(0)),
            (Field::Str("-5".into()), None),
            (Field::Str("-0".into()), None),
        ];
        for (field, expected) in cases {
            assert_eq!(follower_count(&Some(field.clone())), *expected, "{field:?}");
        }
        assert_eq!(follower_count(&None), None);
        let pin = |line: &str| clean_pin_json(line.as_bytes()).unwrap().follower_count;
        assert_eq!(
            pin(r#"{"index": 1, "unique_id": "u", "follower_count": -5}"#),
            None
        );
        assert_eq!(
            pin(r#"{"index": 1, "unique_id": "u", "follower_count": -9223372036854775808}"#),
            None
        );
        assert_eq!(
            pin(r#"{"index": 1, "unique_id": "u", "follower_count": 0}"#),
            Some(0)
        );
        assert_eq!(
            pin(r#"{"index": 1, "unique_id": "u", "follower_count": -0}"#),
            None
        );
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
        let name = |first: Option<&'static str>, last: Option<&'static str>| {
            user_name(first.map(Cow::from), last.map(Cow::from))
        };
        assert_eq!(
            name(Some(" Ann "), Some(" Lee")).as_deref(),
            Some("Ann Lee")
        );
        assert_eq!(name(Some("Ann"), Some("  ")).as_deref(), Some("Ann"));
        assert_eq!(name(None, Some("Lee")).as_deref(), Some("Lee"));
        assert_eq!(name(Some(""), None), None);
    }

    #[test]
    fn category_rule() {
        assert_eq!(category(" Home-Decor ").as_deref(), Some("home-decor"));
        assert_eq!(category("ΣΟΦΟΣ").as_deref(), Some("σοφος"));
        assert!(matches!(category(" travel"), Some(Cow::Borrowed("travel"))));
        assert_eq!(category("\t"), None);
    }

    #[test]
    fn records_can_outlive_their_input() {
        let record = {
            let line =
                br#"{"index": 1, "unique_id": " u ", "title": "T", "tag_list": "a,b"}"#.to_vec();
            crate::EventType::Pin
                .clean_json(&line)
                .unwrap()
                .into_owned()
        };
        let CleanRecord::Pin(pin) = record else {
            unreachable!()
        };
        assert_eq!(pin.unique_id, "u");
        assert_eq!(pin.tag_list, ["a", "b"]);
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
