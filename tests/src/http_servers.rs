//! Real HTTP storage servers on loopback for one test each: Azurite (Azure Blob), moto (S3)
//! and wsgidav (WebDAV). Each has its own port, temp dir and log file (`server.log` in that
//! dir), is ready when `start` returns, and is killed with its process group on drop.
//! Several may run at once.
//!
//! They are installed by `tests/servers/ensure-http-servers.sh` into
//! `${FERRY_TEST_SERVERS:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry-test-servers}`. Setup and
//! inspection (buckets, containers, SAS tokens, IAM users, reading back what ferry wrote)
//! go through small Python scripts run with that venv's python (boto3, azure-storage-blob).

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

const START_ATTEMPTS: usize = 5;
const START_TIMEOUT: Duration = Duration::from_secs(20);
const LOG: &str = "server.log";

/// The folder `ensure-http-servers.sh` installs into (whether or not it exists).
pub fn servers_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FERRY_TEST_SERVERS").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache")
        });
    cache.join("ferry-test-servers")
}

/// `relative` under the installed servers' folder; panics with how to install when missing.
fn installed(relative: &str) -> PathBuf {
    let dir = servers_dir();
    let path = dir.join(relative);
    assert!(
        dir.join("installed").exists() && path.exists(),
        "{} is missing: run `bash tests/servers/ensure-http-servers.sh` (or tests/run)",
        path.display()
    );
    path
}

fn python() -> PathBuf {
    installed("venv/bin/python")
}

/// A command with no AWS_* variables: the environment sets AWS_CA_BUNDLE, and any AWS
/// settings or credentials there would leak into the servers and override the tests' own.
fn clean_command(program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(program);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AWS_") {
            command.env_remove(name);
        }
    }
    command
}

/// Run `script` with the venv's python and `args`, feeding `stdin`; its stdout.
fn run_python(script: &str, args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let mut child = clean_command(python())
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the venv's python runs");
    let mut input = child.stdin.take().expect("stdin");
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let out = child.wait_with_output().expect("python finishes");
    let _ = writer.join();
    assert!(
        out.status.success(),
        "python helper {:?} failed: {}",
        args.get(3..).unwrap_or(args),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn strings(value: Value) -> Vec<String> {
    serde_json::from_value(value).expect("a list of strings")
}

/// `{"status": 403, "code": "AccessDenied"}` from a `try_*` helper.
fn refusal(value: Value) -> (u16, String) {
    (
        value["status"].as_u64().expect("status") as u16,
        value["code"].as_str().unwrap_or_default().to_string(),
    )
}

/// One server process: its temp dir (with `server.log`), port and process group.
struct Server {
    dir: TempDir,
    port: u16,
    process: Child,
}

impl Server {
    /// Start `command(port, dir)` on a free port and wait until `GET probe` gets any HTTP
    /// answer. A port taken between picking and binding means another try.
    fn start(
        name: &'static str,
        probe: &str,
        mut command: impl FnMut(u16, &Path) -> Command,
    ) -> Server {
        let dir = tempfile::Builder::new()
            .prefix(&format!("ferry-{name}-"))
            .tempdir()
            .expect("temp dir");
        let log = dir.path().join(LOG);
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let log_file = File::create(&log).expect("log file");
            let mut process = command(port, dir.path())
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(log_file.try_clone().expect("log file"))
                .stderr(log_file)
                // Its own process group: drop kills whatever it spawned too.
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("{name} starts: {e}"));
            let deadline = Instant::now() + START_TIMEOUT;
            loop {
                if process.try_wait().expect("server status").is_some() {
                    let text = fs::read_to_string(&log).unwrap_or_default();
                    assert!(
                        text.contains("Address already in use") || text.contains("EADDRINUSE"),
                        "{name} exited while starting:\n{}",
                        tail(&text)
                    );
                    break;
                }
                // The answer must come from this server: another one may have taken the
                // port between picking and binding.
                if http_request(port, "GET", probe, &[], &[]).is_some()
                    && group_listens(process.id(), port)
                {
                    return Server { dir, port, process };
                }
                if Instant::now() > deadline {
                    kill_group(&mut process);
                    panic!(
                        "{name} did not answer on port {port} within {START_TIMEOUT:?}:\n{}",
                        tail(&fs::read_to_string(&log).unwrap_or_default())
                    );
                }
                sleep(Duration::from_millis(50));
            }
        }
        panic!("{name} found no free port in {START_ATTEMPTS} attempts");
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join(LOG)).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        kill_group(&mut self.process);
    }
}

