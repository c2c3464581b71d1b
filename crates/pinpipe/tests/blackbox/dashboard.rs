//! The built-in dashboard in a real browser (../shared/docs/observability.md, D6, D7, D10):
//! Debian's Chromium, headless, loads every page of `pinpipe up`'s admin listener while events
//! flow, runs its scripts for 8 s of virtual time and dumps the DOM and a screenshot; the DOM is
//! read as a person would read the page and compared with `pinpipe sql` and `pinpipe runs`.
//! Selenium with chromedriver watches the overview's numbers change. The screenshots are kept in
//! `$CARGO_TARGET_TMPDIR/screenshots` (and, with `UPDATE_SCREENSHOTS=1`, in docs/screenshots/
//! for the README).
//!
//! Needs `TEST_CHROMIUM` (the chromium binary; scripts/test sets it) and, for the Selenium test,
//! `TEST_PYTHON` (the venv of scripts/services/python.sh, which has `selenium`).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Timelike, Utc};
use serde_json::Value;

use crate::support::lake::{repo, today};
use crate::support::serving::sql;
use crate::support::{Pinpipe, pinpipe, raw_request, text};

/// The emulator's rate while the pages are loaded (events per second).
const RATE: &str = "200";

/// What a dead letter holds that must be shown as text, never run.
const XSS: &str = "<script>alert(1)</script>";

/// The chromium binary, or `None` (reported) when the suite was not given one.
fn chromium() -> Option<PathBuf> {
    match std::env::var_os("TEST_CHROMIUM") {
        Some(path) => Some(PathBuf::from(path)),
        None if std::env::var_os("CI").is_some() => {
            panic!("TEST_CHROMIUM is not set: scripts/test installs Chromium")
        }
        None => {
            eprintln!(
                "NOT RUN: set TEST_CHROMIUM=$(scripts/services/chromium.sh path) \
                 after scripts/services/chromium.sh install"
            );
            None
        }
    }
}

/// `GET PATH` on `addr`: status and body.
fn get(addr: SocketAddr, path: &str) -> (u16, Vec<u8>) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let response = raw_request(addr, request.as_bytes()).unwrap();
    (response.status, response.body)
}

fn get_json(addr: SocketAddr, path: &str) -> Value {
    let (status, body) = get(addr, path);
    assert_eq!(status, 200, "GET {path}: {}", text(&body));
    serde_json::from_slice(&body).unwrap_or_else(|e| panic!("GET {path} ({e}): {}", text(&body)))
}

/// One page as Chromium left it: the serialized DOM and what the browser logged (its console
/// messages among them).
struct Page {
    name: String,
    url: String,
    dom: String,
    console: String,
}

/// Where the screenshots go: the test's folder, then kept (see [`Shots::publish`]).
struct Shots {
    dir: PathBuf,
}

impl Shots {
    fn new(work: &Path) -> Shots {
        let dir = work.join("screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        Shots { dir }
    }

    /// Keeps `name.png` after the test: in the target dir's test folder
    /// (`$CARGO_TARGET_TMPDIR/screenshots`), and with `UPDATE_SCREENSHOTS=1` also in the
    /// repository's docs/screenshots/ (for the README), so that a test run does not change the
    /// working tree unasked.
    fn publish(&self, name: &str) {
        let from = self.dir.join(format!("{name}.png"));
        let mut places = vec![Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots")];
        if std::env::var_os("UPDATE_SCREENSHOTS").is_some() {
            places.push(repo().join("docs/screenshots"));
        }
        for place in places {
            std::fs::create_dir_all(&place).unwrap();
            std::fs::copy(&from, place.join(format!("{name}.png")))
                .unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
        }
    }
}

/// Loads `url` in headless Chromium (8 s of virtual time, every host but 127.0.0.1 unresolvable),
/// dumps its DOM and saves a 1280×900 screenshot as SHOTS/NAME.png.
fn browse(chromium: &Path, shots: &Shots, name: &str, url: &str) -> Page {
    let profile = tempfile::tempdir().unwrap();
    let shot = shots.dir.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&shot);
    let out_path = profile.path().join("dom.html");
    let err_path = profile.path().join("stderr.txt");
    let started = Instant::now();
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=8000",
            "--enable-logging=stderr",
            "--window-size=1280,900",
        ])
        .arg(format!(
            "--user-data-dir={}",
            profile.path().join("profile").display()
        ))
        .arg(format!("--screenshot={}", shot.display()))
        .args(["--dump-dom", url])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", chromium.display()));
    let deadline = started + Duration::from_secs(180);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish {url} within 180 s:\n{}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let dom = std::fs::read_to_string(&out_path).unwrap();
    let console = std::fs::read_to_string(&err_path).unwrap();
    // Kept beside the screenshot for review.
    std::fs::write(shots.dir.join(format!("{name}.html")), &dom).unwrap();
    assert!(status.success(), "chromium {url}: {status}\n{console}");
    assert!(dom.contains("</html>"), "no DOM for {url}:\n{console}");
    let png =
        std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot of {url} ({e}):\n{console}"));
    assert!(
        png.starts_with(b"\x89PNG"),
        "{} is not a PNG",
        shot.display()
    );
    eprintln!(
        "{name}: {url} loaded in {:.1?}, DOM {} bytes, screenshot {} bytes",
        started.elapsed(),
        dom.len(),
        png.len()
    );
    Page {
        name: name.to_owned(),
        url: url.to_owned(),
        dom,
        console,
    }
}

