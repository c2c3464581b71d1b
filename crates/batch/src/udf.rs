//! The model crate's cleaning functions as DataFusion scalar UDFs, so the batch layer cleans with
//! exactly the code the speed layer uses (no SQL re-expression of the rules).
//!
//! `clean_pin(value)`, `clean_geo(value)` and `clean_user(value)` take the raw body (binary or
//! text) and return a struct: the clean columns of data.md plus `error`, which is null for a
//! usable record and holds the reason otherwise (a dead letter). To run on a Ballista cluster,
//! executors register the same UDFs ([`register`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::{
    Array, ArrayRef, BinaryArray, BooleanBuilder, Float64Builder, Int64Builder, ListBuilder,
    StringBuilder, StructArray, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Fields, TimeUnit};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use pinpipe_model::{CleanRecord, EventType};

/// The UTC timestamp type of clean timestamps.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The clean columns of one event type, in data.md's order (without `error`).
pub fn clean_fields(kind: EventType) -> Fields {
    let text = |name: &str| Field::new(name, DataType::Utf8, true);
    match kind {
        EventType::Pin => Fields::from(vec![
            Field::new("ind", DataType::Int64, true),
            text("unique_id"),
            text("title"),
            text("description"),
            text("poster_name"),
            Field::new("follower_count", DataType::Int64, true),
            Field::new(
                "tag_list",
                DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
                true,
            ),
            text("media_type"),
            text("image_src"),
            Field::new("downloaded", DataType::Boolean, true),
            text("save_location"),
            text("category"),
        ]),
        EventType::Geo => Fields::from(vec![
            Field::new("ind", DataType::Int64, true),
            text("country"),
            Field::new(
                "coordinates",
                DataType::List(Arc::new(Field::new("item", DataType::Float64, true))),
                true,
            ),
            Field::new("timestamp", timestamp_type(), true),
        ]),
        EventType::User => Fields::from(vec![
            Field::new("ind", DataType::Int64, true),
            text("user_name"),
            Field::new("age", DataType::Int64, true),
            Field::new("date_joined", timestamp_type(), true),
        ]),
    }
}

/// The struct a cleaning UDF returns: `error` then the clean columns.
fn return_fields(kind: EventType) -> Fields {
    let mut fields = vec![Arc::new(Field::new("error", DataType::Utf8, true))];
    fields.extend(clean_fields(kind).iter().cloned());
    Fields::from(fields)
}

/// The name of the cleaning UDF of a type (`clean_pin`, `clean_geo`, `clean_user`).
pub fn udf_name(kind: EventType) -> &'static str {
    match kind {
        EventType::Pin => "clean_pin",
        EventType::Geo => "clean_geo",
        EventType::User => "clean_user",
    }
}

/// How many records each cleaning UDF found unusable (dead letters) and how many it cleaned in
/// all, in `EventType::ALL` order. Counted as they are cleaned, in the process that cleans them,
/// for the run's summary (and a Ballista executor's report of its work).
#[derive(Debug, Clone, Default)]
pub struct DeadLetterCounts(Arc<[AtomicU64; 6]>);

impl DeadLetterCounts {
    /// The dead letters so far: pins, geos, users.
    pub fn get(&self) -> [u64; 3] {
        [0, 1, 2].map(|i| self.0[i].load(Ordering::Relaxed))
    }

    /// The records cleaned so far (usable or not): pins, geos, users.
    pub fn cleaned(&self) -> [u64; 3] {
        [3, 4, 5].map(|i| self.0[i].load(Ordering::Relaxed))
    }

