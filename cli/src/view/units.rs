//! How every view writes a time and a value: `2026-03-01 14:05:09 UTC`,
//! `US$ 1500.00 (US$ 150.00/ct)`.

use kp_ledger::units::{day_of, Day, Usd, SECONDS_PER_DAY};

/// UTC seconds -> `2026-03-01 14:05:09 UTC`.
pub fn date_time(secs: u64) -> String {
    let of_day = secs % SECONDS_PER_DAY;
    format!(
        "{} {:02}:{:02}:{:02} UTC",
        Day(day_of(secs)),
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// US$ per carat, in cents, rounded down; `None` for a weightless parcel.
fn usd_per_carat(value_cents: u64, milli_carats: u64) -> Option<Usd> {
    if milli_carats == 0 {
        return None;
    }
    let cents = u128::from(value_cents) * 1000 / u128::from(milli_carats);
    Some(Usd(u64::try_from(cents).unwrap_or(u64::MAX)))
}

pub fn value_line(value_cents: u64, milli_carats: u64) -> String {
    match usd_per_carat(value_cents, milli_carats) {
        Some(per) => format!("US$ {} (US$ {per}/ct)", Usd(value_cents)),
        None => format!("US$ {}", Usd(value_cents)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_money() {
        assert_eq!(date_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(date_time(86_400 + 3_723), "1970-01-02 01:02:03 UTC");
        assert_eq!(value_line(150_000, 10_000), "US$ 1500.00 (US$ 150.00/ct)");
        assert_eq!(value_line(150_000, 0), "US$ 1500.00");
    }
}
