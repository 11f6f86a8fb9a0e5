//! The service's status page (`GET /`): one server-rendered HTML page, without JavaScript
//! or external assets, that shows each sync's state, schedule and actions, the failures of
//! its latest finished run grouped by category (what failed, why, what to do), a chart and
//! a table of its last runs. A `<meta http-equiv="refresh">` reloads it every
//! [`REFRESH_SECONDS`].
//!
//! Every string in a [`PageView`] is untrusted (names come from config; paths, messages and
//! advice from servers and plugins). All of them pass through [`esc`], which cuts an
//! over-long text with "…", escapes `&<>"'`, and shows a control, bidirectional or other
//! invisible format character as the visible text `\u{…}` (its code in hex, as in
//! `\u{202e}`), so that no name can hide or reorder what is shown. Numbers are formatted
//! here and drawn with integer arithmetic only, so that no value makes `NaN` or `inf`.

use std::collections::HashSet;

use crate::text::is_invisible;

/// Everything the status page shows.
pub struct PageView {
    /// When the view was taken, e.g. "2026-12-05 01:02:03 UTC".
    pub generated_at: String,
    /// Whether to show the sign-in form.
    pub sign_in: SignIn,
    /// The configured syncs, in the order shown.
    pub syncs: Vec<SyncView>,
    /// The outcome of the last action, e.g. "run 12 of nightly started", "token refused".
    pub notice: Option<String>,
}

/// Whether the viewer must sign in before acting.
pub enum SignIn {
    /// Actions need no sign-in.
    NotNeeded,
    /// Show the sign-in form; actions are still shown but will ask for sign-in.
    Needed,
    /// The viewer has signed in.
    SignedIn,
}

/// One sync as shown.
pub struct SyncView {
    /// The sync's name from config.
    pub name: String,
    /// What the sync is doing now.
    pub state: SyncState,
    /// "every 15m", "0 2 * * 1-5 (Europe/Berlin)", "not scheduled".
    pub schedule: String,
    /// "2026-12-05 02:00 UTC (in 57m)".
    pub next_run: Option<String>,
    /// The last runs, newest first; at most 20 are shown.
    pub runs: Vec<RunView>,
    /// Failures of the latest finished run by category, largest group first.
    pub failure_groups: Vec<FailureGroup>,
    /// A config or plugin problem that kept the sync from running.
    pub last_error: Option<String>,
}

/// What a sync is doing now.
pub enum SyncState {
    /// Waiting for its next run.
    Idle,
    /// Not run on its schedule until resumed.
    Paused,
    /// A run is under way.
    Running {
        /// The run's id.
        run: i64,
        /// Files finished so far.
        files_done: u64,
        /// Files the run will handle.
        files_total: u64,
        /// Bytes transferred so far.
        bytes_done: u64,
        /// Bytes the run will transfer.
        bytes_total: u64,
    },
}

/// One run of a sync.
pub struct RunView {
    /// The run's id.
    pub id: i64,
    /// success, partial_failure, failure, nothing_to_do, interrupted, running or skipped.
    pub status: String,
    /// When it started.
    pub started: String,
    /// How long it took (or has taken so far).
    pub seconds: f64,
    /// Files transferred.
    pub transferred: u64,
    /// Files that failed.
    pub failed: u64,
    /// Files a policy rejected.
    pub rejected: u64,
    /// Files left as they were (unchanged).
    pub skipped: u64,
    /// Bytes transferred.
    pub bytes: u64,
    /// Anything else to say about the run.
    pub note: Option<String>,
}

/// The failures of one category in a run.
pub struct FailureGroup {
    /// E.g. "invalid-name", "permission".
    pub category: String,
    /// How many files failed so (may exceed `paths.len()`).
    pub count: usize,
    /// When they are retried: "next-run", "never", ...
    pub retry: String,
    /// Distinct advice on what to do; at most 3 are shown.
    pub advice: Vec<String>,
    /// Some of the paths with their messages; at most 10 are shown.
    pub paths: Vec<(String, String)>,
}

/// Seconds between automatic reloads of the page.
pub const REFRESH_SECONDS: u32 = 10;

/// The most characters shown of a message, advice, note, error or notice.
const MAX_MESSAGE: usize = 500;
/// The most characters shown of a path, and of a name, category, schedule or time.
const MAX_PATH: usize = 300;
/// The most runs shown in a sync's table and chart.
const MAX_RUNS: usize = 20;
/// The most advice texts shown per failure group.
const MAX_ADVICE: usize = 3;
/// The most paths shown per failure group.
const MAX_PATHS: usize = 10;

/// The whole page as HTML.
pub fn render(page: &PageView) -> String {
    let slugs = slugs(&page.syncs);
    let sections: String = page
        .syncs
        .iter()
        .zip(&slugs)
        .map(|(sync, slug)| sync_section(sync, slug))
        .collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         {}<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{}<main>\n{}{}{}{}</main>\n\
         </body>\n</html>\n",
        refresh(&page.sign_in),
        title(&page.syncs),
        header(page),
        notice(page.notice.as_deref()),
        sign_in_form(&page.sign_in),
        overview(&page.syncs, &slugs),
        sections,
    )
}

/// `text` cut to `max` characters (with "…" when cut, at a character boundary) and made
/// safe as HTML text and as a quoted attribute value: `&<>"'` become references, and an
/// invisible character becomes the visible text `\u{…}` (see [`is_invisible`]).
fn esc(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max.saturating_mul(4)) + 8);
    let mut chars = text.chars();
    for c in chars.by_ref().take(max) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if is_invisible(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// `name` as one URL path segment: every byte but `A-Za-z0-9-._~` percent-encoded.
pub fn path_segment(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `name` with every character outside `[A-Za-z0-9_-]` replaced by `-`.
fn slug(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '_' | '-' => c,
            _ => '-',
        })
        .collect()
}

