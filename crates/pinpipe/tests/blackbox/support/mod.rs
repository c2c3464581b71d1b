//! Running the `pinpipe` binary as a user would, for the black-box tests: [`Pinpipe`] starts it
//! (a server on port 0, or any command in the background), [`pinpipe`] runs a command to its
//! end, and the rest reads what it did: the log with `pinpipe topics` / `pinpipe tail`, raw
//! HTTP/1.1 for the requests whose exact bytes matter.

pub mod emulator;
pub mod exclusive;
pub mod lake;
mod pinpipe;
pub mod serving;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

pub use exclusive::alone;
pub use pinpipe::{Pinpipe, command};

/// Runs `pinpipe ARGS` in `dir` with `stdin` as its input and only the given `PINPIPE_*`
/// variables set (the caller's are removed, so the tests do not depend on the shell).
pub fn pinpipe(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut command = pinpipe::command(dir);
    command.args(args).envs(env.iter().copied());
    let _turn = exclusive::turn();
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_owned();
    // Written from another thread so that a large input cannot deadlock against a full stdout.
    let writer = std::thread::spawn(move || input.write_all(stdin.as_bytes()));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    output
}

/// Lossy UTF-8 text of an output stream.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A port nothing listens on right now, for the servers that cannot be told to listen on port 0
/// and report the port (PostgreSQL, tansu) and for a URL that must find nobody; another process
/// may take it meanwhile, so use it at once.
pub fn unused_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `pinpipe --data-dir DATA ARGS` in `work_dir`, which must succeed.
pub fn log_cli(work_dir: &Path, data_dir: &Path, args: &[&str]) -> Output {
    let data = data_dir.to_str().unwrap();
    let mut all = vec!["--data-dir", data];
    all.extend_from_slice(args);
    let out = pinpipe(work_dir, &all, &[], "");
    assert!(
        out.status.success(),
        "pinpipe {all:?} failed: {}",
        text(&out.stderr)
    );
    out
}

/// `pinpipe topics --json`, parsed.
pub fn topics_json(work_dir: &Path, data_dir: &Path) -> serde_json::Value {
    let out = log_cli(work_dir, data_dir, &["topics", "--json"]);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Records per topic according to `pinpipe topics --json` (end minus start, over partitions).
pub fn record_counts(work_dir: &Path, data_dir: &Path) -> std::collections::BTreeMap<String, u64> {
    let topics = topics_json(work_dir, data_dir);
    topics
        .as_array()
        .expect("topics --json prints an array")
        .iter()
        .map(|t| {
            let records = t["partitions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["end_offset"].as_u64().unwrap() - p["start_offset"].as_u64().unwrap())
                .sum();
            (t["name"].as_str().unwrap().to_owned(), records)
        })
        .collect()
}

/// Every record of `topic` as `pinpipe tail --topic T --format json` prints it.
pub fn tail_json(work_dir: &Path, data_dir: &Path, topic: &str) -> Vec<serde_json::Value> {
    let out = log_cli(
        work_dir,
        data_dir,
        &["tail", "--topic", topic, "--format", "json"],
    );
    text(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// An HTTP/1.1 response read off a socket.
#[derive(Debug)]
pub struct RawResponse {
    /// Status code.
    pub status: u16,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first header of that (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (panics with the body when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", text(&self.body)))
    }
}

/// Reads one response (status line, headers, body by Content-Length, chunked, or to the end).
pub fn read_response(reader: &mut impl BufRead) -> std::io::Result<RawResponse> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed before a response",
        ));
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(&format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let trimmed = line.trim_end_matches(['\r', '\n']);
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':').ok_or_else(|| bad("bad header"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if let Some(length) = get("content-length") {
        let length: usize = length.parse().map_err(|_| bad("bad content-length"))?;
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    } else if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| bad("bad chunk size"))?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if status >= 200 && status != 204 && status != 304 {
        reader.read_to_end(&mut body)?;
    }
    Ok(RawResponse {
        status,
        headers,
        body,
    })
}

/// Sends `request` (exact bytes) on a new connection and reads one response.
pub fn raw_request(addr: SocketAddr, request: &[u8]) -> std::io::Result<RawResponse> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    stream.write_all(request)?;
    read_response(&mut BufReader::new(stream))
}

/// A keep-alive HTTP/1.1 connection for exact-bytes requests.
pub struct RawConnection {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl RawConnection {
    /// Connects.
    pub fn open(addr: SocketAddr) -> RawConnection {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream
            .set_write_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        RawConnection {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        }
    }

    /// Writes `request` as is and reads the response.
    pub fn send(&mut self, request: &[u8]) -> RawResponse {
        self.writer.write_all(request).unwrap();
        read_response(&mut self.reader).unwrap()
    }
}

/// `body` as a chunked HTTP/1.1 body of `chunk`-byte chunks, with the final empty chunk.
pub fn chunked(body: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in body.chunks(chunk) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// Appends `values` to `topic` straight into the local event log in `data_dir` (keys
/// `{key_prefix}-0`, `-1`, …), as a foreign producer would: the ingest API refuses unusable
/// records, so this is how the tests put some in the log. No pinpipe process may hold the log.
pub fn append_foreign(data_dir: &Path, topic: &str, key_prefix: &str, values: &[&[u8]]) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let log = pinpipe_log::EventLog::open(&pinpipe_log::LogConfig::default(), data_dir)
            .await
            .unwrap();
        let records = values
            .iter()
            .enumerate()
            .map(|(i, value)| pinpipe_log::NewRecord {
                key: format!("{key_prefix}-{i}").into_bytes(),
                value: value.to_vec(),
                timestamp_ms: pinpipe_log::now_ms(),
                headers: Vec::new(),
            })
            .collect();
        log.append(topic, records).await.unwrap();
        log.close().await.unwrap();
    });
}

/// The value of `var`, which scripts/test sets to a server or tool it started or installed; or
/// `None` outside CI, with a NOT RUN line (under CI it must be set).
pub fn test_service(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => Some(value),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{var} is not set: scripts/test starts or installs it and sets it"
            );
            eprintln!("NOT RUN: set {var} (scripts/test does)");
            None
        }
    }
}

/// The Python interpreter of scripts/services/python.sh's virtual environment (`TEST_PYTHON`),
/// which has the `deltalake` package.
pub fn python_with_deltalake() -> Option<String> {
    test_service("TEST_PYTHON")
}
