//! The ingest API under a storm of malformed requests: 10,000 bodies generated deterministically
//! (a seeded PRNG, no new dependencies) — broken JSON, wrong types, missing keys, huge numbers,
//! deep nesting, invalid UTF-8, NUL bytes, empty and oversize bodies, duplicated keys — sent by
//! concurrent keep-alive clients to every write endpoint of the real `pinpipe serve` binary.
//! Every answer must be a 4xx with a JSON body, the server must stay up and healthy, and nothing
//! may reach the event log.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support;
use crate::support::{Pinpipe, raw_request, record_counts, text};
use serde_json::{Map, Value, json};

const CASES: usize = 10_000;
const WORKERS: usize = 12;
/// Body limit for the run (single events and batches), so that 100 KB bodies are over it.
const LIMIT: usize = 65_536;

/// SplitMix64: small, seeded, good enough to pick cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// Index by weight.
    fn weighted(&mut self, weights: &[usize]) -> usize {
        let mut roll = self.below(weights.iter().sum());
        for (i, &w) in weights.iter().enumerate() {
            if roll < w {
                return i;
            }
            roll -= w;
        }
        unreachable!()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pin,
    Geo,
    User,
}

/// The JSON types a field takes (data.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Accepts {
    Int,
    Str,
    Number,
    StrOrInt,
    IntOrBool,
}

/// (field, required, accepts).
fn fields(kind: Kind) -> &'static [(&'static str, bool, Accepts)] {
    match kind {
        Kind::Pin => &[
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
        ],
        Kind::Geo => &[
            ("ind", true, Accepts::Int),
            ("timestamp", true, Accepts::Str),
            ("latitude", false, Accepts::Number),
            ("longitude", false, Accepts::Number),
            ("country", false, Accepts::Str),
        ],
        Kind::User => &[
            ("ind", true, Accepts::Int),
            ("first_name", false, Accepts::Str),
            ("last_name", false, Accepts::Str),
            ("age", false, Accepts::Int),
            ("date_joined", false, Accepts::Str),
        ],
    }
}

/// A valid event of that kind, varied a little.
fn valid(rng: &mut Rng, kind: Kind) -> Map<String, Value> {
    let ind = rng.below(11_154);
    let value = match kind {
        Kind::Pin => json!({
            "index": ind,
            "unique_id": format!("{:016x}-{:04x}", rng.next(), rng.below(0x10000)),
            "title": rng.pick(&["No Title Data Available", "Tattoo ideas", "  padded  "]),
            "description": "No description available Story format",
            "poster_name": "User Info Error",
            "follower_count": rng.pick(&[json!("35k"), json!(848), json!("User Info Error")]),
            "tag_list": "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e",
            "is_image_or_video": "image",
            "image_src": "https://i.pinimg.com/originals/x.png",
            "downloaded": rng.pick(&[json!(1), json!(0), json!(true)]),
            "save_location": "Local save in /data/tattoos",
            "category": rng.pick(&["tattoos", "art", "finance"]),
        }),
        Kind::Geo => json!({
            "ind": ind,
            "timestamp": rng.pick(&["2020-08-28 03:52:47", "2020:08:28 03:52:47", "2020-08-28T03:52:47+02:00"]),
            "latitude": -89.9787,
            "longitude": 173.293,
            "country": "Antarctica (the territory South of 60 deg S)",
        }),
        Kind::User => json!({
            "ind": ind,
            "first_name": "Abigail",
            "last_name": "Ali",
            "age": rng.below(90),
            "date_joined": "2015-10-24 11:23:51",
        }),
    };
    match value {
        Value::Object(map) => map,
        _ => unreachable!(),
    }
}

fn valid_text(rng: &mut Rng, kind: Kind) -> Vec<u8> {
    serde_json::to_vec(&valid(rng, kind)).unwrap()
}

const SENTINEL: &str = "@@SENTINEL@@";

