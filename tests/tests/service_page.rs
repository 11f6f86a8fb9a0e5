//! `ferry serve` end to end, as people and their tools see it: the status page in a real
//! headless Chromium (JavaScript off), hostile names on the page, the page's sign-in and
//! its forms, webhook alerts to a receiver on loopback, and `/metrics`.
//!
//! The browser test needs node, playwright-core and Chromium: tests/servers/ensure-chromium.sh.
//! It keeps its screenshot at target/test-artifacts/status-page.png.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use ferry_tests::service::{SYNC, Service, Setup, TOKEN};
use serde_json::Value;

/// The name the windows-smb policy refuses (':'), beside good files.
const BAD: &str = "report:2026.csv";
/// What it is renamed to, to fix it.
const FIXED: &str = "report_2026.csv";
/// How long one run may take (a debug build, two shared cores).
const RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// How long an alert may take to arrive once its run ended.
const ALERT_TIMEOUT: Duration = Duration::from_secs(20);

/// A sync `nightly` (every hour: it only runs when asked) to a windows-smb destination,
/// with `service_keys` under `[service]` and `sync_keys` under `[syncs.nightly]`; the
/// source holds two good files and [`BAD`].
fn setup(service_keys: &str, sync_keys: &str) -> Setup {
    let setup = Setup::new(
        service_keys,
        "windows-smb",
        &format!("schedule = \"every 1h\"\n{sync_keys}"),
    );
    setup.write("good.txt", b"hello");
    setup.write("data/table.csv", b"a,b\n1,2\n");
    setup.write(BAD, b"2026,1\n");
    setup
}

/// Run `nightly` through the API and wait for it to end: (its id, its report).
fn run_once(service: &Service) -> (i64, Value) {
    let run = service.trigger(SYNC);
    let report = service.wait_run(run, RUN_TIMEOUT);
    (run, report)
}

/// The one failure of `report` at `path` (panics, showing the report, if there is none).
fn failure_at<'a>(report: &'a Value, path: &str) -> &'a Value {
    report["failures"]
        .as_array()
        .and_then(|failures| failures.iter().find(|f| f["path"] == path))
        .unwrap_or_else(|| panic!("no failure at {path:?} in {report:#}"))
}

// ---------------------------------------------------------------------------------------
// 1. The status page in a browser.
// ---------------------------------------------------------------------------------------

/// Where the browser test keeps its screenshot.
fn screenshot_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-artifacts/status-page.png")
}

/// The folder playwright-core is installed in, as tests/browser/status_page.mjs looks for it.
fn playwright_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FERRY_PLAYWRIGHT_DIR") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("FERRY_TEST_SERVERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let base = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache")
                });
            base.join("ferry-test-servers")
        });
    cache.join("playwright")
}

/// Panics, saying how to install them, unless node, playwright-core and Chromium are there.
fn require_browser() {
    const HOW: &str = "run tests/servers/ensure-chromium.sh (it installs Debian's chromium and \
                       playwright-core); the browser test does not pass without them";
    let node = Command::new("node").arg("--version").output();
    match node {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!("`node --version` failed ({}): {HOW}", output.status),
        Err(e) => panic!("node is missing ({e}): {HOW}"),
    }
    let chromium = std::env::var_os("FERRY_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        chromium.exists(),
        "Chromium is missing at {}: {HOW}",
        chromium.display()
    );
    let dir = playwright_dir();
    let found = [
        dir.join("node_modules/playwright-core/package.json"),
        dir.join("playwright-core/package.json"),
    ]
    .iter()
    .any(|package| package.exists());
    assert!(
        found,
        "playwright-core is missing in {}: {HOW}",
        dir.display()
    );
}

/// `node tests/browser/status_page.mjs ARGS…`: its JSON. Panics with its output when it
/// fails or does not end within `limit`.
fn status_page_script(args: &[&str], logs: &Path, limit: Duration) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser/status_page.mjs");
    let (stdout_path, stderr_path) = (logs.join("node.stdout"), logs.join("node.stderr"));
    let mut child = Command::new("node")
        .arg(&script)
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("node does not start ({e}): run tests/servers/ensure-chromium.sh")
        });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let hint = if stderr.contains("playwright") || stderr.contains("chromium") {
        "\n(if the browser or playwright-core is missing: run tests/servers/ensure-chromium.sh)"
    } else {
        ""
    };
    match status {
        None => panic!("status_page.mjs did not end within {limit:?}\n{stdout}\n{stderr}{hint}"),
        Some(status) if !status.success() => {
            panic!("status_page.mjs failed ({status})\nstdout: {stdout}\nstderr: {stderr}{hint}")
        }
        Some(_) => serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
            panic!("status_page.mjs printed no JSON ({e})\nstdout: {stdout}\nstderr: {stderr}")
        }),
    }
}

