//! Records no pinpipe ingest would accept — other producers can write anything to a Kafka
//! topic — go to the dead-letter table with their bytes and reason; they never stop the speed
//! layer and never replace a good row of the same key. A real local event log and a real SQLite
//! serving DB, driven through the crates' public APIs.

use std::time::{Duration, Instant};

use pinpipe_log::{EventLog, LogConfig, NewRecord, now_ms};
use pinpipe_serving::{ServingConfig, ServingDb, query::query};
use pinpipe_stream::StreamConfig;
use serde_json::{Value, json};

fn record(key: &str, value: &[u8]) -> NewRecord {
    NewRecord {
        key: key.as_bytes().to_vec(),
        value: value.to_vec(),
        timestamp_ms: now_ms(),
        headers: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_records_become_dead_letters_and_never_replace_good_rows() {
    let dir = tempfile::tempdir().unwrap();
    let log_config = LogConfig::default();
    let log = EventLog::open(&log_config, dir.path()).await.unwrap();
    // All under one key, so they share a partition and arrive in this order.
    let pins: Vec<NewRecord> = [
        &br#"{"index": 1, "unique_id": "k1", "title": "good"}"#[..],
        b"not json",
        b"[1, 2, 3]",
        br#"{"unique_id": "k1", "title": "no index"}"#,
        br#"{"index": "one", "unique_id": "k1"}"#,
        b"\xff\xfe",
    ]
    .iter()
    .map(|value| record("k1", value))
    .collect();
    log.append("pins", pins).await.unwrap();
    log.append(
        "geos",
        vec![
            record("7", br#"{"ind": 7, "country": " Chad "}"#),
            record("7", b"{}"),
        ],
    )
    .await
    .unwrap();

    let serving = ServingConfig::default();
    let db = ServingDb::open(&serving, dir.path()).await.unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let stream = {
        let (log, db) = (log.clone(), db.clone());
        tokio::spawn(async move {
            pinpipe_stream::SpeedLayer {
                log: &log,
                log_config: &LogConfig::default(),
                db: &db,
                config: &StreamConfig::default(),
            }
            .run(stopped)
            .await
        })
    };
    let url = ServingDb::url(&serving, dir.path());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let applied = query(
            &url,
            "SELECT COALESCE(SUM(next_offset), 0) AS n FROM stream_offsets",
        )
        .await
        .unwrap();
        if applied.rows[0][0] == json!(8) {
            break;
        }
        if stream.is_finished() {
            panic!("not applied: {applied:?}; the stream: {:?}", stream.await);
        }
        assert!(
            Instant::now() < deadline,
            "not applied in time: {applied:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(true).unwrap();
    let stats = stream.await.unwrap().unwrap();
    assert_eq!(stats.dead_letters, 6);

    let pins = query(&url, "SELECT unique_id, title FROM pins")
        .await
        .unwrap();
    assert_eq!(
        pins.rows,
        [vec![json!("k1"), json!("good")]],
        "the good row stays"
    );
    let geos = query(&url, "SELECT ind, country FROM geos").await.unwrap();
    assert_eq!(geos.rows, [vec![json!(7), json!("Chad")]]);
    let dead = query(
        &url,
        "SELECT topic, log_offset, reason, raw FROM dead_letter ORDER BY topic, log_offset",
    )
    .await
    .unwrap();
    let reasons: Vec<(String, i64, String)> = dead
        .rows
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_owned(),
                r[1].as_i64().unwrap(),
                r[2].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(reasons.len(), 6, "{reasons:?}");
    assert_eq!(reasons[0].0, "geos");
    assert!(reasons[0].2.contains("ind"), "{reasons:?}");
    let pin_reasons: Vec<&str> = reasons[1..].iter().map(|r| r.2.as_str()).collect();
    assert!(
        pin_reasons[0].starts_with("invalid JSON"),
        "{pin_reasons:?}"
    );
    assert!(
        pin_reasons[1].starts_with("not a JSON object"),
        "{pin_reasons:?}"
    );
    assert!(pin_reasons[2].contains("index"), "{pin_reasons:?}");
    assert!(pin_reasons[3].contains("index"), "{pin_reasons:?}");
    assert_eq!(reasons[1].1, 1, "offsets are kept");
    // The raw bytes are kept (shown lossily as text by the SQL output).
    assert_eq!(dead.rows[1][3], Value::String("not json".to_owned()));
    db.close().await;
    log.close().await.unwrap();
}
