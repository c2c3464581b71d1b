//! The serving DB presents the contract (data.md, "Where clean records are read"): `pins`,
//! `geos` and `users` read through `query` (what `pinpipe sql --on serving` prints) have data.md's
//! clean columns first, in data.md's order, with its JSON types, exactly as `pinpipe clean` writes
//! the same records; extra columns follow. On SQLite, and on PostgreSQL when `TEST_POSTGRES_URL`
//! names a server (scripts/test starts one). Also: a serving DB made before migration 0004 is
//! migrated to that shape with its rows, and the migrations of both backends are the same list.
//! The migrated schemas of `pins`, `geos` and `users` are the model's catalogue of clean columns
//! (pinpipe_model::columns) followed by `EXTRAS`, and that catalogue is data.md's list below.

use std::path::Path;

use chrono::{DateTime, Utc};
use pinpipe_model::{CleanRecord, EventType, columns};
use pinpipe_serving::query::{Rows, query};
use pinpipe_serving::{Change, OffsetMove, Origin, ServingConfig, ServingDb, ServingError};
use serde_json::Value;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// data.md's clean columns, in data.md's order (written out here, not taken from the code).
const PIN_COLUMNS: &[&str] = &[
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
const GEO_COLUMNS: &[&str] = &["ind", "country", "coordinates", "timestamp"];
const USER_COLUMNS: &[&str] = &["ind", "user_name", "age", "date_joined"];
/// What follows the contract's columns in every one of the three tables.
const EXTRAS: &[&str] = &["received_at", "log_partition", "log_offset"];

const PINS: &[&str] = &[
    r#"{"index": 7, "unique_id": " p-1 ", "title": " Tree ", "description": "No description available", "poster_name": "Zoë", "follower_count": "4.35k", "tag_list": "Noël, b ,,c", "is_image_or_video": "multi-video(story page format)", "image_src": "https://i.pinimg.com/x.jpg", "downloaded": 1, "save_location": "Local save in /data/art", "category": " Art "}"#,
    r#"{"index": 8, "unique_id": "p-2", "follower_count": -5, "tag_list": "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e", "is_image_or_video": "image", "downloaded": false}"#,
    r#"{"index": 9, "unique_id": "p-3", "title": "a \"quoted\" \\ title\n", "follower_count": 9223372036854775807, "tag_list": "a\"b,\\c,/d", "downloaded": null}"#,
    r#"{"index": 0, "unique_id": "", "downloaded": true, "follower_count": 0}"#,
];
const GEOS: &[&str] = &[
    r#"{"ind": 1, "timestamp": "2020-08-28 03:52:47", "latitude": 45, "longitude": -73.5, "country": " Chad "}"#,
    r#"{"ind": 2, "timestamp": "2019-12-31T23:30:00.999-02:00", "latitude": 0.1, "longitude": 12.345678901234567}"#,
    r#"{"ind": 3, "timestamp": "2020-02-30 10:00:00", "latitude": -0.0, "longitude": 1e-300}"#,
    r#"{"ind": 4, "timestamp": "9999-12-31T23:59:59Z", "latitude": 91, "longitude": 0, "country": "   "}"#,
    r#"{"ind": 5, "latitude": -90, "longitude": 180.0, "country": "Åland Islands"}"#,
];
const USERS: &[&str] = &[
    r#"{"ind": 1, "first_name": " Ann", "last_name": "Lee ", "age": 30, "date_joined": "2015-01-02T03:04:05+01:00"}"#,
    r#"{"ind": 2, "first_name": "", "last_name": " ", "age": 121, "date_joined": "2017:10:10 10:10:10"}"#,
    r#"{"ind": 3, "last_name": "Kim", "age": 0}"#,
];

fn clean(kind: EventType, raw: &str) -> CleanRecord<'static> {
    kind.clean_json(raw.as_bytes()).unwrap().into_owned()
}

