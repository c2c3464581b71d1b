//! The speed layer as a black box: events posted over HTTP to a real `pinpipe serve`, a real
//! `pinpipe stream` process (killed with SIGKILL and restarted while the load runs), and the
//! serving DB read back with `pinpipe sql` — compared with what `pinpipe clean --dedup` makes of
//! the same log. On SQLite, and on PostgreSQL started by scripts/test (`TEST_POSTGRES_URL`).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Server, log_cli, pinpipe, record_counts, text};

/// A `pinpipe stream` process; SIGKILLed when dropped.
struct Stream {
    child: Child,
}

impl Stream {
    fn start(work_dir: &Path, data_dir: &Path, env: &[(&str, &str)]) -> Stream {
        Stream::start_logging(work_dir, data_dir, env, "stream.log")
    }

    /// As `start`, with stderr appended to `work_dir/LOG`.
    fn start_logging(work_dir: &Path, data_dir: &Path, env: &[(&str, &str)], log: &str) -> Stream {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(work_dir.join(log))
            .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_pinpipe"));
        command
            .arg("--data-dir")
            .arg(data_dir)
            .arg("stream")
            .current_dir(work_dir);
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("PINPIPE_")) {
            command.env_remove(key);
        }
        command.env("RUST_LOG", "info").envs(env.iter().copied());
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Stream { child }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn sigterm(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "stream did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `pinpipe sql --format jsonl SQL` with `env`, parsed.
fn sql(dir: &Path, data: &Path, env: &[(&str, &str)], query: &str) -> Vec<Value> {
    let data = data.to_str().unwrap();
    let out = pinpipe(
        dir,
        &["--data-dir", data, "sql", "--format", "jsonl", query],
        env,
        "",
    );
    assert!(
        out.status.success(),
        "pinpipe sql {query:?} failed: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Waits until the serving DB's offsets cover every record in the log.
fn wait_caught_up(dir: &Path, data: &Path, env: &[(&str, &str)], group: &str, timeout: Duration) {
    let total: u64 = record_counts(dir, data).values().sum();
    let deadline = Instant::now() + timeout;
    loop {
        let done = sql(
            dir,
            data,
            env,
            &format!(
                "SELECT COALESCE(SUM(next_offset), 0) AS n FROM stream_offsets WHERE consumer_group = '{group}'"
            ),
        );
        let applied = done
            .first()
            .and_then(|r| {
                r["n"]
                    .as_u64()
                    .or_else(|| r["n"].as_str().and_then(|s| s.parse().ok()))
            })
            .unwrap_or(0);
        if applied >= total {
            assert_eq!(applied, total, "offsets beyond the log");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the speed layer applied {applied} of {total} records in {timeout:?}:\n{}",
            std::fs::read_to_string(dir.join("stream.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `pinpipe tail --topic T --format value | pinpipe clean --type K [--dedup]`, parsed.
fn cleaned(dir: &Path, data: &Path, topic: &str, kind: &str, dedup: bool) -> Vec<Value> {
    let values = log_cli(dir, data, &["tail", "--topic", topic, "--format", "value"]);
    let mut args = vec!["clean", "--type", kind];
    if dedup {
        args.push("--dedup");
    }
    let out = pinpipe(dir, &args, &[], &text(&values.stdout));
    assert!(out.status.success(), "clean: {}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Rows as a set of their JSON texts (order-free comparison with readable diffs).
fn set(rows: impl IntoIterator<Item = Value>) -> BTreeSet<String> {
    rows.into_iter().map(|r| r.to_string()).collect()
}

/// The serving DB's clean tables in `pinpipe clean`'s shape.
fn serving_tables(dir: &Path, data: &Path, env: &[(&str, &str)]) -> [BTreeSet<String>; 3] {
    let pins = sql(
        dir,
        data,
        env,
        "SELECT ind, unique_id, title, description, poster_name, follower_count, tag_list, media_type, \
         image_src, downloaded, save_location, category FROM pins",
    )
    .into_iter()
    .map(|mut r| {
        // SQLite keeps the tag list as JSON text and booleans as 0/1.
        if let Value::String(tags) = &r["tag_list"] {
            r["tag_list"] = serde_json::from_str(tags).unwrap();
        }
        if let Some(n) = r["downloaded"].as_i64() {
            r["downloaded"] = json!(n != 0);
        }
        json!({
            "ind": r["ind"], "unique_id": r["unique_id"], "title": r["title"],
            "description": r["description"], "poster_name": r["poster_name"],
            "follower_count": r["follower_count"], "tag_list": r["tag_list"],
            "media_type": r["media_type"], "image_src": r["image_src"],
            "downloaded": r["downloaded"], "save_location": r["save_location"],
            "category": r["category"],
        })
    });
    let geos = sql(
        dir,
        data,
        env,
        "SELECT ind, country, latitude, longitude, \"timestamp\" FROM geos",
    )
    .into_iter()
    .map(|r| {
        let coordinates = if r["latitude"].is_null() {
            Value::Null
        } else {
            json!([r["latitude"], r["longitude"]])
        };
        json!({"ind": r["ind"], "country": r["country"], "coordinates": coordinates, "timestamp": r["timestamp"]})
    });
    let users = sql(
        dir,
        data,
        env,
        "SELECT ind, user_name, age, date_joined FROM users",
    );
    [set(pins), set(geos), set(users.into_iter().map(|r| {
        json!({"ind": r["ind"], "user_name": r["user_name"], "age": r["age"], "date_joined": r["date_joined"]})
    }))]
}

/// The window aggregates the log implies: every clean pin event by receive minute and category.
fn expected_windows(dir: &Path, data: &Path) -> BTreeMap<(String, String), [i64; 5]> {
    let records = log_cli(dir, data, &["tail", "--topic", "pins", "--format", "json"]);
    let records: Vec<Value> = text(&records.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let clean = cleaned(dir, data, "pins", "pin", false);
    assert_eq!(records.len(), clean.len(), "every generated pin cleans");
    let mut windows: BTreeMap<(String, String), [i64; 5]> = BTreeMap::new();
    let mut keys: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (record, pin) in records.iter().zip(&clean) {
        let received = record["timestamp"].as_str().unwrap();
        let minute = format!("{}:00Z", &received[..16]);
        let category = pin["category"].as_str().unwrap_or("").to_owned();
        let w = windows
            .entry((minute.clone(), category.clone()))
            .or_default();
        w[0] += 1;
        w[2] += i64::from(pin["media_type"] == "video");
        w[3] += i64::from(pin["media_type"] == "image");
        w[4] += pin["follower_count"].as_i64().unwrap_or(0);
        keys.entry((minute, category))
            .or_default()
            .insert(pin["unique_id"].as_str().unwrap().to_owned());
    }
    for (key, ids) in keys {
        windows.get_mut(&key).unwrap()[1] = ids.len() as i64;
    }
    windows
}

fn serving_windows(
    dir: &Path,
    data: &Path,
    env: &[(&str, &str)],
) -> BTreeMap<(String, String), [i64; 5]> {
    sql(
        dir,
        data,
        env,
        "SELECT window_start, category, events, distinct_pins, videos, images, total_followers FROM pin_windows",
    )
    .into_iter()
    .map(|r| {
        let n = |k: &str| r[k].as_i64().unwrap();
        (
            (r["window_start"].as_str().unwrap().to_owned(), r["category"].as_str().unwrap().to_owned()),
            [n("events"), n("distinct_pins"), n("videos"), n("images"), n("total_followers")],
        )
    })
    .collect()
}

/// A fresh PostgreSQL database for one test, or `None` (reported) when no server is configured.
fn postgres_database(name: &str) -> Option<String> {
    let admin = match std::env::var("TEST_POSTGRES_URL") {
        Ok(url) => url,
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("TEST_POSTGRES_URL is not set: scripts/test starts PostgreSQL")
        }
        Err(_) => {
            eprintln!("NOT RUN: set TEST_POSTGRES_URL (scripts/test does)");
            return None;
        }
    };
    let db = format!("{name}_{}", std::process::id());
    let out = Command::new("psql")
        .args([
            &admin,
            "-v",
            "ON_ERROR_STOP=1",
            "-qc",
            &format!("DROP DATABASE IF EXISTS {db}"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = Command::new("psql")
        .args([
            &admin,
            "-v",
            "ON_ERROR_STOP=1",
            "-qc",
            &format!("CREATE DATABASE {db}"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    Some(
        admin
            .rsplit_once('/')
            .map(|(base, _)| format!("{base}/{db}"))
            .unwrap(),
    )
}

/// 100,000 events posted while the stream process is SIGKILLed at seeded random moments
/// (5 times) and restarted; then the serving DB must equal `clean --dedup` of the log, the dead
/// letters must be empty (all generated events are usable) and the window aggregates must count
/// every event exactly once.
fn crash_test(serving_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let data: PathBuf = dir.path().join("data");
    let env: Vec<(&str, &str)> = serving_url
        .map(|url| vec![("PINPIPE_SERVING__URL", url)])
        .unwrap_or_default();
    let server = Server::start_on(dir.path(), &data, &[]);
    let url = server.url("");
    let mut stream = Stream::start(dir.path(), &data, &env);
    let mut emulator = Command::new(env!("CARGO_BIN_EXE_pinpipe"))
        .args([
            "emulate",
            "--url",
            &url,
            "--count",
            "100000",
            "--rate",
            "5000",
            "--mode",
            "batch",
            "--batch-size",
            "100",
            "--concurrency",
            "8",
            "--seed",
            "17",
            "--json",
        ])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Seeded "random" moments: 1.1–3.6 s apart.
    let mut kills = 0;
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    while kills < 5 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        std::thread::sleep(Duration::from_millis(1100 + state % 2500));
        stream.kill();
        kills += 1;
        stream = Stream::start(dir.path(), &data, &env);
    }
    let out = emulator.wait().unwrap();
    assert!(out.success(), "the emulator failed");
    let mut summary = String::new();
    std::io::Read::read_to_string(emulator.stdout.as_mut().unwrap(), &mut summary).unwrap();
    let summary: Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(summary["accepted"], 100_000, "{summary}");
    wait_caught_up(
        dir.path(),
        &data,
        &env,
        "pinpipe-stream",
        Duration::from_secs(300),
    );
    assert!(stream.sigterm().success());

    let [pins, geos, users] = serving_tables(dir.path(), &data, &env);
    assert_eq!(
        pins,
        set(cleaned(dir.path(), &data, "pins", "pin", true)),
        "pins"
    );
    assert_eq!(
        geos,
        set(cleaned(dir.path(), &data, "geos", "geo", true)),
        "geos"
    );
    assert_eq!(
        users,
        set(cleaned(dir.path(), &data, "users", "user", true)),
        "users"
    );
    assert!(pins.len() > 10_000, "{} pins", pins.len());
    let dead = sql(
        dir.path(),
        &data,
        &env,
        "SELECT count(*) AS n FROM dead_letter",
    );
    assert_eq!(dead[0]["n"], 0);
    assert_eq!(
        serving_windows(dir.path(), &data, &env),
        expected_windows(dir.path(), &data),
        "window aggregates count every event exactly once"
    );
}

#[test]
fn kill_9_of_the_stream_during_load_changes_nothing_sqlite() {
    crash_test(None);
}

#[test]
fn kill_9_of_the_stream_during_load_changes_nothing_postgres() {
    let Some(url) = postgres_database("stream_crash") else {
        return;
    };
    crash_test(Some(&url));
}

#[test]
fn posted_events_appear_cleaned_in_the_serving_db() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start_on(dir.path(), &data, &[]);
    let mut stream = Stream::start(dir.path(), &data, &[]);
    let post = |path: &str, body: &str| {
        let response = support::raw_request(
            server.addr,
            format!(
                "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(response.status, 200, "{path} {body}");
    };
    post(
        "/pin/",
        r#"{"index": 1, "unique_id": "k1", "title": " First ", "follower_count": "2k"}"#,
    );
    post(
        "/geo/",
        r#"{"ind": 1, "timestamp": "2020:08:28 03:52:47", "latitude": 10, "longitude": 20.5, "country": " Chad "}"#,
    );
    post(
        "/user/",
        r#"{"ind": 1, "first_name": " Ann", "last_name": "Lee ", "age": 30, "date_joined": "2015-01-02T03:04:05+01:00"}"#,
    );
    wait_caught_up(
        dir.path(),
        &data,
        &[],
        "pinpipe-stream",
        Duration::from_secs(60),
    );
    let pins = sql(
        dir.path(),
        &data,
        &[],
        "SELECT unique_id, title, follower_count FROM pins",
    );
    assert_eq!(
        pins,
        [json!({"unique_id": "k1", "title": "First", "follower_count": 2000})]
    );
    let geos = sql(
        dir.path(),
        &data,
        &[],
        "SELECT ind, country, latitude, longitude, \"timestamp\" FROM geos",
    );
    assert_eq!(
        geos,
        [
            json!({"ind": 1, "country": "Chad", "latitude": 10.0, "longitude": 20.5, "timestamp": "2020-08-28T03:52:47Z"})
        ]
    );
    let users = sql(
        dir.path(),
        &data,
        &[],
        "SELECT ind, user_name, age, date_joined FROM users",
    );
    assert_eq!(
        users,
        [
            json!({"ind": 1, "user_name": "Ann Lee", "age": 30, "date_joined": "2015-01-02T02:04:05Z"})
        ]
    );
    let dead = sql(
        dir.path(),
        &data,
        &[],
        "SELECT count(*) AS n FROM dead_letter",
    );
    assert_eq!(dead[0]["n"], 0);
    assert!(stream.sigterm().success());
    // Bad SQL and writes get clear errors.
    let out = pinpipe(
        dir.path(),
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "sql",
            "DELETE FROM pins",
        ],
        &[],
        "",
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("read"), "{}", text(&out.stderr));
}

/// A whole table, ordered, as JSON lines (for comparing two serving DBs).
fn dump(dir: &Path, data: &Path, env: &[(&str, &str)], table: &str, order: &str) -> Vec<Value> {
    sql(
        dir,
        data,
        env,
        &format!("SELECT * FROM {table} ORDER BY {order}"),
    )
}

#[test]
#[ignore = "tansu 0.6.0 went to 100% CPU and stopped answering (metadata included) during this \
            test here, with no client left; run it with `cargo test -- --ignored` and \
            TEST_KAFKA_BROKERS of a broker that survives it"]
fn two_stream_processes_in_one_group_on_kafka_write_the_same_tables_as_one() {
    let brokers = match std::env::var("TEST_KAFKA_BROKERS") {
        Ok(brokers) => brokers,
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("TEST_KAFKA_BROKERS is not set: scripts/test starts tansu")
        }
        Err(_) => {
            eprintln!("NOT RUN: set TEST_KAFKA_BROKERS (scripts/test does)");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = format!("s{}", std::process::id());
    // Fresh topics for this run. One record per produce request: tansu 0.6.0 stops serving a
    // consumer whose position falls inside a multi-record batch (seen here; Kafka does not).
    std::fs::write(
        dir.path().join("pinpipe.toml"),
        format!(
            "[log]\nurl = \"kafka://{brokers}\"\npins_topic = \"{run}-pins\"\ngeos_topic = \"{run}-geos\"\nusers_topic = \"{run}-users\"\n\
             [log.kafka.properties]\n\"batch.num.messages\" = \"1\"\n"
        ),
    )
    .unwrap();
    let server = Server::start_on(dir.path(), &data, &[]);
    let out = pinpipe(
        dir.path(),
        &[
            "emulate",
            "--url",
            &server.url(""),
            "--count",
            "20000",
            "--rate",
            "0",
            "--mode",
            "batch",
            "--batch-size",
            "250",
            "--seed",
            "23",
            "--json",
        ],
        &[],
        "",
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary["accepted"],
        20_000,
        "{summary} {}",
        text(&out.stderr)
    );

    let two_db = format!("sqlite:{}", dir.path().join("two.db").display());
    let one_db = format!("sqlite:{}", dir.path().join("one.db").display());
    let two_env = [
        ("PINPIPE_SERVING__URL", two_db.as_str()),
        ("PINPIPE_STREAM__GROUP", "two"),
    ];
    let one_env = [
        ("PINPIPE_SERVING__URL", one_db.as_str()),
        ("PINPIPE_STREAM__GROUP", "one"),
    ];
    let mut first = Stream::start_logging(dir.path(), &data, &two_env, "first.log");
    // The second member joins while the first is at work: a rebalance mid-stream.
    std::thread::sleep(Duration::from_millis(1500));
    let mut second = Stream::start_logging(dir.path(), &data, &two_env, "second.log");
    let mut alone = Stream::start_logging(dir.path(), &data, &one_env, "alone.log");
    wait_caught_up(dir.path(), &data, &two_env, "two", Duration::from_secs(240));
    wait_caught_up(dir.path(), &data, &one_env, "one", Duration::from_secs(240));
    for stream in [&mut first, &mut second, &mut alone] {
        assert!(stream.sigterm().success());
    }
    // Both members of the group did some of the work.
    for log in ["first.log", "second.log"] {
        let text = std::fs::read_to_string(dir.path().join(log)).unwrap();
        let stopped = text
            .lines()
            .find(|l| l.contains("speed layer stopped"))
            .unwrap_or_else(|| panic!("{log}: {text}"));
        assert!(!stopped.contains("records=0 "), "{log}: {stopped}");
    }
    for (table, order) in [
        ("pins", "unique_id"),
        ("geos", "ind"),
        ("users", "ind"),
        ("pin_windows", "window_start, category"),
        ("pin_window_keys", "window_start, category, unique_id"),
        ("dead_letter", "topic, log_partition, log_offset"),
    ] {
        let two = dump(dir.path(), &data, &two_env, table, order);
        let one = dump(dir.path(), &data, &one_env, table, order);
        assert_eq!(two.len(), one.len(), "{table}");
        assert!(two == one, "{table}: two members wrote other rows than one");
    }
}

/// A PostgreSQL cluster of this test's own (scripts/services/postgres.sh), stopped when dropped.
struct OwnPostgres {
    dir: tempfile::TempDir,
    port: u16,
}

impl OwnPostgres {
    fn script(&self, action: &str) {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/services/postgres.sh");
        let out = Command::new(script)
            .args([action, self.dir.path().join("pg").to_str().unwrap()])
            .env("PG_PORT", self.port.to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "postgres.sh {action}: {}",
            text(&out.stderr)
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/services/postgres.sh");
        let _ = Command::new(script)
            .args(["stop", self.dir.path().join("pg").to_str().unwrap()])
            .env("PG_PORT", self.port.to_string())
            .output();
    }
}

#[test]
fn the_speed_layer_waits_out_a_serving_db_outage_and_loses_nothing() {
    // Needs PostgreSQL installed (scripts/test installs it); this test runs a cluster of its own
    // so that stopping it does not disturb the others.
    if postgres_database("outage_probe").is_none() {
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let pg = OwnPostgres {
        dir: tempfile::tempdir().unwrap(),
        port,
    };
    pg.script("start");
    let url = pg.url();
    let env = [("PINPIPE_SERVING__URL", url.as_str())];
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start_on(dir.path(), &data, &[]);
    let target = server.url("");
    let mut stream = Stream::start(dir.path(), &data, &env);
    let send = |seed: &str| {
        let out = pinpipe(
            dir.path(),
            &[
                "emulate", "--url", &target, "--count", "600", "--rate", "0", "--seed", seed,
                "--json",
            ],
            &[],
            "",
        );
        let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(summary["accepted"], 600, "{summary}");
    };
    send("1");
    wait_caught_up(
        dir.path(),
        &data,
        &env,
        "pinpipe-stream",
        Duration::from_secs(60),
    );

    pg.script("stop");
    send("2"); // ingest does not depend on the serving DB
    // Longer than the pool's 10 s wait for a connection: the writes fail and are retried.
    std::thread::sleep(Duration::from_secs(13));
    assert!(
        stream.child.try_wait().unwrap().is_none(),
        "the speed layer must wait, not exit"
    );
    pg.script("start");
    wait_caught_up(
        dir.path(),
        &data,
        &env,
        "pinpipe-stream",
        Duration::from_secs(90),
    );
    assert!(stream.sigterm().success());
    let log = std::fs::read_to_string(dir.path().join("stream.log")).unwrap();
    assert!(log.contains("retrying"), "the outage was noticed: {log}");
    let [pins, geos, users] = serving_tables(dir.path(), &data, &env);
    assert_eq!(
        pins,
        set(cleaned(dir.path(), &data, "pins", "pin", true)),
        "pins"
    );
    assert_eq!(
        geos,
        set(cleaned(dir.path(), &data, "geos", "geo", true)),
        "geos"
    );
    assert_eq!(
        users,
        set(cleaned(dir.path(), &data, "users", "user", true)),
        "users"
    );
}
