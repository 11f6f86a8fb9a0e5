//! `ferry run`, `check` and `doctor` against real object stores on 127.0.0.1: moto (S3)
//! and Azurite (Azure Blob). Push and pull of nested trees byte-compared, reruns that do
//! nothing, mirror, an interrupted large upload continued from its stored parts, and
//! refused credentials classified.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use ferry_tests::http_fault::{Fault, HttpFault};
use ferry_tests::http_servers::{Azurite, Moto};
use ferry_tests::{ferry, noise, run, tree};
use serde_json::Value;
use tempfile::TempDir;

const ROOT: &str = "partners/acme";
/// 2026-01-01T00:00:00Z, in seconds.
const LONG_AGO_SECS: u64 = 1_767_225_600;
const CONTAINER: &str = "inbound";

/// One store under test, with the credentials a run is given.
enum Store {
    S3(Moto),
    Azure(Azurite),
}

impl Store {
    fn s3() -> Store {
        let moto = Moto::start();
        moto.create_bucket(CONTAINER);
        Store::S3(moto)
    }

    fn azure() -> Store {
        let azurite = Azurite::start();
        azurite.create_container(CONTAINER);
        Store::Azure(azurite)
    }

    /// `[remotes.store]`, its credentials read from the environment `env` sets.
    fn remote_toml(&self) -> String {
        match self {
            Store::S3(moto) => format!(
                "[remotes.store]\ntype = \"s3\"\nendpoint = \"{}\"\nregion = \"{}\"\n\
                 bucket = \"{CONTAINER}\"\nroot = \"{ROOT}\"\naccess_key_id_env = \"S3_KEY_ID\"\n\
                 secret_access_key_env = \"S3_SECRET\"\npolicy = \"s3\"\n",
                moto.endpoint, moto.region
            ),
            Store::Azure(azurite) => format!(
                "[remotes.store]\ntype = \"azure-blob\"\naccount = \"{}\"\n\
                 container = \"{CONTAINER}\"\nendpoint = \"{}\"\nroot = \"{ROOT}\"\n\
                 key_env = \"AZURE_KEY\"\npolicy = \"azure-blob\"\n",
                azurite.account, azurite.endpoint
            ),
        }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        match self {
            Store::S3(moto) => vec![
                ("S3_KEY_ID", moto.access_key_id.clone()),
                ("S3_SECRET", moto.secret_access_key.clone()),
            ],
            Store::Azure(azurite) => vec![("AZURE_KEY", azurite.key.clone())],
        }
    }

    /// Every object under the root, as (path below the root, bytes), sorted.
    fn objects(&self) -> Vec<(String, Vec<u8>)> {
        let names = match self {
            Store::S3(moto) => moto.keys(CONTAINER),
            Store::Azure(azurite) => azurite.blob_names(CONTAINER),
        };
        let mut objects: Vec<_> = names
            .iter()
            .filter_map(|name| {
                let path = name.strip_prefix(&format!("{ROOT}/"))?;
                let bytes = match self {
                    Store::S3(moto) => moto.object_bytes(CONTAINER, name),
                    Store::Azure(azurite) => azurite.blob_bytes(CONTAINER, name),
                };
                Some((path.to_string(), bytes))
            })
            .collect();
        objects.sort();
        objects
    }
}

/// A local folder, a store, and syncs `push` (local → store) and `pull` (store → local
/// `pulled/`).
struct Setup {
    dir: TempDir,
    store: Store,
}

impl Setup {
    fn new(store: Store, delete: &str) -> Setup {
        let dir = TempDir::new().unwrap();
        std::fs::create_dir_all(dir.path().join("local")).unwrap();
        let config = format!(
            "[remotes.local]\ntype = \"local\"\npath = \"local\"\n\n\
             [remotes.pulled]\ntype = \"local\"\npath = \"pulled\"\n\n{}\n\
             [syncs.push]\nsource = \"local\"\ndestination = \"store\"\ndelete = \"{delete}\"\n\n\
             [syncs.pull]\nsource = \"store\"\ndestination = \"pulled\"\ndelete = \"{delete}\"\n",
            store.remote_toml()
        );
        std::fs::write(dir.path().join("ferry.toml"), config).unwrap();
        Setup { dir, store }
    }