fn received(second: u32) -> DateTime<Utc> {
    at_second(second) + chrono::Duration::milliseconds(250)
}

fn at_second(second: u32) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("2026-01-02T03:04:{second:02}Z"))
        .unwrap()
        .with_timezone(&Utc)
}

/// One micro-batch holding every record above, at offsets `first..` of partition 0 of each
/// topic (the offsets move from `from`).
fn change(from: Option<u64>, first: u64) -> Change {
    let origin = |i: usize| Origin {
        partition: 0,
        offset: first + i as u64,
        received_at: received(i as u32),
    };
    let mut change = Change::default();
    for (i, raw) in PINS.iter().enumerate() {
        let CleanRecord::Pin(pin) = clean(EventType::Pin, raw) else {
            unreachable!()
        };
        change.pins.push((pin, origin(i)));
    }
    for (i, raw) in GEOS.iter().enumerate() {
        let CleanRecord::Geo(geo) = clean(EventType::Geo, raw) else {
            unreachable!()
        };
        change.geos.push((geo, origin(i)));
    }
    for (i, raw) in USERS.iter().enumerate() {
        let CleanRecord::User(user) = clean(EventType::User, raw) else {
            unreachable!()
        };
        change.users.push((user, origin(i)));
    }
    for (topic, n) in [
        ("pins", PINS.len()),
        ("geos", GEOS.len()),
        ("users", USERS.len()),
    ] {
        change.offsets.push(OffsetMove {
            topic: topic.into(),
            partition: 0,
            from,
            to: first + n as u64,
        });
    }
    change.records = (PINS.len() + GEOS.len() + USERS.len()) as u64;
    change
}

/// `pinpipe clean --type KIND` of `raw`, parsed.
fn clean_json(kind: EventType, raw: &str) -> Value {
    serde_json::to_value(clean(kind, raw)).unwrap()
}

/// Asserts that `rows` are `raw`'s clean records (in that order): the contract's columns first,
/// in order, each value's JSON text as `pinpipe clean` writes it, then `EXTRAS` (when `star`).
fn assert_contract(rows: &Rows, kind: EventType, columns: &[&str], raw: &[&str], star: bool) {
    let expected_columns: Vec<&str> = if star {
        columns.iter().chain(EXTRAS).copied().collect()
    } else {
        columns.to_vec()
    };
    assert_eq!(rows.columns, expected_columns, "{kind:?} columns");
    assert_eq!(rows.rows.len(), raw.len(), "{kind:?} rows");
    for (row, raw) in rows.rows.iter().zip(raw) {
        let expected = clean_json(kind, raw);
        for (i, column) in columns.iter().enumerate() {
            // Compared as text: -0.0 and 0.0 are equal as numbers, not as JSON.
            assert_eq!(
                row[i].to_string(),
                expected[*column].to_string(),
                "{kind:?} {column} of {raw}"
            );
        }
    }
}