/// Each sync's slug, distinct on the page: a name that is its own slug keeps it; any
/// other, and a duplicate, gets the plain slug while free, else `-` and six hex digits of
/// a hash of the name. The result depends only on the names and their order.
fn slugs(syncs: &[SyncView]) -> Vec<String> {
    let mut order: Vec<usize> = (0..syncs.len()).collect();
    order.sort_by_key(|&at| slug(&syncs[at].name) != syncs[at].name);
    let mut taken = HashSet::new();
    let mut slugs = vec![String::new(); syncs.len()];
    for at in order {
        slugs[at] = free_slug(&syncs[at].name, &mut taken);
    }
    slugs
}

/// The first of `name`'s slug and its hashed variants not yet in `taken`, now taken.
fn free_slug(name: &str, taken: &mut HashSet<String>) -> String {
    let base = slug(name);
    let mut candidate = base.clone();
    let mut salt = 0u32;
    while !taken.insert(candidate.clone()) {
        candidate = format!("{base}-{:06x}", fnv1a(name, salt) & 0xff_ffff);
        salt = salt.wrapping_add(1);
    }
    candidate
}

/// The 32-bit FNV-1a hash of `name` followed by `salt`.
fn fnv1a(name: &str, salt: u32) -> u32 {
    name.bytes()
        .chain(salt.to_le_bytes())
        .fold(0x811c_9dc5, |hash, b| {
            (hash ^ u32::from(b)).wrapping_mul(0x0100_0193)
        })
}

/// `bytes` in B, KiB, MiB, GiB, TiB, PiB or EiB, one decimal (rounded down).
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let (mut unit, mut at) = (1024u64, 0);
    while at + 1 < UNITS.len() && bytes / unit >= 1024 {
        unit *= 1024;
        at += 1;
    }
    let tenths = u128::from(bytes) * 10 / u128::from(unit);
    format!("{}.{} {}", tenths / 10, tenths % 10, UNITS[at])
}

/// `seconds` as "4.2 s", "42 s", "3m 07s" or "1h 05m"; "–" when not a duration.
fn duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "–".into();
    }
    if seconds < 9.95 {
        return format!("{seconds:.1} s");
    }
    // A float beyond u64 saturates; the text stays finite.
    let whole = seconds.round() as u64;
    match whole {
        ..60 => format!("{whole} s"),
        60..3600 => format!("{}m {:02}s", whole / 60, whole % 60),
        _ => format!("{}h {:02}m", whole / 3600, whole % 3600 / 60),
    }
}

/// `count` and `noun`, with an "s" unless one.
fn plural(count: u64, noun: &str) -> String {
    let s = if count == 1 { "" } else { "s" };
    format!("{count} {noun}{s}")
}

/// The CSS class that colours a run status: `ok`, `warn`, `bad`, `run` or `quiet`.
fn status_class(status: &str) -> &'static str {
    match status {
        "success" => "ok",
        "partial_failure" | "interrupted" => "warn",
        "failure" => "bad",
        "running" => "run",
        _ => "quiet",
    }
}

/// A run status as read: "partial failure", "nothing to do".
fn status_text(status: &str) -> String {
    esc(&status.replace('_', " "), MAX_PATH)
}

/// The latest run of `sync` that has finished.
fn latest_finished(sync: &SyncView) -> Option<&RunView> {
    sync.runs.iter().find(|run| run.status != "running")
}

/// Whether `sync` needs a look: it could not run, or its latest run did not succeed.
fn needs_attention(sync: &SyncView) -> bool {
    sync.last_error.is_some()
        || latest_finished(sync)
            .is_some_and(|run| matches!(status_class(&run.status), "warn" | "bad"))
}

/// The document title: how many syncs need attention.
fn title(syncs: &[SyncView]) -> String {
    let failing = syncs.iter().filter(|sync| needs_attention(sync)).count();
    match failing {
        0 => format!("ferry · {}", plural(syncs.len() as u64, "sync")),
        _ => format!(
            "ferry · {failing} of {} need attention",
            plural(syncs.len() as u64, "sync")
        ),
    }
}

/// The page reloads itself, except while it asks for the token (a reload would clear
/// what is being typed).
fn refresh(sign_in: &SignIn) -> String {
    match sign_in {
        SignIn::Needed => String::new(),
        SignIn::NotNeeded | SignIn::SignedIn => {
            format!("<meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\">\n")
        }
    }
}

/// The page header: when the view was taken, and whether signed in.
fn header(page: &PageView) -> String {
    let (signed_in, reloads) = match page.sign_in {
        SignIn::SignedIn => ("<span class=\"signed-in\">signed in</span>", true),
        SignIn::NotNeeded => ("", true),
        SignIn::Needed => ("", false),
    };
    let reloads = match reloads {
        true => format!(" · reloads every {REFRESH_SECONDS} s"),
        false => String::new(),
    };
    format!(
        "<header><h1>ferry</h1><span class=\"muted\">as of {}{reloads}</span>{signed_in}</header>\n",
        esc(&page.generated_at, MAX_PATH)
    )
}

/// The outcome of the last action, if any.
fn notice(notice: Option<&str>) -> String {
    notice.map_or_else(String::new, |text| {
        format!(
            "<p class=\"notice\" role=\"status\">{}</p>\n",
            esc(text, MAX_MESSAGE)
        )
    })
}

/// The sign-in form, shown only when sign-in is needed.
fn sign_in_form(sign_in: &SignIn) -> String {
    match sign_in {
        SignIn::Needed => "<form method=\"post\" action=\"/sign-in\" class=\"sign-in\">\
             <label for=\"token\">Sign in to run or pause syncs:</label> \
             <input type=\"password\" name=\"token\" id=\"token\" autocomplete=\"current-password\" \
             placeholder=\"token\" required> <button type=\"submit\">Sign in</button></form>\n"
            .into(),
        SignIn::NotNeeded | SignIn::SignedIn => String::new(),
    }
}

