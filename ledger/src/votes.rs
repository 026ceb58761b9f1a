//! What a validator signs when it votes, in terms that need no consensus
//! engine: the node signs and checks these bytes, and whoever checks a
//! block's commit certificate offline (a provenance bundle's verifier)
//! rebuilds them from the certificate alone.

use borsh::BorshSerialize;
use kp_crypto::{hash_domain, Hash32, PublicKey};

use crate::canonical::canonical_bytes;
use crate::model::BlockHash;

const VOTE_CONTEXT: &str = "kp-node 2026 consensus vote v1";

/// The two votes of a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, BorshSerialize)]
pub enum VoteKind {
    Prevote,
    Precommit,
}

/// The bytes a validator signs for a vote: the domain-separated hash of
/// (the chain's genesis hash, kind, height, round, the block voted for or
/// none for nil, the voter). The genesis hash binds every vote to one
/// chain: a block's hash already chains back to its genesis, but a nil
/// vote names no block, and two chains of one validator key must not be
/// able to take each other's votes.
pub fn vote_signing_bytes(
    genesis: &Hash32,
    kind: VoteKind,
    height: u64,
    round: i64,
    block: Option<&BlockHash>,
    validator: &PublicKey,
) -> Vec<u8> {
    let bytes = canonical_bytes(&(genesis, kind, height, round, block, validator));
    hash_domain(VOTE_CONTEXT, &[&bytes]).0.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::key_named;

    #[test]
    fn every_field_of_a_vote_is_signed() {
        let (alice, bob) = (key_named("alice").public(), key_named("bob").public());
        let (genesis, other_genesis) = (Hash32([9; 32]), Hash32([8; 32]));
        let block = Hash32([1; 32]);
        let precommit = VoteKind::Precommit;
        let base = vote_signing_bytes(&genesis, precommit, 5, 0, Some(&block), &alice);
        for other in [
            vote_signing_bytes(&other_genesis, precommit, 5, 0, Some(&block), &alice),
            vote_signing_bytes(&genesis, VoteKind::Prevote, 5, 0, Some(&block), &alice),
            vote_signing_bytes(&genesis, precommit, 6, 0, Some(&block), &alice),
            vote_signing_bytes(&genesis, precommit, 5, 1, Some(&block), &alice),
            vote_signing_bytes(&genesis, precommit, 5, 0, None, &alice),
            vote_signing_bytes(&genesis, precommit, 5, 0, Some(&Hash32([2; 32])), &alice),
            vote_signing_bytes(&genesis, precommit, 5, 0, Some(&block), &bob),
        ] {
            assert_ne!(other, base);
        }
    }
}
