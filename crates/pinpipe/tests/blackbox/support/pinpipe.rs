//! The one way the black-box tests start `pinpipe` (the binary cargo built for them).
//!
//! ```ignore
//! let server = Pinpipe::command(dir.path(), &["serve"]).start();          // a server on port 0
//! let stream = Pinpipe::command(dir.path(), &["stream"]).env(&env).spawn(); // any other command
//! ```
//!
//! Every process gets `--data-dir` (WORK/data unless [`Launch::data_dir`] says otherwise), runs in
//! WORK with none of the caller's `PINPIPE_*` variables, writes its stderr and stdout to files in
//! WORK (read them with [`Pinpipe::log_text`] and [`Pinpipe::stdout_text`]) and is killed with
//! SIGKILL when its handle is dropped, so a failing test leaves nothing behind. A server listens
//! on `127.0.0.1:0` and is ready once it has printed the address it bound (`serve` and `up` print
//! `pinpipe: ingest API listening on http://ADDR` on stdout) and `GET /healthz` answers 200.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::exclusive::{self, Turn};
use super::{log_cli, raw_request};

/// How long a server may take to bind and answer `/healthz` after it was started (a loaded
/// machine is slow; the debug binary opens SQLite and binds quickly otherwise).
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// What `serve` and `up` print on stdout once they listen, followed by `IP:PORT`.
const LISTENING: &str = "pinpipe: ingest API listening on http://";

/// What the long-running commands print on stdout once their admin listener is bound.
const ADMIN_LISTENING: &str = "pinpipe: admin listening on http://";

/// `pinpipe` with the caller's `PINPIPE_*` variables removed (so the tests do not depend on the
/// shell), in `work_dir`, its admin listener on a free port (tests run side by side; the default
/// 127.0.0.1:8001 would be taken).
pub fn command(work_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pinpipe"));
    scrub(&mut command);
    command.current_dir(work_dir);
    command
}

fn scrub(command: &mut Command) {
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("PINPIPE_")) {
        command.env_remove(key);
    }
    command.env("PINPIPE_OBSERVE__LISTEN", "127.0.0.1:0");
}

/// A `pinpipe` command to start: built by [`Pinpipe::command`].
#[derive(Clone, Debug)]
pub struct Launch {
    work_dir: PathBuf,
    data_dir: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    listen: Option<SocketAddr>,
    shell: Option<String>,
    name: Option<String>,
}

impl Launch {
    /// `--data-dir DATA` (default WORK/data).
    pub fn data_dir(mut self, data_dir: &Path) -> Launch {
        data_dir.clone_into(&mut self.data_dir);
        self
    }

    /// Sets these environment variables (`PINPIPE_*`, `RUST_LOG`, …) for the process.
    pub fn env(mut self, env: &[(&str, &str)]) -> Launch {
        self.env
            .extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        self
    }

    /// Listens on `addr` instead of port 0: only to start a server again where its clients
    /// already point ([`Pinpipe::restart`] does).
    pub fn listen(mut self, addr: SocketAddr) -> Launch {
        self.listen = Some(addr);
        self
    }

    /// Runs `shell` (e.g. `ulimit -Sn 1024`) in `sh` first, in the process that then becomes
    /// pinpipe.
    pub fn under(mut self, shell: &str) -> Launch {
        self.shell = Some(shell.to_owned());
        self
    }

    /// Names the output files WORK/NAME.log (stderr) and WORK/NAME.out (stdout), appended to;
    /// by default they are named after the command and a number unique in the test run.
    pub fn name(mut self, name: &str) -> Launch {
        self.name = Some(name.to_owned());
        self
    }

    /// Starts a server (`serve`, `up`, `up --emulate` …) on `127.0.0.1:0` (or the
    /// [`listen`](Launch::listen) address) and waits until it answers `/healthz`.
    pub fn start(self) -> Pinpipe {
        match self.try_start() {
            Ok(server) => server,
            Err(log) => panic!("pinpipe {:?} could not listen:\n{log}", self.args),
        }
    }