/// A compact table of all syncs, each linking to its section.
fn overview(syncs: &[SyncView], slugs: &[String]) -> String {
    if syncs.is_empty() {
        return "<p class=\"muted\">No syncs are configured.</p>\n".into();
    }
    let rows: String = syncs
        .iter()
        .zip(slugs)
        .map(|(sync, slug)| overview_row(sync, slug))
        .collect();
    format!(
        "<table class=\"overview\"><thead><tr><th>sync</th><th>now</th><th>latest run</th>\
         <th class=\"n\">failed or rejected</th><th>next run</th></tr></thead><tbody>\n{rows}</tbody></table>\n"
    )
}

/// One sync's row in the overview.
fn overview_row(sync: &SyncView, slug: &str) -> String {
    let (latest, failed) = match latest_finished(sync) {
        Some(run) => (
            format!(
                "<span class=\"{}\">{}</span> <span class=\"muted\">{}</span>",
                status_class(&run.status),
                status_text(&run.status),
                esc(&run.started, MAX_PATH)
            ),
            count_cell(run.failed.saturating_add(run.rejected), "bad"),
        ),
        None => (
            "<span class=\"muted\">none yet</span>".into(),
            String::new(),
        ),
    };
    let problem = match sync.last_error {
        Some(_) => " <span class=\"bad\">cannot run</span>",
        None => "",
    };
    format!(
        "<tr><td><a href=\"#sync-{slug}\">{}</a>{problem}</td><td>{}</td><td>{latest}</td>\
         <td class=\"n\">{failed}</td><td>{}</td></tr>\n",
        esc(&sync.name, MAX_PATH),
        state_word(&sync.state),
        next_run(sync.next_run.as_deref()),
    )
}

/// The state as one coloured word, for the overview.
fn state_word(state: &SyncState) -> &'static str {
    match state {
        SyncState::Idle => "<span class=\"quiet\">idle</span>",
        SyncState::Paused => "<span class=\"warn\">paused</span>",
        SyncState::Running { .. } => "<span class=\"run\">running</span>",
    }
}

/// The next run, or that none is planned.
fn next_run(next: Option<&str>) -> String {
    next.map_or_else(
        || "<span class=\"muted\">—</span>".into(),
        |next| esc(next, MAX_PATH),
    )
}

/// One sync's section: head with state and actions, schedule and chart, what kept it from
/// running, its latest failures, and its last runs.
fn sync_section(sync: &SyncView, slug: &str) -> String {
    let runs = &sync.runs[..sync.runs.len().min(MAX_RUNS)];
    format!(
        "<section class=\"sync\" id=\"sync-{slug}\" data-sync=\"{}\">\n<div class=\"head\">\
         <h2><a href=\"#sync-{slug}\">{}</a></h2>{}<div class=\"actions\">{}</div></div>\n\
         <div class=\"info\"><p>{} · next run: {}</p>{}</div>\n{}{}{}</section>\n",
        esc(&sync.name, usize::MAX),
        esc(&sync.name, MAX_PATH),
        state_span(&sync.state),
        actions(sync),
        esc(&sync.schedule, MAX_PATH),
        next_run(sync.next_run.as_deref()),
        chart(runs),
        last_error(sync.last_error.as_deref()),
        failures(&sync.failure_groups),
        runs_table(runs),
    )
}

/// The state span; a running sync's shows its progress.
fn state_span(state: &SyncState) -> String {
    match state {
        SyncState::Idle => "<span class=\"state\" data-state=\"idle\">idle</span>".into(),
        SyncState::Paused => "<span class=\"state\" data-state=\"paused\">paused</span>".into(),
        SyncState::Running {
            run,
            files_done,
            files_total,
            bytes_done,
            bytes_total,
        } => format!(
            "<span class=\"state\" data-state=\"running\">running run {run} · files \
             {files_done} / {files_total} · {} / {} {}</span>",
            human_bytes(*bytes_done),
            human_bytes(*bytes_total),
            progress(*files_done, *files_total, *bytes_done, *bytes_total),
        ),
    }
}

/// A progress bar in thousandths, by bytes when known, else by files; indeterminate when
/// neither total is known.
fn progress(files_done: u64, files_total: u64, bytes_done: u64, bytes_total: u64) -> String {
    let (done, total) = if bytes_total > 0 {
        (bytes_done, bytes_total)
    } else {
        (files_done, files_total)
    };
    if total == 0 {
        return "<progress></progress>".into();
    }
    let permille = u128::from(done.min(total)) * 1000 / u128::from(total);
    format!(
        "<progress max=\"1000\" value=\"{permille}\">{}%</progress>",
        permille / 10
    )
}

/// The run-now form and the pause or resume form, whichever applies.
fn actions(sync: &SyncView) -> String {
    let (verb, label) = match sync.state {
        SyncState::Paused => ("resume", "Resume"),
        SyncState::Idle | SyncState::Running { .. } => ("pause", "Pause"),
    };
    format!(
        "{}{}",
        action_form(&sync.name, "run", "run-now", "Run now"),
        action_form(&sync.name, verb, verb, label)
    )
}

/// A form that posts to `/syncs/{name}/{verb}`.
fn action_form(name: &str, verb: &str, class: &str, label: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/syncs/{}/{verb}\"><button type=\"submit\" \
         class=\"{class}\">{label}</button></form>",
        path_segment(name)
    )
}

/// What kept the sync from running, if anything.
fn last_error(error: Option<&str>) -> String {
    error.map_or_else(String::new, |error| {
        format!(
            "<p class=\"last-error\" role=\"alert\"><strong>Cannot run:</strong> {}</p>\n",
            esc(error, MAX_MESSAGE)
        )
    })
}

/// The failure groups of the latest finished run; the largest group's paths open.
fn failures(groups: &[FailureGroup]) -> String {
    if groups.is_empty() {
        return String::new();
    }
    let groups: String = groups
        .iter()
        .enumerate()
        .map(|(at, group)| failure_group(group, at == 0))
        .collect();
    format!(
        "<div class=\"failures\"><h3>Failures of the latest finished run</h3>\n{groups}</div>\n"
    )
}

