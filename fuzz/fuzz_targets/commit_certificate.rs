//! Commit certificates: byte 0 picks the engine's certificate as the node
//! stores it and serves it (`consensus::codec::commit_proof`, behind
//! `GET /v1/blocks/{h}/commit` and every bundle) (0), or the ledger's own
//! `CommitProof` in borsh (1). What decodes is checked as an offline
//! verifier checks it (`kp_ledger::finality`) against the genesis
//! validators, and shown as the API shows it.
#![no_main]

use std::sync::OnceLock;

use kp_wire::api::CommitView;
use kp_ledger::finality::CommitProof;
use kp_ledger::model::ValidatorSet;
use kp_ledger::testkit::{test_chain, test_genesis};
use kp_node::consensus::codec::{commit_proof, decode_certificate};
use libfuzzer_sys::fuzz_target;

fn validators() -> &'static ValidatorSet {
    static SET: OnceLock<ValidatorSet> = OnceLock::new();
    SET.get_or_init(|| test_genesis().validators())
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let proof = if selector % 2 == 0 {
        let Ok(proof) = commit_proof(bytes) else {
            assert!(decode_certificate(bytes).is_err());
            return;
        };
        let certificate = decode_certificate(bytes).expect("decoded once already");
        assert_eq!(proof.precommits.len(), certificate.commit_signatures.len());
        proof
    } else {
        let Ok(proof) = borsh::from_slice::<CommitProof>(bytes) else {
            return;
        };
        kp_fuzz::assert_canonical(&proof, bytes, "commit proof");
        proof
    };
    let verdict = proof.verify(
        &test_chain().genesis,
        &proof.block,
        proof.height,
        validators(),
    );
    if let Err(e) = &verdict {
        let _ = (e.code(), e.to_string());
    }
    let view = CommitView::from(&proof);
    let _ = serde_json::to_string(&view).expect("a view serializes");
});
