use std::fmt;
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};
use curve25519_dalek::edwards::CompressedEdwardsY;
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

/// Why a public key cannot stand for a party (see [`PublicKey::check_strong`]).
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum WeakKeyError {
    #[error("the bytes are not a point of the curve")]
    NotAPoint,
    #[error("the key is a point of small order, for which anyone can make signatures")]
    SmallOrder,
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

    /// Whether only the holder of this key's private key can sign for it:
    /// the bytes decode to a curve point (as ZIP-215 decodes them, a
    /// non-canonical y or a sign bit on x = 0 included) that is not of
    /// small order.
    ///
    /// ZIP-215 verification is cofactored: it accepts a signature when
    /// \[8\](\[s\]B - R - \[k\]A) is the identity. For a key A among the
    /// eight torsion points, \[8\]\[k\]A is the identity whatever k is, so
    /// the signature R = identity, s = 0 verifies on every message: anyone
    /// can sign as such a key. Verification must stay ZIP-215 (every node
    /// gives the same answer, batched or not), so every key that enters
    /// the ledger (a member's, a Participant's authority or validator key,
    /// a genesis file's, any later change of a key) is checked here, where
    /// it enters. A key with a torsion component beside a prime-order one
    /// is not refused: signing for it still takes the private key of its
    /// prime-order part.
    pub fn check_strong(&self) -> Result<(), WeakKeyError> {
        let point = CompressedEdwardsY(self.0)
            .decompress()
            .ok_or(WeakKeyError::NotAPoint)?;
        if point.is_small_order() {
            return Err(WeakKeyError::SmallOrder);
        }
        Ok(())
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

    /// Every encoding of a small-order point that ZIP-215 decodes: the
    /// eight torsion points canonically, then the six other encodings
    /// (C2SP's ed25519 vectors, "low_order" and "non_canonical"; the
    /// test below finds them again from first principles).
    const SMALL_ORDER_ENCODINGS: [&str; 14] = [
        // Canonical: the identity (order 1), (0, -1) (order 2), the two
        // points of order 4 and the four of order 8.
        "0100000000000000000000000000000000000000000000000000000000000000",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000000000000080",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        // The sign bit set on x = 0: the identity and (0, -1).
        "0100000000000000000000000000000000000000000000000000000000000080",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        // y = p (that is 0), either sign: the points of order 4.
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        // y = p + 1 (that is 1), either sign: the identity.
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    ];

    fn small_order_keys() -> Vec<PublicKey> {
        SMALL_ORDER_ENCODINGS
            .iter()
            .map(|hex| hex.parse().expect("32 bytes of hex"))
            .collect()
    }

    /// R = the identity, s = 0.
    fn universal_forgery() -> Signature {
        let mut bytes = [0u8; 64];
        bytes[0] = 1;
        Signature(bytes)
    }

    #[test]
    fn small_order_keys_verify_a_forgery_on_any_message_and_are_refused() {
        for key in small_order_keys() {
            // What makes them dangerous: ZIP-215 takes the key, and the
            // forgery verifies, single and batched, whatever the message.
            for message in [&b"offer_transfer"[..], b"anything at all"] {
                assert_eq!(key.verify(message, &universal_forgery()), Ok(()), "{key}");
                let mut batch = BatchVerifier::new();
                batch.queue(&key, message, &universal_forgery());
                assert!(batch.verify(), "{key}");
            }
            assert_eq!(key.check_strong(), Err(WeakKeyError::SmallOrder), "{key}");
        }
    }

    #[test]
    fn the_list_holds_all_eight_torsion_points_and_every_other_encoding_of_them() {
        use curve25519_dalek::edwards::EdwardsPoint;
        use curve25519_dalek::traits::Identity;

        let keys = small_order_keys();
        let decode = |bytes: [u8; 32]| CompressedEdwardsY(bytes).decompress();
        // The torsion group: the multiples of a point of order 8.
        let generator = decode(keys[6].0).expect("a point");
        let mut torsion = Vec::new();
        let mut point = EdwardsPoint::identity();
        for _ in 0..8 {
            torsion.push(point.compress().to_bytes());
            point += generator;
        }
        assert_eq!(point, EdwardsPoint::identity(), "the generator has order 8");
        let mut canonical: Vec<[u8; 32]> = keys[..8].iter().map(|k| k.0).collect();
        canonical.sort();
        torsion.sort();
        assert_eq!(canonical, torsion);

        // Every other encoding of a point: a y of p or more (the 19 values
        // from p to 2^255 - 1), or the sign bit set where x = 0. Those that
        // decode to a small-order point are exactly the list's last six.
        let mut non_canonical = Vec::new();
        for low_byte in 0xedu8..=0xff {
            let mut y = [0xffu8; 32];
            y[0] = low_byte;
            y[31] = 0x7f;
            non_canonical.push(y);
        }
        non_canonical.extend(torsion.iter().copied());
        let mut found: Vec<[u8; 32]> = Vec::new();
        for encoding in non_canonical {
            for sign in [0, 0x80] {
                let mut bytes = encoding;
                bytes[31] |= sign;
                let Some(point) = decode(bytes) else { continue };
                if point.is_small_order() && point.compress().to_bytes() != bytes {
                    found.push(bytes);
                }
            }
        }
        found.sort();
        let mut listed: Vec<[u8; 32]> = keys[8..].iter().map(|k| k.0).collect();
        listed.sort();
        assert_eq!(found, listed);
    }

    #[test]
    fn a_generated_key_is_strong_and_bytes_off_the_curve_are_not() {
        assert_eq!(SecretKey::generate().public().check_strong(), Ok(()));
        // Not every y has a point: about half do not.
        let off_curve = (2u8..=255)
            .map(|y| {
                let mut bytes = [0u8; 32];
                bytes[0] = y;
                PublicKey(bytes)
            })
            .find(|key| CompressedEdwardsY(key.0).decompress().is_none())
            .expect("some small y has no point");
        assert_eq!(off_curve.check_strong(), Err(WeakKeyError::NotAPoint));
    }

    #[test]
    fn public_key_parses_hex_only() {
        let pk = SecretKey::generate().public();
        assert_eq!(pk.to_hex().parse::<PublicKey>().unwrap(), pk);
        assert!("nothex".parse::<PublicKey>().is_err());
    }
}
