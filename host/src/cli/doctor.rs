//! `ferry doctor REMOTE [FOLDER]`: the troubleshooting advice "reconfigure the permissions
//! one at a time and re-test", automated. The remote is opened step by step and every
//! operation a sync needs is tried in a scratch folder in the folder tested
//! ([`crate::remote::probe`]); the remote's policy plugin reads each failure, the address
//! the connection left from is shown for the partner's IP allow-list. The steps tell which
//! requests the server allows ([`Capability`]); from those, and from how the remote lets an
//! upload replace a file, doctor names the settings that fit it, each with why.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use clap::Args;
use serde_json::{Value, json};

use super::exit::{self, CliError};
use super::output::{emit, out};
use super::run::load_config;
use crate::config::{RemoteConfig, Transport};
use crate::plugin::{Classification, category_name, retry_name};
use crate::remote::probe::{self, Capability, Cleanup, Outcome, Probe, Replace, Step};
use crate::remote::{RemoteError, protocol_of};
use crate::session::{Session, Threads};
use crate::sync::PolicyHandle;
use crate::text::inert;

/// Wide enough for every step's name and a gap.
const STEP_COLUMN: usize = 15;
const RESULT_COLUMN: usize = 8;

#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// The remote to test, as named in the config ([remotes.NAME]).
    remote: String,
    /// The folder to test in, relative to the remote's root (default: the root).
    folder: Option<String>,
}

pub fn doctor(args: DoctorArgs, config_path: Option<&Path>, json: bool) -> Result<u8, CliError> {
    let config = load_config(config_path)?;
    let remote = config.remote(&args.remote)?;
    let session = Session::new(Threads::One)?;
    let policy = session.policy(&config, remote)?;
    // Relative to the root however it is written: "/in/", "in" and "." for the root alike.
    let folder = match args.folder.as_deref().unwrap_or("").trim_matches('/') {
        "." => "",
        folder => folder,
    };
    let diagnosis = session
        .runtime()
        .block_on(diagnose(remote, &policy, folder));
    if json {
        out!("{:#}", diagnosis.to_json());
    } else {
        emit(&diagnosis.to_text());
    }
    Ok(if diagnosis.passed() {
        exit::OK
    } else {
        exit::FAILURE
    })
}

const SET_MTIME_WHY: &str = "the server refuses to set modification times (ferry delivers \
     every file anyway, remembering each one's own size and time so that reruns send nothing \
     again); this only skips asking";
const UPLOAD_DIRECT_WHY: &str =
    "the server refuses every rename, so an upload cannot be finished under a temporary name";
const LISTING_NONE_WHY: &str = "the server refuses listing while it takes files (a write-only \
     inbox): ferry then decides what to send from what it delivered before (not with \
     delete = \"mirror\", not as a source)";
const NO_REMOVE_NOTE: &str = "the server refuses to remove files: with delete = \"mirror\", \
     each refused delete is reported once, then held and not tried again until `ferry retry`";

/// What the server made of a capability's request.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    Allowed,
    Refused,
    /// Not asked: a step it needs did not pass.
    Untested,
    /// Not asked: the remote does not offer it by design.
    NotOffered,
}

impl Answer {
    fn name(self) -> &'static str {
        match self {
            Answer::Allowed => "allowed",
            Answer::Refused => "refused",
            Answer::Untested => "untested",
            Answer::NotOffered => "not-offered",
        }
    }
}

/// A setting that fits what the probe found, where it goes, and why.
struct Fit {
    setting: &'static str,
    on: Scope,
    why: &'static str,
}

#[derive(Clone, Copy)]
enum Scope {
    Remote,
    Sync,
}

impl Scope {
    fn name(self) -> &'static str {
        match self {
            Scope::Remote => "remote",
            Scope::Sync => "sync",
        }
    }

    fn text(self) -> &'static str {
        match self {
            Scope::Remote => "on the remote",
            Scope::Sync => "on the syncs to this remote",
        }
    }
}

/// A probe, each failure read by the policy plugin.
struct Diagnosis<'a> {
    remote: &'a RemoteConfig,
    policy: &'a str,
    addresses: Vec<SocketAddr>,
    local_address: Option<String>,
    rows: Vec<Row>,
    cleanup: Cleanup,
    replace: Option<Replace>,
}

