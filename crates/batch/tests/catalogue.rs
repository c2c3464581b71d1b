//! The batch layer has the catalogue's clean columns (pinpipe_model::columns), in its order: the
//! cleaning UDFs' Arrow struct (after `error`), and the lake's `pins`, `geos`, `users` (and
//! `curated_*`, which add `received_at` and `dt`) as `pinpipe sql --on lake` reads them after a
//! batch run on a tiny local lake.

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use chrono::NaiveDate;
use pinpipe_batch::{BatchConfig, LakeSession, Quiet, job, query, udf};
use pinpipe_lake::{Lake, LakeConfig};
use pinpipe_model::{EventType, columns};

/// One usable raw record of each type.
fn raw(kind: EventType) -> &'static str {
    match kind {
        EventType::Pin => {
            r#"{"index": 7, "unique_id": "p-1", "title": "Tree", "follower_count": "4.35k", "tag_list": "a,b", "is_image_or_video": "image", "downloaded": 1, "category": "art"}"#
        }
        EventType::Geo => {
            r#"{"ind": 7, "timestamp": "2020-08-28 03:52:47", "latitude": 45, "longitude": -73.5, "country": "Chad"}"#
        }
        EventType::User => {
            r#"{"ind": 7, "first_name": "Ann", "last_name": "Lee", "age": 30, "date_joined": "2015-01-02 03:04:05"}"#
        }
    }
}

fn assert_columns<S: AsRef<str>>(place: &str, kind: EventType, actual: &[S], extras: &[&str]) {
    if let Err(message) = columns::check(place, kind, actual, extras) {
        panic!("{message}");
    }
}

#[test]
fn the_udf_struct_fields_are_the_catalogue() {
    for kind in EventType::ALL {
        let names: Vec<String> = udf::clean_fields(kind)
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_columns(
            "the batch UDFs' struct (pinpipe_batch::udf::clean_fields)",
            kind,
            &names,
            &[],
        );
    }
}

#[tokio::test]
async fn the_udfs_return_the_catalogue_columns_after_error() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(&LakeConfig::default(), dir.path()).unwrap();
    let session = LakeSession::new(&lake, &BatchConfig::default())
        .await
        .unwrap();
    for kind in EventType::ALL {
        let name = udf::udf_name(kind);
        let sql = format!("SELECT {name}('{}') AS c", raw(kind).replace('\'', "''"));
        let batches = session
            .ctx
            .sql(&sql)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap_or_else(|e| panic!("{name} failed on a clean record: {e}"));
        let column = batches[0].column(0);
        let DataType::Struct(fields) = column.data_type() else {
            panic!("{name} returns {:?}, not a struct", column.data_type());
        };
        let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names.first(), Some(&"error"), "{name}'s first field");
        assert_columns(
            &format!("the batch UDF {name}'s struct (pinpipe_batch::udf)"),
            kind,
            &names[1..],
            &[],
        );
        let record = column.as_struct();
        assert!(
            record.column(0).is_null(0),
            "{name}: {:?}",
            record.column(0)
        );
        assert!(!record.column(1).is_null(0), "{name}: no ind");
    }
}

#[tokio::test]
async fn the_lake_tables_have_the_catalogue_columns() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(&LakeConfig::default(), dir.path()).unwrap();
    let config = BatchConfig {
        target_partitions: 1,
        ..BatchConfig::default()
    };
    let date = NaiveDate::from_ymd_opt(2026, 1, 2).unwrap();
    job::run(&lake, &config, date, None, &Quiet).await.unwrap();
    for kind in EventType::ALL {
        let table = kind.plural();
        let rows = query::query(&lake, &config, &format!("SELECT * FROM {table}"), None)
            .await
            .unwrap();
        assert_columns(
            &format!("the lake's `{table}` (pinpipe_batch::session, `pinpipe sql --on lake`)"),
            kind,
            &rows.columns,
            &[],
        );
        let curated = format!("curated_{table}");
        let rows = query::query(&lake, &config, &format!("SELECT * FROM {curated}"), None)
            .await
            .unwrap();
        assert_columns(
            &format!("the lake's `{curated}` (pinpipe_batch::job::curated_sql)"),
            kind,
            &rows.columns,
            &["received_at", "dt"],
        );
    }
}
