//! Golden cases for `pinpipe clean`: `tests/golden/clean/<type>/<rule>.toml`, one file per
//! cleaning rule (see `tests/golden/README.md`). Each case is one raw input line, the reason it is
//! there (`why`) and its outcome: the exact clean line (`expected`), `unusable`, `skipped` (blank)
//! or, with `--dedup`, `superseded` (replaced by a later record of its key).
//!
//! Per type, the cases of all files without `dedup = true` are one input (files in name order,
//! cases in file order) for one `pinpipe clean --type T`, and those of the `dedup = true` files
//! another for `pinpipe clean --type T --dedup`. Stdout must be the expected lines, in that order,
//! byte for byte; stderr must report exactly the unusable cases as `line N: …`; the exit code is 3
//! when a case is unusable and 0 otherwise (contract note #19).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::support;

/// The event types, one folder each under `tests/golden/clean/`.
const TYPES: [&str; 3] = ["pin", "geo", "user"];

/// Where the case files are, from the repository root (for messages).
const CLEAN_DIR: &str = "tests/golden/clean";

/// Mismatched output lines described in full before the rest are only counted.
const DESCRIBED: usize = 8;

/// One `<rule>.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    /// The data.md rule or contract note (`#N`) the file covers.
    rule: String,
    /// The cases run through `pinpipe clean --dedup`.
    #[serde(default)]
    dedup: bool,
    #[serde(default)]
    case: Vec<Case>,
}

/// One `[[case]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    why: String,
    input: String,
    expected: Option<String>,
    #[serde(default)]
    unusable: bool,
    error_contains: Option<String>,
    #[serde(default)]
    skipped: bool,
    #[serde(default)]
    superseded: bool,
}

impl Case {
    /// How many outcomes the case names (exactly one is valid).
    fn outcomes(&self) -> usize {
        [
            self.expected.is_some(),
            self.unusable,
            self.skipped,
            self.superseded,
        ]
        .into_iter()
        .filter(|&named| named)
        .count()
    }
}

/// A case file as read: its path from the repository root and its contents.
struct Loaded {
    path: String,
    file: CaseFile,
}

/// A case in its place: the file, its number in the file (from 1) and its input line (from 1).
struct Placed<'a> {
    path: &'a str,
    number: usize,
    line: usize,
    case: &'a Case,
}

fn clean_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(CLEAN_DIR)
}

/// The case files of one type in name order, and every problem found in them (or in the folder).
fn load(event_type: &str) -> (Vec<Loaded>, Vec<String>) {
    let dir = clean_dir().join(event_type);
    let mut problems = Vec::new();
    let mut names: Vec<String> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(e) => return (Vec::new(), vec![format!("{CLEAN_DIR}/{event_type}: {e}")]),
    };
    names.sort();
    let mut loaded = Vec::new();
    for name in names {
        let path = format!("{CLEAN_DIR}/{event_type}/{name}");
        if !name.ends_with(".toml") || !dir.join(&name).is_file() {
            problems.push(format!(
                "{path}: only case files (<rule>.toml) belong here; it would not be run"
            ));
            continue;
        }
        let text = match std::fs::read_to_string(dir.join(&name)) {
            Ok(text) => text,
            Err(e) => {
                problems.push(format!("{path}: {e}"));
                continue;
            }
        };
        match toml::from_str::<CaseFile>(&text) {
            Ok(file) => {
                problems.extend(check_file(&path, &file));
                loaded.push(Loaded { path, file });
            }
            Err(e) => problems.push(format!("{path}: not a valid case file: {e}")),
        }
    }
    if loaded.is_empty() && problems.is_empty() {
        problems.push(format!("{CLEAN_DIR}/{event_type}: no case files"));
    }
    (loaded, problems)
}

