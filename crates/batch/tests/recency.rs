//! The batch layer's de-duplication (pinpipe_batch::job::curated_sql) is the one recency rule
//! (pinpipe_model::recency::latest): on raw records where keys move between partitions and
//! receive times go backwards, the curated row of every key is the record `latest` picks.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    Array, AsArray, BinaryArray, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use arrow::datatypes::{DataType, Field, Schema};
use chrono::{DateTime, NaiveDate};
use datafusion::datasource::MemTable;
use pinpipe_batch::{BatchConfig, LakeSession, job};
use pinpipe_lake::{Lake, LakeConfig};
use pinpipe_model::{EventType, LogPosition, recency};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Raw pin records: `keys` keys, each received 1–6 times in up to 3 partitions, offsets rising
/// per partition, receive times random (so they go backwards within a partition, too). The
/// title names the record's position, so the winner can be read back.
fn records(seed: u64, keys: usize) -> Vec<(String, LogPosition)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut next_offset = [0u64; 3];
    let mut out = Vec::new();
    for _ in 0..keys * 3 {
        let key = format!("k{}", rng.random_range(0..keys));
        // Mostly one partition per key, as pinpipe writes it; sometimes another (a repartitioned
        // topic, a foreign producer).
        let home = (key.len() % 3) as u32;
        let partition = if rng.random_bool(0.7) {
            home
        } else {
            rng.random_range(0..3)
        };
        next_offset[partition as usize] += rng.random_range(1..3);
        let ms = 1_600_000_000_000 + rng.random_range(0..5) * 1000;
        out.push((
            key,
            LogPosition {
                partition,
                offset: next_offset[partition as usize],
                received_at: DateTime::from_timestamp_millis(ms).unwrap(),
            },
        ));
    }
    out
}

fn title(position: &LogPosition) -> String {
    format!("p{}o{}", position.partition, position.offset)
}

fn raw_batch(records: &[(String, LogPosition)]) -> RecordBatch {
    let raw = pinpipe_lake::raw::schema();
    let mut fields: Vec<Field> = raw.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("dt", DataType::Utf8, false));
    let schema = Arc::new(Schema::new(fields));
    let values: Vec<Vec<u8>> = records
        .iter()
        .map(|(key, p)| {
            format!(
                r#"{{"index": 1, "unique_id": " {key} ", "title": "{}"}}"#,
                title(p)
            )
            .into_bytes()
        })
        .collect();
    let n = records.len();
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int32Array::from_iter_values(
                records.iter().map(|(_, p)| p.partition as i32),
            )),
            Arc::new(Int64Array::from_iter_values(
                records.iter().map(|(_, p)| p.offset as i64),
            )),
            Arc::new(
                TimestampMillisecondArray::from_iter_values(
                    records
                        .iter()
                        .map(|(_, p)| p.received_at.timestamp_millis()),
                )
                .with_timezone("UTC"),
            ),
            Arc::new(BinaryArray::from_iter(
                records.iter().map(|(k, _)| Some(k.as_bytes())),
            )),
            Arc::new(BinaryArray::from_iter(
                values.iter().map(|v| Some(v.as_slice())),
            )),
            Arc::new(StringArray::from(vec![None::<&str>; n])),
            Arc::new(StringArray::from(vec![None::<&str>; n])),
            Arc::new(StringArray::from(vec!["2020-09-13"; n])),
        ],
    )
    .unwrap()
}

/// Replaces `raw_pins` of `session` with `batch`.
fn set_raw_pins(session: &LakeSession, batch: RecordBatch) {
    let table = MemTable::try_new(batch.schema(), vec![vec![batch]]).unwrap();
    session.ctx.deregister_table("raw_pins").unwrap();
    session
        .ctx
        .register_table("raw_pins", Arc::new(table))
        .unwrap();
}

/// A session on an empty local lake in `dir`.
async fn session(dir: &std::path::Path) -> LakeSession {
    let lake = Lake::open(&LakeConfig::default(), dir).unwrap();
    LakeSession::new(&lake, &BatchConfig::default())
        .await
        .unwrap()
}

