//! Faults during `ferry run` against a real OpenSSH sshd on 127.0.0.1: kill -9 in the
//! middle of a push, a connection cut, reset or stalled by a proxy, a reset before the
//! server's greeting, a refused port. Every ferry run has a wall-clock limit, so that a
//! hang fails its test instead of blocking the suite.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::{self, JoinHandle, sleep};
use std::time::{Duration, Instant};

use ferry_tests::fault_proxy::{Fault, FaultProxy, Scope};
use ferry_tests::sshd::Sshd;
use ferry_tests::{ferry, files_under, tree};
use serde_json::Value;
use tempfile::TempDir;

/// The generic policy's temporary suffix.
const TEMP_SUFFIX: &str = ".partial";
const MIB: usize = 1 << 20;

/// Files by relative path, with their bytes.
type Files = BTreeMap<String, Vec<u8>>;

/// A local folder `local/`, pushed by the sync `push` to the sshd's root through a
/// [`FaultProxy`].
struct Setup {
    dir: TempDir,
    sshd: Sshd,
    proxy: FaultProxy,
}

impl Setup {
    /// `remote_keys` and `sync_keys` are extra TOML lines for the remote and the sync.
    fn new(fault: Fault, scope: Scope, remote_keys: &str, sync_keys: &str) -> Setup {
        let sshd = Sshd::start();
        let upstream = SocketAddr::from((Ipv4Addr::LOCALHOST, sshd.port));
        let proxy = FaultProxy::start_scoped(upstream, fault, scope);
        let setup = Setup {
            dir: TempDir::new().unwrap(),
            sshd,
            proxy,
        };
        setup.configure(setup.proxy.port(), remote_keys, sync_keys);
        setup
    }

    /// ferry.toml for a server at `port` on 127.0.0.1, with a known_hosts file that names
    /// the sshd's host key for that port (the proxy's port is not the sshd's).
    fn configure(&self, port: u16, remote_keys: &str, sync_keys: &str) {
        let known_hosts = self.dir.path().join("known_hosts");
        let line = std::fs::read_to_string(&self.sshd.known_hosts)
            .unwrap()
            .replace(
                &format!("[127.0.0.1]:{}", self.sshd.port),
                &format!("[127.0.0.1]:{port}"),
            );
        std::fs::write(&known_hosts, line).unwrap();
        let partner = self
            .sshd
            .remote_toml("partner", port, &self.sshd.key_file, &known_hosts);
        let config = format!(
            "[remotes.local]\ntype = \"local\"\npath = \"local\"\n\n\
             {partner}{remote_keys}\n\n\
             [syncs.push]\nsource = \"local\"\ndestination = \"partner\"\n{sync_keys}\n"
        );
        std::fs::write(self.dir.path().join("ferry.toml"), config).unwrap();
    }

    fn write_all(&self, files: &Files) {
        for (path, content) in files {
            let file = self.dir.path().join("local").join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, content).unwrap();
        }
    }

    fn push_command(&self, extra: &[&str]) -> Command {
        let mut command = ferry(self.dir.path());
        command.args(["run", "push", "--json"]).args(extra);
        command
    }

    /// Run the push to its end, within `limit`: (exit code, JSON report).
    fn push(&self, extra: &[&str], limit: Duration) -> (i32, Value) {
        let (code, stdout, stderr) = run_guarded(&mut self.push_command(extra), limit);
        let report =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} / {stderr}"));
        (code, report)
    }

    fn remote(&self, path: &str) -> PathBuf {
        self.sshd.root.join(path)
    }
}

/// Run `command`, killing it and failing the test if it is still running after `limit`:
/// (exit code, stdout, stderr).
fn run_guarded(command: &mut Command, limit: Duration) -> (i32, String, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ferry starts");
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!(
                "ferry still ran after {limit:?} and was killed; its stderr:\n{}",
                stderr.join().unwrap()
            );
        }
        sleep(Duration::from_millis(20));
    };
    let code = status.code().expect("ferry exited, not killed by a signal");
    (code, stdout.join().unwrap(), stderr.join().unwrap())
}

/// Read a pipe to its end on a thread of its own, so that a full pipe never blocks ferry.
fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        pipe.read_to_string(&mut text).unwrap();
        text
    })
}