    fn local(&self, path: &str) -> PathBuf {
        self.dir.path().join("local").join(path)
    }

    /// Write a local file, last modified long before the run (as a partner's files are:
    /// the store's own time of the upload then differs from it by months).
    fn write(&self, path: &str, content: &[u8]) {
        self.write_at(path, content, long_ago());
    }

    fn write_at(&self, path: &str, content: &[u8], mtime: SystemTime) {
        let file = self.local(path);
        ferry_tests::write_file(&file, content);
        let handle = std::fs::File::options().write(true).open(&file).unwrap();
        handle.set_modified(mtime).unwrap();
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = ferry(self.dir.path());
        command.args(args).envs(self.store.env());
        command
    }

    fn run(&self, sync: &str, extra: &[&str]) -> (i32, Value) {
        let mut args = vec!["run", sync, "--json"];
        args.extend(extra);
        let (code, stdout, stderr) = run(&mut self.command(&args));
        let report =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} / {stderr}"));
        (code, report)
    }

    /// Send every request to the store through `proxy`.
    fn through(&self, proxy: &HttpFault) {
        let endpoint = match &self.store {
            Store::S3(moto) => moto.endpoint.clone(),
            Store::Azure(azurite) => format!("http://127.0.0.1:{}", azurite.port),
        };
        let file = self.dir.path().join("ferry.toml");
        let config = std::fs::read_to_string(&file).unwrap();
        assert!(config.contains(&endpoint), "{config}");
        std::fs::write(&file, config.replace(&endpoint, &proxy.endpoint)).unwrap();
    }

    /// The parts of `path`'s upload in progress recorded in the state store.
    fn recorded_parts(&self, path: &str) -> usize {
        let Ok(db) = rusqlite::Connection::open(self.dir.path().join(".ferry/ferry.db")) else {
            return 0;
        };
        let staged: Option<String> = db
            .query_row(
                "SELECT staged FROM partials WHERE path = ?1",
                [path],
                |row| row.get(0),
            )
            .ok()
            .flatten();
        staged.map_or(0, |json| {
            let staged: Value = serde_json::from_str(&json).unwrap();
            staged["parts"].as_array().map_or(0, Vec::len)
        })
    }

    /// Start `ferry run push` (at 4 MiB/s: slow enough that the kill comes well before the
    /// last part), and kill it (-9) once `parts` parts of `path` are recorded.
    fn kill_push_after_parts(&self, path: &str, parts: usize) {
        let mut child = self
            .command(&["run", "push", "--bwlimit", "4MiB"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.recorded_parts(path) < parts {
            assert!(Instant::now() < deadline, "no {parts} parts recorded");
            assert!(child.try_wait().unwrap().is_none(), "the run ended early");
            std::thread::sleep(Duration::from_millis(50));
        }
        child.kill().unwrap();
        child.wait().unwrap();
    }

    fn local_tree(&self) -> Vec<(String, Vec<u8>)> {
        tree(&self.dir.path().join("local"))
    }
}

fn long_ago() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(LONG_AGO_SECS)
}

fn status(report: &Value) -> &str {
    report["status"].as_str().unwrap_or_default()
}

/// The files of a tree (folders are only prefixes in a store).
fn files(tree: Vec<(String, Vec<u8>)>, root: &Path) -> Vec<(String, Vec<u8>)> {
    tree.into_iter()
        .filter(|(path, _)| root.join(path).is_file())
        .collect()
}