fn kill_group(process: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", process.id())])
        .stderr(Stdio::null())
        .status();
    let _ = process.kill();
    let _ = process.wait();
}

/// Whether a process of the process group `pgid` listens on 127.0.0.1:`port`, from
/// /proc (true when /proc/net/tcp cannot be read: then the answer has to do).
fn group_listens(pgid: u32, port: u16) -> bool {
    let Ok(table) = fs::read_to_string("/proc/net/tcp") else {
        return true;
    };
    let local = format!("0100007F:{port:04X}");
    // Fields: sl, local address, remote address, state (0A: listening), …, inode (10th).
    let sockets: Vec<String> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.get(1) == Some(&local.as_str()) && fields.get(3) == Some(&"0A"))
                .then(|| format!("socket:[{}]", fields.get(9).unwrap_or(&"")))
        })
        .collect();
    !sockets.is_empty()
        && group_members(pgid).into_iter().any(|pid| {
            fs::read_dir(format!("/proc/{pid}/fd"))
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|fd| fs::read_link(fd.path()).ok())
                .any(|target| sockets.iter().any(|s| target.as_os_str() == s.as_str()))
        })
}

/// The processes of process group `pgid`, from /proc.
fn group_members(pgid: u32) -> Vec<u32> {
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(entry.path().join("stat")).ok()?;
            // After the command name (which may hold spaces): state, ppid, pgrp.
            let group: u32 = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(2)?
                .parse()
                .ok()?;
            (group == pgid).then_some(pid)
        })
        .collect()
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// The last 40 lines of a log.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// A plain HTTP/1.0 request to 127.0.0.1:`port`: the status and body, or None when nothing
/// answers (yet).
fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut request = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    stream.write_all(body).ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    let text = String::from_utf8_lossy(&answer);
    let status = text.strip_prefix("HTTP/1.")?.get(2..5)?.parse().ok()?;
    let body_start = answer.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    Some((status, answer[body_start..].to_vec()))
}

// ---------------------------------------------------------------------------------------
// Azurite

/// Azurite's well-known development account (the same in every Azurite).
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

const AZURE_SCRIPT: &str = r#"
import datetime, json, sys
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobClient, BlobServiceClient, ContainerSasPermissions, generate_container_sas

endpoint, account, key, command, *args = sys.argv[1:]

def out(value):
    json.dump(value, sys.stdout)

def service():
    return BlobServiceClient(account_url=endpoint, credential={"account_name": account, "account_key": key})

try:
    if command == "create_container":
        service().create_container(args[0]); out(None)
    elif command == "sas":
        now = datetime.datetime.now(datetime.timezone.utc)
        out(generate_container_sas(account, args[0], account_key=key,
                                   permission=ContainerSasPermissions.from_string(args[1]),
                                   start=now - datetime.timedelta(minutes=5),
                                   expiry=now + datetime.timedelta(days=1)))
    elif command == "names":
        out([b.name for b in service().get_container_client(args[0]).list_blobs()])
    elif command == "get":
        sys.stdout.buffer.write(service().get_blob_client(args[0], args[1]).download_blob().readall())
    elif command == "put":
        service().get_blob_client(args[0], args[1]).upload_blob(sys.stdin.buffer.read(), overwrite=True); out(None)
    elif command == "uncommitted":
        try:
            _, blocks = service().get_blob_client(args[0], args[1]).get_block_list("uncommitted")
        except HttpResponseError as e:
            if e.status_code != 404:
                raise
            blocks = []
        out([[b.id, b.size] for b in blocks])
    elif command == "try_put_sas":
        client = BlobClient(account_url=endpoint, container_name=args[0], blob_name=args[1], credential=args[2])
        try:
            client.upload_blob(sys.stdin.buffer.read(), overwrite=True); out({"status": 201, "code": None})
        except HttpResponseError as e:
            out({"status": e.status_code, "code": e.error_code})
    else:
        sys.exit(f"unknown command {command}")
except HttpResponseError as e:
    sys.exit(f"{command} {args}: {e}")
"#;