/// The acceptance test: a partly failed run shows on the page with its failure category
/// and the plugin's advice; "Run now" (a form post after signing in, JavaScript off) starts
/// a new run that the page then shows finished.
#[test]
fn the_status_page_shows_a_partial_failure_and_runs_now_in_a_browser() {
    require_browser();
    let setup = setup("", "");
    let service = setup.start();
    let (first, report) = run_once(&service);
    assert_eq!(report["status"], "partial_failure", "{report:#}");
    let advice = failure_at(&report, BAD)["advice"]
        .as_str()
        .expect("the failure has advice")
        .to_string();
    assert_eq!(failure_at(&report, BAD)["category"], "invalid-name");
    assert!(!advice.trim().is_empty(), "{report:#}");

    // The page works without JavaScript: it has none (the script also turns it off).
    let (status, html) = service.get("/");
    assert_eq!(status, 200, "{html}");
    assert!(!html.to_ascii_lowercase().contains("<script"), "{html}");

    let screenshot = screenshot_path();
    std::fs::create_dir_all(screenshot.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&screenshot);
    let url = service.url("/");
    let screenshot_text = screenshot.to_str().unwrap();
    let result = status_page_script(
        &[
            "--url",
            &url,
            "--sync",
            SYNC,
            "--screenshot",
            screenshot_text,
            "--token",
            TOKEN,
            "--timeout-ms",
            "60000",
        ],
        setup.path(),
        Duration::from_secs(180),
    );
    let context = || format!("{result:#}\n{}", service.logs());

    // Before: the sync with its partly failed run, the category and the advice.
    let before = &result["before"];
    assert_eq!(before["state"], "idle", "{}", context());
    let runs = before["runs"].as_array().expect("runs");
    assert!(
        runs.iter()
            .any(|run| run["id"] == first && run["status"] == "partial_failure"),
        "run {first} is not shown as partial_failure: {}",
        context()
    );
    let failures = before["failures"].as_array().expect("failures");
    let group = failures
        .iter()
        .find(|group| group["category"] == "invalid-name")
        .unwrap_or_else(|| panic!("no invalid-name failures shown: {}", context()));
    assert!(
        group["heading"]
            .as_str()
            .is_some_and(|heading| heading.starts_with("invalid-name")),
        "{}",
        context()
    );
    let shown: Vec<&str> = group["advice"]
        .as_array()
        .expect("advice")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        !shown.is_empty() && shown.iter().all(|text| !text.trim().is_empty()),
        "{}",
        context()
    );
    assert!(
        shown.contains(&advice.as_str()),
        "the page's advice {shown:?} is not the run's {advice:?} (GET /api/runs/{first})"
    );
    assert!(
        before["text"].as_str().unwrap_or("").contains(BAD),
        "the refused path is not shown: {}",
        context()
    );

    // After "Run now": a new run, finished, within the time allowed.
    assert_eq!(result["timed_out"], false, "{}", context());
    let url_after = result["url_after_click"].as_str().unwrap_or("");
    assert!(
        url_after.contains(&format!("/?done=started&sync={SYNC}&run=")),
        "{}",
        context()
    );
    let new_run = &result["new_run"];
    let new_id = new_run["id"].as_i64().expect("new_run.id");
    assert!(new_id > first, "{}", context());
    let new_status = new_run["status"].as_str().expect("new_run.status");
    assert!(
        [
            "success",
            "partial_failure",
            "failure",
            "nothing_to_do",
            "interrupted"
        ]
        .contains(&new_status),
        "{}",
        context()
    );
    assert!(
        url_after.ends_with(&format!("run={new_id}")),
        "the redirect names run {new_id}: {}",
        context()
    );
    let api = service.wait_run(new_id, RUN_TIMEOUT);
    assert_eq!(api["status"], new_status, "{api:#}");
    // The refused file is still there: the new run fails on it again.
    assert_eq!(new_status, "partial_failure", "{}", context());
    let after_runs = result["after"]["runs"].as_array().expect("after.runs");
    assert!(after_runs.iter().any(|run| run["id"] == new_id));
    assert!(after_runs.iter().any(|run| run["id"] == first));

    // The screenshot: a PNG of some size, at its stable place.
    assert_eq!(result["screenshot"], screenshot_text);
    let png = std::fs::read(&screenshot)
        .unwrap_or_else(|e| panic!("no screenshot at {}: {e}", screenshot.display()));
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG",
        screenshot.display()
    );
    assert!(
        png.len() > 10 * 1024,
        "{} is only {} bytes",
        screenshot.display(),
        png.len()
    );
}

