//! Quantities as the scheme writes them: carats with up to three decimals held
//! as integer milli-carats, US$ with up to two decimals held as integer cents,
//! dates as `YYYY-MM-DD` held as days since 1970-01-01. No floats anywhere.

use std::fmt;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UnitParseError {
    #[error("{what} `{text}` is not a number with at most {decimals} decimals")]
    Decimal {
        what: &'static str,
        text: String,
        decimals: u32,
    },
    #[error("{what} `{text}` is too large")]
    Overflow { what: &'static str, text: String },
    #[error("date `{0}` is not a valid YYYY-MM-DD date")]
    Date(String),
}

fn parse_fixed(text: &str, decimals: u32, what: &'static str) -> Result<u64, UnitParseError> {
    let bad = || UnitParseError::Decimal {
        what,
        text: text.to_owned(),
        decimals,
    };
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, f),
        None => (text, ""),
    };
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || !digits_only(whole)
        || !digits_only(frac)
        || frac.len() > decimals as usize
    {
        return Err(bad());
    }
    if text.ends_with('.') {
        return Err(bad());
    }
    let overflow = || UnitParseError::Overflow {
        what,
        text: text.to_owned(),
    };
    let scale = 10u64.pow(decimals);
    let whole: u64 = whole.parse().map_err(|_| overflow())?;
    let mut frac_value: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| bad())?
    };
    frac_value *= 10u64.pow(decimals - frac.len() as u32);
    whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(frac_value))
        .ok_or_else(overflow)
}

/// `12.345` -> 12345 milli-carats.
pub fn parse_carats(text: &str) -> Result<u64, UnitParseError> {
    parse_fixed(text.trim(), 3, "carats")
}

/// `1500.00` -> 150000 cents.
pub fn parse_usd(text: &str) -> Result<u64, UnitParseError> {
    parse_fixed(text.trim(), 2, "US$ amount")
}

/// 12345 milli-carats -> `12.345`.
pub struct Carats(pub u64);

impl fmt::Display for Carats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}", self.0 / 1000, self.0 % 1000)
    }
}

/// 150000 cents -> `1500.00`.
pub struct Usd(pub u64);

impl fmt::Display for Usd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

pub const SECONDS_PER_DAY: u64 = 86_400;

/// Days since 1970-01-01 (UTC) of a block time in seconds.
pub fn day_of(time_secs: u64) -> u32 {
    (time_secs / SECONDS_PER_DAY) as u32
}

/// Days since 1970-01-01 -> `YYYY-MM-DD` (proleptic Gregorian calendar).
pub struct Day(pub u32);

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = civil_from_days(i64::from(self.0));
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// The calendar year and quarter (1 to 4, UTC) of a block time in seconds.
/// Years past 65535 are counted in 65535: no agreed block time comes near.
pub fn year_and_quarter(time_secs: u64) -> (u16, u8) {
    // At most 2^64 / 86400 days: well inside an i64.
    let days = (time_secs / SECONDS_PER_DAY) as i64;
    let (y, m, _) = civil_from_days(days);
    let year = u16::try_from(y).unwrap_or(u16::MAX);
    // Months 1..=12 map onto quarters 1..=4.
    (year, ((m - 1) / 3 + 1) as u8)
}

pub fn parse_date(text: &str) -> Result<u32, UnitParseError> {
    let bad = || UnitParseError::Date(text.to_owned());
    let parts: Vec<&str> = text.trim().split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(bad());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let y: i64 = y.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    let d: u32 = d.parse().map_err(|_| bad())?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) || y < 1970 {
        return Err(bad());
    }
    u32::try_from(days_from_civil(y, m, d)).map_err(|_| bad())
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's civil-date algorithms, exact over the whole range used here.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carats_and_usd() {
        assert_eq!(parse_carats("12.345"), Ok(12_345));
        assert_eq!(parse_carats("12.3"), Ok(12_300));
        assert_eq!(parse_carats("7"), Ok(7_000));
        assert!(parse_carats("1.2345").is_err());
        assert!(parse_carats("-1").is_err());
        assert!(parse_carats("1.").is_err());
        assert!(parse_carats("").is_err());
        assert!(parse_carats("99999999999999999999").is_err());
        assert_eq!(parse_usd("1500.00"), Ok(150_000));
        assert_eq!(parse_usd("0.5"), Ok(50));
        assert_eq!(Carats(12_345).to_string(), "12.345");
        assert_eq!(Carats(5).to_string(), "0.005");
        assert_eq!(Usd(150_000).to_string(), "1500.00");
    }

    #[test]
    fn dates_round_trip() {
        assert_eq!(parse_date("1970-01-01"), Ok(0));
        assert_eq!(
            parse_date("2016-11-15")
                .map(|d| Day(d).to_string())
                .unwrap(),
            "2016-11-15"
        );
        assert_eq!(
            Day(parse_date("2024-02-29").unwrap()).to_string(),
            "2024-02-29"
        );
        assert!(parse_date("2023-02-29").is_err());
        assert!(parse_date("2023-13-01").is_err());
        assert!(parse_date("23-01-01").is_err());
        let secs = |date: &str| u64::from(parse_date(date).unwrap()) * SECONDS_PER_DAY;
        assert_eq!(year_and_quarter(secs("2026-01-01")), (2026, 1));
        assert_eq!(year_and_quarter(secs("2026-03-31") + 86_399), (2026, 1));
        assert_eq!(year_and_quarter(secs("2026-04-01")), (2026, 2));
        assert_eq!(year_and_quarter(secs("2026-12-31")), (2026, 4));
        for day in [0u32, 59, 365, 11_000, 20_000, 40_000] {
            let text = Day(day).to_string();
            assert_eq!(parse_date(&text), Ok(day), "{text}");
        }
    }
}
