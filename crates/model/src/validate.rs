//! Ingest's strict check of a request body, with FastAPI's 422 error shape.
//!
//! The original pipeline validated bodies with FastAPI and Pydantic; clients (its emulator among
//! them) know that shape, so pinpipe answers the same way:
//! `{"detail":[{"type":…,"loc":["body","<field>"],"msg":…,"input":…}]}`.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::EventType;
use crate::raw::{RawGeo, RawPin, RawUser};

/// A raw event that passed the check, typed.
#[derive(Debug, Clone, PartialEq)]
pub enum Validated {
    /// A pin.
    Pin(RawPin),
    /// A geolocation record.
    Geo(RawGeo),
    /// A user record.
    User(RawUser),
}

impl Validated {
    /// The event-log message key: `unique_id` for pins, `ind` for geo and user, so all events of a
    /// key land in the same partition.
    pub fn log_key(&self) -> String {
        match self {
            Validated::Pin(pin) => crate::text::trim(&pin.unique_id).to_owned(),
            Validated::Geo(geo) => geo.ind.to_string(),
            Validated::User(user) => user.ind.to_string(),
        }
    }
}

/// All the problems of one request body, serialised as FastAPI does.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[error("invalid request body: {}", .detail.iter().map(|d| d.msg.as_str()).collect::<Vec<_>>().join("; "))]
pub struct ValidationErrors {
    /// One entry per problem.
    pub detail: Vec<ErrorDetail>,
}

/// One problem, as Pydantic reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Pydantic's error type, e.g. `missing`, `int_type`, `string_type`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Where: `["body", "<field>"]`, or `["body", "<field>", "<union member>"]`.
    pub loc: Vec<Value>,
    /// A human-readable message.
    pub msg: String,
    /// The offending value (the whole body for a missing field).
    pub input: Value,
    /// Extra context (the JSON parser's message for invalid JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ctx: Option<Value>,
}

mod fast;

/// The JSON types a field accepts.
#[derive(Debug, Clone, Copy)]
enum Accepts {
    Int,
    Str,
    Number,
    StrOrInt,
    IntOrBool,
}

/// (field, required, accepted types), in data.md's order.
const PIN_FIELDS: &[(&str, bool, Accepts)] = &[
    ("index", true, Accepts::Int),
    ("unique_id", true, Accepts::Str),
    ("title", false, Accepts::Str),
    ("description", false, Accepts::Str),
    ("poster_name", false, Accepts::Str),
    ("follower_count", false, Accepts::StrOrInt),
    ("tag_list", false, Accepts::Str),
    ("is_image_or_video", false, Accepts::Str),
    ("image_src", false, Accepts::Str),
    ("downloaded", false, Accepts::IntOrBool),
    ("save_location", false, Accepts::Str),
    ("category", false, Accepts::Str),
];
const GEO_FIELDS: &[(&str, bool, Accepts)] = &[
    ("ind", true, Accepts::Int),
    ("timestamp", true, Accepts::Str),
    ("latitude", false, Accepts::Number),
    ("longitude", false, Accepts::Number),
    ("country", false, Accepts::Str),
];
const USER_FIELDS: &[(&str, bool, Accepts)] = &[
    ("ind", true, Accepts::Int),
    ("first_name", false, Accepts::Str),
    ("last_name", false, Accepts::Str),
    ("age", false, Accepts::Int),
    ("date_joined", false, Accepts::Str),
];

/// The field table of an event type.
fn fields_of(kind: EventType) -> &'static [(&'static str, bool, Accepts)] {
    match kind {
        EventType::Pin => PIN_FIELDS,
        EventType::Geo => GEO_FIELDS,
        EventType::User => USER_FIELDS,
    }
}

/// Checks a request body for `POST /<type>/` and returns the typed raw event.
///
/// ```
/// use pinpipe_model::{EventType, validate::validate};
/// let err = validate(EventType::Geo, br#"{"ind": "7"}"#).unwrap_err();
/// let json = serde_json::to_value(&err).unwrap();
/// assert_eq!(json["detail"][0]["loc"], serde_json::json!(["body", "ind"]));
/// assert_eq!(json["detail"][1]["type"], "missing");
/// ```
pub fn validate(kind: EventType, body: &[u8]) -> Result<Validated, ValidationErrors> {
    let object = parse_object(body)?;
    check_fields(kind, &object)?;
    let value = Value::Object(object);
    // The checks above are exactly what these types accept, so a failure here is a bug in this
    // module; it is still reported as a 422 rather than a panic.
    let typed = match kind {
        EventType::Pin => serde_json::from_value(value).map(Validated::Pin),
        EventType::Geo => serde_json::from_value(value).map(Validated::Geo),
        EventType::User => serde_json::from_value(value).map(Validated::User),
    };
    typed.map_err(|e| single(body_error("value_error", e.to_string(), Value::Null)))
}

