//! When a sync runs under `ferry serve`: a `schedule` of either `every <duration>` or a
//! standard 5-field cron expression, an optional `timezone` for cron, and `skip_dates`.
//!
//! `every N` slots are the multiples of N since the Unix epoch, in UTC: `every 15m` runs at
//! :00, :15, :30 and :45, `every 1d` at 00:00 UTC.
//!
//! Cron is Vixie cron: `minute hour day-of-month month day-of-week`, with lists, ranges,
//! steps and names (`jan`, `mon`); day-of-week 0 and 7 are Sunday. When both day fields
//! are restricted a day matches if either does; when either starts with `*`, both must.
//!
//! Daylight saving time, for a wall-clock time that a change skips or repeats:
//! - A fixed hour (e.g. `30 2 * * *`) runs once on such a day: a skipped time runs at the
//!   first instant after the gap, a repeated time at its first occurrence only.
//! - An hour field written `*` or `*/n` follows real time, as Vixie cron's wildcard jobs
//!   do: skipped times do not run and repeated times run in both hours, so `0 * * * *` has
//!   23 slots on the spring-forward day and 25 on the fall-back day, one per real hour.

use std::time::Duration;

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc,
};
use chrono_tz::Tz;

/// How far `next_after` looks ahead and `missed` looks back.
const HORIZON: TimeDelta = TimeDelta::days(5 * 366);

/// The longest clock change searched for the end of a gap (Samoa skipped a whole day).
const MAX_GAP_MINUTES: i64 = 25 * 60;

const SYNTAX: &str = "expected \"every <duration>\" or a cron expression of 5 fields \
                      (minute hour day-of-month month day-of-week)";

/// A parsed `schedule` setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// `every <duration>`: the multiples of the duration since the Unix epoch.
    Every(Duration),
    /// A 5-field cron expression, read in `timezone`.
    Cron {
        /// The parsed fields.
        expr: CronExpr,
        /// The expression as written, whitespace collapsed.
        text: String,
        /// The zone whose wall clock the expression is read in.
        timezone: Tz,
    },
}

/// The five fields of a cron expression, as bit sets (bit n set: value n matches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronExpr {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    /// Bit 0 is Sunday; a 7 in the expression is folded into it.
    weekdays: u64,
    /// Vixie cron: a day must match both day fields when either starts with `*`.
    days_and: bool,
    /// The hour field starts with `*`: the schedule follows real time across DST changes.
    any_hour: bool,
}

/// The syntax of one cron field.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    /// Names for the values `min`, `min + 1`, ...
    names: &'static [&'static str],
}

const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
    },
    Field {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: &[
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ],
    },
    Field {
        name: "day-of-week",
        min: 0,
        max: 7,
        names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    },
];

/// Parses a `schedule` setting and its optional `timezone` (an IANA name, default UTC).
pub fn parse(schedule: &str, timezone: Option<&str>) -> Result<Schedule, String> {
    let words: Vec<&str> = schedule.split_whitespace().collect();
    match words.as_slice() {
        [every, rest @ ..] if every.eq_ignore_ascii_case("every") => {
            if timezone.is_some() {
                return Err("timezone applies to cron schedules only".to_string());
            }
            match rest {
                [interval] => parse_interval(interval).map(Schedule::Every),
                _ => Err(format!(
                    "\"every\" takes one duration, e.g. \"every 15m\" or \"every 1h30m\", \
                     got {schedule:?}"
                )),
            }
        }
        [_, _, _, _, _] => {
            let text = words.join(" ");
            let expr =
                CronExpr::parse(&words).map_err(|e| format!("{e} in cron expression {text:?}"))?;
            let timezone = parse_timezone(timezone.unwrap_or("UTC"))?;
            Ok(Schedule::Cron {
                expr,
                text,
                timezone,
            })
        }
        _ => Err(format!("{SYNTAX}, got {schedule:?}")),
    }
}

/// Parses one of `skip_dates`: strictly `YYYY-MM-DD`.
pub fn parse_skip_date(text: &str) -> Result<NaiveDate, String> {
    // chrono's %Y alone would also take signs and other widths.
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shaped {
        return Err(format!(
            "expected a date as YYYY-MM-DD, e.g. \"2026-12-25\", got {text:?}"
        ));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("{text:?} is not a date in the calendar"))
}

/// A sync's schedule with the dates on which it does not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    /// When slots fall.
    pub schedule: Schedule,
    /// Dates, in the schedule's zone (UTC for `every`), on which no slot runs.
    pub skip_dates: Vec<NaiveDate>,
}