/// One start tag of a serialized DOM: its name, attributes, and where it starts and ends.
#[derive(Debug, Clone)]
struct Tag {
    name: String,
    attrs: BTreeMap<String, String>,
    start: usize,
    end: usize,
}

impl Tag {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).map(String::as_str)
    }

    fn has_class(&self, class: &str) -> bool {
        self.attr("class")
            .is_some_and(|c| c.split_whitespace().any(|c| c == class))
    }
}

/// `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&#39;` and `&nbsp;` back to their characters.
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// The start tags of a serialized DOM, in order (the contents of `script` and `style` skipped:
/// they are not markup). Chromium serializes text with `<` escaped, so every `<` followed by a
/// letter starts a tag.
fn tags(dom: &str) -> Vec<Tag> {
    let bytes = dom.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(found) = dom[i..].find('<') {
        let start = i + found;
        i = start + 1;
        if dom[i..].starts_with("!--") {
            i = dom[i..].find("-->").map_or(dom.len(), |e| i + e + 3);
            continue;
        }
        if !bytes.get(i).is_some_and(u8::is_ascii_alphabetic) {
            continue;
        }
        let name_end = dom[i..]
            .find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
            .map_or(dom.len(), |e| i + e);
        let name = dom[i..name_end].to_ascii_lowercase();
        i = name_end;
        let mut attrs = BTreeMap::new();
        loop {
            while bytes
                .get(i)
                .is_some_and(|b| b.is_ascii_whitespace() || *b == b'/')
            {
                i += 1;
            }
            match bytes.get(i) {
                None => break,
                Some(b'>') => {
                    i += 1;
                    break;
                }
                Some(_) => {}
            }
            let key_end = dom[i..]
                .find(|c: char| c.is_ascii_whitespace() || c == '=' || c == '>' || c == '/')
                .map_or(dom.len(), |e| i + e);
            let key = dom[i..key_end].to_ascii_lowercase();
            i = key_end;
            let mut value = String::new();
            if bytes.get(i) == Some(&b'=') {
                i += 1;
                match bytes.get(i) {
                    Some(q @ (b'"' | b'\'')) => {
                        let quote = *q as char;
                        let close = dom[i + 1..].find(quote).map_or(dom.len(), |e| i + 1 + e);
                        value = unescape(&dom[i + 1..close]);
                        i = (close + 1).min(dom.len());
                    }
                    _ => {
                        let close = dom[i..]
                            .find(|c: char| c.is_ascii_whitespace() || c == '>')
                            .map_or(dom.len(), |e| i + e);
                        value = unescape(&dom[i..close]);
                        i = close;
                    }
                }
            }
            if !key.is_empty() {
                attrs.insert(key, value);
            }
        }
        if name == "script" || name == "style" {
            let close = format!("</{name}");
            i = dom[i..].find(&close).map_or(dom.len(), |e| i + e);
        }
        out.push(Tag {
            name,
            attrs,
            start,
            end: i,
        });
    }
    out
}

/// The text right after a start tag, up to the next tag, unescaped and trimmed.
fn text_after(dom: &str, tag: &Tag) -> String {
    let rest = &dom[tag.end..];
    unescape(rest[..rest.find('<').unwrap_or(rest.len())].trim())
}

/// A number as the pages print it (thin spaces between thousands).
fn parse_number(text: &str) -> f64 {
    text.replace(['\u{202f}', ' '], "")
        .parse()
        .unwrap_or_else(|e| panic!("{text:?} is not a number: {e}"))
}

