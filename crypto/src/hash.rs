use std::fmt;
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 32-byte blake3 digest. Prints and parses as lowercase hex.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize,
)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(value_type = String, pattern = "^[0-9a-f]{64}$")
)]
pub struct Hash32(pub [u8; 32]);

impl Hash32 {
    pub const ZERO: Hash32 = Hash32([0; 32]);

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// Hashes `parts` under a blake3 `derive_key` context, so that a digest made
/// for one purpose (a transaction id, a block hash, a Merkle node) can never
/// be mistaken for a digest made for another.
pub fn hash_domain(context: &str, parts: &[&[u8]]) -> Hash32 {
    let mut hasher = blake3::Hasher::new_derive_key(context);
    for part in parts {
        hasher.update(part);
    }
    Hash32(*hasher.finalize().as_bytes())
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HashParseError {
    #[error("expected 64 hex characters, got {0}")]
    Length(usize),
    #[error("not hexadecimal: {0}")]
    Hex(String),
}

impl FromStr for Hash32 {
    type Err = HashParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Hash32(parse_hex_array(s)?))
    }
}

pub(crate) fn parse_hex_array<const N: usize>(s: &str) -> Result<[u8; N], HashParseError> {
    if s.len() != N * 2 {
        return Err(HashParseError::Length(s.len()));
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).map_err(|e| HashParseError::Hex(e.to_string()))?;
    Ok(out)
}

impl fmt::Display for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash32({})", self.to_hex())
    }
}

impl Serialize for Hash32 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Hash32 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_separate_digests() {
        let a = hash_domain("kp test a", &[b"x"]);
        let b = hash_domain("kp test b", &[b"x"]);
        assert_ne!(a, b);
        assert_eq!(a, hash_domain("kp test a", &[b"x"]));
    }

    #[test]
    fn hex_round_trip_and_errors() {
        let h = hash_domain("kp test", &[b"y"]);
        assert_eq!(h.to_hex().parse::<Hash32>().unwrap(), h);
        assert_eq!("abc".parse::<Hash32>(), Err(HashParseError::Length(3)));
        assert!(matches!(
            "z".repeat(64).parse::<Hash32>(),
            Err(HashParseError::Hex(_))
        ));
    }
}
