//! Hostile plugins are contained: each attack ends in an ordinary error (or achieves
//! nothing), and the host and the very same `Policy` keep working afterwards.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

use ferry::plugin::{
    CallFailure, ComponentCache, Entry, EntryKind, Limits, LoadedPlugin, PluginError, PluginSource,
    Policy, Runtime, Setting, SettingValue, TempForm, Violation,
};

fn runtime() -> Runtime {
    Runtime::new(
        ComponentCache::at(&ferry_tests::component_cache()),
        Limits::default(),
    )
    .unwrap()
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
        matches!(&error, PluginError::Call { plugin, function: "check-batch", failure: CallFailure::Deadline { .. } } if plugin == "hostile"),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("plugin hostile: check-batch ran past its time budget"),
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
