//! Golden files: `pinpipe clean` on `tests/golden/X.input.jsonl` must print exactly
//! `X.expected.jsonl`, report exactly the lines in `X.unusable.txt`, and exit with code 3
//! when any line is unusable (0 otherwise).

use std::path::{Path, PathBuf};

use crate::support;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden")
}

fn check(name: &str, args: &[&str]) {
    let dir = golden_dir();
    let read = |suffix: &str| {
        let path = dir.join(format!("{name}.{suffix}"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let input = read("input.jsonl");
    let expected = read("expected.jsonl");
    let expected_unusable: Vec<u64> = read("unusable.txt")
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();

    let output = support::pinpipe(&dir, &[&["clean"], args].concat(), &[], &input);
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = support::text(&output.stderr);

    let (got, want): (Vec<&str>, Vec<&str>) =
        (stdout.lines().collect(), expected.lines().collect());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "{name}: output line {} differs", i + 1);
    }
    assert_eq!(got.len(), want.len(), "{name}: number of output lines");

    let reported: Vec<u64> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("line ")?.split(':').next()?.parse().ok())
        .collect();
    assert_eq!(
        reported, expected_unusable,
        "{name}: unusable lines; stderr:\n{stderr}"
    );
    let expected_code = if expected_unusable.is_empty() { 0 } else { 3 };
    assert_eq!(
        output.status.code(),
        Some(expected_code),
        "{name}: exit code"
    );
}

#[test]
fn pins() {
    check("pin", &["--type", "pin"]);
}

#[test]
fn geos() {
    check("geo", &["--type", "geo"]);
}

#[test]
fn users() {
    check("user", &["--type", "user"]);
}

#[test]
fn pins_deduplicated() {
    check("pin.dedup", &["--type", "pin", "--dedup"]);
}
