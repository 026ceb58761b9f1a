//! That a block was decided: its commit certificate as an offline verifier
//! checks it, against the validator set in force at its height and nothing
//! else (no node, no consensus engine).

use std::collections::BTreeSet;

use borsh::{BorshDeserialize, BorshSerialize};
use kp_crypto::{Hash32, PublicKey, Signature};

use crate::model::{BlockHash, ParticipantCode};
use crate::votes::{vote_signing_bytes, VoteKind};

/// The precommits that decided a block, taken from the engine's commit
/// certificate.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct CommitProof {
    pub height: u64,
    /// The round the block was decided in.
    pub round: i64,
    /// The header hash the precommits are for.
    pub block: BlockHash,
    pub precommits: Vec<(PublicKey, Signature)>,
}

/// Why a commit proof does not show its block decided.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    #[error("the certificate is for block {certified} at height {certified_height}, not block {expected} at height {expected_height}")]
    OtherBlock {
        certified: BlockHash,
        certified_height: u64,
        expected: BlockHash,
        expected_height: u64,
    },
    #[error("precommit by {0}, which is not a validator at that height")]
    NotAValidator(PublicKey),
    #[error("two precommits by {0}")]
    Twice(PublicKey),
    #[error("the precommit by {0} has a bad signature")]
    BadSignature(PublicKey),
    #[error("{signed} of {validators} validators signed; more than two thirds ({needed}) must")]
    TooFew {
        signed: usize,
        validators: usize,
        needed: usize,
    },
}

impl CommitError {
    /// A stable code, for `--json` output and tests.
    pub fn code(&self) -> &'static str {
        match self {
            CommitError::OtherBlock { .. } => "commit_other_block",
            CommitError::NotAValidator(_) => "commit_not_a_validator",
            CommitError::Twice(_) => "commit_duplicate_vote",
            CommitError::BadSignature(_) => "commit_bad_signature",
            CommitError::TooFew { .. } => "commit_too_few_votes",
        }
    }
}

/// Precommits needed out of `validators`, each with one vote: more than two
/// thirds, as the engine counts.
pub fn quorum(validators: usize) -> usize {
    validators * 2 / 3 + 1
}

/// One signature a proof rests on: checked alone, or queued in a batch
/// with the others of a provenance bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedMessage {
    pub key: PublicKey,
    pub message: Vec<u8>,
    pub signature: Signature,
}

impl CommitProof {
    /// Checks that more than two thirds of `validators` (the set in force
    /// at the block's height) precommitted block `block` at `height` of the
    /// chain of genesis `genesis`.
    pub fn verify(
        &self,
        genesis: &Hash32,
        block: &BlockHash,
        height: u64,
        validators: &[(ParticipantCode, PublicKey)],
    ) -> Result<(), CommitError> {
        for vote in self.votes(genesis, block, height, validators)? {
            if vote.key.verify(&vote.message, &vote.signature).is_err() {
                return Err(CommitError::BadSignature(vote.key));
            }
        }
        Ok(())
    }

