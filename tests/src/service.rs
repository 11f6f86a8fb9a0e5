//! `ferry serve` under test: the real binary on a free loopback port, spoken to over plain
//! HTTP/1.1 (std only: one request per connection), signalled with `kill`, its stdout and
//! stderr kept in files in the test's folder and shown in every failure message.
//!
//! ```ignore
//! let setup = Setup::new("", "generic", "schedule = \"every 1h\"");
//! setup.write("a.txt", b"a");
//! let service = setup.start();
//! let run = service.trigger("nightly");
//! let report = service.wait_run(run, Duration::from_secs(10));
//! ```

use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// A token long enough for the service (at least 16 characters).
pub const TOKEN: &str = "ferry-test-token-4f9c2a7e1b";
/// The name of the one sync [`Setup`] writes.
pub const SYNC: &str = "nightly";

/// How long a service gets to say where it listens.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one HTTP request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How often `wait_for` asks again.
const POLL: Duration = Duration::from_millis(50);

/// Numbers the log files of the services started by this test process.
static STARTED: AtomicUsize = AtomicUsize::new(0);

/// A signal for [`Service::signal`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Term,
    Hup,
    Int,
    Kill,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Signal::Term => "TERM",
            Signal::Hup => "HUP",
            Signal::Int => "INT",
            Signal::Kill => "KILL",
        }
    }
}

/// A `ferry serve` that is running (until it is dropped: then it is killed).
pub struct Service {
    child: Child,
    /// Where it listens; a wildcard address (0.0.0.0) is replaced by loopback.
    pub address: SocketAddr,
    /// What it printed first: `{"listening": ADDRESS}`, the address as it said it.
    pub listening: String,
    /// The token `get_json`, `wait_for` and `trigger` send: `FERRY_TOKEN` of its
    /// environment, if given.
    pub token: Option<String>,
    stdout: PathBuf,
    stderr: PathBuf,
    exited: Option<ExitStatus>,
}

/// A service that exited before it listened.
#[derive(Debug)]
pub struct Exited {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// One HTTP answer.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    /// Names lowercased, in order.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The body as JSON (panics, showing the body, when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): HTTP {} {:?} {}",
                self.status, self.headers, self.body
            )
        })
    }
}

impl Service {
    /// `ferry serve --listen 127.0.0.1:0 --json` in `dir` (which holds `ferry.toml`), with
    /// `extra_env` set (and `FERRY_TOKEN` only if given there); panics, with its output,
    /// if it does not start.
    pub fn start(dir: &Path, extra_env: &[(&str, &str)]) -> Service {
        Service::start_args(dir, extra_env, &["--listen", "127.0.0.1:0"])
    }

    /// `ferry serve --json ARGS…`; panics, with its output, if it does not start.
    pub fn start_args(dir: &Path, extra_env: &[(&str, &str)], args: &[&str]) -> Service {
        Service::try_start(dir, extra_env, args).unwrap_or_else(|exited| {
            panic!(
                "ferry serve exited with {} before listening\n--- stdout:\n{}\n--- stderr:\n{}",
                exited.code, exited.stdout, exited.stderr
            )
        })
    }

    /// `ferry serve --json ARGS…`: the service once it listens, or how it exited before.
    pub fn try_start(
        dir: &Path,
        extra_env: &[(&str, &str)],
        args: &[&str],
    ) -> Result<Service, Exited> {
        let n = STARTED.fetch_add(1, Ordering::Relaxed) + 1;
        let stdout = dir.join(format!("serve-{n}.stdout.log"));
        let stderr = dir.join(format!("serve-{n}.stderr.log"));
        let mut command: Command = crate::ferry(dir);
        command
            .env_remove("FERRY_TOKEN")
            .args(["serve", "--json"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(File::create(&stdout).expect("stdout log file"))
            .stderr(File::create(&stderr).expect("stderr log file"));
        for (key, value) in extra_env {
            command.env(key, value);
        }
        let token = extra_env
            .iter()
            .find(|(key, _)| *key == "FERRY_TOKEN")
            .map(|(_, value)| value.to_string());
        let child = command.spawn().expect("ferry serve starts");
        let mut service = Service {
            child,
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            listening: String::new(),
            token,
            stdout,
            stderr,
            exited: None,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let printed = service.stdout();
            if let Some(line) = printed.lines().next().filter(|_| printed.contains('\n')) {
                let said: Value = serde_json::from_str(line).unwrap_or_else(|e| {
                    panic!(
                        "the first line is not JSON ({e}): {line:?}\n{}",
                        service.logs()
                    )
                });
                let listening = said["listening"]
                    .as_str()
                    .unwrap_or_else(|| panic!("no \"listening\" in {line:?}\n{}", service.logs()));
                service.listening = listening.to_string();
                service.address = connectable(listening.parse().unwrap_or_else(|e| {
                    panic!("{listening:?} is not an address ({e})\n{}", service.logs())
                }));
                return Ok(service);
            }
            if let Some(status) = service.child.try_wait().expect("try_wait") {
                service.exited = Some(status);
                return Err(Exited {
                    code: exit_code(status),
                    stdout: service.stdout(),
                    stderr: service.stderr(),
                });
            }
            if Instant::now() > deadline {
                panic!(
                    "ferry serve did not say where it listens within {START_TIMEOUT:?}\n{}",
                    service.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://ADDRESS/PATH` (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Everything it printed on stdout so far.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.stdout).unwrap_or_default()).into_owned()
    }

    /// Everything it printed on stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.stderr).unwrap_or_default()).into_owned()
    }

    /// Its stdout and stderr, for an assertion's message.
    pub fn logs(&self) -> String {
        format!(
            "--- ferry serve stdout ({}):\n{}\n--- ferry serve stderr ({}):\n{}",
            self.stdout.display(),
            self.stdout(),
            self.stderr.display(),
            self.stderr()
        )
    }

    /// One request, `path` sent as it is (already percent-encoded), with `headers` and
    /// `body`; `Connection: close`. An error if the connection fails.
    pub fn try_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Response> {
        let mut stream = TcpStream::connect_timeout(&self.address, REQUEST_TIMEOUT)?;
        stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
        stream.set_write_timeout(Some(REQUEST_TIMEOUT))?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.address,
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        parse_response(&raw).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "not an HTTP response: {:?}",
                    String::from_utf8_lossy(&raw[..raw.len().min(500)])
                ),
            )
        })
    }