// ---------------------------------------------------------------------------------------
// 2. Hostile names on the page.
// ---------------------------------------------------------------------------------------

/// How often `needle` occurs in `html`.
fn count(html: &str, needle: &str) -> usize {
    html.matches(needle).count()
}

#[test]
fn hostile_names_are_shown_escaped_and_leave_the_page_intact() {
    let setup = Setup::new("", "windows-smb", "schedule = \"every 1h\"");
    setup.write("good.txt", b"hello");
    // A folder "<script>alert(1)<" and a file "script>.txt" in it: the path reads as a tag.
    setup.write("<script>alert(1)</script>.txt", b"x");
    // Right-to-left override: shows as "invoice:exe.pdf"; refused for its ':'.
    setup.write("invoice:\u{202e}fdp.exe", b"y");
    setup.write("it's \"quoted\".txt", b"z");
    let service = setup.start();
    let (run, report) = run_once(&service);
    assert_eq!(report["status"], "partial_failure", "{report:#}");
    for path in [
        "<script>alert(1)</script>.txt",
        "invoice:\u{202e}fdp.exe",
        "it's \"quoted\".txt",
    ] {
        assert_eq!(failure_at(&report, path)["category"], "invalid-name");
    }

    let (status, html) = service.get("/");
    assert_eq!(status, 200, "{html}");
    let lower = html.to_ascii_lowercase();
    assert!(
        !lower.contains("<script"),
        "a raw <script in the page:\n{html}"
    );
    assert!(!html.contains("alert(1)</"), "{html}");
    assert!(
        !html.contains('\u{202e}'),
        "the right-to-left override is in the page raw"
    );
    let invisible = html
        .chars()
        .find(|&c| c != '\n' && (c.is_control() || ('\u{2066}'..='\u{2069}').contains(&c)));
    assert_eq!(invisible, None, "an invisible character is in the page raw");
    // Shown, escaped.
    for shown in [
        "&lt;script&gt;alert(1)&lt;/script&gt;.txt",
        "invoice:\\u{202e}fdp.exe",
        "it&#39;s &quot;quoted&quot;.txt",
    ] {
        assert!(html.contains(shown), "{shown} is not shown:\n{html}");
    }

    // The sync's section is whole: one section, its state, the run, the failures, the
    // form; every element opened is closed.
    assert_eq!(
        count(
            &html,
            &format!("<section class=\"sync\" id=\"sync-{SYNC}\" data-sync=\"{SYNC}\">")
        ),
        1,
        "{html}"
    );
    assert_eq!(count(&html, "<section"), 1, "{html}");
    assert_eq!(count(&html, "</section>"), 1, "{html}");
    let section = &html[html.find("<section").unwrap()..html.find("</section>").unwrap()];
    assert!(section.contains("<span class=\"state\" data-state=\"idle\">"));
    assert!(
        section.contains(&format!(
            "<tr data-run=\"{run}\" data-status=\"partial_failure\""
        )),
        "{section}"
    );
    assert!(section.contains("<div class=\"category\" data-category=\"invalid-name\"><h4>"));
    assert!(section.contains(&format!(
        "<form method=\"post\" action=\"/syncs/{SYNC}/run\"><button type=\"submit\" \
         class=\"run-now\">Run now</button></form>"
    )));
    for tag in [
        "section", "div", "table", "tr", "ul", "li", "code", "details", "form", "p", "svg",
    ] {
        let opened = count(&html, &format!("<{tag}>")) + count(&html, &format!("<{tag} "));
        let closed = count(&html, &format!("</{tag}>"));
        assert_eq!(opened, closed, "<{tag}> opened {opened}, closed {closed}");
    }
    // No attribute was broken out of: every attribute of the section is a known one.
    for attribute in ["onerror=", "onload=", "onmouseover=", "onclick="] {
        assert!(!lower.contains(attribute), "{attribute} in the page");
    }
}

// ---------------------------------------------------------------------------------------
// 3. The page's sign-in and its forms.
// ---------------------------------------------------------------------------------------

/// `POST /sign-in` with `token` as the form's field.
fn sign_in(service: &Service, token: &str) -> ferry_tests::service::Response {
    let body = format!("token={token}");
    service.request(
        "POST",
        "/sign-in",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    )
}