fn round_trip(store: Store) {
    let setup = Setup::new(store, "never");
    setup.write("reports/2026/q4.csv", b"a,b\n1,2\n");
    setup.write(
        "\u{65e5}\u{672c}/\u{30d5}\u{30a1}\u{30a4}\u{30eb} #1%.txt",
        "unicode \u{2713}".as_bytes(),
    );
    setup.write("empty/zero.bin", b"");
    // Three parts of 8 MiB and a short one: staged, then committed.
    setup.write("big/twenty.bin", &noise(26 << 20, 0x2545_f491_4f6c_dd1d));
    let (code, report) = setup.run("push", &[]);
    assert_eq!((code, status(&report)), (0, "success"), "{report:#}");
    assert_eq!(report["transferred"], 4, "{report:#}");
    let local_root = setup.dir.path().join("local");
    assert_eq!(
        setup.store.objects(),
        files(setup.local_tree(), &local_root),
        "the store holds exactly the local files, under the root"
    );

    let (code, report) = setup.run("push", &[]);
    assert_eq!((code, status(&report)), (0, "nothing_to_do"), "{report:#}");

    let (code, report) = setup.run("pull", &[]);
    assert_eq!((code, status(&report)), (0, "success"), "{report:#}");
    let pulled_root = setup.dir.path().join("pulled");
    assert_eq!(
        files(tree(&pulled_root), &pulled_root),
        files(setup.local_tree(), &local_root)
    );
    let (code, report) = setup.run("pull", &[]);
    assert_eq!((code, status(&report)), (0, "nothing_to_do"), "{report:#}");

    // Same size, other bytes, a later time: sent again.
    setup.write_at(
        "reports/2026/q4.csv",
        b"a,b\n3,4\n",
        long_ago() + Duration::from_secs(3600),
    );
    let (code, report) = setup.run("push", &[]);
    assert_eq!(
        (code, &report["transferred"]),
        (0, &Value::from(1)),
        "{report:#}"
    );
    let objects = setup.store.objects();
    let q4 = objects
        .iter()
        .find(|(path, _)| path == "reports/2026/q4.csv");
    assert_eq!(
        q4.map(|(_, bytes)| bytes.as_slice()),
        Some(&b"a,b\n3,4\n"[..])
    );
}

#[test]
fn s3_push_then_pull_round_trips_a_tree_and_reruns_do_nothing() {
    round_trip(Store::s3());
}

#[test]
fn azure_push_then_pull_round_trips_a_tree_and_reruns_do_nothing() {
    round_trip(Store::azure());
}

fn mirror_removes_what_the_source_no_longer_has(store: Store) {
    let setup = Setup::new(store, "mirror");
    setup.write("keep.txt", b"keep");
    setup.write("old/gone.txt", b"gone");
    assert_eq!(status(&setup.run("push", &[]).1), "success");
    std::fs::remove_dir_all(setup.local("old")).unwrap();
    let (code, report) = setup.run("push", &[]);
    assert_eq!((code, status(&report)), (0, "success"), "{report:#}");
    let paths: Vec<String> = setup.store.objects().into_iter().map(|(p, _)| p).collect();
    assert_eq!(paths, vec!["keep.txt".to_string()]);
    let (code, report) = setup.run("push", &[]);
    assert_eq!((code, status(&report)), (0, "nothing_to_do"), "{report:#}");
}

#[test]
fn s3_mirror_deletes() {
    mirror_removes_what_the_source_no_longer_has(Store::s3());
}

#[test]
fn azure_mirror_deletes() {
    mirror_removes_what_the_source_no_longer_has(Store::azure());
}

/// A 100 MB upload killed (-9) once its first parts are recorded: the next run sends only
/// the parts the store does not hold, and both runs together send less than 1.5 times the
/// file (every byte counted by a proxy in front of the store).
fn an_interrupted_upload_continues_from_its_stored_parts(store: Store) -> Setup {
    const SIZE: usize = 100 << 20;
    let port = match &store {
        Store::S3(moto) => moto.port,
        Store::Azure(azurite) => azurite.port,
    };
    let proxy = HttpFault::counting(port);
    let setup = Setup::new(store, "never");
    setup.through(&proxy);
    let content = noise(SIZE, 0x9e37_79b9_7f4a_7c15);
    setup.write("big.bin", &content);
    setup.kill_push_after_parts("big.bin", 2);
    assert!(
        setup.store.objects().is_empty(),
        "nothing shows before the commit"
    );
    let first = proxy.sent();

    let (code, report) = setup.run("push", &[]);
    assert_eq!((code, status(&report)), (0, "success"), "{report:#}");
    let second = report["bytes"].as_u64().unwrap();
    assert!(
        second <= (SIZE - (16 << 20)) as u64,
        "the second run continued after the recorded parts: it sent {second} bytes"
    );
    let total = proxy.sent();
    eprintln!(
        "measured: killed run sent {first} bytes, the next {}",
        total - first
    );
    assert!(
        total < SIZE as u64 * 3 / 2,
        "sent {first} then {} bytes in all for a file of {SIZE}",
        total - first
    );
    assert_eq!(
        setup.store.objects(),
        vec![("big.bin".to_string(), content)]
    );
    setup
}