/// The same check as [`validate`], returning only the event-log key ([`Validated::log_key`]):
/// ingest's hot path, which stores the body as received and needs no typed copy of it.
///
/// ```
/// use pinpipe_model::{EventType, validate::{validate, validate_key}};
/// let body = br#"{"index": 1, "unique_id": " abc ", "follower_count": "35k"}"#;
/// assert_eq!(validate_key(EventType::Pin, body).unwrap(), "abc");
/// assert_eq!(validate(EventType::Pin, body).unwrap().log_key(), "abc");
/// ```
pub fn validate_key(kind: EventType, body: &[u8]) -> Result<String, ValidationErrors> {
    // Valid bodies, nearly all of them, are decided without building a JSON value; the full
    // check below explains the others.
    if let Some(key) = fast::key(kind, body) {
        return Ok(key);
    }
    let object = parse_object(body)?;
    check_fields(kind, &object)?;
    let field = object.get(kind.key_field());
    let key = match kind {
        EventType::Pin => field
            .and_then(Value::as_str)
            .map(|id| crate::text::trim(id).to_owned()),
        EventType::Geo | EventType::User => {
            field.and_then(Value::as_i64).map(|ind| ind.to_string())
        }
    };
    // check_fields has made sure the key field is there with the right type.
    key.ok_or_else(|| single(body_error("value_error", "no key".into(), Value::Null)))
}

/// [`validate_key`]'s fast path alone: the key when the body is valid, decided without building
/// a JSON value; `None` when it is not valid or when only the full check can tell (a known field
/// named twice). For tests and benchmarks; ingest calls [`validate_key`].
pub fn scan_key(kind: EventType, body: &[u8]) -> Option<String> {
    fast::key(kind, body)
}

/// The type checks of every field data.md names, all problems at once.
fn check_fields(kind: EventType, object: &Map<String, Value>) -> Result<(), ValidationErrors> {
    let fields = fields_of(kind);
    let mut detail = Vec::new();
    for &(name, required, accepts) in fields {
        match object.get(name) {
            None if required => detail.push(ErrorDetail {
                kind: "missing",
                loc: loc(&[name]),
                msg: "Field required".into(),
                input: Value::Object(object.clone()),
                ctx: None,
            }),
            None => {}
            Some(Value::Null) if !required => {}
            Some(value) => check_type(name, accepts, value, &mut detail),
        }
    }
    if detail.is_empty() {
        Ok(())
    } else {
        Err(ValidationErrors { detail })
    }
}

/// Parses the body into a JSON object, or explains why it is not one.
fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ValidationErrors> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(single(body_error(
            "missing",
            "Field required".into(),
            Value::Null,
        )));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(other) => Err(single(body_error(
            "model_attributes_type",
            "Input should be a valid dictionary or object to extract fields from".into(),
            other,
        ))),
        Err(e) => Err(single(ErrorDetail {
            kind: "json_invalid",
            loc: vec![
                "body".into(),
                byte_position(body, e.line(), e.column()).into(),
            ],
            msg: "JSON decode error".into(),
            input: Value::Object(Map::new()),
            ctx: Some(serde_json::json!({ "error": e.to_string() })),
        })),
    }
}

fn single(detail: ErrorDetail) -> ValidationErrors {
    ValidationErrors {
        detail: vec![detail],
    }
}

fn body_error(kind: &'static str, msg: String, input: Value) -> ErrorDetail {
    ErrorDetail {
        kind,
        loc: loc(&[]),
        msg,
        input,
        ctx: None,
    }
}

fn loc(path: &[&str]) -> Vec<Value> {
    std::iter::once("body")
        .chain(path.iter().copied())
        .map(Value::from)
        .collect()
}

/// Where in `body` a JSON parse error is, as a 0-based byte offset (FastAPI's `loc` position).
pub fn json_error_offset(body: &[u8], error: &serde_json::Error) -> usize {
    byte_position(body, error.line(), error.column())
}

/// The 0-based byte offset of a 1-based line and column reported by serde_json.
fn byte_position(body: &[u8], line: usize, column: usize) -> usize {
    let line_start: usize = body
        .split(|&b| b == b'\n')
        .take(line.saturating_sub(1))
        .map(|l| l.len() + 1)
        .sum();
    line_start + column.saturating_sub(1)
}

