//! The state store: a SQLite database (WAL mode) in the state directory that remembers,
//! per sync and path, what was last synced and how the last attempt ended, every run,
//! and every per-file outcome. Outcomes are recorded as each file finishes, each in its
//! own committed transaction, so a killed ferry loses at most the files in flight.
//!
//! Times are stored as integer nanoseconds since the Unix epoch and come back exactly
//! (see `codec`).

mod codec;
mod error;
mod health;
mod lock;
mod names;
mod partials;
mod rows;
mod schema;
mod store;
mod time;
mod types;

#[cfg(test)]
mod tests;

pub use error::StateError;
pub use health::{Health, Repair, TableRepair, Unreadable, check, database, repair};
pub use lock::RunLock;
pub use partials::Partial;
pub use store::Store;
pub use types::{
    DestinationVersion, FileOutcome, FileStatus, PathState, RunId, RunRecord, RunStatus, Step,
    Totals,
};
