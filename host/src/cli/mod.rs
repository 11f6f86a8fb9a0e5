//! The command line: argument parsing, dispatch, and the one place where errors become
//! exit codes.

mod check;
mod doctor;
mod exit;
mod local_tree;
mod output;
mod plugin;
mod progress;
mod rejections;
mod run;
mod serve;
mod state;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use exit::CliError;

/// Keeps folders in sync with remote servers and says exactly why any file did not make it.
#[derive(Parser, Debug)]
#[command(name = "ferry", version, about)]
struct Cli {
    /// Print machine-readable JSON on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// The config file (default: $FERRY_CONFIG, else ./ferry.toml).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a sync once: scan both sides, check every name against the destination's
    /// policy, send what changed, and report every file that did not make it.
    Run(run::RunArgs),
    /// Check a sync's whole source against its destination's policy and list every
    /// entry that would be rejected, grouped by rule. Transfers nothing.
    Check(check::CheckArgs),
    /// Forget a sync's remembered failures (all, or one path's) so that the next run
    /// tries those files again, even ones that failed permanently.
    Retry(run::RetryArgs),
    /// Show a past run (the latest by default) with every failure.
    Log(run::LogArgs),
    /// Test a remote step by step: connect (showing the address it leaves from, for IP
    /// allow-lists), authenticate, then list, create, write, read, rename, replace, set a
    /// time and delete in a scratch folder, one at a time, explaining each failure.
    Doctor(doctor::DoctorArgs),
    /// Check, repair or back up the state database (runs, remembered failures, renames
    /// and partial uploads).
    #[command(subcommand)]
    State(state::StateCommand),
    /// Run the syncs on their schedules as a service, with an HTTP API, a status page and
    /// Prometheus metrics ([service] in the config). SIGHUP reloads the config; SIGTERM
    /// or Ctrl-C stops the runs cleanly and exits.
    Serve(serve::ServeArgs),
    /// Inspect, list and try out policy plugins.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
}

/// Run the command line; the exit code says how it went.
pub fn main() -> ExitCode {
    init_logging();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    let outcome = match cli.command {
        Command::Run(args) => run::run(args, cli.config.as_deref(), cli.json),
        Command::Check(args) => check::check(args, cli.config.as_deref(), cli.json),
        Command::Log(args) => run::log(args, cli.config.as_deref(), cli.json),
        Command::Retry(args) => run::retry(args, cli.config.as_deref(), cli.json),
        Command::Doctor(args) => doctor::doctor(args, cli.config.as_deref(), cli.json),
        Command::State(command) => state::run(command, cli.config.as_deref(), cli.json),
        Command::Plugin(command) => plugin::run(command, cli.json),
        Command::Serve(args) => serve::serve(args, cli.config.as_deref(), cli.json),
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {}", crate::text::inert(&error.to_string()));
            ExitCode::from(error.exit_code())
        }
    }
}

/// Diagnostics go to stderr; `FERRY_LOG` (e.g. `debug`, `ferry=trace`) sets the level.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FERRY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, not in a log file or the journal.
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter)
        .init();
}