    /// As [`start`](Launch::start); `Err` with its stderr when the address was taken.
    fn try_start(&self) -> Result<Pinpipe, String> {
        let listen = self
            .listen
            .map_or_else(|| "127.0.0.1:0".to_owned(), |a| a.to_string());
        let mut server = self.run(&["--listen", &listen], "warn");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = server.try_status() {
                let log = server.log_text();
                if log.contains("cannot listen") {
                    return Err(log);
                }
                panic!(
                    "pinpipe {:?} exited with {status} before it was ready:\n{log}",
                    self.args
                );
            }
            if server.addr.is_none() {
                server.addr = server.stdout_text().lines().find_map(|line| {
                    line.strip_prefix(LISTENING)
                        .and_then(|addr| addr.trim().parse().ok())
                });
            }
            if let Some(addr) = server.addr
                && let Ok(response) = raw_request(addr, b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
                && response.status == 200
            {
                return Ok(server);
            }
            assert!(
                Instant::now() < deadline,
                "pinpipe {:?} did not listen and answer /healthz within {START_TIMEOUT:?} \
                 (address {:?}):\n{}",
                self.args,
                server.addr,
                server.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts any other command (`stream`, `lake`, `emulate …`, `trigger …`) in the background.
    pub fn spawn(self) -> Pinpipe {
        // `info` is the binary's own default: progress lines the tests read are at that level.
        self.run(&[], "info")
    }

    fn run(&self, extra: &[&str], rust_log: &str) -> Pinpipe {
        static LAUNCHED: AtomicU64 = AtomicU64::new(0);
        let name = self.name.clone().unwrap_or_else(|| {
            let n = LAUNCHED.fetch_add(1, Ordering::Relaxed);
            format!(
                "{}-{n}",
                self.args.first().map_or("pinpipe", String::as_str)
            )
        });
        let log_path = self.work_dir.join(format!("{name}.log"));
        let out_path = self.work_dir.join(format!("{name}.out"));
        let append = |path: &Path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        };
        let (log, out) = (append(&log_path), append(&out_path));
        // Only what this process writes counts (a restart appends to the same files).
        let out_from = out.metadata().unwrap().len();
        let log_from = log.metadata().unwrap().len();
        let mut command = match &self.shell {
            None => command(&self.work_dir),
            Some(shell) => {
                let mut command = Command::new("sh");
                scrub(&mut command);
                command.current_dir(&self.work_dir).args([
                    "-c",
                    &format!("{shell} && exec \"$0\" \"$@\""),
                    env!("CARGO_BIN_EXE_pinpipe"),
                ]);
                command
            }
        };
        command
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(&self.args)
            .args(extra)
            .env("RUST_LOG", rust_log)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(log);
        let turn = exclusive::turn();
        let child = command.spawn().unwrap();
        Pinpipe {
            process: Some((child, turn)),
            addr: None,
            launch: self.clone(),
            data_dir: self.data_dir.clone(),
            work_dir: self.work_dir.clone(),
            log_path,
            log_from,
            out_path,
            out_from,
        }
    }
}

/// A running (or ended) `pinpipe` process; SIGKILLed when dropped.
pub struct Pinpipe {
    process: Option<(Child, Turn)>,
    addr: Option<SocketAddr>,
    launch: Launch,
    /// `--data-dir`.
    pub data_dir: PathBuf,
    /// Working directory (holds the output files).
    pub work_dir: PathBuf,
    log_path: PathBuf,
    log_from: u64,
    out_path: PathBuf,
    out_from: u64,
}

impl Pinpipe {
    /// `pinpipe --data-dir WORK/data ARGS` in WORK, to [`start`](Launch::start) as a server or
    /// [`spawn`](Launch::spawn) in the background.
    pub fn command(work_dir: &Path, args: &[&str]) -> Launch {
        Launch {
            work_dir: work_dir.to_owned(),
            data_dir: work_dir.join("data"),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            env: Vec::new(),
            listen: None,
            shell: None,
            name: None,
        }
    }

    /// The address a server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
            .unwrap_or_else(|| panic!("pinpipe {:?} is not a server", self.launch.args))
    }

    /// `http://ADDR/PATH`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }

    /// The address its admin listener bound (`/metrics`, `/dashboard`), once it has printed it.
    pub fn admin_addr(&self) -> SocketAddr {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let found = self.stdout_text().lines().find_map(|line| {
                line.strip_prefix(ADMIN_LISTENING)
                    .and_then(|addr| addr.trim().parse().ok())
            });
            if let Some(addr) = found {
                return addr;
            }
            assert!(
                Instant::now() < deadline,
                "pinpipe {:?} printed no admin address within {START_TIMEOUT:?}:\n{}",
                self.launch.args,
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://ADMIN/PATH`.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin_addr())
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.process.as_ref().expect("process already ended").0.id()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.try_status().is_none()
    }

    /// Its exit status once it has ended (the process is reaped then).
    fn try_status(&mut self) -> Option<ExitStatus> {
        let (child, _) = self.process.as_mut()?;
        let status = child.try_wait().unwrap()?;
        self.process = None;
        Some(status)
    }

    /// Its stderr so far.
    pub fn log_text(&self) -> String {
        read_from(&self.log_path, self.log_from)
    }

    /// Its stdout so far.
    pub fn stdout_text(&self) -> String {
        read_from(&self.out_path, self.out_from)
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        if let Some((mut child, _turn)) = self.process.take() {
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
        assert!(self.process.is_some(), "process already ended");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_status() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, and its exit status once it has stopped (within 60 s, else the test fails).
    pub fn stop(&mut self) -> ExitStatus {
        self.send_sigterm();
        self.wait_exit(Duration::from_secs(60)).unwrap_or_else(|| {
            panic!(
                "pinpipe {:?} did not stop on SIGTERM:\n{}",
                self.launch.args,
                self.log_text()
            )
        })
    }

    /// Waits for the process to end by itself; its exit status and what it wrote.
    pub fn wait_output(&mut self) -> Output {
        let (mut child, _turn) = self.process.take().expect("process already ended");
        let status = child.wait().unwrap();
        Output {
            status,
            stdout: self.stdout_text().into_bytes(),
            stderr: self.log_text().into_bytes(),
        }
    }

    /// Kills the server (when it still runs) and starts the same command again at the same
    /// address, retrying while the port is still held.
    pub fn restart(&mut self) {
        self.kill();
        let launch = self.launch.clone().listen(self.addr());
        for _ in 0..100 {
            match launch.try_start() {
                Ok(server) => {
                    *self = server;
                    return;
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
        panic!(
            "pinpipe {:?} could not listen on {} again",
            self.launch.args,
            self.addr()
        );
    }

    /// `pinpipe ARGS` over this process's data dir (the log read back as a user would).
    pub fn cli(&self, args: &[&str]) -> Output {
        log_cli(&self.work_dir, &self.data_dir, args)
    }
}

impl Drop for Pinpipe {
    fn drop(&mut self) {
        self.kill();
    }
}

fn read_from(path: &Path, from: u64) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let from = usize::try_from(from).unwrap().min(bytes.len());
    String::from_utf8_lossy(&bytes[from..]).into_owned()
}
