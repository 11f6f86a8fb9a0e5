//! Hostile plugins are contained: each attack ends in an ordinary error (or achieves
//! nothing), and the host and the very same `Policy` keep working afterwards; end to end,
//! `ferry plugin check`, `ferry check` and `ferry run` end soon, with the plugin failure's
//! own exit status, naming the plugin, where it came from, and the function.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry::plugin::{
    Budget, CallFailure, ComponentCache, Entry, EntryKind, Limits, LoadedPlugin, Origin,
    PluginError, PluginSource, Policy, Runtime, Setting, SettingValue, TempForm, Violation,
};
use ferry_tests::sshd::Sshd;
use ferry_tests::{ferry, run};
use serde_json::Value;
use tempfile::TempDir;

fn runtime() -> Runtime {
    runtime_with(Limits::default())
}

fn runtime_with(limits: Limits) -> Runtime {
    Runtime::new(ComponentCache::at(&ferry_tests::component_cache()), limits).unwrap()
}

fn hostile(runtime: &Runtime) -> Arc<LoadedPlugin> {
    let wasm = Path::new(env!("FERRY_TEST_PLUGIN_HOSTILE"));
    runtime
        .load(&PluginSource::File(wasm.to_path_buf()))
        .unwrap()
}

fn attacking(plugin: &Arc<LoadedPlugin>, attack: &str) -> Policy {
    let setting = Setting {
        name: "attack".into(),
        value: SettingValue::Text(attack.into()),
    };
    plugin.configure(vec![setting]).unwrap()
}

fn one_file() -> Vec<Entry> {
    vec![Entry {
        path: "a.txt".into(),
        kind: EntryKind::File,
        size: Some(1),
    }]
}

/// The attack's own report, when the plugin returned at all.
fn outcome(policy: &mut Policy) -> Result<String, PluginError> {
    let verdicts = policy.check_batch(&one_file())?;
    match &verdicts[0].violations[..] {
        [Violation::Custom(report)] => Ok(report.message.clone()),
        other => panic!("unexpected verdict {other:?}"),
    }
}

/// After a failure the same policy answers again (from a fresh instance), and so does a
/// bundled plugin loaded by the same runtime.
fn assert_still_working(runtime: &Runtime, policy: &mut Policy) {
    assert_eq!(
        policy.temp_name("x/y.csv", TempForm::Standard).unwrap(),
        "x/y.csv.partial"
    );
    let generic = runtime
        .load(&PluginSource::resolve("generic", Path::new(".")).unwrap())
        .unwrap();
    let verdicts = generic
        .configure(vec![])
        .unwrap()
        .check_batch(&one_file())
        .unwrap();
    assert!(verdicts[0].violations.is_empty());
}

#[test]
fn an_infinite_loop_runs_out_of_time() {
    let runtime = runtime();
    let mut policy = attacking(&hostile(&runtime), "loop");
    let error = outcome(&mut policy).unwrap_err();
    assert!(
        matches!(&error, PluginError::Call { plugin, function: "check-batch", failure: CallFailure::Deadline { budget: Budget::Fuel(_) } } if plugin.starts_with("hostile (from ")),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("check-batch ran past its time budget"),
        "{error}"
    );
    assert_still_working(&runtime, &mut policy);
}

#[test]
fn a_one_gib_allocation_hits_the_memory_cap() {
    let runtime = runtime();
    let mut policy = attacking(&hostile(&runtime), "allocate");
    let error = outcome(&mut policy).unwrap_err();
    assert!(
        matches!(&error, PluginError::Call { failure: CallFailure::MemoryCap { wanted, cap }, .. } if *wanted > *cap),
        "{error}"
    );
    assert_still_working(&runtime, &mut policy);
}

