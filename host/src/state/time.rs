//! Times as people and file names read them.

use std::time::{SystemTime, UNIX_EPOCH};

/// `2026-12-04 19:20:01 UTC`; times before 1970 as the epoch.
pub(super) fn utc(time: SystemTime) -> String {
    let (date, [hours, minutes, seconds]) = civil(time);
    format!("{date} {hours:02}:{minutes:02}:{seconds:02} UTC")
}

/// `20261204T192001Z`: sorts in time order and fits any file name.
pub(super) fn compact_utc(time: SystemTime) -> String {
    let (date, [hours, minutes, seconds]) = civil(time);
    format!(
        "{}T{hours:02}{minutes:02}{seconds:02}Z",
        date.replace('-', "")
    )
}

/// The date (`YYYY-MM-DD`) and time of day of `time` in UTC.
fn civil(time: SystemTime) -> (String, [u64; 3]) {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, of_day) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil, for days since 1970-01-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (
        format!("{year:04}-{month:02}-{day:02}"),
        [of_day / 3600, of_day % 3600 / 60, of_day % 60],
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn formats_dates_in_utc() {
        let at = |secs| UNIX_EPOCH + Duration::from_secs(secs);
        assert_eq!(utc(at(0)), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(at(951_782_400)), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(at(1_796_411_601)), "2026-12-04 19:13:21 UTC");
        assert_eq!(compact_utc(at(1_796_411_601)), "20261204T191321Z");
    }
}
