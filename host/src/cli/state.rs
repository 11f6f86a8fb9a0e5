//! `ferry state check|repair|backup`: the state database's health, its repair, a copy.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::json;

use super::exit::{self, CliError};
use super::output::out;
use super::run::load_config;
use crate::state::{self, Health, Repair, RunLock, Store, TableRepair};

#[derive(Subcommand, Debug)]
pub enum StateCommand {
    /// Read every page of the state database and say whether it is damaged (exit 1 if so).
    Check,
    /// Move a damaged state database aside and copy every row that can still be read into
    /// a new one, saying what was kept and what was lost.
    Repair,
    /// Write a consistent copy of the state database to FILE (which must not exist).
    Backup {
        /// Where the copy goes.
        file: PathBuf,
    },
}

pub fn run(command: StateCommand, config_path: Option<&Path>, json: bool) -> Result<u8, CliError> {
    let config = load_config(config_path)?;
    let dir = &config.state_dir;
    match command {
        StateCommand::Check => check(dir, json),
        StateCommand::Repair => {
            // No run may write the store while it is moved aside and rebuilt.
            let _locks = config
                .syncs
                .keys()
                .map(|sync| RunLock::acquire(dir, sync))
                .collect::<Result<Vec<_>, _>>()?;
            repair(dir, json)
        }
        StateCommand::Backup { file } => {
            Store::open(dir)?.back_up(&file)?;
            match json {
                true => out!("{}", json!({"backup": file})),
                false => out!("wrote a copy of the state database to {}", file.display()),
            }
            Ok(exit::OK)
        }
    }
}

fn check(dir: &Path, json: bool) -> Result<u8, CliError> {
    let health = state::check(dir)?;
    let db = state::database(dir);
    let (status, problems) = match &health {
        Health::Missing => ("missing", &[][..]),
        Health::Ok => ("ok", &[][..]),
        Health::Damaged(problems) => ("damaged", &problems[..]),
    };
    if json {
        out!(
            "{}",
            json!({"database": db, "status": status, "problems": problems})
        );
    } else {
        match &health {
            Health::Missing => out!("{}: no state database yet (nothing recorded)", db.display()),
            Health::Ok => out!("{}: ok", db.display()),
            Health::Damaged(_) => out!(
                "{}: damaged\n  {}\n`ferry state repair` moves it aside and keeps what can be read",
                db.display(),
                problems.join("\n  ")
            ),
        }
    }
    Ok(match health {
        Health::Damaged(_) => exit::FAILURE,
        Health::Missing | Health::Ok => exit::OK,
    })
}

fn repair(dir: &Path, json: bool) -> Result<u8, CliError> {
    if !matches!(state::check(dir)?, Health::Damaged(_)) {
        let db = state::database(dir);
        out!("{}: not damaged; nothing to repair", db.display());
        return Ok(exit::OK);
    }
    let repair = state::repair(dir)?;
    match json {
        true => out!(
            "{:#}",
            serde_json::to_value(&repair).expect("a repair serializes")
        ),
        false => print_repair(&repair),
    }
    Ok(exit::OK)
}

fn print_repair(repair: &Repair) {
    out!(
        "moved the damaged state database to {}",
        repair.moved_to.display()
    );
    for table in &repair.tables {
        out!("{}", table_line(table));
    }
}

/// `runs: kept 12; lost the rows between id 12 and id 20, that is run history (why)`.
fn table_line(table: &TableRepair) -> String {
    let mut line = format!("{}: kept {}", table.table, table.kept);
    if table.refused > 0 {
        line.push_str(&format!(", {} unusable row(s) dropped", table.refused));
    }
    if let Some(lost) = &table.lost {
        let keys = table.keys;
        let range = match (&lost.after, &lost.before) {
            (None, None) => "every row".to_string(),
            (Some(after), None) => format!("every row after {keys} {after}"),
            (None, Some(before)) => format!("every row before {keys} {before}"),
            (Some(after), Some(before)) => {
                format!("the rows between {keys} {after} and {keys} {before}")
            }
        };
        line.push_str(&format!(
            "; lost {range}, that is {} ({})",
            table.meaning, lost.error
        ));
    }
    line
}