/// Checks what every page must satisfy: no uncaught script error and no failed load on the
/// console; every `src` and `href` relative or on the admin origin (D10); each chart container
/// holding the canvas uPlot draws.
fn assert_sound(page: &Page, origin: &str) {
    for bad in [
        "Uncaught",
        "Failed to load resource",
        "ERR_NAME_NOT_RESOLVED",
    ] {
        let lines: Vec<&str> = page.console.lines().filter(|l| l.contains(bad)).collect();
        assert!(
            lines.is_empty(),
            "{}: {bad} on the console:\n{}",
            page.name,
            lines.join("\n")
        );
    }
    // The page as the server sent it, and as its scripts left it.
    let addr: SocketAddr = origin.strip_prefix("http://").unwrap().parse().unwrap();
    let path = page.url.strip_prefix(origin).unwrap();
    let (status, served) = get(addr, path);
    assert_eq!(status, 200, "{}: GET {path}", page.name);
    assert_same_origin(&format!("{} as served", page.name), &text(&served), origin);
    assert_same_origin(&page.name, &page.dom, origin);
    let all = tags(&page.dom);
    // No script of the page's own but the initial data and the two same-origin files.
    for script in all.iter().filter(|t| t.name == "script") {
        let ok = script.attr("src").is_some()
            || (script.attr("type") == Some("application/json")
                && script.attr("id") == Some("initial"));
        assert!(
            ok,
            "{}: an unexpected <script> {:?}",
            page.name, script.attrs
        );
    }
    let charts: Vec<&Tag> = all
        .iter()
        .filter(|t| t.name == "div" && t.has_class("chart"))
        .collect();
    for chart in &charts {
        let id = chart.attr("id").unwrap_or("?");
        // The container ends with its figure.
        let end = page.dom[chart.end..]
            .find("</figure>")
            .map_or(page.dom.len(), |e| chart.end + e);
        let canvas = all
            .iter()
            .any(|t| t.name == "canvas" && t.start >= chart.end && t.start < end);
        let uplot = all
            .iter()
            .any(|t| t.has_class("uplot") && t.start >= chart.end && t.start < end);
        assert!(
            canvas && uplot,
            "{}: chart #{id} holds no uPlot canvas:\n{}",
            page.name,
            &page.dom[chart.start..end.min(chart.start + 2000)]
        );
    }
}

/// Every `src`, `href` (and `action`, `srcset`, `poster`, `data`) of `html` is relative or on
/// `origin` (D10).
fn assert_same_origin(name: &str, html: &str, origin: &str) {
    let mut seen = 0;
    for tag in tags(html) {
        for key in ["src", "href", "action", "srcset", "poster", "data"] {
            let Some(url) = tag.attr(key) else { continue };
            seen += 1;
            let same_origin = url.starts_with(&format!("{origin}/"))
                || url == origin
                || (!url.contains("//") && !url.contains(':'))
                // The inline empty favicon: nothing is fetched.
                || url == "data:,";
            assert!(
                same_origin,
                "{name}: <{} {key}={url:?}> is not same-origin ({origin})",
                tag.name
            );
        }
    }
    // The stylesheets, the scripts and the navigation at least.
    assert!(seen >= 10, "{name}: only {seen} links: is this a page?");
}

/// The ids of a page's chart containers.
fn chart_ids(page: &Page) -> Vec<String> {
    tags(&page.dom)
        .iter()
        .filter(|t| t.name == "div" && t.has_class("chart"))
        .map(|t| t.attr("id").unwrap_or("").to_owned())
        .collect()
}

/// The overview's tiles: stage → (field → text).
fn tiles(page: &Page) -> BTreeMap<String, BTreeMap<String, String>> {
    let all = tags(&page.dom);
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut stage: Option<String> = None;
    for tag in &all {
        if tag.name == "section" && tag.has_class("tile") {
            stage = tag.attr("data-stage").map(str::to_owned);
        } else if tag.name == "dd"
            && let (Some(stage), Some(field)) = (&stage, tag.attr("data-field"))
        {
            out.entry(stage.clone())
                .or_default()
                .insert(field.to_owned(), text_after(&page.dom, tag));
        }
    }
    out
}

