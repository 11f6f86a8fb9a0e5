//! What every HTTP remote shares, against real servers on 127.0.0.1: a host name that does
//! not resolve, a TLS server signed by a private CA (refused, then trusted through
//! `ca_file`), `bind_address`, and the seed's refusals decided before any byte is sent
//! (Azure's zero-byte rejection when set, a size cap) — counted by a proxy in front of
//! Azurite.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferry_tests::http_fault::HttpFault;
use ferry_tests::http_servers::{Azurite, WebDav};
use ferry_tests::{ferry, run};
use serde_json::Value;
use tempfile::TempDir;

/// A folder with `local/a.txt` and a ferry.toml pushing `local` to `remote_toml`'s
/// `[remotes.far]`.
fn setup(remote_toml: &str) -> TempDir {
    let dir = TempDir::new().unwrap();
    std::fs::create_dir_all(dir.path().join("local")).unwrap();
    std::fs::write(dir.path().join("local/a.txt"), b"a").unwrap();
    let config = format!(
        "[remotes.local]\ntype = \"local\"\npath = \"local\"\n\n{remote_toml}\n\
         [syncs.push]\nsource = \"local\"\ndestination = \"far\"\n"
    );
    std::fs::write(dir.path().join("ferry.toml"), config).unwrap();
    dir
}

fn push(dir: &Path, env: &[(&str, &str)]) -> (i32, Value) {
    let mut command = ferry(dir);
    command
        .args(["run", "push", "--json"])
        .envs(env.iter().copied());
    let (code, stdout, stderr) = run(&mut command);
    let report =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} / {stderr}"));
    (code, report)
}

fn dav_toml(url: &str, extra: &str) -> String {
    format!(
        "[remotes.far]\ntype = \"webdav\"\nurl = \"{url}\"\nuser = \"ferry\"\n\
         password_env = \"DAV_PASSWORD\"\npolicy = \"webdav\"\n{extra}\n"
    )
}

#[test]
fn a_host_name_that_does_not_resolve_is_connectivity_naming_the_name() {
    let dir = setup(&dav_toml("http://ferry-test.invalid/", ""));
    let (code, report) = push(dir.path(), &[("DAV_PASSWORD", "x")]);
    assert_eq!(code, 1, "{report:#}");
    let failure = &report["failures"][0];
    assert_eq!(failure["category"], "connectivity", "{failure:#}");
    let advice = failure["advice"].as_str().unwrap();
    assert!(advice.contains("could not be resolved"), "{advice}");
}

/// `openssl s_server` on 127.0.0.1 with a certificate signed by a private CA.
struct TlsServer {
    port: u16,
    /// The private CA's certificate.
    cert: std::path::PathBuf,
    process: Child,
    _dir: TempDir,
}

