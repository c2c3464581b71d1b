//! Where the emulator's rows come from: the built-in synthetic tables, JSONL files, or a
//! database. Every source ends as [`Bodies`]: the exact request body of each row.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use pinpipe_model::EventType;

use crate::table::{Bodies, Table, kind_index, table_name};
use crate::{SourceError, sql, synth};

/// A source, parsed from `--source` / `[emulate] source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The synthetic data set of `rows` rows per table.
    Builtin {
        /// Rows per table.
        rows: usize,
    },
    /// A JSONL file of one event type, or a folder with `pinterest_data.jsonl`,
    /// `geolocation_data.jsonl` and `user_data.jsonl` (the layout `--export` writes).
    Jsonl(PathBuf),
    /// A database URL.
    Database(String),
}

impl Source {
    /// Parses a source name; `rows` sizes the built-in data set.
    pub fn parse(text: &str, rows: usize) -> Source {
        if text == "builtin" {
            Source::Builtin { rows }
        } else if sql::is_database_url(text) {
            Source::Database(text.to_owned())
        } else {
            Source::Jsonl(PathBuf::from(text))
        }
    }
}

/// The bodies of a source, ready to send, and a short description for the summary.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Request bodies by type, aligned by row.
    pub bodies: Bodies,
    /// The source, for people (`builtin (seed 7, 11154 rows)`, a path, a redacted URL).
    pub description: String,
}

/// Loads the rows of `kinds` from `source`. `seed` seeds the built-in data set.
pub async fn load(source: &Source, seed: u64, kinds: &[EventType]) -> Result<Loaded, SourceError> {
    let mut lists: [Vec<Bytes>; 3] = Default::default();
    let description = match source {
        Source::Builtin { rows } => {
            if *rows == 0 {
                return Err(SourceError::Empty(
                    "the built-in data set needs --rows of 1 or more".into(),
                ));
            }
            for table in synth::generate(seed, *rows) {
                if kinds.contains(&table.kind) {
                    lists[kind_index(table.kind)] = table.bodies();
                }
            }
            format!("builtin (seed {seed}, {rows} rows)")
        }
        Source::Database(url) => {
            for table in sql::load(url, kinds).await? {
                lists[kind_index(table.kind)] = table.bodies();
            }
            sql::redact(url)
        }
        Source::Jsonl(path) if path.is_dir() => {
            for &kind in kinds {
                let file = path.join(format!("{}.jsonl", table_name(kind)));
                if !file.is_file() {
                    return Err(SourceError::Io {
                        path: file,
                        detail: "not found: a JSONL folder holds pinterest_data.jsonl, \
                                 geolocation_data.jsonl and user_data.jsonl (as `pinpipe emulate \
                                 --export DIR` writes them); use --only to send fewer types"
                            .into(),
                    });
                }
                lists[kind_index(kind)] = read_jsonl(&file)?;
            }
            path.display().to_string()
        }
        Source::Jsonl(path) => {
            let [kind] = kinds else {
                return Err(SourceError::Empty(format!(
                    "{} is one file, so it holds one event type: say which with --only pin|geo|user \
                     (or give a folder with pinterest_data.jsonl, geolocation_data.jsonl and \
                     user_data.jsonl)",
                    path.display()
                )));
            };
            lists[kind_index(*kind)] = read_jsonl(path)?;
            path.display().to_string()
        }
    };
    let [pins, geos, users] = lists;
    let bodies = Bodies::new(pins, geos, users);
    if kinds.iter().all(|k| bodies.of(*k).is_empty()) {
        return Err(SourceError::Empty(format!(
            "{description} has no rows to send"
        )));
    }
    Ok(Loaded {
        bodies,
        description,
    })
}

/// The built-in tables (for `--export`).
pub fn builtin_tables(seed: u64, rows: usize) -> [Table; 3] {
    synth::generate(seed, rows)
}

/// Lines of a JSONL file, each sent exactly as written (blank lines skipped, line ends removed).
/// Lines are not checked: a line the server refuses is counted as rejected, which is how a user
/// finds out what a file holds.
fn read_jsonl(path: &Path) -> Result<Vec<Bytes>, SourceError> {
    let data = std::fs::read(path).map_err(|e| SourceError::Io {
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    let data = Bytes::from(data);
    let mut lines = Vec::new();
    let mut start = 0;
    while start < data.len() {
        let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
        let mut line_end = end;
        if line_end > start && data[line_end - 1] == b'\r' {
            line_end -= 1;
        }
        if data[start..line_end]
            .iter()
            .any(|b| !b.is_ascii_whitespace())
        {
            lines.push(data.slice(start..line_end));
        }
        start = end + 1;
    }
    Ok(lines)
}
