//! Keys, signatures, hashing, Merkle trees and encrypted key files.
//!
//! Nothing here knows about diamonds: the ledger decides what is signed and
//! hashed, this crate decides how.

pub mod files;
mod hash;
mod keys;
#[cfg(feature = "keystore")]
pub mod keystore;
mod merkle;

pub use hash::{hash_domain, Hash32, HashParseError};
pub use keys::{
    verify_each, BatchVerifier, KeyParseError, PublicKey, SecretKey, Signature, SignatureError,
    WeakKeyError,
};
pub use merkle::{merkle_root, MerkleProof, MerkleProofError, MerkleTree};
