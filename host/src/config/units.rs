//! Durations ("30s") and transfer rates ("10M") as written in ferry.toml and on the command line.

use std::time::Duration;

const DURATION_UNITS: [(&str, u64); 5] = [
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
];

/// The units of a rate.
const RATE_UNITS: [(&str, u64); 7] = [
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("K", 1 << 10),
    ("M", 1 << 20),
    ("G", 1 << 30),
    ("B", 1),
];

/// How a rate's unit is explained in its errors.
const RATE_HINT: &str = "expected a number and a unit per second: B, K or KiB, M or MiB, \
                             G or GiB (K, M, G in either case), e.g. \"10M\" or \"512K\", or \"off\"";

/// Parses a whole number followed by a unit: "1500ms", "30s", "5m", "1h", "1d".
/// Zero is rejected: no timeout or interval in ferry can be zero.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    match parse_duration_or_zero(text)? {
        Duration::ZERO => Err(duration_error(text, "must be greater than zero")),
        duration => Ok(duration),
    }
}

/// As [`parse_duration`], zero ("0s") included: for waits that may be left out.
pub fn parse_duration_or_zero(text: &str) -> Result<Duration, String> {
    let invalid = |why: &str| duration_error(text, why);
    let trimmed = text.trim();
    let (digits, unit) = trimmed.split_at(
        trimmed
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(trimmed.len()),
    );
    if digits.is_empty() {
        return Err(invalid("no number"));
    }
    let unit = unit.trim();
    let Some((_, unit_millis)) = DURATION_UNITS.iter().find(|(name, _)| *name == unit) else {
        return Err(invalid(&if unit.is_empty() {
            "no unit".to_string()
        } else {
            format!("unknown unit {unit:?}")
        }));
    };
    let millis = digits
        .parse::<u64>()
        .ok()
        .and_then(|count| count.checked_mul(*unit_millis))
        .ok_or_else(|| invalid("too long"))?;
    Ok(Duration::from_millis(millis))
}

fn duration_error(text: &str, why: &str) -> String {
    format!(
        "invalid duration {text:?} ({why}); expected a whole number and a unit \
         (ms, s, m, h, d), e.g. \"30s\""
    )
}

/// Parses a rate in bytes per second: "512K", "10M", "1.5MiB", "1G", "4096B" (K, M, G
/// are KiB, MiB, GiB per second), or "off" for no limit (`None`). A bare number is
/// refused: "10" reads like 10 MB/s to some and 10 B/s to others.
pub fn parse_rate(text: &str) -> Result<Option<u64>, String> {
    let invalid = |why: &str| format!("invalid rate {text:?} ({why}); {RATE_HINT}");
    let trimmed = text.trim();
    if trimmed.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let (number, unit) = trimmed.split_at(
        trimmed
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(trimmed.len()),
    );
    let value = number.parse::<f64>().map_err(|_| invalid("not a number"))?;
    let multiplier = rate_unit(unit.trim()).map_err(|why| invalid(&why))?;
    let bytes = (value * multiplier as f64).round();
    if bytes < 1.0 {
        return Err(invalid(
            "less than 1 byte per second; use \"off\" for no limit",
        ));
    }
    if bytes >= u64::MAX as f64 {
        return Err(invalid("too large"));
    }
    Ok(Some(bytes as u64))
}

/// The bytes of `unit`; K, M and G may be lower case.
fn rate_unit(unit: &str) -> Result<u64, String> {
    if unit.is_empty() {
        return Err("no unit".into());
    }
    RATE_UNITS
        .iter()
        .find(|(name, _)| {
            *name == unit || (matches!(*name, "K" | "M" | "G") && name.eq_ignore_ascii_case(unit))
        })
        .map(|(_, bytes)| *bytes)
        .ok_or_else(|| format!("unknown unit {unit:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_every_unit() {
        assert_eq!(parse_duration("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(2 * 86_400)));
        assert_eq!(parse_duration(" 15 m "), Ok(Duration::from_secs(900)));
    }

    #[test]
    fn bad_durations_say_why() {
        let hint = "expected a whole number and a unit (ms, s, m, h, d), e.g. \"30s\"";
        assert_eq!(
            parse_duration("30"),
            Err(format!("invalid duration \"30\" (no unit); {hint}"))
        );
        assert_eq!(
            parse_duration("5x"),
            Err(format!(
                "invalid duration \"5x\" (unknown unit \"x\"); {hint}"
            ))
        );
        assert_eq!(
            parse_duration("s"),
            Err(format!("invalid duration \"s\" (no number); {hint}"))
        );
        assert_eq!(
            parse_duration("0s"),
            Err(format!(
                "invalid duration \"0s\" (must be greater than zero); {hint}"
            ))
        );
        assert_eq!(
            parse_duration("99999999999999999999d"),
            Err(format!(
                "invalid duration \"99999999999999999999d\" (too long); {hint}"
            ))
        );
        assert!(parse_duration("-5s").is_err());
        assert!(parse_duration("1.5h").is_err());
        assert_eq!(parse_duration_or_zero("0s"), Ok(Duration::ZERO));
        assert!(parse_duration_or_zero("0").is_err());
    }

    #[test]
    fn rates_with_and_without_suffix() {
        assert_eq!(parse_rate("10M"), Ok(Some(10 * 1024 * 1024)));
        assert_eq!(parse_rate("512K"), Ok(Some(512 * 1024)));
        assert_eq!(parse_rate("512k"), Ok(Some(512 * 1024)));
        assert_eq!(parse_rate("1.5G"), Ok(Some(3 * 512 * 1024 * 1024)));
        assert_eq!(parse_rate("1048576B"), Ok(Some(1_048_576)));
        assert_eq!(parse_rate("1.5MiB"), Ok(Some(3 * 512 * 1024)));
        assert_eq!(parse_rate("2 KiB"), Ok(Some(2048)));
        assert_eq!(parse_rate("off"), Ok(None));
        assert_eq!(parse_rate("OFF"), Ok(None));
    }

    #[test]
    fn bad_rates_say_why() {
        assert_eq!(
            parse_rate("10"),
            Err(format!("invalid rate \"10\" (no unit); {RATE_HINT}"))
        );
        assert_eq!(
            parse_rate("10MB"),
            Err(format!(
                "invalid rate \"10MB\" (unknown unit \"MB\"); {RATE_HINT}"
            ))
        );
        assert_eq!(
            parse_rate("0K"),
            Err(format!(
                "invalid rate \"0K\" (less than 1 byte per second; use \"off\" for no limit); {RATE_HINT}"
            ))
        );
        for bad in [
            "",
            "M",
            "1.2.3K",
            "-1K",
            "1e9B",
            "99999999999999999999G",
            "10b",
            "5mib",
        ] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }
}