impl Timing {
    /// The first slot strictly after `after`, skipping slots on skip dates (in the
    /// schedule's zone; UTC for "every"). None if there is none within 5 years.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let found = match &self.schedule {
            Schedule::Every(interval) => self.every_next(whole_secs(*interval), after),
            Schedule::Cron { expr, timezone, .. } => self.cron_next(expr, *timezone, after),
        };
        found.filter(|slot| *slot - after <= HORIZON)
    }

    /// Slots missed between `last` (exclusive) and `now` (inclusive): the latest one, if
    /// any. A service that was down runs a missed sync once at start, not once per slot.
    pub fn missed(&self, last: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let latest = match &self.schedule {
            Schedule::Every(interval) => self.every_latest(whole_secs(*interval), now),
            Schedule::Cron { expr, timezone, .. } => self.cron_latest(expr, *timezone, now),
        };
        latest.filter(|slot| *slot > last && now - *slot <= HORIZON)
    }

    /// Human text, e.g. "every 15m", "0 2 * * 1-5 (Europe/Berlin)".
    pub fn describe(&self) -> String {
        let schedule = match &self.schedule {
            Schedule::Every(interval) => format!("every {}", format_interval(*interval)),
            Schedule::Cron { text, timezone, .. } => format!("{text} ({timezone})"),
        };
        match self.skip_dates.len() {
            0 => schedule,
            1 => format!("{schedule}, skipping 1 date"),
            n => format!("{schedule}, skipping {n} dates"),
        }
    }

    fn skips(&self, day: NaiveDate) -> bool {
        self.skip_dates.contains(&day)
    }

    fn every_next(&self, interval: i64, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut slot = multiple_after(interval, after)?;
        while self.skips(slot.date_naive()) {
            // Jump over the skipped day instead of stepping through its slots.
            let next_day = slot
                .date_naive()
                .succ_opt()?
                .and_time(NaiveTime::MIN)
                .and_utc();
            slot = multiple_after(interval, next_day - TimeDelta::nanoseconds(1))?;
            if slot - after > HORIZON {
                return None;
            }
        }
        Some(slot)
    }

    fn every_latest(&self, interval: i64, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut slot = multiple_at_or_before(interval, now)?;
        while self.skips(slot.date_naive()) {
            let day_start = slot.date_naive().and_time(NaiveTime::MIN).and_utc();
            slot = multiple_at_or_before(interval, day_start - TimeDelta::nanoseconds(1))?;
            if now - slot > HORIZON {
                return None;
            }
        }
        Some(slot)
    }

    fn cron_next(&self, expr: &CronExpr, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // One day of margin: near a DST change at midnight a slot's instant can fall on the
        // neighbouring local date.
        let first_day = after.with_timezone(&tz).date_naive().pred_opt()?;
        days_from(first_day, NaiveDate::succ_opt)
            .take(HORIZON.num_days() as usize + 2)
            .filter(|day| expr.runs_on(*day) && !self.skips(*day))
            .find_map(|day| expr.slots_on(day, tz).into_iter().find(|s| *s > after))
    }

    fn cron_latest(&self, expr: &CronExpr, tz: Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let last_day = now.with_timezone(&tz).date_naive().succ_opt()?;
        days_from(last_day, NaiveDate::pred_opt)
            .take(HORIZON.num_days() as usize + 2)
            .filter(|day| expr.runs_on(*day) && !self.skips(*day))
            .find_map(|day| expr.slots_on(day, tz).into_iter().rfind(|s| *s <= now))
    }
}

impl CronExpr {
    /// Parses the five fields of a cron expression.
    fn parse(words: &[&str]) -> Result<CronExpr, String> {
        let mut sets = [0u64; 5];
        for ((set, word), field) in sets.iter_mut().zip(words).zip(&FIELDS) {
            *set = parse_field(word, field)
                .map_err(|e| format!("{} field {word:?}: {e}", field.name))?;
        }
        let [minutes, hours, days, months, weekdays] = sets;
        let starred = |i: usize| words[i].starts_with('*');
        Ok(CronExpr {
            minutes,
            hours,
            days,
            months,
            weekdays: fold_sunday(weekdays),
            days_and: starred(2) || starred(4),
            any_hour: starred(1),
        })
    }

    /// Whether the month and day fields match `day`.
    fn runs_on(&self, day: NaiveDate) -> bool {
        let dom = has(self.days, day.day());
        let dow = has(self.weekdays, day.weekday().num_days_from_sunday());
        let day_matches = if self.days_and {
            dom && dow
        } else {
            dom || dow
        };
        has(self.months, day.month()) && day_matches
    }

    /// The instants of the slots of local date `day`, sorted, each once.
    fn slots_on(&self, day: NaiveDate, tz: Tz) -> Vec<DateTime<Utc>> {
        let mut slots: Vec<DateTime<Utc>> = self
            .times()
            .flat_map(|time| self.instants(day.and_time(time), tz))
            .flatten()
            .collect();
        slots.sort_unstable();
        // Several skipped wall-clock times can map to the same end of a gap.
        slots.dedup();
        slots
    }