/// A valid event whose `field` holds `raw` (bytes spliced into the JSON text as the value).
fn with_raw_field(rng: &mut Rng, kind: Kind, field: &str, raw: &[u8]) -> Vec<u8> {
    let mut map = valid(rng, kind);
    map.insert(field.to_owned(), Value::String(SENTINEL.to_owned()));
    let text = serde_json::to_string(&map).unwrap();
    let quoted = format!("\"{SENTINEL}\"");
    let at = text.find(&quoted).unwrap();
    let mut out = text.as_bytes()[..at].to_vec();
    out.extend_from_slice(raw);
    out.extend_from_slice(&text.as_bytes()[at + quoted.len()..]);
    out
}

/// A value of the wrong JSON type for a field (null only where the field is required).
fn wrong_value(rng: &mut Rng, accepts: Accepts, required: bool) -> Value {
    let mut options: Vec<Value> = match accepts {
        Accepts::Int => vec![
            json!("7"),
            json!(1.5),
            json!(true),
            json!([]),
            json!({}),
            json!("abc"),
        ],
        Accepts::Str => vec![
            json!(1),
            json!(true),
            json!([]),
            json!({}),
            json!(1.5),
            json!(["a"]),
        ],
        Accepts::Number => vec![
            json!("1.5"),
            json!(true),
            json!([]),
            json!({}),
            json!("north"),
        ],
        Accepts::StrOrInt => vec![
            json!(1.5),
            json!(true),
            json!([]),
            json!({}),
            json!(["35k"]),
        ],
        Accepts::IntOrBool => vec![json!("1"), json!(1.5), json!([]), json!({}), json!("true")],
    };
    if required {
        options.push(Value::Null);
    }
    rng.pick(&options).clone()
}

/// What makes a body malformed (for the per-category report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Category {
    Truncated,
    RandomBytes,
    GarbageTokens,
    WrongType,
    MissingKey,
    HugeNumber,
    DeepArray,
    DeepObject,
    DeepInField,
    InvalidUtf8,
    LoneSurrogate,
    Empty,
    Whitespace,
    TopLevelNotObject,
    NulByte,
    Oversize,
    DuplicateKey,
}

const CATEGORIES: &[(Category, usize)] = &[
    (Category::Truncated, 30),
    (Category::RandomBytes, 20),
    (Category::GarbageTokens, 20),
    (Category::WrongType, 40),
    (Category::MissingKey, 16),
    (Category::HugeNumber, 10),
    (Category::DeepArray, 3),
    (Category::DeepObject, 3),
    (Category::DeepInField, 3),
    (Category::InvalidUtf8, 12),
    (Category::LoneSurrogate, 6),
    (Category::Empty, 4),
    (Category::Whitespace, 4),
    (Category::TopLevelNotObject, 10),
    (Category::NulByte, 10),
    (Category::Oversize, 1),
    (Category::DuplicateKey, 10),
];

const DEPTH: usize = 10_000;