    /// Everything [`verify`](Self::verify) checks but the signatures, which
    /// it returns for the caller to check: the proof is good if and only if
    /// this succeeds and every one of them holds.
    pub fn votes(
        &self,
        genesis: &Hash32,
        block: &BlockHash,
        height: u64,
        validators: &[(ParticipantCode, PublicKey)],
    ) -> Result<Vec<SignedMessage>, CommitError> {
        if self.block != *block || self.height != height {
            return Err(CommitError::OtherBlock {
                certified: self.block,
                certified_height: self.height,
                expected: *block,
                expected_height: height,
            });
        }
        let members: BTreeSet<&PublicKey> = validators.iter().map(|(_, key)| key).collect();
        let mut seen = BTreeSet::new();
        let mut votes = Vec::with_capacity(self.precommits.len());
        for (validator, signature) in &self.precommits {
            if !members.contains(validator) {
                return Err(CommitError::NotAValidator(*validator));
            }
            if !seen.insert(validator) {
                return Err(CommitError::Twice(*validator));
            }
            votes.push(SignedMessage {
                key: *validator,
                message: vote_signing_bytes(
                    genesis,
                    VoteKind::Precommit,
                    self.height,
                    self.round,
                    Some(&self.block),
                    validator,
                ),
                signature: *signature,
            });
        }
        let needed = quorum(members.len());
        if seen.len() < needed {
            return Err(CommitError::TooFew {
                signed: seen.len(),
                validators: members.len(),
                needed,
            });
        }
        Ok(votes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{code, key_named};
    use kp_crypto::SecretKey;

    const GENESIS: Hash32 = Hash32([5; 32]);

    fn validators(count: usize) -> (Vec<SecretKey>, Vec<(ParticipantCode, PublicKey)>) {
        let codes = ["BW", "EU", "ZA", "IN", "AE", "CA", "RU"];
        let keys: Vec<SecretKey> = (0..count)
            .map(|i| key_named(&format!("validator {i}")))
            .collect();
        let set = keys
            .iter()
            .zip(codes)
            .map(|(k, c)| (code(c), k.public()))
            .collect();
        (keys, set)
    }

    fn proof(signers: &[SecretKey], block: BlockHash, height: u64) -> CommitProof {
        let round = 0;
        let precommits = signers
            .iter()
            .map(|k| {
                let bytes = vote_signing_bytes(
                    &GENESIS,
                    VoteKind::Precommit,
                    height,
                    round,
                    Some(&block),
                    &k.public(),
                );
                (k.public(), k.sign(&bytes))
            })
            .collect();
        CommitProof {
            height,
            round,
            block,
            precommits,
        }
    }

    #[test]
    fn more_than_two_thirds_decide_and_nothing_less_or_forged_does() {
        let (keys, set) = validators(4);
        let block = Hash32([7; 32]);
        assert_eq!(quorum(4), 3);
        assert_eq!(
            proof(&keys[..3], block, 9).verify(&GENESIS, &block, 9, &set),
            Ok(())
        );
        assert_eq!(
            proof(&keys, block, 9).verify(&GENESIS, &block, 9, &set),
            Ok(())
        );

        let too_few = proof(&keys[..2], block, 9).verify(&GENESIS, &block, 9, &set);
        assert_eq!(
            too_few,
            Err(CommitError::TooFew {
                signed: 2,
                validators: 4,
                needed: 3
            })
        );
        let mut twice = proof(&keys[..2], block, 9);
        twice.precommits.push(twice.precommits[0]);
        assert_eq!(
            twice
                .verify(&GENESIS, &block, 9, &set)
                .map_err(|e| e.code()),
            Err("commit_duplicate_vote")
        );
        let outsider = key_named("not a validator");
        let mut foreign = proof(&keys[..2], block, 9);
        foreign
            .precommits
            .extend(proof(&[outsider], block, 9).precommits);
        assert_eq!(
            foreign
                .verify(&GENESIS, &block, 9, &set)
                .map_err(|e| e.code()),
            Err("commit_not_a_validator")
        );
        let mut forged = proof(&keys[..3], block, 9);
        forged.precommits[1].1 .0[0] ^= 1;
        assert_eq!(
            forged
                .verify(&GENESIS, &block, 9, &set)
                .map_err(|e| e.code()),
            Err("commit_bad_signature")
        );
        // Precommits for another block, passed off as this one's.
        let mut moved = proof(&keys[..3], Hash32([8; 32]), 9);
        moved.block = block;
        assert_eq!(
            moved
                .verify(&GENESIS, &block, 9, &set)
                .map_err(|e| e.code()),
            Err("commit_bad_signature")
        );
        // Votes of a chain that grew from another genesis.
        assert_eq!(
            proof(&keys[..3], block, 9)
                .verify(&Hash32([6; 32]), &block, 9, &set)
                .map_err(|e| e.code()),
            Err("commit_bad_signature")
        );
        assert_eq!(
            proof(&keys[..3], block, 9)
                .verify(&GENESIS, &block, 10, &set)
                .map_err(|e| e.code()),
            Err("commit_other_block")
        );
        // The same votes against a later, larger set fall short.
        let (_, larger) = validators(7);
        assert_eq!(
            proof(&keys[..3], block, 9)
                .verify(&GENESIS, &block, 9, &larger)
                .map_err(|e| e.code()),
            Err("commit_too_few_votes")
        );
    }
}
