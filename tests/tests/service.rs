//! `ferry serve` end to end: the real binary on a free loopback port, real folders, real
//! signals. Who may do what (the bearer token), runs asked for and run on schedules (never
//! two of one sync at once), stopping (SIGTERM, SIGKILL, max_duration) without losing or
//! corrupting a file, reloading (SIGHUP, `POST /api/reload`), pausing, the slots missed
//! while the service was down, and hostile requests.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use ferry_tests::service::{SYNC, Service, Setup, Signal, TOKEN};
use ferry_tests::{noise, tree};
use serde_json::Value;

const RUN_TIMEOUT: Duration = Duration::from_secs(15);

/// The files under `dst/` that are not temporary uploads (`*.partial`), with their bytes.
fn finals(setup: &Setup) -> Vec<(String, Vec<u8>)> {
    tree(&setup.dst(""))
        .into_iter()
        .filter(|(path, _)| !path.ends_with(".partial"))
        .collect()
}

/// The temporary uploads under `dst/`.
fn partials(setup: &Setup) -> Vec<String> {
    tree(&setup.dst(""))
        .into_iter()
        .map(|(path, _)| path)
        .filter(|path| path.ends_with(".partial"))
        .collect()
}

/// Every file of `src/` is in `dst/` with the same bytes, and nothing else is (`except`:
/// source files that must not be delivered).
/// Run the sync now, to success: every source file delivered, no upload left over; the
/// run's report.
fn run_to_success(setup: &Setup, service: &Service) -> Value {
    let id = service.trigger(SYNC);
    let report = service.wait_run(id, RUN_TIMEOUT);
    assert_eq!(
        report["status"],
        "success",
        "{report:#}\n{}",
        service.logs()
    );
    assert_delivered(setup, &[], service);
    assert!(partials(setup).is_empty());
    report
}

fn assert_delivered(setup: &Setup, except: &[&str], service: &Service) {
    let want: Vec<_> = tree(&setup.src(""))
        .into_iter()
        .filter(|(path, _)| !except.contains(&path.as_str()))
        .collect();
    let got = tree(&setup.dst(""));
    let names = |files: &[(String, Vec<u8>)]| -> Vec<String> {
        files.iter().map(|(path, _)| path.clone()).collect()
    };
    assert_eq!(
        names(&got),
        names(&want),
        "dst/ holds other files than src/\n{}",
        service.logs()
    );
    for ((path, got), (_, want)) in got.iter().zip(&want) {
        assert!(
            got == want,
            "{path}: {} bytes delivered, {} in the source, not the same bytes\n{}",
            got.len(),
            want.len(),
            service.logs()
        );
    }
}

/// No file in `dst/` under its final name differs from the source: a partial upload is only
/// ever under its temporary name.
fn assert_no_wrong_final(setup: &Setup, service: &Service) {
    for (path, bytes) in finals(setup) {
        let source = std::fs::read(setup.src(&path)).unwrap_or_default();
        assert!(
            bytes == source,
            "{path} is at its final name with {} bytes, the source has {}: a partial upload \
             under the final name\n{}",
            bytes.len(),
            source.len(),
            service.logs()
        );
    }
}

/// A big file (`big` bytes) and `small` small ones under `src/`; the total bytes.
fn big_and_small(setup: &Setup, big: usize, small: usize) -> u64 {
    setup.write("big.bin", &noise(big, 1));
    for i in 0..small {
        setup.write(
            &format!("small/{i:02}.txt"),
            &noise(1000 + i * 37, 100 + i as u64),
        );
    }
    (big + (0..small).map(|i| 1000 + i * 37).sum::<usize>()) as u64
}

/// Waits until the running run of `SYNC` has sent at least `bytes`; its live state.
fn wait_sent(service: &Service, bytes: u64) -> Value {
    let syncs = service.wait_for(
        "/api/syncs",
        |json| json["syncs"][0]["running"]["bytes_done"].as_u64() >= Some(bytes),
        RUN_TIMEOUT,
    );
    syncs["syncs"][0]["running"].clone()
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect()
}

fn run_ids(runs: &[Value]) -> Vec<i64> {
    runs.iter().filter_map(|run| run["run"].as_i64()).collect()
}

// 1. Auth

#[test]
fn changes_need_the_exact_token_and_reads_need_it_only_beyond_loopback() {
    let setup = Setup::new("", "generic", "");
    setup.write("a.txt", b"a");
    let service = setup.start();
    let run = format!("/api/syncs/{SYNC}/run");

    let refused = service.post_with(&run, None);
    assert_eq!(refused.status, 401, "{}\n{}", refused.body, service.logs());
    assert_eq!(refused.header("www-authenticate"), Some("Bearer"));
    assert!(refused.json()["error"].is_string(), "{}", refused.body);

    let mut same_length = TOKEN.to_string();
    let last = same_length.pop().unwrap();
    same_length.push(if last == 'x' { 'y' } else { 'x' });
    let prefix = &TOKEN[..TOKEN.len() - 1];
    let longer = format!("{TOKEN}x");
    let lower = TOKEN.to_uppercase();
    for wrong in [same_length.as_str(), prefix, &longer, &lower, "", " "] {
        let response = service.post_with(&run, Some(wrong));
        assert_eq!(
            response.status,
            401,
            "token {wrong:?}: {}\n{}",
            response.body,
            service.logs()
        );
        assert_eq!(response.header("www-authenticate"), Some("Bearer"));
    }
    for header in [
        TOKEN.to_string(),
        format!("Basic {TOKEN}"),
        format!("Bearer{TOKEN}"),
        format!("Token {TOKEN}"),
    ] {
        let response = service.request("POST", &run, &[("Authorization", &header)], b"");
        assert_eq!(response.status, 401, "Authorization: {header}");
    }
    // The sign-in cookie holds a digest of the token, never the token itself.
    let cookie = format!("ferry_session={TOKEN}");
    let response = service.request("POST", &run, &[("Cookie", &cookie)], b"");
    assert_eq!(
        response.status, 401,
        "the token as a cookie: {}",
        response.body
    );
    assert!(
        service.runs(SYNC).is_empty(),
        "a refused request started a run"
    );

    let (status, body) = service.post(&run, Some(TOKEN));
    assert_eq!(status, 202, "{body}\n{}", service.logs());
    let id = serde_json::from_str::<Value>(&body).unwrap()["run"]
        .as_i64()
        .unwrap_or_else(|| panic!("no run id: {body}"));
    service.wait_run(id, RUN_TIMEOUT);

    for path in [
        "/api/syncs",
        "/api/runs",
        &format!("/api/runs/{id}"),
        "/metrics",
    ] {
        let (status, body) = service.get(path);
        assert_eq!(status, 200, "GET {path} on loopback needs no token: {body}");
    }
}

