//! A plugin's answers are checked before the host acts on them: `ferry check` and real
//! runs with the hostile plugin answering bad temporary names, bad suggestions and huge
//! texts. Each run ends, says which plugin did what, touches nothing outside the files its
//! plan named, leaves no temporary file, and keeps an unrelated destination file intact.

use std::path::{Path, PathBuf};

use ferry_tests::sshd::Sshd;
use ferry_tests::{ferry, run, tree};
use serde_json::Value;
use tempfile::TempDir;

/// An unrelated file the destination holds before the run.
const KEEP: (&str, &[u8]) = ("keep.txt", b"the partner's own file");
/// The largest message a failure may carry (a cut text and the host's own words).
const MESSAGE_BOUND: usize = 4096;

/// A test folder: `outbox/` (source), `inbox/` (destination, the hostile plugin with
/// `attack`), `outside.txt` beside them, the state in `state/`.
struct Setup {
    dir: TempDir,
}

impl Setup {
    fn new(attack: &str, rename: &str, files: &[(&str, &[u8])]) -> Setup {
        Setup::with_destination(attack, rename, files, &local_destination())
    }

    /// With `destination`, the TOML of a remote `inbox` (whose policy is set here).
    fn with_destination(
        attack: &str,
        rename: &str,
        files: &[(&str, &[u8])],
        destination: &str,
    ) -> Setup {
        let dir = TempDir::new().unwrap();
        let config = format!(
            "[state]\ndir = \"state\"\n\n\
             [remotes.outbox]\ntype = \"local\"\npath = \"outbox\"\n\n\
             {destination}policy = {plugin}\n\
             [remotes.inbox.policy_settings]\nattack = {attack}\n\n\
             [syncs.push]\nsource = \"outbox\"\ndestination = \"inbox\"\ndelete = \"never\"\n\
             rename = \"{rename}\"\n",
            plugin = toml_string(env!("FERRY_TEST_PLUGIN_HOSTILE")),
            attack = toml_string(attack),
        );
        std::fs::write(dir.path().join("ferry.toml"), config).unwrap();
        std::fs::write(dir.path().join("outside.txt"), b"outside").unwrap();
        let setup = Setup { dir };
        for (path, content) in files {
            write(&setup.path("outbox").join(path), content);
        }
        setup
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn ferry(&self, args: &[&str]) -> (i32, String, String) {
        run(ferry(self.dir.path()).args(args))
    }

    /// `ferry run push --json`: its exit code and report.
    fn run(&self) -> (i32, Value) {
        let (code, stdout, stderr) = self.ferry(&["run", "push", "--json"]);
        let report =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} / {stderr}"));
        (code, report)
    }

    /// Every file of the test folder but the state, with its bytes.
    fn files(&self) -> Vec<(String, Vec<u8>)> {
        without_state(tree(self.dir.path()))
    }
}

fn local_destination() -> String {
    "[remotes.inbox]\ntype = \"local\"\npath = \"inbox\"\n".into()
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.into()).to_string()
}

fn write(path: &Path, content: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

fn without_state(files: Vec<(String, Vec<u8>)>) -> Vec<(String, Vec<u8>)> {
    files
        .into_iter()
        .filter(|(path, _)| !path.starts_with("state/"))
        .collect()
}

/// `after` is `before` plus exactly `sent` (paths under `inbox/`, with their bytes).
fn assert_only_sent(
    before: &[(String, Vec<u8>)],
    after: &[(String, Vec<u8>)],
    sent: &[(&str, &[u8])],
) {
    let mut expected = before.to_vec();
    expected.extend(
        sent.iter()
            .map(|(path, content)| (format!("inbox/{path}"), content.to_vec())),
    );
    expected.sort();
    let listed = |files: &[(String, Vec<u8>)]| -> Vec<String> {
        files
            .iter()
            .map(|(path, bytes)| format!("{path} ({} bytes)", bytes.len()))
            .collect()
    };
    assert_eq!(listed(after), listed(&expected), "the files after the run");
    assert_eq!(after, expected, "the contents after the run");
}

/// The run's failures (path → message), each bounded and each naming the plugin.
fn failures(report: &Value) -> Vec<(String, String, String)> {
    report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let message = f["message"].as_str().unwrap_or_default().to_string();
            let advice = f["advice"].as_str().unwrap_or_default();
            assert!(
                message.len() < MESSAGE_BOUND,
                "an unbounded message: {} bytes",
                message.len()
            );
            assert!(
                advice.len() < MESSAGE_BOUND,
                "unbounded advice: {} bytes",
                advice.len()
            );
            (
                f["path"].as_str().unwrap().to_string(),
                f["category"].as_str().unwrap_or_default().to_string(),
                message,
            )
        })
        .collect()
}

