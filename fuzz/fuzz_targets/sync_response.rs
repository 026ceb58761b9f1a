//! A sync response (decided blocks with their commit certificates) as the
//! engine's sync decodes it with the node's codec: checked canonical; then
//! each value as `consensus::app` takes a synced value (the block's bytes
//! decoded, canonical), its certificate checked as an offline verifier
//! checks one (`kp_ledger::finality`) against the genesis validators (the
//! first that fails ends the response), and a block of height 1 applied
//! over the genesis state.
#![no_main]

use std::sync::OnceLock;

use bytes::Bytes;
use kp_fuzz::fixture::genesis_world;
use kp_ledger::block::{apply_block, Block, NONE_CHECKED};
use kp_ledger::finality::CommitProof;
use kp_ledger::model::ValidatorSet;
use kp_ledger::testkit::{test_chain, test_genesis};
use kp_node::consensus::codec::BorshCodec;
use kp_node::consensus::KpContext;
use libfuzzer_sys::fuzz_target;
use malachitebft_app_channel::app::types::codec::Codec;
use malachitebft_sync::Response;

fn validators() -> &'static ValidatorSet {
    static SET: OnceLock<ValidatorSet> = OnceLock::new();
    SET.get_or_init(|| test_genesis().validators())
}

fuzz_target!(|data: &[u8]| {
    let decoded: Result<Response<KpContext>, _> = BorshCodec.decode(Bytes::copy_from_slice(data));
    let Ok(response) = decoded else {
        return;
    };
    let again = BorshCodec.encode(&response).expect("encodes");
    assert!(
        &again[..] == data,
        "sync response re-encodes to other bytes\n  input: {}\n  again: {}",
        hex::encode(data),
        hex::encode(&again)
    );
    let Response::ValueResponse(response) = response;
    for value in &response.values {
        let Ok(block) = borsh::from_slice::<Block>(&value.value_bytes) else {
            continue;
        };
        kp_fuzz::assert_canonical(&block, &value.value_bytes, "synced block");
        let certificate = value.certificate.clone().trim_vote_extensions();
        let proof = CommitProof {
            height: certificate.height.0,
            round: certificate.round.as_i64(),
            block: certificate.value_id.0,
            precommits: certificate
                .commit_signatures
                .iter()
                .map(|s| (s.address.0, s.signature))
                .collect(),
        };
        let hash = block.header.hash();
        // A value whose certificate does not hold faults the peer: the
        // rest of its response counts for nothing.
        if proof
            .verify(
                &test_chain().genesis,
                &hash,
                block.header.height,
                validators(),
            )
            .is_err()
        {
            return;
        }
        if block.header.height == 1 {
            let w = genesis_world();
            let _ = apply_block(&w.state, &w.tip, &test_chain(), block, NONE_CHECKED);
        }
    }
});