fn check_type(name: &str, accepts: Accepts, value: &Value, detail: &mut Vec<ErrorDetail>) {
    let is_int = value.as_i64().is_some();
    let ok = match accepts {
        Accepts::Int => is_int,
        Accepts::Str => value.is_string(),
        Accepts::Number => value.is_number(),
        Accepts::StrOrInt => value.is_string() || is_int,
        Accepts::IntOrBool => is_int || value.is_boolean(),
    };
    if ok {
        return;
    }
    let error = |kind: &'static str, msg: &str, member: Option<&str>| ErrorDetail {
        kind,
        loc: loc(&[Some(name), member]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()),
        msg: msg.into(),
        input: value.clone(),
        ctx: None,
    };
    const INT: (&str, &str) = ("int_type", "Input should be a valid integer");
    const STR: (&str, &str) = ("string_type", "Input should be a valid string");
    const BOOL: (&str, &str) = ("bool_type", "Input should be a valid boolean");
    const NUMBER: (&str, &str) = ("float_type", "Input should be a valid number");
    // Pydantic reports a union's failure once per member, naming the member in `loc`.
    match accepts {
        Accepts::Int => detail.push(error(INT.0, INT.1, None)),
        Accepts::Str => detail.push(error(STR.0, STR.1, None)),
        Accepts::Number => detail.push(error(NUMBER.0, NUMBER.1, None)),
        Accepts::StrOrInt => {
            detail.push(error(STR.0, STR.1, Some("str")));
            detail.push(error(INT.0, INT.1, Some("int")));
        }
        Accepts::IntOrBool => {
            detail.push(error(INT.0, INT.1, Some("int")));
            detail.push(error(BOOL.0, BOOL.1, Some("bool")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(kind: EventType, body: &str) -> Value {
        serde_json::to_value(validate(kind, body.as_bytes()).unwrap_err()).unwrap()
    }

    #[test]
    fn accepts_the_emulator_pin_and_keeps_unknown_fields() {
        let body = json!({"index": 7528, "unique_id": "fbe53c66-3442-4773-b19e-d3ec6f54dddf",
            "title": "No Title Data Available", "description": null, "poster_name": "User Info Error",
            "follower_count": "User Info Error", "tag_list": "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e",
            "is_image_or_video": "multi-video(story page format)", "image_src": "Image src error.",
            "downloaded": 0, "save_location": "Local save in /data/mens-fashion",
            "category": "mens-fashion", "new_field": [1, {"a": true}]});
        let Validated::Pin(pin) = validate(EventType::Pin, body.to_string().as_bytes()).unwrap()
        else {
            panic!("not a pin")
        };
        assert_eq!(pin.index, 7528);
        assert_eq!(pin.extra["new_field"], json!([1, {"a": true}]));
        assert_eq!(serde_json::to_value(&pin).unwrap(), body);
    }

    #[test]
    fn accepts_integer_follower_counts_and_boolean_downloaded() {
        let body = r#"{"index": 1, "unique_id": "u", "follower_count": 848, "downloaded": true}"#;
        let v = validate(EventType::Pin, body.as_bytes()).unwrap();
        assert_eq!(v.log_key(), "u");
    }

    #[test]
    fn reports_every_problem_in_fastapi_shape() {
        let e = errors(
            EventType::Pin,
            r#"{"index": 1.5, "title": 3, "follower_count": 2.5}"#,
        );
        let detail = e["detail"].as_array().unwrap();
        let summary: Vec<(String, Value)> = detail
            .iter()
            .map(|d| (d["type"].as_str().unwrap().to_owned(), d["loc"].clone()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("int_type".into(), json!(["body", "index"])),
                ("missing".into(), json!(["body", "unique_id"])),
                ("string_type".into(), json!(["body", "title"])),
                (
                    "string_type".into(),
                    json!(["body", "follower_count", "str"])
                ),
                ("int_type".into(), json!(["body", "follower_count", "int"])),
            ]
        );
        assert_eq!(detail[0]["input"], json!(1.5));
        assert_eq!(detail[0]["msg"], "Input should be a valid integer");
        assert_eq!(detail[1]["msg"], "Field required");
    }

    #[test]
    fn refuses_null_for_a_required_field_and_out_of_range_integers() {
        let e = errors(
            EventType::User,
            r#"{"ind": null, "age": 18446744073709551615}"#,
        );
        assert_eq!(e["detail"][0]["loc"], json!(["body", "ind"]));
        assert_eq!(e["detail"][1]["loc"], json!(["body", "age"]));
    }

    #[test]
    fn geo_needs_a_timestamp_string_and_numeric_coordinates() {
        let ok =
            r#"{"ind": 1, "timestamp": "2020-08-28 03:52:47", "latitude": 10, "longitude": -1.5}"#;
        assert!(validate(EventType::Geo, ok.as_bytes()).is_ok());
        let e = errors(EventType::Geo, r#"{"ind": 1, "latitude": "10"}"#);
        assert_eq!(e["detail"][0]["type"], "missing");
        assert_eq!(e["detail"][1]["type"], "float_type");
    }

    #[test]
    fn refuses_bodies_that_are_not_utf8_even_in_fields_it_does_not_read() {
        // The byte 0xff can appear nowhere in UTF-8; a reader that skips unknown fields without
        // decoding them would let it through.
        let mut body = br#"{"index": 1, "unique_id": "u", "extra": ""#.to_vec();
        body.push(0xff);
        body.extend_from_slice(br#""}"#);
        assert!(scan_key(EventType::Pin, &body).is_none());
        let e = validate_key(EventType::Pin, &body).expect_err("not UTF-8");
        assert_eq!(e.detail[0].kind, "json_invalid");
    }

    #[test]
    fn explains_bodies_that_are_not_objects() {
        assert_eq!(
            errors(EventType::Pin, "[1, 2]")["detail"][0]["type"],
            "model_attributes_type"
        );
        assert_eq!(
            errors(EventType::Pin, "  ")["detail"][0]["loc"],
            json!(["body"])
        );
        let e = errors(EventType::Pin, "{\"index\": 1,\n  oops}");
        assert_eq!(e["detail"][0]["type"], "json_invalid");
        assert_eq!(e["detail"][0]["loc"], json!(["body", 15]));
    }
}