#[test]
fn s3_an_interrupted_upload_continues_and_leaves_no_upload_behind() {
    let setup = an_interrupted_upload_continues_from_its_stored_parts(Store::s3());
    let Store::S3(moto) = &setup.store else {
        unreachable!()
    };
    assert_eq!(moto.multipart_uploads(CONTAINER), vec![]);
}

#[test]
fn azure_an_interrupted_upload_continues_from_its_staged_blocks() {
    an_interrupted_upload_continues_from_its_stored_parts(Store::azure());
}

#[test]
fn s3_a_source_changed_after_an_interruption_aborts_the_old_upload() {
    let setup = Setup::new(Store::s3(), "never");
    setup.write("big.bin", &noise(40 << 20, 7));
    setup.kill_push_after_parts("big.bin", 1);
    let Store::S3(moto) = &setup.store else {
        unreachable!()
    };
    assert_eq!(
        moto.multipart_uploads(CONTAINER).len(),
        1,
        "one upload in progress"
    );
    let changed = noise(40 << 20, 8);
    setup.write("big.bin", &changed);
    let (code, report) = setup.run("push", &[]);
    assert_eq!((code, status(&report)), (0, "success"), "{report:#}");
    assert_eq!(report["bytes"], 40 << 20, "the new version is sent whole");
    assert_eq!(
        moto.multipart_uploads(CONTAINER),
        vec![],
        "the old upload was aborted"
    );
    assert_eq!(
        setup.store.objects(),
        vec![("big.bin".to_string(), changed)]
    );
}

/// The first failure of a push, with credentials `env` in place of the right ones.
/// No credential given appears in the output (a SAS token's signature included).
fn failure_with(setup: &Setup, env: &[(&str, &str)]) -> Value {
    let mut command = setup.command(&["run", "push", "--json"]);
    command.envs(env.iter().copied()).env("FERRY_LOG", "debug");
    let (code, stdout, stderr) = run(&mut command);
    let report: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} / {stderr}"));
    assert_ne!(code, 0, "{report:#}");
    let own = setup.store.env();
    let own = own
        .iter()
        .map(|(variable, secret)| (*variable, secret.as_str()));
    for (variable, secret) in env.iter().copied().chain(own) {
        let signature = secret.split('&').find_map(|pair| pair.strip_prefix("sig="));
        for shown in [Some(secret), signature].into_iter().flatten() {
            assert!(
                !stdout.contains(shown) && !stderr.contains(shown),
                "{variable} shown: {stdout} / {stderr}"
            );
        }
    }
    report["failures"][0].clone()
}

#[test]
fn s3_wrong_credentials_are_auth_and_a_read_only_user_is_permission() {
    let moto = Moto::start_with_auth();
    moto.create_bucket(CONTAINER);
    let read_only = moto.read_only.clone().unwrap();
    let setup = Setup::new(Store::S3(moto), "never");
    setup.write("a.txt", b"a");
    let failure = failure_with(&setup, &[("S3_KEY_ID", "AKIAWRONGWRONGWRONG1")]);
    assert_refused(&failure, "auth", "InvalidAccessKeyId");
    let failure = failure_with(&setup, &[("S3_SECRET", "not-the-secret")]);
    assert_refused(&failure, "auth", "SignatureDoesNotMatch");
    let read_only = [("S3_KEY_ID", &*read_only.0), ("S3_SECRET", &*read_only.1)];
    let failure = failure_with(&setup, &read_only);
    assert_refused(&failure, "permission", "AccessDenied");
    assert_eq!(failure["path"], "a.txt", "{failure:#}");
}

