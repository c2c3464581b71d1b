//! Property tests: cleaning and validation never panic, whatever the input; cleaning keeps its
//! invariants on any JSON object; the fast JSON writer equals serde's output.

use pinpipe_model::json_line::Escaping;
use pinpipe_model::validate::{Validated, scan_key, validate, validate_key};
use pinpipe_model::{CleanRecord, EventType};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Any JSON value, nested a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        "[ \t]*[0-9.,kKMB -]{0,12}[ \t]*".prop_map(Value::from),
        "[0-9]{4}[-:][0-9]{2}[-:][0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})?"
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            proptest::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const FIELD_NAMES: &[&str] = &[
    "index",
    "unique_id",
    "title",
    "description",
    "poster_name",
    "follower_count",
    "tag_list",
    "is_image_or_video",
    "image_src",
    "downloaded",
    "save_location",
    "category",
    "ind",
    "timestamp",
    "latitude",
    "longitude",
    "country",
    "first_name",
    "last_name",
    "age",
    "date_joined",
    "extra",
];

/// A JSON object using the real field names, with values of any type.
fn event_object() -> impl Strategy<Value = Value> {
    proptest::collection::vec((proptest::sample::select(FIELD_NAMES), json_value()), 0..14)
        .prop_map(|fields| {
            let map: Map<String, Value> =
                fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            Value::Object(map)
        })
}

/// An object that has the required keys of every type, plus fields of any type.
fn keyed_event_object() -> impl Strategy<Value = Value> {
    (event_object(), any::<i64>(), any::<String>()).prop_map(|(mut value, ind, text)| {
        let object = value.as_object_mut().unwrap();
        for (key, v) in [
            ("index", Value::from(ind)),
            ("ind", Value::from(ind)),
            ("unique_id", Value::from(text.clone())),
            ("timestamp", Value::from(text)),
        ] {
            object.entry(key).or_insert(v);
        }
        value
    })
}

/// Object text written by hand: fields may repeat (the last one counts, as in serde_json's map),
/// names may be written with escapes, spacing varies.
fn object_text() -> impl Strategy<Value = String> {
    let field = (
        proptest::sample::select(FIELD_NAMES),
        json_value(),
        any::<bool>(),
        "[ \t\n]{0,2}",
    );
    (
        keyed_event_object(),
        proptest::collection::vec(field, 0..6),
        any::<bool>(),
    )
        .prop_map(|(base, extra, extra_first)| {
            let mut fields: Vec<String> = base
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| format!("{}:{}", Value::from(k.as_str()), v))
                .collect();
            let more = extra.into_iter().map(|(name, value, escaped, space)| {
                let name = if escaped {
                    // The first letter as a \u escape: the same name to a JSON parser.
                    let mut chars = name.chars();
                    let first = chars.next().unwrap();
                    format!("\"\\u{:04x}{}\"", first as u32, chars.as_str())
                } else {
                    Value::from(name).to_string()
                };
                format!("{space}{name}{space}:{space}{value}")
            });
            if extra_first {
                let mut all: Vec<String> = more.collect();
                all.extend(fields);
                fields = all;
            } else {
                fields.extend(more);
            }
            format!("{{{}}}", fields.join(","))
        })
}

/// Ingest's path ([`validate_key`]) and the full check answer `text` alike: the same key, or the
/// same 422 body. Returns the full check's answer.
fn same_answers(
    t: EventType,
    text: &str,
) -> Result<Result<Validated, pinpipe_model::validate::ValidationErrors>, TestCaseError> {
    let full = validate(t, text.as_bytes());
    match (&full, &validate_key(t, text.as_bytes())) {
        (Ok(v), Ok(key)) => prop_assert_eq!(&v.log_key(), key),
        (Err(a), Err(b)) => prop_assert_eq!(a, b),
        _ => prop_assert!(false, "validate and validate_key disagree on {}", text),
    }
    Ok(full)
}