/// One malformed event body of that kind: never a valid event, whatever wraps it.
fn malformed_item(rng: &mut Rng, kind: Kind, category: Category) -> Vec<u8> {
    let string_fields: Vec<&str> = fields(kind)
        .iter()
        .filter(|f| f.2 == Accepts::Str)
        .map(|f| f.0)
        .collect();
    match category {
        Category::Truncated => {
            let text = valid_text(rng, kind);
            let cut = rng.below(text.len());
            text[..cut].to_vec()
        }
        Category::RandomBytes => {
            let len = 1 + rng.below(256);
            let mut bytes = rng.bytes(len);
            if serde_json::from_slice::<Value>(&bytes).is_ok() {
                bytes.insert(0, b'}');
            }
            bytes
        }
        Category::GarbageTokens => {
            const TOKENS: &[&str] = &[
                "{",
                "}",
                "[",
                "]",
                ":",
                ",",
                "\"index\"",
                "\"unique_id\"",
                "\"ind\"",
                "1",
                "-",
                "01",
                "1.",
                ".5",
                "1e",
                "null",
                "nul",
                "tru",
                "true",
                "NaN",
                "Infinity",
                "'x'",
                "\"unterminated",
                "\\",
                "\"\\x\"",
                "/* c */",
                "//",
                "0x10",
                "+1",
                "\"a\"",
                "{}",
                "[]",
                "\"\\u12\"",
                "-Infinity",
            ];
            let mut out = String::new();
            for _ in 0..1 + rng.below(20) {
                out.push_str(rng.pick::<&str>(TOKENS));
                if rng.chance(30) {
                    out.push(' ');
                }
            }
            // A JSON text never ends with a comma.
            out.push(',');
            out.into_bytes()
        }
        Category::WrongType => {
            let &(field, required, accepts) = rng.pick(fields(kind));
            let mut map = valid(rng, kind);
            map.insert(field.to_owned(), wrong_value(rng, accepts, required));
            serde_json::to_vec(&map).unwrap()
        }
        Category::MissingKey => {
            let mut map = valid(rng, kind);
            let required: Vec<&str> = fields(kind).iter().filter(|f| f.1).map(|f| f.0).collect();
            if rng.chance(70) {
                map.remove(*rng.pick(&required));
            } else {
                for name in required {
                    map.remove(name);
                }
            }
            serde_json::to_vec(&map).unwrap()
        }
        Category::HugeNumber => {
            let ints: Vec<&str> = fields(kind)
                .iter()
                .filter(|f| f.2 == Accepts::Int)
                .map(|f| f.0)
                .collect();
            let field = *rng.pick(&ints);
            let huge = *rng.pick(&[
                "1e400",
                "-1e400",
                "1e309",
                "99999999999999999999999",
                "-99999999999999999999999",
                "18446744073709551616",
                "9223372036854775808",
                "123456789012345678901234567890e10",
            ]);
            with_raw_field(rng, kind, field, huge.as_bytes())
        }
        Category::DeepArray => format!("{}{}", "[".repeat(DEPTH), "]".repeat(DEPTH)).into_bytes(),
        Category::DeepObject => {
            format!("{}1{}", "{\"a\":".repeat(DEPTH), "}".repeat(DEPTH)).into_bytes()
        }
        Category::DeepInField => {
            let field = *rng.pick(&string_fields);
            let deep = if rng.chance(50) {
                format!("{}{}", "[".repeat(DEPTH), "]".repeat(DEPTH))
            } else {
                format!("{}null{}", "{\"a\":".repeat(DEPTH), "}".repeat(DEPTH))
            };
            with_raw_field(rng, kind, field, deep.as_bytes())
        }
        Category::InvalidUtf8 => {
            let bad: &[u8] = rng.pick::<&[u8]>(&[
                b"\xff\xfe",
                b"\xc3\x28",
                b"\xc0\xaf",
                b"\xed\xa0\x80",
                b"\xf8\x88\x80\x80\x80",
                b"caf\xe9",
                b"\x80",
            ]);
            if rng.chance(80) {
                let field = *rng.pick(&string_fields);
                let mut raw = b"\"".to_vec();
                raw.extend_from_slice(bad);
                raw.push(b'"');
                with_raw_field(rng, kind, field, &raw)
            } else {
                let mut text = valid_text(rng, kind);
                text.splice(0..0, bad.iter().copied());
                text
            }
        }
        Category::LoneSurrogate => {
            let field = *rng.pick(&string_fields);
            let raw = *rng.pick(&[r#""\ud800""#, r#""x\udc00y""#, r#""\udbff\u0041""#]);
            with_raw_field(rng, kind, field, raw.as_bytes())
        }
        Category::Empty => Vec::new(),
        Category::Whitespace => rng
            .pick(&[" ", "\n", " \t\r\n ", "\r\n\r\n"])
            .as_bytes()
            .to_vec(),
        Category::TopLevelNotObject => {
            let valid = String::from_utf8(valid_text(rng, kind)).unwrap();
            let options = [
                "\"a string\"".to_owned(),
                "42".to_owned(),
                "-1.5".to_owned(),
                "true".to_owned(),
                "false".to_owned(),
                "null".to_owned(),
                "[]".to_owned(),
                format!("[{valid}]"),
                "[1, 2, 3]".to_owned(),
                serde_json::to_string(&valid).unwrap(),
            ];
            rng.pick(&options).clone().into_bytes()
        }
        Category::NulByte => {
            let mut text = valid_text(rng, kind);
            let at = rng.below(text.len() + 1);
            text.insert(at, 0);
            text
        }
        Category::Oversize => {
            let field = *rng.pick(&string_fields);
            let big = format!("\"{}\"", "x".repeat(100_000 + rng.below(10_000)));
            with_raw_field(rng, kind, field, big.as_bytes())
        }
        Category::DuplicateKey => {
            // The last occurrence wins (as in Python), so the duplicate is the wrong one.
            let mut text = valid_text(rng, kind);
            let &(field, required, accepts) = rng.pick(fields(kind));
            let wrong = wrong_value(rng, accepts, required);
            assert_eq!(text.pop(), Some(b'}'));
            text.extend_from_slice(format!(",\"{field}\":{wrong}}}").as_bytes());
            text
        }
    }
}

/// One request of the storm.
struct Case {
    path: &'static str,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    category: Category,
}

fn single_path(rng: &mut Rng, kind: Kind) -> &'static str {
    let slash = rng.chance(80);
    match (kind, slash) {
        (Kind::Pin, true) => "/pin/",
        (Kind::Pin, false) => "/pin",
        (Kind::Geo, true) => "/geo/",
        (Kind::Geo, false) => "/geo",
        (Kind::User, true) => "/user/",
        (Kind::User, false) => "/user",
    }
}

fn batch_path(kind: Kind) -> &'static str {
    match kind {
        Kind::Pin => "/pins",
        Kind::Geo => "/geos",
        Kind::User => "/users",
    }
}

