//! The raw zone: events exactly as received, in Parquet files named by the log partition and
//! offset range they hold.
//!
//! Layout: `raw/<type>/dt=YYYY-MM-DD/p<partition>-<first offset>-<last offset>.parquet`, where
//! `<type>` is `pins`, `geos` or `users` and `dt` is the UTC receive date. Numbers are zero-padded
//! so names sort in offset order. A file holds consecutive records of one partition received on
//! one date, so a partition's files never overlap and the highest last offset tells where the
//! partition's raw zone ends.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, Int32Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use bytes::Bytes;
use chrono::{DateTime, NaiveDate};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use pinpipe_log::Record;

use crate::LakeError;

pub use crate::layout::RAW;

/// The Arrow schema of a raw file. `value` is the body byte for byte (lossless); the rest is
/// ingest metadata and the record's log position.
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("partition", DataType::Int32, false),
        Field::new("offset", DataType::Int64, false),
        Field::new(
            "received_at",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        Field::new("key", DataType::Binary, true),
        Field::new("value", DataType::Binary, true),
        Field::new("request_id", DataType::Utf8, true),
        Field::new("content_type", DataType::Utf8, true),
    ]))
}

/// A raw file's identity, parsed from or turned into its path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RawFile {
    /// `pins`, `geos` or `users`.
    pub kind: String,
    /// UTC receive date of its records.
    pub date: NaiveDate,
    /// Log partition.
    pub partition: u32,
    /// Offset of its first record.
    pub first: u64,
    /// Offset of its last record.
    pub last: u64,
}

impl RawFile {
    /// The file's path relative to the lake.
    pub fn path(&self) -> String {
        format!(
            "{RAW}/{}/dt={}/p{:05}-{:020}-{:020}.parquet",
            self.kind,
            self.date.format("%Y-%m-%d"),
            self.partition,
            self.first,
            self.last
        )
    }

    /// Parses a path relative to the lake; `None` for anything that is not a raw file.
    pub fn parse(rel: &str) -> Option<RawFile> {
        let rest = rel.strip_prefix(RAW)?.strip_prefix('/')?;
        let mut parts = rest.split('/');
        let kind = parts.next()?;
        let date = parts.next()?.strip_prefix("dt=")?;
        let name = parts.next()?.strip_suffix(".parquet")?;
        if parts.next().is_some() {
            return None;
        }
        let mut fields = name.strip_prefix('p')?.split('-');
        let partition = fields.next()?.parse().ok()?;
        let first = fields.next()?.parse().ok()?;
        let last = fields.next()?.parse().ok()?;
        if fields.next().is_some() || last < first {
            return None;
        }
        Some(RawFile {
            kind: kind.to_owned(),
            date: NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?,
            partition,
            first,
            last,
        })
    }
}

/// The UTC date of a receive time in milliseconds.
pub fn receive_date(timestamp_ms: i64) -> NaiveDate {
    DateTime::from_timestamp_millis(timestamp_ms)
        .unwrap_or_default()
        .date_naive()
}

/// Encodes records (of one partition, in offset order) as one Parquet file (zstd).
pub fn encode(records: &[Record]) -> Result<Bytes, LakeError> {
    let schema = schema();
    let mut partition = Int32Builder::with_capacity(records.len());
    let mut offset = Int64Builder::with_capacity(records.len());
    let mut received =
        TimestampMillisecondBuilder::with_capacity(records.len()).with_timezone("UTC");
    let bytes: usize = records
        .iter()
        .map(|r| r.value.as_ref().map_or(0, Vec::len))
        .sum();
    let mut key = BinaryBuilder::with_capacity(records.len(), records.len() * 40);
    let mut value = BinaryBuilder::with_capacity(records.len(), bytes);
    let mut request_id = StringBuilder::with_capacity(records.len(), records.len() * 36);
    let mut content_type = StringBuilder::new();
    for record in records {
        partition.append_value(i32::try_from(record.partition).unwrap_or(i32::MAX));
        offset.append_value(i64::try_from(record.offset).unwrap_or(i64::MAX));
        received.append_value(record.timestamp_ms);
        key.append_option(record.key.as_deref());
        value.append_option(record.value.as_deref());
        request_id.append_option(header(record, "request_id"));
        content_type.append_option(header(record, "content_type"));
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(partition.finish()),
        Arc::new(offset.finish()),
        Arc::new(received.finish()),
        Arc::new(key.finish()),
        Arc::new(value.finish()),
        Arc::new(request_id.finish()),
        Arc::new(content_type.finish()),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns)
        .map_err(|e| LakeError::Encode(e.to_string()))?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()))
        .set_max_row_group_row_count(Some(256 * 1024))
        .build();
    let mut out = Vec::with_capacity(bytes / 3 + 1024);
    let mut writer = ArrowWriter::try_new(&mut out, schema, Some(properties))
        .map_err(|e| LakeError::Encode(e.to_string()))?;
    writer
        .write(&batch)
        .map_err(|e| LakeError::Encode(e.to_string()))?;
    writer
        .close()
        .map_err(|e| LakeError::Encode(e.to_string()))?;
    Ok(Bytes::from(out))
}

fn header<'a>(record: &'a Record, name: &str) -> Option<&'a str> {
    record
        .headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort_in_offset_order() {
        let file = RawFile {
            kind: "pins".into(),
            date: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
            partition: 2,
            first: 100,
            last: 199,
        };
        let path = file.path();
        assert_eq!(
            path,
            "raw/pins/dt=2026-11-26/p00002-00000000000000000100-00000000000000000199.parquet"
        );
        assert_eq!(RawFile::parse(&path), Some(file.clone()));
        let later = RawFile {
            first: 200,
            last: 1000,
            ..file.clone()
        };
        assert!(file.path() < later.path());
        for bad in [
            "raw/pins/x.parquet",
            "raw/pins/dt=2026-13-01/p00002-1-2.parquet",
            "raw/pins/dt=2026-11-26/p00002-5-2.parquet",
            "curated/pins/dt=2026-11-26/p00002-1-2.parquet",
            "raw/pins/dt=2026-11-26/p00002-1-2.json",
        ] {
            assert_eq!(RawFile::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn encodes_a_readable_parquet_file() {
        let records: Vec<Record> = (0..3)
            .map(|i| Record {
                topic: "pins".into(),
                partition: 1,
                offset: 10 + i,
                key: Some(b"k".to_vec()),
                value: Some(format!("{{\"index\": {i}}}").into_bytes()),
                timestamp_ms: 1_764_115_200_000,
                headers: vec![("request_id".into(), format!("r{i}"))],
            })
            .collect();
        let bytes = encode(&records).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)
            .unwrap()
            .build()
            .unwrap();
        let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
        assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 3);
        assert_eq!(batches[0].schema(), schema());
        assert_eq!(receive_date(1_764_115_200_000).to_string(), "2025-11-26");
    }
}