#[test]
fn without_a_token_nothing_may_be_changed() {
    let setup = Setup::new("", "generic", "");
    let service = setup.start_env(&[]);
    for token in [None, Some(TOKEN), Some("")] {
        let response = service.post_with(&format!("/api/syncs/{SYNC}/run"), token);
        assert_eq!(response.status, 401, "{token:?}: {}", response.body);
        assert_eq!(response.header("www-authenticate"), Some("Bearer"));
        let error = response.json()["error"].as_str().unwrap_or("").to_string();
        assert!(error.contains("token"), "{error}");
    }
    let (status, _) = service.post("/api/reload", Some(TOKEN));
    assert_eq!(status, 401);
    let (status, _) = service.get("/api/syncs");
    assert_eq!(status, 200);
}

#[test]
fn beyond_loopback_a_token_is_required_to_start_and_to_read() {
    let setup = Setup::new("", "generic", "");
    let refused = Service::try_start(setup.path(), &[], &["--listen", "0.0.0.0:0"])
        .err()
        .expect("serving 0.0.0.0 without a token must not start");
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused.stderr.contains("listen") && refused.stderr.contains("token"),
        "the error names listen and the token: {}",
        refused.stderr
    );
    assert!(!refused.stdout.contains("listening"), "{refused:?}");

    // The same through the config's listen, which the error points at.
    setup.write_config(&Setup::config("listen = \"0.0.0.0:0\"", "generic", ""));
    let refused = Service::try_start(setup.path(), &[], &[])
        .err()
        .expect("serving 0.0.0.0 without a token must not start");
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused.stderr.contains("ferry.toml:2:") && refused.stderr.contains("token"),
        "the error points at listen in the config: {}",
        refused.stderr
    );

    let service = Service::start_args(
        setup.path(),
        &[("FERRY_TOKEN", TOKEN)],
        &["--listen", "0.0.0.0:0"],
    );
    assert!(
        service.listening.starts_with("0.0.0.0:"),
        "{}",
        service.listening
    );
    for path in ["/api/syncs", "/api/runs", "/api/runs/1", "/metrics"] {
        let response = service.get_with(path, None);
        assert_eq!(
            response.status, 401,
            "GET {path} beyond loopback without the token: {}",
            response.body
        );
        assert_eq!(response.header("www-authenticate"), Some("Bearer"));
        let response = service.get_with(path, Some("wrong-token-wrong-token"));
        assert_eq!(response.status, 401, "GET {path} with a wrong token");
    }
    let response = service.get_with("/api/syncs", Some(TOKEN));
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.json()["syncs"][0]["name"], SYNC);
    let (status, _) = service.get("/metrics");
    assert_eq!(status, 401);
    // The page without the token: the sign-in form, and nothing of the syncs.
    let page = service.get_with("/", None);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("class=\"sign-in\""), "{}", page.body);
    assert!(!page.body.contains("data-sync="), "{}", page.body);
    let page = service.get_with("/", Some(TOKEN));
    assert!(
        page.body.contains(&format!("data-sync=\"{SYNC}\"")),
        "{}",
        page.body
    );
}

#[test]
fn a_short_token_is_refused_at_start() {
    let setup = Setup::new("", "generic", "");
    for short in ["short-token", "  fifteen-chars  "] {
        let refused = Service::try_start(setup.path(), &[("FERRY_TOKEN", short)], &[])
            .err()
            .unwrap_or_else(|| panic!("token {short:?} is too short, yet the service started"));
        assert_eq!(refused.code, 2, "{refused:?}");
        assert!(
            refused.stderr.contains("FERRY_TOKEN") && refused.stderr.contains("16"),
            "the error names the variable and the minimum: {}",
            refused.stderr
        );
        assert!(
            !refused.stderr.contains(short.trim()),
            "the error repeats the secret: {}",
            refused.stderr
        );
    }
    // token_file: the error points at the setting.
    std::fs::write(setup.path().join("token"), "tiny\n").unwrap();
    setup.write_config(&Setup::config("token_file = \"token\"", "generic", ""));
    let refused = Service::try_start(setup.path(), &[], &["--listen", "127.0.0.1:0"])
        .err()
        .expect("a short token_file must not start");
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused.stderr.contains("ferry.toml:2:") && refused.stderr.contains("16"),
        "{}",
        refused.stderr
    );
}

#[test]
fn the_token_is_read_again_on_reload_and_a_bad_one_is_refused() {
    let setup = Setup::new("token_file = \"token\"", "generic", "");
    let token_file = setup.path().join("token");
    let new = "a-brand-new-token-0123456789";
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let service = Service::start(setup.path(), &[]);
    let pause = format!("/api/syncs/{SYNC}/pause");

    std::fs::write(&token_file, format!("{new}\n")).unwrap();
    assert_eq!(
        service.post(&pause, Some(TOKEN)).0,
        200,
        "read at reload only"
    );
    let (status, body) = service.post("/api/reload", Some(TOKEN));
    assert_eq!(status, 200, "{body}\n{}", service.logs());
    assert_eq!(service.post(&pause, Some(TOKEN)).0, 401, "the old token");
    assert_eq!(service.post(&pause, Some(new)).0, 200, "the new token");

    // Too short, then gone: the reload is refused and the token in use stays.
    std::fs::write(&token_file, "tiny\n").unwrap();
    let (status, body) = service.post("/api/reload", Some(new));
    assert_eq!(status, 400, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("ferry.toml:2:") && error.contains("16"),
        "{answer:#}"
    );
    assert!(
        !error.contains("tiny"),
        "the error repeats the secret: {error}"
    );
    assert_eq!(service.post(&pause, Some(new)).0, 200);
    std::fs::remove_file(&token_file).unwrap();
    let (status, body) = service.post("/api/reload", Some(new));
    assert_eq!(status, 400, "{body}");
    assert_eq!(service.post(&pause, Some(new)).0, 200);
    assert_eq!(service.post(&pause, Some("tiny")).0, 401);
}