struct Row {
    step: Step,
    elapsed: Option<Duration>,
    status: Status,
}

enum Status {
    Passed,
    Skipped {
        needs: Step,
    },
    NotOffered(&'static str),
    Failed {
        error: RemoteError,
        reading: Classification,
    },
}

async fn diagnose<'a>(
    remote: &'a RemoteConfig,
    policy: &'a PolicyHandle,
    folder: &str,
) -> Diagnosis<'a> {
    let Probe {
        addresses,
        local_address,
        steps,
        cleanup,
        replace,
    } = probe::probe(remote, folder).await;
    let protocol = protocol_of(remote);
    let mut rows = Vec::with_capacity(steps.len());
    for report in steps {
        let status = match report.outcome {
            Outcome::Passed => Status::Passed,
            Outcome::Skipped { needs } => Status::Skipped { needs },
            Outcome::NotOffered(why) => Status::NotOffered(why),
            Outcome::Failed(error) => Status::Failed {
                reading: policy.classify(error.to_raw(protocol)).await,
                error,
            },
        };
        rows.push(Row {
            step: report.step,
            elapsed: report.elapsed,
            status,
        });
    }
    Diagnosis {
        remote,
        policy: policy.label(),
        addresses,
        local_address,
        rows,
        cleanup,
        replace,
    }
}