#[test]
fn azure_a_wrong_key_is_auth_and_a_read_only_sas_is_permission() {
    let azurite = Azurite::start();
    azurite.create_container(CONTAINER);
    let read_only = azurite.sas_token(CONTAINER, "rl");
    let setup = Setup::new(Store::Azure(azurite), "never");
    setup.write("a.txt", b"a");
    let wrong_key = data_encoding_free_key();
    let failure = failure_with(&setup, &[("AZURE_KEY", &wrong_key)]);
    assert_refused(&failure, "auth", "AuthorizationFailure");

    let config = std::fs::read_to_string(setup.dir.path().join("ferry.toml")).unwrap();
    let config = config.replace("key_env = \"AZURE_KEY\"", "sas_token_env = \"AZURE_SAS\"");
    std::fs::write(setup.dir.path().join("ferry.toml"), config).unwrap();
    let failure = failure_with(&setup, &[("AZURE_SAS", &read_only)]);
    assert_refused(&failure, "permission", "AuthorizationPermissionMismatch");
    assert_eq!(failure["path"], "a.txt", "{failure:#}");
}

/// A failure of `category` whose message names the store's own error code.
fn assert_refused(failure: &Value, category: &str, store_code: &str) {
    assert_eq!(failure["category"], category, "{failure:#}");
    let message = failure["message"].as_str().unwrap_or_default();
    assert!(message.contains(store_code), "{failure:#}");
}

/// A well-formed account key that is not Azurite's.
fn data_encoding_free_key() -> String {
    format!("{}==", "A".repeat(86))
}

#[test]
fn doctor_tells_what_each_store_allows() {
    for store in [Store::s3(), Store::azure()] {
        let setup = Setup::new(store, "never");
        let (code, stdout, stderr) = run(&mut setup.command(&["doctor", "store", "--json"]));
        let report: Value =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} / {stderr}"));
        assert_eq!(code, 0, "{report:#} {stderr}");
        assert!(
            setup.store.objects().is_empty(),
            "doctor removed what it wrote"
        );
    }
}

/// A store that answers 503 with Retry-After (through the proxy: no real server here can
/// be made to): the request waits as asked and is sent again, and the run succeeds.
#[test]
fn s3_a_503_with_retry_after_is_waited_for_and_the_request_sent_again() {
    let moto = Moto::start();
    moto.create_bucket(CONTAINER);
    let fault = Fault {
        method: "PUT",
        times: 2,
        status: 503,
        retry_after: Some(1),
    };
    let proxy = HttpFault::start(moto.port, fault);
    let real_endpoint = moto.endpoint.clone();
    let setup = Setup::new(Store::S3(moto), "never");
    let config_file = setup.dir.path().join("ferry.toml");
    let config = std::fs::read_to_string(&config_file).unwrap();
    std::fs::write(
        &config_file,
        config.replace(&real_endpoint, &proxy.endpoint),
    )
    .unwrap();
    setup.write("a.txt", b"a");

    let (code, report) = setup.run("push", &[]);
    assert_eq!((code, status(&report)), (0, "success"), "{report:#}");
    let puts: Vec<_> = proxy
        .seen()
        .into_iter()
        .filter(|seen| seen.method == "PUT")
        .collect();
    let faulted: Vec<bool> = puts.iter().map(|seen| seen.faulted).collect();
    assert_eq!(faulted, [true, true, false], "{puts:?}");
    for pair in puts.windows(2) {
        let waited = pair[1].at - pair[0].at;
        assert!(
            waited >= Duration::from_millis(900),
            "resent after {waited:?}"
        );
    }
    assert_eq!(
        setup.store.objects(),
        vec![("a.txt".to_string(), b"a".to_vec())]
    );
}

