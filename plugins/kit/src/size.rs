//! Sizes as every size setting takes them: `"2GB"`, `"2GiB"`, `"500 MB"`, `1048576`.

/// How a size is written, as a literal for `concat!` in settings' documentation.
macro_rules! size_syntax {
    () => {
        "a whole number of bytes, or a number and a unit: B; KB, MB, GB, TB (powers of 1000); \
         KiB, MiB, GiB, TiB or K, M, G, T (powers of 1024); units in any case, a space before \
         the unit allowed, decimals too when they make whole bytes, e.g. \"2GB\", \"2GiB\", \
         \"500 MB\", \"1.5G\""
    };
}
pub(crate) use size_syntax;

/// How a size is written, for the documentation and errors of every size setting.
pub const SIZE_SYNTAX: &str = size_syntax!();

const UNITS: [(&str, u64); 14] = [
    ("", 1),
    ("B", 1),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("TB", 1_000_000_000_000),
    ("K", 1 << 10),
    ("M", 1 << 20),
    ("G", 1 << 30),
    ("T", 1 << 40),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("TiB", 1 << 40),
];

/// The most decimals a size may have (a byte is a billionth of a GB).
const MAX_DECIMALS: usize = 12;

/// Parse a size written as [`SIZE_SYNTAX`] says into bytes, exactly (no floating point).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let invalid = |why: String| format!("invalid size {text:?} ({why}); expected {SIZE_SYNTAX}");
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let unit = unit.trim_start();
    let (_, multiplier) = UNITS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(unit))
        .ok_or_else(|| invalid(format!("unknown unit {unit:?}")))?;
    let (digits, scale) = decimal(number).map_err(invalid)?;
    let bytes = digits
        .checked_mul(u128::from(*multiplier))
        .filter(|bytes| bytes / scale <= u128::from(u64::MAX))
        .ok_or_else(|| invalid(format!("larger than the largest size, {} bytes", u64::MAX)))?;
    if bytes % scale != 0 {
        return Err(invalid("not a whole number of bytes".into()));
    }
    Ok((bytes / scale) as u64)
}

/// `"1.50"` as `(15, 10)`: its digits without the point, and the power of ten they are over.
fn decimal(number: &str) -> Result<(u128, u128), String> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let fraction = fraction.trim_end_matches('0');
    if whole.is_empty() && fraction.is_empty() {
        return Err("no number".into());
    }
    if fraction.contains('.') {
        return Err("more than one decimal point".into());
    }
    if fraction.len() > MAX_DECIMALS {
        return Err(format!("more than {MAX_DECIMALS} decimals"));
    }
    let digits = format!("{whole}{fraction}")
        .parse()
        .map_err(|_| format!("larger than the largest size, {} bytes", u64::MAX))?;
    Ok((digits, 10u128.pow(fraction.len() as u32)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_powers_of_1000_or_of_1024_as_written() {
        assert_eq!(parse_size("2GB"), Ok(2_000_000_000));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("500 MB"), Ok(500_000_000));
        assert_eq!(parse_size(" 10 kib "), Ok(10_240));
        assert_eq!(parse_size("7b"), Ok(7));
        assert_eq!(parse_size("5TiB"), Ok(5 << 40));
        assert_eq!(parse_size("1048576"), Ok(1_048_576));
        assert_eq!(parse_size("0"), Ok(0));
    }

    #[test]
    fn decimals_count_exactly_and_must_make_whole_bytes() {
        assert_eq!(parse_size("1.5KB"), Ok(1_500));
        assert_eq!(parse_size("0.5 GiB"), Ok(1 << 29));
        assert_eq!(parse_size("2.000000000000000GB"), Ok(2_000_000_000));
        assert_eq!(parse_size(".5K"), Ok(512));
        assert_eq!(parse_size("1.000000001GB"), Ok(1_000_000_001));
        let partial = parse_size("1.5").unwrap_err();
        assert!(partial.contains("not a whole number of bytes"), "{partial}");
        assert!(
            parse_size("1.0000000000001TB")
                .unwrap_err()
                .contains("decimals")
        );
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        assert_eq!(parse_size("18446744073709551615"), Ok(u64::MAX));
        for text in ["18446744073709551616", "16777216TiB", &"9".repeat(60)] {
            let error = parse_size(text).unwrap_err();
            assert!(
                error.contains("larger than the largest size"),
                "{text}: {error}"
            );
        }
    }

    #[test]
    fn garbage_is_refused_naming_what_is_wrong_and_the_syntax() {
        for (text, why) in [
            ("2 parsecs", "unknown unit \"parsecs\""),
            ("GB", "no number"),
            ("", "no number"),
            ("-5", "unknown unit \"-5\""),
            ("1.2.3MB", "more than one decimal point"),
            ("2 G B", "unknown unit \"G B\""),
        ] {
            let error = parse_size(text).unwrap_err();
            assert!(error.contains(why), "{text}: {error}");
            assert!(error.contains("e.g. \"2GB\""), "{text}: {error}");
        }
    }
}
