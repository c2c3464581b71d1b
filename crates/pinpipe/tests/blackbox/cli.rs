//! The command line as a user meets it: configuration precedence, errors, exit codes, pipes.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

use crate::support::{self, pinpipe, text};

#[test]
fn config_defaults_then_file_then_environment_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let out = pinpipe(dir.path(), &["config"], &[], "");
    assert!(out.status.success());
    let printed: toml::Value = toml::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(printed["data_dir"].as_str(), Some("pinpipe-data"));
    assert_eq!(printed["clean"]["dedup"].as_bool(), Some(false));

    std::fs::write(
        dir.path().join("pinpipe.toml"),
        "data_dir = 'from-file'\n[clean]\ndedup = true\n",
    )
    .unwrap();
    let out = pinpipe(dir.path(), &["config"], &[], "");
    let printed: toml::Value = toml::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(printed["data_dir"].as_str(), Some("from-file"));
    assert_eq!(printed["clean"]["dedup"].as_bool(), Some(true));

    let env = [
        ("PINPIPE_DATA_DIR", "from-env"),
        ("PINPIPE_CLEAN__DEDUP", "false"),
    ];
    let out = pinpipe(dir.path(), &["config"], &env, "");
    let printed: toml::Value = toml::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(printed["data_dir"].as_str(), Some("from-env"));
    assert_eq!(printed["clean"]["dedup"].as_bool(), Some(false));

    let out = pinpipe(dir.path(), &["--data-dir", "from-flag", "config"], &env, "");
    let printed: toml::Value = toml::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(printed["data_dir"].as_str(), Some("from-flag"));
}

#[test]
fn an_explicit_config_file_is_read_from_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("elsewhere.toml");
    std::fs::write(&file, "data_dir = '/srv/pinpipe'\n").unwrap();
    let out = pinpipe(
        dir.path(),
        &["--config", file.to_str().unwrap(), "config"],
        &[],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("data_dir = \"/srv/pinpipe\""));
}

#[test]
fn config_mistakes_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let out = pinpipe(dir.path(), &["--config", "missing.toml", "config"], &[], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("config file missing.toml not found"),
        "{}",
        text(&out.stderr)
    );

    std::fs::write(dir.path().join("pinpipe.toml"), "[clean]\ndedupe = true\n").unwrap();
    let out = pinpipe(dir.path(), &["config"], &[], "");
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("invalid configuration") && stderr.contains("dedupe"),
        "{stderr}"
    );

    let out = pinpipe(dir.path(), &["clean", "--type", "pins"], &[], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("[possible values: pin, geo, user]"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn clean_dedup_can_come_from_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pinpipe.toml"), "[clean]\ndedup = true\n").unwrap();
    let input = "{\"ind\":1,\"age\":5}\n{\"ind\":1,\"age\":6}\n";
    let out = pinpipe(dir.path(), &["clean", "--type", "user"], &[], input);
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout),
        "{\"ind\":1,\"user_name\":null,\"age\":6,\"date_joined\":null}\n"
    );
}

#[test]
fn clean_without_unusable_lines_exits_zero_and_prints_nothing_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let input = "{\"index\":1,\"unique_id\":\"a\"}\n\n";
    let out = pinpipe(dir.path(), &["clean", "--type", "pin"], &[], input);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stderr), "");
    assert_eq!(text(&out.stdout).lines().count(), 1);
}

#[test]
fn clean_stops_quietly_when_the_reader_goes_away() {
    let dir = tempfile::tempdir().unwrap();
    // Its stdout is a pipe the test closes, which the launcher's files are not.
    let mut child = support::command(dir.path())
        .args(["clean", "--type", "user"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        for i in 0..2_000_000 {
            if writeln!(stdin, "{{\"ind\":{i}}}").is_err() {
                break;
            }
        }
    });
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("{\"ind\":0,"));
    // The reader is dropped here, as `| head -1` would.
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stderr), "");
}
