//! Command-line text into ledger values, with errors that name what was
//! wrong. Used as clap value parsers, so a bad value is a usage error (exit 2)
//! before anything is signed or sent.

use std::fmt;

use kp_crypto::Hash32;
use kp_ledger::units;

/// The shortest id prefix the node resolves.
pub const ID_PREFIX_HEX_MIN: usize = 8;
/// A whole id: 32 bytes as hex.
pub const ID_HEX_LEN: usize = 64;

/// `12.345` carats -> milli-carats.
pub fn carats(text: &str) -> Result<u64, String> {
    units::parse_carats(text).map_err(|e| e.to_string())
}

/// `1500.00` US$ -> cents.
pub fn usd(text: &str) -> Result<u64, String> {
    units::parse_usd(text).map_err(|e| e.to_string())
}

/// `YYYY-MM-DD` -> days since 1970-01-01.
pub fn date(text: &str) -> Result<u32, String> {
    units::parse_date(text).map_err(|e| e.to_string())
}

/// A parcel or transfer id as typed: the whole id, or a prefix the node
/// will resolve (unique, at least 8 hex characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdArg {
    Full(Hash32),
    Prefix(String),
}

impl IdArg {
    /// The text to put in a URL path: the node resolves either form.
    pub fn as_path(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for IdArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdArg::Full(id) => write!(f, "{id}"),
            IdArg::Prefix(p) => f.write_str(p),
        }
    }
}

pub fn id(text: &str) -> Result<IdArg, String> {
    let t = text.trim().to_ascii_lowercase();
    if !t.bytes().all(|b| b.is_ascii_hexdigit()) || t.is_empty() {
        return Err(format!("`{text}` is not a hexadecimal id"));
    }
    if t.len() < ID_PREFIX_HEX_MIN {
        return Err(format!(
            "`{text}` is too short: give at least {ID_PREFIX_HEX_MIN} hex characters of the id"
        ));
    }
    if t.len() > ID_HEX_LEN {
        return Err(format!(
            "`{text}` is longer than an id ({ID_HEX_LEN} hex characters)"
        ));
    }
    if t.len() == ID_HEX_LEN {
        return t
            .parse::<Hash32>()
            .map(IdArg::Full)
            .map_err(|e| format!("`{text}` is not an id: {e}"));
    }
    Ok(IdArg::Prefix(t))
}

/// A transaction id: always whole (the node resolves no prefixes for these).
pub fn tx_id(text: &str) -> Result<Hash32, String> {
    text.trim()
        .to_ascii_lowercase()
        .parse::<Hash32>()
        .map_err(|e| format!("`{text}` is not a transaction id ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_prefixes() {
        assert_eq!(id("3F9A12CD"), Ok(IdArg::Prefix("3f9a12cd".into())));
        let full = "ab".repeat(32);
        assert!(matches!(id(&full), Ok(IdArg::Full(_))));
        assert_eq!(id(&full).unwrap().to_string(), full);
        assert!(id("3f9a").unwrap_err().contains("at least 8"));
        assert!(id("3f9a12cz").unwrap_err().contains("not a hexadecimal id"));
        assert!(id(&"a".repeat(65))
            .unwrap_err()
            .contains("longer than an id"));
        assert!(id("").is_err());
    }

    #[test]
    fn units_name_the_bad_value() {
        assert_eq!(carats("12.345"), Ok(12_345));
        let err = carats("1.2345").unwrap_err();
        assert!(err.contains("1.2345") && err.contains("carats"), "{err}");
        assert_eq!(usd("1500.00"), Ok(150_000));
        assert!(usd("15.001").unwrap_err().contains("US$"));
        assert!(date("2026-02-30").unwrap_err().contains("2026-02-30"));
    }
}