#[test]
fn the_page_signs_in_with_a_cookie_and_its_forms_need_it_from_this_site() {
    let setup = setup("", "");
    let service = setup.start();
    let (_, html) = service.get("/");
    assert!(html.contains("<form method=\"post\" action=\"/sign-in\" class=\"sign-in\">"));
    assert!(html.contains("name=\"token\""));

    // A wrong token: refused, no cookie.
    let wrong = sign_in(&service, "not-the-token-at-all-0000");
    assert_eq!(wrong.status, 401, "{wrong:?}");
    assert_eq!(wrong.header("set-cookie"), None, "{wrong:?}");

    // The right one: back to the page, with a cookie the page's scripts cannot read, that
    // no other site sends, and that does not hold the token.
    let right = sign_in(&service, TOKEN);
    assert_eq!(right.status, 303, "{right:?}");
    assert_eq!(right.header("location"), Some("/?done=signed-in"));
    let set_cookie = right
        .header("set-cookie")
        .unwrap_or_else(|| panic!("no Set-Cookie: {right:?}"))
        .to_string();
    let attributes: Vec<String> = set_cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    assert!(attributes.contains(&"httponly".into()), "{set_cookie}");
    assert!(
        attributes.contains(&"samesite=strict".into()),
        "{set_cookie}"
    );
    assert!(
        !set_cookie.contains(TOKEN),
        "the cookie holds the token: {set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap().trim().to_string();
    assert!(cookie.starts_with("ferry_session="), "{set_cookie}");

    // Signed in, the page says so and shows no sign-in form.
    let page = service.request("GET", "/", &[("Cookie", &cookie)], b"");
    assert!(page.body.contains("class=\"signed-in\""), "{}", page.body);
    assert!(!page.body.contains("class=\"sign-in\""));

    let run_form = format!("/syncs/{SYNC}/run");
    let form_headers = |extra: &[(&'static str, String)]| {
        let mut headers = vec![(
            "Content-Type",
            "application/x-www-form-urlencoded".to_string(),
        )];
        headers.extend(extra.iter().cloned());
        headers
    };
    let post_form = |headers: Vec<(&str, String)>| {
        let borrowed: Vec<(&str, &str)> = headers
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        service.request("POST", &run_form, &borrowed, b"")
    };

    // Without the cookie: refused; a cookie holding the token itself is no cookie.
    let anonymous = post_form(form_headers(&[]));
    assert_eq!(anonymous.status, 401, "{anonymous:?}");
    let forged = post_form(form_headers(&[(
        "Cookie",
        format!("ferry_session={TOKEN}"),
    )]));
    assert_eq!(forged.status, 401, "{forged:?}");
    assert!(
        service.runs(SYNC).is_empty(),
        "a refused form started a run"
    );

    // With it: the run starts, and the page is told which.
    let started = post_form(form_headers(&[("Cookie", cookie.clone())]));
    assert_eq!(started.status, 303, "{started:?}\n{}", service.logs());
    let location = started.header("location").unwrap_or("").to_string();
    let prefix = format!("/?done=started&sync={SYNC}&run=");
    let run: i64 = location
        .strip_prefix(&prefix)
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("Location {location:?} is not {prefix}ID"));
    service.wait_run(run, RUN_TIMEOUT);
    let (_, page) = service.get(&location);
    assert!(
        page.contains(&format!("run {run} of {SYNC} started")),
        "{page}"
    );

    // With the cookie, but posted from another site: refused, and nothing started.
    let runs_before = service.runs(SYNC).len();
    let evil = post_form(form_headers(&[
        ("Cookie", cookie.clone()),
        ("Origin", "http://evil.example".into()),
    ]));
    assert_eq!(evil.status, 403, "{evil:?}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        service.runs(SYNC).len(),
        runs_before,
        "a cross-site form ran"
    );
    assert!(service.sync_state(SYNC)["running"].is_null());

    // From this site's own origin: accepted.
    let own = post_form(form_headers(&[
        ("Cookie", cookie),
        ("Origin", format!("http://{}", service.address)),
    ]));
    assert_eq!(own.status, 303, "{own:?}");
    if let Some(run) = own
        .header("location")
        .and_then(|l| l.strip_prefix(&prefix))
        .and_then(|id| id.parse().ok())
    {
        service.wait_run(run, RUN_TIMEOUT);
    }
}

// ---------------------------------------------------------------------------------------
// 4. Webhook alerts.
// ---------------------------------------------------------------------------------------

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    at: Instant,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "the alert is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// An HTTP/1.1 server on loopback that records every request and answers the first ones
/// with `script`'s statuses in turn, then `then`. Keeps connections alive as asked.
struct Receiver {
    address: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start(script: &[u16], then: u16) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(script.to_vec());
        let shared = Arc::clone(&received);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (received, script) = (Arc::clone(&shared), Arc::clone(&script));
                std::thread::spawn(move || serve_connection(stream, &received, &script, then));
            }
        });
        Receiver { address, received }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests came: them all. Panics after `timeout`.
    fn wait_for(&self, n: usize, timeout: Duration, service: &Service) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} requests reached the receiver within {timeout:?}: {:?}\n{}",
                received.len(),
                bodies(&received),
                service.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn bodies(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect()
}

