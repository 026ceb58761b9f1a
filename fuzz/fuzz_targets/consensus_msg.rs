//! What else the engine's network and write-ahead log decode with the
//! node's codec (`consensus::codec::BorshCodec`): byte 0 names the type,
//! the rest is its encoding. Each is checked canonical; signed votes,
//! proposals, the votes of polka and round certificates, and validator
//! proofs then have their signatures checked by the node's verifier
//! (`consensus::ValidatorSigner`), as the engine asks it to.
//!
//! 0 signed consensus message, 1 liveness message, 2 proposed value,
//! 3 polka certificate, 4 sync status, 5 sync request, 6 validator proof,
//! 7 one proposal part.
#![no_main]

use std::fmt::Debug;
use std::sync::{Arc, OnceLock};

use borsh::BorshSerialize;
use bytes::Bytes;
use futures::executor::block_on;
use kp_crypto::SecretKey;
use kp_ledger::testkit::test_chain;
use kp_node::consensus::codec::BorshCodec;
use kp_node::consensus::{BlockPart, KpContext, ValidatorSigner, Vote};
use libfuzzer_sys::fuzz_target;
use malachitebft_app_channel::app::types::codec::Codec;
use malachitebft_core_consensus::{LivenessMsg, ProposedValue, SignedConsensusMsg};
use malachitebft_core_types::{
    Context, NilOrVal, PolkaCertificate, RoundCertificate, SignedVote, ValidatorProof, VoteType,
};
use malachitebft_engine::util::streaming::StreamMessage;
use malachitebft_signing::Verifier;
use malachitebft_sync::{Request, Status};

fn verifier() -> &'static ValidatorSigner {
    static VERIFIER: OnceLock<ValidatorSigner> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        ValidatorSigner::new(
            Arc::new(SecretKey::from_seed([9; 32])),
            test_chain().genesis,
        )
    })
}

/// Decodes `bytes` as the node's codec does; what decodes must re-encode
/// to the same bytes.
fn decoded<T>(bytes: &[u8], what: &str) -> Option<T>
where
    BorshCodec: Codec<T>,
    T: BorshSerialize + Debug,
{
    let value: T = BorshCodec.decode(Bytes::copy_from_slice(bytes)).ok()?;
    kp_fuzz::assert_canonical(&value, bytes, what);
    Some(value)
}

fn check_vote(vote: &SignedVote<KpContext>) {
    let key = vote.message.validator.0;
    let _ = block_on(verifier().verify_signed_vote(&vote.message, &vote.signature, &key));
}

fn check_votes(votes: impl IntoIterator<Item = (Vote, kp_crypto::Signature)>) {
    for (vote, signature) in votes {
        let key = vote.validator.0;
        let _ = block_on(verifier().verify_signed_vote(&vote, &signature, &key));
    }
}

fn check_polka(cert: &PolkaCertificate<KpContext>) {
    check_votes(cert.polka_signatures.iter().map(|s| {
        let vote = KpContext.new_prevote(
            cert.height,
            cert.round,
            NilOrVal::Val(cert.value_id),
            s.address,
        );
        (vote, s.signature)
    }));
}

fn check_round(cert: &RoundCertificate<KpContext>) {
    check_votes(cert.round_signatures.iter().map(|s| {
        let vote = match s.vote_type {
            VoteType::Prevote => {
                KpContext.new_prevote(cert.height, cert.round, s.value_id, s.address)
            }
            VoteType::Precommit => {
                KpContext.new_precommit(cert.height, cert.round, s.value_id, s.address)
            }
        };
        (vote, s.signature)
    }));
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    match selector % 8 {
        0 => match decoded::<SignedConsensusMsg<KpContext>>(bytes, "signed consensus message") {
            Some(SignedConsensusMsg::Vote(vote)) => check_vote(&vote),
            Some(SignedConsensusMsg::Proposal(proposal)) => {
                let key = proposal.message.proposer.0;
                let _ = block_on(verifier().verify_signed_proposal(
                    &proposal.message,
                    &proposal.signature,
                    &key,
                ));
            }
            None => {}
        },
        1 => match decoded::<LivenessMsg<KpContext>>(bytes, "liveness message") {
            Some(LivenessMsg::Vote(vote)) => check_vote(&vote),
            Some(LivenessMsg::PolkaCertificate(cert)) => check_polka(&cert),
            Some(LivenessMsg::SkipRoundCertificate(cert)) => check_round(&cert),
            None => {}
        },
        2 => {
            let _ = decoded::<ProposedValue<KpContext>>(bytes, "proposed value");
        }
        3 => {
            if let Some(cert) = decoded::<PolkaCertificate<KpContext>>(bytes, "polka certificate") {
                check_polka(&cert);
            }
        }
        4 => {
            let _ = decoded::<Status<KpContext>>(bytes, "sync status");
        }
        5 => {
            let _ = decoded::<Request<KpContext>>(bytes, "sync request");
        }
        6 => {
            // The codec encodes a validator proof as a tuple; compare bytes
            // through it.
            let proof: Option<ValidatorProof<KpContext>> =
                BorshCodec.decode(Bytes::copy_from_slice(bytes)).ok();
            if let Some(proof) = proof {
                let again = BorshCodec.encode(&proof).expect("encodes");
                assert_eq!(
                    &again[..],
                    bytes,
                    "validator proof re-encodes to other bytes"
                );
                let _ = block_on(verifier().verify_validator_proof(&proof));
            }
        }
        _ => {
            let _ = decoded::<StreamMessage<BlockPart>>(bytes, "proposal part");
        }
    }
});