/// One category: its count, when it is retried, the advice, and its paths.
fn failure_group(group: &FailureGroup, open: bool) -> String {
    let advice: String = group
        .advice
        .iter()
        .take(MAX_ADVICE)
        .map(|advice| format!("<p class=\"advice\">{}</p>", esc(advice, MAX_MESSAGE)))
        .collect();
    format!(
        "<div class=\"category\" data-category=\"{category}\"><h4>{category} \
         <span class=\"count\">{}</span></h4><p class=\"retry\">{}</p>{advice}{}</div>\n",
        plural(group.count as u64, "file"),
        retry(&group.retry),
        failed_paths(group, open),
        category = esc(&group.category, MAX_PATH),
    )
}

/// When the files of a group are tried again, as read.
fn retry(retry: &str) -> String {
    match retry {
        "next-run" => "Retried on the next run.".into(),
        "never" => "Not retried until something changes.".into(),
        other => format!("Retried: {}.", esc(other, MAX_PATH)),
    }
}

/// The paths of a group with their messages, and how many more failed.
fn failed_paths(group: &FailureGroup, open: bool) -> String {
    let items: String = group
        .paths
        .iter()
        .take(MAX_PATHS)
        .map(|(path, message)| {
            format!(
                "<li><code class=\"path\">{}</code> <span class=\"message\">{}</span></li>",
                esc(path, MAX_PATH),
                esc(message, MAX_MESSAGE)
            )
        })
        .collect();
    let shown = group.paths.len().min(MAX_PATHS);
    let summary = match shown {
        0 => "no paths recorded".into(),
        _ if shown < group.count => format!("{shown} of {} paths", group.count),
        _ => plural(shown as u64, "path"),
    };
    let open = if open { " open" } else { "" };
    format!("<details{open}><summary>{summary}</summary><ul class=\"paths\">{items}</ul></details>")
}

/// The last runs, newest first.
fn runs_table(runs: &[RunView]) -> String {
    let rows: String = match runs {
        [] => {
            "<tr class=\"empty\"><td colspan=\"10\" class=\"muted\">No runs yet.</td></tr>".into()
        }
        runs => runs.iter().map(run_row).collect(),
    };
    format!(
        "<div class=\"scroll\"><table class=\"runs\"><thead><tr><th class=\"n\">run</th>\
         <th>status</th><th>started</th><th class=\"n\">duration</th>\
         <th class=\"n\">transferred</th><th class=\"n\">failed</th><th class=\"n\">rejected</th>\
         <th class=\"n\">unchanged</th><th class=\"n\">bytes</th><th>note</th></tr></thead>\
         <tbody>\n{rows}</tbody></table></div>\n"
    )
}

/// One run's row.
fn run_row(run: &RunView) -> String {
    let class = status_class(&run.status);
    let note = run
        .note
        .as_deref()
        .map_or_else(String::new, |note| esc(note, MAX_MESSAGE));
    format!(
        "<tr data-run=\"{}\" data-status=\"{}\" class=\"row-{class}\"><td class=\"n\">{}</td>\
         <td><span class=\"status {class}\">{}</span></td><td>{}</td><td class=\"n\">{}</td>\
         <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
         <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"note\">{note}</td></tr>\n",
        run.id,
        esc(&run.status, MAX_PATH),
        run.id,
        status_text(&run.status),
        esc(&run.started, MAX_PATH),
        duration(run.seconds),
        count_cell(run.transferred, ""),
        count_cell(run.failed, "bad"),
        count_cell(run.rejected, "warn"),
        count_cell(run.skipped, ""),
        human_bytes(run.bytes),
    )
}

/// A count, dimmed when zero and coloured with `class` otherwise.
fn count_cell(count: u64, class: &str) -> String {
    match (count, class) {
        (0, _) => "<span class=\"zero\">0</span>".into(),
        (_, "") => count.to_string(),
        _ => format!("<span class=\"{class}\">{count}</span>"),
    }
}

/// Chart width in SVG units: one slot per shown run.
const CHART_SLOT: u64 = 20;
/// Chart height in SVG units.
const CHART_HEIGHT: u64 = 100;
/// Where the plot starts below the labels.
const PLOT_TOP: u64 = 16;
/// Height of the plot.
const PLOT_HEIGHT: u64 = 80;

/// Bars for bytes and dots joined by a line for files transferred, per run, oldest left,
/// newest at the right edge. Coordinates are integers: no value makes `NaN` or `inf`.
fn chart(runs: &[RunView]) -> String {
    let width = CHART_SLOT * MAX_RUNS as u64;
    let open = format!(
        "<svg class=\"chart\" role=\"img\" viewBox=\"0 0 {width} {CHART_HEIGHT}\" \
         width=\"{width}\" height=\"{CHART_HEIGHT}\""
    );
    if runs.is_empty() {
        return format!(
            "{open} aria-label=\"No runs yet\"><text x=\"{}\" y=\"{}\" \
             text-anchor=\"middle\" class=\"label\">no runs yet</text></svg>\n",
            width / 2,
            CHART_HEIGHT / 2
        );
    }
    let max_bytes = runs.iter().map(|run| run.bytes).max().unwrap_or(0);
    let max_files = runs.iter().map(|run| run.transferred).max().unwrap_or(0);
    let oldest_first = runs.iter().rev();
    let first_slot = MAX_RUNS.saturating_sub(runs.len()) as u64;
    let points: Vec<(&RunView, u64, u64)> = oldest_first
        .zip(first_slot..)
        .map(|(run, slot)| {
            let x = slot * CHART_SLOT + CHART_SLOT / 2;
            (run, x, plot_y(run.transferred, max_files))
        })
        .collect();
    let line: Vec<String> = points.iter().map(|(_, x, y)| format!("{x},{y}")).collect();
    let marks: String = points
        .iter()
        .map(|&(run, x, y)| chart_mark(run, x, y, max_bytes))
        .collect();
    let summary = format!(
        "most in one run: {} (bars), {} (dots)",
        human_bytes(max_bytes),
        plural(max_files, "file")
    );
    format!(
        "{open} aria-label=\"Bytes and files transferred by the last {}, oldest left; \
         {summary}\"><text x=\"2\" y=\"11\" class=\"label\">{summary}</text>\
         <line class=\"axis\" x1=\"0\" y1=\"{base}\" x2=\"{width}\" y2=\"{base}\"/>\
         <polyline class=\"files\" points=\"{}\"/>{marks}</svg>\n",
        plural(runs.len() as u64, "run"),
        line.join(" "),
        base = PLOT_TOP + PLOT_HEIGHT,
    )
}