/// Reads requests from `stream` until it closes, answering each.
fn serve_connection(stream: TcpStream, received: &Mutex<Vec<Received>>, script: &[u16], then: u16) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let mut writer = match stream.try_clone() {
        Ok(writer) => writer,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    loop {
        let Some(request) = read_request(&mut reader) else {
            return;
        };
        let close = request
            .header("connection")
            .is_some_and(|value| value.eq_ignore_ascii_case("close"));
        let status = {
            let mut received = received.lock().unwrap();
            let status = script.get(received.len()).copied().unwrap_or(then);
            received.push(request);
            status
        };
        let answer = format!(
            "HTTP/1.1 {status} {}\r\nContent-Length: 0\r\n{}\r\n",
            reason(status),
            if close { "Connection: close\r\n" } else { "" }
        );
        if writer.write_all(answer.as_bytes()).is_err() || close {
            return;
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        500 => "Internal Server Error",
        _ => "Whatever",
    }
}

/// One whole request (body by Content-Length, or chunked); `None` at the end of the stream.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Received> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let at = Instant::now();
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let value = |name: &str| {
        headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    let mut body = Vec::new();
    if value("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(length) = value("content-length") {
        body = vec![0; length.parse().ok()?];
        reader.read_exact(&mut body).ok()?;
    }
    Some(Received {
        at,
        method,
        path,
        headers,
        body,
    })
}

/// Checks an alert's shape: event, sync, run (with its id) and error.
fn assert_alert(alert: &Value, event: &str, run: i64) {
    assert_eq!(alert["event"], event, "{alert:#}");
    assert_eq!(alert["sync"], SYNC, "{alert:#}");
    assert_eq!(alert["run"]["run"], run, "{alert:#}");
    assert_eq!(alert["run"]["sync"], SYNC, "{alert:#}");
    assert!(alert["error"].is_null(), "{alert:#}");
}

#[test]
fn alerts_are_posted_retried_after_a_500_and_say_when_the_sync_recovers() {
    let receiver = Receiver::start(&[500], 200);
    let setup = setup("", &format!("webhook = \"{}\"", receiver.url("/hook")));
    let service = setup.start();

    // A partly failed run: one alert, refused once (500), posted again about 1 s later.
    let (first, report) = run_once(&service);
    assert_eq!(report["status"], "partial_failure", "{report:#}");
    let received = receiver.wait_for(2, ALERT_TIMEOUT, &service);
    let (refused, delivered) = (&received[0], &received[1]);
    for request in [refused, delivered] {
        assert_eq!(
            (request.method.as_str(), request.path.as_str()),
            ("POST", "/hook")
        );
        assert!(
            request
                .header("content-type")
                .is_some_and(|v| v.starts_with("application/json")),
            "{:?}",
            request.headers
        );
    }
    assert_eq!(
        refused.body, delivered.body,
        "the retry posts the same alert"
    );
    let pause = delivered.at - refused.at;
    assert!(
        pause >= Duration::from_millis(800) && pause <= Duration::from_secs(4),
        "the retry came {pause:?} after the 500, not about 1 s"
    );
    let alert = delivered.json();
    assert_alert(&alert, "partial_failure", first);
    assert_eq!(alert["run"]["status"], "partial_failure");
    let failure = failure_at(&alert["run"], BAD);
    assert_eq!(failure["category"], "invalid-name", "{alert:#}");
    assert!(
        failure["advice"]
            .as_str()
            .is_some_and(|a| !a.trim().is_empty())
    );
    // The report is the run's, as `ferry run --json` prints it.
    for key in ["transferred", "bytes", "rejected", "failed", "status"] {
        assert_eq!(
            alert["run"][key], report[key],
            "{key}: {alert:#}\n{report:#}"
        );
    }
    // Accepted: not posted again.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        receiver.received().len(),
        2,
        "{:?}",
        bodies(&receiver.received())
    );

    // Fixed at the source: the next run succeeds, and says the sync recovered.
    std::fs::rename(setup.src(BAD), setup.src(FIXED)).unwrap();
    let (second, report) = run_once(&service);
    assert_eq!(report["status"], "success", "{report:#}");
    let received = receiver.wait_for(3, ALERT_TIMEOUT, &service);
    let recovered = received[2].json();
    assert_alert(&recovered, "recovered", second);
    assert_eq!(recovered["run"]["status"], "success");
    assert!(
        recovered["run"]["failures"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{recovered:#}"
    );

    // A success after a success: nothing to say.
    setup.write("more.txt", b"more");
    let (_, report) = run_once(&service);
    assert_eq!(report["status"], "success", "{report:#}");
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        receiver.received().len(),
        3,
        "a success after a success alerted: {:?}",
        bodies(&receiver.received())
    );
}

#[test]
fn the_same_webhook_for_the_sync_and_the_service_gets_one_post() {
    let receiver = Receiver::start(&[], 200);
    let hook = receiver.url("/hook");
    let setup = setup(
        &format!("webhook = \"{hook}\""),
        &format!("webhook = \"{hook}\""),
    );
    let service = setup.start();
    let (run, report) = run_once(&service);
    assert_eq!(report["status"], "partial_failure", "{report:#}");
    let received = receiver.wait_for(1, ALERT_TIMEOUT, &service);
    assert_alert(&received[0].json(), "partial_failure", run);
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        receiver.received().len(),
        1,
        "one alert, posted once: {:?}",
        bodies(&receiver.received())
    );
}

