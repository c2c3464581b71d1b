//! Running the `pinpipe` binary as a user would, for the black-box tests.

#[allow(dead_code)]
pub mod emulator;
#[allow(dead_code)]
pub mod lake;
#[allow(dead_code)]
pub mod serving;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `pinpipe ARGS` in `dir` with `stdin` as its input and only the given `PINPIPE_*`
/// variables set (the caller's are removed, so the tests do not depend on the shell).
pub fn pinpipe(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pinpipe"));
    command.args(args).current_dir(dir);
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("PINPIPE_")) {
        command.env_remove(key);
    }
    command.envs(env.iter().copied());
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

// ---------------------------------------------------------------------------------------------
// The ingest API as a black box: a real `pinpipe serve` on a free port, raw HTTP/1.1 for the
// requests whose exact bytes matter, and the log read back with `pinpipe topics` / `pinpipe tail`.
// Not every test binary uses all of these, hence the `allow(dead_code)`.
// ---------------------------------------------------------------------------------------------

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// How long a server may take to answer `/healthz` after it was started (a loaded machine is
/// slow; the debug binary opens SQLite and binds quickly otherwise).
#[allow(dead_code)]
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `pinpipe serve`; killed (SIGKILL) when dropped, so a failing test leaves nothing
/// behind.
#[allow(dead_code)]
pub struct Server {
    child: Option<Child>,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// `--data-dir`.
    pub data_dir: PathBuf,
    /// Working directory (holds the server's stderr as `server-<port>.log`).
    pub work_dir: PathBuf,
    log_path: PathBuf,
}

#[allow(dead_code)]
impl Server {
    /// Starts `pinpipe --data-dir WORK/data serve` with only the given `PINPIPE_*` variables and
    /// waits until `GET /healthz` answers 200.
    pub fn start(work_dir: &Path, env: &[(&str, &str)]) -> Server {
        Server::start_on(work_dir, &work_dir.join("data"), env)
    }

    /// As [`Server::start`], over the given data dir (to restart on the same log).
    pub fn start_on(work_dir: &Path, data_dir: &Path, env: &[(&str, &str)]) -> Server {
        Server::start_command(work_dir, data_dir, &["serve"], env)
    }

    /// `pinpipe --data-dir DATA ARGS --listen ADDR` on a free port (ARGS is `serve`, `up`,
    /// `up --emulate` …), ready when `/healthz` answers.
    pub fn start_command(
        work_dir: &Path,
        data_dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Server {
        // A free port is found by binding port 0 and letting it go; another process may take it
        // in between, so a failure to listen is retried on a new port.
        for _attempt in 0..5 {
            let port = {
                let probe = TcpListener::bind("127.0.0.1:0").unwrap();
                probe.local_addr().unwrap().port()
            };
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            if let Some(server) = Server::start_at(work_dir, data_dir, addr, args, env) {
                return server;
            }
        }
        panic!("could not find a free port for pinpipe {args:?}");
    }

    /// `pinpipe --data-dir DATA ARGS --listen ADDR`, ready when `/healthz` answers; `None` when
    /// the address was taken.
    pub fn start_at(
        work_dir: &Path,
        data_dir: &Path,
        addr: SocketAddr,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Option<Server> {
        Server::start_under(work_dir, data_dir, addr, args, env, None)
    }

    /// As [`Server::start_at`], with `shell` (e.g. `ulimit -Sn 1024`) run by `sh` first, in the
    /// process that then becomes pinpipe.
    pub fn start_under(
        work_dir: &Path,
        data_dir: &Path,
        addr: SocketAddr,
        args: &[&str],
        env: &[(&str, &str)],
        shell: Option<&str>,
    ) -> Option<Server> {
        let port = addr.port();
        let log_path = work_dir.join(format!("server-{port}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap();
        let mut command = match shell {
            None => Command::new(env!("CARGO_BIN_EXE_pinpipe")),
            Some(shell) => {
                let mut command = Command::new("sh");
                command.args([
                    "-c",
                    &format!("{shell} && exec \"$0\" \"$@\""),
                    env!("CARGO_BIN_EXE_pinpipe"),
                ]);
                command
            }
        };
        command
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .args(["--listen", &addr.to_string()])
            .current_dir(work_dir);
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("PINPIPE_")) {
            command.env_remove(key);
        }
        command.env("RUST_LOG", "warn");
        command.envs(env.iter().copied());
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut server = Server {
            child: Some(child),
            addr,
            data_dir: data_dir.to_owned(),
            work_dir: work_dir.to_owned(),
            log_path,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = server.child.as_mut().unwrap().try_wait().unwrap() {
                let log = server.log_text();
                server.child = None;
                if log.contains("cannot listen") {
                    return None; // port taken meanwhile
                }
                panic!("pinpipe {args:?} exited with {status} before it was ready:\n{log}");
            }
            if let Ok(response) = raw_request(addr, b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
                && response.status == 200
            {
                return Some(server);
            }
            assert!(
                Instant::now() < deadline,
                "pinpipe serve did not answer /healthz within {START_TIMEOUT:?}:\n{}",
                server.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://ADDR/PATH`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server already stopped").id()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => child.try_wait().unwrap().is_none(),
            None => false,
        }
    }

    /// The server's stderr so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM now (does not wait).
    pub fn send_sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM failed: {status}");
    }

    /// Waits up to `timeout` for the process to exit; `None` when it is still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            let child = self.child.as_mut().expect("server already stopped");
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `pinpipe ARGS` over this server's data dir (the log read back as a user would).
    pub fn cli(&self, args: &[&str]) -> Output {
        log_cli(&self.work_dir, &self.data_dir, args)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `pinpipe --data-dir DATA ARGS` in `work_dir`, which must succeed.
#[allow(dead_code)]
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
#[allow(dead_code)]
pub fn topics_json(work_dir: &Path, data_dir: &Path) -> serde_json::Value {
    let out = log_cli(work_dir, data_dir, &["topics", "--json"]);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Records per topic according to `pinpipe topics --json` (end minus start, over partitions).
#[allow(dead_code)]
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
#[allow(dead_code)]
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
#[allow(dead_code)]
#[derive(Debug)]
pub struct RawResponse {
    /// Status code.
    pub status: u16,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

#[allow(dead_code)]
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
#[allow(dead_code)]
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
#[allow(dead_code)]
pub fn raw_request(addr: SocketAddr, request: &[u8]) -> std::io::Result<RawResponse> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    stream.write_all(request)?;
    read_response(&mut BufReader::new(stream))
}

/// A keep-alive HTTP/1.1 connection for exact-bytes requests.
#[allow(dead_code)]
pub struct RawConnection {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

#[allow(dead_code)]
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
#[allow(dead_code)]
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