fn typed_back(validated: Validated) -> Value {
    match validated {
        Validated::Pin(p) => serde_json::to_value(p),
        Validated::Geo(g) => serde_json::to_value(g),
        Validated::User(u) => serde_json::to_value(u),
    }
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_scan_never_accepts_what_the_full_check_refuses(text in object_text()) {
        for t in EventType::ALL {
            let full = same_answers(t, &text)?;
            if let Some(scanned) = scan_key(t, text.as_bytes()) {
                prop_assert_eq!(Some(scanned), full.ok().map(|v| v.log_key()), "scan on {}", text);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        for t in EventType::ALL {
            let _ = t.clean_json(&bytes);
            let full = validate(t, &bytes);
            if let Some(scanned) = scan_key(t, &bytes) {
                prop_assert_eq!(Some(scanned), full.ok().map(|v| v.log_key()));
            }
        }
    }

    #[test]
    fn arbitrary_json_never_panics(value in json_value()) {
        let text = value.to_string();
        for t in EventType::ALL {
            let _ = t.clean_json(text.as_bytes());
            let _ = validate(t, text.as_bytes());
        }
    }

    #[test]
    fn event_objects_clean_with_invariants(value in prop_oneof![event_object(), keyed_event_object()]) {
        let text = value.to_string();
        for t in EventType::ALL {
            let cleaned = t.clean_json(text.as_bytes());
            // Ingest's hot path (key only) accepts and refuses exactly as the full check does,
            // with the same key and the same 422 body.
            let full = same_answers(t, &text)?;
            // The streaming scan alone decides every body without repeated fields (serde's
            // text has none): the full check is only the explainer of refusals.
            let scanned = scan_key(t, text.as_bytes());
            prop_assert_eq!(scanned, full.as_ref().ok().map(Validated::log_key), "scan on {}", text);
            // What passes ingest's strict check can always be cleaned.
            if full.is_ok() {
                prop_assert!(cleaned.is_ok(), "validated but unusable: {}", text);
            }
            let Ok(record) = cleaned else { continue };
            // The fast writer and serde's derived serialisation agree byte for byte, also when
            // escaping is skipped because the raw JSON had no backslash.
            let serde = serde_json::to_string(&record).unwrap();
            let mut fast = Vec::new();
            record.write_json(&mut fast, Escaping::Check);
            prop_assert_eq!(String::from_utf8(fast).unwrap(), serde.clone());
            let mut fast = Vec::new();
            record.write_json(&mut fast, Escaping::for_raw(text.as_bytes()));
            prop_assert_eq!(String::from_utf8(fast).unwrap(), serde);
            let out = serde_json::to_value(&record).unwrap();
            match record {
                CleanRecord::Pin(pin) => {
                    prop_assert_eq!(pin.unique_id.trim(), &*pin.unique_id);
                    let texts = [&pin.title, &pin.description, &pin.poster_name, &pin.save_location, &pin.category];
                    for text in texts.into_iter().flatten() {
                        prop_assert!(!text.is_empty() && text.trim() == &**text);
                    }
                    prop_assert!(pin.tag_list.iter().all(|t| !t.is_empty() && t.trim() == &**t));
                    prop_assert!(out["tag_list"].is_array());
                    prop_assert!(pin.follower_count.is_none_or(|f| f >= 0));
                }
                CleanRecord::Geo(geo) => {
                    if let Some([lat, lon]) = geo.coordinates {
                        prop_assert!((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon));
                    }
                }
                CleanRecord::User(user) => {
                    prop_assert!(user.age.is_none_or(|a| (0..=120).contains(&a)));
                }
            }
        }
    }

    #[test]
    fn validated_events_keep_every_field(value in prop_oneof![event_object(), keyed_event_object()]) {
        let text = value.to_string();
        for t in EventType::ALL {
            if let Ok(validated) = validate(t, text.as_bytes()) {
                let back = typed_back(validated);
                for (k, v) in value.as_object().unwrap() {
                    prop_assert_eq!(&back[k], v, "field {}", k);
                }
            }
        }
    }
}