#[test]
fn the_sync_webhook_and_another_service_webhook_both_get_the_alert() {
    let (own, global) = (Receiver::start(&[], 200), Receiver::start(&[], 204));
    let setup = setup(
        &format!("webhook = \"{}\"", global.url("/all")),
        &format!("webhook = \"{}\"", own.url("/nightly")),
    );
    let service = setup.start();
    let (run, _) = run_once(&service);
    for (receiver, path) in [(&own, "/nightly"), (&global, "/all")] {
        let received = receiver.wait_for(1, ALERT_TIMEOUT, &service);
        assert_eq!(received[0].path, path);
        assert_alert(&received[0].json(), "partial_failure", run);
    }
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(own.received().len(), 1);
    assert_eq!(global.received().len(), 1);
}

/// 408, 429 and 5xx are retried: five tries in all, 1 s, 2 s, 4 s and 8 s apart; then
/// no more (the receiver would accept a sixth).
#[test]
fn a_webhook_that_keeps_failing_is_tried_five_times_with_doubling_pauses() {
    let receiver = Receiver::start(&[429, 408, 500, 503, 502], 200);
    let setup = setup("", &format!("webhook = \"{}\"", receiver.url("/hook")));
    let service = setup.start();
    let (run, _) = run_once(&service);
    let received = receiver.wait_for(5, Duration::from_secs(40), &service);
    assert_alert(&received[0].json(), "partial_failure", run);
    assert!(received.iter().all(|r| r.body == received[0].body));
    let pauses: Vec<Duration> = received.windows(2).map(|w| w[1].at - w[0].at).collect();
    for (pause, expected) in pauses.iter().zip([1u64, 2, 4, 8]) {
        let expected = Duration::from_secs(expected);
        assert!(
            *pause >= expected - Duration::from_millis(200)
                && *pause <= expected + Duration::from_secs(3),
            "pauses {pauses:?}, not about 1 s, 2 s, 4 s, 8 s"
        );
    }
    // A sixth try would come 16 s later at the earliest; none should come at all.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(receiver.received().len(), 5, "{pauses:?}");
}

#[test]
fn a_webhook_answering_400_is_not_retried() {
    let receiver = Receiver::start(&[], 400);
    let setup = setup("", &format!("webhook = \"{}\"", receiver.url("/hook")));
    let service = setup.start();
    let (run, _) = run_once(&service);
    let received = receiver.wait_for(1, ALERT_TIMEOUT, &service);
    assert_alert(&received[0].json(), "partial_failure", run);
    // A retry would come 1 s later, the next 2 s after that.
    std::thread::sleep(Duration::from_millis(3500));
    assert_eq!(
        receiver.received().len(),
        1,
        "a 400 was retried: {:?}",
        bodies(&receiver.received())
    );
}

// ---------------------------------------------------------------------------------------
// 5. Metrics.
// ---------------------------------------------------------------------------------------