async fn assert_presents_the_contract(url: &str) {
    let order = |table: &str, key: &str| format!("SELECT * FROM {table} ORDER BY {key}");
    // PINS are in no key order; read them back in theirs.
    let pins = query(url, "SELECT * FROM pins ORDER BY log_offset")
        .await
        .unwrap();
    assert_contract(&pins, EventType::Pin, PIN_COLUMNS, PINS, true);
    let geos = query(url, &order("geos", "ind")).await.unwrap();
    assert_contract(&geos, EventType::Geo, GEO_COLUMNS, GEOS, true);
    let users = query(url, &order("users", "ind")).await.unwrap();
    assert_contract(&users, EventType::User, USER_COLUMNS, USERS, true);

    // The JSON types hold through a subquery, a view-like CTE and aliases, and for the contract
    // columns alone.
    let aliased = query(
        url,
        "WITH p AS (SELECT * FROM pins) SELECT t.tag_list AS tags, t.downloaded AS d \
         FROM (SELECT tag_list, downloaded, log_offset FROM p) t ORDER BY t.log_offset",
    )
    .await
    .unwrap();
    let expected: Vec<Vec<Value>> = PINS
        .iter()
        .map(|raw| {
            let pin = clean_json(EventType::Pin, raw);
            vec![pin["tag_list"].clone(), pin["downloaded"].clone()]
        })
        .collect();
    assert_eq!(aliased.rows, expected);
    let contract = query(
        url,
        &format!(
            "SELECT {} FROM geos ORDER BY ind",
            GEO_COLUMNS
                .iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
    .await
    .unwrap();
    assert_contract(&contract, EventType::Geo, GEO_COLUMNS, GEOS, false);
}

/// Writing is unchanged in meaning: a replayed batch is fenced and changes nothing, a later
/// record of a key replaces its row, an earlier one does not.
async fn assert_exactly_once(db: &ServingDb, url: &str) {
    let before = query(url, "SELECT * FROM geos ORDER BY ind").await.unwrap();
    let replay = db.apply("g", &change(None, 0)).await;
    assert!(
        matches!(replay, Err(ServingError::Fenced { .. })),
        "{replay:?}"
    );
    assert_eq!(
        query(url, "SELECT * FROM geos ORDER BY ind").await.unwrap(),
        before
    );

    let n = |t: usize| t as u64;
    let mut later = Change::default();
    let geo = |raw: &str| match clean(EventType::Geo, raw) {
        CleanRecord::Geo(geo) => geo,
        _ => unreachable!(),
    };
    let at = |offset: u64| Origin {
        partition: 0,
        offset,
        received_at: received(59),
    };
    // ind 1 again at a later offset (wins), ind 2 again at an earlier one (loses).
    later.geos.push((
        geo(r#"{"ind": 1, "latitude": -1.25, "longitude": 2, "timestamp": "2021-01-01 00:00:00"}"#),
        at(n(GEOS.len()) + 10),
    ));
    later
        .geos
        .push((geo(r#"{"ind": 2, "country": "old"}"#), at(0)));
    later.offsets.push(OffsetMove {
        topic: "geos".into(),
        partition: 0,
        from: Some(n(GEOS.len())),
        to: n(GEOS.len()) + 11,
    });
    db.apply("g", &later).await.unwrap();
    let after = query(
        url,
        "SELECT ind, country, coordinates, \"timestamp\" FROM geos WHERE ind IN (1, 2) ORDER BY ind",
    )
    .await
    .unwrap();
    let text: Vec<String> = after
        .rows
        .iter()
        .map(|r| Value::Array(r.clone()).to_string())
        .collect();
    assert_eq!(
        text,
        [
            r#"[1,null,[-1.25,2.0],"2021-01-01T00:00:00Z"]"#,
            r#"[2,null,[0.1,12.345678901234567],"2020-01-01T01:30:00Z"]"#
        ]
    );
}

#[tokio::test]
async fn sqlite_presents_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServingConfig::default();
    let db = ServingDb::open(&config, dir.path()).await.unwrap();
    let url = ServingDb::url(&config, dir.path());
    db.apply("g", &change(None, 0)).await.unwrap();
    assert_presents_the_contract(&url).await;
    assert_exactly_once(&db, &url).await;
    assert_upsert_is_the_recency_rule(&db, &url).await;
    db.close().await;
}

#[tokio::test]
async fn postgres_presents_the_contract() {
    let Some(database) = Postgres::new("serving_contract").await else {
        return;
    };
    let config = ServingConfig {
        url: database.url.clone(),
    };
    let db = ServingDb::open(&config, Path::new(".")).await.unwrap();
    db.apply("g", &change(None, 0)).await.unwrap();
    assert_presents_the_contract(&database.url).await;
    assert_exactly_once(&db, &database.url).await;
    assert_upsert_is_the_recency_rule(&db, &database.url).await;
    db.close().await;
    database.drop().await;
}

/// The upsert's SQL twin of the recency rule (`apply.rs`, `LATER`) is the model's pairwise rule
/// (`pinpipe_model::recency`): for every pair of positions (same or other partition, lower,
/// equal or higher offset, earlier, equal or later receive time), a row held at the first is
/// replaced by a record at the second exactly when the model says the second is later.
async fn assert_upsert_is_the_recency_rule(db: &ServingDb, url: &str) {
    let mut positions = Vec::new();
    for partition in [0, 1] {
        for offset in [5, 6] {
            for second in [10, 11] {
                positions.push(Origin {
                    partition,
                    offset,
                    received_at: received(second),
                });
            }
        }
    }
    let pairs: Vec<(Origin, Origin)> = positions
        .iter()
        .flat_map(|held| positions.iter().map(move |incoming| (*held, *incoming)))
        .collect();
    let geo = |ind: usize, country: &str| match clean(
        EventType::Geo,
        &format!(r#"{{"ind": {}, "country": "{country}"}}"#, 1000 + ind),
    ) {
        CleanRecord::Geo(geo) => geo,
        _ => unreachable!(),
    };
    for (step, country) in ["held", "incoming"].into_iter().enumerate() {
        let mut change = Change::default();
        for (i, (held, incoming)) in pairs.iter().enumerate() {
            let origin = if step == 0 { *held } else { *incoming };
            change.geos.push((geo(i, country), origin));
        }
        change.offsets.push(OffsetMove {
            topic: "recency".into(),
            partition: 0,
            from: (step > 0).then_some(step as u64),
            to: step as u64 + 1,
        });
        db.apply("recency", &change).await.unwrap();
    }
    let rows = query(
        url,
        "SELECT ind, country FROM geos WHERE ind >= 1000 ORDER BY ind",
    )
    .await
    .unwrap();
    assert_eq!(rows.rows.len(), pairs.len());
    let mut replaced = 0;
    for (row, (held, incoming)) in rows.rows.iter().zip(&pairs) {
        let expected = if incoming.is_later_than(held) {
            replaced += 1;
            "incoming"
        } else {
            "held"
        };
        assert_eq!(
            row[1],
            Value::from(expected),
            "held at {held:?}, then {incoming:?} (row {row:?})"
        );
    }
    assert!(
        replaced > 0 && replaced < pairs.len(),
        "{replaced} of {}",
        pairs.len()
    );
}

/// A window's `total_followers` saturates at i64::MAX across batches, as within one (follower
/// counts of i64::MAX are clean values): no batch fails on it, which would stop the speed layer.
async fn assert_window_followers_saturate(db: &ServingDb, url: &str) {
    let window = pinpipe_serving::window_start(received(0));
    for (from, id) in [(None, "a"), (Some(1), "b")] {
        let mut change = Change::default();
        for followers in [i64::MAX - 1, 1] {
            change.windows.push(pinpipe_serving::WindowEvent {
                window_start: window,
                category: "art".into(),
                unique_id: id.into(),
                video: false,
                image: true,
                followers,
            });
        }
        change.offsets.push(OffsetMove {
            topic: "pins".into(),
            partition: 7,
            from,
            to: from.unwrap_or(0) + 1,
        });
        db.apply("w", &change).await.unwrap();
    }
    let windows = query(
        url,
        "SELECT events, distinct_pins, images, total_followers FROM pin_windows",
    )
    .await
    .unwrap();
    assert_eq!(
        Value::Array(windows.rows[0].clone()).to_string(),
        format!("[4,2,4,{}]", i64::MAX)
    );
}

#[tokio::test]
async fn sqlite_window_followers_saturate() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServingConfig::default();
    let db = ServingDb::open(&config, dir.path()).await.unwrap();
    assert_window_followers_saturate(&db, &ServingDb::url(&config, dir.path())).await;
    db.close().await;
}

#[tokio::test]
async fn postgres_window_followers_saturate() {
    let Some(database) = Postgres::new("serving_windows").await else {
        return;
    };
    let config = ServingConfig {
        url: database.url.clone(),
    };
    let db = ServingDb::open(&config, Path::new(".")).await.unwrap();
    assert_window_followers_saturate(&db, &database.url).await;
    db.close().await;
    database.drop().await;
}

/// The model's catalogue of clean columns is data.md's (as written out above).
#[test]
fn the_catalogue_is_data_md() {
    for (kind, data_md) in [
        (EventType::Pin, PIN_COLUMNS),
        (EventType::Geo, GEO_COLUMNS),
        (EventType::User, USER_COLUMNS),
    ] {
        assert_eq!(
            kind.clean_columns(),
            data_md,
            "pinpipe_model::columns of {kind:?} differs from data.md's clean columns"
        );
    }
}

/// Asserts that the serving DB's table of each type has the catalogue's columns, then `EXTRAS`;
/// `columns_of` reads a table's columns in their order from the database's own catalogue.
async fn assert_schema_is_the_catalogue<F, Fut>(backend: &str, columns_of: F)
where
    F: Fn(&'static str) -> Fut,
    Fut: std::future::Future<Output = Vec<String>>,
{
    for kind in EventType::ALL {
        let table = kind.plural();
        let actual = columns_of(table).await;
        if let Err(message) = columns::check(
            &format!("the serving DB's migrated schema (migrations/{backend}/, table `{table}`)"),
            kind,
            &actual,
            EXTRAS,
        ) {
            panic!("{message}");
        }
    }
}

#[tokio::test]
async fn sqlite_schema_is_the_catalogue() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServingConfig::default();
    let db = ServingDb::open(&config, dir.path()).await.unwrap();
    let pool = sqlx::SqlitePool::connect(&ServingDb::url(&config, dir.path()))
        .await
        .unwrap();
    assert_schema_is_the_catalogue("sqlite", |table| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT name FROM pragma_table_info(?1) ORDER BY cid")
                .bind(table)
                .fetch_all(&pool)
                .await
                .unwrap()
        }
    })
    .await;
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_applies_every_file("sqlite", &applied);
    pool.close().await;
    db.close().await;
}

#[tokio::test]
async fn postgres_schema_is_the_catalogue() {
    let Some(database) = Postgres::new("serving_catalogue").await else {
        return;
    };
    let config = ServingConfig {
        url: database.url.clone(),
    };
    let db = ServingDb::open(&config, Path::new(".")).await.unwrap();
    let pool = sqlx::PgPool::connect(&database.url).await.unwrap();
    assert_schema_is_the_catalogue("postgres", |table| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 \
                 ORDER BY ordinal_position",
            )
            .bind(table)
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    })
    .await;
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_applies_every_file("postgres", &applied);
    pool.close().await;
    db.close().await;
    database.drop().await;
}

/// Asserts that opening a fresh serving DB applied one migration per file of
/// `migrations/<backend>/` (lib.rs's `migrator!` lists every file), numbered 1, 2, ….
fn assert_applies_every_file(backend: &str, applied: &[i64]) {
    let files = migration_files(backend);
    let expected: Vec<i64> = (1..=files.len() as i64).collect();
    assert_eq!(
        applied, expected,
        "a fresh {backend} serving DB applied migrations {applied:?}, but migrations/{backend}/ \
         has {files:?}: lib.rs's migrator! must list every file"
    );
}

/// The migration files of a backend, sorted.
fn migration_files(backend: &str) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// The migrations before 0004 (the shape older serving DBs have), as lib.rs lists them.
fn old_migrator(backend: &str) -> Migrator {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let read = |file: &str| std::fs::read_to_string(dir.join(file)).unwrap();
    Migrator::with_migrations(
        [
            (1, "serving tables", "0001_serving.sql"),
            (2, "daily analytics", "0002_analytics.sql"),
            (3, "scheduler", "0003_schedule.sql"),
        ]
        .into_iter()
        .map(|(version, description, file)| {
            Migration::new(
                version,
                description.into(),
                MigrationType::Simple,
                sqlx::SqlSafeStr::into_sql_str(sqlx::AssertSqlSafe(read(file))),
                false,
            )
        })
        .collect(),
    )
}

/// Doubles in the coordinates' range, seeded (xorshift), as older DBs stored them.
fn some_doubles(n: usize) -> Vec<f64> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    (0..n)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
            let value = (unit * 2.0 - 1.0) * if i % 2 == 0 { 90.0 } else { 180.0 };
            // Some with few decimals, as real coordinates have.
            if i % 3 == 0 {
                (value * 1e4).round() / 1e4
            } else {
                value
            }
        })
        .collect()
}