/// Keys a partner's bucket may hold that are no plain path: an empty segment, `.` and `..`
/// segments, a control character (`odd`, those the store takes), and folder markers (a
/// zero-byte key ending in `/`, as consoles make). Each odd key is refused by name, a
/// marker is a folder, and the rest of the bucket is pulled.
fn odd_keys_refuse_only_themselves(store: Store, odd: &[&str]) {
    let setup = Setup::new(store, "never");
    let put = |key: &str, bytes: &[u8]| match &setup.store {
        Store::S3(moto) => moto.put_object(CONTAINER, &format!("{ROOT}/{key}"), bytes),
        Store::Azure(azurite) => azurite.put_blob(CONTAINER, &format!("{ROOT}/{key}"), bytes),
    };
    put("ok.txt", b"ok");
    for key in odd {
        put(key, b"x");
    }
    put("marker/", b"");
    put("marker/inside.txt", b"in");
    put("empty-folder/", b"");
    let (code, report) = setup.run("pull", &[]);
    let pulled = setup.dir.path().join("pulled");
    assert_eq!(
        files(tree(&pulled), &pulled),
        vec![
            ("marker/inside.txt".to_string(), b"in".to_vec()),
            ("ok.txt".to_string(), b"ok".to_vec())
        ],
        "{report:#}"
    );
    assert!(pulled.join("empty-folder").is_dir(), "{report:#}");
    let mut refused: Vec<&str> = report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|failure| failure["path"].as_str().unwrap())
        .collect();
    refused.sort();
    let mut expected = odd.to_vec();
    expected.sort();
    assert_eq!((code, refused), (3, expected), "{report:#}");
}

#[test]
fn s3_odd_keys_refuse_only_themselves() {
    let odd = [
        "double//slash.txt",
        "dot/./x.txt",
        "up/../x.txt",
        "bell\u{7}.txt",
    ];
    odd_keys_refuse_only_themselves(Store::s3(), &odd);
}

#[test]
fn azure_odd_keys_refuse_only_themselves() {
    // Azure's clients resolve `.` and `..` segments before sending, and Azurite fails a
    // whole listing over a control character: an empty segment is what it keeps.
    odd_keys_refuse_only_themselves(Store::azure(), &["double//slash.txt"]);
}

/// An interrupted upload the store no longer knows (S3 answers 404 NoSuchUpload once a
/// lifecycle rule aborted it, or when a run was killed after its commit but before it
/// recorded so): the next run drops it and sends the file afresh at once, without failing
/// it. moto answers such a part with 500, so the proxy gives S3's 404 in its place.
#[test]
fn s3_an_upload_the_store_no_longer_knows_is_sent_afresh_in_the_same_run() {
    let moto = Moto::start();
    moto.create_bucket(CONTAINER);
    let unknown_upload = Fault {
        method: "PUT",
        times: 1,
        status: 404,
        retry_after: None,
    };
    let proxy = HttpFault::start(moto.port, unknown_upload);
    let setup = Setup::new(Store::S3(moto), "never");
    // Not a whole number of parts: the last, short part is never recorded, so the next
    // run always sends a part (the request the proxy answers) before it commits.
    let size = (40 << 20) + 1234;
    let content = noise(size, 11);
    setup.write("big.bin", &content);
    setup.kill_push_after_parts("big.bin", 2);
    setup.through(&proxy);

    let (code, report) = setup.run("push", &[]);
    assert_eq!((code, status(&report)), (0, "success"), "{report:#}");
    assert_eq!(report["bytes"], size, "{report:#}");
    assert_eq!(
        setup.store.objects(),
        vec![("big.bin".to_string(), content)]
    );
    let Store::S3(moto) = &setup.store else {
        unreachable!()
    };
    assert_eq!(
        moto.multipart_uploads(CONTAINER),
        vec![],
        "the old upload was aborted"
    );
}