/// One sample of the text format.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The families declared by `# TYPE`, with their types, and every sample. Panics, naming
/// the line, on anything that is not the text format: a sample that does not parse, a
/// value that is not a float, a sample before its family's TYPE, a TYPE after its samples.
fn parse_metrics(text: &str) -> (BTreeMap<String, String>, Vec<Sample>) {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut helps: Vec<String> = Vec::new();
    let mut samples: Vec<Sample> = Vec::new();
    for (at, line) in text.lines().enumerate() {
        let line_no = at + 1;
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut words = comment.trim_start().splitn(3, ' ');
            match words.next() {
                Some("TYPE") => {
                    let name = words.next().expect("a TYPE line names its family");
                    let kind = words.next().expect("a TYPE line names its type").trim();
                    assert!(
                        [
                            "counter",
                            "gauge",
                            "histogram",
                            "summary",
                            "untyped",
                            "unknown"
                        ]
                        .contains(&kind),
                        "line {line_no}: unknown type {kind:?}"
                    );
                    assert!(
                        !samples.iter().any(|s| family_of(&s.name, name, kind)),
                        "line {line_no}: TYPE of {name} after its samples"
                    );
                    assert!(
                        types.insert(name.to_string(), kind.to_string()).is_none(),
                        "line {line_no}: a second TYPE for {name}"
                    );
                }
                Some("HELP") => {
                    let name = words.next().expect("a HELP line names its family");
                    assert!(
                        !samples
                            .iter()
                            .any(|s| types.get(name).is_some_and(|k| family_of(&s.name, name, k))),
                        "line {line_no}: HELP of {name} after its samples"
                    );
                    helps.push(name.to_string());
                }
                _ => {}
            }
            continue;
        }
        let sample =
            parse_sample(line).unwrap_or_else(|why| panic!("line {line_no}: {why}: {line:?}"));
        let declared = types
            .iter()
            .any(|(family, kind)| family_of(&sample.name, family, kind));
        assert!(
            declared,
            "line {line_no}: {} has no TYPE line before it",
            sample.name
        );
        samples.push(sample);
    }
    for family in types.keys() {
        assert!(helps.contains(family), "{family} has no HELP line");
    }
    (types, samples)
}

/// Whether a sample called `name` belongs to the family `family` of type `kind`.
fn family_of(name: &str, family: &str, kind: &str) -> bool {
    let Some(suffix) = name.strip_prefix(family) else {
        return false;
    };
    match kind {
        "counter" => ["", "_total", "_created"].contains(&suffix),
        "histogram" => ["_bucket", "_sum", "_count", "_created"].contains(&suffix),
        "summary" => ["", "_sum", "_count", "_created"].contains(&suffix),
        _ => suffix.is_empty(),
    }
}

/// `name{label="value",…} value [timestamp]`.
fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    let name_ok = name.chars().enumerate().all(|(at, c)| {
        c.is_ascii_alphabetic() || c == '_' || c == ':' || (at > 0 && c.is_ascii_digit())
    });
    if name.is_empty() || !name_ok {
        return Err(format!("{name:?} is not a metric name"));
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices().peekable();
        let end;
        loop {
            let Some(&(at, c)) = chars.peek() else {
                return Err("unclosed {".into());
            };
            if c == '}' {
                end = at;
                break;
            }
            if c == ',' {
                chars.next();
                continue;
            }
            let key_start = at;
            while chars.peek().is_some_and(|&(_, c)| c != '=') {
                chars.next();
            }
            let (eq, _) = chars.next().ok_or("a label without =")?;
            let key = inner[key_start..eq].trim().to_string();
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err(format!("label {key} is not quoted"));
            }
            let mut value = String::new();
            loop {
                match chars.next().ok_or("unclosed label value")?.1 {
                    '"' => break,
                    '\\' => match chars.next().ok_or("a dangling \\")?.1 {
                        'n' => value.push('\n'),
                        other => value.push(other),
                    },
                    other => value.push(other),
                }
            }
            if labels.insert(key.clone(), value).is_some() {
                return Err(format!("label {key} twice"));
            }
        }
        rest = &inner[end + 1..];
    }
    let mut fields = rest.split_whitespace();
    let value_text = fields.next().ok_or("no value")?;
    let value = match value_text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        text => text
            .parse::<f64>()
            .map_err(|e| format!("value {text:?}: {e}"))?,
    };
    if let Some(timestamp) = fields.next() {
        timestamp
            .parse::<f64>()
            .map_err(|e| format!("timestamp {timestamp:?}: {e}"))?;
    }
    if fields.next().is_some() {
        return Err("more than a value and a timestamp".into());
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// The value of the one sample called `name` with exactly `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)], text: &str) -> f64 {
    let wanted: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name == name && s.labels == wanted)
        .collect();
    match found[..] {
        [one] => one.value,
        _ => panic!("{} samples {name}{labels:?} in\n{text}", found.len()),
    }
}