#[test]
fn a_reload_cannot_leave_a_service_beyond_loopback_without_a_token() {
    let setup = Setup::new("token_file = \"token\"", "generic", "");
    std::fs::write(setup.path().join("token"), TOKEN).unwrap();
    let mut service = Service::start_args(setup.path(), &[], &["--listen", "0.0.0.0:0"]);
    service.token = Some(TOKEN.to_string());
    assert_eq!(service.get_with("/api/syncs", None).status, 401);

    // The config no longer sets a token: a reload must not take it, since the service
    // listens on 0.0.0.0 (said by --listen, not by the config).
    setup.write_config(&Setup::config("", "generic", ""));
    let (status, body) = service.post("/api/reload", Some(TOKEN));
    assert_eq!(
        status, 400,
        "a reload left a service on {} without a token: {body}",
        service.listening
    );
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert!(
        answer["error"]
            .as_str()
            .unwrap_or_default()
            .contains("token"),
        "{answer:#}"
    );
    let response = service.get_with("/api/syncs", Some(TOKEN));
    assert_eq!(
        response.status, 200,
        "the token in use stays: {}",
        response.body
    );
    assert_eq!(service.get_with("/api/syncs", None).status, 401);
    let (status, _) = service.post(&format!("/api/syncs/{SYNC}/pause"), Some(TOKEN));
    assert_eq!(status, 200);
}

// 2. A run asked for, with per-file failures

#[test]
fn a_triggered_run_reports_each_refused_file_like_run_json_and_delivers_the_rest() {
    let files: [(&str, Vec<u8>); 4] = [
        ("good.txt", b"good\r\n\x00bytes".to_vec()),
        ("dir/nested.bin", noise(300_000, 7)),
        ("dir/empty-ish.txt", b"x".to_vec()),
        ("a:b.txt", b"refused by windows-smb".to_vec()),
    ];
    let setup = Setup::new("", "windows-smb", "");
    let twin = Setup::new("", "windows-smb", "");
    for (path, content) in &files {
        setup.write(path, content);
        twin.write(path, content);
    }
    let service = setup.start();
    let id = service.trigger(SYNC);
    let report = service.wait_run(id, RUN_TIMEOUT);
    let logs = service.logs();
    assert_eq!(report["status"], "partial_failure", "{report:#}\n{logs}");
    assert_eq!(report["id"], id);
    assert_eq!(report["run"], id);
    assert_eq!(report["sync"], SYNC);
    assert_eq!(report["transferred"], 3, "{report:#}");
    let failures = report["failures"].as_array().expect("failures");
    assert_eq!(failures.len(), 1, "{report:#}");
    let failure = &failures[0];
    assert_eq!(failure["path"], "a:b.txt");
    assert_eq!(failure["category"], "invalid-name");
    for key in ["operation", "retry", "message", "advice"] {
        assert!(
            failure[key].as_str().is_some_and(|text| !text.is_empty()),
            "{key} is empty in {failure}"
        );
    }
    assert_delivered(&setup, &["a:b.txt"], &service);

    // The list and the sync show the same run.
    let runs = service.runs(SYNC);
    assert_eq!(run_ids(&runs), vec![id]);
    assert_eq!(runs[0]["status"], "partial_failure");
    let state = service.sync_state(SYNC);
    assert_eq!(state["last_run"]["run"], id, "{state:#}");
    assert!(state["running"].is_null(), "{state:#}");
    let (status, metrics) = service.get("/metrics");
    assert_eq!(status, 200);
    assert!(
        metrics.lines().any(|line| line.starts_with("ferry_runs")
            && line.contains("sync=\"nightly\"")
            && line.contains("status=\"partial_failure\"")
            && line.ends_with(" 1")),
        "{metrics}"
    );

    // The same object as `ferry run --json` of the same setup prints.
    let (code, stdout, stderr) =
        ferry_tests::run(ferry_tests::ferry(twin.path()).args(["run", SYNC, "--json"]));
    assert_eq!(code, 3, "{stdout}{stderr}");
    let cli: Value = serde_json::from_str(&stdout).unwrap();
    let mut api_keys = keys(&report);
    // What the API adds: the run's id, and when it started and finished.
    for added in ["id", "started", "finished"] {
        assert!(api_keys.remove(added), "{added} missing: {report:#}");
    }
    let started = report["started"].as_str().unwrap();
    assert!(started.ends_with("+00:00") && started < report["finished"].as_str().unwrap());
    let cli_keys = keys(&cli);
    let only_cli: BTreeSet<_> = cli_keys.difference(&api_keys).cloned().collect();
    let only_api: BTreeSet<_> = api_keys.difference(&cli_keys).cloned().collect();
    assert!(only_api.is_empty(), "not in run --json: {only_api:?}");
    // What the state store does not keep: the run's phases and which plugin checked it.
    assert_eq!(
        only_cli,
        BTreeSet::from(["phases".to_string(), "plugin".to_string()]),
        "run --json has keys the API lacks"
    );
    let specified = [
        "sync",
        "run",
        "status",
        "dry_run",
        "transferred",
        "failed",
        "rejected",
        "skipped",
        "deleted",
        "bytes",
        "seconds",
        "failures",
        "notes",
    ];
    for key in specified {
        assert!(api_keys.contains(key), "{key} missing: {report:#}");
        let kind = |value: &Value| std::mem::discriminant(value);
        assert!(
            kind(&report[key]) == kind(&cli[key])
                || (report[key].is_number() && cli[key].is_number()),
            "{key}: {} in the API, {} in run --json",
            report[key],
            cli[key]
        );
    }
    for key in [
        "status",
        "transferred",
        "failed",
        "rejected",
        "skipped",
        "bytes",
    ] {
        assert_eq!(report[key], cli[key], "{key}");
    }
    assert_eq!(failure, &cli["failures"][0]);
}