/// xorshift64: deterministic pseudo-random numbers from a seed the test prints.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `range`.
    fn within(&mut self, range: std::ops::RangeInclusive<u64>) -> u64 {
        range.start() + self.next() % (range.end() - range.start() + 1)
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut bytes = vec![0u8; len];
        for chunk in bytes.chunks_mut(8) {
            chunk.copy_from_slice(&self.next().to_le_bytes()[..chunk.len()]);
        }
        bytes
    }
}

/// `count` files of 1-16 KiB in nested folders, and `big.bin` of `big_size` bytes.
fn small_files_and_a_big_one(random: &mut Xorshift, count: usize, big_size: usize) -> Files {
    let mut files: Files = (0..count)
        .map(|i| {
            let path = format!("tree/{}/{}/file-{i:03}.dat", i % 7, i % 3);
            let size = random.within(1024..=16 * 1024) as usize;
            (path, random.bytes(size))
        })
        .collect();
    files.insert("big.bin".into(), random.bytes(big_size));
    files
}

fn total_size(files: &Files) -> u64 {
    files.values().map(|content| content.len() as u64).sum()
}

/// Every file at the remote is either a source file under its final name, byte-identical,
/// or the temporary file of one: never a partial file under a final name.
fn assert_no_partial_file_under_a_final_name(remote: &Path, source: &Files) {
    for (path, found) in tree(remote) {
        if let Some(original) = path.strip_suffix(TEMP_SUFFIX) {
            assert!(source.contains_key(original), "unexpected temp file {path}");
            continue;
        }
        let expected = source
            .get(&path)
            .unwrap_or_else(|| panic!("unexpected file {path}"));
        assert!(
            found == *expected,
            "{path} holds {} bytes that differ from the source's {}",
            found.len(),
            expected.len()
        );
    }
}

/// The remote holds exactly the source: every file byte-identical, nothing else.
fn assert_remote_matches(remote: &Path, source: &Files) {
    assert_eq!(
        files_under(remote),
        source.keys().cloned().collect::<Vec<_>>(),
        "the remote holds exactly the source's files, no temporary file"
    );
    assert_no_partial_file_under_a_final_name(remote, source);
}

fn assert_status(code: i32, report: &Value, expected: (i32, &str)) {
    assert_eq!(
        (code, report["status"].as_str().unwrap()),
        expected,
        "{report:#}"
    );
}

/// A run that did not deliver every file: each file is either transferred or failed, and
/// the run is a partial failure (exit 3) if it delivered some, a failure (exit 1) if none.
fn assert_incomplete(code: i32, report: &Value, files: &Files) {
    let transferred = report["transferred"].as_u64().unwrap();
    let failed = report["failed"].as_u64().unwrap();
    assert_eq!(transferred + failed, files.len() as u64, "{report:#}");
    assert!(failed > 0, "{report:#}");
    let expected = match transferred {
        0 => (1, "failure"),
        _ => (3, "partial_failure"),
    };
    assert_status(code, report, expected);
}

fn failures(report: &Value) -> &Vec<Value> {
    report["failures"].as_array().unwrap()
}

fn failed(report: &Value, path: &str) -> bool {
    failures(report)
        .iter()
        .any(|failure| failure["path"] == path)
}