    /// One request; panics, with the service's output, if the connection fails.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        self.try_request(method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}\n{}", self.logs()))
    }

    /// `GET path` without a token: (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        let response = self.request("GET", path, &[], b"");
        (response.status, response.body)
    }

    /// `GET path` with `Authorization: Bearer TOKEN` when `token` is given.
    pub fn get_with(&self, path: &str, token: Option<&str>) -> Response {
        let bearer = token.map(|token| format!("Bearer {token}"));
        let headers: Vec<(&str, &str)> = bearer
            .iter()
            .map(|value| ("Authorization", value.as_str()))
            .collect();
        self.request("GET", path, &headers, b"")
    }

    /// `POST path` (empty body) with `Authorization: Bearer TOKEN` when `token` is given:
    /// (status, body).
    pub fn post(&self, path: &str, token: Option<&str>) -> (u16, String) {
        let response = self.post_with(path, token);
        (response.status, response.body)
    }

    /// `POST path` (empty body), the whole response.
    pub fn post_with(&self, path: &str, token: Option<&str>) -> Response {
        let bearer = token.map(|token| format!("Bearer {token}"));
        let headers: Vec<(&str, &str)> = bearer
            .iter()
            .map(|value| ("Authorization", value.as_str()))
            .collect();
        self.request("POST", path, &headers, b"")
    }

    /// `GET path` (with [`Service::token`], if any) as JSON; panics unless it is 200.
    pub fn get_json(&self, path: &str) -> Value {
        let response = self.get_with(path, self.token.as_deref());
        assert_eq!(
            response.status,
            200,
            "GET {path}: {}\n{}",
            response.body,
            self.logs()
        );
        response.json()
    }

    /// Polls `GET path` (JSON, e.g. `/api/runs` or `/api/syncs`) until `done` says yes;
    /// that answer. Panics after `timeout`, with the last answer and the service's output.
    pub fn wait_for(
        &self,
        path: &str,
        mut done: impl FnMut(&Value) -> bool,
        timeout: Duration,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let json = self.get_json(path);
            if done(&json) {
                return json;
            }
            if Instant::now() > deadline {
                panic!(
                    "GET {path} did not get there within {timeout:?}; the last answer:\n{json:#}\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// `POST /api/syncs/SYNC/run` with [`Service::token`]: the run's id (panics, with the
    /// answer, unless it is 202 with `{"run": id}`).
    pub fn trigger(&self, sync: &str) -> i64 {
        let path = format!("/api/syncs/{sync}/run");
        let (status, body) = self.post(&path, self.token.as_deref());
        let json: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        match (status, json["run"].as_i64()) {
            (202, Some(run)) => run,
            _ => panic!(
                "POST {path}: HTTP {status} {body}, not a run\n{}",
                self.logs()
            ),
        }
    }

    /// `GET /api/runs/ID` once its status is no longer `running`.
    pub fn wait_run(&self, run: i64, timeout: Duration) -> Value {
        self.wait_for(
            &format!("/api/runs/{run}"),
            |report| report["status"] != "running",
            timeout,
        )
    }

    /// The runs of `sync`, newest first (at most 500).
    pub fn runs(&self, sync: &str) -> Vec<Value> {
        let json = self.get_json(&format!("/api/runs?sync={sync}&limit=500"));
        json["runs"].as_array().cloned().unwrap_or_default()
    }

    /// `sync`'s entry of `GET /api/syncs` (panics if there is none).
    pub fn sync_state(&self, sync: &str) -> Value {
        let json = self.get_json("/api/syncs");
        json["syncs"]
            .as_array()
            .and_then(|syncs| syncs.iter().find(|s| s["name"] == sync).cloned())
            .unwrap_or_else(|| panic!("no sync {sync:?} in {json:#}\n{}", self.logs()))
    }

    /// Sends `signal` with `kill`.
    pub fn signal(&self, signal: Signal) {
        let status = Command::new("kill")
            .args(["-s", signal.name(), &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -s {} failed", signal.name());
    }

    /// Waits for the process to exit: its exit code, or 128 + the signal that ended it.
    /// Panics, with its output, after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> i32 {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited {
                return exit_code(status);
            }
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.exited = Some(status);
                continue;
            }
            if Instant::now() > deadline {
                panic!(
                    "ferry serve did not exit within {timeout:?}\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().expect("try_wait");
        }
        self.exited.is_none()
    }

    /// SIGKILL, and wait for it to be gone.
    pub fn kill(&mut self) {
        if self.is_running() {
            let _ = self.child.kill();
            self.exited = Some(self.child.wait().expect("wait"));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if self.exited.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn exit_code(status: ExitStatus) -> i32 {
    status
        .code()
        .or_else(|| status.signal().map(|signal| 128 + signal))
        .unwrap_or(-1)
}

/// Where to connect to reach a service listening on `address`.
fn connectable(address: SocketAddr) -> SocketAddr {
    match address.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), address.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), address.port())
        }
        _ => address,
    }
}

