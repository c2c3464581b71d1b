//! `pinpipe top`, the terminal view over the admin listener (../shared/docs/observability.md,
//! D9): `--once --json` prints the overview's numbers; under tmux the table redraws as events
//! flow; without a listener it says where to look and exits 1.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Pinpipe, pinpipe, raw_request, text, unused_port};

fn overview(admin: SocketAddr) -> Value {
    let request = "GET /api/v1/overview HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let response = raw_request(admin, request.as_bytes()).unwrap();
    assert_eq!(response.status, 200);
    response.json()
}

/// `pinpipe top ARGS`: exit code, stdout, stderr.
fn top(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let mut all = vec!["top"];
    all.extend_from_slice(args);
    let out = pinpipe(dir, &all, &[], "");
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// The stages' totals of an overview document.
fn totals(doc: &Value) -> Vec<(String, f64)> {
    ["ingest", "log", "stream", "lake"]
        .iter()
        .map(|s| {
            (
                (*s).to_owned(),
                doc["stages"][s]["total"].as_f64().unwrap_or(-1.0),
            )
        })
        .collect()
}

/// tmux, or `None` (reported) when it is missing.
fn tmux() -> Option<PathBuf> {
    let found = ["/usr/bin/tmux", "/usr/local/bin/tmux"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "tmux is missing: scripts/test installs it"
        );
        eprintln!("NOT RUN (the tmux part): install tmux (apt-get install tmux)");
    }
    found
}

/// A tmux server of this test's own (its socket in the test's folder), killed when dropped.
struct Tmux {
    bin: PathBuf,
    socket: PathBuf,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new(&self.bin)
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "tmux {args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "top"])
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new(&self.bin)
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

/// The ingest row's total in a screen of `pinpipe top`.
fn ingest_total(screen: &str) -> Option<u64> {
    screen
        .lines()
        .find(|l| l.starts_with("ingest API"))
        .and_then(|l| l.split_whitespace().rev().nth(1))
        .and_then(|n| n.parse().ok())
}

#[test]
fn top_prints_the_overview_numbers_and_redraws_under_tmux() {
    let dir = tempfile::tempdir().unwrap();
    let server =
        Pinpipe::command(dir.path(), &["up", "--emulate", "--emulate-rate", "200"]).start();
    let admin = server.admin_addr();
    let url = format!("http://{admin}");
    let deadline = Instant::now() + Duration::from_secs(120);
    while overview(admin)["stages"]["ingest"]["total"]
        .as_f64()
        .unwrap_or(0.0)
        == 0.0
    {
        assert!(Instant::now() < deadline, "no events accepted in 120 s");
        std::thread::sleep(Duration::from_millis(500));
    }

    // --once --json: the endpoint's numbers. Between a request before and one after, the seq and
    // every total lie in between; at the same seq the stages are the same.
    let mut exact = 0;
    for _ in 0..5 {
        let before = overview(admin);
        let (code, stdout, stderr) = top(dir.path(), &["--once", "--json", "--url", &url]);
        let after = overview(admin);
        assert_eq!(code, Some(0), "{stderr}");
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 1, "one JSON document: {stdout}");
        let shown: Value = serde_json::from_str(lines[0]).unwrap();
        assert!(shown.get("history").is_none(), "{shown}");
        let seq = |d: &Value| d["seq"].as_u64().unwrap();
        assert!(
            seq(&before) <= seq(&shown) && seq(&shown) <= seq(&after),
            "seq {} {} {}",
            seq(&before),
            seq(&shown),
            seq(&after)
        );
        for ((stage, b), ((_, s), (_, a))) in totals(&before)
            .into_iter()
            .zip(totals(&shown).into_iter().zip(totals(&after)))
        {
            assert!(b <= s && s <= a, "{stage} total {b} ≤ {s} ≤ {a}");
        }
        for doc in [&before, &after] {
            if seq(doc) == seq(&shown) {
                assert_eq!(shown["stages"], doc["stages"], "same seq, same numbers");
                assert_eq!(shown["time"], doc["time"]);
                exact += 1;
            }
        }
        if exact > 0 {
            break;
        }
    }
    assert!(exact > 0, "never the same seq as the endpoint in 5 tries");

    // The table once, without a terminal: plain text, every stage.
    let (code, stdout, stderr) = top(dir.path(), &["--once", "--url", &url]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stdout.contains('\x1b'), "{stdout:?}");
    for heading in [
        "stage",
        "in/s",
        "out/s",
        "errors/min",
        "lag records",
        "lag s",
        "totals",
    ] {
        assert!(stdout.contains(heading), "{heading}: {stdout}");
    }
    for stage in [
        "ingest API",
        "event log",
        "speed layer",
        "lake writer",
        "batch",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(stage)),
            "{stage}: {stdout}"
        );
    }
    assert!(ingest_total(&stdout).is_some_and(|n| n > 0), "{stdout}");

    // Under tmux, a terminal of 200×50: the screen redraws with new numbers.
    let Some(bin) = tmux() else { return };
    let tmux = Tmux {
        bin,
        socket: dir.path().join("tmux.sock"),
    };
    let command = format!(
        "'{}' top --url {url} --interval 500ms",
        env!("CARGO_BIN_EXE_pinpipe")
    );
    tmux.run(&[
        "new-session",
        "-d",
        "-x",
        "200",
        "-y",
        "50",
        "-s",
        "top",
        &command,
    ]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let first = loop {
        let screen = tmux.screen();
        if let Some(total) = ingest_total(&screen) {
            break (screen, total);
        }
        assert!(
            Instant::now() < deadline,
            "pinpipe top drew no table:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    std::thread::sleep(Duration::from_secs(3));
    let second = tmux.screen();
    let total = ingest_total(&second)
        .unwrap_or_else(|| panic!("no ingest row on the second capture:\n{second}"));
    assert_ne!(first.0, second, "the screen did not change in 3 s");
    assert!(
        total > first.1,
        "ingest total {} → {total}:\n{}\n---\n{second}",
        first.1,
        first.0
    );
    assert_eq!(
        second.matches("ingest API").count(),
        1,
        "redrawn in place, not appended:\n{second}"
    );
    eprintln!("pinpipe top under tmux:\n{second}");
    drop(tmux);
    drop(server);
}

#[test]
fn top_without_a_listener_says_where_to_look_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}", unused_port());
    let (code, stdout, stderr) = top(dir.path(), &["--once", "--url", &url]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("is pinpipe running?") && stderr.contains("[observe] listen"),
        "{stderr}"
    );
    assert!(stderr.contains(&url), "{stderr}");
}
