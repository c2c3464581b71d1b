//! The same batch path on the lake's other stores: an S3-compatible server (s3s-fs) and a GCS
//! emulator, both started by scripts/test (`TEST_S3_ENDPOINT`, `TEST_GCS_ENDPOINT`). The raw
//! zone, the curated Delta tables and the analytics live in the bucket; the results must equal
//! `clean --dedup` and the Python reference, a second lake writer pass must add nothing, and a
//! re-run of the batch must give the same tables.

use crate::support::lake::{
    analytics, assert_analytics_equal, assert_curated_equals_clean_dedup, batch, curated,
    lake_once, lake_sql, post, reference_analytics, today,
};
use crate::support::{Pinpipe, record_counts, test_service};

fn batch_on(env: &[(&str, &str)]) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Pinpipe::command(dir.path(), &["serve"])
        .data_dir(&data)
        .start();
    post(dir.path(), &server.url(""), 3_000, 41);
    lake_once(dir.path(), &data, env);
    // A second pass finds the raw zone complete and writes nothing twice.
    lake_once(dir.path(), &data, env);
    let date = today();
    let summary = batch(dir.path(), &data, env, &date);
    assert!(
        !std::fs::exists(data.join("lake")).unwrap(),
        "nothing may go to the local lake folder"
    );
    let counts = record_counts(dir.path(), &data);
    let raw = lake_sql(
        dir.path(),
        &data,
        env,
        "SELECT (SELECT COUNT(*) FROM raw_pins) AS pins, (SELECT COUNT(*) FROM raw_geos) AS geos, \
         (SELECT COUNT(*) FROM raw_users) AS users",
    );
    for kind in ["pins", "geos", "users"] {
        assert_eq!(raw[0][kind], counts[kind], "raw {kind} in the bucket");
    }
    assert_curated_equals_clean_dedup(dir.path(), &data, env);
    let first = analytics(dir.path(), &data, env, &date);
    assert_analytics_equal(&first, &reference_analytics(dir.path(), &data));

    let tables = curated(dir.path(), &data, env);
    let again = batch(dir.path(), &data, env, &date);
    assert_eq!(
        again["curated_versions"][0].as_i64().unwrap(),
        summary["curated_versions"][0].as_i64().unwrap() + 1,
        "a new Delta version"
    );
    assert_eq!(curated(dir.path(), &data, env), tables);
    assert_eq!(analytics(dir.path(), &data, env, &date), first);
}

#[test]
fn batch_on_an_s3_compatible_lake() {
    let Some(endpoint) = test_service("TEST_S3_ENDPOINT") else {
        return;
    };
    let url = format!("s3://pinpipe/lake-{}", std::process::id());
    batch_on(&[
        ("PINPIPE_LAKE__URL", url.as_str()),
        ("AWS_ENDPOINT", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "testsecret"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ALLOW_HTTP", "true"),
    ]);
}

#[test]
fn batch_on_a_gcs_compatible_lake() {
    let Some(endpoint) = test_service("TEST_GCS_ENDPOINT") else {
        return;
    };
    let url = format!("gs://pinpipe/lake-{}", std::process::id());
    batch_on(&[
        ("PINPIPE_LAKE__URL", url.as_str()),
        ("STORAGE_EMULATOR_HOST", endpoint.as_str()),
    ]);
}