/// The one failure of a run that could not connect.
fn connection_failure(report: &Value) -> &Value {
    let failures = failures(report);
    assert_eq!(failures.len(), 1, "{report:#}");
    let failure = &failures[0];
    assert_eq!(
        (failure["path"].as_str(), failure["operation"].as_str()),
        (Some(""), Some("connect")),
        "{failure:#}"
    );
    failure
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// The size of `path` once it has stopped growing: after a cut, the sshd may still be
/// writing what reached it before.
fn settled_size(path: &Path) -> u64 {
    let mut size = file_size(path);
    for _ in 0..50 {
        sleep(Duration::from_millis(100));
        let now = file_size(path);
        if now == size {
            return size;
        }
        size = now;
    }
    panic!("{} kept growing", path.display());
}

#[test]
fn kill_9_at_twenty_random_points_never_leaves_a_partial_file_and_resumes_the_big_one() {
    const SEED: u64 = 0x9e37_79b9_7f4a_7c15;
    println!("seed {SEED:#x}");
    let mut random = Xorshift(SEED);
    let setup = Setup::new(Fault::None, Scope::EveryConnection, "", "");
    let files = small_files_and_a_big_one(&mut random, 300, 200 * MIB);
    setup.write_all(&files);

    // Each attempt transfers for about a second and a half: at 5 MiB/s twenty of them
    // cannot finish the 200 MiB file, so every kill lands inside the push.
    for attempt in 1..=20 {
        let kill_after = Duration::from_millis(random.within(200..=3000));
        let mut child = setup
            .push_command(&["--bwlimit", "5M"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        sleep(kill_after);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        println!(
            "kill {attempt} after {kill_after:?}: big.bin.partial holds {} bytes",
            file_size(&setup.remote("big.bin.partial"))
        );
        assert_no_partial_file_under_a_final_name(&setup.sshd.root, &files);
    }

    let (code, report) = setup.push(&[], Duration::from_secs(120));
    assert_status(code, &report, (0, "success"));
    assert!(
        report["transferred"].as_u64() >= Some(1),
        "the kills left work to do: {report:#}"
    );
    assert_remote_matches(&setup.sshd.root, &files);
    let (sent, size) = (setup.proxy.upstream_bytes(), total_size(&files));
    let ratio = sent as f64 / size as f64;
    println!("{sent} bytes went upstream over 21 runs for {size} bytes of files: {ratio:.3}");
    assert!(ratio < 1.5, "the big file is resumed, not restarted");
}

/// Where the first connection breaks: inside big.bin, with several files still queued.
const BREAK_AT: u64 = 8 << 20;

/// A push of ten small files and a 24 MiB one through a proxy that breaks the first
/// connection with `fault`: the setup, its files, and the run's exit code and report.
fn push_broken_mid_transfer(fault: Fault) -> (Setup, Files, i32, Value) {
    // A short retry_delay keeps in-run retries short. After a reset, an SFTP request can
    // wait for its answer until idle_timeout (the transport's per-request timeout) before
    // it fails: a short one bounds the run.
    let setup = Setup::new(
        fault,
        Scope::FirstConnection,
        "idle_timeout = \"5s\"",
        "retry_delay = \"100ms\"",
    );
    let files = small_files_and_a_big_one(&mut Xorshift(7), 10, 24 * MIB);
    setup.write_all(&files);
    let (code, report) = setup.push(&[], Duration::from_secs(60));
    (setup, files, code, report)
}

/// ferry holds one SSH connection per run and never reconnects within it, and it
/// classifies the errors of a lost connection (russh's "session closed", "sender dropped",
/// "early eof") as retry = next-run: so no in-run retry happens. The run ends, every file
/// in flight or still queued failed; the next run, on a new connection, sends the rest and
/// resumes the big file from the verified prefix the cut left at the remote.
#[test]
fn a_connection_cut_mid_transfer_fails_the_rest_for_the_next_run_which_resumes() {
    assert_left_for_the_next_run_which_resumes(Fault::CutAfter {
        client_to_server_bytes: BREAK_AT,
    });
}

fn assert_left_for_the_next_run_which_resumes(fault: Fault) {
    let (setup, files, code, report) = push_broken_mid_transfer(fault);
    assert_incomplete(code, &report, &files);
    assert_eq!(setup.proxy.connections(), 1, "no reconnection within a run");
    assert!(
        failures(&report)
            .iter()
            .all(|failure| failure["retry"] == "next-run"),
        "{report:#}"
    );
    assert!(failed(&report, "big.bin"), "{report:#}");
    assert_no_partial_file_under_a_final_name(&setup.sshd.root, &files);
    let kept = settled_size(&setup.remote("big.bin.partial"));
    assert!(kept > 0, "the cut left part of big.bin at the remote");
    let missing: u64 = files
        .iter()
        .filter(|(path, _)| !setup.remote(path).exists())
        .map(|(_, content)| content.len() as u64)
        .sum();

    let (code, report) = setup.push(&[], Duration::from_secs(60));
    assert_status(code, &report, (0, "success"));
    assert_remote_matches(&setup.sshd.root, &files);
    assert_eq!(
        report["bytes"].as_u64(),
        Some(missing - kept),
        "small files are sent whole, big.bin only from byte {kept}"
    );
}

#[test]
fn a_connection_cut_mid_transfer_is_a_connectivity_failure() {
    let (_setup, _files, _code, report) = push_broken_mid_transfer(Fault::CutAfter {
        client_to_server_bytes: BREAK_AT,
    });
    for failure in failures(&report) {
        assert_eq!(failure["category"], "connectivity", "{failure:#}");
    }
}

/// A reset (a broken pipe to ferry) is handled like a cut: without a new connection
/// within the run, retrying now could not succeed, so it is left for the next run.
#[test]
fn a_connection_reset_mid_transfer_is_left_for_the_next_run_which_resumes() {
    assert_left_for_the_next_run_which_resumes(Fault::ResetAfter {
        client_to_server_bytes: BREAK_AT,
    });
}

#[test]
fn a_stalled_connection_fails_with_timeout_soon_after_the_idle_timeout() {
    let stall = Fault::StallAfter {
        client_to_server_bytes: 4 * MIB as u64,
    };
    let setup = Setup::new(stall, Scope::EveryConnection, "idle_timeout = \"2s\"", "");
    let files = small_files_and_a_big_one(&mut Xorshift(11), 10, 16 * MIB);
    setup.write_all(&files);
    let started = Instant::now();
    let (code, report) = setup.push(&[], Duration::from_secs(30));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(2),
        "waited for idle_timeout: {took:?}"
    );
    assert_incomplete(code, &report, &files);
    for failure in failures(&report) {
        assert_eq!(
            (failure["category"].as_str(), failure["retry"].as_str()),
            (Some("timeout"), Some("next-run")),
            "{failure:#}"
        );
    }
    assert!(failed(&report, "big.bin"), "{report:#}");
    assert_no_partial_file_under_a_final_name(&setup.sshd.root, &files);
}

fn one_small_file() -> Files {
    Files::from([("a.txt".to_string(), b"a".to_vec())])
}

#[test]
fn a_reset_before_the_greeting_points_at_the_allow_list_and_the_local_address() {
    let setup = Setup::new(Fault::ResetBeforeGreeting, Scope::EveryConnection, "", "");
    setup.write_all(&one_small_file());
    let (code, report) = setup.push(&[], Duration::from_secs(30));
    assert_status(code, &report, (1, "failure"));
    let failure = connection_failure(&report);
    assert_eq!(
        (failure["category"].as_str(), failure["retry"].as_str()),
        (Some("ip-allowlist"), Some("next-run")),
        "{failure:#}"
    );
    let advice = failure["advice"].as_str().unwrap();
    assert!(
        advice.contains("allow-list") && advice.contains("127.0.0.1"),
        "the advice names the address to give the partner: {advice}"
    );
    assert_eq!(
        setup.proxy.upstream_bytes(),
        0,
        "the server was never reached"
    );
    assert!(!setup.remote("a.txt").exists());
}

/// A push to a port nothing listens on: (exit code, report).
fn push_to_a_closed_port() -> (i32, Value) {
    let setup = Setup::new(Fault::None, Scope::EveryConnection, "", "");
    let closed_port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    setup.configure(closed_port, "", "");
    setup.write_all(&one_small_file());
    setup.push(&[], Duration::from_secs(30))
}

#[test]
fn a_refused_connection_is_a_connectivity_failure_that_points_at_firewalls() {
    let (code, report) = push_to_a_closed_port();
    assert_status(code, &report, (1, "failure"));
    let failure = connection_failure(&report);
    assert_eq!(
        (failure["category"].as_str(), failure["retry"].as_str()),
        (Some("connectivity"), Some("next-run")),
        "{failure:#}"
    );
    assert!(
        failure["advice"].as_str().unwrap().contains("firewall"),
        "{failure:#}"
    );
}

#[test]
fn a_refused_connection_advice_mentions_the_allow_list() {
    let (_, report) = push_to_a_closed_port();
    let advice = connection_failure(&report)["advice"].as_str().unwrap();
    assert!(advice.contains("allow-list"), "{advice}");
}
