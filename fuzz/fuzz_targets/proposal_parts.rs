//! Proposal parts as the engine's network delivers them to a node: a run of
//! messages (each framed by a `u16` length, see [`kp_fuzz::frames`]), each
//! decoded by the node's codec and checked canonical, then put together by
//! `consensus::parts::PartStreams` in whatever order they come; a stream
//! that completes is checked as `consensus::app` checks a proposal: its
//! proposer's signature, then the block over the fixture.
#![no_main]

use std::sync::OnceLock;

use bytes::Bytes;
use kp_fuzz::fixture::fixture;
use kp_ledger::block::{apply_block, NONE_CHECKED};
use kp_ledger::testkit::test_chain;
use kp_node::consensus::codec::BorshCodec;
use kp_node::consensus::parts::PartStreams;
use kp_node::consensus::{block_id, block_stream_signing_bytes, BlockPart, Height};
use libfuzzer_sys::fuzz_target;
use malachitebft_app_channel::app::types::codec::Codec;
use malachitebft_app_channel::app::types::PeerId;
use malachitebft_engine::util::streaming::StreamMessage;

fn publisher() -> PeerId {
    static PEER: OnceLock<PeerId> = OnceLock::new();
    *PEER.get_or_init(|| kp_fuzz::seeds::peer_id(7))
}

fuzz_target!(|data: &[u8]| {
    let mut streams = PartStreams::default();
    let w = &fixture().world;
    for frame in kp_fuzz::frames(data) {
        let decoded: Result<StreamMessage<BlockPart>, _> =
            BorshCodec.decode(Bytes::copy_from_slice(frame));
        let Ok(message) = decoded else {
            continue;
        };
        kp_fuzz::assert_canonical(&message, frame, "proposal part");
        let Ok(Some(assembled)) = streams.insert(publisher(), message) else {
            continue;
        };
        let proposal = assembled.proposal;
        let header = &proposal.block.header;
        assert_eq!(proposal.block.txs.len(), header.tx_count as usize);
        let id = block_id(header);
        let signed = block_stream_signing_bytes(proposal.height, proposal.round, &id.0);
        let _ = proposal.proposer.0.verify(&signed, &proposal.signature);
        let _ = apply_block(
            &w.state,
            &w.tip,
            &test_chain(),
            proposal.block,
            NONE_CHECKED,
        );
    }
    streams.prune_below(Height(w.tip.height + 1));
});
