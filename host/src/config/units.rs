//! Durations ("30s") and transfer rates ("10M") as written in ferry.toml and on the command line.

use std::time::Duration;

const DURATION_UNITS: [(&str, u64); 5] = [
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
];

const RATE_SUFFIXES: [(char, u64); 3] = [('K', 1 << 10), ('M', 1 << 20), ('G', 1 << 30)];

/// Parses a whole number followed by a unit: "1500ms", "30s", "5m", "1h", "1d".
/// Zero is rejected: no timeout or interval in ferry can be zero.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = |why: &str| {
        format!(
            "invalid duration {text:?} ({why}); expected a whole number and a unit \
             (ms, s, m, h, d), e.g. \"30s\""
        )
    };
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
    if millis == 0 {
        return Err(invalid("must be greater than zero"));
    }
    Ok(Duration::from_millis(millis))
}

/// Parses a rate in bytes per second: "1048576", "512K", "10M", "1.5G" (K, M, G are
/// KiB, MiB, GiB per second, either case), or "off" for no limit (`None`).
pub fn parse_rate(text: &str) -> Result<Option<u64>, String> {
    let invalid = |why: &str| {
        format!(
            "invalid rate {text:?} ({why}); expected bytes per second with an optional \
             K, M or G suffix (KiB, MiB, GiB), e.g. \"10M\", or \"off\""
        )
    };
    let trimmed = text.trim();
    if trimmed.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let (number, multiplier) = split_rate_suffix(trimmed);
    let is_decimal = !number.is_empty() && number.chars().all(|c| c.is_ascii_digit() || c == '.');
    let value = is_decimal
        .then(|| number.parse::<f64>().ok())
        .flatten()
        .ok_or_else(|| invalid("not a number"))?;
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

fn split_rate_suffix(text: &str) -> (&str, u64) {
    RATE_SUFFIXES
        .iter()
        .find_map(|(suffix, multiplier)| {
            text.strip_suffix(*suffix)
                .or_else(|| text.strip_suffix(suffix.to_ascii_lowercase()))
                .map(|number| (number, *multiplier))
        })
        .unwrap_or((text, 1))
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
    }

    #[test]
    fn rates_with_and_without_suffix() {
        assert_eq!(parse_rate("10M"), Ok(Some(10 * 1024 * 1024)));
        assert_eq!(parse_rate("512K"), Ok(Some(512 * 1024)));
        assert_eq!(parse_rate("512k"), Ok(Some(512 * 1024)));
        assert_eq!(parse_rate("1.5G"), Ok(Some(3 * 512 * 1024 * 1024)));
        assert_eq!(parse_rate("1048576"), Ok(Some(1_048_576)));
        assert_eq!(parse_rate("off"), Ok(None));
        assert_eq!(parse_rate("OFF"), Ok(None));
    }

    #[test]
    fn bad_rates_say_why() {
        let hint = "expected bytes per second with an optional K, M or G suffix (KiB, MiB, GiB), \
                    e.g. \"10M\", or \"off\"";
        assert_eq!(
            parse_rate("10MB"),
            Err(format!("invalid rate \"10MB\" (not a number); {hint}"))
        );
        assert_eq!(
            parse_rate("0"),
            Err(format!(
                "invalid rate \"0\" (less than 1 byte per second; use \"off\" for no limit); {hint}"
            ))
        );
        assert!(parse_rate("").is_err());
        assert!(parse_rate("M").is_err());
        assert!(parse_rate("1.2.3K").is_err());
        assert!(parse_rate("-1").is_err());
        assert!(parse_rate("1e9").is_err());
        assert!(parse_rate("99999999999999999999G").is_err());
    }
}