impl Diagnosis<'_> {
    fn passed(&self) -> bool {
        self.cleanup.left.is_empty()
            && self
                .rows
                .iter()
                .all(|row| matches!(row.status, Status::Passed | Status::NotOffered(_)))
    }

    fn status_of(&self, step: Step) -> Option<&Status> {
        self.rows
            .iter()
            .find(|row| row.step == step)
            .map(|row| &row.status)
    }

    /// Why a skipped step was not tried: the step it needs, and what became of that.
    fn skip_reason(&self, needs: Step) -> String {
        let became = match self.status_of(needs) {
            Some(Status::Failed { .. }) => match self.remote.transport {
                Transport::Local(_) => "which failed",
                _ => "which the server refused",
            },
            _ => "which was not tried",
        };
        format!("needs {}, {became}", needs.name())
    }

    /// What the server made of `capability`'s request, and why when it was not allowed.
    fn answer(&self, capability: Capability) -> (Answer, Option<String>) {
        match self.status_of(capability.step()) {
            Some(Status::Passed) => (Answer::Allowed, None),
            Some(Status::Failed { error, .. }) => (Answer::Refused, Some(error.message.clone())),
            Some(Status::Skipped { needs }) => (Answer::Untested, Some(self.skip_reason(*needs))),
            Some(Status::NotOffered(why)) => (Answer::NotOffered, Some(why.to_string())),
            None => (Answer::Untested, None),
        }
    }

    fn is(&self, capability: Capability, answer: Answer) -> bool {
        self.answer(capability).0 == answer
    }

    fn fits(&self) -> Vec<Fit> {
        let set_mtime = self
            .is(Capability::Setstat, Answer::Refused)
            .then_some(Fit {
                setting: "set_mtime = false",
                on: Scope::Remote,
                why: SET_MTIME_WHY,
            });
        let listing = self.write_only().then_some(Fit {
            setting: "listing = \"none\"",
            on: Scope::Remote,
            why: LISTING_NONE_WHY,
        });
        let upload = self.replace.and_then(replace_setting).map(|setting| Fit {
            setting,
            on: Scope::Sync,
            why: UPLOAD_DIRECT_WHY,
        });
        set_mtime.into_iter().chain(listing).chain(upload).collect()
    }

    /// Listing is refused while writing works: a write-only inbox.
    fn write_only(&self) -> bool {
        self.is(Capability::List, Answer::Refused) && self.is(Capability::Write, Answer::Allowed)
    }

    /// What the server's refusals mean for a sync where no setting helps.
    fn notes(&self) -> Vec<&'static str> {
        let no_remove = self.is(Capability::Remove, Answer::Refused);
        no_remove.then_some(NO_REMOVE_NOTE).into_iter().collect()
    }

    fn capabilities_json(&self) -> Value {
        let answers = Capability::ALL.iter().map(|capability| {
            let (answer, reason) = self.answer(*capability);
            let value = json!({"status": answer.name(), "reason": reason});
            (capability.name().to_string(), value)
        });
        Value::Object(answers.collect())
    }

    fn capabilities_text(&self) -> String {
        let mut text = format!("{:<STEP_COLUMN$}server\n", "capability");
        for capability in Capability::ALL {
            let answer = match self.answer(capability) {
                (answer, Some(reason)) => format!("{}: {}", answer.name(), inert(&reason)),
                (answer, None) => answer.name().to_string(),
            };
            text.push_str(&format!("{:<STEP_COLUMN$}{answer}\n", capability.name()));
        }
        text
    }

    fn settings_text(&self) -> String {
        let fits = self.fits();
        let mut text = match fits.is_empty() {
            true => "settings that fit: the defaults\n".to_string(),
            false => "settings that fit:\n".to_string(),
        };
        for fit in fits {
            text.push_str(&format!(
                "  {} {}: {}\n",
                fit.setting,
                fit.on.text(),
                fit.why
            ));
        }
        for note in self.notes() {
            text.push_str(&format!("note: {note}\n"));
        }
        text
    }

    fn count(&self, wanted: fn(&Status) -> bool) -> usize {
        self.rows.iter().filter(|row| wanted(&row.status)).count()
    }

    fn to_json(&self) -> Value {
        let addresses: Vec<String> = self.addresses.iter().map(ToString::to_string).collect();
        let steps: Vec<Value> = self.rows.iter().map(|row| row.to_json(self)).collect();
        let settings: Vec<Value> = self
            .fits()
            .iter()
            .map(|fit| json!({"setting": fit.setting, "on": fit.on.name(), "why": fit.why}))
            .collect();
        json!({
            "remote": self.remote.name,
            "kind": kind_name(self.remote),
            "policy": self.policy,
            "addresses": addresses,
            "local_address": self.local_address,
            "steps": steps,
            "capabilities": self.capabilities_json(),
            "cleanup": cleanup_json(&self.cleanup),
            "replace": self.replace.map(|replace| json!({
                "strategy": replace_name(replace),
                "setting": replace_setting(replace),
            })),
            "settings": settings,
            "notes": self.notes(),
            "ok": self.passed(),
        })
    }

    fn to_text(&self) -> String {
        let mut text = format!(
            "remote {}: {}, policy {}\n",
            self.remote.name,
            kind_name(self.remote),
            inert(self.policy)
        );
        if !self.addresses.is_empty() {
            let addresses: Vec<String> = self.addresses.iter().map(ToString::to_string).collect();
            text.push_str(&format!("addresses: {}\n", addresses.join(", ")));
        }
        if let Some(address) = &self.local_address {
            text.push_str(&format!(
                "local address: {address} (the address a partner's IP allow-list must allow)\n"
            ));
        }
        text.push_str(&format!(
            "\n{:<STEP_COLUMN$}{:<RESULT_COLUMN$}time\n",
            "step", "result"
        ));
        for row in &self.rows {
            text.push_str(&row.to_text(self));
        }
        text.push('\n');
        text.push_str(&self.capabilities_text());
        text.push('\n');
        if let Some(replace) = self.replace {
            text.push_str(&replace_text(replace));
        }
        text.push_str(&self.settings_text());
        text.push_str(&cleanup_text(&self.cleanup));
        text.push_str(&self.summary());
        text
    }

    fn summary(&self) -> String {
        let total = self.rows.len();
        if self.passed() {
            return format!("all {total} steps passed\n");
        }
        let failed = self.count(|status| matches!(status, Status::Failed { .. }));
        let skipped = self.count(|status| matches!(status, Status::Skipped { .. }));
        let left = match self.cleanup.left.len() {
            0 => String::new(),
            left => format!("; {left} paths left behind"),
        };
        format!(
            "{failed} of {total} steps failed, {skipped} skipped, {} passed{left}\n",
            total - failed - skipped
        )
    }
}