/// S3 keys are counted whole (root prefix + path, in bytes) and without a temporary suffix
/// (uploads go under their final key): a key of exactly 1,024 bytes is delivered, one of
/// 1,025 is refused before any byte is sent.
#[test]
fn s3_a_key_of_1024_bytes_is_delivered_and_one_of_1025_refused_before_upload() {
    let setup = Setup::new(Store::s3(), "never");
    let file = setup.dir.path().join("ferry.toml");
    let config = std::fs::read_to_string(&file).unwrap();
    let config = config
        .replace(
            "path = \"local\"\n",
            "path = \"local\"\nmax_path_length = 4000\n",
        )
        .replace(
            "policy = \"s3\"\n",
            &format!(
                "policy = \"s3\"\n[remotes.store.policy_settings]\npath_prefix = \"{ROOT}/\"\n"
            ),
        );
    std::fs::write(&file, config).unwrap();
    let folders = "abcdefghi/".repeat(100);
    let fits = format!("{folders}0123456789");
    let too_long = format!("{folders}0123456789x");
    assert_eq!(ROOT.len() + 1 + fits.len(), 1024);
    setup.write(&fits, b"fits");
    setup.write(&too_long, b"too long");

    let (code, report) = setup.run("push", &[]);
    assert_eq!(
        (code, status(&report)),
        (3, "partial_failure"),
        "{report:#}"
    );
    assert_eq!(
        report["failures"][0]["path"],
        too_long.as_str(),
        "{report:#}"
    );
    assert_eq!(
        report["failures"][0]["category"], "invalid-name",
        "{report:#}"
    );
    assert_eq!(setup.store.objects(), vec![(fits, b"fits".to_vec())]);
}

/// A bucket or container that does not exist is the remote's configuration: said with
/// the key to correct, never retried; doctor leaves nothing behind it claims to have made.
#[test]
fn a_missing_bucket_or_container_names_the_key_and_is_not_retried() {
    for (store, key) in [(Store::s3(), "bucket"), (Store::azure(), "container")] {
        let setup = Setup::new(store, "never");
        let file = setup.dir.path().join("ferry.toml");
        let config = std::fs::read_to_string(&file).unwrap();
        let config = config.replace(
            &format!("{key} = \"{CONTAINER}\""),
            &format!("{key} = \"missing\""),
        );
        std::fs::write(&file, config).unwrap();
        setup.write("a.txt", b"a");
        let failure = failure_with(&setup, &[]);
        assert_eq!(
            (&failure["category"], &failure["retry"]),
            (&Value::from("not-found"), &Value::from("never")),
            "{failure:#}"
        );
        let advice = failure["advice"].as_str().unwrap();
        assert!(advice.contains(&format!("`{key} =`")), "{advice}");

        let (code, stdout, stderr) = run(&mut setup.command(&["doctor", "store", "--json"]));
        let report: Value =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} / {stderr}"));
        assert_eq!(code, 1, "{report:#}");
        assert_eq!(
            report["cleanup"]["left"],
            Value::Array(vec![]),
            "{report:#}"
        );
    }
}

/// A drop box: `env` holds credentials that may put objects, neither list nor read them
/// (`credential` turns the remote's key setting into theirs, where it differs). Listing it
/// fails with the hint to set `listing = "none"`; with it, a small file and a staged one
/// are delivered, and a rerun sends nothing again.
fn a_drop_box_is_served_with_listing_none(
    setup: Setup,
    env: &[(&str, &str)],
    credential: Option<(&str, &str)>,
    policy: &str,
) {
    setup.write("small.txt", b"small");
    let big = noise(12 << 20, 5);
    setup.write("big.bin", &big);
    // A drop box is no source: the pull sync goes.
    let file = setup.dir.path().join("ferry.toml");
    let config = std::fs::read_to_string(&file).unwrap();
    let mut drop_box = config.split("[syncs.pull]").next().unwrap().to_string();
    if let Some((key, theirs)) = credential {
        drop_box = drop_box.replace(key, theirs);
    }
    std::fs::write(&file, &drop_box).unwrap();
    let as_drop_box = || {
        let mut command = setup.command(&["run", "push", "--json"]);
        command.envs(env.iter().copied());
        let (code, stdout, stderr) = run(&mut command);
        let report: Value =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} / {stderr}"));
        (code, report)
    };

    let (code, report) = as_drop_box();
    assert_eq!(code, 1, "{report:#}");
    assert!(
        report["notes"]
            .to_string()
            .contains("listing = \\\"none\\\""),
        "{report:#}"
    );

    let policy_line = format!("policy = \"{policy}\"\n");
    let listing_none =
        drop_box.replace(&policy_line, &format!("{policy_line}listing = \"none\"\n"));
    std::fs::write(&file, listing_none).unwrap();
    let (code, report) = as_drop_box();
    assert_eq!(
        (code, status(&report), &report["transferred"]),
        (0, "success", &Value::from(2)),
        "{report:#}"
    );
    let (code, report) = as_drop_box();
    assert_eq!((code, status(&report)), (0, "nothing_to_do"), "{report:#}");
    assert_eq!(
        setup.store.objects(),
        vec![
            ("big.bin".to_string(), big),
            ("small.txt".to_string(), b"small".to_vec())
        ]
    );
}