fn is_object_category(category: Category) -> bool {
    matches!(
        category,
        Category::WrongType | Category::MissingKey | Category::DuplicateKey
    )
}

fn generate(rng: &mut Rng) -> Case {
    let weights: Vec<usize> = CATEGORIES.iter().map(|c| c.1).collect();
    let category = CATEGORIES[rng.weighted(&weights)].0;
    // Targets: single events 9, JSON batches 3, NDJSON batches 3, REST proxy 2.
    let target = rng.weighted(&[3, 3, 3, 1, 1, 1, 1, 1, 1, 2]);
    let kind = match target {
        0 | 3 | 6 | 9 => Kind::Pin,
        1 | 4 | 7 => Kind::Geo,
        _ => Kind::User,
    };
    let item = malformed_item(rng, kind, category);
    let blank = item.iter().all(u8::is_ascii_whitespace);
    let json_type = || Some("application/json");
    match target {
        0..=2 => {
            let content_type = match rng.below(20) {
                0 | 1 => None,
                2 => Some("application/json; charset=utf-8"),
                _ => Some("application/json"),
            };
            Case {
                path: single_path(rng, kind),
                content_type,
                body: item,
                category,
            }
        }
        // NDJSON needs a non-blank item: a blank line is skipped, leaving a valid batch.
        6..=8 if !blank => {
            let mut body = valid_text(rng, kind);
            body.push(b'\n');
            body.extend_from_slice(&item);
            body.push(b'\n');
            Case {
                path: batch_path(kind),
                content_type: Some(*rng.pick(&["application/x-ndjson", "application/ndjson"])),
                body,
                category,
            }
        }
        3..=8 => {
            let body = if is_object_category(category) && rng.chance(30) {
                item // an object, not a list
            } else {
                let mut body = b"[".to_vec();
                body.extend_from_slice(&valid_text(rng, kind));
                body.extend_from_slice(b", ");
                body.extend_from_slice(&item);
                body.push(b']');
                body
            };
            Case {
                path: batch_path(kind),
                content_type: json_type(),
                body,
                category,
            }
        }
        _ => {
            let body = if is_object_category(category) && rng.chance(30) {
                item // no "records"
            } else {
                let mut body = b"{\"records\":[".to_vec();
                if rng.chance(50) {
                    body.extend_from_slice(b"{\"value\":");
                    body.extend_from_slice(&valid_text(rng, kind));
                    body.extend_from_slice(b"},");
                }
                body.extend_from_slice(b"{\"value\":");
                body.extend_from_slice(&item);
                body.extend_from_slice(b"}]}");
                body
            };
            Case {
                path: "/topics/pins",
                content_type: Some("application/vnd.kafka.json.v2+json"),
                body,
                category,
            }
        }
    }
}