impl Row {
    fn to_json(&self, diagnosis: &Diagnosis) -> Value {
        let (needs, failure) = match &self.status {
            Status::Passed | Status::NotOffered(_) => (None, None),
            Status::Skipped { needs } => (Some(*needs), None),
            Status::Failed { error, reading } => (None, Some((error, reading))),
        };
        json!({
            "step": self.step.name(),
            "ok": matches!(self.status, Status::Passed | Status::NotOffered(_)),
            "not_offered": match self.status {
                Status::NotOffered(why) => Some(why),
                _ => None,
            },
            "skipped": needs.is_some(),
            "needs": needs.map(Step::name),
            "why_skipped": needs.map(|needs| diagnosis.skip_reason(needs)),
            "millis": self.elapsed.map(|elapsed| elapsed.as_millis() as u64),
            "category": failure.map(|(_, reading)| category_name(reading.category)),
            "retry": failure.map(|(_, reading)| retry_name(reading.retry)),
            "message": failure.map(|(error, _)| &error.message),
            "advice": failure.map(|(_, reading)| &reading.advice),
        })
    }

    /// One line, and for a failure the plugin's reading and the raw message under it.
    fn to_text(&self, diagnosis: &Diagnosis) -> String {
        let time = self
            .elapsed
            .map(|elapsed| format!("{} ms", elapsed.as_millis()))
            .unwrap_or_default();
        let (result, details) = match &self.status {
            Status::Passed => ("ok".to_string(), String::new()),
            Status::NotOffered(why) => (format!("not offered: {why}"), String::new()),
            Status::Skipped { needs } => (
                format!("skipped: {}", diagnosis.skip_reason(*needs)),
                String::new(),
            ),
            Status::Failed { error, reading } => {
                ("FAILED".to_string(), failure_text(error, reading))
            }
        };
        let line = format!(
            "{:<STEP_COLUMN$}{result:<RESULT_COLUMN$}{time}",
            self.step.name()
        );
        format!("{}\n{details}", line.trim_end())
    }
}

fn failure_text(error: &RemoteError, reading: &Classification) -> String {
    let indent = " ".repeat(STEP_COLUMN);
    format!(
        "{indent}{} (retry: {}): {}\n{indent}advice: {}\n",
        category_name(reading.category),
        retry_name(reading.retry),
        inert(&error.message),
        inert(&reading.advice)
    )
}

fn cleanup_json(cleanup: &Cleanup) -> Value {
    let left: Vec<Value> = cleanup
        .left
        .iter()
        .map(|(path, error)| json!({"path": path, "message": error.message}))
        .collect();
    json!({"created": cleanup.created, "removed": cleanup.removed, "left": left})
}

/// What the failed steps left and what became of it; nothing when they left nothing.
fn cleanup_text(cleanup: &Cleanup) -> String {
    let mut text = String::new();
    if !cleanup.removed.is_empty() {
        let removed: Vec<String> = cleanup
            .removed
            .iter()
            .map(|p| inert(p).to_string())
            .collect();
        text.push_str(&format!(
            "removed what the failed steps left: {}\n",
            removed.join(", ")
        ));
    }
    for (path, error) in &cleanup.left {
        text.push_str(&format!(
            "LEFT BEHIND (relative to the root; remove it by hand): {}: {}\n",
            inert(path),
            inert(&error.message)
        ));
    }
    text
}

fn replace_name(replace: Replace) -> &'static str {
    match replace {
        Replace::Atomic => "posix-rename",
        Replace::Staged => "staged",
        Replace::MoveAside => "rename",
        Replace::NoRename => "none",
    }
}

/// The sync setting uploads to this remote need; `None` for the default.
fn replace_setting(replace: Replace) -> Option<&'static str> {
    match replace {
        Replace::NoRename => Some("upload = \"direct\""),
        Replace::Atomic | Replace::MoveAside | Replace::Staged => None,
    }
}

fn replace_text(replace: Replace) -> String {
    let how = match replace {
        Replace::Atomic => "posix-rename: a finished upload replaces the old file in one step",
        Replace::Staged => {
            "staged: an upload is stored in parts and committed whole at once; nothing shows \
             under its name before, and no temporary object is left"
        }
        Replace::MoveAside => {
            "rename only: a finished upload replaces the old file by moving the old one aside \
             first (for a moment neither is there)"
        }
        Replace::NoRename => {
            "none: the server refuses rename, so no upload can be finished under a temporary name"
        }
    };
    format!("replace: {how}\n")
}

fn kind_name(remote: &RemoteConfig) -> &'static str {
    match remote.transport {
        Transport::Local(_) => "local",
        Transport::Sftp(_) => "sftp",
        Transport::S3(_) => "s3",
        Transport::AzureBlob(_) => "azure-blob",
        Transport::WebDav(_) => "webdav",
    }
}
