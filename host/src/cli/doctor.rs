//! `ferry doctor REMOTE`: the troubleshooting advice "reconfigure the permissions one at a
//! time and re-test", automated. The remote is opened step by step and every operation a
//! sync needs is tried in a scratch folder ([`crate::remote::probe`]); the remote's policy
//! plugin reads each failure, and the address the connection left from is shown for the
//! partner's IP allow-list.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use clap::Args;
use serde_json::{Value, json};

use super::exit::{self, CliError};
use super::output::{emit, out};
use super::run::{load_config, tokio_runtime};
use crate::config::{RemoteConfig, Transport};
use crate::plugin::{Classification, ComponentCache, Limits, Runtime, category_name, retry_name};
use crate::remote::probe::{self, Cleanup, Outcome, Probe, Step};
use crate::remote::{RemoteError, protocol_of};
use crate::sync::{self, PolicyHandle};
use crate::text::inert;

/// Wide enough for every step's name and a gap.
const STEP_COLUMN: usize = 15;
const RESULT_COLUMN: usize = 8;

#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// The remote to test, as named in the config ([remotes.NAME]).
    remote: String,
}

pub fn doctor(args: DoctorArgs, config_path: Option<&Path>, json: bool) -> Result<u8, CliError> {
    let config = load_config(config_path)?;
    let remote = config.remote(&args.remote)?;
    let runtime = Runtime::new(ComponentCache::default_location(), Limits::default())?;
    // Plugins are loaded here, outside the async runtime: their WASI bindings block.
    let policy = sync::load_policy(&runtime, &config, remote)?;
    let diagnosis = tokio_runtime()?.block_on(diagnose(remote, &policy));
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

/// A probe, each failure read by the policy plugin.
struct Diagnosis<'a> {
    remote: &'a RemoteConfig,
    policy: &'a str,
    addresses: Vec<SocketAddr>,
    local_address: Option<String>,
    rows: Vec<Row>,
    cleanup: Option<Cleanup>,
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
    Failed {
        error: RemoteError,
        reading: Classification,
    },
}

async fn diagnose<'a>(remote: &'a RemoteConfig, policy: &'a PolicyHandle) -> Diagnosis<'a> {
    let Probe {
        addresses,
        local_address,
        steps,
        cleanup,
    } = probe::probe(remote).await;
    let protocol = protocol_of(remote);
    let mut rows = Vec::with_capacity(steps.len());
    for report in steps {
        let status = match report.outcome {
            Outcome::Passed => Status::Passed,
            Outcome::Skipped { needs } => Status::Skipped { needs },
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
    }
}

impl Diagnosis<'_> {
    fn passed(&self) -> bool {
        self.rows
            .iter()
            .all(|row| matches!(row.status, Status::Passed))
    }

    fn count(&self, wanted: fn(&Status) -> bool) -> usize {
        self.rows.iter().filter(|row| wanted(&row.status)).count()
    }

    fn to_json(&self) -> Value {
        let addresses: Vec<String> = self.addresses.iter().map(ToString::to_string).collect();
        let steps: Vec<Value> = self.rows.iter().map(Row::to_json).collect();
        json!({
            "remote": self.remote.name,
            "kind": kind_name(self.remote),
            "policy": self.policy,
            "addresses": addresses,
            "local_address": self.local_address,
            "steps": steps,
            "cleanup": self.cleanup.as_ref().map(cleanup_json),
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
            text.push_str(&row.to_text());
        }
        text.push('\n');
        if let Some(cleanup) = &self.cleanup {
            text.push_str(&cleanup_text(cleanup));
        }
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
        format!(
            "{failed} of {total} steps failed, {skipped} skipped, {} passed\n",
            total - failed - skipped
        )
    }
}

impl Row {
    fn to_json(&self) -> Value {
        let (needs, failure) = match &self.status {
            Status::Passed => (None, None),
            Status::Skipped { needs } => (Some(needs.name()), None),
            Status::Failed { error, reading } => (None, Some((error, reading))),
        };
        json!({
            "step": self.step.name(),
            "ok": matches!(self.status, Status::Passed),
            "skipped": needs.is_some(),
            "needs": needs,
            "millis": self.elapsed.map(|elapsed| elapsed.as_millis() as u64),
            "category": failure.map(|(_, reading)| category_name(reading.category)),
            "retry": failure.map(|(_, reading)| retry_name(reading.retry)),
            "message": failure.map(|(error, _)| &error.message),
            "advice": failure.map(|(_, reading)| &reading.advice),
        })
    }

    /// One line, and for a failure the plugin's reading and the raw message under it.
    fn to_text(&self) -> String {
        let time = self
            .elapsed
            .map(|elapsed| format!("{} ms", elapsed.as_millis()))
            .unwrap_or_default();
        let (result, details) = match &self.status {
            Status::Passed => ("ok".to_string(), String::new()),
            Status::Skipped { needs } => {
                (format!("skipped (needs {})", needs.name()), String::new())
            }
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
    json!({
        "folder": cleanup.folder,
        "removed": cleanup.result.is_ok(),
        "message": cleanup.result.as_ref().err().map(|error| &error.message),
    })
}

fn cleanup_text(cleanup: &Cleanup) -> String {
    match &cleanup.result {
        Ok(()) => format!(
            "removed the scratch folder {} left by the failed steps\n",
            cleanup.folder
        ),
        Err(error) => format!(
            "could not remove the scratch folder {}: {}; remove it by hand\n",
            cleanup.folder,
            inert(&error.message)
        ),
    }
}

fn kind_name(remote: &RemoteConfig) -> &'static str {
    match remote.transport {
        Transport::Local(_) => "local",
        Transport::Sftp(_) => "sftp",
    }
}
