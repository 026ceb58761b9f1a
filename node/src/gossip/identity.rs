//! A node's network identity is its validator key.

use kp_crypto::{PublicKey, SecretKey};
use libp2p::identity::{self, Keypair};
use libp2p::PeerId;

use super::error::GossipError;

/// The PeerId of a Participant's node: the node's libp2p identity is its
/// validator key, so the allow-list follows the on-ledger Participant set.
pub fn peer_id_of(validator: &PublicKey) -> Result<PeerId, GossipError> {
    let key = identity::ed25519::PublicKey::try_from_bytes(&validator.0)
        .map_err(|_| GossipError::InvalidValidatorKey(*validator))?;
    Ok(identity::PublicKey::from(key).to_peer_id())
}

/// The libp2p identity made from a validator's secret key (the same 32-byte
/// seed, so the same public key).
pub fn keypair_from_secret(secret: &SecretKey) -> Keypair {
    // A seed is 32 bytes by type, and length is all this checks.
    Keypair::ed25519_from_bytes(secret.seed()).expect("an ed25519 seed is 32 bytes")
}