pub struct Azurite {
    /// `http://127.0.0.1:PORT/devstoreaccount1`
    pub endpoint: String,
    pub account: String,
    /// The account's shared key (base64).
    pub key: String,
    pub port: u16,
    server: Server,
}

impl Azurite {
    /// Start Azurite's blob service, in memory of its own temp dir, and wait until it answers.
    pub fn start() -> Azurite {
        let main = installed("azurite/node_modules/azurite/dist/src/blob/main.js");
        // Run main.js with node directly: `npx azurite` leaves three processes.
        let server = Server::start("azurite", "/devstoreaccount1?comp=list", |port, dir| {
            let data = dir.join("data");
            let _ = fs::create_dir_all(&data);
            let mut command = clean_command("node");
            command
                .arg(&main)
                .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
                .arg("--location")
                .arg(&data)
                .args(["--disableTelemetry", "--skipApiVersionCheck", "--loose"]);
            command
        });
        Azurite {
            endpoint: format!("http://127.0.0.1:{}/{AZURITE_ACCOUNT}", server.port),
            account: AZURITE_ACCOUNT.to_string(),
            key: AZURITE_KEY.to_string(),
            port: server.port,
            server,
        }
    }

    fn helper(&self, command: &str, args: &[&str], stdin: &[u8]) -> Vec<u8> {
        let mut all = vec![self.endpoint.as_str(), &self.account, &self.key, command];
        all.extend(args);
        run_python(AZURE_SCRIPT, &all, stdin)
    }

    fn helper_json(&self, command: &str, args: &[&str], stdin: &[u8]) -> Value {
        let out = self.helper(command, args, stdin);
        serde_json::from_slice(&out)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out)))
    }

    pub fn create_container(&self, name: &str) {
        self.helper_json("create_container", &[name], &[]);
    }

    /// A container SAS (query string, no leading `?`) valid for a day (from 5 minutes
    /// ago), with `permissions` in Azure's letters: "rl" reads and lists, "racwdl" all.
    pub fn sas_token(&self, container: &str, permissions: &str) -> String {
        self.helper_json("sas", &[container, permissions], &[])
            .as_str()
            .expect("a SAS string")
            .to_string()
    }

    /// The names of the container's committed blobs, sorted.
    pub fn blob_names(&self, container: &str) -> Vec<String> {
        strings(self.helper_json("names", &[container], &[]))
    }

    pub fn blob_bytes(&self, container: &str, name: &str) -> Vec<u8> {
        self.helper("get", &[container, name], &[])
    }

    pub fn put_blob(&self, container: &str, name: &str, bytes: &[u8]) {
        self.helper_json("put", &[container, name], bytes);
    }

    /// The uncommitted blocks of blob `name` as (block id decoded from base64, size);
    /// empty when the blob has none or does not exist.
    pub fn uncommitted_blocks(&self, container: &str, name: &str) -> Vec<(String, u64)> {
        serde_json::from_value(self.helper_json("uncommitted", &[container, name], &[]))
            .expect("a list of [id, size]")
    }

    /// Put `bytes` as blob `name` with only `sas` for credentials: `(201, "")` when taken,
    /// else the HTTP status and `x-ms-error-code`.
    pub fn try_put_blob_with_sas(
        &self,
        container: &str,
        name: &str,
        sas: &str,
        bytes: &[u8],
    ) -> (u16, String) {
        refusal(self.helper_json("try_put_sas", &[container, name, sas], bytes))
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        self.server.log()
    }
}

// ---------------------------------------------------------------------------------------
// moto

const MOTO_SCRIPT: &str = r#"
import json, sys
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, key_id, secret, command, *args = sys.argv[1:]
session = boto3.session.Session(aws_access_key_id=key_id, aws_secret_access_key=secret, region_name="us-east-1")
config = Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"})

def client(service):
    return session.client(service, endpoint_url=endpoint, config=config)

def out(value):
    json.dump(value, sys.stdout)

# moto checks a policy against the API operation's name ("s3:ListObjectsV2",
# "s3:HeadObject"), not only IAM's action names ("s3:ListBucket"): allow both.
READ_ONLY = ["s3:GetObject", "s3:HeadObject", "s3:ListBucket", "s3:ListObjects", "s3:ListObjectsV2",
             "s3:HeadBucket", "s3:GetBucketLocation", "s3:ListAllMyBuckets", "s3:ListBuckets",
             "s3:GetObjectAttributes"]

