//! Writing a micro-batch: the same statements for both backends, built with sqlx's
//! `QueryBuilder` (which writes each backend's placeholders); only the encoding of timestamps,
//! JSON, coordinates and partitions differs, so each backend gets its expansion of one macro.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::{PgPool, QueryBuilder, Row, SqlitePool};

use crate::{Change, ServingError};

/// Rows per multi-row statement: well under both backends' limits on bound parameters
/// (32,766 for SQLite, 65,535 for PostgreSQL) with 15 columns.
const CHUNK: usize = 500;

/// "Last received wins": a stored row is replaced only by a record received later (within a
/// partition by offset, across partitions by receive time), so applying the same record twice
/// changes nothing.
const LATER: &str = "(excluded.log_partition = {t}.log_partition AND excluded.log_offset > {t}.log_offset) \
     OR (excluded.log_partition <> {t}.log_partition \
         AND (excluded.received_at > {t}.received_at \
              OR (excluded.received_at = {t}.received_at AND excluded.log_partition > {t}.log_partition)))";

fn later(table: &str) -> String {
    LATER.replace("{t}", table)
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn seconds(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn i64_of(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn tags_json(tags: &[std::borrow::Cow<'_, str>]) -> String {
    serde_json::to_string(tags).expect("strings serialise")
}

/// SQLite's `coordinates`: JSON text as `pinpipe clean` writes it (`[45.0,-73.5]`).
fn coordinates_json(coordinates: Option<[f64; 2]>) -> Option<String> {
    coordinates.map(|c| serde_json::to_string(&c).expect("finite floats serialise"))
}

/// PostgreSQL's `coordinates`: a `double precision[]`.
fn coordinates_array(coordinates: Option<[f64; 2]>) -> Option<Vec<f64>> {
    coordinates.map(|c| c.to_vec())
}

macro_rules! apply_fn {
    ($name:ident, $pool:ty, $db:ty, time_ty = $time_ty:ty, time = $time:expr, stamp = $stamp:expr, part = $part:expr, json = $json:literal, coordinates = $coordinates:expr) => {
        pub(crate) async fn $name(pool: &$pool, group: &str, change: &Change) -> Result<(), ServingError> {
            let mut tx = pool.begin().await?;
            let now = Utc::now();

            // 1. The offsets, by compare-and-set: if another writer moved them, nothing applies.
            for m in &change.offsets {
                let mut q = QueryBuilder::<$db>::new("");
                match m.from {
                    None => {
                        q.push("INSERT INTO stream_offsets (consumer_group, topic, log_partition, next_offset, updated_at) VALUES (");
                        let mut s = q.separated(", ");
                        s.push_bind(group).push_bind(&m.topic).push_bind($part(m.partition)).push_bind(i64_of(m.to)).push_bind($time(now));
                        q.push(") ON CONFLICT DO NOTHING");
                    }
                    Some(from) => {
                        q.push("UPDATE stream_offsets SET next_offset = ").push_bind(i64_of(m.to));
                        q.push(", updated_at = ").push_bind($time(now));
                        q.push(" WHERE consumer_group = ").push_bind(group);
                        q.push(" AND topic = ").push_bind(&m.topic);
                        q.push(" AND log_partition = ").push_bind($part(m.partition));
                        q.push(" AND next_offset = ").push_bind(i64_of(from));
                    }
                }
                if q.build().execute(&mut *tx).await?.rows_affected() != 1 {
                    return Err(ServingError::Fenced { topic: m.topic.clone(), partition: m.partition });
                }
            }

            // 2. Clean rows, upserted by key.
            for chunk in change.pins.chunks(CHUNK) {
                let mut q = QueryBuilder::<$db>::new(
                    "INSERT INTO pins (ind, unique_id, title, description, poster_name, follower_count, tag_list, \
                     media_type, image_src, downloaded, save_location, category, received_at, log_partition, log_offset) ",
                );
                q.push_values(chunk, |mut b, (p, o)| {
                    b.push_bind(p.ind)
                        .push_bind(p.unique_id.as_ref())
                        .push_bind(p.title.as_deref())
                        .push_bind(p.description.as_deref())
                        .push_bind(p.poster_name.as_deref())
                        .push_bind(p.follower_count)
                        .push_bind(tags_json(&p.tag_list))
                        .push_unseparated($json)
                        .push_bind(p.media_type.map(|m| m.as_str()))
                        .push_bind(p.image_src.as_deref())
                        .push_bind(p.downloaded)
                        .push_bind(p.save_location.as_deref())
                        .push_bind(p.category.as_deref())
                        .push_bind($time(o.received_at))
                        .push_bind($part(o.partition))
                        .push_bind(i64_of(o.offset));
                });
                q.push(
                    " ON CONFLICT (unique_id) DO UPDATE SET ind = excluded.ind, title = excluded.title, \
                     description = excluded.description, poster_name = excluded.poster_name, \
                     follower_count = excluded.follower_count, tag_list = excluded.tag_list, \
                     media_type = excluded.media_type, image_src = excluded.image_src, \
                     downloaded = excluded.downloaded, save_location = excluded.save_location, \
                     category = excluded.category, received_at = excluded.received_at, \
                     log_partition = excluded.log_partition, log_offset = excluded.log_offset WHERE ",
                );
                q.push(later("pins"));
                q.build().execute(&mut *tx).await?;
            }
            for chunk in change.geos.chunks(CHUNK) {
                let mut q = QueryBuilder::<$db>::new(
                    "INSERT INTO geos (ind, country, coordinates, \"timestamp\", received_at, log_partition, log_offset) ",
                );
                q.push_values(chunk, |mut b, (g, o)| {
                    b.push_bind(g.ind)
                        .push_bind(g.country.as_deref())
                        .push_bind($coordinates(g.coordinates))
                        .push_bind(g.timestamp.map(|t| $stamp(t.as_datetime())))
                        .push_bind($time(o.received_at))
                        .push_bind($part(o.partition))
                        .push_bind(i64_of(o.offset));
                });
                q.push(
                    " ON CONFLICT (ind) DO UPDATE SET country = excluded.country, \
                     coordinates = excluded.coordinates, \"timestamp\" = excluded.\"timestamp\", \
                     received_at = excluded.received_at, log_partition = excluded.log_partition, \
                     log_offset = excluded.log_offset WHERE ",
                );
                q.push(later("geos"));
                q.build().execute(&mut *tx).await?;
            }
            for chunk in change.users.chunks(CHUNK) {
                let mut q = QueryBuilder::<$db>::new(
                    "INSERT INTO users (ind, user_name, age, date_joined, received_at, log_partition, log_offset) ",
                );
                q.push_values(chunk, |mut b, (u, o)| {
                    b.push_bind(u.ind)
                        .push_bind(u.user_name.as_deref())
                        .push_bind(u.age)
                        .push_bind(u.date_joined.map(|t| $stamp(t.as_datetime())))
                        .push_bind($time(o.received_at))
                        .push_bind($part(o.partition))
                        .push_bind(i64_of(o.offset));
                });
                q.push(
                    " ON CONFLICT (ind) DO UPDATE SET user_name = excluded.user_name, age = excluded.age, \
                     date_joined = excluded.date_joined, received_at = excluded.received_at, \
                     log_partition = excluded.log_partition, log_offset = excluded.log_offset WHERE ",
                );
                q.push(later("users"));
                q.build().execute(&mut *tx).await?;
            }

            // 3. Dead letters, once each.
            for chunk in change.dead.chunks(CHUNK) {
                let mut q = QueryBuilder::<$db>::new(
                    "INSERT INTO dead_letter (topic, log_partition, log_offset, received_at, reason, raw) ",
                );
                q.push_values(chunk, |mut b, d| {
                    b.push_bind(&d.topic)
                        .push_bind($part(d.origin.partition))
                        .push_bind(i64_of(d.origin.offset))
                        .push_bind($time(d.origin.received_at))
                        .push_bind(&d.reason)
                        .push_bind(d.raw.as_deref());
                });
                q.push(" ON CONFLICT DO NOTHING");
                q.build().execute(&mut *tx).await?;
            }

            // 4. Window aggregates: counts summed in the batch, distinct pins through the keys
            // table (a key counts once per window and category, across batches too).
            if !change.windows.is_empty() {
                let mut sums: HashMap<(DateTime<Utc>, &str), [i64; 5]> = HashMap::new();
                let mut keys: Vec<(DateTime<Utc>, &str, &str)> = Vec::new();
                for w in &change.windows {
                    let s = sums.entry((w.window_start, w.category.as_str())).or_default();
                    s[0] += 1;
                    s[2] += i64::from(w.video);
                    s[3] += i64::from(w.image);
                    s[4] = s[4].saturating_add(w.followers);
                    keys.push((w.window_start, w.category.as_str(), w.unique_id.as_str()));
                }
                keys.sort_unstable();
                keys.dedup();
                for chunk in keys.chunks(CHUNK) {
                    let mut q = QueryBuilder::<$db>::new("INSERT INTO pin_window_keys (window_start, category, unique_id) ");
                    q.push_values(chunk, |mut b, (start, category, id)| {
                        b.push_bind($stamp(*start)).push_bind(*category).push_bind(*id);
                    });
                    q.push(" ON CONFLICT DO NOTHING RETURNING category, window_start");
                    for row in q.build().fetch_all(&mut *tx).await? {
                        let category: String = row.try_get(0)?;
                        let start: $time_ty = row.try_get(1)?;
                        // A batch spans few windows: a scan is cheaper than another map.
                        let key = sums
                            .keys()
                            .find(|(s, c)| *c == category && $stamp(*s) == start)
                            .copied();
                        if let Some(key) = key {
                            sums.get_mut(&key).expect("found above")[1] += 1;
                        }
                    }
                }
                let sums: Vec<_> = sums.into_iter().collect();
                for chunk in sums.chunks(CHUNK) {
                    let mut q = QueryBuilder::<$db>::new(
                        "INSERT INTO pin_windows (window_start, category, events, distinct_pins, videos, images, total_followers) ",
                    );
                    q.push_values(chunk, |mut b, ((start, category), s)| {
                        b.push_bind($stamp(*start))
                            .push_bind(*category)
                            .push_bind(s[0])
                            .push_bind(s[1])
                            .push_bind(s[2])
                            .push_bind(s[3])
                            .push_bind(s[4]);
                    });
                    q.push(
                        " ON CONFLICT (window_start, category) DO UPDATE SET \
                         events = pin_windows.events + excluded.events, \
                         distinct_pins = pin_windows.distinct_pins + excluded.distinct_pins, \
                         videos = pin_windows.videos + excluded.videos, \
                         images = pin_windows.images + excluded.images, \
                         total_followers = CASE \
                             WHEN pin_windows.total_followers > 9223372036854775807 - excluded.total_followers \
                             THEN 9223372036854775807 \
                             ELSE pin_windows.total_followers + excluded.total_followers END",
                    );
                    q.build().execute(&mut *tx).await?;
                }
            }

            tx.commit().await?;
            Ok(())
        }
    };
}

apply_fn!(
    sqlite,
    SqlitePool,
    sqlx::Sqlite,
    time_ty = String,
    time = rfc3339,
    stamp = seconds,
    part = |p: u32| i64::from(p),
    json = "",
    coordinates = coordinates_json
);
apply_fn!(postgres, PgPool, sqlx::Postgres, time_ty = DateTime<Utc>,
    time = |t: DateTime<Utc>| t, stamp = |t: DateTime<Utc>| t,
    part = |p: u32| i32::try_from(p).unwrap_or(i32::MAX), json = "::jsonb",
    coordinates = coordinates_array);