/// Old-shape rows, the statements for a backend ($1… placeholders are written by sqlx's
/// QueryBuilder, so the same text serves both).
async fn migrated_rows_keep_their_values(url: &str, old: &Migrator) {
    let doubles = some_doubles(400);
    macro_rules! fill {
        ($pool:expr, $db:ty, $time:expr, $part:expr, $tags:literal) => {{
            let pool = $pool;
            old.run(&pool).await.unwrap();
            let mut q = sqlx::QueryBuilder::<$db>::new(
                "INSERT INTO pins (unique_id, ind, title, description, poster_name, follower_count, \
                 tag_list, media_type, image_src, downloaded, save_location, category, received_at, \
                 log_partition, log_offset) ",
            );
            q.push_values([("o-1", 1i64, true), ("o-2", 2, false)], |mut b, (id, ind, d)| {
                b.push_bind(id)
                    .push_bind(ind)
                    .push_bind("Old")
                    .push_bind(None::<String>)
                    .push_bind(None::<String>)
                    .push_bind(Some(35_000i64))
                    .push_bind(r#"["a","Noël"]"#)
                    .push_unseparated($tags)
                    .push_bind("image")
                    .push_bind(None::<String>)
                    .push_bind(d)
                    .push_bind("/data/art")
                    .push_bind("art")
                    .push_bind($time(received(1)))
                    .push_bind($part(0))
                    .push_bind(ind);
            });
            q.build().execute(&pool).await.unwrap();
            let rows: Vec<(i64, Option<f64>, Option<f64>)> = doubles
                .chunks(2)
                .enumerate()
                .map(|(i, c)| (i as i64, Some(c[0]), Some(c[1])))
                .chain([(1_000, None, Some(1.0)), (1_001, Some(90.0), Some(-180.0))])
                .collect();
            for chunk in rows.chunks(100) {
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO geos (ind, country, latitude, longitude, \"timestamp\", received_at, \
                     log_partition, log_offset) ",
                );
                q.push_values(chunk, |mut b, (ind, lat, lon)| {
                    b.push_bind(*ind)
                        .push_bind("Chad")
                        .push_bind(*lat)
                        .push_bind(*lon)
                        .push_bind($time(at_second(2)))
                        .push_bind($time(received(3)))
                        .push_bind($part(0))
                        .push_bind(*ind);
                });
                q.build().execute(&pool).await.unwrap();
            }
            pool.close().await;
            rows
        }};
    }
    let rows = if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        fill!(
            pool,
            sqlx::Sqlite,
            |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            |p: i64| p,
            ""
        )
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        fill!(
            pool,
            sqlx::Postgres,
            |t: DateTime<Utc>| t,
            |p: i32| p,
            "::jsonb"
        )
    };

    // Opening the DB applies 0004.
    let config = ServingConfig { url: url.into() };
    let db = ServingDb::open(&config, Path::new(".")).await.unwrap();
    let pins = query(url, "SELECT * FROM pins ORDER BY unique_id")
        .await
        .unwrap();
    let mut columns: Vec<&str> = PIN_COLUMNS.to_vec();
    columns.extend(EXTRAS);
    assert_eq!(pins.columns, columns);
    let text: Vec<String> = pins
        .rows
        .iter()
        .map(|r| Value::Array(r[..12].to_vec()).to_string())
        .collect();
    assert_eq!(
        text,
        [
            r#"[1,"o-1","Old",null,null,35000,["a","Noël"],"image",null,true,"/data/art","art"]"#,
            r#"[2,"o-2","Old",null,null,35000,["a","Noël"],"image",null,false,"/data/art","art"]"#,
        ]
    );
    let geos = query(url, "SELECT * FROM geos ORDER BY ind").await.unwrap();
    let mut columns: Vec<&str> = GEO_COLUMNS.to_vec();
    columns.extend(EXTRAS);
    assert_eq!(geos.columns, columns);
    assert_eq!(geos.rows.len(), rows.len());
    for (row, (ind, lat, lon)) in geos.rows.iter().zip(&rows) {
        let expected = match (lat, lon) {
            (Some(lat), Some(lon)) => serde_json::to_string(&[lat, lon]).unwrap(),
            _ => "null".into(),
        };
        assert_eq!(row[0], *ind);
        assert_eq!(row[2].to_string(), expected, "coordinates of {ind}");
        assert_eq!(row[3], "2026-01-02T03:04:02Z");
    }
    // And the speed layer writes the migrated tables.
    db.apply("g", &change(None, 10)).await.unwrap();
    let pins = query(url, "SELECT count(*) AS n FROM pins").await.unwrap();
    assert_eq!(pins.rows[0][0], 2 + PINS.len() as u64);
    db.close().await;
}

