//! Rows shaped like the original course database's tables, and the request bodies made of them.

use bytes::Bytes;
use pinpipe_model::EventType;
use serde_json::Value;

use crate::pyjson;

/// The original database's table for an event type.
pub fn table_name(kind: EventType) -> &'static str {
    match kind {
        EventType::Pin => "pinterest_data",
        EventType::Geo => "geolocation_data",
        EventType::User => "user_data",
    }
}

/// The original tables' columns, in their order.
pub fn columns(kind: EventType) -> &'static [&'static str] {
    match kind {
        EventType::Pin => &[
            "index",
            "unique_id",
            "title",
            "description",
            "poster_name",
            "follower_count",
            "tag_list",
            "is_image_or_video",
            "image_src",
            "downloaded",
            "save_location",
            "category",
        ],
        EventType::Geo => &["ind", "timestamp", "latitude", "longitude", "country"],
        EventType::User => &["ind", "first_name", "last_name", "age", "date_joined"],
    }
}

/// One table: named columns and rows of JSON values (what the original emulator's `dict(row)`
/// held).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Which events its rows are.
    pub kind: EventType,
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Rows, each with one value per column.
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    /// An empty table with the original columns of `kind`.
    pub fn new(kind: EventType) -> Table {
        Table {
            kind,
            columns: columns(kind).iter().map(|c| (*c).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Each row as the JSON body the original emulator would have posted.
    pub fn bodies(&self) -> Vec<Bytes> {
        self.rows
            .iter()
            .map(|row| {
                let mut body = Vec::with_capacity(64 * row.len());
                pyjson::write_row(&self.columns, row, &mut body);
                Bytes::from(body)
            })
            .collect()
    }
}

/// The request bodies of a source, by event type, aligned by row position: the `i`-th pin, geo
/// and user together make record `i` (the original picked the same row number in each table).
#[derive(Debug, Clone, Default)]
pub struct Bodies {
    by_kind: [Vec<Bytes>; 3],
}

impl Bodies {
    /// Bodies from per-type lists (a missing type is an empty list).
    pub fn new(pins: Vec<Bytes>, geos: Vec<Bytes>, users: Vec<Bytes>) -> Bodies {
        Bodies {
            by_kind: [pins, geos, users],
        }
    }

    /// The bodies of one type.
    pub fn of(&self, kind: EventType) -> &[Bytes] {
        &self.by_kind[kind_index(kind)]
    }

    /// Number of records: the longest of the three lists.
    pub fn records(&self) -> usize {
        self.by_kind.iter().map(Vec::len).max().unwrap_or(0)
    }
}

/// 0, 1, 2 for pin, geo, user: an index into per-type arrays.
pub fn kind_index(kind: EventType) -> usize {
    match kind {
        EventType::Pin => 0,
        EventType::Geo => 1,
        EventType::User => 2,
    }
}