/// Status line, headers and body (de-chunked) of a whole HTTP/1.1 response.
fn parse_response(raw: &[u8]) -> Option<Response> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(name, value)| name == "transfer-encoding" && value.contains("chunked"));
    if chunked {
        body = dechunk(&body)?;
    }
    Some(Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

/// A folder with `src/` and `dst/` (local remotes `src` and `dst`), and a `ferry.toml`
/// with `[service]` and one sync, `nightly`, from `src` to `dst`.
pub struct Setup {
    pub dir: TempDir,
}

impl Setup {
    /// `service_keys` (TOML lines) under `[service]`, the destination's `policy`,
    /// `sync_keys` (TOML lines) under `[syncs.nightly]`.
    pub fn new(service_keys: &str, policy: &str, sync_keys: &str) -> Setup {
        let dir = TempDir::new().unwrap();
        for folder in ["src", "dst"] {
            std::fs::create_dir_all(dir.path().join(folder)).unwrap();
        }
        let setup = Setup { dir };
        setup.write_config(&Setup::config(service_keys, policy, sync_keys));
        setup
    }

    /// The config [`Setup::new`] writes.
    pub fn config(service_keys: &str, policy: &str, sync_keys: &str) -> String {
        format!(
            "[service]\n{service_keys}\n\n\
             [remotes.src]\ntype = \"local\"\npath = \"src\"\n\n\
             [remotes.dst]\ntype = \"local\"\npath = \"dst\"\npolicy = \"{policy}\"\n\n\
             [syncs.{SYNC}]\nsource = \"src\"\ndestination = \"dst\"\n{sync_keys}\n"
        )
    }

    /// Replace `ferry.toml`.
    pub fn write_config(&self, text: &str) {
        std::fs::write(self.config_path(), text).unwrap();
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("ferry.toml")
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn src(&self, path: &str) -> PathBuf {
        self.dir.path().join("src").join(path)
    }

    pub fn dst(&self, path: &str) -> PathBuf {
        self.dir.path().join("dst").join(path)
    }

    /// Write a file under `src/`.
    pub fn write(&self, path: &str, content: &[u8]) {
        crate::write_file(&self.src(path), content);
    }

    /// The service, with `FERRY_TOKEN` = [`TOKEN`].
    pub fn start(&self) -> Service {
        Service::start(self.dir.path(), &[("FERRY_TOKEN", TOKEN)])
    }

    /// The service, with `extra_env` only.
    pub fn start_env(&self, extra_env: &[(&str, &str)]) -> Service {
        Service::start(self.dir.path(), extra_env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_are_read_plain_and_chunked() {
        let plain =
            parse_response(b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\nX-A: b\r\n\r\n{}")
                .unwrap();
        assert_eq!(
            (plain.status, plain.header("x-a"), plain.body.as_str()),
            (404, Some("b"), "{}")
        );
        let chunked = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(chunked.body, "abcde");
        assert!(parse_response(b"garbage").is_none());
    }
}
