//! Ingest's validation cost per event, on the lines of a file of pins (one JSON object a line):
//! `validate_speed FILE [ROUNDS]`. Prints ns/event for parsing into a `serde_json::Value` (where
//! the check before the streaming scan started), `validate_key` (ingest's path: the scan) and
//! `validate` (the full check with the typed copy).

use std::time::Instant;

use pinpipe_model::EventType;
use pinpipe_model::validate::{validate, validate_key};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: validate_speed FILE [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(20);
    let text = std::fs::read(&path).unwrap_or_else(|e| {
        eprintln!("cannot read {path}: {e}");
        std::process::exit(1);
    });
    let lines: Vec<&[u8]> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let events = (lines.len() * rounds) as f64;
    let time = |name: &str, f: &dyn Fn(&[u8]) -> bool| {
        let started = Instant::now();
        let mut ok = 0usize;
        for _ in 0..rounds {
            for line in &lines {
                ok += usize::from(f(line));
            }
        }
        let ns = started.elapsed().as_nanos() as f64 / events;
        println!(
            "{name}: {ns:.0} ns/event ({ok} valid of {})",
            lines.len() * rounds
        );
    };
    time("serde_json::Value", &|l| {
        serde_json::from_slice::<serde_json::Value>(l).is_ok()
    });
    time("validate_key (scan)", &|l| {
        validate_key(EventType::Pin, l).is_ok()
    });
    time("validate (full, typed)", &|l| {
        validate(EventType::Pin, l).is_ok()
    });
}