# A drop box: objects may be put (whole or in parts), nothing listed or read.
WRITE_ONLY = ["s3:PutObject", "s3:CreateMultipartUpload", "s3:UploadPart",
              "s3:CompleteMultipartUpload", "s3:AbortMultipartUpload"]

try:
    if command == "create_bucket":
        client("s3").create_bucket(Bucket=args[0]); out(None)
    elif command == "keys":
        keys = []
        for page in client("s3").get_paginator("list_objects_v2").paginate(Bucket=args[0]):
            keys += [o["Key"] for o in page.get("Contents", [])]
        out(keys)
    elif command == "get":
        sys.stdout.buffer.write(client("s3").get_object(Bucket=args[0], Key=args[1])["Body"].read())
    elif command == "put":
        client("s3").put_object(Bucket=args[0], Key=args[1], Body=sys.stdin.buffer.read()); out(None)
    elif command == "uploads":
        uploads = []
        for page in client("s3").get_paginator("list_multipart_uploads").paginate(Bucket=args[0]):
            uploads += [[u["Key"], u["UploadId"]] for u in page.get("Uploads", [])]
        out(uploads)
    elif command == "users":
        iam = client("iam")
        result = {}
        for name, actions in [("ferry-admin", ["*"]), ("ferry-read-only", READ_ONLY),
                              ("ferry-write-only", WRITE_ONLY)]:
            iam.create_user(UserName=name)
            policy = {"Version": "2012-10-17",
                      "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
            iam.put_user_policy(UserName=name, PolicyName="ferry-test", PolicyDocument=json.dumps(policy))
            key = iam.create_access_key(UserName=name)["AccessKey"]
            result[name] = [key["AccessKeyId"], key["SecretAccessKey"]]
        out(result)
    elif command == "try_put":
        try:
            client("s3").put_object(Bucket=args[0], Key=args[1], Body=sys.stdin.buffer.read())
            out({"status": 200, "code": None})
        except ClientError as e:
            out({"status": e.response["ResponseMetadata"]["HTTPStatusCode"], "code": e.response["Error"]["Code"]})
    else:
        sys.exit(f"unknown command {command}")
except ClientError as e:
    sys.exit(f"{command} {args}: {e}")
"#;

pub struct Moto {
    /// `http://127.0.0.1:PORT` (path-style addressing: `/bucket/key`).
    pub endpoint: String,
    pub region: String,
    /// Full access.
    pub access_key_id: String,
    pub secret_access_key: String,
    /// With `start_with_auth`: an IAM user that may only read and list.
    pub read_only: Option<(String, String)>,
    /// With `start_with_auth`: an IAM user that may only put objects (a drop box).
    pub write_only: Option<(String, String)>,
    pub port: u16,
    server: Server,
}

impl Moto {
    /// Start moto's S3 with no authentication: any access key and secret work.
    pub fn start() -> Moto {
        let server = Self::spawn();
        Moto {
            endpoint: format!("http://127.0.0.1:{}", server.port),
            region: "us-east-1".into(),
            access_key_id: "ferry-access-key".into(),
            secret_access_key: "ferry-secret-key".into(),
            read_only: None,
            write_only: None,
            port: server.port,
            server,
        }
    }

    /// Start moto with IAM enforced: only the keys of three IAM users are accepted, one
    /// with full access (`access_key_id`), one read-only (`read_only`), one that may only
    /// put objects (`write_only`). Other keys get 403
    /// `InvalidAccessKeyId`, a wrong secret 403 `SignatureDoesNotMatch`.
    pub fn start_with_auth() -> Moto {
        let server = Self::spawn();
        let mut moto = Moto {
            endpoint: format!("http://127.0.0.1:{}", server.port),
            region: "us-east-1".into(),
            access_key_id: "setup".into(),
            secret_access_key: "setup".into(),
            read_only: None,
            write_only: None,
            port: server.port,
            server,
        };
        // Users are made while moto still lets everyone in; then auth is switched on
        // (`INITIAL_NO_AUTH_ACTION_COUNT` = 0, through moto's own reset-auth endpoint).
        let users = moto.helper_json("users", &[], &[]);
        let pair = |name: &str| -> (String, String) {
            serde_json::from_value(users[name].clone()).expect("[key id, secret]")
        };
        (moto.access_key_id, moto.secret_access_key) = pair("ferry-admin");
        moto.read_only = Some(pair("ferry-read-only"));
        moto.write_only = Some(pair("ferry-write-only"));
        let answer = http_request(
            moto.port,
            "POST",
            "/moto-api/reset-auth",
            &[("Content-Type", "text/plain")],
            b"0",
        );
        assert!(
            matches!(answer, Some((200, _))),
            "moto refused to enforce auth: {answer:?}\n{}",
            tail(&moto.log())
        );
        moto
    }

    fn spawn() -> Server {
        let moto_server = installed("venv/bin/moto_server");
        Server::start("moto", "/moto-api/data.json", |port, _| {
            let mut command = clean_command(&moto_server);
            command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
            command
        })
    }

    fn helper_as(&self, key: (&str, &str), command: &str, args: &[&str], stdin: &[u8]) -> Vec<u8> {
        let mut all = vec![self.endpoint.as_str(), key.0, key.1, command];
        all.extend(args);
        run_python(MOTO_SCRIPT, &all, stdin)
    }

    fn helper(&self, command: &str, args: &[&str], stdin: &[u8]) -> Vec<u8> {
        self.helper_as(
            (&self.access_key_id, &self.secret_access_key),
            command,
            args,
            stdin,
        )
    }

    fn helper_json(&self, command: &str, args: &[&str], stdin: &[u8]) -> Value {
        let out = self.helper(command, args, stdin);
        serde_json::from_slice(&out)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out)))
    }

    pub fn create_bucket(&self, name: &str) {
        self.helper_json("create_bucket", &[name], &[]);
    }

    /// Every key in the bucket, sorted.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        strings(self.helper_json("keys", &[bucket], &[]))
    }

    pub fn object_bytes(&self, bucket: &str, key: &str) -> Vec<u8> {
        self.helper("get", &[bucket, key], &[])
    }

    pub fn put_object(&self, bucket: &str, key: &str, bytes: &[u8]) {
        self.helper_json("put", &[bucket, key], bytes);
    }

    /// The multipart uploads begun and neither completed nor aborted: (key, upload id).
    pub fn multipart_uploads(&self, bucket: &str) -> Vec<(String, String)> {
        serde_json::from_value(self.helper_json("uploads", &[bucket], &[]))
            .expect("a list of [key, upload id]")
    }

    /// Every key in the bucket, listed with the given (access key id, secret).
    pub fn keys_as(&self, credentials: (&str, &str), bucket: &str) -> Vec<String> {
        let out = self.helper_as(credentials, "keys", &[bucket], &[]);
        serde_json::from_slice(&out).expect("a list of keys")
    }

    /// Object `key` read with the given (access key id, secret).
    pub fn object_bytes_as(&self, credentials: (&str, &str), bucket: &str, key: &str) -> Vec<u8> {
        self.helper_as(credentials, "get", &[bucket, key], &[])
    }

    /// PutObject with the given (access key id, secret): `(200, "")` when taken, else the
    /// HTTP status and S3 error code.
    pub fn try_put_object_as(
        &self,
        credentials: (&str, &str),
        bucket: &str,
        key: &str,
        bytes: &[u8],
    ) -> (u16, String) {
        let out = self.helper_as(credentials, "try_put", &[bucket, key], bytes);
        refusal(serde_json::from_slice(&out).expect("JSON"))
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        self.server.log()
    }
}