    /// The wall-clock times of a matching day.
    fn times(&self) -> impl Iterator<Item = NaiveTime> + '_ {
        members(self.hours).flat_map(move |hour| {
            members(self.minutes).filter_map(move |minute| NaiveTime::from_hms_opt(hour, minute, 0))
        })
    }

    /// The instants at which a slot at wall-clock time `local` runs (see the module doc).
    fn instants(&self, local: NaiveDateTime, tz: Tz) -> [Option<DateTime<Utc>>; 2] {
        match tz.from_local_datetime(&local) {
            LocalResult::Single(at) => [Some(at.to_utc()), None],
            LocalResult::Ambiguous(first, second) => {
                [Some(first.to_utc()), self.any_hour.then(|| second.to_utc())]
            }
            LocalResult::None if self.any_hour => [None, None],
            LocalResult::None => [gap_end(local, tz), None],
        }
    }
}

/// The first instant after the DST gap that swallowed `local`. tzdb's offsets have been
/// whole minutes for decades, so the first valid whole minute is where the gap ends.
fn gap_end(local: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    (1..=MAX_GAP_MINUTES)
        .map(|minutes| local + TimeDelta::minutes(minutes))
        .find_map(|later| tz.from_local_datetime(&later).earliest())
        .map(|at| at.to_utc())
}

/// Parses an IANA zone name, suggesting the closest known name when it is unknown.
pub fn parse_timezone(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>().map_err(|_| {
        let mut message =
            format!("unknown time zone {name:?} (an IANA name, e.g. \"Europe/Berlin\")");
        if let Some(close) = closest_zone(name) {
            message += &format!("; did you mean {close:?}?");
        }
        message
    })
}

/// The known zone name nearest to `name`, ignoring case, if it is only a few edits away.
fn closest_zone(name: &str) -> Option<&'static str> {
    let wanted = name.to_ascii_lowercase();
    chrono_tz::TZ_VARIANTS
        .iter()
        .map(|zone| zone.name())
        .map(|known| {
            (
                strsim::levenshtein(&wanted, &known.to_ascii_lowercase()),
                known,
            )
        })
        .min_by_key(|(distance, _)| *distance)
        .filter(|(distance, _)| *distance <= 3)
        .map(|(_, known)| known)
}

/// Dates from `start` on, each one `step` from the last.
fn days_from(
    start: NaiveDate,
    step: fn(&NaiveDate) -> Option<NaiveDate>,
) -> impl Iterator<Item = NaiveDate> {
    std::iter::successors(Some(start), step)
}

/// Parses one cron field (a comma list of `*`, `n`, `a-b`, `*/s` or `a-b/s`) into a bit set.
fn parse_field(text: &str, field: &Field) -> Result<u64, String> {
    let mut set = 0;
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, parse_step(step)?),
            None => (item, 1),
        };
        let (low, high) = match range.split_once('-') {
            _ if range == "*" => (field.min, field.max),
            Some((low, high)) => (parse_value(low, field)?, parse_value(high, field)?),
            None if step > 1 => {
                return Err(format!(
                    "a step needs a range, e.g. \"{range}-{}/{step}\" or \"*/{step}\"",
                    field.max
                ));
            }
            None => {
                let value = parse_value(range, field)?;
                (value, value)
            }
        };
        if low > high {
            return Err(format!("range {range} goes backwards"));
        }
        for value in (low..=high).step_by(step) {
            set |= 1 << value;
        }
    }
    Ok(set)
}

fn parse_step(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(step) if step > 0 => Ok(step),
        _ => Err(format!("step {text:?} is not a whole number of at least 1")),
    }
}

fn parse_value(text: &str, field: &Field) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    if let Some(index) = field.names.iter().position(|name| *name == lower) {
        return Ok(field.min + index as u32);
    }
    let Ok(value) = text.parse::<u32>() else {
        return Err(match (field.names.first(), field.names.last()) {
            (Some(first), Some(last)) => {
                format!("{text:?} is not a number or a name ({first}-{last})")
            }
            _ => format!("{text:?} is not a number"),
        });
    };
    if !(field.min..=field.max).contains(&value) {
        return Err(format!("{value} is outside {}-{}", field.min, field.max));
    }
    Ok(value)
}

/// Day-of-week 7 is Sunday, like 0.
fn fold_sunday(weekdays: u64) -> u64 {
    let sunday = (weekdays >> 7) & 1;
    (weekdays | sunday) & !(1 << 7)
}

fn has(set: u64, value: u32) -> bool {
    set & (1 << value) != 0
}