/// What is wrong with a parsed case file, one message per problem.
fn check_file(path: &str, file: &CaseFile) -> Vec<String> {
    let mut problems = Vec::new();
    if file.rule.trim().is_empty() {
        problems.push(format!("{path}: `rule` is empty"));
    }
    if file.case.is_empty() {
        problems.push(format!("{path}: no [[case]]"));
    }
    for (i, case) in file.case.iter().enumerate() {
        let at = format!("{path}, case {}", i + 1);
        let mut problem = |what: &str| problems.push(format!("{at}: {what}"));
        if case.why.trim().is_empty() {
            problem("`why` is empty: say what the case shows");
        }
        if case.outcomes() != 1 {
            problem(
                "name exactly one outcome: `expected`, `unusable = true`, `skipped = true` \
                 or `superseded = true`",
            );
        }
        if case.input.contains('\n') {
            problem("`input` is one line: it must not contain a newline");
        }
        if case.input.ends_with('\r') {
            problem("`input` must not end with \\r (pinpipe reads `\\r\\n` as a line end)");
        }
        let blank = case.input.trim().is_empty();
        if case.skipped && !blank {
            problem("`skipped` is for blank lines only; this input is not blank");
        }
        if blank && !case.skipped {
            problem("a blank input is skipped: write `skipped = true`");
        }
        if case.superseded && !file.dedup {
            problem("`superseded` needs `dedup = true` at the top of the file");
        }
        if case.error_contains.is_some() && !case.unusable {
            problem("`error_contains` goes with `unusable = true` only");
        }
        if let Some(expected) = &case.expected {
            if expected.contains(['\n', '\r']) {
                problem("`expected` is one line: it must not contain a line break");
            }
            if !serde_json::from_str::<serde_json::Value>(expected).is_ok_and(|v| v.is_object()) {
                problem("`expected` is not a JSON object");
            }
        }
    }
    problems
}