/// What one request got.
struct Outcome {
    case: usize,
    status: Option<u16>,
    body: Vec<u8>,
    error: Option<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_malformed_requests_get_4xx_and_store_nothing() {
    let mut rng = Rng(0x5EED_2026_0000_0013);
    let cases: Arc<Vec<Case>> = Arc::new((0..CASES).map(|_| generate(&mut rng)).collect());

    let dir = tempfile::tempdir().unwrap();
    let limit = LIMIT.to_string();
    let mut server = Pinpipe::command(dir.path(), &["serve"])
        .env(&[
            ("PINPIPE_SERVE__MAX_BODY_BYTES", &limit),
            ("PINPIPE_SERVE__MAX_BATCH_BODY_BYTES", &limit),
        ])
        .start();
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(WORKERS)
        .build()
        .unwrap();
    // Oversize bodies go on connections of their own: the server answers 413 before reading the
    // body and then closes the connection without saying so (no `Connection: close`), which
    // breaks the next request on a reused connection. That bug has its own test in
    // ingest_api.rs (a_keep_alive_connection_survives_an_early_refusal_or_is_closed_explicitly);
    // here it would only blur what this test checks.
    let fresh_connections = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let (client, fresh_connections, cases, next) = (
            client.clone(),
            fresh_connections.clone(),
            cases.clone(),
            next.clone(),
        );
        let base = server.url("");
        workers.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(case) = cases.get(i) else { break };
                let client = if case.category == Category::Oversize {
                    &fresh_connections
                } else {
                    &client
                };
                let mut request = client
                    .post(format!("{base}{}", case.path))
                    .body(case.body.clone());
                if let Some(content_type) = case.content_type {
                    request = request.header("content-type", content_type);
                }
                let outcome = match request.send().await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        match response.bytes().await {
                            Ok(body) => Outcome {
                                case: i,
                                status: Some(status),
                                body: body.to_vec(),
                                error: None,
                            },
                            Err(e) => Outcome {
                                case: i,
                                status: Some(status),
                                body: Vec::new(),
                                error: Some(format!("reading the body: {e}")),
                            },
                        }
                    }
                    Err(e) => Outcome {
                        case: i,
                        status: None,
                        body: Vec::new(),
                        error: Some(format!("{e:?}")),
                    },
                };
                outcomes.push(outcome);
            }
            outcomes
        }));
    }
    let mut outcomes = Vec::new();
    for worker in workers {
        outcomes.extend(worker.await.unwrap());
    }
    let elapsed = started.elapsed();
    assert_eq!(outcomes.len(), CASES);

    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_category: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    let mut failures = Vec::new();
    for outcome in &outcomes {
        let case = &cases[outcome.case];
        let label = match (outcome.status, &outcome.error) {
            (Some(s), None) => s.to_string(),
            (Some(s), Some(_)) => format!("{s} (body unreadable)"),
            (None, _) => "no answer".to_owned(),
        };
        *by_status.entry(label.clone()).or_default() += 1;
        *by_category
            .entry(format!("{:?}", case.category))
            .or_default()
            .entry(label)
            .or_default() += 1;
        let json_body = serde_json::from_slice::<Value>(&outcome.body).ok();
        let ok = outcome.error.is_none()
            && outcome.status.is_some_and(|s| (400..500).contains(&s))
            && json_body
                .as_ref()
                .is_some_and(|b| b.get("detail").is_some());
        if !ok {
            failures.push(format!(
                "#{} {:?} POST {} ({:?}), {} bytes, starts {:?}: {:?} {} {}",
                outcome.case,
                case.category,
                case.path,
                case.content_type,
                case.body.len(),
                String::from_utf8_lossy(&case.body[..case.body.len().min(120)]),
                outcome.status,
                outcome.error.as_deref().unwrap_or(""),
                text(&outcome.body[..outcome.body.len().min(300)]),
            ));
        }
    }
    eprintln!(
        "{CASES} malformed requests by {WORKERS} workers in {:.1} s",
        elapsed.as_secs_f64()
    );
    eprintln!("answers by status: {by_status:?}");
    for (category, statuses) in &by_category {
        eprintln!("  {category:<18} {statuses:?}");
    }

    // The server survived and is healthy.
    assert!(
        server.is_running(),
        "the server died:\n{}",
        server.log_text()
    );
    let health = raw_request(server.addr(), b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    assert_eq!(health.status, 200);
    let fivexx = by_status.keys().filter(|s| s.starts_with('5')).count();
    assert_eq!(fivexx, 0, "5xx answers: {by_status:?}");
    assert!(
        failures.is_empty(),
        "{} of {CASES} requests did not get a 4xx with a JSON detail; first ones:\n{}",
        failures.len(),
        failures[..failures.len().min(15)].join("\n")
    );
    // None of them was valid: nothing was appended.
    let counts = record_counts(&server.work_dir, &server.data_dir);
    assert!(
        counts.values().all(|&n| n == 0),
        "records appended by malformed requests: {counts:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Bodies and framing alike, over raw keep-alive connections (issue 14, scenario 4).
// ---------------------------------------------------------------------------------------------

/// What a framing case is, and what its answer must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Framing {
    /// A malformed body in a well-formed request: one 4xx with a JSON detail.
    Body,
    /// Three such requests in one write: three answers (or fewer when one closes).
    Pipelined,
    /// An HTTP/1.0 request: one 4xx, then the server closes.
    Http10,
    /// `Transfer-Encoding: chunked` with a broken chunk: a 4xx or a close, never 2xx/5xx.
    BrokenChunking,
    /// The HTTP/2 connection preface on an HTTP/1.1 port.
    Http2Preface,
    /// A TLS ClientHello on a plain-text port.
    TlsHello,
    /// A 100 KB header.
    OversizedHeader,
    /// 300 headers.
    ManyHeaders,
    /// Two different `Content-Length`s.
    RepeatedContentLength,
    /// A body one byte over the limit.
    JustOverLimit,
    /// A declared body of 100 MB (only a little of it sent).
    FarOverLimit,
}

/// Whether the case is a well-formed HTTP request, which must get an answer.
fn well_formed(framing: Framing) -> bool {
    matches!(
        framing,
        Framing::Body | Framing::Pipelined | Framing::Http10 | Framing::JustOverLimit
    )
}

fn request_bytes(version: &str, case: &Case, keep_alive: bool) -> Vec<u8> {
    let mut out = format!(
        "POST {} {version}\r\nHost: t\r\nContent-Length: {}\r\n",
        case.path,
        case.body.len()
    )
    .into_bytes();
    if let Some(content_type) = case.content_type {
        out.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
    }
    if !keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&case.body);
    out
}

