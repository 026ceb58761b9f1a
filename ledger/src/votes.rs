//! What a validator signs when it votes, in terms that need no consensus
//! engine: the node signs and checks these bytes, and whoever checks a
//! block's commit certificate offline (a provenance bundle's verifier)
//! rebuilds them from the certificate alone.

use borsh::BorshSerialize;
use kp_crypto::{hash_domain, PublicKey};

use crate::model::BlockHash;

const VOTE_CONTEXT: &str = "kp-node 2026 consensus vote v1";

/// The two votes of a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, BorshSerialize)]
pub enum VoteKind {
    Prevote,
    Precommit,
}

/// The bytes a validator signs for a vote: the domain-separated hash of
/// (kind, height, round, the block voted for or none for nil, the voter).
pub fn vote_signing_bytes(
    kind: VoteKind,
    height: u64,
    round: i64,
    block: Option<&BlockHash>,
    validator: &PublicKey,
) -> Vec<u8> {
    // Serialising to a Vec cannot fail.
    let bytes = borsh::to_vec(&(kind, height, round, block, validator)).unwrap_or_default();
    hash_domain(VOTE_CONTEXT, &[&bytes]).0.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::key_named;
    use kp_crypto::Hash32;

    #[test]
    fn every_field_of_a_vote_is_signed() {
        let (alice, bob) = (key_named("alice").public(), key_named("bob").public());
        let block = Hash32([1; 32]);
        let base = vote_signing_bytes(VoteKind::Precommit, 5, 0, Some(&block), &alice);
        for other in [
            vote_signing_bytes(VoteKind::Prevote, 5, 0, Some(&block), &alice),
            vote_signing_bytes(VoteKind::Precommit, 6, 0, Some(&block), &alice),
            vote_signing_bytes(VoteKind::Precommit, 5, 1, Some(&block), &alice),
            vote_signing_bytes(VoteKind::Precommit, 5, 0, None, &alice),
            vote_signing_bytes(VoteKind::Precommit, 5, 0, Some(&Hash32([2; 32])), &alice),
            vote_signing_bytes(VoteKind::Precommit, 5, 0, Some(&block), &bob),
        ] {
            assert_ne!(other, base);
        }
    }
}