fn members(set: u64) -> impl Iterator<Item = u32> {
    (0..64).filter(move |value| has(set, *value))
}

const UNITS: [(char, u64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];

/// Parses the duration of `every`: numbers with units d, h, m, s, largest unit first.
fn parse_interval(text: &str) -> Result<Duration, String> {
    let malformed = || {
        format!(
            "bad duration {text:?}: expected numbers with units s, m, h or d, largest first, \
             e.g. 30s, 15m, 1h30m or 2d"
        )
    };
    let mut rest = text;
    let mut total: u64 = 0;
    let mut allowed = 0; // index into UNITS of the largest unit still allowed
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(digits);
        let unit = tail.chars().next().ok_or_else(malformed)?;
        let index = UNITS[allowed..]
            .iter()
            .position(|(name, _)| *name == unit)
            .ok_or_else(malformed)?
            + allowed;
        let count: u64 = number.parse().map_err(|_| malformed())?;
        total = count
            .checked_mul(UNITS[index].1)
            .and_then(|secs| total.checked_add(secs))
            .ok_or_else(malformed)?;
        allowed = index + 1;
        rest = &tail[unit.len_utf8()..];
    }
    if total == 0 {
        return Err(format!("the interval must be at least 1s, got {text:?}"));
    }
    let longest = HORIZON.num_seconds() as u64;
    if total > longest {
        return Err(format!(
            "the interval {text:?} is longer than 5 years ({}d)",
            longest / 86_400
        ));
    }
    Ok(Duration::from_secs(total))
}

/// Writes an interval the way `parse_interval` reads it, e.g. "1h30m" (also the service's
/// other durations: one under a second as milliseconds).
pub fn format_interval(interval: Duration) -> String {
    let mut secs = interval.as_secs();
    let mut text = String::new();
    for (unit, size) in UNITS {
        if secs >= size {
            text += &format!("{}{unit}", secs / size);
            secs %= size;
        }
    }
    if text.is_empty() {
        text = format!("{}ms", interval.as_millis());
    }
    text
}

/// An `every` interval in seconds; parsing keeps it whole and within 5 years.
fn whole_secs(interval: Duration) -> i64 {
    i64::try_from(interval.as_secs()).unwrap_or(i64::MAX).max(1)
}

/// The first multiple of `interval` seconds since the epoch strictly after `after`.
fn multiple_after(interval: i64, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let count = after.timestamp().div_euclid(interval).checked_add(1)?;
    DateTime::from_timestamp(count.checked_mul(interval)?, 0)
}