    /// Starts counting from zero.
    pub fn reset(&self) {
        for counter in self.0.iter() {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

/// Registers the three cleaning UDFs; returns their dead-letter counters.
pub fn register(ctx: &SessionContext) -> DeadLetterCounts {
    let counts = DeadLetterCounts::default();
    for (i, kind) in EventType::ALL.into_iter().enumerate() {
        ctx.register_udf(ScalarUDF::new_from_impl(CleanUdf::new(
            kind,
            counts.clone(),
            i,
        )));
    }
    counts
}

#[derive(Debug)]
struct CleanUdf {
    kind: EventType,
    signature: Signature,
    counts: DeadLetterCounts,
    slot: usize,
}

// Equality and hashing (DataFusion compares UDFs when optimising plans) are by type only: the
// counters are not part of what the function computes.
impl PartialEq for CleanUdf {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
    }
}

impl Eq for CleanUdf {}

impl std::hash::Hash for CleanUdf {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.kind.hash(state);
    }
}

impl CleanUdf {
    fn new(kind: EventType, counts: DeadLetterCounts, slot: usize) -> Self {
        CleanUdf {
            kind,
            // Volatile, although cleaning is pure, so that the logical optimizer does not copy
            // the call into a filter it pushes below the projection that cleans (each record
            // would be cleaned twice, each dead letter counted twice). The other two ways
            // DataFusion 55 copies it are closed in session::without_field_pushdown and in
            // job::curated_sql's shape; crates/batch/tests/recency.rs checks one call a record.
            signature: Signature::any(1, Volatility::Volatile),
            counts,
            slot,
        }
    }
}

impl ScalarUDFImpl for CleanUdf {
    fn name(&self) -> &str {
        udf_name(self.kind)
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(return_fields(self.kind)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [value] = args.args.as_slice() else {
            return Err(DataFusionError::Plan(format!(
                "{} takes one argument, the raw event body",
                self.name()
            )));
        };
        let values = value.to_array(args.number_rows)?;
        let values = arrow::compute::cast(&values, &DataType::Binary)?;
        let values = values
            .as_any()
            .downcast_ref::<BinaryArray>()
            .ok_or_else(|| DataFusionError::Internal("cast to binary failed".into()))?;
        let array = match self.kind {
            EventType::Pin => clean_pins(values),
            EventType::Geo => clean_geos(values),
            EventType::User => clean_users(values),
        }?;
        let errors = array
            .as_any()
            .downcast_ref::<StructArray>()
            .map_or(0, |s| s.column(0).len() - s.column(0).null_count());
        self.counts.0[self.slot].fetch_add(errors as u64, Ordering::Relaxed);
        self.counts.0[3 + self.slot].fetch_add(values.len() as u64, Ordering::Relaxed);
        Ok(ColumnarValue::Array(array))
    }
}

/// The reason a record is unusable, or its clean form.
fn clean(kind: EventType, value: Option<&[u8]>) -> Result<CleanRecord<'_>, String> {
    match value {
        None => Err("empty record (no value)".to_owned()),
        Some(bytes) => kind.clean_json(bytes).map_err(|e| e.to_string()),
    }
}

fn struct_array(kind: EventType, columns: Vec<ArrayRef>) -> Result<ArrayRef> {
    Ok(Arc::new(StructArray::try_new(
        return_fields(kind),
        columns,
        None,
    )?))
}

fn clean_pins(values: &BinaryArray) -> Result<ArrayRef> {
    let n = values.len();
    let mut error = StringBuilder::new();
    let mut ind = Int64Builder::with_capacity(n);
    let mut unique_id = StringBuilder::with_capacity(n, n * 36);
    let mut title = StringBuilder::new();
    let mut description = StringBuilder::new();
    let mut poster_name = StringBuilder::new();
    let mut follower_count = Int64Builder::with_capacity(n);
    let mut tag_list = ListBuilder::new(StringBuilder::new());
    let mut media_type = StringBuilder::new();
    let mut image_src = StringBuilder::new();
    let mut downloaded = BooleanBuilder::with_capacity(n);
    let mut save_location = StringBuilder::new();
    let mut category = StringBuilder::new();
    for i in 0..n {
        let value = (!values.is_null(i)).then(|| values.value(i));
        match clean(EventType::Pin, value) {
            Ok(CleanRecord::Pin(pin)) => {
                error.append_null();
                ind.append_value(pin.ind);
                unique_id.append_value(&pin.unique_id);
                title.append_option(pin.title.as_deref());
                description.append_option(pin.description.as_deref());
                poster_name.append_option(pin.poster_name.as_deref());
                follower_count.append_option(pin.follower_count);
                for tag in &pin.tag_list {
                    tag_list.values().append_value(tag);
                }
                tag_list.append(true);
                media_type.append_option(pin.media_type.map(|m| m.as_str()));
                image_src.append_option(pin.image_src.as_deref());
                downloaded.append_option(pin.downloaded);
                save_location.append_option(pin.save_location.as_deref());
                category.append_option(pin.category.as_deref());
            }
            other => {
                error.append_value(other.err().unwrap_or_else(|| "not a pin".to_owned()));
                ind.append_null();
                unique_id.append_null();
                title.append_null();
                description.append_null();
                poster_name.append_null();
                follower_count.append_null();
                tag_list.append(false);
                media_type.append_null();
                image_src.append_null();
                downloaded.append_null();
                save_location.append_null();
                category.append_null();
            }
        }
    }
    struct_array(
        EventType::Pin,
        vec![
            Arc::new(error.finish()),
            Arc::new(ind.finish()),
            Arc::new(unique_id.finish()),
            Arc::new(title.finish()),
            Arc::new(description.finish()),
            Arc::new(poster_name.finish()),
            Arc::new(follower_count.finish()),
            Arc::new(tag_list.finish()),
            Arc::new(media_type.finish()),
            Arc::new(image_src.finish()),
            Arc::new(downloaded.finish()),
            Arc::new(save_location.finish()),
            Arc::new(category.finish()),
        ],
    )
}

fn clean_geos(values: &BinaryArray) -> Result<ArrayRef> {
    let n = values.len();
    let mut error = StringBuilder::new();
    let mut ind = Int64Builder::with_capacity(n);
    let mut country = StringBuilder::new();
    let mut coordinates = ListBuilder::new(Float64Builder::new());
    let mut timestamp = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    for i in 0..n {
        let value = (!values.is_null(i)).then(|| values.value(i));
        match clean(EventType::Geo, value) {
            Ok(CleanRecord::Geo(geo)) => {
                error.append_null();
                ind.append_value(geo.ind);
                country.append_option(geo.country.as_deref());
                match geo.coordinates {
                    Some([lat, lon]) => {
                        coordinates.values().append_value(lat);
                        coordinates.values().append_value(lon);
                        coordinates.append(true);
                    }
                    None => coordinates.append(false),
                }
                timestamp.append_option(geo.timestamp.map(|t| t.as_datetime().timestamp_micros()));
            }
            other => {
                error.append_value(other.err().unwrap_or_else(|| "not a geo record".to_owned()));
                ind.append_null();
                country.append_null();
                coordinates.append(false);
                timestamp.append_null();
            }
        }
    }
    struct_array(
        EventType::Geo,
        vec![
            Arc::new(error.finish()),
            Arc::new(ind.finish()),
            Arc::new(country.finish()),
            Arc::new(coordinates.finish()),
            Arc::new(timestamp.finish()),
        ],
    )
}

fn clean_users(values: &BinaryArray) -> Result<ArrayRef> {
    let n = values.len();
    let mut error = StringBuilder::new();
    let mut ind = Int64Builder::with_capacity(n);
    let mut user_name = StringBuilder::new();
    let mut age = Int64Builder::with_capacity(n);
    let mut date_joined = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    for i in 0..n {
        let value = (!values.is_null(i)).then(|| values.value(i));
        match clean(EventType::User, value) {
            Ok(CleanRecord::User(user)) => {
                error.append_null();
                ind.append_value(user.ind);
                user_name.append_option(user.user_name.as_deref());
                age.append_option(user.age);
                date_joined
                    .append_option(user.date_joined.map(|t| t.as_datetime().timestamp_micros()));
            }
            other => {
                error.append_value(
                    other
                        .err()
                        .unwrap_or_else(|| "not a user record".to_owned()),
                );
                ind.append_null();
                user_name.append_null();
                age.append_null();
                date_joined.append_null();
            }
        }
    }
    struct_array(
        EventType::User,
        vec![
            Arc::new(error.finish()),
            Arc::new(ind.finish()),
            Arc::new(user_name.finish()),
            Arc::new(age.finish()),
            Arc::new(date_joined.finish()),
        ],
    )
}