/// One run in the chart: its bytes bar and files dot, with a tooltip.
fn chart_mark(run: &RunView, x: u64, dot_y: u64, max_bytes: u64) -> String {
    let height = scaled(run.bytes, max_bytes).max(u64::from(run.bytes > 0));
    format!(
        "<g class=\"{}\"><title>run {}, {}: {}, {}, {} failed</title>\
         <rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{height}\"/>\
         <circle class=\"dot\" cx=\"{x}\" cy=\"{dot_y}\" r=\"3\"/></g>",
        status_class(&run.status),
        run.id,
        status_text(&run.status),
        plural(run.transferred, "file"),
        human_bytes(run.bytes),
        run.failed,
        x - CHART_SLOT / 2 + 3,
        PLOT_TOP + PLOT_HEIGHT - height,
        CHART_SLOT - 6,
    )
}

/// The y of a value on the plot, `max` at the top.
fn plot_y(value: u64, max: u64) -> u64 {
    PLOT_TOP + PLOT_HEIGHT - scaled(value, max)
}

/// `value` of `max` in plot units (0 when `max` is 0), computed without floats.
fn scaled(value: u64, max: u64) -> u64 {
    match max {
        0 => 0,
        _ => {
            let units = u128::from(value.min(max)) * u128::from(PLOT_HEIGHT) / u128::from(max);
            // At most PLOT_HEIGHT, so it fits.
            u64::try_from(units).unwrap_or(PLOT_HEIGHT)
        }
    }
}