const THREE: [(&str, &[u8]); 3] = [
    ("a.txt", b"content of a"),
    ("b.txt", b"content of b"),
    ("c.txt", b"content of c"),
];

/// A run under `attack` where every temporary name is refused: each file fails alone
/// as plugin-failure naming the plugin and `shown` (the name as the message quotes it),
/// and nothing is written.
fn assert_every_temp_name_refused(attack: &str, shown: &str) {
    assert_temp_names_refused(attack, shown, 3);
}

/// As [`assert_every_temp_name_refused`], where `check` (which does not list the
/// destination) finds `in_check` of the three refused.
fn assert_temp_names_refused(attack: &str, shown: &str, in_check: usize) {
    let setup = Setup::new(attack, "refuse", &THREE);
    write(&setup.path("inbox").join(KEEP.0), KEEP.1);
    let (code, stdout, _) = setup.ferry(&["check", "push"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(&format!("unusable-temp-name ({in_check} entries)"))
            && stdout.contains(&inert_shown(shown)),
        "{stdout}"
    );
    let before = setup.files();
    let (code, report) = setup.run();
    assert_eq!(
        (code, report["status"].as_str()),
        (1, Some("failure")),
        "no file could be sent: {report:#}"
    );
    let failures = failures(&report);
    assert_eq!(failures.len(), 3, "{report:#}");
    for (path, category, message) in &failures {
        assert!(path.ends_with(".txt"), "{report:#}");
        assert_eq!(category, "plugin-failure", "{report:#}");
        assert!(
            message.contains("hostile 0.0.0") && message.contains(shown),
            "{message}"
        );
    }
    assert_only_sent(&before, &setup.files(), &[]);
}

#[test]
fn a_temporary_name_that_climbs_out_is_refused() {
    assert_every_temp_name_refused("temp-name:..", r#"".."#);
    assert_every_temp_name_refused("temp-name:../x", r#""../x""#);
    assert_every_temp_name_refused("temp-name:/etc/x", r#""/etc/x""#);
}

#[test]
fn a_temporary_name_of_an_existing_destination_file_is_refused() {
    assert_temp_names_refused(&format!("temp-name:{}", KEEP.0), r#""keep.txt""#, 2);
}

#[test]
fn a_temporary_name_of_a_final_name_is_refused() {
    // a.txt's own final name, and a source file's name for b.txt and c.txt.
    assert_every_temp_name_refused("temp-name:a.txt", r#""a.txt""#);
}

#[test]
fn a_temporary_name_with_an_escape_sequence_or_of_10_mib_is_refused() {
    assert_every_temp_name_refused("temp-name:x\u{1b}[2J", r#""x\u{1b}[2J""#);
    assert_every_temp_name_refused("temp-huge", "…[cut ");
}

/// `shown` (as JSON holds it) as text output shows it: a backslash before `u{` doubled.
fn inert_shown(shown: &str) -> String {
    shown.replace("\\u{", "\\\\u{")
}

/// One temporary name for every file: the first file takes it, every other fails alone.
fn assert_one_temp_name_serves_one_file(setup: &Setup, files: &[(String, Vec<u8>)]) -> Value {
    let (code, report) = setup.run();
    assert_eq!(code, 3, "{report:#}");
    assert_eq!(report["transferred"], 1, "{report:#}");
    let failures = failures(&report);
    assert_eq!(failures.len(), files.len() - 1, "{report:#}");
    for (_, category, message) in &failures {
        assert_eq!(category, "plugin-failure");
        assert!(
            message.contains(r#""same.tmp""#) && message.contains("another file"),
            "{message}"
        );
    }
    report
}

fn many_files(count: usize) -> Vec<(String, Vec<u8>)> {
    (0..count)
        .map(|i| {
            (
                format!("f{i:03}.txt"),
                format!("content of file {i}").repeat(i + 1).into_bytes(),
            )
        })
        .collect()
}

fn borrowed(files: &[(String, Vec<u8>)]) -> Vec<(&str, &[u8])> {
    files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_slice()))
        .collect()
}

#[test]
fn one_temporary_name_for_every_file_sends_one_and_mixes_nothing() {
    let files = many_files(300);
    let setup = Setup::new("same-temp-name", "refuse", &borrowed(&files));
    write(&setup.path("inbox").join(KEEP.0), KEEP.1);
    let (code, stdout, _) = setup.ferry(&["check", "push"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("unusable-temp-name (299 entries)"),
        "{stdout}"
    );
    let before = setup.files();
    let report = assert_one_temp_name_serves_one_file(&setup, &files);
    let failed: Vec<String> = failures(&report)
        .into_iter()
        .map(|(path, ..)| path)
        .collect();
    let sent: Vec<_> = borrowed(&files)
        .into_iter()
        .filter(|(path, _)| !failed.iter().any(|f| f == path))
        .collect();
    assert_only_sent(&before, &setup.files(), &sent);
}

#[test]
fn one_temporary_name_for_every_file_over_sftp_sends_one_and_mixes_nothing() {
    let sshd = Sshd::start();
    write(&sshd.root.join(KEEP.0), KEEP.1);
    sshd.give(&sshd.root.join(KEEP.0));
    let server_before = tree(sshd.root.parent().unwrap());
    let remote = sshd.remote_toml("inbox", sshd.port, &sshd.key_file, &sshd.known_hosts);
    let files = many_files(100);
    let setup = Setup::with_destination("same-temp-name", "refuse", &borrowed(&files), &remote);
    let (code, stdout, _) = setup.ferry(&["check", "push"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("unusable-temp-name (99 entries)"),
        "{stdout}"
    );
    let before = setup.files();
    let report = assert_one_temp_name_serves_one_file(&setup, &files);
    assert_eq!(setup.files(), before, "the local side is read only");
    let failed: Vec<String> = failures(&report)
        .into_iter()
        .map(|(path, ..)| path)
        .collect();
    let root_name = sshd.root.file_name().unwrap().to_str().unwrap().to_string();
    let sent: Vec<(String, Vec<u8>)> = files
        .iter()
        .filter(|(path, _)| !failed.contains(path))
        .map(|(path, content)| (format!("{root_name}/{path}"), content.clone()))
        .collect();
    let mut expected: Vec<_> = server_before
        .into_iter()
        .filter(|(path, _)| path != "sshd.log")
        .chain(sent)
        .collect();
    expected.sort();
    let after: Vec<_> = tree(sshd.root.parent().unwrap())
        .into_iter()
        .filter(|(path, _)| path != "sshd.log")
        .collect();
    assert_eq!(after, expected, "the server's folder after the run");
}

/// Under `rename = "sanitize"`, `bad.txt` gets the suggestion `attack` makes: it is
/// refused with `why`, in `check` and in a run; `ok.txt` is sent.
fn assert_suggestion_refused(attack: &str, why: &str) {
    let files: [(&str, &[u8]); 2] = [("bad.txt", b"bad"), ("ok.txt", b"ok")];
    let setup = Setup::new(attack, "sanitize", &files);
    write(&setup.path("inbox").join(KEEP.0), KEEP.1);
    let (code, stdout, _) = setup.ferry(&["check", "push"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("unusable-suggestion (1 entry)") && stdout.contains(why),
        "{stdout}"
    );
    assert!(!stdout.contains("fix: rename to"), "{stdout}");
    assert!(
        stdout.len() < 4 * MESSAGE_BOUND,
        "{} bytes of output",
        stdout.len()
    );
    let before = setup.files();
    let (code, report) = setup.run();
    assert_eq!(code, 3, "{report:#}");
    let failures = failures(&report);
    assert_eq!(failures.len(), 1, "{report:#}");
    let (path, _, message) = &failures[0];
    assert_eq!(path, "bad.txt");
    assert!(
        message.contains("hostile 0.0.0 (from ")
            && message.contains(") suggested")
            && message.contains(why),
        "{message}"
    );
    assert_only_sent(&before, &setup.files(), &[("ok.txt", b"ok")]);
}

#[test]
fn a_suggestion_that_is_not_a_plain_name_is_refused() {
    assert_suggestion_refused("suggest:..", r#"a name "." or "..""#);
    assert_suggestion_refused("suggest:x/..", r#"a name "." or "..""#);
    assert_suggestion_refused("suggest:", "empty name");
    assert_suggestion_refused("suggest:x//y", "empty name");
    assert_suggestion_refused("suggest:\u{1b}[2J", "control character");
    assert_suggestion_refused("suggest-huge", "longer than 4096 bytes");
}

#[test]
fn a_suggestion_the_plugin_refuses_itself_is_refused() {
    assert_suggestion_refused("suggest:still-bad.txt", "which it refuses itself");
}

#[test]
fn a_good_suggestion_is_still_used() {
    let files: [(&str, &[u8]); 2] = [("bad.txt", b"bad"), ("ok.txt", b"ok")];
    let setup = Setup::new("suggest:fine.txt", "sanitize", &files);
    let before = setup.files();
    let (code, report) = setup.run();
    assert_eq!(code, 0, "{report:#}");
    assert_only_sent(
        &before,
        &setup.files(),
        &[("fine.txt", b"bad"), ("ok.txt", b"ok")],
    );
}

#[test]
fn a_huge_message_is_cut_in_output_and_in_the_state() {
    let setup = Setup::new("huge-message", "refuse", &THREE);
    let (code, stdout, _) = setup.ferry(&["check", "push"]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("…[cut ") && stdout.len() < 4 * MESSAGE_BOUND,
        "{} bytes",
        stdout.len()
    );
    let before = setup.files();
    for _ in 0..3 {
        let (code, report) = setup.run();
        assert_eq!(code, 1, "every file is rejected: {report:#}");
        let failures = failures(&report);
        assert_eq!(failures.len(), 3);
        assert!(
            failures
                .iter()
                .all(|(_, _, message)| message.contains("…[cut "))
        );
    }
    let stored: u64 = std::fs::read_dir(setup.path("state"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(
        stored < 1 << 20,
        "the state holds {stored} bytes after three runs of three files"
    );
    assert_only_sent(&before, &setup.files(), &[]);
    let (_, log, _) = setup.ferry(&["log"]);
    assert!(log.len() < 4 * MESSAGE_BOUND, "{} bytes of log", log.len());
}

#[test]
fn huge_advice_is_cut() {
    let setup = Setup::new("huge-message", "refuse", &THREE);
    write(
        &setup.path("inbox"),
        b"a file where the destination's folder should be",
    );
    let (code, report) = setup.run();
    assert_eq!(code, 1, "{report:#}");
    let advice = report["failures"][0]["advice"].as_str().unwrap();
    assert!(
        advice.len() < MESSAGE_BOUND && advice.ends_with(" bytes]"),
        "{advice}"
    );
    let (_, stdout, _) = setup.ferry(&["run", "push"]);
    assert!(
        stdout.contains("…[cut ") && stdout.len() < 4 * MESSAGE_BOUND,
        "{stdout}"
    );
}

/// A temporary name the destination holds is the file's own only if an earlier run
/// recorded it so (an upload it was interrupted in): then the upload goes on and replaces
/// it; otherwise the file fails and the destination's file is left as it is.
#[test]
fn a_temporary_name_the_destination_holds_is_used_only_when_a_run_recorded_it() {
    let setup = Setup::new("suggest:unused", "refuse", &[("a.txt", b"new content")]);
    let leftover: (&str, &[u8]) = ("a.txt.partial", b"half an upload");
    write(&setup.path("inbox").join(leftover.0), leftover.1);
    let before = setup.files();
    let (code, report) = setup.run();
    assert_eq!(code, 1, "{report:#}");
    let (_, category, message) = &failures(&report)[0];
    assert_eq!(category, "plugin-failure");
    assert!(
        message.contains("the destination holds already"),
        "{message}"
    );
    assert_only_sent(&before, &setup.files(), &[]);

    let size = "new content".len() as i64;
    rusqlite::Connection::open(setup.path("state/ferry.db"))
        .unwrap()
        .execute(
            "INSERT INTO partials (sync, path, temp_path, size, mtime_ns) \
             VALUES ('push', 'a.txt', ?1, ?2, NULL)",
            rusqlite::params![leftover.0, size],
        )
        .unwrap();
    let (code, report) = setup.run();
    assert_eq!(code, 0, "{report:#}");
    let mut after = before.clone();
    after.retain(|(path, _)| path != "inbox/a.txt.partial");
    assert_only_sent(&after, &setup.files(), &[("a.txt", b"new content")]);
}