impl TlsServer {
    fn start() -> TlsServer {
        let dir = TempDir::new().unwrap();
        let cert = make_certificate(dir.path());
        let key = dir.path().join("server.key");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let process = Command::new("openssl")
            .args(["s_server", "-quiet", "-www", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(dir.path().join("server.pem"))
            .arg("-key")
            .arg(&key)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "openssl s_server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        TlsServer {
            port,
            cert,
            process,
            _dir: dir,
        }
    }
}

/// A private CA (`ca.pem`) and a server certificate for 127.0.0.1 signed by it
/// (`server.pem`, key `server.key`) in `dir`; the CA's file.
fn make_certificate(dir: &Path) -> std::path::PathBuf {
    let openssl = |args: &[&str]| {
        let made = Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(made.success(), "openssl {args:?}");
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=ferry test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "server.ext",
        "-out",
        "server.pem",
    ]);
    dir.join("ca.pem")
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

#[test]
fn a_private_ca_is_refused_until_ca_file_names_it() {
    let server = TlsServer::start();
    let url = format!("https://127.0.0.1:{}/", server.port);
    let dir = setup(&dav_toml(&url, ""));
    let (code, report) = push(dir.path(), &[("DAV_PASSWORD", "x")]);
    assert_eq!(code, 1, "{report:#}");
    let failure = &report["failures"][0];
    assert_eq!(failure["category"], "auth", "{failure:#}");
    assert!(
        failure["message"].as_str().unwrap().contains("certificate"),
        "{failure:#}"
    );
    assert!(
        failure["advice"].as_str().unwrap().contains("ca_file"),
        "{failure:#}"
    );

    // s_server answers GET only: a PROPFIND waits until the idle timeout.
    let ca_file = format!(
        "ca_file = \"{}\"\nidle_timeout = \"2s\"",
        server.cert.display()
    );
    let dir = setup(&dav_toml(&url, &ca_file));
    let (_, report) = push(dir.path(), &[("DAV_PASSWORD", "x")]);
    // The TLS handshake now succeeds: what fails is that s_server is no WebDAV server.
    let message = report["failures"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(!message.contains("certificate"), "{report:#}");
}

#[test]
fn bind_address_is_where_http_connections_leave_from() {
    let dav = WebDav::start();
    let here = dav_toml(&dav.url, "bind_address = \"127.0.0.1\"");
    let dir = setup(&here);
    let (code, report) = push(dir.path(), &[("DAV_PASSWORD", &dav.password)]);
    assert_eq!(
        (code, &report["status"]),
        (0, &Value::from("success")),
        "{report:#}"
    );

    // TEST-NET-1 is on no interface here: connecting from it cannot work.
    let elsewhere = dav_toml(&dav.url, "bind_address = \"192.0.2.1\"");
    let dir = setup(&elsewhere);
    let (code, report) = push(dir.path(), &[("DAV_PASSWORD", &dav.password)]);
    assert_eq!(code, 1, "{report:#}");
    let failure = &report["failures"][0];
    assert!(
        failure["advice"].as_str().unwrap().contains("bind_address"),
        "{failure:#}"
    );
}

#[test]
fn azure_set_to_reject_zero_byte_files_and_a_size_cap_refuse_before_any_byte() {
    let azurite = Azurite::start();
    azurite.create_container("inbound");
    let proxy = HttpFault::counting(azurite.port);
    let remote = format!(
        "[remotes.far]\ntype = \"azure-blob\"\naccount = \"{}\"\ncontainer = \"inbound\"\n\
         endpoint = \"{}/{}\"\nkey_env = \"AZURE_KEY\"\npolicy = \"azure-blob\"\n\
         [remotes.far.policy_settings]\nzero_byte = \"reject\"\nmax_size = \"1KB\"\n",
        azurite.account, proxy.endpoint, azurite.account
    );
    let dir = setup(&remote);
    std::fs::write(dir.path().join("local/empty.txt"), b"").unwrap();
    std::fs::write(dir.path().join("local/big.bin"), vec![7u8; 4096]).unwrap();
    let (code, report) = push(dir.path(), &[("AZURE_KEY", &azurite.key)]);
    assert_eq!(code, 3, "{report:#}");
    let mut refused: Vec<(String, String)> = report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().into(),
                f["category"].as_str().unwrap().into(),
            )
        })
        .collect();
    refused.sort();
    assert_eq!(
        refused,
        [
            ("big.bin".to_string(), "invalid-size".to_string()),
            ("empty.txt".to_string(), "invalid-size".to_string())
        ],
        "{report:#}"
    );
    let puts: Vec<usize> = proxy
        .seen()
        .iter()
        .filter(|seen| seen.method == "PUT")
        .map(|seen| seen.body)
        .collect();
    assert_eq!(puts, [1], "only a.txt's one byte was sent");
    assert_eq!(azurite.blob_names("inbound"), ["a.txt"]);
}

#[test]
fn timeouts_apply_to_http_remotes() {
    // A listener that accepts and never answers: the idle timeout ends the wait.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let remote = format!(
        "[remotes.far]\ntype = \"s3\"\nendpoint = \"http://127.0.0.1:{port}\"\nbucket = \"b\"\n\
         access_key_id_env = \"K\"\nsecret_access_key_env = \"K\"\npolicy = \"s3\"\n\
         idle_timeout = \"1s\"\n"
    );
    let dir = setup(&remote);
    let started = Instant::now();
    let (code, report) = push(dir.path(), &[("K", "x")]);
    let took = started.elapsed();
    assert_eq!(code, 1, "{report:#}");
    assert!(took < Duration::from_secs(20), "took {took:?}");
    let failure = &report["failures"][0];
    assert_eq!(failure["category"], "timeout", "{failure:#}");
    drop(silent);
}