#[tokio::test]
async fn curated_rows_are_the_recency_rules_winners() {
    let dir = tempfile::tempdir().unwrap();
    let session = session(dir.path()).await;
    let mut moved_keys = 0;
    for seed in 0..4 {
        let records = records(seed, 300);
        set_raw_pins(&session, raw_batch(&records));

        let mut by_key: BTreeMap<&str, Vec<LogPosition>> = BTreeMap::new();
        for (key, position) in &records {
            by_key.entry(key).or_default().push(*position);
        }
        let expected: BTreeMap<String, String> = by_key
            .iter()
            .map(|(key, positions)| {
                let partitions: std::collections::BTreeSet<u32> =
                    positions.iter().map(|p| p.partition).collect();
                moved_keys += usize::from(partitions.len() > 1);
                (key.to_string(), title(recency::latest(positions).unwrap()))
            })
            .collect();

        let date = NaiveDate::from_ymd_opt(2020, 9, 13).unwrap();
        let sql = format!(
            "SELECT unique_id, title FROM ({}) curated",
            job::curated_sql(EventType::Pin, date)
        );
        let batches = session
            .ctx
            .sql(&sql)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let mut actual = BTreeMap::new();
        for batch in &batches {
            // Whatever string type the plan gives (Utf8 or Utf8View), read it as Utf8.
            let strings = |i: usize| -> Vec<String> {
                let column = arrow::compute::cast(batch.column(i), &DataType::Utf8).unwrap();
                let column = column.as_string::<i32>();
                (0..column.len())
                    .map(|r| column.value(r).to_owned())
                    .collect()
            };
            let (ids, titles) = (strings(0), strings(1));
            for (id, title) in ids.into_iter().zip(titles) {
                assert!(
                    actual.insert(id.clone(), title).is_none(),
                    "{id} curated twice"
                );
            }
        }
        assert_eq!(
            actual, expected,
            "seed {seed}: curated rows differ from the recency rule"
        );
    }
    assert!(
        moved_keys > 100,
        "the data must exercise keys in several partitions ({moved_keys})"
    );
}

/// The de-duplication query cleans each raw record once, so the UDF's counters are exact: its
/// dead letters are the unusable records, and it cleaned as many records as the table holds
/// (DataFusion 55 used to copy the call into the scan once per field read and into the filter).
#[tokio::test]
async fn each_raw_record_is_cleaned_once() {
    let dir = tempfile::tempdir().unwrap();
    let session = session(dir.path()).await;
    let records = records(7, 200);
    let batch = raw_batch(&records);
    let unusable = 5;
    let values: Vec<Option<&[u8]>> = (0..batch.num_rows())
        .map(|i| {
            if i < unusable {
                Some(b"not json".as_slice())
            } else {
                Some(batch.column(4).as_binary::<i32>().value(i))
            }
        })
        .collect();
    let mut columns = batch.columns().to_vec();
    columns[4] = Arc::new(BinaryArray::from(values));
    set_raw_pins(
        &session,
        RecordBatch::try_new(batch.schema(), columns).unwrap(),
    );

    let date = NaiveDate::from_ymd_opt(2020, 9, 13).unwrap();
    session.dead_letters.reset();
    session
        .ctx
        .sql(&job::curated_sql(EventType::Pin, date))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(session.dead_letters.get(), [unusable as u64, 0, 0]);
    assert_eq!(session.dead_letters.cleaned(), [records.len() as u64, 0, 0]);

    // The query a cluster uses for the same number.
    let batches = session
        .ctx
        .sql(&job::dead_letters_sql(EventType::Pin, date))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let count = arrow::compute::cast(batches[0].column(0), &DataType::Int64).unwrap();
    assert_eq!(
        count.as_primitive::<arrow::datatypes::Int64Type>().value(0),
        unusable as i64
    );
}