/// A malformed-body case of the generator above; oversize bodies have framing cases of their own.
fn body_case(rng: &mut Rng) -> Case {
    loop {
        let case = generate(rng);
        if case.category != Category::Oversize {
            return case;
        }
    }
}

/// A case to send: the bytes, what it is, how many answers a well-formed one expects.
fn framing_case(rng: &mut Rng) -> (Vec<u8>, Framing, usize) {
    let framing = match rng.below(100) {
        0..=59 => Framing::Body,
        60..=67 => Framing::Pipelined,
        68..=71 => Framing::Http10,
        72..=77 => Framing::BrokenChunking,
        78..=80 => Framing::Http2Preface,
        81..=83 => Framing::TlsHello,
        84..=86 => Framing::OversizedHeader,
        87..=89 => Framing::ManyHeaders,
        90..=93 => Framing::RepeatedContentLength,
        94..=97 => Framing::JustOverLimit,
        _ => Framing::FarOverLimit,
    };
    let pin = br#"{"index": 1, "unique_id": "fbe53c66-3442-4773-b19e-d3ec6f54dddf"}"#;
    let bytes = match framing {
        Framing::Body => request_bytes("HTTP/1.1", &body_case(rng), true),
        Framing::Pipelined => {
            let mut out = Vec::new();
            for _ in 0..3 {
                out.extend(request_bytes("HTTP/1.1", &body_case(rng), true));
            }
            return (out, framing, 3);
        }
        Framing::Http10 => request_bytes("HTTP/1.0", &body_case(rng), false),
        Framing::BrokenChunking => {
            let broken: &[&[u8]] = &[
                b"zz\r\n{}\r\n0\r\n\r\n",
                b"5\r\n{\"a\":1}\r\n0\r\n\r\n",
                b"ffffffffffffffffff\r\n{}\r\n",
                b"3;ext=\"unterminated\r\n{}x\r\n0\r\n\r\n",
                b"-1\r\n\r\n",
            ];
            let mut out = b"POST /pin/ HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            out.extend_from_slice(broken[rng.below(broken.len())]);
            out
        }
        Framing::Http2Preface => {
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04\x00\x00\x00\x00\x00".to_vec()
        }
        Framing::TlsHello => {
            let mut out = vec![
                0x16, 0x03, 0x01, 0x00, 0xc4, 0x01, 0x00, 0x00, 0xc0, 0x03, 0x03,
            ];
            out.extend(rng.bytes(190));
            out
        }
        Framing::OversizedHeader => {
            let mut out = b"POST /pin/ HTTP/1.1\r\nHost: t\r\nX-Big: ".to_vec();
            out.extend(std::iter::repeat_n(b'a', 100 << 10));
            out.extend_from_slice(b"\r\nContent-Length: 2\r\n\r\n{}");
            out
        }
        Framing::ManyHeaders => {
            let mut out = b"POST /pin/ HTTP/1.1\r\nHost: t\r\n".to_vec();
            for i in 0..300 {
                out.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
            }
            out.extend_from_slice(b"Content-Length: 2\r\n\r\n{}");
            out
        }
        Framing::RepeatedContentLength => {
            let mut out = format!(
                "POST /pin/ HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\nContent-Length: 3\r\n\r\n",
                pin.len()
            )
            .into_bytes();
            out.extend_from_slice(pin);
            out
        }
        Framing::JustOverLimit => {
            let mut body = b"{\"index\": 1, \"title\": \"".to_vec();
            body.extend(std::iter::repeat_n(b'x', LIMIT + 1 - body.len() - 2));
            body.extend_from_slice(b"\"}");
            assert_eq!(body.len(), LIMIT + 1);
            let path = *rng.pick(&["/pin/", "/pins", "/geos"]);
            let mut out = format!(
                "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            out.extend(body);
            out
        }
        Framing::FarOverLimit => {
            let mut out = b"POST /pins HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n[".to_vec();
            out.extend(std::iter::repeat_n(b' ', 4096));
            out
        }
    };
    (bytes, framing, 1)
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn a_hundred_thousand_malformed_requests_bodies_and_framing_get_no_2xx_or_5xx() {
    use std::io::{BufReader, Write};
    use std::net::TcpStream;
    let total: usize = std::env::var("TEST_MALFORMED_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let limit = LIMIT.to_string();
    let mut server = Pinpipe::command(dir.path(), &["serve"])
        .env(&[
            ("PINPIPE_SERVE__MAX_BODY_BYTES", &limit),
            ("PINPIPE_SERVE__MAX_BATCH_BODY_BYTES", &limit),
        ])
        .start();
    let addr = server.addr();
    let rss_before = rss_kb(server.pid());
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    const THREADS: usize = 8;
    let workers: Vec<_> = (0..THREADS)
        .map(|w| {
            let next = next.clone();
            std::thread::spawn(move || {
                let mut rng = Rng(0xF4A3_1000 + w as u64);
                let mut statuses: BTreeMap<(Framing, String), usize> = BTreeMap::new();
                let mut failures = Vec::new();
                let mut connection: Option<(TcpStream, BufReader<TcpStream>)> = None;
                let mut connections = 0usize;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let (bytes, framing, expected) = framing_case(&mut rng);
                    if connection.is_none() {
                        let stream = TcpStream::connect(addr).unwrap();
                        stream
                            .set_read_timeout(Some(Duration::from_secs(30)))
                            .unwrap();
                        stream
                            .set_write_timeout(Some(Duration::from_secs(30)))
                            .unwrap();
                        let reader = BufReader::new(stream.try_clone().unwrap());
                        connection = Some((stream, reader));
                        connections += 1;
                    }
                    let (writer, reader) = connection.as_mut().unwrap();
                    // A server that closes early may reset the rest of a large write.
                    let _ = writer.write_all(&bytes);
                    let mut answers = 0;
                    let mut keep = true;
                    while answers < expected {
                        match support::read_response(reader) {
                            Ok(response) => {
                                answers += 1;
                                let label = response.status.to_string();
                                let json_detail = serde_json::from_slice::<Value>(&response.body)
                                    .ok()
                                    .is_some_and(|b| b.get("detail").is_some());
                                let bad = !(400..500).contains(&response.status)
                                    || (well_formed(framing) && !json_detail);
                                if bad && failures.len() < 20 {
                                    failures.push(format!(
                                        "{framing:?}: {} {}",
                                        response.status,
                                        text(&response.body[..response.body.len().min(200)])
                                    ));
                                }
                                *statuses.entry((framing, label)).or_default() += 1;
                                if response.header("connection") == Some("close") {
                                    keep = false;
                                    break;
                                }
                            }
                            Err(_) => {
                                *statuses.entry((framing, "closed".to_owned())).or_default() += 1;
                                if well_formed(framing) && answers == 0 && failures.len() < 20 {
                                    failures.push(format!("{framing:?}: closed without an answer"));
                                }
                                keep = false;
                                break;
                            }
                        }
                    }
                    if !keep || !well_formed(framing) || framing == Framing::Http10 {
                        connection = None;
                    }
                }
                (statuses, failures, connections)
            })
        })
        .collect();
    let mut statuses: BTreeMap<(Framing, String), usize> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut connections = 0;
    for worker in workers {
        let (s, f, c) = worker.join().unwrap();
        for (k, v) in s {
            *statuses.entry(k).or_default() += v;
        }
        failures.extend(f);
        connections += c;
    }
    let elapsed = started.elapsed();
    let rss_after = rss_kb(server.pid());
    eprintln!(
        "{total} malformed requests (bodies and framing) over {connections} connections in {:.1} s; \
         RSS {rss_before} kB before, {rss_after} kB after",
        elapsed.as_secs_f64()
    );
    for ((framing, status), n) in &statuses {
        eprintln!("  {framing:<22?} {status:<7} {n}");
    }
    assert!(
        server.is_running(),
        "the server died:\n{}",
        server.log_text()
    );
    assert!(
        failures.is_empty(),
        "wrong answers:\n{}",
        failures.join("\n")
    );
    let fivexx: usize = statuses
        .iter()
        .filter(|((_, s), _)| s.starts_with('5') || s.starts_with('2'))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(fivexx, 0, "2xx or 5xx answers: {statuses:?}");
    assert!(
        rss_after < rss_before + 150 * 1024,
        "RSS grew from {rss_before} kB to {rss_after} kB"
    );
    let counts = record_counts(&server.work_dir, &server.data_dir);
    assert!(
        counts.values().all(|&n| n == 0),
        "records appended: {counts:?}"
    );
    let valid = br#"{"index": 7528, "unique_id": "fbe53c66-3442-4773-b19e-d3ec6f54dddf", "category": "travel"}"#;
    let mut request = format!(
        "POST /pin/ HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        valid.len()
    )
    .into_bytes();
    request.extend_from_slice(valid);
    let ok = raw_request(addr, &request).unwrap();
    assert_eq!(
        ok.status,
        200,
        "a valid POST after the storm: {}",
        text(&ok.body)
    );
}