#[test]
fn a_panic_becomes_an_error_with_its_message() {
    let runtime = runtime();
    let mut policy = attacking(&hostile(&runtime), "panic");
    let error = outcome(&mut policy).unwrap_err();
    assert!(
        matches!(
            &error,
            PluginError::Call {
                failure: CallFailure::Trap { .. },
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("panics on purpose"), "{error}");
    assert_still_working(&runtime, &mut policy);
}

#[test]
fn reading_etc_passwd_is_refused() {
    let runtime = runtime();
    let mut policy = attacking(&hostile(&runtime), "read-file");
    let report = outcome(&mut policy).unwrap();
    assert!(report.starts_with("refused:"), "{report}");
    assert!(!report.contains("root:"), "{report}");
    assert_still_working(&runtime, &mut policy);
}

#[test]
fn opening_a_socket_is_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let runtime = runtime();
    let mut policy = attacking(&hostile(&runtime), &format!("socket:{port}"));
    let report = outcome(&mut policy).unwrap();
    assert!(report.starts_with("refused:"), "{report}");
    let accepted = listener.accept();
    assert!(
        matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the plugin reached the listener: {accepted:?}"
    );
    assert_still_working(&runtime, &mut policy);
}

#[test]
fn sleeping_is_refused_at_once() {
    let runtime = runtime();
    let mut policy = attacking(&hostile(&runtime), "sleep");
    let started = Instant::now();
    let error = outcome(&mut policy).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "{error}");
    assert!(
        matches!(
            &error,
            PluginError::Call {
                function: "check-batch",
                failure: CallFailure::Blocked(_),
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("subscribe-duration"), "{error}");
    assert_still_working(&runtime, &mut policy);
}

#[test]
fn busy_waiting_on_the_clock_meets_the_wall_clock_deadline() {
    let limits = Limits {
        fuel_per_call: u64::MAX / 2,
        timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let runtime = runtime_with(limits);
    let mut policy = attacking(&hostile(&runtime), "clock");
    let started = Instant::now();
    let error = outcome(&mut policy).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "{error}");
    assert!(
        matches!(&error, PluginError::Call { function: "check-batch", failure: CallFailure::Deadline { budget: Budget::Time(t) }, .. } if *t == Duration::from_millis(300)),
        "{error}"
    );
    assert!(
        error.to_string().contains("0.3 s of wall-clock time"),
        "{error}"
    );
    assert_still_working(&runtime, &mut policy);
}

#[test]
fn the_environment_is_empty() {
    let runtime = runtime();
    let mut policy = attacking(&hostile(&runtime), "env");
    assert_eq!(outcome(&mut policy).unwrap(), "refused: no environment");
}

#[test]
fn a_plugin_from_a_file_is_known_by_its_path_and_sha256() {
    let runtime = runtime();
    let plugin = impostor(&runtime);
    assert_eq!(plugin.name(), "generic");
    let Origin::File { path, sha256 } = plugin.origin() else {
        panic!("{:?}", plugin.origin());
    };
    assert_eq!(path, &PathBuf::from(env!("FERRY_TEST_PLUGIN_GENERIC")));
    assert_eq!(sha256.len(), 64);
    assert!(
        plugin.label().starts_with(&format!(
            "generic 0.1.0 (from {}, sha256 {}…)",
            path.display(),
            &sha256[..12]
        )),
        "{}",
        plugin.label()
    );
    let bundled = runtime
        .load(&PluginSource::resolve("generic", Path::new(".")).unwrap())
        .unwrap();
    assert_eq!(bundled.origin(), &Origin::Bundled);
    assert_eq!(bundled.label(), "generic 0.1.0");
}

fn impostor(runtime: &Runtime) -> Arc<LoadedPlugin> {
    let wasm = PathBuf::from(env!("FERRY_TEST_PLUGIN_GENERIC"));
    runtime.load(&PluginSource::File(wasm)).unwrap()
}

#[test]
fn a_plugin_built_for_another_contract_version_is_refused_naming_both() {
    let wasm = PathBuf::from(env!("FERRY_TEST_PLUGIN_FUTURE_CONTRACT"));
    let error = runtime().load(&PluginSource::File(wasm)).err().unwrap();
    assert!(
        matches!(&error, PluginError::Version { built_for, .. } if built_for == "0.2.0"),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("was built for ferry:policy@0.2.0; this ferry speaks ferry:policy@0.1.0"),
        "{error}"
    );
}

#[test]
fn a_core_module_is_refused_saying_how_to_build_a_component() {
    let dir = TempDir::new().unwrap();
    let wasm = core_module(&dir);
    let error = runtime().load(&PluginSource::File(wasm)).err().unwrap();
    assert!(matches!(&error, PluginError::CoreModule { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("cargo build --target wasm32-wasip2"),
        "{error}"
    );
    assert!(
        error.to_string().contains("wasm-tools component new"),
        "{error}"
    );
}

/// An empty core WebAssembly module (magic and version 1), as a file in `dir`.
fn core_module(dir: &TempDir) -> PathBuf {
    let wasm = dir.path().join("core.wasm");
    std::fs::write(&wasm, b"\0asm\x01\0\0\0").unwrap();
    wasm
}

// ---- end to end: plugin check, check and run, each within a bounded time ----

/// How long any command may take on a hostile plugin.
const BOUND: Duration = Duration::from_secs(30);

/// What a hostile case must produce: the exit codes of `plugin check`, `check` and
/// `run`, and a text that stdout or stderr of each holds.
struct Expect {
    plugin_check: i32,
    check: i32,
    run: i32,
    says: &'static str,
}

/// A plugin that fails while working: exit 5 from the checks; the run fails (exit 1).
const PLUGIN_FAILED: Expect = Expect {
    plugin_check: 5,
    check: 5,
    run: 1,
    says: "check-batch",
};

/// `[remotes.inbox]` uses the plugin at `wasm` with `settings`; one file to send.
fn setup(wasm: &Path, settings: &str) -> TempDir {
    setup_with(wasm, "", settings)
}

/// As [`setup`], with `remote_keys` (TOML lines) in `[remotes.inbox]`.
fn setup_with(wasm: &Path, remote_keys: &str, settings: &str) -> TempDir {
    let dir = TempDir::new().unwrap();
    std::fs::create_dir_all(dir.path().join("outbox")).unwrap();
    std::fs::write(dir.path().join("outbox/a.txt"), "a").unwrap();
    let config = format!(
        "[remotes.outbox]\ntype = \"local\"\npath = \"outbox\"\n\n\
         [remotes.inbox]\ntype = \"local\"\npath = \"inbox\"\npolicy = {:?}\n{remote_keys}\n\
         [remotes.inbox.policy_settings]\n{settings}\n\n\
         [syncs.push]\nsource = \"outbox\"\ndestination = \"inbox\"\n",
        wasm.display().to_string()
    );
    std::fs::write(dir.path().join("ferry.toml"), config).unwrap();
    dir
}

/// Run ferry with `args` in `dir`; its exit code, stdout and stderr together, and how
/// long it took (asserted within [`BOUND`]).
fn timed(dir: &Path, args: &[&str]) -> (i32, String, Duration) {
    let started = Instant::now();
    let (code, stdout, stderr) = run(ferry(dir).args(args));
    let took = started.elapsed();
    assert!(took < BOUND, "ferry {args:?} took {took:?}");
    (code, format!("{stdout}\n{stderr}"), took)
}

/// Each of `plugin check`, `check` and `run` on the plugin at `wasm` with `attack` (or
/// no settings): the expected exit code and text, the plugin named with its origin.
fn contained(wasm: &Path, attack: Option<&str>, expect: &Expect) {
    let settings = attack.map_or(String::new(), |a| format!("attack = {a:?}"));
    let dir = setup(wasm, &settings);
    let wasm_arg = wasm.to_str().unwrap();
    let mut plugin_check = vec!["plugin", "check", wasm_arg, "outbox"];
    let set = attack.map(|a| format!("attack={a}"));
    if let Some(set) = &set {
        plugin_check.extend(["--set", set]);
    }
    let commands: [(&[&str], i32); 3] = [
        (&plugin_check, expect.plugin_check),
        (&["check", "push"], expect.check),
        (&["run", "push"], expect.run),
    ];
    for (args, code) in commands {
        let (got, output, took) = timed(dir.path(), args);
        eprintln!("{attack:?} {args:?}: exit {got} in {took:.2?}");
        assert_eq!(got, code, "ferry {args:?}: {output}");
        assert!(output.contains(expect.says), "ferry {args:?}: {output}");
        assert!(
            output.contains(&format!("(from {wasm_arg}")),
            "ferry {args:?} names no origin: {output}"
        );
    }
}

fn hostile_wasm() -> &'static Path {
    Path::new(env!("FERRY_TEST_PLUGIN_HOSTILE"))
}

#[test]
fn end_to_end_sleeping_is_refused() {
    let expect = Expect {
        says: "check-batch called wasi:clocks/monotonic-clock",
        ..PLUGIN_FAILED
    };
    contained(hostile_wasm(), Some("sleep"), &expect);
}

/// `plugin test` on cases whose plugin sleeps: the plugin failed (5), not a differing
/// case (1).
#[test]
fn end_to_end_plugin_test_of_a_failing_plugin_exits_5() {
    let dir = TempDir::new().unwrap();
    let cases = "[settings]\nattack = \"sleep\"\n\n[[entry]]\npath = \"a.txt\"\nviolations = []\n";
    std::fs::write(dir.path().join("cases.toml"), cases).unwrap();
    let wasm = hostile_wasm().to_str().unwrap();
    let (code, output, _) = timed(dir.path(), &["plugin", "test", wasm, "cases.toml"]);
    assert_eq!(code, 5, "{output}");
    assert!(
        output.contains("check-batch called wasi:clocks/monotonic-clock"),
        "{output}"
    );
    assert!(
        output.contains(&format!("hostile (from {wasm}")),
        "{output}"
    );
}

#[test]
fn end_to_end_busy_waiting_meets_a_deadline() {
    let expect = Expect {
        says: "check-batch ran past its time budget",
        ..PLUGIN_FAILED
    };
    contained(hostile_wasm(), Some("clock"), &expect);
}

#[test]
fn end_to_end_an_infinite_loop_meets_a_deadline() {
    let expect = Expect {
        says: "check-batch ran past its time budget",
        ..PLUGIN_FAILED
    };
    contained(hostile_wasm(), Some("loop"), &expect);
}

#[test]
fn end_to_end_a_huge_allocation_meets_the_memory_cap() {
    let expect = Expect {
        says: "check-batch tried to grow its memory",
        ..PLUGIN_FAILED
    };
    contained(hostile_wasm(), Some("allocate"), &expect);
}

#[test]
fn end_to_end_a_panic_is_a_plugin_failure() {
    let expect = Expect {
        says: "panics on purpose",
        ..PLUGIN_FAILED
    };
    contained(hostile_wasm(), Some("panic"), &expect);
}

/// An attack on a capability achieves nothing: the plugin answers "refused: …", which
/// reads as a rejection of the only file (exit 1 from the checks and from the run, which
/// could send nothing).
#[test]
fn end_to_end_files_sockets_and_the_environment_are_out_of_reach() {
    let expect = Expect {
        plugin_check: 1,
        check: 1,
        run: 1,
        says: "refused",
    };
    for attack in ["read-file", "env", "socket:9"] {
        contained(hostile_wasm(), Some(attack), &expect);
    }
}

#[test]
fn end_to_end_a_generic_from_a_file_is_shown_with_its_origin() {
    let expect = Expect {
        plugin_check: 0,
        check: 0,
        run: 0,
        says: "generic 0.1.0 (from ",
    };
    let wasm = PathBuf::from(env!("FERRY_TEST_PLUGIN_GENERIC"));
    contained(&wasm, None, &expect);
    let dir = setup(&wasm, "");
    for command in ["check", "run"] {
        let (_, stdout, _) = run(ferry(dir.path()).args([command, "push", "--json"]));
        let report: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(report["plugin"]["name"], "generic", "{command}");
        let origin = &report["plugin"]["origin"];
        assert_eq!(origin["path"], wasm.display().to_string(), "{command}");
        assert_eq!(origin["sha256"].as_str().unwrap().len(), 64, "{command}");
    }
    let (_, stdout, _) = run(ferry(dir.path()).args(["plugin", "inspect", "generic", "--json"]));
    let bundled: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(bundled["origin"], "bundled");
}

#[test]
fn end_to_end_another_contract_version_or_a_core_module_is_a_config_error() {
    let scratch = TempDir::new().unwrap();
    let cases = [
        (
            PathBuf::from(env!("FERRY_TEST_PLUGIN_FUTURE_CONTRACT")),
            "built for ferry:policy@0.2.0; this ferry speaks ferry:policy@0.1.0",
        ),
        (core_module(&scratch), "cargo build --target wasm32-wasip2"),
    ];
    for (wasm, says) in cases {
        let dir = setup(&wasm, "");
        let wasm_arg = wasm.to_str().unwrap();
        for args in [
            &["plugin", "check", wasm_arg, "outbox"][..],
            &["check", "push"],
            &["run", "push"],
        ] {
            let (code, output, took) = timed(dir.path(), args);
            eprintln!("{wasm_arg} {args:?}: exit {code} in {took:.2?}");
            assert_eq!(code, 2, "ferry {args:?}: {output}");
            assert!(output.contains(says), "ferry {args:?}: {output}");
        }
    }
}

/// `policy_timeout` sets a remote's deadline per call, up to the host's maximum.
#[test]
fn end_to_end_a_remote_sets_its_policy_timeout_within_the_host_maximum() {
    let attack = "attack = \"clock\"";
    let dir = setup_with(hostile_wasm(), "policy_timeout = \"500ms\"", attack);
    let (code, output, took) = timed(dir.path(), &["check", "push"]);
    assert_eq!(code, 5, "{output}");
    assert!(
        output.contains("check-batch ran past its time budget (0.5 s of wall-clock time)"),
        "{output}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    let dir = setup_with(hostile_wasm(), "policy_timeout = \"2m\"", attack);
    let (code, output, _) = timed(dir.path(), &["check", "push"]);
    assert_eq!(code, 2, "{output}");
    assert!(
        output.contains("ferry.toml:9:18: remotes.inbox.policy_timeout"),
        "{output}"
    );
    assert!(output.contains("policy_timeout"), "{output}");
    assert!(
        output.contains("longer than the 60s a plugin call may take at most"),
        "{output}"
    );
}

/// Every attack, in a real run to an SFTP destination: the run ends within [`BOUND`],
/// names the plugin with its origin, sends nothing, and leaves the partner's folder as
/// it was (no temporary file, the partner's own file intact).
#[test]
fn end_to_end_every_attack_on_a_run_to_sftp_ends_and_touches_nothing() {
    let sshd = Sshd::start();
    std::fs::write(sshd.root.join("keep.txt"), "the partner's").unwrap();
    sshd.give(&sshd.root);
    let wasm = hostile_wasm().display().to_string();
    for attack in ["sleep", "loop", "allocate", "panic", "read-file", "env"] {
        let dir = TempDir::new().unwrap();
        std::fs::create_dir_all(dir.path().join("outbox")).unwrap();
        std::fs::write(dir.path().join("outbox/a.txt"), "a").unwrap();
        let partner = sshd.remote_toml("partner", sshd.port, &sshd.key_file, &sshd.known_hosts);
        let config = format!(
            "[remotes.outbox]\ntype = \"local\"\npath = \"outbox\"\n\n{partner}policy = {wasm:?}\n\
             [remotes.partner.policy_settings]\nattack = {attack:?}\n\n\
             [syncs.push]\nsource = \"outbox\"\ndestination = \"partner\"\n"
        );
        std::fs::write(dir.path().join("ferry.toml"), config).unwrap();
        let (code, output, took) = timed(dir.path(), &["run", "push"]);
        eprintln!("{attack}: exit {code} in {took:.2?}");
        assert_eq!(code, 1, "{attack}: {output}");
        assert!(
            output.contains(&format!("(from {wasm}")),
            "{attack}: {output}"
        );
        assert_eq!(
            ferry_tests::tree(&sshd.root),
            vec![("keep.txt".to_string(), b"the partner's".to_vec())],
            "{attack}"
        );
    }
}

/// An honest plugin whose answer to a whole batch would not fit its memory cap (1,024
/// long paths breaking hundreds of rules each) still checks every entry: the batch is
/// checked again in halves.
#[test]
fn a_batch_too_large_for_the_memory_cap_is_checked_in_halves() {
    let runtime = runtime();
    let smb = runtime
        .load(&PluginSource::resolve("windows-smb", Path::new(".")).unwrap())
        .unwrap();
    let folder = "d<:".repeat(80);
    let entries: Vec<Entry> = (0..1024)
        .map(|i| Entry {
            path: format!("{folder}/{folder}/{folder}/{i:04}{}", "n<>:|?*".repeat(30)),
            kind: EntryKind::File,
            size: Some(1),
        })
        .collect();
    let verdicts = smb
        .configure(vec![])
        .unwrap()
        .check_batch(&entries)
        .unwrap();
    assert_eq!(verdicts.len(), entries.len());
    assert!(verdicts.iter().all(|v| v.violations.len() > 100));
}