/// Dumps the overview until every tile of `stages` has shown a rate above 0 (the lake writer
/// writes a file every roll, so its per-second rate is 0 between rolls).
fn overview_with_rates(chromium: &Path, shots: &Shots, admin: &str, stages: &[&str]) -> Page {
    let mut seen: BTreeMap<String, f64> = BTreeMap::new();
    let mut history = Vec::new();
    for attempt in 1..=5 {
        let page = browse(chromium, shots, "overview", &format!("{admin}/dashboard"));
        assert_sound(&page, admin);
        let tiles = tiles(&page);
        for stage in stages {
            let rate = parse_number(
                tiles
                    .get(*stage)
                    .and_then(|t| t.get("rate"))
                    .unwrap_or_else(|| panic!("no {stage} rate tile: {tiles:?}")),
            );
            let best = seen.entry((*stage).to_owned()).or_insert(0.0);
            *best = best.max(rate);
        }
        history.push(format!("attempt {attempt}: {tiles:?}"));
        if seen.values().all(|r| *r > 0.0) && seen.len() == stages.len() {
            return page;
        }
    }
    panic!(
        "tiles without a rate above 0 in 5 loads: {seen:?}\n{}",
        history.join("\n")
    );
}

/// Appends unusable records to the pins topic straight into the local event log, as a foreign
/// producer would (the ingest API refuses them): the first is [`XSS`]. Returns how many.
fn append_dead_letters(data: &Path) -> usize {
    let values: [&[u8]; 4] = [XSS.as_bytes(), b"[1, 2]", b"", br#"{"unique_id": "x"}"#];
    crate::support::append_foreign(data, "pins", "dead", &values);
    values.len()
}

/// Polls `pinpipe sql` until `query`'s first row's `n` reaches `want`.
fn wait_sql_count(dir: &Path, data: &Path, query: &str, want: i64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let data_arg = data.to_str().unwrap();
        let out = pinpipe(
            dir,
            &[
                "--data-dir",
                data_arg,
                "sql",
                "--on",
                "serving",
                "--format",
                "jsonl",
                query,
            ],
            &[],
            "",
        );
        let n = if out.status.success() {
            text(&out.stdout)
                .lines()
                .next()
                .and_then(|l| serde_json::from_str::<Value>(l).ok())
                .and_then(|r| r["n"].as_i64())
                .unwrap_or(0)
        } else {
            0
        };
        if n >= want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {n} of {want} after 120 s"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The start of `t`'s minute.
fn minute_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_second(0).unwrap().with_nanosecond(0).unwrap()
}

/// Waits until the emulator has run for at least 10 s of the minute before the current one
/// (`started` is when the server started), that minute has been over for 3 s (the speed layer
/// has applied it), and at least 25 s of the current minute are left for loading the page.
fn wait_for_a_settled_minute(started: DateTime<Utc>) {
    loop {
        let now = Utc::now();
        let previous = minute_of(now) - chrono::Duration::minutes(1);
        if started + chrono::Duration::seconds(10) <= previous + chrono::Duration::minutes(1)
            && (3..=35).contains(&now.second())
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The realtime page's rows of the previous minute: its start, and category → events.
fn previous_minute(page: &Page) -> (String, BTreeMap<String, i64>) {
    let all = tags(&page.dom);
    let mut window = String::new();
    let mut rows = BTreeMap::new();
    let mut current: Option<String> = None;
    for tag in &all {
        if tag.name == "tr" {
            current = None;
            if tag.has_class("previous") {
                window = tag.attr("data-window").unwrap_or("").to_owned();
                current = tag.attr("data-category").map(str::to_owned);
            }
        } else if tag.name == "td"
            && tag.has_class("events")
            && let Some(category) = current.take()
        {
            rows.insert(category, parse_number(&text_after(&page.dom, tag)) as i64);
        }
    }
    (window, rows)
}

/// Every page but runs and analytics while `up --emulate` runs (D6), same-origin loads and the
/// vendored uPlot (D10).
#[test]
fn every_page_renders_its_charts_and_numbers_while_the_emulator_runs() {
    let Some(chromium) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let started = Utc::now();
    let server = Pinpipe::command(dir.path(), &["up", "--emulate", "--emulate-rate", RATE])
        .data_dir(&data)
        .env(&[
            ("PINPIPE_LAKE_WRITER__ROLL_SECS", "1"),
            ("PINPIPE_OBSERVE__REFRESH_SECS", "1"),
        ])
        .start();
    let admin_addr = server.admin_addr();
    let admin = format!("http://{admin_addr}");
    let shots = Shots::new(dir.path());

    // D10: the ingest port has none of the admin routes.
    for path in ["/metrics", "/dashboard"] {
        let (status, _) = get(server.addr(), path);
        assert_eq!(status, 404, "ingest port {path}");
    }
    // Unusable records, one of them markup, for the errors page.
    let dead = append_dead_letters(&data) as i64;
    wait_sql_count(
        dir.path(),
        &data,
        "SELECT COUNT(*) AS n FROM dead_letter",
        dead,
        "dead letters",
    );
    // Wait for the overview to have seen every stage move.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let doc = get_json(admin_addr, "/api/v1/overview");
        let total = |s: &str| doc["stages"][s]["total"].as_f64().unwrap_or(0.0);
        if ["ingest", "log", "stream", "lake"]
            .iter()
            .all(|s| total(s) > 0.0)
        {
            break;
        }
        assert!(Instant::now() < deadline, "stages idle after 120 s: {doc}");
        std::thread::sleep(Duration::from_millis(500));
    }

    // The overview: four charts, and every stage's tile with a rate above 0.
    let overview = overview_with_rates(
        &chromium,
        &shots,
        &admin,
        &["ingest", "log", "stream", "lake"],
    );
    assert_eq!(
        chart_ids(&overview),
        ["chart-rates", "chart-lag", "chart-http", "chart-errors"]
    );
    // Readable without JavaScript: the server's own rendering has the totals too.
    let (status, served) = get(admin_addr, "/dashboard");
    assert_eq!(status, 200);
    let served = Page {
        name: "overview as served".to_owned(),
        url: format!("{admin}/dashboard"),
        dom: text(&served),
        console: String::new(),
    };
    for (stage, fields) in tiles(&served) {
        if stage != "batch" {
            let total = parse_number(&fields["total"]);
            assert!(total > 0.0, "{stage} total {total} as served: {fields:?}");
        }
    }
    shots.publish("overview");

    // The event log: every topic and both groups.
    let log = browse(&chromium, &shots, "log", &format!("{admin}/dashboard/log"));
    assert_sound(&log, &admin);
    let log_tables: BTreeSet<String> = tags(&log.dom)
        .iter()
        .filter(|t| t.name == "table")
        .filter_map(|t| t.attr("id").map(str::to_owned))
        .collect();
    for id in ["topics", "group-pinpipe-stream", "group-pinpipe-lake"] {
        assert!(
            log_tables.contains(id),
            "log page lacks #{id}: {log_tables:?}"
        );
    }
    shots.publish("log");

    // The errors page lists the latest dead letters as SQL orders them, markup as text.
    let errors = browse(
        &chromium,
        &shots,
        "errors",
        &format!("{admin}/dashboard/errors"),
    );
    assert_sound(&errors, &admin);
    let listed: Vec<(String, i64, i64)> = tags(&errors.dom)
        .iter()
        .filter(|t| t.name == "tr" && t.attr("data-topic").is_some())
        .map(|t| {
            let n = |k: &str| t.attr(k).unwrap().parse::<i64>().unwrap();
            (
                t.attr("data-topic").unwrap().to_owned(),
                n("data-partition"),
                n("data-offset"),
            )
        })
        .collect();
    let latest: Vec<(String, i64, i64)> = sql(
        dir.path(),
        &data,
        &[],
        "SELECT topic, log_partition, log_offset FROM dead_letter \
         ORDER BY received_at DESC, topic, log_partition, log_offset DESC LIMIT 50",
    )
    .iter()
    .map(|r| {
        (
            r["topic"].as_str().unwrap().to_owned(),
            r["log_partition"].as_i64().unwrap(),
            r["log_offset"].as_i64().unwrap(),
        )
    })
    .collect();
    assert_eq!(listed, latest, "the errors page's latest dead letters");
    assert!(latest.len() >= dead as usize, "{latest:?}");
    let shown_raw: Vec<String> = tags(&errors.dom)
        .iter()
        .filter(|t| t.name == "code" && t.has_class("raw"))
        .map(|t| text_after(&errors.dom, t))
        .collect();
    assert!(
        shown_raw.iter().any(|r| r == XSS),
        "the markup is not shown as text: {shown_raw:?}"
    );
    assert!(
        errors.dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !errors.dom.contains(XSS),
        "the markup is in the DOM as markup"
    );
    shots.publish("errors");

    // The realtime page: its chart, and the previous minute's rows as pin_windows has them.
    let mut mismatches = Vec::new();
    let mut matched = None;
    for _ in 0..3 {
        wait_for_a_settled_minute(started);
        let realtime = browse(
            &chromium,
            &shots,
            "realtime",
            &format!("{admin}/dashboard/realtime"),
        );
        assert_sound(&realtime, &admin);
        assert_eq!(chart_ids(&realtime), ["chart-windows"]);
        let (window, rows) = previous_minute(&realtime);
        assert!(
            !window.is_empty() && !rows.is_empty(),
            "no previous-minute rows"
        );
        let served: BTreeMap<String, i64> = sql(
            dir.path(),
            &data,
            &[],
            &format!("SELECT category, events FROM pin_windows WHERE window_start = '{window}'"),
        )
        .iter()
        .map(|r| {
            (
                r["category"].as_str().unwrap().to_owned(),
                r["events"].as_i64().unwrap(),
            )
        })
        .collect();
        if served == rows {
            matched = Some((window, rows));
            break;
        }
        // The minute turned while the page loaded: try again in the next one.
        mismatches.push(format!("{window}: page {rows:?}, SQL {served:?}"));
    }
    let (window, rows) = matched.unwrap_or_else(|| {
        panic!(
            "previous minute differs from SQL:\n{}",
            mismatches.join("\n")
        )
    });
    eprintln!(
        "realtime: previous minute {window}: {} categories, {} events",
        rows.len(),
        rows.values().sum::<i64>()
    );
    shots.publish("realtime");

    // D10: the vendored uPlot is the recorded one, MIT-licensed, and served as vendored.
    let vendored = repo().join("crates/dashboard/assets/uplot-1.6.32");
    let sums = std::fs::read_to_string(vendored.join("SHA256SUMS")).unwrap();
    let listed_files: Vec<(&str, &str)> = sums
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split_once("  ").expect("`SHA  FILE` lines"))
        .collect();
    assert_eq!(listed_files.len(), 3, "{sums}");
    for (sha, file) in &listed_files {
        let on_disk = vendored.join(file);
        let (status, served) = get(admin_addr, &format!("/assets/uplot-1.6.32/{file}"));
        assert_eq!(status, 200, "/assets/uplot-1.6.32/{file}");
        assert_eq!(
            served,
            std::fs::read(&on_disk).unwrap(),
            "{file} served as vendored"
        );
        assert_eq!(sha256(&on_disk), *sha, "{file}");
    }
    let license = std::fs::read_to_string(vendored.join("LICENSE")).unwrap();
    assert!(
        license.starts_with("The MIT License (MIT)")
            && license.contains("Permission is hereby granted, free of charge"),
        "{license}"
    );
    drop(server);
}

/// `sha256sum FILE`'s hash.
fn sha256(file: &Path) -> String {
    let out = Command::new("sha256sum").arg(file).output().unwrap();
    assert!(out.status.success(), "sha256sum: {}", text(&out.stderr));
    text(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// `pinpipe runs --json --limit 50` over `data`, parsed.
fn runs_json(dir: &Path, data: &Path) -> Vec<Value> {
    let data_arg = data.to_str().unwrap();
    let out = pinpipe(
        dir,
        &["--data-dir", data_arg, "runs", "--json", "--limit", "50"],
        &[],
        "",
    );
    assert!(out.status.success(), "runs: {}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The runs page's grid: per date, (run id, run state, task → (state, attempts)).
type Grid = BTreeMap<String, (String, String, BTreeMap<String, (String, usize)>)>;

fn grid(page: &Page) -> Grid {
    let mut out = Grid::new();
    let mut date: Option<String> = None;
    for tag in tags(&page.dom) {
        if tag.name == "tr" {
            date = tag.attr("data-date").map(str::to_owned);
            if let (Some(d), Some(run)) = (&date, tag.attr("data-run")) {
                out.insert(d.clone(), (run.to_owned(), String::new(), BTreeMap::new()));
            }
        } else if tag.name == "td"
            && let Some(entry) = date.as_ref().and_then(|d| out.get_mut(d))
        {
            if tag.has_class("run") {
                entry.1 = text_after(&page.dom, &tag);
            } else if let (Some(task), Some(state)) =
                (tag.attr("data-task"), tag.attr("data-state"))
                && state != "none"
            {
                let attempts = tag.attr("data-attempts").unwrap_or("0").parse().unwrap();
                entry
                    .2
                    .insert(task.to_owned(), (state.to_owned(), attempts));
            }
        }
    }
    out
}

/// What `pinpipe runs --json` says the grid must show: the newest run of each date.
fn expected_grid(runs: &[Value]) -> Grid {
    let mut out = Grid::new();
    for run in runs {
        let dt = run["dt"].as_str().unwrap().to_owned();
        if out.contains_key(&dt) {
            continue;
        }
        let mut tasks: BTreeMap<String, (String, usize)> = BTreeMap::new();
        for t in run["tasks"].as_array().unwrap() {
            let entry = tasks
                .entry(t["task"].as_str().unwrap().to_owned())
                .or_insert((String::new(), 0));
            entry.0 = t["state"].as_str().unwrap().to_owned();
            entry.1 += 1;
        }
        out.insert(
            dt,
            (
                run["run_id"].as_str().unwrap().to_owned(),
                run["state"].as_str().unwrap().to_owned(),
                tasks,
            ),
        );
    }
    out
}

/// The runs and analytics pages after `pinpipe trigger --date TODAY` (D6), while an emulator
/// sends events again.
#[test]
fn the_runs_and_analytics_pages_match_the_history_after_a_trigger() {
    let Some(chromium) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Pinpipe::command(dir.path(), &["up"])
        .data_dir(&data)
        .env(&[("PINPIPE_LAKE_WRITER__ROLL_SECS", "2")])
        .start();
    let admin = server.admin_url("");
    let shots = Shots::new(dir.path());
    let ingest = server.url("");
    // A known load, then the day's DAG: the watermark passes once the lake writer has rolled.
    let out = pinpipe(
        dir.path(),
        &[
            "emulate", "--url", &ingest, "--count", "1500", "--rate", "0", "--seed", "9", "--quiet",
        ],
        &[],
        "",
    );
    assert!(out.status.success(), "emulate: {}", text(&out.stderr));
    let date = today();
    let data_arg = data.to_str().unwrap();
    let started = Instant::now();
    let out = pinpipe(
        dir.path(),
        &["--data-dir", data_arg, "trigger", "--date", &date],
        &[("PINPIPE_SCHEDULE__WATERMARK_POLL_SECS", "1")],
        "",
    );
    assert!(out.status.success(), "trigger: {}", text(&out.stderr));
    eprintln!("trigger --date {date} took {:.1?}", started.elapsed());
    // Events flow again while the pages are looked at.
    let _emulator = Pinpipe::command(
        dir.path(),
        &["emulate", "--url", &ingest, "--rate", RATE, "--quiet"],
    )
    .spawn();

    // The runs page: the grid shows the newest run of each date as `pinpipe runs --json` has it.
    let mut tries = Vec::new();
    let mut shown = None;
    for _ in 0..3 {
        let before = runs_json(dir.path(), &data);
        let runs = browse(
            &chromium,
            &shots,
            "runs",
            &format!("{admin}/dashboard/runs"),
        );
        assert_sound(&runs, &admin);
        let after = runs_json(dir.path(), &data);
        let (page, want) = (grid(&runs), expected_grid(&after));
        if before == after && page == want {
            shown = Some((page, after, runs));
            break;
        }
        tries.push(format!("page {page:?}\nruns --json {want:?}"));
    }
    let (page, history, runs_page) =
        shown.unwrap_or_else(|| panic!("the runs grid differs:\n{}", tries.join("\n")));
    let (run_id, state, tasks) = &page[&date];
    assert_eq!(state, "success", "{page:?}");
    assert_eq!(run_id, history[0]["run_id"].as_str().unwrap());
    assert_eq!(
        tasks.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        BTreeSet::from([
            "batch",
            "publish",
            "reconcile",
            "retention",
            "wait_watermark"
        ]),
        "{tasks:?}"
    );
    // The stage bars of the date: the stages its batch task recorded in the history.
    let recorded: Vec<String> = history[0]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["task"] == "batch" && t["state"] == "success")
        .filter_map(|t| t["detail"].as_str())
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .next_back()
        .and_then(|summary| summary["stages"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|st| st["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        !recorded.is_empty(),
        "no stages in the batch task's detail: {}",
        history[0]
    );
    let all = tags(&runs_page.dom);
    let bar = all
        .iter()
        .position(|t| t.has_class("stagerun") && t.attr("data-date") == Some(date.as_str()))
        .unwrap_or_else(|| panic!("no stage bar for {date}"));
    let drawn: Vec<String> = all[bar + 1..]
        .iter()
        .take_while(|t| !t.has_class("stagerun"))
        .filter(|t| t.has_class("seg"))
        .map(|t| {
            t.attr("title")
                .unwrap()
                .split(": ")
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(drawn, recorded, "the stage bars of {date}");
    shots.publish("runs");

    // The analytics page: the 11 analytics of the date, each a bar chart with as many rows as
    // the serving DB has, and the trend chart.
    let analytics = browse(
        &chromium,
        &shots,
        "analytics",
        &format!("{admin}/dashboard/analytics"),
    );
    assert_sound(&analytics, &admin);
    assert_eq!(chart_ids(&analytics), ["chart-trend"]);
    let all = tags(&analytics.dom);
    let figures: Vec<&Tag> = all
        .iter()
        .filter(|t| t.name == "figure" && t.has_class("analytic"))
        .collect();
    let names: Vec<&str> = figures
        .iter()
        .map(|t| t.attr("data-analytic").unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "category_by_country",
            "category_by_year",
            "top_user_by_country",
            "top_user",
            "category_by_age_group",
            "median_followers_by_age_group",
            "users_joined_by_year",
            "median_followers_by_join_year",
            "median_followers_by_join_year_and_age_group",
            "category_summary",
            "top_tags",
        ],
        "11 charts"
    );
    let shown_date = all
        .iter()
        .find(|t| t.attr("id") == Some("shown-date"))
        .map(|t| text_after(&analytics.dom, t));
    assert_eq!(shown_date.as_deref(), Some(date.as_str()));
    for (i, figure) in figures.iter().enumerate() {
        let name = figure.attr("data-analytic").unwrap();
        let end = figures
            .get(i + 1)
            .map_or(analytics.dom.len(), |next| next.start);
        let bars = all
            .iter()
            .filter(|t| t.start > figure.start && t.start < end && t.has_class("bar-row"))
            .count();
        let served = sql(
            dir.path(),
            &data,
            &[],
            &format!("SELECT COUNT(*) AS n FROM {name} WHERE dt = '{date}'"),
        )[0]["n"]
            .as_i64()
            .unwrap();
        assert!(served > 0, "{name}: no rows served for {date}");
        assert_eq!(
            bars as i64,
            served.min(1000),
            "{name}: bars on the page vs rows in the serving DB"
        );
    }
    shots.publish("analytics");
    drop(server);
}

/// D7: the overview advances once a second, and in a browser driven by Selenium the ingest
/// tile's number changes within 5 s.
#[test]
fn the_overview_and_its_page_update_live() {
    let Some(chromium) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = Pinpipe::command(dir.path(), &["up", "--emulate", "--emulate-rate", RATE]).start();
    let admin = server.admin_addr();
    // Wait for the first accepted events.
    let deadline = Instant::now() + Duration::from_secs(120);
    let first = loop {
        let doc = get_json(admin, "/api/v1/overview");
        if doc["stages"]["ingest"]["total"].as_f64().unwrap_or(0.0) > 0.0 {
            break doc;
        }
        assert!(Instant::now() < deadline, "no events accepted: {doc}");
        std::thread::sleep(Duration::from_millis(500));
    };
    let seq = first["seq"].as_u64().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let next = get_json(admin, &format!("/api/v1/overview?since={seq}"));
    let next_seq = next["seq"].as_u64().unwrap();
    assert!(next_seq >= seq + 2, "seq {seq} → {next_seq} in 3 s");
    let rate = next["stages"]["ingest"]["rate"].as_f64().unwrap();
    assert!(rate > 0.0, "ingest rate {rate}: {next}");
    // Only the points after `since`.
    let points = next["history"]["t"].as_array().unwrap().len() as u64;
    assert_eq!(points, next_seq - seq, "{}", next["history"]);
    eprintln!("overview: seq {seq} → {next_seq} in 3 s, ingest {rate:.1}/s");

    let python = match std::env::var_os("TEST_PYTHON") {
        Some(p) => PathBuf::from(p),
        None if std::env::var_os("CI").is_some() => {
            panic!("TEST_PYTHON is not set: scripts/test installs the venv with selenium")
        }
        None => {
            eprintln!(
                "NOT RUN (the Selenium part): set TEST_PYTHON to the venv's python of scripts/services/python.sh"
            );
            return;
        }
    };
    let driver =
        std::env::var("TEST_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".to_owned());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/blackbox/dashboard_live.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(format!("http://{admin}/dashboard"))
        .arg(&chromium)
        .arg(&driver)
        .env("SE_OFFLINE", "true")
        .output()
        .unwrap();
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{}: {said}", script.display());
    eprintln!("selenium: {}", text(&out.stdout).trim());
    drop(server);
}
