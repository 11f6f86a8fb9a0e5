//! `ferry run SYNC`, `ferry log [RUN]` and `ferry retry SYNC [PATH]`.

use std::path::Path;
use std::sync::Arc;

use clap::Args;

use super::exit::{self, CliError};
use super::output::out;
use super::progress::TerminalProgress;
use crate::config::{Config, parse_rate};
use crate::session::{Session, Threads};
use crate::state::{RunId, Store};
use crate::sync::report::RunReport;
use crate::sync::{Hooks, RunOptions, Stop};
use crate::text::inert;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The sync to run, as named in the config ([syncs.NAME]).
    sync: String,
    /// Print what would be done and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Files transferred at once (default: the sync's `transfers`, else 16).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    transfers: Option<u16>,
    /// Cap the total transfer rate, e.g. 10M (MiB/s), 512K; overrides the sync's bwlimit.
    #[arg(long, value_name = "RATE")]
    bwlimit: Option<String>,
}

#[derive(Args, Debug)]
pub struct LogArgs {
    /// The run to show; the latest when omitted.
    run: Option<i64>,
    /// Only runs of this sync.
    #[arg(long)]
    sync: Option<String>,
    /// List the most recent runs instead of showing one.
    #[arg(long, value_name = "COUNT", num_args = 0..=1, default_missing_value = "20")]
    list: Option<usize>,
}

#[derive(Args, Debug)]
pub struct RetryArgs {
    /// The sync whose failures are forgotten.
    sync: String,
    /// Only this path (as the failure lists it); every failed path when omitted.
    path: Option<String>,
}

pub fn load_config(explicit: Option<&Path>) -> Result<Config, CliError> {
    let cwd = std::env::current_dir()
        .map_err(|e| CliError::Io(format!("cannot read the current directory: {e}")))?;
    Ok(Config::load(explicit, &cwd)?)
}

pub fn run(args: RunArgs, config_path: Option<&Path>, json: bool) -> Result<u8, CliError> {
    let config = load_config(config_path)?;
    let bwlimit = match &args.bwlimit {
        Some(text) => {
            parse_rate(text).map_err(|e| CliError::Usage(format!("--bwlimit {text:?}: {e}")))?
        }
        None => None,
    };
    let options = RunOptions {
        dry_run: args.dry_run,
        transfers: args.transfers.map(usize::from),
        bwlimit,
    };
    let session = Session::new(Threads::One)?;
    let hooks = Hooks {
        progress: Arc::new(TerminalProgress::new()),
        stop: Stop::new(),
    };
    stop_on_interrupt(&session, &hooks.stop);
    let (report, policy) = session.run(&config, &args.sync, &options, &hooks)?;
    let plugin = (policy.label().to_string(), policy.identity().clone());
    print_run_report(&report, plugin, json);
    Ok(exit::for_status(report.status))
}

/// Ctrl-C or SIGTERM stop the run cleanly: it starts no new file, files being sent stay
/// resumable, and it ends `interrupted` with its report. A second one quits at once
/// (exit 130), as a killed run would: nothing is lost either way.
fn stop_on_interrupt(session: &Session, stop: &Stop) {
    use tokio::signal::unix::{SignalKind, signal};
    let stop = stop.clone();
    // Signal streams belong to a runtime: made inside the session's.
    let _inside = session.runtime().enter();
    let signals = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    );
    let (Ok(mut interrupt), Ok(mut terminate)) = signals else {
        return;
    };
    session.runtime().spawn(async move {
        let name = tokio::select! {
            _ = interrupt.recv() => "Ctrl-C",
            _ = terminate.recv() => "SIGTERM",
        };
        eprintln!(
            "stopping ({name}): no new file is started; files being sent stay to be continued \
             by the next run. {name} again quits at once."
        );
        stop.stop(format!("stopped by {name}"));
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        std::process::exit(130);
    });
}

/// A run's report, saying which policy plugin (and where it came from) checked it.
fn print_run_report(
    report: &RunReport,
    (label, identity): (String, serde_json::Value),
    json: bool,
) {
    if json {
        let mut value = report.to_json();
        value["plugin"] = identity;
        out!("{value:#}");
    } else {
        super::output::emit(&report.to_text());
        out!("policy: {}", crate::text::inert(&label));
    }
}

fn print_report(report: &RunReport, json: bool) {
    if json {
        out!("{:#}", report.to_json());
    } else {
        super::output::emit(&report.to_text());
    }
}

pub fn log(args: LogArgs, config_path: Option<&Path>, json: bool) -> Result<u8, CliError> {
    let config = load_config(config_path)?;
    if let Some(sync) = &args.sync {
        config.sync(sync)?;
    }
    let store = Store::open(&config.state_dir)?;
    if let Some(count) = args.list {
        let runs = store.recent_runs(args.sync.as_deref(), count)?;
        let reports: Vec<RunReport> = runs
            .iter()
            .map(|run| RunReport::from_record(run, &[]))
            .collect();
        if json {
            let list: Vec<_> = reports.iter().map(RunReport::to_json).collect();
            out!("{:#}", serde_json::Value::Array(list));
        } else {
            for report in &reports {
                super::output::emit(&report.to_text());
            }
        }
        return Ok(exit::OK);
    }
    let record = match args.run {
        Some(id) => store
            .run(RunId(id))?
            .ok_or_else(|| CliError::Usage(format!("there is no run {id}")))?,
        None => store
            .latest_run(args.sync.as_deref())?
            .ok_or_else(|| no_runs(args.sync.as_deref()))?,
    };
    let outcomes = store.outcomes(record.id)?;
    print_report(&RunReport::from_record(&record, &outcomes), json);
    Ok(exit::OK)
}

fn no_runs(sync: Option<&str>) -> CliError {
    CliError::Nothing(match sync {
        Some(sync) => format!("sync {sync} has no recorded run yet"),
        None => "no run has been recorded yet".into(),
    })
}

/// Forget failures so the next run tries the files again, permanent ones included.
pub fn retry(args: RetryArgs, config_path: Option<&Path>, json: bool) -> Result<u8, CliError> {
    let config = load_config(config_path)?;
    config.sync(&args.sync)?;
    let store = Store::open(&config.state_dir)?;
    let cleared = store.clear_failures(&args.sync, args.path.as_deref())?;
    if let (Some(path), 0) = (&args.path, cleared) {
        return Err(CliError::Nothing(format!(
            "{}: no failure is remembered for {path}; nothing to retry (a path as `ferry log` \
             lists it)",
            args.sync
        )));
    }
    if json {
        out!(
            "{}",
            serde_json::json!({"sync": args.sync, "path": args.path, "cleared": cleared})
        );
    } else {
        let what = args
            .path
            .as_deref()
            .map_or("failed path(s)".to_string(), |p| {
                format!("failure(s) of {}", inert(p))
            });
        out!(
            "{}: forgot {cleared} {what}; the next run tries them again",
            inert(&args.sync)
        );
    }
    Ok(exit::OK)
}
