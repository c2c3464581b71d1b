//! The pinpipe event model, shared by every stage.
//!
//! * [`raw`]: the events as producers send them (`POST /pin/`, `/geo/`, `/user/`), typed.
//! * [`validate`]: ingest's strict check of a request body, with FastAPI-shaped 422 errors.
//! * [`lenient`]: a zero-copy, never-failing view of a raw record for cleaning, whatever its types.
//! * [`clean`]: the cleaning rules of `data.md`, one small function per column, used by both the
//!   speed layer and the batch layer so the two can never disagree.
//! * [`recency`]: "last received wins", the one recency rule; [`dedup`] applies it per key.
//! * [`columns`]: the catalogue of clean columns (data.md's, in its order), defined once.
//!
//! Nothing here does I/O, and nothing here panics on any input.
//!
//! ```
//! use pinpipe_model::{EventType, clean::CleanRecord};
//! let line = br#"{"index": 7, "unique_id": " a1 ", "follower_count": "4.35k"}"#;
//! let CleanRecord::Pin(pin) = EventType::Pin.clean_json(line).unwrap() else { unreachable!() };
//! assert_eq!(pin.unique_id, "a1");
//! assert_eq!(pin.follower_count, Some(4350));
//! ```

pub mod clean;
pub mod columns;
pub mod dedup;
pub mod follower_count;
pub mod json_line;
pub mod lenient;
pub mod raw;
pub mod recency;
pub mod text;
pub mod timestamp;
pub mod validate;

use std::fmt;
use std::str::FromStr;

pub use clean::{CleanGeo, CleanPin, CleanRecord, CleanUser, RecordKey, Unusable};
pub use dedup::LatestByKey;
pub use recency::LogPosition;
pub use timestamp::Timestamp;

/// The three kinds of event pinpipe carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    /// A pin (`POST /pin/`), keyed by its trimmed `unique_id`.
    Pin,
    /// A geolocation record (`POST /geo/`), keyed by `ind`.
    Geo,
    /// A user record (`POST /user/`), keyed by `ind`.
    User,
}

impl EventType {
    /// All event types, in the order of the original pipeline's topics.
    pub const ALL: [EventType; 3] = [EventType::Pin, EventType::Geo, EventType::User];

    /// The lower-case name used in URLs, topics and the command line (`pin`, `geo`, `user`).
    pub const fn as_str(self) -> &'static str {
        match self {
            EventType::Pin => "pin",
            EventType::Geo => "geo",
            EventType::User => "user",
        }
    }

    /// The plural name: the default topic, the lake's folders (`raw/pins`, `curated/pins`) and
    /// the tables (`pins`, `geos`, `users`) of this type.
    pub const fn plural(self) -> &'static str {
        match self {
            EventType::Pin => "pins",
            EventType::Geo => "geos",
            EventType::User => "users",
        }
    }

    /// The field that keys this type's events: their log key and their tables' primary key.
    pub const fn key_field(self) -> &'static str {
        match self {
            EventType::Pin => "unique_id",
            EventType::Geo | EventType::User => "ind",
        }
    }

    /// The clean columns of this type, in data.md's order: the catalogue
    /// ([`columns::PIN_COLUMNS`], [`columns::GEO_COLUMNS`], [`columns::USER_COLUMNS`]).
    pub const fn clean_columns(self) -> &'static [&'static str] {
        match self {
            EventType::Pin => columns::PIN_COLUMNS,
            EventType::Geo => columns::GEO_COLUMNS,
            EventType::User => columns::USER_COLUMNS,
        }
    }

    /// The event type a name stands for: its singular or its plural (`pin`, `pins`, …).
    pub fn from_name(name: &str) -> Option<EventType> {
        EventType::ALL
            .into_iter()
            .find(|kind| name == kind.as_str() || name == kind.plural())
    }

    /// Cleans one raw record given as JSON text (one line of the event log).
    ///
    /// Returns the clean record, or why the record cannot be used at all (it then belongs in the
    /// dead-letter table). Never panics.
    pub fn clean_json(self, json: &[u8]) -> Result<CleanRecord<'_>, Unusable> {
        match self {
            EventType::Pin => clean::clean_pin_json(json).map(CleanRecord::Pin),
            EventType::Geo => clean::clean_geo_json(json).map(CleanRecord::Geo),
            EventType::User => clean::clean_user_json(json).map(CleanRecord::User),
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for an unknown event type name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type `{0}`: expected one of pin, geo, user")]
pub struct UnknownEventType(pub String);

impl FromStr for EventType {
    type Err = UnknownEventType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pin" => Ok(EventType::Pin),
            "geo" => Ok(EventType::Geo),
            "user" => Ok(EventType::User),
            other => Err(UnknownEventType(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_type_names_round_trip() {
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>(), Ok(t));
            assert_eq!(t.to_string(), t.as_str());
        }
        assert!("pins".parse::<EventType>().is_err());
    }
}