/// A text with its invisible characters (control, non-space white space, zero-width) shown as
/// `<U+XXXX>`, so that a one-character difference can be seen in a message.
fn visible(text: &str) -> String {
    text.chars()
        .map(|c| {
            let invisible = c.is_control()
                || (c.is_whitespace() && c != ' ')
                || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}');
            if invisible {
                format!("<U+{:04X}>", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The failure message of one case.
fn describe(placed: &Placed<'_>, command: &str, problem: &str, actual: Option<&str>) -> String {
    let case = placed.case;
    let mut message = format!(
        "{}, case {} (input line {} of `{command}`): {problem}\n    why:      {}\n    input:    {}",
        placed.path,
        placed.number,
        placed.line,
        case.why,
        visible(&case.input)
    );
    let want = match (&case.expected, case.unusable, case.skipped) {
        (Some(expected), _, _) => visible(expected),
        (None, true, _) => match &case.error_contains {
            Some(text) => format!("unusable, reported as `line {}: …{text}…`", placed.line),
            None => format!("unusable, reported as `line {}: …`", placed.line),
        },
        (None, false, true) => "nothing (a blank line is skipped)".to_owned(),
        (None, false, false) => "nothing (a later record of its key wins)".to_owned(),
    };
    message.push_str(&format!("\n    expected: {want}"));
    if let Some(actual) = actual {
        message.push_str(&format!("\n    actual:   {}", visible(actual)));
    }
    message
}

/// Runs one group of cases through one `pinpipe clean` and returns what did not match.
fn run(event_type: &str, dedup: bool, cases: &[Placed<'_>]) -> Vec<String> {
    let mut args = vec!["clean", "--type", event_type];
    if dedup {
        args.push("--dedup");
    }
    let command = format!("pinpipe {}", args.join(" "));
    let stdin: String = cases
        .iter()
        .map(|p| format!("{}\n", p.case.input))
        .collect();

    let work = tempfile::tempdir().unwrap();
    let output = support::pinpipe(work.path(), &args, &[], &stdin);
    let stderr = support::text(&output.stderr);
    let mut failures = Vec::new();

    // Stdout: the expected lines, in input order (with --dedup the winners, by their line, #18).
    let stdout = match String::from_utf8(output.stdout) {
        Ok(stdout) => stdout,
        Err(e) => {
            failures.push(format!("`{command}` wrote stdout that is not UTF-8: {e}"));
            support::text(e.as_bytes())
        }
    };
    if !stdout.is_empty() && !stdout.ends_with('\n') {
        failures.push(format!("`{command}`: stdout does not end with a newline"));
    }
    let actual: Vec<&str> = match stdout.strip_suffix('\n') {
        Some(lines) => lines.split('\n').collect(),
        None if stdout.is_empty() => Vec::new(),
        None => stdout.split('\n').collect(),
    };
    let expected: Vec<(&Placed<'_>, &str)> = cases
        .iter()
        .filter_map(|p| Some((p, p.case.expected.as_deref()?)))
        .collect();
    let mut mismatched = 0;
    for (i, (placed, want)) in expected.iter().enumerate() {
        let got = actual.get(i).copied();
        if got == Some(*want) {
            continue;
        }
        mismatched += 1;
        if mismatched <= DESCRIBED {
            let problem = match got {
                Some(_) => format!("output line {} differs", i + 1),
                None => format!("output line {} is missing", i + 1),
            };
            failures.push(describe(placed, &command, &problem, got));
        }
    }
    if mismatched > DESCRIBED {
        failures.push(format!(
            "`{command}`: {} more output lines differ",
            mismatched - DESCRIBED
        ));
    }
    if actual.len() > expected.len() {
        let extra: Vec<String> = actual[expected.len()..]
            .iter()
            .map(|line| format!("    {}", visible(line)))
            .collect();
        failures.push(format!(
            "`{command}` wrote {} lines, the cases expect {}; the extra lines:\n{}",
            actual.len(),
            expected.len(),
            extra.join("\n")
        ));
    }

    // Stderr: exactly the unusable cases, each as `line N: reason` with its own line number.
    let mut reported: BTreeMap<usize, &str> = BTreeMap::new();
    for line in stderr.lines() {
        let Some((number, reason)) = line
            .strip_prefix("line ")
            .and_then(|rest| rest.split_once(": "))
        else {
            continue;
        };
        if let Ok(number) = number.parse() {
            reported.insert(number, reason);
        }
    }
    for placed in cases {
        let case = placed.case;
        match (reported.remove(&placed.line), case.unusable) {
            (None, true) => failures.push(describe(
                placed,
                &command,
                "not reported as unusable on stderr",
                None,
            )),
            (Some(reason), true) => {
                if let Some(text) = &case.error_contains
                    && !reason.contains(text.as_str())
                {
                    let problem = format!("the reason does not contain {text:?}");
                    let actual = format!("line {}: {reason}", placed.line);
                    failures.push(describe(placed, &command, &problem, Some(&actual)));
                }
            }
            (Some(reason), false) => {
                let actual = format!("line {}: {reason}", placed.line);
                failures.push(describe(
                    placed,
                    &command,
                    "reported as unusable",
                    Some(&actual),
                ));
            }
            (None, false) => {}
        }
    }
    for (number, reason) in reported {
        failures.push(format!(
            "`{command}` reported `line {number}: {reason}`, but the input has {} lines",
            cases.len()
        ));
    }

    let unusable = cases.iter().any(|p| p.case.unusable);
    let code = if unusable { 3 } else { 0 };
    if output.status.code() != Some(code) {
        failures.push(format!(
            "`{command}` exited with {:?}, expected {code} ({}); stderr:\n{stderr}",
            output.status.code(),
            if unusable {
                "some cases are unusable"
            } else {
                "every case is usable"
            }
        ));
    }
    failures
}

/// Runs every case of one type: one `pinpipe clean` without `--dedup`, one with.
fn check(event_type: &str) {
    let (loaded, problems) = load(event_type);
    assert!(
        problems.is_empty(),
        "invalid golden case files:\n{}",
        problems.join("\n")
    );
    let mut failures = Vec::new();
    let mut ran = 0;
    for dedup in [false, true] {
        let mut cases = Vec::new();
        for file in loaded.iter().filter(|l| l.file.dedup == dedup) {
            for (i, case) in file.file.case.iter().enumerate() {
                cases.push(Placed {
                    path: &file.path,
                    number: i + 1,
                    line: cases.len() + 1,
                    case,
                });
            }
        }
        if !cases.is_empty() {
            ran += cases.len();
            failures.extend(run(event_type, dedup, &cases));
        }
    }
    assert!(ran > 0, "no {event_type} cases in {CLEAN_DIR}/{event_type}");
    assert!(
        failures.is_empty(),
        "{} golden {event_type} problem(s):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_case_file_parses_and_every_case_has_one_outcome_and_a_why() {
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(clean_dir()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !TYPES.contains(&name.as_str()) {
            problems.push(format!(
                "{CLEAN_DIR}/{name}: not an event type folder ({})",
                TYPES.join(", ")
            ));
        }
    }
    let mut cases = 0;
    for event_type in TYPES {
        let (loaded, found) = load(event_type);
        problems.extend(found);
        cases += loaded.iter().map(|l| l.file.case.len()).sum::<usize>();
    }
    assert!(
        problems.is_empty(),
        "invalid golden case files:\n{}",
        problems.join("\n")
    );
    assert!(cases > 0, "no golden cases in {CLEAN_DIR}");
}

#[test]
fn pins() {
    check("pin");
}

#[test]
fn geos() {
    check("geo");
}

#[test]
fn users() {
    check("user");
}
