//! The ingest API as its clients meet it: the real `pinpipe serve` binary on a free port, spoken
//! to over HTTP (byte-exact where the original emulator's requests matter), and the event log read
//! back with `pinpipe topics --json` and `pinpipe tail` as a user would. Covers the emulator's
//! requests, FastAPI-shaped errors, content types, body limits, batches, the Kafka REST Proxy
//! endpoint, auth, docs, graceful shutdown, durability of a 200 under `kill -9`, and saturation.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::support;
use crate::support::{
    Pinpipe, RawConnection, chunked, log_cli, raw_request, record_counts, tail_json, text,
};
use serde_json::{Value, json};

// The emulator's rows, exactly as Python's `json.dumps(row)` writes them (", " and ": ").
const PIN: &str = r#"{"index": 7528, "unique_id": "fbe53c66-3442-4773-b19e-d3ec6f54dddf", "title": "No Title Data Available", "description": "No description available Story format", "poster_name": "User Info Error", "follower_count": "User Info Error", "tag_list": "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e", "is_image_or_video": "multi-video(story page format)", "image_src": "Image src error.", "downloaded": 0, "save_location": "Local save in /data/mens-fashion", "category": "mens-fashion"}"#;
const PIN2: &str = r#"{"index": 2863, "unique_id": "9bf39437-42a6-4f02-99a0-9a0383d8cd70", "title": "25 Super Fun Summer Crafts for Kids \u2014 Caf\u00e9 edition", "description": "Of Life and Lisa | Lifestyle Blog", "poster_name": "Of Life & Lisa | Lifestyle Blog", "follower_count": "124k", "tag_list": "Summer Crafts For Kids,Fun Crafts For Kids,Summer Kids,Toddler Crafts", "is_image_or_video": "image", "image_src": "https://i.pinimg.com/originals/b3/bc/e2/b3bce2964e8c8975387b39660eed5f16.png", "downloaded": 1, "save_location": "Local save in /data/diy-and-crafts", "category": "diy-and-crafts"}"#;
const GEO: &str = r#"{"ind": 7528, "timestamp": "2020-08-28 03:52:47", "latitude": -89.9787, "longitude": -173.293, "country": "Albania"}"#;
const GEO2: &str = r#"{"ind": 2863, "timestamp": "2019-12-22 19:12:41", "latitude": 49.5573, "longitude": -58.6063, "country": "Cyprus"}"#;
const USER: &str = r#"{"ind": 7528, "first_name": "Abigail", "last_name": "Ali", "age": 20, "date_joined": "2015-10-24 11:23:51"}"#;
const USER2: &str = r#"{"ind": 2863, "first_name": "Dylan", "last_name": "Holmes", "age": 32, "date_joined": "2016-10-23 14:06:51"}"#;

const JSON_TYPE: &str = "application/json";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// A response, read completely.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} answered a body that is not JSON ({e}): {}",
                self.status,
                text(&self.body)
            )
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap().to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