// ---------------------------------------------------------------------------------------
// wsgidav

const WEBDAV_USER: &str = "ferry";
const WEBDAV_PASSWORD: &str = "ferry-webdav-secret";

const WEBDAV_SCRIPT: &str = r#"
import base64, json, sys, urllib.error, urllib.request

url, user, password, method = sys.argv[1:5]
request = urllib.request.Request(url, data=sys.stdin.buffer.read() or None, method=method)
if user:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
if method == "PROPFIND":
    request.add_header("Depth", "1")
try:
    with urllib.request.urlopen(request, timeout=10) as answer:
        status, body = answer.status, answer.read()
except urllib.error.HTTPError as e:
    status, body = e.code, e.read()
json.dump({"status": status, "body": body.decode("utf-8", "replace")}, sys.stdout)
"#;

/// Debian's rclone, for `rclone serve webdav`.
const RCLONE: &str = "/usr/bin/rclone";

pub struct WebDav {
    /// `http://127.0.0.1:PORT/`
    pub url: String,
    pub user: String,
    pub password: String,
    /// The folder it serves: tests may put files here and inspect what was written.
    pub root: PathBuf,
    pub port: u16,
    server: Server,
}

impl WebDav {
    /// Start wsgidav serving a fresh folder read-write, basic auth required.
    pub fn start() -> WebDav {
        Self::start_with(false)
    }