/// A partly failed run, then the fix and a successful one: (the two reports, the service).
fn two_runs(setup: &Setup) -> (Service, Value, Value) {
    let service = setup.start();
    let (_, failed) = run_once(&service);
    assert_eq!(failed["status"], "partial_failure", "{failed:#}");
    std::fs::rename(setup.src(BAD), setup.src(FIXED)).unwrap();
    let (_, succeeded) = run_once(&service);
    assert_eq!(succeeded["status"], "success", "{succeeded:#}");
    (service, failed, succeeded)
}

#[test]
fn metrics_count_what_the_runs_did() {
    let setup = setup("", "");
    let (service, failed, succeeded) = two_runs(&setup);
    let response = service.get_with("/metrics", None);
    assert_eq!(response.status, 200, "{response:?}");
    let text = &response.body;
    let (types, samples) = parse_metrics(text);
    let sync = [("sync", SYNC)];
    let status = |status| [("sync", SYNC), ("status", status)];

    assert_eq!(
        value(
            &samples,
            "ferry_runs_total",
            &status("partial_failure"),
            text
        ),
        1.0
    );
    assert_eq!(
        value(&samples, "ferry_runs_total", &status("success"), text),
        1.0
    );
    let invalid_name = [("sync", SYNC), ("category", "invalid-name")];
    assert!(value(&samples, "ferry_failures_total", &invalid_name, text) >= 1.0);

    let sum = |key: &str| {
        [&failed, &succeeded]
            .iter()
            .map(|report| {
                report[key]
                    .as_u64()
                    .unwrap_or_else(|| panic!("{key}: {report:#}"))
            })
            .sum::<u64>() as f64
    };
    assert!(sum("transferred") >= 3.0, "{failed:#}\n{succeeded:#}");
    assert_eq!(
        value(&samples, "ferry_files_transferred_total", &sync, text),
        sum("transferred")
    );
    assert_eq!(
        value(&samples, "ferry_bytes_transferred_total", &sync, text),
        sum("bytes")
    );

    assert_eq!(
        types.get("ferry_run_duration_seconds").map(String::as_str),
        Some("histogram")
    );
    assert_eq!(
        value(&samples, "ferry_run_duration_seconds_count", &sync, text),
        2.0
    );
    let inf = [("sync", SYNC), ("le", "+Inf")];
    assert_eq!(
        value(&samples, "ferry_run_duration_seconds_bucket", &inf, text),
        2.0
    );
    let took = value(&samples, "ferry_run_duration_seconds_sum", &sync, text);
    assert!(took.is_finite() && took >= 0.0, "{took}");

    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let last_success = value(
        &samples,
        "ferry_last_success_timestamp_seconds",
        &sync,
        text,
    );
    assert!(
        last_success > now - 60.0 && last_success <= now + 1.0,
        "the last success was at {last_success}, now is {now}"
    );
    assert_eq!(value(&samples, "ferry_runs_in_progress", &sync, text), 0.0);
}

/// `/metrics` says, in its Content-Type, the format it is written in: Prometheus' text
/// format 0.0.4 (where a counter's TYPE line names its samples, `…_total` included) or
/// OpenMetrics 1.0 (family names without `_total`, ending with `# EOF`). A scraper parses
/// the body by the Content-Type; a mismatch loses every counter's type.
#[test]
fn metrics_are_served_as_the_format_they_are_written_in() {
    let setup = setup("", "");
    let service = setup.start();
    run_once(&service);
    let response = service.get_with("/metrics", None);
    assert_eq!(response.status, 200, "{response:?}");
    let content_type = response.header("content-type").unwrap_or("").to_string();
    let body = &response.body;
    let openmetrics = body.trim_end().ends_with("# EOF");
    if openmetrics {
        assert!(
            content_type.starts_with("application/openmetrics-text"),
            "the body is OpenMetrics (it ends with `# EOF`; TYPE lines name counters without \
             _total, e.g. `# TYPE ferry_runs counter` above `ferry_runs_total{{…}}`), but it is \
             served as {content_type:?}, which Prometheus parses as its text format 0.0.4, \
             where ferry_runs_total then has no TYPE (untyped):\n{body}"
        );
    } else {
        assert!(
            content_type.starts_with("text/plain") && content_type.contains("version=0.0.4"),
            "{content_type:?}"
        );
        let (types, samples) = parse_metrics(body);
        for sample in &samples {
            let typed = types.iter().any(|(family, kind)| match kind.as_str() {
                "histogram" | "summary" => family_of(&sample.name, family, kind),
                _ => sample.name == *family,
            });
            assert!(
                typed,
                "{} has no TYPE line of its own name:\n{body}",
                sample.name
            );
        }
    }
}