/// `POST path` with that content type (none when `None`) and body.
async fn post(
    client: &reqwest::Client,
    server: &Pinpipe,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> Answer {
    let mut request = client.post(server.url(path)).body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    send(request).await
}

/// A complete, valid pin.
fn pin(index: u64, unique_id: &str) -> Value {
    json!({
        "index": index,
        "unique_id": unique_id,
        "title": format!("Pin number {index}"),
        "description": "No description available",
        "poster_name": "Of Life & Lisa",
        "follower_count": "124k",
        "tag_list": "Summer Crafts,Fun Crafts",
        "is_image_or_video": "image",
        "image_src": "https://i.pinimg.com/originals/b3/bc/e2/x.png",
        "downloaded": 1,
        "save_location": "Local save in /data/diy-and-crafts",
        "category": "diy-and-crafts",
    })
}

fn geo(ind: u64) -> Value {
    json!({
        "ind": ind,
        "timestamp": "2020-08-28 03:52:47",
        "latitude": -89.9787,
        "longitude": -173.293,
        "country": "Antarctica (the territory South of 60 deg S)",
    })
}

fn user(ind: u64) -> Value {
    json!({
        "ind": ind,
        "first_name": "Abigail",
        "last_name": "Ali",
        "age": 20,
        "date_joined": "2015-10-24 11:23:51",
    })
}

/// The request python-requests 2.31 sends for `requests.post(url, json=row)`.
fn python_requests_post(port: u16, path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: localhost:{port}\r\nUser-Agent: python-requests/2.31.0\r\n\
         Accept-Encoding: gzip, deflate\r\nAccept: */*\r\nConnection: keep-alive\r\n\
         Content-Length: {}\r\nContent-Type: application/json\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn counts(server: &Pinpipe) -> BTreeMap<String, u64> {
    record_counts(&server.work_dir, &server.data_dir)
}

fn assert_counts(server: &Pinpipe, pins: u64, geos: u64, users: u64) {
    let counts = counts(server);
    let expected: BTreeMap<String, u64> = [("geos", geos), ("pins", pins), ("users", users)]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    assert_eq!(
        counts, expected,
        "records per topic (pinpipe topics --json)"
    );
}

/// Records of a topic by (partition, offset).
fn records_by_position(server: &Pinpipe, topic: &str) -> BTreeMap<(u64, u64), Value> {
    tail_json(&server.work_dir, &server.data_dir, topic)
        .into_iter()
        .map(|r| {
            (
                (
                    r["partition"].as_u64().unwrap(),
                    r["offset"].as_u64().unwrap(),
                ),
                r,
            )
        })
        .collect()
}

/// The `unique_id`s of every pin in the log.
fn stored_unique_ids(work_dir: &Path, data_dir: &Path) -> Vec<String> {
    tail_json(work_dir, data_dir, "pins")
        .into_iter()
        .map(|r| r["value"]["unique_id"].as_str().unwrap().to_owned())
        .collect()
}

/// A `(loc, type)` pair, comparable.
fn problem(loc: &Value, kind: &str) -> (String, String) {
    (loc.to_string(), kind.to_owned())
}

/// `(loc, type)` of every entry of a FastAPI 422 body, checking each entry's shape.
fn problems(body: &Value) -> BTreeSet<(String, String)> {
    let detail = body["detail"]
        .as_array()
        .unwrap_or_else(|| panic!("no detail array in {body}"));
    assert!(!detail.is_empty(), "empty detail in {body}");
    detail
        .iter()
        .map(|d| {
            assert!(d["msg"].is_string(), "no msg in {d}");
            assert!(d.get("input").is_some(), "no input in {d}");
            assert_eq!(d["loc"][0], "body", "loc must start with body: {d}");
            problem(&d["loc"], d["type"].as_str().unwrap())
        })
        .collect()
}

#[test]
fn the_original_emulators_requests_are_stored_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let server = Pinpipe::command(dir.path(), &["serve"]).start();
    // One keep-alive connection, as a requests.Session would use.
    let mut connection = RawConnection::open(server.addr());
    let sent = [
        ("/pin/", "pins", PIN),
        ("/pin", "pins", PIN2),
        ("/geo/", "geos", GEO),
        ("/geo", "geos", GEO2),
        ("/user/", "users", USER),
        ("/user", "users", USER2),
    ];
    for (path, _, body) in sent {
        let response = connection.send(&python_requests_post(server.addr().port(), path, body));
        assert_eq!(response.status, 200, "{path}: {}", text(&response.body));
        assert!(
            response
                .header("content-type")
                .is_some_and(|c| c.starts_with(JSON_TYPE)),
            "{path}: {:?}",
            response.headers
        );
        let echoed: Value = response.json();
        assert_eq!(
            echoed,
            serde_json::from_str::<Value>(body).unwrap(),
            "{path}"
        );
    }
    for topic in ["pins", "geos", "users"] {
        let out = log_cli(
            &server.work_dir,
            &server.data_dir,
            &["tail", "--topic", topic, "--format", "value"],
        );
        let printed = text(&out.stdout);
        assert!(printed.ends_with('\n'), "{printed:?}");
        let mut got: Vec<&str> = printed.lines().collect();
        let mut expected: Vec<&str> = sent
            .iter()
            .filter(|(_, t, _)| *t == topic)
            .map(|(_, _, body)| *body)
            .collect();
        got.sort_unstable();
        expected.sort_unstable();
        assert_eq!(got, expected, "stored values of {topic}");
    }
    assert_counts(&server, 2, 2, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_events_get_fastapi_shaped_422_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let server = Pinpipe::command(dir.path(), &["serve"]).start();
    let client = client();
    // The table is data: tests/golden/ingest/422.jsonl, one case a line (path, body, the
    // problems expected as loc and type, and why).
    let table = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/golden/ingest/422.jsonl"),
    )
    .unwrap();
    let cases: Vec<Value> = table
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(cases.len() >= 15, "the 422 table has {} cases", cases.len());
    for case in &cases {
        let (path, body) = (
            case["path"].as_str().unwrap(),
            case["body"].as_str().unwrap(),
        );
        let why = case["why"].as_str().unwrap_or_default();
        let answer = post(&client, &server, path, Some(JSON_TYPE), body.to_owned()).await;
        assert_eq!(
            answer.status,
            422,
            "{path} {body} ({why}): {}",
            text(&answer.body)
        );
        assert!(
            answer
                .header("content-type")
                .is_some_and(|c| c.starts_with(JSON_TYPE))
        );
        let got = problems(&answer.json());
        let expected: BTreeSet<(String, String)> = case["detail"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| problem(&d["loc"], d["type"].as_str().unwrap()))
            .collect();
        assert_eq!(
            got,
            expected,
            "{path} {body} ({why}): {}",
            text(&answer.body)
        );
    }
    // "missing" carries the whole body as its input, as FastAPI does.
    let answer = post(&client, &server, "/pin/", None, r#"{"index": 3}"#).await;
    assert_eq!(answer.json()["detail"][0]["input"], json!({"index": 3}));
    // Not JSON at all.
    let answer = post(
        &client,
        &server,
        "/pin/",
        Some(JSON_TYPE),
        r#"{"index": 1,"#,
    )
    .await;
    assert_eq!(answer.status, 422);
    let body = answer.json();
    assert_eq!(body["detail"][0]["type"], "json_invalid", "{body}");
    assert_eq!(body["detail"][0]["loc"][0], "body", "{body}");
    assert_counts(&server, 0, 0, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_json_content_types_are_accepted_and_none_means_json() {
    let dir = tempfile::tempdir().unwrap();
    let server = Pinpipe::command(dir.path(), &["serve"]).start();
    let client = client();
    let body = pin(1, "content-type").to_string();
    let refused = [
        ("/pin/", "text/plain"),
        ("/pin/", "application/x-www-form-urlencoded"),
        ("/pin/", "multipart/form-data; boundary=xyz"),
        ("/geo/", "text/plain; charset=utf-8"),
        ("/user/", "application/xml"),
        ("/pins", "text/plain"),
        ("/pins", "application/x-www-form-urlencoded"),
        ("/topics/pins", "text/plain"),
    ];
    for (path, content_type) in refused {
        let answer = post(&client, &server, path, Some(content_type), body.clone()).await;
        assert_eq!(
            answer.status,
            415,
            "{path} {content_type}: {}",
            text(&answer.body)
        );
        assert!(answer.json()["detail"].is_string(), "{path} {content_type}");
    }
    assert_counts(&server, 0, 0, 0);

    // FastAPI reads a body without a content type as JSON.
    let request = format!(
        "POST /pin/ HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let answer = raw_request(server.addr(), request.as_bytes()).unwrap();
    assert_eq!(answer.status, 200, "{}", text(&answer.body));
    assert_eq!(answer.json(), pin(1, "content-type"));
    // Parameters and case do not matter.
    let other = pin(2, "charset").to_string();
    let answer = post(
        &client,
        &server,
        "/pin/",
        Some("Application/JSON; charset=utf-8"),
        other,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", text(&answer.body));
    assert_counts(&server, 2, 0, 0);
}

/// A valid pin of exactly `len` bytes (padded in its title).
fn pin_of_len(len: usize, unique_id: &str) -> String {
    let empty = format!(r#"{{"index": 1, "unique_id": "{unique_id}", "title": ""}}"#);
    assert!(len >= empty.len());
    let body = format!(
        r#"{{"index": 1, "unique_id": "{unique_id}", "title": "{}"}}"#,
        "x".repeat(len - empty.len())
    );
    assert_eq!(body.len(), len);
    body
}

fn chunked_post(path: &str, body: &[u8], chunk: usize) -> Vec<u8> {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    request.extend_from_slice(&chunked(body, chunk));
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_limit_get_413_with_or_without_content_length() {
    let dir = tempfile::tempdir().unwrap();
    let server = Pinpipe::command(dir.path(), &["serve"])
        .env(&[("PINPIPE_SERVE__MAX_BODY_BYTES", "1000")])
        .start();
    let client = client();

    // With Content-Length: the limit itself is allowed, one byte more is not.
    let answer = post(
        &client,
        &server,
        "/pin/",
        Some(JSON_TYPE),
        pin_of_len(1000, "at-limit"),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", text(&answer.body));
    for len in [1001, 50_000] {
        let answer = post(
            &client,
            &server,
            "/pin/",
            Some(JSON_TYPE),
            pin_of_len(len, "over"),
        )
        .await;
        assert_eq!(answer.status, 413, "{len} bytes: {}", text(&answer.body));
        assert!(answer.json()["detail"].as_str().unwrap().contains("1000"));
    }

    // Chunked (no Content-Length): the limit is enforced while reading.
    let answer = raw_request(
        server.addr(),
        &chunked_post(
            "/pin/",
            pin_of_len(1000, "chunked-at-limit").as_bytes(),
            100,
        ),
    )
    .unwrap();
    assert_eq!(answer.status, 200, "{}", text(&answer.body));
    for len in [1001, 5000] {
        let answer = raw_request(
            server.addr(),
            &chunked_post("/pin/", pin_of_len(len, "chunked-over").as_bytes(), 100),
        )
        .unwrap();
        assert_eq!(answer.status, 413, "{len} bytes: {}", text(&answer.body));
        assert!(answer.json()["detail"].is_string());
    }
    let ids = stored_unique_ids(&server.work_dir, &server.data_dir);
    assert_eq!(ids.len(), 2, "{ids:?}");
    drop(server);

    // The default limit is 1 MiB.
    let dir = tempfile::tempdir().unwrap();
    let server = Pinpipe::command(dir.path(), &["serve"]).start();
    let answer = post(
        &client,
        &server,
        "/pin/",
        Some(JSON_TYPE),
        pin_of_len(1 << 20, "one-mib"),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", text(&answer.body));
    let answer = post(
        &client,
        &server,
        "/pin/",
        Some(JSON_TYPE),
        pin_of_len((1 << 20) + 1, "one-mib-and-a-byte"),
    )
    .await;
    assert_eq!(answer.status, 413, "{}", text(&answer.body));
    assert_counts(&server, 1, 0, 0);
}

/// Sends `request` (whole, from another thread, as a client writes its body before reading) on a
/// keep-alive connection, expects `status`, then checks the connection is either closed with
/// `Connection: close` or still usable for the next request.
fn check_reuse_after(server: &Pinpipe, request: Vec<u8>, status: u16) -> Result<(), String> {
    use std::io::Write;
    let stream = std::net::TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream.try_clone().unwrap();
    let sending = std::thread::spawn(move || writer.write_all(&request).is_ok());
    let first = support::read_response(&mut reader).map_err(|e| format!("no answer: {e}"))?;
    let body_sent = sending.join().unwrap();
    if first.status != status {
        return Err(format!("got {} instead of {status}", first.status));
    }
    if first
        .header("connection")
        .is_some_and(|c| c.eq_ignore_ascii_case("close"))
    {
        return Ok(()); // the client was told not to reuse the connection
    }
    let small = pin(1, "after-refusal").to_string();
    let again = format!(
        "POST /pin/ HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3cret\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{small}",
        small.len()
    );
    match (&stream)
        .write_all(again.as_bytes())
        .and_then(|()| support::read_response(&mut reader))
    {
        Ok(second) if second.status == 200 => Ok(()),
        Ok(second) => Err(format!("the next request got {}", second.status)),
        Err(e) => Err(format!(
            "answered {status} without `Connection: close` (headers {:?}; whole body written: \
             {body_sent}), then closed the connection: the next request on it failed with {e}",
            first.headers
        )),
    }
}

#[test]
fn a_keep_alive_connection_survives_an_early_refusal_or_is_closed_explicitly() {
    let dir = tempfile::tempdir().unwrap();
    let server = Pinpipe::command(dir.path(), &["serve"])
        .env(&[
            ("PINPIPE_SERVE__MAX_BODY_BYTES", "1000"),
            ("PINPIPE_SERVE__AUTH_TOKEN", "s3cret"),
        ])
        .start();
    // Refusals answered before the (large) body is read.
    let big = pin_of_len(200_000, "too-big");
    let head = |path: &str, content_type: &str, auth: bool, framing: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: t\r\nConnection: keep-alive\r\n{}\
             Content-Type: {content_type}\r\n{framing}\r\n",
            if auth {
                "Authorization: Bearer s3cret\r\n"
            } else {
                ""
            }
        )
        .into_bytes()
    };
    let length = format!("Content-Length: {}\r\n", big.len());
    let with_length = |mut head: Vec<u8>| {
        head.extend_from_slice(big.as_bytes());
        head
    };
    let cases = [
        (
            "413, Content-Length",
            with_length(head("/pin/", JSON_TYPE, true, &length)),
            413,
        ),
        (
            "413, chunked",
            {
                let mut r = head("/pin/", JSON_TYPE, true, "Transfer-Encoding: chunked\r\n");
                r.extend_from_slice(&chunked(big.as_bytes(), 4096));
                r
            },
            413,
        ),
        (
            "415",
            with_length(head("/pin/", "text/plain", true, &length)),
            415,
        ),
        (
            "401",
            with_length(head("/pins", JSON_TYPE, false, &length)),
            401,
        ),
    ];
    let mut failures = Vec::new();
    for (name, request, status) in cases {
        if let Err(e) = check_reuse_after(&server, request, status) {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Checks a batch answer against the log: each event at its reported position, with its key,
/// and request order kept within each partition.
fn check_batch_stored(
    server: &Pinpipe,
    topic: &str,
    answer: &Answer,
    events: &[Value],
    key_field: &str,
) {
    assert_eq!(answer.status, 200, "{}", text(&answer.body));
    let body = answer.json();
    assert_eq!(body["accepted"], events.len(), "{body}");
    let offsets = body["offsets"].as_array().unwrap();
    assert_eq!(offsets.len(), events.len(), "{body}");
    let stored = records_by_position(server, topic);
    let mut last_in_partition: BTreeMap<u64, u64> = BTreeMap::new();
    for (event, position) in events.iter().zip(offsets) {
        let partition = position["partition"].as_u64().unwrap();
        let offset = position["offset"].as_u64().unwrap();
        let record = stored
            .get(&(partition, offset))
            .unwrap_or_else(|| panic!("nothing at {partition}/{offset} in {topic}"));
        assert_eq!(&record["value"], event);
        let key = match &event[key_field] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        assert_eq!(record["key"], key.as_str());
        if let Some(previous) = last_in_partition.insert(partition, offset) {
            assert!(
                offset > previous,
                "request order not kept in partition {partition}"
            );
        }
    }
    // `tail` prints each partition in offset order: the events of a partition in request order.
    let tailed = tail_json(&server.work_dir, &server.data_dir, topic);
    for &partition in last_in_partition.keys() {
        let printed: Vec<&Value> = tailed
            .iter()
            .filter(|r| r["partition"] == partition)
            .map(|r| &r["value"])
            .collect();
        let expected: Vec<&Value> = events
            .iter()
            .zip(offsets)
            .filter(|(_, p)| p["partition"] == partition)
            .map(|(e, _)| e)
            .collect();
        assert_eq!(printed, expected, "partition {partition} of {topic}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_keep_order_and_are_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Pinpipe::command(dir.path(), &["serve"]).start();
    let client = client();

    let pins: Vec<Value> = (0..12)
        .map(|i| pin(i, &format!("batch-json-{i}")))
        .collect();
    let answer = post(
        &client,
        &server,
        "/pins",
        Some(JSON_TYPE),
        serde_json::to_string(&pins).unwrap(),
    )
    .await;
    check_batch_stored(&server, "pins", &answer, &pins, "unique_id");

    // NDJSON, with a blank line and a trailing newline.
    let geos: Vec<Value> = (100..108).map(geo).collect();
    let mut ndjson: Vec<String> = geos.iter().map(Value::to_string).collect();
    ndjson.insert(3, String::new());
    let answer = post(
        &client,
        &server,
        "/geos",
        Some("application/x-ndjson"),
        ndjson.join("\n") + "\n",
    )
    .await;
    check_batch_stored(&server, "geos", &answer, &geos, "ind");

    let users: Vec<Value> = (200..205).map(user).collect();
    let answer = post(
        &client,
        &server,
        "/users/",
        Some(JSON_TYPE),
        serde_json::to_string(&users).unwrap(),
    )
    .await;
    check_batch_stored(&server, "users", &answer, &users, "ind");
    assert_counts(&server, 12, 8, 5);

    // One bad event in 100 refuses the whole batch, naming its index.
    let mut many: Vec<Value> = (0..100)
        .map(|i| pin(i, &format!("all-or-nothing-{i}")))
        .collect();
    many[37]["index"] = json!("thirty-seven");
    let answer = post(
        &client,
        &server,
        "/pins",
        Some(JSON_TYPE),
        serde_json::to_string(&many).unwrap(),
    )
    .await;
    assert_eq!(answer.status, 422, "{}", text(&answer.body));
    assert_eq!(
        problems(&answer.json()),
        BTreeSet::from([problem(&json!(["body", 37, "index"]), "int_type")])
    );

    // The same in NDJSON: line 5 (0-based) lacks its timestamp.
    let mut lines: Vec<String> = (300..310).map(|i| geo(i).to_string()).collect();
    lines[5] = json!({"ind": 305}).to_string();
    let answer = post(
        &client,
        &server,
        "/geos",
        Some("application/x-ndjson"),
        lines.join("\n"),
    )
    .await;
    assert_eq!(answer.status, 422, "{}", text(&answer.body));
    assert_eq!(
        problems(&answer.json()),
        BTreeSet::from([problem(&json!(["body", 5, "timestamp"]), "missing")])
    );

    // Not an array.
    let answer = post(
        &client,
        &server,
        "/pins",
        Some(JSON_TYPE),
        pin(1, "lonely").to_string(),
    )
    .await;
    assert_eq!(answer.status, 422, "{}", text(&answer.body));
    assert_eq!(
        problems(&answer.json()),
        BTreeSet::from([problem(&json!(["body"]), "list_type")])
    );
    assert_counts(&server, 12, 8, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_json_decode_error_is_located_as_fastapi_does() {
    let dir = tempfile::tempdir().unwrap();
    let server = Pinpipe::command(dir.path(), &["serve"]).start();
    let client = client();
    // FastAPI's loc for json_invalid is ["body", <0-based offset of the error>] (Python's
    // JSONDecodeError.pos), whatever the endpoint; /pin/ already answers that way.
    let cases = [
        ("[\n  {\"index\": 1,\n  \"unique_id\": x}\n]", 32),
        (r#"[{"index": 1, "unique_id": x}]"#, 27),
        (r#"{"index": 1, "unique_id": x}"#, 26),
    ];
    for (body, position) in cases {
        let single = post(&client, &server, "/pin/", Some(JSON_TYPE), body).await;
        assert_eq!(
            single.json()["detail"][0]["loc"],
            json!(["body", position]),
            "/pin/ {body:?}"
        );
        let batch = post(&client, &server, "/pins", Some(JSON_TYPE), body).await;
        assert_eq!(batch.status, 422, "{}", text(&batch.body));
        let detail = &batch.json()["detail"][0];
        assert_eq!(detail["type"], "json_invalid", "/pins {body:?}: {detail}");
        assert_eq!(
            detail["loc"],
            json!(["body", position]),
            "/pins {body:?}: {detail}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kafka_rest_proxy_produce_endpoint_stores_into_the_event_topics() {
    let dir = tempfile::tempdir().unwrap();
    let server = Pinpipe::command(dir.path(), &["serve"]).start();
    let client = client();
    let kafka_json = Some("application/vnd.kafka.json.v2+json");

    let first = pin(1, "proxy-1");
    let answer = post(
        &client,
        &server,
        "/topics/pins",
        kafka_json,
        json!({"records": [{"value": first}]}).to_string(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", text(&answer.body));
    assert!(
        answer
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/vnd.kafka.v2+json"))
    );
    let offsets = answer.json()["offsets"].as_array().unwrap().clone();
    assert_eq!(offsets.len(), 1);

    // The course's `<user id>.pin` topic names work too, several records at once.
    let more = [pin(2, "proxy-2"), pin(3, "proxy-3")];
    let answer = post(
        &client,
        &server,
        "/topics/0a1b2c3d.pin",
        kafka_json,
        json!({"records": [{"value": more[0]}, {"value": more[1]}]}).to_string(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", text(&answer.body));
    let more_offsets = answer.json()["offsets"].as_array().unwrap().clone();
    assert_eq!(more_offsets.len(), 2);

    let stored = records_by_position(&server, "pins");
    for (event, position) in std::iter::once(&first)
        .chain(&more)
        .zip(offsets.iter().chain(&more_offsets))
    {
        let key = (
            position["partition"].as_u64().unwrap(),
            position["offset"].as_u64().unwrap(),
        );
        assert_eq!(
            stored.get(&key).map(|r| &r["value"]),
            Some(event),
            "{key:?}"
        );
    }

    let answer = post(
        &client,
        &server,
        "/topics/0a1b2c3d.geo",
        kafka_json,
        json!({"records": [{"value": geo(9)}]}).to_string(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", text(&answer.body));

    let answer = post(
        &client,
        &server,
        "/topics/0a1b2c3d.comments",
        kafka_json,
        json!({"records": [{"value": pin(4, "nowhere")}]}).to_string(),
    )
    .await;
    assert_eq!(answer.status, 404, "{}", text(&answer.body));
    assert_eq!(answer.json()["error_code"], 40401);

    let mut bad = pin(5, "bad");
    bad["index"] = json!("five");
    let answer = post(
        &client,
        &server,
        "/topics/pins",
        kafka_json,
        json!({"records": [{"value": pin(6, "good")}, {"value": bad}]}).to_string(),
    )
    .await;
    assert_eq!(answer.status, 422, "{}", text(&answer.body));
    let body = answer.json();
    assert_eq!(body["error_code"], 42201, "{body}");
    assert_eq!(
        problems(&body),
        BTreeSet::from([problem(&json!(["body", 1, "index"]), "int_type")])
    );

    let answer = post(
        &client,
        &server,
        "/topics/pins",
        kafka_json,
        r#"{"value": {"index": 1}}"#,
    )
    .await;
    assert_eq!(answer.status, 422, "{}", text(&answer.body));
    assert_counts(&server, 3, 1, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_token_guards_writes_but_not_health() {
    let dir = tempfile::tempdir().unwrap();
    let server = Pinpipe::command(dir.path(), &["serve"])
        .env(&[("PINPIPE_SERVE__AUTH_TOKEN", "s3cret")])
        .start();
    let client = client();
    let body = pin(1, "authorized").to_string();
    for authorization in [
        None,
        Some("Bearer wrong"),
        Some("s3cret"),
        Some("Bearer s3cre"),
    ] {
        for path in ["/pin/", "/pins", "/topics/pins"] {
            let mut request = client
                .post(server.url(path))
                .header("content-type", JSON_TYPE)
                .body(body.clone());
            if let Some(authorization) = authorization {
                request = request.header("authorization", authorization);
            }
            let answer = send(request).await;
            assert_eq!(
                answer.status,
                401,
                "{path} {authorization:?}: {}",
                text(&answer.body)
            );
            assert!(
                answer
                    .header("www-authenticate")
                    .is_some_and(|v| v.starts_with("Bearer")),
                "{path}: {:?}",
                answer.headers
            );
            assert!(answer.json()["detail"].is_string());
        }
    }
    assert_counts(&server, 0, 0, 0);

    let answer = send(
        client
            .post(server.url("/pin/"))
            .header("content-type", JSON_TYPE)
            .header("authorization", "Bearer s3cret")
            .body(body),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", text(&answer.body));
    for path in ["/healthz", "/readyz", "/openapi.json"] {
        let answer = send(client.get(server.url(path))).await;
        assert_eq!(answer.status, 200, "{path}");
    }
    assert_counts(&server, 1, 0, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_openapi_and_embedded_swagger_ui() {
    let dir = tempfile::tempdir().unwrap();
    let server = Pinpipe::command(dir.path(), &["serve"]).start();
    let client = client();

    let answer = send(client.get(server.url("/healthz"))).await;
    assert_eq!(answer.status, 200);
    let answer = send(client.get(server.url("/readyz"))).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["status"], "ready");

    let answer = send(client.get(server.url("/openapi.json"))).await;
    assert_eq!(answer.status, 200);
    let doc = answer.json();
    let paths = doc["paths"].as_object().expect("paths");
    for path in ["/pin/", "/geo/", "/user/", "/pins", "/topics/{topic}"] {
        assert!(
            paths.contains_key(path),
            "{path} missing from {:?}",
            paths.keys()
        );
    }

    let answer = send(client.get(server.url("/docs/"))).await;
    assert_eq!(answer.status, 200);
    assert!(
        answer
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/html"))
    );
    let page = text(&answer.body).to_lowercase();
    assert!(page.contains("swagger"), "{page}");
    // The UI's script comes from the binary, not from a CDN.
    let answer = send(client.get(server.url("/docs/swagger-ui-bundle.js"))).await;
    assert_eq!(answer.status, 200);
    assert!(answer.body.len() > 100_000, "{} bytes", answer.body.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_and_wrong_methods_answer_json() {
    let dir = tempfile::tempdir().unwrap();
    let server = Pinpipe::command(dir.path(), &["serve"]).start();
    let client = client();
    for request in [
        client.get(server.url("/nope")),
        client.post(server.url("/pinz/")).body("{}"),
        client.post(server.url("/topics")).body("{}"),
    ] {
        let answer = send(request).await;
        assert_eq!(answer.status, 404, "{}", text(&answer.body));
        assert!(answer.json()["detail"].is_string());
    }
    for request in [
        client.get(server.url("/pin/")),
        client.put(server.url("/pins")).body("[]"),
        client.delete(server.url("/topics/pins")),
        client.post(server.url("/healthz")),
        client.post(server.url("/docs")).body("{}"),
        client.post(server.url("/docs/")).body("{}"),
        client.post(server.url("/openapi.json")).body("{}"),
        client.delete(server.url("/openapi.json")),
    ] {
        let answer = send(request).await;
        assert_eq!(answer.status, 405, "{}", text(&answer.body));
        assert!(answer.json()["detail"].is_string());
    }
    // Answered before the body was read: the connection says it closes, and a keep-alive client
    // is not left with a dead connection. Without a body, the connection stays open.
    for (request, closes) in [
        (&b"POST /nope HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}"[..], true),
        (b"POST /docs HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}", true),
        (b"GET /pin/ HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}", true),
        (b"POST /openapi.json HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", true),
        (b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n", false),
        (b"DELETE /docs HTTP/1.1\r\nHost: t\r\n\r\n", false),
    ] {
        let answer = support::raw_request(server.addr(), request).unwrap();
        assert!(
            matches!(answer.status, 404 | 405),
            "{}",
            String::from_utf8_lossy(request)
        );
        assert!(answer.json()["detail"].is_string());
        assert_eq!(
            answer.header("connection") == Some("close"),
            closes,
            "{}: {:?}",
            String::from_utf8_lossy(request),
            answer.headers
        );
    }
    assert_counts(&server, 0, 0, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_edge_cases_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let server = Pinpipe::command(dir.path(), &["serve"]).start();
    let client = client();
    let accepted = [
        ("/pin/", r#"{"index": 1, "unique_id": "only-required"}"#),
        (
            "/pin/",
            r#"{"index": 2, "unique_id": "extra", "extra": {"nested": [1, 2.5, null]}, "x": null}"#,
        ),
        (
            "/pin/",
            r#"{"index": 3, "unique_id": "int-followers", "follower_count": 848}"#,
        ),
        (
            "/pin/",
            r#"{"index": 4, "unique_id": "bool-downloaded", "downloaded": true}"#,
        ),
        (
            "/pin/",
            r#"{"index": 5, "unique_id": "false-downloaded", "downloaded": false}"#,
        ),
        (
            "/pin/",
            r#"{"index": 6, "unique_id": "nulls", "title": null, "description": null, "poster_name": null, "follower_count": null, "tag_list": null, "is_image_or_video": null, "image_src": null, "downloaded": null, "save_location": null, "category": null}"#,
        ),
        (
            "/pin/",
            r#"{"index": 7, "unique_id": "Unicode \u0000 caf\u00e9 ☕ 😀", "title": "日本語"}"#,
        ),
        (
            "/pin/",
            r#"{"index": 9223372036854775807, "unique_id": "max-index"}"#,
        ),
        (
            "/geo/",
            r#"{"ind": 1, "timestamp": "2020-08-28T03:52:47+02:00", "latitude": 45, "longitude": -73}"#,
        ),
        ("/geo/", r#"{"ind": 2, "timestamp": "2020:08:28 03:52:47"}"#),
        ("/user/", r#"{"ind": 1}"#),
        (
            "/user/",
            r#"{"ind": 2, "first_name": null, "last_name": "", "age": 0, "date_joined": null}"#,
        ),
    ];
    for (path, body) in accepted {
        let answer = post(&client, &server, path, Some(JSON_TYPE), body).await;
        assert_eq!(answer.status, 200, "{path} {body}: {}", text(&answer.body));
        assert_eq!(answer.body, body.as_bytes(), "the event is echoed as sent");
    }
    assert_counts(&server, 8, 2, 2);
    // Extra fields are kept in the stored record.
    let stored = tail_json(&server.work_dir, &server.data_dir, "pins");
    let extra = stored
        .iter()
        .find(|r| r["value"]["unique_id"] == "extra")
        .unwrap();
    assert_eq!(extra["value"]["extra"], json!({"nested": [1, 2.5, null]}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_prints_one_json_object_per_line_even_for_pretty_printed_events() {
    let dir = tempfile::tempdir().unwrap();
    let server = Pinpipe::command(dir.path(), &["serve"]).start();
    let client = client();
    // What `requests.post(url, data=json.dumps(row, indent=2))` sends: valid, and stored as sent.
    let pretty = serde_json::to_string_pretty(&pin(1, "pretty")).unwrap();
    let answer = post(&client, &server, "/pin/", Some(JSON_TYPE), pretty.clone()).await;
    assert_eq!(answer.status, 200, "{}", text(&answer.body));
    let batch = serde_json::to_string_pretty(&[pin(2, "pretty-2"), pin(3, "pretty-3")]).unwrap();
    let answer = post(&client, &server, "/pins", Some(JSON_TYPE), batch).await;
    assert_eq!(answer.status, 200, "{}", text(&answer.body));
    assert_counts(&server, 3, 0, 0);

    // `--format json` promises one JSON object per record and line.
    let out = log_cli(
        &server.work_dir,
        &server.data_dir,
        &["tail", "--topic", "pins", "--format", "json"],
    );
    let printed = text(&out.stdout);
    let lines: Vec<&str> = printed.lines().collect();
    for line in &lines {
        assert!(
            serde_json::from_str::<Value>(line).is_ok(),
            "tail --format json printed a line that is not JSON: {line:?}\nwhole output:\n{printed}"
        );
    }
    assert_eq!(lines.len(), 3, "{printed}");
}

/// One POST of a pin with this unique id; the status, or `None` when no answer came.
async fn post_pin(client: &reqwest::Client, url: &str, index: u64, unique_id: &str) -> Option<u16> {
    client
        .post(url)
        .header("content-type", JSON_TYPE)
        .body(pin(index, unique_id).to_string())
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_drains_requests_in_flight_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Pinpipe::command(dir.path(), &["serve"]).start();
    let client = client();
    let url = server.url("/pin/");
    let answered = Arc::new(AtomicUsize::new(0));
    let answered_200 = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(tokio::sync::Notify::new());
    // 200 concurrent clients, each keeping one request in flight until the server goes away.
    let mut tasks = Vec::new();
    for worker in 0..200u64 {
        let (client, url, answered, answered_200, enough) = (
            client.clone(),
            url.clone(),
            answered.clone(),
            answered_200.clone(),
            enough.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for n in 0..50u64 {
                let id = format!("term-{worker}-{n}");
                let status = post_pin(&client, &url, worker, &id).await;
                if status == Some(200) {
                    answered_200.fetch_add(1, Ordering::SeqCst);
                }
                if answered.fetch_add(1, Ordering::SeqCst) + 1 == 300 {
                    enough.notify_one();
                }
                let stop = status.is_none();
                outcomes.push((id, status));
                if stop {
                    break;
                }
            }
            outcomes
        }));
    }
    tokio::time::timeout(Duration::from_secs(120), enough.notified())
        .await
        .expect("the first 300 answers did not come");
    server.send_sigterm();
    let ok_before_sigterm = answered_200.load(Ordering::SeqCst);
    let mut ok = BTreeSet::new();
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    for task in tasks {
        for (id, status) in task.await.unwrap() {
            let label = status.map_or("no answer".to_owned(), |s| s.to_string());
            *statuses.entry(label).or_default() += 1;
            if status == Some(200) {
                ok.insert(id);
            }
        }
    }
    let exit = server
        .wait_exit(Duration::from_secs(60))
        .expect("pinpipe serve did not exit within 60 s of SIGTERM");
    eprintln!(
        "answers around SIGTERM: {statuses:?}, {} of the 200s after it",
        ok.len() - ok_before_sigterm
    );
    assert_eq!(exit.code(), Some(0), "{exit}: {}", server.log_text());
    assert!(
        statuses.keys().all(|s| s == "200" || s == "no answer"),
        "{statuses:?}"
    );
    let stored: BTreeSet<String> = stored_unique_ids(&server.work_dir, &server.data_dir)
        .into_iter()
        .collect();
    let lost: Vec<&String> = ok.difference(&stored).collect();
    assert!(lost.is_empty(), "answered 200 but not in the log: {lost:?}");
    let unanswered: Vec<&String> = stored.difference(&ok).collect();
    assert!(
        unanswered.is_empty(),
        "in the log but the client got no 200 (a request cut off by shutdown): {unanswered:?}"
    );
    assert_eq!(ok.len(), stored.len());
    // The requests in flight when SIGTERM came were answered, not dropped.
    assert!(
        ok.len() > ok_before_sigterm,
        "no request in flight at SIGTERM was answered 200: {statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_200_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let client = client();
    let mut acknowledged = BTreeSet::new();
    let mut attempted = BTreeSet::new();
    for round in 0..3 {
        let mut server = Pinpipe::command(dir.path(), &["serve"])
            .data_dir(&data_dir)
            .start();
        let url = server.url("/pin/");
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for worker in 0..8u64 {
            let (client, url, stop) = (client.clone(), url.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                let mut sent = Vec::new();
                let mut n = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    let id = format!("kill9-r{round}-w{worker}-{n}");
                    let status = post_pin(&client, &url, n, &id).await;
                    let gone = status.is_none();
                    sent.push((id, status));
                    if gone {
                        break;
                    }
                    n += 1;
                }
                sent
            }));
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        server.kill();
        stop.store(true, Ordering::SeqCst);
        let mut round_ok = 0;
        for task in tasks {
            for (id, status) in task.await.unwrap() {
                assert!(
                    matches!(status, None | Some(200)),
                    "{id}: unexpected status {status:?}"
                );
                if status == Some(200) {
                    acknowledged.insert(id.clone());
                    round_ok += 1;
                }
                attempted.insert(id);
            }
        }
        assert!(round_ok > 0, "round {round}: no request was answered 200");
    }
    // The server starts again on the crashed log, and the log has every acknowledged event.
    let server = Pinpipe::command(dir.path(), &["serve"])
        .data_dir(&data_dir)
        .start();
    let stored: BTreeSet<String> = stored_unique_ids(dir.path(), &data_dir)
        .into_iter()
        .collect();
    drop(server);
    eprintln!(
        "kill -9: {} acknowledged, {} stored, {} attempted",
        acknowledged.len(),
        stored.len(),
        attempted.len()
    );
    let lost: Vec<&String> = acknowledged.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged events lost: {:?}",
        lost.len(),
        &lost[..lost.len().min(20)]
    );
    assert!(
        stored.is_subset(&attempted),
        "the log has events nobody sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_saturated_log_answers_503_with_retry_after_and_loses_no_200() {
    let dir = tempfile::tempdir().unwrap();
    let server = Pinpipe::command(dir.path(), &["serve"])
        .env(&[("PINPIPE_LOG__MAX_PENDING_APPENDS", "1")])
        .start();
    let client = client();
    let url = server.url("/pin/");
    let mut tasks = Vec::new();
    for i in 0..300u64 {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let id = format!("saturated-{i}");
            let answer = send(
                client
                    .post(&url)
                    .header("content-type", JSON_TYPE)
                    .body(pin(i, &id).to_string()),
            )
            .await;
            (id, answer)
        }));
    }
    let mut ok = BTreeSet::new();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for task in tasks {
        let (id, answer) = task.await.unwrap();
        *statuses.entry(answer.status).or_default() += 1;
        match answer.status {
            200 => {
                ok.insert(id);
            }
            503 => {
                let retry_after = answer
                    .header("retry-after")
                    .expect("503 without Retry-After");
                assert!(retry_after.parse::<u64>().is_ok(), "{retry_after}");
                assert!(answer.json()["detail"].is_string());
            }
            other => panic!("unexpected {other}: {}", text(&answer.body)),
        }
    }
    eprintln!("saturation answers: {statuses:?}");
    assert!(!ok.is_empty(), "no request got through: {statuses:?}");
    let stored: BTreeSet<String> = stored_unique_ids(&server.work_dir, &server.data_dir)
        .into_iter()
        .collect();
    assert_eq!(
        stored, ok,
        "the log must hold exactly the events answered 200"
    );
}
