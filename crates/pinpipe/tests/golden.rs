//! Golden files: `pinpipe clean` on `tests/golden/X.input.jsonl` must print exactly
//! `X.expected.jsonl`, report exactly the lines in `X.unusable.txt`, and exit with code 3
//! when any line is unusable (0 otherwise).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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

    let mut child = Command::new(env!("CARGO_BIN_EXE_pinpipe"))
        .arg("clean")
        .args(args)
        .env_remove("PINPIPE_CONFIG")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();

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
