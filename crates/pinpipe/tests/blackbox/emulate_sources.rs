//! The emulator's SQL source against real databases: PostgreSQL and MariaDB (started by
//! scripts/test: `TEST_POSTGRES_URL`, `TEST_MYSQL_URL`) and a SQLite file. Each check loads the
//! built-in data set into the course's tables and expects the same events, byte for byte.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::support::emulator::{dry_run, emulate, emulate_json, n};
use crate::support::{Pinpipe, text};

/// PostgreSQL for the SQL source tests; scripts/test starts one. Outside CI the test is reported
/// as not run; in CI a missing server fails it.
fn postgres_url() -> Option<String> {
    match std::env::var("TEST_POSTGRES_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("TEST_POSTGRES_URL is not set: scripts/test starts PostgreSQL")
        }
        Err(_) => {
            eprintln!("NOT RUN: set TEST_POSTGRES_URL (scripts/test does) to test the SQL source");
            None
        }
    }
}

/// `psql URL` with `sql` on stdin, which must succeed.
fn psql(url: &str, dir: &Path, sql: &str) -> String {
    let out = pinpipe_free_command("psql", &[url, "-v", "ON_ERROR_STOP=1", "-qtA"], dir, sql);
    assert!(out.status.success(), "psql failed: {}", text(&out.stderr));
    text(&out.stdout)
}

