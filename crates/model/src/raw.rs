//! Raw events as producers send them, typed exactly as data.md describes them.
//!
//! A value of these types has passed ingest's strict check ([`crate::validate`]). Unknown fields
//! are kept in `extra`, so a raw event round-trips through these types without losing data. The
//! emulator builds them to send; ingest gets one from every accepted request body.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

/// `follower_count` as sent: a string such as `"35k"` or an integer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum FollowerCount {
    /// A JSON integer.
    Count(i64),
    /// A JSON string such as `"848"`, `"35k"` or `"User Info Error"`.
    Text(String),
}

/// `downloaded` as sent: an integer (0/1) or a boolean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum Downloaded {
    /// A JSON boolean.
    Flag(bool),
    /// A JSON integer, normally 0 or 1.
    Number(i64),
}

/// A pin, as `POST /pin/` receives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RawPin {
    /// Joins geo and user `ind`.
    pub index: i64,
    /// The pin's id (a UUID in the source data).
    pub unique_id: String,
    /// Free text or `"No Title Data Available"`.
    pub title: Option<String>,
    /// Free text or a placeholder.
    pub description: Option<String>,
    /// A name or `"User Info Error"`.
    pub poster_name: Option<String>,
    /// `"848"`, `"35k"`, `"2M"`, `"User Info Error"` or an integer.
    pub follower_count: Option<FollowerCount>,
    /// Comma-joined tags.
    pub tag_list: Option<String>,
    /// `"image"`, `"video"`, `"multi-video(story page format)"`.
    pub is_image_or_video: Option<String>,
    /// An image URL or `"Image src error."`.
    pub image_src: Option<String>,
    /// Mostly 1.
    pub downloaded: Option<Downloaded>,
    /// `"Local save in /data/<category>"`.
    pub save_location: Option<String>,
    /// One of 13 categories.
    pub category: Option<String>,
    /// Fields data.md does not name, kept as received.
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub extra: Map<String, Value>,
}

/// A geolocation record, as `POST /geo/` receives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RawGeo {
    /// Joins pin `index`.
    pub ind: i64,
    /// One of three date-time formats (see [`crate::Timestamp::parse`]).
    pub timestamp: String,
    /// Degrees, as sent (an integer stays an integer).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<f64>))]
    pub latitude: Option<Number>,
    /// Degrees, as sent (an integer stays an integer).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<f64>))]
    pub longitude: Option<Number>,
    /// A country name.
    pub country: Option<String>,
    /// Fields data.md does not name, kept as received.
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub extra: Map<String, Value>,
}

/// A user record, as `POST /user/` receives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RawUser {
    /// Joins pin `index`.
    pub ind: i64,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Years.
    pub age: Option<i64>,
    /// One of three date-time formats (see [`crate::Timestamp::parse`]).
    pub date_joined: Option<String>,
    /// Fields data.md does not name, kept as received.
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub extra: Map<String, Value>,
}