/// The last multiple of `interval` seconds since the epoch at or before `now`.
fn multiple_at_or_before(interval: i64, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let count = now.timestamp().div_euclid(interval);
    DateTime::from_timestamp(count.checked_mul(interval)?, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("test instant")
            .to_utc()
    }

    fn timing(schedule: &str, timezone: Option<&str>, skip: &[&str]) -> Timing {
        Timing {
            schedule: parse(schedule, timezone).expect("test schedule"),
            skip_dates: skip
                .iter()
                .map(|d| parse_skip_date(d).expect("test date"))
                .collect(),
        }
    }

    /// The slots from `from` (exclusive) up to `until` (exclusive).
    fn slots(timing: &Timing, from: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        std::iter::successors(timing.next_after(from), |slot| timing.next_after(*slot))
            .take_while(|slot| *slot < until)
            .collect()
    }

    /// The slots on local date `day` in `zone`.
    fn slots_on_local_day(timing: &Timing, zone: Tz, day: &str) -> Vec<DateTime<Utc>> {
        let day = parse_skip_date(day).expect("test date");
        let start = |d: NaiveDate| {
            zone.from_local_datetime(&d.into())
                .earliest()
                .expect("midnight")
        };
        let from = start(day).to_utc() - TimeDelta::nanoseconds(1);
        slots(
            timing,
            from,
            start(day.succ_opt().expect("next day")).to_utc(),
        )
    }

    fn err(schedule: &str, timezone: Option<&str>) -> String {
        parse(schedule, timezone).expect_err("should be refused")
    }

    #[test]
    fn every_15m_falls_on_quarter_hours() {
        let t = timing("every 15m", None, &[]);
        let got = slots(&t, utc("2026-05-04T10:07:12Z"), utc("2026-05-04T11:01:00Z"));
        let want: Vec<_> = ["10:15", "10:30", "10:45", "11:00"]
            .iter()
            .map(|hm| utc(&format!("2026-05-04T{hm}:00Z")))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn every_slot_is_strictly_after() {
        let t = timing("every 15m", None, &[]);
        let slot = utc("2026-05-04T10:15:00Z");
        assert_eq!(t.next_after(slot), Some(utc("2026-05-04T10:30:00Z")));
        let just_after = slot + TimeDelta::nanoseconds(1);
        assert_eq!(t.next_after(just_after), Some(utc("2026-05-04T10:30:00Z")));
    }

    #[test]
    fn every_1d_is_midnight_utc_and_1h30m_counts_from_epoch() {
        let daily = timing("every 1d", None, &[]);
        let next = daily.next_after(utc("2026-05-04T10:07:00Z"));
        assert_eq!(next, Some(utc("2026-05-05T00:00:00Z")));
        // 1h30m divides a day into 16, so slots are 00:00, 01:30, 03:00, ...
        let ninety = timing("every 1h30m", None, &[]);
        let next = ninety.next_after(utc("2026-05-04T02:00:00Z"));
        assert_eq!(next, Some(utc("2026-05-04T03:00:00Z")));
    }

    #[test]
    fn every_skips_utc_dates() {
        let t = timing("every 6h", None, &["2026-05-05"]);
        let next = t.next_after(utc("2026-05-04T19:00:00Z"));
        assert_eq!(next, Some(utc("2026-05-06T00:00:00Z")));
        let missed = t.missed(utc("2026-05-04T00:00:00Z"), utc("2026-05-05T23:00:00Z"));
        assert_eq!(missed, Some(utc("2026-05-04T18:00:00Z")));
    }

    #[test]
    fn every_durations_parse() {
        for (text, secs) in [("30s", 30), ("15m", 900), ("1h", 3600), ("1h30m", 5400)] {
            assert_eq!(
                parse_interval(text),
                Ok(Duration::from_secs(secs)),
                "{text}"
            );
        }
        assert_eq!(parse_interval("2d"), Ok(Duration::from_secs(2 * 86_400)));
        let full = Duration::from_secs(86_400 + 2 * 3600 + 3 * 60 + 4);
        assert_eq!(parse("EVERY  1d2h3m4s", None), Ok(Schedule::Every(full)));
    }

    #[test]
    fn bad_every_durations_are_refused() {
        for bad in ["0m", "0s", "0h0m"] {
            assert!(
                err(&format!("every {bad}"), None).contains("at least 1s"),
                "{bad}"
            );
        }
        for bad in ["15", "m", "1.5h", "15min", "30m1h", "1h1h", "-5m", "1w"] {
            assert!(
                err(&format!("every {bad}"), None).starts_with("bad duration"),
                "{bad}"
            );
        }
        assert!(err("every 2000d", None).contains("longer than 5 years"));
        assert!(err("every 99999999999999999999s", None).starts_with("bad duration"));
        assert!(err("every 15 m", None).contains("takes one duration"));
    }

    #[test]
    fn timezone_with_every_is_refused() {
        assert_eq!(
            err("every 15m", Some("Europe/Berlin")),
            "timezone applies to cron schedules only"
        );
    }

    #[test]
    fn unrecognised_schedule_says_what_is_expected() {
        assert_eq!(
            err("daily", None),
            "expected \"every <duration>\" or a cron expression of 5 fields \
             (minute hour day-of-month month day-of-week), got \"daily\""
        );
        assert!(err("0 0 2 * * *", None).starts_with("expected \"every"));
        assert!(err("", None).ends_with("got \"\""));
    }

    #[test]
    fn unknown_time_zone_suggests_closest_name() {
        assert_eq!(
            err("0 2 * * *", Some("Europe/Berln")),
            "unknown time zone \"Europe/Berln\" (an IANA name, e.g. \"Europe/Berlin\"); \
             did you mean \"Europe/Berlin\"?"
        );
        assert!(err("0 2 * * *", Some("europe/paris")).contains("did you mean \"Europe/Paris\""));
        assert!(!err("0 2 * * *", Some("Nowhere at all")).contains("did you mean"));
    }

    #[test]
    fn bad_cron_fields_are_named() {
        let cases = [
            ("0 24 * * *", "hour field \"24\": 24 is outside 0-23"),
            ("60 * * * *", "minute field \"60\": 60 is outside 0-59"),
            ("0 0 0 * *", "day-of-month field \"0\": 0 is outside 1-31"),
            (
                "0 0 * foo *",
                "month field \"foo\": \"foo\" is not a number or a name (jan-dec)",
            ),
            ("0 0 * * 8", "day-of-week field \"8\": 8 is outside 0-7"),
            (
                "*/0 * * * *",
                "minute field \"*/0\": step \"0\" is not a whole number",
            ),
            (
                "0 5-1 * * *",
                "hour field \"5-1\": range 5-1 goes backwards",
            ),
            (
                "5/15 * * * *",
                "a step needs a range, e.g. \"5-59/15\" or \"*/15\"",
            ),
            ("0 0 1,,2 * *", "\"\" is not a number"),
            ("0 0 L * *", "\"L\" is not a number"),
        ];
        for (expr, want) in cases {
            let got = err(expr, None);
            assert!(got.contains(want), "{expr}: {got}");
            assert!(
                got.ends_with(&format!("in cron expression {expr:?}")),
                "{got}"
            );
        }
    }

    #[test]
    fn skip_dates_are_strict() {
        let christmas = NaiveDate::from_ymd_opt(2026, 12, 25);
        assert_eq!(parse_skip_date("2026-12-25").ok(), christmas);
        for bad in [
            "2026-2-03",
            "26-12-25",
            "+2026-12-25",
            "2026/12/25",
            "2026-12-25 ",
            "",
        ] {
            assert!(
                parse_skip_date(bad)
                    .unwrap_err()
                    .starts_with("expected a date"),
                "{bad}"
            );
        }
        assert_eq!(
            parse_skip_date("2026-02-30"),
            Err("\"2026-02-30\" is not a date in the calendar".to_string())
        );
    }

    #[test]
    fn day_of_week_0_and_7_are_sunday_and_names_work() {
        // 2026-05-03 is a Sunday.
        let from = utc("2026-04-30T00:00:00Z");
        for expr in [
            "0 9 * * 0",
            "0 9 * * 7",
            "0 9 * * SUN",
            "0 9 * may sun",
            "0 9 * * 6-7",
        ] {
            let got = timing(expr, None, &[]).next_after(utc("2026-05-02T12:00:00Z"));
            assert_eq!(got, Some(utc("2026-05-03T09:00:00Z")), "{expr}");
        }
        let weekdays = timing("0 9 * * mon-fri", None, &[]);
        let got = slots(&weekdays, from, utc("2026-05-06T00:00:00Z"));
        let want: Vec<_> = ["04-30", "05-01", "05-04", "05-05"]
            .iter()
            .map(|d| utc(&format!("2026-{d}T09:00:00Z")))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn lists_ranges_and_steps() {
        let t = timing("*/20 9-17/4,23 * * *", None, &[]);
        let got = slots(&t, utc("2026-05-04T00:00:00Z"), utc("2026-05-05T00:00:00Z"));
        let hours = [9, 13, 17, 23];
        let want: Vec<_> = hours
            .iter()
            .flat_map(|h| [0, 20, 40].map(|m| utc(&format!("2026-05-04T{h:02}:{m:02}:00Z"))))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn restricted_day_fields_match_either_star_means_both() {
        // Vixie: the 13th OR a Friday. 2026-11-06 and 2026-11-13 are Fridays.
        let either = timing("0 0 13 * 5", None, &[]);
        let got = slots(
            &either,
            utc("2026-11-01T00:00:00Z"),
            utc("2026-11-21T00:00:00Z"),
        );
        let want: Vec<_> = ["06", "13", "20"]
            .iter()
            .map(|d| utc(&format!("2026-11-{d}T00:00:00Z")))
            .collect();
        assert_eq!(got, want);
        // A day field starting with `*` makes both apply: odd days that are Fridays.
        let both = timing("0 0 */2 * 5", None, &[]);
        let got = slots(
            &both,
            utc("2026-11-01T00:00:00Z"),
            utc("2026-12-01T00:00:00Z"),
        );
        assert_eq!(
            got,
            vec![utc("2026-11-13T00:00:00Z"), utc("2026-11-27T00:00:00Z")]
        );
    }

    #[test]
    fn weekday_2am_berlin_in_winter_and_summer() {
        let t = timing("0 2 * * 1-5", Some("Europe/Berlin"), &[]);
        // Friday 2026-01-09 at 01:00 UTC, then Monday.
        assert_eq!(
            t.next_after(utc("2026-01-08T12:00:00Z")),
            Some(utc("2026-01-09T01:00:00Z"))
        );
        assert_eq!(
            t.next_after(utc("2026-01-09T01:00:00Z")),
            Some(utc("2026-01-12T01:00:00Z"))
        );
        assert_eq!(
            t.next_after(utc("2026-07-08T12:00:00Z")),
            Some(utc("2026-07-09T00:00:00Z"))
        );
    }

    #[test]
    fn skipped_wall_time_runs_once_when_the_gap_ends() {
        // 2026-03-29 Berlin: 02:00 CET jumps to 03:00 CEST (01:00 UTC).
        let berlin = timing("30 2 * * *", Some("Europe/Berlin"), &[]);
        let day = slots_on_local_day(&berlin, chrono_tz::Europe::Berlin, "2026-03-29");
        assert_eq!(day, vec![utc("2026-03-29T01:00:00Z")]);
        // Every minute of the skipped hour collapses into one run too.
        let each = timing("* 2 * * *", Some("Europe/Berlin"), &[]);
        let day = slots_on_local_day(&each, chrono_tz::Europe::Berlin, "2026-03-29");
        assert_eq!(day, vec![utc("2026-03-29T01:00:00Z")]);
        // 2026-03-08 New York: 02:00 EST jumps to 03:00 EDT (07:00 UTC).
        let new_york = timing("30 2 * * *", Some("America/New_York"), &[]);
        let day = slots_on_local_day(&new_york, chrono_tz::America::New_York, "2026-03-08");
        assert_eq!(day, vec![utc("2026-03-08T07:00:00Z")]);
    }

    #[test]
    fn repeated_wall_time_runs_once_at_first_occurrence() {
        // 2026-10-25 Berlin: 02:30 happens at 00:30 UTC (CEST) and 01:30 UTC (CET).
        let berlin = timing("30 2 * * *", Some("Europe/Berlin"), &[]);
        let day = slots_on_local_day(&berlin, chrono_tz::Europe::Berlin, "2026-10-25");
        assert_eq!(day, vec![utc("2026-10-25T00:30:00Z")]);
        let next = berlin.next_after(utc("2026-10-25T00:30:00Z"));
        assert_eq!(next, Some(utc("2026-10-26T01:30:00Z")));
        // 2026-11-01 New York: 01:30 happens at 05:30 UTC (EDT) and 06:30 UTC (EST).
        let new_york = timing("30 1 * * *", Some("America/New_York"), &[]);
        let day = slots_on_local_day(&new_york, chrono_tz::America::New_York, "2026-11-01");
        assert_eq!(day, vec![utc("2026-11-01T05:30:00Z")]);
    }

    #[test]
    fn hourly_follows_real_hours_across_dst() {
        let cases = [
            ("Europe/Berlin", chrono_tz::Europe::Berlin, "2026-03-29", 23),
            ("Europe/Berlin", chrono_tz::Europe::Berlin, "2026-10-25", 25),
            (
                "America/New_York",
                chrono_tz::America::New_York,
                "2026-03-08",
                23,
            ),
            (
                "America/New_York",
                chrono_tz::America::New_York,
                "2026-11-01",
                25,
            ),
            ("Europe/Berlin", chrono_tz::Europe::Berlin, "2026-06-01", 24),
        ];
        for (name, zone, day, count) in cases {
            for expr in ["0 * * * *", "30 * * * *"] {
                let t = timing(expr, Some(name), &[]);
                let got = slots_on_local_day(&t, zone, day);
                assert_eq!(got.len(), count, "{expr} {name} {day}");
                // One per real hour: always exactly an hour apart.
                assert!(
                    got.windows(2).all(|w| w[1] - w[0] == TimeDelta::hours(1)),
                    "{got:?}"
                );
            }
        }
    }

    #[test]
    fn skip_date_in_schedule_zone() {
        let t = timing("0 2 * * *", Some("Europe/Berlin"), &["2026-12-25"]);
        let christmas_eve = utc("2026-12-24T01:00:00Z");
        assert_eq!(
            t.next_after(christmas_eve),
            Some(utc("2026-12-26T01:00:00Z"))
        );
        // 2026-12-25 01:30 local is still the 24th in UTC: the zone's date decides.
        let late = timing("30 0 * * *", Some("Europe/Berlin"), &["2026-12-25"]);
        assert_eq!(
            late.next_after(christmas_eve),
            Some(utc("2026-12-25T23:30:00Z"))
        );
    }

    #[test]
    fn missed_gives_only_the_latest_slot() {
        let t = timing("every 15m", None, &[]);
        let (down, up) = (utc("2026-05-04T10:07:00Z"), utc("2026-05-04T13:52:00Z"));
        assert_eq!(t.missed(down, up), Some(utc("2026-05-04T13:45:00Z")));
        assert_eq!(t.missed(utc("2026-05-04T13:45:00Z"), up), None);
        // `now` itself counts, `last` does not.
        assert_eq!(
            t.missed(down, utc("2026-05-04T13:45:00Z")),
            Some(utc("2026-05-04T13:45:00Z"))
        );
        let cron = timing("0 2 * * 1-5", Some("Europe/Berlin"), &[]);
        // Down from Friday noon to Monday noon in January: Monday 02:00 local was missed.
        let missed = cron.missed(utc("2026-01-09T11:00:00Z"), utc("2026-01-12T11:00:00Z"));
        assert_eq!(missed, Some(utc("2026-01-12T01:00:00Z")));
        let missed = cron.missed(utc("2026-01-10T11:00:00Z"), utc("2026-01-12T00:30:00Z"));
        assert_eq!(missed, None);
    }

    #[test]
    fn leap_day_and_impossible_dates() {
        let leap = timing("0 0 29 2 *", None, &[]);
        assert_eq!(
            leap.next_after(utc("2026-03-01T00:00:00Z")),
            Some(utc("2028-02-29T00:00:00Z"))
        );
        let never = timing("0 0 30 2 *", None, &[]);
        assert_eq!(never.next_after(utc("2026-03-01T00:00:00Z")), None);
        assert_eq!(
            never.missed(utc("2020-01-01T00:00:00Z"), utc("2026-03-01T00:00:00Z")),
            None
        );
    }

    #[test]
    fn describe_reads_back() {
        assert_eq!(timing("every 90m", None, &[]).describe(), "every 1h30m");
        assert_eq!(timing("every 2d", None, &[]).describe(), "every 2d");
        let berlin = timing(" 0  2 * *\t1-5", Some("Europe/Berlin"), &["2026-12-25"]);
        assert_eq!(
            berlin.describe(),
            "0 2 * * 1-5 (Europe/Berlin), skipping 1 date"
        );
        assert_eq!(
            timing("*/5 * * * *", None, &[]).describe(),
            "*/5 * * * * (UTC)"
        );
    }

    /// Whether a slot is due at minute `at` by reading the fields against the wall clock:
    /// independent of the DST handling, except that a fixed hour does not run again when
    /// the clock repeats it.
    fn fields_say_due(t: &Timing, at: DateTime<Utc>) -> bool {
        match &t.schedule {
            Schedule::Every(interval) => {
                at.timestamp() % whole_secs(*interval) == 0 && !t.skips(at.date_naive())
            }
            Schedule::Cron { expr, timezone, .. } => {
                let wall = at.with_timezone(timezone).naive_local();
                let repeat = timezone
                    .from_local_datetime(&wall)
                    .earliest()
                    .map(|e| e.to_utc());
                expr.runs_on(wall.date())
                    && !t.skips(wall.date())
                    && has(expr.hours, wall.hour())
                    && has(expr.minutes, wall.minute())
                    && (expr.any_hour || repeat == Some(at))
            }
        }
    }

    #[test]
    fn property_next_after_is_the_first_slot_after() {
        let schedules = [
            ("every 15m", None, vec![]),
            ("every 1h30m", None, vec!["2026-07-04"]),
            ("*/15 * * * *", Some("Europe/Berlin"), vec![]),
            ("30 2 * * *", Some("Europe/Berlin"), vec!["2026-12-25"]),
            ("*/20 2 * * *", Some("Europe/Berlin"), vec![]),
            ("0 * * * *", Some("America/New_York"), vec![]),
            ("30 1 * * *", Some("America/New_York"), vec![]),
            ("0 9-17 * * 1-5", Some("America/New_York"), vec![]),
            ("0 0 13 * fri", None, vec![]),
        ];
        // Random-ish instants over 2026-2027 (xorshift), plus the nights the clocks change.
        let start = utc("2026-01-01T00:00:00Z").timestamp();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut instants: Vec<DateTime<Utc>> = (0..60)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let offset = (seed % (2 * 365 * 86_400)) as i64;
                DateTime::from_timestamp(start + offset, 0).expect("in range")
            })
            .collect();
        for night in [
            "2026-03-29T00:10",
            "2026-10-25T00:10",
            "2026-03-08T06:10",
            "2026-11-01T05:10",
        ] {
            instants.push(utc(&format!("{night}:00Z")));
        }
        for (expr, zone, skip) in &schedules {
            let t = timing(expr, *zone, skip);
            for after in &instants {
                check_window(&t, *after);
            }
        }
    }

    /// `next_after(after)` is later than `after`, and minute by minute through the three
    /// hours after `after` and before that slot, nothing else is due.
    fn check_window(t: &Timing, after: DateTime<Utc>) {
        let next = t.next_after(after).expect("a slot within 5 years");
        assert!(next > after, "{}: {next} after {after}", t.describe());
        let window = TimeDelta::hours(3);
        let first_minute = multiple_after(60, after).expect("in range");
        let minutes = |from: DateTime<Utc>| {
            std::iter::successors(Some(from), |m| Some(*m + TimeDelta::minutes(1)))
                .take_while(move |m| *m < next && *m < from + window)
        };
        let before = multiple_after(60, next - window)
            .expect("in range")
            .max(first_minute);
        for minute in minutes(first_minute).chain(minutes(before)) {
            assert!(
                !fields_say_due(t, minute),
                "{}: {minute} skipped before {next}",
                t.describe()
            );
        }
        // Asking again from inside the window finds the same slot.
        let inside = after + (next - after) / 2;
        assert_eq!(
            t.next_after(inside),
            Some(next),
            "{}: from {inside}",
            t.describe()
        );
    }
}
