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
    ArrayBuilder, ArrayRef, BinaryBuilder, Int32Builder, Int64Builder, RecordBatch, StringBuilder,
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

/// Rows gathered in Arrow builders before they go to the Parquet writer: big enough for the
/// encoder's per-batch work to vanish, small enough (about 2 MB of pins) to hold little.
const CHUNK_ROWS: usize = 4096;

/// One raw file being written as records come (of one partition, in offset order): rows go
/// through Arrow builders in chunks into a Parquet writer (zstd) whose pages are compressed as
/// they fill, so a file in the making holds its compressed size, not its records. Holding the
/// records until the roll kept every event body in memory with five heap parts each: the lake
/// writer's buffer was the largest part of `pinpipe up`'s memory.
pub struct Encoder {
    writer: ArrowWriter<Vec<u8>>,
    chunk: Chunk,
    rows: usize,
}

/// The builders of one chunk of rows.
struct Chunk {
    partition: Int32Builder,
    offset: Int64Builder,
    received: TimestampMillisecondBuilder,
    key: BinaryBuilder,
    value: BinaryBuilder,
    request_id: StringBuilder,
    content_type: StringBuilder,
}

impl Chunk {
    fn new() -> Chunk {
        Chunk {
            partition: Int32Builder::with_capacity(CHUNK_ROWS),
            offset: Int64Builder::with_capacity(CHUNK_ROWS),
            received: TimestampMillisecondBuilder::with_capacity(CHUNK_ROWS).with_timezone("UTC"),
            key: BinaryBuilder::with_capacity(CHUNK_ROWS, CHUNK_ROWS * 40),
            value: BinaryBuilder::with_capacity(CHUNK_ROWS, CHUNK_ROWS * 512),
            request_id: StringBuilder::with_capacity(CHUNK_ROWS, CHUNK_ROWS * 36),
            content_type: StringBuilder::new(),
        }
    }

    fn len(&self) -> usize {
        self.offset.len()
    }

    /// The rows gathered as a batch; the builders are left empty (and keep their capacity).
    fn finish(&mut self) -> Result<RecordBatch, LakeError> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.partition.finish()),
            Arc::new(self.offset.finish()),
            Arc::new(self.received.finish()),
            Arc::new(self.key.finish()),
            Arc::new(self.value.finish()),
            Arc::new(self.request_id.finish()),
            Arc::new(self.content_type.finish()),
        ];
        RecordBatch::try_new(schema(), columns).map_err(|e| LakeError::Encode(e.to_string()))
    }
}

impl Encoder {
    /// An empty file.
    pub fn new() -> Result<Encoder, LakeError> {
        let properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()))
            .set_max_row_group_row_count(Some(256 * 1024))
            .build();
        let writer = ArrowWriter::try_new(Vec::new(), schema(), Some(properties))
            .map_err(|e| LakeError::Encode(e.to_string()))?;
        Ok(Encoder {
            writer,
            chunk: Chunk::new(),
            rows: 0,
        })
    }

    /// Adds a record (the next of its partition).
    pub fn push(&mut self, record: &Record) -> Result<(), LakeError> {
        let c = &mut self.chunk;
        c.partition
            .append_value(i32::try_from(record.partition).unwrap_or(i32::MAX));
        c.offset
            .append_value(i64::try_from(record.offset).unwrap_or(i64::MAX));
        c.received.append_value(record.timestamp_ms);
        c.key.append_option(record.key.as_deref());
        c.value.append_option(record.value.as_deref());
        c.request_id.append_option(header(record, "request_id"));
        c.content_type.append_option(header(record, "content_type"));
        self.rows += 1;
        if c.len() >= CHUNK_ROWS {
            self.write_chunk()?;
        }
        Ok(())
    }

    /// Records added so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    fn write_chunk(&mut self) -> Result<(), LakeError> {
        if self.chunk.len() == 0 {
            return Ok(());
        }
        let batch = self.chunk.finish()?;
        self.writer
            .write(&batch)
            .map_err(|e| LakeError::Encode(e.to_string()))
    }

    /// The whole Parquet file.
    pub fn finish(mut self) -> Result<Bytes, LakeError> {
        self.write_chunk()?;
        let out = self
            .writer
            .into_inner()
            .map_err(|e| LakeError::Encode(e.to_string()))?;
        Ok(Bytes::from(out))
    }
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
    fn encodes_a_readable_parquet_file_across_chunks() {
        use arrow::array::{Array, AsArray, Int64Array};
        // More rows than two chunks, so the file is written in three pieces.
        let n = 2 * CHUNK_ROWS as u64 + 7;
        let records: Vec<Record> = (0..n)
            .map(|i| Record {
                topic: "pins".into(),
                partition: 1,
                offset: 10 + i,
                key: (i % 3 != 0).then(|| b"k".to_vec()),
                value: Some(format!("{{\"index\": {i}}}").into_bytes()),
                timestamp_ms: 1_764_115_200_000,
                headers: vec![("request_id".into(), format!("r{i}"))],
            })
            .collect();
        let mut encoder = Encoder::new().unwrap();
        for record in &records {
            encoder.push(record).unwrap();
        }
        assert_eq!(encoder.rows(), records.len());
        let bytes = encoder.finish().unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)
            .unwrap()
            .build()
            .unwrap();
        let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
        assert_eq!(batches[0].schema(), schema());
        let mut read = 0;
        for batch in &batches {
            let offsets: &Int64Array = batch.column(1).as_primitive();
            let keys = batch.column(3).as_binary::<i32>();
            let values = batch.column(4).as_binary::<i32>();
            let ids = batch.column(5).as_string::<i32>();
            for row in 0..batch.num_rows() {
                let r = &records[read];
                assert_eq!(offsets.value(row), r.offset as i64);
                assert_eq!(keys.is_null(row), r.key.is_none());
                assert_eq!(values.value(row), r.value.as_deref().unwrap());
                assert_eq!(ids.value(row), r.headers[0].1);
                assert!(batch.column(6).is_null(row));
                read += 1;
            }
        }
        assert_eq!(read, records.len());
        assert_eq!(receive_date(1_764_115_200_000).to_string(), "2025-11-26");
    }
}