    /// The same, but every write is refused (403 Forbidden).
    pub fn start_read_only() -> WebDav {
        Self::start_with(true)
    }

    /// rclone's WebDAV server (Debian `rclone serve webdav`) serving a fresh folder, basic
    /// auth required: a second server with answers of its own (a PUT into a missing
    /// folder is 404 there, 409 on wsgidav). `read_only` refuses every write.
    pub fn start_rclone(read_only: bool) -> WebDav {
        assert!(
            Path::new(RCLONE).exists(),
            "{RCLONE} is missing: run `bash tests/servers/ensure-rclone.sh` (or tests/run)"
        );
        let mut root = PathBuf::new();
        let server = Server::start("rclone serve webdav", "/", |port, dir| {
            root = dir.join("root");
            let _ = fs::create_dir_all(&root);
            let config = dir.join("rclone.conf");
            let _ = fs::write(&config, "");
            let mut command = clean_command(RCLONE);
            command
                .args(["serve", "webdav"])
                .arg(&root)
                .arg("--addr")
                .arg(format!("127.0.0.1:{port}"))
                .args(["--user", WEBDAV_USER, "--pass", WEBDAV_PASSWORD])
                .arg("--config")
                .arg(&config);
            if read_only {
                command.arg("--read-only");
            }
            command
        });
        Self::serving(server, root)
    }

    fn start_with(read_only: bool) -> WebDav {
        let wsgidav = installed("venv/bin/wsgidav");
        let mut root = PathBuf::new();
        let server = Server::start("wsgidav", "/", |port, dir| {
            root = dir.join("root");
            let _ = fs::create_dir_all(&root);
            let config = dir.join("wsgidav.yaml");
            fs::write(&config, webdav_config(port, &root, read_only)).expect("wsgidav.yaml");
            let mut command = clean_command(&wsgidav);
            command.arg("-c").arg(&config);
            command
        });
        Self::serving(server, root)
    }

    fn serving(server: Server, root: PathBuf) -> WebDav {
        WebDav {
            url: format!("http://127.0.0.1:{}/", server.port),
            user: WEBDAV_USER.into(),
            password: WEBDAV_PASSWORD.into(),
            root,
            port: server.port,
            server,
        }
    }

    /// One request to `path` (relative to `url`) as `user:password` (no auth header when
    /// `user` is empty): the status and body.
    pub fn request_as(
        &self,
        user: &str,
        password: &str,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> (u16, String) {
        let url = format!("{}{}", self.url, path.trim_start_matches('/'));
        let out = run_python(WEBDAV_SCRIPT, &[&url, user, password, method], body);
        let value: Value = serde_json::from_slice(&out).expect("JSON");
        (
            value["status"].as_u64().expect("status") as u16,
            value["body"].as_str().unwrap_or_default().to_string(),
        )
    }

    /// The same, with the right credentials.
    pub fn request(&self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        self.request_as(&self.user, &self.password, method, path, body)
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        self.server.log()
    }
}

fn webdav_config(port: u16, root: &Path, read_only: bool) -> String {
    // JSON strings are valid YAML scalars: paths and secrets need no escaping rules of
    // their own.
    let q = |s: &str| Value::String(s.to_string()).to_string();
    format!(
        "host: 127.0.0.1\n\
         port: {port}\n\
         server: cheroot\n\
         provider_mapping:\n  \"/\":\n    root: {root}\n    readonly: {read_only}\n\
         simple_dc:\n  user_mapping:\n    \"*\":\n      {user}:\n        password: {password}\n\
         http_authenticator:\n  accept_basic: true\n  accept_digest: false\n  default_to_digest: false\n\
         dir_browser:\n  enable: false\n\
         lock_storage: true\n\
         property_manager: true\n\
         verbose: 3\n",
        root = q(&root.to_string_lossy()),
        user = q(WEBDAV_USER),
        password = q(WEBDAV_PASSWORD),
    )
}
