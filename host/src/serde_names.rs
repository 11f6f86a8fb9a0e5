//! Serde helpers for values written by name (categories, statuses, steps) and for
//! durations written as seconds, so that what the CLI prints reads back into the same
//! types (the HTTP API and the tests read what `run --json` writes).

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// A value spelled by one of its names; `what` names the kind in the error.
pub fn by_name<'de, D: Deserializer<'de>, T>(
    deserializer: D,
    parse: impl Fn(&str) -> Option<T>,
    what: &str,
) -> Result<T, D::Error> {
    let name = String::deserialize(deserializer)?;
    parse(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown {what} {name:?}")))
}

/// A duration as a number of seconds (`"seconds": 1.25`).
pub mod seconds {
    use super::*;

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(duration.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let seconds = f64::deserialize(deserializer)?;
        Duration::try_from_secs_f64(seconds).map_err(serde::de::Error::custom)
    }
}
