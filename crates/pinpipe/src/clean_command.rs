//! `pinpipe clean`: raw JSONL in, clean JSONL out, streaming.
//!
//! Without `--dedup`, memory stays flat whatever the input size: one line is held at a time.
//! With `--dedup`, one serialised clean record per distinct key is held until the input ends,
//! since the last record of a key may be the input's last line.

use std::io::{self, BufRead, BufWriter, Write};
use std::process::ExitCode;

use anyhow::Context;
use pinpipe_model::json_line::Escaping;
use pinpipe_model::{EventType, LatestByKey, LogPosition, RecordKey};

use crate::config::Config;
use crate::parts;

/// Options of `pinpipe clean`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The type of the events on stdin.
    #[arg(long = "type", value_name = "TYPE", value_parser = parts::event_type_parser())]
    event_type: EventType,

    /// Keep one record per key, the one received last ("last received wins").
    #[arg(long)]
    dedup: bool,
}

/// Cleans standard input onto standard output, unusable lines reported on standard error.
pub fn run(config: &Config, args: &Args) -> anyhow::Result<ExitCode> {
    let options = Options {
        event_type: args.event_type,
        dedup: args.dedup || config.clean.dedup,
    };
    // A large read buffer: fewer system calls on multi-gigabyte inputs.
    let stdin = io::BufReader::with_capacity(1 << 20, io::stdin().lock());
    let summary = clean_lines(&options, stdin, io::stdout().lock(), io::stderr().lock())?;
    Ok(summary.exit_code())
}

/// What to clean and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// The type of every input line.
    pub event_type: EventType,
    /// Keep only the last received record of each key.
    pub dedup: bool,
}

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Lines read, blank ones included.
    pub lines: u64,
    /// Clean records written.
    pub written: u64,
    /// Lines that could not be used.
    pub unusable: u64,
}

/// Exit code when the run finished but some lines could not be used.
const EXIT_SOME_UNUSABLE: u8 = 3;

impl Summary {
    /// 0 when every line was used, 3 when some were not.
    pub fn exit_code(&self) -> ExitCode {
        if self.unusable == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(EXIT_SOME_UNUSABLE)
        }
    }
}

/// Cleans every line of `input` onto `output`, reporting unusable lines on `errors`.
pub fn clean_lines(
    options: &Options,
    mut input: impl BufRead,
    output: impl Write,
    errors: impl Write,
) -> anyhow::Result<Summary> {
    let mut output = BufWriter::with_capacity(1 << 18, output);
    let mut errors = BufWriter::new(errors);
    let mut summary = Summary::default();
    let mut latest: LatestByKey<RecordKey, Vec<u8>> = LatestByKey::new();
    let mut line = Vec::with_capacity(4096);
    let mut json_line = Vec::with_capacity(4096);

    let finished = loop {
        line.clear();
        if !read_line(&mut input, &mut line).context("could not read standard input")? {
            break Ok(());
        }
        summary.lines += 1;
        let text = trim_line_end(&line);
        if is_blank(text) {
            continue;
        }
        let record = match options.event_type.clean_json(text) {
            Ok(record) => record,
            Err(reason) => {
                summary.unusable += 1;
                writeln!(errors, "line {}: {reason}", summary.lines)?;
                continue;
            }
        };
        json_line.clear();
        record.write_json(&mut json_line, Escaping::for_raw(text));
        if options.dedup {
            // An exact-size copy: the held records are most of `--dedup`'s memory.
            // The one recency rule, over one stream: the later line wins.
            latest.offer(
                LogPosition::in_stream(summary.lines),
                record.key(),
                json_line.clone(),
            );
        } else {
            json_line.push(b'\n');
            summary.written += 1;
            if let Err(e) = output.write_all(&json_line) {
                break Err(e);
            }
        }
    };

    let finished = finished.and_then(|()| {
        for (_, json) in latest.into_winners() {
            summary.written += 1;
            output.write_all(&json)?;
            output.write_all(b"\n")?;
        }
        output.flush()
    });
    match finished {
        Ok(()) => {}
        // The reader went away (`pinpipe clean … | head`): that is how a pipe ends, not a failure.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(e).context("could not write standard output"),
    }

    if summary.unusable > 0 {
        writeln!(
            errors,
            "pinpipe clean: {} of {} lines could not be used (listed above); the other lines were written",
            summary.unusable, summary.lines
        )?;
    }
    errors.flush()?;
    Ok(summary)
}

/// `BufRead::read_until(b'\n')`, with the memchr crate's SIMD search: lines here are long
/// (a pin is about 700 bytes), where it is several times faster than the standard library's.
/// Returns false at the end of the input.
fn read_line(input: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<bool> {
    loop {
        let buffer = match input.fill_buf() {
            Ok(buffer) => buffer,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buffer.is_empty() {
            return Ok(!line.is_empty());
        }
        match memchr::memchr(b'\n', buffer) {
            Some(end) => {
                line.extend_from_slice(&buffer[..=end]);
                input.consume(end + 1);
                return Ok(true);
            }
            None => {
                let taken = buffer.len();
                line.extend_from_slice(buffer);
                input.consume(taken);
            }
        }
    }
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// White space only. Decided by the first byte that is not ASCII white space, so a JSON line
/// costs one byte's look; only lines starting with non-ASCII text are decoded.
fn is_blank(line: &[u8]) -> bool {
    match line.iter().position(|b| !b.is_ascii_whitespace()) {
        None => true,
        Some(at) if line[at].is_ascii() => false,
        Some(_) => std::str::from_utf8(line).is_ok_and(|text| text.trim().is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(event_type: EventType, dedup: bool, input: &str) -> (String, String, Summary) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let options = Options { event_type, dedup };
        let summary = clean_lines(&options, input.as_bytes(), &mut out, &mut err).unwrap();
        (
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
            summary,
        )
    }

    #[test]
    fn reports_unusable_lines_by_number_and_keeps_going() {
        let input = "{\"ind\":1}\r\n\n[1]\n{\"ind\":2}";
        let (out, err, summary) = clean(EventType::User, false, input);
        assert_eq!(
            out,
            "{\"ind\":1,\"user_name\":null,\"age\":null,\"date_joined\":null}\n\
             {\"ind\":2,\"user_name\":null,\"age\":null,\"date_joined\":null}\n"
        );
        assert!(err.starts_with("line 3: not a JSON object"), "{err}");
        assert_eq!(
            summary,
            Summary {
                lines: 4,
                written: 2,
                unusable: 1
            }
        );
        assert_eq!(summary.exit_code(), ExitCode::from(3));
    }

    #[test]
    fn dedup_keeps_the_last_record_in_input_order_of_the_winners() {
        let input =
            "{\"ind\":1,\"age\":1}\n{\"ind\":2,\"age\":2}\n{\"ind\":1,\"age\":3}\n{\"ind\":1";
        let (out, _, summary) = clean(EventType::User, true, input);
        let ages: Vec<i64> = out
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["age"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        assert_eq!(ages, vec![2, 3]);
        assert_eq!(summary.unusable, 1);
    }
}
