//! Running `pinpipe emulate` from the tests.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use super::{pinpipe, text};

/// `pinpipe emulate ARGS` in `dir`.
pub fn emulate(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["emulate"];
    all.extend_from_slice(args);
    pinpipe(dir, &all, &[], "")
}

/// `pinpipe emulate ARGS --json`, its exit code and its summary.
pub fn emulate_json(dir: &Path, args: &[&str]) -> (Option<i32>, Value) {
    let mut all = args.to_vec();
    all.push("--json");
    let out = emulate(dir, &all);
    let summary = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON summary ({e}); stdout: {} stderr: {}",
            text(&out.stdout),
            text(&out.stderr)
        )
    });
    (out.status.code(), summary)
}

pub fn n(summary: &Value, key: &str) -> u64 {
    summary[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} in {summary}"))
}

/// `TYPE<tab>BODY` lines of a dry run.
pub fn dry_run(dir: &Path, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.push("--dry-run");
    let out = emulate(dir, &all);
    assert!(
        out.status.success(),
        "dry run {all:?} failed: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}