#[test]
fn a_run_that_cannot_start_is_409_saying_why() {
    let setup = Setup::new("", "no-such-plugin", "");
    setup.write("a.txt", b"a");
    let service = setup.start();
    let (status, body) = service.post(&format!("/api/syncs/{SYNC}/run"), Some(TOKEN));
    assert_eq!(status, 409, "{body}\n{}", service.logs());
    let answer: Value = serde_json::from_str(&body).unwrap();
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(error.contains("no-such-plugin"), "{answer:#}");
    let state = service.sync_state(SYNC);
    assert_eq!(state["last_error"], error, "{state:#}");
    assert!(state["running"].is_null(), "{state:#}");
    assert!(service.runs(SYNC).is_empty());
    assert!(tree(&setup.dst("")).is_empty());
}

#[test]
fn a_run_another_ferry_holds_is_refused_saying_why() {
    let setup = Setup::new("", "generic", "");
    big_and_small(&setup, 4 << 20, 3);
    let service = setup.start();
    let cli = ferry_tests::ferry(setup.path())
        .args(["run", SYNC, "--bwlimit", "2M", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    service.wait_for(
        "/api/runs",
        |json| json["runs"][0]["status"] == "running",
        RUN_TIMEOUT,
    );
    let (status, body) = service.post(&format!("/api/syncs/{SYNC}/run"), Some(TOKEN));
    let state = service.sync_state(SYNC);
    let runs = service.runs(SYNC);
    let output = cli.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_delivered(&setup, &[], &service);
    let skip = runs
        .iter()
        .find(|run| run["status"] == "skipped")
        .unwrap_or_else(|| panic!("no skipped run recorded: {runs:#?}"));
    assert!(
        skip["notes"][0]
            .as_str()
            .unwrap_or_default()
            .contains("another ferry"),
        "{skip:#}"
    );
    assert_eq!(status, 409, "{body}");
    assert!(
        body.contains("another ferry"),
        "the refusal says why (another ferry holds the sync's lock), not only that it \
         did not start: {body}\n{state:#}"
    );
}

// 3. Overlap

#[test]
fn asking_for_a_run_while_one_runs_queues_exactly_one_more() {
    let setup = Setup::new("", "generic", "bwlimit = \"1M\"");
    big_and_small(&setup, 3 << 20, 3);
    let service = setup.start();
    let first = service.trigger(SYNC);
    wait_sent(&service, 1);
    let path = format!("/api/syncs/{SYNC}/run");
    for _ in 0..3 {
        let (status, body) = service.post(&path, Some(TOKEN));
        assert_eq!(status, 202, "{body}");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap(),
            serde_json::json!({"queued": true}),
            "a second run while one runs is queued\n{}",
            service.logs()
        );
    }
    let report = service.wait_run(first, RUN_TIMEOUT);
    assert_eq!(report["status"], "success", "{report:#}");
    // The queued run follows, once, and finds nothing left to do.
    service.wait_for(
        &format!("/api/runs?sync={SYNC}"),
        |json| {
            let runs = json["runs"].as_array().unwrap();
            runs.len() >= 2 && runs[0]["status"] != "running"
        },
        RUN_TIMEOUT,
    );
    std::thread::sleep(Duration::from_millis(500));
    let runs = service.runs(SYNC);
    assert_eq!(
        runs.len(),
        2,
        "three asks while running queue one run: {runs:#?}"
    );
    assert_eq!(runs[0]["status"], "nothing_to_do", "{runs:#?}");
    assert!(runs[0]["run"].as_i64() > Some(first));
    assert_delivered(&setup, &[], &service);
}

#[test]
fn simultaneous_asks_start_one_run_and_queue_one_more() {
    let setup = Setup::new("", "generic", "bwlimit = \"1M\"");
    big_and_small(&setup, 2 << 20, 2);
    let service = setup.start();
    let path = format!("/api/syncs/{SYNC}/run");
    let answers: Vec<(u16, String)> = std::thread::scope(|scope| {
        let asks: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| service.post(&path, Some(TOKEN))))
            .collect();
        asks.into_iter().map(|ask| ask.join().unwrap()).collect()
    });
    let started: Vec<i64> = answers
        .iter()
        .filter_map(|(_, body)| serde_json::from_str::<Value>(body).ok()?["run"].as_i64())
        .collect();
    assert!(
        answers.iter().all(|(status, _)| *status == 202),
        "{answers:?}"
    );
    assert_eq!(
        started.len(),
        1,
        "exactly one ask starts a run: {answers:?}"
    );
    assert_eq!(
        answers
            .iter()
            .filter(|(_, body)| body == "{\"queued\":true}")
            .count(),
        7,
        "{answers:?}"
    );
    assert_eq!(
        service.wait_run(started[0], RUN_TIMEOUT)["status"],
        "success"
    );
    service.wait_for(
        &format!("/api/runs?sync={SYNC}"),
        |json| {
            json["runs"].as_array().unwrap().len() == 2 && json["runs"][0]["status"] != "running"
        },
        RUN_TIMEOUT,
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(service.runs(SYNC).len(), 2, "{:#?}", service.runs(SYNC));
    assert_delivered(&setup, &[], &service);
}