/// An IAM user that may only put objects.
#[test]
fn s3_a_write_only_drop_box_is_served_with_listing_none() {
    let moto = Moto::start_with_auth();
    moto.create_bucket(CONTAINER);
    let (key_id, secret) = moto.write_only.clone().unwrap();
    let setup = Setup::new(Store::S3(moto), "never");
    let env = [
        ("S3_KEY_ID", key_id.as_str()),
        ("S3_SECRET", secret.as_str()),
    ];
    a_drop_box_is_served_with_listing_none(setup, &env, None, "s3");
}

/// A SAS that may create and write blobs.
#[test]
fn azure_a_write_only_sas_is_served_with_listing_none() {
    let azurite = Azurite::start();
    azurite.create_container(CONTAINER);
    let write_only = azurite.sas_token(CONTAINER, "cw");
    let setup = Setup::new(Store::Azure(azurite), "never");
    let credential = ("key_env = \"AZURE_KEY\"", "sas_token_env = \"AZURE_SAS\"");
    let env = [("AZURE_SAS", write_only.as_str())];
    a_drop_box_is_served_with_listing_none(setup, &env, Some(credential), "azure-blob");
}

/// A pull that archives what it delivered on the store: each object is moved under the
/// archive prefix (copy, then delete) only once it is delivered; a second pull finds
/// nothing to do and the archive is never pulled.
fn a_pull_archives_on_the_store(store: Store) {
    let setup = Setup::new(store, "never");
    let put = |key: &str, bytes: &[u8]| match &setup.store {
        Store::S3(moto) => moto.put_object(CONTAINER, &format!("{ROOT}/{key}"), bytes),
        Store::Azure(azurite) => azurite.put_blob(CONTAINER, &format!("{ROOT}/{key}"), bytes),
    };
    put("a.txt", b"a");
    put("d/b.txt", b"b");
    let file = setup.dir.path().join("ferry.toml");
    let config = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        format!("{config}after_delivery = \"archive:done\"\n"),
    )
    .unwrap();

    let (code, report) = setup.run("pull", &[]);
    assert_eq!((code, status(&report)), (0, "success"), "{report:#}");
    let pulled = setup.dir.path().join("pulled");
    assert_eq!(
        files(tree(&pulled), &pulled),
        vec![
            ("a.txt".to_string(), b"a".to_vec()),
            ("d/b.txt".to_string(), b"b".to_vec())
        ]
    );
    let paths: Vec<String> = setup.store.objects().into_iter().map(|(p, _)| p).collect();
    assert_eq!(paths, ["done/a.txt", "done/d/b.txt"], "{report:#}");
    let (code, report) = setup.run("pull", &[]);
    assert_eq!((code, status(&report)), (0, "nothing_to_do"), "{report:#}");
}

#[test]
fn s3_a_pull_archives_on_the_store() {
    a_pull_archives_on_the_store(Store::s3());
}

#[test]
fn azure_a_pull_archives_on_the_store() {
    a_pull_archives_on_the_store(Store::azure());
}