#[tokio::test]
async fn sqlite_rows_from_before_0004_are_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("serving.db");
    std::fs::File::create(&path).unwrap();
    let url = format!("sqlite:{}", path.display());
    migrated_rows_keep_their_values(&url, &old_migrator("sqlite")).await;
}

#[tokio::test]
async fn postgres_rows_from_before_0004_are_migrated() {
    let Some(database) = Postgres::new("serving_migrate").await else {
        return;
    };
    migrated_rows_keep_their_values(&database.url, &old_migrator("postgres")).await;
    database.drop().await;
}

/// Both backends have the same migration files, and lib.rs's `migrator!` lists every one.
#[test]
fn both_backends_have_the_same_migrations_all_listed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sqlite = migration_files("sqlite");
    assert_eq!(sqlite, migration_files("postgres"));
    let lib = std::fs::read_to_string(root.join("src/lib.rs")).unwrap();
    for (i, name) in sqlite.iter().enumerate() {
        assert!(
            name.starts_with(&format!("{:04}_", i + 1)),
            "{name}: migrations are numbered 0001, 0002, …"
        );
        assert!(
            lib.contains(&format!("\"/{name}\"")),
            "{name} is not in lib.rs's migrator!"
        );
    }
}

/// A fresh PostgreSQL database on the server `TEST_POSTGRES_URL` names, or `None` (reported).
struct Postgres {
    admin: String,
    name: String,
    url: String,
}

impl Postgres {
    async fn new(prefix: &str) -> Option<Postgres> {
        let Ok(admin) = std::env::var("TEST_POSTGRES_URL") else {
            assert!(
                std::env::var_os("CI").is_none(),
                "TEST_POSTGRES_URL is not set: scripts/test starts PostgreSQL"
            );
            eprintln!("NOT RUN: set TEST_POSTGRES_URL (scripts/test does)");
            return None;
        };
        let name = format!("{prefix}_{}", std::process::id());
        let pool = sqlx::PgPool::connect(&admin).await.unwrap();
        for statement in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&pool)
                .await
                .unwrap();
        }
        pool.close().await;
        let url = admin
            .rsplit_once('/')
            .map(|(base, _)| format!("{base}/{name}"))
            .unwrap();
        Some(Postgres { admin, name, url })
    }

    async fn drop(self) {
        let pool = sqlx::PgPool::connect(&self.admin).await.unwrap();
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&pool)
        .await;
        pool.close().await;
    }
}