fn pinpipe_free_command(program: &str, args: &[&str], dir: &Path, stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// The original tables with text timestamps (the data holds three formats, which only text
/// keeps as they are).
const COURSE_TABLES: &str = r#"
CREATE TABLE pinterest_data ("index" integer, unique_id text, title text, description text,
  poster_name text, follower_count text, tag_list text, is_image_or_video text, image_src text,
  downloaded integer, save_location text, category text);
CREATE TABLE geolocation_data (ind integer, "timestamp" text, latitude double precision,
  longitude double precision, country text);
CREATE TABLE user_data (ind integer, first_name text, last_name text, age integer,
  date_joined text);
"#;

#[test]
fn rows_read_from_postgresql_are_sent_exactly_as_the_builtin_rows() {
    let Some(admin) = postgres_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = emulate(
        dir.path(),
        &["--export", "tables", "--seed", "21", "--rows", "400"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let db = format!("emulate_{}", std::process::id());
    psql(
        &admin,
        dir.path(),
        &format!("DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db};"),
    );
    let url = admin
        .rsplit_once('/')
        .map(|(base, _)| format!("{base}/{db}"))
        .unwrap();
    let mut load = COURSE_TABLES.to_owned();
    for table in ["pinterest_data", "geolocation_data", "user_data"] {
        load.push_str(&format!(
            "\\copy {table} FROM 'tables/{table}.csv' WITH (FORMAT csv, HEADER true)\n"
        ));
    }
    psql(&url, dir.path(), &load);
    assert_eq!(
        psql(&url, dir.path(), "SELECT count(*) FROM user_data").trim(),
        "400"
    );

    // The same rows, in the same order, give the same event sequence byte for byte.
    let args = ["--seed", "21", "--count", "1500"];
    let from_builtin = dry_run(dir.path(), &[&args[..], &["--rows", "400"]].concat());
    let from_postgres = dry_run(dir.path(), &[&args[..], &["--source", &url]].concat());
    assert_eq!(from_postgres, from_builtin);

    // And they reach the server.
    let server = Pinpipe::command(dir.path(), &["serve"]).start();
    let target = server.url("");
    let (code, summary) = emulate_json(
        dir.path(),
        &[
            "--source", &url, "--url", &target, "--count", "300", "--rate", "0",
        ],
    );
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(n(&summary, "accepted"), 300);
    assert!(
        summary["source"]
            .as_str()
            .unwrap()
            .starts_with("postgres://")
    );

    // Database types become the JSON the original sent: timestamps as str(datetime).
    psql(
        &url,
        dir.path(),
        "CREATE TABLE typed (ind bigint, first_name varchar(20), last_name text, age smallint, \
         date_joined timestamp);
         DROP TABLE user_data; ALTER TABLE typed RENAME TO user_data;
         INSERT INTO user_data VALUES (2, 'Zoë', NULL, 30, '2016-03-04 05:06:07'),
                                      (1, 'Ann', 'Lee', 41, '2015-12-31 23:59:59.25');",
    );
    let dry = dry_run(
        dir.path(),
        &["--source", &url, "--only", "user", "--order", "sequential"],
    );
    assert_eq!(
        dry,
        "user\t{\"ind\": 1, \"first_name\": \"Ann\", \"last_name\": \"Lee\", \"age\": 41, \"date_joined\": \"2015-12-31 23:59:59.250000\"}\n\
         user\t{\"ind\": 2, \"first_name\": \"Zo\\u00eb\", \"last_name\": null, \"age\": 30, \"date_joined\": \"2016-03-04 05:06:07\"}\n"
    );
    psql(&admin, dir.path(), &format!("DROP DATABASE {db};"));

    // A database without the tables gets a message that names them.
    let out = emulate(
        dir.path(),
        &["--source", &admin, "--dry-run", "--count", "1"],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("pinterest_data"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn rows_read_from_a_sqlite_file_are_sent_exactly_as_the_builtin_rows() {
    let dir = tempfile::tempdir().unwrap();
    let out = emulate(
        dir.path(),
        &["--export", "tables", "--seed", "33", "--rows", "300"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Python's sqlite3 module (a real SQLite) loads the exported JSONL, keeping JSON types.
    let script = r#"
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for table in ["pinterest_data", "geolocation_data", "user_data"]:
    rows = [json.loads(line) for line in open(f"tables/{table}.jsonl", encoding="utf-8")]
    columns = list(rows[0])
    db.execute(f"CREATE TABLE {table} ({', '.join(chr(34) + c + chr(34) for c in columns)})")
    marks = ", ".join("?" for _ in columns)
    db.executemany(f"INSERT INTO {table} VALUES ({marks})", [[r[c] for c in columns] for r in rows])
db.commit()
"#;
    let out = pinpipe_free_command("python3", &["-", "course.db"], dir.path(), script);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let args = ["--seed", "33", "--count", "900"];
    let from_builtin = dry_run(dir.path(), &[&args[..], &["--rows", "300"]].concat());
    let from_sqlite = dry_run(
        dir.path(),
        &[&args[..], &["--source", "sqlite:course.db"]].concat(),
    );
    assert_eq!(from_sqlite, from_builtin);
    let from_jsonl = dry_run(dir.path(), &[&args[..], &["--source", "tables"]].concat());
    assert_eq!(from_jsonl, from_builtin);
}

/// MariaDB (MySQL protocol) for the SQL source tests; scripts/test starts one.
fn mysql_url() -> Option<String> {
    match std::env::var("TEST_MYSQL_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("TEST_MYSQL_URL is not set: scripts/test starts MariaDB")
        }
        Err(_) => {
            eprintln!("NOT RUN: set TEST_MYSQL_URL (scripts/test does) to test the MySQL source");
            None
        }
    }
}

/// `mariadb` (the MySQL client) on the server of `url` (`mysql://user:password@host:port/db`),
/// with `sql` on stdin; must succeed.
fn mysql(url: &str, dir: &Path, sql: &str) -> String {
    let rest = url.strip_prefix("mysql://").unwrap();
    let (credentials, rest) = rest.split_once('@').unwrap();
    let (user, password) = credentials.split_once(':').unwrap();
    let (host_port, _db) = rest.split_once('/').unwrap();
    let (host, port) = host_port.split_once(':').unwrap();
    let password = format!("-p{password}");
    let out = pinpipe_free_command(
        "mariadb",
        &[
            "--no-defaults",
            "-h",
            host,
            "-P",
            port,
            "-u",
            user,
            &password,
            "--default-character-set=utf8mb4",
            "-N",
        ],
        dir,
        sql,
    );
    assert!(
        out.status.success(),
        "mariadb failed: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[test]
fn rows_read_from_mysql_are_sent_exactly_as_the_builtin_rows() {
    let Some(admin) = mysql_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = emulate(
        dir.path(),
        &["--export", "tables", "--seed", "27", "--rows", "300"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let db = format!("emulate_{}", std::process::id());
    let url = admin
        .rsplit_once('/')
        .map(|(base, _)| format!("{base}/{db}"))
        .unwrap();
    // The course's tables in MySQL types; rows as INSERTs written by Python from the export.
    let script = r#"
import json, sys
db = sys.argv[1]
print(f"DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db} CHARACTER SET utf8mb4; USE {db};")
print("CREATE TABLE pinterest_data (`index` INT, unique_id VARCHAR(64), title TEXT, description TEXT, "
      "poster_name TEXT, follower_count VARCHAR(40), tag_list TEXT, is_image_or_video VARCHAR(64), "
      "image_src TEXT, downloaded INT, save_location TEXT, category VARCHAR(40));")
print("CREATE TABLE geolocation_data (ind INT, `timestamp` VARCHAR(40), latitude DOUBLE, "
      "longitude DOUBLE, country VARCHAR(100));")
print("CREATE TABLE user_data (ind INT, first_name VARCHAR(50), last_name VARCHAR(50), age INT, "
      "date_joined VARCHAR(40));")
def literal(v):
    if v is None:
        return "NULL"
    if isinstance(v, str):
        return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return repr(v)
for table in ["pinterest_data", "geolocation_data", "user_data"]:
    rows = [json.loads(line) for line in open(f"tables/{table}.jsonl", encoding="utf-8")]
    for i in range(0, len(rows), 100):
        values = ",".join("(" + ",".join(literal(v) for v in r.values()) + ")" for r in rows[i:i+100])
        print(f"INSERT INTO {table} VALUES {values};")
"#;
    let out = pinpipe_free_command("python3", &["-", &db], dir.path(), script);
    assert!(out.status.success(), "{}", text(&out.stderr));
    mysql(&admin, dir.path(), &text(&out.stdout));
    assert_eq!(
        mysql(
            &admin,
            dir.path(),
            &format!("SELECT count(*) FROM {db}.user_data")
        )
        .trim(),
        "300"
    );

    let args = ["--seed", "27", "--count", "900"];
    let from_builtin = dry_run(dir.path(), &[&args[..], &["--rows", "300"]].concat());
    let from_mysql = dry_run(dir.path(), &[&args[..], &["--source", &url]].concat());
    assert_eq!(from_mysql, from_builtin);

    // MySQL types become the JSON the original sent: DATETIME as str(datetime).
    mysql(
        &admin,
        dir.path(),
        &format!(
            "USE {db}; DROP TABLE user_data;
             CREATE TABLE user_data (ind BIGINT, first_name VARCHAR(20), last_name TEXT,
               age TINYINT, date_joined DATETIME);
             INSERT INTO user_data VALUES (2, 'Zoë', NULL, 30, '2016-03-04 05:06:07'),
                                          (1, 'Ann', 'Lee', 41, '2015-12-31 23:59:59');"
        ),
    );
    let dry = dry_run(
        dir.path(),
        &["--source", &url, "--only", "user", "--order", "sequential"],
    );
    assert_eq!(
        dry,
        "user\t{\"ind\": 1, \"first_name\": \"Ann\", \"last_name\": \"Lee\", \"age\": 41, \"date_joined\": \"2015-12-31 23:59:59\"}\n\
         user\t{\"ind\": 2, \"first_name\": \"Zo\\u00eb\", \"last_name\": null, \"age\": 30, \"date_joined\": \"2016-03-04 05:06:07\"}\n"
    );
    mysql(&admin, dir.path(), &format!("DROP DATABASE {db};"));
}
