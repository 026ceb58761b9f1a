use std::fmt;
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_consensus::{batch, SigningKey, VerificationKey, VerificationKeyBytes};
use rand_core::OsRng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::hash::{parse_hex_array, HashParseError};

/// An ed25519 public key, as its 32 bytes. Whether the bytes are a valid
/// curve point is decided at verification, under ZIP-215 rules, so that every
/// node gives the same answer.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize,
)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(value_type = String, pattern = "^[0-9a-f]{64}$")
)]
pub struct PublicKey(pub [u8; 32]);

/// An ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct Signature(pub [u8; 64]);

/// An ed25519 signing key. Never printed.
pub struct SecretKey(SigningKey);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the public key is not a valid ed25519 point")]
    MalformedKey,
    #[error("the signature does not verify")]
    Invalid,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyParseError {
    #[error("a public key is 64 hex characters: {0}")]
    Hex(#[from] HashParseError),
}

impl SecretKey {
    pub fn generate() -> Self {
        SecretKey(SigningKey::new(OsRng))
    }

    pub fn from_seed(seed: [u8; 32]) -> Self {
        SecretKey(SigningKey::from(seed))
    }

    pub fn seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verification_key().to_bytes())
    }

    pub fn sign(&self, msg: &[u8]) -> Signature {
        Signature(self.0.sign(msg).to_bytes())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(public {})", self.public())
    }
}

impl PublicKey {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Verifies one signature (ZIP-215, the same rules as the batch path).
    pub fn verify(&self, msg: &[u8], sig: &Signature) -> Result<(), SignatureError> {
        let key = VerificationKey::try_from(self.0).map_err(|_| SignatureError::MalformedKey)?;
        key.verify(&ed25519_consensus::Signature::from(sig.0), msg)
            .map_err(|_| SignatureError::Invalid)
    }
}

/// Verifies many signatures at once, about twice as fast per signature as one
/// by one. ZIP-215 makes the batch and single answers agree, so a node that
/// falls back to single checks (to name the bad signature) decides the same.
#[derive(Default)]
pub struct BatchVerifier {
    inner: batch::Verifier,
    count: usize,
}

impl BatchVerifier {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn queue(&mut self, key: &PublicKey, msg: &[u8], sig: &Signature) {
        let item: batch::Item = (
            VerificationKeyBytes::from(key.0),
            ed25519_consensus::Signature::from(sig.0),
            msg,
        )
            .into();
        self.inner.queue(item);
        self.count += 1;
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// True when every queued signature verifies.
    pub fn verify(self) -> bool {
        self.inner.verify(OsRng).is_ok()
    }
}

/// Whether each `(key, message, signature)` verifies: in one batch when all
/// do (the fast path), else one by one, to name the bad ones. The same
/// answer either way (ZIP-215 rules).
pub fn verify_each<'a>(
    items: impl IntoIterator<Item = (&'a PublicKey, &'a [u8], &'a Signature)>,
) -> Vec<bool> {
    let items: Vec<_> = items.into_iter().collect();
    let mut batch = BatchVerifier::new();
    for (key, message, signature) in &items {
        batch.queue(key, message, signature);
    }
    if batch.verify() {
        return vec![true; items.len()];
    }
    items
        .iter()
        .map(|(key, message, signature)| key.verify(message, signature).is_ok())
        .collect()
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", hex::encode(self.0))
    }
}

impl FromStr for PublicKey {
    type Err = KeyParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(PublicKey(parse_hex_array(s.trim())?))
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify() {
        let key = SecretKey::generate();
        let sig = key.sign(b"parcel");
        assert_eq!(key.public().verify(b"parcel", &sig), Ok(()));
        assert_eq!(
            key.public().verify(b"parcels", &sig),
            Err(SignatureError::Invalid)
        );
        let other = SecretKey::generate();
        assert_eq!(
            other.public().verify(b"parcel", &sig),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn seed_round_trip() {
        let key = SecretKey::generate();
        assert_eq!(SecretKey::from_seed(key.seed()).public(), key.public());
    }

    #[test]
    fn batch_agrees_with_single() {
        let keys: Vec<SecretKey> = (0..8).map(|_| SecretKey::generate()).collect();
        let sigs: Vec<Signature> = keys.iter().map(|k| k.sign(b"m")).collect();
        let mut good = BatchVerifier::new();
        for (k, s) in keys.iter().zip(&sigs) {
            good.queue(&k.public(), b"m", s);
        }
        assert_eq!(good.len(), 8);
        assert!(good.verify());

        let mut bad = BatchVerifier::new();
        for (k, s) in keys.iter().zip(&sigs) {
            bad.queue(&k.public(), b"n", s);
        }
        assert!(!bad.verify());
    }

    #[test]
    fn public_key_parses_hex_only() {
        let pk = SecretKey::generate().public();
        assert_eq!(pk.to_hex().parse::<PublicKey>().unwrap(), pk);
        assert!("nothex".parse::<PublicKey>().is_err());
    }
}