/// The page's style: compact, light and dark, colours by status class.
const STYLE: &str = "
:root{--fg:#1f2328;--muted:#656d76;--bg:#f6f8fa;--card:#fff;--line:#d8dee4;--ok:#1a7f37;\
--warn:#9a6700;--bad:#cf222e;--run:#0969da;--quiet:#8c959f;--badbg:#ffebe9;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#8d96a0;--bg:#0d1117;\
--card:#161b22;--line:#30363d;--ok:#3fb950;--warn:#d29922;--bad:#f85149;--run:#4493f8;\
--quiet:#6e7681;--badbg:#3c1618}}
*{box-sizing:border-box}
body{margin:0;font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;\
color:var(--fg);background:var(--bg)}
header{display:flex;flex-wrap:wrap;align-items:baseline;gap:.2em 1em;padding:.5em 1em;\
background:var(--card);border-bottom:1px solid var(--line)}
h1{font-size:1.15em;margin:0}
h2{font-size:1.1em;margin:0;overflow-wrap:anywhere}
h2 a{color:inherit;text-decoration:none}
h3{font-size:1em;margin:.6em 0 .3em}
h4{font-size:.95em;margin:0 0 .2em;overflow-wrap:anywhere}
main{max-width:80em;margin:0 auto;padding:.6em 1em 2em}
p{margin:.25em 0}
a{color:var(--run)}
.muted,.zero,.quiet{color:var(--muted)}
.ok{color:var(--ok)}.warn{color:var(--warn)}.bad{color:var(--bad)}.run{color:var(--run)}
.signed-in{margin-left:auto;color:var(--ok)}
.notice{background:var(--card);border-left:4px solid var(--run);padding:.4em .8em;\
overflow-wrap:anywhere}
.sign-in{background:var(--card);border:1px solid var(--line);border-radius:6px;\
padding:.5em .8em;margin:.5em 0}
input,button{font:inherit;padding:.2em .6em;border:1px solid var(--line);border-radius:4px;\
background:var(--bg);color:var(--fg)}
button{cursor:pointer}
button.run-now{background:var(--run);border-color:var(--run);color:#fff}
form{margin:0}
table{border-collapse:collapse;width:100%}
th,td{padding:.12em .5em;text-align:left;vertical-align:top;border-bottom:1px solid var(--line)}
th{font-weight:600;color:var(--muted);font-size:.9em;background:var(--card)}
.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.overview{background:var(--card);border:1px solid var(--line);margin:.5em 0}
.overview td:first-child{overflow-wrap:break-word}
.sync{background:var(--card);border:1px solid var(--line);border-radius:6px;\
padding:.6em .9em;margin:.8em 0}
.head{display:flex;flex-wrap:wrap;align-items:center;gap:.3em .8em}
.actions{display:flex;gap:.4em;margin-left:auto}
.state{padding:.05em .6em;border-radius:1em;border:1px solid currentColor;font-size:.9em;\
display:inline-flex;align-items:center;gap:.5em;flex-wrap:wrap}
.state[data-state=idle]{color:var(--muted)}
.state[data-state=paused]{color:var(--warn)}
.state[data-state=running]{color:var(--run)}
progress{width:8em}
.info{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:flex-end;\
gap:.5em;margin:.3em 0;color:var(--muted)}
.chart{max-width:100%;height:auto;background:var(--bg);border-radius:4px}
.chart .label{font-size:10px;fill:var(--muted)}
.chart .axis{stroke:var(--line)}
.chart .files{fill:none;stroke:var(--fg);stroke-width:1;opacity:.5}
.chart .dot{fill:var(--fg)}
.chart .bar{fill:var(--quiet)}
.chart .ok .bar{fill:var(--ok)}.chart .warn .bar{fill:var(--warn)}
.chart .bad .bar{fill:var(--bad)}.chart .run .bar{fill:var(--run)}
.last-error{background:var(--badbg);border-left:4px solid var(--bad);padding:.4em .8em;\
overflow-wrap:anywhere}
.failures{margin:.4em 0}
.category{border-left:4px solid var(--bad);padding:.2em .8em;margin:.4em 0;background:var(--bg)}
.count{color:var(--bad);font-weight:400}
.retry{color:var(--muted);font-size:.9em}
.advice::before{content:'→ ';color:var(--muted)}
summary{cursor:pointer;color:var(--muted)}
.paths{margin:.2em 0;padding-left:1.2em}
.paths li{overflow-wrap:anywhere}
.path{font-size:.9em}
.message{color:var(--muted)}
.scroll{overflow:auto;max-height:17em;margin-top:.4em}
.runs thead th{position:sticky;top:0}
.runs tr.row-bad td:first-child{box-shadow:inset 3px 0 var(--bad)}
.runs tr.row-warn td:first-child{box-shadow:inset 3px 0 var(--warn)}
.note{overflow-wrap:anywhere;min-width:12em}
";

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: i64, status: &str, transferred: u64, bytes: u64) -> RunView {
        RunView {
            id,
            status: status.into(),
            started: format!("2026-12-05 01:{:02} UTC", id % 60),
            seconds: 12.5,
            transferred,
            failed: u64::from(matches!(status, "failure" | "partial_failure")),
            rejected: 0,
            skipped: 40,
            bytes,
            note: None,
        }
    }

    fn sync(name: &str) -> SyncView {
        SyncView {
            name: name.into(),
            state: SyncState::Idle,
            schedule: "every 15m".into(),
            next_run: Some("2026-12-05 02:00 UTC (in 57m)".into()),
            runs: vec![
                run(2, "partial_failure", 3, 4096),
                run(1, "success", 5, 1 << 20),
            ],
            failure_groups: vec![FailureGroup {
                category: "permission".into(),
                count: 12,
                retry: "next-run".into(),
                advice: vec!["Ask the partner to grant write access.".into()],
                paths: vec![("in/a.csv".into(), "550 Permission denied".into())],
            }],
            last_error: None,
        }
    }

    fn page(syncs: Vec<SyncView>, sign_in: SignIn) -> PageView {
        PageView {
            generated_at: "2026-12-05 01:02:03 UTC".into(),
            sign_in,
            syncs,
            notice: None,
        }
    }

    fn rendered(syncs: Vec<SyncView>) -> String {
        render(&page(syncs, SignIn::NotNeeded))
    }

    /// The `<svg …>…</svg>` charts of a page.
    fn charts(html: &str) -> Vec<&str> {
        html.split("<svg ")
            .skip(1)
            .filter_map(|rest| rest.split_once("</svg>").map(|(svg, _)| svg))
            .collect()
    }

    const HOSTILE: &str = "<script>alert(1)</script><img src=x onerror=alert(2)>'\"&";

    #[test]
    fn hostile_texts_never_appear_unescaped() {
        let mut hostile = sync(HOSTILE);
        hostile.schedule = HOSTILE.into();
        hostile.next_run = Some(HOSTILE.into());
        hostile.last_error = Some(HOSTILE.into());
        hostile.runs[0].status = HOSTILE.into();
        hostile.runs[0].started = HOSTILE.into();
        hostile.runs[0].note = Some(HOSTILE.into());
        hostile.failure_groups[0] = FailureGroup {
            category: HOSTILE.into(),
            count: 1,
            retry: HOSTILE.into(),
            advice: vec![HOSTILE.into()],
            paths: vec![(HOSTILE.into(), HOSTILE.into())],
        };
        let mut page = page(vec![hostile], SignIn::Needed);
        page.generated_at = HOSTILE.into();
        page.notice = Some(HOSTILE.into());
        let html = render(&page);
        for raw in ["<script", "<img", "'\"&"] {
            assert!(!html.contains(raw), "{raw} is in the page");
        }
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("&#39;&quot;&amp;"));
    }

    #[test]
    fn a_quote_in_a_name_cannot_break_out_of_an_attribute() {
        let html = rendered(vec![sync("x\" onmouseover=\"alert(1)")]);
        assert!(html.contains("data-sync=\"x&quot; onmouseover=&quot;alert(1)\""));
        assert!(!html.contains("onmouseover=\""));
        assert!(html.contains("action=\"/syncs/x%22%20onmouseover%3D%22alert%281%29/run\""));
    }

    #[test]
    fn control_and_bidi_characters_are_shown_as_escapes() {
        let mut tricky = sync("invoice\u{202e}fdp.exe");
        tricky.failure_groups[0].paths =
            vec![("a\u{1b}[2J\u{200b}b\nc".into(), "d\u{2066}e\u{0}".into())];
        let html = rendered(vec![tricky]);
        assert!(html.contains("invoice\\u{202e}fdp.exe"));
        assert!(html.contains("a\\u{1b}[2J\\u{200b}b\\u{a}c"));
        assert!(html.contains("d\\u{2066}e\\u{0}"));
        let shown = html
            .chars()
            .filter(|&c| c != '\n')
            .find(|&c| is_invisible(c));
        assert_eq!(shown, None);
    }

    #[test]
    fn long_texts_are_cut_at_a_character_boundary() {
        let mut long = sync("long");
        long.failure_groups[0].paths = vec![("p".repeat(1000), "é".repeat(1000))];
        long.failure_groups[0].advice = vec!["😀".repeat(501)];
        let html = rendered(vec![long]);
        assert!(html.contains(&format!(">{}…<", "p".repeat(MAX_PATH))));
        assert!(!html.contains(&"p".repeat(MAX_PATH + 1)));
        assert!(html.contains(&format!(">{}…<", "é".repeat(MAX_MESSAGE))));
        assert!(html.contains(&format!(">{}…<", "😀".repeat(MAX_MESSAGE))));
        assert_eq!(esc(&"x".repeat(MAX_PATH), MAX_PATH), "x".repeat(MAX_PATH));
    }

    #[test]
    fn a_section_follows_the_dom_contract() {
        let html = rendered(vec![sync("nightly")]);
        for marker in [
            "<section class=\"sync\" id=\"sync-nightly\" data-sync=\"nightly\">",
            "<span class=\"state\" data-state=\"idle\">",
            "<table class=\"runs\">",
            "<tr data-run=\"2\" data-status=\"partial_failure\"",
            "<tr data-run=\"1\" data-status=\"success\"",
            "<div class=\"failures\">",
            "<div class=\"category\" data-category=\"permission\"><h4>permission",
            "12 files</span></h4>",
            "<p class=\"advice\">Ask the partner to grant write access.</p>",
            "<details open><summary>1 of 12 paths</summary>",
            "in/a.csv</code> <span class=\"message\">550 Permission denied",
            "<form method=\"post\" action=\"/syncs/nightly/run\"><button type=\"submit\" \
             class=\"run-now\">Run now</button></form>",
            "<form method=\"post\" action=\"/syncs/nightly/pause\"><button type=\"submit\" \
             class=\"pause\">",
            "<svg class=\"chart\" role=\"img\"",
            "<meta http-equiv=\"refresh\" content=\"10\">",
            "<meta charset=\"utf-8\">",
            "<title>ferry · 1 of 1 sync need attention</title>",
        ] {
            assert!(html.contains(marker), "missing {marker}");
        }
        for header in ["run", "status", "started", "duration", "transferred"] {
            assert!(
                html.contains(&format!(">{header}</th>")),
                "missing {header}"
            );
        }
        for header in ["failed", "rejected", "unchanged", "bytes", "note"] {
            assert!(
                html.contains(&format!(">{header}</th>")),
                "missing {header}"
            );
        }
        assert!(!html.contains("class=\"resume\""));
        assert_eq!(html.matches("<tr data-run=").count(), 2);
    }

    #[test]
    fn a_paused_sync_offers_resume_only() {
        let mut paused = sync("nightly");
        paused.state = SyncState::Paused;
        let html = rendered(vec![paused]);
        assert!(html.contains("<span class=\"state\" data-state=\"paused\">"));
        assert!(html.contains(
            "<form method=\"post\" action=\"/syncs/nightly/resume\"><button type=\"submit\" \
             class=\"resume\">Resume</button></form>"
        ));
        assert!(!html.contains("class=\"pause\""));
    }

    #[test]
    fn names_are_percent_encoded_in_actions() {
        assert_eq!(
            path_segment("a b/ü?#%.~_-Z9"),
            "a%20b%2F%C3%BC%3F%23%25.~_-Z9"
        );
        let html = rendered(vec![sync("a b/ü")]);
        assert!(html.contains("action=\"/syncs/a%20b%2F%C3%BC/run\""));
    }

    #[test]
    fn slugs_are_distinct_and_deterministic() {
        let names = ["a b", "a-b", "a/b", "a-b", "ü"];
        let syncs: Vec<SyncView> = names.iter().map(|name| sync(name)).collect();
        let slugs = slugs(&syncs);
        assert_eq!(slugs[1], "a-b", "a name that is its own slug keeps it");
        assert_eq!(slugs[4], "-");
        let distinct: HashSet<&String> = slugs.iter().collect();
        assert_eq!(distinct.len(), names.len(), "{slugs:?}");
        for (slug, name) in slugs.iter().zip(names) {
            assert!(slug.starts_with(&super::slug(name)), "{slug} for {name}");
            assert!(
                slug.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
            );
        }
        assert_eq!(slugs, super::slugs(&syncs));
        let html = rendered(syncs);
        assert!(html.contains("id=\"sync-a-b\" data-sync=\"a-b\""));
    }

    #[test]
    fn charts_have_no_nan_or_inf_for_any_number_of_runs() {
        let huge = |id| RunView {
            seconds: f64::NAN,
            ..run(id, "success", u64::MAX, u64::MAX)
        };
        let zero = |id| RunView {
            seconds: f64::INFINITY,
            ..run(id, "nothing_to_do", 0, 0)
        };
        let cases: Vec<Vec<RunView>> = vec![
            vec![],
            vec![huge(1)],
            vec![zero(1)],
            (1..=20).map(huge).collect(),
            (1..=20).map(zero).collect(),
            (1..=25)
                .map(|id| run(id, "failure", id as u64, (id as u64) << 40))
                .collect(),
        ];
        for runs in cases {
            let count = runs.len().min(MAX_RUNS);
            let mut one = sync("s");
            one.runs = runs;
            let html = rendered(vec![one]);
            let charts = charts(&html);
            assert_eq!(charts.len(), 1);
            assert_eq!(charts[0].matches("<rect class=\"bar\"").count(), count);
            assert_eq!(charts[0].matches("<title>").count(), count);
            for bad in ["NaN", "inf", "=\"-", ",-", " -"] {
                assert!(!charts[0].contains(bad), "{bad} in {}", charts[0]);
            }
            assert!(!html.contains("NaN") && !html.contains("inf s"));
            assert_eq!(html.matches("<tr data-run=").count(), count);
        }
    }

    #[test]
    fn the_chart_puts_the_oldest_run_left() {
        let runs = vec![
            run(3, "success", 1, 10),
            run(2, "success", 2, 0),
            run(1, "failure", 3, 5),
        ];
        let chart = chart(&runs);
        let first = chart.find("run 1,").unwrap_or(usize::MAX);
        let last = chart.find("run 3,").unwrap_or(0);
        assert!(first < last, "{chart}");
        assert!(chart.contains("points=\"350,16 370,43 390,70\""), "{chart}");
        assert!(
            chart.contains("x=\"383\" y=\"16\" width=\"14\" height=\"80\""),
            "{chart}"
        );
    }

    #[test]
    fn a_running_sync_shows_its_progress() {
        let mut running = sync("s");
        running.state = SyncState::Running {
            run: 7,
            files_done: 3,
            files_total: 10,
            bytes_done: 1536,
            bytes_total: 4096,
        };
        let html = rendered(vec![running]);
        assert!(html.contains("<span class=\"state\" data-state=\"running\">running run 7"));
        assert!(html.contains("files 3 / 10 · 1.5 KiB / 4.0 KiB"));
        assert!(html.contains("<progress max=\"1000\" value=\"375\">37%</progress></span>"));
        assert_eq!(
            progress(3, 10, 0, 0),
            "<progress max=\"1000\" value=\"300\">30%</progress>"
        );
        assert_eq!(progress(0, 0, 0, 0), "<progress></progress>");
        assert!(progress(0, 0, u64::MAX, 1).contains("value=\"1000\""));
        assert!(progress(0, 0, u64::MAX - 1, u64::MAX).contains("value=\"999\""));
    }

    #[test]
    fn the_sign_in_form_is_shown_only_when_needed() {
        let form = "<form method=\"post\" action=\"/sign-in\" class=\"sign-in\">";
        let needed = render(&page(vec![sync("s")], SignIn::Needed));
        assert!(needed.contains(form));
        assert!(needed.contains("<input type=\"password\" name=\"token\""));
        assert!(needed.contains("<button type=\"submit\">Sign in</button></form>"));
        assert!(needed.contains("class=\"run-now\""));
        for other in [SignIn::NotNeeded, SignIn::SignedIn] {
            let html = render(&page(vec![sync("s")], other));
            assert!(!html.contains(form) && !html.contains("type=\"password\""));
        }
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1024), "1.0 KiB");
        assert_eq!(human_bytes(5 << 30 | 1 << 29), "5.5 GiB");
        assert_eq!(human_bytes(u64::MAX), "15.9 EiB");
        assert_eq!(duration(4.24), "4.2 s");
        assert_eq!(duration(42.4), "42 s");
        assert_eq!(duration(187.0), "3m 07s");
        assert_eq!(duration(3900.0), "1h 05m");
        for bad in [f64::NAN, f64::INFINITY, -1.0] {
            assert_eq!(duration(bad), "–");
        }
        assert!(duration(1e300).ends_with('m'));
    }

    #[test]
    fn an_empty_page_says_so() {
        let mut empty = page(vec![], SignIn::NotNeeded);
        empty.notice = Some("token refused".into());
        let html = render(&empty);
        assert!(html.contains("No syncs are configured."));
        assert!(html.contains("<p class=\"notice\" role=\"status\">token refused</p>"));
        assert!(html.contains("<title>ferry · 0 syncs</title>"));
    }

    /// A realistic page: what the sample shows.
    fn sample() -> PageView {
        let mut nightly = sync("nightly-partner-a");
        nightly.schedule = "0 2 * * 1-5 (Europe/Berlin)".into();
        nightly.runs = (1..=20)
            .rev()
            .map(|id| {
                let status = match id % 7 {
                    _ if id == 20 => "partial_failure",
                    0 => "failure",
                    3 => "partial_failure",
                    5 => "nothing_to_do",
                    _ => "success",
                };
                RunView {
                    seconds: 3.0 + (id * 37 % 400) as f64,
                    note: (id == 14).then(|| "server closed the connection".into()),
                    ..run(
                        id + 100,
                        status,
                        (id * 13 % 90) as u64,
                        (id as u64 * 7919 % 500) << 20,
                    )
                }
            })
            .collect();
        nightly.failure_groups = vec![
            FailureGroup {
                category: "invalid-name".into(),
                count: 14,
                retry: "never".into(),
                advice: vec![
                    "Rename the files: the partner's server refuses ':' and '?' in names.".into(),
                    "Or enable the rename-invalid plugin for this sync.".into(),
                ],
                paths: (1..=10)
                    .map(|n| {
                        (
                            format!("exports/2026-12/report {n}: draft?.csv"),
                            "553 File name not allowed".into(),
                        )
                    })
                    .collect(),
            },
            FailureGroup {
                category: "permission".into(),
                count: 2,
                retry: "next-run".into(),
                advice: vec!["Ask the partner to grant write access to /incoming/archive.".into()],
                paths: vec![
                    ("archive/2025.zip".into(), "550 Permission denied".into()),
                    (
                        "invoice\u{202e}fdp.exe".into(),
                        "<script>alert('x')</script>".into(),
                    ),
                ],
            },
        ];
        let mut invoices = sync("invoices to acme");
        invoices.state = SyncState::Running {
            run: 311,
            files_done: 412,
            files_total: 980,
            bytes_done: 734 << 20,
            bytes_total: 2 << 30,
        };
        invoices.runs = vec![
            RunView {
                seconds: 95.0,
                ..run(311, "running", 412, 734 << 20)
            },
            run(310, "success", 980, 2 << 30),
        ];
        invoices.failure_groups = vec![];
        let mut archive = sync("archive");
        archive.state = SyncState::Paused;
        archive.schedule = "not scheduled".into();
        archive.next_run = None;
        archive.runs = vec![];
        archive.failure_groups = vec![];
        archive.last_error =
            Some("plugin rename-invalid: failed to load: missing export `check`".into());
        PageView {
            generated_at: "2026-12-05 01:02:03 UTC".into(),
            sign_in: SignIn::Needed,
            syncs: vec![nightly, invoices, archive],
            notice: Some("run 311 of invoices to acme started".into()),
        }
    }

    /// Renders the sample; writes it to the file named by `FERRY_PAGE_SAMPLE` when set.
    #[test]
    fn the_sample_page_renders_and_is_written_when_asked() {
        let html = render(&sample());
        assert_eq!(html.matches("<section class=\"sync\"").count(), 3);
        assert_eq!(charts(&html).len(), 3);
        if let Some(path) = std::env::var_os("FERRY_PAGE_SAMPLE") {
            std::fs::write(path, html).unwrap();
        }
    }
}