#[test]
fn a_slot_that_comes_while_the_run_still_goes_is_skipped_and_recorded() {
    let setup = Setup::new("", "generic", "schedule = \"every 2s\"\nbwlimit = \"2M\"");
    big_and_small(&setup, 10 << 20, 2);
    let service = setup.start();
    let deadline = Instant::now() + Duration::from_secs(15);
    let skipped = loop {
        let runs = service.runs(SYNC);
        let running: Vec<_> = runs.iter().filter(|r| r["status"] == "running").collect();
        assert!(
            running.len() <= 1,
            "two runs of one sync at once: {runs:#?}\n{}",
            service.logs()
        );
        let state = service.sync_state(SYNC);
        if let (Some(live), [recorded]) = (state["running"]["run"].as_i64(), running.as_slice()) {
            assert_eq!(recorded["run"], live, "{state:#}\n{runs:#?}");
        }
        if let Some(skip) = runs.iter().find(|r| r["status"] == "skipped") {
            break (skip.clone(), runs);
        }
        assert!(
            Instant::now() < deadline,
            "no slot was skipped while the run went on: {runs:#?}\n{}",
            service.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let (skip, runs) = skipped;
    let long_run = runs
        .iter()
        .find(|r| r["status"] == "running")
        .unwrap_or_else(|| panic!("the long run is no longer running: {runs:#?}"));
    let note = skip["notes"][0].as_str().unwrap_or_default();
    assert!(
        note.contains("still going") && note.contains(&format!("run {}", long_run["run"])),
        "the skip says why, naming the run: {skip:#}"
    );
    assert_eq!(skip["transferred"], 0);
    assert!(skip["failures"].as_array().unwrap().is_empty());
    let report = service.get_json(&format!("/api/runs/{}", skip["run"]));
    assert_eq!(report["status"], "skipped");
    assert_eq!(report["notes"], skip["notes"]);
}

// 4. SIGTERM mid-run, then a restart

#[test]
fn sigterm_stops_the_run_cleanly_and_the_next_run_finishes_it() {
    let setup = Setup::new("stop_grace = \"10s\"", "generic", "bwlimit = \"2M\"");
    let total = big_and_small(&setup, 8 << 20, 30);
    let mut service = setup.start();
    let id = service.trigger(SYNC);
    let live = wait_sent(&service, 2 << 20);
    assert_eq!(live["run"], id, "{live:#}");
    assert_eq!(live["phase"], "transferring", "{live:#}");
    assert_eq!(live["files_total"], 31, "{live:#}");
    assert_eq!(live["bytes_total"], total, "{live:#}");
    assert!(live["bytes_done"].as_u64() < Some(total), "{live:#}");
    // A run asked for meanwhile is queued; a stopping service starts it not.
    let (status, body) = service.post(&format!("/api/syncs/{SYNC}/run"), Some(TOKEN));
    assert_eq!((status, body.as_str()), (202, "{\"queued\":true}"));
    service.signal(Signal::Term);
    let signalled = Instant::now();
    let code = service.wait_exit(Duration::from_secs(10));
    assert_eq!(code, 0, "SIGTERM exits 0\n{}", service.logs());
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "the run took {:?} to stop",
        signalled.elapsed()
    );
    assert!(service.stderr().contains("stopping"), "{}", service.logs());
    assert_no_wrong_final(&setup, &service);
    assert!(
        finals(&setup).len() < tree(&setup.src("")).len(),
        "the run was stopped before it delivered everything"
    );
    drop(service);

    let service = setup.start();
    let report = service.get_json(&format!("/api/runs/{id}"));
    assert_eq!(report["status"], "interrupted", "{report:#}");
    let note = report["notes"][0].as_str().unwrap_or_default();
    assert!(
        note.contains("stopped before it finished (the service was stopped)"),
        "{report:#}"
    );
    let sent_before = report["bytes"].as_u64().unwrap();
    assert_eq!(
        run_ids(&service.runs(SYNC)),
        vec![id],
        "the queued run did not start while the service stopped"
    );
    let state = service.sync_state(SYNC);
    assert!(
        state["running"].is_null(),
        "a restart starts no run: {state:#}"
    );
    assert_eq!(state["last_run"]["status"], "interrupted");

    let report = run_to_success(&setup, &service);
    let sent_after = report["bytes"].as_u64().unwrap();
    assert!(
        sent_after < total,
        "the next run continues ({sent_before} + {sent_after} bytes of {total})"
    );
}

#[test]
fn sigint_stops_the_service_like_sigterm() {
    let setup = Setup::new("", "generic", "");
    let mut service = setup.start();
    assert_eq!(service.get("/api/syncs").0, 200);
    service.signal(Signal::Int);
    assert_eq!(
        service.wait_exit(Duration::from_secs(5)),
        0,
        "{}",
        service.logs()
    );
    assert!(service.stderr().contains("stopping"), "{}", service.logs());
}

#[test]
fn a_signal_right_after_the_service_says_it_listens_is_handled() {
    // A supervisor may reload or stop the service as soon as it says it listens: the
    // signals must be handled by then, not kill it (SIGHUP's default action).
    let setup = Setup::new("", "generic", "");
    for attempt in 0..40 {
        let mut service = setup.start();
        service.signal(Signal::Hup);
        std::thread::sleep(Duration::from_millis(30));
        assert!(
            service.is_running(),
            "attempt {attempt}: SIGHUP right after start ended the service with {}\n{}",
            service.wait_exit(Duration::from_secs(1)),
            service.logs()
        );
        service.signal(Signal::Term);
        assert_eq!(
            service.wait_exit(Duration::from_secs(5)),
            0,
            "{}",
            service.logs()
        );
    }
}

// 5. SIGKILL mid-run, then a restart

#[test]
fn after_sigkill_the_run_reads_interrupted_and_the_next_run_completes() {
    let setup = Setup::new("", "generic", "bwlimit = \"2M\"");
    big_and_small(&setup, 8 << 20, 10);
    let mut service = setup.start();
    let id = service.trigger(SYNC);
    wait_sent(&service, 2 << 20);
    service.signal(Signal::Kill);
    assert_eq!(service.wait_exit(Duration::from_secs(5)), 128 + 9);
    assert_no_wrong_final(&setup, &service);
    drop(service);

    let service = setup.start();
    let report = service.get_json(&format!("/api/runs/{id}"));
    assert_eq!(report["status"], "interrupted", "{report:#}");
    let runs = service.runs(SYNC);
    assert_eq!(run_ids(&runs), vec![id]);
    assert_eq!(runs[0]["status"], "interrupted", "{runs:#?}");
    let state = service.sync_state(SYNC);
    assert_eq!(state["last_run"]["status"], "interrupted", "{state:#}");
    assert!(state["running"].is_null(), "{state:#}");

    let report = run_to_success(&setup, &service);
    assert!(report["run"].as_i64().unwrap() > id);
    let report = service.get_json(&format!("/api/runs/{id}"));
    assert_eq!(report["status"], "interrupted", "still, after the next run");
}

// 6. Reload

/// Waits until stderr says `needle` `count` times.
fn wait_stderr(service: &Service, needle: &str, count: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stderr = service.stderr();
        if stderr.matches(needle).count() >= count {
            return stderr;
        }
        assert!(
            Instant::now() < deadline,
            "stderr never said {needle:?} {count} time(s)\n{}",
            service.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn sync_names(service: &Service) -> Vec<String> {
    let json = service.get_json("/api/syncs");
    json["syncs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|sync| sync["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_broken_config_on_reload_keeps_the_old_one_and_says_where_it_is_broken() {
    let setup = Setup::new("", "generic", "");
    let good = Setup::config("", "generic", "");
    let mut service = setup.start();
    let not_reloaded = "the config was not reloaded";

    // A syntax error.
    setup.write_config(&format!("{good}[syncs.second\n"));
    let broken_line = good.lines().count() + 1;
    service.signal(Signal::Hup);
    let stderr = wait_stderr(&service, not_reloaded, 1);
    let place = format!("ferry.toml:{broken_line}:");
    assert!(stderr.contains(&place), "names {place}: {stderr}");
    assert!(service.is_running(), "{}", service.logs());
    assert_eq!(sync_names(&service), vec![SYNC]);

    // An unknown key.
    setup.write_config(&format!("{good}colour = \"blue\"\n"));
    service.signal(Signal::Hup);
    let stderr = wait_stderr(&service, not_reloaded, 2);
    let second = &stderr[stderr.rfind(not_reloaded).unwrap()..];
    assert!(
        second.contains(&format!("ferry.toml:{broken_line}:1"))
            && second.contains("unknown key \"colour\""),
        "{second}"
    );
    assert!(service.is_running());
    assert_eq!(sync_names(&service), vec![SYNC]);
    let id = service.trigger(SYNC);
    assert_eq!(service.wait_run(id, RUN_TIMEOUT)["status"], "nothing_to_do");

    // Fixed, with a second sync.
    let fixed = format!(
        "{good}\n[remotes.back]\ntype = \"local\"\npath = \"back\"\n\n\
         [syncs.second]\nsource = \"dst\"\ndestination = \"back\"\nschedule = \"every 1h\"\n"
    );
    setup.write_config(&fixed);
    service.signal(Signal::Hup);
    wait_stderr(&service, "config reloaded", 1);
    assert_eq!(sync_names(&service), vec![SYNC, "second"]);
    let second = service.sync_state("second");
    assert_eq!(second["schedule"], "every 1h", "{second:#}");
    assert!(second["next_run"].is_string(), "{second:#}");
    setup.write("new.txt", b"new");
    let id = service.trigger("second");
    assert_eq!(service.wait_run(id, RUN_TIMEOUT)["sync"], "second");

    // POST /api/reload with a broken config: 400, and the old config stays.
    setup.write_config(&format!("{fixed}[syncs.third]\nsource = \"nowhere\"\n"));
    let (status, _) = service.post("/api/reload", None);
    assert_eq!(status, 401);
    let (status, body) = service.post("/api/reload", Some(TOKEN));
    assert_eq!(status, 400, "{body}\n{}", service.logs());
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["reloaded"], false, "{answer:#}");
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("ferry.toml:") && error.contains("nowhere"),
        "{answer:#}"
    );
    assert_eq!(sync_names(&service), vec![SYNC, "second"]);

    setup.write_config(&good);
    let (status, body) = service.post("/api/reload", Some(TOKEN));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["reloaded"],
        true
    );
    assert_eq!(sync_names(&service), vec![SYNC]);
    service.signal(Signal::Term);
    assert_eq!(service.wait_exit(Duration::from_secs(10)), 0);
}

// 7. Pause and resume

fn count_runs(service: &Service) -> usize {
    service.runs(SYNC).len()
}

/// For `time`, no run of `SYNC` starts, and it stays paused with no next run.
fn assert_no_run_for(service: &Service, time: Duration) {
    let before = count_runs(service);
    let until = Instant::now() + time;
    while Instant::now() < until {
        let state = service.sync_state(SYNC);
        assert_eq!(state["paused"], true, "{state:#}");
        assert!(state["next_run"].is_null(), "{state:#}");
        assert!(state["running"].is_null(), "a paused sync runs: {state:#}");
        assert_eq!(count_runs(service), before, "{:#?}", service.runs(SYNC));
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_paused_sync_starts_no_run_until_resumed_even_after_a_restart() {
    let setup = Setup::new("", "generic", "schedule = \"every 1s\"");
    setup.write("a.txt", b"a");
    let mut service = setup.start();
    let pause = format!("/api/syncs/{SYNC}/pause");
    let resume = format!("/api/syncs/{SYNC}/resume");
    service.wait_for(
        &format!("/api/runs?sync={SYNC}"),
        |json| {
            let runs = json["runs"].as_array().unwrap();
            runs.iter().any(|run| run["status"] == "success")
        },
        RUN_TIMEOUT,
    );
    let (status, _) = service.post(&pause, None);
    assert_eq!(status, 401);
    assert_eq!(service.sync_state(SYNC)["paused"], false);
    for _ in 0..2 {
        let (status, body) = service.post(&pause, Some(TOKEN));
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap(),
            serde_json::json!({"sync": SYNC, "paused": true})
        );
    }
    service.wait_for(
        "/api/syncs",
        |json| json["syncs"][0]["running"].is_null(),
        RUN_TIMEOUT,
    );
    assert_no_run_for(&service, Duration::from_secs(3));

    let before = count_runs(&service);
    let (status, body) = service.post(&resume, Some(TOKEN));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        serde_json::json!({"sync": SYNC, "paused": false})
    );
    let state = service.sync_state(SYNC);
    assert!(state["next_run"].is_string(), "{state:#}");
    service.wait_for(
        &format!("/api/runs?sync={SYNC}"),
        |json| json["runs"].as_array().unwrap().len() > before,
        Duration::from_secs(5),
    );

    // Paused, stopped, started again: still paused, and the slots missed meanwhile do not
    // run either.
    let (status, _) = service.post(&pause, Some(TOKEN));
    assert_eq!(status, 200);
    service.signal(Signal::Term);
    assert_eq!(service.wait_exit(Duration::from_secs(10)), 0);
    drop(service);
    std::thread::sleep(Duration::from_millis(1500));
    let service = setup.start();
    assert_no_run_for(&service, Duration::from_millis(2500));
    let before = count_runs(&service);
    let (status, _) = service.post(&resume, Some(TOKEN));
    assert_eq!(status, 200);
    service.wait_for(
        &format!("/api/runs?sync={SYNC}"),
        |json| json["runs"].as_array().unwrap().len() > before,
        Duration::from_secs(5),
    );
}

#[test]
fn a_paused_sync_stays_paused_when_a_reload_brings_it_back() {
    let setup = Setup::new("", "generic", "schedule = \"every 1s\"");
    let config = Setup::config("", "generic", "schedule = \"every 1s\"");
    let service = setup.start();
    let (status, _) = service.post(&format!("/api/syncs/{SYNC}/pause"), Some(TOKEN));
    assert_eq!(status, 200);
    service.wait_for(
        "/api/syncs",
        |json| json["syncs"][0]["running"].is_null(),
        RUN_TIMEOUT,
    );

    setup.write_config(&config.replace("[syncs.nightly]", "[syncs.other]"));
    assert_eq!(service.post("/api/reload", Some(TOKEN)).0, 200);
    assert_eq!(sync_names(&service), vec!["other"]);
    setup.write_config(&config);
    assert_eq!(service.post("/api/reload", Some(TOKEN)).0, 200);
    // The store still says paused; a restart would say so too.
    assert_no_run_for(&service, Duration::from_millis(2500));
}

// 8. max_duration

#[test]
fn a_run_past_max_duration_is_stopped_and_the_next_one_finishes() {
    let setup = Setup::new("", "generic", "max_duration = \"2s\"\nbwlimit = \"1M\"");
    let total = big_and_small(&setup, (5 << 20) / 2, 10);
    let service = setup.start();
    let first = service.trigger(SYNC);
    let triggered = Instant::now();
    // Close to the deadline, ask often: what a client sees the moment the run ends.
    std::thread::sleep(Duration::from_millis(1800).saturating_sub(triggered.elapsed()));
    let report = loop {
        let report = service.get_json(&format!("/api/runs/{first}"));
        if report["status"] != "running" || triggered.elapsed() > RUN_TIMEOUT {
            break report;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    assert_eq!(
        report["status"],
        "interrupted",
        "{report:#}\n{}",
        service.logs()
    );
    // What a client sees the moment the run ended; checked last, so that the rest is
    // checked too.
    let notes_when_ended = report["notes"].clone();
    let report = service.wait_for(
        &format!("/api/runs/{first}"),
        |report| report["notes"][0].is_string(),
        Duration::from_secs(5),
    );
    let note = report["notes"][0].as_str().unwrap_or_default();
    assert!(
        note.contains("max_duration") && note.contains("2s"),
        "the note says why: {report:#}"
    );
    let seconds = report["seconds"].as_f64().unwrap();
    assert!((1.9..4.0).contains(&seconds), "ran {seconds}s");
    assert_no_wrong_final(&setup, &service);

    // The report is out a moment before the service has let the run go: asked in that
    // moment, the next run is queued and starts at once (the harness wants its id).
    service.wait_for(
        "/api/syncs",
        |json| json["syncs"][0]["running"].is_null(),
        Duration::from_secs(5),
    );
    let report = run_to_success(&setup, &service);
    assert!(
        report["bytes"].as_u64().unwrap() < total,
        "the next run continues where the stopped one ended: {report:#}"
    );
    assert_eq!(
        notes_when_ended,
        report_notes(&service, first),
        "the run read interrupted without the note that says why: the status and the note \
         are not written at once"
    );
}

fn report_notes(service: &Service, run: i64) -> Value {
    service.get_json(&format!("/api/runs/{run}"))["notes"].clone()
}

// 9. Slots missed while the service was down

/// Moves every recorded run of the state store `by` into the past.
fn age_runs(setup: &Setup, by: Duration) {
    let db = rusqlite::Connection::open(setup.path().join(".ferry/ferry.db")).unwrap();
    let nanos = by.as_nanos() as i64;
    db.execute(
        "UPDATE runs SET started_ns = started_ns - ?1, finished_ns = finished_ns - ?1",
        [nanos],
    )
    .unwrap();
}

#[test]
fn slots_missed_while_down_run_once_at_start_not_once_each() {
    let setup = Setup::new("", "generic", "schedule = \"every 10m\"");
    setup.write("first.txt", b"first");
    let mut service = setup.start();
    let first = service.trigger(SYNC);
    assert_eq!(service.wait_run(first, RUN_TIMEOUT)["status"], "success");
    service.signal(Signal::Term);
    assert_eq!(service.wait_exit(Duration::from_secs(10)), 0);
    drop(service);

    // The last run started an hour ago: six slots passed while the service was down.
    age_runs(&setup, Duration::from_secs(3600));
    setup.write("while-down.txt", b"written while the service was down");
    // Not right before a real slot (multiples of 10 minutes), which would add a run.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let to_slot = 600 - now % 600;
    if to_slot < 12 {
        std::thread::sleep(Duration::from_secs(to_slot + 1));
    }

    let service = setup.start();
    let started = Instant::now();
    let runs = service.wait_for(
        &format!("/api/runs?sync={SYNC}"),
        |json| {
            json["runs"].as_array().unwrap().len() >= 2 && json["runs"][0]["status"] != "running"
        },
        Duration::from_secs(5),
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the missed slot runs at once"
    );
    let catch_up = runs["runs"][0].clone();
    assert_eq!(catch_up["status"], "success", "{runs:#}");
    assert_eq!(catch_up["transferred"], 1, "{runs:#}");
    std::thread::sleep(Duration::from_secs(2));
    let runs = service.runs(SYNC);
    assert_eq!(
        run_ids(&runs),
        vec![catch_up["run"].as_i64().unwrap(), first],
        "one run for all the missed slots: {runs:#?}"
    );
    let state = service.sync_state(SYNC);
    let next = state["next_run"].as_str().unwrap_or_default();
    assert!(
        next.ends_with("0:00+00:00"),
        "the next slot is a multiple of 10 minutes: {state:#}"
    );
    assert_delivered(&setup, &[], &service);
}

// 10. Hostile requests

#[test]
fn asking_to_run_an_unknown_sync_is_404() {
    let setup = Setup::new("", "generic", "");
    let service = setup.start();
    for name in ["nope", "%2F..%2F", "%22%3E%3Cscript%3E", "nightly%00"] {
        let response = service.post_with(&format!("/api/syncs/{name}/run"), Some(TOKEN));
        assert_eq!(
            response.status, 404,
            "POST /api/syncs/{name}/run: {}",
            response.body
        );
        assert!(response.json()["error"].is_string(), "{}", response.body);
    }
    assert!(service.runs(SYNC).is_empty());
}

#[test]
fn hostile_requests_get_4xx_and_never_break_the_service() {
    let setup = Setup::new("", "generic", "");
    setup.write("a.txt", b"a");
    let service = setup.start();
    let first = service.trigger(SYNC);
    service.wait_run(first, RUN_TIMEOUT);

    // Unknown things: 404 with a JSON error.
    let long_name = "n".repeat(5000);
    let names = [
        "nope",
        "%2F..%2F",
        "..%2F..%2Fetc%2Fpasswd",
        "%22quoted%22",
        "%27%3B%20DROP%20TABLE%20runs%3B--",
        "nightly%00",
        "%E2%80%AEnightly",
        long_name.as_str(),
    ];
    for name in names {
        for action in ["pause", "resume"] {
            let path = format!("/api/syncs/{name}/{action}");
            let response = service.post_with(&path, Some(TOKEN));
            assert_eq!(response.status, 404, "POST {path}: {}", response.body);
            assert!(response.json()["error"].is_string(), "{}", response.body);
        }
        let path = format!("/api/runs?sync={name}");
        let response = service.get_with(&path, None);
        assert_eq!(response.status, 404, "GET {path}: {}", response.body);
        assert!(response.json()["error"].is_string());
    }
    for id in ["0", "-1", "999999", "9223372036854775807"] {
        let response = service.get_with(&format!("/api/runs/{id}"), None);
        assert_eq!(response.status, 404, "run {id}: {}", response.body);
        assert!(response.json()["error"].is_string(), "{}", response.body);
    }
    for path in [
        "/api/runs/abc",
        "/api/runs/1.5",
        "/api/runs/99999999999999999999999",
        "/api/runs/%00",
        "/api/runs?limit=-1",
        "/api/runs?limit=abc",
        "/api/runs?before=abc",
        "/api/runs?limit=99999999999999999999999",
    ] {
        let (status, body) = service.get(path);
        assert!(
            (400..500).contains(&status),
            "GET {path}: {status} {body}\n{}",
            service.logs()
        );
    }
    for (method, path) in [
        ("DELETE", "/api/syncs"),
        ("PUT", format!("/api/syncs/{SYNC}/run").as_str()),
        ("GET", format!("/api/syncs/{SYNC}/run").as_str()),
        ("GET", "/../../etc/passwd"),
        ("GET", "/api/nothing-here"),
    ] {
        let response = service.request(method, path, &[], b"");
        assert!(
            (400..500).contains(&response.status),
            "{method} {path}: {} {}",
            response.status,
            response.body
        );
        assert!(!response.body.contains("root:"), "{}", response.body);
    }

    // Headers an attacker controls.
    let run = format!("/api/syncs/{SYNC}/run");
    let huge = format!("Bearer {}", "a".repeat(64 * 1024));
    let not_ascii = format!("Bearer {TOKEN}\u{e9}");
    let two_tokens = format!("Bearer {TOKEN} {TOKEN}");
    for header in [huge.as_str(), &not_ascii, &two_tokens] {
        let response = service.request("POST", &run, &[("Authorization", header)], b"");
        assert_eq!(
            response.status,
            401,
            "Authorization: {}…: {}",
            &header[..header.len().min(40)],
            response.body
        );
    }
    // A valid token sent from another site's page.
    let bearer = format!("Bearer {TOKEN}");
    let response = service.request(
        "POST",
        &run,
        &[
            ("Authorization", &bearer),
            ("Origin", "http://evil.example"),
        ],
        b"",
    );
    assert_eq!(response.status, 403, "{}", response.body);
    assert_eq!(run_ids(&service.runs(SYNC)), vec![first]);

    // Still there, nothing panicked.
    let syncs = service.get_json("/api/syncs");
    assert_eq!(syncs["syncs"][0]["name"], SYNC);
    assert!(!service.stderr().contains("panicked"), "{}", service.logs());
}

#[test]
fn a_huge_limit_is_capped_and_pages_follow_each_other() {
    let setup = Setup::new("", "generic", "");
    let service = setup.start();
    let first = service.trigger(SYNC);
    service.wait_run(first, RUN_TIMEOUT);
    drop(service);
    // 700 more runs in the state store.
    let db = rusqlite::Connection::open(setup.path().join(".ferry/ferry.db")).unwrap();
    db.execute_batch(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 700) \
         INSERT INTO runs (sync, started_ns, finished_ns, status, dry_run) \
         SELECT 'nightly', 1000000000000000000 + i, 1000000000000000000 + i, 'nothing_to_do', 0 FROM n;",
    )
    .unwrap();
    drop(db);
    let service = setup.start();

    let page = service.get_json("/api/runs?limit=1000000");
    let runs = page["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 500, "limit is capped at 500");
    let ids = run_ids(runs);
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first");
    let next = page["next"].as_i64().expect("a next page");
    assert_eq!(next, *ids.last().unwrap());
    let rest = service.get_json(&format!("/api/runs?limit=1000000&before={next}"));
    let rest_ids = run_ids(rest["runs"].as_array().unwrap());
    assert_eq!(rest_ids.len(), 201, "{rest:#}");
    assert!(rest_ids[0] < next);
    assert!(rest["next"].is_null(), "{rest:#}");
    let all: BTreeSet<i64> = ids.iter().chain(&rest_ids).copied().collect();
    assert_eq!(all.len(), 701, "no run twice, none missing");

    let page = service.get_json("/api/runs");
    assert_eq!(
        page["runs"].as_array().unwrap().len(),
        20,
        "the default page"
    );
    let page = service.get_json("/api/runs?limit=0");
    assert!(page["runs"].as_array().unwrap().len() <= 1, "{page:#}");
}
