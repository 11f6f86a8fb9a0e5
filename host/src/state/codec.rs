//! How values are stored in SQLite columns.
//!
//! SQLite integers are i64: sizes and counters are stored as `Unsigned`, which refuses
//! values above `i64::MAX` instead of wrapping. Times are stored as `Nanos`: integer
//! nanoseconds since the Unix epoch (negative before it), which round-trips every
//! `SystemTime` between the years 1677 and 2262 exactly; times outside that are refused.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::Result;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

use super::types::{FileStatus, RunStatus, Step};
use crate::plugin::{Category, Retry, category_name, category_named, retry_name, retry_named};

pub(super) struct Unsigned(pub u64);

pub(super) struct Nanos(pub SystemTime);

fn refuse(what: String) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(what.into())
}

impl ToSql for Unsigned {
    fn to_sql(&self) -> Result<ToSqlOutput<'_>> {
        let stored = i64::try_from(self.0)
            .map_err(|_| refuse(format!("{} is too large to store", self.0)))?;
        Ok(stored.into())
    }
}

impl FromSql for Unsigned {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let stored = value.as_i64()?;
        u64::try_from(stored)
            .map(Unsigned)
            .map_err(|_| FromSqlError::OutOfRange(stored))
    }
}

fn nanos_since_epoch(time: SystemTime) -> Option<i64> {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_nanos()).ok(),
        Err(before) => i64::try_from(before.duration().as_nanos())
            .ok()
            .map(|ns| -ns),
    }
}

impl ToSql for Nanos {
    fn to_sql(&self) -> Result<ToSqlOutput<'_>> {
        let stored = nanos_since_epoch(self.0)
            .ok_or_else(|| refuse(format!("{:?} is outside the storable years", self.0)))?;
        Ok(stored.into())
    }
}

impl FromSql for Nanos {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let ns = value.as_i64()?;
        let offset = Duration::from_nanos(ns.unsigned_abs());
        let time = if ns >= 0 {
            UNIX_EPOCH + offset
        } else {
            UNIX_EPOCH - offset
        };
        Ok(Nanos(time))
    }
}

fn unknown(kind: &str, text: &str) -> FromSqlError {
    FromSqlError::Other(format!("unknown {kind} {text:?}").into())
}

/// A column that holds an enum by its name, in the one table of names.
macro_rules! stored_by_name {
    ($type:ty, $what:literal, $name:expr, $parse:expr) => {
        impl ToSql for $type {
            fn to_sql(&self) -> Result<ToSqlOutput<'_>> {
                Ok(($name)(*self).into())
            }
        }

        impl FromSql for $type {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                let text = value.as_str()?;
                ($parse)(text).ok_or_else(|| unknown($what, text))
            }
        }
    };
}

stored_by_name!(RunStatus, "run status", RunStatus::as_str, RunStatus::parse);
stored_by_name!(
    FileStatus,
    "file status",
    FileStatus::as_str,
    FileStatus::parse
);
stored_by_name!(Step, "step", Step::as_str, Step::parse);
stored_by_name!(Category, "category", category_name, category_named);
stored_by_name!(Retry, "retry decision", retry_name, retry_named);
